/* agent_priv: the agent's state, shared by its files (agent.c, pvc.c). */
#ifndef VMSVC_AGENT_PRIV_H
#define VMSVC_AGENT_PRIV_H

#include "agent/agent.h"
#include "api/events.h"
#include "ctl/ctl_priv.h"
#include "ctl/queue.h"

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
    event_recorder_t *ev;
    const resource_t *vm_res, *node_res;
    GMutex lock;            /* guards the tables below */
    GHashTable *uid_key;    /* VM uid -> store key */
    GHashTable *soft_since; /* key -> gint64* monotonic time of a soft power-off request */
};

/* pvc.c: provisions claims in the storage pools and releases them. */
ctl_t *pvc_start(agent_t *a);
/* The file of a bound claim, or NULL (g_free). */
char *pvc_disk_path(agent_t *a, const json_t *pvc);

#endif
