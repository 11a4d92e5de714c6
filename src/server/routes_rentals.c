/*
 * routes_rentals.c — rentals as the indexer mirrored them from chain: GET /rentals/{id},
 * GET /rentals/{id}/receipt, GET /rentals/{id}/stream (Server-Sent Events), GET /me/rentals,
 * GET /me/receipts.csv, POST /rentals/{id}/rating, POST /rentals/{id}/access,
 * POST /rentals/{id}/attestation.
 *
 * Who may do what: reads of a rental are public (the chain already is); rating: the renter of a
 * finished rental, once; access report: the rental's provider (its agent, signed in as the provider),
 * once; attestation: the renter or the provider, when the server has a monitor key.
 *
 * The stream sends `event: status` every second with the live accrued cost, the remaining balance
 * and the time left at the current rate (escrow_mirror_quote over the latest mirrored state word),
 * plus `event: reclaim` (stop_at, notice_left_s) on every tick once the provider has reclaimed an
 * interruptible rental, and `event: low_balance` while the remaining balance is at or below the renter's `low` query
 * parameter (token smallest units). It ends when the rental is no longer open, after
 * STREAM_MAX_EVENTS events (clients reconnect, as EventSource does), or when the server stops.
 */
#include "server/server.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"
#include "eth/address.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ME_LIMIT_DEFAULT 50
#define ME_LIMIT_MAX 1000
#define STREAM_MAX_EVENTS 3600
#define RECEIPTS_CSV_MAX ((size_t)16 << 20) /* GET /me/receipts.csv: ME_LIMIT_MAX rentals with their payments */

int srv_parse_id(uint64_t *out, const char *s)
{
	uint64_t v = 0;
	if (!s || !*s || strlen(s) > 19)
		return ERR_INVALID;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return ERR_INVALID;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	if (v == 0 || v > (uint64_t)INT64_MAX)
		return ERR_RANGE;
	*out = v;
	return 0;
}

/*
 * The rental's Terms as the contract takes them (the first argument of extend, stop, claim, dispute,
 * quote), field names as in RentalEscrow.sol; NULL when the mirror holds none. Integers that can pass
 * 2^53 (rate, id, epoch) are decimal strings.
 */
static json_t *terms_json(const struct store_rental *r)
{
	struct escrow_terms t;
	uint8_t enc[ESCROW_TERMS_SIZE];
	json_t *extra = NULL, *o = NULL;
	const char *th;
	char renter[ADDRESS_STR_MAX], provider[ADDRESS_STR_MAX], payout[ADDRESS_STR_MAX], token[ADDRESS_STR_MAX],
		arbiter[ADDRESS_STR_MAX], monitor[ADDRESS_STR_MAX], rate[U256_DEC_MAX], spec[2 + 64 + 1], id[24],
		epoch[24];

	if (json_parse(&extra, r->extra, strlen(r->extra), STORE_JSON_SIZE, NULL) ||
	    json_get_str(&th, extra, "terms", 2 * ESCROW_TERMS_SIZE + 2, NULL) ||
	    hex_decode_exact(enc, sizeof enc, th, NULL) || escrow_terms_decode(&t, enc, sizeof enc, NULL)) {
		json_decref(extra);
		return NULL;
	}
	json_decref(extra);
	address_to_lower(renter, &t.renter);
	address_to_lower(provider, &t.provider);
	address_to_lower(payout, &t.payout);
	address_to_lower(token, &t.token);
	address_to_lower(arbiter, &t.arbiter);
	address_to_lower(monitor, &t.monitor);
	u256_to_dec(rate, &t.rate);
	hex_encode_0x(spec, t.spec_hash, sizeof t.spec_hash);
	snprintf(id, sizeof id, "%" PRIu64, t.id);
	snprintf(epoch, sizeof epoch, "%" PRIu64, t.epoch);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:I, s:I, s:I, s:I, s:s, s:s}", "id", id,
		      "renter", renter, "provider", provider, "payout", payout, "token", token, "arbiter", arbiter,
		      "monitor", monitor, "rate", rate, "feeBps", (int)t.fee_bps, "interruptible", t.interruptible,
		      "noticeSecs", (json_int_t)t.notice_secs, "graceSecs", (json_int_t)t.grace_secs, "disputeSecs",
		      (json_int_t)t.dispute_secs, "maxSecs", (json_int_t)t.max_secs, "epoch", epoch, "specHash", spec);
	return o;
}

json_t *rental_json(struct server *s, const struct store_rental *r)
{
	struct store_access_report a;
	json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s,"
			      " s:s, s:I, s:I, s:I, s:I, s:s, s:I}",
			      "id", (json_int_t)r->id, "chain_id", (json_int_t)r->chain_id, "offer_hash",
			      r->offer_hash, "renter", r->renter, "provider", r->provider, "payout",
			      r->payout, "token", r->token, "rate", r->rate, "fee_bps", (int)r->fee_bps,
			      "deposited", r->deposited, "claimed", r->claimed, "provider_paid",
			      r->provider_paid, "fee_paid", r->fee_paid, "refunded", r->refunded, "state",
			      store_rental_state_name(r->state), "opened_at", (json_int_t)r->opened_at, "paid_until",
			      (json_int_t)r->paid_until, "ended_at", (json_int_t)r->ended_at,
			      "opened_block", (json_int_t)r->opened_block, "opened_tx", r->opened_tx,
			      "last_block", (json_int_t)r->last_block);
	if (o && store_access_report_get(s->store, &a, r->chain_id, r->id, NULL) == 0) {
		json_t *acc = json_pack("{s:s, s:i, s:s, s:I}", "host", a.host, "port", (int)a.port, "user", a.user,
					"granted_at", (json_int_t)a.granted_at);
		json_t *keys = json_array();
		for (char *line = a.host_keys, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
			nl = strchr(line, '\n');
			json_array_append_new(keys, json_stringn(line, nl ? (size_t)(nl - line) : strlen(line)));
		}
		if (acc)
			json_object_set_new(acc, "host_keys", keys);
		else
			json_decref(keys);
		json_object_set_new(o, "access", acc);
	}
	json_t *terms = o ? terms_json(r) : NULL;
	if (terms)
		json_object_set_new(o, "terms", terms);
	return o;
}

static int load_rental(struct server *s, struct store_rental *r, const struct srv_req *rq,
		       struct srv_resp *rs)
{
	struct err e = { 0 };
	uint64_t id;
	int rc;

	if (srv_parse_id(&id, rq->arg))
		return srv_error(rs, 400, "invalid", "id", "rental id: a positive decimal integer");
	if ((rc = store_rental_get(s->store, r, s->cfg.chain_id, id, &e)))
		return srv_error_from(rs, rc, "id", &e);
	return 0;
}

int route_rental_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct store_rental r;
	int rc;

	if ((rc = load_rental(s, &r, rq, rs)))
		return rc;
	return srv_json(rs, 200, rental_json(s, &r));
}

int route_rental_receipt(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct store_rental r;
	struct err e = { 0 };
	json_t *j = NULL;
	int rc;

	if ((rc = load_rental(s, &r, rq, rs)))
		return rc;
	if ((rc = receipt_json(s, &j, &r, &e)))
		return srv_error_from(rs, rc, NULL, &e);
	return srv_json(rs, 200, j);
}

struct list_ctx {
	struct server *s;
	json_t *arr;
	struct buf *csv;
	int err;
};

static int list_cb(void *ctx, const struct store_rental *r)
{
	struct list_ctx *c = ctx;
	if (c->arr)
		return json_array_append_new(c->arr, rental_json(c->s, r)) ? ERR_NOMEM : 0;
	return receipt_csv_line(c->s, c->csv, r, NULL);
}

static int me_limit(uint32_t *out, const struct srv_req *rq)
{
	const char *l = rq->query(rq, "limit");
	uint64_t v = 0;
	*out = ME_LIMIT_DEFAULT;
	if (!l)
		return 0;
	if (!*l || strlen(l) > 6)
		return ERR_INVALID;
	for (const char *c = l; *c; c++) {
		if (*c < '0' || *c > '9')
			return ERR_INVALID;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	if (v < 1 || v > ME_LIMIT_MAX)
		return ERR_RANGE;
	*out = (uint32_t)v;
	return 0;
}

int route_me_rentals(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE];
	struct list_ctx c = { s, NULL, NULL, 0 };
	struct err e = { 0 };
	const char *role = rq->query(rq, "role");
	uint32_t limit;
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)))
		return rc;
	if (me_limit(&limit, rq))
		return srv_error(rs, 400, "invalid", "limit", "limit: 1..%d", ME_LIMIT_MAX);
	if (role && strcmp(role, "renter") != 0 && strcmp(role, "provider") != 0)
		return srv_error(rs, 400, "invalid", "role", "role: renter or provider");
	c.arr = json_array();
	if (!c.arr)
		return srv_error(rs, 500, "internal", NULL, "out of memory");
	if (role && strcmp(role, "provider") == 0)
		rc = store_rentals_by_provider(s->store, s->cfg.chain_id, addr, limit, list_cb, &c, &e);
	else
		rc = store_rentals_by_renter(s->store, s->cfg.chain_id, addr, limit, list_cb, &c, &e);
	if (rc) {
		json_decref(c.arr);
		return srv_error_from(rs, rc < 0 ? rc : ERR_NOMEM, NULL, &e);
	}
	return srv_json(rs, 200, json_pack("{s:s, s:o}", "address", addr, "rentals", c.arr));
}

int route_me_receipts_csv(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE];
	struct buf b;
	struct list_ctx c = { s, NULL, &b, 0 };
	struct err e = { 0 };
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)))
		return rc;
	buf_init(&b, RECEIPTS_CSV_MAX);
	receipt_csv_header(&b);
	rc = store_rentals_by_renter(s->store, s->cfg.chain_id, addr, ME_LIMIT_MAX, list_cb, &c, &e);
	if (rc) {
		buf_release(&b);
		return srv_error_from(rs, rc < 0 ? rc : ERR_NOMEM, NULL, &e);
	}
	rs->text_len = b.len;
	rs->text = (char *)buf_detach(&b, NULL);
	rs->content_type = "text/csv; charset=utf-8";
	snprintf(rs->extra_header, sizeof rs->extra_header,
		 "Content-Disposition: attachment; filename=\"flopmarket-receipts.csv\"");
	rs->status = rs->text ? 200 : 500;
	if (!rs->text)
		return srv_error(rs, 500, "internal", NULL, "out of memory");
	return 200;
}

/* Counts UTF-8 characters; -1 when invalid UTF-8 or a control character other than \n \t. */
static long utf8_chars(const char *s)
{
	long n = 0;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
		if (!len || (*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
			return -1;
		for (int i = 1; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)
				return -1;
		p += len;
		n++;
	}
	return n;
}

int route_rental_rating(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE];
	struct store_rental r;
	struct store_rating rt;
	struct err e = { 0 };
	const char *comment = "";
	uint64_t stars;
	json_t *body = NULL;
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)) || (rc = load_rental(s, &r, rq, rs)))
		return rc;
	if (strcmp(r.renter, addr) != 0)
		return srv_error(rs, 403, "forbidden", "id", "only the rental's renter may rate it");
	if (r.state == STORE_RENTAL_OPEN)
		return srv_error(rs, 409, "state", "id", "the rental has not ended yet");
	if ((rc = srv_body_object(&body, rq, rs)))
		return rc;
	if ((rc = json_get_uint(&stars, body, "stars", &e)) || stars < 1 || stars > 5) {
		json_decref(body);
		return srv_error(rs, 400, "invalid", "stars", "stars: an integer 1..5");
	}
	rc = json_get_str(&comment, body, "comment", STORE_COMMENT_SIZE - 1, &e);
	if (rc == ERR_NOT_FOUND)
		comment = "";
	else if (rc || utf8_chars(comment) < 0 || utf8_chars(comment) > STORE_COMMENT_CHARS) {
		json_decref(body);
		return srv_error(rs, 400, "invalid", "comment",
				 "comment: at most %d UTF-8 characters, no control characters",
				 STORE_COMMENT_CHARS);
	}
	memset(&rt, 0, sizeof rt);
	rt.chain_id = r.chain_id;
	rt.rental_id = r.id;
	snprintf(rt.renter, sizeof rt.renter, "%s", addr);
	rt.stars = (uint32_t)stars;
	snprintf(rt.comment, sizeof rt.comment, "%s", comment);
	rt.created_at = server_now();
	json_decref(body);
	rc = store_rating_insert(s->store, &rt, &e);
	if (rc == ERR_CONFLICT)
		return srv_error(rs, 409, "already_rated", "id", "this rental was already rated");
	if (rc)
		return srv_error_from(rs, rc, "comment", &e);
	listing_provider_changed(s, r.provider);
	return srv_json(rs, 201, json_pack("{s:I, s:i}", "rental_id", (json_int_t)r.id, "stars", (int)stars));
}

/*
 * The optional "host_keys" of an access report: at most STORE_HOST_KEYS_MAX "type base64" lines, joined
 * by newlines into out (room STORE_HOST_KEYS_SIZE). The server relays them; renters' clients check them
 * strictly before pinning.
 */
static int access_host_keys(char *out, const json_t *body, struct srv_resp *rs)
{
	const json_t *keys = json_object_get(body, "host_keys"), *k;
	size_t i, n = 0;

	out[0] = '\0';
	if (!keys || json_is_null(keys))
		return 0;
	if (!json_is_array(keys) || json_array_size(keys) > STORE_HOST_KEYS_MAX)
		return srv_error(rs, 400, "invalid", "host_keys", "host_keys: an array of at most 4 SSH public keys");
	json_array_foreach(keys, i, k) {
		const char *v = json_string_value(k), *sp = v ? strchr(v, ' ') : NULL;
		size_t len = v ? strlen(v) : 0;
		if (!sp || sp == v || len > STORE_HOST_KEY_MAX || strchr(sp + 1, ' ') || strchr(v, '\n') ||
		    strspn(sp + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != strlen(sp + 1) ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-@.") != (size_t)(sp - v))
			return srv_error(rs, 400, "invalid", "host_keys",
					 "host_keys: each a \"type base64\" SSH public key line, at most 3000 bytes");
		n += (size_t)snprintf(out + n, STORE_HOST_KEYS_SIZE - n, "%s%s", n ? "\n" : "", v);
	}
	return 0;
}

int route_rental_access(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE];
	struct store_rental r;
	struct store_access_report a;
	struct err e = { 0 };
	const char *host, *user;
	uint64_t port;
	json_t *body = NULL;
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)) || (rc = load_rental(s, &r, rq, rs)))
		return rc;
	if (strcmp(r.provider, addr) != 0)
		return srv_error(rs, 403, "forbidden", "id", "only the rental's provider may report access");
	if ((rc = srv_body_object(&body, rq, rs)))
		return rc;
	memset(&a, 0, sizeof a);
	if (json_get_str(&host, body, "host", STORE_HOST_SIZE - 1, &e) || !host[0]) {
		json_decref(body);
		return srv_error(rs, 400, "invalid", "host", "host: a host name or address is required");
	}
	for (const char *c = host; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '.' || *c == '-' || *c == ':' || *c == '[' || *c == ']')) {
			json_decref(body);
			return srv_error(rs, 400, "invalid", "host", "host: letters, digits, '.', '-', ':' only");
		}
	if (json_get_uint(&port, body, "port", &e) || port < 1 || port > 65535) {
		json_decref(body);
		return srv_error(rs, 400, "invalid", "port", "port: 1..65535");
	}
	if (json_get_str(&user, body, "user", STORE_USER_SIZE - 1, &e)) {
		json_decref(body);
		return srv_error(rs, 400, "invalid", "user", "user: a Unix user name is required");
	}
	if ((rc = access_host_keys(a.host_keys, body, rs))) {
		json_decref(body);
		return rc;
	}
	a.chain_id = r.chain_id;
	a.rental_id = r.id;
	a.granted_at = server_now();
	snprintf(a.host, sizeof a.host, "%s", host);
	a.port = (uint32_t)port;
	snprintf(a.user, sizeof a.user, "%s", user);
	json_decref(body);
	rc = store_access_report_insert(s->store, &a, &e);
	if (rc == ERR_CONFLICT)
		return srv_error(rs, 409, "already_reported", "id", "access was already reported");
	if (rc)
		return srv_error_from(rs, rc, rc == ERR_INVALID ? "user" : NULL, &e);
	listing_provider_changed(s, r.provider); /* its response time moved */
	return srv_json(rs, 201, json_pack("{s:I, s:I, s:I}", "rental_id", (json_int_t)r.id,
					   "granted_at", (json_int_t)a.granted_at, "response_time_s",
					   (json_int_t)(a.granted_at - r.opened_at)));
}

/*
 * The ended rental's end time and billed seconds, from its latest indexed state word (what the escrow
 * will compare an attestation with). ERR_STATE while the rental has not ended.
 */
static int rental_end_figures(uint64_t *ended_at, uint32_t *billed, const struct store_rental *r,
			      struct err *e)
{
	struct escrow_terms t;
	struct escrow_view v;
	uint8_t enc[ESCROW_TERMS_SIZE];
	const char *terms_hex, *state_hex;
	json_t *extra = NULL;
	u256 word;
	int rc;

	if ((rc = json_parse(&extra, r->extra, strlen(r->extra), STORE_JSON_SIZE, e)) ||
	    (rc = json_get_str(&terms_hex, extra, "terms", 2 * ESCROW_TERMS_SIZE + 2, e)) ||
	    (rc = hex_decode_exact(enc, sizeof enc, terms_hex, e)) ||
	    (rc = escrow_terms_decode(&t, enc, sizeof enc, e)) ||
	    (rc = json_get_str(&state_hex, extra, "state", U256_HEX_MAX, e)) ||
	    (rc = u256_parse_hex(&word, state_hex, e)) || (rc = escrow_state_view(&v, &t, &word, e)))
		goto out;
	if (v.phase == ESCROW_PHASE_ACTIVE || v.ended_at == 0) {
		rc = err_set(e, ERR_STATE, "the rental has not ended");
		goto out;
	}
	*ended_at = v.ended_at;
	*billed = v.used_secs;
out:
	json_decref(extra);
	return rc;
}

/*
 * POST /rentals/{id}/attestation: the monitor's signed uptime of an ENDED rental, bound to its end
 * (endedAt, billed seconds): secondsUp = billed * up / observed over the probes between open and end.
 * Refused while the rental runs (409), when it was never probed (409) and after a ruling (409).
 */
int route_rental_attestation(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE], target[STORE_TARGET_SIZE], sig_hex[133], mon[ADDRESS_STR_MAX];
	struct store_rental r;
	struct escrow_uptime u;
	struct err e = { 0 };
	uint64_t up = 0, obs = 0;
	uint8_t sig[65];
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)) || (rc = load_rental(s, &r, rq, rs)))
		return rc;
	if (strcmp(r.renter, addr) != 0 && strcmp(r.provider, addr) != 0)
		return srv_error(rs, 403, "forbidden", "id", "only the renter or the provider may ask");
	if (!s->cfg.has_monitor_key)
		return srv_error(rs, 503, "no_monitor", NULL, "this server has no monitor key");
	if (r.state == STORE_RENTAL_OPEN)
		return srv_error(rs, 409, "not_ended", "id",
				 "an attestation is signed only after the rental has ended on chain");
	if (r.state == STORE_RENTAL_RESOLVED || r.state == STORE_RENTAL_CLOSED)
		return srv_error(rs, 409, "closed", "id", "the rental is settled; nothing to attest");
	memset(&u, 0, sizeof u);
	u.rental_id = r.id;
	if ((rc = rental_end_figures(&u.ended_at, &u.seconds_observed, &r, &e)))
		return srv_error(rs, 409, "not_ended", "id", "%s", e.msg);
	reputation_rental_target(target, r.chain_id, r.id);
	if ((rc = store_uptime(s->store, &up, &obs, target, r.opened_at, (int64_t)u.ended_at, &e)))
		return srv_error_from(rs, rc, NULL, &e);
	if (obs == 0)
		return srv_error(rs, 409, "no_observations", "id",
				 "the monitor never probed this rental's host; it cannot attest its uptime");
	if (up > obs)
		up = obs;
	u.seconds_up = (uint32_t)((uint64_t)u.seconds_observed * up / obs);
	if ((rc = escrow_uptime_sign(sig, s->cfg.chain_id, &s->cfg.escrow, &u, s->cfg.monitor_seckey, &e)))
		return srv_error_from(rs, rc, NULL, &e);
	hex_encode_0x(sig_hex, sig, 65);
	address_to_lower(mon, &s->cfg.monitor);
	return srv_json(rs, 200, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s}", "rental_id",
					   (json_int_t)r.id, "ended_at", (json_int_t)u.ended_at,
					   "seconds_up", (json_int_t)u.seconds_up, "seconds_observed",
					   (json_int_t)u.seconds_observed, "probe_seconds_up", (json_int_t)up,
					   "probe_seconds_observed", (json_int_t)obs, "signature", sig_hex,
					   "monitor", mon));
}

/* ---- SSE ---- */

struct stream {
	struct server *s;
	uint64_t id;
	bool has_low;
	u256 low;
	unsigned events;
};

static void stream_free(void *ctx)
{
	free(ctx);
}

/*
 * Emits the rental's status (and low_balance) events; returns non-zero to end the stream (the rental
 * is gone or no longer open, the event cap, or the client left).
 */
static int stream_next(void *ctx, srv_emit_fn emit, void *sink)
{
	struct stream *st = ctx;
	struct store_rental r;
	struct escrow_terms t;
	struct escrow_quote q;
	json_t *extra = NULL;
	const char *th, *sh;
	uint8_t enc[ESCROW_TERMS_SIZE];
	u256 word, dep, remaining = { { 0 } };
	char acc[U256_DEC_MAX], rem[U256_DEC_MAX], data[512];
	int64_t now = server_now(), left = 0;

	if (st->events++ >= STREAM_MAX_EVENTS || atomic_load(&st->s->stopping))
		return 1;
	if (store_rental_get(st->s->store, &r, st->s->cfg.chain_id, st->id, NULL))
		return 1;
	if (json_parse(&extra, r.extra, strlen(r.extra), STORE_JSON_SIZE, NULL) ||
	    json_get_str(&th, extra, "terms", 2 * ESCROW_TERMS_SIZE + 2, NULL) ||
	    hex_decode_exact(enc, sizeof enc, th, NULL) || escrow_terms_decode(&t, enc, sizeof enc, NULL) ||
	    json_get_str(&sh, extra, "state", U256_HEX_MAX, NULL) || u256_parse_hex(&word, sh, NULL) ||
	    escrow_mirror_quote(&q, &t, &word, (uint64_t)now, NULL) ||
	    u256_parse_dec(&dep, r.deposited, NULL)) {
		json_decref(extra);
		return 1;
	}
	json_decref(extra);
	if (r.state == STORE_RENTAL_OPEN) {
		if (u256_cmp(&dep, &q.cost) > 0)
			u256_sub(&remaining, &dep, &q.cost);
		left = r.paid_until > now ? r.paid_until - now : 0;
	}
	u256_to_dec(acc, &q.cost);
	u256_to_dec(rem, &remaining);
	snprintf(data, sizeof data,
		 "{\"rental_id\":%" PRIu64 ",\"state\":\"%s\",\"now\":%" PRId64 ",\"accrued\":\"%s\","
		 "\"remaining\":\"%s\",\"billed_secs\":%" PRIu64 ",\"time_left_s\":%" PRId64
		 ",\"paid_until\":%" PRId64 "}",
		 r.id, store_rental_state_name(r.state), now, acc, rem, q.billed_secs, left, r.paid_until);
	if (emit(sink, "status", data))
		return 1;
	/* An interruptible rental the provider reclaimed: warn on every tick until it ends. */
	struct escrow_view v;
	if (r.state == STORE_RENTAL_OPEN && escrow_state_view(&v, &t, &word, NULL) == 0 && v.stop_at) {
		snprintf(data, sizeof data, "{\"stop_at\":%" PRIu64 ",\"notice_left_s\":%" PRId64 "}",
			 v.stop_at, (int64_t)v.stop_at > now ? (int64_t)v.stop_at - now : 0);
		if (emit(sink, "reclaim", data))
			return 1;
	}
	if (st->has_low && r.state == STORE_RENTAL_OPEN && u256_cmp(&remaining, &st->low) <= 0) {
		snprintf(data, sizeof data, "{\"remaining\":\"%s\",\"time_left_s\":%" PRId64 "}", rem, left);
		if (emit(sink, "low_balance", data))
			return 1;
	}
	return r.state != STORE_RENTAL_OPEN;
}

int route_rental_stream(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct store_rental r;
	struct stream *st;
	const char *low = rq->query(rq, "low");
	struct err e = { 0 };
	int rc;

	if ((rc = load_rental(s, &r, rq, rs)))
		return rc;
	st = calloc(1, sizeof *st);
	if (!st)
		return srv_error(rs, 500, "internal", NULL, "out of memory");
	st->s = s;
	st->id = r.id;
	if (low) {
		if (strlen(low) > 78 || u256_parse_dec(&st->low, low, &e)) {
			free(st);
			return srv_error(rs, 400, "invalid", "low", "low: a decimal amount in token units");
		}
		st->has_low = true;
	}
	rs->status = 200;
	rs->stream = stream_next;
	rs->stream_ctx = st;
	rs->stream_free = stream_free;
	return 200;
}
