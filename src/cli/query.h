/*
 * query.h - kumo's --query: a subset of JMESPath (https://jmespath.org, the
 * query language of az --query) over jansson values.
 *
 * Supported, with JMESPath's semantics (projections, null propagation,
 * truthiness):
 *   identifiers        name, "quoted name", a.b.c, @ (the current value)
 *   indexes, slices    [0], [-1], [1:3], [::2], [::-1]
 *   projections        [*], .*, [] (flatten), [?filter]
 *   comparisons        == != < <= > >= (ordering: numbers only)
 *   logic              || && ! ( )
 *   literals           `json`, 'raw string'
 *   multi-select       [a, b], {x: a, y: b}
 *   pipes              a | b
 *   functions          length contains starts_with ends_with keys values
 *                      sort sort_by (&expr) join to_string to_number max
 *                      min sum type not_null
 * Not supported: other functions (max_by, min_by, map, merge, reverse,
 * abs, avg, ceil, floor, to_array) and the JEP-12 extensions; an
 * expression that uses them is an error at parse time, never a wrong
 * answer.
 *
 * The expression is the user's (untrusted: fuzzed by
 * tests/fuzz/fuzz_cli_query.c); nesting is limited to QUERY_MAX_DEPTH.
 */
#ifndef KUMO_CLI_QUERY_H
#define KUMO_CLI_QUERY_H

#include <jansson.h>
#include <stddef.h>

#define QUERY_MAX_DEPTH 64
#define QUERY_MAX_LEN   8192

struct query;

/* Parse an expression. NULL with a message in err (naming the position)
 * when it is not one kumo understands. */
struct query *query_parse(const char *expr, char *err, size_t errlen);
/* Evaluate q on data: a new reference (json_null() for JMESPath's null),
 * or NULL with a message in err after a runtime error (a function given
 * the wrong type). data is not changed. */
json_t *query_eval(const struct query *q, const json_t *data, char *err, size_t errlen);
void query_free(struct query *q);

#endif
