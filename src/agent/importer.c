/* importer: see importer.h. */
#include "agent/importer.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <gnutls/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/disk.h"
#include "model/ovf.h"
#include "util/fs.h"
#include "util/jsonutil.h"

#define IO_CHUNK (1 << 20)
#define MANIFEST_MAX (64 * 1024)
#define PROGRESS_EVERY_US (300 * 1000)

typedef struct job {
    const import_src_t *src;
    const char *dir;
    import_progress_fn fn;
    void *ctx;
    bool stopped;
    gint64 last_report;
    const char *cur_file;
    int64_t cur_total;
    char *sum;          /* digest of the source file, when one was asked for */
} job_t;

/* Report progress, at most every PROGRESS_EVERY_US unless `force`. */
static bool report(job_t *j, const char *file, int64_t done, int64_t total, bool force)
{
    gint64 now = g_get_monotonic_time();
    if (!j->fn || j->stopped)
        return !j->stopped;
    if (!force && now - j->last_report < PROGRESS_EVERY_US)
        return true;
    j->last_report = now;
    if (!j->fn(j->ctx, file, done, total))
        j->stopped = true;
    return !j->stopped;
}

static void set_stopped(job_t *j, err_t *err)
{
    err_set(err, ERR_TIMEOUT, "The import was stopped: its request is gone.");
}

/* ---- digests ---------------------------------------------------------------- */

typedef struct digest {
    gnutls_hash_hd_t h;
    gnutls_digest_algorithm_t alg;
    bool on;
} digest_t;

static gnutls_digest_algorithm_t digest_alg(const char *name)
{
    if (!name || !g_ascii_strcasecmp(name, "SHA256"))
        return GNUTLS_DIG_SHA256;
    if (!g_ascii_strcasecmp(name, "SHA512"))
        return GNUTLS_DIG_SHA512;
    if (!g_ascii_strcasecmp(name, "SHA1"))
        return GNUTLS_DIG_SHA1;
    return GNUTLS_DIG_UNKNOWN;
}

static void digest_start(digest_t *d, gnutls_digest_algorithm_t alg)
{
    d->alg = alg;
    d->on = alg != GNUTLS_DIG_UNKNOWN && gnutls_hash_init(&d->h, alg) == 0;
}

static void digest_update(digest_t *d, const void *buf, size_t n)
{
    if (d->on)
        gnutls_hash(d->h, buf, n);
}

/* The hex digest (g_free), ending the digest. */
static char *digest_end(digest_t *d)
{
    unsigned char out[64];
    GString *s;
    if (!d->on)
        return NULL;
    gnutls_hash_deinit(d->h, out);
    d->on = false;
    s = g_string_new(NULL);
    for (unsigned i = 0; i < gnutls_hash_get_len(d->alg); i++)
        g_string_append_printf(s, "%02x", out[i]);
    return g_string_free(s, FALSE);
}

static void digest_drop(digest_t *d)
{
    if (d->on)
        gnutls_hash_deinit(d->h, NULL);
    d->on = false;
}

/* Hash a whole file. */
static char *digest_file(job_t *j, const char *path, gnutls_digest_algorithm_t alg, err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf;
    digest_t d;
    ssize_t n;
    struct stat sb;
    int64_t done = 0;
    char *base;

    if (fd < 0 || fstat(fd, &sb) < 0) {
        err_set(err, ERR_NOT_FOUND, "Cannot read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    base = g_path_get_basename(path);
    buf = g_malloc(IO_CHUNK);
    digest_start(&d, alg);
    while ((n = read(fd, buf, IO_CHUNK)) > 0 || (n < 0 && errno == EINTR)) {
        if (n <= 0)
            continue;
        digest_update(&d, buf, (size_t)n);
        done += n;
        if (!report(j, base, done, sb.st_size, false))
            break;
    }
    close(fd);
    g_free(buf);
    g_free(base);
    if (n < 0 || j->stopped) {
        digest_drop(&d);
        if (j->stopped)
            set_stopped(j, err);
        else
            err_set(err, ERR_INTERNAL, "Cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    return digest_end(&d);
}

static int check_digest(const char *what, const char *got, const char *want, err_t *err)
{
    if (got && want && g_ascii_strcasecmp(got, want) != 0) {
        err_set(err, ERR_INVALID, "The checksum of %s is %s, not the expected %s.", what, got,
                want);
        return -1;
    }
    return 0;
}

/* ---- room ----------------------------------------------------------------------- */

static int check_room(const char *dir, int64_t need, err_t *err)
{
    struct statvfs v;
    if (need <= 0 || statvfs(dir, &v) < 0)
        return 0;
    int64_t avail = (int64_t)v.f_bavail * (int64_t)v.f_frsize;
    if (need > avail) {
        err_set(err, ERR_INVALID,
                "The library has %lld bytes free; the image needs %lld. No space left on device.",
                (long long)avail, (long long)need);
        return -1;
    }
    return 0;
}

/* ---- writing files -------------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t n, const char *path, err_t *err)
{
    if (fs_write_full(fd, buf, n) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Copy a local file, hashing it when `d` is on; `max` bounds its size. */
/* Start writing a file's dirty pages back now, without waiting.  An import
 * ends with an fsync (the item must survive a crash once it is Ready);
 * begun early, the disk's writes overlap the copy instead of following it. */
#define WRITEBACK_EVERY ((int64_t)32 << 20)
static void writeback_start(int fd)
{
    if (fd >= 0)
        (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

static int copy_file(job_t *j, const char *src, const char *dst, digest_t *d, err_t *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    struct stat sb;
    char *buf = NULL, *base = g_path_get_basename(src);
    int64_t done = 0;
    ssize_t n;

    if (in < 0 || fstat(in, &sb) < 0) {
        err_set(err, ERR_NOT_FOUND, "Cannot read %s: %s", src, strerror(errno));
        goto out;
    }
    if (check_room(j->dir, sb.st_size, err) < 0)
        goto out;
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        err_set(err, ERR_INTERNAL, "Cannot create %s: %s", dst, strerror(errno));
        goto out;
    }
    if (!d || !d->on) {
        /* No digest wanted: let the kernel copy (and share extents where it can). */
        off_t left = sb.st_size;
        while (left > 0) {
            ssize_t c = copy_file_range(in, NULL, out, NULL, (size_t)MIN(left, WRITEBACK_EVERY), 0);
            if (c < 0 && errno == EINTR)
                continue;
            if (c <= 0)
                break;
            left -= c;
            done += c;
            writeback_start(out);
            if (!report(j, base, done, sb.st_size, false)) {
                set_stopped(j, err);
                goto out;
            }
        }
        if (left == 0) {
            rc = 0;
            goto out;
        }
        if (done > 0) {
            err_set(err, ERR_INTERNAL, "Cannot copy %s: %s", src, strerror(errno ? errno : EIO));
            goto out;
        }
    }
    buf = g_malloc(IO_CHUNK);
    while ((n = read(in, buf, IO_CHUNK)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_set(err, ERR_INTERNAL, "Cannot read %s: %s", src, strerror(errno));
            goto out;
        }
        if (d)
            digest_update(d, buf, (size_t)n);
        if (write_all(out, buf, (size_t)n, dst, err) < 0)
            goto out;
        if (done / WRITEBACK_EVERY != (done + n) / WRITEBACK_EVERY)
            writeback_start(out);
        done += n;
        if (!report(j, base, done, sb.st_size, false)) {
            set_stopped(j, err);
            goto out;
        }
    }
    rc = 0;
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    g_free(buf);
    g_free(base);
    return rc;
}

/* ---- downloads ---------------------------------------------------------------------- */

typedef struct dl {
    job_t *j;
    int fd;
    const char *path, *name;
    digest_t *d;
    int64_t done, max;
    GString *mem; /* instead of fd: into memory */
    err_t werr;
} dl_t;

static size_t dl_write(char *ptr, size_t size, size_t nmemb, void *p)
{
    dl_t *dl = p;
    size_t n = size * nmemb;
    if (dl->done + (int64_t)n > dl->max) {
        err_set(&dl->werr, ERR_TOO_LARGE, "%s is larger than %lld bytes.", dl->name,
                (long long)dl->max);
        return 0;
    }
    if (dl->d)
        digest_update(dl->d, ptr, n);
    if (dl->mem)
        g_string_append_len(dl->mem, ptr, (gssize)n);
    else if (write_all(dl->fd, ptr, n, dl->path, &dl->werr) < 0)
        return 0;
    dl->done += (int64_t)n;
    return n;
}

static int dl_progress(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ut, curl_off_t un)
{
    dl_t *dl = p;
    if (dltotal > 0 && dl->mem == NULL && dl->done == 0 && dlnow == 0 &&
        check_room(dl->j->dir, dltotal, &dl->werr) < 0)
        return 1;
    return report(dl->j, dl->name, dlnow, dltotal, false) ? 0 : 1;
}

/* GET `url` into `path` (or into `mem`). */
static int download(job_t *j, const char *url, const char *path, GString *mem, int64_t max,
                    digest_t *d, err_t *err)
{
    CURL *c = curl_easy_init();
    char ebuf[CURL_ERROR_SIZE] = "";
    char *name = g_path_get_basename(url);
    dl_t dl = {.j = j, .fd = -1, .path = path, .name = name, .d = d, .max = max, .mem = mem,
               .werr = ERR_INIT};
    CURLcode rc;
    int ret = -1;

    if (!mem) {
        dl.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (dl.fd < 0) {
            err_set(err, ERR_INTERNAL, "Cannot create %s: %s", path, strerror(errno));
            goto out;
        }
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dl_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &dl);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, dl_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &dl);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vmsvc/" VMSVC_VERSION);
    if (j->src->ssl_cert && *j->src->ssl_cert) {
        struct curl_blob blob = {.data = (void *)j->src->ssl_cert,
                                 .len = strlen(j->src->ssl_cert),
                                 .flags = CURL_BLOB_COPY};
        /* The given certificate is the only one trusted, whatever its names. */
        curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        if (j->stopped)
            set_stopped(j, err);
        else if (err_is_set(&dl.werr))
            err_move(err, &dl.werr);
        else {
            char *shown = importer_url_shown(url);
            err_set(err, ERR_UNAVAILABLE, "Cannot download %s: %s", shown,
                    *ebuf ? ebuf : curl_easy_strerror(rc));
            g_free(shown);
        }
        goto out;
    }
    report(j, name, dl.done, dl.done, true);
    ret = 0;
out:
    err_clear(&dl.werr);
    if (dl.fd >= 0)
        close(dl.fd);
    curl_easy_cleanup(c);
    g_free(name);
    return ret;
}

/* ---- sources ------------------------------------------------------------------------ */

static bool is_http(const char *url)
{
    return g_str_has_prefix(url, "http://") || g_str_has_prefix(url, "https://");
}

const char *importer_check_url(const char *url, char *msg, size_t n)
{
    char *scheme = NULL, *host = NULL, *path = NULL;
    const char *reason = NULL;
    GUri *u;

    if (!url || !*url || strlen(url) > 4096 ||
        !(u = g_uri_parse(url, G_URI_FLAGS_ENCODED, NULL))) {
        snprintf(msg, n, "The source URL is not a valid URL.");
        return "SourceURLInvalid";
    }
    scheme = g_ascii_strdown(g_uri_get_scheme(u), -1);
    host = g_strdup(g_uri_get_host(u));
    path = g_uri_unescape_string(g_uri_get_path(u), "/");
    if (strcmp(scheme, "file") && strcmp(scheme, "http") && strcmp(scheme, "https")) {
        snprintf(msg, n, "The source URL's scheme \"%s\" is not file, http or https.", scheme);
        reason = "SourceURLSchemeInvalid";
    } else if (!strcmp(scheme, "file")) {
        struct stat sb;
        if (host && *host && strcmp(host, "localhost")) {
            snprintf(msg, n, "A file URL names a file on this host, not on %s.", host);
            reason = "SourceURLHostInvalid";
        } else if (!path || path[0] != '/' || stat(path, &sb) < 0) {
            snprintf(msg, n, "The source file %.300s does not exist.", path ? path : "");
            reason = "SourceURLInvalid";
        } else if (!S_ISREG(sb.st_mode)) {
            snprintf(msg, n, "The source %.300s is not a regular file.", path);
            reason = "SourceURLInvalid";
        }
    } else if (!host || !*host) {
        snprintf(msg, n, "The source URL names no host.");
        reason = "SourceURLHostInvalid";
    }
    if (!reason && (!path || !*path || g_str_has_suffix(path, "/"))) {
        snprintf(msg, n, "The source URL names no file.");
        reason = "SourceURLInvalid";
    }
    g_free(scheme);
    g_free(host);
    g_free(path);
    g_uri_unref(u);
    return reason;
}

char *importer_url_shown(const char *url)
{
    GUri *u = url ? g_uri_parse(url, G_URI_FLAGS_ENCODED, NULL) : NULL;
    char *s;
    if (!u)
        return g_strdup("(an invalid URL)");
    s = g_uri_to_string_partial(u, G_URI_HIDE_USERINFO | G_URI_HIDE_QUERY);
    g_uri_unref(u);
    return s;
}

/* The last path segment of the URL, unescaped (g_free). */
static char *url_file(const char *url)
{
    GUri *u = g_uri_parse(url, G_URI_FLAGS_ENCODED, NULL);
    char *path = u ? g_uri_unescape_string(g_uri_get_path(u), "/") : NULL, *base;
    if (u)
        g_uri_unref(u);
    base = path ? g_path_get_basename(path) : g_strdup("image");
    g_free(path);
    return base;
}

char *importer_default_name(const char *url)
{
    char *base = url_file(url), *dot = strrchr(base, '.');
    if (dot && dot != base)
        *dot = '\0';
    return base;
}

static char *url_ext(const char *url)
{
    char *base = url_file(url), *dot = strrchr(base, '.');
    char *ext = g_ascii_strdown(dot ? dot + 1 : "", -1);
    g_free(base);
    return ext;
}

/* The local path of a file URL (g_free), or NULL. */
static char *url_path(const char *url)
{
    GUri *u = g_uri_parse(url, G_URI_FLAGS_ENCODED, NULL);
    char *p = NULL;
    if (u && !g_ascii_strcasecmp(g_uri_get_scheme(u), "file"))
        p = g_uri_unescape_string(g_uri_get_path(u), "/");
    if (u)
        g_uri_unref(u);
    return p;
}

/* Make the source file local: its own path for file URLs, else a download
 * into the staging directory.  Computes j->sum when a checksum is wanted. */
static char *fetch_source(job_t *j, bool *downloaded, err_t *err)
{
    gnutls_digest_algorithm_t alg = j->src->checksum ? digest_alg(j->src->checksum_alg)
                                                     : GNUTLS_DIG_UNKNOWN;
    char *p = url_path(j->src->url), *dst;
    digest_t d;

    *downloaded = false;
    if (p) {
        if (alg != GNUTLS_DIG_UNKNOWN && !(j->sum = digest_file(j, p, alg, err))) {
            g_free(p);
            return NULL;
        }
        return p;
    }
    dst = g_build_filename(j->dir, "source.download", NULL);
    digest_start(&d, alg);
    if (download(j, j->src->url, dst, NULL, IMPORT_MAX_BYTES, &d, err) < 0) {
        digest_drop(&d);
        unlink(dst);
        g_free(dst);
        return NULL;
    }
    j->sum = digest_end(&d);
    *downloaded = true;
    return dst;
}

/* ---- disks ------------------------------------------------------------------------- */

static const char *const disk_formats[] = {"qcow2", "raw", "vmdk", "vhdx", "vpc", "vdi", NULL};

typedef struct conv_ctx {
    job_t *j;
    const char *name;
    int64_t total;
    const char *out; /* qemu-img's output, whose writeback starts early */
    int fd;
} conv_ctx_t;

static bool conv_progress(void *p, double pct)
{
    conv_ctx_t *c = p;
    if (c->fd < 0)
        c->fd = open(c->out, O_RDONLY | O_CLOEXEC);
    writeback_start(c->fd);
    return report(c->j, c->name, (int64_t)(pct / 100.0 * (double)c->total), c->total, false);
}

/* Check one disk file and make `out` (a qcow2 in the staging directory)
 * from it; `move` allows renaming `in` when it is already a good qcow2.
 * Appends {file, capacity, size} to `disks`. */
static int import_disk(job_t *j, const char *in, const char *want_fmt, bool move, int n,
                       json_t *disks, err_t *err)
{
    json_t *info = disk_inspect(in, NULL, err);
    const char *fmt;
    char *file = g_strdup_printf("disk-%d.qcow2", n), *out = g_build_filename(j->dir, file, NULL);
    char *name = g_path_get_basename(in);
    bool ok = false;
    struct stat sb;
    int rc = -1;

    if (!info)
        goto out;
    fmt = json_string_value(json_object_get(info, "format"));
    for (const char *const *f = disk_formats; *f; f++)
        ok |= !strcmp(*f, fmt);
    if (!ok) {
        err_set(err, ERR_INVALID, "%s is a %s image, which is not imported.", name, fmt);
        goto out;
    }
    if (want_fmt && !strcmp(want_fmt, "qcow2") && strcmp(fmt, "qcow2")) {
        err_set(err, ERR_INVALID, "%s is not a qcow2 image.", name);
        goto out;
    }
    if (json_object_get(info, "backing-filename") || json_object_get(info, "full-backing-filename")) {
        err_set(err, ERR_INVALID, "%s has a backing file; only standalone images are imported.",
                name);
        goto out;
    }
    if (json_path_get(json_object_get(info, "format-specific"), "data") &&
        json_object_get(json_object_get(json_object_get(info, "format-specific"), "data"),
                        "data-file")) {
        err_set(err, ERR_INVALID, "%s keeps its data in an external file, which is refused.",
                name);
        goto out;
    }
    if (json_is_true(json_object_get(info, "encrypted"))) {
        err_set(err, ERR_INVALID, "%s is encrypted.", name);
        goto out;
    }
    if (!strcmp(fmt, "qcow2")) {
        if (disk_check(in, err) < 0) {
            err_t e2 = ERR_INIT;
            err_set(&e2, ERR_INVALID, "%s is a corrupt qcow2 image: %s", name, err->msg);
            err_move(err, &e2);
            goto out;
        }
        if (move) {
            if (rename(in, out) < 0) {
                err_set(err, ERR_INTERNAL, "Cannot rename %s: %s", in, strerror(errno));
                goto out;
            }
        } else if (copy_file(j, in, out, NULL, err) < 0) {
            goto out;
        }
    } else {
        conv_ctx_t cc = {j, name, (int64_t)json_integer_value(json_object_get(info, "virtual-size")),
                         out, -1};
        int crc;
        if (stat(in, &sb) == 0 && check_room(j->dir, sb.st_blocks * 512, err) < 0)
            goto out;
        crc = disk_convert(in, fmt, out, conv_progress, &cc, err);
        if (cc.fd >= 0)
            close(cc.fd);
        if (crc < 0) {
            if (j->stopped)
                set_stopped(j, err);
            goto out;
        }
        if (move)
            unlink(in);
    }
    if (disk_sync(out, err) < 0 || stat(out, &sb) < 0)
        goto out;
    json_array_append_new(disks, json_pack("{s:s,s:I,s:I,s:s}", "file", file, "capacity",
                                           json_integer_value(json_object_get(info, "virtual-size")),
                                           "size", (json_int_t)sb.st_blocks * 512,
                                           "sourceFormat", fmt));
    /* Done: the bytes of the last progress report (a copy counts the
     * file, a conversion the disk's virtual size). */
    {
        int64_t total = !strcmp(fmt, "qcow2") ? (int64_t)sb.st_size
                                              : (int64_t)json_integer_value(
                                                    json_object_get(info, "virtual-size"));
        report(j, name, total, total, true);
    }
    rc = 0;
out:
    json_decref(info);
    g_free(file);
    g_free(out);
    g_free(name);
    return rc;
}

/* ---- OVF packages -------------------------------------------------------------------- */

/* "SHA256(disk1.vmdk)= 0123..." lines into {file: {alg, digest}}. */
static json_t *parse_manifest(const char *text, err_t *err)
{
    json_t *m = json_object();
    char **lines = g_strsplit(text, "\n", 1024);
    for (char **l = lines; *l; l++) {
        char *line = g_strstrip(*l), *open, *close, *eq;
        if (!*line)
            continue;
        open = strchr(line, '(');
        close = strrchr(line, ')');
        eq = close ? strchr(close, '=') : NULL;
        if (!open || !close || !eq || close < open) {
            err_set(err, ERR_INVALID, "The OVF manifest has a line that is not ALG(file)= digest.");
            json_decref(m);
            m = NULL;
            break;
        }
        *open = *close = '\0';
        json_object_set_new(m, open + 1,
                            json_pack("{s:s,s:s}", "alg", line, "digest", g_strstrip(eq + 1)));
    }
    g_strfreev(lines);
    return m;
}

/* Check the files of an OVF package against its manifest (when it has one);
 * `sums` holds the digests computed while the files were written. */
static int check_manifest(job_t *j, const json_t *mf, const json_t *sums, err_t *err)
{
    const char *file;
    json_t *e;
    json_object_foreach((json_t *)mf, file, e) {
        const char *alg = json_string_value(json_object_get(e, "alg"));
        const char *want = json_string_value(json_object_get(e, "digest"));
        const json_t *have = json_object_get(sums, file);
        char *got = NULL;
        int rc;
        if (digest_alg(alg) == GNUTLS_DIG_UNKNOWN) {
            err_set(err, ERR_INVALID, "The OVF manifest uses %s, which is not supported.", alg);
            return -1;
        }
        if (have && !g_ascii_strcasecmp(json_string_value(json_object_get(have, "alg")), alg)) {
            got = g_strdup(json_string_value(json_object_get(have, "digest")));
        } else if (json_object_get(have, "path")) {
            if (!(got = digest_file(j, json_string_value(json_object_get(have, "path")),
                                    digest_alg(alg), err)))
                return -1;
        } else {
            continue; /* a file the package does not carry (e.g. the .cert) */
        }
        rc = check_digest(file, got, want, err);
        g_free(got);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Convert the disks an OVF names, in the order of its hardware section. */
static int import_ovf_disks(job_t *j, const json_t *ovf, const json_t *paths, json_t *disks,
                            err_t *err)
{
    json_t *order = json_array(), *d, *id;
    size_t i, k;
    int n = 0, rc = 0;

    json_array_foreach(json_path_get(ovf, "hardware.disks"), i, id)
        json_array_append(order, id);
    json_array_foreach(json_object_get(ovf, "disks"), i, d) {
        bool seen = false;
        json_array_foreach(order, k, id)
            seen |= json_equal(id, json_object_get(d, "id"));
        if (!seen)
            json_array_append(order, json_object_get(d, "id"));
    }
    json_array_foreach(order, i, id) {
        const json_t *disk = NULL, *f;
        const char *href = NULL, *path;
        json_array_foreach(json_object_get(ovf, "disks"), k, d)
            if (json_equal(json_object_get(d, "id"), id))
                disk = d;
        if (!disk || !json_object_get(disk, "fileRef"))
            continue; /* a disk with no file: blank, not in the image */
        json_array_foreach(json_object_get(ovf, "files"), k, f)
            if (json_equal(json_object_get(f, "id"), json_object_get(disk, "fileRef")))
                href = json_string_value(json_object_get(f, "href"));
        path = href ? json_string_value(json_object_get(json_object_get(paths, href), "path")) : NULL;
        if (!path) {
            err_set(err, ERR_INVALID, "The package lacks %s, the file of disk %s.",
                    href ? href : "(unnamed)", json_string_value(id));
            rc = -1;
            break;
        }
        if (import_disk(j, path, NULL, true, ++n, disks, err) < 0) {
            rc = -1;
            break;
        }
        /* The guest sees the capacity the descriptor declares when larger. */
        json_t *last = json_array_get(disks, json_array_size(disks) - 1);
        if (json_integer_value(json_object_get(disk, "capacity")) >
            json_integer_value(json_object_get(last, "capacity")))
            json_object_set(last, "capacity", json_object_get(disk, "capacity"));
    }
    json_decref(order);
    if (rc == 0 && n == 0) {
        err_set(err, ERR_INVALID, "The OVF package has no disk.");
        rc = -1;
    }
    return rc;
}

static int save_descriptor(job_t *j, const GString *ovf, err_t *err)
{
    char *p = g_build_filename(j->dir, "descriptor.ovf", NULL);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = -1;
    if (fd < 0)
        err_set(err, ERR_INTERNAL, "Cannot create %s: %s", p, strerror(errno));
    else if (write_all(fd, ovf->str, ovf->len, p, err) == 0 && fsync(fd) == 0)
        rc = 0;
    else if (!err_is_set(err))
        err_set(err, ERR_INTERNAL, "Cannot write %s: %s", p, strerror(errno));
    if (fd >= 0)
        close(fd);
    g_free(p);
    return rc;
}

static json_t *import_ova(job_t *j, const char *path, json_t *out, err_t *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    GString *ovf = NULL, *mf = NULL;
    json_t *paths = json_object(), *sums = json_object(), *files = json_array(), *manifest = NULL;
    json_t *summary = NULL, *disks = json_array();
    char *buf = g_malloc(IO_CHUNK);
    struct stat sb;
    int entries = 0, r;
    json_t *result = NULL;

    archive_read_support_format_tar(a);
    if (stat(path, &sb) < 0 || archive_read_open_filename(a, path, IO_CHUNK) != ARCHIVE_OK) {
        err_set(err, ERR_INVALID, "Cannot read the OVA: %s", archive_error_string(a) ?: strerror(errno));
        goto out;
    }
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        int64_t size = archive_entry_size(e);
        if (archive_entry_filetype(e) == AE_IFDIR)
            continue;
        if (++entries > IMPORT_MAX_ENTRIES) {
            err_set(err, ERR_INVALID, "The OVA holds more than %d files.", IMPORT_MAX_ENTRIES);
            goto out;
        }
        if (archive_entry_filetype(e) != AE_IFREG || !ovf_href_ok(name)) {
            err_set(err, ERR_INVALID, "The OVA holds \"%.200s\", which is not a plain file.",
                    name ? name : "");
            goto out;
        }
        if (json_object_get(paths, name) || (ovf && g_str_has_suffix(name, ".ovf"))) {
            err_set(err, ERR_INVALID, "The OVA holds %s twice.", name);
            goto out;
        }
        if (g_str_has_suffix(name, ".ovf") || g_str_has_suffix(name, ".mf")) {
            bool is_ovf = g_str_has_suffix(name, ".ovf");
            GString *g = g_string_new(NULL);
            size_t max = is_ovf ? OVF_MAX_BYTES : MANIFEST_MAX;
            la_ssize_t n;
            if (size > (int64_t)max) {
                err_set(err, ERR_INVALID, "The OVA's %s is larger than %zu bytes.", name, max);
                g_string_free(g, TRUE);
                goto out;
            }
            while ((n = archive_read_data(a, buf, IO_CHUNK)) > 0 && g->len <= max)
                g_string_append_len(g, buf, n);
            if (n < 0) {
                err_set(err, ERR_INVALID, "The OVA is damaged or truncated: %s",
                        archive_error_string(a));
                g_string_free(g, TRUE);
                goto out;
            }
            if (is_ovf)
                ovf = g;
            else if (!mf)
                mf = g;
            else
                g_string_free(g, TRUE);
            json_object_set_new(paths, name, json_object());
            json_array_append_new(files, json_pack("{s:s,s:I}", "name", name, "size", (json_int_t)size));
            continue;
        }
        /* A disk (or another file the descriptor lists): to the staging dir. */
        {
            char *dst = g_build_filename(j->dir, name, NULL);
            int fd;
            digest_t d;
            la_ssize_t n;
            int64_t done = 0;
            json_t *m = mf ? parse_manifest(mf->str, err) : NULL;
            const char *alg = m ? json_string_value(json_path_get(json_object_get(m, name), "alg")) : NULL;
            if (mf && !m) {
                g_free(dst);
                goto out;
            }
            json_decref(m);
            if (check_room(j->dir, size, err) < 0 ||
                (fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
                if (!err_is_set(err))
                    err_set(err, ERR_INTERNAL, "Cannot create %s: %s", dst, strerror(errno));
                g_free(dst);
                goto out;
            }
            digest_start(&d, digest_alg(alg ? alg : "SHA256"));
            while ((n = archive_read_data(a, buf, IO_CHUNK)) > 0) {
                digest_update(&d, buf, (size_t)n);
                if (write_all(fd, buf, (size_t)n, dst, err) < 0)
                    break;
                done += n;
                if (!report(j, name, archive_filter_bytes(a, -1), sb.st_size, false)) {
                    set_stopped(j, err);
                    break;
                }
            }
            close(fd);
            if (n < 0 && !err_is_set(err))
                err_set(err, ERR_INVALID, "The OVA is damaged or truncated: %s",
                        archive_error_string(a));
            if (err_is_set(err)) {
                digest_drop(&d);
                g_free(dst);
                goto out;
            }
            if (done != size) {
                err_set(err, ERR_INVALID, "The OVA is truncated: %s has %lld of %lld bytes.", name,
                        (long long)done, (long long)size);
                digest_drop(&d);
                g_free(dst);
                goto out;
            }
            char *sum = digest_end(&d);
            json_object_set_new(sums, name, json_pack("{s:s,s:s?}", "alg", alg ? alg : "SHA256",
                                                      "digest", sum));
            json_object_set_new(paths, name, json_pack("{s:s}", "path", dst));
            json_object_set(json_object_get(sums, name), "path", json_object_get(json_object_get(paths, name), "path"));
            json_array_append_new(files, json_pack("{s:s,s:I}", "name", name, "size", (json_int_t)size));
            g_free(sum);
            g_free(dst);
        }
    }
    if (r != ARCHIVE_EOF) {
        err_set(err, ERR_INVALID, "The OVA is damaged or truncated: %s",
                archive_error_string(a) ?: "unexpected end");
        goto out;
    }
    if (!ovf) {
        err_set(err, ERR_INVALID, "The OVA holds no OVF descriptor.");
        goto out;
    }
    if (mf && (!(manifest = parse_manifest(mf->str, err)) ||
               check_manifest(j, manifest, sums, err) < 0))
        goto out;
    if (!(summary = ovf_parse(ovf->str, ovf->len, err)))
        goto out;
    if (import_ovf_disks(j, summary, paths, disks, err) < 0 || save_descriptor(j, ovf, err) < 0)
        goto out;
    json_object_set_new(out, "ovf", json_incref(summary));
    json_object_set(out, "disks", disks);
    json_object_set(out, "files", files);
    result = out;
out:
    archive_read_free(a);
    if (ovf)
        g_string_free(ovf, TRUE);
    if (mf)
        g_string_free(mf, TRUE);
    g_free(buf);
    json_decref(paths);
    json_decref(sums);
    json_decref(files);
    json_decref(manifest);
    json_decref(summary);
    json_decref(disks);
    return result;
}

/* An OVF descriptor and the files it lists beside it (same directory of a
 * file URL, or relative to an http(s) URL). */
static json_t *import_ovf(job_t *j, const char *path, json_t *out, err_t *err)
{
    GString *ovf = g_string_new(NULL);
    json_t *summary = NULL, *paths = json_object(), *files = json_array(), *disks = json_array();
    json_t *f, *result = NULL;
    char *text = NULL, *dir = g_path_get_dirname(path), *mfpath = NULL;
    size_t len = 0, i;
    GError *gerr = NULL;

    if (!g_file_get_contents(path, &text, &len, &gerr)) {
        err_set(err, ERR_NOT_FOUND, "Cannot read the OVF descriptor: %s", gerr->message);
        g_error_free(gerr);
        goto out;
    }
    g_string_append_len(ovf, text, (gssize)len);
    if (!(summary = ovf_parse(ovf->str, ovf->len, err)))
        goto out;
    json_array_foreach(json_object_get(summary, "files"), i, f) {
        const char *href = json_string_value(json_object_get(f, "href"));
        char *src, *dst = g_build_filename(j->dir, href, NULL);
        int rc;
        if (json_object_get(paths, href)) {
            g_free(dst);
            continue;
        }
        if (is_http(j->src->url)) {
            char *base = g_strndup(j->src->url, (gsize)(strrchr(j->src->url, '/') - j->src->url + 1));
            char *esc = g_uri_escape_string(href, NULL, FALSE);
            src = g_strconcat(base, esc, NULL);
            g_free(base);
            g_free(esc);
            rc = download(j, src, dst, NULL, IMPORT_MAX_BYTES, NULL, err);
        } else {
            src = g_build_filename(dir, href, NULL);
            rc = copy_file(j, src, dst, NULL, err);
        }
        g_free(src);
        if (rc < 0) {
            g_free(dst);
            goto out;
        }
        json_object_set_new(paths, href, json_pack("{s:s}", "path", dst));
        json_array_append_new(files, json_pack("{s:s,s:O?}", "name", href, "size", json_object_get(f, "size")));
        g_free(dst);
    }
    /* A manifest beside a local descriptor is checked. */
    if (!is_http(j->src->url)) {
        char *base = g_path_get_basename(path), *dot = strrchr(base, '.'), *mft = NULL;
        json_t *mf, *sums = json_object(), *v;
        const char *k;
        if (dot)
            *dot = '\0';
        mfpath = g_strconcat(dir, "/", base, ".mf", NULL);
        if (g_file_get_contents(mfpath, &mft, &len, NULL) && len <= MANIFEST_MAX) {
            json_object_foreach(paths, k, v)
                json_object_set_new(sums, k, json_pack("{s:O}", "path", json_object_get(v, "path")));
            mf = parse_manifest(mft, err);
            if (!mf || check_manifest(j, mf, sums, err) < 0) {
                json_decref(mf);
                json_decref(sums);
                g_free(mft);
                g_free(base);
                goto out;
            }
            json_decref(mf);
        }
        json_decref(sums);
        g_free(mft);
        g_free(base);
    }
    if (import_ovf_disks(j, summary, paths, disks, err) < 0 || save_descriptor(j, ovf, err) < 0)
        goto out;
    json_object_set(out, "ovf", summary);
    json_object_set(out, "disks", disks);
    json_object_set(out, "files", files);
    result = out;
out:
    g_string_free(ovf, TRUE);
    g_free(text);
    g_free(dir);
    g_free(mfpath);
    json_decref(summary);
    json_decref(paths);
    json_decref(files);
    json_decref(disks);
    return result;
}

static json_t *import_iso(job_t *j, const char *path, bool move, json_t *out, err_t *err)
{
    char magic[5] = "";
    char *dst = g_build_filename(j->dir, "image.iso", NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    json_t *result = NULL;

    /* An ISO 9660 volume has "CD001" in its first volume descriptor. */
    if (fd < 0 || pread(fd, magic, 5, 32769) != 5 || memcmp(magic, "CD001", 5) != 0) {
        err_set(err, ERR_INVALID, "The file is not an ISO 9660 image.");
        goto out;
    }
    if (move ? rename(path, dst) : copy_file(j, path, dst, NULL, err)) {
        if (!err_is_set(err))
            err_set(err, ERR_INTERNAL, "Cannot rename %s: %s", path, strerror(errno));
        goto out;
    }
    if (disk_sync(dst, err) < 0 || stat(dst, &sb) < 0)
        goto out;
    json_object_set_new(out, "iso", json_string("image.iso"));
    json_object_set_new(out, "files", json_pack("[{s:s,s:I}]", "name", "image.iso", "size",
                                               (json_int_t)sb.st_size));
    json_object_set_new(out, "disks", json_array());
    result = out;
out:
    if (fd >= 0)
        close(fd);
    g_free(dst);
    return result;
}

json_t *importer_run(const import_src_t *src, const char *dir, import_progress_fn fn, void *ctx,
                     err_t *err)
{
    job_t j = {.src = src, .dir = dir, .fn = fn, .ctx = ctx};
    char *ext = url_ext(src->url), *path = NULL;
    bool downloaded = false;
    json_t *out = json_object(), *res = NULL;
    const char *type = src->item_type;

    if (src->checksum && digest_alg(src->checksum_alg) == GNUTLS_DIG_UNKNOWN) {
        err_set(err, ERR_INVALID, "The checksum algorithm %s is not supported.", src->checksum_alg);
        goto out;
    }
    if (!(path = fetch_source(&j, &downloaded, err)))
        goto out;
    if (check_digest("the source", j.sum, src->checksum, err) < 0)
        goto out;
    if (!type)
        type = !strcmp(ext, "iso") ? "ISO" : "OVF";
    json_object_set_new(out, "type", json_string(type));
    json_object_set_new(out, "sourceFormat", json_string(*ext ? ext : "disk"));
    if (j.sum)
        json_object_set_new(out, "sha256", json_string(j.sum));
    if (!strcmp(type, "ISO"))
        res = import_iso(&j, path, downloaded, out, err);
    else if (!strcmp(ext, "ova"))
        res = import_ova(&j, path, out, err);
    else if (!strcmp(ext, "ovf"))
        res = import_ovf(&j, path, out, err);
    else {
        json_t *disks = json_array();
        if (import_disk(&j, path, NULL, downloaded, 1, disks, err) == 0) {
            json_object_set(out, "disks", disks);
            json_object_set_new(out, "sourceFormat",
                                json_incref(json_object_get(json_array_get(disks, 0), "sourceFormat")));
            res = out;
        }
        json_decref(disks);
    }
    if (res && disk_sync(dir, err) < 0)
        res = NULL;
out:
    if (downloaded && path)
        unlink(path);
    g_free(path);
    g_free(ext);
    g_free(j.sum);
    if (!res)
        json_decref(out);
    return res;
}

int importer_rmtree(const char *path, err_t *err)
{
    GDir *d = g_dir_open(path, 0, NULL);
    const char *n;
    int rc = 0;
    if (!d) {
        if (rmdir(path) < 0 && errno != ENOENT && unlink(path) < 0 && errno != ENOENT) {
            err_set(err, ERR_INTERNAL, "Cannot remove %s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    while ((n = g_dir_read_name(d))) {
        char *p = g_build_filename(path, n, NULL);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rc |= importer_rmtree(p, err);
        else if (unlink(p) < 0 && errno != ENOENT) {
            err_set(err, ERR_INTERNAL, "Cannot remove %s: %s", p, strerror(errno));
            rc = -1;
        }
        g_free(p);
    }
    g_dir_close(d);
    if (rmdir(path) < 0 && errno != ENOENT) {
        err_set(err, ERR_INTERNAL, "Cannot remove %s: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}
