/*
 * deploy.h — deploying RentalEscrow (and, on a dev chain, the dev tokens) and the deployment file
 * other commands read.
 *
 * Contracts come from the build output `build/contracts/<Name>.json` ({"abi", "bytecode"}), written by
 * scripts/build-contracts. Every transaction is sent with escrow_send (client.h) and waited for.
 * The deployment file is JSON, written atomically (temporary file + rename):
 *
 *   {"chainId": 31337, "deployer": "0x..",
 *    "escrow": {"owner": "0x..", "treasury": "0x..", "monitor": "0x..", "feeBps": 1000,
 *               "arbiterWindowSecs": 604800},
 *    "contracts": {"RentalEscrow": {"address": "0x..", "block": 1, "tx": "0x.."},
 *                  "DevUSDC": {...}, "DevUSDT": {...}, "DevDAI": {...}}}
 *
 * A file that already holds a deployment for ANOTHER chain id is never overwritten (ERR_CONFLICT): one
 * file per chain. Dev tokens have an open mint, so they are only deployed on chain ids 31337 and 1337;
 * they are deployed before the escrow, whose constructor allows them (with `allow_tokens`).
 */
#ifndef FLOP_ESCROW_DEPLOY_H
#define FLOP_ESCROW_DEPLOY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eth/address.h"
#include "eth/rpc.h"

struct err;

#define ESCROW_DEPLOY_MAX 8               /* contracts in one deployment file */
#define ESCROW_DEPLOY_NAME_MAX 32         /* contract name length */
#define ESCROW_ARTIFACT_MAX ((size_t)8 << 20) /* largest build/contracts/<Name>.json read */
#define ESCROW_DEPLOY_FILE_MAX ((size_t)64 << 10) /* largest deployment file read */
#define ESCROW_DEPLOY_MINT_MAX 16         /* accounts minted to */

/* One deployed contract. */
struct escrow_deployed {
	char name[ESCROW_DEPLOY_NAME_MAX]; /* "RentalEscrow", "DevUSDC", ... */
	struct eth_address address;
	uint64_t block;                    /* block of the creation transaction */
	uint8_t tx_hash[32];               /* creation transaction */
};

/* A deployment as recorded in the deployment file. */
struct escrow_deployment {
	uint64_t chain_id;
	struct eth_address deployer;
	struct eth_address owner, treasury, monitor; /* the escrow's constructor arguments */
	uint16_t fee_bps;
	uint32_t arbiter_window_secs;
	struct escrow_deployed c[ESCROW_DEPLOY_MAX];
	size_t n;                          /* entries used in c */
};

/* What to deploy. */
struct escrow_deploy_opts {
	const char *artifacts_dir;         /* NULL: "build/contracts" */
	struct eth_address owner;          /* escrow owner (Ownable2Step) */
	struct eth_address treasury;       /* fee receiver (non-zero) */
	struct eth_address monitor;        /* uptime attestation key (zero: none) */
	uint16_t fee_bps;                  /* <= 1500 */
	uint32_t arbiter_window_secs;
	bool dev_tokens;                   /* also DevUSDC, DevUSDT, DevDAI (dev chains only), allowed */
	const struct eth_address *allow_tokens; /* ERC-20 tokens new rentals may use (docs/escrow.md) ... */
	size_t n_allow_tokens;             /* ... (with the dev tokens at most ESCROW_DEPLOY_TOKENS_MAX) */
	const struct eth_address *mint_to; /* dev tokens: mint to these accounts ... */
	size_t n_mint_to;                  /* ... (at most ESCROW_DEPLOY_MINT_MAX) */
	uint64_t mint_whole_tokens;        /* ... this many whole tokens of each (times 10^decimals) */
	unsigned timeout_ms;               /* per transaction receipt, 0: 60000 */
};

/*
 * Deploys through `r` with the deployer key, then writes the deployment file `out_path` (when not NULL)
 * and *out. Refuses (ERR_CONFLICT, nothing sent) when out_path holds a deployment for another chain id;
 * ERR_STATE for dev tokens on a non-dev chain; ERR_NOT_FOUND when an artifact is missing (run
 * scripts/build-contracts); ERR_REVERT with the decoded reason when a transaction reverts.
 */
int escrow_deploy(struct escrow_deployment *out, struct rpc *r, const uint8_t seckey32[32],
		  const struct escrow_deploy_opts *o, const char *out_path, struct err *e);

/* Reads the creation bytecode of build output `<dir>/<name>.json` into a fresh buffer (free it). */
int escrow_artifact_bytecode(uint8_t **code, size_t *len, const char *dir, const char *name, struct err *e);

/* Reads / writes a deployment file (save: atomic; ERR_CONFLICT when it holds another chain id). */
int escrow_deployment_load(struct escrow_deployment *out, const char *path, struct err *e);
int escrow_deployment_save(const struct escrow_deployment *d, const char *path, struct err *e);

/* Address of contract `name` in a deployment; ERR_NOT_FOUND when absent. */
int escrow_deployment_find(struct eth_address *out, const struct escrow_deployment *d, const char *name,
			   struct err *e);

#endif
