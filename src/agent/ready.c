/*
 * ready: a VM's Ready condition, from its readiness probe (probe.h) while
 * its domain runs, else from its power state.  The agent keeps one probe
 * per running VM with a spec.readinessProbe in the scheduler and looks at
 * the VM again whenever the probe's verdict changes.
 */
#include "agent/agent_priv.h"

#include "agent/probe.h"
#include "util/jsonutil.h"

char *agent_guestinfo_path(agent_t *a, const char *uid)
{
    return g_build_filename(a->data_dir, "vms", uid, "guestinfo.log", NULL);
}

json_t *agent_ready_cond(agent_t *a, const char *key, const json_t *vm, const char *dom,
                         hv_state_t st, const char *ip4, int *again)
{
    const json_t *spec = json_path_get(vm, "spec.readinessProbe");
    bool probed = json_object_get(spec, "tcpSocket") || json_object_get(spec, "guestInfo") ||
                  json_object_get(spec, "guestHeartbeat");
    char msg[256];

    if (st != HV_STATE_RUNNING) {
        probe_remove(a->probes, key);
        return ctl_cond("Ready", false, "NotPoweredOn", "The VM is not powered on.");
    }
    if (!probed) {
        probe_remove(a->probes, key);
        return ctl_cond("Ready", true, "PoweredOn", "The VM is powered on and has no readiness probe.");
    }
    {
        char *gi = agent_guestinfo_path(a, json_path_str(vm, "metadata.uid"));
        probe_set(a->probes, key, spec, ip4, dom, gi);
        g_free(gi);
    }
    switch (probe_result(a->probes, key, msg, sizeof(msg))) {
    case PROBE_SUCCESS:
        return ctl_cond("Ready", true, "ProbeSucceeded", "%s", msg);
    case PROBE_FAILURE:
        return ctl_cond("Ready", false, "ProbeFailed", "%s", msg);
    default:
        (void)again;
        return ctl_cond("Ready", false, "ProbePending", "%s", msg);
    }
}
