/*
 * rtc.h - the Goldfish real-time clock (google,goldfish-rtc): the host's
 * wall clock in nanoseconds, and a one-shot alarm interrupt.
 */
#ifndef KUMO_DEVICES_RTC_H
#define KUMO_DEVICES_RTC_H

#include <stdint.h>

struct machine;
struct plic;
struct rtc;

#define RTC_SIZE 0x1000

struct rtc *rtc_attach(struct machine *m, uint64_t base, struct plic *plic, unsigned irq);
void rtc_free(struct rtc *r);

#endif
