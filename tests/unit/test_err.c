/*
 * Unit tests for util/err: the code table (HTTP status and Kubernetes
 * reason), setting, field causes and their bound, clearing and moving.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <string.h>

#include "util/err.h"

static void test_codes(void **state)
{
    static const struct {
        err_code_t code;
        int http;
        const char *reason;
    } table[] = {
        {ERR_BAD_REQUEST, 400, "BadRequest"},
        {ERR_UNAUTHORIZED, 401, "Unauthorized"},
        {ERR_FORBIDDEN, 403, "Forbidden"},
        {ERR_NOT_FOUND, 404, "NotFound"},
        {ERR_METHOD_NOT_ALLOWED, 405, "MethodNotAllowed"},
        {ERR_NOT_ACCEPTABLE, 406, "NotAcceptable"},
        {ERR_ALREADY_EXISTS, 409, "AlreadyExists"},
        {ERR_CONFLICT, 409, "Conflict"},
        {ERR_GONE, 410, "Expired"},
        {ERR_TOO_LARGE, 413, "RequestEntityTooLarge"},
        {ERR_UNSUPPORTED_MEDIA, 415, "UnsupportedMediaType"},
        {ERR_INVALID, 422, "Invalid"},
        {ERR_TOO_MANY_REQUESTS, 429, "TooManyRequests"},
        {ERR_INTERNAL, 500, "InternalError"},
        {ERR_UNAVAILABLE, 503, "ServiceUnavailable"},
        {ERR_TIMEOUT, 504, "Timeout"},
    };

    /* Every code but ERR_NONE is in the table, once. */
    assert_int_equal(G_N_ELEMENTS(table), ERR_LAST - 1);
    for (size_t i = 0; i < G_N_ELEMENTS(table); i++) {
        assert_int_equal(err_http_status(table[i].code), table[i].http);
        assert_string_equal(err_reason(table[i].code), table[i].reason);
    }
    /* Out of range (and "no error" asked for as a failure) is internal. */
    assert_int_equal(err_http_status(ERR_NONE), 500);
    assert_int_equal(err_http_status(ERR_LAST), 500);
    assert_int_equal(err_http_status((err_code_t)-1), 500);
    assert_int_equal(err_http_status((err_code_t)1000), 500);
    assert_string_equal(err_reason(ERR_NONE), "InternalError");
    assert_string_equal(err_reason(ERR_LAST), "InternalError");
    assert_string_equal(err_reason((err_code_t)1000), "InternalError");
}

static void test_set_clear(void **state)
{
    err_t err = ERR_INIT;
    char big[3000];

    assert_false(err_is_set(&err));
    assert_false(err_is_set(NULL));
    err_set(&err, ERR_NOT_FOUND, "The %s \"%s\" was not found.", "thing", "x");
    assert_true(err_is_set(&err));
    assert_int_equal(err.code, ERR_NOT_FOUND);
    assert_string_equal(err.msg, "The thing \"x\" was not found.");
    assert_null(err.causes);

    /* Setting again overwrites. */
    err_set(&err, ERR_CONFLICT, "second");
    assert_int_equal(err.code, ERR_CONFLICT);
    assert_string_equal(err.msg, "second");

    /* A long message is cut to fit, NUL-terminated. */
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    err_set(&err, ERR_BAD_REQUEST, "%s", big);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);

    err_clear(&err);
    assert_false(err_is_set(&err));
    assert_int_equal(err.code, ERR_NONE);
    assert_string_equal(err.msg, "");
    assert_null(err.causes);
    err_clear(&err); /* twice is fine */

    /* A NULL err is accepted everywhere and ignored. */
    err_set(NULL, ERR_INTERNAL, "ignored");
    err_add_cause(NULL, "FieldValueRequired", "a", "ignored");
    err_clear(NULL);
}

static void test_causes(void **state)
{
    err_t err = ERR_INIT;
    json_t *c;

    err_add_cause(&err, "FieldValueRequired", "spec.a", "Required value");
    assert_int_equal(err.code, ERR_INVALID);
    assert_true(json_is_array(err.causes));
    assert_int_equal(json_array_size(err.causes), 1);
    c = json_array_get(err.causes, 0);
    assert_string_equal(json_string_value(json_object_get(c, "reason")),
                        "FieldValueRequired");
    assert_string_equal(json_string_value(json_object_get(c, "message")),
                        "Required value");
    assert_string_equal(json_string_value(json_object_get(c, "field")), "spec.a");
    assert_int_equal(json_object_size(c), 3);

    /* Without a field there is no "field" member. */
    err_add_cause(&err, "FieldValueInvalid", NULL, "Invalid value: %d", 7);
    c = json_array_get(err.causes, 1);
    assert_null(json_object_get(c, "field"));
    assert_string_equal(json_string_value(json_object_get(c, "message")),
                        "Invalid value: 7");
    err_clear(&err);
    assert_null(err.causes);

    /* A cause added after err_set keeps the code that was set. */
    err_set(&err, ERR_BAD_REQUEST, "bad");
    err_add_cause(&err, "FieldValueInvalid", "x", "y");
    assert_int_equal(err.code, ERR_BAD_REQUEST);
    assert_string_equal(err.msg, "bad");
    assert_int_equal(json_array_size(err.causes), 1);
    err_clear(&err);
}

static void test_cause_bound(void **state)
{
    err_t err = ERR_INIT;
    char longmsg[2000];

    for (int i = 0; i < 250; i++)
        err_add_cause(&err, "FieldValueInvalid", "f", "cause %d", i);
    assert_int_equal(json_array_size(err.causes), 100);
    /* The first hundred are kept, in order. */
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(err.causes, 99), "message")),
        "cause 99");
    err_clear(&err);

    /* A cause message is cut rather than overflowing. */
    memset(longmsg, 'm', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    err_add_cause(&err, "FieldValueInvalid", "f", "%s", longmsg);
    assert_true(strlen(json_string_value(
                    json_object_get(json_array_get(err.causes, 0), "message"))) < 1000);
    err_clear(&err);
}

static void test_move(void **state)
{
    err_t src = ERR_INIT, dst = ERR_INIT;
    json_t *causes;

    err_add_cause(&src, "FieldValueRequired", "spec.a", "Required value");
    err_set(&src, ERR_INVALID, "spec.a: Required value");
    causes = src.causes;

    /* dst held something: it is cleared (its causes freed) first. */
    err_add_cause(&dst, "FieldValueInvalid", "old", "old cause");
    err_set(&dst, ERR_CONFLICT, "old");
    err_move(&dst, &src);

    assert_int_equal(dst.code, ERR_INVALID);
    assert_string_equal(dst.msg, "spec.a: Required value");
    assert_ptr_equal(dst.causes, causes); /* moved, not copied */
    assert_int_equal(json_array_size(dst.causes), 1);

    assert_false(err_is_set(&src));
    assert_null(src.causes);
    assert_string_equal(src.msg, "");

    /* Moving an empty err empties dst. */
    err_move(&dst, &src);
    assert_false(err_is_set(&dst));
    assert_null(dst.causes);
    err_clear(&dst);
    err_clear(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_set_clear),
        cmocka_unit_test(test_causes),
        cmocka_unit_test(test_cause_bound),
        cmocka_unit_test(test_move),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
