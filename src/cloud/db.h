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

/* PRAGMA integrity_check: writes "ok" or the first problem to out. 0 if ok. */
int db_integrity_check(struct db *db, char *out, size_t len);

/* Column helpers: text as "" when NULL. */
const char *db_col_text(sqlite3_stmt *st, int col);
bool db_col_null(sqlite3_stmt *st, int col);

#endif
