/*
 * console.c - kumo vm console: this terminal on a VM's serial console.
 *
 * kumod gives each running VM's console as a unix socket on its host
 * (instanceView.consoleSocket, served by kumo-vmm, one client at a time);
 * kumo connects to it directly. On a terminal, stdin goes raw (Ctrl-C and
 * friends reach the guest) and Ctrl-] or Ctrl-A x detaches; the VM keeps
 * running. From a pipe, stdin is held back until the guest shows its shell
 * prompt (a VM just started or restarted is still booting: what is sent
 * before Linux's serial driver is up is lost), then sent as is, and kumo
 * leaves once the guest is back at its prompt and quiet for --linger
 * seconds after the end of stdin. `kumo up` (up.c) attaches the same way,
 * and first replays the boot so far from the console log.
 */
#include "cli/cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CTRL_BRACKET 0x1d
#define CTRL_A       0x01
#define SETTLE_MAX   120.0 /* seconds stdin waits at most for a quiet guest */

static volatile sig_atomic_t quit_signal;
static void on_quit(int sig)
{
    quit_signal = sig;
}

static int send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keep the last bytes of the output in tail (256 bytes). */
static void keep_tail(char *tail, size_t *tlen, const char *p, size_t n)
{
    if (n >= 256) {
        memcpy(tail, p + n - 256, 256);
        *tlen = 256;
        return;
    }
    if (*tlen + n > 256) {
        size_t drop = *tlen + n - 256;
        memmove(tail, tail + drop, *tlen - drop);
        *tlen -= drop;
    }
    memcpy(tail + *tlen, p, n);
    *tlen += n;
}

/* Does the output end with a shell prompt: a last line, not ended, that
 * ends with "# ", "$ ", "> " or "% " ("default:~# ")? */
static bool at_prompt(const char *tail, size_t n)
{
    size_t start = n;
    while (start > 0 && tail[start - 1] != '\n' && tail[start - 1] != '\r')
        start--;
    if (n - start < 2 || tail[n - 1] != ' ') return false;
    char c = tail[n - 2];
    return c == '#' || c == '$' || c == '>' || c == '%';
}

/* Read all of a file from byte `from`; NULL if it cannot be read. */
static char *read_from(const char *path, long long from, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (from > 0 && fseeko(f, (off_t)from, SEEK_SET) < 0) {
        fclose(f);
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = cap < ((size_t)64 << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) break; /* more than 64 MiB of boot: keep what we have */
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (!got) break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Bytes waiting on the socket, appended to *buf (grown as needed); waits
 * at most wait_ms for the first of them. Returns -1 when the socket closed. */
static int drain(int s, char **buf, size_t *len, size_t *cap, int wait_ms)
{
    for (;;) {
        struct pollfd pf = {.fd = s, .events = POLLIN};
        int r = poll(&pf, 1, wait_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        if (*len + 4096 > *cap) {
            size_t nc = *cap ? *cap * 2 : 65536;
            char *nb = realloc(*buf, nc);
            if (!nb) return 0;
            *buf = nb;
            *cap = nc;
        }
        ssize_t got = read(s, *buf + *len, *cap - *len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        *len += (size_t)got;
        wait_ms = 0;
    }
}

/* The last place where `needle` occurs in `hay`, looking only at its last
 * nlen + 256 KiB (the overlap is at the end); -1: nowhere. */
static long long last_occurrence(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen > hlen) return -1;
    size_t lowest = hlen > nlen + (256u << 10) ? hlen - nlen - (256u << 10) : 0;
    for (size_t i = hlen - nlen + 1; i-- > lowest;)
        if (memcmp(hay + i, needle, nlen) == 0) return (long long)i;
    return -1;
}

/* An RFC 3339 time ("2024-11-17T12:00:00.250Z") in ms since the epoch;
 * -1 if it is not one. */
static long long rfc3339_ms(const char *t)
{
    struct tm tm = {0};
    const char *rest = t ? strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest) return -1;
    long long ms = (long long)timegm(&tm) * 1000;
    if (*rest == '.') {
        long long scale = 100;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, scale /= 10)
            ms += (*rest - '0') * scale;
    }
    return ms;
}

/*
 * What the guest's current boot has printed, for the prompt check of a
 * console attached from a pipe: when the VM's console log was written
 * since the VM (its kumo-vmm) started, its last bytes go to tail and the
 * guest counts as seen; when it was not (a Linux kernel writes nothing
 * until its serial driver is up, and the end of the log is then the
 * previous boot's), tail stays empty. false when the log cannot be read
 * (the caller then does not hold stdin back).
 */
static bool current_boot_tail(const json_t *vm, char *tail, size_t *tlen, bool *seen)
{
    const json_t *iv = json_object_get(vm, "instanceView");
    const char *log = member_str(iv, "bootDiagnosticsLog");
    long long started = rfc3339_ms(member_str(iv, "startedAt"));
    struct stat st;
    if (!log || started < 0 || stat(log, &st) < 0) return false;
    long long written = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    *seen = written >= started && st.st_size > 0;
    if (!*seen) return true;
    size_t len;
    char *end = read_from(log, st.st_size > 256 ? st.st_size - 256 : 0, &len);
    if (end) keep_tail(tail, tlen, end, len);
    free(end);
    return true;
}

/*
 * Print what the VM wrote since byte `from` of its console log, then go on
 * with the console socket without a seam: kumo-vmm writes each piece of
 * output to the log and then to the client, so what the socket brought
 * since the connection is also at the end of the log. Returns the number
 * of bytes the socket will still bring that the log has already shown (to
 * be skipped), or -1 when the console closed meanwhile.
 */
static long long replay(int s, const char *log, long long from, bool *seen, char *tail,
                        size_t *tlen)
{
    char *early = NULL;
    size_t elen = 0, ecap = 0;
    /* let kumo-vmm accept the connection and send what it has */
    if (drain(s, &early, &elen, &ecap, 200) < 0) {
        free(early);
        return -1;
    }
    size_t llen = 0;
    char *l = NULL;
    for (int tries = 0; tries < 20; tries++) {
        free(l);
        l = read_from(log, from, &llen);
        size_t before = elen;
        if (drain(s, &early, &elen, &ecap, 0) < 0) {
            free(early);
            free(l);
            return -1;
        }
        if (elen == before) break; /* nothing came while the log was read */
    }
    long long skip = 0;
    if (l) write_all(STDOUT_FILENO, l, llen);
    if (l) keep_tail(tail, tlen, l, llen);
    *seen = llen > 0 || elen > 0;
    long long at = l && elen ? last_occurrence(l, llen, early, elen) : -1;
    if (at >= 0)
        skip = (long long)llen - at - (long long)elen; /* in the log, not yet read */
    else if (elen) {
        write_all(STDOUT_FILENO, early, elen);
        keep_tail(tail, tlen, early, elen);
    }
    free(l);
    free(early);
    return skip;
}

int console_attach(struct cli *c, const char *g, const char *n, const json_t *vm,
                   struct attach_opts *o, bool *closed)
{
    o->ended_line = true;
    if (closed) *closed = false;
    const char *ps = member_text(vm, "powerState");
    const char *path = member_str(json_object_get(vm, "instanceView"), "consoleSocket");
    bool runs = strcmp(ps, "Running") == 0 || strcmp(ps, "Starting") == 0;
    if (runs && !path) { /* cluster mode: asked a kumod of another host */
        fprintf(stderr,
                "%s: error: VM '%s' runs on host %s: its console is that host's; run kumo "
                "against that host's kumod (its data directory or --url)\n",
                c->prog, n, member_text(vm, "host"));
        return KX_CONFLICT;
    }
    if (!runs || !path) {
        fprintf(stderr,
                "%s: error: VM '%s' is %s: its console exists only while it runs ('kumo vm "
                "start -g %s %s' starts it; 'kumo vm log -g %s %s' shows what it printed)\n",
                c->prog, n, ps, g, n, g, n);
        return KX_CONFLICT;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "%s: error: the console socket path %s is too long to connect to\n",
                c->prog, path);
        return KX_ERROR;
    }
    strcpy(sa.sun_path, path);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        fprintf(stderr, "%s: error: cannot connect to VM '%s''s console %s: %s%s\n", c->prog, n,
                path, strerror(e),
                e == ENOENT         ? " (the console is reachable only on the machine the VM "
                                      "runs on, as the user that runs kumod)"
                : e == EACCES       ? " (run kumo as the user that runs kumod)"
                : e == ECONNREFUSED ? " (the VM may have just stopped: 'kumo vm show' says)"
                                    : "");
        if (s >= 0) close(s);
        return e == ENOENT ? KX_NOTFOUND : KX_ERROR;
    }

    bool tty = isatty(STDIN_FILENO);
    struct termios saved, raw;
    bool restored = true;
    if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        cfmakeraw(&raw);
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) restored = false;
        fprintf(stderr,
                "Connected to VM '%s' (serial console). Ctrl-] or Ctrl-A x detaches; "
                "press Enter for a prompt.\r\n",
                n);
    }
    struct sigaction q = {.sa_handler = on_quit}, old_term, old_hup, old_int;
    sigemptyset(&q.sa_mask);
    sigaction(SIGTERM, &q, &old_term);
    sigaction(SIGHUP, &q, &old_hup);
    sigaction(SIGINT, &q, &old_int);

    const char *why = NULL;
    long long skip = 0;
    const char *log = member_str(json_object_get(vm, "instanceView"), "bootDiagnosticsLog");
    bool seen = false; /* the guest has written something since it started */
    char tail[256];    /* the end of the output */
    size_t tlen = 0;
    if (o->replay && log && (skip = replay(s, log, o->replay_from, &seen, tail, &tlen)) < 0)
        why = "the console closed (the VM stopped?)";
    if (!tty && o->prompt && o->hold && !o->replay && !current_boot_tail(vm, tail, &tlen, &seen))
        o->hold = false;

    /* From a pipe with o->prompt (kumo up, a VM it just started), stdin
     * waits until the guest is at a shell prompt: a Linux kernel writes
     * nothing until its serial driver is up, and what is sent before its
     * tty is open is lost when the driver clears the UART's FIFO. Without a
     * prompt, --settle seconds of quiet after some output stand for one.
     * After the end of stdin, kumo leaves once the guest is quiet for
     * --linger seconds (with o->prompt: back at a prompt it printed after
     * stdin ended, or quiet for --settle). */
    bool stdin_open = true, stdin_held = !tty && o->prompt && o->hold, escape = false;
    bool sent = false, out_after_eof = false;
    double t0 = mono(), quiet_since = t0;
    int rc = KX_OK;
    char buf[4096];
    while (!why && !quit_signal) {
        struct pollfd pf[2] = {{.fd = s, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
        int timeout = -1;
        double now = mono(), quiet = now - quiet_since, left = -1;
        if (stdin_held) {
            if ((seen && at_prompt(tail, tlen)) || (seen && quiet >= o->settle) ||
                now - t0 >= SETTLE_MAX) {
                stdin_held = false;
                continue;
            }
            left = seen ? o->settle - quiet : SETTLE_MAX - (now - t0);
        } else if (!stdin_open && !o->prompt) {
            left = o->linger - quiet;
            if (left <= 0) break;
        } else if (!stdin_open) {
            bool prompt = (!sent || out_after_eof) && at_prompt(tail, tlen);
            double need = prompt ? o->linger : (o->settle > o->linger ? o->settle : o->linger);
            left = need - quiet;
            if (left <= 0) break;
        }
        if (left >= 0) timeout = (int)(left * 1000) + 1;
        int nfds = stdin_open && !stdin_held ? 2 : 1;
        int r = poll(pf, (nfds_t)nfds, timeout);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (pf[0].revents) {
            ssize_t got = read(s, buf, sizeof(buf));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                why = "the console closed (the VM stopped?)";
                break;
            }
            size_t off = 0;
            if (skip > 0) { /* already printed from the log */
                off = (size_t)got < (size_t)skip ? (size_t)got : (size_t)skip;
                skip -= (long long)off;
            }
            if (write_all(STDOUT_FILENO, buf + off, (size_t)got - off) < 0) break;
            if ((size_t)got > off) {
                o->ended_line = buf[got - 1] == '\n';
                keep_tail(tail, &tlen, buf + off, (size_t)got - off);
                if (!stdin_open) out_after_eof = true;
            }
            quiet_since = mono();
            seen = true;
        }
        if (nfds == 2 && pf[1].revents) {
            ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                if (tty) break;
                stdin_open = false;
                quiet_since = mono();
                continue;
            }
            if (!tty) {
                sent = true;
                if (send_all(s, buf, (size_t)got) < 0) {
                    why = "the console closed (the VM stopped?)";
                    break;
                }
                continue;
            }
            /* a terminal: look for the escapes */
            char out[2 * sizeof(buf)];
            size_t k = 0;
            bool detach = false;
            for (ssize_t i = 0; i < got && !detach; i++) {
                unsigned char b = (unsigned char)buf[i];
                if (escape) {
                    escape = false;
                    if (b == 'x' || b == 'X') {
                        detach = true;
                    } else if (b == 'a' || b == CTRL_A) {
                        out[k++] = CTRL_A;
                    } else {
                        out[k++] = CTRL_A;
                        out[k++] = (char)b;
                    }
                } else if (b == CTRL_BRACKET) {
                    detach = true;
                } else if (b == CTRL_A) {
                    escape = true;
                } else {
                    out[k++] = (char)b;
                }
            }
            if (k && send_all(s, out, k) < 0) {
                why = "the console closed (the VM stopped?)";
                break;
            }
            if (detach) break;
        }
    }
    if (!restored) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGINT, &old_int, NULL);
    close(s);
    if (why) {
        if (closed) *closed = true;
        if (!o->quiet_close)
            fprintf(stderr, "%s%s: %s\n", tty ? "\r\n" : "", c->prog, why);
        else if (tty)
            fputs("\r\n", stderr);
    } else if (tty) {
        fprintf(stderr, "\r\n[detached from VM '%s'; it keeps running]\n", n);
    }
    if (quit_signal) rc = quit_signal == SIGINT ? KX_INTERRUPTED : 128 + quit_signal;
    return rc;
}

int vm_console(struct cli *c, struct args *a)
{
    const char *g, *n;
    char *p = res_path(c, a, &vm_resource, true, &g, &n);
    if (!p) return KX_USAGE;
    /* from a pipe, stdin waits for the guest's shell prompt (as with kumo up
     * --console): a command sent while Linux boots would be lost */
    struct attach_opts o = {.linger = 1.0, .prompt = true, .hold = true, .settle = 10.0};
    if (arg_double(c, a, "linger", 0, 3600, &o.linger) < 0 ||
        arg_double(c, a, "settle", 0, 600, &o.settle) < 0) {
        free(p);
        return KX_USAGE;
    }
    json_t *vm;
    int rc = api(c, "GET", p, NULL, &vm);
    free(p);
    if (rc) return rc;
    rc = console_attach(c, g, n, vm, &o, NULL);
    json_decref(vm);
    return rc;
}
