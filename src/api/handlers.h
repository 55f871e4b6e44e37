/*
 * handlers: the HTTP verbs on resources (get, list, watch, create, update,
 * patch, delete, deletecollection, and the status subresource): decoding
 * bodies and query parameters, content negotiation (JSON, YAML, Table), and
 * encoding results.  The semantics live in objects.c.
 */
#ifndef VMSVC_HANDLERS_H
#define VMSVC_HANDLERS_H

#include "api/api.h"

typedef struct res_path {
    const resource_t *res;
    const char *ns;   /* NULL: cluster scope or all namespaces */
    const char *name; /* NULL: the collection */
    const char *sub;  /* NULL or a subresource name */
} res_path_t;

void handle_resource(api_request_t *rq, api_response_t *resp, const res_path_t *p);

/* watch.c: serve a watch on the collection `p` (selectors already parsed). */
struct label_selector;
struct field_selector;
typedef struct watch_params {
    const resource_t *res;
    char *prefix;
    struct label_selector *labels;  /* taken */
    struct field_selector *fields;  /* taken */
    int64_t from_rev;               /* -1: start with the current state */
    int timeout_s;
    bool bookmarks;
    bool initial_events_end;        /* send the initial-events-end bookmark */
    bool table;
    int table_include;
} watch_params_t;
void watch_serve(api_request_t *rq, api_response_t *resp, watch_params_t *wp);

/* Whether an object passes the selectors (either may be NULL). */
bool handlers_object_matches(const store_obj_t *o, struct label_selector *ls,
                             struct field_selector *fs);

#endif
