/*
 * Unit tests for ctl/burst: every item is handled before burst_run returns,
 * several at once, and a single item on the caller's thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>

#include "ctl/burst.h"

typedef struct item {
    int done;
    GThread *thread;
} item_t;

static gint running, most;

static void handle(void *p)
{
    item_t *it = p;
    gint now = g_atomic_int_add(&running, 1) + 1, seen;

    while ((seen = g_atomic_int_get(&most)) < now &&
           !g_atomic_int_compare_and_exchange(&most, seen, now))
        ;
    g_usleep(2000);
    it->thread = g_thread_self();
    it->done++;
    g_atomic_int_add(&running, -1);
}

static void test_every_item_once(void **state)
{
    burst_t *b = burst_new(8, handle);
    GPtrArray *items = g_ptr_array_new_with_free_func(g_free);

    for (int round = 0; round < 3; round++) {
        g_ptr_array_set_size(items, 0);
        for (int i = 0; i < 200; i++)
            g_ptr_array_add(items, g_new0(item_t, 1));
        g_atomic_int_set(&most, 0);
        burst_run(b, items);
        for (guint i = 0; i < items->len; i++)
            assert_int_equal(((item_t *)items->pdata[i])->done, 1);
        assert_int_equal(g_atomic_int_get(&running), 0);
        assert_true(g_atomic_int_get(&most) > 1);
        assert_true(g_atomic_int_get(&most) <= 8);
    }
    /* One item: on the caller's thread; none: nothing. */
    g_ptr_array_set_size(items, 0);
    g_ptr_array_add(items, g_new0(item_t, 1));
    burst_run(b, items);
    assert_ptr_equal(((item_t *)items->pdata[0])->thread, g_thread_self());
    g_ptr_array_set_size(items, 0);
    burst_run(b, items);
    g_ptr_array_unref(items);
    burst_free(b);
    burst_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_item_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
