/* err: see err.h. */
#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
    int http;
    const char *reason;
} err_table[ERR_LAST] = {
    [ERR_NONE] = {200, ""},
    [ERR_BAD_REQUEST] = {400, "BadRequest"},
    [ERR_UNAUTHORIZED] = {401, "Unauthorized"},
    [ERR_FORBIDDEN] = {403, "Forbidden"},
    [ERR_NOT_FOUND] = {404, "NotFound"},
    [ERR_METHOD_NOT_ALLOWED] = {405, "MethodNotAllowed"},
    [ERR_NOT_ACCEPTABLE] = {406, "NotAcceptable"},
    [ERR_ALREADY_EXISTS] = {409, "AlreadyExists"},
    [ERR_CONFLICT] = {409, "Conflict"},
    [ERR_GONE] = {410, "Expired"},
    [ERR_TOO_LARGE] = {413, "RequestEntityTooLarge"},
    [ERR_UNSUPPORTED_MEDIA] = {415, "UnsupportedMediaType"},
    [ERR_INVALID] = {422, "Invalid"},
    [ERR_TOO_MANY_REQUESTS] = {429, "TooManyRequests"},
    [ERR_INTERNAL] = {500, "InternalError"},
    [ERR_UNAVAILABLE] = {503, "ServiceUnavailable"},
    [ERR_TIMEOUT] = {504, "Timeout"},
};

void err_set(err_t *e, err_code_t code, const char *fmt, ...)
{
    va_list ap;
    if (!e)
        return;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

void err_add_cause(err_t *e, const char *reason, const char *field,
                   const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    json_t *c;

    if (!e)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (!e->causes)
        e->causes = json_array();
    /* A runaway input must not grow the cause list without bound. */
    if (json_array_size(e->causes) >= 100)
        return;
    c = json_pack("{s:s,s:s}", "reason", reason, "message", buf);
    if (field)
        json_object_set_new(c, "field", json_string(field));
    json_array_append_new(e->causes, c);
    if (e->code == ERR_NONE)
        e->code = ERR_INVALID;
}

void err_clear(err_t *e)
{
    if (!e)
        return;
    json_decref(e->causes);
    e->causes = NULL;
    e->code = ERR_NONE;
    e->msg[0] = '\0';
}

bool err_is_set(const err_t *e)
{
    return e && e->code != ERR_NONE;
}

void err_move(err_t *dst, err_t *src)
{
    err_clear(dst);
    *dst = *src;
    src->causes = NULL;
    src->code = ERR_NONE;
    src->msg[0] = '\0';
}

int err_http_status(err_code_t code)
{
    if (code <= ERR_NONE || code >= ERR_LAST)
        return 500;
    return err_table[code].http;
}

const char *err_reason(err_code_t code)
{
    if (code <= ERR_NONE || code >= ERR_LAST)
        return "InternalError";
    return err_table[code].reason;
}
