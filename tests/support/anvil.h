/*
 * anvil.h — test helper: run a real anvil (Foundry's local EVM node).
 *
 * The binary is node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil under
 * the repository root, found from $FLOPMARKET_ROOT or by walking up from
 * the current directory. anvil_start picks a free 127.0.0.1 port (bind port
 * 0, read it back, pass --port; retried if another process takes it first),
 * runs anvil with --silent --host 127.0.0.1 and the default mnemonic, and
 * waits (at most 10 s) until eth_chainId answers. anvil_stop sends SIGTERM,
 * then SIGKILL after 2 s, and reaps the child; it is safe to call twice and
 * on a never-started struct (zero-initialise it). The child also gets
 * SIGKILL if the test process dies (PR_SET_PDEATHSIG).
 *
 * anvil_account returns the well-known anvil/hardhat development keys 0..2
 * (from the public "test test ... junk" mnemonic). They are TEST KEYS ONLY:
 * everyone knows them; never use them on a real chain.
 */
#ifndef FLOP_TESTS_ANVIL_H
#define FLOP_TESTS_ANVIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "eth/address.h"

struct err;

struct anvil_opts {
	bool no_mining;          /* --no-mining: blocks only on evm_mine */
	unsigned block_time_s;   /* --block-time N (0: automine) */
	uint64_t chain_id;       /* --chain-id (0: anvil's 31337) */
	uint64_t base_fee;       /* --block-base-fee-per-gas (0: anvil default) */
};

struct anvil {
	pid_t pid;           /* child pid, 0 when not running */
	uint16_t port;       /* 127.0.0.1 port it listens on */
	char url[64];        /* "http://127.0.0.1:PORT" */
};

/* Starts anvil; opts NULL = defaults. ERR_NOT_FOUND when the binary is missing. */
int anvil_start(struct anvil *a, const struct anvil_opts *opts, struct err *e);

/* Stops and reaps anvil. NULL and never-started structs are fine. */
void anvil_stop(struct anvil *a);

/* Writes the repository root into out (room cap). */
int anvil_repo_root(char *out, size_t cap, struct err *e);

/* Test key i (0..2) of anvil's default mnemonic; address optional. -1 for other i. */
int anvil_account(unsigned i, uint8_t seckey32_out[32], struct eth_address *address_out);

#endif
