/*
 * Unit tests for model/patch: RFC 6902 JSON Patch (every operation, JSON
 * pointer edge cases, atomicity, limits), RFC 7386 JSON Merge Patch (the
 * examples of its appendix) and the Kubernetes strategic merge patch (keyed
 * lists, sets, directives) over small hand-written schemas.
 *
 * Every successful application is also checked to leave its inputs as they
 * were and to return a document that shares no value with them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "model/patch.h"
#include "util/jsonutil.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

/* A JSON value from text in which ' stands for " (must parse). */
static json_t *J(const char *text)
{
    char *t = g_strdup(text);
    json_error_t je;
    json_t *v;

    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    v = json_loads(t, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", je.text, t);
    g_free(t);
    return v;
}

/* Record every container and scalar node of v (not the jansson singletons
 * true, false and null, which are shared by design). */
static void collect_nodes(const json_t *v, GHashTable *seen)
{
    const char *k;
    json_t *c;
    size_t i;

    if (json_is_true(v) || json_is_false(v) || json_is_null(v))
        return;
    g_hash_table_add(seen, (gpointer)v);
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c)
            collect_nodes(c, seen);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c)
            collect_nodes(c, seen);
    }
}

static bool shares_node(const json_t *v, GHashTable *seen)
{
    const char *k;
    json_t *c;
    size_t i;

    if (g_hash_table_contains(seen, v))
        return true;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, c)
            if (shares_node(c, seen))
                return true;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c)
            if (shares_node(c, seen))
                return true;
    }
    return false;
}

/* The result shares no value with doc or patch. */
static void assert_independent(const json_t *out, const json_t *doc, const json_t *patch)
{
    GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);

    collect_nodes(doc, seen);
    collect_nodes(patch, seen);
    if (shares_node(out, seen))
        fail_msg("the result shares a value with its inputs");
    g_hash_table_destroy(seen);
}

static void assert_json_equal(const json_t *got, const json_t *want)
{
    if (!json_equal((json_t *)got, (json_t *)want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        fail_msg("got %s, want %s", g ? g : "NULL", w);
    }
}

/* Same, and the same member order in every object (for list orders it does
 * not matter; for lists json_equal already compares in order). */
static void assert_json_text(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

    if (!g || strcmp(g, w) != 0)
        fail_msg("got %s, want %s", g ? g : "NULL", w);
    free(g);
    free(w);
    json_decref(want);
}

typedef json_t *(*apply_fn)(const json_t *doc, const json_t *patch, const json_t *schema,
                            err_t *err);

static json_t *apply_json(const json_t *d, const json_t *p, const json_t *s, err_t *e)
{
    return patch_json_apply(d, p, e);
}

static json_t *apply_merge(const json_t *d, const json_t *p, const json_t *s, err_t *e)
{
    return patch_merge_apply(d, p, e);
}

static json_t *apply_smp(const json_t *d, const json_t *p, const json_t *s, err_t *e)
{
    return patch_strategic_apply(d, p, s, e);
}

/* Apply and compare with `want`; the inputs must be left as they were. */
static void check_ok(apply_fn fn, const char *doc_text, const char *patch_text,
                     const json_t *schema, const char *want_text)
{
    json_t *doc = J(doc_text), *patch = J(patch_text);
    json_t *doc_copy = json_deep_copy(doc), *patch_copy = json_deep_copy(patch);
    err_t err = ERR_INIT;
    json_t *out = fn(doc, patch, schema, &err);

    if (!out)
        fail_msg("patch %s on %s failed: %s", patch_text, doc_text, err.msg);
    assert_false(err_is_set(&err));
    assert_json_text(out, want_text);
    assert_json_equal(doc, doc_copy);
    assert_json_equal(patch, patch_copy);
    assert_independent(out, doc, patch);
    json_decref(out);
    json_decref(doc);
    json_decref(patch);
    json_decref(doc_copy);
    json_decref(patch_copy);
}

/* Apply, which must fail with `code` and a message containing `part`
 * (NULL: any); the inputs must be left as they were. */
static void check_fail(apply_fn fn, const char *doc_text, const char *patch_text,
                       const json_t *schema, err_code_t code, const char *part)
{
    json_t *doc = J(doc_text), *patch = J(patch_text);
    json_t *doc_copy = json_deep_copy(doc), *patch_copy = json_deep_copy(patch);
    err_t err = ERR_INIT;
    json_t *out = fn(doc, patch, schema, &err);

    if (out) {
        char *t = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("patch %s on %s gave %s but should have failed", patch_text, doc_text, t);
    }
    if (err.code != code)
        fail_msg("patch %s: code %d, want %d (%s)", patch_text, err.code, code, err.msg);
    assert_true(strlen(err.msg) > 0);
    assert_int_equal(err.msg[strlen(err.msg) - 1], '.');
    if (part && !strstr(err.msg, part))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, part);
    assert_json_equal(doc, doc_copy);
    assert_json_equal(patch, patch_copy);
    err_clear(&err);
    json_decref(doc);
    json_decref(patch);
    json_decref(doc_copy);
    json_decref(patch_copy);
}

#define JP_OK(doc, patch, want) check_ok(apply_json, doc, patch, NULL, want)
#define JP_FAIL(doc, patch, code, part) check_fail(apply_json, doc, patch, NULL, code, part)
#define MP_OK(doc, patch, want) check_ok(apply_merge, doc, patch, NULL, want)

/* A value nested `depth` levels deep: [[[...]]] (depth 0 is 0). */
static json_t *nested_arrays(int depth)
{
    json_t *v = json_integer(0);

    for (int i = 0; i < depth; i++) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
    }
    return v;
}

/* ------------------------------------------------------------------------ */
/* JSON Patch                                                               */

static void test_json_add(void **state)
{
    JP_OK("{'a':1}", "[{'op':'add','path':'/b','value':2}]", "{'a':1,'b':2}");
    /* add over an existing member replaces it */
    JP_OK("{'a':1}", "[{'op':'add','path':'/a','value':[1]}]", "{'a':[1]}");
    JP_OK("{'a':{'x':1}}", "[{'op':'add','path':'/a/y','value':{'z':null}}]",
          "{'a':{'x':1,'y':{'z':null}}}");
    /* arrays: insert at an index, at the end by index and by "-" */
    JP_OK("{'l':[1,2]}", "[{'op':'add','path':'/l/0','value':0}]", "{'l':[0,1,2]}");
    JP_OK("{'l':[1,2]}", "[{'op':'add','path':'/l/1','value':9}]", "{'l':[1,9,2]}");
    JP_OK("{'l':[1,2]}", "[{'op':'add','path':'/l/2','value':3}]", "{'l':[1,2,3]}");
    JP_OK("{'l':[1,2]}", "[{'op':'add','path':'/l/-','value':3}]", "{'l':[1,2,3]}");
    JP_OK("{'l':[]}", "[{'op':'add','path':'/l/-','value':'x'}]", "{'l':['x']}");
    JP_OK("[]", "[{'op':'add','path':'/0','value':1}]", "[1]");
    /* the whole document */
    JP_OK("{'a':1}", "[{'op':'add','path':'','value':[1,2]}]", "[1,2]");
    JP_OK("{'a':1}", "[{'op':'add','path':'','value':'s'}]", "'s'");
    /* the empty key is a key */
    JP_OK("{'a':1}", "[{'op':'add','path':'/','value':2}]", "{'a':1,'':2}");
    /* an array-index-looking token on an object is a member name */
    JP_OK("{}", "[{'op':'add','path':'/0','value':2}]", "{'0':2}");
    JP_OK("{}", "[{'op':'add','path':'/-','value':2}]", "{'-':2}");
    /* value null is a value */
    JP_OK("{}", "[{'op':'add','path':'/n','value':null}]", "{'n':null}");
    /* an empty patch changes nothing */
    JP_OK("{'a':[1,{'b':2}]}", "[]", "{'a':[1,{'b':2}]}");

    JP_FAIL("{'l':[1,2]}", "[{'op':'add','path':'/l/3','value':3}]", ERR_INVALID,
            "beyond the end");
    JP_FAIL("{'a':1}", "[{'op':'add','path':'/x/y','value':3}]", ERR_INVALID,
            "parent of the path /x/y does not exist");
    JP_FAIL("{'a':1}", "[{'op':'add','path':'/a/y','value':3}]", ERR_INVALID,
            "does not exist");
    JP_FAIL("{'l':[1]}", "[{'op':'add','path':'/l/01','value':3}]", ERR_INVALID,
            "does not name an element");
    JP_FAIL("{'l':[1]}", "[{'op':'add','path':'/l/x','value':3}]", ERR_INVALID, NULL);
    JP_FAIL("{'l':[1]}", "[{'op':'add','path':'/l/-1','value':3}]", ERR_INVALID, NULL);
    JP_FAIL("{'l':[1]}", "[{'op':'add','path':'/l/','value':3}]", ERR_INVALID, NULL);
    JP_FAIL("{'l':[[1]]}", "[{'op':'add','path':'/l/-/0','value':3}]", ERR_INVALID,
            "parent");
}

static void test_json_remove(void **state)
{
    JP_OK("{'a':1,'b':2}", "[{'op':'remove','path':'/a'}]", "{'b':2}");
    JP_OK("{'l':[1,2,3]}", "[{'op':'remove','path':'/l/1'}]", "{'l':[1,3]}");
    JP_OK("{'l':[1,2,3]}", "[{'op':'remove','path':'/l/2'}]", "{'l':[1,2]}");
    JP_OK("{'a':{'b':{'c':1}}}", "[{'op':'remove','path':'/a/b'}]", "{'a':{}}");
    JP_OK("{'a':null}", "[{'op':'remove','path':'/a'}]", "{}");

    JP_FAIL("{'a':1}", "[{'op':'remove','path':'/b'}]", ERR_INVALID,
            "the path /b does not exist");
    JP_FAIL("{'l':[1]}", "[{'op':'remove','path':'/l/1'}]", ERR_INVALID, "does not exist");
    JP_FAIL("{'l':[1]}", "[{'op':'remove','path':'/l/-'}]", ERR_INVALID, "does not exist");
    JP_FAIL("{'a':1}", "[{'op':'remove','path':''}]", ERR_INVALID, "whole document");
    JP_FAIL("{'a':1}", "[{'op':'remove','path':'/a/b'}]", ERR_INVALID, NULL);
}

static void test_json_replace(void **state)
{
    JP_OK("{'a':1,'b':2}", "[{'op':'replace','path':'/a','value':{'x':[]}}]",
          "{'a':{'x':[]},'b':2}");
    JP_OK("{'l':[1,2]}", "[{'op':'replace','path':'/l/0','value':'z'}]", "{'l':['z',2]}");
    JP_OK("{'a':1}", "[{'op':'replace','path':'','value':{'b':2}}]", "{'b':2}");
    JP_OK("{'a':1}", "[{'op':'replace','path':'/a','value':null}]", "{'a':null}");

    JP_FAIL("{'a':1}", "[{'op':'replace','path':'/b','value':1}]", ERR_INVALID,
            "does not exist");
    JP_FAIL("{'l':[1]}", "[{'op':'replace','path':'/l/1','value':1}]", ERR_INVALID,
            "does not exist");
    JP_FAIL("{'l':[1]}", "[{'op':'replace','path':'/l/-','value':1}]", ERR_INVALID,
            "does not exist");
}

static void test_json_move(void **state)
{
    JP_OK("{'a':1,'b':2}", "[{'op':'move','from':'/a','path':'/c'}]", "{'b':2,'c':1}");
    JP_OK("{'a':{'x':1},'b':{}}", "[{'op':'move','from':'/a/x','path':'/b/y'}]",
          "{'a':{},'b':{'y':1}}");
    /* within an array: remove first, then add */
    JP_OK("{'l':[1,2,3,4]}", "[{'op':'move','from':'/l/0','path':'/l/3'}]",
          "{'l':[2,3,4,1]}");
    JP_OK("{'l':[1,2,3,4]}", "[{'op':'move','from':'/l/3','path':'/l/0'}]",
          "{'l':[4,1,2,3]}");
    JP_OK("{'l':[1,2],'m':[]}", "[{'op':'move','from':'/l/1','path':'/m/-'}]",
          "{'l':[1],'m':[2]}");
    /* onto an existing member: replaces it */
    JP_OK("{'a':1,'b':2}", "[{'op':'move','from':'/a','path':'/b'}]", "{'b':1}");
    /* to itself: nothing changes, but it must exist */
    JP_OK("{'a':1}", "[{'op':'move','from':'/a','path':'/a'}]", "{'a':1}");
    JP_FAIL("{'a':1}", "[{'op':'move','from':'/b','path':'/b'}]", ERR_INVALID,
            "does not exist");
    /* out of its own parent: moving a child over its parent works */
    JP_OK("{'a':{'b':{'c':1}}}", "[{'op':'move','from':'/a/b','path':'/a'}]",
          "{'a':{'c':1}}");
    /* a path that only shares a string prefix is not a child */
    JP_OK("{'a':{'x':1}}", "[{'op':'move','from':'/a','path':'/ab'}]", "{'ab':{'x':1}}");

    /* into its own child: refused */
    JP_FAIL("{'a':{'b':{}}}", "[{'op':'move','from':'/a','path':'/a/b'}]", ERR_INVALID,
            "lies inside");
    JP_FAIL("{'a':{'b':{}}}", "[{'op':'move','from':'/a','path':'/a/b/c'}]", ERR_INVALID,
            "lies inside");
    JP_FAIL("{'a':{'b':{}}}", "[{'op':'move','from':'','path':'/a'}]", ERR_INVALID,
            "lies inside");
    JP_FAIL("{'a':1}", "[{'op':'move','from':'/x','path':'/y'}]", ERR_INVALID,
            "the path /x does not exist");
    JP_FAIL("{'a':1}", "[{'op':'move','from':'/a','path':'/x/y'}]", ERR_INVALID,
            "parent");
}

static void test_json_copy(void **state)
{
    JP_OK("{'a':{'x':1}}", "[{'op':'copy','from':'/a','path':'/b'}]",
          "{'a':{'x':1},'b':{'x':1}}");
    JP_OK("{'l':[1,2]}", "[{'op':'copy','from':'/l/0','path':'/l/-'}]", "{'l':[1,2,1]}");
    JP_OK("{'l':[1,2]}", "[{'op':'copy','from':'/l','path':'/l/0'}]", "{'l':[[1,2],1,2]}");
    JP_OK("{'a':1}", "[{'op':'copy','from':'','path':'/b'}]", "{'a':1,'b':{'a':1}}");
    /* the copy is its own value: changing it leaves the source alone */
    JP_OK("{'a':{'x':1}}",
          "[{'op':'copy','from':'/a','path':'/b'},"
          "{'op':'replace','path':'/b/x','value':2},"
          "{'op':'add','path':'/b/y','value':3}]",
          "{'a':{'x':1},'b':{'x':2,'y':3}}");
    JP_FAIL("{'a':1}", "[{'op':'copy','from':'/b','path':'/c'}]", ERR_INVALID,
            "does not exist");
}

static void test_json_copy_limit(void **state)
{
    /* A doc of about 2^16 values, copied 5 times: past PATCH_MAX_COPY_NODES. */
    json_t *doc = json_object(), *big = json_array(), *patch = json_array();
    err_t err = ERR_INIT;
    json_t *out;

    for (int i = 0; i < 65536; i++)
        json_array_append_new(big, json_integer(i));
    json_object_set_new(doc, "big", big);
    for (int i = 0; i < 3; i++)
        json_array_append_new(patch, json_pack("{s:s,s:s,s:s}", "op", "copy", "from", "/big",
                                               "path", "/c"));
    /* three copies fit */
    out = patch_json_apply(doc, patch, &err);
    assert_non_null(out);
    json_decref(out);
    for (int i = 0; i < 2; i++)
        json_array_append_new(patch, json_pack("{s:s,s:s,s:s}", "op", "copy", "from", "/big",
                                               "path", "/c"));
    out = patch_json_apply(doc, patch, &err);
    assert_null(out);
    assert_int_equal(err.code, ERR_TOO_LARGE);
    assert_non_null(strstr(err.msg, "operation 4"));
    err_clear(&err);
    json_decref(patch);
    json_decref(doc);
}

static void test_json_test(void **state)
{
    JP_OK("{'a':1}", "[{'op':'test','path':'/a','value':1}]", "{'a':1}");
    /* numbers compare by value */
    JP_OK("{'a':1}", "[{'op':'test','path':'/a','value':1.0}]", "{'a':1}");
    JP_OK("{'a':1.0}", "[{'op':'test','path':'/a','value':1}]", "{'a':1.0}");
    JP_OK("{'a':-0.0}", "[{'op':'test','path':'/a','value':0}]", "{'a':-0.0}");
    JP_OK("{'a':[1,{'b':2.0}]}", "[{'op':'test','path':'/a','value':[1.0,{'b':2}]}]",
          "{'a':[1,{'b':2.0}]}");
    JP_OK("{'a':1e2}", "[{'op':'test','path':'/a','value':100}]", "{'a':100.0}");
    /* objects compare without regard to member order */
    JP_OK("{'o':{'x':1,'y':2}}", "[{'op':'test','path':'/o','value':{'y':2,'x':1}}]",
          "{'o':{'x':1,'y':2}}");
    JP_OK("{'a':null}", "[{'op':'test','path':'/a','value':null}]", "{'a':null}");
    JP_OK("{'a':'s'}", "[{'op':'test','path':'','value':{'a':'s'}}]", "{'a':'s'}");
    JP_OK("{'a':'x\\u0000y'}", "[{'op':'test','path':'/a','value':'x\\u0000y'}]",
          "{'a':'x\\u0000y'}");

    JP_FAIL("{'a':1}", "[{'op':'test','path':'/a','value':1.5}]", ERR_INVALID,
            "not the expected value");
    JP_FAIL("{'a':1}", "[{'op':'test','path':'/a','value':'1'}]", ERR_INVALID, NULL);
    JP_FAIL("{'a':9007199254740993}", "[{'op':'test','path':'/a','value':9007199254740992.0}]",
            ERR_INVALID, NULL);
    JP_FAIL("{'a':[1,2]}", "[{'op':'test','path':'/a','value':[2,1]}]", ERR_INVALID, NULL);
    JP_FAIL("{'a':{'x':1}}", "[{'op':'test','path':'/a','value':{'x':1,'y':null}}]",
            ERR_INVALID, NULL);
    JP_FAIL("{'a':null}", "[{'op':'test','path':'/a','value':false}]", ERR_INVALID, NULL);
    JP_FAIL("{'a':'x\\u0000y'}", "[{'op':'test','path':'/a','value':'x\\u0000z'}]",
            ERR_INVALID, NULL);
    JP_FAIL("{'a':1}", "[{'op':'test','path':'/b','value':1}]", ERR_INVALID,
            "does not exist");
}

static void test_json_pointers(void **state)
{
    /* ~1 is '/', ~0 is '~', and ~01 is '~1' (not '/') */
    JP_OK("{'a/b':1}", "[{'op':'replace','path':'/a~1b','value':2}]", "{'a/b':2}");
    JP_OK("{'m~n':1}", "[{'op':'remove','path':'/m~0n'}]", "{}");
    JP_OK("{'~1':1,'/':2}", "[{'op':'remove','path':'/~01'}]", "{'/':2}");
    JP_OK("{}", "[{'op':'add','path':'/~1~0~1','value':0}]", "{'/~/':0}");
    JP_OK("{'a':{'':{'':1}}}", "[{'op':'test','path':'/a//','value':1}]",
          "{'a':{'':{'':1}}}");
    /* a NUL in a pointer is refused: jansson reads no member name holding
     * one, so the patched object could not be read back */
    JP_FAIL("{'a':1}", "[{'op':'add','path':'/a\\u0000b','value':2}]", ERR_BAD_REQUEST,
            "NUL");
    JP_FAIL("{'a':{}}", "[{'op':'copy','from':'/a','path':'/\\u0000'}]", ERR_BAD_REQUEST,
            "NUL");
    JP_FAIL("{'a':{}}", "[{'op':'move','from':'/a\\u0000','path':'/b'}]", ERR_BAD_REQUEST,
            "\"from\"");

    JP_FAIL("{'a':1}", "[{'op':'remove','path':'a'}]", ERR_BAD_REQUEST,
            "must be empty or start with '/'");
    JP_FAIL("{'a':1}", "[{'op':'remove','path':'/a~'}]", ERR_BAD_REQUEST, "'~'");
    JP_FAIL("{'a':1}", "[{'op':'remove','path':'/a~2'}]", ERR_BAD_REQUEST, "'~'");
    JP_FAIL("{'a':1}", "[{'op':'copy','from':'x','path':'/b'}]", ERR_BAD_REQUEST, "\"from\"");
    /* array indexes that do not fit a size_t */
    JP_FAIL("{'l':[1]}", "[{'op':'remove','path':'/l/99999999999999999999999'}]",
            ERR_BAD_REQUEST, "too large");
    JP_FAIL("{'l':[[1]]}", "[{'op':'remove','path':'/l/99999999999999999999999/0'}]",
            ERR_BAD_REQUEST, "too large");
    /* a large index that fits is merely out of range */
    JP_FAIL("{'l':[1]}", "[{'op':'remove','path':'/l/4294967296'}]", ERR_INVALID,
            "does not exist");
}

static void test_json_pointer_length(void **state)
{
    GString *p = g_string_new("/");
    json_t *doc = J("{}"), *patch, *out;
    err_t err = ERR_INIT;

    g_string_append_len(p, "aaaaaaaaaaaaaaaa", 15);
    while (p->len < PATCH_MAX_POINTER)
        g_string_append_c(p, 'a');
    /* exactly PATCH_MAX_POINTER bytes: fine */
    patch = json_pack("[{s:s,s:s,s:i}]", "op", "add", "path", p->str, "value", 1);
    out = patch_json_apply(doc, patch, &err);
    assert_non_null(out);
    assert_int_equal(json_object_size(out), 1);
    json_decref(out);
    json_decref(patch);
    /* one more: refused */
    g_string_append_c(p, 'a');
    patch = json_pack("[{s:s,s:s,s:i}]", "op", "add", "path", p->str, "value", 1);
    assert_null(patch_json_apply(doc, patch, &err));
    assert_int_equal(err.code, ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "longer than"));
    /* the message does not quote all of it */
    assert_true(strlen(err.msg) < 600);
    err_clear(&err);
    json_decref(patch);
    g_string_free(p, TRUE);
    json_decref(doc);
}

static void test_json_shape(void **state)
{
    JP_FAIL("{}", "{'op':'add'}", ERR_BAD_REQUEST, "not an array");
    JP_FAIL("{}", "null", ERR_BAD_REQUEST, "not an array");
    JP_FAIL("{}", "[1]", ERR_BAD_REQUEST, "operation 1 is not an object");
    JP_FAIL("{}", "[{'path':'/a'}]", ERR_BAD_REQUEST, "no \"op\"");
    JP_FAIL("{}", "[{'op':1,'path':'/a'}]", ERR_BAD_REQUEST, "not a string");
    JP_FAIL("{}", "[{'op':'delete','path':'/a'}]", ERR_BAD_REQUEST, "unknown op");
    JP_FAIL("{}", "[{'op':'ADD','path':'/a','value':1}]", ERR_BAD_REQUEST, "unknown op");
    JP_FAIL("{}", "[{'op':'add\\u0000x','path':'/a','value':1}]", ERR_BAD_REQUEST,
            "unknown op");
    JP_FAIL("{}", "[{'op':'add','value':1}]", ERR_BAD_REQUEST, "no \"path\"");
    JP_FAIL("{}", "[{'op':'add','path':7,'value':1}]", ERR_BAD_REQUEST,
            "\"path\" that is not a string");
    JP_FAIL("{}", "[{'op':'add','path':'/a'}]", ERR_BAD_REQUEST, "no \"value\"");
    JP_FAIL("{}", "[{'op':'replace','path':'/a'}]", ERR_BAD_REQUEST, "no \"value\"");
    JP_FAIL("{}", "[{'op':'test','path':'/a'}]", ERR_BAD_REQUEST, "no \"value\"");
    JP_FAIL("{'a':1}", "[{'op':'move','path':'/b'}]", ERR_BAD_REQUEST, "no \"from\"");
    JP_FAIL("{'a':1}", "[{'op':'copy','path':'/b','from':null}]", ERR_BAD_REQUEST,
            "\"from\" that is not a string");
    /* the shape of every operation is checked before any is applied, and
     * errors count operations from 1 */
    JP_FAIL("{'a':1}",
            "[{'op':'test','path':'/a','value':2},{'op':'bogus','path':'/a'}]",
            ERR_BAD_REQUEST, "operation 2");
    JP_FAIL("{'a':1}",
            "[{'op':'add','path':'/b','value':2},{'op':'test','path':'/a','value':2}]",
            ERR_INVALID, "operation 2 (test)");
    /* members other than those of the op are ignored */
    JP_OK("{}", "[{'op':'add','path':'/a','value':1,'from':7,'extra':true}]", "{'a':1}");
    JP_OK("{'a':1}", "[{'op':'remove','path':'/a','value':1}]", "{}");
}

/* A patch is applied whole or not at all. */
static void test_json_atomic(void **state)
{
    JP_FAIL("{'a':1,'l':[1,2]}",
            "[{'op':'add','path':'/b','value':2},"
            "{'op':'remove','path':'/l/0'},"
            "{'op':'replace','path':'/a','value':{'deep':[1]}},"
            "{'op':'move','from':'/a','path':'/m'},"
            "{'op':'test','path':'/b','value':3}]",
            ERR_INVALID, "operation 5");
    JP_FAIL("{'a':{'b':1}}",
            "[{'op':'replace','path':'','value':{'x':1}},"
            "{'op':'remove','path':'/a'}]",
            ERR_INVALID, "operation 2 (remove)");
    /* operations see the results of those before them */
    JP_OK("{'a':1}",
          "[{'op':'add','path':'/b','value':{}},"
          "{'op':'add','path':'/b/c','value':[]},"
          "{'op':'add','path':'/b/c/-','value':1},"
          "{'op':'copy','from':'/b/c','path':'/d'},"
          "{'op':'test','path':'/d/0','value':1},"
          "{'op':'remove','path':'/a'}]",
          "{'b':{'c':[1]},'d':[1]}");
}

static void test_json_limits(void **state)
{
    json_t *doc = J("{'a':1}"), *patch = json_array(), *out, *deep;
    err_t err = ERR_INIT;

    /* PATCH_MAX_OPS operations are fine, one more is refused */
    for (int i = 0; i < PATCH_MAX_OPS; i++)
        json_array_append_new(patch, json_pack("{s:s,s:s,s:i}", "op", "test", "path", "/a",
                                               "value", 1));
    out = patch_json_apply(doc, patch, &err);
    assert_non_null(out);
    json_decref(out);
    json_array_append_new(patch, json_pack("{s:s,s:s,s:i}", "op", "test", "path", "/a",
                                           "value", 1));
    assert_null(patch_json_apply(doc, patch, &err));
    assert_int_equal(err.code, ERR_BAD_REQUEST);
    assert_non_null(strstr(err.msg, "10001 operations"));
    err_clear(&err);
    json_decref(patch);

    /* nesting: a value of depth 99 under one token makes a document of depth
     * 100, the limit; one level more is refused */
    deep = nested_arrays(JSON_MAX_DEPTH - 1);
    patch = json_pack("[{s:s,s:s,s:O}]", "op", "add", "path", "/d", "value", deep);
    out = patch_json_apply(doc, patch, &err);
    assert_non_null(out);
    assert_int_equal(json_depth(out, 200), JSON_MAX_DEPTH);
    json_decref(out);
    json_decref(patch);
    json_decref(deep);

    deep = nested_arrays(JSON_MAX_DEPTH);
    for (int op = 0; op < 2; op++) {
        patch = json_pack("[{s:s,s:s,s:O}]", "op", op ? "replace" : "add", "path", "/a",
                          "value", deep);
        assert_null(patch_json_apply(doc, patch, &err));
        assert_int_equal(err.code, ERR_INVALID);
        assert_non_null(strstr(err.msg, "deeper than 100"));
        err_clear(&err);
        json_decref(patch);
    }
    json_decref(deep);

    /* copy and move that would nest too deep */
    json_decref(doc);
    doc = json_object();
    json_object_set_new(doc, "v", nested_arrays(60));
    json_object_set_new(doc, "w", nested_arrays(60));
    patch = J("[{'op':'copy','from':'/v','path':'/w/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0'}]");
    assert_null(patch_json_apply(doc, patch, &err));
    assert_int_equal(err.code, ERR_INVALID);
    assert_non_null(strstr(err.msg, "deeper"));
    err_clear(&err);
    json_decref(patch);
    patch = J("[{'op':'move','from':'/v','path':'/w/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0'}]");
    assert_null(patch_json_apply(doc, patch, &err));
    assert_int_equal(err.code, ERR_INVALID);
    err_clear(&err);
    json_decref(patch);
    /* a shallow move is fine */
    patch = J("[{'op':'move','from':'/v','path':'/w/0'}]");
    out = patch_json_apply(doc, patch, &err);
    assert_non_null(out);
    json_decref(out);
    json_decref(patch);
    json_decref(doc);
}

/* ------------------------------------------------------------------------ */
/* JSON Merge Patch                                                         */

static void test_merge_rfc7386(void **state)
{
    /* RFC 7386, appendix A */
    MP_OK("{'a':'b'}", "{'a':'c'}", "{'a':'c'}");
    MP_OK("{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}");
    MP_OK("{'a':'b'}", "{'a':null}", "{}");
    MP_OK("{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}");
    MP_OK("{'a':['b']}", "{'a':'c'}", "{'a':'c'}");
    MP_OK("{'a':'c'}", "{'a':['b']}", "{'a':['b']}");
    MP_OK("{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}");
    MP_OK("{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}");
    MP_OK("['a','b']", "['c','d']", "['c','d']");
    MP_OK("{'a':'b'}", "['c']", "['c']");
    MP_OK("{'a':'foo'}", "null", "null");
    MP_OK("{'a':'foo'}", "'bar'", "'bar'");
    MP_OK("{'e':null}", "{'a':1}", "{'e':null,'a':1}");
    MP_OK("[1,2]", "{'a':'b','c':null}", "{'a':'b'}");
    MP_OK("{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}");
}

static void test_merge_more(void **state)
{
    json_t *doc = J("{'a':1}"), *patch = J("{'a':null}"), *out;
    err_t err = ERR_INIT;

    MP_OK("{'a':{'b':1,'c':[1,2]}}", "{}", "{'a':{'b':1,'c':[1,2]}}");
    MP_OK("{'a':{'b':1}}", "{'a':{'x':{'y':null,'z':[null]}}}",
          "{'a':{'b':1,'x':{'z':[null]}}}");
    MP_OK("{'a':{'b':1}}", "{'a':5}", "{'a':5}");
    MP_OK("{'a':5}", "{'a':{'b':null,'c':1}}", "{'a':{'c':1}}");
    MP_OK("'s'", "{'a':1}", "{'a':1}");
    MP_OK("{'a':1}", "{'b':null}", "{'a':1}");
    MP_OK("{'a':1}", "1.5", "1.5");
    MP_OK("{'a':1}", "[]", "[]");

    /* never fails */
    out = patch_merge_apply(doc, patch, &err);
    assert_non_null(out);
    assert_false(err_is_set(&err));
    json_decref(out);
    out = patch_merge_apply(doc, patch, NULL);
    assert_non_null(out);
    json_decref(out);
    json_decref(patch);
    json_decref(doc);
}

/* ------------------------------------------------------------------------ */
/* Strategic merge patch                                                    */

/* A small schema with every list and map strategy. */
static const char *smp_schema_text =
    "{'type':'object','properties':{"
    " 'metadata':{'type':'object','properties':{"
    "   'finalizers':{'type':'array','items':{'type':'string'},"
    "                 'x-kubernetes-patch-strategy':'merge'}}},"
    " 'spec':{'type':'object','properties':{"
    "   'containers':{'type':'array','x-kubernetes-patch-strategy':'merge',"
    "     'x-kubernetes-patch-merge-key':'name',"
    "     'items':{'type':'object','properties':{"
    "       'name':{'type':'string'},"
    "       'image':{'type':'string'},"
    "       'args':{'type':'array','items':{'type':'string'}},"
    "       'env':{'type':'array','x-kubernetes-patch-strategy':'merge',"
    "              'x-kubernetes-patch-merge-key':'name',"
    "              'items':{'type':'object'}},"
    "       'ports':{'type':'array','x-kubernetes-list-type':'map',"
    "         'x-kubernetes-list-map-keys':['containerPort','protocol'],"
    "         'items':{'type':'object'}}}}},"
    "   'volumes':{'type':'array','x-kubernetes-list-type':'map',"
    "     'x-kubernetes-list-map-keys':['name'],"
    "     'items':{'type':'object','properties':{"
    "       'name':{'type':'string'},"
    "       'source':{'type':'object','x-kubernetes-patch-strategy':'retainKeys'}}}},"
    "   'tags':{'type':'array','items':{'type':'string'}},"
    "   'atomic':{'type':'array','x-kubernetes-list-type':'atomic',"
    "             'items':{'type':'object'}},"
    "   'hosts':{'type':'array','x-kubernetes-list-type':'set',"
    "            'items':{'type':'string'}},"
    "   'replaceList':{'type':'array','x-kubernetes-patch-strategy':'replace',"
    "                  'x-kubernetes-patch-merge-key':'name','items':{'type':'object'}},"
    "   'labels':{'type':'object','additionalProperties':{'type':'string'}},"
    "   'selector':{'type':'object','x-kubernetes-patch-strategy':'replace'},"
    "   'groups':{'type':'object','additionalProperties':{"
    "     'type':'array','x-kubernetes-patch-strategy':'merge',"
    "     'x-kubernetes-patch-merge-key':'id','items':{'type':'object'}}}"
    " }}}}";

static json_t *smp_schema;

static int smp_setup(void **state)
{
    smp_schema = J(smp_schema_text);
    return 0;
}

static int smp_teardown(void **state)
{
    json_decref(smp_schema);
    smp_schema = NULL;
    return 0;
}

#define SMP_OK(doc, patch, want) check_ok(apply_smp, doc, patch, smp_schema, want)
#define SMP_FAIL(doc, patch, part)                                              \
    check_fail(apply_smp, doc, patch, smp_schema, ERR_BAD_REQUEST, part)
#define SMP0_OK(doc, patch, want) check_ok(apply_smp, doc, patch, NULL, want)

static void test_smp_no_schema(void **state)
{
    /* maps merge, lists are replaced, null deletes */
    SMP0_OK("{'a':{'b':1,'c':2},'l':[1,2]}", "{'a':{'b':3,'c':null},'l':[3]}",
            "{'a':{'b':3},'l':[3]}");
    SMP0_OK("{'a':1}", "{}", "{'a':1}");
    SMP0_OK("{'a':1}", "{'b':null}", "{'a':1}");
    SMP0_OK("{'a':[1]}", "{'a':{'x':1}}", "{'a':{'x':1}}");
    SMP0_OK("{'a':{'x':1}}", "{'a':[1]}", "{'a':[1]}");
    SMP0_OK("{'a':{'x':1}}", "{'a':'s'}", "{'a':'s'}");
    SMP0_OK("[1]", "{'a':{'b':null,'c':1}}", "{'a':{'c':1}}");
    /* lists of maps without a schema: replaced */
    SMP0_OK("{'l':[{'name':'a','x':1}]}", "{'l':[{'name':'a','y':2}]}",
            "{'l':[{'name':'a','y':2}]}");

    check_fail(apply_smp, "{}", "[1]", NULL, ERR_BAD_REQUEST, "not a JSON object");
    check_fail(apply_smp, "{}", "null", NULL, ERR_BAD_REQUEST, "not a JSON object");
    check_fail(apply_smp, "{}", "'x'", NULL, ERR_BAD_REQUEST, "not a JSON object");
}

static void test_smp_keyed_lists(void **state)
{
    const char *doc = "{'spec':{'containers':["
                      "{'name':'a','image':'a1','args':['x']},"
                      "{'name':'b','image':'b1'}]}}";

    /* an element merges into the one with its key */
    SMP_OK(doc, "{'spec':{'containers':[{'name':'b','image':'b2'}]}}",
           "{'spec':{'containers':[{'name':'a','image':'a1','args':['x']},"
           "{'name':'b','image':'b2'}]}}");
    /* inside the element, maps merge and plain lists are replaced */
    SMP_OK(doc, "{'spec':{'containers':[{'name':'a','args':['y','z']}]}}",
           "{'spec':{'containers':[{'name':'a','image':'a1','args':['y','z']},"
           "{'name':'b','image':'b1'}]}}");
    /* null deletes a member of a merged element */
    SMP_OK(doc, "{'spec':{'containers':[{'name':'a','args':null}]}}",
           "{'spec':{'containers':[{'name':'a','image':'a1'},{'name':'b','image':'b1'}]}}");
    /* a new element with no existing one named before it comes first */
    SMP_OK(doc, "{'spec':{'containers':[{'name':'c','image':'c1'}]}}",
           "{'spec':{'containers':[{'name':'c','image':'c1'},"
           "{'name':'a','image':'a1','args':['x']},{'name':'b','image':'b1'}]}}");
    /* a new element named after an existing one follows it */
    SMP_OK(doc,
           "{'spec':{'containers':[{'name':'b','image':'b2'},{'name':'c','image':'c1'}]}}",
           "{'spec':{'containers':[{'name':'a','image':'a1','args':['x']},"
           "{'name':'b','image':'b2'},{'name':'c','image':'c1'}]}}");
    /* elements the patch names take the patch's order */
    SMP_OK(doc, "{'spec':{'containers':[{'name':'b'},{'name':'a'}]}}",
           "{'spec':{'containers':[{'name':'b','image':'b1'},"
           "{'name':'a','image':'a1','args':['x']}]}}");
    /* a new element without nulls in it */
    SMP_OK("{}", "{'spec':{'containers':[{'name':'a','image':null,'env':[{'name':'E','v':null}]}]}}",
           "{'spec':{'containers':[{'name':'a','env':[{'name':'E'}]}]}}");
    /* a nested keyed list merges too */
    SMP_OK("{'spec':{'containers':[{'name':'a','env':[{'name':'X','value':'1'},"
           "{'name':'Y','value':'2'}]}]}}",
           "{'spec':{'containers':[{'name':'a','env':[{'name':'Y','value':'3'}]}]}}",
           "{'spec':{'containers':[{'name':'a','env':[{'name':'X','value':'1'},"
           "{'name':'Y','value':'3'}]}]}}");
    /* list-map-keys: merged by the first key */
    SMP_OK("{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80,'protocol':'TCP'},"
           "{'containerPort':443}]}]}}",
           "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':443,'hostPort':8443}]}]}}",
           "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80,'protocol':'TCP'},"
           "{'containerPort':443,'hostPort':8443}]}]}}");
    /* list-type map with one key */
    SMP_OK("{'spec':{'volumes':[{'name':'v1','size':1},{'name':'v2','size':2}]}}",
           "{'spec':{'volumes':[{'name':'v2','size':3}]}}",
           "{'spec':{'volumes':[{'name':'v1','size':1},{'name':'v2','size':3}]}}");
    /* key values compare by value: 80.0 matches 80 (and, being the patch's
     * value, replaces it) */
    SMP_OK("{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80}]}]}}",
           "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80.0,'x':1}]}]}}",
           "{'spec':{'containers':[{'name':'a','ports':[{'containerPort':80.0,'x':1}]}]}}");
    /* the list absent in the document, or not a list there */
    SMP_OK("{'spec':{}}", "{'spec':{'containers':[{'name':'a'}]}}",
           "{'spec':{'containers':[{'name':'a'}]}}");
    SMP_OK("{'spec':{'containers':'junk'}}", "{'spec':{'containers':[{'name':'a'}]}}",
           "{'spec':{'containers':[{'name':'a'}]}}");
    /* a list under additionalProperties merges by its own key */
    SMP_OK("{'spec':{'groups':{'g':[{'id':1,'v':1},{'id':2,'v':2}]}}}",
           "{'spec':{'groups':{'g':[{'id':2,'v':3}],'h':[{'id':9}]}}}",
           "{'spec':{'groups':{'g':[{'id':1,'v':1},{'id':2,'v':3}],'h':[{'id':9}]}}}");
    /* an empty patch list changes nothing in a merged list */
    SMP_OK(doc, "{'spec':{'containers':[]}}", doc);
    /* duplicate patch elements merge into one */
    SMP_OK("{}", "{'spec':{'containers':[{'name':'a','x':1},{'name':'a','y':2}]}}",
           "{'spec':{'containers':[{'name':'a','x':1,'y':2}]}}");

    SMP_FAIL(doc, "{'spec':{'containers':[{'name':'a'},{'image':'x'}]}}",
             "without its merge key \"name\" at spec.containers[1]");
    SMP_FAIL(doc, "{'spec':{'containers':[{'name':null}]}}", "merge key");
    SMP_FAIL(doc, "{'spec':{'containers':['a']}}", "not a map");
}

static void test_smp_plain_lists(void **state)
{
    /* no strategy, atomic, and a "replace" strategy: replaced */
    SMP_OK("{'spec':{'tags':['a','b']}}", "{'spec':{'tags':['c']}}", "{'spec':{'tags':['c']}}");
    SMP_OK("{'spec':{'atomic':[{'name':'a','x':1}]}}", "{'spec':{'atomic':[{'name':'a'}]}}",
           "{'spec':{'atomic':[{'name':'a'}]}}");
    SMP_OK("{'spec':{'replaceList':[{'name':'a','x':1},{'name':'b'}]}}",
           "{'spec':{'replaceList':[{'name':'a'}]}}", "{'spec':{'replaceList':[{'name':'a'}]}}");
    SMP_OK("{'spec':{'tags':['a','b']}}", "{'spec':{'tags':[]}}", "{'spec':{'tags':[]}}");
    SMP_OK("{'spec':{'tags':['a','b']}}", "{'spec':{'tags':null}}", "{'spec':{}}");
}

static void test_smp_sets(void **state)
{
    /* list-type set: the values it lacks are added */
    SMP_OK("{'spec':{'hosts':['x','y']}}", "{'spec':{'hosts':['y','z']}}",
           "{'spec':{'hosts':['x','y','z']}}");
    SMP_OK("{'spec':{'hosts':['x','y']}}", "{'spec':{'hosts':['z']}}",
           "{'spec':{'hosts':['z','x','y']}}");
    SMP_OK("{'spec':{'hosts':['x','y']}}", "{'spec':{'hosts':['z','z','x']}}",
           "{'spec':{'hosts':['z','x','y']}}");
    SMP_OK("{}", "{'spec':{'hosts':['a','a']}}", "{'spec':{'hosts':['a']}}");
    /* the merge strategy without a key is a set too */
    SMP_OK("{'metadata':{'finalizers':['f1']}}", "{'metadata':{'finalizers':['f1','f2']}}",
           "{'metadata':{'finalizers':['f1','f2']}}");
    /* $deleteFromPrimitiveList removes values (and any copies of them) */
    SMP_OK("{'metadata':{'finalizers':['f1','f2','f1','f3']}}",
           "{'metadata':{'$deleteFromPrimitiveList/finalizers':['f1','nope']}}",
           "{'metadata':{'finalizers':['f2','f3']}}");
    /* removing and adding in one patch */
    SMP_OK("{'spec':{'hosts':['x','y']}}",
           "{'spec':{'$deleteFromPrimitiveList/hosts':['x'],'hosts':['w']}}",
           "{'spec':{'hosts':['w','y']}}");
    /* numbers by value */
    SMP_OK("{'spec':{'hosts':[1,2]}}", "{'spec':{'$deleteFromPrimitiveList/hosts':[1.0]}}",
           "{'spec':{'hosts':[2]}}");
    SMP_OK("{'spec':{'hosts':[1,2]}}", "{'spec':{'hosts':[2.0,3]}}",
           "{'spec':{'hosts':[1,2,3]}}");
    /* on a list that is absent: nothing to remove */
    SMP_OK("{}", "{'spec':{'$deleteFromPrimitiveList/hosts':['x']}}", "{'spec':{}}");

    SMP_FAIL("{'spec':{'hosts':['x']}}", "{'spec':{'hosts':[{'$patch':'delete','v':'x'}]}}",
             "$deleteFromPrimitiveList");
    SMP_FAIL("{}", "{'spec':{'$deleteFromPrimitiveList/hosts':'x'}}", "not a list");
}

static void test_smp_list_directives(void **state)
{
    const char *doc = "{'spec':{'containers':[{'name':'a','image':'a1'},"
                      "{'name':'b','image':'b1'},{'name':'c'}]}}";

    /* delete by key, more than one, and a key that is not there */
    SMP_OK(doc, "{'spec':{'containers':[{'$patch':'delete','name':'b'}]}}",
           "{'spec':{'containers':[{'name':'a','image':'a1'},{'name':'c'}]}}");
    SMP_OK(doc,
           "{'spec':{'containers':[{'$patch':'delete','name':'a'},{'$patch':'delete','name':'c'},"
           "{'$patch':'delete','name':'zz'}]}}",
           "{'spec':{'containers':[{'name':'b','image':'b1'}]}}");
    /* delete and add in one patch */
    SMP_OK(doc,
           "{'spec':{'containers':[{'$patch':'delete','name':'a'},{'name':'d'}]}}",
           "{'spec':{'containers':[{'name':'d'},{'name':'b','image':'b1'},{'name':'c'}]}}");
    /* replace: the list becomes the other elements */
    SMP_OK(doc, "{'spec':{'containers':[{'$patch':'replace'},{'name':'z','image':null}]}}",
           "{'spec':{'containers':[{'name':'z'}]}}");
    SMP_OK(doc, "{'spec':{'containers':[{'$patch':'replace'}]}}",
           "{'spec':{'containers':[]}}");
    SMP_OK("{'spec':{'hosts':['a','b']}}", "{'spec':{'hosts':['c',{'$patch':'replace'}]}}",
           "{'spec':{'hosts':['c']}}");
    /* merge: an ordinary element; a bare one is ignored */
    SMP_OK(doc, "{'spec':{'containers':[{'$patch':'merge','name':'a','image':'a2'}]}}",
           "{'spec':{'containers':[{'name':'a','image':'a2'},{'name':'b','image':'b1'},"
           "{'name':'c'}]}}");
    SMP_OK(doc, "{'spec':{'containers':[{'$patch':'merge'}]}}", doc);

    SMP_FAIL(doc, "{'spec':{'containers':[{'$patch':'delete'}]}}",
             "without the merge key \"name\"");
    SMP_FAIL(doc, "{'spec':{'containers':[{'name':'a'},{'$patch':'remove','name':'b'}]}}",
             "unknown $patch directive in a list element");
    SMP_FAIL(doc, "{'spec':{'containers':[{'$patch':7,'name':'b'}]}}", "unknown $patch");
}

static void test_smp_map_directives(void **state)
{
    const char *doc = "{'spec':{'labels':{'a':'1','b':'2'},'x':1},'other':{'k':1}}";

    /* replace: the map becomes the rest of the patch map */
    SMP_OK(doc, "{'spec':{'labels':{'$patch':'replace','c':'3'}}}",
           "{'spec':{'labels':{'c':'3'},'x':1},'other':{'k':1}}");
    SMP_OK(doc, "{'spec':{'$patch':'replace','y':2}}", "{'spec':{'y':2},'other':{'k':1}}");
    /* delete: the map goes */
    SMP_OK(doc, "{'spec':{'labels':{'$patch':'delete'}}}",
           "{'spec':{'x':1},'other':{'k':1}}");
    SMP_OK(doc, "{'spec':{'labels':{'$patch':'delete','a':'9'}}}",
           "{'spec':{'x':1},'other':{'k':1}}");
    SMP_OK(doc, "{'nothere':{'$patch':'delete'}}", doc);
    /* at the top level: an empty object */
    SMP_OK(doc, "{'$patch':'delete'}", "{}");
    SMP_OK(doc, "{'$patch':'replace','n':1}", "{'n':1}");
    /* merge: the default */
    SMP_OK(doc, "{'spec':{'labels':{'$patch':'merge','c':'3'}}}",
           "{'spec':{'labels':{'a':'1','b':'2','c':'3'},'x':1},'other':{'k':1}}");
    /* a map with the "replace" strategy is replaced, not merged */
    SMP_OK("{'spec':{'selector':{'a':'1','b':'2'}}}", "{'spec':{'selector':{'c':'3','d':null}}}",
           "{'spec':{'selector':{'c':'3'}}}");
    /* null deletes; a member that is not there stays absent */
    SMP_OK(doc, "{'spec':{'labels':{'a':null,'zz':null},'x':null}}",
           "{'spec':{'labels':{'b':'2'}},'other':{'k':1}}");
    SMP_OK(doc, "{'other':null}", "{'spec':{'labels':{'a':'1','b':'2'},'x':1}}");

    SMP_FAIL(doc, "{'spec':{'labels':{'$patch':'drop'}}}", "unknown $patch directive");
    SMP_FAIL(doc, "{'spec':{'labels':{'$patch':null}}}", "unknown $patch directive");
}

static void test_smp_retain_keys(void **state)
{
    const char *doc = "{'spec':{'volumes':[{'name':'v','source':{'nfs':{'path':'/a'},"
                      "'hostPath':{'path':'/b'}}}]}}";

    SMP_OK(doc,
           "{'spec':{'volumes':[{'name':'v','source':{'$retainKeys':['nfs'],"
           "'nfs':{'server':'s'}}}]}}",
           "{'spec':{'volumes':[{'name':'v','source':{'nfs':{'path':'/a','server':'s'}}}]}}");
    SMP_OK(doc,
           "{'spec':{'volumes':[{'name':'v','source':{'$retainKeys':['emptyDir'],"
           "'emptyDir':{}}}]}}",
           "{'spec':{'volumes':[{'name':'v','source':{'emptyDir':{}}}]}}");
    SMP_OK(doc, "{'spec':{'volumes':[{'name':'v','source':{'$retainKeys':[]}}]}}",
           "{'spec':{'volumes':[{'name':'v','source':{}}]}}");
    /* a null member need not be listed */
    SMP_OK(doc,
           "{'spec':{'volumes':[{'name':'v','source':{'$retainKeys':['nfs'],"
           "'hostPath':null}}]}}",
           "{'spec':{'volumes':[{'name':'v','source':{'nfs':{'path':'/a'}}}]}}");
    /* works on any map, also at the top level */
    SMP_OK("{'a':1,'b':2,'c':3}", "{'$retainKeys':['a','c'],'c':4}", "{'a':1,'c':4}");

    SMP_FAIL(doc,
             "{'spec':{'volumes':[{'name':'v','source':{'$retainKeys':['nfs'],"
             "'hostPath':{}}}]}}",
             "\"hostPath\" that its $retainKeys directive does not list");
    SMP_FAIL(doc, "{'spec':{'volumes':[{'name':'v','source':{'$retainKeys':'nfs'}}]}}",
             "not a list of field names");
    SMP_FAIL(doc, "{'spec':{'volumes':[{'name':'v','source':{'$retainKeys':[1]}}]}}",
             "not a list of field names");
}

static void test_smp_element_order(void **state)
{
    const char *doc = "{'spec':{'containers':[{'name':'a'},{'name':'b'},{'name':'c'}],"
                      "'hosts':['x','y','z']}}";

    /* the patch's elements in the directive's order; the others stay */
    SMP_OK(doc,
           "{'spec':{'$setElementOrder/containers':[{'name':'c'},{'name':'b'},{'name':'a'}],"
           "'containers':[{'name':'b','v':1}]}}",
           "{'spec':{'containers':[{'name':'c'},{'name':'b','v':1},{'name':'a'}],"
           "'hosts':['x','y','z']}}");
    /* a new element placed where the directive says */
    SMP_OK(doc,
           "{'spec':{'$setElementOrder/containers':[{'name':'a'},{'name':'b'},{'name':'c'},"
           "{'name':'d'}],'containers':[{'name':'d'}]}}",
           "{'spec':{'containers':[{'name':'a'},{'name':'b'},{'name':'c'},{'name':'d'}],"
           "'hosts':['x','y','z']}}");
    /* an element the directive does not name keeps its place before the
     * next one it did precede */
    SMP_OK(doc,
           "{'spec':{'$setElementOrder/containers':[{'name':'c'},{'name':'a'}],"
           "'containers':[{'name':'c'},{'name':'a'}]}}",
           "{'spec':{'containers':[{'name':'b'},{'name':'c'},{'name':'a'}],"
           "'hosts':['x','y','z']}}");
    /* a list the patch does not touch otherwise */
    SMP_OK(doc, "{'spec':{'$setElementOrder/containers':[{'name':'b'},{'name':'a'},{'name':'c'}]}}",
           "{'spec':{'containers':[{'name':'b'},{'name':'a'},{'name':'c'}],"
           "'hosts':['x','y','z']}}");
    /* a set, by value */
    SMP_OK(doc, "{'spec':{'$setElementOrder/hosts':['z','y','x'],'hosts':['y']}}",
           "{'spec':{'containers':[{'name':'a'},{'name':'b'},{'name':'c'}],"
           "'hosts':['z','y','x']}}");
    /* y, not named, came before z in the list as stored */
    SMP_OK(doc, "{'spec':{'$setElementOrder/hosts':['z','w','x'],'hosts':['w']}}",
           "{'spec':{'containers':[{'name':'a'},{'name':'b'},{'name':'c'}],"
           "'hosts':['y','z','w','x']}}");
    /* for a list that is absent, nothing happens */
    SMP_OK("{}", "{'spec':{'$setElementOrder/hosts':['a']}}", "{'spec':{}}");

    /* it must name the patch's elements, in the patch's order */
    SMP_FAIL(doc,
             "{'spec':{'$setElementOrder/containers':[{'name':'a'}],"
             "'containers':[{'name':'b'}]}}",
             "$setElementOrder");
    SMP_FAIL(doc,
             "{'spec':{'$setElementOrder/containers':[{'name':'a'},{'name':'b'}],"
             "'containers':[{'name':'b'},{'name':'a'}]}}",
             "in the patch's order");
    SMP_FAIL(doc, "{'spec':{'$setElementOrder/containers':{'name':'a'}}}", "not a list");
}

/* Merging long lists is linear: 20000 against 20000 finishes at once. */
static void test_smp_large(void **state)
{
    json_t *doc = json_object(), *patch = json_object();
    json_t *dl = json_array(), *pl = json_array(), *out;
    err_t err = ERR_INIT;
    gint64 t0;

    for (int i = 0; i < 20000; i++) {
        char name[32];
        snprintf(name, sizeof(name), "c%06d", i);
        json_array_append_new(dl, json_pack("{s:s,s:i}", "name", name, "v", i));
        snprintf(name, sizeof(name), "c%06d", 2 * i);
        json_array_append_new(pl, json_pack("{s:s,s:i}", "name", name, "w", i));
    }
    json_object_set_new(doc, "spec", json_pack("{s:o}", "containers", dl));
    json_object_set_new(patch, "spec", json_pack("{s:o}", "containers", pl));
    t0 = g_get_monotonic_time();
    out = patch_strategic_apply(doc, patch, smp_schema, &err);
    assert_non_null(out);
    /* 20000 old, 10000 of them patched, 10000 new */
    assert_int_equal(json_array_size(json_path_get(out, "spec.containers")), 30000);
    /* generous: a quadratic merge takes minutes */
    assert_true(g_get_monotonic_time() - t0 < 20 * G_USEC_PER_SEC);
    json_decref(out);
    json_decref(doc);
    json_decref(patch);
}

/* Failures anywhere leave the input as it was (check_fail verifies). */
static void test_smp_atomic(void **state)
{
    SMP_FAIL("{'spec':{'labels':{'a':'1'},'containers':[{'name':'a','image':'x'}]}}",
             "{'spec':{'labels':{'a':null,'b':'2'},"
             "'containers':[{'name':'a','image':'y'},{'image':'z'}]}}",
             "merge key");
    SMP_FAIL("{'a':{'b':{'c':1}}}", "{'a':{'b':{'c':2,'d':{'$patch':'x'}}}}",
             "at a.b.d");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_add),
        cmocka_unit_test(test_json_remove),
        cmocka_unit_test(test_json_replace),
        cmocka_unit_test(test_json_move),
        cmocka_unit_test(test_json_copy),
        cmocka_unit_test(test_json_copy_limit),
        cmocka_unit_test(test_json_test),
        cmocka_unit_test(test_json_pointers),
        cmocka_unit_test(test_json_pointer_length),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_json_atomic),
        cmocka_unit_test(test_json_limits),
        cmocka_unit_test(test_merge_rfc7386),
        cmocka_unit_test(test_merge_more),
        cmocka_unit_test(test_smp_no_schema),
        cmocka_unit_test(test_smp_keyed_lists),
        cmocka_unit_test(test_smp_plain_lists),
        cmocka_unit_test(test_smp_sets),
        cmocka_unit_test(test_smp_list_directives),
        cmocka_unit_test(test_smp_map_directives),
        cmocka_unit_test(test_smp_retain_keys),
        cmocka_unit_test(test_smp_element_order),
        cmocka_unit_test(test_smp_large),
        cmocka_unit_test(test_smp_atomic),
    };
    return cmocka_run_group_tests(tests, smp_setup, smp_teardown);
}
