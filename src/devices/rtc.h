/*
 * rtc.h - the Goldfish real-time clock (google,goldfish-rtc): the host's
 * wall clock in nanoseconds, and a one-shot alarm interrupt.
 */
#ifndef KUMO_DEVICES_RTC_H
#define KUMO_DEVICES_RTC_H

#include <stdint.h>

struct device_model;

#define RTC_SIZE 0x1000

/* The board attaches it from its table (machine/device.h). */
extern const struct device_model rtc_device;

#endif
