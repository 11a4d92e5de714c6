/*
 * chain_clock.c — chain time projected from the latest block (chain_clock.h).
 */
#include "agent/chain_clock.h"

void chain_clock_observe(struct chain_clock *c, uint64_t block_ts, uint64_t mono_ms)
{
	if (block_ts == 0 || block_ts == c->block_ts)
		return; /* the same block (or no answer): keep projecting from when it was first seen */
	c->block_ts = block_ts;
	c->seen_ms = mono_ms;
}

uint64_t chain_clock_now(struct chain_clock *c, uint64_t mono_ms)
{
	uint64_t t;

	if (!c->block_ts)
		return 0;
	t = c->block_ts + (mono_ms > c->seen_ms ? (mono_ms - c->seen_ms) / 1000 : 0);
	if (t < c->last)
		t = c->last; /* a new block stamped a little behind the projection: time does not go back */
	c->last = t;
	return t;
}
