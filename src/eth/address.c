/*
 * address.c — EIP-55 checksummed addresses.
 * EIP-55: hash the lowercase hex (no prefix) with Keccak-256; a letter is
 * upper-cased when the matching nibble of the hash is >= 8.
 */
#include "eth/address.h"
#include "eth/keccak.h"
#include "core/err.h"
#include "core/hex.h"

#include <ctype.h>
#include <string.h>

void address_to_lower(char *out, const struct eth_address *a)
{
	hex_encode_0x(out, a->b, 20);
}

void address_to_checksum(char *out, const struct eth_address *a)
{
	uint8_t h[32];

	address_to_lower(out, a);
	keccak256(h, (const uint8_t *)out + 2, 40);
	for (int i = 0; i < 40; i++) {
		uint8_t nib = (uint8_t)(i % 2 ? h[i / 2] & 15 : h[i / 2] >> 4);
		if (nib >= 8)
			out[2 + i] = (char)toupper((unsigned char)out[2 + i]);
	}
}

int address_parse(struct eth_address *out, const char *s, struct err *e)
{
	struct eth_address a;
	char want[ADDRESS_STR_MAX];
	bool has_lower = false, has_upper = false;

	if (!hex_has_prefix(s))
		return err_set(e, ERR_INVALID, "address must start with 0x");
	if (strlen(s) != 42)
		return err_set(e, ERR_INVALID, "address must be 0x and 40 hex digits, got %zu digits",
			       strlen(s) - 2);
	int rc = hex_decode_exact(a.b, 20, s, e);
	if (rc) {
		err_wrap(e, "address");
		return rc;
	}
	for (const char *p = s + 2; *p; p++) {
		has_lower |= islower((unsigned char)*p) != 0;
		has_upper |= isupper((unsigned char)*p) != 0;
	}
	if (has_lower && has_upper) {
		address_to_checksum(want, &a);
		if (strcmp(want + 2, s + 2) != 0)
			return err_set(e, ERR_CHECKSUM,
				       "address %s has a wrong EIP-55 checksum (mistyped?)", s);
	}
	*out = a;
	return 0;
}

void address_from_pubkey64(struct eth_address *out, const uint8_t pub64[64])
{
	uint8_t h[32];

	keccak256(h, pub64, 64);
	memcpy(out->b, h + 12, 20);
}

bool address_equal(const struct eth_address *a, const struct eth_address *b)
{
	return memcmp(a->b, b->b, 20) == 0;
}

bool address_is_zero(const struct eth_address *a)
{
	static const uint8_t zero[20];
	return memcmp(a->b, zero, 20) == 0;
}
