/* agent_priv: the agent's state, shared by its files (agent.c, pvc.c). */
#ifndef VMSVC_AGENT_PRIV_H
#define VMSVC_AGENT_PRIV_H

#include "agent/agent.h"
#include "api/events.h"
#include "ctl/ctl_priv.h"
#include "ctl/queue.h"
#include "hostnet/hostnet.h"

#define PVC_FINALIZER "kubernetes.io/pvc-protection"

struct agent {
    apiserver_t *srv;
    char *data_dir, *node, *zone;
    int soft_timeout_s;
    int64_t alloc_cpu_milli, alloc_mem_bytes;
    hv_driver_t *hv;
    queue_t *q;
    ctl_t *follow;
    ctl_t *pvcs;            /* PersistentVolumeClaims: pvc.c */
    struct libsvc *lib;     /* content libraries, imports, publishing: library.c */
    event_recorder_t *ev;
    const resource_t *vm_res, *node_res;
    GMutex lock;            /* guards the tables below */
    GHashTable *uid_key;    /* VM uid -> store key */
    GHashTable *key_uid;    /* store key -> VM uid: the same pairs */
    char *host_mark;        /* "host":"<node>", as a VM placed here reads */
    GHashTable *soft_since; /* key -> gint64* monotonic time of a soft power-off request */
    GHashTable *own_rv;     /* key -> gint64*: the version of the VM the agent's own last
                               status write stored, whose event needs no look */
    struct agent_net *net;  /* bridges and packet rules: net.c */
    struct probe_sched *probes; /* readiness probes: probe.c, ready.c */
};

/* pvc.c: provisions claims in the storage pools and releases them. */
ctl_t *pvc_start(agent_t *a);
/* The file of a bound claim, or NULL (g_free). */
char *pvc_disk_path(agent_t *a, const json_t *pvc);

/* net.c: bridges, NAT and the data path of VirtualMachineServices. */
typedef struct agent_net agent_net_t;
agent_net_t *agent_net_start(agent_t *a, const hostnet_ops_t *ops, err_t *err);
void agent_net_stop(agent_net_t *n);
/* The host side of a VM's interfaces: their bridges made ready, the
 * domain spec's `nics` and the resolved guest configuration of each
 * interface (netcfg_resolve plus its macAddress), both new arrays.
 * ERR_NOT_FOUND while an interface has no allocation or its bridge is
 * missing. */
int agent_net_vm_prepare(agent_t *a, const json_t *vm, json_t **nics, json_t **resolved,
                         err_t *err);
/* Fill `set` with status.network and `conds` with the Ready condition of a
 * VM whose domain is in state `st`: the addresses are the guest agent's
 * while it answers (polled by the probe scheduler while the domain runs),
 * else the allocation's.  Returns the milliseconds after which to look
 * again (0: no need). */
int agent_net_vm_status(agent_t *a, const char *key, const json_t *vm, const char *dom,
                        hv_state_t st, json_t *set, json_t *conds);
/* probe.c: the Ready condition of a VM (a new condition entry): its
 * readiness probe's verdict while it runs, else whether it is powered on;
 * sets *again when the VM should be looked at again. */
/* The file a VM's guestinfo channel writes (g_free). */
char *agent_guestinfo_path(agent_t *a, const char *uid);
json_t *agent_ready_cond(agent_t *a, const char *key, const json_t *vm, const char *dom,
                         hv_state_t st, const char *ip4, int *again);

#endif
