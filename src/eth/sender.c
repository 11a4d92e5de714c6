/*
 * sender.c — journaled transaction sender (see sender.h).
 *
 * Invariant: a signed tx is committed to the journal before its bytes leave
 * the process. All state transitions of one nonce happen in one SQLite
 * transaction. Timestamps in the journal are wall-clock unix milliseconds
 * so that they stay meaningful across restarts.
 */
#include "eth/sender.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "eth/keccak.h"
#include "eth/secp.h"
#include "eth/tx.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SENDER_ATTEMPTS_MAX 64 /* signed attempts kept per nonce; no bump past it */

struct sender {
	sqlite3 *db;                 /* journal */
	struct rpc *rpc;             /* borrowed */
	uint8_t seckey[32];          /* wiped on close */
	struct eth_address account;  /* address of seckey */
	uint64_t chain_id;           /* chain the journal rows belong to */
	struct sender_opts opts;     /* effective options */
	bool rebroadcast_all;        /* resend every live attempt on the next poll */
};

/* One journal row. */
struct attempt {
	int64_t id;              /* rowid, increasing with time */
	uint8_t hash[32];
	uint8_t *raw;            /* owned */
	size_t raw_len;
	char state[12];
	int64_t first_sent_at;   /* unix ms */
	int64_t last_sent_at;    /* unix ms */
	u256 max_fee;
	u256 tip;
	int64_t block_number;
};

static const char sender_schema[] =
	"CREATE TABLE IF NOT EXISTS sender_tx ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account BLOB NOT NULL,"           /* 20-byte sender address */
	" chain_id INTEGER NOT NULL,"
	" nonce INTEGER NOT NULL,"
	" raw BLOB NOT NULL,"               /* serialized signed tx */
	" hash BLOB NOT NULL UNIQUE,"       /* keccak256(raw) */
	" max_fee TEXT NOT NULL,"           /* maxFeePerGas, decimal wei */
	" max_priority_fee TEXT NOT NULL,"  /* maxPriorityFeePerGas, decimal wei */
	" first_sent_at INTEGER NOT NULL,"  /* unix ms */
	" last_sent_at INTEGER NOT NULL,"   /* unix ms */
	" state TEXT NOT NULL,"             /* live|mined|dropped|lost|rejected */
	" block_number INTEGER"             /* when mined */
	");"
	"CREATE INDEX IF NOT EXISTS sender_tx_nonce ON sender_tx(account, chain_id, nonce);"
	/* sender_submit_once: a caller's name for a submission, written with its first attempt */
	"CREATE TABLE IF NOT EXISTS sender_tag ("
	" account BLOB NOT NULL,"
	" chain_id INTEGER NOT NULL,"
	" tag TEXT NOT NULL,"
	" nonce INTEGER NOT NULL,"
	" PRIMARY KEY (account, chain_id, tag));";

static int sender_db_err(struct sender *s, struct err *e, const char *what)
{
	return err_set(e, ERR_IO, "journal %s: %s", what, sqlite3_errmsg(s->db));
}

static int sender_exec(struct sender *s, const char *sql, struct err *e)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = err_set(e, ERR_IO, "journal: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

static int sender_prepare(struct sender *s, sqlite3_stmt **st, const char *sql, struct err *e)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return sender_db_err(s, e, "prepare");
	return 0;
}

/* Binds account and chain id to parameters 1 and 2. */
static void sender_bind_acct(struct sender *s, sqlite3_stmt *st)
{
	sqlite3_bind_blob(st, 1, s->account.b, 20, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)s->chain_id);
}

void sender_address(const struct sender *s, struct eth_address *out)
{
	*out = s->account;
}

int sender_open(struct sender **out, const char *db_path, struct rpc *rpc,
		const uint8_t seckey32[32], uint64_t chain_id, const struct sender_opts *opts,
		struct err *e)
{
	struct sender *s;
	uint64_t node_chain;
	int rc;

	if (chain_id == 0 || chain_id > INT64_MAX)
		return err_set(e, ERR_INVALID, "sender chain id %llu out of range",
			       (unsigned long long)chain_id);
	s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, "out of memory");
	memcpy(s->seckey, seckey32, 32);
	s->rpc = rpc;
	s->chain_id = chain_id;
	s->rebroadcast_all = true;
	if (opts)
		s->opts = *opts;
	if (!s->opts.rebroadcast_ms)
		s->opts.rebroadcast_ms = 30000;
	if (!s->opts.stuck_ms)
		s->opts.stuck_ms = 90000;
	if (s->opts.bump_permille < 125)
		s->opts.bump_permille = 125;
	if (u256_is_zero(&s->opts.fee_cap))
		s->opts.fee_cap = u256_from_u64(1000000000000ull); /* 1000 gwei */
	if (!s->opts.poll_ms)
		s->opts.poll_ms = 250;
	if (!s->opts.gas_margin_pct)
		s->opts.gas_margin_pct = 20;

	rc = secp_address(&s->account, s->seckey, e);
	if (rc)
		goto fail;
	rc = rpc_chain_id(rpc, &node_chain, e);
	if (rc)
		goto fail;
	if (node_chain != chain_id) {
		rc = err_set(e, ERR_CONFLICT, "node is on chain %llu, sender expects %llu",
			     (unsigned long long)node_chain, (unsigned long long)chain_id);
		goto fail;
	}
	if (sqlite3_open_v2(db_path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		rc = err_set(e, ERR_IO, "cannot open journal %s: %s", db_path,
			     s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	rc = sender_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", e);
	if (!rc)
		rc = sender_exec(s, sender_schema, e);
	if (rc)
		goto fail;
	*out = s;
	return 0;
fail:
	sender_close(s);
	return rc;
}

void sender_close(struct sender *s)
{
	if (!s)
		return;
	if (s->db)
		sqlite3_close(s->db);
	sodium_memzero(s->seckey, sizeof s->seckey);
	free(s);
}

/* ---- journal access ---- */

static void attempts_free(struct attempt *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(a[i].raw);
}

/* Loads every attempt at `nonce`, oldest first, into a (room max). */
static int journal_load(struct sender *s, uint64_t nonce, struct attempt *a, size_t max,
			size_t *n, struct err *e)
{
	sqlite3_stmt *st = NULL;
	size_t k = 0;
	int rc = sender_prepare(s, &st,
				"SELECT id, hash, raw, state, first_sent_at, last_sent_at, max_fee,"
				" max_priority_fee, block_number FROM sender_tx"
				" WHERE account = ?1 AND chain_id = ?2 AND nonce = ?3 ORDER BY id",
				e);

	if (rc)
		return rc;
	sender_bind_acct(s, st);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)nonce);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct attempt *t = &a[k];
		const void *h = sqlite3_column_blob(st, 1), *raw = sqlite3_column_blob(st, 2);
		const char *state = (const char *)sqlite3_column_text(st, 3);
		const char *mf = (const char *)sqlite3_column_text(st, 6);
		const char *tp = (const char *)sqlite3_column_text(st, 7);
		size_t raw_len = (size_t)sqlite3_column_bytes(st, 2);

		if (k >= max) {
			rc = err_set(e, ERR_TOO_BIG, "journal has more than %zu attempts at nonce %llu",
				     max, (unsigned long long)nonce);
			goto out;
		}
		memset(t, 0, sizeof *t);
		if (!h || sqlite3_column_bytes(st, 1) != 32 || !raw || raw_len == 0 ||
		    raw_len > TX_RAW_MAX || !state || strlen(state) >= sizeof t->state || !mf ||
		    !tp || u256_parse_dec(&t->max_fee, mf, NULL) ||
		    u256_parse_dec(&t->tip, tp, NULL)) {
			rc = err_set(e, ERR_INVALID, "journal row at nonce %llu is corrupt",
				     (unsigned long long)nonce);
			goto out;
		}
		t->raw = malloc(raw_len);
		if (!t->raw) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
		t->id = sqlite3_column_int64(st, 0);
		memcpy(t->hash, h, 32);
		memcpy(t->raw, raw, raw_len);
		t->raw_len = raw_len;
		strcpy(t->state, state);
		t->first_sent_at = sqlite3_column_int64(st, 4);
		t->last_sent_at = sqlite3_column_int64(st, 5);
		t->block_number = sqlite3_column_int64(st, 8);
		k++;
	}
	if (rc != SQLITE_DONE) {
		rc = sender_db_err(s, e, "read");
		goto out;
	}
	rc = 0;
	*n = k;
out:
	if (rc)
		attempts_free(a, k);
	sqlite3_finalize(st);
	return rc;
}

static int journal_insert(struct sender *s, uint64_t nonce, const uint8_t *raw, size_t n,
			  const uint8_t hash[32], const u256 *max_fee, const u256 *tip,
			  int64_t now, struct err *e)
{
	char mf[U256_DEC_MAX], tp[U256_DEC_MAX];
	sqlite3_stmt *st = NULL;
	int rc = sender_prepare(s, &st,
				"INSERT INTO sender_tx (account, chain_id, nonce, raw, hash, max_fee,"
				" max_priority_fee, first_sent_at, last_sent_at, state)"
				" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 'live')",
				e);

	if (rc)
		return rc;
	u256_to_dec(mf, max_fee);
	u256_to_dec(tp, tip);
	sender_bind_acct(s, st);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)nonce);
	sqlite3_bind_blob(st, 4, raw, (int)n, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, hash, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, mf, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, tp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sender_db_err(s, e, "insert");
	sqlite3_finalize(st);
	return rc;
}

/* Sets the state (and block number, when >= 0) of the row with this hash. */
static int journal_set_state(struct sender *s, const uint8_t hash[32], const char *state,
			     int64_t block, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = sender_prepare(s, &st,
				"UPDATE sender_tx SET state = ?1,"
				" block_number = CASE WHEN ?2 >= 0 THEN ?2 ELSE block_number END"
				" WHERE hash = ?3",
				e);

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, block);
	sqlite3_bind_blob(st, 3, hash, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sender_db_err(s, e, "update");
	sqlite3_finalize(st);
	return rc;
}

static int journal_touch(struct sender *s, const uint8_t hash[32], int64_t now, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = sender_prepare(s, &st, "UPDATE sender_tx SET last_sent_at = ?1 WHERE hash = ?2", e);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sender_db_err(s, e, "update");
	sqlite3_finalize(st);
	return rc;
}

/* Highest journaled (not rejected) nonce + 1, or 0 when none. */
static int journal_next_nonce(struct sender *s, uint64_t *out, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = sender_prepare(s, &st,
				"SELECT MAX(nonce) FROM sender_tx WHERE account = ?1 AND chain_id = ?2"
				" AND state != 'rejected'",
				e);

	if (rc)
		return rc;
	sender_bind_acct(s, st);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = sender_db_err(s, e, "read");
	} else {
		*out = sqlite3_column_type(st, 0) == SQLITE_NULL
			       ? 0
			       : (uint64_t)sqlite3_column_int64(st, 0) + 1;
	}
	sqlite3_finalize(st);
	return rc;
}

/* Nonces with a live attempt and no mined one, ascending (at most max). */
static int journal_open_nonces(struct sender *s, uint64_t *v, size_t max, size_t *n,
			       struct err *e)
{
	sqlite3_stmt *st = NULL;
	size_t k = 0;
	int rc = sender_prepare(s, &st,
				"SELECT DISTINCT nonce FROM sender_tx t WHERE account = ?1 AND"
				" chain_id = ?2 AND state = 'live' AND NOT EXISTS (SELECT 1 FROM"
				" sender_tx m WHERE m.account = t.account AND m.chain_id ="
				" t.chain_id AND m.nonce = t.nonce AND m.state = 'mined')"
				" ORDER BY nonce LIMIT ?3",
				e);

	if (rc)
		return rc;
	sender_bind_acct(s, st);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && k < max)
		v[k++] = (uint64_t)sqlite3_column_int64(st, 0);
	rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : sender_db_err(s, e, "read");
	sqlite3_finalize(st);
	if (!rc)
		*n = k;
	return rc;
}

/* ---- building and sending ---- */

/* Signs tx and returns its raw bytes and hash. */
static int sender_sign(struct sender *s, struct tx *tx, struct buf *raw, uint8_t hash[32],
		       struct err *e)
{
	int rc = tx_sign(tx, s->seckey, e);

	if (!rc)
		rc = tx_serialize(raw, tx, e);
	if (!rc)
		keccak256(hash, raw->data, raw->len);
	return rc;
}

/* fee * (1000 + permille) / 1000 rounded up, and at least fee + 1. */
static int sender_bump(u256 *out, const u256 *fee, unsigned permille)
{
	u256 k = u256_from_u64(1000 + permille), thousand = u256_from_u64(1000);
	u256 add = u256_from_u64(999), one = u256_from_u64(1), r, min;

	if (u256_mul(&r, fee, &k) || u256_add(&r, &r, &add) ||
	    u256_divmod(&r, NULL, &r, &thousand) || u256_add(&min, fee, &one))
		return ERR_RANGE;
	*out = u256_cmp(&r, &min) < 0 ? min : r;
	return 0;
}

/* The nonce journaled under `tag`: 0, or ERR_NOT_FOUND. */
static int tag_find(struct sender *s, const char *tag, uint64_t *nonce, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = sender_prepare(s, &st,
				"SELECT nonce FROM sender_tag WHERE account = ?1 AND chain_id = ?2 AND tag = ?3", e);

	if (rc)
		return rc;
	sender_bind_acct(s, st);
	sqlite3_bind_text(st, 3, tag, -1, SQLITE_STATIC);
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*nonce = (uint64_t)sqlite3_column_int64(st, 0);
	else if (step == SQLITE_DONE)
		rc = err_set(e, ERR_NOT_FOUND, "no submission tagged %.64s", tag);
	else
		rc = sender_db_err(s, e, "tag lookup");
	sqlite3_finalize(st);
	return rc;
}

static int tag_write(struct sender *s, const char *tag, uint64_t nonce, bool add, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = sender_prepare(s, &st,
				add ? "INSERT INTO sender_tag (account, chain_id, tag, nonce) VALUES (?1, ?2, ?3, ?4)"
				    : "DELETE FROM sender_tag WHERE account = ?1 AND chain_id = ?2 AND tag = ?3",
				e);

	if (rc)
		return rc;
	sender_bind_acct(s, st);
	sqlite3_bind_text(st, 3, tag, -1, SQLITE_STATIC);
	if (add)
		sqlite3_bind_int64(st, 4, (sqlite3_int64)nonce);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sender_db_err(s, e, "tag write");
	sqlite3_finalize(st);
	return rc;
}

int sender_find_tag(struct sender *s, const char *tag, uint64_t *id, struct err *e)
{
	if (!tag || !*tag || strlen(tag) > SENDER_TAG_MAX)
		return err_set(e, ERR_INVALID, "tag: 1..%d characters", SENDER_TAG_MAX);
	return tag_find(s, tag, id, e);
}

static int submit(struct sender *s, const char *tag, uint64_t *id, uint8_t hash32[32],
		  const struct eth_address *to, const u256 *value, const uint8_t *data,
		  size_t data_len, uint64_t gas_limit, struct err *e);

int sender_submit(struct sender *s, uint64_t *id, uint8_t hash32[32],
		  const struct eth_address *to, const u256 *value, const uint8_t *data,
		  size_t data_len, uint64_t gas_limit, struct err *e)
{
	return submit(s, NULL, id, hash32, to, value, data, data_len, gas_limit, e);
}

int sender_submit_once(struct sender *s, const char *tag, uint64_t *id, bool *already,
		       const struct eth_address *to, const u256 *value, const uint8_t *data,
		       size_t data_len, uint64_t gas_limit, struct err *e)
{
	int rc = sender_find_tag(s, tag, id, e);

	*already = rc == 0;
	if (rc != ERR_NOT_FOUND)
		return rc;
	return submit(s, tag, id, NULL, to, value, data, data_len, gas_limit, e);
}

static int submit(struct sender *s, const char *tag, uint64_t *id, uint8_t hash32[32],
		  const struct eth_address *to, const u256 *value, const uint8_t *data,
		  size_t data_len, uint64_t gas_limit, struct err *e)
{
	struct tx tx;
	struct buf raw;
	uint8_t hash[32];
	uint64_t chain_next = 0, journal_next = 0, nonce = 0;
	u256 max_fee, tip, zero = u256_from_u64(0);
	int rc;

	if (!value)
		value = &zero;
	if (data_len > TX_DATA_MAX)
		return err_set(e, ERR_TOO_BIG, "tx data is %zu bytes, at most %zu allowed",
			       data_len, TX_DATA_MAX);
	if (gas_limit == 0) {
		struct rpc_call_msg m = {
			.has_from = true, .from = s->account, .has_to = to != NULL,
			.has_value = true, .value = *value, .data = data, .data_len = data_len,
		};
		uint64_t est;
		if (to)
			m.to = *to;
		rc = rpc_estimate_gas(s->rpc, &est, &m, e);
		if (rc)
			return rc;
		gas_limit = est + est / 100 * s->opts.gas_margin_pct + s->opts.gas_headroom;
	}
	rc = rpc_suggest_fees(s->rpc, &max_fee, &tip, e);
	if (rc)
		return rc;
	if (u256_cmp(&max_fee, &s->opts.fee_cap) > 0)
		max_fee = s->opts.fee_cap;
	if (u256_cmp(&tip, &max_fee) > 0)
		tip = max_fee;
	rc = rpc_get_tx_count(s->rpc, &chain_next, &s->account, "pending", e);
	if (rc)
		return rc;

	tx_init(&tx, TX_EIP1559);
	buf_init(&raw, TX_RAW_MAX);
	tx.chain_id = s->chain_id;
	tx.max_fee_per_gas = max_fee;
	tx.max_priority_fee_per_gas = tip;
	tx.gas_limit = gas_limit;
	tx.has_to = to != NULL;
	if (to)
		tx.to = *to;
	tx.value = *value;
	rc = tx_set_data(&tx, data, data_len, e);
	if (rc)
		goto out;

	/* Pick the nonce and journal the signed tx in one write transaction. */
	rc = sender_exec(s, "BEGIN IMMEDIATE", e);
	if (rc)
		goto out;
	rc = journal_next_nonce(s, &journal_next, e);
	if (!rc) {
		nonce = chain_next > journal_next ? chain_next : journal_next;
		tx.nonce = nonce;
		rc = sender_sign(s, &tx, &raw, hash, e);
	}
	if (!rc)
		rc = journal_insert(s, nonce, raw.data, raw.len, hash, &max_fee, &tip,
				    clock_wall_ms(), e);
	if (!rc && tag)
		rc = tag_write(s, tag, nonce, true, e);
	if (!rc)
		rc = sender_exec(s, "COMMIT", e);
	if (rc) {
		sender_exec(s, "ROLLBACK", NULL);
		goto out;
	}

	rc = rpc_send_raw_tx(s->rpc, NULL, raw.data, raw.len, e);
	if (rc == ERR_CONFLICT) {
		/* "nonce too low" after a transport retry may mean this very tx was mined. */
		struct rpc_receipt rec;
		if (rpc_get_receipt(s->rpc, &rec, hash, NULL) == 0) {
			rpc_receipt_release(&rec);
			rc = 0;
		}
	}
	if (rc == ERR_RPC || rc == ERR_REVERT || rc == ERR_CONFLICT) {
		/* Refused outright: it is in no pool, so its nonce must be reused (and its tag freed). */
		journal_set_state(s, hash, "rejected", -1, NULL);
		if (tag)
			tag_write(s, tag, nonce, false, NULL);
		goto out;
	}
	rc = 0; /* sent, or journaled for sender_poll to resend */
	*id = nonce;
	if (hash32)
		memcpy(hash32, hash, 32);
out:
	tx_release(&tx);
	buf_release(&raw);
	return rc;
}

/* Records which attempt at `nonce` was mined, or that the nonce was lost. */
static int sender_settle(struct sender *s, uint64_t nonce, struct attempt *a, size_t n,
			 struct err *e)
{
	struct rpc_receipt rec;
	size_t mined = n;
	int64_t block = -1;
	int rc = 0;

	for (size_t i = n; i-- > 0;) {
		if (strcmp(a[i].state, "live") != 0 && strcmp(a[i].state, "dropped") != 0)
			continue;
		rc = rpc_get_receipt(s->rpc, &rec, a[i].hash, e);
		if (rc == 0) {
			mined = i;
			block = (int64_t)rec.block_number;
			rpc_receipt_release(&rec);
			break;
		}
		if (rc != ERR_NOT_FOUND)
			return rc;
	}
	rc = sender_exec(s, "BEGIN IMMEDIATE", e);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && !rc; i++) {
		if (strcmp(a[i].state, "live") != 0 && strcmp(a[i].state, "dropped") != 0)
			continue;
		if (mined == n)
			rc = journal_set_state(s, a[i].hash, "lost", -1, e);
		else
			rc = journal_set_state(s, a[i].hash, i == mined ? "mined" : "dropped",
					       i == mined ? block : -1, e);
	}
	if (!rc)
		rc = sender_exec(s, "COMMIT", e);
	if (rc)
		sender_exec(s, "ROLLBACK", NULL);
	(void)nonce;
	return rc;
}

/* Signs and journals a fee-bumped copy of `cur`; returns 1 when the cap forbids it. */
static int sender_replace(struct sender *s, const struct attempt *cur, struct buf *raw,
			  uint8_t hash[32], struct err *e)
{
	struct tx tx;
	u256 fee, tip, sugg_fee, sugg_tip;
	int rc = tx_decode(&tx, cur->raw, cur->raw_len, e);

	if (rc)
		return rc;
	if (sender_bump(&fee, &cur->max_fee, s->opts.bump_permille) ||
	    sender_bump(&tip, &cur->tip, s->opts.bump_permille)) {
		tx_release(&tx);
		return 1;
	}
	/* Follow the market when it moved more than the minimum bump. */
	if (rpc_suggest_fees(s->rpc, &sugg_fee, &sugg_tip, NULL) == 0) {
		if (u256_cmp(&sugg_fee, &fee) > 0)
			fee = sugg_fee;
		if (u256_cmp(&sugg_tip, &tip) > 0)
			tip = sugg_tip;
	}
	if (u256_cmp(&fee, &s->opts.fee_cap) > 0) {
		u256 min;
		sender_bump(&min, &cur->max_fee, s->opts.bump_permille);
		if (u256_cmp(&min, &s->opts.fee_cap) > 0) {
			tx_release(&tx);
			return 1;
		}
		fee = s->opts.fee_cap;
	}
	if (u256_cmp(&tip, &fee) > 0) {
		tx_release(&tx);
		return 1;
	}
	tx.max_fee_per_gas = fee;
	tx.max_priority_fee_per_gas = tip;
	rc = sender_sign(s, &tx, raw, hash, e);
	tx_release(&tx);
	if (rc)
		return rc;
	return journal_insert(s, tx.nonce, raw->data, raw->len, hash, &fee, &tip,
			      clock_wall_ms(), e);
}

/* Rebroadcasts or replaces the current attempt at an open, unmined nonce. */
static int sender_drive(struct sender *s, struct attempt *a, size_t n, struct err *e)
{
	struct attempt *cur = NULL;
	int64_t now = clock_wall_ms();
	int rc;

	for (size_t i = n; i-- > 0;) {
		if (strcmp(a[i].state, "live") == 0) {
			cur = &a[i];
			break;
		}
	}
	if (!cur)
		return 0;
	if (now - cur->first_sent_at >= (int64_t)s->opts.stuck_ms && n < SENDER_ATTEMPTS_MAX) {
		struct buf raw;
		uint8_t hash[32];
		buf_init(&raw, TX_RAW_MAX);
		rc = sender_replace(s, cur, &raw, hash, e);
		if (rc == 0) {
			/* Journaled; now broadcast. A refusal keeps both attempts live. */
			rpc_send_raw_tx(s->rpc, NULL, raw.data, raw.len, NULL);
			buf_release(&raw);
			return 0;
		}
		buf_release(&raw);
		if (rc < 0)
			return rc;
		/* at the fee cap: fall through to a plain rebroadcast */
	}
	if (s->rebroadcast_all || now - cur->last_sent_at >= (int64_t)s->opts.rebroadcast_ms) {
		rpc_send_raw_tx(s->rpc, NULL, cur->raw, cur->raw_len, NULL);
		return journal_touch(s, cur->hash, now, e);
	}
	return 0;
}

int sender_poll(struct sender *s, struct err *e)
{
	uint64_t open[SENDER_OPEN_MAX], latest;
	struct attempt *a;
	size_t n_open = 0;
	int rc = journal_open_nonces(s, open, SENDER_OPEN_MAX, &n_open, e);

	if (rc || n_open == 0) {
		if (!rc)
			s->rebroadcast_all = false;
		return rc;
	}
	rc = rpc_get_tx_count(s->rpc, &latest, &s->account, "latest", e);
	if (rc)
		return rc;
	a = malloc(SENDER_ATTEMPTS_MAX * sizeof *a);
	if (!a)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n_open && !rc; i++) {
		size_t n = 0;
		rc = journal_load(s, open[i], a, SENDER_ATTEMPTS_MAX, &n, e);
		if (rc)
			break;
		if (open[i] < latest)
			rc = sender_settle(s, open[i], a, n, e);
		else
			rc = sender_drive(s, a, n, e);
		attempts_free(a, n);
	}
	free(a);
	if (!rc)
		s->rebroadcast_all = false;
	return rc;
}

int sender_info(struct sender *s, uint64_t id, struct sender_info *out, struct err *e)
{
	struct attempt *a = malloc(SENDER_ATTEMPTS_MAX * sizeof *a);
	struct sender_info info;
	size_t n = 0;
	bool live = false, lost = false;
	int rc;

	if (!a)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = journal_load(s, id, a, SENDER_ATTEMPTS_MAX, &n, e);
	if (rc)
		goto out;
	memset(&info, 0, sizeof info);
	info.nonce = id;
	info.state = SENDER_REJECTED;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(a[i].state, "rejected") == 0)
			continue;
		info.attempts++;
		memcpy(info.current_hash, a[i].hash, 32);
		info.max_fee_per_gas = a[i].max_fee;
		info.max_priority_fee_per_gas = a[i].tip;
		if (strcmp(a[i].state, "mined") == 0) {
			info.state = SENDER_MINED;
			memcpy(info.mined_hash, a[i].hash, 32);
			info.block_number = (uint64_t)a[i].block_number;
		}
		live |= strcmp(a[i].state, "live") == 0;
		lost |= strcmp(a[i].state, "lost") == 0;
	}
	if (info.state != SENDER_MINED && live)
		info.state = SENDER_PENDING;
	else if (info.state != SENDER_MINED && lost)
		info.state = SENDER_LOST;
	if (n == 0)
		rc = err_set(e, ERR_NOT_FOUND, "no submission with nonce %llu",
			     (unsigned long long)id);
	else
		*out = info;
	attempts_free(a, n);
out:
	free(a);
	return rc;
}

/* A mined attempt whose receipt vanished (reorg): make the nonce open again. */
static int sender_unmine(struct sender *s, uint64_t nonce, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = sender_prepare(s, &st,
				"UPDATE sender_tx SET state = 'live', block_number = NULL"
				" WHERE account = ?1 AND chain_id = ?2 AND nonce = ?3"
				" AND state IN ('mined', 'dropped')",
				e);

	if (rc)
		return rc;
	sender_bind_acct(s, st);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)nonce);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = sender_db_err(s, e, "update");
	sqlite3_finalize(st);
	return rc;
}

int sender_wait(struct sender *s, uint64_t id, uint64_t confirmations, unsigned timeout_ms,
		struct rpc_receipt *out, struct err *e)
{
	uint64_t deadline = clock_mono_ms() + timeout_ms;
	int rc;

	if (confirmations == 0)
		confirmations = 1;
	for (;;) {
		struct sender_info info;
		struct err pe = { 0, "" };

		/* Transport trouble while polling is retried until the deadline. */
		rc = sender_poll(s, &pe);
		if (rc && rc != ERR_NET && rc != ERR_TIMEOUT && rc != ERR_RPC) {
			if (e)
				*e = pe;
			return rc;
		}
		rc = sender_info(s, id, &info, e);
		if (rc)
			return rc;
		if (info.state == SENDER_LOST)
			return err_set(e, ERR_CONFLICT,
				       "nonce %llu was used by a transaction not in the journal",
				       (unsigned long long)id);
		if (info.state == SENDER_REJECTED)
			return err_set(e, ERR_STATE, "submission %llu was rejected by the node",
				       (unsigned long long)id);
		if (info.state == SENDER_MINED) {
			struct rpc_receipt rec;
			uint64_t head;
			rc = rpc_get_receipt(s->rpc, &rec, info.mined_hash, e);
			if (rc == ERR_NOT_FOUND) {
				rc = sender_unmine(s, id, e);
				if (rc)
					return rc;
			} else if (rc == 0) {
				rc = rpc_block_number(s->rpc, &head, e);
				if (rc == 0 && head >= rec.block_number &&
				    head - rec.block_number + 1 >= confirmations) {
					*out = rec;
					return 0;
				}
				rpc_receipt_release(&rec);
			}
		}
		if (clock_mono_ms() >= deadline)
			return err_set(e, ERR_TIMEOUT,
				       "submission %llu not confirmed %llu times within %u ms",
				       (unsigned long long)id, (unsigned long long)confirmations,
				       timeout_ms);
		clock_sleep_ms(s->opts.poll_ms);
	}
}
