/* netcfg: see netcfg.h. */
#include "model/netcfg.h"

#include <glib.h>
#include <string.h>

#include "model/ipaddr.h"
#include "util/jsonutil.h"

json_t *netcfg_interfaces(const json_t *vm)
{
    const json_t *ifaces = json_path_get(vm, "spec.network.interfaces");

    if (json_is_true(json_path_get(vm, "spec.network.disabled")))
        return json_array();
    if (json_array_size(ifaces) > 0)
        return json_deep_copy(ifaces);
    return json_pack("[{s:s}]", "name", "eth0");
}

char *netcfg_netif_name(const char *vm, const char *iface)
{
    return g_strconcat(vm, "-", iface, NULL);
}

static const json_t *first_nonempty(const json_t *a, const json_t *b, const json_t *c)
{
    if (json_array_size(a) > 0)
        return a;
    if (json_array_size(b) > 0)
        return b;
    if (json_array_size(c) > 0)
        return c;
    return NULL;
}

/* The allocation's address as "ip/prefix", from ipConfigs[0]. */
static json_t *allocated_cidr(const json_t *netif, const char **gateway)
{
    const json_t *ipc = json_array_get(json_path_get(netif, "status.ipConfigs"), 0);
    const char *ip = json_string_value(json_object_get(ipc, "ip"));
    const char *mask = json_string_value(json_object_get(ipc, "subnetMask"));
    ipaddr_t m;
    err_t err = ERR_INIT;
    int prefix = 0;

    *gateway = json_string_value(json_object_get(ipc, "gateway"));
    if (!ip || !mask || ipaddr_parse(mask, &m, "subnetMask", &err) < 0) {
        err_clear(&err);
        return NULL;
    }
    for (int i = 0; i < ipaddr_bits(m.family) / 8; i++)
        prefix += __builtin_popcount(m.b[i]);
    return json_sprintf("%s/%d", ip, prefix);
}

json_t *netcfg_resolve(const json_t *vm, const json_t *iface, const json_t *netif,
                       const json_t *network)
{
    static const char *const copied[] = {"name", "guestDeviceName", "dhcp4", "dhcp6",
                                         "gateway6", "routes"};
    const json_t *net = json_path_get(vm, "spec.network");
    const json_t *spec_addrs = json_object_get(iface, "addresses");
    const char *gw4 = json_string_value(json_object_get(iface, "gateway4"));
    const char *alloc_gw = NULL;
    json_t *out = json_object(), *cidr = allocated_cidr(netif, &alloc_gw);
    const json_t *v;
    bool dhcp4 = json_is_true(json_object_get(iface, "dhcp4"));

    for (size_t i = 0; i < G_N_ELEMENTS(copied); i++)
        if ((v = json_object_get(iface, copied[i])))
            json_object_set(out, copied[i], (json_t *)v);
    if (json_array_size(spec_addrs) > 0)
        json_object_set(out, "addresses", (json_t *)spec_addrs);
    else if (cidr && !dhcp4)
        json_object_set_new(out, "addresses", json_pack("[O]", cidr));
    if (gw4 && g_ascii_strcasecmp(gw4, "None") != 0)
        json_object_set_new(out, "gateway4", json_string(gw4));
    else if (!gw4 && !dhcp4 && alloc_gw && *alloc_gw)
        json_object_set_new(out, "gateway4", json_string(alloc_gw));
    if ((v = first_nonempty(json_object_get(iface, "nameservers"),
                            json_object_get(net, "nameservers"),
                            json_path_get(network, "spec.nameservers"))))
        json_object_set(out, "nameservers", (json_t *)v);
    if ((v = first_nonempty(json_object_get(iface, "searchDomains"),
                            json_object_get(net, "searchDomains"),
                            json_path_get(network, "spec.searchDomains"))))
        json_object_set(out, "searchDomains", (json_t *)v);
    if ((v = json_object_get(iface, "mtu")) || (v = json_path_get(network, "spec.mtu")))
        json_object_set(out, "mtu", (json_t *)v);
    json_decref(cidr);
    return out;
}

json_t *netcfg_status_config(const json_t *vm, const json_t *resolved)
{
    json_t *ifaces = json_array(), *r, *dns = json_object();
    const json_t *net = json_path_get(vm, "spec.network");
    const char *host = json_string_value(json_object_get(net, "hostName"));
    size_t i;

    json_array_foreach(resolved, i, r) {
        json_t *ip = json_object(), *e = json_pack("{s:O}", "name", json_object_get(r, "name"));
        json_t *idns = json_object();
        const json_t *v;
        if ((v = json_object_get(r, "addresses")))
            json_object_set(ip, "addresses", (json_t *)v);
        if ((v = json_object_get(r, "gateway4")))
            json_object_set(ip, "gateway4", (json_t *)v);
        if ((v = json_object_get(r, "gateway6")))
            json_object_set(ip, "gateway6", (json_t *)v);
        if (json_object_get(r, "dhcp4") || json_object_get(r, "dhcp6"))
            json_object_set_new(
                ip, "dhcp",
                json_pack("{s:{s:b},s:{s:b}}", "ip4", "enabled",
                          json_is_true(json_object_get(r, "dhcp4")), "ip6", "enabled",
                          json_is_true(json_object_get(r, "dhcp6"))));
        if ((v = json_object_get(r, "nameservers")))
            json_object_set(idns, "nameservers", (json_t *)v);
        if ((v = json_object_get(r, "searchDomains")))
            json_object_set(idns, "searchDomains", (json_t *)v);
        if (json_object_size(ip))
            json_object_set(e, "ip", ip);
        if (json_object_size(idns))
            json_object_set(e, "dns", idns);
        json_decref(ip);
        json_decref(idns);
        json_array_append_new(ifaces, e);
    }
    json_object_set_new(dns, "hostName",
                        json_string(host ? host : json_path_str(vm, "metadata.name") ?: ""));
    if (json_array_size(json_object_get(net, "nameservers")))
        json_object_set(dns, "nameservers", json_object_get(net, "nameservers"));
    if (json_array_size(json_object_get(net, "searchDomains")))
        json_object_set(dns, "searchDomains", json_object_get(net, "searchDomains"));
    return json_pack("{s:o,s:o}", "interfaces", ifaces, "dns", dns);
}
