/*
 * ctl: the controller loop: a full resync, then the event log from the
 * revision the resync saw; a watch that falls behind the log starts over
 * with a resync, so no change is ever missed.
 */
#include "ctl/ctl_priv.h"

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
                if (c->ops->idle)
                    c->ops->idle(c);
                pending = false;
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
