/*
 * schema: the table of served resources, loaded from the schema files
 * (schemas/README.md).  One entry per group/version/plural; everything the
 * API derives (routes, discovery, OpenAPI, validation, table columns) reads
 * from here.  The registry is built once at start-up and read-only after.
 */
#ifndef VMSVC_SCHEMA_H
#define VMSVC_SCHEMA_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>

#include "model/jsonpath.h"
#include "util/err.h"

typedef struct printer_column {
    char *name;
    char *type;        /* string|integer|number|boolean|date */
    char *format;      /* NULL, or "count" */
    char *description;
    int priority;
    jsonpath_t *path;
} printer_column_t;

typedef struct resource {
    char *group;       /* "" for core */
    char *version;
    char *kind;
    char *list_kind;
    char *plural;
    char *singular;
    bool namespaced;
    bool has_status;
    bool storage;
    GPtrArray *short_names;  /* char* */
    GPtrArray *categories;   /* char* */
    GPtrArray *columns;      /* printer_column_t* */
    json_t *schema;          /* openAPIV3Schema */
    char *api_version;       /* "v1" or "group/version" */
    char *key_prefix;        /* "<group or core>/<plural>/" */
    char *group_resource;    /* "plural" or "plural.group", as in messages */
} resource_t;

typedef struct registry {
    GPtrArray *resources;    /* resource_t*, in a stable order */
    GPtrArray *groups;       /* char*: groups in order of first appearance, "" first */
    GHashTable *by_plural;   /* plural -> GPtrArray of the resource_t* named so */
} registry_t;

/* Load the schema files compiled into the binary. */
registry_t *registry_load_embedded(err_t *err);
/* Load schema files from a directory tree (tests). */
registry_t *registry_load_dir(const char *dir, err_t *err);
/* Load one schema document (already parsed) into the registry. */
int registry_add(registry_t *reg, const char *origin, const json_t *doc, err_t *err);
void registry_free(registry_t *reg);

const resource_t *registry_find(const registry_t *reg, const char *group,
                                const char *version, const char *plural);
/* By group and kind, any version (the storage version preferred). */
const resource_t *registry_find_kind(const registry_t *reg, const char *group,
                                     const char *kind);
/* Versions served for a group, preferred first. */
GPtrArray *registry_group_versions(const registry_t *reg, const char *group);

/* Schema of a property path inside a resource schema ("spec", "status"), or NULL. */
const json_t *schema_property(const json_t *schema, const char *name);



/* The resource whose storage key prefix `key` starts with (storage version
 * preferred); *ns and *name receive newly allocated parts (g_free), *ns is
 * NULL for cluster-scoped kinds. */
const resource_t *registry_find_by_key(const registry_t *reg, const char *key, char **ns,
                                       char **name);
#endif
