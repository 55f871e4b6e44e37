/*
 * yaml: YAML <-> jansson through libyaml's event parser and emitter.
 *
 * Reading walks the event stream with one recursive call per collection,
 * so recursion is bounded by JSON_MAX_DEPTH, which is checked before a
 * collection is entered.  Every event that is read is deleted on every
 * path; a mapping key's event stays alive until its value is stored, so
 * the key text is never copied.
 *
 * Scalar typing reproduces go-yaml v2's resolver (resolve.go) followed by
 * Go's JSON encoding, as described in yaml.h.  The resolver is also what
 * the writer consults to decide that a string must be quoted, so that
 * whatever is written reads back as the same type.
 */
#include "model/yaml.h"

#include <glib.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/jsonutil.h"
#include "util/log.h"

#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* What a scalar resolves to before it becomes JSON. */
typedef enum {
    YAML_KIND_STR,
    YAML_KIND_NULL,
    YAML_KIND_BOOL,
    YAML_KIND_INT,   /* fits in int64 */
    YAML_KIND_UINT,  /* beyond int64, fits in uint64 */
    YAML_KIND_FLOAT,
    YAML_KIND_LAST
} yaml_kind_t;

typedef struct {
    yaml_kind_t kind;
    bool b;
    int64_t i;
    uint64_t u;
    double d;
} yaml_scalar_t;

/* Plain words with a fixed meaning (go-yaml v2's resolve map). */
static const struct {
    const char *text;
    yaml_kind_t kind;
    bool b;
    double d;
} yaml_words[] = {
    {"y", YAML_KIND_BOOL, true, 0},      {"Y", YAML_KIND_BOOL, true, 0},
    {"yes", YAML_KIND_BOOL, true, 0},    {"Yes", YAML_KIND_BOOL, true, 0},
    {"YES", YAML_KIND_BOOL, true, 0},    {"true", YAML_KIND_BOOL, true, 0},
    {"True", YAML_KIND_BOOL, true, 0},   {"TRUE", YAML_KIND_BOOL, true, 0},
    {"on", YAML_KIND_BOOL, true, 0},     {"On", YAML_KIND_BOOL, true, 0},
    {"ON", YAML_KIND_BOOL, true, 0},     {"n", YAML_KIND_BOOL, false, 0},
    {"N", YAML_KIND_BOOL, false, 0},     {"no", YAML_KIND_BOOL, false, 0},
    {"No", YAML_KIND_BOOL, false, 0},    {"NO", YAML_KIND_BOOL, false, 0},
    {"false", YAML_KIND_BOOL, false, 0}, {"False", YAML_KIND_BOOL, false, 0},
    {"FALSE", YAML_KIND_BOOL, false, 0}, {"off", YAML_KIND_BOOL, false, 0},
    {"Off", YAML_KIND_BOOL, false, 0},   {"OFF", YAML_KIND_BOOL, false, 0},
    {"~", YAML_KIND_NULL, false, 0},     {"null", YAML_KIND_NULL, false, 0},
    {"Null", YAML_KIND_NULL, false, 0},  {"NULL", YAML_KIND_NULL, false, 0},
    {".nan", YAML_KIND_FLOAT, false, NAN},
    {".NaN", YAML_KIND_FLOAT, false, NAN},
    {".NAN", YAML_KIND_FLOAT, false, NAN},
    {".inf", YAML_KIND_FLOAT, false, INFINITY},
    {".Inf", YAML_KIND_FLOAT, false, INFINITY},
    {".INF", YAML_KIND_FLOAT, false, INFINITY},
    {"+.inf", YAML_KIND_FLOAT, false, INFINITY},
    {"+.Inf", YAML_KIND_FLOAT, false, INFINITY},
    {"+.INF", YAML_KIND_FLOAT, false, INFINITY},
    {"-.inf", YAML_KIND_FLOAT, false, -INFINITY},
    {"-.Inf", YAML_KIND_FLOAT, false, -INFINITY},
    {"-.INF", YAML_KIND_FLOAT, false, -INFINITY},
};

/* ---- scalar resolution ------------------------------------------------ */

static int yaml_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/*
 * Go's strconv.ParseInt/ParseUint with base 0, on text whose underscores
 * are already gone: an optional sign, then "0x", "0o", "0b" or a bare
 * leading "0" (octal) or decimal digits.  Returns false on bad syntax or
 * a magnitude beyond 64 bits.
 */
static bool yaml_parse_go_uint(const char *s, size_t n, bool *has_sign,
                               bool *neg, uint64_t *mag)
{
    size_t i = 0;
    unsigned base = 10;
    uint64_t v = 0;

    *has_sign = false;
    *neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        *has_sign = true;
        *neg = s[i] == '-';
        i++;
    }
    if (i == n)
        return false;
    if (s[i] == '0' && n - i >= 2) {
        char c = s[i + 1];
        if ((c == 'x' || c == 'X') && n - i >= 3) {
            base = 16;
            i += 2;
        } else if ((c == 'o' || c == 'O') && n - i >= 3) {
            base = 8;
            i += 2;
        } else if ((c == 'b' || c == 'B') && n - i >= 3) {
            base = 2;
            i += 2;
        } else {
            base = 8;
            i += 1;
        }
    }
    for (; i < n; i++) {
        int d = yaml_digit_value(s[i]);
        if (d >= (int)base)
            return false;
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            return false;
        v = v * base + (uint64_t)d;
    }
    *mag = v;
    return true;
}

static size_t yaml_skip_digits(const char *s, size_t n, size_t i)
{
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

/* go-yaml v2's float pattern:
 * ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool yaml_is_float_syntax(const char *s, size_t n)
{
    size_t i = 0, j;

    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i < n && s[i] == '.') {
        j = yaml_skip_digits(s, n, i + 1);
        if (j == i + 1)
            return false;
        i = j;
    } else {
        j = yaml_skip_digits(s, n, i);
        if (j == i)
            return false;
        i = j;
        if (i < n && s[i] == '.')
            i = yaml_skip_digits(s, n, i + 1);
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        j = yaml_skip_digits(s, n, i);
        if (j == i)
            return false;
        i = j;
    }
    return i == n;
}

/* Reads text of float syntax; false when it overflows to infinity (Go
 * reports a range error there and the scalar stays a string). */
static bool yaml_parse_float(const char *text, double *out)
{
    double d = g_ascii_strtod(text, NULL);
    if (isinf(d))
        return false;
    *out = d;
    return true;
}

/* Numbers: s starts with a digit, a sign or a dot. */
static void yaml_resolve_number(const char *s, size_t n, yaml_scalar_t *out)
{
    char *plain = malloc(n + 1);
    size_t m = 0;
    bool has_sign, neg;
    uint64_t mag;
    double d;

    if (!plain)
        abort();
    if (s[0] == '.') {
        /* Go reads these with ParseFloat as they are, underscores and all. */
        memcpy(plain, s, n);
        m = n;
    } else {
        for (size_t i = 0; i < n; i++)
            if (s[i] != '_')
                plain[m++] = s[i];
    }
    plain[m] = '\0';

    if (s[0] != '.' && yaml_parse_go_uint(plain, m, &has_sign, &neg, &mag)) {
        if (!neg && mag <= (uint64_t)INT64_MAX) {
            out->kind = YAML_KIND_INT;
            out->i = (int64_t)mag;
            goto cleanup;
        }
        if (neg && mag <= (uint64_t)INT64_MAX + 1) {
            out->kind = YAML_KIND_INT;
            out->i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
            goto cleanup;
        }
        if (!has_sign) {
            out->kind = YAML_KIND_UINT;
            out->u = mag;
            goto cleanup;
        }
    }
    if (yaml_is_float_syntax(plain, m) && yaml_parse_float(plain, &d)) {
        out->kind = YAML_KIND_FLOAT;
        out->d = d;
        goto cleanup;
    }
    out->kind = YAML_KIND_STR;

cleanup:
    free(plain);
}

/* Type an untagged plain scalar the way go-yaml v2 does. */
static void yaml_resolve_plain(const char *s, size_t n, yaml_scalar_t *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = YAML_KIND_STR;
    if (n == 0) {
        out->kind = YAML_KIND_NULL;
        return;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(yaml_words); i++) {
        if (strlen(yaml_words[i].text) == n &&
            memcmp(yaml_words[i].text, s, n) == 0) {
            out->kind = yaml_words[i].kind;
            out->b = yaml_words[i].b;
            out->d = yaml_words[i].d;
            return;
        }
    }
    if ((s[0] >= '0' && s[0] <= '9') || s[0] == '+' || s[0] == '-' ||
        s[0] == '.')
        yaml_resolve_number(s, n, out);
}

/* ---- reading ---------------------------------------------------------- */

typedef struct {
    yaml_parser_t parser;
    err_t *err;
} yaml_reader_t;

/* libyaml marks count from zero; people count from one. */
#define YAML_LINE(mark) ((mark).line + 1)
#define YAML_COL(mark) ((mark).column + 1)

static void yaml_report_parser_error(yaml_reader_t *r)
{
    const yaml_parser_t *p = &r->parser;
    const char *problem = p->problem ? p->problem : "unknown problem";

    switch (p->error) {
    case YAML_MEMORY_ERROR:
        log_error("yaml: libyaml ran out of memory.");
        abort();
    case YAML_READER_ERROR:
        if (p->problem_value != -1)
            err_set(r->err, ERR_BAD_REQUEST,
                    "The YAML document cannot be read: %s (byte 0x%02X at "
                    "offset %zu).",
                    problem, (unsigned)p->problem_value, p->problem_offset);
        else
            err_set(r->err, ERR_BAD_REQUEST,
                    "The YAML document cannot be read: %s (at offset %zu).",
                    problem, p->problem_offset);
        break;
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
        if (p->context)
            err_set(r->err, ERR_BAD_REQUEST,
                    "The YAML document is malformed: %s at line %zu, column "
                    "%zu (%s that started at line %zu, column %zu).",
                    problem, YAML_LINE(p->problem_mark),
                    YAML_COL(p->problem_mark), p->context,
                    YAML_LINE(p->context_mark), YAML_COL(p->context_mark));
        else
            err_set(r->err, ERR_BAD_REQUEST,
                    "The YAML document is malformed: %s at line %zu, column "
                    "%zu.",
                    problem, YAML_LINE(p->problem_mark),
                    YAML_COL(p->problem_mark));
        break;
    default:
        err_set(r->err, ERR_BAD_REQUEST,
                "The YAML document cannot be parsed: %s.", problem);
        break;
    }
}

/* Next event into *ev (which the caller then deletes), or -1 reported. */
static int yaml_reader_next(yaml_reader_t *r, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&r->parser, ev)) {
        yaml_report_parser_error(r);
        return -1;
    }
    return 0;
}

/* A short, printable excerpt of untrusted text for an error sentence: at
 * most about 60 bytes, cut on a character boundary, control characters
 * replaced.  s is valid UTF-8 (libyaml guarantees it). */
static void yaml_excerpt(const char *s, size_t n, char *out, size_t size)
{
    size_t i = 0, o = 0;
    const size_t budget = size < 64 ? size - 4 : 60;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t clen = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (o + clen > budget || i + clen > n)
            break;
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\')
            out[o++] = c == '"' || c == '\\' ? '\'' : '?';
        else
            for (size_t k = 0; k < clen; k++)
                out[o++] = s[i + k];
        i += clen;
    }
    if (i < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* Apply the scalar's tag, or resolve it untagged; -1 reported. */
static int yaml_resolve_event(yaml_reader_t *r, const yaml_event_t *ev,
                              yaml_scalar_t *out)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    const char *s = (const char *)ev->data.scalar.value;
    size_t n = ev->data.scalar.length;
    const char *name;
    yaml_kind_t want;

    memset(out, 0, sizeof(*out));
    out->kind = YAML_KIND_STR;
    if (!tag) {
        /* Quoted and block scalars are strings; plain ones are typed. */
        if (ev->data.scalar.plain_implicit)
            yaml_resolve_plain(s, n, out);
        return 0;
    }
    /* "!" (non-specific) and local or foreign tags leave text as text. */
    if (strncmp(tag, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) != 0)
        return 0;
    name = tag + strlen(YAML_TAG_PREFIX);
    if (strcmp(name, "binary") == 0) {
        err_set(r->err, ERR_BAD_REQUEST,
                "The YAML document tags the scalar at line %zu, column %zu "
                "as !!binary, which is not supported; give the base64 text "
                "as an ordinary string.",
                YAML_LINE(ev->start_mark), YAML_COL(ev->start_mark));
        return -1;
    }
    if (strcmp(name, "null") == 0)
        want = YAML_KIND_NULL;
    else if (strcmp(name, "bool") == 0)
        want = YAML_KIND_BOOL;
    else if (strcmp(name, "int") == 0)
        want = YAML_KIND_INT;
    else if (strcmp(name, "float") == 0)
        want = YAML_KIND_FLOAT;
    else
        return 0; /* !!str, !!timestamp and the rest: text */

    yaml_resolve_plain(s, n, out);
    if (want == YAML_KIND_INT && out->kind == YAML_KIND_UINT)
        return 0;
    if (want == YAML_KIND_FLOAT && out->kind == YAML_KIND_INT) {
        out->kind = YAML_KIND_FLOAT;
        out->d = (double)out->i;
        return 0;
    }
    if (want == YAML_KIND_FLOAT && out->kind == YAML_KIND_UINT) {
        out->kind = YAML_KIND_FLOAT;
        out->d = (double)out->u;
        return 0;
    }
    if (out->kind != want) {
        err_set(r->err, ERR_BAD_REQUEST,
                "The YAML document tags the scalar at line %zu, column %zu "
                "as !!%s, but its text is not of that type.",
                YAML_LINE(ev->start_mark), YAML_COL(ev->start_mark), name);
        return -1;
    }
    return 0;
}

/* 2^63 as a double, exactly. */
#define YAML_TWO_63 9223372036854775808.0

static json_t *yaml_scalar_value(yaml_reader_t *r, const yaml_event_t *ev)
{
    yaml_scalar_t sc;
    json_t *v;

    if (yaml_resolve_event(r, ev, &sc) < 0)
        return NULL;
    switch (sc.kind) {
    case YAML_KIND_NULL:
        return json_null();
    case YAML_KIND_BOOL:
        return json_boolean(sc.b);
    case YAML_KIND_INT:
        return json_integer((json_int_t)sc.i);
    case YAML_KIND_UINT:
        return json_real((double)sc.u);
    case YAML_KIND_FLOAT:
        if (!isfinite(sc.d)) {
            err_set(r->err, ERR_BAD_REQUEST,
                    "The YAML document holds an infinite or not-a-number "
                    "value at line %zu, column %zu, which JSON cannot "
                    "represent.",
                    YAML_LINE(ev->start_mark), YAML_COL(ev->start_mark));
            return NULL;
        }
        /* Go writes a whole float64 below 1e21 without a fraction, and the
         * apiserver reads that back as an integer when it fits. */
        if (sc.d == trunc(sc.d) && sc.d >= -YAML_TWO_63 && sc.d < YAML_TWO_63)
            return json_integer((json_int_t)sc.d);
        return json_real(sc.d);
    case YAML_KIND_STR:
    case YAML_KIND_LAST:
        break;
    }
    v = json_stringn((const char *)ev->data.scalar.value,
                     ev->data.scalar.length);
    if (!v)
        err_set(r->err, ERR_BAD_REQUEST,
                "The YAML document holds text that is not valid UTF-8 at "
                "line %zu, column %zu.",
                YAML_LINE(ev->start_mark), YAML_COL(ev->start_mark));
    return v;
}

/* Go's strconv.FormatFloat(d, 'g', -1, 32), which is how sigs.k8s.io/yaml
 * names a float mapping key; infinities and NaN get their YAML spelling. */
static void yaml_format_float_key(double d, char *buf, size_t size)
{
    float f = (float)d;
    char fmt[16], digits[64];
    int prec, exp;
    const char *e;

    if (isnan(f)) {
        snprintf(buf, size, ".nan");
        return;
    }
    if (isinf(f)) {
        snprintf(buf, size, "%s", f > 0 ? ".inf" : "-.inf");
        return;
    }
    for (prec = 1; prec < 9; prec++) {
        snprintf(fmt, sizeof(fmt), "%%.%de", prec - 1);
        g_ascii_formatd(digits, sizeof(digits), fmt, (double)f);
        if ((float)g_ascii_strtod(digits, NULL) == f)
            break;
    }
    snprintf(fmt, sizeof(fmt), "%%.%de", prec - 1);
    g_ascii_formatd(digits, sizeof(digits), fmt, (double)f);
    e = strchr(digits, 'e');
    exp = e ? atoi(e + 1) : 0;
    if (exp < -4 || exp >= 6) {
        snprintf(buf, size, "%s", digits);
        return;
    }
    snprintf(fmt, sizeof(fmt), "%%.%df", prec - 1 - exp > 0 ? prec - 1 - exp : 0);
    g_ascii_formatd(buf, (gint)size, fmt, (double)f);
}

/* The JSON member name for a mapping key: a string key as it is, others as
 * sigs.k8s.io/yaml prints them.  *key either borrows the event's text or
 * points into buf.  -1 reported. */
static int yaml_key_text(yaml_reader_t *r, const yaml_event_t *ev,
                         char *buf, size_t size, const char **key,
                         size_t *keylen)
{
    yaml_scalar_t sc;

    if (yaml_resolve_event(r, ev, &sc) < 0)
        return -1;
    switch (sc.kind) {
    case YAML_KIND_STR:
        *key = (const char *)ev->data.scalar.value;
        *keylen = ev->data.scalar.length;
        return 0;
    case YAML_KIND_NULL:
        err_set(r->err, ERR_BAD_REQUEST,
                "The YAML document has a null mapping key at line %zu, "
                "column %zu; JSON member names must be strings.",
                YAML_LINE(ev->start_mark), YAML_COL(ev->start_mark));
        return -1;
    case YAML_KIND_BOOL:
        snprintf(buf, size, "%s", sc.b ? "true" : "false");
        break;
    case YAML_KIND_INT:
        snprintf(buf, size, "%" PRId64, sc.i);
        break;
    case YAML_KIND_UINT:
        snprintf(buf, size, "%" PRIu64, sc.u);
        break;
    case YAML_KIND_FLOAT:
        yaml_format_float_key(sc.d, buf, size);
        break;
    case YAML_KIND_LAST:
        abort();
    }
    *key = buf;
    *keylen = strlen(buf);
    return 0;
}

static void yaml_report_alias(yaml_reader_t *r, const yaml_event_t *ev)
{
    err_set(r->err, ERR_BAD_REQUEST,
            "The YAML document uses an alias at line %zu, column %zu; "
            "aliases are not accepted.",
            YAML_LINE(ev->start_mark), YAML_COL(ev->start_mark));
}

static json_t *yaml_read_node(yaml_reader_t *r, yaml_event_t *ev, int depth);

static json_t *yaml_read_sequence(yaml_reader_t *r, int depth)
{
    json_t *arr = json_array();
    yaml_event_t ev;

    for (;;) {
        json_t *item;
        if (yaml_reader_next(r, &ev) < 0)
            goto fail;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return arr;
        }
        item = yaml_read_node(r, &ev, depth);
        if (!item)
            goto fail;
        json_array_append_new(arr, item);
    }

fail:
    json_decref(arr);
    return NULL;
}

static json_t *yaml_read_mapping(yaml_reader_t *r, int depth)
{
    json_t *obj = json_object();
    yaml_event_t kev, vev;
    char buf[64], shown[80];
    const char *key;
    size_t keylen;
    json_t *value;

    for (;;) {
        if (yaml_reader_next(r, &kev) < 0)
            goto fail;
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return obj;
        }
        if (kev.type == YAML_ALIAS_EVENT) {
            yaml_report_alias(r, &kev);
            goto fail_key;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
            err_set(r->err, ERR_BAD_REQUEST,
                    "The YAML document uses a sequence or mapping as a "
                    "mapping key at line %zu, column %zu; keys must be "
                    "scalars.",
                    YAML_LINE(kev.start_mark), YAML_COL(kev.start_mark));
            goto fail_key;
        }
        if (yaml_key_text(r, &kev, buf, sizeof(buf), &key, &keylen) < 0)
            goto fail_key;
        if (json_object_getn(obj, key, keylen)) {
            yaml_excerpt(key, keylen, shown, sizeof(shown));
            err_set(r->err, ERR_BAD_REQUEST,
                    "The YAML document repeats the key \"%s\" within one "
                    "mapping (line %zu, column %zu).",
                    shown, YAML_LINE(kev.start_mark),
                    YAML_COL(kev.start_mark));
            goto fail_key;
        }
        if (yaml_reader_next(r, &vev) < 0)
            goto fail_key;
        value = yaml_read_node(r, &vev, depth);
        if (!value)
            goto fail_key;
        if (json_object_setn_new(obj, key, keylen, value) < 0) {
            err_set(r->err, ERR_BAD_REQUEST,
                    "The YAML document has a key that is not valid UTF-8 at "
                    "line %zu, column %zu.",
                    YAML_LINE(kev.start_mark), YAML_COL(kev.start_mark));
            goto fail_key;
        }
        yaml_event_delete(&kev);
    }

fail_key:
    yaml_event_delete(&kev);
fail:
    json_decref(obj);
    return NULL;
}

/* Convert the node that starts with *ev (consumed) and everything below it.
 * depth counts the collections around it. */
static json_t *yaml_read_node(yaml_reader_t *r, yaml_event_t *ev, int depth)
{
    json_t *v = NULL;

    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        v = yaml_scalar_value(r, ev);
        break;
    case YAML_ALIAS_EVENT:
        yaml_report_alias(r, ev);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (depth >= JSON_MAX_DEPTH) {
            err_set(r->err, ERR_BAD_REQUEST,
                    "The YAML document nests deeper than %d levels (at line "
                    "%zu, column %zu).",
                    JSON_MAX_DEPTH, YAML_LINE(ev->start_mark),
                    YAML_COL(ev->start_mark));
            break;
        }
        if (ev->type == YAML_SEQUENCE_START_EVENT)
            v = yaml_read_sequence(r, depth + 1);
        else
            v = yaml_read_mapping(r, depth + 1);
        break;
    default:
        /* libyaml's parser only yields nodes here. */
        err_set(r->err, ERR_BAD_REQUEST,
                "The YAML document has an unexpected structure at line %zu, "
                "column %zu.",
                YAML_LINE(ev->start_mark), YAML_COL(ev->start_mark));
        break;
    }
    yaml_event_delete(ev);
    return v;
}

/* After the first document only empty ones ("---" with nothing after it,
 * as editors and generators like to leave) may follow.  Called after a
 * DOCUMENT-START event; consumes the document. */
static int yaml_skip_empty_document(yaml_reader_t *r, yaml_mark_t start)
{
    yaml_event_t ev;
    bool empty;

    if (yaml_reader_next(r, &ev) < 0)
        return -1;
    empty = ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0 &&
            ev.data.scalar.plain_implicit && !ev.data.scalar.tag &&
            !ev.data.scalar.anchor;
    yaml_event_delete(&ev);
    if (!empty) {
        err_set(r->err, ERR_BAD_REQUEST,
                "The body holds more than one YAML document (another one "
                "starts at line %zu).",
                YAML_LINE(start));
        return -1;
    }
    if (yaml_reader_next(r, &ev) < 0)
        return -1;
    yaml_event_delete(&ev); /* DOCUMENT-END */
    return 0;
}

json_t *yaml_parse(const char *buf, size_t len, err_t *err)
{
    yaml_reader_t r = {.err = err};
    yaml_event_t ev;
    yaml_mark_t mark;
    json_t *root = NULL;

    if (!yaml_parser_initialize(&r.parser))
        abort();
    yaml_parser_set_input_string(&r.parser, (const unsigned char *)buf, len);

    if (yaml_reader_next(&r, &ev) < 0) /* STREAM-START */
        goto fail;
    yaml_event_delete(&ev);
    if (yaml_reader_next(&r, &ev) < 0)
        goto fail;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        root = json_null();
        goto cleanup;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if (yaml_reader_next(&r, &ev) < 0)
        goto fail;
    root = yaml_read_node(&r, &ev, 0);
    if (!root)
        goto fail;
    if (yaml_reader_next(&r, &ev) < 0) /* DOCUMENT-END */
        goto fail;
    yaml_event_delete(&ev);
    for (;;) {
        if (yaml_reader_next(&r, &ev) < 0)
            goto fail;
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        mark = ev.start_mark;
        yaml_event_delete(&ev);
        if (yaml_skip_empty_document(&r, mark) < 0)
            goto fail;
    }

cleanup:
    yaml_parser_delete(&r.parser);
    return root;

fail:
    json_decref(root);
    root = NULL;
    goto cleanup;
}

/* ---- writing ---------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len;
    size_t cap;
} yaml_sink_t;

static int yaml_sink_write(void *data, unsigned char *buffer, size_t size)
{
    yaml_sink_t *sink = data;

    if (sink->len + size + 1 > sink->cap) {
        size_t cap = sink->cap ? sink->cap : 256;
        while (cap < sink->len + size + 1)
            cap *= 2;
        sink->buf = realloc(sink->buf, cap);
        if (!sink->buf)
            abort();
        sink->cap = cap;
    }
    memcpy(sink->buf + sink->len, buffer, size);
    sink->len += size;
    return 1;
}

/* "2001-12-14..." (a YAML 1.1 timestamp to other readers). */
static bool yaml_looks_like_date(const char *s, size_t n)
{
    return n >= 5 && yaml_skip_digits(s, n, 0) == 4 && s[4] == '-';
}

/* "1:20", "-3:25:45.5" (a YAML 1.1 base-60 number to other readers). */
static bool yaml_looks_like_base60(const char *s, size_t n)
{
    size_t i = 0;
    bool colon = false;

    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    if (i == n || s[i] < '0' || s[i] > '9')
        return false;
    for (; i < n; i++) {
        if (s[i] == ':')
            colon = true;
        else if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.'))
            return false;
    }
    return colon;
}

/* Whether a string written plain would read back as something else, here or
 * in other YAML 1.1 readers. */
static bool yaml_string_needs_quotes(const char *s, size_t n)
{
    yaml_scalar_t sc;

    yaml_resolve_plain(s, n, &sc);
    if (sc.kind != YAML_KIND_STR)
        return true;
    if ((n == 1 && s[0] == '=') || (n == 2 && memcmp(s, "<<", 2) == 0))
        return true;
    return yaml_looks_like_date(s, n) || yaml_looks_like_base60(s, n);
}

static int yaml_emit_scalar(yaml_emitter_t *em, const char *s, size_t n,
                            yaml_scalar_style_t style)
{
    yaml_event_t ev;

    if (n > INT_MAX)
        return 0;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
                                      (int)n, 1, 1, style))
        return 0;
    return yaml_emitter_emit(em, &ev);
}

static int yaml_emit_string(yaml_emitter_t *em, const char *s, size_t n)
{
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;

    if (yaml_string_needs_quotes(s, n))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    else if (memchr(s, '\n', n))
        style = YAML_LITERAL_SCALAR_STYLE; /* libyaml quotes if it must */
    return yaml_emit_scalar(em, s, n, style);
}

/* Shortest text that reads back as the same double, always float-looking. */
static void yaml_format_real(double d, char *buf, size_t size)
{
    char fmt[16];

    for (int prec = 1; prec <= 17; prec++) {
        snprintf(fmt, sizeof(fmt), "%%.%dg", prec);
        g_ascii_formatd(buf, (gint)size, fmt, d);
        if (g_ascii_strtod(buf, NULL) == d)
            break;
    }
    if (!strpbrk(buf, ".eE") && strlen(buf) + 3 <= size)
        strcat(buf, ".0");
}

static int yaml_emit_node(yaml_emitter_t *em, const json_t *v)
{
    yaml_event_t ev;
    char buf[64];
    const char *key;
    size_t keylen, i;
    json_t *child;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                 YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return 0;
        json_object_keylen_foreach((json_t *)v, key, keylen, child) {
            if (!yaml_emit_string(em, key, keylen) ||
                !yaml_emit_node(em, child))
                return 0;
        }
        if (!yaml_mapping_end_event_initialize(&ev))
            return 0;
        return yaml_emitter_emit(em, &ev);
    case JSON_ARRAY:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                  YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return 0;
        json_array_foreach(v, i, child) {
            if (!yaml_emit_node(em, child))
                return 0;
        }
        if (!yaml_sequence_end_event_initialize(&ev))
            return 0;
        return yaml_emitter_emit(em, &ev);
    case JSON_STRING:
        return yaml_emit_string(em, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        return yaml_emit_scalar(em, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL:
        yaml_format_real(json_real_value(v), buf, sizeof(buf));
        return yaml_emit_scalar(em, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
    case JSON_TRUE:
        return yaml_emit_scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE:
        return yaml_emit_scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    case JSON_NULL:
        break;
    }
    return yaml_emit_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
}

char *yaml_emit(const json_t *v)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    yaml_sink_t sink = {0};
    json_t *null = NULL;
    int ok;

    if (!v)
        v = null = json_null();
    if (!yaml_emitter_initialize(&em))
        abort();
    yaml_emitter_set_output(&em, yaml_sink_write, &sink);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1); /* never fold long lines */
    yaml_emitter_set_indent(&em, 2);
    yaml_emitter_set_break(&em, YAML_LN_BREAK);

    ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
         yaml_emitter_emit(&em, &ev) &&
         yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
         yaml_emitter_emit(&em, &ev) && yaml_emit_node(&em, v) &&
         yaml_document_end_event_initialize(&ev, 1) &&
         yaml_emitter_emit(&em, &ev) &&
         yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
         yaml_emitter_flush(&em);
    if (ok) {
        yaml_sink_write(&sink, (unsigned char *)"", 0);
        sink.buf[sink.len] = '\0';
    } else {
        log_error("yaml: cannot write a value as YAML: %s.",
                  em.problem ? em.problem : "invalid text");
        free(sink.buf);
        sink.buf = NULL;
    }
    yaml_emitter_delete(&em);
    json_decref(null);
    return sink.buf;
}
