/*
 * lenient.h - the JSON that ARM clients send and ARM accepts although it is
 * not JSON: property names without quotes. az's deployment commands send
 * `{"properties": {..., template:{...}}}` (azure-cli puts the template's
 * text in place of a placeholder after serialising the rest), and ARM's
 * parser takes it; so kumo's does too, by quoting such names before
 * jansson reads the text.
 *
 * Contract: pure; any bytes in. arm_json_quote_names() returns a new
 * malloc'd text in which every bare identifier ([A-Za-z_$][A-Za-z0-9_$]*)
 * that stands where an object's member name stands (after '{' or ',' and
 * before ':', outside strings) is quoted; everything else is copied as it
 * is, so valid JSON comes out unchanged. NULL when out of memory.
 */
#ifndef KUMO_CLOUD_ARM_LENIENT_H
#define KUMO_CLOUD_ARM_LENIENT_H

#include <stddef.h>

char *arm_json_quote_names(const char *text, size_t len, size_t *outlen);

#endif
