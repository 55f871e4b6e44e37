/* Unit tests for ctl/queue.c: order, de-duplication and delays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "ctl/queue.h"

typedef struct rec {
    GMutex lock;
    GCond cond;
    bool release;          /* the key "gate" waits for this */
    GPtrArray *seen;       /* keys in the order they were handled */
} rec_t;

static int handle(void *ctx, const char *key)
{
    rec_t *r = ctx;
    g_mutex_lock(&r->lock);
    if (!strcmp(key, "gate"))
        while (!r->release)
            g_cond_wait(&r->cond, &r->lock);
    g_ptr_array_add(r->seen, g_strdup(key));
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
    return 0;
}

static void wait_seen(rec_t *r, guint n)
{
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    g_mutex_lock(&r->lock);
    while (r->seen->len < n && g_cond_wait_until(&r->cond, &r->lock, deadline))
        ;
    g_mutex_unlock(&r->lock);
}

/* Keys due at once are handled in the order they were added, each once;
 * a delayed key waits for its time. */
static void test_order(void **state)
{
    rec_t r = {.seen = g_ptr_array_new_with_free_func(g_free)};
    queue_t *q;
    char key[16];

    g_mutex_init(&r.lock);
    g_cond_init(&r.cond);
    q = queue_new("test", 1, handle, &r);
    queue_add(q, "gate");
    g_usleep(20000); /* the one worker now holds "gate" */
    queue_add_after(q, "late", 100);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        queue_add(q, key);
    }
    queue_add(q, "k000"); /* queued already: no second turn */
    g_mutex_lock(&r.lock);
    r.release = true;
    g_cond_broadcast(&r.cond);
    g_mutex_unlock(&r.lock);
    wait_seen(&r, 202);
    g_usleep(50000);
    assert_int_equal(r.seen->len, 202);
    assert_string_equal(r.seen->pdata[0], "gate");
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        assert_string_equal(r.seen->pdata[i + 1], key);
    }
    assert_string_equal(r.seen->pdata[201], "late");
    assert_int_equal(queue_length(q), 0);
    queue_free(q);
    g_ptr_array_unref(r.seen);
    g_mutex_clear(&r.lock);
    g_cond_clear(&r.cond);
}

/* An earlier add of a delayed key brings it forward. */
static void test_delay_forward(void **state)
{
    rec_t r = {.seen = g_ptr_array_new_with_free_func(g_free), .release = true};
    queue_t *q;
    gint64 t0 = g_get_monotonic_time();

    g_mutex_init(&r.lock);
    g_cond_init(&r.cond);
    q = queue_new("test", 2, handle, &r);
    queue_add_after(q, "x", 5000);
    queue_add(q, "x");
    wait_seen(&r, 1);
    assert_int_equal(r.seen->len, 1);
    assert_true(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);
    queue_free(q);
    g_ptr_array_unref(r.seen);
    g_mutex_clear(&r.lock);
    g_cond_clear(&r.cond);
}

typedef struct gate {
    GMutex lock;
    GCond cond;
    int inside, most, done;
    bool open;
} gate_t;

static int block(void *ctx, const char *key)
{
    gate_t *g = ctx;
    g_mutex_lock(&g->lock);
    g->inside++;
    g->most = MAX(g->most, g->inside);
    g_cond_broadcast(&g->cond);
    while (!g->open)
        g_cond_wait(&g->cond, &g->lock);
    g->inside--;
    g->done++;
    g_cond_broadcast(&g->cond);
    g_mutex_unlock(&g->lock);
    return 0;
}

/* An idle queue holds one worker; a burst of blocking keys gets workers up
 * to the limit, all at work at once, and no more. */
static void test_grow(void **state)
{
    gate_t g = {0};
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    queue_t *q;
    char key[16];

    g_mutex_init(&g.lock);
    g_cond_init(&g.cond);
    q = queue_new("test", 8, block, &g);
    assert_int_equal(queue_workers(q), 1);
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "b%02d", i);
        queue_add(q, key);
    }
    g_mutex_lock(&g.lock);
    while (g.inside < 8 && g_cond_wait_until(&g.cond, &g.lock, deadline))
        ;
    assert_int_equal(g.inside, 8);
    g_mutex_unlock(&g.lock);
    g_usleep(50000);
    assert_int_equal(queue_workers(q), 8);
    g_mutex_lock(&g.lock);
    assert_int_equal(g.inside, 8);
    g.open = true;
    g_cond_broadcast(&g.cond);
    while (g.done < 20 && g_cond_wait_until(&g.cond, &g.lock, deadline))
        ;
    assert_int_equal(g.done, 20);
    assert_int_equal(g.most, 8);
    g_mutex_unlock(&g.lock);
    queue_free(q);
    g_mutex_clear(&g.lock);
    g_cond_clear(&g.cond);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_delay_forward),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
