/*
 * terminal.h — the agent's browser terminal: a WebSocket (RFC 6455) that
 * runs a login shell in a PTY as a rental's Unix account, for whoever proves
 * with a wallet signature that they are the rental's renter ON CHAIN.
 *
 * Routes (registered on the agent's http server by terminal_routes):
 *   GET /terminal/{rental}/challenge
 *     -> 200 {"challenge": "<32 hex>", "message": "<text to sign>",
 *             "expires": <unix s>, "origin": "<agent origin>"}
 *     A fresh random nonce, single use, valid challenge_ttl_ms (60 s), bound
 *     to the rental id and to the agent's origin; the message is
 *       Flopmarket browser terminal
 *       Origin: <agent origin>
 *       Rental: <rental id>
 *       Nonce: <32 hex>
 *       Expires: <unix s>
 *   GET /terminal/{rental}/ws?challenge=<32 hex>&sig=0x<130 hex>   (Upgrade: websocket)
 *     Checked in this order, each failure answered before any upgrade:
 *     Origin header (when present) must be one of cfg.allowed_origins or the
 *     agent's origin (403 origin_not_allowed: cross-site WebSocket hijacking);
 *     the WebSocket handshake (400 bad_handshake); the challenge is taken
 *     out of the table — so it is used up even when what follows fails —
 *     and must exist, be for this rental and not be expired (401
 *     challenge_invalid / challenge_expired); sig is an EIP-191
 *     personal_sign of the message (400 bad_signature); the rental is looked
 *     up through cfg.lookup, which reads the CHAIN (404 rental_not_found,
 *     502 chain_unavailable); the recovered signer must be its renter (403
 *     not_renter); it must be active — open, paid, not frozen (409
 *     rental_inactive); the account must exist with a uid >= 1000 and, when
 *     it has an account.h state file, be in phase active (409).
 *     Then 101, and a login shell of the account runs in a PTY.
 *
 * The session: binary frames carry terminal bytes both ways; a text frame
 * is a JSON control message, {"type":"resize","cols":C,"rows":R}
 * (1..1000 each) -> TIOCSWINSZ; anything else in text is ignored. Caps:
 * msg_max per received message (64 KiB), out_max bytes queued to the
 * browser (1 MiB: the PTY is not read while the queue is over half of it),
 * 64 KiB of input pending for the PTY (the socket is not read past it).
 * A ping every ping_interval_ms; a peer silent for two intervals is gone.
 *
 * The shell: forkpty; in the child, before exec (async-signal-safe calls
 * only: everything is prepared before the fork): join the account's
 * cgroups (as root, from its account.h state file), setgroups (the
 * account's groups, looked up before the fork), setgid, setuid, chdir HOME,
 * execve of the account's login shell (the account.h per-account script,
 * which joins the cgroup itself too) as a login shell ("-" + name) with a
 * clean environment (HOME, USER, LOGNAME, SHELL, PATH, TERM=xterm-256color,
 * LANG=C.UTF-8). The session ends when the socket closes, the shell exits,
 * terminal_close_rental is called, or the terminal stops: the PTY master is
 * closed (SIGHUP to the session), the shell's process group gets SIGHUP,
 * then after at most 1 s every process still in the shell's session gets
 * SIGKILL and the shell is reaped. (Processes that left the session with
 * setsid are the account teardown's to kill.)
 *
 * Threads: handlers run on the http server's threads; each session runs on
 * a thread of its own. Everything here is thread-safe. cfg.lookup is called
 * from server threads, concurrently: it must be thread-safe.
 * Order at shutdown: terminal_stop (or terminal_free) BEFORE
 * http_server_stop (upgraded sockets must be closed first).
 */
#ifndef FLOP_AGENT_TERMINAL_H
#define FLOP_AGENT_TERMINAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eth/address.h"

struct err;
struct rpc;
struct http_server;
struct account_cfg;
struct escrow_terms;
struct terminal;

#define TERMINAL_ACCOUNT_MAX 32        /* Unix user name bytes */
#define TERMINAL_RENTAL_ID_MAX 128     /* rental id bytes: [0-9A-Za-z._-] */
#define TERMINAL_ORIGIN_MAX 256        /* an origin's bytes */
#define TERMINAL_ORIGINS_MAX 16        /* allowed origins */
#define TERMINAL_NONCE_HEX 32          /* 16 random bytes */
#define TERMINAL_MESSAGE_MAX 512       /* the challenge text */

/* What the daemon knows about a rental, from the chain. */
struct terminal_rental {
	struct eth_address renter;             /* the renter recorded on chain */
	char account[TERMINAL_ACCOUNT_MAX + 1]; /* the rental's Unix user */
	bool active;                           /* open and paid, not frozen or ended */
	uint64_t paid_until;                   /* unix s the rental is paid until (0: unknown) */
	uint64_t chain_now;                    /* the chain's latest block time at the lookup (0: unknown) */
};

/*
 * Looks a rental up: fills *out and returns 0; ERR_NOT_FOUND when this
 * agent has no such rental; another negative code when the chain cannot be
 * read (then the client gets 502). Must be thread-safe.
 */
typedef int (*terminal_lookup_fn)(struct terminal_rental *out, const char *rental_id, void *user,
				  struct err *e);

struct terminal_cfg {
	const char *origin;           /* this agent as browsers reach it, "https://host:port";
					 bound into challenges and always allowed;
					 NULL: "http://" + the request's Host header */
	const char *const *allowed_origins; /* more Origin values allowed (the web UI's);
					       NULL-terminated, at most TERMINAL_ORIGINS_MAX */
	terminal_lookup_fn lookup;    /* required */
	void *lookup_user;
	const struct account_cfg *accounts; /* account.h settings (state_dir); NULL: defaults */
	unsigned challenge_ttl_ms;    /* 0: 60000 */
	size_t challenges_max;        /* outstanding challenges; 0: 1024 (oldest dropped) */
	unsigned sessions_max;        /* concurrent sessions; 0: 64 (503 past it) */
	size_t msg_max;               /* largest message from a browser; 0: 64 KiB */
	size_t out_max;               /* bytes queued to a browser; 0: 1 MiB */
	unsigned ping_interval_ms;    /* 0: 20000 */
	uint64_t (*now_ms)(void);     /* monotonic clock for expiry; NULL: clock_mono_ms */
	bool tls;                     /* served over TLS: without origin, it is "https://" + Host */
};

/* A rental's account as terminal_authorize granted it. */
struct terminal_grant {
	char rental[TERMINAL_RENTAL_ID_MAX + 1];
	char account[TERMINAL_ACCOUNT_MAX + 1];
	char home[256];
	unsigned uid, gid;
	uint64_t paid_until;                   /* from the lookup: unix s paid until, chain time (0: unknown) */
	uint64_t chain_now;                    /* the chain's time at the lookup (0: unknown) */
};

struct http_req;
struct http_resp;

/*
 * The terminal's whole check, for another route of a rental (file transfer, files.h): the route's
 * pattern names {rental}; the query carries challenge= and sig= as for the WebSocket. Origin, the
 * single-use challenge, the signature, the renter on chain, the rental active, the account this agent
 * made and active: 0 with *g filled; 1 when refused (the error answer is in resp); ERR_NOMEM.
 */
int terminal_authorize(struct terminal *t, const struct http_req *r, struct http_resp *resp,
		       struct terminal_grant *g);

/* Creates a terminal (copies cfg and the origin strings). ERR_INVALID without lookup. */
int terminal_new(struct terminal **out, const struct terminal_cfg *cfg, struct err *e);

/* Registers the two routes on s (before http_server_start). */
int terminal_routes(struct terminal *t, struct http_server *s, struct err *e);

/*
 * Ends every session of the rental (close 1001 "rental ended", processes
 * killed as described above) and forgets its challenges; waits until they
 * are gone (at most ~3 s). Returns how many sessions it ended. The daemon
 * calls it at teardown and at freeze.
 */
unsigned terminal_close_rental(struct terminal *t, const char *rental_id);

/* Sessions running now (of one rental when rental_id is not NULL). */
unsigned terminal_sessions(struct terminal *t, const char *rental_id);

/* Ends every session and refuses new ones. Idempotent. */
void terminal_stop(struct terminal *t);

/* Stops and frees. NULL allowed. */
void terminal_free(struct terminal *t);

/*
 * Writes the challenge message a wallet signs (see above). ERR_INVALID for
 * an origin or rental id with characters outside their sets, ERR_TOO_BIG
 * past TERMINAL_MESSAGE_MAX.
 */
int terminal_challenge_message(char *out, size_t cap, const char *origin, const char *rental_id,
			       const char *nonce_hex, uint64_t expires_unix_s, struct err *e);

/*
 * A lookup helper reading the chain: the rental with these Terms (from its
 * Opened event) at the escrow. Calls stateOf(Terms) and reads the latest
 * block's time: active when the state says active and the block time is
 * before paidUntil (escrow_state_view). renter comes from the Terms (the
 * contract keys the state by keccak256(Terms), so a state that exists
 * proves the Terms); account = account_name_for_rental(account_rental_scope(chain, escrow, id)).
 * now_floor (0: none) is the caller's chain time carried forward between blocks (chain_clock.h): the
 * time used is the later of it and the block's. ERR_NOT_FOUND when the escrow has no such rental.
 */
int terminal_rental_from_chain(struct terminal_rental *out, struct rpc *r, uint64_t chain_id,
			       const struct eth_address *escrow, const char *instance, const struct escrow_terms *t,
			       uint64_t now_floor, struct err *e);

#endif
