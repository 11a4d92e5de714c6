/*
 * u256.c — checked unsigned 256-bit arithmetic and exact parsing/formatting.
 */
#include "core/u256.h"
#include "core/err.h"
#include "core/hex.h"

#include <string.h>

typedef unsigned __int128 u128;

u256 u256_from_u64(uint64_t v)
{
	u256 r = { { v, 0, 0, 0 } };
	return r;
}

bool u256_is_zero(const u256 *a)
{
	return !(a->w[0] | a->w[1] | a->w[2] | a->w[3]);
}

int u256_cmp(const u256 *a, const u256 *b)
{
	for (int i = 3; i >= 0; i--) {
		if (a->w[i] != b->w[i])
			return a->w[i] < b->w[i] ? -1 : 1;
	}
	return 0;
}

int u256_to_u64(uint64_t *out, const u256 *a)
{
	if (a->w[1] | a->w[2] | a->w[3])
		return ERR_RANGE;
	*out = a->w[0];
	return 0;
}

void u256_to_be32(uint8_t out32[32], const u256 *a)
{
	for (int i = 0; i < 32; i++)
		out32[31 - i] = (uint8_t)(a->w[i / 8] >> (8 * (i % 8)));
}

void u256_from_be32(u256 *out, const uint8_t in32[32])
{
	u256 r = { { 0, 0, 0, 0 } };
	for (int i = 0; i < 32; i++)
		r.w[i / 8] |= (uint64_t)in32[31 - i] << (8 * (i % 8));
	*out = r;
}

int u256_add(u256 *out, const u256 *a, const u256 *b)
{
	u256 r;
	u128 carry = 0;

	for (int i = 0; i < 4; i++) {
		u128 s = (u128)a->w[i] + b->w[i] + carry;
		r.w[i] = (uint64_t)s;
		carry = s >> 64;
	}
	if (carry)
		return ERR_RANGE;
	*out = r;
	return 0;
}

int u256_sub(u256 *out, const u256 *a, const u256 *b)
{
	u256 r;
	uint64_t borrow = 0;

	if (u256_cmp(a, b) < 0)
		return ERR_RANGE;
	for (int i = 0; i < 4; i++) {
		uint64_t x = a->w[i], y = b->w[i];
		r.w[i] = x - y - borrow;
		borrow = (x < y) || (x - y < borrow);
	}
	*out = r;
	return 0;
}

int u256_mul(u256 *out, const u256 *a, const u256 *b)
{
	uint64_t t[8] = { 0 };

	for (int i = 0; i < 4; i++) {
		u128 carry = 0;
		for (int j = 0; j < 4; j++) {
			u128 p = (u128)a->w[i] * b->w[j] + t[i + j] + carry;
			t[i + j] = (uint64_t)p;
			carry = p >> 64;
		}
		t[i + 4] = (uint64_t)carry;
	}
	if (t[4] | t[5] | t[6] | t[7])
		return ERR_RANGE;
	memcpy(out->w, t, sizeof out->w);
	return 0;
}

static unsigned u256_bitlen(const u256 *a)
{
	for (int i = 3; i >= 0; i--) {
		if (a->w[i])
			return (unsigned)(64 * i + 64 - __builtin_clzll(a->w[i]));
	}
	return 0;
}

static void u256_shl1(u256 *a)
{
	for (int i = 3; i > 0; i--)
		a->w[i] = a->w[i] << 1 | a->w[i - 1] >> 63;
	a->w[0] <<= 1;
}

int u256_divmod(u256 *q, u256 *r, const u256 *a, const u256 *b)
{
	u256 quot = { { 0 } }, rem = { { 0 } };

	if (u256_is_zero(b))
		return ERR_RANGE;
	/* Schoolbook binary long division: simple, and fast enough for money. */
	for (int bit = (int)u256_bitlen(a) - 1; bit >= 0; bit--) {
		u256_shl1(&rem);
		rem.w[0] |= (a->w[bit / 64] >> (bit % 64)) & 1;
		if (u256_cmp(&rem, b) >= 0) {
			u256_sub(&rem, &rem, b);
			quot.w[bit / 64] |= (uint64_t)1 << (bit % 64);
		}
	}
	if (q)
		*q = quot;
	if (r)
		*r = rem;
	return 0;
}

/* r = r * 10 + d, checked. */
static int u256_mul10_add(u256 *r, unsigned d)
{
	u256 ten = u256_from_u64(10), dig = u256_from_u64(d), t;

	if (u256_mul(&t, r, &ten) || u256_add(&t, &t, &dig))
		return ERR_RANGE;
	*r = t;
	return 0;
}

int u256_parse_dec(u256 *out, const char *s, struct err *e)
{
	u256 r = { { 0 } };
	size_t n = strlen(s);

	if (n == 0)
		return err_set(e, ERR_INVALID, "empty number");
	if (n > 78)
		return err_set(e, ERR_RANGE, "number has %zu digits, more than 2^256 allows", n);
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return err_set(e, ERR_INVALID, "bad decimal digit '%c' at position %zu",
				       s[i], i);
		if (u256_mul10_add(&r, (unsigned)(s[i] - '0')))
			return err_set(e, ERR_RANGE, "number does not fit in 256 bits");
	}
	*out = r;
	return 0;
}

int u256_parse_hex(u256 *out, const char *s, struct err *e)
{
	u256 r = { { 0 } };
	size_t n;

	if (!hex_has_prefix(s))
		return err_set(e, ERR_INVALID, "hex number must start with 0x");
	s += 2;
	n = strlen(s);
	if (n == 0)
		return err_set(e, ERR_INVALID, "hex number has no digits");
	while (n > 1 && *s == '0') {
		s++;
		n--;
	}
	if (n > 64)
		return err_set(e, ERR_RANGE, "hex number does not fit in 256 bits");
	for (size_t i = 0; i < n; i++) {
		int d = hex_digit(s[n - 1 - i]);
		if (d < 0)
			return err_set(e, ERR_INVALID, "bad hex digit '%c'", s[n - 1 - i]);
		r.w[i / 16] |= (uint64_t)d << (4 * (i % 16));
	}
	*out = r;
	return 0;
}

int u256_parse(u256 *out, const char *s, struct err *e)
{
	if (hex_has_prefix(s))
		return u256_parse_hex(out, s, e);
	return u256_parse_dec(out, s, e);
}

void u256_to_dec(char *out, const u256 *a)
{
	char tmp[U256_DEC_MAX];
	size_t n = 0;
	u256 v = *a, ten = u256_from_u64(10), rem;

	do {
		u256_divmod(&v, &rem, &v, &ten);
		tmp[n++] = (char)('0' + rem.w[0]);
	} while (!u256_is_zero(&v));
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

void u256_to_hex(char *out, const u256 *a)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = 2;
	int started = 0;

	out[0] = '0';
	out[1] = 'x';
	for (int i = 63; i >= 0; i--) {
		unsigned d = (unsigned)(a->w[i / 16] >> (4 * (i % 16))) & 15;
		if (d || started || i == 0) {
			out[n++] = digits[d];
			started = 1;
		}
	}
	out[n] = '\0';
}

int u256_parse_units(u256 *out, const char *s, unsigned decimals, struct err *e)
{
	u256 r = { { 0 } };
	size_t int_digits = 0, frac_digits = 0;
	const char *p = s;

	if (decimals > 77)
		return err_set(e, ERR_RANGE, "token decimals %u too large", decimals);
	if (!*p)
		return err_set(e, ERR_INVALID, "empty amount");
	for (; *p >= '0' && *p <= '9'; p++, int_digits++) {
		if (u256_mul10_add(&r, (unsigned)(*p - '0')))
			return err_set(e, ERR_RANGE, "amount too large");
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, frac_digits++) {
			if (frac_digits >= decimals)
				return err_set(e, ERR_INVALID,
					       "amount '%s' has more than %u decimal places", s, decimals);
			if (u256_mul10_add(&r, (unsigned)(*p - '0')))
				return err_set(e, ERR_RANGE, "amount too large");
		}
		if (frac_digits == 0)
			return err_set(e, ERR_INVALID, "amount '%s' ends with a decimal point", s);
	}
	if (*p)
		return err_set(e, ERR_INVALID, "bad character '%c' in amount '%s'", *p, s);
	if (int_digits == 0)
		return err_set(e, ERR_INVALID, "amount '%s' has no integer part", s);
	for (size_t i = frac_digits; i < decimals; i++) {
		if (u256_mul10_add(&r, 0))
			return err_set(e, ERR_RANGE, "amount too large");
	}
	*out = r;
	return 0;
}

void u256_format_units(char *out, const u256 *a, unsigned decimals)
{
	char dec[U256_DEC_MAX];
	size_t n, int_len, o = 0, end;

	u256_to_dec(dec, a);
	n = strlen(dec);
	if (decimals == 0) {
		memcpy(out, dec, n + 1);
		return;
	}
	if (n <= decimals) {
		out[o++] = '0';
		out[o++] = '.';
		for (size_t i = n; i < decimals; i++)
			out[o++] = '0';
		memcpy(out + o, dec, n);
		o += n;
	} else {
		int_len = n - decimals;
		memcpy(out, dec, int_len);
		o = int_len;
		out[o++] = '.';
		memcpy(out + o, dec + int_len, decimals);
		o += decimals;
	}
	end = o;
	while (out[end - 1] == '0')
		end--;
	if (out[end - 1] == '.')
		end--;
	out[end] = '\0';
}
