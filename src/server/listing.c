/*
 * listing.c — which signed, unexpired offers search shows: only those a renter can actually rent now.
 *
 * An offer stays out of search (it is kept in the store and comes back by itself) while
 *  - its provider's agent has sent no heartbeat for `offer_stale_s` seconds (host down: a renter would
 *    pay and get no access), or
 *  - its machine (provider, specHash) already has `capacity` live rentals: the escrow would refuse the
 *    open with OfferFull (issue 8.2: one GPU is never rented twice; the chain enforces it, search
 *    stops offering it).
 * Live rentals are the mirrored rentals in state "open" (not yet ended on chain) of the provider, the
 * newest LISTING_RENTALS_SCAN of them, with the machine read from their Terms (specHash).
 * The index is rebuilt when a rental opens or ends (the indexer marks it dirty), when a provider crosses
 * the staleness line (the earliest crossing is kept in s->index_stale_at), and when a stale provider
 * sends a heartbeat again; the janitor does the rebuild within LISTING_REFRESH_MS.
 *
 * Changes that touch one provider (a rental of theirs, a rating, a probe, an access report) queue the
 * provider instead (listing_provider_changed): only their offers are re-read and re-rendered, by the
 * janitor within LISTING_REFRESH_MS or by the indexer right after its batch. That is the staleness of
 * reputation in search and offer views: at most LISTING_REFRESH_MS after the change was stored (plus
 * the re-read itself); token prices are the operator's fixed --token-usd figures and change only with a
 * restart.
 */
#include "server/server.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/escrow.h"

struct load_ctx {
	struct listing_provider *p;
};

static int add_live(struct listing_provider *p, const uint8_t spec[32])
{
	for (size_t i = 0; i < p->n; i++)
		if (memcmp(p->machines[i].spec, spec, 32) == 0) {
			p->machines[i].live++;
			return 0;
		}
	if (p->n == LISTING_MACHINES_MAX)
		return 0; /* more machines than tracked: those beyond stay listed; the escrow still refuses */
	memcpy(p->machines[p->n].spec, spec, 32);
	p->machines[p->n].live = 1;
	p->n++;
	return 0;
}

static int live_cb(void *ctx, const struct store_rental *r)
{
	struct listing_provider *p = ctx;
	struct escrow_terms t;
	uint8_t enc[ESCROW_TERMS_SIZE];
	const char *terms_hex;
	json_t *extra = NULL;

	if (r->state != STORE_RENTAL_OPEN)
		return 0;
	if (json_parse(&extra, r->extra, strlen(r->extra), STORE_JSON_SIZE, NULL) == 0 &&
	    json_get_str(&terms_hex, extra, "terms", 2 * ESCROW_TERMS_SIZE + 2, NULL) == 0 &&
	    hex_decode_exact(enc, sizeof enc, terms_hex, NULL) == 0 &&
	    escrow_terms_decode(&t, enc, sizeof enc, NULL) == 0)
		add_live(p, t.spec_hash);
	json_decref(extra);
	return 0;
}

int listing_provider_load(struct server *s, struct listing_provider *out, const char *provider, int64_t now,
			  struct err *e)
{
	struct store_provider sp;
	int rc;

	memset(out, 0, sizeof *out);
	snprintf(out->address, sizeof out->address, "%s", provider);
	rc = store_provider_get(s->store, &sp, provider, e);
	if (rc == ERR_NOT_FOUND) {
		out->fresh = false;
		return 0;
	}
	if (rc)
		return rc;
	out->stale_at = sp.last_heartbeat + (int64_t)s->cfg.offer_stale_s;
	out->fresh = now < out->stale_at;
	return store_rentals_by_provider(s->store, s->cfg.chain_id, provider, LISTING_RENTALS_SCAN, live_cb, out,
					 e);
}

bool listing_offer_visible(const struct listing_provider *p, const struct store_offer *so, const char **why)
{
	uint8_t spec[32];

	if (!p->fresh) {
		*why = "host_down";
		return false;
	}
	if (hex_decode_exact(spec, 32, so->spec_hash, NULL) == 0)
		for (size_t i = 0; i < p->n; i++)
			if (memcmp(p->machines[i].spec, spec, 32) == 0 && p->machines[i].live >= so->capacity) {
				*why = "rented";
				return false;
			}
	*why = NULL;
	return true;
}

void listing_mark_dirty(struct server *s)
{
	atomic_store(&s->index_dirty, true);
}

bool listing_needs_rebuild(struct server *s, int64_t now)
{
	int64_t at = atomic_load(&s->index_stale_at);
	return atomic_load(&s->index_dirty) || (at != 0 && now >= at);
}

void listing_provider_view_drop(struct server *s, const char *provider)
{
	char key[STORE_ADDR_SIZE + 16];
	int n = snprintf(key, sizeof key, "provider:%s", provider);

	if (s->entities)
		view_cache_drop(s->entities, key, (size_t)n);
}

void listing_provider_changed(struct server *s, const char *provider)
{
	bool queued = false;

	listing_provider_view_drop(s, provider);
	pthread_mutex_lock(&s->changed_mu);
	for (size_t i = 0; i < s->nchanged && !queued; i++)
		queued = strcmp(s->changed[i], provider) == 0;
	if (!queued && s->nchanged < LISTING_CHANGED_MAX)
		snprintf(s->changed[s->nchanged++], STORE_ADDR_SIZE, "%s", provider);
	else if (!queued)
		listing_mark_dirty(s); /* too many at once: one full rebuild covers them all */
	pthread_mutex_unlock(&s->changed_mu);
}

char (*listing_changed_take(struct server *s, size_t *n))[STORE_ADDR_SIZE]
{
	char (*todo)[STORE_ADDR_SIZE] = NULL;

	pthread_mutex_lock(&s->changed_mu);
	*n = s->nchanged;
	if (*n && (todo = malloc(*n * sizeof *todo))) {
		memcpy(todo, s->changed, *n * sizeof *todo);
		s->nchanged = 0;
	} else {
		*n = 0;
	}
	pthread_mutex_unlock(&s->changed_mu);
	return todo;
}
