/*
 * relay.h — C bindings of contracts/RentalRelay.sol (gasless rentals): the renter's EIP-712 intents, their
 * digests and signatures, the relayer's calldata, and the Relayed event. Pure functions over bytes.
 *
 * An intent names what it does exactly (the offer's escrow digest or the rental's storage key, the amount,
 * the maximum relayer fee in the rental's token, a nonce and a deadline) and is signed under the relay's
 * domain ("Flopmarket Relay", "1", chain id, the relay's address), so it is void on any other chain or
 * escrow deployment. Each escrow creates its own relay: its address is the escrow's `relay()` getter.
 * A permit, when given, is an EIP-2612 permit of the token for the relay (spender = relay), of
 * amount + maxFee (open, extend) or maxFee (stop). See docs/escrow.md "Gasless".
 */
#ifndef FLOP_ESCROW_RELAY_H
#define FLOP_ESCROW_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/u256.h"
#include "escrow/escrow.h"
#include "eth/address.h"

struct err;
struct rpc_log;

#define RELAY_DOMAIN_NAME "Flopmarket Relay"
#define RELAY_DOMAIN_VERSION "1"
#define RELAY_OPEN_TYPE                                                                            \
	"Open(address renter,bytes32 offer,uint256 amount,uint256 maxFee,uint256 nonce,uint256 deadline)"
#define RELAY_EXTEND_TYPE                                                                          \
	"Extend(address renter,bytes32 rental,uint256 amount,uint256 maxFee,uint256 nonce,"         \
	"uint256 deadline)"
#define RELAY_STOP_TYPE "Stop(address renter,bytes32 rental,uint256 maxFee,uint256 nonce,uint256 deadline)"

/* What an intent does (the contract's KIND_* values). */
enum relay_kind {
	RELAY_OPEN = 1,
	RELAY_EXTEND = 2,
	RELAY_STOP = 3,
};

/* One renter-signed intent. */
struct relay_intent {
	enum relay_kind kind;
	struct eth_address renter;
	uint8_t target[32]; /* open: the offer's EIP-712 digest (escrow domain); extend/stop: the rental key */
	u256 amount;        /* open, extend: the deposit; stop: unused (zero) */
	u256 max_fee;       /* the most the relayer may take, in the rental's token units */
	u256 nonce;         /* any value, once per renter */
	uint64_t deadline;  /* unix seconds; never runs after it */
};

/* The renter's EIP-2612 permit for the relay; value zero: none (the relay's allowance is used). */
struct relay_permit {
	u256 value;
	u256 deadline;
	uint8_t sig65[65]; /* r || s || v */
};

/* The Relayed event. */
struct relay_event {
	struct eth_address renter, relayer;
	u256 nonce;
	enum relay_kind kind;
	uint64_t rental_id;
	u256 fee;
};

/* "open" / "extend" / "stop"; "?" otherwise. */
const char *relay_kind_name(enum relay_kind k);
/* Parses a kind name; ERR_INVALID names the choices. */
int relay_kind_parse(enum relay_kind *out, const char *s, struct err *e);

/* The relay's domain separator (`domainSeparator` view). */
int relay_domain_separator(uint8_t out32[32], uint64_t chain_id, const struct eth_address *relay, struct err *e);
/* The digest the renter signs (`openDigest` / `extendDigest` / `stopDigest`). ERR_RANGE for a deadline
 * at or above 2^40, ERR_INVALID for an unknown kind or a stop with an amount. */
int relay_intent_digest(uint8_t out32[32], uint64_t chain_id, const struct eth_address *relay,
			const struct relay_intent *it, struct err *e);
/* Signs the intent with the renter's key: r || s || v (v = 27/28). */
int relay_intent_sign(uint8_t sig65[65], uint64_t chain_id, const struct eth_address *relay,
		      const struct relay_intent *it, const uint8_t seckey32[32], struct err *e);

/* openFor(OpenIntent,bytes,Offer,bytes,Permit,uint256 fee); sig_len, offer_sig_len <= ESCROW_SIG_MAX. */
int relay_cd_open_for(struct buf *out, const struct relay_intent *it, const uint8_t *sig, size_t sig_len,
		      const struct escrow_offer *o, const uint8_t *offer_sig, size_t offer_sig_len,
		      const struct relay_permit *p, const u256 *fee, struct err *e);
/* extendFor(ExtendIntent,bytes,Terms,Permit,uint256) / stopFor(StopIntent,bytes,Terms,Permit,uint256). */
int relay_cd_extend_for(struct buf *out, const struct relay_intent *it, const uint8_t *sig, size_t sig_len,
			const struct escrow_terms *t, const struct relay_permit *p, const u256 *fee, struct err *e);
int relay_cd_stop_for(struct buf *out, const struct relay_intent *it, const uint8_t *sig, size_t sig_len,
		      const struct escrow_terms *t, const struct relay_permit *p, const u256 *fee, struct err *e);
/* The call for `it` of its kind: open needs `o` and its signature, extend/stop the Terms `t`. */
int relay_cd_for(struct buf *out, const struct relay_intent *it, const uint8_t *sig, size_t sig_len,
		 const struct escrow_offer *o, const uint8_t *offer_sig, size_t offer_sig_len,
		 const struct escrow_terms *t, const struct relay_permit *p, const u256 *fee, struct err *e);
/* View openDigest / extendDigest / stopDigest of the intent's kind (cross-checks relay_intent_digest). */
int relay_cd_digest(struct buf *out, const struct relay_intent *it, struct err *e);
/* Views nonceUsed(address,uint256); cancelNonce(uint256). */
int relay_cd_nonce_used(struct buf *out, const struct eth_address *renter, const u256 *nonce, struct err *e);
int relay_cd_cancel_nonce(struct buf *out, const u256 *nonce, struct err *e);

/* Decodes a Relayed log; ERR_NOT_FOUND when topic0 is another event. Does not check the emitter. */
int relay_event_decode(struct relay_event *out, const struct rpc_log *log, struct err *e);

#endif
