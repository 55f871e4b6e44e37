/*
 * router: maps a request path onto what serves it: health and version
 * probes, discovery, OpenAPI, or a resource (group, version, namespace,
 * plural, name, subresource).  Paths follow the Kubernetes layout:
 *   /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]]
 *   /apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME[/SUB]]
 */
#include <string.h>

#include "api/api.h"
#include "api/handlers.h"
#include "model/meta.h"

#define ROUTE_MAX_SEGMENTS 10

static void not_found(api_response_t *resp)
{
    err_t err = ERR_INIT;
    err_set(&err, ERR_NOT_FOUND, "the server could not find the requested resource");
    api_respond_error(resp, &err, NULL, NULL);
}

static void route_probe(api_request_t *rq, api_response_t *resp)
{
    const char *p = rq->path;
    if (g_str_has_prefix(p, "/version")) {
        json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor",
                              "32", "gitVersion", "v1.32.0-vmsvc." VMSVC_VERSION, "gitCommit",
                              "", "gitTreeState", "clean", "buildDate", "", "goVersion",
                              "", "compiler", "gcc", "platform", "linux/amd64");
        api_respond_json(resp, 200, v);
        return;
    }
    api_respond_text(resp, 200, "text/plain; charset=utf-8", strdup("ok"), 2);
}

/* Split `path` (a copy the caller owns: it is cut in place) into at most
 * ROUTE_MAX_SEGMENTS non-empty segments; -1 if it has more. */
static int split(char *path, char **seg)
{
    int n = 0;

    for (char *p = path; *p;) {
        char *end = strchrnul(p, '/');
        if (end > p) {
            if (n == ROUTE_MAX_SEGMENTS)
                return -1;
            seg[n++] = p;
        }
        if (!*end)
            break;
        *end = '\0';
        p = end + 1;
    }
    return n;
}

static bool segment_ok(const char *s)
{
    char why[256];
    /* Names and namespaces: what the API could ever have stored. */
    return strlen(s) <= 253 && meta_is_dns1123_subdomain(s, why, sizeof(why));
}

static void route_resource(api_request_t *rq, api_response_t *resp, const char *group,
                           const char *version, char **seg, int n)
{
    const registry_t *reg = rq->srv->reg;
    res_path_t p = {0};
    int i = 0;
    err_t err = ERR_INIT;

    if (n >= 3 && !strcmp(seg[0], "namespaces") && !*group) {
        const resource_t *inner = registry_find(reg, group, version, seg[2]);
        if (inner && inner->namespaced) {
            p.ns = seg[1];
            i = 2;
        }
    } else if (n >= 3 && !strcmp(seg[0], "namespaces")) {
        p.ns = seg[1];
        i = 2;
    }
    if (i >= n) {
        not_found(resp);
        return;
    }
    p.res = registry_find(reg, group, version, seg[i]);
    if (!p.res || (p.ns && !p.res->namespaced)) {
        not_found(resp);
        return;
    }
    if (i + 1 < n)
        p.name = seg[i + 1];
    if (i + 2 < n)
        p.sub = seg[i + 2];
    if (i + 3 < n) {
        not_found(resp);
        return;
    }
    if ((p.ns && !segment_ok(p.ns)) || (p.name && !segment_ok(p.name))) {
        err_set(&err, ERR_NOT_FOUND, "%s \"%s\" not found", p.res->group_resource,
                p.name ? p.name : "");
        api_respond_error(resp, &err, p.res, p.name);
        return;
    }
    handle_resource(rq, resp, &p);
}

void api_route(api_request_t *rq, api_response_t *resp)
{
    const char *path = rq->path;
    char *seg[ROUTE_MAX_SEGMENTS] = {0};
    char *copy;
    int n;

    if (g_str_has_prefix(path, "/healthz") || g_str_has_prefix(path, "/livez") ||
        g_str_has_prefix(path, "/readyz") || g_str_has_prefix(path, "/version")) {
        route_probe(rq, resp);
        return;
    }
    if (g_str_has_prefix(path, "/openapi/")) {
        if (!api_openapi(rq, resp))
            not_found(resp);
        return;
    }
    copy = g_strdup(path);
    n = split(copy, seg);
    if (n < 0) {
        not_found(resp);
        g_free(copy);
        return;
    }
    if (n >= 2 && !strcmp(seg[0], "api") && !strcmp(seg[1], "v1") && n > 2) {
        route_resource(rq, resp, "", "v1", seg + 2, n - 2);
    } else if (n >= 4 && !strcmp(seg[0], "apis")) {
        route_resource(rq, resp, seg[1], seg[2], seg + 3, n - 3);
    } else if (!api_discovery(rq, resp)) {
        not_found(resp);
    }
    g_free(copy);
}
