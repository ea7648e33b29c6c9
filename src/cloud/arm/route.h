/*
 * route.h - ARM's request routing: a table of (method, path pattern,
 * handler) matched case-insensitively, because az mixes "resourcegroups"
 * and "resourceGroups" in one command.
 *
 * A pattern is a path whose segments are literals or "{}" (any one
 * segment): "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/
 * virtualMachines/{}/start". The path may start with several slashes (az
 * sends "//metadata/endpoints" when its endpoint ends in '/') and end in
 * one; empty segments elsewhere never match.
 *
 * Contract: pure; the table ends with an entry whose pattern is NULL. A
 * method "*" matches any method. Captured segments point into the caller's
 * buffer `buf`, valid while it lives.
 */
#ifndef KUMO_CLOUD_ARM_ROUTE_H
#define KUMO_CLOUD_ARM_ROUTE_H

#include <stddef.h>

#define ARM_ROUTE_MAX_SEGS   24
#define ARM_ROUTE_MAX_PARAMS 8

struct arm_route {
    const char *method;
    const char *pattern;
    void *fn;         /* the caller's handler, cast back by the caller */
    int flags;        /* the caller's (e.g. "no authentication") */
    const char *type; /* the resource type whose api-versions apply, or NULL */
};

struct arm_match {
    const struct arm_route *route;
    const char *p[ARM_ROUTE_MAX_PARAMS]; /* captured segments, in order */
    int np;
    char allow[128]; /* when the path matched but the method did not: "GET, PUT" */
};

enum { ARM_ROUTE_FOUND = 0, ARM_ROUTE_NO_PATH = -1, ARM_ROUTE_NO_METHOD = -2 };

/* Match method + path (no query) against table. buf (at least strlen(path)
 * + 1 bytes, holding the captures afterwards) is scratch space.
 * ARM_ROUTE_FOUND with m filled, ARM_ROUTE_NO_METHOD with m->allow filled,
 * or ARM_ROUTE_NO_PATH. */
int arm_route_match(const struct arm_route *table, const char *method, const char *path, char *buf,
                    size_t buflen, struct arm_match *m);

#endif
