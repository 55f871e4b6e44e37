/*
 * Unit tests for hv/hv.c and the fake driver (hv/fake.c): the wrappers and
 * their errors for missing operations, state names, the lifecycle semantics
 * shared with the libvirt driver (managed save, pause, transient domains,
 * redefinition), disks, events from the driver's own thread, fault
 * injection, and thousands of domains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "hv/hv.h"
#include "hv/hv_priv.h"

typedef struct seen {
    char *name;
    hv_state_t state;
    GThread *thread;
} seen_t;

static GAsyncQueue *events;

static void on_event(void *ctx, const char *name, hv_state_t state)
{
    seen_t *s = g_new(seen_t, 1);
    s->name = g_strdup(name);
    s->state = state;
    s->thread = g_thread_self();
    g_async_queue_push(ctx, s);
}

/* The next event, which must arrive within two seconds and match. */
static void expect_event(const char *name, hv_state_t state)
{
    seen_t *s = g_async_queue_timeout_pop(events, 2 * G_USEC_PER_SEC);

    if (!s)
        fail_msg("no event for %s (%s)", name, hv_state_name(state));
    if (strcmp(s->name, name) || s->state != state)
        fail_msg("event %s %s, want %s %s", s->name, hv_state_name(s->state), name,
                 hv_state_name(state));
    assert_true(s->thread != g_thread_self());
    g_free(s->name);
    g_free(s);
}

static void drain_events(void)
{
    seen_t *s;
    while ((s = g_async_queue_try_pop(events))) {
        g_free(s->name);
        g_free(s);
    }
}

static json_t *spec_new(const char *name, const char *uuid, const char *uid)
{
    json_t *s = json_pack("{s:s,s:s,s:s,s:i,s:i}", "name", name, "uuid", uuid, "vmUID", uid,
                          "vcpus", 1, "memoryMiB", 64);
    assert_non_null(s);
    return s;
}

static hv_driver_t *open_fake(void)
{
    hv_open_opts_t o = {.accel = HV_ACCEL_AUTO, .on_event = on_event, .event_ctx = events};
    err_t err = ERR_INIT;
    hv_driver_t *d = hv_open(&hv_fake_ops, &o, &err);

    assert_non_null(d);
    return d;
}

static hv_state_t state_of(hv_driver_t *d, const char *name)
{
    err_t err = ERR_INIT;
    hv_state_t st;

    assert_int_equal(hv_state(d, name, &st, &err), 0);
    return st;
}

static void define_ok(hv_driver_t *d, const char *name, const char *uuid, const char *uid)
{
    json_t *spec = spec_new(name, uuid, uid);
    err_t err = ERR_INIT;

    if (hv_define(d, spec, &err) < 0)
        fail_msg("define %s: %s", name, err.msg);
    json_decref(spec);
}

#define UUID1 "11111111-2222-4333-8444-555555555555"
#define UUID2 "21111111-2222-4333-8444-555555555555"

static int setup(void **state)
{
    events = g_async_queue_new();
    hv_fake_fail_clear();
    return 0;
}

static int teardown(void **state)
{
    drain_events();
    g_async_queue_unref(events);
    hv_fake_fail_clear();
    return 0;
}

static void test_state_names(void **state)
{
    assert_string_equal(hv_state_name(HV_STATE_NONE), "None");
    assert_string_equal(hv_state_name(HV_STATE_RUNNING), "Running");
    assert_string_equal(hv_state_name(HV_STATE_PAUSED), "Paused");
    assert_string_equal(hv_state_name(HV_STATE_SAVED), "Saved");
    assert_string_equal(hv_state_name(HV_STATE_SHUTOFF), "Shutoff");
    assert_string_equal(hv_state_name(HV_STATE_CRASHED), "Crashed");
    assert_string_equal(hv_state_name(HV_STATE_LAST), "Unknown");
    assert_string_equal(hv_state_name((hv_state_t)-1), "Unknown");
    hv_domain_info_free(NULL);
    hv_close(NULL);
}

/* A driver that only opens: every other wrapper reports what it lacks. */
static void *bare_open(const hv_open_opts_t *o, err_t *err)
{
    return (void *)1;
}

static void test_missing_ops(void **state)
{
    static const hv_ops_t bare = {.name = "bare", .open = bare_open};
    static const hv_ops_t unopenable = {.name = "nothing"};
    hv_open_opts_t o = {0};
    err_t err = ERR_INIT;
    hv_driver_t *d = hv_open(&bare, &o, &err);
    hv_state_t st = HV_STATE_RUNNING;
    json_t *spec = spec_new("a", UUID1, "u");

    assert_non_null(d);
    assert_string_equal(hv_driver_name(d), "bare");
    assert_int_equal(hv_accel(d), HV_ACCEL_TCG);
    assert_int_equal(hv_pid(d, "a"), 0);
    assert_int_equal(hv_start(d, "a", &err), -1);
    assert_int_equal(err.code, ERR_INTERNAL);
    assert_string_equal(err.msg, "The bare driver cannot start domains.");
    assert_int_equal(hv_define(d, spec, &err), -1);
    assert_string_equal(err.msg, "The bare driver cannot define domains.");
    assert_int_equal(hv_reboot(d, "a", true, &err), -1);
    assert_string_equal(err.msg, "The bare driver cannot reset domains.");
    assert_int_equal(hv_state(d, "a", &st, &err), -1);
    assert_int_equal(st, HV_STATE_NONE);
    assert_null(hv_list(d, &err));
    assert_string_equal(err.msg, "The bare driver cannot list domains.");
    assert_int_equal(hv_detach_disk(d, "a", "vdb", &err), -1);
    assert_string_equal(err.msg, "The bare driver cannot detach disks.");
    assert_null(hv_guest_interfaces(d, "a", 1, &err));
    assert_string_equal(err.msg, "The bare driver cannot ask guest agents for their interfaces.");
    hv_close(d);
    json_decref(spec);

    assert_null(hv_open(&unopenable, &o, &err));
    assert_string_equal(err.msg, "The nothing driver cannot be opened.");
}

static void test_lifecycle(void **state)
{
    hv_driver_t *d = open_fake();
    err_t err = ERR_INIT;

    assert_string_equal(hv_driver_name(d), "fake");
    assert_int_equal(hv_accel(d), HV_ACCEL_TCG);
    assert_int_equal(state_of(d, "vm-a"), HV_STATE_NONE);
    assert_int_equal(hv_start(d, "vm-a", &err), -1);
    assert_int_equal(err.code, ERR_NOT_FOUND);

    define_ok(d, "vm-a", UUID1, "uid-a");
    expect_event("vm-a", HV_STATE_SHUTOFF);
    assert_int_equal(state_of(d, "vm-a"), HV_STATE_SHUTOFF);
    assert_int_equal(hv_pause(d, "vm-a", &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_int_equal(hv_destroy(d, "vm-a", &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_int_equal(hv_suspend(d, "vm-a", &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);

    assert_int_equal(hv_start(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_RUNNING);
    assert_int_equal(hv_start(d, "vm-a", &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_string_equal(err.msg, "Domain vm-a is already running.");
    assert_int_equal(hv_pid(d, "vm-a"), 0);

    /* Pause and resume are idempotent. */
    assert_int_equal(hv_pause(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_PAUSED);
    assert_int_equal(hv_pause(d, "vm-a", &err), 0);
    assert_int_equal(state_of(d, "vm-a"), HV_STATE_PAUSED);
    assert_int_equal(hv_resume(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_RUNNING);
    assert_int_equal(hv_resume(d, "vm-a", &err), 0);
    assert_int_equal(state_of(d, "vm-a"), HV_STATE_RUNNING);

    /* Managed save, and start from it. */
    assert_int_equal(hv_suspend(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_SAVED);
    assert_int_equal(state_of(d, "vm-a"), HV_STATE_SAVED);
    assert_int_equal(hv_resume(d, "vm-a", &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_int_equal(hv_start(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_RUNNING);

    /* A paused domain can be saved too; it comes back running. */
    assert_int_equal(hv_pause(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_PAUSED);
    assert_int_equal(hv_suspend(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_SAVED);
    assert_int_equal(hv_start(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_RUNNING);

    assert_int_equal(hv_reboot(d, "vm-a", false, &err), 0);
    assert_int_equal(hv_reboot(d, "vm-a", true, &err), 0);
    assert_int_equal(state_of(d, "vm-a"), HV_STATE_RUNNING);

    assert_int_equal(hv_shutdown(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_SHUTOFF);
    assert_int_equal(hv_shutdown(d, "vm-a", &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_int_equal(hv_reboot(d, "vm-a", false, &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);

    /* A paused guest shuts down once it runs again. */
    assert_int_equal(hv_start(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_RUNNING);
    assert_int_equal(hv_pause(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_PAUSED);
    assert_int_equal(hv_shutdown(d, "vm-a", &err), 0);
    assert_int_equal(state_of(d, "vm-a"), HV_STATE_PAUSED);
    assert_int_equal(hv_resume(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_RUNNING);
    expect_event("vm-a", HV_STATE_SHUTOFF);

    assert_int_equal(hv_start(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_RUNNING);
    assert_int_equal(hv_destroy(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_SHUTOFF);

    assert_int_equal(hv_undefine(d, "vm-a", &err), 0);
    expect_event("vm-a", HV_STATE_NONE);
    assert_int_equal(state_of(d, "vm-a"), HV_STATE_NONE);
    assert_int_equal(hv_undefine(d, "vm-a", &err), -1);
    assert_int_equal(err.code, ERR_NOT_FOUND);
    hv_close(d);
}

static void test_redefine_and_transient(void **state)
{
    hv_driver_t *d = open_fake();
    err_t err = ERR_INIT;
    json_t *bad = spec_new("vm-b", "nope", "uid");
    json_t *other = spec_new("vm-b", UUID2, "uid-other");
    GPtrArray *list;

    assert_int_equal(hv_define(d, bad, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    assert_int_equal(state_of(d, "vm-b"), HV_STATE_NONE);

    define_ok(d, "vm-b", UUID1, "uid-1");
    expect_event("vm-b", HV_STATE_SHUTOFF);
    assert_int_equal(hv_start(d, "vm-b", &err), 0);
    expect_event("vm-b", HV_STATE_RUNNING);
    /* Same VM redefined while it runs: accepted, stays running. */
    define_ok(d, "vm-b", UUID1, "uid-2");
    expect_event("vm-b", HV_STATE_RUNNING);
    assert_int_equal(state_of(d, "vm-b"), HV_STATE_RUNNING);
    list = hv_list(d, &err);
    assert_int_equal(list->len, 1);
    assert_string_equal(((hv_domain_info_t *)list->pdata[0])->vm_uid, "uid-2");
    g_ptr_array_unref(list);
    /* Another VM (other UUID) cannot take the name of a running one. */
    assert_int_equal(hv_define(d, other, &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);

    /* Undefined while running: transient, gone once stopped. */
    assert_int_equal(hv_undefine(d, "vm-b", &err), 0);
    assert_int_equal(state_of(d, "vm-b"), HV_STATE_RUNNING);
    assert_int_equal(hv_suspend(d, "vm-b", &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_int_equal(hv_destroy(d, "vm-b", &err), 0);
    expect_event("vm-b", HV_STATE_SHUTOFF);
    expect_event("vm-b", HV_STATE_NONE);
    assert_int_equal(state_of(d, "vm-b"), HV_STATE_NONE);

    /* Once stopped, another VM may take the name. */
    define_ok(d, "vm-b", UUID1, "uid-1");
    assert_int_equal(hv_define(d, other, &err), 0);
    list = hv_list(d, &err);
    assert_int_equal(list->len, 1);
    assert_string_equal(((hv_domain_info_t *)list->pdata[0])->vm_uid, "uid-other");
    assert_int_equal(((hv_domain_info_t *)list->pdata[0])->state, HV_STATE_SHUTOFF);
    g_ptr_array_unref(list);
    json_decref(bad);
    json_decref(other);
    hv_close(d);
}

static void test_disks(void **state)
{
    hv_driver_t *d = open_fake();
    err_t err = ERR_INIT;
    json_t *disk = json_pack("{s:s,s:s,s:s}", "path", "/pool/pvc.qcow2", "format", "qcow2",
                             "target", "vdb");
    json_t *bad = json_pack("{s:s,s:s,s:s}", "path", "/pool/pvc.qcow2", "format", "qcow2",
                            "target", "hdb");

    assert_int_equal(hv_attach_disk(d, "vm-c", disk, &err), -1);
    assert_int_equal(err.code, ERR_NOT_FOUND);
    define_ok(d, "vm-c", UUID1, "uid-c");
    assert_int_equal(hv_attach_disk(d, "vm-c", disk, &err), 0);
    assert_int_equal(hv_attach_disk(d, "vm-c", disk, &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_int_equal(hv_attach_disk(d, "vm-c", bad, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    assert_int_equal(hv_start(d, "vm-c", &err), 0);
    assert_int_equal(hv_detach_disk(d, "vm-c", "vdb", &err), 0);
    assert_int_equal(hv_detach_disk(d, "vm-c", "vdb", &err), -1);
    assert_int_equal(err.code, ERR_NOT_FOUND);
    assert_int_equal(hv_attach_disk(d, "vm-c", disk, &err), 0);
    json_decref(disk);
    json_decref(bad);
    hv_close(d);
}

static void test_faults(void **state)
{
    hv_driver_t *d = open_fake();
    err_t err = ERR_INIT;
    GPtrArray *list;

    define_ok(d, "vm-d", UUID1, "uid-d");
    hv_fake_fail_next("start", ERR_UNAVAILABLE);
    hv_fake_fail_next("start", ERR_TIMEOUT);
    assert_int_equal(hv_start(d, "vm-d", &err), -1);
    assert_int_equal(err.code, ERR_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "injected"));
    assert_int_equal(hv_start(d, "vm-d", &err), -1);
    assert_int_equal(err.code, ERR_TIMEOUT);
    assert_int_equal(state_of(d, "vm-d"), HV_STATE_SHUTOFF);
    assert_int_equal(hv_start(d, "vm-d", &err), 0);
    hv_fake_fail_next("list", ERR_INTERNAL);
    assert_null(hv_list(d, &err));
    list = hv_list(d, &err);
    assert_int_equal(list->len, 1);
    g_ptr_array_unref(list);
    hv_fake_fail_next("destroy", ERR_INTERNAL);
    hv_fake_fail_clear();
    assert_int_equal(hv_destroy(d, "vm-d", &err), 0);
    hv_close(d);

    /* The environment switch makes an op fail on every call. */
    g_setenv("VMSVC_HV_FAKE_FAIL", "suspend,undefine", TRUE);
    d = open_fake();
    g_unsetenv("VMSVC_HV_FAKE_FAIL");
    define_ok(d, "vm-d", UUID1, "uid-d");
    assert_int_equal(hv_start(d, "vm-d", &err), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(hv_suspend(d, "vm-d", &err), -1);
        assert_int_equal(err.code, ERR_INTERNAL);
    }
    assert_int_equal(hv_undefine(d, "vm-d", &err), -1);
    assert_int_equal(state_of(d, "vm-d"), HV_STATE_RUNNING);
    hv_close(d);
}

/* The fake guest agent: silent unless a test gives a view or the
 * environment switch is on; never for a domain that is not running. */
static void test_guest_agent(void **state)
{
    hv_driver_t *d = open_fake();
    err_t err = ERR_INIT;
    json_t *spec = spec_new("vm-g", UUID1, "uid-g"), *view, *want;

    json_object_set_new(spec, "nics",
                        json_pack("[{s:s,s:s,s:s}]", "mac", "52:54:00:0a:0b:0c", "bridge", "br0",
                                  "model", "virtio"));
    if (hv_define(d, spec, &err) < 0)
        fail_msg("define: %s", err.msg);
    assert_null(hv_guest_interfaces(d, "vm-g", 1, &err));
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_null(hv_guest_interfaces(d, "nope", 1, &err));
    assert_int_equal(err.code, ERR_NOT_FOUND);
    assert_int_equal(hv_start(d, "vm-g", &err), 0);
    assert_null(hv_guest_interfaces(d, "vm-g", 1, &err));
    assert_int_equal(err.code, ERR_UNAVAILABLE);
    assert_int_equal(hv_guest_ping(d, "vm-g", 1, &err), -1);

    want = json_pack("[{s:s,s:s,s:[s]}]", "name", "eth0", "mac", "52:54:00:0a:0b:0c", "addresses",
                     "10.0.0.9/24");
    hv_fake_set_guest_view("vm-g", want);
    view = hv_guest_interfaces(d, "vm-g", 1, &err);
    assert_true(json_equal(view, want));
    json_decref(view);
    assert_int_equal(hv_guest_ping(d, "vm-g", 1, &err), 0);
    hv_fake_fail_next("guest_interfaces", ERR_TIMEOUT);
    assert_null(hv_guest_interfaces(d, "vm-g", 1, &err));
    assert_int_equal(err.code, ERR_TIMEOUT);
    hv_fake_set_guest_view("vm-g", NULL);
    assert_null(hv_guest_interfaces(d, "vm-g", 1, &err));
    json_decref(want);
    hv_close(d);

    /* The environment switch: one interface per NIC, with the link-local
     * address a Linux guest derives from the MAC. */
    g_setenv("VMSVC_HV_FAKE_GUEST_AGENT", "1", TRUE);
    d = open_fake();
    g_unsetenv("VMSVC_HV_FAKE_GUEST_AGENT");
    if (hv_define(d, spec, &err) < 0 || hv_start(d, "vm-g", &err) < 0)
        fail_msg("define and start: %s", err.msg);
    view = hv_guest_interfaces(d, "vm-g", 1, &err);
    want = json_pack("[{s:s,s:s,s:[s]}]", "name", "eth0", "mac", "52:54:00:0a:0b:0c", "addresses",
                     "fe80::5054:ff:fe0a:b0c/64");
    assert_true(json_equal(view, want));
    assert_int_equal(hv_guest_ping(d, "vm-g", 1, &err), 0);
    assert_int_equal(hv_pause(d, "vm-g", &err), 0);
    assert_int_equal(hv_guest_ping(d, "vm-g", 1, &err), -1);
    json_decref(view);
    json_decref(want);
    json_decref(spec);
    hv_close(d);
}

static void test_accel_kvm_requested(void **state)
{
    hv_open_opts_t o = {.accel = HV_ACCEL_KVM};
    err_t err = ERR_INIT;
    hv_driver_t *d = hv_open(&hv_fake_ops, &o, &err);

    assert_int_equal(hv_accel(d), HV_ACCEL_KVM);
    /* Without a callback there is no event thread, and nothing breaks. */
    define_ok(d, "vm-e", UUID1, "uid-e");
    assert_int_equal(hv_start(d, "vm-e", &err), 0);
    hv_close(d);
}

#define SCALE 5000

static void test_scale(void **state)
{
    hv_driver_t *d = open_fake();
    err_t err = ERR_INIT;
    gint64 t0 = g_get_monotonic_time();
    GPtrArray *list;
    char name[32], uid[32];
    size_t running = 0;

    for (int i = 0; i < SCALE; i++) {
        json_t *spec;
        snprintf(name, sizeof(name), "vm-%05d", i);
        snprintf(uid, sizeof(uid), "uid-%05d", i);
        spec = spec_new(name, UUID1, uid);
        assert_int_equal(hv_define(d, spec, &err), 0);
        json_decref(spec);
        if (i % 2 == 0)
            assert_int_equal(hv_start(d, name, &err), 0);
    }
    list = hv_list(d, &err);
    assert_int_equal(list->len, SCALE);
    for (guint i = 0; i < list->len; i++) {
        hv_domain_info_t *di = list->pdata[i];
        assert_string_equal(di->vm_uid + 4, di->name + 3);
        running += di->state == HV_STATE_RUNNING;
    }
    assert_int_equal(running, SCALE / 2);
    g_ptr_array_unref(list);
    hv_close(d);
    /* Generous: the point is that nothing is quadratic or sleeps. */
    assert_true(g_get_monotonic_time() - t0 < 10 * G_USEC_PER_SEC);
    drain_events();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_names),
        cmocka_unit_test(test_missing_ops),
        cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redefine_and_transient, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_agent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accel_kvm_requested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scale, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
