/* refs: see refs.h. */
#include "ctl/refs.h"

#include "model/meta.h"
#include "store/store.h"
#include "model/quantity.h"
#include "util/jsonutil.h"

/* The stored object, parsed (shared ? the store's shared parse : a copy). */
static json_t *refs_lookup(apiserver_t *srv, const char *group, const char *plural,
                           const char *ns, const char *name, bool shared)
{
    const resource_t *res = NULL;
    store_obj_t *o;
    json_t *j;
    char *key;

    if (!name || !*name)
        return NULL;
    for (guint i = 0; i < srv->reg->resources->len && !res; i++) {
        const resource_t *r = srv->reg->resources->pdata[i];
        if (!strcmp(r->group, group) && !strcmp(r->plural, plural) && r->storage)
            res = r;
    }
    if (!res || (res->namespaced && !ns))
        return NULL;
    key = meta_key(res, ns, name);
    o = store_get(srv->store, key);
    g_free(key);
    j = !o ? NULL : shared ? store_obj_json(o) : store_obj_parse(o);
    store_obj_unref(o);
    return j;
}

json_t *refs_get(apiserver_t *srv, const char *group, const char *plural, const char *ns,
                 const char *name)
{
    return refs_lookup(srv, group, plural, ns, name, false);
}

json_t *refs_get_shared(apiserver_t *srv, const char *group, const char *plural,
                        const char *ns, const char *name)
{
    return refs_lookup(srv, group, plural, ns, name, true);
}

json_t *refs_class(apiserver_t *srv, const char *ns, const char *name)
{
    json_t *c = refs_get_shared(srv, "vmoperator.vmware.com", "virtualmachineclasses", ns, name);
    if (!c)
        c = refs_get_shared(srv, "vmoperator.vmware.com", "virtualmachineclasses", REFS_SHARED_NS,
                            name);
    return c;
}

/* A stored object's shared parse, only when its text mentions `needle`. */
static json_t *ctl_parse_if_text(store_obj_t *o, const char *needle)
{
    if (!o || !g_strstr_len(o->json, (gssize)o->len, needle))
        return NULL;
    return store_obj_json(o);
}

/* Images under `prefix` whose display name (status.name) is `name`, added
 * to `found` as the store's shared parses. */
static void by_display_name(apiserver_t *srv, const char *prefix, const char *name,
                            GPtrArray *found)
{
    GPtrArray *all = store_list(srv->store, prefix, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len && found->len < 2; i++) {
        json_t *j = ctl_parse_if_text(all->pdata[i], name);
        if (j && !g_strcmp0(json_path_str(j, "status.name"), name))
            g_ptr_array_add(found, j);
        else
            json_decref(j);
    }
    g_ptr_array_unref(all);
}

json_t *refs_image(apiserver_t *srv, const char *ns, const char *name)
{
    json_t *i = refs_lookup(srv, "vmoperator.vmware.com", "virtualmachineimages", ns, name, true);
    GPtrArray *found;
    char *prefix;

    if (!i)
        i = refs_lookup(srv, "vmoperator.vmware.com", "clustervirtualmachineimages", NULL, name,
                        true);
    if (i || !name || !*name || !ns)
        return i;
    /* A display name that names exactly one image the namespace can use. */
    found = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    prefix = g_strconcat("vmoperator.vmware.com/virtualmachineimages/", ns, "/", NULL);
    by_display_name(srv, prefix, name, found);
    by_display_name(srv, "vmoperator.vmware.com/clustervirtualmachineimages/", name, found);
    if (found->len == 1)
        i = json_incref(found->pdata[0]);
    g_ptr_array_unref(found);
    g_free(prefix);
    return i;
}

int refs_image_count_by_display_name(apiserver_t *srv, const char *ns, const char *name)
{
    GPtrArray *found = g_ptr_array_new_with_free_func((GDestroyNotify)json_decref);
    char *prefix = g_strconcat("vmoperator.vmware.com/virtualmachineimages/", ns ? ns : "", "/",
                               NULL);
    int n;
    by_display_name(srv, prefix, name, found);
    by_display_name(srv, "vmoperator.vmware.com/clustervirtualmachineimages/", name, found);
    n = (int)found->len;
    g_ptr_array_unref(found);
    g_free(prefix);
    return n;
}

json_t *refs_storage_class(apiserver_t *srv, const char *name)
{
    return refs_get_shared(srv, "storage.k8s.io", "storageclasses", NULL, name);
}

bool refs_class_guaranteed(const json_t *cls)
{
    const json_t *hw = json_path_get(cls, "spec.hardware");
    const json_t *req = json_path_get(cls, "spec.policies.resources.requests");
    int64_t cpus = json_integer_value(json_object_get(hw, "cpus")) * 1000, mem = 0, rc = 0,
            rm = 0;
    err_t err = ERR_INIT;

    if (!req || quantity_parse(json_object_get(hw, "memory"), 1, &mem, &err) < 0) {
        err_clear(&err);
        return false;
    }
    if (json_object_get(req, "memory") &&
        quantity_parse(json_object_get(req, "memory"), 1, &rm, &err) < 0)
        rm = 0;
    if (json_object_get(req, "cpu") && quantity_parse(json_object_get(req, "cpu"), 1000, &rc, &err) < 0)
        rc = 0;
    err_clear(&err);
    return rm > 0 && rm >= mem && (cpus == 0 || rc >= cpus);
}
