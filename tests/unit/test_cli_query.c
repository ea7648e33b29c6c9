/*
 * test_cli_query.c - kumo's --query (src/cli/query.c, a JMESPath subset):
 * expressions from the JMESPath specification's examples and az's habits
 * against their expected results, expressions that must be refused (with
 * the column), and runtime type errors.
 */
#include "cli/query.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* A VM list as kumo -o json prints it (trimmed). */
static const char vms[] =
    "[{\"name\":\"web1\",\"size\":\"B1s\",\"vcpus\":1,\"memoryMiB\":1024,\"powerState\":"
    "\"Running\",\"tags\":{\"app\":\"web\"},\"networkInterfaces\":[{\"privateIp\":\"10.0.0.4\","
    "\"publicIp\":{\"ipAddress\":\"127.0.0.1\",\"ports\":[{\"port\":22,\"hostPort\":20000},"
    "{\"port\":80,\"hostPort\":20001}]}}]},"
    "{\"name\":\"db1\",\"size\":\"E2s_v5\",\"vcpus\":2,\"memoryMiB\":16384,\"powerState\":"
    "\"Stopped\",\"tags\":{},\"networkInterfaces\":[{\"privateIp\":\"10.0.0.5\",\"publicIp\":"
    "null}]},"
    "{\"name\":\"batch\",\"size\":\"F2s_v2\",\"vcpus\":2,\"memoryMiB\":4096,\"powerState\":"
    "\"Deallocated\",\"networkInterfaces\":[]}]";

static void expect(const char *data, const char *expr, const char *want)
{
    char err[256] = "";
    json_t *d = json_loads(data, JSON_DECODE_ANY, NULL);
    struct query *q = query_parse(expr, err, sizeof(err));
    CHECK(q, "%s: does not parse: %s", expr, err);
    if (!q) {
        json_decref(d);
        return;
    }
    json_t *r = query_eval(q, d, err, sizeof(err));
    CHECK(r, "%s: error %s", expr, err);
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    CHECK(w, "bad expected JSON %s", want);
    if (r && w) {
        char *got = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
        CHECK(json_equal(r, w), "%s: got %s, want %s", expr, got, want);
        free(got);
    }
    json_decref(r);
    json_decref(w);
    json_decref(d);
    query_free(q);
}

static void refuse(const char *expr, const char *msg)
{
    char err[256] = "";
    struct query *q = query_parse(expr, err, sizeof(err));
    CHECK(!q, "%s: parsed, should not", expr);
    CHECK(strstr(err, msg), "%s: message '%s' lacks '%s'", expr, err, msg);
    query_free(q);
}

static void runtime_error(const char *data, const char *expr, const char *msg)
{
    char err[256] = "";
    json_t *d = json_loads(data, JSON_DECODE_ANY, NULL);
    struct query *q = query_parse(expr, err, sizeof(err));
    CHECK(q, "%s: does not parse: %s", expr, err);
    json_t *r = q ? query_eval(q, d, err, sizeof(err)) : NULL;
    CHECK(q && !r, "%s: evaluated, should fail", expr);
    CHECK(!q || strstr(err, msg), "%s: message '%s' lacks '%s'", expr, err, msg);
    json_decref(r);
    json_decref(d);
    query_free(q);
}

int main(void)
{
    /* identifiers, sub-expressions, null propagation */
    expect("{\"a\":\"foo\",\"b\":\"bar\"}", "a", "\"foo\"");
    expect("{\"a\":{\"b\":{\"c\":{\"d\":\"value\"}}}}", "a.b.c.d", "\"value\"");
    expect("{\"a\":\"foo\"}", "b.c.d", "null");
    expect("{\"with space\":1}", "\"with space\"", "1");
    expect("{\"a\":1}", "@", "{\"a\":1}");
    /* indexes and slices */
    expect("[0,1,2,3,4,5,6,7,8,9]", "[1]", "1");
    expect("[0,1,2,3,4,5,6,7,8,9]", "[-1]", "9");
    expect("[0,1,2,3,4,5,6,7,8,9]", "[10]", "null");
    expect("[0,1,2,3,4,5,6,7,8,9]", "[0:5]", "[0,1,2,3,4]");
    expect("[0,1,2,3,4,5,6,7,8,9]", "[5:10]", "[5,6,7,8,9]");
    expect("[0,1,2,3,4,5,6,7,8,9]", "[::2]", "[0,2,4,6,8]");
    expect("[0,1,2,3,4,5,6,7,8,9]", "[::-1]", "[9,8,7,6,5,4,3,2,1,0]");
    expect("[0,1,2,3,4,5,6,7,8,9]", "[-3:]", "[7,8,9]");
    expect("[0,1,2,3,4,5,6,7,8,9]", "[-100:2]", "[0,1]");
    expect("{\"a\":[{\"b\":1},{\"b\":2},{\"b\":3}]}", "a[:2].b", "[1,2]");
    expect("{\"a\":{\"b\":[[0,1],[2,3]]}}", "a.b[1][0]", "2");
    /* projections */
    expect(vms, "[*].name", "[\"web1\",\"db1\",\"batch\"]");
    expect(vms, "[].name", "[\"web1\",\"db1\",\"batch\"]");
    expect(vms, "[*].networkInterfaces[0].privateIp", "[\"10.0.0.4\",\"10.0.0.5\"]");
    /* a flatten applies to the whole projection on its left */
    expect(vms, "[*].networkInterfaces[].publicIp.ipAddress", "[\"127.0.0.1\"]");
    expect(vms, "[].networkInterfaces[].publicIp.ipAddress", "[\"127.0.0.1\"]");
    expect(vms, "[0].networkInterfaces[0].publicIp.ports[*].hostPort", "[20000,20001]");
    expect("{\"a\":{\"x\":{\"n\":1},\"y\":{\"n\":2},\"z\":{}}}", "a.*.n", "[1,2]");
    expect("{\"a\":[[1,2],[3],4]}", "a[]", "[1,2,3,4]");
    expect("[[0,1],[2,3]]", "[*][0]", "[0,2]");
    expect("{\"a\":1}", "[*]", "null");
    expect("[1,2]", "*", "null");
    /* filters and comparisons */
    expect(vms, "[?powerState=='Running'].name", "[\"web1\"]");
    expect(vms, "[?vcpus > `1`].name", "[\"db1\",\"batch\"]");
    expect(vms, "[?vcpus >= `2` && memoryMiB < `8192`].name", "[\"batch\"]");
    expect(vms, "[?powerState!='Running'].name", "[\"db1\",\"batch\"]");
    expect(vms, "[?tags.app].name", "[\"web1\"]");
    expect(vms, "[?!(tags.app)].name", "[\"db1\",\"batch\"]");
    expect(vms, "[?!tags.app].name", "[]"); /* ! binds tighter than '.': (!tags).app */
    expect(vms, "[?size=='nope']", "[]");
    expect(vms, "[?name < 'x'].name", "[]"); /* ordering of strings: null, not true */
    expect("[{\"a\":1},{\"a\":1.0},{\"a\":\"1\"}]", "[?a==`1`]", "[{\"a\":1},{\"a\":1.0}]");
    expect("{\"a\":[1,2,3]}", "a[?@ > `1`]", "[2,3]");
    /* or, and, not, literals, raw strings */
    expect("{\"a\":null,\"b\":\"x\"}", "a || b", "\"x\"");
    expect("{\"a\":0,\"b\":\"x\"}", "a || b", "0"); /* 0 is true */
    expect("{\"a\":[],\"b\":\"x\"}", "a && b", "[]");
    expect("{\"a\":\"\"}", "!a", "true");
    expect("{}", "`{\"k\": [1, 2]}`", "{\"k\":[1,2]}");
    expect("{}", "'it\\'s'", "\"it's\"");
    /* multi-select */
    expect(vms, "[*].[name, vcpus]", "[[\"web1\",1],[\"db1\",2],[\"batch\",2]]");
    expect(vms, "[0].{n: name, ip: networkInterfaces[0].privateIp}",
           "{\"n\":\"web1\",\"ip\":\"10.0.0.4\"}");
    expect(vms, "[].{Name: name, \"Power state\": powerState} | [0]",
           "{\"Name\":\"web1\",\"Power state\":\"Running\"}");
    expect("{\"a\":null}", "a.[b]", "null");
    /* pipes stop projections */
    expect(vms, "[*].name | [0]", "\"web1\"");
    expect(vms, "[*].name[0]", "[]");
    /* functions */
    expect(vms, "length(@)", "3");
    expect(vms, "length([?vcpus==`2`])", "2");
    expect("{\"s\":\"h\\u00e9llo\"}", "length(s)", "5");
    expect(vms, "[?contains(name, '1')].name", "[\"web1\",\"db1\"]");
    expect(vms, "contains([*].size, 'B1s')", "true");
    expect(vms, "[?starts_with(size, 'E')].name", "[\"db1\"]");
    expect(vms, "sort_by(@, &memoryMiB)[*].name", "[\"web1\",\"batch\",\"db1\"]");
    expect(vms, "sort_by(@, &name)[0].name", "\"batch\"");
    expect(vms, "sort([*].name)", "[\"batch\",\"db1\",\"web1\"]");
    expect(vms, "max([*].memoryMiB)", "16384");
    expect(vms, "min([*].name)", "\"batch\"");
    expect(vms, "sum([*].vcpus)", "5");
    expect(vms, "join(', ', [*].name)", "\"web1, db1, batch\"");
    expect(vms, "keys([0].tags)", "[\"app\"]");
    expect(vms, "values([0].tags)", "[\"web\"]");
    expect("{\"n\":42}", "to_string(n)", "\"42\"");
    expect("{\"n\":\"42\"}", "to_number(n)", "42");
    expect("{\"n\":\"x\"}", "to_number(n)", "null");
    expect("{\"a\":[1]}", "type(a)", "\"array\"");
    expect("{\"b\":2}", "not_null(a, b)", "2");
    /* refused at parse time, with where */
    refuse("", "empty");
    refuse("a.", "after '.'");
    refuse("[?a==]", "unexpected token at column 6");
    refuse("a ||", "ends too early");
    refuse("a[", "after '['");
    refuse("a[1:2:3:4]", "at most three parts");
    refuse("a[::0]", "step cannot be 0");
    refuse("foo(a)", "unknown function foo()");
    refuse("\"length\"(a)", "cannot be quoted");
    refuse("a b", "unexpected token at column 3");
    refuse("`not json`", "not JSON");
    refuse("'open", "does not end");
    refuse("a # b", "unexpected character '#'");
    refuse("{a b}", "':' after a key");
    char deep[200];
    memset(deep, '(', 100);
    strcpy(deep + 100, "a");
    memset(deep + 101, ')', 98);
    deep[199] = 0;
    refuse(deep, "nests deeper than");
    /* runtime type errors */
    runtime_error("{\"a\":5}", "length(a)", "length(): expected a string, array or object");
    runtime_error(vms, "sort_by(@, &tags)", "must be all numbers or all strings");
    runtime_error(vms, "sort_by(@, name)", "&expression");
    runtime_error(vms, "length(@, @)", "takes 1 argument");
    runtime_error("[1,\"a\"]", "max(@)", "all numbers or all strings");
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
