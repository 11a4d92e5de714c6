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

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	{ "offer", cmd_offer_show, "one offer in full: machine, access, price and terms, the provider's history" },
	{ "verify", cmd_verify, "measure a rental's GPUs inside it and compare them with its listing (evidence)" },
	{ "jupyter", cmd_jupyter, "a one-time link that opens the rental's Jupyter notebook in a browser" },
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

/* The command called `name`, or NULL. */
static const struct cli_command *command_find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* Edit distance of a and b (insert, delete, substitute, swap two neighbours), capped at 3. */
static unsigned edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned d[24][24];

	if (la > 22 || lb > 22)
		return 3;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb] < 3 ? d[la][lb] : 3;
}

/* The command nearest to a mistyped word (distance 1 or 2, ties: the first), or NULL. */
static const char *command_nearest(const char *word)
{
	const char *best = NULL;
	unsigned bd = 3;

	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		unsigned d = edit_distance(word, commands[i].name);
		if (d < bd) {
			bd = d;
			best = commands[i].name;
		}
	}
	return bd <= 2 ? best : NULL;
}

/* True when the words after the command ask for help ("--help" or "-h" before any "--": after it, the
 * words are someone else's, e.g. the remote command of `ssh RENTAL -- ls -h`). */
static bool help_asked(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

/*
 * A command's help, asked for: `flopmarket help CMD`, `CMD --help`, `CMD SUB --help`, `CMD -h`. Every command
 * prints its usage to stderr when called wrongly (and exits 2); asked for, the same text is the answer, so
 * it goes to stdout (`rent --help | less`) and the exit is 0.
 */
static int command_help(const struct cli_command *c, struct cfg *cfg)
{
	char *argv[] = { (char *)c->name, (char *)"--help", NULL };
	int rc;

	fflush(stderr);
	if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
		return EXIT_FAIL;
	rc = c->run(2, argv, cfg);
	fflush(stdout);
	return rc == EXIT_USAGE ? EXIT_OK : rc;
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
		usage(cmd == -1 && argc > 1 ? stdout : stderr); /* asked for: stdout; no command at all: an error */
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
		const struct cli_command *c = cmd + 1 < argc ? command_find(argv[cmd + 1]) : NULL;
		if (cmd + 1 < argc && !c) {
			const char *near = command_nearest(argv[cmd + 1]);
			fprintf(stderr, "flopmarket help: no command '%.40s'%s%s%s\n", argv[cmd + 1],
				near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
			rc = EXIT_USAGE;
		} else if (c) {
			rc = command_help(c, &cfg);
		} else {
			usage(stdout);
			rc = EXIT_OK;
		}
		cfg_release(&cfg);
		return rc;
	}
	const struct cli_command *c = command_find(argv[cmd]);
	if (c) {
		rc = help_asked(argc - cmd, argv + cmd) ? command_help(c, &cfg) : c->run(argc - cmd, argv + cmd, &cfg);
		cfg_release(&cfg);
		return rc;
	}
	const char *near = command_nearest(argv[cmd]);
	if (near)
		fprintf(stderr, "flopmarket: unknown command '%.40s' (did you mean '%s'? all commands: flopmarket help)\n",
			argv[cmd], near);
	else
		fprintf(stderr, "flopmarket: unknown command '%.40s' (try: flopmarket help)\n", argv[cmd]);
	cfg_release(&cfg);
	return EXIT_USAGE;
}
