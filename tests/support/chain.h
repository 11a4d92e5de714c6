/*
 * chain.h — the small chain reads and pokes the integration tests make against their anvil node: the
 * head's time, a raw JSON-RPC call (evm_mine, evm_increaseTime, ...), a token balance, the escrow's
 * fee credit. Each fails the running test (cmocka) with the call and the error when it does not work,
 * so a test reads as what it checks.
 */
#ifndef FLOP_TESTS_SUPPORT_CHAIN_H
#define FLOP_TESTS_SUPPORT_CHAIN_H

#include <stdint.h>

#include "core/u256.h"
#include "eth/address.h"
#include "eth/rpc.h"

/* The latest block's timestamp. */
uint64_t chain_head_time(struct rpc *r);
/* Calls `method` with JSON `params` (e.g. "[60]") and drops the answer. */
void chain_rpc(struct rpc *r, const char *method, const char *params);
/* ERC-20 balanceOf(who) of token. */
u256 chain_balance(struct rpc *r, const struct eth_address *token, const struct eth_address *who);
/* The escrow's fee credit in token (fees(token)). */
u256 chain_fees(struct rpc *r, const struct eth_address *escrow, const struct eth_address *token);

#endif
