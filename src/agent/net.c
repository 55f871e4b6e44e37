/*
 * net: the agent's side of guest networking (see agent_priv.h).
 *
 * Bridges.  A VM's interfaces are virtio NICs whose tap devices libvirt
 * plugs into the bridge of their Network.  A managed bridge is created
 * (with the gateway address, MTU, up) when the first VM on this host needs
 * it, and removed when its Network is gone; the bridges made here are
 * listed in <data-dir>/net/bridges.json (bridge -> network uid), so a
 * restarted agent still knows which are its own and never removes one an
 * administrator made.  An unmanaged bridge must exist already.
 *
 * Rules.  One nftables table of vmsvc's own (model/nftrules.h) carries the
 * NAT of the managed networks with bridges here and the data path of every
 * VirtualMachineService (its cluster IP and ingress addresses DNATed to the
 * ready endpoints of its Endpoints object).  It is rendered whole from the
 * objects after every burst of changes and applied only when it differs
 * from what was applied last.  A host with no bridge of vmsvc's gets no
 * table at all, so a server that runs no guests leaves the host's packet
 * rules alone.  Each service address also gets a route of type local
 * (hostnet.h), removed with the service.
 */
#include "agent/agent_priv.h"

#include <string.h>

#include "agent/probe.h"
#include "ctl/netrefs.h"
#include "ctl/refs.h"
#include "model/guestnet.h"
#include "model/ipaddr.h"
#include "model/nftrules.h"
#include "model/netcfg.h"
#include "util/fs.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define SVC_PREFIX "vmoperator.vmware.com/virtualmachineservices/"
#define EP_PREFIX "core/endpoints/"

struct agent_net {
    agent_t *a;
    hostnet_t *hn;
    GMutex lock;          /* guards made and applied */
    json_t *made;         /* bridge -> network uid */
    char *applied;        /* the batch applied last, or NULL */
    char *made_path;
    GMutex route_lock;    /* serializes routes_sync (from the loop and from VM workers) */
    GHashTable *routed;   /* service addresses with a local route here */
    ctl_t *loop;
    bool dirty;
};

static void made_save(agent_net_t *n)
{
    err_t err = ERR_INIT;
    char *text = json_dumps(n->made, JSON_SORT_KEYS);
    if (fs_write_atomic(n->made_path, text, strlen(text), 0600, &err) < 0)
        log_warn("agent: %s", err.msg);
    err_clear(&err);
    free(text);
}

/* ---- rules ------------------------------------------------------------------ */

static json_t *service_desc(agent_t *a, const json_t *svc)
{
    const char *ns = json_path_str(svc, "metadata.namespace");
    const char *name = json_path_str(svc, "metadata.name");
    json_t *ep = refs_get(a->srv, "", "endpoints", ns, name);
    json_t *eps = json_array(), *ingress = json_array(), *sub, *ad, *in;
    size_t i, j;
    char *full = g_strconcat(ns, "/", name, NULL);
    json_t *d;

    json_array_foreach(json_object_get(ep, "subsets"), i, sub)
        json_array_foreach(json_object_get(sub, "addresses"), j, ad)
            if (json_object_get(ad, "ip"))
                json_array_append(eps, json_object_get(ad, "ip"));
    json_array_foreach(json_path_get(svc, "status.loadBalancer.ingress"), i, in)
        if (json_object_get(in, "ip"))
            json_array_append(ingress, json_object_get(in, "ip"));
    d = json_pack("{s:s,s:o,s:o,s:O}", "name", full, "endpoints", eps, "ingress", ingress, "ports",
                  json_path_get(svc, "spec.ports") ?: json_array());
    if (json_path_str(svc, "spec.clusterIp"))
        json_object_set_new(d, "clusterIP", json_string(json_path_str(svc, "spec.clusterIp")));
    if (json_path_get(svc, "spec.loadBalancerSourceRanges"))
        json_object_set(d, "sourceRanges", json_path_get(svc, "spec.loadBalancerSourceRanges"));
    g_free(full);
    json_decref(ep);
    return d;
}

/* Local routes for the service addresses of `desc` (none when `on` is
 * false), so the host's own connections to them reach the DNAT. */
static void routes_sync(agent_net_t *n, const json_t *desc, bool on)
{
    GHashTable *want = g_hash_table_new(g_str_hash, g_str_equal);
    const json_t *svc, *ip;
    size_t i, j;
    GHashTableIter it;
    gpointer k;
    err_t err = ERR_INIT;

    g_mutex_lock(&n->route_lock);
    json_array_foreach(on ? json_object_get(desc, "services") : NULL, i, svc) {
        const char *c = json_string_value(json_object_get(svc, "clusterIP"));
        if (c && *c && strcmp(c, "None"))
            g_hash_table_add(want, (gpointer)c);
        json_array_foreach(json_object_get(svc, "ingress"), j, ip)
            if (json_string_value(ip))
                g_hash_table_add(want, (gpointer)json_string_value(ip));
    }
    g_hash_table_iter_init(&it, n->routed);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (!g_hash_table_contains(want, k)) {
            if (hostnet_local_route(n->hn, k, false, &err) < 0)
                log_warn("agent: %s", err.msg);
            err_clear(&err);
            g_hash_table_iter_remove(&it);
        }
    g_hash_table_iter_init(&it, want);
    while (g_hash_table_iter_next(&it, &k, NULL))
        if (!g_hash_table_contains(n->routed, k)) {
            if (hostnet_local_route(n->hn, k, true, &err) < 0)
                log_warn("agent: %s", err.msg);
            else
                g_hash_table_add(n->routed, g_strdup(k));
            err_clear(&err);
        }
    g_mutex_unlock(&n->route_lock);
    g_hash_table_unref(want);
}

/* Bring the host's rules in line with the objects. */
static void rules_sync(agent_net_t *n)
{
    agent_t *a = n->a;
    json_t *desc = json_pack("{s:[],s:[]}", "networks", "services"), *batch = NULL;
    GPtrArray *all;
    const char *bridge;
    json_t *uid;
    err_t err = ERR_INIT;
    char *text = NULL;
    bool any;

    g_mutex_lock(&n->lock);
    any = json_object_size(n->made) > 0;
    all = store_list(a->srv->store, NETREFS_NETWORK_PREFIX, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++) {
        json_t *net = store_obj_parse(all->pdata[i]);
        char *br = netrefs_bridge_name(net);
        uid = json_object_get(n->made, br);
        if (uid && !g_strcmp0(json_string_value(uid), json_path_str(net, "metadata.uid"))) {
            ipnet_t sn;
            char s[IPNET_STRLEN];
            if (ipnet_parse(json_path_str(net, "spec.gateway4"), &sn, "gateway4", &err) == 0) {
                json_t *e = json_pack("{s:s,s:s,s:b}", "bridge", br, "subnet", ipnet_format(&sn, s),
                                      "nat", json_path_get(net, "spec.bridge.nat")
                                                 ? json_is_true(json_path_get(net, "spec.bridge.nat"))
                                                 : 1);
                if (json_path_str(net, "spec.bridge.uplink"))
                    json_object_set_new(e, "uplink",
                                        json_string(json_path_str(net, "spec.bridge.uplink")));
                json_array_append_new(json_object_get(desc, "networks"), e);
            }
            err_clear(&err);
        }
        g_free(br);
        json_decref(net);
    }
    g_ptr_array_unref(all);
    g_mutex_unlock(&n->lock);

    all = store_list(a->srv->store, SVC_PREFIX, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++) {
        json_t *svc = store_obj_parse(all->pdata[i]);
        if (!json_path_get(svc, "metadata.deletionTimestamp"))
            json_array_append_new(json_object_get(desc, "services"), service_desc(a, svc));
        json_decref(svc);
    }
    g_ptr_array_unref(all);

    routes_sync(n, desc, any);
    if (any) {
        batch = nftrules_render(desc, &err);
        if (!batch) {
            log_warn("agent: cannot render the packet rules: %s", err.msg);
            goto out;
        }
        if (hostnet_forwarding_enable(n->hn, &err) < 0) {
            log_warn("agent: %s", err.msg);
            err_clear(&err);
        }
    } else {
        if (!n->applied)
            goto out;
        batch = nftrules_render_remove();
    }
    text = json_dumps(batch, JSON_COMPACT | JSON_SORT_KEYS);
    g_mutex_lock(&n->lock);
    if (g_strcmp0(text, n->applied) != 0) {
        if (hostnet_rules_apply(n->hn, batch, &err) < 0) {
            log_warn("agent: %s", err.msg);
        } else {
            g_free(n->applied);
            n->applied = any ? g_strdup(text) : NULL;
            log_debug("agent: packet rules applied (%zu networks, %zu services)",
                      json_array_size(json_object_get(desc, "networks")),
                      json_array_size(json_object_get(desc, "services")));
        }
    }
    g_mutex_unlock(&n->lock);
out:
    (void)bridge;
    err_clear(&err);
    free(text);
    json_decref(batch);
    json_decref(desc);
}

/* Remove the bridges made here whose Network is gone (or was made again). */
static void bridges_sweep(agent_net_t *n)
{
    agent_t *a = n->a;
    json_t *gone = json_array(), *v;
    const char *br;
    size_t i;
    bool changed = false;

    g_mutex_lock(&n->lock);
    json_object_foreach(n->made, br, v) {
        GPtrArray *all = store_list(a->srv->store, NETREFS_NETWORK_PREFIX, NULL, 0, NULL, NULL);
        bool live = false;
        for (guint k = 0; k < all->len && !live; k++) {
            store_obj_t *o = all->pdata[k];
            live = o->uid && !g_strcmp0(o->uid, json_string_value(v));
        }
        g_ptr_array_unref(all);
        if (!live)
            json_array_append_new(gone, json_string(br));
    }
    g_mutex_unlock(&n->lock);
    json_array_foreach(gone, i, v) {
        err_t err = ERR_INIT;
        if (hostnet_bridge_remove(n->hn, json_string_value(v), &err) < 0) {
            log_warn("agent: %s", err.msg);
        } else {
            log_info("agent: removed bridge %s: its network is gone", json_string_value(v));
            g_mutex_lock(&n->lock);
            json_object_del(n->made, json_string_value(v));
            g_mutex_unlock(&n->lock);
            changed = true;
        }
        err_clear(&err);
    }
    if (changed) {
        g_mutex_lock(&n->lock);
        made_save(n);
        g_mutex_unlock(&n->lock);
    }
    json_decref(gone);
}

static void net_resync(ctl_t *c)
{
    agent_net_t *n = c->state;
    n->dirty = true;
}

static void net_event(ctl_t *c, const store_event_t *ev)
{
    agent_net_t *n = c->state;
    const char *k = ev->obj->key;
    if (g_str_has_prefix(k, NETREFS_NETWORK_PREFIX) || g_str_has_prefix(k, SVC_PREFIX) ||
        g_str_has_prefix(k, EP_PREFIX))
        n->dirty = true;
}

static void net_idle(ctl_t *c)
{
    agent_net_t *n = c->state;
    if (!n->dirty)
        return;
    n->dirty = false;
    bridges_sweep(n);
    rules_sync(n);
}

static const ctl_ops_t net_ops = {
    .name = "agent-net",
    .prefix = "",
    .resync = net_resync,
    .event = net_event,
    .idle = net_idle,
    .resync_ms = 60 * 1000,
};

agent_net_t *agent_net_start(agent_t *a, const hostnet_ops_t *ops, err_t *err)
{
    agent_net_t *n = g_new0(agent_net_t, 1);
    char *dir = g_build_filename(a->data_dir, "net", NULL);
    char *text;

    n->a = a;
    g_mutex_init(&n->lock);
    n->made_path = g_build_filename(dir, "bridges.json", NULL);
    n->routed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_mutex_init(&n->route_lock);
    if (fs_mkdir_p(dir, 0700, err) < 0 || !(n->hn = hostnet_open(ops, err))) {
        g_free(dir);
        agent_net_stop(n);
        return NULL;
    }
    g_free(dir);
    text = fs_read_all(n->made_path, 1 << 20, NULL, err);
    err_clear(err);
    n->made = text ? json_loads(text, 0, NULL) : NULL;
    g_free(text);
    if (!json_is_object(n->made)) {
        json_decref(n->made);
        n->made = json_object();
    }
    /* A table left by an earlier run is replaced by the first sync. */
    if (json_object_size(n->made) > 0)
        n->applied = g_strdup("");
    n->loop = ctl_start(a->srv, &net_ops, n);
    return n;
}

void agent_net_stop(agent_net_t *n)
{
    if (!n)
        return;
    ctl_stop(n->loop);
    if (n->routed && n->hn) {
        json_t *none = json_object();
        routes_sync(n, none, false);
        json_decref(none);
    }
    if (n->routed) {
        g_hash_table_unref(n->routed);
        g_mutex_clear(&n->route_lock);
    }
    hostnet_close(n->hn);
    json_decref(n->made);
    g_free(n->applied);
    g_free(n->made_path);
    g_mutex_clear(&n->lock);
    g_free(n);
}

/* ---- one VM ------------------------------------------------------------------ */

static int bridge_for(agent_net_t *n, const json_t *net, char **bridge, err_t *err)
{
    const char *uid = json_path_str(net, "metadata.uid");
    bool managed = !json_is_false(json_path_get(net, "spec.bridge.managed"));
    json_int_t mtu = json_integer_value(json_path_get(net, "spec.mtu"));
    char *br = netrefs_bridge_name(net);
    hostnet_bridge_t b = {.name = br, .address = json_path_str(net, "spec.gateway4"),
                          .mtu = (int)mtu};
    bool fresh;

    if (!managed) {
        if (!hostnet_link_exists(n->hn, br)) {
            err_set(err, ERR_NOT_FOUND,
                    "Bridge %s of network %s/%s does not exist on host %s; the network says it "
                    "is not managed by vmsvc, so an administrator must make it.",
                    br, json_path_str(net, "metadata.namespace"),
                    json_path_str(net, "metadata.name"), n->a->node);
            g_free(br);
            return -1;
        }
        *bridge = br;
        return 0;
    }
    if (hostnet_bridge_ensure(n->hn, &b, err) < 0) {
        g_free(br);
        return -1;
    }
    g_mutex_lock(&n->lock);
    fresh = g_strcmp0(json_string_value(json_object_get(n->made, br)), uid) != 0;
    if (fresh) {
        json_object_set_new(n->made, br, json_string(uid));
        made_save(n);
    }
    g_mutex_unlock(&n->lock);
    if (fresh) {
        log_info("agent: bridge %s of network %s/%s is up", br,
                 json_path_str(net, "metadata.namespace"), json_path_str(net, "metadata.name"));
        rules_sync(n);
    }
    *bridge = br;
    return 0;
}

int agent_net_vm_prepare(agent_t *a, const json_t *vm, json_t **nics, json_t **resolved,
                         err_t *err)
{
    agent_net_t *n = a->net;
    const char *ns = json_path_str(vm, "metadata.namespace");
    const char *name = json_path_str(vm, "metadata.name");
    json_t *ifaces = netcfg_interfaces(vm), *netifs = netrefs_netifs_of(a->srv, ns, name);
    json_t *out_nics = json_array(), *out_res = json_array(), *iface;
    size_t i;
    int rc = -1;

    json_array_foreach(ifaces, i, iface) {
        const char *ifname = json_string_value(json_object_get(iface, "name")) ?: "";
        char *nif_name = netcfg_netif_name(name, ifname), *bridge = NULL;
        json_t *nif = json_object_get(netifs, nif_name);
        json_t *net = nif ? netrefs_network_of(a->srv, nif) : NULL;
        const char *mac = json_path_str(nif, "status.macAddress");

        g_free(nif_name);
        if (!nif || !mac) {
            err_set(err, ERR_NOT_FOUND, "Interface %s has no NetworkInterface with an allocation yet.",
                    ifname);
            json_decref(net);
            goto out;
        }
        if (!net) {
            err_set(err, ERR_NOT_FOUND, "The network of interface %s no longer exists.", ifname);
            goto out;
        }
        if (bridge_for(n, net, &bridge, err) < 0) {
            json_decref(net);
            goto out;
        }
        json_array_append_new(out_nics, json_pack("{s:s,s:s,s:s}", "mac", mac, "bridge", bridge,
                                                  "model", "virtio"));
        json_t *r = netcfg_resolve(vm, iface, nif, net);
        json_object_set_new(r, "macAddress", json_string(mac));
        json_array_append_new(out_res, r);
        g_free(bridge);
        json_decref(net);
    }
    *nics = json_incref(out_nics);
    *resolved = json_incref(out_res);
    rc = 0;
out:
    json_decref(out_nics);
    json_decref(out_res);
    json_decref(ifaces);
    json_decref(netifs);
    return rc;
}

/* ---- status ------------------------------------------------------------------ */

int agent_net_vm_status(agent_t *a, const char *key, const json_t *vm, const char *dom,
                        hv_state_t st, json_t *set, json_t *conds)
{
    const char *ns = json_path_str(vm, "metadata.namespace");
    const char *name = json_path_str(vm, "metadata.name");
    json_t *ifaces = netcfg_interfaces(vm), *netifs = netrefs_netifs_of(a->srv, ns, name);
    json_t *out = json_array(), *resolved = json_array(), *iface, *network, *guest = NULL;
    char *alloc4 = NULL, *alloc6 = NULL, *ip4, *ip6;
    size_t i;
    int again = 0;

    json_array_foreach(ifaces, i, iface) {
        const char *ifname = json_string_value(json_object_get(iface, "name")) ?: "";
        char *nif_name = netcfg_netif_name(name, ifname);
        json_t *nif = json_object_get(netifs, nif_name);
        json_t *net = nif ? netrefs_network_of(a->srv, nif) : NULL;
        json_t *r = netcfg_resolve(vm, iface, nif, net), *addrs = json_array(), *ad;
        json_t *e = json_pack("{s:s}", "name", ifname), *ipo = json_object(), *dns = json_object();
        size_t k;

        json_array_foreach(json_object_get(r, "addresses"), k, ad) {
            const char *s = json_string_value(ad);
            ipnet_t n;
            err_t err = ERR_INIT;
            char b[IPADDR_STRLEN];
            if (!s || ipnet_parse(s, &n, "address", &err) < 0) {
                err_clear(&err);
                continue;
            }
            json_array_append_new(addrs, json_pack("{s:s,s:s,s:s}", "address", s, "origin",
                                                   "manual", "state", "preferred"));
            ipaddr_format(&n.addr, b);
            if (n.addr.family == AF_INET && !alloc4)
                alloc4 = g_strdup(b);
            if (n.addr.family == AF_INET6 && !alloc6)
                alloc6 = g_strdup(b);
        }
        if (json_array_size(addrs))
            json_object_set(ipo, "addresses", addrs);
        if (json_path_str(nif, "status.macAddress"))
            json_object_set_new(ipo, "macAddr", json_string(json_path_str(nif, "status.macAddress")));
        if (json_object_get(r, "nameservers"))
            json_object_set(dns, "nameservers", json_object_get(r, "nameservers"));
        if (json_object_get(r, "searchDomains"))
            json_object_set(dns, "searchDomains", json_object_get(r, "searchDomains"));
        if (json_object_size(ipo))
            json_object_set(e, "ip", ipo);
        if (json_object_size(dns))
            json_object_set(e, "dns", dns);
        json_array_append_new(out, e);
        json_array_append_new(resolved, r);
        json_decref(addrs);
        json_decref(ipo);
        json_decref(dns);
        json_decref(net);
        g_free(nif_name);
    }
    /* The guest's own addresses where its agent answers, the allocation's
     * elsewhere (model/guestnet.h). */
    if (st == HV_STATE_RUNNING) {
        probe_guestnet_watch(a->probes, key, dom);
        guest = probe_guestnet_view(a->probes, key);
    } else {
        probe_guestnet_unwatch(a->probes, key);
    }
    guestnet_merge(out, guest);
    ip4 = guestnet_primary(out, AF_INET, alloc4);
    ip6 = guestnet_primary(out, AF_INET6, alloc6);
    network = json_pack("{s:O,s:o}", "interfaces", out, "config", netcfg_status_config(vm, resolved));
    if (ip4)
        json_object_set_new(network, "primaryIP4", json_string(ip4));
    if (ip6)
        json_object_set_new(network, "primaryIP6", json_string(ip6));
    json_object_set_new(set, "network", network);
    json_array_append_new(conds, agent_ready_cond(a, key, vm, dom, st, ip4, &again));
    g_free(alloc4);
    g_free(alloc6);
    g_free(ip4);
    g_free(ip6);
    json_decref(guest);
    json_decref(out);
    json_decref(resolved);
    json_decref(ifaces);
    json_decref(netifs);
    return again;
}
