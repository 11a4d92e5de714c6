/*
 * client.h — talking to a RentalEscrow deployment through JSON-RPC (eth/rpc.h): eth_call with decoded
 * reverts, one-shot signed transactions, EIP-2612 permit preparation from the token's own domain, and
 * picking escrow events out of receipts.
 *
 * escrow_send is for interactive and test use: it pre-runs the call (eth_call) so a revert is reported
 * by name before anything is signed ("OfferExpired(expiry=1700000000)"), estimates gas (+20 %), signs an
 * EIP-1559 transaction and waits for its receipt. It keeps no journal: long-running processes that must
 * survive restarts use eth/sender.h with the calldata from escrow.h instead.
 */
#ifndef FLOP_ESCROW_CLIENT_H
#define FLOP_ESCROW_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/u256.h"
#include "escrow/escrow.h"
#include "eth/address.h"
#include "eth/rpc.h"

struct err;

#define ESCROW_CD_MAX 4096              /* calldata of any escrow or ERC-20 call we build (open with a permit: < 1 KiB) */
#define ESCROW_RET_MAX ((size_t)64 << 10) /* return data of a view call we read */
#define ESCROW_TOKEN_NAME_MAX 128   /* longest token name accepted for a permit domain */
#define ESCROW_TOKEN_VERSION_MAX 32 /* longest permit domain version */

/*
 * eth_call of `data` on `to` at "latest" (from `from` when not NULL); appends the return data to `ret`.
 * A revert is ERR_REVERT with the decoded message in `e` (escrow_revert_message).
 */
int escrow_eth_call(struct rpc *r, struct buf *ret, const struct eth_address *from,
		    const struct eth_address *to, const uint8_t *data, size_t n, struct err *e);

/* eth_call returning one uint256 / address / bytes32 word. */
int escrow_call_u256(struct rpc *r, u256 *out, const struct eth_address *to, const struct buf *calldata,
		     struct err *e);
int escrow_call_address(struct rpc *r, struct eth_address *out, const struct eth_address *to,
			const struct buf *calldata, struct err *e);
int escrow_call_bytes32(struct rpc *r, uint8_t out32[32], const struct eth_address *to,
			const struct buf *calldata, struct err *e);

/* The live packed state word of the rental with Terms t (`rentals(rentalKey(t))` at "latest"); zero when it
 * is closed or was never opened. The one place clients read it (CLI status and transactions, terminal). */
int escrow_rental_word(struct rpc *r, u256 *word, const struct eth_address *escrow, const struct escrow_terms *t,
		       struct err *e);

/* Balance of `owner` in `token` (zero address: the native coin, via eth_getBalance) at "latest". */
int escrow_token_balance(struct rpc *r, u256 *out, const struct eth_address *token,
			 const struct eth_address *owner, struct err *e);

/*
 * The gas limit escrow_send gives a transaction whose eth_estimateGas was `estimate`: +20 % and
 * ESCROW_GAS_HEADROOM. The estimate runs in the pending block; the block that includes the transaction comes
 * later, and rental calls take time-dependent paths: a `stop` in the opening second pays nothing to the provider,
 * one second later it makes a first token transfer to the payout address and the first fee credit (measured:
 * 67k estimated, 117k needed). Without the headroom such a `stop` ran out of gas and reverted
 * on chain (issue 8.17). Unused gas is not paid: only the limit is higher.
 */
#define ESCROW_GAS_HEADROOM 80000u
uint64_t escrow_gas_limit(uint64_t estimate);

/*
 * Signs and sends a transaction from the key's account (to NULL: contract creation with `data` as the
 * init code), waits up to timeout_ms for its receipt (rpc_receipt_release it). A call that would revert
 * is ERR_REVERT with the decoded reason and nothing is sent; a transaction mined with status 0 is
 * ERR_REVERT too (the receipt is still written). value NULL = 0.
 */
int escrow_send(struct rpc *r, struct rpc_receipt *out, uint64_t chain_id, const uint8_t seckey32[32],
		const struct eth_address *to, const u256 *value, const uint8_t *data, size_t n,
		unsigned timeout_ms, struct err *e);

/* A token's EIP-2612 domain and the owner's permit nonce, read from the token. */
struct escrow_permit_domain {
	char name[ESCROW_TOKEN_NAME_MAX];       /* EIP-712 domain name */
	char version[ESCROW_TOKEN_VERSION_MAX]; /* EIP-712 domain version */
	u256 nonce;                             /* nonces(owner) */
};

/*
 * Reads the permit domain of `token` (ERC-5267 eip712Domain() when it answers, else name() and
 * version(), version "1" when absent) and nonces(owner), and checks that the domain separator this
 * gives equals the token's DOMAIN_SEPARATOR() (ERR_INVALID if not: the permit would be refused).
 */
int escrow_permit_domain_read(struct rpc *r, struct escrow_permit_domain *out, uint64_t chain_id,
			      const struct eth_address *token, const struct eth_address *owner,
			      struct err *e);

/*
 * Prepares and signs permit(owner = the key's account, spender, value, deadline) for `token`:
 * reads the domain and nonce (escrow_permit_domain_read) and writes r || s || v (v = 27/28).
 */
int escrow_permit_sign_for(struct rpc *r, uint8_t sig65[65], uint64_t chain_id, const struct eth_address *token,
			   const struct eth_address *spender, const u256 *value, const u256 *deadline,
			   const uint8_t owner_seckey32[32], struct err *e);

/*
 * Finds the first escrow event of `kind` emitted by `escrow` in a receipt (logs from other addresses
 * and other events are skipped). ERR_NOT_FOUND when there is none.
 */
int escrow_receipt_event(struct escrow_event *out, const struct rpc_receipt *rc,
			 const struct eth_address *escrow, enum escrow_event_kind kind, struct err *e);

#endif
