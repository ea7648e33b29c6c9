/*
 * jit.c - the translator's front end: the code cache (one per hart, a memfd
 * mapped twice: writable and executable, never both), what is translated
 * and when, the jump cache for indirect jumps, chaining of direct jumps,
 * and flushes. The host back end (emit_x86_64.c) does the lowering.
 */
#include "cpu/jit/jit.h"

#include "cpu/block.h"
#include "cpu/internal.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

bool jit_available(void)
{
    return true;
}

static void jc_clear(struct jit *j)
{
    for (unsigned k = 0; k < JIT_JC_SIZE; k++)
        j->jc[k].pc = 1; /* odd: never a pc */
}

struct jit *jit_new(struct hart *h, size_t cache_bytes, bool chain)
{
    struct jit *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    j->h = h;
    j->chain = chain;
    j->size = (cache_bytes + 4095) & ~(size_t)4095;
    j->rw = j->rx = MAP_FAILED;
    j->jc = malloc(JIT_JC_SIZE * sizeof(*j->jc));
    int fd = memfd_create("kumo-jit", MFD_CLOEXEC);
    if (!j->jc || fd < 0 || ftruncate(fd, (off_t)j->size) != 0) {
        log_error("translator: cannot create its code cache (%zu MiB): %s", j->size >> 20,
                  strerror(errno));
        goto fail;
    }
    /* Two views of the same pages: code is written through one and run
     * from the other, so no page is ever writable and executable. */
    j->rw = mmap(NULL, j->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    j->rx = mmap(NULL, j->size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    if (j->rw == MAP_FAILED || j->rx == MAP_FAILED) {
        log_error("translator: cannot map its code cache: %s", strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    jc_clear(j);
    if (getenv("KUMO_JIT_PERFMAP")) { /* perf's map of JIT code: /tmp/perf-PID.map */
        char path[64];
        snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
        j->perf_map = fopen(path, "a");
        if (j->perf_map) setvbuf(j->perf_map, NULL, _IOLBF, 0);
    }
    if (!be_routines(j)) goto fail;
    j->routines_end = j->used;
    return j;
fail:
    if (fd >= 0) close(fd);
    jit_free(j);
    return NULL;
}

void jit_free(struct jit *j)
{
    if (!j) return;
    if (j->perf_map) {
        /* and the code itself, for objdump -b binary -m i386:x86-64 */
        char path[64];
        snprintf(path, sizeof(path), "/tmp/kumo-jit-%d-%d.bin", (int)getpid(), j->h->id);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(j->rw, 1, j->used, f);
            fclose(f);
        }
        fclose((FILE *)j->perf_map);
    }
    if (j->rw != MAP_FAILED) munmap(j->rw, j->size);
    if (j->rx != MAP_FAILED) munmap(j->rx, j->size);
    free(j->jc);
    free(j);
}

void jit_flush(struct jit *j)
{
    if (!j) return;
    size_t start = (j->routines_end + 4095) & ~(size_t)4095;
    if (j->used > start) /* give the pages back (memfd: punches a hole) */
        madvise(j->rw + start, j->used - start, MADV_REMOVE);
    j->used = j->routines_end;
    j->epoch++;
    j->stats.flushes++;
    jc_clear(j);
    j->h->jit_link = NULL;
}

void jit_forget_targets(struct jit *j)
{
    if (!j) return;
    jc_clear(j);
    j->stats.jc_forgets++;
}

/* Guest registers by how often the block uses them (x0 excluded): those
 * used twice or more; in a block that loops to itself (translated as a loop
 * that loads its cached registers once) every register it uses, since each
 * use is then once per iteration. */
static void rank_registers(const struct block *b, bool loop, int8_t rank[32])
{
    unsigned uses[33] = {0};
    unsigned least = loop ? 1 : 2;
    for (uint32_t k = 0; k < b->n; k++) {
        const struct insn *i = &b->insns[k];
        /* Over-counting FP-register fields is harmless: a rank, not a liveness. */
        uses[i->rd]++;
        uses[i->rs1]++;
        uses[i->rs2]++;
    }
    int n = 0;
    for (;;) {
        int best = -1;
        for (int r = 1; r < 32; r++)
            if (uses[r] >= least && (best < 0 || uses[r] > uses[best])) best = r;
        if (best < 0) break;
        rank[n++] = (int8_t)best;
        uses[best] = 0;
    }
    rank[n] = -1;
}

bool jit_block_selfloop(const struct block *b)
{
    const struct insn *last = &b->insns[b->n - 1];
    return (last->op == OP_BEQ || last->op == OP_BNE || last->op == OP_BLT ||
            last->op == OP_BGE || last->op == OP_BLTU || last->op == OP_BGEU ||
            last->op == OP_JAL) &&
           (int64_t)last->off + last->imm == 0;
}

void *jit_translate(struct jit *j, struct block *b)
{
    struct jit_block_in in;
    in.b = b;
    in.page_off = (unsigned)((uintptr_t)b->host & 4095);
    for (uint32_t k = 0; k < b->n; k++) in.bits[k] = block_insn_bits(b, &b->insns[k]);
    in.selfloop = jit_block_selfloop(b);
    rank_registers(b, in.selfloop, in.rank);
    size_t before = j->used;
    void *code = be_translate(j, &in);
    if (!code) return NULL;
    b->code = code;
    j->stats.blocks++;
    j->stats.selfloops += in.selfloop;
    j->stats.bytes += j->used - before;
    if (j->perf_map) /* for perf report: name the block by the guest pc it was made at */
        fprintf((FILE *)j->perf_map, "%lx %zx jit_%" PRIx64 "_at_%zx\n",
                (unsigned long)(uintptr_t)code, j->used - before, j->h->pc,
                (size_t)((uint8_t *)code - j->rx));
    return code;
}

int jit_run(struct jit *j, void *code)
{
    struct hart *h = j->h;
    int r = j->enter(h, code);
    if (r == JIT_EXIT_CHAIN) h->jit_link_epoch = j->epoch;
    return r;
}

void jit_note_target(struct jit *j, uint64_t pc, const struct block *b)
{
    struct jit_jc_entry *e = &j->jc[jit_jc_index(pc)];
    e->pc = pc;
    e->addend = (uintptr_t)b->host - (uintptr_t)pc;
    e->code = b->code;
    j->stats.jc_fills++;
}

void jit_link(struct jit *j, const struct block *b)
{
    struct hart *h = j->h;
    const struct jit_exit_rec *rec = h->jit_link;
    h->jit_link = NULL;
    /* A flush since the exit may have reused the record's memory. */
    if (!rec || h->jit_link_epoch != j->epoch || !j->chain) return;
    if (rec->epoch != j->epoch || rec->target_host != b->host || !b->code) return;
    be_patch(j, rec->site, rec->forward ? be_fast_entry(b->code) : b->code);
    j->stats.patched++;
}

void jit_log_stats(const struct jit *j, int hart_id)
{
    if (!j) return;
    log_debug("hart %d translator: %" PRIu64 " blocks, %" PRIu64 " KiB of code, %" PRIu64
              " cache flushes, %" PRIu64 " jumps chained, %" PRIu64 " jump-cache fills, %" PRIu64
              " jump-cache flushes",
              hart_id, j->stats.blocks, j->stats.bytes >> 10, j->stats.flushes, j->stats.patched,
              j->stats.jc_fills, j->stats.jc_forgets);
}
