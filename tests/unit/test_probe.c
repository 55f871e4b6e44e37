/*
 * Unit tests for the guest-network polls of agent/probe: a VM's view
 * appears once its guest agent answers and is reported as a change, an
 * unchanged answer is not reported again, the view is kept through fewer
 * than PROBE_GUESTNET_MISSES unanswered polls and dropped after them, and
 * an unwatched VM is polled no more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "agent/probe.h"

typedef struct guest {
    GMutex lock;
    json_t *answer; /* what the agent says now; NULL: nothing */
    int polls;
    GAsyncQueue *changes; /* keys reported */
} guest_t;

static guest_t g;

static void on_change(void *ctx, const char *key)
{
    g_async_queue_push(g.changes, g_strdup(key));
}

static json_t *guestnet(void *ctx, const char *dom, int timeout_s)
{
    json_t *v;

    assert_string_equal(dom, "vmsvc-dom");
    assert_int_equal(timeout_s, PROBE_GUESTNET_TIMEOUT_S);
    g_mutex_lock(&g.lock);
    v = json_incref(g.answer);
    g.polls++;
    g_mutex_unlock(&g.lock);
    return v;
}

static void answer(json_t *v)
{
    g_mutex_lock(&g.lock);
    json_decref(g.answer);
    g.answer = v;
    g_mutex_unlock(&g.lock);
}

static int polls(void)
{
    int n;
    g_mutex_lock(&g.lock);
    n = g.polls;
    g_mutex_unlock(&g.lock);
    return n;
}

#define PERIOD_MS 100

/* The next change reported within `n` poll periods, or NULL. */
static char *next_change(int n)
{
    return g_async_queue_timeout_pop(g.changes, (guint64)n * PERIOD_MS * 1000);
}

static void test_guestnet_polls(void **state)
{
    probe_sched_t *s;
    json_t *v, *view = json_pack("[{s:s,s:s,s:[s]}]", "name", "eth0", "mac", "52:54:00:0a:0b:0c",
                                 "addresses", "fe80::5054:ff:fe0a:b0c/64");
    char *key;
    int n;

    g_mutex_init(&g.lock);
    g.changes = g_async_queue_new_full(g_free);
    s = probe_sched_new(on_change, NULL, guestnet, NULL);
    probe_guestnet_period(s, PERIOD_MS);

    /* No agent yet: polled at once, nothing to report. */
    probe_guestnet_watch(s, "vm/a", "vmsvc-dom");
    assert_null(next_change(1) /* half a period after the first poll */ );
    assert_true(polls() >= 1);
    assert_null(probe_guestnet_view(s, "vm/a"));

    /* The agent answers: the next poll (a period later) reports it. */
    answer(json_deep_copy(view));
    key = next_change(10);
    assert_non_null(key);
    assert_string_equal(key, "vm/a");
    g_free(key);
    v = probe_guestnet_view(s, "vm/a");
    assert_true(json_equal(v, view));
    json_decref(v);
    /* Watching again changes nothing. */
    probe_guestnet_watch(s, "vm/a", "vmsvc-dom");
    n = polls();

    /* The same answer again is no change. */
    assert_null(next_change(5));
    assert_true(polls() >= n + 3);
    /* One unanswered poll keeps the view (the fault lasts about a period). */
    answer(NULL);
    n = polls();
    while (polls() == n)
        g_usleep(1000);
    answer(json_deep_copy(view));
    assert_null(next_change(5));
    v = probe_guestnet_view(s, "vm/a");
    assert_true(json_equal(v, view));
    json_decref(v);

    /* ... but PROBE_GUESTNET_MISSES of them in a row drop it. */
    answer(NULL);
    n = polls();
    key = next_change(PROBE_GUESTNET_MISSES + 10);
    assert_true(polls() >= n + PROBE_GUESTNET_MISSES);
    assert_non_null(key);
    g_free(key);
    assert_null(probe_guestnet_view(s, "vm/a"));

    /* Unwatched: polled no more. */
    probe_guestnet_unwatch(s, "vm/a");
    g_usleep(PERIOD_MS * 1000); /* a poll in flight may end */
    n = polls();
    assert_null(next_change(5));
    assert_int_equal(polls(), n);

    probe_sched_free(s);
    answer(NULL);
    json_decref(view);
    g_async_queue_unref(g.changes);
    g_mutex_clear(&g.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guestnet_polls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
