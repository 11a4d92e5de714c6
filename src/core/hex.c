/*
 * hex.c — hex text <-> bytes (see hex.h).
 */
#include "core/hex.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool hex_has_prefix(const char *s)
{
	return s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

/* Checks digits and parity; returns the payload start and length. */
static int hex_check(const char **start, size_t *digits, const char *hex,
		     size_t hex_len, struct err *e)
{
	if (hex_len >= 2 && hex_has_prefix(hex)) {
		hex += 2;
		hex_len -= 2;
	}
	if (hex_len % 2)
		return err_set(e, ERR_INVALID, "hex has an odd number of digits (%zu)", hex_len);
	for (size_t i = 0; i < hex_len; i++) {
		if (hex_digit(hex[i]) < 0)
			return err_set(e, ERR_INVALID, "bad hex digit at position %zu", i);
	}
	*start = hex;
	*digits = hex_len;
	return 0;
}

static void hex_unpack(uint8_t *out, const char *p, size_t digits)
{
	for (size_t i = 0; i < digits / 2; i++)
		out[i] = (uint8_t)(hex_digit(p[2 * i]) << 4 | hex_digit(p[2 * i + 1]));
}

int hex_decode(uint8_t *out, size_t out_cap, size_t *out_len,
	       const char *hex, size_t hex_len, struct err *e)
{
	const char *p;
	size_t digits;
	int rc = hex_check(&p, &digits, hex, hex_len, e);

	if (rc)
		return rc;
	if (digits / 2 > out_cap)
		return err_set(e, ERR_TOO_BIG, "hex is %zu bytes, at most %zu allowed",
			       digits / 2, out_cap);
	hex_unpack(out, p, digits);
	*out_len = digits / 2;
	return 0;
}

int hex_decode_exact(uint8_t *out, size_t n, const char *hex, struct err *e)
{
	const char *p;
	size_t digits;
	int rc = hex_check(&p, &digits, hex, strlen(hex), e);

	if (rc)
		return rc;
	if (digits != 2 * n)
		return err_set(e, ERR_INVALID, "hex is %zu bytes, expected %zu", digits / 2, n);
	hex_unpack(out, p, digits);
	return 0;
}

int hex_decode_alloc(uint8_t **out, size_t *out_len, const char *hex,
		     size_t max, struct err *e)
{
	const char *p;
	size_t digits;
	uint8_t *bytes;
	int rc = hex_check(&p, &digits, hex, strlen(hex), e);

	if (rc)
		return rc;
	if (digits / 2 > max)
		return err_set(e, ERR_TOO_BIG, "hex is %zu bytes, at most %zu allowed",
			       digits / 2, max);
	bytes = malloc(digits / 2 + 1);
	if (!bytes)
		return err_set(e, ERR_NOMEM, "out of memory");
	hex_unpack(bytes, p, digits);
	*out = bytes;
	*out_len = digits / 2;
	return 0;
}

void hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void hex_encode_0x(char *out, const uint8_t *in, size_t n)
{
	out[0] = '0';
	out[1] = 'x';
	hex_encode(out + 2, in, n);
}
