/*
 * Unit tests for model/guestnet: parsing qemu-guest-agent's
 * guest-network-get-interfaces reply (loopback and junk left out, bounds),
 * merging the guest's view into status.network.interfaces by MAC, and the
 * choice of the primary addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "model/guestnet.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s", e.text);
    return j;
}

static json_t *parse(const char *reply)
{
    err_t err = ERR_INIT;
    json_t *v = guestnet_parse_qga(reply, strlen(reply), &err);
    if (!v)
        fail_msg("guestnet_parse_qga failed: %s", err.msg);
    return v;
}

static void assert_json(const json_t *got, const char *want)
{
    json_t *w = J(want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got %s\nwant %s", g, want);
    }
    json_decref(w);
}

/* What Debian 12's qemu-guest-agent answers, abridged. */
#define DEBIAN_REPLY                                                                          \
    "{\"return\":[{\"name\":\"lo\",\"ip-addresses\":["                                       \
    "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"127.0.0.1\",\"prefix\":8},"              \
    "{\"ip-address-type\":\"ipv6\",\"ip-address\":\"::1\",\"prefix\":128}],"                 \
    "\"statistics\":{\"rx-bytes\":0},\"hardware-address\":\"00:00:00:00:00:00\"},"            \
    "{\"name\":\"enp1s0\",\"ip-addresses\":["                                                \
    "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.220.0.5\",\"prefix\":16},"            \
    "{\"ip-address-type\":\"ipv6\",\"ip-address\":\"fe80::5054:ff:fe0a:b0c%enp1s0\","        \
    "\"prefix\":64}],\"hardware-address\":\"52:54:00:0A:0B:0C\"},"                           \
    "{\"name\":\"sit0\",\"hardware-address\":\"\"}]}"

static void test_parse(void **state)
{
    json_t *v = parse(DEBIAN_REPLY);
    err_t err = ERR_INIT;

    assert_json(v, "[{\"name\":\"enp1s0\",\"mac\":\"52:54:00:0a:0b:0c\",\"addresses\":"
                   "[\"10.220.0.5/16\",\"fe80::5054:ff:fe0a:b0c/64\"]}]");
    json_decref(v);

    /* Junk addresses are left out, the interface stays. */
    v = parse("{\"return\":[{\"name\":\"eth0\",\"hardware-address\":\"52:54:00:00:00:01\","
              "\"ip-addresses\":[{\"ip-address-type\":\"ipv4\",\"ip-address\":\"fe80::1\","
              "\"prefix\":64},{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.0.0.1\","
              "\"prefix\":33},{\"ip-address-type\":\"ipv4\",\"ip-address\":\"bogus\","
              "\"prefix\":8},{\"ip-address-type\":\"ipv6\",\"ip-address\":\"fd00::1\"},"
              "{\"ip-address-type\":\"ipv6\",\"ip-address\":\"FD00::0:2\",\"prefix\":64},"
              "7,{}]},{\"name\":\"x\",\"hardware-address\":\"52:54:00:00:00\"},\"str\"]}");
    assert_json(v, "[{\"name\":\"eth0\",\"mac\":\"52:54:00:00:00:01\",\"addresses\":"
                   "[\"fd00::2/64\"]}]");
    json_decref(v);

    /* Not a reply. */
    assert_null(guestnet_parse_qga("{\"error\":{}}", 11, &err));
    assert_int_equal(err.code, ERR_INTERNAL);
    err_clear(&err);
    assert_null(guestnet_parse_qga("{\"return\":", 10, &err));
    err_clear(&err);
    assert_null(guestnet_parse_qga("x", GUESTNET_REPLY_MAX + 1, &err));
    err_clear(&err);
}

/* A guest with hundreds of interfaces and addresses is cut down. */
static void test_parse_bounds(void **state)
{
    GString *b = g_string_new("{\"return\":[");
    json_t *v, *first;
    /* A two-byte character across the limit, then more. */
    char *head = g_strnfill(GUESTNET_NAME_MAX - 1, 'n'), *tail = g_strnfill(200, 'n');
    char *longname = g_strconcat(head, "\xc3\xa9", tail, NULL);

    for (int i = 0; i < 100; i++) {
        g_string_append_printf(b, "%s{\"name\":\"%s\",\"hardware-address\":\"52:54:00:00:%02x:%02x\","
                                  "\"ip-addresses\":[",
                               i ? "," : "", i ? "e" : longname, i / 256, i % 256);
        for (int k = 0; k < 100; k++)
            g_string_append_printf(b, "%s{\"ip-address-type\":\"ipv6\",\"ip-address\":\"fd00::%x\","
                                      "\"prefix\":64}",
                                   k ? "," : "", k + 1);
        g_string_append(b, ",{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.0.0.1\",\"prefix\":8}]}");
    }
    g_string_append(b, "]}");
    v = parse(b->str);
    assert_int_equal(json_array_size(v), GUESTNET_MAX_IFACES);
    first = json_array_get(v, 0);
    /* Names are cut between characters. */
    assert_string_equal(json_string_value(json_object_get(first, "name")), head);
    /* Each family is bounded on its own: the IPv4 address after 100 IPv6 ones stays. */
    assert_int_equal(json_array_size(json_object_get(first, "addresses")), GUESTNET_MAX_ADDRS + 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(first, "addresses"),
                                                         GUESTNET_MAX_ADDRS)),
                        "10.0.0.1/8");
    json_decref(v);
    g_string_free(b, TRUE);
    g_free(longname);
    g_free(head);
    g_free(tail);
}

#define ALLOC_IFACES                                                                          \
    "[{\"name\":\"eth0\",\"ip\":{\"macAddr\":\"52:54:00:0a:0b:0c\",\"addresses\":"             \
    "[{\"address\":\"10.220.0.5/16\",\"origin\":\"manual\",\"state\":\"preferred\"}]}},"     \
    "{\"name\":\"eth1\",\"ip\":{\"macAddr\":\"52:54:00:0a:0b:0d\",\"addresses\":"              \
    "[{\"address\":\"10.221.0.9/24\",\"origin\":\"manual\",\"state\":\"preferred\"}]}}]"

static void test_merge(void **state)
{
    json_t *ifaces = J(ALLOC_IFACES), *guest;
    char *p;

    /* No guest view: the allocation. */
    guestnet_merge(ifaces, NULL);
    assert_json(ifaces, ALLOC_IFACES);

    /* The guest reports eth0 (upper-case MAC), with one more address and a
     * link-local one; eth1 is not in its view and keeps the allocation. */
    guest = J("[{\"name\":\"enp1s0\",\"mac\":\"52:54:00:0A:0B:0C\",\"addresses\":"
              "[\"10.220.0.5/16\",\"192.0.2.7/24\",\"fe80::5054:ff:fe0a:b0c/64\",\"fd00::7/64\"]},"
              "{\"name\":\"docker0\",\"mac\":\"02:42:00:00:00:01\",\"addresses\":[\"172.17.0.1/16\"]}]");
    guestnet_merge(ifaces, guest);
    assert_json(ifaces,
                "[{\"name\":\"eth0\",\"ip\":{\"macAddr\":\"52:54:00:0a:0b:0c\",\"addresses\":"
                "[{\"address\":\"10.220.0.5/16\",\"origin\":\"manual\"},"
                "{\"address\":\"192.0.2.7/24\"},"
                "{\"address\":\"fe80::5054:ff:fe0a:b0c/64\",\"origin\":\"linklayer\"},"
                "{\"address\":\"fd00::7/64\"}]}},"
                "{\"name\":\"eth1\",\"ip\":{\"macAddr\":\"52:54:00:0a:0b:0d\",\"addresses\":"
                "[{\"address\":\"10.221.0.9/24\",\"origin\":\"manual\",\"state\":\"preferred\"}]}}]");

    /* Primary addresses: the allocation's when the guest has it, never link-local. */
    p = guestnet_primary(ifaces, AF_INET, "10.220.0.5");
    assert_string_equal(p, "10.220.0.5");
    g_free(p);
    p = guestnet_primary(ifaces, AF_INET, "10.99.0.1");
    assert_string_equal(p, "10.220.0.5");
    g_free(p);
    p = guestnet_primary(ifaces, AF_INET, "10.221.0.9");
    assert_string_equal(p, "10.221.0.9");
    g_free(p);
    p = guestnet_primary(ifaces, AF_INET6, NULL);
    assert_string_equal(p, "fd00::7");
    g_free(p);
    json_decref(guest);

    /* The guest has no address on eth0 yet: it shows none. */
    guest = J("[{\"name\":\"enp1s0\",\"mac\":\"52:54:00:0a:0b:0c\",\"addresses\":"
              "[\"fe80::5054:ff:fe0a:b0c/64\"]},"
              "{\"name\":\"enp2s0\",\"mac\":\"52:54:00:0a:0b:0d\",\"addresses\":[]}]");
    guestnet_merge(ifaces, guest);
    assert_json(ifaces,
                "[{\"name\":\"eth0\",\"ip\":{\"macAddr\":\"52:54:00:0a:0b:0c\",\"addresses\":"
                "[{\"address\":\"fe80::5054:ff:fe0a:b0c/64\",\"origin\":\"linklayer\"}]}},"
                "{\"name\":\"eth1\",\"ip\":{\"macAddr\":\"52:54:00:0a:0b:0d\"}}]");
    assert_null(guestnet_primary(ifaces, AF_INET, "10.220.0.5"));
    assert_null(guestnet_primary(ifaces, AF_INET6, NULL));
    json_decref(guest);
    json_decref(ifaces);

    /* An interface without a MAC in the status matches nothing. */
    ifaces = J("[{\"name\":\"eth0\"}]");
    guest = J("[{\"name\":\"x\",\"mac\":\"52:54:00:0a:0b:0c\",\"addresses\":[\"10.0.0.1/8\"]}]");
    guestnet_merge(ifaces, guest);
    assert_json(ifaces, "[{\"name\":\"eth0\"}]");
    json_decref(guest);
    json_decref(ifaces);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_bounds),
        cmocka_unit_test(test_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
