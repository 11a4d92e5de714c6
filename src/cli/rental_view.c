/*
 * rental_view.c — one rental's figures at a chain time (rental_view.h).
 */
#include "cli/rental_view.h"

#include "cli/format.h"
#include "core/err.h"
#include "escrow/mirror.h"

#include <string.h>

int rental_view_at(struct rental_view *out, const struct escrow_terms *t, const u256 *word, uint64_t now,
		   struct err *e)
{
	struct escrow_view v;
	struct escrow_quote q;
	int rc;

	memset(out, 0, sizeof *out);
	out->id = t->id;
	out->now = now;
	escrow_cost(&out->hourly, &t->rate, 3600, NULL);
	if (u256_is_zero(word)) {
		out->state = "closed";
		return 0;
	}
	if ((rc = escrow_state_view(&v, t, word, e)) || (rc = escrow_mirror_quote(&q, t, word, now, e)))
		return rc;
	out->active = v.phase == ESCROW_PHASE_ACTIVE;
	out->reclaimed = v.stop_at != 0;
	out->paid_until = v.paid_until;
	out->stop_at = v.stop_at;
	out->billed_secs = q.billed_secs;
	out->accrued = q.cost;
	out->deposited = v.deposited;
	out->held = q.held;
	out->refund_if_stopped = q.refund_if_stopped;
	if (!out->active) {
		out->state = v.phase == ESCROW_PHASE_ENDED ? "ended" : "disputed";
		return 0; /* what is left was refunded at the end or waits in `held`: nothing "remains" to spend */
	}
	out->ends_at = v.stop_at && v.stop_at < v.paid_until ? v.stop_at : v.paid_until;
	out->time_left_secs = out->ends_at > now ? out->ends_at - now : 0;
	if (u256_sub(&out->remaining, &v.deposited, &q.cost))
		out->remaining = u256_from_u64(0);
	if (now >= v.paid_until) {
		out->state = "paused";
		out->grace_left_secs = v.paid_until + t->grace_secs > now ? v.paid_until + t->grace_secs - now : 0;
	} else {
		out->state = "running";
	}
	return 0;
}

json_t *rental_view_json(const struct rental_view *v, const struct cli_token *tok)
{
	char token[ADDRESS_STR_MAX];
	json_t *j;

	address_to_checksum(token, &tok->address);
	j = json_pack("{s:I, s:s, s:b, s:b, s:I, s:s, s:s, s:i}", "rental_id", (json_int_t)v->id, "state", v->state,
		      "active", v->active, "reclaimed", v->reclaimed, "chain_time", (json_int_t)v->now, "token",
		      tok->native ? "native" : token, "symbol", tok->symbol, "decimals", (int)tok->decimals);
	if (!j)
		return NULL;
	json_object_set_new(j, "rate_per_hour", cli_json_units(&v->hourly));
	json_object_set_new(j, "billed_secs", json_integer((json_int_t)v->billed_secs));
	json_object_set_new(j, "accrued", cli_json_units(&v->accrued));
	json_object_set_new(j, "deposited", cli_json_units(&v->deposited));
	json_object_set_new(j, "remaining", cli_json_units(&v->remaining));
	json_object_set_new(j, "held", cli_json_units(&v->held));
	json_object_set_new(j, "refund_if_stopped", cli_json_units(&v->refund_if_stopped));
	json_object_set_new(j, "paid_until", json_integer((json_int_t)v->paid_until));
	json_object_set_new(j, "stop_at", json_integer((json_int_t)v->stop_at));
	json_object_set_new(j, "ends_at", json_integer((json_int_t)v->ends_at));
	json_object_set_new(j, "time_left_secs", json_integer((json_int_t)v->time_left_secs));
	json_object_set_new(j, "grace_left_secs", json_integer((json_int_t)v->grace_left_secs));
	return j;
}
