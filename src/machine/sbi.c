/*
 * sbi.c - the built-in SBI v1.0 implementation used for direct kernel boot:
 * the supervisor's ECALLs are answered here, in the VMM, instead of by
 * M-mode firmware running in the guest. That removes a firmware from the
 * boot and every timer/IPI/fence round trip through M-mode.
 *
 * Extensions: BASE, TIME, IPI, RFENCE, HSM, SRST, DBCN, STA (steal time,
 * from SBI v2.0: the guest can see the time its vCPU was ready but did not
 * run, kumo-vmm's CPU cap included) and the legacy (v0.1) calls. Calling convention: a7 = extension, a6 = function,
 * a0..a5 arguments; a0 = error, a1 = value on return.
 */
#include "machine/sbi.h"

#include "cpu/hart.h"
#include "devices/console.h"
#include "devices/uart.h"
#include "lib/log.h"
#include "machine/machine.h"

#include <string.h>

#define SBI_SPEC_VERSION (1u << 24) /* v1.0 */
#define SBI_IMPL_ID 0x6b756d6f      /* "kumo": not in the SBI registry of others */
#define SBI_IMPL_VERSION 1

enum {
    EXT_BASE = 0x10,
    EXT_TIME = 0x54494d45,
    EXT_IPI = 0x735049,
    EXT_RFENCE = 0x52464e43,
    EXT_HSM = 0x48534d,
    EXT_SRST = 0x53525354,
    EXT_DBCN = 0x4442434e,
    EXT_STA = 0x535441,
};

enum {
    SBI_SUCCESS = 0,
    SBI_ERR_FAILED = -1,
    SBI_ERR_NOT_SUPPORTED = -2,
    SBI_ERR_INVALID_PARAM = -3,
    SBI_ERR_DENIED = -4,
    SBI_ERR_INVALID_ADDRESS = -5,
    SBI_ERR_ALREADY_AVAILABLE = -6,
};

#define A(n) h->x[10 + (n)]

static void ret(struct hart *h, int64_t err, uint64_t value)
{
    A(0) = (uint64_t)err;
    A(1) = value;
}

/* Apply fn to every hart selected by (mask, base); base = -1 selects all. */
static int64_t for_harts(struct hart *self, uint64_t mask, uint64_t base,
                         void (*fn)(struct hart *self, struct hart *target, void *arg), void *arg)
{
    struct machine *m = self->m;
    if (base == UINT64_MAX) {
        for (int k = 0; k < m->nharts; k++) fn(self, m->harts[k], arg);
        return SBI_SUCCESS;
    }
    for (int bit = 0; bit < 64; bit++) {
        if (!((mask >> bit) & 1)) continue;
        uint64_t id = base + (uint64_t)bit;
        if (id >= (uint64_t)m->nharts) return SBI_ERR_INVALID_PARAM;
    }
    for (int bit = 0; bit < 64; bit++)
        if ((mask >> bit) & 1) fn(self, m->harts[base + (uint64_t)bit], arg);
    return SBI_SUCCESS;
}

static void send_ipi(struct hart *self, struct hart *t, void *arg)
{
    (void)self;
    (void)arg;
    hart_set_irq(t, MIP_SSIP, true);
}

/* What an RFENCE call asks of each hart (for_harts' argument). */
struct rfence {
    bool icache;
    uint64_t va, size, asid;
};

static void fence(struct hart *self, struct hart *t, void *arg)
{
    const struct rfence *f = arg;
    if (f->icache)
        hart_remote_fence_i(self, t);
    else
        hart_remote_sfence(self, t, f->va, f->size, f->asid);
}

/* Legacy calls pass a pointer (an S-mode virtual address) to the mask. */
static bool legacy_mask(struct hart *h, uint64_t va, uint64_t *mask)
{
    if (va == 0) {
        *mask = ~0ull;
        return true;
    }
    return hart_load_virtual(h, va, 8, mask);
}

static void console_out(struct hart *h, const void *buf, size_t len)
{
    console_write(h->m->console, buf, len);
}

static int hsm(struct hart *h, uint64_t fid)
{
    struct machine *m = h->m;
    switch (fid) {
    case 0: { /* hart_start(hartid, start_addr, opaque) */
        if (A(0) >= (uint64_t)m->nharts) {
            ret(h, SBI_ERR_INVALID_PARAM, 0);
            return ECALL_DONE;
        }
        if (!in_ram(m, A(1))) {
            ret(h, SBI_ERR_INVALID_ADDRESS, 0);
            return ECALL_DONE;
        }
        struct hart *t = m->harts[A(0)];
        int expected = HSM_STOPPED;
        t->start_pc = A(1);
        t->start_arg = A(2);
        if (!atomic_compare_exchange_strong(&t->hsm_state, &expected, HSM_START_PENDING)) {
            ret(h, SBI_ERR_ALREADY_AVAILABLE, 0);
            return ECALL_DONE;
        }
        hart_kick(t);
        ret(h, SBI_SUCCESS, 0);
        return ECALL_DONE;
    }
    case 1: /* hart_stop */
        atomic_store(&h->hsm_state, HSM_STOP_PENDING);
        return ECALL_PARK;
    case 2: /* hart_get_status(hartid) */
        if (A(0) >= (uint64_t)m->nharts)
            ret(h, SBI_ERR_INVALID_PARAM, 0);
        else
            ret(h, SBI_SUCCESS, (uint64_t)atomic_load(&m->harts[A(0)]->hsm_state));
        return ECALL_DONE;
    case 3: /* hart_suspend(type, resume_addr, opaque): retentive only */
        if ((uint32_t)A(0) != 0) {
            ret(h, SBI_ERR_NOT_SUPPORTED, 0);
            return ECALL_DONE;
        }
        atomic_store(&h->hsm_state, HSM_SUSPENDED);
        hart_wait_for_interrupt(h);
        atomic_store(&h->hsm_state, HSM_STARTED);
        ret(h, SBI_SUCCESS, 0);
        return ECALL_DONE;
    }
    ret(h, SBI_ERR_NOT_SUPPORTED, 0);
    return ECALL_DONE;
}

static void dbcn(struct hart *h, uint64_t fid)
{
    struct machine *m = h->m;
    switch (fid) {
    case 0:   /* write(num_bytes, base_lo, base_hi): physical address */
    case 1: { /* read(num_bytes, base_lo, base_hi) */
        uint64_t len = A(0), pa = A(1);
        /* read writes guest memory: RAM only, never the boot ROM */
        uint8_t *p = A(2) != 0 ? NULL
                     : fid == 0 ? machine_host_ptr(m, pa, len ? len : 1)
                                : machine_host_ptr_rw(m, pa, len ? len : 1);
        if (!p) {
            ret(h, SBI_ERR_INVALID_PARAM, 0);
            return;
        }
        if (fid == 0) {
            console_out(h, p, len);
            ret(h, SBI_SUCCESS, len);
            return;
        }
        uint64_t n = 0;
        int c;
        while (n < len && m->uart && (c = uart_getchar(m->uart)) >= 0) p[n++] = (uint8_t)c;
        machine_memory_written(m, pa, n);
        ret(h, SBI_SUCCESS, n);
        return;
    }
    case 2: { /* write_byte */
        uint8_t b = (uint8_t)A(0);
        console_out(h, &b, 1);
        ret(h, SBI_SUCCESS, 0);
        return;
    }
    }
    ret(h, SBI_ERR_NOT_SUPPORTED, 0);
}

/* STA's shared memory, 64 bytes per hart (little endian):
 *   u32 sequence (odd while the SBI writes), u32 flags (0),
 *   u64 steal (ns the vCPU was ready but did not run), u8 preempted, pad */
#define STA_SIZE 64

static void sta_set_shmem(struct hart *h, uint64_t fid)
{
    uint64_t lo = A(0), hi = A(1), flags = A(2);
    if (fid != 0) {
        ret(h, SBI_ERR_NOT_SUPPORTED, 0);
        return;
    }
    if (flags != 0) {
        ret(h, SBI_ERR_INVALID_PARAM, 0);
        return;
    }
    if (lo == ~0ull && hi == ~0ull) { /* disable */
        h->sta_shmem = 0;
        ret(h, SBI_SUCCESS, 0);
        return;
    }
    if (hi != 0 || (lo & (STA_SIZE - 1))) {
        ret(h, SBI_ERR_INVALID_PARAM, 0);
        return;
    }
    uint8_t *p = in_ram(h->m, lo) ? machine_host_ptr(h->m, lo, STA_SIZE) : NULL;
    if (!p) {
        ret(h, SBI_ERR_INVALID_ADDRESS, 0);
        return;
    }
    memset(p, 0, STA_SIZE);
    machine_memory_written(h->m, lo, STA_SIZE);
    h->sta_shmem = lo;
    ret(h, SBI_SUCCESS, 0);
}

void sbi_sta_publish(struct hart *h, uint64_t steal_ns)
{
    if (!h->sta_shmem) return;
    uint8_t *p = machine_host_ptr(h->m, h->sta_shmem, STA_SIZE);
    if (!p) return;
    uint32_t *seq = (uint32_t *)p;
    uint64_t *steal = (uint64_t *)(p + 8);
    uint32_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
    __atomic_store_n(seq, s + 1, __ATOMIC_RELAXED); /* odd: being written */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(steal, steal_ns, __ATOMIC_RELAXED);
    __atomic_store_n(seq, s + 2, __ATOMIC_RELEASE);
}

static bool probe(uint64_t ext)
{
    switch (ext) {
    case EXT_BASE:
    case EXT_TIME:
    case EXT_IPI:
    case EXT_RFENCE:
    case EXT_HSM:
    case EXT_SRST:
    case EXT_DBCN:
    case EXT_STA:
        return true;
    default:
        return ext <= 8; /* legacy extensions */
    }
}

static int legacy(struct hart *h, uint64_t ext)
{
    struct machine *m = h->m;
    uint64_t mask;
    switch (ext) {
    case 0: hart_set_stimecmp(h, A(0)); A(0) = 0; break;
    case 1: {
        uint8_t b = (uint8_t)A(0);
        console_out(h, &b, 1);
        A(0) = 0;
        break;
    }
    case 2: {
        int c = m->uart ? uart_getchar(m->uart) : -1;
        A(0) = (uint64_t)(int64_t)c;
        break;
    }
    case 3: atomic_fetch_and(&h->mip, ~MIP_SSIP); A(0) = 0; break;
    case 4:
    case 5:
    case 6:
    case 7:
        if (!legacy_mask(h, A(0), &mask)) {
            A(0) = (uint64_t)SBI_ERR_INVALID_ADDRESS;
            break;
        }
        if (ext == 4) {
            for_harts(h, mask, 0, send_ipi, NULL);
        } else {
            /* legacy: a1 start, a2 size (SFENCE.VMA), a3 ASID (SFENCE.VMA.ASID) */
            struct rfence f = {ext == 5, A(1), A(2), ext == 7 ? A(3) : ~0ull};
            for_harts(h, mask, 0, fence, &f);
        }
        A(0) = 0;
        break;
    case 8: machine_stop(m, STOP_POWEROFF, 0); return ECALL_PARK;
    }
    return ECALL_DONE;
}

int sbi_ecall(struct hart *h)
{
    uint64_t ext = h->x[17], fid = h->x[16];
    switch (ext) {
    case EXT_BASE:
        switch (fid) {
        case 0: ret(h, SBI_SUCCESS, SBI_SPEC_VERSION); break;
        case 1: ret(h, SBI_SUCCESS, SBI_IMPL_ID); break;
        case 2: ret(h, SBI_SUCCESS, SBI_IMPL_VERSION); break;
        case 3: ret(h, SBI_SUCCESS, probe(A(0))); break;
        case 4:
        case 5:
        case 6: ret(h, SBI_SUCCESS, 0); break; /* mvendorid, marchid, mimpid */
        default: ret(h, SBI_ERR_NOT_SUPPORTED, 0);
        }
        return ECALL_DONE;
    case EXT_TIME:
        if (fid != 0) {
            ret(h, SBI_ERR_NOT_SUPPORTED, 0);
            return ECALL_DONE;
        }
        hart_set_stimecmp(h, A(0));
        ret(h, SBI_SUCCESS, 0);
        return ECALL_DONE;
    case EXT_IPI:
        if (fid != 0) {
            ret(h, SBI_ERR_NOT_SUPPORTED, 0);
            return ECALL_DONE;
        }
        ret(h, for_harts(h, A(0), A(1), send_ipi, NULL), 0);
        return ECALL_DONE;
    case EXT_RFENCE:
        if (fid > 2) {
            ret(h, SBI_ERR_NOT_SUPPORTED, 0); /* hypervisor fences: no H extension */
            return ECALL_DONE;
        }
        {
            /* fid 0: FENCE.I; 1: SFENCE.VMA of [a2, a2 + a3); 2: the same for ASID a4 */
            struct rfence f = {fid == 0, A(2), A(3), fid == 2 ? A(4) : ~0ull};
            ret(h, for_harts(h, A(0), A(1), fence, &f), 0);
        }
        return ECALL_DONE;
    case EXT_HSM: return hsm(h, fid);
    case EXT_SRST:
        if (fid != 0 || (uint32_t)A(0) > 2 || (uint32_t)A(1) > 1) {
            ret(h, fid != 0 ? SBI_ERR_NOT_SUPPORTED : SBI_ERR_INVALID_PARAM, 0);
            return ECALL_DONE;
        }
        if ((uint32_t)A(0) == 0)
            machine_stop(h->m, STOP_POWEROFF, (uint32_t)A(1) == 1 ? 1 : 0);
        else
            machine_stop(h->m, STOP_RESET, 0);
        return ECALL_PARK;
    case EXT_DBCN: dbcn(h, fid); return ECALL_DONE;
    case EXT_STA: sta_set_shmem(h, fid); return ECALL_DONE;
    }
    if (ext <= 8) return legacy(h, ext);
    ret(h, SBI_ERR_NOT_SUPPORTED, 0);
    return ECALL_DONE;
}

void sbi_prepare_hart(struct hart *h)
{
    /* What M-mode firmware would have set up before entering S-mode. */
    h->pmpaddr[0] = (1ull << 54) - 1;
    h->pmpcfg[0] = 0x18 | 7;  /* NAPOT over everything, RWX */
    h->medeleg = 0xb1ff;      /* every exception but ECALL from S/M */
    h->mideleg = MIP_SSIP | MIP_STIP | MIP_SEIP;
    h->mcounteren = 7;        /* cycle, time, instret readable in S ... */
    h->scounteren = 7;        /* ... and in U (OpenSBI sets both too) */
    h->menvcfg = 1ull << 63;  /* Sstc: stimecmp drives STIP */
    h->mstatus &= ~MSTATUS_MPP;
    h->priv = PRIV_S;
    h->stimecmp = UINT64_MAX;
    hart_csrs_written(h);
}
