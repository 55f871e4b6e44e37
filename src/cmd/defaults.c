/*
 * defaults: the objects a new installation starts with, made once, on the
 * first start of a data directory (a ConfigMap in vmsvc-system records
 * that), so that an administrator's later deletions stick:
 *   - the four VM classes of the product, in vmsvc-system (the namespace
 *     whose classes every namespace may use), guaranteed ones with their
 *     CPU and memory fully requested;
 *   - the StorageClass "default" (thin provisioning), marked as the default;
 *   - the ClusterContentLibrary "local" (its directory under the data
 *     directory), the default target of `vmsvc image import`.
 */
#include <string.h>

#include "api/objects.h"
#include "cmd/cmd.h"
#include "ctl/refs.h"
#include "model/meta.h"
#include "util/log.h"

#define DEFAULTS_MARKER "vmsvc-defaults"
#define DEFAULTS_LIBRARY_MARKER "vmsvc-default-library"

static int create_one(apiserver_t *srv, const char *group, const char *version,
                      const char *plural, const char *ns, json_t *obj, err_t *err)
{
    const resource_t *res = registry_find(srv->reg, group, version, plural);
    obj_opts_t o = {.fv = FIELD_VALIDATION_STRICT};
    store_obj_t *r = obj_create(srv, res, ns, obj, &o, err);
    if (!r && err->code != ERR_ALREADY_EXISTS)
        return -1;
    err_clear(err);
    store_obj_unref(r);
    return 0;
}

/* The ClusterContentLibrary "local", where `vmsvc image import` puts images
 * by default; made once, like the rest (its own marker, so that data
 * directories from before content libraries get it too). */
static int default_library(apiserver_t *srv, err_t *err)
{
    json_t *marker = refs_get(srv, "", "configmaps", REFS_SHARED_NS, DEFAULTS_LIBRARY_MARKER);
    char *uuid;

    if (marker) {
        json_decref(marker);
        return 0;
    }
    uuid = meta_uid_new();
    if (create_one(srv, "imageregistry.vmware.com", "v1alpha1", "clustercontentlibraries", NULL,
                   json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion",
                             "imageregistry.vmware.com/v1alpha1", "kind", "ClusterContentLibrary",
                             "metadata", "name", "local", "spec", "uuid", uuid),
                   err) < 0 ||
        create_one(srv, "", "v1", "configmaps", REFS_SHARED_NS,
                   json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                             "metadata", "name", DEFAULTS_LIBRARY_MARKER, "data", "created",
                             "the ClusterContentLibrary local"),
                   err) < 0) {
        g_free(uuid);
        return -1;
    }
    g_free(uuid);
    log_info("defaults: created the ClusterContentLibrary local");
    return 0;
}

int defaults_ensure(apiserver_t *srv, err_t *err)
{
    static const struct {
        const char *name;
        int cpus;
        const char *memory;
        bool guaranteed;
    } classes[] = {
        {"guaranteed-large", 4, "16Gi", true},
        {"best-effort-large", 4, "16Gi", false},
        {"guaranteed-small", 2, "4Gi", true},
        {"best-effort-small", 2, "4Gi", false},
    };
    json_t *marker;

    if (default_library(srv, err) < 0)
        return -1;
    marker = refs_get(srv, "", "configmaps", REFS_SHARED_NS, DEFAULTS_MARKER);
    if (marker) {
        json_decref(marker);
        return 0;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(classes); i++) {
        char cpus[8];
        json_t *c;
        snprintf(cpus, sizeof(cpus), "%d", classes[i].cpus);
        c = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:{s:i,s:s}}}", "apiVersion",
                      "vmoperator.vmware.com/v1alpha2", "kind", "VirtualMachineClass", "metadata",
                      "name", classes[i].name, "spec", "description",
                      classes[i].guaranteed
                          ? "Guaranteed: the CPUs and memory are reserved on the host."
                          : "Best effort: nothing is reserved; the host may be overcommitted.",
                      "hardware", "cpus", classes[i].cpus, "memory", classes[i].memory);
        if (classes[i].guaranteed)
            json_object_set_new(json_object_get(c, "spec"), "policies",
                                json_pack("{s:{s:{s:s,s:s}}}", "resources", "requests", "cpu",
                                          cpus, "memory", classes[i].memory));
        if (create_one(srv, "vmoperator.vmware.com", "v1alpha2", "virtualmachineclasses",
                       REFS_SHARED_NS, c, err) < 0)
            return -1;
    }
    if (create_one(srv, "storage.k8s.io", "v1", "storageclasses", NULL,
                   json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:s,s:{s:s},s:s,s:s}", "apiVersion",
                             "storage.k8s.io/v1", "kind", "StorageClass", "metadata", "name",
                             "default", "annotations",
                             "storageclass.kubernetes.io/is-default-class", "true",
                             "provisioner", "vmsvc.dev/local", "parameters", "provisioning",
                             "thin", "reclaimPolicy", "Delete", "volumeBindingMode",
                             "Immediate"),
                   err) < 0)
        return -1;
    if (create_one(srv, "", "v1", "configmaps", REFS_SHARED_NS,
                   json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                             "metadata", "name", DEFAULTS_MARKER, "data", "created",
                             "VM classes and the default storage class"),
                   err) < 0)
        return -1;
    log_info("defaults: created the default VM classes and storage class");
    return 0;
}
