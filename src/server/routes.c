/*
 * routes.c — the route table, dispatch, and the operational routes: GET /healthz and GET /metrics
 * (Prometheus text exposition format 0.0.4).
 *
 * A pattern is a path whose segments are literals or `{arg}` (one non-empty segment, handed to the
 * route as rq->arg). The HTTP layer (http_glue.c) registers the same table with src/net/http.h;
 * srv_dispatch matches it in process (unit tests): another method answers 405, no match 404.
 * /metrics renders the HTTP layer's registry (requests, latencies, connections, rate limiting) with
 * the application gauges added: indexer head/block/lag/errors/reorgs, open rentals, offers, probes.
 */
#include "server/server.h"

#include "core/err.h"
#include "market/search.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "net/http.h"
#include "net/metrics.h"

#define ROUTE_ARG_MAX 1024

const struct srv_route srv_routes[] = {
	{ SRV_GET, "GET", "/", route_web_index },
	{ SRV_GET, "GET", "/assets/{arg}", route_web_asset },
	{ SRV_GET, "GET", "/config", route_config },
	{ SRV_GET, "GET", "/healthz", route_healthz },
	{ SRV_GET, "GET", "/metrics", route_metrics },
	{ SRV_GET, "GET", "/auth/nonce", route_auth_nonce },
	{ SRV_POST, "POST", "/auth/siwe", route_auth_siwe },
	{ SRV_POST, "POST", "/auth/logout", route_auth_logout },
	{ SRV_GET, "GET", "/me", route_me },
	{ SRV_GET, "GET", "/me/rentals", route_me_rentals },
	{ SRV_GET, "GET", "/me/receipts.csv", route_me_receipts_csv },
	{ SRV_GET, "GET", "/me/offers", route_me_offers },
	{ SRV_POST, "POST", "/offers", route_offers_post },
	{ SRV_GET, "GET", "/offers", route_offers_search },
	{ SRV_GET, "GET", "/offers/{arg}", route_offer_get },
	{ SRV_DELETE, "DELETE", "/offers/{arg}", route_offer_delete },
	{ SRV_POST, "POST", "/hosts", route_hosts_post },
	{ SRV_GET, "GET", "/hosts/{arg}", route_host_get },
	{ SRV_POST, "POST", "/providers/heartbeat", route_heartbeat },
	{ SRV_GET, "GET", "/providers/{arg}", route_provider_get },
	{ SRV_GET, "GET", "/rentals/{arg}", route_rental_get },
	{ SRV_GET, "GET", "/rentals/{arg}/receipt", route_rental_receipt },
	{ SRV_GET, "GET", "/rentals/{arg}/stream", route_rental_stream },
	{ SRV_POST, "POST", "/rentals/{arg}/rating", route_rental_rating },
	{ SRV_POST, "POST", "/rentals/{arg}/access", route_rental_access },
	{ SRV_POST, "POST", "/rentals/{arg}/attestation", route_rental_attestation },
	{ SRV_GET, "GET", "/relay", route_relay_info },
	{ SRV_POST, "POST", "/relay/intents", route_relay_post },
	{ SRV_GET, "GET", "/relay/intents/{arg}", route_relay_get },
};
const size_t srv_route_count = sizeof srv_routes / sizeof srv_routes[0];

void srv_dispatch(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char scratch[2 * HTTP_PATH_MAX + 2];
	bool path_known = false;

	for (size_t i = 0; i < srv_route_count; i++) {
		struct http_kv kv[HTTP_PARAMS_MAX];
		size_t nkv = 0;
		/* net/http's matcher: what the unit tests dispatch is what ships */
		if (!http_path_match(srv_routes[i].pattern, rq->path, kv, HTTP_PARAMS_MAX, &nkv, scratch, sizeof scratch))
			continue;
		if (nkv && strlen(kv[0].value) > ROUTE_ARG_MAX)
			continue;
		const char *arg = nkv ? kv[0].value : "";
		path_known = true;
		if (srv_routes[i].method != rq->method)
			continue;
		struct srv_req r2 = *rq;
		r2.arg = arg;
		srv_routes[i].fn(s, &r2, rs);
		if (!rs->json && !rs->text && !rs->stream && !rs->view && rs->status != 304)
			srv_error(rs, 500, "internal", NULL, "no answer");
		return;
	}
	if (path_known)
		srv_error(rs, 405, "method_not_allowed", NULL, "method not allowed on this path");
	else
		srv_error(rs, 404, "not_found", NULL, "no such route");
}

void srv_resp_release(struct srv_resp *rs)
{
	json_decref(rs->json);
	rs->json = NULL;
	free(rs->text);
	rs->text = NULL;
	view_release(rs->view);
	rs->view = NULL;
	if (rs->stream_ctx && rs->stream_free)
		rs->stream_free(rs->stream_ctx);
	rs->stream_ctx = NULL;
}

/* ---- metrics ---- */

static void gauge(struct metrics *m, const char *name, const char *help, double v)
{
	metrics_gauge_set(m, name, help, NULL, v);
}

int route_metrics(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct srv_metrics *m = &s->metrics;
	struct metrics *reg = s->http ? http_server_metrics(s->http) : NULL;
	struct metrics *own = NULL;
	struct buf b;
	uint64_t head = atomic_load(&m->indexer_head), blk = atomic_load(&m->indexer_block);
	uint64_t open = 0, max = atomic_load(&s->max_rental_id);
	(void)rq;

	for (uint64_t id = max; id >= 1 && id + 10000 > max; id--) {
		struct store_rental r;
		if (store_rental_get(s->store, &r, s->cfg.chain_id, id, NULL) == 0 &&
		    r.state == STORE_RENTAL_OPEN)
			open++;
	}
	atomic_store(&m->rentals_open, open);
	if (!reg) {
		if (metrics_new(&own, NULL))
			return srv_error(rs, 500, "internal", NULL, "out of memory");
		reg = own;
	}
	gauge(reg, "flop_indexer_head_block", "Chain head seen by the indexer.", (double)head);
	gauge(reg, "flop_indexer_block", "Last indexed block.", (double)blk);
	gauge(reg, "flop_indexer_lag_blocks", "Chain head minus the last indexed block.",
	      (double)(head > blk ? head - blk : 0));
	gauge(reg, "flop_indexer_rounds", "Indexer rounds run.", (double)atomic_load(&m->indexer_rounds));
	gauge(reg, "flop_indexer_errors", "Indexer rounds failed.", (double)atomic_load(&m->indexer_errors));
	gauge(reg, "flop_indexer_reorgs", "Reorgs rolled back.", (double)atomic_load(&m->indexer_reorgs));
	gauge(reg, "flop_indexer_events", "Escrow events journalled by this process.",
	      (double)atomic_load(&m->events_indexed));
	gauge(reg, "flop_rentals_open", "Open rentals (latest 10000 ids).", (double)open);
	pthread_rwlock_rdlock(&s->index_lock);
	size_t n_offers = search_index_count(s->index), ix_bytes = search_index_bytes(s->index);
	pthread_rwlock_unlock(&s->index_lock);
	size_t views = view_bytes_live(), ans_n, ans_b, ent_n, ent_b;
	view_cache_stats(s->answers, &ans_n, &ans_b);
	view_cache_stats(s->entities, &ent_n, &ent_b);
	gauge(reg, "flop_offers_indexed", "Offers in the search index.", (double)n_offers);
	gauge(reg, "flop_offer_index_bytes", "Bytes of the search index (rows, columns, id table, strings).",
	      (double)ix_bytes);
	gauge(reg, "flop_views_bytes", "Bytes of all rendered views (offer views, cached answers, gzip copies).",
	      (double)views);
	size_t cached = ans_b + ent_b, offer_views = views > cached ? views - cached : 0;
	gauge(reg, "flop_offer_bytes_per_offer",
	      "Index bytes and offer-view bytes (all views less the two caches) per indexed offer.",
	      n_offers ? (double)(ix_bytes + offer_views) / (double)n_offers : 0);
	gauge(reg, "flop_answers_cached", "Search answers in the answer cache.", (double)ans_n);
	gauge(reg, "flop_answers_cached_bytes", "Bytes of the answer cache.", (double)ans_b);
	gauge(reg, "flop_entity_views_cached", "Host and provider views cached.", (double)ent_n);
	gauge(reg, "flop_index_generation", "Changes of the search index since start.",
	      (double)atomic_load(&s->index_gen));
	gauge(reg, "flop_probes_ok", "Successful uptime probes.", (double)atomic_load(&m->probes_ok));
	gauge(reg, "flop_probes_failed", "Failed uptime probes.", (double)atomic_load(&m->probes_failed));
	buf_init(&b, HTTP_RESP_MAX);
	if (metrics_render(reg, &b) || !b.data) {
		buf_release(&b);
		metrics_free(own);
		return srv_error(rs, 500, "internal", NULL, "metrics");
	}
	metrics_free(own);
	rs->text_len = b.len;
	rs->text = (char *)buf_detach(&b, NULL);
	rs->content_type = "text/plain; version=0.0.4";
	rs->status = rs->text ? 200 : 500;
	return rs->status;
}

/*
 * GET /healthz. The store is checked by the janitor once per LISTING_REFRESH_MS (health_check in
 * server.c), not per request: a probe storm costs no store query. When that check is older than
 * HEALTH_MAX_AGE_S (the janitor is stuck) it is made here.
 */
#define HEALTH_MAX_AGE_S 5

int route_healthz(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	int version = atomic_load(&s->health_schema);
	struct err e = { 0 };
	uint64_t head = atomic_load(&s->metrics.indexer_head), blk = atomic_load(&s->metrics.indexer_block);
	int64_t now = server_now(), checked = atomic_load(&s->health_at);
	char text[256];
	int n;
	(void)rq;

	if (now - checked > HEALTH_MAX_AGE_S || !atomic_load(&s->health_ok)) {
		if (store_schema_version(s->store, &version, &e))
			return srv_error(rs, 503, "unavailable", "store", "store: %s", e.msg);
		checked = now;
	}
	bool indexing = s->indexer_running && atomic_load(&s->indexer_role);
	if (s->indexer_running && !indexing && store_shared(s->store))
		blk = atomic_load(&s->health_stored_block); /* another replica's, read by the janitor's check */
	n = snprintf(text, sizeof text,
		     "{\"status\":\"ok\",\"schema_version\":%d,\"chain_id\":%" PRIu64 ",\"indexed_block\":%" PRIu64
		     ",\"head_block\":%" PRIu64 ",\"uptime_s\":%" PRId64 ",\"indexer\":%s,\"store_checked_at\":%" PRId64
		     "}",
		     version, s->cfg.chain_id, blk, head, now - s->started_at, indexing ? "true" : "false",
		     checked);
	if (n < 0 || (size_t)n >= sizeof text || !(rs->text = strdup(text)))
		return srv_error(rs, 500, "internal", NULL, "out of memory");
	rs->text_len = (size_t)n;
	rs->content_type = "application/json";
	rs->status = 200;
	return 200;
}
