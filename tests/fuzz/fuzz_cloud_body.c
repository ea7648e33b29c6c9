/*
 * fuzz_cloud_body.c - libFuzzer harness for kumod's request parsing: the
 * first byte picks a request kind (src/cloud/requests.h), the rest is the
 * body as it would arrive over HTTP. Everything a client sends passes
 * request_parse() and request_check() before kumod touches its database,
 * so they must never crash, leak or read out of bounds, and must reject
 * (with an error naming a field) whatever they do not accept. Also fuzzes
 * the query parsers (times) and base64.
 */
#include "cloud/requests.h"
#include "cloud/timefmt.h"
#include "cloud/validate.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    enum req_kind k = (enum req_kind)(data[0] % REQ_COUNT);
    struct kerr e = {0};
    json_t *body = request_parse((const char *)data + 1, size - 1, &e);
    if (body) {
        memset(&e, 0, sizeof(e));
        if (request_check(k, body, &e) < 0) {
            if (e.status != 400 || !e.message[0] || !e.code[0])
                abort(); /* every refusal says why */
        }
        json_decref(body);
    } else if (e.status != 400 || strcmp(e.code, "InvalidJson") != 0) {
        abort();
    }
    /* the same bytes as a query value */
    char *s = malloc(size);
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    int64_t ms;
    if (time_parse(s, &ms) && ms < 0) abort();
    unsigned char out[64];
    base64_decode(s, out, sizeof(out));
    free(s);
    return 0;
}
