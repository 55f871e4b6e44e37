/*
 * fs: small file helpers for the data directory: whole-file reads with a size
 * bound, and atomic, durable whole-file writes (temporary file, fsync,
 * rename, fsync of the directory), so that a crash leaves either the old or
 * the new contents, never a mix.
 */
#ifndef VMSVC_FS_H
#define VMSVC_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

/* Write data to path atomically with the given mode.  ERR_INTERNAL on failure. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, err_t *err);

/* Read a whole file of at most `max` bytes into a NUL-terminated buffer
 * (g_free).  ERR_NOT_FOUND when it does not exist, ERR_INTERNAL otherwise. */
char *fs_read_all(const char *path, size_t max, size_t *len, err_t *err);

/* mkdir -p with the given mode for directories it creates. */
/* Write all `n` bytes (at `off` for fs_pwrite_full), retrying short writes
 * and EINTR; 0, or -1 with errno set. */
int fs_write_full(int fd, const void *buf, size_t n);
int fs_pwrite_full(int fd, const void *buf, size_t n, off_t off);
/* The last `max` bytes of a file (all of it if smaller), NUL-terminated;
 * NULL if it cannot be read.  For logs that grow without bound. */
char *fs_read_tail(const char *path, size_t max);
int fs_mkdir_p(const char *dir, mode_t mode, err_t *err);

#endif
