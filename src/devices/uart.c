/*
 * uart.c - see uart.h. Transmission is instantaneous (each byte goes to the
 * console when written), so the transmitter is always empty; the THR-empty
 * interrupt follows the 16550 rules: raised when ETBEI is enabled or a byte
 * was sent, cleared by reading IIR while it is the reported cause or by
 * writing THR.
 */
#include "devices/uart.h"

#include "devices/console.h"
#include "devices/plic.h"
#include "machine/device.h"
#include "machine/machine.h"
#include "machine/vmstate.h"

#include <libfdt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FIFO_SIZE 16

enum {
    REG_RBR_THR_DLL = 0,
    REG_IER_DLM = 1,
    REG_IIR_FCR = 2,
    REG_LCR = 3,
    REG_MCR = 4,
    REG_LSR = 5,
    REG_MSR = 6,
    REG_SCR = 7,
};

#define IER_RDI 0x01  /* receive data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02

struct uart {
    pthread_mutex_t lock;
    struct plic *plic;
    unsigned irq;
    struct console *con;
    uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
    uint8_t rx[FIFO_SIZE];
    unsigned rx_head, rx_count;
    bool thre_pending;
    bool irq_level;
    bool quiet; /* quiesced (vmstate): host input waits */
};

static uint8_t iir(const struct uart *u)
{
    uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
    if ((u->ier & IER_RDI) && u->rx_count) return fifo | IIR_RDI;
    if ((u->ier & IER_THRI) && u->thre_pending) return fifo | IIR_THRI;
    return fifo | IIR_NONE;
}

static void update_irq(struct uart *u)
{
    bool level = (iir(u) & IIR_NONE) == 0;
    if (level != u->irq_level) {
        u->irq_level = level;
        if (u->plic) plic_set_level(u->plic, u->irq, level);
    }
}

static void rx_push(struct uart *u, uint8_t b)
{
    if (u->rx_count == FIFO_SIZE) return;
    u->rx[(u->rx_head + u->rx_count) % FIFO_SIZE] = b;
    u->rx_count++;
}

static int rx_pop(struct uart *u)
{
    if (!u->rx_count) return -1;
    uint8_t b = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % FIFO_SIZE;
    u->rx_count--;
    return b;
}

static uint64_t uart_read(void *opaque, uint64_t off, int size)
{
    struct uart *u = opaque;
    uint64_t v = 0;
    (void)size;
    pthread_mutex_lock(&u->lock);
    switch (off) {
    case REG_RBR_THR_DLL:
        if (u->lcr & LCR_DLAB) {
            v = u->dll;
        } else {
            int b = rx_pop(u);
            v = b < 0 ? 0 : (uint64_t)b;
        }
        break;
    case REG_IER_DLM: v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier; break;
    case REG_IIR_FCR:
        v = iir(u);
        if ((v & 0x0f) == IIR_THRI) u->thre_pending = false;
        break;
    case REG_LCR: v = u->lcr; break;
    case REG_MCR: v = u->mcr; break;
    case REG_LSR: v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0); break;
    case REG_MSR:
        /* loopback wires RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD; otherwise the
         * modem lines say "carrier present, ready" */
        if (u->mcr & MCR_LOOP)
            v = ((u->mcr & 0x02) << 3) | ((u->mcr & 0x01) << 5) | ((u->mcr & 0x04) << 4) |
                ((u->mcr & 0x08) << 4);
        else
            v = 0xb0;
        break;
    case REG_SCR: v = u->scr; break;
    }
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return v;
}

static void uart_write(void *opaque, uint64_t off, uint64_t val, int size)
{
    struct uart *u = opaque;
    uint8_t b = (uint8_t)val;
    (void)size;
    pthread_mutex_lock(&u->lock);
    switch (off) {
    case REG_RBR_THR_DLL:
        if (u->lcr & LCR_DLAB) {
            u->dll = b;
        } else {
            if (u->mcr & MCR_LOOP)
                rx_push(u, b);
            else
                console_write(u->con, &b, 1);
            u->thre_pending = true; /* sent at once: the holding register is empty again */
        }
        break;
    case REG_IER_DLM:
        if (u->lcr & LCR_DLAB) {
            u->dlm = b;
        } else {
            if ((b & IER_THRI) && !(u->ier & IER_THRI)) u->thre_pending = true;
            u->ier = b & 0x0f;
        }
        break;
    case REG_IIR_FCR:
        if (b & FCR_CLEAR_RX) u->rx_head = u->rx_count = 0;
        u->fcr = b & 0xc9;
        break;
    case REG_LCR: u->lcr = b; break;
    case REG_MCR: u->mcr = b & 0x1f; break;
    case REG_SCR: u->scr = b; break;
    }
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
}

size_t uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct uart *u = opaque;
    size_t n = 0;
    pthread_mutex_lock(&u->lock);
    while (!u->quiet && n < len && u->rx_count < FIFO_SIZE) rx_push(u, buf[n++]);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return n;
}

int uart_getchar(struct uart *u)
{
    pthread_mutex_lock(&u->lock);
    int b = rx_pop(u);
    update_irq(u);
    pthread_mutex_unlock(&u->lock);
    return b;
}

static const struct mmio_ops uart_ops = {.read = uart_read, .write = uart_write};

/* Quiesced, the UART takes no input (the console keeps it until then). */
static void uart_quiesce(void *dev, bool quiet)
{
    struct uart *u = dev;
    pthread_mutex_lock(&u->lock);
    u->quiet = quiet;
    pthread_mutex_unlock(&u->lock);
}

static void uart_save(void *dev, struct vms_out *o)
{
    struct uart *u = dev;
    pthread_mutex_lock(&u->lock);
    vms_put_u8(o, u->ier);
    vms_put_u8(o, u->lcr);
    vms_put_u8(o, u->mcr);
    vms_put_u8(o, u->scr);
    vms_put_u8(o, u->dll);
    vms_put_u8(o, u->dlm);
    vms_put_u8(o, u->fcr);
    vms_put_u8(o, (uint8_t)u->rx_count);
    for (unsigned k = 0; k < u->rx_count; k++) vms_put_u8(o, u->rx[(u->rx_head + k) % FIFO_SIZE]);
    vms_put_bool(o, u->thre_pending);
    pthread_mutex_unlock(&u->lock);
}

static int uart_load(void *dev, struct vms_in *in)
{
    struct uart *u = dev;
    uint8_t ier = vms_get_u8(in), lcr = vms_get_u8(in), mcr = vms_get_u8(in);
    uint8_t scr = vms_get_u8(in), dll = vms_get_u8(in), dlm = vms_get_u8(in);
    uint8_t fcr = vms_get_u8(in), count = vms_get_u8(in);
    if (in->bad) return -1;
    if ((ier & ~0x0f) || (mcr & ~0x1f) || (fcr & ~0xc9) || count > FIFO_SIZE)
        return vms_fail(in, "registers out of range");
    uint8_t rx[FIFO_SIZE];
    vms_get_bytes(in, rx, count);
    bool thre = vms_get_bool(in);
    if (in->bad) return -1;
    pthread_mutex_lock(&u->lock);
    u->ier = ier;
    u->lcr = lcr;
    u->mcr = mcr;
    u->scr = scr;
    u->dll = dll;
    u->dlm = dlm;
    u->fcr = fcr;
    memcpy(u->rx, rx, count);
    u->rx_head = 0;
    u->rx_count = count;
    u->thre_pending = thre;
    u->irq_level = (iir(u) & IIR_NONE) == 0; /* the PLIC's saved line says the same */
    pthread_mutex_unlock(&u->lock);
    return 0;
}

static void uart_free(void *arg)
{
    struct uart *u = arg;
    if (u->con) console_set_sink(u->con, NULL, NULL);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

static int uart_attach(struct machine *m, const struct device_slot *at, const void *arg)
{
    (void)arg;
    struct uart *u = calloc(1, sizeof(*u));
    if (!u) return -1;
    pthread_mutex_init(&u->lock, NULL);
    u->plic = m->plic;
    u->irq = at->irq;
    u->con = m->console;
    if (device_map(m, at, &uart_ops, u) < 0) {
        pthread_mutex_destroy(&u->lock);
        free(u);
        return -1;
    }
    if (u->con) console_set_sink(u->con, uart_receive, u);
    m->uart = u;
    machine_on_free(m, uart_free, u);
    return 0;
}

static int uart_fdt(void *fdt, const struct machine *m, const struct device_slot *at)
{
    (void)m;
    DT_TRY(dt_begin_device(fdt, at, DT_COMPAT("ns16550a")));
    DT_TRY(dt_prop_reg(fdt, at->base, at->size));
    DT_TRY(fdt_property_u32(fdt, "clock-frequency", UART_CLOCK_HZ));
    DT_TRY(dt_prop_plic_irq(fdt, at->irq));
    DT_TRY(fdt_end_node(fdt));
    return 0;
}

const struct device_model uart_device = {.attach = uart_attach,
                                         .fdt_node = uart_fdt,
                                         .state_kind = "ns16550a",
                                         .quiesce = uart_quiesce,
                                         .save = uart_save,
                                         .load = uart_load};
