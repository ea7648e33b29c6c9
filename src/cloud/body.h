/*
 * body.h - checking a JSON request body against a table of the fields it
 * may have: types, required fields, ranges, per-value rules, nested objects
 * and arrays, and no unknown fields. The first problem found becomes a
 * struct kerr whose target is the field's path ("rules[2].priority") and
 * whose message starts with that path.
 *
 * Tables are arrays of struct body_field ended by an entry with name NULL.
 * Pure functions of their input: no database, no globals (fuzzed by
 * tests/fuzz/fuzz_cloud_body.c).
 */
#ifndef KUMO_CLOUD_BODY_H
#define KUMO_CLOUD_BODY_H

#include "cloud/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum {
    BT_STRING = 1u << 0,
    BT_INT = 1u << 1,    /* a JSON integer */
    BT_NUMBER = 1u << 2, /* integer or real */
    BT_BOOL = 1u << 3,
    BT_OBJECT = 1u << 4,
    BT_ARRAY = 1u << 5,
    BT_NULL = 1u << 6,
};

/* A value rule: 0 if v is acceptable, else -1 with e filled (400
 * InvalidField, target as given, message starting with the target). */
typedef int (*body_checker)(const json_t *v, const char *target, struct kerr *e);

struct body_field {
    const char *name;
    unsigned types; /* BT_* accepted */
    bool required;
    bool ranged; /* min/max apply: number value, string length, array size */
    double min, max;
    body_checker check;              /* applied to the value (to each element of an array) */
    const struct body_field *fields; /* an object's fields, or an array's element object */
    unsigned elem_types;             /* array elements: BT_* accepted (0 = any) */
};

/* Check obj (must be an object) against fields. prefix is the path of obj
 * ("" for the body itself). 0 or -1 with e filled. */
int body_check(const json_t *obj, const struct body_field *fields, const char *prefix,
               struct kerr *e);

/* The JSON type of v as a word ("a string", "an integer", ...). */
const char *body_type_name(const json_t *v);

/* Convenience accessors for checked bodies (the field is absent or null ->
 * dflt). */
const char *body_str(const json_t *obj, const char *name, const char *dflt);
int64_t body_int(const json_t *obj, const char *name, int64_t dflt);
double body_num(const json_t *obj, const char *name, double dflt);
bool body_has(const json_t *obj, const char *name); /* present, even as null */

#endif
