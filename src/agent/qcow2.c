/* qcow2: see qcow2.h. */
#include "agent/qcow2.h"

#include <endian.h>
#include <errno.h>
#include <glib.h>
#include <string.h>
#include <unistd.h>

#include "util/fs.h"

#define QCOW2_MAGIC 0x514649fbu         /* "QFI\xfb" */
#define QCOW2_VERSION 3
#define QCOW2_CLUSTER_BITS 16           /* 64 KiB clusters, qemu-img's default */
#define QCOW2_CLUSTER ((int64_t)1 << QCOW2_CLUSTER_BITS)
#define QCOW2_REFCOUNT_ORDER 4          /* 16-bit refcounts */
#define QCOW2_HEADER_LEN 112            /* version 3 fields through compression_type, padded */
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_END 0u
#define QCOW2_L1_MAX_BYTES (32 << 20)   /* QEMU will not open a larger L1 table */
#define QCOW2_SECTOR 512

/* Where each structure of an overlay lives (see qcow2.h). */
#define QCOW2_REFTABLE_OFF (1 * QCOW2_CLUSTER)
#define QCOW2_REFBLOCK_OFF (2 * QCOW2_CLUSTER)
#define QCOW2_L1_OFF (3 * QCOW2_CLUSTER)

static void put_be32(unsigned char *p, uint32_t v)
{
    v = htobe32(v);
    memcpy(p, &v, sizeof(v));
}

static void put_be64(unsigned char *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, sizeof(v));
}

static void put_be16(unsigned char *p, uint16_t v)
{
    v = htobe16(v);
    memcpy(p, &v, sizeof(v));
}

static uint32_t get_be32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return be32toh(v);
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return be64toh(v);
}

int qcow2_probe(int fd, const char *path, int64_t *virtual_size, err_t *err)
{
    unsigned char h[QCOW2_V2_HEADER_LEN];
    ssize_t n;
    uint32_t version, cluster_bits;
    uint64_t size;

    do
        n = pread(fd, h, sizeof(h), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        err_set(err, ERR_INTERNAL, "Cannot read %s: %s.", path, strerror(errno));
        return -1;
    }
    if (n < 4 || get_be32(h) != QCOW2_MAGIC)
        return 0;
    if (n < (ssize_t)sizeof(h)) {
        err_set(err, ERR_INVALID, "%s is not a valid qcow2 image: its header is cut short.",
                path);
        return -1;
    }
    version = get_be32(h + 4);
    cluster_bits = get_be32(h + 20);
    size = get_be64(h + 24);
    if (version < 2 || version > 3 || cluster_bits < 9 || cluster_bits > 21 ||
        size > INT64_MAX) {
        err_set(err, ERR_INVALID,
                "%s is not a qcow2 image this host can use (version %u, cluster bits %u).", path,
                version, cluster_bits);
        return -1;
    }
    *virtual_size = (int64_t)size;
    return 1;
}

int qcow2_overlay_write(int fd, const char *path, const char *backing, const char *backing_fmt,
                        int64_t size, err_t *err)
{
    unsigned char *hdr = NULL, *refblock = NULL, entry[8];
    size_t name_len = strlen(backing), fmt_len = strlen(backing_fmt), off;
    int64_t per_l2, l1_size, l1_clusters, used;
    int rc = -1;

    if (size < 0 || size > INT64_MAX - QCOW2_SECTOR) {
        err_set(err, ERR_INVALID, "Cannot make %s: %lld bytes is not a disk size.", path,
                (long long)size);
        return -1;
    }
    size = (size + QCOW2_SECTOR - 1) / QCOW2_SECTOR * QCOW2_SECTOR;
    /* Each L1 entry maps one L2 table: a cluster of 8-byte entries. */
    per_l2 = QCOW2_CLUSTER * (QCOW2_CLUSTER / 8);
    l1_size = (size + per_l2 - 1) / per_l2;
    if (l1_size * 8 > QCOW2_L1_MAX_BYTES) {
        err_set(err, ERR_INVALID, "Cannot make %s: %lld bytes is more than a qcow2 disk with "
                "64 KiB clusters can hold.", path, (long long)size);
        return -1;
    }
    l1_clusters = MAX((l1_size * 8 + QCOW2_CLUSTER - 1) / QCOW2_CLUSTER, 1);
    if (name_len == 0 || name_len > QCOW2_BACKING_NAME_MAX || fmt_len == 0 || fmt_len > 32) {
        err_set(err, ERR_INVALID, "Cannot make %s: the backing file's name or format is empty "
                "or too long.", path);
        return -1;
    }

    /* Cluster 0: header, extensions, backing file name. */
    hdr = g_malloc0(QCOW2_HEADER_LEN + 8 + ((fmt_len + 7) & ~(size_t)7) + 8 + name_len);
    put_be32(hdr + 0, QCOW2_MAGIC);
    put_be32(hdr + 4, QCOW2_VERSION);
    put_be32(hdr + 20, QCOW2_CLUSTER_BITS);
    put_be64(hdr + 24, (uint64_t)size);
    put_be32(hdr + 36, (uint32_t)l1_size);
    put_be64(hdr + 40, QCOW2_L1_OFF);
    put_be64(hdr + 48, QCOW2_REFTABLE_OFF);
    put_be32(hdr + 56, 1);
    put_be32(hdr + 96, QCOW2_REFCOUNT_ORDER);
    put_be32(hdr + 100, QCOW2_HEADER_LEN);
    off = QCOW2_HEADER_LEN;
    put_be32(hdr + off, QCOW2_EXT_BACKING_FORMAT);
    put_be32(hdr + off + 4, (uint32_t)fmt_len);
    memcpy(hdr + off + 8, backing_fmt, fmt_len);
    off += 8 + ((fmt_len + 7) & ~(size_t)7);
    put_be32(hdr + off, QCOW2_EXT_END);
    put_be32(hdr + off + 4, 0);
    off += 8;
    put_be64(hdr + 8, off);
    put_be32(hdr + 16, (uint32_t)name_len);
    memcpy(hdr + off, backing, name_len);
    off += name_len;
    g_assert(off <= (size_t)QCOW2_CLUSTER);

    /* The clusters in use, each referenced once: header, refcount table,
     * refcount block, the L1 table's.  One refcount block covers them all
     * (QCOW2_L1_MAX_BYTES is 512 clusters; a block holds 32768 counts). */
    used = QCOW2_L1_OFF / QCOW2_CLUSTER + l1_clusters;
    refblock = g_malloc((size_t)used * 2);
    for (int64_t c = 0; c < used; c++)
        put_be16(refblock + 2 * c, 1);
    put_be64(entry, QCOW2_REFBLOCK_OFF);
    /* The L1 table is all zeros: the file ends in a hole. */
    if (fs_pwrite_full(fd, hdr, off, 0) < 0 ||
        fs_pwrite_full(fd, entry, sizeof(entry), QCOW2_REFTABLE_OFF) < 0 ||
        fs_pwrite_full(fd, refblock, (size_t)used * 2, QCOW2_REFBLOCK_OFF) < 0 ||
        ftruncate(fd, used * QCOW2_CLUSTER) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    err_set(err, ERR_INTERNAL, "Cannot write %s: %s.", path, strerror(errno));
out:
    g_free(hdr);
    g_free(refblock);
    return rc;
}
