/*
 * check.h - the unit tests' one assertion: CHECK(cond, printf-args...)
 * counts a check and, when cond is false, counts a failure and prints the
 * line and the message; the test goes on, so one run shows every failure.
 * main() ends with `return check_report();`-style code of its own that
 * prints `checks` and `failures`.
 */
#ifndef KUMO_TESTS_UNIT_CHECK_H
#define KUMO_TESTS_UNIT_CHECK_H

#include <stdio.h>

static int failures, checks;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            printf("FAIL line %d: ", __LINE__);                                                    \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

#endif
