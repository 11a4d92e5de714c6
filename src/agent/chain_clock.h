/*
 * chain_clock.h — the agent's idea of "now" on the chain: the latest block's timestamp, carried
 * forward at the monotonic clock's rate while no new block arrives. A chain that mines only on
 * transactions (a dev node) or stalls between blocks would otherwise freeze time, and a rental whose
 * paid time ran out would keep its access until somebody happened to send a transaction.
 *
 * The projection starts from a block's own timestamp (not from the host's wall clock, which may be
 * wrong), advances one second per elapsed second, never goes backwards, and is corrected by every new
 * block. Billing on chain uses block timestamps; this clock only decides when access ends, so it runs
 * at most one block interval ahead of what the next block will say. Not thread-safe: the agent reads
 * and updates it under its mutex.
 */
#ifndef FLOP_AGENT_CHAIN_CLOCK_H
#define FLOP_AGENT_CHAIN_CLOCK_H

#include <stdint.h>

struct chain_clock {
	uint64_t block_ts;   /* the newest block timestamp observed (0: none yet) */
	uint64_t seen_ms;    /* monotonic ms when that timestamp was first observed */
	uint64_t last;       /* the largest value chain_clock_now returned (monotone) */
};

/* Records the latest block's timestamp, read at monotonic time mono_ms. */
void chain_clock_observe(struct chain_clock *c, uint64_t block_ts, uint64_t mono_ms);

/* Chain time projected to monotonic time mono_ms (unix seconds; 0 before any block was observed). */
uint64_t chain_clock_now(struct chain_clock *c, uint64_t mono_ms);

#endif
