/*
 * Unit tests for model/selector: label selector query syntax and
 * metav1.LabelSelector objects, field selectors, their matching semantics,
 * errors and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "model/selector.h"

/* A JSON value from text that must parse. */
static json_t *labels_new(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    return j;
}

/* Parse `sel` (must succeed) and match it against labels given as JSON. */
static bool lmatch(const char *sel, const char *labels_json)
{
    err_t err = ERR_INIT;
    label_selector_t *s = label_selector_parse(sel, &err);
    json_t *labels = labels_json ? labels_new(labels_json) : NULL;
    bool r;

    if (!s)
        fail_msg("label selector \"%s\" did not parse: %s", sel, err.msg);
    r = label_selector_matches(s, labels);
    json_decref(labels);
    label_selector_free(s);
    return r;
}

/* Parse `sel`, which must fail with ERR_BAD_REQUEST; returns the message. */
static const char *lfail(const char *sel, err_t *err)
{
    label_selector_t *s = label_selector_parse(sel, err);
    if (s) {
        label_selector_free(s);
        fail_msg("label selector \"%s\" parsed but should not have", sel);
    }
    assert_int_equal(err->code, ERR_BAD_REQUEST);
    assert_true(strlen(err->msg) > 0);
    assert_int_equal(err->msg[strlen(err->msg) - 1], '.');
    return err->msg;
}

static void test_label_empty(void **state)
{
    err_t err = ERR_INIT;
    const char *blanks[] = {"", "   ", "\t\n"};

    for (size_t i = 0; i < G_N_ELEMENTS(blanks); i++) {
        label_selector_t *s = label_selector_parse(blanks[i], &err);
        assert_non_null(s);
        assert_true(label_selector_is_empty(s));
        assert_true(label_selector_matches(s, NULL));
        label_selector_free(s);
    }
    label_selector_t *s = label_selector_parse(NULL, &err);
    assert_non_null(s);
    assert_true(label_selector_is_empty(s));
    label_selector_free(s);
    assert_false(err_is_set(&err));
    assert_true(lmatch("", "{\"a\":\"b\"}"));

    s = label_selector_parse("a=b", &err);
    assert_false(label_selector_is_empty(s));
    label_selector_free(s);
    label_selector_free(NULL);
}

static void test_label_equality(void **state)
{
    assert_true(lmatch("app=web", "{\"app\":\"web\"}"));
    assert_false(lmatch("app=web", "{\"app\":\"db\"}"));
    assert_false(lmatch("app=web", "{}"));
    assert_false(lmatch("app=web", NULL));
    assert_true(lmatch("app==web", "{\"app\":\"web\"}"));
    assert_false(lmatch("app==web", "{\"app\":\"webx\"}"));
    assert_true(lmatch("  app  ==  web  ", "{\"app\":\"web\"}"));
    /* != holds for a different value and for an absent label. */
    assert_true(lmatch("app!=web", "{\"app\":\"db\"}"));
    assert_true(lmatch("app!=web", "{}"));
    assert_true(lmatch("app!=web", NULL));
    assert_false(lmatch("app!=web", "{\"app\":\"web\"}"));
    /* An empty value is allowed and distinct from an absent label. */
    assert_true(lmatch("app=", "{\"app\":\"\"}"));
    assert_false(lmatch("app=", "{}"));
    assert_true(lmatch("app!=", "{}"));
    assert_true(lmatch("app=,tier=x", "{\"app\":\"\",\"tier\":\"x\"}"));
    /* Prefixed keys, dots, dashes and underscores. */
    assert_true(lmatch("example.com/my_app-1.x=v1.2_3-a",
                       "{\"example.com/my_app-1.x\":\"v1.2_3-a\"}"));
    /* A non-string label value counts as absent. */
    assert_false(lmatch("n=1", "{\"n\":1}"));
    assert_true(lmatch("n!=1", "{\"n\":1}"));
    assert_true(lmatch("!n", "{\"n\":1}"));
}

static void test_label_sets(void **state)
{
    assert_true(lmatch("env in (prod,staging)", "{\"env\":\"prod\"}"));
    assert_true(lmatch("env in (prod,staging)", "{\"env\":\"staging\"}"));
    assert_false(lmatch("env in (prod,staging)", "{\"env\":\"dev\"}"));
    assert_false(lmatch("env in (prod,staging)", "{}"));
    assert_true(lmatch("env in(prod)", "{\"env\":\"prod\"}"));
    assert_true(lmatch("env in ( a , b , c )", "{\"env\":\"c\"}"));
    /* notin holds when the label is absent. */
    assert_true(lmatch("env notin (prod,staging)", "{\"env\":\"dev\"}"));
    assert_true(lmatch("env notin (prod,staging)", "{}"));
    assert_true(lmatch("env notin (prod)", NULL));
    assert_false(lmatch("env notin (prod,staging)", "{\"env\":\"prod\"}"));
    /* Empty members: "(,x)" and "(x,)" both contain "". */
    assert_true(lmatch("env in (,x)", "{\"env\":\"\"}"));
    assert_true(lmatch("env in (x,)", "{\"env\":\"\"}"));
    assert_true(lmatch("env in (x,,y)", "{\"env\":\"\"}"));
    assert_false(lmatch("env in (x,y)", "{\"env\":\"\"}"));
    /* Duplicates collapse; many members still found. */
    assert_true(lmatch("k in (b,a,b,c,a,z,m)", "{\"k\":\"m\"}"));
    assert_true(lmatch("k in (b,a,b,c,a,z,m)", "{\"k\":\"a\"}"));
    assert_false(lmatch("k in (b,a,b,c,a,z,m)", "{\"k\":\"d\"}"));
    /* "in" and "notin" as key names. */
    assert_true(lmatch("in in (in)", "{\"in\":\"in\"}"));
}

static void test_label_existence(void **state)
{
    assert_true(lmatch("app", "{\"app\":\"x\"}"));
    assert_true(lmatch("app", "{\"app\":\"\"}"));
    assert_false(lmatch("app", "{\"other\":\"x\"}"));
    assert_false(lmatch("app", NULL));
    assert_true(lmatch("!app", "{\"other\":\"x\"}"));
    assert_true(lmatch("!app", NULL));
    assert_true(lmatch("! app", "{}"));
    assert_false(lmatch("!app", "{\"app\":\"x\"}"));
    assert_true(lmatch("a,!b", "{\"a\":\"1\"}"));
    assert_false(lmatch("a,!b", "{\"a\":\"1\",\"b\":\"2\"}"));
}

static void test_label_numeric(void **state)
{
    assert_true(lmatch("n>3", "{\"n\":\"4\"}"));
    assert_false(lmatch("n>3", "{\"n\":\"3\"}"));
    assert_false(lmatch("n>3", "{}"));
    assert_false(lmatch("n>3", "{\"n\":\"x\"}"));
    assert_true(lmatch("n<3", "{\"n\":\"-2\"}"));
    assert_false(lmatch("n<3", "{\"n\":\"3\"}"));
    assert_true(lmatch("n > 10", "{\"n\":\"11\"}"));
}

static void test_label_and(void **state)
{
    const char *sel = "app=web, env in (prod,qa), tier!=db, !legacy, owner";

    assert_true(lmatch(sel, "{\"app\":\"web\",\"env\":\"qa\",\"owner\":\"me\"}"));
    assert_false(lmatch(sel, "{\"app\":\"web\",\"env\":\"qa\"}"));
    assert_false(lmatch(sel, "{\"app\":\"web\",\"env\":\"qa\",\"owner\":\"me\","
                             "\"legacy\":\"1\"}"));
    assert_false(lmatch(sel, "{\"app\":\"web\",\"env\":\"dev\",\"owner\":\"me\"}"));
    assert_false(lmatch(sel, "{\"app\":\"web\",\"env\":\"qa\",\"owner\":\"me\","
                             "\"tier\":\"db\"}"));
    /* Same key twice must satisfy both. */
    assert_false(lmatch("a=1,a=2", "{\"a\":\"1\"}"));
    assert_true(lmatch("a=1,a!=2", "{\"a\":\"1\"}"));
}

static void test_label_errors(void **state)
{
    err_t err = ERR_INIT;

    assert_string_equal(lfail("-a=b", &err),
                        "Unable to parse the label selector: the key \"-a\" is "
                        "invalid: its name part must consist of letters, digits, "
                        "'-', '_' and '.', and start and end with a letter or digit.");
    assert_string_equal(lfail("a/b/c", &err),
                        "Unable to parse the label selector: the key \"a/b/c\" is "
                        "invalid: it may contain at most one '/'.");
    assert_non_null(strstr(lfail("/a", &err), "its prefix before '/' is empty"));
    assert_non_null(strstr(lfail("a/", &err), "its name after '/' is empty"));
    assert_non_null(strstr(lfail("Example.com/a", &err), "its prefix must be a "
                                                        "lowercase DNS subdomain"));
    assert_non_null(strstr(lfail("ex..com/a", &err), "its prefix must be"));
    assert_non_null(strstr(lfail("-ex.com/a", &err), "its prefix must be"));
    assert_non_null(strstr(lfail("a_=b", &err), "key \"a_\" is invalid"));

    /* Length limits on the name part, the prefix and the value. */
    char name64[65], prefix254[300], value64[70];
    memset(name64, 'a', 64);
    name64[64] = '\0';
    assert_non_null(strstr(lfail(name64, &err), "longer than 63 characters"));
    name64[63] = '\0';
    assert_true(lmatch(name64, "{}") == false);
    memset(prefix254, 'a', 254);
    strcpy(prefix254 + 254, "/x");
    assert_non_null(strstr(lfail(prefix254, &err), "prefix is longer than 253"));
    memcpy(value64, "k=", 2);
    memset(value64 + 2, 'v', 64);
    value64[66] = '\0';
    assert_string_equal(lfail(value64, &err),
                        "Unable to parse the label selector: the value \"vvvvvvvvvv"
                        "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\" for "
                        "key \"k\" is invalid: it is longer than 63 characters.");
    assert_non_null(strstr(lfail("k=-v", &err), "the value \"-v\" for key \"k\""));
    assert_non_null(strstr(lfail("k in (a,b_)", &err), "the value \"b_\""));

    /* Structure. */
    assert_string_equal(lfail("a in (x", &err),
                        "Unable to parse the label selector: the value set for key "
                        "\"a\" has no closing ')'.");
    assert_string_equal(lfail("a in x)", &err),
                        "Unable to parse the label selector: found \"x\" at offset 5 "
                        "where '(' after 'in' was expected.");
    assert_string_equal(lfail("a in (x))", &err),
                        "Unable to parse the label selector: found ')' at offset 8 "
                        "where ',' or the end of the text was expected.");
    assert_string_equal(lfail("a notin ()", &err),
                        "Unable to parse the label selector: the value set for key "
                        "\"a\" is empty, but 'notin' needs at least one value.");
    assert_non_null(strstr(lfail("a in ( )", &err), "is empty, but 'in'"));
    assert_non_null(strstr(lfail("a in (x y)", &err),
                           "found \"y\" at offset 8 where ',' or ')' in a value set"));
    assert_non_null(strstr(lfail("a notin", &err), "found the end of the text where "
                                                  "'(' after 'notin'"));
    assert_string_equal(lfail("a,", &err),
                        "Unable to parse the label selector: it ends with ',' where "
                        "another requirement was expected.");
    assert_string_equal(lfail(",a", &err),
                        "Unable to parse the label selector: found ',' at offset 0 "
                        "where a label key or '!' was expected.");
    assert_non_null(strstr(lfail("a,,b", &err), "found ',' at offset 2"));
    assert_non_null(strstr(lfail("!", &err), "a label key after '!'"));
    assert_non_null(strstr(lfail("!a=b", &err), "found '=' at offset 2"));
    assert_non_null(strstr(lfail("a!b", &err), "found '!' at offset 1 where an "
                                              "operator (=, ==, !=, in, notin, <, >)"));
    assert_non_null(strstr(lfail("a=b=c", &err), "found '=' at offset 3"));
    assert_non_null(strstr(lfail("a===b", &err), "found '=' at offset 3"));
    assert_non_null(strstr(lfail("a b", &err), "found \"b\" at offset 2"));
    assert_non_null(strstr(lfail("a ( b", &err), "found '(' at offset 2"));
    assert_string_equal(lfail("n>x", &err),
                        "Unable to parse the label selector: the value \"x\" at "
                        "offset 2 for key \"n\" must be an integer for '>'.");
    assert_non_null(strstr(lfail("n<", &err), "must be an integer for '<'"));
    /* Non-printable bytes are not copied into the message. */
    assert_non_null(strstr(lfail("a=b\x01", &err), "the value \"b?\" for key \"a\""));
    assert_non_null(strstr(lfail("\xc3\xa9=1", &err), "key \"??\" is invalid"));
    err_clear(&err);
}

static void test_label_limits(void **state)
{
    err_t err = ERR_INIT;
    GString *s = g_string_new(NULL);
    label_selector_t *sel;

    /* 256 requirements are fine, 257 are not. */
    for (int i = 0; i < SELECTOR_MAX_REQUIREMENTS; i++)
        g_string_append_printf(s, "%sk%d", i ? "," : "", i);
    sel = label_selector_parse(s->str, &err);
    assert_non_null(sel);
    label_selector_free(sel);
    g_string_append(s, ",extra");
    assert_string_equal(lfail(s->str, &err),
                        "Unable to parse the label selector: it has more than 256 "
                        "requirements.");

    /* Longer than 16 KiB. */
    g_string_truncate(s, 0);
    g_string_append(s, "a in (");
    while (s->len < SELECTOR_MAX_LEN)
        g_string_append(s, "x,");
    g_string_append(s, "y)");
    assert_string_equal(lfail(s->str, &err),
                        "The label selector is longer than the limit of 16384 bytes.");

    /* Exactly at the limit passes the length check and fails later, on the
     * over-long value. */
    g_string_truncate(s, 0);
    g_string_append(s, "a in (");
    while (s->len < SELECTOR_MAX_LEN - 1)
        g_string_append(s, "x");
    g_string_append(s, ")");
    assert_int_equal(s->len, SELECTOR_MAX_LEN);
    assert_non_null(strstr(lfail(s->str, &err), "longer than 63 characters"));
    g_string_free(s, TRUE);
}

static label_selector_t *ljson(const char *text, err_t *err)
{
    json_t *j = labels_new(text);
    label_selector_t *s = label_selector_from_json(j, err);
    json_decref(j);
    return s;
}

static bool ljson_match(const char *sel_json, const char *labels_json)
{
    err_t err = ERR_INIT;
    label_selector_t *s = ljson(sel_json, &err);
    json_t *labels = labels_new(labels_json);
    bool r;

    if (!s)
        fail_msg("selector %s rejected: %s", sel_json, err.msg);
    r = label_selector_matches(s, labels);
    label_selector_free(s);
    json_decref(labels);
    return r;
}

static const char *ljson_fail(const char *sel_json, err_t *err)
{
    label_selector_t *s = ljson(sel_json, err);
    if (s) {
        label_selector_free(s);
        fail_msg("selector %s accepted but should not have been", sel_json);
    }
    assert_int_equal(err->code, ERR_INVALID);
    return err->msg;
}

static void test_label_json(void **state)
{
    err_t err = ERR_INIT;
    label_selector_t *s;
    json_t *jnull = json_null();

    /* A null selector selects nothing; {} selects everything. */
    s = label_selector_from_json(NULL, &err);
    assert_non_null(s);
    assert_false(label_selector_is_empty(s));
    assert_false(label_selector_matches(s, NULL));
    label_selector_free(s);
    s = label_selector_from_json(jnull, &err);
    assert_non_null(s);
    assert_false(label_selector_matches(s, NULL));
    label_selector_free(s);
    json_decref(jnull);
    s = ljson("{}", &err);
    assert_true(label_selector_is_empty(s));
    assert_true(label_selector_matches(s, NULL));
    label_selector_free(s);
    s = ljson("{\"matchLabels\":{},\"matchExpressions\":[]}", &err);
    assert_true(label_selector_is_empty(s));
    label_selector_free(s);
    s = ljson("{\"matchLabels\":null,\"matchExpressions\":null}", &err);
    assert_true(label_selector_is_empty(s));
    label_selector_free(s);
    assert_false(err_is_set(&err));

    const char *ml = "{\"matchLabels\":{\"app\":\"web\",\"tier\":\"\"}}";
    assert_true(ljson_match(ml, "{\"app\":\"web\",\"tier\":\"\",\"x\":\"y\"}"));
    assert_false(ljson_match(ml, "{\"app\":\"web\"}"));

    const char *in = "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\","
                     "\"values\":[\"prod\",\"qa\"]}]}";
    assert_true(ljson_match(in, "{\"env\":\"qa\"}"));
    assert_false(ljson_match(in, "{\"env\":\"dev\"}"));
    assert_false(ljson_match(in, "{}"));
    const char *notin = "{\"matchExpressions\":[{\"key\":\"env\",\"operator\":"
                        "\"NotIn\",\"values\":[\"prod\"]}]}";
    assert_true(ljson_match(notin, "{\"env\":\"qa\"}"));
    assert_true(ljson_match(notin, "{}"));
    assert_false(ljson_match(notin, "{\"env\":\"prod\"}"));
    const char *ex = "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"}]}";
    assert_true(ljson_match(ex, "{\"a\":\"\"}"));
    assert_false(ljson_match(ex, "{}"));
    const char *dne = "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":"
                      "\"DoesNotExist\",\"values\":[]}]}";
    assert_true(ljson_match(dne, "{}"));
    assert_false(ljson_match(dne, "{\"a\":\"1\"}"));
    const char *both = "{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
                       "{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"prod\"]}]}";
    assert_true(ljson_match(both, "{\"app\":\"web\",\"env\":\"prod\"}"));
    assert_false(ljson_match(both, "{\"app\":\"web\",\"env\":\"dev\"}"));
    assert_false(ljson_match(both, "{\"app\":\"db\",\"env\":\"prod\"}"));
}

static void test_label_json_errors(void **state)
{
    err_t err = ERR_INIT;

    assert_string_equal(ljson_fail("[]", &err),
                        "The label selector must be a JSON object.");
    assert_string_equal(ljson_fail("{\"matchLabels\":[]}", &err),
                        "The label selector's matchLabels must be an object of "
                        "strings.");
    assert_string_equal(ljson_fail("{\"matchLabels\":{\"a\":1}}", &err),
                        "The label selector's matchLabels.a must be a string.");
    assert_string_equal(ljson_fail("{\"matchLabels\":{\"a b\":\"x\"}}", &err),
                        "The label selector's matchLabels key \"a b\" is not a valid "
                        "label key: its name part must consist of letters, digits, "
                        "'-', '_' and '.', and start and end with a letter or digit.");
    assert_non_null(strstr(ljson_fail("{\"matchLabels\":{\"a\":\"x y\"}}", &err),
                           "matchLabels value \"x y\" is not a valid label value"));
    assert_string_equal(ljson_fail("{\"matchExpressions\":{}}", &err),
                        "The label selector's matchExpressions must be an array.");
    assert_string_equal(ljson_fail("{\"matchExpressions\":[1]}", &err),
                        "The label selector's matchExpressions[0] must be an object.");
    assert_string_equal(
        ljson_fail("{\"matchExpressions\":[{\"operator\":\"Exists\"}]}", &err),
        "The label selector's matchExpressions[0].key must be a string.");
    assert_string_equal(
        ljson_fail("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"},"
                   "{\"key\":\"b\",\"operator\":\"in\",\"values\":[\"x\"]}]}",
                   &err),
        "The label selector's matchExpressions[1].operator \"in\" is not supported; "
        "it must be In, NotIn, Exists or DoesNotExist.");
    assert_non_null(strstr(
        ljson_fail("{\"matchExpressions\":[{\"key\":\"a\"}]}", &err),
        "matchExpressions[0].operator \"\" is not supported"));
    assert_string_equal(
        ljson_fail("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}", &err),
        "The label selector's matchExpressions[0].values must be non-empty when the "
        "operator is In.");
    assert_string_equal(
        ljson_fail("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"NotIn\","
                   "\"values\":[]}]}",
                   &err),
        "The label selector's matchExpressions[0].values must be non-empty when the "
        "operator is NotIn.");
    assert_string_equal(
        ljson_fail("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\","
                   "\"values\":[\"x\"]}]}",
                   &err),
        "The label selector's matchExpressions[0].values must be empty when the "
        "operator is Exists.");
    assert_string_equal(
        ljson_fail("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\","
                   "\"values\":\"x\"}]}",
                   &err),
        "The label selector's matchExpressions[0].values must be an array of "
        "strings.");
    assert_string_equal(
        ljson_fail("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\","
                   "\"values\":[\"x\",2]}]}",
                   &err),
        "The label selector's matchExpressions[0].values[1] must be a string.");
    assert_string_equal(
        ljson_fail("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\","
                   "\"values\":[\"-x\"]}]}",
                   &err),
        "The label selector's matchExpressions[0].values[0] \"-x\" is not a valid "
        "label value: it must be empty or consist of letters, digits, '-', '_' and "
        "'.', and start and end with a letter or digit.");
    assert_non_null(strstr(
        ljson_fail("{\"matchExpressions\":[{\"key\":\"A/b\",\"operator\":\"Exists\"}]}",
                   &err),
        "matchExpressions[0].key \"A/b\" is not a valid label key: its prefix"));

    /* An embedded NUL is not a valid value. */
    json_t *j = json_pack("{s:{s:s#}}", "matchLabels", "a", "x\0y", (size_t)3);
    label_selector_t *s = label_selector_from_json(j, &err);
    assert_null(s);
    assert_string_equal(err.msg, "The label selector's matchLabels.a must be a string.");
    json_decref(j);

    /* Too many requirements. */
    j = json_object();
    json_t *m = json_object();
    for (int i = 0; i <= SELECTOR_MAX_REQUIREMENTS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        json_object_set_new(m, k, json_string("v"));
    }
    json_object_set_new(j, "matchLabels", m);
    s = label_selector_from_json(j, &err);
    assert_null(s);
    assert_int_equal(err.code, ERR_INVALID);
    assert_non_null(strstr(err.msg, "more than 256 requirements"));
    json_decref(j);
    err_clear(&err);
}

/* ---- field selectors ---- */

static const char *const allowed[] = {"metadata.name", "metadata.namespace",
                                      "involvedObject.kind", "spec.replicas",
                                      "spec.paused", "spec.ratio", NULL};

static const char *obj_text =
    "{\"metadata\":{\"name\":\"web,1\",\"namespace\":\"default\"},"
    "\"involvedObject\":{\"kind\":\"Pod\"},"
    "\"spec\":{\"replicas\":3,\"paused\":false,\"ratio\":0.1}}";

static bool fmatch(const char *sel)
{
    err_t err = ERR_INIT;
    field_selector_t *s = field_selector_parse(sel, allowed, &err);
    json_t *obj = labels_new(obj_text);
    bool r;

    if (!s)
        fail_msg("field selector \"%s\" did not parse: %s", sel, err.msg);
    r = field_selector_matches(s, obj);
    json_decref(obj);
    field_selector_free(s);
    return r;
}

static const char *ffail(const char *sel, err_t *err)
{
    field_selector_t *s = field_selector_parse(sel, allowed, err);
    if (s) {
        field_selector_free(s);
        fail_msg("field selector \"%s\" parsed but should not have", sel);
    }
    assert_int_equal(err->code, ERR_BAD_REQUEST);
    return err->msg;
}

static void test_field_parse_match(void **state)
{
    assert_true(fmatch(""));
    assert_true(fmatch(NULL));
    assert_true(fmatch(",,"));
    assert_true(fmatch("metadata.namespace=default"));
    assert_true(fmatch("metadata.namespace==default"));
    assert_false(fmatch("metadata.namespace=kube-system"));
    assert_true(fmatch("metadata.namespace!=kube-system"));
    assert_false(fmatch("metadata.namespace!=default"));
    assert_true(fmatch("involvedObject.kind=Pod,metadata.namespace=default"));
    assert_false(fmatch("involvedObject.kind=Pod,metadata.namespace=other"));
    assert_true(fmatch(",involvedObject.kind=Pod,,"));
    /* Escaped ',' in a value. */
    assert_true(fmatch("metadata.name=web\\,1"));
    assert_false(fmatch("metadata.name=web"));
    /* Numbers and booleans compare as their text. */
    assert_true(fmatch("spec.replicas=3"));
    assert_false(fmatch("spec.replicas=3.0"));
    assert_true(fmatch("spec.paused=false"));
    assert_true(fmatch("spec.ratio=0.1"));
    /* An absent field reads as "". */
    json_t *obj = labels_new("{\"metadata\":{\"name\":\"a\"}}");
    err_t err = ERR_INIT;
    field_selector_t *s = field_selector_parse("metadata.namespace=", allowed, &err);
    assert_true(field_selector_matches(s, obj));
    field_selector_free(s);
    s = field_selector_parse("metadata.namespace!=default", allowed, &err);
    assert_true(field_selector_matches(s, obj));
    assert_true(field_selector_matches(s, NULL));
    field_selector_free(s);
    s = field_selector_parse("metadata.namespace=default", allowed, &err);
    assert_false(field_selector_matches(s, obj));
    assert_false(field_selector_matches(s, NULL));
    field_selector_free(s);
    json_decref(obj);
    field_selector_free(NULL);
}

static void test_field_escapes(void **state)
{
    err_t err = ERR_INIT;
    field_selector_t *s;
    json_t *obj = json_pack("{s:{s:s}}", "metadata", "name", "a=b,c\\d");

    s = field_selector_parse("metadata.name=a\\=b\\,c\\\\d", allowed, &err);
    assert_non_null(s);
    assert_string_equal(field_selector_exact(s, "metadata.name"), "a=b,c\\d");
    assert_true(field_selector_matches(s, obj));
    field_selector_free(s);
    /* "==" then an escaped "=" */
    s = field_selector_parse("metadata.name==\\=x", allowed, &err);
    assert_string_equal(field_selector_exact(s, "metadata.name"), "=x");
    field_selector_free(s);
    json_decref(obj);

    assert_string_equal(ffail("metadata.name=a\\b", &err),
                        "Unable to parse the field selector: the value for "
                        "\"metadata.name\" has the invalid escape sequence \"\\b\"; "
                        "only \\\\, \\, and \\= are allowed.");
    assert_non_null(strstr(ffail("metadata.name=ab\\", &err),
                           "invalid escape sequence \"\\\""));
    assert_string_equal(ffail("metadata.name=a=b", &err),
                        "Unable to parse the field selector: the value for "
                        "\"metadata.name\" has an unescaped '='; write it as \\=.");
    assert_non_null(strstr(ffail("metadata.name===b", &err), "unescaped '='"));
    err_clear(&err);
}

static void test_field_errors(void **state)
{
    err_t err = ERR_INIT;

    assert_string_equal(ffail("spec.foo=1", &err),
                        "Unable to use the field selector: field label not "
                        "supported: spec.foo.");
    assert_non_null(strstr(ffail("metadata.name=a,status.phase!=x", &err),
                           "field label not supported: status.phase"));
    assert_string_equal(ffail("metadata.name", &err),
                        "Unable to parse the field selector: the term "
                        "\"metadata.name\" has no operator; expected field=value, "
                        "field==value or field!=value.");
    assert_string_equal(ffail("=x", &err),
                        "Unable to parse the field selector: the term \"=x\" names "
                        "no field.");
    /* "!" not followed by "=" belongs to the field name. */
    assert_non_null(strstr(ffail("a!b=c", &err), "not supported: a!b."));

    /* Any field is accepted when no list is given. */
    field_selector_t *s = field_selector_parse("spec.foo.bar=1", NULL, &err);
    json_t *obj = json_pack("{s:{s:{s:s}}}", "spec", "foo", "bar", "1");
    assert_non_null(s);
    assert_true(field_selector_matches(s, obj));
    field_selector_free(s);
    json_decref(obj);

    /* Limits. */
    GString *g = g_string_new(NULL);
    for (int i = 0; i <= SELECTOR_MAX_REQUIREMENTS; i++)
        g_string_append(g, "metadata.name=x,");
    assert_string_equal(ffail(g->str, &err),
                        "Unable to parse the field selector: it has more than 256 "
                        "terms.");
    g_string_truncate(g, 0);
    g_string_append(g, "metadata.name=");
    while (g->len <= SELECTOR_MAX_LEN)
        g_string_append_c(g, 'x');
    assert_string_equal(ffail(g->str, &err),
                        "The field selector is longer than the limit of 16384 bytes.");
    g_string_free(g, TRUE);
    err_clear(&err);
}

static void test_field_exact(void **state)
{
    err_t err = ERR_INIT;
    field_selector_t *s = field_selector_parse(
        "metadata.namespace!=x,metadata.name==vm-1,metadata.name=vm-2", allowed, &err);

    assert_non_null(s);
    assert_string_equal(field_selector_exact(s, "metadata.name"), "vm-1");
    assert_null(field_selector_exact(s, "metadata.namespace"));
    assert_null(field_selector_exact(s, "involvedObject.kind"));
    assert_null(field_selector_exact(NULL, "metadata.name"));
    field_selector_free(s);
    s = field_selector_parse("metadata.name=", allowed, &err);
    assert_string_equal(field_selector_exact(s, "metadata.name"), "");
    field_selector_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_empty),
        cmocka_unit_test(test_label_equality),
        cmocka_unit_test(test_label_sets),
        cmocka_unit_test(test_label_existence),
        cmocka_unit_test(test_label_numeric),
        cmocka_unit_test(test_label_and),
        cmocka_unit_test(test_label_errors),
        cmocka_unit_test(test_label_limits),
        cmocka_unit_test(test_label_json),
        cmocka_unit_test(test_label_json_errors),
        cmocka_unit_test(test_field_parse_match),
        cmocka_unit_test(test_field_escapes),
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_field_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
