/*
 * eip191.h — EIP-191 version 0x45 ("personal_sign") message signatures.
 *
 * The signed digest is keccak256("\x19Ethereum Signed Message:\n" ||
 * decimal byte length of the message || message), exactly as wallets
 * (personal_sign, eth_sign in geth) compute it. The message is raw bytes;
 * callers that hold text pass its UTF-8 bytes. Signatures are 65 bytes
 * r || s || v; eip191_sign writes v as 27/28 (what wallets return and what
 * the EVM ecrecover expects), and verification accepts 0/1 or 27/28 but
 * never high-s (see secp.h). Messages are capped at EIP191_MSG_MAX bytes.
 */
#ifndef FLOP_ETH_EIP191_H
#define FLOP_ETH_EIP191_H

#include <stddef.h>
#include <stdint.h>

#include "eth/address.h"

struct err;

#define EIP191_MSG_MAX ((size_t)1 << 20) /* largest message hashed: 1 MiB */

/* Writes the personal_sign digest of `msg`. ERR_TOO_BIG past the cap. */
int eip191_hash(uint8_t digest32[32], const uint8_t *msg, size_t len, struct err *e);

/* Signs `msg` with `seckey32`; writes r || s || v with v = 27 or 28. */
int eip191_sign(uint8_t sig65[65], const uint8_t *msg, size_t len,
		const uint8_t seckey32[32], struct err *e);

/* Recovers the address that signed `msg`. ERR_AUTH/ERR_INVALID/... on a bad signature. */
int eip191_recover(struct eth_address *signer, const uint8_t *msg, size_t len,
		   const uint8_t sig65[65], struct err *e);

/*
 * Returns 0 when `sig65` is a valid signature of `msg` by `expected`;
 * ERR_AUTH (message names both addresses) when it was signed by another key,
 * or the recovery error when the signature itself is malformed.
 */
int eip191_verify(const struct eth_address *expected, const uint8_t *msg, size_t len,
		  const uint8_t sig65[65], struct err *e);

#endif
