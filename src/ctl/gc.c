/*
 * gc: garbage collection by metadata.ownerReferences, as Kubernetes does it.
 *
 *   Background  an object whose owners are all gone is deleted; references
 *               to gone owners are dropped from an object that still has one.
 *   Foreground  an owner marked for deletion with the foregroundDeletion
 *               finalizer has its dependents deleted first; the finalizer
 *               comes off (and the owner goes) when none is left.
 *   Orphan      an owner with the orphan finalizer has its references removed
 *               from its dependents, then the finalizer comes off.
 *
 * State, rebuilt by every resync: uid -> key of every object, and owner uid
 * -> the keys of its dependents.  event() only records what to look at;
 * idle() acts, once per burst of changes.
 */
#include <string.h>

#include "api/objects.h"
#include "ctl/ctl_priv.h"
#include "model/meta.h"
#include "util/jsonutil.h"
#include "util/log.h"

typedef struct gc {
    GHashTable *uid_key;     /* uid -> key (owned strings) */
    GHashTable *dependents;  /* owner uid -> GHashTable set of dependent keys */
    GHashTable *owners_of;   /* dependent key -> GPtrArray of owner uids */
    GHashTable *dirty_deps;  /* keys whose owners to check */
    GHashTable *dirty_owners;/* uids whose dependents to handle */
} gc_t;

static GHashTable *str_set_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static void gc_reset(gc_t *g)
{
    g_hash_table_remove_all(g->uid_key);
    g_hash_table_remove_all(g->dependents);
    g_hash_table_remove_all(g->owners_of);
    g_hash_table_remove_all(g->dirty_deps);
    g_hash_table_remove_all(g->dirty_owners);
}

static void unlink_dependent(gc_t *g, const char *key)
{
    GPtrArray *owners = g_hash_table_lookup(g->owners_of, key);
    for (guint i = 0; owners && i < owners->len; i++) {
        GHashTable *deps = g_hash_table_lookup(g->dependents, owners->pdata[i]);
        if (deps) {
            g_hash_table_remove(deps, key);
            if (g_hash_table_size(deps) == 0)
                g_hash_table_remove(g->dependents, owners->pdata[i]);
        }
        /* An owner waiting for its dependents may now be free to go. */
        g_hash_table_add(g->dirty_owners, g_strdup(owners->pdata[i]));
    }
    g_hash_table_remove(g->owners_of, key);
}

static void link_dependent(gc_t *g, const char *key, const json_t *refs)
{
    GPtrArray *owners = g_ptr_array_new_with_free_func(g_free);
    size_t i;
    json_t *r;

    json_array_foreach(refs, i, r) {
        const char *uid = json_string_value(json_object_get(r, "uid"));
        GHashTable *deps;
        if (!uid)
            continue;
        g_ptr_array_add(owners, g_strdup(uid));
        deps = g_hash_table_lookup(g->dependents, uid);
        if (!deps) {
            deps = str_set_new();
            g_hash_table_insert(g->dependents, g_strdup(uid), deps);
        }
        g_hash_table_add(deps, g_strdup(key));
    }
    g_hash_table_insert(g->owners_of, g_strdup(key), owners);
    g_hash_table_add(g->dirty_deps, g_strdup(key));
}

/* Record one object's current state (gone: it was deleted).  Most objects
 * neither have owners nor are being deleted; those are not parsed. */
static void gc_observe(gc_t *g, const store_obj_t *o, bool gone)
{
    json_t *j;

    if (!o->uid)
        return;
    if (g_hash_table_contains(g->owners_of, o->key))
        unlink_dependent(g, o->key);
    if (gone) {
        g_hash_table_remove(g->uid_key, o->uid);
        if (g_hash_table_contains(g->dependents, o->uid))
            g_hash_table_add(g->dirty_owners, g_strdup(o->uid));
        return;
    }
    g_hash_table_insert(g->uid_key, g_strdup(o->uid), g_strdup(o->key));
    if (o->flags & STORE_OBJ_OWNED) {
        j = store_obj_parse(o);
        link_dependent(g, o->key, json_path_get(j, "metadata.ownerReferences"));
        json_decref(j);
    }
    if (o->flags & STORE_OBJ_DELETING)
        g_hash_table_add(g->dirty_owners, g_strdup(o->uid));
}

static void gc_resync(ctl_t *c)
{
    gc_t *g = c->state;
    GPtrArray *all = store_list(c->srv->store, "", NULL, 0, NULL, NULL);
    gc_reset(g);
    for (guint i = 0; i < all->len; i++)
        gc_observe(g, all->pdata[i], false);
    g_ptr_array_unref(all);
}

static void gc_event(ctl_t *c, const store_event_t *ev)
{
    gc_observe(c->state, ev->obj, ev->type == STORE_EV_DELETED);
}

/* Delete the object at `key` with the given propagation policy. */
static void gc_delete(ctl_t *c, const char *key, const char *policy)
{
    char *ns = NULL, *name = NULL;
    const resource_t *res = registry_find_by_key(c->srv->reg, key, &ns, &name);
    obj_opts_t o = {.propagation = policy};
    err_t err = ERR_INIT;

    if (res) {
        store_obj_t *r = obj_delete(c->srv, res, ns, name, &o, &err);
        if (!r && err.code != ERR_NOT_FOUND)
            log_warn("gc: cannot delete %s: %s", key, err.msg);
        else if (r)
            log_debug("gc: deleted %s (%s)", key, policy);
        store_obj_unref(r);
    }
    err_clear(&err);
    g_free(ns);
    g_free(name);
}

typedef struct refs_edit {
    gc_t *g;
    const char *drop_uid; /* drop this owner; NULL: drop every owner that is gone */
} refs_edit_t;

static json_t *mutate_refs(const json_t *cur, void *ctx, err_t *err)
{
    refs_edit_t *e = ctx;
    json_t *next = json_deep_copy(cur);
    json_t *refs = json_path_get(next, "metadata.ownerReferences");
    for (size_t i = json_array_size(refs); i-- > 0;) {
        const char *uid = json_string_value(json_object_get(json_array_get(refs, i), "uid"));
        bool drop = e->drop_uid ? g_strcmp0(uid, e->drop_uid) == 0
                                : !uid || !g_hash_table_contains(e->g->uid_key, uid);
        if (drop)
            json_array_remove(refs, i);
    }
    if (refs && json_array_size(refs) == 0)
        json_object_del(json_object_get(next, "metadata"), "ownerReferences");
    return next;
}

static void gc_update(ctl_t *c, const char *key, obj_mutate_fn fn, void *ctx)
{
    char *ns = NULL, *name = NULL;
    const resource_t *res = registry_find_by_key(c->srv->reg, key, &ns, &name);
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    err_t err = ERR_INIT;

    if (res) {
        store_obj_t *r = obj_update(c->srv, res, ns, name, NULL, fn, ctx, &o, &err);
        if (!r && err.code != ERR_NOT_FOUND)
            log_warn("gc: cannot update %s: %s", key, err.msg);
        store_obj_unref(r);
    }
    err_clear(&err);
    g_free(ns);
    g_free(name);
}

/* A dependent: deleted when all its owners are gone, references to gone
 * owners dropped when some remain. */
static void gc_check_dependent(ctl_t *c, const char *key)
{
    gc_t *g = c->state;
    GPtrArray *owners = g_hash_table_lookup(g->owners_of, key);
    guint alive = 0;

    if (!owners || owners->len == 0)
        return;
    for (guint i = 0; i < owners->len; i++)
        if (g_hash_table_contains(g->uid_key, owners->pdata[i]))
            alive++;
    if (alive == owners->len)
        return;
    if (alive == 0) {
        gc_delete(c, key, "Background");
    } else {
        refs_edit_t e = {.g = g};
        gc_update(c, key, mutate_refs, &e);
    }
}

static json_t *mutate_unfinalize(const json_t *cur, void *ctx, err_t *err)
{
    json_t *next = json_deep_copy(cur);
    meta_remove_finalizer(next, ctx);
    return next;
}

/* An owner: gone, or being deleted in the foreground or with orphaning. */
static void gc_check_owner(ctl_t *c, const char *uid)
{
    gc_t *g = c->state;
    const char *key = g_hash_table_lookup(g->uid_key, uid);
    GHashTable *deps = g_hash_table_lookup(g->dependents, uid);
    GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
    store_obj_t *o = NULL;
    json_t *j = NULL;
    GHashTableIter it;
    gpointer k;

    if (deps) {
        g_hash_table_iter_init(&it, deps);
        while (g_hash_table_iter_next(&it, &k, NULL))
            g_ptr_array_add(keys, g_strdup(k));
    }
    if (!key) {
        /* Gone: its dependents are checked (they may have other owners). */
        for (guint i = 0; i < keys->len; i++)
            gc_check_dependent(c, keys->pdata[i]);
        goto out;
    }
    o = store_get(c->srv->store, key);
    j = o ? store_obj_parse(o) : NULL;
    if (!j || !json_path_get(j, "metadata.deletionTimestamp"))
        goto out;
    if (meta_has_finalizer(j, "orphan")) {
        refs_edit_t e = {.g = g, .drop_uid = uid};
        for (guint i = 0; i < keys->len; i++)
            gc_update(c, keys->pdata[i], mutate_refs, &e);
        gc_update(c, key, mutate_unfinalize, (void *)"orphan");
    } else if (meta_has_finalizer(j, "foregroundDeletion")) {
        for (guint i = 0; i < keys->len; i++)
            gc_delete(c, keys->pdata[i], "Foreground");
        if (keys->len == 0)
            gc_update(c, key, mutate_unfinalize, (void *)"foregroundDeletion");
    }
out:
    json_decref(j);
    store_obj_unref(o);
    g_ptr_array_unref(keys);
}

static void gc_idle(ctl_t *c)
{
    gc_t *g = c->state;
    GPtrArray *deps = ctl_take_keys(g->dirty_deps);
    GPtrArray *owners = ctl_take_keys(g->dirty_owners);
    for (guint i = 0; i < deps->len; i++)
        gc_check_dependent(c, deps->pdata[i]);
    for (guint i = 0; i < owners->len; i++)
        gc_check_owner(c, owners->pdata[i]);
    g_ptr_array_unref(deps);
    g_ptr_array_unref(owners);
}

static void gc_free(ctl_t *c)
{
    gc_t *g = c->state;
    g_hash_table_unref(g->uid_key);
    g_hash_table_unref(g->dependents);
    g_hash_table_unref(g->owners_of);
    g_hash_table_unref(g->dirty_deps);
    g_hash_table_unref(g->dirty_owners);
    g_free(g);
}

static const ctl_ops_t gc_ops = {
    .name = "gc",
    .prefix = "",
    .resync = gc_resync,
    .event = gc_event,
    .idle = gc_idle,
    .free = gc_free,
    .resync_ms = 5 * 60 * 1000,
};

ctl_t *ctl_gc_start(apiserver_t *srv)
{
    gc_t *g = g_new0(gc_t, 1);
    g->uid_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g->dependents = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify)g_hash_table_unref);
    g->owners_of = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)g_ptr_array_unref);
    g->dirty_deps = str_set_new();
    g->dirty_owners = str_set_new();
    return ctl_start(srv, &gc_ops, g);
}
