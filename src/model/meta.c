/* meta: see meta.h. */
#include "model/meta.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/jsonutil.h"

#define META_MAX_ANNOTATIONS (256 * 1024)
#define META_MAX_FINALIZERS 64
#define META_MAX_OWNERS 64

static bool is_alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return g_ascii_isalnum(c);
}

bool meta_is_dns1123_label(const char *s, char *why, size_t n)
{
    size_t len = strlen(s);
    if (len == 0 || len > 63) {
        snprintf(why, n, "must be no more than 63 characters");
        if (len == 0)
            snprintf(why, n, "must not be empty");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum_lower(s[i]) && !(s[i] == '-' && i > 0 && i + 1 < len)) {
            snprintf(why, n,
                     "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                     "characters or '-', and must start and end with an alphanumeric "
                     "character (e.g. 'my-name',  or '123-abc', regex used for validation "
                     "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
            return false;
        }
    }
    return true;
}

bool meta_is_dns1123_subdomain(const char *s, char *why, size_t n)
{
    size_t len = strlen(s);
    if (len == 0 || len > 253) {
        snprintf(why, n, len ? "must be no more than 253 characters" : "must not be empty");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool edge = i == 0 || i + 1 == len;
        bool ok = is_alnum_lower(c) ||
                  (!edge && (c == '-' || (c == '.' && s[i - 1] != '.' && s[i + 1] != '.' &&
                                          is_alnum_lower(s[i - 1]) && is_alnum_lower(s[i + 1]))));
        if (!ok) {
            snprintf(why, n,
                     "a lowercase RFC 1123 subdomain must consist of lower case "
                     "alphanumeric characters, '-' or '.', and must start and end with an "
                     "alphanumeric character (e.g. 'example.com', regex used for "
                     "validation is "
                     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
            return false;
        }
    }
    return true;
}

static bool is_name_part(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

bool meta_is_qualified_name(const char *s, char *why, size_t n)
{
    const char *slash = strchr(s, '/');
    const char *name = slash ? slash + 1 : s;

    if (slash) {
        char *prefix = g_strndup(s, (gsize)(slash - s));
        bool ok = meta_is_dns1123_subdomain(prefix, why, n);
        g_free(prefix);
        if (!ok)
            return false;
    }
    if (!is_name_part(name, strlen(name))) {
        snprintf(why, n,
                 "name part must consist of alphanumeric characters, '-', '_' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'MyName',  "
                 "or 'my.name',  or '123-abc'), with at most 63 characters");
        return false;
    }
    return true;
}

bool meta_is_label_value(const char *s, char *why, size_t n)
{
    size_t len = strlen(s);
    if (len == 0)
        return true;
    if (!is_name_part(s, len)) {
        snprintf(why, n,
                 "a valid label must be an empty string or consist of alphanumeric "
                 "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                 "character, with at most 63 characters");
        return false;
    }
    return true;
}

void meta_now(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *meta_uid_new(void)
{
    return g_uuid_string_random();
}

char *meta_generate_name(const char *prefix)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char suffix[6];
    for (int i = 0; i < 5; i++)
        suffix[i] = alphabet[g_random_int_range(0, (gint32)sizeof(alphabet) - 1)];
    suffix[5] = '\0';
    /* Keep the result within the 63 characters most names allow. */
    return g_strdup_printf("%.58s%s", prefix, suffix);
}

char *meta_key(const resource_t *res, const char *ns, const char *name)
{
    if (res->namespaced)
        return g_strconcat(res->key_prefix, ns ? ns : "", "/", name, NULL);
    return g_strconcat(res->key_prefix, name, NULL);
}

/* Count a problem and report it as a cause: whether the object is valid
 * must not depend on err (NULL, or already holding the most causes it keeps). */
static void meta_cause(int *bad, err_t *err, const char *reason, const char *field,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void meta_cause(int *bad, err_t *err, const char *reason, const char *field,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    (*bad)++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err_add_cause(err, reason, field, "%s", msg);
}

static void validate_string_map(const json_t *map, const char *field, bool values_are_labels,
                                int *bad, err_t *err)
{
    const char *k;
    json_t *v;
    char why[512];
    size_t total = 0;

    if (!map)
        return;
    if (!json_is_object(map)) {
        meta_cause(bad, err, "FieldValueTypeInvalid", field,
                   "Invalid value: must be a map of strings");
        return;
    }
    json_object_foreach((json_t *)map, k, v) {
        char path[512];
        snprintf(path, sizeof(path), "%s", field);
        if (!json_is_string(v)) {
            meta_cause(bad, err, "FieldValueTypeInvalid", field,
                       "Invalid value: the value of %.200s must be a string", k);
            continue;
        }
        if (!meta_is_qualified_name(k, why, sizeof(why)))
            meta_cause(bad, err, "FieldValueInvalid", path, "Invalid value: \"%.200s\": %s", k,
                       why);
        if (values_are_labels && !meta_is_label_value(json_string_value(v), why, sizeof(why)))
            meta_cause(bad, err, "FieldValueInvalid", path, "Invalid value: \"%.200s\": %s",
                       json_string_value(v), why);
        total += strlen(k) + json_string_length(v);
    }
    if (!values_are_labels && total > META_MAX_ANNOTATIONS)
        meta_cause(bad, err, "FieldValueTooLong", field,
                   "Too long: must have at most %d bytes", META_MAX_ANNOTATIONS);
}

int meta_validate(const resource_t *res, const json_t *obj, err_t *err)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const json_t *fin = json_object_get(md, "finalizers");
    const json_t *owners = json_object_get(md, "ownerReferences");
    char why[512];
    size_t i;
    json_t *v;
    int bad = 0;

    if (!name || !*name) {
        meta_cause(&bad, err, "FieldValueRequired", "metadata.name",
                   "Required value: name or generateName is required");
    } else {
        bool ok = strcmp(res->plural, "namespaces") == 0 && !*res->group
                      ? meta_is_dns1123_label(name, why, sizeof(why))
                      : meta_is_dns1123_subdomain(name, why, sizeof(why));
        if (!ok)
            meta_cause(&bad, err, "FieldValueInvalid", "metadata.name",
                       "Invalid value: \"%.300s\": %s", name, why);
    }
    validate_string_map(json_object_get(md, "labels"), "metadata.labels", true, &bad, err);
    validate_string_map(json_object_get(md, "annotations"), "metadata.annotations", false,
                        &bad, err);
    if (fin && !json_is_array(fin)) {
        meta_cause(&bad, err, "FieldValueTypeInvalid", "metadata.finalizers",
                   "Invalid value: must be a list of strings");
    } else if (json_array_size(fin) > META_MAX_FINALIZERS) {
        meta_cause(&bad, err, "FieldValueTooMany", "metadata.finalizers",
                   "Too many: %zu: must have at most %d items", json_array_size(fin),
                   META_MAX_FINALIZERS);
    } else {
        json_array_foreach(fin, i, v) {
            char path[64];
            snprintf(path, sizeof(path), "metadata.finalizers[%zu]", i);
            if (!json_is_string(v) || !meta_is_qualified_name(json_string_value(v), why, sizeof(why)))
                meta_cause(&bad, err, "FieldValueInvalid", path,
                           "Invalid value: a finalizer must be a qualified name");
        }
    }
    if (owners && !json_is_array(owners)) {
        meta_cause(&bad, err, "FieldValueTypeInvalid", "metadata.ownerReferences",
                   "Invalid value: must be a list");
    } else if (json_array_size(owners) > META_MAX_OWNERS) {
        meta_cause(&bad, err, "FieldValueTooMany", "metadata.ownerReferences",
                   "Too many: must have at most %d items", META_MAX_OWNERS);
    } else {
        int controllers = 0;
        json_array_foreach(owners, i, v) {
            static const char *const req[] = {"apiVersion", "kind", "name", "uid"};
            for (size_t k = 0; k < G_N_ELEMENTS(req); k++) {
                if (!json_string_length(json_object_get(v, req[k]))) {
                    char path[96];
                    snprintf(path, sizeof(path), "metadata.ownerReferences[%zu].%s", i, req[k]);
                    meta_cause(&bad, err, "FieldValueRequired", path, "Required value");
                }
            }
            if (json_is_true(json_object_get(v, "controller")))
                controllers++;
        }
        if (controllers > 1)
            meta_cause(&bad, err, "FieldValueInvalid", "metadata.ownerReferences",
                       "Invalid value: only one reference can have Controller set to true");
    }
    return bad ? -1 : 0;
}

void meta_prepare_create(const resource_t *res, json_t *obj, const char *ns, const char *now)
{
    json_t *md = json_object_ensure(obj, "metadata");
    char *uid = meta_uid_new();

    json_object_set_new(md, "uid", json_string(uid));
    g_free(uid);
    json_object_set_new(md, "creationTimestamp", json_string(now));
    json_object_del(md, "deletionTimestamp");
    json_object_del(md, "deletionGracePeriodSeconds");
    json_object_del(md, "resourceVersion");
    json_object_del(md, "selfLink");
    json_object_del(md, "managedFields");
    if (res->namespaced)
        json_object_set_new(md, "namespace", json_string(ns));
    else
        json_object_del(md, "namespace");
    if (*res->group)
        json_object_set_new(md, "generation", json_integer(1));
    else
        json_object_del(md, "generation");
    json_object_set_new(obj, "apiVersion", json_string(res->api_version));
    json_object_set_new(obj, "kind", json_string(res->kind));
}

/* Whether two objects differ outside metadata (and status, when it has its
 * own subresource). */
static bool desired_state_changed(const resource_t *res, const json_t *a, const json_t *b)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)a, k, v) {
        if (!strcmp(k, "metadata") || (res->has_status && !strcmp(k, "status")))
            continue;
        if (!json_equal(v, json_object_get(b, k)))
            return true;
    }
    json_object_foreach((json_t *)b, k, v) {
        if (!strcmp(k, "metadata") || (res->has_status && !strcmp(k, "status")))
            continue;
        if (!json_object_get(a, k))
            return true;
    }
    return false;
}

void meta_prepare_update(const resource_t *res, json_t *obj, const json_t *old)
{
    /* generation too: kinds of the core group have none, and for the others
     * it is recomputed below. */
    static const char *const kept[] = {"uid", "creationTimestamp", "deletionTimestamp",
                                       "deletionGracePeriodSeconds", "namespace",
                                       "generateName", "generation"};
    json_t *md = json_object_ensure(obj, "metadata");
    const json_t *omd = json_object_get(old, "metadata");

    for (size_t i = 0; i < G_N_ELEMENTS(kept); i++) {
        json_t *v = json_object_get(omd, kept[i]);
        if (v)
            json_object_set(md, kept[i], v);
        else
            json_object_del(md, kept[i]);
    }
    json_object_del(md, "managedFields");
    json_object_del(md, "selfLink");
    json_object_set_new(obj, "apiVersion", json_string(res->api_version));
    json_object_set_new(obj, "kind", json_string(res->kind));
    if (*res->group) {
        json_int_t gen = json_integer_value(json_object_get(omd, "generation"));
        if (desired_state_changed(res, obj, old))
            gen++;
        json_object_set_new(md, "generation", json_integer(gen ? gen : 1));
    }
}

bool meta_has_finalizer(const json_t *obj, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_path_get(obj, "metadata.finalizers"), i, v) {
        if (g_strcmp0(json_string_value(v), name) == 0)
            return true;
    }
    return false;
}

bool meta_add_finalizer(json_t *obj, const char *name)
{
    json_t *md = json_object_ensure(obj, "metadata");
    json_t *fin = json_object_get(md, "finalizers");
    if (meta_has_finalizer(obj, name))
        return false;
    if (!json_is_array(fin)) {
        fin = json_array();
        json_object_set_new(md, "finalizers", fin);
    }
    json_array_append_new(fin, json_string(name));
    return true;
}

bool meta_remove_finalizer(json_t *obj, const char *name)
{
    json_t *fin = json_path_get(obj, "metadata.finalizers");
    bool changed = false;
    for (size_t i = json_array_size(fin); i-- > 0;) {
        if (g_strcmp0(json_string_value(json_array_get(fin, i)), name) == 0) {
            json_array_remove(fin, i);
            changed = true;
        }
    }
    if (fin && json_array_size(fin) == 0)
        json_object_del(json_object_get(obj, "metadata"), "finalizers");
    return changed;
}
