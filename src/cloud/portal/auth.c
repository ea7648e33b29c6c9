/*
 * portal/auth.c - the web portal's sessions and request checks (see
 * portal/auth.h).
 */
#include "cloud/portal/auth.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

void portal_sessions_init(struct portal_sessions *ss)
{
    memset(ss, 0, sizeof(*ss));
    pthread_mutex_init(&ss->lock, NULL);
}

static int random_hex(char out[PORTAL_SECRET_LEN + 1])
{
    unsigned char raw[PORTAL_SECRET_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static bool expired(const struct portal_session *s, int64_t now)
{
    return now - s->used_ms > PORTAL_SESSION_IDLE || now - s->created_ms > PORTAL_SESSION_LIFE;
}

int portal_session_create(struct portal_sessions *ss, int64_t now_ms, const char *principal,
                          struct portal_session *out)
{
    struct portal_session n = {.created_ms = now_ms, .used_ms = now_ms, .live = true};
    snprintf(n.principal, sizeof(n.principal), "%s", principal ? principal : "");
    if (random_hex(n.id) < 0 || random_hex(n.csrf) < 0) return -1;
    pthread_mutex_lock(&ss->lock);
    int slot = 0;
    for (int i = 0; i < PORTAL_SESSIONS_MAX; i++) {
        if (!ss->s[i].live || expired(&ss->s[i], now_ms)) {
            slot = i;
            break;
        }
        if (ss->s[i].used_ms < ss->s[slot].used_ms) slot = i;
    }
    ss->s[slot] = n;
    pthread_mutex_unlock(&ss->lock);
    *out = n;
    return 0;
}

bool portal_secret_eq(const char *a, const char *b)
{
    if (!a || !b) return false;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

bool portal_session_find(struct portal_sessions *ss, const char *id, int64_t now_ms,
                         struct portal_session *out)
{
    if (!id || strlen(id) != PORTAL_SECRET_LEN) return false;
    bool found = false;
    pthread_mutex_lock(&ss->lock);
    for (int i = 0; i < PORTAL_SESSIONS_MAX; i++) {
        struct portal_session *s = &ss->s[i];
        if (!s->live || !portal_secret_eq(s->id, id)) continue;
        if (expired(s, now_ms)) {
            s->live = false;
            break;
        }
        s->used_ms = now_ms;
        *out = *s;
        found = true;
        break;
    }
    pthread_mutex_unlock(&ss->lock);
    return found;
}

void portal_session_end(struct portal_sessions *ss, const char *id)
{
    if (!id) return;
    pthread_mutex_lock(&ss->lock);
    for (int i = 0; i < PORTAL_SESSIONS_MAX; i++)
        if (ss->s[i].live && portal_secret_eq(ss->s[i].id, id)) ss->s[i].live = false;
    pthread_mutex_unlock(&ss->lock);
}

/* "PORT" of 1-5 digits. */
static bool port_ok(const char *p, size_t n)
{
    if (n < 1 || n > 5) return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i])) return false;
    return true;
}

/* The host[:port] part of an origin ("https://a.b:8443" -> "a.b:8443"). */
static const char *origin_authority(const char *origin, size_t *len)
{
    const char *s = origin ? strstr(origin, "://") : NULL;
    if (!s) return NULL;
    s += 3;
    *len = strcspn(s, "/");
    return *len ? s : NULL;
}

bool portal_host_ok(const char *host, const char *public_origin)
{
    if (!host || !*host) return false;
    size_t plen;
    const char *pub = origin_authority(public_origin, &plen);
    if (pub && strlen(host) == plen && strncasecmp(host, pub, plen) == 0) return true;
    char name[64];
    size_t hl = strlen(host);
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close) return false;
        size_t nl = (size_t)(close - host - 1);
        if (nl >= sizeof(name)) return false;
        memcpy(name, host + 1, nl);
        name[nl] = 0;
        const char *rest = close + 1;
        if (*rest && (*rest != ':' || !port_ok(rest + 1, strlen(rest + 1)))) return false;
        struct in6_addr a6;
        return inet_pton(AF_INET6, name, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
    }
    const char *colon = strchr(host, ':');
    size_t nl = colon ? (size_t)(colon - host) : hl;
    if (colon && !port_ok(colon + 1, hl - nl - 1)) return false;
    if (nl == 0 || nl >= sizeof(name)) return false;
    memcpy(name, host, nl);
    name[nl] = 0;
    if (strcasecmp(name, "localhost") == 0) return true;
    struct in_addr a4;
    return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

bool portal_origin_ok(const char *origin, const char *host, const char *public_origin)
{
    if (!origin || !*origin) return false;
    if (public_origin && *public_origin) {
        size_t pl = strlen(public_origin);
        while (pl && public_origin[pl - 1] == '/')
            pl--;
        if (strlen(origin) == pl && strncasecmp(origin, public_origin, pl) == 0) return true;
    }
    if (!portal_host_ok(host, public_origin)) return false;
    return strncasecmp(origin, "http://", 7) == 0 && strcasecmp(origin + 7, host) == 0;
}

bool portal_ws_protocols(const char *header, char *csrf, size_t csrf_len)
{
    bool console = false;
    if (csrf_len) csrf[0] = 0;
    if (!header) return false;
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        size_t n = strcspn(p, ", \t");
        if (n == strlen(PORTAL_WS_PROTOCOL) && strncmp(p, PORTAL_WS_PROTOCOL, n) == 0)
            console = true;
        size_t pre = strlen(PORTAL_WS_CSRF);
        if (n > pre && strncmp(p, PORTAL_WS_CSRF, pre) == 0 && n - pre < csrf_len) {
            memcpy(csrf, p + pre, n - pre);
            csrf[n - pre] = 0;
        }
        p += n;
    }
    return console;
}

bool portal_ws_accept(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    if (!key || strlen(key) != 24) return false;
    struct base64_decode_ctx b;
    uint8_t raw[BASE64_DECODE_LENGTH(24)];
    size_t n = sizeof(raw);
    base64_decode_init(&b);
    if (!base64_decode_update(&b, &n, raw, 24, key) || !base64_decode_final(&b) || n != 16)
        return false;
    struct sha1_ctx sha;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&sha);
    sha1_update(&sha, 24, (const uint8_t *)key);
    sha1_update(&sha, sizeof(guid) - 1, (const uint8_t *)guid);
    sha1_digest(&sha, sizeof(digest), digest);
    base64_encode_raw(out, sizeof(digest), digest); /* 28 characters with the padding */
    out[28] = 0;
    return true;
}

const char *portal_content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".woff2", "font/woff2"},
        {".map", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = path ? strrchr(path, '.') : NULL;
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcasecmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}
