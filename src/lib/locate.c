/*
 * locate.c - the data directory rule and the program lookup that kumod and
 * kumo share (see locate.h).
 */
#include "lib/locate.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kumo_default_data_dir(char *out, size_t len)
{
    const char *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
    if (getuid() == 0 && !x)
        snprintf(out, len, "/var/lib/kumo");
    else if (x && *x)
        snprintf(out, len, "%s/kumo", x);
    else
        snprintf(out, len, "%s/.local/state/kumo", h && *h ? h : ".");
}

void kumo_client_data_dir(char *out, size_t len)
{
    const char *d = getenv("KUMO_DATA_DIR");
    if (d && *d)
        snprintf(out, len, "%s", d);
    else
        kumo_default_data_dir(out, len);
}

static bool executable(const char *path)
{
    return access(path, X_OK) == 0;
}

bool kumo_find_program(const char *name, const char *const *rel, char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(out, len, "%.3000s/%s", self, name);
            if (executable(out)) return true;
            for (size_t i = 0; rel && rel[i]; i++) {
                snprintf(out, len, "%.3000s/%s/%s", self, rel[i], name);
                if (executable(out)) return true;
            }
        }
    }
    const char *path = getenv("PATH");
    char buf[8192];
    snprintf(buf, sizeof(buf), "%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, len, "%.3000s/%s", d, name);
        if (executable(out)) return true;
    }
    return false;
}
