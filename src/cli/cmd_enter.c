/*
 * cmd_enter.c — `flopmarket enter --socket PATH [-c COMMAND]`: what a rental account's login shell runs
 * when rentals are instances (agent/enter.h). Not for people: sshd and the browser terminal call it.
 */
#include "cli/cli.h"

#include "agent/enter.h"

#include <stdio.h>
#include <string.h>

int cmd_enter(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "--socket") != 0) {
		fprintf(stderr, "usage: flopmarket enter --socket PATH [-c COMMAND] (a rental account's login shell)\n");
		return EXIT_USAGE;
	}
	return enter_client_run(argv[2], argc - 3, argv + 3);
}
