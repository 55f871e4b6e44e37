/* fs: see fs.h. */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir_of(const char *path)
{
    char *dir = g_path_get_dirname(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = -1;
    g_free(dir);
    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    return rc;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, err_t *err)
{
    char *tmp = g_strdup_printf("%s.tmp.%d", path, (int)getpid());
    const char *p = data;
    size_t left = len;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

    if (fd < 0)
        goto fail;
    /* open() honours the umask; the mode asked for is the mode meant. */
    if (fchmod(fd, mode) < 0)
        goto fail;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0)
        goto fail;
    fsync_dir_of(path);
    g_free(tmp);
    return 0;

fail:
    err_set(err, ERR_INTERNAL, "Cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    g_free(tmp);
    return -1;
}

char *fs_read_all(const char *path, size_t max, size_t *len, err_t *err)
{
    GError *gerr = NULL;
    char *text = NULL;
    gsize n = 0;
    struct stat stb;

    if (stat(path, &stb) < 0) {
        err_set(err, errno == ENOENT ? ERR_NOT_FOUND : ERR_INTERNAL, "Cannot read %s: %s",
                path, strerror(errno));
        return NULL;
    }
    if ((size_t)stb.st_size > max) {
        err_set(err, ERR_INTERNAL, "%s is larger than %zu bytes.", path, max);
        return NULL;
    }
    if (!g_file_get_contents(path, &text, &n, &gerr)) {
        err_set(err, ERR_INTERNAL, "Cannot read %s: %s", path, gerr->message);
        g_error_free(gerr);
        return NULL;
    }
    if (len)
        *len = n;
    return text;
}

/* Write all of buf at `off`, or at the file position when `off` < 0. */
static int write_full_at(int fd, const char *p, size_t n, off_t off)
{
    while (n > 0) {
        ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
        if (off >= 0)
            off += w;
    }
    return 0;
}

int fs_write_full(int fd, const void *buf, size_t n)
{
    return write_full_at(fd, buf, n, -1);
}

int fs_pwrite_full(int fd, const void *buf, size_t n, off_t off)
{
    if (off < 0) { /* as pwrite says it */
        errno = EINVAL;
        return -1;
    }
    return write_full_at(fd, buf, n, off);
}

char *fs_read_tail(const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    off_t size, from;
    char *buf;
    ssize_t n;

    if (fd < 0)
        return NULL;
    size = lseek(fd, 0, SEEK_END);
    if (size < 0) {
        close(fd);
        return NULL;
    }
    from = (size_t)size > max ? size - (off_t)max : 0;
    buf = g_malloc((size_t)(size - from) + 1);
    do
        n = pread(fd, buf, (size_t)(size - from), from);
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0) {
        g_free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int fs_mkdir_p(const char *dir, mode_t mode, err_t *err)
{
    if (g_mkdir_with_parents(dir, (int)mode) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot create the directory %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}
