/*
 * validate: see validate.h.
 *
 * One depth-first walk (vd_value) does everything.  At each object it first
 * drops non-nullable nulls and fills in defaults, then visits the members
 * (pruning the unknown ones), and checks the object's own constraints last,
 * so that every check sees the pruned, defaulted value, as in Kubernetes
 * (prune, default, then validate).  A type mismatch stops the walk at that
 * node: nothing below a value of the wrong type is reported or changed.
 *
 * The walk keeps the path of the current value in one growing buffer, pushed
 * and popped around each child, so no memory is allocated per node unless a
 * cause is reported.  Schema nodes are read with one pass over their members
 * (vd_schema_read) rather than a lookup per keyword.
 *
 * Limits on untrusted objects: the walk stops below JSON_MAX_DEPTH (the
 * call then fails with ERR_BAD_REQUEST), messages stop being formatted once
 * VD_MAX_CAUSES causes exist, quoted values and messages are cut (on a
 * UTF-8 boundary) to fit err_t, and at most VD_MAX_UNKNOWN unknown fields
 * are reported.  Lists are checked for duplicates through hash tables, never
 * by comparing all pairs.
 *
 * Patterns are compiled by GRegex (PCRE2) with `$` matching only at the end,
 * which agrees with ECMA-262 and with Kubernetes (RE2) on the syntax
 * schemas use.  Compiled patterns live in a process-wide cache keyed by the
 * pattern text, under a mutex; users take a reference and match outside it.
 */
#include "model/validate.h"

#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"

#define VD_MAX_CAUSES 100    /* err_add_cause keeps no more than this */
#define VD_MAX_UNKNOWN 100   /* unknown fields reported per call */
#define VD_MAX_MSG 500       /* bytes of a cause message (err_t keeps 511) */
#define VD_MAX_ERRMSG 1000   /* bytes of err_t.msg (it keeps 1023) */
#define VD_MAX_SHOWN 256     /* bytes of a string value quoted in a message */
#define VD_MAX_SHOWN_PATH 1024 /* bytes of a path quoted in a warning */
#define VD_MAX_REGEXES 1024  /* compiled patterns kept in the cache */

/* Cause reasons (Kubernetes CauseType). */
#define VD_REQUIRED "FieldValueRequired"
#define VD_NOT_SUPPORTED "FieldValueNotSupported"
#define VD_TYPE_INVALID "FieldValueTypeInvalid"
#define VD_INVALID "FieldValueInvalid"
#define VD_TOO_LONG "FieldValueTooLong"
#define VD_TOO_MANY "FieldValueTooMany"
#define VD_DUPLICATE "FieldValueDuplicate"

static const char *const field_validation_names[FIELD_VALIDATION_LAST] = {
    [FIELD_VALIDATION_IGNORE] = "Ignore",
    [FIELD_VALIDATION_WARN] = "Warn",
    [FIELD_VALIDATION_STRICT] = "Strict",
};

int field_validation_parse(const char *s, field_validation_t *out)
{
    if (!s || !*s) {
        *out = FIELD_VALIDATION_WARN;
        return 0;
    }
    for (int i = 0; i < FIELD_VALIDATION_LAST; i++) {
        if (strcmp(s, field_validation_names[i]) == 0) {
            *out = (field_validation_t)i;
            return 0;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Schema nodes                                                             */

typedef enum {
    VD_TYPE_ANY = 0, /* absent or not one we know: no type check */
    VD_TYPE_OBJECT,
    VD_TYPE_ARRAY,
    VD_TYPE_STRING,
    VD_TYPE_INTEGER,
    VD_TYPE_NUMBER,
    VD_TYPE_BOOLEAN,
    VD_TYPE_LAST
} vd_type_t;

static const char *const vd_type_names[VD_TYPE_LAST] = {
    [VD_TYPE_ANY] = "",          [VD_TYPE_OBJECT] = "object",
    [VD_TYPE_ARRAY] = "array",   [VD_TYPE_STRING] = "string",
    [VD_TYPE_INTEGER] = "integer", [VD_TYPE_NUMBER] = "number",
    [VD_TYPE_BOOLEAN] = "boolean",
};

/* The keywords of one schema node; pointers borrow from the schema. */
typedef struct {
    const char *type_name; /* as written, for messages; NULL if absent */
    vd_type_t type;
    bool nullable;
    bool int_or_string;
    bool preserve;  /* x-kubernetes-preserve-unknown-fields */
    bool embedded;  /* x-kubernetes-embedded-resource */
    bool exclusive_min, exclusive_max;
    const json_t *properties;    /* object or NULL */
    const json_t *additional;    /* schema object, json true, or NULL */
    const json_t *items;         /* object or NULL */
    const json_t *required;      /* array or NULL */
    const json_t *enum_values;   /* array or NULL */
    const json_t *list_map_keys; /* non-empty array or NULL */
    const char *pattern, *format, *list_type;
    const json_t *min_length, *max_length, *min_items, *max_items;
    const json_t *min_props, *max_props, *minimum, *maximum;
} vd_schema_t;

static vd_type_t vd_type_from_name(const char *name)
{
    for (int i = VD_TYPE_ANY + 1; i < VD_TYPE_LAST; i++)
        if (strcmp(name, vd_type_names[i]) == 0)
            return (vd_type_t)i;
    return VD_TYPE_ANY;
}

static const json_t *vd_num_or_null(const json_t *v)
{
    return json_is_number(v) ? v : NULL;
}

static void vd_schema_read(const json_t *node, vd_schema_t *s)
{
    const char *k;
    json_t *v;

    memset(s, 0, sizeof(*s));
    if (!json_is_object(node))
        return;
    json_object_foreach((json_t *)node, k, v) {
        switch (k[0]) {
        case 't':
            if (strcmp(k, "type") == 0 && json_is_string(v)) {
                s->type_name = json_string_value(v);
                s->type = vd_type_from_name(s->type_name);
            }
            break;
        case 'p':
            if (strcmp(k, "properties") == 0 && json_is_object(v))
                s->properties = v;
            else if (strcmp(k, "pattern") == 0 && json_is_string(v))
                s->pattern = json_string_value(v);
            break;
        case 'a':
            if (strcmp(k, "additionalProperties") == 0 &&
                (json_is_object(v) || json_is_true(v)))
                s->additional = v;
            break;
        case 'i':
            if (strcmp(k, "items") == 0 && json_is_object(v))
                s->items = v;
            break;
        case 'r':
            if (strcmp(k, "required") == 0 && json_is_array(v))
                s->required = v;
            break;
        case 'e':
            if (strcmp(k, "enum") == 0 && json_is_array(v))
                s->enum_values = v;
            else if (strcmp(k, "exclusiveMinimum") == 0)
                s->exclusive_min = json_is_true(v);
            else if (strcmp(k, "exclusiveMaximum") == 0)
                s->exclusive_max = json_is_true(v);
            break;
        case 'n':
            if (strcmp(k, "nullable") == 0)
                s->nullable = json_is_true(v);
            break;
        case 'f':
            if (strcmp(k, "format") == 0 && json_is_string(v))
                s->format = json_string_value(v);
            break;
        case 'm':
            if (strcmp(k, "minLength") == 0)
                s->min_length = vd_num_or_null(v);
            else if (strcmp(k, "maxLength") == 0)
                s->max_length = vd_num_or_null(v);
            else if (strcmp(k, "minItems") == 0)
                s->min_items = vd_num_or_null(v);
            else if (strcmp(k, "maxItems") == 0)
                s->max_items = vd_num_or_null(v);
            else if (strcmp(k, "minProperties") == 0)
                s->min_props = vd_num_or_null(v);
            else if (strcmp(k, "maxProperties") == 0)
                s->max_props = vd_num_or_null(v);
            else if (strcmp(k, "minimum") == 0)
                s->minimum = vd_num_or_null(v);
            else if (strcmp(k, "maximum") == 0)
                s->maximum = vd_num_or_null(v);
            break;
        case 'x': {
            /* k is the iteration cursor: look at the suffix through another pointer. */
            const char *ext = k + 13;
            if (strncmp(k, "x-kubernetes-", 13) != 0)
                break;
            if (strcmp(ext, "int-or-string") == 0)
                s->int_or_string = json_is_true(v);
            else if (strcmp(ext, "preserve-unknown-fields") == 0)
                s->preserve = json_is_true(v);
            else if (strcmp(ext, "embedded-resource") == 0)
                s->embedded = json_is_true(v);
            else if (strcmp(ext, "list-type") == 0 && json_is_string(v))
                s->list_type = json_string_value(v);
            else if (strcmp(ext, "list-map-keys") == 0 && json_is_array(v) &&
                     json_array_size(v) > 0)
                s->list_map_keys = v;
            break;
        }
        default:
            break;
        }
    }
}

/* Members of the root (or of an embedded resource) the walk leaves alone. */
static bool vd_skipped(bool root, bool embedded, const char *key)
{
    if (root)
        return strcmp(key, "metadata") == 0 || strcmp(key, "apiVersion") == 0 ||
               strcmp(key, "kind") == 0;
    return embedded && strcmp(key, "metadata") == 0;
}

/* ------------------------------------------------------------------------ */
/* Field paths                                                              */

typedef struct {
    char *buf; /* always NUL-terminated */
    size_t len, cap;
} vd_path_t;

static void vd_path_reserve(vd_path_t *p, size_t more)
{
    if (p->len + more + 1 <= p->cap)
        return;
    while (p->len + more + 1 > p->cap)
        p->cap *= 2;
    p->buf = g_realloc(p->buf, p->cap);
}

static void vd_path_append(vd_path_t *p, const char *s, size_t n)
{
    vd_path_reserve(p, n);
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

/* Each push returns the mark that vd_path_pop restores. */
static size_t vd_path_push_field(vd_path_t *p, const char *name)
{
    size_t mark = p->len;
    if (p->len)
        vd_path_append(p, ".", 1);
    vd_path_append(p, name, strlen(name));
    return mark;
}

static size_t vd_path_push_key(vd_path_t *p, const char *key)
{
    size_t mark = p->len;
    vd_path_append(p, "[", 1);
    vd_path_append(p, key, strlen(key));
    vd_path_append(p, "]", 1);
    return mark;
}

static size_t vd_path_push_index(vd_path_t *p, size_t i)
{
    char num[24];
    size_t mark = p->len;
    int n = snprintf(num, sizeof(num), "[%zu]", i);
    vd_path_append(p, num, (size_t)n);
    return mark;
}

static void vd_path_pop(vd_path_t *p, size_t mark)
{
    p->len = mark;
    p->buf[mark] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Rendering values the way Kubernetes' messages show them                  */

/* Length of s[0..len) cut to at most `limit` bytes on a UTF-8 boundary. */
static size_t vd_utf8_cut(const char *s, size_t len, size_t limit)
{
    if (len <= limit)
        return len;
    len = limit;
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

/* Append s quoted as Go's strconv.Quote does (json=false) or as a JSON
 * string (json=true), at most `limit` bytes of it. */
static void vd_quote(GString *out, const char *s, size_t len, size_t limit,
                     bool json)
{
    len = vd_utf8_cut(s, len, limit);
    g_string_append_c(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': g_string_append(out, "\\\""); break;
        case '\\': g_string_append(out, "\\\\"); break;
        case '\n': g_string_append(out, "\\n"); break;
        case '\r': g_string_append(out, "\\r"); break;
        case '\t': g_string_append(out, "\\t"); break;
        case '\b': g_string_append(out, "\\b"); break;
        case '\f': g_string_append(out, "\\f"); break;
        case '\a':
        case '\v':
            if (!json) {
                g_string_append(out, c == '\a' ? "\\a" : "\\v");
                break;
            }
            /* fall through */
        default:
            if (c < 0x20 || (c == 0x7f && !json)) {
                g_string_append_printf(out, json ? "\\u%04x" : "\\x%02x", c);
            } else if (!json && c == 0xC2 && i + 1 < len &&
                       (unsigned char)s[i + 1] >= 0x80 &&
                       (unsigned char)s[i + 1] <= 0x9F) {
                /* C1 control characters are not printable for Go either. */
                g_string_append_printf(out, "\\u%04x", (unsigned char)s[i + 1]);
                i++;
            } else {
                g_string_append_c(out, (char)c);
            }
            break;
        }
    }
    g_string_append_c(out, '"');
}

/* A real as Go's %v prints a float64: integral values without exponent
 * below 1e21, otherwise the shortest form that reads back the same. */
static void vd_append_real(GString *out, double d)
{
    char buf[40];

    if (!isfinite(d)) {
        g_string_append(out, isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (d == trunc(d) && fabs(d) < 1e21) {
        g_string_append_printf(out, "%.0f", d);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    g_string_append(out, buf);
}

static void vd_append_number(GString *out, const json_t *v)
{
    if (json_is_integer(v))
        g_string_append_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        vd_append_real(out, json_real_value(v));
}

static int vd_strcmp_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Append v as compact JSON.  canonical: members sorted by name, nothing cut
 * (a key for hashing; equal values, 1 and 1.0 included, render equally).
 * Otherwise members in document order and output stops growing past
 * VD_MAX_MSG bytes (for messages). */
static void vd_append_json(GString *out, const json_t *v, bool canonical, int depth)
{
    const char *k;
    json_t *c;
    size_t i;

    if (!canonical && out->len > VD_MAX_MSG)
        return;
    if (depth > JSON_MAX_DEPTH) {
        g_string_append(out, "null");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        g_string_append_c(out, '{');
        if (canonical) {
            size_t n = json_object_size(v);
            const char **keys = g_new(const char *, n ? n : 1);
            i = 0;
            json_object_foreach((json_t *)v, k, c)
                keys[i++] = k;
            qsort(keys, n, sizeof(*keys), vd_strcmp_ptr);
            for (i = 0; i < n; i++) {
                if (i)
                    g_string_append_c(out, ',');
                vd_quote(out, keys[i], strlen(keys[i]), SIZE_MAX, true);
                g_string_append_c(out, ':');
                vd_append_json(out, json_object_get(v, keys[i]), true, depth + 1);
            }
            g_free(keys);
        } else {
            i = 0;
            json_object_foreach((json_t *)v, k, c) {
                if (i++)
                    g_string_append_c(out, ',');
                vd_quote(out, k, strlen(k), VD_MAX_SHOWN, true);
                g_string_append_c(out, ':');
                vd_append_json(out, c, false, depth + 1);
                if (out->len > VD_MAX_MSG)
                    break;
            }
        }
        g_string_append_c(out, '}');
        break;
    case JSON_ARRAY:
        g_string_append_c(out, '[');
        json_array_foreach(v, i, c) {
            if (i)
                g_string_append_c(out, ',');
            vd_append_json(out, c, canonical, depth + 1);
            if (!canonical && out->len > VD_MAX_MSG)
                break;
        }
        g_string_append_c(out, ']');
        break;
    case JSON_STRING:
        vd_quote(out, json_string_value(v), json_string_length(v),
                 canonical ? SIZE_MAX : VD_MAX_SHOWN, true);
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        vd_append_number(out, v);
        break;
    case JSON_TRUE: g_string_append(out, "true"); break;
    case JSON_FALSE: g_string_append(out, "false"); break;
    case JSON_NULL: g_string_append(out, "null"); break;
    }
}

/* A bad value as Kubernetes' field errors print it. */
static void vd_append_value(GString *out, const json_t *v)
{
    if (json_is_string(v))
        vd_quote(out, json_string_value(v), json_string_length(v), VD_MAX_SHOWN, false);
    else if (json_is_null(v))
        g_string_append(out, "\"null\"");
    else
        vd_append_json(out, v, false, 0);
}

static const char *vd_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: break;
    }
    return "null";
}

/* ------------------------------------------------------------------------ */
/* Values                                                                   */

/* Whether a real holds an integer that fits json_int_t. */
static bool vd_real_is_integral(const json_t *v)
{
    double d = json_real_value(v);
    return isfinite(d) && d == trunc(d) && d >= -9223372036854775808.0 &&
           d < 9223372036854775808.0;
}

/* Whether a property holds no value: absent or null, or (with `empty_object`)
 * an object without members, as an omitted struct reads in Go. */
static bool vd_unset(const json_t *v, bool empty_object)
{
    return !v || json_is_null(v) || (empty_object && json_is_object(v) && !json_object_size(v));
}

/* Deep equality; numbers compare by value (1 == 1.0). */
static bool vd_equal(const json_t *a, const json_t *b, int depth)
{
    const char *k;
    json_t *c;
    size_t i;

    if (a == b)
        return true;
    if (!a || !b || depth > JSON_MAX_DEPTH)
        return false;
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach((json_t *)a, k, c) {
            if (!vd_equal(c, json_object_get(b, k), depth + 1))
                return false;
        }
        return true;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        json_array_foreach(a, i, c) {
            if (!vd_equal(c, json_array_get(b, i), depth + 1))
                return false;
        }
        return true;
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b),
                      json_string_length(a)) == 0;
    default:
        return true; /* true, false, null: same type is same value */
    }
}

/* -1, 0, 1 as a <, ==, > b (both numbers). */
static int vd_num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

static json_int_t vd_limit(const json_t *v)
{
    double d = json_number_value(v);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (!(d > -9.2e18))
        return -9200000000000000000LL;
    if (d > 9.2e18)
        return 9200000000000000000LL;
    return (json_int_t)d;
}

static size_t vd_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Formats                                                                  */

static bool vd_is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int vd_num2(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* RFC 3339 date-time: 2006-01-02T15:04:05[.frac](Z|+07:00). */
static bool vd_is_date_time(const char *s, size_t len)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year, month, day;
    size_t i;

    if (len < 20 || !vd_is_digits(s, 4) || s[4] != '-' || !vd_is_digits(s + 5, 2) ||
        s[7] != '-' || !vd_is_digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') ||
        !vd_is_digits(s + 11, 2) || s[13] != ':' || !vd_is_digits(s + 14, 2) ||
        s[16] != ':' || !vd_is_digits(s + 17, 2))
        return false;
    year = vd_num2(s) * 100 + vd_num2(s + 2);
    month = vd_num2(s + 5);
    day = vd_num2(s + 8);
    if (month < 1 || month > 12 || day < 1 || day > mdays[month - 1])
        return false;
    if (month == 2 && day == 29 &&
        !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
        return false;
    if (vd_num2(s + 11) > 23 || vd_num2(s + 14) > 59 || vd_num2(s + 17) > 59)
        return false;
    i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    if (i < len && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == len;
    if (i + 6 != len || (s[i] != '+' && s[i] != '-') || !vd_is_digits(s + i + 1, 2) ||
        s[i + 3] != ':' || !vd_is_digits(s + i + 4, 2))
        return false;
    return vd_num2(s + i + 1) <= 23 && vd_num2(s + i + 4) <= 59;
}

static bool vd_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 8-4-4-4-12 hex digits, or the same 32 digits without hyphens. */
static bool vd_is_uuid(const char *s, size_t len)
{
    if (len == 32) {
        for (size_t i = 0; i < len; i++)
            if (!vd_is_hex(s[i]))
                return false;
        return true;
    }
    if (len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
        if (hyphen ? s[i] != '-' : !vd_is_hex(s[i]))
            return false;
    }
    return true;
}

/* Standard base64 with padding; CR and LF are ignored (as Go does). */
static bool vd_is_base64(const char *s, size_t len)
{
    size_t n = 0, pad = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            if (++pad > 2)
                return false;
        } else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '+' || c == '/')) {
            return false;
        }
        n++;
    }
    return n % 4 == 0;
}

/* ------------------------------------------------------------------------ */
/* Compiled patterns                                                        */

static GMutex vd_regex_lock;
static GHashTable *vd_regex_cache; /* pattern text -> GRegex */

/* A reference to the compiled `pattern`, or NULL and *error set. */
static GRegex *vd_regex_get(const char *pattern, GError **error)
{
    GRegex *re, *have;

    g_mutex_lock(&vd_regex_lock);
    re = vd_regex_cache ? g_hash_table_lookup(vd_regex_cache, pattern) : NULL;
    if (re)
        g_regex_ref(re);
    g_mutex_unlock(&vd_regex_lock);
    if (re)
        return re;

    re = g_regex_new(pattern, G_REGEX_DOLLAR_ENDONLY, 0, error);
    if (!re)
        return NULL;
    g_mutex_lock(&vd_regex_lock);
    if (!vd_regex_cache)
        vd_regex_cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify)g_regex_unref);
    have = g_hash_table_lookup(vd_regex_cache, pattern);
    if (have) {
        g_regex_unref(re);
        re = g_regex_ref(have);
    } else if (g_hash_table_size(vd_regex_cache) < VD_MAX_REGEXES) {
        g_hash_table_insert(vd_regex_cache, g_strdup(pattern), g_regex_ref(re));
    }
    g_mutex_unlock(&vd_regex_lock);
    return re;
}

void schema_validate_cache_clear(void)
{
    GHashTable *t;

    g_mutex_lock(&vd_regex_lock);
    t = vd_regex_cache;
    vd_regex_cache = NULL;
    g_mutex_unlock(&vd_regex_lock);
    if (t)
        g_hash_table_destroy(t);
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                 */

typedef struct {
    field_validation_t fv;
    json_t *warnings;     /* borrowed; may be NULL */
    err_t *err;           /* borrowed; may be NULL */
    vd_path_t path;       /* of the value being visited */
    unsigned ncauses;     /* causes found, including those not recorded */
    unsigned nunknown;    /* unknown fields found */
    GString *strict_msg;  /* Strict: the message being built */
    bool too_deep;
    char *schema_error;   /* first defect of the schema itself */
} vd_t;

static const char *vd_here(const vd_t *st)
{
    return st->path.buf;
}

/* Start a cause message with `head`; NULL once enough causes exist. */
static GString *vd_msg_begin(vd_t *st, const char *head)
{
    if (st->ncauses++ >= VD_MAX_CAUSES)
        return NULL;
    return g_string_new(head);
}

/* Record the cause at the current path and free the message. */
static void vd_msg_end(vd_t *st, const char *reason, GString *m)
{
    g_string_truncate(m, vd_utf8_cut(m->str, m->len, VD_MAX_MSG));
    err_add_cause(st->err, reason, st->path.len ? st->path.buf : NULL, "%s", m->str);
    g_string_free(m, TRUE);
}

/* "Invalid value: <v>: <detail>" with the given reason. */
static void vd_fail_value(vd_t *st, const char *reason, const char *head,
                          const json_t *v, const char *fmt, ...)
    G_GNUC_PRINTF(5, 6);
static void vd_fail_value(vd_t *st, const char *reason, const char *head,
                          const json_t *v, const char *fmt, ...)
{
    GString *m = vd_msg_begin(st, head);
    va_list ap;

    if (!m)
        return;
    g_string_append(m, ": ");
    vd_append_value(m, v);
    g_string_append(m, ": ");
    va_start(ap, fmt);
    g_string_append_vprintf(m, fmt, ap);
    va_end(ap);
    vd_msg_end(st, reason, m);
}

/* A message without a value: "Required value", "Too long: ...". */
static void vd_fail(vd_t *st, const char *reason, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static void vd_fail(vd_t *st, const char *reason, const char *fmt, ...)
{
    GString *m = vd_msg_begin(st, "");
    va_list ap;

    if (!m)
        return;
    va_start(ap, fmt);
    g_string_append_vprintf(m, fmt, ap);
    va_end(ap);
    vd_msg_end(st, reason, m);
}

static void vd_fail_type(vd_t *st, const char *want, const char *actual)
{
    GString *m = vd_msg_begin(st, "Invalid value: ");

    if (!m)
        return;
    g_string_append_printf(m, "\"%s\": %s in body must be of type %s: \"%s\"", actual,
                           vd_here(st), want, actual);
    vd_msg_end(st, VD_TYPE_INVALID, m);
}

/* A value of the right type that its format rejects. */
static void vd_fail_format(vd_t *st, const char *format, const json_t *v)
{
    GString *m = vd_msg_begin(st, "Invalid value: "), *shown;

    if (!m)
        return;
    shown = g_string_new(NULL);
    if (json_is_string(v))
        g_string_append_len(shown, json_string_value(v),
                            (gssize)vd_utf8_cut(json_string_value(v),
                                                json_string_length(v), VD_MAX_SHOWN));
    else
        vd_append_number(shown, v);
    vd_append_value(m, v);
    g_string_append_printf(m, ": %s in body must be of type %s: ", vd_here(st), format);
    vd_quote(m, shown->str, shown->len, VD_MAX_SHOWN, false);
    g_string_free(shown, TRUE);
    vd_msg_end(st, VD_TYPE_INVALID, m);
}

static void vd_schema_broken(vd_t *st, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void vd_schema_broken(vd_t *st, const char *fmt, ...)
{
    va_list ap;

    if (st->schema_error)
        return;
    va_start(ap, fmt);
    st->schema_error = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

/* The member `key` of the current object is not allowed: it goes. */
static void vd_unknown(vd_t *st, const char *key)
{
    size_t mark = vd_path_push_field(&st->path, key);

    if (st->nunknown++ < VD_MAX_UNKNOWN) {
        if (st->fv == FIELD_VALIDATION_WARN && st->warnings) {
            GString *m = g_string_new("unknown field ");
            vd_quote(m, st->path.buf, st->path.len, VD_MAX_SHOWN_PATH, false);
            json_array_append_new(st->warnings, json_string(m->str));
            g_string_free(m, TRUE);
        } else if (st->fv == FIELD_VALIDATION_STRICT && st->strict_msg->len < VD_MAX_ERRMSG) {
            g_string_append(st->strict_msg, st->nunknown == 1 ? "strict decoding error: "
                                                              : ", ");
            g_string_append(st->strict_msg, "unknown field ");
            vd_quote(st->strict_msg, st->path.buf, st->path.len, VD_MAX_SHOWN_PATH, false);
        }
    }
    vd_path_pop(&st->path, mark);
}

static json_t *vd_value(vd_t *st, const json_t *node, json_t *v, const json_t *old,
                        int depth);

static void vd_string(vd_t *st, const vd_schema_t *s, const json_t *v)
{
    const char *str = json_string_value(v);
    size_t len = json_string_length(v);

    if (s->max_length || s->min_length) {
        json_int_t n = (json_int_t)vd_utf8_count(str, len);
        if (s->max_length && n > vd_limit(s->max_length))
            vd_fail(st, VD_TOO_LONG, "Too long: may not be longer than %" JSON_INTEGER_FORMAT,
                    vd_limit(s->max_length));
        if (s->min_length && n < vd_limit(s->min_length))
            vd_fail_value(st, VD_INVALID, "Invalid value", v,
                          "%s in body should be at least %" JSON_INTEGER_FORMAT " chars long",
                          vd_here(st), vd_limit(s->min_length));
    }
    if (s->pattern) {
        GError *gerr = NULL;
        GRegex *re = vd_regex_get(s->pattern, &gerr);
        if (!re) {
            vd_schema_broken(st, "The schema's pattern '%s' for %s does not compile: %s.",
                             s->pattern, vd_here(st), gerr->message);
            g_error_free(gerr);
        } else {
            /* A match that fails (e.g. hits PCRE's backtracking limit)
             * counts as no match. */
            gboolean ok = g_regex_match_full(re, str, (gssize)len, 0, 0, NULL, &gerr);
            if (gerr) {
                ok = FALSE;
                g_error_free(gerr);
            }
            g_regex_unref(re);
            if (!ok)
                vd_fail_value(st, VD_INVALID, "Invalid value", v,
                              "%s in body should match '%s'", vd_here(st), s->pattern);
        }
    }
    if (s->format) {
        bool ok = true;
        if (strcmp(s->format, "byte") == 0)
            ok = vd_is_base64(str, len);
        else if (strcmp(s->format, "date-time") == 0)
            ok = vd_is_date_time(str, len);
        else if (strcmp(s->format, "uuid") == 0)
            ok = vd_is_uuid(str, len);
        if (!ok)
            vd_fail_format(st, s->format, v);
    }
}

static void vd_number(vd_t *st, const vd_schema_t *s, const json_t *v)
{
    GString *lim;

    if (s->minimum) {
        int c = vd_num_cmp(v, s->minimum);
        if (c < 0 || (c == 0 && s->exclusive_min)) {
            lim = g_string_new(NULL);
            vd_append_number(lim, s->minimum);
            vd_fail_value(st, VD_INVALID, "Invalid value", v,
                          "%s in body should be greater than %s%s", vd_here(st),
                          s->exclusive_min ? "" : "or equal to ", lim->str);
            g_string_free(lim, TRUE);
        }
    }
    if (s->maximum) {
        int c = vd_num_cmp(v, s->maximum);
        if (c > 0 || (c == 0 && s->exclusive_max)) {
            lim = g_string_new(NULL);
            vd_append_number(lim, s->maximum);
            vd_fail_value(st, VD_INVALID, "Invalid value", v,
                          "%s in body should be less than %s%s", vd_here(st),
                          s->exclusive_max ? "" : "or equal to ", lim->str);
            g_string_free(lim, TRUE);
        }
    }
    if (s->format) {
        bool ok = true;
        if (strcmp(s->format, "int32") == 0)
            ok = json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
                 json_integer_value(v) <= INT32_MAX;
        else if (strcmp(s->format, "int64") == 0)
            ok = json_is_integer(v);
        if (!ok)
            vd_fail_format(st, s->format, v);
    }
}

static void vd_enum(vd_t *st, const vd_schema_t *s, const json_t *v)
{
    json_t *e;
    size_t i;
    GString *m;

    json_array_foreach(s->enum_values, i, e) {
        if (vd_equal(e, v, 0))
            return;
    }
    m = vd_msg_begin(st, "Unsupported value: ");
    if (!m)
        return;
    vd_append_value(m, v);
    g_string_append(m, ": supported values: ");
    json_array_foreach(s->enum_values, i, e) {
        if (i)
            g_string_append(m, ", ");
        if (json_is_string(e)) {
            vd_quote(m, json_string_value(e), json_string_length(e), VD_MAX_SHOWN, false);
        } else {
            GString *j = g_string_new(NULL);
            vd_append_json(j, e, false, 0);
            vd_quote(m, j->str, j->len, VD_MAX_SHOWN, false);
            g_string_free(j, TRUE);
        }
        if (m->len > VD_MAX_MSG)
            break;
    }
    vd_msg_end(st, VD_NOT_SUPPORTED, m);
}

static bool vd_names_contain(const json_t *names, const char *name)
{
    json_t *n;
    size_t i;

    json_array_foreach(names, i, n) {
        if (json_is_string(n) && strcmp(json_string_value(n), name) == 0)
            return true;
    }
    return false;
}

/* apiVersion and kind of an x-kubernetes-embedded-resource object. */
static void vd_embedded(vd_t *st, const json_t *obj)
{
    static const char *const names[] = {"apiVersion", "kind"};

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        const json_t *v = json_object_get(obj, names[i]);
        size_t mark = vd_path_push_field(&st->path, names[i]);
        if (!v)
            vd_fail(st, VD_REQUIRED, "Required value: must not be empty");
        else if (!json_is_string(v))
            vd_fail_value(st, VD_INVALID, "Invalid value", v, "must be a string");
        else if (json_string_length(v) == 0)
            vd_fail_value(st, VD_INVALID, "Invalid value", v, "must not be empty");
        vd_path_pop(&st->path, mark);
    }
}

static void vd_object(vd_t *st, const vd_schema_t *s, json_t *obj, const json_t *old,
                      int depth)
{
    bool root = depth == 0;
    const char *key;
    json_t *val, *prop, *repl;
    void *tmp;
    size_t mark, i;

    /* Non-nullable nulls go; absent properties get their defaults. */
    if (s->properties) {
        json_object_foreach((json_t *)s->properties, key, prop) {
            json_t *def;
            if (vd_skipped(root, s->embedded, key))
                continue;
            val = json_object_get(obj, key);
            if (val && (!json_is_null(val) || json_is_true(json_object_get(prop, "nullable"))))
                continue;
            def = json_object_get(prop, "default");
            if (def)
                json_object_set_new(obj, key, json_deep_copy(def));
            else if (val)
                json_object_del(obj, key);
        }
    }

    if (s->required) {
        json_array_foreach(s->required, i, val) {
            key = json_string_value(val);
            if (!key || vd_skipped(root, s->embedded, key) || json_object_get(obj, key))
                continue;
            mark = vd_path_push_field(&st->path, key);
            vd_fail(st, VD_REQUIRED, "Required value");
            vd_path_pop(&st->path, mark);
        }
    }

    json_object_foreach_safe(obj, tmp, key, val) {
        const json_t *old_val = json_is_object(old) ? json_object_get(old, key) : NULL;
        if (vd_skipped(root, s->embedded, key))
            continue;
        prop = s->properties ? json_object_get(s->properties, key) : NULL;
        /* As stored, so checked then (see schema_validate). */
        if ((prop || json_is_object(s->additional)) && old_val && json_equal(val, old_val))
            continue;
        if (prop) {
            mark = vd_path_push_field(&st->path, key);
            repl = vd_value(st, prop, val, old_val, depth + 1);
        } else if (json_is_object(s->additional)) {
            mark = vd_path_push_key(&st->path, key);
            repl = vd_value(st, s->additional, val, old_val, depth + 1);
        } else {
            if (!s->additional && !s->preserve &&
                !(s->embedded && (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0))) {
                vd_unknown(st, key);
                json_object_del(obj, key);
            }
            continue;
        }
        if (repl)
            json_object_set_new(obj, key, repl);
        vd_path_pop(&st->path, mark);
    }

    if (s->embedded)
        vd_embedded(st, obj);

    if (s->max_props && (json_int_t)json_object_size(obj) > vd_limit(s->max_props)) {
        json_int_t max = vd_limit(s->max_props);
        vd_fail(st, VD_TOO_MANY, "Too many: %zu: must have at most %" JSON_INTEGER_FORMAT " %s",
                json_object_size(obj), max, max == 1 ? "item" : "items");
    }
    if (s->min_props && (json_int_t)json_object_size(obj) < vd_limit(s->min_props)) {
        GString *m = vd_msg_begin(st, "Invalid value: ");
        if (m) {
            g_string_append_printf(m, "%zu: %s in body should have at least %" JSON_INTEGER_FORMAT
                                   " properties", json_object_size(obj), vd_here(st),
                                   vd_limit(s->min_props));
            vd_msg_end(st, VD_INVALID, m);
        }
    }

    /* Immutable properties, compared once their subtrees are final. */
    if (json_is_object(old) && s->properties) {
        json_object_foreach((json_t *)s->properties, key, prop) {
            const json_t *rule = json_object_get(prop, "x-vmsvc-immutable");
            const json_t *was, *now;
            bool always = !g_strcmp0(json_string_value(rule), "always");
            if ((!json_is_true(rule) && !always) || vd_skipped(root, s->embedded, key))
                continue;
            was = json_object_get(old, key);
            now = json_object_get(obj, key);
            if (always ? vd_equal(was, now, 0) || (vd_unset(was, true) && vd_unset(now, true))
                       : vd_unset(was, false) || vd_equal(was, now, 0))
                continue;
            mark = vd_path_push_field(&st->path, key);
            vd_fail(st, VD_INVALID, "field is immutable");
            vd_path_pop(&st->path, mark);
        }
    }
}

/* The identity of a list-map item: its key fields as canonical JSON, a
 * missing or null key falling back to its default (so an item matches its
 * stored self before defaulting).  NULL when a key is still missing. */
static char *vd_listmap_key_new(const json_t *item, const json_t *keys,
                                const json_t *item_props)
{
    GString *out = g_string_new(NULL);
    json_t *k;
    size_t i;

    json_array_foreach(keys, i, k) {
        const char *name = json_string_value(k);
        const json_t *v = name ? json_object_get(item, name) : NULL;
        if (!v || json_is_null(v)) {
            const json_t *def = json_object_get(json_object_get(item_props, name ? name : ""),
                                                "default");
            if (def)
                v = def;
        }
        if (!v) {
            g_string_free(out, TRUE);
            return NULL;
        }
        if (i)
            g_string_append_c(out, ',');
        vd_append_json(out, v, true, 0);
    }
    return g_string_free(out, FALSE);
}

/* x-kubernetes-list-type: set: each value at most once. */
static void vd_list_set(vd_t *st, const json_t *arr)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    json_t *item;
    size_t i;

    json_array_foreach(arr, i, item) {
        GString *k = g_string_new(NULL);
        unsigned times;
        vd_append_json(k, item, true, 0);
        times = GPOINTER_TO_UINT(g_hash_table_lookup(seen, k->str));
        if (times == 1) {
            GString *m = vd_msg_begin(st, "Duplicate value: ");
            if (m) {
                size_t mark = vd_path_push_index(&st->path, i);
                vd_append_value(m, item);
                vd_msg_end(st, VD_DUPLICATE, m);
                vd_path_pop(&st->path, mark);
            }
        }
        g_hash_table_insert(seen, g_string_free(k, FALSE), GUINT_TO_POINTER(times + 1));
    }
    g_hash_table_destroy(seen);
}

/* x-kubernetes-list-type: map: every item has its keys, and no two items
 * have the same. */
static void vd_list_map(vd_t *st, const vd_schema_t *s, const json_t *arr)
{
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    vd_schema_t is;
    json_t *item, *k;
    size_t i, j, mark;

    vd_schema_read(s->items, &is);
    json_array_foreach(arr, i, item) {
        bool complete = true;
        char *id;
        if (!json_is_object(item))
            continue; /* the items' type check has said so */
        json_array_foreach(s->list_map_keys, j, k) {
            const char *name = json_string_value(k);
            if (!name || json_object_get(item, name))
                continue;
            complete = false;
            if (is.required && vd_names_contain(is.required, name))
                continue; /* reported by `required` already */
            mark = vd_path_push_index(&st->path, i);
            vd_path_push_field(&st->path, name);
            vd_fail(st, VD_REQUIRED, "Required value");
            vd_path_pop(&st->path, mark);
        }
        if (!complete)
            continue;
        id = vd_listmap_key_new(item, s->list_map_keys, NULL);
        if (!g_hash_table_add(seen, id)) {
            GString *m = vd_msg_begin(st, "Duplicate value: {");
            if (m) {
                json_array_foreach(s->list_map_keys, j, k) {
                    const char *name = json_string_value(k);
                    if (!name)
                        continue;
                    if (j)
                        g_string_append_c(m, ',');
                    vd_quote(m, name, strlen(name), VD_MAX_SHOWN, true);
                    g_string_append_c(m, ':');
                    vd_append_json(m, json_object_get(item, name), false, 0);
                }
                g_string_append_c(m, '}');
                mark = vd_path_push_index(&st->path, i);
                vd_msg_end(st, VD_DUPLICATE, m);
                vd_path_pop(&st->path, mark);
            }
        }
    }
    g_hash_table_destroy(seen);
}

static void vd_array(vd_t *st, const vd_schema_t *s, json_t *arr, const json_t *old,
                     int depth)
{
    bool is_map = s->list_type && strcmp(s->list_type, "map") == 0 && s->list_map_keys &&
                  s->items;
    bool is_set = s->list_type && strcmp(s->list_type, "set") == 0;
    size_t n = json_array_size(arr);
    GHashTable *olds = NULL; /* list-map: key -> old item */
    const json_t *item_props = NULL;
    json_t *item, *repl;
    size_t i, mark;

    if (s->items) {
        if (is_map && json_is_array(old) && json_array_size(old) > 0) {
            item_props = json_object_get(s->items, "properties");
            olds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
            json_array_foreach(old, i, item) {
                char *id = json_is_object(item)
                               ? vd_listmap_key_new(item, s->list_map_keys, item_props)
                               : NULL;
                if (id)
                    g_hash_table_insert(olds, id, item);
            }
        }
        for (i = 0; i < n; i++) {
            const json_t *old_item = NULL;
            item = json_array_get(arr, i);
            if (olds && json_is_object(item)) {
                char *id = vd_listmap_key_new(item, s->list_map_keys, item_props);
                if (id)
                    old_item = g_hash_table_lookup(olds, id);
                g_free(id);
            }
            mark = vd_path_push_index(&st->path, i);
            repl = vd_value(st, s->items, item, old_item, depth + 1);
            if (repl)
                json_array_set_new(arr, i, repl);
            vd_path_pop(&st->path, mark);
        }
        if (olds)
            g_hash_table_destroy(olds);
    }

    if (s->max_items && (json_int_t)n > vd_limit(s->max_items)) {
        json_int_t max = vd_limit(s->max_items);
        vd_fail(st, VD_TOO_MANY, "Too many: %zu: must have at most %" JSON_INTEGER_FORMAT " %s",
                n, max, max == 1 ? "item" : "items");
    }
    if (s->min_items && (json_int_t)n < vd_limit(s->min_items)) {
        GString *m = vd_msg_begin(st, "Invalid value: ");
        if (m) {
            g_string_append_printf(m, "%zu: %s in body should have at least %" JSON_INTEGER_FORMAT
                                   " items", n, vd_here(st), vd_limit(s->min_items));
            vd_msg_end(st, VD_INVALID, m);
        }
    }
    if (is_set && n > 1)
        vd_list_set(st, arr);
    if (is_map && n > 0)
        vd_list_map(st, s, arr);
}

/* Visit `v` (its path is in st->path) under schema `node`; `old` is the
 * stored value at the same place, or NULL.  Returns a new value to put in
 * v's place (an integral real in an integer field, as an integer), or NULL
 * when v stays. */
static json_t *vd_value(vd_t *st, const json_t *node, json_t *v, const json_t *old,
                        int depth)
{
    vd_schema_t s;
    json_t *repl = NULL;

    if (depth > JSON_MAX_DEPTH) {
        st->too_deep = true;
        return NULL;
    }
    vd_schema_read(node, &s);

    if (json_is_null(v)) {
        if (s.nullable)
            return NULL;
        if (s.int_or_string)
            vd_fail_type(st, "integer,string", "null");
        else if (s.type != VD_TYPE_ANY)
            vd_fail_type(st, s.type_name, "null");
        return NULL;
    }

    if ((s.int_or_string || s.type == VD_TYPE_INTEGER) && json_is_real(v) &&
        vd_real_is_integral(v))
        v = repl = json_integer((json_int_t)json_real_value(v));
    if (s.int_or_string) {
        if (!json_is_integer(v) && !json_is_string(v)) {
            vd_fail_type(st, "integer,string", vd_type_of(v));
            return repl;
        }
    } else if (s.type != VD_TYPE_ANY) {
        bool ok;
        switch (s.type) {
        case VD_TYPE_OBJECT: ok = json_is_object(v); break;
        case VD_TYPE_ARRAY: ok = json_is_array(v); break;
        case VD_TYPE_STRING: ok = json_is_string(v); break;
        case VD_TYPE_INTEGER: ok = json_is_integer(v); break;
        case VD_TYPE_NUMBER: ok = json_is_number(v); break;
        case VD_TYPE_BOOLEAN: ok = json_is_boolean(v); break;
        default: ok = true; break;
        }
        if (!ok) {
            vd_fail_type(st, s.type_name, vd_type_of(v));
            return repl;
        }
    }

    switch (json_typeof(v)) {
    case JSON_OBJECT: vd_object(st, &s, v, old, depth); break;
    case JSON_ARRAY: vd_array(st, &s, v, old, depth); break;
    case JSON_STRING: vd_string(st, &s, v); break;
    case JSON_INTEGER:
    case JSON_REAL: vd_number(st, &s, v); break;
    default: break;
    }
    if (s.enum_values)
        vd_enum(st, &s, v);
    return repl;
}

/* err->msg for ERR_INVALID: the causes as Kubernetes aggregates them. */
static void vd_set_invalid_message(err_t *err)
{
    GString *m = g_string_new(NULL);
    size_t n = json_array_size(err->causes), i;
    json_t *c;

    if (n > 1)
        g_string_append_c(m, '[');
    json_array_foreach(err->causes, i, c) {
        const char *field = json_string_value(json_object_get(c, "field"));
        if (i)
            g_string_append(m, ", ");
        if (field)
            g_string_append_printf(m, "%s: ", field);
        g_string_append(m, json_string_value(json_object_get(c, "message")));
        if (m->len > VD_MAX_ERRMSG)
            break;
    }
    if (n > 1)
        g_string_append_c(m, ']');
    g_string_truncate(m, vd_utf8_cut(m->str, m->len, VD_MAX_ERRMSG));
    err_set(err, ERR_INVALID, "%s", m->str);
    g_string_free(m, TRUE);
}

int schema_validate(const json_t *schema, json_t *obj, const json_t *old,
                    field_validation_t fv, json_t *warnings, err_t *err)
{
    vd_t st = {.fv = fv, .warnings = warnings, .err = err};
    int rc = -1;

    st.path.cap = 256;
    st.path.buf = g_malloc(st.path.cap);
    st.path.buf[0] = '\0';
    st.strict_msg = g_string_new(NULL);

    /* The root is an object; should it be a number, it is not replaced. */
    json_decref(vd_value(&st, schema, obj, old, 0));

    if (st.too_deep) {
        err_clear(err);
        err_set(err, ERR_BAD_REQUEST, "The object nests deeper than %d levels.", JSON_MAX_DEPTH);
    } else if (st.schema_error) {
        err_clear(err);
        err_set(err, ERR_INTERNAL, "%s", st.schema_error);
    } else if (fv == FIELD_VALIDATION_STRICT && st.nunknown > 0) {
        g_string_truncate(st.strict_msg,
                          vd_utf8_cut(st.strict_msg->str, st.strict_msg->len, VD_MAX_ERRMSG));
        err_clear(err);
        err_set(err, ERR_BAD_REQUEST, "%s", st.strict_msg->str);
    } else if (st.ncauses > 0) {
        if (err && err->causes)
            vd_set_invalid_message(err);
    } else {
        rc = 0;
    }

    g_free(st.path.buf);
    g_string_free(st.strict_msg, TRUE);
    g_free(st.schema_error);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Pruning alone                                                            */

static void vd_prune(const json_t *node, json_t *v, int depth)
{
    vd_schema_t s;
    const char *key;
    json_t *val, *prop;
    void *tmp;
    size_t i;

    if (depth > JSON_MAX_DEPTH)
        return;
    vd_schema_read(node, &s);
    if (json_is_object(v)) {
        json_object_foreach_safe(v, tmp, key, val) {
            if (vd_skipped(depth == 0, s.embedded, key))
                continue;
            prop = s.properties ? json_object_get(s.properties, key) : NULL;
            if (prop)
                vd_prune(prop, val, depth + 1);
            else if (json_is_object(s.additional))
                vd_prune(s.additional, val, depth + 1);
            else if (!s.additional && !s.preserve &&
                     !(s.embedded &&
                       (strcmp(key, "apiVersion") == 0 || strcmp(key, "kind") == 0)))
                json_object_del(v, key);
        }
    } else if (json_is_array(v) && s.items) {
        json_array_foreach(v, i, val)
            vd_prune(s.items, val, depth + 1);
    }
}

void schema_prune(const json_t *schema, json_t *obj)
{
    vd_prune(schema, obj, 0);
}
