/* disk: see disk.h. */
#include "agent/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <glib.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

#include "agent/qcow2.h"

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

/* The format and virtual size of an overlay's backing file: a qcow2
 * header is read here, anything else is left to qemu-img. */
static int backing_info(const char *path, disk_info_t *out, err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

    if (fd < 0) {
        err_set(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL,
                "Cannot open the backing file %s: %s.", path, strerror(errno));
        return -1;
    }
    rc = qcow2_probe(fd, path, &out->virtual_size, err);
    close(fd);
    if (rc == 0)
        return disk_info(path, out, err);
    if (rc < 0)
        return -1;
    g_strlcpy(out->format, "qcow2", sizeof(out->format));
    return 0;
}

/* A thin overlay, written here: made on a temporary name, flushed and
 * renamed, like every disk. */
static int overlay_write(const char *path, const char *backing, const char *fmt, int64_t size,
                         err_t *err)
{
    char *tmp = g_strconcat(path, ".tmp", NULL);
    char *abs = g_canonicalize_filename(backing, NULL);
    int fd, rc = -1;

    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_set(err, ERR_INTERNAL, "Cannot create %s: %s.", tmp, strerror(errno));
        goto out;
    }
    if (qcow2_overlay_write(fd, path, abs, fmt, size, err) < 0)
        goto out;
    /* Flushed before the rename: a crash never leaves an empty disk under
     * the final name, which would be taken for a made one. */
    if (fdatasync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        err_set(err, ERR_INTERNAL, "Cannot write %s: %s.", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot rename %s: %s", tmp, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    g_free(abs);
    g_free(tmp);
    return rc;
}

int disk_overlay_create(const char *path, const char *backing, int64_t size, bool thick,
                        err_t *err)
{
    disk_info_t bi;

    if (g_file_test(path, G_FILE_TEST_EXISTS))
        return 0;
    if (backing_info(backing, &bi, err) < 0)
        return -1;
    if (size == 0)
        size = bi.virtual_size;
    if (size < bi.virtual_size) {
        err_set(err, ERR_INVALID,
                "The requested boot disk size (%lld bytes) is smaller than the image (%lld bytes).",
                (long long)size, (long long)bi.virtual_size);
        return -1;
    }
    if (!thick)
        return overlay_write(path, backing, bi.format, size, err);
    /* Preallocation (and the extended L2 entries that make it cheap) is
     * qemu-img's work. */
    const char *opts[] = {"-f", "qcow2", "-F", bi.format, "-b", backing, "-o",
                          "preallocation=falloc,extended_l2=on,cluster_size=128k", NULL};
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

json_t *disk_inspect(const char *path, const char *format, err_t *err)
{
    char *argv[] = {QEMU_IMG, "info", "--output=json", "-U", "-f", (char *)format,
                    (char *)path, NULL};
    char *text = NULL;
    json_t *j;

    if (!format) {
        argv[4] = (char *)path;
        argv[5] = NULL;
    }
    if (run_qemu_img(argv, &text, err) < 0)
        return NULL;
    j = json_loads(text, 0, NULL);
    g_free(text);
    if (!json_is_object(j) || !json_string_value(json_object_get(j, "format"))) {
        json_decref(j);
        err_set(err, ERR_INVALID, "qemu-img could not tell the format of %s.", path);
        return NULL;
    }
    return j;
}

int disk_check(const char *path, err_t *err)
{
    char *argv[] = {QEMU_IMG, "check", "-q", "-f", "qcow2", (char *)path, NULL};
    return run_qemu_img(argv, NULL, err);
}

int disk_convert(const char *src, const char *format, const char *dst, disk_progress_fn fn,
                 void *ctx, err_t *err)
{
    char *argv[] = {QEMU_IMG, "convert", "-p", "-f", (char *)format, "-O", "qcow2",
                    "-o", "cluster_size=64k", (char *)src, (char *)dst, NULL};
    GError *gerr = NULL;
    GPid pid;
    int out_fd = -1, err_fd = -1, status = 0;
    GString *errs = g_string_new(NULL), *line = g_string_new(NULL);
    bool stopped = false;
    char buf[4096];
    ssize_t n;

    if (!g_spawn_async_with_pipes(NULL, argv, NULL,
                                  G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                  &pid, NULL, &out_fd, &err_fd, &gerr)) {
        err_set(err, ERR_INTERNAL, "Cannot run qemu-img: %s", gerr->message);
        g_error_free(gerr);
        g_string_free(errs, TRUE);
        g_string_free(line, TRUE);
        return -1;
    }
    /* "-p" prints "    (12.34/100%)\r" as it goes. */
    while ((n = read(out_fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\r' || buf[i] == '\n') {
                const char *open = strchr(line->str, '(');
                if (open && fn && !stopped && !fn(ctx, g_ascii_strtod(open + 1, NULL))) {
                    stopped = true;
                    kill(pid, SIGTERM);
                }
                g_string_truncate(line, 0);
            } else if (line->len < 256) {
                g_string_append_c(line, buf[i]);
            }
        }
    }
    while ((n = read(err_fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && errs->len < 4096)
            g_string_append_len(errs, buf, n);
    close(out_fd);
    close(err_fd);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    g_spawn_close_pid(pid);
    g_string_free(line, TRUE);
    if (stopped) {
        err_set(err, ERR_TIMEOUT, "The conversion of %s was stopped.", src);
        g_string_free(errs, TRUE);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_strstrip(errs->str);
        err_set(err, ERR_INTERNAL, "qemu-img convert failed: %.800s", errs->str);
        g_string_free(errs, TRUE);
        return -1;
    }
    g_string_free(errs, TRUE);
    return 0;
}

int disk_sync(const char *path, err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot flush %s to disk: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

/* Copy a file whole to `dst` through a temporary name. */
static int copy_whole(const char *src, const char *dst, err_t *err)
{
    char *tmp = g_strconcat(dst, ".tmp", NULL);
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    struct stat sb;

    unlink(tmp);
    if (in < 0 || fstat(in, &sb) < 0 ||
        (out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        goto fail;
    for (off_t left = sb.st_size; left > 0;) {
        ssize_t c = copy_file_range(in, NULL, out, NULL, (size_t)MIN(left, 1 << 30), 0);
        if (c < 0 && errno == EINTR)
            continue;
        if (c <= 0)
            goto fail;
        left -= c;
    }
    if (fsync(out) < 0 || rename(tmp, dst) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    err_set(err, ERR_INTERNAL, "Cannot copy %s to %s: %s", src, dst, strerror(errno));
    unlink(tmp);
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    g_free(tmp);
    return rc;
}

int disk_link_base(const char *image, const char *lpath, const char *cache_dir, const char *key,
                   err_t *err)
{
    char *cached = NULL;
    int rc = -1;

    if (g_file_test(lpath, G_FILE_TEST_EXISTS))
        return 0;
    if (link(image, lpath) == 0)
        return 0;
    if (errno != EXDEV) {
        err_set(err, ERR_INTERNAL, "Cannot link %s to %s: %s", lpath, image, strerror(errno));
        return -1;
    }
    /* Another file system: one copy per host, shared by its VMs. */
    cached = g_build_filename(cache_dir, key, NULL);
    if (g_mkdir_with_parents(cache_dir, 0700) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot make %s: %s", cache_dir, strerror(errno));
        goto out;
    }
    if (!g_file_test(cached, G_FILE_TEST_EXISTS) && copy_whole(image, cached, err) < 0)
        goto out;
    if (link(cached, lpath) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot link %s to %s: %s", lpath, cached, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    g_free(cached);
    return rc;
}
