/*
 * test_pb: Kubernetes protobuf bodies to JSON.  Inputs are built with the
 * small encoder below; each kind, each field kind, presence rules, merging,
 * Time, skipped unknown fields, every malformed-input error, unsupported
 * kinds, and a sweep of truncated, mutated and random inputs that must only
 * return cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "model/pb.h"
#include "util/jsonutil.h"

/* ---- a tiny protobuf encoder ------------------------------------------------ */

enum { W_VARINT = 0, W_FIXED64 = 1, W_LEN = 2, W_FIXED32 = 5 };

static GByteArray *enc_new(void)
{
    return g_byte_array_new();
}

static void enc_raw(GByteArray *w, const void *data, size_t len)
{
    g_byte_array_append(w, data, (guint)len);
}

static void enc_varint(GByteArray *w, uint64_t v)
{
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            b |= 0x80;
        g_byte_array_append(w, &b, 1);
    } while (v);
}

static void enc_tag(GByteArray *w, uint32_t number, int wire)
{
    enc_varint(w, ((uint64_t)number << 3) | (uint64_t)wire);
}

static void enc_uint(GByteArray *w, uint32_t number, uint64_t v)
{
    enc_tag(w, number, W_VARINT);
    enc_varint(w, v);
}

static void enc_bytes(GByteArray *w, uint32_t number, const void *data, size_t len)
{
    enc_tag(w, number, W_LEN);
    enc_varint(w, len);
    enc_raw(w, data, len);
}

static void enc_str(GByteArray *w, uint32_t number, const char *s)
{
    enc_bytes(w, number, s, strlen(s));
}

/* Field `number` holding the bytes of sub, which is freed. */
static void enc_msg(GByteArray *w, uint32_t number, GByteArray *sub)
{
    enc_bytes(w, number, sub->data, sub->len);
    g_byte_array_unref(sub);
}

static void enc_entry(GByteArray *w, uint32_t number, const char *key, const void *val,
                      size_t val_len)
{
    GByteArray *e = enc_new();
    enc_str(e, 1, key);
    enc_bytes(e, 2, val, val_len);
    enc_msg(w, number, e);
}

static void enc_entry_str(GByteArray *w, uint32_t number, const char *key, const char *val)
{
    enc_entry(w, number, key, val, strlen(val));
}

static GByteArray *enc_time(int64_t seconds, int32_t nanos)
{
    GByteArray *t = enc_new();
    enc_uint(t, 1, (uint64_t)seconds);
    if (nanos)
        enc_uint(t, 2, (uint64_t)(int64_t)nanos);
    return t;
}

/* One field of every wire type, numbered from `from`, for skipping. */
static void enc_unknowns(GByteArray *w, uint32_t from)
{
    static const uint8_t eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    enc_uint(w, from, UINT64_MAX);
    enc_tag(w, from + 1, W_FIXED64);
    enc_raw(w, eight, 8);
    enc_bytes(w, from + 2, "\xff\xfe not text", 11);
    enc_tag(w, from + 3, W_FIXED32);
    enc_raw(w, eight, 4);
}

/* The whole body: magic, then runtime.Unknown{typeMeta, raw} (raw freed). */
static GByteArray *enc_body(const char *api_version, const char *kind, GByteArray *raw)
{
    GByteArray *w = enc_new(), *tm = enc_new();
    enc_raw(w, "k8s\0", 4);
    enc_str(tm, 1, api_version);
    enc_str(tm, 2, kind);
    enc_msg(w, 1, tm);
    if (raw)
        enc_msg(w, 2, raw);
    return w;
}

/* ObjectMeta as Go writes it: every non-pointer field, even when empty. */
static GByteArray *enc_meta_go(const char *name, const char *ns)
{
    GByteArray *m = enc_new();
    enc_str(m, 1, name);
    enc_str(m, 2, "");
    enc_str(m, 3, ns);
    enc_str(m, 4, "");
    enc_str(m, 5, "");
    enc_str(m, 6, "");
    enc_uint(m, 7, 0);
    enc_bytes(m, 8, "", 0);
    return m;
}

/* ---- checks ------------------------------------------------------------------ */

static void check_equal(json_t *got, const char *want, const char *what)
{
    json_error_t je;
    json_t *w = json_loads(want, 0, &je);
    if (!w)
        fail_msg("bad expectation %s: %s", want, je.text);
    if (!json_equal(got, w)) {
        char *dump = json_dump_compact(got);
        fail_msg("%s gave %s, want %s", what, dump, want);
    }
    json_decref(w);
}

static void expect_object(GByteArray *body, const char *want)
{
    err_t err = ERR_INIT;
    json_t *v = pb_decode_object(body->data, body->len, &err);
    if (!v)
        fail_msg("pb_decode_object failed: %s", err.msg);
    assert_false(err_is_set(&err));
    check_equal(v, want, "pb_decode_object");
    json_decref(v);
    g_byte_array_unref(body);
}

static void check_error(const err_t *err, err_code_t code, const char *needle)
{
    size_t n = strlen(err->msg);
    assert_int_equal(err->code, code);
    if (!strstr(err->msg, needle))
        fail_msg("error \"%s\" lacks \"%s\"", err->msg, needle);
    /* Whole sentences. */
    assert_true(err->msg[0] >= 'A' && err->msg[0] <= 'Z');
    assert_true(n > 0 && err->msg[n - 1] == '.');
}

static void expect_fail(GByteArray *body, err_code_t code, const char *needle)
{
    err_t err = ERR_INIT;
    json_t *v = pb_decode_object(body->data, body->len, &err);
    if (v) {
        char *dump = json_dump_compact(v);
        fail_msg("pb_decode_object should fail with \"%s\", gave %s", needle, dump);
    }
    check_error(&err, code, needle);
    err_clear(&err);
    g_byte_array_unref(body);
}

/* A Secret whose raw is `raw`, which must fail with ERR_BAD_REQUEST. */
static void expect_bad_secret(GByteArray *raw, const char *needle)
{
    expect_fail(enc_body("v1", "Secret", raw), ERR_BAD_REQUEST, needle);
}

/* ---- a table that uses every field kind ------------------------------------- */

static const pb_message_t t_child;
static const pb_field_t t_child_fields[] = {
    {1, "s", PB_STRING, PB_ALWAYS, NULL},
    {2, "p", PB_INT64, PB_POINTER, NULL},
    {.name = NULL},
};
static const pb_message_t t_child = {"Child", t_child_fields};

static const pb_field_t t_all_fields[] = {
    {1, "str", PB_STRING, PB_OMITEMPTY, NULL},
    {2, "bin", PB_BYTES, PB_OMITEMPTY, NULL},
    {3, "i64", PB_INT64, PB_OMITEMPTY, NULL},
    {4, "i32", PB_INT32, PB_OMITEMPTY, NULL},
    {5, "flag", PB_BOOL, PB_OMITEMPTY, NULL},
    {6, "child", PB_MESSAGE, PB_POINTER, &t_child},
    {7, "when", PB_TIME, PB_POINTER, NULL},
    {8, "strs", PB_REPEATED_STRING, PB_OMITEMPTY, NULL},
    {9, "kids", PB_REPEATED_MESSAGE, PB_OMITEMPTY, &t_child},
    {10, "smap", PB_MAP_STRING, PB_OMITEMPTY, NULL},
    {11, "bmap", PB_MAP_BYTES, PB_OMITEMPTY, NULL},
    {12, "pstr", PB_STRING, PB_POINTER, NULL},
    {13, "pbool", PB_BOOL, PB_POINTER, NULL},
    {14, "pi32", PB_INT32, PB_POINTER, NULL},
    {15, "pbin", PB_BYTES, PB_POINTER, NULL},
    {.name = NULL},
};
static const pb_message_t t_all = {"All", t_all_fields};

/* Every kind with PB_ALWAYS: the zero values of Go's encoding/json. */
static const pb_field_t t_always_fields[] = {
    {1, "str", PB_STRING, PB_ALWAYS, NULL},
    {2, "bin", PB_BYTES, PB_ALWAYS, NULL},
    {3, "i64", PB_INT64, PB_ALWAYS, NULL},
    {4, "i32", PB_INT32, PB_ALWAYS, NULL},
    {5, "flag", PB_BOOL, PB_ALWAYS, NULL},
    {6, "child", PB_MESSAGE, PB_ALWAYS, &t_child},
    {7, "when", PB_TIME, PB_ALWAYS, NULL},
    {8, "strs", PB_REPEATED_STRING, PB_ALWAYS, NULL},
    {9, "kids", PB_REPEATED_MESSAGE, PB_ALWAYS, &t_child},
    {10, "smap", PB_MAP_STRING, PB_ALWAYS, NULL},
    {11, "bmap", PB_MAP_BYTES, PB_ALWAYS, NULL},
    {.name = NULL},
};
static const pb_message_t t_always = {"Always", t_always_fields};

/* A message that holds itself, to reach the depth limit. */
static const pb_message_t t_node;
static const pb_field_t t_node_fields[] = {
    {1, "next", PB_MESSAGE, PB_OMITEMPTY, &t_node},
    {2, "list", PB_REPEATED_MESSAGE, PB_OMITEMPTY, &t_node},
    {3, "leaf", PB_STRING, PB_OMITEMPTY, NULL},
    {.name = NULL},
};
static const pb_message_t t_node = {"Node", t_node_fields};

/* A table that reaches itself through PB_ALWAYS, which tables must not do. */
static const pb_message_t t_loop;
static const pb_field_t t_loop_fields[] = {
    {1, "self", PB_MESSAGE, PB_ALWAYS, &t_loop},
    {.name = NULL},
};
static const pb_message_t t_loop = {"Loop", t_loop_fields};

static void expect_message(const pb_message_t *m, GByteArray *w, const char *want)
{
    err_t err = ERR_INIT;
    json_t *v = pb_decode_message(m, w->data, w->len, &err);
    if (!v)
        fail_msg("pb_decode_message(%s) failed: %s", m->name, err.msg);
    check_equal(v, want, m->name);
    json_decref(v);
    g_byte_array_unref(w);
}

static void expect_message_fails(const pb_message_t *m, GByteArray *w, const char *needle)
{
    err_t err = ERR_INIT;
    json_t *v = pb_decode_message(m, w->data, w->len, &err);
    if (v) {
        char *dump = json_dump_compact(v);
        fail_msg("pb_decode_message(%s) should fail with \"%s\", gave %s", m->name, needle,
                 dump);
    }
    check_error(&err, ERR_BAD_REQUEST, needle);
    err_clear(&err);
    g_byte_array_unref(w);
}

/* ---- the kinds --------------------------------------------------------------- */

static void test_namespace(void **state)
{
    (void)state;
    GByteArray *raw = enc_new(), *meta = enc_meta_go("pb1", ""), *spec = enc_new();
    GByteArray *status = enc_new();

    enc_entry_str(meta, 11, "team", "a");
    enc_entry_str(meta, 12, "note", "hello");
    enc_msg(raw, 1, meta);
    enc_str(spec, 1, "kubernetes");
    enc_str(spec, 1, "example.com/x");
    enc_msg(raw, 2, spec);
    enc_str(status, 1, "Active");
    enc_msg(raw, 3, status);
    expect_object(enc_body("v1", "Namespace", raw),
                  "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"pb1\","
                  "\"creationTimestamp\":null,\"labels\":{\"team\":\"a\"},"
                  "\"annotations\":{\"note\":\"hello\"}},\"spec\":{\"finalizers\":"
                  "[\"kubernetes\",\"example.com/x\"]},\"status\":{\"phase\":\"Active\"}}");

    /* What kubectl create namespace sends: empty spec and status. */
    raw = enc_new();
    enc_msg(raw, 1, enc_meta_go("pb1", ""));
    enc_bytes(raw, 2, "", 0);
    enc_bytes(raw, 3, "", 0);
    expect_object(enc_body("v1", "Namespace", raw),
                  "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"pb1\","
                  "\"creationTimestamp\":null},\"spec\":{},\"status\":{}}");

    /* No raw at all: the zero Namespace, as Go would print it. */
    expect_object(enc_body("v1", "Namespace", NULL),
                  "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":"
                  "{\"creationTimestamp\":null},\"spec\":{},\"status\":{}}");
}

static void test_secret(void **state)
{
    (void)state;
    GByteArray *raw = enc_new();

    /* As kubectl create secret generic s1 -n pb1 --from-literal=a=b. */
    enc_msg(raw, 1, enc_meta_go("s1", "pb1"));
    enc_entry_str(raw, 2, "a", "b");
    enc_str(raw, 3, "Opaque");
    expect_object(enc_body("v1", "Secret", raw),
                  "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"s1\","
                  "\"namespace\":\"pb1\",\"creationTimestamp\":null},\"data\":{\"a\":\"Yg==\"},"
                  "\"type\":\"Opaque\"}");

    /* Binary data, stringData, immutable, an empty value. */
    raw = enc_new();
    enc_msg(raw, 1, enc_meta_go("s2", "pb1"));
    enc_entry(raw, 2, "bin", "\x00\xff\xfe\x80", 4);
    enc_entry(raw, 2, "empty", "", 0);
    enc_entry_str(raw, 4, "plain", "text");
    enc_uint(raw, 5, 1);
    expect_object(enc_body("v1", "Secret", raw),
                  "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"s2\","
                  "\"namespace\":\"pb1\",\"creationTimestamp\":null},\"data\":{\"bin\":"
                  "\"AP/+gA==\",\"empty\":\"\"},\"stringData\":{\"plain\":\"text\"},"
                  "\"immutable\":true}");

    /* An empty type is omitted; immutable=false is kept (a pointer). */
    raw = enc_new();
    enc_str(raw, 3, "");
    enc_uint(raw, 5, 0);
    expect_object(enc_body("v1", "Secret", raw),
                  "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":"
                  "{\"creationTimestamp\":null},\"immutable\":false}");
}

static void test_config_map(void **state)
{
    (void)state;
    GByteArray *raw = enc_new();

    enc_msg(raw, 1, enc_meta_go("c1", "pb1"));
    enc_entry_str(raw, 2, "x", "y");
    enc_entry_str(raw, 2, "multi", "line one\nline two\n");
    enc_entry(raw, 3, "blob", "\x01\x02\x03", 3);
    enc_uint(raw, 4, 0);
    expect_object(enc_body("v1", "ConfigMap", raw),
                  "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"c1\","
                  "\"namespace\":\"pb1\",\"creationTimestamp\":null},\"data\":{\"x\":\"y\","
                  "\"multi\":\"line one\\nline two\\n\"},\"binaryData\":{\"blob\":\"AQID\"},"
                  "\"immutable\":false}");
}

static void test_object_meta(void **state)
{
    (void)state;
    GByteArray *raw = enc_new(), *meta = enc_new(), *ref = enc_new();

    enc_str(meta, 1, "n");
    enc_str(meta, 2, "gen-");
    enc_str(meta, 3, "ns");
    enc_str(meta, 4, "/api/v1/namespaces/ns/configmaps/n");
    enc_str(meta, 5, "6b5ac1b4-4d0f-4c4e-9d59-1d1b8f1c9a01");
    enc_str(meta, 6, "42");
    enc_uint(meta, 7, 3);
    enc_msg(meta, 8, enc_time(1795802400, 0));
    enc_msg(meta, 9, enc_time(1795802460, 999999999));
    enc_uint(meta, 10, 0); /* a pointer: 0 stays */
    enc_entry_str(meta, 11, "app", "web");
    enc_entry_str(meta, 11, "tier", "");
    enc_entry_str(meta, 12, "a.example.com/b", "{\"json\": true}");
    enc_str(ref, 5, "v1");
    enc_str(ref, 1, "ConfigMap");
    enc_str(ref, 3, "owner");
    enc_str(ref, 4, "u-1");
    enc_uint(ref, 6, 1);
    enc_uint(ref, 7, 0);
    enc_msg(meta, 13, ref);
    ref = enc_new();
    enc_str(ref, 4, "u-2");
    enc_msg(meta, 13, ref);
    enc_str(meta, 14, "example.com/f1");
    enc_str(meta, 14, "f2");
    enc_bytes(meta, 17, "\x0a\x02zz", 4); /* managedFields: skipped */
    enc_msg(raw, 1, meta);
    expect_object(
        enc_body("v1", "ConfigMap", raw),
        "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"n\","
        "\"generateName\":\"gen-\",\"namespace\":\"ns\",\"selfLink\":"
        "\"/api/v1/namespaces/ns/configmaps/n\",\"uid\":\"6b5ac1b4-4d0f-4c4e-9d59-1d1b8f1c9a01\","
        "\"resourceVersion\":\"42\",\"generation\":3,\"creationTimestamp\":"
        "\"2026-11-27T18:00:00Z\",\"deletionTimestamp\":\"2026-11-27T18:01:00Z\","
        "\"deletionGracePeriodSeconds\":0,\"labels\":{\"app\":\"web\",\"tier\":\"\"},"
        "\"annotations\":{\"a.example.com/b\":\"{\\\"json\\\": true}\"},\"ownerReferences\":"
        "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"u-1\","
        "\"controller\":true,\"blockOwnerDeletion\":false},{\"apiVersion\":\"\",\"kind\":\"\","
        "\"name\":\"\",\"uid\":\"u-2\"}],\"finalizers\":[\"example.com/f1\",\"f2\"]}}");
}

/* ---- field kinds, presence, merging ------------------------------------------ */

static void test_field_kinds(void **state)
{
    (void)state;
    GByteArray *w = enc_new(), *kid = enc_new();

    enc_str(w, 1, "héllo \xe2\x9c\x93");
    enc_bytes(w, 2, "\xff\x00\x10", 3);
    enc_uint(w, 3, (uint64_t)INT64_C(-5)); /* ten bytes */
    enc_uint(w, 4, UINT64_C(0x100000005)); /* Go keeps the low 32 bits */
    enc_uint(w, 5, 2);                      /* any non-zero varint is true */
    enc_str(kid, 1, "k");
    enc_msg(w, 6, kid);
    enc_msg(w, 7, enc_time(0, 0));
    enc_str(w, 8, "a");
    enc_str(w, 8, "");
    enc_str(w, 8, "c");
    kid = enc_new();
    enc_uint(kid, 2, 9);
    enc_msg(w, 9, kid);
    enc_bytes(w, 9, "", 0);
    enc_entry_str(w, 10, "k", "v");
    enc_entry(w, 11, "k", "\xfb\xff", 2);
    enc_uint(w, 14, UINT64_C(0xffffffff));
    expect_message(&t_all, w,
                   "{\"str\":\"héllo ✓\",\"bin\":\"/wAQ\",\"i64\":-5,\"i32\":5,\"flag\":true,"
                   "\"child\":{\"s\":\"k\"},\"when\":\"1970-01-01T00:00:00Z\","
                   "\"strs\":[\"a\",\"\",\"c\"],\"kids\":[{\"s\":\"\",\"p\":9},{\"s\":\"\"}],"
                   "\"smap\":{\"k\":\"v\"},\"bmap\":{\"k\":\"+/8=\"},\"pi32\":-1}");

    /* Extremes of int64 and int32. */
    w = enc_new();
    enc_uint(w, 3, (uint64_t)INT64_MIN);
    enc_uint(w, 4, UINT64_C(0x80000000));
    expect_message(&t_all, w, "{\"i64\":-9223372036854775808,\"i32\":-2147483648}");
    w = enc_new();
    enc_uint(w, 3, (uint64_t)INT64_MAX);
    enc_uint(w, 4, UINT64_C(0x7fffffff));
    expect_message(&t_all, w, "{\"i64\":9223372036854775807,\"i32\":2147483647}");

    /* A NUL inside a string value is kept, as in JSON bodies. */
    w = enc_new();
    enc_bytes(w, 1, "a\0b", 3);
    {
        err_t err = ERR_INIT;
        json_t *v = pb_decode_message(&t_all, w->data, w->len, &err);
        assert_non_null(v);
        assert_int_equal(json_string_length(json_object_get(v, "str")), 3);
        assert_memory_equal(json_string_value(json_object_get(v, "str")), "a\0b", 3);
        json_decref(v);
        g_byte_array_unref(w);
    }
}

static void test_presence(void **state)
{
    (void)state;
    GByteArray *w = enc_new();

    /* Omitempty zero values are left out; pointers are kept even when zero. */
    enc_str(w, 1, "");
    enc_bytes(w, 2, "", 0);
    enc_uint(w, 3, 0);
    enc_uint(w, 4, UINT64_C(0x100000000)); /* zero once truncated */
    enc_uint(w, 5, 0);
    enc_str(w, 12, "");
    enc_uint(w, 13, 0);
    enc_uint(w, 14, 0);
    enc_bytes(w, 15, "", 0);
    enc_bytes(w, 7, "", 0); /* the zero time */
    enc_bytes(w, 6, "", 0); /* an empty message is still there */
    expect_message(&t_all, w,
                   "{\"pstr\":\"\",\"pbool\":false,\"pi32\":0,\"pbin\":\"\",\"when\":null,"
                   "\"child\":{\"s\":\"\"}}");

    /* Nothing at all. */
    expect_message(&t_all, enc_new(), "{}");

    /* PB_ALWAYS fields come out as Go's zero values when absent. */
    expect_message(&t_always, enc_new(),
                   "{\"str\":\"\",\"bin\":null,\"i64\":0,\"i32\":0,\"flag\":false,"
                   "\"child\":{\"s\":\"\"},\"when\":null,\"strs\":null,\"kids\":null,"
                   "\"smap\":null,\"bmap\":null}");

    /* ... and keep what the wire says when present, zero or not. */
    w = enc_new();
    enc_str(w, 1, "");
    enc_uint(w, 3, 0);
    enc_str(w, 8, "x");
    enc_entry_str(w, 10, "k", "v");
    expect_message(&t_always, w,
                   "{\"str\":\"\",\"bin\":null,\"i64\":0,\"i32\":0,\"flag\":false,"
                   "\"child\":{\"s\":\"\"},\"when\":null,\"strs\":[\"x\"],\"kids\":null,"
                   "\"smap\":{\"k\":\"v\"},\"bmap\":null}");
}

static void test_merge(void **state)
{
    (void)state;
    GByteArray *w = enc_new(), *kid = enc_new();

    /* Scalars: the last one wins, and an omitempty zero erases. */
    enc_str(w, 1, "first");
    enc_str(w, 1, "second");
    enc_uint(w, 3, 7);
    enc_uint(w, 3, 0);
    enc_uint(w, 5, 1);
    enc_uint(w, 5, 1);
    /* Messages merge. */
    enc_str(kid, 1, "s");
    enc_msg(w, 6, kid);
    kid = enc_new();
    enc_uint(kid, 2, 4);
    enc_msg(w, 6, kid);
    /* Lists and maps accumulate; a repeated map key keeps the last value. */
    enc_str(w, 8, "a");
    enc_str(w, 1, "third");
    enc_str(w, 8, "b");
    enc_entry_str(w, 10, "k", "1");
    enc_entry_str(w, 10, "j", "2");
    enc_entry_str(w, 10, "k", "3");
    /* The last time wins. */
    enc_msg(w, 7, enc_time(86400, 0));
    enc_bytes(w, 7, "", 0);
    expect_message(&t_all, w,
                   "{\"str\":\"third\",\"flag\":true,\"child\":{\"s\":\"s\",\"p\":4},"
                   "\"strs\":[\"a\",\"b\"],\"smap\":{\"k\":\"3\",\"j\":\"2\"},\"when\":null}");

    /* A second metadata merges into the first, over its defaults. */
    GByteArray *raw = enc_new(), *meta = enc_new();
    enc_str(meta, 1, "x");
    enc_msg(raw, 1, meta);
    meta = enc_new();
    enc_msg(meta, 8, enc_time(1795802400, 0));
    enc_str(meta, 14, "f");
    enc_msg(raw, 1, meta);
    expect_object(enc_body("v1", "ConfigMap", raw),
                  "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"x\","
                  "\"creationTimestamp\":\"2026-11-27T18:00:00Z\",\"finalizers\":[\"f\"]}}");

    /* Map entries: a missing value is the zero value; the key may be empty;
     * a key or value given twice keeps the last one. */
    w = enc_new();
    GByteArray *e = enc_new();
    enc_str(e, 1, "novalue");
    enc_msg(w, 10, e);
    enc_entry_str(w, 10, "", "empty key");
    e = enc_new();
    enc_str(e, 2, "v1");
    enc_str(e, 1, "k1");
    enc_str(e, 1, "k2");
    enc_str(e, 2, "v2");
    enc_msg(w, 10, e);
    e = enc_new();
    enc_str(e, 1, "b");
    enc_msg(w, 11, e);
    expect_message(&t_all, w,
                   "{\"smap\":{\"novalue\":\"\",\"\":\"empty key\",\"k2\":\"v2\"},"
                   "\"bmap\":{\"b\":\"\"}}");
}

static void test_time(void **state)
{
    (void)state;
    static const struct {
        int64_t seconds;
        int32_t nanos;
        const char *want;
    } cases[] = {
        {0, 0, "1970-01-01T00:00:00Z"},
        {0, 5, "1970-01-01T00:00:00Z"},
        {1795802400, 0, "2026-11-27T18:00:00Z"},
        {1795802400, 999999999, "2026-11-27T18:00:00Z"},
        {-1, 0, "1969-12-31T23:59:59Z"},
        {-86400, 0, "1969-12-31T00:00:00Z"},
        {951827696, 0, "2000-02-29T12:34:56Z"},
        {951868800, 0, "2000-03-01T00:00:00Z"},
        {-2203891200, 0, "1900-03-01T00:00:00Z"},
        {-2203977600, 0, "1900-02-28T00:00:00Z"},
        {4107542400, 0, "2100-03-01T00:00:00Z"},
        {-62135596800, 0, "0001-01-01T00:00:00Z"},
        {-62167219200, 0, "0000-01-01T00:00:00Z"},
        {253402300799, 0, "9999-12-31T23:59:59Z"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char want[80];
        GByteArray *w = enc_new();
        enc_msg(w, 7, enc_time(cases[i].seconds, cases[i].nanos));
        snprintf(want, sizeof(want), "{\"when\":\"%s\"}", cases[i].want);
        expect_message(&t_all, w, want);
    }

    /* Empty: the zero time, null. Only unknown fields: the epoch. */
    GByteArray *w = enc_new();
    enc_bytes(w, 7, "", 0);
    expect_message(&t_all, w, "{\"when\":null}");
    w = enc_new();
    GByteArray *t = enc_new();
    enc_unknowns(t, 3);
    enc_msg(w, 7, t);
    expect_message(&t_all, w, "{\"when\":\"1970-01-01T00:00:00Z\"}");

    /* Out of range. */
    w = enc_new();
    enc_msg(w, 7, enc_time(253402300800, 0));
    expect_message_fails(&t_all, w, "outside the years 0 to 9999");
    w = enc_new();
    enc_msg(w, 7, enc_time(-62167219201, 0));
    expect_message_fails(&t_all, w, "outside the years 0 to 9999");
    w = enc_new();
    enc_msg(w, 7, enc_time(INT64_MIN, 0));
    expect_message_fails(&t_all, w, "All.when holds a time outside");
    w = enc_new();
    enc_msg(w, 7, enc_time(INT64_MAX, 0));
    expect_message_fails(&t_all, w, "All.when holds a time outside");

    /* Wrong wire types inside the Timestamp. */
    w = enc_new();
    t = enc_new();
    enc_str(t, 1, "1");
    enc_msg(w, 7, t);
    expect_message_fails(&t_all, w, "All.when has wire type 2 in its seconds");
    w = enc_new();
    t = enc_new();
    enc_tag(t, 2, W_FIXED32);
    enc_raw(t, "abcd", 4);
    enc_msg(w, 7, t);
    expect_message_fails(&t_all, w, "All.when has wire type 5 in its nanos");
}

static void test_unknown_fields(void **state)
{
    (void)state;
    GByteArray *w = enc_new(), *tm = enc_new(), *raw = enc_new(), *meta = enc_new();
    GByteArray *ref = enc_new(), *e = enc_new(), *t = enc_new();

    /* Everywhere: the envelope, TypeMeta, the object, metadata, an owner
     * reference, a map entry, a Timestamp. */
    enc_raw(w, "k8s\0", 4);
    enc_unknowns(w, 5);
    enc_unknowns(tm, 3);
    enc_str(tm, 1, "v1");
    enc_unknowns(tm, 100);
    enc_str(tm, 2, "ConfigMap");
    enc_msg(w, 1, tm);
    enc_unknowns(raw, 5);
    enc_unknowns(meta, 15);
    enc_unknowns(meta, 536870900); /* near the largest field number */
    enc_str(meta, 1, "u");
    enc_unknowns(ref, 8);
    enc_str(ref, 4, "id");
    enc_msg(meta, 13, ref);
    enc_unknowns(e, 3);
    enc_str(e, 1, "k");
    enc_str(e, 2, "v");
    enc_msg(meta, 11, e);
    enc_uint(t, 1, 60);
    enc_unknowns(t, 3);
    enc_msg(meta, 8, t);
    enc_msg(raw, 1, meta);
    enc_unknowns(raw, 1000);
    enc_msg(w, 2, raw);
    enc_unknowns(w, 9);
    expect_object(w, "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"u\","
                     "\"creationTimestamp\":\"1970-01-01T00:01:00Z\",\"labels\":{\"k\":\"v\"},"
                     "\"ownerReferences\":[{\"apiVersion\":\"\",\"kind\":\"\",\"name\":\"\","
                     "\"uid\":\"id\"}]}}");

    /* contentType may name protobuf itself. */
    w = enc_body("v1", "Namespace", NULL);
    enc_str(w, 4, "application/vnd.kubernetes.protobuf");
    enc_str(w, 3, "");
    expect_object(w, "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":"
                     "{\"creationTimestamp\":null},\"spec\":{},\"status\":{}}");
}

/* ---- errors ------------------------------------------------------------------- */

static void test_malformed_envelope(void **state)
{
    (void)state;
    GByteArray *w;

    w = enc_new();
    expect_fail(w, ERR_BAD_REQUEST, "does not start with the Kubernetes protobuf prefix");
    w = enc_new();
    enc_raw(w, "k8s", 3);
    expect_fail(w, ERR_BAD_REQUEST, "does not start with the Kubernetes protobuf prefix");
    w = enc_new();
    enc_raw(w, "{\"kind\":\"Secret\"}", 17);
    expect_fail(w, ERR_BAD_REQUEST, "does not start with the Kubernetes protobuf prefix");

    /* Only the magic: no typeMeta, so no kind. */
    w = enc_new();
    enc_raw(w, "k8s\0", 4);
    expect_fail(w, ERR_UNSUPPORTED_MEDIA, "Kind \"\" of apiVersion \"\"");

    /* typeMeta, raw, contentType with the wrong wire type. */
    w = enc_new();
    enc_raw(w, "k8s\0", 4);
    enc_uint(w, 1, 3);
    expect_fail(w, ERR_BAD_REQUEST, "field Unknown.typeMeta has wire type 0");
    w = enc_body("v1", "Secret", NULL);
    enc_uint(w, 2, 3);
    expect_fail(w, ERR_BAD_REQUEST, "field Unknown.raw has wire type 0");
    w = enc_body("v1", "Secret", NULL);
    enc_uint(w, 4, 3);
    expect_fail(w, ERR_BAD_REQUEST, "field Unknown.contentType has wire type 0");
    w = enc_new();
    enc_raw(w, "k8s\0", 4);
    GByteArray *tm = enc_new();
    enc_uint(tm, 2, 1);
    enc_msg(w, 1, tm);
    expect_fail(w, ERR_BAD_REQUEST, "field TypeMeta.kind has wire type 0");

    /* Bad text in TypeMeta and the encoding fields. */
    w = enc_body("v1", "Sec\xc3ret", NULL);
    expect_fail(w, ERR_BAD_REQUEST, "field TypeMeta.kind is not valid UTF-8");
    w = enc_new();
    enc_raw(w, "k8s\0", 4);
    tm = enc_new();
    enc_bytes(tm, 1, "v\0001", 3);
    enc_msg(w, 1, tm);
    expect_fail(w, ERR_BAD_REQUEST, "field TypeMeta.apiVersion is not valid UTF-8");
    w = enc_body("v1", "Secret", NULL);
    enc_str(w, 3, "\xff");
    expect_fail(w, ERR_BAD_REQUEST, "field Unknown.contentEncoding is not valid UTF-8");

    /* Truncated TypeMeta: the length is checked against the whole body. */
    w = enc_new();
    enc_raw(w, "k8s\0", 4);
    enc_tag(w, 1, W_LEN);
    enc_varint(w, 50);
    enc_raw(w, "\x0a\x02v1", 4);
    expect_fail(w, ERR_BAD_REQUEST, "field 1 of Unknown claims 50 bytes, but only 4 remain");
    /* Inside TypeMeta, against TypeMeta's own bytes. */
    w = enc_new();
    enc_raw(w, "k8s\0", 4);
    enc_bytes(w, 1, "\x0a\x05v1", 4);
    enc_str(w, 2, "trailing bytes that must not be read as TypeMeta");
    expect_fail(w, ERR_BAD_REQUEST, "field 1 of TypeMeta claims 5 bytes, but only 2 remain");
}

static void test_malformed_wire(void **state)
{
    (void)state;
    GByteArray *raw;

    /* Truncated varints: in a tag, in a value, in a length. */
    raw = enc_new();
    enc_raw(raw, "\x80", 1);
    expect_bad_secret(raw, "a varint in Secret ends before its last byte");
    raw = enc_new();
    enc_raw(raw, "\x28\xff\xff", 3);
    expect_bad_secret(raw, "a varint in Secret ends before its last byte");
    raw = enc_new();
    enc_raw(raw, "\x1a\x80", 2);
    expect_bad_secret(raw, "a varint in Secret ends before its last byte");
    /* Eleven bytes. */
    raw = enc_new();
    enc_raw(raw, "\x28\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
    expect_bad_secret(raw, "a varint in Secret is longer than 10 bytes");
    /* A ten-byte varint is fine even with high bits beyond 64 set. */
    raw = enc_new();
    enc_raw(raw, "\x28\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11);
    expect_object(enc_body("v1", "Secret", raw),
                  "{\"kind\":\"Secret\",\"apiVersion\":\"v1\",\"metadata\":"
                  "{\"creationTimestamp\":null},\"immutable\":true}");

    /* Lengths past the end. */
    raw = enc_new();
    enc_raw(raw, "\x1a\x07Opaque", 8);
    expect_bad_secret(raw, "field 3 of Secret claims 7 bytes, but only 6 remain");
    raw = enc_new();
    enc_raw(raw, "\x1a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);
    expect_bad_secret(raw, "field 3 of Secret claims 18446744073709551615 bytes");
    raw = enc_new();
    enc_tag(raw, 9, W_FIXED64);
    enc_raw(raw, "1234567", 7);
    expect_bad_secret(raw, "field 9 of Secret needs 8 bytes, but only 7 remain");
    raw = enc_new();
    enc_tag(raw, 9, W_FIXED32);
    enc_raw(raw, "123", 3);
    expect_bad_secret(raw, "field 9 of Secret needs 4 bytes, but only 3 remain");

    /* Wire types Kubernetes never uses (groups, 6, 7). */
    for (int wire = 3; wire <= 7; wire++) {
        char needle[64];
        if (wire == 5)
            continue;
        raw = enc_new();
        enc_tag(raw, 9, wire);
        enc_raw(raw, "\0\0\0\0\0\0\0\0", 8);
        snprintf(needle, sizeof(needle), "field 9 of Secret has wire type %d", wire);
        expect_bad_secret(raw, needle);
    }

    /* Field number 0, and one past the largest. */
    raw = enc_new();
    enc_raw(raw, "\x00\x01", 2);
    expect_bad_secret(raw, "Secret has a field numbered 0");
    raw = enc_new();
    enc_uint(raw, 1u << 29, 1);
    expect_bad_secret(raw, "Secret has a field numbered 536870912");
}

static void test_malformed_fields(void **state)
{
    (void)state;
    GByteArray *raw, *meta, *e, *ref;

    /* Wrong wire types for known fields of each kind. */
    raw = enc_new();
    enc_uint(raw, 1, 1);
    expect_bad_secret(raw, "field Secret.metadata has wire type 0, but its type needs wire "
                           "type 2");
    raw = enc_new();
    enc_bytes(raw, 5, "\x01", 1);
    expect_bad_secret(raw, "field Secret.immutable has wire type 2, but its type needs wire "
                           "type 0");
    raw = enc_new();
    meta = enc_new();
    enc_str(meta, 7, "3");
    enc_msg(raw, 1, meta);
    expect_bad_secret(raw, "field ObjectMeta.generation has wire type 2");
    raw = enc_new();
    meta = enc_new();
    enc_uint(meta, 14, 3);
    enc_msg(raw, 1, meta);
    expect_bad_secret(raw, "field ObjectMeta.finalizers has wire type 0");
    raw = enc_new();
    meta = enc_new();
    enc_uint(meta, 11, 3);
    enc_msg(raw, 1, meta);
    expect_bad_secret(raw, "field ObjectMeta.labels has wire type 0");
    raw = enc_new();
    meta = enc_new();
    enc_uint(meta, 8, 3);
    enc_msg(raw, 1, meta);
    expect_bad_secret(raw, "field ObjectMeta.creationTimestamp has wire type 0");
    raw = enc_new();
    meta = enc_new();
    ref = enc_new();
    enc_str(ref, 6, "yes");
    enc_msg(meta, 13, ref);
    enc_msg(raw, 1, meta);
    expect_bad_secret(raw, "field OwnerReference.controller has wire type 2");
    raw = enc_new();
    e = enc_new();
    enc_uint(e, 1, 3);
    enc_msg(raw, 2, e);
    expect_bad_secret(raw, "an entry of Secret.data has wire type 0 in its key");
    raw = enc_new();
    e = enc_new();
    enc_str(e, 1, "k");
    enc_tag(e, 2, W_FIXED64);
    enc_raw(e, "12345678", 8);
    enc_msg(raw, 4, e);
    expect_bad_secret(raw, "an entry of Secret.stringData has wire type 1 in its value");

    /* Bad UTF-8: string, list item, map key, map value (not in bytes maps). */
    raw = enc_new();
    enc_str(raw, 3, "Opa\xc0\xafque");
    expect_bad_secret(raw, "field Secret.type is not valid UTF-8");
    raw = enc_new();
    meta = enc_new();
    enc_str(meta, 1, "\xed\xa0\x80"); /* a surrogate */
    enc_msg(raw, 1, meta);
    expect_bad_secret(raw, "field ObjectMeta.name is not valid UTF-8");
    raw = enc_new();
    meta = enc_new();
    enc_str(meta, 14, "f\xff");
    enc_msg(raw, 1, meta);
    expect_bad_secret(raw, "field ObjectMeta.finalizers is not valid UTF-8");
    raw = enc_new();
    enc_entry_str(raw, 2, "k\xfe", "v");
    expect_bad_secret(raw, "a key of Secret.data is not valid UTF-8");
    raw = enc_new();
    enc_entry_str(raw, 4, "k", "\xf4\x90\x80\x80"); /* past U+10FFFF */
    expect_bad_secret(raw, "field Secret.stringData is not valid UTF-8");
    raw = enc_new();
    e = enc_new();
    enc_bytes(e, 1, "k\0j", 3);
    enc_msg(raw, 2, e);
    expect_bad_secret(raw, "a key of Secret.data contains a NUL byte");

    /* A map entry without a key. */
    raw = enc_new();
    e = enc_new();
    enc_str(e, 2, "v");
    enc_msg(raw, 2, e);
    expect_bad_secret(raw, "an entry of Secret.data has no key");
    raw = enc_new();
    enc_bytes(raw, 4, "", 0);
    expect_bad_secret(raw, "an entry of Secret.stringData has no key");

    /* Truncation inside a nested message is caught against its own bytes. */
    raw = enc_new();
    meta = enc_new();
    enc_raw(meta, "\x0a\x09name", 6);
    enc_msg(raw, 1, meta);
    enc_str(raw, 3, "Opaque");
    expect_bad_secret(raw, "field 1 of ObjectMeta claims 9 bytes, but only 4 remain");
}

static void test_depth(void **state)
{
    (void)state;
    GByteArray *w;

    /* Nested messages: JSON_MAX_DEPTH objects are fine, one more is not. */
    for (int levels = JSON_MAX_DEPTH - 1; levels <= JSON_MAX_DEPTH + 1; levels++) {
        err_t err = ERR_INIT;
        w = enc_new();
        enc_str(w, 3, "bottom");
        for (int i = 1; i < levels; i++) {
            GByteArray *outer = enc_new();
            enc_msg(outer, 1, w);
            w = outer;
        }
        json_t *v = pb_decode_message(&t_node, w->data, w->len, &err);
        if (levels <= JSON_MAX_DEPTH) {
            if (!v)
                fail_msg("%d levels failed: %s", levels, err.msg);
            assert_int_equal(json_depth(v, 1000), levels);
            json_decref(v);
        } else {
            assert_null(v);
            check_error(&err, ERR_BAD_REQUEST, "nests deeper than 100 levels");
            err_clear(&err);
        }
        g_byte_array_unref(w);
    }

    /* Lists count as a level too. */
    for (int levels = JSON_MAX_DEPTH - 1; levels <= JSON_MAX_DEPTH + 1; levels++) {
        err_t err = ERR_INIT;
        w = enc_new();
        enc_str(w, 3, "bottom");
        for (int i = 1; i + 1 < levels; i += 2) {
            GByteArray *outer = enc_new();
            enc_msg(outer, 2, w);
            w = outer;
        }
        if (levels % 2 == 0) {
            GByteArray *outer = enc_new();
            enc_msg(outer, 1, w);
            w = outer;
        }
        json_t *v = pb_decode_message(&t_node, w->data, w->len, &err);
        if (levels <= JSON_MAX_DEPTH) {
            if (!v)
                fail_msg("%d levels failed: %s", levels, err.msg);
            assert_int_equal(json_depth(v, 1000), levels);
            json_decref(v);
        } else {
            assert_null(v);
            check_error(&err, ERR_BAD_REQUEST, "nests deeper than 100 levels");
            err_clear(&err);
        }
        g_byte_array_unref(w);
    }

    /* A table that holds itself through PB_ALWAYS stops at the limit too
     * (the padding lifts the value budget above the depth limit). */
    static const uint8_t pad[200];
    w = enc_new();
    enc_bytes(w, 99, pad, sizeof(pad));
    expect_message_fails(&t_loop, w, "nests deeper than 100 levels");
}

static void test_budget(void **state)
{
    (void)state;
    GByteArray *raw = enc_new(), *meta = enc_new();

    /* Empty owner references cost two bytes and make five values each. */
    for (int i = 0; i < 10000; i++)
        enc_bytes(meta, 13, "", 0);
    enc_msg(raw, 1, meta);
    expect_bad_secret(raw, "would expand to more than");

    /* Go-encoded references with all their fields fit easily. */
    raw = enc_new();
    meta = enc_new();
    for (int i = 0; i < 2000; i++) {
        GByteArray *ref = enc_new();
        enc_str(ref, 1, "");
        enc_str(ref, 3, "");
        enc_str(ref, 4, "");
        enc_str(ref, 5, "");
        enc_msg(meta, 13, ref);
    }
    enc_msg(raw, 1, meta);
    GByteArray *body = enc_body("v1", "Secret", raw);
    err_t err = ERR_INIT;
    json_t *v = pb_decode_object(body->data, body->len, &err);
    if (!v)
        fail_msg("2000 owner references failed: %s", err.msg);
    assert_int_equal(json_array_size(json_path_get(v, "metadata.ownerReferences")), 2000);
    json_decref(v);
    g_byte_array_unref(body);
}

static void test_unsupported(void **state)
{
    (void)state;
    GByteArray *w;

    expect_fail(enc_body("v1", "Pod", enc_new()), ERR_UNSUPPORTED_MEDIA,
                "Kind \"Pod\" of apiVersion \"v1\" cannot be sent as protobuf; send the "
                "object as JSON or YAML instead");
    expect_fail(enc_body("apps/v1", "Secret", enc_new()), ERR_UNSUPPORTED_MEDIA,
                "send the object as JSON or YAML instead");
    expect_fail(enc_body("", "Secret", enc_new()), ERR_UNSUPPORTED_MEDIA,
                "Kind \"Secret\" of apiVersion \"\"");
    expect_fail(enc_body("v1", "secret", enc_new()), ERR_UNSUPPORTED_MEDIA, "JSON or YAML");
    expect_fail(enc_body("v1", "Secrets", enc_new()), ERR_UNSUPPORTED_MEDIA, "JSON or YAML");
    expect_fail(enc_body("v1", "", enc_new()), ERR_UNSUPPORTED_MEDIA, "JSON or YAML");
    char long_kind[300];
    memset(long_kind, 'K', sizeof(long_kind) - 1);
    long_kind[sizeof(long_kind) - 1] = '\0';
    expect_fail(enc_body("v1", long_kind, enc_new()), ERR_UNSUPPORTED_MEDIA,
                "This kind cannot be sent as protobuf; send the object as JSON or YAML");

    w = enc_body("v1", "Secret", NULL);
    enc_str(w, 3, "gzip");
    expect_fail(w, ERR_UNSUPPORTED_MEDIA, "JSON or YAML");
    w = enc_body("v1", "Secret", NULL);
    enc_str(w, 4, "application/json");
    expect_fail(w, ERR_UNSUPPORTED_MEDIA, "JSON or YAML");
}

/* ---- robustness ---------------------------------------------------------------- */

/* Decode must return cleanly: a value without an error, or NULL with one of
 * the two codes.  A value must be a JSON object that dumps. */
static void decode_cleanly(const uint8_t *data, size_t len)
{
    err_t err = ERR_INIT;
    /* A copy of exactly len bytes, so that ASan sees any read past it. */
    uint8_t *copy = g_memdup2(data, len ? len : 1);
    json_t *v = pb_decode_object(copy, len, &err);

    if (v) {
        assert_false(err_is_set(&err));
        assert_true(json_is_object(v));
        assert_true(json_depth(v, 1000) <= JSON_MAX_DEPTH);
        char *dump = json_dumps(v, 0);
        assert_non_null(dump);
        free(dump);
        json_decref(v);
    } else {
        assert_true(err.code == ERR_BAD_REQUEST || err.code == ERR_UNSUPPORTED_MEDIA);
        assert_true(err.msg[0] != '\0');
        err_clear(&err);
    }
    g_free(copy);
}

static GByteArray *sample_body(int which)
{
    GByteArray *raw = enc_new(), *meta = enc_meta_go("name", "ns"), *ref = enc_new();

    enc_entry_str(meta, 11, "l", "v");
    enc_entry_str(meta, 12, "a", "v");
    enc_msg(meta, 9, enc_time(1795802400, 7));
    enc_uint(meta, 10, 30);
    enc_str(ref, 1, "Namespace");
    enc_str(ref, 3, "ns");
    enc_str(ref, 4, "u");
    enc_str(ref, 5, "v1");
    enc_uint(ref, 6, 1);
    enc_msg(meta, 13, ref);
    enc_str(meta, 14, "f");
    enc_msg(raw, 1, meta);
    switch (which) {
    case 0:
        enc_entry(raw, 2, "a", "\x01\xff", 2);
        enc_str(raw, 3, "Opaque");
        enc_entry_str(raw, 4, "s", "t");
        enc_uint(raw, 5, 1);
        return enc_body("v1", "Secret", raw);
    case 1:
        enc_entry_str(raw, 2, "x", "y");
        enc_entry(raw, 3, "b", "\x00", 1);
        enc_uint(raw, 4, 1);
        return enc_body("v1", "ConfigMap", raw);
    default: {
        GByteArray *spec = enc_new(), *status = enc_new();
        enc_str(spec, 1, "kubernetes");
        enc_msg(raw, 2, spec);
        enc_str(status, 1, "Active");
        enc_msg(raw, 3, status);
        return enc_body("v1", "Namespace", raw);
    }
    }
}

static void test_truncated_and_random(void **state)
{
    (void)state;
    GRand *rng = g_rand_new_with_seed(20261127);

    for (int which = 0; which < 3; which++) {
        GByteArray *body = sample_body(which);

        /* The whole body decodes. */
        err_t err = ERR_INIT;
        json_t *v = pb_decode_object(body->data, body->len, &err);
        if (!v)
            fail_msg("sample %d failed: %s", which, err.msg);
        json_decref(v);

        /* Every prefix. */
        for (size_t n = 0; n <= body->len; n++)
            decode_cleanly(body->data, n);

        /* Single-byte and multi-byte mutations, and drops. */
        for (int round = 0; round < 20000; round++) {
            GByteArray *m = g_byte_array_sized_new(body->len);
            enc_raw(m, body->data, body->len);
            int edits = g_rand_int_range(rng, 1, 5);
            for (int e = 0; e < edits && m->len > 0; e++) {
                guint at = (guint)g_rand_int_range(rng, 0, (gint32)m->len);
                switch (g_rand_int_range(rng, 0, 4)) {
                case 0:
                    m->data[at] = (uint8_t)g_rand_int(rng);
                    break;
                case 1:
                    m->data[at] ^= (uint8_t)(1u << g_rand_int_range(rng, 0, 8));
                    break;
                case 2:
                    g_byte_array_remove_index(m, at);
                    break;
                default:
                    m->data[at] = (uint8_t)(g_rand_boolean(rng) ? 0xff : 0x80);
                    break;
                }
            }
            /* Keep the magic most of the time, so the decoder goes deep. */
            if (m->len >= 4 && round % 8 != 0)
                memcpy(m->data, "k8s\0", 4);
            decode_cleanly(m->data, m->len);
            if (m->len > 0)
                decode_cleanly(m->data, (size_t)g_rand_int_range(rng, 0, (gint32)m->len));
            g_byte_array_unref(m);
        }
        g_byte_array_unref(body);
    }

    /* Random bytes after the magic. */
    for (int round = 0; round < 20000; round++) {
        uint8_t buf[96];
        size_t n = (size_t)g_rand_int_range(rng, 4, (gint32)sizeof(buf) + 1);
        memcpy(buf, "k8s\0", 4);
        for (size_t i = 4; i < n; i++)
            buf[i] = (uint8_t)g_rand_int(rng);
        /* Often a plausible envelope start: typeMeta naming a kind we know. */
        if (round % 2 && n > 30) {
            static const uint8_t head[] = "\x0a\x0c\x0a\x02v1\x12\x06Secret\x12";
            memcpy(buf + 4, head, sizeof(head) - 1);
        }
        decode_cleanly(buf, n);
    }

    /* Random tables' worth of input through the every-kind table. */
    for (int round = 0; round < 20000; round++) {
        uint8_t buf[64];
        size_t n = (size_t)g_rand_int_range(rng, 0, (gint32)sizeof(buf) + 1);
        err_t err = ERR_INIT;
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)g_rand_int(rng);
        uint8_t *copy = g_memdup2(buf, n ? n : 1);
        json_t *v = pb_decode_message(round % 2 ? &t_all : &t_node, copy, n, &err);
        if (v)
            json_decref(v);
        else {
            assert_int_equal(err.code, ERR_BAD_REQUEST);
            err_clear(&err);
        }
        g_free(copy);
    }
    g_rand_free(rng);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namespace),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_config_map),
        cmocka_unit_test(test_object_meta),
        cmocka_unit_test(test_field_kinds),
        cmocka_unit_test(test_presence),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_malformed_envelope),
        cmocka_unit_test(test_malformed_wire),
        cmocka_unit_test(test_malformed_fields),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_truncated_and_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
