/*
 * relayer.c — the gasless relayer: intake checks, the durable queue, the worker (see relayer.h).
 *
 * Queue table relay_intent (in the sender's journal file): one row per accepted intent, unique on
 * (renter, nonce), holding the exact calldata that will be sent (fee included) and its gas limit, so
 * the worker never rebuilds anything after acceptance.
 */
#include "server/relayer.h"

#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "escrow/client.h"
#include "escrow/escrow.h"
#include "eth/rpc.h"
#include "eth/secp.h"
#include "eth/sender.h"
#include "server/pricefeed.h"
#include "server/relay_fee.h"
#include "server/server.h"

#define CALLDATA_MAX 4096

struct relayer {
	struct server *s;
	struct rpc rpc;           /* the worker's */
	bool rpc_ok;
	struct sender *snd;       /* the worker's */
	sqlite3 *db;              /* the queue (FULLMUTEX: HTTP threads and the worker share it) */
	pthread_mutex_t mu;       /* one intake check-and-insert at a time (limits, duplicates) */
	struct eth_address addr;  /* the relayer's account */
	struct eth_address relay; /* the escrow's RentalRelay */
	pthread_t th;
	bool running;
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS relay_intent ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" kind TEXT NOT NULL,"
	" renter TEXT NOT NULL,"          /* lowercase 0x address */
	" nonce TEXT NOT NULL,"           /* decimal */
	" digest TEXT NOT NULL,"          /* the intent's EIP-712 digest (0x hex): what the renter signed */
	" rental_id INTEGER,"             /* extend/stop: the rental; open: set when confirmed */
	" token TEXT NOT NULL,"
	" amount TEXT NOT NULL,"          /* decimal token units; "0" for stop */
	" max_fee TEXT NOT NULL,"
	" fee TEXT NOT NULL,"             /* what the calldata charges (<= max_fee) */
	" fee_usd_micro INTEGER NOT NULL,"
	" deadline INTEGER NOT NULL,"
	" calldata BLOB NOT NULL,"
	" gas_limit INTEGER NOT NULL,"
	" state TEXT NOT NULL,"           /* queued|pending|confirmed|failed */
	" sender_nonce INTEGER,"
	" tx_hash TEXT,"
	" block_number INTEGER,"
	" gas_used INTEGER,"
	" gas_cost_wei TEXT,"
	" error TEXT,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" UNIQUE (renter, nonce));"
	"CREATE INDEX IF NOT EXISTS relay_intent_state ON relay_intent(state, id);";

/* ---------------------------------------------------------------- open / close */

static int db_err(struct relayer *r, struct err *e, const char *what)
{
	return err_set(e, ERR_IO, "relay queue %s: %s", what, sqlite3_errmsg(r->db));
}

static int prepare(struct relayer *r, sqlite3_stmt **st, const char *sql, struct err *e)
{
	return sqlite3_prepare_v2(r->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : db_err(r, e, "prepare");
}

static int relay_address(struct rpc *rpc, struct eth_address *out, const struct eth_address *escrow,
			 struct err *e)
{
	struct buf cd;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	rc = escrow_cd_getter(&cd, "relay", e);
	if (!rc)
		rc = escrow_call_address(rpc, out, escrow, &cd, e);
	buf_release(&cd);
	if (!rc && address_is_zero(out))
		rc = err_set(e, ERR_STATE, "the escrow has no relay (deployed before gasless rentals)");
	if (rc)
		err_wrap(e, "escrow relay()");
	return rc;
}

int relayer_open(struct relayer **out, struct server *s, struct err *e)
{
	const struct srv_config *c = &s->cfg;
	struct sender_opts so = { 0 };
	struct relayer *r;
	int rc;

	if (!c->rpc_url[0])
		return err_set(e, ERR_INVALID, "relayer: needs the chain (rpc_url)");
	if (!c->relay_journal[0])
		return err_set(e, ERR_INVALID, "relayer: no journal path");
	r = calloc(1, sizeof *r);
	if (!r)
		return err_set(e, ERR_NOMEM, "relayer");
	r->s = s;
	pthread_mutex_init(&r->mu, NULL);
	if ((rc = rpc_init(&r->rpc, c->rpc_url, NULL, e)))
		goto fail;
	r->rpc_ok = true;
	if ((rc = relay_address(&r->rpc, &r->relay, &c->escrow, e)))
		goto fail;
	so.stuck_ms = c->relay_stuck_ms;
	so.rebroadcast_ms = c->relay_stuck_ms ? c->relay_stuck_ms / 2 : 0;
	so.gas_headroom = RELAYER_GAS_HEADROOM;
	if ((rc = sender_open(&r->snd, c->relay_journal, &r->rpc, c->relay_seckey, c->chain_id, &so, e)))
		goto fail;
	sender_address(r->snd, &r->addr);
	if (sqlite3_open_v2(c->relay_journal, &r->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		rc = err_set(e, ERR_IO, "relay queue %s: cannot open", c->relay_journal);
		goto fail;
	}
	sqlite3_busy_timeout(r->db, 5000);
	if (sqlite3_exec(r->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(r->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_err(r, e, "schema");
		goto fail;
	}
	char a[ADDRESS_STR_MAX], b[ADDRESS_STR_MAX];
	address_to_checksum(a, &r->addr);
	address_to_checksum(b, &r->relay);
	log_info("relayer on", "relayer=%s relay=%s margin_pct=%u", a, b, c->relay_margin_pct);
	*out = r;
	return 0;
fail:
	relayer_free(r);
	return rc;
}

void relayer_free(struct relayer *r)
{
	if (!r)
		return;
	relayer_stop(r);
	sender_close(r->snd);
	if (r->db)
		sqlite3_close(r->db);
	if (r->rpc_ok)
		rpc_release(&r->rpc);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* ---------------------------------------------------------------- prices and fees */

/* The gas limit of a relayed call estimated at `est`: the margin and headroom the quotes use too. */
static uint64_t gas_limit_of(uint64_t est)
{
	return est + est / 5 + RELAYER_GAS_HEADROOM;
}

/* micro-USD of one whole `tok` now: its feed at the latest block, else its fixed price. */
static int price_now(uint64_t *usd, struct relayer *r, struct rpc *rpc, const struct srv_token *tok,
		     struct err *e)
{
	struct rpc_block b;
	int rc;

	if (!tok->has_feed) {
		*usd = tok->usd_micro;
		return 0;
	}
	if ((rc = rpc_get_block(rpc, &b, "latest", e)))
		return rc;
	rc = pricefeed_price_at(usd, r->s->prices, rpc, &tok->feed, b.number, (int64_t)b.timestamp,
				r->s->cfg.feed_max_age_s, e);
	if (rc == ERR_RANGE || rc == ERR_STATE) {
		*usd = 0; /* a broken or stale feed: no price, so no relaying in this token */
		return 0;
	}
	return rc;
}

/* What a call of `gas_limit` costs in `tok` now, with the margin: fee, its wei, its micro-USD. */
struct quote {
	uint64_t gas_limit;
	u256 max_fee_per_gas;
	uint64_t native_usd, token_usd;
	u256 fee, cost_wei;
	uint64_t fee_usd;
};

/* The fee level and the native coin's price now: what every quote of one moment shares. */
struct quote_base {
	u256 max_fee_per_gas;
	uint64_t native_usd;
};

static int quote_base_now(struct quote_base *b, struct relayer *r, struct rpc *rpc, struct err *e)
{
	u256 tip;
	int rc = rpc_suggest_fees(rpc, &b->max_fee_per_gas, &tip, e);

	return rc ? rc : price_now(&b->native_usd, r, rpc, &r->s->cfg.tokens[0], e);
}

/* The quote of a call of `gas_limit` in `tok` whose price is token_usd, at base's fee level. */
static int quote_with(struct quote *q, struct relayer *r, const struct quote_base *b, const struct srv_token *tok,
		      uint64_t token_usd, uint64_t gas_limit, struct err *e)
{
	struct relay_fee_in in = { 0 };
	int rc;

	memset(q, 0, sizeof *q);
	q->gas_limit = gas_limit;
	q->max_fee_per_gas = b->max_fee_per_gas;
	q->native_usd = b->native_usd;
	q->token_usd = token_usd;
	in.gas_limit = gas_limit;
	in.max_fee_per_gas = b->max_fee_per_gas;
	in.native_usd_micro = b->native_usd;
	in.token_usd_micro = token_usd;
	in.token_decimals = tok->decimals;
	in.margin_pct = r->s->cfg.relay_margin_pct;
	if ((rc = relay_fee_compute(&q->fee, &q->cost_wei, &in, e)))
		return rc;
	return relay_fee_usd_micro(&q->fee_usd, &q->fee, tok->decimals, token_usd, e);
}

static int quote_fee(struct quote *q, struct relayer *r, struct rpc *rpc, const struct srv_token *tok,
		     uint64_t gas_limit, struct err *e)
{
	struct quote_base b;
	uint64_t token_usd;
	int rc;

	if ((rc = quote_base_now(&b, r, rpc, e)) || (rc = price_now(&token_usd, r, rpc, tok, e)))
		return rc;
	return quote_with(q, r, &b, tok, token_usd, gas_limit, e);
}

static json_t *json_u256(const u256 *v)
{
	char d[U256_DEC_MAX];

	u256_to_dec(d, v);
	return json_string(d);
}

static json_t *json_addr(const struct eth_address *a)
{
	char s[ADDRESS_STR_MAX];

	address_to_checksum(s, a);
	return json_string(s);
}

int relayer_info(struct relayer *r, json_t **out, struct err *e)
{
	static const struct { enum relay_kind k; uint64_t gas; } kinds[] = {
		{ RELAY_OPEN, RELAYER_QUOTE_GAS_OPEN },
		{ RELAY_EXTEND, RELAYER_QUOTE_GAS_EXTEND },
		{ RELAY_STOP, RELAYER_QUOTE_GAS_STOP },
	};
	const struct srv_config *c = &r->s->cfg;
	struct rpc rpc;
	json_t *o, *toks;
	int rc = 0;

	struct quote_base base;

	if ((rc = rpc_init(&rpc, c->rpc_url, NULL, e)))
		return rc;
	if ((rc = quote_base_now(&base, r, &rpc, e))) { /* one fee level and native price for every quote */
		rpc_release(&rpc);
		return rc;
	}
	toks = json_array();
	for (size_t i = 1; !rc && i < c->n_tokens; i++) {
		const struct srv_token *t = &c->tokens[i];
		json_t *qs = json_object(), *to;
		uint64_t token_usd = 0;
		struct err pe = { 0 };
		int prc = price_now(&token_usd, r, &rpc, t, &pe);
		for (size_t k = 0; k < 3; k++) {
			struct quote q;
			struct err qe = { 0 };
			if (prc || quote_with(&q, r, &base, t, token_usd, gas_limit_of(kinds[k].gas),
					      &qe)) {
				if (prc)
					qe = pe;
				json_object_set_new(qs, relay_kind_name(kinds[k].k), json_pack("{s:s}", "error", qe.msg));
				continue;
			}
			json_object_set_new(qs, relay_kind_name(kinds[k].k),
					    json_pack("{s:o, s:I, s:o, s:I}", "fee", json_u256(&q.fee), "fee_usd_micro",
						      (json_int_t)q.fee_usd, "max_fee_per_gas",
						      json_u256(&q.max_fee_per_gas), "gas", (json_int_t)q.gas_limit));
		}
		to = json_pack("{s:o, s:s, s:i, s:o}", "address", json_addr(&t->address), "symbol", t->symbol,
			       "decimals", (int)t->decimals, "quotes", qs);
		json_array_append_new(toks, to);
	}
	rpc_release(&rpc);
	o = json_pack("{s:o, s:o, s:I, s:i, s:i, s:i, s:i, s:o}", "relayer", json_addr(&r->addr), "relay",
		      json_addr(&r->relay), "chain_id", (json_int_t)c->chain_id, "margin_pct",
		      (int)c->relay_margin_pct, "min_deadline_s", (int)c->relay_min_deadline_s, "pending_max",
		      (int)c->relay_pending_max, "hourly_max", (int)c->relay_hourly_max, "tokens", toks);
	if (!o)
		return err_set(e, ERR_NOMEM, "relay info");
	*out = o;
	return 0;
}

/* ---------------------------------------------------------------- intake */

/* A parsed request, before any check against the chain. */
struct intake {
	struct relay_intent it;
	uint8_t sig[65];
	bool has_permit;
	struct relay_permit permit;
	struct escrow_offer offer;       /* open */
	uint8_t offer_sig[ESCROW_SIG_MAX];
	size_t offer_sig_len;
	struct escrow_terms terms;       /* extend, stop */
	const struct srv_token *tok;
	uint64_t rental_id;
	uint8_t digest[32];              /* what the renter signed (check_signature) */
};

#define FAIL(st, cd, fld, ...)                                                                     \
	do {                                                                                       \
		*status = (st);                                                                    \
		*code = (cd);                                                                      \
		*field = (fld);                                                                    \
		return err_set(e, ERR_INVALID, __VA_ARGS__);                                       \
	} while (0)

/* FAIL keeping the lower layer's message in e (with a prefix when not NULL). */
#define FAIL_KEEP(st, cd, fld, prefix)                                                             \
	do {                                                                                       \
		*status = (st);                                                                    \
		*code = (cd);                                                                      \
		*field = (fld);                                                                    \
		if (prefix)                                                                        \
			err_wrap(e, "%s", (const char *)(prefix));                                 \
		e->code = ERR_INVALID;                                                             \
		return ERR_INVALID;                                                                \
	} while (0)

static int get_hex(uint8_t *out, size_t cap, size_t *len, const json_t *o, const char *f, struct err *e)
{
	const char *v;
	int rc;

	if ((rc = json_get_str(&v, o, f, 2 + 2 * cap, e)))
		return rc;
	return hex_decode(out, cap, len, v, strlen(v), e);
}

static int parse_permit(struct intake *in, const json_t *body, int *status, const char **code,
			const char **field, struct err *e)
{
	const json_t *p = json_object_get(body, "permit");
	size_t n = 0;

	if (!p || json_is_null(p))
		return 0;
	if (!json_is_object(p) || json_get_u256(&in->permit.value, p, "value", e) ||
	    json_get_u256(&in->permit.deadline, p, "deadline", e) ||
	    get_hex(in->permit.sig65, 65, &n, p, "signature", e) || n != 65)
		FAIL(400, "invalid", "permit",
		     "permit: {value, deadline, signature (65 bytes r||s||v as 0x-hex)} expected");
	in->has_permit = !u256_is_zero(&in->permit.value);
	return 0;
}

static int parse_target(struct intake *in, struct relayer *r, const json_t *body, int *status, const char **code,
			const char **field, struct err *e)
{
	const struct srv_config *c = &r->s->cfg;
	const char *f = NULL;
	int rc;

	if (in->it.kind == RELAY_OPEN) {
		const json_t *oj = json_object_get(body, "offer");
		if (!json_is_object(oj))
			FAIL(400, "invalid", "offer", "offer: the signed EIP-712 Offer object is required");
		if ((rc = srv_offer_parse(&in->offer, oj, &f, e)))
			FAIL_KEEP(400, "invalid", f, NULL);
		if (get_hex(in->offer_sig, sizeof in->offer_sig, &in->offer_sig_len, body, "offer_signature", e) ||
		    in->offer_sig_len == 0)
			FAIL(400, "invalid", "offer_signature", "offer_signature: the provider's signature, 0x-hex");
		if (escrow_offer_digest(in->it.target, c->chain_id, &c->escrow, &in->offer, e))
			FAIL_KEEP(400, "invalid", "offer", "offer");
		in->tok = server_token(r->s, &in->offer.token);
	} else {
		uint8_t enc[ESCROW_TERMS_SIZE];
		size_t n = 0;
		if (get_hex(enc, sizeof enc, &n, body, "terms", e) || n != sizeof enc ||
		    escrow_terms_decode(&in->terms, enc, sizeof enc, e))
			FAIL(400, "invalid", "terms", "terms: the rental's Terms, %d bytes as 0x-hex (GET /rentals/{id})",
			     ESCROW_TERMS_SIZE);
		if (!address_equal(&in->terms.renter, &in->it.renter))
			FAIL(403, "not_renter", "renter", "rental %" PRIu64 " is not this renter's", in->terms.id);
		escrow_rental_key(in->it.target, &in->terms, e);
		in->rental_id = in->terms.id;
		in->tok = server_token(r->s, &in->terms.token);
	}
	const struct eth_address *token = in->it.kind == RELAY_OPEN ? &in->offer.token : &in->terms.token;
	if (address_is_zero(token))
		FAIL(422, "native_not_relayed", "token",
		     "rentals paid in the native coin are not relayed: paying in it needs that coin anyway");
	if (!in->tok)
		FAIL(422, "token_not_accepted", "token", "the rental's token is not one this marketplace accepts");
	return 0;
}

static int parse_intake(struct intake *in, struct relayer *r, const json_t *body, int *status, const char **code,
			const char **field, struct err *e)
{
	const char *kind, *renter;
	size_t n = 0;

	memset(in, 0, sizeof *in);
	if (json_get_str(&kind, body, "kind", 16, e) || relay_kind_parse(&in->it.kind, kind, e))
		FAIL(400, "invalid", "kind", "kind: open, extend or stop");
	if (json_get_str(&renter, body, "renter", ADDRESS_STR_MAX, e) || address_parse(&in->it.renter, renter, e))
		FAIL(400, "invalid", "renter", "renter: a 0x address");
	if (json_get_u256(&in->it.nonce, body, "nonce", e))
		FAIL(400, "invalid", "nonce", "nonce: a decimal string (uint256)");
	if (json_get_u256(&in->it.max_fee, body, "max_fee", e))
		FAIL(400, "invalid", "max_fee", "max_fee: decimal token units (uint256)");
	if (in->it.kind != RELAY_STOP &&
	    (json_get_u256(&in->it.amount, body, "amount", e) || u256_is_zero(&in->it.amount)))
		FAIL(400, "invalid", "amount", "amount: decimal token units, above zero");
	if (in->it.kind == RELAY_STOP && json_object_get(body, "amount"))
		FAIL(400, "invalid", "amount", "amount: a stop carries no amount");
	if (json_get_uint(&in->it.deadline, body, "deadline", e))
		FAIL(400, "invalid", "deadline", "deadline: unix seconds");
	if (get_hex(in->sig, 65, &n, body, "signature", e) || n != 65)
		FAIL(400, "invalid", "signature", "signature: 65 bytes r||s||v as 0x-hex");
	if (parse_permit(in, body, status, code, field, e) || parse_target(in, r, body, status, code, field, e))
		return ERR_INVALID;
	return 0;
}

static int check_signature(struct intake *in, struct relayer *r, int *status, const char **code,
			   const char **field, struct err *e)
{
	struct eth_address signer;

	if (relay_intent_digest(in->digest, r->s->cfg.chain_id, &r->relay, &in->it, e))
		FAIL_KEEP(400, "invalid", "intent", NULL);
	if (secp_recover_address(&signer, in->digest, in->sig, e) || !address_equal(&signer, &in->it.renter))
		FAIL(401, "bad_signature", "signature",
		     "the signature is not the renter's signature of this intent for chain %" PRIu64
		     " and this escrow's relay", r->s->cfg.chain_id);
	return 0;
}

static int build_calldata(struct buf *cd, const struct intake *in, const u256 *fee, struct err *e)
{
	buf_reset(cd);
	return relay_cd_for(cd, &in->it, in->sig, 65, &in->offer, in->offer_sig, in->offer_sig_len, &in->terms,
			    in->has_permit ? &in->permit : NULL, fee, e);
}

/* eth_estimateGas of the relay call from the relayer; a revert gets its decoded reason. */
static int simulate(uint64_t *gas, struct relayer *r, struct rpc *rpc, const uint8_t *cd, size_t n, struct err *e)
{
	struct rpc_call_msg m = { .has_from = true, .from = r->addr, .has_to = true, .to = r->relay,
				  .data = cd, .data_len = n };
	struct buf ret;
	int rc = rpc_estimate_gas(rpc, gas, &m, e);

	if (rc != ERR_REVERT && rc != ERR_RPC)
		return rc;
	buf_init(&ret, 4096);
	if (escrow_eth_call(rpc, &ret, &r->addr, &r->relay, cd, n, e) == 0)
		err_set(e, ERR_REVERT, "the relay call would fail (estimate: node refused)");
	buf_release(&ret);
	return ERR_REVERT;
}

/* A count for the limits: `sql` takes ?1 = renter and ?2 = since when it names them. */
static int count_rows(struct relayer *r, int64_t *n, const char *sql, const char *renter, int64_t since,
		      struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (prepare(r, &st, sql, e))
		return ERR_IO;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_text(st, 1, renter, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, since);
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		rc = db_err(r, e, "count");
	sqlite3_finalize(st);
	return rc;
}

/* The row of (renter, nonce): 0 with *id and its digest, or ERR_NOT_FOUND. */
static int find_row(struct relayer *r, uint64_t *id, char digest[67], const char *renter, const char *nonce,
		    struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = ERR_NOT_FOUND;

	if (prepare(r, &st, "SELECT id, digest FROM relay_intent WHERE renter = ?1 AND nonce = ?2", e))
		return ERR_IO;
	sqlite3_bind_text(st, 1, renter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, nonce, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = (uint64_t)sqlite3_column_int64(st, 0);
		snprintf(digest, 67, "%s", (const char *)sqlite3_column_text(st, 1));
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

static int insert_row(struct relayer *r, uint64_t *id, const struct intake *in, const char *renter,
		      const char *nonce, const char *digest, const struct quote *q, const struct buf *cd, struct err *e)
{
	char amount[U256_DEC_MAX], max_fee[U256_DEC_MAX], fee[U256_DEC_MAX], token[ADDRESS_STR_MAX];
	sqlite3_stmt *st = NULL;
	int64_t now = server_now();
	int rc = 0;

	u256_to_dec(amount, &in->it.amount);
	u256_to_dec(max_fee, &in->it.max_fee);
	u256_to_dec(fee, &q->fee);
	address_to_lower(token, &in->tok->address);
	if (prepare(r, &st,
			       "INSERT INTO relay_intent (kind, renter, nonce, rental_id, token, amount, max_fee, fee,"
			       " fee_usd_micro, deadline, calldata, gas_limit, state, created_at, updated_at, digest)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'queued', ?13, ?13, ?14)", e))
		return ERR_IO;
	sqlite3_bind_text(st, 1, relay_kind_name(in->it.kind), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, renter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, nonce, -1, SQLITE_STATIC);
	if (in->rental_id)
		sqlite3_bind_int64(st, 4, (sqlite3_int64)in->rental_id);
	sqlite3_bind_text(st, 5, token, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, amount, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, max_fee, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, fee, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)q->fee_usd);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)in->it.deadline);
	sqlite3_bind_blob(st, 11, cd->data, (int)cd->len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, (sqlite3_int64)q->gas_limit);
	sqlite3_bind_int64(st, 13, now);
	sqlite3_bind_text(st, 14, digest, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(r, e, "insert");
	else
		*id = (uint64_t)sqlite3_last_insert_rowid(r->db);
	sqlite3_finalize(st);
	return rc;
}

/* Limits, duplicates, the simulation and the fee, then the row; under r->mu. */
static int accept_locked(struct relayer *r, struct intake *in, uint64_t *id, int *status, const char **code,
			 const char **field, struct err *e)
{
	const struct srv_config *c = &r->s->cfg;
	char renter[ADDRESS_STR_MAX], nonce[U256_DEC_MAX], mf[U256_DEC_MAX], fee[U256_DEC_MAX];
	char digest[67], seen[67];
	int64_t n = 0, total = 0, now = server_now();
	struct quote q;
	struct rpc rpc;
	struct buf cd;
	uint64_t gas = 0;
	int rc;

	address_to_lower(renter, &in->it.renter);
	u256_to_dec(nonce, &in->it.nonce);
	hex_encode_0x(digest, in->digest, 32);
	if (find_row(r, id, seen, renter, nonce, e) == 0) {
		if (strcmp(seen, digest) != 0)
			FAIL(409, "nonce_used", "nonce", "this renter's nonce %s is already taken by relay intent %" PRIu64
			     " (another intent): sign with a fresh nonce", nonce, *id);
		*status = 200; /* a retried POST of the same intent: its current state, nothing sent again */
		return 0;
	}
	if ((rc = count_rows(r, &n, "SELECT count(*) FROM relay_intent WHERE renter = ?1 AND"
				    " state IN ('queued','pending')", renter, 0, e)) ||
	    (rc = count_rows(r, &total, "SELECT count(*) FROM relay_intent WHERE state IN ('queued','pending')",
			     NULL, 0, e)))
		return rc;
	if (n >= c->relay_pending_max)
		FAIL(429, "too_many_pending", "renter", "this renter has %" PRId64 " intents in flight (at most %u)", n,
		     c->relay_pending_max);
	if (total >= RELAYER_QUEUE_MAX)
		FAIL(503, "queue_full", NULL, "the relayer's queue is full (%d); try again later", RELAYER_QUEUE_MAX);
	if ((rc = count_rows(r, &n, "SELECT count(*) FROM relay_intent WHERE renter = ?1 AND created_at > ?2",
			     renter, now - 3600, e)))
		return rc;
	if (n >= c->relay_hourly_max)
		FAIL(429, "too_many_intents", "renter", "this renter sent %" PRId64 " intents in the last hour (at most %u)",
		     n, c->relay_hourly_max);
	if ((rc = rpc_init(&rpc, c->rpc_url, NULL, e)))
		return rc;
	buf_init(&cd, CALLDATA_MAX);
	/* the deadline against the chain's clock, which is what the contract judges it by */
	struct rpc_block head;
	if ((rc = rpc_get_block(&rpc, &head, "latest", e)))
		goto out;
	int64_t chain_now = (int64_t)head.timestamp;
	if ((int64_t)in->it.deadline < chain_now + (int64_t)c->relay_min_deadline_s) {
		*status = 422;
		*code = "deadline_too_soon";
		*field = "deadline";
		rc = err_set(e, ERR_INVALID, "deadline: %" PRId64 " s after the chain's time; the relayer needs at "
			     "least %u s to get it mined", (int64_t)in->it.deadline - chain_now, c->relay_min_deadline_s);
		goto out;
	}
	if ((int64_t)in->it.deadline > chain_now + RELAYER_DEADLINE_MAX_S) {
		*status = 422;
		*code = "deadline_too_far";
		*field = "deadline";
		rc = err_set(e, ERR_INVALID, "deadline: more than %d s after the chain's time", RELAYER_DEADLINE_MAX_S);
		goto out;
	}
	if ((rc = build_calldata(&cd, in, &in->it.max_fee, e)))
		goto out;
	if ((rc = simulate(&gas, r, &rpc, cd.data, cd.len, e))) {
		if (rc == ERR_REVERT) {
			*status = 422;
			*code = "would_revert";
			*field = NULL;
			err_wrap(e, "refused: on chain this intent would fail");
			rc = ERR_INVALID;
		}
		goto out;
	}
	if ((rc = quote_fee(&q, r, &rpc, in->tok, gas_limit_of(gas), e))) {
		if (rc == ERR_STATE) {
			*status = 503;
			*code = "no_price";
			*field = "token";
			rc = ERR_INVALID;
		}
		goto out;
	}
	if (u256_cmp(&q.fee, &in->it.max_fee) > 0) {
		u256_to_dec(mf, &in->it.max_fee);
		u256_to_dec(fee, &q.fee);
		*status = 422;
		*code = "fee_too_low";
		*field = "max_fee";
		rc = err_set(e, ERR_INVALID,
			     "max_fee %s is below the relayer's fee %s (%" PRIu64 " gas at the current fee level, with a"
			     " %u%% margin): sign a higher maximum", mf, fee, q.gas_limit, c->relay_margin_pct);
		goto out;
	}
	if ((rc = build_calldata(&cd, in, &q.fee, e)) || (rc = insert_row(r, id, in, renter, nonce, digest, &q, &cd, e)))
		goto out;
	*status = 202;
	u256_to_dec(fee, &q.fee);
	log_info("relay intent accepted", "id=%" PRIu64 " kind=%s renter=%s fee=%s %s", *id,
		 relay_kind_name(in->it.kind), renter, fee, in->tok->symbol);
out:
	buf_release(&cd);
	rpc_release(&rpc);
	return rc;
}

int relayer_accept(struct relayer *r, const json_t *body, json_t **out, int *status, const char **code,
		   const char **field, struct err *e)
{
	struct intake *in = calloc(1, sizeof *in);
	uint64_t id = 0;
	int rc;

	*code = "invalid";
	*field = NULL;
	*status = 400;
	if (!in)
		return err_set(e, ERR_NOMEM, "intake");
	rc = parse_intake(in, r, body, status, code, field, e);
	if (!rc)
		rc = check_signature(in, r, status, code, field, e);
	if (!rc) {
		pthread_mutex_lock(&r->mu);
		rc = accept_locked(r, in, &id, status, code, field, e);
		pthread_mutex_unlock(&r->mu);
	}
	free(in);
	if (!rc)
		rc = relayer_view(r, id, out, e);
	return rc;
}

/* ---------------------------------------------------------------- views */

int relayer_view(struct relayer *r, uint64_t id, json_t **out, struct err *e)
{
	static const char *const text[] = { "kind", "renter", "nonce", "token", "amount", "max_fee", "fee",
					    "state", "tx_hash", "gas_cost_wei", "error" };
	static const char *const ints[] = { "rental_id", "fee_usd_micro", "deadline", "block_number", "gas_used",
					    "created_at", "updated_at" };
	sqlite3_stmt *st = NULL;
	json_t *o;
	int rc = 0;

	if (prepare(r, &st, "SELECT kind, renter, nonce, token, amount, max_fee, fee, state, tx_hash, gas_cost_wei,"
			       " error, rental_id, fee_usd_micro, deadline, block_number, gas_used, created_at,"
			       " updated_at FROM relay_intent WHERE id = ?1", e))
		return ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return err_set(e, ERR_NOT_FOUND, "no relay intent %" PRIu64, id);
	}
	o = json_pack("{s:I}", "id", (json_int_t)id);
	for (int i = 0; o && i < 11; i++)
		json_object_set_new(o, text[i],
				    sqlite3_column_type(st, i) == SQLITE_NULL
					    ? json_null()
					    : json_string((const char *)sqlite3_column_text(st, i)));
	for (int i = 0; o && i < 7; i++)
		json_object_set_new(o, ints[i],
				    sqlite3_column_type(st, 11 + i) == SQLITE_NULL
					    ? json_null()
					    : json_integer(sqlite3_column_int64(st, 11 + i)));
	sqlite3_finalize(st);
	if (!o)
		return err_set(e, ERR_NOMEM, "relay view");
	const char *tok = json_string_value(json_object_get(o, "token"));
	struct eth_address ta;
	const struct srv_token *t = tok && address_parse(&ta, tok, NULL) == 0 ? server_token(r->s, &ta) : NULL;
	if (t) {
		json_object_set_new(o, "symbol", json_string(t->symbol));
		json_object_set_new(o, "decimals", json_integer(t->decimals));
	}
	json_object_set_new(o, "relayer", json_addr(&r->addr));
	*out = o;
	return rc;
}

/* ---------------------------------------------------------------- the worker */

static int set_state(struct relayer *r, uint64_t id, const char *state, const char *error, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (prepare(r, &st, "UPDATE relay_intent SET state = ?2, error = ?3, updated_at = ?4 WHERE id = ?1", e))
		return ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	if (error)
		sqlite3_bind_text(st, 3, error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, server_now());
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(r, e, "update");
	sqlite3_finalize(st);
	if (!rc && error)
		log_warn("relay intent failed", "id=%" PRIu64 " reason=\"%s\"", id, error);
	return rc;
}

static int set_pending(struct relayer *r, uint64_t id, uint64_t nonce, const uint8_t hash[32], struct err *e)
{
	char h[67];
	sqlite3_stmt *st = NULL;
	int rc = 0;

	hex_encode_0x(h, hash, 32);
	if (prepare(r, &st, "UPDATE relay_intent SET state = 'pending', sender_nonce = ?2, tx_hash = ?3, updated_at = ?4"
			       " WHERE id = ?1 AND (state <> 'pending' OR tx_hash IS NOT ?3)", e))
		return ERR_IO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)nonce);
	sqlite3_bind_text(st, 3, h, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, server_now());
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(r, e, "update");
	sqlite3_finalize(st);
	return rc;
}

/* The receipt of a mined intent: confirmed (gas, block, the rental id of an open) or failed. */
static int settle_mined(struct relayer *r, uint64_t id, const struct sender_info *si, struct err *e)
{
	struct rpc_receipt rc_;
	char h[67], wei[U256_DEC_MAX];
	sqlite3_stmt *st = NULL;
	u256 cost, g;
	uint64_t rental = 0;
	int rc;

	if ((rc = rpc_get_receipt(&r->rpc, &rc_, si->mined_hash, e)))
		return rc;
	for (size_t i = 0; i < rc_.n_logs; i++) {
		struct relay_event ev;
		if (address_equal(&rc_.logs[i].address, &r->relay) && relay_event_decode(&ev, &rc_.logs[i], NULL) == 0)
			rental = ev.rental_id;
	}
	g = u256_from_u64(rc_.gas_used);
	u256_mul(&cost, &g, &rc_.effective_gas_price);
	u256_to_dec(wei, &cost);
	hex_encode_0x(h, si->mined_hash, 32);
	if (prepare(r, &st, "UPDATE relay_intent SET state = ?2, tx_hash = ?3, block_number = ?4, gas_used = ?5,"
			       " gas_cost_wei = ?6, rental_id = COALESCE(rental_id, ?7), error = ?8, updated_at = ?9"
			       " WHERE id = ?1", e)) {
		rpc_receipt_release(&rc_);
		return ERR_IO;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_text(st, 2, rc_.status == 1 ? "confirmed" : "failed", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, h, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)rc_.block_number);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)rc_.gas_used);
	sqlite3_bind_text(st, 6, wei, -1, SQLITE_TRANSIENT);
	if (rental)
		sqlite3_bind_int64(st, 7, (sqlite3_int64)rental);
	if (rc_.status != 1)
		sqlite3_bind_text(st, 8, "the transaction reverted on chain (its state changed after the check)", -1,
				  SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, server_now());
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(r, e, "update");
	sqlite3_finalize(st);
	if (!rc)
		log_info("relay intent mined", "id=%" PRIu64 " status=%" PRIu64 " gas=%" PRIu64 " block=%" PRIu64, id,
			 rc_.status, rc_.gas_used, rc_.block_number);
	rpc_receipt_release(&rc_);
	return rc;
}

/* Sends one queued row (or, after a crash, finds that it was sent) and marks it pending. */
static int send_row(struct relayer *r, uint64_t id, const uint8_t *cd, size_t n, uint64_t gas_limit,
		    int64_t deadline, int64_t chain_now, struct err *e)
{
	char tag[32];
	uint64_t nonce = 0, est;
	bool already = false;
	struct sender_info si;
	int rc;

	snprintf(tag, sizeof tag, "relay:%" PRIu64, id);
	rc = sender_find_tag(r->snd, tag, &nonce, e);
	if (rc == ERR_NOT_FOUND) {
		if (chain_now > deadline)
			return set_state(r, id, "failed", "its deadline passed before it could be sent", e);
		/* the chain may have moved since acceptance: never pay gas for a call that would fail */
		if ((rc = simulate(&est, r, &r->rpc, cd, n, e)) == ERR_REVERT) {
			char why[sizeof e->msg + 64];
			snprintf(why, sizeof why, "it would fail on chain now: %s", e->msg);
			return set_state(r, id, "failed", why, e);
		}
		if (rc)
			return rc;
		rc = sender_submit_once(r->snd, tag, &nonce, &already, &r->relay, NULL, cd, n, gas_limit, e);
		if (rc == ERR_RPC || rc == ERR_REVERT || rc == ERR_CONFLICT) {
			char why[sizeof e->msg + 32];
			snprintf(why, sizeof why, "the node refused it: %s", e->msg);
			return set_state(r, id, "failed", why, e);
		}
	}
	if (rc)
		return rc;
	if ((rc = sender_info(r->snd, nonce, &si, e)))
		return rc;
	return set_pending(r, id, nonce, si.current_hash, e);
}

/* One row the worker acts on, copied out of its SELECT: no statement stays open while the sender (its own
 * connection to the same file) writes, which would leave this connection's snapshot stale (SQLITE_BUSY). */
struct work_row {
	uint64_t id;
	uint64_t n1;   /* queued: gas limit; pending: sender nonce */
	int64_t n2;    /* queued: deadline */
	uint8_t *cd;   /* queued: calldata (malloc'd) */
	size_t cd_len;
};
#define WORK_ROWS_MAX 32

static int load_rows(struct relayer *r, struct work_row *rows, size_t *n, const char *sql, bool with_cd,
		     struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = 0;

	*n = 0;
	if (prepare(r, &st, sql, e))
		return ERR_IO;
	while (*n < WORK_ROWS_MAX && sqlite3_step(st) == SQLITE_ROW) {
		struct work_row *w = &rows[*n];
		memset(w, 0, sizeof *w);
		w->id = (uint64_t)sqlite3_column_int64(st, 0);
		w->n1 = (uint64_t)sqlite3_column_int64(st, 1);
		w->n2 = sqlite3_column_int64(st, 2);
		if (with_cd) {
			w->cd_len = (size_t)sqlite3_column_bytes(st, 3);
			if (!(w->cd = malloc(w->cd_len ? w->cd_len : 1))) {
				rc = err_set(e, ERR_NOMEM, "calldata");
				break;
			}
			memcpy(w->cd, sqlite3_column_blob(st, 3), w->cd_len);
		}
		(*n)++;
	}
	sqlite3_finalize(st);
	return rc;
}

static void free_rows(struct work_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].cd);
}

static int send_queued(struct relayer *r, struct err *e)
{
	struct work_row rows[WORK_ROWS_MAX];
	struct rpc_block head;
	size_t n = 0;
	int rc;

	rc = load_rows(r, rows, &n, "SELECT id, gas_limit, deadline, calldata FROM relay_intent WHERE state = 'queued'"
				   " ORDER BY id LIMIT 32", true, e);
	if (!rc && n) /* the chain's clock for the deadlines: one RPC per round with work, none when idle */
		rc = rpc_get_block(&r->rpc, &head, "latest", e);
	for (size_t i = 0; !rc && i < n; i++)
		rc = send_row(r, rows[i].id, rows[i].cd, rows[i].cd_len, rows[i].n1, rows[i].n2, (int64_t)head.timestamp, e);
	free_rows(rows, n);
	return rc;
}

static int follow_pending(struct relayer *r, struct err *e)
{
	struct work_row rows[WORK_ROWS_MAX];
	size_t n = 0;
	int rc = load_rows(r, rows, &n, "SELECT id, sender_nonce, 0 FROM relay_intent WHERE state = 'pending'"
					 " ORDER BY id LIMIT 32", false, e);

	for (size_t i = 0; !rc && i < n; i++) {
		uint64_t id = rows[i].id, nonce = rows[i].n1;
		struct sender_info si;
		if ((rc = sender_info(r->snd, nonce, &si, e)))
			break;
		switch (si.state) {
		case SENDER_PENDING: rc = set_pending(r, id, nonce, si.current_hash, e); break;
		case SENDER_MINED: rc = settle_mined(r, id, &si, e); break;
		case SENDER_LOST:
			rc = set_state(r, id, "failed", "its nonce was taken by a transaction the relayer did not send", e);
			break;
		case SENDER_REJECTED: rc = set_state(r, id, "failed", "the node refused the transaction", e); break;
		}
	}
	free_rows(rows, n);
	return rc;
}

int relayer_round(struct relayer *r, struct err *e)
{
	int rc = send_queued(r, e);

	if (!rc)
		rc = sender_poll(r->snd, e);
	if (!rc)
		rc = follow_pending(r, e);
	return rc;
}

static void *relayer_main(void *arg)
{
	struct relayer *r = arg;

	while (!atomic_load(&r->s->stopping)) {
		struct err e = { 0 };
		if (relayer_round(r, &e))
			log_warn("relayer round failed", "err=\"%s\"", e.msg);
		server_sleep(r->s, r->s->cfg.relay_poll_ms ? r->s->cfg.relay_poll_ms : 250);
	}
	return NULL;
}

int relayer_start(struct relayer *r, struct err *e)
{
	if (pthread_create(&r->th, NULL, relayer_main, r) != 0)
		return err_set(e, ERR_NOMEM, "relayer thread");
	r->running = true;
	return 0;
}

void relayer_stop(struct relayer *r)
{
	if (r && r->running) {
		pthread_join(r->th, NULL);
		r->running = false;
	}
}
