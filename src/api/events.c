/* events: see events.h. */
#include "api/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/objects.h"
#include "model/meta.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define EVENT_CACHE_MAX 4096

typedef struct seen {
    char *ns;
    char *name;   /* the Event's name */
    gint64 last;  /* monotonic seconds */
} seen_t;

struct event_recorder {
    apiserver_t *srv;
    char *component;
    const resource_t *res;
    GMutex lock;
    GHashTable *seen; /* "uid\nreason\nmessage" -> seen_t* */
};

static void seen_free(seen_t *s)
{
    g_free(s->ns);
    g_free(s->name);
    g_free(s);
}

event_recorder_t *event_recorder_new(apiserver_t *srv, const char *component)
{
    event_recorder_t *r = g_new0(event_recorder_t, 1);
    r->srv = srv;
    r->component = g_strdup(component);
    r->res = registry_find(srv->reg, "", "v1", "events");
    g_mutex_init(&r->lock);
    r->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)seen_free);
    return r;
}

void event_recorder_free(event_recorder_t *r)
{
    if (!r)
        return;
    g_hash_table_unref(r->seen);
    g_mutex_clear(&r->lock);
    g_free(r->component);
    g_free(r);
}

typedef struct bump {
    const char *now;
} bump_t;

static json_t *mutate_bump(const json_t *cur, void *ctx, err_t *err)
{
    bump_t *b = ctx;
    json_t *next = json_deep_copy(cur);
    json_int_t count = json_integer_value(json_object_get(next, "count"));
    json_object_set_new(next, "count", json_integer(count > 0 ? count + 1 : 2));
    json_object_set_new(next, "lastTimestamp", json_string(b->now));
    return next;
}

void event_record(event_recorder_t *r, const json_t *obj, const char *type, const char *reason,
                  const char *fmt, ...)
{
    char msg[1024], now[32], suffix[24];
    const char *uid = json_path_str(obj, "metadata.uid");
    const char *name = json_path_str(obj, "metadata.name");
    const char *ns = json_path_str(obj, "metadata.namespace");
    const char *evns = ns ? ns : "default";
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    err_t err = ERR_INIT;
    char *key, *evname;
    seen_t *s;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!name || !r->res)
        return;
    meta_now(now, sizeof(now));
    key = g_strdup_printf("%s\n%s\n%s", uid ? uid : name, reason, msg);

    g_mutex_lock(&r->lock);
    s = g_hash_table_lookup(r->seen, key);
    if (s && g_get_monotonic_time() / G_USEC_PER_SEC - s->last < EVENT_AGGREGATE_S) {
        char *ens = g_strdup(s->ns), *ename = g_strdup(s->name);
        bump_t b = {.now = now};
        store_obj_t *res;
        s->last = g_get_monotonic_time() / G_USEC_PER_SEC;
        g_mutex_unlock(&r->lock);
        res = obj_update(r->srv, r->res, ens, ename, NULL, mutate_bump, &b, &o, &err);
        g_free(ens);
        g_free(ename);
        if (res) {
            store_obj_unref(res);
            g_free(key);
            return;
        }
        err_clear(&err); /* gone meanwhile: make a new one */
        g_mutex_lock(&r->lock);
    }
    if (g_hash_table_size(r->seen) >= EVENT_CACHE_MAX)
        g_hash_table_remove_all(r->seen);
    g_mutex_unlock(&r->lock);

    snprintf(suffix, sizeof(suffix), ".%" G_GINT64_MODIFIER "x", g_get_real_time() * 1000 +
             g_random_int_range(0, 1000));
    evname = g_strdup_printf("%.*s%s", (int)(253 - strlen(suffix)), name, suffix);
    json_t *ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},"
                           "s:s,s:s,s:i,s:s,s:s}",
                           "apiVersion", "v1", "kind", "Event", "metadata", "name", evname,
                           "namespace", evns, "involvedObject", "apiVersion",
                           json_string_value(json_object_get(obj, "apiVersion")) ?: "",
                           "kind", json_string_value(json_object_get(obj, "kind")) ?: "",
                           "name", name, "namespace", ns ? ns : "", "reason", reason,
                           "message", msg, "type", type, "source", "component", r->component,
                           "firstTimestamp", now, "lastTimestamp", now, "count", 1,
                           "reportingComponent", r->component, "reportingInstance",
                           r->component);
    if (uid)
        json_object_set_new(json_object_get(ev, "involvedObject"), "uid", json_string(uid));
    if (!ns)
        json_object_del(json_object_get(ev, "involvedObject"), "namespace");
    store_obj_t *res = obj_create(r->srv, r->res, evns, ev, &o, &err);
    if (!res) {
        if (err.code != ERR_NOT_FOUND && err.code != ERR_FORBIDDEN)
            log_warn("events: cannot record %s for %s: %s", reason, name, err.msg);
    } else {
        g_mutex_lock(&r->lock);
        s = g_new0(seen_t, 1);
        s->ns = g_strdup(evns);
        s->name = g_strdup(evname);
        s->last = g_get_monotonic_time() / G_USEC_PER_SEC;
        g_hash_table_insert(r->seen, key, s);
        key = NULL;
        g_mutex_unlock(&r->lock);
        store_obj_unref(res);
    }
    err_clear(&err);
    g_free(evname);
    g_free(key);
}
