/*
 * tx.h — Ethereum transactions: build, sign, serialize, hash, decode.
 *
 * Two kinds are supported:
 *   - EIP-1559 (type 2): 0x02 || rlp([chainId, nonce, maxPriorityFeePerGas,
 *     maxFeePerGas, gasLimit, to, value, data, accessList, yParity, r, s]),
 *     signed over keccak256(0x02 || rlp(first nine fields)). Access lists
 *     follow EIP-2930: [[address, [storageKey, ...]], ...].
 *   - legacy with EIP-155 replay protection: rlp([nonce, gasPrice, gasLimit,
 *     to, value, data, v, r, s]) with v = chainId*2 + 35 + recid, signed over
 *     keccak256(rlp([nonce, gasPrice, gasLimit, to, value, data, chainId, 0,
 *     0])). chain_id 0 means a pre-EIP-155 transaction (v = 27 + recid),
 *     accepted by tx_decode but never produced unless asked for.
 * The transaction hash is keccak256 of the serialized signed bytes.
 *
 * A struct tx owns its data and access list (tx_release frees them);
 * tx_set_data / tx_access_list_add copy their inputs. Every input is capped
 * (TX_DATA_MAX, TX_ACCESS_LIST_MAX, TX_ACCESS_KEYS_MAX, TX_RAW_MAX) and the
 * decoder never trusts a length from the wire beyond rlp.h's checks.
 * Signatures are low-s (EIP-2); tx_decode rejects high-s and zero r/s.
 */
#ifndef FLOP_ETH_TX_H
#define FLOP_ETH_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/u256.h"
#include "eth/address.h"

struct err;

#define TX_DATA_MAX ((size_t)128 << 10)   /* calldata / init code: 128 KiB (geth's tx size limit) */
#define TX_ACCESS_LIST_MAX 256            /* access list entries */
#define TX_ACCESS_KEYS_MAX 256            /* storage keys per entry */
#define TX_RAW_MAX ((size_t)256 << 10)    /* largest serialized tx accepted: 256 KiB */

enum tx_type {
	TX_LEGACY = 0,  /* pre-typed transaction, EIP-155 when chain_id != 0 */
	TX_EIP1559 = 2, /* EIP-1559 dynamic-fee transaction */
};

/* One EIP-2930 access list entry; owns `keys`. */
struct tx_access_entry {
	struct eth_address address; /* account touched */
	uint8_t (*keys)[32];        /* storage keys, n_keys of them (NULL when 0) */
	size_t n_keys;              /* number of storage keys */
};

struct tx {
	enum tx_type type;                 /* TX_LEGACY or TX_EIP1559 */
	uint64_t chain_id;                 /* EIP-155 chain id (0: legacy without replay protection) */
	uint64_t nonce;                    /* sender's account nonce */
	u256 max_priority_fee_per_gas;     /* type 2: tip cap, wei per gas */
	u256 max_fee_per_gas;              /* type 2: fee cap, wei per gas */
	u256 gas_price;                    /* legacy: wei per gas */
	uint64_t gas_limit;                /* gas units */
	bool has_to;                       /* false: contract creation */
	struct eth_address to;             /* recipient when has_to */
	u256 value;                        /* wei transferred */
	uint8_t *data;                     /* calldata / init code, owned (NULL when empty) */
	size_t data_len;                   /* bytes in data */
	struct tx_access_entry *access_list; /* type 2 only, owned */
	size_t access_list_len;            /* entries in access_list */
	bool is_signed;                    /* r, s, y_parity hold a signature */
	uint8_t y_parity;                  /* recovery id 0/1 */
	uint8_t r[32];                     /* signature r, big-endian */
	uint8_t s[32];                     /* signature s, big-endian, low-s */
};

/* Sets up an empty, unsigned transaction of `type` (all numbers 0). */
void tx_init(struct tx *tx, enum tx_type type);

/* Frees the data and access list; the tx is empty again. NULL allowed. */
void tx_release(struct tx *tx);

/* Replaces the calldata with a copy of p[0..n). ERR_TOO_BIG past TX_DATA_MAX. */
int tx_set_data(struct tx *tx, const uint8_t *p, size_t n, struct err *e);

/* Appends an access list entry with copies of `n_keys` storage keys. */
int tx_access_list_add(struct tx *tx, const struct eth_address *address,
		       const uint8_t (*keys)[32], size_t n_keys, struct err *e);

/*
 * Appends the bytes that are hashed for signing (type byte included for
 * type 2) to `out`. ERR_INVALID for an access list on a legacy tx.
 */
int tx_signing_payload(struct buf *out, const struct tx *tx, struct err *e);

/* keccak256 of the signing payload. */
int tx_signing_hash(uint8_t out32[32], const struct tx *tx, struct err *e);

/* Signs with seckey32 and stores the signature in tx (is_signed = true). */
int tx_sign(struct tx *tx, const uint8_t seckey32[32], struct err *e);

/* Appends the serialized signed tx (raw bytes for eth_sendRawTransaction). ERR_STATE if unsigned. */
int tx_serialize(struct buf *out, const struct tx *tx, struct err *e);

/* Transaction hash: keccak256 of the serialized signed tx. */
int tx_hash(uint8_t out32[32], const struct tx *tx, struct err *e);

/*
 * Decodes a signed raw tx (legacy or type 2; n <= TX_RAW_MAX) into *out
 * (which it initialises; tx_release it afterwards). Type 1 and unknown types
 * are ERR_UNSUPPORTED; malformed bytes ERR_INVALID / ERR_NONCANONICAL /
 * ERR_RANGE with the field named. *out is untouched on failure.
 */
int tx_decode(struct tx *out, const uint8_t *raw, size_t n, struct err *e);

/* Recovers the sender of a signed tx. ERR_STATE if unsigned, ERR_AUTH if unrecoverable. */
int tx_sender(struct eth_address *out, const struct tx *tx, struct err *e);

#endif
