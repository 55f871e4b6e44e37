/*
 * burst: a controller's writes of one burst, made in parallel.
 *
 * A controller decides on its own thread, in order (so that what one
 * decision takes, the next one sees), and then has the writes of all those
 * decisions made at once by a small pool of threads, whose durable commits
 * the store groups.  burst_run returns when every item was handled; the
 * controller then records the outcomes, again on its own thread.
 */
#ifndef VMSVC_BURST_H
#define VMSVC_BURST_H

#include <glib.h>

typedef void (*burst_fn)(void *item);
typedef struct burst burst_t;

burst_t *burst_new(int threads, burst_fn fn);
/* Call fn on every item of `items`, in parallel, and return when all are
 * done.  A single item is handled on the caller's thread. */
void burst_run(burst_t *b, GPtrArray *items);
/* Waits for nothing: call it when no burst_run is under way.  NULL is a no-op. */
void burst_free(burst_t *b);

#endif
