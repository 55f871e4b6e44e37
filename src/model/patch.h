/*
 * patch: the three patch formats of the Kubernetes API, applied to JSON
 * documents.
 *
 *   patch_json_apply       RFC 6902 JSON Patch (application/json-patch+json)
 *   patch_merge_apply      RFC 7386 JSON Merge Patch (application/merge-patch+json)
 *   patch_strategic_apply  Kubernetes strategic merge patch
 *                          (application/strategic-merge-patch+json)
 *
 * Every function takes borrowed documents, never modifies them, and returns a
 * new document that shares no value with its inputs (the caller owns it and
 * may modify it freely).  A patch is applied whole or not at all: on error
 * the function returns NULL with `err` set and nothing else happens.
 *
 * Error codes: a patch of the wrong shape is ERR_BAD_REQUEST; a well-formed
 * JSON patch that does not apply to the document (a failed "test", a missing
 * path, an index out of range, a move into its own child) is ERR_INVALID.
 *
 * The patch is untrusted input.  Limits: PATCH_MAX_OPS operations,
 * PATCH_MAX_POINTER bytes per JSON pointer, no NUL byte in a pointer (jansson
 * cannot read back a member name holding one), array indexes that fit a
 * size_t (all ERR_BAD_REQUEST); PATCH_MAX_COPY_NODES values copied by "copy"
 * operations in one patch (ERR_TOO_LARGE); and no operation may nest the
 * document deeper than JSON_MAX_DEPTH (ERR_INVALID).  The strategic merge
 * patch works in time linear in the sizes of the lists it merges.
 */
#ifndef VMSVC_PATCH_H
#define VMSVC_PATCH_H

#include <jansson.h>

#include "util/err.h"

#define PATCH_MAX_OPS 10000
#define PATCH_MAX_POINTER 4096
#define PATCH_MAX_COPY_NODES (1u << 18)

/*
 * RFC 6902 JSON Patch.  `patch` must be an array of operations (add, remove,
 * replace, move, copy, test).  JSON pointers follow RFC 6901, with "~0",
 * "~1" and the "-" end-of-array index.  "test" compares numbers by value
 * (1 equals 1.0).  Errors name the operation by its position, counting from
 * 1.  Returns a new document; doc is not modified.
 */
json_t *patch_json_apply(const json_t *doc, const json_t *patch, err_t *err);

/*
 * RFC 7386 JSON Merge Patch.  A patch that is not an object replaces the
 * whole document.  Never fails; `err` is there for symmetry.  Returns a new
 * document.
 */
json_t *patch_merge_apply(const json_t *doc, const json_t *patch, err_t *err);

/*
 * Kubernetes strategic merge patch.  `patch` must be an object.  `schema` is
 * the OpenAPI v3 schema of the whole object (the shape of a CRD's
 * openAPIV3Schema), or NULL.  It is walked through `properties` for object
 * members, `items` for list elements and `additionalProperties` (when an
 * object) for map values; where it says nothing, maps are merged and lists
 * replaced.
 *
 * A list is merged when its schema has x-kubernetes-patch-strategy
 * containing "merge" (its key from x-kubernetes-patch-merge-key), or, when
 * that is absent, x-kubernetes-list-type "map" (key: the first of
 * x-kubernetes-list-map-keys) or "set" (no key: a set of values).  Keyed
 * lists merge patch elements into the element with the same key value or add
 * them; sets add the values they lack.  An object property whose
 * x-kubernetes-patch-strategy contains "replace" is replaced, not merged.
 *
 * Directives, as Kubernetes defines them:
 *   null value                     deletes the member
 *   "$patch": "replace" in a map   the map becomes the rest of the patch map
 *   "$patch": "delete" in a map    deletes the map (the top level becomes {})
 *   "$patch": "merge" in a map     the default; accepted and ignored
 *   {"$patch": "replace"} in list  the list becomes the other patch elements
 *   {"$patch": "delete", key: v}   deletes every element whose key is v
 *   {"$patch": "merge", ...}       an ordinary element (a bare one is ignored)
 *   "$retainKeys": [names]         drops the members not named (every member
 *                                  the patch sets must be named)
 *   "$deleteFromPrimitiveList/f": [values]  removes those values from list f
 *   "$setElementOrder/f": [elements or keys]  orders list f; it must name
 *                                  the elements the patch gives for f, in
 *                                  their order
 *
 * Order of a merged list: the elements the patch names keep the order of
 * $setElementOrder (or, without it, of the patch); the other elements keep
 * their order and are placed before the first named element that followed
 * them in the original list, as Kubernetes does (so a new element that the
 * patch names before any existing one comes first).
 *
 * Returns a new document.
 */
json_t *patch_strategic_apply(const json_t *doc, const json_t *patch,
                              const json_t *schema, err_t *err);

#endif
