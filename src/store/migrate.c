/*
 * migrate.c — applies the embedded schema migrations to a SQLite database.
 *
 * Each pending migration runs in its own BEGIN IMMEDIATE transaction that
 * also inserts its schema_version row, so two processes opening the same
 * new database at once serialise on the write lock and the second finds the
 * work done (the version is re-read inside the transaction). A database
 * whose version is above the newest embedded migration belongs to a newer
 * binary: ERR_UNSUPPORTED, nothing touched. The SQL run here is the
 * embedded files only, never text from outside.
 */
#include "store/migrate.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"

#define MIGRATE_VERSION_MAX 999

static int db_err(sqlite3 *db, struct err *e, const char *what)
{
	return err_set(e, ERR_IO, "migrate: %s: %s", what, sqlite3_errmsg(db));
}

/* Version number of "NNN_name.sql", or -1. */
static int file_version(const char *name)
{
	if (!name || strlen(name) < 9)
		return -1;
	for (int i = 0; i < 3; i++)
		if (name[i] < '0' || name[i] > '9')
			return -1;
	if (name[3] != '_')
		return -1;
	return (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
}

static int ensure_table(sqlite3 *db, struct err *e)
{
	const char *sql = "CREATE TABLE IF NOT EXISTS schema_version ("
			  " version INTEGER PRIMARY KEY,"
			  " name TEXT NOT NULL,"
			  " applied_at INTEGER NOT NULL) STRICT";
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, e, "create schema_version");
	return 0;
}

int store_migrate_version(sqlite3 *db, int *version, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc, v = 0;

	rc = sqlite3_prepare_v2(db,
				"SELECT count(*) FROM sqlite_schema"
				" WHERE type = 'table' AND name = 'schema_version'",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_err(db, e, "read version");
	rc = sqlite3_step(st);
	int exists = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (exists < 0)
		return db_err(db, e, "read version");
	if (exists) {
		if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version",
				       -1, &st, NULL) != SQLITE_OK)
			return db_err(db, e, "read version");
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW)
			return db_err(db, e, "read version");
	}
	*version = v;
	return 0;
}

/* Applies migration `f` (version v) unless already applied; in one transaction. */
static int apply_one(sqlite3 *db, const struct store_sql_file *f, int v, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int cur, rc;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, e, "begin");
	if ((rc = store_migrate_version(db, &cur, e)))
		goto fail;
	if (cur >= v) { /* another process did it meanwhile */
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	if (sqlite3_exec(db, f->text, NULL, NULL, NULL) != SQLITE_OK) {
		rc = err_set(e, ERR_IO, "migrate: %s: %s", f->name, sqlite3_errmsg(db));
		goto fail;
	}
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO schema_version(version, name, applied_at)"
			       " VALUES (?1, ?2, ?3)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(db, e, "record version");
		goto fail;
	}
	sqlite3_bind_int(st, 1, v);
	sqlite3_bind_text(st, 2, f->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		rc = db_err(db, e, "record version");
		goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_err(db, e, "commit");
		goto fail;
	}
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int store_migrate_sqlite(sqlite3 *db, int *version, struct err *e)
{
	int cur, rc, newest = (int)store_sql_count;

	/* The embedded list must be 001, 002, ... with no gap. */
	for (size_t i = 0; i < store_sql_count; i++)
		if (file_version(store_sql_files[i].name) != (int)i + 1)
			return err_set(e, ERR_INVALID, "migrate: embedded file %zu (%s) is not version %zu",
				       i, store_sql_files[i].name ? store_sql_files[i].name : "?",
				       i + 1);
	if (newest > MIGRATE_VERSION_MAX)
		return err_set(e, ERR_TOO_BIG, "migrate: too many migrations");
	if ((rc = store_migrate_version(db, &cur, e)))
		return rc;
	if (cur > newest)
		return err_set(e, ERR_UNSUPPORTED,
			       "migrate: database schema version %d is newer than this binary's %d",
			       cur, newest);
	if (cur < newest && (rc = ensure_table(db, e)))
		return rc;
	for (int v = cur + 1; v <= newest; v++)
		if ((rc = apply_one(db, &store_sql_files[v - 1], v, e)))
			return rc;
	if ((rc = store_migrate_version(db, &cur, e)))
		return rc;
	*version = cur;
	return 0;
}
