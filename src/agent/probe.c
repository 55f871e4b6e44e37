/* probe: see probe.h. */
#include "agent/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/jsonutil.h"
#include "util/log.h"

#define DEFAULT_PERIOD_MS 10000
#define DEFAULT_TIMEOUT_MS 10000
#define MAX_EVENTS 64

typedef enum { KIND_NONE, KIND_TCP, KIND_HEARTBEAT, KIND_GUESTINFO } kind_t;

typedef struct gi_rule {
    char *key;      /* with the guestinfo. prefix */
    GRegex *re;     /* NULL: any value */
} gi_rule_t;

typedef struct probe {
    guint64 id;
    char *key, *sig;
    kind_t kind;
    int period_ms, timeout_ms;
    gint64 next_due;
    bool started; /* has run once */
    /* tcp */
    struct sockaddr_in addr;
    bool have_addr;
    int fd;
    gint64 deadline;
    /* heartbeat */
    char *dom;
    bool yellow_ok, pinging, ever_ok;
    unsigned history;  /* last answers, bit 0 the newest */
    /* guestinfo */
    char *gi_path;
    off_t gi_off;
    GString *gi_partial;
    GHashTable *gi_vals;
    GPtrArray *gi_rules;
    probe_verdict_t verdict;
    char msg[256];
} probe_t;

/* The guest-network poll of one VM. */
typedef struct gnet {
    guint64 id;
    char *key, *dom;
    gint64 next_due;
    bool started;    /* polled once */
    bool polling;
    int misses;      /* polls in a row its agent did not answer */
    json_t *view;    /* the latest answer, or NULL */
} gnet_t;

struct probe_sched {
    GMutex lock;
    GHashTable *by_key;   /* key -> probe_t */
    GHashTable *gnets;    /* key -> gnet_t */
    GHashTable *by_id;    /* id -> probe_t (borrowed) */
    guint64 next_id;
    int ep, wake;
    GThread *thread;
    GThreadPool *pings;
    GThreadPool *polls;   /* guest-network polls */
    volatile gint stop;
    probe_change_fn on_change;
    probe_ping_fn ping;
    probe_guestnet_fn guestnet;
    int gnet_period_ms;
    void *ctx;
    GPtrArray *changed;   /* keys to report, filled under the lock */
    unsigned long runs;
};

static void gi_rule_free(gi_rule_t *r)
{
    g_free(r->key);
    if (r->re)
        g_regex_unref(r->re);
    g_free(r);
}

static void probe_close_fd(probe_sched_t *s, probe_t *p)
{
    if (p->fd >= 0) {
        epoll_ctl(s->ep, EPOLL_CTL_DEL, p->fd, NULL);
        close(p->fd);
        p->fd = -1;
    }
}

static void probe_free(probe_sched_t *s, probe_t *p)
{
    probe_close_fd(s, p);
    g_free(p->key);
    g_free(p->sig);
    g_free(p->dom);
    g_free(p->gi_path);
    if (p->gi_partial)
        g_string_free(p->gi_partial, TRUE);
    if (p->gi_vals)
        g_hash_table_unref(p->gi_vals);
    if (p->gi_rules)
        g_ptr_array_unref(p->gi_rules);
    g_free(p);
}

static void wake(probe_sched_t *s)
{
    uint64_t one = 1;
    if (write(s->wake, &one, sizeof(one)) < 0) {
        /* the counter is full: the thread is awake anyway */
    }
}

static void set_verdict(probe_sched_t *s, probe_t *p, probe_verdict_t v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_verdict(probe_sched_t *s, probe_t *p, probe_verdict_t v, const char *fmt, ...)
{
    va_list ap;
    char msg[sizeof(p->msg)];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->runs++;
    if (p->verdict != v)
        g_ptr_array_add(s->changed, g_strdup(p->key));
    p->verdict = v;
    g_strlcpy(p->msg, msg, sizeof(p->msg));
}

/* ---- tcp --------------------------------------------------------------------- */

static void tcp_start(probe_sched_t *s, probe_t *p, gint64 now)
{
    struct epoll_event ev = {.events = EPOLLOUT};
    char a[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &p->addr.sin_addr, a, sizeof(a));
    if (!p->have_addr) {
        set_verdict(s, p, PROBE_FAILURE, "The VM has no IPv4 address to probe yet.");
        return;
    }
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        set_verdict(s, p, PROBE_FAILURE, "Cannot make a socket: %s.", g_strerror(errno));
        return;
    }
    if (connect(p->fd, (struct sockaddr *)&p->addr, sizeof(p->addr)) == 0) {
        probe_close_fd(s, p);
        set_verdict(s, p, PROBE_SUCCESS, "TCP port %d of %s accepts connections.",
                    ntohs(p->addr.sin_port), a);
        return;
    }
    if (errno != EINPROGRESS) {
        int e = errno;
        probe_close_fd(s, p);
        set_verdict(s, p, PROBE_FAILURE, "TCP connect to %s:%d failed: %s.", a,
                    ntohs(p->addr.sin_port), g_strerror(e));
        return;
    }
    ev.data.u64 = p->id;
    epoll_ctl(s->ep, EPOLL_CTL_ADD, p->fd, &ev);
    p->deadline = now + (gint64)p->timeout_ms * 1000;
}

static void tcp_done(probe_sched_t *s, probe_t *p)
{
    int e = 0;
    socklen_t len = sizeof(e);
    char a[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &p->addr.sin_addr, a, sizeof(a));
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
        e = errno;
    probe_close_fd(s, p);
    if (e == 0)
        set_verdict(s, p, PROBE_SUCCESS, "TCP port %d of %s accepts connections.",
                    ntohs(p->addr.sin_port), a);
    else
        set_verdict(s, p, PROBE_FAILURE, "TCP connect to %s:%d failed: %s.", a,
                    ntohs(p->addr.sin_port), g_strerror(e));
}

/* ---- guestinfo ---------------------------------------------------------------- */

static void gi_line(probe_t *p, const char *line)
{
    const char *eq = strchr(line, '=');
    char *k = g_strstrip(eq ? g_strndup(line, (gsize)(eq - line)) : g_strdup(line));
    if (!*k) {
        g_free(k);
        return;
    }
    if (eq)
        g_hash_table_insert(p->gi_vals, k, g_strdup(eq + 1));
    else {
        g_hash_table_remove(p->gi_vals, k);
        g_free(k);
    }
}

static void gi_read(probe_t *p)
{
    struct stat st;
    char buf[8192];
    int fd = open(p->gi_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    ssize_t n;

    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && st.st_size < p->gi_off) {
        /* Emptied (or made again): start over. */
        p->gi_off = 0;
        g_string_truncate(p->gi_partial, 0);
    }
    while ((n = pread(fd, buf, sizeof(buf), p->gi_off)) > 0) {
        p->gi_off += n;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\0') {
                if (p->gi_partial->len)
                    gi_line(p, p->gi_partial->str);
                g_string_truncate(p->gi_partial, 0);
            } else if (p->gi_partial->len < 4096) {
                g_string_append_c(p->gi_partial, buf[i]);
            }
        }
    }
    close(fd);
    if (p->gi_off > PROBE_GUESTINFO_MAX_BYTES && truncate(p->gi_path, 0) == 0)
        p->gi_off = 0; /* QEMU appends (O_APPEND), so writes go on at the new end */
}

static void gi_check(probe_sched_t *s, probe_t *p)
{
    gi_read(p);
    for (guint i = 0; i < p->gi_rules->len; i++) {
        gi_rule_t *r = p->gi_rules->pdata[i];
        const char *v = g_hash_table_lookup(p->gi_vals, r->key);
        if (!v) {
            set_verdict(s, p, PROBE_FAILURE, "The guest has not set %s.", r->key);
            return;
        }
        if (r->re && !g_regex_match(r->re, v, 0, NULL)) {
            set_verdict(s, p, PROBE_FAILURE, "%s is \"%.80s\", which does not match \"%.80s\".",
                        r->key, v, g_regex_get_pattern(r->re));
            return;
        }
    }
    set_verdict(s, p, PROBE_SUCCESS, "Every guestinfo key matches.");
}

/* ---- heartbeat ------------------------------------------------------------------ */

typedef struct ping_job {
    guint64 id;
    char *dom;
    int timeout_s;
} ping_job_t;

static const char *hb_color(const probe_t *p)
{
    if (p->history & 1)
        return "green";
    if (p->history & 0xe)
        return "yellow";
    return p->ever_ok ? "red" : "gray";
}

static void ping_run(gpointer data, gpointer user)
{
    probe_sched_t *s = user;
    ping_job_t *j = data;
    int rc = s->ping ? s->ping(s->ctx, j->dom, j->timeout_s) : -1;
    probe_t *p;

    g_mutex_lock(&s->lock);
    if ((p = g_hash_table_lookup(s->by_id, &j->id))) {
        const char *c;
        bool ok;
        p->pinging = false;
        p->history = (p->history << 1) | (rc == 0);
        p->ever_ok |= rc == 0;
        c = hb_color(p);
        ok = !strcmp(c, "green") || (p->yellow_ok && !strcmp(c, "yellow"));
        set_verdict(s, p, ok ? PROBE_SUCCESS : PROBE_FAILURE, "The guest heartbeat is %s.", c);
    }
    g_mutex_unlock(&s->lock);
    wake(s);
    g_free(j->dom);
    g_free(j);
}

/* When a periodic task of `key` is next due after running at `now`: a whole
 * period later, except after its first run (which is at once, so that a new
 * VM's readiness does not wait), when it is a share of the period fixed by
 * the key.  Tasks set together (a burst of VMs, a restart of the server)
 * then spread over the period instead of all running at the same moment. */
static gint64 next_due_after(gint64 now, const char *key, int period_ms, bool *started)
{
    gint64 after_ms = *started ? period_ms : 1 + (gint64)(g_str_hash(key) % (guint)period_ms);
    *started = true;
    return now + after_ms * 1000;
}

/* ---- guest networks ------------------------------------------------------------ */

typedef struct poll_job {
    guint64 id;
    char *key, *dom;
} poll_job_t;

static void gnet_free(gpointer p)
{
    gnet_t *g = p;
    g_free(g->key);
    g_free(g->dom);
    json_decref(g->view);
    g_free(g);
}

static void poll_run(gpointer data, gpointer user)
{
    probe_sched_t *s = user;
    poll_job_t *j = data;
    /* Jobs still queued when the scheduler stops are dropped unasked. */
    json_t *view = g_atomic_int_get(&s->stop)
                       ? NULL
                       : s->guestnet(s->ctx, j->dom, PROBE_GUESTNET_TIMEOUT_S);
    gnet_t *g;

    g_mutex_lock(&s->lock);
    g = g_hash_table_lookup(s->gnets, j->key);
    if (g && g->id == j->id) {
        bool changed = false;
        g->polling = false;
        if (view) {
            g->misses = 0;
            if ((changed = !g->view || !json_equal(g->view, view))) {
                json_decref(g->view);
                g->view = view; /* taken */
                view = NULL;
            }
        } else if (++g->misses >= PROBE_GUESTNET_MISSES && g->view) {
            json_decref(g->view);
            g->view = NULL;
            changed = true;
        }
        if (changed)
            g_ptr_array_add(s->changed, g_strdup(g->key));
    }
    g_mutex_unlock(&s->lock);
    wake(s);
    json_decref(view);
    g_free(j->key);
    g_free(j->dom);
    g_free(j);
}

static void gnet_start(probe_sched_t *s, gnet_t *g, gint64 now)
{
    poll_job_t *j;

    g->next_due = next_due_after(now, g->key, s->gnet_period_ms, &g->started);
    if (g->polling || !s->polls)
        return;
    j = g_new0(poll_job_t, 1);
    j->id = g->id;
    j->key = g_strdup(g->key);
    j->dom = g_strdup(g->dom);
    g->polling = true;
    g_thread_pool_push(s->polls, j, NULL);
}

void probe_guestnet_period(probe_sched_t *s, int ms)
{
    g_mutex_lock(&s->lock);
    s->gnet_period_ms = ms;
    g_mutex_unlock(&s->lock);
}

void probe_guestnet_watch(probe_sched_t *s, const char *key, const char *dom)
{
    gnet_t *g;

    g_mutex_lock(&s->lock);
    g = g_hash_table_lookup(s->gnets, key);
    if (g && !strcmp(g->dom, dom)) {
        g_mutex_unlock(&s->lock);
        return;
    }
    g = g_new0(gnet_t, 1);
    g->id = s->next_id++;
    g->key = g_strdup(key);
    g->dom = g_strdup(dom);
    g->next_due = g_get_monotonic_time();
    g_hash_table_replace(s->gnets, g->key, g);
    g_mutex_unlock(&s->lock);
    wake(s);
}

void probe_guestnet_unwatch(probe_sched_t *s, const char *key)
{
    g_mutex_lock(&s->lock);
    g_hash_table_remove(s->gnets, key);
    g_mutex_unlock(&s->lock);
}

json_t *probe_guestnet_view(probe_sched_t *s, const char *key)
{
    gnet_t *g;
    json_t *v = NULL;

    g_mutex_lock(&s->lock);
    if ((g = g_hash_table_lookup(s->gnets, key)) && g->view)
        v = json_deep_copy(g->view);
    g_mutex_unlock(&s->lock);
    return v;
}

/* ---- the scheduler ------------------------------------------------------------- */

static void probe_start(probe_sched_t *s, probe_t *p, gint64 now)
{
    p->next_due = next_due_after(now, p->key, p->period_ms, &p->started);
    switch (p->kind) {
    case KIND_TCP:
        if (p->fd < 0)
            tcp_start(s, p, now);
        break;
    case KIND_GUESTINFO:
        gi_check(s, p);
        break;
    case KIND_HEARTBEAT:
        if (!p->pinging && s->pings) {
            ping_job_t *j = g_new0(ping_job_t, 1);
            j->id = p->id;
            j->dom = g_strdup(p->dom);
            j->timeout_s = MAX(1, p->timeout_ms / 1000);
            p->pinging = true;
            g_thread_pool_push(s->pings, j, NULL);
        }
        break;
    default:
        break;
    }
}

static void report(probe_sched_t *s)
{
    GPtrArray *keys;
    g_mutex_lock(&s->lock);
    keys = s->changed;
    s->changed = g_ptr_array_new_with_free_func(g_free);
    g_mutex_unlock(&s->lock);
    for (guint i = 0; i < keys->len; i++)
        s->on_change(s->ctx, keys->pdata[i]);
    g_ptr_array_unref(keys);
}

static gpointer sched_main(gpointer data)
{
    probe_sched_t *s = data;
    struct epoll_event evs[MAX_EVENTS];

    while (!g_atomic_int_get(&s->stop)) {
        gint64 now = g_get_monotonic_time(), next = now + 1000 * 1000;
        GHashTableIter it;
        gpointer v;
        int n, timeout;

        g_mutex_lock(&s->lock);
        g_hash_table_iter_init(&it, s->by_key);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            probe_t *p = v;
            if (p->fd >= 0 && now >= p->deadline) {
                char a[INET_ADDRSTRLEN];
                probe_close_fd(s, p);
                inet_ntop(AF_INET, &p->addr.sin_addr, a, sizeof(a));
                set_verdict(s, p, PROBE_FAILURE, "TCP connect to %s:%d timed out after %d s.", a,
                            ntohs(p->addr.sin_port), p->timeout_ms / 1000);
            }
            if (now >= p->next_due)
                probe_start(s, p, now);
            next = MIN(next, p->next_due);
            if (p->fd >= 0)
                next = MIN(next, p->deadline);
        }
        g_hash_table_iter_init(&it, s->gnets);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            gnet_t *g = v;
            if (now >= g->next_due)
                gnet_start(s, g, now);
            next = MIN(next, g->next_due);
        }
        g_mutex_unlock(&s->lock);
        report(s);
        timeout = (int)MAX(0, (next - g_get_monotonic_time() + 999) / 1000);
        n = epoll_wait(s->ep, evs, MAX_EVENTS, timeout);
        g_mutex_lock(&s->lock);
        for (int i = 0; i < n; i++) {
            probe_t *p;
            if (evs[i].data.u64 == 0) {
                uint64_t c;
                if (read(s->wake, &c, sizeof(c)) < 0) {
                    /* nothing to drain */
                }
                continue;
            }
            p = g_hash_table_lookup(s->by_id, &evs[i].data.u64);
            if (p && p->fd >= 0)
                tcp_done(s, p);
        }
        g_mutex_unlock(&s->lock);
        report(s);
    }
    return NULL;
}

probe_sched_t *probe_sched_new(probe_change_fn on_change, probe_ping_fn ping,
                               probe_guestnet_fn guestnet, void *ctx)
{
    probe_sched_t *s = g_new0(probe_sched_t, 1);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};

    g_mutex_init(&s->lock);
    s->by_key = g_hash_table_new(g_str_hash, g_str_equal);
    s->by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
    s->gnets = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, gnet_free);
    s->changed = g_ptr_array_new_with_free_func(g_free);
    s->on_change = on_change;
    s->ping = ping;
    s->guestnet = guestnet;
    s->gnet_period_ms = PROBE_GUESTNET_PERIOD_MS;
    s->ctx = ctx;
    s->next_id = 1;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    s->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    g_assert(s->ep >= 0 && s->wake >= 0);
    epoll_ctl(s->ep, EPOLL_CTL_ADD, s->wake, &ev);
    s->pings = g_thread_pool_new(ping_run, s, 2, FALSE, NULL);
    if (guestnet)
        s->polls = g_thread_pool_new(poll_run, s, 2, FALSE, NULL);
    s->thread = g_thread_new("probes", sched_main, s);
    return s;
}

void probe_sched_stop(probe_sched_t *s)
{
    if (!s || !s->thread)
        return;
    g_atomic_int_set(&s->stop, 1);
    wake(s);
    g_thread_join(s->thread);
    s->thread = NULL;
    g_thread_pool_free(s->pings, FALSE, TRUE);
    s->pings = NULL;
    if (s->polls)
        g_thread_pool_free(s->polls, FALSE, TRUE);
    s->polls = NULL;
}

void probe_sched_free(probe_sched_t *s)
{
    GHashTableIter it;
    gpointer v;

    if (!s)
        return;
    probe_sched_stop(s);
    g_hash_table_iter_init(&it, s->by_key);
    while (g_hash_table_iter_next(&it, NULL, &v))
        probe_free(s, v);
    g_hash_table_unref(s->by_key);
    g_hash_table_unref(s->by_id);
    g_hash_table_unref(s->gnets);
    g_ptr_array_unref(s->changed);
    close(s->ep);
    close(s->wake);
    g_mutex_clear(&s->lock);
    g_free(s);
}

static void remove_locked(probe_sched_t *s, const char *key)
{
    probe_t *p = g_hash_table_lookup(s->by_key, key);
    if (!p)
        return;
    g_hash_table_remove(s->by_key, key);
    g_hash_table_remove(s->by_id, &p->id);
    probe_free(s, p);
}

/* The port of tcpSocket: a number, or an IANA service name. */
static int tcp_port(const json_t *port)
{
    if (json_is_integer(port))
        return (int)json_integer_value(port);
    if (json_is_string(port)) {
        const char *s = json_string_value(port);
        char *end;
        long v = strtol(s, &end, 10);
        struct servent se, *res = NULL;
        char buf[1024];
        if (*s && !*end)
            return (int)v;
        if (getservbyname_r(s, "tcp", &se, buf, sizeof(buf), &res) == 0 && res)
            return ntohs((uint16_t)res->s_port);
    }
    return -1;
}

void probe_set(probe_sched_t *s, const char *key, const json_t *spec, const char *ip,
               const char *dom, const char *guestinfo)
{
    char *dump = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    char *sig = g_strdup_printf("%s|%s|%s|%s", dump ? dump : "", ip ? ip : "", dom ? dom : "",
                                guestinfo ? guestinfo : "");
    probe_t *p;
    json_int_t period = json_integer_value(json_object_get(spec, "periodSeconds"));
    json_int_t timeout = json_integer_value(json_object_get(spec, "timeoutSeconds"));
    const json_t *tcp = json_object_get(spec, "tcpSocket");
    const json_t *gi = json_object_get(spec, "guestInfo");
    const json_t *hb = json_object_get(spec, "guestHeartbeat");

    free(dump);
    g_mutex_lock(&s->lock);
    p = g_hash_table_lookup(s->by_key, key);
    if (p && !strcmp(p->sig, sig)) {
        g_mutex_unlock(&s->lock);
        g_free(sig);
        return;
    }
    remove_locked(s, key);
    p = g_new0(probe_t, 1);
    p->id = s->next_id++;
    p->key = g_strdup(key);
    p->sig = sig;
    p->fd = -1;
    p->period_ms = period > 0 ? (int)period * 1000 : DEFAULT_PERIOD_MS;
    p->timeout_ms = timeout > 0 ? (int)timeout * 1000 : DEFAULT_TIMEOUT_MS;
    if (p->timeout_ms > p->period_ms)
        p->timeout_ms = p->period_ms;
    p->verdict = PROBE_UNKNOWN;
    g_strlcpy(p->msg, "The probe has not run yet.", sizeof(p->msg));
    if (tcp) {
        const char *host = json_string_value(json_object_get(tcp, "host"));
        int port = tcp_port(json_object_get(tcp, "port"));
        p->kind = KIND_TCP;
        p->addr.sin_family = AF_INET;
        p->addr.sin_port = htons((uint16_t)(port > 0 && port < 65536 ? port : 0));
        p->have_addr = port > 0 && port < 65536 &&
                       inet_pton(AF_INET, host && *host ? host : ip ? ip : "", &p->addr.sin_addr) == 1;
    } else if (gi) {
        const json_t *e;
        size_t i;
        p->kind = KIND_GUESTINFO;
        p->gi_path = g_strdup(guestinfo);
        p->gi_partial = g_string_new(NULL);
        p->gi_vals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        p->gi_rules = g_ptr_array_new_with_free_func((GDestroyNotify)gi_rule_free);
        json_array_foreach(gi, i, e) {
            const char *k = json_string_value(json_object_get(e, "key"));
            const char *v = json_string_value(json_object_get(e, "value"));
            gi_rule_t *r;
            GError *ge = NULL;
            if (!k || !*k)
                continue;
            r = g_new0(gi_rule_t, 1);
            r->key = g_strconcat("guestinfo.", k, NULL);
            if (v && *v && !(r->re = g_regex_new(v, G_REGEX_OPTIMIZE, 0, &ge))) {
                /* An invalid expression is left out of the verdict (as the API allows). */
                log_info("probe: %s: guestInfo value \"%s\" is not a valid expression: %s", key,
                         v, ge->message);
                g_error_free(ge);
                gi_rule_free(r);
                continue;
            }
            g_ptr_array_add(p->gi_rules, r);
        }
    } else if (hb) {
        p->kind = KIND_HEARTBEAT;
        p->dom = g_strdup(dom);
        p->yellow_ok = !g_strcmp0(json_string_value(json_object_get(hb, "thresholdStatus")), "yellow");
    }
    p->next_due = g_get_monotonic_time();
    g_hash_table_insert(s->by_key, p->key, p);
    g_hash_table_insert(s->by_id, &p->id, p);
    g_mutex_unlock(&s->lock);
    wake(s);
}

void probe_remove(probe_sched_t *s, const char *key)
{
    g_mutex_lock(&s->lock);
    remove_locked(s, key);
    g_mutex_unlock(&s->lock);
}

probe_verdict_t probe_result(probe_sched_t *s, const char *key, char *msg, size_t n)
{
    probe_t *p;
    probe_verdict_t v = PROBE_UNKNOWN;
    g_mutex_lock(&s->lock);
    if ((p = g_hash_table_lookup(s->by_key, key))) {
        v = p->verdict;
        if (msg)
            g_strlcpy(msg, p->msg, n);
    } else if (msg) {
        g_strlcpy(msg, "No probe runs for this VM.", n);
    }
    g_mutex_unlock(&s->lock);
    return v;
}

unsigned probe_count(probe_sched_t *s)
{
    unsigned n;
    g_mutex_lock(&s->lock);
    n = g_hash_table_size(s->by_key);
    g_mutex_unlock(&s->lock);
    return n;
}

unsigned long probe_runs(probe_sched_t *s)
{
    unsigned long n;
    g_mutex_lock(&s->lock);
    n = s->runs;
    g_mutex_unlock(&s->lock);
    return n;
}
