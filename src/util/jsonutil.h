/*
 * jsonutil: small helpers over jansson used everywhere: dotted-path access,
 * bounded parsing of untrusted bodies, compact dumps.
 *
 * Paths are dot-separated member names ("metadata.name"); they never index
 * arrays.  Getters borrow; *_new/_dump return what the caller owns.
 */
#ifndef VMSVC_JSONUTIL_H
#define VMSVC_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

/* Limits on untrusted documents. */
#define JSON_MAX_DEPTH 100

/* Borrowed value at a dotted path, or NULL. */
json_t *json_path_get(const json_t *root, const char *path);
/* String at a dotted path, or NULL when absent or not a string. */
const char *json_path_str(const json_t *root, const char *path);
/* Set value (stolen) at a dotted path, creating objects on the way.
 * Returns -1 if a non-object is in the way. */
int json_path_set_new(json_t *root, const char *path, json_t *value);
/* Remove the member at a dotted path if present. */
void json_path_del(json_t *root, const char *path);
/* Get member `key` of object `o`, creating an empty object there if absent
 * or not an object. */
json_t *json_object_ensure(json_t *o, const char *key);

/* Parse an untrusted JSON text: ERR_BAD_REQUEST with a clear sentence on
 * syntax errors, nesting deeper than JSON_MAX_DEPTH, or trailing data. */
json_t *json_parse_untrusted(const char *buf, size_t len, err_t *err);
/* Depth of nesting of a value (a scalar is 0). Stops counting past limit. */
int json_depth(const json_t *v, int limit);

/* Compact dump that the caller frees with free(). */
char *json_dump_compact(const json_t *v);

#endif
