/*
 * pricefeed.c — token USD prices from AggregatorV3-shaped feeds at a given block (see pricefeed.h).
 *
 * The cache is a fixed ring of (feed, block) -> outcome entries under one mutex, searched linearly
 * (at most PRICEFEED_CACHE_MAX entries, lookups are rare: receipts only), plus a small table of feed
 * decimals. Lookups never hold the lock across an RPC call.
 */
#include "server/pricefeed.h"

#include "core/buf.h"
#include "core/err.h"
#include "eth/abi.h"
#include "eth/rpc.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEC_FEEDS_MAX 64
#define RET_MAX 4096

struct pf_entry {
	struct eth_address feed;
	uint64_t block;
	int outcome;        /* 0, ERR_RANGE or ERR_STATE */
	uint64_t usd_micro; /* when outcome == 0 */
};

struct pf_dec {
	struct eth_address feed;
	uint8_t decimals;
};

struct pricefeed_cache {
	pthread_mutex_t lock;
	struct pf_entry *v;
	size_t cap, n, next;
	struct pf_dec dec[DEC_FEEDS_MAX];
	size_t n_dec;
};

int pricefeed_cache_new(struct pricefeed_cache **out, size_t cap, struct err *e)
{
	struct pricefeed_cache *c;

	if (cap < 1 || cap > PRICEFEED_CACHE_MAX)
		return err_set(e, ERR_RANGE, "price cache: capacity 1..%d", PRICEFEED_CACHE_MAX);
	if (!(c = calloc(1, sizeof *c)) || !(c->v = calloc(cap, sizeof c->v[0]))) {
		free(c);
		return err_set(e, ERR_NOMEM, "price cache");
	}
	pthread_mutex_init(&c->lock, NULL);
	c->cap = cap;
	*out = c;
	return 0;
}

void pricefeed_cache_free(struct pricefeed_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c->v);
	free(c);
}

size_t pricefeed_cache_size(struct pricefeed_cache *c)
{
	size_t n;
	if (!c)
		return 0;
	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static bool cache_get(struct pricefeed_cache *c, const struct eth_address *feed, uint64_t block,
		      int *outcome, uint64_t *micro)
{
	bool hit = false;
	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].block == block && address_equal(&c->v[i].feed, feed)) {
			*outcome = c->v[i].outcome;
			*micro = c->v[i].usd_micro;
			hit = true;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void cache_put(struct pricefeed_cache *c, const struct eth_address *feed, uint64_t block,
		      int outcome, uint64_t micro)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->v[c->next] = (struct pf_entry){ *feed, block, outcome, micro };
	c->next = (c->next + 1) % c->cap;
	if (c->n < c->cap)
		c->n++;
	pthread_mutex_unlock(&c->lock);
}

static bool dec_get(struct pricefeed_cache *c, const struct eth_address *feed, uint8_t *d)
{
	bool hit = false;
	if (!c)
		return false;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_dec; i++)
		if (address_equal(&c->dec[i].feed, feed)) {
			*d = c->dec[i].decimals;
			hit = true;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static void dec_put(struct pricefeed_cache *c, const struct eth_address *feed, uint8_t d)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->n_dec < DEC_FEEDS_MAX)
		c->dec[c->n_dec++] = (struct pf_dec){ *feed, d };
	pthread_mutex_unlock(&c->lock);
}

static bool symbol_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 11)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
			return false;
	}
	return true;
}

int pricefeed_parse_spec(struct pricefeed_entry *out, size_t cap, size_t *n, const char *spec,
			 struct err *e)
{
	char buf[2048], *save = NULL;
	size_t k = 0;
	struct pricefeed_entry tmp[PRICEFEED_SPEC_MAX];

	if (!spec)
		spec = "";
	if (strlen(spec) >= sizeof buf)
		return err_set(e, ERR_TOO_BIG, "price_feeds: longer than %zu characters", sizeof buf - 1);
	if (cap > PRICEFEED_SPEC_MAX)
		cap = PRICEFEED_SPEC_MAX;
	snprintf(buf, sizeof buf, "%s", spec);
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (!eq)
			return err_set(e, ERR_INVALID, "price_feeds: '%.64s' is not SYMBOL=0xFEED", item);
		*eq = '\0';
		if (!symbol_ok(item))
			return err_set(e, ERR_INVALID, "price_feeds: '%.64s': symbol must be 1..11 letters or digits",
				       item);
		if (k == cap)
			return err_set(e, ERR_TOO_BIG, "price_feeds: '%s': at most %zu feeds", item, cap);
		for (size_t i = 0; i < k; i++)
			if (strcasecmp(tmp[i].symbol, item) == 0)
				return err_set(e, ERR_CONFLICT, "price_feeds: '%s': symbol given twice", item);
		if (address_parse(&tmp[k].feed, eq + 1, e)) {
			err_wrap(e, "price_feeds %s", item);
			return ERR_INVALID;
		}
		snprintf(tmp[k].symbol, sizeof tmp[k].symbol, "%s", item);
		k++;
	}
	memcpy(out, tmp, k * sizeof tmp[0]);
	*n = k;
	return 0;
}

int pricefeed_decode_round(struct pricefeed_round *out, const uint8_t *ret, size_t n, struct err *e)
{
	if (!ret || n != 5 * 32)
		return err_set(e, ERR_INVALID, "latestRoundData: %zu bytes returned, expected 160", n);
	u256_from_be32(&out->round_id, ret);
	u256_from_be32(&out->answer, ret + 32);
	u256_from_be32(&out->started_at, ret + 64);
	u256_from_be32(&out->updated_at, ret + 96);
	u256_from_be32(&out->answered_in_round, ret + 128);
	return 0;
}

int pricefeed_micro(uint64_t *out, const u256 *answer, unsigned decimals, struct err *e)
{
	u256 x, d = u256_from_u64(1), ten = u256_from_u64(10), m = u256_from_u64(1000000);
	uint64_t v;

	if (abi_int_is_negative(answer) || u256_is_zero(answer))
		return err_set(e, ERR_RANGE, "price feed answer is not positive");
	if (decimals > PRICEFEED_DECIMALS_MAX)
		return err_set(e, ERR_RANGE, "price feed decimals %u above %d", decimals, PRICEFEED_DECIMALS_MAX);
	for (unsigned i = 0; i < decimals; i++)
		u256_mul(&d, &d, &ten); /* 10^36 < 2^256: cannot overflow */
	if (u256_mul(&x, answer, &m) || u256_divmod(&x, NULL, &x, &d) || u256_to_u64(&v, &x))
		return err_set(e, ERR_RANGE, "price feed answer too large");
	*out = v;
	return 0;
}

int pricefeed_judge(uint64_t *usd_micro, const struct pricefeed_round *round, unsigned decimals,
		    int64_t block_time, uint32_t max_age_s, struct err *e)
{
	uint64_t upd;

	if (u256_to_u64(&upd, &round->updated_at) || upd > (uint64_t)INT64_MAX)
		return err_set(e, ERR_RANGE, "price feed updatedAt out of range");
	if (block_time > (int64_t)upd && (uint64_t)(block_time - (int64_t)upd) > max_age_s)
		return err_set(e, ERR_STATE, "price feed stale: updated %" PRId64 " s before the block",
			       block_time - (int64_t)upd);
	return pricefeed_micro(usd_micro, &round->answer, decimals, e);
}

/* eth_call of a no-argument function of `feed` at block tag `tag`, return data into ret. */
static int call0(struct rpc *r, struct buf *ret, const struct eth_address *feed, const char *sig,
		 const char *tag, struct err *e)
{
	uint8_t sel[4];
	struct rpc_call_msg m;
	int rc;

	if ((rc = abi_selector(sel, sig, e)))
		return rc;
	memset(&m, 0, sizeof m);
	m.has_to = true;
	m.to = *feed;
	m.data = sel;
	m.data_len = sizeof sel;
	return rpc_eth_call(r, ret, &m, tag, NULL, e);
}

int pricefeed_price_at(uint64_t *usd_micro, struct pricefeed_cache *c, struct rpc *r,
		       const struct eth_address *feed, uint64_t block, int64_t block_time,
		       uint32_t max_age_s, struct err *e)
{
	struct pricefeed_round round;
	struct buf ret;
	char tag[24];
	uint64_t micro = 0;
	uint8_t dec;
	int rc;

	if (cache_get(c, feed, block, &rc, &micro)) {
		if (rc == 0)
			*usd_micro = micro;
		else
			err_set(e, rc, "price feed: no price at block %" PRIu64 " (cached)", block);
		return rc;
	}
	snprintf(tag, sizeof tag, "0x%" PRIx64, block);
	buf_init(&ret, RET_MAX);
	if (!dec_get(c, feed, &dec)) {
		u256 d;
		uint64_t dv;
		if ((rc = call0(r, &ret, feed, "decimals()", tag, e)))
			goto out;
		if (ret.len != 32) {
			rc = err_set(e, ERR_INVALID, "decimals(): %zu bytes returned", ret.len);
			goto out;
		}
		u256_from_be32(&d, ret.data);
		if (u256_to_u64(&dv, &d) || dv > PRICEFEED_DECIMALS_MAX) {
			rc = err_set(e, ERR_RANGE, "price feed decimals above %d", PRICEFEED_DECIMALS_MAX);
			goto out;
		}
		dec = (uint8_t)dv;
		dec_put(c, feed, dec);
		buf_reset(&ret);
	}
	if ((rc = call0(r, &ret, feed, "latestRoundData()", tag, e)) ||
	    (rc = pricefeed_decode_round(&round, ret.data, ret.len, e)))
		goto out;
	rc = pricefeed_judge(&micro, &round, dec, block_time, max_age_s, e);
	if (rc == 0 || rc == ERR_RANGE || rc == ERR_STATE)
		cache_put(c, feed, block, rc, micro);
	if (rc == 0)
		*usd_micro = micro;
out:
	buf_release(&ret);
	return rc;
}
