/*
 * route.c - case-insensitive routing of ARM requests (contract in route.h).
 */
#include "cloud/arm/route.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Split path into segments in place; -1 if malformed. */
static int split(char *p, char **segs)
{
    while (*p == '/')
        p++;
    size_t len = strlen(p);
    if (len && p[len - 1] == '/') p[--len] = 0;
    if (!len) return 0;
    int n = 0;
    for (;;) {
        if (n == ARM_ROUTE_MAX_SEGS) return -1;
        char *slash = strchr(p, '/');
        if (slash) *slash = 0;
        if (!*p) return -1;
        segs[n++] = p;
        if (!slash) return n;
        p = slash + 1;
    }
}

/* Does the pattern match the segments? Captures go to m. */
static bool match(const char *pattern, char **segs, int n, struct arm_match *m)
{
    const char *p = pattern;
    int i = 0, np = 0;
    while (*p == '/')
        p++;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (i == n) return false;
        if (len == 2 && p[0] == '{' && p[1] == '}') {
            if (np < ARM_ROUTE_MAX_PARAMS) m->p[np++] = segs[i];
        } else if (strlen(segs[i]) != len || strncasecmp(segs[i], p, len) != 0) {
            return false;
        }
        i++;
        p += len;
        while (*p == '/')
            p++;
    }
    if (i != n) return false;
    m->np = np;
    return true;
}

int arm_route_match(const struct arm_route *table, const char *method, const char *path, char *buf,
                    size_t buflen, struct arm_match *m)
{
    memset(m, 0, sizeof(*m));
    size_t len = strlen(path);
    if (len >= buflen) return ARM_ROUTE_NO_PATH;
    memcpy(buf, path, len + 1);
    char *segs[ARM_ROUTE_MAX_SEGS];
    int n = split(buf, segs);
    if (n < 0) return ARM_ROUTE_NO_PATH;
    bool path_seen = false;
    for (const struct arm_route *r = table; r->pattern; r++) {
        struct arm_match t = {0};
        if (!match(r->pattern, segs, n, &t)) continue;
        if (!strcmp(r->method, "*") || !strcasecmp(r->method, method)) {
            t.route = r;
            memcpy(m->p, t.p, sizeof(t.p));
            m->np = t.np;
            m->route = r;
            return ARM_ROUTE_FOUND;
        }
        if (!strstr(m->allow, r->method)) {
            size_t at = strlen(m->allow);
            snprintf(m->allow + at, sizeof(m->allow) - at, "%s%s", at ? ", " : "", r->method);
        }
        path_seen = true;
    }
    return path_seen ? ARM_ROUTE_NO_METHOD : ARM_ROUTE_NO_PATH;
}
