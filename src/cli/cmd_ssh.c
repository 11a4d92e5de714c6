/*
 * cmd_ssh.c — `flopmarket ssh <rental> [-i KEY] [--server URL | --agent URL] [-- ssh args...]`:
 * logs in to the rental's account. The access details (host, port, user) are those the provider's
 * agent reported: from the server's rental view (GET /rentals/{id} → access), or from the agent's own
 * GET /rentals/{id}/access (docs/agent.md), with the sshd's host keys the agent reported: they go to a
 * known_hosts file of the rental's own (<data_dir>/known_hosts/rental-<id>) and ssh checks the host
 * against it alone (StrictHostKeyChecking=yes), so a script's first login works and nothing lands in
 * ~/.ssh/known_hosts. Then exec()s ssh (-o options before the destination, what follows `--` after it:
 * the remote command); ssh's exit status is the command's.
 */
#include "cli/cli.h"
#include "cli/rent_access.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "cli/wallet_file.h"
#include "core/err.h"
#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SSH_ARGS_MAX 32

static int ssh_usage(void)
{
	fprintf(stderr, "usage: flopmarket ssh RENTAL [-i KEYFILE] [-o SSH_OPTION]... [--server URL | --agent URL]"
			" [-- command...]\n");
	return EXIT_USAGE;
}

int cmd_ssh(int argc, char **argv, struct cfg *cfg)
{
	const char *server = cfg_get(cfg, "server_url"), *agent = NULL, *key = NULL, *rental = NULL;
	struct cli_ssh_dest dst;
	char port_s[24], dest[320], known[WALLET_PATH_MAX + 64], known_opt[WALLET_PATH_MAX + 96];
	/* ssh -p PORT [-i KEY -o IdentitiesOnly=yes] (-o OPT){<=32} (-o pin){3} DEST (ARG){<=32} NULL */
	char *args[3 + 4 + 2 * SSH_ARGS_MAX + 6 + 1 + SSH_ARGS_MAX + 1], *opts[SSH_ARGS_MAX];
	int nopts = 0;
	struct err e = { 0 };
	uint64_t id;
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
	if ((rc = cli_rental_ssh(&dst, server, agent, id, &e)) ||
	    (rc = cli_known_hosts_write(known, sizeof known, cfg, &dst, id, &e)))
		return cli_fail(rc, &e);
	if (dst.n_host_keys == 0)
		fprintf(stderr, "flopmarket: the provider's agent reported no SSH host key: trusting the host's key on "
				"first use (kept in %s)\n", known);
	snprintf(known_opt, sizeof known_opt, "UserKnownHostsFile=%s", known);
	snprintf(port_s, sizeof port_s, "%u", dst.port);
	snprintf(dest, sizeof dest, "%s@%s", dst.user, dst.host);
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
	/* after the user's -o (ssh keeps the first value given): the rental's pinned keys, nothing else */
	args[n++] = "-o";
	args[n++] = known_opt;
	args[n++] = "-o";
	args[n++] = "GlobalKnownHostsFile=/dev/null";
	args[n++] = "-o";
	args[n++] = dst.n_host_keys ? "StrictHostKeyChecking=yes" : "StrictHostKeyChecking=accept-new";
	args[n++] = dest;
	for (i = extra; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(stdout);
	execvp("ssh", args);
	rc = err_set(&e, ERR_NOT_FOUND, "cannot run ssh (is OpenSSH installed?)");
	return cli_fail(rc, &e);
}
