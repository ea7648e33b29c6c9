/*
 * token.h - the API's bearer token: 32 random bytes as 64 hex digits,
 * created at kumod's first start in DATA/token with mode 0600 (written to a
 * temporary file, synced, renamed), and read back at every start.
 */
#ifndef KUMO_CLOUD_TOKEN_H
#define KUMO_CLOUD_TOKEN_H

#include <stddef.h>

/* Load (or create) the token at path into out (65 bytes). 0 or -1 + err. */
int token_load(const char *path, char out[65], char *err, size_t errlen);

#endif
