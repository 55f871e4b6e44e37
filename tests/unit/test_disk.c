/* Unit tests for agent/disk.c: overlays and blank disks through qemu-img. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/disk.h"

static char *dir;

static int setup(void **state)
{
    char *qemu_img = g_find_program_in_path("qemu-img");
    if (!qemu_img)
        return 0;
    g_free(qemu_img);
    dir = g_dir_make_tmp("vmsvc-disk-XXXXXX", NULL);
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    if (dir) {
        GDir *d = g_dir_open(dir, 0, NULL);
        const char *n;
        while (d && (n = g_dir_read_name(d))) {
            char *p = g_build_filename(dir, n, NULL);
            g_unlink(p);
            g_free(p);
        }
        if (d)
            g_dir_close(d);
        g_rmdir(dir);
        g_free(dir);
    }
    return 0;
}

static char *path(const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static void test_blank_and_overlay(void **state)
{
    err_t err = ERR_INIT;
    disk_info_t info;
    char *base = path("base.qcow2"), *ov = path("ov.qcow2"), *thick = path("thick.qcow2");

    if (!dir)
        skip();
    assert_int_equal(disk_create(base, 64 << 20, false, &err), 0);
    assert_int_equal(disk_info(base, &info, &err), 0);
    assert_string_equal(info.format, "qcow2");
    assert_int_equal(info.virtual_size, 64 << 20);
    /* An overlay takes the base's size unless asked for more. */
    assert_int_equal(disk_overlay_create(ov, base, 0, false, &err), 0);
    assert_int_equal(disk_info(ov, &info, &err), 0);
    assert_int_equal(info.virtual_size, 64 << 20);
    /* Made once: a second call keeps the file. */
    assert_int_equal(disk_overlay_create(ov, base, 128 << 20, false, &err), 0);
    assert_int_equal(disk_info(ov, &info, &err), 0);
    assert_int_equal(info.virtual_size, 64 << 20);
    assert_int_equal(disk_overlay_create(thick, base, 128 << 20, true, &err), 0);
    assert_int_equal(disk_info(thick, &info, &err), 0);
    assert_int_equal(info.virtual_size, 128 << 20);
    /* No temporary file is left behind. */
    char *tmp = g_strconcat(thick, ".tmp", NULL);
    assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
    g_free(tmp);
    assert_int_equal(disk_remove(thick, &err), 0);
    assert_int_equal(disk_remove(thick, &err), 0); /* already gone is fine */
    g_free(base);
    g_free(ov);
    g_free(thick);
}

static void test_errors(void **state)
{
    err_t err = ERR_INIT;
    char *base = path("small.qcow2"), *ov = path("bad.qcow2"), *missing = path("missing.img");

    if (!dir)
        skip();
    assert_int_equal(disk_create(base, 32 << 20, false, &err), 0);
    /* Smaller than the image: refused, nothing made. */
    assert_int_equal(disk_overlay_create(ov, base, 1 << 20, false, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    assert_false(g_file_test(ov, G_FILE_TEST_EXISTS));
    err_clear(&err);
    assert_int_equal(disk_overlay_create(ov, missing, 0, false, &err), -1);
    assert_non_null(strstr(err.msg, "qemu-img"));
    assert_false(g_file_test(ov, G_FILE_TEST_EXISTS));
    err_clear(&err);
    assert_int_equal(disk_create(ov, 0, false, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    err_clear(&err);
    g_free(base);
    g_free(ov);
    g_free(missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blank_and_overlay),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
