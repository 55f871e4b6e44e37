/*
 * schema: builds the resource registry from schema documents.  Each document
 * is checked for the fields the server relies on; a bad document is a start-up
 * error naming the file, never a half-registered kind.
 */
#include "model/schema.h"

#include <string.h>

#include "model/embedded.h"
#include "model/yaml.h"

static void printer_column_free(printer_column_t *c)
{
    if (!c)
        return;
    g_free(c->name);
    g_free(c->type);
    g_free(c->format);
    g_free(c->description);
    jsonpath_free(c->path);
    g_free(c);
}

static void resource_free(resource_t *r)
{
    if (!r)
        return;
    g_free(r->group);
    g_free(r->version);
    g_free(r->kind);
    g_free(r->list_kind);
    g_free(r->plural);
    g_free(r->singular);
    g_ptr_array_unref(r->short_names);
    g_ptr_array_unref(r->categories);
    g_ptr_array_unref(r->columns);
    json_decref(r->schema);
    g_free(r->api_version);
    g_free(r->key_prefix);
    g_free(r->group_resource);
    g_free(r);
}

static registry_t *registry_new(void)
{
    registry_t *reg = g_new0(registry_t, 1);
    reg->resources = g_ptr_array_new_with_free_func((GDestroyNotify)resource_free);
    reg->groups = g_ptr_array_new_with_free_func(g_free);
    reg->by_plural = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                           (GDestroyNotify)g_ptr_array_unref);
    return reg;
}

void registry_free(registry_t *reg)
{
    if (!reg)
        return;
    g_hash_table_destroy(reg->by_plural);
    g_ptr_array_unref(reg->resources);
    g_ptr_array_unref(reg->groups);
    g_free(reg);
}

static const char *doc_str(const json_t *doc, const char *key)
{
    return json_string_value(json_object_get(doc, key));
}

static GPtrArray *doc_str_list(const json_t *doc, const char *key)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    json_t *a = json_object_get(doc, key), *v;
    size_t i;
    json_array_foreach(a, i, v) {
        if (json_is_string(v))
            g_ptr_array_add(out, g_strdup(json_string_value(v)));
    }
    return out;
}

static bool name_is_plain(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if (!g_ascii_islower(*s) && !g_ascii_isdigit(*s) && *s != '.' && *s != '-')
            return false;
    return true;
}

int registry_add(registry_t *reg, const char *origin, const json_t *doc, err_t *err)
{
    resource_t *r = g_new0(resource_t, 1);
    const char *group = doc_str(doc, "group");
    json_t *cols = json_object_get(doc, "printerColumns"), *c;
    json_t *subs = json_object_get(doc, "subresources"), *s;
    size_t i;
    bool seen = false;
    GPtrArray *same;
    err_t jerr = ERR_INIT;

    r->group = g_strdup(group ? group : "");
    r->version = g_strdup(doc_str(doc, "version"));
    r->kind = g_strdup(doc_str(doc, "kind"));
    r->plural = g_strdup(doc_str(doc, "plural"));
    r->singular = g_strdup(doc_str(doc, "singular"));
    r->list_kind = g_strdup(doc_str(doc, "listKind"));
    r->namespaced = json_is_true(json_object_get(doc, "namespaced"));
    r->storage = !json_is_false(json_object_get(doc, "storage"));
    r->short_names = doc_str_list(doc, "shortNames");
    r->categories = doc_str_list(doc, "categories");
    r->columns = g_ptr_array_new_with_free_func((GDestroyNotify)printer_column_free);
    r->schema = json_incref(json_object_get(doc, "schema"));

    if (!r->version || !r->kind || !name_is_plain(r->plural) || !json_is_object(r->schema)) {
        err_set(err, ERR_INTERNAL,
                "The schema file %s lacks version, kind, a lower-case plural or schema.",
                origin);
        goto fail;
    }
    if (!r->singular)
        r->singular = g_ascii_strdown(r->kind, -1);
    if (!r->list_kind)
        r->list_kind = g_strconcat(r->kind, "List", NULL);
    json_array_foreach(subs, i, s) {
        if (g_strcmp0(json_string_value(s), "status") == 0)
            r->has_status = true;
    }
    json_array_foreach(cols, i, c) {
        printer_column_t *pc = g_new0(printer_column_t, 1);
        const char *jp = doc_str(c, "jsonPath");
        g_ptr_array_add(r->columns, pc);
        pc->name = g_strdup(doc_str(c, "name"));
        pc->type = g_strdup(doc_str(c, "type") ? doc_str(c, "type") : "string");
        pc->format = g_strdup(doc_str(c, "format"));
        pc->description = g_strdup(doc_str(c, "description"));
        pc->priority = (int)json_integer_value(json_object_get(c, "priority"));
        if (!pc->name || !jp) {
            err_set(err, ERR_INTERNAL, "A printer column in %s lacks name or jsonPath.",
                    origin);
            goto fail;
        }
        pc->path = jsonpath_compile(jp, &jerr);
        if (!pc->path) {
            err_set(err, ERR_INTERNAL, "The printer column %s in %s has a bad jsonPath: %s",
                    pc->name, origin, jerr.msg);
            err_clear(&jerr);
            goto fail;
        }
    }
    r->api_version = *r->group ? g_strconcat(r->group, "/", r->version, NULL)
                               : g_strdup(r->version);
    r->key_prefix = g_strconcat(*r->group ? r->group : "core", "/", r->plural, "/", NULL);
    r->group_resource = *r->group ? g_strconcat(r->plural, ".", r->group, NULL)
                                  : g_strdup(r->plural);
    if (registry_find(reg, r->group, r->version, r->plural)) {
        err_set(err, ERR_INTERNAL, "The schema file %s registers %s/%s a second time.",
                origin, r->api_version, r->plural);
        goto fail;
    }
    for (i = 0; i < reg->groups->len; i++)
        if (strcmp(reg->groups->pdata[i], r->group) == 0)
            seen = true;
    if (!seen) {
        if (!*r->group)
            g_ptr_array_insert(reg->groups, 0, g_strdup(""));
        else
            g_ptr_array_add(reg->groups, g_strdup(r->group));
    }
    g_ptr_array_add(reg->resources, r);
    same = g_hash_table_lookup(reg->by_plural, r->plural);
    if (!same) {
        same = g_ptr_array_new();
        g_hash_table_insert(reg->by_plural, r->plural, same);
    }
    g_ptr_array_add(same, r);
    return 0;

fail:
    resource_free(r);
    return -1;
}

static int registry_add_text(registry_t *reg, const char *origin, const char *text,
                             size_t len, err_t *err)
{
    err_t perr = ERR_INIT;
    json_t *doc = yaml_parse(text, len, &perr);
    int rc;

    if (!doc) {
        err_set(err, ERR_INTERNAL, "The schema file %s does not parse: %s", origin,
                perr.msg);
        err_clear(&perr);
        return -1;
    }
    rc = registry_add(reg, origin, doc, err);
    json_decref(doc);
    return rc;
}

registry_t *registry_load_embedded(err_t *err)
{
    registry_t *reg = registry_new();
    for (const struct embedded_file *f = embedded_schemas; f->path; f++) {
        if (!g_str_has_suffix(f->path, ".yaml"))
            continue;
        if (registry_add_text(reg, f->path, f->data, f->len, err) < 0) {
            registry_free(reg);
            return NULL;
        }
    }
    return reg;
}

/* g_ptr_array_sort() hands the comparator pointers to the elements. */
static gint name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int registry_scan(registry_t *reg, const char *dir, err_t *err)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *n;
    int rc = 0;

    if (!d) {
        err_set(err, ERR_INTERNAL, "Cannot read the schema directory %s.", dir);
        g_ptr_array_unref(names);
        return -1;
    }
    while ((n = g_dir_read_name(d)))
        g_ptr_array_add(names, g_strdup(n));
    g_dir_close(d);
    g_ptr_array_sort(names, name_cmp);
    for (guint i = 0; rc == 0 && i < names->len; i++) {
        char *path = g_build_filename(dir, names->pdata[i], NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
            rc = registry_scan(reg, path, err);
        } else if (g_str_has_suffix(path, ".yaml")) {
            char *text = NULL;
            gsize len = 0;
            if (!g_file_get_contents(path, &text, &len, NULL)) {
                err_set(err, ERR_INTERNAL, "Cannot read %s.", path);
                rc = -1;
            } else {
                rc = registry_add_text(reg, path, text, len, err);
            }
            g_free(text);
        }
        g_free(path);
    }
    g_ptr_array_unref(names);
    return rc;
}

registry_t *registry_load_dir(const char *dir, err_t *err)
{
    registry_t *reg = registry_new();
    if (registry_scan(reg, dir, err) < 0) {
        registry_free(reg);
        return NULL;
    }
    return reg;
}

/* Every request's route goes through here: a hash on the plural, then the
 * few resources that share it (one per group and version). */
const resource_t *registry_find(const registry_t *reg, const char *group,
                                const char *version, const char *plural)
{
    const GPtrArray *same = g_hash_table_lookup(reg->by_plural, plural);

    for (guint i = 0; same && i < same->len; i++) {
        const resource_t *r = same->pdata[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->version, version) == 0)
            return r;
    }
    return NULL;
}

const resource_t *registry_find_kind(const registry_t *reg, const char *group,
                                     const char *kind)
{
    const resource_t *found = NULL;
    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        if (strcmp(r->group, group) == 0 && strcmp(r->kind, kind) == 0) {
            if (r->storage)
                return r;
            if (!found)
                found = r;
        }
    }
    return found;
}

GPtrArray *registry_group_versions(const registry_t *reg, const char *group)
{
    GPtrArray *out = g_ptr_array_new();
    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        bool dup = false;
        if (strcmp(r->group, group) != 0)
            continue;
        for (guint j = 0; j < out->len; j++)
            if (strcmp(out->pdata[j], r->version) == 0)
                dup = true;
        if (dup)
            continue;
        /* The storage version is the preferred one and goes first. */
        if (r->storage)
            g_ptr_array_insert(out, 0, r->version);
        else
            g_ptr_array_add(out, r->version);
    }
    return out;
}

const json_t *schema_property(const json_t *schema, const char *name)
{
    return json_object_get(json_object_get(schema, "properties"), name);
}

const resource_t *registry_find_by_key(const registry_t *reg, const char *key, char **ns,
                                       char **name)
{
    const resource_t *found = NULL;
    *ns = *name = NULL;
    for (guint i = 0; i < reg->resources->len; i++) {
        const resource_t *r = reg->resources->pdata[i];
        if (g_str_has_prefix(key, r->key_prefix) && (!found || r->storage)) {
            found = r;
            if (r->storage)
                break;
        }
    }
    if (!found)
        return NULL;
    const char *rest = key + strlen(found->key_prefix);
    if (found->namespaced) {
        const char *slash = strchr(rest, '/');
        if (!slash)
            return NULL;
        *ns = g_strndup(rest, (gsize)(slash - rest));
        rest = slash + 1;
    }
    *name = g_strdup(rest);
    return found;
}
