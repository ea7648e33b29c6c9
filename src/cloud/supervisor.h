/*
 * supervisor.h - kumo-vmm processes: starting them (one per running VM, in
 * its own session, so that they outlive a kumod restart), watching them
 * (a pidfd each, one thread polling them all), stopping them, and adopting
 * the ones a previous kumod started.
 *
 * A process belongs to a VM; the table is guarded by kumod's state lock.
 * When a process ends and the VM has no operation running (vms.op NULL),
 * the supervisor records it in the database itself: the VM becomes
 * Stopped (still allocated and billed, as after a guest shutdown), with
 * lastExit saying why, and provisioning state Failed if kumo-vmm crashed.
 * When an operation is running, its worker handles the exit.
 *
 * Adoption: a process is the VM's only if /proc/PID/stat's start time is the
 * one recorded at spawn and its command line names the VM's directory.
 */
#ifndef KUMO_CLOUD_SUPERVISOR_H
#define KUMO_CLOUD_SUPERVISOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct kumod;
struct supervisor;

struct vmm_exit {
    bool known; /* false: adopted process, status unknown */
    int status; /* exit status (if !signaled) */
    int signal; /* terminating signal, or 0 */
};

struct supervisor *supervisor_start(struct kumod *k, char *err, size_t errlen);
/* Stop watching (the processes keep running). */
void supervisor_stop(struct supervisor *s);

/* Start argv[0] with argv for vm_id, stdout/stderr appended to log_path.
 * Call WITHOUT the state lock. On success the process is in the table and
 * *pid / *start_ticks identify it. 0 or -1 + err. */
int supervisor_spawn(struct supervisor *s, int64_t vm_id, char *const argv[], const char *log_path,
                     pid_t *pid, uint64_t *start_ticks, char *err, size_t errlen);

/* Take over a running process (under the lock). 0, or -1 if it is gone. */
int supervisor_adopt(struct supervisor *s, int64_t vm_id, pid_t pid);
/* The same for a child of kumod's (proc_spawn: a live migration's new
 * kumo-vmm): its exit status is known when it ends. */
int supervisor_adopt_child(struct supervisor *s, int64_t vm_id, pid_t pid);

/* Under the lock: is a process of vm_id in the table and still running? */
bool supervisor_running(struct supervisor *s, int64_t vm_id, pid_t *pid);

/* Under the lock: wait (releasing the lock meanwhile) until vm_id's process
 * has ended or timeout_ms passes. true if it ended (or there was none);
 * *how (may be NULL) says how it ended. The entry is then removed. */
bool supervisor_wait_exit(struct supervisor *s, int64_t vm_id, int timeout_ms,
                          struct vmm_exit *how);

/* Under the lock: send sig to vm_id's process. 0 or -1 (none). */
int supervisor_kill(struct supervisor *s, int64_t vm_id, int sig);

/* Start argv[0] detached (own session, default signals, stdin /dev/null,
 * stdout/stderr appended to log_path, no other fds). Call with kumod's lock
 * held if the pid must be registered before anyone can see it exit. 0 or
 * -1 + err. Not registered anywhere: the caller waits for it. */
int proc_spawn(char *const argv[], const char *log_path, pid_t *pid, char *err, size_t errlen);

/* /proc helpers. start time (field 22 of /proc/PID/stat) in clock ticks;
 * 0 if the process does not exist or is a zombie. */
uint64_t proc_start_ticks(pid_t pid);
/* Does /proc/PID/cmdline contain needle (as a substring of one argument)? */
bool proc_cmdline_has(pid_t pid, const char *needle);
/* The first process whose command line has needle, or 0. */
pid_t proc_find(const char *needle);
/* Send sig to every process whose command line has needle (not this one);
 * how many. Takes no lock (cluster mode's fencing, docs/cluster.md). */
int proc_kill_all(const char *needle, int sig);

#endif
