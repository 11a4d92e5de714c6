/*
 * offer_index.c — the search index of rentable offers and the rendered view each row holds.
 *
 * A row is an offer's search record (struct offer: host, GPUs, reputation, prices joined once) and its
 * public JSON view (src/server/view.h), rendered when the row is written: readers only copy bytes. Rows
 * are written by
 *  - a full rebuild (offers_reindex: startup, a reorg, and every LISTING_FULL_MS so reputation follows
 *    its sliding window), which reuses the old row's view when the record is unchanged, so it
 *    re-renders only what changed;
 *  - a provider refresh (offers_refresh_provider: a rental of theirs opened or ended, a rating, a probe,
 *    an access report, a host update, a heartbeat after being down, their host going stale, an
 *    on-chain cancel), which re-reads only that provider's offers;
 *  - a publish or a withdrawal (offers_index_put / offers_index_remove), before its answer is sent.
 * Every writer holds index_write_mu and bumps index_gen after its change, so a search answer cached for
 * an older generation is never served again (read-your-writes for the writer). A rebuild builds a new
 * index without the lock; writes made meanwhile go to the live index and into a journal (offer hashes,
 * provider addresses) that is replayed onto the new index, under the lock, right before the swap. A
 * journal that overflows cancels the swap (the janitor retries): the live index stayed right.
 *
 * Prices in views are per hour as the renter pays them: the renter pays exactly the signed rate (the
 * platform fee is taken from the provider's side, DESIGN.md), so the hourly price is
 * floor(rate * 3600 / 1e18) token units (what cost(3600) charges), and its USD value uses the
 * configured fixed token price. All amounts are decimal strings; USD has 6 decimals.
 */
#include "server/server.h"

#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "market/search.h"
#include "server/view.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "550.54.15" -> 550054015 (parts = 3), "12.4" -> 1204 (parts = 2); "" -> 0. */
static uint32_t version_num(const char *v, int parts)
{
	uint32_t p[3] = { 0, 0, 0 };
	int i = 0;

	if (!v[0])
		return 0;
	for (const char *c = v; *c && i < parts; c++) {
		if (*c == '.') {
			i++;
			continue;
		}
		if (*c < '0' || *c > '9')
			return 0;
		p[i] = p[i] * 10 + (uint32_t)(*c - '0');
		if (p[i] > 999)
			return 0;
	}
	if (parts == 3)
		return p[0] * 1000000u + p[1] * 1000u + p[2];
	return p[0] * 100u + (p[1] > 99 ? 99 : p[1]);
}

/* Hourly price the renter pays: floor(rate * 3600 / 1e18). */
static int rate_per_hour(u256 *out, const u256 *rate)
{
	u256 t = u256_from_u64(3600), scale = u256_from_u64(1000000000000000000ull), x;
	if (u256_mul(&x, rate, &t) || u256_divmod(&x, NULL, &x, &scale))
		return ERR_RANGE;
	*out = x;
	return 0;
}

struct gpu_pick {
	struct store_gpu first;
	uint32_t n;
	uint32_t min_vram;
};

static int gpu_pick_cb(void *ctx, const struct store_gpu *g)
{
	struct gpu_pick *p = ctx;
	if (p->n == 0) {
		p->first = *g;
		p->min_vram = g->vram_mib;
	}
	if (g->vram_mib < p->min_vram)
		p->min_vram = g->vram_mib;
	p->n++;
	return 0;
}

/* The record's host and GPU figures. */
static void record_machine(struct offer *o, const struct store_host *h, const struct gpu_pick *gp)
{
	o->machine_id = h->machine_id;
	snprintf(o->country, sizeof o->country, "%s", h->country[0] ? h->country : "ZZ");
	snprintf(o->region, sizeof o->region, "%s", h->region);
	o->net_up_mbps = h->net_up_mbps;
	o->net_down_mbps = h->net_down_mbps;
	o->cpu_cores = h->cpu_cores;
	o->ram_gib = h->ram_gib;
	o->disk_gib = h->disk_gib;
	o->driver_version = version_num(h->driver_version, 3);
	o->cuda_version = version_num(h->cuda_version, 2);
	snprintf(o->gpu_model, sizeof o->gpu_model, "%s", gp->first.model);
	o->vram_mib = gp->min_vram;
	o->num_gpus = gp->n;
	o->tflops32_milli = gp->first.fp32_mtflops;
	o->tflops16_milli = gp->first.fp16_mtflops;
	o->bandwidth_gbps = gp->first.mem_bw_gbps;
	o->verified = gp->first.bench_verified;
	o->simulated = h->simulated;
	snprintf(o->isolation, sizeof o->isolation, "%s", h->isolation[0] ? h->isolation : "account");
	snprintf(o->images, sizeof o->images, "%s", h->images);
	o->jupyter = h->jupyter;
}

/* A host and its GPUs as offer records use them, read once per machine while rows are written. */
struct machine_view {
	uint64_t id;             /* 0: nothing read yet */
	int rc;                  /* what reading it gave */
	struct store_host h;
	struct gpu_pick gp;
};

static int machine_load(struct server *s, struct machine_view *m, uint64_t machine_id, struct err *e)
{
	if (m->id == machine_id && machine_id != 0)
		return m->rc ? err_set(e, m->rc, "host %" PRIu64 ": unreadable", machine_id) : 0;
	memset(m, 0, sizeof *m);
	m->id = machine_id;
	if (!(m->rc = store_host_get(s->store, &m->h, machine_id, e)) &&
	    !(m->rc = store_gpus_list(s->store, machine_id, gpu_pick_cb, &m->gp, e)) && m->gp.n == 0)
		m->rc = err_set(e, ERR_STATE, "host %" PRIu64 " has no GPUs", machine_id);
	return m->rc;
}

/* offer_record, with the host read through m (NULL: read it here). */
static int record_build(struct server *s, struct offer *out, const struct store_offer *so,
			const struct reputation *rep, struct machine_view *m, struct err *e)
{
	struct offer o;
	struct machine_view *own = NULL;
	struct eth_address tok;
	const struct srv_token *t;
	u256 rate;
	int rc;

	memset(&o, 0, sizeof o);
	if ((rc = hex_decode_exact(o.id32, 32, so->offer_hash, e)) ||
	    (rc = hex_decode_exact(o.provider20, 20, so->provider, e)) ||
	    (rc = address_parse(&tok, so->token, e)) || (rc = u256_parse_dec(&rate, so->rate, e)))
		return rc;
	if (!m && !(m = own = calloc(1, sizeof *own)))
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = machine_load(s, m, so->machine_id, e);
	if (!rc)
		record_machine(&o, &m->h, &m->gp);
	free(own);
	if (rc)
		return rc;
	t = server_token(s, &tok);
	if (!t)
		return err_set(e, ERR_STATE, "token %s is not accepted", so->token);
	if (rate_per_hour(&o.rate_per_hour, &rate))
		return err_set(e, ERR_RANGE, "rate: too large");
	snprintf(o.token_symbol, sizeof o.token_symbol, "%s", t->symbol);
	o.token_decimals = t->decimals;
	o.fee_bps = s->cfg.fee_bps;
	o.token_usd_micro = t->usd_micro;
	o.reliability_bps = rep->reliability_bps;
	o.reliability_observed = rep->observed_s > 0;
	o.rentals_completed = rep->rentals_completed;
	o.rating_centi = rep->rating_centi;
	o.interruptible = so->interruptible;
	o.expires_at = so->expiry;
	if ((rc = offer_derive(&o, e)))
		return rc;
	*out = o;
	return 0;
}

int offer_record(struct server *s, struct offer *out, const struct store_offer *so, const struct reputation *rep,
		 struct err *e)
{
	return record_build(s, out, so, rep, NULL, e);
}

/* ---- JSON ---- */

static void usd_text(char *out, size_t cap, uint64_t micro)
{
	if (micro == OFFER_UNKNOWN)
		snprintf(out, cap, "unknown");
	else
		snprintf(out, cap, "%" PRIu64 ".%06" PRIu64, micro / 1000000, micro % 1000000);
}

json_t *signed_offer_json(const struct store_offer *so)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:I, s:I, s:I, s:s, s:I, s:s, s:I, s:I,"
			 " s:s}",
			 "provider", so->provider, "payout", so->payout, "token", so->token, "arbiter",
			 so->arbiter, "rate", so->rate, "minSecs", (json_int_t)so->min_secs, "maxSecs",
			 (json_int_t)so->max_secs, "interruptible", so->interruptible, "noticeSecs",
			 (json_int_t)so->notice_secs, "graceSecs", (json_int_t)so->grace_secs,
			 "disputeSecs", (json_int_t)so->dispute_secs, "specHash", so->spec_hash,
			 "expiry", (json_int_t)so->expiry, "nonce", so->nonce, "capacity",
			 (json_int_t)so->capacity, "maxFeeBps", (json_int_t)so->max_fee_bps, "monitor",
			 so->monitor);
}

/* "a,b" as ["a", "b"] (the default first). */
json_t *images_json(const char *images)
{
	json_t *a = json_array();

	for (const char *p = images; a && *p;) {
		size_t k = strcspn(p, ",");
		json_array_append_new(a, json_stringn(p, k));
		p += k;
		if (*p == ',')
			p++;
	}
	return a;
}

json_t *offer_json(const struct offer *o, const struct store_offer *so)
{
	char tok_h[U256_DEC_MAX + 2], usd[32], net[32], per_tflop[32], rph[U256_DEC_MAX];
	json_t *j;

	u256_to_dec(rph, &o->rate_per_hour);
	u256_format_units(tok_h, &o->rate_per_hour, o->token_decimals);
	usd_text(usd, sizeof usd, o->renter_usd_micro);
	usd_text(net, sizeof net, offer_provider_net_usd_micro(o));
	usd_text(per_tflop, sizeof per_tflop, o->per_tflop_usd_micro);
	j = json_pack("{s:s, s:s, s:o, s:s, s:s, s:i, s:i, s:I, s:I, s:i, s:b, s:b, s:s, s:s, s:s, s:s,"
		      " s:i, s:s, s:s, s:s, s:b, s:I, s:i, s:i, s:i, s:s, s:i, s:i, s:i, s:i, s:i}",
		      "offer_hash", so->offer_hash, "status", store_offer_status_name(so->status), "machine_id",
		      json_id(so->machine_id), "gpu", o->gpu_model, "country", o->country,
		      "num_gpus", (int)o->num_gpus, "vram_mib", (int)o->vram_mib, "tflops32_milli",
		      (json_int_t)o->tflops32_milli, "tflops16_milli", (json_int_t)o->tflops16_milli,
		      "bandwidth_gbps", (int)o->bandwidth_gbps, "verified", o->verified, "simulated",
		      o->simulated, "token_symbol", o->token_symbol, "token_per_hour", tok_h,
		      "token_units_per_hour", rph, "usd_per_hour", usd, "fee_bps", (int)o->fee_bps,
		      "provider_net_usd_per_hour", net, "usd_per_tflop_hour", per_tflop, "region",
		      o->region, "interruptible", o->interruptible, "expires_at",
		      (json_int_t)o->expires_at, "reliability_bps", (int)o->reliability_bps,
		      "rentals_completed", (int)o->rentals_completed, "rating_centi",
		      (int)o->rating_centi, "signature", so->signature,
		      "token_decimals", (int)o->token_decimals, "cpu_cores", (int)o->cpu_cores,
		      "ram_gib", (int)o->ram_gib, "disk_gib", (int)o->disk_gib, "net_down_mbps",
		      (int)o->net_down_mbps);
	if (j) {
		json_object_set_new(j, "created_at", json_integer(so->created_at));
		json_object_set_new(j, "net_up_mbps", json_integer(o->net_up_mbps));
		json_object_set_new(j, "cuda_version", json_integer(o->cuda_version));
		json_object_set_new(j, "driver_version", json_integer(o->driver_version));
		json_object_set_new(j, "offer", signed_offer_json(so));
		json_object_set_new(j, "reliability_observed", json_boolean(o->reliability_observed));
		json_object_set_new(j, "isolation", json_string(o->isolation[0] ? o->isolation : "account"));
		json_object_set_new(j, "images", images_json(o->images));
		json_object_set_new(j, "jupyter", json_boolean(o->jupyter));
	}
	return j;
}

/* ---- rows ---- */

static void view_retain_cb(void *v) { view_retain(v); }
static void view_release_cb(void *v) { view_release(v); }
static const struct search_payload_ops view_ops = { view_retain_cb, view_release_cb };

static int index_new(struct server *s, struct search_index **out, struct err *e)
{
	int rc = search_index_new(out, s->cfg.max_offers, e);
	if (!rc)
		search_index_set_payload_ops(*out, &view_ops);
	return rc;
}

/*
 * The view of rec: the one `reuse` holds for the same record (unchanged since it was rendered; *same
 * set), else a fresh rendering. NULL: no memory.
 */
static struct view *row_view(struct search_index *reuse, const struct offer *rec, const struct store_offer *so,
			     bool *same)
{
	struct offer old;
	void *p = NULL;
	json_t *j;
	struct view *v;

	*same = false;
	if (reuse && search_index_lookup(reuse, &old, &p, rec->id32, NULL) == 0 && p) {
		if (memcmp(&old, rec, sizeof old) == 0) {
			*same = true;
			return p;
		}
		view_release(p);
	}
	j = offer_json(rec, so);
	v = view_from_json(j);
	json_decref(j);
	return v;
}

/* The provider as search sees it, with its reputation (zero when it cannot be read). */
struct provider_view {
	struct listing_provider lp;
	struct reputation rep;
	struct machine_view m;   /* the last machine read */
};

static void provider_view_load(struct server *s, struct provider_view *pv, const char *provider, int64_t now)
{
	struct err e = { 0 };

	if (reputation_get(s, &pv->rep, provider, now, &e))
		memset(&pv->rep, 0, sizeof pv->rep);
	memset(&pv->m, 0, sizeof pv->m);
	if (listing_provider_load(s, &pv->lp, provider, now, &e))
		pv->lp.fresh = false;
}

/* Takes id's row out of ix; *changed when there was one. */
static void row_remove(struct search_index *ix, const uint8_t id[32], bool *changed)
{
	if (search_index_remove(ix, id, NULL) == 0)
		*changed = true;
}

/*
 * Writes one stored offer's row into ix: put (with its view, reused from `reuse` when unchanged) when it
 * is active and rentable, removed otherwise. *why: NULL when listed, else why not. *rec_out (optional)
 * gets the record. *changed is set when ix changed (a row rewritten identically in place is no change:
 * cached answers stay valid). 0, or the error of building the record (the row is then removed).
 */
static int row_write(struct server *s, struct search_index *ix, struct search_index *reuse,
		     struct provider_view *pv, const struct store_offer *so, const char **why,
		     struct offer *rec_out, bool *changed, struct err *e)
{
	struct offer rec;
	struct view *v;
	uint8_t id[32];
	bool same;
	int rc;

	if (hex_decode_exact(id, 32, so->offer_hash, e))
		return ERR_INVALID;
	*why = so->status != STORE_OFFER_ACTIVE ? store_offer_status_name(so->status) : NULL;
	if (!*why)
		listing_offer_visible(&pv->lp, so, why);
	if (*why && !rec_out) {
		row_remove(ix, id, changed);
		return 0;
	}
	if ((rc = record_build(s, &rec, so, &pv->rep, &pv->m, e))) {
		row_remove(ix, id, changed);
		return rc;
	}
	if (rec_out)
		*rec_out = rec;
	if (*why) {
		row_remove(ix, id, changed);
		return 0;
	}
	if (!(v = row_view(reuse, &rec, so, &same)))
		return err_set(e, ERR_NOMEM, "offer view: out of memory");
	if (same && reuse == ix) { /* already there, as it is */
		view_release(v);
		return 0;
	}
	if ((rc = search_index_put_payload(ix, &rec, v, e)))
		view_release(v);
	else
		*changed = true;
	return rc;
}

/* ---- full rebuild ---- */

struct reindex_ctx {
	struct server *s;
	struct search_index *ix, *old;
	char last_provider[STORE_ADDR_SIZE];
	struct provider_view pv;
	int64_t now;
	size_t ok, skipped, hidden;
};

static int reindex_cb(void *ctx, const struct store_offer *so)
{
	struct reindex_ctx *c = ctx;
	struct err e = { 0 };
	const char *why;

	if (strcmp(c->last_provider, so->provider) != 0) {
		provider_view_load(c->s, &c->pv, so->provider, c->now);
		listing_fresh_note(c->s, so->provider, c->pv.lp.fresh ? c->pv.lp.stale_at : 0);
		snprintf(c->last_provider, sizeof c->last_provider, "%s", so->provider);
	}
	bool changed = false;

	if (row_write(c->s, c->ix, c->old, &c->pv, so, &why, NULL, &changed, &e))
		c->skipped++;
	else if (why)
		c->hidden++;
	else
		c->ok++;
	return 0;
}

static void index_changed(struct server *s)
{
	atomic_fetch_add(&s->index_gen, 1);
}

static void journal_add(struct server *s, const char *key)
{
	if (!s->index_rebuilding)
		return;
	if (s->njournal == LISTING_JOURNAL_MAX) {
		s->journal_over = true;
		return;
	}
	snprintf(s->journal[s->njournal++], STORE_HASH_SIZE, "%s", key);
}

static int refresh_into(struct server *s, struct search_index *ix, const char *provider, int64_t now,
			bool *changed, struct err *e);

/* Replays the writes made during a rebuild onto its new index (index_write_mu held). */
static void journal_replay(struct server *s, struct search_index *ix, int64_t now)
{
	for (size_t i = 0; i < s->njournal; i++) {
		const char *key = s->journal[i];
		struct store_offer so;
		struct provider_view *pv;
		const char *why;

		if (strlen(key) == STORE_ADDR_SIZE - 1) {
			bool changed;
			refresh_into(s, ix, key, now, &changed, NULL);
			continue;
		}
		if (store_offer_get(s->store, &so, key, NULL) != 0 || !(pv = calloc(1, sizeof *pv)))
			continue;
		bool changed = false;
		provider_view_load(s, pv, so.provider, now);
		row_write(s, ix, NULL, pv, &so, &why, NULL, &changed, NULL);
		free(pv);
	}
}

int offers_reindex(struct server *s, struct err *e)
{
	struct reindex_ctx *c = calloc(1, sizeof *c); /* holds a listing_provider: too big for a stack */
	struct search_index *old;
	int rc;

	if (!c)
		return err_set(e, ERR_NOMEM, "reindex: out of memory");
	pthread_mutex_lock(&s->rebuild_mu);
	atomic_store(&s->index_dirty, false); /* a change from now on marks it again */
	pthread_mutex_lock(&s->index_write_mu);
	s->index_rebuilding = true;
	s->njournal = 0;
	s->journal_over = false;
	pthread_mutex_unlock(&s->index_write_mu);
	c->s = s;
	c->old = s->index; /* only a rebuild swaps it, and rebuild_mu is ours */
	c->now = server_now();
	if (!(rc = index_new(s, &c->ix, e)) &&
	    (rc = store_offers_active(s->store, c->now, reindex_cb, c, e))) {
		search_index_free(c->ix);
		c->ix = NULL;
	}
	pthread_mutex_lock(&s->index_write_mu);
	if (!rc && s->journal_over)
		rc = err_set(e, ERR_TOO_BIG, "reindex: more than %d writes during the rebuild; retried",
			     LISTING_JOURNAL_MAX);
	if (!rc) {
		journal_replay(s, c->ix, c->now);
		pthread_rwlock_wrlock(&s->index_lock);
		old = s->index;
		s->index = c->ix;
		pthread_rwlock_unlock(&s->index_lock);
		c->ix = old;
		index_changed(s);
		atomic_store(&s->index_built_at, c->now);
	}
	s->index_rebuilding = false;
	pthread_mutex_unlock(&s->index_write_mu);
	search_index_free(c->ix); /* the old index, or the failed new one */
	if (rc)
		atomic_store(&s->index_dirty, true);
	else
		log_debug("offer index rebuilt", "offers=%zu skipped=%zu hidden=%zu", c->ok, c->skipped,
			  c->hidden);
	pthread_mutex_unlock(&s->rebuild_mu);
	free(c);
	return rc;
}

/* ---- one provider ---- */

struct refresh_ctx {
	struct server *s;
	struct search_index *ix;
	struct provider_view pv;
	bool changed;
};

static int refresh_cb(void *ctx, const struct store_offer *so)
{
	struct refresh_ctx *c = ctx;
	const char *why;

	row_write(c->s, c->ix, c->ix, &c->pv, so, &why, NULL, &c->changed, NULL);
	return 0;
}

/* Rewrites every unexpired offer of provider in ix (index_write_mu held); *changed when ix changed. */
static int refresh_into(struct server *s, struct search_index *ix, const char *provider, int64_t now,
			bool *changed, struct err *e)
{
	struct refresh_ctx *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return err_set(e, ERR_NOMEM, "refresh: out of memory");
	c->s = s;
	c->ix = ix;
	provider_view_load(s, &c->pv, provider, now);
	rc = store_offers_of_provider(s->store, provider, now, refresh_cb, c, e);
	*changed = c->changed;
	listing_fresh_note(s, provider, c->pv.lp.fresh ? c->pv.lp.stale_at : 0);
	free(c);
	return rc;
}

int offers_refresh_provider(struct server *s, const char *provider, struct err *e)
{
	int rc;

	bool changed = false;

	pthread_mutex_lock(&s->index_write_mu);
	rc = refresh_into(s, s->index, provider, server_now(), &changed, e);
	journal_add(s, provider);
	if (changed) /* a re-read that found nothing new keeps cached answers valid */
		index_changed(s);
	pthread_mutex_unlock(&s->index_write_mu);
	return rc;
}

/* ---- publish and withdraw ---- */

int offers_index_put(struct server *s, const struct store_offer *so, struct offer *rec, const char **why,
		     struct err *e)
{
	struct provider_view *pv = calloc(1, sizeof *pv);
	int rc;

	if (!pv)
		return err_set(e, ERR_NOMEM, "out of memory");
	bool changed = false;

	pthread_mutex_lock(&s->index_write_mu);
	provider_view_load(s, pv, so->provider, server_now());
	rc = row_write(s, s->index, NULL, pv, so, why, rec, &changed, e);
	journal_add(s, so->offer_hash);
	index_changed(s);
	pthread_mutex_unlock(&s->index_write_mu);
	free(pv);
	if (!rc)
		listing_tell_replicas(s, so->provider); /* the other replicas list it too (replicas.c) */
	return rc;
}

void offers_refresh_changed(struct server *s)
{
	size_t n = 0;
	char (*todo)[STORE_ADDR_SIZE] = listing_changed_take(s, &n);

	for (size_t i = 0; i < n; i++) {
		struct err e = { 0 };
		if (offers_refresh_provider(s, todo[i], &e)) {
			log_warn("provider offers not re-read", "provider=%s err=%s", todo[i], e.msg);
			listing_mark_dirty(s); /* a full rebuild catches up */
		}
	}
	free(todo);
}

void offers_index_remove(struct server *s, const char *offer_hash)
{
	uint8_t id[32];

	if (hex_decode_exact(id, 32, offer_hash, NULL))
		return;
	pthread_mutex_lock(&s->index_write_mu);
	search_index_remove(s->index, id, NULL);
	journal_add(s, offer_hash);
	index_changed(s);
	pthread_mutex_unlock(&s->index_write_mu);
}

struct view *offers_view_of(struct server *s, const uint8_t id32[32], int64_t now)
{
	struct offer rec;
	void *p = NULL;

	pthread_rwlock_rdlock(&s->index_lock);
	if (search_index_lookup(s->index, &rec, &p, id32, NULL) == 0 && p && rec.expires_at <= now) {
		view_release(p); /* expired: the store says so; the janitor takes the row out */
		p = NULL;
	}
	pthread_rwlock_unlock(&s->index_lock);
	return p;
}
