/*
 * form.h - reading application/x-www-form-urlencoded bodies (the OAuth
 * token request az's MSAL sends: client_id=..&grant_type=..&...).
 *
 * Contract: pure; any bytes in (fuzzed with the token parser). A value is
 * percent-decoded with '+' as a space; a value with a bad escape or a NUL
 * is treated as absent.
 */
#ifndef KUMO_CLOUD_ARM_FORM_H
#define KUMO_CLOUD_ARM_FORM_H

#include <stdbool.h>
#include <stddef.h>

/* Copy the decoded value of the first field called name into out. false
 * when it is absent, malformed or longer than outlen - 1. */
bool arm_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen);

#endif
