/*
 * sandbox.h - kumo-vmm's jailer: what a VMM may still do once its guest runs.
 *
 * Modelled on Firecracker's jailer, inside the VMM process itself (so the
 * process kumod supervises is the VMM, not a launcher):
 *
 *   sandbox_prepare()   at the start of main, before any thread exists:
 *                       user (when not root), mount, IPC and (without a
 *                       user-mode NIC) network namespaces; from here on
 *                       every file the VM uses is recorded (lib/fileset.h)
 *   ... set-up: console, control socket, the first machine (disks, NICs,
 *       kernel) are opened with the caller's privileges ...
 *   sandbox_activate()  after set-up, before the guest's first instruction:
 *                       a cgroup (pids, memory) below the caller's, a private
 *                       root (an empty read-only tmpfs holding only what the
 *                       NICs need: /etc/resolv.conf for libslirp, the switch
 *                       socket's directory), rlimits (files, file size, core
 *                       dumps, address space), the unprivileged uid/gid,
 *                       capabilities dropped, PR_SET_NO_NEW_PRIVS, Landlock
 *                       (no file system access beyond the same list),
 *                       then a seccomp allow-list (libseccomp, action
 *                       SECCOMP_RET_KILL_PROCESS) on every thread; the file
 *                       set is sealed: a reboot reopens only recorded files.
 *
 * Threads then narrow themselves to their kind's list (lib/threadrole.h):
 * the list of each kind is in sandbox.c (`rules`), with the reason for
 * every entry. A system call outside the list kills the whole VMM with
 * SIGSYS. Every layer the host cannot provide is reported on stderr as a
 * warning naming what is missing (never silently skipped); `--sandbox off`
 * turns the whole sandbox off.
 *
 * Not a PID namespace: entering one takes a fork, and the process kumod
 * supervises (status, signals, /proc) would be a launcher instead of the VMM.
 * The same effect comes from the other layers: no /proc in the private root,
 * signals only to the VMM's own threads (seccomp), no ptrace or
 * process_vm_* calls, and a uid of its own.
 *
 * JIT hook: a code generator needs executable memory, which the lists deny
 * (mmap/mprotect with PROT_EXEC, memfd_create). It sets `jit` in the
 * configuration; sandbox.c then allows exactly those calls to the vCPU
 * and main threads (jit_rules there).
 */
#ifndef KUMO_VMM_SANDBOX_H
#define KUMO_VMM_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SANDBOX_MAX_KEEP 8

struct sandbox_config {
    bool on;        /* --sandbox on (default) / off */
    bool uid_given; /* --sandbox-uid: drop to uid/gid (needs root) */
    uid_t uid;
    gid_t gid;
    uint64_t ram_bytes; /* guest RAM: the memory cgroup and RLIMIT_AS */
    int ncpus, ndisks, nnics;
    bool host_network; /* a user-mode NIC: host network namespace, IP sockets */
    /* files and directories the private root keeps (read-only): the switch
     * sockets' directories, so a NIC can reconnect to a restarted switch */
    const char *keep[SANDBOX_MAX_KEEP];
    int nkeep;
    const char *boot_files[4]; /* kernel, initrd, firmware, ELF: mapped at (re)boot */
    int nboot;
    bool jit;           /* allow executable mappings (see above) */
    uint64_t jit_bytes; /* the translator's code buffers (both views of each) */
};

struct machine;

/* Fill the network part of cfg from a --net back end spec. */
void sandbox_add_nic(struct sandbox_config *cfg, const char *backend);

/* Before any thread: namespaces, start recording the VM's files. Returns -1
 * with a message only for usage errors (a uid without root); what the host
 * lacks is a warning. */
int sandbox_prepare(const struct sandbox_config *cfg, char *err, size_t errlen);

/* After set-up, on the main thread, before the first guest instruction; m is
 * the first machine (its disks' sizes bound RLIMIT_FSIZE). -1 with a message
 * when a layer that was asked for fails half-way. */
int sandbox_activate(struct machine *m, char *err, size_t errlen);

/* True once activated. */
bool sandbox_active(void);

/* Test-only triggers for the control socket's "sandbox_test" operation
 * (refused unless the sandbox is active):
 *   "open:PATH"  try to open PATH read-only: reports the outcome
 *   "forbidden"  make a system call no list allows (execve): the VMM dies
 *                with SIGSYS and this never returns */
int sandbox_test(const char *what, char *msg, size_t len);

#endif
