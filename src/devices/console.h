/*
 * console.h - the host side of the guest's serial console.
 *
 * Backends: "stdio" (the terminal in raw mode with a Ctrl-A escape, as QEMU
 * users expect, or plain pipes when stdin/stdout are not a terminal),
 * "none" (output discarded, no input), and "socket:PATH" (a unix socket
 * server; one client at a time). Output can also be copied to a log file.
 * Input is read by a thread of the console and handed to a sink (the UART).
 *
 * The log file is bounded (a guest prints as much as it likes): when it
 * would grow past its limit, its older half is dropped in place (the file
 * keeps its name, and a line says so), so it holds between half the limit
 * and the limit of the most recent output.
 */
#ifndef KUMO_DEVICES_CONSOLE_H
#define KUMO_DEVICES_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

struct console;
struct machine;

/* The sink takes as many bytes as it can and returns how many it took. */
typedef size_t (*console_sink_fn)(void *opaque, const uint8_t *buf, size_t len);

/* NULL and a message in err when the spec is bad or the socket can't be made. */
struct console *console_open(const char *spec, char *err, size_t errlen);
#define CONSOLE_LOG_MAX_DEFAULT (4u << 20) /* bytes; kumo-vmm --log-limit */

/* Copy output to path (appended), keeping at most max bytes (see above). */
int console_set_log(struct console *c, const char *path, uint64_t max, char *err,
                    size_t errlen);
void console_set_sink(struct console *c, console_sink_fn fn, void *opaque);
/* The machine that Ctrl-A x stops (NULL before it is freed). */
void console_set_machine(struct console *c, struct machine *m);
/* Start reading input. */
int console_start(struct console *c);
void console_write(struct console *c, const void *buf, size_t len);
void console_close(struct console *c);

#endif
