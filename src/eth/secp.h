/*
 * secp.h — secp256k1 keys and recoverable ECDSA signatures (libsecp256k1).
 *
 * Signatures are 65 bytes r(32) || s(32) || v(1) with v the recovery id 0/1;
 * signing is deterministic (RFC 6979) and always yields low-s (EIP-2).
 * Recovery accepts v as 0/1 or 27/28 and rejects high-s signatures.
 * Secret keys are wiped from temporaries before return.
 *
 * Errors: ERR_CRYPTO for an invalid secret key (0 or >= n) or a failed
 * primitive; ERR_INVALID for a bad v; ERR_NONCANONICAL for a high-s
 * signature (EIP-2); ERR_AUTH when r/s do not recover to a point.
 * One process-wide libsecp256k1 context is created on first use
 * (pthread_once) and randomized with libsodium randomness.
 */
#ifndef FLOP_ETH_SECP_H
#define FLOP_ETH_SECP_H

#include <stdbool.h>
#include <stdint.h>

#include "eth/address.h"

struct err;

/* A fresh random secret key (libsodium randombytes). */
int secp_seckey_generate(uint8_t seckey32[32], struct err *e);

/* True when seckey32 is a valid secret key (0 < k < n). */
bool secp_seckey_valid(const uint8_t seckey32[32]);

/* Uncompressed public key without the 0x04 prefix. */
int secp_pubkey64(uint8_t pub64[64], const uint8_t seckey32[32], struct err *e);

/* Ethereum address of a secret key. */
int secp_address(struct eth_address *out, const uint8_t seckey32[32], struct err *e);

/* Signs a 32-byte digest; writes r||s||v (v = 0 or 1). */
int secp_sign(uint8_t sig65[65], const uint8_t digest32[32],
	      const uint8_t seckey32[32], struct err *e);

/* Recovers the signer's public key / address; ERR_AUTH when it cannot. */
int secp_recover_pubkey64(uint8_t pub64[64], const uint8_t digest32[32],
			  const uint8_t sig65[65], struct err *e);
int secp_recover_address(struct eth_address *out, const uint8_t digest32[32],
			 const uint8_t sig65[65], struct err *e);

/* Compressed public key (0x02/0x03 prefix + x), as BIP-32 hashes it. */
int secp_pubkey33(uint8_t pub33[33], const uint8_t seckey32[32], struct err *e);

/*
 * out = (seckey + tweak) mod n, for BIP-32 child keys. ERR_CRYPTO when the
 * tweak is >= n or the sum is 0 (BIP-32: "the resulting key is invalid").
 * `out` may alias `seckey32`; untouched on error.
 */
int secp_seckey_tweak_add(uint8_t out32[32], const uint8_t seckey32[32],
			  const uint8_t tweak32[32], struct err *e);

#endif
