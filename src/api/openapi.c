/*
 * openapi: OpenAPI v3 documents, one per group-version, derived from the
 * registry.  They carry every kind's schema (with ObjectMeta referenced for
 * metadata), the operations on every path with their query parameters
 * (kubectl checks that fieldValidation is accepted) and patch media types
 * (kubectl picks strategic merge patch only where it is offered).  Built on
 * first use, cached with a content hash, served at /openapi/v3/<gv>.
 */
#include <string.h>

#include "api/api.h"

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."

static char *schema_name(const resource_t *r, const char *kind)
{
    if (!*r->group)
        return g_strconcat("io.k8s.api.core.v1.", kind, NULL);
    if (!strcmp(r->group, "storage.k8s.io"))
        return g_strconcat("io.k8s.api.storage.", r->version, ".", kind, NULL);
    /* Reverse the group's DNS labels: vmoperator.vmware.com -> com.vmware.vmoperator. */
    char **labels = g_strsplit(r->group, ".", -1);
    GString *s = g_string_new(NULL);
    guint n = g_strv_length(labels);
    for (guint i = n; i-- > 0;) {
        g_string_append(s, labels[i]);
        g_string_append_c(s, '.');
    }
    g_string_append_printf(s, "%s.%s", r->version, kind);
    g_strfreev(labels);
    return g_string_free(s, FALSE);
}

static json_t *ref(const char *name)
{
    char *r = g_strconcat("#/components/schemas/", name, NULL);
    json_t *o = json_pack("{s:s}", "$ref", r);
    g_free(r);
    return o;
}

static json_t *str_prop(const char *desc)
{
    return json_pack("{s:s,s:s}", "type", "string", "description", desc);
}

static json_t *meta_schemas(void)
{
    json_t *owner = json_pack(
        "{s:s,s:s,s:[ssss],s:{s:o,s:o,s:o,s:o,s:o,s:o},s:s}", "type", "object", "description",
        "Points at an object that owns this one; the owned object is collected when its owners are gone.",
        "required", "apiVersion", "kind", "name", "uid", "properties", "apiVersion",
        str_prop("API version of the owner."), "kind", str_prop("Kind of the owner."), "name",
        str_prop("Name of the owner."), "uid", str_prop("UID of the owner."), "controller",
        json_pack("{s:s,s:s}", "type", "boolean", "description",
                  "Whether the owner is the managing controller."),
        "blockOwnerDeletion",
        json_pack("{s:s,s:s}", "type", "boolean", "description",
                  "With foreground deletion, the owner waits for this object to go first."),
        "x-kubernetes-map-type", "atomic");
    json_t *strmap = json_pack("{s:s,s:{s:s}}", "type", "object", "additionalProperties",
                               "type", "string");
    json_t *om = json_pack(
        "{s:s,s:s,s:{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}}", "type",
        "object", "description",
        "Standard object metadata: identity, labels, annotations and lifecycle markers.",
        "properties", "name", str_prop("Unique name within the namespace (or cluster, for cluster-scoped kinds)."),
        "generateName", str_prop("Prefix from which the server generates a unique name when name is empty."),
        "namespace", str_prop("Namespace the object lives in."),
        "uid", str_prop("Server-assigned unique identifier, never reused."),
        "resourceVersion", str_prop("Opaque version of this object, for optimistic concurrency and watches."),
        "generation", json_pack("{s:s,s:s,s:s}", "type", "integer", "format", "int64", "description",
                                "Sequence number of the desired state, bumped on spec changes."),
        "creationTimestamp", json_pack("{s:s,s:s,s:s}", "type", "string", "format", "date-time",
                                       "description", "When the object was created."),
        "deletionTimestamp", json_pack("{s:s,s:s,s:s}", "type", "string", "format", "date-time",
                                       "description", "When deletion was requested; set while finalizers hold the object."),
        "deletionGracePeriodSeconds", json_pack("{s:s,s:s,s:s}", "type", "integer", "format", "int64",
                                                "description", "Grace period of a requested deletion."),
        "labels", json_pack("{s:s,s:O,s:s}", "type", "object", "additionalProperties",
                            json_object_get(strmap, "additionalProperties"), "description",
                            "Key/value pairs used to select and group objects."),
        "annotations", json_pack("{s:s,s:O,s:s}", "type", "object", "additionalProperties",
                                 json_object_get(strmap, "additionalProperties"), "description",
                                 "Non-identifying key/value data for tools."),
        "finalizers", json_pack("{s:s,s:{s:s},s:s,s:s}", "type", "array", "items", "type", "string",
                                "description", "Names of the parties that must finish before the object is removed.",
                                "x-kubernetes-patch-strategy", "merge"),
        "ownerReferences", json_pack("{s:s,s:o,s:s,s:s,s:s}", "type", "array", "items",
                                     ref(META "OwnerReference"), "description",
                                     "Objects this one depends on; it is collected when they are gone.",
                                     "x-kubernetes-patch-merge-key", "uid",
                                     "x-kubernetes-patch-strategy", "merge"),
        "managedFields", json_pack("{s:s,s:{s:s,s:b},s:s}", "type", "array", "items", "type", "object",
                                   "x-kubernetes-preserve-unknown-fields", 1, "description",
                                   "Field ownership records (not tracked by this server)."));
    json_decref(strmap);
    json_t *lm = json_pack("{s:s,s:s,s:{s:o,s:o,s:o}}", "type", "object", "description",
                           "Metadata of a list: its resource version and continuation.",
                           "properties", "resourceVersion", str_prop("Version of the list."),
                           "continue", str_prop("Token to fetch the next page."),
                           "remainingItemCount", json_pack("{s:s,s:s}", "type", "integer",
                                                           "format", "int64"));
    return json_pack("{s:o,s:o,s:o}", META "ObjectMeta", om, META "OwnerReference", owner,
                     META "ListMeta", lm);
}

/* The component schema of a kind: its schema with metadata referenced. */
static json_t *kind_schema(const resource_t *r)
{
    json_t *s = json_deep_copy(r->schema);
    json_t *props = json_object_get(s, "properties");
    if (!props) {
        props = json_object();
        json_object_set_new(s, "properties", props);
    }
    json_object_set_new(props, "metadata",
                        json_pack("{s:[o],s:s}", "allOf", ref(META "ObjectMeta"), "description",
                                  "Standard object metadata."));
    if (!json_object_get(props, "apiVersion"))
        json_object_set_new(props, "apiVersion",
                            str_prop("Versioned schema of this representation of the object."));
    if (!json_object_get(props, "kind"))
        json_object_set_new(props, "kind", str_prop("Kind of this object."));
    json_object_set_new(s, "x-kubernetes-group-version-kind",
                        json_pack("[{s:s,s:s,s:s}]", "group", r->group, "version", r->version,
                                  "kind", r->kind));
    return s;
}

static json_t *list_schema(const resource_t *r, const char *item)
{
    char *desc = g_strdup_printf("A list of %s objects.", r->kind);
    json_t *s = json_pack("{s:s,s:s,s:[s],s:{s:o,s:o,s:{s:s,s:o},s:o},s:[{s:s,s:s,s:s}]}",
                          "type", "object", "description", desc, "required", "items",
                          "properties", "apiVersion", str_prop("Versioned schema of this list."),
                          "kind", str_prop("Kind of this list."), "items", "type", "array",
                          "items", ref(item), "metadata", ref(META "ListMeta"),
                          "x-kubernetes-group-version-kind", "group", r->group, "version",
                          r->version, "kind", r->list_kind);
    g_free(desc);
    return s;
}

static json_t *param(const char *name, const char *in, const char *desc)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s},s:b}", "name", name, "in", in, "description", desc,
                     "schema", "type", "string", "uniqueItems", 1);
}

static json_t *write_params(void)
{
    return json_pack("[o,o,o]",
                     param("dryRun", "query", "When All, validate and default without storing."),
                     param("fieldManager", "query", "Name of the actor making the change."),
                     param("fieldValidation", "query",
                           "Ignore, Warn or Strict: what to do with unknown or duplicate fields."));
}

static json_t *op(const resource_t *r, const char *action, const char *kind_ref,
                  const char *const *body_types, bool write)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "x-kubernetes-action", action,
                          "operationId", action, "x-kubernetes-group-version-kind", "group",
                          r->group, "version", r->version, "kind", r->kind);
    json_t *content = json_pack("{s:{s:o}}", "application/json", "schema", ref(kind_ref));
    json_object_set_new(o, "responses",
                        json_pack("{s:{s:s,s:o}}", "200", "description", "OK", "content", content));
    if (write)
        json_object_set_new(o, "parameters", write_params());
    if (body_types) {
        json_t *bc = json_object();
        for (const char *const *t = body_types; *t; t++)
            json_object_set_new(bc, *t, json_pack("{s:o}", "schema",
                                                  !strcmp(*t, "application/json") ||
                                                          !strcmp(*t, "application/yaml")
                                                      ? ref(kind_ref)
                                                      : json_pack("{s:s}", "type", "object")));
        json_object_set_new(o, "requestBody",
                            json_pack("{s:o,s:b}", "content", bc, "required", 1));
    }
    return o;
}

static void add_paths(json_t *paths, const resource_t *r)
{
    static const char *const create_types[] = {"application/json", "application/yaml", NULL};
    static const char *const patch_types[] = {"application/json-patch+json",
                                              "application/merge-patch+json", NULL};
    static const char *const patch_types_core[] = {"application/json-patch+json",
                                                   "application/merge-patch+json",
                                                   "application/strategic-merge-patch+json",
                                                   NULL};
    const char *const *pt = *r->group ? patch_types : patch_types_core;
    char *base = *r->group ? g_strconcat("/apis/", r->api_version, NULL) : g_strdup("/api/v1");
    char *coll = r->namespaced
                     ? g_strconcat(base, "/namespaces/{namespace}/", r->plural, NULL)
                     : g_strconcat(base, "/", r->plural, NULL);
    char *item = g_strconcat(coll, "/{name}", NULL);
    char *kref = schema_name(r, r->kind), *lref = schema_name(r, r->list_kind);
    json_t *ns_param = param("namespace", "path", "Object name and auth scope.");
    json_t *name_param = param("name", "path", "Name of the object.");

    json_t *c = json_pack("{s:o,s:o,s:o}", "get", op(r, "list", lref, NULL, false), "post",
                          op(r, "post", kref, create_types, true), "delete",
                          op(r, "deletecollection", kref, NULL, false));
    json_object_set_new(c, "parameters",
                        r->namespaced ? json_pack("[O]", ns_param) : json_array());
    json_object_set_new(paths, coll, c);

    json_t *i = json_pack("{s:o,s:o,s:o,s:o}", "get", op(r, "get", kref, NULL, false), "put",
                          op(r, "put", kref, create_types, true), "patch",
                          op(r, "patch", kref, pt, true), "delete",
                          op(r, "delete", kref, NULL, false));
    json_object_set_new(i, "parameters", r->namespaced ? json_pack("[O,O]", ns_param, name_param)
                                                       : json_pack("[O]", name_param));
    json_object_set_new(paths, item, i);

    if (r->has_status) {
        char *st = g_strconcat(item, "/status", NULL);
        json_t *s = json_pack("{s:o,s:o,s:o}", "get", op(r, "get", kref, NULL, false), "put",
                              op(r, "put", kref, create_types, true), "patch",
                              op(r, "patch", kref, pt, true));
        json_object_set(s, "parameters", json_object_get(i, "parameters"));
        json_object_set_new(paths, st, s);
        g_free(st);
    }
    if (r->namespaced) {
        char *all = g_strconcat(base, "/", r->plural, NULL);
        json_object_set_new(paths, all, json_pack("{s:o}", "get", op(r, "list", lref, NULL, false)));
        g_free(all);
    }
    json_decref(ns_param);
    json_decref(name_param);
    g_free(base);
    g_free(coll);
    g_free(item);
    g_free(kref);
    g_free(lref);
}

static char *build_gv_doc(const registry_t *reg, const char *group, const char *version)
{
    json_t *paths = json_object();
    json_t *schemas = meta_schemas();
    char *text;

    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        if (strcmp(r->group, group) || strcmp(r->version, version))
            continue;
        char *kn = schema_name(r, r->kind), *ln = schema_name(r, r->list_kind);
        json_object_set_new(schemas, kn, kind_schema(r));
        json_object_set_new(schemas, ln, list_schema(r, kn));
        add_paths(paths, r);
        g_free(kn);
        g_free(ln);
    }
    json_t *doc = json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:o}}", "openapi", "3.0.0", "info", "title",
                            "vmsvc", "version", VMSVC_VERSION, "paths", paths, "components",
                            "schemas", schemas);
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/* Build every document once; callers hold docs_lock. */
static void build_all(apiserver_t *srv)
{
    const registry_t *reg = srv->reg;
    json_t *index;

    if (srv->openapi_index)
        return;
    index = json_object();
    srv->openapi = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, free);
    srv->openapi_hash = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        char *key = *r->group ? g_strconcat("apis/", r->api_version, NULL) : g_strdup("api/v1");
        if (g_hash_table_contains(srv->openapi, key)) {
            g_free(key);
            continue;
        }
        char *doc = build_gv_doc(reg, r->group, r->version);
        char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, doc, -1);
        char *url = g_strdup_printf("/openapi/v3/%s?hash=%s", key, hash);
        json_object_set_new(index, key, json_pack("{s:s}", "serverRelativeURL", url));
        g_hash_table_insert(srv->openapi_hash, g_strdup(key), hash);
        g_hash_table_insert(srv->openapi, key, doc);
        g_free(url);
    }
    json_t *wrapper = json_pack("{s:o}", "paths", index);
    srv->openapi_index = json_dumps(wrapper, JSON_COMPACT);
    json_decref(wrapper);
}

bool api_openapi(api_request_t *rq, api_response_t *resp)
{
    apiserver_t *srv = rq->srv;
    const char *p = rq->path + strlen("/openapi/");
    const char *doc = NULL;

    if (strncmp(p, "v3", 2) != 0 || (p[2] != '\0' && p[2] != '/'))
        return false;
    g_mutex_lock(&srv->docs_lock);
    build_all(srv);
    if (p[2] == '\0' || !strcmp(p, "v3/"))
        doc = srv->openapi_index;
    else
        doc = g_hash_table_lookup(srv->openapi, p + 3);
    g_mutex_unlock(&srv->docs_lock);
    if (!doc)
        return false;
    /* Documents are immutable once built: the hash in the URL lets clients cache. */
    api_respond_text(resp, 200, "application/json", strdup(doc), strlen(doc));
    return true;
}
