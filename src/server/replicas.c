/*
 * replicas.c — several `flopmarket serve` processes on one shared database (PostgreSQL; docs/store.md):
 *
 *  - roles: the chain indexer and the uptime monitor each run in one replica at a time. Each round a
 *    replica asks the store for the role (store_role_try: a session advisory lock); the holder keeps
 *    it while its database session lives, so when it dies (kill -9 included) another replica's next
 *    round takes over and resumes from indexer_progress. Events are keyed (chain, tx, log index) and
 *    applied with their progress in one transaction, so a takeover neither loses nor repeats one.
 *  - search: a replica that changes what a provider lists (publish, withdraw, host record, rental
 *    events) logs it (listing_tell_replicas, listing.c); every other replica's follower reads the log every
 *    REPLICA_FOLLOW_MS and re-reads those providers' offers into its own index, so a search on any
 *    replica sees a change made through any other within a second.
 *  - sign-in: nonces are MACed with the store's shared key and consumed in the store, sessions live
 *    in the store: any replica checks any replica's nonce once and accepts any replica's session.
 *  - per replica: rate limits (per client address, in memory) and SSE streams (each reads the store).
 */
#include "server/server.h"

#include "core/err.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool replica_role(struct server *s, const char *role, _Atomic bool *flag)
{
	struct err e = { 0 };
	bool held = false, had = atomic_load(flag);

	if (store_role_try(s->store, role, &held, &e)) {
		held = false;
		if (had)
			log_warn("role lost: the database is not answering", "role=%s err=\"%s\"", role, e.msg);
	}
	if (held != had)
		log_info(held ? "role taken: this replica runs it" : "role held by another replica", "role=%s", role);
	atomic_store(flag, held);
	return held;
}

/* Applies one batch of the log; returns how many rows it read (0: caught up, or an error logged). */
static size_t follow_once(struct server *s, struct store_change *c)
{
	struct err e = { 0 };
	size_t n = 0, mine = 0;
	uint64_t last = 0;
	bool everything = false;

	if (store_changes_after(s->store, c, STORE_CHANGES_MAX, &n, &last, s->changes_seen, &e)) {
		log_warn("cannot read the change log", "err=\"%s\"", e.msg);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(c[i].origin, s->origin))
			mine++; /* applied when it was made */
		else if (!strcmp(c[i].provider, "*"))
			everything = true;
		else
			listing_provider_changed_here(s, c[i].provider);
	}
	s->changes_seen = last;
	if (everything) {
		offers_reindex(s, &e); /* a failed rebuild marks the index dirty: the janitor tries again */
	} else if (n > mine) {
		offers_refresh_changed(s);
	}
	return n;
}

void *replica_follower_main(void *arg)
{
	struct server *s = arg;
	struct store_change *c = calloc(STORE_CHANGES_MAX, sizeof *c);

	if (!c)
		return NULL;
	while (!server_sleep(s, REPLICA_FOLLOW_MS))
		while (follow_once(s, c) == STORE_CHANGES_MAX && !atomic_load(&s->stopping))
			;
	free(c);
	return NULL;
}
