/*
 * main.c — the flopmarket binary: global flags, configuration layers and the
 * subcommand table (git-style: `flopmarket <command> [args]`).
 *
 * Global flags come before the command: --config FILE, --rpc-url URL,
 * --log-level LEVEL. Environment: FLOPMARKET_<KEY> for every key below.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/log.h"

#include <stdio.h>
#include <string.h>

const struct cfg_key cli_cfg_keys[] = {
	{ "rpc_url", "http://127.0.0.1:8545", "JSON-RPC endpoint of the chain" },
	{ "chain_id", NULL, "expected chain id; commands refuse a node on another chain" },
	{ "data_dir", NULL, "where keystores and local state live (default ~/.flopmarket)" },
	{ "log_level", "info", "debug, info, warn or error" },
	{ "keystore_scrypt_log2_n", NULL, "scrypt cost of new wallet files, 10..18 (default 18)" },
	{ "deployment", NULL, "deployment file (default <data_dir>/deployment-<chainId>.json)" },
	{ "server_url", NULL, "marketplace server for search, rent, ssh, rate, receipts" },
};
const size_t cli_cfg_key_count = sizeof cli_cfg_keys / sizeof cli_cfg_keys[0];

static const struct cli_command commands[] = {
	{ "chain", cmd_chain, "chain information (chain id, block, balances)" },
	{ "wallet", cmd_wallet, "keys: new, import, show, balance, derive" },
	{ "serve", cmd_serve, "run the marketplace server (see docs/api.md)" },
	{ "search", cmd_search, "find offers: search 'gpu=RTX_4090 price<=0.8' [-o price]" },
	{ "rent", cmd_rent, "rent an offer: rent OFFER --hours N [--ssh-key FILE]" },
	{ "status", cmd_status, "a rental's time and cost from the chain [--watch]" },
	{ "ssh", cmd_ssh, "log in to a rental over SSH" },
	{ "ssh-key", cmd_ssh_key, "deliver (or rotate) a rental's SSH key: ssh-key RENTAL KEY.pub" },
	{ "extend", cmd_rental_tx, "add time to a rental: extend RENTAL --hours N" },
	{ "stop", cmd_rental_tx, "stop a rental and get the unused deposit back" },
	{ "dispute", cmd_rental_tx, "dispute an ended rental within its dispute window" },
	{ "rate", cmd_rate, "rate an ended rental 1..5" },
	{ "receipts", cmd_receipts, "your receipts [--csv]" },
	{ "agent", cmd_agent, "run the provider agent on this GPU host (docs/agent.md)" },
	{ "provider", cmd_provider, "provider: offer, earnings, claim, reclaim" },
	{ "version", cmd_version, "print the version" },
};

int cli_exit_for(int code)
{
	switch (code) {
	case 0: return EXIT_OK;
	case ERR_INVALID: case ERR_TOO_BIG: case ERR_RANGE: case ERR_CHECKSUM:
	case ERR_NONCANONICAL: case ERR_DEPTH: return EXIT_INPUT;
	case ERR_NET: case ERR_TIMEOUT: case ERR_RPC: return EXIT_NETWORK;
	case ERR_REVERT: case ERR_STATE: return EXIT_CHAIN;
	case ERR_AUTH: return EXIT_AUTH;
	default: return EXIT_FAIL;
	}
}

int cmd_version(int argc, char **argv, struct cfg *cfg)
{
	(void)argc; (void)argv; (void)cfg;
	printf("flopmarket 0.1.0\n");
	return EXIT_OK;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: flopmarket [--config FILE] [--rpc-url URL] [--log-level L] <command> [args]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nsettings (flag > FLOPMARKET_<KEY> > config file > default):\n");
	for (size_t i = 0; i < cli_cfg_key_count; i++)
		fprintf(f, "  %-10s %s\n", cli_cfg_keys[i].name, cli_cfg_keys[i].help);
}

/* Consumes global flags; returns the index of the command word or -1. */
static int parse_globals(int argc, char **argv, struct cfg *cfg, const char **config_path)
{
	struct err e = { 0 };
	int i = 1;

	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *flag = argv[i] + 2;
		char key[32];
		if (strcmp(flag, "help") == 0)
			return -1;
		if (i + 1 >= argc) {
			fprintf(stderr, "flopmarket: flag --%s needs a value\n", flag);
			return -2;
		}
		if (strcmp(flag, "config") == 0) {
			*config_path = argv[++i];
			continue;
		}
		snprintf(key, sizeof key, "%s", flag);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		if (cfg_set(cfg, key, argv[++i], CFG_FLAG, &e)) {
			fprintf(stderr, "flopmarket: --%s: %s\n", flag, e.msg);
			return -2;
		}
	}
	return i < argc ? i : -1;
}

int main(int argc, char **argv)
{
	struct cfg cfg;
	struct err e = { 0 };
	const char *config_path = NULL;
	int rc, cmd;

	/* A rental account's login shell (enter.h): before any configuration, which is not the renter's. */
	if (argc >= 2 && strcmp(argv[1], "enter") == 0)
		return cmd_enter(argc - 1, argv + 1);
	if (cfg_init(&cfg, cli_cfg_keys, cli_cfg_key_count)) {
		fprintf(stderr, "flopmarket: out of memory\n");
		return EXIT_FAIL;
	}
	cmd = parse_globals(argc, argv, &cfg, &config_path);
	if (cmd < 0) {
		usage(cmd == -1 ? stdout : stderr);
		cfg_release(&cfg);
		return cmd == -1 ? (argc > 1 ? EXIT_OK : EXIT_USAGE) : EXIT_USAGE;
	}
	if ((config_path && cfg_load_file(&cfg, config_path, &e)) ||
	    cfg_load_env(&cfg, "FLOPMARKET_", &e)) {
		fprintf(stderr, "flopmarket: %s\n", e.msg);
		cfg_release(&cfg);
		return EXIT_INPUT;
	}
	int lvl = log_level_parse(cfg_get(&cfg, "log_level"));
	if (lvl < 0) {
		fprintf(stderr, "flopmarket: log_level must be debug, info, warn or error\n");
		cfg_release(&cfg);
		return EXIT_INPUT;
	}
	log_set_level((enum log_level)lvl);
	if (strcmp(argv[cmd], "help") == 0) {
		usage(stdout);
		cfg_release(&cfg);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[cmd], commands[i].name) == 0) {
			rc = commands[i].run(argc - cmd, argv + cmd, &cfg);
			cfg_release(&cfg);
			return rc;
		}
	}
	fprintf(stderr, "flopmarket: unknown command '%s' (try: flopmarket help)\n", argv[cmd]);
	cfg_release(&cfg);
	return EXIT_USAGE;
}
