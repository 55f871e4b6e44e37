/*
 * library: content libraries on this host, the agent's side.
 *
 *   ContentLibrary / ClusterContentLibrary  a directory (catalog.h says
 *       which) made, checked and reported in status (type Local, storage
 *       backing Datastore for a directory under the data directory, Other
 *       for an administrator's path, condition Ready); a deleted library
 *       first deletes its items, then its directory.
 *   ContentLibraryItem / ClusterContentLibraryItem  <library dir>/<uuid>/
 *       holds its files; a deleted item removes that directory.  VMs made
 *       from it keep their disks: a VM's overlay is backed by a hard link
 *       of the image file in the VM's own directory (agent.c), so the data
 *       lives until no link is left.
 *   ContentLibraryItemImportRequest  validated (SourceValid, TargetValid),
 *       then the item is made (ContentLibraryItemCreated; its uuid is the
 *       request's uid, so a retry finds it again), then importer.c fills a
 *       staging directory <library dir>/.staging/<uuid> on a worker
 *       (TemplateUploaded, with per-file bytes in status.fileUploadStatus),
 *       which is renamed into place in one step; the item becomes Ready
 *       (ContentLibraryItemReady) and the request Complete.  A failure
 *       removes the staging directory and the item: nothing partial stays.
 *       After a restart, staging directories are removed and unfinished
 *       requests start over.  ttlSecondsAfterFinished deletes finished
 *       requests.
 *   VirtualMachinePublishRequest  publish.c.
 */
#ifndef VMSVC_LIBRARY_H
#define VMSVC_LIBRARY_H

#include "agent/agent_priv.h"

#define LIBRARY_FINALIZER "imageregistry.vmware.com/library-storage"
#define ITEM_FINALIZER "imageregistry.vmware.com/item-files"
#define LIBRARY_STAGING ".staging"

typedef struct libsvc libsvc_t;

struct libsvc {
    agent_t *a;
    const resource_t *lib, *clib, *item, *citem, *imp, *pub, *vm;
    queue_t *q;    /* libraries, items: quick */
    queue_t *slow; /* imports and publications */
    ctl_t *follow;
    volatile gint stopping; /* imports stop, to start over after a restart */
};

libsvc_t *library_start(agent_t *a);
void library_stop(libsvc_t *l);

/* The staging directory for an item of `lib` (g_free). */
char *library_staging_dir(libsvc_t *l, const json_t *lib, const char *uuid);
/* Whether `lib` has an item (not being deleted) with display name `name`,
 * other than the one of uuid `except`. */
bool library_has_item(libsvc_t *l, const json_t *lib, const char *name, const char *except);
/* Make an item of `lib` (uuid, display name, description, type, owner
 * reference, finalizer); an existing one is fine.  Returns its name. */
char *library_item_create(libsvc_t *l, const json_t *lib, const char *uuid, const char *name,
                          const char *description, const char *type, err_t *err);
/* Move a filled staging directory into place as the item's directory and
 * mark the item Ready with `info`. */
int library_item_finish(libsvc_t *l, const json_t *lib, const char *item_name,
                        const char *uuid, const char *staging, const json_t *info,
                        const char *display_name, const char *description, const char *type,
                        err_t *err);
/* Delete an item (its finalizer removes its files). */
void library_item_delete(libsvc_t *l, const json_t *lib, const char *item_name);
/* Time to live after a request finished: deletes it when due, else asks to
 * look again later.  Returns true when the request is finished. */
bool library_request_finished(libsvc_t *l, const resource_t *res, const json_t *req,
                              const char *key);

/* publish.c */
int publish_reconcile(libsvc_t *l, const char *key);

#endif
