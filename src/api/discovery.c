/*
 * discovery: the documents clients read to learn what the server serves,
 * derived from the registry: /api, /apis, /apis/GROUP, the per-version
 * APIResourceList, and the aggregated form (apidiscovery.k8s.io/v2 and
 * v2beta1) that kubectl asks for first and that answers in one request.
 */
#include <string.h>

#include "api/api.h"

static json_t *verbs_all(void)
{
    return json_pack("[s,s,s,s,s,s,s,s]", "create", "delete", "deletecollection", "get",
                     "list", "patch", "update", "watch");
}

static json_t *str_array(const GPtrArray *a)
{
    json_t *out = json_array();
    for (guint i = 0; a && i < a->len; i++)
        json_array_append_new(out, json_string(a->pdata[i]));
    return out;
}

static json_t *resource_list(const registry_t *reg, const char *group, const char *version)
{
    json_t *list = json_array();
    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        if (strcmp(r->group, group) || strcmp(r->version, version))
            continue;
        json_t *e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", r->plural, "singularName",
                              r->singular, "namespaced", r->namespaced, "kind", r->kind,
                              "verbs", verbs_all());
        if (r->short_names->len)
            json_object_set_new(e, "shortNames", str_array(r->short_names));
        if (r->categories->len)
            json_object_set_new(e, "categories", str_array(r->categories));
        json_array_append_new(list, e);
        if (r->has_status) {
            char *name = g_strconcat(r->plural, "/status", NULL);
            json_array_append_new(list, json_pack("{s:s,s:s,s:b,s:s,s:[sss]}", "name", name,
                                                  "singularName", "", "namespaced",
                                                  r->namespaced, "kind", r->kind, "verbs",
                                                  "get", "patch", "update"));
            g_free(name);
        }
    }
    return list;
}

static json_t *group_versions(const registry_t *reg, const char *group, json_t **preferred)
{
    GPtrArray *vs = registry_group_versions(reg, group);
    json_t *out = json_array();
    for (guint i = 0; i < vs->len; i++) {
        char *gv = g_strconcat(group, "/", vs->pdata[i], NULL);
        json_t *e = json_pack("{s:s,s:s}", "groupVersion", gv, "version", (char *)vs->pdata[i]);
        if (i == 0)
            *preferred = json_incref(e);
        json_array_append_new(out, e);
        g_free(gv);
    }
    g_ptr_array_unref(vs);
    return out;
}

static json_t *api_group(const registry_t *reg, const char *group)
{
    json_t *pref = NULL;
    json_t *versions = group_versions(reg, group, &pref);
    return json_pack("{s:s,s:s,s:s,s:o,s:o}", "kind", "APIGroup", "apiVersion", "v1", "name",
                     group, "versions", versions, "preferredVersion", pref ? pref : json_object());
}

/* One group in the aggregated form. */
static json_t *aggregated_group(const registry_t *reg, const char *group)
{
    GPtrArray *vs = registry_group_versions(reg, group);
    json_t *versions = json_array();

    for (guint v = 0; v < vs->len; v++) {
        const char *version = vs->pdata[v];
        json_t *resources = json_array();
        for (guint i = 0; i < reg->resources->len; i++) {
            const resource_t *r = reg->resources->pdata[i];
            if (strcmp(r->group, group) || strcmp(r->version, version))
                continue;
            json_t *kind = json_pack("{s:s,s:s,s:s}", "group", r->group, "version", r->version,
                                     "kind", r->kind);
            json_t *e = json_pack("{s:s,s:O,s:s,s:s,s:o}", "resource", r->plural,
                                  "responseKind", kind, "scope",
                                  r->namespaced ? "Namespaced" : "Cluster", "singularResource",
                                  r->singular, "verbs", verbs_all());
            if (r->short_names->len)
                json_object_set_new(e, "shortNames", str_array(r->short_names));
            if (r->categories->len)
                json_object_set_new(e, "categories", str_array(r->categories));
            if (r->has_status)
                json_object_set_new(e, "subresources",
                                    json_pack("[{s:s,s:O,s:[sss]}]", "subresource", "status",
                                              "responseKind", kind, "verbs", "get", "patch",
                                              "update"));
            json_decref(kind);
            json_array_append_new(resources, e);
        }
        json_array_append_new(versions, json_pack("{s:s,s:o,s:s}", "version", version,
                                                  "resources", resources, "freshness",
                                                  "Current"));
    }
    g_ptr_array_unref(vs);
    json_t *md = *group ? json_pack("{s:s}", "name", group) : json_object();
    return json_pack("{s:o,s:o}", "metadata", md, "versions", versions);
}

static void respond_aggregated(api_request_t *rq, api_response_t *resp, bool core,
                               const char *which)
{
    const registry_t *reg = rq->srv->reg;
    json_t *items = json_array();
    char *ct;

    for (guint i = 0; i < reg->groups->len; i++) {
        const char *g = reg->groups->pdata[i];
        if (core == (*g == '\0'))
            json_array_append_new(items, aggregated_group(reg, g));
    }
    char *av = g_strconcat("apidiscovery.k8s.io/", which, NULL);
    json_t *doc = json_pack("{s:s,s:s,s:{},s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
                            av, "metadata", "items", items);
    g_free(av);
    api_respond_json(resp, 200, doc);
    /* The content type tells client-go which form it got. */
    ct = g_strdup_printf("application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList",
                         which);
    resp->content_type = g_intern_string(ct);
    g_free(ct);
}

/* Which aggregated version the client accepts, or NULL for the legacy form. */
static const char *wants_aggregated(const api_request_t *rq)
{
    const char *a = rq->accept;
    if (!a || !strstr(a, "as=APIGroupDiscoveryList"))
        return NULL;
    if (strstr(a, "v=v2;") || strstr(a, "v=v2,") || g_str_has_suffix(a, "v=v2"))
        return "v2";
    if (strstr(a, "v=v2beta1"))
        return "v2beta1";
    return NULL;
}

bool api_discovery(api_request_t *rq, api_response_t *resp)
{
    const registry_t *reg = rq->srv->reg;
    const char *p = rq->path;
    const char *agg = wants_aggregated(rq);
    char **seg;
    int n = 0;
    bool served = true;

    if (strcmp(rq->method, "GET") != 0)
        return false;
    seg = g_strsplit(p, "/", -1);
    char *parts[4] = {0};
    for (char **s = seg; *s; s++) {
        if (!**s)
            continue;
        if (n == 4) {
            n = 5;
            break;
        }
        parts[n++] = *s;
    }

    if (n == 1 && !strcmp(parts[0], "api")) {
        if (agg) {
            respond_aggregated(rq, resp, true, agg);
        } else {
            char *addr = g_strdup_printf("%s:%d", rq->srv->listen_host, rq->srv->port);
            api_respond_json(resp, 200,
                             json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions",
                                       "versions", "v1", "serverAddressByClientCIDRs",
                                       "clientCIDR", "0.0.0.0/0", "serverAddress", addr));
            g_free(addr);
        }
    } else if (n == 1 && !strcmp(parts[0], "apis")) {
        if (agg) {
            respond_aggregated(rq, resp, false, agg);
        } else {
            json_t *groups = json_array();
            for (guint i = 0; i < reg->groups->len; i++) {
                const char *g = reg->groups->pdata[i];
                if (*g)
                    json_array_append_new(groups, api_group(reg, g));
            }
            api_respond_json(resp, 200, json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList",
                                                  "apiVersion", "v1", "groups", groups));
        }
    } else if (n == 2 && !strcmp(parts[0], "api") && !strcmp(parts[1], "v1")) {
        api_respond_json(resp, 200, json_pack("{s:s,s:s,s:o}", "kind", "APIResourceList",
                                              "groupVersion", "v1", "resources",
                                              resource_list(reg, "", "v1")));
    } else if (n == 2 && !strcmp(parts[0], "apis")) {
        GPtrArray *vs = registry_group_versions(reg, parts[1]);
        served = vs->len > 0;
        g_ptr_array_unref(vs);
        if (served)
            api_respond_json(resp, 200, api_group(reg, parts[1]));
    } else if (n == 3 && !strcmp(parts[0], "apis")) {
        json_t *list = resource_list(reg, parts[1], parts[2]);
        served = json_array_size(list) > 0;
        if (served) {
            char *gv = g_strconcat(parts[1], "/", parts[2], NULL);
            api_respond_json(resp, 200,
                             json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList",
                                       "apiVersion", "v1", "groupVersion", gv, "resources", list));
            g_free(gv);
        } else {
            json_decref(list);
        }
    } else {
        served = false;
    }
    g_strfreev(seg);
    return served;
}
