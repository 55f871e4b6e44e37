/*
 * events: core/v1 Events about objects, as controllers record them for
 * `kubectl describe`.  The same reason and message about the same object
 * within EVENT_AGGREGATE_S seconds bump the count of one Event instead of
 * making another.  Never put secret material in a message.
 *
 * Recording does not wait for the store: like Kubernetes' own recorders,
 * events are best-effort and stored by a small pool of threads (their
 * writes share the store's commits), so a controller's work never waits
 * for an event's commit.  The time of an event is when it was recorded.
 * Past EVENT_QUEUE_MAX events waiting, more are dropped with a warning;
 * event_recorder_free stores what is queued first.
 */
#ifndef VMSVC_EVENTS_H
#define VMSVC_EVENTS_H

#include <jansson.h>

#include "api/api.h"

#define EVENT_AGGREGATE_S 600

typedef struct event_recorder event_recorder_t;

/* `component` is the reporting component ("vmsvc-controller", ...). */
event_recorder_t *event_recorder_new(apiserver_t *srv, const char *component);
void event_recorder_free(event_recorder_t *r);

/* Record an event about `obj` (its apiVersion, kind and metadata are read
 * now; `obj` is not kept).  `type` is "Normal" or "Warning".  Failures are
 * logged, not returned. */
void event_record(event_recorder_t *r, const json_t *obj, const char *type, const char *reason,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
