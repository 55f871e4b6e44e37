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
ctl_t *ctl_vmservice_start(apiserver_t *srv, const char *service_cidr);

/* The default network of a fresh install, made once per data directory
 * (a ConfigMap in vmsvc-system records that, so an administrator's
 * deletion sticks): "default" in vmsvc-system, labelled as the default
 * network, a managed bridge vmsvc0 with NAT, 10.200.0.1/16. */
int net_defaults_ensure(apiserver_t *srv, err_t *err);

#endif
