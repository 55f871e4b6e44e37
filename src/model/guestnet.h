/*
 * guestnet: a guest's own view of its network interfaces, as its
 * qemu-guest-agent reports them, and how that view enters the VM's
 * status.network.  Pure: text and objects in, objects out.
 *
 * The guest's view is an array in the guest's order:
 *
 *   [{"name": "eth0", "mac": "52:54:00:0a:0b:0c",
 *     "addresses": ["10.0.0.5/24", "fe80::5054:ff:fe0a:b0c/64"]}]
 *
 * with MACs in lower case and addresses in canonical text form with their
 * prefix length.  It is bounded whatever the guest says: at most
 * GUESTNET_MAX_IFACES interfaces and GUESTNET_MAX_ADDRS addresses of each
 * family per interface (the rest are dropped), names cut between
 * characters to at most GUESTNET_NAME_MAX bytes.  Interfaces without a hardware address (the
 * loopback, tunnels) and loopback addresses are left out.
 *
 * Merging: the interfaces of status.network, as built from the allocation
 * (each with ip.macAddr), take the guest's addresses where the guest
 * reports an interface with that MAC; the others keep the allocation's.
 * A guest address gets origin "linklayer" when it is link-local and
 * "manual" when the allocation holds it; otherwise the guest agent does not
 * say how it came, and neither does the status.
 */
#ifndef VMSVC_GUESTNET_H
#define VMSVC_GUESTNET_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

#define GUESTNET_MAX_IFACES 64
#define GUESTNET_MAX_ADDRS 16          /* per family and interface */
#define GUESTNET_NAME_MAX 64
#define GUESTNET_REPLY_MAX (1 << 20)   /* bytes of an agent reply we parse */

/* The guest's view from the reply of qemu-guest-agent's
 * guest-network-get-interfaces ({"return": [...]}, `len` bytes): a new
 * array, or NULL with ERR_INTERNAL when the reply is not one. */
json_t *guestnet_parse_qga(const char *reply, size_t len, err_t *err);

/* Replace, in `ifaces` (status.network.interfaces, changed in place), the
 * addresses of every interface whose ip.macAddr the guest's view `guest`
 * reports.  NULL `guest`: nothing changes. */
void guestnet_merge(json_t *ifaces, const json_t *guest);

/* The VM's primary address of `family` (AF_INET, AF_INET6), bare (no
 * prefix), from status.network.interfaces: `preferred` when an interface
 * has it, else the first address of that family that is neither link-local
 * nor loopback; NULL when none (g_free). */
char *guestnet_primary(const json_t *ifaces, int family, const char *preferred);

#endif
