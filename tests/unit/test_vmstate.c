/*
 * test_vmstate.c - a machine's saved state (src/machine/vmstate.c) as the
 * file format and its loaders see it: a virt board set up through its
 * registers as a guest would leave it (harts' registers and CSRs, the
 * PLIC, the UART, the RTC, a virtio device with a queue and a request the
 * device holds, RAM with data and empty pages) is saved, loaded into a
 * fresh board and compared section by section and page by page; the
 * restored device then serves requests and gives back the held one. Then
 * every way a file can be wrong: truncated at every section boundary and
 * inside sections, a bit flipped in each part, another format version,
 * data in a page marked empty, and machines that do not match (RAM, vCPUs,
 * MMU, devices): each refused with its message, nothing loaded.
 *
 * `test_vmstate --write-fuzz-seeds DIR` writes seeds for
 * tests/fuzz/fuzz_vmstate.c from the same saved state.
 */
#include "cpu/hart.h"
#include "devices/virtio.h"
#include "devices/virtio_balloon.h"
#include "machine/machine.h"
#include "machine/virt.h"
#include "machine/vmstate.h"
#include "virtq_chain.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define RAM (8ull << 20)
#define PLIC 0xc000000ull
#define UART 0x10000000ull
#define RTC 0x101000ull
#define VIRTIO(i) (VIRT_VIRTIO_BASE + 0x1000ull * (i))
#define RNG VIRTIO(7)
#define BALLOON VIRTIO(6)
#define RNG_IRQ (VIRT_VIRTIO_IRQ + 7)
#define RINGS (VIRT_DRAM_BASE + 0x100000)
#define BRINGS (VIRT_DRAM_BASE + 0x200000)

static char dir[] = "/tmp/kumo-test-vmstate-XXXXXX";
static char path[256];

static struct machine *board(int cpus, uint64_t ram, int satp_mode, int ndisks,
                             const char *disk)
{
    struct virt_config cfg = {.ram_size = ram, .ncpus = cpus, .satp_mode = satp_mode,
                              .builtin_sbi = true};
    for (int i = 0; i < ndisks; i++) cfg.disks[i] = (struct blk_config){.path = disk};
    cfg.ndisks = ndisks;
    struct machine *b = virt_create(&cfg);
    CHECK(b != NULL, "virt_create");
    return b;
}

static void wr(struct machine *m, uint64_t pa, uint32_t v)
{
    CHECK(machine_write(m, pa, 4, v), "write %#llx", (unsigned long long)pa);
}

static uint32_t rd(struct machine *m, uint64_t pa)
{
    uint64_t v = 0;
    CHECK(machine_read(m, pa, 4, &v), "read %#llx", (unsigned long long)pa);
    return (uint32_t)v;
}

/* What a guest would leave behind. */
static void set_up(struct machine *m, struct vq_chain *rng, struct vq_chain *bal)
{
    for (int k = 0; k < m->nharts; k++) {
        struct hart *h = m->harts[k];
        for (int r = 1; r < 32; r++) h->x[r] = 0x1000ull * (uint64_t)k + (uint64_t)r * 77;
        for (int r = 0; r < 32; r++) h->f[r] = 0xffffffff00000000ull | (uint64_t)(r + k);
        h->pc = VIRT_DRAM_BASE + 0x2000 + 4ull * (uint64_t)k;
        h->priv = PRIV_S;
        h->mstatus |= MSTATUS_SUM | MSTATUS_FS | MSTATUS_SD;
        h->satp = (9ull << 60) | (5ull << 44) | 0x80123;
        h->satp_mode = 9;
        h->satp_root = 0x80123ull << 12;
        h->stvec = 0xffffffff80001000ull;
        h->sscratch = 42;
        h->stimecmp = 123456789;
        atomic_store(&h->mtimecmp, 987654321ull + (uint64_t)k);
        h->pmpcfg[0] = 0x1f;
        h->pmpaddr[0] = (1ull << 54) - 1;
        h->instret = 1000000 + (uint64_t)k;
        h->resv_addr = VIRT_DRAM_BASE + 0x40;
        h->resv_value = 7;
        h->mie = MIP_SEIP | MIP_STIP;
        h->mideleg = MIP_S_MASK;
        atomic_store(&h->hsm_state, k == 0 ? HSM_STARTED : HSM_STOPPED);
    }
    /* PLIC: the entropy device's source enabled for hart 0's S context */
    wr(m, PLIC + 4ull * RNG_IRQ, 5);
    wr(m, PLIC + 0x2000 + 0x80 + 4ull * (RNG_IRQ / 32), 1u << (RNG_IRQ % 32));
    wr(m, PLIC + 0x201000, 2); /* threshold of context 1 */
    /* UART: line settings and a byte in the receive FIFO (loopback) */
    CHECK(machine_write(m, UART + 3, 1, 0x03), "lcr");
    CHECK(machine_write(m, UART + 7, 1, 0x5a), "scr");
    CHECK(machine_write(m, UART + 4, 1, 0x10), "loopback");
    CHECK(machine_write(m, UART + 0, 1, 'K'), "thr");
    CHECK(machine_write(m, UART + 4, 1, 0x00), "mcr");
    /* RTC: interrupts enabled */
    wr(m, RTC + 0x10, 1);
    /* the entropy device: a queue, one request served */
    vq_init(rng, m, RNG);
    CHECK(vq_negotiate(rng, VIRTIO_F_EVENT_IDX), "rng features");
    vq_setup(rng, 0, 8, RINGS);
    struct vq_buf b = {.len = 32, .write = true};
    vq_add_chain(rng, &b, 1);
    vq_kick(rng);
    CHECK(vq_used_idx(rng) == 1, "rng served");
    /* the balloon holds a statistics request (queue 2) */
    vq_init(bal, m, BALLOON);
    CHECK(vq_negotiate(bal, 2 /* STATS_VQ */), "balloon features");
    vq_setup(bal, 2, 8, BRINGS);
    uint8_t *stats;
    struct vq_buf sb = {.len = 20, .write = false};
    vq_add_chain(bal, &sb, 1);
    stats = vq_ram(bal, sb.gpa, 20);
    uint16_t tag = BALLOON_MEMFREE;
    uint64_t val = 12345678;
    memcpy(stats, &tag, 2);
    memcpy(stats + 2, &val, 8);
    vq_kick(bal);
    CHECK(vq_used_idx(bal) == 0, "the balloon keeps its statistics request");
    /* RAM: a pattern in some pages, the rest empty */
    for (uint64_t p = 0; p < RAM / 4096; p += 37) {
        uint8_t *page = machine_host_ptr(m, VIRT_DRAM_BASE + p * 4096, 4096);
        if (p > 0x180 && p < 0x210) continue; /* leave the rings alone */
        for (int i = 0; i < 4096; i += 512) page[i] = (uint8_t)(p * 3 + (uint64_t)i);
    }
}

/* Every section but the machine's (its clock moves) from the in-memory form. */
static bool same_devices(struct machine *a, struct machine *b)
{
    a->time_frozen = b->time_frozen = true;
    a->frozen_mtime = b->frozen_mtime = 555;
    struct vms_out x = {0}, y = {0};
    char err[256];
    bool ok = vmstate_save_devices(a, &x, err, sizeof(err)) == 0 &&
              vmstate_save_devices(b, &y, err, sizeof(err)) == 0 && x.len == y.len &&
              memcmp(x.buf, y.buf, x.len) == 0;
    if (!ok && x.len == y.len)
        for (size_t i = 0; i < x.len; i++)
            if (x.buf[i] != y.buf[i]) {
                printf("  first difference at byte %zu of %zu\n", i, x.len);
                break;
            }
    vms_out_free(&x);
    vms_out_free(&y);
    a->time_frozen = b->time_frozen = false;
    return ok;
}

static uint64_t file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void copy_file(const char *from, const char *to, uint64_t len)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s' && truncate -s %llu '%s'", from, to,
             (unsigned long long)len, to);
    CHECK(system(cmd) == 0, "%s", cmd);
}

static void flip(const char *p, uint64_t off, uint8_t mask)
{
    int fd = open(p, O_RDWR);
    uint8_t b = 0;
    CHECK(fd >= 0 && pread(fd, &b, 1, (off_t)off) == 1, "read %s", p);
    b ^= mask;
    CHECK(pwrite(fd, &b, 1, (off_t)off) == 1, "write %s", p);
    close(fd);
}

/* Open (and, when it opens, load into a fresh board) `p`: expect a refusal
 * whose message holds `want`. */
static void refused(const char *p, const char *want, const char *what)
{
    char err[512] = "";
    struct vmstate_file *f = vmstate_open(p, err, sizeof(err));
    if (f) {
        struct machine *m = board(2, RAM, 10, 0, NULL);
        int rc = m ? vmstate_load(f, m, err, sizeof(err)) : 0;
        CHECK(rc < 0, "%s: loaded", what);
        machine_free(m);
        vmstate_close(f);
    }
    CHECK(strstr(err, want) != NULL, "%s: '%s' lacks '%s'", what, err, want);
}

/* The section boundaries of the file: (header offset, payload offset, length). */
struct span {
    uint64_t at, payload, len;
    char name[32];
};

static int sections(const char *p, struct span *s, int max)
{
    int fd = open(p, O_RDONLY);
    int n = 0;
    uint64_t off = 4096, size = file_size(p);
    while (fd >= 0 && n < max && off + 80 <= size) {
        uint8_t h[80];
        if (pread(fd, h, 80, (off_t)off) != 80) break;
        memcpy(s[n].name, h, 32);
        memcpy(&s[n].len, h + 48, 8);
        memcpy(&s[n].payload, h + 56, 8);
        s[n].at = off;
        off = (s[n].payload + s[n].len + 7) & ~7ull;
        n++;
        if (strcmp((char *)h, "end") == 0) break;
    }
    if (fd >= 0) close(fd);
    return n;
}

static void test_round_trip(void)
{
    struct machine *a = board(2, RAM, 10, 0, NULL);
    if (!a) return;
    struct vq_chain rng, bal;
    set_up(a, &rng, &bal);
    char err[512];
    struct vmstate_stats st;
    CHECK(vmstate_save(a, path, &st, err, sizeof(err)) == 0, "save: %s", err);
    CHECK(st.ram_pages > 0 && st.ram_pages < RAM / 4096, "only pages with data: %llu",
          (unsigned long long)st.ram_pages);
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
    CHECK(access(tmp, F_OK) != 0, "no temporary file left");

    struct vmstate_file *f = vmstate_open(path, err, sizeof(err));
    CHECK(f != NULL, "open: %s", err);
    if (!f) {
        machine_free(a);
        return;
    }
    struct vmstate_info info;
    vmstate_get_info(f, &info);
    CHECK(info.ram_size == RAM && info.ncpus == 2 && info.builtin_sbi && info.satp_mode == 10,
          "info");
    struct machine *b = board(2, RAM, 10, 0, NULL);
    CHECK(vmstate_load(f, b, err, sizeof(err)) == 0, "load: %s", err);
    vmstate_close(f);
    CHECK(same_devices(a, b), "every section equal after the round trip");
    CHECK(memcmp(a->ram, b->ram, RAM) == 0, "RAM equal");
    CHECK(b->harts[0]->satp_root == 0x80123ull << 12 && b->harts[0]->satp_mode == 9,
          "satp's derived fields");
    /* the guest's clock goes on from where it was */
    uint64_t now_a = machine_time(a), now_b = machine_time(b);
    CHECK(now_b <= now_a && now_a - now_b < 10 * MACHINE_TIMEBASE_HZ, "mtime continues");
    /* the UART's FIFO byte, the PLIC's threshold */
    uint64_t v = 0;
    CHECK(machine_read(b, UART + 0, 1, &v) && v == 'K', "the UART's received byte: %llu",
          (unsigned long long)v);
    CHECK(rd(b, PLIC + 0x201000) == 2, "PLIC threshold");
    /* the restored entropy device serves the next request on its queue */
    rng.m = b;
    struct vq_buf nb = {.len = 16, .write = true};
    uint16_t head = vq_add_chain(&rng, &nb, 1);
    vq_kick(&rng);
    uint32_t id = 0, len = 0;
    vq_used_elem(&rng, 1, &id, &len);
    CHECK(vq_used_idx(&rng) == 2 && id == head && len == 16, "restored queue serves: %u %u",
          id, len);
    CHECK(atomic_load(&b->harts[0]->mip) & MIP_SEIP, "its interrupt reaches the hart");
    /* the balloon gives back the request it held (asking for fresh figures) */
    bal.m = b;
    struct balloon_info bi;
    virtio_balloon_get(b->balloon, &bi);
    CHECK(bi.stats_valid && bi.stats[BALLOON_MEMFREE] == 12345678, "the guest's figures kept");
    vq_used_elem(&bal, 0, &id, &len);
    CHECK(vq_used_idx(&bal) == 1 && id == 0, "the held request returned: used %u id %u",
          vq_used_idx(&bal), id);
    /* RAM restored copy-on-write: a write in b is not seen by the file */
    uint8_t *pb = machine_host_ptr(b, VIRT_DRAM_BASE, 1);
    pb[0] ^= 0xff;
    f = vmstate_open(path, err, sizeof(err));
    CHECK(f != NULL, "the file is unchanged by the restored guest's writes: %s", err);
    vmstate_close(f);
    /* saving the restored machine again keeps its pages (file-backed ones too) */
    char path2[300];
    snprintf(path2, sizeof(path2), "%s.2", path);
    CHECK(vmstate_save(b, path2, &st, err, sizeof(err)) == 0, "save again: %s", err);
    f = vmstate_open(path2, err, sizeof(err));
    struct machine *c = board(2, RAM, 10, 0, NULL);
    CHECK(f && vmstate_load(f, c, err, sizeof(err)) == 0, "load again: %s", err);
    CHECK(memcmp(b->ram, c->ram, RAM) == 0, "RAM of the second generation equal");
    vmstate_close(f);
    machine_free(c);
    unlink(path2);
    machine_free(b);
    machine_free(a);
}

static void test_refusals(void)
{
    char bad[300];
    snprintf(bad, sizeof(bad), "%s.bad", path);
    uint64_t size = file_size(path);
    struct span s[64];
    int n = sections(path, s, 64);
    CHECK(n > 8 && strcmp(s[n - 1].name, "end") == 0, "%d sections, the last one end", n);

    /* truncated at every section boundary, in every header and payload */
    for (int i = 0; i < n; i++) {
        uint64_t cuts[] = {s[i].at, s[i].at + 40, s[i].payload, s[i].payload + s[i].len / 2,
                           s[i].payload + s[i].len - 1};
        for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++) {
            if (cuts[k] >= size || (s[i].len == 0 && k > 2)) continue;
            copy_file(path, bad, cuts[k]);
            char what[80];
            snprintf(what, sizeof(what), "cut at %llu (%s)", (unsigned long long)cuts[k],
                     s[i].name);
            refused(bad, "truncated", what);
        }
    }
    copy_file(path, bad, 100);
    refused(bad, "not a kumo VM state file", "cut in the header");
    copy_file(path, bad, size + 8);
    refused(bad, "after its end section", "trailing bytes");

    /* a bit flipped in the header, each section header and each payload */
    copy_file(path, bad, size);
    flip(bad, 60, 0x10);
    refused(bad, "header does not match its checksum", "header bit");
    for (int i = 0; i < n; i++) {
        char what[80];
        copy_file(path, bad, size);
        flip(bad, s[i].at + 50, 0x01);
        snprintf(what, sizeof(what), "section header %s", s[i].name);
        refused(bad, "corrupted", what);
        if (s[i].len == 0) continue;
        copy_file(path, bad, size);
        uint64_t at = s[i].payload + s[i].len / 3;
        if (strcmp(s[i].name, "ram") == 0) {
            /* a page that holds data: the first data extent */
            int fd = open(bad, O_RDONLY);
            off_t d = lseek(fd, (off_t)s[i].payload, SEEK_DATA);
            close(fd);
            at = (uint64_t)d + 100;
        }
        flip(bad, at, 0x80);
        snprintf(what, sizeof(what), "payload of %s", s[i].name);
        refused(bad, "corrupted", what);
    }
    /* data written into a page the file says is empty */
    for (int i = 0; i < n; i++)
        if (strcmp(s[i].name, "ram") == 0) {
            copy_file(path, bad, size);
            flip(bad, s[i].payload + s[i].len - 4096 + 8, 0x01);
            refused(bad, "marked empty but holds data", "data in a hole");
        }

    /* another format version (with a valid checksum: written by another kumo) */
    copy_file(path, bad, size);
    {
        int fd = open(bad, O_RDWR);
        uint8_t h[128];
        CHECK(pread(fd, h, 128, 0) == 128, "read header");
        uint32_t v = VMSTATE_VERSION + 1;
        memcpy(h + 8, &v, 4);
        uint64_t sum = vmstate_hash(h, 120);
        memcpy(h + 120, &sum, 8);
        CHECK(pwrite(fd, h, 128, 0) == 128, "write header");
        close(fd);
    }
    refused(bad, "format version 2", "other version");
    unlink(bad);

    /* machines that do not match */
    char err[512];
    struct {
        int cpus;
        uint64_t ram;
        int mode;
        const char *want;
    } mismatch[] = {
        {2, 16ull << 20, 10, "give --mem 8"},
        {1, RAM, 10, "give --cpus 2"},
        {2, RAM, 9, "give the same --mmu"},
    };
    for (size_t k = 0; k < sizeof(mismatch) / sizeof(mismatch[0]); k++) {
        struct vmstate_file *f = vmstate_open(path, err, sizeof(err));
        struct machine *m = board(mismatch[k].cpus, mismatch[k].ram, mismatch[k].mode, 0, NULL);
        CHECK(f && m && vmstate_load(f, m, err, sizeof(err)) < 0 &&
                  strstr(err, mismatch[k].want),
              "mismatch %zu: '%s'", k, err);
        machine_free(m);
        vmstate_close(f);
    }
    /* a disk the saved VM did not have */
    char disk[300];
    snprintf(disk, sizeof(disk), "%s/disk.raw", dir);
    int fd = open(disk, O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0, "disk");
    close(fd);
    struct vmstate_file *f = vmstate_open(path, err, sizeof(err));
    struct machine *m = board(2, RAM, 10, 1, disk);
    CHECK(f && m && vmstate_load(f, m, err, sizeof(err)) < 0 && strstr(err, "--disk"),
          "an extra disk: '%s'", err);
    machine_free(m);
    vmstate_close(f);
    unlink(disk);
}

/* Seeds for tests/fuzz/fuzz_vmstate.c: the harness's structured input is a
 * list of [u8 section index][u16 length][payload] (it adds the framing and
 * checksums); index 255 is the whole file. */
static void write_seeds(const char *out)
{
    struct machine *a = board(2, 1 << 20, 10, 0, NULL);
    struct vq_chain rng, bal;
    (void)rng;
    (void)bal;
    char err[256];
    struct vms_out o = {0};
    a->time_frozen = true;
    if (vmstate_save_devices(a, &o, err, sizeof(err)) < 0) return;
    /* split the blob into its sections */
    struct vms_out seed = {0};
    vms_put_u8(&seed, 0); /* structured */
    size_t off = 0;
    int idx = 0;
    while (off + 80 <= o.len) {
        uint64_t len;
        memcpy(&len, o.buf + off + 48, 8);
        if (strcmp((char *)o.buf + off, "end") == 0) break;
        vms_put_u8(&seed, (uint8_t)idx++);
        vms_put_u16(&seed, (uint16_t)len);
        vms_put_bytes(&seed, o.buf + off + 80, len);
        off = (off + 80 + len + 7) & ~(size_t)7;
    }
    char p[512];
    snprintf(p, sizeof(p), "%s/sections", out);
    FILE *fp = fopen(p, "wb");
    if (fp) {
        fwrite(seed.buf, 1, seed.len, fp);
        fclose(fp);
    }
    vms_out_free(&seed);
    vms_out_free(&o);
    /* the file's first bytes (header and first sections), as a whole file */
    a->time_frozen = false;
    if (mkdtemp(dir) && snprintf(p, sizeof(p), "%s/state", dir) > 0 &&
        vmstate_save(a, p, NULL, err, sizeof(err)) == 0) {
        FILE *in = fopen(p, "rb");
        uint8_t buf[12288];
        size_t n = in ? fread(buf + 1, 1, sizeof(buf) - 1, in) : 0;
        if (in) fclose(in);
        buf[0] = 1;
        char q[512];
        snprintf(q, sizeof(q), "%s/file-head", out);
        FILE *fp2 = fopen(q, "wb");
        if (fp2) {
            fwrite(buf, 1, n + 1, fp2);
            fclose(fp2);
        }
        unlink(p);
        rmdir(dir);
    }
    machine_free(a);
}

/* machine_ram_touched: the pages written (or read) are reported, pages
 * never touched are not, and a page reported stays reported once its
 * memory is no longer resident (MADV_PAGEOUT: swapped out where the host
 * has swap, kept otherwise; either way a save must take it). */
static void test_touched_pages(void)
{
    struct machine *m = machine_new(VIRT_DRAM_BASE, 64 << 20);
    CHECK(m != NULL, "machine_new");
    if (!m) return;
    uint64_t np = m->ram_size >> 12;
    memset(m->ram + 5 * 4096, 0xab, 4096);
    memset(m->ram + (np - 1) * 4096, 0xcd, 1);
    volatile uint8_t r = m->ram[7 * 4096]; /* read only: the zero page */
    (void)r;
    unsigned char *t = machine_ram_touched(m);
    CHECK(t != NULL, "machine_ram_touched");
    if (t) {
        CHECK(t[5] && t[np - 1] && t[7], "touched pages reported (%d %d %d)", t[5], t[np - 1],
              t[7]);
        CHECK(!t[6] && !t[100], "untouched pages not reported");
        free(t);
    }
#ifdef MADV_PAGEOUT
    madvise(m->ram + 5 * 4096, 4096, MADV_PAGEOUT);
#endif
    t = machine_ram_touched(m);
    CHECK(t && t[5], "a page paged out is still one to save");
    CHECK(m->ram[5 * 4096 + 100] == 0xab, "its contents are kept");
    free(t);
    machine_free(m);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-fuzz-seeds") == 0) {
        write_seeds(argv[2]);
        return 0;
    }
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof(path), "%s/state", dir);
    test_round_trip();
    test_refusals();
    test_touched_pages();
    unlink(path);
    rmdir(dir);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
