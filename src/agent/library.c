/* library: see library.h. */
#include "agent/library.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/disk.h"
#include "agent/importer.h"
#include "api/objects.h"
#include "ctl/catalog.h"
#include "ctl/refs.h"
#include "model/conditions.h"
#include "model/meta.h"
#include "util/fs.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define LIB_PREFIX "imageregistry.vmware.com/contentlibraries/"
#define CLIB_PREFIX "imageregistry.vmware.com/clustercontentlibraries/"
#define ITEM_PREFIX "imageregistry.vmware.com/contentlibraryitems/"
#define CITEM_PREFIX "imageregistry.vmware.com/clustercontentlibraryitems/"
#define IMP_PREFIX "imageregistry.vmware.com/contentlibraryitemimportrequests/"
#define PUB_PREFIX "vmoperator.vmware.com/virtualmachinepublishrequests/"
#define RECHECK_MS 500

/* ---- helpers ----------------------------------------------------------------- */

static json_t *get_key(libsvc_t *l, const char *key)
{
    store_obj_t *o = store_get(l->a->srv->store, key);
    json_t *j = o ? store_obj_parse(o) : NULL;
    store_obj_unref(o);
    return j;
}

static bool is_cluster_lib(const json_t *lib)
{
    return !g_strcmp0(json_string_value(json_object_get(lib, "kind")), "ClusterContentLibrary");
}

static bool cond_true(const json_t *obj, const char *type)
{
    return cond_is_true(obj, type);
}

char *library_staging_dir(libsvc_t *l, const json_t *lib, const char *uuid)
{
    char *dir = catalog_library_dir(l->a->data_dir, lib);
    char *p = g_build_filename(dir, LIBRARY_STAGING, uuid, NULL);
    g_free(dir);
    return p;
}

/* Items of a library, parsed (the array owns them). */
static GPtrArray *library_items(libsvc_t *l, const json_t *lib)
{
    bool cluster = is_cluster_lib(lib);
    const char *ns = json_path_str(lib, "metadata.namespace");
    const char *uid = json_path_str(lib, "metadata.uid");
    char *prefix = cluster ? g_strdup(CITEM_PREFIX) : g_strconcat(ITEM_PREFIX, ns, "/", NULL);
    GPtrArray *all = store_list(l->a->srv->store, prefix, NULL, 0, NULL, NULL);
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    for (guint i = 0; i < all->len; i++) {
        json_t *it = store_obj_parse(all->pdata[i]), *ref;
        bool mine = false;
        size_t k;
        json_array_foreach(json_path_get(it, "metadata.ownerReferences"), k, ref)
            mine |= !g_strcmp0(json_string_value(json_object_get(ref, "uid")), uid);
        if (mine)
            g_ptr_array_add(out, it);
        else
            json_decref(it);
    }
    g_ptr_array_unref(all);
    g_free(prefix);
    return out;
}

bool library_has_item(libsvc_t *l, const json_t *lib, const char *name, const char *except)
{
    GPtrArray *items = library_items(l, lib);
    bool found = false;
    for (guint i = 0; i < items->len && !found; i++) {
        json_t *it = items->pdata[i];
        found = !g_strcmp0(json_path_str(it, "status.name"), name) &&
                g_strcmp0(json_path_str(it, "spec.uuid"), except) != 0 &&
                !json_path_get(it, "metadata.deletionTimestamp");
    }
    g_ptr_array_unref(items);
    return found;
}

/* The status fields an item has from its creation on. */
static json_t *item_base_status(const json_t *lib, const char *name, const char *description,
                                const char *type, const char *now)
{
    bool cluster = is_cluster_lib(lib);
    json_t *st = json_pack("{s:s,s:{s:s,s:s},s:s,s:s,s:s,s:b}", "name", name,
                           "contentLibraryRef", "kind",
                           cluster ? "ClusterContentLibrary" : "ContentLibrary", "name",
                           json_path_str(lib, "metadata.name"), "type", type, "creationTime", now,
                           "contentVersion", "1", "securityCompliance", 1);
    if (description && *description)
        json_object_set_new(st, "description", json_string(description));
    return st;
}

char *library_item_create(libsvc_t *l, const json_t *lib, const char *uuid, const char *name,
                          const char *description, const char *type, err_t *err)
{
    bool cluster = is_cluster_lib(lib);
    const char *ns = cluster ? NULL : json_path_str(lib, "metadata.namespace");
    const resource_t *res = cluster ? l->citem : l->item;
    char *iname = catalog_item_name(cluster, uuid);
    char now[32];
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    json_t *obj = json_pack(
        "{s:s,s:s,s:{s:s,s:[s],s:[{s:s,s:s,s:s,s:s,s:b,s:b}]},s:{s:s}}", "apiVersion",
        CATALOG_API_VERSION, "kind", cluster ? "ClusterContentLibraryItem" : "ContentLibraryItem",
        "metadata", "name", iname, "finalizers", ITEM_FINALIZER, "ownerReferences", "apiVersion",
        CATALOG_API_VERSION, "kind", cluster ? "ClusterContentLibrary" : "ContentLibrary", "name",
        json_path_str(lib, "metadata.name"), "uid", json_path_str(lib, "metadata.uid"),
        "controller", 1, "blockOwnerDeletion", 1, "spec", "uuid", uuid);
    store_obj_t *r = obj_create(l->a->srv, res, ns, obj, &o, err);
    json_t *cur;

    if (!r && err->code != ERR_ALREADY_EXISTS) {
        g_free(iname);
        return NULL;
    }
    err_clear(err);
    store_obj_unref(r);
    /* A new item, or one whose first status write did not happen (a retry
     * after a restart): it gets its status fields. */
    cur = refs_get(l->a->srv, CATALOG_GROUP, cluster ? "clustercontentlibraryitems"
                                                     : "contentlibraryitems", ns, iname);
    if (cur && !json_path_str(cur, "status.name")) {
        json_t *st, *conds;
        meta_now(now, sizeof(now));
        st = item_base_status(lib, name, description, type, now);
        json_object_set_new(st, "cached", json_false());
        json_object_set_new(st, "lastModifiedTime", json_string(now));
        conds = json_pack("[{s:s,s:s,s:s,s:s}]", "type", "Ready", "status", "False", "reason",
                          "ContentLibraryItemFileUnavailable", "message",
                          "The item's files are being imported.");
        r = ctl_status_update(l->a->srv, res, ns, iname, st, conds, err);
        json_decref(st);
        json_decref(conds);
        if (!r) {
            json_decref(cur);
            g_free(iname);
            return NULL;
        }
        store_obj_unref(r);
    }
    json_decref(cur);
    return iname;
}

typedef struct ann_edit {
    const char *key;
    const char *value;
} ann_edit_t;

static json_t *mutate_annotation(const json_t *cur, void *ctx, err_t *err)
{
    ann_edit_t *e = ctx;
    json_t *next = json_deep_copy(cur);
    json_object_set_new(json_object_ensure(json_object_ensure(next, "metadata"), "annotations"),
                        e->key, json_string(e->value));
    return next;
}

/* One entry of an item's status.fileInfo; returns its size. */
static int64_t file_info_add(json_t *files, json_t *name, json_t *size)
{
    json_array_append_new(files, json_pack("{s:O,s:O,s:s,s:b}", "name", name, "sizeInBytes", size,
                                           "version", "1", "cached", 1));
    return json_integer_value(size);
}

int library_item_finish(libsvc_t *l, const json_t *lib, const char *item_name, const char *uuid,
                        const char *staging, const json_t *info, const char *display_name,
                        const char *description, const char *type, err_t *err)
{
    bool cluster = is_cluster_lib(lib);
    const char *ns = cluster ? NULL : json_path_str(lib, "metadata.namespace");
    const resource_t *res = cluster ? l->citem : l->item;
    char *dir = catalog_library_dir(l->a->data_dir, lib);
    char *final = g_build_filename(dir, uuid, NULL);
    char *text = json_dumps(info, JSON_COMPACT | JSON_SORT_KEYS);
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    ann_edit_t e = {CATALOG_INFO_ANNOTATION, text};
    json_t *st = NULL, *conds = NULL, *files = json_array(), *f;
    int64_t total = 0;
    size_t i;
    char now[32];
    store_obj_t *r;
    int rc = -1;

    /* A directory left by an attempt cut short goes first. */
    if (importer_rmtree(final, err) < 0)
        goto out;
    if (rename(staging, final) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot move %s into place: %s", staging, strerror(errno));
        goto out;
    }
    if (disk_sync(dir, err) < 0)
        goto out;
    r = obj_update(l->a->srv, res, ns, item_name, NULL, mutate_annotation, &e, &o, err);
    if (!r)
        goto out;
    store_obj_unref(r);
    /* What the library keeps: the disks (and an ISO or descriptor). */
    json_array_foreach(json_object_get(info, "disks"), i, f)
        total += file_info_add(files, json_object_get(f, "file"), json_object_get(f, "size"));
    if (json_object_get(info, "iso")) {
        json_array_foreach(json_object_get(info, "files"), i, f)
            total += file_info_add(files, json_object_get(f, "name"), json_object_get(f, "size"));
    }
    meta_now(now, sizeof(now));
    st = item_base_status(lib, display_name, description, type, now);
    json_object_del(st, "creationTime");
    json_object_set_new(st, "cached", json_true());
    json_object_set_new(st, "sizeInBytes", json_integer(total));
    json_object_set(st, "fileInfo", files);
    json_object_set_new(st, "lastModifiedTime", json_string(now));
    conds = json_pack("[{s:s,s:s,s:s,s:s}]", "type", "Ready", "status", "True", "reason",
                      "Ready", "message", "");
    r = ctl_status_update(l->a->srv, res, ns, item_name, st, conds, err);
    if (!r)
        goto out;
    store_obj_unref(r);
    rc = 0;
out:
    json_decref(st);
    json_decref(conds);
    json_decref(files);
    free(text);
    g_free(dir);
    g_free(final);
    return rc;
}

void library_item_delete(libsvc_t *l, const json_t *lib, const char *item_name)
{
    bool cluster = is_cluster_lib(lib);
    obj_opts_t o = {0};
    err_t err = ERR_INIT;
    store_obj_t *r = obj_delete(l->a->srv, cluster ? l->citem : l->item,
                                cluster ? NULL : json_path_str(lib, "metadata.namespace"),
                                item_name, &o, &err);
    store_obj_unref(r);
    err_clear(&err);
}

bool library_request_finished(libsvc_t *l, const resource_t *res, const json_t *req,
                              const char *key)
{
    const json_t *ttl = json_path_get(req, "spec.ttlSecondsAfterFinished");
    const char *done = json_path_str(req, "status.completionTime");
    GDateTime *t, *now;
    gint64 left;

    if (!cond_get(req, "Complete") || !done)
        return false;
    if (!json_is_integer(ttl) || !(t = g_date_time_new_from_iso8601(done, NULL)))
        return true;
    now = g_date_time_new_now_utc();
    left = json_integer_value(ttl) * 1000 - g_date_time_difference(now, t) / 1000;
    g_date_time_unref(now);
    g_date_time_unref(t);
    if (left <= 0) {
        obj_opts_t o = {0};
        err_t err = ERR_INIT;
        store_obj_t *r = obj_delete(l->a->srv, res, json_path_str(req, "metadata.namespace"),
                                    json_path_str(req, "metadata.name"), &o, &err);
        if (r)
            log_info("library: %s deleted: its time to live after finishing is over", key);
        store_obj_unref(r);
        err_clear(&err);
    } else {
        queue_add_after(l->slow, key, (int)MIN(left, 3600 * 1000) + 50);
    }
    return true;
}

/* ---- libraries ------------------------------------------------------------------- */

/* An administrator's directory must be absolute and plain, exist, and stay
 * clear of the system's and the service's own directories. */
static int check_storage_path(libsvc_t *l, const char *p, err_t *err)
{
    static const char *const sys[] = {"/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin",
                                      "/lib", "/lib64", "/boot", "/run", "/var/lib/dpkg"};
    struct stat sb;
    char *data = g_canonicalize_filename(l->a->data_dir, NULL), *libs;

    if (!p || p[0] != '/' || strstr(p, "/../") || g_str_has_suffix(p, "/..") || strstr(p, "/./") ||
        strstr(p, "//") || (strlen(p) > 1 && g_str_has_suffix(p, "/")) || strlen(p) > 1024) {
        err_set(err, ERR_INVALID, "The storage path \"%.200s\" is not a plain absolute path.",
                p ? p : "");
        goto fail;
    }
    if (!strcmp(p, "/")) {
        err_set(err, ERR_INVALID, "The storage path may not be the root directory.");
        goto fail;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(sys); i++)
        if (!strcmp(p, sys[i]) || (g_str_has_prefix(p, sys[i]) && p[strlen(sys[i])] == '/')) {
            err_set(err, ERR_INVALID, "The storage path %s is inside the system directory %s.",
                    p, sys[i]);
            goto fail;
        }
    libs = g_build_filename(data, "libraries", NULL);
    if ((!strcmp(p, data) || (g_str_has_prefix(p, data) && p[strlen(data)] == '/')) &&
        !g_str_has_prefix(p, libs)) {
        err_set(err, ERR_INVALID, "The storage path %s is inside the service's data directory.", p);
        g_free(libs);
        goto fail;
    }
    g_free(libs);
    if (lstat(p, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        err_set(err, ERR_INVALID, "The storage path %s is not an existing directory%s.", p,
                errno == 0 && S_ISLNK(sb.st_mode) ? " (it is a symbolic link)" : "");
        goto fail;
    }
    if (access(p, W_OK | X_OK) < 0) {
        err_set(err, ERR_INVALID, "The storage path %s is not writable: %s", p, strerror(errno));
        goto fail;
    }
    g_free(data);
    return 0;
fail:
    g_free(data);
    return -1;
}

static int lib_reconcile(libsvc_t *l, const char *key)
{
    json_t *lib = get_key(l, key);
    bool cluster;
    const resource_t *res;
    const char *ns, *name, *admin;
    char *dir = NULL;
    err_t err = ERR_INIT;
    json_t *st = NULL, *conds = NULL;
    store_obj_t *r;
    int rc = 0;

    if (!lib)
        return 0;
    cluster = g_str_has_prefix(key, CLIB_PREFIX);
    res = cluster ? l->clib : l->lib;
    ns = cluster ? NULL : json_path_str(lib, "metadata.namespace");
    name = json_path_str(lib, "metadata.name");
    admin = json_string_value(
        json_object_get(json_path_get(lib, "metadata.annotations"), CATALOG_PATH_ANNOTATION));
    dir = catalog_library_dir(l->a->data_dir, lib);

    if (json_path_get(lib, "metadata.deletionTimestamp")) {
        GPtrArray *items;
        if (!meta_has_finalizer(lib, LIBRARY_FINALIZER))
            goto out;
        items = library_items(l, lib);
        for (guint i = 0; i < items->len; i++)
            if (!json_path_get(items->pdata[i], "metadata.deletionTimestamp"))
                library_item_delete(l, lib, json_path_str(items->pdata[i], "metadata.name"));
        if (items->len > 0) {
            queue_add_after(l->q, key, RECHECK_MS);
            g_ptr_array_unref(items);
            goto out;
        }
        g_ptr_array_unref(items);
        /* Our directory goes whole; an administrator's keeps what is not ours. */
        if (!admin || !*admin) {
            if (importer_rmtree(dir, &err) < 0)
                goto fail;
        } else {
            char *staging = g_build_filename(dir, LIBRARY_STAGING, NULL);
            importer_rmtree(staging, &err);
            g_free(staging);
            err_clear(&err);
        }
        if (ctl_finalizer(l->a->srv, res, ns, name, LIBRARY_FINALIZER, false, &err) < 0 &&
            err.code != ERR_NOT_FOUND)
            goto fail;
        log_info("library: %s deleted with its items", key);
        goto out;
    }
    if (!meta_has_finalizer(lib, LIBRARY_FINALIZER)) {
        if (ctl_finalizer(l->a->srv, res, ns, name, LIBRARY_FINALIZER, true, &err) < 0 &&
            err.code != ERR_NOT_FOUND)
            goto fail;
        goto out; /* the update brings us back */
    }
    conds = json_array();
    if (admin && *admin && check_storage_path(l, admin, &err) < 0) {
        json_array_append_new(conds, ctl_cond("Ready", false, "StoragePathInvalid", "%s", err.msg));
        if (!cond_get(lib, "Ready") || cond_true(lib, "Ready"))
            event_record(l->a->ev, lib, "Warning", "StoragePathInvalid", "%s", err.msg);
        err_clear(&err);
    } else if (fs_mkdir_p(dir, 0700, &err) < 0) {
        json_array_append_new(conds, ctl_cond("Ready", false, "StorageUnavailable", "%s", err.msg));
        err_clear(&err);
    } else {
        json_array_append_new(conds, ctl_cond("Ready", true, "Ready", "%s", ""));
        if (!cond_true(lib, "Ready"))
            event_record(l->a->ev, lib, "Normal", "Ready", "The library stores its items in %s.",
                         dir);
    }
    st = json_pack("{s:s,s:s,s:{s:s,s:s},s:s}", "name", name, "type", "Local", "storageBacking",
                   "type", admin && *admin ? "Other" : "Datastore", "datastoreID", dir,
                   "creationTime", json_path_str(lib, "metadata.creationTimestamp") ?: "");
    if (json_path_str(lib, "metadata.annotations") == NULL) {
    }
    r = ctl_status_update(l->a->srv, res, ns, name, st, conds, &err);
    if (!r && err.code != ERR_NOT_FOUND)
        goto fail;
    store_obj_unref(r);
    /* Items and requests that waited for the library go on. */
    goto out;
fail:
    log_warn("library: %s: %s", key, err.msg);
    rc = -1;
out:
    err_clear(&err);
    json_decref(lib);
    json_decref(st);
    json_decref(conds);
    g_free(dir);
    return rc;
}

/* ---- items ----------------------------------------------------------------------- */

static int item_reconcile(libsvc_t *l, const char *key)
{
    json_t *item = get_key(l, key), *lib = NULL;
    bool cluster = g_str_has_prefix(key, CITEM_PREFIX);
    const resource_t *res = cluster ? l->citem : l->item;
    const char *ns, *name, *uuid;
    err_t err = ERR_INIT;
    int rc = 0;

    if (!item)
        return 0;
    ns = cluster ? NULL : json_path_str(item, "metadata.namespace");
    name = json_path_str(item, "metadata.name");
    uuid = json_path_str(item, "spec.uuid");
    lib = catalog_item_library(l->a->srv, item);
    if (json_path_get(item, "metadata.deletionTimestamp")) {
        if (!meta_has_finalizer(item, ITEM_FINALIZER))
            goto out;
        if (lib && uuid && *uuid && !strchr(uuid, '/') && strcmp(uuid, ".") && strcmp(uuid, "..")) {
            char *dir = catalog_library_dir(l->a->data_dir, lib);
            char *p = g_build_filename(dir, uuid, NULL);
            char *staging = library_staging_dir(l, lib, uuid);
            int r1 = importer_rmtree(p, &err);
            importer_rmtree(staging, &err);
            g_free(dir);
            g_free(p);
            g_free(staging);
            if (r1 < 0)
                goto fail;
            err_clear(&err);
        }
        if (ctl_finalizer(l->a->srv, res, ns, name, ITEM_FINALIZER, false, &err) < 0 &&
            err.code != ERR_NOT_FOUND)
            goto fail;
        log_info("library: item %s deleted with its files", key);
        goto out;
    }
    /* An item someone made by hand has no files here. */
    if (!cond_get(item, "Ready")) {
        json_t *conds = json_pack("[{s:s,s:s,s:s,s:s}]", "type", "Ready", "status", "False",
                                  "reason", lib ? "ContentLibraryItemFileUnavailable"
                                                : (cluster ? "ClusterContentLibraryRefValidationFailed"
                                                           : "ContentLibraryRefValidationFailed"),
                                  "message", lib ? "The item has no files in its library."
                                                 : "The item belongs to no library.");
        /* Judged again at the write: an import or publication may have set
         * Ready since this copy was read. */
        store_obj_t *r = ctl_status_default(l->a->srv, res, ns, name, conds, &err);
        store_obj_unref(r);
        json_decref(conds);
        err_clear(&err);
    }
    goto out;
fail:
    log_warn("library: %s: %s", key, err.msg);
    rc = -1;
out:
    err_clear(&err);
    json_decref(item);
    json_decref(lib);
    return rc;
}

/* ---- import requests ------------------------------------------------------------- */

typedef struct imp_progress {
    libsvc_t *l;
    const char *ns, *name;
    json_t *files; /* name -> {bytesTransferred, size} in arrival order */
} imp_progress_t;

static json_t *upload_status(const json_t *files, const char *failed_msg)
{
    json_t *ups = json_array(), *completed = json_array(), *inprog = json_array(), *v;
    json_t *failed = json_array();
    const char *k;
    json_object_foreach((json_t *)files, k, v) {
        bool done = json_is_true(json_object_get(v, "done"));
        json_t *u = json_pack("{s:s,s:s,s:O}", "name", k, "transferStatus",
                              done ? "Ready" : failed_msg ? "Error" : "Transferring",
                              "bytesTransferred", json_object_get(v, "bytes"));
        if (json_integer_value(json_object_get(v, "size")) > 0)
            json_object_set(u, "size", json_object_get(v, "size"));
        if (!done && failed_msg)
            json_object_set_new(u, "errorMessage", json_string(failed_msg));
        json_array_append_new(ups, u);
        json_array_append_new(done ? completed : failed_msg ? failed : inprog, json_string(k));
    }
    return json_pack("{s:o,s:o,s:o,s:o}", "fileUploads", ups, "completed", completed,
                     "inProgress", inprog, "failed", failed);
}

static bool imp_progress(void *p, const char *file, int64_t done, int64_t total)
{
    imp_progress_t *ip = p;
    json_t *f = json_object_get(ip->files, file), *set, *conds, *v;
    const char *k;
    err_t err = ERR_INIT;
    store_obj_t *r;
    int64_t pct;

    if (g_atomic_int_get(&ip->l->stopping))
        return false;

    if (!f) {
        /* Files before this one are done. */
        json_object_foreach(ip->files, k, v)
            json_object_set_new(v, "done", json_true());
        f = json_object();
        json_object_set_new(ip->files, file, f);
    }
    json_object_set_new(f, "bytes", json_integer(done));
    json_object_set_new(f, "size", json_integer(total));
    pct = total > 0 ? done * 100 / total : 0;
    set = json_pack("{s:o}", "fileUploadStatus", upload_status(ip->files, NULL));
    conds = json_array();
    json_array_append_new(conds, ctl_cond("TemplateUploaded", false, "UploadInProgress",
                                          "Transferring %s: %lld of %lld bytes (%lld%%).", file,
                                          (long long)done, (long long)total, (long long)pct));
    r = ctl_status_update(ip->l->a->srv, ip->l->imp, ip->ns, ip->name, set, conds, &err);
    json_decref(set);
    json_decref(conds);
    store_obj_unref(r);
    if (!r && err.code == ERR_NOT_FOUND) {
        err_clear(&err);
        return false; /* the request is gone: stop */
    }
    if (r) {
        /* A request being deleted stops its import too. */
        json_t *j = store_obj_parse(r);
        bool going = json_path_get(j, "metadata.deletionTimestamp") != NULL;
        json_decref(j);
        if (going)
            return false;
    }
    err_clear(&err);
    return true;
}

static json_t *lookup_library(libsvc_t *l, const char *ns, const char *kind, const char *name)
{
    if (!g_strcmp0(kind, "ClusterContentLibrary"))
        return refs_get(l->a->srv, CATALOG_GROUP, "clustercontentlibraries", NULL, name);
    return refs_get(l->a->srv, CATALOG_GROUP, "contentlibraries", ns, name);
}

static void imp_write(libsvc_t *l, const json_t *req, json_t *set, json_t *conds)
{
    err_t err = ERR_INIT;
    store_obj_t *r = ctl_status_update(l->a->srv, l->imp, json_path_str(req, "metadata.namespace"),
                                       json_path_str(req, "metadata.name"), set, conds, &err);
    if (!r && err.code != ERR_NOT_FOUND)
        log_warn("library: cannot update import request %s: %s",
                 json_path_str(req, "metadata.name"), err.msg);
    store_obj_unref(r);
    err_clear(&err);
}

static int imp_reconcile(libsvc_t *l, const char *key)
{
    json_t *req = get_key(l, key), *lib = NULL, *set = NULL, *conds = NULL, *info = NULL;
    json_t *overrides = NULL;
    const char *ns, *uid, *url, *reason, *kind, *lname, *type;
    char msg[1024], now[32];
    char *iname = NULL, *dname = NULL, *staging = NULL, *shown = NULL;
    err_t err = ERR_INIT;
    int rc = 0;

    if (!req)
        return 0;
    if (json_path_get(req, "metadata.deletionTimestamp") || library_request_finished(l, l->imp, req, key))
        goto out;
    ns = json_path_str(req, "metadata.namespace");
    uid = json_path_str(req, "metadata.uid");
    url = json_path_str(req, "spec.source.url");
    shown = importer_url_shown(url);
    kind = json_path_str(req, "spec.target.library.kind");
    lname = json_path_str(req, "spec.target.library.name");
    meta_now(now, sizeof(now));
    set = json_object();
    conds = json_array();
    if (!json_path_str(req, "status.startTime"))
        json_object_set_new(set, "startTime", json_string(now));

    /* Source. */
    if ((reason = importer_check_url(url, msg, sizeof(msg)))) {
        json_array_append_new(conds, ctl_cond("SourceValid", false, reason, "%s", msg));
        json_array_append_new(conds, ctl_cond("Complete", false, reason, "%s", msg));
        if (!cond_get(req, "SourceValid") || cond_true(req, "SourceValid"))
            event_record(l->a->ev, req, "Warning", reason, "%s", msg);
        imp_write(l, req, set, conds);
        queue_add_after(l->slow, key, 5000);
        goto out;
    }
    json_array_append_new(conds, ctl_cond("SourceValid", true, "SourceValid", "%s", ""));

    /* Target. */
    lib = lookup_library(l, ns, kind, lname);
    dname = json_path_str(req, "spec.target.item.name") && *json_path_str(req, "spec.target.item.name")
                ? g_strdup(json_path_str(req, "spec.target.item.name"))
                : importer_default_name(url);
    reason = NULL;
    if (!lib || json_path_get(lib, "metadata.deletionTimestamp")) {
        reason = "TargetLibraryInvalid";
        snprintf(msg, sizeof(msg), "%s %s does not exist%s.", kind ? kind : "ContentLibrary",
                 lname ? lname : "", kind && !strcmp(kind, "ClusterContentLibrary") ? "" : " in this namespace");
    } else if (!cond_true(lib, "Ready")) {
        reason = "TargetLibraryInvalid";
        snprintf(msg, sizeof(msg), "%s %s is not ready.", kind, lname);
    } else if (!is_cluster_lib(lib) && !json_is_true(json_path_get(lib, "spec.allowImport"))) {
        reason = "TargetLibraryInvalid";
        snprintf(msg, sizeof(msg), "ContentLibrary %s does not allow imports (spec.allowImport).",
                 lname);
    } else if (library_has_item(l, lib, dname, uid)) {
        reason = "TargetLibraryItemInvalid";
        snprintf(msg, sizeof(msg), "%s %s already has an item named %s.", kind, lname, dname);
    }
    if (reason) {
        json_array_append_new(conds, ctl_cond("TargetValid", false, reason, "%s", msg));
        json_array_append_new(conds, ctl_cond("Complete", false, reason, "%s", msg));
        if (!cond_get(req, "TargetValid") || cond_true(req, "TargetValid"))
            event_record(l->a->ev, req, "Warning", reason, "%s", msg);
        imp_write(l, req, set, conds);
        queue_add_after(l->slow, key, 2000);
        goto out;
    }
    json_array_append_new(conds, ctl_cond("TargetValid", true, "TargetValid", "%s", ""));

    /* The item. */
    type = json_path_str(req, "spec.target.item.type");
    if (!type) /* a first guess: the importer tells once it has looked */
        type = g_str_has_suffix(url, ".iso") || g_str_has_suffix(url, ".ISO") ? "ISO" : "OVF";
    if (!(iname = library_item_create(l, lib, uid, dname,
                                      json_path_str(req, "spec.target.item.description"), type,
                                      &err))) {
        json_array_append_new(conds, ctl_cond("ContentLibraryItemCreated", false,
                                              "TargetLibraryItemCreationFailure", "%s", err.msg));
        imp_write(l, req, set, conds);
        rc = -1;
        goto out;
    }
    json_array_append_new(conds, ctl_cond("ContentLibraryItemCreated", true,
                                          "ContentLibraryItemCreated", "%s", ""));
    json_object_set_new(set, "itemRef",
                        json_pack("{s:s,s:s,s:s}", "apiVersion", CATALOG_API_VERSION, "kind",
                                  is_cluster_lib(lib) ? "ClusterContentLibraryItem" : "ContentLibraryItem",
                                  "name", iname));
    json_array_append_new(conds, ctl_cond("TemplateUploaded", false, "UploadInProgress",
                                          "Starting the transfer of %s.", shown));
    json_array_append_new(conds, ctl_cond("ContentLibraryItemReady", false,
                                          "TargetLibraryItemNotReady", "%s", "The import runs."));
    json_array_append_new(conds, ctl_cond("Complete", false, "UploadInProgress", "%s",
                                          "The import runs."));
    imp_write(l, req, set, conds);
    json_decref(conds);
    conds = json_array();
    json_object_clear(set);

    /* The transfer: into a fresh staging directory, then into place. */
    staging = library_staging_dir(l, lib, uid);
    importer_rmtree(staging, &err);
    err_clear(&err);
    if (fs_mkdir_p(staging, 0700, &err) == 0) {
        import_src_t src = {.url = url,
                            .ssl_cert = json_path_str(req, "spec.source.sslCertificate"),
                            .checksum_alg = json_path_str(req, "spec.source.checksum.algorithm"),
                            .checksum = json_path_str(req, "spec.source.checksum.value"),
                            .item_type = json_path_str(req, "spec.target.item.type")};
        imp_progress_t ip = {l, ns, json_path_str(req, "metadata.name"), json_object()};
        log_info("library: importing %s into %s %s as %s", shown, kind, lname, iname);
        info = importer_run(&src, staging, imp_progress, &ip, &err);
        if (info) {
            /* Overrides for images that carry no descriptor. */
            const json_t *ann = json_path_get(req, "metadata.annotations");
            const char *fw = json_string_value(json_object_get(ann, CATALOG_FIRMWARE_ANNOTATION));
            const char *ot = json_string_value(json_object_get(ann, CATALOG_OS_TYPE_ANNOTATION));
            const char *ov = json_string_value(json_object_get(ann, CATALOG_OS_VERSION_ANNOTATION));
            const char *cp = json_string_value(json_object_get(ann, CATALOG_CAPABILITIES_ANNOTATION));
            const char *k;
            json_t *v;
            if (fw)
                json_object_set_new(info, "firmware", json_string(fw));
            if (ot)
                json_object_set_new(info, "osType", json_string(ot));
            if (ov)
                json_object_set_new(info, "osVersion", json_string(ov));
            if (cp) {
                json_t *caps = json_array();
                char **parts = g_strsplit(cp, ",", 32);
                for (char **c = parts; *c; c++)
                    if (*g_strstrip(*c))
                        json_array_append_new(caps, json_string(*c));
                g_strfreev(parts);
                json_object_set_new(info, "capabilities", caps);
            }
            json_object_foreach(ip.files, k, v)
                json_object_set_new(v, "done", json_true());
            if (library_item_finish(l, lib, iname, uid, staging, info, dname,
                                    json_path_str(req, "spec.target.item.description"),
                                    json_string_value(json_object_get(info, "type")) ?: type,
                                    &err) < 0) {
                json_decref(info);
                info = NULL;
            }
        }
        if (!info)
            json_object_set_new(set, "fileUploadStatus", upload_status(ip.files, err.msg));
        else
            json_object_set_new(set, "fileUploadStatus", upload_status(ip.files, NULL));
        json_decref(ip.files);
    }
    if (!info) {
        err_t rerr = ERR_INIT;
        importer_rmtree(staging, &rerr);
        err_clear(&rerr);
        if (g_atomic_int_get(&l->stopping)) {
            log_info("library: import %s stopped by the shutdown; it starts over next time", key);
            goto out;
        }
        if (err.code == ERR_TIMEOUT && strstr(err.msg, "request is gone")) {
            /* Deleted mid-import: the item goes with it. */
            library_item_delete(l, lib, iname);
            log_info("library: import %s stopped: its request was deleted", key);
            goto out;
        }
        library_item_delete(l, lib, iname);
        meta_now(now, sizeof(now));
        json_array_append_new(conds, ctl_cond("TemplateUploaded", false, "UploadFailure", "%s",
                                              err.msg));
        json_array_append_new(conds, ctl_cond("ContentLibraryItemReady", false,
                                              "TargetLibraryItemUnavailable", "%s",
                                              "The item was removed: its import failed."));
        json_array_append_new(conds, ctl_cond("Complete", false, "UploadFailure", "%s", err.msg));
        json_object_set_new(set, "completionTime", json_string(now));
        event_record(l->a->ev, req, "Warning", "UploadFailure", "The import failed: %s", err.msg);
        imp_write(l, req, set, conds);
        log_warn("library: import %s failed: %s", key, err.msg);
        goto out;
    }
    meta_now(now, sizeof(now));
    json_array_append_new(conds, ctl_cond("TemplateUploaded", true, "TemplateUploaded", "%s", ""));
    json_array_append_new(conds, ctl_cond("ContentLibraryItemReady", true,
                                          "ContentLibraryItemReady", "%s", ""));
    json_array_append_new(conds, ctl_cond("Complete", true, "Complete", "%s", ""));
    json_object_set_new(set, "completionTime", json_string(now));
    imp_write(l, req, set, conds);
    {
        char *vmi = catalog_image_name(uid);
        event_record(l->a->ev, req, "Normal", "Imported", "Imported %s as item %s (image %s).", shown,
                     iname, vmi);
        log_info("library: imported %s as %s (image %s)", shown, iname, vmi);
        g_free(vmi);
    }
    library_request_finished(l, l->imp, req, key);
out:
    err_clear(&err);
    json_decref(req);
    json_decref(lib);
    json_decref(set);
    json_decref(conds);
    json_decref(info);
    json_decref(overrides);
    g_free(iname);
    g_free(dname);
    g_free(staging);
    g_free(shown);
    return rc;
}

/* ---- following changes -------------------------------------------------------------- */

static int quick(void *ctx, const char *key)
{
    libsvc_t *l = ctx;
    if (g_str_has_prefix(key, LIB_PREFIX) || g_str_has_prefix(key, CLIB_PREFIX))
        return lib_reconcile(l, key);
    if (g_str_has_prefix(key, ITEM_PREFIX) || g_str_has_prefix(key, CITEM_PREFIX))
        return item_reconcile(l, key);
    return 0;
}

static int slow(void *ctx, const char *key)
{
    libsvc_t *l = ctx;
    if (g_str_has_prefix(key, IMP_PREFIX))
        return imp_reconcile(l, key);
    if (g_str_has_prefix(key, PUB_PREFIX))
        return publish_reconcile(l, key);
    return 0;
}

static void route(libsvc_t *l, const char *key)
{
    if (g_str_has_prefix(key, LIB_PREFIX) || g_str_has_prefix(key, CLIB_PREFIX) ||
        g_str_has_prefix(key, ITEM_PREFIX) || g_str_has_prefix(key, CITEM_PREFIX))
        queue_add(l->q, key);
    else if (g_str_has_prefix(key, IMP_PREFIX) || g_str_has_prefix(key, PUB_PREFIX))
        queue_add(l->slow, key);
}

static void follow_event(ctl_t *c, const store_event_t *ev)
{
    libsvc_t *l = c->state;
    const char *key = ev->obj->key;
    if (ev->type == STORE_EV_DELETED)
        return;
    route(l, key);
    /* A library that became ready (or a VM that changed) may let requests
     * that waited go on: look at them again. */
    if (g_str_has_prefix(key, LIB_PREFIX) || g_str_has_prefix(key, CLIB_PREFIX) ||
        g_str_has_prefix(key, "vmoperator.vmware.com/virtualmachineimages/")) {
        const char *prefixes[] = {IMP_PREFIX, PUB_PREFIX};
        for (size_t p = 0; p < 2; p++) {
            GPtrArray *all = store_list(l->a->srv->store, prefixes[p], NULL, 0, NULL, NULL);
            for (guint i = 0; i < all->len; i++) {
                store_obj_t *o = all->pdata[i];
                if (!g_strstr_len(o->json, (gssize)o->len, "\"type\":\"Complete\",\"status\":\"True\""))
                    queue_add(l->slow, o->key);
            }
            g_ptr_array_unref(all);
        }
    }
}

static void follow_resync(ctl_t *c)
{
    libsvc_t *l = c->state;
    const char *prefixes[] = {LIB_PREFIX, CLIB_PREFIX, ITEM_PREFIX, CITEM_PREFIX, IMP_PREFIX,
                              PUB_PREFIX};
    for (size_t p = 0; p < G_N_ELEMENTS(prefixes); p++) {
        GPtrArray *all = store_list(l->a->srv->store, prefixes[p], NULL, 0, NULL, NULL);
        for (guint i = 0; i < all->len; i++)
            route(l, ((store_obj_t *)all->pdata[i])->key);
        g_ptr_array_unref(all);
    }
}

static const ctl_ops_t follow_ops = {
    .name = "library",
    .prefix = "",
    .resync = follow_resync,
    .event = follow_event,
    .resync_ms = 60 * 1000,
};

/* Nothing runs before start: every staging directory is a leftover. */
static void clear_staging(libsvc_t *l)
{
    const char *prefixes[] = {LIB_PREFIX, CLIB_PREFIX};
    for (size_t p = 0; p < 2; p++) {
        GPtrArray *all = store_list(l->a->srv->store, prefixes[p], NULL, 0, NULL, NULL);
        for (guint i = 0; i < all->len; i++) {
            json_t *lib = store_obj_parse(all->pdata[i]);
            char *dir = catalog_library_dir(l->a->data_dir, lib);
            char *staging = g_build_filename(dir, LIBRARY_STAGING, NULL);
            err_t err = ERR_INIT;
            if (g_file_test(staging, G_FILE_TEST_IS_DIR)) {
                log_info("library: removing %s, left by an import cut short", staging);
                importer_rmtree(staging, &err);
            }
            err_clear(&err);
            g_free(staging);
            g_free(dir);
            json_decref(lib);
        }
        g_ptr_array_unref(all);
    }
}

libsvc_t *library_start(agent_t *a)
{
    libsvc_t *l = g_new0(libsvc_t, 1);
    registry_t *reg = a->srv->reg;
    l->a = a;
    l->lib = registry_find(reg, CATALOG_GROUP, "v1alpha1", "contentlibraries");
    l->clib = registry_find(reg, CATALOG_GROUP, "v1alpha1", "clustercontentlibraries");
    l->item = registry_find(reg, CATALOG_GROUP, "v1alpha1", "contentlibraryitems");
    l->citem = registry_find(reg, CATALOG_GROUP, "v1alpha1", "clustercontentlibraryitems");
    l->imp = registry_find(reg, CATALOG_GROUP, "v1alpha1", "contentlibraryitemimportrequests");
    l->pub = registry_find(reg, "vmoperator.vmware.com", "v1alpha2", "virtualmachinepublishrequests");
    l->vm = registry_find(reg, "vmoperator.vmware.com", "v1alpha2", "virtualmachines");
    clear_staging(l);
    l->q = queue_new("library", 1, quick, l);
    l->slow = queue_new("import", 2, slow, l);
    l->follow = ctl_start(a->srv, &follow_ops, l);
    return l;
}

void library_stop(libsvc_t *l)
{
    if (!l)
        return;
    g_atomic_int_set(&l->stopping, 1);
    ctl_stop(l->follow);
    queue_free(l->slow);
    queue_free(l->q);
    g_free(l);
}
