/*
 * state.h — the agent's state database and directory (state.c). Internal to src/agent.
 */
#ifndef FLOP_AGENT_STATE_H
#define FLOP_AGENT_STATE_H

#include "agent/agent_int.h"

/* mkdir -p of the state directory, then mode 0700 on it (nothing of the agent's is a renter's to read). */
int state_dir_make(const char *path, struct err *e);
/* Mode 0600 on an SQLite database and its -wal / -shm / -journal files. */
void state_restrict_db(const char *path);
/* Opens <data_dir>/agent.db, applies the schema and pending migrations, loads (or makes) the instance id. */
int state_open(struct agent *a, struct err *e);
/* Wakes the main loop (something arrived). Under mu. */
void agent_wake(struct agent *a);
/* 1 with the rental's renter and whether it ended, 0 when the agent does not follow it, <0 on error. */
int state_rental_renter(struct agent *a, uint64_t id, struct eth_address *renter, bool *ended);
/*
 * Stores a verified SSH key for rental `id` (on the rental when followed, else pending for (id, signer)),
 * signed at issued_ms. Returns an HTTP status: 202 stored, 409 not newer than the one held, 429 pending
 * slots full, 503 state unavailable.
 */
int state_key_store(struct agent *a, uint64_t id, const struct eth_address *signer, bool found, const char *line,
		    int64_t issued_ms);

#endif
