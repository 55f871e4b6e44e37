/*
 * agent: runs the VMs placed on this host.  It registers the host as a Node
 * (capacity, zone label), follows the VirtualMachines whose status.host
 * names it, and makes the hypervisor match them: boot disk, seed, domain,
 * power state, restarts, deletion.  It writes what it observes back to the
 * VM's status and records Events; it reaches every object through the same
 * interface as any API client (api/objects.h).  It owns every hypervisor
 * call.
 *
 * Files under the data directory:
 *   libraries/<lib uid>/<item uuid>/  content library items (library.h)
 *   storage/<class>/<uid>.qcow2  boot disks, one pool per StorageClass
 *   vms/<uid>/                 seed.iso, nvram.fd, serial.log, base.img (a
 *                              hard link to the image the boot disk is an
 *                              overlay on, so it outlives the item)
 *   bases/                     copies of images from libraries on another
 *                              file system, linked from vms/<uid>/base.img
 *   libvirt/                   the embedded libvirt driver's root
 *
 * A restarted agent adopts the domains it finds (they are named after the
 * VM's uid) and removes what belongs to VMs that no longer exist.
 */
#ifndef VMSVC_AGENT_H
#define VMSVC_AGENT_H

#include "api/admit.h"
#include "api/api.h"
#include "hostnet/hostnet.h"
#include "hv/hv.h"

#define AGENT_FINALIZER ADMIT_VM_FINALIZER

typedef struct agent_opts {
    const char *data_dir;
    const char *node_name;     /* NULL: the host name */
    const char *zone;          /* NULL: no zone label */
    const hv_ops_t *hv_ops;
    const char *libvirt_uri;   /* NULL: embedded */
    hv_accel_t accel;
    int guest_nice;            /* QEMU's nice value; 0: the service's */
    int64_t alloc_cpu_milli;   /* 0: what the host has */
    int64_t alloc_mem_bytes;   /* 0: what the host has */
    int workers;               /* parallel VM operations */
    int soft_timeout_s;        /* TrySoft: wait this long before a hard power-off */
    const hostnet_ops_t *net_ops; /* bridges and packet rules; NULL: linux */
} agent_opts_t;

typedef struct agent agent_t;

agent_t *agent_start(apiserver_t *srv, const agent_opts_t *o, err_t *err);
void agent_stop(agent_t *a);

#endif
