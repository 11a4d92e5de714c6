/*
 * advice.c — the escrow's refusals explained (advice.h).
 */
#include "cli/advice.h"
#include "core/err.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct advice {
	const char *error;   /* the custom error's name */
	const char *verb;    /* only for this command; NULL: any */
	const char *text;    /* %1$s: the verb, %2$s: "rental N" */
};

/* First match wins: verb-specific entries before the general ones of the same error. */
static const struct advice ADVICE[] = {
	{ "NotOver", "dispute", "a dispute is for a rental that has ended, and this one is still running: stop it "
				"first (flopmarket stop N), then dispute within the offer's dispute window" },
	{ "NotOver", NULL, "the rental is still running" },
	{ "DepositAboveMaximum", NULL, "that would pay for more time than the offer allows in all: ask for fewer "
				       "hours (flopmarket status N shows the time paid so far)" },
	{ "DepositBelowMinimum", NULL, "that pays for less than the offer's minimum time: ask for more hours" },
	{ "RentalEnded", NULL, "the rental has already ended (stopped, reclaimed by the provider, or run out): "
			       "there is nothing left to %s; its refund was paid when it ended (flopmarket status N)" },
	{ "RentalOver", "extend", "the paid time and its grace period are over, so it can no longer be extended: "
				  "rent again (flopmarket search)" },
	{ "RentalOver", NULL, "the rental's paid time is over" },
	{ "NotRenter", NULL, "only the wallet that rented it can do this: give that wallet with --wallet NAME" },
	{ "RentalDisputed", NULL, "the rental is under dispute: its held share waits for an uptime attestation or "
				  "the arbiter; nothing to do until then" },
	{ "DisputeWindowClosed", NULL, "the dispute window after the end has closed: the held share was paid out" },
	{ "OfferExpired", NULL, "the offer has expired: find a live one with flopmarket search" },
	{ "OfferFull", NULL, "every slot of this offer is rented right now: pick another offer (flopmarket search)" },
	{ "OfferNonceCancelled", NULL, "the provider withdrew this offer: find a live one with flopmarket search" },
	{ "TokenNotAllowed", NULL, "the escrow does not accept this token: pick an offer in another token" },
	{ "FeeAboveOfferMax", NULL, "the marketplace's fee is above what the provider accepted: pick another offer" },
	{ "ZeroAmount", NULL, "the amount is zero: give a positive --hours or --amount" },
	{ "InsufficientBalance", NULL, "your token balance is too low: see flopmarket wallet balance" },
	{ "UnknownRental", NULL, "there is no such rental on this escrow: check the id (flopmarket status)" },
};

/* text with each word "N" (the rental id's place) replaced by id, into out. */
static void fill_id(char *out, size_t cap, const char *text, uint64_t id)
{
	char who[24];
	size_t len = 0;

	snprintf(who, sizeof who, id ? "%" PRIu64 : "RENTAL", id);
	for (const char *p = text; *p && len + 1 < cap; p++) {
		bool word = p[0] == 'N' && (p == text || p[-1] == ' ') && (!p[1] || strchr(" ),", p[1]));
		if (word && len + strlen(who) + 1 < cap) {
			memcpy(out + len, who, strlen(who));
			len += strlen(who);
		} else if (!word) {
			out[len++] = *p;
		}
	}
	out[len] = '\0';
}

void cli_revert_advice(struct err *e, const char *verb, uint64_t id)
{
	char text[400], adv[440], name[48];

	if (!e || e->code != ERR_REVERT)
		return;
	for (size_t i = 0; i < sizeof ADVICE / sizeof ADVICE[0]; i++) {
		const struct advice *a = &ADVICE[i];
		const char *n;
		snprintf(name, sizeof name, "%s(", a->error);
		/* the whole name: "NotOver(" but not "RentalNotOver(" */
		if (!(n = strstr(e->msg, name)) || (n > e->msg && ((n[-1] >= 'A' && n[-1] <= 'Z') || (n[-1] >= 'a' && n[-1] <= 'z'))))
			continue;
		if (a->verb && (!verb || strcmp(a->verb, verb) != 0))
			continue;
		snprintf(text, sizeof text, a->text, verb ? verb : "do");
		fill_id(adv, sizeof adv, text, id);
		size_t len = strlen(e->msg);
		snprintf(e->msg + len, sizeof e->msg - len, ": %s", adv);
		return;
	}
}
