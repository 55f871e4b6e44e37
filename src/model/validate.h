/*
 * validate: checks an object against its resource's OpenAPI v3 structural
 * schema the way the Kubernetes API server checks a custom resource, and
 * changes the object in place on the way (drops unknown fields and
 * non-nullable nulls, fills in defaults, turns 1.0 in an integer field into
 * 1).  The keywords understood are those listed in schemas/README.md, plus
 * vmsvc's x-vmsvc-immutable.
 *
 * Causes use Kubernetes' reasons, field paths (spec.volumes[0].name,
 * spec.labels[key]) and message texts, so clients see what a real API
 * server would say.  The schema is trusted; the object is not: recursion,
 * the number of causes and the length of messages are bounded.
 *
 * Safe to call from any thread: the only shared state is a cache of compiled
 * patterns keyed by the pattern text.
 */
#ifndef VMSVC_VALIDATE_H
#define VMSVC_VALIDATE_H

#include <jansson.h>

#include "util/err.h"

typedef enum {
    FIELD_VALIDATION_IGNORE,
    FIELD_VALIDATION_WARN,
    FIELD_VALIDATION_STRICT,
    FIELD_VALIDATION_LAST
} field_validation_t;

/* Parse the fieldValidation query value ("", "Ignore", "Warn", "Strict";
 * case-sensitive as in Kubernetes).  "" and NULL mean Warn, Kubernetes'
 * default.  Returns -1 on an unknown value and leaves *out alone. */
int field_validation_parse(const char *s, field_validation_t *out);

/* Validate `obj` against `schema` (a CRD-style openAPIV3Schema), in place.
 *
 * Before the checks, as Kubernetes does for custom resources:
 *   - a null in a property that is not nullable is dropped; then the
 *     property's `default` (deep-copied) fills every absent property, also
 *     inside objects present in the input and in array items, and the
 *     filled-in value is itself defaulted and checked;
 *   - fields that neither `properties`, `additionalProperties` nor
 *     x-kubernetes-preserve-unknown-fields allow are removed.  `fv` says
 *     what else happens: Ignore nothing; Warn appends 'unknown field
 *     "spec.foo"' to `warnings` (may be NULL); Strict fails the call with
 *     ERR_BAD_REQUEST and 'strict decoding error: unknown field "spec.foo",
 *     unknown field "spec.bar"' (document order), whatever else is wrong.
 * The root's metadata, apiVersion and kind are left entirely to the caller,
 * as is metadata inside x-kubernetes-embedded-resource objects (whose
 * apiVersion and kind must be non-empty strings).
 *
 * When `old` (the stored object, for updates) is non-NULL, a property marked
 * x-vmsvc-immutable: true whose value in `old` is non-null must be deep-equal
 * in `obj`; setting a previously absent field is allowed.  With
 * x-vmsvc-immutable: always the value given at creation is final: setting
 * an absent field is a change too (absent, null and {} count as the same).
 * Old values are found
 * by member name in objects and maps, and by the key fields in
 * x-kubernetes-list-type: map lists; items of other lists are not matched.
 * A property whose value is deep-equal to its old value is not visited
 * again (as in Kubernetes' validation ratcheting): it was checked and
 * defaulted when it was stored, and an update that leaves it alone (a
 * status write, a label) neither pays for it nor fails on a rule made
 * stricter since.
 *
 * Returns 0 when the object is valid.  Otherwise -1 and `err` holds either
 * ERR_INVALID with one cause per problem (err_add_cause; at most 100) and a
 * message in Kubernetes' aggregate form ("spec.a: Required value" or
 * "[spec.a: Required value, spec.b: ...]"), ready to follow
 * '<Kind> "<name>" is invalid: '; or ERR_BAD_REQUEST (strict unknown
 * fields, nesting deeper than JSON_MAX_DEPTH); or ERR_INTERNAL when the
 * schema itself is broken (a pattern that does not compile). */
int schema_validate(const json_t *schema, json_t *obj, const json_t *old,
                    field_validation_t fv, json_t *warnings, err_t *err);

/* Drop the fields `schema` does not allow, without defaulting or checking
 * anything (for objects stored under an older schema). */
void schema_prune(const json_t *schema, json_t *obj);

/* Free the cache of compiled patterns (at exit; safe at any time). */
void schema_validate_cache_clear(void);

#endif
