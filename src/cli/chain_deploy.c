/*
 * chain_deploy.c — `flopmarket chain deploy`: deploys RentalEscrow (and, on a
 * dev chain, the dev tokens) with the key of a wallet, and writes the
 * deployment file (chain id, addresses, blocks, tx hashes) that every other
 * command reads. Refuses to overwrite a deployment of another chain.
 *
 *   flopmarket chain deploy [--wallet NAME] [--treasury 0x..] [--monitor 0x..]
 *       [--fee-bps N] [--arbiter-window SECS] [--allow-token 0x..]...
 *       [--dev-tokens [--mint-to 0x..]...] [--out FILE] [--artifacts DIR]
 * --allow-token names an ERC-20 token rentals may use (the dev tokens are allowed with --dev-tokens); only
 * tokens that move exactly the amount asked belong there (docs/escrow.md "Tokens").
 */
#include "cli/cli.h"
#include "cli/session.h"
#include "cli/wallet_file.h"
#include "core/err.h"
#include "escrow/deploy.h"
#include "escrow/escrow.h"
#include "eth/address.h"
#include "eth/rpc.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct deploy_args {
	const char *wallet;
	const char *out;
	struct escrow_deploy_opts o;
	struct eth_address mint[ESCROW_DEPLOY_MINT_MAX];
	struct eth_address allow[ESCROW_DEPLOY_TOKENS_MAX];
	int has_treasury;
};

static int deploy_usage(void)
{
	fprintf(stderr, "usage: flopmarket chain deploy [--wallet NAME] [--treasury 0xADDR] [--monitor 0xADDR]\n"
			"         [--fee-bps N] [--arbiter-window SECS (at most 2592000 = 30 days)]\n"
			"         [--allow-token 0xTOKEN]... [--dev-tokens [--mint-to 0xADDR]...]\n"
			"         [--out FILE] [--artifacts DIR]\n");
	return EXIT_USAGE;
}

static int deploy_number(uint64_t *out, const char *flag, const char *text, uint64_t max)
{
	struct err e = { 0 };

	if (cli_parse_uint(out, flag, text, 0, max, &e)) {
		fprintf(stderr, "flopmarket: %s\n", e.msg);
		return EXIT_INPUT;
	}
	return EXIT_OK;
}

static int deploy_address(struct eth_address *out, const char *flag, const char *text)
{
	struct err e = { 0 };

	if (address_parse(out, text, &e)) {
		fprintf(stderr, "flopmarket: %s: %s\n", flag, e.msg);
		return EXIT_INPUT;
	}
	return EXIT_OK;
}

static int deploy_parse(struct deploy_args *a, int argc, char **argv)
{
	uint64_t v;
	int rc = EXIT_OK;

	memset(a, 0, sizeof *a);
	a->wallet = "default";
	a->o.fee_bps = 250;
	a->o.arbiter_window_secs = 3 * 24 * 3600;
	a->o.mint_whole_tokens = 1000000;
	a->o.mint_to = a->mint;
	a->o.allow_tokens = a->allow;
	for (int i = 2; i < argc && rc == EXIT_OK; i++) {
		const char *f = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--dev-tokens") == 0) {
			a->o.dev_tokens = true;
			continue;
		}
		if (!val)
			return deploy_usage();
		i++;
		if (strcmp(f, "--wallet") == 0) {
			a->wallet = val;
		} else if (strcmp(f, "--out") == 0) {
			a->out = val;
		} else if (strcmp(f, "--artifacts") == 0) {
			a->o.artifacts_dir = val;
		} else if (strcmp(f, "--treasury") == 0) {
			rc = deploy_address(&a->o.treasury, f, val);
			a->has_treasury = 1;
		} else if (strcmp(f, "--monitor") == 0) {
			rc = deploy_address(&a->o.monitor, f, val);
		} else if (strcmp(f, "--fee-bps") == 0) {
			if (!(rc = deploy_number(&v, f, val, 1500)))
				a->o.fee_bps = (uint16_t)v;
		} else if (strcmp(f, "--arbiter-window") == 0) {
			if (!(rc = deploy_number(&v, f, val, ESCROW_MAX_ARBITER_WINDOW_SECS)))
				a->o.arbiter_window_secs = (uint32_t)v;
		} else if (strcmp(f, "--allow-token") == 0) {
			if (a->o.n_allow_tokens == ESCROW_DEPLOY_TOKENS_MAX - 3) {
				fprintf(stderr, "flopmarket: at most %d --allow-token\n", ESCROW_DEPLOY_TOKENS_MAX - 3);
				return EXIT_INPUT;
			}
			rc = deploy_address(&a->allow[a->o.n_allow_tokens++], f, val);
		} else if (strcmp(f, "--mint-to") == 0) {
			if (a->o.n_mint_to == ESCROW_DEPLOY_MINT_MAX) {
				fprintf(stderr, "flopmarket: at most %d --mint-to\n", ESCROW_DEPLOY_MINT_MAX);
				return EXIT_INPUT;
			}
			rc = deploy_address(&a->mint[a->o.n_mint_to++], f, val);
		} else {
			return deploy_usage();
		}
	}
	return rc;
}

static void deploy_print(const struct escrow_deployment *d, const char *path)
{
	char addr[ADDRESS_STR_MAX];

	printf("chain id %" PRIu64 ", fee %u bps, deployment file %s\n", d->chain_id,
	       (unsigned)d->fee_bps, path);
	for (size_t i = 0; i < d->n; i++) {
		address_to_checksum(addr, &d->c[i].address);
		printf("  %-14s %s  (block %" PRIu64 ")\n", d->c[i].name, addr, d->c[i].block);
	}
}

int chain_deploy(int argc, char **argv, struct cfg *cfg)
{
	struct deploy_args a;
	struct escrow_deployment d;
	struct rpc rpc;
	struct err e = { 0 };
	struct eth_address deployer;
	char wallet[WALLET_PATH_MAX], pass[WALLET_PASS_MAX + 2], out[WALLET_PATH_MAX + 64];
	uint8_t key[32];
	uint64_t chain_id;
	int rc;

	if ((rc = deploy_parse(&a, argc, argv)))
		return rc;
	if ((rc = wallet_path(wallet, sizeof wallet, cfg, a.wallet, &e)) ||
	    (rc = wallet_passphrase(pass, sizeof pass, "Passphrase: ", false, &e)) ||
	    (rc = wallet_unlock(key, &deployer, wallet, pass, &e))) {
		sodium_memzero(pass, sizeof pass);
		fprintf(stderr, "flopmarket: %s\n", e.msg);
		return cli_exit_for(rc);
	}
	sodium_memzero(pass, sizeof pass);
	a.o.owner = deployer;
	if (!a.has_treasury)
		a.o.treasury = deployer;
	if (a.o.dev_tokens && a.o.n_mint_to == 0)
		a.mint[a.o.n_mint_to++] = deployer;
	if ((rc = rpc_init(&rpc, cfg_get(cfg, "rpc_url"), NULL, &e)) ||
	    (rc = rpc_chain_id(&rpc, &chain_id, &e))) {
		fprintf(stderr, "flopmarket: cannot reach the chain at %s: %s\n", cfg_get(cfg, "rpc_url"), e.msg);
		if (!rc)
			rpc_release(&rpc);
		sodium_memzero(key, sizeof key);
		return cli_exit_for(rc);
	}
	if (a.out) {
		snprintf(out, sizeof out, "%s", a.out);
	} else {
		char dir[WALLET_PATH_MAX];
		if ((rc = wallet_data_dir(dir, sizeof dir, cfg, &e))) {
			fprintf(stderr, "flopmarket: %s\n", e.msg);
			rpc_release(&rpc);
			sodium_memzero(key, sizeof key);
			return cli_exit_for(rc);
		}
		snprintf(out, sizeof out, "%s/deployment-%" PRIu64 ".json", dir, chain_id);
	}
	rc = escrow_deploy(&d, &rpc, key, &a.o, out, &e);
	sodium_memzero(key, sizeof key);
	rpc_release(&rpc);
	if (rc) {
		fprintf(stderr, "flopmarket: deploy: %s\n", e.msg);
		return rc == ERR_CONFLICT ? EXIT_CHAIN : cli_exit_for(rc);
	}
	deploy_print(&d, out);
	return EXIT_OK;
}
