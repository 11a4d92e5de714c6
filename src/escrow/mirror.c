/*
 * mirror.c — RentalEscrow's money and time rules in C (see mirror.h). Each function below names the
 * contract function it mirrors; times are kept relative to Terms.epoch as the contract keeps them.
 */
#include "escrow/mirror.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "core/err.h"

#define U32MAX UINT64_C(0xffffffff)

/* 1e18 */
static u256 rate_scale(void)
{
	return u256_from_u64(UINT64_C(1000000000000000000));
}

int escrow_cost(u256 *out, const u256 *rate, uint64_t secs, struct err *e)
{
	u256 s = u256_from_u64(secs), one = rate_scale(), p, q;

	if (u256_mul(&p, rate, &s) || u256_divmod(&q, NULL, &p, &one))
		return err_set(e, ERR_RANGE, "cost: rate * secs overflows");
	*out = q;
	return 0;
}

int escrow_fee(u256 *out, const u256 *gross, uint16_t fee_bps, struct err *e)
{
	u256 b = u256_from_u64(fee_bps), d = u256_from_u64(ESCROW_BPS), p, q;

	if (u256_mul(&p, gross, &b) || u256_divmod(&q, NULL, &p, &d))
		return err_set(e, ERR_RANGE, "fee: gross * feeBps overflows");
	*out = q;
	return 0;
}

/* The working copy of a rental: the word's fields widened, plus the terms. */
struct rental {
	const struct escrow_terms *t;
	u256 deposited;
	uint64_t claimed_secs, used_secs, seg_start, mark, ended_at; /* relative to epoch */
};

static int rental_unpack(struct rental *r, const struct escrow_terms *t, const u256 *word, struct err *e)
{
	struct escrow_word w;

	if (u256_is_zero(&t->rate))
		return err_set(e, ERR_INVALID, "terms.rate: zero");
	if (u256_is_zero(word))
		return err_set(e, ERR_INVALID, "state: zero word (no live rental)");
	escrow_word_unpack(&w, word);
	r->t = t;
	r->deposited = w.deposited;
	r->claimed_secs = w.claimed_secs;
	r->used_secs = w.used_secs;
	r->seg_start = w.seg_start;
	r->mark = w.mark;
	r->ended_at = w.ended_at;
	return 0;
}

static int rental_pack(u256 *out, const struct rental *r, struct err *e)
{
	struct escrow_word w;

	if (r->seg_start > U32MAX || r->mark > U32MAX || r->ended_at > U32MAX)
		return err_set(e, ERR_REVERT, "TimeOverflow()");
	if (r->claimed_secs > U32MAX || r->used_secs > U32MAX)
		return err_set(e, ERR_RANGE, "state: seconds above 32 bits");
	w.deposited = r->deposited;
	w.claimed_secs = (uint32_t)r->claimed_secs;
	w.used_secs = (uint32_t)r->used_secs;
	w.seg_start = (uint32_t)r->seg_start;
	w.mark = (uint32_t)r->mark;
	w.ended_at = (uint32_t)r->ended_at;
	return escrow_word_pack(out, &w, e);
}

/* deposited * 1e18 / rate, which the contract keeps below 2^32 for a live rental. */
static int paid_secs(uint64_t *out, const struct rental *r, struct err *e)
{
	u256 one = rate_scale(), p, q;

	if (u256_mul(&p, &r->deposited, &one) || u256_divmod(&q, NULL, &p, &r->t->rate) ||
	    u256_to_u64(out, &q) || *out > (UINT64_C(1) << 62))
		return err_set(e, ERR_RANGE, "state: deposited buys more seconds than any rental can");
	return 0;
}

/* _paidUntil: segStart + paidSecs - usedSecs (relative). */
static int paid_until(uint64_t *out, const struct rental *r, struct err *e)
{
	uint64_t ps;

	if (paid_secs(&ps, r, e))
		return ERR_RANGE;
	if (ps < r->used_secs)
		return err_set(e, ERR_INVALID, "state: usedSecs above the paid seconds");
	*out = r->seg_start + ps - r->used_secs;
	return 0;
}

/* _billed: seconds billed by relative time `at` (active rentals). */
static int billed(uint64_t *out, const struct rental *r, uint64_t at, struct err *e)
{
	uint64_t end = 0;

	if (paid_until(&end, r, e))
		return ERR_RANGE;
	if (r->mark != 0 && r->mark < end)
		end = r->mark;
	if (at < end)
		end = at;
	*out = end > r->seg_start ? r->used_secs + (end - r->seg_start) : r->used_secs;
	return 0;
}

static uint64_t lagged(uint64_t billed_secs, uint64_t lag)
{
	return billed_secs > lag ? billed_secs - lag : 0;
}

static int cost(u256 *out, const struct rental *r, uint64_t secs, struct err *e)
{
	return escrow_cost(out, &r->t->rate, secs, e);
}

/* _account: moves claimedSecs to `secs` (never back); net and fee of the move. */
static int provider_paid_up_to(struct escrow_outcome *o, struct rental *r, uint64_t secs, struct err *e)
{
	u256 og, ng, of, nf, gross;

	if (secs < r->claimed_secs)
		secs = r->claimed_secs;
	if (cost(&og, r, r->claimed_secs, e) || cost(&ng, r, secs, e) ||
	    escrow_fee(&of, &og, r->t->fee_bps, e) || escrow_fee(&nf, &ng, r->t->fee_bps, e))
		return ERR_RANGE;
	if (u256_sub(&gross, &ng, &og) || u256_sub(&o->fee_amount, &nf, &of) ||
	    u256_sub(&o->provider_amount, &gross, &o->fee_amount))
		return err_set(e, ERR_RANGE, "account: negative payout");
	r->claimed_secs = secs;
	return 0;
}

/* fee(cost(claimedSecs)): the rental's whole fee, credited when it closes. */
static int fee_of(u256 *out, const struct rental *r, struct err *e)
{
	u256 g;

	return cost(&g, r, r->claimed_secs, e) || escrow_fee(out, &g, r->t->fee_bps, e) ? ERR_RANGE : 0;
}

static int revert(struct escrow_outcome *o, const char *name, struct err *e)
{
	memset(o, 0, sizeof *o);
	snprintf(o->revert, sizeof o->revert, "%s", name);
	return err_set(e, ERR_REVERT, "%s()", name);
}

/* _end: ends an active rental at relative time `now`. */
static int end_now(struct escrow_outcome *o, struct rental *r, uint64_t now, struct err *e)
{
	uint64_t b;
	u256 bc, cc;

	if (billed(&b, r, now, e))
		return ERR_RANGE;
	r->used_secs = b;
	r->ended_at = now < U32MAX ? now : U32MAX; /* a rental can always end (see the contract's _end) */
	r->mark = 0;
	if (provider_paid_up_to(o, r, lagged(b, r->t->dispute_secs), e) || cost(&bc, r, b, e) ||
	    cost(&cc, r, r->claimed_secs, e))
		return ERR_RANGE;
	if (u256_sub(&o->refund_amount, &r->deposited, &bc))
		return err_set(e, ERR_INVALID, "state: cost of the billed seconds above the deposit");
	o->closed = u256_cmp(&cc, &bc) == 0;
	if (o->closed && fee_of(&o->fee_credit, r, e))
		return ERR_RANGE;
	return 0;
}

/* _release: ended, undisputed, window over: pay the rest, close. */
static int release(struct escrow_outcome *o, struct rental *r, struct err *e)
{
	o->event = ESCROW_EV_SETTLED;
	if (provider_paid_up_to(o, r, r->used_secs, e) || fee_of(&o->fee_credit, r, e))
		return ERR_RANGE;
	o->closed = true;
	return 0;
}

/* _resolve: final amounts of a disputed rental, close. */
static int resolve(struct escrow_outcome *o, struct rental *r, uint64_t awarded, uint8_t rule,
		   struct err *e)
{
	uint64_t floor_secs = lagged(r->used_secs, r->t->dispute_secs);
	uint64_t final_secs = awarded > floor_secs ? awarded : floor_secs;
	u256 uc, cc;

	o->event = ESCROW_EV_RESOLVED;
	o->rule = rule;
	if (provider_paid_up_to(o, r, final_secs, e) || cost(&uc, r, r->used_secs, e) ||
	    cost(&cc, r, r->claimed_secs, e) || fee_of(&o->fee_credit, r, e))
		return ERR_RANGE;
	if (u256_sub(&o->refund_amount, &uc, &cc))
		return err_set(e, ERR_INVALID, "state: claimed above billed");
	r->used_secs = r->claimed_secs;
	o->closed = true;
	return 0;
}

/* One call being applied: the decoded rental (changed in place), the outcome so far, and where a revert goes. */
struct op {
	struct escrow_outcome *out;     /* the caller's outcome: a revert is written here */
	struct escrow_outcome o;        /* the outcome being built */
	struct rental r;
	const struct escrow_terms *t;
	const struct escrow_call *c;
	uint64_t now;                   /* seconds since the rental's epoch */
};

static int op_extend(struct op *p, struct err *e)
{
	struct rental *r = &p->r;
	uint64_t pu = 0, ps;
	u256 x;
	int rc;

	if (r->ended_at)
		return revert(p->out, "RentalEnded", e);
	if (r->mark && p->now >= r->mark)
		return revert(p->out, "RentalOver", e);
	if ((rc = paid_until(&pu, r, e)))
		return rc;
	if (p->now > pu + p->t->grace_secs)
		return revert(p->out, "RentalOver", e);
	if (u256_is_zero(&p->c->amount))
		return revert(p->out, "ZeroAmount", e);
	if (p->now > pu) {
		r->used_secs += pu - r->seg_start;
		r->seg_start = p->now;
	}
	if (u256_add(&x, &r->deposited, &p->c->amount))
		return revert(p->out, "DepositTooLarge", e);
	r->deposited = x;
	if (paid_secs(&ps, r, NULL) || ps > p->t->max_secs)
		return revert(p->out, "DepositAboveMaximum", e);
	if (x.w[3] || x.w[2] || (x.w[1] >> 32))
		return revert(p->out, "DepositTooLarge", e);
	p->o.event = ESCROW_EV_EXTENDED;
	return 0;
}

static int op_claim(struct op *p, struct err *e)
{
	struct rental *r = &p->r;
	uint64_t b = 0;
	u256 x, y;
	int rc;

	if (r->ended_at) {
		if (r->mark)
			return revert(p->out, "RentalDisputed", e);
		if (p->now <= r->ended_at + p->t->dispute_secs)
			return revert(p->out, "NothingToClaim", e);
		return release(&p->o, r, e);
	}
	if ((rc = billed(&b, r, p->now, e)))
		return rc;
	b = lagged(b, p->t->dispute_secs);
	if ((rc = cost(&x, r, b, e)) || (rc = cost(&y, r, r->claimed_secs, e)))
		return rc;
	if (u256_cmp(&x, &y) <= 0)
		return revert(p->out, "NothingToClaim", e);
	if ((rc = provider_paid_up_to(&p->o, r, b, e)))
		return rc;
	p->o.event = ESCROW_EV_CLAIMED;
	return 0;
}

static int op_reclaim(struct op *p, struct err *e)
{
	if (!p->t->interruptible)
		return revert(p->out, "NotInterruptible", e);
	if (p->r.ended_at)
		return revert(p->out, "RentalEnded", e);
	if (p->r.mark)
		return revert(p->out, "AlreadyReclaimed", e);
	p->r.mark = p->now + p->t->notice_secs;
	p->o.event = ESCROW_EV_RECLAIMED;
	return 0;
}

static int op_stop(struct op *p, struct err *e)
{
	if (p->r.ended_at)
		return revert(p->out, "RentalEnded", e);
	p->o.event = ESCROW_EV_STOPPED;
	return end_now(&p->o, &p->r, p->now, e);
}

/* settle: ends an overdue rental, releases an undisputed one, or applies the default rule to a dispute. */
static int op_settle(struct op *p, struct err *e)
{
	struct rental *r = &p->r;
	uint64_t pu = 0, deadline;
	int rc;

	if (r->ended_at == 0) {
		if ((rc = paid_until(&pu, r, e)))
			return rc;
		if (!((r->mark && p->now >= r->mark) || p->now > pu + p->t->grace_secs))
			return revert(p->out, "NotOver", e);
		p->o.event = ESCROW_EV_SETTLED;
		return end_now(&p->o, r, p->now, e);
	}
	if (r->mark == 0) {
		if (p->now <= r->ended_at + p->t->dispute_secs)
			return revert(p->out, "DisputeWindowOpen", e);
		return release(&p->o, r, e);
	}
	/* no arbiter: the default rule applies once the dispute window closes */
	deadline = address_is_zero(&p->t->arbiter) ? r->ended_at + p->t->dispute_secs :
						     r->mark + p->c->arbiter_window_secs;
	if (p->now <= deadline)
		return revert(p->out, "ArbiterWindowOpen", e);
	return resolve(&p->o, r, r->used_secs, ESCROW_RULE_DEFAULT, e);
}

static int op_dispute(struct op *p, struct err *e)
{
	if (p->r.ended_at == 0)
		return revert(p->out, "NotOver", e);
	if (p->r.mark)
		return revert(p->out, "RentalDisputed", e);
	if (p->now > p->r.ended_at + p->t->dispute_secs)
		return revert(p->out, "DisputeWindowClosed", e);
	p->r.mark = p->now;
	p->o.event = ESCROW_EV_DISPUTED;
	return 0;
}

static int op_attest(struct op *p, struct err *e)
{
	const struct escrow_call *c = p->c;
	struct rental *r = &p->r;

	if (r->ended_at == 0 || r->mark == 0)
		return revert(p->out, "NotDisputed", e);
	if (c->ended_at != p->t->epoch + r->ended_at || c->observed != r->used_secs)
		return revert(p->out, "AttestationNotForThisEnd", e);
	if (c->secs > c->observed)
		return revert(p->out, "BadAttestation", e);
	if (address_is_zero(&p->t->monitor))
		return revert(p->out, "BadAttestationSignature", e);
	return resolve(&p->o, r, c->secs < r->used_secs ? c->secs : r->used_secs, ESCROW_RULE_ATTESTATION, e);
}

static int op_rule(struct op *p, struct err *e)
{
	const struct escrow_call *c = p->c;
	struct rental *r = &p->r;

	if (r->ended_at == 0 || r->mark == 0)
		return revert(p->out, "NotDisputed", e);
	if (p->now > r->mark + c->arbiter_window_secs)
		return revert(p->out, "ArbiterWindowClosed", e);
	return resolve(&p->o, r, c->secs < r->used_secs ? c->secs : r->used_secs, ESCROW_RULE_ARBITER, e);
}

static int op_run(struct op *p, struct err *e)
{
	switch (p->c->op) {
	case ESCROW_OP_EXTEND: return op_extend(p, e);
	case ESCROW_OP_CLAIM: return op_claim(p, e);
	case ESCROW_OP_RECLAIM: return op_reclaim(p, e);
	case ESCROW_OP_STOP: return op_stop(p, e);
	case ESCROW_OP_SETTLE: return op_settle(p, e);
	case ESCROW_OP_DISPUTE: return op_dispute(p, e);
	case ESCROW_OP_ATTEST: return op_attest(p, e);
	case ESCROW_OP_RULE: return op_rule(p, e);
	}
	return err_set(e, ERR_INVALID, "call.op: unknown operation %d", (int)p->c->op);
}

int escrow_mirror_apply(struct escrow_outcome *out, const struct escrow_terms *t, const u256 *word,
			const struct escrow_call *c, struct err *e)
{
	struct op p;
	u256 paid;
	int rc;

	memset(&p, 0, sizeof p);
	p.out = out;
	p.t = t;
	p.c = c;
	if ((rc = rental_unpack(&p.r, t, word, e)))
		return rc;
	if (c->now < t->epoch)
		return err_set(e, ERR_INVALID, "call.now: before the rental's epoch");
	p.now = c->now - t->epoch;
	if ((rc = op_run(&p, e)))
		return rc;
	if ((rc = rental_pack(&p.o.word, &p.r, e)))
		return rc == ERR_REVERT ? revert(out, "TimeOverflow", e) : rc;
	/* money is conserved: one call never pays out more than the rental holds */
	assert(!u256_add(&paid, &p.o.provider_amount, &p.o.fee_amount) &&
	       !u256_add(&paid, &paid, &p.o.refund_amount) && u256_cmp(&paid, &p.r.deposited) <= 0);
	(void)paid;
	*out = p.o;
	return 0;
}

int escrow_state_view(struct escrow_view *out, const struct escrow_terms *t, const u256 *word,
		      struct err *e)
{
	struct escrow_view v;
	struct rental r;
	u256 uc;
	int rc;

	memset(&v, 0, sizeof v);
	if ((rc = rental_unpack(&r, t, word, e)) || (rc = paid_secs(&v.paid_secs, &r, e)) ||
	    (rc = paid_until(&v.paid_until, &r, e)))
		return rc;
	v.paid_until += t->epoch;
	v.deposited = r.deposited;
	v.claimed_secs = (uint32_t)r.claimed_secs;
	v.used_secs = (uint32_t)r.used_secs;
	v.seg_start = t->epoch + r.seg_start;
	if ((rc = cost(&v.claimed, &r, r.claimed_secs, e)) ||
	    (rc = escrow_fee(&v.fee_so_far, &v.claimed, t->fee_bps, e)))
		return rc;
	if (r.ended_at == 0) {
		v.phase = ESCROW_PHASE_ACTIVE;
		v.stop_at = r.mark ? t->epoch + r.mark : 0;
	} else {
		v.phase = r.mark ? ESCROW_PHASE_DISPUTED : ESCROW_PHASE_ENDED;
		v.ended_at = t->epoch + r.ended_at;
		v.disputed_at = r.mark ? t->epoch + r.mark : 0;
		if ((rc = cost(&uc, &r, r.used_secs, e)))
			return rc;
		if (u256_sub(&v.refunded, &r.deposited, &uc))
			return err_set(e, ERR_INVALID, "state: cost of the billed seconds above the deposit");
	}
	if (u256_sub(&v.held, &v.deposited, &v.claimed) || u256_sub(&v.held, &v.held, &v.refunded))
		return err_set(e, ERR_INVALID, "state: claimed + refunded above the deposit");
	{
		/* the contract's invariant, to the unit: claimed + refunded + held == deposited */
		u256 sum;
		assert(!u256_add(&sum, &v.claimed, &v.refunded) && !u256_add(&sum, &sum, &v.held) &&
		       u256_cmp(&sum, &v.deposited) == 0);
		(void)sum;
	}
	*out = v;
	return 0;
}

int escrow_mirror_quote(struct escrow_quote *out, const struct escrow_terms *t, const u256 *word,
			uint64_t now, struct err *e)
{
	struct escrow_quote q;
	struct escrow_view v;
	struct rental r;
	uint64_t rel;
	u256 lc, lf;
	int rc;

	memset(&q, 0, sizeof q);
	if ((rc = escrow_state_view(&v, t, word, e)) || (rc = rental_unpack(&r, t, word, e)))
		return rc;
	rel = now > t->epoch ? now - t->epoch : 0;
	if (v.phase == ESCROW_PHASE_ACTIVE) {
		if ((rc = billed(&q.billed_secs, &r, rel, e)))
			return rc;
	} else {
		q.billed_secs = r.used_secs;
	}
	if ((rc = cost(&q.cost, &r, q.billed_secs, e)) ||
	    (rc = cost(&lc, &r, lagged(q.billed_secs, t->dispute_secs), e)))
		return rc;
	if (u256_cmp(&lc, &v.claimed) > 0) {
		u256_sub(&q.claimable_gross, &lc, &v.claimed);
		if ((rc = escrow_fee(&lf, &lc, t->fee_bps, e)))
			return rc;
		u256_sub(&q.claimable_fee, &lf, &v.fee_so_far);
		u256_sub(&q.claimable_net, &q.claimable_gross, &q.claimable_fee);
	}
	q.held = v.held;
	if (v.phase == ESCROW_PHASE_ACTIVE && u256_sub(&q.refund_if_stopped, &v.deposited, &q.cost))
		return err_set(e, ERR_INVALID, "state: cost above the deposit");
	*out = q;
	return 0;
}
