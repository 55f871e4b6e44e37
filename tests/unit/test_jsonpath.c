/*
 * Unit tests for model/jsonpath: every step form, filters, templates and
 * rendering, missing data, compile errors and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "model/jsonpath.h"

static const char *doc_text =
    "{\"kind\":\"VirtualMachine\","
    "\"metadata\":{\"name\":\"vm1\",\"namespace\":\"default\","
    "\"labels\":{\"app\":\"web\",\"kubernetes.io/os\":\"linux\"},"
    "\"annotations\":{\"example.com/note\":\"hi there\"}},"
    "\"spec\":{\"cpus\":2,\"running\":true,\"ratio\":1.5,\"nothing\":null,"
    "\"devices\":[{\"name\":\"disk0\",\"type\":\"disk\",\"size\":10},"
    "{\"name\":\"nic0\",\"type\":\"nic\",\"size\":1},"
    "{\"name\":\"disk1\",\"type\":\"disk\",\"size\":20,\"boot\":true},"
    "{\"name\":\"vm1\",\"size\":2.5}]},"
    "\"status\":{\"powerState\":\"Running\",\"conditions\":["
    "{\"type\":\"Ready\",\"status\":\"True\"},"
    "{\"type\":\"Paused\",\"status\":\"False\"}]}}";

static json_t *doc;

static int setup(void **state)
{
    json_error_t je;
    doc = json_loads(doc_text, 0, &je);
    return doc ? 0 : -1;
}

static int teardown(void **state)
{
    json_decref(doc);
    return 0;
}

/* Evaluate `expr` on `root` and return the results as compact JSON text
 * (freed by the caller with free()). */
static char *eval_text_on(const char *expr, const json_t *root)
{
    err_t err = ERR_INIT;
    jsonpath_t *jp = jsonpath_compile(expr, &err);
    json_t *res;
    char *text;

    if (!jp)
        fail_msg("\"%s\" did not compile: %s", expr, err.msg);
    res = jsonpath_eval(jp, root);
    text = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    jsonpath_free(jp);
    return text;
}

#define assert_eval(expr, expected)                                             \
    do {                                                                        \
        char *t_ = eval_text_on((expr), doc);                                   \
        assert_string_equal(t_, (expected));                                    \
        free(t_);                                                               \
    } while (0)

static char *render_on(const char *expr, const json_t *root)
{
    err_t err = ERR_INIT;
    jsonpath_t *jp = jsonpath_compile(expr, &err);
    char *text;

    if (!jp)
        fail_msg("\"%s\" did not compile: %s", expr, err.msg);
    text = jsonpath_render(jp, root);
    jsonpath_free(jp);
    return text;
}

#define assert_render(expr, expected)                                           \
    do {                                                                        \
        char *t_ = render_on((expr), doc);                                      \
        assert_string_equal(t_, (expected));                                    \
        g_free(t_);                                                             \
    } while (0)

/* Compile must fail with ERR_BAD_REQUEST; returns the message. */
static const char *compile_fail(const char *expr, err_t *err)
{
    jsonpath_t *jp = jsonpath_compile(expr, err);
    if (jp) {
        jsonpath_free(jp);
        fail_msg("\"%s\" compiled but should not have", expr);
    }
    assert_int_equal(err->code, ERR_BAD_REQUEST);
    assert_int_equal(err->msg[strlen(err->msg) - 1], '.');
    return err->msg;
}

static void test_fields(void **state)
{
    assert_eval(".status.powerState", "[\"Running\"]");
    assert_eval("status.powerState", "[\"Running\"]");
    assert_eval("$.status.powerState", "[\"Running\"]");
    assert_eval("@.kind", "[\"VirtualMachine\"]");
    assert_eval("  .kind  ", "[\"VirtualMachine\"]");
    assert_eval(".spec.cpus", "[2]");
    assert_eval(".spec.nothing", "[null]");
    assert_eval(".metadata.labels['kubernetes.io/os']", "[\"linux\"]");
    assert_eval(".metadata.labels[\"kubernetes.io/os\"]", "[\"linux\"]");
    assert_eval(".metadata.labels.kubernetes\\.io/os", "[\"linux\"]");
    assert_eval("['metadata']['annotations']['example.com/note']", "[\"hi there\"]");
    assert_eval(".metadata.labels.*", "[\"web\",\"linux\"]");
    assert_eval(".metadata.labels[*]", "[\"web\",\"linux\"]");
    assert_eval(".spec.devices[*].name", "[\"disk0\",\"nic0\",\"disk1\",\"vm1\"]");
    assert_eval(".spec.devices.*.size", "[10,1,20,2.5]");
    assert_eval(".metadata['name','namespace']", "[\"vm1\",\"default\"]");
}

static void test_root(void **state)
{
    json_t *small = json_pack("{s:i}", "a", 1);
    char *t;

    t = eval_text_on("$", small);
    assert_string_equal(t, "[{\"a\":1}]");
    free(t);
    t = eval_text_on("{.}", small);
    assert_string_equal(t, "[{\"a\":1}]");
    free(t);
    t = eval_text_on("{@}", small);
    assert_string_equal(t, "[{\"a\":1}]");
    free(t);
    t = eval_text_on(".", small);
    assert_string_equal(t, "[{\"a\":1}]");
    free(t);
    t = render_on("{ . }", small);
    assert_string_equal(t, "{\"a\":1}");
    g_free(t);
    json_decref(small);
}

static void test_missing(void **state)
{
    assert_eval(".status.nope", "[]");
    assert_eval(".nope.deeper.still", "[]");
    assert_eval(".metadata[0]", "[]");
    assert_eval(".spec.devices.name", "[]");
    assert_eval(".kind.x", "[]");
    assert_eval(".kind[*]", "[]");
    assert_eval(".metadata[?(@.x)]", "[]");
    assert_render(".status.nope", "");
    assert_render("x={.status.nope}.", "x=.");

    char *t = eval_text_on(".a", NULL);
    assert_string_equal(t, "[]");
    free(t);
    t = render_on("[{.a}]", NULL);
    assert_string_equal(t, "[]");
    g_free(t);
}

static void test_index_slice(void **state)
{
    assert_eval(".spec.devices[0].name", "[\"disk0\"]");
    assert_eval(".spec.devices[2].name", "[\"disk1\"]");
    assert_eval(".spec.devices[-1].name", "[\"vm1\"]");
    assert_eval(".spec.devices[-4].name", "[\"disk0\"]");
    assert_eval(".spec.devices[4].name", "[]");
    assert_eval(".spec.devices[-5].name", "[]");
    assert_eval(".spec.devices[ 1 ].name", "[\"nic0\"]");
    assert_eval(".spec.devices[0:2].name", "[\"disk0\",\"nic0\"]");
    assert_eval(".spec.devices[1:].name", "[\"nic0\",\"disk1\",\"vm1\"]");
    assert_eval(".spec.devices[:1].name", "[\"disk0\"]");
    assert_eval(".spec.devices[:].size", "[10,1,20,2.5]");
    assert_eval(".spec.devices[-2:].name", "[\"disk1\",\"vm1\"]");
    assert_eval(".spec.devices[:-3].name", "[\"disk0\"]");
    assert_eval(".spec.devices[::2].name", "[\"disk0\",\"disk1\"]");
    assert_eval(".spec.devices[1:4:2].name", "[\"nic0\",\"vm1\"]");
    assert_eval(".spec.devices[0:100].size", "[10,1,20,2.5]");
    assert_eval(".spec.devices[-100:1].size", "[10]");
    assert_eval(".spec.devices[5:9]", "[]");
    assert_eval(".spec.devices[2:1]", "[]");
    assert_eval(".spec.devices[0,2].name", "[\"disk0\",\"disk1\"]");
    assert_eval(".spec.devices[0, -1].name", "[\"disk0\",\"vm1\"]");
    assert_eval(".spec.devices[0][ 'name' , 'type' ]", "[\"disk0\",\"disk\"]");
}

static void test_filters(void **state)
{
    assert_eval(".spec.devices[?(@.type==\"disk\")].name", "[\"disk0\",\"disk1\"]");
    assert_eval(".spec.devices[?(@.type=='disk')].name", "[\"disk0\",\"disk1\"]");
    assert_eval(".spec.devices[?( @.type == \"disk\" )].name",
                "[\"disk0\",\"disk1\"]");
    /* != does not select the element that lacks the field. */
    assert_eval(".spec.devices[?(@.type!=\"disk\")].name", "[\"nic0\"]");
    assert_eval(".status.conditions[?(@.type==\"Ready\")].status", "[\"True\"]");
    assert_eval(".status.conditions[?(@.type==\"Gone\")].status", "[]");
    /* Presence. */
    assert_eval(".spec.devices[?(@.type)].name", "[\"disk0\",\"nic0\",\"disk1\"]");
    assert_eval(".spec.devices[?(@.boot)].name", "[\"disk1\"]");
    assert_eval(".spec.devices[?(@.missing)].name", "[]");
    /* Numbers, integer and real mixed. */
    assert_eval(".spec.devices[?(@.size>5)].name", "[\"disk0\",\"disk1\"]");
    assert_eval(".spec.devices[?(@.size>=20)].name", "[\"disk1\"]");
    assert_eval(".spec.devices[?(@.size<2)].name", "[\"nic0\"]");
    assert_eval(".spec.devices[?(@.size<=10)].name", "[\"disk0\",\"nic0\",\"vm1\"]");
    assert_eval(".spec.devices[?(@.size==2.5)].name", "[\"vm1\"]");
    assert_eval(".spec.devices[?(@.size==10.0)].name", "[\"disk0\"]");
    assert_eval(".spec.devices[?(@.size>1e1)].name", "[\"disk1\"]");
    assert_eval(".spec.devices[?(@.size>-1)].size", "[10,1,20,2.5]");
    /* A number never equals a string. */
    assert_eval(".spec.devices[?(@.size==\"10\")].name", "[]");
    assert_eval(".spec.devices[?(@.size!=\"10\")].name",
                "[\"disk0\",\"nic0\",\"disk1\",\"vm1\"]");
    /* Strings order bytewise. */
    assert_eval(".spec.devices[?(@.name<\"e\")].name", "[\"disk0\",\"disk1\"]");
    /* Booleans and null. */
    assert_eval(".spec.devices[?(@.boot==true)].name", "[\"disk1\"]");
    assert_eval(".spec.devices[?(@.boot!=false)].name", "[\"disk1\"]");
    /* The right side may be a path, also from the root. */
    assert_eval(".spec.devices[?(@.name==$.metadata.name)].size", "[2.5]");
    assert_eval(".spec.devices[?($.spec.cpus==2)].name",
                "[\"disk0\",\"nic0\",\"disk1\",\"vm1\"]");
    assert_eval(".spec.devices[?(\"nic\"==@.type)].name", "[\"nic0\"]");
    /* A nested filter inside a filter operand. */
    json_t *d = json_loads("{\"items\":[{\"n\":\"a\",\"c\":[{\"t\":\"x\"}]},"
                           "{\"n\":\"b\",\"c\":[{\"t\":\"y\"}]}]}",
                           0, NULL);
    char *t = eval_text_on(".items[?(@.c[?(@.t==\"y\")])].n", d);
    assert_string_equal(t, "[\"b\"]");
    free(t);
    /* A filter on an object selects nothing. */
    t = eval_text_on(".items[0][?(@.n)]", d);
    assert_string_equal(t, "[]");
    free(t);
    json_decref(d);
    /* Null literal. */
    assert_eval(".spec[?(@==null)]", "[]");
    d = json_loads("{\"a\":[{\"v\":null,\"k\":1},{\"v\":0,\"k\":2}]}", 0, NULL);
    t = eval_text_on(".a[?(@.v==null)].k", d);
    assert_string_equal(t, "[1]");
    free(t);
    json_decref(d);
}

static void test_descent(void **state)
{
    assert_eval("..name", "[\"vm1\",\"disk0\",\"nic0\",\"disk1\",\"vm1\"]");
    assert_eval(".spec..name", "[\"disk0\",\"nic0\",\"disk1\",\"vm1\"]");
    assert_eval("..conditions[*].type", "[\"Ready\",\"Paused\"]");
    assert_eval("..[?(@.status==\"False\")].type", "[\"Paused\"]");
    assert_eval(".metadata..*", "[\"vm1\",\"default\",{\"app\":\"web\","
                                "\"kubernetes.io/os\":\"linux\"},{\"example.com/note\":"
                                "\"hi there\"},\"web\",\"linux\",\"hi there\"]");
    assert_eval("{..powerState}", "[\"Running\"]");
}

static void test_templates(void **state)
{
    assert_render("{.kind}/{.metadata.name}", "VirtualMachine/vm1");
    assert_render("{.metadata.name}{\"\\n\"}", "vm1\n");
    assert_render("{'\\t'}{.kind}{\"\\\"}\"}", "\tVirtualMachine\"}");
    assert_render("name: {.metadata.name} }", "name: vm1 }");
    assert_render("{.spec.devices[*].name}", "disk0 nic0 disk1 vm1");
    assert_render(".spec.devices[*].name", "disk0 nic0 disk1 vm1");
    assert_render("{.spec.cpus} {.spec.running} {.spec.nothing} {.spec.ratio}",
                  "2 true null 1.5");
    assert_render("{.metadata.labels}",
                  "{\"app\":\"web\",\"kubernetes.io/os\":\"linux\"}");
    assert_render("{.status.conditions[0]}", "{\"type\":\"Ready\",\"status\":\"True\"}");
    assert_render("{.spec.devices[?(@.type==\"disk\")].size}", "10 20");
    assert_render("text only, no braces? no: {\"x\"}", "text only, no braces? no: x");
    /* Eval concatenates the expressions' results and skips the text. */
    assert_eval("{.kind}/{.spec.devices[0:2].name}{\"\\n\"}",
                "[\"VirtualMachine\",\"disk0\",\"nic0\"]");
    assert_eval("{\"only text\"}", "[]");
    /* The results are the document's own values. */
    err_t err = ERR_INIT;
    jsonpath_t *jp = jsonpath_compile(".status", &err);
    json_t *res = jsonpath_eval(jp, doc);
    assert_ptr_equal(json_array_get(res, 0), json_object_get(doc, "status"));
    json_decref(res);
    jsonpath_free(jp);
    jsonpath_free(NULL);
}

static void test_render_strings(void **state)
{
    json_t *d = json_pack("{s:s#,s:f,s:[]}", "s", "a\0b", (size_t)3, "r", 3.0, "e");
    char *t = render_on("{.s}", d);
    /* Raw string, not JSON-quoted; the NUL is kept inside the text. */
    assert_memory_equal(t, "a\0b", 4);
    g_free(t);
    t = render_on("<{.r}><{.e}><{.e[*]}>", d);
    assert_string_equal(t, "<3.0><[]><>");
    g_free(t);
    json_decref(d);
}

static void test_errors(void **state)
{
    err_t err = ERR_INIT;

    assert_string_equal(compile_fail("", &err), "The JSONPath expression is empty.");
    assert_string_equal(compile_fail("   ", &err), "The JSONPath expression is empty.");
    assert_string_equal(compile_fail(".a[", &err),
                        "Unable to compile the JSONPath expression: found the end of "
                        "the text where a quoted name, an index, a slice, '*' or '?(' "
                        "inside '[]' was expected.");
    assert_string_equal(compile_fail(".a[0", &err),
                        "Unable to compile the JSONPath expression: found the end of "
                        "the text where ',' or ']' was expected.");
    assert_string_equal(compile_fail(".a[0)", &err),
                        "Unable to compile the JSONPath expression: found ')' at "
                        "offset 4 where ',' or ']' was expected.");
    assert_string_equal(compile_fail(".a[?(@.x==1]", &err),
                        "Unable to compile the JSONPath expression: found ']' at "
                        "offset 11 where ')' to close the filter was expected.");
    assert_string_equal(compile_fail(".a[?(@.x==1)", &err),
                        "Unable to compile the JSONPath expression: found the end of "
                        "the text where ']' after the filter was expected.");
    assert_string_equal(compile_fail(".a[?@.x]", &err),
                        "Unable to compile the JSONPath expression: found '@' at "
                        "offset 4 where '(' after '[?' was expected.");
    assert_string_equal(compile_fail("[?(@.a=1)]", &err),
                        "Unable to compile the JSONPath expression: found '=' at "
                        "offset 6 where ')' to close the filter was expected.");
    assert_string_equal(compile_fail("[?(\"x\")]", &err),
                        "Unable to compile the JSONPath expression: found ')' at "
                        "offset 6 where a comparison operator (==, !=, <, <=, >, >=) "
                        "was expected.");
    assert_non_null(strstr(compile_fail("[?(@.a==)]", &err),
                           "found ')' at offset 8 where a path starting with '@' or "
                           "'$', a quoted string, a number, true, false or null"));
    assert_non_null(strstr(compile_fail("[?(@.a==1.2.3)]", &err),
                           "a number is malformed at offset 8"));
    assert_string_equal(compile_fail("{.a", &err),
                        "Unable to compile the JSONPath expression: found the end of "
                        "the text where '}' to close the expression opened at offset "
                        "0 was expected.");
    assert_string_equal(compile_fail("x {}", &err),
                        "Unable to compile the JSONPath expression: '{}' holds no "
                        "expression at offset 2.");
    assert_string_equal(compile_fail("{range .items[*]}{.x}{end}", &err),
                        "Unable to compile the JSONPath expression: '{range}' at "
                        "offset 0 is not supported.");
    assert_string_equal(compile_fail("{kind}", &err),
                        "Unable to compile the JSONPath expression: found 'k' at "
                        "offset 1 where an expression starting with '.', '[', '$' or "
                        "'@' was expected.");
    assert_string_equal(compile_fail(".a.", &err),
                        "Unable to compile the JSONPath expression: found the end of "
                        "the text where a field name or '*' after '.' was expected.");
    assert_string_equal(compile_fail(".a..", &err),
                        "Unable to compile the JSONPath expression: found the end of "
                        "the text where a field name, '*' or '[' after '..' was "
                        "expected.");
    assert_string_equal(compile_fail(".a b", &err),
                        "Unable to compile the JSONPath expression: found 'b' at "
                        "offset 3 where the end of the expression was expected.");
    assert_string_equal(compile_fail(".a[1:2:0]", &err),
                        "Unable to compile the JSONPath expression: a slice step must "
                        "be a positive number at offset 7.");
    assert_non_null(strstr(compile_fail(".a[::-1]", &err), "slice step must be"));
    assert_non_null(strstr(compile_fail(".a[-]", &err), "found ']' at offset 4 "
                                                       "where a digit after '-'"));
    assert_non_null(strstr(compile_fail(".a[99999999999999]", &err),
                           "an array index is too large at offset 3"));
    assert_non_null(strstr(compile_fail(".a[b]", &err), "found 'b' at offset 3"));
    assert_string_equal(compile_fail(".a['x]", &err),
                        "Unable to compile the JSONPath expression: a quoted string "
                        "is not closed at offset 3.");
    assert_non_null(strstr(compile_fail(".a['\\q']", &err),
                           "found 'q' at offset 5 where one of n, t, r"));
    assert_string_equal(compile_fail(".a\\", &err),
                        "Unable to compile the JSONPath expression: a field name ends "
                        "with a lone '\\' at offset 2.");
    assert_non_null(strstr(compile_fail("{.a}{\"x}", &err),
                           "a quoted string is not closed at offset 5"));
    assert_non_null(strstr(compile_fail("{.a\x01}", &err),
                           "found byte 0x01 at offset 3"));
    assert_non_null(strstr(compile_fail("[?('\xff'==@.a)]", &err),
                           "a quoted string is not valid UTF-8"));

    /* Filter nesting is bounded. */
    GString *g = g_string_new(".a");
    for (int i = 0; i < 9; i++)
        g_string_append(g, "[?(@.b");
    for (int i = 0; i < 9; i++)
        g_string_append(g, ")]");
    assert_non_null(strstr(compile_fail(g->str, &err), "filters are nested too deeply"));
    g_string_truncate(g, 2);
    for (int i = 0; i < 8; i++)
        g_string_append(g, "[?(@.b");
    for (int i = 0; i < 8; i++)
        g_string_append(g, ")]");
    jsonpath_t *jp = jsonpath_compile(g->str, &err);
    assert_non_null(jp);
    jsonpath_free(jp);

    /* Length limit: 1024 bytes compile, 1025 do not. */
    g_string_truncate(g, 0);
    while (g->len < JSONPATH_MAX_LEN)
        g_string_append(g, ".a");
    g_string_truncate(g, JSONPATH_MAX_LEN);
    jp = jsonpath_compile(g->str, &err);
    assert_non_null(jp);
    jsonpath_free(jp);
    g_string_append(g, "b");
    assert_string_equal(compile_fail(g->str, &err),
                        "The JSONPath expression is longer than the limit of 1024 "
                        "bytes.");
    g_string_free(g, TRUE);
    err_clear(&err);
}

static void test_result_limit(void **state)
{
    json_t *outer = json_array();
    char *t;

    for (int i = 0; i < 400; i++) {
        json_t *inner = json_array();
        for (int j = 0; j < 400; j++)
            json_array_append_new(inner, json_integer(j));
        json_array_append_new(outer, inner);
    }
    err_t err = ERR_INIT;
    jsonpath_t *jp = jsonpath_compile("[*][*]", &err);
    json_t *res = jsonpath_eval(jp, outer);
    assert_int_equal(json_array_size(res), JSONPATH_MAX_RESULTS);
    json_decref(res);
    jsonpath_free(jp);
    /* A union that multiplies the working set is bounded too. */
    t = eval_text_on("[0][0,0,0,0,0,0,0,0,0,0][0,0,0,0,0,0,0,0,0,0]", outer);
    assert_string_equal(t, "[]");
    free(t);
    jp = jsonpath_compile("$[0,1,2,3,4,5,6,7,8,9][*]", &err);
    res = jsonpath_eval(jp, outer);
    assert_int_equal(json_array_size(res), 4000);
    json_decref(res);
    jsonpath_free(jp);
    json_decref(outer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_root),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_index_slice),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_descent),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_render_strings),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_result_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
