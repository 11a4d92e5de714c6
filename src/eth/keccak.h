/*
 * keccak.h — Keccak-256 as Ethereum uses it (original Keccak padding 0x01,
 * not the FIPS-202 SHA3 padding 0x06). The permutation is nettle's
 * sha3_permute; this file only adds the sponge with legacy padding.
 */
#ifndef FLOP_ETH_KECCAK_H
#define FLOP_ETH_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define KECCAK256_RATE 136 /* bytes absorbed per permutation */

/* Incremental state; the caller owns it, no release needed. */
struct keccak256_ctx {
	uint64_t a[25];     /* sponge state, lanes little-endian */
	size_t pos;         /* bytes absorbed into the current block */
};

void keccak256_init(struct keccak256_ctx *ctx);
void keccak256_update(struct keccak256_ctx *ctx, const uint8_t *data, size_t len);
/* Writes the digest; the context must be re-initialised before reuse. */
void keccak256_final(uint8_t out32[32], struct keccak256_ctx *ctx);

/* One-shot hash. */
void keccak256(uint8_t out32[32], const uint8_t *data, size_t len);

#endif
