/*
 * hostnet linux: bridges and addresses over rtnetlink (libnl-route-3),
 * packet rules through libnftables' JSON input, forwarding through
 * /proc/sys.  Everything happens in the network namespace of the process.
 * One mutex serializes the calls (a libnl socket and an nft context are
 * not for concurrent use).
 */
#include "hostnet/hostnet.h"

#include <errno.h>
#include <glib.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/route.h>
#include <nftables/libnftables.h>
#include <string.h>

#include "util/fs.h"

typedef struct lnx {
    GMutex lock;
    struct nl_sock *sk;
    struct nft_ctx *nft;
} lnx_t;

static void *lnx_open(err_t *err)
{
    lnx_t *l = g_new0(lnx_t, 1);
    int rc;

    g_mutex_init(&l->lock);
    l->sk = nl_socket_alloc();
    if (!l->sk || (rc = nl_connect(l->sk, NETLINK_ROUTE)) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot open a netlink socket: %s.",
                l->sk ? nl_geterror(rc) : "out of memory");
        goto fail;
    }
    l->nft = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!l->nft) {
        err_set(err, ERR_INTERNAL, "Cannot make a libnftables context.");
        goto fail;
    }
    /* JSON in (libnftables parses JSON input when JSON output is on). */
    nft_ctx_output_set_flags(l->nft, NFT_CTX_OUTPUT_JSON);
    nft_ctx_buffer_output(l->nft);
    nft_ctx_buffer_error(l->nft);
    return l;
fail:
    if (l->sk)
        nl_socket_free(l->sk);
    g_mutex_clear(&l->lock);
    g_free(l);
    return NULL;
}

static void lnx_close(void *h)
{
    lnx_t *l = h;
    nft_ctx_free(l->nft);
    nl_socket_free(l->sk);
    g_mutex_clear(&l->lock);
    g_free(l);
}

static int nl_fail(err_t *err, int rc, const char *what, const char *name)
{
    err_set(err, ERR_INTERNAL, "Cannot %s %s: %s.", what, name, nl_geterror(rc));
    return -1;
}

static int bridge_ensure_locked(lnx_t *l, const hostnet_bridge_t *b, err_t *err)
{
    struct rtnl_link *link = NULL, *change = NULL;
    struct rtnl_addr *addr = NULL;
    struct nl_addr *local = NULL;
    int rc, ret = -1;

    if (rtnl_link_get_kernel(l->sk, 0, b->name, &link) < 0) {
        struct rtnl_link *nb = rtnl_link_bridge_alloc();
        rtnl_link_set_name(nb, b->name);
        if (b->mtu > 0)
            rtnl_link_set_mtu(nb, (unsigned)b->mtu);
        rc = rtnl_link_add(l->sk, nb, NLM_F_CREATE | NLM_F_EXCL);
        rtnl_link_put(nb);
        if (rc < 0 && rc != -NLE_EXIST) {
            nl_fail(err, rc, "create the bridge", b->name);
            goto out;
        }
        if ((rc = rtnl_link_get_kernel(l->sk, 0, b->name, &link)) < 0) {
            nl_fail(err, rc, "find the bridge", b->name);
            goto out;
        }
    } else if (!rtnl_link_is_bridge(link)) {
        err_set(err, ERR_INVALID, "%s exists and is not a bridge.", b->name);
        goto out;
    }
    change = rtnl_link_alloc();
    rtnl_link_set_flags(change, IFF_UP);
    if (b->mtu > 0 && rtnl_link_get_mtu(link) != (unsigned)b->mtu)
        rtnl_link_set_mtu(change, (unsigned)b->mtu);
    if (!(rtnl_link_get_flags(link) & IFF_UP) ||
        (b->mtu > 0 && rtnl_link_get_mtu(link) != (unsigned)b->mtu)) {
        if ((rc = rtnl_link_change(l->sk, link, change, 0)) < 0) {
            nl_fail(err, rc, "bring up the bridge", b->name);
            goto out;
        }
    }
    if (b->address) {
        if ((rc = nl_addr_parse(b->address, AF_INET, &local)) < 0) {
            nl_fail(err, rc, "parse the address of", b->name);
            goto out;
        }
        addr = rtnl_addr_alloc();
        rtnl_addr_set_ifindex(addr, rtnl_link_get_ifindex(link));
        rtnl_addr_set_local(addr, local);
        rtnl_addr_set_prefixlen(addr, nl_addr_get_prefixlen(local));
        rc = rtnl_addr_add(l->sk, addr, NLM_F_CREATE | NLM_F_EXCL);
        if (rc < 0 && rc != -NLE_EXIST) {
            nl_fail(err, rc, "add the gateway address to", b->name);
            goto out;
        }
    }
    ret = 0;
out:
    if (addr)
        rtnl_addr_put(addr);
    if (local)
        nl_addr_put(local);
    if (change)
        rtnl_link_put(change);
    if (link)
        rtnl_link_put(link);
    return ret;
}

static int lnx_bridge_ensure(void *h, const hostnet_bridge_t *b, err_t *err)
{
    lnx_t *l = h;
    int rc;
    g_mutex_lock(&l->lock);
    rc = bridge_ensure_locked(l, b, err);
    g_mutex_unlock(&l->lock);
    return rc;
}

static int lnx_bridge_remove(void *h, const char *name, err_t *err)
{
    lnx_t *l = h;
    struct rtnl_link *link = NULL;
    int rc = 0;

    g_mutex_lock(&l->lock);
    if (rtnl_link_get_kernel(l->sk, 0, name, &link) == 0) {
        if (!rtnl_link_is_bridge(link)) {
            err_set(err, ERR_INVALID, "%s is not a bridge; it is left alone.", name);
            rc = -1;
        } else if ((rc = rtnl_link_delete(l->sk, link)) < 0 && rc != -NLE_OBJ_NOTFOUND) {
            rc = nl_fail(err, rc, "remove the bridge", name);
        } else {
            rc = 0;
        }
        rtnl_link_put(link);
    }
    g_mutex_unlock(&l->lock);
    return rc;
}

static bool lnx_link_exists(void *h, const char *name)
{
    return if_nametoindex(name) != 0;
}

static int lnx_rules_apply(void *h, const json_t *batch, err_t *err)
{
    lnx_t *l = h;
    char *text = json_dumps(batch, JSON_COMPACT);
    int rc;

    g_mutex_lock(&l->lock);
    rc = nft_run_cmd_from_buffer(l->nft, text);
    if (rc != 0) {
        const char *e = nft_ctx_get_error_buffer(l->nft);
        err_set(err, ERR_INTERNAL, "nftables refused the rules: %.700s",
                e && *e ? g_strchomp(g_strdup(e)) : "no reason given");
    }
    /* Reading the buffers resets them for the next command. */
    nft_ctx_get_output_buffer(l->nft);
    nft_ctx_get_error_buffer(l->nft);
    g_mutex_unlock(&l->lock);
    free(text);
    return rc == 0 ? 0 : -1;
}

static int lnx_forwarding_enable(void *h, err_t *err)
{
    static const char path[] = "/proc/sys/net/ipv4/ip_forward";
    char *cur = fs_read_all(path, 16, NULL, err);
    int rc = 0;
    if (!cur)
        return -1;
    if (cur[0] != '1') {
        FILE *f = fopen(path, "w");
        if (!f || fputs("1\n", f) < 0) {
            err_set(err, ERR_INTERNAL, "Cannot turn on IPv4 forwarding: %s.", g_strerror(errno));
            rc = -1;
        }
        if (f && fclose(f) != 0 && rc == 0) {
            err_set(err, ERR_INTERNAL, "Cannot turn on IPv4 forwarding: %s.", g_strerror(errno));
            rc = -1;
        }
    }
    g_free(cur);
    return rc;
}

static int lnx_local_route(void *h, const char *ip, bool add, err_t *err)
{
    lnx_t *l = h;
    struct rtnl_route *r = rtnl_route_alloc();
    struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
    struct nl_addr *dst = NULL;
    char *full = g_strconcat(ip, "/32", NULL);
    int rc, lo = (int)if_nametoindex("lo");

    if ((rc = nl_addr_parse(full, AF_INET, &dst)) < 0 || lo == 0) {
        rtnl_route_nh_free(nh);
        rc = nl_fail(err, rc < 0 ? rc : -NLE_NODEV, "route", ip);
        goto out;
    }
    rtnl_route_set_family(r, AF_INET);
    rtnl_route_set_table(r, RT_TABLE_LOCAL);
    rtnl_route_set_type(r, RTN_LOCAL);
    rtnl_route_set_scope(r, RT_SCOPE_HOST);
    rtnl_route_set_protocol(r, RTPROT_STATIC);
    rtnl_route_set_dst(r, dst);
    rtnl_route_nh_set_ifindex(nh, lo);
    rtnl_route_add_nexthop(r, nh);
    g_mutex_lock(&l->lock);
    if (add) {
        rc = rtnl_route_add(l->sk, r, NLM_F_CREATE | NLM_F_REPLACE);
        if (rc < 0 && rc != -NLE_EXIST)
            rc = nl_fail(err, rc, "add a local route for", ip);
        else
            rc = 0;
    } else {
        rc = rtnl_route_delete(l->sk, r, 0);
        if (rc < 0 && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_NOADDR)
            rc = nl_fail(err, rc, "remove the local route of", ip);
        else
            rc = 0;
    }
    g_mutex_unlock(&l->lock);
out:
    if (dst)
        nl_addr_put(dst);
    rtnl_route_put(r);
    g_free(full);
    return rc;
}

const hostnet_ops_t hostnet_linux_ops = {
    .name = "linux",
    .open = lnx_open,
    .close = lnx_close,
    .bridge_ensure = lnx_bridge_ensure,
    .bridge_remove = lnx_bridge_remove,
    .link_exists = lnx_link_exists,
    .rules_apply = lnx_rules_apply,
    .forwarding_enable = lnx_forwarding_enable,
    .local_route = lnx_local_route,
};
