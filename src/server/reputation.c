/*
 * reputation.c — a provider's reputation, computed from what the server observed and the chain
 * mirrored, never typed in:
 *   - uptime % over the last 30 days: the monitor's probes of the provider's rentals (target
 *     "provider:<address>"), each probe covering its period (store_uptime); 0 when nothing observed;
 *   - completed rentals: the provider's mirrored rentals that ended on chain (ended, resolved, closed;
 *     the latest STORE_LIST_MAX);
 *   - average rating: ratings by the renters of finished rentals (one per rental), as hundredths;
 *   - median response time: rental opened (block time) -> access granted (agent report).
 */
#include "server/server.h"

#include "core/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void reputation_provider_target(char *out, const char *provider)
{
	snprintf(out, STORE_TARGET_SIZE, "provider:%s", provider);
}

void reputation_rental_target(char *out, uint64_t chain_id, uint64_t rental_id)
{
	snprintf(out, STORE_TARGET_SIZE, "rental:%" PRIu64 ":%" PRIu64, chain_id, rental_id);
}

struct count_ctx {
	uint32_t total, done;
};

static int count_cb(void *ctx, const struct store_rental *r)
{
	struct count_ctx *c = ctx;
	c->total++;
	if (r->state != STORE_RENTAL_OPEN && r->state != STORE_RENTAL_DISPUTED)
		c->done++;
	return 0;
}

int reputation_get(struct server *s, struct reputation *out, const char *provider, int64_t now,
		   struct err *e)
{
	struct reputation r;
	struct count_ctx c = { 0, 0 };
	char target[STORE_TARGET_SIZE];
	uint64_t stars = 0;
	int rc;

	memset(&r, 0, sizeof r);
	reputation_provider_target(target, provider);
	if ((rc = store_uptime(s->store, &r.up_s, &r.observed_s, target, now - REPUTATION_WINDOW_S, now, e)))
		return rc;
	r.reliability_bps = r.observed_s ? (uint16_t)(r.up_s * 10000 / r.observed_s) : 0;
	if ((rc = store_rentals_by_provider(s->store, s->cfg.chain_id, provider, STORE_LIST_MAX, count_cb,
					    &c, e)))
		return rc;
	r.rentals_total = c.total;
	r.rentals_completed = c.done;
	if ((rc = store_provider_ratings(s->store, &r.ratings, &stars, s->cfg.chain_id, provider, e)))
		return rc;
	r.rating_centi = r.ratings ? (uint16_t)(stars * 100 / r.ratings) : 0;
	if ((rc = store_provider_response_median(s->store, &r.response_median_s, &r.responses,
						 s->cfg.chain_id, provider, e)))
		return rc;
	if (!r.responses)
		r.response_median_s = -1;
	*out = r;
	return 0;
}

json_t *reputation_json(const struct reputation *r)
{
	json_t *o = json_pack("{s:I, s:I, s:i, s:i, s:i, s:I, s:i}", "uptime_up_s", (json_int_t)r->up_s,
			      "uptime_observed_s", (json_int_t)r->observed_s, "reliability_bps",
			      (int)r->reliability_bps, "rentals_completed", (int)r->rentals_completed,
			      "rentals_total", (int)r->rentals_total, "ratings", (json_int_t)r->ratings,
			      "rating_centi", (int)r->rating_centi);
	if (o)
		json_object_set_new(o, "response_median_s",
				    r->response_median_s < 0 ? json_null() : json_integer(r->response_median_s));
	return o;
}
