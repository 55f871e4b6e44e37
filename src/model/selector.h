/*
 * selector: label and field selectors, as in the `labelSelector` and
 * `fieldSelector` query parameters and in metav1.LabelSelector objects.
 *
 * A selector is a conjunction of requirements; one with no requirements
 * selects everything.  A label selector built from a null metav1.LabelSelector
 * is the only selector that selects nothing.  Selectors are immutable once
 * built, so one may be matched from several threads at once.
 *
 * Label keys and values are validated as Kubernetes validates them: a key is
 * an optional DNS-subdomain prefix (at most 253 characters) and '/', then a
 * name of at most 63 characters of [A-Za-z0-9._-] that starts and ends with
 * an alphanumeric; a value is empty or has the shape of such a name.
 *
 * Untrusted text is bounded: SELECTOR_MAX_LEN bytes, SELECTOR_MAX_REQUIREMENTS
 * requirements and SELECTOR_MAX_VALUES set members in one selector.
 */
#ifndef VMSVC_SELECTOR_H
#define VMSVC_SELECTOR_H

#include <jansson.h>
#include <stdbool.h>

#include "util/err.h"

#define SELECTOR_MAX_LEN (16 * 1024)
#define SELECTOR_MAX_REQUIREMENTS 256
#define SELECTOR_MAX_VALUES 8192

typedef struct label_selector label_selector_t;

/* Parse the `labelSelector` query syntax, requirements joined by ',' (AND):
 *   a=b  a==b  a!=b  a in (x,y)  a notin (x,y)  a  !a  a>3  a<3
 * Whitespace between tokens is ignored; set members may be empty ("a in (,x)").
 * A NULL or blank string selects everything.  On error returns NULL with
 * ERR_BAD_REQUEST and a sentence that names the offending part. */
label_selector_t *label_selector_parse(const char *s, err_t *err);

/* Build from a metav1.LabelSelector (matchLabels, and matchExpressions with
 * operator In, NotIn, Exists or DoesNotExist).  A NULL or JSON null selector
 * selects nothing; an empty object selects everything.  On error returns NULL
 * with ERR_INVALID and a sentence naming the field, relative to the selector
 * ("matchExpressions[1].values"). */
label_selector_t *label_selector_from_json(const json_t *sel, err_t *err);

/* Whether an object's labels (a JSON object of strings, or NULL for none)
 * satisfy every requirement.  `!=`, `notin` and `!a` hold for an absent
 * label; a label whose value is not a string counts as absent. */
bool label_selector_matches(const label_selector_t *sel, const json_t *labels);

/* True for a selector that has no requirements and so selects everything. */
bool label_selector_is_empty(const label_selector_t *sel);

void label_selector_free(label_selector_t *sel);

typedef struct field_selector field_selector_t;

/* Parse the `fieldSelector` query syntax: terms joined by ',' (AND), each
 * field=value, field==value or field!=value.  In a value, '\\', ',' and '='
 * are written escaped with a backslash; any other escape, or an unescaped
 * '=' in a value, is an error.  Empty terms are skipped, so NULL or "" selects
 * everything.  `allowed` is a NULL-terminated list of the dotted paths that
 * may be used ("metadata.name"); a field not in it gives ERR_BAD_REQUEST with
 * "field label not supported: <field>" in the message.  A NULL `allowed`
 * accepts every field. */
field_selector_t *field_selector_parse(const char *s, const char *const *allowed,
                                       err_t *err);

/* Whether `obj` satisfies every term.  A field's value is the text at its
 * dotted path: a string as is, a number or boolean as its JSON text; an
 * absent field, null, object or array reads as "". */
bool field_selector_matches(const field_selector_t *sel, const json_t *obj);

/* The value of the first `field=value` (or `==`) term on `field`, borrowed
 * from `sel`, or NULL when there is none.  Lets a list be narrowed to one
 * name before matching. */
const char *field_selector_exact(const field_selector_t *sel, const char *field);

void field_selector_free(field_selector_t *sel);

#endif
