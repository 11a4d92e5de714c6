/*
 * routes_offers.c — signed offers: POST /offers, GET /offers (search), GET /offers/{hash},
 * DELETE /offers/{hash}; and the search index kept in step with the store.
 *
 * Publishing: the body carries the EIP-712 `Offer` exactly as the provider signed it (docs/escrow.md
 * §3) and its 65-byte signature. The server recomputes the digest under the escrow's domain (chain id
 * + contract address: an offer signed for another chain or deployment never verifies), recovers the
 * signer and requires it to be `offer.provider`; the offer must name a host that this provider
 * registered (POST /hosts), a token the marketplace accepts, an expiry in the future, and at least the
 * operator's minimum dispute window. Everything is checked before the first write; the offer is then
 * stored (keyed by its digest) and put into the search index. Contract-wallet (ERC-1271) signatures
 * are not listed: they need chain access at publish time.
 *
 * Prices are shown per hour as the renter pays them: the renter pays exactly the signed rate (the
 * platform fee is taken from the provider's side, DESIGN.md), so the hourly price is
 * floor(rate * 3600 / 1e18) token units (what cost(3600) charges), and its USD value uses the
 * configured fixed token price. All amounts are decimal strings; USD has 6 decimals.
 *
 * DELETE only hides the listing (the provider signed in); the signature stays valid on chain until
 * the provider calls cancelOffer(nonce), which the indexer sees and applies too.
 */
#include "server/server.h"

#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "escrow/escrow.h"
#include "eth/secp.h"
#include "market/filter.h"
#include "market/search.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFFERS_PAGE_DEFAULT 20
#define OFFERS_PAGE_MAX 100


/* "550.54.15" -> 550054015 (parts = 3), "12.4" -> 1204 (parts = 2); "" -> 0. */
static uint32_t version_num(const char *v, int parts)
{
	uint32_t p[3] = { 0, 0, 0 };
	int i = 0;

	if (!v[0])
		return 0;
	for (const char *c = v; *c && i < parts; c++) {
		if (*c == '.') {
			i++;
			continue;
		}
		if (*c < '0' || *c > '9')
			return 0;
		p[i] = p[i] * 10 + (uint32_t)(*c - '0');
		if (p[i] > 999)
			return 0;
	}
	if (parts == 3)
		return p[0] * 1000000u + p[1] * 1000u + p[2];
	return p[0] * 100u + (p[1] > 99 ? 99 : p[1]);
}

/* Hourly price the renter pays: floor(rate * 3600 / 1e18). */
static int rate_per_hour(u256 *out, const u256 *rate)
{
	u256 t = u256_from_u64(3600), scale = u256_from_u64(1000000000000000000ull), x;
	if (u256_mul(&x, rate, &t) || u256_divmod(&x, NULL, &x, &scale))
		return ERR_RANGE;
	*out = x;
	return 0;
}

struct gpu_pick {
	struct store_gpu first;
	uint32_t n;
	uint32_t min_vram;
};

static int gpu_pick_cb(void *ctx, const struct store_gpu *g)
{
	struct gpu_pick *p = ctx;
	if (p->n == 0) {
		p->first = *g;
		p->min_vram = g->vram_mib;
	}
	if (g->vram_mib < p->min_vram)
		p->min_vram = g->vram_mib;
	p->n++;
	return 0;
}

/* Builds the search record of a stored offer (host, GPUs, reputation, prices). */
static int offer_record(struct server *s, struct offer *out, const struct store_offer *so,
			const struct reputation *rep, struct err *e)
{
	struct offer o;
	struct store_host h;
	struct gpu_pick gp = { 0 };
	struct eth_address tok;
	const struct srv_token *t;
	u256 rate;
	int rc;

	memset(&o, 0, sizeof o);
	if ((rc = hex_decode_exact(o.id32, 32, so->offer_hash, e)) ||
	    (rc = hex_decode_exact(o.provider20, 20, so->provider, e)) ||
	    (rc = address_parse(&tok, so->token, e)) || (rc = u256_parse_dec(&rate, so->rate, e)))
		return rc;
	if ((rc = store_host_get(s->store, &h, so->machine_id, e)))
		return rc;
	if ((rc = store_gpus_list(s->store, so->machine_id, gpu_pick_cb, &gp, e)))
		return rc;
	if (gp.n == 0)
		return err_set(e, ERR_STATE, "host %" PRIu64 " has no GPUs", so->machine_id);
	t = server_token(s, &tok);
	if (!t)
		return err_set(e, ERR_STATE, "token %s is not accepted", so->token);
	o.machine_id = so->machine_id;
	snprintf(o.country, sizeof o.country, "%s", h.country[0] ? h.country : "ZZ");
	snprintf(o.region, sizeof o.region, "%s", h.region);
	o.net_up_mbps = h.net_up_mbps;
	o.net_down_mbps = h.net_down_mbps;
	o.cpu_cores = h.cpu_cores;
	o.ram_gib = h.ram_gib;
	o.disk_gib = h.disk_gib;
	o.driver_version = version_num(h.driver_version, 3);
	o.cuda_version = version_num(h.cuda_version, 2);
	snprintf(o.gpu_model, sizeof o.gpu_model, "%s", gp.first.model);
	o.vram_mib = gp.min_vram;
	o.num_gpus = gp.n;
	o.tflops32_milli = gp.first.fp32_mtflops;
	o.tflops16_milli = gp.first.fp16_mtflops;
	o.bandwidth_gbps = gp.first.mem_bw_gbps;
	o.verified = gp.first.bench_verified;
	o.simulated = h.simulated;
	if (rate_per_hour(&o.rate_per_hour, &rate))
		return err_set(e, ERR_RANGE, "rate: too large");
	snprintf(o.token_symbol, sizeof o.token_symbol, "%s", t->symbol);
	o.token_decimals = t->decimals;
	o.fee_bps = s->cfg.fee_bps;
	o.token_usd_micro = t->usd_micro;
	o.reliability_bps = rep->reliability_bps;
	o.reliability_observed = rep->observed_s > 0;
	o.rentals_completed = rep->rentals_completed;
	o.rating_centi = rep->rating_centi;
	o.interruptible = so->interruptible;
	o.expires_at = so->expiry;
	if ((rc = offer_derive(&o, e)))
		return rc;
	*out = o;
	return 0;
}

struct reindex_ctx {
	struct server *s;
	struct search_index *ix;
	char last_provider[STORE_ADDR_SIZE];
	struct reputation rep;
	struct listing_provider lp;
	int64_t now, stale_at;           /* earliest staleness of a listed provider */
	size_t ok, skipped, hidden;
};

static int reindex_cb(void *ctx, const struct store_offer *so)
{
	struct reindex_ctx *c = ctx;
	struct offer o;
	struct err e = { 0 };
	const char *why;

	if (strcmp(c->last_provider, so->provider) != 0) {
		if (reputation_get(c->s, &c->rep, so->provider, c->now, &e))
			memset(&c->rep, 0, sizeof c->rep);
		if (listing_provider_load(c->s, &c->lp, so->provider, c->now, &e))
			c->lp.fresh = false;
		if (c->lp.fresh && (c->stale_at == 0 || c->lp.stale_at < c->stale_at))
			c->stale_at = c->lp.stale_at;
		snprintf(c->last_provider, sizeof c->last_provider, "%s", so->provider);
	}
	if (!listing_offer_visible(&c->lp, so, &why)) {
		c->hidden++;
		return 0;
	}
	if (offer_record(c->s, &o, so, &c->rep, &e) || search_index_put(c->ix, &o, &e)) {
		c->skipped++;
		return 0;
	}
	c->ok++;
	return 0;
}

/* Builds a fresh index of the rentable offers into c (c->s, c->now set). */
static int reindex_build(struct reindex_ctx *c, struct err *e)
{
	int rc;

	if ((rc = search_index_new(&c->ix, c->s->cfg.max_offers, e)))
		return rc;
	if ((rc = store_offers_active(c->s->store, c->now, reindex_cb, c, e))) {
		search_index_free(c->ix);
		c->ix = NULL;
	}
	return rc;
}

int offers_reindex(struct server *s, struct err *e)
{
	struct reindex_ctx *c = calloc(1, sizeof *c); /* holds a listing_provider: too big for a stack */
	struct search_index *old;
	int rc;

	if (!c)
		return err_set(e, ERR_NOMEM, "reindex: out of memory");
	atomic_store(&s->index_dirty, false); /* a change from now on marks it again */
	c->s = s;
	c->now = server_now();
	if ((rc = reindex_build(c, e))) {
		atomic_store(&s->index_dirty, true);
		free(c);
		return rc;
	}
	pthread_rwlock_wrlock(&s->index_lock);
	old = s->index;
	s->index = c->ix;
	pthread_rwlock_unlock(&s->index_lock);
	atomic_store(&s->index_stale_at, c->stale_at);
	search_index_free(old);
	log_debug("offer index rebuilt", "offers=%zu skipped=%zu hidden=%zu", c->ok, c->skipped, c->hidden);
	free(c);
	return 0;
}

int offers_cancel_nonce(struct server *s, const char *provider, uint64_t nonce, struct err *e)
{
	(void)provider;
	(void)nonce;
	return offers_reindex(s, e);
}

/* ---- JSON ---- */

static void usd_text(char *out, size_t cap, uint64_t micro)
{
	if (micro == OFFER_UNKNOWN)
		snprintf(out, cap, "unknown");
	else
		snprintf(out, cap, "%" PRIu64 ".%06" PRIu64, micro / 1000000, micro % 1000000);
}

static json_t *signed_offer_json(const struct store_offer *so)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:I, s:I, s:I, s:s, s:I, s:s, s:I, s:I,"
			 " s:s}",
			 "provider", so->provider, "payout", so->payout, "token", so->token, "arbiter",
			 so->arbiter, "rate", so->rate, "minSecs", (json_int_t)so->min_secs, "maxSecs",
			 (json_int_t)so->max_secs, "interruptible", so->interruptible, "noticeSecs",
			 (json_int_t)so->notice_secs, "graceSecs", (json_int_t)so->grace_secs,
			 "disputeSecs", (json_int_t)so->dispute_secs, "specHash", so->spec_hash,
			 "expiry", (json_int_t)so->expiry, "nonce", so->nonce, "capacity",
			 (json_int_t)so->capacity, "maxFeeBps", (json_int_t)so->max_fee_bps, "monitor",
			 so->monitor);
}

/* The public view of an offer: the signed offer, its signature, the host, prices and reputation. */
static json_t *offer_json(const struct offer *o, const struct store_offer *so)
{
	char tok_h[U256_DEC_MAX + 2], usd[32], net[32], per_tflop[32], rph[U256_DEC_MAX];
	json_t *j;

	u256_to_dec(rph, &o->rate_per_hour);
	u256_format_units(tok_h, &o->rate_per_hour, o->token_decimals);
	usd_text(usd, sizeof usd, o->renter_usd_micro);
	usd_text(net, sizeof net, offer_provider_net_usd_micro(o));
	usd_text(per_tflop, sizeof per_tflop, o->per_tflop_usd_micro);
	j = json_pack("{s:s, s:s, s:o, s:s, s:s, s:i, s:i, s:I, s:I, s:i, s:b, s:b, s:s, s:s, s:s, s:s,"
		      " s:i, s:s, s:s, s:s, s:b, s:I, s:i, s:i, s:i, s:s, s:i, s:i, s:i, s:i, s:i}",
		      "offer_hash", so->offer_hash, "status", store_offer_status_name(so->status), "machine_id",
		      json_id(so->machine_id), "gpu", o->gpu_model, "country", o->country,
		      "num_gpus", (int)o->num_gpus, "vram_mib", (int)o->vram_mib, "tflops32_milli",
		      (json_int_t)o->tflops32_milli, "tflops16_milli", (json_int_t)o->tflops16_milli,
		      "bandwidth_gbps", (int)o->bandwidth_gbps, "verified", o->verified, "simulated",
		      o->simulated, "token_symbol", o->token_symbol, "token_per_hour", tok_h,
		      "token_units_per_hour", rph, "usd_per_hour", usd, "fee_bps", (int)o->fee_bps,
		      "provider_net_usd_per_hour", net, "usd_per_tflop_hour", per_tflop, "region",
		      o->region, "interruptible", o->interruptible, "expires_at",
		      (json_int_t)o->expires_at, "reliability_bps", (int)o->reliability_bps,
		      "rentals_completed", (int)o->rentals_completed, "rating_centi",
		      (int)o->rating_centi, "signature", so->signature,
		      "token_decimals", (int)o->token_decimals, "cpu_cores", (int)o->cpu_cores,
		      "ram_gib", (int)o->ram_gib, "disk_gib", (int)o->disk_gib, "net_down_mbps",
		      (int)o->net_down_mbps);
	if (j) {
		json_object_set_new(j, "created_at", json_integer(so->created_at));
		json_object_set_new(j, "net_up_mbps", json_integer(o->net_up_mbps));
		json_object_set_new(j, "cuda_version", json_integer(o->cuda_version));
		json_object_set_new(j, "driver_version", json_integer(o->driver_version));
		json_object_set_new(j, "offer", signed_offer_json(so));
	}
	if (j)
		json_object_set_new(j, "reliability_observed", json_boolean(o->reliability_observed));
	return j;
}

/* ---- POST /offers ---- */

static int get_addr(struct eth_address *out, const json_t *o, const char *f, struct err *e)
{
	const char *v;
	int rc;
	if ((rc = json_get_str(&v, o, f, ADDRESS_STR_MAX, e)))
		return rc;
	if ((rc = address_parse(out, v, e))) {
		err_wrap(e, "%s", f);
		return rc;
	}
	return 0;
}

static int get_u32(uint32_t *out, const json_t *o, const char *f, struct err *e)
{
	uint64_t v;
	int rc = json_get_uint(&v, o, f, e);
	if (rc)
		return rc;
	if (v > UINT32_MAX)
		return err_set(e, ERR_RANGE, "%s: above 2^32-1", f);
	*out = (uint32_t)v;
	return 0;
}

static int get_u16(uint16_t *out, const json_t *j, const char *f, struct err *e)
{
	uint32_t v = 0;
	int rc = get_u32(&v, j, f, e);

	if (rc)
		return rc;
	if (v > UINT16_MAX)
		return err_set(e, ERR_RANGE, "%s: above 65535", f);
	*out = (uint16_t)v;
	return 0;
}

/* Parses the signed offer; *field names the offending field on failure. */
static int parse_offer(struct escrow_offer *o, const json_t *j, const char **field, struct err *e)
{
	const char *sh;
	int rc;

	memset(o, 0, sizeof *o);
#define F(name, expr) do { *field = name; if ((rc = (expr))) return rc; } while (0)
	F("offer.provider", get_addr(&o->provider, j, "provider", e));
	F("offer.payout", get_addr(&o->payout, j, "payout", e));
	F("offer.token", get_addr(&o->token, j, "token", e));
	F("offer.arbiter", get_addr(&o->arbiter, j, "arbiter", e));
	F("offer.rate", json_get_u256(&o->rate, j, "rate", e));
	F("offer.minSecs", get_u32(&o->min_secs, j, "minSecs", e));
	F("offer.maxSecs", get_u32(&o->max_secs, j, "maxSecs", e));
	F("offer.interruptible", json_get_bool(&o->interruptible, j, "interruptible", e));
	F("offer.noticeSecs", get_u32(&o->notice_secs, j, "noticeSecs", e));
	F("offer.graceSecs", get_u32(&o->grace_secs, j, "graceSecs", e));
	F("offer.disputeSecs", get_u32(&o->dispute_secs, j, "disputeSecs", e));
	F("offer.specHash", json_get_str(&sh, j, "specHash", 66, e));
	F("offer.specHash", hex_decode_exact(o->spec_hash, 32, sh, e));
	F("offer.capacity", get_u16(&o->capacity, j, "capacity", e));
	F("offer.monitor", get_addr(&o->monitor, j, "monitor", e));
	F("offer.maxFeeBps", get_u16(&o->max_fee_bps, j, "maxFeeBps", e));
	F("offer.expiry", json_get_uint(&o->expiry, j, "expiry", e));
	F("offer.nonce", json_get_id(&o->nonce, j, "nonce", e));
#undef F
	*field = NULL;
	return 0;
}

/* Whether search may show `so` now (listing.c); *why NULL when it may. */
static int offer_visible(struct server *s, const struct store_offer *so, int64_t now, const char **why,
			 struct err *e)
{
	struct listing_provider *lp = calloc(1, sizeof *lp);
	int rc;

	if (!lp)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = listing_provider_load(s, lp, so->provider, now, e);
	if (!rc && listing_offer_visible(lp, so, why))
		*why = NULL;
	free(lp);
	return rc;
}

/*
 * The body's signed offer: parsed into *eo, with its machine id, signature and EIP-712 digest, and the
 * signer checked to be the offer's provider. 0, or the error status with the answer written.
 */
static int signed_offer_parse(struct escrow_offer *eo, uint64_t *machine_id, uint8_t sig[65],
			      uint8_t digest[32], struct server *s, const json_t *body, struct srv_resp *rs)
{
	const json_t *oj = json_object_get(body, "offer");
	const char *field = NULL, *sig_hex;
	struct eth_address signer;
	struct err e = { 0 };
	int rc;

	if (!json_is_object(oj))
		return srv_error(rs, 400, "invalid", "offer", "offer: the signed EIP-712 Offer object is required");
	if ((rc = parse_offer(eo, oj, &field, &e)))
		return srv_error_from(rs, rc == ERR_NOT_FOUND ? ERR_INVALID : rc, field, &e);
	if ((rc = json_get_id(machine_id, body, "machine_id", &e)))
		return srv_error_from(rs, rc == ERR_NOT_FOUND ? ERR_INVALID : rc, "machine_id", &e);
	if (json_get_str(&sig_hex, body, "signature", 2 + 130, &e) || hex_decode_exact(sig, 65, sig_hex, &e))
		return srv_error(rs, 400, "invalid", "signature", "signature: 65 bytes r||s||v as 0x-hex");
	if ((rc = escrow_offer_digest(digest, s->cfg.chain_id, &s->cfg.escrow, eo, &e)))
		return srv_error_from(rs, rc, "offer", &e);
	if (secp_recover_address(&signer, digest, sig, &e) || !address_equal(&signer, &eo->provider))
		return srv_error(rs, 401, "bad_signature", "signature",
				 "the signature is not the provider's signature of this offer for chain %" PRIu64
				 " and escrow contract", s->cfg.chain_id);
	return 0;
}

/*
 * The terms the escrow (or this marketplace) would refuse, checked before anything is stored: the
 * token, expiry, rate and payout, capacity, fee bound, monitor, dispute window, duration bounds.
 * 0, or the error status with the answer written.
 */
static int offer_terms_check(const struct server *s, const struct escrow_offer *eo, int64_t now,
			     struct srv_resp *rs)
{
	if (!server_token(s, &eo->token))
		return srv_error(rs, 422, "token_not_accepted", "offer.token",
				 "this marketplace does not list offers in this token");
	if (eo->expiry <= (uint64_t)now || eo->expiry > (uint64_t)STORE_TIME_MAX)
		return srv_error(rs, 422, "expired", "offer.expiry", "the offer's expiry is not in the future");
	if (u256_is_zero(&eo->rate) || address_is_zero(&eo->payout))
		return srv_error(rs, 422, "invalid", u256_is_zero(&eo->rate) ? "offer.rate" : "offer.payout",
				 "the escrow refuses a zero rate or a zero payout address");
	if (eo->capacity == 0)
		return srv_error(rs, 422, "invalid", "offer.capacity",
				 "capacity must be at least 1 (rentals of the machine live at once)");
	if (eo->max_fee_bps < s->cfg.fee_bps)
		return srv_error(rs, 422, "fee_above_offer_max", "offer.maxFeeBps",
				 "the platform fee is %u bps, above the offer's maxFeeBps %u: the escrow would refuse it",
				 (unsigned)s->cfg.fee_bps, (unsigned)eo->max_fee_bps);
	if (s->cfg.has_escrow_monitor && !address_equal(&eo->monitor, &s->cfg.escrow_monitor)) {
		char want[ADDRESS_STR_MAX];
		address_to_checksum(want, &s->cfg.escrow_monitor);
		return srv_error(rs, 422, "monitor_mismatch", "offer.monitor",
				 "the offer names another monitor than the escrow's (%s): the escrow would refuse it",
				 want);
	}
	if (eo->dispute_secs < s->cfg.min_dispute_secs)
		return srv_error(rs, 422, "dispute_window", "offer.disputeSecs",
				 "disputeSecs must be at least %" PRIu32, s->cfg.min_dispute_secs);
	if (eo->min_secs > eo->max_secs || eo->max_secs == 0)
		return srv_error(rs, 422, "invalid", "offer.maxSecs", "need 0 < minSecs <= maxSecs");
	return 0;
}

/* The store's row for a checked offer (status active, created now). */
static void offer_row(struct store_offer *so, const struct escrow_offer *eo, const uint8_t digest[32],
		      const uint8_t sig[65], uint64_t machine_id, const struct srv_token *tok, int64_t now)
{
	memset(so, 0, sizeof *so);
	hex_encode_0x(so->offer_hash, digest, 32);
	so->machine_id = machine_id;
	address_to_lower(so->provider, &eo->provider);
	address_to_lower(so->payout, &eo->payout);
	address_to_lower(so->token, &eo->token);
	address_to_lower(so->arbiter, &eo->arbiter);
	u256_to_dec(so->rate, &eo->rate);
	so->min_secs = eo->min_secs;
	so->max_secs = eo->max_secs;
	so->interruptible = eo->interruptible;
	so->notice_secs = eo->notice_secs;
	so->grace_secs = eo->grace_secs;
	so->dispute_secs = eo->dispute_secs;
	hex_encode_0x(so->spec_hash, eo->spec_hash, 32);
	so->capacity = eo->capacity;
	address_to_lower(so->monitor, &eo->monitor);
	so->max_fee_bps = eo->max_fee_bps;
	so->expiry = (int64_t)eo->expiry;
	snprintf(so->nonce, sizeof so->nonce, "%" PRIu64, eo->nonce);
	hex_encode_0x(so->signature, sig, 65);
	snprintf(so->token_symbol, sizeof so->token_symbol, "%s", tok->symbol);
	so->token_decimals = tok->decimals;
	so->status = STORE_OFFER_ACTIVE;
	so->created_at = so->updated_at = now;
}

/* Puts the stored offer into the search index, or takes it out when it is not rentable (*why). */
static int offer_index(struct server *s, const struct offer *rec, const struct store_offer *so, int64_t now,
		       const char **why, struct err *e)
{
	int rc;

	if ((rc = offer_visible(s, so, now, why, e)))
		return rc;
	pthread_rwlock_rdlock(&s->index_lock);
	rc = *why ? search_index_remove(s->index, rec->id32, NULL) : search_index_put(s->index, rec, e);
	pthread_rwlock_unlock(&s->index_lock);
	if (rc && !*why)
		log_warn("offer stored but not indexed", "offer=%s err=%s", so->offer_hash, err_name(rc));
	log_info(*why ? "offer stored, not listed" : "offer listed", "offer=%s provider=%s machine=%" PRIu64
		 " why=%s", so->offer_hash, so->provider, so->machine_id, *why ? *why : "-");
	return 0;
}

int route_offers_post(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct escrow_offer eo;
	struct store_offer so, old;
	struct store_host h;
	struct reputation rep;
	struct offer rec;
	uint8_t digest[32], sig[65];
	char prov[ADDRESS_STR_MAX];
	struct err e = { 0 };
	json_t *body = NULL, *j;
	int64_t now = server_now();
	uint64_t machine_id;
	const char *why = NULL;
	int rc;

	if ((rc = srv_body_object(&body, rq, rs)))
		return rc;
	if (signed_offer_parse(&eo, &machine_id, sig, digest, s, body, rs) || offer_terms_check(s, &eo, now, rs))
		goto out;
	address_to_lower(prov, &eo.provider);
	if (store_host_get(s->store, &h, machine_id, &e) || strcmp(h.provider, prov) != 0) {
		srv_error(rs, 422, "unknown_host", "machine_id",
			  "machine %" PRIu64 " is not a host registered by the offer's provider", machine_id);
		goto out;
	}
	offer_row(&so, &eo, digest, sig, machine_id, server_token(s, &eo.token), now);
	if (store_offer_get(s->store, &old, so.offer_hash, NULL) == 0 && old.status != STORE_OFFER_ACTIVE) {
		srv_error(rs, 409, "offer_closed", "offer", "this offer was %s and cannot be listed again",
			  store_offer_status_name(old.status));
		goto out;
	}
	if ((rc = reputation_get(s, &rep, so.provider, now, &e))) {
		srv_error_from(rs, rc, NULL, &e);
		goto out;
	}
	if ((rc = offer_record(s, &rec, &so, &rep, &e))) {
		srv_error(rs, 422, "invalid", "offer", "%s", e.msg);
		goto out;
	}
	if ((rc = store_offer_put(s->store, &so, &e))) {
		srv_error_from(rs, rc, "offer", &e);
		goto out;
	}
	if ((rc = offer_index(s, &rec, &so, now, &why, &e))) {
		srv_error_from(rs, rc, NULL, &e);
		goto out;
	}
	store_offer_get(s->store, &so, so.offer_hash, NULL);
	j = offer_json(&rec, &so);
	if (j) {
		json_object_set_new(j, "listed", json_boolean(!why));
		if (why)
			json_object_set_new(j, "not_listed_because", json_string(why));
	}
	srv_json(rs, 201, j);
out:
	json_decref(body);
	return rs->status;
}

/* ---- GET /offers ---- */

static int parse_uint(uint32_t *out, const char *s, uint32_t max)
{
	uint64_t v = 0;
	if (!s || !*s)
		return ERR_INVALID;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return ERR_INVALID;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return ERR_RANGE;
	}
	*out = (uint32_t)v;
	return 0;
}

int route_offers_search(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	const char *q = rq->query(rq, "q"), *o = rq->query(rq, "o");
	const char *lim = rq->query(rq, "limit"), *cur = rq->query(rq, "cursor");
	const char *off = rq->query(rq, "offset");
	struct filter *f;
	struct filter_sort sort;
	struct search_page page = { OFFERS_PAGE_DEFAULT, 0, NULL };
	struct search_result res = { 0 };
	struct err e = { 0 };
	size_t err_off = 0;
	json_t *arr;
	int rc;

	if (q && strlen(q) > FILTER_TEXT_MAX)
		return srv_error(rs, 413, "too_big", "q", "filter longer than %d bytes", FILTER_TEXT_MAX);
	if (lim && parse_uint(&page.limit, lim, OFFERS_PAGE_MAX))
		return srv_error(rs, 400, "invalid", "limit", "limit: 1..%d", OFFERS_PAGE_MAX);
	if (page.limit == 0)
		return srv_error(rs, 400, "invalid", "limit", "limit: 1..%d", OFFERS_PAGE_MAX);
	if (off && parse_uint(&page.offset, off, SEARCH_OFFSET_MAX))
		return srv_error(rs, 400, "invalid", "offset", "offset: 0..%d", SEARCH_OFFSET_MAX);
	if (cur && strlen(cur) >= SEARCH_CURSOR_MAX)
		return srv_error(rs, 400, "invalid", "cursor", "bad cursor");
	page.cursor = cur;
	f = malloc(sizeof *f);
	if (!f)
		return srv_error(rs, 500, "internal", NULL, "out of memory");
	if ((rc = filter_parse(f, q ? q : "", q ? strlen(q) : 0, &err_off, &e))) {
		free(f);
		srv_error(rs, 400, "bad_filter", "q", "%s", e.msg);
		json_object_set_new(json_object_get(rs->json, "error"), "offset", json_integer((json_int_t)err_off));
		return 400;
	}
	if ((rc = filter_sort_parse(&sort, o, &e))) {
		free(f);
		return srv_error(rs, 400, "bad_sort", "o", "%s", e.msg);
	}
	pthread_rwlock_rdlock(&s->index_lock);
	rc = search_query(&res, s->index, f, &sort, &page, server_now(), &e);
	pthread_rwlock_unlock(&s->index_lock);
	free(f);
	if (rc)
		return srv_error(rs, 400, rc == ERR_INVALID ? "bad_cursor" : "invalid",
				 rc == ERR_INVALID ? "cursor" : "limit", "%s", e.msg);
	arr = json_array();
	for (size_t i = 0; arr && i < res.n; i++) {
		struct store_offer so;
		char h[STORE_HASH_SIZE];
		hex_encode_0x(h, res.offers[i].id32, 32);
		if (store_offer_get(s->store, &so, h, NULL) == 0)
			json_array_append_new(arr, offer_json(&res.offers[i], &so));
	}
	json_t *out = arr ? json_pack("{s:I, s:o, s:s}", "total", (json_int_t)res.total, "offers", arr,
				      "next_cursor", res.next_cursor) : NULL;
	search_result_release(&res);
	return srv_json(rs, 200, out);
}

/* ---- GET / DELETE /offers/{hash} ---- */

static int parse_hash_arg(char out[STORE_HASH_SIZE], const char *arg)
{
	uint8_t h[32];
	if (strlen(arg) != 66 || hex_decode_exact(h, 32, arg, NULL))
		return ERR_INVALID;
	hex_encode_0x(out, h, 32);
	return 0;
}

int route_offer_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char h[STORE_HASH_SIZE];
	struct store_offer so;
	struct offer rec;
	struct reputation rep;
	struct err e = { 0 };
	int rc;

	if (parse_hash_arg(h, rq->arg))
		return srv_error(rs, 400, "invalid", "offer_hash", "offer hash: 0x + 64 hex digits");
	if ((rc = store_offer_get(s->store, &so, h, &e)))
		return srv_error_from(rs, rc, "offer_hash", &e);
	if (reputation_get(s, &rep, so.provider, server_now(), &e))
		memset(&rep, 0, sizeof rep);
	if ((rc = offer_record(s, &rec, &so, &rep, &e)))
		return srv_json(rs, 200, json_pack("{s:s, s:s, s:o, s:s}", "offer_hash", so.offer_hash,
						   "status", store_offer_status_name(so.status), "offer",
						   signed_offer_json(&so), "signature", so.signature));
	return srv_json(rs, 200, offer_json(&rec, &so));
}

int route_offer_delete(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char h[STORE_HASH_SIZE], addr[STORE_ADDR_SIZE];
	struct store_offer so;
	struct err e = { 0 };
	uint8_t id[32];
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)))
		return rc;
	if (parse_hash_arg(h, rq->arg))
		return srv_error(rs, 400, "invalid", "offer_hash", "offer hash: 0x + 64 hex digits");
	if ((rc = store_offer_get(s->store, &so, h, &e)))
		return srv_error_from(rs, rc, "offer_hash", &e);
	if (strcmp(so.provider, addr) != 0)
		return srv_error(rs, 403, "forbidden", "offer_hash", "only the offer's provider may withdraw it");
	rc = store_offer_set_status(s->store, h, STORE_OFFER_CANCELLED, server_now(), &e);
	if (rc && rc != ERR_STATE)
		return srv_error_from(rs, rc, "offer_hash", &e);
	hex_decode_exact(id, 32, h, NULL);
	pthread_rwlock_rdlock(&s->index_lock);
	search_index_remove(s->index, id, NULL);
	pthread_rwlock_unlock(&s->index_lock);
	return srv_json(rs, 200, json_pack("{s:s, s:s}", "offer_hash", h, "status", "cancelled"));
}
