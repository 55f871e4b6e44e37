/*
 * netif: the network provider's controller: Networks, their address pools,
 * and one NetworkInterface per VM interface holding its allocation.
 *
 * For each VM it makes sure every interface the VM asks for
 * (netcfg_interfaces) has a NetworkInterface "<vm>-<interface>", owned by
 * the VM (so garbage collection deletes it with the VM), labelled with the
 * VM's name, annotated with the Network's namespace/name, and created with
 * its allocation already in status: ipConfigs (ip, ipFamily, subnetMask,
 * gateway), macAddress, networkID (the Network's uid) and a Ready
 * condition.  It then sets the VM's VirtualMachineNetworkReady condition,
 * which the agent waits for before it builds the domain; a new VM's first
 * True it leaves to the VM controller, to go out in one write with that
 * controller's conditions (see net_ready_first in net.h).
 *
 * The allocator.  Every decision (which address, which MAC) is taken here,
 * on this controller's one thread, against an in-memory pool per Network
 * (model/ipam.h) and a set of MACs; the decision becomes real only when the
 * NetworkInterface that records it is committed to the store (one create:
 * the kind has no status subresource).  A crash before the commit loses
 * the decision, never the record; after a restart the resync rebuilds every
 * pool from the NetworkInterfaces that exist.  So an address is never held
 * twice, and is held exactly as long as its NetworkInterface exists: when
 * the VM goes, garbage collection deletes the interface and its delete
 * event frees the address.
 *
 * Addresses the VM's spec names (the first IPv4 one of an interface) are
 * reserved if free; a taken one, one outside the subnet, a full pool, a
 * missing or deleted Network each leave the VM with a false
 * VirtualMachineNetworkReady condition that says so, and a Warning event.
 * Such a VM is kept in a waiting set and looked at again whenever an
 * address is given back.
 * Networks carry the finalizer NETREFS_FINALIZER: a Network being deleted
 * takes no new interfaces and goes once the last one that uses it is gone.
 *
 * A burst of VMs is handled in three steps, so that their writes share the
 * store's commits instead of queueing one behind another: each VM's
 * interfaces are decided on this thread (addresses and MACs taken from
 * the pools at once, and listed as in flight so that a pool rebuilt
 * meanwhile keeps them); a pool of threads then creates the
 * NetworkInterfaces and writes each VM's condition; back on this thread,
 * what was created is recorded and what was not is given back.
 */
#include <string.h>

#include "api/events.h"
#include "api/objects.h"
#include "ctl/net.h"
#include "ctl/burst.h"
#include "ctl/ctl_priv.h"
#include "ctl/netrefs.h"
#include "ctl/refs.h"
#include "model/conditions.h"
#include "model/ipam.h"
#include "model/meta.h"
#include "model/netcfg.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define VM_PREFIX "vmoperator.vmware.com/virtualmachines/"
#define NET_COND NET_READY_COND
#define NET_MSG_READY "Every interface has its allocation."
#define NET_MSG_NONE "The VM has no network interfaces."

typedef struct pool_rec {
    char *uid, *ns, *name;
    ipam_pool_t *pool;   /* NULL when the spec is not usable */
    char *invalid;       /* why not, or NULL */
    ipnet_t subnet;
    ipaddr_t gateway;
    bool deleting;
    json_int_t generation;
    char *last_event;    /* reason of the last event about the pool */
} pool_rec_t;

typedef struct alloc {
    char *uid;   /* network */
    char *ip;    /* NULL: no address (DHCP) */
    char *mac;
    char *vm_key;
} alloc_t;

/* One NetworkInterface decided on the controller thread, for a writer to
 * create. */
typedef struct nif_make {
    char *ifname, *name;
    char *pool_uid;
    json_t *obj;         /* the NetworkInterface, its allocation in status */
    bool have_ip;
    ipaddr_t ip;         /* taken from the pool of pool_uid while in flight */
    char *mac;           /* in the controller's inflight_macs while in flight */
    char *key;           /* its store key once created */
    err_t err;           /* why the create failed */
} nif_make_t;

typedef struct netifctl {
    event_recorder_t *ev;
    const resource_t *vm_res, *netif_res, *net_res;
    GHashTable *pools;      /* network uid -> pool_rec_t */
    GHashTable *allocs;     /* netif key -> alloc_t */
    GHashTable *macs;       /* mac -> netif key (borrowed from allocs) */
    ctl_keys_t *dirty_vms;  /* VM keys, oldest first */
    GHashTable *dirty_nets; /* network uids */
    GHashTable *waiting;    /* VM keys whose interfaces are not all allocated */
    GPtrArray *inflight;    /* nif_make_t of this burst, not yet recorded (borrowed) */
    GHashTable *inflight_macs; /* their MACs (borrowed) */
    burst_t *writes;        /* the writes of a burst, in parallel */
} netifctl_t;

#define NETIF_WRITERS 16
#define NETIF_BURST_MAX 128 /* VMs decided before their writes are waited for */

static void pool_rec_free(pool_rec_t *p)
{
    g_free(p->uid);
    g_free(p->ns);
    g_free(p->name);
    ipam_pool_free(p->pool);
    g_free(p->invalid);
    g_free(p->last_event);
    g_free(p);
}

static void alloc_free(alloc_t *a)
{
    g_free(a->uid);
    g_free(a->ip);
    g_free(a->mac);
    g_free(a->vm_key);
    g_free(a);
}

/* ---- pools ---------------------------------------------------------------- */

static ipam_pool_t *pool_from_spec(const json_t *net, ipnet_t *subnet, ipaddr_t *gw, err_t *err)
{
    const json_t *ranges = json_path_get(net, "spec.ipRanges"), *r;
    iprange_t *rs = g_new0(iprange_t, json_array_size(ranges) + 1);
    ipam_pool_t *p = NULL;
    size_t i, n = 0;

    if (ipnet_parse(json_path_str(net, "spec.gateway4"), subnet, "spec.gateway4", err) < 0)
        goto out;
    if (subnet->addr.family != AF_INET) {
        err_set(err, ERR_INVALID, "spec.gateway4 must be an IPv4 address.");
        goto out;
    }
    *gw = subnet->addr;
    json_array_foreach(ranges, i, r) {
        char f[48];
        snprintf(f, sizeof(f), "spec.ipRanges[%zu]", i);
        if (iprange_parse(json_string_value(r), &rs[n++], f, err) < 0)
            goto out;
    }
    p = ipam_pool_new(subnet, gw, rs, n, err);
out:
    g_free(rs);
    return p;
}

/* (Re)build the pool of a Network from its spec and the allocations made
 * from it. */
static pool_rec_t *pool_load(netifctl_t *n, const json_t *net)
{
    const char *uid = json_path_str(net, "metadata.uid");
    pool_rec_t *p = g_hash_table_lookup(n->pools, uid);
    json_int_t gen = json_integer_value(json_path_get(net, "metadata.generation"));
    err_t err = ERR_INIT;
    GHashTableIter it;
    gpointer k, v;

    if (p && p->generation == gen) {
        p->deleting = json_path_get(net, "metadata.deletionTimestamp") != NULL;
        return p;
    }
    if (!p) {
        p = g_new0(pool_rec_t, 1);
        p->uid = g_strdup(uid);
        g_hash_table_insert(n->pools, p->uid, p);
    }
    g_free(p->ns);
    g_free(p->name);
    p->ns = g_strdup(json_path_str(net, "metadata.namespace"));
    p->name = g_strdup(json_path_str(net, "metadata.name"));
    p->generation = gen;
    p->deleting = json_path_get(net, "metadata.deletionTimestamp") != NULL;
    ipam_pool_free(p->pool);
    g_clear_pointer(&p->invalid, g_free);
    p->pool = pool_from_spec(net, &p->subnet, &p->gateway, &err);
    if (!p->pool) {
        p->invalid = g_strdup(err.msg);
        err_clear(&err);
        return p;
    }
    g_hash_table_iter_init(&it, n->allocs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        alloc_t *a = v;
        ipaddr_t ip;
        if (!a->ip || strcmp(a->uid, uid) != 0 || ipaddr_parse(a->ip, &ip, "ip", &err) < 0) {
            err_clear(&err);
            continue;
        }
        if (ipam_reserve(p->pool, &ip, &err) < 0) {
            /* The spec changed under an allocation: it stays, outside the pool's count. */
            log_warn("netif: %s keeps %s: %s", (char *)k, a->ip, err.msg);
            err_clear(&err);
        }
    }
    /* Addresses decided in this burst and not yet recorded stay taken. */
    for (guint i = 0; i < n->inflight->len; i++) {
        nif_make_t *m = n->inflight->pdata[i];
        if (m->have_ip && !strcmp(m->pool_uid, uid) && ipam_reserve(p->pool, &m->ip, &err) < 0) {
            log_warn("netif: %s keeps its address: %s", m->name, err.msg);
            err_clear(&err);
        }
    }
    return p;
}

/* Record an allocation seen in the store (resync, or made by another writer). */
static void note_netif(netifctl_t *n, const char *key, const json_t *nif)
{
    const char *uid = json_path_str(nif, "status.networkID");
    const char *ip = json_string_value(
        json_object_get(json_array_get(json_path_get(nif, "status.ipConfigs"), 0), "ip"));
    const char *mac = json_path_str(nif, "status.macAddress");
    const char *vm = json_string_value(
        json_object_get(json_path_get(nif, "metadata.labels"), NETREFS_VM_LABEL));
    pool_rec_t *p;
    alloc_t *a;
    err_t err = ERR_INIT;

    if (!uid || g_hash_table_contains(n->allocs, key))
        return;
    a = g_new0(alloc_t, 1);
    a->uid = g_strdup(uid);
    a->ip = g_strdup(ip);
    a->mac = g_ascii_strdown(mac ? mac : "", -1);
    if (vm)
        a->vm_key = g_strconcat(VM_PREFIX, json_path_str(nif, "metadata.namespace"), "/", vm, NULL);
    g_hash_table_insert(n->allocs, g_strdup(key), a);
    if (*a->mac && !g_hash_table_contains(n->macs, a->mac))
        g_hash_table_insert(n->macs, a->mac, a);
    if (ip && (p = g_hash_table_lookup(n->pools, uid)) && p->pool) {
        ipaddr_t addr;
        if (ipaddr_parse(ip, &addr, "ip", &err) < 0 || ipam_reserve(p->pool, &addr, &err) < 0)
            log_error("netif: %s holds %s, which the pool of network %s/%s refuses: %s", key, ip,
                      p->ns, p->name, err.msg);
        err_clear(&err);
    }
}

static void forget_netif(netifctl_t *n, const char *key)
{
    alloc_t *a = g_hash_table_lookup(n->allocs, key);
    pool_rec_t *p;

    if (!a)
        return;
    if (a->ip && (p = g_hash_table_lookup(n->pools, a->uid)) && p->pool) {
        ipaddr_t addr;
        err_t err = ERR_INIT;
        if (ipaddr_parse(a->ip, &addr, "ip", &err) == 0)
            ipam_release(p->pool, &addr);
        err_clear(&err);
    }
    if (g_hash_table_lookup(n->macs, a->mac) == a)
        g_hash_table_remove(n->macs, a->mac);
    g_hash_table_add(n->dirty_nets, g_strdup(a->uid));
    if (a->vm_key)
        ctl_keys_add(n->dirty_vms, a->vm_key);
    g_hash_table_remove(n->allocs, key);
    /* A freed address may be what a waiting VM needs. */
    {
        GHashTableIter it;
        gpointer k;
        g_hash_table_iter_init(&it, n->waiting);
        while (g_hash_table_iter_next(&it, &k, NULL))
            ctl_keys_add(n->dirty_vms, k);
    }
}

static guint allocs_of(netifctl_t *n, const char *uid)
{
    GHashTableIter it;
    gpointer v;
    guint c = 0;
    g_hash_table_iter_init(&it, n->allocs);
    while (g_hash_table_iter_next(&it, NULL, &v))
        c += !strcmp(((alloc_t *)v)->uid, uid);
    return c;
}

/* ---- events ------------------------------------------------------------------ */

static void dirty_all_vms(ctl_t *c)
{
    netifctl_t *n = c->state;
    GPtrArray *all = store_list(c->srv->store, VM_PREFIX, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++)
        ctl_keys_add(n->dirty_vms, ((store_obj_t *)all->pdata[i])->key);
    g_ptr_array_unref(all);
}

static void netif_resync(ctl_t *c)
{
    netifctl_t *n = c->state;
    GPtrArray *all;

    g_hash_table_remove_all(n->macs);
    g_hash_table_remove_all(n->allocs);
    g_hash_table_remove_all(n->pools);
    all = store_list(c->srv->store, NETREFS_NETWORK_PREFIX, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++) {
        json_t *net = store_obj_parse(all->pdata[i]);
        pool_rec_t *p = pool_load(n, net);
        g_hash_table_add(n->dirty_nets, g_strdup(p->uid));
        json_decref(net);
    }
    g_ptr_array_unref(all);
    all = store_list(c->srv->store, NETREFS_NETIF_PREFIX, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++) {
        store_obj_t *o = all->pdata[i];
        json_t *nif = store_obj_parse(o);
        note_netif(n, o->key, nif);
        json_decref(nif);
    }
    g_ptr_array_unref(all);
    dirty_all_vms(c);
}

static void netif_event(ctl_t *c, const store_event_t *ev)
{
    netifctl_t *n = c->state;
    const char *key = ev->obj->key;

    if (g_str_has_prefix(key, VM_PREFIX)) {
        /* Status written since this VM's condition was (the VM
         * controller's, the agent's, its own): its interfaces are as they
         * were. */
        if (ctl_status_only(ev, NET_COND))
            return;
        if (ev->type != STORE_EV_DELETED)
            ctl_keys_add(n->dirty_vms, key);
        else
            g_hash_table_remove(n->waiting, key);
    } else if (g_str_has_prefix(key, NETREFS_NETIF_PREFIX)) {
        json_t *nif = store_obj_parse(ev->obj);
        if (ev->type == STORE_EV_DELETED) {
            forget_netif(n, key);
        } else {
            note_netif(n, key, nif);
        }
        json_decref(nif);
    } else if (g_str_has_prefix(key, NETREFS_NETWORK_PREFIX)) {
        json_t *net = store_obj_parse(ev->obj);
        const char *uid = json_path_str(net, "metadata.uid");
        if (ev->type == STORE_EV_DELETED) {
            if (uid)
                g_hash_table_remove(n->pools, uid);
        } else if (uid) {
            pool_rec_t *p = g_hash_table_lookup(n->pools, uid);
            json_int_t gen = json_integer_value(json_path_get(net, "metadata.generation"));
            bool deleting = json_path_get(net, "metadata.deletionTimestamp") != NULL;
            bool changed = !p || p->generation != gen || p->deleting != deleting;
            pool_load(n, net);
            g_hash_table_add(n->dirty_nets, g_strdup(uid));
            if (changed)
                dirty_all_vms(c);
        }
        if (ev->type == STORE_EV_DELETED)
            dirty_all_vms(c);
        json_decref(net);
    }
}

/* ---- one VM ------------------------------------------------------------------ */

static char *mac_new(netifctl_t *n)
{
    for (;;) {
        guint32 r = g_random_int();
        char *mac = g_strdup_printf("52:54:00:%02x:%02x:%02x", (r >> 16) & 0xff, (r >> 8) & 0xff,
                                    r & 0xff);
        if (!g_hash_table_contains(n->macs, mac) && !g_hash_table_contains(n->inflight_macs, mac))
            return mac;
        g_free(mac);
    }
}

typedef struct verdict {
    bool ready;
    char reason[64];
    char msg[1024];
} verdict_t;

static void refuse(verdict_t *v, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(verdict_t *v, const char *reason, const char *fmt, ...)
{
    va_list ap;
    if (!v->ready)
        return; /* the first cause is the one shown */
    v->ready = false;
    g_strlcpy(v->reason, reason, sizeof(v->reason));
    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
    va_end(ap);
}

/* The first IPv4 address of an interface's spec, as ip and prefix. */
static int spec_ipv4(const json_t *iface, ipnet_t *out)
{
    const json_t *a;
    size_t i;
    json_array_foreach(json_object_get(iface, "addresses"), i, a) {
        err_t err = ERR_INIT;
        if (ipnet_parse(json_string_value(a), out, "address", &err) == 0 &&
            out->addr.family == AF_INET)
            return 1;
        err_clear(&err);
    }
    return 0;
}

static void pool_event(netifctl_t *n, pool_rec_t *p, const char *reason, const char *msg)
{
    json_t *net;
    if (!g_strcmp0(p->last_event, reason))
        return;
    g_free(p->last_event);
    p->last_event = g_strdup(reason);
    net = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "netoperator.vmware.com/v1alpha1",
                    "kind", "Network", "metadata", "name", p->name, "namespace", p->ns, "uid",
                    p->uid);
    event_record(n->ev, net, "Warning", reason, "%s", msg);
    json_decref(net);
}

static void nif_make_free(nif_make_t *m)
{
    g_free(m->ifname);
    g_free(m->name);
    g_free(m->pool_uid);
    json_decref(m->obj);
    g_free(m->mac);
    g_free(m->key);
    err_clear(&m->err);
    g_free(m);
}

/* Decide the NetworkInterface of one interface: its address and MAC are
 * taken now, and it is listed in flight.  NULL (and v filled) on refusal. */
static nif_make_t *netif_decide(ctl_t *c, const json_t *vm, const json_t *iface,
                                const char *nif_name, verdict_t *v)
{
    netifctl_t *n = c->state;
    const char *ns = json_path_str(vm, "metadata.namespace");
    const char *vmname = json_path_str(vm, "metadata.name");
    const char *ifname = json_string_value(json_object_get(iface, "name")) ?: "";
    const char *netname = json_path_str(iface, "network.name");
    json_t *net = netrefs_network(c->srv, ns, netname), *obj = NULL;
    pool_rec_t *p;
    ipnet_t want;
    ipaddr_t ip, mask;
    bool have_ip = false;
    char ips[IPADDR_STRLEN], masks[IPADDR_STRLEN], gws[IPADDR_STRLEN], nets[IPNET_STRLEN];
    char *mac = NULL, *ref = NULL;
    err_t err = ERR_INIT;
    nif_make_t *m = NULL;

    if (!net) {
        if (netname && *netname)
            refuse(v, "NetworkNotFound",
                   "Interface %s: Network %s does not exist in namespace %s nor in " REFS_SHARED_NS
                   ".",
                   ifname, netname, ns);
        else
            refuse(v, "NetworkNotFound",
                   "Interface %s: namespace %s has no default network (a Network labelled "
                   NETREFS_DEFAULT_LABEL "=true, or its only Network), and neither has "
                   REFS_SHARED_NS ".",
                   ifname, ns);
        return NULL;
    }
    p = pool_load(n, net);
    if (p->deleting) {
        refuse(v, "NetworkDeleted",
               "Interface %s: Network %s/%s is being deleted; it takes no new interfaces.",
               ifname, p->ns, p->name);
        goto out;
    }
    if (!p->pool) {
        refuse(v, "NetworkNotReady", "Interface %s: Network %s/%s cannot be used: %s", ifname,
               p->ns, p->name, p->invalid);
        goto out;
    }
    if (spec_ipv4(iface, &want)) {
        if (!ipnet_contains(&p->subnet, &want.addr)) {
            refuse(v, "AddressNotInSubnet",
                   "Interface %s: address %s is not in the subnet %s of Network %s/%s.", ifname,
                   ipaddr_format(&want.addr, ips), ipnet_format(&p->subnet, nets), p->ns,
                   p->name);
            goto out;
        }
        if (ipam_reserve(p->pool, &want.addr, &err) < 0) {
            refuse(v, err.code == ERR_ALREADY_EXISTS ? "AddressInUse" : "AddressInvalid",
                   "Interface %s: %s", ifname, err.msg);
            goto out;
        }
        ip = want.addr;
        have_ip = true;
    } else if (!json_is_true(json_object_get(iface, "dhcp4"))) {
        if (ipam_allocate(p->pool, &ip, &err) < 0) {
            refuse(v, "AddressPoolExhausted", "Interface %s: Network %s/%s has no free address: %s",
                   ifname, p->ns, p->name, err.msg);
            pool_event(n, p, "AddressPoolExhausted", err.msg);
            g_hash_table_add(n->dirty_nets, g_strdup(p->uid));
            goto out;
        }
        have_ip = true;
    }
    mac = mac_new(n);
    ref = g_strconcat(p->ns, "/", p->name, NULL);
    obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s},s:{s:s},s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},"
                    "s:{s:s,s:s},s:{s:s,s:s,s:s,s:[]}}",
                    "apiVersion", "netoperator.vmware.com/v1alpha1", "kind", "NetworkInterface",
                    "metadata", "name", nif_name, "namespace", ns, "labels", NETREFS_VM_LABEL,
                    vmname, "annotations", NETREFS_NETWORK_ANN, ref, "ownerReferences",
                    "apiVersion", "vmoperator.vmware.com/v1alpha2", "kind", "VirtualMachine",
                    "name", vmname, "uid", json_path_str(vm, "metadata.uid"), "controller", 1,
                    "blockOwnerDeletion", 1,
                    "spec", "networkName", p->name, "type", "virtio",
                    "status", "macAddress", mac, "networkID", p->uid, "externalID", nif_name,
                    "ipConfigs");
    if (have_ip) {
        ipnet_mask(AF_INET, p->subnet.prefix, &mask);
        json_array_append_new(json_path_get(obj, "status.ipConfigs"),
                              json_pack("{s:s,s:s,s:s,s:s}", "ip", ipaddr_format(&ip, ips),
                                        "ipFamily", "IPv4", "subnetMask",
                                        ipaddr_format(&mask, masks), "gateway",
                                        ipaddr_format(&p->gateway, gws)));
    }
    {
        char now[32];
        meta_now(now, sizeof(now));
        json_object_set_new(json_object_get(obj, "status"), "conditions",
                            json_pack("[{s:s,s:s,s:s,s:s,s:s}]", "type", "Ready", "status", "True",
                                      "reason", "Allocated", "message",
                                      have_ip ? "The address was allocated."
                                              : "No address: the guest uses DHCP.",
                                      "lastTransitionTime", now));
    }
    m = g_new0(nif_make_t, 1);
    m->ifname = g_strdup(ifname);
    m->name = g_strdup(nif_name);
    m->pool_uid = g_strdup(p->uid);
    m->obj = g_steal_pointer(&obj);
    m->have_ip = have_ip;
    if (have_ip)
        m->ip = ip;
    m->mac = g_steal_pointer(&mac);
    g_ptr_array_add(n->inflight, m);
    g_hash_table_add(n->inflight_macs, m->mac);
out:
    err_clear(&err);
    json_decref(obj);
    json_decref(net);
    g_free(mac);
    g_free(ref);
    return m;
}

/* A writer: create a decided NetworkInterface; refusals go to v. */
static void netif_create(ctl_t *c, const char *ns, nif_make_t *m, verdict_t *v)
{
    netifctl_t *n = c->state;
    obj_opts_t o = {.fv = FIELD_VALIDATION_STRICT};
    store_obj_t *r = obj_create(c->srv, n->netif_res, ns, json_incref(m->obj), &o, &m->err);

    if (r) {
        m->key = g_strdup(r->key);
        store_obj_unref(r);
    } else if (m->err.code == ERR_ALREADY_EXISTS) {
        /* Made meanwhile (its event is on the way): look again then. */
        refuse(v, "Pending", "Interface %s: waiting for NetworkInterface %s.", m->ifname, m->name);
    } else {
        refuse(v, "InterfaceCreateFailed", "Interface %s: %s", m->ifname, m->err.msg);
        log_warn("netif: cannot create %s/%s: %s", ns, m->name, m->err.msg);
    }
}

/* Back on the controller thread: record a created NetworkInterface (the
 * record is durable: account for it now, before its event), or give its
 * address back. */
static void netif_finish(netifctl_t *n, nif_make_t *m)
{
    pool_rec_t *p = g_hash_table_lookup(n->pools, m->pool_uid);

    g_ptr_array_remove_fast(n->inflight, m);
    g_hash_table_remove(n->inflight_macs, m->mac);
    if (m->have_ip && p && p->pool)
        ipam_release(p->pool, &m->ip); /* note_netif reserves it again, from the record */
    if (!m->key)
        return;
    note_netif(n, m->key, m->obj);
    g_hash_table_add(n->dirty_nets, g_strdup(m->pool_uid));
    if (p)
        g_clear_pointer(&p->last_event, g_free);
}

/* An existing NetworkInterface: is its network still there? */
static void netif_check(netifctl_t *n, const json_t *nif, const char *ifname, verdict_t *v)
{
    const char *uid = json_path_str(nif, "status.networkID");
    const char *ref = json_string_value(
        json_object_get(json_path_get(nif, "metadata.annotations"), NETREFS_NETWORK_ANN));
    pool_rec_t *p = uid ? g_hash_table_lookup(n->pools, uid) : NULL;

    if (!p)
        refuse(v, "NetworkDeleted",
               "Interface %s: its Network %s was deleted while the interface used it.", ifname,
               ref ? ref : "?");
    else if (p->deleting)
        refuse(v, "NetworkDeleted",
               "Interface %s: its Network %s/%s is being deleted; it goes once no interface "
               "uses it.",
               ifname, p->ns, p->name);
}

static void warn_on_change(netifctl_t *n, const json_t *vm, const verdict_t *v)
{
    json_t *old = cond_get(vm, NET_COND);
    if (v->ready)
        return;
    if (old && !g_strcmp0(json_string_value(json_object_get(old, "status")), "False") &&
        !g_strcmp0(json_string_value(json_object_get(old, "reason")), v->reason))
        return;
    event_record(n->ev, vm, "Warning", v->reason, "%s", v->msg);
}

/* What the look at one VM decided, for a writer to store. */
typedef struct vm_job {
    ctl_t *c;
    char *key;
    const json_t *vm;     /* as read; shared: read only */
    GPtrArray *makes;     /* nif_make_t: interfaces to create */
    GPtrArray *stale;     /* names of interfaces the spec no longer has */
    bool has_ifaces;
    verdict_t v;
} vm_job_t;

static void vm_job_free(vm_job_t *j)
{
    g_free(j->key);
    json_decref((json_t *)j->vm);
    g_ptr_array_unref(j->makes);
    g_ptr_array_unref(j->stale);
    g_free(j);
}

/* On the controller thread: check the VM's interfaces and decide the
 * missing ones.  NULL when there is nothing to do. */
static vm_job_t *vm_decide(ctl_t *c, const char *key)
{
    netifctl_t *n = c->state;
    store_obj_t *o = store_get(c->srv->store, key);
    const json_t *vm;
    json_t *ifaces, *have, *iface, *nif;
    const char *ns, *name, *k;
    vm_job_t *j;
    size_t i;

    if (!o)
        return NULL;
    vm = store_obj_json(o); /* shared: read only */
    store_obj_unref(o);
    if (json_path_get(vm, "metadata.deletionTimestamp")) {
        g_hash_table_remove(n->waiting, key);
        json_decref((json_t *)vm);
        return NULL;
    }
    j = g_new0(vm_job_t, 1);
    j->c = c;
    j->key = g_strdup(key);
    j->vm = vm;
    j->makes = g_ptr_array_new_with_free_func((GDestroyNotify)nif_make_free);
    j->stale = g_ptr_array_new_with_free_func(g_free);
    j->v.ready = true;
    ns = json_path_str(vm, "metadata.namespace");
    name = json_path_str(vm, "metadata.name");
    ifaces = netcfg_interfaces(vm);
    have = netrefs_netifs_of(c->srv, ns, name);
    j->has_ifaces = json_array_size(ifaces) > 0;
    json_array_foreach(ifaces, i, iface) {
        const char *ifname = json_string_value(json_object_get(iface, "name")) ?: "";
        char *nif_name = netcfg_netif_name(name, ifname);
        nif_make_t *m;
        if ((nif = json_object_get(have, nif_name))) {
            netif_check(n, nif, ifname, &j->v);
            json_object_del(have, nif_name);
        } else if ((m = netif_decide(c, vm, iface, nif_name, &j->v))) {
            g_ptr_array_add(j->makes, m);
        }
        g_free(nif_name);
    }
    json_object_foreach(have, k, nif)
        g_ptr_array_add(j->stale, g_strdup(k));
    json_decref(have);
    json_decref(ifaces);
    return j;
}

/* A writer: create the decided interfaces, delete the stale ones and write
 * the VM's condition.  Touches no state of the controller's but the
 * recorder's. */
static void vm_write(vm_job_t *j)
{
    ctl_t *c = j->c;
    netifctl_t *n = c->state;
    const char *ns = json_path_str(j->vm, "metadata.namespace");
    const char *name = json_path_str(j->vm, "metadata.name");
    err_t err = ERR_INIT;
    json_t *conds;

    for (guint i = 0; i < j->makes->len; i++)
        netif_create(c, ns, j->makes->pdata[i], &j->v);
    for (guint i = 0; i < j->stale->len; i++) {
        obj_opts_t od = {.fv = FIELD_VALIDATION_IGNORE};
        const char *k = j->stale->pdata[i];
        store_obj_t *r = obj_delete(c->srv, n->netif_res, ns, k, &od, &err);
        if (!r && err.code != ERR_NOT_FOUND)
            log_warn("netif: cannot delete %s/%s: %s", ns, k, err.msg);
        store_obj_unref(r);
        err_clear(&err);
    }
    warn_on_change(n, j->vm, &j->v);
    /* The VM controller writes this first True (see net_ready_first). */
    if (j->v.ready && !cond_get(j->vm, NET_COND) && (j->makes->len > 0 || !j->has_ifaces))
        return;
    conds = json_array();
    json_array_append_new(conds, j->v.ready ? ctl_cond(NET_COND, true, "Ready", "%s",
                                                       j->has_ifaces ? NET_MSG_READY
                                                                     : NET_MSG_NONE)
                                            : ctl_cond(NET_COND, false, j->v.reason, "%s",
                                                       j->v.msg));
    store_obj_t *r = ctl_status_update(c->srv, n->vm_res, ns, name, NULL, conds, &err);
    if (!r && err.code != ERR_NOT_FOUND)
        log_warn("netif: cannot update the status of %s: %s", j->key, err.msg);
    store_obj_unref(r);
    err_clear(&err);
    json_decref(conds);
}

json_t *net_ready_first(apiserver_t *srv, const json_t *vm)
{
    const char *name = json_path_str(vm, "metadata.name");
    json_t *ifaces = netcfg_interfaces(vm), *iface;
    json_t *have = netrefs_netifs_of(srv, json_path_str(vm, "metadata.namespace"), name);
    bool all = true;
    size_t i;

    json_array_foreach(ifaces, i, iface) {
        char *nif_name =
            netcfg_netif_name(name, json_string_value(json_object_get(iface, "name")) ?: "");
        all &= json_object_get(have, nif_name) != NULL;
        g_free(nif_name);
    }
    json_t *c = all ? ctl_cond(NET_COND, true, "Ready", "%s",
                               json_array_size(ifaces) ? NET_MSG_READY : NET_MSG_NONE)
                    : NULL;
    json_decref(have);
    json_decref(ifaces);
    return c;
}

/* A writer thread's task. */
static void vm_write_item(void *job)
{
    vm_write(job);
}

/* Back on the controller thread: what the writes left. */
static void vm_finish(netifctl_t *n, vm_job_t *j)
{
    for (guint i = 0; i < j->makes->len; i++)
        netif_finish(n, j->makes->pdata[i]);
    if (j->v.ready)
        g_hash_table_remove(n->waiting, j->key);
    else
        g_hash_table_add(n->waiting, g_strdup(j->key));
}

/* Decide a burst of dirty VMs, write them in parallel, then record.  A
 * burst at a time, so that what waits to be written (a copy of each VM and
 * its interfaces) stays bounded and the events of a large backlog are read
 * between bursts (ctl_more). */
static void vms_process(ctl_t *c)
{
    netifctl_t *n = c->state;
    GPtrArray *keys = ctl_keys_take(n->dirty_vms, NETIF_BURST_MAX);
    GPtrArray *jobs = g_ptr_array_new_with_free_func((GDestroyNotify)vm_job_free);

    for (guint i = 0; i < keys->len; i++) {
        vm_job_t *j = vm_decide(c, keys->pdata[i]);
        if (j)
            g_ptr_array_add(jobs, j);
    }
    burst_run(n->writes, jobs);
    for (guint i = 0; i < jobs->len; i++)
        vm_finish(n, jobs->pdata[i]);
    g_assert(n->inflight->len == 0);
    g_ptr_array_unref(jobs);
    g_ptr_array_unref(keys);
}

/* ---- networks: finalizer and status ------------------------------------------ */

static void net_process(ctl_t *c, const char *uid)
{
    netifctl_t *n = c->state;
    pool_rec_t *p = g_hash_table_lookup(n->pools, uid);
    json_t *net, *set, *conds;
    char *bridge, nets[IPNET_STRLEN];
    err_t err = ERR_INIT;
    guint users;

    if (!p)
        return;
    net = refs_get(c->srv, "netoperator.vmware.com", "networks", p->ns, p->name);
    if (!net || g_strcmp0(json_path_str(net, "metadata.uid"), uid) != 0)
        goto out;
    users = allocs_of(n, uid);
    if (p->deleting) {
        if (users == 0 && meta_has_finalizer(net, NETREFS_FINALIZER) &&
            ctl_finalizer(c->srv, n->net_res, p->ns, p->name, NETREFS_FINALIZER, false, &err) < 0 &&
            err.code != ERR_NOT_FOUND)
            log_warn("netif: network %s/%s: %s", p->ns, p->name, err.msg);
        if (users == 0)
            goto out;
    } else if (!meta_has_finalizer(net, NETREFS_FINALIZER)) {
        if (ctl_finalizer(c->srv, n->net_res, p->ns, p->name, NETREFS_FINALIZER, true, &err) < 0 &&
            err.code != ERR_NOT_FOUND)
            log_warn("netif: network %s/%s: %s", p->ns, p->name, err.msg);
        err_clear(&err);
    }
    bridge = netrefs_bridge_name(net);
    set = json_pack("{s:s}", "bridge", bridge);
    g_free(bridge);
    conds = json_array();
    if (p->pool) {
        ipaddr_t first;
        ipnet_t sn = p->subnet;
        ipnet_first(&p->subnet, &first);
        sn.addr = first;
        json_object_set_new(set, "subnet", json_string(ipnet_format(&sn, nets)));
        json_object_set_new(set, "addresses",
                            json_pack("{s:I,s:I,s:I}", "total", (json_int_t)ipam_size(p->pool),
                                      "used", (json_int_t)users, "free",
                                      (json_int_t)ipam_free_count(p->pool)));
    }
    if (p->deleting)
        json_array_append_new(conds, ctl_cond("Ready", false, "Deleting",
                                              "The network is being deleted; %u interface%s "
                                              "still use%s it.",
                                              users, users == 1 ? "" : "s", users == 1 ? "s" : ""));
    else if (!p->pool)
        json_array_append_new(conds, ctl_cond("Ready", false, "InvalidSpec", "%s", p->invalid));
    else if (ipam_free_count(p->pool) == 0)
        json_array_append_new(conds, ctl_cond("Ready", true, "PoolExhausted",
                                              "Every address of the pool is taken."));
    else
        json_array_append_new(conds, ctl_cond("Ready", true, "Ready", "%s", ""));
    store_obj_t *r = ctl_status_update(c->srv, n->net_res, p->ns, p->name, set, conds, &err);
    if (!r && err.code != ERR_NOT_FOUND)
        log_warn("netif: cannot update the status of network %s/%s: %s", p->ns, p->name, err.msg);
    store_obj_unref(r);
    json_decref(set);
    json_decref(conds);
out:
    err_clear(&err);
    json_decref(net);
}

static void netif_idle(ctl_t *c)
{
    netifctl_t *n = c->state;
    GPtrArray *keys;

    vms_process(c);
    keys = ctl_take_keys(n->dirty_nets);
    for (guint i = 0; i < keys->len; i++)
        net_process(c, keys->pdata[i]);
    g_ptr_array_unref(keys);
    if (ctl_keys_len(n->dirty_vms) > 0 || g_hash_table_size(n->dirty_nets) > 0)
        ctl_more(c);
}

static void netif_free(ctl_t *c)
{
    netifctl_t *n = c->state;
    burst_free(n->writes);
    g_ptr_array_unref(n->inflight);
    g_hash_table_unref(n->inflight_macs);
    event_recorder_free(n->ev);
    g_hash_table_unref(n->macs);
    g_hash_table_unref(n->allocs);
    g_hash_table_unref(n->pools);
    ctl_keys_free(n->dirty_vms);
    g_hash_table_unref(n->dirty_nets);
    g_hash_table_unref(n->waiting);
    g_free(n);
}

static const ctl_ops_t netif_ops = {
    .name = "netif",
    .prefix = "",
    .resync = netif_resync,
    .event = netif_event,
    .idle = netif_idle,
    .free = netif_free,
    .resync_ms = 5 * 60 * 1000,
};

ctl_t *ctl_netif_start(apiserver_t *srv)
{
    netifctl_t *n = g_new0(netifctl_t, 1);
    n->ev = event_recorder_new(srv, "vmsvc-network");
    n->vm_res = registry_find(srv->reg, "vmoperator.vmware.com", "v1alpha2", "virtualmachines");
    n->netif_res = registry_find(srv->reg, "netoperator.vmware.com", "v1alpha1", "networkinterfaces");
    n->net_res = registry_find(srv->reg, "netoperator.vmware.com", "v1alpha1", "networks");
    n->pools = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pool_rec_free);
    n->allocs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)alloc_free);
    n->macs = g_hash_table_new(g_str_hash, g_str_equal);
    n->dirty_vms = ctl_keys_new();
    n->dirty_nets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    n->waiting = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    n->inflight = g_ptr_array_new();
    n->inflight_macs = g_hash_table_new(g_str_hash, g_str_equal);
    n->writes = burst_new(NETIF_WRITERS, vm_write_item);
    return ctl_start(srv, &netif_ops, n);
}

/* ---- the default network of a fresh install ---------------------------------- */

#define NET_DEFAULTS_MARKER "vmsvc-defaults-network"

int net_defaults_ensure(apiserver_t *srv, err_t *err)
{
    const resource_t *net_res =
        registry_find(srv->reg, "netoperator.vmware.com", "v1alpha1", "networks");
    const resource_t *cm_res = registry_find(srv->reg, "", "v1", "configmaps");
    json_t *marker = refs_get(srv, "", "configmaps", REFS_SHARED_NS, NET_DEFAULTS_MARKER);
    obj_opts_t o = {.fv = FIELD_VALIDATION_STRICT};
    store_obj_t *r;

    if (marker) {
        json_decref(marker);
        return 0;
    }
    r = obj_create(srv, net_res, REFS_SHARED_NS,
                   json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s,s:{s:s,s:b,s:b}}}", "apiVersion",
                             "netoperator.vmware.com/v1alpha1", "kind", "Network", "metadata",
                             "name", "default", "labels", NETREFS_DEFAULT_LABEL, "true", "spec",
                             "gateway4", "10.200.0.1/16", "bridge", "name", "vmsvc0", "managed", 1,
                             "nat", 1),
                   &o, err);
    if (!r && err->code != ERR_ALREADY_EXISTS)
        return -1;
    err_clear(err);
    store_obj_unref(r);
    r = obj_create(srv, cm_res, REFS_SHARED_NS,
                   json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                             "metadata", "name", NET_DEFAULTS_MARKER, "data", "created",
                             "the default network"),
                   &o, err);
    if (!r && err->code != ERR_ALREADY_EXISTS)
        return -1;
    err_clear(err);
    store_obj_unref(r);
    log_info("defaults: created the default network vmsvc-system/default (10.200.0.1/16)");
    return 0;
}
