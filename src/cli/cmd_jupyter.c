/*
 * cmd_jupyter.c — `flopmarket jupyter RENTAL [--agent URL] [--server URL] [--wallet NAME] [--next PATH]`:
 * the link that opens the rental's notebook in a browser. Asks the rental's agent for a fresh challenge
 * (GET /terminal/{rental}/challenge, the browser terminal's), signs it with the renter's wallet
 * (EIP-191), and prints <agent>/jupyter/<rental>/auth?challenge=..&sig=..: opening it signs the browser
 * in (a cookie for that rental only) and lands in the notebook. The link works once, within the
 * challenge's lifetime (60 s). The agent is --agent, else the host of the rental's offer as the
 * server lists it.
 */
#include "cli/cli.h"
#include "cli/rent_access.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "agent/jupyter_wire.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "eth/eip191.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int jupyter_usage(FILE *f)
{
	fprintf(f, "usage: flopmarket jupyter RENTAL [--agent URL] [--server URL] [--wallet NAME] [--next PATH]\n"
		   "  prints a one-time link (valid 60 s) that signs your browser in to the rental's Jupyter\n"
		   "  notebook; --next opens a path inside it (default: the file tree)\n");
	return f == stdout ? EXIT_OK : EXIT_USAGE;
}

/* The challenge's nonce and message from the agent, then the signed link on stdout. */
static int print_link(struct api_client *agent, const struct cli_session *s, uint64_t id, const char *next,
		      struct err *e)
{
	char path[96], sig_hex[133];
	const char *nonce, *msg;
	uint8_t sig[65];
	json_t *r = NULL;
	int rc;

	snprintf(path, sizeof path, "/terminal/%" PRIu64 "/challenge", id);
	if ((rc = api_request(agent, &r, NULL, "GET", path, NULL, e)))
		return err_wrap(e, "asking the agent at %s for a challenge", agent->base), rc;
	if ((rc = json_get_str(&nonce, r, "challenge", 32, e)) || (rc = json_get_str(&msg, r, "message", 512, e)) ||
	    strspn(nonce, "0123456789abcdef") != strlen(nonce)) {
		json_decref(r);
		return rc ? rc : err_set(e, ERR_INVALID, "the agent's challenge is malformed");
	}
	if ((rc = eip191_sign(sig, (const uint8_t *)msg, strlen(msg), s->seckey, e))) {
		json_decref(r);
		return rc;
	}
	hex_encode_0x(sig_hex, sig, sizeof sig);
	printf("%s/jupyter/%" PRIu64 "/auth?challenge=%s&sig=%s%s%s\n", agent->base, id, nonce, sig_hex,
	       next ? "&next=" : "", next ? next : "");
	fprintf(stderr, "open it in your browser within 60 s (it works once); run this again for a new one\n");
	json_decref(r);
	return 0;
}

int cmd_jupyter(int argc, char **argv, struct cfg *cfg)
{
	const char *server = cfg_get(cfg, "server_url"), *agent_url = NULL, *wallet = NULL, *rental = NULL,
		   *next = NULL;
	struct cli_session s;
	struct api_client srv = { 0 }, agent = { 0 };
	struct err e = { 0 };
	uint64_t id;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0)
			return jupyter_usage(stdout);
		if (strcmp(f, "--agent") == 0 && v) agent_url = v, i++;
		else if (strcmp(f, "--server") == 0 && v) server = v, i++;
		else if (strcmp(f, "--wallet") == 0 && v) wallet = v, i++;
		else if (strcmp(f, "--next") == 0 && v) next = v, i++;
		else if (f[0] != '-' && !rental) rental = f;
		else return jupyter_usage(stderr);
	}
	if (!rental)
		return jupyter_usage(stderr);
	if ((rc = cli_parse_rental_id(&id, rental, &e)))
		return cli_fail(rc, &e);
	if (next && !jupyter_next_ok(next))
		return cli_fail(err_set(&e, ERR_INVALID, "--next: a path inside the notebook of letters, digits and "
				       "/ _ . - (at most 200), not '%.60s'", next), &e);
	if (!agent_url && !server) {
		fprintf(stderr, "flopmarket: jupyter needs --agent URL or the server (--server URL or server_url)\n");
		return EXIT_USAGE;
	}
	if ((rc = cli_session_open(&s, cfg, wallet, SESSION_WALLET_UNLOCK, &e)))
		return cli_fail(rc, &e);
	if ((rc = cli_rental_agent(&agent, &srv, agent_url, server, id, &e)))
		goto out;
	rc = print_link(&agent, &s, id, next, &e);
out:
	api_client_release(&agent);
	api_client_release(&srv);
	cli_session_release(&s);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}
