/*
 * meta: rules for object metadata that hold for every kind: names, uids,
 * timestamps, labels, annotations, finalizers, owner references, and how
 * metadata carries over from a stored object to its update.  Pure: data in,
 * data out.
 */
#ifndef VMSVC_META_H
#define VMSVC_META_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/schema.h"
#include "util/err.h"

/* Kubernetes' name rules.  On failure, `why` receives the reason. */
bool meta_is_dns1123_subdomain(const char *s, char *why, size_t n);
bool meta_is_dns1123_label(const char *s, char *why, size_t n);
/* Label (or annotation / finalizer) key: [prefix/]name. */
bool meta_is_qualified_name(const char *s, char *why, size_t n);
bool meta_is_label_value(const char *s, char *why, size_t n);

/* "2026-11-25T18:00:00Z" for now, in a caller-supplied buffer of >= 32 bytes. */
void meta_now(char *buf, size_t n);
/* A random RFC 4122 version 4 uid, newly allocated (g_free). */
char *meta_uid_new(void);
/* generateName + five random characters from Kubernetes' alphabet (g_free). */
char *meta_generate_name(const char *prefix);

/* Validate the metadata of an object about to be written: name rules for the
 * resource, labels, annotations (256 KiB in total), finalizers, owner
 * references.  Adds causes to err and returns -1 on failure. */
int meta_validate(const resource_t *res, const json_t *obj, err_t *err);

/* Fill the server-owned metadata of a new object. */
void meta_prepare_create(const resource_t *res, json_t *obj, const char *ns,
                         const char *now);
/* Carry the server-owned metadata of `old` into `obj` (an update) and bump
 * metadata.generation when the object's desired state changed. */
void meta_prepare_update(const resource_t *res, json_t *obj, const json_t *old);

/* Whether the finalizer list holds `name`; add/remove return whether they changed it. */
bool meta_has_finalizer(const json_t *obj, const char *name);
bool meta_add_finalizer(json_t *obj, const char *name);
bool meta_remove_finalizer(json_t *obj, const char *name);

/* The storage key of an object. (g_free) */
char *meta_key(const resource_t *res, const char *ns, const char *name);

#endif
