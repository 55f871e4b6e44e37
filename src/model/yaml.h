/*
 * yaml: YAML request bodies and files to jansson values, and back.
 *
 * Reading follows what the Kubernetes apiserver does with a YAML body: it
 * decodes the first document with go-yaml v2 into untyped Go values, turns
 * that into JSON text and decodes the JSON.  So plain scalars are typed by
 * YAML 1.1 rules (y/yes/on/true... are booleans, 0x1F and 017 are integers,
 * underscores between digits are dropped), and a float whose value is a whole
 * number that fits in 64 bits comes out as an integer, because Go prints
 * 1e3 or 1.0 as "1000" and "1".  Non-string mapping keys become the text Go
 * would print for them ("yes: x" has the key "true").
 *
 * Unlike the apiserver, this reader refuses what would let a small body
 * expand or be read two ways: aliases, a second non-empty document,
 * duplicate keys, nesting deeper than JSON_MAX_DEPTH, and .inf/.nan, which
 * JSON cannot carry.  The size of the input is bounded by the caller; the
 * output is never larger than a small multiple of it.
 *
 * Writing produces one block-style document that reads back, through
 * yaml_parse, to an equal value (a real that holds a whole number reads back
 * as an integer, as above).
 */
#ifndef VMSVC_YAML_H
#define VMSVC_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

/* Parse one YAML document from buf[0..len) (no NUL needed).  An empty stream
 * reads as JSON null.  Returns a new reference, or NULL with ERR_BAD_REQUEST
 * and a sentence naming the line and column. */
json_t *yaml_parse(const char *buf, size_t len, err_t *err);

/* Render v as a YAML document.  Returns NUL-terminated text that the caller
 * frees with free(); NULL only when v holds a string that is not valid UTF-8
 * (which jansson's checked constructors never create). */
char *yaml_emit(const json_t *v);

#endif
