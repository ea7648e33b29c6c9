/*
 * db.c - opening kumod's SQLite database, migrating its schema, and the
 * prepare/bind/step helpers the rest of kumod uses (contract in db.h).
 */
#include "cloud/db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db {
    sqlite3 *h;
    int errcode;
    char errmsg[512];
};

static void set_error(struct db *db, const char *what)
{
    db->errcode = sqlite3_errcode(db->h) & 0xff;
    snprintf(db->errmsg, sizeof(db->errmsg), "%s: %s", what, sqlite3_errmsg(db->h));
}

const char *db_errmsg(struct db *db)
{
    return db->errmsg;
}

int db_errcode(struct db *db)
{
    return db->errcode;
}

sqlite3 *db_handle(struct db *db)
{
    return db->h;
}

static int exec_plain(struct db *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        db->errcode = sqlite3_errcode(db->h) & 0xff;
        snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int db_begin(struct db *db)
{
    return exec_plain(db, "BEGIN IMMEDIATE");
}

int db_commit(struct db *db)
{
    if (exec_plain(db, "COMMIT") == 0) return 0;
    char saved[sizeof(db->errmsg)];
    snprintf(saved, sizeof(saved), "%s", db->errmsg);
    int code = db->errcode;
    if (!sqlite3_get_autocommit(db->h)) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    db->errcode = code;
    snprintf(db->errmsg, sizeof(db->errmsg), "%s", saved);
    return -1;
}

int db_commit_lazy(struct db *db)
{
    sqlite3_exec(db->h, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
    int rc = db_commit(db);
    sqlite3_exec(db->h, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    return rc;
}

void db_rollback(struct db *db)
{
    if (!sqlite3_get_autocommit(db->h)) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3_stmt *db_vstmt(struct db *db, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
        set_error(db, "prepare");
        return NULL;
    }
    int i = 1;
    for (const char *f = fmt ? fmt : ""; *f; f++, i++) {
        int rc;
        switch (*f) {
        case 'i': rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
        case 'd': rc = sqlite3_bind_double(st, i, va_arg(ap, double)); break;
        case 'n': rc = sqlite3_bind_null(st, i); break;
        case 't': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
            break;
        }
        default: rc = SQLITE_MISUSE; break;
        }
        if (rc != SQLITE_OK) {
            set_error(db, "bind");
            sqlite3_finalize(st);
            return NULL;
        }
    }
    return st;
}

sqlite3_stmt *db_stmt(struct db *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = db_vstmt(db, sql, fmt, ap);
    va_end(ap);
    return st;
}

int db_exec(struct db *db, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = db_vexec(db, sql, fmt, ap);
    va_end(ap);
    return rc;
}

int db_vexec(struct db *db, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *st = db_vstmt(db, sql, fmt, ap);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    if (rc != SQLITE_DONE) {
        set_error(db, "step");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

int64_t db_int(struct db *db, bool *ok, int64_t dflt, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = db_vstmt(db, sql, fmt, ap);
    va_end(ap);
    if (ok) *ok = st != NULL;
    if (!st) return dflt;
    int64_t v = dflt;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) v = sqlite3_column_int64(st, 0);
    } else if (rc != SQLITE_DONE) {
        set_error(db, "step");
        if (ok) *ok = false;
    }
    sqlite3_finalize(st);
    return v;
}

bool db_text(struct db *db, char *buf, size_t len, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = db_vstmt(db, sql, fmt, ap);
    va_end(ap);
    if (len) buf[0] = 0;
    if (!st) return false;
    bool found = false;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
        found = true;
    }
    sqlite3_finalize(st);
    return found;
}

int64_t db_last_id(struct db *db)
{
    return sqlite3_last_insert_rowid(db->h);
}

int db_changes(struct db *db)
{
    return sqlite3_changes(db->h);
}

const char *db_col_text(sqlite3_stmt *st, int col)
{
    const unsigned char *s = sqlite3_column_text(st, col);
    return s ? (const char *)s : "";
}

bool db_col_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL;
}

int db_schema_version(struct db *db)
{
    return (int)db_int(db, NULL, 0, "SELECT version FROM schema_version", "");
}

int db_integrity_check(struct db *db, char *out, size_t len)
{
    if (!db_text(db, out, len, "PRAGMA integrity_check", "")) {
        snprintf(out, len, "integrity_check failed: %s", db->errmsg);
        return -1;
    }
    return strcmp(out, "ok") == 0 ? 0 : -1;
}

/* Bring the schema up to date, one migration per transaction. */
static int migrate(struct db *db, char *err, size_t errlen)
{
    if (exec_plain(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)") < 0)
        goto fail;
    if (db_int(db, NULL, 0, "SELECT count(*) FROM schema_version", "") == 0 &&
        db_exec(db, "INSERT INTO schema_version (version) VALUES (0)", "") < 0)
        goto fail;
    int version = db_schema_version(db);
    if (version > db_migration_count) {
        snprintf(err, errlen,
                 "the database has schema version %d but this kumod knows only %d: "
                 "use a newer kumod",
                 version, db_migration_count);
        return -1;
    }
    for (int v = version; v < db_migration_count; v++) {
        if (db_begin(db) < 0) goto fail;
        if (exec_plain(db, db_migrations[v]) < 0 ||
            db_exec(db, "UPDATE schema_version SET version = ?", "i", (int64_t)v + 1) < 0) {
            db_rollback(db);
            snprintf(err, errlen, "schema migration %d failed: %s", v + 1, db->errmsg);
            return -1;
        }
        if (db_commit(db) < 0) goto fail;
    }
    return 0;
fail:
    snprintf(err, errlen, "%s", db->errmsg);
    return -1;
}

struct db *db_open(const char *path, char *err, size_t errlen)
{
    struct db *db = calloc(1, sizeof(*db));
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2(
        path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open %s: %s", path,
                 db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        sqlite3_close(db->h);
        free(db);
        return NULL;
    }
    sqlite3_busy_timeout(db->h, 5000);
    sqlite3_extended_result_codes(db->h, 1);
    char mode[32] = "";
    bool memory = strcmp(path, ":memory:") == 0; /* tests: no WAL, nothing to keep */
    if (!db_text(db, mode, sizeof(mode), "PRAGMA journal_mode=WAL", "") ||
        strcmp(mode, memory ? "memory" : "wal") != 0) {
        snprintf(err, errlen, "%s: cannot switch to WAL mode (got '%s'): %s", path, mode,
                 db->errmsg);
        goto fail;
    }
    if (exec_plain(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;") < 0) {
        snprintf(err, errlen, "%s: %s", path, db->errmsg);
        goto fail;
    }
    if (migrate(db, err, errlen) < 0) goto fail;
    return db;
fail:
    sqlite3_close(db->h);
    free(db);
    return NULL;
}

void db_close(struct db *db)
{
    if (!db) return;
    sqlite3_close(db->h);
    free(db);
}
