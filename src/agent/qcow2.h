/*
 * qcow2: the little of QEMU's qcow2 format (docs/interop/qcow2.txt in QEMU)
 * that a VM's boot disk needs without running qemu-img: reading an image's
 * header, and writing an empty overlay on a backing file.
 *
 * An overlay is a version 3 image with 64 KiB clusters and 16-bit
 * refcounts, laid out as qemu-img lays out a new image:
 *   cluster 0  the header, the backing file format extension, the end of
 *              the extensions, then the backing file name
 *   cluster 1  the refcount table: one entry, the block at cluster 2
 *   cluster 2  the refcount block: clusters 0 .. 2 + L1 clusters in use
 *   cluster 3  the L1 table, all entries zero (nothing allocated), on as
 *              many clusters as the virtual size needs
 * Every other field is zero: no encryption, snapshots, bitmaps, external
 * data file or feature bits.  The rest of the file is sparse.
 */
#ifndef VMSVC_QCOW2_H
#define VMSVC_QCOW2_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define QCOW2_BACKING_NAME_MAX 1023 /* the format's limit on the backing file name */

/* Whether the file open as `fd` starts with a qcow2 header; if so, its
 * virtual size.  Returns 1 (qcow2), 0 (another format) or -1 with err set
 * when the file cannot be read or its qcow2 header makes no sense. */
int qcow2_probe(int fd, const char *path, int64_t *virtual_size, err_t *err);

/* Write an empty overlay of `size` bytes (rounded up to 512, as qemu-img
 * does) on `backing` (of format `backing_fmt`) into the empty file open as
 * `fd`.  `path` names the file in messages. */
int qcow2_overlay_write(int fd, const char *path, const char *backing, const char *backing_fmt,
                        int64_t size, err_t *err);

#endif
