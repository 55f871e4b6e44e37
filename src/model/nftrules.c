/* nftrules: see nftrules.h. */
#include "model/nftrules.h"

#include <glib.h>
#include <string.h>

#include "model/ipaddr.h"

#define PRIO_FILTER_BEFORE_DNAT (-110)
#define PRIO_DSTNAT (-100)
#define PRIO_SRCNAT 100

static json_t *table_ref(void)
{
    return json_pack("{s:s,s:s}", "family", "inet", "name", NFTRULES_TABLE);
}

static void add_cmd(json_t *cmds, const char *verb, const char *what, json_t *obj)
{
    json_array_append_new(cmds, json_pack("{s:{s:o}}", verb, what, obj));
}

static void add_chain(json_t *cmds, const char *name, const char *type, const char *hook, int prio)
{
    json_t *c = json_pack("{s:s,s:s,s:s}", "family", "inet", "table", NFTRULES_TABLE, "name", name);
    if (type)
        json_object_update_new(c, json_pack("{s:s,s:s,s:i,s:s}", "type", type, "hook", hook,
                                            "prio", prio, "policy", "accept"));
    add_cmd(cmds, "add", "chain", c);
}

static void add_rule(json_t *cmds, const char *chain, json_t *expr)
{
    add_cmd(cmds, "add", "rule",
            json_pack("{s:s,s:s,s:s,s:o}", "family", "inet", "table", NFTRULES_TABLE, "chain",
                      chain, "expr", expr));
}

static json_t *match(const char *op, json_t *left, json_t *right)
{
    return json_pack("{s:{s:s,s:o,s:o}}", "match", "op", op, "left", left, "right", right);
}

static json_t *payload(const char *proto, const char *field)
{
    return json_pack("{s:{s:s,s:s}}", "payload", "protocol", proto, "field", field);
}

static json_t *meta(const char *key)
{
    return json_pack("{s:{s:s}}", "meta", "key", key);
}

/* A prefix as an nft value: {"prefix": {"addr", "len"}} (network address). */
static json_t *prefix_value(const char *cidr, err_t *err)
{
    ipnet_t n;
    ipaddr_t first;
    char a[IPADDR_STRLEN];
    if (ipnet_parse(cidr, &n, "subnet", err) < 0)
        return NULL;
    ipnet_first(&n, &first);
    return json_pack("{s:{s:s,s:i}}", "prefix", "addr", ipaddr_format(&first, a), "len", n.prefix);
}

static int check_ip(const char *s, err_t *err)
{
    ipaddr_t a;
    if (ipaddr_parse(s, &a, "address", err) < 0)
        return -1;
    if (a.family != AF_INET) {
        err_set(err, ERR_INVALID, "Service address %s is not IPv4.", s);
        return -1;
    }
    return 0;
}

static int render_network(json_t *cmds, const json_t *net, err_t *err)
{
    const char *bridge = json_string_value(json_object_get(net, "bridge"));
    const char *subnet = json_string_value(json_object_get(net, "subnet"));
    const char *uplink = json_string_value(json_object_get(net, "uplink"));
    json_t *pv, *pv2;

    if (!bridge || !subnet || !(pv = prefix_value(subnet, err))) {
        if (!err_is_set(err))
            err_set(err, ERR_INVALID, "A network needs a bridge and a subnet.");
        return -1;
    }
    pv2 = json_deep_copy(pv);
    /* Hairpin: a VM's connection to a service, sent back onto its own bridge. */
    add_rule(cmds, "postrouting",
             json_pack("[o,o,o,{s:n}]",
                       match("in", json_pack("{s:{s:s}}", "ct", "key", "status"), json_string("dnat")),
                       match("==", meta("oifname"), json_string(bridge)),
                       match("==", payload("ip", "saddr"), json_deep_copy(pv)), "masquerade"));
    if (json_is_true(json_object_get(net, "nat"))) {
        json_t *expr = json_pack("[o,o]", match("==", payload("ip", "saddr"), pv),
                                 match("!=", payload("ip", "daddr"), pv2));
        json_array_append_new(expr, uplink ? match("==", meta("oifname"), json_string(uplink))
                                           : match("!=", meta("oifname"), json_string(bridge)));
        json_array_append_new(expr, json_pack("{s:n}", "masquerade"));
        add_rule(cmds, "postrouting", expr);
    } else {
        json_decref(pv);
        json_decref(pv2);
    }
    return 0;
}

static json_t *proto_match(const char *proto, int port)
{
    return match("==", payload(proto, "dport"), json_integer(port));
}

static int render_service(json_t *cmds, const json_t *svc, err_t *err)
{
    const json_t *eps = json_object_get(svc, "endpoints"), *ranges = json_object_get(svc, "sourceRanges");
    const char *cip = json_string_value(json_object_get(svc, "clusterIP"));
    json_t *vips = json_array(), *ingress = json_object_get(svc, "ingress"), *v, *port, *srcset = NULL;
    size_t i, j;
    int rc = -1;

    if (cip && *cip && strcmp(cip, "None") != 0)
        json_array_append_new(vips, json_string(cip));
    json_array_foreach(ingress, i, v)
        json_array_append(vips, v);
    json_array_foreach(vips, i, v)
        if (check_ip(json_string_value(v), err) < 0)
            goto out;
    json_array_foreach(eps, i, v)
        if (check_ip(json_string_value(v), err) < 0)
            goto out;
    if (json_array_size(ranges) > 0) {
        srcset = json_array();
        json_array_foreach(ranges, i, v) {
            const char *r = json_string_value(v);
            json_t *pv = r && strchr(r, '/') ? prefix_value(r, err) : NULL;
            if (!pv && (!r || check_ip(r, err) < 0))
                goto out;
            json_array_append_new(srcset, pv ? pv : json_string(r));
        }
    }
    json_array_foreach(json_object_get(svc, "ports"), i, port) {
        const char *p = json_string_value(json_object_get(port, "protocol"));
        char *proto = g_ascii_strdown(p ? p : "TCP", -1);
        int pn = (int)json_integer_value(json_object_get(port, "port"));
        int tp = (int)json_integer_value(json_object_get(port, "targetPort"));

        if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) {
            g_free(proto);
            continue; /* SCTP: not served */
        }
        if (tp <= 0)
            tp = pn;
        json_array_foreach(vips, j, v) {
            bool is_ingress = !(cip && !strcmp(cip, json_string_value(v)));
            if (json_array_size(eps) == 0) {
                add_rule(cmds, "service-filter",
                         json_pack("[o,o,{s:n}]", match("==", payload("ip", "daddr"), json_incref(v)),
                                   proto_match(proto, pn), "drop"));
                continue;
            }
            if (is_ingress && srcset)
                add_rule(cmds, "service-filter",
                         json_pack("[o,o,o,{s:n}]",
                                   match("==", payload("ip", "daddr"), json_incref(v)),
                                   proto_match(proto, pn),
                                   match("!=", payload("ip", "saddr"),
                                         json_pack("{s:O}", "set", srcset)),
                                   "drop"));
            json_t *addr;
            if (json_array_size(eps) == 1) {
                addr = json_incref(json_array_get(eps, 0));
            } else {
                json_t *set = json_array(), *e;
                size_t k;
                json_array_foreach(eps, k, e)
                    json_array_append_new(set, json_pack("[I,O]", (json_int_t)k, e));
                addr = json_pack("{s:{s:{s:{s:s,s:I,s:i}},s:{s:o}}}", "map", "key", "numgen",
                                 "mode", "random", "mod", (json_int_t)json_array_size(eps),
                                 "offset", 0, "data", "set", set);
            }
            add_rule(cmds, "services",
                     json_pack("[o,o,{s:{s:s,s:o,s:i}}]",
                               match("==", payload("ip", "daddr"), json_incref(v)),
                               proto_match(proto, pn), "dnat", "family", "ip", "addr", addr,
                               "port", tp));
        }
        g_free(proto);
    }
    rc = 0;
out:
    json_decref(vips);
    json_decref(srcset);
    return rc;
}

json_t *nftrules_render(const json_t *desc, err_t *err)
{
    json_t *cmds = json_array(), *v;
    size_t i;

    add_cmd(cmds, "add", "table", table_ref());
    add_cmd(cmds, "delete", "table", table_ref());
    add_cmd(cmds, "add", "table", table_ref());
    add_chain(cmds, "service-filter", NULL, NULL, 0);
    add_chain(cmds, "filter-pre", "filter", "prerouting", PRIO_FILTER_BEFORE_DNAT);
    add_chain(cmds, "filter-out", "filter", "output", PRIO_FILTER_BEFORE_DNAT);
    add_chain(cmds, "services", NULL, NULL, 0);
    add_chain(cmds, "prerouting", "nat", "prerouting", PRIO_DSTNAT);
    add_chain(cmds, "output", "nat", "output", PRIO_DSTNAT);
    add_chain(cmds, "postrouting", "nat", "postrouting", PRIO_SRCNAT);
    add_rule(cmds, "prerouting", json_pack("[{s:{s:s}}]", "jump", "target", "services"));
    add_rule(cmds, "output", json_pack("[{s:{s:s}}]", "jump", "target", "services"));
    add_rule(cmds, "filter-pre", json_pack("[{s:{s:s}}]", "jump", "target", "service-filter"));
    add_rule(cmds, "filter-out", json_pack("[{s:{s:s}}]", "jump", "target", "service-filter"));
    json_array_foreach(json_object_get(desc, "networks"), i, v)
        if (render_network(cmds, v, err) < 0)
            goto fail;
    json_array_foreach(json_object_get(desc, "services"), i, v)
        if (render_service(cmds, v, err) < 0)
            goto fail;
    return json_pack("{s:o}", "nftables", cmds);
fail:
    json_decref(cmds);
    return NULL;
}

json_t *nftrules_render_remove(void)
{
    json_t *cmds = json_array();
    add_cmd(cmds, "add", "table", table_ref());
    add_cmd(cmds, "delete", "table", table_ref());
    return json_pack("{s:o}", "nftables", cmds);
}
