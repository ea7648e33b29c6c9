/*
 * agent.c - the guest agent's line protocol (see agent.h): pure, no state.
 */
#include "cloud/agent.h"

#include "cloud/validate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *agent_run_line(int64_t id, int64_t secs, const char *script, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t cap = 4 * (len / 3 + 1) + 64;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t n = (size_t)snprintf(out, cap, "run %" PRId64 " %" PRId64 " ", id, secs);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)script[i] << 16;
        if (i + 1 < len) v |= (uint32_t)(unsigned char)script[i + 1] << 8;
        if (i + 2 < len) v |= (unsigned char)script[i + 2];
        out[n++] = tbl[(v >> 18) & 63];
        out[n++] = tbl[(v >> 12) & 63];
        out[n++] = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        out[n++] = i + 2 < len ? tbl[v & 63] : '=';
    }
    out[n] = 0;
    return out;
}

void agent_to_utf8(char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80                ? 1
                   : c >= 0xc2 && c < 0xe0 ? 2
                   : c >= 0xe0 && c < 0xf0 ? 3
                   : c >= 0xf0 && c < 0xf5 ? 4
                                           : 0;
        bool ok = n > 0 && c != 0 && i + n <= len;
        for (size_t k = 1; ok && k < n; k++)
            ok = ((unsigned char)s[i + k] >> 6) == 2;
        /* no overlong forms, surrogates or code points past U+10FFFF */
        if (ok && n == 3) {
            unsigned char d = (unsigned char)s[i + 1];
            ok = !(c == 0xe0 && d < 0xa0) && !(c == 0xed && d >= 0xa0);
        }
        if (ok && n == 4) {
            unsigned char d = (unsigned char)s[i + 1];
            ok = !(c == 0xf0 && d < 0x90) && !(c == 0xf4 && d >= 0x90);
        }
        if (!ok) {
            s[i++] = '?';
            continue;
        }
        i += n;
    }
}

/* base64 ("-": empty) as a malloc'd UTF-8 string; NULL if not base64. */
static char *decode(const char *b64)
{
    if (!strcmp(b64, "-")) return strdup("");
    long n = base64_decode(b64, NULL, 0);
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out) return NULL;
    if (base64_decode(b64, (unsigned char *)out, (size_t)n) != n) {
        free(out);
        return NULL;
    }
    out[n] = 0;
    agent_to_utf8(out, (size_t)n);
    return out;
}

/* A whole decimal number in [lo, hi]; false otherwise. */
static bool number(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!*s || strlen(s) > 19) return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return false;
    long long v = strtoll(s, NULL, 10);
    if (v < lo || v > hi) return false;
    *out = v;
    return true;
}

bool agent_parse_result(const char *line, int64_t id, struct agent_result *r)
{
    memset(r, 0, sizeof(*r));
    char *copy = strdup(line);
    if (!copy) return false;
    char *save = NULL, *w[10];
    int n = 0;
    for (char *t = strtok_r(copy, " ", &save); t && n < 10; t = strtok_r(NULL, " ", &save))
        w[n++] = t;
    int64_t got_id = -1, late = 0;
    bool ok = n == 9 && !strcmp(w[0], "kumo-agent") && !strcmp(w[1], "result") &&
              number(w[2], 0, INT64_MAX, &got_id) && got_id == id &&
              number(w[3], 0, 255, &r->exit_code) && number(w[4], 0, 1, &late) &&
              number(w[5], 0, INT64_MAX, &r->out_bytes) &&
              number(w[6], 0, INT64_MAX, &r->err_bytes);
    if (ok) {
        r->timed_out = late == 1;
        r->out = decode(w[7]);
        r->err = decode(w[8]);
        ok = r->out && r->err;
    }
    free(copy);
    if (!ok) agent_result_free(r);
    return ok;
}

void agent_result_free(struct agent_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
