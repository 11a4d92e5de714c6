/*
 * sender.h — a transaction sender that never stalls and survives restarts.
 *
 * One sender drives one account on one chain (one process per account at a
 * time). Every signed transaction is written to a SQLite journal (WAL,
 * synchronous=FULL, so a commit is fsync'd) BEFORE it is broadcast; a crash
 * at any instant therefore leaves either nothing or a journaled tx that the
 * next sender_poll rebroadcasts. A submission is identified by its nonce.
 *
 * Journal rows (table sender_tx), one per signed attempt:
 *   account, chain_id, nonce, raw tx, hash, max fee, tip, first_sent_at,
 *   last_sent_at (unix ms), state, block_number. States:
 *     live      may still be mined (the newest live row is the current attempt)
 *     mined     this attempt was mined
 *     dropped   another attempt at the same nonce was mined
 *     lost      the nonce was consumed by a tx not in the journal
 *     rejected  the node refused it on first broadcast (nonce is reused)
 *
 * Nonce choice: max(chain "pending" count, highest journaled nonce + 1).
 * sender_poll, for every open nonce: when the chain's "latest" count has
 * passed it, finds which attempt got mined (by receipt) and marks the rest
 * dropped; otherwise rebroadcasts the current attempt every rebroadcast_ms
 * and, once it has waited stuck_ms, signs a replacement at the same nonce
 * with both fees raised by at least bump_permille/1000 (>= 12.5 %, above
 * geth's 10 % replacement rule) and never above fee_cap.
 * Transactions are EIP-1559 (type 2). The key is wiped on close.
 */
#ifndef FLOP_ETH_SENDER_H
#define FLOP_ETH_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/u256.h"
#include "eth/address.h"
#include "eth/rpc.h"

struct err;
struct sender;

#define SENDER_OPEN_MAX 256 /* open nonces handled per sender_poll */
#define SENDER_TAG_MAX 64   /* longest sender_submit_once tag */

/* Knobs; zero fields take the defaults noted. */
struct sender_opts {
	unsigned rebroadcast_ms; /* resend the current attempt this often, default 30000 */
	unsigned stuck_ms;       /* replace an attempt unmined this long, default 90000 */
	unsigned bump_permille;  /* fee increase per replacement, default and minimum 125 */
	u256 fee_cap;            /* maxFeePerGas ceiling in wei, default 1000 gwei */
	unsigned poll_ms;        /* sender_wait poll interval, default 250 */
	unsigned gas_margin_pct; /* added to eth_estimateGas, default 20 */
	uint64_t gas_headroom;   /* gas added on top (time-dependent contract paths), default 0 */
};

enum sender_state {
	SENDER_PENDING,  /* not mined yet */
	SENDER_MINED,    /* one attempt mined (see mined_hash) */
	SENDER_LOST,     /* nonce consumed by a tx this journal does not know */
	SENDER_REJECTED, /* the node refused it; nothing to wait for */
};

/* What the journal knows about one submission (nonce). */
struct sender_info {
	uint64_t nonce;
	enum sender_state state;
	unsigned attempts;          /* signed attempts at this nonce */
	uint8_t current_hash[32];   /* newest attempt */
	u256 max_fee_per_gas;       /* of the newest attempt */
	u256 max_priority_fee_per_gas;
	uint8_t mined_hash[32];     /* valid when state == SENDER_MINED */
	uint64_t block_number;      /* valid when state == SENDER_MINED */
};

/*
 * Opens (creating if needed) the journal at db_path and checks that the
 * node's chain id equals chain_id (ERR_CONFLICT otherwise). `rpc` is
 * borrowed and must outlive the sender. The key is copied. Journaled live
 * transactions are rebroadcast on the first sender_poll.
 */
int sender_open(struct sender **out, const char *db_path, struct rpc *rpc,
		const uint8_t seckey32[32], uint64_t chain_id, const struct sender_opts *opts,
		struct err *e);

/* Closes the journal and wipes the key. Pending txs stay journaled. NULL allowed. */
void sender_close(struct sender *s);

/* The account this sender signs for. */
void sender_address(const struct sender *s, struct eth_address *out);

/*
 * Signs, journals and broadcasts a transfer/call (`to` NULL: contract
 * creation) with suggested fees (clamped to fee_cap). gas_limit 0 means
 * eth_estimateGas plus gas_margin_pct. Writes the nonce to *id and the tx
 * hash to hash32 (optional). A transport failure after journaling still
 * returns 0: the tx is durable and sender_poll will rebroadcast it. A node
 * rejection marks it rejected and returns the node's error.
 */
int sender_submit(struct sender *s, uint64_t *id, uint8_t hash32[32],
		  const struct eth_address *to, const u256 *value, const uint8_t *data,
		  size_t data_len, uint64_t gas_limit, struct err *e);

/*
 * sender_submit for a submission the caller names `tag` (1..SENDER_TAG_MAX characters, e.g.
 * "relay:42"), at most once: the tag is journaled in the same transaction as the first signed attempt,
 * so after a crash at any point a second call with the same tag finds it (*already = true, *id its
 * nonce) and sends nothing. A rejected first broadcast frees the tag (the nonce is reused).
 */
int sender_submit_once(struct sender *s, const char *tag, uint64_t *id, bool *already,
		       const struct eth_address *to, const u256 *value, const uint8_t *data,
		       size_t data_len, uint64_t gas_limit, struct err *e);

/* The submission journaled under `tag`: 0 and *id, or ERR_NOT_FOUND. */
int sender_find_tag(struct sender *s, const char *tag, uint64_t *id, struct err *e);

/* One round of confirmation checks, rebroadcasts and fee bumps (see the header). */
int sender_poll(struct sender *s, struct err *e);

/* The journal's view of submission `id`. ERR_NOT_FOUND for an unknown id. */
int sender_info(struct sender *s, uint64_t id, struct sender_info *out, struct err *e);

/*
 * Polls until submission `id` is mined with `confirmations` blocks (>= 1)
 * and writes its receipt (check receipt.status: 0 means it reverted);
 * rpc_receipt_release it. ERR_TIMEOUT past timeout_ms, ERR_CONFLICT when the
 * nonce was lost to an unknown tx, ERR_STATE when it was rejected.
 */
int sender_wait(struct sender *s, uint64_t id, uint64_t confirmations, unsigned timeout_ms,
		struct rpc_receipt *out, struct err *e);

#endif
