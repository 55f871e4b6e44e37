/* admit: see admit.h. */
#include "api/admit.h"

#include <string.h>

#include "guest/seed.h"
#include "model/ipaddr.h"
#include "model/ipam.h"
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

/* One address-like field: a cause when it does not parse. */
static bool addr_ok(const json_t *v, const char *field, int kind, err_t *err)
{
    const char *s = json_string_value(v);
    err_t pe = ERR_INIT;
    ipaddr_t a;
    ipnet_t n;
    iprange_t r;
    int rc = kind == 0 ? ipaddr_parse(s, &a, field, &pe)
             : kind == 1 ? ipnet_parse(s, &n, field, &pe)
                         : iprange_parse(s, &r, field, &pe);
    if (rc < 0)
        err_add_cause(err, "FieldValueInvalid", field, "Invalid value: \"%.64s\": %s",
                      s ? s : "", pe.msg);
    err_clear(&pe);
    return rc == 0;
}

/* A Network: its subnet, ranges and name servers parse, and the ranges
 * make a pool the allocator can hold (inside the subnet, not too big). */
static int admit_network(const json_t *obj, err_t *err)
{
    const json_t *ranges = json_path_get(obj, "spec.ipRanges"), *v;
    iprange_t *rs = g_new0(iprange_t, json_array_size(ranges) + 1);
    ipnet_t sn;
    ipam_pool_t *p;
    err_t pe = ERR_INIT;
    size_t i, n = 0;
    bool ok = addr_ok(json_path_get(obj, "spec.gateway4"), "spec.gateway4", 1, err);
    char f[48];

    if (ok) {
        ipnet_parse(json_path_str(obj, "spec.gateway4"), &sn, "spec.gateway4", &pe);
        if (sn.addr.family != AF_INET) {
            err_add_cause(err, "FieldValueInvalid", "spec.gateway4",
                          "Invalid value: must be an IPv4 address with its prefix length");
            ok = false;
        }
    }
    json_array_foreach(ranges, i, v) {
        snprintf(f, sizeof(f), "spec.ipRanges[%zu]", i);
        if (addr_ok(v, f, 2, err))
            iprange_parse(json_string_value(v), &rs[n++], f, &pe);
        else
            ok = false;
    }
    json_array_foreach(json_path_get(obj, "spec.nameservers"), i, v) {
        snprintf(f, sizeof(f), "spec.nameservers[%zu]", i);
        ok &= addr_ok(v, f, 0, err);
    }
    if (ok) {
        if (!(p = ipam_pool_new(&sn, &sn.addr, rs, n, &pe)))
            err_add_cause(err, "FieldValueInvalid", "spec.ipRanges", "Invalid value: %s", pe.msg);
        ok = p != NULL;
        ipam_pool_free(p);
    }
    err_clear(&pe);
    g_free(rs);
    return ok ? 0 : -1;
}

/* A VirtualMachineService: its addresses parse, its ports are ports of a
 * protocol the data path carries. */
static int admit_vmservice(const json_t *obj, err_t *err)
{
    const char *cip = json_path_str(obj, "spec.clusterIp");
    const char *lb = json_path_str(obj, "spec.loadBalancerIP");
    const json_t *v;
    size_t i;
    char f[64];
    bool ok = true;

    if (cip && *cip && strcmp(cip, "None"))
        ok &= addr_ok(json_path_get(obj, "spec.clusterIp"), "spec.clusterIp", 0, err);
    if (lb && *lb)
        ok &= addr_ok(json_path_get(obj, "spec.loadBalancerIP"), "spec.loadBalancerIP", 0, err);
    json_array_foreach(json_path_get(obj, "spec.loadBalancerSourceRanges"), i, v) {
        snprintf(f, sizeof(f), "spec.loadBalancerSourceRanges[%zu]", i);
        ok &= addr_ok(v, f, 1, err);
    }
    json_array_foreach(json_path_get(obj, "spec.ports"), i, v) {
        json_int_t port = json_integer_value(json_object_get(v, "port"));
        json_int_t target = json_integer_value(json_object_get(v, "targetPort"));
        const char *proto = json_string_value(json_object_get(v, "protocol"));
        if (port < 1 || port > 65535 || target < 1 || target > 65535) {
            snprintf(f, sizeof(f), "spec.ports[%zu]", i);
            err_add_cause(err, "FieldValueInvalid", f,
                          "Invalid value: port and targetPort must be between 1 and 65535");
            ok = false;
        }
        if (proto && strcmp(proto, "TCP") && strcmp(proto, "UDP")) {
            snprintf(f, sizeof(f), "spec.ports[%zu].protocol", i);
            err_add_cause(err, "FieldValueNotSupported", f,
                          "Unsupported value: \"%.16s\": supported values: \"TCP\", \"UDP\"",
                          proto);
            ok = false;
        }
    }
    return ok ? 0 : -1;
}

int admit(const resource_t *res, json_t *obj, const json_t *old, err_t *err)
{
    int rc = 0;

    admit_library_uuid(res, obj, old);
    /* Only a changed spec is checked, so that an object stored under older
     * rules can still get its finalizers removed. */
    if (!strcmp(res->group, "netoperator.vmware.com") && !strcmp(res->kind, "Network") &&
        (!old || !json_equal(json_object_get(obj, "spec"), json_object_get(old, "spec"))))
        return admit_network(obj, err);
    if (!strcmp(res->group, "vmoperator.vmware.com") && !strcmp(res->kind, "VirtualMachineService") &&
        (!old || !json_equal(json_object_get(obj, "spec"), json_object_get(old, "spec"))))
        return admit_vmservice(obj, err);
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
