/*
 * Unit tests for store: writes and their preconditions, the shared revision
 * counter, lists, durability across close and reopen, watches and the
 * bounded event log, concurrent writers, and fault injection through the
 * backend table (a SQLite backend whose commit fails on demand).
 *
 * Every test works in its own temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/jsonutil.h"

#define LOG_CAP 16384 /* STORE_LOG_CAP in store.c */

/* ------------------------------------------------------------------------ */
/* A backend with faults: SQLite, but commit/open/load fail on demand.      */

static gint fault_commit;    /* commits left to fail; -1: all */
static gint fault_open;      /* open fails */
static gint fault_load;      /* load fails */
static gint commit_calls;    /* commits attempted */

static void *faulty_open(const char *dir, err_t *err)
{
    if (g_atomic_int_get(&fault_open)) {
        err_set(err, ERR_INTERNAL, "Injected open failure.");
        return NULL;
    }
    return store_sqlite_ops.open(dir, err);
}

static void faulty_close(void *be)
{
    store_sqlite_ops.close(be);
}

static int faulty_load(void *be, store_load_fn fn, void *ctx, int64_t *rev, err_t *err)
{
    if (g_atomic_int_get(&fault_load)) {
        err_set(err, ERR_INTERNAL, "Injected load failure.");
        return -1;
    }
    return store_sqlite_ops.load(be, fn, ctx, rev, err);
}

static int faulty_commit(void *be, const store_mutation_t *m, size_t n, int64_t rev,
                         err_t *err)
{
    int left = g_atomic_int_get(&fault_commit);

    g_atomic_int_inc(&commit_calls);
    if (left != 0) {
        if (left > 0)
            g_atomic_int_add(&fault_commit, -1);
        err_set(err, ERR_INTERNAL, "Injected commit failure.");
        return -1;
    }
    return store_sqlite_ops.commit(be, m, n, rev, err);
}

static const store_backend_ops_t faulty_ops = {
    .name = "faulty-sqlite",
    .open = faulty_open,
    .close = faulty_close,
    .load = faulty_load,
    .commit = faulty_commit,
};

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

typedef struct {
    char *dir;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = g_new0(fixture_t, 1);

    f->dir = g_dir_make_tmp("vmsvc-store-XXXXXX", NULL);
    if (!f->dir)
        return -1;
    g_atomic_int_set(&fault_commit, 0);
    g_atomic_int_set(&fault_open, 0);
    g_atomic_int_set(&fault_load, 0);
    g_atomic_int_set(&commit_calls, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    GDir *d = g_dir_open(f->dir, 0, NULL);
    const char *n;

    while (d && (n = g_dir_read_name(d))) {
        char *p = g_build_filename(f->dir, n, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static store_t *open_store(fixture_t *f, const store_backend_ops_t *ops)
{
    err_t err = ERR_INIT;
    store_t *st = store_open(f->dir, ops, &err);

    if (!st)
        fail_msg("store_open: %s", err.msg);
    return st;
}

/* A small object named `name` with a spec value. */
static json_t *obj_new(const char *name, int value)
{
    return json_pack("{s:{s:s},s:{s:i}}", "metadata", "name", name, "spec", "value", value);
}

/* A write that must succeed; returns its revision. */
static int64_t put(store_t *st, store_op_t op, const char *key, json_t *obj, int64_t expect)
{
    err_t err = ERR_INIT;
    store_obj_t *o = store_write(st, op, key, obj, expect, &err);
    int64_t rv;

    if (!o)
        fail_msg("write of %s failed: %s", key, err.msg);
    assert_false(err_is_set(&err));
    rv = o->rv;
    store_obj_unref(o);
    return rv;
}

/* A write that must fail with `code`. */
static void put_fail(store_t *st, store_op_t op, const char *key, json_t *obj, int64_t expect,
                     err_code_t code)
{
    err_t err = ERR_INIT;
    store_obj_t *o = store_write(st, op, key, obj, expect, &err);

    if (o)
        fail_msg("write of %s succeeded at %lld but should have failed", key, (long long)o->rv);
    if (err.code != code)
        fail_msg("write of %s: code %d (%s), want %d", key, err.code, err.msg, code);
    assert_true(strlen(err.msg) > 0);
    err_clear(&err);
}

static int64_t spec_value(const store_obj_t *o)
{
    json_t *j = store_obj_parse(o);
    int64_t v = json_integer_value(json_path_get(j, "spec.value"));
    json_decref(j);
    return v;
}

static const char *obj_rv_text(const store_obj_t *o, char *buf, size_t n)
{
    json_t *j = store_obj_parse(o);
    snprintf(buf, n, "%s", json_path_str(j, "metadata.resourceVersion"));
    json_decref(j);
    return buf;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */

static void test_crud(void **state)
{
    store_t *st = open_store(*state, &store_sqlite_ops);
    store_obj_t *o;
    store_stats_t stats;
    err_t err = ERR_INIT;
    char buf[32];

    assert_int_equal(store_revision(st), 0);
    assert_null(store_get(st, "core/configmaps/ns/a"));

    /* create */
    assert_int_equal(put(st, STORE_CREATE, "core/configmaps/ns/a", obj_new("a", 1), 0), 1);
    o = store_get(st, "core/configmaps/ns/a");
    assert_non_null(o);
    assert_int_equal(o->rv, 1);
    assert_string_equal(o->key, "core/configmaps/ns/a");
    assert_int_equal(o->len, strlen(o->json));
    assert_string_equal(obj_rv_text(o, buf, sizeof(buf)), "1");
    assert_int_equal(spec_value(o), 1);
    assert_null(o->labels);
    store_obj_unref(o);

    /* the returned version is the stored one */
    o = store_write(st, STORE_CREATE, "core/configmaps/ns/b",
                    json_pack("{s:{s:s,s:{s:s}}}", "metadata", "name", "b", "labels", "app",
                              "web"),
                    0, &err);
    assert_non_null(o);
    assert_int_equal(o->rv, 2);
    assert_string_equal(json_string_value(json_object_get(o->labels, "app")), "web");
    {
        store_obj_t *g = store_get(st, "core/configmaps/ns/b");
        assert_ptr_equal(g, o);
        store_obj_unref(g);
    }
    store_obj_unref(o);

    /* update, unconditional and with the right expected revision */
    assert_int_equal(put(st, STORE_UPDATE, "core/configmaps/ns/a", obj_new("a", 2), 0), 3);
    assert_int_equal(put(st, STORE_UPDATE, "core/configmaps/ns/a", obj_new("a", 3), 3), 4);
    o = store_get(st, "core/configmaps/ns/a");
    assert_int_equal(spec_value(o), 3);
    assert_string_equal(obj_rv_text(o, buf, sizeof(buf)), "4");
    store_obj_unref(o);

    /* preconditions; a failed write changes nothing */
    put_fail(st, STORE_CREATE, "core/configmaps/ns/a", obj_new("a", 9), 0, ERR_ALREADY_EXISTS);
    put_fail(st, STORE_UPDATE, "core/configmaps/ns/zz", obj_new("zz", 9), 0, ERR_NOT_FOUND);
    put_fail(st, STORE_DELETE, "core/configmaps/ns/zz", obj_new("zz", 9), 0, ERR_NOT_FOUND);
    put_fail(st, STORE_UPDATE, "core/configmaps/ns/a", obj_new("a", 9), 3, ERR_CONFLICT);
    put_fail(st, STORE_UPDATE, "core/configmaps/ns/a", obj_new("a", 9), 5, ERR_CONFLICT);
    put_fail(st, STORE_DELETE, "core/configmaps/ns/a", obj_new("a", 9), 1, ERR_CONFLICT);
    put_fail(st, STORE_UPDATE, "core/configmaps/ns/a", json_string("not an object"), 0,
             ERR_INTERNAL);
    assert_int_equal(store_revision(st), 4);
    o = store_get(st, "core/configmaps/ns/a");
    assert_int_equal(o->rv, 4);
    assert_int_equal(spec_value(o), 3);
    store_obj_unref(o);

    /* delete: the final state is returned at the deletion's revision */
    o = store_write(st, STORE_DELETE, "core/configmaps/ns/a", obj_new("a", 77), 4, &err);
    assert_non_null(o);
    assert_int_equal(o->rv, 5);
    assert_int_equal(spec_value(o), 77);
    assert_string_equal(obj_rv_text(o, buf, sizeof(buf)), "5");
    store_obj_unref(o);
    assert_null(store_get(st, "core/configmaps/ns/a"));
    put_fail(st, STORE_DELETE, "core/configmaps/ns/a", obj_new("a", 9), 0, ERR_NOT_FOUND);
    /* and the key can be created again */
    assert_int_equal(put(st, STORE_CREATE, "core/configmaps/ns/a", obj_new("a", 1), 0), 6);
    assert_int_equal(store_revision(st), 6);

    store_get_stats(st, &stats);
    assert_int_equal(stats.writes, 6);
    assert_int_equal(stats.objects, 2);
    assert_int_equal(stats.log_events, 6);
    assert_true(stats.commits >= 1 && stats.commits <= 6);
    assert_int_equal(store_count(st, "core/configmaps/"), 2);
    assert_int_equal(store_count(st, "core/secrets/"), 0);
    store_close(st);
    store_close(NULL);
}

static void test_obj_helpers(void **state)
{
    json_t *j = json_pack("{s:{s:s,s:{}}}", "metadata", "name", "x", "labels");
    store_obj_t *o = store_obj_from_json("k/x", j), *r;
    json_t *back;

    assert_int_equal(o->rv, 0);
    assert_string_equal(o->key, "k/x");
    assert_null(o->labels); /* empty labels are no labels */
    back = store_obj_parse(o);
    assert_true(json_equal(back, j));
    json_decref(back);
    r = store_obj_ref(o);
    assert_ptr_equal(r, o);
    store_obj_unref(o);
    store_obj_unref(r);
    store_obj_unref(NULL);
    assert_null(store_obj_ref(NULL));
    json_object_set_new(json_object_get(j, "metadata"), "labels", json_pack("{s:s}", "a", "b"));
    o = store_obj_from_json("k/x", j);
    json_object_clear(j);
    /* the labels are the object's own */
    assert_string_equal(json_string_value(json_object_get(o->labels, "a")), "b");
    store_obj_unref(o);
    json_decref(j);
}

/* store_obj_json: one parse per version, shared by its readers; a newer
 * version drops it from the store, never from under a reader. */
static void test_shared_parse(void **state)
{
    store_t *st = open_store(*state, &store_sqlite_ops);
    store_obj_t *o, *o2;
    json_t *a, *b, *c;

    put(st, STORE_CREATE, "core/configmaps/ns/p", obj_new("p", 1), 0);
    o = store_get(st, "core/configmaps/ns/p");
    a = store_obj_json(o);
    b = store_obj_json(o);
    assert_ptr_equal(a, b);
    assert_int_equal(json_integer_value(json_path_get(a, "spec.value")), 1);
    json_decref(b);

    put(st, STORE_UPDATE, "core/configmaps/ns/p", obj_new("p", 2), 0);
    assert_null(o->parsed); /* superseded: the store keeps no parse of it */
    /* The reader's reference is still good, and so is a late reader's. */
    assert_int_equal(json_integer_value(json_path_get(a, "spec.value")), 1);
    c = store_obj_json(o);
    assert_int_equal(json_integer_value(json_path_get(c, "spec.value")), 1);
    assert_null(o->parsed);
    json_decref(c);
    json_decref(a);

    o2 = store_get(st, "core/configmaps/ns/p");
    a = store_obj_json(o2);
    assert_int_equal(json_integer_value(json_path_get(a, "spec.value")), 2);
    assert_ptr_equal(o2->parsed, a);
    json_decref(a);
    /* Only the most recent parses are kept: parsing as many other versions
     * again drops this one's, which is made afresh when asked for. */
    for (int i = 0; i < STORE_PARSED_KEEP; i++) {
        char name[32];
        store_obj_t *x;
        snprintf(name, sizeof(name), "core/configmaps/ns/k%d", i);
        put(st, STORE_CREATE, name, obj_new(name + strlen("core/configmaps/ns/"), i), 0);
        x = store_get(st, name);
        json_decref(store_obj_json(x));
        assert_non_null(x->parsed);
        store_obj_unref(x);
    }
    assert_null(o2->parsed);
    a = store_obj_json(o2);
    assert_int_equal(json_integer_value(json_path_get(a, "spec.value")), 2);
    assert_ptr_equal(o2->parsed, a);
    json_decref(a);
    store_obj_unref(o2);
    store_obj_unref(o);
    store_close(st);
}

static void test_list(void **state)
{
    store_t *st = open_store(*state, &store_sqlite_ops);
    static const char *const keys[] = {
        "core/configmaps/ns1/b", "core/configmaps/ns1/a", "core/configmaps/ns2/c",
        "core/configmapsx/ns1/d", "core/configmap/ns1/e", "core/configmaps/ns1/a-b",
        "core/secrets/ns1/s",
    };
    GPtrArray *l;
    int64_t rev = -1;
    bool more = true;

    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
        put(st, STORE_CREATE, keys[i], obj_new("x", (int)i), 0);

    /* in key order, only under the prefix */
    l = store_list(st, "core/configmaps/", NULL, 0, &rev, &more);
    assert_int_equal(l->len, 4);
    assert_string_equal(((store_obj_t *)l->pdata[0])->key, "core/configmaps/ns1/a");
    assert_string_equal(((store_obj_t *)l->pdata[1])->key, "core/configmaps/ns1/a-b");
    assert_string_equal(((store_obj_t *)l->pdata[2])->key, "core/configmaps/ns1/b");
    assert_string_equal(((store_obj_t *)l->pdata[3])->key, "core/configmaps/ns2/c");
    assert_int_equal(rev, 7);
    assert_false(more);
    g_ptr_array_unref(l);

    /* a namespace */
    l = store_list(st, "core/configmaps/ns1/", NULL, 0, NULL, NULL);
    assert_int_equal(l->len, 3);
    g_ptr_array_unref(l);
    /* limit and more */
    l = store_list(st, "core/configmaps/", NULL, 2, &rev, &more);
    assert_int_equal(l->len, 2);
    assert_true(more);
    g_ptr_array_unref(l);
    l = store_list(st, "core/configmaps/", NULL, 4, &rev, &more);
    assert_int_equal(l->len, 4);
    assert_false(more);
    g_ptr_array_unref(l);
    /* after: strictly after, whether the key exists or not */
    l = store_list(st, "core/configmaps/", "core/configmaps/ns1/a-b", 0, &rev, &more);
    assert_int_equal(l->len, 2);
    assert_string_equal(((store_obj_t *)l->pdata[0])->key, "core/configmaps/ns1/b");
    g_ptr_array_unref(l);
    l = store_list(st, "core/configmaps/", "core/configmaps/ns1/az", 1, &rev, &more);
    assert_int_equal(l->len, 1);
    assert_string_equal(((store_obj_t *)l->pdata[0])->key, "core/configmaps/ns1/b");
    assert_true(more);
    g_ptr_array_unref(l);
    /* after a key before the prefix, or past its end */
    l = store_list(st, "core/configmaps/", "a", 0, NULL, &more);
    assert_int_equal(l->len, 4);
    g_ptr_array_unref(l);
    l = store_list(st, "core/configmaps/", "core/configmaps/ns2/c", 0, NULL, &more);
    assert_int_equal(l->len, 0);
    assert_false(more);
    g_ptr_array_unref(l);
    l = store_list(st, "core/configmaps/", "zzz", 0, NULL, &more);
    assert_int_equal(l->len, 0);
    g_ptr_array_unref(l);
    /* the empty prefix lists everything; an unknown one nothing */
    l = store_list(st, "", NULL, 0, NULL, NULL);
    assert_int_equal(l->len, G_N_ELEMENTS(keys));
    g_ptr_array_unref(l);
    l = store_list(st, "core/pods/", NULL, 0, &rev, &more);
    assert_int_equal(l->len, 0);
    assert_int_equal(rev, 7);
    g_ptr_array_unref(l);

    /* paging through with after + limit visits each object once */
    {
        const char *after = NULL;
        char *last = NULL;
        size_t seen = 0;
        int pages = 0;
        do {
            l = store_list(st, "", after, 2, NULL, &more);
            seen += l->len;
            pages++;
            if (l->len) {
                g_free(last);
                last = g_strdup(((store_obj_t *)l->pdata[l->len - 1])->key);
                after = last;
            }
            g_ptr_array_unref(l);
        } while (more);
        assert_int_equal(seen, G_N_ELEMENTS(keys));
        assert_int_equal(pages, 4);
        g_free(last);
    }

    /* a list holds its own references: the objects survive later writes */
    l = store_list(st, "core/secrets/", NULL, 0, NULL, NULL);
    put(st, STORE_DELETE, "core/secrets/ns1/s", obj_new("s", 0), 0);
    assert_int_equal(l->len, 1);
    assert_string_equal(((store_obj_t *)l->pdata[0])->key, "core/secrets/ns1/s");
    assert_int_equal(spec_value(l->pdata[0]), 6);
    g_ptr_array_unref(l);
    store_close(st);
}

static void test_reopen(void **state)
{
    fixture_t *f = *state;
    store_t *st = open_store(f, &store_sqlite_ops);
    GPtrArray *before, *after;
    int64_t rev;
    err_t err = ERR_INIT;

    for (int i = 0; i < 50; i++) {
        char key[64];
        snprintf(key, sizeof(key), "g/things/ns/%03d", i);
        put(st, STORE_CREATE, key, obj_new(key, i), 0);
    }
    put(st, STORE_UPDATE, "g/things/ns/007", obj_new("x", 700), 0);
    put(st, STORE_DELETE, "g/things/ns/010", obj_new("x", 0), 0);
    /* the newest object goes: the counter must not go back */
    put(st, STORE_CREATE, "g/things/ns/newest", obj_new("n", 1), 0);
    rev = put(st, STORE_DELETE, "g/things/ns/newest", obj_new("n", 1), 0);
    assert_int_equal(rev, 54);
    before = store_list(st, "", NULL, 0, NULL, NULL);
    store_close(st);

    for (int round = 0; round < 2; round++) {
        st = open_store(f, &store_sqlite_ops);
        assert_int_equal(store_revision(st), rev);
        after = store_list(st, "", NULL, 0, NULL, NULL);
        assert_int_equal(after->len, before->len);
        assert_int_equal(after->len, 49);
        for (guint i = 0; i < after->len; i++) {
            store_obj_t *a = before->pdata[i], *b = after->pdata[i];
            assert_string_equal(a->key, b->key);
            assert_int_equal(a->rv, b->rv);
            assert_int_equal(a->len, b->len);
            assert_memory_equal(a->json, b->json, a->len);
        }
        g_ptr_array_unref(after);
        {
            store_obj_t *o = store_get(st, "g/things/ns/007");
            assert_int_equal(spec_value(o), 700);
            assert_int_equal(o->rv, 51);
            store_obj_unref(o);
            assert_null(store_get(st, "g/things/ns/010"));
        }
        /* the event log starts empty: older revisions are gone */
        assert_null(store_watch_open(st, "", rev - 1, &err));
        assert_int_equal(err.code, ERR_GONE);
        err_clear(&err);
        {
            store_watch_t *w = store_watch_open(st, "", rev, &err);
            assert_non_null(w);
            store_watch_close(w);
        }
        /* the next write continues the count */
        if (round == 0) {
            assert_int_equal(put(st, STORE_UPDATE, "g/things/ns/000", obj_new("x", 1), 1),
                             rev + 1);
            rev++;
            g_ptr_array_unref(before);
            before = store_list(st, "", NULL, 0, NULL, NULL);
        }
        store_close(st);
    }
    g_ptr_array_unref(before);
}

/* Read the next event (must come within a few seconds). */
static void next_event(store_watch_t *w, store_ev_type_t type, const char *key, int64_t rv,
                       int64_t prev_rv)
{
    store_event_t ev = {0};
    err_t err = ERR_INIT;
    int rc = store_watch_next(w, &ev, 5000, &err);

    if (rc != 1)
        fail_msg("no event (rc %d: %s), wanted %s at %lld", rc, err.msg, key, (long long)rv);
    assert_int_equal(ev.type, type);
    assert_string_equal(ev.obj->key, key);
    assert_int_equal(ev.obj->rv, rv);
    if (prev_rv) {
        assert_non_null(ev.prev);
        assert_int_equal(ev.prev->rv, prev_rv);
        assert_string_equal(ev.prev->key, key);
    } else {
        assert_null(ev.prev);
    }
    store_event_clear(&ev);
    assert_null(ev.obj);
    assert_null(ev.prev);
}

static void no_event(store_watch_t *w, int timeout_ms)
{
    store_event_t ev = {0};
    err_t err = ERR_INIT;
    gint64 t0 = g_get_monotonic_time();

    assert_int_equal(store_watch_next(w, &ev, timeout_ms, &err), 0);
    assert_false(err_is_set(&err));
    assert_true(g_get_monotonic_time() - t0 >= (gint64)timeout_ms * 1000 - 2000);
}

static void test_watch(void **state)
{
    store_t *st = open_store(*state, &store_sqlite_ops);
    store_watch_t *all, *cms, *late;
    err_t err = ERR_INIT;
    store_event_t ev = {0};

    all = store_watch_open(st, "", 0, &err);
    cms = store_watch_open(st, "core/configmaps/", 0, &err);
    assert_non_null(all);
    assert_non_null(cms);
    no_event(all, 50);
    assert_int_equal(store_watch_revision(all), 0);

    put(st, STORE_CREATE, "core/configmaps/ns/a", obj_new("a", 1), 0);      /* 1 */
    put(st, STORE_CREATE, "core/secrets/ns/s", obj_new("s", 1), 0);         /* 2 */
    put(st, STORE_UPDATE, "core/configmaps/ns/a", obj_new("a", 2), 0);      /* 3 */
    put(st, STORE_CREATE, "core/configmaps/ns/b", obj_new("b", 1), 0);      /* 4 */
    put(st, STORE_DELETE, "core/configmaps/ns/a", obj_new("a", 3), 0);      /* 5 */
    put(st, STORE_UPDATE, "core/secrets/ns/s", obj_new("s", 2), 0);         /* 6 */
    put_fail(st, STORE_UPDATE, "core/configmaps/ns/a", obj_new("a", 4), 0, ERR_NOT_FOUND);

    /* every event, in order */
    next_event(all, STORE_EV_ADDED, "core/configmaps/ns/a", 1, 0);
    assert_int_equal(store_watch_revision(all), 1);
    next_event(all, STORE_EV_ADDED, "core/secrets/ns/s", 2, 0);
    next_event(all, STORE_EV_MODIFIED, "core/configmaps/ns/a", 3, 1);
    next_event(all, STORE_EV_ADDED, "core/configmaps/ns/b", 4, 0);
    next_event(all, STORE_EV_DELETED, "core/configmaps/ns/a", 5, 3);
    next_event(all, STORE_EV_MODIFIED, "core/secrets/ns/s", 6, 2);
    no_event(all, 30);
    assert_int_equal(store_watch_revision(all), 6);

    /* the prefix filters; the cursor still moves past what it skipped */
    next_event(cms, STORE_EV_ADDED, "core/configmaps/ns/a", 1, 0);
    next_event(cms, STORE_EV_MODIFIED, "core/configmaps/ns/a", 3, 1);
    next_event(cms, STORE_EV_ADDED, "core/configmaps/ns/b", 4, 0);
    next_event(cms, STORE_EV_DELETED, "core/configmaps/ns/a", 5, 3);
    {
        /* timeout 0 only looks: what is there comes, nothing else waits */
        store_watch_t *w = store_watch_open(st, "core/secrets/", 0, &err);
        gint64 t0 = g_get_monotonic_time();
        assert_int_equal(store_watch_next(w, &ev, 0, &err), 1);
        assert_int_equal(spec_value(ev.obj), 1);
        store_event_clear(&ev);
        assert_int_equal(store_watch_next(w, &ev, 0, &err), 1);
        assert_int_equal(spec_value(ev.obj), 2);
        store_event_clear(&ev);
        assert_int_equal(store_watch_next(w, &ev, 0, &err), 0);
        assert_false(err_is_set(&err));
        assert_int_equal(store_watch_revision(w), 6);
        assert_true(g_get_monotonic_time() - t0 < 500 * 1000);
        store_watch_close(w);
    }
    {
        /* a deletion carries the final state */
        store_watch_t *w = store_watch_open(st, "core/configmaps/ns/a", 4, &err);
        assert_int_equal(store_watch_next(w, &ev, 1000, &err), 1);
        assert_int_equal(ev.type, STORE_EV_DELETED);
        assert_int_equal(spec_value(ev.obj), 3);
        assert_int_equal(spec_value(ev.prev), 2);
        store_event_clear(&ev);
        store_watch_close(w);
    }
    no_event(cms, 30);
    assert_int_equal(store_watch_revision(cms), 6);

    /* from a revision in the middle: only what came after */
    late = store_watch_open(st, "", 4, &err);
    assert_non_null(late);
    next_event(late, STORE_EV_DELETED, "core/configmaps/ns/a", 5, 3);
    next_event(late, STORE_EV_MODIFIED, "core/secrets/ns/s", 6, 2);
    no_event(late, 10);
    store_watch_close(late);
    /* from now, or from the future */
    late = store_watch_open(st, "", 6, &err);
    no_event(late, 10);
    put(st, STORE_CREATE, "core/configmaps/ns/c", obj_new("c", 1), 0);      /* 7 */
    next_event(late, STORE_EV_ADDED, "core/configmaps/ns/c", 7, 0);
    store_watch_close(late);
    late = store_watch_open(st, "", 9, &err);
    assert_non_null(late);
    no_event(late, 10);
    put(st, STORE_CREATE, "core/configmaps/ns/d", obj_new("d", 1), 0);      /* 8 */
    put(st, STORE_CREATE, "core/configmaps/ns/e", obj_new("e", 1), 0);      /* 9 */
    put(st, STORE_CREATE, "core/configmaps/ns/f", obj_new("f", 1), 0);      /* 10 */
    next_event(late, STORE_EV_ADDED, "core/configmaps/ns/f", 10, 0);
    no_event(late, 10);
    store_watch_close(late);

    store_watch_close(all);
    store_watch_close(cms);
    store_watch_close(NULL);
    store_close(st);
}

typedef struct {
    store_t *st;
    int n;
    int delay_ms;
} writer_arg_t;

static gpointer slow_writer(gpointer data)
{
    writer_arg_t *a = data;

    for (int i = 0; i < a->n; i++) {
        char key[64];
        err_t err = ERR_INIT;
        store_obj_t *o;

        g_usleep((gulong)a->delay_ms * 1000);
        snprintf(key, sizeof(key), "w/x/%04d", i);
        o = store_write(a->st, STORE_CREATE, key, obj_new(key, i), 0, &err);
        if (!o)
            return GINT_TO_POINTER(1);
        store_obj_unref(o);
    }
    return NULL;
}

/* A waiting watch wakes up for writes made while it waits. */
static void test_watch_wakeup(void **state)
{
    store_t *st = open_store(*state, &store_sqlite_ops);
    err_t err = ERR_INIT;
    store_watch_t *w = store_watch_open(st, "w/", 0, &err);
    writer_arg_t a = {st, 20, 5};
    GThread *th = g_thread_new("writer", slow_writer, &a);
    int got = 0;
    gint64 t0 = g_get_monotonic_time();

    while (got < a.n) {
        store_event_t ev = {0};
        int rc = store_watch_next(w, &ev, 10000, &err);
        assert_int_equal(rc, 1);
        assert_int_equal(ev.obj->rv, got + 1);
        store_event_clear(&ev);
        got++;
    }
    /* woken each time, not by the 10 s timeout */
    assert_true(g_get_monotonic_time() - t0 < 8 * G_USEC_PER_SEC);
    assert_null(g_thread_join(th));
    store_watch_close(w);
    store_close(st);
}

typedef struct {
    store_t *st;
    int id;
    int n;
    int64_t *rvs; /* n revisions, one per acknowledged write */
    int acked;
} burst_arg_t;

static gpointer burst_writer(gpointer data)
{
    burst_arg_t *a = data;

    for (int i = 0; i < a->n; i++) {
        char key[64];
        err_t err = ERR_INIT;
        store_obj_t *o;

        snprintf(key, sizeof(key), "burst/t%02d/%05d", a->id, i);
        o = store_write(a->st, STORE_CREATE, key, obj_new(key, i), 0, &err);
        if (!o) {
            err_clear(&err);
            continue;
        }
        a->rvs[a->acked++] = o->rv;
        store_obj_unref(o);
    }
    return NULL;
}

static void run_burst(store_t *st, int threads, int per_thread, burst_arg_t *args)
{
    GThread **th = g_new(GThread *, threads);

    for (int t = 0; t < threads; t++) {
        args[t] = (burst_arg_t){st, t, per_thread, g_new0(int64_t, per_thread), 0};
        th[t] = g_thread_new("burst", burst_writer, &args[t]);
    }
    for (int t = 0; t < threads; t++)
        g_thread_join(th[t]);
    g_free(th);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Many writers at once: each write is acknowledged once, with its own
 * revision, and the revisions are exactly 1..N. */
static void test_concurrent_writers(void **state)
{
    store_t *st = open_store(*state, &store_sqlite_ops);
    enum { THREADS = 8, PER = 150 };
    burst_arg_t args[THREADS];
    int64_t *all = g_new(int64_t, THREADS * PER);
    int n = 0;
    store_stats_t stats;
    err_t err = ERR_INIT;
    store_watch_t *w = store_watch_open(st, "burst/", 0, &err);

    run_burst(st, THREADS, PER, args);
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(args[t].acked, PER);
        /* one thread's writes are ordered */
        for (int i = 1; i < PER; i++)
            assert_true(args[t].rvs[i] > args[t].rvs[i - 1]);
        memcpy(all + n, args[t].rvs, sizeof(int64_t) * PER);
        n += PER;
        g_free(args[t].rvs);
    }
    qsort(all, (size_t)n, sizeof(*all), cmp_i64);
    for (int i = 0; i < n; i++)
        assert_int_equal(all[i], i + 1);
    assert_int_equal(store_revision(st), THREADS * PER);
    store_get_stats(st, &stats);
    assert_int_equal(stats.writes, THREADS * PER);
    assert_int_equal(stats.objects, THREADS * PER);
    assert_true(stats.commits <= stats.writes);
    assert_int_equal(store_count(st, "burst/"), THREADS * PER);
    /* the watch sees them all in revision order */
    for (int i = 1; i <= n; i++) {
        store_event_t ev = {0};
        assert_int_equal(store_watch_next(w, &ev, 1000, &err), 1);
        assert_int_equal(ev.obj->rv, i);
        store_event_clear(&ev);
    }
    store_watch_close(w);
    g_free(all);
    store_close(st);
}

typedef struct {
    store_t *st;
    int n;
    int conflicts;
} counter_arg_t;

/* Read-modify-write of one counter with optimistic concurrency. */
static gpointer counter_writer(gpointer data)
{
    counter_arg_t *a = data;

    for (int i = 0; i < a->n; i++) {
        for (;;) {
            store_obj_t *cur = store_get(a->st, "c/counter"), *o;
            json_t *j = store_obj_parse(cur);
            err_t err = ERR_INIT;
            int64_t rv = cur->rv;

            json_object_set_new(json_object_get(j, "spec"), "value",
                                json_integer(json_integer_value(json_path_get(j, "spec.value")) + 1));
            store_obj_unref(cur);
            o = store_write(a->st, STORE_UPDATE, "c/counter", j, rv, &err);
            if (o) {
                store_obj_unref(o);
                break;
            }
            if (err.code != ERR_CONFLICT)
                return GINT_TO_POINTER(1);
            a->conflicts++;
            err_clear(&err);
        }
    }
    return NULL;
}

static void test_concurrent_conflicts(void **state)
{
    store_t *st = open_store(*state, &store_sqlite_ops);
    enum { THREADS = 4, PER = 40 };
    counter_arg_t args[THREADS];
    GThread *th[THREADS];
    store_obj_t *o;

    put(st, STORE_CREATE, "c/counter", obj_new("counter", 0), 0);
    for (int t = 0; t < THREADS; t++) {
        args[t] = (counter_arg_t){st, PER, 0};
        th[t] = g_thread_new("counter", counter_writer, &args[t]);
    }
    for (int t = 0; t < THREADS; t++)
        assert_null(g_thread_join(th[t]));
    o = store_get(st, "c/counter");
    /* no increment lost */
    assert_int_equal(spec_value(o), THREADS * PER);
    assert_int_equal(o->rv, 1 + THREADS * PER);
    assert_int_equal(store_revision(st), 1 + THREADS * PER);
    store_obj_unref(o);

    /* racing creates of one key: exactly one wins */
    {
        burst_arg_t same[THREADS];
        GThread *t2[THREADS];
        int wins = 0;
        for (int t = 0; t < THREADS; t++) {
            /* all threads use id 0: the same keys */
            same[t] = (burst_arg_t){st, 0, 20, g_new0(int64_t, 20), 0};
            t2[t] = g_thread_new("same", burst_writer, &same[t]);
        }
        for (int t = 0; t < THREADS; t++) {
            g_thread_join(t2[t]);
            wins += same[t].acked;
            g_free(same[t].rvs);
        }
        assert_int_equal(wins, 20);
        assert_int_equal(store_count(st, "burst/"), 20);
        assert_int_equal(store_revision(st), 1 + THREADS * PER + 20);
    }
    store_close(st);
}

/* The event log keeps LOG_CAP events; a watch from before them is gone. */
static void test_watch_gone(void **state)
{
    store_t *st = open_store(*state, &store_sqlite_ops);
    enum { THREADS = 32, PER = (LOG_CAP + 100 + 31) / 32 };
    burst_arg_t args[THREADS];
    store_watch_t *early, *w;
    err_t err = ERR_INIT;
    store_event_t ev = {0};
    store_stats_t stats;
    int64_t rev, base;

    put(st, STORE_CREATE, "first", obj_new("first", 0), 0);
    early = store_watch_open(st, "", 0, &err);
    assert_non_null(early);
    run_burst(st, THREADS, PER, args);
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(args[t].acked, PER);
        g_free(args[t].rvs);
    }
    rev = store_revision(st);
    assert_int_equal(rev, 1 + THREADS * PER);
    store_get_stats(st, &stats);
    assert_int_equal(stats.log_events, LOG_CAP);
    base = rev - LOG_CAP; /* events after base are kept */

    /* a watch that fell behind learns it on its next read */
    assert_int_equal(store_watch_next(early, &ev, 100, &err), -1);
    assert_int_equal(err.code, ERR_GONE);
    err_clear(&err);
    store_watch_close(early);

    assert_null(store_watch_open(st, "", 0, &err));
    assert_int_equal(err.code, ERR_GONE);
    err_clear(&err);
    assert_null(store_watch_open(st, "", base - 1, &err));
    assert_int_equal(err.code, ERR_GONE);
    err_clear(&err);

    /* from the oldest kept revision: every kept event, in order */
    w = store_watch_open(st, "", base, &err);
    assert_non_null(w);
    for (int64_t r = base + 1; r <= rev; r++) {
        assert_int_equal(store_watch_next(w, &ev, 1000, &err), 1);
        assert_int_equal(ev.obj->rv, r);
        store_event_clear(&ev);
    }
    assert_int_equal(store_watch_next(w, &ev, 10, &err), 0);
    store_watch_close(w);
    store_close(st);
}

/* A failed commit acknowledges nothing and changes nothing; the next works. */
static void test_commit_failure(void **state)
{
    fixture_t *f = *state;
    store_t *st = open_store(f, &faulty_ops);
    store_watch_t *w;
    store_stats_t before, after;
    err_t err = ERR_INIT;
    store_obj_t *o;
    GPtrArray *l;

    put(st, STORE_CREATE, "k/a", obj_new("a", 1), 0);
    put(st, STORE_CREATE, "k/b", obj_new("b", 1), 0);
    w = store_watch_open(st, "", 2, &err);
    store_get_stats(st, &before);

    /* every kind of write fails */
    g_atomic_int_set(&fault_commit, 3);
    o = store_write(st, STORE_CREATE, "k/c", obj_new("c", 1), 0, &err);
    assert_null(o);
    assert_int_equal(err.code, ERR_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "Injected commit failure."));
    err_clear(&err);
    put_fail(st, STORE_UPDATE, "k/a", obj_new("a", 2), 1, ERR_UNAVAILABLE);
    put_fail(st, STORE_DELETE, "k/b", obj_new("b", 1), 0, ERR_UNAVAILABLE);
    /* a write that fails its preconditions never reaches the backend */
    put_fail(st, STORE_CREATE, "k/a", obj_new("a", 9), 0, ERR_ALREADY_EXISTS);
    assert_int_equal(g_atomic_int_get(&fault_commit), 0);

    /* nothing changed: revision, index, log, statistics */
    assert_int_equal(store_revision(st), 2);
    assert_null(store_get(st, "k/c"));
    o = store_get(st, "k/a");
    assert_int_equal(o->rv, 1);
    assert_int_equal(spec_value(o), 1);
    store_obj_unref(o);
    o = store_get(st, "k/b");
    assert_non_null(o);
    store_obj_unref(o);
    l = store_list(st, "k/", NULL, 0, NULL, NULL);
    assert_int_equal(l->len, 2);
    g_ptr_array_unref(l);
    store_get_stats(st, &after);
    assert_int_equal(after.writes, before.writes);
    assert_int_equal(after.commits, before.commits);
    assert_int_equal(after.log_events, before.log_events);
    no_event(w, 20);

    /* the next commit works and takes the next revision */
    assert_int_equal(put(st, STORE_UPDATE, "k/a", obj_new("a", 2), 1), 3);
    next_event(w, STORE_EV_MODIFIED, "k/a", 3, 1);
    store_watch_close(w);

    /* with many writers in flight, all of a failing batch fail */
    {
        enum { THREADS = 6, PER = 10 };
        burst_arg_t args[THREADS];
        g_atomic_int_set(&fault_commit, -1);
        run_burst(st, THREADS, PER, args);
        for (int t = 0; t < THREADS; t++) {
            assert_int_equal(args[t].acked, 0);
            g_free(args[t].rvs);
        }
        assert_int_equal(store_revision(st), 3);
        assert_int_equal(store_count(st, "burst/"), 0);
        g_atomic_int_set(&fault_commit, 0);
        run_burst(st, THREADS, PER, args);
        for (int t = 0; t < THREADS; t++) {
            assert_int_equal(args[t].acked, PER);
            g_free(args[t].rvs);
        }
        assert_int_equal(store_revision(st), 3 + THREADS * PER);
    }
    store_close(st);

    /* what failed was never written */
    st = open_store(f, &store_sqlite_ops);
    assert_int_equal(store_revision(st), 3 + 60);
    assert_null(store_get(st, "k/c"));
    o = store_get(st, "k/b");
    assert_non_null(o);
    assert_int_equal(o->rv, 2);
    store_obj_unref(o);
    o = store_get(st, "k/a");
    assert_int_equal(spec_value(o), 2);
    store_obj_unref(o);
    store_close(st);
}

static void test_open_failure(void **state)
{
    fixture_t *f = *state;
    err_t err = ERR_INIT;
    char *file;

    g_atomic_int_set(&fault_open, 1);
    assert_null(store_open(f->dir, &faulty_ops, &err));
    assert_int_equal(err.code, ERR_INTERNAL);
    assert_string_equal(err.msg, "Injected open failure.");
    err_clear(&err);
    g_atomic_int_set(&fault_open, 0);

    g_atomic_int_set(&fault_load, 1);
    assert_null(store_open(f->dir, &faulty_ops, &err));
    assert_string_equal(err.msg, "Injected load failure.");
    err_clear(&err);
    g_atomic_int_set(&fault_load, 0);

    /* a data directory that cannot be created */
    file = g_build_filename(f->dir, "plain-file", NULL);
    assert_true(g_file_set_contents(file, "x", 1, NULL));
    {
        char *sub = g_build_filename(file, "db", NULL);
        assert_null(store_open(sub, &store_sqlite_ops, &err));
        assert_int_equal(err.code, ERR_INTERNAL);
        err_clear(&err);
        g_free(sub);
    }
    g_unlink(file);
    g_free(file);

    /* after all that, the directory still works */
    {
        store_t *st = open_store(f, &faulty_ops);
        assert_int_equal(put(st, STORE_CREATE, "a", obj_new("a", 1), 0), 1);
        store_close(st);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obj_helpers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_wakeup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
