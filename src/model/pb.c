/*
 * pb: protobuf wire format to jansson by tables; see pb.h.
 *
 * A reader (pb_reader_t) hands out one field at a time.  It checks every
 * length against the end of its own buffer before it moves, so a field's
 * bytes always lie inside the input; a nested message or map entry gets a
 * reader over exactly its own bytes.  pb_decode_into matches each field
 * against a table, converts it and stores it in the object being built,
 * then fills the PB_ALWAYS fields that were absent.  Recursion happens only
 * for message fields of a table and is cut at JSON_MAX_DEPTH.  Every JSON
 * value is created through pb_charge, which draws on the budget described
 * in pb.h.  On error the partly built object is dropped by the caller.
 */
#include "model/pb.h"

#include <glib.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/jsonutil.h"

#define PB_VARINT_MAX 10                    /* bytes in the longest varint */
#define PB_FIELD_NUMBER_MAX ((1u << 29) - 1) /* protobuf's largest field number */
#define PB_CONTENT_TYPE "application/vnd.kubernetes.protobuf"
#define PB_TYPE_NAME_MAX 100 /* longest kind or apiVersion quoted in an error */

/* Seconds since the epoch of 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z,
 * the range RFC 3339 can write. */
#define PB_TIME_MIN INT64_C(-62167219200)
#define PB_TIME_MAX INT64_C(253402300799)
#define PB_SECONDS_PER_DAY 86400

#define PB_FIELD_END {.number = 0, .name = NULL}

typedef enum {
    PB_WIRE_VARINT = 0,
    PB_WIRE_FIXED64 = 1,
    PB_WIRE_LEN = 2,
    PB_WIRE_FIXED32 = 5,
} pb_wire_t;

typedef struct pb_reader {
    const uint8_t *p;
    const uint8_t *end;
    const char *where; /* message name for errors */
} pb_reader_t;

typedef struct pb_item {
    uint32_t number;
    int wire;
    uint64_t varint;     /* PB_WIRE_VARINT */
    const uint8_t *data; /* PB_WIRE_LEN: the bytes, inside the input */
    size_t len;
} pb_item_t;

typedef struct pb_ctx {
    size_t budget; /* JSON values that may still be created */
    size_t limit;  /* the budget at the start, for the error message */
    err_t *err;
} pb_ctx_t;

/* ---- Kubernetes tables ---------------------------------------------------- */

static const pb_field_t pb_owner_reference_fields[] = {
    {5, "apiVersion", PB_STRING, PB_ALWAYS, NULL},
    {1, "kind", PB_STRING, PB_ALWAYS, NULL},
    {3, "name", PB_STRING, PB_ALWAYS, NULL},
    {4, "uid", PB_STRING, PB_ALWAYS, NULL},
    {6, "controller", PB_BOOL, PB_POINTER, NULL},
    {7, "blockOwnerDeletion", PB_BOOL, PB_POINTER, NULL},
    PB_FIELD_END,
};
static const pb_message_t pb_owner_reference = {"OwnerReference", pb_owner_reference_fields};

/* managedFields (17) is left out: clients do not send it on create. */
static const pb_field_t pb_object_meta_fields[] = {
    {1, "name", PB_STRING, PB_OMITEMPTY, NULL},
    {2, "generateName", PB_STRING, PB_OMITEMPTY, NULL},
    {3, "namespace", PB_STRING, PB_OMITEMPTY, NULL},
    {4, "selfLink", PB_STRING, PB_OMITEMPTY, NULL},
    {5, "uid", PB_STRING, PB_OMITEMPTY, NULL},
    {6, "resourceVersion", PB_STRING, PB_OMITEMPTY, NULL},
    {7, "generation", PB_INT64, PB_OMITEMPTY, NULL},
    {8, "creationTimestamp", PB_TIME, PB_ALWAYS, NULL},
    {9, "deletionTimestamp", PB_TIME, PB_POINTER, NULL},
    {10, "deletionGracePeriodSeconds", PB_INT64, PB_POINTER, NULL},
    {11, "labels", PB_MAP_STRING, PB_OMITEMPTY, NULL},
    {12, "annotations", PB_MAP_STRING, PB_OMITEMPTY, NULL},
    {13, "ownerReferences", PB_REPEATED_MESSAGE, PB_OMITEMPTY, &pb_owner_reference},
    {14, "finalizers", PB_REPEATED_STRING, PB_OMITEMPTY, NULL},
    PB_FIELD_END,
};
static const pb_message_t pb_object_meta = {"ObjectMeta", pb_object_meta_fields};

static const pb_field_t pb_namespace_spec_fields[] = {
    {1, "finalizers", PB_REPEATED_STRING, PB_OMITEMPTY, NULL},
    PB_FIELD_END,
};
static const pb_message_t pb_namespace_spec = {"NamespaceSpec", pb_namespace_spec_fields};

/* conditions (2) is left out: only the namespace controller writes it. */
static const pb_field_t pb_namespace_status_fields[] = {
    {1, "phase", PB_STRING, PB_OMITEMPTY, NULL},
    PB_FIELD_END,
};
static const pb_message_t pb_namespace_status = {"NamespaceStatus",
                                                 pb_namespace_status_fields};

static const pb_field_t pb_namespace_fields[] = {
    {1, "metadata", PB_MESSAGE, PB_ALWAYS, &pb_object_meta},
    {2, "spec", PB_MESSAGE, PB_ALWAYS, &pb_namespace_spec},
    {3, "status", PB_MESSAGE, PB_ALWAYS, &pb_namespace_status},
    PB_FIELD_END,
};
static const pb_message_t pb_namespace = {"Namespace", pb_namespace_fields};

static const pb_field_t pb_secret_fields[] = {
    {1, "metadata", PB_MESSAGE, PB_ALWAYS, &pb_object_meta},
    {5, "immutable", PB_BOOL, PB_POINTER, NULL},
    {2, "data", PB_MAP_BYTES, PB_OMITEMPTY, NULL},
    {4, "stringData", PB_MAP_STRING, PB_OMITEMPTY, NULL},
    {3, "type", PB_STRING, PB_OMITEMPTY, NULL},
    PB_FIELD_END,
};
static const pb_message_t pb_secret = {"Secret", pb_secret_fields};

static const pb_field_t pb_config_map_fields[] = {
    {1, "metadata", PB_MESSAGE, PB_ALWAYS, &pb_object_meta},
    {4, "immutable", PB_BOOL, PB_POINTER, NULL},
    {2, "data", PB_MAP_STRING, PB_OMITEMPTY, NULL},
    {3, "binaryData", PB_MAP_BYTES, PB_OMITEMPTY, NULL},
    PB_FIELD_END,
};
static const pb_message_t pb_config_map = {"ConfigMap", pb_config_map_fields};

/* Kinds a body may carry, all in apiVersion "v1". */
static const struct {
    const char *kind;
    const pb_message_t *message;
} pb_kinds[] = {
    {"Namespace", &pb_namespace},
    {"Secret", &pb_secret},
    {"ConfigMap", &pb_config_map},
};

/* ---- errors ---------------------------------------------------------------- */

static void pb_malformed(err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ERR_BAD_REQUEST with "The protobuf request body is malformed: <detail>". */
static void pb_malformed(err_t *err, const char *fmt, ...)
{
    char detail[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    err_set(err, ERR_BAD_REQUEST, "The protobuf request body is malformed: %s", detail);
}

/* ---- wire format ------------------------------------------------------------ */

static void pb_reader_init(pb_reader_t *r, const uint8_t *buf, size_t len, const char *where)
{
    static const uint8_t empty[1];

    r->p = len ? buf : empty;
    r->end = len ? buf + len : empty;
    r->where = where;
}

static int pb_read_varint(pb_reader_t *r, uint64_t *out, err_t *err)
{
    uint64_t v = 0;

    for (int i = 0; i < PB_VARINT_MAX; i++) {
        if (r->p >= r->end) {
            pb_malformed(err, "a varint in %s ends before its last byte.", r->where);
            return -1;
        }
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    pb_malformed(err, "a varint in %s is longer than %d bytes.", r->where, PB_VARINT_MAX);
    return -1;
}

static int pb_skip(pb_reader_t *r, const pb_item_t *it, size_t n, err_t *err)
{
    if ((size_t)(r->end - r->p) < n) {
        pb_malformed(err, "field %" PRIu32 " of %s needs %zu bytes, but only %zu remain.",
                     it->number, r->where, n, (size_t)(r->end - r->p));
        return -1;
    }
    r->p += n;
    return 0;
}

/* Next field into *it: 1, or 0 at the end of the buffer, or -1 on error. */
static int pb_next(pb_reader_t *r, pb_item_t *it, err_t *err)
{
    uint64_t tag, n;

    if (r->p >= r->end)
        return 0;
    if (pb_read_varint(r, &tag, err) < 0)
        return -1;
    if ((tag >> 3) == 0 || (tag >> 3) > PB_FIELD_NUMBER_MAX) {
        pb_malformed(err, "%s has a field numbered %" PRIu64 ", outside 1 to %u.", r->where,
                     tag >> 3, PB_FIELD_NUMBER_MAX);
        return -1;
    }
    it->number = (uint32_t)(tag >> 3);
    it->wire = (int)(tag & 7);
    it->data = NULL;
    it->len = 0;
    switch (it->wire) {
    case PB_WIRE_VARINT:
        return pb_read_varint(r, &it->varint, err) < 0 ? -1 : 1;
    case PB_WIRE_FIXED64:
        return pb_skip(r, it, 8, err) < 0 ? -1 : 1;
    case PB_WIRE_FIXED32:
        return pb_skip(r, it, 4, err) < 0 ? -1 : 1;
    case PB_WIRE_LEN:
        if (pb_read_varint(r, &n, err) < 0)
            return -1;
        if (n > (uint64_t)(r->end - r->p)) {
            pb_malformed(err, "field %" PRIu32 " of %s claims %" PRIu64
                         " bytes, but only %zu remain.",
                         it->number, r->where, n, (size_t)(r->end - r->p));
            return -1;
        }
        it->data = r->p;
        it->len = (size_t)n;
        r->p += n;
        return 1;
    default:
        pb_malformed(err, "field %" PRIu32 " of %s has wire type %d, which Kubernetes "
                     "never uses.", it->number, r->where, it->wire);
        return -1;
    }
}

static int pb_kind_wire(pb_kind_t kind)
{
    switch (kind) {
    case PB_INT64:
    case PB_INT32:
    case PB_BOOL:
        return PB_WIRE_VARINT;
    default:
        return PB_WIRE_LEN;
    }
}

/* Go's conversions of a varint to its signed types. */
static int64_t pb_int64(uint64_t v)
{
    return v <= INT64_MAX ? (int64_t)v : -(int64_t)(UINT64_MAX - v) - 1;
}

static int32_t pb_int32(uint64_t v)
{
    uint32_t u = (uint32_t)v;
    return u <= INT32_MAX ? (int32_t)u : (int32_t)((int64_t)u - INT64_C(4294967296));
}

/* ---- values ----------------------------------------------------------------- */

/* Account for one new value; drops it and fails when the budget is spent. */
static json_t *pb_charge(pb_ctx_t *c, json_t *v)
{
    if (c->budget == 0) {
        json_decref(v);
        err_set(c->err, ERR_BAD_REQUEST,
                "The protobuf request body would expand to more than %zu JSON values, "
                "more than a body of its size may hold.", c->limit);
        return NULL;
    }
    c->budget--;
    return v;
}

static bool pb_depth_ok(pb_ctx_t *c, int depth)
{
    if (depth <= JSON_MAX_DEPTH)
        return true;
    pb_malformed(c->err, "it nests deeper than %d levels.", JSON_MAX_DEPTH);
    return false;
}

static json_t *pb_string_new(pb_ctx_t *c, const pb_message_t *m, const pb_field_t *f,
                             const uint8_t *data, size_t len)
{
    /* jansson checks the UTF-8; NUL bytes are allowed, as in JSON bodies. */
    json_t *v = json_stringn(len ? (const char *)data : "", len);

    if (!v) {
        pb_malformed(c->err, "field %s.%s is not valid UTF-8.", m->name, f->name);
        return NULL;
    }
    return pb_charge(c, v);
}

static json_t *pb_bytes_new(pb_ctx_t *c, const uint8_t *data, size_t len)
{
    gchar *b64 = g_base64_encode(len ? data : (const uint8_t *)"", len);
    json_t *v = json_string_nocheck(b64);

    g_free(b64);
    return pb_charge(c, v);
}

/* Days since 1970-01-01 to a proleptic Gregorian date (the usual era
 * arithmetic: 400-year eras of 146097 days, years starting in March). */
static void pb_civil_from_days(int64_t days, int64_t *year, unsigned *month, unsigned *day)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = (int64_t)yoe + era * 400 + (*month <= 2);
}

/* A meta/v1 Time: null for the empty (zero) Timestamp, else RFC 3339 text. */
static json_t *pb_time_new(pb_ctx_t *c, const pb_message_t *m, const pb_field_t *f,
                           const uint8_t *data, size_t len)
{
    pb_reader_t r;
    pb_item_t it;
    int64_t seconds = 0, days, rem, year;
    unsigned month, day;
    char text[32];
    int rc;

    if (len == 0)
        return pb_charge(c, json_null());
    pb_reader_init(&r, data, len, "Time");
    while ((rc = pb_next(&r, &it, c->err)) > 0) {
        if (it.number != 1 && it.number != 2)
            continue;
        if (it.wire != PB_WIRE_VARINT) {
            pb_malformed(c->err, "field %s.%s has wire type %d in its %s, but it needs "
                         "wire type %d.", m->name, f->name, it.wire,
                         it.number == 1 ? "seconds" : "nanos", PB_WIRE_VARINT);
            return NULL;
        }
        /* Kubernetes keeps whole seconds only, so nanos are read and dropped. */
        if (it.number == 1)
            seconds = pb_int64(it.varint);
    }
    if (rc < 0)
        return NULL;
    if (seconds < PB_TIME_MIN || seconds > PB_TIME_MAX) {
        pb_malformed(c->err, "field %s.%s holds a time outside the years 0 to 9999.",
                     m->name, f->name);
        return NULL;
    }
    days = seconds / PB_SECONDS_PER_DAY;
    rem = seconds % PB_SECONDS_PER_DAY;
    if (rem < 0) {
        rem += PB_SECONDS_PER_DAY;
        days--;
    }
    pb_civil_from_days(days, &year, &month, &day);
    snprintf(text, sizeof(text), "%04" PRId64 "-%02u-%02uT%02u:%02u:%02uZ", year, month, day,
             (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
    return pb_charge(c, json_string_nocheck(text));
}

/* ---- messages --------------------------------------------------------------- */

static int pb_decode_into(pb_ctx_t *c, const pb_message_t *m, const uint8_t *buf, size_t len,
                          json_t *obj, int depth);

static const pb_field_t *pb_field_find(const pb_message_t *m, uint32_t number)
{
    for (const pb_field_t *f = m->fields; f->name; f++)
        if (f->number == number)
            return f;
    return NULL;
}

/* Store a scalar v (stolen) by f's presence: an omitempty zero removes it. */
static void pb_set_scalar(json_t *obj, const pb_field_t *f, json_t *v, bool zero)
{
    if (zero && f->presence == PB_OMITEMPTY) {
        json_decref(v);
        json_object_del(obj, f->name);
        return;
    }
    json_object_set_new(obj, f->name, v);
}

/* Member f->name of obj as an array (want_array) or object, created when it
 * is absent or is a null default left by an earlier occurrence. */
static json_t *pb_container_ensure(pb_ctx_t *c, json_t *obj, const pb_field_t *f,
                                   bool want_array, int depth)
{
    json_t *v = json_object_get(obj, f->name);

    if (want_array ? json_is_array(v) : json_is_object(v))
        return v;
    if (!pb_depth_ok(c, depth))
        return NULL;
    v = pb_charge(c, want_array ? json_array() : json_object());
    if (v)
        json_object_set_new(obj, f->name, v);
    return v;
}

static int pb_decode_map_entry(pb_ctx_t *c, const pb_message_t *m, const pb_field_t *f,
                               const pb_item_t *entry, json_t *map)
{
    pb_reader_t r;
    pb_item_t it;
    const uint8_t *key = NULL, *val = NULL;
    size_t key_len = 0, val_len = 0;
    bool has_key = false;
    json_t *v;
    int rc;

    pb_reader_init(&r, entry->data, entry->len, m->name);
    while ((rc = pb_next(&r, &it, c->err)) > 0) {
        if (it.number != 1 && it.number != 2)
            continue;
        if (it.wire != PB_WIRE_LEN) {
            pb_malformed(c->err, "an entry of %s.%s has wire type %d in its %s, but it "
                         "needs wire type %d.", m->name, f->name, it.wire,
                         it.number == 1 ? "key" : "value", PB_WIRE_LEN);
            return -1;
        }
        if (it.number == 1) {
            key = it.data;
            key_len = it.len;
            has_key = true;
        } else {
            val = it.data;
            val_len = it.len;
        }
    }
    if (rc < 0)
        return -1;
    if (!has_key) {
        pb_malformed(c->err, "an entry of %s.%s has no key.", m->name, f->name);
        return -1;
    }
    if (memchr(key, '\0', key_len)) {
        pb_malformed(c->err, "a key of %s.%s contains a NUL byte.", m->name, f->name);
        return -1;
    }
    v = f->kind == PB_MAP_BYTES ? pb_bytes_new(c, val, val_len)
                                : pb_string_new(c, m, f, val, val_len);
    if (!v)
        return -1;
    /* Steals v even when it fails, which it does only for bad UTF-8. */
    if (json_object_setn_new(map, key_len ? (const char *)key : "", key_len, v) < 0) {
        pb_malformed(c->err, "a key of %s.%s is not valid UTF-8.", m->name, f->name);
        return -1;
    }
    return 0;
}

/* Decode one field occurrence of a known field f of m into obj (at depth). */
static int pb_decode_field(pb_ctx_t *c, const pb_message_t *m, const pb_field_t *f,
                           const pb_item_t *it, json_t *obj, int depth)
{
    json_t *v, *container;

    switch (f->kind) {
    case PB_STRING:
        if (!(v = pb_string_new(c, m, f, it->data, it->len)))
            return -1;
        pb_set_scalar(obj, f, v, it->len == 0);
        return 0;
    case PB_BYTES:
        if (!(v = pb_bytes_new(c, it->data, it->len)))
            return -1;
        pb_set_scalar(obj, f, v, it->len == 0);
        return 0;
    case PB_INT64:
        if (!(v = pb_charge(c, json_integer(pb_int64(it->varint)))))
            return -1;
        pb_set_scalar(obj, f, v, it->varint == 0);
        return 0;
    case PB_INT32:
        if (!(v = pb_charge(c, json_integer(pb_int32(it->varint)))))
            return -1;
        pb_set_scalar(obj, f, v, pb_int32(it->varint) == 0);
        return 0;
    case PB_BOOL:
        if (!(v = pb_charge(c, json_boolean(it->varint != 0))))
            return -1;
        pb_set_scalar(obj, f, v, it->varint == 0);
        return 0;
    case PB_TIME:
        if (!(v = pb_time_new(c, m, f, it->data, it->len)))
            return -1;
        json_object_set_new(obj, f->name, v);
        return 0;
    case PB_MESSAGE:
        if (!(container = pb_container_ensure(c, obj, f, false, depth + 1)))
            return -1;
        return pb_decode_into(c, f->message, it->data, it->len, container, depth + 1);
    case PB_REPEATED_STRING:
        if (!(container = pb_container_ensure(c, obj, f, true, depth + 1)) ||
            !(v = pb_string_new(c, m, f, it->data, it->len)))
            return -1;
        json_array_append_new(container, v);
        return 0;
    case PB_REPEATED_MESSAGE:
        if (!(container = pb_container_ensure(c, obj, f, true, depth + 1)) ||
            !pb_depth_ok(c, depth + 2) || !(v = pb_charge(c, json_object())))
            return -1;
        json_array_append_new(container, v);
        return pb_decode_into(c, f->message, it->data, it->len, v, depth + 2);
    case PB_MAP_STRING:
    case PB_MAP_BYTES:
        if (!(container = pb_container_ensure(c, obj, f, false, depth + 1)))
            return -1;
        return pb_decode_map_entry(c, m, f, it, container);
    default:
        /* A table with a kind this decoder lacks is a programming error. */
        g_assert_not_reached();
    }
}

/* Give every PB_ALWAYS field of m that obj lacks its zero value. */
static int pb_fill_defaults(pb_ctx_t *c, const pb_message_t *m, json_t *obj, int depth)
{
    for (const pb_field_t *f = m->fields; f->name; f++) {
        json_t *v;

        if (f->presence != PB_ALWAYS || json_object_get(obj, f->name))
            continue;
        switch (f->kind) {
        case PB_STRING:
            v = json_string("");
            break;
        case PB_INT64:
        case PB_INT32:
            v = json_integer(0);
            break;
        case PB_BOOL:
            v = json_false();
            break;
        case PB_MESSAGE:
            v = json_object();
            break;
        default: /* nil []byte, Time, list or map */
            v = json_null();
            break;
        }
        if (!(v = pb_charge(c, v)))
            return -1;
        json_object_set_new(obj, f->name, v);
        if (f->kind == PB_MESSAGE && pb_decode_into(c, f->message, NULL, 0, v, depth + 1) < 0)
            return -1;
    }
    return 0;
}

static int pb_decode_into(pb_ctx_t *c, const pb_message_t *m, const uint8_t *buf, size_t len,
                          json_t *obj, int depth)
{
    pb_reader_t r;
    pb_item_t it;
    int rc;

    if (!pb_depth_ok(c, depth))
        return -1;
    pb_reader_init(&r, buf, len, m->name);
    while ((rc = pb_next(&r, &it, c->err)) > 0) {
        const pb_field_t *f = pb_field_find(m, it.number);

        if (!f)
            continue;
        if (it.wire != pb_kind_wire(f->kind)) {
            pb_malformed(c->err, "field %s.%s has wire type %d, but its type needs wire "
                         "type %d.", m->name, f->name, it.wire, pb_kind_wire(f->kind));
            return -1;
        }
        if (pb_decode_field(c, m, f, &it, obj, depth) < 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    return pb_fill_defaults(c, m, obj, depth);
}

static void pb_ctx_init(pb_ctx_t *c, size_t len, err_t *err)
{
    c->limit = len / 2 + 64;
    c->budget = c->limit;
    c->err = err;
}

json_t *pb_decode_message(const pb_message_t *m, const void *buf, size_t len, err_t *err)
{
    pb_ctx_t c;
    json_t *obj;

    pb_ctx_init(&c, len, err);
    if (!(obj = pb_charge(&c, json_object())))
        return NULL;
    if (pb_decode_into(&c, m, buf, len, obj, 1) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* ---- the envelope ------------------------------------------------------------ */

typedef struct pb_span {
    const uint8_t *data;
    size_t len;
} pb_span_t;

static bool pb_span_is(const pb_span_t *s, const char *text)
{
    size_t n = strlen(text);
    return s->len == n && (n == 0 || memcmp(s->data, text, n) == 0);
}

/* Keep the bytes of a length-delimited envelope field, which must be text
 * when `text` is set. */
static int pb_take_span(const pb_item_t *it, const char *msg, const char *name, bool text,
                        pb_span_t *out, err_t *err)
{
    if (it->wire != PB_WIRE_LEN) {
        pb_malformed(err, "field %s.%s has wire type %d, but its type needs wire type %d.",
                     msg, name, it->wire, PB_WIRE_LEN);
        return -1;
    }
    if (text && !g_utf8_validate_len((const char *)it->data, it->len, NULL)) {
        pb_malformed(err, "field %s.%s is not valid UTF-8 or holds a NUL byte.", msg, name);
        return -1;
    }
    out->data = it->data;
    out->len = it->len;
    return 0;
}

static int pb_read_type_meta(const pb_item_t *outer, pb_span_t *api_version, pb_span_t *kind,
                             err_t *err)
{
    pb_reader_t r;
    pb_item_t it;
    int rc;

    pb_reader_init(&r, outer->data, outer->len, "TypeMeta");
    while ((rc = pb_next(&r, &it, err)) > 0) {
        if (it.number == 1 && pb_take_span(&it, "TypeMeta", "apiVersion", true, api_version,
                                           err) < 0)
            return -1;
        if (it.number == 2 && pb_take_span(&it, "TypeMeta", "kind", true, kind, err) < 0)
            return -1;
    }
    return rc;
}

static const pb_message_t *pb_kind_find(const pb_span_t *api_version, const pb_span_t *kind)
{
    if (!pb_span_is(api_version, "v1"))
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(pb_kinds); i++)
        if (pb_span_is(kind, pb_kinds[i].kind))
            return pb_kinds[i].message;
    return NULL;
}

json_t *pb_decode_object(const void *buf, size_t len, err_t *err)
{
    const uint8_t *b = buf;
    pb_span_t api_version = {NULL, 0}, kind = {NULL, 0}, raw = {NULL, 0};
    pb_span_t encoding = {NULL, 0}, content_type = {NULL, 0};
    const pb_message_t *m;
    pb_reader_t r;
    pb_item_t it;
    pb_ctx_t c;
    json_t *obj;
    int rc;

    if (len < PB_MAGIC_LEN || memcmp(b, PB_MAGIC, PB_MAGIC_LEN) != 0) {
        err_set(err, ERR_BAD_REQUEST, "The protobuf request body does not start with the "
                "Kubernetes protobuf prefix \"k8s\\x00\".");
        return NULL;
    }
    pb_reader_init(&r, b + PB_MAGIC_LEN, len - PB_MAGIC_LEN, "Unknown");
    while ((rc = pb_next(&r, &it, err)) > 0) {
        switch (it.number) {
        case 1:
            if (it.wire != PB_WIRE_LEN) {
                pb_malformed(err, "field Unknown.typeMeta has wire type %d, but its type "
                             "needs wire type %d.", it.wire, PB_WIRE_LEN);
                return NULL;
            }
            rc = pb_read_type_meta(&it, &api_version, &kind, err);
            break;
        case 2:
            rc = pb_take_span(&it, "Unknown", "raw", false, &raw, err);
            break;
        case 3:
            rc = pb_take_span(&it, "Unknown", "contentEncoding", true, &encoding, err);
            break;
        case 4:
            rc = pb_take_span(&it, "Unknown", "contentType", true, &content_type, err);
            break;
        default:
            break;
        }
        if (rc < 0)
            return NULL;
    }
    if (rc < 0)
        return NULL;

    if (!(m = pb_kind_find(&api_version, &kind))) {
        if (kind.len > PB_TYPE_NAME_MAX || api_version.len > PB_TYPE_NAME_MAX)
            err_set(err, ERR_UNSUPPORTED_MEDIA, "This kind cannot be sent as protobuf; send "
                    "the object as JSON or YAML instead.");
        else
            err_set(err, ERR_UNSUPPORTED_MEDIA, "Kind \"%.*s\" of apiVersion \"%.*s\" cannot "
                    "be sent as protobuf; send the object as JSON or YAML instead.",
                    (int)kind.len, (const char *)kind.data, (int)api_version.len,
                    (const char *)api_version.data);
        return NULL;
    }
    if (encoding.len > 0 || !(content_type.len == 0 ||
                              pb_span_is(&content_type, PB_CONTENT_TYPE))) {
        err_set(err, ERR_UNSUPPORTED_MEDIA, "Protobuf bodies with a content encoding or "
                "another inner content type cannot be decoded; send the object as JSON "
                "or YAML instead.");
        return NULL;
    }

    /* The budget always covers these three values. */
    pb_ctx_init(&c, len, err);
    obj = pb_charge(&c, json_object());
    /* kind and apiVersion first, where the JSON encoding puts them. */
    json_object_set_new(obj, "kind",
                        pb_charge(&c, json_stringn_nocheck((const char *)kind.data, kind.len)));
    json_object_set_new(obj, "apiVersion", pb_charge(&c, json_string_nocheck("v1")));
    if (pb_decode_into(&c, m, raw.data, raw.len, obj, 1) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}
