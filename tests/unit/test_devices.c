/*
 * test_devices.c - the board's devices as a guest driver sees them, through
 * the bus: a virt board is built from its table (virt_create) and every
 * check reads and writes device registers at their guest-physical
 * addresses, with interrupts observed where the guest sees them (the PLIC's
 * pending bits, the harts' MEIP/SEIP). Covered: the board's layout (which
 * device answers in which slot), the PLIC (priorities, enables, threshold,
 * claim/complete, the gateway), the UART (registers, divisor latch,
 * loopback, the 16-byte receive FIFO, its interrupts) and the virtio-mmio
 * transport (identification, feature negotiation, queue set-up, status,
 * NEEDS_RESET on a broken queue, requests through real descriptor chains
 * built by virtq_chain.h, interrupt suppression, EVENT_IDX, indirect
 * descriptors), and, in builds with assertions, that the queue functions
 * refuse a caller without the device's lock.
 */
#include "cpu/hart.h"
#include "devices/plic.h"
#include "devices/uart.h"
#include "devices/virtio.h"
#include "devices/virtio_input.h"
#include "machine/machine.h"
#include "machine/virt.h"
#include "virtq_chain.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define RAM (16ull << 20)

/* ---- the board ---- */

static struct machine *m;

static char disk_path[] = "/tmp/kumo-test-devices-XXXXXX"; /* a 1 MiB raw image */

/* The virt board with `cpus` harts and `ndisks` disks (all the same image,
 * read-only), no console. */
static struct machine *board(int cpus, int ndisks)
{
    struct virt_config cfg = {.ram_size = RAM, .ncpus = cpus, .satp_mode = 10};
    for (int i = 0; i < ndisks; i++)
        cfg.disks[i] = (struct blk_config){.path = disk_path, .readonly = true};
    cfg.ndisks = ndisks;
    struct machine *b = virt_create(&cfg);
    CHECK(b != NULL, "virt_create");
    return b;
}

static uint32_t rd(uint64_t pa)
{
    uint64_t v = 0;
    CHECK(machine_read(m, pa, 4, &v), "read %#llx", (unsigned long long)pa);
    return (uint32_t)v;
}

static uint8_t rd8(uint64_t pa)
{
    uint64_t v = 0;
    CHECK(machine_read(m, pa, 1, &v), "read %#llx", (unsigned long long)pa);
    return (uint8_t)v;
}

static void wr(uint64_t pa, uint32_t v)
{
    CHECK(machine_write(m, pa, 4, v), "write %#llx", (unsigned long long)pa);
}

static void wr8(uint64_t pa, uint8_t v)
{
    CHECK(machine_write(m, pa, 1, v), "write %#llx", (unsigned long long)pa);
}

static const struct device_slot *row(const char *name)
{
    for (size_t i = 0; i < virt_ndevices; i++)
        if (strcmp(virt_devices[i].at.name, name) == 0) return &virt_devices[i].at;
    return NULL;
}

static bool seip(int hart)
{
    return (atomic_load(&m->harts[hart]->mip) & MIP_SEIP) != 0;
}

static bool meip(int hart)
{
    return (atomic_load(&m->harts[hart]->mip) & MIP_MEIP) != 0;
}

#define VIRTIO(i) (VIRT_VIRTIO_BASE + 0x1000ull * (i))

static void test_layout(void)
{
    /* QEMU virt's addresses and interrupt numbers */
    const struct device_slot *u = row("serial"), *p = row("plic");
    CHECK(u && u->base == 0x10000000 && u->irq == 10, "UART at 0x10000000, IRQ 10");
    CHECK(p && p->base == 0xc000000, "PLIC at 0xc000000");
    CHECK(row("rtc") && row("rtc")->irq == 11, "RTC on IRQ 11");
    /* rows do not overlap (virt_create would have refused), and the ROM is there */
    m = board(1, 0);
    if (!m) return;
    CHECK(machine_host_ptr(m, VIRT_MROM_BASE, 4) != NULL, "reset vector ROM");
    uint64_t v;
    CHECK(!machine_write(m, VIRT_MROM_BASE, 4, 1), "the ROM is read-only");
    CHECK(!machine_read(m, 0x9000000, 4, &v), "nothing at 0x9000000");
    /* virtio slots with no disks: empty, empty, ..., guest channel, balloon, rng */
    static const uint32_t want[VIRT_VIRTIO_COUNT] = {0, 0, 0, 0, 0, 3, 5, 4};
    for (int i = 0; i < VIRT_VIRTIO_COUNT; i++) {
        CHECK(rd(VIRTIO(i) + VQ_MAGIC) == 0x74726976, "slot %d magic", i);
        CHECK(rd(VIRTIO(i) + VQ_VERSION) == 2, "slot %d version", i);
        CHECK(rd(VIRTIO(i) + VQ_VENDOR_ID) == 0x6f6d756b, "slot %d vendor", i);
        CHECK(rd(VIRTIO(i) + VQ_DEVICE_ID) == want[i], "slot %d device %u, want %u", i,
              rd(VIRTIO(i) + VQ_DEVICE_ID), want[i]);
    }
    CHECK(m->balloon && m->agent && m->uart && m->plic, "the machine knows its devices");
    machine_free(m);
    /* six disks: they take slots 0-5, the guest channel gives its slot up */
    m = board(1, VIRT_MAX_DEVICES);
    if (!m) return;
    for (int i = 0; i < VIRT_VIRTIO_COUNT; i++) {
        uint32_t id = rd(VIRTIO(i) + VQ_DEVICE_ID);
        CHECK(id == (i < VIRT_MAX_DEVICES ? 2u : i == 6 ? 5u : 4u), "slot %d: device %u", i, id);
    }
    CHECK(m->ndisks == VIRT_MAX_DEVICES && !m->agent, "six disks, no guest channel");
    machine_free(m);
}

/* ---- PLIC ---- */

#define PLIC         0xc000000ull
#define PRIO(s)      (PLIC + 4ull * (s))
#define PENDING(s)   (PLIC + 0x1000 + 4ull * ((s) / 32))
#define ENABLE(c, s) (PLIC + 0x2000 + 0x80ull * (c) + 4ull * ((s) / 32))
#define THRESHOLD(c) (PLIC + 0x200000 + 0x1000ull * (c))
#define CLAIM(c)     (THRESHOLD(c) + 4)
#define BIT(s)       (1u << ((s) % 32))

static bool pending(unsigned s)
{
    return (rd(PENDING(s)) & BIT(s)) != 0;
}

static void test_plic(void)
{
    m = board(2, 0);
    if (!m) return;
    /* priorities: 3 bits; source 0 does not exist */
    wr(PRIO(5), 9);
    CHECK(rd(PRIO(5)) == 1, "priority is 3 bits: %u", rd(PRIO(5)));
    wr(PRIO(0), 7);
    CHECK(rd(PRIO(0)) == 0, "source 0 has no priority");
    wr(ENABLE(1, 0), 0xffffffff);
    CHECK(rd(ENABLE(1, 0)) == 0xfffffffe, "source 0 cannot be enabled");
    wr(ENABLE(1, 0), 0);

    /* context 1 is hart 0's S-mode: SEIP */
    wr(PRIO(5), 3);
    wr(PRIO(6), 3);
    wr(PRIO(7), 5);
    wr(THRESHOLD(1), 2);
    plic_set_level(m->plic, 5, true);
    CHECK(pending(5), "a raised line is pending");
    CHECK(!seip(0) && !meip(0), "not enabled: no interrupt");
    wr(ENABLE(1, 5), BIT(5) | BIT(6) | BIT(7));
    CHECK(seip(0) && !meip(0) && !seip(1), "enabled for context 1: hart 0's SEIP only");
    CHECK(rd(CLAIM(1)) == 5, "claim gives source 5");
    CHECK(!pending(5) && !seip(0), "claimed: not pending, no interrupt");
    CHECK(rd(CLAIM(1)) == 0, "in service: not claimed twice although the line is high");
    wr(CLAIM(1), 5); /* complete */
    CHECK(pending(5) && seip(0), "completed with the line high: pending again");
    plic_set_level(m->plic, 5, false);
    CHECK(!pending(5) && !seip(0), "line low: nothing pending");
    CHECK(rd(CLAIM(1)) == 0, "nothing to claim");

    /* the highest priority first, then the lowest ID among equals */
    plic_set_level(m->plic, 6, true);
    plic_set_level(m->plic, 5, true);
    plic_set_level(m->plic, 7, true);
    CHECK(rd(CLAIM(1)) == 7, "priority 5 first");
    CHECK(rd(CLAIM(1)) == 5, "then the lower ID of two priority-3 sources");
    CHECK(rd(CLAIM(1)) == 6, "then the other");
    CHECK(!seip(0), "all in service");
    for (unsigned s = 5; s <= 7; s++) {
        plic_set_level(m->plic, s, false);
        wr(CLAIM(1), s);
    }
    /* completing a source that is not in service changes nothing */
    wr(CLAIM(1), 9);
    CHECK(!pending(9) && !seip(0), "bogus complete ignored");

    /* threshold: only priorities above it interrupt */
    plic_set_level(m->plic, 7, true);
    wr(THRESHOLD(1), 5);
    CHECK(pending(7) && !seip(0), "priority 5 at threshold 5: masked");
    CHECK(rd(CLAIM(1)) == 0, "a masked source is not claimed");
    wr(THRESHOLD(1), 4);
    CHECK(seip(0), "threshold 4: delivered");
    CHECK(rd(THRESHOLD(1)) == 4, "threshold reads back");
    plic_set_level(m->plic, 7, false);
    CHECK(!seip(0), "line low");

    /* priority 0 never interrupts */
    wr(PRIO(20), 0);
    wr(ENABLE(1, 20), BIT(20));
    wr(THRESHOLD(1), 0);
    plic_set_level(m->plic, 20, true);
    CHECK(pending(20) && !seip(0), "priority 0: pending but never delivered");
    plic_set_level(m->plic, 20, false);

    /* M-mode contexts (0: hart 0, 2: hart 1) drive MEIP; IDs past 32 use the next word */
    wr(PRIO(40), 1);
    wr(ENABLE(2, 40), BIT(40));
    plic_set_level(m->plic, 40, true);
    CHECK(meip(1) && !meip(0) && !seip(1), "context 2: hart 1's MEIP");
    CHECK(rd(CLAIM(2)) == 40 && !meip(1), "claimed by hart 1's M-mode");
    plic_set_level(m->plic, 40, false);
    wr(CLAIM(2), 40);
    CHECK(rd(THRESHOLD(4)) == 0 && rd(CLAIM(4)) == 0, "no context 4 on two harts");
    machine_free(m);
}

/* ---- UART ---- */

#define UART 0x10000000ull
enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static void test_uart(void)
{
    m = board(1, 0);
    if (!m) return;
    CHECK(rd8(UART + LSR) == 0x60, "after reset: transmitter empty, no data (%#x)",
          rd8(UART + LSR));
    CHECK((rd8(UART + IIR) & 0x0f) == 0x01, "no interrupt");
    wr8(UART + SCR, 0x5a);
    CHECK(rd8(UART + SCR) == 0x5a, "scratch register");
    /* divisor latch behind LCR.DLAB */
    wr8(UART + LCR, 0x80);
    wr8(UART + RBR, 0x12);
    wr8(UART + IER, 0x34);
    CHECK(rd8(UART + RBR) == 0x12 && rd8(UART + IER) == 0x34, "divisor latch");
    wr8(UART + LCR, 0x03);
    CHECK(rd8(UART + IER) == 0 && rd8(UART + LCR) == 0x03, "IER again, 8N1");

    /* loopback: what is sent is received; modem lines loop too */
    wr8(UART + MCR, 0x10 | 0x03);
    wr8(UART + RBR, 'A');
    CHECK(rd8(UART + LSR) & 0x01, "loopback data ready");
    CHECK(rd8(UART + RBR) == 'A', "loopback byte");
    CHECK(!(rd8(UART + LSR) & 0x01), "drained");
    CHECK((rd8(UART + MSR) & 0x30) == 0x30, "RTS->CTS, DTR->DSR: %#x", rd8(UART + MSR));
    wr8(UART + MCR, 0);
    CHECK(rd8(UART + MSR) == 0xb0, "carrier present, ready");

    /* the receive FIFO holds 16 bytes, in order */
    uint8_t in[20];
    for (int i = 0; i < 20; i++)
        in[i] = (uint8_t)('a' + i);
    CHECK(uart_receive(m->uart, in, 20) == 16, "16 bytes accepted");
    bool order = true;
    for (int i = 0; i < 16; i++)
        order &= rd8(UART + RBR) == 'a' + i;
    CHECK(order, "FIFO order");
    CHECK(!(rd8(UART + LSR) & 0x01) && rd8(UART + RBR) == 0, "empty reads 0");
    CHECK(uart_receive(m->uart, in, 3) == 3, "more input");
    wr8(UART + FCR, 0x03); /* enable and clear the FIFO */
    CHECK(!(rd8(UART + LSR) & 0x01), "FCR clears the receive FIFO");
    CHECK((rd8(UART + IIR) & 0xc0) == 0xc0, "FIFOs enabled in IIR");
    CHECK(uart_getchar(m->uart) == -1, "nothing for the SBI console either");
    uart_receive(m->uart, in, 1);
    CHECK(uart_getchar(m->uart) == 'a', "SBI console_getchar");

    /* interrupts: received data on PLIC source 10 */
    wr(PRIO(10), 1);
    wr(ENABLE(1, 10), BIT(10));
    wr8(UART + IER, 0x01);
    CHECK(!pending(10), "nothing received, no interrupt");
    uart_receive(m->uart, in, 2);
    CHECK((rd8(UART + IIR) & 0x0f) == 0x04 && pending(10) && seip(0), "receive interrupt");
    rd8(UART + RBR);
    CHECK(pending(10), "one byte left: still pending");
    rd8(UART + RBR);
    CHECK((rd8(UART + IIR) & 0x0f) == 0x01 && !pending(10) && !seip(0), "drained: line low");
    /* transmitter empty: raised when enabled, cleared by reading IIR, raised by sending */
    wr8(UART + IER, 0x02);
    CHECK((rd8(UART + IIR) & 0x0f) == 0x02, "THR empty reported");
    CHECK((rd8(UART + IIR) & 0x0f) == 0x01 && !pending(10), "reading IIR cleared it");
    wr8(UART + RBR, 'x');
    CHECK(pending(10) && (rd8(UART + IIR) & 0x0f) == 0x02, "a byte sent: empty again");
    wr8(UART + IER, 0);
    CHECK(!pending(10), "disabled");
    machine_free(m);
}

/* ---- virtio-mmio, with the board's entropy source (slot 7) ---- */

#define RNG     VIRTIO(7)
#define RNG_IRQ (VIRT_VIRTIO_IRQ + 7)
#define RINGS   (VIRT_DRAM_BASE + 0x100000)

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* Negotiate, set queue 0 up with 8 entries and clear the interrupt the
 * entropy device raises when it looks at its queues at DRIVER_OK. */
static bool rng_ready(struct vq_chain *c, uint64_t features)
{
    if (!vq_negotiate(c, features)) return false;
    vq_setup(c, 0, 8, RINGS);
    wr(RNG + VQ_INTERRUPT_ACK, 3);
    return rd(RNG + VQ_INTERRUPT_STATUS) == 0 && !pending(RNG_IRQ);
}

static void test_virtio_registers(void)
{
    m = board(1, 0);
    if (!m) return;
    struct vq_chain c;
    vq_init(&c, m, RNG);
    /* features: VERSION_1 (bit 32), INDIRECT_DESC (28), EVENT_IDX (29) */
    wr(RNG + VQ_DEVICE_FEATURES_SEL, 1);
    CHECK(rd(RNG + VQ_DEVICE_FEATURES) == 1, "VERSION_1 offered");
    wr(RNG + VQ_DEVICE_FEATURES_SEL, 0);
    CHECK(rd(RNG + VQ_DEVICE_FEATURES) == (3u << 28), "INDIRECT_DESC and EVENT_IDX offered");
    wr(RNG + VQ_DEVICE_FEATURES_SEL, 2);
    CHECK(rd(RNG + VQ_DEVICE_FEATURES) == 0, "no features past bit 63");
    /* FEATURES_OK only for offered features including VERSION_1 */
    wr(RNG + VQ_STATUS, 0);
    wr(RNG + VQ_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(RNG + VQ_STATUS,
       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    CHECK(!(rd(RNG + VQ_STATUS) & VIRTIO_STATUS_FEATURES_OK), "refused without VERSION_1");
    CHECK(!vq_negotiate(&c, 1u << 5), "refused: a feature the device does not offer");
    CHECK(vq_negotiate(&c, VIRTIO_F_EVENT_IDX), "accepted");
    CHECK(rd(RNG + VQ_STATUS) ==
              (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK),
          "status reads back");
    /* queues: one (the entropy request queue) of at most 256 */
    wr(RNG + VQ_QUEUE_SEL, 1);
    CHECK(rd(RNG + VQ_QUEUE_NUM_MAX) == 0, "no queue 1");
    wr(RNG + VQ_QUEUE_SEL, 0);
    CHECK(rd(RNG + VQ_QUEUE_NUM_MAX) == 256, "queue 0: up to 256 entries");
    CHECK(rd(RNG + VQ_QUEUE_READY) == 0, "not ready yet");
    vq_setup(&c, 0, 8, RINGS);
    CHECK(rd(RNG + VQ_QUEUE_READY) == 1, "ready");
    CHECK(rd(RNG + VQ_STATUS) & VIRTIO_STATUS_DRIVER_OK, "driver OK");
    /* a ready queue's settings are fixed */
    wr(RNG + VQ_QUEUE_NUM, 16);
    wr(RNG + VQ_QUEUE_DESC_LOW, 0);
    struct vq_buf b = {.len = 64, .write = true};
    vq_add_chain(&c, &b, 1);
    vq_kick(&c);
    CHECK(vq_used_idx(&c) == 1, "served with the rings it was given");

    /* a queue of a size that is not a power of two breaks the device */
    CHECK(vq_negotiate(&c, 0), "renegotiate");
    wr(RNG + VQ_QUEUE_SEL, 0);
    wr(RNG + VQ_QUEUE_NUM, 6);
    wr(RNG + VQ_QUEUE_DESC_LOW, (uint32_t)RINGS);
    wr(RNG + VQ_QUEUE_DRIVER_LOW, (uint32_t)RINGS + 0x1000);
    wr(RNG + VQ_QUEUE_DEVICE_LOW, (uint32_t)RINGS + 0x2000);
    wr(RNG + VQ_QUEUE_READY, 1);
    CHECK(rd(RNG + VQ_QUEUE_READY) == 0, "not ready");
    CHECK(rd(RNG + VQ_STATUS) & VIRTIO_STATUS_NEEDS_RESET, "NEEDS_RESET");
    CHECK(rd(RNG + VQ_INTERRUPT_STATUS) & 2, "configuration interrupt");
    CHECK(pending(RNG_IRQ), "its line is up");
    /* rings outside guest RAM too */
    CHECK(vq_negotiate(&c, 0), "reset clears NEEDS_RESET");
    CHECK(rd(RNG + VQ_INTERRUPT_STATUS) == 0 && !pending(RNG_IRQ), "reset drops the interrupt");
    wr(RNG + VQ_QUEUE_NUM, 8);
    wr(RNG + VQ_QUEUE_DESC_LOW, 0x1000); /* the ROM */
    wr(RNG + VQ_QUEUE_DRIVER_LOW, (uint32_t)RINGS + 0x1000);
    wr(RNG + VQ_QUEUE_DEVICE_LOW, (uint32_t)RINGS + 0x2000);
    wr(RNG + VQ_QUEUE_READY, 1);
    CHECK(rd(RNG + VQ_STATUS) & VIRTIO_STATUS_NEEDS_RESET, "descriptors in ROM: NEEDS_RESET");
    wr(RNG + VQ_STATUS, 0);
    CHECK(rd(RNG + VQ_STATUS) == 0 && rd(RNG + VQ_QUEUE_READY) == 0, "reset");
    machine_free(m);
}

static void test_virtio_requests(void)
{
    m = board(1, 0);
    if (!m) return;
    wr(PRIO(RNG_IRQ), 1);
    wr(ENABLE(1, RNG_IRQ), BIT(RNG_IRQ));
    struct vq_chain c;
    vq_init(&c, m, RNG);
    CHECK(rng_ready(&c, 0), "set up");

    /* a chain of two writable buffers: filled, the used ring says so, interrupt */
    struct vq_buf b[2] = {{.len = 16, .write = true}, {.len = 48, .write = true}};
    uint16_t head = vq_add_chain(&c, b, 2);
    CHECK(!pending(RNG_IRQ), "nothing before the notification");
    vq_kick(&c);
    uint32_t id = 99, len = 0;
    vq_used_elem(&c, 0, &id, &len);
    CHECK(vq_used_idx(&c) == 1 && id == head && len == 64, "used: id %u len %u", id, len);
    CHECK(!all_zero(vq_ram(&c, b[0].gpa, 16), 16) && !all_zero(vq_ram(&c, b[1].gpa, 48), 48),
          "both buffers filled");
    CHECK((rd(RNG + VQ_INTERRUPT_STATUS) & 1) && pending(RNG_IRQ) && seip(0), "used interrupt");
    wr(RNG + VQ_INTERRUPT_ACK, 1);
    CHECK(rd(RNG + VQ_INTERRUPT_STATUS) == 0 && !pending(RNG_IRQ) && !seip(0), "acknowledged");

    /* the driver asks for no interrupts (VIRTQ_AVAIL_F_NO_INTERRUPT) */
    uint16_t *avail = vq_ram(&c, c.avail, 4);
    avail[0] = 1;
    struct vq_buf one = {.len = 8, .write = true};
    vq_add_chain(&c, &one, 1);
    vq_kick(&c);
    CHECK(vq_used_idx(&c) == 2 && !pending(RNG_IRQ), "served quietly");
    avail[0] = 0;

    /* a chain that loops: NEEDS_RESET, nothing used */
    vq_write_desc(&c, c.desc, 4, b[0].gpa, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 5);
    vq_write_desc(&c, c.desc, 5, b[1].gpa, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
    vq_publish(&c, 4);
    vq_kick(&c);
    CHECK(vq_used_idx(&c) == 2, "a looping chain is not served");
    CHECK(rd(RNG + VQ_STATUS) & VIRTIO_STATUS_NEEDS_RESET, "looping chain: NEEDS_RESET");
    CHECK((rd(RNG + VQ_INTERRUPT_STATUS) & 2) && pending(RNG_IRQ), "the driver is told");

    /* readable after writable is not a valid chain either */
    CHECK(rng_ready(&c, 0), "reset");
    struct vq_buf bad[2] = {{.len = 8, .write = true}, {.len = 8, .write = false}};
    vq_add_chain(&c, bad, 2);
    vq_kick(&c);
    CHECK(vq_used_idx(&c) == 0 && (rd(RNG + VQ_STATUS) & VIRTIO_STATUS_NEEDS_RESET),
          "readable after writable: NEEDS_RESET");
    /* a buffer outside guest RAM */
    CHECK(rng_ready(&c, 0), "reset");
    vq_write_desc(&c, c.desc, 0, VIRT_DRAM_BASE + RAM - 8, 16, VIRTQ_DESC_F_WRITE, 0);
    vq_publish(&c, 0);
    vq_kick(&c);
    CHECK(vq_used_idx(&c) == 0 && (rd(RNG + VQ_STATUS) & VIRTIO_STATUS_NEEDS_RESET),
          "a buffer past the end of RAM: NEEDS_RESET");

    /* indirect descriptors, when negotiated */
    CHECK(rng_ready(&c, VIRTIO_F_INDIRECT_DESC), "INDIRECT_DESC");
    uint64_t table = vq_alloc(&c, 32), b1 = vq_alloc(&c, 24), b2 = vq_alloc(&c, 40);
    vq_write_desc(&c, table, 0, b1, 24, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    vq_write_desc(&c, table, 1, b2, 40, VIRTQ_DESC_F_WRITE, 0);
    vq_write_desc(&c, c.desc, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vq_publish(&c, 0);
    vq_kick(&c);
    vq_used_elem(&c, 0, &id, &len);
    CHECK(vq_used_idx(&c) == 1 && id == 0 && len == 64, "indirect chain: id %u len %u", id, len);
    CHECK(!all_zero(vq_ram(&c, b2, 40), 40), "the indirect buffers were filled");
    /* ... and not without */
    CHECK(rng_ready(&c, 0), "no INDIRECT_DESC");
    vq_write_desc(&c, c.desc, 0, table, 32, VIRTQ_DESC_F_INDIRECT, 0);
    vq_publish(&c, 0);
    vq_kick(&c);
    CHECK(vq_used_idx(&c) == 0 && (rd(RNG + VQ_STATUS) & VIRTIO_STATUS_NEEDS_RESET),
          "indirect without the feature: NEEDS_RESET");

    /* EVENT_IDX: interrupts only when the used index passes used_event */
    CHECK(rng_ready(&c, VIRTIO_F_EVENT_IDX), "EVENT_IDX");
    vq_set_used_event(&c, 5);
    for (int k = 1; k <= 3; k++) {
        struct vq_buf x = {.len = 8, .write = true};
        vq_add_chain(&c, &x, 1);
        vq_kick(&c);
        CHECK(vq_used_idx(&c) == k && !(rd(RNG + VQ_INTERRUPT_STATUS) & 1),
              "request %d: served, used_event 5 not reached: no interrupt", k);
        CHECK(vq_avail_event(&c) == k, "avail_event %u after %d", vq_avail_event(&c), k);
    }
    vq_set_used_event(&c, 3); /* interrupt when entry 3 is used */
    struct vq_buf x = {.len = 8, .write = true};
    vq_add_chain(&c, &x, 1);
    vq_kick(&c);
    CHECK(vq_used_idx(&c) == 4 && (rd(RNG + VQ_INTERRUPT_STATUS) & 1), "used_event passed");
    machine_free(m);
}

/* ---- the lock contract (builds with assertions) ---- */

#ifndef NDEBUG
static void no_notify(struct virtio_dev *vd, unsigned q)
{
    (void)vd;
    (void)q;
}

static const struct virtio_device_ops quiet_ops = {.notify = no_notify};
#endif

/* The power button: a virtio input device (ID 18) in its own transport at
 * 0x10009000 on PLIC source 9 that describes one key, KEY_POWER, and turns
 * a press into four events in the driver's buffers. */
#define BUTTON     0x10009000ull
#define BUTTON_IRQ 9

static void test_power_button(void)
{
    m = board(1, 0);
    if (!m) return;
    CHECK(rd(BUTTON + VQ_MAGIC) == 0x74726976 && rd(BUTTON + 0x008) == 18,
          "virtio input device at 0x10009000");
    CHECK(m->power_button != NULL, "recorded in the machine");
    /* its configuration: name, no serial, EV_KEY bits with only KEY_POWER (116) */
    wr8(BUTTON + 0x100, 0x01);
    wr8(BUTTON + 0x101, 0);
    uint8_t n = rd8(BUTTON + 0x102);
    char name[64] = "";
    for (unsigned i = 0; i < n && i < sizeof(name) - 1; i++)
        name[i] = (char)rd8(BUTTON + 0x108 + i);
    CHECK(!strcmp(name, VIRTIO_INPUT_NAME), "name '%s'", name);
    wr8(BUTTON + 0x100, 0x02);
    CHECK(rd8(BUTTON + 0x102) == 0, "no serial");
    wr8(BUTTON + 0x100, 0x11);
    wr8(BUTTON + 0x101, 1); /* EV_KEY */
    n = rd8(BUTTON + 0x102);
    bool only_power = n == 116 / 8 + 1;
    for (unsigned i = 0; i < n; i++)
        only_power &= rd8(BUTTON + 0x108 + i) == (i == 116 / 8 ? 1u << (116 % 8) : 0);
    CHECK(only_power, "EV_KEY: KEY_POWER only (%u bytes)", n);
    wr8(BUTTON + 0x101, 3); /* EV_ABS */
    CHECK(rd8(BUTTON + 0x102) == 0, "no other event types");
    /* a press before the driver is up is lost */
    CHECK(virtio_input_press_power(m->power_button) == 0 &&
              !virtio_input_driver_ready(m->power_button),
          "pressed, nobody listening");
    struct vq_chain c;
    vq_init(&c, m, BUTTON);
    CHECK(vq_negotiate(&c, 0), "negotiated");
    vq_setup(&c, 0, 8, RINGS);
    wr(PRIO(BUTTON_IRQ), 1);
    wr(ENABLE(1, BUTTON_IRQ), BIT(BUTTON_IRQ));
    struct vq_buf ev[8];
    for (int i = 0; i < 8; i++) {
        ev[i] = (struct vq_buf){.len = 8, .write = true};
        vq_add_chain(&c, &ev[i], 1);
    }
    vq_kick(&c);
    CHECK(vq_used_idx(&c) == 0 && virtio_input_driver_ready(m->power_button),
          "the early press was not kept");
    /* a press: key down, sync, key up, sync */
    CHECK(virtio_input_press_power(m->power_button) == 0, "pressed");
    CHECK(vq_used_idx(&c) == 4 && pending(BUTTON_IRQ), "four events, an interrupt");
    static const uint16_t want[4][2] = {{1, 116}, {0, 0}, {1, 116}, {0, 0}};
    static const uint32_t value[4] = {1, 0, 0, 0};
    for (unsigned k = 0; k < 4; k++) {
        uint32_t id, len;
        vq_used_elem(&c, k, &id, &len);
        const uint8_t *e = vq_ram(&c, ev[id].gpa, 8);
        uint16_t type = (uint16_t)(e[0] | e[1] << 8), code = (uint16_t)(e[2] | e[3] << 8);
        uint32_t v =
            (uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 | (uint32_t)e[7] << 24;
        CHECK(len == 8 && type == want[k][0] && code == want[k][1] && v == value[k],
              "event %u: type %u code %u value %u", k, type, code, v);
    }
    machine_free(m);
}

static void test_lock_contract(void)
{
#ifdef NDEBUG
    printf("SKIP lock contract: assertions are compiled out in this build\n");
#else
    struct machine *mm = machine_new(VIRT_DRAM_BASE, 1 << 20);
    struct plic *p = plic_attach(mm, 0xc000000);
    static struct virtio_dev vd;
    vd = (struct virtio_dev){.device_id = 42, .nqueues = 1, .queue_max = 8, .ops = &quiet_ops};
    CHECK(mm && p && virtio_mmio_attach(mm, &vd, VIRT_VIRTIO_BASE, p, 1) == 0, "a device");
    virtio_lock(&vd);
    CHECK(virtio_lock_held(&vd), "held after virtio_lock");
    virtio_lock(&vd);
    virtio_unlock(&vd);
    CHECK(virtio_lock_held(&vd), "still held: the lock is recursive");
    struct virtq_req r;
    CHECK(virtq_pop(&vd, 0, &r) == 0, "pop with the lock: queue not ready");
    virtio_unlock(&vd);
    CHECK(!virtio_lock_held(&vd), "released");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(2); /* the assertion's message is expected */
        virtq_pop(&vd, 0, &r);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, "virtq_pop without the lock aborts");
    machine_free(mm);
    plic_free(p);
#endif
}

int main(void)
{
    int fd = mkstemp(disk_path);
    CHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0, "a disk image");
    if (fd >= 0) close(fd);
    test_layout();
    test_plic();
    test_uart();
    test_virtio_registers();
    test_virtio_requests();
    test_power_button();
    test_lock_contract();
    unlink(disk_path);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
