/*
 * Unit tests for util/fs: atomic writes, bounded whole reads and the tail of
 * a file that may be much larger than what is wanted of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"

typedef struct {
    char *dir;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = g_new0(fixture_t, 1);
    f->dir = g_dir_make_tmp("vmsvc-fs-XXXXXX", NULL);
    assert_non_null(f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    GDir *d = g_dir_open(f->dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        char *p = g_build_filename(f->dir, n, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static void test_write_and_read(void **state)
{
    fixture_t *f = *state;
    char *path = g_build_filename(f->dir, "a", NULL), *text;
    err_t err = ERR_INIT;
    size_t len = 0;

    assert_int_equal(fs_write_atomic(path, "hello", 5, 0600, &err), 0);
    text = fs_read_all(path, 5, &len, &err);
    assert_non_null(text);
    assert_int_equal(len, 5);
    assert_string_equal(text, "hello");
    g_free(text);
    /* Larger than allowed: refused, with the path in the message. */
    assert_null(fs_read_all(path, 4, NULL, &err));
    assert_non_null(strstr(err.msg, path));
    err_clear(&err);
    g_free(path);
}

static void test_read_tail(void **state)
{
    fixture_t *f = *state;
    char *path = g_build_filename(f->dir, "log", NULL), *text;
    GString *big = g_string_new(NULL);
    err_t err = ERR_INIT;

    /* Smaller than the bound: all of it. */
    assert_int_equal(fs_write_atomic(path, "one\ntwo\n", 8, 0600, &err), 0);
    text = fs_read_tail(path, 1024);
    assert_string_equal(text, "one\ntwo\n");
    g_free(text);
    /* Larger: exactly the last `max` bytes. */
    for (int i = 0; i < 10000; i++)
        g_string_append_printf(big, "line %05d\n", i);
    assert_int_equal(fs_write_atomic(path, big->str, big->len, 0600, &err), 0);
    text = fs_read_tail(path, 22);
    assert_string_equal(text, "line 09998\nline 09999\n");
    g_free(text);
    /* Empty, and missing. */
    assert_int_equal(fs_write_atomic(path, "", 0, 0600, &err), 0);
    text = fs_read_tail(path, 16);
    assert_string_equal(text, "");
    g_free(text);
    g_unlink(path);
    assert_null(fs_read_tail(path, 16));
    g_string_free(big, TRUE);
    g_free(path);
}

static void test_write_full(void **state)
{
    fixture_t *f = *state;
    char *path = g_build_filename(f->dir, "w", NULL), *text = NULL;
    GString *big = g_string_new(NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    gsize len = 0;

    assert_true(fd >= 0);
    for (int i = 0; i < 100000; i++)
        g_string_append_printf(big, "%08d", i);
    assert_int_equal(fs_write_full(fd, big->str, big->len), 0);
    assert_int_equal(fs_pwrite_full(fd, "XYZ", 3, 8), 0);
    close(fd);
    assert_true(g_file_get_contents(path, &text, &len, NULL));
    assert_int_equal(len, big->len);
    assert_memory_equal(text, "00000000XYZ00001", 16);
    assert_memory_equal(text + 16, big->str + 16, len - 16);
    /* A closed descriptor: -1 and errno. */
    assert_int_equal(fs_write_full(fd, "a", 1), -1);
    assert_int_equal(errno, EBADF);
    g_free(text);
    g_string_free(big, TRUE);
    g_free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
