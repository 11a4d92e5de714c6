/*
 * cmd_ssh_key.c — `flopmarket ssh-key RENTAL FILE [--agent URL] [--server URL] [--wallet NAME]
 * [--wait-access SECS]`: delivers an SSH public key to a running rental (one rent did not get, or a new
 * one to rotate to), signed by the renter's wallet with the signing time, so the agent installs it for
 * the rental's renter on chain only and never lets an older delivery replace a newer one. Then waits
 * for the agent to report access, like `rent`. The agent is --agent, else the host of the rental's offer
 * as the server lists it.
 */
#include "cli/cli.h"
#include "cli/rent_access.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SSH_KEY_WAIT_MAX_S 3600

static int ssh_key_usage(void)
{
	fprintf(stderr, "usage: flopmarket ssh-key RENTAL PUBKEY_FILE [--agent URL] [--server URL] [--wallet NAME]"
			" [--wait-access SECS]\n");
	return EXIT_USAGE;
}

int cmd_ssh_key(int argc, char **argv, struct cfg *cfg)
{
	const char *server = cfg_get(cfg, "server_url"), *agent_url = NULL, *wallet = NULL;
	const char *rental = NULL, *file = NULL, *wait_s = NULL;
	char key[CLI_SSH_KEY_LINE_MAX];
	struct cli_session s;
	struct api_client srv = { 0 }, agent = { 0 };
	struct err e = { 0 };
	uint64_t id, wait = 60;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--agent") == 0 && v) agent_url = v, i++;
		else if (strcmp(f, "--server") == 0 && v) server = v, i++;
		else if (strcmp(f, "--wallet") == 0 && v) wallet = v, i++;
		else if (strcmp(f, "--wait-access") == 0 && v) wait_s = v, i++;
		else if (f[0] != '-' && !rental) rental = f;
		else if (f[0] != '-' && !file) file = f;
		else return ssh_key_usage();
	}
	if (!rental || !file)
		return ssh_key_usage();
	if ((rc = cli_parse_rental_id(&id, rental, &e)))
		return cli_fail(rc, &e);
	if (wait_s) {
		if ((rc = cli_parse_uint(&wait, "--wait-access", wait_s, 0, SSH_KEY_WAIT_MAX_S, &e)))
			return cli_fail(rc, &e);
	}
	if ((rc = cli_ssh_key_read(key, file, &e)))
		return cli_fail(rc, &e);
	if (!agent_url && !server) {
		fprintf(stderr, "flopmarket: ssh-key needs --agent URL or the server (--server URL or server_url)\n");
		return EXIT_USAGE;
	}
	if ((rc = cli_session_open(&s, cfg, wallet, SESSION_WALLET_UNLOCK, &e)))
		return cli_fail(rc, &e);
	if ((rc = cli_rental_agent(&agent, &srv, agent_url, server, id, &e)))
		goto out;
	uint64_t deadline = clock_mono_ms() + (wait ? wait : 1) * 1000 + 5000;
	if ((rc = cli_key_deliver(&agent, &s, id, key, NULL, deadline, &e)))
		goto out;
	if (wait)
		rc = cli_access_wait(&agent, id, clock_mono_ms() + wait * 1000, NULL, &e);
out:
	api_client_release(&agent);
	api_client_release(&srv);
	cli_session_release(&s);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}
