/* catalog: see catalog.h.  The controller follows items and images; event()
 * notes which items to look at, idle() does the work once per burst, and a
 * resync removes images whose item is gone. */
#include "ctl/catalog.h"

#include <string.h>

#include "api/objects.h"
#include "ctl/ctl.h"
#include "ctl/ctl_priv.h"
#include "ctl/refs.h"
#include "model/meta.h"
#include "model/quantity.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define ITEM_PREFIX "imageregistry.vmware.com/contentlibraryitems/"
#define CITEM_PREFIX "imageregistry.vmware.com/clustercontentlibraryitems/"
#define VMI_PREFIX "vmoperator.vmware.com/virtualmachineimages/"
#define CVMI_PREFIX "vmoperator.vmware.com/clustervirtualmachineimages/"
#define OS_LABEL "os.image.vmoperator.vmware.com/"
#define CAP_LABEL "capability.image.vmoperator.vmware.com/"

char *catalog_id(const char *uuid)
{
    GString *s = g_string_new(NULL);
    char *sum, *id;
    for (const char *p = uuid ? uuid : ""; *p; p++)
        if (*p != '-')
            g_string_append_c(s, *p);
    sum = g_compute_checksum_for_string(G_CHECKSUM_SHA1, s->str, (gssize)s->len);
    id = g_strndup(sum, 17);
    g_free(sum);
    g_string_free(s, TRUE);
    return id;
}

char *catalog_image_name(const char *item_uuid)
{
    char *id = catalog_id(item_uuid), *n = g_strconcat("vmi-", id, NULL);
    g_free(id);
    return n;
}

char *catalog_item_name(bool cluster, const char *item_uuid)
{
    char *id = catalog_id(item_uuid), *n = g_strconcat(cluster ? "cclitem-" : "clitem-", id, NULL);
    g_free(id);
    return n;
}

char *catalog_library_dir(const char *data_dir, const json_t *lib)
{
    const char *p = json_string_value(
        json_object_get(json_path_get(lib, "metadata.annotations"), CATALOG_PATH_ANNOTATION));
    if (p && *p)
        return g_strdup(p);
    return g_build_filename(data_dir, "libraries", json_path_str(lib, "metadata.uid"), NULL);
}

json_t *catalog_item_library(apiserver_t *srv, const json_t *item)
{
    json_t *ref;
    size_t i;
    json_array_foreach(json_path_get(item, "metadata.ownerReferences"), i, ref) {
        const char *kind = json_string_value(json_object_get(ref, "kind"));
        const char *name = json_string_value(json_object_get(ref, "name"));
        if (!g_strcmp0(kind, "ContentLibrary"))
            return refs_get_shared(srv, CATALOG_GROUP, "contentlibraries",
                                   json_path_str(item, "metadata.namespace"), name);
        if (!g_strcmp0(kind, "ClusterContentLibrary"))
            return refs_get_shared(srv, CATALOG_GROUP, "clustercontentlibraries", NULL, name);
    }
    return NULL;
}

json_t *catalog_image_item(apiserver_t *srv, const json_t *img)
{
    const char *kind = json_path_str(img, "spec.providerRef.kind");
    const char *name = json_path_str(img, "spec.providerRef.name");
    if (!g_strcmp0(kind, "ContentLibraryItem"))
        return refs_get_shared(srv, CATALOG_GROUP, "contentlibraryitems",
                               json_path_str(img, "metadata.namespace"), name);
    if (!g_strcmp0(kind, "ClusterContentLibraryItem"))
        return refs_get_shared(srv, CATALOG_GROUP, "clustercontentlibraryitems", NULL, name);
    return NULL;
}

static json_t *item_info(const json_t *item)
{
    const char *text = json_string_value(
        json_object_get(json_path_get(item, "metadata.annotations"), CATALOG_INFO_ANNOTATION));
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    return json_is_object(j) ? j : (json_decref(j), NULL);
}

char *catalog_image_disk(apiserver_t *srv, const char *data_dir, const json_t *img, err_t *err)
{
    const char *iname = json_path_str(img, "metadata.name");
    json_t *item = catalog_image_item(srv, img), *lib = NULL, *info = NULL;
    const char *file = NULL;
    char *dir = NULL, *path = NULL;

    if (!item) {
        err_set(err, ERR_NOT_FOUND, "The content library item of image %s is gone.", iname);
        goto out;
    }
    info = item_info(item);
    file = json_string_value(json_object_get(json_array_get(json_object_get(info, "disks"), 0),
                                             "file"));
    if (!g_strcmp0(json_string_value(json_object_get(info, "type")), "ISO")) {
        err_set(err, ERR_INVALID,
                "Image %s is an ISO; a VM's boot disk must come from a disk image or OVF.", iname);
        goto out;
    }
    if (!file || strchr(file, '/')) {
        err_set(err, ERR_NOT_FOUND, "Image %s has no disk yet.", iname);
        goto out;
    }
    if (!(lib = catalog_item_library(srv, item))) {
        err_set(err, ERR_NOT_FOUND, "The content library of image %s is gone.", iname);
        goto out;
    }
    dir = catalog_library_dir(data_dir, lib);
    path = g_build_filename(dir, json_path_str(item, "spec.uuid"), file, NULL);
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        err_set(err, ERR_NOT_FOUND, "The disk of image %s is not on this host.", iname);
        g_free(path);
        path = NULL;
    }
out:
    g_free(dir);
    json_decref(item);
    json_decref(lib);
    json_decref(info);
    return path;
}

/* A label value from free text: what the label rules allow, or NULL. */
static char *label_value(const char *s)
{
    char why[128];
    char *v;
    if (!s || !*s)
        return NULL;
    v = g_strndup(s, 63);
    for (char *p = v; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.')
            *p = '_';
    if (!meta_is_label_value(v, why, sizeof(why))) {
        g_free(v);
        return NULL;
    }
    return v;
}

static void label_set(json_t *labels, const char *k, const char *v)
{
    char *lv = label_value(v);
    if (lv)
        json_object_set_new(labels, k, json_string(lv));
    g_free(lv);
}

json_t *catalog_image_status(const json_t *item, const json_t *info, json_t *labels)
{
    const json_t *ovf = json_object_get(info, "ovf");
    const json_t *ready = NULL, *c;
    json_t *st = json_object(), *os = json_object(), *caps = json_array(), *disks = json_array();
    json_t *props = json_array(), *v, *d;
    const char *s;
    size_t i;

    json_array_foreach(json_path_get(item, "status.conditions"), i, c)
        if (!g_strcmp0(json_string_value(json_object_get(c, "type")), "Ready"))
            ready = c;
    s = json_path_str(item, "status.name");
    json_object_set_new(st, "name", json_string(s ? s : json_path_str(item, "metadata.name")));
    if ((s = json_path_str(item, "status.contentVersion")))
        json_object_set_new(st, "providerContentVersion", json_string(s));
    json_object_set_new(st, "type", json_string(json_string_value(json_object_get(info, "type"))
                                                    ?: (json_path_str(item, "status.type") ?: "OVF")));
    s = json_string_value(json_path_get(ovf, "hardware.firmware"));
    if (!s)
        s = json_string_value(json_object_get(info, "firmware"));
    json_object_set_new(st, "firmware", json_string(s && !strcmp(s, "efi") ? "efi" : "bios"));
    if ((v = json_path_get(ovf, "hardware.version")))
        json_object_set(st, "hardwareVersion", v);
    if ((s = json_string_value(json_path_get(ovf, "os.id"))))
        json_object_set_new(os, "id", json_string(s));
    s = json_string_value(json_path_get(ovf, "os.type"));
    if (!s)
        s = json_string_value(json_object_get(info, "osType"));
    json_object_set_new(os, "type", json_string(s ? s : "linux"));
    s = json_string_value(json_object_get(info, "osVersion"));
    if (!s)
        s = json_string_value(json_path_get(ovf, "os.description"));
    if (s && *s)
        json_object_set_new(os, "version", json_string(s));
    json_object_set_new(st, "osInfo", os);
    if ((v = json_object_get(ovf, "product")) && json_object_size(v))
        json_object_set(st, "productInfo", v);
    json_array_foreach(json_object_get(ovf, "properties"), i, v) {
        json_t *p;
        if (!json_is_true(json_object_get(v, "userConfigurable")))
            continue;
        p = json_pack("{s:O,s:O}", "key", json_object_get(v, "key"), "type",
                      json_object_get(v, "type"));
        if (json_object_get(v, "default"))
            json_object_set(p, "default", json_object_get(v, "default"));
        json_array_append_new(props, p);
    }
    if (json_array_size(props))
        json_object_set(st, "ovfProperties", props);
    json_array_foreach(json_object_get(ovf, "capabilities"), i, v)
        json_array_append(caps, v);
    json_array_foreach(json_object_get(info, "capabilities"), i, v) {
        bool seen = false;
        json_t *x;
        size_t j;
        json_array_foreach(caps, j, x)
            seen |= json_equal(x, v);
        if (!seen)
            json_array_append(caps, v);
    }
    if (json_array_size(caps))
        json_object_set(st, "capabilities", caps);
    json_array_foreach(json_object_get(info, "disks"), i, d) {
        char *cap = quantity_format_bytes(json_integer_value(json_object_get(d, "capacity")));
        char *size = quantity_format_bytes(json_integer_value(json_object_get(d, "size")));
        json_array_append_new(disks, json_pack("{s:s,s:s}", "capacity", cap, "size", size));
        g_free(cap);
        g_free(size);
    }
    if (json_array_size(disks))
        json_object_set(st, "disks", disks);
    if (ready && !g_strcmp0(json_string_value(json_object_get(ready, "status")), "True")) {
        json_object_set_new(st, "providerItemID", json_string(json_path_str(item, "spec.uuid")));
        json_object_set_new(st, "conditions",
                            json_pack("[{s:s,s:s,s:s,s:s}]", "type", "Ready", "status", "True",
                                      "reason", "Ready", "message", ""));
    } else {
        json_object_set_new(st, "providerItemID", json_null());
        json_object_set_new(st, "conditions",
                            json_pack("[{s:s,s:s,s:s,s:s}]", "type", "Ready", "status", "False",
                                      "reason", "VirtualMachineImageProviderNotReady", "message",
                                      json_string_value(json_object_get(ready, "message"))
                                          ?: "The content library item is not ready yet."));
    }
    if (labels) {
        label_set(labels, OS_LABEL "id", json_path_str(st, "osInfo.id"));
        label_set(labels, OS_LABEL "type", json_path_str(st, "osInfo.type"));
        label_set(labels, OS_LABEL "version", json_path_str(st, "osInfo.version"));
        json_array_foreach(caps, i, v) {
            char *k = g_strconcat(CAP_LABEL, json_string_value(v), NULL);
            char why[256];
            if (meta_is_qualified_name(k, why, sizeof(why)))
                json_object_set_new(labels, k, json_string("true"));
            g_free(k);
        }
    }
    json_decref(props);
    json_decref(caps);
    json_decref(disks);
    return st;
}

/* ---- the controller ---------------------------------------------------------- */

typedef struct catalog {
    const resource_t *vmi, *cvmi, *item, *citem;
    GHashTable *dirty; /* item keys */
} catalog_t;

typedef struct labels_edit {
    const json_t *labels;
} labels_edit_t;

/* Our labels replace the image's os.* and capability.* labels. */
static json_t *mutate_labels(const json_t *cur, void *ctx, err_t *err)
{
    labels_edit_t *e = ctx;
    json_t *next = json_deep_copy(cur);
    json_t *l = json_object_ensure(json_object_ensure(next, "metadata"), "labels");
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(l, tmp, k, v)
        if (g_str_has_prefix(k, OS_LABEL) || g_str_has_prefix(k, CAP_LABEL))
            json_object_del(l, k);
    json_object_foreach((json_t *)e->labels, k, v)
        json_object_set(l, k, v);
    return next;
}

static bool labels_match(const json_t *have, const json_t *want)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)have, k, v)
        if ((g_str_has_prefix(k, OS_LABEL) || g_str_has_prefix(k, CAP_LABEL)) &&
            !json_equal(v, json_object_get(want, k)))
            return false;
    json_object_foreach((json_t *)want, k, v)
        if (!json_equal(v, json_object_get(have, k)))
            return false;
    return true;
}

static void sync_item(ctl_t *c, const char *key)
{
    catalog_t *g = c->state;
    bool cluster = g_str_has_prefix(key, CITEM_PREFIX);
    const resource_t *ires = cluster ? g->cvmi : g->vmi;
    store_obj_t *o = store_get(c->srv->store, key);
    json_t *item = NULL, *info = NULL, *labels = NULL, *st = NULL, *cur = NULL;
    const char *ns, *uuid;
    char *name = NULL;
    err_t err = ERR_INIT;
    obj_opts_t oo = {.fv = FIELD_VALIDATION_IGNORE};
    store_obj_t *r;

    if (!o)
        return; /* gone: its image goes by its owner reference (and resync) */
    item = store_obj_parse(o);
    store_obj_unref(o);
    ns = cluster ? NULL : json_path_str(item, "metadata.namespace");
    uuid = json_path_str(item, "spec.uuid");
    if (!uuid || json_path_get(item, "metadata.deletionTimestamp"))
        goto out;
    name = catalog_image_name(uuid);
    info = item_info(item);
    labels = json_object();
    st = catalog_image_status(item, info, labels);
    cur = refs_get(c->srv, "vmoperator.vmware.com",
                   cluster ? "clustervirtualmachineimages" : "virtualmachineimages", ns, name);
    if (cur && g_strcmp0(json_path_str(cur, "spec.providerRef.name"),
                         json_path_str(item, "metadata.name")) != 0) {
        log_warn("catalog: image %s exists and is not item %s's", name,
                 json_path_str(item, "metadata.name"));
        goto out;
    }
    if (!cur) {
        json_t *obj = json_pack(
            "{s:s,s:s,s:{s:s,s:O,s:[{s:s,s:s,s:s,s:s,s:b}]},s:{s:{s:s,s:s,s:s}}}", "apiVersion",
            "vmoperator.vmware.com/v1alpha2", "kind",
            cluster ? "ClusterVirtualMachineImage" : "VirtualMachineImage", "metadata", "name",
            name, "labels", labels, "ownerReferences", "apiVersion", CATALOG_API_VERSION, "kind",
            cluster ? "ClusterContentLibraryItem" : "ContentLibraryItem", "name",
            json_path_str(item, "metadata.name"), "uid", json_path_str(item, "metadata.uid"),
            "blockOwnerDeletion", 1, "spec", "providerRef", "apiVersion", CATALOG_API_VERSION,
            "kind", cluster ? "ClusterContentLibraryItem" : "ContentLibraryItem", "name",
            json_path_str(item, "metadata.name"));
        r = obj_create(c->srv, ires, ns, obj, &oo, &err);
        if (!r && err.code != ERR_ALREADY_EXISTS) {
            log_warn("catalog: cannot make image %s: %s", name, err.msg);
            goto out;
        }
        if (r)
            log_info("catalog: image %s%s%s for item %s", ns ? ns : "", ns ? "/" : "", name,
                     json_path_str(item, "metadata.name"));
        store_obj_unref(r);
        err_clear(&err);
    } else if (!labels_match(json_path_get(cur, "metadata.labels"), labels)) {
        labels_edit_t e = {labels};
        r = obj_update(c->srv, ires, ns, name, NULL, mutate_labels, &e, &oo, &err);
        if (!r)
            log_warn("catalog: cannot label image %s: %s", name, err.msg);
        store_obj_unref(r);
        err_clear(&err);
    }
    /* Keep the transition time of a condition whose status stays. */
    {
        json_t *nc = json_array_get(json_object_get(st, "conditions"), 0), *oc;
        size_t i;
        json_array_foreach(json_path_get(cur, "status.conditions"), i, oc)
            if (!g_strcmp0(json_string_value(json_object_get(oc, "type")), "Ready") &&
                json_equal(json_object_get(oc, "status"), json_object_get(nc, "status")) &&
                json_object_get(oc, "lastTransitionTime"))
                json_object_set(nc, "lastTransitionTime", json_object_get(oc, "lastTransitionTime"));
        if (!json_object_get(nc, "lastTransitionTime")) {
            char now[32];
            meta_now(now, sizeof(now));
            json_object_set_new(nc, "lastTransitionTime", json_string(now));
        }
    }
    r = ctl_status_update(c->srv, ires, ns, name, st, NULL, &err);
    if (!r && err.code != ERR_NOT_FOUND)
        log_warn("catalog: cannot update image %s: %s", name, err.msg);
    store_obj_unref(r);
out:
    err_clear(&err);
    g_free(name);
    json_decref(item);
    json_decref(info);
    json_decref(labels);
    json_decref(st);
    json_decref(cur);
}

/* Remove images whose item is gone (the owner reference does it too; this
 * covers images made before their item was deleted and a restart between). */
static void sweep_images(ctl_t *c, const char *prefix, const resource_t *res)
{
    GPtrArray *all = store_list(c->srv->store, prefix, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++) {
        json_t *img = store_obj_parse(all->pdata[i]), *item = NULL;
        const char *kind = json_path_str(img, "spec.providerRef.kind");
        if ((!g_strcmp0(kind, "ContentLibraryItem") || !g_strcmp0(kind, "ClusterContentLibraryItem")) &&
            !(item = catalog_image_item(c->srv, img))) {
            obj_opts_t o = {0};
            err_t err = ERR_INIT;
            store_obj_t *r = obj_delete(c->srv, res, json_path_str(img, "metadata.namespace"),
                                        json_path_str(img, "metadata.name"), &o, &err);
            if (r)
                log_info("catalog: image %s removed: its item is gone",
                         json_path_str(img, "metadata.name"));
            store_obj_unref(r);
            err_clear(&err);
        } else {
            json_decref(item);
        }
        json_decref(img);
    }
    g_ptr_array_unref(all);
}

static void catalog_resync(ctl_t *c)
{
    catalog_t *g = c->state;
    const char *prefixes[] = {ITEM_PREFIX, CITEM_PREFIX};
    for (size_t p = 0; p < G_N_ELEMENTS(prefixes); p++) {
        GPtrArray *all = store_list(c->srv->store, prefixes[p], NULL, 0, NULL, NULL);
        for (guint i = 0; i < all->len; i++)
            g_hash_table_add(g->dirty, g_strdup(((store_obj_t *)all->pdata[i])->key));
        g_ptr_array_unref(all);
    }
    sweep_images(c, VMI_PREFIX, g->vmi);
    sweep_images(c, CVMI_PREFIX, g->cvmi);
}

static void catalog_event(ctl_t *c, const store_event_t *ev)
{
    catalog_t *g = c->state;
    const char *key = ev->obj->key;
    if (g_str_has_prefix(key, ITEM_PREFIX) || g_str_has_prefix(key, CITEM_PREFIX)) {
        if (ev->type != STORE_EV_DELETED)
            g_hash_table_add(g->dirty, g_strdup(key));
        return;
    }
    /* An image changed behind our back (or was deleted): make it again. */
    if (g_str_has_prefix(key, VMI_PREFIX) || g_str_has_prefix(key, CVMI_PREFIX)) {
        json_t *img = ctl_parse_if(ev->obj, "providerRef");
        const char *kind = json_path_str(img, "spec.providerRef.kind");
        const char *name = json_path_str(img, "spec.providerRef.name");
        if (name && !g_strcmp0(kind, "ContentLibraryItem"))
            g_hash_table_add(g->dirty, g_strconcat(ITEM_PREFIX,
                                                   json_path_str(img, "metadata.namespace"), "/",
                                                   name, NULL));
        else if (name && !g_strcmp0(kind, "ClusterContentLibraryItem"))
            g_hash_table_add(g->dirty, g_strconcat(CITEM_PREFIX, name, NULL));
        json_decref(img);
    }
}

static void catalog_idle(ctl_t *c)
{
    catalog_t *g = c->state;
    GPtrArray *keys = ctl_take_keys(g->dirty);
    for (guint i = 0; i < keys->len; i++)
        sync_item(c, keys->pdata[i]);
    g_ptr_array_unref(keys);
}

static void catalog_free(ctl_t *c)
{
    catalog_t *g = c->state;
    g_hash_table_unref(g->dirty);
    g_free(g);
}

static const ctl_ops_t catalog_ops = {
    .name = "catalog",
    .prefix = "",
    .resync = catalog_resync,
    .event = catalog_event,
    .idle = catalog_idle,
    .free = catalog_free,
    .resync_ms = 60 * 1000,
};

ctl_t *ctl_catalog_start(apiserver_t *srv)
{
    catalog_t *g = g_new0(catalog_t, 1);
    g->vmi = registry_find(srv->reg, "vmoperator.vmware.com", "v1alpha2", "virtualmachineimages");
    g->cvmi = registry_find(srv->reg, "vmoperator.vmware.com", "v1alpha2",
                            "clustervirtualmachineimages");
    g->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return ctl_start(srv, &catalog_ops, g);
}
