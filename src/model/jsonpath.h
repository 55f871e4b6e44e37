/*
 * jsonpath: the JSONPath dialect of kubectl's `-o jsonpath=` and of CRD
 * additionalPrinterColumns, compiled once and evaluated against many objects.
 *
 * Input is either a bare expression (".status.powerState",
 * ".spec.devices[*].name"; a leading '.' may be left out) or a template of
 * literal text and {…} expressions ("{.involvedObject.kind}/{.metadata.name}").
 * Inside braces a quoted string ({"\n"}) is literal text.  `range` / `end`
 * blocks are not supported.
 *
 * An expression starts at the root ('$' or '@', optional) and applies steps:
 *   .name   .name\.with\.dots   ['name.with.dots']   .*   [*]
 *   [n]  [-n]  [start:end]  [start:end:step]  [0,2]  ['a','b']
 *   ..name  ..*  ..[…]                         (recursive descent)
 *   [?(@.key)]  [?(@.key=="v")]  [?(@.key!="v")]  [?(@.n<3)]  and <= > >=
 * A filter applies to the elements of an array.  Its operands are paths from
 * the element ('@') or the root ('$'), or literals (quoted strings, numbers,
 * true, false, null).  A bare path tests for presence; a comparison holds when
 * some value of the left side compares true with some value of the right,
 * so an element that lacks the field matches neither == nor !=.
 *
 * Missing fields, out-of-range indexes and steps that do not fit the value
 * (an index on an object) select nothing rather than fail, as kubectl does
 * with missing keys allowed.  Evaluation stops growing a result set at
 * JSONPATH_MAX_RESULTS values, so no expression can take unbounded memory.
 * A compiled jsonpath is immutable and may be shared between threads.
 */
#ifndef VMSVC_JSONPATH_H
#define VMSVC_JSONPATH_H

#include <jansson.h>

#include "util/err.h"

#define JSONPATH_MAX_LEN 1024
#define JSONPATH_MAX_RESULTS 100000

typedef struct jsonpath jsonpath_t;

/* Compile a bare expression or a template.  On a syntax error returns NULL
 * with ERR_BAD_REQUEST and a sentence naming the offset and what was found;
 * a caller validating a stored object (a CRD) may re-code it ERR_INVALID. */
jsonpath_t *jsonpath_compile(const char *expr, err_t *err);

/* Every value the expressions select, in order, as a new array whose elements
 * are the selected values themselves (increfed, not copied).  Literal text of
 * a template contributes nothing. */
json_t *jsonpath_eval(const jsonpath_t *jp, const json_t *root);

/* Render as `kubectl -o jsonpath=` prints: literal text as is, and each
 * expression's values separated by one space: strings raw, null as "null",
 * everything else as compact JSON.  Returns a new string freed with g_free. */
char *jsonpath_render(const jsonpath_t *jp, const json_t *root);

void jsonpath_free(jsonpath_t *jp);

#endif
