/*
 * hv_priv: what only the hv drivers and their tests see: fault injection in
 * the fake driver and the KVM probe of the libvirt driver.
 */
#ifndef VMSVC_HV_PRIV_H
#define VMSVC_HV_PRIV_H

#include <stdbool.h>

#include "hv/hv.h"

/* Make the next call of operation `op` ("define", "start", "list", ...) on
 * any fake driver fail with `code`.  Calls queue up: two calls for the same
 * op fail its next two calls.  The environment variable VMSVC_HV_FAKE_FAIL
 * (a comma-separated list of ops, read when a fake driver opens) makes every
 * call of those ops fail, for end-to-end tests. */
void hv_fake_fail_next(const char *op, err_code_t code);
/* Forget every queued fault. */
void hv_fake_fail_clear(void);

/* What the guest agent of fake domain `name` reports about its interfaces
 * from now on (copied; the form of model/guestnet.h), in every fake driver;
 * NULL: no agent answers for it.  The environment variable
 * VMSVC_HV_FAKE_GUEST_AGENT=1 (read when a fake driver opens) gives every
 * running domain without such a view an agent that answers pings and
 * reports one interface per NIC with its MAC and the IPv6 link-local
 * address the guest's kernel would derive from it. */
void hv_fake_set_guest_view(const char *name, const json_t *view);
/* Forget every view set. */
void hv_fake_guest_views_clear(void);

/* Whether a guest really runs under /dev/kvm here, in two stages of at
 * most two seconds each: the KVM ioctls directly (a VM whose vCPU executes
 * `hlt` in real mode, in a child process), then QEMU booting its firmware
 * under KVM to the boot menu.  Probed once per process; later calls return
 * the first answer. */
bool hv_kvm_usable(void);

#endif
