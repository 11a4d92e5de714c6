/*
 * state.h — the agent's state database and directory (state.c). Internal to src/agent. The schema and
 * every statement that reads or writes it live in state.c; the loop, the watcher, the lifecycle, the
 * claims and the endpoint call these by name. Call with a->mu held unless noted.
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
/* ---- followed rentals ---- */
/* The followed rentals (the finished ones too when include_finished), at most AGENT_RENTALS_MAX. */
int state_rows(struct agent *a, struct agent_row **out, size_t *n, bool include_finished, struct err *e);
void state_rows_free(struct agent_row *rows, size_t n);
/* Adds a rental seen in an Opened event (a second add of the same id changes nothing). */
int state_rental_add(struct agent *a, uint64_t id, const uint8_t terms[ESCROW_TERMS_SIZE],
		     const uint8_t word[32], uint64_t block, struct err *e);
/* Replaces a followed rental's state word; *followed says whether the agent follows it. */
int state_rental_set_word(struct agent *a, uint64_t id, const uint8_t word[32], bool *followed,
			  struct err *e);
/* One-way flags of a rental. */
enum state_mark {
	STATE_MARK_CLOSED = 0,        /* the chain's Closed event was seen */
	STATE_MARK_DONE,              /* its account is torn down for good */
	STATE_MARK_KEY_APPLIED,       /* the current key is in authorized_keys */
	STATE_MARK_ACCESS_REPORTED,   /* the server knows where to log in */
	STATE_MARK_COUNT
};
int state_mark(struct agent *a, uint64_t id, enum state_mark m, struct err *e);
/* The sender id of the rental's outstanding transaction; -1: none. */
int state_set_claim_nonce(struct agent *a, uint64_t id, int64_t nonce);
int state_set_last_claim(struct agent *a, uint64_t id, int64_t wall_ms);
/* How many reclaim notices its renter has had (0..2). */
int state_set_warned(struct agent *a, uint64_t id, unsigned warned);
/* Up to max ids of live rentals whose key is applied and whose access the server has not been told. */
int state_unreported(struct agent *a, uint64_t *ids, size_t max, size_t *n, struct err *e);
/* The Terms of a rental that is followed, not closed and not done: 0, ERR_NOT_FOUND, ERR_IO. */
int state_live_terms(struct agent *a, uint64_t id, struct escrow_terms *out);
/* What the agent holds for a rental id, for GET /rentals/{id}/access. */
enum state_access {
	STATE_ACCESS_UNKNOWN = 0,     /* neither followed nor keyed */
	STATE_ACCESS_WAITING_KEY,     /* followed, no key yet */
	STATE_ACCESS_KEYED,           /* a key is held (on the rental or pending its Opened) */
	STATE_ACCESS_ENDED            /* closed or done */
};
enum state_access state_access_of(struct agent *a, uint64_t id);

/* ---- chain progress (the watcher's batches) ---- */
int state_begin(struct agent *a, struct err *e);
int state_commit(struct agent *a, struct err *e);
void state_rollback(struct agent *a);
/* The first block not yet applied; dflt before the first batch. */
uint64_t state_next_block(struct agent *a, uint64_t dflt);
int state_set_next_block(struct agent *a, uint64_t next, struct err *e);

/* ---- SSH keys ---- */
/*
 * Moves the pending key `renter` signed for rental id onto the rental (1 when there was one, else 0)
 * and drops the others (*dropped: how many were signed by someone else).
 */
int state_attach_pending_key(struct agent *a, uint64_t id, const struct eth_address *renter,
			     unsigned *dropped);
/* image: the instance image the renter signed for ("" or NULL: the default). */
int state_key_store(struct agent *a, uint64_t id, const struct eth_address *signer, bool found, const char *line,
		    const char *image, int64_t issued_ms);

#endif
