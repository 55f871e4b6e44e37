/*
 * Unit tests for model/meta: Kubernetes' name rules with their edge cases,
 * uids, timestamps and generated names, the server-owned metadata of creates
 * and updates (generation), finalizer helpers and meta_validate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "model/meta.h"
#include "util/jsonutil.h"

static registry_t *reg;

static json_t *J(const char *text)
{
    char *t = g_strdup(text);
    json_error_t je;
    json_t *v;

    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    v = json_loads(t, 0, &je);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", je.text, t);
    g_free(t);
    return v;
}

static char *repeat(char c, size_t n)
{
    char *s = g_malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static int setup(void **state)
{
    err_t err = ERR_INIT;
    json_t *widget = J("{'group':'example.com','version':'v1','kind':'Widget',"
                       "'plural':'widgets','namespaced':true,'schema':{'type':'object'}}");
    json_t *gadget = J("{'group':'example.com','version':'v1','kind':'Gadget',"
                       "'plural':'gadgets','namespaced':false,'subresources':['status'],"
                       "'schema':{'type':'object'}}");

    reg = registry_load_dir(getenv("VMSVC_TEST_SCHEMAS"), &err);
    if (!reg)
        return -1;
    if (registry_add(reg, "widget", widget, &err) < 0 ||
        registry_add(reg, "gadget", gadget, &err) < 0)
        return -1;
    json_decref(widget);
    json_decref(gadget);
    return 0;
}

static int teardown(void **state)
{
    registry_free(reg);
    return 0;
}

/* The resource of a group and plural, any version. */
static const resource_t *res_get(const char *group, const char *plural)
{
    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->plural, plural) == 0)
            return r;
    }
    fail_msg("no resource %s/%s", group, plural);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                    */

static void test_dns1123_label(void **state)
{
    static const char *const good[] = {"a", "0", "a-b", "a--b", "abc123", "1a", "9-9"};
    static const char *const bad[] = {"-a", "a-", "-", "A", "aB", "a_b", "a.b", "a b",
                                      "\xc3\xa4", "a/b", "a\n"};
    char why[512];
    char *s;

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
        if (!meta_is_dns1123_label(good[i], why, sizeof(why)))
            fail_msg("\"%s\" refused: %s", good[i], why);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        why[0] = '\0';
        if (meta_is_dns1123_label(bad[i], why, sizeof(why)))
            fail_msg("\"%s\" accepted", bad[i]);
        assert_non_null(strstr(why, "RFC 1123 label"));
    }
    assert_false(meta_is_dns1123_label("", why, sizeof(why)));
    assert_string_equal(why, "must not be empty");
    s = repeat('a', 63);
    assert_true(meta_is_dns1123_label(s, why, sizeof(why)));
    g_free(s);
    s = repeat('a', 64);
    assert_false(meta_is_dns1123_label(s, why, sizeof(why)));
    assert_string_equal(why, "must be no more than 63 characters");
    g_free(s);
    /* a short buffer is not overrun */
    assert_false(meta_is_dns1123_label("A", why, 8));
    assert_int_equal(strlen(why), 7);
}

static void test_dns1123_subdomain(void **state)
{
    static const char *const good[] = {"a", "a.b", "a-b.c-d", "example.com", "0.0",
                                       "a.b.c.d.e", "x--y.z"};
    static const char *const bad[] = {".a", "a.", "a..b", "a.-b", "a-.b", "-a.b", "a.b-",
                                      "A.b", "a_b", "a b", "a.b/c", "."};
    char why[512];
    char *s, *t;

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
        if (!meta_is_dns1123_subdomain(good[i], why, sizeof(why)))
            fail_msg("\"%s\" refused: %s", good[i], why);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        why[0] = '\0';
        if (meta_is_dns1123_subdomain(bad[i], why, sizeof(why)))
            fail_msg("\"%s\" accepted", bad[i]);
        assert_non_null(strstr(why, "RFC 1123 subdomain"));
    }
    assert_false(meta_is_dns1123_subdomain("", why, sizeof(why)));
    assert_string_equal(why, "must not be empty");
    s = repeat('a', 253);
    assert_true(meta_is_dns1123_subdomain(s, why, sizeof(why)));
    g_free(s);
    s = repeat('a', 254);
    assert_false(meta_is_dns1123_subdomain(s, why, sizeof(why)));
    assert_string_equal(why, "must be no more than 253 characters");
    g_free(s);
    /* labels longer than 63 inside a subdomain are fine for names */
    s = repeat('b', 100);
    t = g_strconcat(s, ".", s, NULL);
    assert_true(meta_is_dns1123_subdomain(t, why, sizeof(why)));
    g_free(s);
    g_free(t);
}

static void test_qualified_name(void **state)
{
    static const char *const good[] = {"a", "A", "a_b", "A.b-c_D", "1", "example.com/name",
                                       "k8s.io/My_Name", "a/b", "kubernetes.io/os",
                                       "a.b.c/x.y"};
    static const char *const bad[] = {"", "/a", "a/", "a/b/c", "-a", "a-", "_a", "a_",
                                      ".a", "a b", "Example.com/x", "ex_ample.com/x",
                                      "a..b/c", "a/-b", "a:b", "a/b c"};
    char why[512];
    char *s, *t;

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
        if (!meta_is_qualified_name(good[i], why, sizeof(why)))
            fail_msg("\"%s\" refused: %s", good[i], why);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        why[0] = '\0';
        if (meta_is_qualified_name(bad[i], why, sizeof(why)))
            fail_msg("\"%s\" accepted", bad[i]);
        assert_true(strlen(why) > 0);
    }
    assert_false(meta_is_qualified_name("a/b/c", why, sizeof(why)));
    assert_non_null(strstr(why, "name part"));
    assert_false(meta_is_qualified_name("UP/x", why, sizeof(why)));
    assert_non_null(strstr(why, "RFC 1123 subdomain"));

    /* the name part: at most 63 */
    s = repeat('n', 63);
    assert_true(meta_is_qualified_name(s, why, sizeof(why)));
    t = g_strconcat("example.com/", s, NULL);
    assert_true(meta_is_qualified_name(t, why, sizeof(why)));
    g_free(t);
    g_free(s);
    s = repeat('n', 64);
    assert_false(meta_is_qualified_name(s, why, sizeof(why)));
    assert_non_null(strstr(why, "63 characters"));
    g_free(s);
    /* the prefix: at most 253 */
    s = repeat('p', 253);
    t = g_strconcat(s, "/n", NULL);
    assert_true(meta_is_qualified_name(t, why, sizeof(why)));
    g_free(t);
    g_free(s);
    s = repeat('p', 254);
    t = g_strconcat(s, "/n", NULL);
    assert_false(meta_is_qualified_name(t, why, sizeof(why)));
    g_free(t);
    g_free(s);
}

static void test_label_value(void **state)
{
    static const char *const good[] = {"", "a", "A", "a-b_c.d", "1.0", "Z9"};
    static const char *const bad[] = {"-a", "a-", ".a", "a.", "_a", "a b", "a/b", "a:b",
                                      "\xc3\xa4"};
    char why[512];
    char *s;

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++)
        if (!meta_is_label_value(good[i], why, sizeof(why)))
            fail_msg("\"%s\" refused: %s", good[i], why);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        why[0] = '\0';
        if (meta_is_label_value(bad[i], why, sizeof(why)))
            fail_msg("\"%s\" accepted", bad[i]);
        assert_non_null(strstr(why, "a valid label must be an empty string"));
    }
    s = repeat('v', 63);
    assert_true(meta_is_label_value(s, why, sizeof(why)));
    g_free(s);
    s = repeat('v', 64);
    assert_false(meta_is_label_value(s, why, sizeof(why)));
    g_free(s);
}

static void test_generated(void **state)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    char now[32], why[512];
    char *a, *b, *s;
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    /* generateName: the prefix and five characters of the alphabet */
    for (int i = 0; i < 200; i++) {
        a = meta_generate_name("web-");
        assert_int_equal(strlen(a), 9);
        assert_memory_equal(a, "web-", 4);
        for (int k = 4; k < 9; k++)
            assert_non_null(strchr(alphabet, a[k]));
        assert_true(meta_is_dns1123_label(a, why, sizeof(why)));
        g_hash_table_add(seen, a);
    }
    /* random enough that 200 draws from 27^5 do not all collide */
    assert_true(g_hash_table_size(seen) > 190);
    g_hash_table_destroy(seen);

    /* a long prefix is cut so that the name fits 63 characters */
    s = repeat('p', 100);
    a = meta_generate_name(s);
    assert_int_equal(strlen(a), 63);
    assert_memory_equal(a, s, 58);
    g_free(a);
    g_free(s);
    s = repeat('p', 58);
    a = meta_generate_name(s);
    assert_int_equal(strlen(a), 63);
    assert_memory_equal(a, s, 58);
    g_free(a);
    g_free(s);
    a = meta_generate_name("");
    assert_int_equal(strlen(a), 5);
    g_free(a);

    /* uids: RFC 4122 version 4, all different */
    a = meta_uid_new();
    b = meta_uid_new();
    assert_int_equal(strlen(a), 36);
    assert_true(g_uuid_string_is_valid(a));
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
    assert_string_not_equal(a, b);
    g_free(a);
    g_free(b);

    /* timestamps: RFC 3339 in UTC, whole seconds */
    meta_now(now, sizeof(now));
    assert_int_equal(strlen(now), 20);
    assert_true(g_regex_match_simple("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
                                     now, 0, 0));
    {
        GDateTime *t = g_date_time_new_from_iso8601(now, NULL);
        GDateTime *n = g_date_time_new_now_utc();
        assert_non_null(t);
        assert_true(llabs((long long)(g_date_time_to_unix(n) - g_date_time_to_unix(t))) < 5);
        g_date_time_unref(t);
        g_date_time_unref(n);
    }
}

static void test_key(void **state)
{
    char *k;

    k = meta_key(res_get("", "configmaps"), "ns1", "cm");
    assert_string_equal(k, "core/configmaps/ns1/cm");
    g_free(k);
    k = meta_key(res_get("", "namespaces"), NULL, "default");
    assert_string_equal(k, "core/namespaces/default");
    g_free(k);
    k = meta_key(res_get("", "namespaces"), "ignored", "default");
    assert_string_equal(k, "core/namespaces/default");
    g_free(k);
    k = meta_key(res_get("vmoperator.vmware.com", "virtualmachines"), "ns", "vm");
    assert_string_equal(k, "vmoperator.vmware.com/virtualmachines/ns/vm");
    g_free(k);
}

/* ------------------------------------------------------------------------ */
/* Create and update                                                        */

static void test_prepare_create(void **state)
{
    const resource_t *cm = res_get("", "configmaps");
    const resource_t *ns = res_get("", "namespaces");
    const resource_t *w = res_get("example.com", "widgets");
    json_t *o;
    json_t *md;

    o = J("{'metadata':{'name':'a','namespace':'other','uid':'client','resourceVersion':'9',"
          "'creationTimestamp':'1999-01-01T00:00:00Z','deletionTimestamp':'x',"
          "'deletionGracePeriodSeconds':3,'selfLink':'/x','managedFields':[],"
          "'generation':7,'labels':{'l':'v'}},'kind':'Wrong','apiVersion':'v9','data':{}}");
    meta_prepare_create(cm, o, "ns1", "2026-01-02T03:04:05Z");
    md = json_object_get(o, "metadata");
    assert_true(g_uuid_string_is_valid(json_string_value(json_object_get(md, "uid"))));
    assert_string_equal(json_string_value(json_object_get(md, "creationTimestamp")),
                        "2026-01-02T03:04:05Z");
    assert_string_equal(json_string_value(json_object_get(md, "namespace")), "ns1");
    assert_string_equal(json_string_value(json_object_get(md, "name")), "a");
    assert_non_null(json_object_get(md, "labels"));
    assert_null(json_object_get(md, "resourceVersion"));
    assert_null(json_object_get(md, "deletionTimestamp"));
    assert_null(json_object_get(md, "deletionGracePeriodSeconds"));
    assert_null(json_object_get(md, "selfLink"));
    assert_null(json_object_get(md, "managedFields"));
    /* core kinds have no generation */
    assert_null(json_object_get(md, "generation"));
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "ConfigMap");
    assert_string_equal(json_string_value(json_object_get(o, "apiVersion")), "v1");
    json_decref(o);

    /* cluster-scoped: no namespace */
    o = J("{'metadata':{'name':'n','namespace':'x'}}");
    meta_prepare_create(ns, o, "x", "2026-01-02T03:04:05Z");
    assert_null(json_path_get(o, "metadata.namespace"));
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "Namespace");
    json_decref(o);

    /* other groups start at generation 1; metadata may be missing */
    o = J("{'spec':{}}");
    meta_prepare_create(w, o, "ns", "2026-01-02T03:04:05Z");
    assert_int_equal(json_integer_value(json_path_get(o, "metadata.generation")), 1);
    assert_string_equal(json_string_value(json_object_get(o, "apiVersion")), "example.com/v1");
    json_decref(o);

    /* every create gets its own uid */
    {
        json_t *a = J("{}"), *b = J("{}");
        meta_prepare_create(w, a, "ns", "t");
        meta_prepare_create(w, b, "ns", "t");
        assert_string_not_equal(json_path_str(a, "metadata.uid"), json_path_str(b, "metadata.uid"));
        json_decref(a);
        json_decref(b);
    }
}

/* Update `old_text` to `new_text` and return the resulting generation. */
static json_int_t update_gen(const resource_t *r, const char *old_text, const char *new_text)
{
    json_t *old = J(old_text), *o = J(new_text);
    json_int_t g;

    meta_prepare_update(r, o, old);
    g = json_integer_value(json_path_get(o, "metadata.generation"));
    json_decref(o);
    json_decref(old);
    return g;
}

static void test_prepare_update(void **state)
{
    const resource_t *w = res_get("example.com", "widgets");         /* no status subresource */
    const resource_t *g = res_get("example.com", "gadgets");         /* status subresource */
    const resource_t *cm = res_get("", "configmaps");
    const char *old = "{'apiVersion':'example.com/v1','kind':'Widget',"
                      "'metadata':{'name':'a','generation':3,'uid':'u1',"
                      "'creationTimestamp':'t0','labels':{'a':'1'}},"
                      "'spec':{'x':1},'status':{'s':1}}";
    const char *gold = "{'apiVersion':'example.com/v1','kind':'Gadget',"
                       "'metadata':{'name':'a','generation':3},"
                       "'spec':{'x':1},'status':{'s':1}}";
    json_t *o, *oldj;
    json_t *md;

    /* no change, or only metadata: same generation */
    assert_int_equal(update_gen(w, old, old), 3);
    assert_int_equal(update_gen(w, old, "{'metadata':{'name':'a','labels':{'b':'2'},"
                                        "'annotations':{'x':'y'},'generation':99},"
                                        "'spec':{'x':1},'status':{'s':1}}"),
                     3);
    /* the spec changed: one more */
    assert_int_equal(update_gen(w, old, "{'metadata':{'name':'a'},'spec':{'x':2},"
                                        "'status':{'s':1}}"),
                     4);
    assert_int_equal(update_gen(w, old, "{'metadata':{'name':'a'},'status':{'s':1}}"), 4);
    assert_int_equal(update_gen(w, old, "{'metadata':{'name':'a'},'spec':{'x':1},"
                                        "'status':{'s':1},'extra':true}"),
                     4);
    /* status: counts only without a status subresource */
    assert_int_equal(update_gen(w, old, "{'metadata':{},'spec':{'x':1},'status':{'s':2}}"), 4);
    assert_int_equal(update_gen(g, gold, "{'metadata':{},'spec':{'x':1},'status':{'s':2}}"), 3);
    assert_int_equal(update_gen(g, gold, "{'metadata':{},'spec':{'x':1}}"), 3);
    assert_int_equal(update_gen(g, gold, "{'metadata':{},'spec':{'x':3},'status':{'s':2}}"), 4);
    /* an old object without a generation */
    assert_int_equal(update_gen(w, "{'apiVersion':'example.com/v1','kind':'Widget',"
                                    "'metadata':{},'spec':{}}",
                                 "{'spec':{}}"),
                     1);
    assert_int_equal(update_gen(w, "{'apiVersion':'example.com/v1','kind':'Widget',"
                                    "'metadata':{},'spec':{}}",
                                 "{'spec':{'a':1}}"),
                     1);

    /* server-owned metadata comes from the old object */
    oldj = J("{'metadata':{'name':'a','namespace':'ns','uid':'u1','creationTimestamp':'t0',"
             "'deletionTimestamp':'t1','deletionGracePeriodSeconds':0,'generateName':'a-',"
             "'generation':2},'data':{'k':'v'}}");
    o = J("{'metadata':{'name':'a','namespace':'evil','uid':'u2','creationTimestamp':'t9',"
          "'selfLink':'/x','managedFields':[{}],'labels':{'n':'1'},'generation':5},"
          "'kind':'Other','apiVersion':'v2','data':{'k':'w'}}");
    meta_prepare_update(cm, o, oldj);
    md = json_object_get(o, "metadata");
    assert_string_equal(json_string_value(json_object_get(md, "uid")), "u1");
    assert_string_equal(json_string_value(json_object_get(md, "namespace")), "ns");
    assert_string_equal(json_string_value(json_object_get(md, "creationTimestamp")), "t0");
    assert_string_equal(json_string_value(json_object_get(md, "deletionTimestamp")), "t1");
    assert_int_equal(json_integer_value(json_object_get(md, "deletionGracePeriodSeconds")), 0);
    assert_string_equal(json_string_value(json_object_get(md, "generateName")), "a-");
    assert_null(json_object_get(md, "selfLink"));
    assert_null(json_object_get(md, "managedFields"));
    assert_non_null(json_object_get(md, "labels"));
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "ConfigMap");
    assert_string_equal(json_string_value(json_object_get(o, "apiVersion")), "v1");
    /* a core kind: the client cannot set the generation */
    assert_int_equal(json_integer_value(json_object_get(md, "generation")), 2);
    json_decref(o);
    json_decref(oldj);

    /* ... and what the old object lacks, the update cannot add */
    oldj = J("{'metadata':{'name':'a','uid':'u1','creationTimestamp':'t0'}}");
    o = J("{'metadata':{'name':'a','deletionTimestamp':'now','deletionGracePeriodSeconds':5,"
          "'generation':8,'generateName':'x'}}");
    meta_prepare_update(cm, o, oldj);
    md = json_object_get(o, "metadata");
    assert_null(json_object_get(md, "deletionTimestamp"));
    assert_null(json_object_get(md, "deletionGracePeriodSeconds"));
    assert_null(json_object_get(md, "generateName"));
    assert_null(json_object_get(md, "generation"));
    json_decref(o);
    /* an update without metadata at all */
    o = J("{'data':{}}");
    meta_prepare_update(cm, o, oldj);
    assert_string_equal(json_path_str(o, "metadata.uid"), "u1");
    json_decref(o);
    json_decref(oldj);
}

/* ------------------------------------------------------------------------ */
/* Finalizers                                                               */

static void test_finalizers(void **state)
{
    json_t *o = J("{}");

    assert_false(meta_has_finalizer(o, "a"));
    assert_false(meta_remove_finalizer(o, "a"));
    assert_true(meta_add_finalizer(o, "example.com/a"));
    assert_true(meta_has_finalizer(o, "example.com/a"));
    assert_false(meta_add_finalizer(o, "example.com/a"));
    assert_true(meta_add_finalizer(o, "b"));
    assert_int_equal(json_array_size(json_path_get(o, "metadata.finalizers")), 2);
    assert_string_equal(json_string_value(json_array_get(json_path_get(o, "metadata.finalizers"),
                                                         1)),
                        "b");
    assert_false(meta_has_finalizer(o, "example.com"));
    assert_true(meta_remove_finalizer(o, "example.com/a"));
    assert_false(meta_has_finalizer(o, "example.com/a"));
    assert_false(meta_remove_finalizer(o, "example.com/a"));
    /* the last one gone: no list left behind */
    assert_true(meta_remove_finalizer(o, "b"));
    assert_null(json_path_get(o, "metadata.finalizers"));
    assert_non_null(json_object_get(o, "metadata"));
    json_decref(o);

    /* copies all go; other members and non-strings are left alone */
    o = J("{'metadata':{'name':'x','finalizers':['a',1,'a','b','a']}}");
    assert_true(meta_remove_finalizer(o, "a"));
    {
        char *t = json_dumps(json_path_get(o, "metadata.finalizers"), JSON_COMPACT);
        assert_string_equal(t, "[1,\"b\"]");
        free(t);
    }
    json_decref(o);

    /* a finalizers member that is not a list */
    o = J("{'metadata':{'finalizers':'a'}}");
    assert_false(meta_has_finalizer(o, "a"));
    assert_true(meta_add_finalizer(o, "a"));
    assert_true(meta_has_finalizer(o, "a"));
    assert_int_equal(json_array_size(json_path_get(o, "metadata.finalizers")), 1);
    json_decref(o);
}

/* ------------------------------------------------------------------------ */
/* meta_validate                                                            */

/* Validate; return the causes as "field|reason" lines joined by ';'. */
static char *validate_causes(const resource_t *r, const char *obj_text, int *rc)
{
    json_t *o = J(obj_text), *c;
    err_t err = ERR_INIT;
    GString *out = g_string_new(NULL);
    size_t i;

    *rc = meta_validate(r, o, &err);
    json_array_foreach(err.causes, i, c) {
        if (i)
            g_string_append_c(out, ';');
        g_string_append_printf(out, "%s|%s", json_string_value(json_object_get(c, "field")),
                               json_string_value(json_object_get(c, "reason")));
    }
    if (*rc == 0)
        assert_false(err_is_set(&err));
    else
        assert_int_equal(err.code, ERR_INVALID);
    err_clear(&err);
    json_decref(o);
    return g_string_free(out, FALSE);
}

#define VALID(r, text)                                                          \
    do {                                                                        \
        int rc_;                                                                \
        char *c_ = validate_causes((r), (text), &rc_);                          \
        if (rc_ != 0)                                                           \
            fail_msg("%s refused: %s", (text), c_);                             \
        g_free(c_);                                                             \
    } while (0)

#define INVALID(r, text, causes)                                                \
    do {                                                                        \
        int rc_;                                                                \
        char *c_ = validate_causes((r), (text), &rc_);                          \
        assert_int_equal(rc_, -1);                                              \
        assert_string_equal(c_, (causes));                                      \
        g_free(c_);                                                             \
    } while (0)

static void test_validate_names(void **state)
{
    const resource_t *cm = res_get("", "configmaps");
    const resource_t *ns = res_get("", "namespaces");

    VALID(cm, "{'metadata':{'name':'a'}}");
    VALID(cm, "{'metadata':{'name':'a.b-c'}}");
    VALID(ns, "{'metadata':{'name':'kube-system'}}");
    INVALID(cm, "{}", "metadata.name|FieldValueRequired");
    INVALID(cm, "{'metadata':{}}", "metadata.name|FieldValueRequired");
    INVALID(cm, "{'metadata':{'name':''}}", "metadata.name|FieldValueRequired");
    INVALID(cm, "{'metadata':{'name':5}}", "metadata.name|FieldValueRequired");
    INVALID(cm, "{'metadata':{'name':'A'}}", "metadata.name|FieldValueInvalid");
    INVALID(cm, "{'metadata':{'name':'a_b'}}", "metadata.name|FieldValueInvalid");
    /* namespaces are labels: no dots */
    INVALID(ns, "{'metadata':{'name':'a.b'}}", "metadata.name|FieldValueInvalid");
    {
        char *n = repeat('a', 64);
        char *o1 = g_strdup_printf("{'metadata':{'name':'%s'}}", n);
        VALID(cm, o1);
        INVALID(ns, o1, "metadata.name|FieldValueInvalid");
        g_free(o1);
        g_free(n);
    }
    /* the message quotes the name and says why */
    {
        json_t *o = J("{'metadata':{'name':'Bad'}}");
        err_t err = ERR_INIT;
        assert_int_equal(meta_validate(cm, o, &err), -1);
        assert_non_null(strstr(json_string_value(json_object_get(json_array_get(err.causes, 0),
                                                                 "message")),
                               "Invalid value: \"Bad\": a lowercase RFC 1123 subdomain"));
        err_clear(&err);
        json_decref(o);
    }
}

static void test_validate_maps(void **state)
{
    const resource_t *cm = res_get("", "configmaps");

    VALID(cm, "{'metadata':{'name':'a','labels':{'app':'web','example.com/tier':'',"
              "'k8s.io/x_y':'A.b-c'},'annotations':{'example.com/note':'any text: at all!'}}}");
    INVALID(cm, "{'metadata':{'name':'a','labels':{'bad key':'v'}}}",
            "metadata.labels|FieldValueInvalid");
    INVALID(cm, "{'metadata':{'name':'a','labels':{'k':'bad value'}}}",
            "metadata.labels|FieldValueInvalid");
    INVALID(cm, "{'metadata':{'name':'a','labels':{'k':1}}}",
            "metadata.labels|FieldValueTypeInvalid");
    INVALID(cm, "{'metadata':{'name':'a','labels':['k']}}",
            "metadata.labels|FieldValueTypeInvalid");
    INVALID(cm, "{'metadata':{'name':'a','labels':{'-k':'-v'}}}",
            "metadata.labels|FieldValueInvalid;metadata.labels|FieldValueInvalid");
    INVALID(cm, "{'metadata':{'name':'a','annotations':{'a/b/c':'v'}}}",
            "metadata.annotations|FieldValueInvalid");
    INVALID(cm, "{'metadata':{'name':'a','annotations':{'k':null}}}",
            "metadata.annotations|FieldValueTypeInvalid");

    /* annotations: 256 KiB in all, keys included */
    {
        char *v = repeat('x', 256 * 1024 - 1);
        json_t *o = J("{'metadata':{'name':'a','annotations':{}}}");
        err_t err = ERR_INIT;

        json_object_set_new(json_path_get(o, "metadata.annotations"), "k", json_string(v));
        assert_int_equal(meta_validate(cm, o, &err), 0);
        json_object_set_new(json_path_get(o, "metadata.annotations"), "k2", json_string(""));
        assert_int_equal(meta_validate(cm, o, &err), -1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(err.causes, 0),
                                                              "reason")),
                            "FieldValueTooLong");
        err_clear(&err);
        json_decref(o);
        g_free(v);
    }
}

static void test_validate_finalizers_owners(void **state)
{
    const resource_t *cm = res_get("", "configmaps");
    GString *many = g_string_new("{'metadata':{'name':'a','finalizers':[");

    VALID(cm, "{'metadata':{'name':'a','finalizers':['kubernetes','example.com/f']}}");
    INVALID(cm, "{'metadata':{'name':'a','finalizers':'f'}}",
            "metadata.finalizers|FieldValueTypeInvalid");
    INVALID(cm, "{'metadata':{'name':'a','finalizers':['ok','bad name',3]}}",
            "metadata.finalizers[1]|FieldValueInvalid;metadata.finalizers[2]|FieldValueInvalid");
    for (int i = 0; i < 65; i++)
        g_string_append_printf(many, "%s'f%d'", i ? "," : "", i);
    g_string_append(many, "]}}");
    INVALID(cm, many->str, "metadata.finalizers|FieldValueTooMany");
    g_string_free(many, TRUE);

    VALID(cm, "{'metadata':{'name':'a','ownerReferences':[{'apiVersion':'v1','kind':'K',"
              "'name':'o','uid':'u','controller':true},{'apiVersion':'v1','kind':'K',"
              "'name':'p','uid':'v','controller':false}]}}");
    INVALID(cm, "{'metadata':{'name':'a','ownerReferences':{}}}",
            "metadata.ownerReferences|FieldValueTypeInvalid");
    INVALID(cm, "{'metadata':{'name':'a','ownerReferences':[{'apiVersion':'v1','kind':'K',"
                "'name':'o'},{'kind':'','name':'p','uid':'v'}]}}",
            "metadata.ownerReferences[0].uid|FieldValueRequired;"
            "metadata.ownerReferences[1].apiVersion|FieldValueRequired;"
            "metadata.ownerReferences[1].kind|FieldValueRequired");
    INVALID(cm, "{'metadata':{'name':'a','ownerReferences':[7]}}",
            "metadata.ownerReferences[0].apiVersion|FieldValueRequired;"
            "metadata.ownerReferences[0].kind|FieldValueRequired;"
            "metadata.ownerReferences[0].name|FieldValueRequired;"
            "metadata.ownerReferences[0].uid|FieldValueRequired");
    INVALID(cm, "{'metadata':{'name':'a','ownerReferences':[{'apiVersion':'v1','kind':'K',"
                "'name':'o','uid':'u','controller':true},{'apiVersion':'v1','kind':'K',"
                "'name':'p','uid':'v','controller':true}]}}",
            "metadata.ownerReferences|FieldValueInvalid");
}

/* Failure is reported whatever err already holds, and without an err. */
static void test_validate_err_state(void **state)
{
    const resource_t *cm = res_get("", "configmaps");
    json_t *bad = J("{'metadata':{'name':'Bad'}}");
    json_t *good = J("{'metadata':{'name':'good'}}");
    err_t err = ERR_INIT;

    assert_int_equal(meta_validate(cm, bad, NULL), -1);
    assert_int_equal(meta_validate(cm, good, NULL), 0);

    /* causes from an earlier check: only new ones count */
    err_add_cause(&err, "FieldValueInvalid", "spec.x", "earlier");
    assert_int_equal(meta_validate(cm, good, &err), 0);
    assert_int_equal(json_array_size(err.causes), 1);
    assert_int_equal(meta_validate(cm, bad, &err), -1);
    assert_int_equal(json_array_size(err.causes), 2);
    err_clear(&err);

    /* an err already full of causes still fails */
    for (int i = 0; i < 100; i++)
        err_add_cause(&err, "FieldValueInvalid", "spec.x", "earlier %d", i);
    assert_int_equal(meta_validate(cm, good, &err), 0);
    assert_int_equal(meta_validate(cm, bad, &err), -1);
    err_clear(&err);
    json_decref(bad);
    json_decref(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns1123_label),
        cmocka_unit_test(test_dns1123_subdomain),
        cmocka_unit_test(test_qualified_name),
        cmocka_unit_test(test_label_value),
        cmocka_unit_test(test_generated),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_prepare_create),
        cmocka_unit_test(test_prepare_update),
        cmocka_unit_test(test_finalizers),
        cmocka_unit_test(test_validate_names),
        cmocka_unit_test(test_validate_maps),
        cmocka_unit_test(test_validate_finalizers_owners),
        cmocka_unit_test(test_validate_err_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
