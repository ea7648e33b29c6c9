/*
 * test_arm_token.c - unit tests of the ARM endpoint's bearer tokens
 * (src/cloud/arm/jwt.c: HS256 JWTs, base64url) and of the token request's
 * form parser (form.c).
 */
#include "check.h"

#include "cloud/arm/form.h"
#include "cloud/arm/jwt.h"

#include <stdlib.h>
#include <string.h>

static const unsigned char key[32] = "0123456789abcdef0123456789abcdef";

static void test_b64url(void)
{
    char out[64];
    unsigned char back[64];
    CHECK(arm_b64url_encode((const unsigned char *)"kumo?>", 6, out) == 8 &&
              !strcmp(out, "a3Vtbz8-"),
          "encode: %s", out);
    CHECK(arm_b64url_encode((const unsigned char *)"k", 1, out) == 2 && !strcmp(out, "aw"),
          "no padding: %s", out);
    CHECK(arm_b64url_decode("a3Vtbz8-", 8, back) == 6 && !memcmp(back, "kumo?>", 6), "decode");
    CHECK(arm_b64url_decode("a3Vtbw==", 8, back) < 0, "padding is not base64url");
    CHECK(arm_b64url_decode("a", 1, back) < 0, "bad length");
    CHECK(arm_b64url_decode("ax", 2, back) < 0, "non-canonical trailing bits");
}

static void test_jwt(void)
{
    json_t *claims = json_pack("{s:s, s:s, s:I, s:I, s:I}", "aud", "a", "appid", "app1", "iat",
                               (json_int_t)1000, "nbf", (json_int_t)1000, "exp", (json_int_t)4600);
    char *t = arm_jwt_sign(key, sizeof(key), claims);
    CHECK(t && strchr(t, '.') && strchr(strchr(t, '.') + 1, '.'), "three parts: %s", t ? t : "-");
    json_t *got = NULL;
    int64_t exp = 0;
    CHECK(arm_jwt_verify(key, sizeof(key), t, 2000, &got, &exp) == ARM_JWT_OK && got &&
              !strcmp(json_string_value(json_object_get(got, "appid")), "app1") && exp == 4600,
          "verifies");
    json_decref(got);
    CHECK(arm_jwt_verify(key, sizeof(key), t, 4600, &got, &exp) == ARM_JWT_EXPIRED && !got &&
              exp == 4600,
          "expired at exp");
    CHECK(arm_jwt_verify(key, sizeof(key), t, 950, &got, &exp) == ARM_JWT_OK,
          "nbf within the skew");
    json_decref(got);
    CHECK(arm_jwt_verify(key, sizeof(key), t, 100, &got, &exp) == ARM_JWT_NOT_YET, "not yet");
    unsigned char other[32];
    memcpy(other, key, 32);
    other[0] ^= 1;
    CHECK(arm_jwt_verify(other, sizeof(other), t, 2000, &got, &exp) == ARM_JWT_BAD_SIGNATURE,
          "another key");
    /* change one claim byte: the signature no longer matches */
    char *m = strdup(t);
    char *p = strchr(m, '.') + 3;
    *p = *p == 'A' ? 'B' : 'A';
    CHECK(arm_jwt_verify(key, sizeof(key), m, 2000, &got, &exp) == ARM_JWT_BAD_SIGNATURE,
          "tampered");
    free(m);
    /* alg none and the like are not ours */
    CHECK(arm_jwt_verify(key, sizeof(key),
                         "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJleHAiOjk5OTk5OTk5OTl9.", 2000,
                         &got, &exp) == ARM_JWT_MALFORMED,
          "alg none");
    static const char *const bad[] = {
        "", "a", "a.b", "a.b.c.d", "...", "opaque-123", "eyJhbGciOiJIUzI1NiJ9.e30.xx"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum arm_jwt_result r = arm_jwt_verify(key, sizeof(key), bad[i], 2000, &got, &exp);
        CHECK(r != ARM_JWT_OK && !got, "'%s' refused", bad[i]);
    }
    /* a token without exp is refused even when signed */
    json_t *noexp = json_pack("{s:s}", "appid", "x");
    char *t2 = arm_jwt_sign(key, sizeof(key), noexp);
    CHECK(arm_jwt_verify(key, sizeof(key), t2, 2000, &got, &exp) == ARM_JWT_MALFORMED, "no exp");
    free(t2);
    json_decref(noexp);
    free(t);
    json_decref(claims);
}

static void test_form(void)
{
    const char *b = "client_id=11111111-1111&grant_type=client_credentials&client_info=1&"
                    "client_secret=a%2Bb+c%7E&claims=%7B%22x%22%7D&scope=https%3A%2F%2Fm%2F%2F."
                    "default&empty=&flag";
    size_t n = strlen(b);
    char v[128];
    CHECK(arm_form_get(b, n, "client_id", v, sizeof(v)) && !strcmp(v, "11111111-1111"),
          "client_id");
    CHECK(arm_form_get(b, n, "client_secret", v, sizeof(v)) && !strcmp(v, "a+b c~"), "decoded: %s",
          v);
    CHECK(arm_form_get(b, n, "scope", v, sizeof(v)) && !strcmp(v, "https://m//.default"),
          "scope: %s", v);
    CHECK(arm_form_get(b, n, "empty", v, sizeof(v)) && !v[0], "empty");
    CHECK(arm_form_get(b, n, "flag", v, sizeof(v)) && !v[0], "no '='");
    CHECK(!arm_form_get(b, n, "client", v, sizeof(v)), "prefix is not a match");
    CHECK(!arm_form_get(b, n, "client_id", v, 5), "too long for the buffer");
    CHECK(!arm_form_get("a=%4", 4, "a", v, sizeof(v)), "short escape");
    CHECK(!arm_form_get("a=%zz", 5, "a", v, sizeof(v)), "bad escape");
    CHECK(!arm_form_get("a=%00", 5, "a", v, sizeof(v)), "NUL");
    CHECK(!arm_form_get("", 0, "a", v, sizeof(v)), "empty body");
}

int main(void)
{
    test_b64url();
    test_jwt();
    test_form();
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
