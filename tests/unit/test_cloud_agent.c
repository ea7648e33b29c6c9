/*
 * test_cloud_agent.c - the guest agent's line protocol (src/cloud/agent.c):
 * the run line kumod sends (its base64 decodes to the script), result lines
 * as the default guest's init writes them, and what is refused: another
 * run's result, numbers out of range, bad base64, missing or extra words;
 * output that is not UTF-8 made into text that is.
 */
#include "cloud/agent.h"
#include "cloud/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void run_line(void)
{
    const char *script = "echo hi; exit 3\n\xff";
    char *line = agent_run_line(7, 90, script, strlen(script));
    CHECK(line && !strncmp(line, "run 7 90 ", 9), "run line: %s", line ? line : "(null)");
    unsigned char out[64];
    long n = line ? base64_decode(line + 9, out, sizeof(out)) : -1;
    CHECK(n == (long)strlen(script) && !memcmp(out, script, (size_t)n),
          "its base64 is the script (%ld bytes)", n);
    free(line);
    line = agent_run_line(1, 5, "", 0);
    CHECK(line && !strcmp(line, "run 1 5 "), "an empty script: '%s'", line ? line : "(null)");
    free(line);
}

static void results(void)
{
    struct agent_result r;
    /* "out\n" and "err\n", as `base64 | tr -d '\n'` writes them */
    CHECK(agent_parse_result("kumo-agent result 12 3 0 4 4 b3V0Cg== ZXJyCg==", 12, &r) &&
              r.exit_code == 3 && !r.timed_out && r.out_bytes == 4 && !strcmp(r.out, "out\n") &&
              !strcmp(r.err, "err\n"),
          "a result");
    agent_result_free(&r);
    CHECK(agent_parse_result("kumo-agent result 12 137 1 100000 0 - -", 12, &r) && r.timed_out &&
              r.exit_code == 137 && r.out_bytes == 100000 && !strcmp(r.out, "") &&
              !strcmp(r.err, ""),
          "a timed out one, no output");
    agent_result_free(&r);
    static const char *const bad[] = {
        "kumo-agent result 13 0 0 0 0 - -",       /* another run */
        "kumo-agent result 12 256 0 0 0 - -",     /* no such exit status */
        "kumo-agent result 12 -1 0 0 0 - -",      /* negative */
        "kumo-agent result 12 0 2 0 0 - -",       /* TIMEDOUT is 0 or 1 */
        "kumo-agent result 12 0 0 x 0 - -",       /* not a number */
        "kumo-agent result 12 0 0 0 0 b3V0Cg -",  /* base64 without its padding */
        "kumo-agent result 12 0 0 0 0 -",         /* a word missing */
        "kumo-agent result 12 0 0 0 0 - - extra", /* one too many */
        "kumo-agent pong 12",                     /* not a result */
        "result 12 0 0 0 0 - -",                  /* not the agent's */
        "kumo-agent result 99999999999999999999 0 0 0 0 - -",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(!agent_parse_result(bad[i], 12, &r), "refused: '%s'", bad[i]);
        CHECK(!r.out && !r.err, "nothing to free after '%s'", bad[i]);
    }
    /* bytes that are not UTF-8 become '?': "a\xff\xc0\x80b" -> "a???b" */
    CHECK(agent_parse_result("kumo-agent result 12 0 0 5 0 Yf/AgGI= -", 12, &r) &&
              !strcmp(r.out, "a???b"),
          "not UTF-8: '%s'", r.out ? r.out : "(null)");
    agent_result_free(&r);
}

static void utf8(void)
{
    char s[] = "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \xe0\x80\x80";
    agent_to_utf8(s, strlen(s));
    CHECK(!strcmp(s, "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ??? ???? ???"),
          "valid sequences stay, surrogates, code points past U+10FFFF and overlong forms go: %s",
          s);
    char nul[] = {'a', 0, 'b'};
    agent_to_utf8(nul, 3);
    CHECK(nul[1] == '?', "a NUL byte goes");
}

int main(void)
{
    run_line();
    results();
    utf8();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
