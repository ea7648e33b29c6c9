/*
 * portal/console.h - a VM's serial console in the browser: one WebSocket
 * (RFC 6455 framing by libwslay) bridged to the VM's console socket, the
 * same one `kumo vm console` attaches to (kumo-vmm serves one client at a
 * time: while the browser holds it, another client waits).
 *
 * Protocol: binary messages both ways carry the console's bytes as they
 * are (to the browser: what the guest printed, starting with the tail of
 * its console log; from the browser: keystrokes). Text messages from the
 * browser are refused (close 1003). The server closes with 1000 and a
 * reason in words when the console ends (the VM stopped), 1001 when kumod
 * stops, 1011 when the console cannot be reached.
 */
#ifndef KUMO_CLOUD_PORTAL_CONSOLE_H
#define KUMO_CLOUD_PORTAL_CONSOLE_H

#include <stdatomic.h>
#include <stddef.h>

#define PORTAL_CONSOLE_REPLAY 8192  /* bytes of the console log sent first */
#define PORTAL_CONSOLE_MAX_IN 65536 /* largest message accepted from the browser */

struct portal_console {
    char socket_path[4096];      /* the VM's console.sock */
    char log_path[4096];         /* its console.log (replayed first) */
    const atomic_bool *stopping; /* kumod is stopping: close with 1001 */
    atomic_int *running;         /* bridges running: one more while this one runs */
};

/* Run the bridge on the upgraded connection fd (extra: bytes the client
 * sent after its handshake) until either side ends. Blocks; takes
 * ownership of pc (freed). Does not close fd. */
void portal_console_run(struct portal_console *pc, int fd, const char *extra, size_t extra_len);

/* Feed raw WebSocket bytes from the browser (a fuzz harness's input)
 * through the same frame handling, against a console connected to
 * console_fd; returns when the bytes are used up. For tests/fuzz. */
void portal_console_feed(const char *bytes, size_t len, int console_fd);

#endif
