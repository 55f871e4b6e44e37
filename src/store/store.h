/*
 * store: the durable object store behind the API.
 *
 * Objects are JSON documents under string keys ("<group>/<plural>/<ns>/<name>",
 * or without <ns> for cluster-scoped kinds).  One revision counter is shared
 * by every object: each committed change takes the next revision, which is
 * the object's resourceVersion.
 *
 * Reads are served from memory (an ordered index of every object's latest
 * serialized form); writes go through one writer thread that checks
 * preconditions, assigns revisions, and commits whole batches through a
 * backend (group commit).  A write returns only after the backend reported
 * the batch durable.  Committed changes are appended, in revision order, to
 * a bounded event log from which watches read; a watch that asks for a
 * revision older than the log keeps gets ERR_GONE.
 *
 * Backends (SQLite by default) are a table of functions reached only through
 * this module; they persist and reload, nothing more.
 */
#ifndef VMSVC_STORE_H
#define VMSVC_STORE_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* One stored version of one object.  Immutable once published; shared by
 * reference between the index, the event log and readers. */
typedef struct store_obj {
    gint refs;
    int64_t rv;
    char *key;
    char *json;     /* the whole object, resourceVersion included */
    size_t len;
    json_t *labels; /* metadata.labels, or NULL; never modified */
    char *uid;      /* metadata.uid, or NULL */
    int64_t generation; /* metadata.generation, or 0 */
    unsigned flags; /* STORE_OBJ_* */
    json_t *parsed; /* `json` parsed, shared by readers (store_obj_json); never
                       modified; dropped once a newer version replaces this one,
                       or when it is no longer among the most recent parses */
    bool superseded; /* a newer version replaced this one (with `parsed`, under
                        the store's lock for both) */
} store_obj_t;

/* What a stored version's metadata holds, known without parsing it. */
#define STORE_OBJ_OWNED 1u      /* has ownerReferences */
#define STORE_OBJ_DELETING 2u   /* has a deletionTimestamp */
#define STORE_OBJ_FINALIZERS 4u /* has finalizers */

store_obj_t *store_obj_ref(store_obj_t *o);
void store_obj_unref(store_obj_t *o);
/* Parse the object's JSON into a new value the caller owns. */
json_t *store_obj_parse(const store_obj_t *o);
/* The object's JSON parsed, as a new reference to a value shared with
 * every other reader of this version: parsed once while the version is the
 * latest of its key and among the most recently parsed, so a burst of
 * controllers reading each change does not parse it once each.  Read it only (json_deep_copy to change it);
 * json_decref when done. */
json_t *store_obj_json(store_obj_t *o);
#define STORE_PARSED_KEEP 1024 /* versions that keep a shared parse at most */
/* A version that is not stored (dry runs): rv 0, the given key and value. */
store_obj_t *store_obj_from_json(const char *key, const json_t *obj);

/* A backend: persistence only.  `commit` must be atomic and durable. */
typedef struct store_mutation {
    const char *key;
    const char *value; /* NULL: delete the key */
    size_t len;
    int64_t rv;
} store_mutation_t;

typedef int (*store_load_fn)(void *ctx, const char *key, const char *value,
                             size_t len, int64_t rv);

typedef struct store_backend_ops {
    const char *name;
    void *(*open)(const char *dir, err_t *err);
    void (*close)(void *be);
    /* Calls fn for every object, then sets *rev to the last revision. */
    int (*load)(void *be, store_load_fn fn, void *ctx, int64_t *rev, err_t *err);
    /* Applies all mutations and records `rev` as the last revision. */
    int (*commit)(void *be, const store_mutation_t *m, size_t n, int64_t rev,
                  err_t *err);
} store_backend_ops_t;

extern const store_backend_ops_t store_sqlite_ops;

typedef struct store store_t;

store_t *store_open(const char *dir, const store_backend_ops_t *ops, err_t *err);
void store_close(store_t *st);
int64_t store_revision(store_t *st);

/* Latest version of `key` (a reference the caller drops), or NULL. */
store_obj_t *store_get(store_t *st, const char *key);

/* Objects whose keys start with `prefix`, in key order, starting after key
 * `after` (NULL: from the start), at most `limit` (0: all).  *rev receives
 * the revision the result reflects; *more whether objects remain. */
GPtrArray *store_list(store_t *st, const char *prefix, const char *after,
                      size_t limit, int64_t *rev, bool *more);
size_t store_count(store_t *st, const char *prefix);

typedef enum { STORE_CREATE, STORE_UPDATE, STORE_DELETE } store_op_t;

/* Write `obj` (stolen) at `key`.  CREATE fails with ERR_ALREADY_EXISTS if
 * the key exists; UPDATE and DELETE fail with ERR_NOT_FOUND if it does not,
 * and with ERR_CONFLICT if expect_rv > 0 and differs from the stored one.
 * The writer sets metadata.resourceVersion.  For DELETE, `obj` is the final
 * state to report to watchers.  Returns the written version (for DELETE,
 * the final state at the deletion's revision).  A written `obj` becomes its
 * version's shared parse (store_obj_json): a caller that kept a reference
 * reads it only. */
store_obj_t *store_write(store_t *st, store_op_t op, const char *key,
                         json_t *obj, int64_t expect_rv, err_t *err);

/* Watches. */
typedef enum { STORE_EV_ADDED, STORE_EV_MODIFIED, STORE_EV_DELETED } store_ev_type_t;

typedef struct store_event {
    store_ev_type_t type;
    store_obj_t *obj;  /* new version; for DELETED the final state */
    store_obj_t *prev; /* previous version, NULL for ADDED */
} store_event_t;

typedef struct store_watch store_watch_t;

/* Events for keys under `prefix` with revision > from_rev.  ERR_GONE if
 * events after from_rev are no longer kept. */
store_watch_t *store_watch_open(store_t *st, const char *prefix, int64_t from_rev,
                                err_t *err);
/* Waits up to timeout_ms for the next event (0: only looks).  1: *ev filled
 * (release with store_event_clear); 0: timeout; -1: the watch fell too far
 * behind (ERR_GONE) or the store is closing. */
int store_watch_next(store_watch_t *w, store_event_t *ev, int timeout_ms, err_t *err);
/* The revision up to which this watch has seen everything. */
int64_t store_watch_revision(store_watch_t *w);
void store_watch_close(store_watch_t *w);
void store_event_clear(store_event_t *ev);

/* Statistics for benchmarks and health checks. */
typedef struct store_stats {
    uint64_t commits;  /* backend commits (batches) */
    uint64_t writes;   /* acknowledged writes */
    size_t objects;
    size_t log_events;
} store_stats_t;
void store_get_stats(store_t *st, store_stats_t *out);

#endif
