/*
 * receipts.c — rental receipts for the renter's books: GET /rentals/{id}/receipt (JSON) and the
 * lines of GET /me/receipts.csv.
 *
 * Everything comes from the mirror and the events journal (the chain's own record): start (block time
 * of Opened), end, billed duration, the GPU spec of the offer, the rate, the total the renter paid
 * (cost of the billed seconds), the platform fee (fee(total) at the rental's fee_bps), what the
 * provider was paid, the refund, the token, and every transaction with its hash, block and amounts.
 * USD values use the configured fixed price of the token (dev tokens; for real chains a price feed's
 * latestRoundData at the payment block is a documented TODO), so "USD at payment time" equals the
 * fixed price; without a price the USD fields are null. Amounts are decimal strings in the token's
 * smallest unit, plus a human form with the token's decimals.
 */
#include "server/server.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rcpt {
	const struct srv_token *tok;
	struct escrow_terms t;
	bool has_terms;
	uint64_t billed_secs;
	u256 total, fee;
	char gpu[STORE_NAME_SIZE];
	uint32_t num_gpus, vram_mib;
};

/* USD value of `amount` smallest units (6 decimals, rounded down) into out; false when unknown. */
static bool usd_of(char *out, size_t cap, const struct srv_token *t, const u256 *amount)
{
	u256 x, p, d = u256_from_u64(1);
	uint64_t v;

	if (!t || !t->usd_micro)
		return false;
	p = u256_from_u64(t->usd_micro);
	for (unsigned i = 0; i < t->decimals; i++)
		if (u256_mul(&d, &d, &(u256){ { 10, 0, 0, 0 } }))
			return false;
	if (u256_mul(&x, amount, &p) || u256_divmod(&x, NULL, &x, &d) || u256_to_u64(&v, &x))
		return false;
	snprintf(out, cap, "%" PRIu64 ".%06" PRIu64, v / 1000000, v % 1000000);
	return true;
}

static json_t *usd_json(const struct srv_token *t, const u256 *amount)
{
	char b[40];
	return usd_of(b, sizeof b, t, amount) ? json_string(b) : json_null();
}

static json_t *amount_json(const struct srv_token *t, const u256 *a)
{
	char d[U256_DEC_MAX], h[U256_DEC_MAX + 2];
	u256_to_dec(d, a);
	u256_format_units(h, a, t ? t->decimals : 0);
	return json_pack("{s:s, s:s, s:o}", "units", d, "amount", h, "usd", usd_json(t, a));
}

static int gpu_first(void *ctx, const struct store_gpu *g)
{
	struct rcpt *r = ctx;
	if (r->num_gpus == 0) {
		snprintf(r->gpu, sizeof r->gpu, "%s", g->model);
		r->vram_mib = g->vram_mib;
	}
	r->num_gpus++;
	return 0;
}

/* Fills the derived figures of a receipt. */
static int rcpt_fill(struct server *s, struct rcpt *c, const struct store_rental *r, struct err *e)
{
	struct eth_address tok;
	struct store_offer so;
	json_t *extra = NULL;
	const char *th, *sh;
	uint8_t enc[ESCROW_TERMS_SIZE];
	int rc;

	memset(c, 0, sizeof c[0]);
	if ((rc = address_parse(&tok, r->token, e)))
		return rc;
	c->tok = server_token(s, &tok);
	if (json_parse(&extra, r->extra, strlen(r->extra), STORE_JSON_SIZE, NULL) == 0 &&
	    json_get_str(&th, extra, "terms", 2 * ESCROW_TERMS_SIZE + 2, NULL) == 0 &&
	    hex_decode_exact(enc, sizeof enc, th, NULL) == 0 &&
	    escrow_terms_decode(&c->t, enc, sizeof enc, NULL) == 0) {
		c->has_terms = true;
		u256 word;
		struct escrow_quote q;
		if (json_get_str(&sh, extra, "state", U256_HEX_MAX, NULL) == 0 &&
		    u256_parse_hex(&word, sh, NULL) == 0 &&
		    escrow_mirror_quote(&q, &c->t, &word, (uint64_t)server_now(), NULL) == 0) {
			c->billed_secs = q.billed_secs;
			c->total = q.cost;
		}
	}
	json_decref(extra);
	if (r->state == STORE_RENTAL_CLOSED || r->state == STORE_RENTAL_RESOLVED) {
		/* Final: the provider side got everything it will get; the rest was refunded. */
		u256 dep, ref;
		if (u256_parse_dec(&dep, r->deposited, NULL) == 0 &&
		    u256_parse_dec(&ref, r->refunded, NULL) == 0 && u256_cmp(&dep, &ref) >= 0)
			u256_sub(&c->total, &dep, &ref);
	}
	escrow_fee(&c->fee, &c->total, (uint16_t)r->fee_bps, NULL);
	if (r->offer_hash[0] && store_offer_get(s->store, &so, r->offer_hash, NULL) == 0)
		store_gpus_list(s->store, so.machine_id, gpu_first, c, NULL);
	return 0;
}

struct tx_ctx {
	const struct srv_token *tok;
	json_t *arr;
	struct buf *hashes;  /* CSV: space-separated hashes */
};

static int tx_cb(void *ctx, const struct store_event *ev)
{
	struct tx_ctx *c = ctx;
	json_t *data = NULL, *o;
	static const char *const amounts[] = { "amount", "provider_amount", "fee_amount", "refund_amount" };

	if (c->hashes) {
		if (c->hashes->len)
			buf_append_str(c->hashes, " ");
		buf_append_str(c->hashes, ev->tx_hash);
	}
	if (!c->arr)
		return 0;
	o = json_pack("{s:s, s:s, s:I, s:I, s:i}", "kind", ev->kind, "tx_hash", ev->tx_hash, "block",
		      (json_int_t)ev->block_number, "time", (json_int_t)ev->block_time, "log_index",
		      (int)ev->log_index);
	if (!o)
		return ERR_NOMEM;
	if (json_parse(&data, ev->data, strlen(ev->data), STORE_JSON_SIZE, NULL) == 0) {
		for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++) {
			u256 a;
			if (json_get_u256(&a, data, amounts[i], NULL) == 0)
				json_object_set_new(o, amounts[i], amount_json(c->tok, &a));
		}
		if (ev->kind[0] == 'O') { /* Opened: the opening deposit is the state's deposited */
			const char *sh;
			u256 w;
			struct escrow_word ew;
			if (json_get_str(&sh, data, "state", U256_HEX_MAX, NULL) == 0 &&
			    u256_parse_hex(&w, sh, NULL) == 0) {
				escrow_word_unpack(&ew, &w);
				json_object_set_new(o, "amount", amount_json(c->tok, &ew.deposited));
			}
		}
		json_decref(data);
	}
	json_array_append_new(c->arr, o);
	return 0;
}

static const char *state_name(enum store_rental_state st)
{
	switch (st) {
	case STORE_RENTAL_OPEN: return "open";
	case STORE_RENTAL_ENDED: return "ended";
	case STORE_RENTAL_DISPUTED: return "disputed";
	case STORE_RENTAL_RESOLVED: return "resolved";
	case STORE_RENTAL_CLOSED: return "closed";
	}
	return "?";
}

int receipt_json(struct server *s, json_t **out, const struct store_rental *r, struct err *e)
{
	struct rcpt c;
	struct tx_ctx tc;
	u256 v, rph = { { 0 } };
	char escrow[ADDRESS_STR_MAX];
	json_t *o;
	int rc;

	if ((rc = rcpt_fill(s, &c, r, e)))
		return rc;
	tc.tok = c.tok;
	tc.arr = json_array();
	tc.hashes = NULL;
	if (!tc.arr)
		return err_set(e, ERR_NOMEM, "receipt");
	if ((rc = store_events_of_rental(s->store, r->chain_id, r->id, tx_cb, &tc, e))) {
		json_decref(tc.arr);
		return rc < 0 ? rc : err_set(e, ERR_NOMEM, "receipt");
	}
	address_to_lower(escrow, &s->cfg.escrow);
	if (u256_parse_dec(&v, r->rate, NULL) == 0)
		escrow_cost(&rph, &v, 3600, NULL);
	o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:s, s:i}", "rental_id",
		      (json_int_t)r->id, "chain_id", (json_int_t)r->chain_id, "escrow", escrow, "state",
		      state_name(r->state), "renter", r->renter, "provider", r->provider, "offer_hash",
		      r->offer_hash, "start", (json_int_t)r->opened_at, "end",
		      r->ended_at ? json_integer(r->ended_at) : json_null(), "duration_s",
		      (json_int_t)c.billed_secs, "rate", r->rate, "fee_bps", (int)r->fee_bps);
	if (!o) {
		json_decref(tc.arr);
		return err_set(e, ERR_NOMEM, "receipt");
	}
	json_object_set_new(o, "token", json_pack("{s:s, s:s, s:i}", "address", r->token, "symbol",
						  c.tok ? c.tok->symbol : "?", "decimals",
						  c.tok ? (int)c.tok->decimals : 0));
	json_object_set_new(o, "gpu", json_pack("{s:s, s:i, s:i}", "model", c.gpu, "count",
						(int)c.num_gpus, "vram_mib", (int)c.vram_mib));
	json_object_set_new(o, "rate_per_hour", amount_json(c.tok, &rph));
	if (u256_parse_dec(&v, r->deposited, NULL) == 0)
		json_object_set_new(o, "deposited", amount_json(c.tok, &v));
	json_object_set_new(o, "total", amount_json(c.tok, &c.total));
	json_object_set_new(o, "fee", amount_json(c.tok, &c.fee));
	if (u256_parse_dec(&v, r->provider_paid, NULL) == 0)
		json_object_set_new(o, "provider_paid", amount_json(c.tok, &v));
	if (u256_parse_dec(&v, r->fee_paid, NULL) == 0)
		json_object_set_new(o, "fee_paid", amount_json(c.tok, &v));
	if (u256_parse_dec(&v, r->refunded, NULL) == 0)
		json_object_set_new(o, "refund", amount_json(c.tok, &v));
	json_object_set_new(o, "transactions", tc.arr);
	*out = o;
	return 0;
}

int receipt_csv_header(struct buf *b)
{
	return buf_append_str(b, "rental_id,state,renter,provider,token,start,end,duration_s,gpu,"
				 "num_gpus,rate_per_hour,total,fee,refund,total_usd,tx_hashes\n");
}

int receipt_csv_line(struct server *s, struct buf *b, const struct store_rental *r, struct err *e)
{
	struct rcpt c;
	struct tx_ctx tc = { 0 };
	struct buf hashes;
	char rph_s[U256_DEC_MAX + 2], tot[U256_DEC_MAX + 2], fee[U256_DEC_MAX + 2],
		ref[U256_DEC_MAX + 2], usd[40];
	u256 v, rph = { { 0 } };
	int rc;

	if ((rc = rcpt_fill(s, &c, r, e)))
		return rc;
	buf_init(&hashes, 64 * 1024);
	tc.tok = c.tok;
	tc.hashes = &hashes;
	if ((rc = store_events_of_rental(s->store, r->chain_id, r->id, tx_cb, &tc, e))) {
		buf_release(&hashes);
		return rc < 0 ? rc : ERR_NOMEM;
	}
	unsigned dec = c.tok ? c.tok->decimals : 0;
	if (u256_parse_dec(&v, r->rate, NULL) == 0)
		escrow_cost(&rph, &v, 3600, NULL);
	u256_format_units(rph_s, &rph, dec);
	u256_format_units(tot, &c.total, dec);
	u256_format_units(fee, &c.fee, dec);
	if (u256_parse_dec(&v, r->refunded, NULL))
		v = u256_from_u64(0);
	u256_format_units(ref, &v, dec);
	if (!usd_of(usd, sizeof usd, c.tok, &c.total))
		usd[0] = '\0';
	rc = buf_printf(b, "%" PRIu64 ",%s,%s,%s,%s,%" PRId64 ",%" PRId64 ",%" PRIu64 ",%s,%u,%s,%s,%s,%s,%s,%s\n",
			r->id, state_name(r->state), r->renter, r->provider, c.tok ? c.tok->symbol : r->token,
			r->opened_at, r->ended_at, c.billed_secs, c.gpu, c.num_gpus, rph_s, tot, fee, ref,
			usd, buf_cstr(&hashes));
	buf_release(&hashes);
	return rc;
}
