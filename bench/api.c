/*
 * bench-api: the load generator behind bench/api.
 *
 * It drives a running vmsvc over HTTPS/1.1 keep-alive connections (libcurl's
 * multi interface, one multi handle per client thread; the gets through a
 * lean pipelining client of its own, see "the pipelined GET driver") and
 * measures, at --objects VirtualMachines:
 *
 *   1. creates/s and create latency, --conns concurrent connections, and
 *      the server's CPU time per create until it settles (the work of its
 *      controllers included);
 *   2. gets/s of random names and get latency, same connections, --depth
 *      requests in flight on each (--client curl: one, through libcurl);
 *   3. the time of a full list (p50 of --list-runs);
 *   4. watch fan-out: --watchers streams opened at the current
 *      resourceVersion, then --watch-writes creates at --watch-rate per
 *      second; every watcher must see every event once, in revision order;
 *      delivery latency = receive time - the time the writer got its 201;
 *   5. the server's peak resident memory (VmHWM) at --objects VMs and after
 *      the watch test.
 *
 * Baselines come from the same run: durable SQLite inserts of the documents
 * the server returned (WAL, synchronous=FULL; one transaction per insert,
 * and 512 rows per transaction as the server's group commit), GET /healthz
 * for the cost of a bare request (through the same client and connections
 * as the gets), and the idle server's VmHWM.
 *
 * The table goes to stdout, progress to stderr.  Exit status: 0 when every
 * figure was measured, missed targets included (marked MISSED); 1 when the
 * server failed a request or a watch lost or reordered events; 2 on bad
 * usage or setup.
 *
 * Invariant: a curl multi handle and its easy handles, like a pipelined
 * connection and its TLS session, are used by the one thread that made
 * them; threads share only atomics, read-only settings (the GnuTLS
 * credentials among them) and arrays indexed by request or by watcher, each
 * slot written by one thread.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BENCH_GROUP_PATH "/apis/vmoperator.vmware.com/v1alpha2"
#define BENCH_VM_PATH BENCH_GROUP_PATH "/namespaces/default/virtualmachines"
#define BENCH_STORE_PREFIX "vmoperator.vmware.com/virtualmachines/default/"
#define BENCH_PROBE_NAME "vm-w-probe" /* written first: the watch is live */
#define BENCH_FENCE_NAME "vm-w-fence" /* written last: the test is over */
#define BENCH_SQLITE_BATCH 512
#define BENCH_MAX_WRITES 100000

/* ---- options and connection settings ------------------------------------ */

typedef struct bench {
    /* options */
    char *kubeconfig;
    char *scratch;
    int server_pid;
    int objects;
    int conns;
    int threads;
    int gets;
    int list_runs;
    int watchers;
    int watch_writes;
    double watch_rate;
    int watch_threads;
    int writer_conns;
    /* from the kubeconfig */
    char *server;
    char *auth_header;
    guchar *ca;
    gsize ca_len;
    struct curl_slist *headers;
    /* for the pipelined driver */
    char *client;        /* "pipe" or "curl": which drives the gets */
    int depth;
    char *host, *port, *host_port;
    char *req_headers;   /* a GET's header lines, blank line included */
    gnutls_certificate_credentials_t cred;
} bench_t;

static gint64 now_us(void)
{
    return g_get_monotonic_time();
}

static void bench_fail(const char *what, const char *detail)
{
    fprintf(stderr, "bench-api: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
}

/* Reads server URL, CA and token from the kubeconfig the server wrote. */
static int bench_load_kubeconfig(bench_t *b)
{
    char *text = NULL, **lines = NULL;
    GError *gerr = NULL;
    int rc = -1;

    if (!g_file_get_contents(b->kubeconfig, &text, NULL, &gerr)) {
        bench_fail("cannot read the kubeconfig", gerr->message);
        goto cleanup;
    }
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        char *s = g_strstrip(*l);
        if (g_str_has_prefix(s, "server:") && !b->server)
            b->server = g_strdup(g_strstrip(s + strlen("server:")));
        else if (g_str_has_prefix(s, "certificate-authority-data:") && !b->ca)
            b->ca = g_base64_decode(g_strstrip(s + strlen("certificate-authority-data:")),
                                    &b->ca_len);
        else if (g_str_has_prefix(s, "token:") && !b->auth_header)
            b->auth_header = g_strconcat("Authorization: Bearer ",
                                         g_strstrip(s + strlen("token:")), NULL);
    }
    if (!b->server || !b->ca || !b->auth_header) {
        bench_fail("the kubeconfig lacks a server, CA data or token", b->kubeconfig);
        goto cleanup;
    }
    b->headers = curl_slist_append(b->headers, b->auth_header);
    b->headers = curl_slist_append(b->headers, "Accept: application/json");
    b->headers = curl_slist_append(b->headers, "Content-Type: application/json");
    b->headers = curl_slist_append(b->headers, "Expect:");
    rc = 0;
cleanup:
    g_clear_error(&gerr);
    g_strfreev(lines);
    g_free(text);
    return rc;
}

static size_t append_cb(char *data, size_t size, size_t n, void *userdata)
{
    g_string_append_len(userdata, data, (gssize)(size * n));
    return size * n;
}

/* An easy handle with everything but the request: TLS to the server's CA,
 * HTTP/1.1 keep-alive, the bearer token, the answer appended to `body`. */
static CURL *bench_handle_new(const bench_t *b, GString *body, long timeout_s)
{
    struct curl_blob ca = {.data = b->ca, .len = b->ca_len, .flags = CURL_BLOB_COPY};
    CURL *h = curl_easy_init();

    if (!h)
        abort();
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, b->headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h, CURLOPT_PROXY, ""); /* no proxy, and no look into the environment */
    if (body) {
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_cb);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    }
    return h;
}

/* Whether gets go through the pipelined driver rather than libcurl. */
static bool bench_pipelined(const bench_t *b)
{
    return !b->client || strcmp(b->client, "pipe") == 0;
}

static void bench_set_url(const bench_t *b, CURL *h, const char *path)
{
    char *url = g_strconcat(b->server, path, NULL);
    curl_easy_setopt(h, CURLOPT_URL, url);
    g_free(url);
}

/* One blocking request on `h` (kept alive for the next).  `body` NULL: GET.
 * Returns the HTTP status, or -1 when the transfer failed. */
static long bench_request(const bench_t *b, CURL *h, const char *path, const char *body,
                          GString *out)
{
    CURLcode cc;
    long status = -1;

    g_string_truncate(out, 0);
    bench_set_url(b, h, path);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        bench_fail(path, curl_easy_strerror(cc));
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static char *vm_body_new(const char *name)
{
    return g_strdup_printf("{\"apiVersion\":\"vmoperator.vmware.com/v1alpha2\","
                           "\"kind\":\"VirtualMachine\",\"metadata\":{\"name\":\"%s\"},"
                           "\"spec\":{\"className\":\"best-effort-small\",\"imageName\":"
                           "\"img\",\"storageClass\":\"default\",\"powerState\":"
                           "\"PoweredOn\"}}",
                           name);
}

/* ---- statistics --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of n samples; sorts them in place. */
static double percentile(double *v, size_t n, double p)
{
    size_t rank;
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof(*v), cmp_double);
    rank = (size_t)ceil(p / 100.0 * (double)n);
    return v[rank == 0 ? 0 : rank - 1];
}

/* A line of /proc/PID/status in KiB, or -1. */
static long proc_status_kib(int pid, const char *field)
{
    char path[64], *text = NULL, *at;
    long kib = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    at = strstr(text, field);
    if (at)
        kib = strtol(at + strlen(field) + 1, NULL, 10);
    g_free(text);
    return kib;
}

/* The CPU time a process has used (user and system), in ms, or -1. */
static double proc_cpu_ms(int pid)
{
    char path[64], *text = NULL, *at;
    unsigned long long utime, stime;
    double ms = -1;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return -1;
    /* Fields after the command name, which ends at the last ')'. */
    at = strrchr(text, ')');
    if (at && sscanf(at + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                     &utime, &stime) == 2)
        ms = (double)(utime + stime) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
    g_free(text);
    return ms;
}

/* ---- the request driver ------------------------------------------------- */

/* A load is `total` requests spread over connections and client threads;
 * `prepare` sets up request i on a handle (libcurl driver), `path` writes
 * the path of GET i (pipelined driver, NULL if the load is not GETs only),
 * `check` judges an answer. */
typedef struct load_ops {
    void (*prepare)(void *ctx, CURL *h, size_t i);
    void (*path)(void *ctx, size_t i, char *buf, size_t size);
    bool (*check)(void *ctx, size_t i, long status, const char *body, size_t len);
} load_ops_t;

typedef struct load {
    const bench_t *b;
    const load_ops_t *ops;
    void *ctx;
    size_t total;
    int conns;
    int threads;
    double rate;      /* requests per second, 0: as fast as answered */
    gint64 start_us;
    size_t next;      /* atomic: the next request to start */
    double *lat_ms;   /* per request */
    gint64 *done_us;  /* per request: when the answer was complete */
    gint failures;    /* atomic */
    gint connects;    /* atomic: connections opened */
    int depth;        /* > 0: the pipelined driver, this many in flight per connection */
} load_t;

typedef struct load_slot {
    CURL *h;
    GString *body;
    size_t i;
    gint64 t0;
} load_slot_t;

typedef struct load_thread {
    load_t *l;
    int conns;
} load_thread_t;

/* Claims the next request, or returns false when all are taken. */
static bool load_claim(load_t *l, size_t *i)
{
    *i = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    return *i < l->total;
}

static gint64 load_due(const load_t *l, size_t i)
{
    return l->rate > 0 ? l->start_us + (gint64)((double)i * 1e6 / l->rate) : 0;
}

static void load_start(load_t *l, CURLM *m, load_slot_t *s, size_t i)
{
    s->i = i;
    g_string_truncate(s->body, 0);
    l->ops->prepare(l->ctx, s->h, i);
    s->t0 = now_us();
    curl_multi_add_handle(m, s->h);
}

static void load_finish(load_t *l, load_slot_t *s, CURLcode cc)
{
    gint64 t1 = now_us();
    long status = -1, connects = 0;

    l->lat_ms[s->i] = (double)(t1 - s->t0) / 1000.0;
    if (l->done_us)
        l->done_us[s->i] = t1;
    curl_easy_getinfo(s->h, CURLINFO_NUM_CONNECTS, &connects);
    g_atomic_int_add(&l->connects, (gint)connects);
    if (cc == CURLE_OK)
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    if (!l->ops->check(l->ctx, s->i, status, s->body->str, s->body->len)) {
        if (g_atomic_int_add(&l->failures, 1) < 5)
            fprintf(stderr, "bench-api: request %zu failed: %s, status %ld: %.300s\n", s->i,
                    curl_easy_strerror(cc), status, s->body->str);
    }
}

static gpointer load_thread_main(gpointer data)
{
    load_thread_t *t = data;
    load_t *l = t->l;
    CURLM *m = curl_multi_init();
    load_slot_t *slots = g_new0(load_slot_t, (gsize)t->conns);
    GQueue idle = G_QUEUE_INIT;
    int active = 0;
    size_t next = 0;       /* claimed, waiting for its due time if have_next */
    bool have_next = false, exhausted = false;

    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)t->conns + 4);
    for (int k = 0; k < t->conns; k++) {
        slots[k].body = g_string_sized_new(4096);
        slots[k].h = bench_handle_new(l->b, slots[k].body, 120);
        curl_easy_setopt(slots[k].h, CURLOPT_PRIVATE, &slots[k]);
        g_queue_push_tail(&idle, &slots[k]);
    }
    for (;;) {
        CURLMsg *msg;
        int running, left, wait_ms = 100;

        /* Start what is due on idle connections. */
        while (!g_queue_is_empty(&idle) && !exhausted) {
            gint64 due, now;
            if (!have_next && !(have_next = load_claim(l, &next))) {
                exhausted = true;
                break;
            }
            due = load_due(l, next);
            now = now_us();
            if (due > now) {
                wait_ms = (int)MIN((due - now + 999) / 1000, 100);
                break;
            }
            load_start(l, m, g_queue_pop_head(&idle), next);
            have_next = false;
            active++;
        }
        if (active == 0 && exhausted)
            break;
        curl_multi_perform(m, &running);
        while ((msg = curl_multi_info_read(m, &left))) {
            load_slot_t *s;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            load_finish(l, s, msg->data.result);
            curl_multi_remove_handle(m, s->h);
            g_queue_push_tail(&idle, s);
            active--;
            wait_ms = 0;
        }
        if (wait_ms > 0 && active > 0)
            curl_multi_poll(m, NULL, 0, wait_ms, NULL);
        else if (wait_ms > 0)
            g_usleep((gulong)wait_ms * 1000);
    }
    for (int k = 0; k < t->conns; k++) {
        curl_easy_cleanup(slots[k].h);
        g_string_free(slots[k].body, TRUE);
    }
    curl_multi_cleanup(m);
    g_queue_clear(&idle);
    g_free(slots);
    return NULL;
}

/* ---- the pipelined GET driver ------------------------------------------- */

/* libcurl keeps one request in flight per connection and spends more CPU on
 * a request than the server does, so that gets/s measured through it tell
 * more about the client than about the server.  Gets and their /healthz
 * baseline therefore go through this lean HTTP/1.1 client unless --client
 * curl: GnuTLS over non-blocking sockets, one epoll loop per client thread,
 * up to --depth requests in flight per connection (pipelined: the server
 * answers them in order), the requests a connection has to send written as
 * one TLS record.  An answer must carry a Content-Length (the server's
 * always do) and fit in PIPE_MAX_ANSWER bytes; anything else fails the
 * connection's requests. */

#define PIPE_DEPTH_MAX 64
#define PIPE_MAX_HEAD (64 * 1024)
#define PIPE_MAX_ANSWER (4 * 1024 * 1024)
#define PIPE_READ_CHUNK (32 * 1024)
#define PIPE_STALL_US (120 * G_USEC_PER_SEC) /* as the libcurl driver's timeout */

typedef struct pipe_conn {
    int fd;
    gnutls_session_t tls;
    bool dead;
    GString *out;       /* requests not yet written, or being written */
    bool out_again;     /* gnutls_record_send asked to be repeated */
    bool want_out;      /* EPOLLOUT is armed */
    char *in;           /* bytes received, not yet parsed */
    size_t in_len, in_cap;
    size_t ring[PIPE_DEPTH_MAX]; /* requests in flight, oldest at head */
    gint64 t0[PIPE_DEPTH_MAX];
    int head, inflight;
} pipe_conn_t;

/* Parses host and port out of the server URL and loads the CA for the
 * pipelined driver. */
static int pipe_setup(bench_t *b)
{
    const char *hp = b->server, *colon;
    gnutls_datum_t ca = {.data = b->ca, .size = (unsigned)b->ca_len};

    if (!g_str_has_prefix(hp, "https://")) {
        bench_fail("the server URL is not https://HOST:PORT", b->server);
        return -1;
    }
    hp += strlen("https://");
    colon = strrchr(hp, ':');
    if (!colon || colon == hp || !colon[1] || strchr(colon, '/')) {
        bench_fail("the server URL is not https://HOST:PORT", b->server);
        return -1;
    }
    b->host_port = g_strdup(hp);
    b->port = g_strdup(colon + 1);
    if (hp[0] == '[' && colon[-1] == ']')
        b->host = g_strndup(hp + 1, (gsize)(colon - hp - 2));
    else
        b->host = g_strndup(hp, (gsize)(colon - hp));
    b->req_headers = g_strdup_printf("Host: %s\r\n%s\r\nAccept: application/json\r\n\r\n",
                                     b->host_port, b->auth_header);
    if (gnutls_certificate_allocate_credentials(&b->cred) < 0 ||
        gnutls_certificate_set_x509_trust_mem(b->cred, &ca, GNUTLS_X509_FMT_PEM) <= 0) {
        bench_fail("cannot load the server's CA into GnuTLS", NULL);
        return -1;
    }
    return 0;
}

/* Connects and completes the TLS handshake (blocking), then makes the
 * socket non-blocking. */
static int pipe_conn_open(const bench_t *b, pipe_conn_t *c)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int one = 1, rc;

    c->fd = -1;
    c->out = g_string_sized_new(4096);
    c->in_cap = 2 * PIPE_READ_CHUNK;
    c->in = g_malloc(c->in_cap);
    if ((rc = getaddrinfo(b->host, b->port, &hints, &ai)) != 0) {
        bench_fail("cannot resolve the server's address", gai_strerror(rc));
        return -1;
    }
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        bench_fail("cannot connect to the server", g_strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    gnutls_init(&c->tls, GNUTLS_CLIENT);
    gnutls_set_default_priority(c->tls);
    gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, b->cred);
    gnutls_session_set_verify_cert(c->tls, b->host, 0);
    gnutls_transport_set_int(c->tls, c->fd);
    gnutls_handshake_set_timeout(c->tls, GNUTLS_DEFAULT_HANDSHAKE_TIMEOUT);
    do
        rc = gnutls_handshake(c->tls);
    while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) {
        bench_fail("the TLS handshake failed", gnutls_strerror(rc));
        return -1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

static void pipe_conn_close(pipe_conn_t *c)
{
    if (c->tls)
        gnutls_deinit(c->tls);
    if (c->fd >= 0)
        close(c->fd);
    if (c->out)
        g_string_free(c->out, TRUE);
    g_free(c->in);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->dead = true;
}

/* Counts a failed request, showing the first few. */
static void pipe_failed(load_t *l, size_t i, long status, const char *what, const char *body,
                        size_t len)
{
    if (g_atomic_int_add(&l->failures, 1) < 5)
        fprintf(stderr, "bench-api: request %zu failed: %s, status %ld: %.*s\n", i, what,
                status, (int)MIN(len, 300), body ? body : "");
}

/* The connection broke: its requests in flight fail. */
static void pipe_conn_fail(load_t *l, pipe_conn_t *c, const char *why)
{
    for (int k = 0; k < c->inflight; k++)
        pipe_failed(l, c->ring[(c->head + k) % PIPE_DEPTH_MAX], -1, why, NULL, 0);
    c->inflight = 0;
    c->dead = true;
}

static void pipe_want_out(int epfd, pipe_conn_t *c, bool want)
{
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};

    if (c->want_out != want && epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = want;
}

/* Writes what is queued, as far as the socket takes it. */
static void pipe_flush(load_t *l, int epfd, pipe_conn_t *c)
{
    while (c->out->len > 0) {
        ssize_t n = gnutls_record_send(c->tls, c->out->str, c->out->len);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            c->out_again = true;
            pipe_want_out(epfd, c, true);
            return;
        }
        c->out_again = false;
        if (n < 0) {
            pipe_conn_fail(l, c, gnutls_strerror((int)n));
            return;
        }
        g_string_erase(c->out, 0, n);
    }
    pipe_want_out(epfd, c, false);
}

/* Tops the connection up to `depth` requests in flight and sends them. */
static void pipe_fill(load_t *l, int epfd, pipe_conn_t *c, bool *exhausted)
{
    char path[256];
    size_t i;
    gint64 now = now_us();

    if (c->out_again) /* GnuTLS must first finish the record it began */
        return;
    /* Top up in batches of half the depth: the server then reads several
     * requests per TLS record and per wake-up, not one. */
    if (c->inflight > l->depth / 2)
        return;
    while (!*exhausted && c->inflight < l->depth) {
        if (!load_claim(l, &i)) {
            *exhausted = true;
            break;
        }
        l->ops->path(l->ctx, i, path, sizeof(path));
        g_string_append_printf(c->out, "GET %s HTTP/1.1\r\n%s", path, l->b->req_headers);
        c->ring[(c->head + c->inflight) % PIPE_DEPTH_MAX] = i;
        c->t0[(c->head + c->inflight) % PIPE_DEPTH_MAX] = now;
        c->inflight++;
    }
    pipe_flush(l, epfd, c);
}

/* The answer at p: its length when complete (status and body filled), 0
 * when more bytes are needed, -1 when it is malformed or too large. */
static ssize_t pipe_answer(const char *p, size_t n, long *status, const char **body,
                           size_t *blen)
{
    const char *end = memmem(p, n, "\r\n\r\n", 4), *line;
    size_t hlen, clen = SIZE_MAX;

    if (!end)
        return n > PIPE_MAX_HEAD ? -1 : 0;
    hlen = (size_t)(end - p) + 4;
    if (hlen < 16 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return -1;
    *status = strtol(p + 9, NULL, 10);
    for (line = memchr(p, '\n', hlen) + 1; line < end + 2;
         line = memchr(line, '\n', (size_t)(end + 2 - line)) + 1) {
        if (g_ascii_strncasecmp(line, "Content-Length:", 15) == 0)
            clen = strtoull(line + 15, NULL, 10);
        else if (g_ascii_strncasecmp(line, "Transfer-Encoding:", 18) == 0)
            return -1;
    }
    if (clen > PIPE_MAX_ANSWER)
        return -1;
    if (n < hlen + clen)
        return 0;
    *body = p + hlen;
    *blen = clen;
    return (ssize_t)(hlen + clen);
}

/* Reads what arrived and judges the complete answers. */
static void pipe_read(load_t *l, pipe_conn_t *c)
{
    size_t used = 0;
    gint64 t1;

    do {
        ssize_t n;
        if (c->in_cap - c->in_len < PIPE_READ_CHUNK) {
            if (c->in_cap >= PIPE_MAX_HEAD + PIPE_MAX_ANSWER) {
                pipe_conn_fail(l, c, "an answer is too large");
                return;
            }
            c->in_cap *= 2;
            c->in = g_realloc(c->in, c->in_cap);
        }
        n = gnutls_record_recv(c->tls, c->in + c->in_len, c->in_cap - c->in_len);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
            break;
        if (n <= 0) {
            pipe_conn_fail(l, c, n == 0 ? "the server closed the connection"
                                        : gnutls_strerror((int)n));
            return;
        }
        c->in_len += (size_t)n;
    } while (gnutls_record_check_pending(c->tls) > 0);

    t1 = now_us();
    while (c->inflight > 0) {
        const char *body = NULL;
        size_t blen = 0, i = c->ring[c->head];
        long status = -1;
        ssize_t n = pipe_answer(c->in + used, c->in_len - used, &status, &body, &blen);
        if (n == 0)
            break;
        if (n < 0) {
            pipe_conn_fail(l, c, "a malformed answer");
            return;
        }
        l->lat_ms[i] = (double)(t1 - c->t0[c->head]) / 1000.0;
        if (l->done_us)
            l->done_us[i] = t1;
        if (!l->ops->check(l->ctx, i, status, body, blen))
            pipe_failed(l, i, status, "unexpected answer", body, blen);
        c->head = (c->head + 1) % PIPE_DEPTH_MAX;
        c->inflight--;
        used += (size_t)n;
    }
    if (c->inflight == 0 && used < c->in_len) {
        pipe_conn_fail(l, c, "an answer nobody asked for");
        return;
    }
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
}

static gpointer pipe_thread_main(gpointer data)
{
    load_thread_t *t = data;
    load_t *l = t->l;
    pipe_conn_t *conns = g_new0(pipe_conn_t, (gsize)t->conns);
    int epfd = epoll_create1(EPOLL_CLOEXEC), live = 0;
    bool exhausted = false;
    gint64 last_progress = now_us();

    for (int k = 0; k < t->conns; k++) {
        pipe_conn_t *c = &conns[k];
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (pipe_conn_open(l->b, c) < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            pipe_conn_close(c);
            continue;
        }
        g_atomic_int_inc(&l->connects);
        live++;
    }
    for (int k = 0; k < t->conns; k++)
        if (!conns[k].dead)
            pipe_fill(l, epfd, &conns[k], &exhausted);
    while (live > 0) {
        struct epoll_event evs[64];
        int n, busy = 0;

        for (int k = 0; k < t->conns; k++) {
            if (conns[k].dead && conns[k].tls) {
                pipe_conn_close(&conns[k]);
                live--;
            }
            busy += conns[k].inflight;
        }
        if (busy == 0 && (exhausted || live == 0))
            break;
        n = epoll_wait(epfd, evs, G_N_ELEMENTS(evs), 1000);
        if (n > 0)
            last_progress = now_us();
        else if (now_us() - last_progress > PIPE_STALL_US) {
            for (int k = 0; k < t->conns; k++)
                if (!conns[k].dead)
                    pipe_conn_fail(l, &conns[k], "no answer in 120 s");
            continue;
        }
        for (int k = 0; k < n; k++) {
            pipe_conn_t *c = evs[k].data.ptr;
            if (c->dead)
                continue;
            if (evs[k].events & EPOLLOUT)
                pipe_flush(l, epfd, c);
            if (!c->dead && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                pipe_read(l, c);
            if (!c->dead)
                pipe_fill(l, epfd, c, &exhausted);
        }
    }
    /* Requests claimed by no connection (all of them broke) fail too. */
    while (!exhausted) {
        size_t i;
        if (!load_claim(l, &i))
            break;
        pipe_failed(l, i, -1, "no connection to send it on", NULL, 0);
    }
    for (int k = 0; k < t->conns; k++)
        if (!conns[k].dead || conns[k].tls)
            pipe_conn_close(&conns[k]);
    close(epfd);
    g_free(conns);
    return NULL;
}

/* Runs the load; returns the requests per second it achieved. */
static double load_run(load_t *l)
{
    GThread **th;
    load_thread_t *lt;
    gint64 t_end;

    l->threads = MAX(1, MIN(l->threads, l->conns)); /* no thread without a connection */
    th = g_new0(GThread *, (gsize)l->threads);
    lt = g_new0(load_thread_t, (gsize)l->threads);
    l->lat_ms = g_new0(double, l->total);
    l->start_us = now_us();
    for (int k = 0; k < l->threads; k++) {
        lt[k].l = l;
        lt[k].conns = l->conns / l->threads + (k < l->conns % l->threads);
        th[k] = g_thread_new("load", l->depth > 0 ? pipe_thread_main : load_thread_main,
                             &lt[k]);
    }
    for (int k = 0; k < l->threads; k++)
        g_thread_join(th[k]);
    t_end = now_us();
    g_free(th);
    g_free(lt);
    return (double)l->total * 1e6 / (double)(t_end - l->start_us);
}

/* ---- 1. creates --------------------------------------------------------- */

typedef struct create_ctx {
    const bench_t *b;
    char **names;
    char **bodies;
    char **stored; /* the server's answer: the document as stored */
} create_ctx_t;

static void create_prepare(void *ctx, CURL *h, size_t i)
{
    create_ctx_t *c = ctx;
    bench_set_url(c->b, h, BENCH_VM_PATH);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->bodies[i]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->bodies[i]));
}

static bool create_check(void *ctx, size_t i, long status, const char *body, size_t len)
{
    create_ctx_t *c = ctx;
    if (status != 201)
        return false;
    if (c->stored)
        c->stored[i] = g_strndup(body, len);
    return true;
}

/* ---- 2. gets ------------------------------------------------------------ */

typedef struct get_ctx {
    const bench_t *b;
    const char *path_fmt; /* with one %d, or NULL: path is fixed */
    const char *path;
    int objects;
    guint32 *pick;        /* per request: which object */
} get_ctx_t;

static void get_path(void *ctx, size_t i, char *buf, size_t size)
{
    get_ctx_t *g = ctx;

    if (g->pick)
        snprintf(buf, size, BENCH_VM_PATH "/vm-%05u", (unsigned)g->pick[i]);
    else
        g_strlcpy(buf, g->path, size);
}

static void get_prepare(void *ctx, CURL *h, size_t i)
{
    get_ctx_t *g = ctx;
    char path[256];

    get_path(ctx, i, path, sizeof(path));
    bench_set_url(g->b, h, path);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
}

static bool get_check(void *ctx, size_t i, long status, const char *body, size_t len)
{
    get_ctx_t *g = ctx;
    char want[64];
    int n;

    if (status != 200)
        return false;
    if (!g->pick)
        return true;
    n = snprintf(want, sizeof(want), "\"name\":\"vm-%05u\"", (unsigned)g->pick[i]);
    return memmem(body, len, want, (size_t)n) != NULL;
}

/* ---- 4. watch fan-out --------------------------------------------------- */

typedef struct watch_test watch_test_t;

typedef struct watcher {
    watch_test_t *wt;
    int id;
    CURL *h;
    GString *line;     /* an incomplete line */
    gint64 *recv_us;   /* per write: when its ADDED arrived, 0 if not yet */
    size_t events;     /* writes seen */
    size_t seq_len;    /* events between probe and fence, all kinds */
    guint64 seq_hash;  /* of their types and revisions */
    int64_t last_rv;
    bool probe_seen;
    bool fence_seen;   /* later events are not counted */
    bool ended;
    char *problem;     /* the first thing wrong with this stream */
} watcher_t;

struct watch_test {
    const bench_t *b;
    watcher_t *w;
    int n;
    size_t writes;
    int64_t from_rv;
    gint stop;         /* atomic: watcher threads end */
    gint probes;       /* atomic: watchers that saw the probe */
    gint fences;       /* atomic: watchers that saw the fence */
    gint failed;       /* atomic: watchers with a problem */
};

static void watcher_problem(watcher_t *w, char *msg /* stolen */)
{
    if (w->problem) {
        g_free(msg);
        return;
    }
    w->problem = msg;
    g_atomic_int_inc(&w->wt->failed);
}

/* Copies the JSON string value after `key` in [p, end) into out. */
static bool scan_string(const char *p, const char *end, const char *key, char *out,
                        size_t outlen)
{
    const char *at = memmem(p, (size_t)(end - p), key, strlen(key)), *q;
    size_t n;

    if (!at)
        return false;
    at += strlen(key);
    q = memchr(at, '"', (size_t)(end - at));
    if (!q || (n = (size_t)(q - at)) >= outlen)
        return false;
    memcpy(out, at, n);
    out[n] = '\0';
    return true;
}

/* Folds one event into a watcher's sequence hash (FNV-1a). */
static guint64 seq_fold(guint64 h, char type, int64_t rv)
{
    unsigned char bytes[9];
    bytes[0] = (unsigned char)type;
    memcpy(bytes + 1, &rv, 8);
    for (size_t i = 0; i < sizeof(bytes); i++)
        h = (h ^ bytes[i]) * 1099511628211ull;
    return h;
}

/* One watch event.  The stream must be in revision order; between the probe
 * and the fence every watcher must see the same events (the VM controller
 * adds MODIFIED ones of its own), each write's ADDED among them exactly
 * once.  A VirtualMachine's metadata comes first and holds no other "name"
 * or "resourceVersion" before its own; watcher 0 checks that with jansson. */
static void watcher_line(watcher_t *w, const char *line, size_t len, gint64 now)
{
    const char *end = line + len, *md;
    char type[32], name[128], rvs[32];
    int64_t rv;
    long k;

    if (!scan_string(line, end, "{\"type\":\"", type, sizeof(type)) ||
        !(md = memmem(line, len, "\"metadata\":{", strlen("\"metadata\":{"))) ||
        !scan_string(md, end, "\"name\":\"", name, sizeof(name)) ||
        !scan_string(md, end, "\"resourceVersion\":\"", rvs, sizeof(rvs))) {
        watcher_problem(w, g_strdup_printf("unexpected line: %.*s", (int)MIN(len, 200), line));
        return;
    }
    if (w->id == 0) {
        json_t *ev = json_loadb(line, len, 0, NULL);
        const char *jt = NULL, *jn = NULL, *jrv = NULL;
        json_unpack(ev, "{s:s,s:{s:{s:s,s:s}}}", "type", &jt, "object", "metadata", "name",
                    &jn, "resourceVersion", &jrv);
        if (!jt || !jn || !jrv || strcmp(jt, type) || strcmp(jn, name) || strcmp(jrv, rvs))
            watcher_problem(w, g_strdup_printf("line scanned wrongly: %.*s", (int)MIN(len, 200), line));
        json_decref(ev);
    }
    rv = g_ascii_strtoll(rvs, NULL, 10);
    if (rv <= w->last_rv) {
        watcher_problem(w, g_strdup_printf("revision %lld came after %lld", (long long)rv,
                                           (long long)w->last_rv));
        return;
    }
    w->last_rv = rv;
    if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED") && strcmp(type, "DELETED")) {
        watcher_problem(w, g_strdup_printf("%s event: %.*s", type, (int)MIN(len, 200), line));
        return;
    }
    if (w->fence_seen)
        return;
    if (!w->probe_seen) {
        if (!strcmp(name, BENCH_PROBE_NAME) && !strcmp(type, "ADDED")) {
            w->probe_seen = true;
            g_atomic_int_inc(&w->wt->probes);
        }
        return;
    }
    w->seq_len++;
    w->seq_hash = seq_fold(w->seq_hash, type[0], rv);
    if (!strcmp(name, BENCH_FENCE_NAME) && !strcmp(type, "ADDED")) {
        w->fence_seen = true;
        g_atomic_int_inc(&w->wt->fences);
        return;
    }
    if (strcmp(type, "ADDED") || sscanf(name, "vm-w-%ld", &k) != 1 || k < 0 ||
        (size_t)k >= w->wt->writes)
        return;
    if (w->recv_us[k]) {
        watcher_problem(w, g_strdup_printf("%s was ADDED twice", name));
        return;
    }
    w->recv_us[k] = now;
    w->events++;
}

/* Lines are read where curl put them; only a line cut at the end of a
 * piece is kept (in w->line) until the rest arrives. */
static size_t watcher_cb(char *data, size_t size, size_t n, void *userdata)
{
    watcher_t *w = userdata;
    gint64 now = now_us();
    size_t len = size * n;
    GString *buf = w->line;
    const char *p = data, *end = data + len, *nl;

    if (buf->len > 0) {
        if (!(nl = memchr(p, '\n', len))) {
            g_string_append_len(buf, p, (gssize)len);
            return len;
        }
        g_string_append_len(buf, p, nl - p);
        watcher_line(w, buf->str, buf->len, now);
        g_string_truncate(buf, 0);
        p = nl + 1;
    }
    while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
        if (nl > p)
            watcher_line(w, p, (size_t)(nl - p), now);
        p = nl + 1;
    }
    g_string_append_len(buf, p, end - p);
    return len;
}

/* The watches one client thread reads, through epoll and
 * curl_multi_socket_action so that a wake-up costs what is ready, not what
 * is open. */
typedef struct watch_group {
    watch_test_t *wt;
    int first, count;
    int epfd;
    gint64 timer_us;   /* when curl wants its timeout action, -1: never */
} watch_group_t;

static int watch_socket_cb(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    watch_group_t *g = userp;
    struct epoll_event ev = {.data.fd = fd};

    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(g->epfd, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    if (epoll_ctl(g->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
        epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static int watch_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
    watch_group_t *g = userp;
    g->timer_us = timeout_ms < 0 ? -1 : now_us() + timeout_ms * 1000;
    return 0;
}

static void watch_reap(watch_group_t *g, CURLM *m)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(m, &left))) {
        watcher_t *w;
        long status = -1;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &status);
        w->ended = true;
        watcher_problem(w, g_strdup_printf("the stream ended early: %s, status %ld",
                                           curl_easy_strerror(msg->data.result), status));
        curl_multi_remove_handle(m, w->h);
    }
}

static gpointer watch_thread_main(gpointer data)
{
    watch_group_t *g = data;
    watch_test_t *wt = g->wt;
    CURLM *m = curl_multi_init();
    char *path = g_strdup_printf("%s?watch=1&resourceVersion=%lld", BENCH_VM_PATH,
                                 (long long)wt->from_rv);
    struct epoll_event evs[256];
    int running;

    g->epfd = epoll_create1(EPOLL_CLOEXEC);
    g->timer_us = -1;
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)g->count + 4);
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, watch_socket_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, g);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, watch_timer_cb);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, g);
    for (int k = g->first; k < g->first + g->count; k++) {
        watcher_t *w = &wt->w[k];
        w->h = bench_handle_new(wt->b, NULL, 0);
        curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, watcher_cb);
        curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
        curl_easy_setopt(w->h, CURLOPT_PRIVATE, w);
        curl_easy_setopt(w->h, CURLOPT_HTTPGET, 1L);
        bench_set_url(wt->b, w->h, path);
        curl_multi_add_handle(m, w->h);
    }
    while (!g_atomic_int_get(&wt->stop)) {
        gint64 now = now_us();
        int wait_ms = 20, n;

        if (g->timer_us >= 0)
            wait_ms = (int)CLAMP((g->timer_us - now + 999) / 1000, 0, 20);
        n = epoll_wait(g->epfd, evs, G_N_ELEMENTS(evs), wait_ms);
        for (int i = 0; i < n; i++) {
            int mask = ((evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                       ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                       ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(m, evs[i].data.fd, mask, &running);
        }
        if (g->timer_us >= 0 && now_us() >= g->timer_us) {
            g->timer_us = -1;
            curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        watch_reap(g, m);
    }
    for (int k = g->first; k < g->first + g->count; k++) {
        curl_multi_remove_handle(m, wt->w[k].h);
        curl_easy_cleanup(wt->w[k].h);
        wt->w[k].h = NULL;
    }
    curl_multi_cleanup(m);
    close(g->epfd);
    g_free(path);
    return NULL;
}

typedef struct watch_result {
    int watchers;
    int complete;      /* watchers that saw every write, in order */
    gint64 delivered;  /* creates' ADDED events seen, all watchers */
    gint64 expected;
    size_t seq_len;    /* events per stream between probe and fence */
    double p50_ms, p99_ms, max_ms;
    double write_rate;
    int write_failures;
    bool ok;
} watch_result_t;

typedef struct write_ctx {
    const bench_t *b;
    char **bodies;
} write_ctx_t;

static void write_prepare(void *ctx, CURL *h, size_t i)
{
    write_ctx_t *c = ctx;
    bench_set_url(c->b, h, BENCH_VM_PATH);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->bodies[i]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(c->bodies[i]));
}

static bool write_check(void *ctx, size_t i, long status, const char *body, size_t len)
{
    return status == 201;
}

/* Polls `cond` every 10 ms for up to `timeout_s`; returns whether it held. */
static bool wait_for(bool (*cond)(watch_test_t *), watch_test_t *wt, double timeout_s)
{
    gint64 until = now_us() + (gint64)(timeout_s * 1e6);
    while (!cond(wt)) {
        if (now_us() > until)
            return cond(wt);
        g_usleep(10000);
    }
    return true;
}

static bool all_probed(watch_test_t *wt)
{
    return g_atomic_int_get(&wt->probes) + g_atomic_int_get(&wt->failed) >= wt->n;
}

static bool all_fenced(watch_test_t *wt)
{
    return g_atomic_int_get(&wt->fences) + g_atomic_int_get(&wt->failed) >= wt->n;
}

static void watch_run(const bench_t *b, int64_t from_rv, watch_result_t *r)
{
    watch_test_t wt = {.b = b, .n = b->watchers, .writes = (size_t)b->watch_writes,
                       .from_rv = from_rv};
    int nthreads = MAX(1, MIN(b->watch_threads, b->watchers));
    GThread **th = g_new0(GThread *, (gsize)nthreads);
    watch_group_t *groups = g_new0(watch_group_t, (gsize)nthreads);
    write_ctx_t wc = {.b = b, .bodies = g_new0(char *, wt.writes)};
    load_t l = {.b = b, .total = wt.writes, .conns = b->writer_conns, .threads = 1,
                .rate = b->watch_rate};
    static const load_ops_t write_ops = {write_prepare, NULL, write_check};
    GString *out = g_string_new(NULL);
    CURL *h = bench_handle_new(b, out, 60);
    char *probe = vm_body_new(BENCH_PROBE_NAME), *fence = vm_body_new(BENCH_FENCE_NAME);
    GHashTable *seqs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    char common_seq[64] = "";
    guint common_count = 0;
    int shown = 0;
    double *lat = NULL;
    size_t nlat = 0;
    int first = 0;

    memset(r, 0, sizeof(*r));
    r->watchers = wt.n;
    r->expected = (gint64)wt.writes * wt.n;
    wt.w = g_new0(watcher_t, (gsize)wt.n);
    for (int k = 0; k < wt.n; k++) {
        wt.w[k].wt = &wt;
        wt.w[k].id = k;
        wt.w[k].line = g_string_sized_new(1024);
        wt.w[k].recv_us = g_new0(gint64, wt.writes);
        wt.w[k].last_rv = from_rv;
    }
    for (size_t i = 0; i < wt.writes; i++) {
        char name[32];
        snprintf(name, sizeof(name), "vm-w-%04zu", i);
        wc.bodies[i] = vm_body_new(name);
    }

    fprintf(stderr, "bench-api: opening %d watches at resourceVersion %lld\n", wt.n,
            (long long)from_rv);
    for (int k = 0; k < nthreads; k++) {
        groups[k].wt = &wt;
        groups[k].first = first;
        groups[k].count = wt.n / nthreads + (k < wt.n % nthreads);
        first += groups[k].count;
        th[k] = g_thread_new("watch", watch_thread_main, &groups[k]);
    }

    /* Every stream is live once it delivered the probe. */
    if (bench_request(b, h, BENCH_VM_PATH, probe, out) != 201) {
        bench_fail("the watch probe was not created", out->str);
        r->write_failures = 1;
        goto stop;
    }
    for (int waited = 0; waited < 60 && !wait_for(all_probed, &wt, 1.0); waited++)
        fprintf(stderr, "bench-api: %d of %d watches live\n", g_atomic_int_get(&wt.probes),
                wt.n);
    fprintf(stderr, "bench-api: %d of %d watches live; %zu creates at %.0f/s\n",
            g_atomic_int_get(&wt.probes), wt.n, wt.writes, b->watch_rate);

    l.ops = &write_ops;
    l.ctx = &wc;
    l.done_us = g_new0(gint64, wt.writes);
    r->write_rate = load_run(&l);
    r->write_failures = g_atomic_int_get(&l.failures);
    fprintf(stderr, "bench-api: the watched creates ran at %.0f/s\n", r->write_rate);
    if (bench_request(b, h, BENCH_VM_PATH, fence, out) != 201) {
        bench_fail("the watch fence was not created", out->str);
        r->write_failures++;
        goto stop;
    }
    wait_for(all_fenced, &wt, 60.0);
stop:
    g_atomic_int_set(&wt.stop, 1);
    for (int k = 0; k < nthreads; k++)
        g_thread_join(th[k]);

    /* Every watcher must have seen the sequence most of them saw. */
    for (int k = 0; k < wt.n; k++) {
        watcher_t *w = &wt.w[k];
        char *key = g_strdup_printf("%zu/%" G_GUINT64_FORMAT, w->seq_len, w->seq_hash);
        guint c = GPOINTER_TO_UINT(g_hash_table_lookup(seqs, key)) + 1;
        if (c > common_count) {
            common_count = c;
            g_strlcpy(common_seq, key, sizeof(common_seq));
        }
        g_hash_table_replace(seqs, key, GUINT_TO_POINTER(c));
    }
    lat = g_new(double, (gsize)r->expected);
    for (int k = 0; k < wt.n; k++) {
        watcher_t *w = &wt.w[k];
        char key[64];
        snprintf(key, sizeof(key), "%zu/%" G_GUINT64_FORMAT, w->seq_len, w->seq_hash);
        if (!w->problem && !w->fence_seen)
            watcher_problem(w, g_strdup("the fence never arrived"));
        else if (!w->problem && strcmp(key, common_seq))
            watcher_problem(w, g_strdup_printf("its events (count/hash %s) differ from most "
                                               "watchers' (%s)", key, common_seq));
        else if (!w->problem && w->events != wt.writes)
            watcher_problem(w, g_strdup_printf("saw %zu of %zu creates", w->events, wt.writes));
        if (w->problem && ++shown <= 10)
            fprintf(stderr, "bench-api: watcher %d: %s\n", k, w->problem);
        if (!w->problem)
            r->complete++;
        r->delivered += (gint64)w->events;
        r->seq_len = MAX(r->seq_len, w->seq_len);
        for (size_t i = 0; l.done_us && i < wt.writes; i++)
            if (w->recv_us[i] && l.done_us[i])
                lat[nlat++] = (double)(w->recv_us[i] - l.done_us[i]) / 1000.0;
    }
    if (wt.failed > 0)
        fprintf(stderr, "bench-api: %d watchers had problems\n", wt.failed);
    r->p50_ms = percentile(lat, nlat, 50);
    r->p99_ms = percentile(lat, nlat, 99);
    r->max_ms = nlat ? lat[nlat - 1] : NAN;
    r->ok = r->complete == wt.n && r->write_failures == 0;

    for (int k = 0; k < wt.n; k++) {
        g_string_free(wt.w[k].line, TRUE);
        g_free(wt.w[k].recv_us);
        g_free(wt.w[k].problem);
    }
    for (size_t i = 0; i < wt.writes; i++)
        g_free(wc.bodies[i]);
    g_free(wc.bodies);
    g_free(wt.w);
    g_free(l.lat_ms);
    g_free(l.done_us);
    g_free(lat);
    g_free(th);
    g_free(groups);
    g_free(probe);
    g_free(fence);
    g_hash_table_destroy(seqs);
    curl_easy_cleanup(h);
    g_string_free(out, TRUE);
}

/* ---- baseline: durable SQLite inserts ----------------------------------- */

static int sqlite_run(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        bench_fail(sql, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Inserts the documents as the server's SQLite backend does (same schema,
 * WAL, synchronous=FULL, the revision row written with every commit),
 * `batch` rows per transaction.  Returns inserts per second, or -1. */
static double sqlite_insert_rate(const char *path, char **docs, size_t n, size_t batch)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *put = NULL, *setrev = NULL;
    double rate = -1;
    gint64 t0;

    if (sqlite3_open(path, &db) != SQLITE_OK) {
        bench_fail("cannot open the baseline database", path);
        goto cleanup;
    }
    if (sqlite_run(db, "PRAGMA journal_mode=WAL") < 0 ||
        sqlite_run(db, "PRAGMA synchronous=FULL") < 0 ||
        sqlite_run(db, "CREATE TABLE objects (key TEXT PRIMARY KEY NOT NULL,"
                       " rv INTEGER NOT NULL, value BLOB NOT NULL)") < 0 ||
        sqlite_run(db, "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL,"
                       " value INTEGER NOT NULL)") < 0)
        goto cleanup;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO objects(key, rv, value) VALUES (?, ?, ?)",
                           -1, &put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(name, value) VALUES ('revision', ?)",
                           -1, &setrev, NULL) != SQLITE_OK) {
        bench_fail("cannot prepare the baseline statements", sqlite3_errmsg(db));
        goto cleanup;
    }
    t0 = now_us();
    for (size_t i = 0; i < n; i += batch) {
        size_t j;
        if (sqlite_run(db, "BEGIN IMMEDIATE") < 0)
            goto cleanup;
        for (j = i; j < n && j < i + batch; j++) {
            char key[128];
            snprintf(key, sizeof(key), BENCH_STORE_PREFIX "vm-%05zu", j);
            sqlite3_bind_text(put, 1, key, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(put, 2, (sqlite3_int64)j + 1);
            sqlite3_bind_blob(put, 3, docs[j], (int)strlen(docs[j]), SQLITE_STATIC);
            if (sqlite3_step(put) != SQLITE_DONE) {
                bench_fail("a baseline insert failed", sqlite3_errmsg(db));
                goto cleanup;
            }
            sqlite3_reset(put);
        }
        sqlite3_bind_int64(setrev, 1, (sqlite3_int64)j);
        if (sqlite3_step(setrev) != SQLITE_DONE) {
            bench_fail("a baseline insert failed", sqlite3_errmsg(db));
            goto cleanup;
        }
        sqlite3_reset(setrev);
        if (sqlite_run(db, "COMMIT") < 0)
            goto cleanup;
    }
    rate = (double)n * 1e6 / (double)(now_us() - t0);
cleanup:
    sqlite3_finalize(put);
    sqlite3_finalize(setrev);
    sqlite3_close(db);
    return rate;
}

/* ---- the table ---------------------------------------------------------- */

typedef struct row {
    char *figure, *value, *target, *baseline, *ratio, *result;
} row_t;

/* Takes figure, value and baseline (NULL: none). */
static void row_add(GArray *rows, char *figure, char *value, const char *target,
                    char *baseline, double ratio, const char *result)
{
    row_t r = {
        .figure = figure,
        .value = value,
        .target = g_strdup(target ? target : "-"),
        .baseline = baseline ? baseline : g_strdup("-"),
        .ratio = isfinite(ratio) ? g_strdup_printf("%.2fx", ratio) : g_strdup("-"),
        .result = g_strdup(result ? result : ""),
    };
    g_array_append_val(rows, r);
}

static const char *verdict(bool met)
{
    return met ? "ok" : "MISSED";
}

static void table_print(GArray *rows)
{
    static const char *const head[] = {"figure", "value", "target", "baseline",
                                       "ratio", "result"};
    int w[6];

    for (int c = 0; c < 6; c++)
        w[c] = (int)strlen(head[c]);
    for (guint i = 0; i < rows->len; i++) {
        row_t *r = &g_array_index(rows, row_t, i);
        const char *cells[] = {r->figure, r->value, r->target, r->baseline, r->ratio,
                               r->result};
        for (int c = 0; c < 6; c++)
            w[c] = MAX(w[c], (int)strlen(cells[c]));
    }
    printf("%-*s  %*s  %-*s  %*s  %*s  %s\n", w[0], head[0], w[1], head[1], w[2], head[2],
           w[3], head[3], w[4], head[4], head[5]);
    for (guint i = 0; i < rows->len; i++) {
        row_t *r = &g_array_index(rows, row_t, i);
        printf("%-*s  %*s  %-*s  %*s  %*s  %s\n", w[0], r->figure, w[1], r->value, w[2],
               r->target, w[3], r->baseline, w[4], r->ratio, r->result);
        g_free(r->figure);
        g_free(r->value);
        g_free(r->target);
        g_free(r->baseline);
        g_free(r->ratio);
        g_free(r->result);
    }
}

/* ---- main --------------------------------------------------------------- */

static void raise_nofile(rlim_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want;
    if (rl.rlim_max < want)
        rl.rlim_max = want; /* works as root */
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        fprintf(stderr, "bench-api: could raise RLIMIT_NOFILE only to %llu\n",
                (unsigned long long)rl.rlim_cur);
    }
}

static int parse_options(bench_t *b, int argc, char **argv)
{
    GOptionEntry entries[] = {
        {"kubeconfig", 0, 0, G_OPTION_ARG_FILENAME, &b->kubeconfig,
         "the server's kubeconfig (required)", "PATH"},
        {"server-pid", 0, 0, G_OPTION_ARG_INT, &b->server_pid,
         "the server's pid, for its memory (required)", "PID"},
        {"scratch", 0, 0, G_OPTION_ARG_FILENAME, &b->scratch,
         "an empty directory for the SQLite baseline (required)", "DIR"},
        {"objects", 0, 0, G_OPTION_ARG_INT, &b->objects, "VMs to create (10000)", "N"},
        {"conns", 0, 0, G_OPTION_ARG_INT, &b->conns,
         "concurrent connections for creates and gets (48)", "N"},
        {"threads", 0, 0, G_OPTION_ARG_INT, &b->threads, "client threads (2)", "N"},
        {"gets", 0, 0, G_OPTION_ARG_INT, &b->gets, "gets to time (50000)", "N"},
        {"client", 0, 0, G_OPTION_ARG_STRING, &b->client,
         "what drives the gets and /healthz: pipe (HTTP/1.1 pipelining) or curl (pipe)",
         "NAME"},
        {"depth", 0, 0, G_OPTION_ARG_INT, &b->depth,
         "pipe: requests in flight per connection (8)", "N"},
        {"list-runs", 0, 0, G_OPTION_ARG_INT, &b->list_runs, "full lists to time (5)", "N"},
        {"watchers", 0, 0, G_OPTION_ARG_INT, &b->watchers, "watch streams (1000)", "N"},
        {"watch-writes", 0, 0, G_OPTION_ARG_INT, &b->watch_writes,
         "creates while watched (1000)", "N"},
        {"watch-rate", 0, 0, G_OPTION_ARG_DOUBLE, &b->watch_rate,
         "their pace per second (100)", "R"},
        {"watch-threads", 0, 0, G_OPTION_ARG_INT, &b->watch_threads,
         "client threads reading watches (2)", "N"},
        {"writer-conns", 0, 0, G_OPTION_ARG_INT, &b->writer_conns,
         "connections for the paced creates (8)", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *oc = g_option_context_new("- benchmark a running vmsvc API server");
    GError *gerr = NULL;
    int rc = 0;

    g_option_context_add_main_entries(oc, entries, NULL);
    if (!g_option_context_parse(oc, &argc, &argv, &gerr)) {
        bench_fail("bad options", gerr->message);
        rc = -1;
    } else if (!b->kubeconfig || b->server_pid <= 0 || !b->scratch) {
        bench_fail("--kubeconfig, --server-pid and --scratch are required", NULL);
        rc = -1;
    } else if (b->client && strcmp(b->client, "pipe") != 0 && strcmp(b->client, "curl") != 0) {
        bench_fail("--client is pipe or curl", b->client);
        rc = -1;
    } else if (b->objects < 1 || b->objects > 99999 || b->conns < 1 || b->threads < 1 ||
               b->gets < 1 || b->list_runs < 1 || b->watchers < 1 || b->watch_writes < 1 ||
               b->watch_writes > BENCH_MAX_WRITES || b->watch_rate <= 0 ||
               b->watch_threads < 1 || b->writer_conns < 1 || b->depth < 1 ||
               b->depth > PIPE_DEPTH_MAX) {
        bench_fail("an option is out of range", NULL);
        rc = -1;
    }
    g_clear_error(&gerr);
    g_option_context_free(oc);
    return rc;
}

/* What the phases measured, for the table. */
typedef struct results {
    double create_rate, get_rate, health_rate, sqlite_one, sqlite_batch;
    double create_p50, create_p99, get_p50, get_p99, health_p50, health_p99;
    double list_p50_ms;
    size_t list_items, list_bytes;
    int64_t list_rv;
    long hwm_idle_kib, hwm_full_kib, hwm_watch_kib;
    double create_cpu_ms; /* server CPU per create, its controllers' work included */
    watch_result_t watch;
    bool broken; /* the server failed a request or a check */
} results_t;

/* 1. Creates the VMs; keeps the stored documents for the SQLite baseline. */
static void phase_creates(const bench_t *b, create_ctx_t *cc, results_t *res)
{
    static const load_ops_t ops = {create_prepare, NULL, create_check};
    load_t l = {.b = b, .ops = &ops, .ctx = cc, .total = (size_t)b->objects,
                .conns = b->conns, .threads = b->threads};

    fprintf(stderr, "bench-api: creating %d VMs over %d connections\n", b->objects, b->conns);
    cc->names = g_new0(char *, (gsize)b->objects);
    cc->bodies = g_new0(char *, (gsize)b->objects);
    cc->stored = g_new0(char *, (gsize)b->objects);
    for (int i = 0; i < b->objects; i++) {
        cc->names[i] = g_strdup_printf("vm-%05d", i);
        cc->bodies[i] = vm_body_new(cc->names[i]);
    }
    res->create_rate = load_run(&l);
    res->create_p50 = percentile(l.lat_ms, l.total, 50);
    res->create_p99 = percentile(l.lat_ms, l.total, 99);
    if (l.failures > 0) {
        fprintf(stderr, "bench-api: %d creates failed\n", l.failures);
        res->broken = true;
    }
    fprintf(stderr, "bench-api: %.0f creates/s, %d connections opened\n", res->create_rate,
            l.connects);
    g_free(l.lat_ms);
}

/* 2. Gets of random names, then the same load on /healthz as a baseline. */
static void phase_gets(const bench_t *b, results_t *res)
{
    static const load_ops_t ops = {get_prepare, get_path, get_check};
    get_ctx_t gc = {.b = b, .objects = b->objects, .pick = g_new(guint32, (gsize)b->gets)};
    get_ctx_t hc = {.b = b, .path = "/healthz"};
    int depth = bench_pipelined(b) ? b->depth : 0;
    load_t gl = {.b = b, .ops = &ops, .ctx = &gc, .total = (size_t)b->gets,
                 .conns = b->conns, .threads = b->threads, .depth = depth};
    load_t hl = {.b = b, .ops = &ops, .ctx = &hc, .total = (size_t)b->gets,
                 .conns = b->conns, .threads = b->threads, .depth = depth};
    GRand *rnd = g_rand_new_with_seed(42);

    fprintf(stderr, "bench-api: %d gets over %d connections, %s\n", b->gets, b->conns,
            depth ? "pipelined" : "libcurl");
    for (int i = 0; i < b->gets; i++)
        gc.pick[i] = (guint32)g_rand_int_range(rnd, 0, b->objects);
    res->get_rate = load_run(&gl);
    res->get_p50 = percentile(gl.lat_ms, gl.total, 50);
    res->get_p99 = percentile(gl.lat_ms, gl.total, 99);
    if (gl.failures > 0) {
        fprintf(stderr, "bench-api: %d gets failed\n", gl.failures);
        res->broken = true;
    }
    fprintf(stderr, "bench-api: %.0f gets/s, %d connections opened\n", res->get_rate,
            gl.connects);
    res->health_rate = load_run(&hl);
    res->health_p50 = percentile(hl.lat_ms, hl.total, 50);
    res->health_p99 = percentile(hl.lat_ms, hl.total, 99);
    if (hl.failures > 0) {
        fprintf(stderr, "bench-api: %d gets of /healthz failed\n", hl.failures);
        res->broken = true;
    }
    g_rand_free(rnd);
    g_free(gc.pick);
    g_free(gl.lat_ms);
    g_free(hl.lat_ms);
}

/* 3. Full lists on one keep-alive connection, the first one untimed; the
 * last one is checked and gives the revision the watches start from. */
static void phase_list(const bench_t *b, results_t *res)
{
    GString *out = g_string_new(NULL);
    CURL *h = bench_handle_new(b, out, 120);
    double *ms = g_new0(double, (gsize)b->list_runs);
    json_t *list = NULL;
    const char *rv;

    fprintf(stderr, "bench-api: %d full lists\n", b->list_runs);
    for (int i = -1; i < b->list_runs; i++) {
        gint64 t0 = now_us();
        long status = bench_request(b, h, BENCH_VM_PATH, NULL, out);
        if (i >= 0)
            ms[i] = (double)(now_us() - t0) / 1000.0;
        if (status != 200) {
            bench_fail("a full list failed", out->str);
            res->broken = true;
            goto cleanup;
        }
    }
    res->list_p50_ms = percentile(ms, (size_t)b->list_runs, 50);
    res->list_bytes = out->len;
    list = json_loadb(out->str, out->len, 0, NULL);
    res->list_items = json_array_size(json_object_get(list, "items"));
    rv = json_string_value(json_object_get(json_object_get(list, "metadata"),
                                           "resourceVersion"));
    res->list_rv = rv ? g_ascii_strtoll(rv, NULL, 10) : 0;
    if (res->list_items != (size_t)b->objects || res->list_rv <= 0) {
        fprintf(stderr, "bench-api: the list has %zu items at revision %lld, expected %d\n",
                res->list_items, (long long)res->list_rv, b->objects);
        res->broken = true;
    }
cleanup:
    json_decref(list);
    g_free(ms);
    curl_easy_cleanup(h);
    g_string_free(out, TRUE);
}

/* The baselines that use the disk, run while the server is idle. */
static void phase_sqlite(const bench_t *b, create_ctx_t *cc, results_t *res)
{
    char *one = g_build_filename(b->scratch, "one.db", NULL);
    char *batch = g_build_filename(b->scratch, "batch.db", NULL);
    bool have = true;

    fprintf(stderr, "bench-api: SQLite baselines\n");
    for (int i = 0; i < b->objects; i++)
        have = have && cc->stored[i];
    if (have) {
        res->sqlite_one = sqlite_insert_rate(one, cc->stored, (size_t)b->objects, 1);
        res->sqlite_batch = sqlite_insert_rate(batch, cc->stored, (size_t)b->objects,
                                               BENCH_SQLITE_BATCH);
    }
    g_free(one);
    g_free(batch);
}

static char *mib(long kib)
{
    return g_strdup_printf("%.1f MiB", (double)kib / 1024.0);
}

static char *msec(double ms)
{
    return g_strdup_printf("%.2f ms", ms);
}

static void report(const bench_t *b, const results_t *r)
{
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(row_t));
    const watch_result_t *w = &r->watch;

    row_add(rows, g_strdup_printf("creates/s (%d VMs, %d conns)", b->objects, b->conns),
            g_strdup_printf("%.0f", r->create_rate), ">= 3000",
            g_strdup_printf("%.0f (SQLite, 1 insert/txn)", r->sqlite_one),
            r->create_rate / r->sqlite_one, verdict(r->create_rate >= 3000));
    row_add(rows, g_strdup("  creates/s vs batched SQLite"),
            g_strdup_printf("%.0f", r->create_rate), NULL,
            g_strdup_printf("%.0f (SQLite, %d inserts/txn)", r->sqlite_batch,
                            BENCH_SQLITE_BATCH),
            r->create_rate / r->sqlite_batch, NULL);
    row_add(rows, g_strdup("  create latency p50"), msec(r->create_p50), NULL, NULL, NAN,
            NULL);
    row_add(rows, g_strdup("  create latency p99"), msec(r->create_p99), NULL, NULL, NAN,
            NULL);
    row_add(rows, g_strdup("  server CPU per create, controllers' work included"),
            msec(r->create_cpu_ms), NULL, NULL, NAN, NULL);
    row_add(rows,
            bench_pipelined(b)
                ? g_strdup_printf("gets/s (random names, %d conns x %d pipelined)", b->conns,
                                  b->depth)
                : g_strdup_printf("gets/s (random names, %d conns, libcurl)", b->conns),
            g_strdup_printf("%.0f", r->get_rate), ">= 20000",
            g_strdup_printf("%.0f (GET /healthz)", r->health_rate),
            r->get_rate / r->health_rate, verdict(r->get_rate >= 20000));
    row_add(rows, g_strdup("  get latency p50"), msec(r->get_p50), NULL,
            msec(r->health_p50), r->get_p50 / r->health_p50, NULL);
    row_add(rows, g_strdup("  get latency p99"), msec(r->get_p99), NULL,
            msec(r->health_p99), r->get_p99 / r->health_p99, NULL);
    row_add(rows,
            g_strdup_printf("full list, %zu VMs, %.1f MB (p50 of %d)", r->list_items,
                            (double)r->list_bytes / 1e6, b->list_runs),
            g_strdup_printf("%.1f ms", r->list_p50_ms), "< 150 ms", NULL, NAN,
            verdict(r->list_p50_ms < 150));
    row_add(rows,
            g_strdup_printf("watch: creates seen (%d streams x %d creates at %.0f/s)",
                            w->watchers, b->watch_writes, b->watch_rate),
            g_strdup_printf("%lld/%lld", (long long)w->delivered, (long long)w->expected),
            "all", NULL, NAN, w->delivered == w->expected ? "ok" : "FAILED");
    row_add(rows,
            g_strdup_printf("  streams in revision order, same %zu events", w->seq_len),
            g_strdup_printf("%d/%d", w->complete, w->watchers), "all", NULL, NAN,
            w->ok ? "ok" : "FAILED");
    row_add(rows, g_strdup("  watch delivery latency p50"), msec(w->p50_ms), NULL, NULL, NAN,
            NULL);
    row_add(rows, g_strdup("  watch delivery latency p99"), msec(w->p99_ms), "< 100 ms", NULL,
            NAN, verdict(w->p99_ms < 100));
    row_add(rows, g_strdup("  watch delivery latency max"), msec(w->max_ms), NULL, NULL, NAN,
            NULL);
    row_add(rows, g_strdup_printf("server VmHWM at %d VMs", b->objects),
            mib(r->hwm_full_kib), "< 300 MiB",
            g_strdup_printf("%.1f MiB (idle, empty)", (double)r->hwm_idle_kib / 1024.0),
            (double)r->hwm_full_kib / (double)r->hwm_idle_kib,
            verdict(r->hwm_full_kib > 0 && r->hwm_full_kib < 300 * 1024));
    row_add(rows, g_strdup("server VmHWM after the watch test"), mib(r->hwm_watch_kib),
            "< 300 MiB",
            g_strdup_printf("%.1f MiB (idle, empty)", (double)r->hwm_idle_kib / 1024.0),
            (double)r->hwm_watch_kib / (double)r->hwm_idle_kib,
            verdict(r->hwm_watch_kib > 0 && r->hwm_watch_kib < 300 * 1024));
    table_print(rows);
    fflush(stdout);
    g_array_free(rows, TRUE);
}

/* The store's revision, from a one-item list; -1 on failure. */
static int64_t bench_revision(const bench_t *b, CURL *h, GString *out)
{
    json_t *list;
    const char *rv;
    int64_t rev = -1;

    if (bench_request(b, h, BENCH_VM_PATH "?limit=1", NULL, out) != 200)
        return -1;
    list = json_loadb(out->str, out->len, 0, NULL);
    rv = json_string_value(json_object_get(json_object_get(list, "metadata"),
                                           "resourceVersion"));
    if (rv)
        rev = g_ascii_strtoll(rv, NULL, 10);
    json_decref(list);
    return rev;
}

/* Waits until the server's controllers are done with what the last phase
 * wrote (no commit for 2 s, at most 120 s), so phases do not overlap. */
static void bench_settle(const bench_t *b, CURL *h, GString *out)
{
    gint64 t0 = now_us(), still_since = t0;
    int64_t rev = bench_revision(b, h, out), cur;

    while (now_us() - still_since < 2 * G_USEC_PER_SEC && now_us() - t0 < 120 * G_USEC_PER_SEC) {
        g_usleep(250000);
        cur = bench_revision(b, h, out);
        if (cur != rev)
            still_since = now_us();
        rev = cur;
    }
    fprintf(stderr, "bench-api: the server settled at revision %lld after %.1f s\n",
            (long long)rev, (double)(now_us() - t0 - 2 * G_USEC_PER_SEC) / 1e6);
}

/* The machine the figures come from: the client shares its CPUs. */
static void print_context(void)
{
    char *load = NULL;
    if (g_file_get_contents("/proc/loadavg", &load, NULL, NULL))
        *strchrnul(load, ' ') = '\0';
    printf("# bench/api: %u CPUs shared by server and client; load average at start %s\n",
           g_get_num_processors(), load ? load : "unknown");
    g_free(load);
}

int main(int argc, char **argv)
{
    bench_t b = {.objects = 10000, .conns = 48, .threads = 2, .gets = 50000, .depth = 8,
                 .list_runs = 5,
                 .watchers = 1000, .watch_writes = 1000, .watch_rate = 100,
                 .watch_threads = 2, .writer_conns = 8};
    create_ctx_t cc = {.b = &b};
    results_t res = {0};
    GString *out = g_string_new(NULL);
    CURL *h = NULL;
    int rc = 2;

    signal(SIGPIPE, SIG_IGN);
    if (parse_options(&b, argc, argv) < 0)
        goto cleanup;
    raise_nofile((rlim_t)b.watchers + (rlim_t)b.conns + 1024);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        bench_fail("curl_global_init failed", NULL);
        goto cleanup;
    }
    if (bench_load_kubeconfig(&b) < 0 || pipe_setup(&b) < 0)
        goto cleanup;
    h = bench_handle_new(&b, out, 60);
    if (bench_request(&b, h, "/healthz", NULL, out) != 200) {
        bench_fail("the server is not healthy", out->str);
        goto cleanup;
    }
    res.hwm_idle_kib = proc_status_kib(b.server_pid, "VmHWM:");
    print_context();

    double cpu0 = proc_cpu_ms(b.server_pid);
    phase_creates(&b, &cc, &res);
    bench_settle(&b, h, out);
    res.create_cpu_ms = (proc_cpu_ms(b.server_pid) - cpu0) / b.objects;
    phase_gets(&b, &res);
    bench_settle(&b, h, out);
    phase_list(&b, &res);
    res.hwm_full_kib = proc_status_kib(b.server_pid, "VmHWM:");
    watch_run(&b, res.list_rv, &res.watch);
    res.broken |= !res.watch.ok;
    res.hwm_watch_kib = proc_status_kib(b.server_pid, "VmHWM:");
    phase_sqlite(&b, &cc, &res);
    report(&b, &res);
    rc = res.broken ? 1 : 0;

cleanup:
    for (int i = 0; cc.names && i < b.objects; i++) {
        g_free(cc.names[i]);
        g_free(cc.bodies[i]);
        g_free(cc.stored[i]);
    }
    g_free(cc.names);
    g_free(cc.bodies);
    g_free(cc.stored);
    g_string_free(out, TRUE);
    if (h)
        curl_easy_cleanup(h);
    curl_slist_free_all(b.headers);
    g_free(b.server);
    g_free(b.auth_header);
    g_free(b.ca);
    g_free(b.kubeconfig);
    g_free(b.scratch);
    g_free(b.client);
    g_free(b.host);
    g_free(b.port);
    g_free(b.host_port);
    g_free(b.req_headers);
    if (b.cred)
        gnutls_certificate_free_credentials(b.cred);
    curl_global_cleanup();
    return rc;
}
