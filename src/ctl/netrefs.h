/*
 * netrefs: how names of networks resolve, in one place for the controllers
 * and the agent (as refs.h does for classes and images).
 *
 *   a named network        the Network of that name in the VM's namespace,
 *                          else in REFS_SHARED_NS
 *   the default network    of a namespace: its Network labelled
 *                          NETREFS_DEFAULT_LABEL=true, else its only
 *                          Network; a namespace with none uses the default
 *                          network of REFS_SHARED_NS (where a fresh install
 *                          puts one)
 *
 * A NetworkInterface records the Network it was allocated from by uid
 * (status.networkID) and by namespace/name (annotation NETREFS_NETWORK_ANN),
 * so that a Network deleted and made again is never taken for the old one.
 * Each returns a parsed object (a new reference) or NULL.
 */
#ifndef VMSVC_NETREFS_H
#define VMSVC_NETREFS_H

#include <jansson.h>

#include "api/api.h"

#define NETREFS_DEFAULT_LABEL "netoperator.vmware.com/default-network"
#define NETREFS_NETWORK_ANN "vmsvc.dev/network"
#define NETREFS_VM_LABEL "vmsvc.dev/vm"
#define NETREFS_FINALIZER "vmsvc.dev/network-in-use"
#define NETREFS_NETWORK_PREFIX "netoperator.vmware.com/networks/"
#define NETREFS_NETIF_PREFIX "netoperator.vmware.com/networkinterfaces/"

/* `name` NULL or empty: the default network.  Both give the store's
 * shared parse: read it only, json_decref it. */
json_t *netrefs_network(apiserver_t *srv, const char *ns, const char *name);
json_t *netrefs_default_network(apiserver_t *srv, const char *ns);
/* The Network a NetworkInterface was allocated from, if it still exists
 * (same uid); the store's shared parse, as above. */
json_t *netrefs_network_of(apiserver_t *srv, const json_t *netif);
/* The NetworkInterfaces owned by a VM (by the NETREFS_VM_LABEL label,
 * among those named "<vm>-..."), as a new object name -> NetworkInterface;
 * the interfaces are the store's shared parses (store_obj_json): read
 * them only. */
json_t *netrefs_netifs_of(apiserver_t *srv, const char *ns, const char *vm);
/* The bridge of a Network on the hosts: spec.bridge.name, else "vmsvc-"
 * and the first 8 characters of its uid (g_free). */
char *netrefs_bridge_name(const json_t *network);

#endif
