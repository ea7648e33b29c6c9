/*
 * form.c - application/x-www-form-urlencoded fields (contract in form.h).
 */
#include "cloud/arm/form.h"

#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode src[0..n) into out; false on a bad escape, a NUL or no room. */
static bool decode(const char *src, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n) return false;
            int h = hexval(src[i + 1]), l = hexval(src[i + 2]);
            if (h < 0 || l < 0) return false;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (c == 0 || o + 1 >= outlen) return false;
        out[o++] = c;
    }
    out[o] = 0;
    return true;
}

bool arm_form_get(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i <= len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        const char *eq = memchr(body + i, '=', end - i);
        size_t klen = eq ? (size_t)(eq - (body + i)) : end - i;
        if (klen == nl && !memcmp(body + i, name, nl)) {
            if (!eq) {
                if (!outlen) return false;
                out[0] = 0;
                return true;
            }
            return decode(eq + 1, (size_t)(body + end - (eq + 1)), out, outlen);
        }
        i = end + 1;
    }
    return false;
}
