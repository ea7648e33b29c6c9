/*
 * log.c - see log.h.
 */
#include "lib/log.h"

#include <stdbool.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum log_level log_current_level = LOG_WARN;
static const char *prog = "kumo";
static _Atomic unsigned long long budget, written;
static _Atomic bool noted;
#define ERROR_GRACE (64ull << 10)

void log_set_budget(unsigned long long bytes)
{
    budget = bytes;
    written = 0;
    noted = false;
}

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
    unsigned long long b = budget;
    if (b) {
        size_t len = strlen(prog) + strlen(tag[level]) + strlen(buf) + 3;
        unsigned long long now = written;
        if (now + len > b && (level != LOG_ERROR || now + len > b + ERROR_GRACE)) {
            if (!atomic_exchange(&noted, true)) /* once */
                fprintf(stderr,
                        "%s: warning: this log reached its limit of %llu bytes: only "
                        "errors are written from now on\n",
                        prog, b);
            return;
        }
        atomic_fetch_add(&written, len);
    }
    /* One write per message so lines from several threads never interleave. */
    fprintf(stderr, "%s: %s%s\n", prog, tag[level], buf);
}

static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

void log_limited(struct log_limit *l, enum log_level level, const char *fmt, ...)
{
    if (level > log_current_level) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    unsigned suppressed = 0;
    pthread_mutex_lock(&limit_lock);
    if (l->count == 0 || now - l->window_start_ms >= LOG_LIMIT_WINDOW_MS) {
        l->window_start_ms = now;
        l->count = 0;
        suppressed = l->suppressed;
        l->suppressed = 0;
    }
    bool say = l->count < LOG_LIMIT_BURST;
    if (say)
        l->count++;
    else
        l->suppressed++;
    pthread_mutex_unlock(&limit_lock);
    if (!say) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (suppressed)
        log_msg(level, "%s (and %u similar messages in the last minute, not shown)", buf,
                suppressed);
    else
        log_msg(level, "%s", buf);
}
