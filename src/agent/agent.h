/*
 * agent.h — the provider agent daemon (`flopmarket agent`): follows the escrow's events for the
 * provider's rentals straight from the chain, runs a per-rental Unix account for each (account.h),
 * accepts the renter's SSH key over its own HTTP endpoint (signed by the renter's wallet, checked
 * against the renter recorded on chain), freezes at runout, thaws on extend, tears down at the end,
 * claims accrued payment through the durable sender (eth/sender.h), and reports to the marketplace
 * server when one is configured (host registration, heartbeats, access granted). The browser
 * terminal (terminal.h) is served on the same endpoint; its renter check reads the chain.
 *
 * Everything the agent knows lives in <data_dir>/agent.db (SQLite, WAL, synchronous=FULL): the
 * chain progress, the rentals it follows (Terms + latest state word), the renters' keys; the sender
 * journal is <data_dir>/sender.db and the accounts' own state files are under account_cfg.state_dir.
 * Events of a block range and the progress are written in one transaction, so a kill -9 at any
 * instant neither loses nor repeats an event; on start the agent re-applies account state
 * (account_recover) and reconciles every account with the chain (an account whose rental is over or
 * unknown is torn down). Reorgs: events are read only `confirmations` blocks below the head.
 *
 * The wire protocol of the SSH key endpoint is in docs/agent.md ("SSH key delivery").
 */
#ifndef FLOP_AGENT_AGENT_H
#define FLOP_AGENT_AGENT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/account.h"
#include "agent/instances.h"
#include "core/u256.h"
#include "escrow/escrow.h"
#include "eth/address.h"
#include "eth/rpc.h"

struct err;

#define AGENT_RENTALS_MAX 1024        /* rentals handled per tick */
#define AGENT_PENDING_KEYS_MAX 64     /* keys waiting for their Opened event, in all */
#define AGENT_PENDING_PER_RENTAL 4    /* ... for one rental id (different signers) */
#define AGENT_KEY_MAX_AGE_MS (15 * 60 * 1000) /* a signed key delivery older than this is refused */
#define AGENT_KEY_MAX_SKEW_MS (5 * 60 * 1000) /* ... and one dated further in the future */
#define AGENT_URL_MAX 512             /* server URL / advertised endpoint */
#define AGENT_SSH_KEY_MSG_MAX (ACCOUNT_SSH_KEY_MAX + 64 + 8 + INSTANCES_IMAGE_NAME_MAX)

/* Settings of one agent; zero fields take the defaults noted. */
struct agent_cfg {
	const char *rpc_url;              /* JSON-RPC of the chain (required) */
	uint64_t chain_id;                /* expected chain id (required) */
	struct eth_address escrow;        /* RentalEscrow address (required) */
	uint64_t start_block;             /* first block to scan (the escrow's deployment block) */
	uint32_t arbiter_window_secs;     /* the deployment's arbiterWindow (settling disputes) */
	uint8_t seckey32[32];             /* the provider's key (signs claims and SIWE); wiped by the caller */
	const char *data_dir;             /* agent.db, sender.db (required) */
	struct account_cfg acct;          /* per-rental accounts; state_dir NULL: <data_dir>/accounts */
	const char *listen_addr;          /* HTTP endpoint address; NULL: "127.0.0.1" */
	uint16_t listen_port;             /* 0: any free port (printed) */
	const char *ssh_host;             /* host renters ssh to; NULL: "127.0.0.1" */
	uint16_t ssh_port;                /* 0: 22 */
	const char *ssh_host_keys[4];     /* --ssh-host-key: the sshd's public host key files (hostkeys.h) */
	size_t n_ssh_host_keys;           /* 0: /etc/ssh/ssh_host_*_key.pub where they exist */
	const char *server_url;           /* marketplace server; NULL: no reports */
	const char *endpoint;             /* URL advertised for this agent; NULL: http://listen */
	const char *gpu_spec;             /* simulated GPU spec file for gpu_detect; NULL: detect */
	unsigned confirmations;           /* blocks on top of an event before it is acted on (0 allowed) */
	unsigned poll_ms;                 /* main loop period, default 1000 */
	unsigned claim_interval_s;        /* claim accrued payment this often, default 3600 */
	unsigned heartbeat_s;             /* server heartbeat period, default 60 */
	unsigned batch_blocks;            /* eth_getLogs range per round, default 2000 */
	bool no_claims;                   /* true: never send transactions (watch only) */
	bool no_jupyter;                  /* --no-jupyter: no notebook server for renters (jupyter.h) */
	const char *web_origin;           /* browser terminal: the web UI's origin also allowed; NULL: none */
	uint64_t files_max_bytes;         /* browser file transfer: largest file (0: FILES_MAX_BYTES_DEFAULT) */
	const char *tls_cert_pem;         /* serve the endpoint over TLS (https/wss): certificate chain, PEM text */
	const char *tls_key_pem;          /* ... and its key; both or neither (NULL: plain http) */
	bool containers;                  /* --isolation container: each rental is an instance (instances.h) */
	struct instances_cfg inst;        /* ... its images and settings */
};

/* A rental as read from the chain's events (also what `provider earnings` lists). */
struct agent_rental {
	uint64_t id;
	struct escrow_terms t;            /* from Opened */
	u256 word;                        /* newest state word */
	bool closed;                      /* Closed seen */
	uint64_t opened_block;
	u256 provider_paid;               /* sum of providerAmount of its payout events */
	u256 fee_paid;                    /* sum of feeAmount */
	u256 refunded;                    /* sum of refundAmount */
};

/*
 * Runs the agent until *stop becomes non-zero (a signal handler sets it). Prints
 * "listening on http://ADDR:PORT" on stdout once the endpoint is up. Returns 0 after a clean stop,
 * or the error that made it impossible to start (bad config, chain id mismatch, db unusable).
 * Errors while running (RPC down, a failed claim) are logged and retried, never fatal.
 */
int agent_run(const struct agent_cfg *cfg, volatile sig_atomic_t *stop, struct err *e);

/*
 * Writes the exact message a renter signs (EIP-191 personal_sign) to deliver an SSH key:
 * "flopmarket ssh-key <id> <issued_ms> <key>" (key without its trailing newline; issued_ms the signer's
 * wall clock in unix milliseconds), followed by "\nimage <name>" when the renter chose an instance image
 * (image NULL or "": the provider's default). The agent keeps the newest issued_ms per rental and refuses
 * an older or equal one, so a replayed delivery never reinstalls a rotated key. ERR_TOO_BIG past cap,
 * ERR_INVALID for a bad image name.
 */
int agent_ssh_key_message(char *out, size_t cap, uint64_t rental_id, uint64_t issued_ms, const char *key,
			  const char *image, struct err *e);

/*
 * Reads every rental of `provider` (NULL: of anyone) from the escrow's events in
 * [from_block, head - confirmations]: Terms, newest state word, payouts so far, closed or not.
 * *out is a malloc'd array (free it; NULL when *n is 0), ordered by id. At most AGENT_RENTALS_MAX.
 */
int agent_scan_rentals(struct agent_rental **out, size_t *n, struct rpc *r,
		       const struct eth_address *escrow, const struct eth_address *provider,
		       uint64_t from_block, unsigned confirmations, struct err *e);

/*
 * The machine id the agent registers for this host (POST /hosts "machine_id", 1..2^63-1): the first
 * 15 hex digits of the host's hashed machine id (gpu.h host_facts), never 0.
 */
uint64_t agent_machine_id(const char *machine_id_hex64);

#endif
