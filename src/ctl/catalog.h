/*
 * catalog: the image catalog.  Every content library item becomes an image
 * that VMs can name:
 *
 *   ContentLibraryItem (namespace N)  ->  VirtualMachineImage vmi-<id> in N
 *   ClusterContentLibraryItem         ->  ClusterVirtualMachineImage vmi-<id>
 *
 * where <id> is the first 17 hex digits of the SHA-1 of the item's
 * spec.uuid without dashes (the VM Operator's VMI ID), so names are stable
 * and never collide across libraries.  The image's status (display name, OS,
 * product, firmware, hardware version, capabilities, disks, OVF properties)
 * comes from the item and from what the importer read from its files, kept
 * on the item in the annotation CATALOG_INFO_ANNOTATION (a JSON document,
 * see agent/importer.h).  The image carries the labels the API defines
 * (os.image.vmoperator.vmware.com/{id,type,version} and
 * capability.image.vmoperator.vmware.com/<capability>), is owned by its item
 * (ownerReferences, so it goes with it) and is Ready with a providerItemID
 * only once the item is.
 *
 * The helpers below are how the agent and the controllers find a library's
 * directory and an image's disk, in one place.
 */
#ifndef VMSVC_CATALOG_H
#define VMSVC_CATALOG_H

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"

#define CATALOG_GROUP "imageregistry.vmware.com"
#define CATALOG_API_VERSION "imageregistry.vmware.com/v1alpha1"
/* What the importer found in the item's files (JSON). */
#define CATALOG_INFO_ANNOTATION "vmsvc.dev/image-info"
/* A library's directory chosen by the administrator (absolute path). */
#define CATALOG_PATH_ANNOTATION "vmsvc.dev/storage-path"
/* Overrides an import request may carry for images without a descriptor. */
#define CATALOG_FIRMWARE_ANNOTATION "vmsvc.dev/firmware"
#define CATALOG_OS_TYPE_ANNOTATION "vmsvc.dev/os-type"
#define CATALOG_OS_VERSION_ANNOTATION "vmsvc.dev/os-version"
#define CATALOG_CAPABILITIES_ANNOTATION "vmsvc.dev/capabilities"

/* The 17 hex digits of an item uuid's VMI ID (g_free). */
char *catalog_id(const char *uuid);
/* "vmi-<id>" (g_free). */
char *catalog_image_name(const char *item_uuid);
/* "clitem-<id>" or, for a cluster library, "cclitem-<id>" (g_free). */
char *catalog_item_name(bool cluster, const char *item_uuid);

/* Where a library keeps its items on this host: the administrator's path
 * (CATALOG_PATH_ANNOTATION) or <data-dir>/libraries/<library uid> (g_free). */
char *catalog_library_dir(const char *data_dir, const json_t *lib);
/* The library an item belongs to (its owner reference of a library kind),
 * or NULL.  Shared (store_obj_json): read only. */
json_t *catalog_item_library(apiserver_t *srv, const json_t *item);
/* The item behind an image (spec.providerRef), or NULL.  Shared
 * (store_obj_json): read only. */
json_t *catalog_image_item(apiserver_t *srv, const json_t *img);
/* The disk file an image's VMs boot from, or NULL with err set (g_free). */
char *catalog_image_disk(apiserver_t *srv, const char *data_dir, const json_t *img, err_t *err);

/* Build an image's status and labels from an item and its info (pure;
 * for tests).  `labels` receives the labels to set. */
json_t *catalog_image_status(const json_t *item, const json_t *info, json_t *labels);

#endif
