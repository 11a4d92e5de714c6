/*
 * agent.c — the agent's main loop, its state db and its HTTP endpoint (SSH key delivery and access
 * status, protocol in docs/agent.md). See agent.h for the whole picture.
 *
 * The loop, every poll_ms or as soon as a key arrives: read confirmed escrow events (watcher.c),
 * bring accounts to what the chain says (lifecycle.c), claim / settle / poll the sender and report
 * to the server (claims.c). Nothing in a tick is fatal: errors are logged and the next tick retries.
 */
#include "agent/agent_int.h"

#include "agent/account.h"
#include "agent/limits.h"
#include "agent/terminal.h"
#include "escrow/client.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "eth/eip191.h"
#include "eth/secp.h"
#include "net/http.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define AGENT_DB_NAME "agent.db"
#define AGENT_SENDER_DB "sender.db"

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

int agent_ssh_key_message(char *out, size_t cap, uint64_t rental_id, uint64_t issued_ms, const char *key,
			  struct err *e)
{
	size_t n = strlen(key);
	int w;

	if (n && key[n - 1] == '\n')
		n--;
	if (n > ACCOUNT_SSH_KEY_MAX)
		return err_set(e, ERR_TOO_BIG, "ssh key: longer than %d bytes", ACCOUNT_SSH_KEY_MAX);
	w = snprintf(out, cap, "flopmarket ssh-key %llu %llu %.*s", (unsigned long long)rental_id,
		     (unsigned long long)issued_ms, (int)n, key);
	if (w < 0 || (size_t)w >= cap)
		return err_set(e, ERR_TOO_BIG, "ssh key message: longer than %zu bytes", cap);
	return 0;
}

uint64_t agent_machine_id(const char *hex64)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 15 && hex64 && hex64[i]; i++) {
		int d = hex_digit(hex64[i]);
		if (d < 0)
			break;
		v = v << 4 | (uint64_t)d;
	}
	return v ? v : 1;
}

/* ------------------------------------------------------------------ state db */

int agent_db_exec(struct agent *a, const char *sql, int64_t v, uint64_t id, struct err *e)
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

void agent_rows_free(struct agent_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		free(rows[i].ssh_key);
	free(rows);
}

int agent_db_rows(struct agent *a, struct agent_row **out, size_t *n, bool include_finished,
		  struct err *e)
{
	const char *sql =
		"SELECT id, terms, word, closed, opened_block, done, ssh_key, key_applied,"
		" access_reported, claim_nonce, last_claim_ms, warned FROM rentals"
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
		cnt++;
	}
	sqlite3_finalize(st);
	if (rc) {
		agent_rows_free(rows, cnt);
		return rc;
	}
	*out = rows;
	*n = cnt;
	return 0;
}

static void restrict_db(const char *path);

static int db_open(struct agent *a, struct err *e)
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
	restrict_db(path); /* after the first writes: the -wal and -shm files exist now */
	return 0;
}

static void agent_wake(struct agent *a)
{
	a->wake = true;
	pthread_cond_signal(&a->cv);
}

/* ------------------------------------------------------------------ HTTP endpoint */

/* Parses a rental id path parameter: decimal, no leading zero, 1..2^63-1. */
static int parse_id(uint64_t *out, const char *s)
{
	uint64_t v = 0;

	if (!s || !*s || strlen(s) > 19 || (s[0] == '0'))
		return ERR_INVALID;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return ERR_INVALID;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > INT64_MAX)
		return ERR_INVALID;
	*out = v;
	return 0;
}

/* Finds rental `id` in the db: 1 found (renter, ended written), 0 not, <0 error. Under mu. */
static int db_rental_renter(struct agent *a, uint64_t id, struct eth_address *renter, bool *ended)
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
static int key_store(struct agent *a, uint64_t id, const struct eth_address *signer, bool found,
		     const char *line, int64_t issued_ms)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (issued_ms <= key_issued_seen(a, id, signer, found))
		return 409;
	if (!found) {
		int64_t now = (int64_t)clock_wall_ms();
		agent_db_exec(a, "DELETE FROM pending_keys WHERE at_ms < ?1", now - AGENT_KEY_MAX_AGE_MS, 0, NULL);
		int64_t here = db_count(a, "SELECT count(*) FROM pending_keys WHERE id = ?1", id);
		int64_t all = db_count(a, "SELECT count(*) FROM pending_keys", 0);
		bool replaces = key_issued_seen(a, id, signer, false) > 0;
		if (here < 0 || all < 0)
			return 503;
		if (!replaces && (here >= AGENT_PENDING_PER_RENTAL || all >= AGENT_PENDING_KEYS_MAX))
			return 429;
	}
	const char *sql = found
		? "UPDATE rentals SET ssh_key = ?2, key_applied = 0, key_issued_ms = ?3 WHERE id = ?1"
		: "INSERT OR REPLACE INTO pending_keys(id, ssh_key, issued_ms, signer, at_ms)"
		  " VALUES(?1, ?2, ?3, ?4, ?5)";
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK)
		return 503;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, line, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, issued_ms);
	if (!found) {
		sqlite3_bind_blob(st, 4, signer->b, 20, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 5, clock_wall_ms());
	}
	rc = sqlite3_step(st) == SQLITE_DONE ? 202 : 503;
	sqlite3_finalize(st);
	return rc;
}

/*
 * POST /rentals/{id}/ssh-key {"ssh_key", "issued_ms", "signature"}: the renter's signed key delivery
 * (agent_ssh_key_message). Checked: the key line (account_ssh_key_check), the signature, the signer is
 * the rental's renter on chain (or, before the agent has seen the rental, kept pending per signer), and
 * issued_ms is recent (AGENT_KEY_MAX_AGE_MS / AGENT_KEY_MAX_SKEW_MS) and newer than the key held.
 */
static int h_ssh_key(struct http_req *req, struct http_resp *resp, void *ctx)
{
	struct agent *a = ctx;
	json_t *body = NULL;
	const char *key = NULL, *sig_hex = NULL;
	char canon[ACCOUNT_SSH_KEY_MAX + 4], line[ACCOUNT_SSH_KEY_MAX + 2], msg[AGENT_SSH_KEY_MSG_MAX];
	char signer_s[ADDRESS_STR_MAX];
	uint8_t sig[65];
	struct eth_address signer, renter;
	struct err e = { 0, "" };
	uint64_t id, issued = 0;
	int64_t now = (int64_t)clock_wall_ms();
	size_t n;
	bool ended = false;
	int found, st, rc = 0;

	if (parse_id(&id, http_param(req, "id")))
		return http_error(resp, 400, "invalid", "id", "rental id must be a decimal number 1..2^63-1");
	if (http_json_body(&body, req, resp))
		return 0;
	if (json_get_str(&key, body, "ssh_key", ACCOUNT_SSH_KEY_MAX + 1, &e)) {
		json_decref(body);
		return http_error(resp, 400, "invalid", "ssh_key", "%s", e.msg);
	}
	if (json_get_uint(&issued, body, "issued_ms", &e) || issued > (uint64_t)INT64_MAX) {
		json_decref(body);
		return http_error(resp, 400, "invalid", "issued_ms",
				  "issued_ms: the signing time in unix milliseconds is required (a number)");
	}
	if ((int64_t)issued < now - AGENT_KEY_MAX_AGE_MS || (int64_t)issued > now + AGENT_KEY_MAX_SKEW_MS) {
		json_decref(body);
		return http_error(resp, 400, "stale", "issued_ms",
				  "issued_ms is %s: sign a fresh delivery (check the clock)",
				  (int64_t)issued < now ? "more than 15 minutes old" : "in the future");
	}
	if (json_get_str(&sig_hex, body, "signature", 140, &e) ||
	    hex_decode_exact(sig, sizeof sig, sig_hex, &e)) {
		json_decref(body);
		return http_error(resp, 400, "invalid", "signature", "signature: %s", e.msg);
	}
	n = strlen(key);
	if (n && key[n - 1] == '\n')
		n--;
	if (n > ACCOUNT_SSH_KEY_MAX ||
	    account_ssh_key_check(canon, sizeof canon, key, n, &e)) {
		json_decref(body);
		return http_error(resp, 400, "invalid", "ssh_key", "%s",
				  e.msg[0] ? e.msg : "ssh_key: too long");
	}
	memcpy(line, key, n);
	line[n] = '\0';
	json_decref(body);
	if (agent_ssh_key_message(msg, sizeof msg, id, issued, line, &e))
		return http_error(resp, 400, "invalid", "ssh_key", "%s", e.msg);
	if (eip191_recover(&signer, (const uint8_t *)msg, strlen(msg), sig, &e))
		return http_error(resp, 400, "invalid", "signature", "signature: %s", e.msg);
	address_to_lower(signer_s, &signer);

	pthread_mutex_lock(&a->mu);
	found = db_rental_renter(a, id, &renter, &ended);
	if (found < 0) {
		rc = http_error(resp, 503, "unavailable", NULL, "agent state unavailable");
	} else if (found == 1 && ended) {
		rc = http_error(resp, 409, "state", NULL, "rental %llu has ended", (unsigned long long)id);
	} else if (found == 1 && !address_equal(&renter, &signer)) {
		char want[ADDRESS_STR_MAX];
		address_to_lower(want, &renter);
		rc = http_error(resp, 403, "forbidden", "signature",
				"signed by %s, but rental %llu's renter on chain is %s", signer_s,
				(unsigned long long)id, want);
	} else if ((st = key_store(a, id, &signer, found == 1, line, (int64_t)issued)) == 409) {
		rc = http_error(resp, 409, "replayed", "issued_ms",
				"a key signed at the same time or later is already installed; this one is older");
	} else if (st == 429) {
		rc = http_error(resp, 429, "busy", NULL,
				"too many keys wait for rentals this agent has not seen yet; retry in a few seconds");
	} else if (st != 202) {
		rc = http_error(resp, 503, "unavailable", NULL, "agent state unavailable");
	} else {
		json_t *v = json_pack("{s:I, s:s, s:s}", "rental_id", (json_int_t)id, "status",
				      found == 1 ? "accepted" : "pending", "signer", signer_s);
		agent_wake(a);
		rc = http_json(resp, 202, v);
	}
	pthread_mutex_unlock(&a->mu);
	if (!rc)
		log_info("ssh key received", "rental=%llu signer=%s status=%s", (unsigned long long)id,
			 signer_s, resp->status == 202 ? (found == 1 ? "accepted" : "pending") : "refused");
	return rc;
}

/* GET /agent: the agent is up, and whom it serves (renters check it just before paying). */
static int h_agent_info(struct http_req *req, struct http_resp *resp, void *ctx)
{
	struct agent *a = ctx;
	char prov[ADDRESS_STR_MAX], esc[ADDRESS_STR_MAX];
	(void)req;

	address_to_lower(prov, &a->provider);
	address_to_lower(esc, &a->cfg.escrow);
	return http_json(resp, 200, json_pack("{s:s, s:s, s:I, s:s}", "status", "ok", "provider", prov,
					      "chain_id", (json_int_t)a->cfg.chain_id, "escrow", esc));
}

static int h_access(struct http_req *req, struct http_resp *resp, void *ctx)
{
	struct agent *a = ctx;
	sqlite3_stmt *st = NULL;
	uint64_t id;
	const char *status = "unknown";
	char name[ACCOUNT_NAME_LEN + 1] = "";
	bool show = false;
	json_t *v;

	if (parse_id(&id, http_param(req, "id")))
		return http_error(resp, 400, "invalid", "id", "rental id must be a decimal number 1..2^63-1");
	pthread_mutex_lock(&a->mu);
	if (sqlite3_prepare_v2(a->db, "SELECT closed, done, ssh_key IS NOT NULL FROM rentals WHERE id = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		if (sqlite3_step(st) == SQLITE_ROW) {
			if (sqlite3_column_int(st, 0) || sqlite3_column_int(st, 1))
				status = "ended";
			else if (!sqlite3_column_int(st, 2))
				status = "waiting_key";
			else
				status = "pending";
		} else {
			sqlite3_finalize(st);
			st = NULL;
			if (sqlite3_prepare_v2(a->db, "SELECT 1 FROM pending_keys WHERE id = ?1", -1, &st,
					       NULL) == SQLITE_OK) {
				sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
				if (sqlite3_step(st) == SQLITE_ROW)
					status = "pending";
			}
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&a->mu);
	if (strcmp(status, "pending") == 0 && !lifecycle_account_name(name, a->cfg.chain_id, &a->cfg.escrow, a->instance, id, NULL)) {
		struct account acc;
		if (!account_load(&acc, &a->acct, name, NULL)) {
			if (acc.phase == ACCOUNT_ACTIVE)
				status = "active", show = true;
			else if (acc.phase == ACCOUNT_FROZEN)
				status = "frozen", show = true;
		}
	}
	v = json_pack("{s:I, s:s}", "rental_id", (json_int_t)id, "status", status);
	if (v && show) {
		json_object_set_new(v, "host", json_string(a->cfg.ssh_host));
		json_object_set_new(v, "port", json_integer(a->cfg.ssh_port));
		json_object_set_new(v, "user", json_string(name));
	}
	return http_json(resp, 200, v);
}

/*
 * The browser terminal's rental lookup (terminal.h; HTTP threads): the Terms come from the state db
 * (as read from the chain's Opened event), the state from the chain itself (stateOf + the latest
 * block's time) through a client of its own, since struct rpc is not thread-safe.
 */
static int terminal_lookup(struct terminal_rental *out, const char *rental_id, void *user, struct err *e)
{
	struct agent *a = user;
	struct escrow_terms t;
	struct rpc r;
	sqlite3_stmt *st = NULL;
	uint64_t id;
	int rc = ERR_NOT_FOUND;

	if (parse_id(&id, rental_id))
		return err_set(e, ERR_NOT_FOUND, "no rental %.40s", rental_id);
	pthread_mutex_lock(&a->mu);
	if (sqlite3_prepare_v2(a->db, "SELECT terms FROM rentals WHERE id = ?1 AND closed = 0 AND done = 0",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == ESCROW_TERMS_SIZE &&
		    !escrow_terms_decode(&t, sqlite3_column_blob(st, 0), ESCROW_TERMS_SIZE, NULL))
			rc = 0;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&a->mu);
	if (rc)
		return err_set(e, ERR_NOT_FOUND, "no live rental %llu on this host", (unsigned long long)id);
	if ((rc = rpc_init(&r, a->cfg.rpc_url, NULL, e)))
		return rc;
	rc = terminal_rental_from_chain(out, &r, a->cfg.chain_id, &a->cfg.escrow, a->instance, &t, e);
	rpc_release(&r);
	return rc;
}

/* ------------------------------------------------------------------ main loop */

/*
 * mkdir -p of the agent's state dir, then mode 0700 on it: nothing of the agent's (its databases, the
 * signed transactions in sender.db, the account state files) is reachable by a renter, even by name
 * (issue 8.11; the login shells live under the home base, see account.h).
 */
static int mkdir_state(const char *path, struct err *e)
{
	char tmp[ACCOUNT_PATH_MAX];

	if (strlen(path) >= sizeof tmp)
		return err_set(e, ERR_TOO_BIG, "data dir: path too long");
	strcpy(tmp, path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			return err_set(e, ERR_IO, "mkdir %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if ((mkdir(tmp, 0700) && errno != EEXIST) || chmod(tmp, 0700))
		return err_set(e, ERR_IO, "mkdir %s: %s", tmp, strerror(errno));
	return 0;
}

/* Mode 0600 on an SQLite database and its -wal / -shm files (made with the process umask). */
static void restrict_db(const char *path)
{
	char p[ACCOUNT_PATH_MAX + 40];
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };

	for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, sfx[i]);
		if (chmod(p, 0600) && errno != ENOENT)
			log_warn("cannot restrict a state file", "path=%s err=\"%s\"", p, strerror(errno));
	}
}

static int agent_start(struct agent *a, struct err *e)
{
	struct http_config hc;
	uint64_t chain = 0;
	char path[ACCOUNT_PATH_MAX + 32];
	struct account_recovery rec;
	int rc;

	if (!a->cfg.rpc_url || !a->cfg.data_dir || !a->cfg.chain_id || address_is_zero(&a->cfg.escrow))
		return err_set(e, ERR_INVALID, "agent: rpc_url, data_dir, chain_id and escrow are required");
	if (!a->cfg.ssh_host)
		a->cfg.ssh_host = "127.0.0.1";
	if (!a->cfg.ssh_port)
		a->cfg.ssh_port = 22;
	if (!a->cfg.listen_addr)
		a->cfg.listen_addr = "127.0.0.1";
	if (!a->cfg.poll_ms)
		a->cfg.poll_ms = 1000;
	if (!a->cfg.claim_interval_s)
		a->cfg.claim_interval_s = 3600;
	if (!a->cfg.heartbeat_s)
		a->cfg.heartbeat_s = 60;
	if (!a->cfg.batch_blocks)
		a->cfg.batch_blocks = 2000;
	if ((rc = mkdir_state(a->cfg.data_dir, e)))
		return rc;
	a->acct = a->cfg.acct;
	{
		/* Safe limits unless the provider set them (limits.h): one renter never takes the host. */
		struct rental_limits lim;
		struct err le = { 0 };
		if (limits_read_host(&lim, &le) == 0) {
			if (!a->acct.memory_max_bytes)
				a->acct.memory_max_bytes = lim.memory_max_bytes;
			if (!a->acct.pids_max)
				a->acct.pids_max = lim.pids_max;
			if (!a->acct.cpu_weight)
				a->acct.cpu_weight = lim.cpu_weight;
		} else {
			log_warn("cannot derive rental limits from the host", "err=\"%s\"", le.msg);
		}
		log_info("rental limits", "memory_max_bytes=%" PRIu64 " pids_max=%" PRIu64 " cpu_weight=%u",
			 a->acct.memory_max_bytes, a->acct.pids_max, a->acct.cpu_weight);
	}
	if (!a->acct.state_dir) {
		snprintf(a->acct_state_dir, sizeof a->acct_state_dir, "%s/accounts", a->cfg.data_dir);
		a->acct.state_dir = a->acct_state_dir;
	}
	if ((rc = secp_address(&a->provider, a->cfg.seckey32, e)))
		return rc;
	if ((rc = rpc_init(&a->rpc, a->cfg.rpc_url, NULL, e)))
		return rc;
	if ((rc = rpc_chain_id(&a->rpc, &chain, e))) {
		err_wrap(e, "chain %s", a->cfg.rpc_url);
		return rc;
	}
	if (chain != a->cfg.chain_id)
		return err_set(e, ERR_CONFLICT, "wrong network: the node at %s is chain %llu, the deployment is chain %llu",
			       a->cfg.rpc_url, (unsigned long long)chain, (unsigned long long)a->cfg.chain_id);
	if ((rc = db_open(a, e)))
		return rc;
	if (!a->cfg.no_claims) {
		snprintf(path, sizeof path, "%s/%s", a->cfg.data_dir, AGENT_SENDER_DB);
		/* the same headroom as escrow_send: claims and settles mined a little after their estimate */
		struct sender_opts so = { .gas_headroom = ESCROW_GAS_HEADROOM };
		if ((rc = sender_open(&a->sender, path, &a->rpc, a->cfg.seckey32, a->cfg.chain_id, &so, e)))
			return rc;
		restrict_db(path);
	}
	memset(&rec, 0, sizeof rec);
	if ((rc = account_recover(&rec, &a->acct, e)))
		log_warn("account recovery incomplete", "err=\"%s\"", e->msg);
	log_info("accounts recovered", "restored=%u rolled_back=%u torn_down=%u failed=%u", rec.restored,
		 rec.rolled_back, rec.torn_down, rec.failed);
	err_clear(e);

	memset(&hc, 0, sizeof hc);
	hc.bind_addr = a->cfg.listen_addr;
	hc.port = a->cfg.listen_port;
	hc.threads = 2;
	hc.body_max = 16 << 10;
	hc.rate_per_s = 5;
	{
		struct terminal_cfg tc;
		const char *origins[2] = { a->cfg.web_origin, NULL };

		memset(&tc, 0, sizeof tc);
		tc.origin = a->cfg.endpoint;
		tc.allowed_origins = a->cfg.web_origin ? origins : NULL;
		tc.lookup = terminal_lookup;
		tc.lookup_user = a;
		tc.accounts = &a->acct;
		if ((rc = terminal_new(&a->term, &tc, e)))
			return rc;
	}
	if ((rc = http_server_new(&a->http, &hc, e)) ||
	    (rc = http_route(a->http, "POST", "/rentals/{id}/ssh-key", h_ssh_key, a, e)) ||
	    (rc = http_route(a->http, "GET", "/rentals/{id}/access", h_access, a, e)) ||
	    (rc = http_route(a->http, "GET", "/agent", h_agent_info, a, e)) ||
	    (rc = terminal_routes(a->term, a->http, e)) || (rc = http_server_start(a->http, e)))
		return rc;
	if (a->cfg.endpoint)
		snprintf(a->endpoint, sizeof a->endpoint, "%s", a->cfg.endpoint);
	else
		snprintf(a->endpoint, sizeof a->endpoint, "http://%s:%u", a->cfg.listen_addr,
			 (unsigned)http_server_port(a->http));
	printf("listening on http://%s:%u\n", a->cfg.listen_addr, (unsigned)http_server_port(a->http));
	fflush(stdout);
	{
		char who[ADDRESS_STR_MAX];
		address_to_checksum(who, &a->provider);
		log_info("agent started", "provider=%s endpoint=%s chain=%llu confirmations=%u", who,
			 a->endpoint, (unsigned long long)a->cfg.chain_id,
			 a->cfg.confirmations);
	}
	return 0;
}

static void agent_stop(struct agent *a)
{
	terminal_stop(a->term); /* upgraded sockets first, then the HTTP server */
	http_server_free(a->http);
	a->http = NULL;
	terminal_free(a->term);
	a->term = NULL;
	sender_close(a->sender);
	a->sender = NULL;
	if (a->db)
		sqlite3_close(a->db);
	a->db = NULL;
	rpc_release(&a->rpc);
}

/* One round; returns true once the first reconcile ran (against a chain read up to its head). */
static bool tick(struct agent *a, bool first)
{
	struct err e = { 0, "" };
	struct rpc_block b;
	bool caught_up = false;

	if (watcher_poll(a, &caught_up, &e))
		log_warn("chain watch failed", "err=\"%s\"", e.msg);
	/* reconcile orphans only against a chain read up to its head */
	if (first && !caught_up)
		return false;
	err_clear(&e);
	if (!rpc_get_block(&a->rpc, &b, "latest", &e))
		a->chain_now = b.timestamp;
	else
		log_warn("latest block unavailable", "err=\"%s\"", e.msg);
	err_clear(&e);
	if (a->chain_now && lifecycle_tick(a, first, &e))
		log_warn("account upkeep failed", "err=\"%s\"", e.msg);
	err_clear(&e);
	if (a->sender && a->chain_now && claims_tick(a, &e))
		log_warn("claims failed", "err=\"%s\"", e.msg);
	err_clear(&e);
	if (a->cfg.server_url && report_tick(a, &e))
		log_warn("server report failed", "err=\"%s\"", e.msg);
	return a->chain_now != 0;
}

int agent_run(const struct agent_cfg *cfg, volatile sig_atomic_t *stop, struct err *e)
{
	struct agent *a = calloc(1, sizeof *a);
	bool reconciled = false;
	int rc;

	if (!a)
		return err_set(e, ERR_NOMEM, "agent: out of memory");
	a->cfg = *cfg;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	rc = agent_start(a, e);
	while (!rc && !*stop) {
		struct timespec ts;
		uint64_t t0 = clock_mono_ms();

		if (tick(a, !reconciled))
			reconciled = true;
		uint64_t spent = clock_mono_ms() - t0;
		unsigned wait_ms = spent >= a->cfg.poll_ms ? 1 : (unsigned)(a->cfg.poll_ms - spent);
		ts = clock_deadline(CLOCK_REALTIME, wait_ms);
		pthread_mutex_lock(&a->mu);
		while (!a->wake && !*stop) {
			if (pthread_cond_timedwait(&a->cv, &a->mu, &ts) == ETIMEDOUT)
				break;
		}
		a->wake = false;
		pthread_mutex_unlock(&a->mu);
	}
	agent_stop(a);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	sodium_memzero(a->cfg.seckey32, sizeof a->cfg.seckey32);
	free(a);
	if (!rc)
		log_info("agent stopped", "%s", "");
	return rc;
}
