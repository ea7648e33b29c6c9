/*
 * error.c - filling a struct kerr (error.h).
 */
#include "cloud/error.h"

#include <stdio.h>

int kerr_set(struct kerr *e, int status, const char *code, const char *target, const char *fmt, ...)
{
    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    snprintf(e->target, sizeof(e->target), "%s", target ? target : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -1;
}
