/*
 * identity.c - subscription, tenant, signing key and service principals
 * of the ARM endpoint (contract in identity.h).
 */
#include "cloud/arm/identity.h"

#include "cloud/arm/jwt.h"
#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/paths.h"
#include "cloud/timefmt.h"
#include "cloud/token.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

static void rnd(void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom((char *)buf + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) abort(); /* the kernel's CSPRNG is not optional */
        got += (size_t)r;
    }
}

void arm_identity_ids(struct db *db, char sub[40], char tenant[40])
{
    db_text(db, sub, 40, "SELECT value FROM meta WHERE key = 'arm.subscriptionId'", "");
    db_text(db, tenant, 40, "SELECT value FROM meta WHERE key = 'arm.tenantId'", "");
}

int arm_identity_load(struct kumod *k, struct arm_identity *id, char *err, size_t errlen)
{
    char p[PATH_MAX], hex[65];
    path_in_data(k, p, "arm");
    if (path_mkdirs(p) < 0) {
        snprintf(err, errlen, "%s: %s", p, strerror(errno));
        return -1;
    }
    path_in_data(k, p, "arm/signing.key");
    if (token_load(p, hex, err, errlen) < 0) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        id->key[i] = (unsigned char)v;
    }
    int rc = 0;
    kumod_lock(k);
    arm_identity_ids(k->db, id->subscription, id->tenant);
    if (!id->subscription[0] || !id->tenant[0]) {
        arm_guid(id->subscription);
        arm_guid(id->tenant);
        if (db_begin(k->db) < 0 ||
            db_exec(k->db,
                    "INSERT OR REPLACE INTO meta (key, value) VALUES "
                    "('arm.subscriptionId', ?), ('arm.tenantId', ?)",
                    "tt", id->subscription, id->tenant) < 0 ||
            db_commit(k->db) < 0) {
            snprintf(err, errlen, "saving the subscription and tenant ids: %s", db_errmsg(k->db));
            db_rollback(k->db);
            rc = -1;
        }
    }
    kumod_unlock(k);
    return rc;
}

static void hexs(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* PBKDF2-HMAC-SHA256 of secret into hex (64 digits). */
static bool derive(const char *secret, const char *salt, int64_t iterations, char out[65])
{
    unsigned char dk[32];
    gnutls_datum_t key = {(unsigned char *)secret, (unsigned)strlen(secret)};
    gnutls_datum_t s = {(unsigned char *)salt, (unsigned)strlen(salt)};
    if (iterations < 1 || iterations > 10000000) return false;
    if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &s, (unsigned)iterations, dk, sizeof(dk)) < 0)
        return false;
    hexs(dk, sizeof(dk), out);
    return true;
}

bool arm_secret_matches(const char *secret, const char *salt, const char *hash, int64_t iterations)
{
    char got[65];
    if (strlen(secret) > 256 || strlen(hash) != 64 || !derive(secret, salt, iterations, got))
        return false;
    unsigned char diff = 0;
    for (int i = 0; i < 64; i++)
        diff |= (unsigned char)(got[i] ^ hash[i]);
    return diff == 0;
}

static json_t *tj(int64_t ms)
{
    char buf[TIME_STRLEN];
    return json_string(time_format(ms, buf));
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static json_t *row_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s, s:o, s:o}", "name", db_col_text(st, 0), "appId",
                     db_col_text(st, 1), "createdAt", tj(sqlite3_column_int64(st, 2)),
                     "lastTokenAt",
                     db_col_null(st, 3) ? json_null() : tj(sqlite3_column_int64(st, 3)));
}

int arm_sp_create(struct db *db, const char *name, json_t **out, struct kerr *e)
{
    if (!name_ok(name))
        return kerr_invalid(e, "name",
                            "name: '%.64s' is not a service principal name (1 to 64 letters, "
                            "digits, '-', '_' or '.')",
                            name);
    if (db_int(db, NULL, 0, "SELECT count(*) FROM arm_principals WHERE name = ?", "t", name))
        return kerr_conflict(e, "AlreadyExists",
                             "a service principal named '%.64s' already exists (kumo sp delete "
                             "it first, or pick another name)",
                             name);
    char app[37], secret[41], salt[33], hash[65];
    unsigned char raw[30], s[16];
    arm_guid(app);
    rnd(raw, sizeof(raw));
    arm_b64url_encode(raw, sizeof(raw), secret);
    rnd(s, sizeof(s));
    hexs(s, sizeof(s), salt);
    if (!derive(secret, salt, ARM_SP_ITERATIONS, hash))
        return kerr_internal(e, "cannot hash the secret (GnuTLS PBKDF2)");
    int64_t now = time_now_ms();
    if (db_begin(db) < 0 ||
        db_exec(db,
                "INSERT INTO arm_principals (app_id, name, salt, hash, iterations, created_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                "ttttii", app, name, salt, hash, (int64_t)ARM_SP_ITERATIONS, now) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        return kerr_internal(e, "saving the service principal: %s", db_errmsg(db));
    }
    char sub[40], tenant[40];
    arm_identity_ids(db, sub, tenant);
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "name", name, "appId", app, "secret", secret,
                     "tenantId", tenant, "subscriptionId", sub, "createdAt", tj(now));
    return 0;
}

json_t *arm_sp_get(struct db *db, const char *name_or_app, struct kerr *e)
{
    sqlite3_stmt *st =
        name_or_app ? db_stmt(db,
                              "SELECT name, app_id, created_ms, last_token_ms FROM arm_principals "
                              "WHERE name = ? OR app_id = ?",
                              "tt", name_or_app, name_or_app)
                    : db_stmt(db,
                              "SELECT name, app_id, created_ms, last_token_ms FROM arm_principals "
                              "ORDER BY name",
                              "");
    if (!st) {
        kerr_internal(e, "%s", db_errmsg(db));
        return NULL;
    }
    json_t *list = json_array();
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(list, row_json(st));
    sqlite3_finalize(st);
    if (!name_or_app) return json_pack("{s:o}", "value", list);
    json_t *one = json_incref(json_array_get(list, 0));
    json_decref(list);
    if (!one)
        kerr_notfound(e, "service principal '%.64s' not found (kumo sp list shows them)",
                      name_or_app);
    return one;
}

int arm_sp_delete(struct db *db, const char *name_or_app, struct kerr *e)
{
    if (db_begin(db) < 0 || db_exec(db, "DELETE FROM arm_principals WHERE name = ? OR app_id = ?",
                                    "tt", name_or_app, name_or_app) < 0) {
        db_rollback(db);
        return kerr_internal(e, "%s", db_errmsg(db));
    }
    int n = db_changes(db);
    if (db_commit(db) < 0) {
        db_rollback(db);
        return kerr_internal(e, "%s", db_errmsg(db));
    }
    if (n == 0)
        return kerr_notfound(e, "service principal '%.64s' not found (kumo sp list shows them)",
                             name_or_app);
    return 0;
}

bool arm_sp_secret(struct db *db, const char *app_id, char salt[64], char hash[96],
                   int64_t *iterations)
{
    sqlite3_stmt *st = db_stmt(
        db, "SELECT salt, hash, iterations FROM arm_principals WHERE app_id = ?", "t", app_id);
    bool found = st && sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        snprintf(salt, 64, "%s", db_col_text(st, 0));
        snprintf(hash, 96, "%s", db_col_text(st, 1));
        *iterations = sqlite3_column_int64(st, 2);
    }
    if (st) sqlite3_finalize(st);
    return found;
}

bool arm_sp_exists(struct db *db, const char *app_id)
{
    return db_int(db, NULL, 0, "SELECT count(*) FROM arm_principals WHERE app_id = ?", "t",
                  app_id) > 0;
}

void arm_sp_touch(struct db *db, const char *app_id, int64_t now_ms)
{
    /* bookkeeping only: a lazy commit is enough */
    if (db_begin(db) < 0) return;
    if (db_exec(db, "UPDATE arm_principals SET last_token_ms = ? WHERE app_id = ?", "it", now_ms,
                app_id) < 0 ||
        db_commit_lazy(db) < 0)
        db_rollback(db);
}

char *arm_token_issue(const struct arm_identity *id, const char *issuer, const char *app_id,
                      int64_t now, int lifetime)
{
    char jti[37];
    arm_guid(jti);
    json_t *c =
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "aud",
                  ARM_AUDIENCE, "iss", issuer, "iat", (json_int_t)now, "nbf", (json_int_t)now,
                  "exp", (json_int_t)(now + lifetime), "tid", id->tenant, "oid", app_id, "sub",
                  app_id, "appid", app_id, "idtyp", "app", "ver", "1.0", "jti", jti);
    char *t = c ? arm_jwt_sign(id->key, sizeof(id->key), c) : NULL;
    json_decref(c);
    return t;
}
