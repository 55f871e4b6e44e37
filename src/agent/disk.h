/*
 * disk: VM disks in storage pools, made with qemu-img (Debian qemu-utils).
 *
 * A storage pool is a directory per StorageClass.  A VM's boot disk is a
 * qcow2 overlay whose backing file is the image: made in constant time
 * whatever the image size, and only the blocks the guest writes take room.
 * With thick provisioning the overlay's room is allocated up front
 * (preallocation=falloc).  Files are made under a temporary name and
 * renamed, so a crash never leaves a half-made disk under the final name.
 */
#ifndef VMSVC_DISK_H
#define VMSVC_DISK_H

#include <stdbool.h>
#include <stdint.h>

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

/* Remove a file if present; errors other than "absent" are reported. */
int disk_remove(const char *path, err_t *err);

#endif
