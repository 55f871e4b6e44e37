/*
 * Unit tests for model/netcfg (which interfaces a VM has, how the guest's
 * configuration is resolved from the spec, the allocation and the
 * Network) and model/nftrules (the shape of the rule batch).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "model/netcfg.h"
#include "model/nftrules.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

static void test_interfaces(void **state)
{
    json_t *vm = J("{\"metadata\":{\"name\":\"a\"},\"spec\":{}}");
    json_t *i = netcfg_interfaces(vm);
    char *n;

    assert_int_equal(json_array_size(i), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(i, 0), "name")), "eth0");
    json_decref(i);
    json_decref(vm);
    vm = J("{\"spec\":{\"network\":{\"disabled\":true,\"interfaces\":[{\"name\":\"x\"}]}}}");
    i = netcfg_interfaces(vm);
    assert_int_equal(json_array_size(i), 0);
    json_decref(i);
    json_decref(vm);
    n = netcfg_netif_name("web", "eth1");
    assert_string_equal(n, "web-eth1");
    g_free(n);
}

static void test_resolve_precedence(void **state)
{
    json_t *vm = J("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"network\":{"
                   "\"nameservers\":[\"9.9.9.9\"]}}}");
    json_t *nif = J("{\"status\":{\"macAddress\":\"52:54:00:00:00:01\",\"ipConfigs\":[{"
                    "\"ip\":\"10.1.0.5\",\"subnetMask\":\"255.255.0.0\",\"gateway\":\"10.1.0.1\"}]}}");
    json_t *net = J("{\"spec\":{\"gateway4\":\"10.1.0.1/16\",\"nameservers\":[\"1.1.1.1\"],"
                    "\"searchDomains\":[\"lab\"],\"mtu\":1400}}");
    json_t *iface = J("{\"name\":\"eth0\"}");
    json_t *r = netcfg_resolve(vm, iface, nif, net);

    /* The allocation gives the address and gateway; the VM's own name
     * servers beat the Network's; search domains and MTU come from it. */
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "addresses"), 0)),
                        "10.1.0.5/16");
    assert_string_equal(json_string_value(json_object_get(r, "gateway4")), "10.1.0.1");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "nameservers"), 0)),
                        "9.9.9.9");
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "searchDomains"), 0)),
                        "lab");
    assert_int_equal(json_integer_value(json_object_get(r, "mtu")), 1400);
    json_decref(r);
    json_decref(iface);

    /* The interface's own address and dhcp4 win over the allocation. */
    iface = J("{\"name\":\"eth0\",\"addresses\":[\"10.1.0.99/16\"],\"mtu\":9000}");
    r = netcfg_resolve(vm, iface, nif, net);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "addresses"), 0)),
                        "10.1.0.99/16");
    assert_int_equal(json_integer_value(json_object_get(r, "mtu")), 9000);
    json_decref(r);
    json_decref(iface);
    iface = J("{\"name\":\"eth0\",\"dhcp4\":true}");
    r = netcfg_resolve(vm, iface, NULL, net);
    assert_true(json_is_true(json_object_get(r, "dhcp4")));
    assert_int_equal(json_array_size(json_object_get(r, "addresses")), 0);
    json_decref(r);
    json_decref(iface);
    json_decref(vm);
    json_decref(nif);
    json_decref(net);
}

/* Whether the batch has a command `cmd` ("add", "delete") of an object
 * `what` ("table", "rule") whose text contains `needle`. */
static bool batch_has(const json_t *batch, const char *cmd, const char *what, const char *needle)
{
    const json_t *c;
    size_t i;
    json_array_foreach(json_object_get(batch, "nftables"), i, c) {
        const json_t *o = json_object_get(json_object_get(c, cmd), what);
        char *text;
        bool hit;
        if (!o)
            continue;
        text = json_dumps(o, JSON_COMPACT);
        hit = !needle || strstr(text, needle);
        free(text);
        if (hit)
            return true;
    }
    return false;
}

static void test_nftrules(void **state)
{
    json_t *desc = J("{\"networks\":[{\"bridge\":\"vmsvc0\",\"subnet\":\"10.200.0.0/16\",\"nat\":true}],"
                     "\"services\":[{\"name\":\"ns/web\",\"clusterIP\":\"10.96.0.7\","
                     "\"ingress\":[\"10.97.0.1\"],\"sourceRanges\":[\"192.0.2.0/24\"],"
                     "\"endpoints\":[\"10.200.0.2\",\"10.200.0.3\"],"
                     "\"ports\":[{\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080}]},"
                     "{\"name\":\"ns/empty\",\"clusterIP\":\"10.96.0.8\",\"ingress\":[],"
                     "\"endpoints\":[],\"ports\":[{\"protocol\":\"UDP\",\"port\":53,\"targetPort\":53}]}]}");
    err_t err = ERR_INIT;
    json_t *b = nftrules_render(desc, &err), *rm;

    assert_non_null(b);
    /* The table is replaced whole: added, deleted, added again. */
    assert_true(batch_has(b, "add", "table", NFTRULES_TABLE));
    assert_true(batch_has(b, "delete", "table", NFTRULES_TABLE));
    assert_true(batch_has(b, "add", "rule", "masquerade"));
    assert_true(batch_has(b, "add", "rule", "numgen"));
    assert_true(batch_has(b, "add", "rule", "10.200.0.3"));
    assert_true(batch_has(b, "add", "rule", "8080"));
    assert_true(batch_has(b, "add", "rule", "192.0.2.0"));
    assert_true(batch_has(b, "add", "rule", "drop"));
    json_decref(b);
    json_decref(desc);

    desc = J("{\"networks\":[],\"services\":[{\"name\":\"x/y\",\"clusterIP\":\"not-an-ip\","
             "\"ingress\":[],\"endpoints\":[],\"ports\":[]}]}");
    assert_null(nftrules_render(desc, &err));
    assert_int_equal(err.code, ERR_INVALID);
    err_clear(&err);
    json_decref(desc);

    rm = nftrules_render_remove();
    assert_true(batch_has(rm, "delete", "table", NFTRULES_TABLE));
    assert_false(batch_has(rm, "add", "rule", NULL));
    json_decref(rm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interfaces),
        cmocka_unit_test(test_resolve_precedence),
        cmocka_unit_test(test_nftrules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
