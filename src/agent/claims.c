/*
 * claims.c — the agent's transactions (its reports to the server are reports.c's).
 *
 * Transactions go through the durable sender (eth/sender.h: journaled before broadcast, rebroadcast
 * and fee-bumped until mined), with calldata from escrow.h. Before anything is sent the mirror
 * (escrow/mirror.h) predicts the call at the latest block's time, so the agent never pays gas for a
 * call that would revert. At most one transaction per rental is outstanding (its sender id is kept
 * in the state db until the journal says it is no longer pending). Per rental:
 *   active, claim_interval_s since the last claim, claimable > 0   -> claim (streaming payout)
 *   active and over (reclaim notice ended, or runout + grace over)  -> settle (ends it; refunds)
 *   ended, dispute window over                                      -> claim (pays the held rest, closes)
 *   disputed, arbiter deadline over                                 -> settle (default rule, closes)
 */
#include "agent/agent_int.h"

#include "agent/state.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "escrow/client.h"
#include "escrow/mirror.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


/* ------------------------------------------------------------------ claims */

static bool predict(const struct agent_rental *r, enum escrow_op op, uint64_t now, uint32_t arb_window)
{
	struct escrow_outcome out;
	struct escrow_call c;

	memset(&c, 0, sizeof c);
	c.op = op;
	c.now = now;
	c.arbiter_window_secs = arb_window;
	return escrow_mirror_apply(&out, &r->t, &r->word, &c, NULL) == 0;
}

static int submit(struct agent *a, struct agent_row *w, enum escrow_rental_fn fn, const char *what,
		  struct err *e)
{
	struct buf cd;
	uint64_t nonce = 0;
	uint8_t hash[32];
	char hx[67];
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	rc = escrow_cd_rental(&cd, fn, &w->r.t, e);
	if (!rc)
		rc = sender_submit(a->sender, &nonce, hash, &a->cfg.escrow, NULL, cd.data, cd.len, 0, e);
	buf_release(&cd);
	if (rc)
		return rc;
	hex_encode_0x(hx, hash, 32);
	log_info("transaction sent", "rental=%llu call=%s nonce=%llu tx=%s", (unsigned long long)w->r.id,
		 what, (unsigned long long)nonce, hx);
	pthread_mutex_lock(&a->mu);
	state_set_claim_nonce(a, w->r.id, (int64_t)nonce);
	if (fn == ESCROW_FN_CLAIM)
		state_set_last_claim(a, w->r.id, (int64_t)clock_wall_ms());
	pthread_mutex_unlock(&a->mu);
	return 0;
}

/* True while the rental's last transaction may still be mined. */
static bool outstanding(struct agent *a, struct agent_row *w)
{
	struct sender_info si;

	if (w->claim_nonce < 0)
		return false;
	if (!sender_info(a->sender, (uint64_t)w->claim_nonce, &si, NULL) && si.state == SENDER_PENDING)
		return true;
	pthread_mutex_lock(&a->mu);
	state_set_claim_nonce(a, w->r.id, -1);
	pthread_mutex_unlock(&a->mu);
	return false;
}

static int claim_one(struct agent *a, struct agent_row *w, uint64_t now, struct err *e)
{
	struct escrow_view v;
	struct escrow_quote q;
	/* Predict at the latest block's time: eth_estimateGas simulates there, and a call that works
	 * then also works in any later block (claimable amounts and "over" only grow with time). */
	uint64_t next = now;

	if (w->r.closed || outstanding(a, w) || escrow_state_view(&v, &w->r.t, &w->r.word, NULL))
		return 0;
	switch (v.phase) {
	case ESCROW_PHASE_ACTIVE: {
		bool over = (v.stop_at && next > v.stop_at) || next > v.paid_until + w->r.t.grace_secs;
		if (over && predict(&w->r, ESCROW_OP_SETTLE, next, a->cfg.arbiter_window_secs))
			return submit(a, w, ESCROW_FN_SETTLE, "settle", e);
		if (clock_wall_ms() - w->last_claim_ms < (int64_t)a->cfg.claim_interval_s * 1000)
			return 0;
		if (escrow_mirror_quote(&q, &w->r.t, &w->r.word, next, NULL) || u256_is_zero(&q.claimable_gross))
			return 0;
		if (predict(&w->r, ESCROW_OP_CLAIM, next, a->cfg.arbiter_window_secs))
			return submit(a, w, ESCROW_FN_CLAIM, "claim", e);
		return 0;
	}
	case ESCROW_PHASE_ENDED:
		if (predict(&w->r, ESCROW_OP_CLAIM, next, a->cfg.arbiter_window_secs))
			return submit(a, w, ESCROW_FN_CLAIM, "claim (final)", e);
		return 0;
	case ESCROW_PHASE_DISPUTED:
		if (predict(&w->r, ESCROW_OP_SETTLE, next, a->cfg.arbiter_window_secs))
			return submit(a, w, ESCROW_FN_SETTLE, "settle (default rule)", e);
		return 0;
	}
	return 0;
}

int claims_tick(struct agent *a, struct err *e)
{
	struct agent_row *rows = NULL;
	size_t n = 0;
	int rc, first_rc = 0;

	if ((rc = sender_poll(a->sender, e)))
		log_warn("sender poll failed", "err=\"%s\"", e->msg);
	err_clear(e);
	pthread_mutex_lock(&a->mu);
	rc = state_rows(a, &rows, &n, false, e);
	pthread_mutex_unlock(&a->mu);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct err ce = { 0, "" };
		if ((rc = claim_one(a, &rows[i], a->chain_now, &ce))) {
			log_warn("claim failed", "rental=%llu err=\"%s\"", (unsigned long long)rows[i].r.id,
				 ce.msg);
			if (!first_rc)
				first_rc = err_set(e, rc, "rental %llu: %s", (unsigned long long)rows[i].r.id,
						   ce.msg);
		}
	}
	state_rows_free(rows, n);
	return first_rc;
}
