/*
 * gasless.h — `rent / extend / stop --gasless`: the renter signs, the server's relayer sends and pays
 * the gas, and takes its fee in the rental's token (docs/cli.md "Gasless", src/server/relayer.h).
 *
 * gasless_prepare asks the server (GET /relay) for its relayer and a quote, checks that the relay it
 * names is the escrow's own (read from chain: a server cannot point the renter at another contract), and
 * sets the maximum fee the renter signs: twice the quote, so a rise of the gas price between the quote
 * and the transaction does not fail it (the relayer charges its own, lower, figure). It checks the
 * renter's token balance and, for a token without EIP-2612 (USDT), the allowance the relay needs: that
 * approval is a transaction, so it costs gas once; the error says so and suggests a permit token.
 * gasless_send signs the permit and the intent, posts them and follows the intent to its receipt.
 */
#ifndef FLOP_CLI_GASLESS_H
#define FLOP_CLI_GASLESS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/session.h"
#include "core/u256.h"
#include "escrow/relay.h"
#include "eth/rpc.h"

struct api_client;
struct err;

#define GASLESS_FEE_HEADROOM 2       /* the signed maximum fee is this many times the server's quote */
#define GASLESS_DEADLINE_S 900       /* the intent and permit stay valid this long after the chain's time */
#define GASLESS_WAIT_MS 180000u      /* how long the CLI follows an intent */

struct gasless {
	enum relay_kind kind;
	struct eth_address relay, relayer;
	u256 quote;                /* the server's fee now, token units */
	uint64_t quote_usd_micro;
	u256 max_fee;              /* what the renter signs */
	uint64_t max_fee_usd_micro; /* 0 when the server knows no USD price */
	bool has_permit;           /* the token has EIP-2612 */
	uint64_t intent_id;        /* after gasless_send */
	u256 fee;                  /* what the relayer charged (after gasless_send) */
};

/* Whether the server relays (GET /relay answers); used for the hint when the wallet has no gas coin. */
bool gasless_offered(struct api_client *sc);

/*
 * The quote and checks for `kind` of `amount` (zero for stop) in `tok`; `incoming` is what reaches the
 * renter in the same call before the fee is taken (a stop's refund), else zero.
 */
int gasless_prepare(struct gasless *g, struct api_client *sc, struct cli_session *s, const struct cli_token *tok,
		    enum relay_kind kind, const u256 *amount, const u256 *incoming, struct err *e);

/* Prints the relayer's figures: the maximum fee in the token and USD, and who pays the gas. */
void gasless_summary(const struct gasless *g, const struct cli_token *tok, FILE *f);

/*
 * Signs and posts the intent for `target` (offer digest or rental key) with `fields` added to the body
 * (open: "offer" and "offer_signature"; extend/stop: "terms"), then follows it until it is confirmed
 * (*rcpt: its receipt; rpc_receipt_release it) or failed (ERR_STATE with the relayer's reason).
 */
int gasless_send(struct gasless *g, struct api_client *sc, struct cli_session *s, const struct cli_token *tok,
		 const u256 *amount, const uint8_t target[32], json_t *fields, struct rpc_receipt *rcpt,
		 struct err *e);

/* {"intent_id", "relayer", "fee", "max_fee"} for --json results. */
json_t *gasless_json(const struct gasless *g);

#endif
