/* refs: see refs.h. */
#include "ctl/refs.h"

#include "model/meta.h"
#include "model/quantity.h"
#include "util/jsonutil.h"

json_t *refs_get(apiserver_t *srv, const char *group, const char *plural, const char *ns,
                 const char *name)
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
    j = o ? store_obj_parse(o) : NULL;
    store_obj_unref(o);
    return j;
}

json_t *refs_class(apiserver_t *srv, const char *ns, const char *name)
{
    json_t *c = refs_get(srv, "vmoperator.vmware.com", "virtualmachineclasses", ns, name);
    if (!c)
        c = refs_get(srv, "vmoperator.vmware.com", "virtualmachineclasses", REFS_SHARED_NS, name);
    return c;
}

json_t *refs_image(apiserver_t *srv, const char *ns, const char *name)
{
    json_t *i = refs_get(srv, "vmoperator.vmware.com", "virtualmachineimages", ns, name);
    if (!i)
        i = refs_get(srv, "vmoperator.vmware.com", "clustervirtualmachineimages", NULL, name);
    return i;
}

json_t *refs_storage_class(apiserver_t *srv, const char *name)
{
    return refs_get(srv, "storage.k8s.io", "storageclasses", NULL, name);
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
