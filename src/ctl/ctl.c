/*
 * ctl: the controller loop: a full resync, then the event log from the
 * revision the resync saw; a watch that falls behind the log starts over
 * with a resync, so no change is ever missed.
 */
#include "ctl/ctl_priv.h"

#include <stdarg.h>
#include <stdio.h>

#include "api/objects.h"
#include "model/conditions.h"
#include "model/meta.h"
#include "util/jsonutil.h"
#include "util/log.h"

static gpointer ctl_main(gpointer p)
{
    ctl_t *c = p;

    while (!g_atomic_int_get(&c->stop)) {
        err_t err = ERR_INIT;
        int64_t rev = store_revision(c->srv->store);
        store_watch_t *w;
        gint64 next_resync;

        c->ops->resync(c);
        w = store_watch_open(c->srv->store, c->ops->prefix, rev, &err);
        if (!w) {
            log_warn("%s: cannot follow changes: %s", c->ops->name, err.msg);
            err_clear(&err);
            g_usleep(G_USEC_PER_SEC);
            continue;
        }
        next_resync = g_get_monotonic_time() + (gint64)c->ops->resync_ms * 1000;
        bool pending = true; /* the resync's work is still to do */
        while (!g_atomic_int_get(&c->stop)) {
            store_event_t ev = {0};
            int rc = store_watch_next(w, &ev, pending ? 0 : 250, &err);
            if (rc < 0) {
                log_info("%s: %s; resyncing", c->ops->name, err.msg);
                err_clear(&err);
                break;
            }
            if (rc > 0) {
                c->ops->event(c, &ev);
                store_event_clear(&ev);
                pending = true;
            } else if (pending) {
                c->more = false;
                if (c->ops->idle)
                    c->ops->idle(c);
                pending = c->more;
            }
            if (g_get_monotonic_time() >= next_resync) {
                c->ops->resync(c);
                pending = true;
                next_resync = g_get_monotonic_time() + (gint64)c->ops->resync_ms * 1000;
            }
        }
        store_watch_close(w);
    }
    return NULL;
}

void ctl_more(ctl_t *c)
{
    c->more = true;
}

GPtrArray *ctl_take_keys(GHashTable *set)
{
    GPtrArray *out = g_ptr_array_new_full(g_hash_table_size(set), g_free);
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, set);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        g_ptr_array_add(out, k);
        g_hash_table_iter_steal(&it);
    }
    return out;
}

struct ctl_keys {
    GHashTable *waiting; /* the keys in `order`, which owns them */
    GQueue order;        /* char*, oldest first */
};

ctl_keys_t *ctl_keys_new(void)
{
    ctl_keys_t *k = g_new0(ctl_keys_t, 1);
    k->waiting = g_hash_table_new(g_str_hash, g_str_equal);
    g_queue_init(&k->order);
    return k;
}

void ctl_keys_free(ctl_keys_t *k)
{
    if (!k)
        return;
    g_hash_table_unref(k->waiting);
    g_queue_clear_full(&k->order, g_free);
    g_free(k);
}

void ctl_keys_add(ctl_keys_t *k, const char *key)
{
    char *copy;
    if (g_hash_table_contains(k->waiting, key))
        return;
    copy = g_strdup(key);
    g_hash_table_add(k->waiting, copy);
    g_queue_push_tail(&k->order, copy);
}

guint ctl_keys_len(const ctl_keys_t *k)
{
    return k->order.length;
}

GPtrArray *ctl_keys_take(ctl_keys_t *k, guint max)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    char *key;
    while (out->len < max && (key = g_queue_pop_head(&k->order))) {
        g_hash_table_remove(k->waiting, key);
        g_ptr_array_add(out, key);
    }
    return out;
}

bool ctl_status_only(const store_event_t *ev, const char *cond_type)
{
    const store_obj_t *o = ev->obj, *p = ev->prev;
    char mark[128];
    int n;

    if (ev->type != STORE_EV_MODIFIED || !p || o->generation != p->generation ||
        (o->flags & STORE_OBJ_DELETING) != (p->flags & STORE_OBJ_DELETING) ||
        !(o->labels == p->labels || (o->labels && p->labels && json_equal(o->labels, p->labels))))
        return false;
    /* Conditions are stored as {"type":"<type>",...}: a look at the text
     * spares a parse. */
    n = snprintf(mark, sizeof(mark), "\"type\":\"%s\"", cond_type);
    if (n < 0 || (size_t)n >= sizeof(mark))
        return false; /* no such condition type: look at the change */
    return g_strstr_len(o->json, (gssize)o->len, mark) != NULL;
}

json_t *ctl_parse_if(const store_obj_t *o, const char *needle)
{
    if (!o || !g_strstr_len(o->json, (gssize)o->len, needle))
        return NULL;
    return store_obj_parse(o);
}

ctl_t *ctl_start(apiserver_t *srv, const ctl_ops_t *ops, void *state)
{
    ctl_t *c = g_new0(ctl_t, 1);
    c->ops = ops;
    c->srv = srv;
    c->state = state;
    c->thread = g_thread_new(ops->name, ctl_main, c);
    return c;
}

void ctl_stop(ctl_t *c)
{
    if (!c)
        return;
    g_atomic_int_set(&c->stop, 1);
    g_thread_join(c->thread);
    if (c->ops->free)
        c->ops->free(c);
    g_free(c);
}

typedef struct status_edit {
    const json_t *set;
    const json_t *conds;
    const json_t *defaults; /* conds only where the object has none of that type */
} status_edit_t;

static void set_cond(json_t *obj, const json_t *c, json_int_t gen, const char *now)
{
    cond_set(obj, json_string_value(json_object_get(c, "type")),
             json_string_value(json_object_get(c, "status")),
             json_string_value(json_object_get(c, "reason")),
             json_string_value(json_object_get(c, "message")), gen, now);
}

/* For a status write, which takes only the status of what it is given:
 * so only the status is copied. */
static json_t *mutate_status(const json_t *cur, void *ctx, err_t *err)
{
    status_edit_t *e = ctx;
    const json_t *cst = json_object_get(cur, "status");
    json_t *st = json_is_object(cst) ? json_deep_copy(cst) : json_object();
    json_t *next = json_pack("{s:O*,s:O*,s:o}", "apiVersion", json_object_get(cur, "apiVersion"),
                             "kind", json_object_get(cur, "kind"), "status", st);
    json_int_t gen = json_integer_value(json_path_get(cur, "metadata.generation"));
    const char *k;
    json_t *v, *c;
    size_t i;
    char now[32];

    json_object_foreach((json_t *)e->set, k, v) {
        if (json_is_null(v))
            json_object_del(st, k);
        else
            json_object_set(st, k, v);
    }
    meta_now(now, sizeof(now));
    json_array_foreach(e->conds, i, c)
        set_cond(next, c, gen, now);
    json_array_foreach(e->defaults, i, c)
        if (!cond_get(cur, json_string_value(json_object_get(c, "type"))))
            set_cond(next, c, gen, now);
    return next;
}

store_obj_t *ctl_status_write(apiserver_t *srv, const resource_t *res, const char *ns,
                              const char *name, const json_t *set, const json_t *conds,
                              bool *written, err_t *err)
{
    return ctl_status_write_defaults(srv, res, ns, name, set, conds, NULL, written, err);
}

store_obj_t *ctl_status_write_defaults(apiserver_t *srv, const resource_t *res, const char *ns,
                                       const char *name, const json_t *set, const json_t *conds,
                                       const json_t *defaults, bool *written, err_t *err)
{
    status_edit_t e = {.set = set, .conds = conds, .defaults = defaults};
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    store_obj_t *r = obj_update(srv, res, ns, name, "status", mutate_status, &e, &o, err);
    *written = o.written;
    return r;
}

store_obj_t *ctl_status_update(apiserver_t *srv, const resource_t *res, const char *ns,
                               const char *name, const json_t *set, const json_t *conds,
                               err_t *err)
{
    bool written;
    return ctl_status_write(srv, res, ns, name, set, conds, &written, err);
}

store_obj_t *ctl_status_default(apiserver_t *srv, const resource_t *res, const char *ns,
                                const char *name, const json_t *conds, err_t *err)
{
    bool written;
    return ctl_status_write_defaults(srv, res, ns, name, NULL, NULL, conds, &written, err);
}

typedef struct fin_edit {
    const char *name;
    bool add;
} fin_edit_t;

static json_t *mutate_finalizer(const json_t *cur, void *ctx, err_t *err)
{
    fin_edit_t *f = ctx;
    json_t *next = json_deep_copy(cur);
    if (f->add)
        meta_add_finalizer(next, f->name);
    else
        meta_remove_finalizer(next, f->name);
    return next;
}

int ctl_finalizer(apiserver_t *srv, const resource_t *res, const char *ns, const char *name,
                  const char *finalizer, bool add, err_t *err)
{
    fin_edit_t f = {.name = finalizer, .add = add};
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    store_obj_t *r = obj_update(srv, res, ns, name, NULL, mutate_finalizer, &f, &o, err);
    store_obj_unref(r);
    return r ? 0 : -1;
}

json_t *ctl_cond(const char *type, bool ok, const char *reason, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_pack("{s:s,s:s,s:s,s:s}", "type", type, "status", ok ? "True" : "False",
                     "reason", reason, "message", msg);
}
