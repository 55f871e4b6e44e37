/*
 * err: one error value per failed operation.
 *
 * A function that can fail takes an `err_t *` as its last argument, fills it
 * exactly once where the failure happens (a code and a whole sentence), and
 * returns -1 or NULL.  Callers pass the same err_t up without rewording it.
 * The API layer maps the code onto a Kubernetes Status; controllers put the
 * message into conditions and events.
 *
 * Field-level causes (for 422 Invalid) are collected in `causes`, an array of
 * {"reason","message","field"} objects in Kubernetes' StatusCause shape.
 */
#ifndef VMSVC_ERR_H
#define VMSVC_ERR_H

#include <jansson.h>
#include <stdbool.h>

typedef enum {
    ERR_NONE = 0,
    ERR_BAD_REQUEST,       /* 400 BadRequest: malformed body, bad query */
    ERR_UNAUTHORIZED,      /* 401 Unauthorized */
    ERR_FORBIDDEN,         /* 403 Forbidden */
    ERR_NOT_FOUND,         /* 404 NotFound */
    ERR_METHOD_NOT_ALLOWED,/* 405 MethodNotAllowed */
    ERR_NOT_ACCEPTABLE,    /* 406 NotAcceptable */
    ERR_ALREADY_EXISTS,    /* 409 AlreadyExists */
    ERR_CONFLICT,          /* 409 Conflict: stale resourceVersion */
    ERR_GONE,              /* 410 Expired: resourceVersion too old */
    ERR_TOO_LARGE,         /* 413 RequestEntityTooLarge */
    ERR_UNSUPPORTED_MEDIA, /* 415 UnsupportedMediaType */
    ERR_INVALID,           /* 422 Invalid: schema or semantic validation */
    ERR_TOO_MANY_REQUESTS, /* 429 TooManyRequests */
    ERR_INTERNAL,          /* 500 InternalError */
    ERR_UNAVAILABLE,       /* 503 ServiceUnavailable */
    ERR_TIMEOUT,           /* 504 Timeout */
    ERR_LAST
} err_code_t;

typedef struct err {
    err_code_t code;
    char msg[1024];
    json_t *causes; /* NULL or array of StatusCause objects */
} err_t;

#define ERR_INIT {ERR_NONE, {0}, NULL}

void err_set(err_t *e, err_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Add a field cause; the first cause also sets code ERR_INVALID if unset. */
void err_add_cause(err_t *e, const char *reason, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void err_clear(err_t *e);
bool err_is_set(const err_t *e);
/* Move the contents of src into dst (dst cleared first, src left empty). */
void err_move(err_t *dst, err_t *src);

int err_http_status(err_code_t code);
const char *err_reason(err_code_t code); /* Kubernetes StatusReason */

#endif
