/* handlers: see handlers.h. */
#include "api/handlers.h"

#include <string.h>

#include "api/objects.h"
#include "api/table.h"
#include "model/meta.h"
#include "model/patch.h"
#include "model/pb.h"
#include "model/selector.h"
#include "model/yaml.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define LIST_MAX_LIMIT 100000

typedef enum { FMT_JSON, FMT_YAML, FMT_TABLE } out_format_t;

/* ---- content negotiation ------------------------------------------------ */

static int negotiate(const api_request_t *rq, out_format_t *fmt, err_t *err)
{
    const char *a = rq->accept;
    if (!a || !*a || strstr(a, "as=Table") == NULL) {
        if (!a || !*a || strstr(a, "application/json") || strstr(a, "*/*")) {
            *fmt = FMT_JSON;
            return 0;
        }
        if (strstr(a, "application/yaml")) {
            *fmt = FMT_YAML;
            return 0;
        }
        err_set(err, ERR_NOT_ACCEPTABLE,
                "only the following media types are accepted: application/json, "
                "application/yaml");
        return -1;
    }
    *fmt = FMT_TABLE;
    return 0;
}

static void respond_value(api_response_t *resp, int status, out_format_t fmt, json_t *v)
{
    if (fmt == FMT_YAML) {
        char *y = yaml_emit(v);
        json_decref(v);
        api_respond_text(resp, status, "application/yaml", y, strlen(y));
        return;
    }
    api_respond_json(resp, status, v);
}

/* Respond with one stored object; JSON goes out as stored, without a parse
 * or a copy. */
static void respond_object(api_response_t *resp, int status, out_format_t fmt,
                           const resource_t *res, const api_request_t *rq, store_obj_t *o)
{
    if (fmt == FMT_JSON) {
        api_respond_stored(resp, status, o);
        return;
    }
    json_t *obj = store_obj_parse(o);
    if (fmt == FMT_TABLE) {
        table_include_t inc = TABLE_INCLUDE_METADATA;
        json_t *t = table_new(res, true);
        table_include_parse(api_query(rq, "includeObject"), &inc);
        table_add_row(t, res, obj, inc);
        json_decref(obj);
        api_respond_json(resp, status, t);
        return;
    }
    respond_value(resp, status, fmt, obj);
}

/* ---- request bodies ------------------------------------------------------ */

static bool ctype_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct && g_ascii_strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' ||
                                                           ct[n] == ' ');
}

static json_t *decode_body(const api_request_t *rq, err_t *err)
{
    const char *ct = rq->content_type;
    json_t *v;

    if (rq->body_len == 0) {
        err_set(err, ERR_BAD_REQUEST, "The request has no body.");
        return NULL;
    }
    if (ctype_is(ct, "application/yaml") || ctype_is(ct, "application/apply-patch+yaml")) {
        v = yaml_parse(rq->body, rq->body_len, err);
        if (v && json_depth(v, JSON_MAX_DEPTH + 1) > JSON_MAX_DEPTH) {
            json_decref(v);
            err_set(err, ERR_BAD_REQUEST, "The request body nests deeper than %d levels.",
                    JSON_MAX_DEPTH);
            return NULL;
        }
        return v;
    }
    if (ctype_is(ct, "application/vnd.kubernetes.protobuf"))
        return pb_decode_object(rq->body, rq->body_len, err);
    if (ct && *ct && !ctype_is(ct, "application/json") &&
        !ctype_is(ct, "application/merge-patch+json") &&
        !ctype_is(ct, "application/json-patch+json") &&
        !ctype_is(ct, "application/strategic-merge-patch+json")) {
        err_set(err, ERR_UNSUPPORTED_MEDIA,
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json, application/yaml, "
                "application/vnd.kubernetes.protobuf");
        return NULL;
    }
    return json_parse_untrusted(rq->body, rq->body_len, err);
}

/* ---- options --------------------------------------------------------------- */

static int parse_write_opts(const api_request_t *rq, obj_opts_t *o, err_t *err)
{
    const char *fv = api_query(rq, "fieldValidation");
    const char *dry = api_query(rq, "dryRun");

    if (field_validation_parse(fv ? fv : "", &o->fv) < 0) {
        err_set(err, ERR_BAD_REQUEST,
                "fieldValidation: Unsupported value: \"%s\": supported values: \"Ignore\", "
                "\"Warn\", \"Strict\"", fv);
        return -1;
    }
    if (!fv)
        o->fv = FIELD_VALIDATION_WARN; /* what Kubernetes does without the parameter */
    if (dry && *dry) {
        if (strcmp(dry, "All") != 0) {
            err_set(err, ERR_BAD_REQUEST,
                    "dryRun: Unsupported value: \"%s\": supported values: \"All\"", dry);
            return -1;
        }
        o->dry_run = true;
    }
    o->warnings = json_array();
    return 0;
}

static void take_warnings(api_response_t *resp, obj_opts_t *o)
{
    size_t i;
    json_t *w;
    json_array_foreach(o->warnings, i, w) api_warn(resp, "%s", json_string_value(w));
    json_decref(o->warnings);
    o->warnings = NULL;
}

/* ---- selectors ------------------------------------------------------------- */

static const char *const *field_keys(const resource_t *res)
{
    static const char *const common[] = {"metadata.name", "metadata.namespace", NULL};
    static const char *const events[] = {
        "metadata.name", "metadata.namespace", "involvedObject.kind",
        "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type", NULL};
    static const char *const namespaces[] = {"metadata.name", "status.phase", NULL};
    static const char *const secrets[] = {"metadata.name", "metadata.namespace", "type", NULL};
    static const char *const nodes[] = {"metadata.name", "spec.unschedulable", NULL};

    if (*res->group)
        return common;
    if (!strcmp(res->plural, "events"))
        return events;
    if (!strcmp(res->plural, "namespaces"))
        return namespaces;
    if (!strcmp(res->plural, "secrets"))
        return secrets;
    if (!strcmp(res->plural, "nodes"))
        return nodes;
    return common;
}

static bool fields_need_parse(field_selector_t *fs)
{
    return fs != NULL;
}

bool handlers_object_matches(const store_obj_t *o, label_selector_t *ls, field_selector_t *fs)
{
    if (ls && !label_selector_matches(ls, o->labels))
        return false;
    if (fields_need_parse(fs)) {
        json_t *obj = store_obj_parse(o);
        bool ok;
        /* "source" on events means the reporting component. */
        json_t *src = json_path_get(obj, "source.component");
        if (src)
            json_object_set(obj, "source", src);
        ok = field_selector_matches(fs, obj);
        json_decref(obj);
        return ok;
    }
    return true;
}

static int parse_selectors(const api_request_t *rq, const resource_t *res,
                           label_selector_t **ls, field_selector_t **fs, err_t *err)
{
    const char *l = api_query(rq, "labelSelector");
    const char *f = api_query(rq, "fieldSelector");
    *ls = NULL;
    *fs = NULL;
    if (l && *l && !(*ls = label_selector_parse(l, err)))
        return -1;
    if (f && *f && !(*fs = field_selector_parse(f, field_keys(res), err))) {
        label_selector_free(*ls);
        *ls = NULL;
        return -1;
    }
    return 0;
}

static char *collection_prefix(const res_path_t *p)
{
    if (p->res->namespaced && p->ns)
        return g_strconcat(p->res->key_prefix, p->ns, "/", NULL);
    return g_strdup(p->res->key_prefix);
}

/* ---- continue tokens: base64 of {"rv":N,"start":"key"} -------------------- */

static char *continue_encode(int64_t rv, const char *last_key)
{
    json_t *t = json_pack("{s:I,s:s}", "rv", (json_int_t)rv, "start", last_key);
    char *s = json_dumps(t, JSON_COMPACT);
    char *b64 = g_base64_encode((const guchar *)s, strlen(s));
    free(s);
    json_decref(t);
    return b64;
}

static char *continue_decode(const char *tok, const char *prefix, err_t *err)
{
    gsize n = 0;
    guchar *raw;
    json_t *t;
    char *start = NULL;

    if (strlen(tok) > 4096)
        goto bad;
    raw = g_base64_decode(tok, &n);
    t = raw ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
    g_free(raw);
    if (t && json_is_string(json_object_get(t, "start")) &&
        g_str_has_prefix(json_string_value(json_object_get(t, "start")), prefix))
        start = g_strdup(json_string_value(json_object_get(t, "start")));
    json_decref(t);
    if (start)
        return start;
bad:
    err_set(err, ERR_BAD_REQUEST, "The continue token is not valid.");
    return NULL;
}

/* ---- list ------------------------------------------------------------------ */

static void handle_list(api_request_t *rq, api_response_t *resp, const res_path_t *p,
                        out_format_t fmt)
{
    err_t err = ERR_INIT;
    label_selector_t *ls = NULL;
    field_selector_t *fs = NULL;
    char *prefix = collection_prefix(p), *after = NULL, *name_key = NULL;
    const char *lim = api_query(rq, "limit"), *cont = api_query(rq, "continue");
    size_t limit = 0;
    int64_t rev = 0;
    bool more = false;
    GPtrArray *objs = NULL;
    GString *out = NULL;
    json_t *table = NULL;
    table_include_t inc = TABLE_INCLUDE_METADATA;
    size_t emitted = 0;
    const char *last = NULL;

    if (parse_selectors(rq, p->res, &ls, &fs, &err) < 0)
        goto fail;
    if (lim && *lim) {
        char *end;
        long long v = g_ascii_strtoll(lim, &end, 10);
        if (*end || v < 0) {
            err_set(&err, ERR_BAD_REQUEST, "limit must be a non-negative integer.");
            goto fail;
        }
        limit = v > LIST_MAX_LIMIT ? LIST_MAX_LIMIT : (size_t)v;
    }
    if (cont && *cont && !(after = continue_decode(cont, prefix, &err)))
        goto fail;
    if (fmt == FMT_TABLE && table_include_parse(api_query(rq, "includeObject"), &inc) < 0) {
        err_set(&err, ERR_BAD_REQUEST, "includeObject must be None, Metadata or Object.");
        goto fail;
    }

    /* A field selector on the name narrows the scan to one key. */
    const char *exact = fs ? field_selector_exact(fs, "metadata.name") : NULL;
    if (exact) {
        store_obj_t *o;
        name_key = g_strconcat(prefix, exact, NULL);
        objs = g_ptr_array_new_with_free_func((GDestroyNotify)store_obj_unref);
        rev = store_revision(rq->srv->store);
        if (p->res->namespaced && !p->ns) {
            /* Across namespaces: scan, the name filter does the rest. */
            g_ptr_array_unref(objs);
            objs = store_list(rq->srv->store, prefix, after, 0, &rev, NULL);
        } else if ((o = store_get(rq->srv->store, name_key)) &&
                   (!after || strcmp(o->key, after) > 0)) {
            g_ptr_array_add(objs, o);
        } else {
            store_obj_unref(o);
        }
    } else {
        /* With selectors, a page may need more than `limit` objects scanned. */
        objs = store_list(rq->srv->store, prefix, after, (ls || fs) ? 0 : limit, &rev, &more);
    }

    if (fmt == FMT_TABLE)
        table = table_new(p->res, true);
    else
        out = g_string_sized_new(4096);

    for (guint i = 0; i < objs->len; i++) {
        store_obj_t *o = objs->pdata[i];
        if (limit && emitted == limit) {
            more = true;
            break;
        }
        if (!handlers_object_matches(o, ls, fs))
            continue;
        if (table) {
            json_t *obj = store_obj_parse(o);
            table_add_row(table, p->res, obj, inc);
            json_decref(obj);
        } else {
            if (emitted)
                g_string_append_c(out, ',');
            g_string_append_len(out, o->json, (gssize)o->len);
        }
        emitted++;
        last = o->key;
    }

    char rvbuf[24];
    char *ctok = more && last ? continue_encode(rev, last) : NULL;
    snprintf(rvbuf, sizeof(rvbuf), "%lld", (long long)rev);
    if (table) {
        json_t *md = json_object_get(table, "metadata");
        json_object_set_new(md, "resourceVersion", json_string(rvbuf));
        if (ctok)
            json_object_set_new(md, "continue", json_string(ctok));
        api_respond_json(resp, 200, table);
    } else {
        GString *doc = g_string_sized_new(out->len + 256);
        g_string_append_printf(doc,
                               "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{"
                               "\"resourceVersion\":\"%s\"",
                               p->res->list_kind, p->res->api_version, rvbuf);
        if (ctok)
            g_string_append_printf(doc, ",\"continue\":\"%s\"", ctok);
        g_string_append(doc, "},\"items\":[");
        g_string_append_len(doc, out->str, (gssize)out->len);
        g_string_append(doc, "]}");
        if (fmt == FMT_YAML) {
            json_t *v = json_loadb(doc->str, doc->len, 0, NULL);
            g_string_free(doc, TRUE);
            respond_value(resp, 200, fmt, v);
        } else {
            gsize n = doc->len;
            api_respond_text(resp, 200, "application/json", g_string_free(doc, FALSE), n);
        }
        g_string_free(out, TRUE);
    }
    g_free(ctok);
    goto done;

fail:
    api_respond_error(resp, &err, p->res, NULL);
done:
    if (objs)
        g_ptr_array_unref(objs);
    label_selector_free(ls);
    field_selector_free(fs);
    g_free(prefix);
    g_free(after);
    g_free(name_key);
    err_clear(&err);
}

/* ---- watch ----------------------------------------------------------------- */

/* A boolean query parameter, read as Go's strconv.ParseBool reads it
 * (clients send "true", "True" or "1"). */
static bool query_true(const api_request_t *rq, const char *key)
{
    static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
    const char *v = api_query(rq, key);
    for (size_t i = 0; v && i < G_N_ELEMENTS(yes); i++)
        if (!strcmp(v, yes[i]))
            return true;
    return false;
}

static void handle_watch(api_request_t *rq, api_response_t *resp, const res_path_t *p,
                         out_format_t fmt)
{
    err_t err = ERR_INIT;
    watch_params_t wp = {.res = p->res, .from_rev = -1, .timeout_s = 1800};
    const char *rv = api_query(rq, "resourceVersion");
    const char *to = api_query(rq, "timeoutSeconds");
    label_selector_t *ls;
    field_selector_t *fs;

    if (parse_selectors(rq, p->res, &ls, &fs, &err) < 0)
        goto fail;
    wp.labels = ls;
    wp.fields = fs;
    if (p->name) {
        /* A watch on one object: a field selector on its name. */
        char *sel = g_strconcat("metadata.name=", p->name, NULL);
        field_selector_free(wp.fields);
        wp.fields = field_selector_parse(sel, field_keys(p->res), &err);
        g_free(sel);
        if (!wp.fields)
            goto fail;
    }
    if (rv && *rv && strcmp(rv, "0") != 0) {
        char *end;
        long long v = g_ascii_strtoll(rv, &end, 10);
        if (*end || v < 0) {
            err_set(&err, ERR_BAD_REQUEST, "resourceVersion: Invalid value: \"%s\": must be "
                    "a non-negative integer", rv);
            goto fail;
        }
        wp.from_rev = v;
    }
    if (to && *to) {
        char *end;
        long long v = g_ascii_strtoll(to, &end, 10);
        if (*end || v < 0) {
            err_set(&err, ERR_BAD_REQUEST, "timeoutSeconds must be a non-negative integer.");
            goto fail;
        }
        wp.timeout_s = v > 86400 ? 86400 : (int)v;
    }
    wp.bookmarks = query_true(rq, "allowWatchBookmarks");
    if (query_true(rq, "sendInitialEvents")) {
        wp.from_rev = -1;
        wp.initial_events_end = true;
        wp.bookmarks = true;
    }
    wp.table = fmt == FMT_TABLE;
    if (wp.table) {
        table_include_t inc = TABLE_INCLUDE_METADATA;
        table_include_parse(api_query(rq, "includeObject"), &inc);
        wp.table_include = inc;
    }
    wp.prefix = collection_prefix(p);
    watch_serve(rq, resp, &wp);
    return;

fail:
    label_selector_free(wp.labels);
    field_selector_free(wp.fields);
    api_respond_error(resp, &err, p->res, p->name);
    err_clear(&err);
}

/* ---- create / update / patch ---------------------------------------------- */

static void handle_create(api_request_t *rq, api_response_t *resp, const res_path_t *p,
                          out_format_t fmt)
{
    err_t err = ERR_INIT;
    obj_opts_t o = {0};
    json_t *body;
    store_obj_t *res;
    char *name = NULL;

    if (p->res->namespaced && !p->ns) {
        err_set(&err, ERR_NOT_FOUND, "the server could not find the requested resource");
        goto fail;
    }
    if (parse_write_opts(rq, &o, &err) < 0 || !(body = decode_body(rq, &err)))
        goto fail;
    name = g_strdup(json_path_str(body, "metadata.name"));
    res = obj_create(rq->srv, p->res, p->ns, body, &o, &err);
    take_warnings(resp, &o);
    if (!res)
        goto fail;
    respond_object(resp, 201, fmt, p->res, rq, res);
    store_obj_unref(res);
    g_free(name);
    return;
fail:
    json_decref(o.warnings);
    api_respond_error(resp, &err, p->res, name);
    g_free(name);
    err_clear(&err);
}

static json_t *mutate_replace(const json_t *cur, void *ctx, err_t *err)
{
    return json_deep_copy(ctx);
}

typedef struct patch_ctx {
    int kind; /* 0 json, 1 merge, 2 strategic */
    const json_t *patch;
    const resource_t *res;
} patch_ctx_t;

static json_t *mutate_patch(const json_t *cur, void *ctx, err_t *err)
{
    patch_ctx_t *pc = ctx;
    const char *cur_rv = json_path_str(cur, "metadata.resourceVersion");
    json_t *next;

    if (pc->kind == 0)
        next = patch_json_apply(cur, pc->patch, err);
    else if (pc->kind == 1)
        next = patch_merge_apply(cur, pc->patch, err);
    else
        next = patch_strategic_apply(cur, pc->patch, pc->res->schema, err);
    if (!next)
        return NULL;
    if (!json_is_object(next)) {
        json_decref(next);
        err_set(err, ERR_BAD_REQUEST, "The patch does not produce an object.");
        return NULL;
    }
    /* Only a resourceVersion the patch itself sets is a precondition. */
    if (g_strcmp0(json_path_str(next, "metadata.resourceVersion"), cur_rv) == 0)
        json_path_del(next, "metadata.resourceVersion");
    return next;
}

static void handle_update(api_request_t *rq, api_response_t *resp, const res_path_t *p,
                          out_format_t fmt, bool patch)
{
    err_t err = ERR_INIT;
    obj_opts_t o = {0};
    json_t *body = NULL;
    store_obj_t *res;
    patch_ctx_t pc = {.res = p->res};
    const char *ct = rq->content_type;

    if (parse_write_opts(rq, &o, &err) < 0)
        goto fail;
    if (patch) {
        if (ctype_is(ct, "application/json-patch+json"))
            pc.kind = 0;
        else if (ctype_is(ct, "application/merge-patch+json"))
            pc.kind = 1;
        else if (ctype_is(ct, "application/strategic-merge-patch+json") && !*p->res->group)
            pc.kind = 2;
        else {
            err_set(&err, ERR_UNSUPPORTED_MEDIA,
                    "the body of the request was in an unknown format - accepted media types "
                    "include: application/json-patch+json, application/merge-patch+json%s",
                    *p->res->group ? "" : ", application/strategic-merge-patch+json");
            goto fail;
        }
    }
    if (!(body = decode_body(rq, &err)))
        goto fail;
    if (patch) {
        if ((pc.kind == 0 && !json_is_array(body)) || (pc.kind != 0 && !json_is_object(body))) {
            err_set(&err, ERR_BAD_REQUEST, pc.kind == 0
                        ? "A JSON patch must be a list of operations."
                        : "A merge patch must be a JSON object.");
            goto fail;
        }
        pc.patch = body;
        res = obj_update(rq->srv, p->res, p->ns, p->name, p->sub, mutate_patch, &pc, &o, &err);
    } else {
        res = obj_update(rq->srv, p->res, p->ns, p->name, p->sub, mutate_replace, body, &o,
                         &err);
    }
    take_warnings(resp, &o);
    if (!res)
        goto fail;
    respond_object(resp, 200, fmt, p->res, rq, res);
    store_obj_unref(res);
    json_decref(body);
    return;
fail:
    json_decref(body);
    json_decref(o.warnings);
    api_respond_error(resp, &err, p->res, p->name);
    err_clear(&err);
}

/* ---- delete ---------------------------------------------------------------- */

static int parse_delete_opts(const api_request_t *rq, obj_opts_t *o, json_t **body, err_t *err)
{
    const char *pp = api_query(rq, "propagationPolicy");
    *body = NULL;
    if (parse_write_opts(rq, o, err) < 0)
        return -1;
    o->propagation = pp;
    if (rq->body_len > 0) {
        json_t *b = decode_body(rq, err);
        if (!b)
            return -1;
        if (!json_is_object(b)) {
            json_decref(b);
            err_set(err, ERR_BAD_REQUEST, "DeleteOptions must be an object.");
            return -1;
        }
        *body = b;
        if (json_is_string(json_object_get(b, "propagationPolicy")))
            o->propagation = json_string_value(json_object_get(b, "propagationPolicy"));
        if (json_is_true(json_object_get(b, "orphanDependents")))
            o->propagation = "Orphan";
        o->precond_uid = json_path_str(b, "preconditions.uid");
        o->precond_rv = json_path_str(b, "preconditions.resourceVersion");
        json_t *dr = json_object_get(b, "dryRun");
        if (json_array_size(dr) > 0)
            o->dry_run = true;
    }
    return 0;
}

static void handle_delete(api_request_t *rq, api_response_t *resp, const res_path_t *p,
                          out_format_t fmt)
{
    err_t err = ERR_INIT;
    obj_opts_t o = {0};
    json_t *body = NULL;
    store_obj_t *res;

    if (parse_delete_opts(rq, &o, &body, &err) < 0)
        goto fail;
    res = obj_delete(rq->srv, p->res, p->ns, p->name, &o, &err);
    json_decref(o.warnings);
    json_decref(body);
    if (!res)
        goto fail;
    respond_object(resp, 200, fmt, p->res, rq, res);
    store_obj_unref(res);
    return;
fail:
    api_respond_error(resp, &err, p->res, p->name);
    err_clear(&err);
}

static void handle_delete_collection(api_request_t *rq, api_response_t *resp,
                                     const res_path_t *p)
{
    err_t err = ERR_INIT;
    obj_opts_t o = {0};
    json_t *body = NULL;
    label_selector_t *ls = NULL;
    field_selector_t *fs = NULL;
    char *prefix = collection_prefix(p);
    GPtrArray *objs = NULL;

    if (parse_delete_opts(rq, &o, &body, &err) < 0 ||
        parse_selectors(rq, p->res, &ls, &fs, &err) < 0)
        goto fail;
    objs = store_list(rq->srv->store, prefix, NULL, 0, NULL, NULL);
    for (guint i = 0; i < objs->len; i++) {
        store_obj_t *obj = objs->pdata[i];
        json_t *j;
        store_obj_t *r;
        if (!handlers_object_matches(obj, ls, fs))
            continue;
        j = store_obj_parse(obj);
        r = obj_delete(rq->srv, p->res, json_path_str(j, "metadata.namespace"),
                       json_path_str(j, "metadata.name"), &o, &err);
        json_decref(j);
        store_obj_unref(r);
        if (!r && err.code != ERR_NOT_FOUND)
            goto fail;
        err_clear(&err);
    }
    api_respond_json(resp, 200,
                     json_pack("{s:s,s:s,s:{},s:s}", "kind", "Status", "apiVersion", "v1",
                               "metadata", "status", "Success"));
    goto done;
fail:
    api_respond_error(resp, &err, p->res, NULL);
done:
    if (objs)
        g_ptr_array_unref(objs);
    json_decref(o.warnings);
    json_decref(body);
    label_selector_free(ls);
    field_selector_free(fs);
    g_free(prefix);
    err_clear(&err);
}

/* ---- dispatch -------------------------------------------------------------- */

static void method_not_allowed(api_response_t *resp, const res_path_t *p, const char *m)
{
    err_t err = ERR_INIT;
    err_set(&err, ERR_METHOD_NOT_ALLOWED, "the server does not allow this method on the "
            "requested resource (%s %s)", m, p->res->group_resource);
    api_respond_error(resp, &err, p->res, p->name);
}

void handle_resource(api_request_t *rq, api_response_t *resp, const res_path_t *p)
{
    const char *m = rq->method;
    out_format_t fmt;
    err_t err = ERR_INIT;

    if (negotiate(rq, &fmt, &err) < 0) {
        api_respond_error(resp, &err, p->res, p->name);
        return;
    }
    if (p->sub && !(p->res->has_status && !strcmp(p->sub, "status"))) {
        err_set(&err, ERR_NOT_FOUND, "the server could not find the requested resource");
        api_respond_error(resp, &err, p->res, p->name);
        return;
    }
    if (!p->name) {
        if (!strcmp(m, "GET")) {
            if (query_true(rq, "watch"))
                handle_watch(rq, resp, p, fmt);
            else
                handle_list(rq, resp, p, fmt);
        } else if (!strcmp(m, "POST")) {
            handle_create(rq, resp, p, fmt);
        } else if (!strcmp(m, "DELETE")) {
            handle_delete_collection(rq, resp, p);
        } else {
            method_not_allowed(resp, p, m);
        }
        return;
    }
    if (!strcmp(m, "GET")) {
        if (query_true(rq, "watch")) {
            handle_watch(rq, resp, p, fmt);
            return;
        }
        store_obj_t *o = obj_get(rq->srv, p->res, p->ns, p->name, &err);
        if (!o) {
            api_respond_error(resp, &err, p->res, p->name);
            return;
        }
        respond_object(resp, 200, fmt, p->res, rq, o);
        store_obj_unref(o);
    } else if (!strcmp(m, "PUT")) {
        handle_update(rq, resp, p, fmt, false);
    } else if (!strcmp(m, "PATCH")) {
        handle_update(rq, resp, p, fmt, true);
    } else if (!strcmp(m, "DELETE") && !p->sub) {
        handle_delete(rq, resp, p, fmt);
    } else {
        method_not_allowed(resp, p, m);
    }
}
