/*
 * jwt.c - HS256 JSON Web Tokens (contract in jwt.h), HMAC through GnuTLS.
 */
#include "cloud/arm/jwt.h"

#include <gnutls/crypto.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t arm_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = alphabet[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = alphabet[v & 63];
    }
    out[o] = 0;
    return o;
}

static int val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long arm_b64url_decode(const char *in, size_t len, unsigned char *out)
{
    if (len % 4 == 1) return -1;
    unsigned acc = 0;
    int bits = 0;
    long o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = val(in[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    /* the leftover bits of the last character must be zero (canonical form) */
    if (bits && (acc & ((1u << bits) - 1))) return -1;
    return o;
}

/* base64url of a JSON value, appended to buf at *at. */
static bool put_json(const json_t *j, char *buf, size_t cap, size_t *at)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (!s) return false;
    size_t n = strlen(s);
    bool ok = *at + 4 * ((n + 2) / 3) + 2 <= cap;
    if (ok) *at += arm_b64url_encode((unsigned char *)s, n, buf + *at);
    free(s);
    return ok;
}

static bool hmac(const unsigned char *key, size_t keylen, const char *data, size_t n,
                 unsigned char out[32])
{
    return gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, keylen, data, n, out) == 0;
}

char *arm_jwt_sign(const unsigned char *key, size_t keylen, const json_t *claims)
{
    char *buf = malloc(ARM_JWT_MAX);
    if (!buf) return NULL;
    size_t at = 0;
    json_t *hdr = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
    bool ok = put_json(hdr, buf, ARM_JWT_MAX, &at);
    json_decref(hdr);
    if (ok) buf[at++] = '.';
    ok = ok && put_json(claims, buf, ARM_JWT_MAX, &at);
    unsigned char mac[32];
    ok = ok && at + 45 < ARM_JWT_MAX && hmac(key, keylen, buf, at, mac);
    if (!ok) {
        free(buf);
        return NULL;
    }
    buf[at++] = '.';
    arm_b64url_encode(mac, sizeof(mac), buf + at);
    return buf;
}

static json_t *decode_json(const char *s, size_t n)
{
    unsigned char *raw = malloc(3 * n / 4 + 3);
    if (!raw) return NULL;
    long m = arm_b64url_decode(s, n, raw);
    json_t *j = m < 0 ? NULL : json_loadb((char *)raw, (size_t)m, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

enum arm_jwt_result arm_jwt_verify(const unsigned char *key, size_t keylen, const char *token,
                                   int64_t now, json_t **claims, int64_t *exp)
{
    *claims = NULL;
    *exp = 0;
    size_t len = strnlen(token, ARM_JWT_MAX + 1);
    if (len > ARM_JWT_MAX) return ARM_JWT_MALFORMED;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) return ARM_JWT_MALFORMED;
    json_t *hdr = decode_json(token, (size_t)(d1 - token));
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    bool hs256 = alg && !strcmp(alg, "HS256");
    json_decref(hdr);
    if (!hs256) return ARM_JWT_MALFORMED;
    unsigned char sig[64], mac[32];
    size_t slen = len - (size_t)(d2 + 1 - token);
    if (slen > 60 || arm_b64url_decode(d2 + 1, slen, sig) != 32) return ARM_JWT_BAD_SIGNATURE;
    if (!hmac(key, keylen, token, (size_t)(d2 - token), mac)) return ARM_JWT_BAD_SIGNATURE;
    unsigned diff = 0;
    for (int i = 0; i < 32; i++)
        diff |= (unsigned)(sig[i] ^ mac[i]);
    if (diff) return ARM_JWT_BAD_SIGNATURE;
    json_t *c = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!c) return ARM_JWT_MALFORMED;
    json_t *e = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    if (!json_is_integer(e) || (nbf && !json_is_integer(nbf))) {
        json_decref(c);
        return ARM_JWT_MALFORMED;
    }
    *exp = json_integer_value(e);
    if (*exp <= now) {
        json_decref(c);
        return ARM_JWT_EXPIRED;
    }
    if (nbf && json_integer_value(nbf) > now + 60) {
        json_decref(c);
        return ARM_JWT_NOT_YET;
    }
    *claims = c;
    return ARM_JWT_OK;
}
