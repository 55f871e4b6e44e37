/*
 * admit: rules of the API for particular kinds that a schema cannot say,
 * applied to every create and update before schema validation (like
 * Kubernetes' admission webhooks): they may change the object (mutation)
 * and refuse it with ERR_INVALID and field causes.
 *
 * ContentLibrary, ClusterContentLibrary and their items: a new one without
 * spec.uuid gets a random one.
 *
 * Network (netoperator.vmware.com): spec.gateway4 is an IPv4 address with
 * a prefix length; spec.ipRanges are prefixes, ranges or addresses inside
 * that subnet, at most IPAM_MAX_ADDRESSES in all; spec.nameservers are
 * addresses.
 *
 * VirtualMachineService: clusterIp ("None" or empty aside) and
 * loadBalancerIP are addresses, loadBalancerSourceRanges are prefixes,
 * ports and target ports are 1..65535 of TCP or UDP (what the data path
 * carries).
 *
 * VirtualMachine:
 *   - a new VM gets the finalizer ADMIT_VM_FINALIZER, so that its disks and
 *     domain are cleaned up before it goes, however fast it is deleted;
 *   - spec.nextRestartTime: empty on create; on update "now" (any case)
 *     becomes the current time, anything else must be the stored value;
 *   - spec.bootstrap: one provider at a time and the other rules of
 *     seed_validate_bootstrap.
 */
#ifndef VMSVC_ADMIT_H
#define VMSVC_ADMIT_H

#include <jansson.h>

#include "model/schema.h"
#include "util/err.h"

#define ADMIT_VM_FINALIZER "vmoperator.vmware.com/virtualmachine"

/* `old` is the stored object for an update, NULL for a create. */
int admit(const resource_t *res, json_t *obj, const json_t *old, err_t *err);

#endif
