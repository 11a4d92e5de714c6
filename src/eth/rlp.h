/*
 * rlp.h — Recursive Length Prefix encoding (Ethereum yellow paper, appendix B).
 *
 * The encoder appends to a capped `struct buf`. The decoder takes bytes and
 * never touches I/O; it hands out views (pointer + length) into the caller's
 * input, enforces canonical form (shortest length prefix, single bytes below
 * 0x80 not wrapped, no leading zero bytes in lengths) and caps input size and
 * nesting depth, so it can be fed hostile bytes and fuzzed.
 */
#ifndef FLOP_ETH_RLP_H
#define FLOP_ETH_RLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/u256.h"

struct err;

#define RLP_MAX_DEPTH 64              /* deepest list nesting accepted */
#define RLP_MAX_INPUT ((size_t)16 << 20) /* largest input decoded: 16 MiB */

/* A decoded item: a view into the input, never owned. */
struct rlp_item {
	const uint8_t *payload; /* string bytes, or the concatenated list items */
	size_t len;             /* payload length in bytes */
	bool is_list;           /* true for a list, false for a byte string */
};

/* Appends a byte string. */
int rlp_encode_bytes(struct buf *out, const uint8_t *p, size_t n);
/* Appends an unsigned integer: minimal big-endian bytes, 0 is the empty string. */
int rlp_encode_u256(struct buf *out, const u256 *v);
int rlp_encode_u64(struct buf *out, uint64_t v);
/* Appends a list whose already-encoded items are `payload` (n bytes). */
int rlp_encode_list(struct buf *out, const uint8_t *payload, size_t n);

/*
 * Decodes exactly one item spanning all of `in` (trailing bytes are an
 * error), validating the whole tree: canonical form, depth <= RLP_MAX_DEPTH,
 * n <= RLP_MAX_INPUT. Errors (ERR_INVALID, ERR_NONCANONICAL, ERR_DEPTH,
 * ERR_TOO_BIG) name the offset of the problem.
 */
int rlp_decode(struct rlp_item *out, const uint8_t *in, size_t n, struct err *e);

/*
 * Splits a list item into its direct children: writes up to `max` items to
 * `items` and their count to `*count`. ERR_INVALID when `list` is not a list,
 * ERR_TOO_BIG when it has more than `max` children.
 */
int rlp_list_items(struct rlp_item *items, size_t max, size_t *count,
		   const struct rlp_item *list, struct err *e);

/* Reads a string item as a canonical unsigned integer (no leading zeros, <= 32 bytes). */
int rlp_item_u256(u256 *out, const struct rlp_item *item, struct err *e);
int rlp_item_u64(uint64_t *out, const struct rlp_item *item, struct err *e);

#endif
