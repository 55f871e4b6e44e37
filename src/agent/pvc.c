/*
 * pvc: PersistentVolumeClaims in the storage pools of this host.  A claim
 * gets the protection finalizer, then a qcow2 disk of its requested size in
 * the pool of its StorageClass (or of the default one), thin or thick as the
 * class says, and phase Bound.  A deleted claim keeps its disk while a VM in
 * its namespace still lists it among spec.volumes (an Event says so); then
 * the disk is removed and the claim goes.
 */
#include <string.h>

#include "agent/agent_priv.h"
#include "agent/disk.h"
#include "api/objects.h"
#include "ctl/refs.h"
#include "model/meta.h"
#include "model/quantity.h"
#include "util/fs.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define PVC_PREFIX "core/persistentvolumeclaims/"
#define DEFAULT_SC_ANNOTATION "storageclass.kubernetes.io/is-default-class"

typedef struct pvcctl {
    agent_t *a;
    const resource_t *res;
    GHashTable *dirty;
} pvcctl_t;

/* The claim's StorageClass name: its own, else the default class. */
static char *pvc_class_name(agent_t *a, const json_t *pvc)
{
    const char *sc = json_path_str(pvc, "spec.storageClassName");
    GPtrArray *all;
    char *found = NULL;

    if (sc && *sc)
        return g_strdup(sc);
    all = store_list(a->srv->store, "storage.k8s.io/storageclasses/", NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len && !found; i++) {
        json_t *j = store_obj_parse(all->pdata[i]);
        if (!g_strcmp0(json_string_value(json_object_get(
                           json_path_get(j, "metadata.annotations"), DEFAULT_SC_ANNOTATION)),
                       "true"))
            found = g_strdup(json_path_str(j, "metadata.name"));
        json_decref(j);
    }
    g_ptr_array_unref(all);
    return found;
}

static char *pvc_path(agent_t *a, const char *sc, const json_t *pvc)
{
    char *file = g_strconcat("pvc-", json_path_str(pvc, "metadata.uid"), ".qcow2", NULL);
    char *p = g_build_filename(a->data_dir, "storage", sc, file, NULL);
    g_free(file);
    return p;
}

char *pvc_disk_path(agent_t *a, const json_t *pvc)
{
    char *sc, *p;
    if (g_strcmp0(json_path_str(pvc, "status.phase"), "Bound") != 0)
        return NULL;
    if (!(sc = pvc_class_name(a, pvc)))
        return NULL;
    p = pvc_path(a, sc, pvc);
    g_free(sc);
    return p;
}

/* Whether a VM in the claim's namespace lists it among its volumes. */
static const char *pvc_user(agent_t *a, const json_t *pvc, json_t **holder)
{
    const char *ns = json_path_str(pvc, "metadata.namespace");
    const char *name = json_path_str(pvc, "metadata.name");
    char *prefix = g_strconcat(a->vm_res->key_prefix, ns, "/", NULL);
    GPtrArray *vms = store_list(a->srv->store, prefix, NULL, 0, NULL, NULL);
    const char *user = NULL;

    *holder = NULL;
    for (guint i = 0; i < vms->len && !user; i++) {
        json_t *vm = store_obj_parse(vms->pdata[i]), *v;
        size_t k;
        json_array_foreach(json_path_get(vm, "spec.volumes"), k, v)
            if (!g_strcmp0(json_path_str(v, "persistentVolumeClaim.claimName"), name))
                user = json_path_str(vm, "metadata.name");
        if (user)
            *holder = vm;
        else
            json_decref(vm);
    }
    g_ptr_array_unref(vms);
    g_free(prefix);
    return user;
}

static void pvc_process(pvcctl_t *p, const char *key)
{
    agent_t *a = p->a;
    store_obj_t *o = store_get(a->srv->store, key);
    json_t *pvc, *holder = NULL, *sc = NULL, *set;
    const char *ns, *name;
    char *scname = NULL, *path = NULL;
    err_t err = ERR_INIT;
    int64_t size = 0;

    if (!o)
        return;
    pvc = store_obj_parse(o);
    store_obj_unref(o);
    ns = json_path_str(pvc, "metadata.namespace");
    name = json_path_str(pvc, "metadata.name");
    scname = pvc_class_name(a, pvc);

    if (json_path_get(pvc, "metadata.deletionTimestamp")) {
        const char *user;
        if (!meta_has_finalizer(pvc, PVC_FINALIZER))
            goto out;
        if ((user = pvc_user(a, pvc, &holder))) {
            event_record(a->ev, pvc, "Warning", "InUse",
                         "The claim is kept while VirtualMachine %s uses it.", user);
            goto out;
        }
        if (scname) {
            path = pvc_path(a, scname, pvc);
            if (disk_remove(path, &err) < 0) {
                event_record(a->ev, pvc, "Warning", "DeleteFailed", "%s", err.msg);
                goto out;
            }
        }
        if (ctl_finalizer(a->srv, p->res, ns, name, PVC_FINALIZER, false, &err) < 0 &&
            err.code != ERR_NOT_FOUND)
            log_warn("pvc: %s: %s", key, err.msg);
        goto out;
    }
    if (!meta_has_finalizer(pvc, PVC_FINALIZER)) {
        if (ctl_finalizer(a->srv, p->res, ns, name, PVC_FINALIZER, true, &err) < 0)
            log_warn("pvc: %s: %s", key, err.msg);
        goto out;
    }
    if (!g_strcmp0(json_path_str(pvc, "status.phase"), "Bound"))
        goto out;
    sc = scname ? refs_storage_class(a->srv, scname) : NULL;
    if (!sc) {
        event_record(a->ev, pvc, "Warning", "ProvisioningFailed",
                     scname ? "StorageClass %s does not exist." : "The claim names no storage "
                     "class and there is no default one%s.", scname ?: "");
        set = json_pack("{s:s}", "phase", "Pending");
        store_obj_unref(ctl_status_update(a->srv, p->res, ns, name, set, NULL, &err));
        json_decref(set);
        goto out;
    }
    if (quantity_parse(json_path_get(pvc, "spec.resources.requests.storage"), 1, &size, &err) < 0 ||
        size <= 0) {
        event_record(a->ev, pvc, "Warning", "ProvisioningFailed",
                     "spec.resources.requests.storage must be a size above zero.");
        goto out;
    }
    {
        char *pool = g_build_filename(a->data_dir, "storage", scname, NULL);
        path = pvc_path(a, scname, pvc);
        if (fs_mkdir_p(pool, 0700, &err) < 0 ||
            disk_create(path, size,
                        !g_strcmp0(json_path_str(sc, "parameters.provisioning"), "thick"),
                        &err) < 0) {
            event_record(a->ev, pvc, "Warning", "ProvisioningFailed", "%s", err.msg);
            g_free(pool);
            goto out;
        }
        g_free(pool);
    }
    set = json_pack("{s:s,s:{s:O},s:O}", "phase", "Bound", "capacity", "storage",
                    json_path_get(pvc, "spec.resources.requests.storage"), "accessModes",
                    json_path_get(pvc, "spec.accessModes") ?: json_pack("[s]", "ReadWriteOnce"));
    store_obj_t *r = ctl_status_update(a->srv, p->res, ns, name, set, NULL, &err);
    json_decref(set);
    if (r) {
        event_record(a->ev, pvc, "Normal", "ProvisioningSucceeded",
                     "Provisioned a disk in storage class %s.", scname);
        store_obj_unref(r);
    }
out:
    if (err_is_set(&err) && err.code != ERR_NOT_FOUND)
        log_warn("pvc: %s: %s", key, err.msg);
    err_clear(&err);
    json_decref(holder);
    json_decref(sc);
    json_decref(pvc);
    g_free(scname);
    g_free(path);
}

static void pvc_event(ctl_t *c, const store_event_t *ev)
{
    pvcctl_t *p = c->state;
    if (g_str_has_prefix(ev->obj->key, PVC_PREFIX) && ev->type != STORE_EV_DELETED)
        g_hash_table_add(p->dirty, g_strdup(ev->obj->key));
}

static void pvc_resync(ctl_t *c)
{
    pvcctl_t *p = c->state;
    GPtrArray *all = store_list(c->srv->store, PVC_PREFIX, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++)
        g_hash_table_add(p->dirty, g_strdup(((store_obj_t *)all->pdata[i])->key));
    g_ptr_array_unref(all);
}

static void pvc_idle(ctl_t *c)
{
    pvcctl_t *p = c->state;
    GPtrArray *keys = ctl_take_keys(p->dirty);
    for (guint i = 0; i < keys->len; i++)
        pvc_process(p, keys->pdata[i]);
    g_ptr_array_unref(keys);
}

static void pvc_free(ctl_t *c)
{
    pvcctl_t *p = c->state;
    g_hash_table_unref(p->dirty);
    g_free(p);
}

static const ctl_ops_t pvc_ops = {
    .name = "agent-pvc",
    .prefix = PVC_PREFIX,
    .resync = pvc_resync,
    .event = pvc_event,
    .idle = pvc_idle,
    .free = pvc_free,
    .resync_ms = 5000, /* claims held by a VM are looked at again */
};

ctl_t *pvc_start(agent_t *a)
{
    pvcctl_t *p = g_new0(pvcctl_t, 1);
    p->a = a;
    p->res = registry_find(a->srv->reg, "", "v1", "persistentvolumeclaims");
    p->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return ctl_start(a->srv, &pvc_ops, p);
}
