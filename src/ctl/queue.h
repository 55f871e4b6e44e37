/*
 * queue: a de-duplicating work queue of string keys served by worker
 * threads, as controllers use them.
 *
 * A key is queued at most once; a key added while a worker handles it is
 * handled again after that worker is done, never by two workers at once.
 * queue_add_after() delays a key (requeue with backoff); an earlier add of
 * the same key wins.  The handler returns 0, or -1 to be retried with
 * exponential backoff (from QUEUE_BACKOFF_MIN_MS, doubling to
 * QUEUE_BACKOFF_MAX_MS); success resets the key's backoff.
 *
 * Workers start as keys need them, up to max_workers, and stay.
 */
#ifndef VMSVC_QUEUE_H
#define VMSVC_QUEUE_H

#include <glib.h>
#include <stdbool.h>

#define QUEUE_BACKOFF_MIN_MS 200
#define QUEUE_BACKOFF_MAX_MS 30000

typedef struct queue queue_t;
typedef int (*queue_handler_fn)(void *ctx, const char *key);

queue_t *queue_new(const char *name, int max_workers, queue_handler_fn fn, void *ctx);
/* Stop the workers (after the keys they hold) and free the queue. */
void queue_free(queue_t *q);
void queue_add(queue_t *q, const char *key);
void queue_add_after(queue_t *q, const char *key, int delay_ms);
/* Keys waiting or being handled (for tests and metrics). */
guint queue_length(queue_t *q);
/* Worker threads started so far (for tests and metrics). */
guint queue_workers(queue_t *q);

#endif
