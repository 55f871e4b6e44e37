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

static void test_take_keys_max(void **state)
{
    GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    GPtrArray *batches[4];

    for (int i = 0; i < 10; i++)
        g_hash_table_add(set, g_strdup_printf("k%d", i));
    batches[0] = ctl_take_keys_max(set, 4);
    batches[1] = ctl_take_keys_max(set, 4);
    batches[2] = ctl_take_keys_max(set, 4);
    batches[3] = ctl_take_keys(set);
    assert_int_equal(batches[0]->len, 4);
    assert_int_equal(batches[1]->len, 4);
    assert_int_equal(batches[2]->len, 2);
    assert_int_equal(batches[3]->len, 0);
    assert_int_equal(g_hash_table_size(set), 0);
    /* every key once */
    for (int b = 0; b < 3; b++)
        for (guint i = 0; i < batches[b]->len; i++)
            assert_true(g_hash_table_add(seen, batches[b]->pdata[i]));
    assert_int_equal(g_hash_table_size(seen), 10);
    g_hash_table_unref(seen);
    for (int b = 0; b < 4; b++)
        g_ptr_array_unref(batches[b]);
    g_hash_table_unref(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_only),
        cmocka_unit_test(test_take_keys_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
