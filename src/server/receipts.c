/*
 * receipts.c — rental receipts for the renter's books: GET /rentals/{id}/receipt (JSON) and the
 * lines of GET /me/receipts.csv.
 *
 * Everything comes from the mirror and the events journal (the chain's own record): start (block time
 * of Opened), end, billed duration, the GPU spec of the offer, the rate, the total the renter paid
 * (cost of the billed seconds), the platform fee (fee(total) at the rental's fee_bps), what the
 * provider was paid, the refund, the token, and every transaction with its hash, block and amounts.
 * Every payment (an event that moves money: Opened / Extended deposits, Claimed / Stopped / Settled /
 * Resolved payouts, fees and refunds) is valued in USD at its own block: with a price feed configured
 * for the token, the feed's latestRoundData at that block (pricefeed.h; stale or non-positive answers
 * and unreachable nodes give null, never a guess); otherwise the fixed price (dev tokens). usd_totals
 * sums those per-payment values (null when any part is unknown). The overall amounts (total, fee,
 * refund, ...) are valued at the price of the latest payment's block (feed) or the fixed price.
 * Amounts are decimal strings in the token's smallest unit, plus a human form with the token's
 * decimals.
 */
#include "server/server.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"
#include "server/pricefeed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECEIPT_TX_HASHES_MAX ((size_t)64 << 10) /* the transaction hashes of one receipt's payments */

struct rcpt {
	const struct srv_token *tok;
	struct escrow_terms t;
	bool has_terms;
	uint64_t billed_secs;
	u256 total, fee;
	char gpu[STORE_NAME_SIZE];
	uint32_t num_gpus, vram_mib;
};

/* A USD price of one whole token in micro-USD; known = false: no price (null USD). */
struct price {
	bool known;
	uint64_t micro;
};

/* A sum of USD values in micro-USD; unknown once any part had no price (or it overflowed). */
struct usd_sum {
	uint64_t micro;
	bool unknown;
};

static void usd_text(char *out, size_t cap, uint64_t v)
{
	snprintf(out, cap, "%" PRIu64 ".%06" PRIu64, v / 1000000, v % 1000000);
}

/* micro-USD of `amount` smallest units at price p (rounded down); false when unknown. */
static bool usd_micro_of(uint64_t *out, unsigned decimals, const struct price *p, const u256 *amount)
{
	u256 x, m, d = u256_from_u64(1);
	uint64_t v;

	if (!p || !p->known)
		return false;
	m = u256_from_u64(p->micro);
	for (unsigned i = 0; i < decimals; i++)
		if (u256_mul(&d, &d, &(u256){ { 10, 0, 0, 0 } }))
			return false;
	if (u256_mul(&x, amount, &m) || u256_divmod(&x, NULL, &x, &d) || u256_to_u64(&v, &x))
		return false;
	*out = v;
	return true;
}

/* USD value of `amount` (6 decimals, rounded down) into out; false when unknown. */
static bool usd_of(char *out, size_t cap, const struct srv_token *t, const struct price *p,
		   const u256 *amount)
{
	uint64_t v;
	if (!t || !usd_micro_of(&v, t->decimals, p, amount))
		return false;
	usd_text(out, cap, v);
	return true;
}

static json_t *usd_json(const struct srv_token *t, const struct price *p, const u256 *amount)
{
	char b[40];
	return usd_of(b, sizeof b, t, p, amount) ? json_string(b) : json_null();
}

static json_t *amount_json(const struct srv_token *t, const struct price *p, const u256 *a)
{
	char d[U256_DEC_MAX], h[U256_DEC_MAX + 2];
	u256_to_dec(d, a);
	u256_format_units(h, a, t ? t->decimals : 0);
	return json_pack("{s:s, s:s, s:o}", "units", d, "amount", h, "usd", usd_json(t, p, a));
}

static json_t *price_json(const struct price *p)
{
	char b[40];
	if (!p->known)
		return json_null();
	usd_text(b, sizeof b, p->micro);
	return json_string(b);
}

static void sum_add(struct usd_sum *s, const struct srv_token *t, const struct price *p, const u256 *a)
{
	uint64_t v;
	if (!t || !usd_micro_of(&v, t->decimals, p, a) || v > UINT64_MAX - s->micro)
		s->unknown = true;
	else
		s->micro += v;
}

static json_t *sum_json(const struct usd_sum *s, const struct srv_token *t)
{
	char b[40];
	if (s->unknown || !t || (!t->has_feed && !t->usd_micro))
		return json_null();
	usd_text(b, sizeof b, s->micro);
	return json_string(b);
}

/* The fixed price of a token (no feed). */
static struct price fixed_price(const struct srv_token *t)
{
	return (struct price){ t && t->usd_micro, t ? t->usd_micro : 0 };
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
	struct server *s;
	const struct srv_token *tok;
	json_t *arr;         /* JSON: one object per event (NULL for CSV) */
	struct buf *hashes;  /* CSV: space-separated hashes */
	struct rpc rpc;      /* for price feeds, opened on the first lookup */
	bool rpc_tried, rpc_ok;
	struct price last;   /* price at the latest payment's block */
	bool any_payment;
	struct usd_sum deposits, provider, fee, refund;
};

/* Price of the token at an event's block: its feed's answer there, else the fixed price. */
static struct price price_at(struct tx_ctx *c, const struct store_event *ev)
{
	struct price p = { false, 0 };
	struct err e = { 0 };
	int rc;

	if (!c->tok || !c->tok->has_feed)
		return fixed_price(c->tok);
	if (!c->rpc_tried) {
		c->rpc_tried = true;
		c->rpc_ok = c->s->cfg.rpc_url[0] && rpc_init(&c->rpc, c->s->cfg.rpc_url, NULL, &e) == 0;
	}
	if (!c->rpc_ok)
		return p;
	rc = pricefeed_price_at(&p.micro, c->s->prices, &c->rpc, &c->tok->feed, ev->block_number,
				ev->block_time, c->s->cfg.feed_max_age_s, &e);
	if (rc == 0)
		p.known = true;
	else if (rc != ERR_RANGE && rc != ERR_STATE)
		log_warn("price feed unavailable", "block=%" PRIu64 " err=%s", ev->block_number, e.msg);
	return p;
}

static void tx_ctx_release(struct tx_ctx *c)
{
	if (c->rpc_ok)
		rpc_release(&c->rpc);
	c->rpc_ok = false;
}

static int tx_cb(void *ctx, const struct store_event *ev)
{
	struct tx_ctx *c = ctx;
	json_t *data = NULL, *o = NULL;
	static const char *const amounts[] = { "amount", "provider_amount", "fee_amount", "refund_amount" };
	struct usd_sum *const sums[] = { &c->deposits, &c->provider, &c->fee, &c->refund };
	u256 a[4];
	bool has[4] = { false, false, false, false }, any = false;

	/* one transaction can log two events (a stop's Stopped and its payout): each hash once */
	if (c->hashes && !strstr(buf_cstr(c->hashes), ev->tx_hash)) {
		if (c->hashes->len)
			buf_append_str(c->hashes, " ");
		buf_append_str(c->hashes, ev->tx_hash);
	}
	if (c->arr) {
		o = json_pack("{s:s, s:s, s:I, s:I, s:i}", "kind", ev->kind, "tx_hash", ev->tx_hash, "block",
			      (json_int_t)ev->block_number, "time", (json_int_t)ev->block_time, "log_index",
			      (int)ev->log_index);
		if (!o)
			return ERR_NOMEM;
	}
	if (json_parse(&data, ev->data, strlen(ev->data), STORE_JSON_SIZE, NULL) == 0) {
		for (size_t i = 0; i < 4; i++)
			has[i] = json_get_u256(&a[i], data, amounts[i], NULL) == 0;
		if (ev->kind[0] == 'O') { /* Opened: the opening deposit is the state's deposited */
			const char *sh;
			u256 w;
			struct escrow_word ew;
			if (json_get_str(&sh, data, "state", U256_HEX_MAX, NULL) == 0 &&
			    u256_parse_hex(&w, sh, NULL) == 0) {
				escrow_word_unpack(&ew, &w);
				a[0] = ew.deposited;
				has[0] = true;
			}
		}
		json_decref(data);
	}
	for (size_t i = 0; i < 4; i++)
		any |= has[i];
	if (any) { /* a payment: value it at its block */
		struct price p = price_at(c, ev);
		c->last = p;
		c->any_payment = true;
		for (size_t i = 0; i < 4; i++) {
			if (!has[i])
				continue;
			sum_add(sums[i], c->tok, &p, &a[i]);
			if (o)
				json_object_set_new(o, amounts[i], amount_json(c->tok, &p, &a[i]));
		}
		if (o)
			json_object_set_new(o, "usd_price", price_json(&p));
	}
	if (o)
		json_array_append_new(c->arr, o);
	return 0;
}

/* Runs tx_cb over the rental's events; *ref = the price for the receipt's overall amounts. */
static int tx_walk(struct server *s, struct tx_ctx *c, struct price *ref, const struct store_rental *r,
		   struct err *e)
{
	int rc = store_events_of_rental(s->store, r->chain_id, r->id, tx_cb, c, e);
	tx_ctx_release(c);
	if (rc)
		return rc < 0 ? rc : err_set(e, ERR_NOMEM, "receipt");
	/* With a feed: the price at the latest payment's block; otherwise the fixed price. */
	*ref = c->tok && c->tok->has_feed ? (c->any_payment ? c->last : (struct price){ false, 0 })
					  : fixed_price(c->tok);
	return 0;
}

static json_t *usd_totals_json(const struct tx_ctx *c)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:o}", "price_source",
			 !c->tok ? "none" : c->tok->has_feed ? "feed" : c->tok->usd_micro ? "fixed" : "none",
			 "deposits", sum_json(&c->deposits, c->tok), "provider_paid",
			 sum_json(&c->provider, c->tok), "fee_paid", sum_json(&c->fee, c->tok), "refund",
			 sum_json(&c->refund, c->tok));
}

int receipt_json(struct server *s, json_t **out, const struct store_rental *r, struct err *e)
{
	struct rcpt c;
	struct tx_ctx tc;
	struct price ref;
	u256 v, rph = { { 0 } };
	char escrow[ADDRESS_STR_MAX];
	json_t *o;
	int rc;

	if ((rc = rcpt_fill(s, &c, r, e)))
		return rc;
	memset(&tc, 0, sizeof tc);
	tc.s = s;
	tc.tok = c.tok;
	tc.arr = json_array();
	if (!tc.arr)
		return err_set(e, ERR_NOMEM, "receipt");
	if ((rc = tx_walk(s, &tc, &ref, r, e))) {
		json_decref(tc.arr);
		return rc;
	}
	address_to_lower(escrow, &s->cfg.escrow);
	if (u256_parse_dec(&v, r->rate, NULL) == 0)
		escrow_cost(&rph, &v, 3600, NULL);
	o = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:I, s:s, s:i}", "rental_id",
		      (json_int_t)r->id, "chain_id", (json_int_t)r->chain_id, "escrow", escrow, "state",
		      store_rental_state_name(r->state), "renter", r->renter, "provider", r->provider, "offer_hash",
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
	json_object_set_new(o, "rate_per_hour", amount_json(c.tok, &ref, &rph));
	if (u256_parse_dec(&v, r->deposited, NULL) == 0)
		json_object_set_new(o, "deposited", amount_json(c.tok, &ref, &v));
	json_object_set_new(o, "total", amount_json(c.tok, &ref, &c.total));
	json_object_set_new(o, "fee", amount_json(c.tok, &ref, &c.fee));
	if (u256_parse_dec(&v, r->provider_paid, NULL) == 0)
		json_object_set_new(o, "provider_paid", amount_json(c.tok, &ref, &v));
	if (u256_parse_dec(&v, r->fee_paid, NULL) == 0)
		json_object_set_new(o, "fee_paid", amount_json(c.tok, &ref, &v));
	if (u256_parse_dec(&v, r->refunded, NULL) == 0)
		json_object_set_new(o, "refund", amount_json(c.tok, &ref, &v));
	json_object_set_new(o, "usd_totals", usd_totals_json(&tc));
	json_object_set_new(o, "transactions", tc.arr);
	*out = o;
	return 0;
}

int receipt_csv_header(struct buf *b)
{
	return buf_append_str(b, "rental_id,state,renter,provider,token,start,end,duration_s,gpu,"
				 "num_gpus,rate_per_hour,total,fee,refund,total_usd,tx_hashes,deposits_usd,"
				 "provider_paid_usd,fee_paid_usd,refund_usd\n");
}

/* Writes a USD sum as a CSV field ("" when unknown). */
static void sum_csv(char *out, size_t cap, const struct usd_sum *sm, const struct srv_token *t)
{
	if (sm->unknown || !t || (!t->has_feed && !t->usd_micro))
		out[0] = '\0';
	else
		usd_text(out, cap, sm->micro);
}

int receipt_csv_line(struct server *s, struct buf *b, const struct store_rental *r, struct err *e)
{
	struct rcpt c;
	struct tx_ctx tc;
	struct price ref;
	struct buf hashes;
	char rph_s[U256_DEC_MAX + 2], tot[U256_DEC_MAX + 2], fee[U256_DEC_MAX + 2],
		ref_s[U256_DEC_MAX + 2], usd[40], dep_u[40], prov_u[40], fee_u[40], ref_u[40];
	u256 v, rph = { { 0 } };
	int rc;

	if ((rc = rcpt_fill(s, &c, r, e)))
		return rc;
	buf_init(&hashes, RECEIPT_TX_HASHES_MAX);
	memset(&tc, 0, sizeof tc);
	tc.s = s;
	tc.tok = c.tok;
	tc.hashes = &hashes;
	if ((rc = tx_walk(s, &tc, &ref, r, e))) {
		buf_release(&hashes);
		return rc;
	}
	unsigned dec = c.tok ? c.tok->decimals : 0;
	if (u256_parse_dec(&v, r->rate, NULL) == 0)
		escrow_cost(&rph, &v, 3600, NULL);
	u256_format_units(rph_s, &rph, dec);
	u256_format_units(tot, &c.total, dec);
	u256_format_units(fee, &c.fee, dec);
	if (u256_parse_dec(&v, r->refunded, NULL))
		v = u256_from_u64(0);
	u256_format_units(ref_s, &v, dec);
	if (!usd_of(usd, sizeof usd, c.tok, &ref, &c.total))
		usd[0] = '\0';
	sum_csv(dep_u, sizeof dep_u, &tc.deposits, c.tok);
	sum_csv(prov_u, sizeof prov_u, &tc.provider, c.tok);
	sum_csv(fee_u, sizeof fee_u, &tc.fee, c.tok);
	sum_csv(ref_u, sizeof ref_u, &tc.refund, c.tok);
	rc = buf_printf(b, "%" PRIu64 ",%s,%s,%s,%s,%" PRId64 ",%" PRId64 ",%" PRIu64
			",%s,%u,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
			r->id, store_rental_state_name(r->state), r->renter, r->provider, c.tok ? c.tok->symbol : r->token,
			r->opened_at, r->ended_at, c.billed_secs, c.gpu, c.num_gpus, rph_s, tot, fee, ref_s,
			usd, buf_cstr(&hashes), dep_u, prov_u, fee_u, ref_u);
	buf_release(&hashes);
	return rc;
}
