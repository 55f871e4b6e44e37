/* objects: see objects.h. */
#include "api/objects.h"

#include <string.h>

#include "api/admit.h"
#include "model/meta.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define OBJ_UPDATE_RETRIES 16

void obj_err_not_found(err_t *err, const resource_t *res, const char *name)
{
    err_set(err, ERR_NOT_FOUND, "%s \"%s\" not found", res->group_resource, name);
}

static void obj_err_conflict(err_t *err, const resource_t *res, const char *name)
{
    err_set(err, ERR_CONFLICT,
            "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
            "please apply your changes to the latest version and try again",
            res->group_resource, name);
}

/* Turn field causes into Kubernetes' Invalid message:
 * Kind.group "name" is invalid: [a: x, b: y]. */
static void obj_err_invalid(err_t *err, const resource_t *res, const char *name)
{
    GString *s;
    size_t i, n;
    json_t *c;

    if (err->code != ERR_INVALID || !err->causes)
        return;
    n = json_array_size(err->causes);
    s = g_string_new(NULL);
    g_string_append_printf(s, "%s%s%s \"%s\" is invalid: %s", res->kind, *res->group ? "." : "",
                           res->group, name ? name : "", n > 1 ? "[" : "");
    json_array_foreach(err->causes, i, c) {
        const char *f = json_string_value(json_object_get(c, "field"));
        if (i)
            g_string_append(s, ", ");
        if (f)
            g_string_append_printf(s, "%s: ", f);
        g_string_append(s, json_string_value(json_object_get(c, "message")));
        if (s->len > sizeof(err->msg) - 8)
            break;
    }
    if (n > 1)
        g_string_append(s, "]");
    g_strlcpy(err->msg, s->str, sizeof(err->msg));
    g_string_free(s, TRUE);
}

store_obj_t *obj_get(apiserver_t *srv, const resource_t *res, const char *ns,
                     const char *name, err_t *err)
{
    char *key = meta_key(res, ns, name);
    store_obj_t *o = store_get(srv->store, key);
    g_free(key);
    if (!o)
        obj_err_not_found(err, res, name);
    return o;
}

/* A namespaced write needs its namespace to exist and not be terminating. */
static int obj_check_namespace(apiserver_t *srv, const resource_t *res, const char *ns,
                               const char *name, err_t *err)
{
    char *key;
    store_obj_t *nso;
    json_t *nsj;
    bool terminating;

    if (!res->namespaced)
        return 0;
    key = g_strconcat("core/namespaces/", ns, NULL);
    nso = store_get(srv->store, key);
    g_free(key);
    if (!nso) {
        err_set(err, ERR_NOT_FOUND, "namespaces \"%s\" not found", ns);
        return -1;
    }
    nsj = store_obj_parse(nso);
    terminating = json_path_get(nsj, "metadata.deletionTimestamp") != NULL;
    json_decref(nsj);
    store_obj_unref(nso);
    if (terminating) {
        err_set(err, ERR_FORBIDDEN,
                "%s \"%s\" is forbidden: unable to create new content in namespace %s "
                "because it is being terminated",
                res->group_resource, name ? name : "", ns);
        return -1;
    }
    return 0;
}

/* apiVersion and kind in a body, when given, must name this resource. */
static int obj_check_type(const resource_t *res, const json_t *body, err_t *err)
{
    const char *av = json_string_value(json_object_get(body, "apiVersion"));
    const char *kind = json_string_value(json_object_get(body, "kind"));

    if (!json_is_object(body)) {
        err_set(err, ERR_BAD_REQUEST, "The request body must be a JSON or YAML object.");
        return -1;
    }
    if (json_object_get(body, "metadata") && !json_is_object(json_object_get(body, "metadata"))) {
        err_set(err, ERR_BAD_REQUEST, "metadata must be an object.");
        return -1;
    }
    if (av && strcmp(av, res->api_version) != 0) {
        err_set(err, ERR_BAD_REQUEST,
                "the API version in the data (%s) does not match the expected API version (%s)",
                av, res->api_version);
        return -1;
    }
    if (kind && strcmp(kind, res->kind) != 0) {
        err_set(err, ERR_BAD_REQUEST,
                "the kind in the data (%s) does not match the expected kind (%s)", kind,
                res->kind);
        return -1;
    }
    return 0;
}

static bool is_core(const resource_t *res, const char *plural)
{
    return !*res->group && strcmp(res->plural, plural) == 0;
}

/* Kind-specific defaults the schema cannot express. */
static void obj_default_kind(const resource_t *res, json_t *obj)
{
    if (is_core(res, "namespaces")) {
        json_t *spec = json_object_ensure(obj, "spec");
        if (!json_object_get(spec, "finalizers"))
            json_object_set_new(spec, "finalizers", json_pack("[s]", "kubernetes"));
        json_t *status = json_object_ensure(obj, "status");
        if (!json_object_get(json_path_get(obj, "metadata"), "deletionTimestamp"))
            json_object_set_new(status, "phase", json_string("Active"));
    } else if (is_core(res, "secrets")) {
        /* stringData is write-only: merged into data as base64, then dropped. */
        json_t *sd = json_object_get(obj, "stringData");
        const char *k;
        json_t *v;
        if (json_is_object(sd)) {
            json_t *data = json_object_ensure(obj, "data");
            json_object_foreach(sd, k, v) {
                if (!json_is_string(v))
                    continue;
                char *b64 = g_base64_encode((const guchar *)json_string_value(v),
                                            json_string_length(v));
                json_object_set_new(data, k, json_string(b64));
                g_free(b64);
            }
        }
        json_object_del(obj, "stringData");
        if (!json_object_get(obj, "type"))
            json_object_set_new(obj, "type", json_string("Opaque"));
    } else if (is_core(res, "events")) {
        json_t *md = json_object_get(obj, "metadata");
        if (!json_object_get(obj, "count"))
            json_object_set_new(obj, "count", json_integer(1));
        if (!json_object_get(obj, "type"))
            json_object_set_new(obj, "type", json_string("Normal"));
        if (!json_object_get(obj, "firstTimestamp") && md)
            json_object_set(obj, "firstTimestamp", json_object_get(md, "creationTimestamp"));
        if (!json_object_get(obj, "lastTimestamp"))
            json_object_set(obj, "lastTimestamp", json_object_get(obj, "firstTimestamp"));
    }
}

/* Validate an object about to be written: schema, then metadata. */
static int obj_validate(const resource_t *res, json_t *obj, const json_t *old, obj_opts_t *o,
                        err_t *err)
{
    const char *name = json_path_str(obj, "metadata.name");
    if (schema_validate(res->schema, obj, old, o->fv, o->warnings, err) < 0) {
        obj_err_invalid(err, res, name);
        return -1;
    }
    if (meta_validate(res, obj, err) < 0) {
        obj_err_invalid(err, res, name);
        return -1;
    }
    return 0;
}

store_obj_t *obj_create(apiserver_t *srv, const resource_t *res, const char *ns,
                        json_t *body, obj_opts_t *o, err_t *err)
{
    json_t *md;
    const char *name, *gen, *bns;
    char now[32];
    char *key = NULL;
    store_obj_t *res_obj = NULL;

    if (obj_check_type(res, body, err) < 0)
        goto out;
    md = json_object_ensure(body, "metadata");
    name = json_string_value(json_object_get(md, "name"));
    gen = json_string_value(json_object_get(md, "generateName"));
    bns = json_string_value(json_object_get(md, "namespace"));
    if (res->namespaced && bns && *bns && ns && strcmp(bns, ns) != 0) {
        err_set(err, ERR_BAD_REQUEST,
                "the namespace of the provided object does not match the namespace sent on "
                "the request");
        goto out;
    }
    if (obj_check_namespace(srv, res, ns, name, err) < 0)
        goto out;
    if (res->has_status && !is_core(res, "namespaces"))
        json_object_del(body, "status");
    meta_now(now, sizeof(now));
    meta_prepare_create(res, body, ns, now);
    obj_default_kind(res, body);
    if (admit(res, body, NULL, err) < 0) {
        obj_err_invalid(err, res, name);
        goto out;
    }

    for (int attempt = 0; attempt < 8; attempt++) {
        if ((!name || !*name) && gen && *gen) {
            char *gn = meta_generate_name(gen);
            json_object_set_new(md, "name", json_string(gn));
            g_free(gn);
        }
        if (attempt == 0 && obj_validate(res, body, NULL, o, err) < 0)
            goto out;
        g_free(key);
        key = meta_key(res, ns, json_string_value(json_object_get(md, "name")));
        if (o->dry_run) {
            res_obj = store_obj_from_json(key, body);
            goto out;
        }
        res_obj = store_write(srv->store, STORE_CREATE, key, json_incref(body), 0, err);
        if (res_obj || err->code != ERR_ALREADY_EXISTS || (name && *name) || !gen)
            break;
        err_clear(err); /* a generated name collided: draw another */
    }
    if (!res_obj && err->code == ERR_ALREADY_EXISTS)
        err_set(err, ERR_ALREADY_EXISTS, "%s \"%s\" already exists", res->group_resource,
                json_path_str(body, "metadata.name"));
out:
    g_free(key);
    json_decref(body);
    return res_obj;
}

/* New finalizers may not be added to an object that is being deleted. */
static int obj_check_finalizers(const json_t *cur, const json_t *next, err_t *err)
{
    size_t i;
    json_t *v;
    if (!json_path_get(cur, "metadata.deletionTimestamp"))
        return 0;
    json_array_foreach(json_path_get(next, "metadata.finalizers"), i, v) {
        if (!meta_has_finalizer(cur, json_string_value(v))) {
            err_set(err, ERR_FORBIDDEN,
                    "Forbidden: no new finalizers can be added if the object is being deleted, "
                    "found new finalizers [\"%s\"]", json_string_value(v));
            return -1;
        }
    }
    return 0;
}

store_obj_t *obj_update(apiserver_t *srv, const resource_t *res, const char *ns,
                        const char *name, const char *sub, obj_mutate_fn fn, void *ctx,
                        obj_opts_t *o, err_t *err)
{
    char *key = meta_key(res, ns, name);
    store_obj_t *result = NULL;

    o->written = false;
    for (int attempt = 0; attempt < OBJ_UPDATE_RETRIES; attempt++) {
        store_obj_t *cur = store_get(srv->store, key);
        json_t *curj, *next;
        const char *want_rv, *bname, *bns;
        char rvbuf[24];
        bool precondition;

        if (!cur) {
            obj_err_not_found(err, res, name);
            break;
        }
        curj = store_obj_json(cur); /* shared: read only */
        next = fn(curj, ctx, err);
        if (!next) {
            json_decref(curj);
            store_obj_unref(cur);
            break;
        }
        if (obj_check_type(res, next, err) < 0)
            goto fail;
        snprintf(rvbuf, sizeof(rvbuf), "%lld", (long long)cur->rv);
        want_rv = json_path_str(next, "metadata.resourceVersion");
        precondition = want_rv && *want_rv;
        if (precondition && strcmp(want_rv, rvbuf) != 0) {
            obj_err_conflict(err, res, name);
            goto fail;
        }
        bname = json_path_str(next, "metadata.name");
        if (bname && strcmp(bname, name) != 0) {
            err_set(err, ERR_BAD_REQUEST,
                    "the name of the object (%s) does not match the name on the URL (%s)",
                    bname, name);
            goto fail;
        }
        bns = json_path_str(next, "metadata.namespace");
        if (res->namespaced && bns && *bns && strcmp(bns, ns) != 0) {
            err_set(err, ERR_BAD_REQUEST,
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request");
            goto fail;
        }
        json_object_set_new(json_object_ensure(next, "metadata"), "name", json_string(name));

        if (sub && strcmp(sub, "status") == 0) {
            /* A status write changes status and nothing else: the stored
             * object (its old status aside, which is replaced) and the new
             * status. */
            json_t *status = json_incref(json_object_get(next, "status"));
            const char *k;
            json_t *v;
            json_decref(next);
            next = json_object();
            json_object_foreach((json_t *)curj, k, v)
                if (strcmp(k, "status") != 0)
                    json_object_set_new(next, k, json_deep_copy(v));
            if (status)
                json_object_set_new(next, "status", status);
            /* The same status again (controllers write what they observe,
             * changed or not): nothing to admit, validate or store. */
            if (!o->dry_run && json_equal(next, curj)) {
                result = store_obj_ref(cur);
                json_decref(next);
                json_decref(curj);
                store_obj_unref(cur);
                break;
            }
        } else if (res->has_status) {
            json_t *status = json_object_get(curj, "status");
            if (status) /* a copy: what follows may change `next` */
                json_object_set_new(next, "status", json_deep_copy(status));
            else
                json_object_del(next, "status");
        }
        meta_prepare_update(res, next, curj);
        obj_default_kind(res, next);
        if (admit(res, next, curj, err) < 0) {
            obj_err_invalid(err, res, name);
            goto fail;
        }
        if (obj_check_finalizers(curj, next, err) < 0 ||
            obj_validate(res, next, curj, o, err) < 0)
            goto fail;

        /* Drop the resourceVersion for comparison: a no-op write changes nothing. */
        json_object_set_new(json_object_get(next, "metadata"), "resourceVersion",
                            json_string(rvbuf));
        if (json_equal(next, curj) || o->dry_run) {
            result = o->dry_run ? store_obj_from_json(key, next) : store_obj_ref(cur);
            json_decref(next);
            json_decref(curj);
            store_obj_unref(cur);
            break;
        }
        {
            bool gone = json_path_get(next, "metadata.deletionTimestamp") &&
                        !json_array_size(json_path_get(next, "metadata.finalizers")) &&
                        !is_core(res, "namespaces");
            result = store_write(srv->store, gone ? STORE_DELETE : STORE_UPDATE, key, next,
                                 cur->rv, err);
            o->written = result != NULL;
        }
        json_decref(curj);
        store_obj_unref(cur);
        if (result)
            break;
        /* Lost a race: mutate the newer version.  A caller's precondition
         * (a resourceVersion it sent) is checked again against it above. */
        if (err->code == ERR_CONFLICT) {
            err_clear(err);
            continue;
        }
        if (err->code == ERR_CONFLICT)
            obj_err_conflict(err, res, name);
        if (err->code == ERR_NOT_FOUND)
            obj_err_not_found(err, res, name);
        break;

    fail:
        json_decref(next);
        json_decref(curj);
        store_obj_unref(cur);
        break;
    }
    if (!result && !err_is_set(err))
        obj_err_conflict(err, res, name);
    g_free(key);
    return result;
}

typedef struct delete_ctx {
    const resource_t *res;
    const char *finalizer; /* added by the propagation policy, or NULL */
    char now[32];
} delete_ctx_t;

/* Mark for deletion: deletionTimestamp, the policy's finalizer, and for a
 * namespace the Terminating phase. */
static json_t *delete_mark(const json_t *cur, void *p, err_t *err)
{
    delete_ctx_t *dc = p;
    json_t *next = json_deep_copy(cur);
    json_t *md = json_object_ensure(next, "metadata");

    if (!json_object_get(md, "deletionTimestamp")) {
        json_object_set_new(md, "deletionTimestamp", json_string(dc->now));
        json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
        /* Marking is the one moment a finalizer may still be added. */
        if (dc->finalizer)
            meta_add_finalizer(next, dc->finalizer);
    }
    if (is_core(dc->res, "namespaces"))
        json_object_set_new(json_object_ensure(next, "status"), "phase",
                            json_string("Terminating"));
    return next;
}

static store_obj_t *obj_mark_deleted(apiserver_t *srv, const resource_t *res, const char *ns,
                                     const char *name, delete_ctx_t *dc, obj_opts_t *o,
                                     err_t *err)
{
    /* The mark is an ordinary update except that it may add a finalizer
     * before deletionTimestamp is set; do it in one write. */
    char *key = meta_key(res, ns, name);
    store_obj_t *result = NULL;

    for (int attempt = 0; attempt < OBJ_UPDATE_RETRIES && !result; attempt++) {
        store_obj_t *cur = store_get(srv->store, key);
        json_t *curj, *next;
        if (!cur) {
            obj_err_not_found(err, res, name);
            break;
        }
        curj = store_obj_parse(cur);
        next = delete_mark(curj, dc, err);
        if (json_equal(next, curj) || o->dry_run) {
            result = o->dry_run ? store_obj_from_json(key, next) : store_obj_ref(cur);
            json_decref(next);
        } else {
            result = store_write(srv->store, STORE_UPDATE, key, next, cur->rv, err);
            if (!result && err->code == ERR_CONFLICT)
                err_clear(err);
            else if (!result)
                attempt = OBJ_UPDATE_RETRIES;
        }
        json_decref(curj);
        store_obj_unref(cur);
    }
    if (!result && !err_is_set(err))
        obj_err_conflict(err, res, name);
    g_free(key);
    return result;
}

store_obj_t *obj_delete(apiserver_t *srv, const resource_t *res, const char *ns,
                        const char *name, obj_opts_t *o, err_t *err)
{
    delete_ctx_t dc = {.res = res};
    const char *pp = o->propagation;

    meta_now(dc.now, sizeof(dc.now));
    if (pp && *pp && strcmp(pp, "Background") != 0) {
        if (strcmp(pp, "Foreground") == 0)
            dc.finalizer = "foregroundDeletion";
        else if (strcmp(pp, "Orphan") == 0)
            dc.finalizer = "orphan";
        else {
            err_set(err, ERR_BAD_REQUEST,
                    "propagationPolicy: Unsupported value: \"%s\": supported values: "
                    "\"Foreground\", \"Background\", \"Orphan\"", pp);
            return NULL;
        }
    }

    for (int attempt = 0; attempt < OBJ_UPDATE_RETRIES; attempt++) {
        store_obj_t *cur = obj_get(srv, res, ns, name, err);
        json_t *curj;
        store_obj_t *result;
        bool held;

        if (!cur)
            return NULL;
        curj = store_obj_parse(cur);
        if (o->precond_uid && *o->precond_uid &&
            g_strcmp0(o->precond_uid, json_path_str(curj, "metadata.uid")) != 0) {
            err_set(err, ERR_CONFLICT,
                    "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                    o->precond_uid, json_path_str(curj, "metadata.uid"));
            goto fail;
        }
        if (o->precond_rv && *o->precond_rv &&
            g_ascii_strtoll(o->precond_rv, NULL, 10) != cur->rv) {
            err_set(err, ERR_CONFLICT,
                    "Precondition failed: ResourceVersion in precondition: %s, "
                    "ResourceVersion in object meta: %lld",
                    o->precond_rv, (long long)cur->rv);
            goto fail;
        }
        held = json_array_size(json_path_get(curj, "metadata.finalizers")) > 0 ||
               dc.finalizer || is_core(res, "namespaces");
        if (held) {
            json_decref(curj);
            store_obj_unref(cur);
            return obj_mark_deleted(srv, res, ns, name, &dc, o, err);
        }
        if (o->dry_run) {
            json_decref(curj);
            return cur;
        }
        result = store_write(srv->store, STORE_DELETE, cur->key, curj, cur->rv, err);
        if (result || err->code != ERR_CONFLICT) {
            store_obj_unref(cur);
            if (!result && err->code == ERR_NOT_FOUND)
                obj_err_not_found(err, res, name);
            return result;
        }
        err_clear(err);
        store_obj_unref(cur);
        continue;
    fail:
        json_decref(curj);
        store_obj_unref(cur);
        return NULL;
    }
    obj_err_conflict(err, res, name);
    return NULL;
}
