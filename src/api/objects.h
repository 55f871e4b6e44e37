/*
 * objects: the semantics of the verbs on stored objects, shared by the HTTP
 * handlers and the in-process controllers (one interface for every client):
 * create with defaulting and validation, optimistic-concurrency updates with
 * retry, status-only writes, graceful deletion with finalizers, propagation
 * policies, and namespace rules.
 */
#ifndef VMSVC_OBJECTS_H
#define VMSVC_OBJECTS_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "model/validate.h"

typedef struct obj_opts {
    field_validation_t fv;
    bool dry_run;
    json_t *warnings;          /* array of strings the caller may show, or NULL */
    const char *propagation;   /* Background (default), Foreground, Orphan */
    const char *precond_uid;   /* delete preconditions, or NULL */
    const char *precond_rv;
    bool written;              /* out: obj_update stored a new version (false when
                                  nothing changed) */
} obj_opts_t;

/* Produce the desired object from the current one (borrowed).  Return a new
 * object, or NULL with err set. */
typedef json_t *(*obj_mutate_fn)(const json_t *cur, void *ctx, err_t *err);

/* Create `body` (stolen) in namespace `ns` (NULL for cluster scope). */
store_obj_t *obj_create(apiserver_t *srv, const resource_t *res, const char *ns,
                        json_t *body, obj_opts_t *o, err_t *err);
/* Read-modify-write with retry on conflicting writes.  `sub` is NULL or
 * "status".  A mutate function that sets metadata.resourceVersion to a
 * value other than the current one gets ERR_CONFLICT (client precondition). */
store_obj_t *obj_update(apiserver_t *srv, const resource_t *res, const char *ns,
                        const char *name, const char *sub, obj_mutate_fn fn, void *ctx,
                        obj_opts_t *o, err_t *err);
/* Delete, or mark for deletion when finalizers hold the object.  Returns
 * the object's last state. */
store_obj_t *obj_delete(apiserver_t *srv, const resource_t *res, const char *ns,
                        const char *name, obj_opts_t *o, err_t *err);
store_obj_t *obj_get(apiserver_t *srv, const resource_t *res, const char *ns,
                     const char *name, err_t *err);

/* Messages in Kubernetes' words. */
void obj_err_not_found(err_t *err, const resource_t *res, const char *name);

#endif
