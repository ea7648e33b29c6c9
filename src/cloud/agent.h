/*
 * agent.h - the line protocol of the guest agent (runcmd.h), as pure
 * functions: the lines kumod sends, and the parse of what the guest
 * answers (untrusted: fuzzed by tests/fuzz/fuzz_cloud_agent.c).
 *
 *   host:  "ping ID"                 guest: "kumo-agent pong ID"
 *   host:  "run ID SECS BASE64"      guest: "kumo-agent result ID EXIT
 *                                            TIMEDOUT OUTBYTES ERRBYTES OUT ERR"
 * OUT and ERR are the end of the script's stdout and stderr in base64, "-"
 * when empty; TIMEDOUT is 1 when it was killed at its timeout.
 */
#ifndef KUMO_CLOUD_AGENT_H
#define KUMO_CLOUD_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agent_result {
    int64_t exit_code;
    bool timed_out;
    int64_t out_bytes, err_bytes; /* what the script wrote in all */
    char *out, *err;              /* the end of it, valid UTF-8 (malloc'd) */
};

/* "run ID SECS BASE64(script)" (malloc'd), or NULL when out of memory. */
char *agent_run_line(int64_t id, int64_t secs, const char *script, size_t len);

/* Parse a "kumo-agent result" line for run id: true and r filled (free
 * with agent_result_free); false when it is not that run's result, or is
 * malformed (nothing to free). */
bool agent_parse_result(const char *line, int64_t id, struct agent_result *r);
void agent_result_free(struct agent_result *r);

/* Replace every byte of s[0..len) that is not part of valid UTF-8 (NUL
 * included) by '?', in place. */
void agent_to_utf8(char *s, size_t len);

#endif
