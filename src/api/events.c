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
#define EVENT_QUEUE_MAX 8192   /* events waiting to be stored; more are dropped */
#define EVENT_WRITERS 8        /* writes in parallel, sharing the store's commits */
#define EVENT_MESSAGE_MAX 1023

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
    GThreadPool *writers;
    gint queued;      /* events recorded and not yet stored */
};

static void seen_free(seen_t *s)
{
    g_free(s->ns);
    g_free(s->name);
    g_free(s);
}

static void event_task(gpointer data, gpointer user);

event_recorder_t *event_recorder_new(apiserver_t *srv, const char *component)
{
    event_recorder_t *r = g_new0(event_recorder_t, 1);
    r->srv = srv;
    r->component = g_strdup(component);
    r->res = registry_find(srv->reg, "", "v1", "events");
    g_mutex_init(&r->lock);
    r->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)seen_free);
    r->writers = g_thread_pool_new(event_task, r, EVENT_WRITERS, FALSE, NULL);
    return r;
}

void event_recorder_free(event_recorder_t *r)
{
    if (!r)
        return;
    g_thread_pool_free(r->writers, FALSE, TRUE); /* stores what is queued */
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

/* One event to store: everything taken from the caller at record time. */
typedef struct event_job {
    char *type, *reason, *msg, *now;
    char *api_version, *kind, *name, *ns, *uid;
} event_job_t;

static void event_job_free(event_job_t *j)
{
    g_free(j->type);
    g_free(j->reason);
    g_free(j->msg);
    g_free(j->now);
    g_free(j->api_version);
    g_free(j->kind);
    g_free(j->name);
    g_free(j->ns);
    g_free(j->uid);
    g_free(j);
}

/* Store one event: bump the count of the same one seen lately, else make
 * a new Event. */
static void event_store(event_recorder_t *r, const event_job_t *j)
{
    const char *evns = j->ns ? j->ns : "default";
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    err_t err = ERR_INIT;
    char *key, *evname, suffix[24];
    seen_t *s;

    key = g_strdup_printf("%s\n%s\n%s", j->uid ? j->uid : j->name, j->reason, j->msg);
    g_mutex_lock(&r->lock);
    s = g_hash_table_lookup(r->seen, key);
    if (s && g_get_monotonic_time() / G_USEC_PER_SEC - s->last < EVENT_AGGREGATE_S) {
        char *ens = g_strdup(s->ns), *ename = g_strdup(s->name);
        bump_t b = {.now = j->now};
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
    evname = g_strdup_printf("%.*s%s", (int)(253 - strlen(suffix)), j->name, suffix);
    json_t *ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},"
                           "s:s,s:s,s:i,s:s,s:s}",
                           "apiVersion", "v1", "kind", "Event", "metadata", "name", evname,
                           "namespace", evns, "involvedObject", "apiVersion",
                           j->api_version ? j->api_version : "", "kind", j->kind ? j->kind : "",
                           "name", j->name, "namespace", j->ns ? j->ns : "", "reason", j->reason,
                           "message", j->msg, "type", j->type, "source", "component",
                           r->component, "firstTimestamp", j->now, "lastTimestamp", j->now,
                           "count", 1, "reportingComponent", r->component, "reportingInstance",
                           r->component);
    if (j->uid)
        json_object_set_new(json_object_get(ev, "involvedObject"), "uid", json_string(j->uid));
    if (!j->ns)
        json_object_del(json_object_get(ev, "involvedObject"), "namespace");
    store_obj_t *res = obj_create(r->srv, r->res, evns, ev, &o, &err);
    if (!res) {
        if (err.code != ERR_NOT_FOUND && err.code != ERR_FORBIDDEN)
            log_warn("events: cannot record %s for %s: %s", j->reason, j->name, err.msg);
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

/* A writer thread's task. */
static void event_task(gpointer data, gpointer user)
{
    event_recorder_t *r = user;
    event_store(r, data);
    event_job_free(data);
    g_atomic_int_dec_and_test(&r->queued);
}

void event_record(event_recorder_t *r, const json_t *obj, const char *type, const char *reason,
                  const char *fmt, ...)
{
    const char *name = json_path_str(obj, "metadata.name");
    char now[32];
    event_job_t *j;
    va_list ap;

    if (!name || !r->res)
        return;
    if (g_atomic_int_get(&r->queued) >= EVENT_QUEUE_MAX) {
        log_warn("events: %d events wait to be stored; dropping %s for %s", EVENT_QUEUE_MAX,
                 reason, name);
        return;
    }
    meta_now(now, sizeof(now));
    j = g_new0(event_job_t, 1);
    va_start(ap, fmt);
    j->msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (strlen(j->msg) > EVENT_MESSAGE_MAX)
        j->msg[EVENT_MESSAGE_MAX] = '\0';
    j->type = g_strdup(type);
    j->reason = g_strdup(reason);
    j->now = g_strdup(now);
    j->api_version = g_strdup(json_string_value(json_object_get(obj, "apiVersion")));
    j->kind = g_strdup(json_string_value(json_object_get(obj, "kind")));
    j->name = g_strdup(name);
    j->ns = g_strdup(json_path_str(obj, "metadata.namespace"));
    j->uid = g_strdup(json_path_str(obj, "metadata.uid"));
    g_atomic_int_inc(&r->queued);
    g_thread_pool_push(r->writers, j, NULL);
}
