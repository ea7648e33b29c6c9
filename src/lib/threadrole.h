/*
 * threadrole.h - each long-lived thread of kumo-vmm says what kind of thread
 * it is, so that the VMM's sandbox (src/vmm/sandbox.c) can narrow that
 * thread's system calls to what its kind needs (a vCPU needs no sockets, a
 * disk worker no poll, ...).
 *
 * A thread calls thread_role() where it starts and again after each wait
 * (before it touches anything the guest gave it): threads that began before
 * the sandbox was set up narrow themselves at their next wake-up. Outside a
 * sandboxed kumo-vmm no hook is installed and the call is a load and a branch.
 */
#ifndef KUMO_LIB_THREADROLE_H
#define KUMO_LIB_THREADROLE_H

#include <stdatomic.h>

enum thread_role {
    ROLE_MAIN,    /* builds and tears down machines (boot, reboot, exit) */
    ROLE_VCPU,    /* runs a hart: guest memory, device registers, console output */
    ROLE_DISK,    /* a virtio-blk worker: image I/O */
    ROLE_NET,     /* a NIC's thread: its back end (libslirp or a switch port) */
    ROLE_CONSOLE, /* the console's input: terminal or socket client */
    ROLE_CONTROL, /* the control socket */
    ROLE_SIGNALS, /* waits for SIGINT/SIGTERM/SIGHUP */
    ROLE_TIMER,   /* the RTC's alarm */
    ROLE_COUNT
};

typedef void (*thread_role_fn)(enum thread_role role);
extern _Atomic(thread_role_fn) thread_role_hook;

static inline void thread_role(enum thread_role role)
{
    thread_role_fn fn = atomic_load_explicit(&thread_role_hook, memory_order_acquire);
    if (fn) fn(role);
}

#endif
