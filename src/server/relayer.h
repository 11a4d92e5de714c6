/*
 * relayer.h — the opt-in gasless relayer of `flopmarket serve` (contracts/RentalRelay.sol).
 *
 * A renter who holds only the rental's token posts a signed intent (open, extend or stop; see
 * escrow/relay.h) and, for tokens with EIP-2612, a permit for the relay. The relayer checks it (shape and
 * size, the renter's signature, the deadline, the token, per-renter limits, a simulation with
 * eth_estimateGas from its own account, and that the signed maximum fee covers the gas at the current fee
 * level at the USD prices of the native coin and the token plus a margin), writes it to its queue, and
 * answers 202 before anything is sent. A worker thread sends queued intents with the durable sender
 * (eth/sender.h: its own key, nonce manager, rebroadcasts and fee bumps) and follows them to their
 * receipt. States: queued -> pending (tx hash) -> confirmed | failed (with the reason).
 *
 * Crash safety: the queue and the sender's journal are one SQLite file (WAL, synchronous=FULL). A row is
 * committed before the 202; each row is sent with sender_submit_once under the tag "relay:<id>", which
 * the journal writes with the signed transaction, so a crash at any point loses no accepted intent and
 * never sends one twice (the restarted worker finds the tag and only follows it). A retried POST of the
 * same (renter, nonce) answers the existing row.
 *
 * The fee charged is computed at acceptance (at most the signed maximum) and is part of the call the
 * renter's signature covers; the relayer may delay or refuse an intent, never change what it does.
 */
#ifndef FLOP_SERVER_RELAYER_H
#define FLOP_SERVER_RELAYER_H

#include <stdint.h>

#include <jansson.h>

#include "escrow/relay.h"

struct err;
struct server;
struct relayer;

#define RELAYER_GAS_HEADROOM 60000   /* gas added to the estimate: time-dependent escrow paths */
#define RELAYER_DEADLINE_MAX_S 86400 /* an intent may not be signed for longer than a day */
#define RELAYER_QUEUE_MAX 10000      /* intents queued or pending at once */

/* Typical gas estimate of each relayed call in a USDC-like token (bench/gas, plus the estimate's
 * time-dependent paths), for quotes before an intent exists; the quote adds the same 20 % and headroom
 * as an accepted intent's gas limit. */
#define RELAYER_QUOTE_GAS_OPEN 230000
#define RELAYER_QUOTE_GAS_EXTEND 160000
#define RELAYER_QUOTE_GAS_STOP 150000

/* Opens the queue and the sender on s->cfg.relay_journal and reads the escrow's relay address. */
int relayer_open(struct relayer **out, struct server *s, struct err *e);
/* Starts / stops (joins) the worker thread. */
int relayer_start(struct relayer *r, struct err *e);
void relayer_stop(struct relayer *r);
/* Frees a stopped relayer (NULL allowed); the key is wiped by the sender. */
void relayer_free(struct relayer *r);

/* GET /relay: the relayer's account, the relay contract, its margin, limits, and a quote per token. */
int relayer_info(struct relayer *r, json_t **out, struct err *e);
/*
 * POST /relay/intents: checks and queues one intent. *status is 202 (queued), 200 (the same intent was
 * already accepted: its current view), or the error status with *code / *field / e set.
 */
int relayer_accept(struct relayer *r, const json_t *body, json_t **out, int *status, const char **code,
		   const char **field, struct err *e);
/* GET /relay/intents/{id}: one intent's view; ERR_NOT_FOUND. */
int relayer_view(struct relayer *r, uint64_t id, json_t **out, struct err *e);
/* One worker round (send what is queued, poll the sender, follow what is pending); tests call it. */
int relayer_round(struct relayer *r, struct err *e);

#endif
