/*
 * hv: the hypervisor layer.  A driver runs domains (one per VirtualMachine)
 * on this host; the agent is its only caller.  Drivers are a table of
 * functions reached only through the hv_* wrappers below (the wrappers are
 * also where tests inject faults):
 *
 *   hv_libvirt_ops  libvirt, by default the embedded QEMU driver
 *                   (qemu:///embed?root=DIR), no daemon needed
 *   hv_fake_ops     in memory, for control-plane scale tests only
 *
 * A domain is described by a JSON document, the domain spec (see
 * hv_domain_spec below), built by the agent from the VM, its class and its
 * disks; model/domain.c renders it to libvirt XML.  Domains carry the VM's
 * uid in their metadata, so that a restarted server finds the domains it
 * started (hv_list) instead of starting a second one.
 *
 * Every call may block (libvirt talks to QEMU): never call with a lock held.
 * A driver handle is safe to use from several threads at once.
 */
#ifndef VMSVC_HV_H
#define VMSVC_HV_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

typedef enum {
    HV_STATE_NONE,      /* no such domain */
    HV_STATE_RUNNING,
    HV_STATE_PAUSED,    /* suspended in memory */
    HV_STATE_SAVED,     /* suspended to disk (managed save); starts where it left off */
    HV_STATE_SHUTOFF,
    HV_STATE_CRASHED,
    HV_STATE_LAST
} hv_state_t;

const char *hv_state_name(hv_state_t s);

typedef enum { HV_ACCEL_AUTO, HV_ACCEL_KVM, HV_ACCEL_TCG, HV_ACCEL_LAST } hv_accel_t;

/* A change of a domain's state, reported by the driver from its own thread.
 * `name` is the domain name; the callback must not block for long. */
typedef void (*hv_event_fn)(void *ctx, const char *name, hv_state_t state);

typedef struct hv_domain_info {
    char *name;
    char *vm_uid;      /* from the domain metadata; NULL for foreign domains */
    hv_state_t state;
} hv_domain_info_t;

void hv_domain_info_free(hv_domain_info_t *d);

typedef struct hv_open_opts {
    const char *uri;        /* NULL: the embedded driver under root_dir */
    const char *root_dir;   /* <data-dir>/libvirt */
    hv_accel_t accel;       /* AUTO: KVM where a guest really runs, else TCG with a warning */
    int guest_nice;         /* 1..19: a started domain's QEMU runs at this nice value,
                             * below the service's threads; 0: as the service */
    hv_event_fn on_event;
    void *event_ctx;
} hv_open_opts_t;

typedef struct hv_driver hv_driver_t;

typedef struct hv_ops {
    const char *name;
    void *(*open)(const hv_open_opts_t *o, err_t *err);
    void (*close)(void *h);
    /* The accelerator in use once opened (KVM or TCG). */
    hv_accel_t (*accel)(void *h);
    /* Define (or redefine, same name) a persistent domain from a domain spec. */
    int (*define)(void *h, const json_t *spec, err_t *err);
    int (*undefine)(void *h, const char *name, err_t *err);
    int (*start)(void *h, const char *name, err_t *err);     /* also restores a saved domain */
    int (*shutdown)(void *h, const char *name, err_t *err);  /* ask the guest (ACPI) */
    int (*destroy)(void *h, const char *name, err_t *err);   /* pull the plug */
    int (*suspend)(void *h, const char *name, err_t *err);   /* to disk (managed save) */
    int (*pause)(void *h, const char *name, err_t *err);     /* in memory */
    int (*resume)(void *h, const char *name, err_t *err);    /* from pause */
    int (*reboot)(void *h, const char *name, bool hard, err_t *err);
    int (*state)(void *h, const char *name, hv_state_t *st, err_t *err);
    /* Domains this driver knows, as hv_domain_info_t* (free with the array). */
    GPtrArray *(*list)(void *h, err_t *err);
    int (*attach_disk)(void *h, const char *name, const json_t *disk, err_t *err);
    int (*detach_disk)(void *h, const char *name, const char *target, err_t *err);
    /* QEMU's process id for a running domain, or 0. */
    int (*pid)(void *h, const char *name);
    /* Copy disk `target` ("vda") of a running domain, as it is at one
     * instant while the guest goes on, into a new standalone qcow2 file
     * `dest` (the backing chain flattened).  Returns when the copy is done. */
    int (*backup_disk)(void *h, const char *name, const char *target, const char *dest,
                       err_t *err);
    /* Ask the guest's qemu-guest-agent for a ping, waiting at most
     * timeout_s; 0 when it answered. */
    int (*guest_ping)(void *h, const char *name, int timeout_s, err_t *err);
    /* The guest's own view of its network interfaces, from its
     * qemu-guest-agent, waiting at most timeout_s: a new array in the form
     * of model/guestnet.h (bounded, loopback left out).  Fails while the
     * guest runs no agent or it does not answer. */
    json_t *(*guest_interfaces)(void *h, const char *name, int timeout_s, err_t *err);
} hv_ops_t;

extern const hv_ops_t hv_libvirt_ops;
extern const hv_ops_t hv_fake_ops;

hv_driver_t *hv_open(const hv_ops_t *ops, const hv_open_opts_t *o, err_t *err);
void hv_close(hv_driver_t *d);
const char *hv_driver_name(const hv_driver_t *d);
hv_accel_t hv_accel(hv_driver_t *d);
int hv_define(hv_driver_t *d, const json_t *spec, err_t *err);
int hv_undefine(hv_driver_t *d, const char *name, err_t *err);
int hv_start(hv_driver_t *d, const char *name, err_t *err);
int hv_shutdown(hv_driver_t *d, const char *name, err_t *err);
int hv_destroy(hv_driver_t *d, const char *name, err_t *err);
int hv_suspend(hv_driver_t *d, const char *name, err_t *err);
int hv_pause(hv_driver_t *d, const char *name, err_t *err);
int hv_resume(hv_driver_t *d, const char *name, err_t *err);
int hv_reboot(hv_driver_t *d, const char *name, bool hard, err_t *err);
int hv_state(hv_driver_t *d, const char *name, hv_state_t *st, err_t *err);
GPtrArray *hv_list(hv_driver_t *d, err_t *err);
int hv_attach_disk(hv_driver_t *d, const char *name, const json_t *disk, err_t *err);
int hv_detach_disk(hv_driver_t *d, const char *name, const char *target, err_t *err);
int hv_pid(hv_driver_t *d, const char *name);
int hv_guest_ping(hv_driver_t *d, const char *name, int timeout_s, err_t *err);
json_t *hv_guest_interfaces(hv_driver_t *d, const char *name, int timeout_s, err_t *err);
int hv_backup_disk(hv_driver_t *d, const char *name, const char *target, const char *dest,
                   err_t *err);

/*
 * The domain spec, a JSON object:
 *   name        domain name (unique on the host)
 *   uuid        the VM's biosUUID (SMBIOS system UUID)
 *   vmUID       the VM object's metadata.uid (kept in the domain metadata)
 *   vmName, vmNamespace   for humans reading `virsh list`
 *   instanceUUID          kept in the domain metadata
 *   vcpus       integer
 *   memoryMiB   integer
 *   firmware    "bios" | "efi"
 *   nvramPath   EFI variable store (efi only)
 *   cpu         {"sharesPerVCPU": n, "quotaPercent": n}  optional cputune
 *   memoryTune  {"locked": bool, "preallocate": bool, "hardLimitMiB": n}  optional
 *               (locked needs hardLimitMiB and the right to raise RLIMIT_MEMLOCK)
 *   disks       [{"path", "format": "qcow2"|"raw", "target": "vda",
 *                 "bus": "virtio"|"sata", "device": "disk"|"cdrom",
 *                 "readonly": bool, "boot": n}]
 *   nics        [{"mac", "tap" | "bridge", "model": "virtio"}]   (optional)
 *   hostdevs    [{"type": "pci", "domain", "bus", "slot", "function"} |
 *                {"type": "mdev", "uuid", "model": "vfio-pci"}]   (optional)
 *   serialLog   file that receives the guest's serial console
 *   vnc         bool: a VNC display on loopback (for web consoles)
 *   guestAgentSocket  the UNIX socket of a virtio-serial channel for
 *               qemu-guest-agent (shorter than DOMAIN_SOCKET_PATH_MAX)
 *   guestInfoLog  file that receives what the guest writes to the virtio-serial
 *               port org.vmsvc.guestinfo (readiness probes)
 */

#endif
