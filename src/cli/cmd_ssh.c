/*
 * cmd_ssh.c — `flopmarket ssh <rental> [-i KEY] [--server URL | --agent URL] [-- ssh args...]`:
 * logs in to the rental's account. The access details (host, port, user) are those the provider's
 * agent reported: from the server's rental view (GET /rentals/{id} → access), or from the agent's own
 * GET /rentals/{id}/access (docs/agent.md). Then exec()s ssh (-o options before the destination, what
 * follows `--` after it: the remote command); ssh's exit status is the command's.
 */
#include "cli/cli.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "core/err.h"
#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SSH_ARGS_MAX 32

#define SSH_ACCESS_TRIES 50 /* 10 s at 200 ms */

static int ssh_usage(void)
{
	fprintf(stderr, "usage: flopmarket ssh RENTAL [-i KEYFILE] [-o SSH_OPTION]... [--server URL | --agent URL]"
			" [-- command...]\n");
	return EXIT_USAGE;
}

int cmd_ssh(int argc, char **argv, struct cfg *cfg)
{
	const char *server = cfg_get(cfg, "server_url"), *agent = NULL, *key = NULL, *rental = NULL;
	const char *host, *user;
	char path[96], port_s[24], dest[320];
	char *args[SSH_ARGS_MAX * 2 + 16], *opts[SSH_ARGS_MAX];
	int nopts = 0;
	const json_t *acc;
	json_t *r = NULL;
	struct api_client c = { 0 };
	struct err e = { 0 };
	uint64_t id, port;
	int rc, i, n = 0, extra = argc;

	for (i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--") == 0) {
			extra = i + 1;
			break;
		} else if (strcmp(f, "-o") == 0 && v) {
			if (nopts == SSH_ARGS_MAX)
				return ssh_usage();
			opts[nopts++] = argv[++i];
		} else if (strcmp(f, "-i") == 0 && v) {
			key = v;
			i++;
		} else if (strcmp(f, "--server") == 0 && v) {
			server = v;
			i++;
		} else if (strcmp(f, "--agent") == 0 && v) {
			agent = v;
			i++;
		} else if (f[0] != '-' && !rental) {
			rental = f;
		} else {
			return ssh_usage();
		}
	}
	if (!rental || argc - extra > SSH_ARGS_MAX)
		return ssh_usage();
	if ((rc = cli_parse_rental_id(&id, rental, &e)))
		return cli_fail(rc, &e);
	if (!agent && !server) {
		fprintf(stderr, "flopmarket: ssh needs the server (--server URL or server_url) or --agent URL\n");
		return EXIT_USAGE;
	}
	if ((rc = api_client_init(&c, agent ? agent : server, &e)))
		return cli_fail(rc, &e);
	snprintf(path, sizeof path, agent ? "/rentals/%" PRIu64 "/access" : "/rentals/%" PRIu64, id);
	/* The agent grants access, then tells the server on its next round: right after `rent`, the server
	 * may not have it yet, so ask again for a few seconds before saying there is none. */
	for (int tries = 0;; tries++) {
		if ((rc = api_request(&c, &r, NULL, "GET", path, NULL, &e)))
			goto fail;
		acc = r;
		if (agent || !json_get(&acc, r, "access", NULL) || tries >= SSH_ACCESS_TRIES)
			break;
		json_decref(r);
		r = NULL;
		usleep(200 * 1000);
	}
	if (!agent && json_get(&acc, r, "access", NULL)) {
		rc = err_set(&e, ERR_STATE, "rental %" PRIu64 ": no access reported by the provider's agent yet "
			     "(did you give --ssh-key to rent? see flopmarket status %" PRIu64 ")", id, id);
		goto fail;
	}
	if ((rc = json_get_str(&host, acc, "host", 255, &e)) || (rc = json_get_str(&user, acc, "user", 32, &e)) ||
	    (rc = json_get_u64(&port, acc, "port", &e))) {
		if (rc == ERR_NOT_FOUND)
			rc = err_set(&e, ERR_STATE, "rental %" PRIu64 ": no access yet (the account is not active)", id);
		goto fail;
	}
	if (port == 0 || port > 65535 || host[0] == '-' || user[0] == '-' ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != strlen(host) ||
	    strspn(user, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(user)) {
		rc = err_set(&e, ERR_INVALID, "rental %" PRIu64 ": malformed access details", id);
		goto fail;
	}
	snprintf(port_s, sizeof port_s, "%" PRIu64, port);
	snprintf(dest, sizeof dest, "%s@%s", user, host);
	args[n++] = "ssh";
	args[n++] = "-p";
	args[n++] = port_s;
	if (key) {
		args[n++] = "-i";
		args[n++] = (char *)key;
		args[n++] = "-o";
		args[n++] = "IdentitiesOnly=yes";
	}
	for (i = 0; i < nopts; i++) {
		args[n++] = "-o";
		args[n++] = opts[i];
	}
	args[n++] = dest;
	for (i = extra; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(stdout);
	execvp("ssh", args);
	rc = err_set(&e, ERR_NOT_FOUND, "cannot run ssh (is OpenSSH installed?)");
fail:
	json_decref(r);
	api_client_release(&c);
	return cli_fail(rc, &e);
}
