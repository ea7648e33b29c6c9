/*
 * urn.c - the URNs and aliases of kumo's images as az sees them (contract
 * in urn.h).
 */
#include "cloud/arm/urn.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

void arm_urn_from_name(const char *name, struct arm_urn *u)
{
    memset(u, 0, sizeof(*u));
    size_t n = strlen(name), end = n; /* the version ends with a digit */
    while (end > 0 && name[end - 1] == '.')
        end--;
    size_t v = end;
    while (v > 0 && (isdigit((unsigned char)name[v - 1]) || name[v - 1] == '.'))
        v--;
    while (v < end && name[v] == '.') /* and starts with one */
        v++;
    size_t base = v;
    while (base > 0 && (name[base - 1] == '-' || name[base - 1] == '_'))
        base--;
    if (v == end || base == 0 || n >= sizeof(u->offer)) {
        snprintf(u->publisher, sizeof(u->publisher), "kumo");
        snprintf(u->offer, sizeof(u->offer), "%.79s", name);
        snprintf(u->sku, sizeof(u->sku), "%.79s", name);
        return;
    }
    snprintf(u->publisher, sizeof(u->publisher), "%.*s", (int)base, name);
    u->publisher[0] = (char)toupper((unsigned char)u->publisher[0]);
    char lower[80];
    snprintf(lower, sizeof(lower), "%.*s", (int)base, name);
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int vlen = (int)(end - v);
    snprintf(u->offer, sizeof(u->offer), "%.40s-%.*s", lower, vlen < 38 ? vlen : 38, name + v);
    snprintf(u->sku, sizeof(u->sku), "%.*s", vlen, name + v);
}

void arm_urn_alias(const struct arm_urn *u, char *buf, size_t len)
{
    size_t at = 0;
    bool up = true;
    for (const char *p = u->offer; *p && at + 1 < len; p++) {
        if (*p == '-' || *p == '_' || *p == '.') {
            up = true;
            if (*p == '.') buf[at++] = '.';
            continue;
        }
        buf[at++] = up ? (char)toupper((unsigned char)*p) : *p;
        up = false;
    }
    buf[at] = 0;
}
