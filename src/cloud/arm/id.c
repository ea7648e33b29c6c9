/*
 * id.c - ARM resource ids (contract in id.h).
 */
#include "cloud/arm/id.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define MAX_SEGS (6 + 2 * ARM_ID_MAX_DEPTH + 1)

bool arm_id_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= ARM_ID_PART) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '%' ||
            ch == '\\')
            return false;
    }
    return true;
}

/* Split the path into segments (pointers into buf). Leading slashes may
 * repeat; an empty segment anywhere else is an error. */
static int split(const char *s, char *buf, size_t buflen, char **segs, char *err, size_t errlen)
{
    size_t len = strlen(s);
    if (len >= buflen) {
        snprintf(err, errlen, "the resource id is too long (%zu bytes at most)", buflen - 1);
        return -1;
    }
    if (s[0] != '/') {
        snprintf(err, errlen, "a resource id starts with '/subscriptions/'");
        return -1;
    }
    memcpy(buf, s, len + 1);
    char *p = buf;
    while (*p == '/')
        p++;
    if (len > 1 && buf[len - 1] == '/' && p < buf + len) buf[--len] = 0; /* one trailing '/' */
    int n = 0;
    if (!*p) return 0;
    for (;;) {
        if (n == MAX_SEGS) {
            snprintf(err, errlen, "the resource id has too many segments");
            return -1;
        }
        char *slash = strchr(p, '/');
        if (slash) *slash = 0;
        if (!*p) {
            snprintf(err, errlen, "the resource id has an empty segment (two '/' in a row)");
            return -1;
        }
        segs[n++] = p;
        if (!slash) break;
        p = slash + 1;
    }
    return n;
}

static int put(char *dst, const char *src, const char *what, char *err, size_t errlen)
{
    if (!arm_id_name_ok(src)) {
        snprintf(err, errlen,
                 "the resource id's %s '%.60s' is empty, too long (%d bytes at most) "
                 "or has a character not allowed in a URL segment",
                 what, src, ARM_ID_PART - 1);
        return -1;
    }
    snprintf(dst, ARM_ID_PART, "%s", src);
    return 0;
}

int arm_id_parse(const char *s, struct arm_id *id, char *err, size_t errlen)
{
    char buf[ARM_ID_MAX];
    char *seg[MAX_SEGS];
    memset(id, 0, sizeof(*id));
    int n = split(s, buf, sizeof(buf), seg, err, errlen);
    if (n < 0) return -1;
    int i = 0;
    if (n == 0) {
        snprintf(err, errlen, "the resource id is empty");
        return -1;
    }
    if (!strcasecmp(seg[0], "subscriptions")) {
        if (n == 1) return put(id->collection, seg[0], "collection", err, errlen);
        if (put(id->sub, seg[1], "subscription", err, errlen) < 0) return -1;
        i = 2;
        if (i < n && !strcasecmp(seg[i], "resourceGroups")) {
            if (i + 1 == n) return put(id->collection, seg[i], "collection", err, errlen);
            if (put(id->group, seg[i + 1], "resource group", err, errlen) < 0) return -1;
            i += 2;
        }
    }
    if (i == n) return 0;
    if (strcasecmp(seg[i], "providers") != 0) {
        snprintf(err, errlen, "the resource id has '%.60s' where 'providers'%s was expected",
                 seg[i], id->sub[0] && !id->group[0] ? " or 'resourceGroups'" : "");
        return -1;
    }
    if (i + 1 == n) return put(id->collection, seg[i], "collection", err, errlen);
    if (put(id->ns, seg[i + 1], "provider namespace", err, errlen) < 0) return -1;
    for (i += 2; i < n; i += 2) {
        if (id->depth == ARM_ID_MAX_DEPTH) {
            snprintf(err, errlen, "the resource id nests deeper than %d types", ARM_ID_MAX_DEPTH);
            return -1;
        }
        if (i + 1 == n) return put(id->collection, seg[i], "resource type", err, errlen);
        if (put(id->types[id->depth], seg[i], "resource type", err, errlen) < 0 ||
            put(id->names[id->depth], seg[i + 1], "resource name", err, errlen) < 0)
            return -1;
        id->depth++;
    }
    return 0;
}

/* Append "/a" to buf; false when it does not fit. */
static bool add(char *buf, size_t len, size_t *at, const char *a)
{
    int w = snprintf(buf + *at, len - *at, "/%s", a);
    if (w < 0 || (size_t)w >= len - *at) return false;
    *at += (size_t)w;
    return true;
}

int arm_id_format(const struct arm_id *id, char *buf, size_t len)
{
    size_t at = 0;
    if (len == 0) return -1;
    buf[0] = 0;
    bool ok = true;
    if (id->sub[0]) ok = add(buf, len, &at, "subscriptions") && add(buf, len, &at, id->sub);
    if (ok && id->group[0])
        ok = add(buf, len, &at, "resourceGroups") && add(buf, len, &at, id->group);
    if (ok && id->ns[0]) ok = add(buf, len, &at, "providers") && add(buf, len, &at, id->ns);
    for (int i = 0; ok && i < id->depth; i++)
        ok = add(buf, len, &at, id->types[i]) && add(buf, len, &at, id->names[i]);
    if (ok && id->collection[0]) ok = add(buf, len, &at, id->collection);
    if (!ok) {
        buf[0] = 0;
        return -1;
    }
    return (int)at;
}

int arm_id_type(const struct arm_id *id, char *buf, size_t len)
{
    size_t at = 0;
    if (len == 0) return -1;
    int w = snprintf(buf, len, "%s", id->ns);
    if (w < 0 || (size_t)w >= len) goto fail;
    at = (size_t)w;
    for (int i = 0; i < id->depth; i++)
        if (!add(buf, len, &at, id->types[i])) goto fail;
    return (int)at;
fail:
    buf[0] = 0;
    return -1;
}

int arm_id_build(struct arm_id *id, const char *sub, const char *group, const char *type,
                 const char *const *names, int nnames, char *err, size_t errlen)
{
    memset(id, 0, sizeof(*id));
    if (sub[0] && put(id->sub, sub, "subscription", err, errlen) < 0) return -1;
    if (group[0] && put(id->group, group, "resource group", err, errlen) < 0) return -1;
    char t[ARM_ID_MAX];
    if (strlen(type) >= sizeof(t)) {
        snprintf(err, errlen, "the resource type is too long");
        return -1;
    }
    snprintf(t, sizeof(t), "%s", type);
    char *save = NULL;
    char *ns = strtok_r(t, "/", &save);
    if (!ns) {
        snprintf(err, errlen, "the resource type '%.60s' is not 'Namespace/type'", type);
        return -1;
    }
    if (put(id->ns, ns, "provider namespace", err, errlen) < 0) return -1;
    for (char *p = strtok_r(NULL, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (id->depth == ARM_ID_MAX_DEPTH) {
            snprintf(err, errlen, "the resource type '%.60s' nests deeper than %d types", type,
                     ARM_ID_MAX_DEPTH);
            return -1;
        }
        if (put(id->types[id->depth], p, "resource type", err, errlen) < 0) return -1;
        id->depth++;
    }
    if (id->depth == 0 || id->depth != nnames) {
        snprintf(err, errlen,
                 "the resource type '%.60s' has %d type segment%s but %d resource name%s %s given",
                 type, id->depth, id->depth == 1 ? "" : "s", nnames, nnames == 1 ? "" : "s",
                 nnames == 1 ? "was" : "were");
        return -1;
    }
    for (int i = 0; i < nnames; i++)
        if (put(id->names[i], names[i], "resource name", err, errlen) < 0) return -1;
    char fmt[ARM_ID_MAX];
    if (arm_id_format(id, fmt, sizeof(fmt)) < 0) {
        snprintf(err, errlen, "the resource id would be longer than %d bytes", ARM_ID_MAX - 1);
        return -1;
    }
    return 0;
}

bool arm_id_equal(const struct arm_id *a, const struct arm_id *b)
{
    if (strcasecmp(a->sub, b->sub) || strcasecmp(a->group, b->group) || strcasecmp(a->ns, b->ns) ||
        a->depth != b->depth)
        return false;
    for (int i = 0; i < a->depth; i++)
        if (strcasecmp(a->types[i], b->types[i]) || strcasecmp(a->names[i], b->names[i]))
            return false;
    return true;
}

bool arm_id_is(const struct arm_id *id, const char *t)
{
    char buf[ARM_ID_MAX];
    return arm_id_type(id, buf, sizeof(buf)) >= 0 && strcasecmp(buf, t) == 0;
}

void arm_guid(char out[37])
{
    unsigned char u[16];
    size_t got = 0;
    while (got < sizeof(u)) {
        ssize_t r = getrandom(u + got, sizeof(u) - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) abort(); /* the kernel's CSPRNG is not optional */
        got += (size_t)r;
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}
