/*
 * pb: Kubernetes protobuf request bodies to jansson values.
 *
 * kubectl and client-go send built-in kinds as "application/vnd.kubernetes.
 * protobuf": the four bytes "k8s\0", then a runtime.Unknown message whose
 * typeMeta names the apiVersion and kind and whose raw field holds the
 * object's own protobuf encoding.  pb_decode_object turns such a body into
 * the JSON object that the JSON encoding of the same Go object would be, so
 * that the rest of the server only ever sees JSON.
 *
 * Each message type is a table of fields (number, JSON name, kind, presence),
 * and one decoder walks the wire format by the table.  Presence reproduces
 * Go's encoding/json on the generated structs:
 *   PB_OMITEMPTY  a value field tagged omitempty: the zero value ("", 0,
 *                 false, empty list or map) is left out;
 *   PB_POINTER    a pointer field: in the JSON whenever it is on the wire,
 *                 even when it holds the zero value;
 *   PB_ALWAYS     a field without omitempty, or a struct value: in the JSON
 *                 even when absent, as its zero value (a struct as its own
 *                 defaults, a Time as null, a nil list, map or []byte as null).
 * A message or Time field that is PB_OMITEMPTY behaves as PB_POINTER.
 * Protobuf merge rules hold: a scalar seen twice keeps the last value, a
 * message seen twice is merged, repeated fields and maps accumulate (a map
 * key seen twice keeps the last value).  Unknown fields are skipped.
 *
 * Time (meta/v1 Time, a Timestamp message) becomes RFC 3339 text in UTC to
 * the second, "2026-11-27T18:00:00Z", as Kubernetes writes it: nanoseconds
 * are dropped and an empty Timestamp is the zero time, which is null.
 *
 * The input is untrusted.  The decoder never reads outside [buf, buf+len),
 * recurses only through message tables, stops at JSON_MAX_DEPTH, and
 * creates at most len/2 + 64 JSON values (every value on the wire costs at
 * least two bytes; only defaults for absent fields come for free).  Tables
 * must not reach themselves through PB_ALWAYS message fields (Go structs
 * cannot hold themselves by value); the depth limit catches it if one does.
 */
#ifndef VMSVC_PB_H
#define VMSVC_PB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* The prefix of every Kubernetes protobuf body. */
#define PB_MAGIC "k8s\0"
#define PB_MAGIC_LEN 4

typedef enum {
    PB_STRING,           /* UTF-8 text */
    PB_BYTES,            /* base64 text, as Go encodes []byte */
    PB_INT64,
    PB_INT32,
    PB_BOOL,
    PB_MESSAGE,          /* object described by `message` */
    PB_TIME,             /* meta/v1 Time: RFC 3339 text or null */
    PB_REPEATED_STRING,  /* list of text */
    PB_REPEATED_MESSAGE, /* list of objects described by `message` */
    PB_MAP_STRING,       /* map<string,string>: object of text */
    PB_MAP_BYTES,        /* map<string,bytes>: object of base64 text */
    PB_KIND_LAST
} pb_kind_t;

typedef enum {
    PB_OMITEMPTY,
    PB_POINTER,
    PB_ALWAYS,
    PB_PRESENCE_LAST
} pb_presence_t;

struct pb_message;

typedef struct pb_field {
    uint32_t number;                  /* protobuf field number, >= 1 */
    const char *name;                 /* JSON member name */
    pb_kind_t kind;
    pb_presence_t presence;
    const struct pb_message *message; /* PB_MESSAGE, PB_REPEATED_MESSAGE */
} pb_field_t;

typedef struct pb_message {
    const char *name;         /* Go type name, for error messages */
    const pb_field_t *fields; /* ends with an entry whose name is NULL */
} pb_message_t;

/* Decode a whole Kubernetes protobuf body (magic, runtime.Unknown, object)
 * of a kind this module has a table for: v1 Namespace, Secret, ConfigMap.
 * Returns a new object with "kind" and "apiVersion" from the envelope, or
 * NULL with ERR_BAD_REQUEST (malformed input) or ERR_UNSUPPORTED_MEDIA (a
 * kind, version or content encoding that cannot be decoded), each with a
 * whole sentence. */
json_t *pb_decode_object(const void *buf, size_t len, err_t *err);

/* Decode one protobuf message, buf[0..len), by table `m` into a new object.
 * Errors as for pb_decode_object (ERR_BAD_REQUEST only). */
json_t *pb_decode_message(const pb_message_t *m, const void *buf, size_t len, err_t *err);

#endif
