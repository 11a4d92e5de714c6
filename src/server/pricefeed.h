/*
 * pricefeed.h — USD prices of payment tokens from Chainlink-AggregatorV3-shaped feeds, at a block.
 *
 * A receipt values each payment at the block it happened in: eth_call `latestRoundData()` on the
 * token's configured feed with the block tag set to that block (hex), plus `decimals()` (read once per
 * feed and cached). The answer is an int256 with `decimals` decimals; the price is converted to
 * micro-USD (6 decimals, integer, exact u256 math, rounded down). An answer <= 0 (ERR_RANGE) or a
 * round whose updatedAt is more than max_age_s before the block's timestamp (ERR_STATE, stale) gives
 * no price: callers show null USD, never a guess. Definitive outcomes (a price, stale, non-positive)
 * are cached per (feed, block) in memory (capped, oldest entries overwritten); transport errors are
 * not cached. The cache is thread-safe; every function here accepts a NULL cache (no caching).
 *
 * Interface followed: Chainlink AggregatorV3Interface (decimals() -> uint8, latestRoundData() ->
 * (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)).
 * Config text: `SYMBOL=0xFEED,SYMBOL=0xFEED` (price_feeds), feed_max_age_s (default 86400).
 */
#ifndef FLOP_SERVER_PRICEFEED_H
#define FLOP_SERVER_PRICEFEED_H

#include <stddef.h>
#include <stdint.h>

#include "core/u256.h"
#include "eth/address.h"

struct err;
struct rpc;

#define PRICEFEED_MAX_AGE_DEFAULT 86400u /* seconds: a round older than a day is stale */
#define PRICEFEED_CACHE_MAX 4096         /* (feed, block) results kept */
#define PRICEFEED_SPEC_MAX 16            /* entries in a price_feeds spec */
#define PRICEFEED_DECIMALS_MAX 36        /* feed decimals accepted */

/* One `SYMBOL=0xFEED` entry of the price_feeds configuration. */
struct pricefeed_entry {
	char symbol[12];          /* [A-Za-z0-9]{1,11} */
	struct eth_address feed;  /* the aggregator */
};

/* The decoded return of latestRoundData(). */
struct pricefeed_round {
	u256 round_id;
	u256 answer;              /* int256, two's complement */
	u256 started_at;
	u256 updated_at;
	u256 answered_in_round;
};

struct pricefeed_cache;

/* A new cache of at most `cap` (1..PRICEFEED_CACHE_MAX) results. */
int pricefeed_cache_new(struct pricefeed_cache **out, size_t cap, struct err *e);
/* Frees a cache (NULL allowed). */
void pricefeed_cache_free(struct pricefeed_cache *c);
/* Number of (feed, block) results cached (0 for NULL). */
size_t pricefeed_cache_size(struct pricefeed_cache *c);

/*
 * Parses "SYMBOL=0xFEED,..." (empty = none) into out[0..cap). Errors name the entry. ERR_INVALID
 * (shape, symbol, address), ERR_TOO_BIG (more than cap entries), ERR_CONFLICT (a symbol twice).
 */
int pricefeed_parse_spec(struct pricefeed_entry *out, size_t cap, size_t *n, const char *spec,
			 struct err *e);

/* Decodes latestRoundData() return data (5 ABI words; extra bytes refused). ERR_INVALID. */
int pricefeed_decode_round(struct pricefeed_round *out, const uint8_t *ret, size_t n, struct err *e);

/*
 * micro-USD of an answer with `decimals` decimals: floor(answer * 1e6 / 10^decimals). ERR_RANGE when
 * the answer is <= 0 (int256), decimals > PRICEFEED_DECIMALS_MAX, or the result does not fit u64.
 */
int pricefeed_micro(uint64_t *out, const u256 *answer, unsigned decimals, struct err *e);

/*
 * Judges a round read at a block whose timestamp is block_time: ERR_STATE when updatedAt is more than
 * max_age_s before block_time (stale), else pricefeed_micro's result.
 */
int pricefeed_judge(uint64_t *usd_micro, const struct pricefeed_round *round, unsigned decimals,
		    int64_t block_time, uint32_t max_age_s, struct err *e);

/*
 * The price (micro-USD) from `feed` at `block` (timestamp block_time): eth_call at that block, judged
 * as above, cached in `c`. 0 = *usd_micro set; ERR_RANGE / ERR_STATE: no price; transport and revert
 * errors as rpc_eth_call.
 */
int pricefeed_price_at(uint64_t *usd_micro, struct pricefeed_cache *c, struct rpc *r,
		       const struct eth_address *feed, uint64_t block, int64_t block_time,
		       uint32_t max_age_s, struct err *e);

#endif
