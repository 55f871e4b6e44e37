/*
 * ctl: in-process controllers.  Each runs on its own thread, follows the
 * store's event log like any watcher, and acts only through objects.c, the
 * same semantics every API client gets.
 */
#ifndef VMSVC_CTL_H
#define VMSVC_CTL_H

#include "api/api.h"

typedef struct ctl ctl_t;

/* Garbage collection by ownerReferences (background, foreground, orphan). */
ctl_t *ctl_gc_start(apiserver_t *srv);
/* Namespace deletion: empties a terminating namespace, then removes it. */
ctl_t *ctl_namespace_start(apiserver_t *srv);
/* VirtualMachines: finalizer, references, placement (see vm.c). */
ctl_t *ctl_vm_start(apiserver_t *srv);
/* The image catalog: an image per content library item (see catalog.h). */
ctl_t *ctl_catalog_start(apiserver_t *srv);
void ctl_stop(ctl_t *c);

/* A status change as controllers make them: `set` (an object, may be NULL)
 * is merged into status (a null member removes that field), `conds` (an
 * array of {type, status, reason, message}, may be NULL) is applied with
 * cond_set at the object's current generation.  Retries on conflicts;
 * writes nothing when nothing changes.  Returns the object as stored (a
 * reference) or NULL with err set. */
store_obj_t *ctl_status_update(apiserver_t *srv, const resource_t *res, const char *ns,
                               const char *name, const json_t *set, const json_t *conds,
                               err_t *err);
/* The same; *written says whether a new version was stored (not when
 * nothing changed, when the version returned may be someone else's). */
store_obj_t *ctl_status_write(apiserver_t *srv, const resource_t *res, const char *ns,
                              const char *name, const json_t *set, const json_t *conds,
                              bool *written, err_t *err);
/* Both: `conds` set, and each of `defaults` set only while the object has no
 * condition of its type (judged as ctl_status_default does). */
store_obj_t *ctl_status_write_defaults(apiserver_t *srv, const resource_t *res, const char *ns,
                                       const char *name, const json_t *set, const json_t *conds,
                                       const json_t *defaults, bool *written, err_t *err);
/* Conditions that hold only until someone sets better ones: each of `conds`
 * is set only while the object has no condition of its type, judged on the
 * object as it is at each attempt (never on an older copy, which a retry
 * after a conflict would otherwise write over a newer condition). */
store_obj_t *ctl_status_default(apiserver_t *srv, const resource_t *res, const char *ns,
                                const char *name, const json_t *conds, err_t *err);
/* Add (add=true) or remove a finalizer; 0 on success, also when nothing changed. */
int ctl_finalizer(apiserver_t *srv, const resource_t *res, const char *ns, const char *name,
                  const char *finalizer, bool add, err_t *err);
/* A condition entry for ctl_status_update's `conds`. */
json_t *ctl_cond(const char *type, bool ok, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
