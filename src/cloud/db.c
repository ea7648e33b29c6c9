/*
 * db.c - opening kumod's SQLite database, migrating its schema, and the
 * prepare/bind/step helpers the rest of kumod uses (contract in db.h).
 */
/* the session extension (Debian's libsqlite3 is built with it) */
#define SQLITE_ENABLE_SESSION 1
#define SQLITE_ENABLE_PREUPDATE_HOOK 1
#include "cloud/db.h"

#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db {
    sqlite3 *h;
    int errcode;
    char errmsg[512];
    const struct db_replicator *repl; /* cluster mode, or NULL */
    sqlite3_session *session;         /* the open transaction's changes (cluster mode) */
    bool replicating;                 /* a replicated transaction is open */
    bool local_commit;                /* a commit db.c itself makes (not a stray write) */
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

/* Tables the session records: all but this host's own bookkeeping. */
static int session_filter(void *opaque, const char *table)
{
    (void)opaque;
    return strcmp(table, "cluster_local") != 0 && strncmp(table, "sqlite_", 7) != 0;
}

static void end_replicated(struct db *db, bool committed)
{
    if (!db->replicating) return;
    if (db->session) sqlite3session_delete(db->session);
    db->session = NULL;
    db->replicating = false;
    db->repl->end(db->repl->opaque, committed);
}

int db_begin(struct db *db)
{
    if (!db->repl) return exec_plain(db, "BEGIN IMMEDIATE");
    if (!sqlite3_get_autocommit(db->h)) {
        db->errcode = SQLITE_MISUSE;
        snprintf(db->errmsg, sizeof(db->errmsg), "a transaction is already open");
        return -1;
    }
    char err[sizeof(db->errmsg)];
    if (db->repl->begin(db->repl->opaque, err, sizeof(err)) < 0) {
        db->errcode = SQLITE_BUSY;
        snprintf(db->errmsg, sizeof(db->errmsg), "%s", err);
        return -1;
    }
    db->replicating = true;
    if (exec_plain(db, "BEGIN IMMEDIATE") < 0) {
        end_replicated(db, false);
        return -1;
    }
    if (sqlite3session_create(db->h, "main", &db->session) != SQLITE_OK ||
        (sqlite3session_table_filter(db->session, session_filter, NULL),
         sqlite3session_attach(db->session, NULL) != SQLITE_OK)) {
        set_error(db, "session");
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        end_replicated(db, false);
        return -1;
    }
    return 0;
}

/* The changeset of the open replicated transaction goes to the cluster;
 * 0 when it was accepted (or was empty). */
static int replicate(struct db *db)
{
    int n = 0;
    void *cs = NULL;
    if (sqlite3session_changeset(db->session, &n, &cs) != SQLITE_OK) {
        set_error(db, "changeset");
        return -1;
    }
    char err[sizeof(db->errmsg)];
    int rc = db->repl->commit(db->repl->opaque, cs, n, err, sizeof(err));
    sqlite3_free(cs);
    if (rc < 0) {
        db->errcode = SQLITE_ABORT;
        snprintf(db->errmsg, sizeof(db->errmsg), "%s", err);
    }
    return rc;
}

int db_commit(struct db *db)
{
    bool repl = db->replicating;
    if (repl && replicate(db) < 0) {
        char saved[sizeof(db->errmsg)];
        snprintf(saved, sizeof(saved), "%s", db->errmsg);
        int code = db->errcode;
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        end_replicated(db, false);
        db->errcode = code;
        snprintf(db->errmsg, sizeof(db->errmsg), "%s", saved);
        return -1;
    }
    db->local_commit = true;
    int rc = exec_plain(db, "COMMIT");
    db->local_commit = false;
    if (rc == 0) {
        end_replicated(db, true);
        return 0;
    }
    char saved[sizeof(db->errmsg)];
    snprintf(saved, sizeof(saved), "%s", db->errmsg);
    int code = db->errcode;
    if (!sqlite3_get_autocommit(db->h)) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    /* replicated: the entry is in the log; this host applies it from there */
    end_replicated(db, false);
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
    end_replicated(db, false);
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

static int vexec(struct db *db, const char *sql, const char *fmt, va_list ap);

/* Does sql change the database? */
static bool writes(struct db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return false;
    bool w = st && !sqlite3_stmt_readonly(st);
    sqlite3_finalize(st);
    return w;
}

int db_vexec(struct db *db, const char *sql, const char *fmt, va_list ap)
{
    if (db->repl && sqlite3_get_autocommit(db->h) && writes(db, sql)) {
        /* cluster mode: a lone write is a transaction of its own */
        if (db_begin(db) < 0) return -1;
        va_list cp;
        va_copy(cp, ap);
        int rc = vexec(db, sql, fmt, cp);
        va_end(cp);
        if (rc < 0) {
            char saved[sizeof(db->errmsg)];
            snprintf(saved, sizeof(saved), "%s", db->errmsg);
            db_rollback(db);
            snprintf(db->errmsg, sizeof(db->errmsg), "%s", saved);
            return -1;
        }
        return db_commit(db);
    }
    return vexec(db, sql, fmt, ap);
}

static int vexec(struct db *db, const char *sql, const char *fmt, va_list ap)
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

/* Cluster mode: a commit that db.c did not make is a write that escaped the
 * log (a caller stepping a writing statement outside a transaction). It
 * is let through, but said loudly: that is a bug to fix. */
static int stray_commit(void *opaque)
{
    struct db *db = opaque;
    if (db->repl && !db->local_commit)
        log_error("db: a write outside a transaction was committed without replication "
                  "(a bug: wrap it in db_begin/db_commit)");
    return 0;
}

void db_set_replicator(struct db *db, const struct db_replicator *r)
{
    db->repl = r;
    sqlite3_commit_hook(db->h, r ? stray_commit : NULL, db);
}

bool db_replicated(struct db *db)
{
    return db->repl != NULL;
}

static int conflict(void *opaque, int why, sqlite3_changeset_iter *it)
{
    (void)opaque;
    (void)it;
    switch (why) {
    case SQLITE_CHANGESET_DATA:
    case SQLITE_CHANGESET_CONFLICT: return SQLITE_CHANGESET_REPLACE;
    case SQLITE_CHANGESET_NOTFOUND: return SQLITE_CHANGESET_OMIT;
    case SQLITE_CHANGESET_FOREIGN_KEY: return SQLITE_CHANGESET_OMIT;
    default: return SQLITE_CHANGESET_ABORT; /* a constraint: the replica disagrees */
    }
}

int db_apply_changeset(struct db *db, const void *cs, int n, const char *after_sql,
                       int64_t after_arg, char *tables, size_t tables_len)
{
    if (tables && tables_len) tables[0] = 0;
    if (tables) { /* which tables, for the caller's after-apply work */
        sqlite3_changeset_iter *it;
        size_t used = 0;
        if (n > 0 && sqlite3changeset_start(&it, n, (void *)cs) == SQLITE_OK) {
            while (sqlite3changeset_next(it) == SQLITE_ROW) {
                const char *tab;
                int ncol, op, ind;
                char needle[96];
                if (sqlite3changeset_op(it, &tab, &ncol, &op, &ind) != SQLITE_OK) break;
                snprintf(needle, sizeof(needle), ",%s,", tab);
                if (used && strstr(tables, needle)) continue;
                int w = snprintf(tables + used, tables_len - used, "%s", used ? needle + 1 : needle);
                if (w > 0 && (size_t)w < tables_len - used) used += (size_t)w;
            }
            sqlite3changeset_finalize(it);
        }
    }
    if (exec_plain(db, "BEGIN IMMEDIATE") < 0) return -1;
    if (n > 0 && sqlite3changeset_apply(db->h, n, (void *)cs, NULL, conflict, NULL) != SQLITE_OK) {
        set_error(db, "applying a changeset");
        sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (after_sql) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db->h, after_sql, -1, &st, NULL) != SQLITE_OK ||
            sqlite3_bind_int64(st, 1, after_arg) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE) {
            set_error(db, "applying a changeset");
            sqlite3_finalize(st);
            sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        sqlite3_finalize(st);
    }
    db->local_commit = true;
    int rc = exec_plain(db, "COMMIT");
    db->local_commit = false;
    if (rc < 0) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

void db_close(struct db *db)
{
    if (!db) return;
    if (db->session) sqlite3session_delete(db->session);
    sqlite3_close(db->h);
    free(db);
}
