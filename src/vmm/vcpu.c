/*
 * vcpu.c - see vcpu.h.
 */
#include "vmm/vcpu.h"

#include "cpu/hart.h"
#include "lib/log.h"
#include "lib/threadrole.h"
#include "machine/machine.h"
#include "machine/sbi.h"
#include "vmm/cpuctl.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Wait while the hart is stopped; false when the machine is stopping. */
static bool wait_until_started(struct hart *h)
{
    struct machine *m = h->m;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&h->wfi_lock);
    h->idle_since_ns = (uint64_t)t0.tv_sec * 1000000000u + (uint64_t)t0.tv_nsec;
    atomic_store(&h->wfi, true); /* so that hart_kick signals us */
    for (;;) {
        int s = atomic_load(&h->hsm_state);
        if (atomic_load(&m->stop) || s == HSM_STARTED || s == HSM_START_PENDING) break;
        pthread_cond_wait(&h->wfi_cond, &h->wfi_lock);
    }
    atomic_store(&h->wfi, false);
    /* a stopped vCPU is idle, like one in WFI (hart_idle_ns) */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
    if (ns > 0) atomic_fetch_add(&h->idle_ns, (uint64_t)ns);
    h->idle_since_ns = 0;
    pthread_mutex_unlock(&h->wfi_lock);
    if (atomic_load(&m->stop)) return false;
    if (atomic_load(&h->hsm_state) == HSM_START_PENDING) {
        /* SBI hart_start: enter S-mode at start_pc with a0 = hart id, a1 = opaque */
        uint64_t pc = h->start_pc, arg = h->start_arg;
        hart_reset(h, pc);
        sbi_prepare_hart(h);
        h->x[10] = (uint64_t)h->id;
        h->x[11] = arg;
        atomic_store(&h->hsm_state, HSM_STARTED);
    }
    return true;
}

static void *vcpu_thread(void *arg)
{
    struct hart *h = arg;
    char name[16];
    snprintf(name, sizeof(name), "vcpu%d", h->id);
    pthread_setname_np(pthread_self(), name);
    thread_role(ROLE_VCPU);
    struct cpuctl *c = h->m->pace_hook == cpuctl_pace ? h->m->pace_arg : NULL;
    cpuctl_thread_start(c, h->id);
    while (wait_until_started(h)) {
        enum hart_exit why = hart_run(h);
        if (why == HART_EXIT_PARK) {
            atomic_store(&h->hsm_state, HSM_STOPPED);
            continue;
        }
        if (why == HART_EXIT_INSN_LIMIT) {
            log_error("vCPU %d did not finish within --max-insns %" PRIu64 " instructions "
                      "(pc %#" PRIx64 ", privilege %d)",
                      h->id, h->max_insns, h->pc, h->priv);
            machine_stop(h->m, STOP_ERROR, 124);
        }
        break;
    }
    cpuctl_thread_end(c, h->id, atomic_load(&h->idle_ns));
    return NULL;
}

int vcpu_run_machine(struct machine *m, struct cpuctl *c)
{
    pthread_t threads[MACHINE_MAX_HARTS];
    m->pace_hook = c ? cpuctl_pace : NULL;
    m->pace_arg = c;
    int started = 0;
    for (int k = 0; k < m->nharts; k++) {
        struct hart *h = m->harts[k];
        /* hold the machine lock so the control socket never sees a half-set thread */
        pthread_mutex_lock(&m->lock);
        int rc = pthread_create(&threads[k], NULL, vcpu_thread, h);
        if (rc == 0) {
            h->thread = threads[k];
            h->has_thread = true;
        }
        pthread_mutex_unlock(&m->lock);
        if (rc != 0) {
            log_error("cannot start a thread for vCPU %d", k);
            machine_stop(m, STOP_ERROR, 125);
            break;
        }
        started++;
    }
    for (int k = 0; k < started; k++) pthread_join(threads[k], NULL);
    pthread_mutex_lock(&m->lock);
    for (int k = 0; k < started; k++) m->harts[k]->has_thread = false;
    pthread_mutex_unlock(&m->lock);
    return atomic_load(&m->stop);
}
