/*
 * patch: JSON Patch (RFC 6902), JSON Merge Patch (RFC 7386) and Kubernetes
 * strategic merge patch over jansson values.  See patch.h for the rules.
 *
 * Invariants:
 *  - Inputs are borrowed and never modified.  Each function first makes its
 *    own deep copy of the document (the "work" tree) and changes only that;
 *    every value placed into the work tree is a fresh copy, so on success the
 *    result shares nothing with the inputs and on failure dropping the work
 *    tree undoes everything.
 *  - Values are compared with patch_value_equal(), which treats numbers by
 *    value, and hashed with patch_value_hash(), which agrees with it; the
 *    strategic merge patch uses hash tables so that merging lists is linear.
 *  - Recursion follows the nesting of the document or of the patch, which
 *    the parser bounds (JSON_MAX_DEPTH); JSON patch operations refuse to
 *    nest the document deeper than that bound.
 */
#include "model/patch.h"

#include <assert.h>
#include <glib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonutil.h"

/* ------------------------------------------------------------------------ */
/* Equality and hashing of JSON values                                      */
/* ------------------------------------------------------------------------ */

/* True when the real d is a whole number that fits json_int_t; stores it. */
static bool patch_real_as_int(double d, json_int_t *out)
{
    json_int_t i;

    /* -2^63 and 2^63 are exact doubles; the range test also rejects NaN. */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return false;
    i = (json_int_t)d;
    if ((double)i != d)
        return false;
    *out = i;
    return true;
}

static bool patch_number_equal(const json_t *a, const json_t *b)
{
    json_int_t i;

    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_real(a) && json_is_real(b))
        return json_real_value(a) == json_real_value(b);
    if (json_is_integer(a))
        return patch_real_as_int(json_real_value(b), &i) &&
               i == json_integer_value(a);
    return patch_real_as_int(json_real_value(a), &i) &&
           i == json_integer_value(b);
}

/* Structural equality of JSON values; numbers compare by value. */
static bool patch_value_equal(const json_t *a, const json_t *b)
{
    const char *key;
    size_t klen, i;
    json_t *va;

    if (a == b)
        return true;
    if (!a || !b)
        return false;
    if (json_is_number(a) && json_is_number(b))
        return patch_number_equal(a, b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b),
                      json_string_length(a)) == 0;
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_keylen_foreach((json_t *)a, key, klen, va) {
            if (!patch_value_equal(va, json_object_getn(b, key, klen)))
                return false;
        }
        return true;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (i = 0; i < json_array_size(a); i++) {
            if (!patch_value_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        }
        return true;
    default:
        return true; /* true, false, null: the type is the value */
    }
}

static guint patch_hash_bytes(const char *s, size_t n)
{
    guint h = 2166136261u; /* FNV-1a */
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static guint patch_hash_int(json_int_t v)
{
    uint64_t u = (uint64_t)v;

    u ^= u >> 33;
    u *= 0xff51afd7ed558ccdULL;
    u ^= u >> 33;
    return (guint)u;
}

/* A hash that agrees with patch_value_equal(). */
static guint patch_value_hash(gconstpointer p)
{
    const json_t *v = p;
    const char *key;
    size_t klen, i;
    json_t *m;
    json_int_t iv;
    double d;
    guint h;

    switch (json_typeof(v)) {
    case JSON_STRING:
        return patch_hash_bytes(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return patch_hash_int(json_integer_value(v));
    case JSON_REAL:
        d = json_real_value(v);
        if (patch_real_as_int(d, &iv))
            return patch_hash_int(iv);
        return patch_hash_bytes((const char *)&d, sizeof(d));
    case JSON_OBJECT:
        /* Members are unordered: combine them with a commutative sum. */
        h = 0x0b1ec7u;
        json_object_keylen_foreach((json_t *)v, key, klen, m) {
            h += patch_hash_bytes(key, klen) * 31u ^ patch_value_hash(m);
        }
        return h;
    case JSON_ARRAY:
        h = 0xa77a1u;
        for (i = 0; i < json_array_size(v); i++)
            h = h * 31u + patch_value_hash(json_array_get(v, i));
        return h;
    case JSON_TRUE:
        return 1;
    case JSON_FALSE:
        return 2;
    default:
        return 3;
    }
}

static gboolean patch_value_equal_cb(gconstpointer a, gconstpointer b)
{
    return patch_value_equal(a, b);
}

static void patch_decref_cb(gpointer p)
{
    json_decref(p);
}

/*
 * A value index: a hash table from JSON values to the position where each
 * first appeared.  It holds a reference to each key value.
 */
static GHashTable *patch_index_new(void)
{
    return g_hash_table_new_full(patch_value_hash, patch_value_equal_cb,
                                 patch_decref_cb, NULL);
}

/* Record `v` at `pos` unless an equal value is already there. */
static void patch_index_add(GHashTable *idx, const json_t *v, size_t pos)
{
    if (!v || g_hash_table_contains(idx, v))
        return;
    g_hash_table_insert(idx, json_incref((json_t *)v), GSIZE_TO_POINTER(pos));
}

static bool patch_index_find(GHashTable *idx, const json_t *v, size_t *pos)
{
    gpointer k, val;

    if (!v || !g_hash_table_lookup_extended(idx, v, &k, &val))
        return false;
    if (pos)
        *pos = GPOINTER_TO_SIZE(val);
    return true;
}

/* ------------------------------------------------------------------------ */
/* JSON pointers (RFC 6901)                                                 */
/* ------------------------------------------------------------------------ */

/* A parsed pointer: `ntok` unescaped reference tokens. */
typedef struct {
    size_t ntok;
    char *buf;   /* the tokens back to back, each followed by a NUL */
    size_t *off; /* where token i starts in buf */
    size_t *len; /* length of token i (a token may itself contain NULs) */
} patch_ptr_t;

static void patch_ptr_clear(patch_ptr_t *p)
{
    g_free(p->buf);
    g_free(p->off);
    g_free(p->len);
    memset(p, 0, sizeof(*p));
}

/*
 * Parse the pointer text s[0..n).  Returns 0, or -1 with *why set to the
 * end of a sentence saying what is wrong.
 */
static int patch_ptr_parse(patch_ptr_t *p, const char *s, size_t n,
                           const char **why)
{
    size_t i, t = 0, w = 0;

    memset(p, 0, sizeof(*p));
    if (n == 0)
        return 0; /* the whole document */
    if (s[0] != '/') {
        *why = "it must be empty or start with '/'";
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (s[i] == '/')
            p->ntok++;
    }
    p->buf = g_malloc(n + 1);
    p->off = g_new(size_t, p->ntok);
    p->len = g_new(size_t, p->ntok);
    for (i = 0; i < n; i++) {
        char ch = s[i];

        if (ch == '/') {
            if (t > 0) {
                p->len[t - 1] = w - p->off[t - 1];
                p->buf[w++] = '\0';
            }
            p->off[t++] = w;
            continue;
        }
        if (ch == '\0') {
            /* jansson cannot read back a member name holding NUL: such a
             * member would make the stored object unreadable. */
            *why = "it must not contain a NUL character";
            patch_ptr_clear(p);
            return -1;
        }
        if (ch == '~') {
            if (i + 1 < n && s[i + 1] == '0') {
                ch = '~';
            } else if (i + 1 < n && s[i + 1] == '1') {
                ch = '/';
            } else {
                *why = "'~' must be followed by '0' or '1'";
                patch_ptr_clear(p);
                return -1;
            }
            i++;
        }
        p->buf[w++] = ch;
    }
    p->len[t - 1] = w - p->off[t - 1];
    p->buf[w] = '\0';
    return 0;
}

static const char *patch_ptr_tok(const patch_ptr_t *p, size_t i)
{
    return p->buf + p->off[i];
}

/* True when a is a proper prefix of b. */
static bool patch_ptr_is_proper_prefix(const patch_ptr_t *a,
                                       const patch_ptr_t *b)
{
    size_t i;

    if (a->ntok >= b->ntok)
        return false;
    for (i = 0; i < a->ntok; i++) {
        if (a->len[i] != b->len[i] ||
            memcmp(patch_ptr_tok(a, i), patch_ptr_tok(b, i), a->len[i]) != 0)
            return false;
    }
    return true;
}

static bool patch_ptr_equal(const patch_ptr_t *a, const patch_ptr_t *b)
{
    size_t i;

    if (a->ntok != b->ntok)
        return false;
    for (i = 0; i < a->ntok; i++) {
        if (a->len[i] != b->len[i] ||
            memcmp(patch_ptr_tok(a, i), patch_ptr_tok(b, i), a->len[i]) != 0)
            return false;
    }
    return true;
}

typedef enum {
    PATCH_INDEX_OK,
    PATCH_INDEX_END,      /* "-": one past the last element */
    PATCH_INDEX_INVALID,  /* not a decimal index without leading zeros */
    PATCH_INDEX_OVERFLOW, /* does not fit a size_t */
} patch_index_t;

static patch_index_t patch_index_parse(const char *t, size_t n, size_t *out)
{
    size_t i, v = 0;

    if (n == 1 && t[0] == '-')
        return PATCH_INDEX_END;
    if (n == 0 || (n > 1 && t[0] == '0'))
        return PATCH_INDEX_INVALID;
    for (i = 0; i < n; i++) {
        if (t[i] < '0' || t[i] > '9')
            return PATCH_INDEX_INVALID;
    }
    for (i = 0; i < n; i++) {
        size_t d = (size_t)(t[i] - '0');
        if (v > (SIZE_MAX - d) / 10)
            return PATCH_INDEX_OVERFLOW;
        v = v * 10 + d;
    }
    *out = v;
    return PATCH_INDEX_OK;
}

/* ------------------------------------------------------------------------ */
/* JSON Patch (RFC 6902)                                                    */
/* ------------------------------------------------------------------------ */

typedef enum {
    PATCH_OP_ADD,
    PATCH_OP_REMOVE,
    PATCH_OP_REPLACE,
    PATCH_OP_MOVE,
    PATCH_OP_COPY,
    PATCH_OP_TEST,
    PATCH_OP_LAST
} patch_op_kind_t;

static const char *const patch_op_names[PATCH_OP_LAST] = {
    [PATCH_OP_ADD] = "add",   [PATCH_OP_REMOVE] = "remove",
    [PATCH_OP_REPLACE] = "replace", [PATCH_OP_MOVE] = "move",
    [PATCH_OP_COPY] = "copy", [PATCH_OP_TEST] = "test",
};

/* One operation, checked for shape; the pointers' texts are for messages. */
typedef struct {
    size_t num; /* position in the patch, from 1 */
    patch_op_kind_t kind;
    patch_ptr_t path;
    patch_ptr_t from;
    char path_text[216];
    char from_text[216];
    const json_t *value; /* borrowed from the patch */
} patch_op_t;

/* State of one patch_json_apply call. */
typedef struct {
    json_t *root;  /* the work tree */
    size_t copied; /* values copied by "copy" operations so far */
    err_t *err;
} patch_run_t;

/* Copy a pointer's text for messages, shortening a long one. */
static void patch_ptr_quote(char *dst, size_t size, const char *s, size_t n)
{
    if (n + 1 <= size)
        snprintf(dst, size, "%.*s", (int)n, s);
    else
        snprintf(dst, size, "%.*s...", (int)(size - 4), s);
    if (dst[0] == '\0')
        snprintf(dst, size, "\"\"");
}

static int patch_op_parse_ptr(patch_op_t *op, const json_t *jop,
                              const char *member, patch_ptr_t *ptr,
                              char *text, size_t textsize, err_t *err)
{
    const char *name = patch_op_names[op->kind];
    const json_t *v = json_object_get(jop, member);
    const char *why = NULL;

    if (!v) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch operation %zu (%s) has no \"%s\" member.",
                op->num, name, member);
        return -1;
    }
    if (!json_is_string(v)) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch operation %zu (%s) has a \"%s\" that is not "
                "a string.",
                op->num, name, member);
        return -1;
    }
    if (json_string_length(v) > PATCH_MAX_POINTER) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch operation %zu (%s) has a \"%s\" longer than "
                "%d bytes.",
                op->num, name, member, PATCH_MAX_POINTER);
        return -1;
    }
    patch_ptr_quote(text, textsize, json_string_value(v),
                    json_string_length(v));
    if (patch_ptr_parse(ptr, json_string_value(v), json_string_length(v),
                        &why) < 0) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch operation %zu (%s) has an invalid JSON "
                "pointer %s in \"%s\": %s.",
                op->num, name, text, member, why);
        return -1;
    }
    return 0;
}

/* Check the shape of operation number `num` and fill `op`. */
static int patch_op_parse(patch_op_t *op, const json_t *jop, size_t num,
                          err_t *err)
{
    const json_t *jname;
    const char *name;
    int k;

    op->num = num;
    if (!json_is_object(jop)) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch operation %zu is not an object.", num);
        return -1;
    }
    jname = json_object_get(jop, "op");
    if (!jname) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch operation %zu has no \"op\" member.", num);
        return -1;
    }
    name = json_string_value(jname);
    if (!name) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch operation %zu has an \"op\" that is not a "
                "string.",
                num);
        return -1;
    }
    for (k = 0; k < PATCH_OP_LAST; k++) {
        if (strlen(patch_op_names[k]) == json_string_length(jname) &&
            strcmp(name, patch_op_names[k]) == 0)
            break;
    }
    if (k == PATCH_OP_LAST) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch operation %zu has the unknown op \"%.64s\"; "
                "it must be add, remove, replace, move, copy or test.",
                num, name);
        return -1;
    }
    op->kind = (patch_op_kind_t)k;
    if (patch_op_parse_ptr(op, jop, "path", &op->path, op->path_text,
                           sizeof(op->path_text), err) < 0)
        return -1;
    if (op->kind == PATCH_OP_MOVE || op->kind == PATCH_OP_COPY) {
        if (patch_op_parse_ptr(op, jop, "from", &op->from, op->from_text,
                               sizeof(op->from_text), err) < 0)
            return -1;
    }
    if (op->kind == PATCH_OP_ADD || op->kind == PATCH_OP_REPLACE ||
        op->kind == PATCH_OP_TEST) {
        op->value = json_object_get(jop, "value");
        if (!op->value) {
            err_set(err, ERR_BAD_REQUEST,
                    "The JSON patch operation %zu (%s) has no \"value\" "
                    "member.",
                    num, patch_op_names[op->kind]);
            return -1;
        }
    }
    return 0;
}

static void patch_op_fail(const patch_op_t *op, err_t *err, err_code_t code,
                          const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Report that `op` does not apply: "The JSON patch operation N (op) ...". */
static void patch_op_fail(const patch_op_t *op, err_t *err, err_code_t code,
                          const char *fmt, ...)
{
    char why[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (code == ERR_INVALID)
        err_set(err, code,
                "The JSON patch operation %zu (%s) does not apply: %s.",
                op->num, patch_op_names[op->kind], why);
    else
        err_set(err, code, "The JSON patch operation %zu (%s) %s.", op->num,
                patch_op_names[op->kind], why);
}

/*
 * Where the last token of a non-empty pointer lands: its parent container
 * and, in an array, the index.
 */
typedef struct {
    json_t *parent; /* an object or an array */
    const char *key;
    size_t keylen;
    size_t index;
    bool end; /* "-" in an array */
} patch_slot_t;

/*
 * Find the slot of `ptr` (at least one token) in `root`.  `for_add` words
 * the messages for a location that need not exist yet.  Returns 0, or -1
 * with the error reported.
 */
static int patch_slot_find(json_t *root, const patch_op_t *op,
                           const patch_ptr_t *ptr, const char *text,
                           bool for_add, patch_slot_t *slot, err_t *err)
{
    json_t *cur = root;
    size_t i, n = ptr->ntok - 1, idx = 0;
    const char *tok;
    patch_index_t ix;

    assert(ptr->ntok > 0);
    for (i = 0; i < n && cur; i++) {
        tok = patch_ptr_tok(ptr, i);
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, tok, ptr->len[i]);
        } else if (json_is_array(cur)) {
            ix = patch_index_parse(tok, ptr->len[i], &idx);
            if (ix == PATCH_INDEX_OVERFLOW) {
                patch_op_fail(op, err, ERR_BAD_REQUEST,
                              "has an array index in %s that is too large",
                              text);
                return -1;
            }
            cur = ix == PATCH_INDEX_OK ? json_array_get(cur, idx) : NULL;
        } else {
            cur = NULL;
        }
    }
    if (!cur || !(json_is_object(cur) || json_is_array(cur))) {
        if (for_add)
            patch_op_fail(op, err, ERR_INVALID,
                          "the parent of the path %s does not exist", text);
        else
            patch_op_fail(op, err, ERR_INVALID,
                          "the path %s does not exist", text);
        return -1;
    }
    memset(slot, 0, sizeof(*slot));
    slot->parent = cur;
    tok = patch_ptr_tok(ptr, n);
    if (json_is_object(cur)) {
        slot->key = tok;
        slot->keylen = ptr->len[n];
        return 0;
    }
    ix = patch_index_parse(tok, ptr->len[n], &slot->index);
    switch (ix) {
    case PATCH_INDEX_OK:
        return 0;
    case PATCH_INDEX_END:
        slot->end = true;
        return 0;
    case PATCH_INDEX_OVERFLOW:
        patch_op_fail(op, err, ERR_BAD_REQUEST,
                      "has an array index in %s that is too large", text);
        return -1;
    default:
        patch_op_fail(op, err, ERR_INVALID,
                      "the path %s does not name an element of the array "
                      "there",
                      text);
        return -1;
    }
}

/* The value in an existing slot, or NULL. */
static json_t *patch_slot_get(const patch_slot_t *slot)
{
    if (json_is_object(slot->parent))
        return json_object_getn(slot->parent, slot->key, slot->keylen);
    if (slot->end)
        return NULL;
    return json_array_get(slot->parent, slot->index);
}

/* The value `ptr` names, or NULL with "does not exist" reported. */
static json_t *patch_get(patch_run_t *run, const patch_op_t *op,
                         const patch_ptr_t *ptr, const char *text)
{
    patch_slot_t slot;
    json_t *v;

    if (ptr->ntok == 0)
        return run->root;
    if (patch_slot_find(run->root, op, ptr, text, false, &slot, run->err) < 0)
        return NULL;
    v = patch_slot_get(&slot);
    if (!v)
        patch_op_fail(op, run->err, ERR_INVALID, "the path %s does not exist",
                      text);
    return v;
}

/* Refuse a value that would nest the document deeper than JSON_MAX_DEPTH. */
static int patch_check_depth(patch_run_t *run, const patch_op_t *op,
                             const json_t *value)
{
    int depth = json_depth(value, JSON_MAX_DEPTH + 1);

    if (op->path.ntok + (size_t)depth > JSON_MAX_DEPTH) {
        patch_op_fail(op, run->err, ERR_INVALID,
                      "the value at %s would nest the document deeper than "
                      "%d levels",
                      op->path_text, JSON_MAX_DEPTH);
        return -1;
    }
    return 0;
}

/* Add `value` (stolen) at op->path, the RFC 6902 "add". */
static int patch_add(patch_run_t *run, const patch_op_t *op, json_t *value)
{
    patch_slot_t slot;
    size_t size;

    if (op->path.ntok == 0) {
        json_decref(run->root);
        run->root = value;
        return 0;
    }
    if (patch_slot_find(run->root, op, &op->path, op->path_text, true, &slot,
                        run->err) < 0) {
        json_decref(value);
        return -1;
    }
    if (json_is_object(slot.parent)) {
        json_object_setn_new(slot.parent, slot.key, slot.keylen, value);
        return 0;
    }
    size = json_array_size(slot.parent);
    if (slot.end) {
        json_array_append_new(slot.parent, value);
        return 0;
    }
    if (slot.index > size) {
        json_decref(value);
        patch_op_fail(op, run->err, ERR_INVALID,
                      "the index in %s is beyond the end of an array of %zu "
                      "elements",
                      op->path_text, size);
        return -1;
    }
    json_array_insert_new(slot.parent, slot.index, value);
    return 0;
}

/* Remove the value at `ptr` and return it (the caller owns it). */
static json_t *patch_take(patch_run_t *run, const patch_op_t *op,
                          const patch_ptr_t *ptr, const char *text)
{
    patch_slot_t slot;
    json_t *v;

    if (ptr->ntok == 0) {
        patch_op_fail(op, run->err, ERR_INVALID,
                      "the whole document cannot be removed");
        return NULL;
    }
    if (patch_slot_find(run->root, op, ptr, text, false, &slot, run->err) < 0)
        return NULL;
    v = patch_slot_get(&slot);
    if (!v) {
        patch_op_fail(op, run->err, ERR_INVALID, "the path %s does not exist",
                      text);
        return NULL;
    }
    json_incref(v);
    if (json_is_object(slot.parent))
        json_object_deln(slot.parent, slot.key, slot.keylen);
    else
        json_array_remove(slot.parent, slot.index);
    return v;
}

static int patch_replace(patch_run_t *run, const patch_op_t *op)
{
    patch_slot_t slot;
    json_t *value = json_deep_copy(op->value);

    if (patch_check_depth(run, op, value) < 0)
        goto fail;
    if (op->path.ntok == 0) {
        json_decref(run->root);
        run->root = value;
        return 0;
    }
    if (patch_slot_find(run->root, op, &op->path, op->path_text, false, &slot,
                        run->err) < 0)
        goto fail;
    if (!patch_slot_get(&slot)) {
        patch_op_fail(op, run->err, ERR_INVALID, "the path %s does not exist",
                      op->path_text);
        goto fail;
    }
    if (json_is_object(slot.parent))
        json_object_setn_new(slot.parent, slot.key, slot.keylen, value);
    else
        json_array_set_new(slot.parent, slot.index, value);
    return 0;
fail:
    json_decref(value);
    return -1;
}

static int patch_move(patch_run_t *run, const patch_op_t *op)
{
    json_t *v;

    if (patch_ptr_equal(&op->from, &op->path))
        return patch_get(run, op, &op->from, op->from_text) ? 0 : -1;
    if (patch_ptr_is_proper_prefix(&op->from, &op->path)) {
        patch_op_fail(op, run->err, ERR_INVALID,
                      "the path %s lies inside %s, the value it moves",
                      op->path_text, op->from_text);
        return -1;
    }
    v = patch_take(run, op, &op->from, op->from_text);
    if (!v)
        return -1;
    /* Only a move to a deeper path can nest the document deeper. */
    if (op->path.ntok > op->from.ntok && patch_check_depth(run, op, v) < 0) {
        json_decref(v);
        return -1;
    }
    return patch_add(run, op, v);
}

/* Count the values in v, stopping once the count passes `limit`. */
static size_t patch_count_values(const json_t *v, size_t limit)
{
    size_t n = 1, i;
    const char *key;
    json_t *m;

    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, m) {
            if (n > limit)
                break;
            n += patch_count_values(m, limit - n);
        }
    } else if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v) && n <= limit; i++)
            n += patch_count_values(json_array_get(v, i), limit - n);
    }
    return n;
}

static int patch_copy(patch_run_t *run, const patch_op_t *op)
{
    json_t *v = patch_get(run, op, &op->from, op->from_text);
    size_t left = PATCH_MAX_COPY_NODES - run->copied;

    if (!v)
        return -1;
    run->copied += patch_count_values(v, left);
    if (run->copied > PATCH_MAX_COPY_NODES) {
        patch_op_fail(op, run->err, ERR_TOO_LARGE,
                      "would bring the values copied by the patch past %u",
                      PATCH_MAX_COPY_NODES);
        return -1;
    }
    if (patch_check_depth(run, op, v) < 0)
        return -1;
    return patch_add(run, op, json_deep_copy(v));
}

static int patch_test(patch_run_t *run, const patch_op_t *op)
{
    json_t *v = patch_get(run, op, &op->path, op->path_text);

    if (!v)
        return -1;
    if (!patch_value_equal(v, op->value)) {
        patch_op_fail(op, run->err, ERR_INVALID,
                      "the value at %s is not the expected value",
                      op->path_text);
        return -1;
    }
    return 0;
}

static int patch_op_run(patch_run_t *run, const patch_op_t *op)
{
    json_t *v;

    switch (op->kind) {
    case PATCH_OP_ADD:
        if (patch_check_depth(run, op, op->value) < 0)
            return -1;
        return patch_add(run, op, json_deep_copy(op->value));
    case PATCH_OP_REMOVE:
        v = patch_take(run, op, &op->path, op->path_text);
        json_decref(v);
        return v ? 0 : -1;
    case PATCH_OP_REPLACE:
        return patch_replace(run, op);
    case PATCH_OP_MOVE:
        return patch_move(run, op);
    case PATCH_OP_COPY:
        return patch_copy(run, op);
    case PATCH_OP_TEST:
        return patch_test(run, op);
    default:
        assert(!"unknown JSON patch operation");
        return -1;
    }
}

json_t *patch_json_apply(const json_t *doc, const json_t *patch, err_t *err)
{
    patch_run_t run = {NULL, 0, err};
    patch_op_t *ops = NULL;
    size_t nops = 0, i;

    assert(doc);
    if (!json_is_array(patch)) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch is not an array of operations.");
        goto cleanup;
    }
    if (json_array_size(patch) > PATCH_MAX_OPS) {
        err_set(err, ERR_BAD_REQUEST,
                "The JSON patch has %zu operations; at most %d are allowed.",
                json_array_size(patch), PATCH_MAX_OPS);
        goto cleanup;
    }
    nops = json_array_size(patch);
    ops = g_new0(patch_op_t, nops);
    for (i = 0; i < nops; i++) {
        if (patch_op_parse(&ops[i], json_array_get(patch, i), i + 1, err) < 0)
            goto cleanup;
    }
    run.root = json_deep_copy(doc);
    for (i = 0; i < nops; i++) {
        if (patch_op_run(&run, &ops[i]) < 0) {
            json_decref(run.root);
            run.root = NULL;
            goto cleanup;
        }
    }
cleanup:
    for (i = 0; i < nops; i++) {
        patch_ptr_clear(&ops[i].path);
        patch_ptr_clear(&ops[i].from);
    }
    g_free(ops);
    return run.root;
}

/* ------------------------------------------------------------------------ */
/* JSON Merge Patch (RFC 7386)                                              */
/* ------------------------------------------------------------------------ */

/* MergePatch(target, patch) of RFC 7386 section 2, in place on target. */
static void patch_merge_into(json_t *target, const json_t *patch)
{
    const char *key;
    size_t klen;
    json_t *v, *cur;

    json_object_keylen_foreach((json_t *)patch, key, klen, v) {
        if (json_is_null(v)) {
            json_object_deln(target, key, klen);
        } else if (json_is_object(v)) {
            cur = json_object_getn(target, key, klen);
            if (!json_is_object(cur)) {
                cur = json_object();
                json_object_setn_new_nocheck(target, key, klen, cur);
            }
            patch_merge_into(cur, v);
        } else {
            json_object_setn_new_nocheck(target, key, klen, json_deep_copy(v));
        }
    }
}

json_t *patch_merge_apply(const json_t *doc, const json_t *patch, err_t *err)
{
    json_t *out;

    assert(patch);
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    out = json_is_object(doc) ? json_deep_copy(doc) : json_object();
    patch_merge_into(out, patch);
    return out;
}

/* ------------------------------------------------------------------------ */
/* Strategic merge patch                                                    */
/* ------------------------------------------------------------------------ */

#define SMP_PATCH "$patch"
#define SMP_RETAIN_KEYS "$retainKeys"
#define SMP_DELETE_PRIMITIVE "$deleteFromPrimitiveList/"
#define SMP_ORDER "$setElementOrder/"

/* State of one patch_strategic_apply call. */
typedef struct {
    err_t *err;
    GString *where; /* field path of the patch value at hand, for messages */
} smp_ctx_t;

/* How a list field merges. */
typedef struct {
    bool merge;      /* merge with the original, else replace it */
    const char *key; /* merge key of a list of objects, or NULL */
} smp_list_t;

static void smp_fail(smp_ctx_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report a malformed patch: "The strategic merge patch <what> at <field>." */
static void smp_fail(smp_ctx_t *c, const char *fmt, ...)
{
    char what[640];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (c->where->len > 0)
        err_set(c->err, ERR_BAD_REQUEST,
                "The strategic merge patch %s at %.256s.", what,
                c->where->str);
    else
        err_set(c->err, ERR_BAD_REQUEST, "The strategic merge patch %s.",
                what);
}

static size_t smp_enter_key(smp_ctx_t *c, const char *key, size_t klen)
{
    size_t mark = c->where->len;

    if (mark > 0)
        g_string_append_c(c->where, '.');
    g_string_append_len(c->where, key, (gssize)klen);
    return mark;
}

static size_t smp_enter_index(smp_ctx_t *c, size_t i)
{
    size_t mark = c->where->len;

    g_string_append_printf(c->where, "[%zu]", i);
    return mark;
}

static void smp_leave(smp_ctx_t *c, size_t mark)
{
    g_string_truncate(c->where, mark);
}

static bool smp_has_prefix(const char *key, size_t klen, const char *prefix)
{
    size_t n = strlen(prefix);

    return klen >= n && memcmp(key, prefix, n) == 0;
}

/* True for the members of a patch map that are directives, not fields. */
static bool smp_is_directive(const char *key, size_t klen)
{
    return (klen == strlen(SMP_PATCH) && strcmp(key, SMP_PATCH) == 0) ||
           (klen == strlen(SMP_RETAIN_KEYS) &&
            strcmp(key, SMP_RETAIN_KEYS) == 0) ||
           smp_has_prefix(key, klen, SMP_DELETE_PRIMITIVE) ||
           smp_has_prefix(key, klen, SMP_ORDER);
}

/* The patch member "<prefix><field>", or NULL. */
static const json_t *smp_directive_for(const json_t *patch, const char *prefix,
                                       const char *field, size_t flen)
{
    size_t plen = strlen(prefix);
    char *name = g_malloc(plen + flen);
    const json_t *v;

    memcpy(name, prefix, plen);
    memcpy(name + plen, field, flen);
    v = json_object_getn(patch, name, plen + flen);
    g_free(name);
    return v;
}

/* Schema of member `key` of an object described by `schema`, or NULL. */
static const json_t *smp_schema_member(const json_t *schema, const char *key,
                                       size_t klen)
{
    const json_t *v, *more;

    if (!json_is_object(schema))
        return NULL;
    v = json_object_getn(json_object_get(schema, "properties"), key, klen);
    if (json_is_object(v))
        return v;
    more = json_object_get(schema, "additionalProperties");
    return json_is_object(more) ? more : NULL;
}

/* Schema of the elements of a list described by `schema`, or NULL. */
static const json_t *smp_schema_items(const json_t *schema)
{
    const json_t *items = json_object_get(schema, "items");

    return json_is_object(items) ? items : NULL;
}

/* True when the comma-separated patch strategy names `word`. */
static bool smp_strategy_has(const json_t *schema, const char *word)
{
    const char *s = json_string_value(
        json_object_get(schema, "x-kubernetes-patch-strategy"));
    size_t n = strlen(word);

    while (s && *s) {
        size_t len;

        while (*s == ' ' || *s == ',')
            s++;
        len = strcspn(s, ", ");
        if (len == n && memcmp(s, word, n) == 0)
            return true;
        s += len;
    }
    return false;
}

static smp_list_t smp_list_strategy(const json_t *schema)
{
    smp_list_t how = {false, NULL};
    const char *strategy = json_string_value(
        json_object_get(schema, "x-kubernetes-patch-strategy"));
    const char *type =
        json_string_value(json_object_get(schema, "x-kubernetes-list-type"));
    const char *mkey = json_string_value(
        json_object_get(schema, "x-kubernetes-patch-merge-key"));
    const char *lkey = json_string_value(json_array_get(
        json_object_get(schema, "x-kubernetes-list-map-keys"), 0));

    how.key = mkey ? mkey : lkey;
    if (strategy)
        how.merge = smp_strategy_has(schema, "merge");
    else if (type && strcmp(type, "map") == 0)
        how.merge = how.key != NULL;
    else if (type && strcmp(type, "set") == 0)
        how.merge = true;
    if (type && strcmp(type, "set") == 0 && !mkey)
        how.key = NULL;
    return how;
}

/* What identifies a list element: its merge key value, or the element. */
static const json_t *smp_ident(const json_t *elem, const char *key)
{
    const json_t *v;

    if (!key)
        return elem;
    v = json_object_get(elem, key);
    return json_is_null(v) ? NULL : v;
}

/* An index of the elements of `list` by identity. */
static GHashTable *smp_index_list(const json_t *list, const char *key)
{
    GHashTable *idx = patch_index_new();
    size_t i;

    for (i = 0; i < json_array_size(list); i++)
        patch_index_add(idx, smp_ident(json_array_get(list, i), key), i);
    return idx;
}

/* An element of a patch list is a directive when it is a map with $patch. */
static bool smp_is_directive_elem(const json_t *elem)
{
    return json_is_object(elem) && json_object_get(elem, SMP_PATCH);
}

/* A list element that is merged like data ("$patch": "merge" aside). */
static bool smp_is_item(const json_t *elem)
{
    const char *d;

    if (!smp_is_directive_elem(elem))
        return true;
    d = json_string_value(json_object_get(elem, SMP_PATCH));
    return d && strcmp(d, "merge") == 0 && json_object_size(elem) > 1;
}

static int smp_map_into(json_t *target, const json_t *patch,
                        const json_t *schema, smp_ctx_t *c, bool *deleted);
static json_t *smp_list(json_t *cur, const json_t *patch,
                        const json_t *schema, const json_t *order,
                        smp_ctx_t *c);

/* The patch value applied to nothing: a fresh value without directives. */
static json_t *smp_fresh(const json_t *patch, const json_t *schema,
                         smp_ctx_t *c)
{
    json_t *out;
    bool deleted = false;

    if (json_is_array(patch))
        return smp_list(NULL, patch, schema, NULL, c);
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    out = json_object();
    if (smp_map_into(out, patch, schema, c, &deleted) < 0) {
        json_decref(out);
        return NULL;
    }
    /* Callers never pass a map that deletes itself. */
    assert(!deleted);
    return out;
}

/* Rank of an element in the order a list must take. */
typedef struct {
    size_t rank; /* position in the order list */
    size_t pos;  /* position in the merged list */
} smp_rank_t;

static int smp_rank_cmp(const void *a, const void *b)
{
    const smp_rank_t *x = a, *y = b;

    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * Put `list` (stolen) in order: the elements that `order` names take its
 * order; the others keep theirs, and each goes before a named element when
 * it came before it in `server`, the list as stored.  Returns a new list.
 */
static json_t *smp_order(json_t *list, const json_t *order,
                         const json_t *server, const char *key)
{
    size_t n = json_array_size(list), nl = 0, nr = 0, a = 0, b = 0, i;
    GHashTable *opos = smp_index_list(order, key);
    GHashTable *spos = smp_index_list(server, key);
    smp_rank_t *right = g_new(smp_rank_t, n);
    size_t *left = g_new(size_t, n);
    json_t *out = json_array();

    for (i = 0; i < n; i++) {
        size_t rank;

        if (patch_index_find(opos, smp_ident(json_array_get(list, i), key),
                             &rank))
            right[nr++] = (smp_rank_t){rank, i};
        else
            left[nl++] = i;
    }
    if (nr > 1)
        qsort(right, nr, sizeof(*right), smp_rank_cmp);
    while (a < nl || b < nr) {
        bool take_left = b >= nr;

        if (a < nl && b < nr) {
            size_t ls, rs;

            take_left =
                patch_index_find(spos,
                                 smp_ident(json_array_get(list, left[a]), key),
                                 &ls) &&
                patch_index_find(
                    spos, smp_ident(json_array_get(list, right[b].pos), key),
                    &rs) &&
                ls < rs;
        }
        if (take_left)
            json_array_append(out, json_array_get(list, left[a++]));
        else
            json_array_append(out, json_array_get(list, right[b++].pos));
    }
    g_free(left);
    g_free(right);
    g_hash_table_destroy(opos);
    g_hash_table_destroy(spos);
    json_decref(list);
    return out;
}

/* $setElementOrder must name the patch's elements, in the patch's order. */
static int smp_check_order(const json_t *items, const json_t *order,
                           const char *key, smp_ctx_t *c)
{
    GHashTable *opos = smp_index_list(order, key);
    size_t i, rank = 0, prev = 0;
    int rc = 0;

    for (i = 0; i < json_array_size(items); i++) {
        if (!patch_index_find(opos, smp_ident(json_array_get(items, i), key),
                              &rank) ||
            (i > 0 && rank <= prev)) {
            smp_fail(c, "has a $setElementOrder directive that does not list "
                        "the elements of the patch in the patch's order");
            rc = -1;
            break;
        }
        prev = rank;
    }
    g_hash_table_destroy(opos);
    return rc;
}

/* Merge the patch elements `items` into `out` by the merge key, in place. */
static int smp_merge_keyed(json_t *out, const json_t *patch,
                           const json_t *items_schema, const char *key,
                           smp_ctx_t *c)
{
    GHashTable *pos = smp_index_list(out, key);
    size_t i, at, mark;
    int rc = 0;

    for (i = 0; i < json_array_size(patch) && rc == 0; i++) {
        const json_t *item = json_array_get(patch, i);
        const json_t *kv;
        bool deleted = false;

        if (!smp_is_item(item))
            continue;
        mark = smp_enter_index(c, i);
        kv = json_is_object(item) ? smp_ident(item, key) : NULL;
        if (!json_is_object(item)) {
            smp_fail(c, "has an element that is not a map in a list merged "
                        "by the key \"%s\"",
                     key);
            rc = -1;
        } else if (!kv) {
            smp_fail(c, "has an element without its merge key \"%s\"", key);
            rc = -1;
        } else if (patch_index_find(pos, kv, &at)) {
            rc = smp_map_into(json_array_get(out, at), item, items_schema, c,
                              &deleted);
            assert(!deleted); /* delete elements are not items */
        } else {
            json_t *fresh = smp_fresh(item, items_schema, c);

            if (fresh) {
                json_array_append_new(out, fresh);
                patch_index_add(pos, smp_ident(fresh, key),
                                json_array_size(out) - 1);
            } else {
                rc = -1;
            }
        }
        smp_leave(c, mark);
    }
    g_hash_table_destroy(pos);
    return rc;
}

/* Add to the set `out` the patch elements it lacks, in place. */
static int smp_merge_set(json_t *out, const json_t *patch,
                         const json_t *items_schema, smp_ctx_t *c)
{
    GHashTable *seen = smp_index_list(out, NULL);
    size_t i, mark;
    int rc = 0;

    for (i = 0; i < json_array_size(patch) && rc == 0; i++) {
        const json_t *item = json_array_get(patch, i);
        json_t *fresh;

        if (!smp_is_item(item))
            continue;
        mark = smp_enter_index(c, i);
        fresh = smp_fresh(item, items_schema, c);
        if (!fresh) {
            rc = -1;
        } else if (patch_index_find(seen, fresh, NULL)) {
            json_decref(fresh);
        } else {
            json_array_append_new(out, fresh);
            patch_index_add(seen, fresh, json_array_size(out) - 1);
        }
        smp_leave(c, mark);
    }
    g_hash_table_destroy(seen);
    return rc;
}

/* Elements of `list` whose identity is not in `drop`, or the first of equal
 * ones when `dedupe`; a new list sharing the elements. */
static json_t *smp_filter(const json_t *list, const char *key,
                          GHashTable *drop, bool dedupe)
{
    GHashTable *seen = dedupe ? patch_index_new() : NULL;
    json_t *out = json_array();
    size_t i;

    for (i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        const json_t *id = smp_ident(e, key);

        if (drop && patch_index_find(drop, id, NULL))
            continue;
        if (seen && id) {
            if (patch_index_find(seen, id, NULL))
                continue;
            patch_index_add(seen, id, i);
        }
        json_array_append(out, e);
    }
    if (seen)
        g_hash_table_destroy(seen);
    return out;
}

/*
 * Apply the patch list `patch` to `cur`, the list in the work tree (NULL
 * when absent), under the field schema `schema`.  `order` is the field's
 * $setElementOrder list or NULL.  Returns the new list; elements of `cur`
 * may be reused and changed in place.
 */
static json_t *smp_list(json_t *cur, const json_t *patch,
                        const json_t *schema, const json_t *order,
                        smp_ctx_t *c)
{
    smp_list_t how = smp_list_strategy(schema);
    const json_t *items_schema = smp_schema_items(schema);
    json_t *items = json_array(); /* the patch's data elements */
    GHashTable *dels = patch_index_new(); /* keys to delete */
    json_t *out = NULL, *result = NULL;
    bool replace = !how.merge;
    size_t i, mark;

    for (i = 0; i < json_array_size(patch); i++) {
        const json_t *e = json_array_get(patch, i);
        const char *d;

        if (smp_is_item(e)) {
            json_array_append(items, (json_t *)e);
            continue;
        }
        d = json_string_value(json_object_get(e, SMP_PATCH));
        mark = smp_enter_index(c, i);
        if (d && strcmp(d, "replace") == 0) {
            replace = true;
        } else if (d && strcmp(d, "delete") == 0) {
            if (how.merge && !how.key) {
                smp_fail(c, "has a $patch: delete element in a list without "
                            "a merge key; use $deleteFromPrimitiveList");
                goto cleanup;
            }
            if (how.merge && !smp_ident(e, how.key)) {
                smp_fail(c, "has a $patch: delete element without the merge "
                            "key \"%s\"",
                         how.key);
                goto cleanup;
            }
            if (how.merge)
                patch_index_add(dels, smp_ident(e, how.key), i);
        } else if (!d || strcmp(d, "merge") != 0) {
            smp_fail(c, "has an unknown $patch directive in a list element; "
                        "it must be replace, delete or merge");
            goto cleanup;
        }
        smp_leave(c, mark);
    }
    if (order && smp_check_order(items, order, how.key, c) < 0)
        goto cleanup;

    if (replace) {
        out = json_array();
        for (i = 0; i < json_array_size(patch); i++) {
            json_t *fresh;

            if (!smp_is_item(json_array_get(patch, i)))
                continue;
            mark = smp_enter_index(c, i);
            fresh = smp_fresh(json_array_get(patch, i), items_schema, c);
            smp_leave(c, mark);
            if (!fresh)
                goto cleanup;
            json_array_append_new(out, fresh);
        }
    } else {
        out = smp_filter(cur, how.key, dels, !how.key);
        if (how.key ? smp_merge_keyed(out, patch, items_schema, how.key, c)
                    : smp_merge_set(out, patch, items_schema, c))
            goto cleanup;
    }
    if (order || !replace)
        out = smp_order(out, order ? order : items, cur, how.key);
    result = out;
    out = NULL;
cleanup:
    json_decref(out);
    json_decref(items);
    g_hash_table_destroy(dels);
    return result;
}

/* Check the values of the directive members of a patch map. */
static int smp_check_directives(const json_t *patch, smp_ctx_t *c)
{
    const json_t *retain = json_object_get(patch, SMP_RETAIN_KEYS);
    const char *key;
    size_t klen, i;
    json_t *v;

    if (retain) {
        bool ok = json_is_array(retain);

        for (i = 0; ok && i < json_array_size(retain); i++)
            ok = json_is_string(json_array_get(retain, i));
        if (!ok) {
            smp_fail(c, "has a $retainKeys directive that is not a list of "
                        "field names");
            return -1;
        }
    }
    json_object_keylen_foreach((json_t *)patch, key, klen, v) {
        if ((smp_has_prefix(key, klen, SMP_DELETE_PRIMITIVE) ||
             smp_has_prefix(key, klen, SMP_ORDER)) &&
            !json_is_array(v)) {
            smp_fail(c, "has a directive %.128s that is not a list", key);
            return -1;
        }
    }
    return 0;
}

/* $retainKeys: drop the members of target that the directive does not
 * name; every member the patch sets must be named. */
static int smp_retain_keys(json_t *target, const json_t *patch, smp_ctx_t *c)
{
    const json_t *retain = json_object_get(patch, SMP_RETAIN_KEYS);
    GHashTable *keep;
    const char *key;
    size_t klen;
    json_t *v, *name;
    void *tmp;
    int rc = 0;

    if (!retain)
        return 0;
    keep = smp_index_list(retain, NULL);
    json_object_keylen_foreach((json_t *)patch, key, klen, v) {
        bool named;

        if (json_is_null(v) || smp_is_directive(key, klen))
            continue;
        name = json_stringn_nocheck(key, klen);
        named = patch_index_find(keep, name, NULL);
        json_decref(name);
        if (!named) {
            smp_fail(c, "sets the field \"%.128s\" that its $retainKeys "
                        "directive does not list",
                     key);
            rc = -1;
            goto cleanup;
        }
    }
    json_object_keylen_foreach_safe(target, tmp, key, klen, v) {
        bool named;

        name = json_stringn_nocheck(key, klen);
        named = patch_index_find(keep, name, NULL);
        json_decref(name);
        if (!named)
            json_object_deln(target, key, klen);
    }
cleanup:
    g_hash_table_destroy(keep);
    return rc;
}

/* $deleteFromPrimitiveList/<field>: remove the listed values from field. */
static void smp_delete_from_lists(json_t *target, const json_t *patch)
{
    size_t plen = strlen(SMP_DELETE_PRIMITIVE), klen;
    const char *key;
    json_t *v;

    json_object_keylen_foreach((json_t *)patch, key, klen, v) {
        json_t *list;
        GHashTable *drop;

        if (!smp_has_prefix(key, klen, SMP_DELETE_PRIMITIVE))
            continue;
        list = json_object_getn(target, key + plen, klen - plen);
        if (!json_is_array(list))
            continue;
        drop = smp_index_list(v, NULL);
        json_object_setn_new_nocheck(target, key + plen, klen - plen,
                                     smp_filter(list, NULL, drop, false));
        g_hash_table_destroy(drop);
    }
}

/* $setElementOrder/<field> for lists the patch does not otherwise touch. */
static void smp_order_untouched(json_t *target, const json_t *patch,
                                const json_t *schema)
{
    size_t plen = strlen(SMP_ORDER), klen;
    const char *key;
    json_t *v;

    json_object_keylen_foreach((json_t *)patch, key, klen, v) {
        const char *field = key + plen;
        size_t flen = klen - plen;
        json_t *list;
        smp_list_t how;

        if (!smp_has_prefix(key, klen, SMP_ORDER) ||
            json_object_getn(patch, field, flen))
            continue;
        list = json_object_getn(target, field, flen);
        if (!json_is_array(list))
            continue;
        how = smp_list_strategy(smp_schema_member(schema, field, flen));
        json_object_setn_new_nocheck(
            target, field, flen,
            smp_order(json_incref(list), v, list, how.key));
    }
}

/* Apply the patch value `v` of member `key` to target, in place. */
static int smp_member(json_t *target, const json_t *patch, const char *key,
                      size_t klen, const json_t *v, const json_t *schema,
                      smp_ctx_t *c)
{
    const json_t *fs = smp_schema_member(schema, key, klen);
    json_t *cur = json_object_getn(target, key, klen);
    json_t *nv = NULL;
    bool deleted = false;

    if (json_is_null(v)) {
        json_object_deln(target, key, klen);
        return 0;
    }
    if (json_is_object(v)) {
        if (json_is_object(cur) && !smp_strategy_has(fs, "replace")) {
            if (smp_map_into(cur, v, fs, c, &deleted) < 0)
                return -1;
        } else {
            nv = json_object();
            if (smp_map_into(nv, v, fs, c, &deleted) < 0) {
                json_decref(nv);
                return -1;
            }
        }
    } else if (json_is_array(v)) {
        nv = smp_list(json_is_array(cur) ? cur : NULL, v, fs,
                      smp_directive_for(patch, SMP_ORDER, key, klen), c);
        if (!nv)
            return -1;
    } else {
        nv = json_deep_copy(v);
    }
    if (deleted) {
        json_decref(nv);
        json_object_deln(target, key, klen);
    } else if (nv) {
        json_object_setn_new_nocheck(target, key, klen, nv);
    }
    return 0;
}

/*
 * Apply the patch map `patch` to the map `target` of the work tree, in
 * place.  Sets *deleted (and empties target) for "$patch": "delete".
 */
static int smp_map_into(json_t *target, const json_t *patch,
                        const json_t *schema, smp_ctx_t *c, bool *deleted)
{
    const json_t *directive = json_object_get(patch, SMP_PATCH);
    const char *key;
    size_t klen;
    json_t *v;

    *deleted = false;
    if (directive) {
        const char *d = json_string_value(directive);

        if (d && strcmp(d, "delete") == 0) {
            json_object_clear(target);
            *deleted = true;
            return 0;
        }
        if (d && strcmp(d, "replace") == 0) {
            json_object_clear(target);
        } else if (!d || strcmp(d, "merge") != 0) {
            smp_fail(c, "has an unknown $patch directive; it must be "
                        "replace, delete or merge");
            return -1;
        }
    }
    if (smp_check_directives(patch, c) < 0 ||
        smp_retain_keys(target, patch, c) < 0)
        return -1;
    smp_delete_from_lists(target, patch);
    json_object_keylen_foreach((json_t *)patch, key, klen, v) {
        size_t mark;
        int rc;

        if (smp_is_directive(key, klen))
            continue;
        mark = smp_enter_key(c, key, klen);
        rc = smp_member(target, patch, key, klen, v, schema, c);
        smp_leave(c, mark);
        if (rc < 0)
            return -1;
    }
    smp_order_untouched(target, patch, schema);
    return 0;
}

json_t *patch_strategic_apply(const json_t *doc, const json_t *patch,
                              const json_t *schema, err_t *err)
{
    smp_ctx_t c = {err, NULL};
    json_t *out = NULL;
    bool deleted;

    if (!json_is_object(patch)) {
        err_set(err, ERR_BAD_REQUEST,
                "The strategic merge patch is not a JSON object.");
        return NULL;
    }
    c.where = g_string_new(NULL);
    out = json_is_object(doc) ? json_deep_copy(doc) : json_object();
    if (smp_map_into(out, patch, schema, &c, &deleted) < 0) {
        json_decref(out);
        out = NULL;
    }
    g_string_free(c.where, TRUE);
    return out;
}
