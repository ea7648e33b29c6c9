/*
 * virtio_input.h - a virtio input device (device ID 18) with one key, the
 * power button (KEY_POWER): the host presses it, the guest's input layer
 * reports it, and a distribution's own handler acts on it (systemd-logind's
 * HandlePowerKey=poweroff: a clean shutdown). This is the board's power
 * button for images with a stock kernel and init (Debian's kernel has the
 * virtio_input driver); kumo's default guest listens on the virtio console
 * instead (virtio_console.h).
 */
#ifndef KUMO_DEVICES_VIRTIO_INPUT_H
#define KUMO_DEVICES_VIRTIO_INPUT_H

#include <stdbool.h>
#include <stdint.h>

struct device_model;
struct vinput;

/* The device's name as the guest sees it (/proc/bus/input/devices). */
#define VIRTIO_INPUT_NAME "kumo power button"

/* A row of the board (machine/virt.c): its own virtio-mmio transport,
 * recorded in m->power_button. */
extern const struct device_model virtio_input_device;

/* Press and release the power button: four events (key down, sync, key up,
 * sync) delivered as the guest's driver offers buffers. A press while the
 * driver is not up (booting, no driver) is lost, as a button pressed then
 * would be. 0, or -1 when too many presses wait for buffers. Any thread. */
int virtio_input_press_power(struct vinput *in);

/* Has the guest's driver set the device up (DRIVER_OK)? */
bool virtio_input_driver_ready(struct vinput *in);

#endif
