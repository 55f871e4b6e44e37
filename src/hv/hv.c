/*
 * hv: the driver-independent side of the hypervisor layer: a driver handle
 * is an ops table plus the driver's own handle, and every hv_* call is a
 * thin wrapper that checks the driver implements the operation.  See hv.h.
 */
#include "hv/hv.h"

#include <stdlib.h>

struct hv_driver {
    const hv_ops_t *ops;
    void *h;
};

static const char *const state_names[HV_STATE_LAST] = {
    [HV_STATE_NONE] = "None",
    [HV_STATE_RUNNING] = "Running",
    [HV_STATE_PAUSED] = "Paused",
    [HV_STATE_SAVED] = "Saved",
    [HV_STATE_SHUTOFF] = "Shutoff",
    [HV_STATE_CRASHED] = "Crashed",
};

const char *hv_state_name(hv_state_t s)
{
    return s >= 0 && s < HV_STATE_LAST ? state_names[s] : "Unknown";
}

void hv_domain_info_free(hv_domain_info_t *d)
{
    if (!d)
        return;
    g_free(d->name);
    g_free(d->vm_uid);
    g_free(d);
}

/* The driver lacks `what`: a bug in the caller's choice of driver. */
static int unsupported(const hv_driver_t *d, const char *what, err_t *err)
{
    err_set(err, ERR_INTERNAL, "The %s driver cannot %s.", d->ops->name, what);
    return -1;
}

#define HV_CALL(d, op, what, err, ...)                                                 \
    ((d)->ops->op ? (d)->ops->op((d)->h, __VA_ARGS__) : unsupported((d), (what), (err)))

hv_driver_t *hv_open(const hv_ops_t *ops, const hv_open_opts_t *o, err_t *err)
{
    hv_driver_t *d;
    void *h;

    if (!ops->open) {
        err_set(err, ERR_INTERNAL, "The %s driver cannot be opened.", ops->name);
        return NULL;
    }
    h = ops->open(o, err);
    if (!h)
        return NULL;
    d = g_new0(hv_driver_t, 1);
    d->ops = ops;
    d->h = h;
    return d;
}

void hv_close(hv_driver_t *d)
{
    if (!d)
        return;
    if (d->ops->close)
        d->ops->close(d->h);
    g_free(d);
}

const char *hv_driver_name(const hv_driver_t *d)
{
    return d->ops->name;
}

hv_accel_t hv_accel(hv_driver_t *d)
{
    return d->ops->accel ? d->ops->accel(d->h) : HV_ACCEL_TCG;
}

int hv_define(hv_driver_t *d, const json_t *spec, err_t *err)
{
    return HV_CALL(d, define, "define domains", err, spec, err);
}

int hv_undefine(hv_driver_t *d, const char *name, err_t *err)
{
    return HV_CALL(d, undefine, "undefine domains", err, name, err);
}

int hv_start(hv_driver_t *d, const char *name, err_t *err)
{
    return HV_CALL(d, start, "start domains", err, name, err);
}

int hv_shutdown(hv_driver_t *d, const char *name, err_t *err)
{
    return HV_CALL(d, shutdown, "shut domains down", err, name, err);
}

int hv_destroy(hv_driver_t *d, const char *name, err_t *err)
{
    return HV_CALL(d, destroy, "power domains off", err, name, err);
}

int hv_suspend(hv_driver_t *d, const char *name, err_t *err)
{
    return HV_CALL(d, suspend, "suspend domains to disk", err, name, err);
}

int hv_pause(hv_driver_t *d, const char *name, err_t *err)
{
    return HV_CALL(d, pause, "pause domains", err, name, err);
}

int hv_resume(hv_driver_t *d, const char *name, err_t *err)
{
    return HV_CALL(d, resume, "resume domains", err, name, err);
}

int hv_reboot(hv_driver_t *d, const char *name, bool hard, err_t *err)
{
    return HV_CALL(d, reboot, hard ? "reset domains" : "reboot domains", err, name, hard, err);
}

int hv_state(hv_driver_t *d, const char *name, hv_state_t *st, err_t *err)
{
    *st = HV_STATE_NONE;
    return HV_CALL(d, state, "report domain states", err, name, st, err);
}

GPtrArray *hv_list(hv_driver_t *d, err_t *err)
{
    if (!d->ops->list) {
        unsupported(d, "list domains", err);
        return NULL;
    }
    return d->ops->list(d->h, err);
}

int hv_attach_disk(hv_driver_t *d, const char *name, const json_t *disk, err_t *err)
{
    return HV_CALL(d, attach_disk, "attach disks", err, name, disk, err);
}

int hv_detach_disk(hv_driver_t *d, const char *name, const char *target, err_t *err)
{
    return HV_CALL(d, detach_disk, "detach disks", err, name, target, err);
}

int hv_pid(hv_driver_t *d, const char *name)
{
    return d->ops->pid ? d->ops->pid(d->h, name) : 0;
}

int hv_guest_ping(hv_driver_t *d, const char *name, int timeout_s, err_t *err)
{
    return HV_CALL(d, guest_ping, "reach guest agents", err, name, timeout_s, err);
}

json_t *hv_guest_interfaces(hv_driver_t *d, const char *name, int timeout_s, err_t *err)
{
    if (!d->ops->guest_interfaces) {
        unsupported(d, "ask guest agents for their interfaces", err);
        return NULL;
    }
    return d->ops->guest_interfaces(d->h, name, timeout_s, err);
}

int hv_backup_disk(hv_driver_t *d, const char *name, const char *target, const char *dest,
                   err_t *err)
{
    return HV_CALL(d, backup_disk, "copy the disks of running domains", err, name, target, dest,
                   err);
}
