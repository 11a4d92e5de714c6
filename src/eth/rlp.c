/*
 * rlp.c — Recursive Length Prefix encoder and hardened decoder (see rlp.h).
 *
 * Follows the Ethereum yellow paper, appendix B, and the canonical-form rules
 * that clients enforce on the wire (the ethereum/tests RLPTests vectors):
 *   - a single byte below 0x80 is its own encoding; wrapping it as 0x81 xx is
 *     non-canonical;
 *   - payloads shorter than 56 bytes must use the short header form;
 *   - a long-form length has no leading zero bytes.
 * Encoders reserve the whole item before writing, so a failed append (the
 * buffer's cap, out of memory) leaves the buffer unchanged. The decoder only
 * reads inside [in, in + n), recurses at most RLP_MAX_DEPTH levels and names
 * the byte offset of every problem it reports.
 */
#include "eth/rlp.h"

#include "core/err.h"

#include <string.h>

/* Big-endian bytes needed for v (0 for v == 0). */
static size_t rlp_be_len(uint64_t v)
{
	size_t n = 0;

	while (v) {
		n++;
		v >>= 8;
	}
	return n;
}

/* Header for a payload of n bytes at `base` (0x80 strings, 0xc0 lists). */
static size_t rlp_header(uint8_t hdr[9], uint8_t base, size_t n)
{
	size_t ll;

	if (n < 56) {
		hdr[0] = (uint8_t)(base + n);
		return 1;
	}
	ll = rlp_be_len((uint64_t)n);
	hdr[0] = (uint8_t)(base + 55 + ll);
	for (size_t i = 0; i < ll; i++)
		hdr[ll - i] = (uint8_t)((uint64_t)n >> (8 * i));
	return 1 + ll;
}

/* Appends header + payload as one reservation: all or nothing. */
static int rlp_put(struct buf *out, uint8_t base, const uint8_t *p, size_t n)
{
	uint8_t hdr[9];
	size_t hl = rlp_header(hdr, base, n);
	int rc;

	if (n > SIZE_MAX - hl)
		return ERR_TOO_BIG;
	rc = buf_reserve(out, hl + n);
	if (rc)
		return rc;
	buf_append(out, hdr, hl);
	return buf_append(out, p, n);
}

int rlp_encode_bytes(struct buf *out, const uint8_t *p, size_t n)
{
	if (n == 1 && p[0] < 0x80)
		return buf_append_byte(out, p[0]);
	return rlp_put(out, 0x80, p, n);
}

int rlp_encode_u256(struct buf *out, const u256 *v)
{
	uint8_t be[32];
	size_t skip = 0;

	u256_to_be32(be, v);
	while (skip < 32 && be[skip] == 0)
		skip++;
	return rlp_encode_bytes(out, be + skip, 32 - skip);
}

int rlp_encode_u64(struct buf *out, uint64_t v)
{
	u256 w = u256_from_u64(v);

	return rlp_encode_u256(out, &w);
}

int rlp_encode_list(struct buf *out, const uint8_t *payload, size_t n)
{
	return rlp_put(out, 0xc0, payload, n);
}

/*
 * Parses the header of the item at in[0] with `avail` bytes left in its
 * enclosing span; `off` is in[0]'s offset in the whole input, for messages.
 * On success writes the header size, payload length and list flag; the
 * payload is guaranteed to fit in `avail`.
 */
static int rlp_parse_header(size_t *hdr_len, size_t *len, bool *is_list,
			    const uint8_t *in, size_t avail, size_t off,
			    struct err *e)
{
	uint8_t b;
	size_t hl, ll;
	uint64_t l = 0;
	bool list;

	if (avail == 0)
		return err_set(e, ERR_INVALID, "rlp: offset %zu: empty input, item expected", off);
	b = in[0];
	if (b < 0x80) {
		*hdr_len = 0;
		*len = 1;
		*is_list = false;
		return 0;
	}
	list = b >= 0xc0;
	if (b < 0xb8 || (b >= 0xc0 && b < 0xf8)) {
		hl = 1;
		l = b - (list ? 0xc0 : 0x80);
		if (l > avail - 1)
			return err_set(e, ERR_INVALID,
				       "rlp: offset %zu: %s of %llu bytes runs past the end (%zu left)",
				       off, list ? "list" : "string",
				       (unsigned long long)l, avail - 1);
		if (!list && l == 1 && in[1] < 0x80)
			return err_set(e, ERR_NONCANONICAL,
				       "rlp: offset %zu: single byte 0x%02x below 0x80 must not be wrapped",
				       off, in[1]);
	} else {
		ll = b - (list ? 0xf7 : 0xb7);
		if (ll > avail - 1)
			return err_set(e, ERR_INVALID,
				       "rlp: offset %zu: length of length %zu runs past the end",
				       off, ll);
		if (in[1] == 0)
			return err_set(e, ERR_NONCANONICAL,
				       "rlp: offset %zu: long length has a leading zero byte", off);
		for (size_t i = 0; i < ll; i++)
			l = (l << 8) | in[1 + i];
		if (l < 56)
			return err_set(e, ERR_NONCANONICAL,
				       "rlp: offset %zu: long form used for a %llu-byte payload (short form required below 56)",
				       off, (unsigned long long)l);
		hl = 1 + ll;
		if (l > avail - hl)
			return err_set(e, ERR_INVALID,
				       "rlp: offset %zu: %s of %llu bytes runs past the end (%zu left)",
				       off, list ? "list" : "string",
				       (unsigned long long)l, avail - hl);
	}
	*hdr_len = hl;
	*len = (size_t)l;
	*is_list = list;
	return 0;
}

/* Validates the children of a list payload at `off`, `depth` lists deep. */
static int rlp_check_list(const uint8_t *p, size_t n, size_t off,
			  unsigned depth, struct err *e)
{
	size_t pos = 0, hl, len;
	bool list;
	int rc;

	if (depth > RLP_MAX_DEPTH)
		return err_set(e, ERR_DEPTH, "rlp: offset %zu: lists nested deeper than %d",
			       off, RLP_MAX_DEPTH);
	while (pos < n) {
		rc = rlp_parse_header(&hl, &len, &list, p + pos, n - pos, off + pos, e);
		if (rc)
			return rc;
		if (list) {
			rc = rlp_check_list(p + pos + hl, len, off + pos + hl, depth + 1, e);
			if (rc)
				return rc;
		}
		pos += hl + len;
	}
	return 0;
}

int rlp_decode(struct rlp_item *out, const uint8_t *in, size_t n, struct err *e)
{
	size_t hl, len;
	bool list;
	int rc;

	if (n > RLP_MAX_INPUT)
		return err_set(e, ERR_TOO_BIG, "rlp: input of %zu bytes exceeds the %zu-byte cap",
			       n, RLP_MAX_INPUT);
	rc = rlp_parse_header(&hl, &len, &list, in, n, 0, e);
	if (rc)
		return rc;
	if (hl + len != n)
		return err_set(e, ERR_INVALID, "rlp: offset %zu: %zu trailing bytes after the item",
			       hl + len, n - hl - len);
	if (list) {
		rc = rlp_check_list(in + hl, len, hl, 1, e);
		if (rc)
			return rc;
	}
	out->payload = in + hl;
	out->len = len;
	out->is_list = list;
	return 0;
}

int rlp_list_items(struct rlp_item *items, size_t max, size_t *count,
		   const struct rlp_item *list, struct err *e)
{
	size_t pos = 0, k = 0, hl, len;
	bool is_list;
	int rc;

	if (!list->is_list)
		return err_set(e, ERR_INVALID, "rlp: item is a string, list expected");
	/* First pass: count and validate, so a failure writes nothing. */
	while (pos < list->len) {
		rc = rlp_parse_header(&hl, &len, &is_list, list->payload + pos,
				      list->len - pos, pos, e);
		if (rc) {
			err_wrap(e, "rlp list item %zu", k);
			return rc;
		}
		if (k == max)
			return err_set(e, ERR_TOO_BIG, "rlp: list has more than %zu items", max);
		k++;
		pos += hl + len;
	}
	for (pos = 0, k = 0; pos < list->len; k++) {
		rlp_parse_header(&hl, &len, &is_list, list->payload + pos,
				 list->len - pos, pos, NULL);
		items[k].payload = list->payload + pos + hl;
		items[k].len = len;
		items[k].is_list = is_list;
		pos += hl + len;
	}
	*count = k;
	return 0;
}

/* Checks that a string item is a canonical integer of at most max bytes. */
static int rlp_check_uint(const struct rlp_item *item, size_t max, struct err *e)
{
	if (item->is_list)
		return err_set(e, ERR_INVALID, "rlp: integer expected, got a list");
	if (item->len > max)
		return err_set(e, ERR_RANGE, "rlp: integer of %zu bytes exceeds %zu bytes",
			       item->len, max);
	if (item->len > 0 && item->payload[0] == 0)
		return err_set(e, ERR_NONCANONICAL, "rlp: integer has a leading zero byte");
	return 0;
}

int rlp_item_u256(u256 *out, const struct rlp_item *item, struct err *e)
{
	uint8_t be[32] = { 0 };
	int rc = rlp_check_uint(item, 32, e);

	if (rc)
		return rc;
	if (item->len)
		memcpy(be + 32 - item->len, item->payload, item->len);
	u256_from_be32(out, be);
	return 0;
}

int rlp_item_u64(uint64_t *out, const struct rlp_item *item, struct err *e)
{
	uint64_t v = 0;
	int rc = rlp_check_uint(item, 8, e);

	if (rc)
		return rc;
	for (size_t i = 0; i < item->len; i++)
		v = (v << 8) | item->payload[i];
	*out = v;
	return 0;
}
