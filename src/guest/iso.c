/*
 * iso: seed files to an ISO 9660 image, the one part of guest/ that does
 * I/O (see seed.h).
 *
 * The image is built in memory by libisofs with Rock Ridge (what Linux and
 * cloud-init read: real names like "user-data") and Joliet (what Windows
 * reads), all files in the root directory, mode 0444 and owned by root.
 * The volume id is written as given, lowercase included, in the primary
 * and the Joliet descriptor alike.
 * libisofs produces the image in 2 KiB blocks from its own writer thread;
 * they go to a temporary file in the target's directory, which is fsync'd
 * and renamed over the target, and the directory fsync'd, so a reader sees
 * the old image or the new one, never part of one.  The image holds
 * secrets (passwords, keys): it is created mode 0600.
 *
 * libisofs is initialised once per process, without letting it set the
 * process's locale; file names are taken as UTF-8.  Its objects share
 * process-wide state without locks (the local filesystem every image
 * holds is one object with a plain reference count), so one image is made
 * at a time, into memory (a seed is tens of kilobytes); writing it out,
 * fsync and rename run outside that lock, so agents making many VMs at
 * once queue for the lock only as long as libisofs works.
 */
#include "guest/seed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h> /* libisofs.h uses uint32_t without including it */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs.h>

#include "util/fs.h"

#define ISO_BLOCK 2048
#define ISO_VOLUME_ID_MAX 32

static bool seed_iso_init(void)
{
    static gsize state; /* 0 not yet, 1 ready, 2 failed */

    if (g_once_init_enter(&state)) {
        /* bit0: leave the process's locale alone. */
        int rc = iso_init_with_flag(1);
        if (rc >= 0)
            rc = iso_set_local_charset("UTF-8", 0);
        g_once_init_leave(&state, rc >= 0 ? 1 : 2);
    }
    return state == 1;
}

static bool seed_iso_label_ok(const char *label)
{
    size_t n = label ? strlen(label) : 0;

    if (n == 0 || n > ISO_VOLUME_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (label[i] < 0x20 || label[i] > 0x7e)
            return false;
    }
    return true;
}

static bool seed_iso_name_ok(const char *name)
{
    return name && *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..") &&
           g_utf8_validate(name, -1, NULL);
}

/* Add the files to the root of `image`. */
static int seed_iso_add_files(IsoImage *image, GPtrArray *files, const char *path, err_t *err)
{
    IsoDir *root = iso_image_get_root(image);

    for (guint i = 0; i < files->len; i++) {
        const seed_file_t *f = g_ptr_array_index(files, i);
        gsize size;
        const void *data = g_bytes_get_data(f->data, &size);
        /* The stream frees its buffer with free(). */
        unsigned char *buf = malloc(size ? size : 1);
        IsoStream *stream = NULL;
        IsoFile *file = NULL;
        int rc;

        if (!buf)
            abort();
        if (!seed_iso_name_ok(f->name)) {
            free(buf);
            err_set(err, ERR_INTERNAL, "Cannot write %s: \"%s\" is not a file name.", path,
                    f->name ? f->name : "");
            return -1;
        }
        if (size)
            memcpy(buf, data, size);
        rc = iso_memory_stream_new(buf, size, &stream);
        if (rc < 0) {
            free(buf);
            err_set(err, ERR_INTERNAL, "Cannot write %s: %s.", path, iso_error_to_msg(rc));
            return -1;
        }
        /* The new file takes the stream's reference. */
        rc = iso_tree_add_new_file(root, f->name, stream, &file);
        if (rc < 0) {
            iso_stream_unref(stream);
            err_set(err, ERR_INTERNAL, "Cannot write %s: %s (%s).", path, iso_error_to_msg(rc),
                    f->name);
            return -1;
        }
        iso_node_set_permissions((IsoNode *)file, 0444);
        iso_node_set_uid((IsoNode *)file, 0);
        iso_node_set_gid((IsoNode *)file, 0);
    }
    return 0;
}

static void seed_iso_fsync_dir(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

G_LOCK_DEFINE_STATIC(libisofs);

/* Make the image into `out`; under the libisofs lock. */
static int seed_iso_make(GByteArray *out, const char *path, const char *label, GPtrArray *files,
                         err_t *err)
{
    IsoImage *image = NULL;
    IsoWriteOpts *opts = NULL;
    struct burn_source *src = NULL;
    unsigned char block[ISO_BLOCK];
    int rc, ret = -1;

    if ((rc = iso_image_new(label, &image)) < 0 || (rc = iso_write_opts_new(&opts, 0)) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot write %s: %s.", path, iso_error_to_msg(rc));
        goto cleanup;
    }
    if (seed_iso_add_files(image, files, path, err) < 0)
        goto cleanup;
    iso_write_opts_set_iso_level(opts, 2);
    /* The volume id as given ("cidata", as genisoimage -V writes it), not
     * mapped to ISO 9660 d-characters ("CIDATA"). */
    iso_write_opts_set_relaxed_vol_atts(opts, 1);
    iso_write_opts_set_rockridge(opts, 1);
    iso_write_opts_set_joliet(opts, 1);
    /* Joliet names as given ("user-data;1"), without the dot that ISO 9660
     * names need before their version ("user-data.;1"), as genisoimage. */
    iso_write_opts_set_no_force_dots(opts, 2);
    if ((rc = iso_image_create_burn_source(image, opts, &src)) < 0) {
        src = NULL;
        err_set(err, ERR_INTERNAL, "Cannot write %s: %s.", path, iso_error_to_msg(rc));
        goto cleanup;
    }
    for (;;) {
        int n = src->read_xt(src, block, ISO_BLOCK);
        if (n == 0)
            break;
        if (n < 0) {
            err_set(err, ERR_INTERNAL, "Cannot write %s: libisofs failed to produce the image.",
                    path);
            goto cleanup;
        }
        g_byte_array_append(out, block, (guint)n);
    }
    ret = 0;

cleanup:
    if (src) {
        if (ret < 0)
            src->cancel(src);
        src->free_data(src);
        free(src);
    }
    if (opts)
        iso_write_opts_free(opts);
    if (image)
        iso_image_unref(image);
    return ret;
}

int seed_iso_write(const char *path, const char *label, GPtrArray *files, err_t *err)
{
    GByteArray *image = NULL;
    char *tmp = NULL;
    int fd = -1, rc, ret = -1;

    if (!seed_iso_label_ok(label)) {
        err_set(err, ERR_INTERNAL, "Cannot write %s: the volume id must be 1 to %d printable "
                "ASCII characters.", path, ISO_VOLUME_ID_MAX);
        return -1;
    }
    if (!seed_iso_init()) {
        err_set(err, ERR_INTERNAL, "Cannot write %s: libisofs does not initialise.", path);
        return -1;
    }
    tmp = g_strdup_printf("%s.tmp.XXXXXX", path);
    fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        err_set(err, ERR_INTERNAL, "Cannot write %s: %s.", path, strerror(errno));
        g_free(tmp);
        tmp = NULL;
        goto cleanup;
    }
    image = g_byte_array_new();
    G_LOCK(libisofs);
    rc = seed_iso_make(image, path, label, files, err);
    G_UNLOCK(libisofs);
    if (rc < 0)
        goto cleanup;
    if (fs_write_full(fd, image->data, image->len) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot write %s: %s.", path, strerror(errno));
        goto cleanup;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        err_set(err, ERR_INTERNAL, "Cannot write %s: %s.", path, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot write %s: %s.", path, strerror(errno));
        goto cleanup;
    }
    g_free(tmp);
    tmp = NULL;
    seed_iso_fsync_dir(path);
    ret = 0;

cleanup:
    if (image)
        g_byte_array_unref(image);
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        g_free(tmp);
    }
    return ret;
}
