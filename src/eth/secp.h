/*
 * secp.h — secp256k1 keys and recoverable ECDSA signatures (libsecp256k1).
 *
 * Signatures are 65 bytes r(32) || s(32) || v(1) with v the recovery id 0/1;
 * signing is deterministic (RFC 6979) and always yields low-s (EIP-2).
 * Recovery accepts v as 0/1 or 27/28 and rejects high-s signatures.
 * Secret keys are wiped from temporaries before return.
 */
#ifndef FLOP_ETH_SECP_H
#define FLOP_ETH_SECP_H

#include <stdbool.h>
#include <stdint.h>

#include "address.h"

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

#endif
