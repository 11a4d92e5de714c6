/*
 * session.h — what every money command of the CLI opens first: the RPC client, the node's chain id
 * checked against the configured `chain_id` and the deployment file's, the deployment (escrow and
 * token addresses) and, when asked, the wallet (address only, or unlocked).
 *
 * Deployment file: cfg `deployment`, else <data_dir>/deployment-<chainId>.json of the node's chain id
 * (what `flopmarket chain deploy` writes). A node on another chain than the deployment's, or than the
 * configured `chain_id`, is refused with a "wrong network" message (ERR_STATE: exit 5).
 * The secret key lives only inside the session and is wiped by cli_session_release.
 *
 * Local rental records: `rent` stores each opened rental's Terms (from the `Opened` event) under
 * <data_dir>/rentals/<chainId>-<id>.json so that status/extend/stop/dispute work from the chain alone;
 * a rental not recorded locally is found from its `Opened` log on chain.
 */
#ifndef FLOP_CLI_SESSION_H
#define FLOP_CLI_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/wallet_file.h"
#include "core/cfg.h"
#include "escrow/deploy.h"
#include "escrow/escrow.h"
#include "eth/rpc.h"

struct err;

enum cli_session_flags {
	SESSION_WALLET_ADDRESS = 1, /* read the wallet's address (no passphrase) */
	SESSION_WALLET_UNLOCK = 2,  /* decrypt the wallet's key (passphrase) */
	SESSION_NO_DEPLOYMENT = 4,  /* do not load a deployment file */
};

/* An open session; the caller owns the struct. */
struct cli_session {
	struct rpc rpc;                       /* initialised: release with cli_session_release */
	bool rpc_ok;                          /* rpc needs rpc_release */
	uint64_t chain_id;                    /* the node's chain id (checked) */
	struct escrow_deployment dep;         /* loaded deployment (unless SESSION_NO_DEPLOYMENT) */
	struct eth_address escrow;            /* dep's RentalEscrow */
	char deployment_path[WALLET_PATH_MAX + 64];
	char data_dir[WALLET_PATH_MAX];
	char wallet_name[WALLET_NAME_MAX + 1];
	struct eth_address address;           /* the wallet's address (when asked for) */
	uint8_t seckey[32];                   /* only with SESSION_WALLET_UNLOCK; wiped on release */
	bool unlocked;
};

/*
 * Opens a session for wallet `wallet` (NULL: "default") with `flags`. On failure the session is
 * released already and `e` says what to do ("wrong network: ...", "cannot reach the chain ...").
 */
int cli_session_open(struct cli_session *s, const struct cfg *cfg, const char *wallet, unsigned flags,
		     struct err *e);

/* Releases the RPC client and wipes the key; NULL allowed. */
void cli_session_release(struct cli_session *s);

/* Symbol of the chain's native coin for messages ("ETH", "MATIC", ...). */
const char *cli_native_symbol(uint64_t chain_id);

/* Stores a rental's terms under <data_dir>/rentals/<chainId>-<id>.json (mode 0600, atomic). */
int cli_rental_save(const struct cli_session *s, const struct escrow_terms *t, const uint8_t offer_hash32[32],
		    const uint8_t open_tx32[32], struct err *e);

/*
 * Finds the terms of rental `id`: the local record, else the escrow's `Opened` log on chain (scanned
 * from the deployment block). ERR_NOT_FOUND when there is no such rental.
 */
int cli_rental_terms(struct escrow_terms *out, struct cli_session *s, uint64_t id, struct err *e);

/* Parses a rental id argument ("7" or "#7"); ERR_INVALID names it. */
int cli_parse_rental_id(uint64_t *out, const char *arg, struct err *e);
/* The CLI's one number parser: decimal digits only, in [lo, hi]; ERR_INVALID naming `what` otherwise. */
int cli_parse_uint(uint64_t *out, const char *what, const char *text, uint64_t lo, uint64_t hi, struct err *e);

/* A token as shown to the user: symbol and decimals (the zero address: the native coin, 18). */
struct cli_token {
	struct eth_address address;
	char symbol[16];
	unsigned decimals;
	bool native;
};
int cli_token_info(struct cli_token *out, struct cli_session *s, const struct eth_address *token,
		   struct err *e);

/* Writes "<amount> <symbol>" of `units` (exact; room: U256_DEC_MAX + 24). */
void cli_token_format(char *out, size_t cap, const struct cli_token *t, const u256 *units);

/* The deposit that buys `secs` at `rate` (token units * 1e18 per second), rounded up. */
int cli_deposit_for(u256 *out, const u256 *rate, uint64_t secs, struct err *e);

/* Seconds a deposit buys: deposit * 1e18 / rate (capped at UINT64_MAX). */
uint64_t cli_secs_bought(const u256 *deposit, const u256 *rate);

/*
 * Approves the escrow to take `amount` of the ERC-20 `tok` from the session's
 * wallet and waits for the receipt (progress on stderr). On failure the
 * message says "approve: ...".
 */
int cli_approve_escrow(struct cli_session *s, const struct cli_token *tok, const u256 *amount,
		       unsigned timeout_ms, struct err *e);

/* Prints "flopmarket: <msg>" on stderr and returns cli_exit_for(rc). */
int cli_fail(int rc, const struct err *e);

/* Asks "Proceed? [y/N]" on the terminal (/dev/tty); false without one. */
bool cli_confirm(void);

#endif
