/*
 * rental_view.h — one rental's figures at a chain time, from the escrow's state word (mirror.h), as
 * `status` shows them: one state name for the list and the detail, the money in token units, the
 * times in chain seconds; and the same as the JSON object `status --json` prints (docs/cli.md).
 */
#ifndef FLOP_CLI_RENTAL_VIEW_H
#define FLOP_CLI_RENTAL_VIEW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/session.h"
#include "escrow/escrow.h"

struct rental_view {
	uint64_t id;
	const char *state;          /* "running", "paused", "ended", "disputed" or "closed" */
	bool active;                /* running or paused: billing may go on, extend and stop work */
	bool reclaimed;             /* the provider reclaimed it (interruptible): it ends at stop_at */
	uint64_t now;               /* the chain time of these figures */
	uint64_t paid_until, stop_at, ends_at; /* ends_at: when access ends (stop_at if earlier), 0 once over */
	uint64_t time_left_secs;    /* until ends_at */
	uint64_t grace_left_secs;   /* paused: how long an extend may still thaw it */
	uint64_t billed_secs;
	u256 hourly, accrued, deposited, remaining, refund_if_stopped, held;
};

/* The figures of rental t (state word `word`, zero when closed) at chain time `now`. */
int rental_view_at(struct rental_view *out, const struct escrow_terms *t, const u256 *word, uint64_t now,
		   struct err *e);

/* The --json object of v (token tok): stable field names, amounts as decimal strings of token units. */
json_t *rental_view_json(const struct rental_view *v, const struct cli_token *tok);

#endif
