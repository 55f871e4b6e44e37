/*
 * api: the HTTPS front of the server: one request in, one response out.
 *
 * http.c owns libmicrohttpd (TLS, body limits, authentication), router.c
 * turns a path into a resource request, handlers.c implements the verbs,
 * watch.c streams watch events, discovery.c / openapi.c / table.c render the
 * documents derived from the registry.
 */
#ifndef VMSVC_API_H
#define VMSVC_API_H

#include <glib.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>

#include "model/schema.h"
#include "store/store.h"
#include "util/err.h"

#define API_MAX_BODY (3 * 1024 * 1024) /* as Kubernetes: 3 MiB per request */

typedef struct apiserver apiserver_t;

typedef struct api_request {
    apiserver_t *srv;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body;
    size_t body_len;
    const char *accept;
    const char *content_type;
} api_request_t;

typedef struct api_response {
    int status;
    char *body; /* malloc'd */
    size_t len;
    store_obj_t *obj;            /* instead of body: a stored version's JSON, or NULL */
    const char *content_type;
    json_t *warnings;            /* strings for Warning headers, or NULL */
    struct MHD_Response *stream; /* a prepared streaming response, or NULL */
} api_response_t;

/* Server-wide state the handlers share; built once, read-only afterwards
 * except where noted. */
struct apiserver {
    registry_t *reg;
    store_t *store;
    char *token;
    char *server_url;
    char *listen_host;
    int port;
    struct MHD_Daemon *daemon;
    GMutex docs_lock;      /* guards the lazily built documents below */
    GHashTable *openapi;   /* "apis/group/version" -> char* document */
    GHashTable *openapi_hash;
    char *openapi_index;
    volatile int stopping;
};

/* http.c */
int apiserver_start(apiserver_t *srv, const char *cert_pem, const char *key_pem,
                    err_t *err);
void apiserver_stop(apiserver_t *srv);
const char *api_query(const api_request_t *rq, const char *key);
const char *api_header(const api_request_t *rq, const char *key);

/* Responses. */
void api_respond_json(api_response_t *resp, int status, json_t *body /* stolen */);
void api_respond_text(api_response_t *resp, int status, const char *ctype, char *body,
                      size_t len);
/* A stored version's JSON as the body, sent without a copy (a reference is
 * taken). */
void api_respond_stored(api_response_t *resp, int status, store_obj_t *o);
/* A Kubernetes Status for an error; `res`/`name` fill details when known. */
void api_respond_error(api_response_t *resp, const err_t *err, const resource_t *res,
                       const char *name);
json_t *api_status_new(const err_t *err, const resource_t *res, const char *name);
void api_warn(api_response_t *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* router.c */
void api_route(api_request_t *rq, api_response_t *resp);

/* discovery.c */
bool api_discovery(api_request_t *rq, api_response_t *resp);

/* openapi.c */
bool api_openapi(api_request_t *rq, api_response_t *resp);

#endif
