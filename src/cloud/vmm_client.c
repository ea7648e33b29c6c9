/*
 * vmm_client.c - one request and one reply on a kumo-vmm control socket
 * (see vmm_client.h), with an overall deadline.
 */
#include "cloud/vmm_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX (1u << 20)

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_t *vmm_request(const char *path, json_t *req, int timeout_ms, char *err, size_t errlen)
{
    return vmm_request_fd(path, req, -1, timeout_ms, err, errlen);
}

/* send() of buf, with fd attached when fd >= 0 */
static ssize_t send_with_fd(int sock, const char *buf, size_t len, int fd)
{
    if (fd < 0) return send(sock, buf, len, MSG_NOSIGNAL);
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    memset(&cm, 0, sizeof(cm));
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                         .msg_controllen = sizeof(cm.buf)};
    struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd, sizeof(int));
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

json_t *vmm_request_fd(const char *path, json_t *req, int pass_fd, int timeout_ms, char *err,
                       size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        snprintf(err, errlen, "%s: path too long", path);
        return NULL;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        snprintf(err, errlen, "%.512s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    char *line = json_dumps(req, JSON_COMPACT);
    size_t len = line ? strlen(line) : 0;
    char *out = line ? malloc(len + 2) : NULL;
    if (!out) {
        free(line);
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(out, line, len);
    out[len++] = '\n';
    free(line);
    int64_t deadline = mono_ms() + timeout_ms;
    size_t sent = 0, got = 0;
    char *buf = malloc(REPLY_MAX);
    json_t *reply = NULL;
    if (!buf) goto done;
    for (;;) {
        int left = (int)(deadline - mono_ms());
        if (left <= 0) {
            snprintf(err, errlen, "%s: no answer within %d ms", path, timeout_ms);
            goto done;
        }
        struct pollfd p = {.fd = fd, .events = sent < len ? POLLOUT : POLLIN};
        int r = poll(&p, 1, left);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        if (sent < len) {
            ssize_t n = send_with_fd(fd, out + sent, len - sent, pass_fd);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n > 0) pass_fd = -1; /* it went with the first bytes */
            if (n < 0) {
                snprintf(err, errlen, "%.512s: %s", path, strerror(errno));
                goto done;
            }
            sent += (size_t)n;
            continue;
        }
        ssize_t n = recv(fd, buf + got, REPLY_MAX - 1 - got, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: connection closed before the answer", path);
            goto done;
        }
        got += (size_t)n;
        char *nl = memchr(buf, '\n', got);
        if (!nl && got == REPLY_MAX - 1) {
            snprintf(err, errlen, "%s: answer too long", path);
            goto done;
        }
        if (!nl) continue;
        json_error_t jerr;
        reply = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
        if (!json_is_object(reply)) {
            snprintf(err, errlen, "%s: not a JSON object: %s", path, jerr.text);
            json_decref(reply);
            reply = NULL;
        } else if (!json_is_true(json_object_get(reply, "ok"))) {
            const char *e = json_string_value(json_object_get(reply, "error"));
            snprintf(err, errlen, "%s", e ? e : "kumo-vmm refused the request");
            json_decref(reply);
            reply = NULL;
        }
        goto done;
    }
done:
    free(buf);
    free(out);
    close(fd);
    return reply;
}
