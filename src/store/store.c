/*
 * store.c — URL dispatch and input checks for the store (see store.h).
 *
 * Every public store_* call checks all of its inputs here, so each backend
 * sees only well-formed values: text within its cap (the error names the
 * field), addresses "0x" + 40 lowercase hex, hashes "0x" + 64 lowercase
 * hex, uint256 decimals canonical (no sign, no leading zero, < 2^256, and
 * narrower where the contract field is: rate uint128, nonce uint64), times
 * within 0..STORE_TIME_MAX, ids within 0..INT64_MAX, enums known. JSON text
 * columns must parse (jansson). Session tokens are replaced here by their
 * SHA-256 (libsodium), so no backend ever sees a token.
 */
#include "store/store.h"

#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "core/err.h"
#include "core/hex.h"
#include "core/u256.h"
#include "store/store_impl.h"

/* ---- field checks: each returns 0 or an error naming `f` ---- */

static int v_text(const char *f, const char *s, size_t size, bool nonempty, struct err *e)
{
	size_t n;
	if (!s)
		return err_set(e, ERR_INVALID, "%s: missing", f);
	n = strnlen(s, size);
	if (n == size)
		return err_set(e, ERR_TOO_BIG, "%s: longer than %zu bytes", f, size - 1);
	if (nonempty && n == 0)
		return err_set(e, ERR_INVALID, "%s: empty", f);
	return 0;
}

/* "0x" + exactly `digits` lowercase hex digits. */
static int v_hexfix(const char *f, const char *s, size_t digits, struct err *e)
{
	int rc;
	if ((rc = v_text(f, s, digits + 3, true, e)))
		return rc;
	if (strlen(s) != digits + 2 || s[0] != '0' || s[1] != 'x')
		return err_set(e, ERR_INVALID, "%s: want 0x and %zu hex digits", f, digits);
	for (size_t i = 2; i < digits + 2; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return err_set(e, ERR_INVALID, "%s: digit %zu is not lowercase hex", f, i);
	}
	return 0;
}

static int v_addr(const char *f, const char *s, struct err *e)
{
	return v_hexfix(f, s, 40, e);
}

static int v_hash(const char *f, const char *s, struct err *e)
{
	return v_hexfix(f, s, 64, e);
}

/* Canonical decimal of an unsigned integer of at most `bits` bits (64, 128, 256). */
static int v_dec(const char *f, const char *s, unsigned bits, struct err *e)
{
	u256 v;
	int rc;
	if ((rc = v_text(f, s, STORE_DEC_SIZE, true, e)))
		return rc;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return err_set(e, ERR_INVALID, "%s: not a decimal digit at offset %zu", f,
				       (size_t)(p - s));
	if (s[0] == '0' && s[1])
		return err_set(e, ERR_NONCANONICAL, "%s: leading zero", f);
	if ((rc = u256_parse_dec(&v, s, NULL)))
		return err_set(e, ERR_RANGE, "%s: does not fit 256 bits", f);
	for (unsigned w = bits / 64; w < 4; w++)
		if (v.w[w])
			return err_set(e, ERR_RANGE, "%s: does not fit %u bits", f, bits);
	return 0;
}

static int v_time(const char *f, int64_t t, struct err *e)
{
	if (t < 0 || t > STORE_TIME_MAX)
		return err_set(e, ERR_RANGE, "%s: %lld is not a unix time in 0..%lld", f, (long long)t,
			       (long long)STORE_TIME_MAX);
	return 0;
}

static int v_id(const char *f, uint64_t v, struct err *e)
{
	if (v > (uint64_t)STORE_ID_MAX)
		return err_set(e, ERR_RANGE, "%s: above 2^63-1", f);
	return 0;
}

static int v_max(const char *f, uint64_t v, uint64_t lo, uint64_t hi, struct err *e)
{
	if (v < lo || v > hi)
		return err_set(e, ERR_RANGE, "%s: %llu not in %llu..%llu", f, (unsigned long long)v,
			       (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

/* JSON text: "" or a JSON document that parses. */
static int v_json(const char *f, const char *s, struct err *e)
{
	json_error_t je;
	json_t *j;
	int rc;
	if ((rc = v_text(f, s, STORE_JSON_SIZE, false, e)))
		return rc;
	if (!s[0])
		return 0;
	if (!(j = json_loads(s, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je)))
		return err_set(e, ERR_INVALID, "%s: not JSON at offset %d: %s", f, je.position, je.text);
	json_decref(j);
	return 0;
}

/* Every byte matches `ok`; length lo..hi. */
static int v_chars(const char *f, const char *s, size_t lo, size_t hi, bool (*ok)(char, size_t),
		   struct err *e)
{
	int rc;
	size_t n;
	if ((rc = v_text(f, s, hi + 1, false, e)))
		return rc;
	n = strlen(s);
	if (n < lo)
		return err_set(e, ERR_INVALID, "%s: shorter than %zu", f, lo);
	for (size_t i = 0; i < n; i++)
		if (!ok(s[i], i))
			return err_set(e, ERR_INVALID, "%s: bad character at offset %zu", f, i);
	return 0;
}

static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ok_nonce(char c, size_t i)
{
	(void)i;
	return is_alnum(c);
}

static bool ok_kind(char c, size_t i)
{
	(void)i;
	return is_alnum(c) || c == '_';
}

static bool ok_country(char c, size_t i)
{
	(void)i;
	return c >= 'A' && c <= 'Z';
}

static bool ok_user(char c, size_t i)
{
	if ((c >= 'a' && c <= 'z') || c == '_')
		return true;
	return i > 0 && ((c >= '0' && c <= '9') || c == '-');
}

static bool ok_host(char c, size_t i)
{
	(void)i;
	return c > ' ' && c < 0x7f;
}

/* SSH host key lines: key type names, base64, one space inside a line, newlines between lines. */
static bool ok_host_keys(char c, size_t i)
{
	(void)i;
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
	       c == '=' || c == '-' || c == '@' || c == '.' || c == ' ' || c == '\n';
}

/* "0x" + an even number of lowercase hex digits, lo..hi bytes. */
static int v_hexvar(const char *f, const char *s, size_t lo, size_t hi, struct err *e)
{
	int rc;
	size_t n;
	if ((rc = v_text(f, s, 2 * hi + 3, true, e)))
		return rc;
	n = strlen(s);
	if (n < 2 || s[0] != '0' || s[1] != 'x' || (n - 2) % 2)
		return err_set(e, ERR_INVALID, "%s: want 0x and an even number of hex digits", f);
	if ((n - 2) / 2 < lo)
		return err_set(e, ERR_INVALID, "%s: shorter than %zu bytes", f, lo);
	for (size_t i = 2; i < n; i++)
		if (hex_digit(s[i]) < 0 || (s[i] >= 'A' && s[i] <= 'F'))
			return err_set(e, ERR_INVALID, "%s: digit %zu is not lowercase hex", f, i);
	return 0;
}

/* UTF-8 characters in s (lead bytes: every byte that is not 10xxxxxx). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		int rc_ = (x);                                                                     \
		if (rc_)                                                                           \
			return rc_;                                                                \
	} while (0)

static int v_store(const struct store *s, struct err *e)
{
	if (!s || !s->ops)
		return err_set(e, ERR_INVALID, "store: not open");
	return 0;
}

static int v_out(const void *p, const char *f, struct err *e)
{
	return p ? 0 : err_set(e, ERR_INVALID, "%s: missing", f);
}

/* SHA-256 of a session token as 64 lowercase hex digits. */
static int token_hash(char out[STORE_TOKEN_HASH_SIZE], const uint8_t *token, size_t len,
		      struct err *e)
{
	uint8_t h[crypto_hash_sha256_BYTES];
	if (!token)
		return err_set(e, ERR_INVALID, "token: missing");
	if (len < 16)
		return err_set(e, ERR_INVALID, "token: shorter than 16 bytes");
	if (len > STORE_TOKEN_MAX)
		return err_set(e, ERR_TOO_BIG, "token: longer than %d bytes", STORE_TOKEN_MAX);
	crypto_hash_sha256(h, token, len);
	hex_encode(out, h, sizeof h);
	sodium_memzero(h, sizeof h);
	return 0;
}

/* ---- open, close, transactions ---- */

int store_open(struct store **out, const char *url, struct err *e)
{
	const char *path;
	CHECK(v_out(out, "out", e));
	CHECK(v_text("url", url, STORE_URL_MAX + 1, true, e));
	if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) {
		if (sodium_init() < 0)
			return err_set(e, ERR_CRYPTO, "store: libsodium init failed");
		return store_postgres_open(out, url, e);
	}
	if (strncmp(url, "sqlite:", 7))
		return err_set(e, ERR_INVALID, "url: want sqlite:/path or postgres://...");
	path = url + 7;
	if (!strncmp(path, "//", 2)) /* sqlite:///abs/path */
		path += 2;
	if (!path[0])
		return err_set(e, ERR_INVALID, "url: empty sqlite path");
	if (sodium_init() < 0)
		return err_set(e, ERR_CRYPTO, "store: libsodium init failed");
	return store_sqlite_open(out, path, e);
}

void store_close(struct store *s)
{
	if (s && s->ops)
		s->ops->close(s);
}

int store_schema_version(struct store *s, int *out, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	return s->ops->schema_version(s, out, e);
}

int store_tx_begin(struct store *s, struct err *e)
{
	CHECK(v_store(s, e));
	return s->ops->tx_begin(s, e);
}

int store_tx_commit(struct store *s, struct err *e)
{
	CHECK(v_store(s, e));
	return s->ops->tx_commit(s, e);
}

int store_tx_rollback(struct store *s, struct err *e)
{
	CHECK(v_store(s, e));
	return s->ops->tx_rollback(s, e);
}

/* ---- providers, hosts, GPUs ---- */

int store_provider_upsert(struct store *s, const struct store_provider *p, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(p, "provider", e));
	CHECK(v_addr("address", p->address, e));
	CHECK(v_time("first_seen", p->first_seen, e));
	CHECK(v_time("last_heartbeat", p->last_heartbeat, e));
	CHECK(v_text("endpoint", p->endpoint, sizeof p->endpoint, false, e));
	return s->ops->provider_upsert(s, p, e);
}

int store_provider_get(struct store *s, struct store_provider *out, const char *address,
		       struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_addr("address", address, e));
	return s->ops->provider_get(s, out, address, e);
}

int store_host_upsert(struct store *s, const struct store_host *h, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(h, "host", e));
	CHECK(v_addr("provider", h->provider, e));
	CHECK(v_text("country", h->country, sizeof h->country, false, e));
	if (h->country[0])
		CHECK(v_chars("country", h->country, 2, 2, ok_country, e));
	CHECK(v_text("region", h->region, sizeof h->region, false, e));
	CHECK(v_text("driver_version", h->driver_version, sizeof h->driver_version, false, e));
	CHECK(v_text("cuda_version", h->cuda_version, sizeof h->cuda_version, false, e));
	CHECK(v_time("updated_at", h->updated_at, e));
	return s->ops->host_upsert(s, h, e);
}

int store_host_get(struct store *s, struct store_host *out, uint64_t machine_id, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	return s->ops->host_get(s, out, machine_id, e);
}

int store_gpu_upsert(struct store *s, const struct store_gpu *g, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(g, "gpu", e));
	CHECK(v_max("index", g->index, 0, STORE_GPU_INDEX_MAX, e));
	CHECK(v_text("model", g->model, sizeof g->model, true, e));
	CHECK(v_id("fp32_mtflops", g->fp32_mtflops, e));
	CHECK(v_id("fp16_mtflops", g->fp16_mtflops, e));
	CHECK(v_time("bench_at", g->bench_at, e));
	return s->ops->gpu_upsert(s, g, e);
}

int store_gpu_get(struct store *s, struct store_gpu *out, uint64_t machine_id, uint32_t index,
		  struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_max("index", index, 0, STORE_GPU_INDEX_MAX, e));
	return s->ops->gpu_get(s, out, machine_id, index, e);
}

int store_gpus_list(struct store *s, uint64_t machine_id, store_gpu_cb cb, void *ctx,
		    struct err *e)
{
	CHECK(v_store(s, e));
	if (!cb)
		return err_set(e, ERR_INVALID, "cb: missing");
	return s->ops->gpus_list(s, machine_id, cb, ctx, e);
}

/* ---- offers ---- */

static int v_offer_status(enum store_offer_status st, struct err *e)
{
	if (st != STORE_OFFER_ACTIVE && st != STORE_OFFER_CANCELLED && st != STORE_OFFER_EXPIRED)
		return err_set(e, ERR_INVALID, "status: unknown offer status %d", (int)st);
	return 0;
}

int store_offer_put(struct store *s, const struct store_offer *o, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(o, "offer", e));
	CHECK(v_hash("offer_hash", o->offer_hash, e));
	CHECK(v_addr("provider", o->provider, e));
	CHECK(v_addr("payout", o->payout, e));
	CHECK(v_addr("token", o->token, e));
	CHECK(v_addr("arbiter", o->arbiter, e));
	CHECK(v_dec("rate", o->rate, 128, e));
	CHECK(v_hash("spec_hash", o->spec_hash, e));
	CHECK(v_max("capacity", o->capacity, 1, 65535, e));
	CHECK(v_addr("monitor", o->monitor, e));
	CHECK(v_max("max_fee_bps", o->max_fee_bps, 0, 10000, e));
	CHECK(v_time("expiry", o->expiry, e)); /* STORE_TIME_MAX < 2^40: fits uint40 */
	CHECK(v_dec("nonce", o->nonce, 64, e));
	CHECK(v_hexvar("signature", o->signature, 65, (STORE_SIG_SIZE - 3) / 2, e));
	CHECK(v_chars("token_symbol", o->token_symbol, 1, STORE_SYMBOL_SIZE - 1, ok_nonce, e));
	CHECK(v_max("token_decimals", o->token_decimals, 0, 36, e));
	CHECK(v_offer_status(o->status, e));
	CHECK(v_time("created_at", o->created_at, e));
	CHECK(v_time("updated_at", o->updated_at, e));
	return s->ops->offer_put(s, o, e);
}

int store_offer_get(struct store *s, struct store_offer *out, const char *offer_hash,
		    struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_hash("offer_hash", offer_hash, e));
	return s->ops->offer_get(s, out, offer_hash, e);
}

int store_offer_set_status(struct store *s, const char *offer_hash, enum store_offer_status status,
			   int64_t now, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_hash("offer_hash", offer_hash, e));
	CHECK(v_offer_status(status, e));
	CHECK(v_time("now", now, e));
	return s->ops->offer_set_status(s, offer_hash, status, now, e);
}

int store_offer_cancel_nonce(struct store *s, uint64_t *count, const char *provider,
			     const char *nonce, int64_t now, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_addr("provider", provider, e));
	CHECK(v_dec("nonce", nonce, 64, e));
	CHECK(v_time("now", now, e));
	return s->ops->offer_cancel_nonce(s, count, provider, nonce, now, e);
}

int store_offers_expire(struct store *s, uint64_t *count, int64_t now, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_time("now", now, e));
	return s->ops->offers_expire(s, count, now, e);
}

int store_offers_active(struct store *s, int64_t now, store_offer_cb cb, void *ctx, struct err *e)
{
	CHECK(v_store(s, e));
	if (!cb)
		return err_set(e, ERR_INVALID, "cb: missing");
	CHECK(v_time("now", now, e));
	return s->ops->offers_active(s, now, cb, ctx, e);
}

int store_offers_of_provider(struct store *s, const char *provider, int64_t now, store_offer_cb cb, void *ctx,
			     struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_addr("provider", provider, e));
	if (!cb)
		return err_set(e, ERR_INVALID, "cb: missing");
	CHECK(v_time("now", now, e));
	return s->ops->offers_of_provider(s, provider, now, cb, ctx, e);
}

/* ---- nonces and sessions ---- */

int store_nonce_issue(struct store *s, const char *nonce, int64_t now, int64_t expires_at,
		      struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_chars("nonce", nonce, 8, STORE_NONCE_SIZE - 1, ok_nonce, e));
	CHECK(v_time("now", now, e));
	CHECK(v_time("expires_at", expires_at, e));
	if (expires_at <= now)
		return err_set(e, ERR_INVALID, "expires_at: not after now");
	return s->ops->nonce_issue(s, nonce, now, expires_at, e);
}

int store_nonce_consume(struct store *s, const char *nonce, int64_t now, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_chars("nonce", nonce, 8, STORE_NONCE_SIZE - 1, ok_nonce, e));
	CHECK(v_time("now", now, e));
	return s->ops->nonce_consume(s, nonce, now, e);
}

int store_nonces_purge(struct store *s, uint64_t *count, int64_t before, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_time("before", before, e));
	return s->ops->nonces_purge(s, count, before, e);
}

int store_session_create(struct store *s, const uint8_t *token, size_t token_len,
			 const char *address, int64_t now, int64_t expires_at, struct err *e)
{
	char h[STORE_TOKEN_HASH_SIZE];
	CHECK(v_store(s, e));
	CHECK(v_addr("address", address, e));
	CHECK(v_time("now", now, e));
	CHECK(v_time("expires_at", expires_at, e));
	if (expires_at <= now)
		return err_set(e, ERR_INVALID, "expires_at: not after now");
	CHECK(token_hash(h, token, token_len, e));
	return s->ops->session_create(s, h, address, now, expires_at, e);
}

int store_session_lookup(struct store *s, struct store_session *out, const uint8_t *token,
			 size_t token_len, int64_t now, struct err *e)
{
	char h[STORE_TOKEN_HASH_SIZE];
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_time("now", now, e));
	CHECK(token_hash(h, token, token_len, e));
	return s->ops->session_lookup(s, out, h, now, e);
}

int store_session_delete(struct store *s, const uint8_t *token, size_t token_len, struct err *e)
{
	char h[STORE_TOKEN_HASH_SIZE];
	CHECK(v_store(s, e));
	CHECK(token_hash(h, token, token_len, e));
	return s->ops->session_delete(s, h, e);
}

int store_sessions_purge(struct store *s, uint64_t *count, int64_t before, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_time("before", before, e));
	return s->ops->sessions_purge(s, count, before, e);
}

/* ---- rentals ---- */

int store_rental_upsert(struct store *s, const struct store_rental *r, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(r, "rental", e));
	CHECK(v_id("chain_id", r->chain_id, e));
	CHECK(v_id("id", r->id, e));
	CHECK(v_text("offer_hash", r->offer_hash, sizeof r->offer_hash, false, e));
	if (r->offer_hash[0])
		CHECK(v_hash("offer_hash", r->offer_hash, e));
	CHECK(v_addr("renter", r->renter, e));
	CHECK(v_addr("provider", r->provider, e));
	CHECK(v_addr("payout", r->payout, e));
	CHECK(v_addr("token", r->token, e));
	CHECK(v_dec("rate", r->rate, 128, e));
	CHECK(v_max("fee_bps", r->fee_bps, 0, 10000, e));
	CHECK(v_dec("deposited", r->deposited, 256, e));
	CHECK(v_dec("claimed", r->claimed, 256, e));
	CHECK(v_dec("provider_paid", r->provider_paid, 256, e));
	CHECK(v_dec("fee_paid", r->fee_paid, 256, e));
	CHECK(v_dec("refunded", r->refunded, 256, e));
	if (r->state < STORE_RENTAL_OPEN || r->state > STORE_RENTAL_CLOSED)
		return err_set(e, ERR_INVALID, "state: unknown rental state %d", (int)r->state);
	CHECK(v_time("opened_at", r->opened_at, e));
	CHECK(v_time("paid_until", r->paid_until, e));
	CHECK(v_time("ended_at", r->ended_at, e));
	CHECK(v_id("opened_block", r->opened_block, e));
	CHECK(v_hash("opened_tx", r->opened_tx, e));
	CHECK(v_id("last_block", r->last_block, e));
	CHECK(v_json("extra", r->extra, e));
	return s->ops->rental_upsert(s, r, e);
}

int store_rental_get(struct store *s, struct store_rental *out, uint64_t chain_id, uint64_t id,
		     struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("id", id, e));
	return s->ops->rental_get(s, out, chain_id, id, e);
}

static int rentals_list(struct store *s, uint64_t chain_id, const char *address, bool by_provider,
			uint32_t limit, store_rental_cb cb, void *ctx, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_addr(by_provider ? "provider" : "renter", address, e));
	CHECK(v_max("limit", limit, 1, STORE_LIST_MAX, e));
	if (!cb)
		return err_set(e, ERR_INVALID, "cb: missing");
	return s->ops->rentals_list(s, chain_id, address, by_provider, limit, cb, ctx, e);
}

int store_rentals_by_renter(struct store *s, uint64_t chain_id, const char *renter, uint32_t limit,
			    store_rental_cb cb, void *ctx, struct err *e)
{
	return rentals_list(s, chain_id, renter, false, limit, cb, ctx, e);
}

int store_rentals_by_provider(struct store *s, uint64_t chain_id, const char *provider,
			      uint32_t limit, store_rental_cb cb, void *ctx, struct err *e)
{
	return rentals_list(s, chain_id, provider, true, limit, cb, ctx, e);
}

int store_rental_delete(struct store *s, uint64_t chain_id, uint64_t id, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("id", id, e));
	return s->ops->rental_delete(s, chain_id, id, e);
}

/* ---- events, indexer progress, recent blocks ---- */

int store_event_insert(struct store *s, bool *inserted, const struct store_event *ev,
		       struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(ev, "event", e));
	CHECK(v_id("chain_id", ev->chain_id, e));
	CHECK(v_id("block_number", ev->block_number, e));
	CHECK(v_hash("block_hash", ev->block_hash, e));
	CHECK(v_time("block_time", ev->block_time, e));
	CHECK(v_hash("tx_hash", ev->tx_hash, e));
	CHECK(v_max("log_index", ev->log_index, 0, INT32_MAX, e));
	CHECK(v_id("rental_id", ev->rental_id, e));
	CHECK(v_chars("kind", ev->kind, 1, STORE_KIND_SIZE - 1, ok_kind, e));
	CHECK(v_json("data", ev->data, e));
	return s->ops->event_insert(s, inserted, ev, e);
}

int store_events_of_rental(struct store *s, uint64_t chain_id, uint64_t rental_id,
			   store_event_cb cb, void *ctx, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("rental_id", rental_id, e));
	if (!cb)
		return err_set(e, ERR_INVALID, "cb: missing");
	return s->ops->events_of_rental(s, chain_id, rental_id, cb, ctx, e);
}

int store_events_delete_from(struct store *s, uint64_t *count, uint64_t chain_id,
			     uint64_t from_block, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("from_block", from_block, e));
	return s->ops->events_delete_from(s, count, chain_id, from_block, e);
}

int store_indexer_get(struct store *s, struct store_indexer *out, uint64_t chain_id,
		      const char *contract, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_addr("contract", contract, e));
	return s->ops->indexer_get(s, out, chain_id, contract, e);
}

int store_indexer_set(struct store *s, const struct store_indexer *p, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(p, "progress", e));
	CHECK(v_id("chain_id", p->chain_id, e));
	CHECK(v_addr("contract", p->contract, e));
	CHECK(v_id("block_number", p->block_number, e));
	CHECK(v_hash("block_hash", p->block_hash, e));
	CHECK(v_time("updated_at", p->updated_at, e));
	return s->ops->indexer_set(s, p, e);
}

int store_block_put(struct store *s, uint64_t chain_id, uint64_t number, const char *hash,
		    struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("number", number, e));
	CHECK(v_hash("hash", hash, e));
	return s->ops->block_put(s, chain_id, number, hash, e);
}

int store_block_get(struct store *s, char *out, uint64_t chain_id, uint64_t number,
		    struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("number", number, e));
	return s->ops->block_get(s, out, chain_id, number, e);
}

int store_blocks_delete_from(struct store *s, uint64_t *count, uint64_t chain_id,
			     uint64_t from_block, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("from_block", from_block, e));
	return s->ops->blocks_delete(s, count, chain_id, from_block, false, e);
}

int store_blocks_prune(struct store *s, uint64_t *count, uint64_t chain_id, uint64_t below,
		       struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("below", below, e));
	return s->ops->blocks_delete(s, count, chain_id, below, true, e);
}

/* ---- ratings, probes, access reports ---- */

int store_rating_insert(struct store *s, const struct store_rating *r, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(r, "rating", e));
	CHECK(v_id("chain_id", r->chain_id, e));
	CHECK(v_id("rental_id", r->rental_id, e));
	CHECK(v_addr("renter", r->renter, e));
	CHECK(v_max("stars", r->stars, 1, 5, e));
	CHECK(v_text("comment", r->comment, sizeof r->comment, false, e));
	if (utf8_chars(r->comment) > STORE_COMMENT_CHARS)
		return err_set(e, ERR_TOO_BIG, "comment: longer than %d characters",
			       STORE_COMMENT_CHARS);
	CHECK(v_time("created_at", r->created_at, e));
	return s->ops->rating_insert(s, r, e);
}

int store_rating_get(struct store *s, struct store_rating *out, uint64_t chain_id,
		     uint64_t rental_id, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("rental_id", rental_id, e));
	return s->ops->rating_get(s, out, chain_id, rental_id, e);
}

int store_provider_ratings(struct store *s, uint64_t *count, uint64_t *stars_sum,
			   uint64_t chain_id, const char *provider, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(count, "count", e));
	CHECK(v_out(stars_sum, "stars_sum", e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_addr("provider", provider, e));
	return s->ops->provider_ratings(s, count, stars_sum, chain_id, provider, e);
}

int store_probe_insert(struct store *s, const struct store_probe *p, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(p, "probe", e));
	CHECK(v_text("target", p->target, sizeof p->target, true, e));
	CHECK(v_time("at", p->at, e));
	CHECK(v_max("latency_ms", p->latency_ms, 0, INT32_MAX, e));
	CHECK(v_max("period_s", p->period_s, 1, 86400, e));
	return s->ops->probe_insert(s, p, e);
}

int store_uptime(struct store *s, uint64_t *up_s, uint64_t *observed_s, const char *target,
		 int64_t from, int64_t to, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(up_s, "up_s", e));
	CHECK(v_out(observed_s, "observed_s", e));
	CHECK(v_text("target", target, STORE_TARGET_SIZE, true, e));
	CHECK(v_time("from", from, e));
	CHECK(v_time("to", to, e));
	if (to < from)
		return err_set(e, ERR_INVALID, "to: before from");
	return s->ops->uptime(s, up_s, observed_s, target, from, to, e);
}

int store_access_report_insert(struct store *s, const struct store_access_report *a,
			       struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(a, "report", e));
	CHECK(v_id("chain_id", a->chain_id, e));
	CHECK(v_id("rental_id", a->rental_id, e));
	CHECK(v_time("granted_at", a->granted_at, e));
	CHECK(v_chars("host", a->host, 1, STORE_HOST_SIZE - 1, ok_host, e));
	CHECK(v_max("port", a->port, 1, 65535, e));
	CHECK(v_chars("user", a->user, 1, STORE_USER_SIZE - 1, ok_user, e));
	CHECK(v_chars("host_keys", a->host_keys, 0, STORE_HOST_KEYS_SIZE - 1, ok_host_keys, e));
	return s->ops->access_report_insert(s, a, e);
}

int store_access_report_get(struct store *s, struct store_access_report *out, uint64_t chain_id,
			    uint64_t rental_id, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_id("rental_id", rental_id, e));
	return s->ops->access_report_get(s, out, chain_id, rental_id, e);
}

int store_provider_response_median(struct store *s, int64_t *median_s, uint64_t *count,
				   uint64_t chain_id, const char *provider, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(median_s, "median_s", e));
	CHECK(v_out(count, "count", e));
	CHECK(v_id("chain_id", chain_id, e));
	CHECK(v_addr("provider", provider, e));
	return s->ops->provider_response_median(s, median_s, count, chain_id, provider, e);
}

/* ---- replicas ---- */

static bool ok_lower(char c, size_t i)
{
	(void)i;
	return (c >= 'a' && c <= 'z') || c == '_';
}

static bool ok_hex_lower(char c, size_t i)
{
	(void)i;
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool store_shared(const struct store *s)
{
	return s && s->ops->shared;
}

int store_change_note(struct store *s, const char *provider, const char *origin, int64_t now, struct err *e)
{
	CHECK(v_store(s, e));
	if (!provider || strcmp(provider, "*") != 0)
		CHECK(v_addr("provider", provider, e));
	CHECK(v_chars("origin", origin, STORE_ORIGIN_SIZE - 1, STORE_ORIGIN_SIZE - 1, ok_hex_lower, e));
	CHECK(v_time("now", now, e));
	return s->ops->change_note(s, provider, origin, now, e);
}

int store_changes_after(struct store *s, struct store_change *out, size_t cap, size_t *n, uint64_t *last,
			uint64_t after, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_out(n, "n", e));
	CHECK(v_out(last, "last", e));
	CHECK(v_max("cap", cap, 1, STORE_CHANGES_MAX, e));
	return s->ops->changes_after(s, out, cap, n, last, after, e);
}

int store_changes_purge(struct store *s, uint64_t *count, int64_t before, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_time("before", before, e));
	return s->ops->changes_purge(s, count, before, e);
}

int store_role_try(struct store *s, const char *name, bool *held, struct err *e)
{
	CHECK(v_store(s, e));
	CHECK(v_out(held, "held", e));
	CHECK(v_chars("name", name, 1, 32, ok_lower, e));
	return s->ops->role_try(s, name, held, e);
}

int store_secret(struct store *s, const char *name, uint8_t out[STORE_SECRET_SIZE], struct err *e)
{
	uint8_t fresh[STORE_SECRET_SIZE];
	char hex[65], got[65];
	int rc;

	CHECK(v_store(s, e));
	CHECK(v_out(out, "out", e));
	CHECK(v_chars("name", name, 1, 32, ok_lower, e));
	randombytes_buf(fresh, sizeof fresh);
	hex_encode(hex, fresh, sizeof fresh);
	sodium_memzero(fresh, sizeof fresh);
	rc = s->ops->secret(s, name, hex, got, e);
	sodium_memzero(hex, sizeof hex);
	if (!rc && hex_decode_exact(out, STORE_SECRET_SIZE, got, NULL))
		rc = err_set(e, ERR_INVALID, "secret %s: the stored value is not 64 hex digits", name);
	sodium_memzero(got, sizeof got);
	return rc;
}
