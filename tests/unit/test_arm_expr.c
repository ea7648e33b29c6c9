/*
 * test_arm_expr.c - unit tests of the ARM template expression language
 * (src/cloud/arm/expr.c): syntax, the pure functions, lazy if/and/or,
 * member and index access, errors that say where, and the caller's
 * functions through expr_env.
 */
#include "check.h"

#include "cloud/arm/expr.h"

#include <string.h>
#include <strings.h>

/* A caller's function table for the tests: parameters('x') and a counter
 * of calls to boom(), which must never run in a branch not taken. */
static int booms;

static json_t *env_call(void *ctx, const char *name, json_t *const *a, int n, bool *unknown,
                        struct arm_err *e)
{
    (void)ctx;
    if (!strcasecmp(name, "parameters") && n == 1 && json_is_string(a[0])) {
        if (!strcmp(json_string_value(a[0]), "count")) return json_integer(3);
        if (!strcmp(json_string_value(a[0]), "obj"))
            return json_pack("{s:{s:[s,s]}}", "Props", "apiVersions", "2022-11-01", "2020-06-01");
        arm_err_set(e, 400, "InvalidTemplate", NULL, "no parameter %s", json_string_value(a[0]));
        return NULL;
    }
    if (!strcasecmp(name, "boom")) {
        booms++;
        arm_err_set(e, 400, "Boom", NULL, "boom was evaluated");
        return NULL;
    }
    *unknown = true;
    return NULL;
}

static const struct expr_env env = {.ctx = NULL, .call = env_call};

/* Evaluate s and compare its compact JSON with want (NULL: must fail). */
static void is(const char *s, const char *want)
{
    struct arm_err e = {0};
    json_t *r = expr_eval_string(s, &env, &e);
    if (!want) {
        CHECK(!r && e.status && e.message[0], "%s must fail (got %s)", s, r ? "a value" : "-");
        json_decref(r);
        arm_err_clear(&e);
        return;
    }
    char *got = r ? json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    CHECK(got && !strcmp(got, want), "%s = %s, want %s (%s)", s, got ? got : "NULL", want,
          e.message);
    free(got);
    json_decref(r);
    arm_err_clear(&e);
}

static void test_syntax(void)
{
    CHECK(expr_is_expression("[concat('a')]"), "expression");
    CHECK(!expr_is_expression("[[not]") && !strcmp(expr_unescape("[[not]"), "[not]"), "escape");
    CHECK(!expr_is_expression("plain") && !expr_is_expression("[") && !expr_is_expression("]"),
          "not expressions");
    is("['it''s']", "\"it's\"");
    is("[ concat( 'a' , 'b' ) ]", "\"ab\"");
    is("[-42]", "-42");
    is("[createArray(1, 'two', true())[1]]", "\"two\"");
    is("[parameters('obj').props.APIVERSIONS[0]]", "\"2022-11-01\"");
    is("[parameters('obj')['Props']['apiVersions'][1]]", "\"2020-06-01\"");
    /* errors */
    is("[concat('a']", NULL);
    is("[concat('a') extra]", NULL);
    is("['unterminated]", NULL);
    is("[foo]", NULL);
    is("[1.5]", NULL);
    is("[99999999999999999999]", NULL);
    is("[createArray(1)[5]]", NULL);
    is("[parameters('obj').missing]", NULL);
    is("[nosuchfunction(1)]", NULL);
    is("[concat(]", NULL);
    is("[]", NULL);
    struct arm_err e = {0};
    struct expr *x = expr_parse("[concat('a', 'b']", &e);
    CHECK(!x && strstr(e.message, "position"), "message has a position: %s", e.message);
    arm_err_clear(&e);
    /* depth is bounded */
    char deep[4096] = "[";
    for (int i = 0; i < 200; i++)
        strcat(deep, "concat(");
    strcat(deep, "'x'");
    for (int i = 0; i < 200; i++)
        strcat(deep, ")");
    strcat(deep, "]");
    x = expr_parse(deep, &e);
    CHECK(!x && strstr(e.message, "deeply"), "too deep: %s", e.message);
    arm_err_clear(&e);
}

static void test_functions(void)
{
    is("[concat('a', 1, true())]", "\"a1True\"");
    is("[concat(createArray(1), createArray(2, 3))]", "[1,2,3]");
    is("[format('{0}-{1:D3}-{{x}}', 'vm', 7)]", "\"vm-007-{x}\"");
    is("[format('{2}', 'a')]", NULL);
    is("[toLower('AbC')]", "\"abc\"");
    is("[toUpper('AbC')]", "\"ABC\"");
    is("[length('abcd')]", "4");
    is("[length(createArray(1,2))]", "2");
    is("[empty('')]", "true");
    is("[empty(createObject())]", "true");
    is("[contains('abc', 'b')]", "true");
    is("[contains(createObject('Key', 1), 'key')]", "true");
    is("[equals(1, 1)]", "true");
    is("[equals('a', 'A')]", "false");
    is("[not(equals(1, 2))]", "true");
    is("[add(2, mul(3, 4))]", "14");
    is("[div(7, 2)]", "3");
    is("[mod(7, 2)]", "1");
    is("[div(1, 0)]", NULL);
    is("[add(9223372036854775807, 1)]", NULL);
    is("[less(1, 2)]", "true");
    is("[greaterOrEquals('b', 'a')]", "true");
    is("[min(3, 1, 2)]", "1");
    is("[max(createArray(3, 9, 2))]", "9");
    is("[replace('a-b-c', '-', '+')]", "\"a+b+c\"");
    is("[substring('kumo-vm', 5, 2)]", "\"vm\"");
    is("[substring('abc', 2, 5)]", NULL);
    is("[split('a,b;c', createArray(',', ';'))]", "[\"a\",\"b\",\"c\"]");
    is("[startsWith('Standard_B1s', 'standard_')]", "true");
    is("[endsWith('abc', 'BC')]", "true");
    is("[indexOf('abcabc', 'c')]", "2");
    is("[lastIndexOf('abcabc', 'c')]", "5");
    is("[padLeft(7, 3, '0')]", "\"007\"");
    is("[base64('kumo')]", "\"a3Vtbw==\"");
    is("[base64ToString('a3Vtbw==')]", "\"kumo\"");
    is("[base64ToString('***')]", NULL);
    is("[json('{\"a\":[1]}').a[0]]", "1");
    is("[int('42')]", "42");
    is("[int('4x')]", NULL);
    is("[bool('True')]", "true");
    is("[first(createArray('x', 'y'))]", "\"x\"");
    is("[last('xyz')]", "\"z\"");
    is("[take(createArray(1,2,3), 2)]", "[1,2]");
    is("[skip('abcdef', 4)]", "\"ef\"");
    is("[union(createObject('a', 1), createObject('b', 2))]", "{\"a\":1,\"b\":2}");
    is("[union(createArray(1, 2), createArray(2, 3))]", "[1,2,3]");
    is("[range(2, 3)]", "[2,3,4]");
    is("[join(createArray('a', 'b'), '/')]", "\"a/b\"");
    is("[string(createObject('a', 1))]", "\"{\\\"a\\\":1}\"");
    is("[string(5)]", "\"5\"");
    is("[trim('  x ')]", "\"x\"");
    is("[array('x')]", "[\"x\"]");
    is("[null()]", "null");
    is("[parameters('count')]", "3");
    is("[parameters('nope')]", NULL);
    /* uniqueString: 13 characters, deterministic, different for different input */
    struct arm_err e = {0};
    json_t *a = expr_eval_string("[uniqueString('rg1', 'vm1')]", &env, &e);
    json_t *b = expr_eval_string("[uniqueString('rg1', 'vm1')]", &env, &e);
    json_t *c = expr_eval_string("[uniqueString('rg1', 'vm2')]", &env, &e);
    CHECK(a && b && c && json_string_length(a) == 13 && json_equal(a, b) && !json_equal(a, c),
          "uniqueString");
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_t *g = expr_eval_string("[guid('x')]", &env, &e);
    CHECK(g && json_string_length(g) == 36 && json_string_value(g)[14] == '5', "guid: %s",
          g ? json_string_value(g) : "-");
    json_decref(g);
}

static void test_lazy(void)
{
    booms = 0;
    is("[if(true(), 'yes', boom())]", "\"yes\"");
    is("[if(equals(1, 2), boom(), 'no')]", "\"no\"");
    is("[and(false(), boom())]", "false");
    is("[or(true(), boom())]", "true");
    is("[coalesce(null(), 'x', boom())]", "\"x\"");
    CHECK(booms == 0, "a branch not taken was evaluated %d times", booms);
    struct arm_err e = {0};
    json_t *r = expr_eval_string("[if(true(), boom(), 'x')]", &env, &e);
    CHECK(!r && !strcmp(e.code, "Boom") && booms == 1, "the caller's error is kept: %s", e.code);
    arm_err_clear(&e);
    is("[if('yes', 1, 2)]", NULL);
}

static int seen_reference;
static void visit(void *ctx, const char *name, int nargs)
{
    (void)ctx;
    if (!strcasecmp(name, "reference") && nargs == 2) seen_reference++;
}

static void test_visit(void)
{
    struct arm_err e = {0};
    struct expr *x = expr_parse("[reference(resourceId('Microsoft.Compute/"
                                "virtualMachineScaleSets', 'ss1'), providers('Microsoft.Compute', "
                                "'virtualMachineScaleSets').apiVersions[0])]",
                                &e);
    CHECK(x != NULL, "the vmss output parses: %s", e.message);
    if (x) expr_visit_calls(x, visit, NULL);
    CHECK(seen_reference == 1, "visit sees reference()");
    expr_free(x);
}

int main(void)
{
    test_syntax();
    test_functions();
    test_lazy();
    test_visit();
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
