/*
 * fuzz_arm_expr.c - libFuzzer harness for the ARM template language
 * (src/cloud/arm/expr.c) and the deployment engine (template.c): what a
 * client puts in a Microsoft.Resources/deployments body. The first byte
 * picks the mode:
 *   even: the rest is one expression string ("[concat(...)]"), parsed and
 *         evaluated with a caller that knows parameters('p');
 *   odd:  the rest is a deployment's properties ({"template":..,
 *         "parameters":..}), prepared, applied to a host that records
 *         nothing and answers reference() with an object, and its outputs
 *         evaluated.
 * Neither may crash, leak or read out of bounds, and every failure must
 * carry an error with a code and a message.
 */
#include "cloud/arm/expr.h"
#include "cloud/arm/template.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static json_t *call(void *ctx, const char *name, json_t *const *a, int n, bool *unknown,
                    struct arm_err *e)
{
    (void)ctx;
    (void)a;
    if (!strcasecmp(name, "parameters") && n == 1)
        return json_pack("{s:[i,s], s:{s:s}}", "list", 1, "two", "obj", "k", "v");
    if (!strcasecmp(name, "fail")) {
        arm_err_set(e, 400, "Fail", NULL, "fail()");
        return NULL;
    }
    *unknown = true;
    return NULL;
}

static int apply(void *ctx, const char *id, const json_t *res, struct arm_err *e)
{
    (void)ctx;
    (void)id;
    if (json_object_get(res, "failme")) return arm_err_set(e, 409, "Conflict", NULL, "failme");
    return 0;
}

static json_t *reference(void *ctx, const char *id, const char *api, bool full,
                         struct arm_err *e)
{
    (void)ctx;
    (void)api;
    (void)e;
    return json_pack("{s:s, s:b, s:{s:i}}", "id", id, "full", full, "properties", "n", 1);
}

static void must_have_error(const struct arm_err *e)
{
    if (!e->status || !e->code[0] || !e->message[0]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] % 2 == 0) {
        char *s = malloc(size);
        if (!s) return 0;
        memcpy(s, data + 1, size - 1);
        s[size - 1] = 0;
        struct expr_env env = {.ctx = NULL, .call = call};
        struct arm_err e = {0};
        if (expr_is_expression(s)) {
            json_t *r = expr_eval_string(s, &env, &e);
            if (!r) must_have_error(&e);
            json_decref(r);
        }
        arm_err_clear(&e);
        free(s);
        return 0;
    }
    json_t *props = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (!props) return 0;
    struct tpl_host h = {.subscription = "00000000-0000-0000-0000-000000000001",
                         .tenant = "t",
                         .group = "rg",
                         .location = "local",
                         .deployment = "d",
                         .apply = apply,
                         .reference = reference};
    struct arm_err e = {0};
    struct tpl_plan *p =
        tpl_prepare(json_object_get(props, "template"), json_object_get(props, "parameters"), &h,
                    &e);
    if (!p) {
        must_have_error(&e);
    } else {
        for (size_t i = 0; i < tpl_count(p); i++)
            if (!tpl_resource_id(p, i) || !tpl_resource_type(p, i)) abort();
        if (tpl_apply(p, &e) == 0) {
            json_t *o = tpl_outputs(p, &e);
            if (!o) must_have_error(&e);
            json_decref(o);
        } else {
            must_have_error(&e);
        }
        json_t *pj = tpl_parameters_json(p);
        json_decref(pj);
        tpl_free(p);
    }
    arm_err_clear(&e);
    json_decref(props);
    return 0;
}
