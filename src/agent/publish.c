/*
 * publish: VirtualMachinePublishRequests for the VMs on this host.
 *
 * Defaults: the source is the VM named like the request; the item is
 * "<source>-image"; the library is spec.target.location.name, else the one
 * ContentLibrary of the namespace labelled imageregistry.vmware.com/default.
 * The resolved names are shown in status.sourceRef and status.targetRef.
 *
 * Conditions, with the API's reasons:
 *   SourceValid     SourceVirtualMachineNotExist, SourceVirtualMachineNotCreated
 *   TargetValid     TargetContentLibraryNotExist, ...NotWritable, ...NotReady,
 *                   TargetItemAlreadyExists
 *   Uploaded        NotStarted, Uploading, UploadFailure
 *   ImageAvailable  HasNotBeenUploaded, ImageUnavailable
 *   Complete        True once all the others are
 * An upload is a consistent copy of the VM's boot disk: for a running VM
 * the hypervisor's backup (hv_backup_disk: a point-in-time copy while the
 * guest runs), for a stopped one a qemu-img conversion; either flattens
 * the backing chain into a standalone qcow2 in the library's staging
 * directory, which becomes the new item (its uuid is the request's uid).
 * A failed upload is tried again (status.attempts) up to PUBLISH_ATTEMPTS
 * times; then the request is finished with Complete false.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/disk.h"
#include "agent/importer.h"
#include "agent/library.h"
#include "api/objects.h"
#include "ctl/catalog.h"
#include "ctl/refs.h"
#include "model/conditions.h"
#include "model/meta.h"
#include "util/fs.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define PUBLISH_ATTEMPTS 3
#define DEFAULT_LABEL "imageregistry.vmware.com/default"

/* The namespace's default library: the one ContentLibrary labelled so. */
static json_t *default_library(libsvc_t *l, const char *ns)
{
    char *prefix = g_strconcat("imageregistry.vmware.com/contentlibraries/", ns, "/", NULL);
    GPtrArray *all = store_list(l->a->srv->store, prefix, NULL, 0, NULL, NULL);
    json_t *found = NULL;
    int n = 0;
    for (guint i = 0; i < all->len; i++) {
        store_obj_t *o = all->pdata[i];
        if (o->labels && json_object_get(o->labels, DEFAULT_LABEL)) {
            n++;
            json_decref(found);
            found = store_obj_parse(o);
        }
    }
    g_ptr_array_unref(all);
    g_free(prefix);
    if (n != 1) {
        json_decref(found);
        return NULL;
    }
    return found;
}

static void pub_write(libsvc_t *l, const json_t *req, json_t *set, json_t *conds)
{
    err_t err = ERR_INIT;
    store_obj_t *r = ctl_status_update(l->a->srv, l->pub, json_path_str(req, "metadata.namespace"),
                                       json_path_str(req, "metadata.name"), set, conds, &err);
    if (!r && err.code != ERR_NOT_FOUND)
        log_warn("publish: cannot update %s: %s", json_path_str(req, "metadata.name"), err.msg);
    store_obj_unref(r);
    err_clear(&err);
}

/* What the published image inherits from the VM's own image. */
static json_t *inherited_info(libsvc_t *l, const json_t *vm)
{
    json_t *img = refs_image(l->a->srv, json_path_str(vm, "metadata.namespace"),
                             json_path_str(vm, "spec.imageName"));
    json_t *item = img ? catalog_image_item(l->a->srv, img) : NULL;
    const char *text = json_string_value(
        json_object_get(json_path_get(item, "metadata.annotations"), CATALOG_INFO_ANNOTATION));
    json_t *src = text ? json_loads(text, 0, NULL) : NULL, *out = json_object();
    const char *keep[] = {"ovf", "firmware", "osType", "osVersion", "capabilities"};
    for (size_t i = 0; i < G_N_ELEMENTS(keep); i++)
        if (json_object_get(src, keep[i]))
            json_object_set(out, keep[i], json_object_get(src, keep[i]));
    if (!json_object_get(out, "firmware") && json_path_str(img, "status.firmware"))
        json_object_set_new(out, "firmware", json_string(json_path_str(img, "status.firmware")));
    json_decref(src);
    json_decref(item);
    json_decref(img);
    return out;
}

/* Copy the VM's boot disk into a staging directory of `lib`; the item's
 * info document, or NULL with err set. */
static json_t *export_vm(libsvc_t *l, const json_t *vm, const json_t *lib, const char *uid,
                         const char *staging, err_t *err)
{
    agent_t *a = l->a;
    const char *dom = json_path_str(vm, "status.uniqueID");
    char *file = g_build_filename(staging, "disk-1.qcow2", NULL);
    char *disk_name = g_strconcat(json_path_str(vm, "metadata.uid"), ".qcow2", NULL);
    char *boot = g_build_filename(a->data_dir, "storage", json_path_str(vm, "spec.storageClass"),
                                  disk_name, NULL);
    hv_state_t st = HV_STATE_NONE;
    json_t *info = NULL, *di = NULL;
    struct stat sb;
    err_t rerr = ERR_INIT;

    importer_rmtree(staging, &rerr);
    err_clear(&rerr);
    if (fs_mkdir_p(staging, 0700, err) < 0 || hv_state(a->hv, dom, &st, err) < 0)
        goto out;
    if (st == HV_STATE_RUNNING || st == HV_STATE_PAUSED) {
        if (hv_backup_disk(a->hv, dom, "vda", file, err) < 0)
            goto out;
    } else if (disk_convert(boot, "qcow2", file, NULL, NULL, err) < 0) {
        goto out;
    }
    if (!(di = disk_inspect(file, "qcow2", err)) || disk_check(file, err) < 0 ||
        disk_sync(file, err) < 0 || disk_sync(staging, err) < 0 || stat(file, &sb) < 0)
        goto out;
    if (json_object_get(di, "backing-filename")) {
        err_set(err, ERR_INTERNAL, "The copy of the VM's disk still has a backing file.");
        goto out;
    }
    info = inherited_info(l, vm);
    json_object_set_new(info, "type", json_string("OVF"));
    json_object_set_new(info, "sourceFormat", json_string("vm"));
    json_object_set_new(info, "disks",
                        json_pack("[{s:s,s:O,s:I}]", "file", "disk-1.qcow2", "capacity",
                                  json_object_get(di, "virtual-size"), "size",
                                  (json_int_t)sb.st_blocks * 512));
    json_object_set_new(info, "files", json_pack("[{s:s,s:I}]", "name", "disk-1.qcow2", "size",
                                                (json_int_t)sb.st_size));
    json_object_set_new(info, "publishedFrom",
                        json_pack("{s:s,s:s}", "namespace", json_path_str(vm, "metadata.namespace"),
                                  "name", json_path_str(vm, "metadata.name")));
out:
    json_decref(di);
    g_free(file);
    g_free(disk_name);
    g_free(boot);
    return info;
}

int publish_reconcile(libsvc_t *l, const char *key)
{
    agent_t *a = l->a;
    store_obj_t *o = store_get(a->srv->store, key);
    json_t *req = o ? store_obj_parse(o) : NULL, *vm = NULL, *lib = NULL, *set, *conds, *img = NULL;
    const char *ns, *name, *uid, *src, *item, *lkind, *lname;
    char *item_buf = NULL, *vmi = NULL, *staging = NULL, *iname = NULL;
    char now[32];
    const char *reason = NULL;
    char msg[512];
    err_t err = ERR_INIT;
    json_int_t attempts;
    int rc = 0;

    store_obj_unref(o);
    set = json_object();
    conds = json_array();
    if (!req || json_path_get(req, "metadata.deletionTimestamp") ||
        library_request_finished(l, l->pub, req, key))
        goto out;
    ns = json_path_str(req, "metadata.namespace");
    name = json_path_str(req, "metadata.name");
    uid = json_path_str(req, "metadata.uid");
    meta_now(now, sizeof(now));

    /* Defaults. */
    src = json_path_str(req, "spec.source.name");
    if (!src || !*src)
        src = name;
    item = json_path_str(req, "spec.target.item.name");
    if (!item || !*item)
        item = item_buf = g_strconcat(src, "-image", NULL);
    lkind = json_path_str(req, "spec.target.location.kind");
    if (!lkind || !*lkind)
        lkind = "ContentLibrary";
    lname = json_path_str(req, "spec.target.location.name");
    if (!g_strcmp0(lkind, "ContentLibrary"))
        lib = lname && *lname ? refs_get(a->srv, CATALOG_GROUP, "contentlibraries", ns, lname)
                              : default_library(l, ns);
    if (lib && (!lname || !*lname))
        lname = json_path_str(lib, "metadata.name");
    json_object_set_new(set, "sourceRef",
                        json_pack("{s:s,s:s,s:s}", "apiVersion",
                                  json_path_str(req, "spec.source.apiVersion") ?: "vmoperator.vmware.com/v1alpha2",
                                  "kind", json_path_str(req, "spec.source.kind") ?: "VirtualMachine",
                                  "name", src));
    json_object_set_new(set, "targetRef",
                        json_pack("{s:{s:s},s:{s:s,s:s,s:s}}", "item", "name", item, "location",
                                  "apiVersion",
                                  json_path_str(req, "spec.target.location.apiVersion") ?: CATALOG_API_VERSION,
                                  "kind", lkind, "name", lname ? lname : ""));
    if (json_path_str(req, "spec.target.item.description"))
        json_object_set_new(json_object_get(json_object_get(set, "targetRef"), "item"),
                            "description",
                            json_string(json_path_str(req, "spec.target.item.description")));
    if (!json_path_str(req, "status.startTime"))
        json_object_set_new(set, "startTime", json_string(now));

    /* Source. */
    vm = refs_get(a->srv, "vmoperator.vmware.com", "virtualmachines", ns, src);
    if (vm && g_strcmp0(json_path_str(vm, "status.host"), a->node) != 0 &&
        json_path_str(vm, "status.host"))
        goto out; /* another host's agent publishes it */
    if (g_strcmp0(json_path_str(req, "spec.source.kind") ?: "VirtualMachine", "VirtualMachine") ||
        !vm) {
        reason = "SourceVirtualMachineNotExist";
        snprintf(msg, sizeof(msg), "VirtualMachine %s does not exist in namespace %s.", src, ns);
    } else if (!cond_is_true(vm, "VirtualMachineCreated") || !json_path_str(vm, "status.uniqueID")) {
        reason = "SourceVirtualMachineNotCreated";
        snprintf(msg, sizeof(msg), "VirtualMachine %s has not been created yet.", src);
    }
    if (reason) {
        json_array_append_new(conds, ctl_cond("SourceValid", false, reason, "%s", msg));
        goto invalid;
    }
    json_array_append_new(conds, ctl_cond("SourceValid", true, "SourceValid", "%s", ""));

    /* Target. */
    if (g_strcmp0(lkind, "ContentLibrary") || !lib) {
        reason = "TargetContentLibraryNotExist";
        if (lname && *lname)
            snprintf(msg, sizeof(msg), "%s %s does not exist in namespace %s.", lkind, lname, ns);
        else
            snprintf(msg, sizeof(msg), "No library was named and namespace %s has no default "
                                       "one (a ContentLibrary labelled " DEFAULT_LABEL ").", ns);
    } else if (!json_is_true(json_path_get(lib, "spec.writable"))) {
        reason = "TargetContentLibraryNotWritable";
        snprintf(msg, sizeof(msg), "ContentLibrary %s is not writable.", lname);
    } else if (!cond_is_true(lib, "Ready") || json_path_get(lib, "metadata.deletionTimestamp")) {
        reason = "TargetContentLibraryNotReady";
        snprintf(msg, sizeof(msg), "ContentLibrary %s is not ready.", lname);
    } else if (library_has_item(l, lib, item, uid)) {
        reason = "TargetItemAlreadyExists";
        snprintf(msg, sizeof(msg), "ContentLibrary %s already has an item named %s.", lname, item);
    }
    if (reason && !cond_is_true(req, "Uploaded")) {
        json_array_append_new(conds, ctl_cond("TargetValid", false, reason, "%s", msg));
        goto invalid;
    }
    json_array_append_new(conds, ctl_cond("TargetValid", true, "TargetValid", "%s", ""));

    /* Upload. */
    if (!cond_is_true(req, "Uploaded")) {
        attempts = json_integer_value(json_path_get(req, "status.attempts")) + 1;
        json_object_set_new(set, "attempts", json_integer(attempts));
        json_object_set_new(set, "lastAttemptTime", json_string(now));
        json_array_append_new(conds, ctl_cond("Uploaded", false, "Uploading",
                                              "Copying the disk of VM %s.", src));
        json_array_append_new(conds, ctl_cond("ImageAvailable", false, "HasNotBeenUploaded", "%s",
                                              "The VM has not been uploaded yet."));
        json_array_append_new(conds, ctl_cond("Complete", false, "HasNotBeenUploaded", "%s",
                                              "The VM has not been uploaded yet."));
        pub_write(l, req, set, conds);
        json_object_clear(set);
        json_array_clear(conds);

        staging = library_staging_dir(l, lib, uid);
        json_t *info = export_vm(l, vm, lib, uid, staging, &err);
        if (info && (iname = library_item_create(l, lib, uid, item,
                                                 json_path_str(req, "spec.target.item.description"),
                                                 "OVF", &err)) &&
            library_item_finish(l, lib, iname, uid, staging, info, item,
                                json_path_str(req, "spec.target.item.description"), "OVF",
                                &err) == 0) {
            json_array_append_new(conds, ctl_cond("Uploaded", true, "Uploaded", "%s", ""));
            event_record(a->ev, req, "Normal", "Uploaded",
                         "VM %s was copied into ContentLibrary %s as item %s.", src, lname, item);
            log_info("publish: %s/%s: VM %s copied into %s as %s", ns, name, src, lname, iname);
        } else {
            err_t rerr = ERR_INIT;
            importer_rmtree(staging, &rerr);
            err_clear(&rerr);
            if (iname)
                library_item_delete(l, lib, iname);
            json_array_append_new(conds, ctl_cond("Uploaded", false, "UploadFailure", "%s", err.msg));
            event_record(a->ev, req, "Warning", "UploadFailure", "Publishing VM %s failed: %s",
                         src, err.msg);
            log_warn("publish: %s/%s: attempt %lld: %s", ns, name, (long long)attempts, err.msg);
            if (attempts >= PUBLISH_ATTEMPTS) {
                json_array_append_new(conds, ctl_cond("Complete", false, "UploadFailure",
                                                      "Gave up after %lld attempts: %s",
                                                      (long long)attempts, err.msg));
                json_object_set_new(set, "completionTime", json_string(now));
            } else {
                rc = -1; /* again, with backoff */
            }
            json_decref(info);
            pub_write(l, req, set, conds);
            goto out;
        }
        json_decref(info);
    } else {
        json_array_append_new(conds, ctl_cond("Uploaded", true, "Uploaded", "%s", ""));
    }

    /* The image. */
    vmi = catalog_image_name(uid);
    img = refs_get(a->srv, "vmoperator.vmware.com", "virtualmachineimages", ns, vmi);
    if (!img || !cond_is_true(img, "Ready")) {
        json_array_append_new(conds, ctl_cond("ImageAvailable", false, "ImageUnavailable",
                                              "VirtualMachineImage %s is not available yet.", vmi));
        json_array_append_new(conds, ctl_cond("Complete", false, "ImageUnavailable",
                                              "VirtualMachineImage %s is not available yet.", vmi));
        pub_write(l, req, set, conds);
        queue_add_after(l->slow, key, 500);
        goto out;
    }
    meta_now(now, sizeof(now));
    json_object_set_new(set, "imageName", json_string(vmi));
    json_object_set_new(set, "ready", json_true());
    json_object_set_new(set, "completionTime", json_string(now));
    json_array_append_new(conds, ctl_cond("ImageAvailable", true, "ImageAvailable", "%s", ""));
    json_array_append_new(conds, ctl_cond("Complete", true, "Complete", "%s", ""));
    pub_write(l, req, set, conds);
    event_record(a->ev, req, "Normal", "Published", "VM %s was published as image %s.", src, vmi);
    goto out;

invalid:
    json_array_append_new(conds, ctl_cond("Uploaded", false, "NotStarted", "%s",
                                          "The publication has not started."));
    json_array_append_new(conds, ctl_cond("ImageAvailable", false, "HasNotBeenUploaded", "%s",
                                          "The VM has not been uploaded."));
    json_array_append_new(conds, ctl_cond("Complete", false, "HasNotBeenUploaded", "%s", msg));
    {
        json_t *prev = cond_get(req, json_string_value(json_object_get(json_array_get(conds, 0), "type")));
        bool changed = true;
        for (size_t i = 0; i < json_array_size(conds); i++) {
            json_t *c = json_array_get(conds, i);
            if (!g_strcmp0(json_string_value(json_object_get(c, "reason")), reason)) {
                prev = cond_get(req, json_string_value(json_object_get(c, "type")));
                changed = !prev || g_strcmp0(json_string_value(json_object_get(prev, "reason")), reason);
            }
        }
        if (changed)
            event_record(a->ev, req, "Warning", reason, "%s", msg);
    }
    pub_write(l, req, set, conds);
    queue_add_after(l->slow, key, 2000);
out:
    err_clear(&err);
    json_decref(req);
    json_decref(vm);
    json_decref(lib);
    json_decref(img);
    json_decref(set);
    json_decref(conds);
    g_free(item_buf);
    g_free(vmi);
    g_free(staging);
    g_free(iname);
    return rc;
}
