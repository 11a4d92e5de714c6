/*
 * server.c — the marketplace server's lifecycle and the helpers every route shares.
 *
 * server_start: open the store (migrating it), rebuild the search index from the store's active
 * offers, find the highest mirrored rental id, start the HTTP listener, then the workers: the chain
 * indexer and the uptime monitor (each with its own RPC client; both off without an rpc_url) and a
 * janitor (purges expired nonces and sessions, expires offers and rebuilds the index). server_stop sets
 * `stopping`, wakes every sleeper, stops the listener and joins the workers. Nothing is kept in memory
 * that the store does not have: a kill -9 at any instant loses only what was never acknowledged.
 */
#include "server/server.h"
#include "core/clock.h"

#include "core/err.h"
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
}

int64_t server_now(void)
{
	return (int64_t)time(NULL);
}

bool server_sleep(struct server *s, unsigned ms)
{
	struct timespec ts;

	ts = clock_deadline(CLOCK_REALTIME, ms);
	pthread_mutex_lock(&s->wake_lock);
	while (!atomic_load(&s->stopping)) {
		if (pthread_cond_timedwait(&s->wake, &s->wake_lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&s->wake_lock);
	return atomic_load(&s->stopping);
}

const struct srv_token *server_token(const struct server *s, const struct eth_address *a)
{
	for (size_t i = 0; i < s->cfg.n_tokens; i++)
		if (address_equal(&s->cfg.tokens[i].address, a))
			return &s->cfg.tokens[i];
	return NULL;
}

/* ---- responses ---- */

int srv_json(struct srv_resp *rs, int status, json_t *json)
{
	json_decref(rs->json);
	rs->json = json;
	rs->status = json ? status : 500;
	return rs->status;
}

int srv_error(struct srv_resp *rs, int status, const char *code, const char *field,
	      const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *err, *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	free(rs->text);
	rs->text = NULL;
	err = json_pack("{s:s, s:s}", "code", code, "message", msg);
	if (err && field && field[0])
		json_object_set_new(err, "field", json_string(field));
	o = err ? json_pack("{s:o}", "error", err) : NULL;
	srv_json(rs, status, o);
	return status;
}

int srv_error_from(struct srv_resp *rs, int code, const char *field, const struct err *e)
{
	const char *msg = e && e->msg[0] ? e->msg : err_str(code);
	switch (code) {
	case ERR_INVALID: case ERR_RANGE: case ERR_CHECKSUM: case ERR_NONCANONICAL: case ERR_DEPTH:
		return srv_error(rs, 400, "invalid", field, "%s", msg);
	case ERR_TOO_BIG:
		return srv_error(rs, 413, "too_big", field, "%s", msg);
	case ERR_AUTH:
		return srv_error(rs, 401, "unauthorized", field, "%s", msg);
	case ERR_NOT_FOUND:
		return srv_error(rs, 404, "not_found", field, "%s", msg);
	case ERR_CONFLICT:
		return srv_error(rs, 409, "conflict", field, "%s", msg);
	case ERR_STATE:
		return srv_error(rs, 409, "state", field, "%s", msg);
	case ERR_UNSUPPORTED:
		return srv_error(rs, 501, "unsupported", field, "%s", msg);
	case ERR_NET: case ERR_RPC: case ERR_TIMEOUT:
		return srv_error(rs, 503, "unavailable", field, "%s", msg);
	default:
		log_error("internal error", "code=%s", err_name(code));
		return srv_error(rs, 500, "internal", field, "internal error");
	}
}

int srv_body_object(json_t **out, const struct srv_req *rq, struct srv_resp *rs)
{
	struct err e = { 0 };
	json_t *j = NULL;
	int rc;

	if (rq->body_len == 0)
		return srv_error(rs, 400, "invalid", "body", "a JSON object body is required");
	rc = json_parse(&j, rq->body, rq->body_len, SRV_BODY_MAX_DEFAULT * 16, &e);
	if (rc)
		return srv_error(rs, rc == ERR_TOO_BIG ? 413 : 400, rc == ERR_TOO_BIG ? "too_big" :
				 "invalid_json", "body", "malformed JSON: %s", e.msg);
	if (!json_is_object(j)) {
		json_decref(j);
		return srv_error(rs, 400, "invalid_json", "body", "the body must be a JSON object");
	}
	*out = j;
	return 0;
}

int srv_auth(char *addr_out, struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct store_session sess;
	struct err e = { 0 };
	int rc;

	if (!rq->bearer || !rq->bearer[0])
		return srv_error(rs, 401, "unauthorized", "authorization",
				 "sign in first: Authorization: Bearer <session token>");
	/* the store hashes the token and owns its length limits (one place: store.c token_hash) */
	rc = store_session_lookup(s->store, &sess, (const uint8_t *)rq->bearer, strlen(rq->bearer), server_now(),
				  &e);
	if (rc == ERR_NOT_FOUND || rc == ERR_INVALID || rc == ERR_TOO_BIG)
		return srv_error(rs, 401, "unauthorized", "authorization", "unknown session");
	if (rc == ERR_STATE)
		return srv_error(rs, 401, "session_expired", "authorization", "the session expired");
	if (rc)
		return srv_error_from(rs, rc, "authorization", &e);
	memcpy(addr_out, sess.address, STORE_ADDR_SIZE);
	return 0;
}

/* ---- workers ---- */

static void *janitor_main(void *arg)
{
	struct server *s = arg;
	struct err e = { 0 };

	unsigned round = 0;

	while (!server_sleep(s, LISTING_REFRESH_MS)) {
		int64_t now = server_now();
		uint64_t n = 0;
		bool rebuild = listing_needs_rebuild(s, now);
		if (++round * LISTING_REFRESH_MS >= JANITOR_PERIOD_MS) {
			round = 0;
			store_nonces_purge(s->store, NULL, now - 3600, &e);
			store_sessions_purge(s->store, NULL, now - 3600, &e);
			if (store_offers_expire(s->store, &n, now, &e) == 0 && n > 0)
				rebuild = true;
		}
		if (rebuild)
			offers_reindex(s, &e);
	}
	return NULL;
}

/* Highest mirrored rental id: ids are dense (1..M), found by galloping then bisecting. */
static uint64_t find_max_rental(struct server *s)
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
	randombytes_buf(s->nonce_key, sizeof s->nonce_key);
	metrics_init(&s->metrics);
	pthread_rwlock_init(&s->index_lock, NULL);
	pthread_mutex_init(&s->wake_lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	if ((rc = pricefeed_cache_new(&s->prices, PRICEFEED_CACHE_MAX, e)))
		goto fail;
	if ((rc = store_open(&s->store, cfg->db_url, e))) {
		err_wrap(e, "db_url");
		goto fail;
	}
	if ((rc = offers_reindex(s, e)))
		goto fail;
	atomic_store(&s->max_rental_id, find_max_rental(s));
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
	if (s->janitor_running)
		pthread_join(s->janitor_thread, NULL);
	s->indexer_running = s->monitor_running = s->janitor_running = false;
}

void server_free(struct server *s)
{
	if (!s)
		return;
	server_stop(s);
	search_index_free(s->index);
	store_close(s->store);
	pricefeed_cache_free(s->prices);
	sodium_memzero(s->cfg.monitor_seckey, sizeof s->cfg.monitor_seckey);
	sodium_memzero(s->nonce_key, sizeof s->nonce_key);
	pthread_rwlock_destroy(&s->index_lock);
	pthread_mutex_destroy(&s->wake_lock);
	pthread_cond_destroy(&s->wake);
	free(s);
}
