/*
 * refs: how a VirtualMachine's names resolve to objects, in one place for
 * the controller and the agent.
 *
 *   class          VirtualMachineClass in the VM's namespace, else in
 *                  REFS_SHARED_NS (the classes every namespace may use; the
 *                  defaults live there)
 *   image          VirtualMachineImage in the namespace, else the
 *                  ClusterVirtualMachineImage of that name, else the one
 *                  image of either kind whose display name (status.name)
 *                  it is (none when two share it)
 *   storage class  the StorageClass (cluster-scoped)
 *
 * Each returns the object parsed (a new reference) or NULL.
 */
#ifndef VMSVC_REFS_H
#define VMSVC_REFS_H

#include <jansson.h>

#include "api/api.h"

#define REFS_SHARED_NS "vmsvc-system"

/* The class a VM names.  Every VM's look asks, so the result is the
 * store's shared parse (store_obj_json): read it only, json_decref it. */
json_t *refs_class(apiserver_t *srv, const char *ns, const char *name);
/* The image a VM names: a VirtualMachineImage of the namespace, a
 * ClusterVirtualMachineImage, or the one image either kind whose display
 * name it is.  Every VM's look and provisioning asks, so the result is the
 * store's shared parse (store_obj_json): read it only, json_decref it. */
json_t *refs_image(apiserver_t *srv, const char *ns, const char *name);
/* How many images the namespace can use have `name` as display name (0, 1
 * or 2 meaning "more than one"). */
int refs_image_count_by_display_name(apiserver_t *srv, const char *ns, const char *name);
/* The storage class of that name: the store's shared parse, as refs_class. */
json_t *refs_storage_class(apiserver_t *srv, const char *name);
/* Any object by group, plural, namespace (NULL: cluster scope) and name. */
json_t *refs_get(apiserver_t *srv, const char *group, const char *plural, const char *ns,
                 const char *name);
/* The same, as the store's shared parse: read it only, json_decref it. */
json_t *refs_get_shared(apiserver_t *srv, const char *group, const char *plural,
                        const char *ns, const char *name);

/* Whether a class reserves its resources (the guaranteed edition): its
 * requests cover its CPUs and memory. */
bool refs_class_guaranteed(const json_t *cls);

#endif
