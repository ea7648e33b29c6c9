/*
 * timefmt.h - the times kumod reads and writes: wall-clock milliseconds
 * since the Unix epoch internally, RFC 3339 UTC with milliseconds in JSON
 * ("2024-11-17T12:00:00.250Z"), and RFC 3339 or epoch seconds in queries.
 */
#ifndef KUMO_CLOUD_TIMEFMT_H
#define KUMO_CLOUD_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIME_STRLEN 32

int64_t time_now_ms(void);  /* CLOCK_REALTIME */
int64_t time_mono_ms(void); /* CLOCK_MONOTONIC */

/* "2024-11-17T12:00:00.250Z"; buf has TIME_STRLEN bytes. */
const char *time_format(int64_t ms, char buf[TIME_STRLEN]);

/* RFC 3339 ("2024-11-17T12:00:00Z", fractional seconds, "+01:00" offsets,
 * 't'/'z' in either case) or seconds since the epoch with an optional
 * fraction ("1731844800", "1731844800.25"). Years 1970-9999. Returns true
 * and the time in ms on success; false for anything else. */
bool time_parse(const char *s, int64_t *ms);

#endif
