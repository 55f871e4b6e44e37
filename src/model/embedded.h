/*
 * embedded: files compiled into the binary (the resource schemas), so that a
 * server started with no flags has its whole API without reading any file.
 * The table ends with an entry whose path is NULL.
 */
#ifndef VMSVC_EMBEDDED_H
#define VMSVC_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *path; /* relative to schemas/, e.g. "core/v1/namespaces.yaml" */
    size_t len;
    const char *data;
};

extern const struct embedded_file embedded_schemas[];

#endif
