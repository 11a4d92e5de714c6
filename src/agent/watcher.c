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
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(a->db, "SELECT ssh_key, issued_ms FROM pending_keys WHERE id = ?1 AND signer = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_blob(st, 2, renter->b, 20, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		{
			sqlite3_stmt *up = NULL;
			if (sqlite3_prepare_v2(a->db, "UPDATE rentals SET ssh_key = ?2, key_applied = 0,"
					       " key_issued_ms = ?3 WHERE id = ?1", -1, &up, NULL) == SQLITE_OK) {
				sqlite3_bind_int64(up, 1, (sqlite3_int64)id);
				sqlite3_bind_text(up, 2, (const char *)sqlite3_column_text(st, 0), -1,
						  SQLITE_TRANSIENT);
				sqlite3_bind_int64(up, 3, sqlite3_column_int64(st, 1));
				sqlite3_step(up);
			}
			sqlite3_finalize(up);
			log_info("pending ssh key attached", "rental=%llu", (unsigned long long)id);
		}
	}
	sqlite3_finalize(st);
	agent_db_exec(a, "DELETE FROM pending_keys WHERE id = ?2", 0, id, NULL);
	if (sqlite3_changes(a->db) > 1)
		log_warn("pending ssh keys not signed by the renter dropped", "rental=%llu",
			 (unsigned long long)id);
}

/* Applies one event to the db. Under mu, inside the batch's transaction. */
static int apply_event(struct agent *a, const struct escrow_event *ev, uint64_t block, struct err *e)
{
	sqlite3_stmt *st = NULL;
	uint8_t word[32];
	int rc = 0;

	if (ev->kind == ESCROW_EV_OPENED) {
		uint8_t terms[ESCROW_TERMS_SIZE];
		if (!address_equal(&ev->opened.terms.provider, &a->provider))
			return 0;
		if ((rc = escrow_terms_encode(terms, &ev->opened.terms, e)))
			return rc;
		u256_to_be32(word, &ev->state);
		if (sqlite3_prepare_v2(a->db, "INSERT OR IGNORE INTO rentals(id, terms, word, opened_block)"
					      " VALUES(?1, ?2, ?3, ?4)", -1, &st, NULL) != SQLITE_OK)
			return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
		sqlite3_bind_int64(st, 1, (sqlite3_int64)ev->id);
		sqlite3_bind_blob(st, 2, terms, sizeof terms, SQLITE_TRANSIENT);
		sqlite3_bind_blob(st, 3, word, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)block);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
		sqlite3_finalize(st);
		if (!rc) {
			char r[ADDRESS_STR_MAX];
			address_to_lower(r, &ev->opened.terms.renter);
			log_info("rental opened", "rental=%llu renter=%s block=%llu", (unsigned long long)ev->id,
				 r, (unsigned long long)block);
			attach_pending_key(a, ev->id, &ev->opened.terms.renter);
		}
		return rc;
	}
	if (ev->kind == ESCROW_EV_CLOSED)
		return agent_db_exec(a, "UPDATE rentals SET closed = 1 WHERE id = ?2", 0, ev->id, e);
	if (!ev->id || !ev->has_state)
		return 0;
	u256_to_be32(word, &ev->state);
	if (sqlite3_prepare_v2(a->db, "UPDATE rentals SET word = ?2 WHERE id = ?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ev->id);
	sqlite3_bind_blob(st, 2, word, 32, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	else if (sqlite3_changes(a->db) > 0)
		log_info("rental event", "rental=%llu event=%s block=%llu", (unsigned long long)ev->id,
			 escrow_event_name(ev->kind), (unsigned long long)block);
	sqlite3_finalize(st);
	return rc;
}

static int read_next_block(struct agent *a, uint64_t *out, struct err *e)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(a->db, "SELECT v FROM meta WHERE k = 'next_block'", -1, &st, NULL) !=
	    SQLITE_OK)
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
	*out = a->cfg.start_block;
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

/* Applies the logs of [from, to] and stores to + 1 as the progress, in one transaction. */
static int apply_batch(struct agent *a, const struct rpc_logs *logs, uint64_t to, struct err *e)
{
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	if (sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		pthread_mutex_unlock(&a->mu);
		return err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
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
	if (!rc) {
		sqlite3_stmt *st = NULL;
		if (sqlite3_prepare_v2(a->db, "INSERT OR REPLACE INTO meta(k, v) VALUES('next_block', ?1)", -1,
				       &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, (sqlite3_int64)(to + 1));
			if (sqlite3_step(st) != SQLITE_DONE)
				rc = err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
		} else {
			rc = err_set(e, ERR_IO, "agent db: %s", sqlite3_errmsg(a->db));
		}
		sqlite3_finalize(st);
	}
	if (!rc && sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = err_set(e, ERR_IO, "agent db commit: %s", sqlite3_errmsg(a->db));
	if (rc)
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
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
	rc = read_next_block(a, &next, e);
	pthread_mutex_unlock(&a->mu);
	if (rc)
		return rc;
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
