/*
 * keccak.c — Keccak-256 sponge over nettle's Keccak-f[1600] permutation.
 * Absorbs bytes into the state by XOR (little-endian lanes), pads with
 * 0x01 .. 0x80 (legacy Keccak, as the Ethereum yellow paper specifies).
 */
#include "eth/keccak.h"

#include <nettle/sha3.h>
#include <string.h>

void keccak256_init(struct keccak256_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
}

static void keccak_xor_byte(struct keccak256_ctx *ctx, size_t i, uint8_t b)
{
	ctx->a[i / 8] ^= (uint64_t)b << (8 * (i % 8));
}

static void keccak_permute(struct keccak256_ctx *ctx)
{
	struct sha3_state st;

	memcpy(st.a, ctx->a, sizeof st.a);
	sha3_permute(&st);
	memcpy(ctx->a, st.a, sizeof st.a);
}

void keccak256_update(struct keccak256_ctx *ctx, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		keccak_xor_byte(ctx, ctx->pos++, data[i]);
		if (ctx->pos == KECCAK256_RATE) {
			keccak_permute(ctx);
			ctx->pos = 0;
		}
	}
}

void keccak256_final(uint8_t out32[32], struct keccak256_ctx *ctx)
{
	keccak_xor_byte(ctx, ctx->pos, 0x01);
	keccak_xor_byte(ctx, KECCAK256_RATE - 1, 0x80);
	keccak_permute(ctx);
	for (size_t i = 0; i < 32; i++)
		out32[i] = (uint8_t)(ctx->a[i / 8] >> (8 * (i % 8)));
}

void keccak256(uint8_t out32[32], const uint8_t *data, size_t len)
{
	struct keccak256_ctx ctx;

	keccak256_init(&ctx);
	keccak256_update(&ctx, data, len);
	keccak256_final(out32, &ctx);
}
