/*
 * test_pricefeed.c — the price-feed math and configuration of src/server/pricefeed.h, without a chain.
 *
 * Covers: answer -> micro-USD (floor, 8-decimal USD answers as Chainlink's USD feeds use, 18 decimals,
 * 0 and 36 decimals, the u64 boundary, zero / negative / too-large answers), staleness at exactly the
 * max age and one second past, the latestRoundData return decoding (160 bytes exactly), the
 * `SYMBOL=0xFEED,...` spec (good lists, each malformed entry named in the message), and the cache's
 * capacity bounds. Values are constructed by hand (the arithmetic is checked in comments), not vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/u256.h"
#include "server/pricefeed.h"

static u256 dec(const char *s)
{
	u256 v;
	assert_int_equal(u256_parse_dec(&v, s, NULL), 0);
	return v;
}

static u256 neg(uint64_t x) /* -x as an int256 word (x >= 1) */
{
	u256 v = u256_from_u64(x);
	u256 m = { { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX } }; /* -1 */
	u256 one = u256_from_u64(1), t;
	u256_sub(&t, &v, &one);  /* x - 1 */
	u256_sub(&m, &m, &t);    /* -1 - (x-1) = -x */
	return m;
}

static void test_micro(void **state)
{
	(void)state;
	static const struct {
		const char *answer;
		unsigned decimals;
		int rc;
		uint64_t micro;
	} v[] = {
		{ "100000000", 8, 0, 1000000 },         /* 1.00000000 -> 1.000000 */
		{ "50000000", 8, 0, 500000 },           /* 0.50 */
		{ "300012345678", 8, 0, 3000123456 },   /* 3000.12345678 -> floor 3000.123456 */
		{ "1", 8, 0, 0 },                       /* 1e-8 rounds down to 0 */
		{ "99", 8, 0, 0 },
		{ "100", 8, 0, 1 },                     /* 1e-6 */
		{ "999999999999999999", 18, 0, 999999 },/* 0.999..9 -> floor 0.999999 */
		{ "7", 0, 0, 7000000 },                 /* 0 decimals */
		{ "1000000000000000000000000000000000000", 36, 0, 1000000 },
		{ "18446744073709", 0, 0, 18446744073709000000ull }, /* fits u64 */
		{ "18446744073710", 0, ERR_RANGE, 0 },  /* * 1e6 > 2^64-1 */
		{ "0", 8, ERR_RANGE, 0 },
		{ "1", 37, ERR_RANGE, 0 },              /* decimals cap */
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct err e = { 0 };
		uint64_t out = 12345;
		u256 a = dec(v[i].answer);
		int rc = pricefeed_micro(&out, &a, v[i].decimals, &e);
		assert_int_equal(rc, v[i].rc);
		if (rc == 0) {
			assert_true(out == v[i].micro);
		} else {
			assert_true(out == 12345); /* untouched */
			assert_true(e.msg[0] != '\0');
		}
	}
	/* Negative answers (int256 two's complement) and the largest word. */
	uint64_t out = 1;
	struct err e = { 0 };
	u256 n1 = neg(1), n5 = neg(50000000), max = { { UINT64_MAX, UINT64_MAX, UINT64_MAX, INT64_MAX } };
	assert_int_equal(pricefeed_micro(&out, &n1, 8, &e), ERR_RANGE);
	assert_non_null(strstr(e.msg, "not positive"));
	assert_int_equal(pricefeed_micro(&out, &n5, 8, &e), ERR_RANGE);
	assert_int_equal(pricefeed_micro(&out, &max, 8, &e), ERR_RANGE); /* overflows u256 * 1e6 */
	assert_true(out == 1);
}

static void test_judge_stale(void **state)
{
	struct pricefeed_round r;
	uint64_t out;
	(void)state;

	memset(&r, 0, sizeof r);
	r.answer = u256_from_u64(200000000); /* 2.00 */
	r.updated_at = u256_from_u64(1000000);
	static const struct {
		int64_t block_time;
		uint32_t max_age;
		int rc;
	} v[] = {
		{ 1000000, 86400, 0 },          /* same second */
		{ 1086400, 86400, 0 },          /* exactly max age: still fresh */
		{ 1086401, 86400, ERR_STATE },  /* one second past */
		{ 999000, 86400, 0 },           /* updated after the block time: not stale */
		{ 1000001, 0, ERR_STATE },      /* max age 0: only the same second */
		{ 1000000, 0, 0 },
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct err e = { 0 };
		out = 0;
		assert_int_equal(pricefeed_judge(&out, &r, 8, v[i].block_time, v[i].max_age, &e), v[i].rc);
		if (v[i].rc == 0)
			assert_true(out == 2000000);
		else
			assert_non_null(strstr(e.msg, "stale"));
	}
	/* A fresh but non-positive answer is refused as such. */
	struct err e = { 0 };
	r.answer = u256_from_u64(0);
	assert_int_equal(pricefeed_judge(&out, &r, 8, 1000000, 86400, &e), ERR_RANGE);
	/* updatedAt beyond int64 */
	r.answer = u256_from_u64(1);
	r.updated_at = (u256){ { 0, 1, 0, 0 } };
	assert_int_equal(pricefeed_judge(&out, &r, 8, 1000000, 86400, &e), ERR_RANGE);
}

static void test_decode_round(void **state)
{
	uint8_t ret[161];
	struct pricefeed_round r;
	struct err e = { 0 };
	uint64_t x;
	(void)state;

	memset(ret, 0, sizeof ret);
	ret[31] = 7;                     /* roundId 7 */
	ret[63] = 0x80;                  /* answer 128 */
	ret[95] = 1;                     /* startedAt 1 */
	ret[126] = 0x01; ret[127] = 0x02; /* updatedAt 258 */
	ret[159] = 7;                    /* answeredInRound 7 */
	assert_int_equal(pricefeed_decode_round(&r, ret, 160, &e), 0);
	assert_int_equal(u256_to_u64(&x, &r.round_id), 0);
	assert_true(x == 7);
	assert_int_equal(u256_to_u64(&x, &r.answer), 0);
	assert_true(x == 128);
	assert_int_equal(u256_to_u64(&x, &r.updated_at), 0);
	assert_true(x == 258);
	assert_int_equal(pricefeed_decode_round(&r, ret, 161, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "latestRoundData"));
	assert_int_equal(pricefeed_decode_round(&r, ret, 159, &e), ERR_INVALID);
	assert_int_equal(pricefeed_decode_round(&r, ret, 0, &e), ERR_INVALID);
	assert_int_equal(pricefeed_decode_round(&r, NULL, 160, &e), ERR_INVALID);
}

#define FEED_A "0x5f4ec3df9cbd43714fe2740f5e3616155c5b8419"
#define FEED_B "0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6"

static void test_spec(void **state)
{
	struct pricefeed_entry f[PRICEFEED_SPEC_MAX];
	size_t n = 99;
	struct err e = { 0 };
	(void)state;

	assert_int_equal(pricefeed_parse_spec(f, PRICEFEED_SPEC_MAX, &n, "", &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pricefeed_parse_spec(f, PRICEFEED_SPEC_MAX, &n, NULL, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(pricefeed_parse_spec(f, PRICEFEED_SPEC_MAX, &n, "ETH=" FEED_A ",dUSDC=" FEED_B, &e), 0);
	assert_int_equal(n, 2);
	assert_string_equal(f[0].symbol, "ETH");
	assert_string_equal(f[1].symbol, "dUSDC");
	assert_int_equal(f[0].feed.b[0], 0x5f);
	assert_int_equal(f[1].feed.b[19], 0xf6);

	static const struct {
		const char *spec;
		int rc;
		const char *in_msg;
	} bad[] = {
		{ "ETH", ERR_INVALID, "'ETH'" },
		{ "ETH=" FEED_A ",USDC", ERR_INVALID, "'USDC'" },
		{ "=" FEED_A, ERR_INVALID, "symbol" },
		{ "E-TH=" FEED_A, ERR_INVALID, "'E-TH'" },
		{ "ABCDEFGHIJKL=" FEED_A, ERR_INVALID, "ABCDEFGHIJKL" },
		{ "ETH=0x1234", ERR_INVALID, "price_feeds ETH" },
		{ "ETH=" FEED_A "00", ERR_INVALID, "price_feeds ETH" },
		{ "ETH=0x8fffFfd4AfB6115b954Bd326cbe7B4BA576818f6", ERR_INVALID, "price_feeds ETH" }, /* bad EIP-55 */
		{ "ETH=" FEED_A ",eth=" FEED_B, ERR_CONFLICT, "'eth'" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		n = 77;
		assert_int_equal(pricefeed_parse_spec(f, PRICEFEED_SPEC_MAX, &n, bad[i].spec, &e), bad[i].rc);
		assert_int_equal(n, 77); /* untouched */
		if (!strstr(e.msg, bad[i].in_msg))
			fail_msg("spec %zu: message '%s' lacks '%s'", i, e.msg, bad[i].in_msg);
	}
	/* Capacity: cap entries fit, one more does not. */
	char big[2048] = "";
	for (int i = 0; i < 3; i++) {
		char item[80];
		snprintf(item, sizeof item, "%sT%d=" FEED_A, i ? "," : "", i);
		strcat(big, item);
	}
	assert_int_equal(pricefeed_parse_spec(f, 3, &n, big, &e), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pricefeed_parse_spec(f, 2, &n, big, &e), ERR_TOO_BIG);
	assert_non_null(strstr(e.msg, "'T2'"));
	char huge[4096];
	memset(huge, 'A', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	assert_int_equal(pricefeed_parse_spec(f, PRICEFEED_SPEC_MAX, &n, huge, &e), ERR_TOO_BIG);
}

static void test_cache_bounds(void **state)
{
	struct pricefeed_cache *c = NULL;
	struct err e = { 0 };
	(void)state;

	assert_int_equal(pricefeed_cache_new(&c, 0, &e), ERR_RANGE);
	assert_null(c);
	assert_int_equal(pricefeed_cache_new(&c, PRICEFEED_CACHE_MAX + 1, &e), ERR_RANGE);
	assert_null(c);
	assert_int_equal(pricefeed_cache_new(&c, PRICEFEED_CACHE_MAX, &e), 0);
	assert_non_null(c);
	assert_int_equal(pricefeed_cache_size(c), 0);
	assert_int_equal(pricefeed_cache_size(NULL), 0);
	pricefeed_cache_free(c);
	pricefeed_cache_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_micro),
		cmocka_unit_test(test_judge_stale),
		cmocka_unit_test(test_decode_round),
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_cache_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
