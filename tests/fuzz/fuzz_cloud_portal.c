/*
 * fuzz_cloud_portal.c - libFuzzer harness for what the web portal reads
 * from a browser (src/cloud/portal/auth.c, portal/console.c): the first
 * byte picks a target, the rest is the input. Request headers (Host,
 * Origin, Sec-WebSocket-Protocol, Sec-WebSocket-Key, a session cookie) go
 * through the checks, which must not crash or read past the string, and
 * must keep their promises (an accepted Origin is this kumod's own); raw
 * WebSocket bytes go through the console bridge's framing (libwslay and
 * the bridge's message handling) into a socket pair.
 */
#include "cloud/portal/auth.h"
#include "cloud/portal/console.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static struct portal_sessions sessions;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static int init;
    if (!init) {
        portal_sessions_init(&sessions);
        struct portal_session s;
        portal_session_create(&sessions, 1000, "", &s);
        init = 1;
    }
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = 0;
    switch (data[0] % 5) {
    case 0: { /* Host, and Origin after a NUL */
        const char *origin = s + strlen(s) + 1 <= s + size - 1 ? s + strlen(s) + 1 : "";
        bool h = portal_host_ok(s, NULL);
        bool o = portal_origin_ok(origin, s, NULL);
        if (o && (!h || strncasecmp(origin, "http://", 7) != 0 || strcasecmp(origin + 7, s) != 0))
            abort(); /* an accepted Origin is http:// + an accepted Host */
        portal_host_ok(s, "https://kumo.example");
        portal_origin_ok(origin, s, "https://kumo.example/");
        break;
    }
    case 1: {
        char csrf[PORTAL_SECRET_LEN + 2];
        portal_ws_protocols(s, csrf, sizeof(csrf));
        if (strlen(csrf) >= sizeof(csrf)) abort(); /* fits, NUL included */
        break;
    }
    case 2: {
        char out[29];
        if (portal_ws_accept(s, out) && strlen(out) != 28) abort();
        break;
    }
    case 3: {
        struct portal_session f;
        if (portal_session_find(&sessions, s, 2000, &f) && strlen(s) != PORTAL_SECRET_LEN) abort();
        portal_content_type(s);
        break;
    }
    default: {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
            fcntl(sv[0], F_SETFL, O_NONBLOCK);
            portal_console_feed((const char *)data + 1, size - 1, sv[0]);
            close(sv[0]);
            close(sv[1]);
        }
    }
    }
    free(s);
    return 0;
}
