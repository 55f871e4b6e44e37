/* table: see table.h. */
#include "api/table.h"

#include <string.h>

#include "model/jsonpath.h"

static json_t *table_column_def(const char *name, const char *type, const char *format,
                                const char *desc, int priority)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", name, "type", type, "format",
                     format ? format : "", "description", desc ? desc : "", "priority",
                     priority);
}

json_t *table_new(const resource_t *res, bool columns)
{
    json_t *t = json_pack("{s:s,s:s,s:{},s:[],s:[]}", "kind", "Table", "apiVersion",
                          "meta.k8s.io/v1", "metadata", "columnDefinitions", "rows");
    if (!columns)
        return t;
    json_t *defs = json_object_get(t, "columnDefinitions");
    json_array_append_new(defs, table_column_def("Name", "string", "name",
                                                 "The object's name, unique in its namespace.", 0));
    for (guint i = 0; i < res->columns->len; i++) {
        const printer_column_t *c = res->columns->pdata[i];
        /* A count column is an integer whatever it counts. */
        const char *type = c->format && !strcmp(c->format, "count") ? "integer" : c->type;
        json_array_append_new(defs, table_column_def(c->name, type,
                                                     c->format && strcmp(c->format, "count")
                                                         ? c->format : "",
                                                     c->description, c->priority));
    }
    return t;
}

/* An age as kubectl shows it: two units at most, coarser as it grows. */
char *table_human_age(gint64 secs)
{
    gint64 m = secs / 60, h = secs / 3600, d = h / 24;

    if (secs < -1)
        return g_strdup("<invalid>");
    if (secs < 0)
        secs = 0;
    if (secs < 120)
        return g_strdup_printf("%llds", (long long)secs);
    if (m < 10)
        return secs % 60 ? g_strdup_printf("%lldm%llds", (long long)m, (long long)(secs % 60))
                         : g_strdup_printf("%lldm", (long long)m);
    if (m < 180)
        return g_strdup_printf("%lldm", (long long)m);
    if (h < 8)
        return m % 60 ? g_strdup_printf("%lldh%lldm", (long long)h, (long long)(m % 60))
                      : g_strdup_printf("%lldh", (long long)h);
    if (h < 48)
        return g_strdup_printf("%lldh", (long long)h);
    if (h < 24 * 8)
        return h % 24 ? g_strdup_printf("%lldd%lldh", (long long)d, (long long)(h % 24))
                      : g_strdup_printf("%lldd", (long long)d);
    if (h < 24 * 365 * 2)
        return g_strdup_printf("%lldd", (long long)d);
    if (h < 24 * 365 * 8)
        return d % 365 ? g_strdup_printf("%lldy%lldd", (long long)(d / 365), (long long)(d % 365))
                       : g_strdup_printf("%lldy", (long long)(d / 365));
    return g_strdup_printf("%lldy", (long long)(d / 365));
}

/* A date cell: the age of an RFC 3339 timestamp, as Kubernetes renders it. */
static json_t *table_date_cell(const char *ts)
{
    GDateTime *t = g_date_time_new_from_iso8601(ts, NULL);
    GDateTime *now;
    char *age;
    json_t *cell;

    if (!t)
        return json_string(ts);
    now = g_date_time_new_now_utc();
    age = table_human_age(g_date_time_difference(now, t) / G_TIME_SPAN_SECOND);
    cell = json_string(age);
    g_free(age);
    g_date_time_unref(now);
    g_date_time_unref(t);
    return cell;
}

static json_t *table_cell(const printer_column_t *c, const json_t *obj)
{
    json_t *results = jsonpath_eval(c->path, obj);
    json_t *first = json_array_get(results, 0), *cell = json_null();
    size_t n = json_array_size(results);

    if (c->format && !strcmp(c->format, "count")) {
        size_t count = json_is_object(first) ? json_object_size(first)
                       : json_is_array(first) ? json_array_size(first) : 0;
        cell = json_integer((json_int_t)count);
    } else if (n == 0 || json_is_null(first)) {
        cell = json_null();
    } else if (!strcmp(c->type, "integer") && json_is_number(first)) {
        cell = json_integer((json_int_t)json_number_value(first));
    } else if (!strcmp(c->type, "number") && json_is_number(first)) {
        cell = json_real(json_number_value(first));
    } else if (!strcmp(c->type, "boolean") && json_is_boolean(first)) {
        cell = json_incref(first);
    } else if (!strcmp(c->type, "date") && json_is_string(first)) {
        cell = table_date_cell(json_string_value(first));
    } else {
        /* Text: several results are joined with commas. */
        GString *s = g_string_new(NULL);
        size_t i;
        json_t *v;
        json_array_foreach(results, i, v) {
            if (i)
                g_string_append_c(s, ',');
            if (json_is_string(v)) {
                g_string_append(s, json_string_value(v));
            } else {
                char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
                g_string_append(s, t ? t : "");
                free(t);
            }
        }
        cell = json_string(s->str);
        g_string_free(s, TRUE);
    }
    json_decref(results);
    return cell;
}

void table_add_row(json_t *table, const resource_t *res, const json_t *obj,
                   table_include_t include)
{
    json_t *cells = json_array();
    json_t *row = json_pack("{s:o}", "cells", cells);
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

    json_array_append_new(cells, json_string(name ? name : ""));
    for (guint i = 0; i < res->columns->len; i++)
        json_array_append_new(cells, table_cell(res->columns->pdata[i], obj));
    if (include == TABLE_INCLUDE_OBJECT) {
        json_object_set(row, "object", (json_t *)obj);
    } else if (include == TABLE_INCLUDE_METADATA) {
        json_t *md = json_object_get(obj, "metadata");
        json_t *pom = json_pack("{s:s,s:s}", "kind", "PartialObjectMetadata", "apiVersion",
                                "meta.k8s.io/v1");
        json_object_set_new(pom, "metadata", md ? json_incref(md) : json_object());
        json_object_set_new(row, "object", pom);
    }
    json_array_append_new(json_object_get(table, "rows"), row);
}

int table_include_parse(const char *s, table_include_t *out)
{
    if (!s || !*s || !strcmp(s, "Metadata"))
        *out = TABLE_INCLUDE_METADATA;
    else if (!strcmp(s, "None"))
        *out = TABLE_INCLUDE_NONE;
    else if (!strcmp(s, "Object"))
        *out = TABLE_INCLUDE_OBJECT;
    else
        return -1;
    return 0;
}
