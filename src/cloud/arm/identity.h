/*
 * identity.h - who may use the ARM endpoint: this kumod's subscription and
 * tenant (one each, random GUIDs made at first start, meta rows), its
 * token-signing key (DATA/arm/signing.key, 0600), and the service
 * principals an operator makes and revokes (`kumo sp create/list/delete`,
 * the /v1/servicePrincipals API): an application id (a GUID), a name and
 * a secret shown once. Secrets are 30 random bytes (40 base64url
 * characters) stored only as PBKDF2-HMAC-SHA256 (random 16-byte salt,
 * ARM_SP_ITERATIONS rounds).
 *
 * Tokens (jwt.h) carry tid (the tenant), appid/oid/sub (the principal),
 * aud, iss, iat, nbf and exp; every ARM request's token is checked for its
 * signature and expiry, and its principal must still exist, so deleting a
 * principal revokes its tokens at once.
 *
 * Contract: functions taking a struct db run under kumod's state lock;
 * arm_secret_matches() is pure and slow (PBKDF2): call it without the
 * lock.
 */
#ifndef KUMO_CLOUD_ARM_IDENTITY_H
#define KUMO_CLOUD_ARM_IDENTITY_H

#include "cloud/arm/id.h"
#include "cloud/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct kumod;

#define ARM_SP_ITERATIONS  20000
#define ARM_TOKEN_LIFETIME 3600 /* seconds */
#define ARM_AUDIENCE       "https://management.kumo.local/"

struct arm_identity {
    char subscription[40];
    char tenant[40];
    unsigned char key[32];
};

/* Make (first start) or read the ids and the signing key. Takes the state
 * lock itself. 0, or -1 with err. */
int arm_identity_load(struct kumod *k, struct arm_identity *id, char *err, size_t errlen);

/* The subscription and tenant ids from the database ("" if not made yet). */
void arm_identity_ids(struct db *db, char sub[40], char tenant[40]);

/* ---- service principals (under the lock) ---- */

/* Make one; *out = {name, appId, secret, tenantId, subscriptionId,
 * createdAt}. -1 with e (409 AlreadyExists, 400 InvalidField). */
int arm_sp_create(struct db *db, const char *name, json_t **out, struct kerr *e);
/* {name, appId, createdAt, lastTokenAt} of one (by name or appId), or all
 * (NULL) as {"value":[...]}. NULL + e (404) when not found. */
json_t *arm_sp_get(struct db *db, const char *name_or_app, struct kerr *e);
/* Delete (revoke). -1 with e (404). */
int arm_sp_delete(struct db *db, const char *name_or_app, struct kerr *e);
/* The stored secret hash of app_id: false when there is no such principal. */
bool arm_sp_secret(struct db *db, const char *app_id, char salt[64], char hash[96],
                   int64_t *iterations);
/* Does the principal still exist? */
bool arm_sp_exists(struct db *db, const char *app_id);
/* Record that a token was issued. */
void arm_sp_touch(struct db *db, const char *app_id, int64_t now_ms);

/* Does secret match the stored hash? (pure, slow) */
bool arm_secret_matches(const char *secret, const char *salt, const char *hash, int64_t iterations);

/* A signed token for app_id, valid lifetime seconds from now (seconds);
 * issuer is "https://HOST/adfs". malloc'd, or NULL. */
char *arm_token_issue(const struct arm_identity *id, const char *issuer, const char *app_id,
                      int64_t now, int lifetime);

#endif
