/*
 * vmservice: the controller of VirtualMachineServices.
 *
 * For each service of type ClusterIP or LoadBalancer it
 *   - gives it a cluster IP out of the service range (spec.clusterIp, set
 *     once, when the user left it empty; "None" is a headless service),
 *   - for a LoadBalancer, an ingress address out of the load balancer pool
 *     (spec.loadBalancerIP when it is free), shown in
 *     status.loadBalancer.ingress,
 *   - and keeps an Endpoints object of the same name, owned by the service,
 *     listing the VMs its selector picks in its namespace: those whose
 *     Ready condition is true and that have a primary IPv4 address under
 *     addresses, the others under notReadyAddresses, with the service's
 *     target ports.
 * The data path (DNAT of the service addresses to the ready endpoints) is
 * the agents' (agent/net.c, model/nftrules.h); they follow the Endpoints.
 *
 * Addresses are decided on this controller's one thread against two pools
 * (model/ipam.h) that are rebuilt from the services at every resync, as
 * the network-interface controller does for its Networks; the service
 * object is the durable record.  The load balancer pool is the data key
 * "ranges" (comma-separated ranges or CIDRs) of the ConfigMap
 * NET_LB_CONFIGMAP in vmsvc-system, else NET_LB_RANGE_DEFAULT.
 * A service whose address cannot be given gets a Warning event.
 */
#include <string.h>

#include "api/events.h"
#include "api/objects.h"
#include "ctl/ctl_priv.h"
#include "ctl/net.h"
#include "ctl/refs.h"
#include "model/ipam.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define SVC_PREFIX "vmoperator.vmware.com/virtualmachineservices/"
#define VM_PREFIX "vmoperator.vmware.com/virtualmachines/"
#define EP_PREFIX "core/endpoints/"

typedef struct svcctl {
    char *service_cidr;
    event_recorder_t *ev;
    const resource_t *svc_res, *ep_res;
    ipam_pool_t *cluster;   /* cluster IPs */
    ipam_pool_t *lb;        /* load balancer ingress addresses */
    char *lb_ranges;        /* what lb was made from */
    GHashTable *held;       /* service key -> "clusterIP,ingress" it holds */
    GHashTable *dirty;      /* service keys */
} svcctl_t;

/* ---- pools ---------------------------------------------------------------- */

static ipam_pool_t *pool_of_ranges(const char *text, err_t *err)
{
    char **parts = g_strsplit(text, ",", 64);
    guint n = g_strv_length(parts);
    iprange_t *rs = g_new0(iprange_t, n + 1);
    ipam_pool_t *p = NULL;
    ipnet_t all = {0};
    guint k = 0;

    for (guint i = 0; i < n; i++) {
        char *t = g_strstrip(parts[i]);
        if (!*t)
            continue;
        if (strchr(t, '/')) {
            ipnet_t net;
            if (ipnet_parse(t, &net, "ranges", err) < 0)
                goto out;
            rs[k].first = net.addr;
            ipnet_first(&net, &rs[k].first);
            ipnet_last(&net, &rs[k].last);
        } else if (iprange_parse(t, &rs[k], "ranges", err) < 0) {
            goto out;
        }
        k++;
    }
    if (k == 0) {
        err_set(err, ERR_INVALID, "The load balancer pool has no range.");
        goto out;
    }
    /* The pool's "subnet" is the whole IPv4 space: ranges alone decide. */
    ipaddr_parse("0.0.0.0", &all.addr, "subnet", err);
    all.prefix = 0;
    p = ipam_pool_new(&all, NULL, rs, k, err);
out:
    g_strfreev(parts);
    g_free(rs);
    return p;
}

static char *lb_ranges_get(apiserver_t *srv)
{
    json_t *cm = refs_get(srv, "", "configmaps", REFS_SHARED_NS, NET_LB_CONFIGMAP);
    const char *r = json_path_str(cm, "data.ranges");
    char *out = g_strdup(r && *r ? r : NET_LB_RANGE_DEFAULT);
    json_decref(cm);
    return out;
}

static void take(ipam_pool_t *p, const char *ip, const char *what, const char *key)
{
    ipaddr_t a;
    err_t err = ERR_INIT;
    if (!p || !ip || !*ip || !strcmp(ip, "None"))
        return;
    if (ipaddr_parse(ip, &a, what, &err) == 0 && ipam_reserve(p, &a, &err) < 0 &&
        err.code == ERR_ALREADY_EXISTS)
        log_warn("vmservice: %s holds %s %s, which another service holds too", key, what, ip);
    err_clear(&err);
}

static void give_back(ipam_pool_t *p, const char *ip)
{
    ipaddr_t a;
    err_t err = ERR_INIT;
    if (p && ip && *ip && ipaddr_parse(ip, &a, "ip", &err) == 0)
        ipam_release(p, &a);
    err_clear(&err);
}

static const char *ingress_ip(const json_t *svc)
{
    return json_string_value(
        json_object_get(json_array_get(json_path_get(svc, "status.loadBalancer.ingress"), 0), "ip"));
}

/* Record what a service holds (replacing what it held before). */
static void hold(svcctl_t *s, const char *key, const char *cip, const char *ing)
{
    char *old = g_hash_table_lookup(s->held, key);
    if (old) {
        char *comma = strchr(old, ',');
        *comma = '\0';
        if (g_strcmp0(old, cip ? cip : ""))
            give_back(s->cluster, old);
        if (g_strcmp0(comma + 1, ing ? ing : ""))
            give_back(s->lb, comma + 1);
        *comma = ',';
        if (!g_strcmp0(old, cip ? cip : "") && !g_strcmp0(comma + 1, ing ? ing : "")) {
            return;
        }
    }
    take(s->cluster, cip, "clusterIp", key);
    take(s->lb, ing, "ingress address", key);
    g_hash_table_insert(s->held, g_strdup(key),
                        g_strdup_printf("%s,%s", cip ? cip : "", ing ? ing : ""));
}

static void unhold(svcctl_t *s, const char *key)
{
    char *old = g_hash_table_lookup(s->held, key);
    if (!old)
        return;
    char *comma = strchr(old, ',');
    *comma = '\0';
    give_back(s->cluster, old);
    give_back(s->lb, comma + 1);
    g_hash_table_remove(s->held, key);
}

/* ---- events ------------------------------------------------------------------ */

static void svc_resync(ctl_t *c)
{
    svcctl_t *s = c->state;
    GPtrArray *all;
    ipnet_t sn;
    err_t err = ERR_INIT;

    g_hash_table_remove_all(s->held);
    ipam_pool_free(s->cluster);
    ipam_pool_free(s->lb);
    s->cluster = NULL;
    if (ipnet_parse(s->service_cidr, &sn, "service range", &err) == 0)
        s->cluster = ipam_pool_new(&sn, NULL, NULL, 0, &err);
    if (!s->cluster)
        log_error("vmservice: service range %s: %s", s->service_cidr, err.msg);
    err_clear(&err);
    g_free(s->lb_ranges);
    s->lb_ranges = lb_ranges_get(c->srv);
    if (!(s->lb = pool_of_ranges(s->lb_ranges, &err)))
        log_error("vmservice: load balancer pool \"%s\": %s", s->lb_ranges, err.msg);
    err_clear(&err);
    all = store_list(c->srv->store, SVC_PREFIX, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++) {
        store_obj_t *o = all->pdata[i];
        json_t *svc = store_obj_parse(o);
        hold(s, o->key, json_path_str(svc, "spec.clusterIp"), ingress_ip(svc));
        g_hash_table_add(s->dirty, g_strdup(o->key));
        json_decref(svc);
    }
    g_ptr_array_unref(all);
}

/* Every service of a namespace (a VM there changed). */
static void dirty_ns(ctl_t *c, const char *ns)
{
    svcctl_t *s = c->state;
    char *prefix = g_strconcat(SVC_PREFIX, ns, "/", NULL);
    GPtrArray *all = store_list(c->srv->store, prefix, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++)
        g_hash_table_add(s->dirty, g_strdup(((store_obj_t *)all->pdata[i])->key));
    g_ptr_array_unref(all);
    g_free(prefix);
}

static void svc_event(ctl_t *c, const store_event_t *ev)
{
    svcctl_t *s = c->state;
    const char *key = ev->obj->key;

    if (g_str_has_prefix(key, SVC_PREFIX)) {
        if (ev->type == STORE_EV_DELETED)
            unhold(s, key);
        else
            g_hash_table_add(s->dirty, g_strdup(key));
    } else if (g_str_has_prefix(key, VM_PREFIX)) {
        const char *rest = key + strlen(VM_PREFIX), *slash = strchr(rest, '/');
        if (slash) {
            char *ns = g_strndup(rest, (gsize)(slash - rest));
            dirty_ns(c, ns);
            g_free(ns);
        }
    } else if (g_str_has_prefix(key, EP_PREFIX)) {
        /* Someone else changed an Endpoints of ours: put it right. */
        char *skey = g_strconcat(SVC_PREFIX, key + strlen(EP_PREFIX), NULL);
        if (g_hash_table_contains(s->held, skey))
            g_hash_table_add(s->dirty, skey);
        else
            g_free(skey);
    } else if (!strcmp(key, "core/configmaps/" REFS_SHARED_NS "/" NET_LB_CONFIGMAP)) {
        char *r = lb_ranges_get(c->srv);
        if (g_strcmp0(r, s->lb_ranges))
            svc_resync(c);
        g_free(r);
    }
}

/* ---- one service ------------------------------------------------------------- */

static json_t *set_cluster_ip(const json_t *cur, void *ctx, err_t *err)
{
    json_t *o = json_deep_copy(cur);
    (void)err;
    if (!json_path_str(o, "spec.clusterIp") || !*json_path_str(o, "spec.clusterIp"))
        json_object_set_new(json_object_get(o, "spec"), "clusterIp", json_string(ctx));
    return o;
}

static bool selects(const json_t *sel, const json_t *vm)
{
    const json_t *labels = json_path_get(vm, "metadata.labels"), *v;
    const char *k;
    if (!json_object_size(sel))
        return false; /* no selector: endpoints are managed by hand */
    json_object_foreach((json_t *)sel, k, v)
        if (g_strcmp0(json_string_value(json_object_get(labels, k)), json_string_value(v)))
            return false;
    return true;
}

static bool vm_ready(const json_t *vm)
{
    const json_t *c;
    size_t i;
    json_array_foreach(json_path_get(vm, "status.conditions"), i, c)
        if (!g_strcmp0(json_string_value(json_object_get(c, "type")), "Ready"))
            return !g_strcmp0(json_string_value(json_object_get(c, "status")), "True");
    return false;
}

static json_t *endpoints_render(apiserver_t *srv, const json_t *svc)
{
    const char *ns = json_path_str(svc, "metadata.namespace");
    const json_t *sel = json_path_get(svc, "spec.selector"), *pt;
    char *prefix = g_strconcat(VM_PREFIX, ns, "/", NULL);
    GPtrArray *all = store_list(srv->store, prefix, NULL, 0, NULL, NULL);
    json_t *ready = json_array(), *unready = json_array(), *ports = json_array(), *subsets;
    size_t i;

    for (guint k = 0; k < all->len; k++) {
        json_t *vm = store_obj_parse(all->pdata[k]);
        const char *ip = json_path_str(vm, "status.network.primaryIP4");
        if (ip && selects(sel, vm) && !json_path_get(vm, "metadata.deletionTimestamp"))
            json_array_append_new(vm_ready(vm) ? ready : unready,
                                  json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s}}", "ip", ip, "targetRef",
                                            "apiVersion", "vmoperator.vmware.com/v1alpha2",
                                            "kind", "VirtualMachine", "namespace", ns, "name",
                                            json_path_str(vm, "metadata.name"), "uid",
                                            json_path_str(vm, "metadata.uid")));
        json_decref(vm);
    }
    g_ptr_array_unref(all);
    g_free(prefix);
    json_array_foreach(json_path_get(svc, "spec.ports"), i, pt) {
        json_t *p = json_pack("{s:O,s:O}", "port", json_object_get(pt, "targetPort"), "protocol",
                              json_object_get(pt, "protocol"));
        if (json_object_get(pt, "name"))
            json_object_set(p, "name", json_object_get(pt, "name"));
        json_array_append_new(ports, p);
    }
    subsets = json_array();
    if (json_array_size(ready) || json_array_size(unready)) {
        json_t *sub = json_pack("{s:O}", "ports", ports);
        if (json_array_size(ready))
            json_object_set(sub, "addresses", ready);
        if (json_array_size(unready))
            json_object_set(sub, "notReadyAddresses", unready);
        json_array_append_new(subsets, sub);
    }
    json_decref(ready);
    json_decref(unready);
    json_decref(ports);
    return subsets;
}

static json_t *set_subsets(const json_t *cur, void *ctx, err_t *err)
{
    json_t *o = json_deep_copy(cur);
    (void)err;
    json_object_set(o, "subsets", ctx);
    return o;
}

static void endpoints_sync(ctl_t *c, const json_t *svc)
{
    svcctl_t *s = c->state;
    const char *ns = json_path_str(svc, "metadata.namespace");
    const char *name = json_path_str(svc, "metadata.name");
    json_t *subsets = endpoints_render(c->srv, svc);
    json_t *cur = refs_get(c->srv, "", "endpoints", ns, name);
    obj_opts_t o = {.fv = FIELD_VALIDATION_STRICT};
    err_t err = ERR_INIT;
    store_obj_t *r = NULL;

    if (!cur) {
        json_t *ep = json_pack("{s:s,s:s,s:{s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},s:O}",
                               "apiVersion", "v1", "kind", "Endpoints", "metadata", "name", name,
                               "namespace", ns, "ownerReferences", "apiVersion",
                               "vmoperator.vmware.com/v1alpha2", "kind", "VirtualMachineService",
                               "name", name, "uid", json_path_str(svc, "metadata.uid"),
                               "controller", 1, "blockOwnerDeletion", 1, "subsets", subsets);
        r = obj_create(c->srv, s->ep_res, ns, ep, &o, &err);
    } else if (!json_equal(json_object_get(cur, "subsets") ?: json_array(), subsets) &&
               !(json_array_size(subsets) == 0 && !json_object_get(cur, "subsets"))) {
        r = obj_update(c->srv, s->ep_res, ns, name, NULL, set_subsets, subsets, &o, &err);
    }
    if (!r && err.code != ERR_NONE && err.code != ERR_NOT_FOUND && err.code != ERR_ALREADY_EXISTS)
        log_warn("vmservice: endpoints %s/%s: %s", ns, name, err.msg);
    store_obj_unref(r);
    err_clear(&err);
    json_decref(cur);
    json_decref(subsets);
}

static void svc_process(ctl_t *c, const char *key)
{
    svcctl_t *s = c->state;
    store_obj_t *o = store_get(c->srv->store, key);
    json_t *svc;
    const char *ns, *name, *type, *cip;
    const char *ing;
    char buf[IPADDR_STRLEN];
    err_t err = ERR_INIT;

    if (!o)
        return;
    svc = store_obj_parse(o);
    store_obj_unref(o);
    if (json_path_get(svc, "metadata.deletionTimestamp"))
        goto out;
    ns = json_path_str(svc, "metadata.namespace");
    name = json_path_str(svc, "metadata.name");
    type = json_path_str(svc, "spec.type") ?: "ClusterIP";
    cip = json_path_str(svc, "spec.clusterIp");
    ing = ingress_ip(svc);
    hold(s, key, cip, ing);
    if (strcmp(type, "ExternalName") && (!cip || !*cip) && s->cluster) {
        ipaddr_t a;
        obj_opts_t oo = {.fv = FIELD_VALIDATION_IGNORE};
        store_obj_t *r;
        if (ipam_allocate(s->cluster, &a, &err) < 0) {
            event_record(s->ev, svc, "Warning", "ClusterIPExhausted",
                         "No cluster IP is left in the service range %s.", s->service_cidr);
            goto out;
        }
        ipaddr_format(&a, buf);
        r = obj_update(c->srv, s->svc_res, ns, name, NULL, set_cluster_ip, buf, &oo, &err);
        ipam_release(s->cluster, &a);
        if (!r) {
            log_warn("vmservice: cannot give %s a cluster IP: %s", key, err.msg);
            goto out;
        }
        store_obj_unref(r);
        hold(s, key, buf, ing);
        cip = NULL; /* the update's event brings the service back */
    }
    if (!strcmp(type, "LoadBalancer") && !ing && s->lb) {
        const char *want = json_path_str(svc, "spec.loadBalancerIP");
        ipaddr_t a;
        json_t *set;
        store_obj_t *r;
        if (want && *want) {
            if (ipaddr_parse(want, &a, "spec.loadBalancerIP", &err) < 0 ||
                ipam_reserve(s->lb, &a, &err) < 0) {
                event_record(s->ev, svc, "Warning", "LoadBalancerIPUnavailable",
                             "spec.loadBalancerIP %s cannot be given: %s", want, err.msg);
                goto out;
            }
        } else if (ipam_allocate(s->lb, &a, &err) < 0) {
            event_record(s->ev, svc, "Warning", "LoadBalancerPoolExhausted",
                         "No address is left in the load balancer pool %s.", s->lb_ranges);
            goto out;
        }
        ipaddr_format(&a, buf);
        ipam_release(s->lb, &a);
        set = json_pack("{s:{s:[{s:s}]}}", "loadBalancer", "ingress", "ip", buf);
        r = ctl_status_update(c->srv, s->svc_res, ns, name, set, NULL, &err);
        json_decref(set);
        if (!r) {
            log_warn("vmservice: cannot give %s an ingress address: %s", key, err.msg);
            goto out;
        }
        store_obj_unref(r);
        hold(s, key, cip ? cip : json_path_str(svc, "spec.clusterIp"), buf);
        event_record(s->ev, svc, "Normal", "IngressAssigned", "Load balancer address %s.", buf);
    }
    endpoints_sync(c, svc);
out:
    err_clear(&err);
    json_decref(svc);
}

static void svc_idle(ctl_t *c)
{
    svcctl_t *s = c->state;
    while (g_hash_table_size(s->dirty) > 0) {
        GPtrArray *keys = ctl_take_keys(s->dirty);
        for (guint i = 0; i < keys->len; i++)
            svc_process(c, keys->pdata[i]);
        g_ptr_array_unref(keys);
    }
}

static void svc_free(ctl_t *c)
{
    svcctl_t *s = c->state;
    event_recorder_free(s->ev);
    ipam_pool_free(s->cluster);
    ipam_pool_free(s->lb);
    g_free(s->lb_ranges);
    g_free(s->service_cidr);
    g_hash_table_unref(s->held);
    g_hash_table_unref(s->dirty);
    g_free(s);
}

static const ctl_ops_t svc_ops = {
    .name = "vmservice",
    .prefix = "",
    .resync = svc_resync,
    .event = svc_event,
    .idle = svc_idle,
    .free = svc_free,
    .resync_ms = 5 * 60 * 1000,
};

ctl_t *ctl_vmservice_start(apiserver_t *srv, const char *service_cidr)
{
    svcctl_t *s = g_new0(svcctl_t, 1);
    s->service_cidr = g_strdup(service_cidr ? service_cidr : NET_SERVICE_CIDR_DEFAULT);
    s->ev = event_recorder_new(srv, "vmsvc-service");
    s->svc_res = registry_find(srv->reg, "vmoperator.vmware.com", "v1alpha2",
                               "virtualmachineservices");
    s->ep_res = registry_find(srv->reg, "", "v1", "endpoints");
    s->held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    s->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return ctl_start(srv, &svc_ops, s);
}
