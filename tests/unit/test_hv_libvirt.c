/*
 * Integration test of the libvirt driver (hv/libvirt.c) against the real
 * embedded QEMU driver in a temporary root: small diskless TCG domains go
 * through define, start, pause/resume, managed save and restore, reboot,
 * disk hotplug, destroy, listing by VM uid, adoption by a reopened driver,
 * and undefine.  Every QEMU process it sees is recorded and killed by pid at
 * the end if still alive (never by name).  Skipped where QEMU is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/hv.h"
#include "model/domain.h"
#include "hv/hv_priv.h"

typedef struct seen {
    char *name;
    hv_state_t state;
} seen_t;

typedef struct fixture {
    char *root;
    GArray *pids; /* every QEMU pid seen */
    GAsyncQueue *events;
    hv_driver_t *d;
} fixture_t;

static void on_event(void *ctx, const char *name, hv_state_t state)
{
    seen_t *s = g_new(seen_t, 1);
    s->name = g_strdup(name);
    s->state = state;
    g_async_queue_push(ctx, s);
}

/* Wait up to `ms` for an event (name, state), dropping others. */
static bool wait_event(fixture_t *f, const char *name, hv_state_t state, int ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;

    for (;;) {
        gint64 left = deadline - g_get_monotonic_time();
        seen_t *s = left > 0 ? g_async_queue_timeout_pop(f->events, (guint64)left) : NULL;
        bool hit;
        if (!s)
            return false;
        hit = !strcmp(s->name, name) && s->state == state;
        g_free(s->name);
        g_free(s);
        if (hit)
            return true;
    }
}

static void drain(fixture_t *f)
{
    seen_t *s;
    while ((s = g_async_queue_try_pop(f->events))) {
        g_free(s->name);
        g_free(s);
    }
}

/* Alive and not a zombie. */
static bool pid_alive(int pid)
{
    char path[64], *text = NULL, *p;
    bool alive = false;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return false;
    p = strrchr(text, ')');
    alive = p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
    g_free(text);
    return alive;
}

static bool wait_gone(int pid, int ms)
{
    for (int t = 0; t < ms; t += 20) {
        if (!pid_alive(pid))
            return true;
        g_usleep(20 * 1000);
    }
    return !pid_alive(pid);
}

static double now_s(void)
{
    return (double)g_get_monotonic_time() / G_USEC_PER_SEC;
}

static void open_driver(fixture_t *f)
{
    hv_open_opts_t o = {.root_dir = f->root, .accel = HV_ACCEL_TCG, .on_event = on_event,
                        .event_ctx = f->events};
    err_t err = ERR_INIT;

    hv_close(f->d); /* left open by a test that failed */
    f->d = hv_open(&hv_libvirt_ops, &o, &err);
    if (!f->d)
        fail_msg("open: %s", err.msg);
    assert_int_equal(hv_accel(f->d), HV_ACCEL_TCG);
}

static hv_state_t state_of(fixture_t *f, const char *name)
{
    err_t err = ERR_INIT;
    hv_state_t st;

    if (hv_state(f->d, name, &st, &err) < 0)
        fail_msg("state of %s: %s", name, err.msg);
    return st;
}

#define CHECK(call)                                                                     \
    do {                                                                                \
        err_t err_ = ERR_INIT;                                                          \
        if ((call) < 0)                                                                 \
            fail_msg("%s: %s", #call, err_.msg);                                        \
    } while (0)

/* Start `name`, once more if QEMU died while the start waited on it.
 *
 * In about one CI run in three, a start in test_lifecycle fails with
 * libvirt's "domain is no longer running" and QEMU's log ends in "shutting
 * down, reason=crashed" with no message from QEMU itself; it has not been
 * seen outside CI.  The agent retries a failed start, so a VM still comes
 * up; here the first failure is reported with QEMU's whole log (the
 * evidence still missing), and a second one fails the test. */
static void start_domain(fixture_t *f, const char *name)
{
    err_t err = ERR_INIT;
    char *log, *text = NULL;

    if (hv_start(f->d, name, &err) == 0)
        return;
    if (!strstr(err.msg, "no longer running"))
        fail_msg("hv_start(%s): %s", name, err.msg);
    log = g_strconcat(f->root, "/log/qemu/", name, ".log", NULL);
    g_file_get_contents(log, &text, NULL, NULL);
    print_error("hv_start(%s) failed once, retrying: %s\nQEMU's log %s:\n%s\n", name,
                err.msg, log, text ? text : "(unreadable)");
    g_free(text);
    g_free(log);
    err_clear(&err);
    CHECK(hv_start(f->d, name, &err_));
}

static void record_pid(fixture_t *f, int pid)
{
    g_array_append_val(f->pids, pid);
}

static json_t *small_spec(fixture_t *f, const char *name, const char *uuid, const char *uid)
{
    char *log = g_build_filename(f->root, "serial.log", NULL);
    json_t *spec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:s}", "name", name, "uuid", uuid,
                             "vmUID", uid, "vmName", "small", "vmNamespace", "test", "vcpus", 1,
                             "memoryMiB", 64, "firmware", "bios", "serialLog", log);
    g_free(log);
    return spec;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static int setup(void **state)
{
    fixture_t *f = g_new0(fixture_t, 1);
    char *qemu = g_find_program_in_path("qemu-system-x86_64");

    if (!qemu) {
        g_free(f);
        print_message("qemu-system-x86_64 is not installed\n");
        return 0;
    }
    g_free(qemu);
    if (geteuid() == 0 && !getpwnam("libvirt-qemu")) {
        g_free(f);
        print_message("the libvirt-qemu user is missing (scripts/setup creates it)\n");
        return 0;
    }
    f->root = g_dir_make_tmp("vmsvc-hv-XXXXXX", NULL);
    assert_non_null(f->root);
    f->pids = g_array_new(FALSE, FALSE, sizeof(int));
    f->events = g_async_queue_new();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    int leftovers = 0;

    if (!f)
        return 0;
    hv_close(f->d);
    for (guint i = 0; i < f->pids->len; i++) {
        int pid = g_array_index(f->pids, int, i);
        if (pid_alive(pid)) {
            leftovers++;
            kill(pid, SIGKILL);
            wait_gone(pid, 2000);
        }
    }
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    drain(f);
    g_async_queue_unref(f->events);
    g_array_unref(f->pids);
    g_free(f->root);
    g_free(f);
    if (leftovers)
        fprintf(stderr, "%d QEMU process(es) were left running\n", leftovers);
    return leftovers ? -1 : 0;
}

/* The renderer's richest output is accepted by libvirt's schema and driver,
 * and an EFI domain really boots its firmware. */
static void test_define_rich_and_efi(void **state)
{
    fixture_t *f = *state;
    char *nvram, *text;
    json_t *spec;
    err_t err = ERR_INIT;
    double t = now_s();
    int pid;

    if (!f)
        skip();
    open_driver(f);
    print_message("open: %.2f s\n", now_s() - t);
    nvram = g_build_filename(f->root, "rich-nvram.fd", NULL);
    text = g_strdup_printf(
        "{\"name\":\"hvt-rich\",\"uuid\":\"9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a\","
        "\"vmUID\":\"uid-rich\",\"vcpus\":2,\"memoryMiB\":128,\"firmware\":\"efi\","
        "\"nvramPath\":\"%s\",\"cpu\":{\"sharesPerVCPU\":512,\"quotaPercent\":80},"
        "\"memoryTune\":{\"locked\":true,\"hardLimitMiB\":1024},"
        "\"disks\":[{\"path\":\"/nonexistent/a.qcow2\",\"format\":\"qcow2\",\"target\":\"vda\","
        "\"boot\":1},{\"path\":\"/nonexistent/seed.iso\",\"format\":\"raw\",\"target\":\"sda\","
        "\"device\":\"cdrom\"}],"
        "\"nics\":[{\"mac\":\"52:54:00:ab:cd:01\",\"tap\":\"vmtap0\"},"
        "{\"mac\":\"52:54:00:ab:cd:02\",\"bridge\":\"br-x\"}],"
        "\"hostdevs\":[{\"type\":\"pci\",\"bus\":65,\"slot\":0,\"function\":1},"
        "{\"type\":\"mdev\",\"uuid\":\"c2a3b4d5-e6f7-4819-a2b3-c4d5e6f7a8b9\"}],"
        "\"vnc\":true,\"guestAgentSocket\":\"%s/qga.sock\"}",
        nvram, f->root);
    spec = json_loads(text, 0, NULL);
    assert_non_null(spec);
    if (hv_define(f->d, spec, &err) < 0)
        fail_msg("define rich: %s", err.msg);
    assert_int_equal(state_of(f, "hvt-rich"), HV_STATE_SHUTOFF);
    CHECK(hv_undefine(f->d, "hvt-rich", &err_));
    json_decref(spec);

    /* EFI, booting nothing: OVMF runs, and the nvram file appears. */
    spec = small_spec(f, "hvt-efi", "8d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "uid-efi");
    json_object_set_new(spec, "firmware", json_string("efi"));
    json_object_set_new(spec, "nvramPath", json_string(nvram));
    CHECK(hv_define(f->d, spec, &err_));
    t = now_s();
    start_domain(f, "hvt-efi");
    print_message("start (EFI): %.2f s\n", now_s() - t);
    pid = hv_pid(f->d, "hvt-efi");
    assert_true(pid > 0);
    record_pid(f, pid);
    assert_int_equal(state_of(f, "hvt-efi"), HV_STATE_RUNNING);
    assert_true(g_file_test(nvram, G_FILE_TEST_EXISTS));
    CHECK(hv_destroy(f->d, "hvt-efi", &err_));
    assert_true(wait_gone(pid, 5000));
    CHECK(hv_undefine(f->d, "hvt-efi", &err_));
    assert_false(g_file_test(nvram, G_FILE_TEST_EXISTS));
    json_decref(spec);
    g_free(text);
    g_free(nvram);
    hv_close(f->d);
    f->d = NULL;
}

static void test_lifecycle(void **state)
{
    fixture_t *f = *state;
    json_t *spec, *disk;
    err_t err = ERR_INIT;
    GPtrArray *list;
    char *save, *disk_path;
    int pid, pid2;
    bool found = false;
    double t;

    if (!f)
        skip();
    open_driver(f);
    spec = small_spec(f, "hvt1", "7d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "uid-hvt1");
    CHECK(hv_define(f->d, spec, &err_));
    assert_true(wait_event(f, "hvt1", HV_STATE_SHUTOFF, 5000));
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_SHUTOFF);
    assert_int_equal(hv_pid(f->d, "hvt1"), 0);

    t = now_s();
    start_domain(f, "hvt1");
    print_message("start: %.2f s\n", now_s() - t);
    pid = hv_pid(f->d, "hvt1");
    assert_true(pid > 0);
    record_pid(f, pid);
    assert_true(pid_alive(pid));
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_RUNNING);
    assert_true(wait_event(f, "hvt1", HV_STATE_RUNNING, 5000));

    assert_int_equal(hv_start(f->d, "hvt1", &err), -1);
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_non_null(strstr(err.msg, "Cannot start domain hvt1: "));
    assert_int_equal(err.msg[strlen(err.msg) - 1], '.');

    CHECK(hv_pause(f->d, "hvt1", &err_));
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_PAUSED);
    assert_true(wait_event(f, "hvt1", HV_STATE_PAUSED, 5000));
    t = now_s();
    CHECK(hv_resume(f->d, "hvt1", &err_));
    print_message("resume: %.3f s\n", now_s() - t);
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_RUNNING);

    /* Disk hotplug into a spare PCIe root port. */
    disk_path = g_build_filename(f->root, "extra.raw", NULL);
    assert_true(g_file_set_contents(disk_path, "", 0, NULL));
    assert_int_equal(truncate(disk_path, 1 << 20), 0);
    disk = json_pack("{s:s,s:s,s:s}", "path", disk_path, "format", "raw", "target", "vdb");
    CHECK(hv_attach_disk(f->d, "hvt1", disk, &err_));
    assert_int_equal(hv_detach_disk(f->d, "hvt1", "vdz", &err), -1);
    assert_int_equal(err.code, ERR_NOT_FOUND);

    t = now_s();
    CHECK(hv_suspend(f->d, "hvt1", &err_));
    print_message("suspend (managed save): %.2f s\n", now_s() - t);
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_SAVED);
    assert_true(wait_event(f, "hvt1", HV_STATE_SAVED, 5000));
    assert_true(wait_gone(pid, 5000));
    assert_int_equal(hv_pid(f->d, "hvt1"), 0);

    t = now_s();
    start_domain(f, "hvt1");
    print_message("start from managed save: %.2f s\n", now_s() - t);
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_RUNNING);
    pid = hv_pid(f->d, "hvt1");
    assert_true(pid > 0);
    record_pid(f, pid);

    CHECK(hv_reboot(f->d, "hvt1", false, &err_));
    CHECK(hv_reboot(f->d, "hvt1", true, &err_));
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_RUNNING);
    assert_int_equal(hv_pid(f->d, "hvt1"), pid);

    drain(f);
    CHECK(hv_destroy(f->d, "hvt1", &err_));
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_SHUTOFF);
    assert_true(wait_event(f, "hvt1", HV_STATE_SHUTOFF, 5000));
    assert_true(wait_gone(pid, 5000));
    /* The disk attached live stayed in the definition; detach it there. */
    CHECK(hv_detach_disk(f->d, "hvt1", "vdb", &err_));
    assert_int_equal(hv_detach_disk(f->d, "hvt1", "vdb", &err), -1);
    assert_int_equal(err.code, ERR_NOT_FOUND);

    list = hv_list(f->d, &err);
    assert_non_null(list);
    for (guint i = 0; i < list->len; i++) {
        hv_domain_info_t *di = list->pdata[i];
        if (strcmp(di->name, "hvt1"))
            continue;
        found = true;
        assert_string_equal(di->vm_uid, "uid-hvt1");
        assert_int_equal(di->state, HV_STATE_SHUTOFF);
    }
    assert_true(found);
    g_ptr_array_unref(list);

    /* Adoption: a new driver on the same root finds the running domain. */
    start_domain(f, "hvt1");
    pid = hv_pid(f->d, "hvt1");
    assert_true(pid > 0);
    record_pid(f, pid);
    t = now_s();
    hv_close(f->d);
    f->d = NULL;
    assert_true(pid_alive(pid));
    open_driver(f);
    print_message("close and reopen: %.2f s\n", now_s() - t);
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_RUNNING);
    pid2 = hv_pid(f->d, "hvt1");
    assert_int_equal(pid2, pid);
    CHECK(hv_pause(f->d, "hvt1", &err_)); /* the monitor works after adoption */
    CHECK(hv_resume(f->d, "hvt1", &err_));

    /* Undefine also drops the managed save image.  The domain was defined
     * before this driver opened, and it is known to be persistent: saved,
     * not gone. */
    CHECK(hv_suspend(f->d, "hvt1", &err_));
    assert_true(wait_event(f, "hvt1", HV_STATE_SAVED, 5000));
    assert_false(wait_event(f, "hvt1", HV_STATE_NONE, 500));
    assert_true(wait_gone(pid, 5000));
    save = g_build_filename(f->root, "lib", "qemu", "save", "hvt1.save", NULL);
    assert_true(g_file_test(save, G_FILE_TEST_EXISTS));
    CHECK(hv_undefine(f->d, "hvt1", &err_));
    assert_false(g_file_test(save, G_FILE_TEST_EXISTS));
    assert_int_equal(state_of(f, "hvt1"), HV_STATE_NONE);
    assert_int_equal(hv_start(f->d, "hvt1", &err), -1);
    assert_int_equal(err.code, ERR_NOT_FOUND);
    assert_string_equal(err.msg, "Cannot start domain hvt1: it does not exist.");
    assert_int_equal(hv_undefine(f->d, "hvt1", &err), -1);
    assert_int_equal(err.code, ERR_NOT_FOUND);

    g_free(save);
    g_free(disk_path);
    json_decref(disk);
    json_decref(spec);
}

/* Undefined while running: transient, and gone once it stops. */
static void test_transient(void **state)
{
    fixture_t *f = *state;
    json_t *spec;
    int pid;

    if (!f)
        skip();
    if (!f->d)
        open_driver(f);
    spec = small_spec(f, "hvt2", "6d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "uid-hvt2");
    CHECK(hv_define(f->d, spec, &err_));
    start_domain(f, "hvt2");
    pid = hv_pid(f->d, "hvt2");
    assert_true(pid > 0);
    record_pid(f, pid);
    CHECK(hv_undefine(f->d, "hvt2", &err_));
    assert_int_equal(state_of(f, "hvt2"), HV_STATE_RUNNING);
    drain(f);
    CHECK(hv_destroy(f->d, "hvt2", &err_));
    assert_true(wait_event(f, "hvt2", HV_STATE_NONE, 5000));
    assert_int_equal(state_of(f, "hvt2"), HV_STATE_NONE);
    assert_true(wait_gone(pid, 5000));
    json_decref(spec);
}

/* A start that QEMU itself refuses fails with QEMU's reason, and leaves
 * the domain defined and shut off. */
static void test_start_failure_says_why(void **state)
{
    fixture_t *f = *state;
    json_t *spec;
    err_t err = ERR_INIT;

    if (!f)
        skip();
    if (!f->d)
        open_driver(f);
    spec = small_spec(f, "hvt4", "5d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "uid-hvt4");
    json_object_set_new(spec, "memoryMiB", json_integer(DOMAIN_MAX_MEMORY_MIB));
    CHECK(hv_define(f->d, spec, &err_));
    assert_int_equal(hv_start(f->d, "hvt4", &err), -1);
    print_message("start failure: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "Cannot start domain hvt4: "));
    assert_non_null(strstr(err.msg, "memory"));
    assert_int_equal(state_of(f, "hvt4"), HV_STATE_SHUTOFF);
    CHECK(hv_undefine(f->d, "hvt4", &err_));
    err_clear(&err);
    json_decref(spec);
}

static void test_kvm_probe(void **state)
{
    double t = now_s();
    bool usable = hv_kvm_usable();

    print_message("KVM usable: %s (probe %.2f s)\n", usable ? "yes" : "no", now_s() - t);
    /* The answer is cached. */
    t = now_s();
    assert_int_equal(hv_kvm_usable(), usable);
    assert_true(now_s() - t < 0.1);
}

/* Child modes, each a separate process like a server before and after a
 * restart:
 *   --start ROOT     define and start hvt3 on ROOT, print QEMU's pid, exit
 *                    with the domain running;
 *   --adopt ROOT PID find hvt3 running as PID with its VM uid, check the
 *                    monitor works (pause, resume), then destroy and
 *                    undefine it. */
static int child_main(const char *mode, const char *root, int want_pid)
{
    hv_open_opts_t o = {.root_dir = root, .accel = HV_ACCEL_TCG};
    err_t err = ERR_INIT;
    hv_driver_t *d = hv_open(&hv_libvirt_ops, &o, &err);
    hv_state_t st = HV_STATE_NONE;
    GPtrArray *list = NULL;
    bool uid_ok = false;
    int rc = 1, pid;

    if (!d) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    if (!strcmp(mode, "--start")) {
        json_t *spec = json_pack("{s:s,s:s,s:s,s:i,s:i}", "name", "hvt3", "uuid",
                                 "5d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", "vmUID", "uid-hvt3",
                                 "vcpus", 1, "memoryMiB", 64);
        if (hv_define(d, spec, &err) < 0 || hv_start(d, "hvt3", &err) < 0)
            fprintf(stderr, "%s\n", err.msg);
        else if ((pid = hv_pid(d, "hvt3")) > 0) {
            printf("%d\n", pid);
            rc = 0;
        }
        json_decref(spec);
        goto out;
    }
    if (hv_state(d, "hvt3", &st, &err) < 0)
        fprintf(stderr, "state: %s\n", err.msg);
    list = hv_list(d, &err);
    for (guint i = 0; list && i < list->len; i++) {
        hv_domain_info_t *di = list->pdata[i];
        uid_ok |= !strcmp(di->name, "hvt3") && !g_strcmp0(di->vm_uid, "uid-hvt3") &&
                  di->state == HV_STATE_RUNNING;
    }
    pid = hv_pid(d, "hvt3");
    if (st != HV_STATE_RUNNING || pid != want_pid || !uid_ok) {
        fprintf(stderr, "state %s, pid %d (want %d), listed with uid: %s\n", hv_state_name(st),
                pid, want_pid, uid_ok ? "yes" : "no");
        goto out;
    }
    if (hv_pause(d, "hvt3", &err) < 0 || hv_resume(d, "hvt3", &err) < 0 ||
        hv_destroy(d, "hvt3", &err) < 0 || hv_undefine(d, "hvt3", &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        goto out;
    }
    rc = 0;
out:
    if (list)
        g_ptr_array_unref(list);
    hv_close(d);
    return rc;
}

/* Run this binary in a child mode; its stdout, or fail. */
static char *run_child(const char *mode, const char *root, const char *arg)
{
    char *argv[] = {"/proc/self/exe", (char *)mode, (char *)root, (char *)arg, NULL};
    char *out = NULL, *errout = NULL;
    GError *ge = NULL;
    int status;

    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &errout, &status, &ge))
        fail_msg("cannot run %s: %s", mode, ge->message);
    if (!g_spawn_check_wait_status(status, NULL))
        fail_msg("%s %s failed:\n%s%s", mode, root, out, errout);
    g_free(errout);
    return out;
}

/* A restarted server (a new process on the same root) adopts the domains
 * the old one left running. */
static void test_adoption_across_processes(void **state)
{
    fixture_t *f = *state;
    char *root, *out, pid_text[16];
    double t;
    int pid;

    if (!f)
        skip();
    root = g_build_filename(f->root, "r2", NULL);
    assert_int_equal(g_mkdir(root, 0700), 0);
    t = now_s();
    out = run_child("--start", root, "0");
    pid = atoi(out);
    assert_true(pid > 0);
    record_pid(f, pid);
    /* The process that started it is gone; QEMU is not. */
    assert_true(pid_alive(pid));
    g_free(out);
    snprintf(pid_text, sizeof(pid_text), "%d", pid);
    out = run_child("--adopt", root, pid_text);
    print_message("start in one process, adopt in another: %.2f s\n", now_s() - t);
    assert_true(wait_gone(pid, 5000));
    g_free(out);
    g_free(root);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_define_rich_and_efi),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_transient),
        cmocka_unit_test(test_start_failure_says_why),
        cmocka_unit_test(test_adoption_across_processes),
        cmocka_unit_test(test_kvm_probe),
    };
    if (argc == 4 && (!strcmp(argv[1], "--start") || !strcmp(argv[1], "--adopt")))
        return child_main(argv[1], argv[2], atoi(argv[3]));
    return cmocka_run_group_tests(tests, setup, teardown);
}
