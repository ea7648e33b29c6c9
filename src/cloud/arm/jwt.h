/*
 * jwt.h - the ARM endpoint's bearer tokens: JSON Web Tokens (RFC 7519)
 * signed with HMAC-SHA256 (HS256) under a key only this kumod knows
 * (DATA/arm/signing.key). kumod both issues and checks them, so a
 * symmetric signature is enough; az never looks inside a service
 * principal's token.
 *
 * Contract: arm_jwt_verify() takes any bytes (it is fuzzed): it checks the
 * shape (three base64url parts), the header ({"alg":"HS256"}), the
 * signature (in constant time) before it reads the claims, then "exp" and
 * "nbf" against now (60 s of clock skew allowed for nbf), and returns the
 * claims. Its result says which check failed, so that the caller can
 * answer ARM's InvalidAuthenticationToken or ExpiredAuthenticationToken.
 */
#ifndef KUMO_CLOUD_ARM_JWT_H
#define KUMO_CLOUD_ARM_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ARM_JWT_MAX 4096 /* bytes of a token we accept */

enum arm_jwt_result {
    ARM_JWT_OK = 0,
    ARM_JWT_MALFORMED, /* not a JWT, or not one of ours (alg) */
    ARM_JWT_BAD_SIGNATURE,
    ARM_JWT_EXPIRED, /* exp <= now */
    ARM_JWT_NOT_YET, /* nbf > now + skew */
};

/* Sign claims (an object) with key. malloc'd token, or NULL. */
char *arm_jwt_sign(const unsigned char *key, size_t keylen, const json_t *claims);

/* Check token at time now (seconds). ARM_JWT_OK with *claims (new
 * reference), or another result with *claims NULL. *exp gets the token's
 * expiry when it could be read (0 otherwise). */
enum arm_jwt_result arm_jwt_verify(const unsigned char *key, size_t keylen, const char *token,
                                   int64_t now, json_t **claims, int64_t *exp);

/* base64url without padding (RFC 4648 section 5); out must hold
 * 4 * ceil(n / 3) + 1 bytes. Returns the length written. */
size_t arm_b64url_encode(const unsigned char *in, size_t n, char *out);
/* Decode; -1 on a character outside the alphabet or a bad length. out
 * must hold 3 * len / 4 + 3 bytes. Returns the length decoded. */
long arm_b64url_decode(const char *in, size_t len, unsigned char *out);

#endif
