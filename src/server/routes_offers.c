/*
 * routes_offers.c — signed offers: POST /offers, GET /offers (search), GET /offers/{hash},
 * DELETE /offers/{hash}. The index and the offer views it holds are offer_index.c's.
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
 * Reads cost an index scan and a copy: a search joins the page's rendered offer views into one answer,
 * cached by (query, second) for the index generation it was computed from, so a repeated search is a
 * cache lookup and any write makes older answers unreachable; offer detail is the listed offer's view
 * (the store is read only for offers not listed). Both answer through srv_view (ETag, 304, gzip).
 *
 * DELETE only hides the listing (the provider signed in); the signature stays valid on chain until
 * the provider calls cancelOffer(nonce), which the indexer sees and applies too.
 */
#include "server/server.h"

#include "core/buf.h"
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

int srv_offer_parse(struct escrow_offer *o, const json_t *j, const char **field, struct err *e)
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
	if ((rc = srv_offer_parse(eo, oj, &field, &e)))
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
	/* the record is built here only to refuse what cannot be listed (host, GPUs, token, rate) before the
	 * store write; offers_index_put builds the one it lists and answers with, reputation included */
	memset(&rep, 0, sizeof rep);
	if ((rc = offer_record(s, &rec, &so, &rep, &e))) {
		srv_error(rs, 422, "invalid", "offer", "%s", e.msg);
		goto out;
	}
	if ((rc = store_offer_put(s->store, &so, &e))) {
		srv_error_from(rs, rc, "offer", &e);
		goto out;
	}
	store_offer_get(s->store, &so, so.offer_hash, NULL);
	if ((rc = offers_index_put(s, &so, &rec, &why, &e)))
		log_warn("offer stored but not indexed", "offer=%s err=%s", so.offer_hash, e.msg);
	log_info(why ? "offer stored, not listed" : "offer listed", "offer=%s provider=%s machine=%" PRIu64
		 " why=%s", so.offer_hash, so.provider, so.machine_id, why ? why : "-");
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

/*
 * A search answer's cache key: the raw parameters, each with its length (0 when absent), so two
 * requests share an answer only when they asked the same, and the second it is for (what is live
 * depends on it). 0 when it would not fit. The index generation is the entry's tag: both are compared
 * exactly, never through a hash.
 */
static size_t answer_key(char *out, size_t cap, int64_t now, const char *q, const char *o, const char *lim,
			 const char *off, const char *cur)
{
	const char *parts[5] = { q, o, lim, off, cur };
	int w0 = snprintf(out, cap, "%" PRId64 "|", now);
	size_t n = w0 > 0 ? (size_t)w0 : 0;

	for (int i = 0; i < 5; i++) {
		const char *p = parts[i] ? parts[i] : "";
		int w = snprintf(out + n, cap - n, "%zu:%s|", strlen(p), p);
		if (w < 0 || (size_t)w >= cap - n)
			return 0;
		n += (size_t)w;
	}
	return n;
}

/*
 * One page as a view: {"total":N,"offers":[view,...],"next_cursor":"..."} from the rows' rendered
 * views; its tag combines theirs, so it changes exactly when one of them or the page does.
 */
static struct view *answer_join(const struct search_result *res)
{
	struct buf b;
	char head[64];
	uint64_t etag = view_hash(0, &res->total, sizeof res->total);
	struct view *v = NULL;
	int n = snprintf(head, sizeof head, "{\"total\":%zu,\"offers\":[", res->total);
	int rc;

	buf_init(&b, VIEW_CACHE_BODY_MAX + 4096);
	rc = buf_append(&b, head, (size_t)n);
	for (size_t i = 0, k = 0; !rc && i < res->n; i++) {
		const struct view *ov = res->payloads ? res->payloads[i] : NULL;
		if (!ov)
			continue; /* every listed row has its view; none only without memory */
		if (k++ && (rc = buf_append(&b, ",", 1)))
			break;
		rc = buf_append(&b, ov->body, ov->len);
		etag = view_hash(etag, &ov->etag, sizeof ov->etag);
	}
	if (!rc && !(rc = buf_append(&b, "],\"next_cursor\":\"", 17)) &&
	    !(rc = buf_append(&b, res->next_cursor, strlen(res->next_cursor))))
		rc = buf_append(&b, "\"}", 2);
	if (!rc)
		v = view_new_tagged((const char *)b.data, b.len,
				    view_hash(etag, res->next_cursor, strlen(res->next_cursor)));
	buf_release(&b);
	return v;
}

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
	size_t err_off = 0, key_len;
	char key[VIEW_CACHE_KEY_MAX + 1];
	int64_t now = server_now();
	/* the generation is read before the query: an answer is never tagged newer than what it saw */
	uint64_t tag = atomic_load(&s->index_gen);
	struct view *v;
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
	key_len = answer_key(key, sizeof key, now, q, o, lim, off, cur);
	if (key_len && (v = view_cache_get(s->answers, key, key_len, tag)))
		return srv_view(s, rq, rs, 200, v);
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
	rc = search_query(&res, s->index, f, &sort, &page, now, &e);
	pthread_rwlock_unlock(&s->index_lock);
	free(f);
	if (rc)
		return srv_error(rs, 400, rc == ERR_INVALID ? "bad_cursor" : "invalid",
				 rc == ERR_INVALID ? "cursor" : "limit", "%s", e.msg);
	v = answer_join(&res);
	search_result_release(&res);
	if (v)
		view_cache_put(s->answers, key, key_len, tag, view_cache_seq(s->answers), v);
	return srv_view(s, rq, rs, 200, v);
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
	uint8_t id[32];
	struct view *v;
	json_t *j;
	int rc;

	if (parse_hash_arg(h, rq->arg))
		return srv_error(rs, 400, "invalid", "offer_hash", "offer hash: 0x + 64 hex digits");
	hex_decode_exact(id, 32, h, NULL);
	if ((v = offers_view_of(s, id, server_now())))
		return srv_view(s, rq, rs, 200, v); /* listed: the view search shows, no store query */
	/* not listed (withdrawn, expired, its host down or rented): read from the store */
	if ((rc = store_offer_get(s->store, &so, h, &e)))
		return srv_error_from(rs, rc, "offer_hash", &e);
	if (reputation_get(s, &rep, so.provider, server_now(), &e))
		memset(&rep, 0, sizeof rep);
	if ((rc = offer_record(s, &rec, &so, &rep, &e)))
		j = json_pack("{s:s, s:s, s:o, s:s}", "offer_hash", so.offer_hash, "status",
			      store_offer_status_name(so.status), "offer", signed_offer_json(&so), "signature",
			      so.signature);
	else
		j = offer_json(&rec, &so);
	v = view_from_json(j);
	json_decref(j);
	return srv_view(s, rq, rs, 200, v);
}

int route_offer_delete(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char h[STORE_HASH_SIZE], addr[STORE_ADDR_SIZE];
	struct store_offer so;
	struct err e = { 0 };
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
	offers_index_remove(s, h);
	listing_tell_replicas(s, so.provider); /* the other replicas take it out of their search too */
	return srv_json(rs, 200, json_pack("{s:s, s:s}", "offer_hash", h, "status", "cancelled"));
}

/* ---- GET /me/offers: the signed-in provider's offers, listed or not ---- */

#define ME_OFFERS_MAX 1000

struct my_offers {
	struct server *s;
	json_t *arr;
	const struct reputation *rep;
	int64_t now;
};

static int my_offer_cb(void *ctx, const struct store_offer *so)
{
	struct my_offers *m = ctx;
	struct offer rec;
	uint8_t id[32];
	struct view *listed;
	json_t *j;

	if (so->status != STORE_OFFER_ACTIVE || json_array_size(m->arr) >= ME_OFFERS_MAX)
		return 0;
	if (hex_decode_exact(id, 32, so->offer_hash, NULL))
		return 0;
	listed = offers_view_of(m->s, id, m->now);
	view_release(listed);
	if (offer_record(m->s, &rec, so, m->rep, NULL))
		j = json_pack("{s:s, s:s, s:o, s:s}", "offer_hash", so->offer_hash, "status",
			      store_offer_status_name(so->status), "offer", signed_offer_json(so), "signature", so->signature);
	else
		j = offer_json(&rec, so);
	if (!j)
		return ERR_NOMEM;
	json_object_set_new(j, "listed", json_boolean(listed != NULL));
	return json_array_append_new(m->arr, j) ? ERR_NOMEM : 0;
}

/*
 * The signed-in provider's active, unexpired offers, each with `listed`: whether search shows it now (an
 * offer whose machine is rented or whose host is down is not listed but still theirs to withdraw).
 */
int route_me_offers(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE];
	struct reputation rep;
	struct my_offers m;
	struct err e = { 0 };
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)))
		return rc;
	memset(&m, 0, sizeof m);
	m.s = s;
	m.now = server_now();
	m.rep = &rep;
	if (reputation_get(s, &rep, addr, m.now, &e))
		memset(&rep, 0, sizeof rep);
	if (!(m.arr = json_array()))
		return srv_error(rs, 500, "internal", NULL, "out of memory");
	if ((rc = store_offers_of_provider(s->store, addr, m.now, my_offer_cb, &m, &e))) {
		json_decref(m.arr);
		return srv_error_from(rs, rc, NULL, &e);
	}
	return srv_json(rs, 200, json_pack("{s:s, s:o}", "provider", addr, "offers", m.arr));
}
