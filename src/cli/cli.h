/*
 * cli.h — what the flopmarket subcommands share: the command table entry,
 * the global configuration keys, and exit codes.
 *
 * Only main() and cmd_* functions may exit; each cmd_* returns an exit code.
 * Exit codes (documented in README and docs/cli.md):
 *   0 ok, 1 failure, 2 usage error, 3 bad input, 4 network/RPC unreachable,
 *   5 chain refused (revert, wrong network), 6 authentication (passphrase).
 */
#ifndef FLOP_CLI_H
#define FLOP_CLI_H

#include "core/cfg.h"

enum cli_exit {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_INPUT = 3,
	EXIT_NETWORK = 4,
	EXIT_CHAIN = 5,
	EXIT_AUTH = 6,
};

struct cli_command {
	const char *name;                   /* subcommand word */
	int (*run)(int argc, char **argv, struct cfg *cfg); /* argv[0] is the name */
	const char *summary;                /* one line for `flopmarket help` */
};

/* Global settings every command may read (defaults < file < env < flags). */
extern const struct cfg_key cli_cfg_keys[];
extern const size_t cli_cfg_key_count;

/* Maps an ERR_* code to the exit code a user sees. */
int cli_exit_for(int err_code);

/* `flopmarket enter --socket PATH [-c COMMAND]`: a rental account's login shell in an instance (enter.h). */
int cmd_enter(int argc, char **argv);
int cmd_version(int argc, char **argv, struct cfg *cfg);
int cmd_chain(int argc, char **argv, struct cfg *cfg);
int cmd_wallet(int argc, char **argv, struct cfg *cfg);
int cmd_serve(int argc, char **argv, struct cfg *cfg);
/* Renter commands (cmd_search.c, cmd_rent.c, cmd_status.c, cmd_ssh.c, cmd_rental_tx.c, cmd_rate.c,
 * cmd_receipts.c; docs/cli.md). cmd_rental_tx serves extend, stop and dispute (argv[0] says which). */
int cmd_search(int argc, char **argv, struct cfg *cfg);
int cmd_rent(int argc, char **argv, struct cfg *cfg);
int cmd_status(int argc, char **argv, struct cfg *cfg);
int cmd_ssh(int argc, char **argv, struct cfg *cfg);
int cmd_jupyter(int argc, char **argv, struct cfg *cfg); /* cmd_jupyter.c */
int cmd_verify(int argc, char **argv, struct cfg *cfg);  /* cmd_verify.c */
int cmd_offer_show(int argc, char **argv, struct cfg *cfg);   /* cmd_offer.c */
int cmd_ssh_key(int argc, char **argv, struct cfg *cfg);
int cmd_rental_tx(int argc, char **argv, struct cfg *cfg);
int cmd_rate(int argc, char **argv, struct cfg *cfg);
int cmd_receipts(int argc, char **argv, struct cfg *cfg);

/* Provider: the agent daemon (cmd_agent.c) and offer/earnings/claim/reclaim (cmd_provider.c). */
int cmd_agent(int argc, char **argv, struct cfg *cfg);
int cmd_provider(int argc, char **argv, struct cfg *cfg);
int cmd_gpu_check(int argc, char **argv); /* provider gpu-check, cmd_gpu_check.c */

/* `chain deploy` (chain_deploy.c), dispatched from cmd_chain. */
int chain_deploy(int argc, char **argv, struct cfg *cfg);
/* `chain faucet` (chain_faucet.c): dev tokens and gas coin for a new wallet on a dev chain. */
int chain_faucet(int argc, char **argv, struct cfg *cfg);

#endif
