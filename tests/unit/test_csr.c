/*
 * test_csr.c - CSR semantics that the ISA tests cannot reach from inside a
 * guest: the interplay of mip.SEIP with the PLIC's interrupt line.
 */
#include "cpu/decode.h"
#include "cpu/internal.h"
#include "machine/machine.h"

#include <stdio.h>

static int failures, checks;

#define CHECK(cond, msg)                                                                       \
    do {                                                                                       \
        checks++;                                                                              \
        if (!(cond)) {                                                                         \
            failures++;                                                                        \
            printf("FAIL line %d: %s\n", __LINE__, msg);                                       \
        }                                                                                      \
    } while (0)

#define CSR_MIP 0x344

/* Run "csrrX x10, mip, x11" with x11 = val; returns the old value read. */
static uint64_t csr_mip(struct hart *h, int op, uint64_t val)
{
    h->x[11] = val;
    CHECK(csr_exec(h, op, 10, 11, CSR_MIP), "csr instruction on mip must succeed in M-mode");
    return h->x[10];
}

int main(void)
{
    struct machine *m = machine_new(0x80000000, 1 << 20);
    struct hart *h = hart_new(m, 0);
    m->harts[m->nharts++] = h;

    /* The PLIC raises the S-level external interrupt line. */
    hart_set_irq(h, MIP_SEIP, true);
    CHECK(csr_mip(h, OP_CSRRS, 0) & MIP_SEIP, "mip.SEIP reads the PLIC line");
    /* Firmware sets SSIP with a read-modify-write (OpenSBI's IPI path). */
    csr_mip(h, OP_CSRRS, MIP_SSIP);
    /* The line drops: SEIP must drop with it (the RMW must not latch it). */
    hart_set_irq(h, MIP_SEIP, false);
    uint64_t v = csr_mip(h, OP_CSRRC, MIP_SSIP);
    CHECK(!(v & MIP_SEIP), "csrrs on mip latched the PLIC line into the software SEIP bit");
    CHECK(v & MIP_SSIP, "csrrs set SSIP");
    CHECK(!(hart_read_mip(h) & MIP_SSIP), "csrrc cleared SSIP");
    /* Software may still set SEIP itself, and it stays until cleared. */
    csr_mip(h, OP_CSRRS, MIP_SEIP);
    CHECK(hart_read_mip(h) & MIP_SEIP, "software-written SEIP is visible");
    csr_mip(h, OP_CSRRC, MIP_SEIP);
    CHECK(!(hart_read_mip(h) & MIP_SEIP), "software SEIP cleared");
    /* MTIP is read-only: a write does not change it. */
    csr_mip(h, OP_CSRRS, MIP_MTIP);
    atomic_store(&h->mtimecmp, UINT64_MAX);
    hart_update_timers(h, 0);
    CHECK(!(hart_read_mip(h) & MIP_MTIP), "mip.MTIP follows mtimecmp, not writes");

    printf("csr: %d checks, %d failures\n", checks, failures);
    machine_free(m);
    return failures != 0;
}
