/* jsonutil: see jsonutil.h. */
#include "util/jsonutil.h"

#include <stdlib.h>
#include <string.h>

json_t *json_path_get(const json_t *root, const char *path)
{
    const json_t *cur = root;
    const char *p = path;

    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur))
            return NULL;
        cur = json_object_getn(cur, p, n);
        p += n;
        if (*p == '.')
            p++;
    }
    return (json_t *)cur;
}

const char *json_path_str(const json_t *root, const char *path)
{
    return json_string_value(json_path_get(root, path));
}

int json_path_set_new(json_t *root, const char *path, json_t *value)
{
    json_t *cur = root;
    const char *p = path;

    for (;;) {
        const char *dot = strchr(p, '.');
        if (!json_is_object(cur)) {
            json_decref(value);
            return -1;
        }
        if (!dot)
            return json_object_set_new(cur, p, value);
        json_t *next = json_object_getn(cur, p, (size_t)(dot - p));
        if (!json_is_object(next)) {
            next = json_object();
            json_object_setn_new(cur, p, (size_t)(dot - p), next);
        }
        cur = next;
        p = dot + 1;
    }
}

void json_path_del(json_t *root, const char *path)
{
    const char *dot = strrchr(path, '.');
    json_t *parent = root;

    if (dot) {
        char *head = strndup(path, (size_t)(dot - path));
        parent = json_path_get(root, head);
        free(head);
        path = dot + 1;
    }
    if (json_is_object(parent))
        json_object_del(parent, path);
}

json_t *json_object_ensure(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(o, key, v);
    }
    return v;
}

int json_depth(const json_t *v, int limit)
{
    int max = 0;
    size_t i;
    const char *k;
    json_t *c;

    if (limit < 0)
        return 0;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c) {
            int d = json_depth(c, limit - 1);
            if (d > max)
                max = d;
            if (max >= limit)
                break;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, c) {
            int d = json_depth(c, limit - 1);
            if (d > max)
                max = d;
            if (max >= limit)
                break;
        }
        return max + 1;
    }
    return 0;
}

json_t *json_parse_untrusted(const char *buf, size_t len, err_t *err)
{
    json_error_t je;
    json_t *v = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);

    if (!v) {
        err_set(err, ERR_BAD_REQUEST,
                "The request body is not valid JSON: %s (line %d, column %d).",
                je.text, je.line, je.column);
        return NULL;
    }
    if (json_depth(v, JSON_MAX_DEPTH + 1) > JSON_MAX_DEPTH) {
        json_decref(v);
        err_set(err, ERR_BAD_REQUEST,
                "The request body nests deeper than %d levels.", JSON_MAX_DEPTH);
        return NULL;
    }
    return v;
}

char *json_dump_compact(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}
