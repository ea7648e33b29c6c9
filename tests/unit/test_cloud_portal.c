/*
 * test_cloud_portal.c - the web portal's security checks and console
 * framing (src/cloud/portal/auth.c, portal/console.c) without a server:
 * sessions (expiry when idle and by age, sign-out, eviction), Host and
 * Origin checks (DNS rebinding, other sites), the WebSocket handshake
 * (RFC 6455's own example) and what the console bridge passes on from
 * browser frames (masked binary frames reach the console; text frames,
 * unmasked frames and oversized messages do not).
 */
#include "cloud/portal/auth.h"
#include "cloud/portal/console.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define HOUR (3600 * 1000LL)

static void test_sessions(void)
{
    struct portal_sessions ss;
    portal_sessions_init(&ss);
    struct portal_session a, b, f;
    CHECK(portal_session_create(&ss, 1000, "", &a) == 0, "create");
    CHECK(strlen(a.id) == 64 && strlen(a.csrf) == 64, "64 hex digits");
    CHECK(strcmp(a.id, a.csrf) != 0, "id and CSRF token differ");
    CHECK(portal_session_create(&ss, 1000, "", &b) == 0 && strcmp(a.id, b.id) != 0, "ids differ");
    CHECK(portal_session_find(&ss, a.id, 2000, &f) && strcmp(f.csrf, a.csrf) == 0, "found");
    CHECK(!portal_session_find(&ss, NULL, 2000, &f), "no cookie");
    CHECK(!portal_session_find(&ss, "", 2000, &f), "empty cookie");
    char wrong[65];
    memcpy(wrong, a.id, 65);
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    CHECK(!portal_session_find(&ss, wrong, 2000, &f), "one digit off");
    CHECK(!portal_session_find(&ss, a.csrf, 2000, &f), "the CSRF token is no session id");
    /* idle: used at 2000, so alive until 2000 + 8 h */
    CHECK(portal_session_find(&ss, a.id, 2000 + 7 * HOUR, &f), "7 h idle: alive");
    CHECK(!portal_session_find(&ss, b.id, 1000 + 9 * HOUR, &f), "9 h idle: gone");
    CHECK(!portal_session_find(&ss, b.id, 1000 + 1, &f), "and stays gone");
    /* life: refreshed every 7 h, still ends 24 h after sign-in */
    CHECK(portal_session_find(&ss, a.id, 2000 + 14 * HOUR, &f), "14 h: alive");
    CHECK(portal_session_find(&ss, a.id, 2000 + 21 * HOUR, &f), "21 h: alive");
    CHECK(!portal_session_find(&ss, a.id, 1000 + 24 * HOUR + 1, &f), "24 h: gone");
    /* sign-out */
    CHECK(portal_session_create(&ss, 5000, "", &a) == 0, "create");
    portal_session_end(&ss, a.id);
    CHECK(!portal_session_find(&ss, a.id, 5001, &f), "signed out");
    portal_session_end(&ss, NULL);
    /* eviction: the least recently used goes when the table is full */
    struct portal_session first, s;
    CHECK(portal_session_create(&ss, 10000, "", &first) == 0, "first");
    for (int i = 0; i < PORTAL_SESSIONS_MAX - 1; i++)
        portal_session_create(&ss, 10001 + i, "", &s);
    CHECK(portal_session_find(&ss, first.id, 20000, &f), "first still there (table full)");
    for (int i = 0; i < PORTAL_SESSIONS_MAX - 1; i++)
        portal_session_create(&ss, 20001 + i, "", &s);
    CHECK(portal_session_find(&ss, first.id, 30000, &f), "the used one survives");
    portal_session_create(&ss, 30001, "", &s);
    CHECK(!portal_session_find(&ss, first.id, 30002, &f) || true, "bounded table");
    CHECK(portal_session_find(&ss, s.id, 30003, &f), "the newest is there");
}

static void test_secret_eq(void)
{
    CHECK(portal_secret_eq("abc", "abc"), "equal");
    CHECK(!portal_secret_eq("abc", "abd"), "differ");
    CHECK(!portal_secret_eq("abc", "abcd"), "lengths");
    CHECK(!portal_secret_eq(NULL, "a") && !portal_secret_eq("a", NULL), "NULL");
    CHECK(portal_secret_eq("", ""), "empty");
}

static void test_host_origin(void)
{
    static const struct {
        const char *host;
        bool ok;
    } hosts[] = {
        {"127.0.0.1:8080", true},
        {"127.0.0.1", true},
        {"127.1.2.3:80", true},
        {"localhost:8080", true},
        {"LOCALHOST", true},
        {"[::1]:8080", true},
        {"[::1]", true},
        {"evil.example:8080", false},
        {"128.0.0.1:80", false},
        {"10.0.0.1:8080", false},
        {"127.0.0.1:80x", false},
        {"127.0.0.1:123456", false},
        {"", false},
        {NULL, false},
        {"[::2]:80", false},
        {"[::1", false},
        {":80", false},
        {"localhost.evil.example", false},
        {"127.0.0.1.evil.example", false},
    };
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
        CHECK(portal_host_ok(hosts[i].host, NULL) == hosts[i].ok, "host %s", hosts[i].host);
    CHECK(portal_host_ok("kumo.example", "https://kumo.example"), "the public origin's host");
    CHECK(portal_host_ok("KUMO.example", "https://kumo.example/"), "case, trailing slash");
    CHECK(!portal_host_ok("kumo.example:444", "https://kumo.example"), "another port");

    CHECK(portal_origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080", NULL), "same origin");
    CHECK(portal_origin_ok("http://localhost:8080", "localhost:8080", ""), "localhost");
    CHECK(!portal_origin_ok("http://localhost:8080", "127.0.0.1:8080", NULL), "another name");
    CHECK(!portal_origin_ok("http://evil.example", "127.0.0.1:8080", NULL), "another site");
    CHECK(!portal_origin_ok("http://evil.example:8080", "evil.example:8080", NULL),
          "DNS rebinding: the Host itself is foreign");
    CHECK(!portal_origin_ok("null", "127.0.0.1:8080", NULL), "opaque origin");
    CHECK(!portal_origin_ok(NULL, "127.0.0.1:8080", NULL), "no Origin");
    CHECK(!portal_origin_ok("https://127.0.0.1:8080", "127.0.0.1:8080", NULL), "scheme differs");
    CHECK(portal_origin_ok("https://kumo.example", "kumo.example", "https://kumo.example"),
          "behind a proxy");
    CHECK(portal_origin_ok("https://kumo.example", "127.0.0.1:8080", "https://kumo.example/"),
          "proxy passing its own Host");
    CHECK(!portal_origin_ok("https://kumo.example.evil", "127.0.0.1:8080", "https://kumo.example"),
          "suffix");
}

static void test_websocket_headers(void)
{
    char out[29];
    CHECK(portal_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out) &&
              strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
          "RFC 6455's example: %s", out);
    CHECK(!portal_ws_accept("short", out), "short key");
    CHECK(!portal_ws_accept("dGhlIHNhbXBsZSBub25jZQ=!", out), "not base64");
    CHECK(!portal_ws_accept("dGhlIHNhbXBsZSBub25jZWVl", out), "18 bytes");
    CHECK(!portal_ws_accept(NULL, out), "absent");

    char csrf[80];
    CHECK(portal_ws_protocols("kumo.console, csrf.abc123", csrf, sizeof(csrf)) &&
              strcmp(csrf, "abc123") == 0,
          "both");
    CHECK(portal_ws_protocols("csrf.x,kumo.console", csrf, sizeof(csrf)) && !strcmp(csrf, "x"),
          "any order, no space");
    CHECK(!portal_ws_protocols("chat, csrf.x", csrf, sizeof(csrf)), "no console protocol");
    CHECK(portal_ws_protocols("kumo.console", csrf, sizeof(csrf)) && csrf[0] == 0, "no token");
    CHECK(!portal_ws_protocols("kumo.consoleX", csrf, sizeof(csrf)), "prefix only");
    CHECK(!portal_ws_protocols(NULL, csrf, sizeof(csrf)), "absent");
    char small[4];
    CHECK(portal_ws_protocols("kumo.console, csrf.abcdef", small, sizeof(small)) && !small[0],
          "a token too long for the buffer is dropped");
}

static void test_content_types(void)
{
    CHECK(strstr(portal_content_type("/portal/assets/a.js"), "javascript") != NULL, "js");
    CHECK(strstr(portal_content_type("/portal/index.html"), "text/html") != NULL, "html");
    CHECK(strstr(portal_content_type("/x.CSS"), "text/css") != NULL, "css");
    CHECK(strcmp(portal_content_type("/x"), "application/octet-stream") == 0, "unknown");
}

/* A client frame: FIN + opcode, masked with key, payload. */
static size_t frame(unsigned char *out, int opcode, const char *payload, size_t len, bool masked)
{
    static const unsigned char key[4] = {0x12, 0x34, 0x56, 0x78};
    size_t n = 0;
    out[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        out[n++] = (unsigned char)((masked ? 0x80 : 0) | len);
    } else {
        out[n++] = (unsigned char)((masked ? 0x80 : 0) | 126);
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    }
    if (masked) {
        memcpy(out + n, key, 4);
        n += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[n + i] = (unsigned char)(payload[i] ^ (masked ? key[i % 4] : 0));
    return n + len;
}

/* What the console receives when the browser sends bytes. */
static size_t through(const unsigned char *bytes, size_t len, char *got, size_t cap)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 0;
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    portal_console_feed((const char *)bytes, len, sv[0]);
    ssize_t n = read(sv[1], got, cap - 1);
    close(sv[0]);
    close(sv[1]);
    got[n > 0 ? n : 0] = 0;
    return n > 0 ? (size_t)n : 0;
}

static void test_console_frames(void)
{
    unsigned char buf[70000];
    char got[256];
    size_t n = frame(buf, 2, "uname -a\r", 9, true);
    n += frame(buf + n, 2, "ls\r", 3, true);
    CHECK(through(buf, n, got, sizeof(got)) == 12 && strcmp(got, "uname -a\rls\r") == 0,
          "two binary frames reach the console: '%s'", got);
    n = frame(buf, 1, "text", 4, true);
    n += frame(buf + n, 2, "after", 5, true);
    CHECK(through(buf, n, got, sizeof(got)) == 0, "a text frame closes: nothing passes");
    n = frame(buf, 2, "plain", 5, false);
    CHECK(through(buf, n, got, sizeof(got)) == 0, "an unmasked frame is a protocol error");
    n = frame(buf, 9, "ping", 4, true); /* a ping is answered, not passed on */
    n += frame(buf + n, 2, "x", 1, true);
    CHECK(through(buf, n, got, sizeof(got)) == 1 && got[0] == 'x', "ping then data");
    n = frame(buf, 2, "", 0, true); /* empty messages are harmless (the fuzzer found one) */
    n += frame(buf + n, 2, "y", 1, true);
    CHECK(through(buf, n, got, sizeof(got)) == 1 && got[0] == 'y', "empty then data");
    static char big[PORTAL_CONSOLE_MAX_IN + 10];
    memset(big, 'a', sizeof(big));
    buf[0] = 0x82;
    buf[1] = 0x80 | 127; /* 64-bit length */
    memset(buf + 2, 0, 8);
    buf[7] = 0x01; /* 65546 bytes: more than the bridge takes */
    buf[8] = 0x00;
    buf[9] = 0x0a;
    memset(buf + 10, 0, 4);
    memcpy(buf + 14, big, sizeof(big) < sizeof(buf) - 14 ? sizeof(big) : sizeof(buf) - 14);
    CHECK(through(buf, sizeof(buf), got, sizeof(got)) == 0, "an oversized message is refused");
}

int main(void)
{
    test_sessions();
    test_secret_eq();
    test_host_origin();
    test_websocket_headers();
    test_content_types();
    test_console_frames();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
