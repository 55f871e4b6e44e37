/*
 * vm: the VirtualMachine controller.  For each VM it adds the finalizer
 * that lets the agent clean up, resolves the class, image and storage class
 * (a false condition with a reason and a Warning event for each one
 * missing; the VM is looked at again when such objects appear), and places
 * it on a Node: in the zone its topology.kubernetes.io/zone label names, if
 * any, and only where the node's allocatable capacity still covers the
 * class's reservations (requests); otherwise the VM waits, and its
 * VirtualMachinePlacementReady condition says why.  Placement writes
 * status.host, zone, uniqueID, biosUUID, instanceUUID, class and image;
 * from there the agent on that host takes over.  A new VM's first status
 * waits until its network is decided, and carries the network's first
 * VirtualMachineNetworkReady when that is True (see net.h), so that a new
 * VM costs one status write here, not one per controller.
 *
 * event() notes what to look at; idle() does the work once per burst:
 * each VM's conditions and placement are decided on this one thread (a
 * placement reserves its room at once, so two VMs never take the same
 * room), then the status writes and events of the burst go to the store
 * from a pool of threads, so that they share its commits.
 */
#include <string.h>

#include "agent/agent.h"
#include "api/events.h"
#include "api/objects.h"
#include "ctl/burst.h"
#include "ctl/ctl_priv.h"
#include "ctl/net.h"
#include "ctl/netrefs.h"
#include "ctl/refs.h"
#include "model/conditions.h"
#include "model/meta.h"
#include "model/quantity.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define VM_PREFIX "vmoperator.vmware.com/virtualmachines/"
#define ZONE_LABEL "topology.kubernetes.io/zone"

typedef struct placed {
    char *node;
    int64_t cpu_milli, mem;
} placed_t;

typedef struct vmctl {
    event_recorder_t *ev;
    const resource_t *vm_res;
    ctl_keys_t *dirty;    /* VM keys to look at, oldest first */
    GHashTable *pending;  /* VM keys not placed yet */
    GHashTable *placed;   /* VM key -> placed_t*: what placed VMs reserve */
    burst_t *writes;      /* status writes of a burst, in parallel */
} vmctl_t;

/* What one VM's look decided, for a writer to store. */
typedef struct vm_job {
    ctl_t *c;
    char *key;
    const json_t *vm;     /* as read; shared: read only */
    json_t *set, *conds;  /* the status to write */
    json_t *defaults;     /* conditions to write only where absent */
    char *node;           /* placed on this node now, or NULL */
    store_obj_t *result;  /* the VM as written, or NULL */
    err_t err;
} vm_job_t;

#define VM_WRITERS 16
#define VM_BURST_MAX 128 /* VMs decided before their writes are waited for */

static void placed_free(placed_t *p)
{
    g_free(p->node);
    g_free(p);
}

/* The reservation of a class: its requests. */
static void class_requests(const json_t *cls, int64_t *cpu, int64_t *mem)
{
    const json_t *req = json_path_get(cls, "spec.policies.resources.requests");
    err_t err = ERR_INIT;
    *cpu = *mem = 0;
    if (json_object_get(req, "cpu") && quantity_parse(json_object_get(req, "cpu"), 1000, cpu, &err) < 0)
        *cpu = 0;
    if (json_object_get(req, "memory") &&
        quantity_parse(json_object_get(req, "memory"), 1, mem, &err) < 0)
        *mem = 0;
    err_clear(&err);
}

static void note_placed(ctl_t *c, const char *key, const json_t *vm)
{
    vmctl_t *v = c->state;
    const char *host = json_path_str(vm, "status.host");
    placed_t *p;
    json_t *cls;

    if (!host || json_path_get(vm, "metadata.deletionTimestamp")) {
        g_hash_table_remove(v->placed, key);
        return;
    }
    p = g_hash_table_lookup(v->placed, key);
    if (p && !strcmp(p->node, host))
        return;
    p = g_new0(placed_t, 1);
    p->node = g_strdup(host);
    cls = refs_class(c->srv, json_path_str(vm, "metadata.namespace"),
                     json_path_str(vm, "spec.className"));
    class_requests(cls, &p->cpu_milli, &p->mem);
    json_decref(cls);
    g_hash_table_insert(v->placed, g_strdup(key), p);
}

static void retry_pending(vmctl_t *v)
{
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, v->pending);
    while (g_hash_table_iter_next(&it, &k, NULL))
        ctl_keys_add(v->dirty, k);
}

static void vm_event(ctl_t *c, const store_event_t *ev)
{
    vmctl_t *v = c->state;
    const char *key = ev->obj->key;

    if (g_str_has_prefix(key, VM_PREFIX)) {
        if (ev->type == STORE_EV_DELETED) {
            g_hash_table_remove(v->pending, key);
            if (g_hash_table_remove(v->placed, key))
                retry_pending(v); /* room was freed */
            return;
        }
        /* Status written since this controller looked at this spec (its
         * own, the network's, the agent's): nothing here to decide again. */
        if (ctl_status_only(ev, "VirtualMachineClassReady"))
            return;
        ctl_keys_add(v->dirty, key);
        return;
    }
    /* A VM's interface was made: a new VM may have its network now. */
    if (ev->type == STORE_EV_ADDED && g_str_has_prefix(key, NETREFS_NETIF_PREFIX)) {
        const char *vm = json_string_value(json_object_get(ev->obj->labels, NETREFS_VM_LABEL));
        const char *ns = key + strlen(NETREFS_NETIF_PREFIX), *slash = strchr(ns, '/');
        if (vm && slash) {
            char *vns = g_strndup(ns, (gsize)(slash - ns)), *vk = meta_key(v->vm_res, vns, vm);
            ctl_keys_add(v->dirty, vk);
            g_free(vk);
            g_free(vns);
        }
        return;
    }
    /* A class, image, storage class or node changed: waiting VMs may go on. */
    if (g_str_has_prefix(key, "vmoperator.vmware.com/virtualmachineclasses/") ||
        g_str_has_prefix(key, "vmoperator.vmware.com/virtualmachineimages/") ||
        g_str_has_prefix(key, "vmoperator.vmware.com/clustervirtualmachineimages/") ||
        g_str_has_prefix(key, "storage.k8s.io/storageclasses/") ||
        g_str_has_prefix(key, "core/nodes/"))
        retry_pending(v);
}

static void vm_resync(ctl_t *c)
{
    vmctl_t *v = c->state;
    GPtrArray *all = store_list(c->srv->store, VM_PREFIX, NULL, 0, NULL, NULL);
    g_hash_table_remove_all(v->placed);
    for (guint i = 0; i < all->len; i++) {
        store_obj_t *o = all->pdata[i];
        json_t *vm = store_obj_json(o); /* shared: read only */
        note_placed(c, o->key, vm);
        json_decref(vm);
        ctl_keys_add(v->dirty, o->key);
    }
    g_ptr_array_unref(all);
}

/* Free room on a node: allocatable minus what placed VMs reserve. */
static void node_free(ctl_t *c, const json_t *node, int64_t *cpu, int64_t *mem)
{
    vmctl_t *v = c->state;
    const char *name = json_path_str(node, "metadata.name");
    GHashTableIter it;
    gpointer val;
    err_t err = ERR_INIT;

    *cpu = *mem = 0;
    if (quantity_parse(json_path_get(node, "status.allocatable.cpu"), 1000, cpu, &err) < 0 ||
        quantity_parse(json_path_get(node, "status.allocatable.memory"), 1, mem, &err) < 0) {
        err_clear(&err);
        *cpu = *mem = 0;
        return;
    }
    g_hash_table_iter_init(&it, v->placed);
    while (g_hash_table_iter_next(&it, NULL, &val)) {
        placed_t *p = val;
        if (!strcmp(p->node, name)) {
            *cpu -= p->cpu_milli;
            *mem -= p->mem;
        }
    }
}

/* Choose a node for a VM: ready, in the wanted zone, with room.  Returns
 * the node (new reference) or NULL with a reason and message. */
static json_t *place(ctl_t *c, const json_t *vm, const json_t *cls, const char **reason,
                     char *msg, size_t n)
{
    const char *zone;
    GPtrArray *nodes = store_list(c->srv->store, "core/nodes/", NULL, 0, NULL, NULL);
    int64_t want_cpu, want_mem, best_mem = -1;
    json_t *best = NULL;
    int in_zone = 0;

    /* A label key holds dots: it cannot be read with a dotted path. */
    zone = json_string_value(json_object_get(json_path_get(vm, "metadata.labels"), ZONE_LABEL));
    class_requests(cls, &want_cpu, &want_mem);
    for (guint i = 0; i < nodes->len; i++) {
        json_t *node = store_obj_json(nodes->pdata[i]); /* shared: read only */
        json_t *ready = NULL;
        const char *nz = json_string_value(
            json_object_get(json_path_get(node, "metadata.labels"), ZONE_LABEL));
        int64_t fc, fm;
        size_t k;
        json_t *cnd;

        json_array_foreach(json_path_get(node, "status.conditions"), k, cnd)
            if (!g_strcmp0(json_string_value(json_object_get(cnd, "type")), "Ready"))
                ready = cnd;
        if (zone && g_strcmp0(zone, nz) != 0) {
            json_decref(node);
            continue;
        }
        in_zone++;
        node_free(c, node, &fc, &fm);
        if (g_strcmp0(json_string_value(json_object_get(ready, "status")), "True") != 0 ||
            fc < want_cpu || fm < want_mem) {
            json_decref(node);
            continue;
        }
        if (fm > best_mem) {
            json_decref(best);
            best = node;
            best_mem = fm;
        } else {
            json_decref(node);
        }
    }
    g_ptr_array_unref(nodes);
    if (best)
        return best;
    if (in_zone == 0) {
        *reason = zone ? "ZoneNotFound" : "NoHosts";
        snprintf(msg, n, zone ? "No host is in zone %s." : "No host is registered.", zone);
    } else {
        *reason = "InsufficientCapacity";
        snprintf(msg, n,
                 "No host%s%s has room for the reservation of class %s (%lld mCPU, %lld MiB); "
                 "the VM waits until there is.",
                 zone ? " in zone " : "", zone ? zone : "",
                 json_path_str(cls, "metadata.name"), (long long)want_cpu,
                 (long long)(want_mem >> 20));
    }
    return NULL;
}

static json_t *ref_of(const json_t *obj)
{
    return json_pack("{s:s,s:s,s:s}", "apiVersion",
                     json_string_value(json_object_get(obj, "apiVersion")) ?: "", "kind",
                     json_string_value(json_object_get(obj, "kind")) ?: "", "name",
                     json_path_str(obj, "metadata.name") ?: "");
}

/* Record a Warning when a condition turns false (or changes its reason). */
static void warn_on_change(vmctl_t *v, const json_t *vm, const json_t *cond)
{
    const char *type = json_string_value(json_object_get(cond, "type"));
    const char *reason = json_string_value(json_object_get(cond, "reason"));
    json_t *old = cond_get(vm, type);
    if (!strcmp(json_string_value(json_object_get(cond, "status")), "True"))
        return;
    if (old && !g_strcmp0(json_string_value(json_object_get(old, "status")), "False") &&
        !g_strcmp0(json_string_value(json_object_get(old, "reason")), reason))
        return;
    event_record(v->ev, vm, "Warning", reason, "%s",
                 json_string_value(json_object_get(cond, "message")));
}

static void vm_job_free(vm_job_t *j)
{
    g_free(j->key);
    json_decref((json_t *)j->vm);
    json_decref(j->set);
    json_decref(j->conds);
    json_decref(j->defaults);
    g_free(j->node);
    store_obj_unref(j->result);
    err_clear(&j->err);
    g_free(j);
}

/* Look at one VM: its references and, when all are there and it has no
 * host yet, a node with room, which is reserved at once.  Returns the
 * status to write, or NULL when there is none (gone, being deleted, just
 * given its finalizer, or new and its network still undecided). */
static vm_job_t *vm_decide(ctl_t *c, const char *key)
{
    vmctl_t *v = c->state;
    store_obj_t *o = store_get(c->srv->store, key);
    const json_t *vm;
    json_t *cls = NULL, *img = NULL, *sc = NULL, *conds, *set, *node = NULL, *cnd, *netc = NULL;
    const char *ns, *name, *cname, *iname, *scname;
    err_t err = ERR_INIT;
    vm_job_t *j = NULL;
    size_t i;

    if (!o) {
        g_hash_table_remove(v->pending, key);
        return NULL;
    }
    vm = store_obj_json(o); /* shared: read only */
    store_obj_unref(o);
    note_placed(c, key, vm);
    ns = json_path_str(vm, "metadata.namespace");
    name = json_path_str(vm, "metadata.name");
    if (json_path_get(vm, "metadata.deletionTimestamp")) {
        g_hash_table_remove(v->pending, key);
        /* Never placed: nothing on any host to clean up. */
        if (!json_path_str(vm, "status.host") && meta_has_finalizer(vm, AGENT_FINALIZER) &&
            ctl_finalizer(c->srv, v->vm_res, ns, name, AGENT_FINALIZER, false, &err) < 0)
            log_warn("vm: %s: %s", key, err.msg);
        goto out;
    }
    if (!meta_has_finalizer(vm, AGENT_FINALIZER)) {
        if (ctl_finalizer(c->srv, v->vm_res, ns, name, AGENT_FINALIZER, true, &err) < 0 &&
            err.code != ERR_NOT_FOUND)
            log_warn("vm: %s: %s", key, err.msg);
        goto out; /* the update brings us back */
    }

    /* A new VM's first status goes out once its network is decided, with
     * the network's first condition when that is True (see net.h). */
    if (!cond_get(vm, NET_READY_COND) && !(netc = net_ready_first(c->srv, vm)))
        goto out;

    conds = json_array();
    set = json_object();
    cname = json_path_str(vm, "spec.className");
    iname = json_path_str(vm, "spec.imageName");
    scname = json_path_str(vm, "spec.storageClass");
    cls = refs_class(c->srv, ns, cname);
    img = refs_image(c->srv, ns, iname);
    sc = scname ? refs_storage_class(c->srv, scname) : NULL;
    json_array_append_new(conds, cls ? ctl_cond("VirtualMachineClassReady", true, "Found", "%s", "")
                                     : ctl_cond("VirtualMachineClassReady", false, "NotFound",
                                                "VirtualMachineClass %s is not in namespace %s "
                                                "nor in " REFS_SHARED_NS ".", cname ?: "", ns));
    if (!img)
        json_array_append_new(conds, ctl_cond("VirtualMachineImageReady", false, "NotFound",
                                              "No VirtualMachineImage %s in namespace %s and no "
                                              "ClusterVirtualMachineImage of that name.",
                                              iname ?: "", ns));
    else if (!json_path_str(img, "status.providerItemID"))
        json_array_append_new(conds, ctl_cond("VirtualMachineImageReady", false, "NotReady",
                                              "Image %s has no disk yet.", iname));
    else
        json_array_append_new(conds, ctl_cond("VirtualMachineImageReady", true, "Found", "%s", ""));
    json_array_append_new(conds, sc ? ctl_cond("VirtualMachineStorageReady", true, "Found", "%s", "")
                                    : ctl_cond("VirtualMachineStorageReady", false, "NotFound",
                                               scname ? "StorageClass %s does not exist."
                                                      : "The VM names no storage class%s.",
                                               scname ?: ""));

    j = g_new0(vm_job_t, 1);
    j->c = c;
    j->key = g_strdup(key);
    j->err = (err_t)ERR_INIT;
    if (!json_path_str(vm, "status.host")) {
        bool ready = true;
        json_array_foreach(conds, i, cnd)
            ready &= !strcmp(json_string_value(json_object_get(cnd, "status")), "True");
        if (ready) {
            const char *reason = NULL;
            char msg[512];
            node = place(c, vm, cls, &reason, msg, sizeof(msg));
            if (node) {
                const char *nz = json_string_value(
                    json_object_get(json_path_get(node, "metadata.labels"), ZONE_LABEL));
                char *dom = g_strconcat("vmsvc-", json_path_str(vm, "metadata.uid"), NULL);
                char *bios = json_path_str(vm, "status.biosUUID") ? NULL : meta_uid_new();
                char *inst = json_path_str(vm, "status.instanceUUID") ? NULL : meta_uid_new();
                placed_t *p = g_new0(placed_t, 1);

                j->node = g_strdup(json_path_str(node, "metadata.name"));
                json_object_set_new(set, "host", json_string(j->node));
                if (nz)
                    json_object_set_new(set, "zone", json_string(nz));
                json_object_set_new(set, "uniqueID", json_string(dom));
                if (bios)
                    json_object_set_new(set, "biosUUID", json_string(bios));
                if (inst)
                    json_object_set_new(set, "instanceUUID", json_string(inst));
                json_array_append_new(conds, ctl_cond("VirtualMachinePlacementReady", true,
                                                      "Placed", "Placed on host %s.", j->node));
                /* Reserve now: the next VM of this burst must not get this room. */
                p->node = g_strdup(j->node);
                class_requests(cls, &p->cpu_milli, &p->mem);
                g_hash_table_insert(v->placed, g_strdup(key), p);
                g_free(dom);
                g_free(bios);
                g_free(inst);
            } else {
                json_array_append_new(conds, ctl_cond("VirtualMachinePlacementReady", false,
                                                      reason, "%s", msg));
            }
        }
    }
    if (cls)
        json_object_set_new(set, "class", ref_of(cls));
    if (img)
        json_object_set_new(set, "image", ref_of(img));
    j->vm = json_incref((json_t *)vm);
    j->set = set;
    j->conds = conds;
    if (netc) {
        j->defaults = json_array();
        json_array_append(j->defaults, netc);
    }
out:
    json_decref(netc);
    err_clear(&err);
    json_decref(node);
    json_decref(cls);
    json_decref(img);
    json_decref(sc);
    json_decref((json_t *)vm);
    return j;
}

/* Store what vm_decide decided, with its events. */
static void vm_write(vm_job_t *j)
{
    vmctl_t *v = j->c->state;
    json_t *cnd;
    size_t i;

    json_array_foreach(j->conds, i, cnd)
        warn_on_change(v, j->vm, cnd);
    bool written;
    j->result = ctl_status_write_defaults(j->c->srv, v->vm_res,
                                          json_path_str(j->vm, "metadata.namespace"),
                                          json_path_str(j->vm, "metadata.name"), j->set, j->conds,
                                          j->defaults, &written, &j->err);
    if (!j->result && j->err.code != ERR_NOT_FOUND)
        log_warn("vm: cannot update the status of %s: %s", j->key, j->err.msg);
    if (j->result && j->node) {
        json_t *now = store_obj_json(j->result); /* shared: read only */
        event_record(v->ev, now, "Normal", "Placed", "Placed on host %s.", j->node);
        json_decref(now);
    }
}

/* A writer thread's task. */
static void vm_write_item(void *job)
{
    vm_write(job);
}

/* Back on the controller thread: what the write left.  A placement was
 * reserved when it was decided, and a host never changes once given. */
static void vm_finish(ctl_t *c, vm_job_t *j)
{
    vmctl_t *v = c->state;

    if (!j->result) {
        /* Not written (the VM changed or went): its reservation follows
         * what is stored, and the change that raced brings it back. */
        g_hash_table_remove(v->placed, j->key);
        return;
    }
    if (j->node || json_path_str(j->vm, "status.host"))
        g_hash_table_remove(v->pending, j->key);
    else
        g_hash_table_add(v->pending, g_strdup(j->key));
}

/* One burst of VMs: each decided here, then their writes in parallel.  A
 * burst at a time, so that what waits to be written stays bounded and the
 * events of a large backlog are read between bursts (ctl_more). */
static void vm_idle(ctl_t *c)
{
    vmctl_t *v = c->state;
    GPtrArray *keys = ctl_keys_take(v->dirty, VM_BURST_MAX);
    GPtrArray *jobs = g_ptr_array_new_with_free_func((GDestroyNotify)vm_job_free);

    for (guint i = 0; i < keys->len; i++) {
        vm_job_t *j = vm_decide(c, keys->pdata[i]);
        if (j)
            g_ptr_array_add(jobs, j);
    }
    burst_run(v->writes, jobs);
    for (guint i = 0; i < jobs->len; i++)
        vm_finish(c, jobs->pdata[i]);
    g_ptr_array_unref(jobs);
    g_ptr_array_unref(keys);
    /* Placing may have freed or taken room and made more keys dirty. */
    if (ctl_keys_len(v->dirty) > 0)
        ctl_more(c);
}

static void vm_free(ctl_t *c)
{
    vmctl_t *v = c->state;
    burst_free(v->writes);
    event_recorder_free(v->ev);
    ctl_keys_free(v->dirty);
    g_hash_table_unref(v->pending);
    g_hash_table_unref(v->placed);
    g_free(v);
}

static const ctl_ops_t vm_ops = {
    .name = "vm",
    .prefix = "",
    .resync = vm_resync,
    .event = vm_event,
    .idle = vm_idle,
    .free = vm_free,
    .resync_ms = 60 * 1000,
};

ctl_t *ctl_vm_start(apiserver_t *srv)
{
    vmctl_t *v = g_new0(vmctl_t, 1);
    v->ev = event_recorder_new(srv, "vmsvc-controller");
    v->vm_res = registry_find(srv->reg, "vmoperator.vmware.com", "v1alpha2", "virtualmachines");
    v->dirty = ctl_keys_new();
    v->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    v->placed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)placed_free);
    v->writes = burst_new(VM_WRITERS, vm_write_item);
    return ctl_start(srv, &vm_ops, v);
}
