/*
 * virtio_attack.c - a hostile bare-metal guest (kumo-vmm --elf) that attacks
 * every virtio device the board has: chains that loop (directly and through
 * indirect tables), descriptors of 4 GiB, buffers beyond RAM and buffers
 * pointing at MMIO (the device's own registers, the UART), an avail index
 * far ahead of the ring, rings outside RAM, and register accesses of every
 * size at every offset. After each attack it resets the device and makes
 * one well-formed request, which must complete: the device survives, the
 * VMM stays up. It prints one line per device and attack
 * ("virtio SLOT id ID ATTACK: needs-reset|ignored") and passes through HTIF
 * (exit 0) unless a well-formed request failed (exit status 2 + slot).
 */
#include <stdint.h>

#define UART        0x10000000ul
#define VIRTIO_BASE 0x10001000ul
#define SLOTS       8
#define QNUM        8
#define RAM_END     (0x80000000ul + (128ul << 20))

#define R32(a)     (*(volatile uint32_t *)(a))
#define W32(a, v)  (*(volatile uint32_t *)(a) = (uint32_t)(v))

enum { MAGIC = 0x000, DEVICE_ID = 0x008, DEV_FEAT = 0x010, DEV_FEAT_SEL = 0x014,
       DRV_FEAT = 0x020, DRV_FEAT_SEL = 0x024, QSEL = 0x030, QNUM_MAX = 0x034, QNUM_REG = 0x038,
       QREADY = 0x044, NOTIFY = 0x050, ISR = 0x060, ISR_ACK = 0x064, STATUS = 0x070,
       QDESC = 0x080, QAVAIL = 0x090, QUSED = 0x0a0 };
enum { ACK = 1, DRIVER = 2, DRIVER_OK = 4, FEATURES_OK = 8, NEEDS_RESET = 64 };
enum { F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4 };

struct desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

extern volatile uint64_t tohost;
volatile uint64_t tohost __attribute__((section(".tohost"), aligned(64)));
volatile uint64_t fromhost __attribute__((section(".tohost"), aligned(64)));

static void putc_(char c)
{
    while (!(*(volatile uint8_t *)(UART + 5) & 0x20)) {
    }
    *(volatile uint8_t *)UART = (uint8_t)c;
}

static void puts_(const char *s)
{
    while (*s) putc_(*s++);
}

static void putn(unsigned long n)
{
    char b[24];
    int k = 0;
    do b[k++] = (char)('0' + n % 10); while ((n /= 10) && k < 23);
    while (k) putc_(b[--k]);
}

static void finish(uint64_t code)
{
    tohost = code;
    for (;;) {
    }
}

/* Per slot: rings and buffers in their own 64 KiB of RAM. */
static uint64_t area(int slot)
{
    return 0x80400000ul + (uint64_t)slot * 0x10000;
}
#define DESC(s)  ((volatile struct desc *)area(s))
#define AVAIL(s) ((volatile uint16_t *)(area(s) + 0x1000))
#define USED(s)  ((volatile uint16_t *)(area(s) + 0x2000))
#define BUF(s)   (area(s) + 0x4000)

static void zero(uint64_t at, uint64_t len)
{
    for (uint64_t k = 0; k < len; k += 8) *(volatile uint64_t *)(at + k) = 0;
}

/* Reset, negotiate VERSION_1 only, set every queue up with QNUM entries. */
static int setup(uint64_t b, int slot, int nq, uint64_t desc, uint64_t avail, uint64_t used)
{
    W32(b + STATUS, 0);
    zero(area(slot), 0x4000 * nq);
    W32(b + STATUS, ACK | DRIVER);
    W32(b + DRV_FEAT_SEL, 0);
    W32(b + DRV_FEAT, 0);
    W32(b + DRV_FEAT_SEL, 1);
    W32(b + DRV_FEAT, 1); /* VERSION_1 */
    W32(b + STATUS, ACK | DRIVER | FEATURES_OK);
    if (!(R32(b + STATUS) & FEATURES_OK)) return -1;
    for (int q = 0; q < nq; q++) {
        W32(b + QSEL, q);
        if (R32(b + QNUM_MAX) < QNUM) continue;
        W32(b + QNUM_REG, QNUM);
        uint64_t off = (uint64_t)q * 0x4000;
        W32(b + QDESC, desc + off);
        W32(b + QDESC + 4, (desc + off) >> 32);
        W32(b + QAVAIL, avail + off);
        W32(b + QAVAIL + 4, (avail + off) >> 32);
        W32(b + QUSED, used + off);
        W32(b + QUSED + 4, (used + off) >> 32);
        W32(b + QREADY, 1);
    }
    W32(b + STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
    return 0;
}

static int setup_normal(uint64_t b, int slot, int nq)
{
    return setup(b, slot, nq, area(slot), area(slot) + 0x1000, area(slot) + 0x2000);
}

/* Queue q's rings (each queue 16 KiB further). */
static volatile struct desc *qdesc(int slot, int q)
{
    return (volatile struct desc *)(area(slot) + (uint64_t)q * 0x4000);
}
static volatile uint16_t *qavail(int slot, int q)
{
    return (volatile uint16_t *)(area(slot) + 0x1000 + (uint64_t)q * 0x4000);
}
static volatile uint16_t *qused(int slot, int q)
{
    return (volatile uint16_t *)(area(slot) + 0x2000 + (uint64_t)q * 0x4000);
}

static void offer(int slot, int q, uint16_t head)
{
    volatile uint16_t *a = qavail(slot, q);
    a[2 + a[1] % QNUM] = head;
    __asm__ volatile("fence w, w" ::: "memory");
    a[1] = (uint16_t)(a[1] + 1);
    __asm__ volatile("fence w, w" ::: "memory");
}

/* Wait until the device marks itself broken, or a while passes. */
static int needs_reset(uint64_t b)
{
    for (long k = 0; k < 300000; k++)
        if (R32(b + STATUS) & NEEDS_RESET) return 1;
    return 0;
}

/* Wait until queue q has used `n` entries. */
static int used_reaches(int slot, int q, uint16_t n)
{
    for (long k = 0; k < 40000000; k++)
        if (qused(slot, q)[1] == n) return 1;
    return 0;
}

static void report(int slot, uint32_t id, const char *attack, int broke)
{
    puts_("virtio ");
    putn((unsigned long)slot);
    puts_(" id ");
    putn(id);
    puts_(" ");
    puts_(attack);
    puts_(broke ? ": needs-reset\n" : ": ignored\n");
}

/* The queue a device reads the guest's buffers from, and one well-formed
 * request on it. */
static int tx_queue(uint32_t id)
{
    return id == 1 || id == 3 ? 1 : 0; /* net, console: transmit; blk, rng, balloon: 0 */
}

static int good_request(uint64_t b, int slot, uint32_t id, int nq)
{
    if (setup_normal(b, slot, nq) < 0) return -1;
    int q = tx_queue(id);
    volatile struct desc *d = qdesc(slot, q);
    uint64_t buf = BUF(slot);
    zero(buf, 0x2000);
    switch (id) {
    case 2: /* blk: read sector 0 */
        d[0] = (struct desc){buf, 16, F_NEXT, 1};
        d[1] = (struct desc){buf + 0x100, 512, F_NEXT | F_WRITE, 2};
        d[2] = (struct desc){buf + 0x80, 1, F_WRITE, 0};
        *(volatile uint8_t *)(buf + 0x80) = 0xff;
        break;
    case 1: /* net: a 60-byte frame after its 12-byte header */
        for (int k = 0; k < 6; k++) *(volatile uint8_t *)(buf + 12 + k) = 0xff;
        d[0] = (struct desc){buf, 72, 0, 0};
        break;
    case 4: /* rng: 16 bytes */
        d[0] = (struct desc){buf, 16, F_WRITE, 0};
        break;
    case 5: /* balloon: inflate by one page of this area */
        *(volatile uint32_t *)buf = (uint32_t)((buf + 0x1000) >> 12);
        d[0] = (struct desc){buf, 4, 0, 0};
        break;
    default: /* console and anything else: 5 bytes of output */
        d[0] = (struct desc){buf, 5, 0, 0};
        break;
    }
    offer(slot, q, 0);
    W32(b + NOTIFY, q);
    if (!used_reaches(slot, q, 1)) return -1;
    if (id == 2 && *(volatile uint8_t *)(buf + 0x80) != 0) return -1;
    if (R32(b + STATUS) & NEEDS_RESET) return -1;
    return 0;
}

/* One malicious chain on the device's transmit-side queue. */
static void attack(uint64_t b, int slot, uint32_t id, int nq, const char *name, int kind)
{
    if (setup_normal(b, slot, nq) < 0) return;
    int q = tx_queue(id);
    volatile struct desc *d = qdesc(slot, q);
    volatile struct desc *ind = (volatile struct desc *)(BUF(slot) + 0x1000);
    uint64_t buf = BUF(slot);
    uint16_t wflag = id == 2 || id == 4 ? F_WRITE : 0;
    switch (kind) {
    case 0: /* a loop: 0 -> 1 -> 0 */
        d[0] = (struct desc){buf, 16, F_NEXT, 1};
        d[1] = (struct desc){buf + 16, 16, F_NEXT | wflag, 0};
        break;
    case 1: /* a 4 GiB buffer */
        d[0] = (struct desc){buf, 0xffffffffu, wflag, 0};
        break;
    case 2: /* beyond RAM */
        d[0] = (struct desc){RAM_END + 0x1000, 64, wflag, 0};
        break;
    case 3: /* across the end of RAM */
        d[0] = (struct desc){RAM_END - 8, 64, wflag, 0};
        break;
    case 4: /* the device's own registers */
        d[0] = (struct desc){b, 64, wflag, 0};
        break;
    case 5: /* the UART */
        d[0] = (struct desc){UART, 8, wflag, 0};
        break;
    case 6: /* an indirect table that points to itself */
        ind[0] = (struct desc){buf + 0x1000, 16, F_INDIRECT, 0};
        d[0] = (struct desc){buf + 0x1000, 16, F_INDIRECT, 0};
        break;
    case 7: /* a loop inside an indirect table */
        ind[0] = (struct desc){buf, 16, F_NEXT, 1};
        ind[1] = (struct desc){buf + 16, 16, F_NEXT | wflag, 0};
        d[0] = (struct desc){buf + 0x1000, 32, F_INDIRECT, 0};
        break;
    case 8: /* next beyond the ring */
        d[0] = (struct desc){buf, 16, F_NEXT, 0xffff};
        break;
    case 9: { /* the avail index far ahead of the ring */
        volatile uint16_t *a = qavail(slot, q);
        a[1] = 1000;
        W32(b + NOTIFY, q);
        report(slot, id, name, needs_reset(b));
        return;
    }
    case 10: /* rings beyond RAM */
        setup(b, slot, nq, RAM_END + 0x10000, RAM_END + 0x20000, RAM_END + 0x30000);
        W32(b + NOTIFY, q);
        report(slot, id, name, needs_reset(b));
        return;
    case 11: /* rings on the device's own registers */
        setup(b, slot, nq, b, b + 0x40, b + 0x80);
        W32(b + NOTIFY, q);
        report(slot, id, name, needs_reset(b));
        return;
    }
    offer(slot, q, 0);
    W32(b + NOTIFY, q);
    report(slot, id, name, needs_reset(b));
}

/* Every register, every size, aligned and not: reads and writes of noise. */
static void odd_accesses(uint64_t b)
{
    uint64_t noise = 0x9e3779b97f4a7c15ull;
    for (uint64_t off = 0; off < 0x140; off++) {
        noise = noise * 6364136223846793005ull + 1442695040888963407ull;
        if (off == NOTIFY || off == STATUS) continue; /* those get their own attacks */
        (void)*(volatile uint8_t *)(b + off);
        *(volatile uint8_t *)(b + off) = (uint8_t)noise;
        if (!(off & 1)) {
            (void)*(volatile uint16_t *)(b + off);
            *(volatile uint16_t *)(b + off) = (uint16_t)noise;
        }
        if (!(off & 7)) {
            (void)*(volatile uint64_t *)(b + off);
            *(volatile uint64_t *)(b + off) = noise;
        }
    }
    /* status and notify with odd sizes and wild values */
    *(volatile uint8_t *)(b + STATUS) = 0xff;
    *(volatile uint16_t *)(b + NOTIFY) = 0xffff;
    *(volatile uint64_t *)(b + NOTIFY) = ~0ull;
}

static const char *const names[] = {
    "loop", "4GiB-buffer", "beyond-RAM", "across-RAM-end", "own-registers", "UART",
    "self-indirect", "indirect-loop", "next-beyond-ring", "avail-ahead", "rings-beyond-RAM",
    "rings-on-registers",
};

void main_(void)
{
    int failed = 0;
    for (int slot = 0; slot < SLOTS; slot++) {
        uint64_t b = VIRTIO_BASE + (uint64_t)slot * 0x1000;
        if (R32(b + MAGIC) != 0x74726976) continue;
        uint32_t id = R32(b + DEVICE_ID);
        if (id == 0) continue;
        int nq = id == 5 ? 3 : id == 1 || id == 3 ? 2 : 1;
        for (int k = 0; k < (int)(sizeof(names) / sizeof(names[0])); k++) {
            attack(b, slot, id, nq, names[k], k);
            if (good_request(b, slot, id, nq) < 0) {
                puts_("virtio ");
                putn((unsigned long)slot);
                puts_(" did not serve a request after ");
                puts_(names[k]);
                puts_("\n");
                failed = slot + 1;
            }
        }
        odd_accesses(b);
        W32(b + STATUS, 0);
        if (good_request(b, slot, id, nq) < 0) {
            puts_("virtio ");
            putn((unsigned long)slot);
            puts_(" did not serve a request after odd-sized accesses\n");
            failed = slot + 1;
        } else {
            report(slot, id, "odd-sized-accesses", 0);
        }
        W32(b + STATUS, 0);
    }
    puts_("virtio attacks done\n");
    finish(failed ? (uint64_t)(2 + failed) << 1 | 1 : 1);
}

__asm__(".section .text.init, \"ax\"\n"
        ".globl _start\n"
        "_start:\n"
        "  li sp, 0x80800000\n"
        "  call main_\n"
        "1: j 1b\n");
