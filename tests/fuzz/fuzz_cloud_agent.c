/*
 * fuzz_cloud_agent.c - libFuzzer harness for the guest agent's answers
 * (src/cloud/agent.c): the input is a line as a guest may write it on its
 * virtio console. The parse must never crash, leak or read out of bounds;
 * a line it takes has text outputs that are valid UTF-8 (jansson takes
 * them as JSON strings).
 */
#include "cloud/agent.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (!line) return 0;
    memcpy(line, data, size);
    line[size] = 0;
    struct agent_result r;
    if (agent_parse_result(line, 12, &r)) {
        json_t *a = json_string(r.out), *b = json_string(r.err);
        if (!a || !b) __builtin_trap(); /* not valid UTF-8 */
        json_decref(a);
        json_decref(b);
        agent_result_free(&r);
    }
    /* and the repair on its own, on the raw bytes */
    char *copy = malloc(size + 1);
    if (copy) {
        memcpy(copy, data, size);
        agent_to_utf8(copy, size);
        copy[size] = 0;
        json_t *s = json_stringn(copy, size);
        if (!s) __builtin_trap();
        json_decref(s);
        free(copy);
    }
    free(line);
    return 0;
}
