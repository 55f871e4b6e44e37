/*
 * imagedir: images from local disk files, until content libraries serve
 * them.  Every file in <data-dir>/images/ (written there by
 * `vmsvc image import`, which also writes <file>.json with its firmware and
 * OS) is published as a ClusterVirtualMachineImage of the same name, with
 * status.providerItemID naming the file; when the file goes, so does the
 * image.  Only images this controller made (label vmsvc.dev/image-source:
 * local) are ever changed or removed.  The directory is read at start and
 * every IMAGEDIR_SCAN_MS.
 */
#include <string.h>

#include "api/objects.h"
#include "ctl/ctl_priv.h"
#include "ctl/refs.h"
#include "model/meta.h"
#include "util/fs.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define IMAGEDIR_SCAN_MS 2000
#define SOURCE_LABEL "vmsvc.dev/image-source"

typedef struct imagedir {
    char *dir;
    const resource_t *res;
} imagedir_t;

static bool is_image_file(const char *n)
{
    char why[256];
    return !g_str_has_suffix(n, ".json") && !g_str_has_suffix(n, ".tmp") && n[0] != '.' &&
           strlen(n) <= 63 && meta_is_dns1123_subdomain(n, why, sizeof(why));
}

static void publish(ctl_t *c, const char *file)
{
    imagedir_t *d = c->state;
    char *side = g_strconcat(d->dir, "/", file, ".json", NULL);
    json_t *meta = NULL, *cur, *st, *obj;
    err_t err = ERR_INIT;
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    char *text = fs_read_all(side, 64 * 1024, NULL, &err);
    store_obj_t *r;
    char now[32];

    err_clear(&err);
    if (text)
        meta = json_loads(text, 0, NULL);
    g_free(text);
    g_free(side);
    cur = refs_get(c->srv, "vmoperator.vmware.com", "clustervirtualmachineimages", NULL, file);
    if (cur && g_strcmp0(json_string_value(json_object_get(
                             json_path_get(cur, "metadata.labels"), SOURCE_LABEL)),
                         "local") != 0) {
        json_decref(cur);
        json_decref(meta);
        return; /* someone else's image of that name */
    }
    if (!cur) {
        obj = json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{}}", "apiVersion",
                        "vmoperator.vmware.com/v1alpha2", "kind", "ClusterVirtualMachineImage",
                        "metadata", "name", file, "labels", SOURCE_LABEL, "local", "spec");
        r = obj_create(c->srv, d->res, NULL, obj, &o, &err);
        if (!r) {
            log_warn("imagedir: cannot publish %s: %s", file, err.msg);
            goto out;
        }
        store_obj_unref(r);
        log_info("imagedir: published image %s", file);
    }
    meta_now(now, sizeof(now));
    st = json_pack("{s:s,s:s,s:s,s:{s:s,s:s},s:[{s:s,s:s,s:s,s:s,s:s}]}",
                   "name", file, "providerItemID", file,
                   "firmware", json_string_value(json_object_get(meta, "firmware")) ?: "bios",
                   "osInfo", "type", json_string_value(json_object_get(meta, "osType")) ?: "linux",
                   "version", json_string_value(json_object_get(meta, "osVersion")) ?: "",
                   "conditions", "type", "Ready", "status", "True", "reason", "Ready",
                   "message", "", "lastTransitionTime", now);
    /* Keep the transition time of an image that stays ready. */
    json_t *old = json_path_get(cur, "status.conditions");
    if (json_array_size(old) == 1 &&
        !g_strcmp0(json_string_value(json_object_get(json_array_get(old, 0), "status")), "True"))
        json_object_set(json_array_get(json_object_get(st, "conditions"), 0),
                        "lastTransitionTime",
                        json_object_get(json_array_get(old, 0), "lastTransitionTime"));
    r = ctl_status_update(c->srv, d->res, NULL, file, st, NULL, &err);
    if (!r)
        log_warn("imagedir: cannot update image %s: %s", file, err.msg);
    store_obj_unref(r);
    json_decref(st);
out:
    err_clear(&err);
    json_decref(cur);
    json_decref(meta);
}

static void imagedir_scan(ctl_t *c)
{
    imagedir_t *d = c->state;
    GDir *dir = g_dir_open(d->dir, 0, NULL);
    GHashTable *files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GPtrArray *imgs;
    const char *n;

    while (dir && (n = g_dir_read_name(dir))) {
        char *p = g_build_filename(d->dir, n, NULL);
        if (is_image_file(n) && g_file_test(p, G_FILE_TEST_IS_REGULAR)) {
            g_hash_table_add(files, g_strdup(n));
            publish(c, n);
        }
        g_free(p);
    }
    if (dir)
        g_dir_close(dir);
    /* Images whose file is gone. */
    imgs = store_list(c->srv->store, d->res->key_prefix, NULL, 0, NULL, NULL);
    for (guint i = 0; i < imgs->len; i++) {
        json_t *j = store_obj_parse(imgs->pdata[i]);
        const char *name = json_path_str(j, "metadata.name");
        const char *src = json_string_value(
            json_object_get(json_path_get(j, "metadata.labels"), SOURCE_LABEL));
        if (!g_strcmp0(src, "local") && !g_hash_table_contains(files, name)) {
            obj_opts_t o = {0};
            err_t err = ERR_INIT;
            store_obj_t *r = obj_delete(c->srv, d->res, NULL, name, &o, &err);
            if (r)
                log_info("imagedir: image %s removed with its file", name);
            store_obj_unref(r);
            err_clear(&err);
        }
        json_decref(j);
    }
    g_ptr_array_unref(imgs);
    g_hash_table_unref(files);
}

static void imagedir_event(ctl_t *c, const store_event_t *ev)
{
}

static void imagedir_free(ctl_t *c)
{
    imagedir_t *d = c->state;
    g_free(d->dir);
    g_free(d);
}

static const ctl_ops_t imagedir_ops = {
    .name = "imagedir",
    .prefix = "vmoperator.vmware.com/clustervirtualmachineimages/",
    .resync = imagedir_scan,
    .event = imagedir_event,
    .free = imagedir_free,
    .resync_ms = IMAGEDIR_SCAN_MS,
};

ctl_t *ctl_imagedir_start(apiserver_t *srv, const char *data_dir)
{
    imagedir_t *d = g_new0(imagedir_t, 1);
    err_t err = ERR_INIT;
    d->dir = g_build_filename(data_dir, "images", NULL);
    d->res = registry_find(srv->reg, "vmoperator.vmware.com", "v1alpha2",
                           "clustervirtualmachineimages");
    if (fs_mkdir_p(d->dir, 0700, &err) < 0)
        log_warn("imagedir: %s", err.msg);
    err_clear(&err);
    return ctl_start(srv, &imagedir_ops, d);
}
