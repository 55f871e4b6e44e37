/*
 * conditions: metav1.Condition lists in status (type, status, reason,
 * message, lastTransitionTime, observedGeneration), as controllers keep them.
 * lastTransitionTime moves only when the status value changes.
 */
#ifndef VMSVC_CONDITIONS_H
#define VMSVC_CONDITIONS_H

#include <jansson.h>
#include <stdbool.h>

/* Set condition `type` in status.conditions of `obj` (created if absent).
 * Returns whether anything changed.  `status` is "True", "False" or "Unknown". */
bool cond_set(json_t *obj, const char *type, const char *status, const char *reason,
              const char *message, json_int_t generation, const char *now);
/* The condition of that type, borrowed, or NULL. */
json_t *cond_get(const json_t *obj, const char *type);
/* Whether the condition exists with status "True". */
bool cond_is_true(const json_t *obj, const char *type);
/* Remove a condition; returns whether it was there. */
bool cond_remove(json_t *obj, const char *type);

#endif
