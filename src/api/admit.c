/* admit: see admit.h. */
#include "api/admit.h"

#include <string.h>

#include "guest/seed.h"
#include "model/meta.h"
#include "util/jsonutil.h"

static bool is_vm(const resource_t *res)
{
    return !strcmp(res->group, "vmoperator.vmware.com") && !strcmp(res->kind, "VirtualMachine");
}

static int admit_restart(json_t *obj, const json_t *old, err_t *err)
{
    json_t *spec = json_object_get(obj, "spec");
    const char *next = json_string_value(json_object_get(spec, "nextRestartTime"));
    const char *prev = json_path_str(old, "spec.nextRestartTime");
    char now[32];

    if (!next || !*next || (prev && !strcmp(next, prev)))
        return 0;
    if (!old) {
        err_add_cause(err, "FieldValueForbidden", "spec.nextRestartTime",
                      "Forbidden: cannot restart a VM while creating it");
        return -1;
    }
    if (g_ascii_strcasecmp(next, "now") != 0) {
        err_add_cause(err, "FieldValueInvalid", "spec.nextRestartTime",
                      "Invalid value: \"%.64s\": may only be set to \"now\"", next);
        return -1;
    }
    if (g_strcmp0(json_path_str(old, "status.powerState"), "PoweredOn") != 0) {
        err_add_cause(err, "FieldValueForbidden", "spec.nextRestartTime",
                      "Forbidden: only a powered-on VM can be restarted");
        return -1;
    }
    meta_now(now, sizeof(now));
    json_object_set_new(spec, "nextRestartTime", json_string(now));
    return 0;
}

/* The transitions the API refuses: a suspended VM must be powered on before
 * it can be powered off. */
static int admit_power(const json_t *obj, const json_t *old, err_t *err)
{
    const char *want = json_path_str(obj, "spec.powerState");
    if (!old || !want || !g_strcmp0(want, json_path_str(old, "spec.powerState")))
        return 0;
    if (!strcmp(want, "PoweredOff") &&
        !g_strcmp0(json_path_str(old, "status.powerState"), "Suspended")) {
        err_add_cause(err, "FieldValueForbidden", "spec.powerState",
                      "Forbidden: a suspended VM cannot be powered off; power it on first");
        return -1;
    }
    return 0;
}

/* Libraries and items are named by a uuid the API requires; vmsvc makes
 * one for a new object that has none (there is no vCenter to ask). */
static void admit_library_uuid(const resource_t *res, json_t *obj, const json_t *old)
{
    json_t *spec;
    char *uuid;
    if (old || strcmp(res->group, "imageregistry.vmware.com") ||
        (strcmp(res->kind, "ContentLibrary") && strcmp(res->kind, "ClusterContentLibrary") &&
         strcmp(res->kind, "ContentLibraryItem") && strcmp(res->kind, "ClusterContentLibraryItem")))
        return;
    spec = json_object_ensure(obj, "spec");
    if (json_string_value(json_object_get(spec, "uuid")))
        return;
    uuid = meta_uid_new();
    json_object_set_new(spec, "uuid", json_string(uuid));
    g_free(uuid);
}

int admit(const resource_t *res, json_t *obj, const json_t *old, err_t *err)
{
    int rc = 0;

    admit_library_uuid(res, obj, old);
    if (!is_vm(res))
        return 0;
    if (!old)
        meta_add_finalizer(obj, ADMIT_VM_FINALIZER);
    if (admit_restart(obj, old, err) < 0)
        rc = -1;
    if (admit_power(obj, old, err) < 0)
        rc = -1;
    /* Only a changed bootstrap is checked, so that an object stored under
     * older rules can still get its finalizers removed. */
    if ((!old || !json_equal(json_path_get(obj, "spec.bootstrap"),
                             json_path_get(old, "spec.bootstrap"))) &&
        seed_validate_bootstrap(obj, err) < 0)
        rc = -1;
    return rc;
}
