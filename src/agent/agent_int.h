/*
 * agent_int.h — what the agent's files share (daemon.c: the loop; state.c: the state db; endpoint.c: the
 * HTTP endpoint; watcher.c: chain events; lifecycle.c: accounts; claims.c: transactions; reports.c:
 * what the server is told). Not a public API. No two of these files call each other.
 *
 * Threads: the main loop owns everything; the HTTP handlers (libmicrohttpd pool threads) only touch
 * the state db, under `mu`, and wake the loop through `cv`.
 */
#ifndef FLOP_AGENT_AGENT_INT_H
#define FLOP_AGENT_AGENT_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "agent/agent.h"
#include "agent/chain_clock.h"
#include "agent/files.h"
#include "eth/sender.h"
#include "market/api_client.h"

struct http_server;
struct terminal;

/* The agent's running state. */
struct agent {
	struct agent_cfg cfg;             /* copy (strings borrowed from the caller) */
	struct account_cfg acct;          /* effective account settings */
	char acct_state_dir[ACCOUNT_PATH_MAX];
	struct eth_address provider;      /* address of cfg.seckey32 */
	char instance[ACCOUNT_INSTANCE_MAX + 1]; /* this agent's random id (agent.db meta): scopes account names */
	struct rpc rpc;                   /* main-loop thread only */
	struct sender *sender;            /* NULL with no_claims */
	sqlite3 *db;                      /* agent.db; under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wake;                        /* set under mu: something arrived, run a tick now */
	struct http_server *http;
	struct terminal *term;            /* browser terminal on the same endpoint (terminal.h) */
	struct jupyter *jup;              /* Jupyter per rental (jupyter.h); NULL: not offered */
	struct instances *inst;           /* rentals as instances (instances.h); NULL: accounts only */
	struct files files;               /* file transfer for the browser on the same endpoint (files.h) */
	char endpoint[AGENT_URL_MAX];     /* advertised URL */
	json_t *host_keys;                /* the sshd's host keys, "type base64" (hostkeys.h); read-only after start */
	json_t *host_key_fps;             /* their SHA256 fingerprints, same order */
	uint64_t chain_now;               /* latest block timestamp seen (claims: what the contract will judge) */
	struct chain_clock clock;         /* under mu: chain time carried forward between blocks (chain_clock.h) */
	uint64_t access_now;              /* chain_clock_now at this tick: when access ends (lifecycle) */
	uint64_t last_sweep_ms;
	/* server reports (reports.c) */
	struct api_client api;            /* the marketplace server; main-loop thread only; set with server_url */
	bool host_registered;
	uint64_t last_heartbeat_ms;
};

/* One followed rental as the state db holds it. */
struct agent_row {
	struct agent_rental r;
	bool done;                        /* account torn down for good */
	bool has_key;
	bool key_applied;                 /* the current key is in authorized_keys */
	char *ssh_key;                    /* malloc'd key line, NULL when none */
	char image[INSTANCES_IMAGE_NAME_MAX + 1]; /* the instance image the renter chose; "": the default */
	bool access_reported;
	int64_t claim_nonce;              /* sender id of an outstanding tx, -1 none */
	int64_t last_claim_ms;
	unsigned warned;                  /* reclaim wall messages sent (0..2) */
};

/* ---- endpoint.c ---- */
/* Starts the HTTP endpoint (key delivery, access, /agent, the terminal) and sets a->endpoint. */
int endpoint_start(struct agent *a, struct err *e);

/* ---- watcher.c ---- */
/*
 * Reads confirmed escrow events since the saved progress (a bounded number of batches) and applies
 * them to the db; *caught_up (optional) says whether it reached head - confirmations.
 */
int watcher_poll(struct agent *a, bool *caught_up, struct err *e);

/* ---- lifecycle.c ---- */
/* Brings every rental's account to what the chain says; at start also tears down orphans. */
int lifecycle_tick(struct agent *a, bool reconcile, struct err *e);
/* Desired account state of a rental at chain time `now`. */
enum lifecycle_want { WANT_NONE = 0, WANT_ACTIVE, WANT_FROZEN, WANT_GONE };
enum lifecycle_want lifecycle_want(const struct agent_rental *r, uint64_t now);
/* "fm..." name for a rental of this chain's escrow (account_rental_scope). */
int lifecycle_account_name(char name13[ACCOUNT_NAME_LEN + 1], uint64_t chain_id,
			   const struct eth_address *escrow, const char *instance, uint64_t id, struct err *e);

/* ---- claims.c ---- */
int claims_tick(struct agent *a, struct err *e);

/* ---- reports.c ---- */
/*
 * Server reports: sign in, register host, heartbeat (every heartbeat_s), and, every tick, where to log
 * in to each account the lifecycle made ready. Call only with a server configured.
 */
int report_tick(struct agent *a, struct err *e);

#endif
