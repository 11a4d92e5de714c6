/*
 * relay_fee.h — what a relayed call costs the relayer, in the rental's token (pure integer math).
 *
 * The relayer spends at most gas_limit * max_fee_per_gas wei of the native coin on a transaction. In the
 * token that is   ceil(wei * native_usd * 10^decimals / (10^18 * token_usd))   units, where both USD
 * prices are micro-USD of one whole coin / token; the relayer asks that plus `margin_pct` percent (room
 * for a fee bump or two while the transaction waits, and the price moving). Exact u256 math, rounded up
 * once at the end; never a float.
 */
#ifndef FLOP_SERVER_RELAY_FEE_H
#define FLOP_SERVER_RELAY_FEE_H

#include <stdint.h>

#include "core/u256.h"

struct err;

#define RELAY_MARGIN_MAX 1000 /* percent */

struct relay_fee_in {
	uint64_t gas_limit;
	u256 max_fee_per_gas;     /* wei */
	uint64_t native_usd_micro; /* one whole native coin (18 decimals), micro-USD; > 0 */
	uint64_t token_usd_micro;  /* one whole token, micro-USD; > 0 */
	unsigned token_decimals;   /* 0..36 */
	unsigned margin_pct;       /* 0..RELAY_MARGIN_MAX */
};

/*
 * The fee in token units (*fee) and the wei it covers (*cost_wei, optional). ERR_STATE when a price is
 * unknown (0), ERR_RANGE for decimals, margin or an overflow.
 */
int relay_fee_compute(u256 *fee, u256 *cost_wei, const struct relay_fee_in *in, struct err *e);

/* micro-USD of `units` of a token with `decimals` decimals worth `usd_micro` each (rounded down). */
int relay_fee_usd_micro(uint64_t *out, const u256 *units, unsigned decimals, uint64_t usd_micro, struct err *e);

#endif
