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
 * Changes that touch one provider (a rental of theirs opening or ending, a rating, a probe, an access
 * report, crossing the staleness line) queue the provider (listing_provider_changed): only their
 * offers are re-read and re-rendered, by the janitor within LISTING_REFRESH_MS or by the indexer right
 * after its batch. The staleness lines are kept per provider (listing_fresh_*: noted at each re-read
 * and heartbeat, swept by the janitor every LISTING_REFRESH_MS), so a host going down costs a re-read
 * of its own offers, never a rebuild of the whole index. A heartbeat after being down re-reads the
 * provider at once. That is the staleness of
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
#include "core/log.h"
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
	(void)now;
	return atomic_load(&s->index_dirty);
}

/* The slot of provider (holding it, or the empty one where it goes); fresh_mu held, table not full. */
static struct listing_fresh *fresh_slot(struct listing_fresh *t, size_t cap, const char *provider)
{
	size_t i = (size_t)view_hash(0, provider, strlen(provider)) & (cap - 1);
	while (t[i].address[0] && strcmp(t[i].address, provider) != 0)
		i = (i + 1) & (cap - 1);
	return &t[i];
}

/* Doubles the table (fresh_mu held). */
static int fresh_grow(struct server *s)
{
	size_t cap = s->fresh_cap ? s->fresh_cap * 2 : 256;
	struct listing_fresh *t = calloc(cap, sizeof *t);

	if (!t)
		return ERR_NOMEM;
	for (size_t i = 0; i < s->fresh_cap; i++)
		if (s->fresh[i].address[0])
			*fresh_slot(t, cap, s->fresh[i].address) = s->fresh[i];
	free(s->fresh);
	s->fresh = t;
	s->fresh_cap = cap;
	return 0;
}

int listing_fresh_note(struct server *s, const char *provider, int64_t stale_at)
{
	struct listing_fresh *f;
	int rc = 0;

	pthread_mutex_lock(&s->fresh_mu);
	if (2 * (s->nfresh + 1) > s->fresh_cap)
		rc = fresh_grow(s);
	if (!rc) {
		f = fresh_slot(s->fresh, s->fresh_cap, provider);
		if (!f->address[0]) {
			snprintf(f->address, sizeof f->address, "%s", provider);
			s->nfresh++;
		}
		f->stale_at = stale_at;
	}
	pthread_mutex_unlock(&s->fresh_mu);
	return rc;
}

size_t listing_fresh_sweep(struct server *s, int64_t now)
{
	size_t n = 0;

	pthread_mutex_lock(&s->fresh_mu);
	for (size_t i = 0; i < s->fresh_cap; i++) {
		struct listing_fresh *f = &s->fresh[i];
		if (!f->address[0] || f->stale_at == 0 || f->stale_at > now)
			continue;
		f->stale_at = 0; /* the re-read notes it again if a heartbeat came meanwhile */
		listing_provider_changed(s, f->address);
		n++;
	}
	pthread_mutex_unlock(&s->fresh_mu);
	return n;
}

void listing_fresh_release(struct server *s)
{
	free(s->fresh);
	s->fresh = NULL;
	s->nfresh = s->fresh_cap = 0;
}

size_t listing_provider_view_key(char out[LISTING_VIEW_KEY_MAX], const char *provider)
{
	int n = snprintf(out, LISTING_VIEW_KEY_MAX, "provider:%s", provider);
	return n > 0 && n < LISTING_VIEW_KEY_MAX ? (size_t)n : 0;
}

void listing_provider_view_drop(struct server *s, const char *provider)
{
	char key[LISTING_VIEW_KEY_MAX];
	size_t n = listing_provider_view_key(key, provider);

	if (s->entities && n)
		view_cache_drop(s->entities, key, n);
}

void listing_tell_replicas(struct server *s, const char *provider)
{
	struct err e = { 0 };

	if (!store_shared(s->store))
		return;
	if (store_change_note(s->store, provider, s->origin, server_now(), &e))
		log_warn("cannot log a change for the other replicas", "provider=%s err=\"%s\"", provider, e.msg);
}

void listing_provider_changed(struct server *s, const char *provider)
{
	listing_provider_changed_here(s, provider);
	listing_tell_replicas(s, provider);
}

void listing_everything_changed(struct server *s)
{
	listing_mark_dirty(s);
	listing_tell_replicas(s, "*");
}

void listing_provider_changed_here(struct server *s, const char *provider)
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
