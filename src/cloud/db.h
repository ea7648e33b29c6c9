/*
 * db.h - kumod's SQLite database: opening it (WAL, foreign keys, full
 * synchronous commits), applying the schema migrations of schema.c in order
 * (a version table records the last one applied), and small helpers that
 * prepare, bind and step statements.
 *
 * Contract:
 *  - One connection, used under the caller's lock (struct kumod.lock); the
 *    helpers themselves take no lock.
 *  - A commit that returned 0 is durable: WAL with synchronous=FULL, so a
 *    kill -9 (or power loss) right after it loses nothing.
 *  - Bind formats: one character per parameter, in order:
 *      'i' int64_t   't' const char * (NULL binds NULL)   'd' double
 *      'n' NULL (takes no argument)
 *  - On failure the helpers return -1 (or NULL) and db_errmsg() / db_errcode()
 *    say why; SQLITE_CONSTRAINT means a uniqueness or foreign key check
 *    refused the change.
 */
#ifndef KUMO_CLOUD_DB_H
#define KUMO_CLOUD_DB_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* The migrations (schema.c): migration i (0-based) brings the schema from
 * version i to i + 1. Never edit one that has shipped: append. */
extern const char *const db_migrations[];
extern const int db_migration_count;

/* path ":memory:" opens an in-memory database (the unit tests' state; no
 * WAL, nothing durable). */
struct db *db_open(const char *path, char *err, size_t errlen);
void db_close(struct db *db);
sqlite3 *db_handle(struct db *db);

int db_schema_version(struct db *db);

/* BEGIN IMMEDIATE (takes the write lock at once) / COMMIT / ROLLBACK. */
int db_begin(struct db *db);
int db_commit(struct db *db);
/* COMMIT without waiting for the disk (synchronous=NORMAL for this commit):
 * survives a kill -9 of kumod (the WAL is in the kernel's page cache), not
 * necessarily a power loss. For changes nobody has been told about yet and
 * that are redone if lost (a job's intermediate states, metrics samples);
 * the next full commit makes them durable too (the WAL is sequential). */
int db_commit_lazy(struct db *db);
void db_rollback(struct db *db);

/* Prepare and bind; NULL on error. The caller steps and finalizes. */
sqlite3_stmt *db_stmt(struct db *db, const char *sql, const char *fmt, ...);
/* Prepare, bind, step to completion. 0 or -1. */
int db_exec(struct db *db, const char *sql, const char *fmt, ...);
/* The same with the parameters in a va_list (for variadic callers). */
sqlite3_stmt *db_vstmt(struct db *db, const char *sql, const char *fmt, va_list ap);
int db_vexec(struct db *db, const char *sql, const char *fmt, va_list ap);
/* First column of the first row as an integer; dflt when there is no row or
 * it is NULL; *ok (if given) is false on an SQL error. */
int64_t db_int(struct db *db, bool *ok, int64_t dflt, const char *sql, const char *fmt, ...);
/* First column of the first row as text, copied into buf ("" when none).
 * Returns true when a non-NULL value was found. */
bool db_text(struct db *db, char *buf, size_t len, const char *sql, const char *fmt, ...);
int64_t db_last_id(struct db *db);
int db_changes(struct db *db);

const char *db_errmsg(struct db *db);
int db_errcode(struct db *db); /* primary result code of the last failure */

/* ---- replication (cluster mode, docs/cluster.md) ----
 *
 * With a replicator set, every write transaction is the cluster's: before
 * BEGIN, begin() takes the cluster's write lock and brings this database
 * up to date (it may call db_apply_changeset); the transaction's changes
 * are recorded (an SQLite session over every table but cluster_local);
 * before COMMIT, commit() gets the changeset (n 0: nothing changed) and
 * makes it the cluster's, or refuses (the local transaction then rolls
 * back and db_commit fails with its message); end() follows COMMIT or
 * ROLLBACK. A single writing statement outside a transaction (db_exec) is
 * wrapped in one. Without a replicator (single-host mode) none of this
 * happens. */
struct db_replicator {
    void *opaque;
    int (*begin)(void *opaque, char *err, size_t errlen);
    int (*commit)(void *opaque, const void *changeset, int n, char *err, size_t errlen);
    void (*end)(void *opaque, bool committed);
};
void db_set_replicator(struct db *db, const struct db_replicator *r);
bool db_replicated(struct db *db);
/* Apply another host's changeset (no transaction open): in a transaction
 * of its own that also runs after_sql with the integer after_arg (the
 * applied index), without replicating it. Conflicts (a row that differs,
 * is missing or exists) take the changeset's values: the log is the truth.
 * tables (may be NULL): the tables it touched, as ",vms,nics,". 0 or -1. */
int db_apply_changeset(struct db *db, const void *cs, int n, const char *after_sql,
                       int64_t after_arg, char *tables, size_t tables_len);

/* PRAGMA integrity_check: writes "ok" or the first problem to out. 0 if ok. */
int db_integrity_check(struct db *db, char *out, size_t len);

/* Column helpers: text as "" when NULL. */
const char *db_col_text(sqlite3_stmt *st, int col);
bool db_col_null(sqlite3_stmt *st, int col);

#endif
