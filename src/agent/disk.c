/* disk: see disk.h. */
#include "agent/disk.h"

#include <errno.h>
#include <glib.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#define QEMU_IMG "qemu-img"

/* Run qemu-img; on failure report its stderr (trimmed) in err. */
static int run_qemu_img(char **argv, char **out, err_t *err)
{
    GError *gerr = NULL;
    char *sout = NULL, *serr = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &sout, &serr, &status,
                      &gerr)) {
        err_set(err, ERR_INTERNAL, "Cannot run qemu-img: %s", gerr->message);
        g_error_free(gerr);
        return -1;
    }
    if (!g_spawn_check_wait_status(status, NULL)) {
        g_strstrip(serr);
        err_set(err, ERR_INTERNAL, "qemu-img %s failed: %.800s", argv[1], serr);
        g_free(sout);
        g_free(serr);
        return -1;
    }
    g_free(serr);
    if (out)
        *out = sout;
    else
        g_free(sout);
    return 0;
}

/* Run `qemu-img create OPTIONS... TMP SIZE` (`opts` is NULL-terminated) on a
 * temporary name, then rename it to `path`. */
static int create_atomic(const char *const *opts, const char *path, int64_t size, err_t *err)
{
    char *tmp = g_strconcat(path, ".tmp", NULL), sizebuf[32];
    GPtrArray *argv = g_ptr_array_new();
    int rc;

    unlink(tmp);
    snprintf(sizebuf, sizeof(sizebuf), "%lld", (long long)size);
    g_ptr_array_add(argv, QEMU_IMG);
    g_ptr_array_add(argv, "create");
    g_ptr_array_add(argv, "-q");
    for (const char *const *o = opts; *o; o++)
        g_ptr_array_add(argv, (char *)*o);
    g_ptr_array_add(argv, tmp);
    g_ptr_array_add(argv, sizebuf);
    g_ptr_array_add(argv, NULL);
    rc = run_qemu_img((char **)argv->pdata, NULL, err);
    g_ptr_array_unref(argv);
    if (rc == 0 && rename(tmp, path) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot rename %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        unlink(tmp);
    g_free(tmp);
    return rc;
}

int disk_info(const char *path, disk_info_t *out, err_t *err)
{
    char *argv[] = {QEMU_IMG, "info", "--output=json", "-U", (char *)path, NULL};
    char *text = NULL;
    json_t *j;
    const char *fmt;

    if (run_qemu_img(argv, &text, err) < 0)
        return -1;
    j = json_loads(text, 0, NULL);
    g_free(text);
    fmt = json_string_value(json_object_get(j, "format"));
    if (!fmt || !json_is_integer(json_object_get(j, "virtual-size"))) {
        json_decref(j);
        err_set(err, ERR_INTERNAL, "qemu-img could not tell the format and size of %s.", path);
        return -1;
    }
    g_strlcpy(out->format, fmt, sizeof(out->format));
    out->virtual_size = json_integer_value(json_object_get(j, "virtual-size"));
    json_decref(j);
    return 0;
}

int disk_overlay_create(const char *path, const char *backing, int64_t size, bool thick,
                        err_t *err)
{
    disk_info_t bi;

    if (g_file_test(path, G_FILE_TEST_EXISTS))
        return 0;
    if (disk_info(backing, &bi, err) < 0)
        return -1;
    if (size == 0)
        size = bi.virtual_size;
    if (size < bi.virtual_size) {
        err_set(err, ERR_INVALID,
                "The requested boot disk size (%lld bytes) is smaller than the image (%lld bytes).",
                (long long)size, (long long)bi.virtual_size);
        return -1;
    }
    const char *opts[] = {"-f", "qcow2", "-F", bi.format, "-b", backing, "-o",
                          thick ? "preallocation=falloc,extended_l2=on,cluster_size=128k"
                                : "cluster_size=64k",
                          NULL};
    return create_atomic(opts, path, size, err);
}

int disk_create(const char *path, int64_t size, bool thick, err_t *err)
{
    if (g_file_test(path, G_FILE_TEST_EXISTS))
        return 0;
    if (size <= 0) {
        err_set(err, ERR_INVALID, "A disk needs a size above zero.");
        return -1;
    }
    const char *opts[] = {"-f", "qcow2", "-o", thick ? "preallocation=falloc" : "preallocation=off",
                          NULL};
    return create_atomic(opts, path, size, err);
}

int disk_remove(const char *path, err_t *err)
{
    if (unlink(path) < 0 && errno != ENOENT) {
        err_set(err, ERR_INTERNAL, "Cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
