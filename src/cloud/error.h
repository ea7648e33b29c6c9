/*
 * error.h - what went wrong with a request, on its way to becoming the JSON
 * error body {"error":{"code","message","target"}} of docs/api.md: an HTTP
 * status, a code from the api.md table, the field at fault (if any) and a
 * sentence for a person.
 */
#ifndef KUMO_CLOUD_ERROR_H
#define KUMO_CLOUD_ERROR_H

#include <stdarg.h>

struct kerr {
    int status;       /* HTTP status; 0 = no error */
    char code[32];    /* "InvalidField" */
    char target[128]; /* "rules[2].priority", "query.from", or "" */
    char message[768];
};

/* Fill e (always returns -1, so that `return kerr_set(...)` reads well).
 * target may be NULL. */
int kerr_set(struct kerr *e, int status, const char *code, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Shorthands for the common 4xx errors. */
#define kerr_invalid(e, target, ...) kerr_set((e), 400, "InvalidField", (target), __VA_ARGS__)
#define kerr_missing(e, target, ...) kerr_set((e), 400, "MissingField", (target), __VA_ARGS__)
#define kerr_notfound(e, ...)        kerr_set((e), 404, "NotFound", NULL, __VA_ARGS__)
#define kerr_conflict(e, code, ...)  kerr_set((e), 409, (code), NULL, __VA_ARGS__)
#define kerr_internal(e, ...)        kerr_set((e), 500, "InternalError", NULL, __VA_ARGS__)

#endif
