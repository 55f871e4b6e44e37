/*
 * selector: label and field selectors (see selector.h).
 *
 * A label selector holds an array of requirements.  Each requirement owns its
 * key and, for every operator that takes values, a sorted array of distinct
 * values, so that a set test is a binary search.  Gt and Lt keep their bound
 * as a number as well.  A field selector holds (field, operator, value)
 * triples with the value already unescaped.
 *
 * The label parser is a hand-written scanner over the query text: identifiers
 * run up to whitespace or one of  = ! ( ) , < >  and every error names what
 * was found and where.  Text quoted into an error message is cut short and
 * stripped of bytes that are not printable ASCII, so a message is always a
 * short, valid UTF-8 sentence whatever the client sent.
 */
#include "model/selector.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"

/* Longest excerpt of client text quoted in an error message. */
#define SELECTOR_EXCERPT_MAX 64

typedef enum {
    LABEL_OP_EQUALS,
    LABEL_OP_NOT_EQUALS,
    LABEL_OP_IN,
    LABEL_OP_NOT_IN,
    LABEL_OP_EXISTS,
    LABEL_OP_DOES_NOT_EXIST,
    LABEL_OP_GREATER_THAN,
    LABEL_OP_LESS_THAN,
    LABEL_OP_LAST
} label_op_t;

struct label_requirement {
    char *key;
    label_op_t op;
    GPtrArray *values; /* of char *, owned; NULL for Exists/DoesNotExist */
    gint64 bound;      /* Gt and Lt only */
};

struct label_selector {
    bool nothing; /* built from a null metav1.LabelSelector */
    GArray *reqs; /* of struct label_requirement */
    size_t n_values;
};

typedef enum { FIELD_OP_EQUALS, FIELD_OP_NOT_EQUALS, FIELD_OP_LAST } field_op_t;

struct field_requirement {
    char *field;
    field_op_t op;
    char *value;
};

struct field_selector {
    GArray *reqs; /* of struct field_requirement */
};

/* ---- shared helpers ---- */

/* Copy at most SELECTOR_EXCERPT_MAX bytes of s[0..n) into out as printable
 * ASCII (others become '?'), with "..." when cut. out holds 4 more bytes. */
static void selector_excerpt(char *out, const char *s, size_t n)
{
    size_t i, m = n > SELECTOR_EXCERPT_MAX ? SELECTOR_EXCERPT_MAX : n;

    for (i = 0; i < m; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (m < n) {
        memcpy(out + m, "...", 3);
        m += 3;
    }
    out[m] = '\0';
}

#define EXCERPT_BUF (SELECTOR_EXCERPT_MAX + 4)

/* The shape of a qualified name's name part and of a non-empty label value:
 * letters, digits, '-', '_' and '.', starting and ending alphanumeric.
 * Length is checked by the callers. */
static bool selector_is_name(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || !g_ascii_isalnum(s[0]) || !g_ascii_isalnum(s[n - 1]))
        return false;
    for (i = 1; i + 1 < n; i++)
        if (!g_ascii_isalnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

/* A lowercase RFC 1123 subdomain (length checked by the caller). */
static bool selector_is_subdomain(const char *s, size_t n)
{
    size_t i, start = 0;

    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (i == start || s[start] == '-' || s[i - 1] == '-')
                return false;
            start = i + 1;
        } else if (!g_ascii_islower(s[i]) && !g_ascii_isdigit(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return true;
}

/* Why `key` (n bytes) is not a valid label key, or NULL when it is. */
static const char *label_key_problem(const char *key, size_t n)
{
    const char *slash = memchr(key, '/', n);

    if (n == 0)
        return "it is empty";
    if (slash) {
        size_t plen = (size_t)(slash - key);
        if (memchr(slash + 1, '/', n - plen - 1))
            return "it may contain at most one '/'";
        if (plen == 0)
            return "its prefix before '/' is empty";
        if (plen > 253)
            return "its prefix is longer than 253 characters";
        if (!selector_is_subdomain(key, plen))
            return "its prefix must be a lowercase DNS subdomain (letters, "
                   "digits, '-' and '.', each part starting and ending with a "
                   "letter or digit)";
        key = slash + 1;
        n -= plen + 1;
        if (n == 0)
            return "its name after '/' is empty";
    }
    if (n > 63)
        return "its name part is longer than 63 characters";
    if (!selector_is_name(key, n))
        return "its name part must consist of letters, digits, '-', '_' and '.', "
               "and start and end with a letter or digit";
    return NULL;
}

/* Why `v` (n bytes) is not a valid label value, or NULL when it is. */
static const char *label_value_problem(const char *v, size_t n)
{
    if (n == 0)
        return NULL;
    if (n > 63)
        return "it is longer than 63 characters";
    if (!selector_is_name(v, n))
        return "it must be empty or consist of letters, digits, '-', '_' and "
               "'.', and start and end with a letter or digit";
    return NULL;
}

static bool selector_parse_int64(const char *s, gint64 *out)
{
    char *end;
    long long v;

    if (!*s || g_ascii_isspace(*s))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* ---- label selector: construction ---- */

static int label_value_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void label_requirement_clear(struct label_requirement *r)
{
    g_free(r->key);
    if (r->values) {
        for (guint i = 0; i < r->values->len; i++)
            g_free(g_ptr_array_index(r->values, i));
        g_ptr_array_unref(r->values);
    }
}

static label_selector_t *label_selector_new(void)
{
    label_selector_t *sel = g_new0(label_selector_t, 1);
    sel->reqs = g_array_new(FALSE, TRUE, sizeof(struct label_requirement));
    return sel;
}

void label_selector_free(label_selector_t *sel)
{
    if (!sel)
        return;
    for (guint i = 0; i < sel->reqs->len; i++)
        label_requirement_clear(&g_array_index(sel->reqs, struct label_requirement, i));
    g_array_unref(sel->reqs);
    g_free(sel);
}

/* Sort and de-duplicate the values, then move r into sel. */
static void label_selector_take(label_selector_t *sel, struct label_requirement *r)
{
    if (r->values && r->values->len > 1) {
        guint w = 1;
        g_ptr_array_sort(r->values, label_value_cmp);
        for (guint i = 1; i < r->values->len; i++) {
            char *v = g_ptr_array_index(r->values, i);
            if (strcmp(v, g_ptr_array_index(r->values, w - 1)) == 0)
                g_free(v);
            else
                g_ptr_array_index(r->values, w++) = v;
        }
        g_ptr_array_set_size(r->values, w);
    }
    g_array_append_val(sel->reqs, *r);
    memset(r, 0, sizeof(*r));
}

/* ---- label selector: query syntax ---- */

typedef struct {
    const char *s;
    size_t len;
    size_t pos;
    label_selector_t *sel;
    err_t *err;
} label_parser_t;

static bool label_is_special(char c)
{
    return strchr("=!(),<>", c) != NULL;
}

static void label_skip_ws(label_parser_t *p)
{
    while (p->pos < p->len && g_ascii_isspace(p->s[p->pos]))
        p->pos++;
}

/* Length of the identifier at p->pos (possibly 0); does not advance. */
static size_t label_ident_len(const label_parser_t *p)
{
    size_t i = p->pos;
    while (i < p->len && !g_ascii_isspace(p->s[i]) && !label_is_special(p->s[i]))
        i++;
    return i - p->pos;
}

/* Describe what is at p->pos for an error message. */
static void label_describe_here(const label_parser_t *p, char *out, size_t outlen)
{
    if (p->pos >= p->len) {
        snprintf(out, outlen, "the end of the text");
        return;
    }
    unsigned char c = (unsigned char)p->s[p->pos];
    size_t n = label_ident_len(p);
    if (n > 0) {
        char ex[EXCERPT_BUF];
        selector_excerpt(ex, p->s + p->pos, n);
        snprintf(out, outlen, "\"%s\" at offset %zu", ex, p->pos);
    } else {
        /* Not part of an identifier, so one of the printable specials. */
        snprintf(out, outlen, "'%c' at offset %zu", c, p->pos);
    }
}

static int label_fail_expected(label_parser_t *p, const char *expected)
{
    char here[EXCERPT_BUF + 48];
    label_describe_here(p, here, sizeof(here));
    err_set(p->err, ERR_BAD_REQUEST,
            "Unable to parse the label selector: found %s where %s was expected.",
            here, expected);
    return -1;
}

/* Read a value (possibly empty) and validate it. Returns a new string. */
static char *label_read_value(label_parser_t *p, const char *key)
{
    size_t n;
    const char *why;

    label_skip_ws(p);
    n = label_ident_len(p);
    why = label_value_problem(p->s + p->pos, n);
    if (why) {
        char ex[EXCERPT_BUF], kex[EXCERPT_BUF];
        selector_excerpt(ex, p->s + p->pos, n);
        selector_excerpt(kex, key, strlen(key));
        err_set(p->err, ERR_BAD_REQUEST,
                "Unable to parse the label selector: the value \"%s\" for key "
                "\"%s\" is invalid: %s.",
                ex, kex, why);
        return NULL;
    }
    char *v = g_strndup(p->s + p->pos, n);
    p->pos += n;
    return v;
}

static int label_count_value(label_parser_t *p)
{
    if (++p->sel->n_values > SELECTOR_MAX_VALUES) {
        err_set(p->err, ERR_BAD_REQUEST,
                "Unable to parse the label selector: it has more than %d values.",
                SELECTOR_MAX_VALUES);
        return -1;
    }
    return 0;
}

/* After "in" or "notin": "(" value { "," value } ")". */
static int label_parse_set(label_parser_t *p, struct label_requirement *r)
{
    char kex[EXCERPT_BUF];

    selector_excerpt(kex, r->key, strlen(r->key));
    label_skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '(')
        return label_fail_expected(p, r->op == LABEL_OP_IN ? "'(' after 'in'"
                                                           : "'(' after 'notin'");
    p->pos++;
    label_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ')') {
        err_set(p->err, ERR_BAD_REQUEST,
                "Unable to parse the label selector: the value set for key \"%s\" "
                "is empty, but '%s' needs at least one value.",
                kex, r->op == LABEL_OP_IN ? "in" : "notin");
        return -1;
    }
    r->values = g_ptr_array_new();
    for (;;) {
        char *v = label_read_value(p, r->key);
        if (!v)
            return -1;
        g_ptr_array_add(r->values, v);
        if (label_count_value(p) < 0)
            return -1;
        label_skip_ws(p);
        if (p->pos >= p->len) {
            err_set(p->err, ERR_BAD_REQUEST,
                    "Unable to parse the label selector: the value set for key "
                    "\"%s\" has no closing ')'.",
                    kex);
            return -1;
        }
        if (p->s[p->pos] == ')') {
            p->pos++;
            return 0;
        }
        if (p->s[p->pos] != ',')
            return label_fail_expected(p, "',' or ')' in a value set");
        p->pos++;
    }
}

static int label_parse_requirement(label_parser_t *p)
{
    struct label_requirement r = {0};
    bool negated = false;
    size_t n;
    const char *why;

    if (p->sel->reqs->len >= SELECTOR_MAX_REQUIREMENTS) {
        err_set(p->err, ERR_BAD_REQUEST,
                "Unable to parse the label selector: it has more than %d "
                "requirements.",
                SELECTOR_MAX_REQUIREMENTS);
        return -1;
    }
    label_skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '!') {
        negated = true;
        p->pos++;
        label_skip_ws(p);
    }
    n = label_ident_len(p);
    if (n == 0)
        return label_fail_expected(p, negated ? "a label key after '!'"
                                              : "a label key or '!'");
    why = label_key_problem(p->s + p->pos, n);
    if (why) {
        char ex[EXCERPT_BUF];
        selector_excerpt(ex, p->s + p->pos, n);
        err_set(p->err, ERR_BAD_REQUEST,
                "Unable to parse the label selector: the key \"%s\" is invalid: %s.",
                ex, why);
        return -1;
    }
    r.key = g_strndup(p->s + p->pos, n);
    p->pos += n;
    label_skip_ws(p);

    if (negated) {
        r.op = LABEL_OP_DOES_NOT_EXIST;
    } else if (p->pos >= p->len || p->s[p->pos] == ',') {
        r.op = LABEL_OP_EXISTS;
    } else {
        char c = p->s[p->pos];
        char next = p->pos + 1 < p->len ? p->s[p->pos + 1] : '\0';
        if (c == '=' || (c == '!' && next == '=')) {
            r.op = c == '=' ? LABEL_OP_EQUALS : LABEL_OP_NOT_EQUALS;
            p->pos += (c == '!' || next == '=') ? 2 : 1;
        } else if (c == '<' || c == '>') {
            r.op = c == '<' ? LABEL_OP_LESS_THAN : LABEL_OP_GREATER_THAN;
            p->pos++;
        } else {
            size_t w = label_ident_len(p);
            if (w == 2 && memcmp(p->s + p->pos, "in", 2) == 0)
                r.op = LABEL_OP_IN;
            else if (w == 5 && memcmp(p->s + p->pos, "notin", 5) == 0)
                r.op = LABEL_OP_NOT_IN;
            else {
                label_requirement_clear(&r);
                return label_fail_expected(
                    p, "an operator (=, ==, !=, in, notin, <, >), ',' or the end");
            }
            p->pos += w;
        }
        if (r.op == LABEL_OP_IN || r.op == LABEL_OP_NOT_IN) {
            if (label_parse_set(p, &r) < 0)
                goto fail;
        } else {
            size_t at = p->pos;
            char *v = label_read_value(p, r.key);
            if (!v)
                goto fail;
            r.values = g_ptr_array_new();
            g_ptr_array_add(r.values, v);
            if (label_count_value(p) < 0)
                goto fail;
            if ((r.op == LABEL_OP_LESS_THAN || r.op == LABEL_OP_GREATER_THAN) &&
                !selector_parse_int64(v, &r.bound)) {
                char kex[EXCERPT_BUF], vex[EXCERPT_BUF];
                selector_excerpt(kex, r.key, strlen(r.key));
                selector_excerpt(vex, v, strlen(v));
                err_set(p->err, ERR_BAD_REQUEST,
                        "Unable to parse the label selector: the value \"%s\" at "
                        "offset %zu for key \"%s\" must be an integer for '%c'.",
                        vex, at, kex, r.op == LABEL_OP_LESS_THAN ? '<' : '>');
                goto fail;
            }
        }
    }
    label_selector_take(p->sel, &r);
    return 0;

fail:
    label_requirement_clear(&r);
    return -1;
}

label_selector_t *label_selector_parse(const char *s, err_t *err)
{
    label_parser_t p = {.s = s ? s : "", .err = err};

    p.len = strnlen(p.s, SELECTOR_MAX_LEN + 1);
    if (p.len > SELECTOR_MAX_LEN) {
        err_set(err, ERR_BAD_REQUEST,
                "The label selector is longer than the limit of %d bytes.",
                SELECTOR_MAX_LEN);
        return NULL;
    }
    p.sel = label_selector_new();
    label_skip_ws(&p);
    if (p.pos == p.len)
        return p.sel;
    for (;;) {
        if (label_parse_requirement(&p) < 0)
            goto fail;
        label_skip_ws(&p);
        if (p.pos >= p.len)
            return p.sel;
        if (p.s[p.pos] != ',') {
            label_fail_expected(&p, "',' or the end of the text");
            goto fail;
        }
        p.pos++;
        label_skip_ws(&p);
        if (p.pos >= p.len) {
            err_set(err, ERR_BAD_REQUEST,
                    "Unable to parse the label selector: it ends with ',' where "
                    "another requirement was expected.");
            goto fail;
        }
    }

fail:
    label_selector_free(p.sel);
    return NULL;
}

/* ---- label selector: metav1.LabelSelector ---- */

static const struct {
    const char *name;
    label_op_t op;
} label_json_ops[] = {
    {"In", LABEL_OP_IN},
    {"NotIn", LABEL_OP_NOT_IN},
    {"Exists", LABEL_OP_EXISTS},
    {"DoesNotExist", LABEL_OP_DOES_NOT_EXIST},
};

/* A JSON string without embedded NUL, or NULL. */
static const char *label_json_str(const json_t *v)
{
    const char *s = json_string_value(v);
    if (s && strlen(s) != json_string_length(v))
        return NULL;
    return s;
}

static int label_json_check_key(const char *key, const char *field, err_t *err)
{
    const char *why = label_key_problem(key, strlen(key));
    if (why) {
        char ex[EXCERPT_BUF];
        selector_excerpt(ex, key, strlen(key));
        err_set(err, ERR_INVALID, "The label selector's %s \"%s\" is not a valid "
                "label key: %s.", field, ex, why);
        return -1;
    }
    return 0;
}

static int label_json_check_value(const char *v, const char *field, err_t *err)
{
    const char *why = label_value_problem(v, strlen(v));
    if (why) {
        char ex[EXCERPT_BUF];
        selector_excerpt(ex, v, strlen(v));
        err_set(err, ERR_INVALID, "The label selector's %s \"%s\" is not a valid "
                "label value: %s.", field, ex, why);
        return -1;
    }
    return 0;
}

static int label_json_count(label_selector_t *sel, size_t values, err_t *err)
{
    sel->n_values += values;
    if (sel->reqs->len >= SELECTOR_MAX_REQUIREMENTS ||
        sel->n_values > SELECTOR_MAX_VALUES) {
        err_set(err, ERR_INVALID,
                "The label selector has more than %d requirements or more than "
                "%d values.",
                SELECTOR_MAX_REQUIREMENTS, SELECTOR_MAX_VALUES);
        return -1;
    }
    return 0;
}

static int label_json_match_labels(label_selector_t *sel, const json_t *ml, err_t *err)
{
    const char *k;
    json_t *v;

    if (!ml || json_is_null(ml))
        return 0;
    if (!json_is_object(ml)) {
        err_set(err, ERR_INVALID,
                "The label selector's matchLabels must be an object of strings.");
        return -1;
    }
    json_object_foreach((json_t *)ml, k, v) {
        const char *s = label_json_str(v);
        char ex[EXCERPT_BUF];
        struct label_requirement r = {0};

        if (label_json_check_key(k, "matchLabels key", err) < 0)
            return -1;
        if (!s) {
            selector_excerpt(ex, k, strlen(k));
            err_set(err, ERR_INVALID,
                    "The label selector's matchLabels.%s must be a string.", ex);
            return -1;
        }
        if (label_json_check_value(s, "matchLabels value", err) < 0 ||
            label_json_count(sel, 1, err) < 0)
            return -1;
        r.key = g_strdup(k);
        r.op = LABEL_OP_EQUALS;
        r.values = g_ptr_array_new();
        g_ptr_array_add(r.values, g_strdup(s));
        label_selector_take(sel, &r);
    }
    return 0;
}

static int label_json_expression(label_selector_t *sel, const json_t *e, size_t i,
                                 err_t *err)
{
    const char *key, *opname;
    const json_t *vals;
    struct label_requirement r = {0};
    size_t nvals, j;
    char field[96];
    bool found = false;

    if (!json_is_object(e)) {
        err_set(err, ERR_INVALID,
                "The label selector's matchExpressions[%zu] must be an object.", i);
        return -1;
    }
    key = label_json_str(json_object_get(e, "key"));
    if (!key) {
        err_set(err, ERR_INVALID,
                "The label selector's matchExpressions[%zu].key must be a string.", i);
        return -1;
    }
    snprintf(field, sizeof(field), "matchExpressions[%zu].key", i);
    if (label_json_check_key(key, field, err) < 0)
        return -1;
    opname = label_json_str(json_object_get(e, "operator"));
    for (j = 0; opname && j < G_N_ELEMENTS(label_json_ops); j++) {
        if (strcmp(opname, label_json_ops[j].name) == 0) {
            r.op = label_json_ops[j].op;
            found = true;
            break;
        }
    }
    if (!found) {
        char ex[EXCERPT_BUF];
        selector_excerpt(ex, opname ? opname : "", opname ? strlen(opname) : 0);
        err_set(err, ERR_INVALID,
                "The label selector's matchExpressions[%zu].operator \"%s\" is not "
                "supported; it must be In, NotIn, Exists or DoesNotExist.",
                i, ex);
        return -1;
    }
    vals = json_object_get(e, "values");
    if (vals && !json_is_null(vals) && !json_is_array(vals)) {
        err_set(err, ERR_INVALID,
                "The label selector's matchExpressions[%zu].values must be an "
                "array of strings.",
                i);
        return -1;
    }
    nvals = json_array_size(vals);
    if ((r.op == LABEL_OP_IN || r.op == LABEL_OP_NOT_IN) && nvals == 0) {
        err_set(err, ERR_INVALID,
                "The label selector's matchExpressions[%zu].values must be "
                "non-empty when the operator is %s.",
                i, opname);
        return -1;
    }
    if ((r.op == LABEL_OP_EXISTS || r.op == LABEL_OP_DOES_NOT_EXIST) && nvals > 0) {
        err_set(err, ERR_INVALID,
                "The label selector's matchExpressions[%zu].values must be empty "
                "when the operator is %s.",
                i, opname);
        return -1;
    }
    if (label_json_count(sel, nvals, err) < 0)
        return -1;
    for (j = 0; j < nvals; j++) {
        const char *v = label_json_str(json_array_get(vals, j));
        snprintf(field, sizeof(field), "matchExpressions[%zu].values[%zu]", i, j);
        if (!v) {
            err_set(err, ERR_INVALID,
                    "The label selector's %s must be a string.", field);
            return -1;
        }
        if (label_json_check_value(v, field, err) < 0)
            return -1;
    }
    r.key = g_strdup(key);
    if (nvals > 0) {
        r.values = g_ptr_array_sized_new((guint)nvals);
        for (j = 0; j < nvals; j++)
            g_ptr_array_add(r.values, g_strdup(json_string_value(json_array_get(vals, j))));
    }
    label_selector_take(sel, &r);
    return 0;
}

label_selector_t *label_selector_from_json(const json_t *j, err_t *err)
{
    label_selector_t *sel = label_selector_new();
    const json_t *me;
    size_t i;

    if (!j || json_is_null(j)) {
        sel->nothing = true;
        return sel;
    }
    if (!json_is_object(j)) {
        err_set(err, ERR_INVALID, "The label selector must be a JSON object.");
        goto fail;
    }
    if (label_json_match_labels(sel, json_object_get(j, "matchLabels"), err) < 0)
        goto fail;
    me = json_object_get(j, "matchExpressions");
    if (me && !json_is_null(me)) {
        if (!json_is_array(me)) {
            err_set(err, ERR_INVALID,
                    "The label selector's matchExpressions must be an array.");
            goto fail;
        }
        for (i = 0; i < json_array_size(me); i++)
            if (label_json_expression(sel, json_array_get(me, i), i, err) < 0)
                goto fail;
    }
    return sel;

fail:
    label_selector_free(sel);
    return NULL;
}

/* ---- label selector: matching ---- */

static bool label_requirement_matches(const struct label_requirement *r,
                                      const json_t *labels)
{
    const char *v = json_string_value(json_object_get(labels, r->key));
    const char *const *vals = r->values ? (const char *const *)r->values->pdata : NULL;
    gint64 n;

    switch (r->op) {
    case LABEL_OP_EXISTS:
        return v != NULL;
    case LABEL_OP_DOES_NOT_EXIST:
        return v == NULL;
    case LABEL_OP_EQUALS:
        return v && strcmp(v, vals[0]) == 0;
    case LABEL_OP_NOT_EQUALS:
        return !v || strcmp(v, vals[0]) != 0;
    case LABEL_OP_IN:
        return v && bsearch(&v, vals, r->values->len, sizeof(char *), label_value_cmp);
    case LABEL_OP_NOT_IN:
        return !v || !bsearch(&v, vals, r->values->len, sizeof(char *), label_value_cmp);
    case LABEL_OP_GREATER_THAN:
        return v && selector_parse_int64(v, &n) && n > r->bound;
    case LABEL_OP_LESS_THAN:
        return v && selector_parse_int64(v, &n) && n < r->bound;
    case LABEL_OP_LAST:
        break;
    }
    return false;
}

bool label_selector_matches(const label_selector_t *sel, const json_t *labels)
{
    if (!sel || sel->nothing)
        return false;
    for (guint i = 0; i < sel->reqs->len; i++)
        if (!label_requirement_matches(
                &g_array_index(sel->reqs, struct label_requirement, i), labels))
            return false;
    return true;
}

bool label_selector_is_empty(const label_selector_t *sel)
{
    return sel && !sel->nothing && sel->reqs->len == 0;
}

/* ---- field selector ---- */

void field_selector_free(field_selector_t *sel)
{
    if (!sel)
        return;
    for (guint i = 0; i < sel->reqs->len; i++) {
        struct field_requirement *r =
            &g_array_index(sel->reqs, struct field_requirement, i);
        g_free(r->field);
        g_free(r->value);
    }
    g_array_unref(sel->reqs);
    g_free(sel);
}

/* Unescape s[0..n) into a new string; NULL with an error on a bad escape. */
static char *field_unescape(const char *field, const char *s, size_t n, err_t *err)
{
    GString *out = g_string_sized_new(n);
    char fex[EXCERPT_BUF];
    size_t i;

    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\') {
            if (i + 1 >= n || (s[i + 1] != '\\' && s[i + 1] != ',' && s[i + 1] != '=')) {
                char seq[EXCERPT_BUF];
                selector_excerpt(seq, s + i, i + 1 < n ? 2 : 1);
                selector_excerpt(fex, field, strlen(field));
                err_set(err, ERR_BAD_REQUEST,
                        "Unable to parse the field selector: the value for \"%s\" "
                        "has the invalid escape sequence \"%s\"; only \\\\, \\, and "
                        "\\= are allowed.",
                        fex, seq);
                g_string_free(out, TRUE);
                return NULL;
            }
            g_string_append_c(out, s[++i]);
        } else if (c == '=' || c == ',') {
            selector_excerpt(fex, field, strlen(field));
            err_set(err, ERR_BAD_REQUEST,
                    "Unable to parse the field selector: the value for \"%s\" has "
                    "an unescaped '%c'; write it as \\%c.",
                    fex, c, c);
            g_string_free(out, TRUE);
            return NULL;
        } else {
            g_string_append_c(out, c);
        }
    }
    return g_string_free(out, FALSE);
}

static bool field_is_allowed(const char *field, const char *const *allowed)
{
    if (!allowed)
        return true;
    for (; *allowed; allowed++)
        if (strcmp(*allowed, field) == 0)
            return true;
    return false;
}

static int field_parse_term(field_selector_t *sel, const char *t, size_t n,
                            const char *const *allowed, err_t *err)
{
    struct field_requirement r = {0};
    size_t i, flen = 0, vstart = 0;
    bool found = false;
    char ex[EXCERPT_BUF];

    for (i = 0; i < n && !found; i++) {
        if (t[i] == '\\') {
            i++;
        } else if (t[i] == '!' && i + 1 < n && t[i + 1] == '=') {
            r.op = FIELD_OP_NOT_EQUALS;
            flen = i;
            vstart = i + 2;
            found = true;
        } else if (t[i] == '=') {
            r.op = FIELD_OP_EQUALS;
            flen = i;
            vstart = (i + 1 < n && t[i + 1] == '=') ? i + 2 : i + 1;
            found = true;
        }
    }
    if (!found) {
        selector_excerpt(ex, t, n);
        err_set(err, ERR_BAD_REQUEST,
                "Unable to parse the field selector: the term \"%s\" has no "
                "operator; expected field=value, field==value or field!=value.",
                ex);
        return -1;
    }
    if (flen == 0) {
        selector_excerpt(ex, t, n);
        err_set(err, ERR_BAD_REQUEST,
                "Unable to parse the field selector: the term \"%s\" names no field.",
                ex);
        return -1;
    }
    r.field = g_strndup(t, flen);
    if (!field_is_allowed(r.field, allowed)) {
        selector_excerpt(ex, t, flen);
        err_set(err, ERR_BAD_REQUEST,
                "Unable to use the field selector: field label not supported: %s.",
                ex);
        g_free(r.field);
        return -1;
    }
    r.value = field_unescape(r.field, t + vstart, n - vstart, err);
    if (!r.value) {
        g_free(r.field);
        return -1;
    }
    g_array_append_val(sel->reqs, r);
    return 0;
}

field_selector_t *field_selector_parse(const char *s, const char *const *allowed,
                                       err_t *err)
{
    field_selector_t *sel;
    size_t len, pos = 0;

    s = s ? s : "";
    len = strnlen(s, SELECTOR_MAX_LEN + 1);
    if (len > SELECTOR_MAX_LEN) {
        err_set(err, ERR_BAD_REQUEST,
                "The field selector is longer than the limit of %d bytes.",
                SELECTOR_MAX_LEN);
        return NULL;
    }
    sel = g_new0(field_selector_t, 1);
    sel->reqs = g_array_new(FALSE, TRUE, sizeof(struct field_requirement));
    while (pos < len) {
        size_t start = pos;
        while (pos < len && s[pos] != ',')
            pos += (s[pos] == '\\' && pos + 1 < len) ? 2 : 1;
        if (pos > start) {
            if (sel->reqs->len >= SELECTOR_MAX_REQUIREMENTS) {
                err_set(err, ERR_BAD_REQUEST,
                        "Unable to parse the field selector: it has more than %d "
                        "terms.",
                        SELECTOR_MAX_REQUIREMENTS);
                goto fail;
            }
            if (field_parse_term(sel, s + start, pos - start, allowed, err) < 0)
                goto fail;
        }
        pos++; /* the ',' */
    }
    return sel;

fail:
    field_selector_free(sel);
    return NULL;
}

/* The text of a JSON scalar as a field selector compares it; buf holds 32. */
static const char *field_value_text(const json_t *v, char *buf, size_t buflen)
{
    if (!v)
        return "";
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_value(v);
    case JSON_INTEGER:
        snprintf(buf, buflen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL:
        /* Shortest text that reads back as the same double. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, buflen, "%.*g", prec, json_real_value(v));
            if (strtod(buf, NULL) == json_real_value(v))
                break;
        }
        return buf;
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return "";
    }
}

bool field_selector_matches(const field_selector_t *sel, const json_t *obj)
{
    char buf[64];

    if (!sel)
        return false;
    for (guint i = 0; i < sel->reqs->len; i++) {
        const struct field_requirement *r =
            &g_array_index(sel->reqs, struct field_requirement, i);
        const char *text = field_value_text(json_path_get(obj, r->field), buf, sizeof(buf));
        bool eq = strcmp(text, r->value) == 0;
        if (eq != (r->op == FIELD_OP_EQUALS))
            return false;
    }
    return true;
}

const char *field_selector_exact(const field_selector_t *sel, const char *field)
{
    if (!sel)
        return NULL;
    for (guint i = 0; i < sel->reqs->len; i++) {
        const struct field_requirement *r =
            &g_array_index(sel->reqs, struct field_requirement, i);
        if (r->op == FIELD_OP_EQUALS && strcmp(r->field, field) == 0)
            return r->value;
    }
    return NULL;
}
