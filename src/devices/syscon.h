/*
 * syscon.h - the SiFive "test" device (sifive,test1): a 32-bit register the
 * guest writes to power off (0x5555), reboot (0x7777) or report a failure
 * (0x3333 with the exit code in bits 31:16).
 */
#ifndef KUMO_DEVICES_SYSCON_H
#define KUMO_DEVICES_SYSCON_H

#include <stdint.h>

struct device_model;

#define SYSCON_SIZE 0x1000
#define SYSCON_POWEROFF 0x5555
#define SYSCON_RESET 0x7777
#define SYSCON_FAIL 0x3333

/* The board attaches it from its table (machine/device.h); its node has the
 * phandle DT_PHANDLE_TEST that the board's poweroff and reboot nodes name. */
extern const struct device_model syscon_device;

#endif
