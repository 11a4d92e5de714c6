/*
 * jupyter.h — a Jupyter server per rental, served by the agent behind the terminal's signed challenge.
 *
 * The server: started on the renter's first successful sign-in (not before: a rental nobody opens a
 * notebook in costs nothing), as the rental's Unix account — its uid, gid and groups, inside its
 * cgroups (joined as root before exec, like the terminal's shell), from its home, with a clean
 * environment — so it is frozen with the account at runout, thawed on extend, and killed by the
 * account's teardown (jupyter_close_rental kills it first). It listens only on a Unix socket
 * <run_dir>/<account>/jupyter.sock (dir 0700 and socket 0600, the account's) and wants its own random
 * token (in its environment, never on a command line or to the browser), which the agent adds to
 * every request it forwards. The agent checks the socket's peer (SO_PEERCRED) is the account's uid
 * before each connect's use, so a socket swapped for another account's never answers for this one.
 * The program: `jupyter-notebook` (the classic UI) or else `jupyter-server` (API only), first found in
 * /usr/local/bin:/usr/bin:/bin, or cfg.program.
 * In instance mode (cfg.start_in_instance) the server runs inside the rental's instance instead, as root
 * there, from the image's own Jupyter, on a socket in a directory the instance mounts from the host
 * (instances.h); the peer check then wants root inside's host uid; pause, unpause and removal of the
 * instance freeze, thaw and end it.
 *
 * Routes (jupyter_routes, on the agent's http server, after terminal_routes):
 *   GET /jupyter/{rental}/auth?challenge=<32 hex>&sig=0x<130 hex>[&next=<path>]
 *     The terminal's whole check (terminal_authorize: origin, the single-use challenge from
 *     GET /terminal/{rental}/challenge, the renter's signature, the renter and an active rental on
 *     chain, the account this agent made). Then the server is started if it is not running, and
 *     the answer is 302 to /jupyter/<rental>/<next> (default "tree", or "api/status" for
 *     jupyter-server) with a cookie
 *       fm_jupyter=<64 hex>; Path=/jupyter/<rental>/; Max-Age=<s until paid_until, at most 1 day>;
 *       HttpOnly; SameSite=Lax [; Secure over TLS]
 *     bound to that rental in the agent's table. Refusals are the terminal's (401/403/404/409/502);
 *     a host or offer without Jupyter is 404 jupyter_unavailable; a server that does not come up is
 *     503 jupyter_unavailable.
 *   GET|POST|PUT|PATCH|DELETE /jupyter/{rental}/{rest...}
 *     Needs the cookie of THIS rental, unexpired and not revoked: else 401 jupyter_auth (no cookie,
 *     another rental's, a stale one) — nothing is forwarded. Then the request goes to the rental's
 *     server: plain HTTP (HTTP/1.0 with the method, path and query, a short list of headers, our
 *     cookie taken out, the body up to cfg.body_max) with the answer relayed (up to cfg.resp_max),
 *     or, with "Upgrade: websocket" (kernels' channels), the handshake forwarded and, after its 101,
 *     bytes pumped both ways on a thread of its own until either side closes or the rental is revoked.
 *
 * Revocation: jupyter_revoke_rental (at freeze) forgets the rental's cookies and ends its WebSocket
 * pumps; jupyter_close_rental (at teardown) does that and kills the server (SIGTERM to its process
 * group, SIGKILL after 2 s) and removes its socket dir. Thread-safe; handlers run on server threads.
 */
#ifndef FLOP_AGENT_JUPYTER_H
#define FLOP_AGENT_JUPYTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct account_cfg;
struct err;
struct http_server;
struct terminal;
struct jupyter;

#define JUPYTER_COOKIE "fm_jupyter"
#define JUPYTER_TOKEN_HEX 64          /* 32 random bytes */
#define JUPYTER_SERVERS_MAX 256       /* rentals with a running server */
#define JUPYTER_COOKIES_MAX 4096      /* sign-ins remembered (oldest dropped) */

struct jupyter_cfg {
	struct terminal *terminal;          /* required: the sign-in check */
	const struct account_cfg *accounts; /* account.h settings (state_dir); NULL: defaults */
	const char *program;                /* NULL: jupyter-notebook, else jupyter-server */
	const char *run_dir;                /* NULL: "/run/flopmarket/jupyter" (made 0711, root's) */
	unsigned start_timeout_ms;          /* how long a start may take; 0: 60000 */
	unsigned request_timeout_ms;        /* one forwarded request; 0: 120000 */
	size_t body_max;                    /* request body forwarded; 0: 32 MiB */
	size_t resp_max;                    /* answer relayed; 0: 64 MiB */
	unsigned ws_max;                    /* WebSocket pumps at once; 0: 64 */
	unsigned cookie_max_s;              /* the cookie's lifetime at most; 0: 86400 */
	bool tls;                           /* served over TLS: the cookie gets Secure */
	uint64_t (*now_s)(void);            /* wall clock in unix s, compared with paid_until; NULL: time() */
	/*
	 * Instance mode (rentals in containers): starts the rental's server inside its instance (the daemon
	 * wraps instances_jupyter_start) and gives the socket's host path, the host uid its peer must be and
	 * whether it is the classic notebook. NULL: account mode (the server runs as the rental's account).
	 */
	int (*start_in_instance)(void *user, const char *account, long account_uid, const char *token,
				 const char *base_url, char *sock, size_t cap, long *peer_uid, bool *classic,
				 struct err *e);
	void *instance_user;
};

/* Creates the Jupyter proxy (copies cfg). ERR_INVALID without a terminal. */
int jupyter_new(struct jupyter **out, const struct jupyter_cfg *cfg, struct err *e);

/* Registers the routes above on s (before http_server_start). */
int jupyter_routes(struct jupyter *j, struct http_server *s, struct err *e);

/* The program this host would run, or NULL when there is none (offers then say jupyter: false). */
const char *jupyter_program(const struct jupyter *j);

/* Forgets the rental's cookies and ends its WebSocket pumps (at freeze). Returns how many pumps ended. */
unsigned jupyter_revoke_rental(struct jupyter *j, const char *rental_id);

/* jupyter_revoke_rental, then kills the rental's server and removes its socket dir (at teardown). */
void jupyter_close_rental(struct jupyter *j, const char *rental_id);

/* Pid of the rental's running server, or 0. For tests and status. */
long jupyter_server_pid(struct jupyter *j, const char *rental_id);

/* Closes every rental (as jupyter_close_rental) and frees. NULL allowed. */
void jupyter_free(struct jupyter *j);

#endif
