/*
 * test_log.c - bounded logging (src/lib/log.c): a rate-limited message site
 * prints its burst and no more; the stderr budget stops warnings at the
 * limit, says so once, and still lets errors through for a while.
 */
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

/* Run fn with stderr going to a temporary file; return what it wrote. */
static char *capture(void (*fn)(void))
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long n = ftell(tmp) >= 0 ? (fseek(tmp, 0, SEEK_END), ftell(tmp)) : 0;
    char *out = calloc(1, (size_t)n + 1);
    rewind(tmp);
    if (fread(out, 1, (size_t)n, tmp) != (size_t)n) out[0] = 0;
    fclose(tmp);
    return out;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static void spam(void)
{
    static struct log_limit l;
    for (int i = 0; i < 1000; i++)
        log_limited(&l, LOG_WARN, "guest poked register %d", i);
}

static void budget(void)
{
    log_set_budget(2000);
    for (int i = 0; i < 1000; i++)
        log_warn("warning number %d with some words", i);
    log_error("an error after the limit");
    log_set_budget(0);
    log_warn("no budget: written");
}

int main(void)
{
    log_init("test_log", LOG_WARN);
    char *out = capture(spam);
    CHECK(count(out, "guest poked register") == LOG_LIMIT_BURST, "a burst of %d, got %d",
          LOG_LIMIT_BURST, count(out, "guest poked register"));
    CHECK(strstr(out, "register 0\n") && strstr(out, "register 9\n") &&
              !strstr(out, "register 10\n"),
          "the first ones: %s", out);
    free(out);

    out = capture(budget);
    size_t len = strlen(out);
    int warnings = count(out, "warning number");
    CHECK(warnings > 10 && warnings < 60, "warnings until about 2000 bytes (%d)", warnings);
    CHECK(count(out, "reached its limit of 2000 bytes") == 1, "said once: %s", out);
    CHECK(strstr(out, "an error after the limit") != NULL, "errors still pass");
    CHECK(strstr(out, "no budget: written") != NULL, "budget 0: unlimited");
    CHECK(len < 2000 + 400, "about the budget (%zu bytes)", len);
    free(out);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
