/*
 * htif.c - see htif.h. The protocol: tohost = device << 56 | command << 48 |
 * payload. Device 0 command 0 with payload bit 0 set is "exit with code
 * payload >> 1" (riscv-tests: 1 = pass, (n << 1) | 1 = test n failed);
 * with bit 0 clear the payload points to a block of eight 64-bit words
 * {syscall number, arguments...} as the proxy kernel uses. Device 1
 * command 1 prints the low byte. After handling, tohost is cleared and
 * fromhost holds the reply.
 */
#include "devices/htif.h"

#include "devices/console.h"
#include "lib/log.h"
#include "machine/machine.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

enum { SYS_WRITE = 64, SYS_EXIT = 93 };

int htif_attach(struct machine *m, uint64_t tohost, uint64_t fromhost)
{
    if (!in_ram(m, tohost) || !in_ram(m, tohost + 7) || (tohost & 7)) {
        log_error("tohost symbol at %#llx is not an aligned address in guest RAM",
                  (unsigned long long)tohost);
        return -1;
    }
    m->tohost = tohost;
    m->fromhost = (fromhost && in_ram(m, fromhost) && !(fromhost & 7)) ? fromhost : 0;
    m->page_flags[ram_page_index(m, tohost)] |= PAGE_WATCH;
    return 0;
}

/* what the guest asks for that does not exist: at its pace, so rate-limited */
static struct log_limit guest_log;

static void out(struct machine *m, const void *buf, size_t len)
{
    if (m->console) {
        console_write(m->console, buf, len);
        return;
    }
    const char *p = buf;
    while (len) {
        ssize_t n = write(STDOUT_FILENO, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        len -= (size_t)n;
    }
}

static void finish(struct machine *m, uint64_t payload)
{
    uint64_t code = payload >> 1;
    if (code) log_error("guest reported failure: test %llu failed (tohost = %#llx)",
                        (unsigned long long)code, (unsigned long long)payload);
    machine_stop(m, STOP_POWEROFF, code == 0 ? 0 : code < 256 ? (int)code : 255);
}

static uint64_t syscall_proxy(struct machine *m, uint64_t block)
{
    uint64_t a[8];
    for (int i = 0; i < 8; i++)
        if (!machine_read(m, block + 8 * (uint64_t)i, 8, &a[i])) return (uint64_t)-14;
    switch (a[0]) {
    case SYS_WRITE: {
        if (a[1] != 1 && a[1] != 2) return (uint64_t)-9;
        void *p = machine_host_ptr(m, a[2], a[3]);
        if (!p) return (uint64_t)-14;
        out(m, p, a[3]);
        return a[3];
    }
    case SYS_EXIT:
        finish(m, a[1] << 1 | 1);
        return 0;
    default:
        log_limited(&guest_log, LOG_WARN, "HTIF: unsupported proxied system call %llu",
                    (unsigned long long)a[0]);
        return (uint64_t)-38;
    }
}

void htif_tohost_written(struct machine *m)
{
    uint64_t v;
    if (!machine_read(m, m->tohost, 8, &v) || v == 0) return;
    uint64_t dev = v >> 56, cmd = (v >> 48) & 0xff, payload = v & 0xffffffffffffull;
    uint64_t reply = 0;
    if (dev == 0 && cmd == 0) {
        if (payload & 1) {
            finish(m, payload);
            return;
        }
        uint64_t ret = syscall_proxy(m, payload);
        machine_write(m, payload, 8, ret);
        reply = 1;
    } else if (dev == 1 && cmd == 1) {
        char c = (char)(payload & 0xff);
        out(m, &c, 1);
        reply = 0x100 | (payload & 0xff);
    } else if (dev == 1 && cmd == 0) {
        return; /* console read: no input over HTIF; leave the request pending */
    } else {
        log_limited(&guest_log, LOG_WARN, "HTIF: unknown command %#llx", (unsigned long long)v);
    }
    machine_write(m, m->tohost, 8, 0);
    if (m->fromhost) machine_write(m, m->fromhost, 8, (dev << 56) | (cmd << 48) | reply);
}
