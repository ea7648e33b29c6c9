/*
 * test_arm_template.c - unit tests of the deployment template engine
 * (src/cloud/arm/template.c) on the templates `az vm create` and `az vmss
 * create` really send (tests/unit/arm/, saved from az 2.45.0) and on small
 * templates for parameters, variables, copy loops, conditions, ordering,
 * cycles, reference() and a resource that fails.
 *
 * The host here records what it is asked to apply and answers reference()
 * from what it recorded: the engine's contract with kumod's ARM handlers.
 */
#include "check.h"

#include "cloud/arm/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *dir = "tests/unit/arm";

struct rec {
    json_t *applied;       /* [ {id, body} ] in apply order */
    const char *fail_type; /* apply fails for this type */
    int references;
};

static int apply(void *ctx, const char *id, const json_t *res, struct arm_err *e)
{
    struct rec *r = ctx;
    const char *type = json_string_value(json_object_get(res, "type"));
    if (r->fail_type && type && !strcasecmp(type, r->fail_type))
        return arm_err_set(e, 409, "AllocationFailed", NULL, "no room for %s", id);
    json_array_append_new(r->applied, json_pack("{s:s, s:O}", "id", id, "body", res));
    return 0;
}

static json_t *reference(void *ctx, const char *id, const char *api, bool full, struct arm_err *e)
{
    struct rec *r = ctx;
    r->references++;
    size_t i;
    json_t *x;
    json_array_foreach(r->applied, i, x)
    {
        if (!strcasecmp(json_string_value(json_object_get(x, "id")), id)) {
            json_t *body = json_object_get(x, "body");
            json_t *props = json_deep_copy(json_object_get(body, "properties"));
            json_object_set_new(props, "seenApiVersion", json_string(api ? api : ""));
            if (!full) return props;
            return json_pack("{s:s, s:o}", "id", id, "properties", props);
        }
    }
    arm_err_set(e, 404, "ResourceNotFound", NULL, "%s not found", id);
    return NULL;
}

static struct tpl_host host(struct rec *r)
{
    return (struct tpl_host){.ctx = r,
                             .subscription = "00000000-0000-0000-0000-000000000001",
                             .tenant = "t",
                             .group = "rg1",
                             .location = "local",
                             .deployment = "d1",
                             .apply = apply,
                             .reference = reference};
}

static json_t *load(const char *name)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    json_error_t je;
    json_t *j = json_load_file(p, 0, &je);
    CHECK(j != NULL, "%s: %s", p, je.text);
    return j;
}

static const char *applied_id(struct rec *r, size_t i)
{
    return json_string_value(json_object_get(json_array_get(r->applied, i), "id"));
}

static json_t *applied_body(struct rec *r, size_t i)
{
    return json_object_get(json_array_get(r->applied, i), "body");
}

static void test_vm_create(void)
{
    json_t *d = load("vm-create.json");
    if (!d) return;
    json_t *props = json_object_get(d, "properties");
    struct rec r = {.applied = json_array()};
    struct tpl_host h = host(&r);
    struct arm_err e = {0};
    struct tpl_plan *p = tpl_prepare(json_object_get(props, "template"),
                                     json_object_get(props, "parameters"), &h, &e);
    CHECK(p != NULL, "vm-create prepares: %s", e.message);
    if (!p) goto out;
    CHECK(tpl_count(p) == 5, "5 resources");
    CHECK(tpl_apply(p, &e) == 0, "applies: %s", e.message);
    CHECK(json_array_size(r.applied) == 5, "5 applied");
    /* the NIC after the VNet, NSG and public IP; the VM last */
    CHECK(strstr(applied_id(&r, 3), "/networkInterfaces/vm1VMNic") &&
              strstr(applied_id(&r, 4), "/virtualMachines/vm1"),
          "order: %s then %s", applied_id(&r, 3), applied_id(&r, 4));
    CHECK(!strcmp(applied_id(&r, 0), "/subscriptions/00000000-0000-0000-0000-000000000001/"
                                     "resourceGroups/rg1/providers/Microsoft.Network/"
                                     "virtualNetworks/vm1VNET"),
          "vnet id %s", applied_id(&r, 0));
    json_t *vm = applied_body(&r, 4);
    CHECK(json_is_null(json_object_get(
              json_object_get(json_object_get(json_object_get(vm, "properties"), "storageProfile"),
                              "osDisk"),
              "name")),
          "nulls are kept");
    CHECK(!json_object_get(vm, "dependsOn"), "dependsOn is not passed on");
    json_t *outs = tpl_outputs(p, &e);
    CHECK(outs && json_object_size(outs) == 0, "no outputs");
    json_decref(outs);
    tpl_free(p);
out:
    json_decref(r.applied);
    json_decref(d);
}

static void test_vmss_create(void)
{
    json_t *d = load("vmss-create.json");
    if (!d) return;
    json_t *props = json_object_get(d, "properties");
    struct rec r = {.applied = json_array()};
    struct tpl_host h = host(&r);
    struct arm_err e = {0};
    struct tpl_plan *p = tpl_prepare(json_object_get(props, "template"),
                                     json_object_get(props, "parameters"), &h, &e);
    CHECK(p != NULL, "vmss-create prepares: %s", e.message);
    if (!p) goto out;
    CHECK(tpl_apply(p, &e) == 0, "applies: %s", e.message);
    json_t *lb = applied_body(&r, 1);
    json_t *pool =
        json_array_get(json_object_get(json_object_get(lb, "properties"), "inboundNatPools"), 0);
    const char *fe = json_string_value(json_object_get(
        json_object_get(json_object_get(pool, "properties"), "frontendIPConfiguration"), "id"));
    CHECK(fe && !strcmp(fe, "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/"
                            "rg1/providers/Microsoft.Network/loadBalancers/ss1LB/"
                            "frontendIPConfigurations/loadBalancerFrontEnd"),
          "concat(resourceId(..)) = %s", fe ? fe : "NULL");
    json_t *outs = tpl_outputs(p, &e);
    json_t *vmss = json_object_get(outs, "VMSS");
    CHECK(vmss && !strcmp(json_string_value(json_object_get(vmss, "type")), "Object"),
          "output type");
    json_t *val = json_object_get(vmss, "value");
    CHECK(val && !strcmp(json_string_value(json_object_get(val, "seenApiVersion")), "2022-11-01"),
          "reference() got providers().apiVersions[0]");
    CHECK(json_is_true(json_object_get(val, "overprovision")), "reference() is the properties");
    json_decref(outs);
    tpl_free(p);
out:
    json_decref(r.applied);
    json_decref(d);
}

/* Prepare + apply a template given as text; returns 0 or -1 with e. */
static int run(const char *tpl_text, const char *params_text, struct rec *r, struct arm_err *e,
               json_t **outputs)
{
    json_error_t je;
    json_t *tpl = json_loads(tpl_text, 0, &je);
    json_t *params = params_text ? json_loads(params_text, 0, &je) : NULL;
    CHECK(tpl != NULL, "test template: %s", je.text);
    struct tpl_host h = host(r);
    struct tpl_plan *p = tpl ? tpl_prepare(tpl, params, &h, e) : NULL;
    int rc = -1;
    if (p && tpl_apply(p, e) == 0) {
        rc = 0;
        if (outputs) {
            *outputs = tpl_outputs(p, e);
            if (!*outputs) rc = -1;
        }
    }
    tpl_free(p);
    json_decref(tpl);
    json_decref(params);
    return rc;
}

static void test_parameters(void)
{
    const char *t =
        "{\"parameters\":{\"adminPassword\":{\"type\":\"securestring\"},"
        "\"size\":{\"type\":\"string\",\"defaultValue\":\"B1s\","
        "\"allowedValues\":[\"B1s\",\"B2s\"]},"
        "\"n\":{\"type\":\"int\",\"defaultValue\":2,\"minValue\":1,\"maxValue\":3}},"
        "\"variables\":{\"a\":\"[concat(variables('b'), '-a')]\",\"b\":\"[parameters('size')]\"},"
        "\"resources\":[{\"type\":\"Microsoft.Compute/virtualMachines\",\"name\":\"vm\","
        "\"apiVersion\":\"2020-06-01\",\"properties\":{\"pw\":\"[parameters('adminPassword')]\","
        "\"v\":\"[variables('a')]\",\"n\":\"[parameters('n')]\",\"lit\":\"[[notexpr]\"}}],"
        "\"outputs\":{\"o\":{\"type\":\"string\",\"value\":\"[variables('b')]\"}}}";
    struct rec r = {.applied = json_array()};
    struct arm_err e = {0};
    json_t *outs = NULL;
    CHECK(run(t, "{\"adminPassword\":{\"value\":\"s3cret!\"}}", &r, &e, &outs) == 0,
          "parameters: %s", e.message);
    json_t *pr = json_object_get(applied_body(&r, 0), "properties");
    CHECK(!strcmp(json_string_value(json_object_get(pr, "pw")), "s3cret!") &&
              !strcmp(json_string_value(json_object_get(pr, "v")), "B1s-a") &&
              json_integer_value(json_object_get(pr, "n")) == 2 &&
              !strcmp(json_string_value(json_object_get(pr, "lit")), "[notexpr]"),
          "values in the resource");
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(outs, "o"), "value")), "B1s"),
          "output");
    CHECK(!strcmp(json_string_value(json_object_get(applied_body(&r, 0), "location")), "local"),
          "the group's location by default");
    json_decref(outs);
    json_array_clear(r.applied);
    arm_err_clear(&e);

    CHECK(run(t, NULL, &r, &e, NULL) < 0 && strstr(e.message, "'adminPassword' is not provided"),
          "missing parameter: %s", e.message);
    arm_err_clear(&e);
    CHECK(run(t, "{\"adminPassword\":{\"value\":\"x\"},\"adminPasword\":{\"value\":\"y\"}}", &r, &e,
              NULL) < 0 &&
              strstr(e.message, "'adminPasword'"),
          "undeclared parameter: %s", e.message);
    arm_err_clear(&e);
    CHECK(run(t, "{\"adminPassword\":{\"value\":\"x\"},\"size\":{\"value\":\"D64\"}}", &r, &e,
              NULL) < 0 &&
              strstr(e.message, "allowedValues"),
          "allowedValues: %s", e.message);
    arm_err_clear(&e);
    CHECK(run(t, "{\"adminPassword\":{\"value\":\"x\"},\"n\":{\"value\":9}}", &r, &e, NULL) < 0 &&
              strstr(e.message, "maxValue"),
          "maxValue: %s", e.message);
    arm_err_clear(&e);
    CHECK(run(t, "{\"adminPassword\":{\"value\":5}}", &r, &e, NULL) < 0 &&
              strstr(e.message, "type"),
          "type: %s", e.message);
    arm_err_clear(&e);
    CHECK(json_array_size(r.applied) == 0, "nothing applied after a parameter error");
    json_decref(r.applied);
}

static void test_copy_and_order(void)
{
    /* the VM comes first in the template but depends on the whole NIC loop */
    const char *t =
        "{\"resources\":["
        "{\"type\":\"Microsoft.Compute/virtualMachines\",\"name\":\"vm\",\"apiVersion\":"
        "\"2020-06-01\",\"dependsOn\":[\"nics\"],\"properties\":{}},"
        "{\"type\":\"Microsoft.Network/networkInterfaces\",\"name\":\"[concat('nic', "
        "copyIndex(1))]\",\"apiVersion\":\"2022-07-01\",\"copy\":{\"name\":\"nics\",\"count\":3},"
        "\"properties\":{\"i\":\"[copyIndex()]\"}},"
        "{\"condition\":\"[equals(1, 2)]\",\"type\":\"Microsoft.Network/publicIPAddresses\","
        "\"name\":\"never\",\"apiVersion\":\"2022-07-01\"},"
        "{\"type\":\"Microsoft.Network/virtualNetworks/subnets\",\"name\":\"v/s\","
        "\"apiVersion\":\"2022-07-01\",\"dependsOn\":[\"[resourceId('Microsoft.Compute/"
        "virtualMachines', 'vm')]\"]}"
        "]}";
    struct rec r = {.applied = json_array()};
    struct arm_err e = {0};
    CHECK(run(t, NULL, &r, &e, NULL) == 0, "copy: %s", e.message);
    CHECK(json_array_size(r.applied) == 5, "3 NICs + VM + subnet, condition false skipped: %zu",
          json_array_size(r.applied));
    CHECK(strstr(applied_id(&r, 0), "/nic1") && strstr(applied_id(&r, 2), "/nic3") &&
              strstr(applied_id(&r, 3), "/virtualMachines/vm") &&
              strstr(applied_id(&r, 4), "/virtualNetworks/v/subnets/s"),
          "order nic1 nic2 nic3 vm subnet");
    CHECK(json_integer_value(
              json_object_get(json_object_get(applied_body(&r, 1), "properties"), "i")) == 1,
          "copyIndex in the body");
    json_decref(r.applied);

    const char *cycle =
        "{\"resources\":["
        "{\"type\":\"A.B/c\",\"name\":\"x\",\"apiVersion\":\"2020-01-01\",\"dependsOn\":[\"y\"]},"
        "{\"type\":\"A.B/c\",\"name\":\"y\",\"apiVersion\":\"2020-01-01\",\"dependsOn\":"
        "[\"A.B/c/x\"]}]}";
    r.applied = json_array();
    CHECK(run(cycle, NULL, &r, &e, NULL) < 0 && strstr(e.message, "ircular"), "cycle: %s",
          e.message);
    arm_err_clear(&e);
    const char *unknown = "{\"resources\":[{\"type\":\"A.B/c\",\"name\":\"x\",\"apiVersion\":"
                          "\"2020-01-01\",\"dependsOn\":[\"ghost\"]}]}";
    CHECK(run(unknown, NULL, &r, &e, NULL) < 0 && strstr(e.message, "'ghost'"), "unknown dep: %s",
          e.message);
    arm_err_clear(&e);
    const char *dup = "{\"resources\":[{\"type\":\"A.B/c\",\"name\":\"x\",\"apiVersion\":"
                      "\"2020-01-01\"},{\"type\":\"a.b/C\",\"name\":\"X\",\"apiVersion\":"
                      "\"2020-01-01\"}]}";
    CHECK(run(dup, NULL, &r, &e, NULL) < 0 && strstr(e.message, "multiple times"), "dup: %s",
          e.message);
    arm_err_clear(&e);
    const char *syntax = "{\"resources\":[{\"type\":\"A.B/c\",\"name\":\"x\",\"apiVersion\":"
                         "\"2020-01-01\",\"properties\":{\"deep\":[\"[concat('a']\"]}}]}";
    CHECK(run(syntax, NULL, &r, &e, NULL) < 0 && strstr(e.message, "properties.deep[0]"),
          "syntax error found before anything is applied: %s", e.message);
    CHECK(json_array_size(r.applied) == 0, "nothing applied");
    arm_err_clear(&e);
    const char *varcycle = "{\"variables\":{\"a\":\"[variables('b')]\",\"b\":\"[variables('a')]\"},"
                           "\"resources\":[]}";
    CHECK(run(varcycle, NULL, &r, &e, NULL) < 0 && strstr(e.message, "refers to itself"),
          "variable cycle: %s", e.message);
    arm_err_clear(&e);
    const char *badsec = "{\"resources\":[],\"resorces\":[]}";
    CHECK(run(badsec, NULL, &r, &e, NULL) < 0 && strstr(e.message, "'resorces'"),
          "unknown section: %s", e.message);
    arm_err_clear(&e);
    json_decref(r.applied);
}

static void test_failure_and_reference(void)
{
    const char *t =
        "{\"resources\":["
        "{\"type\":\"Microsoft.Network/publicIPAddresses\",\"name\":\"ip\",\"apiVersion\":"
        "\"2022-07-01\",\"properties\":{\"a\":1}},"
        "{\"type\":\"Microsoft.Network/networkInterfaces\",\"name\":\"nic\",\"apiVersion\":"
        "\"2022-07-01\",\"dependsOn\":[\"ip\"],\"properties\":{\"ipA\":\"[reference('ip').a]\"}},"
        "{\"type\":\"Microsoft.Compute/virtualMachines\",\"name\":\"vm\",\"apiVersion\":"
        "\"2020-06-01\",\"dependsOn\":[\"nic\"]}]}";
    struct rec r = {.applied = json_array(), .fail_type = "Microsoft.Compute/virtualMachines"};
    struct arm_err e = {0};
    CHECK(run(t, NULL, &r, &e, NULL) < 0, "the VM fails");
    CHECK(!strcmp(e.code, "AllocationFailed") && e.status == 409 &&
              strstr(e.target, "/virtualMachines/vm"),
          "the error names the resource: %s %s", e.code, e.target);
    CHECK(json_array_size(r.applied) == 2 && r.references == 1,
          "the two before it were applied, reference() ran once");
    CHECK(json_integer_value(
              json_object_get(json_object_get(applied_body(&r, 1), "properties"), "ipA")) == 1,
          "reference('ip').a");
    arm_err_clear(&e);
    json_decref(r.applied);

    /* reference() to a resource that is deployed later: an error, not a guess */
    const char *early =
        "{\"resources\":["
        "{\"type\":\"A.B/c\",\"name\":\"x\",\"apiVersion\":\"2020-01-01\",\"properties\":{\"v\":"
        "\"[reference('y').v]\"}},"
        "{\"type\":\"A.B/c\",\"name\":\"y\",\"apiVersion\":\"2020-01-01\"}]}";
    r = (struct rec){.applied = json_array()};
    CHECK(run(early, NULL, &r, &e, NULL) < 0 && strstr(e.message, "add it to dependsOn"),
          "reference before deploy: %s", e.message);
    arm_err_clear(&e);
    const char *inname = "{\"resources\":[{\"type\":\"A.B/c\",\"name\":\"[reference('x').n]\","
                         "\"apiVersion\":\"2020-01-01\"}]}";
    CHECK(run(inname, NULL, &r, &e, NULL) < 0 && strstr(e.message, "not expected"),
          "reference in a name: %s", e.message);
    arm_err_clear(&e);
    json_decref(r.applied);
}

int main(int argc, char **argv)
{
    if (argc > 1) dir = argv[1];
    test_vm_create();
    test_vmss_create();
    test_parameters();
    test_copy_and_order();
    test_failure_and_reference();
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
