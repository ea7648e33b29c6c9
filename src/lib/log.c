/*
 * log.c - see log.h.
 */
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum log_level log_current_level = LOG_WARN;
static const char *prog = "kumo";

void log_init(const char *progname, enum log_level level)
{
    const char *slash = strrchr(progname, '/');
    prog = slash ? slash + 1 : progname;
    log_current_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const tag[] = {"error: ", "warning: ", "", "debug: "};
    if (level > log_current_level) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* One write per message so lines from several threads never interleave. */
    fprintf(stderr, "%s: %s%s\n", prog, tag[level], buf);
}
