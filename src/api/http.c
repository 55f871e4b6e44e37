/*
 * http: libmicrohttpd glue.  TLS always; one thread per connection so that a
 * handler may block (on a durable commit, on a watch) without holding up
 * others.  Request bodies are collected up to API_MAX_BODY; anything larger
 * is refused with 413 without being buffered.  Every path but the health
 * and version probes needs the bearer token.
 */
#include "api/api.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/jsonutil.h"
#include "util/log.h"

typedef struct conn_ctx {
    GString *body; /* NULL until a body arrives */
    bool too_large;
} conn_ctx_t;

const char *api_query(const api_request_t *rq, const char *key)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *api_header(const api_request_t *rq, const char *key)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, key);
}

void api_respond_text(api_response_t *resp, int status, const char *ctype, char *body,
                      size_t len)
{
    free(resp->body);
    store_obj_unref(resp->obj);
    resp->obj = NULL;
    resp->status = status;
    resp->content_type = ctype;
    resp->body = body;
    resp->len = len;
}

void api_respond_stored(api_response_t *resp, int status, store_obj_t *o)
{
    api_respond_text(resp, status, "application/json", NULL, o->len);
    resp->obj = store_obj_ref(o);
}

void api_respond_json(api_response_t *resp, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        abort();
    api_respond_text(resp, status, "application/json", text, strlen(text));
}

void api_warn(api_response_t *resp, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (!resp->warnings)
        resp->warnings = json_array();
    if (json_array_size(resp->warnings) < 50)
        json_array_append_new(resp->warnings, json_string(buf));
}

json_t *api_status_new(const err_t *err, const resource_t *res, const char *name)
{
    err_code_t code = err->code == ERR_NONE ? ERR_INTERNAL : err->code;
    json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status",
                           "apiVersion", "v1", "metadata", "status", "Failure",
                           "message", err->msg, "reason", err_reason(code), "code",
                           err_http_status(code));
    json_t *details = json_object();

    if (name && *name)
        json_object_set_new(details, "name", json_string(name));
    if (res) {
        json_object_set_new(details, "group", json_string(res->group));
        json_object_set_new(details, "kind", json_string(res->plural));
    }
    if (err->causes)
        json_object_set(details, "causes", err->causes);
    if (code == ERR_TOO_MANY_REQUESTS || code == ERR_UNAVAILABLE)
        json_object_set_new(details, "retryAfterSeconds", json_integer(1));
    if (json_object_size(details) > 0)
        json_object_set_new(st, "details", details);
    else
        json_decref(details);
    return st;
}

void api_respond_error(api_response_t *resp, const err_t *err, const resource_t *res,
                       const char *name)
{
    err_code_t code = err->code == ERR_NONE ? ERR_INTERNAL : err->code;
    api_respond_json(resp, err_http_status(code), api_status_new(err, res, name));
}

static bool path_is_public(const char *path)
{
    static const char *const open[] = {"/healthz", "/livez", "/readyz", "/version"};
    for (size_t i = 0; i < G_N_ELEMENTS(open); i++) {
        size_t n = strlen(open[i]);
        if (strncmp(path, open[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return true;
    }
    return false;
}

/* Constant-time comparison of the presented bearer token. */
static bool token_ok(const apiserver_t *srv, const char *auth)
{
    const char *tok;
    size_t a, b;
    unsigned char diff = 0;

    if (!auth || g_ascii_strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    tok = auth + 7;
    while (*tok == ' ')
        tok++;
    a = strlen(tok);
    b = strlen(srv->token);
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned char)(tok[i < a ? i : 0] ^ srv->token[i]);
    return diff == 0 && a == b;
}

static void stored_free_cb(void *cls)
{
    store_obj_unref(cls);
}

static enum MHD_Result queue_response(struct MHD_Connection *conn, api_response_t *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    if (resp->stream) {
        r = resp->stream;
    } else if (resp->obj) {
        /* The version is immutable: MHD sends its text and drops the reference. */
        r = MHD_create_response_from_buffer_with_free_callback_cls(
            resp->obj->len, resp->obj->json, stored_free_cb, resp->obj);
        resp->obj = NULL;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : "application/json");
    } else {
        r = MHD_create_response_from_buffer(resp->len, resp->body ? resp->body : (char *)"",
                                            resp->body ? MHD_RESPMEM_MUST_FREE
                                                       : MHD_RESPMEM_PERSISTENT);
        resp->body = NULL;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : "application/json");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
    if (resp->warnings) {
        size_t i;
        json_t *w;
        json_array_foreach(resp->warnings, i, w) {
            char *h = g_strdup_printf("299 - \"%s\"", json_string_value(w));
            /* A header line cannot hold a newline or a quote unescaped. */
            g_strdelimit(h + 7, "\r\n", ' ');
            MHD_add_response_header(r, "Warning", h);
            g_free(h);
        }
    }
    ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void response_clear(api_response_t *resp)
{
    free(resp->body);
    store_obj_unref(resp->obj);
    json_decref(resp->warnings);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    apiserver_t *srv = cls;
    conn_ctx_t *cc = *con_cls;
    api_response_t resp = {0};
    enum MHD_Result ret;

    if (!cc) {
        cc = g_new0(conn_ctx_t, 1);
        *con_cls = cc;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && g_ascii_strtoull(cl, NULL, 10) > API_MAX_BODY)
            cc->too_large = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!cc->body)
            cc->body = g_string_new(NULL);
        if (!cc->too_large && cc->body->len + *upload_data_size > API_MAX_BODY)
            cc->too_large = true;
        if (!cc->too_large)
            g_string_append_len(cc->body, upload_data, (gssize)*upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    api_request_t rq = {
        .srv = srv,
        .conn = conn,
        .method = method,
        .path = url,
        .body = cc->body ? cc->body->str : "",
        .body_len = cc->body ? cc->body->len : 0,
    };
    rq.accept = api_header(&rq, MHD_HTTP_HEADER_ACCEPT);
    rq.content_type = api_header(&rq, MHD_HTTP_HEADER_CONTENT_TYPE);

    if (!path_is_public(url) &&
        !token_ok(srv, api_header(&rq, MHD_HTTP_HEADER_AUTHORIZATION))) {
        err_t e = ERR_INIT;
        err_set(&e, ERR_UNAUTHORIZED, "Unauthorized");
        api_respond_error(&resp, &e, NULL, NULL);
    } else if (cc->too_large) {
        err_t e = ERR_INIT;
        err_set(&e, ERR_TOO_LARGE, "The request body is larger than %d bytes.",
                API_MAX_BODY);
        api_respond_error(&resp, &e, NULL, NULL);
    } else {
        api_route(&rq, &resp);
    }
    log_debug("%s %s -> %d", method, url, resp.status);
    ret = queue_response(conn, &resp);
    response_clear(&resp);
    return ret;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_ctx_t *cc = *con_cls;
    if (!cc)
        return;
    if (cc->body)
        g_string_free(cc->body, TRUE);
    g_free(cc);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    g_strchomp(buf);
    log_debug("http: %s", buf);
}

#define LISTEN_RETRIES 100 /* 100 ms apart */

static struct MHD_Daemon *start_daemon(apiserver_t *srv, unsigned flags,
                                       const struct sockaddr *addr, const char *cert_pem,
                                       const char *key_pem)
{
    return MHD_start_daemon(
        flags, (uint16_t)srv->port, NULL, NULL, access_cb, srv,
        MHD_OPTION_SOCK_ADDR, addr,
        MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, key_pem,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)8192,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512 * 1024),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
        MHD_OPTION_END);
}

int apiserver_start(apiserver_t *srv, const char *cert_pem, const char *key_pem,
                    err_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port[16];
    /* poll(), not select(): connections past fd 1024 (a thousand watches) must work. */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL |
                     MHD_USE_TLS | MHD_USE_ERROR_LOG | MHD_USE_SUPPRESS_DATE_NO_CLOCK;
    int rc;

    snprintf(port, sizeof(port), "%d", srv->port);
    rc = getaddrinfo(srv->listen_host, port, &hints, &ai);
    if (rc != 0) {
        err_set(err, ERR_INTERNAL, "Cannot resolve the listen address %s: %s",
                srv->listen_host, gai_strerror(rc));
        return -1;
    }
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Right after a crash the port can still be held for a moment by a
     * child of the old process that has not exec'd or exited yet (libvirt
     * forks QEMU with every descriptor, then closes them): wait a little
     * before calling the port taken. */
    for (int tries = 0; tries < LISTEN_RETRIES && !srv->daemon; tries++) {
        if (tries == 1)
            log_warn("http: %s:%d is busy; retrying for %d s", srv->listen_host, srv->port,
                     LISTEN_RETRIES / 10);
        if (tries > 0)
            g_usleep(100 * 1000);
        srv->daemon = start_daemon(srv, flags, ai->ai_addr, cert_pem, key_pem);
        if (srv->port == 0)
            break; /* any free port: busy is not the reason */
    }
    freeaddrinfo(ai);
    if (!srv->daemon) {
        err_set(err, ERR_INTERNAL, "Cannot listen on %s:%d (is the port in use?).",
                srv->listen_host, srv->port);
        return -1;
    }
    if (srv->port == 0) {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
        if (di)
            srv->port = di->port;
    }
    return 0;
}

void apiserver_stop(apiserver_t *srv)
{
    srv->stopping = 1;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
}
