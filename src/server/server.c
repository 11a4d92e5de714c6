/*
 * server.c — the marketplace server's lifecycle (the helpers every route shares are in common.c).
 *
 * server_start: open the store (migrating it), rebuild the search index from the store's active
 * offers, find the highest mirrored rental id, start the HTTP listener, then the workers: the chain
 * indexer and the uptime monitor (each with its own RPC client; both off without an rpc_url) and a
 * janitor (purges expired nonces and sessions, expires offers and rebuilds the index). server_stop sets
 * `stopping`, wakes every sleeper, stops the listener and joins the workers. Nothing is kept in memory
 * that the store does not have: a kill -9 at any instant loses only what was never acknowledged.
 */
#include "server/server.h"

#include "server/relayer.h"
#include "core/clock.h"

#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "market/search.h"
#include "market/siwe.h"
#include "server/pricefeed.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#define JANITOR_PERIOD_MS 30000

void srv_config_defaults(struct srv_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->listen_addr, sizeof c->listen_addr, "127.0.0.1");
	c->port = 8080;
	snprintf(c->db_url, sizeof c->db_url, "sqlite:flopmarket.db");
	c->confirmations = 2;
	c->batch_blocks = 2000;
	c->indexer_poll_ms = 1000;
	c->monitor_interval_ms = 30000;
	c->probe_timeout_ms = 3000;
	c->nonce_ttl_s = 600;
	c->session_ttl_s = 86400;
	c->body_max = SRV_BODY_MAX_DEFAULT;
	c->max_conns = 512;
	c->rate_per_min = 600;
	c->threads = 4;
	c->max_offers = 200000;
	c->min_dispute_secs = 0;
	c->offer_stale_s = 180; /* three missed agent heartbeats (60 s each) */
	c->feed_max_age_s = PRICEFEED_MAX_AGE_DEFAULT;
	c->relay_margin_pct = 25;
	c->relay_pending_max = 3;
	c->relay_hourly_max = 30;
	c->relay_min_deadline_s = 120;
	c->relay_poll_ms = 250;
}




/* ---- responses ---- */






/* ---- workers ---- */

/* What /healthz reports of the store, checked here once per janitor round instead of per request. */
static void health_check(struct server *s, int64_t now)
{
	int version = 0;
	bool ok = store_schema_version(s->store, &version, NULL) == 0;

	if (ok && store_shared(s->store) && !atomic_load(&s->indexer_role)) {
		/* another replica indexes: what it has stored is this replica's /healthz answer too */
		struct store_indexer p;
		char contract[STORE_ADDR_SIZE];
		address_to_lower(contract, &s->cfg.escrow);
		if (store_indexer_get(s->store, &p, s->cfg.chain_id, contract, NULL) == 0)
			atomic_store(&s->health_stored_block, p.block_number);
	}
	atomic_store(&s->health_schema, version);
	atomic_store(&s->health_ok, ok);
	atomic_store(&s->health_at, now);
}

static void *janitor_main(void *arg)
{
	struct server *s = arg;
	struct err e = { 0 };

	unsigned round = 0;

	while (!server_sleep(s, LISTING_REFRESH_MS)) {
		int64_t now = server_now();
		uint64_t n = 0;
		bool rebuild = listing_needs_rebuild(s, now) ||
			       now - atomic_load(&s->index_built_at) >= LISTING_FULL_MS / 1000;

		health_check(s, now);
		listing_fresh_sweep(s, now); /* hosts that went quiet: their offers leave search */
		offers_refresh_changed(s);
		if (++round * LISTING_REFRESH_MS >= JANITOR_PERIOD_MS) {
			round = 0;
			store_nonces_purge(s->store, NULL, now - 3600, &e);
			store_sessions_purge(s->store, NULL, now - 3600, &e);
			store_changes_purge(s->store, NULL, now - 3600, &e);
			/* expired rows need no rebuild: search and offer detail skip them by their expiry, and
			 * the next full rebuild (at most LISTING_FULL_MS away) drops them */
			store_offers_expire(s->store, &n, now, &e);
		}
		if (rebuild)
			offers_reindex(s, &e);
	}
	return NULL;
}

/* Highest mirrored rental id: ids are dense (1..M), found by galloping then bisecting. */
uint64_t server_find_max_rental(struct server *s)
{
	struct store_rental r;
	uint64_t lo = 0, hi = 1;

	while (hi < ((uint64_t)1 << 62) &&
	       store_rental_get(s->store, &r, s->cfg.chain_id, hi, NULL) == 0) {
		lo = hi;
		hi *= 2;
	}
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (store_rental_get(s->store, &r, s->cfg.chain_id, mid, NULL) == 0)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void metrics_init(struct srv_metrics *m)
{
	memset(m, 0, sizeof *m);
}

int server_start(struct server **out, const struct srv_config *cfg, struct err *e)
{
	struct server *s;
	int rc;

	if (sodium_init() < 0)
		return err_set(e, ERR_CRYPTO, "libsodium init failed");
	s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, "server");
	s->cfg = *cfg;
	s->started_at = server_now();
	metrics_init(&s->metrics);
	if ((rc = server_state_init(s, e)))
		goto fail;
	if ((rc = pricefeed_cache_new(&s->prices, PRICEFEED_CACHE_MAX, e)))
		goto fail;
	if ((rc = store_open(&s->store, cfg->db_url, e))) {
		err_wrap(e, "db_url");
		goto fail;
	}
	{
		/* replicas: this process's id in the change log, where it starts reading it (before the index
		 * is built from the store, so nothing logged in between is missed), the nonce key they share */
		uint8_t id[16];
		struct store_change none;
		size_t n;
		randombytes_buf(id, sizeof id);
		hex_encode(s->origin, id, sizeof id);
		if ((rc = store_changes_after(s->store, &none, 1, &n, &s->changes_seen, UINT64_MAX, e)) ||
		    (rc = store_secret(s->store, "nonce_key", s->nonce_key, e)))
			goto fail;
	}
	if ((rc = offers_reindex(s, e)))
		goto fail;
	health_check(s, server_now());
	atomic_store(&s->max_rental_id, server_find_max_rental(s));
	if (cfg->relay_on && ((rc = relayer_open(&s->relayer, s, e)) || (rc = relayer_start(s->relayer, e)))) {
		err_wrap(e, "relayer");
		goto fail;
	}
	if ((rc = http_glue_start(s, e)))
		goto fail;
	if (cfg->rpc_url[0]) {
		if (pthread_create(&s->indexer_thread, NULL, indexer_main, s) == 0)
			s->indexer_running = true;
		if (cfg->monitor_interval_ms &&
		    pthread_create(&s->monitor_thread, NULL, monitor_main, s) == 0)
			s->monitor_running = true;
	}
	if (pthread_create(&s->janitor_thread, NULL, janitor_main, s) == 0)
		s->janitor_running = true;
	if (store_shared(s->store) && pthread_create(&s->follower_thread, NULL, replica_follower_main, s) == 0)
		s->follower_running = true;
	log_info("server started", "port=%u chain_id=%" PRIu64 " offers=%zu", (unsigned)s->bound_port,
		 cfg->chain_id, search_index_count(s->index));
	*out = s;
	return 0;
fail:
	atomic_store(&s->stopping, true);
	server_free(s);
	return rc;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->wake_lock);
	atomic_store(&s->stopping, true);
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->wake_lock);
	http_glue_stop(s);
	if (s->indexer_running)
		pthread_join(s->indexer_thread, NULL);
	if (s->monitor_running)
		pthread_join(s->monitor_thread, NULL);
	if (s->follower_running)
		pthread_join(s->follower_thread, NULL);
	if (s->janitor_running)
		pthread_join(s->janitor_thread, NULL);
	relayer_stop(s->relayer);
	s->indexer_running = s->monitor_running = s->janitor_running = s->follower_running = false;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	server_stop(s);
	server_state_release(s);
	store_close(s->store);
	pricefeed_cache_free(s->prices);
	relayer_free(s->relayer);
	sodium_memzero(s->cfg.monitor_seckey, sizeof s->cfg.monitor_seckey);
	sodium_memzero(s->cfg.relay_seckey, sizeof s->cfg.relay_seckey);
	sodium_memzero(s->cfg.tls_key_pem, sizeof s->cfg.tls_key_pem);
	sodium_memzero(s->nonce_key, sizeof s->nonce_key);
	free(s);
}

int server_state_init(struct server *s, struct err *e)
{
	pthread_rwlock_init(&s->index_lock, NULL);
	pthread_mutex_init(&s->wake_lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_mutex_init(&s->rebuild_mu, NULL);
	pthread_mutex_init(&s->index_write_mu, NULL);
	pthread_mutex_init(&s->changed_mu, NULL);
	pthread_mutex_init(&s->fresh_mu, NULL);
	s->state_ready = true;
	s->journal = calloc(LISTING_JOURNAL_MAX, sizeof *s->journal);
	s->changed = calloc(LISTING_CHANGED_MAX, sizeof *s->changed);
	s->answers = view_cache_new(SRV_ANSWERS_CACHED, SRV_ANSWERS_BYTES);
	s->entities = view_cache_new(SRV_ENTITIES_CACHED, SRV_ENTITIES_BYTES);
	if (!s->journal || !s->changed || !s->answers || !s->entities)
		return err_set(e, ERR_NOMEM, "server state: out of memory");
	return web_state_init(s, e);
}

void server_state_release(struct server *s)
{
	if (!s->state_ready)
		return;
	search_index_free(s->index);
	s->index = NULL;
	view_cache_free(s->answers);
	view_cache_free(s->entities);
	web_state_release(s);
	free(s->journal);
	free(s->changed);
	listing_fresh_release(s);
	pthread_rwlock_destroy(&s->index_lock);
	pthread_mutex_destroy(&s->wake_lock);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->rebuild_mu);
	pthread_mutex_destroy(&s->index_write_mu);
	pthread_mutex_destroy(&s->changed_mu);
	pthread_mutex_destroy(&s->fresh_mu);
	s->state_ready = false;
}
