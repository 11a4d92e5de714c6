/*
 * server.c — start and stop `flopmarket serve` for the integration tests (see server.h).
 */
#include "support/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/child.h"

#define LISTENING "listening on http://127.0.0.1:"

/* The common flags first, then the test's own; NULL-terminated in argv (room SERVER_CHILD_ARGS_MAX + 24). */
static int server_argv(char **argv, size_t cap, const struct server_child_opts *o)
{
	const char *common[] = { "flopmarket", "--rpc-url", o->rpc_url, "serve", "--listen", "127.0.0.1:0",
				 "--db", o->db, "--deployment", o->deployment, "--confirmations", "0",
				 "--indexer-poll-ms", "100", "--token-usd", "dUSDC=1,dUSDT=1,dDAI=1,ETH=3000",
				 "--monitor-interval-ms", o->monitor_ms ? o->monitor_ms : "0",
				 "--rate-per-min", "100000" };
	size_t n = 0;

	for (size_t i = 0; i < sizeof common / sizeof common[0]; i++)
		argv[n++] = (char *)common[i];
	for (const char *const *x = o->extra; x && *x; x++) {
		if (n + 1 >= cap)
			return -1;
		argv[n++] = (char *)*x;
	}
	argv[n] = NULL;
	return 0;
}

int server_child_start(struct server_child *s, const struct server_child_opts *o, char *why, size_t cap)
{
	char *argv[SERVER_CHILD_ARGS_MAX + 24];
	char text[16384];
	const char *line;
	size_t from = child_file_size(o->log);

	memset(s, 0, sizeof *s);
	if (server_argv(argv, sizeof argv / sizeof argv[0], o)) {
		snprintf(why, cap, "more than %d extra server flags", SERVER_CHILD_ARGS_MAX);
		return -1;
	}
	s->pid = child_spawn(o->bin, argv, o->log, o->env);
	if (s->pid < 0) {
		s->pid = 0;
		snprintf(why, cap, "fork failed");
		return -1;
	}
	line = child_wait_log(text, sizeof text, o->log, LISTENING, from, SERVER_CHILD_START_S);
	if (!line) {
		snprintf(why, cap, "the server did not listen within %d s: %s", SERVER_CHILD_START_S,
			 text + (strlen(text) > from ? from : strlen(text)));
		server_child_stop(s, SIGKILL);
		return -1;
	}
	s->port = (uint16_t)atoi(line + strlen(LISTENING));
	snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
	return 0;
}

void server_child_stop(struct server_child *s, int sig)
{
	child_stop(&s->pid, sig);
}
