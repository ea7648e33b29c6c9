/*
 * template.c - the deployment template engine (contract in template.h):
 * sections and parameters checked, variables evaluated on first use, copy
 * loops expanded, dependsOn ordered (Kahn's algorithm, template order
 * among equals), then resources evaluated and applied one by one, then
 * outputs.
 */
#include "cloud/arm/template.h"

#include "cloud/arm/apiver.h"
#include "cloud/arm/expr.h"
#include "cloud/arm/id.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_VALUE_DEPTH 64
#define MAX_COPY        800

struct tres {
    const json_t *src; /* the template's resource (borrowed from plan->tpl) */
    int copy_index;    /* -1 outside a copy loop */
    char loop[128];    /* the copy loop's name, or "" */
    char *type, *name, *api;
    char id[ARM_ID_MAX];
    int *deps;
    int ndeps;
    bool applied;
};

struct tpl_plan {
    json_t *tpl;
    struct tpl_host h;
    json_t *params;      /* name -> value */
    json_t *param_types; /* name -> declared type */
    const json_t *var_defs;
    json_t *vars;     /* name -> value, once evaluated */
    json_t *var_busy; /* names being evaluated (cycle detection) */
    struct tres *res;
    size_t nres;
    size_t *order;
    /* evaluation context */
    int copy_index;
    const char *loop;
    const char *phase; /* what is being evaluated, for messages */
    bool allow_reference;
    bool in_param_default;
};

static json_t *env_call(void *ctx, const char *name, json_t *const *a, int n, bool *unknown,
                        struct arm_err *e);

static int tfail(struct arm_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int tfail(struct arm_err *e, const char *fmt, ...)
{
    if (e->status) return -1;
    char msg[1000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return arm_err_set(e, 400, "InvalidTemplate", NULL, "Deployment template validation failed: %s",
                       msg);
}

/* Case-insensitive object member. */
static json_t *get(const json_t *o, const char *name)
{
    if (!json_is_object(o)) return NULL;
    json_t *r = json_object_get(o, name);
    if (r) return r;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (!strcasecmp(k, name)) return v;
    }
    return NULL;
}

/* Evaluate a JSON value: expression strings become their value, "[[" is
 * unescaped, arrays and objects recursively. New reference or NULL + e. */
static json_t *eval_value(struct tpl_plan *p, const json_t *v, struct arm_err *e, int depth)
{
    if (depth > MAX_VALUE_DEPTH) {
        tfail(e, "%s nests deeper than %d levels.", p->phase, MAX_VALUE_DEPTH);
        return NULL;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!expr_is_expression(s)) return json_string(expr_unescape(s));
        struct expr_env env = {.ctx = p, .call = env_call};
        json_t *r = expr_eval_string(s, &env, e);
        if (!r && e->status == 400 && !strcmp(e->code, "InvalidTemplate") &&
            !strstr(e->message, " (in ")) {
            size_t at = strlen(e->message);
            snprintf(e->message + at, sizeof(e->message) - at, " (in %s)", p->phase);
        }
        return r;
    }
    if (json_is_array(v)) {
        json_t *r = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            json_t *y = eval_value(p, x, e, depth + 1);
            if (!y) {
                json_decref(r);
                return NULL;
            }
            json_array_append_new(r, y);
        }
        return r;
    }
    if (json_is_object(v)) {
        json_t *r = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            json_t *y = eval_value(p, x, e, depth + 1);
            if (!y) {
                json_decref(r);
                return NULL;
            }
            json_object_set_new(r, k, y);
        }
        return r;
    }
    return json_incref((json_t *)v);
}

/* Evaluate to a string (names, types); NULL + e. */
static char *eval_string(struct tpl_plan *p, const json_t *v, const char *what, struct arm_err *e)
{
    json_t *r = v ? eval_value(p, v, e, 0) : NULL;
    if (!v) {
        tfail(e, "%s is missing.", what);
        return NULL;
    }
    if (!r) return NULL;
    char *s = json_is_string(r) ? strdup(json_string_value(r)) : NULL;
    if (!json_is_string(r)) tfail(e, "%s must be a string.", what);
    json_decref(r);
    return s;
}

/* ---- parameters ---- */

static bool type_ok(const char *type, const json_t *v)
{
    if (!strcasecmp(type, "string") || !strcasecmp(type, "securestring")) return json_is_string(v);
    if (!strcasecmp(type, "int")) return json_is_integer(v);
    if (!strcasecmp(type, "bool")) return json_is_boolean(v);
    if (!strcasecmp(type, "object") || !strcasecmp(type, "secureObject")) return json_is_object(v);
    if (!strcasecmp(type, "array")) return json_is_array(v);
    return false;
}

static int check_param(const char *name, const json_t *def, const char *type, const json_t *v,
                       struct arm_err *e)
{
    if (!type_ok(type, v))
        return arm_err_set(e, 400, "InvalidTemplate", name,
                           "Template parameter '%s' is of type '%s' but got a value of another "
                           "type.",
                           name, type);
    json_t *allowed = get(def, "allowedValues");
    if (allowed) {
        bool found = false;
        size_t i;
        json_t *x;
        json_array_foreach(allowed, i, x)
        {
            if (json_equal(x, v)) found = true;
        }
        if (!found)
            return arm_err_set(e, 400, "InvalidTemplate", name,
                               "The provided value for the template parameter '%s' is not valid: "
                               "it is not one of its allowedValues.",
                               name);
    }
    json_t *mn = get(def, "minValue"), *mx = get(def, "maxValue");
    if (json_is_integer(v) &&
        ((json_is_integer(mn) && json_integer_value(v) < json_integer_value(mn)) ||
         (json_is_integer(mx) && json_integer_value(v) > json_integer_value(mx))))
        return arm_err_set(e, 400, "InvalidTemplate", name,
                           "The provided value for the template parameter '%s' is outside its "
                           "minValue/maxValue.",
                           name);
    json_t *ml = get(def, "minLength"), *xl = get(def, "maxLength");
    long long len = json_is_string(v)  ? (long long)json_string_length(v)
                    : json_is_array(v) ? (long long)json_array_size(v)
                                       : -1;
    if (len >= 0 && ((json_is_integer(ml) && len < json_integer_value(ml)) ||
                     (json_is_integer(xl) && len > json_integer_value(xl))))
        return arm_err_set(e, 400, "InvalidTemplate", name,
                           "The provided value for the template parameter '%s' is shorter or "
                           "longer than its minLength/maxLength.",
                           name);
    return 0;
}

static int prepare_params(struct tpl_plan *p, const json_t *decl, const json_t *given,
                          struct arm_err *e)
{
    if (decl && !json_is_object(decl)) return tfail(e, "'parameters' must be an object.");
    if (given && !json_is_null(given) && !json_is_object(given))
        return arm_err_set(e, 400, "InvalidRequestContent", "properties.parameters",
                           "The deployment's parameters must be an object "
                           "{\"name\":{\"value\":...}}.");
    const char *k;
    json_t *v;
    /* undeclared ones first: a typo is the likeliest mistake */
    char extra[512] = "";
    json_object_foreach((json_t *)given, k, v)
    {
        if (!get(decl, k)) {
            size_t at = strlen(extra);
            snprintf(extra + at, sizeof(extra) - at, "%s'%s'", at ? ", " : "", k);
        }
    }
    if (extra[0])
        return arm_err_set(e, 400, "InvalidTemplate", "properties.parameters",
                           "Deployment template validation failed: the following parameters "
                           "were supplied, but do not correspond to any parameters defined in the "
                           "template: %s.",
                           extra);
    json_object_foreach((json_t *)decl, k, v)
    {
        if (!json_is_object(v)) return tfail(e, "the parameter '%s' must be an object.", k);
        json_t *type = get(v, "type");
        static const char *const types[] = {"string", "securestring", "int",  "bool",
                                            "object", "secureObject", "array"};
        bool known = false;
        for (size_t i = 0; json_is_string(type) && i < sizeof(types) / sizeof(types[0]); i++)
            if (!strcasecmp(json_string_value(type), types[i])) known = true;
        if (!known)
            return tfail(e,
                         "the parameter '%s' has no valid type (string, securestring, int, "
                         "bool, object, secureObject, array).",
                         k);
        json_t *g = get(given, k);
        json_t *val = NULL;
        if (g) {
            if (!json_is_object(g) || !json_object_get(g, "value")) {
                if (json_is_object(g) && json_object_get(g, "reference"))
                    return arm_err_set(e, 400, "InvalidTemplate", k,
                                       "The parameter '%s' refers to a key vault: kumo has no key "
                                       "vaults; give its value.",
                                       k);
                return arm_err_set(e, 400, "InvalidTemplate", k,
                                   "The deployment parameter '%s' must be {\"value\": ...}.", k);
            }
            val = json_incref(json_object_get(g, "value"));
        } else if (get(v, "defaultValue")) {
            char phase[200];
            snprintf(phase, sizeof(phase), "the default value of parameter '%s'", k);
            p->phase = phase;
            p->in_param_default = true;
            val = eval_value(p, get(v, "defaultValue"), e, 0);
            p->in_param_default = false;
            if (!val) return -1;
        } else {
            return arm_err_set(e, 400, "InvalidTemplate", k,
                               "Deployment template validation failed: the value for the template "
                               "parameter '%s' is not provided.",
                               k);
        }
        if (check_param(k, v, json_string_value(type), val, e) < 0) {
            json_decref(val);
            return -1;
        }
        json_object_set_new(p->params, k, val);
        json_object_set_new(p->param_types, k, json_string(json_string_value(type)));
    }
    return 0;
}

/* ---- resources ---- */

/* The resource id of type + name ("vnet/subnet" for child types). */
static int make_id(struct tpl_plan *p, const char *type, const char *name, char *out, size_t len,
                   struct arm_err *e)
{
    char buf[ARM_ID_MAX];
    snprintf(buf, sizeof(buf), "%s", name);
    const char *names[ARM_ID_MAX_DEPTH + 1];
    int n = 0;
    char *save = NULL;
    for (char *s = strtok_r(buf, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (n == ARM_ID_MAX_DEPTH + 1) break;
        names[n++] = s;
    }
    struct arm_id id;
    char err[300];
    if (arm_id_build(&id, p->h.subscription, p->h.group, type, names, n, err, sizeof(err)) < 0)
        return tfail(e, "the resource '%s' of type '%s': %s.", name, type, err);
    arm_id_format(&id, out, len);
    return 0;
}

static int add_resource(struct tpl_plan *p, const json_t *src, int copy_index, const char *loop,
                        size_t tidx, struct arm_err *e)
{
    if (p->nres == TPL_MAX_RESOURCES)
        return tfail(e, "the template makes more than %d resources.", TPL_MAX_RESOURCES);
    p->copy_index = copy_index;
    p->loop = loop;
    char phase[160];
    snprintf(phase, sizeof(phase), "resources[%zu]", tidx);
    p->phase = phase;
    json_t *cond = get(src, "condition");
    if (cond) {
        json_t *c = eval_value(p, cond, e, 0);
        if (!c) return -1;
        bool ok = json_is_boolean(c), on = json_is_true(c);
        json_decref(c);
        if (!ok) return tfail(e, "resources[%zu].condition must be a boolean.", tidx);
        if (!on) return 0;
    }
    struct tres r = {.src = src, .copy_index = copy_index};
    snprintf(r.loop, sizeof(r.loop), "%s", loop ? loop : "");
    char what[64];
    snprintf(what, sizeof(what), "resources[%zu].type", tidx);
    r.type = eval_string(p, get(src, "type"), what, e);
    snprintf(what, sizeof(what), "resources[%zu].name", tidx);
    r.name = r.type ? eval_string(p, get(src, "name"), what, e) : NULL;
    snprintf(what, sizeof(what), "resources[%zu].apiVersion", tidx);
    r.api = r.name ? eval_string(p, get(src, "apiVersion"), what, e) : NULL;
    if (!r.api) goto fail;
    snprintf(phase, sizeof(phase), "the resource '%s/%s'", r.type, r.name);
    if (!arm_apiver_well_formed(r.api)) {
        tfail(e, "%s has apiVersion '%.40s', not a date such as 2020-06-01.", phase, r.api);
        goto fail;
    }
    if (make_id(p, r.type, r.name, r.id, sizeof(r.id), e) < 0) goto fail;
    for (size_t i = 0; i < p->nres; i++)
        if (!strcasecmp(p->res[i].id, r.id)) {
            tfail(e, "the resource '%s' is defined multiple times in the template.", r.id);
            goto fail;
        }
    if (get(src, "resources") && json_array_size(get(src, "resources"))) {
        tfail(e,
              "%s has nested resources: kumo takes child resources at the top level "
              "(type 'Parent/child', name 'parent/child').",
              phase);
        goto fail;
    }
    if (get(src, "scope") || get(src, "existing")) {
        tfail(e, "%s uses 'scope' or 'existing', which kumo does not support.", phase);
        goto fail;
    }
    struct tres *nr = realloc(p->res, (p->nres + 1) * sizeof(*nr));
    if (!nr) goto fail;
    p->res = nr;
    p->res[p->nres++] = r;
    return 0;
fail:
    free(r.type);
    free(r.name);
    free(r.api);
    return -1;
}

static int expand_resources(struct tpl_plan *p, const json_t *resources, struct arm_err *e)
{
    if (!json_is_array(resources)) return tfail(e, "'resources' must be an array.");
    size_t i;
    json_t *src;
    json_array_foreach(resources, i, src)
    {
        if (!json_is_object(src)) return tfail(e, "resources[%zu] must be an object.", i);
        json_t *copy = get(src, "copy");
        if (!copy) {
            if (add_resource(p, src, -1, NULL, i, e) < 0) return -1;
            continue;
        }
        char phase[64];
        snprintf(phase, sizeof(phase), "resources[%zu].copy", i);
        p->phase = phase;
        p->copy_index = -1;
        p->loop = NULL;
        json_t *name = get(copy, "name");
        json_t *count = get(copy, "count") ? eval_value(p, get(copy, "count"), e, 0) : NULL;
        if (!count && !e->status) tfail(e, "resources[%zu].copy needs a count.", i);
        if (!count) return -1;
        bool ok = json_is_integer(count);
        long long c = json_integer_value(count);
        json_decref(count);
        if (!json_is_string(name) || !json_string_length(name))
            return tfail(e, "resources[%zu].copy needs a name.", i);
        if (!ok || c < 0 || c > MAX_COPY)
            return tfail(e, "resources[%zu].copy.count must be an integer from 0 to %d.", i,
                         MAX_COPY);
        for (long long k = 0; k < c; k++)
            if (add_resource(p, src, (int)k, json_string_value(name), i, e) < 0) return -1;
    }
    return 0;
}

/* Which resources does dependsOn entry s name? Appends indexes to deps. */
static int resolve_dep(struct tpl_plan *p, size_t self, const char *s, int **deps, int *nd,
                       struct arm_err *e)
{
    bool found = false;
    char id[ARM_ID_MAX] = "";
    if (s[0] == '/') {
        struct arm_id a;
        char err[300];
        if (arm_id_parse(s, &a, err, sizeof(err)) < 0)
            return tfail(e, "the resource '%s' depends on '%.200s': %s.", p->res[self].id, s, err);
        arm_id_format(&a, id, sizeof(id));
    } else if (strchr(s, '/')) {
        /* Namespace/type[/type2]/name[/name2] */
        char buf[ARM_ID_MAX], type[ARM_ID_MAX] = "", name[ARM_ID_MAX] = "";
        snprintf(buf, sizeof(buf), "%s", s);
        char *save = NULL;
        int k = 0;
        for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save), k++) {
            char *dst = (k == 0 || k % 2 == 1) ? type : name;
            size_t at = strlen(dst);
            snprintf(dst + at, sizeof(type) - at, "%s%s", at ? "/" : "", t);
        }
        struct arm_err ie = {0};
        if (k < 3 || make_id(p, type, name, id, sizeof(id), &ie) < 0) {
            arm_err_clear(&ie);
            return tfail(e,
                         "the resource '%s' depends on '%.200s', which is neither a resource "
                         "id, 'Namespace/type/name' nor a name in the template.",
                         p->res[self].id, s);
        }
    }
    for (size_t j = 0; j < p->nres; j++) {
        bool hit = id[0] ? !strcasecmp(p->res[j].id, id)
                         : (!strcasecmp(p->res[j].name, s) || !strcasecmp(p->res[j].loop, s));
        if (!hit || j == self) continue;
        found = true;
        int *nd2 = realloc(*deps, (size_t)(*nd + 1) * sizeof(int));
        if (!nd2) return -1;
        *deps = nd2;
        (*deps)[(*nd)++] = (int)j;
    }
    if (!found)
        return tfail(e,
                     "the resource '%s' depends on '%.200s', which is not defined in the "
                     "template.",
                     p->res[self].id, s);
    return 0;
}

static int order_resources(struct tpl_plan *p, struct arm_err *e)
{
    for (size_t i = 0; i < p->nres; i++) {
        struct tres *r = &p->res[i];
        json_t *d = get(r->src, "dependsOn");
        if (!d) continue;
        p->copy_index = r->copy_index;
        p->loop = r->loop[0] ? r->loop : NULL;
        char phase[ARM_ID_MAX + 32];
        snprintf(phase, sizeof(phase), "the dependsOn of '%s'", r->id);
        p->phase = phase;
        json_t *dv = eval_value(p, d, e, 0);
        if (!dv) return -1;
        if (!json_is_array(dv)) {
            json_decref(dv);
            return tfail(e, "the dependsOn of '%s' must be an array of strings.", r->id);
        }
        size_t k;
        json_t *x;
        json_array_foreach(dv, k, x)
        {
            bool is_str = json_is_string(x);
            if (!is_str || resolve_dep(p, i, json_string_value(x), &r->deps, &r->ndeps, e) < 0) {
                json_decref(dv);
                return is_str
                           ? -1
                           : tfail(e, "the dependsOn of '%s' must be an array of strings.", r->id);
            }
        }
        json_decref(dv);
    }
    /* Kahn: repeatedly take the first resource (template order) whose
     * dependencies are all placed. */
    p->order = calloc(p->nres ? p->nres : 1, sizeof(*p->order));
    bool *placed = calloc(p->nres ? p->nres : 1, sizeof(bool));
    if (!p->order || !placed) {
        free(placed);
        return tfail(e, "out of memory.");
    }
    for (size_t n = 0; n < p->nres; n++) {
        size_t pick = p->nres;
        for (size_t i = 0; i < p->nres && pick == p->nres; i++) {
            if (placed[i]) continue;
            bool ready = true;
            for (int d = 0; d < p->res[i].ndeps; d++)
                if (!placed[p->res[i].deps[d]]) ready = false;
            if (ready) pick = i;
        }
        if (pick == p->nres) {
            size_t first = 0;
            while (placed[first])
                first++;
            free(placed);
            return tfail(e, "circular dependency detected on resource '%s'.", p->res[first].id);
        }
        placed[pick] = true;
        p->order[n] = pick;
    }
    free(placed);
    return 0;
}

/* ---- the deployment's functions ---- */

static json_t *fn_err(struct arm_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_t *fn_err(struct arm_err *e, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    arm_err_set(e, 400, "InvalidTemplate", NULL, "%s", msg);
    return NULL;
}

static json_t *fn_variable(struct tpl_plan *p, const char *name, struct arm_err *e)
{
    json_t *v = get(p->vars, name);
    if (v) return json_incref(v);
    json_t *def = get(p->var_defs, name);
    if (!def) return fn_err(e, "The template variable '%.100s' is not found.", name);
    if (get(p->var_busy, name))
        return fn_err(e,
                      "The template variable '%.100s' refers to itself (through other "
                      "variables).",
                      name);
    if (json_object_size(p->var_busy) >= 64)
        return fn_err(e, "The template variables refer to each other more than 64 deep.");
    json_object_set_new(p->var_busy, name, json_true());
    const char *saved_phase = p->phase;
    bool saved_ref = p->allow_reference;
    char phase[200];
    snprintf(phase, sizeof(phase), "the variable '%.100s'", name);
    p->phase = phase;
    p->allow_reference = false;
    v = eval_value(p, def, e, 0);
    p->phase = saved_phase;
    p->allow_reference = saved_ref;
    json_object_del(p->var_busy, name);
    if (!v) return NULL;
    json_object_set(p->vars, name, v);
    return v;
}

/* resourceId-style: [sub], [group], type, names... */
static json_t *fn_resource_id(struct tpl_plan *p, const char *fname, json_t *const *a, int n,
                              int max_scope, struct arm_err *e)
{
    for (int i = 0; i < n; i++)
        if (!json_is_string(a[i]))
            return fn_err(e, "The template function '%s' takes strings: argument %d is not one.",
                          fname, i + 1);
    /* the type is the first argument with a '/' within the scope arguments */
    int t = -1;
    for (int i = 0; i <= max_scope && i < n; i++)
        if (strchr(json_string_value(a[i]), '/')) {
            t = i;
            break;
        }
    if (t < 0 || n - t - 1 < 1)
        return fn_err(e,
                      "The template function '%s' needs a resource type "
                      "('Namespace/type') and its names.",
                      fname);
    const char *sub = p->h.subscription, *group = p->h.group;
    if (max_scope == 2) { /* resourceId */
        if (t == 2) {
            sub = json_string_value(a[0]);
            group = json_string_value(a[1]);
        } else if (t == 1) {
            group = json_string_value(a[0]);
        }
    } else if (max_scope == 1) { /* subscriptionResourceId */
        group = "";
        if (t == 1) sub = json_string_value(a[0]);
    } else { /* tenantResourceId */
        sub = "";
        group = "";
    }
    const char *names[ARM_ID_MAX_DEPTH];
    int nn = n - t - 1;
    if (nn > ARM_ID_MAX_DEPTH)
        return fn_err(e, "The template function '%s' got too many names.", fname);
    for (int i = 0; i < nn; i++)
        names[i] = json_string_value(a[t + 1 + i]);
    struct arm_id id;
    char err[300], out[ARM_ID_MAX];
    if (arm_id_build(&id, sub, group, json_string_value(a[t]), names, nn, err, sizeof(err)) < 0)
        return fn_err(e, "The template function '%s': %s.", fname, err);
    arm_id_format(&id, out, sizeof(out));
    return json_string(out);
}

static json_t *fn_reference(struct tpl_plan *p, json_t *const *a, int n, struct arm_err *e)
{
    if (!p->allow_reference)
        return fn_err(e,
                      "The template function 'reference' is not expected in %s: it can be "
                      "used in resource properties and outputs only.",
                      p->phase);
    if (n < 1 || n > 3 || !json_is_string(a[0]) || (n > 1 && !json_is_string(a[1])) ||
        (n > 2 && !json_is_string(a[2])))
        return fn_err(e, "The template function 'reference' takes a resource id or name, an "
                         "optional apiVersion and an optional 'Full'.");
    const char *target = json_string_value(a[0]);
    bool full = n > 2 && !strcasecmp(json_string_value(a[2]), "Full");
    if (n > 2 && !full)
        return fn_err(e, "The template function 'reference': the third argument must be "
                         "'Full'.");
    char id[ARM_ID_MAX];
    if (target[0] == '/') {
        struct arm_id ai;
        char err[300];
        if (arm_id_parse(target, &ai, err, sizeof(err)) < 0)
            return fn_err(e, "The template function 'reference': %s.", err);
        arm_id_format(&ai, id, sizeof(id));
    } else {
        id[0] = 0;
        for (size_t i = 0; i < p->nres; i++)
            if (!strcasecmp(p->res[i].name, target)) {
                if (id[0])
                    return fn_err(e,
                                  "The template function 'reference': the name '%.100s' is "
                                  "ambiguous in the template: use resourceId().",
                                  target);
                snprintf(id, sizeof(id), "%s", p->res[i].id);
            }
        if (!id[0])
            return fn_err(e,
                          "The template function 'reference': no resource '%.100s' in the "
                          "template (give a resource id for other resources).",
                          target);
    }
    for (size_t i = 0; i < p->nres; i++)
        if (!strcasecmp(p->res[i].id, id) && !p->res[i].applied)
            return fn_err(e,
                          "The template function 'reference' refers to '%s', which is not "
                          "deployed yet when %s is evaluated: add it to dependsOn.",
                          id, p->phase);
    if (!p->h.reference) return fn_err(e, "The template function 'reference' is not available.");
    return p->h.reference(p->h.ctx, id, n > 1 ? json_string_value(a[1]) : NULL, full, e);
}

static json_t *fn_providers(json_t *const *a, int n, struct arm_err *e)
{
    if (n < 1 || n > 2 || !json_is_string(a[0]) || (n == 2 && !json_is_string(a[1])))
        return fn_err(e, "The template function 'providers' takes a namespace and an optional "
                         "resource type.");
    const char *ns = json_string_value(a[0]);
    json_t *prov = arm_apiver_provider_json(ns, "");
    if (!prov)
        return fn_err(e, "The template function 'providers': kumo has no provider '%.100s'.", ns);
    if (n == 1) {
        json_object_del(prov, "id");
        return prov;
    }
    const char *type = json_string_value(a[1]);
    size_t i;
    json_t *rt;
    json_array_foreach(json_object_get(prov, "resourceTypes"), i, rt)
    {
        if (!strcasecmp(json_string_value(json_object_get(rt, "resourceType")), type)) {
            json_incref(rt);
            json_decref(prov);
            return rt;
        }
    }
    json_decref(prov);
    return fn_err(e,
                  "The template function 'providers': the provider '%.100s' has no resource "
                  "type '%.100s'.",
                  ns, type);
}

static json_t *env_call(void *ctx, const char *name, json_t *const *a, int n, bool *unknown,
                        struct arm_err *e)
{
    struct tpl_plan *p = ctx;
    if (!strcasecmp(name, "parameters")) {
        if (n != 1 || !json_is_string(a[0]))
            return fn_err(e, "The template function 'parameters' takes a parameter name.");
        json_t *v = get(p->params, json_string_value(a[0]));
        if (!v)
            return fn_err(e, "The template parameter '%.100s' is not found%s.",
                          json_string_value(a[0]),
                          p->in_param_default ? " (or not yet known: parameters are read in "
                                                "order)"
                                              : "");
        return json_incref(v);
    }
    if (!strcasecmp(name, "variables")) {
        if (n != 1 || !json_is_string(a[0]))
            return fn_err(e, "The template function 'variables' takes a variable name.");
        if (p->in_param_default)
            return fn_err(e, "The template function 'variables' cannot be used in a parameter's "
                             "default value.");
        return fn_variable(p, json_string_value(a[0]), e);
    }
    if (!strcasecmp(name, "copyIndex")) {
        const char *loop = NULL;
        long long offset = 0;
        for (int i = 0; i < n; i++) {
            if (json_is_string(a[i]) && i == 0)
                loop = json_string_value(a[i]);
            else if (json_is_integer(a[i]))
                offset = json_integer_value(a[i]);
            else
                return fn_err(e, "The template function 'copyIndex' takes an optional loop name "
                                 "and an optional integer offset.");
        }
        if (p->copy_index < 0 || (loop && p->loop && strcasecmp(loop, p->loop)))
            return fn_err(e,
                          "The template function 'copyIndex' is not expected here: %s is not "
                          "in the copy loop%s%s.",
                          p->phase, loop ? " " : "", loop ? loop : "");
        return json_integer(p->copy_index + offset);
    }
    if (!strcasecmp(name, "resourceId")) return fn_resource_id(p, name, a, n, 2, e);
    if (!strcasecmp(name, "subscriptionResourceId")) return fn_resource_id(p, name, a, n, 1, e);
    if (!strcasecmp(name, "tenantResourceId")) return fn_resource_id(p, name, a, n, 0, e);
    if (!strcasecmp(name, "reference")) return fn_reference(p, a, n, e);
    if (!strcasecmp(name, "providers")) return fn_providers(a, n, e);
    char id[ARM_ID_MAX];
    if (!strcasecmp(name, "subscription")) {
        snprintf(id, sizeof(id), "/subscriptions/%s", p->h.subscription);
        return json_pack("{s:s, s:s, s:s, s:s}", "id", id, "subscriptionId", p->h.subscription,
                         "tenantId", p->h.tenant ? p->h.tenant : "", "displayName", "kumo");
    }
    if (!strcasecmp(name, "resourceGroup")) {
        snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s", p->h.subscription,
                 p->h.group);
        return json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "id", id, "name", p->h.group, "type",
                         "Microsoft.Resources/resourceGroups", "location",
                         p->h.location ? p->h.location : "local", "properties", "provisioningState",
                         "Succeeded");
    }
    if (!strcasecmp(name, "deployment")) {
        json_t *tplv = get(p->tpl, "contentVersion");
        return json_pack("{s:s, s:{s:{s:s}, s:s}}", "name", p->h.deployment ? p->h.deployment : "",
                         "properties", "template", "contentVersion",
                         json_is_string(tplv) ? json_string_value(tplv) : "1.0.0.0", "mode",
                         "Incremental");
    }
    *unknown = true;
    return NULL;
}

/* Parse (without evaluating) every expression under v. */
static int check_syntax(const json_t *v, const char *where, struct arm_err *e, int depth)
{
    if (depth > MAX_VALUE_DEPTH)
        return tfail(e, "%s nests deeper than %d levels.", where, MAX_VALUE_DEPTH);
    if (json_is_string(v) && expr_is_expression(json_string_value(v))) {
        struct expr *x = expr_parse(json_string_value(v), e);
        if (!x) {
            size_t at = strlen(e->message);
            snprintf(e->message + at, sizeof(e->message) - at, " (in %s)", where);
            return -1;
        }
        expr_free(x);
        return 0;
    }
    char sub[300];
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            snprintf(sub, sizeof(sub), "%.200s[%zu]", where, i);
            if (check_syntax(x, sub, e, depth + 1) < 0) return -1;
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            snprintf(sub, sizeof(sub), "%.200s.%.60s", where, k);
            if (check_syntax(x, sub, e, depth + 1) < 0) return -1;
        }
    }
    return 0;
}

/* ---- the public functions ---- */

static const char *const sections[] = {"$schema",   "contentVersion",  "apiProfile", "parameters",
                                       "variables", "functions",       "resources",  "outputs",
                                       "metadata",  "languageVersion", "definitions"};

struct tpl_plan *tpl_prepare(const json_t *tpl, const json_t *deploy_params,
                             const struct tpl_host *h, struct arm_err *e)
{
    if (!json_is_object(tpl)) {
        tfail(e, "the template must be a JSON object.");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tpl, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
            if (!strcasecmp(k, sections[i])) known = true;
        if (!known) {
            tfail(e, "the template has an unknown section '%.60s'.", k);
            return NULL;
        }
    }
    json_t *fns = get(tpl, "functions");
    if (fns && json_array_size(fns)) {
        tfail(e, "the template defines functions, which kumo does not support.");
        return NULL;
    }
    if (get(tpl, "languageVersion") || get(tpl, "definitions")) {
        tfail(e, "the template uses languageVersion 2.0 (symbolic names), which kumo does not "
                 "support.");
        return NULL;
    }
    if (!get(tpl, "resources")) {
        tfail(e, "the template has no 'resources'.");
        return NULL;
    }
    struct tpl_plan *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->tpl = json_incref((json_t *)tpl);
    p->h = *h;
    p->params = json_object();
    p->param_types = json_object();
    p->vars = json_object();
    p->var_busy = json_object();
    p->var_defs = get(tpl, "variables");
    p->copy_index = -1;
    p->phase = "the template";
    if (p->var_defs && !json_is_object(p->var_defs)) {
        tfail(e, "'variables' must be an object.");
        goto fail;
    }
    if (get(p->var_defs, "copy")) {
        tfail(e, "variable copy loops are not supported by kumo.");
        goto fail;
    }
    json_t *outs = get(tpl, "outputs");
    if (outs && !json_is_object(outs)) {
        tfail(e, "'outputs' must be an object.");
        goto fail;
    }
    if (prepare_params(p, get(tpl, "parameters"), deploy_params, e) < 0) goto fail;
    /* every variable once, so that an error in an unused one still shows */
    json_object_foreach((json_t *)p->var_defs, k, v)
    {
        json_t *x = fn_variable(p, k, e);
        if (!x) goto fail;
        json_decref(x);
    }
    if (expand_resources(p, get(tpl, "resources"), e) < 0) goto fail;
    if (order_resources(p, e) < 0) goto fail;
    /* every expression in resources and outputs must at least parse */
    if (check_syntax(get(tpl, "resources"), "resources", e, 0) < 0 ||
        check_syntax(outs, "outputs", e, 0) < 0)
        goto fail;
    return p;
fail:
    tpl_free(p);
    return NULL;
}

int tpl_apply(struct tpl_plan *p, struct arm_err *e)
{
    for (size_t n = 0; n < p->nres; n++) {
        struct tres *r = &p->res[p->order[n]];
        p->copy_index = r->copy_index;
        p->loop = r->loop[0] ? r->loop : NULL;
        char phase[ARM_ID_MAX + 32];
        snprintf(phase, sizeof(phase), "the resource '%s'", r->id);
        p->phase = phase;
        p->allow_reference = true;
        json_t *body = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)r->src, k, v)
        {
            if (!strcasecmp(k, "copy") || !strcasecmp(k, "condition") ||
                !strcasecmp(k, "dependsOn") || !strcasecmp(k, "comments"))
                continue;
            json_t *x;
            if (!strcasecmp(k, "type"))
                x = json_string(r->type);
            else if (!strcasecmp(k, "name"))
                x = json_string(r->name);
            else if (!strcasecmp(k, "apiVersion"))
                x = json_string(r->api);
            else
                x = eval_value(p, v, e, 0);
            if (!x) {
                json_decref(body);
                snprintf(e->target, sizeof(e->target), "%s", r->id);
                return -1;
            }
            json_object_set_new(body, k, x);
        }
        if (!get(body, "location") && p->h.location)
            json_object_set_new(body, "location", json_string(p->h.location));
        int rc = p->h.apply(p->h.ctx, r->id, body, e);
        json_decref(body);
        if (rc < 0) {
            if (!e->status) arm_err_set(e, 500, "InternalServerError", NULL, "the resource failed");
            if (!e->target[0]) snprintf(e->target, sizeof(e->target), "%s", r->id);
            return -1;
        }
        r->applied = true;
    }
    return 0;
}

void tpl_mark_applied(struct tpl_plan *p)
{
    for (size_t i = 0; i < p->nres; i++)
        p->res[i].applied = true;
}

json_t *tpl_outputs(struct tpl_plan *p, struct arm_err *e)
{
    json_t *out = json_object();
    json_t *defs = get(p->tpl, "outputs");
    const char *k;
    json_t *v;
    p->copy_index = -1;
    p->loop = NULL;
    p->allow_reference = true;
    json_object_foreach(defs, k, v)
    {
        char phase[200];
        snprintf(phase, sizeof(phase), "the output '%.100s'", k);
        p->phase = phase;
        json_t *type = get(v, "type");
        json_t *cond = get(v, "condition");
        if (cond) {
            json_t *c = eval_value(p, cond, e, 0);
            if (!c) goto fail;
            bool on = json_is_true(c);
            json_decref(c);
            if (!on) continue;
        }
        if (!json_is_object(v) || !json_is_string(type) || !get(v, "value")) {
            tfail(e, "the output '%.100s' needs a type and a value.", k);
            goto fail;
        }
        json_t *val = eval_value(p, get(v, "value"), e, 0);
        if (!val) goto fail;
        /* ARM echoes the declared type capitalised: "Object", "String" */
        char t[32];
        snprintf(t, sizeof(t), "%s", json_string_value(type));
        t[0] = (char)((t[0] >= 'a' && t[0] <= 'z') ? t[0] - 32 : t[0]);
        json_object_set_new(out, k, json_pack("{s:s, s:o}", "type", t, "value", val));
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

size_t tpl_count(const struct tpl_plan *p)
{
    return p->nres;
}

const char *tpl_resource_id(const struct tpl_plan *p, size_t i)
{
    return i < p->nres ? p->res[p->order[i]].id : NULL;
}

const char *tpl_resource_type(const struct tpl_plan *p, size_t i)
{
    return i < p->nres ? p->res[p->order[i]].type : NULL;
}

json_t *tpl_parameters_json(const struct tpl_plan *p)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(p->params, k, v)
    {
        const char *type = json_string_value(json_object_get(p->param_types, k));
        char t[32];
        snprintf(t, sizeof(t), "%s", type ? type : "String");
        t[0] = (char)((t[0] >= 'a' && t[0] <= 'z') ? t[0] - 32 : t[0]);
        bool secure =
            type && (!strcasecmp(type, "securestring") || !strcasecmp(type, "secureObject"));
        json_t *o = json_pack("{s:s}", "type", t);
        if (!secure) json_object_set(o, "value", v);
        json_object_set_new(out, k, o);
    }
    return out;
}

void tpl_free(struct tpl_plan *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nres; i++) {
        free(p->res[i].type);
        free(p->res[i].name);
        free(p->res[i].api);
        free(p->res[i].deps);
    }
    free(p->res);
    free(p->order);
    json_decref(p->tpl);
    json_decref(p->params);
    json_decref(p->param_types);
    json_decref(p->vars);
    json_decref(p->var_busy);
    free(p);
}
