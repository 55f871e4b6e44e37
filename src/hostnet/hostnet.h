/*
 * hostnet: the host side of guest networking, as the agent drives it:
 * Linux bridges (with the gateway address on them), IPv4 forwarding, and
 * the packet rules of model/nftrules.h.  Drivers are a table of functions
 * reached only through the hostnet_* wrappers (where tests inject faults):
 *
 *   hostnet_linux_ops  rtnetlink through libnl-route-3 for links and
 *                      addresses, libnftables (JSON batches) for the rules,
 *                      /proc/sys for forwarding; acts on the network
 *                      namespace the process runs in
 *   hostnet_fake_ops   in memory, for control-plane scale tests and the
 *                      fake hypervisor
 *
 * Every call may block briefly (netlink round trips); a handle is safe to
 * use from several threads (calls are serialized inside).
 */
#ifndef VMSVC_HOSTNET_H
#define VMSVC_HOSTNET_H

#include <jansson.h>
#include <stdbool.h>

#include "util/err.h"

typedef struct hostnet_bridge {
    const char *name;
    const char *address;   /* "10.200.0.1/16" for a managed bridge, or NULL */
    int mtu;               /* 0: leave as is */
} hostnet_bridge_t;

typedef struct hostnet_ops {
    const char *name;
    void *(*open)(err_t *err);
    void (*close)(void *h);
    /* Create the bridge if missing, set its MTU and address, bring it up. */
    int (*bridge_ensure)(void *h, const hostnet_bridge_t *b, err_t *err);
    /* Remove a bridge; no error when it is not there. */
    int (*bridge_remove)(void *h, const char *name, err_t *err);
    /* Whether a link of that name exists. */
    bool (*link_exists)(void *h, const char *name);
    /* Apply a libnftables JSON batch ({"nftables": [...]}). */
    int (*rules_apply)(void *h, const json_t *batch, err_t *err);
    /* Turn IPv4 forwarding on. */
    int (*forwarding_enable)(void *h, err_t *err);
    /* Add (add=true) or remove a route of type local for one IPv4 address
     * (a service address): the host takes packets to it as its own, so
     * its own connections to it pass the output hook's DNAT, and nothing
     * to it ever leaves the host unrewritten.  Adding an existing one or
     * removing a missing one is no error. */
    int (*local_route)(void *h, const char *ip, bool add, err_t *err);
} hostnet_ops_t;

extern const hostnet_ops_t hostnet_linux_ops;
extern const hostnet_ops_t hostnet_fake_ops;

typedef struct hostnet hostnet_t;

hostnet_t *hostnet_open(const hostnet_ops_t *ops, err_t *err);
void hostnet_close(hostnet_t *n);
const char *hostnet_driver_name(const hostnet_t *n);
int hostnet_bridge_ensure(hostnet_t *n, const hostnet_bridge_t *b, err_t *err);
int hostnet_bridge_remove(hostnet_t *n, const char *name, err_t *err);
bool hostnet_link_exists(hostnet_t *n, const char *name);
int hostnet_rules_apply(hostnet_t *n, const json_t *batch, err_t *err);
int hostnet_forwarding_enable(hostnet_t *n, err_t *err);
int hostnet_local_route(hostnet_t *n, const char *ip, bool add, err_t *err);

/* The fake driver's record of what it was asked (for tests): an object
 * {"bridges": {name: {address, mtu}}, "rules": <last batch>, "forwarding": bool,
 *  "localRoutes": {ip: true}}. */
json_t *hostnet_fake_state(hostnet_t *n);

#endif
