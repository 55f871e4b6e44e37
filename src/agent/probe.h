/*
 * probe: readiness probes of the VMs on this host, run by one scheduler
 * thread, never a thread per VM.
 *
 *   tcpSocket       a non-blocking connect from this host to the VM's
 *                   address (or tcpSocket.host) and port, through epoll,
 *                   failed at timeoutSeconds
 *   guestInfo       key/value pairs the guest writes, one "key=value" line
 *                   each, to the virtio-serial port PROBE_GUESTINFO_CHANNEL;
 *                   QEMU appends them to a file that the scheduler reads
 *                   from where it stopped (a line without '=' removes its
 *                   key).  Every listed key (prefixed "guestinfo.") must be
 *                   there and match its value as a regular expression (an
 *                   empty value matches anything; an invalid one is left
 *                   out).
 *   guestHeartbeat  qemu-guest-agent answering a ping, through the
 *                   probe_ping_fn the owner gives (it may block; it runs on
 *                   a small pool of its own).  The status is green when the
 *                   last ping was answered, yellow when the last failed but
 *                   one of the three before it was answered, red when the
 *                   agent answered once and no longer does, gray before
 *                   it ever answered; the probe succeeds at or above
 *                   thresholdStatus (green by default).
 *
 * Every probe runs each periodSeconds (default 10) with timeoutSeconds
 * (default 10, at most the period).  A change of a probe's verdict is
 * reported through probe_change_fn, on the scheduler thread.
 *
 * The same scheduler polls the guest agents of running VMs for their
 * network interfaces (what status.network shows), apart from their
 * probes: every PROBE_GUESTNET_PERIOD_MS, at most one poll in flight per
 * VM, each waiting at most PROBE_GUESTNET_TIMEOUT_S, through the
 * probe_guestnet_fn the owner gives (it may block; it runs on a small pool
 * of its own, so a hung guest delays no heartbeat).  The latest answer is
 * kept until PROBE_GUESTNET_MISSES polls in a row go unanswered; a change
 * of it is reported through probe_change_fn like a verdict.
 */
#ifndef VMSVC_PROBE_H
#define VMSVC_PROBE_H

#include <jansson.h>
#include <stdbool.h>

#define PROBE_GUESTINFO_CHANNEL "org.vmsvc.guestinfo"
#define PROBE_GUESTINFO_MAX_BYTES (1 << 20)   /* the file is emptied past this */
#define PROBE_GUESTNET_PERIOD_MS 10000
#define PROBE_GUESTNET_TIMEOUT_S 5
#define PROBE_GUESTNET_MISSES 3

typedef struct probe_sched probe_sched_t;

typedef enum { PROBE_UNKNOWN, PROBE_SUCCESS, PROBE_FAILURE } probe_verdict_t;

typedef void (*probe_change_fn)(void *ctx, const char *key);
/* Ask the guest agent of domain `dom` for a ping; 0 when it answered. */
typedef int (*probe_ping_fn)(void *ctx, const char *dom, int timeout_s);

/* Ask the guest agent of domain `dom` for its network interfaces: a new
 * array (model/guestnet.h), or NULL when it did not answer. */
typedef json_t *(*probe_guestnet_fn)(void *ctx, const char *dom, int timeout_s);

probe_sched_t *probe_sched_new(probe_change_fn on_change, probe_ping_fn ping,
                               probe_guestnet_fn guestnet, void *ctx);
/* Stop the scheduler thread (no verdict is reported after it returns);
 * the probes stay readable until probe_sched_free. */
void probe_sched_stop(probe_sched_t *p);
void probe_sched_free(probe_sched_t *p);

/* Set (or keep, when nothing changed) the probe of `key`: `spec` is the
 * VM's spec.readinessProbe, `ip` its primary address (NULL: none yet),
 * `dom` its domain, `guestinfo` the file its guestinfo channel writes. */
void probe_set(probe_sched_t *p, const char *key, const json_t *spec, const char *ip,
               const char *dom, const char *guestinfo);
void probe_remove(probe_sched_t *p, const char *key);
/* The latest verdict and a sentence about it (msg may be NULL). */
probe_verdict_t probe_result(probe_sched_t *p, const char *key, char *msg, size_t n);
/* Poll guest agents every `ms` instead of PROBE_GUESTNET_PERIOD_MS (tests). */
void probe_guestnet_period(probe_sched_t *p, int ms);
/* Poll the guest agent of `key`'s domain `dom` for its interfaces from
 * now on (nothing changes when it is polled already), or no longer. */
void probe_guestnet_watch(probe_sched_t *p, const char *key, const char *dom);
void probe_guestnet_unwatch(probe_sched_t *p, const char *key);
/* The guest's latest view of its interfaces (a new reference), or NULL
 * while its agent has not answered or has stopped answering. */
json_t *probe_guestnet_view(probe_sched_t *p, const char *key);

/* Probes held, and probe runs so far (for benchmarks). */
unsigned probe_count(probe_sched_t *p);
unsigned long probe_runs(probe_sched_t *p);

#endif
