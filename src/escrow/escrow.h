/*
 * escrow.h — C bindings of contracts/RentalEscrow.sol: types, calldata, EIP-712 digests and signatures,
 * event and revert decoding. Pure functions over bytes: no I/O (see client.h for the RPC side, mirror.h
 * for the money arithmetic, deploy.h for deployments).
 *
 * Everything here follows docs/escrow.md, which is the reference for the contract's ABI:
 *  - `struct escrow_offer` is the EIP-712 `Offer` a provider signs (17 static words);
 *  - `struct escrow_terms` is the rental's fixed `Terms` (16 static words), the first argument of every
 *    per-rental call; keccak256 of its ABI encoding is the rental's storage key;
 *  - the rental's mutable state is ONE packed 256-bit word (bits 0-95 deposited, 96-127 claimedSecs,
 *    128-159 usedSecs, 160-191 segStart, 192-223 stopAt / disputedAt, 224-255 endedAt; times in seconds
 *    after Terms.epoch, 0 = unset), carried by every rental event; `struct escrow_word` is it unpacked.
 * Integer widths are checked when encoding (a rate above 2^128 - 1 is ERR_RANGE, not truncated) and when
 * decoding (canonical ABI only, via eth/abi.h). Amounts are u256 in the token's smallest unit.
 * Signatures are 65 bytes r || s || v with v = 27/28 (what OpenZeppelin ECDSA accepts), low-s (EIP-2).
 * Specs: Solidity ABI, EIP-712, EIP-2612 (permit), ERC-20.
 */
#ifndef FLOP_ESCROW_ESCROW_H
#define FLOP_ESCROW_ESCROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/u256.h"
#include "eth/abi.h"
#include "eth/address.h"

struct err;
struct rpc_log;

#define ESCROW_DOMAIN_NAME "Flopmarket RentalEscrow"
#define ESCROW_DOMAIN_VERSION "1"
#define ESCROW_OFFER_TYPE                                                                          \
	"Offer(address provider,address payout,address token,address arbiter,uint128 rate,"        \
	"uint32 minSecs,uint32 maxSecs,bool interruptible,uint32 noticeSecs,uint32 graceSecs,"     \
	"uint32 disputeSecs,bytes32 specHash,uint16 capacity,address monitor,uint16 maxFeeBps,"     \
	"uint40 expiry,uint64 nonce)"
/* An attestation of an ENDED rental: endedAt and secondsObserved (= its billed seconds) must be the
 * rental's own on chain, so one can only be signed after the end. */
#define ESCROW_UPTIME_TYPE                                                                         \
	"Uptime(uint256 rentalId,uint40 endedAt,uint32 secondsUp,uint32 secondsObserved)"
#define ESCROW_PERMIT_TYPE                                                                         \
	"Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
/* ABI tuple types of the structs (for signatures). */
#define ESCROW_OFFER_TUPLE                                                                         \
	"(address,address,address,address,uint128,uint32,uint32,bool,uint32,uint32,uint32,bytes32,"  \
	"uint16,address,uint16,uint40,uint64)"
#define ESCROW_TERMS_TUPLE                                                                         \
	"(uint64,address,address,address,address,address,address,uint128,uint16,bool,uint32,"       \
	"uint32,uint32,uint32,uint40,bytes32)"

#define ESCROW_OFFER_WORDS 17
#define ESCROW_TERMS_WORDS 16
#define ESCROW_TERMS_SIZE (ESCROW_TERMS_WORDS * 32) /* 512 bytes */
#define ESCROW_MAX_FEE_BPS 1500
#define ESCROW_MAX_ARBITER_WINDOW_SECS (30u * 86400u) /* the contract refuses a longer window at deploy */
#define ESCROW_DEPLOY_TOKENS_MAX 16 /* ERC-20 tokens allowed in the constructor */
#define ESCROW_BPS 10000
#define ESCROW_SIG_MAX 1024       /* longest signature accepted (ERC-1271 wallets may use more than 65) */
#define ESCROW_MSG_MAX 512        /* room for a decoded revert message */

/* The rule that decided a dispute (`Resolved.rule`). */
enum escrow_rule {
	ESCROW_RULE_ATTESTATION = 1,
	ESCROW_RULE_ARBITER = 2,
	ESCROW_RULE_DEFAULT = 3,
};

/* What a provider signs (EIP-712 `Offer`); field order and widths as in the contract. */
struct escrow_offer {
	struct eth_address provider; /* signer; may reclaim and claim */
	struct eth_address payout;   /* receives the provider's share (non-zero) */
	struct eth_address token;    /* ERC-20, or zero for the native coin */
	struct eth_address arbiter;  /* rules subjective disputes; zero = none */
	u256 rate;                   /* uint128: token units * 1e18 per second */
	uint32_t min_secs;           /* the opening deposit must buy at least this */
	uint32_t max_secs;           /* all deposits together buy at most this */
	bool interruptible;          /* provider may reclaim */
	uint32_t notice_secs;        /* reclaim notice */
	uint32_t grace_secs;         /* extension grace after a runout */
	uint32_t dispute_secs;       /* dispute window after the end = claim lag */
	uint8_t spec_hash[32];       /* hash of the machine's spec document: names the machine */
	uint16_t capacity;           /* rentals of (provider, spec_hash) live at once, >= 1 */
	struct eth_address monitor;  /* attestation key the provider accepts (must equal the escrow's) */
	uint16_t max_fee_bps;        /* highest platform fee the provider accepts */
	uint64_t expiry;             /* uint40 unix seconds */
	uint64_t nonce;              /* cancellable with cancelOffer */
};

/* A rental's fixed terms (from the `Opened` event); the key of its storage slot. */
struct escrow_terms {
	uint64_t id;                 /* rental id (1, 2, ...) */
	struct eth_address renter;   /* opened it; receives refunds */
	struct eth_address provider; /* offer signer */
	struct eth_address payout;   /* receives the provider's share */
	struct eth_address token;    /* zero = native coin */
	struct eth_address arbiter;  /* zero = none */
	struct eth_address monitor;  /* attestation key at open */
	u256 rate;                   /* uint128 */
	uint16_t fee_bps;            /* fee at open, <= 1500 */
	bool interruptible;
	uint32_t notice_secs;
	uint32_t grace_secs;
	uint32_t dispute_secs;
	uint32_t max_secs;
	uint64_t epoch;              /* uint40: block time at open minus 1 */
	uint8_t spec_hash[32];       /* the machine (with provider) whose capacity it holds while live */
};

/* The packed state word, unpacked as stored (times relative to Terms.epoch; 0 = unset). */
struct escrow_word {
	u256 deposited;        /* uint96: all deposits credited */
	uint32_t claimed_secs; /* the provider side has received cost(claimed_secs) gross */
	uint32_t used_secs;    /* billed seconds of closed segments; once ended all (after a ruling: final) */
	uint32_t seg_start;    /* start of the current billing segment */
	uint32_t mark;         /* stopAt while active, disputedAt once ended */
	uint32_t ended_at;     /* 0 while active */
};

/* Unpacks / packs the state word. Pack fails (ERR_RANGE) when deposited exceeds 96 bits. */
void escrow_word_unpack(struct escrow_word *out, const u256 *word);
int escrow_word_pack(u256 *out, const struct escrow_word *w, struct err *e);

/* ---- Terms encoding ---- */

/* Writes the 16-word ABI encoding of `t`. ERR_RANGE when rate >= 2^128 or epoch >= 2^40. */
int escrow_terms_encode(uint8_t out[ESCROW_TERMS_SIZE], const struct escrow_terms *t, struct err *e);

/* Decodes exactly ESCROW_TERMS_SIZE bytes (canonical: unused high bytes zero, bool 0/1). */
int escrow_terms_decode(struct escrow_terms *out, const uint8_t *p, size_t n, struct err *e);

/* keccak256(abi.encode(terms)): the key of the rental's slot (`rentalKey` view). */
int escrow_rental_key(uint8_t out32[32], const struct escrow_terms *t, struct err *e);

/* The ABI tuple values of an Offer / Terms; `items` must have room for ESCROW_OFFER_WORDS /
 * ESCROW_TERMS_WORDS values and outlive the returned tuple (bindings of contracts built on these). */
struct abi_value escrow_offer_value(struct abi_value *items, const struct escrow_offer *o);
struct abi_value escrow_terms_value(struct abi_value *items, const struct escrow_terms *t);

/* ---- calldata (each appends selector + arguments to `out`; on failure `out` keeps its length) ---- */

/* open(Offer,bytes,uint256): sig of sig_len <= ESCROW_SIG_MAX bytes. */
int escrow_cd_open(struct buf *out, const struct escrow_offer *o, const uint8_t *sig, size_t sig_len,
		   const u256 *amount, struct err *e);
/* openWithPermit(Offer,bytes,uint256,uint256 deadline,uint8 v,bytes32 r,bytes32 s). */
int escrow_cd_open_with_permit(struct buf *out, const struct escrow_offer *o, const uint8_t *sig,
			       size_t sig_len, const u256 *amount, const u256 *deadline,
			       const uint8_t permit_sig65[65], struct err *e);
/* extend(Terms,uint256). */
int escrow_cd_extend(struct buf *out, const struct escrow_terms *t, const u256 *amount, struct err *e);
/* extendWithPermit(Terms,uint256,uint256 deadline,uint8 v,bytes32 r,bytes32 s). */
int escrow_cd_extend_with_permit(struct buf *out, const struct escrow_terms *t, const u256 *amount,
				 const u256 *deadline, const uint8_t permit_sig65[65], struct err *e);

/* The per-rental calls that take only the Terms. */
enum escrow_rental_fn {
	ESCROW_FN_CLAIM = 1,
	ESCROW_FN_RECLAIM,
	ESCROW_FN_STOP,
	ESCROW_FN_SETTLE,
	ESCROW_FN_DISPUTE,
	ESCROW_FN_STATE_OF,   /* view stateOf(Terms) */
	ESCROW_FN_RENTAL_KEY, /* view rentalKey(Terms) */
};
int escrow_cd_rental(struct buf *out, enum escrow_rental_fn fn, const struct escrow_terms *t,
		     struct err *e);
/* resolveWithAttestation(Terms,uint40 endedAt,uint32,uint32,bytes). */
int escrow_cd_resolve_with_attestation(struct buf *out, const struct escrow_terms *t, uint64_t ended_at,
				       uint32_t seconds_up, uint32_t seconds_observed, const uint8_t *sig,
				       size_t sig_len, struct err *e);
/* rule(Terms,uint32). */
int escrow_cd_rule(struct buf *out, const struct escrow_terms *t, uint32_t provider_secs, struct err *e);
/* quote(Terms,uint256 atTime). */
int escrow_cd_quote(struct buf *out, const struct escrow_terms *t, uint64_t at_time, struct err *e);
/* decodeState(Terms,uint256 word). */
int escrow_cd_decode_state(struct buf *out, const struct escrow_terms *t, const u256 *word, struct err *e);
/* withdrawOwed(address token,address to) / withdrawFees(address token). */
int escrow_cd_withdraw_owed(struct buf *out, const struct eth_address *token, const struct eth_address *to,
			    struct err *e);
int escrow_cd_withdraw_fees(struct buf *out, const struct eth_address *token, struct err *e);
/* cancelOffer(uint64). */
int escrow_cd_cancel_offer(struct buf *out, uint64_t nonce, struct err *e);
/* Owner: setTreasury(address), setFeeBps(uint16), setMonitor(address), setTokenAllowed(address,bool). */
int escrow_cd_set_treasury(struct buf *out, const struct eth_address *a, struct err *e);
int escrow_cd_set_fee_bps(struct buf *out, uint16_t bps, struct err *e);
int escrow_cd_set_monitor(struct buf *out, const struct eth_address *a, struct err *e);
int escrow_cd_set_token_allowed(struct buf *out, const struct eth_address *token, bool allowed,
				struct err *e);
/* Views: tokenAllowed(address), liveRentals(address provider, bytes32 specHash). */
int escrow_cd_token_allowed(struct buf *out, const struct eth_address *token, struct err *e);
int escrow_cd_live_rentals(struct buf *out, const struct eth_address *provider, const uint8_t spec32[32],
			   struct err *e);
/* Views: offerDigest(Offer), uptimeDigest(uint256,uint40,uint32,uint32), rentals(bytes32), fees(address),
 * owed(address,address), offerCancelled(address,uint64). */
int escrow_cd_offer_digest(struct buf *out, const struct escrow_offer *o, struct err *e);
int escrow_cd_uptime_digest(struct buf *out, uint64_t rental_id, uint64_t ended_at, uint32_t up,
			    uint32_t observed, struct err *e);
int escrow_cd_rentals(struct buf *out, const uint8_t key32[32], struct err *e);
int escrow_cd_fees(struct buf *out, const struct eth_address *token, struct err *e);
int escrow_cd_owed(struct buf *out, const struct eth_address *token, const struct eth_address *account,
		   struct err *e);
int escrow_cd_offer_cancelled(struct buf *out, const struct eth_address *provider, uint64_t nonce,
			      struct err *e);
/* Argument-less views and getters, by name: "domainSeparator", "nextId", "feeBps", "treasury",
 * "monitor", "arbiterWindow", "owner", "RATE_SCALE", "MAX_FEE_BPS", ... (ERR_NOT_FOUND otherwise). */
int escrow_cd_getter(struct buf *out, const char *name, struct err *e);
/* Constructor arguments (appended after the creation bytecode): the ERC-20 tokens new rentals may use
 * (n_tokens <= ESCROW_DEPLOY_TOKENS_MAX); ERR_RANGE for an arbiter window above 30 days. */
int escrow_cd_constructor(struct buf *out, const struct eth_address *owner,
			  const struct eth_address *treasury, const struct eth_address *monitor,
			  uint16_t fee_bps, uint32_t arbiter_window_secs, const struct eth_address *tokens,
			  size_t n_tokens, struct err *e);

/* ---- ERC-20 / EIP-2612 calldata ---- */
int erc20_cd_approve(struct buf *out, const struct eth_address *spender, const u256 *amount, struct err *e);
int erc20_cd_transfer(struct buf *out, const struct eth_address *to, const u256 *amount, struct err *e);
int erc20_cd_balance_of(struct buf *out, const struct eth_address *owner, struct err *e);
int erc20_cd_allowance(struct buf *out, const struct eth_address *owner, const struct eth_address *spender,
		       struct err *e);
int erc20_cd_nonces(struct buf *out, const struct eth_address *owner, struct err *e);
/* decimals(), name(), symbol(), totalSupply(), DOMAIN_SEPARATOR(), eip712Domain(). */
int erc20_cd_getter(struct buf *out, const char *name, struct err *e);
/* Dev tokens only: mint(address,uint256). */
int erc20_cd_mint(struct buf *out, const struct eth_address *to, const u256 *amount, struct err *e);

/* Decodes a return value of one static word as uint256 / address / bool / bytes32 (exactly 32 bytes). */
int escrow_ret_u256(u256 *out, const uint8_t *p, size_t n, struct err *e);
int escrow_ret_address(struct eth_address *out, const uint8_t *p, size_t n, struct err *e);
int escrow_ret_bytes32(uint8_t out32[32], const uint8_t *p, size_t n, struct err *e);
/* Decodes an ABI `string` return value into out (room cap, NUL-terminated); ERR_TOO_BIG if longer. */
int escrow_ret_string(char *out, size_t cap, const uint8_t *p, size_t n, struct err *e);
/* Decodes quote()'s return (billedSecs, cost, claimableGross, held). */
int escrow_ret_quote(u256 out4[4], const uint8_t *p, size_t n, struct err *e);

/* ---- EIP-712 ---- */

/* The escrow's domain separator for a deployment (`domainSeparator` view). */
int escrow_domain_separator(uint8_t out32[32], uint64_t chain_id, const struct eth_address *escrow,
			    struct err *e);
/* Offer digest (`offerDigest` view); ERR_RANGE when a field exceeds its width (rate, expiry). */
int escrow_offer_digest(uint8_t out32[32], uint64_t chain_id, const struct eth_address *escrow,
			const struct escrow_offer *o, struct err *e);
/* Signs an offer with the provider's key: sig65 = r || s || v (v = 27/28). */
int escrow_offer_sign(uint8_t sig65[65], uint64_t chain_id, const struct eth_address *escrow,
		      const struct escrow_offer *o, const uint8_t seckey32[32], struct err *e);
/* Uptime attestation of a rental that ended at `ended_at` (unix seconds; `uptimeDigest` view) and its
 * signature by the monitor key. seconds_observed must be the rental's billed seconds on chain. */
struct escrow_uptime {
	uint64_t rental_id;
	uint64_t ended_at;         /* uint40: the rental's endedAt on chain */
	uint32_t seconds_up;       /* <= seconds_observed */
	uint32_t seconds_observed; /* the rental's billed seconds (usedSecs once ended) */
};
int escrow_uptime_digest(uint8_t out32[32], uint64_t chain_id, const struct eth_address *escrow,
			 const struct escrow_uptime *u, struct err *e);
int escrow_uptime_sign(uint8_t sig65[65], uint64_t chain_id, const struct eth_address *escrow,
		       const struct escrow_uptime *u, const uint8_t seckey32[32], struct err *e);

/* An EIP-2612 permit for a token whose EIP-712 domain is (name, version, chain_id, token). */
struct escrow_permit {
	const char *token_name;    /* the token's EIP-712 domain name (ERC20Permit: the token name) */
	const char *token_version; /* its domain version ("1" for OpenZeppelin ERC20Permit) */
	uint64_t chain_id;
	struct eth_address token;
	struct eth_address owner;   /* the renter */
	struct eth_address spender; /* the escrow */
	u256 value;
	u256 nonce;                 /* token.nonces(owner) */
	u256 deadline;              /* unix seconds */
};
int escrow_permit_digest(uint8_t out32[32], const struct escrow_permit *p, struct err *e);
/* Signs the permit with the owner's key: sig65 = r || s || v (v = 27/28). */
int escrow_permit_sign(uint8_t sig65[65], const struct escrow_permit *p, const uint8_t seckey32[32],
		       struct err *e);

/* ---- events ---- */

enum escrow_event_kind {
	ESCROW_EV_OPENED = 1,
	ESCROW_EV_EXTENDED,
	ESCROW_EV_CLAIMED,
	ESCROW_EV_RECLAIMED,
	ESCROW_EV_STOPPED,
	ESCROW_EV_SETTLED,
	ESCROW_EV_DISPUTED,
	ESCROW_EV_RESOLVED,
	ESCROW_EV_CLOSED,
	ESCROW_EV_CREDITED,
	ESCROW_EV_WITHDRAWN,
	ESCROW_EV_FEES_WITHDRAWN,
	ESCROW_EV_OFFER_CANCELLED,
	ESCROW_EV_TREASURY_SET,
	ESCROW_EV_FEE_SET,
	ESCROW_EV_MONITOR_SET,
	ESCROW_EV_TOKEN_ALLOWED,
};

/* One decoded escrow event (tagged union; `kind` says which member is set). */
struct escrow_event {
	enum escrow_event_kind kind;
	uint64_t id;      /* rental events: the rental id; else 0 */
	bool has_state;   /* rental events but Closed: `state` is the new packed word */
	u256 state;       /* the packed state word */
	union {
		struct {
			struct eth_address renter, provider;
			uint8_t offer_hash[32]; /* EIP-712 digest of the offer */
			uint8_t spec_hash[32];
			struct escrow_terms terms;
		} opened;
		struct {
			u256 amount; /* credited */
		} extended;
		struct {
			u256 provider_amount, fee_amount, refund_amount; /* refund 0 for Claimed */
			uint8_t rule; /* Resolved only: enum escrow_rule */
		} payout;            /* Claimed, Stopped, Settled, Resolved */
		struct {
			struct eth_address token, account, to; /* `to` for Withdrawn/FeesWithdrawn */
			u256 amount;
		} credit;            /* Credited, Withdrawn, FeesWithdrawn (account zero) */
		struct {
			struct eth_address provider;
			uint64_t nonce;
		} cancelled;
		struct {
			struct eth_address addr; /* TreasurySet, MonitorSet, TokenAllowed (the token) */
			uint16_t fee_bps;        /* FeeSet */
			bool allowed;            /* TokenAllowed */
		} config;
	};
};

/* Name of an event kind ("Opened"); "?" for an unknown value. */
const char *escrow_event_name(enum escrow_event_kind k);

/*
 * Decodes one log emitted by the escrow. ERR_NOT_FOUND when topic0 is none of the escrow's events
 * (e.g. an inherited Ownable event: callers skip it); ERR_INVALID / ERR_NONCANONICAL for a log whose
 * shape does not match its event. Does not check the emitting address (callers filter by it).
 */
int escrow_event_decode(struct escrow_event *out, const struct rpc_log *log, struct err *e);

/* ---- reverts ---- */

/*
 * Writes a one-line human message for revert data to out (room cap >= 64): a known custom error with
 * its arguments named ("OfferExpired(expiry=1700000000)"), "Error: <reason>", "Panic 0x11 (arithmetic
 * overflow)", "reverted without data", or "unknown error 0x12345678". Covers the escrow's errors and
 * the OpenZeppelin ERC-20 / permit / SafeERC20 / Ownable / ECDSA errors. Returns 0, or ERR_INVALID
 * (with a message still written) when the payload is malformed.
 */
int escrow_revert_message(char *out, size_t cap, const uint8_t *data, size_t n, struct err *e);

/* Writes the name of the known custom error with this selector ("OfferExpired"); ERR_NOT_FOUND if none. */
#define ESCROW_ERROR_NAME_MAX 64
int escrow_error_name(char out[ESCROW_ERROR_NAME_MAX], const uint8_t sel4[4]);

#endif
