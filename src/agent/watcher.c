/*
 * watcher.c — follows the escrow's events for this provider's rentals, directly from the chain.
 *
 * eth_getLogs over [next_block, head - confirmations] (at most batch_blocks per request, a few
 * requests per tick), filtered by the escrow address. `Opened` events whose Terms name this provider
 * add a rental (Terms + state word); every later rental event of a followed rental replaces its
 * state word (each carries the new packed word); `Closed` marks it closed. The events of a range and
 * the new progress are committed in ONE SQLite transaction: a crash before the commit re-reads the
 * range, after it never does. A renter key that arrived before its `Opened` (pending_keys, one per
 * rental and signer) is attached here when its signer is the renter on chain; the others are dropped.
 *
 * agent_scan_rentals applies the same rules in memory for the provider CLI.
 */
#include "agent/agent_int.h"

#include "agent/state.h"

#include "core/err.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

#define WATCH_BATCHES_PER_TICK 16

static bool is_payout(enum escrow_event_kind k)
{
	return k == ESCROW_EV_CLAIMED || k == ESCROW_EV_STOPPED || k == ESCROW_EV_SETTLED ||
	       k == ESCROW_EV_RESOLVED;
}

/* Attaches a pending key to a newly seen rental if the renter signed it. Under mu, in the tx. */
static void attach_pending_key(struct agent *a, uint64_t id, const struct eth_address *renter)
{
	unsigned dropped = 0;

	if (state_attach_pending_key(a, id, renter, &dropped))
		log_info("pending ssh key attached", "rental=%llu", (unsigned long long)id);
	if (dropped)
		log_warn("pending ssh keys not signed by the renter dropped", "rental=%llu count=%u",
			 (unsigned long long)id, dropped);
}

/* Applies one event to the db. Under mu, inside the batch's transaction. */
static int apply_event(struct agent *a, const struct escrow_event *ev, uint64_t block, struct err *e)
{
	uint8_t word[32];
	bool followed;
	int rc;

	if (ev->kind == ESCROW_EV_OPENED) {
		uint8_t terms[ESCROW_TERMS_SIZE];
		char r[ADDRESS_STR_MAX];

		if (!address_equal(&ev->opened.terms.provider, &a->provider))
			return 0;
		u256_to_be32(word, &ev->state);
		if ((rc = escrow_terms_encode(terms, &ev->opened.terms, e)) ||
		    (rc = state_rental_add(a, ev->id, terms, word, block, e)))
			return rc;
		address_to_lower(r, &ev->opened.terms.renter);
		log_info("rental opened", "rental=%llu renter=%s block=%llu", (unsigned long long)ev->id, r,
			 (unsigned long long)block);
		attach_pending_key(a, ev->id, &ev->opened.terms.renter);
		return 0;
	}
	if (ev->kind == ESCROW_EV_CLOSED)
		return state_mark(a, ev->id, STATE_MARK_CLOSED, e);
	if (!ev->id || !ev->has_state)
		return 0;
	u256_to_be32(word, &ev->state);
	if ((rc = state_rental_set_word(a, ev->id, word, &followed, e)))
		return rc;
	if (followed)
		log_info("rental event", "rental=%llu event=%s block=%llu", (unsigned long long)ev->id,
			 escrow_event_name(ev->kind), (unsigned long long)block);
	return 0;
}

/* Applies the logs of [from, to] and stores to + 1 as the progress, in one transaction. */
static int apply_batch(struct agent *a, const struct rpc_logs *logs, uint64_t to, struct err *e)
{
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	if ((rc = state_begin(a, e))) {
		pthread_mutex_unlock(&a->mu);
		return rc;
	}
	for (size_t i = 0; i < logs->n && !rc; i++) {
		struct escrow_event ev;
		struct err de = { 0, "" };
		int r;

		if (logs->v[i].removed || !address_equal(&logs->v[i].address, &a->cfg.escrow))
			continue;
		r = escrow_event_decode(&ev, &logs->v[i], &de);
		if (r == ERR_NOT_FOUND)
			continue;
		if (r) {
			log_warn("undecodable escrow log skipped", "block=%llu err=\"%s\"",
				 (unsigned long long)logs->v[i].block_number, de.msg);
			continue;
		}
		rc = apply_event(a, &ev, logs->v[i].block_number, e);
	}
	if (!rc)
		rc = state_set_next_block(a, to + 1, e);
	if (!rc)
		rc = state_commit(a, e);
	if (rc)
		state_rollback(a);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int watcher_poll(struct agent *a, bool *caught_up, struct err *e)
{
	uint64_t head, next = 0, to;
	int rc;

	if ((rc = rpc_block_number(&a->rpc, &head, e)))
		return rc;
	if (caught_up)
		*caught_up = false;
	if (head < a->cfg.confirmations) {
		if (caught_up)
			*caught_up = true;
		return 0;
	}
	head -= a->cfg.confirmations;
	pthread_mutex_lock(&a->mu);
	next = state_next_block(a, a->cfg.start_block);
	pthread_mutex_unlock(&a->mu);
	for (unsigned i = 0; i < WATCH_BATCHES_PER_TICK && next <= head; i++) {
		struct rpc_logs logs = { 0 };
		struct rpc_log_filter f;

		to = head - next + 1 > a->cfg.batch_blocks ? next + a->cfg.batch_blocks - 1 : head;
		memset(&f, 0, sizeof f);
		f.from_block = next;
		f.to_block = to;
		f.addresses = &a->cfg.escrow;
		f.n_addresses = 1;
		rc = rpc_get_logs(&a->rpc, &logs, &f, e);
		if (!rc)
			rc = apply_batch(a, &logs, to, e);
		rpc_logs_release(&logs);
		if (rc)
			return rc;
		next = to + 1;
	}
	if (caught_up)
		*caught_up = next > head;
	return 0;
}

/* ------------------------------------------------------------------ in-memory scan (CLI) */

static struct agent_rental *find(struct agent_rental *v, size_t n, uint64_t id)
{
	for (size_t i = n; i-- > 0;)
		if (v[i].id == id)
			return &v[i];
	return NULL;
}

int agent_scan_rentals(struct agent_rental **out, size_t *n, struct rpc *r,
		       const struct eth_address *escrow, const struct eth_address *provider,
		       uint64_t from_block, unsigned confirmations, struct err *e)
{
	struct rpc_logs logs = { 0 };
	struct rpc_log_filter f;
	struct agent_rental *v = NULL;
	uint64_t head;
	size_t cnt = 0;
	int rc;

	if ((rc = rpc_block_number(r, &head, e)))
		return rc;
	if (head < confirmations + from_block) {
		*out = NULL;
		*n = 0;
		return 0;
	}
	memset(&f, 0, sizeof f);
	f.from_block = from_block;
	f.to_block = head - confirmations;
	f.addresses = escrow;
	f.n_addresses = 1;
	if ((rc = rpc_get_logs(r, &logs, &f, e)))
		return rc;
	v = calloc(AGENT_RENTALS_MAX, sizeof *v);
	if (!v) {
		rpc_logs_release(&logs);
		return err_set(e, ERR_NOMEM, "scan: out of memory");
	}
	for (size_t i = 0; i < logs.n && !rc; i++) {
		struct escrow_event ev;
		struct agent_rental *x;

		if (logs.v[i].removed || escrow_event_decode(&ev, &logs.v[i], NULL))
			continue;
		if (ev.kind == ESCROW_EV_OPENED) {
			if (provider && !address_equal(&ev.opened.terms.provider, provider))
				continue;
			if (cnt == AGENT_RENTALS_MAX) {
				rc = err_set(e, ERR_TOO_BIG, "scan: more than %d rentals", AGENT_RENTALS_MAX);
				break;
			}
			x = &v[cnt++];
			x->id = ev.id;
			x->t = ev.opened.terms;
			x->word = ev.state;
			x->opened_block = logs.v[i].block_number;
			continue;
		}
		if (!ev.id || !(x = find(v, cnt, ev.id)))
			continue;
		if (ev.kind == ESCROW_EV_CLOSED) {
			x->closed = true;
			continue;
		}
		if (ev.has_state)
			x->word = ev.state;
		if (is_payout(ev.kind)) {
			if (u256_add(&x->provider_paid, &x->provider_paid, &ev.payout.provider_amount) ||
			    u256_add(&x->fee_paid, &x->fee_paid, &ev.payout.fee_amount) ||
			    u256_add(&x->refunded, &x->refunded, &ev.payout.refund_amount))
				rc = err_set(e, ERR_RANGE, "scan: rental %llu: amounts overflow",
					     (unsigned long long)ev.id);
		}
	}
	rpc_logs_release(&logs);
	if (rc || !cnt) {
		free(v);
		v = NULL;
		if (rc)
			return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}
