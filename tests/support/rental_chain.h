/*
 * rental_chain.h — a real anvil with the escrow deployed and native-coin rentals opened on it by the
 * renter's key, for the tests that serve a rental's browser features in-process (terminal, Jupyter):
 * they look the rental up from this chain as the agent's daemon would. Keys are anvil's public
 * development keys (test use only): 0 deployer, 1 renter, 2 provider.
 */
#ifndef FLOP_TESTS_SUPPORT_RENTAL_CHAIN_H
#define FLOP_TESTS_SUPPORT_RENTAL_CHAIN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "escrow/escrow.h"
#include "eth/address.h"
#include "eth/rpc.h"
#include "support/anvil.h"

#define RENTAL_CHAIN_ID 31337
#define RENTAL_CHAIN_TIMEOUT_MS 20000

struct rental_chain {
	struct anvil node;
	struct rpc rpc;                  /* guarded by rpc_mu when lookups run on server threads */
	pthread_mutex_t rpc_mu;
	struct eth_address escrow;
	uint8_t renter_key[32], provider_key[32];
	struct eth_address renter, provider;
	bool up;
};

/*
 * Starts anvil and deploys the escrow from the repo's build/contracts. 0: up; 1: skipped, with *why
 * ("anvil not installed", "build/contracts missing ..."); -1: failed, with e saying how.
 */
int rental_chain_up(struct rental_chain *c, const char **why, struct err *e);

/*
 * Opens a 1-coin-per-hour native rental with a 1 h deposit from the renter to the provider (offer
 * nonce `nonce`: one per rental of a run); its Terms into *out.
 */
int rental_chain_open(struct rental_chain *c, struct escrow_terms *out, uint64_t nonce, struct err *e);

/* The renter stops the rental on chain. */
int rental_chain_stop(struct rental_chain *c, const struct escrow_terms *t, struct err *e);

/* Stops anvil (and releases the RPC client). Safe when never up. */
void rental_chain_down(struct rental_chain *c);

#endif
