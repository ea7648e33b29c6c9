/*
 * console.c - see console.h.
 */
#include "devices/console.h"

#include "lib/log.h"
#include "lib/threadrole.h"
#include "machine/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

enum backend { CON_NONE, CON_STDIO, CON_SOCKET };

#define ESCAPE_CHAR 0x01 /* Ctrl-A */
#define OUT_BUF     4096
#define FLUSH_MS    5 /* a partial line (a prompt, an echoed key) waits at most this long */

struct console {
    enum backend kind;
    int in_fd, out_fd; /* stdio: 0 and 1; socket: the client, or -1 */
    int listen_fd;     /* socket backend */
    char *socket_path;
    int log_fd;
    uint64_t log_size, log_max; /* bytes in the log file; its bound */
    int wake[2];                /* pipe to stop the input thread */
    bool tty;                   /* stdin is a terminal in raw mode */
    struct termios saved;
    bool escape; /* the previous input byte was the escape character */
    console_sink_fn sink;
    void *sink_opaque;
    struct machine *m;
    pthread_t thread;
    _Atomic bool started;
    pthread_mutex_t out_lock;
    char out[OUT_BUF]; /* output not yet written (guarded by out_lock) */
    size_t out_len;
    pthread_mutex_t sink_lock; /* guards sink and m against machine teardown */
};

static struct termios *restore_termios;
static void restore_terminal(void)
{
    if (restore_termios) tcsetattr(STDIN_FILENO, TCSANOW, restore_termios);
}

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

struct console *console_open(const char *spec, char *err, size_t errlen)
{
    struct console *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->in_fd = c->out_fd = c->listen_fd = c->log_fd = -1;
    c->wake[0] = c->wake[1] = -1;
    pthread_mutex_init(&c->out_lock, NULL);
    pthread_mutex_init(&c->sink_lock, NULL);
    if (strcmp(spec, "none") == 0) {
        c->kind = CON_NONE;
    } else if (strcmp(spec, "stdio") == 0) {
        c->kind = CON_STDIO;
        c->in_fd = STDIN_FILENO;
        c->out_fd = STDOUT_FILENO;
    } else if (strncmp(spec, "socket:", 7) == 0 && spec[7]) {
        c->kind = CON_SOCKET;
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(spec + 7) >= sizeof(a.sun_path)) {
            snprintf(err, errlen, "console socket path is too long (max %zu bytes)",
                     sizeof(a.sun_path) - 1);
            goto fail;
        }
        strcpy(a.sun_path, spec + 7);
        c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        unlink(a.sun_path);
        if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
            listen(c->listen_fd, 1) < 0) {
            snprintf(err, errlen, "cannot listen on console socket %s: %s", a.sun_path,
                     strerror(errno));
            goto fail;
        }
        c->socket_path = strdup(a.sun_path);
    } else {
        snprintf(err, errlen, "unknown console '%s': use none, stdio or socket:PATH", spec);
        goto fail;
    }
    if (pipe2(c->wake, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
        goto fail;
    }
    return c;
fail:
    console_close(c);
    return NULL;
}

int console_set_log(struct console *c, const char *path, uint64_t max, char *err, size_t errlen)
{
    /* read-write and not O_APPEND: trimming reads the tail and rewrites it
     * at the start; writes go to the end we keep track of */
    c->log_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct stat st;
    if (c->log_fd < 0 || fstat(c->log_fd, &st) < 0) {
        snprintf(err, errlen, "cannot open console log %s: %s", path, strerror(errno));
        if (c->log_fd >= 0) close(c->log_fd);
        c->log_fd = -1;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) { /* a pipe or a terminal: nothing to trim */
        c->log_max = 0;
        return 0;
    }
    c->log_max = max == 0 ? 0 : max < 4096 ? 4096 : max;
    c->log_size = (uint64_t)st.st_size;
    if (lseek(c->log_fd, 0, SEEK_END) < 0) {
        snprintf(err, errlen, "cannot seek in console log %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Drop the older half of the log file, keeping whole lines; out_lock held. */
static void trim_log(struct console *c)
{
    static const char note[] = "[kumo-vmm: older console output dropped: the log is kept "
                               "under its limit]\n";
    uint64_t keep = c->log_max / 2;
    if (keep > c->log_size) keep = c->log_size;
    char *buf = malloc(keep + sizeof(note));
    if (!buf) return;
    memcpy(buf, note, sizeof(note) - 1);
    ssize_t n = pread(c->log_fd, buf + sizeof(note) - 1, keep, (off_t)(c->log_size - keep));
    if (n < 0) n = 0;
    /* start at a line */
    char *body = buf + sizeof(note) - 1, *nl = memchr(body, '\n', (size_t)n);
    size_t skip = nl ? (size_t)(nl - body) + 1 : 0;
    memmove(body, body + skip, (size_t)n - skip);
    size_t total = sizeof(note) - 1 + (size_t)n - skip;
    if (pwrite(c->log_fd, buf, total, 0) == (ssize_t)total &&
        ftruncate(c->log_fd, (off_t)total) == 0) {
        c->log_size = total;
        lseek(c->log_fd, (off_t)total, SEEK_SET);
    }
    free(buf);
}

void console_set_sink(struct console *c, console_sink_fn fn, void *opaque)
{
    pthread_mutex_lock(&c->sink_lock);
    c->sink = fn;
    c->sink_opaque = opaque;
    pthread_mutex_unlock(&c->sink_lock);
}

void console_set_machine(struct console *c, struct machine *m)
{
    if (!c) return;
    pthread_mutex_lock(&c->sink_lock);
    c->m = m;
    pthread_mutex_unlock(&c->sink_lock);
}

/* Write out the buffered output; call with out_lock held. */
static void flush_locked(struct console *c)
{
    if (!c->out_len) return;
    if (c->out_fd >= 0) write_all(c->out_fd, c->out, c->out_len);
    if (c->log_fd >= 0) {
        if (c->log_max && c->log_size + c->out_len > c->log_max) trim_log(c);
        write_all(c->log_fd, c->out, c->out_len);
        c->log_size += c->out_len;
    }
    c->out_len = 0;
}

/*
 * Guests write the console a byte at a time. Whole lines (and full buffers)
 * go out at once; a partial line is flushed by the input thread within
 * FLUSH_MS, so prompts and echoed keys still appear promptly, at one
 * write() per burst instead of one per byte.
 */
void console_write(struct console *c, const void *buf, size_t len)
{
    if (!c) return;
    pthread_mutex_lock(&c->out_lock);
    bool was_empty = c->out_len == 0;
    const char *p = buf;
    while (len) {
        size_t n = len < OUT_BUF - c->out_len ? len : OUT_BUF - c->out_len;
        memcpy(c->out + c->out_len, p, n);
        c->out_len += n;
        p += n;
        len -= n;
        if (c->out_len == OUT_BUF) flush_locked(c);
    }
    bool line = c->out_len && memchr(c->out, '\n', c->out_len);
    if (line || !c->started) flush_locked(c);
    pthread_mutex_unlock(&c->out_lock);
    if (!line && was_empty && c->started && c->out_len) {
        if (write(c->wake[1], "f", 1) < 0) { /* a wake-up is already pending */
        }
    }
}

static void say(struct console *c, const char *msg)
{
    pthread_mutex_lock(&c->out_lock);
    flush_locked(c);
    pthread_mutex_unlock(&c->out_lock);
    /* messages from the console itself go to the terminal, not the log */
    if (c->out_fd >= 0) write_all(c->out_fd, msg, strlen(msg));
}

/* Deliver input to the sink, waiting while the guest's receive FIFO is full. */
static void deliver(struct console *c, const uint8_t *buf, size_t len)
{
    while (len) {
        pthread_mutex_lock(&c->sink_lock);
        bool gone = !c->sink || !c->m || atomic_load(&c->m->stop);
        size_t n = gone ? len : c->sink(c->sink_opaque, buf, len);
        pthread_mutex_unlock(&c->sink_lock);
        buf += n;
        len -= n;
        if (len) usleep(1000);
    }
}

/* Handle the Ctrl-A escape on a terminal; returns false to stop reading. */
static bool input_byte(struct console *c, uint8_t b)
{
    if (!c->tty) {
        deliver(c, &b, 1);
        return true;
    }
    if (c->escape) {
        c->escape = false;
        switch (b) {
        case 'x':
        case 'X':
            say(c, "\r\nkumo-vmm: terminated by Ctrl-A x\r\n");
            pthread_mutex_lock(&c->sink_lock);
            if (c->m) machine_stop(c->m, STOP_POWEROFF, 0);
            pthread_mutex_unlock(&c->sink_lock);
            return false;
        case 'h':
        case 'H':
        case '?':
            say(c, "\r\nCtrl-A h    print this help\r\n"
                   "Ctrl-A x    quit kumo-vmm (the guest is stopped)\r\n"
                   "Ctrl-A a    send Ctrl-A to the guest\r\n");
            return true;
        case ESCAPE_CHAR:
        case 'a': b = ESCAPE_CHAR; break;
        default: return true;
        }
    } else if (b == ESCAPE_CHAR) {
        c->escape = true;
        return true;
    }
    deliver(c, &b, 1);
    return true;
}

static void *input_thread(void *arg)
{
    struct console *c = arg;
    uint8_t buf[256];
    pthread_setname_np(pthread_self(), "console");
    thread_role(ROLE_CONSOLE);
    for (;;) {
        struct pollfd p[2] = {{.fd = c->wake[0], .events = POLLIN}};
        int fd = c->kind == CON_SOCKET ? (c->in_fd >= 0 ? c->in_fd : c->listen_fd) : c->in_fd;
        p[1].fd = fd;
        p[1].events = POLLIN;
        pthread_mutex_lock(&c->out_lock);
        int timeout = c->out_len ? FLUSH_MS : -1;
        pthread_mutex_unlock(&c->out_lock);
        int rc = poll(p, 2, timeout);
        thread_role(ROLE_CONSOLE);
        if (rc < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (rc == 0) { /* a partial line has waited long enough */
            pthread_mutex_lock(&c->out_lock);
            flush_locked(c);
            pthread_mutex_unlock(&c->out_lock);
            continue;
        }
        if (p[0].revents) {
            char cmd[64];
            ssize_t n = read(c->wake[0], cmd, sizeof(cmd));
            if (n <= 0 || memchr(cmd, 'x', (size_t)n)) break; /* stop */
            continue;                                         /* 'f': re-arm the timer */
        }
        if (!p[1].revents) continue;
        if (c->kind == CON_SOCKET && c->in_fd < 0) {
            int client = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (client >= 0) {
                pthread_mutex_lock(&c->out_lock);
                c->in_fd = c->out_fd = client;
                pthread_mutex_unlock(&c->out_lock);
            }
            continue;
        }
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (c->kind == CON_SOCKET) { /* client left: wait for the next one */
                pthread_mutex_lock(&c->out_lock);
                close(c->in_fd);
                c->in_fd = c->out_fd = -1;
                pthread_mutex_unlock(&c->out_lock);
                continue;
            }
            break; /* end of input: the guest keeps running, without input */
        }
        for (ssize_t k = 0; k < n; k++)
            if (!input_byte(c, buf[k])) return NULL;
    }
    return NULL;
}

int console_start(struct console *c)
{
    if (c->kind == CON_NONE) return 0;
    if (c->kind == CON_STDIO && isatty(STDIN_FILENO)) {
        if (tcgetattr(STDIN_FILENO, &c->saved) == 0) {
            struct termios raw = c->saved;
            cfmakeraw(&raw); /* the guest's tty layer does its own CR/LF handling */
            if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) {
                c->tty = true;
                restore_termios = &c->saved;
                atexit(restore_terminal);
            }
        }
    }
    if (pthread_create(&c->thread, NULL, input_thread, c) != 0) return -1;
    c->started = true;
    return 0;
}

void console_close(struct console *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->out_lock);
    flush_locked(c);
    pthread_mutex_unlock(&c->out_lock);
    if (c->started) {
        if (write(c->wake[1], "x", 1) < 0) { /* the thread also ends on its own */
        }
        pthread_join(c->thread, NULL);
    }
    if (c->tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
        restore_termios = NULL;
    }
    if (c->kind == CON_SOCKET) {
        if (c->in_fd >= 0) close(c->in_fd);
        if (c->listen_fd >= 0) close(c->listen_fd);
        if (c->socket_path) unlink(c->socket_path);
    }
    free(c->socket_path);
    if (c->log_fd >= 0) close(c->log_fd);
    for (int k = 0; k < 2; k++)
        if (c->wake[k] >= 0) close(c->wake[k]);
    pthread_mutex_destroy(&c->out_lock);
    pthread_mutex_destroy(&c->sink_lock);
    free(c);
}
