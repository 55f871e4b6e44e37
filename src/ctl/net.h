/*
 * net: the controllers of guest networking (see each file):
 *   netif.c      Networks, their address pools and the NetworkInterface of
 *                every VM interface (the allocator)
 *   vmservice.c  VirtualMachineServices: cluster IPs, load balancer
 *                addresses and the Endpoints of ready VMs
 */
#ifndef VMSVC_CTL_NET_H
#define VMSVC_CTL_NET_H

#include "api/api.h"
#include "ctl/ctl.h"

/* Default address pool of cluster IPs. */
#define NET_SERVICE_CIDR_DEFAULT "10.96.0.0/16"
/* The load balancer pool: data key "ranges" of this ConfigMap in
 * vmsvc-system (comma-separated CIDRs or first-last ranges), else the
 * default. */
#define NET_LB_CONFIGMAP "vmsvc-load-balancer"
#define NET_LB_RANGE_DEFAULT "10.97.0.0/24"

ctl_t *ctl_netif_start(apiserver_t *srv);

/* A VM's VirtualMachineNetworkReady condition is the network controller's,
 * with one exception that saves a new VM a second status write (and every
 * watcher of VMs a second event): its first True, when every interface
 * was made at the first try or the VM asks for none, goes out with the VM
 * controller's own conditions.  Such a VM is left to the VM controller,
 * which looks at it again when its interfaces appear (their ADDED events);
 * any other outcome the network controller writes itself.
 *
 * For a VM without that condition: the True one (a new reference) when the
 * NetworkInterface of each of its interfaces exists or it asks for none,
 * NULL while one is missing. */
#define NET_READY_COND "VirtualMachineNetworkReady"
json_t *net_ready_first(apiserver_t *srv, const json_t *vm);

ctl_t *ctl_vmservice_start(apiserver_t *srv, const char *service_cidr);

/* The default network of a fresh install, made once per data directory
 * (a ConfigMap in vmsvc-system records that, so an administrator's
 * deletion sticks): "default" in vmsvc-system, labelled as the default
 * network, a managed bridge vmsvc0 with NAT, 10.200.0.1/16. */
int net_defaults_ensure(apiserver_t *srv, err_t *err);

#endif
