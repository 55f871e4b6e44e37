/*
 * watch: a watch stream is a chunked HTTP response of JSON lines
 * {"type":..,"object":..}.  It starts with ADDED events for the current state
 * when no resourceVersion was given, then follows the store's event log.
 * Selectors apply to both versions of a change: an object that stops
 * matching is sent as DELETED, one that starts matching as ADDED.
 *
 * The reader callback runs on the connection's own thread and may block; it
 * wakes at least once a second to notice a closed client, the deadline
 * (timeoutSeconds) and when a bookmark is due.
 */
#include <poll.h>
#include <string.h>

#include "api/handlers.h"
#include "api/table.h"
#include "model/selector.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define WATCH_BOOKMARK_EVERY_US (30 * G_USEC_PER_SEC)
#define WATCH_BLOCK (32 * 1024) /* MHD's buffer, which each read fills at most */

typedef struct watch_stream {
    apiserver_t *srv;
    watch_params_t wp;
    store_watch_t *sw;
    GPtrArray *initial;   /* current state to send first, or NULL */
    guint initial_pos;
    int64_t initial_rev;
    /* Events are written straight into the buffer MHD hands a read (`out`,
     * `max`, `n` used so far); what does not fit waits in `spill`, from
     * `spill_off`, and goes first in the next read. */
    char *out;
    size_t max, n;
    GString *spill;
    size_t spill_off;
    gint64 deadline;
    gint64 next_bookmark;
    int fd;
    bool done;
    bool error_sent;
} watch_stream_t;

static bool spilling(const watch_stream_t *ws)
{
    return ws->spill->len > ws->spill_off;
}

/* Whether this read has nothing more to take. */
static bool read_full(const watch_stream_t *ws)
{
    return ws->n == ws->max || spilling(ws);
}

/* Bytes in order: into this read's buffer while there is room, then into
 * the spill. */
static void put(watch_stream_t *ws, const char *p, size_t len)
{
    size_t k = spilling(ws) ? 0 : MIN(len, ws->max - ws->n);
    if (k > 0) {
        memcpy(ws->out + ws->n, p, k);
        ws->n += k;
    }
    if (k < len)
        g_string_append_len(ws->spill, p + k, (gssize)(len - k));
}

static void emit_raw(watch_stream_t *ws, const char *type, const char *obj, size_t len)
{
    put(ws, "{\"type\":\"", strlen("{\"type\":\""));
    put(ws, type, strlen(type));
    put(ws, "\",\"object\":", strlen("\",\"object\":"));
    put(ws, obj, len);
    put(ws, "}\n", 2);
}

static void emit(watch_stream_t *ws, const char *type, const store_obj_t *o)
{
    if (ws->wp.table) {
        json_t *obj = store_obj_parse(o);
        json_t *t = table_new(ws->wp.res, true);
        char *text;
        table_add_row(t, ws->wp.res, obj, (table_include_t)ws->wp.table_include);
        json_object_set(json_object_get(t, "metadata"), "resourceVersion",
                        json_path_get(obj, "metadata.resourceVersion"));
        text = json_dumps(t, JSON_COMPACT);
        emit_raw(ws, type, text, strlen(text));
        free(text);
        json_decref(t);
        json_decref(obj);
        return;
    }
    emit_raw(ws, type, o->json, o->len);
}

static void emit_bookmark(watch_stream_t *ws, int64_t rev, bool initial_end)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "kind", ws->wp.res->kind, "apiVersion",
                          ws->wp.res->api_version, "metadata", "resourceVersion", "");
    char rvbuf[24], *text;
    snprintf(rvbuf, sizeof(rvbuf), "%lld", (long long)rev);
    json_object_set_new(json_object_get(o, "metadata"), "resourceVersion", json_string(rvbuf));
    if (initial_end)
        json_object_set_new(json_object_get(o, "metadata"), "annotations",
                            json_pack("{s:s}", "k8s.io/initial-events-end", "true"));
    text = json_dumps(o, JSON_COMPACT);
    emit_raw(ws, "BOOKMARK", text, strlen(text));
    free(text);
    json_decref(o);
}

static void emit_error(watch_stream_t *ws, const err_t *err)
{
    json_t *st = api_status_new(err, NULL, NULL);
    char *text = json_dumps(st, JSON_COMPACT);
    emit_raw(ws, "ERROR", text, strlen(text));
    free(text);
    json_decref(st);
}

/* Whether the client hung up. */
static bool client_gone(int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLRDHUP};
    if (fd < 0)
        return false;
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static bool matches(watch_stream_t *ws, const store_obj_t *o)
{
    return o && handlers_object_matches(o, ws->wp.labels, ws->wp.fields);
}

/* Produce output for one store event, if the selectors let it through. */
static void handle_event(watch_stream_t *ws, const store_event_t *ev)
{
    bool now = matches(ws, ev->obj);
    bool before = ev->type != STORE_EV_ADDED && matches(ws, ev->prev);

    switch (ev->type) {
    case STORE_EV_ADDED:
        if (now)
            emit(ws, "ADDED", ev->obj);
        break;
    case STORE_EV_MODIFIED:
        if (now && before)
            emit(ws, "MODIFIED", ev->obj);
        else if (now)
            emit(ws, "ADDED", ev->obj);
        else if (before)
            emit(ws, "DELETED", ev->obj);
        break;
    case STORE_EV_DELETED:
        if (now || before)
            emit(ws, "DELETED", ev->obj);
        break;
    }
}

/* Fill this read with every event that is ready (up to its buffer), so one
 * chunk carries a burst; block only while there is nothing to send.  A
 * closed client is noticed while idle, at least once a second. */
static void produce(watch_stream_t *ws)
{
    err_t err = ERR_INIT;

    while (!ws->done && !read_full(ws)) {
        gint64 now = g_get_monotonic_time();
        bool have = ws->n > 0;
        store_event_t ev = {0};
        int rc;

        if (ws->initial) {
            while (ws->initial_pos < ws->initial->len && !read_full(ws)) {
                store_obj_t *o = ws->initial->pdata[ws->initial_pos++];
                if (matches(ws, o))
                    emit(ws, "ADDED", o);
            }
            if (ws->initial_pos == ws->initial->len) {
                g_ptr_array_unref(ws->initial);
                ws->initial = NULL;
                if (ws->wp.initial_events_end)
                    emit_bookmark(ws, ws->initial_rev, true);
            }
            continue;
        }
        if (ws->srv->stopping || now >= ws->deadline) {
            ws->done = true;
            break;
        }
        if (ws->wp.bookmarks && now >= ws->next_bookmark) {
            emit_bookmark(ws, store_watch_revision(ws->sw), false);
            ws->next_bookmark = now + WATCH_BOOKMARK_EVERY_US;
            continue;
        }
        gint64 wait_us = have ? 0 : MIN(ws->deadline - now, G_USEC_PER_SEC);
        rc = store_watch_next(ws->sw, &ev, (int)(wait_us / 1000) + (have ? 0 : 1), &err);
        if (rc > 0) {
            handle_event(ws, &ev);
            store_event_clear(&ev);
        } else if (rc < 0) {
            emit_error(ws, &err);
            err_clear(&err);
            ws->done = true;
        } else if (have) {
            break; /* nothing more right now: send what there is */
        } else if (client_gone(ws->fd)) {
            ws->done = true;
        }
    }
}

static ssize_t watch_read(void *cls, uint64_t pos, char *out, size_t max)
{
    watch_stream_t *ws = cls;

    ws->out = out;
    ws->max = max;
    ws->n = MIN(max, ws->spill->len - ws->spill_off);
    if (ws->n > 0)
        memcpy(out, ws->spill->str + ws->spill_off, ws->n);
    ws->spill_off += ws->n;
    if (!spilling(ws)) {
        g_string_truncate(ws->spill, 0);
        ws->spill_off = 0;
        produce(ws);
    }
    ws->out = NULL;
    if (ws->n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return (ssize_t)ws->n;
}

static void watch_free(void *cls)
{
    watch_stream_t *ws = cls;
    store_watch_close(ws->sw);
    if (ws->initial)
        g_ptr_array_unref(ws->initial);
    label_selector_free(ws->wp.labels);
    field_selector_free(ws->wp.fields);
    g_free(ws->wp.prefix);
    g_string_free(ws->spill, TRUE);
    g_free(ws);
}

void watch_serve(api_request_t *rq, api_response_t *resp, watch_params_t *wp)
{
    watch_stream_t *ws = g_new0(watch_stream_t, 1);
    const union MHD_ConnectionInfo *ci;
    err_t err = ERR_INIT;
    int64_t from = wp->from_rev;

    ws->srv = rq->srv;
    ws->wp = *wp;
    ws->spill = g_string_new(NULL);
    ws->deadline = g_get_monotonic_time() + (gint64)wp->timeout_s * G_USEC_PER_SEC;
    ws->next_bookmark = g_get_monotonic_time() + WATCH_BOOKMARK_EVERY_US;
    ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    ws->fd = ci ? ci->connect_fd : -1;

    if (from < 0) {
        /* Start from the current state: a snapshot, then changes after it. */
        ws->initial = store_list(rq->srv->store, wp->prefix, NULL, 0, &ws->initial_rev, NULL);
        from = ws->initial_rev;
    }
    ws->sw = store_watch_open(rq->srv->store, wp->prefix, from, &err);
    if (!ws->sw) {
        /* Kubernetes answers 200 and sends the error as the only event. */
        emit_error(ws, &err);
        ws->done = true;
        err_clear(&err);
    }
    resp->status = 200;
    resp->stream = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, WATCH_BLOCK, watch_read,
                                                     ws, watch_free);
    MHD_add_response_header(resp->stream, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
}
