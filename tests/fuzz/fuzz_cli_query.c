/*
 * fuzz_cli_query.c - libFuzzer harness for kumo's --query (src/cli/query.c,
 * a JMESPath subset): the input is an expression, optionally followed by a
 * newline and a JSON document to evaluate it on (else a fixed VM list).
 * Parsing and evaluating must never crash, leak or read out of bounds; a
 * refusal or a runtime error must say why; an evaluation that succeeds
 * gives a value that serialises.
 */
#include "cli/query.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char fixed[] =
    "[{\"name\":\"web1\",\"vcpus\":1,\"tags\":{\"app\":\"web\"},\"nics\":[{\"ip\":\"10.0.0.4\","
    "\"ports\":[22,80]}]},{\"name\":\"db1\",\"vcpus\":2.5,\"tags\":{},\"nics\":[]},null,"
    "[1,[2,[3]]],\"text\",true]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    json_t *doc = NULL;
    char *nl = memchr(buf, '\n', size);
    if (nl) {
        *nl = 0;
        doc = json_loads(nl + 1, JSON_DECODE_ANY, NULL);
    }
    if (!doc) doc = json_loads(fixed, 0, NULL);
    char err[256] = "";
    struct query *q = query_parse(buf, err, sizeof(err));
    if (!q) {
        if (!err[0]) abort(); /* every refusal says why */
    } else {
        err[0] = 0;
        json_t *r = query_eval(q, doc, err, sizeof(err));
        if (!r) {
            if (!err[0]) abort();
        } else {
            char *s = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!s) abort();
            free(s);
            json_decref(r);
        }
        query_free(q);
    }
    json_decref(doc);
    free(buf);
    return 0;
}
