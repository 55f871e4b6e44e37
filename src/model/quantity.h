/*
 * quantity: Kubernetes resource quantities ("4Gi", "512Mi", "1.5G", "500m",
 * "2", "1e3") as integers.  Binary suffixes Ki Mi Gi Ti Pi Ei, decimal
 * suffixes k M G T P E and m (milli), and decimal exponents are understood.
 */
#ifndef VMSVC_QUANTITY_H
#define VMSVC_QUANTITY_H

#include <jansson.h>
#include <stdint.h>

#include "util/err.h"

/* The value times `scale` (1 for bytes or counts, 1000 for millicores),
 * rounded up, into *out.  Accepts a JSON string or number.  -1 with
 * ERR_INVALID on malformed input, a negative value or overflow. */
int quantity_parse(const json_t *q, int64_t scale, int64_t *out, err_t *err);
int quantity_parse_str(const char *s, int64_t scale, int64_t *out, err_t *err);

/* Bytes in the largest binary unit that divides them ("16Gi", "1536Mi");
 * g_free. */
char *quantity_format_bytes(int64_t bytes);

#endif
