/*
 * netcfg: what a VM's guest is told about its network, resolved from three
 * sources in order of precedence: the VM's own spec.network (per interface,
 * then VM-wide), the NetworkInterface that holds the interface's
 * allocation (IP, prefix, gateway, MAC), and the Network (gateway, DNS,
 * MTU).  Pure: objects in, objects out.
 *
 * The resolved interface has the shape of a spec.network.interfaces entry
 * (name, guestDeviceName, addresses, dhcp4, dhcp6, gateway4, gateway6,
 * nameservers, searchDomains, mtu, routes), so the seed renderers take it
 * as they take the user's, for every bootstrap provider.
 *
 * Rules:
 *   addresses    the spec's, else the allocation's ip/prefix (none with dhcp4)
 *   gateway4     the spec's ("None": no gateway), else the allocation's
 *   nameservers, searchDomains   the interface's, else spec.network's, else the Network's
 *   mtu          the interface's, else the Network's
 */
#ifndef VMSVC_NETCFG_H
#define VMSVC_NETCFG_H

#include <jansson.h>

/* The interfaces a VM asks for: spec.network.interfaces, or one "eth0" on
 * the default network when it names none; an empty array when
 * spec.network.disabled.  A new reference. */
json_t *netcfg_interfaces(const json_t *vm);

/* One interface resolved (a new object).  `netif` and `network` may be NULL. */
json_t *netcfg_resolve(const json_t *vm, const json_t *iface, const json_t *netif,
                       const json_t *network);

/* The VM's status.network.config from resolved interfaces. */
json_t *netcfg_status_config(const json_t *vm, const json_t *resolved);

/* The name of a VM's NetworkInterface for one of its interfaces
 * ("<vm>-<interface>"; g_free). */
char *netcfg_netif_name(const char *vm, const char *iface);

#endif
