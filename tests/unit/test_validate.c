/*
 * Unit tests for model/validate: type checks, enums, patterns, formats,
 * bounds, required, nullable, defaulting, pruning of unknown fields under
 * each fieldValidation mode, the Kubernetes extensions, immutability on
 * update, list-type map and set, cause paths and messages, and the limits
 * on untrusted objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "model/validate.h"
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
    v = json_loads(t, JSON_DECODE_ANY, &je);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", je.text, t);
    g_free(t);
    return v;
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
}

static void assert_json_text(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    char *g = dump(got), *w = dump(want);

    if (strcmp(g, w) != 0)
        fail_msg("got %s, want %s", g, w);
    free(g);
    free(w);
    json_decref(want);
}

/* The result of one schema_validate call. */
typedef struct {
    int rc;
    json_t *obj;      /* the object after the call */
    json_t *warnings;
    err_t err;
} vres_t;

static void vres_clear(vres_t *r)
{
    json_decref(r->obj);
    json_decref(r->warnings);
    err_clear(&r->err);
}

static vres_t run(const json_t *schema, const char *obj_text, const char *old_text,
                  field_validation_t fv)
{
    vres_t r = {0, NULL, json_array(), ERR_INIT};
    json_t *old = old_text ? J(old_text) : NULL;

    r.obj = J(obj_text);
    r.rc = schema_validate(schema, r.obj, old, fv, r.warnings, &r.err);
    json_decref(old);
    return r;
}

/* Validate (Warn) and expect success and the object to become `want`. */
static void check_ok(const json_t *schema, const char *obj_text, const char *want)
{
    vres_t r = run(schema, obj_text, NULL, FIELD_VALIDATION_WARN);

    if (r.rc != 0)
        fail_msg("%s: did not validate: %s", obj_text, r.err.msg);
    assert_false(err_is_set(&r.err));
    assert_null(r.err.causes);
    if (want)
        assert_json_text(r.obj, want);
    vres_clear(&r);
}

/* Validate and expect ERR_INVALID with exactly one cause. */
static void check_one(const json_t *schema, const char *obj_text, const char *old_text,
                      const char *reason, const char *field, const char *message)
{
    vres_t r = run(schema, obj_text, old_text, FIELD_VALIDATION_WARN);
    json_t *c;
    char want_msg[1100];

    if (r.rc == 0)
        fail_msg("%s: validated but should not have", obj_text);
    if (r.err.code != ERR_INVALID)
        fail_msg("%s: code %d (%s), want ERR_INVALID", obj_text, r.err.code, r.err.msg);
    if (json_array_size(r.err.causes) != 1) {
        char *t = dump(r.err.causes);
        fail_msg("%s: causes %s, want one", obj_text, t);
    }
    c = json_array_get(r.err.causes, 0);
    assert_string_equal(json_string_value(json_object_get(c, "reason")), reason);
    if (field)
        assert_string_equal(json_string_value(json_object_get(c, "field")), field);
    else
        assert_null(json_object_get(c, "field"));
    assert_string_equal(json_string_value(json_object_get(c, "message")), message);
    if (field)
        snprintf(want_msg, sizeof(want_msg), "%s: %s", field, message);
    else
        snprintf(want_msg, sizeof(want_msg), "%s", message);
    assert_string_equal(r.err.msg, want_msg);
    vres_clear(&r);
}

/* A schema {type: object, properties: {spec: <spec>}}. */
static json_t *spec_schema(const char *spec_text)
{
    json_t *root = J("{'type':'object','properties':{'metadata':{'type':'object'},"
                     "'apiVersion':{'type':'string'},'kind':{'type':'string'}}}");
    json_object_set_new(json_object_get(root, "properties"), "spec", J(spec_text));
    return root;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

static void test_field_validation_parse(void **state)
{
    field_validation_t fv = FIELD_VALIDATION_STRICT;

    assert_int_equal(field_validation_parse(NULL, &fv), 0);
    assert_int_equal(fv, FIELD_VALIDATION_WARN);
    fv = FIELD_VALIDATION_STRICT;
    assert_int_equal(field_validation_parse("", &fv), 0);
    assert_int_equal(fv, FIELD_VALIDATION_WARN);
    assert_int_equal(field_validation_parse("Ignore", &fv), 0);
    assert_int_equal(fv, FIELD_VALIDATION_IGNORE);
    assert_int_equal(field_validation_parse("Strict", &fv), 0);
    assert_int_equal(fv, FIELD_VALIDATION_STRICT);
    assert_int_equal(field_validation_parse("Warn", &fv), 0);
    assert_int_equal(fv, FIELD_VALIDATION_WARN);
    /* case-sensitive; unknown values leave *out alone */
    assert_int_equal(field_validation_parse("strict", &fv), -1);
    assert_int_equal(field_validation_parse("WARN", &fv), -1);
    assert_int_equal(field_validation_parse("Ignore ", &fv), -1);
    assert_int_equal(fv, FIELD_VALIDATION_WARN);
}

static void test_types(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{"
                            "'o':{'type':'object'},'a':{'type':'array'},"
                            "'s':{'type':'string'},'i':{'type':'integer'},"
                            "'n':{'type':'number'},'b':{'type':'boolean'},"
                            "'any':{}}}");

    check_ok(s, "{'spec':{'o':{},'a':[],'s':'','i':-3,'n':1.5,'b':false,'any':[1]}}", NULL);
    check_ok(s, "{'spec':{'n':2,'any':'x'}}", "{'spec':{'n':2,'any':'x'}}");
    /* an integral real in an integer field becomes an integer */
    check_ok(s, "{'spec':{'i':2.0,'n':2.0}}", "{'spec':{'i':2,'n':2.0}}");
    {
        vres_t r = run(s, "{'spec':{'i':-4.0}}", NULL, FIELD_VALIDATION_WARN);
        assert_int_equal(r.rc, 0);
        assert_true(json_is_integer(json_path_get(r.obj, "spec.i")));
        assert_int_equal(json_integer_value(json_path_get(r.obj, "spec.i")), -4);
        vres_clear(&r);
    }

    check_one(s, "{'spec':{'s':1}}", NULL, "FieldValueTypeInvalid", "spec.s",
              "Invalid value: \"integer\": spec.s in body must be of type string: \"integer\"");
    check_one(s, "{'spec':{'i':1.5}}", NULL, "FieldValueTypeInvalid", "spec.i",
              "Invalid value: \"number\": spec.i in body must be of type integer: \"number\"");
    check_one(s, "{'spec':{'i':1e30}}", NULL, "FieldValueTypeInvalid", "spec.i",
              "Invalid value: \"number\": spec.i in body must be of type integer: \"number\"");
    check_one(s, "{'spec':{'i':'1'}}", NULL, "FieldValueTypeInvalid", "spec.i",
              "Invalid value: \"string\": spec.i in body must be of type integer: \"string\"");
    check_one(s, "{'spec':{'n':true}}", NULL, "FieldValueTypeInvalid", "spec.n",
              "Invalid value: \"boolean\": spec.n in body must be of type number: \"boolean\"");
    check_one(s, "{'spec':{'b':'true'}}", NULL, "FieldValueTypeInvalid", "spec.b",
              "Invalid value: \"string\": spec.b in body must be of type boolean: \"string\"");
    check_one(s, "{'spec':{'o':[]}}", NULL, "FieldValueTypeInvalid", "spec.o",
              "Invalid value: \"array\": spec.o in body must be of type object: \"array\"");
    check_one(s, "{'spec':{'a':{}}}", NULL, "FieldValueTypeInvalid", "spec.a",
              "Invalid value: \"object\": spec.a in body must be of type array: \"object\"");
    check_one(s, "{'spec':[]}", NULL, "FieldValueTypeInvalid", "spec",
              "Invalid value: \"array\": spec in body must be of type object: \"array\"");
    /* a null that is not nullable and has no default is dropped */
    check_ok(s, "{'spec':{'s':null,'o':null,'any':null}}", "{'spec':{}}");
    check_ok(s, "{'spec':null}", "{}");
    json_decref(s);

    /* below a value of the wrong type nothing is reported or changed */
    s = spec_schema("{'type':'object','properties':{'o':{'type':'object',"
                    "'required':['x'],'properties':{'i':{'type':'integer'}}}}}");
    check_one(s, "{'spec':{'o':'str'}}", NULL, "FieldValueTypeInvalid", "spec.o",
              "Invalid value: \"string\": spec.o in body must be of type object: \"string\"");
    json_decref(s);

    /* items of a typed array; a null item is a type error */
    s = spec_schema("{'type':'object','properties':{'l':{'type':'array',"
                    "'items':{'type':'string'}}}}");
    check_one(s, "{'spec':{'l':['a',null]}}", NULL, "FieldValueTypeInvalid", "spec.l[1]",
              "Invalid value: \"null\": spec.l[1] in body must be of type string: \"null\"");
    json_decref(s);
}

static void test_enums(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{"
                            "'mode':{'type':'string','enum':['On','Off']},"
                            "'n':{'type':'integer','enum':[1,2]},"
                            "'r':{'type':'number','enum':[0.5,2]},"
                            "'o':{'enum':[{'a':1},[1,2],null],'x-kubernetes-preserve-unknown-fields':true}}}");

    check_ok(s, "{'spec':{'mode':'On','n':2,'r':0.5,'o':{'a':1}}}", NULL);
    check_ok(s, "{'spec':{'n':2.0,'r':2.0,'o':[1,2]}}", "{'spec':{'n':2,'r':2.0,'o':[1,2]}}");
    check_ok(s, "{'spec':{'o':{'a':1.0}}}", NULL);
    check_one(s, "{'spec':{'mode':'on'}}", NULL, "FieldValueNotSupported", "spec.mode",
              "Unsupported value: \"on\": supported values: \"On\", \"Off\"");
    check_one(s, "{'spec':{'n':3}}", NULL, "FieldValueNotSupported", "spec.n",
              "Unsupported value: 3: supported values: \"1\", \"2\"");
    check_one(s, "{'spec':{'r':1.25}}", NULL, "FieldValueNotSupported", "spec.r",
              "Unsupported value: 1.25: supported values: \"0.5\", \"2\"");
    check_one(s, "{'spec':{'o':{'a':2}}}", NULL, "FieldValueNotSupported", "spec.o",
              "Unsupported value: {\"a\":2}: supported values: \"{\\\"a\\\":1}\", "
              "\"[1,2]\", \"null\"");
    json_decref(s);
}

static void test_patterns(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{"
                            "'p':{'type':'string','pattern':'^[a-z]+$'},"
                            "'q':{'type':'string','pattern':'b'},"
                            "'bad':{'type':'string','pattern':'(['}}}");

    check_ok(s, "{'spec':{'p':'abc','q':'abc'}}", NULL);
    check_one(s, "{'spec':{'p':'aB'}}", NULL, "FieldValueInvalid", "spec.p",
              "Invalid value: \"aB\": spec.p in body should match '^[a-z]+$'");
    /* `$` matches only at the very end, not before a final newline */
    check_one(s, "{'spec':{'p':'ab\\n'}}", NULL, "FieldValueInvalid", "spec.p",
              "Invalid value: \"ab\\n\": spec.p in body should match '^[a-z]+$'");
    check_one(s, "{'spec':{'p':''}}", NULL, "FieldValueInvalid", "spec.p",
              "Invalid value: \"\": spec.p in body should match '^[a-z]+$'");
    /* unanchored patterns match anywhere */
    check_one(s, "{'spec':{'q':'xyz'}}", NULL, "FieldValueInvalid", "spec.q",
              "Invalid value: \"xyz\": spec.q in body should match 'b'");
    /* a pattern that does not compile is the schema's fault */
    {
        vres_t r = run(s, "{'spec':{'bad':'x','p':'A'}}", NULL, FIELD_VALIDATION_WARN);
        assert_int_equal(r.rc, -1);
        assert_int_equal(r.err.code, ERR_INTERNAL);
        assert_non_null(strstr(r.err.msg, "does not compile"));
        assert_non_null(strstr(r.err.msg, "spec.bad"));
        assert_null(r.err.causes);
        vres_clear(&r);
    }
    /* the cache may be cleared at any time and refills */
    schema_validate_cache_clear();
    check_ok(s, "{'spec':{'p':'abc'}}", NULL);
    schema_validate_cache_clear();
    schema_validate_cache_clear();
    json_decref(s);
}

static void test_formats(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{"
                            "'b':{'type':'string','format':'byte'},"
                            "'t':{'type':'string','format':'date-time'},"
                            "'u':{'type':'string','format':'uuid'},"
                            "'i32':{'type':'integer','format':'int32'},"
                            "'i64':{'type':'integer','format':'int64'},"
                            "'other':{'type':'string','format':'hostname'}}}");
    static const char *const good[] = {
        "{'b':'aGVsbG8='}", "{'b':''}", "{'b':'aGk='}", "{'b':'aGVs\\nbG8='}",
        "{'t':'2024-02-29T12:00:00Z'}", "{'t':'2023-12-31T23:59:59.123456+01:00'}",
        "{'t':'2023-01-01t00:00:00z'}", "{'t':'2000-02-29T00:00:00-08:00'}",
        "{'u':'123e4567-e89b-12d3-a456-426614174000'}",
        "{'u':'123E4567E89B12D3A456426614174000'}",
        "{'i32':2147483647}", "{'i32':-2147483648}", "{'i64':9223372036854775807}",
        "{'other':'not checked!'}",
    };
    static const struct {
        const char *spec, *field, *message;
    } bad[] = {
        {"{'b':'aGVsbG8'}", "spec.b",
         "Invalid value: \"aGVsbG8\": spec.b in body must be of type byte: \"aGVsbG8\""},
        {"{'b':'a=b='}", "spec.b", NULL},
        {"{'b':'****'}", "spec.b", NULL},
        {"{'t':'2023-02-29T00:00:00Z'}", "spec.t",
         "Invalid value: \"2023-02-29T00:00:00Z\": spec.t in body must be of type "
         "date-time: \"2023-02-29T00:00:00Z\""},
        {"{'t':'1900-02-29T00:00:00Z'}", "spec.t", NULL},
        {"{'t':'2023-13-01T00:00:00Z'}", "spec.t", NULL},
        {"{'t':'2023-01-01T24:00:00Z'}", "spec.t", NULL},
        {"{'t':'2023-01-01 00:00:00Z'}", "spec.t", NULL},
        {"{'t':'2023-01-01T00:00:00'}", "spec.t", NULL},
        {"{'t':'2023-01-01T00:00:00.Z'}", "spec.t", NULL},
        {"{'t':'2023-01-01T00:00:00+0100'}", "spec.t", NULL},
        {"{'t':'2023-01-01'}", "spec.t", NULL},
        {"{'u':'123e4567-e89b-12d3-a456-42661417400'}", "spec.u", NULL},
        {"{'u':'123e4567-e89b-12d3-a456_426614174000'}", "spec.u", NULL},
        {"{'u':'g23e4567-e89b-12d3-a456-426614174000'}", "spec.u", NULL},
        {"{'i32':2147483648}", "spec.i32",
         "Invalid value: 2147483648: spec.i32 in body must be of type int32: \"2147483648\""},
        {"{'i32':-2147483649}", "spec.i32", NULL},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        char *obj = g_strdup_printf("{'spec':%s}", good[i]);
        check_ok(s, obj, NULL);
        g_free(obj);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *obj = g_strdup_printf("{'spec':%s}", bad[i].spec);
        vres_t r = run(s, obj, NULL, FIELD_VALIDATION_WARN);
        json_t *c = json_array_get(r.err.causes, 0);

        if (r.rc == 0 || json_array_size(r.err.causes) != 1)
            fail_msg("%s: want one cause, got rc %d: %s", obj, r.rc, r.err.msg);
        assert_string_equal(json_string_value(json_object_get(c, "reason")),
                            "FieldValueTypeInvalid");
        assert_string_equal(json_string_value(json_object_get(c, "field")), bad[i].field);
        if (bad[i].message)
            assert_string_equal(json_string_value(json_object_get(c, "message")),
                                bad[i].message);
        vres_clear(&r);
        g_free(obj);
    }
    json_decref(s);
}

static void test_bounds(void **state)
{
    json_t *s = spec_schema(
        "{'type':'object','properties':{"
        "'s':{'type':'string','minLength':2,'maxLength':3},"
        "'n':{'type':'integer','minimum':1,'maximum':10},"
        "'x':{'type':'number','minimum':1,'maximum':2.5,"
        "     'exclusiveMinimum':true,'exclusiveMaximum':true},"
        "'l':{'type':'array','minItems':1,'maxItems':2},"
        "'one':{'type':'array','maxItems':1},"
        "'m':{'type':'object','minProperties':1,'maxProperties':2,"
        "     'additionalProperties':{'type':'string'}}}}");

    check_ok(s, "{'spec':{'s':'ab','n':1,'x':1.5,'l':[1],'one':[1],'m':{'a':'1'}}}", NULL);
    check_ok(s, "{'spec':{'s':'abc','n':10,'x':2.4,'l':[1,2],'m':{'a':'1','b':'2'}}}", NULL);
    /* lengths count characters, not bytes */
    check_ok(s, "{'spec':{'s':'\\u00e9\\u00e9\\u00e9'}}", NULL);
    check_one(s, "{'spec':{'s':'\\u00e9\\u00e9\\u00e9\\u00e9'}}", NULL, "FieldValueTooLong",
              "spec.s", "Too long: may not be longer than 3");
    check_one(s, "{'spec':{'s':'a'}}", NULL, "FieldValueInvalid", "spec.s",
              "Invalid value: \"a\": spec.s in body should be at least 2 chars long");
    check_one(s, "{'spec':{'n':0}}", NULL, "FieldValueInvalid", "spec.n",
              "Invalid value: 0: spec.n in body should be greater than or equal to 1");
    check_one(s, "{'spec':{'n':11}}", NULL, "FieldValueInvalid", "spec.n",
              "Invalid value: 11: spec.n in body should be less than or equal to 10");
    check_one(s, "{'spec':{'x':1}}", NULL, "FieldValueInvalid", "spec.x",
              "Invalid value: 1: spec.x in body should be greater than 1");
    check_one(s, "{'spec':{'x':2.5}}", NULL, "FieldValueInvalid", "spec.x",
              "Invalid value: 2.5: spec.x in body should be less than 2.5");
    check_one(s, "{'spec':{'l':[]}}", NULL, "FieldValueInvalid", "spec.l",
              "Invalid value: 0: spec.l in body should have at least 1 items");
    check_one(s, "{'spec':{'l':[1,2,3]}}", NULL, "FieldValueTooMany", "spec.l",
              "Too many: 3: must have at most 2 items");
    check_one(s, "{'spec':{'one':[1,2]}}", NULL, "FieldValueTooMany", "spec.one",
              "Too many: 2: must have at most 1 item");
    check_one(s, "{'spec':{'m':{}}}", NULL, "FieldValueInvalid", "spec.m",
              "Invalid value: 0: spec.m in body should have at least 1 properties");
    check_one(s, "{'spec':{'m':{'a':'1','b':'2','c':'3'}}}", NULL, "FieldValueTooMany",
              "spec.m", "Too many: 3: must have at most 2 items");
    json_decref(s);
}

static void test_required_and_aggregate(void **state)
{
    json_t *s = spec_schema("{'type':'object','required':['a','b'],'properties':{"
                            "'a':{'type':'string'},'b':{'type':'string'},"
                            "'c':{'type':'integer'}}}");
    vres_t r;

    check_ok(s, "{'spec':{'a':'','b':''}}", NULL);
    check_one(s, "{'spec':{'a':'x'}}", NULL, "FieldValueRequired", "spec.b", "Required value");
    /* a null counts as absent (it is dropped first) */
    check_one(s, "{'spec':{'a':'x','b':null}}", NULL, "FieldValueRequired", "spec.b",
              "Required value");
    /* several causes: Kubernetes' aggregate form */
    r = run(s, "{'spec':{'c':'x'}}", NULL, FIELD_VALIDATION_WARN);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.err.code, ERR_INVALID);
    assert_int_equal(json_array_size(r.err.causes), 3);
    assert_string_equal(r.err.msg,
                        "[spec.a: Required value, spec.b: Required value, spec.c: Invalid "
                        "value: \"string\": spec.c in body must be of type integer: "
                        "\"string\"]");
    vres_clear(&r);
    /* the root's required list leaves apiVersion, kind and metadata to the
     * caller */
    json_decref(s);
    s = J("{'type':'object','required':['metadata','kind','apiVersion','spec'],"
          "'properties':{'spec':{'type':'object'}}}");
    check_one(s, "{}", NULL, "FieldValueRequired", "spec", "Required value");
    check_ok(s, "{'spec':{}}", NULL);
    json_decref(s);
}

static void test_nullable(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{"
                            "'n':{'type':'string','nullable':true},"
                            "'d':{'type':'string','nullable':true,'default':'x'},"
                            "'l':{'type':'array','items':{'type':'integer','nullable':true}}}}");

    check_ok(s, "{'spec':{'n':null,'d':null,'l':[1,null]}}",
             "{'spec':{'n':null,'d':null,'l':[1,null]}}");
    check_ok(s, "{'spec':{}}", "{'spec':{'d':'x'}}");
    json_decref(s);
}

static void test_defaults(void **state)
{
    json_t *s = spec_schema(
        "{'type':'object','default':{},'properties':{"
        "'replicas':{'type':'integer','default':1},"
        "'mode':{'type':'string','default':'Auto','enum':['Auto','Manual']},"
        "'obj':{'type':'object','default':{},'properties':{"
        "   'x':{'type':'integer','default':7},"
        "   'y':{'type':'string'}}},"
        "'list':{'type':'array','items':{'type':'object','properties':{"
        "   'name':{'type':'string'},"
        "   'port':{'type':'integer','default':80},"
        "   'inner':{'type':'object','default':{'z':1},'properties':{"
        "      'z':{'type':'integer'},'w':{'type':'integer','default':2}}}}}},"
        "'map':{'type':'object','additionalProperties':{'type':'object','properties':{"
        "   'on':{'type':'boolean','default':true}}}},"
        "'bad':{'type':'string','default':5}}}");

    /* absent properties get defaults; defaults are themselves defaulted */
    check_ok(s, "{'spec':{'bad':'b'}}",
             "{'spec':{'replicas':1,'mode':'Auto','obj':{'x':7},'bad':'b'}}");
    /* the spec itself comes from its default */
    {
        vres_t r = run(s, "{}", NULL, FIELD_VALIDATION_WARN);
        /* ...and the default 5 for `bad` is then checked like any value */
        assert_int_equal(r.rc, -1);
        assert_int_equal(json_array_size(r.err.causes), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(r.err.causes, 0),
                                                              "field")),
                            "spec.bad");
        assert_json_text(json_path_get(r.obj, "spec.obj"), "{'x':7}");
        vres_clear(&r);
    }
    /* inside objects present in the input, and in array items */
    check_ok(s,
             "{'spec':{'bad':'b','replicas':3,'obj':{'y':'q'},"
             "'list':[{'name':'a'},{'name':'b','port':8080,'inner':{'z':5}},{}],"
             "'map':{'k':{},'l':{'on':false}}}}",
             "{'spec':{'bad':'b','replicas':3,'mode':'Auto','obj':{'x':7,'y':'q'},"
             "'list':[{'name':'a','port':80,'inner':{'z':1,'w':2}},"
             "{'name':'b','port':8080,'inner':{'z':5,'w':2}},"
             "{'port':80,'inner':{'z':1,'w':2}}],"
             "'map':{'k':{'on':true},'l':{'on':false}}}}");
    /* a null that is not nullable is replaced by the default */
    check_ok(s, "{'spec':{'bad':'b','replicas':null,'obj':null}}",
             "{'spec':{'bad':'b','replicas':1,'mode':'Auto','obj':{'x':7}}}");
    /* defaults are copies: changing the result leaves the schema alone */
    {
        vres_t r = run(s, "{'spec':{'bad':'b','list':[{},{}]}}", NULL, FIELD_VALIDATION_WARN);
        json_t *inner0 = json_path_get(json_array_get(json_path_get(r.obj, "spec.list"), 0),
                                       "inner");
        json_t *inner1 = json_path_get(json_array_get(json_path_get(r.obj, "spec.list"), 1),
                                       "inner");
        assert_int_equal(r.rc, 0);
        assert_ptr_not_equal(inner0, inner1);
        json_object_set_new(inner0, "z", json_integer(99));
        assert_int_equal(json_integer_value(json_object_get(inner1, "z")), 1);
        vres_clear(&r);
        r = run(s, "{'spec':{'bad':'b','list':[{}]}}", NULL, FIELD_VALIDATION_WARN);
        assert_json_text(json_path_get(json_array_get(json_path_get(r.obj, "spec.list"), 0),
                                       "inner"),
                         "{'z':1,'w':2}");
        vres_clear(&r);
    }
    json_decref(s);

    /* the root's apiVersion, kind and metadata are never defaulted */
    s = J("{'type':'object','properties':{'kind':{'type':'string','default':'K'},"
          "'metadata':{'type':'object','default':{'name':'x'}},"
          "'apiVersion':{'type':'string','default':'v9'}}}");
    check_ok(s, "{}", "{}");
    json_decref(s);
}

static void test_unknown_fields(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{"
                            "'a':{'type':'integer'},"
                            "'l':{'type':'array','items':{'type':'object','properties':{"
                            "   'name':{'type':'string'}}}},"
                            "'m':{'type':'object','additionalProperties':{'type':'object',"
                            "   'properties':{'v':{'type':'string'}}}},"
                            "'free':{'type':'object','additionalProperties':true},"
                            "'closed':{'type':'object','additionalProperties':false}}}");
    const char *obj = "{'apiVersion':'v1','kind':'K','metadata':{'anything':1},"
                      "'spec':{'a':1,'foo':1,'l':[{'name':'x','bar':{}}],"
                      "'m':{'k':{'v':'1','baz':2}},'free':{'q':1},'closed':{'q':1},"
                      "'zz':null},'top':true}";
    const char *pruned = "{'apiVersion':'v1','kind':'K','metadata':{'anything':1},"
                         "'spec':{'a':1,'l':[{'name':'x'}],'m':{'k':{'v':'1'}},"
                         "'free':{'q':1},'closed':{}}}";
    vres_t r;

    /* Ignore: removed, nothing said */
    r = run(s, obj, NULL, FIELD_VALIDATION_IGNORE);
    assert_int_equal(r.rc, 0);
    assert_json_text(r.obj, pruned);
    assert_int_equal(json_array_size(r.warnings), 0);
    vres_clear(&r);

    /* Warn: removed, one warning each, in document order */
    r = run(s, obj, NULL, FIELD_VALIDATION_WARN);
    assert_int_equal(r.rc, 0);
    assert_json_text(r.obj, pruned);
    assert_json_text(r.warnings,
                     "['unknown field \\'spec.foo\\'','unknown field \\'spec.l[0].bar\\'',"
                     "'unknown field \\'spec.m[k].baz\\'','unknown field \\'spec.closed.q\\'',"
                     "'unknown field \\'spec.zz\\'','unknown field \\'top\\'']");
    vres_clear(&r);

    /* Warn without a warnings array */
    {
        json_t *o = J(obj);
        err_t err = ERR_INIT;
        assert_int_equal(schema_validate(s, o, NULL, FIELD_VALIDATION_WARN, NULL, &err), 0);
        assert_json_text(o, pruned);
        json_decref(o);
    }

    /* Strict: fails, naming them all in document order */
    r = run(s, obj, NULL, FIELD_VALIDATION_STRICT);
    assert_int_equal(r.rc, -1);
    assert_int_equal(r.err.code, ERR_BAD_REQUEST);
    assert_string_equal(r.err.msg,
                        "strict decoding error: unknown field \"spec.foo\", unknown field "
                        "\"spec.l[0].bar\", unknown field \"spec.m[k].baz\", unknown field "
                        "\"spec.closed.q\", unknown field \"spec.zz\", unknown field \"top\"");
    assert_null(r.err.causes);
    assert_int_equal(json_array_size(r.warnings), 0);
    vres_clear(&r);

    /* Strict wins over other problems */
    r = run(s, "{'spec':{'a':'x','foo':1}}", NULL, FIELD_VALIDATION_STRICT);
    assert_int_equal(r.err.code, ERR_BAD_REQUEST);
    assert_string_equal(r.err.msg, "strict decoding error: unknown field \"spec.foo\"");
    assert_null(r.err.causes);
    vres_clear(&r);
    /* Strict with nothing unknown is like the others */
    r = run(s, "{'spec':{'a':'x'}}", NULL, FIELD_VALIDATION_STRICT);
    assert_int_equal(r.err.code, ERR_INVALID);
    vres_clear(&r);
    r = run(s, "{'spec':{'a':1}}", NULL, FIELD_VALIDATION_STRICT);
    assert_int_equal(r.rc, 0);
    vres_clear(&r);

    /* quoting of odd field names */
    r = run(s, "{'spec':{'a\\'b':1,'tab\\there':2}}", NULL, FIELD_VALIDATION_WARN);
    assert_json_text(r.warnings,
                     "['unknown field \\'spec.a\\\\\\'b\\'','unknown field \\'spec.tab\\\\there\\'']");
    vres_clear(&r);
    json_decref(s);
}

static void test_unknown_bound(void **state)
{
    json_t *s = spec_schema("{'type':'object'}");
    json_t *obj = J("{'spec':{}}");
    json_t *warnings = json_array();
    err_t err = ERR_INIT;
    char name[16];

    for (int i = 0; i < 150; i++) {
        snprintf(name, sizeof(name), "f%03d", i);
        json_object_set_new(json_object_get(obj, "spec"), name, json_integer(i));
    }
    assert_int_equal(schema_validate(s, obj, NULL, FIELD_VALIDATION_WARN, warnings, &err), 0);
    assert_int_equal(json_array_size(warnings), 100);
    assert_int_equal(json_object_size(json_object_get(obj, "spec")), 0);
    json_decref(obj);

    /* Strict: the message stays within err_t */
    obj = J("{'spec':{}}");
    for (int i = 0; i < 150; i++) {
        snprintf(name, sizeof(name), "f%03d", i);
        json_object_set_new(json_object_get(obj, "spec"), name, json_integer(i));
    }
    assert_int_equal(schema_validate(s, obj, NULL, FIELD_VALIDATION_STRICT, NULL, &err), -1);
    assert_int_equal(err.code, ERR_BAD_REQUEST);
    assert_true(strlen(err.msg) < sizeof(err.msg));
    assert_non_null(strstr(err.msg, "strict decoding error: unknown field \"spec.f000\""));
    err_clear(&err);
    json_decref(obj);
    json_decref(warnings);
    json_decref(s);
}

static void test_int_or_string(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{"
                            "'q':{'x-kubernetes-int-or-string':true},"
                            "'p':{'x-kubernetes-int-or-string':true,"
                            "     'pattern':'^[0-9]+(%)?$'}}}");

    check_ok(s, "{'spec':{'q':5,'p':'50%'}}", NULL);
    check_ok(s, "{'spec':{'q':'abc'}}", NULL);
    check_ok(s, "{'spec':{'q':5.0}}", "{'spec':{'q':5}}");
    check_one(s, "{'spec':{'q':5.5}}", NULL, "FieldValueTypeInvalid", "spec.q",
              "Invalid value: \"number\": spec.q in body must be of type integer,string: "
              "\"number\"");
    check_one(s, "{'spec':{'q':true}}", NULL, "FieldValueTypeInvalid", "spec.q",
              "Invalid value: \"boolean\": spec.q in body must be of type integer,string: "
              "\"boolean\"");
    check_one(s, "{'spec':{'q':{}}}", NULL, "FieldValueTypeInvalid", "spec.q",
              "Invalid value: \"object\": spec.q in body must be of type integer,string: "
              "\"object\"");
    check_one(s, "{'spec':{'p':'5x'}}", NULL, "FieldValueInvalid", "spec.p",
              "Invalid value: \"5x\": spec.p in body should match '^[0-9]+(%)?$'");
    /* a null in a list is a type error */
    json_decref(s);
    s = spec_schema("{'type':'object','properties':{'l':{'type':'array',"
                    "'items':{'x-kubernetes-int-or-string':true}}}}");
    check_ok(s, "{'spec':{'l':[1,'a',2.0]}}", "{'spec':{'l':[1,'a',2]}}");
    check_one(s, "{'spec':{'l':[null]}}", NULL, "FieldValueTypeInvalid", "spec.l[0]",
              "Invalid value: \"null\": spec.l[0] in body must be of type integer,string: "
              "\"null\"");
    json_decref(s);
}

static void test_preserve_unknown(void **state)
{
    json_t *s = spec_schema("{'type':'object','x-kubernetes-preserve-unknown-fields':true,"
                            "'properties':{'n':{'type':'integer'},"
                            "'o':{'type':'object','properties':{'k':{'type':'string'}}}}}");
    vres_t r;

    r = run(s, "{'spec':{'n':1,'extra':{'deep':[1,{'x':null}]},'o':{'k':'v','drop':1}}}", NULL,
            FIELD_VALIDATION_STRICT);
    /* kept at the level that preserves, pruned below where it does not */
    assert_int_equal(r.err.code, ERR_BAD_REQUEST);
    assert_string_equal(r.err.msg, "strict decoding error: unknown field \"spec.o.drop\"");
    vres_clear(&r);
    check_ok(s, "{'spec':{'n':1,'extra':{'deep':[1,{'x':null}]},'o':{'k':'v','drop':1}}}",
             "{'spec':{'n':1,'extra':{'deep':[1,{'x':null}]},'o':{'k':'v'}}}");
    /* declared properties are still checked */
    check_one(s, "{'spec':{'n':'x','extra':1}}", NULL, "FieldValueTypeInvalid", "spec.n",
              "Invalid value: \"string\": spec.n in body must be of type integer: \"string\"");
    json_decref(s);
}

static void test_embedded_resource(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{'template':{'type':'object',"
                            "'x-kubernetes-embedded-resource':true,"
                            "'properties':{'spec':{'type':'object','properties':{"
                            "   'n':{'type':'integer'}}}}}}}");
    vres_t r;

    /* metadata is left alone; apiVersion and kind are kept */
    check_ok(s,
             "{'spec':{'template':{'apiVersion':'v1','kind':'Pod',"
             "'metadata':{'name':'x','whatever':[1]},'spec':{'n':1,'drop':2}}}}",
             "{'spec':{'template':{'apiVersion':'v1','kind':'Pod',"
             "'metadata':{'name':'x','whatever':[1]},'spec':{'n':1}}}}");
    check_one(s, "{'spec':{'template':{'kind':'Pod'}}}", NULL, "FieldValueRequired",
              "spec.template.apiVersion", "Required value: must not be empty");
    check_one(s, "{'spec':{'template':{'apiVersion':'v1','kind':''}}}", NULL,
              "FieldValueInvalid", "spec.template.kind",
              "Invalid value: \"\": must not be empty");
    check_one(s, "{'spec':{'template':{'apiVersion':1,'kind':'Pod'}}}", NULL,
              "FieldValueInvalid", "spec.template.apiVersion",
              "Invalid value: 1: must be a string");
    r = run(s, "{'spec':{'template':{}}}", NULL, FIELD_VALIDATION_WARN);
    assert_int_equal(json_array_size(r.err.causes), 2);
    vres_clear(&r);
    json_decref(s);
}

static void test_immutable(void **state)
{
    json_t *s = spec_schema(
        "{'type':'object','properties':{"
        "'id':{'type':'string','x-vmsvc-immutable':true},"
        "'size':{'type':'integer','x-vmsvc-immutable':true},"
        "'obj':{'type':'object','x-vmsvc-immutable':true,"
        "       'x-kubernetes-preserve-unknown-fields':true},"
        "'free':{'type':'string'},"
        "'src':{'type':'object','x-vmsvc-immutable':'always',"
        "       'properties':{'name':{'type':'string'}}},"
        "'disks':{'type':'array','x-kubernetes-list-type':'map',"
        "  'x-kubernetes-list-map-keys':['name'],"
        "  'items':{'type':'object','properties':{'name':{'type':'string'},"
        "     'uuid':{'type':'string','x-vmsvc-immutable':true}}}},"
        "'plain':{'type':'array','items':{'type':'object','properties':{"
        "     'uuid':{'type':'string','x-vmsvc-immutable':true}}}},"
        "'byKey':{'type':'object','additionalProperties':{'type':'object','properties':{"
        "     'uuid':{'type':'string','x-vmsvc-immutable':true}}}}}}");

    /* no old object: nothing to compare */
    check_ok(s, "{'spec':{'id':'a'}}", NULL);
    /* unchanged, or changed elsewhere */
    {
        vres_t r = run(s, "{'spec':{'id':'a','size':1,'obj':{'x':[1,2]},'free':'new'}}",
                       "{'spec':{'id':'a','size':1.0,'obj':{'x':[1,2.0]},'free':'old'}}",
                       FIELD_VALIDATION_WARN);
        if (r.rc != 0)
            fail_msg("%s", r.err.msg);
        vres_clear(&r);
    }
    /* setting a field that was absent or null is allowed */
    {
        vres_t r = run(s, "{'spec':{'id':'a','size':2}}", "{'spec':{'size':null}}",
                       FIELD_VALIDATION_WARN);
        assert_int_equal(r.rc, 0);
        vres_clear(&r);
        r = run(s, "{'spec':{'id':'a'}}", "{}", FIELD_VALIDATION_WARN);
        assert_int_equal(r.rc, 0);
        vres_clear(&r);
    }
    check_one(s, "{'spec':{'id':'b'}}", "{'spec':{'id':'a'}}", "FieldValueInvalid", "spec.id",
              "field is immutable");
    /* removing it is a change too */
    check_one(s, "{'spec':{}}", "{'spec':{'id':'a'}}", "FieldValueInvalid", "spec.id",
              "field is immutable");
    check_one(s, "{'spec':{'id':null}}", "{'spec':{'id':'a'}}", "FieldValueInvalid",
              "spec.id", "field is immutable");
    check_one(s, "{'spec':{'obj':{'x':[2,1]}}}", "{'spec':{'obj':{'x':[1,2]}}}",
              "FieldValueInvalid", "spec.obj", "field is immutable");
    /* 'always': what creation gave is final, absence included */
    check_one(s, "{'spec':{'src':{'name':'a'}}}", "{'spec':{}}", "FieldValueInvalid", "spec.src",
              "field is immutable");
    check_one(s, "{'spec':{'src':{'name':'a'}}}", "{'spec':{'src':{}}}", "FieldValueInvalid",
              "spec.src", "field is immutable");
    check_one(s, "{'spec':{}}", "{'spec':{'src':{'name':'a'}}}", "FieldValueInvalid", "spec.src",
              "field is immutable");
    {
        vres_t r = run(s, "{'spec':{'src':{}}}", "{'spec':{}}", FIELD_VALIDATION_WARN);
        assert_int_equal(r.rc, 0);
        vres_clear(&r);
        r = run(s, "{'spec':{'src':null}}", "{'spec':{'src':{}}}", FIELD_VALIDATION_WARN);
        assert_int_equal(r.rc, 0);
        vres_clear(&r);
        r = run(s, "{'spec':{'src':{'name':'a'}}}", "{'spec':{'src':{'name':'a'}}}",
                FIELD_VALIDATION_WARN);
        assert_int_equal(r.rc, 0);
        vres_clear(&r);
    }
    /* list-type map items are matched by key, wherever they are */
    check_one(s,
              "{'spec':{'disks':[{'name':'b','uuid':'2'},{'name':'a','uuid':'X'}]}}",
              "{'spec':{'disks':[{'name':'a','uuid':'1'},{'name':'b','uuid':'2'}]}}",
              "FieldValueInvalid", "spec.disks[1].uuid", "field is immutable");
    {
        vres_t r = run(s,
                       "{'spec':{'disks':[{'name':'b','uuid':'2'},{'name':'c','uuid':'3'}]}}",
                       "{'spec':{'disks':[{'name':'a','uuid':'1'},{'name':'b','uuid':'2'}]}}",
                       FIELD_VALIDATION_WARN);
        assert_int_equal(r.rc, 0);
        vres_clear(&r);
        /* items of other lists are not matched */
        r = run(s, "{'spec':{'plain':[{'uuid':'2'}]}}", "{'spec':{'plain':[{'uuid':'1'}]}}",
                FIELD_VALIDATION_WARN);
        assert_int_equal(r.rc, 0);
        vres_clear(&r);
    }
    /* map values are matched by key */
    check_one(s, "{'spec':{'byKey':{'k':{'uuid':'2'}}}}", "{'spec':{'byKey':{'k':{'uuid':'1'}}}}",
              "FieldValueInvalid", "spec.byKey[k].uuid", "field is immutable");
    json_decref(s);
}

/* What an update leaves as stored is not checked (or defaulted) again. */
static void test_ratchet(void **state)
{
    json_t *s = spec_schema("{'type':'object','required':['n'],'properties':{"
                            "'n':{'type':'integer'},"
                            "'p':{'type':'string','pattern':'^[a-z]+$'},"
                            "'sub':{'type':'object','properties':{"
                            "  'p':{'type':'string','pattern':'^[a-z]+$'},"
                            "  'd':{'type':'string','default':'x'}}}}}");
    vres_t r;

    /* stored under a laxer rule, left alone: fine */
    r = run(s, "{'spec':{'n':2,'p':'BAD','sub':{'p':'BAD'}}}",
            "{'spec':{'n':1,'p':'BAD','sub':{'p':'BAD'}}}", FIELD_VALIDATION_STRICT);
    if (r.rc != 0)
        fail_msg("%s", r.err.msg);
    /* an unchanged object is not defaulted again either */
    assert_json_text(r.obj, "{'spec':{'n':2,'p':'BAD','sub':{'p':'BAD'}}}");
    vres_clear(&r);
    /* changed: checked */
    check_one(s, "{'spec':{'n':1,'p':'WORSE'}}", "{'spec':{'n':1,'p':'BAD'}}", "FieldValueInvalid",
              "spec.p", "Invalid value: \"WORSE\": spec.p in body should match '^[a-z]+$'");
    /* field by field: a changed object's unchanged members are not */
    r = run(s, "{'spec':{'n':1,'sub':{'p':'BAD','e':1}}}", "{'spec':{'n':1,'sub':{'p':'BAD'}}}",
            FIELD_VALIDATION_WARN);
    if (r.rc != 0)
        fail_msg("%s", r.err.msg);
    assert_json_text(r.obj, "{'spec':{'n':1,'sub':{'p':'BAD','d':'x'}}}");
    vres_clear(&r);
    check_one(s, "{'spec':{'n':1,'sub':{'p':'WORSE'}}}", "{'spec':{'n':1,'sub':{'p':'BAD'}}}",
              "FieldValueInvalid", "spec.sub.p",
              "Invalid value: \"WORSE\": spec.sub.p in body should match '^[a-z]+$'");
    /* new: checked */
    check_one(s, "{'spec':{'n':1,'p':'BAD'}}", NULL, "FieldValueInvalid", "spec.p",
              "Invalid value: \"BAD\": spec.p in body should match '^[a-z]+$'");
    /* a value equal only after normalising (1.0 for 1) is visited */
    r = run(s, "{'spec':{'n':1.0}}", "{'spec':{'n':1}}", FIELD_VALIDATION_WARN);
    assert_int_equal(r.rc, 0);
    assert_json_text(r.obj, "{'spec':{'n':1}}");
    vres_clear(&r);
    json_decref(s);
}

static void test_list_types(void **state)
{
    json_t *s = spec_schema(
        "{'type':'object','properties':{"
        "'ports':{'type':'array','x-kubernetes-list-type':'map',"
        "  'x-kubernetes-list-map-keys':['port','protocol'],"
        "  'items':{'type':'object','required':['port'],'properties':{"
        "     'port':{'type':'integer'},"
        "     'protocol':{'type':'string','default':'TCP'}}}},"
        "'vols':{'type':'array','x-kubernetes-list-type':'map',"
        "  'x-kubernetes-list-map-keys':['name'],"
        "  'items':{'type':'object','properties':{'name':{'type':'string'}}}},"
        "'set':{'type':'array','x-kubernetes-list-type':'set'},"
        "'atomic':{'type':'array','x-kubernetes-list-type':'atomic'}}}");
    vres_t r;

    check_ok(s, "{'spec':{'ports':[{'port':80},{'port':80,'protocol':'UDP'}]}}",
             "{'spec':{'ports':[{'port':80,'protocol':'TCP'},{'port':80,'protocol':'UDP'}]}}");
    check_ok(s, "{'spec':{'set':[1,'1',[1],{'a':1},true],'atomic':[1,1]}}", NULL);
    /* a default fills a key before the duplicate check */
    check_one(s, "{'spec':{'ports':[{'port':80},{'port':80,'protocol':'TCP'}]}}", NULL,
              "FieldValueDuplicate", "spec.ports[1]",
              "Duplicate value: {\"port\":80,\"protocol\":\"TCP\"}");
    check_one(s, "{'spec':{'vols':[{'name':'a'},{}]}}", NULL, "FieldValueRequired",
              "spec.vols[1].name", "Required value");
    /* a key the item schema requires is reported once */
    check_one(s, "{'spec':{'ports':[{'protocol':'UDP'}]}}", NULL, "FieldValueRequired",
              "spec.ports[0].port", "Required value");
    /* every later duplicate is reported, at its index */
    r = run(s, "{'spec':{'vols':[{'name':'a'},{'name':'a'},{'name':'b'},{'name':'a'}]}}", NULL,
            FIELD_VALIDATION_WARN);
    assert_int_equal(json_array_size(r.err.causes), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(r.err.causes, 1), "field")),
        "spec.vols[3]");
    vres_clear(&r);
    /* sets: a value seen again is reported once, at its second index;
     * 1 and 1.0 are the same value */
    check_one(s, "{'spec':{'set':['a','b','a','a']}}", NULL, "FieldValueDuplicate",
              "spec.set[2]", "Duplicate value: \"a\"");
    check_one(s, "{'spec':{'set':[1,1.0]}}", NULL, "FieldValueDuplicate", "spec.set[1]",
              "Duplicate value: 1");
    check_one(s, "{'spec':{'set':[{'a':1,'b':2},{'b':2,'a':1}]}}", NULL,
              "FieldValueDuplicate", "spec.set[1]", "Duplicate value: {\"b\":2,\"a\":1}");
    json_decref(s);
}

static void test_paths(void **state)
{
    json_t *s = spec_schema(
        "{'type':'object','properties':{"
        "'volumes':{'type':'array','items':{'type':'object','required':['name'],"
        "  'properties':{'name':{'type':'string','maxLength':3},"
        "     'sub':{'type':'array','items':{'type':'array','items':{'type':'integer'}}}}}},"
        "'labels':{'type':'object','additionalProperties':{'type':'string'}}}}");
    vres_t r;

    check_one(s, "{'spec':{'volumes':[{'name':'abcd'}]}}", NULL, "FieldValueTooLong",
              "spec.volumes[0].name", "Too long: may not be longer than 3");
    check_one(s, "{'spec':{'volumes':[{'name':'a'},{}]}}", NULL, "FieldValueRequired",
              "spec.volumes[1].name", "Required value");
    check_one(s, "{'spec':{'volumes':[{'name':'a','sub':[[1],[2,'x']]}]}}", NULL,
              "FieldValueTypeInvalid", "spec.volumes[0].sub[1][1]",
              "Invalid value: \"string\": spec.volumes[0].sub[1][1] in body must be of type "
              "integer: \"string\"");
    check_one(s, "{'spec':{'labels':{'app.kubernetes.io/name':1}}}", NULL,
              "FieldValueTypeInvalid", "spec.labels[app.kubernetes.io/name]",
              "Invalid value: \"integer\": spec.labels[app.kubernetes.io/name] in body must "
              "be of type string: \"integer\"");
    /* several causes keep document order */
    r = run(s, "{'spec':{'volumes':[{'name':'abcd'},{'name':5}],'labels':{'a':[]}}}", NULL,
            FIELD_VALIDATION_WARN);
    assert_int_equal(json_array_size(r.err.causes), 3);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(r.err.causes, 0), "field")),
        "spec.volumes[0].name");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(r.err.causes, 1), "field")),
        "spec.volumes[1].name");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(r.err.causes, 2), "field")),
        "spec.labels[a]");
    vres_clear(&r);
    json_decref(s);
}

/* At most 100 causes, and a bounded message, however bad the object. */
static void test_cause_bound(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{'l':{'type':'array',"
                            "'items':{'type':'string','maxLength':1}}}}");
    json_t *obj = J("{'spec':{'l':[]}}"), *l = json_path_get(obj, "spec.l");
    err_t err = ERR_INIT;
    GString *big = g_string_new(NULL);

    for (int i = 0; i < 300; i++)
        json_array_append_new(l, json_string(i % 2 ? "toolong" : "x"));
    json_array_append_new(l, json_integer(1));
    assert_int_equal(schema_validate(s, obj, NULL, FIELD_VALIDATION_WARN, NULL, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    assert_int_equal(json_array_size(err.causes), 100);
    assert_true(strlen(err.msg) <= 1000);
    assert_int_equal(err.msg[0], '[');
    err_clear(&err);
    json_decref(obj);

    /* a huge bad value is cut in the message, on a character boundary */
    for (int i = 0; i < 5000; i++)
        g_string_append(big, "\xc3\xa9");
    obj = json_pack("{s:{s:[s]}}", "spec", "l", big->str);
    assert_int_equal(schema_validate(s, obj, NULL, FIELD_VALIDATION_WARN, NULL, &err), -1);
    assert_int_equal(json_array_size(err.causes), 1);
    assert_true(strlen(err.msg) < 1000);
    assert_true(g_utf8_validate(err.msg, -1, NULL));
    err_clear(&err);
    json_decref(obj);
    json_decref(s);

    s = spec_schema("{'type':'object','properties':{'l':{'type':'array',"
                    "'items':{'type':'string','pattern':'^a$'}}}}");
    obj = json_pack("{s:{s:[s]}}", "spec", "l", big->str);
    assert_int_equal(schema_validate(s, obj, NULL, FIELD_VALIDATION_WARN, NULL, &err), -1);
    assert_true(g_utf8_validate(json_string_value(json_object_get(
                                    json_array_get(err.causes, 0), "message")),
                                -1, NULL));
    assert_true(g_utf8_validate(err.msg, -1, NULL));
    err_clear(&err);
    json_decref(obj);
    json_decref(s);
    g_string_free(big, TRUE);
}

/* A schema and object nested `levels` deep under spec: {'c':{'c':...}}. */
static void deep_pair(int levels, json_t **schema, json_t **obj)
{
    json_t *s = json_pack("{s:s}", "type", "string");
    json_t *o = json_string("leaf");

    for (int i = 0; i < levels; i++) {
        s = json_pack("{s:s,s:{s:o}}", "type", "object", "properties", "c", s);
        o = json_pack("{s:o}", "c", o);
    }
    *schema = json_pack("{s:s,s:{s:o}}", "type", "object", "properties", "spec", s);
    *obj = json_pack("{s:o}", "spec", o);
}

static void test_depth(void **state)
{
    json_t *s, *o;
    err_t err = ERR_INIT;

    /* within the limit */
    deep_pair(JSON_MAX_DEPTH - 2, &s, &o);
    assert_int_equal(schema_validate(s, o, NULL, FIELD_VALIDATION_STRICT, NULL, &err), 0);
    json_decref(s);
    json_decref(o);
    /* past it: refused, whatever else */
    deep_pair(JSON_MAX_DEPTH + 20, &s, &o);
    assert_int_equal(schema_validate(s, o, NULL, FIELD_VALIDATION_WARN, NULL, &err), -1);
    assert_int_equal(err.code, ERR_BAD_REQUEST);
    assert_string_equal(err.msg, "The object nests deeper than 100 levels.");
    assert_null(err.causes);
    err_clear(&err);
    json_decref(s);
    json_decref(o);

    /* arrays nest too */
    s = json_pack("{s:s}", "type", "integer");
    o = json_integer(1);
    for (int i = 0; i < 150; i++) {
        s = json_pack("{s:s,s:o}", "type", "array", "items", s);
        o = json_pack("[o]", o);
    }
    s = json_pack("{s:s,s:{s:o}}", "type", "object", "properties", "spec", s);
    o = json_pack("{s:o}", "spec", o);
    assert_int_equal(schema_validate(s, o, NULL, FIELD_VALIDATION_WARN, NULL, &err), -1);
    assert_int_equal(err.code, ERR_BAD_REQUEST);
    err_clear(&err);
    json_decref(s);
    json_decref(o);
}

static void test_prune(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{"
                            "'a':{'type':'integer','default':5,'minimum':10},"
                            "'l':{'type':'array','items':{'type':'object','properties':{"
                            "   'k':{'type':'string'}}}},"
                            "'p':{'type':'object','x-kubernetes-preserve-unknown-fields':true},"
                            "'e':{'type':'object','x-kubernetes-embedded-resource':true}}}");
    json_t *o = J("{'apiVersion':'x','kind':'y','metadata':{'q':1},'extra':1,"
                  "'spec':{'a':1,'b':2,'l':[{'k':'v','z':1},3],'p':{'any':1},"
                  "'e':{'apiVersion':'v1','kind':'K','metadata':{'m':1},'x':1}}}");

    /* no defaults, no checks: only pruning */
    schema_prune(s, o);
    assert_json_text(o, "{'apiVersion':'x','kind':'y','metadata':{'q':1},"
                        "'spec':{'a':1,'l':[{'k':'v'},3],'p':{'any':1},"
                        "'e':{'apiVersion':'v1','kind':'K','metadata':{'m':1}}}}");
    json_decref(o);
    json_decref(s);
}

static gpointer validate_thread(gpointer data)
{
    const json_t *s = data;

    for (int i = 0; i < 200; i++) {
        char text[64];
        json_t *o;
        err_t err = ERR_INIT;
        int rc;

        snprintf(text, sizeof(text), "{\"spec\":{\"p%d\":\"%s\"}}", i % 8,
                 i % 3 ? "abc" : "ABC");
        o = json_loads(text, 0, NULL);
        rc = schema_validate(s, o, NULL, FIELD_VALIDATION_WARN, NULL, &err);
        if ((rc == 0) != (i % 3 != 0))
            return GINT_TO_POINTER(1);
        err_clear(&err);
        json_decref(o);
        if (i % 50 == 0)
            schema_validate_cache_clear();
    }
    return NULL;
}

/* The pattern cache is safe to use from several threads at once. */
static void test_threads(void **state)
{
    json_t *s = spec_schema("{'type':'object','properties':{"
                            "'p0':{'type':'string','pattern':'^[a-z]+$'},"
                            "'p1':{'type':'string','pattern':'^[a-z]{3}$'},"
                            "'p2':{'type':'string','pattern':'^[abc]+$'},"
                            "'p3':{'type':'string','pattern':'^a[a-z]*$'},"
                            "'p4':{'type':'string','pattern':'^[^A-Z]+$'},"
                            "'p5':{'type':'string','pattern':'^(a|b|c)+$'},"
                            "'p6':{'type':'string','pattern':'^[a-c]{1,5}$'},"
                            "'p7':{'type':'string','pattern':'^\\\\p{Ll}+$'}}}");
    GThread *th[8];

    for (int i = 0; i < 8; i++)
        th[i] = g_thread_new("validate", validate_thread, s);
    for (int i = 0; i < 8; i++)
        assert_null(g_thread_join(th[i]));
    json_decref(s);
    schema_validate_cache_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_validation_parse),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_required_and_aggregate),
        cmocka_unit_test(test_nullable),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_unknown_bound),
        cmocka_unit_test(test_int_or_string),
        cmocka_unit_test(test_preserve_unknown),
        cmocka_unit_test(test_embedded_resource),
        cmocka_unit_test(test_immutable),
        cmocka_unit_test(test_ratchet),
        cmocka_unit_test(test_list_types),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_cause_bound),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_threads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    schema_validate_cache_clear();
    return rc;
}
