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
 *   images/<id>                imported images (until content libraries)
 *   storage/<class>/<uid>.qcow2  boot disks, one pool per StorageClass
 *   vms/<uid>/                 seed.iso, nvram.fd, serial.log
 *   libvirt/                   the embedded libvirt driver's root
 *
 * A restarted agent adopts the domains it finds (they are named after the
 * VM's uid) and removes what belongs to VMs that no longer exist.
 */
#ifndef VMSVC_AGENT_H
#define VMSVC_AGENT_H

#include "api/admit.h"
#include "api/api.h"
#include "hv/hv.h"

#define AGENT_FINALIZER ADMIT_VM_FINALIZER

typedef struct agent_opts {
    const char *data_dir;
    const char *node_name;     /* NULL: the host name */
    const char *zone;          /* NULL: no zone label */
    const hv_ops_t *hv_ops;
    const char *libvirt_uri;   /* NULL: embedded */
    hv_accel_t accel;
    int64_t alloc_cpu_milli;   /* 0: what the host has */
    int64_t alloc_mem_bytes;   /* 0: what the host has */
    int workers;               /* parallel VM operations */
    int soft_timeout_s;        /* TrySoft: wait this long before a hard power-off */
} agent_opts_t;

typedef struct agent agent_t;

agent_t *agent_start(apiserver_t *srv, const agent_opts_t *o, err_t *err);
void agent_stop(agent_t *a);

/* The path of an imported image with this id, or NULL if the id is not a
 * plain file name (g_free). */
char *agent_image_path(const char *data_dir, const char *id);

#endif
