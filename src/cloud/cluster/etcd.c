/*
 * etcd.c - the etcd v3 client of etcd.h: JSON requests to the gateway over
 * libcurl (a small pool of easy handles, so connections are reused and
 * threads do not share one), endpoint failover, base64 keys and values,
 * the transaction builder, leases, and watches on threads of their own
 * that read the gateway's stream of JSON objects.
 */
#include "cloud/cluster/etcd.h"

#include "cloud/validate.h"
#include "lib/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ENDPOINTS 16
#define POOL_MAX      8
#define RESP_MAX      (64u << 20)

struct etcd {
    char *urls[MAX_ENDPOINTS];
    int n;
    _Atomic int current;
    int timeout_ms;
    pthread_mutex_t lock; /* the pool */
    CURL *pool[POOL_MAX];
    int npool;
};

/* ------------------------------------------------------------- base64 -- */

char *etcd_b64(const void *data, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16;
        if (i + 1 < n) w |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) w |= p[i + 2];
        out[o++] = tbl[w >> 18 & 63];
        out[o++] = tbl[w >> 12 & 63];
        out[o++] = i + 1 < n ? tbl[w >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tbl[w & 63] : '=';
    }
    out[o] = 0;
    return out;
}

/* A base64 JSON string member decoded into a new NUL-terminated buffer. */
static char *b64_member(json_t *obj, const char *name, size_t *len)
{
    const char *s = json_string_value(json_object_get(obj, name));
    *len = 0;
    if (!s) return calloc(1, 1); /* proto3 JSON omits empty values */
    long n = base64_decode(s, NULL, 0);
    if (n < 0) return NULL;
    char *out = malloc((size_t)n + 1);
    if (!out) return NULL;
    base64_decode(s, (unsigned char *)out, (size_t)n);
    out[n] = 0;
    *len = (size_t)n;
    return out;
}

/* proto3 JSON writes int64 as a string; absent means 0. */
static int64_t i64_member(json_t *obj, const char *name)
{
    json_t *v = json_object_get(obj, name);
    if (json_is_integer(v)) return json_integer_value(v);
    const char *s = json_string_value(v);
    return s ? strtoll(s, NULL, 10) : 0;
}

/* ----------------------------------------------------------- endpoints -- */

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct etcd *etcd_open(const char *urls, int timeout_ms, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    struct etcd *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    pthread_mutex_init(&e->lock, NULL);
    char *copy = strdup(urls ? urls : ""), *save = NULL;
    for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
        while (*u == ' ')
            u++;
        size_t l = strlen(u);
        while (l && u[l - 1] == '/')
            u[--l] = 0;
        if (strncmp(u, "http://", 7) != 0 || l < 8 || strchr(u + 7, '/')) {
            snprintf(err, errlen,
                     "'%.200s' is not an etcd client URL such as http://10.0.0.1:2379 "
                     "(plain http: use a private network for the cluster)",
                     u);
            goto fail;
        }
        if (e->n == MAX_ENDPOINTS) {
            snprintf(err, errlen, "more than %d etcd endpoints", MAX_ENDPOINTS);
            goto fail;
        }
        e->urls[e->n++] = strdup(u);
    }
    if (e->n == 0) {
        snprintf(err, errlen, "no etcd endpoint given (etcd=http://HOST:2379[,...])");
        goto fail;
    }
    free(copy);
    return e;
fail:
    free(copy);
    etcd_close(e);
    return NULL;
}

void etcd_close(struct etcd *e)
{
    if (!e) return;
    for (int i = 0; i < e->n; i++)
        free(e->urls[i]);
    for (int i = 0; i < e->npool; i++)
        curl_easy_cleanup(e->pool[i]);
    pthread_mutex_destroy(&e->lock);
    free(e);
}

const char *etcd_endpoint(struct etcd *e)
{
    return e->urls[atomic_load(&e->current) % e->n];
}

/* ------------------------------------------------------------ requests -- */

struct buf {
    char *p;
    size_t n, cap;
    bool overflow;
};

static size_t buf_write(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct buf *b = opaque;
    size_t n = size * nmemb;
    if (b->n + n + 1 > RESP_MAX) {
        b->overflow = true;
        return 0;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return 0;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

/* Keepalives on every connection, so that a peer that vanished (a host cut
 * off, a member's machine gone) is noticed in seconds, not hours. */
static int sockopt(void *opaque, curl_socket_t fd, curlsocktype purpose)
{
    (void)opaque;
    (void)purpose;
    int on = 1, idle = 2, intvl = 1, cnt = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    return CURL_SOCKOPT_OK;
}

static CURL *handle_get(struct etcd *e)
{
    pthread_mutex_lock(&e->lock);
    CURL *c = e->npool ? e->pool[--e->npool] : NULL;
    pthread_mutex_unlock(&e->lock);
    if (!c) c = curl_easy_init();
    return c;
}

static void handle_put(struct etcd *e, CURL *c)
{
    pthread_mutex_lock(&e->lock);
    if (e->npool < POOL_MAX) {
        e->pool[e->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&e->lock);
    if (c) curl_easy_cleanup(c);
}

/* gRPC codes the gateway returns for a member that cannot serve now:
 * another member may (Unavailable, DeadlineExceeded, Unknown with
 * "leader changed" and the like). */
static bool retryable_code(int64_t code)
{
    return code == 14 || code == 4 || code == 2 || code == 10;
}

/* POST body to path on each endpoint in turn until one answers. The
 * answer (an object) in *resp. 0, -1 + err. */
static int call(struct etcd *e, const char *path, json_t *body, json_t **resp, char *err,
                size_t errlen)
{
    *resp = NULL;
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    CURL *c = handle_get(e);
    if (!c) {
        free(text);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char tried[1024] = "";
    size_t tl = 0;
    int start = atomic_load(&e->current), rc = -1;
    for (int i = 0; i < e->n && rc < 0; i++) {
        int idx = (start + i) % e->n;
        char url[512];
        snprintf(url, sizeof(url), "%s/v3/%s", e->urls[idx], path);
        struct buf b = {0};
        struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, sockopt);
        CURLcode cc = curl_easy_perform(c);
        curl_slist_free_all(hdr);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        char why[300] = "";
        json_t *j = NULL;
        if (cc != CURLE_OK) {
            snprintf(why, sizeof(why), "%s", curl_easy_strerror(cc));
        } else {
            json_error_t je;
            j = b.p ? json_loads(b.p, 0, &je) : NULL;
            const char *msg = json_string_value(json_object_get(j, "error"));
            if (!msg) msg = json_string_value(json_object_get(j, "message"));
            if (!json_is_object(j)) {
                snprintf(why, sizeof(why), "HTTP %ld with an answer that is not JSON", status);
            } else if (msg || status >= 400) {
                int64_t code = i64_member(j, "code");
                if (status >= 500 || retryable_code(code)) {
                    snprintf(why, sizeof(why), "%s (HTTP %ld)", msg ? msg : "error", status);
                } else { /* the request itself is wrong: no other member will take it */
                    snprintf(err, errlen, "etcd %s: %s", e->urls[idx], msg ? msg : "error");
                    json_decref(j);
                    free(b.p);
                    rc = -2;
                    break;
                }
            } else {
                *resp = j;
                j = NULL;
                rc = 0;
                atomic_store(&e->current, idx);
            }
            json_decref(j);
        }
        free(b.p);
        if (rc < 0 && tl < sizeof(tried))
            tl += (size_t)snprintf(tried + tl, sizeof(tried) - tl, "%s%s: %s", tl ? "; " : "",
                                   e->urls[idx], why);
    }
    handle_put(e, c);
    free(text);
    if (rc == -1) snprintf(err, errlen, "no etcd member answered (%s)", tried);
    return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- KV -- */

void etcd_range_free(struct etcd_range *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->kvs[i].key);
        free(r->kvs[i].value);
    }
    free(r->kvs);
    memset(r, 0, sizeof(*r));
}

char *etcd_prefix_end(const char *prefix, char *buf, size_t len)
{
    snprintf(buf, len, "%s", prefix);
    size_t n = strlen(buf);
    while (n) {
        unsigned char ch = (unsigned char)buf[n - 1];
        if (ch < 0xff) {
            buf[n - 1] = (char)(ch + 1);
            break;
        }
        buf[--n] = 0;
    }
    return buf;
}

static int parse_kv(json_t *j, struct etcd_kv *kv)
{
    size_t kl;
    memset(kv, 0, sizeof(*kv));
    kv->key = b64_member(j, "key", &kl);
    kv->value = b64_member(j, "value", &kv->vlen);
    kv->create_rev = i64_member(j, "create_revision");
    kv->mod_rev = i64_member(j, "mod_revision");
    kv->version = i64_member(j, "version");
    kv->lease = i64_member(j, "lease");
    return kv->key && kv->value ? 0 : -1;
}

static int parse_range(json_t *j, struct etcd_range *out)
{
    memset(out, 0, sizeof(*out));
    json_t *kvs = json_object_get(j, "kvs");
    out->revision = i64_member(json_object_get(j, "header"), "revision");
    out->more = json_is_true(json_object_get(j, "more"));
    size_t n = json_array_size(kvs);
    if (!n) return 0;
    out->kvs = calloc(n, sizeof(*out->kvs));
    if (!out->kvs) return -1;
    for (size_t i = 0; i < n; i++) {
        out->n = i + 1;
        if (parse_kv(json_array_get(kvs, i), &out->kvs[i]) < 0) return -1;
    }
    return 0;
}

static json_t *key_json(const char *key)
{
    char *b = etcd_b64(key, strlen(key));
    json_t *s = b ? json_string(b) : NULL;
    free(b);
    return s;
}

static json_t *range_req(const char *key, const char *end, int64_t limit)
{
    json_t *r = json_object();
    json_object_set_new(r, "key", key_json(key));
    if (end) json_object_set_new(r, "range_end", key_json(end));
    if (limit > 0) json_object_set_new(r, "limit", json_integer(limit));
    return r;
}

int etcd_range(struct etcd *e, const char *key, const char *end, int64_t limit,
               struct etcd_range *out, char *err, size_t errlen)
{
    json_t *req = range_req(key, end, limit), *resp;
    int rc = call(e, "kv/range", req, &resp, err, errlen);
    json_decref(req);
    memset(out, 0, sizeof(*out));
    if (rc < 0) return -1;
    rc = parse_range(resp, out);
    json_decref(resp);
    if (rc < 0) {
        etcd_range_free(out);
        snprintf(err, errlen, "etcd: a malformed range answer");
    }
    return rc;
}

static json_t *put_req(const char *key, const void *val, size_t vlen, int64_t lease)
{
    json_t *r = json_object();
    char *b = etcd_b64(val, vlen);
    json_object_set_new(r, "key", key_json(key));
    json_object_set_new(r, "value", json_string(b ? b : ""));
    free(b);
    if (lease) json_object_set_new(r, "lease", json_integer(lease));
    return r;
}

int etcd_put(struct etcd *e, const char *key, const void *val, size_t vlen, int64_t lease,
             int64_t *revision, char *err, size_t errlen)
{
    json_t *req = put_req(key, val, vlen, lease), *resp;
    int rc = call(e, "kv/put", req, &resp, err, errlen);
    json_decref(req);
    if (rc == 0 && revision) *revision = i64_member(json_object_get(resp, "header"), "revision");
    json_decref(resp);
    return rc;
}

int etcd_delete(struct etcd *e, const char *key, const char *end, int64_t *deleted, char *err,
                size_t errlen)
{
    json_t *req = range_req(key, end, 0), *resp;
    int rc = call(e, "kv/deleterange", req, &resp, err, errlen);
    json_decref(req);
    if (rc == 0 && deleted) *deleted = i64_member(resp, "deleted");
    json_decref(resp);
    return rc;
}

/* -------------------------------------------------------- transactions -- */

struct etcd_txn {
    json_t *doc; /* {"compare":[...],"success":[...],"failure":[...]} */
};

struct etcd_txn *etcd_txn_new(void)
{
    struct etcd_txn *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->doc = json_pack("{s:[],s:[],s:[]}", "compare", "success", "failure");
    if (!t->doc) {
        free(t);
        return NULL;
    }
    return t;
}

void etcd_txn_free(struct etcd_txn *t)
{
    if (!t) return;
    json_decref(t->doc);
    free(t);
}

static const char *const op_names[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};

void etcd_txn_cmp(struct etcd_txn *t, const char *key, enum etcd_target target, enum etcd_op op,
                  int64_t v)
{
    static const char *const targets[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
    static const char *const fields[] = {"version", "create_revision", "mod_revision", "value",
                                         "lease"};
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)v);
    json_t *c = json_object();
    json_object_set_new(c, "key", key_json(key));
    json_object_set_new(c, "target", json_string(targets[target]));
    json_object_set_new(c, "result", json_string(op_names[op]));
    json_object_set_new(c, fields[target], json_string(num));
    json_array_append_new(json_object_get(t->doc, "compare"), c);
}

void etcd_txn_cmp_value(struct etcd_txn *t, const char *key, enum etcd_op op, const void *val,
                        size_t vlen)
{
    char *b = etcd_b64(val, vlen);
    json_t *c = json_object();
    json_object_set_new(c, "key", key_json(key));
    json_object_set_new(c, "target", json_string("VALUE"));
    json_object_set_new(c, "result", json_string(op_names[op]));
    json_object_set_new(c, "value", json_string(b ? b : ""));
    free(b);
    json_array_append_new(json_object_get(t->doc, "compare"), c);
}

static void branch_add(struct etcd_txn *t, bool on_success, const char *what, json_t *req)
{
    json_array_append_new(json_object_get(t->doc, on_success ? "success" : "failure"),
                          json_pack("{s:o}", what, req));
}

void etcd_txn_put(struct etcd_txn *t, bool on_success, const char *key, const void *val,
                  size_t vlen, int64_t lease)
{
    branch_add(t, on_success, "request_put", put_req(key, val, vlen, lease));
}

void etcd_txn_delete(struct etcd_txn *t, bool on_success, const char *key, const char *end)
{
    branch_add(t, on_success, "request_delete_range", range_req(key, end, 0));
}

void etcd_txn_get(struct etcd_txn *t, bool on_success, const char *key, const char *end)
{
    branch_add(t, on_success, "request_range", range_req(key, end, 0));
}

int etcd_txn_commit(struct etcd *e, struct etcd_txn *t, bool *succeeded, int64_t *revision,
                    struct etcd_range *range, char *err, size_t errlen)
{
    json_t *resp;
    if (range) memset(range, 0, sizeof(*range));
    if (call(e, "kv/txn", t->doc, &resp, err, errlen) < 0) return -1;
    *succeeded = json_is_true(json_object_get(resp, "succeeded"));
    if (revision) *revision = i64_member(json_object_get(resp, "header"), "revision");
    int rc = 0;
    json_t *rs = json_object_get(resp, "responses");
    for (size_t i = 0; range && i < json_array_size(rs); i++) {
        json_t *rr = json_object_get(json_array_get(rs, i), "response_range");
        if (!rr) continue;
        if (parse_range(rr, range) < 0) {
            etcd_range_free(range);
            snprintf(err, errlen, "etcd: a malformed transaction answer");
            rc = -1;
        }
        break;
    }
    json_decref(resp);
    return rc;
}

int etcd_compact(struct etcd *e, int64_t rev, char *err, size_t errlen)
{
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)rev);
    json_t *req = json_pack("{s:s}", "revision", num), *resp;
    int rc = call(e, "kv/compaction", req, &resp, err, errlen);
    json_decref(req);
    json_decref(resp);
    return rc;
}

/* -------------------------------------------------------------- leases -- */

int64_t etcd_lease_grant(struct etcd *e, int ttl, char *err, size_t errlen)
{
    json_t *req = json_pack("{s:i}", "TTL", ttl), *resp;
    int rc = call(e, "lease/grant", req, &resp, err, errlen);
    json_decref(req);
    if (rc < 0) return -1;
    int64_t id = i64_member(resp, "ID");
    json_decref(resp);
    if (id <= 0) {
        snprintf(err, errlen, "etcd: no lease granted");
        return -1;
    }
    return id;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl, char *err, size_t errlen)
{
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)id);
    json_t *req = json_pack("{s:s}", "ID", num), *resp;
    int rc = call(e, "lease/keepalive", req, &resp, err, errlen);
    json_decref(req);
    if (rc < 0) return -1;
    json_t *r = json_object_get(resp, "result");
    *ttl = i64_member(r ? r : resp, "TTL");
    json_decref(resp);
    return 0;
}

int etcd_lease_revoke(struct etcd *e, int64_t id, char *err, size_t errlen)
{
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)id);
    json_t *req = json_pack("{s:s}", "ID", num), *resp;
    int rc = call(e, "lease/revoke", req, &resp, err, errlen);
    json_decref(req);
    json_decref(resp);
    return rc;
}

/* ------------------------------------------------------------- watches -- */

struct etcd_watch {
    struct etcd *e;
    char *key, *end;
    _Atomic int64_t next_rev; /* resume from here */
    _Atomic bool stop, lost;
    etcd_watch_fn fn;
    etcd_lost_fn lost_fn;
    void *opaque;
    pthread_t thread;
    struct buf line; /* the stream's partial object */
};

/* One JSON object of the stream: {"result":{"header":..,"events":[..]}}. */
static void watch_object(struct etcd_watch *w, const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    json_t *r = json_object_get(j, "result");
    if (!r) r = j;
    if (json_object_get(j, "error")) {
        log_warn("etcd watch: %s", json_string_value(json_object_get(j, "error")));
    } else if (i64_member(r, "compact_revision") > 0 ||
               json_is_true(json_object_get(r, "canceled"))) {
        if (!atomic_exchange(&w->lost, true)) {
            char why[200];
            snprintf(why, sizeof(why), "the watch was cancelled (history compacted to %lld)",
                     (long long)i64_member(r, "compact_revision"));
            w->lost_fn(w->opaque, why);
        }
    } else {
        json_t *evs = json_object_get(r, "events");
        size_t n = json_array_size(evs);
        struct etcd_event *ev = n ? calloc(n, sizeof(*ev)) : NULL;
        size_t got = 0;
        int64_t last = 0;
        for (size_t i = 0; ev && i < n; i++) {
            json_t *x = json_array_get(evs, i);
            if (parse_kv(json_object_get(x, "kv"), &ev[got].kv) < 0) {
                free(ev[got].kv.key);
                free(ev[got].kv.value);
                continue;
            }
            const char *type = json_string_value(json_object_get(x, "type"));
            ev[got].deleted = type && !strcmp(type, "DELETE");
            if (ev[got].kv.mod_rev > last) last = ev[got].kv.mod_rev;
            got++;
        }
        if (got) {
            w->fn(w->opaque, ev, got);
            if (last >= atomic_load(&w->next_rev)) atomic_store(&w->next_rev, last + 1);
        }
        for (size_t i = 0; i < got; i++) {
            free(ev[i].kv.key);
            free(ev[i].kv.value);
        }
        free(ev);
    }
    json_decref(j);
}

static size_t watch_write(char *data, size_t size, size_t nmemb, void *opaque)
{
    struct etcd_watch *w = opaque;
    size_t n = size * nmemb;
    if (atomic_load(&w->stop)) return 0;
    if (buf_write(data, 1, n, &w->line) != n) return 0;
    /* objects are separated by newlines */
    size_t start = 0;
    for (size_t i = 0; i < w->line.n; i++) {
        if (w->line.p[i] != '\n') continue;
        if (i > start) watch_object(w, w->line.p + start, i - start);
        start = i + 1;
    }
    memmove(w->line.p, w->line.p + start, w->line.n - start);
    w->line.n -= start;
    return n;
}

static int watch_progress(void *opaque, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    struct etcd_watch *w = opaque;
    return atomic_load(&w->stop) ? 1 : 0;
}

static void *watch_thread(void *opaque)
{
    struct etcd_watch *w = opaque;
    CURL *c = curl_easy_init();
    int fails = 0;
    while (c && !atomic_load(&w->stop)) {
        if (atomic_load(&w->lost)) { /* wait for etcd_watch_restart */
            usleep(100000);
            continue;
        }
        json_t *cr = range_req(w->key, w->end, 0);
        int64_t rev = atomic_load(&w->next_rev);
        if (rev > 0) json_object_set_new(cr, "start_revision", json_integer(rev));
        json_t *req = json_pack("{s:o}", "create_request", cr);
        char *text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        int idx = atomic_load(&w->e->current) % w->e->n;
        char url[512];
        snprintf(url, sizeof(url), "%s/v3/watch", w->e->urls[idx]);
        w->line.n = 0;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, watch_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, sockopt);
        CURLcode cc = curl_easy_perform(c);
        free(text);
        if (atomic_load(&w->stop)) break;
        /* the stream ended: that member is gone or restarting; go on
         * from the next revision on another one */
        if (cc != CURLE_OK && fails++ % 10 == 0)
            log_info("etcd watch on %s ended (%s): going on from revision %lld", url,
                     curl_easy_strerror(cc), (long long)atomic_load(&w->next_rev));
        atomic_store(&w->e->current, (idx + 1) % w->e->n);
        usleep(fails > 3 ? 200000 : 20000);
    }
    if (c) curl_easy_cleanup(c);
    return NULL;
}

struct etcd_watch *etcd_watch_start(struct etcd *e, const char *key, const char *end,
                                    int64_t start_rev, etcd_watch_fn fn, etcd_lost_fn lost,
                                    void *opaque, char *err, size_t errlen)
{
    struct etcd_watch *w = calloc(1, sizeof(*w));
    if (!w || !(w->key = strdup(key)) || (end && !(w->end = strdup(end)))) goto oom;
    w->e = e;
    w->fn = fn;
    w->lost_fn = lost;
    w->opaque = opaque;
    atomic_store(&w->next_rev, start_rev);
    if (pthread_create(&w->thread, NULL, watch_thread, w) != 0) {
        snprintf(err, errlen, "cannot start the watch thread: %s", strerror(errno));
        free(w->key);
        free(w->end);
        free(w);
        return NULL;
    }
    return w;
oom:
    if (w) {
        free(w->key);
        free(w->end);
    }
    free(w);
    snprintf(err, errlen, "out of memory");
    return NULL;
}

void etcd_watch_restart(struct etcd_watch *w, int64_t start_rev)
{
    atomic_store(&w->next_rev, start_rev);
    atomic_store(&w->lost, false);
}

void etcd_watch_stop(struct etcd_watch *w)
{
    if (!w) return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    free(w->line.p);
    free(w->key);
    free(w->end);
    free(w);
}
