/*
 * fuzz_migrate.c - libFuzzer harness for the receiving side of a live
 * migration (src/vmm/migrate.c, migrate_receive): the stream comes from
 * another kumo-vmm, maybe on another host, so any bytes must end in a
 * refusal with a message (sent back on the socket) or in a received RAM
 * and device state, never in a write outside the RAM it reserved (ASan)
 * or undefined behaviour. The destination here has 1 MiB of RAM and one
 * vCPU (a header asking for more is refused before anything is reserved);
 * the device state's own parser has fuzz_vmstate.
 */
#include "vmm/migrate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
    /* the whole input fits the socket's buffer: inputs are small */
    int buf = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    size_t off = 0;
    while (off < size) {
        ssize_t n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);
    char err[512];
    struct migrate_in *in = migrate_receive(sv[0], 1u << 20, 1, err, sizeof(err));
    if (!in && !err[0]) abort(); /* a refusal says why */
    migrate_in_free(in);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
