/*
 * queue: see queue.h.
 *
 * State, all under `lock`: `ready` is the FIFO of keys due now; `waiting`
 * maps every key that is due now or later to its due time (monotonic us;
 * -1 once in `ready`), so a key is queued once; `delayed` counts the keys
 * of `waiting` due later; `active` holds keys a worker is handling, and
 * `dirty` the active keys added again meanwhile.  A key due at once goes
 * straight to the tail of `ready`, so keys are handled in the order they
 * came; only delayed keys need a scan of `waiting` when they fall due.  A
 * timer thread is not needed: workers sleep until the earliest due time.
 *
 * Workers are started as keys need them, up to `max_workers`: a key made
 * ready while no worker is idle starts one, and so does a worker that takes
 * a key and leaves others ready with none idle.  A handler may block for
 * long (a hypervisor start waits for its guest's QEMU), so a burst of keys
 * gets as many workers as the limit allows instead of queueing behind a
 * few; an idle queue holds one thread.
 */
#include "ctl/queue.h"

#include "util/log.h"

struct queue {
    char *name;
    GMutex lock;
    GCond cond;
    GQueue ready;          /* char* keys, owned by `waiting` */
    GHashTable *waiting;   /* key -> due time (gint64*) */
    GHashTable *active;    /* keys being handled */
    GHashTable *dirty;     /* active keys to handle again */
    GHashTable *backoff;   /* key -> current backoff ms (gint*) */
    guint delayed;         /* keys of `waiting` not due yet */
    GPtrArray *threads;
    guint max_workers;
    guint idle;            /* workers waiting for a key */
    queue_handler_fn fn;
    void *ctx;
    bool stopping;
};

static gint64 *due_new(gint64 t)
{
    gint64 *p = g_new(gint64, 1);
    *p = t;
    return p;
}

/* Under lock: move keys whose time has come to `ready`; return the earliest
 * future due time, or 0 when nothing waits. */
static gint64 promote(queue_t *q, gint64 now)
{
    GHashTableIter it;
    gpointer k, v;
    gint64 next = 0;

    if (q->delayed == 0)
        return 0;
    g_hash_table_iter_init(&it, q->waiting);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        gint64 due = *(gint64 *)v;
        if (due < 0)
            continue; /* already in ready */
        if (due <= now) {
            *(gint64 *)v = -1;
            q->delayed--;
            g_queue_push_tail(&q->ready, k);
        } else if (!next || due < next) {
            next = due;
        }
    }
    return next;
}

static gpointer worker_main(gpointer p);

/* Under lock: start one more worker if keys are ready, none is idle and the
 * limit allows. */
static void grow_locked(queue_t *q)
{
    if (!q->stopping && q->idle == 0 && q->threads->len < q->max_workers &&
        !g_queue_is_empty(&q->ready))
        g_ptr_array_add(q->threads, g_thread_new(q->name, worker_main, q));
}

static void add_locked(queue_t *q, const char *key, gint64 due)
{
    gint64 *cur;

    if (g_hash_table_contains(q->active, key)) {
        /* Handled again once the worker that holds it is done (at `due`). */
        gpointer old = g_hash_table_lookup(q->dirty, key);
        if (!old || *(gint64 *)old > due)
            g_hash_table_insert(q->dirty, g_strdup(key), due_new(due));
        return;
    }
    gint64 now = g_get_monotonic_time();
    gpointer k;

    if (g_hash_table_lookup_extended(q->waiting, key, &k, (gpointer *)&cur)) {
        if (*cur < 0 || *cur <= due)
            return; /* queued already, as early or earlier */
        if (due <= now) {
            *cur = -1;
            q->delayed--;
            g_queue_push_tail(&q->ready, k);
        } else {
            *cur = due;
        }
    } else if (due <= now) {
        k = g_strdup(key);
        g_hash_table_insert(q->waiting, k, due_new(-1));
        g_queue_push_tail(&q->ready, k);
    } else {
        g_hash_table_insert(q->waiting, g_strdup(key), due_new(due));
        q->delayed++;
    }
    grow_locked(q);
    g_cond_signal(&q->cond);
}

void queue_add(queue_t *q, const char *key)
{
    queue_add_after(q, key, 0);
}

void queue_add_after(queue_t *q, const char *key, int delay_ms)
{
    g_mutex_lock(&q->lock);
    if (!q->stopping)
        add_locked(q, key, g_get_monotonic_time() + (gint64)delay_ms * 1000);
    g_mutex_unlock(&q->lock);
}

guint queue_length(queue_t *q)
{
    guint n;
    g_mutex_lock(&q->lock);
    n = g_hash_table_size(q->waiting) + g_hash_table_size(q->active);
    g_mutex_unlock(&q->lock);
    return n;
}

static int backoff_next(queue_t *q, const char *key)
{
    gint *b = g_hash_table_lookup(q->backoff, key);
    if (!b) {
        b = g_new(gint, 1);
        *b = QUEUE_BACKOFF_MIN_MS;
        g_hash_table_insert(q->backoff, g_strdup(key), b);
        return *b;
    }
    *b = MIN(*b * 2, QUEUE_BACKOFF_MAX_MS);
    return *b;
}

static gpointer worker_main(gpointer p)
{
    queue_t *q = p;

    g_mutex_lock(&q->lock);
    for (;;) {
        char *key;
        gint64 now = g_get_monotonic_time(), next;
        gpointer due;
        int rc;

        if (q->stopping)
            break;
        next = promote(q, now);
        key = g_queue_pop_head(&q->ready);
        if (!key) {
            q->idle++;
            if (next)
                g_cond_wait_until(&q->cond, &q->lock, next);
            else
                g_cond_wait(&q->cond, &q->lock);
            q->idle--;
            continue;
        }
        grow_locked(q); /* more keys wait and nobody is free for them */
        /* Take the key out of `waiting` without freeing it. */
        g_hash_table_steal_extended(q->waiting, key, NULL, &due);
        g_free(due);
        g_hash_table_add(q->active, key);
        g_mutex_unlock(&q->lock);

        rc = q->fn(q->ctx, key);

        g_mutex_lock(&q->lock);
        g_hash_table_steal(q->active, key);
        if (rc == 0) {
            g_hash_table_remove(q->backoff, key);
        } else if (!q->stopping) {
            int ms = backoff_next(q, key);
            log_debug("%s: %s: retrying in %d ms", q->name, key, ms);
            add_locked(q, key, g_get_monotonic_time() + (gint64)ms * 1000);
        }
        if (g_hash_table_lookup_extended(q->dirty, key, NULL, &due)) {
            gint64 t = *(gint64 *)due;
            g_hash_table_remove(q->dirty, key);
            add_locked(q, key, t);
        }
        g_free(key);
        g_cond_signal(&q->cond);
    }
    g_mutex_unlock(&q->lock);
    return NULL;
}

guint queue_workers(queue_t *q)
{
    guint n;
    g_mutex_lock(&q->lock);
    n = q->threads->len;
    g_mutex_unlock(&q->lock);
    return n;
}

queue_t *queue_new(const char *name, int max_workers, queue_handler_fn fn, void *ctx)
{
    queue_t *q = g_new0(queue_t, 1);
    q->name = g_strdup(name);
    g_mutex_init(&q->lock);
    g_cond_init(&q->cond);
    g_queue_init(&q->ready);
    q->waiting = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    q->active = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    q->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    q->backoff = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    q->fn = fn;
    q->ctx = ctx;
    q->threads = g_ptr_array_new();
    q->max_workers = (guint)MAX(max_workers, 1);
    g_mutex_lock(&q->lock);
    g_ptr_array_add(q->threads, g_thread_new(name, worker_main, q));
    g_mutex_unlock(&q->lock);
    return q;
}

void queue_free(queue_t *q)
{
    if (!q)
        return;
    g_mutex_lock(&q->lock);
    q->stopping = true;
    g_cond_broadcast(&q->cond);
    g_mutex_unlock(&q->lock);
    for (guint i = 0; i < q->threads->len; i++)
        g_thread_join(q->threads->pdata[i]);
    g_ptr_array_unref(q->threads);
    g_queue_clear(&q->ready);
    g_hash_table_unref(q->waiting);
    g_hash_table_unref(q->active);
    g_hash_table_unref(q->dirty);
    g_hash_table_unref(q->backoff);
    g_mutex_clear(&q->lock);
    g_cond_clear(&q->cond);
    g_free(q->name);
    g_free(q);
}
