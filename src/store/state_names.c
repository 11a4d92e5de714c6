/*
 * state_names.c — the names of rental states and offer statuses ("open", "active", ...), one table for the
 * store's columns, the API's JSON and the receipts (declared in store.h). Its own file so that a backend
 * (sqlite.c) can use it without calling back into store.c, which opens the backends.
 */
#include "store/store.h"

#include <string.h>

static const char *const rental_states[] = { "?", "open", "ended", "disputed", "resolved", "closed" };
static const char *const offer_statuses[] = { "?", "active", "cancelled", "expired" };
_Static_assert(sizeof rental_states / sizeof rental_states[0] == STORE_RENTAL_CLOSED + 1, "a name per rental state");
_Static_assert(sizeof offer_statuses / sizeof offer_statuses[0] == STORE_OFFER_EXPIRED + 1, "a name per offer status");

const char *store_rental_state_name(enum store_rental_state st)
{
	return st >= STORE_RENTAL_OPEN && st <= STORE_RENTAL_CLOSED ? rental_states[st] : "?";
}

enum store_rental_state store_rental_state_from(const char *s)
{
	for (int i = STORE_RENTAL_OPEN; i <= STORE_RENTAL_CLOSED; i++)
		if (!strcmp(s, rental_states[i]))
			return (enum store_rental_state)i;
	return STORE_RENTAL_OPEN;
}

const char *store_offer_status_name(enum store_offer_status st)
{
	return st >= STORE_OFFER_ACTIVE && st <= STORE_OFFER_EXPIRED ? offer_statuses[st] : "?";
}

enum store_offer_status store_offer_status_from(const char *s)
{
	for (int i = STORE_OFFER_ACTIVE; i <= STORE_OFFER_EXPIRED; i++)
		if (!strcmp(s, offer_statuses[i]))
			return (enum store_offer_status)i;
	return STORE_OFFER_ACTIVE;
}
