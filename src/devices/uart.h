/*
 * uart.h - an NS16550A serial port (the virt board's console, ns16550a
 * compatible): transmit and receive FIFOs of 16 bytes, the interrupt
 * enable/identification registers Linux's 8250 driver and OpenSBI use,
 * and an interrupt line into the PLIC.
 */
#ifndef KUMO_DEVICES_UART_H
#define KUMO_DEVICES_UART_H

#include <stddef.h>
#include <stdint.h>

struct device_model;
struct uart;

#define UART_SIZE 0x100
#define UART_CLOCK_HZ 3686400

/* The board attaches it from its table (machine/device.h): the machine's
 * console (m->console, may be NULL) is its host side; it becomes m->uart. */
extern const struct device_model uart_device;
/* Input from the host (console thread); returns bytes accepted. */
size_t uart_receive(void *uart, const uint8_t *buf, size_t len);
/* One byte of pending input, or -1 (SBI console_getchar). */
int uart_getchar(struct uart *u);

#endif
