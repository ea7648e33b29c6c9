/*
 * portal/console.c - the WebSocket <-> VM console bridge (see
 * portal/console.h). One poll loop over the browser's socket and the
 * console socket, both non-blocking; libwslay does the framing (masking,
 * fragments, ping/pong, the close handshake).
 */
#include "cloud/portal/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define QUEUE_MAX (1u << 20) /* bytes queued to the browser before the console is not read */

struct bridge {
    wslay_event_context_ptr ws;
    int fd;            /* the browser */
    int con;           /* the console socket, or -1 */
    const char *extra; /* bytes read before the bridge started (or the fuzz input) */
    size_t extra_len;
    bool memory_only;                   /* fuzzing: no socket, input from extra, output discarded */
    char in[2 * PORTAL_CONSOLE_MAX_IN]; /* from the browser, not yet written to the console */
    size_t in_len;
    bool closing;
};

static void close_with(struct bridge *b, uint16_t code, const char *reason)
{
    if (b->closing) return;
    b->closing = true;
    wslay_event_queue_close(b->ws, code, (const uint8_t *)reason, strlen(reason));
}

static ssize_t ws_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    (void)flags;
    struct bridge *b = user;
    if (b->extra_len) {
        size_t n = b->extra_len < len ? b->extra_len : len;
        memcpy(buf, b->extra, n);
        b->extra += n;
        b->extra_len -= n;
        return (ssize_t)n;
    }
    if (b->memory_only) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    ssize_t n = recv(b->fd, buf, len, 0);
    if (n > 0) return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE); /* gone, or closed */
    return -1;
}

static ssize_t ws_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    struct bridge *b = user;
    if (b->memory_only) return (ssize_t)len;
    ssize_t n = send(b->fd, data, len, MSG_NOSIGNAL | (flags & WSLAY_MSG_MORE ? MSG_MORE : 0));
    if (n >= 0) return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    (void)ctx;
    struct bridge *b = user;
    if (arg->opcode == WSLAY_TEXT_FRAME) {
        close_with(b, WSLAY_CODE_UNSUPPORTED_DATA, "send the console's input as binary messages");
        return;
    }
    if (arg->opcode != WSLAY_BINARY_FRAME || b->closing || !arg->msg_length)
        return; /* control frames are wslay's; an empty message has no msg */
    if (arg->msg_length > sizeof(b->in) - b->in_len) {
        close_with(b, WSLAY_CODE_MESSAGE_TOO_BIG,
                   "the console's input is not read fast enough: paste less at a time");
        return;
    }
    memcpy(b->in + b->in_len, arg->msg, arg->msg_length);
    b->in_len += arg->msg_length;
}

static bool bridge_init(struct bridge *b)
{
    static const struct wslay_event_callbacks cb = {
        .recv_callback = ws_recv, .send_callback = ws_send, .on_msg_recv_callback = on_msg};
    if (wslay_event_context_server_init(&b->ws, &cb, b) != 0) return false;
    wslay_event_config_set_max_recv_msg_length(b->ws, PORTAL_CONSOLE_MAX_IN);
    return true;
}

/* Write what the browser typed to the console; keep what does not fit. */
static void flush_input(struct bridge *b)
{
    while (b->in_len && b->con >= 0) {
        ssize_t n = write(b->con, b->in, b->in_len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            b->in_len = 0; /* the console is gone; the read side reports it */
            return;
        }
        memmove(b->in, b->in + n, b->in_len - (size_t)n);
        b->in_len -= (size_t)n;
    }
}

static void send_binary(struct bridge *b, const void *data, size_t len)
{
    if (!len || b->closing) return;
    struct wslay_event_msg m = {.opcode = WSLAY_BINARY_FRAME, .msg = data, .msg_length = len};
    wslay_event_queue_msg(b->ws, &m); /* copies */
}

/* The end of the console log, from a line start, so the browser shows the
 * screen the guest left (its prompt) before anything new arrives. */
static void replay_log(struct bridge *b, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) return;
    if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
        off_t start = sb.st_size > PORTAL_CONSOLE_REPLAY ? sb.st_size - PORTAL_CONSOLE_REPLAY : 0;
        char *buf = malloc(PORTAL_CONSOLE_REPLAY);
        ssize_t n = buf ? pread(fd, buf, (size_t)(sb.st_size - start), start) : -1;
        if (n > 0) {
            size_t skip = 0;
            if (start > 0) {
                char *nl = memchr(buf, '\n', (size_t)n);
                skip = nl ? (size_t)(nl - buf) + 1 : 0;
            }
            send_binary(b, buf + skip, (size_t)n - skip);
        }
        free(buf);
    }
    close(fd);
}

static int connect_console(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void portal_console_run(struct portal_console *pc, int fd, const char *extra, size_t extra_len)
{
    atomic_fetch_add(pc->running, 1);
    struct bridge *b = calloc(1, sizeof(*b));
    if (!b || (*b = (struct bridge){.fd = fd, .con = -1, .extra = extra, .extra_len = extra_len},
               !bridge_init(b))) {
        free(b);
        atomic_fetch_sub(pc->running, 1);
        free(pc);
        return;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    b->con = connect_console(pc->socket_path);
    if (b->con < 0) {
        char why[300];
        snprintf(why, sizeof(why), "cannot reach the VM's console: %s (is the VM running?)",
                 strerror(errno));
        why[123] = 0; /* a close reason is at most 123 bytes */
        close_with(b, WSLAY_CODE_INTERNAL_SERVER_ERROR, why);
    } else {
        replay_log(b, pc->log_path);
    }
    if (b->extra_len) wslay_event_recv(b->ws);
    double close_deadline = 0;
    char buf[16384];
    for (;;) {
        if (!b->closing && atomic_load(pc->stopping))
            close_with(b, WSLAY_CODE_GOING_AWAY, "kumod is stopping; reconnect when it is back");
        bool want_r = wslay_event_want_read(b->ws), want_w = wslay_event_want_write(b->ws);
        if (!want_r && !want_w) break;
        if (b->closing && !want_w) { /* our close is sent: wait a little for the answer */
            if (atomic_load(pc->stopping)) break; /* not when kumod stops */
            if (close_deadline == 0) close_deadline = mono() + 2;
            if (mono() > close_deadline) break;
        }
        struct pollfd p[2] = {{.fd = fd}, {.fd = b->con}};
        if (want_r && b->in_len < PORTAL_CONSOLE_MAX_IN) p[0].events |= POLLIN;
        if (want_w) p[0].events |= POLLOUT;
        if (b->con >= 0 && !b->closing && wslay_event_get_queued_msg_length(b->ws) < QUEUE_MAX)
            p[1].events |= POLLIN;
        if (b->con >= 0 && b->in_len) p[1].events |= POLLOUT;
        int rc = poll(p, b->con >= 0 ? 2 : 1, 100);
        if (rc < 0 && errno != EINTR) break;
        if (rc <= 0) continue;
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (wslay_event_recv(b->ws) != 0) break;
        }
        flush_input(b);
        if (b->con >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t n = read(b->con, buf, sizeof(buf));
            if (n > 0) {
                send_binary(b, buf, (size_t)n);
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                close(b->con);
                b->con = -1;
                close_with(b, WSLAY_CODE_NORMAL_CLOSURE,
                           "the console closed: the VM stopped or restarted");
            }
        }
        if (wslay_event_want_write(b->ws) && wslay_event_send(b->ws) != 0) break;
    }
    if (b->con >= 0) close(b->con);
    wslay_event_context_free(b->ws);
    free(b);
    atomic_fetch_sub(pc->running, 1);
    free(pc);
}

void portal_console_feed(const char *bytes, size_t len, int console_fd)
{
    struct bridge *b = calloc(1, sizeof(*b));
    if (!b) return;
    *b = (struct bridge){
        .fd = -1, .con = console_fd, .extra = bytes, .extra_len = len, .memory_only = true};
    if (!bridge_init(b)) {
        free(b);
        return;
    }
    while (b->extra_len && wslay_event_get_read_enabled(b->ws)) {
        size_t before = b->extra_len;
        if (wslay_event_recv(b->ws) != 0) break;
        flush_input(b);
        b->in_len = 0; /* what the console did not take is dropped (no poll loop here) */
        wslay_event_send(b->ws);
        if (b->extra_len == before) break;
    }
    wslay_event_context_free(b->ws);
    free(b);
}
