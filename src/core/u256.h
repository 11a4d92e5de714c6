/*
 * u256.h — unsigned 256-bit integers for money and EVM words.
 *
 * Money never touches floating point: amounts are integers in the token's
 * smallest unit, parsed from and printed to exact decimal or hex strings.
 * Arithmetic is checked: an operation that would overflow (or divide by
 * zero) returns ERR_RANGE and leaves the output untouched.
 * Limbs are little-endian: w[0] holds the least significant 64 bits.
 */
#ifndef FLOP_CORE_U256_H
#define FLOP_CORE_U256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

typedef struct {
	uint64_t w[4]; /* little-endian 64-bit limbs */
} u256;

#define U256_DEC_MAX 79 /* 78 digits + NUL */
#define U256_HEX_MAX 67 /* "0x" + 64 digits + NUL */

u256 u256_from_u64(uint64_t v);
bool u256_is_zero(const u256 *a);
int u256_cmp(const u256 *a, const u256 *b); /* -1, 0, 1 */

/* ERR_RANGE when the value does not fit in 64 bits. */
int u256_to_u64(uint64_t *out, const u256 *a);

/* Big-endian 32-byte form (EVM word). */
void u256_to_be32(uint8_t out32[32], const u256 *a);
void u256_from_be32(u256 *out, const uint8_t in32[32]);

/*
 * Parses a decimal string ("123") or a 0x-prefixed hex string ("0x7b").
 * Rejects empty strings, signs, spaces, leading junk and values >= 2^256,
 * naming the problem in `e`.
 */
int u256_parse(u256 *out, const char *s, struct err *e);
int u256_parse_dec(u256 *out, const char *s, struct err *e);
int u256_parse_hex(u256 *out, const char *s, struct err *e);

/* Formats as decimal (room: U256_DEC_MAX) or minimal 0x-hex (U256_HEX_MAX). */
void u256_to_dec(char *out, const u256 *a);
void u256_to_hex(char *out, const u256 *a);

/* Checked arithmetic; on ERR_RANGE `*out` is untouched. `out` may alias. */
int u256_add(u256 *out, const u256 *a, const u256 *b);
int u256_sub(u256 *out, const u256 *a, const u256 *b);
int u256_mul(u256 *out, const u256 *a, const u256 *b);
/* Quotient and remainder (either output may be NULL). */
int u256_divmod(u256 *q, u256 *r, const u256 *a, const u256 *b);

/*
 * Parses a human amount with up to `decimals` fractional digits into
 * smallest units exactly: "1.5" with 6 decimals -> 1500000. More fractional
 * digits than the token has is an error, never a silent rounding.
 */
int u256_parse_units(u256 *out, const char *s, unsigned decimals, struct err *e);

/*
 * Formats smallest units as an exact human amount: 1500000 with 6 decimals
 * -> "1.5" (trailing zeros trimmed, no exponent). Room: U256_DEC_MAX + 2.
 */
void u256_format_units(char *out, const u256 *a, unsigned decimals);

#endif
