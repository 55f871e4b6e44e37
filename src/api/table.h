/*
 * table: Kubernetes Table rendering (meta.k8s.io/v1) for `kubectl get`: a
 * Name column, then the resource's printer columns evaluated with JSONPath.
 */
#ifndef VMSVC_TABLE_H
#define VMSVC_TABLE_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>

#include "model/schema.h"

typedef enum { TABLE_INCLUDE_NONE, TABLE_INCLUDE_METADATA, TABLE_INCLUDE_OBJECT } table_include_t;

/* A new empty Table, with column definitions when `columns` is true. */
json_t *table_new(const resource_t *res, bool columns);
/* Append the row for `obj` (borrowed) to `table`. */
void table_add_row(json_t *table, const resource_t *res, const json_t *obj,
                   table_include_t include);
/* An age in seconds as kubectl prints it ("45s", "3m20s", "5d2h"); g_free. */
char *table_human_age(gint64 secs);
/* Parse the includeObject query value ("" = Metadata). -1 when unknown. */
int table_include_parse(const char *s, table_include_t *out);

#endif
