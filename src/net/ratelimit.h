/*
 * ratelimit.h — per-client token buckets in a bounded table.
 *
 * Each key (a client address) owns a bucket of `burst` tokens refilled at
 * `rate_per_s`; a request takes one token. The table has a fixed number of
 * slots (set-associative, 8 ways, sets chosen by a keyed SipHash so a client
 * cannot aim at another's set); when a set is full the entry with the most
 * tokens (the least constrained client; ties: least recently seen) is
 * evicted, so memory never grows and eviction hands nobody a fresh
 * burst they did not already have. Thread-safe (one mutex).
 */
#ifndef FLOP_NET_RATELIMIT_H
#define FLOP_NET_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct ratelimit;

#define RATELIMIT_KEY_MAX 63      /* longer keys are truncated */
#define RATELIMIT_SLOTS_MAX (1u << 20)

/*
 * Creates a limiter: rate_per_s > 0, burst >= 1, slots in 8..RATELIMIT_SLOTS_MAX
 * (rounded up to a power of two). ERR_INVALID / ERR_NOMEM.
 */
int ratelimit_new(struct ratelimit **out, double rate_per_s, double burst, size_t slots,
		  struct err *e);

/* Frees the limiter; NULL allowed. */
void ratelimit_free(struct ratelimit *rl);

/*
 * Takes one token from key's bucket at time now_ms. Returns true when the
 * request may proceed; false when the bucket is empty, with
 * *retry_after_s (optional) set to the whole seconds (>= 1) until a token.
 */
bool ratelimit_take(struct ratelimit *rl, const char *key, uint64_t now_ms,
		    uint32_t *retry_after_s);

#endif
