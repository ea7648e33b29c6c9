/*
 * log.h - diagnostics for kumo programs. Messages go to stderr prefixed with
 * the program name; error messages say what went wrong and how to fix it.
 */
#ifndef KUMO_LIB_LOG_H
#define KUMO_LIB_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_init(const char *progname, enum log_level level);

/* At most `bytes` of messages to stderr from now on (kumo-vmm: its vmm.log):
 * past that only errors, for 64 KiB more, and one line saying so. 0: none. */
void log_set_budget(unsigned long long bytes);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern enum log_level log_current_level;

/*
 * Rate-limited messages, for anything a guest (or a remote peer) can trigger
 * at will: at most LOG_LIMIT_BURST messages per LOG_LIMIT_WINDOW_MS of one
 * limiter (one per device or per kind of event); the first message after a
 * quiet spell says how many were suppressed. Thread-safe; a limiter is
 * zero-initialised (static, or a struct member set to {0}).
 */
#define LOG_LIMIT_BURST     10
#define LOG_LIMIT_WINDOW_MS 60000

struct log_limit {
    long long window_start_ms;
    unsigned count, suppressed;
};

void log_limited(struct log_limit *l, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_current_level >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__);                       \
    } while (0)

#endif
