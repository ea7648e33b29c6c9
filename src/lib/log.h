/*
 * log.h - diagnostics for kumo programs. Messages go to stderr prefixed with
 * the program name; error messages say what went wrong and how to fix it.
 */
#ifndef KUMO_LIB_LOG_H
#define KUMO_LIB_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_init(const char *progname, enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern enum log_level log_current_level;

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                         \
    do {                                                                                       \
        if (log_current_level >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__);                   \
    } while (0)

#endif
