/*
 * sqlite: the default store backend, one SQLite database file in WAL mode.
 *
 * Schema: objects(key PRIMARY KEY, rv, value) and meta(name PRIMARY KEY,
 * value) holding the last revision, so that the counter never goes back even
 * when the newest objects were deleted.  A batch is one transaction;
 * synchronous=FULL makes each commit durable (the WAL is synced) before
 * commit() returns.
 */
#include "store/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"

typedef struct sqlite_be {
    sqlite3 *db;
    sqlite3_stmt *put, *del, *setrev, *begin, *commit, *rollback;
} sqlite_be_t;

static void sqlite_be_close(void *p)
{
    sqlite_be_t *be = p;
    if (!be)
        return;
    sqlite3_finalize(be->put);
    sqlite3_finalize(be->del);
    sqlite3_finalize(be->setrev);
    sqlite3_finalize(be->begin);
    sqlite3_finalize(be->commit);
    sqlite3_finalize(be->rollback);
    sqlite3_close(be->db);
    free(be);
}

static int sqlite_exec(sqlite_be_t *be, const char *sql, err_t *err)
{
    char *msg = NULL;
    if (sqlite3_exec(be->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(err, ERR_INTERNAL, "SQLite failed to run \"%s\": %s", sql,
                msg ? msg : sqlite3_errmsg(be->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int sqlite_prepare(sqlite_be_t *be, const char *sql, sqlite3_stmt **st,
                          err_t *err)
{
    if (sqlite3_prepare_v3(be->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
        SQLITE_OK) {
        err_set(err, ERR_INTERNAL, "SQLite failed to prepare \"%s\": %s", sql,
                sqlite3_errmsg(be->db));
        return -1;
    }
    return 0;
}

static void *sqlite_be_open(const char *dir, err_t *err)
{
    sqlite_be_t *be = calloc(1, sizeof(*be));
    char *path = g_build_filename(dir, "store.db", NULL);

    if (!be)
        abort();
    if (g_mkdir_with_parents(dir, 0700) < 0) {
        err_set(err, ERR_INTERNAL, "Cannot create the data directory %s: %s", dir,
                strerror(errno));
        goto fail;
    }
    if (sqlite3_open_v2(path, &be->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        err_set(err, ERR_INTERNAL, "Cannot open the store %s: %s", path,
                be->db ? sqlite3_errmsg(be->db) : "out of memory");
        goto fail;
    }
    chmod(path, 0600);
    if (sqlite_exec(be, "PRAGMA journal_mode=WAL", err) < 0 ||
        sqlite_exec(be, "PRAGMA synchronous=FULL", err) < 0 ||
        sqlite_exec(be, "PRAGMA foreign_keys=OFF", err) < 0 ||
        sqlite_exec(be,
                    "CREATE TABLE IF NOT EXISTS objects ("
                    " key TEXT PRIMARY KEY NOT NULL,"
                    " rv INTEGER NOT NULL,"
                    " value BLOB NOT NULL)",
                    err) < 0 ||
        sqlite_exec(be,
                    "CREATE TABLE IF NOT EXISTS meta ("
                    " name TEXT PRIMARY KEY NOT NULL,"
                    " value INTEGER NOT NULL)",
                    err) < 0 ||
        sqlite_prepare(be, "INSERT OR REPLACE INTO objects(key, rv, value) VALUES (?, ?, ?)",
                       &be->put, err) < 0 ||
        sqlite_prepare(be, "DELETE FROM objects WHERE key = ?", &be->del, err) < 0 ||
        sqlite_prepare(be, "INSERT OR REPLACE INTO meta(name, value) VALUES ('revision', ?)",
                       &be->setrev, err) < 0 ||
        sqlite_prepare(be, "BEGIN IMMEDIATE", &be->begin, err) < 0 ||
        sqlite_prepare(be, "COMMIT", &be->commit, err) < 0 ||
        sqlite_prepare(be, "ROLLBACK", &be->rollback, err) < 0)
        goto fail;
    g_free(path);
    return be;

fail:
    g_free(path);
    sqlite_be_close(be);
    return NULL;
}

static int sqlite_be_load(void *p, store_load_fn fn, void *ctx, int64_t *rev,
                          err_t *err)
{
    sqlite_be_t *be = p;
    sqlite3_stmt *st = NULL;
    int rc;

    *rev = 0;
    if (sqlite_prepare(be, "SELECT value FROM meta WHERE name = 'revision'", &st, err) < 0)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        *rev = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);

    if (sqlite_prepare(be, "SELECT key, rv, value FROM objects", &st, err) < 0)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        int64_t rv = sqlite3_column_int64(st, 1);
        const char *val = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if (rv > *rev)
            *rev = rv;
        if (fn(ctx, key, val ? val : "", len, rv) < 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err_set(err, ERR_INTERNAL, "Reading the store failed: %s", sqlite3_errmsg(be->db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int sqlite_step_reset(sqlite_be_t *be, sqlite3_stmt *st, err_t *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        err_set(err, ERR_INTERNAL, "SQLite write failed: %s", sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

static int sqlite_be_commit(void *p, const store_mutation_t *m, size_t n, int64_t rev,
                            err_t *err)
{
    sqlite_be_t *be = p;

    if (sqlite_step_reset(be, be->begin, err) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (m[i].value) {
            sqlite3_bind_text(be->put, 1, m[i].key, -1, SQLITE_STATIC);
            sqlite3_bind_int64(be->put, 2, m[i].rv);
            sqlite3_bind_blob(be->put, 3, m[i].value, (int)m[i].len, SQLITE_STATIC);
            if (sqlite_step_reset(be, be->put, err) < 0)
                goto rollback;
        } else {
            sqlite3_bind_text(be->del, 1, m[i].key, -1, SQLITE_STATIC);
            if (sqlite_step_reset(be, be->del, err) < 0)
                goto rollback;
        }
    }
    sqlite3_bind_int64(be->setrev, 1, rev);
    if (sqlite_step_reset(be, be->setrev, err) < 0 ||
        sqlite_step_reset(be, be->commit, err) < 0)
        goto rollback;
    return 0;

rollback:
    sqlite_step_reset(be, be->rollback, NULL);
    return -1;
}

const store_backend_ops_t store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_be_open,
    .close = sqlite_be_close,
    .load = sqlite_be_load,
    .commit = sqlite_be_commit,
};
