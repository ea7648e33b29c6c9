/*
 * test_arm_id.c - unit tests of the ARM endpoint's plumbing: resource ids
 * (src/cloud/arm/id.c), case-insensitive routing (route.c), api-versions
 * (apiver.c), the error format (err.c), the lenient JSON of request
 * bodies (lenient.c).
 */
#include "check.h"

#include "cloud/arm/apiver.h"
#include "cloud/arm/err.h"
#include "cloud/arm/id.h"
#include "cloud/arm/lenient.h"
#include "cloud/arm/route.h"
#include "cloud/error.h"

#include <stdlib.h>
#include <string.h>

static void test_id_parse(void)
{
    struct arm_id id;
    char err[256], buf[ARM_ID_MAX];
    const char *vm = "/subscriptions/S1/resourceGroups/rg1/providers/Microsoft.Compute/"
                     "virtualMachines/vm1";
    CHECK(arm_id_parse(vm, &id, err, sizeof(err)) == 0, "vm id: %s", err);
    CHECK(!strcmp(id.sub, "S1") && !strcmp(id.group, "rg1") &&
              !strcmp(id.ns, "Microsoft.Compute") && id.depth == 1 &&
              !strcmp(id.types[0], "virtualMachines") && !strcmp(id.names[0], "vm1"),
          "vm id parts");
    CHECK(arm_id_format(&id, buf, sizeof(buf)) > 0 && !strcmp(buf, vm), "round trip: %s", buf);
    CHECK(arm_id_is(&id, "microsoft.compute/VIRTUALMACHINES"), "type is case-insensitive");
    arm_id_type(&id, buf, sizeof(buf));
    CHECK(!strcmp(buf, "Microsoft.Compute/virtualMachines"), "type %s", buf);

    /* az's lower-case resourcegroups and the double slash of '//subscriptions' */
    struct arm_id b;
    CHECK(arm_id_parse("//subscriptions/s1/resourcegroups/RG1/providers/microsoft.compute/"
                       "virtualmachines/VM1/",
                       &b, err, sizeof(err)) == 0,
          "lower case + double slash + trailing slash: %s", err);
    CHECK(arm_id_equal(&id, &b), "ids compare case-insensitively");
    arm_id_format(&b, buf, sizeof(buf));
    CHECK(!strncmp(buf, "/subscriptions/s1/resourceGroups/RG1/", 37), "canonical: %s", buf);

    /* children and collections */
    CHECK(arm_id_parse("/subscriptions/S/resourceGroups/g/providers/Microsoft.Network/"
                       "virtualNetworks/v/subnets/default",
                       &id, err, sizeof(err)) == 0 &&
              id.depth == 2 && arm_id_is(&id, "Microsoft.Network/virtualNetworks/subnets") &&
              !strcmp(id.names[1], "default"),
          "subnet id");
    CHECK(arm_id_parse("/subscriptions/S/resourceGroups/g/providers/Microsoft.Network/"
                       "virtualNetworks",
                       &id, err, sizeof(err)) == 0 &&
              id.depth == 0 && !strcmp(id.collection, "virtualNetworks"),
          "collection");
    CHECK(arm_id_parse("/subscriptions/S/resourcegroups", &id, err, sizeof(err)) == 0 &&
              !strcmp(id.collection, "resourcegroups") && !id.group[0],
          "groups collection");
    CHECK(arm_id_parse("/subscriptions/S", &id, err, sizeof(err)) == 0 && !strcmp(id.sub, "S") &&
              !id.group[0] && !id.ns[0],
          "subscription");
    CHECK(arm_id_parse("/subscriptions/S/providers/Microsoft.Compute/locations/local/publishers/"
                       "Debian/artifacttypes/vmimage",
                       &id, err, sizeof(err)) == 0 &&
              id.depth == 3 && !strcmp(id.names[2], "vmimage"),
          "subscription-level provider path: %s", err);

    /* refused */
    static const char *const bad[] = {
        "",
        "subscriptions/S",
        "/subscriptions/S//resourceGroups/g",
        "/subscriptions/S/resourceGroups/g/virtualMachines/x",
        "/subscriptions/S/resourceGroups/g/providers/Microsoft.Compute/a/1/b/2/c/3/d/4/e/5",
        "/subscriptions/S/resourceGroups/g%2f/providers/X/y/z",
        "/subscriptions/S/resourceGroups/g/providers",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        int rc = arm_id_parse(bad[i], &id, err, sizeof(err));
        CHECK(rc < 0 || (i == 6 && !strcmp(id.collection, "providers")), "'%s' refused", bad[i]);
        CHECK(rc == 0 || err[0], "'%s' has a message", bad[i]);
    }
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    char p[600];
    snprintf(p, sizeof(p), "/subscriptions/S/resourceGroups/%s", longname);
    CHECK(arm_id_parse(p, &id, err, sizeof(err)) < 0 && strstr(err, "too long"), "long: %s", err);
}

static void test_id_build(void)
{
    struct arm_id id;
    char err[256], buf[ARM_ID_MAX];
    const char *names[] = {"v1", "sub1"};
    CHECK(arm_id_build(&id, "S", "g", "Microsoft.Network/virtualNetworks/subnets", names, 2, err,
                       sizeof(err)) == 0,
          "build: %s", err);
    arm_id_format(&id, buf, sizeof(buf));
    CHECK(!strcmp(buf, "/subscriptions/S/resourceGroups/g/providers/Microsoft.Network/"
                       "virtualNetworks/v1/subnets/sub1"),
          "built %s", buf);
    CHECK(arm_id_build(&id, "S", "g", "Microsoft.Network/virtualNetworks", names, 2, err,
                       sizeof(err)) < 0 &&
              strstr(err, "1 type segment but 2 resource names"),
          "count mismatch: %s", err);
    CHECK(arm_id_build(&id, "S", "g", "virtualNetworks", names, 1, err, sizeof(err)) < 0,
          "no namespace");
    CHECK(arm_id_build(&id, "", "", "Microsoft.Compute/locations", names, 1, err, sizeof(err)) ==
                  0 &&
              arm_id_format(&id, buf, sizeof(buf)) > 0 &&
              !strcmp(buf, "/providers/Microsoft.Compute/locations/v1"),
          "tenant level: %s", buf);
    const char *slash[] = {"a/b"};
    CHECK(arm_id_build(&id, "S", "g", "Microsoft.Compute/disks", slash, 1, err, sizeof(err)) < 0,
          "slash in a name");
}

static void test_route(void)
{
    static const struct arm_route table[] = {
        {"GET", "/metadata/endpoints", (void *)1, 0, NULL},
        {"GET", "/subscriptions/{}/resourceGroups/{}", (void *)2, 0, NULL},
        {"PUT", "/subscriptions/{}/resourceGroups/{}", (void *)3, 0, NULL},
        {"POST",
         "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/"
         "virtualMachines/{}/start",
         (void *)4, 0, NULL},
        {"*", "/adfs/{}", (void *)5, 0, NULL},
        {NULL, NULL, NULL, 0, NULL},
    };
    char buf[512];
    struct arm_match m;
    CHECK(arm_route_match(table, "GET", "//metadata/endpoints", buf, sizeof(buf), &m) ==
                  ARM_ROUTE_FOUND &&
              m.route->fn == (void *)1,
          "double slash");
    CHECK(arm_route_match(table, "PUT", "/subscriptions/S/resourcegroups/rg1", buf, sizeof(buf),
                          &m) == ARM_ROUTE_FOUND &&
              m.route->fn == (void *)3 && m.np == 2 && !strcmp(m.p[0], "S") &&
              !strcmp(m.p[1], "rg1"),
          "lower-case literal, captures");
    CHECK(arm_route_match(table, "POST",
                          "/SUBSCRIPTIONS/S/RESOURCEGROUPS/g/PROVIDERS/microsoft.compute/"
                          "VirtualMachines/vm1/START/",
                          buf, sizeof(buf), &m) == ARM_ROUTE_FOUND &&
              m.np == 3 && !strcmp(m.p[2], "vm1"),
          "all upper case, trailing slash");
    CHECK(arm_route_match(table, "DELETE", "/subscriptions/S/resourceGroups/g", buf, sizeof(buf),
                          &m) == ARM_ROUTE_NO_METHOD &&
              !strcmp(m.allow, "GET, PUT"),
          "405 with Allow: '%s'", m.allow);
    CHECK(arm_route_match(table, "GET", "/subscriptions/S/resourceGroups", buf, sizeof(buf), &m) ==
              ARM_ROUTE_NO_PATH,
          "too short");
    CHECK(arm_route_match(table, "GET", "/subscriptions/S//resourceGroups/g", buf, sizeof(buf),
                          &m) == ARM_ROUTE_NO_PATH,
          "empty segment in the middle");
    CHECK(arm_route_match(table, "PATCH", "/adfs/x", buf, sizeof(buf), &m) == ARM_ROUTE_FOUND,
          "any method");
}

static void test_apiver(void)
{
    struct arm_err e = {0};
    CHECK(arm_apiver_check("Microsoft.Compute/virtualMachines", "2020-06-01", &e) == 0, "listed");
    CHECK(arm_apiver_check("microsoft.compute/virtualmachines", "2020-07-15", &e) == 0,
          "inside the range");
    CHECK(arm_apiver_check("Microsoft.Compute/disks", "2019-07-01", &e) == 0, "disks");
    CHECK(arm_apiver_check("Microsoft.Compute/virtualMachines", NULL, &e) < 0 && e.status == 400 &&
              !strcmp(e.code, "MissingApiVersionParameter"),
          "missing");
    arm_err_clear(&e);
    CHECK(arm_apiver_check("Microsoft.Compute/virtualMachines", "yesterday", &e) < 0 &&
              !strcmp(e.code, "InvalidApiVersionParameter"),
          "malformed");
    arm_err_clear(&e);
    CHECK(arm_apiver_check("Microsoft.Compute/virtualMachines", "2030-01-01", &e) < 0 &&
              !strcmp(e.code, "NoRegisteredProviderFound") && strstr(e.message, "2020-06-01"),
          "too new, lists the supported: %s", e.message);
    arm_err_clear(&e);
    CHECK(arm_apiver_check("Microsoft.Storage/storageAccounts", "2020-06-01", &e) < 0 &&
              !strcmp(e.code, "NoRegisteredProviderFound"),
          "unknown namespace");
    arm_err_clear(&e);
    CHECK(arm_apiver_well_formed("2021-05-01-preview") && !arm_apiver_well_formed("2021-5-01") &&
              !arm_apiver_well_formed("2021-05-01-") && !arm_apiver_well_formed("2021-05-01x"),
          "well formed");
    const char *const *l = arm_apiver_list("Microsoft.Compute/virtualMachineScaleSets");
    CHECK(l && !strcmp(l[0], "2022-11-01"), "newest first");
    json_t *p = arm_apiver_provider_json("microsoft.network", "/subscriptions/S");
    CHECK(p && !strcmp(json_string_value(json_object_get(p, "namespace")), "Microsoft.Network") &&
              json_array_size(json_object_get(p, "resourceTypes")) > 5,
          "provider json");
    json_decref(p);
}

static void test_err(void)
{
    struct arm_err e = {0};
    struct kerr k = {0};
    kerr_set(&k, 409, "CapacityExceeded", NULL, "not enough capacity for size B2s");
    arm_err_from_kerr(&e, &k, "properties.hardwareProfile.vmSize");
    arm_err_detail(&e, "Inner", "x", "more: %d", 42);
    json_t *j = arm_err_json(&e);
    json_t *in = json_object_get(j, "error");
    CHECK(e.status == 409 &&
              !strcmp(json_string_value(json_object_get(in, "code")), "AllocationFailed"),
          "code translated");
    CHECK(!strcmp(json_string_value(json_object_get(in, "target")),
                  "properties.hardwareProfile.vmSize"),
          "target");
    CHECK(json_array_size(json_object_get(in, "details")) == 1 &&
              !strcmp(json_string_value(json_object_get(
                          json_array_get(json_object_get(in, "details"), 0), "message")),
                      "more: 42"),
          "details");
    json_decref(j);
    arm_err_clear(&e);
    CHECK(!strcmp(arm_err_code_for("NotFound"), "ResourceNotFound") &&
              !strcmp(arm_err_code_for("Whatever"), "Whatever"),
          "code table");
}

static void check_quoted(const char *in, const char *want)
{
    size_t n;
    char *out = arm_json_quote_names(in, strlen(in), &n);
    CHECK(out && n == strlen(want) && !strcmp(out, want), "quoted: %s -> %s (want %s)", in,
          out ? out : "(null)", want);
    free(out);
}

static void test_lenient(void)
{
    /* what az's deployment commands send */
    check_quoted("{\"properties\": {\"mode\": \"Incremental\", template:{\"a\": 1}}}",
                 "{\"properties\": {\"mode\": \"Incremental\", \"template\":{\"a\": 1}}}");
    check_quoted("{a:1,b :[true, false, null],c:{d:\"x, e:\"}}",
                 "{\"a\":1,\"b\" :[true, false, null],\"c\":{\"d\":\"x, e:\"}}");
    /* valid JSON is unchanged, strings (with escapes) untouched */
    const char *valid = "{\"k\": \"v\\\"{x:1}\", \"l\": [1, {\"m\": true}]}";
    check_quoted(valid, valid);
    check_quoted("[true,{null:null}]", "[true,{\"null\":null}]");
    check_quoted("", "");
    check_quoted("{\"unterminated: x", "{\"unterminated: x");
}

int main(void)
{
    test_lenient();
    test_id_parse();
    test_id_build();
    test_route();
    test_apiver();
    test_err();
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
