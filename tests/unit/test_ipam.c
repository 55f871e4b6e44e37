/*
 * Unit tests for model/ipaddr (parsing, formatting, address arithmetic)
 * and model/ipam (pools: what they hand out, reservations, exhaustion,
 * release, merged and split ranges, the next-fit order).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "model/ipaddr.h"
#include "model/ipam.h"

/* A parsed address, valid until eight more calls. */
static const ipaddr_t *A(const char *s)
{
    static ipaddr_t ring[8];
    static int n;
    ipaddr_t *a = &ring[n++ % 8];
    err_t err = ERR_INIT;
    assert_int_equal(ipaddr_parse(s, a, "test", &err), 0);
    return a;
}

static const char *S(const ipaddr_t *a)
{
    static char buf[4][IPADDR_STRLEN];
    static int n;
    return ipaddr_format(a, buf[n++ % 4]);
}

static ipam_pool_t *pool(const char *gw_cidr, const char *const *ranges)
{
    ipnet_t net;
    ipaddr_t gw;
    iprange_t rs[8];
    size_t n = 0;
    err_t err = ERR_INIT;
    ipam_pool_t *p;

    assert_int_equal(ipnet_parse(gw_cidr, &net, "test", &err), 0);
    gw = net.addr;
    for (; ranges && ranges[n]; n++)
        assert_int_equal(iprange_parse(ranges[n], &rs[n], "test", &err), 0);
    p = ipam_pool_new(&net, &gw, rs, n, &err);
    if (!p)
        fail_msg("%s", err.msg);
    return p;
}

static void test_parse_format(void **state)
{
    ipaddr_t a;
    ipnet_t n;
    iprange_t r;
    err_t err = ERR_INIT;
    char buf[IPNET_STRLEN];

    assert_int_equal(ipaddr_parse("10.1.2.3", &a, "x", &err), 0);
    assert_int_equal(a.family, AF_INET);
    assert_string_equal(S(&a), "10.1.2.3");
    assert_int_equal(ipaddr_parse("fd00::1", &a, "x", &err), 0);
    assert_int_equal(a.family, AF_INET6);
    assert_int_equal(ipaddr_parse("10.1.2", &a, "spec.gateway4", &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    assert_non_null(strstr(err.msg, "spec.gateway4"));
    err_clear(&err);
    assert_int_equal(ipnet_parse("10.1.2.3/24", &n, "x", &err), 0);
    assert_int_equal(n.prefix, 24);
    assert_string_equal(ipnet_format(&n, buf), "10.1.2.3/24");
    assert_int_equal(ipnet_parse("10.1.2.3/33", &n, "x", &err), -1);
    err_clear(&err);
    assert_int_equal(ipnet_parse("10.1.2.3", &n, "x", &err), -1);
    err_clear(&err);
    assert_int_equal(ipnet_parse("10.1.2.3/2a", &n, "x", &err), -1);
    err_clear(&err);
    assert_int_equal(iprange_parse("10.0.0.0/30", &r, "x", &err), 0);
    assert_string_equal(S(&r.first), "10.0.0.0");
    assert_string_equal(S(&r.last), "10.0.0.3");
    assert_int_equal(iprange_parse("10.0.0.9-10.0.0.20", &r, "x", &err), 0);
    assert_string_equal(S(&r.last), "10.0.0.20");
    assert_int_equal(iprange_parse("10.0.0.7", &r, "x", &err), 0);
    assert_true(ipaddr_equal(&r.first, &r.last));
    assert_int_equal(iprange_parse("10.0.0.20-10.0.0.9", &r, "x", &err), -1);
    err_clear(&err);
    assert_int_equal(iprange_parse("10.0.0.1-fd00::1", &r, "x", &err), -1);
    err_clear(&err);
}

static void test_arithmetic(void **state)
{
    ipaddr_t a = *A("10.0.0.255"), b, m;
    ipnet_t n;
    err_t err = ERR_INIT;

    assert_true(ipaddr_add(&a, 1, &b));
    assert_string_equal(S(&b), "10.0.1.0");
    a = *A("255.255.255.255");
    assert_false(ipaddr_add(&a, 1, &b));
    assert_int_equal(ipaddr_distance(A("10.0.0.1"), A("10.0.1.1")), 256);
    assert_int_equal(ipaddr_distance(A("10.0.1.1"), A("10.0.0.1")), UINT64_MAX);
    assert_int_equal(ipaddr_distance(A("fd00::"), A("fd00::1:0")), 65536);
    assert_int_equal(ipaddr_distance(A("fd00::"), A("fe00::")), UINT64_MAX);
    ipnet_mask(AF_INET, 20, &m);
    assert_string_equal(S(&m), "255.255.240.0");
    ipnet_mask(AF_INET, 0, &m);
    assert_string_equal(S(&m), "0.0.0.0");
    assert_int_equal(ipnet_parse("192.168.5.77/22", &n, "x", &err), 0);
    ipnet_first(&n, &a);
    ipnet_last(&n, &b);
    assert_string_equal(S(&a), "192.168.4.0");
    assert_string_equal(S(&b), "192.168.7.255");
    assert_true(ipnet_contains(&n, A("192.168.6.1")));
    assert_false(ipnet_contains(&n, A("192.168.8.1")));
    assert_false(ipnet_contains(&n, A("fd00::1")));
    assert_true(ipaddr_cmp(A("10.0.0.1"), A("fd00::")) < 0);
}

/* A /29 with the gateway at .1: .2-.6 are handed out, in order, then none. */
static void test_small_pool(void **state)
{
    ipam_pool_t *p = pool("10.0.0.1/29", NULL);
    ipaddr_t a;
    err_t err = ERR_INIT;
    const char *want[] = {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"};

    assert_int_equal(ipam_size(p), 5);
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        assert_int_equal(ipam_allocate(p, &a, &err), 0);
        assert_string_equal(S(&a), want[i]);
    }
    assert_int_equal(ipam_allocate(p, &a, &err), -1);
    assert_int_equal(err.code, ERR_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "5 addresses"));
    err_clear(&err);
    assert_int_equal(ipam_used(p), 5);
    assert_int_equal(ipam_free_count(p), 0);
    /* Freed, then handed out again (the cursor wrapped). */
    ipam_release(p, A("10.0.0.4"));
    assert_false(ipam_is_taken(p, A("10.0.0.4")));
    assert_int_equal(ipam_allocate(p, &a, &err), 0);
    assert_string_equal(S(&a), "10.0.0.4");
    ipam_pool_free(p);
}

static void test_next_fit(void **state)
{
    ipam_pool_t *p = pool("10.0.0.1/24", NULL);
    ipaddr_t a, b;
    err_t err = ERR_INIT;

    assert_int_equal(ipam_allocate(p, &a, &err), 0);
    assert_string_equal(S(&a), "10.0.0.2");
    ipam_release(p, &a);
    /* Not handed out again right away. */
    assert_int_equal(ipam_allocate(p, &b, &err), 0);
    assert_string_equal(S(&b), "10.0.0.3");
    ipam_pool_free(p);
}

static void test_reserve(void **state)
{
    const char *ranges[] = {"10.0.0.100-10.0.0.103", NULL};
    ipam_pool_t *p = pool("10.0.0.1/24", ranges);
    ipaddr_t a;
    err_t err = ERR_INIT;

    assert_int_equal(ipam_size(p), 4);
    assert_int_equal(ipam_reserve(p, A("10.0.0.101"), &err), 0);
    assert_int_equal(ipam_reserve(p, A("10.0.0.101"), &err), -1);
    assert_int_equal(err.code, ERR_ALREADY_EXISTS);
    assert_non_null(strstr(err.msg, "10.0.0.101 is already taken"));
    err_clear(&err);
    /* In the subnet, outside the ranges: a static address, also unique. */
    assert_int_equal(ipam_reserve(p, A("10.0.0.50"), &err), 0);
    assert_int_equal(ipam_reserve(p, A("10.0.0.50"), &err), -1);
    err_clear(&err);
    assert_int_equal(ipam_used(p), 2);
    ipam_release(p, A("10.0.0.50"));
    assert_int_equal(ipam_used(p), 1);
    /* Never the gateway, network, broadcast or another subnet. */
    assert_int_equal(ipam_reserve(p, A("10.0.0.1"), &err), -1);
    assert_non_null(strstr(err.msg, "gateway"));
    err_clear(&err);
    assert_int_equal(ipam_reserve(p, A("10.0.0.0"), &err), -1);
    assert_non_null(strstr(err.msg, "network"));
    err_clear(&err);
    assert_int_equal(ipam_reserve(p, A("10.0.0.255"), &err), -1);
    assert_non_null(strstr(err.msg, "broadcast"));
    err_clear(&err);
    assert_int_equal(ipam_reserve(p, A("10.0.1.5"), &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    err_clear(&err);
    /* Allocation skips the reserved one. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ipam_allocate(p, &a, &err), 0);
        assert_string_not_equal(S(&a), "10.0.0.101");
    }
    assert_int_equal(ipam_allocate(p, &a, &err), -1);
    err_clear(&err);
    ipam_pool_free(p);
}

/* Overlapping and adjacent ranges merge; the gateway inside a range is cut
 * out of it; a range outside the subnet is refused. */
static void test_ranges(void **state)
{
    const char *ranges[] = {"10.0.0.8/29", "10.0.0.12-10.0.0.20", "10.0.0.21", "10.0.0.30", NULL};
    ipam_pool_t *p = pool("10.0.0.10/24", ranges);
    ipnet_t net;
    iprange_t bad;
    err_t err = ERR_INIT;

    /* .8-.21 (14) minus the gateway .10, plus .30 */
    assert_int_equal(ipam_size(p), 14);
    assert_int_equal(ipam_reserve(p, A("10.0.0.10"), &err), -1);
    err_clear(&err);
    ipam_pool_free(p);

    assert_int_equal(ipnet_parse("10.0.0.1/24", &net, "x", &err), 0);
    assert_int_equal(iprange_parse("10.0.1.0/30", &bad, "x", &err), 0);
    assert_null(ipam_pool_new(&net, &net.addr, &bad, 1, &err));
    assert_int_equal(err.code, ERR_INVALID);
    assert_non_null(strstr(err.msg, "not inside the subnet"));
    err_clear(&err);
    assert_int_equal(ipnet_parse("10.0.0.0/8", &net, "x", &err), 0);
    assert_null(ipam_pool_new(&net, NULL, NULL, 0, &err));
    assert_non_null(strstr(err.msg, "the most one pool may have"));
    err_clear(&err);
}

/* A /16 with 60,000 addresses taken still hands out the rest, each once. */
static void test_big_pool(void **state)
{
    ipam_pool_t *p = pool("10.7.0.1/16", NULL);
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    ipaddr_t a;
    err_t err = ERR_INIT;
    uint64_t size = ipam_size(p);

    assert_int_equal(size, 65533);
    for (uint64_t i = 0; i < size; i++) {
        assert_int_equal(ipam_allocate(p, &a, &err), 0);
        assert_true(g_hash_table_add(seen, g_strdup(S(&a))));
    }
    assert_int_equal(ipam_allocate(p, &a, &err), -1);
    err_clear(&err);
    ipam_pool_free(p);
    g_hash_table_unref(seen);
}

static void test_ipv6_pool(void **state)
{
    const char *ranges[] = {"fd00::10-fd00::12", NULL};
    ipam_pool_t *p = pool("fd00::1/64", ranges);
    ipaddr_t a;
    err_t err = ERR_INIT;

    assert_int_equal(ipam_size(p), 3);
    assert_int_equal(ipam_allocate(p, &a, &err), 0);
    assert_string_equal(S(&a), "fd00::10");
    ipam_pool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_format), cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_small_pool),   cmocka_unit_test(test_next_fit),
        cmocka_unit_test(test_reserve),      cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_big_pool),     cmocka_unit_test(test_ipv6_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
