/*
 * http.c - talking to kumod: where it is, requests with libcurl (over its
 * unix socket or a loopback TCP URL), its errors as messages and exit
 * codes, and waiting for long operations.
 */
#include "cli/cli.h"
#include "lib/locate.h"

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_ANSWER (64u << 20)

/* ---- where kumod is ---- */

int resolve_endpoint(struct cli *c)
{
    if (c->resolved) return KX_OK;
    if (!c->data_dir[0]) kumo_client_data_dir(c->data_dir, sizeof(c->data_dir));
    if (!c->url) {
        const char *u = getenv("KUMO_URL");
        if (u && *u) c->url = u;
    }
    if (c->url && strncmp(c->url, "http://", 7) != 0) {
        fprintf(stderr,
                "%s: --url/KUMO_URL '%s' is not an http:// URL (e.g. "
                "http://127.0.0.1:8080, where kumod --listen-tcp listens)\n",
                c->prog, c->url);
        return KX_USAGE;
    }
    if (!c->token) {
        const char *t = getenv("KUMO_TOKEN");
        if (t && *t) c->token = t;
    }
    snprintf(c->sock, sizeof(c->sock), "%s/kumod.sock", c->data_dir);
    c->resolved = true;
    return KX_OK;
}

const char *endpoint(struct cli *c)
{
    resolve_endpoint(c);
    return c->url ? c->url : c->sock;
}

static const char *start_hint(struct cli *c)
{
    if (c->url) {
        const char *hp = c->url + 7;
        int n = (int)strcspn(hp, "/");
        return fmt_str("Is kumod running and listening there? Start it with 'kumod --listen-tcp "
                       "%.*s' (and --data-dir DIR), or point kumo at a running one with --url or "
                       "KUMO_URL",
                       n, hp);
    }
    return fmt_str("Is kumod running? Start it with 'kumod --data-dir %s', or point kumo at a "
                   "running one with --data-dir DIR (or KUMO_URL and KUMO_TOKEN)",
                   c->data_dir);
}

static int unreachable(struct cli *c, const char *why)
{
    fprintf(stderr, "%s: cannot reach kumod at %s: %s. %s.\n", c->prog, endpoint(c), why,
            start_hint(c));
    return KX_UNREACHABLE;
}

/* The token: --token, $KUMO_TOKEN, else DATA/token. Over TCP a missing
 * token is told only if kumod answers 401, so that a kumod that is not
 * there is reported as such. */
static int load_token(struct cli *c)
{
    if (c->token || c->token_err) return KX_OK;
    char path[2200];
    snprintf(path, sizeof(path), "%s/token", c->data_dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        if (e == ENOENT && !c->url)
            return unreachable(c, fmt_str("there is no token file %s (kumod makes it at its first "
                                          "start)",
                                          path));
        c->token_err =
            fmt_str("no API token: cannot read %s: %s. %s", path, strerror(e),
                    e == EACCES ? "Run kumo as the user that runs kumod, or pass the token with "
                                  "--token or KUMO_TOKEN."
                                : "Pass the token with --token or KUMO_TOKEN (it is DATA/token of "
                                  "kumod's data directory).");
        if (c->url) return KX_OK;
        fprintf(stderr, "%s: %s\n", c->prog, c->token_err);
        return KX_AUTH;
    }
    size_t n = fread(c->tokbuf, 1, sizeof(c->tokbuf) - 1, f);
    fclose(f);
    c->tokbuf[n] = 0;
    while (n && (c->tokbuf[n - 1] == '\n' || c->tokbuf[n - 1] == '\r' || c->tokbuf[n - 1] == ' '))
        c->tokbuf[--n] = 0;
    c->token = c->tokbuf;
    return KX_OK;
}

/* ---- requests ---- */

struct buf {
    char *p;
    size_t len;
    bool too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *opaque)
{
    struct buf *b = opaque;
    size_t add = size * n;
    if (b->len + add > MAX_ANSWER) {
        b->too_big = true;
        return 0;
    }
    char *np = realloc(b->p, b->len + add + 1);
    if (!np) return 0;
    memcpy(np + b->len, data, add);
    b->p = np;
    b->len += add;
    b->p[b->len] = 0;
    return add;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void resp_free(struct resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

int http_request(struct cli *c, const char *method, const char *path, json_t *body, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    int rc = resolve_endpoint(c);
    if (rc) return rc;
    bool health = strcmp(path, "/health") == 0;
    if (!c->url) {
        struct stat sb;
        if (stat(c->sock, &sb) < 0) {
            if (errno == ENOENT) return unreachable(c, "no such socket");
            if (errno == EACCES)
                return unreachable(c, "permission denied (run kumo as the user that runs "
                                      "kumod)");
            return unreachable(c, strerror(errno));
        }
        if (!S_ISSOCK(sb.st_mode)) return unreachable(c, "not a socket");
    }
    if (!health && (rc = load_token(c))) return rc;

    if (!c->curl) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        c->curl = curl_easy_init();
        if (!c->curl) {
            fprintf(stderr, "%s: cannot initialise libcurl\n", c->prog);
            return KX_ERROR;
        }
    }
    CURL *h = c->curl;
    curl_easy_reset(h);
    const char *base = c->url ? c->url : "http://kumo";
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    char *url = path[0] == '/' && path[1] == '/' ? fmt_str("%.*s%s", (int)bl, base, path + 1)
                                                 : fmt_str("%.*s/v1%s", (int)bl, base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    if (!c->url) curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
    struct curl_slist *hdrs = NULL;
    char auth[300];
    if (c->token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    char *data = NULL;
    if (body) {
        data = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17));
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (data || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
            strcmp(method, "PATCH") == 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, data ? data : "");
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(data ? strlen(data) : 0));
        }
    }
    struct buf b = {0};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (c->debug) fprintf(stderr, "> %s %s%s%s\n", method, url, data ? " " : "", data ? data : "");
    double t0 = now_s();
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    free(data);
    if (cc != CURLE_OK) {
        long oserr = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
        free(b.p);
        if (b.too_big) {
            fprintf(stderr, "%s: kumod's answer is larger than %u MiB\n", c->prog,
                    MAX_ANSWER >> 20);
            return KX_ERROR;
        }
        switch (cc) {
        case CURLE_COULDNT_CONNECT:
            if (oserr == ECONNREFUSED)
                return unreachable(c, c->url ? "connection refused"
                                             : "connection refused (the socket is left over "
                                               "from a kumod that is not running)");
            if (oserr == EACCES)
                return unreachable(c, "permission denied (run kumo as the user that runs "
                                      "kumod)");
            return unreachable(c, oserr ? strerror((int)oserr) : errbuf);
        case CURLE_COULDNT_RESOLVE_HOST:
            return unreachable(c, fmt_str("cannot resolve the host name (%s)", errbuf));
        case CURLE_OPERATION_TIMEDOUT:
            return unreachable(c, fmt_str("no answer in time (%s)", errbuf));
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            fprintf(stderr, "%s: bad kumod URL '%s': %s\n", c->prog, endpoint(c), errbuf);
            return KX_USAGE;
        default:
            return unreachable(
                c, fmt_str("%s (did kumod stop?)", errbuf[0] ? errbuf : curl_easy_strerror(cc)));
        }
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    r->body = b.p ? b.p : calloc(1, 1);
    r->len = b.len;
    if (r->len && (r->body[0] == '{' || r->body[0] == '['))
        r->json = json_loadb(r->body, r->len, 0, NULL);
    if (c->debug)
        fprintf(stderr, "< %ld (%.1f ms, %zu bytes)\n%.*s\n", r->status, (now_s() - t0) * 1e3,
                r->len, r->len > 2000 ? 2000 : (int)r->len, r->body);
    return KX_OK;
}

/* ---- errors ---- */

/* kumod's messages speak of the API; say the kumo command instead. */
static char *cli_words(const char *msg)
{
    static const char *const map[][2] = {
        {"GET /v1/sizes lists the sizes", "'kumo size list' lists the sizes"},
        {"GET /v1/sizes lists them", "'kumo size list' lists them"},
        {"GET /v1/images lists the images", "'kumo image list' lists the images"},
        {"GET /v1/images lists them", "'kumo image list' lists them"},
        {"pass \"restart\": true", "pass --restart"},
        {"(it is in DATA/token of kumod's data directory)",
         "(kumo reads it from DATA/token of kumod's data directory, or --token/KUMO_TOKEN)"},
    };
    char *s = strdup(msg);
    for (size_t i = 0; s && i < sizeof(map) / sizeof(map[0]); i++) {
        char *at = strstr(s, map[i][0]);
        if (!at) continue;
        char *n = malloc(strlen(s) + strlen(map[i][1]) + 1);
        if (!n) break;
        sprintf(n, "%.*s%s%s", (int)(at - s), s, map[i][1], at + strlen(map[i][0]));
        free(s);
        s = n;
    }
    return s;
}

/* The option that sets a request field named by an error target. */
static const struct opt *option_for(const struct cmd *cmd, const char *target)
{
    if (!cmd || !cmd->opts || !target) return NULL;
    const struct opt *best = NULL;
    size_t best_len = 0;
    for (const struct opt *o = cmd->opts; o->name; o++) {
        if (!o->field) continue;
        /* a field list "a|b" matches either */
        const char *f = o->field;
        while (*f) {
            const char *bar = strchr(f, '|');
            size_t n = bar ? (size_t)(bar - f) : strlen(f);
            if (strncmp(target, f, n) == 0 &&
                (target[n] == 0 || target[n] == '.' || target[n] == '[') && n > best_len) {
                best = o;
                best_len = n;
            }
            f += n;
            if (*f) f++;
        }
    }
    return best;
}

/* After kumod's "unknown size 'X'": the sizes nearest to X, from GET
 * /sizes ("did you mean 'B1ms' or 'B1s'?"), as typos: a letter wrong,
 * missing, added, or two swapped. */
static void suggest_size(struct cli *c, const char *msg)
{
    const char *at = strstr(msg, "unknown size '");
    if (!at) return;
    at += strlen("unknown size '");
    char typed[80];
    snprintf(typed, sizeof(typed), "%.*s", (int)strcspn(at, "'"), at);
    struct resp r;
    if (http_request(c, "GET", "/sizes", NULL, &r) || r.status != 200) {
        resp_free(&r);
        return;
    }
    const char *best[8];
    int nbest = 0, bd = 2;
    size_t i;
    const json_t *s;
    json_array_foreach(json_object_get(r.json, "value"), i, s)
    {
        const char *name = member_str(s, "name");
        if (!name) continue;
        int d = edit_distance(typed, name);
        if (d < bd) nbest = 0;
        if (d <= bd && nbest < 8) {
            bd = d;
            best[nbest++] = name;
        }
    }
    if (nbest) {
        /* a typo that keeps the length (a swap, a wrong letter) first */
        for (int k = 1; k < nbest; k++)
            if (strlen(best[k]) == strlen(typed) && strlen(best[0]) != strlen(typed)) {
                const char *t = best[0];
                best[0] = best[k];
                best[k] = t;
            }
        fprintf(stderr, "%s: did you mean '%s'", c->prog, best[0]);
        for (int k = 1; k < nbest; k++)
            fprintf(stderr, "%s'%s'", k + 1 == nbest ? " or " : ", ", best[k]);
        fputs("?\n", stderr);
    }
    resp_free(&r);
}

int api_fail(struct cli *c, const struct resp *r)
{
    int rc = r->status == 401   ? KX_AUTH
             : r->status == 404 ? KX_NOTFOUND
             : r->status == 409 ? KX_CONFLICT
                                : KX_ERROR;
    if (r->status == 401 && !c->token && c->token_err) {
        fprintf(stderr, "%s: %s\n", c->prog, c->token_err);
        return rc;
    }
    const json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
    const char *msg = member_str(e, "message"), *code = member_str(e, "code"),
               *target = member_str(e, "target");
    if (!msg) {
        fprintf(stderr, "%s: error: kumod answered HTTP %ld: %.300s\n", c->prog, r->status,
                r->body ? r->body : "");
        return rc;
    }
    char *m = cli_words(msg);
    const struct opt *o = option_for(c->cmd, target);
    fprintf(stderr, "%s: error: %s", c->prog, m ? m : msg);
    if (o)
        fprintf(stderr, " [%s; option --%s]", code ? code : "?", opt_main(o));
    else
        fprintf(stderr, " [%s]", code ? code : "?");
    fputc('\n', stderr);
    free(m);
    if (target && strcmp(target, "size") == 0) suggest_size(c, msg);
    if (r->status == 401)
        fprintf(stderr, "  kumo sent the token from %s; it must be the token of the kumod at %s.\n",
                c->token == c->tokbuf ? fmt_str("%s/token", c->data_dir) : "--token or KUMO_TOKEN",
                endpoint(c));
    return rc;
}

int api_status(struct cli *c, const char *method, const char *path, json_t *body, json_t **out,
               long *status)
{
    struct resp r;
    if (out) *out = NULL;
    int rc = http_request(c, method, path, body, &r);
    json_decref(body);
    if (rc) return rc;
    if (status) *status = r.status;
    if (r.status < 200 || r.status > 299) {
        rc = api_fail(c, &r);
        resp_free(&r);
        return rc;
    }
    if (out) {
        *out = r.json;
        r.json = NULL;
        if (!*out && r.status != 204) {
            fprintf(stderr, "%s: error: kumod's answer is not JSON: %.200s\n", c->prog, r.body);
            resp_free(&r);
            return KX_ERROR;
        }
    }
    resp_free(&r);
    return KX_OK;
}

int api(struct cli *c, const char *method, const char *path, json_t *body, json_t **out)
{
    return api_status(c, method, path, body, out, NULL);
}

int api_get_maybe(struct cli *c, const char *path, json_t **out)
{
    struct resp r;
    *out = NULL;
    int rc = http_request(c, "GET", path, NULL, &r);
    if (rc) return -rc;
    if (r.status == 404) {
        resp_free(&r);
        return 0;
    }
    if (r.status != 200 || !r.json) {
        rc = api_fail(c, &r);
        resp_free(&r);
        return -rc;
    }
    *out = r.json;
    r.json = NULL;
    resp_free(&r);
    return 1;
}

/* ---- waiting ---- */

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void progress_clear(struct cli *c)
{
    if (c->progress && !c->debug) fputs("\r\033[K", stderr);
}

int api_wait(struct cli *c, const char *path, const char *what, const char *show_cmd, bool deleting,
             json_t **final)
{
    if (final) *final = NULL;
    struct sigaction sa = {.sa_handler = on_sigint}, old;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old);
    double t0 = now_s(), interval = 0.05;
    int rc = KX_OK;
    char last_status[256] = "";
    for (;;) {
        struct resp r;
        rc = http_request(c, "GET", path, NULL, &r);
        if (rc) break;
        if (deleting && r.status == 404) {
            resp_free(&r);
            break;
        }
        if (r.status != 200 || !r.json) {
            progress_clear(c);
            rc = api_fail(c, &r);
            resp_free(&r);
            break;
        }
        const char *prov = member_str(r.json, "provisioningState");
        const char *power = member_str(r.json, "powerState");
        bool busy = prov && (strcmp(prov, "Creating") == 0 || strcmp(prov, "Updating") == 0 ||
                             strcmp(prov, "Deleting") == 0);
        double el = now_s() - t0;
        if (!busy && deleting) { /* no longer being deleted: it failed */
            progress_clear(c);
            const json_t *e = json_object_get(r.json, "error");
            fprintf(stderr, "%s: error: %s was not deleted: it is %s%s%s\n", c->prog, what,
                    prov ? prov : "?", member_str(e, "message") ? ": " : "",
                    member_str(e, "message") ? member_str(e, "message") : "");
            resp_free(&r);
            rc = KX_ERROR;
            break;
        }
        if (!busy) {
            progress_clear(c);
            if (prov && strcmp(prov, "Failed") == 0) {
                const json_t *e = json_object_get(r.json, "error");
                fprintf(stderr, "%s: error: %s failed: %s [%s]\n", c->prog, what,
                        member_str(e, "message") ? member_str(e, "message") : "no reason given",
                        member_str(e, "code") ? member_str(e, "code") : "Failed");
                rc = KX_ERROR;
            }
            if (final) {
                *final = r.json;
                r.json = NULL;
            }
            resp_free(&r);
            break;
        }
        /* a long delete that says what it waits for (a resource group's) */
        const char *status = member_str(member_at(r.json, "deletion"), "status");
        if (c->progress && !c->debug && status) {
            fprintf(stderr, "\r\033[K%s: %s ... %.0fs", what, status, el);
            fflush(stderr);
        } else if (c->progress && !c->debug) {
            fprintf(stderr, "\r\033[K%s: %s%s%s%s ... %.1fs", what, power ? power : prov,
                    power && prov ? " (" : "", power && prov ? prov : "", power && prov ? ")" : "",
                    el);
            fflush(stderr);
        } else if (status && !c->debug && strcmp(status, last_status) != 0) {
            fprintf(stderr, "%s: %s\n", what, status); /* not a terminal: each change once */
            snprintf(last_status, sizeof(last_status), "%s", status);
        }
        if (el > c->timeout) {
            progress_clear(c);
            fprintf(stderr,
                    "%s: timed out after %.0f s waiting for %s (it is %s); kumod goes on with "
                    "it: '%s' shows where it is\n",
                    c->prog, c->timeout, what, power ? power : prov, show_cmd);
            if (final) {
                *final = r.json;
                r.json = NULL;
            }
            resp_free(&r);
            rc = KX_TIMEOUT;
            break;
        }
        resp_free(&r);
        struct timespec ts = {0, (long)(interval * 1e9)};
        nanosleep(&ts, NULL);
        if (interrupted) {
            progress_clear(c);
            fprintf(stderr,
                    "%s: stopped waiting for %s; kumod goes on with it: '%s' shows "
                    "where it is\n",
                    c->prog, what, show_cmd);
            rc = KX_INTERRUPTED;
            break;
        }
        interval = interval * 1.5 > 0.5 ? 0.5 : interval * 1.5;
    }
    progress_clear(c);
    sigaction(SIGINT, &old, NULL);
    return rc;
}

int finish_long(struct cli *c, const char *path, json_t *accepted, const char *what,
                const char *show_cmd, bool deleting, json_t **final)
{
    if (c->no_wait) {
        *final = accepted;
        return KX_OK;
    }
    json_decref(accepted);
    return api_wait(c, path, what, show_cmd, deleting, final);
}

/* ---- paths ---- */

static void pct(char **p, size_t *len, size_t *cap, const char *s)
{
    for (; *s; s++) {
        if (*len + 4 >= *cap) {
            *cap = *cap * 2 + 64;
            char *np = realloc(*p, *cap);
            if (!np) exit(KX_ERROR);
            *p = np;
        }
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            (*p)[(*len)++] = (char)ch;
        } else {
            sprintf(*p + *len, "%%%02X", ch);
            *len += 3;
        }
    }
    (*p)[*len] = 0;
}

char *api_path(const char *fmt, ...)
{
    size_t cap = 256, len = 0;
    char *p = malloc(cap);
    if (!p) exit(KX_ERROR);
    p[0] = 0;
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        if (f[0] == '%' && f[1] == 's') {
            const char *arg = va_arg(ap, const char *);
            /* "." and ".." would change the path: encode their dots */
            if (strcmp(arg, ".") == 0 || strcmp(arg, "..") == 0) {
                for (const char *d = arg; *d; d++) {
                    if (len + 4 >= cap) {
                        cap *= 2;
                        char *np = realloc(p, cap);
                        if (!np) exit(KX_ERROR);
                        p = np;
                    }
                    memcpy(p + len, "%2E", 4);
                    len += 3;
                }
            } else {
                pct(&p, &len, &cap, arg);
            }
            f++;
            continue;
        }
        if (len + 2 >= cap) {
            cap *= 2;
            char *np = realloc(p, cap);
            if (!np) exit(KX_ERROR);
            p = np;
        }
        p[len++] = *f;
        p[len] = 0;
    }
    va_end(ap);
    return p;
}

char *query_escape(const char *s)
{
    size_t cap = strlen(s) * 3 + 8, len = 0;
    char *p = malloc(cap);
    if (!p) exit(KX_ERROR);
    p[0] = 0;
    pct(&p, &len, &cap, s);
    return p;
}

void http_cleanup(struct cli *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup();
        c->curl = NULL;
    }
}
