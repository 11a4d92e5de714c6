/*
 * indexer.c — follows the RentalEscrow's events into the store.
 *
 * One round (indexer_step):
 *  1. head = eth_blockNumber; the safe head is head - confirmations.
 *  2. Reorg check: the block recorded as progress must still have the recorded hash. If not (a reorg
 *     deeper than the confirmations), walk back through the recent block hashes kept in the store to
 *     the newest block the chain still agrees with (the common ancestor; none found within the window:
 *     the start block), and in ONE store transaction delete the events and block hashes above it,
 *     rebuild every rental touched since from its remaining events, and move the progress back. The
 *     next rounds replay from there.
 *  3. Otherwise fetch the logs of the escrow for [progress+1, min(safe, progress+batch)], read the
 *     headers of the blocks holding logs (timestamps; their hashes must equal the logs' block hashes,
 *     else the round is abandoned and retried) and of the batch's last block, and in ONE transaction:
 *     journal every event (idempotent on (chain, tx, log index)), apply each newly journalled rental
 *     event to the rental mirror, cancel offers on OfferCancelled, record the block hashes and the
 *     progress. A crash at any instant leaves either the whole batch or none of it.
 *
 * The mirror of a rental is a pure function of its ordered events (rental_apply): the Terms come from
 * `Opened` and are kept in the rental's `extra` JSON with the latest packed state word, from which
 * escrow_state_view gives deposited / claimed / refunded / paid-until; payouts add up the provider and
 * fee amounts. So a rebuild after a reorg gives exactly what indexing the new chain from scratch would.
 * Event data is journalled as JSON with every amount as a decimal string and the state word as hex.
 */
#include "server/server.h"

#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "core/u256.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"
#include "market/search.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDX_BLOCK_WINDOW 4096       /* recent block hashes kept for reorg detection */
#define IDX_HEADERS_MAX 512         /* distinct blocks with logs per batch */
#define IDX_REBUILD_EVENTS_MAX 100000 /* events of one rental replayed */

static void hash_text(char out[STORE_HASH_SIZE], const uint8_t h32[32])
{
	hex_encode_0x(out, h32, 32);
}

static void u256_dec(char out[STORE_DEC_SIZE], const u256 *v)
{
	u256_to_dec(out, v);
}

static int set_u256(json_t *o, const char *k, const u256 *v)
{
	char d[U256_DEC_MAX];
	u256_to_dec(d, v);
	return json_object_set_new(o, k, json_string(d));
}

static int set_addr(json_t *o, const char *k, const struct eth_address *a)
{
	char t[ADDRESS_STR_MAX];
	address_to_lower(t, a);
	return json_object_set_new(o, k, json_string(t));
}

/* The journal's JSON for one decoded event. */
static json_t *event_data(const struct escrow_event *ev)
{
	json_t *o = json_object();
	char hex[2 * ESCROW_TERMS_SIZE + 3];
	int bad = 0;

	if (!o)
		return NULL;
	if (ev->has_state) {
		char sh[U256_HEX_MAX];
		u256_to_hex(sh, &ev->state);
		bad |= json_object_set_new(o, "state", json_string(sh));
	}
	switch (ev->kind) {
	case ESCROW_EV_OPENED: {
		uint8_t enc[ESCROW_TERMS_SIZE];
		if (escrow_terms_encode(enc, &ev->opened.terms, NULL)) {
			json_decref(o);
			return NULL;
		}
		hex_encode_0x(hex, enc, sizeof enc);
		bad |= json_object_set_new(o, "terms", json_string(hex));
		hash_text(hex, ev->opened.offer_hash);
		bad |= json_object_set_new(o, "offer_hash", json_string(hex));
		hash_text(hex, ev->opened.spec_hash);
		bad |= json_object_set_new(o, "spec_hash", json_string(hex));
		bad |= set_addr(o, "renter", &ev->opened.renter);
		bad |= set_addr(o, "provider", &ev->opened.provider);
		break;
	}
	case ESCROW_EV_EXTENDED:
		bad |= set_u256(o, "amount", &ev->extended.amount);
		break;
	case ESCROW_EV_CLAIMED:
	case ESCROW_EV_STOPPED:
	case ESCROW_EV_SETTLED:
	case ESCROW_EV_RESOLVED:
		bad |= set_u256(o, "provider_amount", &ev->payout.provider_amount);
		bad |= set_u256(o, "fee_amount", &ev->payout.fee_amount);
		bad |= set_u256(o, "refund_amount", &ev->payout.refund_amount);
		if (ev->kind == ESCROW_EV_RESOLVED)
			bad |= json_object_set_new(o, "rule", json_integer(ev->payout.rule));
		break;
	case ESCROW_EV_CREDITED:
	case ESCROW_EV_WITHDRAWN:
	case ESCROW_EV_FEES_WITHDRAWN:
		bad |= set_addr(o, "token", &ev->credit.token);
		bad |= set_addr(o, "account", &ev->credit.account);
		bad |= set_addr(o, "to", &ev->credit.to);
		bad |= set_u256(o, "amount", &ev->credit.amount);
		break;
	case ESCROW_EV_OFFER_CANCELLED:
		bad |= set_addr(o, "provider", &ev->cancelled.provider);
		bad |= json_object_set_new(o, "nonce", json_id(ev->cancelled.nonce));
		break;
	case ESCROW_EV_TREASURY_SET:
	case ESCROW_EV_MONITOR_SET:
		bad |= set_addr(o, "address", &ev->config.addr);
		break;
	case ESCROW_EV_FEE_SET:
		bad |= json_object_set_new(o, "fee_bps", json_integer(ev->config.fee_bps));
		break;
	default:
		break;
	}
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool is_rental_kind(const char *kind)
{
	static const char *const k[] = { "Opened", "Extended", "Claimed", "Reclaimed", "Stopped",
					 "Settled", "Disputed", "Resolved", "Closed" };
	for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
		if (strcmp(kind, k[i]) == 0)
			return true;
	return false;
}

static int add_dec(char acc[STORE_DEC_SIZE], const json_t *data, const char *field, struct err *e)
{
	u256 a, b;
	int rc;

	if ((rc = u256_parse_dec(&a, acc[0] ? acc : "0", e)))
		return rc;
	if ((rc = json_get_u256(&b, data, field, e)))
		return rc;
	if (u256_add(&a, &a, &b))
		return err_set(e, ERR_RANGE, "%s: sum overflows", field);
	u256_dec(acc, &a);
	return 0;
}

/*
 * Applies one journalled rental event to the mirror `r` (*exists: r holds a rental). Pure: no store.
 */
/* Decodes the hex terms under "terms" in j. */
static int terms_of(struct escrow_terms *t, const char **terms_hex, const json_t *j, struct err *e)
{
	uint8_t enc[ESCROW_TERMS_SIZE];
	int rc;

	if ((rc = json_get_str(terms_hex, j, "terms", 2 * ESCROW_TERMS_SIZE + 2, e)) ||
	    (rc = hex_decode_exact(enc, sizeof enc, *terms_hex, e)))
		return rc;
	return escrow_terms_decode(t, enc, sizeof enc, e);
}

/* Opened: the rental row starts from its terms; extra keeps the terms for the later events. */
static int rental_opened(struct store_rental *r, json_t **extra, struct escrow_terms *t, uint64_t chain_id,
			 const struct store_event *ev, const json_t *data, struct err *e)
{
	const char *terms_hex, *oh;
	int rc;

	if ((rc = terms_of(t, &terms_hex, data, e)) ||
	    (rc = json_get_str(&oh, data, "offer_hash", STORE_HASH_SIZE - 1, e)))
		return rc;
	memset(r, 0, sizeof *r);
	r->chain_id = chain_id;
	r->id = ev->rental_id;
	snprintf(r->offer_hash, sizeof r->offer_hash, "%s", oh);
	address_to_lower(r->renter, &t->renter);
	address_to_lower(r->provider, &t->provider);
	address_to_lower(r->payout, &t->payout);
	address_to_lower(r->token, &t->token);
	u256_dec(r->rate, &t->rate);
	r->fee_bps = t->fee_bps;
	strcpy(r->claimed, "0");
	strcpy(r->provider_paid, "0");
	strcpy(r->fee_paid, "0");
	strcpy(r->refunded, "0");
	strcpy(r->deposited, "0");
	r->state = STORE_RENTAL_OPEN;
	r->opened_at = (int64_t)t->epoch + 1;
	r->opened_block = ev->block_number;
	snprintf(r->opened_tx, sizeof r->opened_tx, "%s", ev->tx_hash);
	*extra = json_object();
	if (!*extra || json_object_set_new(*extra, "terms", json_string(terms_hex)) ||
	    json_object_set_new(*extra, "max_secs", json_integer(t->max_secs)) ||
	    json_object_set_new(*extra, "dispute_secs", json_integer(t->dispute_secs)))
		return err_set(e, ERR_NOMEM, "rental extra");
	return 0;
}

/* An event that carries the rental's state word: the money and phase columns follow it. */
static int rental_state_word(struct store_rental *r, json_t *extra, const struct escrow_terms *t,
			     const json_t *data, struct err *e)
{
	const char *state_hex;
	struct escrow_view v;
	u256 word;
	int rc;

	if ((rc = json_get_str(&state_hex, data, "state", U256_HEX_MAX, e)) ||
	    (rc = u256_parse_hex(&word, state_hex, e)) || (rc = escrow_state_view(&v, t, &word, e)))
		return rc;
	u256_dec(r->deposited, &v.deposited);
	u256_dec(r->claimed, &v.claimed);
	u256_dec(r->refunded, &v.refunded);
	r->paid_until = (int64_t)v.paid_until;
	r->ended_at = (int64_t)v.ended_at;
	if (v.phase == ESCROW_PHASE_ACTIVE)
		r->state = STORE_RENTAL_OPEN;
	else if (v.phase == ESCROW_PHASE_DISPUTED)
		r->state = STORE_RENTAL_DISPUTED;
	else
		r->state = STORE_RENTAL_ENDED;
	if (json_object_set_new(extra, "state", json_string(state_hex)))
		return err_set(e, ERR_NOMEM, "rental extra");
	return 0;
}

static int rental_extra_store(struct store_rental *r, const json_t *extra, struct err *e)
{
	char *text = json_dumps(extra, JSON_COMPACT | JSON_SORT_KEYS);

	if (!text || strlen(text) >= sizeof r->extra) {
		free(text);
		return err_set(e, ERR_TOO_BIG, "rental extra");
	}
	strcpy(r->extra, text);
	free(text);
	return 0;
}

static bool pays_out(const char *kind)
{
	return strcmp(kind, "Claimed") == 0 || strcmp(kind, "Stopped") == 0 || strcmp(kind, "Settled") == 0 ||
	       strcmp(kind, "Resolved") == 0;
}

static int rental_apply(struct store_rental *r, bool *exists, uint64_t chain_id,
			const struct store_event *ev, struct err *e)
{
	json_t *data = NULL, *extra = NULL;
	struct escrow_terms t;
	const char *terms_hex;
	int rc;

	if ((rc = json_parse(&data, ev->data, strlen(ev->data), STORE_JSON_SIZE, e)))
		return rc;
	if (strcmp(ev->kind, "Opened") == 0) {
		if ((rc = rental_opened(r, &extra, &t, chain_id, ev, data, e)))
			goto out;
		*exists = true;
	} else if (!*exists) {
		rc = err_set(e, ERR_STATE, "rental %" PRIu64 ": %s before Opened", ev->rental_id, ev->kind);
		goto out;
	} else if ((rc = json_parse(&extra, r->extra, strlen(r->extra), STORE_JSON_SIZE, e)) ||
		   (rc = terms_of(&t, &terms_hex, extra, e))) {
		goto out;
	}
	if (pays_out(ev->kind) && ((rc = add_dec(r->provider_paid, data, "provider_amount", e)) ||
				   (rc = add_dec(r->fee_paid, data, "fee_amount", e))))
		goto out;
	if (json_object_get(data, "state") && (rc = rental_state_word(r, extra, &t, data, e)))
		goto out;
	if (strcmp(ev->kind, "Resolved") == 0)
		r->state = STORE_RENTAL_RESOLVED;
	if (strcmp(ev->kind, "Closed") == 0) {
		r->state = STORE_RENTAL_CLOSED;
		if (json_object_set_new(extra, "closed_at", json_integer(ev->block_time))) {
			rc = err_set(e, ERR_NOMEM, "rental extra");
			goto out;
		}
	}
	r->last_block = ev->block_number;
	rc = rental_extra_store(r, extra, e);
out:
	json_decref(data);
	json_decref(extra);
	return rc;
}

struct ev_list {
	struct store_event *v;
	size_t n, cap;
};

static int collect_event(void *ctx, const struct store_event *ev)
{
	struct ev_list *l = ctx;
	if (l->n == IDX_REBUILD_EVENTS_MAX)
		return ERR_TOO_BIG;
	if (l->n == l->cap) {
		size_t nc = l->cap ? 2 * l->cap : 16;
		struct store_event *nv = realloc(l->v, nc * sizeof *nv);
		if (!nv)
			return ERR_NOMEM;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n++] = *ev;
	return 0;
}

int indexer_rebuild_rental(struct server *s, uint64_t rental_id, struct err *e)
{
	struct ev_list l = { 0 };
	struct store_rental r;
	bool exists = false;
	int rc;

	rc = store_events_of_rental(s->store, s->cfg.chain_id, rental_id, collect_event, &l, e);
	if (rc) {
		free(l.v);
		return rc < 0 ? rc : err_set(e, rc, "rental %" PRIu64 ": events", rental_id);
	}
	memset(&r, 0, sizeof r);
	for (size_t i = 0; i < l.n && !rc; i++) {
		if (!is_rental_kind(l.v[i].kind))
			continue;
		rc = rental_apply(&r, &exists, s->cfg.chain_id, &l.v[i], e);
	}
	free(l.v);
	if (rc)
		return rc;
	if (!exists) {
		rc = store_rental_delete(s->store, s->cfg.chain_id, rental_id, e);
		return rc == ERR_NOT_FOUND ? 0 : rc;
	}
	return store_rental_upsert(s->store, &r, e);
}

/* Rolls back everything above `ancestor` (inside the caller's transaction). */
static int rollback_to(struct server *s, uint64_t ancestor, const char *ancestor_hash, struct err *e)
{
	struct store_indexer p;
	char contract[STORE_ADDR_SIZE];
	uint64_t n_ev = 0, id;
	int rc;

	if ((rc = store_events_delete_from(s->store, &n_ev, s->cfg.chain_id, ancestor + 1, e)) ||
	    (rc = store_blocks_delete_from(s->store, NULL, s->cfg.chain_id, ancestor + 1, e)))
		return rc;
	/* Rental ids are dense on chain, so the mirrored ones are 1..M. */
	for (id = 1; id <= (uint64_t)INT64_MAX; id++) {
		struct store_rental r;
		rc = store_rental_get(s->store, &r, s->cfg.chain_id, id, e);
		if (rc == ERR_NOT_FOUND)
			break;
		if (rc)
			return rc;
		if (r.last_block > ancestor && (rc = indexer_rebuild_rental(s, id, e)))
			return rc;
	}
	atomic_store(&s->max_rental_id, id - 1);
	address_to_lower(contract, &s->cfg.escrow);
	memset(&p, 0, sizeof p);
	p.chain_id = s->cfg.chain_id;
	snprintf(p.contract, sizeof p.contract, "%s", contract);
	p.block_number = ancestor;
	snprintf(p.block_hash, sizeof p.block_hash, "%s", ancestor_hash);
	p.updated_at = server_now();
	if ((rc = store_indexer_set(s->store, &p, e)))
		return rc;
	log_warn("indexer rolled back", "ancestor=%" PRIu64 " events_deleted=%" PRIu64, ancestor, n_ev);
	return 0;
}

static int handle_reorg(struct server *s, struct rpc *r, const struct store_indexer *prog,
			struct err *e)
{
	uint64_t lo = s->cfg.start_block > 0 ? s->cfg.start_block - 1 : 0;
	uint64_t n, ancestor = lo;
	char stored[STORE_HASH_SIZE], chain_hash[STORE_HASH_SIZE];
	struct rpc_block b;
	bool found = false;
	int rc;

	if (prog->block_number > IDX_BLOCK_WINDOW && prog->block_number - IDX_BLOCK_WINDOW > lo)
		lo = prog->block_number - IDX_BLOCK_WINDOW;
	for (n = prog->block_number; n > lo && !found; n--) {
		rc = store_block_get(s->store, stored, s->cfg.chain_id, n - 1, e);
		if (rc == ERR_NOT_FOUND)
			continue;
		if (rc)
			return rc;
		rc = rpc_get_block_by_number(r, &b, n - 1, e);
		if (rc == ERR_NOT_FOUND)
			continue;
		if (rc)
			return rc;
		hash_text(chain_hash, b.hash);
		if (strcmp(chain_hash, stored) == 0) {
			ancestor = n - 1;
			found = true;
		}
	}
	if (!found) {
		if ((rc = rpc_get_block_by_number(r, &b, ancestor, e)))
			return rc;
		hash_text(chain_hash, b.hash);
	}
	atomic_fetch_add(&s->metrics.indexer_reorgs, 1);
	log_warn("reorg detected", "at=%" PRIu64 " ancestor=%" PRIu64, prog->block_number, ancestor);
	if ((rc = store_tx_begin(s->store, e)))
		return rc;
	if ((rc = rollback_to(s, ancestor, chain_hash, e))) {
		store_tx_rollback(s->store, NULL);
		return rc;
	}
	rc = store_tx_commit(s->store, e);
	listing_everything_changed(s);
	return rc;
}

struct hdr {
	uint64_t number;
	uint8_t hash[32];
	uint64_t time;
};

static const struct hdr *hdr_find(const struct hdr *h, size_t n, uint64_t number)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].number == number)
			return &h[i];
	return NULL;
}

/*
 * Providers a batch touched (a rental of theirs changed, an offer of theirs was cancelled): their offers
 * are re-read into the index after the commit. Past IDX_CANCELS_MAX the whole index is rebuilt.
 */
struct cancel {
	char provider[STORE_ADDR_SIZE];
	uint64_t nonce;
};
#define IDX_CANCELS_MAX 256
#define IDX_TOUCHED_OVER ((size_t)-1)

static void touch(struct cancel *touched, size_t *n, const char *provider, uint64_t nonce)
{
	if (*n == IDX_TOUCHED_OVER)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(touched[i].provider, provider) == 0)
			return;
	if (*n == IDX_CANCELS_MAX) {
		*n = IDX_TOUCHED_OVER;
		return;
	}
	snprintf(touched[*n].provider, sizeof touched[*n].provider, "%s", provider);
	touched[(*n)++].nonce = nonce;
}

/* Journals and applies one batch of logs (inside the caller's transaction). */
static int apply_batch(struct server *s, const struct rpc_logs *logs, const struct hdr *hdrs,
		       size_t n_hdrs, struct cancel *cancels, size_t *n_cancels, uint64_t *n_new,
		       struct err *e)
{
	int rc;

	for (size_t i = 0; i < logs->n; i++) {
		const struct rpc_log *lg = &logs->v[i];
		struct escrow_event ev;
		struct store_event se;
		const struct hdr *h;
		bool inserted = false;
		json_t *data;
		char *text;

		if (lg->removed || !address_equal(&lg->address, &s->cfg.escrow))
			continue;
		rc = escrow_event_decode(&ev, lg, e);
		if (rc == ERR_NOT_FOUND)
			continue; /* an inherited event (Ownable) */
		if (rc) {
			log_warn("undecodable escrow log skipped", "block=%" PRIu64 " log_index=%" PRIu64,
				 lg->block_number, lg->log_index);
			continue;
		}
		h = hdr_find(hdrs, n_hdrs, lg->block_number);
		if (!h)
			return err_set(e, ERR_STATE, "block %" PRIu64 ": no header", lg->block_number);
		memset(&se, 0, sizeof se);
		se.chain_id = s->cfg.chain_id;
		se.block_number = lg->block_number;
		hash_text(se.block_hash, lg->block_hash);
		se.block_time = (int64_t)h->time;
		hash_text(se.tx_hash, lg->tx_hash);
		se.log_index = (uint32_t)lg->log_index;
		se.rental_id = ev.id;
		snprintf(se.kind, sizeof se.kind, "%s", escrow_event_name(ev.kind));
		data = event_data(&ev);
		text = data ? json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(data);
		if (!text)
			return err_set(e, ERR_NOMEM, "event data");
		if (strlen(text) >= sizeof se.data) {
			free(text);
			return err_set(e, ERR_TOO_BIG, "event data");
		}
		strcpy(se.data, text);
		free(text);
		if ((rc = store_event_insert(s->store, &inserted, &se, e)))
			return rc;
		if (!inserted)
			continue;
		(*n_new)++;
		if (ev.id && is_rental_kind(se.kind)) {
			struct store_rental r;
			bool exists = true;
			rc = store_rental_get(s->store, &r, s->cfg.chain_id, ev.id, e);
			if (rc == ERR_NOT_FOUND) {
				exists = false;
				memset(&r, 0, sizeof r);
			} else if (rc) {
				return rc;
			}
			if ((rc = rental_apply(&r, &exists, s->cfg.chain_id, &se, e)) ||
			    (rc = store_rental_upsert(s->store, &r, e)))
				return rc;
			if (r.provider[0])
				touch(cancels, n_cancels, r.provider, 0);
			if (ev.id > atomic_load(&s->max_rental_id))
				atomic_store(&s->max_rental_id, ev.id);
		}
		if (ev.kind == ESCROW_EV_OFFER_CANCELLED) {
			char nonce[24];
			snprintf(nonce, sizeof nonce, "%" PRIu64, ev.cancelled.nonce);
			struct cancel c;
			address_to_lower(c.provider, &ev.cancelled.provider);
			c.nonce = ev.cancelled.nonce;
			if ((rc = store_offer_cancel_nonce(s->store, NULL, c.provider, nonce, server_now(),
							   e)))
				return rc;
			touch(cancels, n_cancels, c.provider, c.nonce);
		}
	}
	return 0;
}

/*
 * The next range to read: [*from, *to] up to head - confirmations and at most batch_blocks long.
 * 0 with *from > *to when there is nothing to read yet; *reorged when the saved progress block is no
 * longer on the chain (handle_reorg has rolled back: the caller's round advanced).
 */
static int next_range(struct server *s, struct rpc *r, uint64_t *from, uint64_t *to, bool *reorged,
		      struct err *e)
{
	struct store_indexer prog;
	char contract[STORE_ADDR_SIZE], hash[STORE_HASH_SIZE];
	struct rpc_block b;
	uint64_t head, safe;
	int rc;

	*reorged = false;
	*from = 1;
	*to = 0;
	if ((rc = rpc_block_number(r, &head, e)))
		return rc;
	atomic_store(&s->metrics.indexer_head, head);
	if (head < s->cfg.confirmations)
		return 0;
	safe = head - s->cfg.confirmations;
	address_to_lower(contract, &s->cfg.escrow);
	rc = store_indexer_get(s->store, &prog, s->cfg.chain_id, contract, e);
	if (rc == ERR_NOT_FOUND) {
		*from = s->cfg.start_block ? s->cfg.start_block : 1;
	} else if (rc) {
		return rc;
	} else {
		rc = rpc_get_block_by_number(r, &b, prog.block_number, e);
		if (rc && rc != ERR_NOT_FOUND)
			return rc;
		if (rc == 0)
			hash_text(hash, b.hash);
		if (rc == ERR_NOT_FOUND || strcmp(hash, prog.block_hash) != 0) {
			*reorged = true;
			return handle_reorg(s, r, &prog, e);
		}
		atomic_store(&s->metrics.indexer_block, prog.block_number);
		*from = prog.block_number + 1;
	}
	if (*from <= safe)
		*to = safe - *from + 1 > s->cfg.batch_blocks ? *from + s->cfg.batch_blocks - 1 : safe;
	return 0;
}

/* Fetches header `num` into hdrs[*n]. */
static int header_fetch(struct rpc *r, struct hdr *hdrs, size_t *n, uint64_t num, struct err *e)
{
	struct rpc_block b;
	int rc;

	if ((rc = rpc_get_block_by_number(r, &b, num, e)))
		return rc;
	hdrs[*n].number = num;
	memcpy(hdrs[*n].hash, b.hash, 32);
	hdrs[*n].time = b.timestamp;
	(*n)++;
	return 0;
}

/*
 * The headers of the blocks with logs (their timestamps) and of *to, each hash checked against the logs
 * (ERR_STATE: a reorg during the round). With more blocks than IDX_HEADERS_MAX the batch is shortened
 * to what was read (*to moves back, later logs are dropped). *last: the header of *to.
 */
static int batch_headers(struct rpc *r, struct rpc_logs *logs, struct hdr *hdrs, size_t *n_hdrs, uint64_t *to,
			 const struct hdr **last, struct err *e)
{
	int rc;

	for (size_t i = 0; i <= logs->n; i++) {
		uint64_t num = i < logs->n ? logs->v[i].block_number : *to;
		const struct hdr *h = hdr_find(hdrs, *n_hdrs, num);
		if (!h) {
			if (*n_hdrs == IDX_HEADERS_MAX) {
				*to = num - 1;
				break;
			}
			if ((rc = header_fetch(r, hdrs, n_hdrs, num, e)))
				return rc;
			h = &hdrs[*n_hdrs - 1];
		}
		if (i < logs->n && memcmp(h->hash, logs->v[i].block_hash, 32) != 0)
			return err_set(e, ERR_STATE, "block %" PRIu64 " changed during the round (reorg)", num);
	}
	while (logs->n && logs->v[logs->n - 1].block_number > *to) {
		rpc_log_release(&logs->v[logs->n - 1]);
		logs->n--;
	}
	if (!(*last = hdr_find(hdrs, *n_hdrs, *to))) {
		if ((rc = header_fetch(r, hdrs, n_hdrs, *to, e)))
			return rc;
		*last = &hdrs[*n_hdrs - 1];
	}
	return 0;
}

/* The batch's events, block hashes and new progress (`last`), in one store transaction. */
static int batch_commit(struct server *s, const struct rpc_logs *logs, const struct hdr *hdrs, size_t n_hdrs,
			const struct hdr *last, struct cancel *cancels, size_t *n_cancels, uint64_t *n_new,
			struct err *e)
{
	struct store_indexer prog;
	char hash[STORE_HASH_SIZE];
	int rc;

	if ((rc = store_tx_begin(s->store, e)))
		return rc;
	rc = apply_batch(s, logs, hdrs, n_hdrs, cancels, n_cancels, n_new, e);
	for (size_t i = 0; i < n_hdrs && !rc; i++) {
		hash_text(hash, hdrs[i].hash);
		rc = store_block_put(s->store, s->cfg.chain_id, hdrs[i].number, hash, e);
	}
	if (!rc) {
		memset(&prog, 0, sizeof prog);
		prog.chain_id = s->cfg.chain_id;
		address_to_lower(prog.contract, &s->cfg.escrow);
		prog.block_number = last->number;
		hash_text(prog.block_hash, last->hash);
		prog.updated_at = server_now();
		rc = store_indexer_set(s->store, &prog, e);
	}
	if (!rc && last->number > IDX_BLOCK_WINDOW)
		rc = store_blocks_prune(s->store, NULL, s->cfg.chain_id, last->number - IDX_BLOCK_WINDOW, e);
	if (rc) {
		store_tx_rollback(s->store, NULL);
		return rc;
	}
	return store_tx_commit(s->store, e);
}

int indexer_step(struct server *s, struct rpc *r, bool *advanced, struct err *e)
{
	struct rpc_logs logs = { 0 };
	struct rpc_log_filter f;
	struct hdr *hdrs = NULL;
	struct cancel *cancels = NULL;
	const struct hdr *last = NULL;
	size_t n_hdrs = 0, n_cancels = 0;
	uint64_t from, to, n_new = 0;
	bool reorged;
	int rc;

	*advanced = false;
	if ((rc = next_range(s, r, &from, &to, &reorged, e)) || reorged) {
		*advanced = !rc && reorged;
		return rc;
	}
	if (from > to)
		return 0;
	memset(&f, 0, sizeof f);
	f.from_block = from;
	f.to_block = to;
	f.addresses = &s->cfg.escrow;
	f.n_addresses = 1;
	if ((rc = rpc_get_logs(r, &logs, &f, e)))
		return rc;
	hdrs = calloc(IDX_HEADERS_MAX + 1, sizeof *hdrs);
	cancels = calloc(IDX_CANCELS_MAX, sizeof *cancels);
	if (!hdrs || !cancels) {
		rc = err_set(e, ERR_NOMEM, "indexer batch");
		goto out;
	}
	if ((rc = batch_headers(r, &logs, hdrs, &n_hdrs, &to, &last, e)) ||
	    (rc = batch_commit(s, &logs, hdrs, n_hdrs, last, cancels, &n_cancels, &n_new, e)))
		goto out;
	*advanced = true;
	atomic_fetch_add(&s->metrics.events_indexed, n_new);
	if (n_cancels == IDX_TOUCHED_OVER) {
		listing_everything_changed(s); /* the janitor rebuilds it all within LISTING_REFRESH_MS */
	} else {
		for (size_t i = 0; i < n_cancels; i++)
			listing_provider_changed(s, cancels[i].provider);
		/* a rental opened or ended (which machines are free, the provider's record), an offer was
		 * cancelled: re-read here, so search follows the chain within one indexer round */
		offers_refresh_changed(s);
	}
	/* Announced (/healthz indexed_block) only now: a reader who saw block N indexed finds search already
	 * showing what its events changed (was stored before the re-read: a cancelled offer could still be
	 * found by a client that had just seen its block indexed). */
	atomic_store(&s->metrics.indexer_block, to);
	if (n_new) {
		log_info("indexed", "from=%" PRIu64 " to=%" PRIu64 " events=%" PRIu64, from, to, n_new);
	}
out:
	free(hdrs);
	free(cancels);
	rpc_logs_release(&logs);
	return rc;
}

void *indexer_main(void *arg)
{
	struct server *s = arg;
	struct rpc r;
	struct err e = { 0 };
	unsigned backoff = 0;

	if (rpc_init(&r, s->cfg.rpc_url, NULL, &e)) {
		log_error("indexer cannot start", "err=\"%s\"", e.msg);
		return NULL;
	}
	while (!atomic_load(&s->stopping)) {
		bool advanced = false;
		err_clear(&e);
		if (!replica_role(s, "indexer", &s->indexer_role)) {
			/* another replica indexes (replicas.c); keep this one's view of the rental ids fresh */
			atomic_store(&s->max_rental_id, server_find_max_rental(s));
			server_sleep(s, 1000);
			continue;
		}
		int rc = indexer_step(s, &r, &advanced, &e);
		atomic_fetch_add(&s->metrics.indexer_rounds, 1);
		if (rc) {
			char q[300];
			atomic_fetch_add(&s->metrics.indexer_errors, 1);
			log_warn("indexer round failed", "err=%s", log_quote(q, sizeof q, e.msg));
			backoff = backoff ? (backoff * 2 > 10000 ? 10000 : backoff * 2) : 250;
			server_sleep(s, backoff);
			continue;
		}
		backoff = 0;
		if (!advanced)
			server_sleep(s, s->cfg.indexer_poll_ms);
	}
	rpc_release(&r);
	return NULL;
}
