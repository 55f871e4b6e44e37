/*
 * store: the in-memory index, the group-committing writer and the event log.
 * See store.h for the contract.
 *
 * Invariants:
 *  - Only the writer thread changes `index`, `by_key`, `rev` and `log`; it
 *    does so under `lock` (write side) after the backend committed the
 *    batch, so readers never see an uncommitted change.
 *  - `by_key` maps the same keys to the same versions as `index` (a hash
 *    for point reads, the tree for ordered ones); the tree holds the
 *    reference, and each key in `by_key` is its version's own `key`.
 *  - `log` holds the events of revisions (log_base, rev] in order; a
 *    revision with no event (none exist today) would simply be absent.
 *  - No lock is held across a backend commit.
 */
#include "store/store.h"

#include <string.h>

#include "util/jsonutil.h"
#include "util/log.h"

#define STORE_LOG_CAP 16384 /* events kept for watches */
#define STORE_BATCH_MAX 512 /* writes per group commit */
#define STORE_WAKE_GAP_US 5000 /* watch wake-ups are at least this far apart */

store_obj_t *store_obj_ref(store_obj_t *o)
{
    if (o)
        g_atomic_int_inc(&o->refs);
    return o;
}

void store_obj_unref(store_obj_t *o)
{
    if (!o || !g_atomic_int_dec_and_test(&o->refs))
        return;
    free(o->key);
    free(o->json);
    free(o->uid);
    json_decref(o->labels);
    json_decref(o->parsed);
    free(o);
}

json_t *store_obj_parse(const store_obj_t *o)
{
    return json_loadb(o->json, o->len, 0, NULL);
}

/* Guards every store_obj_t's `parsed` and `superseded`, and `kept`: taking
 * a reference to the parse and dropping it.  Held for a few pointers only. */
G_LOCK_DEFINE_STATIC(parsed);

/* The versions holding a shared parse, oldest first from `kept_next`: only
 * the last STORE_PARSED_KEEP keep theirs.  A parse is a tree of small allocations
 * several times the size of its text, and most are wanted only in the
 * moments after their version is written (by the controllers and the
 * agent that follow every change), so a parse for each of a large store's
 * objects would cost far more memory than it saves time. */
static store_obj_t *kept[STORE_PARSED_KEEP];
static guint kept_next;

/* Make `j` (the caller keeps its reference) the shared parse of `o`, unless
 * it has one or was superseded; the oldest kept parse goes. */
static void obj_keep_parse(store_obj_t *o, json_t *j)
{
    store_obj_t *evicted = NULL;
    json_t *dropped = NULL;

    G_LOCK(parsed);
    if (!o->parsed && !o->superseded) {
        o->parsed = json_incref(j);
        evicted = kept[kept_next];
        kept[kept_next] = store_obj_ref(o);
        kept_next = (kept_next + 1) % STORE_PARSED_KEEP;
        if (evicted) {
            dropped = evicted->parsed;
            evicted->parsed = NULL;
        }
    }
    G_UNLOCK(parsed);
    json_decref(dropped);
    store_obj_unref(evicted);
}

json_t *store_obj_json(store_obj_t *o)
{
    json_t *j;

    G_LOCK(parsed);
    j = json_incref(o->parsed);
    G_UNLOCK(parsed);
    if (j)
        return j;
    /* Parsed outside the lock; of two readers racing, one parse is kept. */
    j = store_obj_parse(o);
    obj_keep_parse(o, j);
    return j;
}

/* A newer version replaced `o`: its shared parse goes (readers keep their
 * references), and it is parsed again only for whoever still asks. */
static void obj_supersede(store_obj_t *o)
{
    json_t *j;

    G_LOCK(parsed);
    j = o->parsed;
    o->parsed = NULL;
    o->superseded = true;
    G_UNLOCK(parsed);
    json_decref(j);
}

/* A version of `key` whose text is `json` (taken); what readers often need
 * without parsing (labels, uid, flags) is taken from `obj`, the same object
 * parsed, which the caller may change afterwards. */
static store_obj_t *store_obj_new(const char *key, char *json, size_t len, int64_t rv,
                                  const json_t *obj)
{
    store_obj_t *o = calloc(1, sizeof(*o));
    const json_t *md = json_object_get(obj, "metadata");
    const json_t *labels = json_object_get(md, "labels");
    const char *uid = json_string_value(json_object_get(md, "uid"));

    if (!o)
        abort();
    o->refs = 1;
    o->rv = rv;
    o->key = strdup(key);
    o->json = json;
    o->len = len;
    if (json_is_object(labels) && json_object_size(labels) > 0)
        o->labels = json_deep_copy(labels);
    o->uid = uid ? strdup(uid) : NULL;
    o->generation = json_integer_value(json_object_get(md, "generation"));
    if (json_array_size(json_object_get(md, "ownerReferences")) > 0)
        o->flags |= STORE_OBJ_OWNED;
    if (json_object_get(md, "deletionTimestamp"))
        o->flags |= STORE_OBJ_DELETING;
    if (json_array_size(json_object_get(md, "finalizers")) > 0)
        o->flags |= STORE_OBJ_FINALIZERS;
    return o;
}

store_obj_t *store_obj_from_json(const char *key, const json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    if (!text)
        abort();
    return store_obj_new(key, text, strlen(text), 0, obj);
}

typedef struct store_req {
    store_op_t op;
    const char *key;
    json_t *obj;
    int64_t expect_rv;
    /* results */
    store_obj_t *result;
    store_obj_t *prev;
    err_t err;
    bool done;
    GCond done_cond;   /* signalled, under q_mutex, when done is set */
    struct store_req *next;
} store_req_t;

struct store {
    const store_backend_ops_t *ops;
    void *be;

    GRWLock lock;      /* guards index, by_key, rev, log */
    GTree *index;      /* key -> store_obj_t*, holds a reference */
    GHashTable *by_key; /* key -> store_obj_t*, no reference: as index */
    int64_t rev;
    store_event_t *log; /* ring of STORE_LOG_CAP */
    size_t log_head;    /* index of the oldest event */
    size_t log_len;
    int64_t log_base;   /* events after this revision are in the log */
    uint64_t log_seq;   /* events ever dropped from the log: the oldest one's number */

    GMutex ev_mutex;    /* guards waiters, changed, ev_closing */
    GPtrArray *waiters; /* sleeping watches (store_watch_t*), each woken on its own */
    GPtrArray *changed; /* keys committed since the last wake-up (char*) */
    GCond changed_cond; /* the notifier waits on it for `changed` */
    GThread *notifier;
    bool ev_closing;    /* under ev_mutex: wake and end every watch */

    GMutex q_mutex;     /* guards the request queue */
    GCond q_cond;       /* new request queued */
    store_req_t *q_head, *q_tail;
    bool q_closing;     /* under q_mutex: refuse writes, stop the writer */
    GThread *writer;

    uint64_t commits, writes;
};

static int key_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    return strcmp(a, b);
}

/* Makes `o` (a reference taken) the latest version of its key, in both
 * indexes.  Replacing the hash's key too matters: the old version's key
 * goes away with it. */
static void index_put(store_t *st, store_obj_t *o)
{
    g_hash_table_replace(st->by_key, o->key, o);
    g_tree_replace(st->index, o->key, o);
}

static void index_remove(store_t *st, const char *key)
{
    g_hash_table_remove(st->by_key, key); /* first: the tree frees the key */
    g_tree_remove(st->index, key);
}

/* ---- loading ---------------------------------------------------------- */

static int store_load_one(void *ctx, const char *key, const char *value,
                          size_t len, int64_t rv)
{
    store_t *st = ctx;
    json_t *v = json_loadb(value, len, 0, NULL);
    char *copy;

    if (!v) {
        log_error("store: object %s does not parse; skipping it", key);
        return 0;
    }
    copy = malloc(len + 1);
    if (!copy)
        abort();
    memcpy(copy, value, len);
    copy[len] = '\0';
    store_obj_t *o = store_obj_new(key, copy, len, rv, v);
    json_decref(v);
    index_put(st, o);
    return 0;
}

static gpointer store_writer_main(gpointer data);
static gpointer store_notifier_main(gpointer data);
static void wake_waiters(store_t *st, GPtrArray *keys);

store_t *store_open(const char *dir, const store_backend_ops_t *ops, err_t *err)
{
    store_t *st = calloc(1, sizeof(*st));
    if (!st)
        abort();
    st->ops = ops;
    g_rw_lock_init(&st->lock);
    g_mutex_init(&st->ev_mutex);
    st->waiters = g_ptr_array_new();
    st->changed = g_ptr_array_new_with_free_func(free);
    g_cond_init(&st->changed_cond);
    g_mutex_init(&st->q_mutex);
    g_cond_init(&st->q_cond);
    st->index = g_tree_new_full(key_cmp, NULL, NULL,
                                (GDestroyNotify)store_obj_unref);
    st->by_key = g_hash_table_new(g_str_hash, g_str_equal);
    st->log = calloc(STORE_LOG_CAP, sizeof(store_event_t));
    if (!st->log)
        abort();

    st->be = ops->open(dir, err);
    if (!st->be)
        goto fail;
    if (ops->load(st->be, store_load_one, st, &st->rev, err) < 0)
        goto fail;
    st->log_base = st->rev;
    log_info("store: %s backend loaded %d objects at revision %lld", ops->name,
             g_tree_nnodes(st->index), (long long)st->rev);
    st->writer = g_thread_new("store-writer", store_writer_main, st);
    st->notifier = g_thread_new("store-notify", store_notifier_main, st);
    return st;

fail:
    store_close(st);
    return NULL;
}

void store_close(store_t *st)
{
    if (!st)
        return;
    if (st->writer) {
        g_mutex_lock(&st->q_mutex);
        st->q_closing = true;
        g_cond_broadcast(&st->q_cond);
        g_mutex_unlock(&st->q_mutex);
        g_thread_join(st->writer);
    }
    g_mutex_lock(&st->ev_mutex);
    st->ev_closing = true;
    wake_waiters(st, NULL);
    g_cond_signal(&st->changed_cond);
    g_mutex_unlock(&st->ev_mutex);
    if (st->notifier)
        g_thread_join(st->notifier);
    if (st->be)
        st->ops->close(st->be);
    for (size_t i = 0; i < st->log_len; i++)
        store_event_clear(&st->log[(st->log_head + i) % STORE_LOG_CAP]);
    free(st->log);
    g_hash_table_destroy(st->by_key);
    g_tree_destroy(st->index);
    g_rw_lock_clear(&st->lock);
    g_mutex_clear(&st->ev_mutex);
    g_ptr_array_unref(st->waiters);
    g_ptr_array_unref(st->changed);
    g_cond_clear(&st->changed_cond);
    g_mutex_clear(&st->q_mutex);
    g_cond_clear(&st->q_cond);
    free(st);
}

int64_t store_revision(store_t *st)
{
    int64_t rev;
    g_rw_lock_reader_lock(&st->lock);
    rev = st->rev;
    g_rw_lock_reader_unlock(&st->lock);
    return rev;
}

/* ---- reads ------------------------------------------------------------ */

store_obj_t *store_get(store_t *st, const char *key)
{
    store_obj_t *o;
    g_rw_lock_reader_lock(&st->lock);
    o = store_obj_ref(g_hash_table_lookup(st->by_key, key));
    g_rw_lock_reader_unlock(&st->lock);
    return o;
}

GPtrArray *store_list(store_t *st, const char *prefix, const char *after,
                      size_t limit, int64_t *rev, bool *more)
{
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)store_obj_unref);
    size_t plen = strlen(prefix);
    GTreeNode *n;

    if (more)
        *more = false;
    g_rw_lock_reader_lock(&st->lock);
    n = g_tree_lower_bound(st->index, after && strcmp(after, prefix) >= 0 ? after : prefix);
    for (; n; n = g_tree_node_next(n)) {
        store_obj_t *o = g_tree_node_value(n);
        if (strncmp(o->key, prefix, plen) != 0)
            break;
        if (after && strcmp(o->key, after) <= 0)
            continue;
        if (limit && out->len == limit) {
            if (more)
                *more = true;
            break;
        }
        g_ptr_array_add(out, store_obj_ref(o));
    }
    if (rev)
        *rev = st->rev;
    g_rw_lock_reader_unlock(&st->lock);
    return out;
}

size_t store_count(store_t *st, const char *prefix)
{
    size_t plen = strlen(prefix), count = 0;
    GTreeNode *n;

    g_rw_lock_reader_lock(&st->lock);
    for (n = g_tree_lower_bound(st->index, prefix); n; n = g_tree_node_next(n)) {
        store_obj_t *o = g_tree_node_value(n);
        if (strncmp(o->key, prefix, plen) != 0)
            break;
        count++;
    }
    g_rw_lock_reader_unlock(&st->lock);
    return count;
}

void store_get_stats(store_t *st, store_stats_t *out)
{
    g_rw_lock_reader_lock(&st->lock);
    out->objects = (size_t)g_tree_nnodes(st->index);
    out->log_events = st->log_len;
    out->commits = st->commits;
    out->writes = st->writes;
    g_rw_lock_reader_unlock(&st->lock);
}

/* ---- writes ----------------------------------------------------------- */

store_obj_t *store_write(store_t *st, store_op_t op, const char *key,
                         json_t *obj, int64_t expect_rv, err_t *err)
{
    store_req_t req = {.op = op, .key = key, .obj = obj, .expect_rv = expect_rv};
    store_obj_t *res;

    g_cond_init(&req.done_cond);
    g_mutex_lock(&st->q_mutex);
    if (st->q_closing) {
        g_mutex_unlock(&st->q_mutex);
        g_cond_clear(&req.done_cond);
        json_decref(obj);
        err_set(err, ERR_UNAVAILABLE, "The store is shutting down.");
        return NULL;
    }
    if (st->q_tail)
        st->q_tail->next = &req;
    else
        st->q_head = &req;
    st->q_tail = &req;
    g_cond_signal(&st->q_cond);
    /* Each writer waits on its own condition: a batch wakes just its writers. */
    while (!req.done)
        g_cond_wait(&req.done_cond, &st->q_mutex);
    g_mutex_unlock(&st->q_mutex);
    g_cond_clear(&req.done_cond);

    res = req.result;
    store_obj_unref(req.prev);
    if (!res)
        err_move(err, &req.err);
    return res;
}

/* The state of `key` as the batch being built sees it. */
static store_obj_t *batch_lookup(store_t *st, GHashTable *pending, const char *key,
                                 bool *deleted)
{
    gpointer v;
    *deleted = false;
    if (g_hash_table_lookup_extended(pending, key, NULL, &v)) {
        *deleted = v == NULL;
        return v;
    }
    return g_hash_table_lookup(st->by_key, key);
}

/* Check preconditions and render one request; on success fills r->result
 * with the new version (rv assigned) and r->prev with the previous one. */
static void batch_prepare(store_t *st, GHashTable *pending, store_req_t *r,
                          int64_t *rev)
{
    bool deleted;
    store_obj_t *cur = batch_lookup(st, pending, r->key, &deleted);
    char rvbuf[24];
    char *text;

    if (r->op == STORE_CREATE && cur) {
        err_set(&r->err, ERR_ALREADY_EXISTS, "The object already exists.");
        return;
    }
    if (r->op != STORE_CREATE && !cur) {
        err_set(&r->err, ERR_NOT_FOUND, "The object does not exist.");
        return;
    }
    if (r->op != STORE_CREATE && r->expect_rv > 0 && cur->rv != r->expect_rv) {
        err_set(&r->err, ERR_CONFLICT,
                "The object has been modified; please apply your changes to "
                "the latest version and try again.");
        return;
    }
    if (!json_is_object(r->obj)) {
        err_set(&r->err, ERR_INTERNAL, "The object to store is not a JSON object.");
        return;
    }
    (*rev)++;
    snprintf(rvbuf, sizeof(rvbuf), "%lld", (long long)*rev);
    json_object_set_new(json_object_ensure(r->obj, "metadata"), "resourceVersion",
                        json_string(rvbuf));
    text = json_dumps(r->obj, JSON_COMPACT);
    if (!text)
        abort();
    r->result = store_obj_new(r->key, text, strlen(text), *rev, r->obj);
    r->prev = store_obj_ref(cur);
    g_hash_table_insert(pending, r->result->key,
                        r->op == STORE_DELETE ? NULL : r->result);
}

static void log_append(store_t *st, store_ev_type_t type, store_obj_t *obj,
                       store_obj_t *prev)
{
    size_t slot;
    if (st->log_len == STORE_LOG_CAP) {
        store_event_t *old = &st->log[st->log_head];
        st->log_base = old->obj->rv;
        store_event_clear(old);
        st->log_head = (st->log_head + 1) % STORE_LOG_CAP;
        st->log_len--;
        st->log_seq++;
    }
    slot = (st->log_head + st->log_len) % STORE_LOG_CAP;
    st->log[slot].type = type;
    st->log[slot].obj = store_obj_ref(obj);
    st->log[slot].prev = store_obj_ref(prev);
    st->log_len++;
}

static void batch_run(store_t *st, store_req_t *batch)
{
    GHashTable *pending = g_hash_table_new(g_str_hash, g_str_equal);
    GArray *muts = g_array_new(FALSE, FALSE, sizeof(store_mutation_t));
    int64_t rev = st->rev; /* only this thread changes st->rev */
    err_t err = ERR_INIT;
    store_req_t *r;

    for (r = batch; r; r = r->next) {
        batch_prepare(st, pending, r, &rev);
        if (!r->result)
            continue;
        store_mutation_t m = {
            .key = r->key,
            .value = r->op == STORE_DELETE ? NULL : r->result->json,
            .len = r->result->len,
            .rv = r->result->rv,
        };
        g_array_append_val(muts, m);
    }

    if (muts->len > 0 &&
        st->ops->commit(st->be, (store_mutation_t *)muts->data, muts->len, rev,
                        &err) < 0) {
        log_error("store: commit of %u writes failed: %s", muts->len, err.msg);
        for (r = batch; r; r = r->next) {
            if (!r->result)
                continue;
            store_obj_unref(r->result);
            store_obj_unref(r->prev);
            r->result = r->prev = NULL;
            err_set(&r->err, ERR_UNAVAILABLE,
                    "The store could not commit the write: %s", err.msg);
        }
    } else if (muts->len > 0) {
        /* The written object is its version's text parsed: the readers that
         * follow every change need not parse it again.  Nothing changes it
         * any more (store_write took it), and no reader sees the version
         * before it is indexed below, so this needs no store lock. */
        for (r = batch; r; r = r->next)
            if (r->result && r->op != STORE_DELETE)
                obj_keep_parse(r->result, r->obj);
        g_rw_lock_writer_lock(&st->lock);
        for (r = batch; r; r = r->next) {
            if (!r->result)
                continue;
            if (r->prev)
                obj_supersede(r->prev);
            if (r->op == STORE_DELETE) {
                index_remove(st, r->key);
                log_append(st, STORE_EV_DELETED, r->result, r->prev);
            } else {
                index_put(st, store_obj_ref(r->result));
                log_append(st, r->prev ? STORE_EV_MODIFIED : STORE_EV_ADDED,
                           r->result, r->prev);
            }
        }
        st->rev = rev;
        st->commits++;
        st->writes += muts->len;
        g_rw_lock_writer_unlock(&st->lock);

        /* The notifier wakes the watches these keys concern. */
        g_mutex_lock(&st->ev_mutex);
        for (r = batch; r; r = r->next)
            if (r->result)
                g_ptr_array_add(st->changed, strdup(r->key));
        g_cond_signal(&st->changed_cond);
        g_mutex_unlock(&st->ev_mutex);
    }

    for (r = batch; r; r = r->next) {
        json_decref(r->obj);
        r->obj = NULL;
    }
    err_clear(&err);
    g_array_free(muts, TRUE);
    g_hash_table_destroy(pending);
}

static gpointer store_writer_main(gpointer data)
{
    store_t *st = data;

    for (;;) {
        store_req_t *batch, *r;
        size_t n = 0;

        g_mutex_lock(&st->q_mutex);
        while (!st->q_head && !st->q_closing)
            g_cond_wait(&st->q_cond, &st->q_mutex);
        if (!st->q_head && st->q_closing) {
            g_mutex_unlock(&st->q_mutex);
            return NULL;
        }
        /* Take up to STORE_BATCH_MAX queued requests as one batch. */
        batch = st->q_head;
        for (r = batch; r->next && ++n < STORE_BATCH_MAX; r = r->next)
            ;
        st->q_head = r->next;
        if (!st->q_head)
            st->q_tail = NULL;
        r->next = NULL;
        g_mutex_unlock(&st->q_mutex);

        batch_run(st, batch);

        g_mutex_lock(&st->q_mutex);
        for (r = batch; r;) {
            store_req_t *next = r->next;
            r->done = true; /* r may vanish once its writer sees done */
            g_cond_signal(&r->done_cond);
            r = next;
        }
        g_mutex_unlock(&st->q_mutex);
    }
}

/* ---- watches ---------------------------------------------------------- */

#define NEXT_UNKNOWN UINT64_MAX

struct store_watch {
    store_t *st;
    char *prefix;
    size_t plen;
    int64_t cursor; /* every event with rv <= cursor has been handled */
    uint64_t next;  /* the number of the log's first event after cursor (see
                       log_seq); NEXT_UNKNOWN until the first scan */
    guint slot;     /* under st->ev_mutex: its index in st->waiters while listed */
    bool listed;    /* under st->ev_mutex: in st->waiters */
    GMutex mutex;   /* its own: a woken watch takes no lock that others wait on */
    GCond cond;     /* with mutex: this watch sleeps on it */
    bool woken;     /* under mutex */
};

/* Under ev_mutex: take `w` off the waiters list (swap-remove by slot). */
static void waiter_unlist(store_t *st, store_watch_t *w)
{
    g_ptr_array_remove_index_fast(st->waiters, w->slot);
    if (w->slot < st->waiters->len)
        ((store_watch_t *)st->waiters->pdata[w->slot])->slot = w->slot;
    w->listed = false;
}

/* Under ev_mutex: wake the sleeping watches that `keys` concern (NULL: all
 * of them) and take them off the list.  A watch wakes only for keys under
 * its prefix, so commits elsewhere (events, other kinds) cost it nothing.
 * Each sleeps on its own lock, so a thousand woken watches do not queue for
 * ev_mutex one behind another. */
static void wake_waiters(store_t *st, GPtrArray *keys)
{
    guint i = 0;
    while (i < st->waiters->len) {
        store_watch_t *w = st->waiters->pdata[i];
        bool hit = keys == NULL;
        for (guint k = 0; keys && k < keys->len && !hit; k++)
            hit = strncmp(keys->pdata[k], w->prefix, w->plen) == 0;
        if (!hit) {
            i++;
            continue;
        }
        waiter_unlist(st, w); /* the last one moves into slot i */
        g_mutex_lock(&w->mutex);
        w->woken = true;
        g_cond_signal(&w->cond);
        g_mutex_unlock(&w->mutex);
    }
}

/* Wakes watches for committed changes.  The first change after a quiet
 * spell wakes them at once; changes that follow within STORE_WAKE_GAP_US
 * are gathered into one wake-up, so a burst of commits costs each watch a
 * few wake-ups instead of one per commit. */
static gpointer store_notifier_main(gpointer data)
{
    store_t *st = data;
    GPtrArray *keys = g_ptr_array_new_with_free_func(free);

    g_mutex_lock(&st->ev_mutex);
    while (!st->ev_closing) {
        if (st->changed->len == 0) {
            g_cond_wait(&st->changed_cond, &st->ev_mutex);
            continue;
        }
        GPtrArray *t = keys;
        keys = st->changed;
        st->changed = t;
        wake_waiters(st, keys);
        g_ptr_array_set_size(keys, 0);
        g_mutex_unlock(&st->ev_mutex);
        g_usleep(STORE_WAKE_GAP_US);
        g_mutex_lock(&st->ev_mutex);
    }
    g_mutex_unlock(&st->ev_mutex);
    g_ptr_array_unref(keys);
    return NULL;
}

void store_event_clear(store_event_t *ev)
{
    store_obj_unref(ev->obj);
    store_obj_unref(ev->prev);
    ev->obj = ev->prev = NULL;
}

store_watch_t *store_watch_open(store_t *st, const char *prefix, int64_t from_rev,
                                err_t *err)
{
    store_watch_t *w;

    g_rw_lock_reader_lock(&st->lock);
    if (from_rev < st->log_base) {
        g_rw_lock_reader_unlock(&st->lock);
        err_set(err, ERR_GONE, "too old resource version: %lld (%lld)",
                (long long)from_rev, (long long)st->log_base + 1);
        return NULL;
    }
    g_rw_lock_reader_unlock(&st->lock);
    w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    w->st = st;
    w->prefix = strdup(prefix);
    w->plen = strlen(prefix);
    w->cursor = from_rev;
    w->next = NEXT_UNKNOWN;
    g_mutex_init(&w->mutex);
    g_cond_init(&w->cond);
    return w;
}

int64_t store_watch_revision(store_watch_t *w)
{
    return w->cursor;
}

/* Find the first event after the cursor that matches; caller holds lock.
 * Events keep their number while they are in the log, so after its first
 * scan a watch knows where to go on without searching. */
static int watch_scan(store_watch_t *w, store_event_t *ev, err_t *err)
{
    store_t *st = w->st;
    size_t lo = 0, hi = st->log_len;

    if (w->cursor < st->log_base) {
        err_set(err, ERR_GONE,
                "The watch fell behind: events after resource version %lld "
                "are no longer kept.", (long long)w->cursor);
        return -1;
    }
    if (w->next != NEXT_UNKNOWN) {
        /* Not dropped: the cursor is not older than log_base. */
        lo = (size_t)(w->next - st->log_seq);
    } else {
        /* Binary search for the first event with rv > cursor. */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (st->log[(st->log_head + mid) % STORE_LOG_CAP].obj->rv <= w->cursor)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    for (; lo < st->log_len; lo++) {
        store_event_t *e = &st->log[(st->log_head + lo) % STORE_LOG_CAP];
        if (e->obj->rv <= w->cursor)
            continue; /* only for a watch opened at a revision still to come */
        w->cursor = e->obj->rv;
        if (strncmp(e->obj->key, w->prefix, w->plen) == 0) {
            w->next = st->log_seq + lo + 1;
            ev->type = e->type;
            ev->obj = store_obj_ref(e->obj);
            ev->prev = store_obj_ref(e->prev);
            return 1;
        }
    }
    /* Everything up to the current revision has been seen. */
    w->next = st->log_seq + st->log_len;
    if (st->rev > w->cursor)
        w->cursor = st->rev;
    return 0;
}

int store_watch_next(store_watch_t *w, store_event_t *ev, int timeout_ms, err_t *err)
{
    store_t *st = w->st;
    gint64 deadline = 0; /* taken when first needed: most calls find an event */

    for (;;) {
        int rc;
        int64_t seen;

        g_rw_lock_reader_lock(&st->lock);
        rc = watch_scan(w, ev, err);
        seen = st->rev;
        g_rw_lock_reader_unlock(&st->lock);
        if (rc != 0)
            return rc;
        /* Nothing to wait for: no trip through the waiters' lock, which a
         * thousand watches ending their reads would otherwise queue on. */
        if (timeout_ms <= 0)
            return 0;
        if (!deadline)
            deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

        g_mutex_lock(&st->ev_mutex);
        if (st->ev_closing) {
            g_mutex_unlock(&st->ev_mutex);
            err_set(err, ERR_UNAVAILABLE, "The store is shutting down.");
            return -1;
        }
        /* Sleep only if nothing was committed since the scan; a commit
         * after this point finds this watch among the waiters. */
        if (store_revision(st) == seen) {
            bool woken;
            g_mutex_lock(&w->mutex);
            w->woken = false;
            g_mutex_unlock(&w->mutex);
            w->slot = st->waiters->len;
            w->listed = true;
            g_ptr_array_add(st->waiters, w);
            g_mutex_unlock(&st->ev_mutex);

            g_mutex_lock(&w->mutex);
            while (!w->woken && g_cond_wait_until(&w->cond, &w->mutex, deadline))
                ;
            woken = w->woken;
            g_mutex_unlock(&w->mutex);
            if (woken)
                continue; /* the waker took it off the list */
            g_mutex_lock(&st->ev_mutex);
            if (w->listed)
                waiter_unlist(st, w);
            g_mutex_unlock(&st->ev_mutex);
            return 0;
        }
        g_mutex_unlock(&st->ev_mutex);
        if (g_get_monotonic_time() >= deadline)
            return 0;
    }
}

void store_watch_close(store_watch_t *w)
{
    if (!w)
        return;
    g_cond_clear(&w->cond);
    g_mutex_clear(&w->mutex);
    free(w->prefix);
    free(w);
}
