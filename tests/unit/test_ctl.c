/*
 * Unit tests for the controllers' shared helpers (ctl/ctl_priv.h): which
 * changes a controller may pass over, and taking keys a burst at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <jansson.h>

#include "ctl/ctl_priv.h"

#define COND "VirtualMachineClassReady"

/* A VM version: generation, a label value (NULL: none), deleting, and
 * whether its status carries COND. */
static store_obj_t *vm(int gen, const char *label, bool deleting, bool cond)
{
    json_t *o = json_pack("{s:{s:s,s:i},s:{s:[{s:s,s:s}]}}", "metadata", "name", "a",
                          "generation", gen, "status", "conditions", "type",
                          cond ? COND : "Other", "status", "True");
    store_obj_t *so;
    if (label)
        json_object_set_new(json_object_get(o, "metadata"), "labels",
                            json_pack("{s:s}", "zone", label));
    if (deleting)
        json_object_set_new(json_object_get(o, "metadata"), "deletionTimestamp",
                            json_string("2026-01-01T00:00:00Z"));
    so = store_obj_from_json("vmoperator.vmware.com/virtualmachines/ns/a", o);
    json_decref(o);
    return so;
}

static bool passes(store_ev_type_t type, store_obj_t *prev, store_obj_t *now)
{
    store_event_t ev = {.type = type, .obj = now, .prev = prev};
    bool r = ctl_status_only(&ev, COND);
    store_obj_unref(prev);
    store_obj_unref(now);
    return r;
}

static void test_status_only(void **state)
{
    /* status alone changed, and the controller's condition is there */
    assert_true(passes(STORE_EV_MODIFIED, vm(1, "z1", false, true), vm(1, "z1", false, true)));
    assert_true(passes(STORE_EV_MODIFIED, vm(1, NULL, false, false), vm(1, NULL, false, true)));
    /* the controller has not written its condition yet */
    assert_false(passes(STORE_EV_MODIFIED, vm(1, NULL, false, false), vm(1, NULL, false, false)));
    /* spec, labels or deletion changed */
    assert_false(passes(STORE_EV_MODIFIED, vm(1, NULL, false, true), vm(2, NULL, false, true)));
    assert_false(passes(STORE_EV_MODIFIED, vm(1, "z1", false, true), vm(1, "z2", false, true)));
    assert_false(passes(STORE_EV_MODIFIED, vm(1, NULL, false, true), vm(1, "z1", false, true)));
    assert_false(passes(STORE_EV_MODIFIED, vm(1, "z1", false, true), vm(1, NULL, false, true)));
    assert_false(passes(STORE_EV_MODIFIED, vm(1, NULL, false, true), vm(1, NULL, true, true)));
    /* not a modification */
    assert_false(passes(STORE_EV_ADDED, NULL, vm(1, NULL, false, true)));
    assert_false(passes(STORE_EV_DELETED, vm(1, NULL, false, true), vm(1, NULL, false, true)));
}

static void test_take_keys(void **state)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *all;

    for (int i = 0; i < 10; i++)
        g_hash_table_add(set, g_strdup_printf("k%d", i));
    all = ctl_take_keys(set);
    assert_int_equal(all->len, 10);
    assert_int_equal(g_hash_table_size(set), 0);
    /* every key once, and the array owns them now */
    for (guint i = 0; i < all->len; i++)
        assert_true(g_hash_table_add(seen, all->pdata[i]));
    g_hash_table_unref(seen);
    g_ptr_array_unref(all);
    g_hash_table_unref(set);
}

/* Take up to `max` keys and check them, in order, against `want`
 * (space-separated; "" for none). */
static void take_expect(ctl_keys_t *k, guint max, const char *want)
{
    GPtrArray *b = ctl_keys_take(k, max);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < b->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", (char *)b->pdata[i]);
    assert_string_equal(s->str, want);
    g_string_free(s, TRUE);
    g_ptr_array_unref(b);
}

static void test_keys_oldest_first(void **state)
{
    ctl_keys_t *k = ctl_keys_new();

    for (int i = 0; i < 10; i++) {
        char key[8];
        snprintf(key, sizeof(key), "k%d", i);
        ctl_keys_add(k, key);
    }
    ctl_keys_add(k, "k3"); /* again while waiting: keeps its place */
    assert_int_equal(ctl_keys_len(k), 10);
    take_expect(k, 4, "k0 k1 k2 k3");

    ctl_keys_add(k, "k0"); /* taken, so new again: at the end */
    ctl_keys_add(k, "a");
    assert_int_equal(ctl_keys_len(k), 8);
    take_expect(k, 100, "k4 k5 k6 k7 k8 k9 k0 a");

    assert_int_equal(ctl_keys_len(k), 0);
    take_expect(k, 4, "");
    ctl_keys_add(k, "left"); /* freed with the set */
    ctl_keys_free(k);
    ctl_keys_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_only),
        cmocka_unit_test(test_take_keys),
        cmocka_unit_test(test_keys_oldest_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
