/*
 * fuzz_cloud_api.c - libFuzzer harness for kumod's REST API past the body
 * parser: routing and every handler, against a real kumod state (the unit
 * tests' fixture: an in-memory database with a host, two sizes, group "rg"
 * and a ready image), with jobs recorded instead of run (no guest boots, no
 * files imported). The state carries over from one input to the next, as a
 * long-running kumod's does, so that inputs build on what earlier ones made.
 *
 * Input: byte 0 picks the method (GET, PUT, POST, DELETE, PATCH, or a
 * made-up one) and whether the token is right, wrong or missing; then the
 * path up to '\n', the query (NAME=VALUE&...) up to '\n', and the body.
 * `wait` is dropped from the query: a handler would block on it.
 */
#include "cloud/api.h"
#include "cloud/http.h"
#include "lib/log.h"

#include "../unit/cloud_fixture.h"

#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>



static struct fixture fx;
static bool ready, verbose; /* KUMO_FUZZ_API_VERBOSE=1: print each answer */

#define MAX_ARGS 16

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* at exit: the fixture's data directory goes */
static void cleanup(void)
{
    nftw(fx.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        log_init("fuzz_cloud_api", LOG_ERROR);
        if (!fixture_start(&fx, record_only, false)) abort();
        atexit(cleanup);
        memset(fx.k.token, 'a', 64);
        fx.k.token[64] = 0;
        verbose = getenv("KUMO_FUZZ_API_VERBOSE") != NULL;
        ready = true;
    }
    if (size < 1 || size > 64 * 1024) return 0;
    static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD",
                                          "OPTIONS", "BREW"};
    const char *method = methods[data[0] & 7];
    int auth = (data[0] >> 3) & 3;
    char *copy = malloc(size + 1);
    if (!copy) return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = 0;
    /* path \n query \n body */
    char *path = copy, *query = "", *body = "";
    char *nl = memchr(path, '\n', size - 1);
    if (nl) {
        *nl = 0;
        query = nl + 1;
        char *nl2 = memchr(query, '\n', (size_t)(copy + size - 1 - query));
        if (nl2) {
            *nl2 = 0;
            body = nl2 + 1;
        }
    }
    const char *args[2 * MAX_ARGS + 1];
    int na = 0;
    for (char *save = NULL, *kv = strtok_r(query, "&", &save); kv && na < 2 * MAX_ARGS;
         kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq) *eq = 0;
        if (!strcmp(kv, "wait")) continue;
        args[na++] = kv;
        args[na++] = eq ? eq + 1 : "";
    }
    args[na] = NULL;
    char bearer[80];
    snprintf(bearer, sizeof(bearer), "Bearer %s",
             auth == 1 ? "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                       : fx.k.token);
    const char *headers[] = {"Authorization", bearer, NULL};
    struct http_request rq = {.method = method,
                              .path = path,
                              .body = body,
                              .body_len = (size_t)(copy + size - 1 - body),
                              .args = args,
                              .headers = auth == 2 ? NULL : headers};
    struct http_response rs;
    memset(&rs, 0, sizeof(rs));
    api_handle(&fx.k, &rq, &rs);
    if (rs.status < 100 || rs.status > 599) abort();
    if (verbose) fprintf(stderr, "%s %s -> %d %.200s\n", method, path, rs.status, rs.body);
    free(rs.body);
    free(copy);
    return 0;
}
