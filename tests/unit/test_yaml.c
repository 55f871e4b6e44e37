/*
 * test_yaml: scalar typing against go-yaml v2's rules, structure, the
 * refusals (aliases, second documents, duplicate keys, depth), error
 * positions, and write-then-read round trips of awkward strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/yaml.h"
#include "util/jsonutil.h"

/* Parse text that must be valid; fails the test with the message if not. */
static json_t *parse_ok(const char *text)
{
    err_t err = ERR_INIT;
    json_t *v = yaml_parse(text, strlen(text), &err);
    if (!v)
        fail_msg("yaml_parse(\"%s\") failed: %s", text, err.msg);
    assert_false(err_is_set(&err));
    return v;
}

/* Parse text that must be refused with ERR_BAD_REQUEST and a message that
 * contains `needle`. */
static void parse_fails(const char *text, const char *needle)
{
    err_t err = ERR_INIT;
    json_t *v = yaml_parse(text, strlen(text), &err);
    if (v) {
        char *dump = json_dump_compact(v);
        json_decref(v);
        fail_msg("yaml_parse(\"%s\") should fail, gave %s", text, dump);
    }
    assert_int_equal(err.code, ERR_BAD_REQUEST);
    if (!strstr(err.msg, needle))
        fail_msg("error for \"%s\" is \"%s\", which lacks \"%s\"", text,
                 err.msg, needle);
    /* Whole sentences. */
    assert_true(err.msg[0] >= 'A' && err.msg[0] <= 'Z');
    assert_int_equal(err.msg[strlen(err.msg) - 1], '.');
    err_clear(&err);
}

/* Parse text, compare with the JSON text `want`. */
static void expect_json(const char *text, const char *want)
{
    json_error_t je;
    json_t *w = json_loads(want, JSON_DECODE_ANY, &je);
    json_t *v = parse_ok(text);
    if (!w)
        fail_msg("bad expectation %s: %s", want, je.text);
    if (!json_equal(v, w) || json_typeof(v) != json_typeof(w)) {
        char *dump = json_dump_compact(v);
        fail_msg("yaml \"%s\" gave %s, want %s", text, dump, want);
    }
    json_decref(v);
    json_decref(w);
}

/* The value of "v: <scalar>" as compact JSON must be `want`. */
static void expect_scalar(const char *scalar, const char *want)
{
    char text[256];
    json_t *v, *w;
    json_error_t je;

    snprintf(text, sizeof(text), "v: %s\n", scalar);
    v = parse_ok(text);
    w = json_loads(want, JSON_DECODE_ANY, &je);
    if (!w)
        fail_msg("bad expectation %s: %s", want, je.text);
    json_t *got = json_object_get(v, "v");
    assert_non_null(got);
    /* json_equal does not compare 1 and 1.0 equal, so types are checked. */
    if (!json_equal(got, w)) {
        char *dump = json_dump_compact(got);
        fail_msg("scalar \"%s\" gave %s, want %s", scalar, dump, want);
    }
    json_decref(v);
    json_decref(w);
}

static void test_scalars_null_bool(void **state)
{
    (void)state;
    expect_scalar("", "null");
    expect_scalar("~", "null");
    expect_scalar("null", "null");
    expect_scalar("Null", "null");
    expect_scalar("NULL", "null");
    expect_scalar("nUll", "\"nUll\"");
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes",
                                      "YES", "y", "Y", "on", "On", "ON"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No",
                                     "NO", "n", "N", "off", "Off", "OFF"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        expect_scalar(yes[i], "true");
        expect_scalar(no[i], "false");
    }
    expect_scalar("yEs", "\"yEs\"");
    expect_scalar("tRUE", "\"tRUE\"");
    expect_scalar("yes please", "\"yes please\"");
    /* Quoted and block scalars are strings whatever they spell. */
    expect_scalar("'true'", "\"true\"");
    expect_scalar("\"yes\"", "\"yes\"");
    expect_scalar("\"null\"", "\"null\"");
    expect_scalar("''", "\"\"");
    expect_scalar("|\n  true", "\"true\\n\"");
}

static void test_scalars_numbers(void **state)
{
    (void)state;
    expect_scalar("123", "123");
    expect_scalar("-17", "-17");
    expect_scalar("+12", "12");
    expect_scalar("0", "0");
    expect_scalar("-0", "0");
    expect_scalar("0x1F", "31");
    expect_scalar("0X1f", "31");
    expect_scalar("-0x10", "-16");
    expect_scalar("0o17", "15");
    expect_scalar("0b101", "5");
    expect_scalar("-0b11", "-3");
    /* A leading zero means octal, as in Go. */
    expect_scalar("0123", "83");
    expect_scalar("0777", "511");
    /* Not octal, but matches the float pattern: 8.0, which Go prints as 8. */
    expect_scalar("08", "8");
    expect_scalar("09.5", "9.5");
    expect_scalar("1_000", "1000");
    expect_scalar("0x_1F", "31");
    expect_scalar("9223372036854775807", "9223372036854775807");
    expect_scalar("-9223372036854775808", "-9223372036854775808");
    /* Beyond int64: a number, but not an integer jansson can hold. */
    expect_scalar("9223372036854775808", "9223372036854775808.0");
    expect_scalar("18446744073709551616", "18446744073709551616.0");
    /* Floats; whole values come out as integers as they do through Go's
     * JSON encoding. */
    expect_scalar("1e3", "1000");
    expect_scalar("1E3", "1000");
    expect_scalar("1.0", "1");
    expect_scalar("1.", "1");
    expect_scalar("1.5", "1.5");
    expect_scalar(".5", "0.5");
    expect_scalar("-.5", "-0.5");
    expect_scalar("+.5", "0.5");
    expect_scalar("1.5e-3", "0.0015");
    expect_scalar("2.5E+2", "250");
    expect_scalar("1e21", "1e21");
    expect_scalar("1_0.5", "10.5");
    expect_scalar("1e-400", "0");
    /* Not numbers. */
    expect_scalar("1e999", "\"1e999\"");
    expect_scalar("0x", "\"0x\"");
    expect_scalar("0xFFFFFFFFFFFFFFFFFF", "\"0xFFFFFFFFFFFFFFFFFF\"");
    expect_scalar("1.2.3", "\"1.2.3\"");
    expect_scalar("12abc", "\"12abc\"");
    expect_scalar("10Gi", "\"10Gi\"");
    expect_scalar("1e", "\"1e\"");
    expect_scalar(".5_0", "\".5_0\"");
    expect_scalar("._5", "\"._5\"");
    expect_scalar("_1", "\"_1\"");
    expect_scalar("2001-12-14", "\"2001-12-14\"");
    expect_scalar("2001-12-14T21:59:43.10Z", "\"2001-12-14T21:59:43.10Z\"");
    expect_scalar("1:20", "\"1:20\"");
    expect_scalar("+", "\"+\"");
    expect_scalar("'0123'", "\"0123\"");
    expect_scalar("\"1e3\"", "\"1e3\"");
    expect_scalar("\"08\"", "\"08\"");
    /* JSON has no place for these. */
    parse_fails("v: .inf\n", "infinite or not-a-number");
    parse_fails("v: -.Inf\n", "line 1, column 4");
    parse_fails("v: +.INF\n", "infinite");
    parse_fails("v: .nan\n", "infinite or not-a-number");
    parse_fails("v: [1, .NaN]\n", "line 1, column 8");
}

static void test_scalars_tags(void **state)
{
    (void)state;
    expect_scalar("!!str 123", "\"123\"");
    expect_scalar("!!str true", "\"true\"");
    expect_scalar("!!str", "\"\"");
    expect_scalar("!!int \"42\"", "42");
    expect_scalar("!!int 0x10", "16");
    expect_scalar("!!float 1.5", "1.5");
    expect_scalar("!!float '2'", "2");
    expect_scalar("!!bool yes", "true");
    expect_scalar("!!bool \"off\"", "false");
    expect_scalar("!!null ~", "null");
    expect_scalar("!!null ''", "null");
    expect_scalar("!!timestamp 2001-12-14", "\"2001-12-14\"");
    expect_scalar("! 12", "\"12\"");
    expect_scalar("!local true", "\"true\"");
    expect_scalar("!<tag:example.com,2000:x> 5", "\"5\"");
    parse_fails("v: !!int abc\n", "as !!int");
    parse_fails("v: !!int 1.5\n", "line 1, column 4");
    parse_fails("v: !!bool 1\n", "as !!bool");
    parse_fails("v: !!null x\n", "as !!null");
    parse_fails("v: !!float abc\n", "as !!float");
    parse_fails("v: !!binary aGVsbG8=\n", "!!binary");
}

static void test_structure(void **state)
{
    (void)state;
    expect_json("apiVersion: v1\n"
                "kind: ConfigMap\n"
                "metadata:\n"
                "  name: x\n"
                "  labels: {a: b, c: \"1\", d: 2}\n"
                "data:\n"
                "  list:\n"
                "  - 1\n"
                "  - [2, three, {k: v}]\n"
                "  - {k: [], m: {}}\n"
                "  - - nested\n"
                "    - more\n"
                "  -\n"
                "  - key: value\n"
                "    other: 2\n"
                "  empty:\n",
                "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
                "\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"b\","
                "\"c\":\"1\",\"d\":2}},"
                "\"data\":{\"list\":[1,[2,\"three\",{\"k\":\"v\"}],"
                "{\"k\":[],\"m\":{}},[\"nested\",\"more\"],null,"
                "{\"key\":\"value\",\"other\":2}],\"empty\":null}}");
    /* Flow style all the way, which is also JSON. */
    expect_json("{\"a\": [1, 2.5, \"x\", true, null], \"b\": {\"c\": {}}}",
                "{\"a\":[1,2.5,\"x\",true,null],\"b\":{\"c\":{}}}");
    /* Top-level values other than mappings. */
    expect_json("- a\n- b\n", "[\"a\",\"b\"]");
    expect_json("42\n", "42");
    expect_json("'x'", "\"x\"");
    /* Empty streams and documents read as null. */
    expect_json("", "null");
    expect_json("# only a comment\n", "null");
    expect_json("---\n", "null");
    /* Markers around one document are fine, and so are empty documents
     * after it. */
    expect_json("---\na: 1\n", "{\"a\":1}");
    expect_json("a: 1\n...\n", "{\"a\":1}");
    expect_json("a: 1\n---\n", "{\"a\":1}");
    expect_json("%YAML 1.1\n---\na: 1\n---\n---\n", "{\"a\":1}");
    /* Anchors without aliases are harmless. */
    expect_json("a: &x 1\nb: &y [2]\n", "{\"a\":1,\"b\":[2]}");
    /* Comments, unicode, escapes, embedded NUL. */
    expect_json("a: b # c\nd: \"\\u00e4\\t\\\\\"\ne: ü\n",
                "{\"a\":\"b\",\"d\":\"\\u00e4\\t\\\\\",\"e\":\"\\u00fc\"}");
    json_t *v = parse_ok("a: \"x\\0y\"\n");
    assert_int_equal(json_string_length(json_object_get(v, "a")), 3);
    json_decref(v);
    /* The length bounds the input; no NUL is needed. */
    err_t err = ERR_INIT;
    v = yaml_parse("a: 1XYZ", 4, &err);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
    /* Key order is kept. */
    v = parse_ok("z: 1\na: 2\nm: 3\n");
    const char *key;
    json_t *val;
    const char *order[] = {"z", "a", "m"};
    size_t i = 0;
    json_object_foreach(v, key, val) {
        assert_string_equal(key, order[i]);
        i++;
    }
    json_decref(v);
}

static void test_block_scalars(void **state)
{
    (void)state;
    expect_json("a: |\n  line1\n   line2\n", "{\"a\":\"line1\\n line2\\n\"}");
    expect_json("a: |-\n  line1\n  line2\n\n", "{\"a\":\"line1\\nline2\"}");
    expect_json("a: |+\n  line1\n\n\nb: 1\n",
                "{\"a\":\"line1\\n\\n\\n\",\"b\":1}");
    expect_json("a: >\n  one\n  two\n\n  three\n",
                "{\"a\":\"one two\\nthree\\n\"}");
    expect_json("a: >-\n  one\n  two\n", "{\"a\":\"one two\"}");
    expect_json("a: |2\n    indented\n  plain\n",
                "{\"a\":\"  indented\\nplain\\n\"}");
    expect_json("a: |\n  123\n", "{\"a\":\"123\\n\"}");
    expect_json("a: >-\n  true\n", "{\"a\":\"true\"}");
    expect_json("a: 'it''s'\nb: \"q\\\"q\"\nc: plain text here\n",
                "{\"a\":\"it's\",\"b\":\"q\\\"q\",\"c\":\"plain text here\"}");
    expect_json("a: multi\n  line\n  plain\n", "{\"a\":\"multi line plain\"}");
}

static void test_multi_document(void **state)
{
    (void)state;
    parse_fails("a: 1\n---\nb: 2\n", "holds more than one YAML document");
    parse_fails("a: 1\n---\nb: 2\n", "line 2");
    parse_fails("---\na: 1\n---\n- x\n", "more than one YAML document");
    parse_fails("a: 1\n--- ~\n", "more than one YAML document");
    parse_fails("a: 1\n--- ''\n", "more than one YAML document");
    parse_fails("---\n---\na: 1\n", "more than one YAML document");
    parse_fails("a: 1\n...\n---\nb: 2\n", "more than one YAML document");
}

static void test_aliases(void **state)
{
    (void)state;
    parse_fails("a: &x 1\nb: *x\n", "alias");
    parse_fails("a: &x 1\nb: *x\n", "line 2, column 4");
    parse_fails("a: &x [1]\nb: [*x]\n", "aliases are not accepted");
    parse_fails("a: &x k\n*x : 1\n", "alias");
    parse_fails("base: &b {x: 1}\nderived:\n  <<: *b\n", "alias");
    /* The classic expansion bomb stops at the first alias. */
    parse_fails("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
                "line 2");
}

static void test_keys(void **state)
{
    (void)state;
    parse_fails("a: 1\na: 2\n", "repeats the key \"a\"");
    parse_fails("a: 1\na: 2\n", "line 2, column 1");
    parse_fails("top:\n  x: 1\n  y: 2\n  x: 3\n", "line 4, column 3");
    parse_fails("{a: 1, a: 2}", "repeats the key");
    /* Keys are compared after conversion. */
    parse_fails("yes: 1\ntrue: 2\n", "repeats the key \"true\"");
    parse_fails("1: a\n0x1: b\n", "repeats the key \"1\"");
    parse_fails("'a': 1\n\"a\": 2\n", "repeats the key \"a\"");
    /* A long or odd key is shown shortened and tame. */
    parse_fails("\"q\\\"\\n0123456789012345678901234567890123456789012345678901234567890123456789\": 1\n"
                "\"q\\\"\\n0123456789012345678901234567890123456789012345678901234567890123456789\": 2\n",
                "repeats the key \"q'?01234");
    parse_fails("yes: 1\ny: 3\n", "repeats the key \"true\"");
}

static void test_keys_converted(void **state)
{
    (void)state;
    expect_json("yes: 1\noff: 2\n", "{\"true\":1,\"false\":2}");
    expect_json("1: a\n0x10: b\n-3: c\n", "{\"1\":\"a\",\"16\":\"b\",\"-3\":\"c\"}");
    expect_json("1.5: a\n1e6: b\n1e3: c\n0.0001: d\n0.00001: e\n",
                "{\"1.5\":\"a\",\"1e+06\":\"b\",\"1000\":\"c\",\"0.0001\":\"d\","
                "\"1e-05\":\"e\"}");
    expect_json("3.14159265358979: pi\n", "{\"3.1415927\":\"pi\"}");
    expect_json(".inf: a\n-.inf: b\n.nan: c\n",
                "{\".inf\":\"a\",\"-.inf\":\"b\",\".nan\":\"c\"}");
    expect_json("'yes': 1\n!!str 12: 2\n", "{\"yes\":1,\"12\":2}");
    expect_json("\"\": empty\n", "{\"\":\"empty\"}");
    parse_fails("~: x\n", "null mapping key");
    parse_fails("null: x\n", "line 1, column 1");
    parse_fails("? \n: x\n", "null mapping key");
    parse_fails("{~: x}\n", "null mapping key");
    parse_fails("{[a]: x}\n", "keys must be scalars");
    parse_fails("? [a]\n: x\n", "keys must be scalars");
    parse_fails("? {a: 1}\n: x\n", "line 1, column 3");
}

static char *nested_flow(int levels)
{
    char *s = malloc((size_t)levels * 2 + 1);
    for (int i = 0; i < levels; i++) {
        s[i] = '[';
        s[levels + i] = ']';
    }
    s[levels * 2] = '\0';
    return s;
}

static char *nested_block(int levels)
{
    size_t cap = (size_t)levels * (size_t)(levels * 2 + 8) + 16, len = 0;
    char *s = malloc(cap);
    for (int i = 0; i < levels; i++)
        len += (size_t)snprintf(s + len, cap - len, "%*sk:\n", i * 2, "");
    snprintf(s + len, cap - len, "%*sk: leaf\n", levels * 2, "");
    return s;
}

static void test_depth(void **state)
{
    (void)state;
    char *ok = nested_flow(JSON_MAX_DEPTH);
    json_t *v = parse_ok(ok);
    assert_int_equal(json_depth(v, 1000), JSON_MAX_DEPTH);
    json_decref(v);
    free(ok);

    char *deep = nested_flow(JSON_MAX_DEPTH + 1);
    parse_fails(deep, "nests deeper than 100 levels");
    parse_fails(deep, "line 1, column 101");
    free(deep);

    /* 99 mappings with a 100th holding the leaf: exactly the limit. */
    char *block = nested_block(JSON_MAX_DEPTH - 1);
    v = parse_ok(block);
    assert_int_equal(json_depth(v, 1000), JSON_MAX_DEPTH);
    json_decref(v);
    free(block);

    block = nested_block(JSON_MAX_DEPTH);
    parse_fails(block, "nests deeper");
    free(block);

    /* Far deeper input stops early and cleanly. */
    deep = nested_flow(100000);
    parse_fails(deep, "nests deeper");
    free(deep);
}

static void test_malformed(void **state)
{
    (void)state;
    parse_fails("a: 1\nb: [1, 2\nc: 3\n", "The YAML document is malformed");
    parse_fails("a:\n  b: 1\n c: 2\n", "line 3, column 2");
    parse_fails("a: 1\n  b: 2\n", "line 2, column 4");
    parse_fails("a: 'unterminated\n", "while scanning a quoted scalar that "
                                     "started at line 1, column 4");
    parse_fails("a: b: c\n", "line 1, column 5");
    parse_fails("key:\n\t- tab\n", "line 2");
    parse_fails("- a\nb: c\n", "line 2");
    parse_fails("a: \"\\q\"\n", "line 1");
    parse_fails("a: \xff\n", "cannot be read");
    parse_fails("a: \x01\n", "cannot be read");
    parse_fails("[1, 2", "line 1");
    parse_fails("a: *\n", "line 1");
}

/* Emit, read back, compare. */
static void round_trip(json_t *v)
{
    err_t err = ERR_INIT;
    char *text = yaml_emit(v);
    json_t *back;

    assert_non_null(text);
    back = yaml_parse(text, strlen(text), &err);
    if (!back) {
        char *dump = json_dump_compact(v);
        fail_msg("emitted YAML for %s does not parse: %s\n---\n%s", dump,
                 err.msg, text);
    }
    if (!json_equal(v, back)) {
        char *want = json_dump_compact(v), *got = json_dump_compact(back);
        fail_msg("round trip changed %s into %s via\n%s", want, got, text);
    }
    json_decref(back);
    free(text);
}

static void test_round_trip_strings(void **state)
{
    static const char *const strings[] = {
        "true", "false", "True", "yes", "no", "on", "off", "y", "n", "Y",
        "null", "Null", "~", "", "123", "-1", "+1", "0x1F", "0o17", "0b1",
        "0123", "08", "1e3", "1.5", ".5", "-.5", "1.", ".inf", "-.inf",
        ".nan", "1_000", "2001-12-14", "2001-12-14 21:59:43.10 -5", "1:20",
        "=", "<<", "a: b", "a:", "a:b", "a #b", "a# b", "#x", "- x", "-x",
        "-", "? x", "?", ": x", ":", "[a]", "{a}", "a, b", "&a", "*a", "!a",
        "|", "> x", ">", "'q'", "\"dq\"", "%x", "@x", "`x", "---", "...",
        "--- x", " leading", "  two leading", " ", "trailing ", "multi\nline",
        "multi\nline\n", "\n", "\n\n", "\nx", "x\n\n", "\n\nx\n\n",
        "  indented\nfirst", "last line indented\n  x", "tab\there", "\ttab",
        "trailing tab\t", "ctrl\x01" "char", "bell\a", "esc\x1b[0m",
        "del\x7f", "unicode äöü ✓ 日本", "bom\xef\xbb\xbf" "inside",
        "line\xe2\x80\xa8sep", "nel\xc2\x85x", "cr\r\nlf", "cr only\r",
        "trailing spaces \nnext", "x\n  \ny", "back\\slash", "quote\"s",
        "apos'trophe", "10Gi", "v1.2.3", "0.0.0.0/0", "http://x:80/a?b#c",
        "key=value", "a,b,c", "{\"json\": true}", "emoji 😀",
    };
    (void)state;

    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        json_t *s = json_string(strings[i]);
        assert_non_null(s);
        json_t *obj = json_pack("{s:O,s:[O,O],s:{s:O}}", "value", s, "list",
                                s, s, "nested", "k", s);
        /* The same text as a key, too. */
        json_object_set(obj, strings[i], s);
        round_trip(obj);
        round_trip(s);
        json_t *arr = json_pack("[O]", s);
        round_trip(arr);
        json_decref(arr);
        json_decref(obj);
        json_decref(s);
    }

    /* Embedded NUL. */
    json_t *nul = json_stringn("nul\0inside", 10);
    json_t *obj = json_pack("{s:O}", "k", nul);
    round_trip(obj);
    json_decref(obj);
    json_decref(nul);

    /* Long values never fold, long keys still work. */
    char *big = malloc(5001);
    memset(big, 'a', 5000);
    for (int i = 100; i < 5000; i += 97)
        big[i] = ' ';
    big[5000] = '\0';
    obj = json_pack("{s:s}", "k", big);
    json_object_set_new(obj, big, json_string("long key"));
    round_trip(obj);
    char *text = yaml_emit(json_object_get(obj, "k"));
    assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
    free(text);
    json_decref(obj);
    free(big);

    /* A key with a line break. */
    obj = json_pack("{s:s, s:s}", "multi\nline key", "v", "x\n", "y");
    round_trip(obj);
    json_decref(obj);
}

static void test_round_trip_values(void **state)
{
    (void)state;
    json_error_t je;
    json_t *v = json_loads(
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
        "\"metadata\":{\"name\":\"p\",\"labels\":{\"app\":\"web\",\"tier\":\"1\"},"
        "\"annotations\":{}},"
        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:1.25\","
        "\"ports\":[{\"containerPort\":80}],\"args\":[],"
        "\"env\":[{\"name\":\"A\",\"value\":\"yes\"},{\"name\":\"B\",\"value\":\"0\"}]}],"
        "\"n\":null,\"t\":true,\"f\":false,"
        "\"ints\":[0,-1,9223372036854775807,-9223372036854775808],"
        "\"reals\":[0.1,-2.5,1e-7,1.5e300,6.02e23,123.456,1e21],"
        "\"deep\":[[[[{}]]]]}}",
        0, &je);
    assert_non_null(v);
    round_trip(v);
    json_decref(v);

    static const char *const scalars[] = {"null", "true", "false", "0", "-5",
                                          "0.25", "[]", "{}"};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        v = json_loads(scalars[i], JSON_DECODE_ANY, &je);
        round_trip(v);
        json_decref(v);
    }

    /* A real holding a whole number reads back as that integer. */
    v = json_real(3.0);
    char *text = yaml_emit(v);
    assert_string_equal(text, "3.0\n");
    err_t err = ERR_INIT;
    json_t *back = yaml_parse(text, strlen(text), &err);
    assert_true(json_is_integer(back));
    assert_int_equal(json_integer_value(back), 3);
    json_decref(back);
    free(text);
    json_decref(v);

    /* NULL writes as null. */
    text = yaml_emit(NULL);
    assert_non_null(text);
    back = yaml_parse(text, strlen(text), &err);
    assert_true(json_is_null(back));
    json_decref(back);
    free(text);
}

static void test_emit_format(void **state)
{
    (void)state;
    json_error_t je;
    json_t *v = json_loads("{\"a\":{\"b\":[1,\"two\",{\"c\":null}],\"e\":{},"
                           "\"f\":[]},\"t\":\"true\",\"n\":\"123\",\"s\":\"plain\","
                           "\"m\":\"x\\ny\\n\",\"r\":2.5,\"b\":false}",
                           0, &je);
    char *text = yaml_emit(v);
    assert_string_equal(text, "a:\n"
                              "  b:\n"
                              "  - 1\n"
                              "  - two\n"
                              "  - c: null\n"
                              "  e: {}\n"
                              "  f: []\n"
                              "t: \"true\"\n"
                              /* "n" alone would read as false. */
                              "\"n\": \"123\"\n"
                              "s: plain\n"
                              "m: |\n"
                              "  x\n"
                              "  y\n"
                              "r: 2.5\n"
                              "b: false\n");
    free(text);
    json_decref(v);

    /* Strings that other YAML 1.1 readers would take for timestamps or
     * base-60 numbers are quoted too; ordinary ones are not. */
    v = json_pack("{s:s,s:s,s:s,s:s}", "d", "2001-12-14", "t", "1:20", "q",
                  "10Gi", "u", "=");
    text = yaml_emit(v);
    assert_string_equal(text, "d: \"2001-12-14\"\nt: \"1:20\"\nq: 10Gi\n"
                              "u: \"=\"\n");
    free(text);
    json_decref(v);

    v = json_string("");
    text = yaml_emit(v);
    assert_string_equal(text, "\"\"\n");
    free(text);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_null_bool),
        cmocka_unit_test(test_scalars_numbers),
        cmocka_unit_test(test_scalars_tags),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_block_scalars),
        cmocka_unit_test(test_multi_document),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_keys_converted),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_round_trip_strings),
        cmocka_unit_test(test_round_trip_values),
        cmocka_unit_test(test_emit_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
