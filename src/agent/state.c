/*
 * state.c — the agent's state database (agent.db, SQLite, WAL, synchronous=FULL): the schema and its
 * versioned migrations (meta('schema')), the agent's instance id, and every read and write the loop,
 * the watcher, the lifecycle, the claims and the HTTP endpoint make of it, by name. Also the state
 * directory itself (0700) and the modes of its files (0600). Call with a->mu held unless noted.
 */
#include "agent/state.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "core/log.h"

#include <assert.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define AGENT_DB_NAME "agent.db"


static const char *SCHEMA =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS rentals("
	" id INTEGER PRIMARY KEY, terms BLOB NOT NULL, word BLOB NOT NULL,"
	" closed INTEGER NOT NULL DEFAULT 0, opened_block INTEGER NOT NULL DEFAULT 0,"
	" done INTEGER NOT NULL DEFAULT 0, ssh_key TEXT, key_applied INTEGER NOT NULL DEFAULT 0,"
	" access_reported INTEGER NOT NULL DEFAULT 0, claim_nonce INTEGER NOT NULL DEFAULT -1,"
	" last_claim_ms INTEGER NOT NULL DEFAULT 0, warned INTEGER NOT NULL DEFAULT 0);"
	/* keyed by (rental, signer): nobody can displace the renter's pending key with their own */
	"CREATE TABLE IF NOT EXISTS pending_keys("
	" id INTEGER NOT NULL, signer BLOB NOT NULL, ssh_key TEXT NOT NULL, at_ms INTEGER NOT NULL,"
	" PRIMARY KEY(id, signer));";

/*
 * Versioned changes to the schema above, applied once each, in order, inside one transaction each;
 * meta('schema') holds the last applied version. Append only.
 */
static const char *const MIGRATIONS[] = {
	/* 1: SSH keys carry the time the renter signed them (issue 8.9: an older one never wins) */
	"ALTER TABLE rentals ADD COLUMN key_issued_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE pending_keys ADD COLUMN issued_ms INTEGER NOT NULL DEFAULT 0;",
	/* 2: the instance image the renter chose with the key (issue 12); "" is the provider's default */
	"ALTER TABLE rentals ADD COLUMN image TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE pending_keys ADD COLUMN image TEXT NOT NULL DEFAULT '';",
};
#define N_MIGRATIONS (sizeof MIGRATIONS / sizeof MIGRATIONS[0])

static int64_t meta_get(sqlite3 *db, const char *k, int64_t dflt)
{
	sqlite3_stmt *st = NULL;
	int64_t v = dflt;

	if (sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return v;
}

static int meta_set(sqlite3 *db, const char *k, int64_t v)
{
	sqlite3_stmt *st = NULL;
	int rc = ERR_IO;

	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, v);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ERR_IO;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Applies the pending MIGRATIONS. */
static int db_migrate(sqlite3 *db, struct err *e)
{
	for (size_t v = (size_t)meta_get(db, "schema", 0); v < N_MIGRATIONS; v++) {
		char *msg = NULL;
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, MIGRATIONS[v], NULL, NULL, &msg) != SQLITE_OK ||
		    meta_set(db, "schema", (int64_t)v + 1) ||
		    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			err_set(e, ERR_IO, "agent db migration %zu: %s", v + 1, msg ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return ERR_IO;
		}
	}
	return 0;
}

/* This agent's random instance id (made on first start, kept in meta): scopes its account names. */
static int db_instance(char out[ACCOUNT_INSTANCE_MAX + 1], sqlite3 *db, struct err *e)
{
	int64_t v = meta_get(db, "instance", 0);

	if (v == 0) {
		uint64_t r = 0;
		while (r == 0 || r > INT64_MAX)
			randombytes_buf(&r, sizeof r);
		v = (int64_t)r;
		if (meta_set(db, "instance", v))
			return err_set(e, ERR_IO, "agent db: cannot store the instance id");
	}
	snprintf(out, ACCOUNT_INSTANCE_MAX + 1, "%016llx", (unsigned long long)v);
	return 0;
}

/* ------------------------------------------------------------------ state db */

/* Runs one statement binding ?1 = v and ?2 = id (when it has them). */
static int db_exec(struct agent *a, const char *sql, int64_t v, uint64_t id, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_int64(st, 1, v);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	return 0;
}

/* One statement per mark, indexed by enum state_mark. */
static const char *const MARK_SQL[] = {
	[STATE_MARK_CLOSED] = "UPDATE rentals SET closed = 1 WHERE id = ?2",
	[STATE_MARK_DONE] = "UPDATE rentals SET done = 1 WHERE id = ?2",
	[STATE_MARK_KEY_APPLIED] = "UPDATE rentals SET key_applied = 1 WHERE id = ?2",
	[STATE_MARK_ACCESS_REPORTED] = "UPDATE rentals SET access_reported = 1 WHERE id = ?2",
};
_Static_assert(sizeof MARK_SQL / sizeof MARK_SQL[0] == STATE_MARK_COUNT, "one statement per mark");

int state_mark(struct agent *a, uint64_t id, enum state_mark m, struct err *e)
{
	assert(m >= 0 && m < STATE_MARK_COUNT);
	return db_exec(a, MARK_SQL[m], 0, id, e);
}

int state_set_claim_nonce(struct agent *a, uint64_t id, int64_t nonce)
{
	return db_exec(a, "UPDATE rentals SET claim_nonce = ?1 WHERE id = ?2", nonce, id, NULL);
}

int state_set_last_claim(struct agent *a, uint64_t id, int64_t wall_ms)
{
	return db_exec(a, "UPDATE rentals SET last_claim_ms = ?1 WHERE id = ?2", wall_ms, id, NULL);
}

int state_set_warned(struct agent *a, uint64_t id, unsigned warned)
{
	return db_exec(a, "UPDATE rentals SET warned = ?1 WHERE id = ?2", warned, id, NULL);
}

int state_begin(struct agent *a, struct err *e)
{
	if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	return 0;
}

int state_commit(struct agent *a, struct err *e)
{
	if (sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return err_set(e, ERR_IO, "agent db commit: %s", sqlite3_errmsg(a->db));
	return 0;
}

void state_rollback(struct agent *a)
{
	sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
}

uint64_t state_next_block(struct agent *a, uint64_t dflt)
{
	int64_t v = meta_get(a->db, "next_block", -1);
	return v < 0 ? dflt : (uint64_t)v;
}

int state_set_next_block(struct agent *a, uint64_t next, struct err *e)
{
	if (meta_set(a->db, "next_block", (int64_t)next))
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	return 0;
}

int state_rental_add(struct agent *a, uint64_t id, const uint8_t terms[ESCROW_TERMS_SIZE],
		     const uint8_t word[32], uint64_t block, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	/* last_claim_ms starts at the first sight: the first claim waits one claim interval too, so a
	 * provider who asked for daily claims does not pay gas for the first second's accrual */
	if (sqlite3_prepare_v2(a->db, "INSERT OR IGNORE INTO rentals(id, terms, word, opened_block, last_claim_ms)"
				      " VALUES(?1, ?2, ?3, ?4, ?5)", -1, &st, NULL) != SQLITE_OK)
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_blob(st, 2, terms, ESCROW_TERMS_SIZE, SQLITE_TRANSIENT);
	sqlite3_bind_blob(st, 3, word, 32, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)block);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)clock_wall_ms());
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	sqlite3_finalize(st);
	return rc;
}

int state_rental_set_word(struct agent *a, uint64_t id, const uint8_t word[32], bool *followed,
			  struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	*followed = false;
	if (sqlite3_prepare_v2(a->db, "UPDATE rentals SET word = ?2 WHERE id = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_blob(st, 2, word, 32, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	else
		*followed = sqlite3_changes(a->db) > 0;
	sqlite3_finalize(st);
	return rc;
}

/* Puts key (signed at issued_ms, with its image) on rental id, to be applied by the lifecycle. */
static void rental_set_key(struct agent *a, uint64_t id, const char *key, const char *image, int64_t issued_ms)
{
	sqlite3_stmt *up = NULL;

	if (sqlite3_prepare_v2(a->db, "UPDATE rentals SET ssh_key = ?2, key_applied = 0,"
				      " key_issued_ms = ?3, image = ?4 WHERE id = ?1", -1, &up, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(up, 1, (sqlite3_int64)id);
		sqlite3_bind_text(up, 2, key, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(up, 3, issued_ms);
		sqlite3_bind_text(up, 4, image ? image : "", -1, SQLITE_TRANSIENT);
		sqlite3_step(up);
	}
	sqlite3_finalize(up);
}

int state_attach_pending_key(struct agent *a, uint64_t id, const struct eth_address *renter,
			     unsigned *dropped)
{
	sqlite3_stmt *st = NULL;
	int attached = 0;

	*dropped = 0;
	if (sqlite3_prepare_v2(a->db, "SELECT ssh_key, issued_ms, image FROM pending_keys WHERE id = ?1 AND signer = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_blob(st, 2, renter->b, 20, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		rental_set_key(a, id, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 2),
			       sqlite3_column_int64(st, 1));
		attached = 1;
	}
	sqlite3_finalize(st);
	db_exec(a, "DELETE FROM pending_keys WHERE id = ?2", 0, id, NULL);
	if (sqlite3_changes(a->db) > attached)
		*dropped = (unsigned)(sqlite3_changes(a->db) - attached);
	return attached;
}

int state_unreported(struct agent *a, uint64_t *ids, size_t max, size_t *n, struct err *e)
{
	sqlite3_stmt *st = NULL;

	*n = 0;
	if (sqlite3_prepare_v2(a->db, "SELECT id FROM rentals WHERE access_reported = 0 AND key_applied = 1"
				      " AND done = 0 AND closed = 0 ORDER BY id LIMIT ?1", -1, &st, NULL) != SQLITE_OK)
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while (*n < max && sqlite3_step(st) == SQLITE_ROW)
		ids[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

enum state_access state_access_of(struct agent *a, uint64_t id)
{
	sqlite3_stmt *st = NULL;
	enum state_access s = STATE_ACCESS_UNKNOWN;

	if (sqlite3_prepare_v2(a->db, "SELECT closed, done, ssh_key IS NOT NULL FROM rentals WHERE id = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return s;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 0) || sqlite3_column_int(st, 1))
			s = STATE_ACCESS_ENDED;
		else
			s = sqlite3_column_int(st, 2) ? STATE_ACCESS_KEYED : STATE_ACCESS_WAITING_KEY;
		sqlite3_finalize(st);
		return s;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(a->db, "SELECT 1 FROM pending_keys WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		if (sqlite3_step(st) == SQLITE_ROW)
			s = STATE_ACCESS_KEYED;
	}
	sqlite3_finalize(st);
	return s;
}

int state_live_terms(struct agent *a, uint64_t id, struct escrow_terms *out)
{
	sqlite3_stmt *st = NULL;
	int rc = ERR_NOT_FOUND;

	if (sqlite3_prepare_v2(a->db, "SELECT terms FROM rentals WHERE id = ?1 AND closed = 0 AND done = 0",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == ESCROW_TERMS_SIZE &&
	    !escrow_terms_decode(out, sqlite3_column_blob(st, 0), ESCROW_TERMS_SIZE, NULL))
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

void state_rows_free(struct agent_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		free(rows[i].ssh_key);
	free(rows);
}

int state_rows(struct agent *a, struct agent_row **out, size_t *n, bool include_finished,
		  struct err *e)
{
	const char *sql =
		"SELECT id, terms, word, closed, opened_block, done, ssh_key, key_applied,"
		" access_reported, claim_nonce, last_claim_ms, warned, image FROM rentals"
		" WHERE ?1 OR done = 0 OR closed = 0 ORDER BY id LIMIT ?2";
	sqlite3_stmt *st = NULL;
	struct agent_row *rows = NULL;
	size_t cnt = 0;
	int rc = 0;

	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	sqlite3_bind_int(st, 1, include_finished ? 1 : 0);
	sqlite3_bind_int(st, 2, AGENT_RENTALS_MAX);
	rows = calloc(AGENT_RENTALS_MAX, sizeof *rows);
	if (!rows) {
		sqlite3_finalize(st);
		return err_set(e, ERR_NOMEM, "agent db: out of memory");
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct agent_row *w = &rows[cnt];
		const void *tb = sqlite3_column_blob(st, 1);
		const void *wb = sqlite3_column_blob(st, 2);
		const unsigned char *key = sqlite3_column_text(st, 6);

		if (!tb || sqlite3_column_bytes(st, 1) != ESCROW_TERMS_SIZE || !wb ||
		    sqlite3_column_bytes(st, 2) != 32 ||
		    escrow_terms_decode(&w->r.t, tb, ESCROW_TERMS_SIZE, e)) {
			rc = err_set(e, ERR_IO, "agent db: rental %lld is damaged",
				     (long long)sqlite3_column_int64(st, 0));
			break;
		}
		w->r.id = (uint64_t)sqlite3_column_int64(st, 0);
		u256_from_be32(&w->r.word, wb);
		w->r.closed = sqlite3_column_int(st, 3) != 0;
		w->r.opened_block = (uint64_t)sqlite3_column_int64(st, 4);
		w->done = sqlite3_column_int(st, 5) != 0;
		if (key) {
			w->ssh_key = strdup((const char *)key);
			if (!w->ssh_key) {
				rc = err_set(e, ERR_NOMEM, "agent db: out of memory");
				break;
			}
			w->has_key = true;
		}
		w->key_applied = sqlite3_column_int(st, 7) != 0;
		w->access_reported = sqlite3_column_int(st, 8) != 0;
		w->claim_nonce = sqlite3_column_int64(st, 9);
		w->last_claim_ms = sqlite3_column_int64(st, 10);
		w->warned = (unsigned)sqlite3_column_int(st, 11);
		snprintf(w->image, sizeof w->image, "%s",
			 sqlite3_column_text(st, 12) ? (const char *)sqlite3_column_text(st, 12) : "");
		cnt++;
	}
	sqlite3_finalize(st);
	if (rc) {
		state_rows_free(rows, cnt);
		return rc;
	}
	*out = rows;
	*n = cnt;
	return 0;
}


int state_open(struct agent *a, struct err *e)
{
	char path[ACCOUNT_PATH_MAX + 32];
	char *msg = NULL;

	snprintf(path, sizeof path, "%s/%s", a->cfg.data_dir, AGENT_DB_NAME);
	if (sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		err_set(e, ERR_IO, "agent db %s: %s", path, a->db ? sqlite3_errmsg(a->db) : "cannot open");
		sqlite3_close(a->db);
		a->db = NULL;
		return ERR_IO;
	}
	sqlite3_busy_timeout(a->db, 5000);
	if (sqlite3_exec(a->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, ERR_IO, "agent db %s: %s", path, msg ? msg : "schema");
		sqlite3_free(msg);
		return ERR_IO;
	}
	if (db_migrate(a->db, e) || db_instance(a->instance, a->db, e))
		return ERR_IO;
	state_restrict_db(path); /* after the first writes: the -wal and -shm files exist now */
	return 0;
}

void agent_wake(struct agent *a)
{
	a->wake = true;
	pthread_cond_signal(&a->cv);
}

/* Finds rental `id` in the db: 1 found (renter, ended written), 0 not, <0 error. Under mu. */
int state_rental_renter(struct agent *a, uint64_t id, struct eth_address *renter, bool *ended)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(a->db, "SELECT terms, closed, done FROM rentals WHERE id = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		struct escrow_terms t;
		if (sqlite3_column_bytes(st, 0) == ESCROW_TERMS_SIZE &&
		    !escrow_terms_decode(&t, sqlite3_column_blob(st, 0), ESCROW_TERMS_SIZE, NULL)) {
			*renter = t.renter;
			*ended = sqlite3_column_int(st, 1) || sqlite3_column_int(st, 2);
			rc = 1;
		} else {
			rc = ERR_IO;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/* The newest issued_ms already accepted for (rental, signer): the rental's, else the pending one's. */
static int64_t key_issued_seen(struct agent *a, uint64_t id, const struct eth_address *signer, bool found)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	const char *sql = found ? "SELECT key_issued_ms FROM rentals WHERE id = ?1"
				: "SELECT issued_ms FROM pending_keys WHERE id = ?1 AND signer = ?2";

	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		if (!found)
			sqlite3_bind_blob(st, 2, signer->b, 20, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return v;
}

static int64_t db_count(struct agent *a, const char *sql, uint64_t id)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_bind_parameter_count(st) >= 1)
			sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	return v;
}

/*
 * Stores a verified key for rental `id`: on the rental when the agent follows it (found), else as a
 * pending key of (id, signer). Returns an HTTP status: 202 stored, 409 not newer than the one held,
 * 429 pending slots full, 503 state unavailable. Under mu.
 */
int state_key_store(struct agent *a, uint64_t id, const struct eth_address *signer, bool found,
		     const char *line, const char *image, int64_t issued_ms)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (issued_ms <= key_issued_seen(a, id, signer, found))
		return 409;
	if (!found) {
		int64_t now = (int64_t)clock_wall_ms();
		db_exec(a, "DELETE FROM pending_keys WHERE at_ms < ?1", now - AGENT_KEY_MAX_AGE_MS, 0, NULL);
		int64_t here = db_count(a, "SELECT count(*) FROM pending_keys WHERE id = ?1", id);
		int64_t all = db_count(a, "SELECT count(*) FROM pending_keys", 0);
		bool replaces = key_issued_seen(a, id, signer, false) > 0;
		if (here < 0 || all < 0)
			return 503;
		if (!replaces && (here >= AGENT_PENDING_PER_RENTAL || all >= AGENT_PENDING_KEYS_MAX))
			return 429;
	}
	const char *sql = found
		? "UPDATE rentals SET ssh_key = ?2, key_applied = 0, key_issued_ms = ?3,"
		  " image = CASE WHEN ?6 = '' THEN image ELSE ?6 END WHERE id = ?1" /* a rotation keeps the image */
		: "INSERT OR REPLACE INTO pending_keys(id, ssh_key, issued_ms, signer, at_ms, image)"
		  " VALUES(?1, ?2, ?3, ?4, ?5, ?6)";
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
		return 503;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, line, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, issued_ms);
	sqlite3_bind_text(st, 6, image ? image : "", -1, SQLITE_TRANSIENT);
	if (!found) {
		sqlite3_bind_blob(st, 4, signer->b, 20, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 5, clock_wall_ms());
	}
	rc = sqlite3_step(st) == SQLITE_DONE ? 202 : 503;
	sqlite3_finalize(st);
	return rc;
}

/*
 * mkdir -p of the agent's state dir, then mode 0700 on it: nothing of the agent's (its databases, the
 * signed transactions in sender.db, the account state files) is reachable by a renter, even by name
 * (issue 8.11; the login shells live under the home base, see account.h).
 */
int state_dir_make(const char *path, struct err *e)
{
	int rc = file_mkdir_p(path, 0755, 0700, e);

	if (!rc && chmod(path, 0700))
		rc = err_set(e, ERR_IO, "chmod %s: %s", path, strerror(errno));
	return rc;
}

/* Mode 0600 on an SQLite database and its -wal / -shm files (made with the process umask). */
void state_restrict_db(const char *path)
{
	char p[ACCOUNT_PATH_MAX + 40];
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };

	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		if (chmod(p, 0600) && errno != ENOENT)
			log_warn("cannot restrict a state file", "path=%s err=\"%s\"", p, strerror(errno));
	}
}
