/* Unit tests for agent/disk.c and agent/qcow2.c: overlays and blank disks,
 * each checked by qemu-img itself (check, info) and written through qemu-io. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/disk.h"
#include "agent/qcow2.h"
#include "util/jsonutil.h"

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

/* Run a command; its stdout (g_free) in *out when out is not NULL. */
static int run(char **argv, char **out)
{
    int status = 0;
    char *sout = NULL, *serr = NULL;
    gboolean ok = g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &sout, &serr,
                               &status, NULL);
    if (ok && !g_spawn_check_wait_status(status, NULL))
        print_error("%s %s failed: %s%s\n", argv[0], argv[1], sout, serr);
    g_free(serr);
    if (out)
        *out = sout;
    else
        g_free(sout);
    return ok && g_spawn_check_wait_status(status, NULL) ? 0 : -1;
}

/* `qemu-img info` of a file, probed as qemu-img would, as JSON. */
static json_t *img_info(const char *file)
{
    char *argv[] = {"qemu-img", "info", "--output=json", (char *)file, NULL};
    char *text = NULL;
    json_t *j;

    assert_int_equal(run(argv, &text), 0);
    j = json_loads(text, 0, NULL);
    g_free(text);
    assert_non_null(j);
    return j;
}

static void img_check(const char *file)
{
    char *argv[] = {"qemu-img", "check", "-f", "qcow2", (char *)file, NULL};
    assert_int_equal(run(argv, NULL), 0);
}

/* qemu-io commands on an image (probed; its backing file opened too). */
static int qemu_io(const char *file, const char *cmd)
{
    char *argv[] = {"qemu-io", "-c", (char *)cmd, (char *)file, NULL};
    return run(argv, NULL);
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
    assert_non_null(strstr(err.msg, missing));
    assert_false(g_file_test(ov, G_FILE_TEST_EXISTS));
    err_clear(&err);
    assert_int_equal(disk_create(ov, 0, false, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    err_clear(&err);
    g_free(base);
    g_free(ov);
    g_free(missing);
}

/* A thin overlay is written here, not by qemu-img: qemu-img must find it
 * consistent, with the backing file, its format and the size asked for,
 * and QEMU must read the image through it and write to it. */
static void test_overlay_is_qcow2(void **state)
{
    err_t err = ERR_INIT;
    char *base = path("img.qcow2"), *ov = path("thin.qcow2"), *big = path("big.qcow2");
    char *odd = path("odd.qcow2"), *huge = path("huge.qcow2");
    json_t *j;

    if (!dir)
        skip();
    assert_int_equal(disk_create(base, 32 << 20, false, &err), 0);
    assert_int_equal(qemu_io(base, "write -P 0xab 0 1M"), 0);

    assert_int_equal(disk_overlay_create(ov, base, 0, false, &err), 0);
    img_check(ov);
    j = img_info(ov);
    assert_string_equal(json_string_value(json_object_get(j, "format")), "qcow2");
    assert_int_equal(json_integer_value(json_object_get(j, "virtual-size")), 32 << 20);
    assert_string_equal(json_string_value(json_object_get(j, "backing-filename")), base);
    assert_string_equal(json_string_value(json_object_get(j, "backing-filename-format")),
                        "qcow2");
    assert_int_equal(json_integer_value(json_object_get(j, "cluster-size")), 65536);
    assert_string_equal(json_string_value(json_path_get(j, "format-specific.data.compat")),
                        "1.1");
    json_decref(j);
    /* The image's data shows through; writes land in the overlay and leave
     * it consistent (refcounts of the clusters it allocates). */
    assert_int_equal(qemu_io(ov, "read -P 0xab 0 1M"), 0);
    assert_int_equal(qemu_io(ov, "write -P 0xcd 512k 1M"), 0);
    assert_int_equal(qemu_io(ov, "read -P 0xcd 512k 1M"), 0);
    assert_int_equal(qemu_io(ov, "read -P 0xab 0 512k"), 0);
    assert_int_equal(qemu_io(base, "read -P 0 1M 1M"), 0);
    img_check(ov);

    /* Grown: bootDiskCapacity above the image's size. */
    assert_int_equal(disk_overlay_create(big, base, 3LL << 30, false, &err), 0);
    img_check(big);
    j = img_info(big);
    assert_int_equal(json_integer_value(json_object_get(j, "virtual-size")), 3LL << 30);
    json_decref(j);
    assert_int_equal(qemu_io(big, "write -P 0x11 2G 64k"), 0);
    assert_int_equal(qemu_io(big, "read -P 0x11 2G 64k"), 0);
    img_check(big);

    /* Sizes round up to 512 bytes, as qemu-img rounds them. */
    assert_int_equal(disk_overlay_create(odd, base, (32 << 20) + 1, false, &err), 0);
    img_check(odd);
    j = img_info(odd);
    assert_int_equal(json_integer_value(json_object_get(j, "virtual-size")), (32 << 20) + 512);
    json_decref(j);

    /* An L1 table over more than one cluster (8 TiB: 16384 entries). */
    assert_int_equal(disk_overlay_create(huge, base, 8LL << 40, false, &err), 0);
    img_check(huge);
    j = img_info(huge);
    assert_int_equal(json_integer_value(json_object_get(j, "virtual-size")), 8LL << 40);
    json_decref(j);
    assert_int_equal(qemu_io(huge, "write -P 0x22 7T 64k"), 0);
    img_check(huge);

    g_free(base);
    g_free(ov);
    g_free(big);
    g_free(odd);
    g_free(huge);
}

/* On an image that is not qcow2, qemu-img tells the format. */
static void test_overlay_on_raw(void **state)
{
    err_t err = ERR_INIT;
    char *base = path("img.raw"), *ov = path("on-raw.qcow2");
    json_t *j;
    FILE *f;

    if (!dir)
        skip();
    f = fopen(base, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 16 << 20), 0);
    fclose(f);
    assert_int_equal(disk_overlay_create(ov, base, 0, false, &err), 0);
    img_check(ov);
    j = img_info(ov);
    assert_int_equal(json_integer_value(json_object_get(j, "virtual-size")), 16 << 20);
    assert_string_equal(json_string_value(json_object_get(j, "backing-filename-format")), "raw");
    json_decref(j);
    assert_int_equal(qemu_io(ov, "write -P 0x33 0 64k"), 0);
    img_check(ov);
    g_free(base);
    g_free(ov);
}

/* A file that starts like qcow2 but is cut short is refused, not guessed at. */
static void test_probe(void **state)
{
    err_t err = ERR_INIT;
    char *p = path("short.qcow2");
    int64_t size = 0;
    int fd;

    if (!dir)
        skip();
    assert_true(g_file_set_contents(p, "QFI\xfb\0\0\0\3", 8, NULL));
    fd = open(p, O_RDONLY);
    assert_int_equal(qcow2_probe(fd, p, &size, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    err_clear(&err);
    close(fd);
    assert_true(g_file_set_contents(p, "not an image", -1, NULL));
    fd = open(p, O_RDONLY);
    assert_int_equal(qcow2_probe(fd, p, &size, &err), 0);
    close(fd);
    g_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blank_and_overlay),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_overlay_is_qcow2),
        cmocka_unit_test(test_overlay_on_raw),
        cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
