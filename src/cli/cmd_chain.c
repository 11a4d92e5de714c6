/*
 * cmd_chain.c — `flopmarket chain info [--account ADDR]`: what the configured
 * node says about itself (chain id, latest block, base fee) and, optionally,
 * an account's native balance and nonce. Refuses a node on another chain
 * when chain_id is configured (the wrong-network guard every money command
 * shares). `chain deploy` lives in chain_deploy.c.
 */
#include "cli/cli.h"
#include "core/err.h"
#include "core/u256.h"
#include "eth/address.h"
#include "eth/rpc.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int chain_usage(void)
{
	fprintf(stderr, "usage: flopmarket chain info [--account 0xADDRESS]\n"
			"       flopmarket chain deploy [options]   (see: flopmarket chain deploy --help)\n"
			"       flopmarket chain faucet --to 0xADDRESS [--wallet NAME] [--coin AMOUNT] [--tokens N]  (dev chains)\n");
	return EXIT_USAGE;
}

static int chain_check_id(struct cfg *cfg, uint64_t got)
{
	uint64_t want;
	struct err e = { 0 };

	if (!cfg_get(cfg, "chain_id"))
		return EXIT_OK;
	if (cfg_get_u64(cfg, "chain_id", &want, &e)) {
		fprintf(stderr, "flopmarket: %s\n", e.msg);
		return EXIT_INPUT;
	}
	if (want != got) {
		fprintf(stderr, "flopmarket: wrong network: the node at %s is chain %" PRIu64
			", expected chain %" PRIu64 " (check --rpc-url or chain_id)\n",
			cfg_get(cfg, "rpc_url"), got, want);
		return EXIT_CHAIN;
	}
	return EXIT_OK;
}

static int chain_info(struct cfg *cfg, const char *account)
{
	struct rpc rpc;
	struct err e = { 0 };
	struct eth_address addr;
	struct rpc_block block;
	uint64_t chain_id, nonce;
	u256 balance;
	char text[U256_DEC_MAX + 2], addr_text[ADDRESS_STR_MAX];
	int rc;

	if (account && address_parse(&addr, account, &e)) {
		fprintf(stderr, "flopmarket: --account: %s\n", e.msg);
		return EXIT_INPUT;
	}
	if (rpc_init(&rpc, cfg_get(cfg, "rpc_url"), NULL, &e)) {
		fprintf(stderr, "flopmarket: rpc_url: %s\n", e.msg);
		return EXIT_INPUT;
	}
	memset(&block, 0, sizeof block);
	if ((rc = rpc_chain_id(&rpc, &chain_id, &e)) ||
	    (rc = rpc_get_block(&rpc, &block, "latest", &e))) {
		fprintf(stderr, "flopmarket: cannot reach the chain at %s: %s\n",
			cfg_get(cfg, "rpc_url"), e.msg);
		rpc_release(&rpc);
		return cli_exit_for(rc);
	}
	rc = chain_check_id(cfg, chain_id);
	if (rc) {
		rpc_release(&rpc);
		return rc;
	}
	printf("chain id:     %" PRIu64 "\n", chain_id);
	printf("latest block: %" PRIu64 " (timestamp %" PRIu64 ")\n", block.number, block.timestamp);
	if (block.has_base_fee) {
		u256_format_units(text, &block.base_fee_per_gas, 9);
		printf("base fee:     %s gwei\n", text);
	}
	if (account) {
		if ((rc = rpc_get_balance(&rpc, &balance, &addr, "latest", &e)) ||
		    (rc = rpc_get_tx_count(&rpc, &nonce, &addr, "latest", &e))) {
			fprintf(stderr, "flopmarket: %s\n", e.msg);
			rpc_release(&rpc);
			return cli_exit_for(rc);
		}
		address_to_checksum(addr_text, &addr);
		u256_format_units(text, &balance, 18);
		printf("account:      %s\n", addr_text);
		printf("balance:      %s (native coin, 18 decimals)\n", text);
		printf("nonce:        %" PRIu64 "\n", nonce);
	}
	rpc_release(&rpc);
	return EXIT_OK;
}

int cmd_chain(int argc, char **argv, struct cfg *cfg)
{
	const char *account = NULL;

	if (argc >= 2 && strcmp(argv[1], "deploy") == 0)
		return chain_deploy(argc, argv, cfg);
	if (argc >= 2 && strcmp(argv[1], "faucet") == 0)
		return chain_faucet(argc, argv, cfg);
	if (argc < 2 || strcmp(argv[1], "info") != 0)
		return chain_usage();
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--account") == 0 && i + 1 < argc)
			account = argv[++i];
		else
			return chain_usage();
	}
	return chain_info(cfg, account);
}
