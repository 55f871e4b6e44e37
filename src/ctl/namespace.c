/*
 * namespace: empties a namespace that is being deleted, then removes it.
 *
 * A namespace marked for deletion (phase Terminating) has every object in it
 * deleted (objects with finalizers wait for their controllers); when nothing
 * is left, the "kubernetes" entry leaves spec.finalizers and, with no
 * metadata.finalizers either, the namespace itself goes.  event() notes which
 * namespaces to look at; idle() does the work once per burst of changes.
 */
#include <string.h>

#include "api/objects.h"
#include "ctl/ctl_priv.h"
#include "model/meta.h"
#include "util/jsonutil.h"
#include "util/log.h"

typedef struct nsctl {
    GHashTable *terminating; /* names of namespaces being deleted */
    GHashTable *dirty;       /* names to look at in idle() */
} nsctl_t;

static void ns_note(nsctl_t *n, const store_obj_t *o, bool gone)
{
    const char *name = o->key + strlen("core/namespaces/");
    json_t *j;

    if (gone) {
        g_hash_table_remove(n->terminating, name);
        return;
    }
    j = ctl_parse_if(o, "\"deletionTimestamp\"");
    if (j && json_path_get(j, "metadata.deletionTimestamp")) {
        g_hash_table_add(n->terminating, g_strdup(name));
        g_hash_table_add(n->dirty, g_strdup(name));
    }
    json_decref(j);
}

static void ns_resync(ctl_t *c)
{
    nsctl_t *n = c->state;
    GPtrArray *all = store_list(c->srv->store, "core/namespaces/", NULL, 0, NULL, NULL);
    g_hash_table_remove_all(n->terminating);
    for (guint i = 0; i < all->len; i++)
        ns_note(n, all->pdata[i], false);
    g_ptr_array_unref(all);
}

static void ns_event(ctl_t *c, const store_event_t *ev)
{
    nsctl_t *n = c->state;
    char *ns = NULL, *name = NULL;
    const resource_t *res;

    if (g_str_has_prefix(ev->obj->key, "core/namespaces/")) {
        ns_note(n, ev->obj, ev->type == STORE_EV_DELETED);
        return;
    }
    if (g_hash_table_size(n->terminating) == 0 || ev->type != STORE_EV_DELETED)
        return;
    /* Something went away: its namespace may now be empty. */
    res = registry_find_by_key(c->srv->reg, ev->obj->key, &ns, &name);
    if (res && ns && g_hash_table_contains(n->terminating, ns))
        g_hash_table_add(n->dirty, g_strdup(ns));
    g_free(ns);
    g_free(name);
}

/* Delete what is in namespace `ns`; returns how many objects remain. */
static size_t ns_empty(ctl_t *c, const char *ns)
{
    const registry_t *reg = c->srv->reg;
    size_t left = 0;

    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        char *prefix;
        GPtrArray *objs;
        if (!r->namespaced || !r->storage)
            continue;
        prefix = g_strconcat(r->key_prefix, ns, "/", NULL);
        objs = store_list(c->srv->store, prefix, NULL, 0, NULL, NULL);
        for (guint k = 0; k < objs->len; k++) {
            store_obj_t *o = objs->pdata[k];
            obj_opts_t opts = {.propagation = "Background"};
            err_t err = ERR_INIT;
            store_obj_t *res = obj_delete(c->srv, r, ns, o->key + strlen(prefix), &opts, &err);
            if (!res && err.code != ERR_NOT_FOUND)
                log_warn("namespace %s: cannot delete %s: %s", ns, o->key, err.msg);
            store_obj_unref(res);
            err_clear(&err);
        }
        g_ptr_array_unref(objs);
        left += store_count(c->srv->store, prefix);
        g_free(prefix);
    }
    return left;
}

static json_t *mutate_finalize(const json_t *cur, void *ctx, err_t *err)
{
    json_t *next = json_deep_copy(cur);
    json_t *fin = json_path_get(next, "spec.finalizers");
    for (size_t i = json_array_size(fin); i-- > 0;)
        if (g_strcmp0(json_string_value(json_array_get(fin, i)), "kubernetes") == 0)
            json_array_remove(fin, i);
    return next;
}

static void ns_finish(ctl_t *c, const char *ns)
{
    const resource_t *res = registry_find(c->srv->reg, "", "v1", "namespaces");
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    err_t err = ERR_INIT;
    store_obj_t *cur = obj_update(c->srv, res, NULL, ns, NULL, mutate_finalize, NULL, &o, &err);
    json_t *j = cur ? store_obj_parse(cur) : NULL;

    if (j && json_array_size(json_path_get(j, "spec.finalizers")) == 0 &&
        json_array_size(json_path_get(j, "metadata.finalizers")) == 0) {
        store_obj_t *gone = store_write(c->srv->store, STORE_DELETE, cur->key,
                                        json_incref(j), cur->rv, &err);
        if (gone)
            log_info("namespace %s: deleted", ns);
        store_obj_unref(gone);
    }
    if (err_is_set(&err) && err.code != ERR_NOT_FOUND && err.code != ERR_CONFLICT)
        log_warn("namespace %s: cannot finish deletion: %s", ns, err.msg);
    json_decref(j);
    store_obj_unref(cur);
    err_clear(&err);
}

static void ns_idle(ctl_t *c)
{
    nsctl_t *n = c->state;
    GPtrArray *todo = ctl_take_keys(n->dirty);

    for (guint i = 0; i < todo->len; i++) {
        const char *ns = todo->pdata[i];
        if (g_hash_table_contains(n->terminating, ns) && ns_empty(c, ns) == 0)
            ns_finish(c, ns);
    }
    g_ptr_array_unref(todo);
}

static void ns_free(ctl_t *c)
{
    nsctl_t *n = c->state;
    g_hash_table_unref(n->terminating);
    g_hash_table_unref(n->dirty);
    g_free(n);
}

static const ctl_ops_t ns_ops = {
    .name = "namespace",
    .prefix = "",
    .resync = ns_resync,
    .event = ns_event,
    .idle = ns_idle,
    .free = ns_free,
    .resync_ms = 30 * 1000,
};

ctl_t *ctl_namespace_start(apiserver_t *srv)
{
    nsctl_t *n = g_new0(nsctl_t, 1);
    n->terminating = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    n->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return ctl_start(srv, &ns_ops, n);
}
