/*
 * Unit tests for model/schema: the registry as loaded from the schema
 * directory and from the table compiled into the binary, the look-ups, the
 * refusal of bad documents, and a check that every schema accepts a minimal
 * object of its kind.
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

#include "model/schema.h"
#include "model/validate.h"
#include "model/yaml.h"

static const char *schema_dir(void)
{
    const char *d = getenv("VMSVC_TEST_SCHEMAS");
    if (!d)
        fail_msg("VMSVC_TEST_SCHEMAS is not set (run through meson test)");
    return d;
}

/* Paths of the *.yaml files under dir, recursively. */
static void list_yaml(const char *dir, GPtrArray *out)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;

    assert_non_null(d);
    while ((n = g_dir_read_name(d))) {
        char *path = g_build_filename(dir, n, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR))
            list_yaml(path, out);
        else if (g_str_has_suffix(n, ".yaml"))
            g_ptr_array_add(out, g_strdup(path));
        g_free(path);
    }
    g_dir_close(d);
}

static json_t *J(const char *text)
{
    char *t = g_strdup(text);
    json_error_t je;
    json_t *v;

    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    v = json_loads(t, 0, &je);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", je.text, t);
    g_free(t);
    return v;
}

/* A minimal valid schema document; `extra` members are merged over it. */
static json_t *doc_new(const char *extra)
{
    json_t *doc = J("{'group':'example.com','version':'v1','kind':'Widget',"
                    "'plural':'widgets','namespaced':true,"
                    "'schema':{'type':'object','properties':{'spec':{'type':'object'}}}}");
    if (extra) {
        json_t *e = J(extra);
        json_object_update(doc, e);
        json_decref(e);
    }
    return doc;
}

static registry_t *registry_empty(void)
{
    /* An empty directory gives an empty registry. */
    char *dir = g_dir_make_tmp("vmsvc-schema-XXXXXX", NULL);
    err_t err = ERR_INIT;
    registry_t *reg = registry_load_dir(dir, &err);

    assert_non_null(reg);
    assert_int_equal(reg->resources->len, 0);
    assert_int_equal(reg->groups->len, 0);
    g_rmdir(dir);
    g_free(dir);
    return reg;
}

static void check_resource(const resource_t *r)
{
    char *want;

    assert_non_null(r->group);
    assert_non_null(r->version);
    assert_true(r->version[0]);
    assert_non_null(r->kind);
    assert_true(r->kind[0]);
    assert_non_null(r->plural);
    assert_true(r->plural[0]);
    assert_non_null(r->singular);
    assert_non_null(r->list_kind);
    assert_true(json_is_object(r->schema));
    assert_non_null(r->short_names);
    assert_non_null(r->categories);
    assert_non_null(r->columns);

    want = g_strconcat(*r->group ? r->group : "core", "/", r->plural, "/", NULL);
    assert_string_equal(r->key_prefix, want);
    g_free(want);
    want = *r->group ? g_strconcat(r->group, "/", r->version, NULL) : g_strdup(r->version);
    assert_string_equal(r->api_version, want);
    g_free(want);
    want = *r->group ? g_strconcat(r->plural, ".", r->group, NULL) : g_strdup(r->plural);
    assert_string_equal(r->group_resource, want);
    g_free(want);

    for (guint i = 0; i < r->columns->len; i++) {
        const printer_column_t *c = r->columns->pdata[i];
        static const char *const types[] = {"string", "integer", "number", "boolean", "date"};
        bool known = false;

        assert_non_null(c->name);
        assert_non_null(c->path);
        for (size_t t = 0; t < G_N_ELEMENTS(types); t++)
            known = known || strcmp(c->type, types[t]) == 0;
        if (!known)
            fail_msg("%s: column %s has type %s", r->plural, c->name, c->type);
        assert_true(c->format == NULL || strcmp(c->format, "count") == 0);
    }
}

static void test_load_dir(void **state)
{
    err_t err = ERR_INIT;
    registry_t *reg = registry_load_dir(schema_dir(), &err);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);

    if (!reg)
        fail_msg("%s", err.msg);
    list_yaml(schema_dir(), files);
    /* one resource per file */
    assert_int_equal(reg->resources->len, files->len);
    assert_true(files->len > 0);
    for (guint i = 0; i < reg->resources->len; i++)
        check_resource(reg->resources->pdata[i]);

    /* groups: each once, the core group first */
    assert_true(reg->groups->len > 0);
    for (guint i = 0; i < reg->groups->len; i++) {
        for (guint j = i + 1; j < reg->groups->len; j++)
            assert_string_not_equal(reg->groups->pdata[i], reg->groups->pdata[j]);
    }
    if (registry_find(reg, "", "v1", "namespaces"))
        assert_string_equal(reg->groups->pdata[0], "");
    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        bool found = false;
        for (guint j = 0; j < reg->groups->len; j++)
            found = found || strcmp(reg->groups->pdata[j], r->group) == 0;
        assert_true(found);
        /* each group/version/plural once */
        assert_ptr_equal(registry_find(reg, r->group, r->version, r->plural), r);
    }
    g_ptr_array_unref(files);
    registry_free(reg);
}

static void test_load_embedded(void **state)
{
    err_t err = ERR_INIT;
    registry_t *emb = registry_load_embedded(&err);
    registry_t *dir = registry_load_dir(schema_dir(), &err);

    assert_non_null(emb);
    assert_non_null(dir);
    /* the same resources, with the same schemas */
    assert_int_equal(emb->resources->len, dir->resources->len);
    assert_int_equal(emb->groups->len, dir->groups->len);
    for (guint i = 0; i < emb->resources->len; i++) {
        const resource_t *e = emb->resources->pdata[i];
        const resource_t *d = registry_find(dir, e->group, e->version, e->plural);

        check_resource(e);
        if (!d)
            fail_msg("%s/%s is embedded but not in the directory", e->api_version, e->plural);
        assert_string_equal(e->kind, d->kind);
        assert_int_equal(e->namespaced, d->namespaced);
        assert_int_equal(e->has_status, d->has_status);
        assert_int_equal(e->columns->len, d->columns->len);
        if (!json_equal(e->schema, d->schema))
            fail_msg("the embedded schema of %s differs from the file's (rebuild?)", e->plural);
    }
    registry_free(emb);
    registry_free(dir);
    registry_free(NULL);
}

static void test_find(void **state)
{
    err_t err = ERR_INIT;
    registry_t *reg = registry_load_dir(schema_dir(), &err);
    const resource_t *r;
    char *ns, *name;

    assert_non_null(reg);
    r = registry_find(reg, "", "v1", "configmaps");
    assert_non_null(r);
    assert_string_equal(r->kind, "ConfigMap");
    assert_string_equal(r->list_kind, "ConfigMapList");
    assert_string_equal(r->singular, "configmap");
    assert_true(r->namespaced);
    assert_string_equal(r->key_prefix, "core/configmaps/");
    assert_string_equal(r->api_version, "v1");
    assert_ptr_equal(schema_property(r->schema, "data"),
                     json_object_get(json_object_get(r->schema, "properties"), "data"));
    assert_null(schema_property(r->schema, "nope"));

    assert_null(registry_find(reg, "", "v2", "configmaps"));
    assert_null(registry_find(reg, "apps", "v1", "configmaps"));
    assert_null(registry_find(reg, "", "v1", "ConfigMaps"));
    assert_null(registry_find(reg, "", "v1", "configmap"));

    r = registry_find(reg, "vmoperator.vmware.com", "v1alpha2", "virtualmachines");
    assert_non_null(r);
    assert_true(r->has_status);
    assert_string_equal(r->api_version, "vmoperator.vmware.com/v1alpha2");
    assert_string_equal(r->group_resource, "virtualmachines.vmoperator.vmware.com");

    assert_ptr_equal(registry_find_kind(reg, "", "ConfigMap"),
                     registry_find(reg, "", "v1", "configmaps"));
    assert_null(registry_find_kind(reg, "", "configmap"));
    assert_null(registry_find_kind(reg, "vmoperator.vmware.com", "ConfigMap"));

    /* keys */
    r = registry_find_by_key(reg, "core/configmaps/ns1/cm1", &ns, &name);
    assert_ptr_equal(r, registry_find(reg, "", "v1", "configmaps"));
    assert_string_equal(ns, "ns1");
    assert_string_equal(name, "cm1");
    g_free(ns);
    g_free(name);
    r = registry_find_by_key(reg, "core/namespaces/default", &ns, &name);
    assert_ptr_equal(r, registry_find(reg, "", "v1", "namespaces"));
    assert_null(ns);
    assert_string_equal(name, "default");
    g_free(name);
    r = registry_find_by_key(reg, "vmoperator.vmware.com/virtualmachineclasses/ns/small",
                             &ns, &name);
    assert_non_null(r);
    assert_string_equal(r->plural, "virtualmachineclasses");
    g_free(ns);
    g_free(name);
    r = registry_find_by_key(reg, "vmoperator.vmware.com/virtualmachines/ns/vm", &ns, &name);
    assert_string_equal(r->plural, "virtualmachines");
    assert_string_equal(ns, "ns");
    assert_string_equal(name, "vm");
    g_free(ns);
    g_free(name);
    /* unknown, or namespaced without a namespace */
    ns = name = (char *)"junk";
    assert_null(registry_find_by_key(reg, "core/pods/ns/p", &ns, &name));
    assert_null(ns);
    assert_null(name);
    assert_null(registry_find_by_key(reg, "core/configmaps", &ns, &name));
    assert_null(registry_find_by_key(reg, "core/configmapsx/a/b", &ns, &name));
    assert_null(registry_find_by_key(reg, "", &ns, &name));
    ns = name = (char *)"junk";
    assert_null(registry_find_by_key(reg, "core/configmaps/cm-without-ns", &ns, &name));
    assert_null(ns);
    assert_null(name);

    /* every resource's own keys lead back to it */
    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *res = reg->resources->pdata[i];
        char *key = g_strconcat(res->key_prefix, res->namespaced ? "n/" : "", "x", NULL);
        r = registry_find_by_key(reg, key, &ns, &name);
        assert_ptr_equal(r, registry_find_kind(reg, res->group, res->kind));
        assert_string_equal(name, "x");
        if (res->namespaced)
            assert_string_equal(ns, "n");
        else
            assert_null(ns);
        g_free(ns);
        g_free(name);
        g_free(key);
    }

    /* versions of a group */
    {
        GPtrArray *v = registry_group_versions(reg, "");
        assert_int_equal(v->len, 1);
        assert_string_equal(v->pdata[0], "v1");
        g_ptr_array_unref(v);
        v = registry_group_versions(reg, "nope.example.com");
        assert_int_equal(v->len, 0);
        g_ptr_array_unref(v);
    }
    registry_free(reg);
}

/* Several versions of one kind: the storage version is preferred. */
static void test_versions(void **state)
{
    registry_t *reg = registry_empty();
    err_t err = ERR_INIT;
    json_t *d1 = doc_new("{'version':'v1alpha1','storage':false}");
    json_t *d2 = doc_new("{'version':'v1'}");
    json_t *d3 = doc_new("{'version':'v1beta1','storage':false}");
    json_t *other = doc_new("{'group':'other.io','kind':'Gadget','plural':'gadgets',"
                            "'namespaced':false}");
    const resource_t *r;
    GPtrArray *v;
    char *ns, *name;

    assert_int_equal(registry_add(reg, "d1", d1, &err), 0);
    /* only a non-storage version: still found by kind and by key */
    r = registry_find_kind(reg, "example.com", "Widget");
    assert_non_null(r);
    assert_string_equal(r->version, "v1alpha1");
    assert_false(r->storage);
    assert_int_equal(registry_add(reg, "other", other, &err), 0);
    assert_int_equal(registry_add(reg, "d2", d2, &err), 0);
    assert_int_equal(registry_add(reg, "d3", d3, &err), 0);
    assert_false(err_is_set(&err));

    r = registry_find_kind(reg, "example.com", "Widget");
    assert_string_equal(r->version, "v1");
    assert_true(r->storage);
    r = registry_find_by_key(reg, "example.com/widgets/ns/w", &ns, &name);
    assert_string_equal(r->version, "v1");
    assert_string_equal(ns, "ns");
    assert_string_equal(name, "w");
    g_free(ns);
    g_free(name);
    r = registry_find_by_key(reg, "other.io/gadgets/g", &ns, &name);
    assert_string_equal(r->kind, "Gadget");
    assert_null(ns);
    assert_string_equal(name, "g");
    g_free(name);

    v = registry_group_versions(reg, "example.com");
    assert_int_equal(v->len, 3);
    assert_string_equal(v->pdata[0], "v1");
    assert_true(strcmp(v->pdata[1], "v1alpha1") == 0 || strcmp(v->pdata[1], "v1beta1") == 0);
    g_ptr_array_unref(v);

    /* defaults filled in */
    r = registry_find(reg, "other.io", "v1", "gadgets");
    assert_string_equal(r->singular, "gadget");
    assert_string_equal(r->list_kind, "GadgetList");
    assert_false(r->namespaced);
    assert_false(r->has_status);
    assert_int_equal(r->columns->len, 0);
    /* groups in order of appearance */
    assert_int_equal(reg->groups->len, 2);
    assert_string_equal(reg->groups->pdata[0], "example.com");
    assert_string_equal(reg->groups->pdata[1], "other.io");

    /* the core group goes first whenever it comes */
    {
        json_t *core = doc_new("{'group':'','kind':'Thing','plural':'things'}");
        assert_int_equal(registry_add(reg, "core", core, &err), 0);
        assert_string_equal(reg->groups->pdata[0], "");
        assert_int_equal(reg->groups->len, 3);
        r = registry_find(reg, "", "v1", "things");
        assert_string_equal(r->key_prefix, "core/things/");
        assert_string_equal(r->api_version, "v1");
        assert_string_equal(r->group_resource, "things");
        json_decref(core);
    }
    /* subresources, short names, categories, columns */
    {
        json_t *full = doc_new("{'plural':'fulls','kind':'Full','subresources':['status'],"
                               "'shortNames':['fl','f'],'categories':['all'],"
                               "'singular':'onefull','listKind':'FullsList',"
                               "'printerColumns':[{'name':'Ready','jsonPath':'.status.ready',"
                               "'priority':1,'format':'count','description':'d'},"
                               "{'name':'T','type':'date','jsonPath':'{.a}/{.b}'}]}");
        const printer_column_t *c;
        assert_int_equal(registry_add(reg, "full", full, &err), 0);
        r = registry_find(reg, "example.com", "v1", "fulls");
        assert_true(r->has_status);
        assert_int_equal(r->short_names->len, 2);
        assert_string_equal(r->short_names->pdata[1], "f");
        assert_int_equal(r->categories->len, 1);
        assert_string_equal(r->singular, "onefull");
        assert_string_equal(r->list_kind, "FullsList");
        assert_int_equal(r->columns->len, 2);
        c = r->columns->pdata[0];
        assert_string_equal(c->name, "Ready");
        assert_string_equal(c->type, "string");
        assert_string_equal(c->format, "count");
        assert_string_equal(c->description, "d");
        assert_int_equal(c->priority, 1);
        c = r->columns->pdata[1];
        assert_string_equal(c->type, "date");
        assert_null(c->format);
        assert_int_equal(c->priority, 0);
        json_decref(full);
    }
    json_decref(d1);
    json_decref(d2);
    json_decref(d3);
    json_decref(other);
    registry_free(reg);
}

/* A bad document is refused whole, with a message naming where it came from. */
static void test_bad_documents(void **state)
{
    static const struct {
        const char *extra;
        const char *part;
    } bad[] = {
        {"{'plural':null}", "plural"},
        {"{'plural':''}", "plural"},
        {"{'plural':'Widgets'}", "plural"},
        {"{'plural':'wid gets'}", "plural"},
        {"{'plural':5}", "plural"},
        {"{'kind':null}", "kind"},
        {"{'version':null}", "version"},
        {"{'schema':null}", "schema"},
        {"{'schema':[1]}", "schema"},
        {"{'printerColumns':[{'jsonPath':'.spec.x'}]}", "printer column"},
        {"{'printerColumns':[{'name':'X'}]}", "printer column"},
        {"{'printerColumns':[{'name':'X','jsonPath':'.spec[?(@.x'}]}", "jsonPath"},
        {"{'printerColumns':[{'name':'A','jsonPath':'.a'},{'name':'X','jsonPath':''}]}",
         "X"},
    };
    registry_t *reg = registry_empty();
    err_t err = ERR_INIT;
    json_t *good = doc_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        json_t *doc = doc_new(bad[i].extra);
        char origin[64];

        snprintf(origin, sizeof(origin), "schemas/bad-%zu.yaml", i);
        if (registry_add(reg, origin, doc, &err) == 0)
            fail_msg("%s was accepted", bad[i].extra);
        assert_int_equal(err.code, ERR_INTERNAL);
        if (!strstr(err.msg, origin))
            fail_msg("\"%s\" does not name %s", err.msg, origin);
        if (!strstr(err.msg, bad[i].part))
            fail_msg("\"%s\" does not mention %s", err.msg, bad[i].part);
        assert_int_equal(err.msg[strlen(err.msg) - 1], '.');
        /* nothing registered, not even the group */
        assert_int_equal(reg->resources->len, 0);
        assert_int_equal(reg->groups->len, 0);
        err_clear(&err);
        json_decref(doc);
    }

    /* a second registration of group/version/plural */
    assert_int_equal(registry_add(reg, "first.yaml", good, &err), 0);
    assert_int_equal(registry_add(reg, "second.yaml", good, &err), -1);
    assert_int_equal(err.code, ERR_INTERNAL);
    assert_non_null(strstr(err.msg, "second.yaml"));
    assert_non_null(strstr(err.msg, "example.com/v1/widgets"));
    assert_int_equal(reg->resources->len, 1);
    err_clear(&err);
    json_decref(good);
    registry_free(reg);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename(dir, name, NULL);
    assert_true(g_file_set_contents(path, text, -1, NULL));
    g_free(path);
}

static void remove_tree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    const char *n;

    if (d) {
        while ((n = g_dir_read_name(d))) {
            char *p = g_build_filename(path, n, NULL);
            remove_tree(p);
            g_free(p);
        }
        g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static const char *good_yaml =
    "group: example.com\nversion: v1\nkind: Widget\nplural: widgets\n"
    "namespaced: true\nschema:\n  type: object\n";

static void test_bad_files(void **state)
{
    char *dir = g_dir_make_tmp("vmsvc-schema-XXXXXX", NULL);
    char *sub = g_build_filename(dir, "example.com", NULL);
    err_t err = ERR_INIT;
    registry_t *reg;

    /* a tree: files in sub-directories are read, others are skipped */
    g_mkdir(sub, 0700);
    write_file(sub, "widgets.yaml", good_yaml);
    write_file(dir, "README.md", "not yaml: [");
    reg = registry_load_dir(dir, &err);
    assert_non_null(reg);
    assert_int_equal(reg->resources->len, 1);
    registry_free(reg);

    /* a duplicate in another file names that file */
    write_file(sub, "zz-again.yaml", good_yaml);
    assert_null(registry_load_dir(dir, &err));
    assert_int_equal(err.code, ERR_INTERNAL);
    assert_non_null(strstr(err.msg, "zz-again.yaml"));
    err_clear(&err);

    /* a file that does not parse, or lacks a field, names itself */
    write_file(sub, "zz-again.yaml", "group: [unclosed\n");
    assert_null(registry_load_dir(dir, &err));
    assert_int_equal(err.code, ERR_INTERNAL);
    assert_non_null(strstr(err.msg, "zz-again.yaml"));
    assert_non_null(strstr(err.msg, "does not parse"));
    err_clear(&err);
    write_file(sub, "zz-again.yaml", "group: example.com\nversion: v2\nkind: Widget\n"
                                     "schema:\n  type: object\n");
    assert_null(registry_load_dir(dir, &err));
    assert_non_null(strstr(err.msg, "zz-again.yaml"));
    err_clear(&err);
    write_file(sub, "zz-again.yaml", "group: example.com\nversion: v2\nkind: Widget\n"
                                     "plural: widgets\nschema:\n  type: object\n"
                                     "printerColumns:\n  - name: Bad\n    jsonPath: '{.a'\n");
    assert_null(registry_load_dir(dir, &err));
    assert_int_equal(err.code, ERR_INTERNAL);
    assert_non_null(strstr(err.msg, "zz-again.yaml"));
    err_clear(&err);

    /* a directory that is not there */
    {
        char *missing = g_build_filename(dir, "missing", NULL);
        assert_null(registry_load_dir(missing, &err));
        assert_int_equal(err.code, ERR_INTERNAL);
        assert_non_null(strstr(err.msg, missing));
        err_clear(&err);
        g_free(missing);
    }
    remove_tree(dir);
    g_free(sub);
    g_free(dir);
}

/* Files are read in name order, so the registry's order is stable. */
static void test_load_order(void **state)
{
    static const char *const names[] = {"m", "c", "x", "a", "q", "b", "z", "k", "e", "t"};
    char *dir = g_dir_make_tmp("vmsvc-schema-XXXXXX", NULL);
    char *sub = g_build_filename(dir, "f", NULL);
    GPtrArray *want = g_ptr_array_new_with_free_func(g_free);
    err_t err = ERR_INIT;
    registry_t *reg;

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        char *file = g_strdup_printf("%s.yaml", names[i]);
        char *text = g_strdup_printf("group: g%s.io\nversion: v1\nkind: K\nplural: p%s\n"
                                     "schema:\n  type: object\n",
                                     names[i], names[i]);
        write_file(dir, file, text);
        g_free(file);
        g_free(text);
    }
    /* a sub-directory "f" sorts between e.yaml and k.yaml */
    g_mkdir(sub, 0700);
    write_file(sub, "s.yaml", "group: gf.io\nversion: v1\nkind: K\nplural: pf\n"
                              "schema:\n  type: object\n");
    for (const char *c = "abcefkmqtxz"; *c; c++)
        g_ptr_array_add(want, g_strdup_printf("p%c", *c));
    reg = registry_load_dir(dir, &err);
    assert_non_null(reg);
    assert_int_equal(reg->resources->len, want->len);
    for (guint i = 0; i < want->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        assert_string_equal(r->plural, want->pdata[i]);
        assert_int_equal(((const char *)reg->groups->pdata[i])[1], r->plural[1]);
    }
    registry_free(reg);
    g_ptr_array_unref(want);
    remove_tree(dir);
    g_free(sub);
    g_free(dir);
}

/* Every schema accepts an object of its kind with nothing but apiVersion,
 * kind and metadata, unless its root requires more; then exactly the
 * required fields are reported. */
static void test_minimal_objects(void **state)
{
    err_t err = ERR_INIT;
    registry_t *reg = registry_load_dir(schema_dir(), &err);

    assert_non_null(reg);
    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        const json_t *required = json_object_get(r->schema, "required");
        json_t *obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", r->api_version, "kind",
                                r->kind, "metadata", "name", "x");
        json_t *warnings = json_array();
        size_t nreq = 0, k;
        json_t *name;
        int rc;

        if (r->namespaced)
            json_object_set_new(json_object_get(obj, "metadata"), "namespace",
                                json_string("default"));
        json_array_foreach(required, k, name) {
            const char *n = json_string_value(name);
            if (strcmp(n, "apiVersion") && strcmp(n, "kind") && strcmp(n, "metadata"))
                nreq++;
        }
        rc = schema_validate(r->schema, obj, NULL, FIELD_VALIDATION_STRICT, warnings, &err);
        if (nreq == 0) {
            if (rc != 0)
                fail_msg("%s: a minimal %s is refused: %s", r->plural, r->kind, err.msg);
        } else {
            json_t *c;
            assert_int_equal(rc, -1);
            assert_int_equal(err.code, ERR_INVALID);
            assert_int_equal(json_array_size(err.causes), nreq);
            json_array_foreach(err.causes, k, c)
                assert_string_equal(json_string_value(json_object_get(c, "reason")),
                                    "FieldValueRequired");
        }
        /* apiVersion, kind and metadata are left as they were */
        assert_string_equal(json_string_value(json_object_get(obj, "kind")), r->kind);
        assert_string_equal(json_string_value(json_object_get(obj, "apiVersion")),
                            r->api_version);
        assert_string_equal(json_string_value(json_object_get(json_object_get(obj, "metadata"),
                                                              "name")),
                            "x");
        assert_int_equal(json_array_size(warnings), 0);
        err_clear(&err);
        json_decref(warnings);
        json_decref(obj);
    }
    registry_free(reg);
    schema_validate_cache_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_load_embedded),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_bad_documents),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_load_order),
        cmocka_unit_test(test_minimal_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
