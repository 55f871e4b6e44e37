/*
 * importer: the slow half of an import: fetch an image from a URL into an
 * empty staging directory of a library, check it, and turn it into what
 * the library keeps.  It runs on an agent worker thread, holds no lock, and
 * reports progress through a callback that may stop it.
 *
 * Sources: file:///path (read on this host) and http(s):// (libcurl; an
 * sslCertificate, when given, is the only certificate accepted).
 * Formats, by the URL's extension and then by content:
 *   .ova   a tar (libarchive) of an OVF descriptor, an optional manifest
 *          (.mf, whose SHA1/SHA256/SHA512 digests are checked) and disks
 *   .ovf   a descriptor whose files are fetched beside it
 *   .iso   kept as it is (ISO 9660 checked)
 *   other  a disk image qemu-img reads: qcow2 (kept, after qemu-img
 *          check), raw, vmdk, vhdx, vpc, vdi (converted to qcow2)
 * Disk images with a backing file or an external data file are refused.
 * Every disk ends as a standalone qcow2 named disk-<n>.qcow2; the OVF
 * descriptor is kept as descriptor.ovf, an ISO as image.iso.  Files are
 * flushed (fsync) before the caller renames the directory into place.
 *
 * The result, the item's info document (see catalog.h):
 *   {"type": "OVF"|"ISO", "sourceFormat": "ova"|"ovf"|"qcow2"|"raw"|...,
 *    "disks": [{"file", "capacity", "size"}], "files": [{"name", "size"}],
 *    "iso": "image.iso" (ISO only), "ovf": <ovf_parse summary> (OVF/OVA),
 *    "sha256": digest of the source file when one was computed}
 */
#ifndef VMSVC_IMPORTER_H
#define VMSVC_IMPORTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* Hard limits on what an import may bring in. */
#define IMPORT_MAX_BYTES ((int64_t)4 << 40) /* one file: 4 TiB */
#define IMPORT_MAX_ENTRIES 64               /* files in an OVA */

typedef struct import_src {
    const char *url;
    const char *ssl_cert;     /* PEM, or NULL */
    const char *checksum_alg; /* "SHA256" (default) or "SHA512" */
    const char *checksum;     /* hex, or NULL: not checked */
    const char *item_type;    /* "OVF", "ISO" or NULL: from the URL */
} import_src_t;

/* Progress of one file: bytes done of total (0: unknown).  Return false to
 * stop the import. */
typedef bool (*import_progress_fn)(void *ctx, const char *file, int64_t done, int64_t total);

/* Whether a source URL can be imported at all, without fetching it.  NULL
 * when it can, else the reason (SourceURLInvalid, SourceURLSchemeInvalid,
 * SourceURLHostInvalid) with a sentence in msg. */
const char *importer_check_url(const char *url, char *msg, size_t n);

/* The URL as logs, events and conditions show it: without its user info
 * and query, which may carry credentials (g_free). */
char *importer_url_shown(const char *url);

/* The name an item gets when the request names none: the URL's file name
 * without its extension (g_free). */
char *importer_default_name(const char *url);

/* Import into `dir` (exists, empty).  Returns the info document, or NULL
 * with err set; on failure `dir` may hold partial files for the caller to
 * remove with the directory. */
json_t *importer_run(const import_src_t *src, const char *dir, import_progress_fn fn, void *ctx,
                     err_t *err);

/* Remove a directory tree (the caller's staging or item directory). */
int importer_rmtree(const char *path, err_t *err);

#endif
