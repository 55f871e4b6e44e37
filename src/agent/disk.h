/*
 * disk: VM disks in storage pools, made with qemu-img (Debian qemu-utils).
 *
 * A storage pool is a directory per StorageClass.  A VM's boot disk is a
 * qcow2 overlay whose backing file is the image: made in constant time
 * whatever the image size, and only the blocks the guest writes take room.
 * A thin overlay on a qcow2 image is written in-process (qcow2.h): it is
 * made for every VM, and a qemu-img process costs far more than the few
 * kilobytes it writes.  With thick provisioning the overlay's room is
 * allocated up front by qemu-img (preallocation=falloc).  Files are made
 * under a temporary name and renamed, so a crash never leaves a half-made
 * disk under the final name.
 */
#ifndef VMSVC_DISK_H
#define VMSVC_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "util/err.h"

typedef struct disk_info {
    char format[16];        /* "qcow2", "raw", ... */
    int64_t virtual_size;   /* bytes */
} disk_info_t;

/* What qemu-img says about an image file. */
int disk_info(const char *path, disk_info_t *out, err_t *err);

/* Make `path` (unless it exists) as an overlay on `backing`, `size` bytes
 * (0: the backing file's size; smaller than it is an error). */
int disk_overlay_create(const char *path, const char *backing, int64_t size, bool thick,
                        err_t *err);

/* Make an empty qcow2 disk of `size` bytes at `path` (unless it exists). */
int disk_create(const char *path, int64_t size, bool thick, err_t *err);

/* What `qemu-img info` says about a file (a new JSON object); the format is
 * probed unless `format` is given. */
json_t *disk_inspect(const char *path, const char *format, err_t *err);

/* Whether a qcow2 file's metadata is consistent (qemu-img check). */
int disk_check(const char *path, err_t *err);

/* Progress of a long qemu-img run: percent done; return false to stop it. */
typedef bool (*disk_progress_fn)(void *ctx, double percent);

/* Convert `src` (of format `format`) to a standalone qcow2 at `dst`, whose
 * backing chain, if any, is flattened into it.  `fn` (may be NULL) hears the
 * progress.  `dst` is left behind on failure for the caller to remove. */
int disk_convert(const char *src, const char *format, const char *dst, disk_progress_fn fn,
                 void *ctx, err_t *err);

/* Give a VM its own name for an image file: a hard link `link` to `image`,
 * so that the image's data stays while the VM's overlay needs it, whatever
 * happens to the library.  When the two are on different file systems the
 * image is first copied once into `cache_dir` (as <key>, the caller's
 * unique name for it) and linked from there.  Nothing to do when `link`
 * exists. */
int disk_link_base(const char *image, const char *link, const char *cache_dir, const char *key,
                   err_t *err);

/* Flush a file (or directory) to stable storage. */
int disk_sync(const char *path, err_t *err);

/* Remove a file if present; errors other than "absent" are reported. */
int disk_remove(const char *path, err_t *err);

#endif
