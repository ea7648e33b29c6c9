/*
 * expr.h - the ARM template expression language: parsing "[...]" strings
 * into a tree and evaluating it to a JSON value.
 *
 *   "[concat(resourceId('Microsoft.Network/loadBalancers', 'lb'), '/x')]"
 *   "[reference(resourceId('...', 'ss1'), providers('Microsoft.Compute',
 *     'virtualMachineScaleSets').apiVersions[0])]"
 *
 * Grammar: expr := primary ('.' name | '[' expr ']')* ; primary := 'string'
 * ('' is a quote) | integer | name '(' [expr (',' expr)*] ')'. A JSON string
 * is an expression when it starts with '[' and ends with ']'; "[[..." is
 * the literal "[...".
 *
 * The pure functions (concat, format, if, equals, length, toLower, ...)
 * are here; the ones that need the deployment (parameters, variables,
 * resourceId, reference, providers, copyIndex, subscription, ...) are the
 * caller's, through expr_env.call. if/and/or/coalesce evaluate their
 * arguments lazily, so a reference() in the branch not taken never runs.
 *
 * Contract: the parser accepts any bytes and either returns a tree or NULL
 * with a sentence in err (never crashes, bounded depth and size: it is
 * fuzzed, tests/fuzz/fuzz_arm_expr.c). Evaluation returns a new reference
 * or NULL with err set (code "InvalidTemplate" unless the caller's
 * function chose another).
 */
#ifndef KUMO_CLOUD_ARM_EXPR_H
#define KUMO_CLOUD_ARM_EXPR_H

#include "cloud/arm/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define EXPR_MAX_LEN   32768 /* bytes of one expression */
#define EXPR_MAX_DEPTH 48    /* nesting of calls, members and indexes */
#define EXPR_MAX_ARGS  64

struct expr; /* a parsed expression (opaque) */

struct expr_env {
    void *ctx;
    /* A function the evaluator does not know. Return a new reference; NULL
     * with e set on error; set *unknown (leaving e alone) when the name is
     * not the caller's either. args are evaluated, borrowed. */
    json_t *(*call)(void *ctx, const char *name, json_t *const *args, int nargs, bool *unknown,
                    struct arm_err *e);
};

/* Is s (a JSON string value) an expression? "[[..." is not (it is a
 * literal, see expr_unescape). */
bool expr_is_expression(const char *s);
/* The literal a non-expression string stands for: "[[x]" -> "[x]", else s
 * itself. Returns a pointer into s. */
const char *expr_unescape(const char *s);

/* Parse an expression string (with its brackets). NULL with err set. */
struct expr *expr_parse(const char *s, struct arm_err *err);
void expr_free(struct expr *x);

/* Evaluate. New reference, or NULL with err set. */
json_t *expr_eval(const struct expr *x, const struct expr_env *env, struct arm_err *err);

/* Parse and evaluate in one go. */
json_t *expr_eval_string(const char *s, const struct expr_env *env, struct arm_err *err);

/* Walk the tree: call fn for every function call with its name and number
 * of arguments (used to find reference() and copyIndex() uses). */
void expr_visit_calls(const struct expr *x, void (*fn)(void *ctx, const char *name, int nargs),
                      void *ctx);

/* The deterministic 13-character hash uniqueString() returns (exposed for
 * the tests). */
void expr_unique_string(const char *const *parts, int n, char out[14]);

#endif
