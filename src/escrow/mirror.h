/*
 * mirror.h — the RentalEscrow money rules in C, integer for integer, so a client can show live cost to
 * the unit and predict what a call will pay (or why it will revert) before sending it.
 *
 * Input is a rental's Terms and its packed state word (from the latest event or the `rentals` view);
 * `now` is a unix time (for a prediction: the timestamp of the block that will include the call).
 * Arithmetic follows contracts/RentalEscrow.sol exactly (docs/escrow.md §2): cost(secs) =
 * floor(rate * secs / 1e18) on cumulative seconds, fee(g) = floor(g * feeBps / 10000) on the cumulative
 * gross, claims lag by disputeSecs billed seconds, paidUntil = segStart + deposited*1e18/rate - usedSecs.
 * All amounts are u256 in the token's smallest unit; every step is checked (ERR_RANGE on overflow, which
 * the contract's own bounds make impossible for a real rental). Caller checks (who may call) are not
 * mirrored: only the money and the time rules.
 */
#ifndef FLOP_ESCROW_MIRROR_H
#define FLOP_ESCROW_MIRROR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/u256.h"
#include "escrow/escrow.h"

struct err;

enum escrow_phase {
	ESCROW_PHASE_ACTIVE = 1, /* running, paused in grace, or under reclaim notice */
	ESCROW_PHASE_ENDED,      /* ended; the held share waits for the dispute window */
	ESCROW_PHASE_DISPUTED,   /* disputed; waits for attestation, arbiter or the default rule */
};

/* cost(secs) = floor(rate * secs / 1e18). */
int escrow_cost(u256 *out, const u256 *rate, uint64_t secs, struct err *e);
/* fee(gross) = floor(gross * fee_bps / 10000). */
int escrow_fee(u256 *out, const u256 *gross, uint16_t fee_bps, struct err *e);

/* A state word made readable: the contract's `State` view plus phase and derived amounts. */
struct escrow_view {
	enum escrow_phase phase;
	u256 deposited;        /* all deposits */
	u256 claimed;          /* gross paid to the provider side (net + fee) = cost(claimed_secs) */
	u256 refunded;         /* paid back to the renter */
	u256 held;             /* deposited - claimed - refunded */
	u256 fee_so_far;       /* fee(claimed): part of the payouts kept for the treasury (credited at close) */
	uint64_t paid_secs;    /* deposited * 1e18 / rate */
	uint64_t seg_start;    /* unix seconds */
	uint64_t paid_until;   /* unix seconds (meaningful while active) */
	uint64_t stop_at;      /* 0, or when a reclaim notice ends */
	uint64_t ended_at;     /* 0 while active */
	uint64_t disputed_at;  /* 0 unless disputed */
	uint32_t used_secs;
	uint32_t claimed_secs;
};
int escrow_state_view(struct escrow_view *out, const struct escrow_terms *t, const u256 *word,
		      struct err *e);

/* Live figures at `now` (the contract's `quote` plus the fee split and a stop-now preview). */
struct escrow_quote {
	uint64_t billed_secs;   /* billed so far (all billed once ended) */
	u256 cost;              /* cost(billed_secs) */
	u256 claimable_gross;   /* what a claim would move to the provider side now (0 once ended: see below) */
	u256 claimable_net;     /* ... of which the payout address gets */
	u256 claimable_fee;     /* ... and the fee */
	u256 held;              /* deposited - claimed - refunded */
	u256 refund_if_stopped; /* active: what stop() now would refund; else 0 */
};
int escrow_mirror_quote(struct escrow_quote *out, const struct escrow_terms *t, const u256 *word,
			uint64_t now, struct err *e);

/* A call to predict. */
enum escrow_op {
	ESCROW_OP_EXTEND = 1, /* amount = what will arrive (fee-on-transfer tokens: less than sent) */
	ESCROW_OP_CLAIM,
	ESCROW_OP_RECLAIM,
	ESCROW_OP_STOP,
	ESCROW_OP_SETTLE,
	ESCROW_OP_DISPUTE,
	ESCROW_OP_ATTEST, /* resolveWithAttestation: secs = secondsUp, observed, ended_at */
	ESCROW_OP_RULE,   /* rule: secs = providerSecs */
};
struct escrow_call {
	enum escrow_op op;
	uint64_t now;                 /* block timestamp of the call */
	u256 amount;                  /* EXTEND */
	uint32_t secs;                /* ATTEST, RULE */
	uint32_t observed;            /* ATTEST: must be the rental's billed seconds */
	uint64_t ended_at;            /* ATTEST: unix seconds; must be the rental's end on chain */
	uint32_t arbiter_window_secs; /* the deployment's arbiterWindow (SETTLE, RULE) */
};

/* What the call does, as the contract computes it. */
struct escrow_outcome {
	enum escrow_event_kind event; /* the rental event it emits */
	u256 word;                    /* the new state word (the final one when it closes) */
	bool closed;                  /* the rental closes (slot deleted, `Closed` emitted) */
	u256 provider_amount;         /* net sent to the payout address */
	u256 fee_amount;              /* the event's fee of this payout */
	u256 refund_amount;           /* sent to the renter */
	u256 fee_credit;              /* added to fees[token] (a closing rental's whole fee) */
	uint8_t rule;                 /* Resolved: enum escrow_rule */
	char revert[ESCROW_ERROR_NAME_MAX]; /* when the call would revert: the custom error's name */
};

/*
 * Predicts `c` on the rental (t, word). Returns 0 and fills *out when the call succeeds; ERR_REVERT when
 * the contract would revert, with out->revert = the error name ("NothingToClaim") and the error in `e`
 * (other fields of *out zero); ERR_INVALID / ERR_RANGE for inputs no real rental has.
 */
int escrow_mirror_apply(struct escrow_outcome *out, const struct escrow_terms *t, const u256 *word,
			const struct escrow_call *c, struct err *e);

#endif
