/*
 * fuzz_cpu.c - libFuzzer harness for the hart (src/cpu: decoder, block
 * cache and interpreter, MMU and PMP, CSRs, traps, FPU) on the whole virt
 * board (its devices answer the program's MMIO) with or without the
 * built-in SBI (src/machine/sbi.c): the input is a program run from RAM in
 * M-mode for at most 8192 instructions (or 8192 traps); this
 * harness checks its
 * interpreter's robustness, not its agreement with another one (the JIT's
 * differential fuzzer does that).
 *
 * After every run an architectural-state checker asserts that no trap
 * escaped: hart_run ended the way it may (a stop, the instruction limit, a
 * parked hart), the hart is in a legal state (a privilege level that
 * exists, a 2-byte aligned pc, x0 zero, WARL fields of mstatus, mtvec,
 * stvec, satp and the FP CSRs within their legal values, misa unchanged),
 * and nothing outside guest RAM was touched (ASan). A program that waits
 * forever (WFI with nothing enabled) is stopped by a watchdog.
 *
 * Input: byte 0: flags (bit 0: built-in SBI); the rest is
 * copied to RAM at 0x80000000, where the hart starts; mtvec starts at
 * 0x80000100 so that the first trap lands in the program too.
 */
#include "cpu/hart.h"
#include "machine/machine.h"
#include "machine/virt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RAM_SIZE    (64u * 1024)
#define MAX_INSNS   8192
#define MAX_POLLS   2 /* the first poll is at the start: then 8192 instructions or traps */
#define WATCHDOG_MS 200

static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct machine *cur;
static struct timespec deadline;

static void *watchdog(void *arg)
{
    (void)arg;
    for (;;) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&cur_lock);
        if (cur && (now.tv_sec > deadline.tv_sec ||
                    (now.tv_sec == deadline.tv_sec && now.tv_nsec > deadline.tv_nsec)))
            machine_stop(cur, STOP_ERROR, 0);
        pthread_mutex_unlock(&cur_lock);
    }
    return NULL;
}

static uint64_t misa0;
static int polls;

/* Called at every poll (each HART_BUDGET instructions or traps, and when
 * events are posted): after enough of them the run ends, deterministically,
 * even in a loop of traps that retires nothing. */
static void pace(struct hart *h, void *arg)
{
    (void)arg;
    if (++polls > MAX_POLLS) machine_stop(h->m, STOP_ERROR, 0);
}

static void check(const struct hart *h, enum hart_exit why)
{
    if (why != HART_EXIT_STOP && why != HART_EXIT_INSN_LIMIT && why != HART_EXIT_PARK) abort();
    if (h->priv != PRIV_M && h->priv != PRIV_S && h->priv != PRIV_U) abort();
    if (h->pc & 1) abort();
    if (h->x[0] != 0) abort();
    unsigned mpp = (unsigned)(h->mstatus >> 11) & 3;
    if (mpp == 2) abort();
    if (((h->mstatus >> 32) & 3) != 2 || ((h->mstatus >> 34) & 3) != 2) abort(); /* UXL, SXL */
    if ((h->mtvec & 3) > 1 || (h->stvec & 3) > 1) abort();
    unsigned mode = (unsigned)(h->satp >> 60);
    if (mode != 0 && mode != 8 && mode != 9 && mode != 10) abort();
    if (h->fflags > 0x1f || h->frm > 7) abort();
    if (h->misa != misa0) abort();
    if (h->mepc & 1 || h->sepc & 1) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        pthread_t t;
        pthread_create(&t, NULL, watchdog, NULL);
        started = true;
    }
    if (size < 1) return 0;
    struct virt_config cfg = {
        .ram_size = RAM_SIZE,
        .ncpus = 1,
        .satp_mode = 10,
        .builtin_sbi = data[0] & 1,
    };
    struct machine *m = virt_create(&cfg);
    if (!m) abort();
    size_t n = size - 1 < RAM_SIZE ? size - 1 : RAM_SIZE;
    machine_load(m, VIRT_DRAM_BASE, data + 1, n);
    for (int k = 0; k < m->nharts; k++) {
        struct hart *h = m->harts[k];
        hart_reset(h, VIRT_DRAM_BASE);
        misa0 = h->misa;
        h->mtvec = VIRT_DRAM_BASE + 0x100;
        h->max_insns = MAX_INSNS;
        hart_csrs_written(h);
    }
    polls = 0;
    m->pace_hook = pace;
    pthread_mutex_lock(&cur_lock);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += WATCHDOG_MS * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    cur = m;
    pthread_mutex_unlock(&cur_lock);
    enum hart_exit why = hart_run(m->harts[0]);
    check(m->harts[0], why);
    pthread_mutex_lock(&cur_lock);
    cur = NULL;
    pthread_mutex_unlock(&cur_lock);
    machine_free(m);
    return 0;
}
