/*
 * migrate.h — versioned schema migrations (internal to src/store).
 *
 * The migrations are the files src/store/sql/NNN_name.sql, embedded into the
 * binary at build time by scripts/embed-sql (generated build/gen/store_sql.c
 * defines the table below). Migration NNN brings the schema to version NNN;
 * versions start at 1 and have no gaps. A `schema_version` table records
 * each applied version; each migration runs once, inside its own
 * transaction together with its schema_version row, so a crash leaves the
 * database at a whole version.
 */
#ifndef FLOP_STORE_MIGRATE_H
#define FLOP_STORE_MIGRATE_H

#include <stddef.h>

struct err;
struct sqlite3;

/* One embedded migration file. */
struct store_sql_file {
	const char *name; /* "001_init.sql" */
	const char *text; /* the file's bytes, NUL-terminated */
};

/* Defined by the generated build/gen/store_sql.c, sorted by name. */
extern const struct store_sql_file store_sql_files[];
extern const size_t store_sql_count;

/*
 * Applies every pending migration to `db` and writes the resulting version
 * to *version. ERR_UNSUPPORTED when the database is newer than this binary,
 * ERR_INVALID when the embedded list is malformed (bad name, gap).
 */
int store_migrate_sqlite(struct sqlite3 *db, int *version, struct err *e);

/* The schema version recorded in `db` (0 when none). */
int store_migrate_version(struct sqlite3 *db, int *version, struct err *e);

#endif
