/*
 * rent_access.h — what `rent` and `ssh-key` do to get a renter in: check the SSH public key before any
 * money moves, find the provider's agent and check it is alive and serves the offer's provider, deliver
 * the key signed by the renter (agent_ssh_key_message: rental id, signing time, key), and wait for the
 * agent to report access. Every wait has one deadline in monotonic milliseconds; no request outlives it.
 */
#ifndef FLOP_CLI_RENT_ACCESS_H
#define FLOP_CLI_RENT_ACCESS_H

#include <jansson.h>
#include <stdint.h>

#include "agent/account.h"
#include "cli/server_client.h"
#include "cli/session.h"

struct cfg;

struct err;

#define CLI_SSH_KEY_LINE_MAX (ACCOUNT_SSH_KEY_MAX + 2)

/*
 * Reads the OpenSSH public key in `path` and checks it as the agent will (sshkey_check: type,
 * base64 body, sizes). ERR_INVALID with what to do for a private key, a missing file or a bad line.
 */
int cli_ssh_key_read(char out[CLI_SSH_KEY_LINE_MAX], const char *path, struct err *e);

/* The machine of rental `id` from the server (its offer's machine_id), to find its agent; ERR_NOT_FOUND
 * with "give --agent URL" when the rental's offer is not listed. */
int cli_rental_machine(uint64_t *out, struct api_client *server, uint64_t id, struct err *e);

#define CLI_HOST_KEYS_MAX 4
#define CLI_HOST_KEY_MAX 3000 /* one "type base64" line */

/* Where to ssh to for a rental: what its agent reported. */
struct cli_ssh_dest {
	char host[256];
	char user[33];
	unsigned port;
	size_t n_host_keys;                                   /* 0: the agent reported none */
	char host_keys[CLI_HOST_KEYS_MAX][CLI_HOST_KEY_MAX + 2]; /* "type base64", each passed sshkey_check */
};

/*
 * The host keys of an access view ("host_keys": ["type base64", ...]) into dst, each checked as an SSH
 * public key (sshkey_check); a missing array is no keys. ERR_INVALID naming a malformed one.
 */
int cli_host_keys_parse(struct cli_ssh_dest *dst, const json_t *access, struct err *e);

/*
 * Writes dst's host keys as a known_hosts file of this rental's own, <data_dir>/known_hosts/rental-<id>
 * (0600, atomic, rewritten from the agent's report each time), its path into path (room cap). ssh is
 * then pointed at it alone, so the user's ~/.ssh/known_hosts is neither read nor written.
 */
int cli_known_hosts_write(char *path, size_t cap, struct cfg *cfg, const struct cli_ssh_dest *dst, uint64_t id,
			  struct err *e);

/*
 * The rental's SSH access: from the server's rental view (GET /rentals/{id} -> access, asked again for
 * up to 10 s right after a rent), or from the agent's own GET /rentals/{id}/access when `agent` is given.
 * Host and user are checked to be plain (no option-like or odd characters). ERR_STATE when there is no
 * access yet, saying what to do; ERR_INVALID for malformed details.
 */
int cli_rental_ssh(struct cli_ssh_dest *out, const char *server, const char *agent, uint64_t id, struct err *e);

/* The client of rental `id`'s agent: `agent_url`, else the agent of the rental's host as the server
 * lists it (srv is then initialised: the caller releases both). */
int cli_rental_agent(struct api_client *agent, struct api_client *srv, const char *agent_url, const char *server,
		     uint64_t id, struct err *e);

/* The agent's client: `agent_url`, else the endpoint of host `machine_id` from the server. */
int cli_agent_connect(struct api_client *agent, const char *agent_url, struct api_client *server, uint64_t machine_id,
		      struct err *e);

/*
 * GET /agent within timeout_ms; ERR_STATE unless it answers for `provider`. With an image (rent --image),
 * ERR_INVALID unless the agent runs rentals as instances and offers that image (naming those it offers).
 */
int cli_agent_alive(struct api_client *agent, const struct eth_address *provider, const char *image, long timeout_ms,
		    struct err *e);

/*
 * Signs and delivers `key_line` for rental `id` (with the instance image chosen, NULL: the provider's
 * default), retrying a busy or unreachable agent until deadline.
 */
int cli_key_deliver(struct api_client *agent, const struct cli_session *s, uint64_t id, const char *key_line,
		    const char *image, uint64_t deadline_ms, struct err *e);

/*
 * Polls GET /rentals/{id}/access until active or the deadline. Prints the ssh line, the host key
 * fingerprints and the terminal's URL; with json, sets "host", "port", "user", "host_keys",
 * "host_key_fingerprints" and "terminal" in that object instead.
 */
int cli_access_wait(struct api_client *agent, uint64_t id, uint64_t deadline_ms, json_t *json, struct err *e);

#endif
