/*
 * console.c - kumo vm console: this terminal on a VM's serial console.
 *
 * kumod gives each running VM's console as a unix socket on its host
 * (instanceView.consoleSocket, served by kumo-vmm, one client at a time);
 * kumo connects to it directly. On a terminal, stdin goes raw (Ctrl-C and
 * friends reach the guest) and Ctrl-] or Ctrl-A x detaches; the VM keeps
 * running. From a pipe, stdin is sent as is, and kumo leaves once the VM
 * has been quiet for --linger seconds after the end of stdin.
 */
#include "cli/cli.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CTRL_BRACKET 0x1d
#define CTRL_A       0x01

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

int vm_console(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "VM") : NULL;
    if (!n) return KX_USAGE;
    double linger = 1.0;
    if (arg_double(c, a, "linger", 0, 3600, &linger) < 0) return KX_USAGE;
    char *p = upath("/resourceGroups/%s/virtualMachines/%s", g, n);
    json_t *vm;
    int rc = api(c, "GET", p, NULL, &vm);
    free(p);
    if (rc) return rc;
    const char *ps = jsn(vm, "powerState");
    const char *path = js(json_object_get(vm, "instanceView"), "consoleSocket");
    bool runs = strcmp(ps, "Running") == 0 || strcmp(ps, "Starting") == 0;
    if (!runs || !path) {
        fprintf(stderr,
                "%s: error: VM '%s' is %s: its console exists only while it runs ('kumo vm "
                "start -g %s %s' starts it; 'kumo vm log -g %s %s' shows what it printed)\n",
                c->prog, n, ps, g, n, g, n);
        json_decref(vm);
        return KX_CONFLICT;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "%s: error: the console socket path %s is too long to connect to\n",
                c->prog, path);
        json_decref(vm);
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
        json_decref(vm);
        return e == ENOENT ? KX_NOTFOUND : KX_ERROR;
    }
    json_decref(vm);

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

    bool stdin_open = true, escape = false;
    double quiet_since = 0;
    const char *why = NULL;
    rc = KX_OK;
    char buf[4096];
    while (!quit_signal) {
        struct pollfd pf[2] = {{.fd = s, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
        int timeout = -1;
        if (!stdin_open) {
            double left = linger - (mono() - quiet_since);
            if (left <= 0) break;
            timeout = (int)(left * 1000) + 1;
        }
        int r = poll(pf, stdin_open ? 2 : 1, timeout);
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
            if (write_all(STDOUT_FILENO, buf, (size_t)got) < 0) break;
            quiet_since = mono();
        }
        if (stdin_open && pf[1].revents) {
            ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                if (tty) break;
                stdin_open = false;
                quiet_since = mono();
                continue;
            }
            if (!tty) {
                if (send_all(s, buf, (size_t)got) < 0) {
                    why = "the console closed (the VM stopped?)";
                    break;
                }
                continue;
            }
            /* a terminal: look for the escapes */
            char out[2 * sizeof(buf)];
            size_t o = 0;
            bool detach = false;
            for (ssize_t i = 0; i < got && !detach; i++) {
                unsigned char b = (unsigned char)buf[i];
                if (escape) {
                    escape = false;
                    if (b == 'x' || b == 'X') {
                        detach = true;
                    } else if (b == 'a' || b == CTRL_A) {
                        out[o++] = CTRL_A;
                    } else {
                        out[o++] = CTRL_A;
                        out[o++] = (char)b;
                    }
                } else if (b == CTRL_BRACKET) {
                    detach = true;
                } else if (b == CTRL_A) {
                    escape = true;
                } else {
                    out[o++] = (char)b;
                }
            }
            if (o && send_all(s, out, o) < 0) {
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
    if (why)
        fprintf(stderr, "%s%s: %s\n", tty ? "\r\n" : "", c->prog, why);
    else if (tty)
        fprintf(stderr, "\r\n[detached from VM '%s'; it keeps running]\n", n);
    if (quit_signal) rc = quit_signal == SIGINT ? KX_INTERRUPTED : 128 + quit_signal;
    return rc;
}
