/*
 * body.c - table-driven checking of JSON request bodies (contract in body.h).
 */
#include "cloud/body.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *body_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static bool type_ok(const json_t *v, unsigned types)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return types & BT_OBJECT;
    case JSON_ARRAY: return types & BT_ARRAY;
    case JSON_STRING: return types & BT_STRING;
    case JSON_INTEGER: return types & (BT_INT | BT_NUMBER);
    case JSON_REAL: return types & BT_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE: return types & BT_BOOL;
    case JSON_NULL: return types & BT_NULL;
    }
    return false;
}

/* "a string or null" */
static void expected(unsigned types, char *buf, size_t len)
{
    static const struct {
        unsigned bit;
        const char *word;
    } words[] = {
        {BT_STRING, "a string"}, {BT_INT, "an integer"},   {BT_NUMBER, "a number"},
        {BT_BOOL, "a boolean"},  {BT_OBJECT, "an object"}, {BT_ARRAY, "an array"},
        {BT_NULL, "null"},
    };
    size_t n = 0, total = 0;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (types & words[i].bit) total++;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (!(types & words[i].bit)) continue;
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s",
                 n == 0           ? ""
                 : n + 1 == total ? " or "
                                  : ", ",
                 words[i].word);
        n++;
    }
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80) n++;
    return n;
}

static int check_value(const json_t *v, const struct body_field *f, const char *target,
                       struct kerr *e);

static int check_range(const json_t *v, const struct body_field *f, const char *target,
                       struct kerr *e)
{
    if (!f->ranged) return 0;
    if (json_is_integer(v) || json_is_real(v)) {
        double d = json_number_value(v);
        if (!isfinite(d) || d < f->min || d > f->max) {
            if (json_is_integer(v) || (f->types & BT_INT))
                return kerr_invalid(e, target,
                                    "%s: %" JSON_INTEGER_FORMAT " is out of range (%.0f to %.0f)",
                                    target, json_integer_value(v), f->min, f->max);
            return kerr_invalid(e, target, "%s: %g is out of range (%g to %g)", target, d, f->min,
                                f->max);
        }
    } else if (json_is_string(v)) {
        size_t n = utf8_chars(json_string_value(v));
        if ((double)n < f->min || (double)n > f->max) {
            if (f->min == f->max)
                return kerr_invalid(e, target, "%s: must be %.0f characters long, not %zu", target,
                                    f->min, n);
            return kerr_invalid(e, target, "%s: must be %.0f to %.0f characters long, not %zu",
                                target, f->min, f->max, n);
        }
    } else if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if ((double)n < f->min || (double)n > f->max)
            return kerr_invalid(e, target, "%s: must have %.0f to %.0f elements, not %zu", target,
                                f->min, f->max, n);
    }
    return 0;
}

static int check_value(const json_t *v, const struct body_field *f, const char *target,
                       struct kerr *e)
{
    char exp[96];
    if (!type_ok(v, f->types)) {
        expected(f->types, exp, sizeof(exp));
        return kerr_invalid(e, target, "%s: expected %s, got %s", target, exp, body_type_name(v));
    }
    if (json_is_null(v)) return 0;
    if (check_range(v, f, target, e) < 0) return -1;
    if (json_is_array(v)) {
        size_t i;
        const json_t *el;
        json_array_foreach(v, i, el)
        {
            char sub[sizeof(e->target)];
            snprintf(sub, sizeof(sub), "%.100s[%zu]", target, i);
            if (f->elem_types && !type_ok(el, f->elem_types)) {
                expected(f->elem_types, exp, sizeof(exp));
                return kerr_invalid(e, sub, "%s: expected %s, got %s", sub, exp,
                                    body_type_name(el));
            }
            if (f->fields && json_is_object(el) && body_check(el, f->fields, sub, e) < 0) return -1;
            if (f->check && f->check(el, sub, e) < 0) return -1;
        }
        return 0;
    }
    if (json_is_object(v) && f->fields && body_check(v, f->fields, target, e) < 0) return -1;
    if (f->check && f->check(v, target, e) < 0) return -1;
    return 0;
}

int body_check(const json_t *obj, const struct body_field *fields, const char *prefix,
               struct kerr *e)
{
    if (!json_is_object(obj)) {
        if (!*prefix)
            return kerr_set(e, 400, "InvalidJson", NULL, "the request body must be a JSON object");
        return kerr_invalid(e, prefix, "%s: expected an object, got %s", prefix,
                            body_type_name(obj));
    }
    char target[sizeof(e->target)];
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        const struct body_field *f = fields;
        while (f->name && strcmp(f->name, key) != 0)
            f++;
        if (f->name) continue;
        char list[384] = "";
        for (f = fields; f->name; f++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", f->name);
        }
        snprintf(target, sizeof(target), "%s%s%.64s", prefix, *prefix ? "." : "", key);
        return kerr_set(e, 400, "UnknownField", target, "%s: unknown field; %s takes: %s", target,
                        *prefix ? prefix : "this request", list[0] ? list : "no fields");
    }
    for (const struct body_field *f = fields; f->name; f++) {
        snprintf(target, sizeof(target), "%s%s%s", prefix, *prefix ? "." : "", f->name);
        v = json_object_get(obj, f->name);
        if (!v) {
            if (f->required) return kerr_missing(e, target, "%s: missing (required)", target);
            continue;
        }
        if (check_value(v, f, target, e) < 0) return -1;
    }
    return 0;
}

const char *body_str(const json_t *obj, const char *name, const char *dflt)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

int64_t body_int(const json_t *obj, const char *name, int64_t dflt)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

double body_num(const json_t *obj, const char *name, double dflt)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

bool body_has(const json_t *obj, const char *name)
{
    return json_object_get(obj, name) != NULL;
}
