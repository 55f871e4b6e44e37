/*
 * jsonpath: compile and evaluate kubectl-style JSONPath (see jsonpath.h).
 *
 * A compiled jsonpath is a list of parts, each either literal text or a path.
 * A path is a list of steps applied left to right to a working set of values:
 * a select step (one or more selectors: name, index, slice, wildcard; several
 * when written as a union "[0,2]"), a filter step, or a descent step that
 * replaces each value by itself and every object or array nested in it.
 *
 * The parser is recursive descent over the text with one position; filters
 * nest at most JSONPATH_MAX_NESTING deep, so recursion is bounded.  Working
 * sets are arrays of borrowed pointers into the evaluated document, capped at
 * JSONPATH_MAX_RESULTS; only jsonpath_eval takes references.
 */
#include "model/jsonpath.h"

#include <errno.h>
#include <glib.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONPATH_MAX_NESTING 8
/* Array indexes and slice bounds beyond this are rejected when compiling. */
#define JSONPATH_MAX_INDEX 1000000000000LL

typedef enum {
    JP_SEL_NAME,
    JP_SEL_INDEX,
    JP_SEL_SLICE,
    JP_SEL_WILDCARD,
    JP_SEL_LAST
} jp_sel_kind_t;

typedef struct {
    jp_sel_kind_t kind;
    char *name;        /* NAME */
    gint64 index;      /* INDEX */
    gint64 start, end; /* SLICE, meaningful when has_start / has_end */
    gint64 step;       /* SLICE, > 0 */
    bool has_start, has_end;
} jp_sel_t;

typedef enum { JP_STEP_SELECT, JP_STEP_FILTER, JP_STEP_DESCENT, JP_STEP_LAST } jp_step_kind_t;

typedef struct jp_filter jp_filter_t;

typedef struct {
    jp_step_kind_t kind;
    GArray *sels;        /* of jp_sel_t, SELECT */
    jp_filter_t *filter; /* FILTER */
} jp_step_t;

typedef struct {
    bool from_root; /* '$' in a filter operand */
    GArray *steps;  /* of jp_step_t */
} jp_path_t;

typedef enum {
    JP_OP_EXISTS,
    JP_OP_EQ,
    JP_OP_NE,
    JP_OP_LT,
    JP_OP_LE,
    JP_OP_GT,
    JP_OP_GE,
    JP_OP_LAST
} jp_op_t;

typedef struct {
    jp_path_t *path; /* exactly one of path and literal is set */
    json_t *literal;
} jp_operand_t;

struct jp_filter {
    jp_operand_t lhs, rhs; /* rhs unset for JP_OP_EXISTS */
    jp_op_t op;
};

typedef struct {
    char *text;      /* literal text, or */
    jp_path_t *path; /* an expression */
} jp_part_t;

struct jsonpath {
    GArray *parts; /* of jp_part_t */
};

/* ---- freeing ---- */

static void jp_filter_free(jp_filter_t *f);

static void jp_path_free(jp_path_t *path)
{
    if (!path)
        return;
    g_array_unref(path->steps);
    g_free(path);
}

static void jp_sel_clear(gpointer data)
{
    jp_sel_t *s = data;
    g_free(s->name);
}

static void jp_step_clear(gpointer data)
{
    jp_step_t *st = data;
    if (st->sels)
        g_array_unref(st->sels);
    jp_filter_free(st->filter);
}

static void jp_operand_clear(jp_operand_t *o)
{
    jp_path_free(o->path);
    json_decref(o->literal);
    o->path = NULL;
    o->literal = NULL;
}

static void jp_filter_free(jp_filter_t *f)
{
    if (!f)
        return;
    jp_operand_clear(&f->lhs);
    jp_operand_clear(&f->rhs);
    g_free(f);
}

static void jp_part_clear(gpointer data)
{
    jp_part_t *part = data;
    g_free(part->text);
    jp_path_free(part->path);
}

void jsonpath_free(jsonpath_t *jp)
{
    if (!jp)
        return;
    g_array_unref(jp->parts);
    g_free(jp);
}

static jp_path_t *jp_path_new(void)
{
    jp_path_t *path = g_new0(jp_path_t, 1);
    path->steps = g_array_new(FALSE, TRUE, sizeof(jp_step_t));
    g_array_set_clear_func(path->steps, jp_step_clear);
    return path;
}

static GArray *jp_sels_new(void)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(jp_sel_t));
    g_array_set_clear_func(a, jp_sel_clear);
    return a;
}

/* ---- parsing ---- */

typedef struct {
    const char *s;
    size_t len;
    size_t pos;
    int nesting; /* filters open around the current position */
    err_t *err;
} jp_parser_t;

static char jp_peek(const jp_parser_t *p)
{
    return p->pos < p->len ? p->s[p->pos] : '\0';
}

static char jp_peek_at(const jp_parser_t *p, size_t ahead)
{
    return p->pos + ahead < p->len ? p->s[p->pos + ahead] : '\0';
}

static void jp_skip_ws(jp_parser_t *p)
{
    while (p->pos < p->len && g_ascii_isspace(p->s[p->pos]))
        p->pos++;
}

/* Report "found X at offset N where <expected> was expected." */
static void jp_fail_expected(jp_parser_t *p, const char *expected)
{
    char here[48];

    if (p->pos >= p->len) {
        snprintf(here, sizeof(here), "the end of the text");
    } else {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c >= 0x20 && c < 0x7f)
            snprintf(here, sizeof(here), "'%c' at offset %zu", c, p->pos);
        else
            snprintf(here, sizeof(here), "byte 0x%02x at offset %zu", c, p->pos);
    }
    err_set(p->err, ERR_BAD_REQUEST,
            "Unable to compile the JSONPath expression: found %s where %s was "
            "expected.",
            here, expected);
}

static void jp_fail_at(jp_parser_t *p, size_t at, const char *what)
{
    err_set(p->err, ERR_BAD_REQUEST,
            "Unable to compile the JSONPath expression: %s at offset %zu.", what, at);
}

/* Characters that end an unquoted field name. */
static bool jp_is_name_end(char c)
{
    return (unsigned char)c < 0x20 || c == 0x7f || g_ascii_isspace(c) ||
           strchr(".[](){},'\"=!<>&|", c) != NULL;
}

/* A field name after '.', with '\' escaping the next character.  Returns a
 * new string, empty when no name is there, or NULL after an error. */
static char *jp_parse_name(jp_parser_t *p)
{
    GString *name = g_string_new(NULL);

    while (p->pos < p->len && !jp_is_name_end(p->s[p->pos])) {
        if (p->s[p->pos] == '\\') {
            if (p->pos + 1 >= p->len) {
                jp_fail_at(p, p->pos, "a field name ends with a lone '\\'");
                g_string_free(name, TRUE);
                return NULL;
            }
            p->pos++;
        }
        g_string_append_c(name, p->s[p->pos++]);
    }
    return g_string_free(name, FALSE);
}

/* A quoted string at p->pos (' or "). Returns a new string or NULL. */
static char *jp_parse_quoted(jp_parser_t *p, size_t *out_len)
{
    char quote = jp_peek(p);
    size_t start = p->pos;
    GString *out = g_string_new(NULL);

    p->pos++;
    for (;;) {
        char c;
        if (p->pos >= p->len) {
            jp_fail_at(p, start, "a quoted string is not closed");
            goto fail;
        }
        c = p->s[p->pos++];
        if (c == quote)
            break;
        if (c == '\\') {
            char e = jp_peek(p);
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '\\': case '\'': case '"': case '/': c = e; break;
            default:
                jp_fail_expected(p, "one of n, t, r, \\, ', \" or / after '\\' in a "
                                    "quoted string");
                goto fail;
            }
            p->pos++;
        }
        g_string_append_c(out, c);
    }
    if (out_len)
        *out_len = out->len;
    return g_string_free(out, FALSE);

fail:
    g_string_free(out, TRUE);
    return NULL;
}

/* An optional signed integer; returns 1 if one was read, 0 if none, -1 on
 * error. */
static int jp_parse_int(jp_parser_t *p, gint64 *out)
{
    size_t start = p->pos;
    bool neg = false;
    gint64 v = 0;

    if (jp_peek(p) == '-') {
        neg = true;
        p->pos++;
    }
    if (!g_ascii_isdigit(jp_peek(p))) {
        if (neg) {
            jp_fail_expected(p, "a digit after '-'");
            return -1;
        }
        return 0;
    }
    while (g_ascii_isdigit(jp_peek(p))) {
        v = v * 10 + (p->s[p->pos++] - '0');
        if (v > JSONPATH_MAX_INDEX) {
            jp_fail_at(p, start, "an array index is too large");
            return -1;
        }
    }
    *out = neg ? -v : v;
    return 1;
}

static jp_path_t *jp_parse_path(jp_parser_t *p, bool in_filter, bool bare);

/* A filter operand: a path from '@' or '$' (a path starting with '.' is
 * from '@', as Kubernetes reads it), or a literal. */
static int jp_parse_operand(jp_parser_t *p, jp_operand_t *o)
{
    char c;

    jp_skip_ws(p);
    c = jp_peek(p);
    if (c == '@' || c == '$' || c == '.') {
        o->path = jp_parse_path(p, true, false);
        return o->path ? 0 : -1;
    }
    if (c == '\'' || c == '"') {
        size_t n;
        char *s = jp_parse_quoted(p, &n);
        if (!s)
            return -1;
        o->literal = json_stringn(s, n);
        g_free(s);
        if (!o->literal) {
            jp_fail_at(p, p->pos, "a quoted string is not valid UTF-8");
            return -1;
        }
        return 0;
    }
    if (c == '-' || g_ascii_isdigit(c)) {
        size_t start = p->pos;
        bool real = false;
        char buf[64];
        char *end;

        if (c == '-')
            p->pos++;
        for (;;) {
            char d = jp_peek(p);
            char prev = p->s[p->pos - 1];
            bool exp_sign = (d == '+' || d == '-') && (prev == 'e' || prev == 'E');
            if (!g_ascii_isdigit(d) && d != '.' && d != 'e' && d != 'E' && !exp_sign)
                break;
            if (!g_ascii_isdigit(d))
                real = true;
            p->pos++;
        }
        if (p->pos - start >= sizeof(buf)) {
            jp_fail_at(p, start, "a number is too long");
            return -1;
        }
        memcpy(buf, p->s + start, p->pos - start);
        buf[p->pos - start] = '\0';
        errno = 0;
        if (!real) {
            long long v = strtoll(buf, &end, 10);
            if (*end || end == buf || (errno == ERANGE))
                real = true;
            else
                o->literal = json_integer(v);
        }
        if (real) {
            double d;
            errno = 0;
            d = g_ascii_strtod(buf, &end);
            if (*end || end == buf || errno == ERANGE) {
                jp_fail_at(p, start, "a number is malformed");
                return -1;
            }
            o->literal = json_real(d);
        }
        return 0;
    }
    static const struct {
        const char *word;
        json_t *(*make)(void);
    } words[] = {{"true", json_true}, {"false", json_false}, {"null", json_null}};
    for (size_t i = 0; i < G_N_ELEMENTS(words); i++) {
        size_t n = strlen(words[i].word);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, words[i].word, n) == 0 &&
            !g_ascii_isalnum(jp_peek_at(p, n))) {
            p->pos += n;
            o->literal = words[i].make();
            return 0;
        }
    }
    jp_fail_expected(p, "a path starting with '@' or '$', a quoted string, a "
                        "number, true, false or null in a filter");
    return -1;
}

/* After "[?(": operand [op operand], up to but not including ')'. */
static jp_filter_t *jp_parse_filter(jp_parser_t *p)
{
    static const struct {
        const char *text;
        jp_op_t op;
    } ops[] = {{"==", JP_OP_EQ}, {"!=", JP_OP_NE}, {"<=", JP_OP_LE},
               {">=", JP_OP_GE}, {"<", JP_OP_LT},  {">", JP_OP_GT}};
    jp_filter_t *f = g_new0(jp_filter_t, 1);
    size_t i;

    if (++p->nesting > JSONPATH_MAX_NESTING) {
        jp_fail_at(p, p->pos, "filters are nested too deeply");
        goto fail;
    }
    if (jp_parse_operand(p, &f->lhs) < 0)
        goto fail;
    jp_skip_ws(p);
    f->op = JP_OP_EXISTS;
    for (i = 0; i < G_N_ELEMENTS(ops); i++) {
        size_t n = strlen(ops[i].text);
        if (p->len - p->pos >= n && memcmp(p->s + p->pos, ops[i].text, n) == 0) {
            f->op = ops[i].op;
            p->pos += n;
            break;
        }
    }
    if (f->op == JP_OP_EXISTS) {
        if (!f->lhs.path) {
            jp_fail_expected(p, "a comparison operator (==, !=, <, <=, >, >=)");
            goto fail;
        }
    } else if (jp_parse_operand(p, &f->rhs) < 0) {
        goto fail;
    }
    jp_skip_ws(p);
    p->nesting--;
    return f;

fail:
    jp_filter_free(f);
    return NULL;
}

/* One selector inside '[' … ']' other than a filter. */
static int jp_parse_selector(jp_parser_t *p, jp_sel_t *sel)
{
    char c = jp_peek(p);
    int r;

    if (c == '\'' || c == '"') {
        sel->kind = JP_SEL_NAME;
        sel->name = jp_parse_quoted(p, NULL);
        return sel->name ? 0 : -1;
    }
    if (c == '*') {
        sel->kind = JP_SEL_WILDCARD;
        p->pos++;
        return 0;
    }
    if (c != '-' && c != ':' && !g_ascii_isdigit(c)) {
        jp_fail_expected(p, "a quoted name, an index, a slice, '*' or '?(' inside "
                            "'[]'");
        return -1;
    }
    r = jp_parse_int(p, &sel->start);
    if (r < 0)
        return -1;
    sel->has_start = r == 1;
    jp_skip_ws(p);
    if (jp_peek(p) != ':') {
        sel->kind = JP_SEL_INDEX;
        sel->index = sel->start;
        return 0;
    }
    sel->kind = JP_SEL_SLICE;
    sel->step = 1;
    p->pos++;
    jp_skip_ws(p);
    r = jp_parse_int(p, &sel->end);
    if (r < 0)
        return -1;
    sel->has_end = r == 1;
    jp_skip_ws(p);
    if (jp_peek(p) == ':') {
        size_t at;
        p->pos++;
        jp_skip_ws(p);
        at = p->pos;
        r = jp_parse_int(p, &sel->step);
        if (r < 0)
            return -1;
        if (r == 0)
            sel->step = 1;
        else if (sel->step <= 0) {
            jp_fail_at(p, at, "a slice step must be a positive number");
            return -1;
        }
    }
    return 0;
}

/* At '[': a filter or a union of selectors, through the closing ']'. */
static int jp_parse_bracket(jp_parser_t *p, jp_path_t *path)
{
    jp_step_t step = {0};

    p->pos++;
    jp_skip_ws(p);
    if (jp_peek(p) == '?') {
        p->pos++;
        jp_skip_ws(p);
        if (jp_peek(p) != '(') {
            jp_fail_expected(p, "'(' after '[?'");
            return -1;
        }
        p->pos++;
        step.kind = JP_STEP_FILTER;
        step.filter = jp_parse_filter(p);
        if (!step.filter)
            return -1;
        g_array_append_val(path->steps, step);
        if (jp_peek(p) != ')') {
            jp_fail_expected(p, "')' to close the filter");
            return -1;
        }
        p->pos++;
        jp_skip_ws(p);
        if (jp_peek(p) != ']') {
            jp_fail_expected(p, "']' after the filter");
            return -1;
        }
        p->pos++;
        return 0;
    }
    step.kind = JP_STEP_SELECT;
    step.sels = jp_sels_new();
    g_array_append_val(path->steps, step);
    for (;;) {
        jp_sel_t sel = {0};
        int r;

        jp_skip_ws(p);
        r = jp_parse_selector(p, &sel);
        g_array_append_val(step.sels, sel);
        if (r < 0)
            return -1;
        jp_skip_ws(p);
        if (jp_peek(p) == ']') {
            p->pos++;
            return 0;
        }
        if (jp_peek(p) != ',') {
            jp_fail_expected(p, "',' or ']'");
            return -1;
        }
        p->pos++;
    }
}

static void jp_add_name_step(jp_path_t *path, char *name)
{
    jp_step_t step = {.kind = JP_STEP_SELECT, .sels = jp_sels_new()};
    jp_sel_t sel = {.kind = name ? JP_SEL_NAME : JP_SEL_WILDCARD, .name = name};

    g_array_append_val(step.sels, sel);
    g_array_append_val(path->steps, step);
}

/* After '.' or '..': '*' or a field name.  Returns 1 when one was added, 0
 * when neither is there, -1 on error. */
static int jp_parse_member(jp_parser_t *p, jp_path_t *path)
{
    char *name;

    if (jp_peek(p) == '*') {
        p->pos++;
        jp_add_name_step(path, NULL);
        return 1;
    }
    name = jp_parse_name(p);
    if (!name)
        return -1;
    if (!*name) {
        g_free(name);
        return 0;
    }
    jp_add_name_step(path, name);
    return 1;
}

/*
 * A path: an optional '$' or '@' then steps.  In a filter, '$' makes the path
 * start at the document root.  A bare top-level expression may start with a
 * field name ("status.phase"); otherwise a top-level path must start with
 * '.', '[', '$' or '@'.
 */
static jp_path_t *jp_parse_path(jp_parser_t *p, bool in_filter, bool bare)
{
    jp_path_t *path = jp_path_new();
    size_t start = p->pos;
    char c = jp_peek(p);
    int r;

    if (c == '$' || c == '@') {
        path->from_root = in_filter && c == '$';
        p->pos++;
    } else if (bare && !jp_is_name_end(c) && c != '*') {
        if (jp_parse_member(p, path) < 0)
            goto fail;
    } else if (c != '.' && c != '[') {
        jp_fail_expected(p, "an expression starting with '.', '[', '$' or '@'");
        goto fail;
    }
    for (;;) {
        c = jp_peek(p);
        if (c == '.' && jp_peek_at(p, 1) == '.') {
            jp_step_t step = {.kind = JP_STEP_DESCENT};
            p->pos += 2;
            g_array_append_val(path->steps, step);
            if (jp_peek(p) == '[')
                continue;
            r = jp_parse_member(p, path);
            if (r < 0)
                goto fail;
            if (r == 0) {
                jp_fail_expected(p, "a field name, '*' or '[' after '..'");
                goto fail;
            }
        } else if (c == '.') {
            size_t at = p->pos++;
            if (jp_peek(p) == '[')
                continue;
            r = jp_parse_member(p, path);
            if (r < 0)
                goto fail;
            /* A lone "." (as in "{.}") is the current value itself. */
            if (r == 0 && !(at == start && path->steps->len == 0)) {
                jp_fail_expected(p, "a field name or '*' after '.'");
                goto fail;
            }
        } else if (c == '[') {
            if (jp_parse_bracket(p, path) < 0)
                goto fail;
        } else {
            return path;
        }
    }

fail:
    jp_path_free(path);
    return NULL;
}

static void jp_add_text(jsonpath_t *jp, const char *s, size_t n)
{
    jp_part_t part = {0};

    if (n == 0)
        return;
    part.text = g_strndup(s, n);
    g_array_append_val(jp->parts, part);
}

static void jp_add_path(jsonpath_t *jp, jp_path_t *path)
{
    jp_part_t part = {.path = path};
    g_array_append_val(jp->parts, part);
}

/* At '{': one expression or quoted literal, through the closing '}'. */
static int jp_parse_action(jp_parser_t *p, jsonpath_t *jp)
{
    size_t open = p->pos;
    char c;

    p->pos++;
    jp_skip_ws(p);
    c = jp_peek(p);
    if (c == '\'' || c == '"') {
        size_t n;
        char *s = jp_parse_quoted(p, &n);
        if (!s)
            return -1;
        jp_add_text(jp, s, n);
        g_free(s);
    } else if (c == '}') {
        jp_fail_at(p, open, "'{}' holds no expression");
        return -1;
    } else if (g_ascii_isalpha(c)) {
        size_t n = 0;
        while (g_ascii_isalpha(jp_peek_at(p, n)))
            n++;
        char word[16];
        snprintf(word, sizeof(word), "%.*s", (int)MIN(n, sizeof(word) - 1), p->s + p->pos);
        if (strcmp(word, "range") == 0 || strcmp(word, "end") == 0) {
            err_set(p->err, ERR_BAD_REQUEST,
                    "Unable to compile the JSONPath expression: '{%s}' at offset %zu "
                    "is not supported.",
                    word, open);
            return -1;
        }
        jp_fail_expected(p, "an expression starting with '.', '[', '$' or '@'");
        return -1;
    } else {
        jp_path_t *path = jp_parse_path(p, false, false);
        if (!path)
            return -1;
        jp_add_path(jp, path);
    }
    jp_skip_ws(p);
    if (jp_peek(p) != '}') {
        char expected[80];
        snprintf(expected, sizeof(expected),
                 "'}' to close the expression opened at offset %zu", open);
        jp_fail_expected(p, expected);
        return -1;
    }
    p->pos++;
    return 0;
}

jsonpath_t *jsonpath_compile(const char *expr, err_t *err)
{
    jp_parser_t p = {.s = expr ? expr : "", .err = err};
    jsonpath_t *jp;

    p.len = strnlen(p.s, JSONPATH_MAX_LEN + 1);
    if (p.len > JSONPATH_MAX_LEN) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSONPath expression is longer than the limit of %d bytes.",
                JSONPATH_MAX_LEN);
        return NULL;
    }
    jp = g_new0(jsonpath_t, 1);
    jp->parts = g_array_new(FALSE, TRUE, sizeof(jp_part_t));
    g_array_set_clear_func(jp->parts, jp_part_clear);

    if (!memchr(p.s, '{', p.len)) {
        jp_path_t *path;
        jp_skip_ws(&p);
        if (p.pos == p.len) {
            err_set(err, ERR_BAD_REQUEST, "The JSONPath expression is empty.");
            goto fail;
        }
        path = jp_parse_path(&p, false, true);
        if (!path)
            goto fail;
        jp_add_path(jp, path);
        jp_skip_ws(&p);
        if (p.pos < p.len) {
            jp_fail_expected(&p, "the end of the expression");
            goto fail;
        }
        return jp;
    }
    while (p.pos < p.len) {
        const char *brace = memchr(p.s + p.pos, '{', p.len - p.pos);
        size_t upto = brace ? (size_t)(brace - p.s) : p.len;
        jp_add_text(jp, p.s + p.pos, upto - p.pos);
        p.pos = upto;
        if (brace && jp_parse_action(&p, jp) < 0)
            goto fail;
    }
    return jp;

fail:
    jsonpath_free(jp);
    return NULL;
}

/* ---- evaluation ---- */

static void jp_push(GPtrArray *out, const json_t *v)
{
    if (out->len < JSONPATH_MAX_RESULTS)
        g_ptr_array_add(out, (gpointer)v);
}

static GPtrArray *jp_eval_path(const jp_path_t *path, const json_t *cur,
                               const json_t *root);

/* Every object and array in v, v first, depth first. */
static void jp_descend(const json_t *v, GPtrArray *out)
{
    const char *k;
    json_t *c;
    size_t i;

    if (out->len >= JSONPATH_MAX_RESULTS)
        return;
    if (json_is_object(v)) {
        jp_push(out, v);
        json_object_foreach((json_t *)v, k, c)
            jp_descend(c, out);
    } else if (json_is_array(v)) {
        jp_push(out, v);
        json_array_foreach(v, i, c)
            jp_descend(c, out);
    }
}

static void jp_apply_selector(const jp_sel_t *sel, const json_t *v, GPtrArray *out)
{
    const char *k;
    json_t *c;
    size_t i;
    gint64 n = (gint64)json_array_size(v);

    switch (sel->kind) {
    case JP_SEL_NAME:
        c = json_object_get(v, sel->name);
        if (c)
            jp_push(out, c);
        break;
    case JP_SEL_WILDCARD:
        if (json_is_object(v))
            json_object_foreach((json_t *)v, k, c)
                jp_push(out, c);
        else if (json_is_array(v))
            json_array_foreach(v, i, c)
                jp_push(out, c);
        break;
    case JP_SEL_INDEX: {
        gint64 idx = sel->index < 0 ? sel->index + n : sel->index;
        if (json_is_array(v) && idx >= 0 && idx < n)
            jp_push(out, json_array_get(v, (size_t)idx));
        break;
    }
    case JP_SEL_SLICE: {
        gint64 start = sel->has_start ? sel->start : 0;
        gint64 end = sel->has_end ? sel->end : n;
        if (!json_is_array(v))
            break;
        if (start < 0)
            start += n;
        if (end < 0)
            end += n;
        start = CLAMP(start, 0, n);
        end = CLAMP(end, 0, n);
        for (gint64 j = start; j < end && out->len < JSONPATH_MAX_RESULTS; j += sel->step)
            jp_push(out, json_array_get(v, (size_t)j));
        break;
    }
    case JP_SEL_LAST:
        break;
    }
}

/* Compare two JSON strings bytewise, shorter first on a common prefix. */
static int jp_strcmp(const json_t *a, const json_t *b)
{
    size_t la = json_string_length(a), lb = json_string_length(b);
    int c = memcmp(json_string_value(a), json_string_value(b), MIN(la, lb));
    if (c)
        return c;
    return la < lb ? -1 : la > lb;
}

static bool jp_compare(const json_t *a, jp_op_t op, const json_t *b)
{
    int c;

    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b)) {
            json_int_t x = json_integer_value(a), y = json_integer_value(b);
            c = x < y ? -1 : x > y;
        } else {
            double x = json_number_value(a), y = json_number_value(b);
            c = x < y ? -1 : x > y;
        }
    } else if (json_is_string(a) && json_is_string(b)) {
        c = jp_strcmp(a, b);
    } else {
        /* Other kinds only compare for equality. */
        bool eq = json_equal((json_t *)a, (json_t *)b);
        return op == JP_OP_EQ ? eq : op == JP_OP_NE ? !eq : false;
    }
    switch (op) {
    case JP_OP_EQ: return c == 0;
    case JP_OP_NE: return c != 0;
    case JP_OP_LT: return c < 0;
    case JP_OP_LE: return c <= 0;
    case JP_OP_GT: return c > 0;
    case JP_OP_GE: return c >= 0;
    default: return false;
    }
}

static GPtrArray *jp_operand_values(const jp_operand_t *o, const json_t *cur,
                                    const json_t *root)
{
    GPtrArray *vals;

    if (o->path)
        return jp_eval_path(o->path, cur, root);
    vals = g_ptr_array_new();
    g_ptr_array_add(vals, o->literal);
    return vals;
}

static bool jp_filter_holds(const jp_filter_t *f, const json_t *elem, const json_t *root)
{
    GPtrArray *l = jp_operand_values(&f->lhs, elem, root);
    GPtrArray *r;
    bool holds = false;

    if (f->op == JP_OP_EXISTS) {
        holds = l->len > 0;
        g_ptr_array_unref(l);
        return holds;
    }
    r = jp_operand_values(&f->rhs, elem, root);
    for (guint i = 0; i < l->len && !holds; i++)
        for (guint j = 0; j < r->len && !holds; j++)
            holds = jp_compare(l->pdata[i], f->op, r->pdata[j]);
    g_ptr_array_unref(l);
    g_ptr_array_unref(r);
    return holds;
}

static void jp_apply_step(const jp_step_t *step, const json_t *v, const json_t *root,
                          GPtrArray *out)
{
    json_t *c;
    size_t i;

    switch (step->kind) {
    case JP_STEP_DESCENT:
        jp_descend(v, out);
        break;
    case JP_STEP_SELECT:
        for (guint s = 0; s < step->sels->len; s++)
            jp_apply_selector(&g_array_index(step->sels, jp_sel_t, s), v, out);
        break;
    case JP_STEP_FILTER:
        if (json_is_array(v))
            json_array_foreach(v, i, c)
                if (jp_filter_holds(step->filter, c, root))
                    jp_push(out, c);
        break;
    case JP_STEP_LAST:
        break;
    }
}

/* The values `path` selects starting at `cur`, as borrowed pointers. */
static GPtrArray *jp_eval_path(const jp_path_t *path, const json_t *cur,
                               const json_t *root)
{
    GPtrArray *set = g_ptr_array_new();

    if (path->from_root)
        cur = root;
    if (!cur)
        return set;
    g_ptr_array_add(set, (gpointer)cur);
    for (guint s = 0; s < path->steps->len && set->len > 0; s++) {
        GPtrArray *next = g_ptr_array_new();
        const jp_step_t *step = &g_array_index(path->steps, jp_step_t, s);
        for (guint i = 0; i < set->len && next->len < JSONPATH_MAX_RESULTS; i++)
            jp_apply_step(step, set->pdata[i], root, next);
        g_ptr_array_unref(set);
        set = next;
    }
    return set;
}

json_t *jsonpath_eval(const jsonpath_t *jp, const json_t *root)
{
    json_t *out = json_array();

    for (guint i = 0; i < jp->parts->len; i++) {
        const jp_part_t *part = &g_array_index(jp->parts, jp_part_t, i);
        GPtrArray *vals;
        if (!part->path)
            continue;
        vals = jp_eval_path(part->path, root, root);
        for (guint j = 0; j < vals->len; j++)
            json_array_append(out, vals->pdata[j]);
        g_ptr_array_unref(vals);
    }
    return out;
}

static void jp_render_value(GString *out, const json_t *v)
{
    char *text;

    if (json_is_string(v)) {
        g_string_append_len(out, json_string_value(v), (gssize)json_string_length(v));
        return;
    }
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    g_string_append(out, text);
    free(text);
}

char *jsonpath_render(const jsonpath_t *jp, const json_t *root)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < jp->parts->len; i++) {
        const jp_part_t *part = &g_array_index(jp->parts, jp_part_t, i);
        GPtrArray *vals;
        if (!part->path) {
            g_string_append(out, part->text);
            continue;
        }
        vals = jp_eval_path(part->path, root, root);
        for (guint j = 0; j < vals->len; j++) {
            if (j > 0)
                g_string_append_c(out, ' ');
            jp_render_value(out, vals->pdata[j]);
        }
        g_ptr_array_unref(vals);
    }
    return g_string_free(out, FALSE);
}
