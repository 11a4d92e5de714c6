/*
 * test_filter.c — the filter language parser, sort specs, offer
 * validation/derived prices and the one-offer reference evaluator.
 * Table-driven: every field and operator, every value type with its
 * boundaries both ways, and every error class with its offset and message.
 * No published vectors apply (the language is ours); expected values are
 * worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "market/filter.h"
#include "market/offer.h"

static int field(const char *name)
{
	int i = filter_field_find(name, strlen(name));
	assert_true(i >= 0);
	return i;
}

static int parse(struct filter *f, const char *s, size_t *off, struct err *e)
{
	return filter_parse(f, s, strlen(s), off, e);
}

/* ---- good input ---- */

struct ok_case {
	const char *text;
	const char *field;
	int op;
	unsigned nvals;
	int64_t num0;      /* first numeric value (fixed-point units) */
	const char *str0;  /* or first string value, lower-cased */
};

static const struct ok_case ok_cases[] = {
	{ "gpu=RTX_4090", "gpu", FOP_EQ, 1, 0, "rtx_4090" },
	{ "gpu!=a100_80GB,H100_80GB", "gpu", FOP_NE, 2, 0, "a100_80gb" },
	{ "num_gpus>=2", "num_gpus", FOP_GE, 1, 2, NULL },
	{ "num_gpus=1,2,4,8", "num_gpus", FOP_EQ, 4, 1, NULL },
	{ "num_gpus=2.000", "num_gpus", FOP_EQ, 1, 2, NULL },  /* trailing zeros ok */
	{ "vram>=24", "vram", FOP_GE, 1, 24000, NULL },
	{ "vram>23.988", "vram", FOP_GT, 1, 23988, NULL },
	{ "vram<0.001", "vram", FOP_LT, 1, 1, NULL },
	{ "tflops>=82.58", "tflops", FOP_GE, 1, 82580, NULL },
	{ "gpu_tflops<=100", "gpu_tflops", FOP_LE, 1, 100000, NULL },
	{ "tflops16>0", "tflops16", FOP_GT, 1, 0, NULL },
	{ "bandwidth>=1000", "bandwidth", FOP_GE, 1, 1000, NULL },
	{ "verified=true", "verified", FOP_EQ, 1, 1, NULL },
	{ "verified=YES", "verified", FOP_EQ, 1, 1, NULL },
	{ "verified!=1", "verified", FOP_NE, 1, 1, NULL },
	{ "simulated=false", "simulated", FOP_EQ, 1, 0, NULL },
	{ "simulated=no", "simulated", FOP_EQ, 1, 0, NULL },
	{ "simulated=0", "simulated", FOP_EQ, 1, 0, NULL },
	{ "price<=0.80", "price", FOP_LE, 1, 800000, NULL },
	{ "price<0.000001", "price", FOP_LT, 1, 1, NULL },
	{ "price<=0.8000000000", "price", FOP_LE, 1, 800000, NULL },
	{ "price<=1000000000", "price", FOP_LE, 1, 1000000000000000ll, NULL }, /* cap exactly */
	{ "price_per_tflop<=0.01", "price_per_tflop", FOP_LE, 1, 10000, NULL },
	{ "token_price<=0.5", "token_price", FOP_LE, 1, 500000, NULL },
	{ "token=USDC,dai", "token", FOP_EQ, 2, 0, "usdc" },
	{ "fee_bps<=10000", "fee_bps", FOP_LE, 1, 10000, NULL },
	{ "reliability>=0.98", "reliability", FOP_GE, 1, 9800, NULL },
	{ "reliability<=1", "reliability", FOP_LE, 1, 10000, NULL },
	{ "reliability>0.9999", "reliability", FOP_GT, 1, 9999, NULL },
	{ "rentals>10", "rentals", FOP_GT, 1, 10, NULL },
	{ "rating>=4.5", "rating", FOP_GE, 1, 450, NULL },
	{ "rating<=5", "rating", FOP_LE, 1, 500, NULL },
	{ "interruptible=false", "interruptible", FOP_EQ, 1, 0, NULL },
	{ "country=DE,NL", "country", FOP_EQ, 2, 0, "de" },
	{ "country!=us", "country", FOP_NE, 1, 0, "us" },
	{ "region=eu-west", "region", FOP_EQ, 1, 0, "eu-west" },
	{ "provider=0x52908400098527886E0F7030069857D2E4169EE7", "provider", FOP_EQ, 1, 0,
	  "0x52908400098527886e0f7030069857d2e4169ee7" },
	{ "net_up>=100", "net_up", FOP_GE, 1, 100, NULL },
	{ "net_down>=1000", "net_down", FOP_GE, 1, 1000, NULL },
	{ "cpu_cores>=8", "cpu_cores", FOP_GE, 1, 8, NULL },
	{ "ram>=64", "ram", FOP_GE, 1, 64, NULL },
	{ "disk>=500", "disk", FOP_GE, 1, 500, NULL },
	{ "driver>=550.54.15", "driver", FOP_GE, 1, 550054015, NULL },
	{ "driver>=535.104", "driver", FOP_GE, 1, 535104000, NULL },
	{ "driver<550", "driver", FOP_LT, 1, 550000000, NULL },
	{ "cuda>=12.2", "cuda", FOP_GE, 1, 1202, NULL },
	{ "cuda>=12.10", "cuda", FOP_GE, 1, 1210, NULL },   /* a version, not a decimal */
	{ "cuda=12", "cuda", FOP_EQ, 1, 1200, NULL },
	{ "cuda<=999.99", "cuda", FOP_LE, 1, 99999, NULL },
	{ "  vram >= 24 ", "vram", FOP_GE, 1, 24000, NULL },  /* blanks around op */
	{ "\tVRAM\t>=\t24", "vram", FOP_GE, 1, 24000, NULL },  /* tabs, case of field */
	{ "num_gpus=1000000000000000", "num_gpus", FOP_EQ, 1, 1000000000000000ll, NULL },
};

static void test_parse_ok(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
		const struct ok_case *c = &ok_cases[i];
		struct filter f;
		struct err e = { 0 };
		int rc = parse(&f, c->text, NULL, &e);
		if (rc != 0)
			fail_msg("case %zu '%s': %s", i, c->text, e.msg);
		assert_int_equal(f.nclauses, 1);
		assert_int_equal(f.clauses[0].field, field(c->field));
		assert_int_equal(f.clauses[0].op, c->op);
		assert_int_equal(f.clauses[0].nvals, c->nvals);
		if (c->str0)
			assert_string_equal(filter_value_str(&f, &f.clauses[0], 0), c->str0);
		else
			assert_int_equal(f.vals[f.clauses[0].first].num, c->num0);
	}
}

static void test_parse_example(void **state)
{
	const char *t = "gpu=RTX_4090 num_gpus>=2 vram>=24 price<=0.80 reliability>=0.98 "
			"country=DE,NL interruptible=false cuda>=12.2";
	struct filter f;
	struct err e = { 0 };
	(void)state;
	assert_int_equal(parse(&f, t, NULL, &e), 0);
	assert_int_equal(f.nclauses, 8);
	assert_int_equal(f.nvals, 9);
	assert_int_equal(f.clauses[1].offset, 13);
	assert_int_equal(f.vals[f.clauses[3].first].num, 800000);
	assert_int_equal(f.vals[f.clauses[4].first].num, 9800);
	assert_string_equal(filter_value_str(&f, &f.clauses[5], 1), "nl");
	assert_int_equal(f.vals[f.clauses[7].first].num, 1202);
	/* blank input is the match-all filter */
	assert_int_equal(parse(&f, "", NULL, &e), 0);
	assert_int_equal(f.nclauses, 0);
	assert_int_equal(parse(&f, " \t ", NULL, &e), 0);
	assert_int_equal(f.nclauses, 0);
	assert_int_equal(filter_parse(&f, NULL, 0, NULL, &e), 0);
}

/* ---- bad input ---- */

struct bad_case {
	const char *text;
	int code;
	size_t off;           /* expected error offset */
	const char *needle;   /* must appear in the message */
};

static const struct bad_case bad_cases[] = {
	{ "gpu=RTX_4090 num_gpus>=2 vrm>=24", ERR_INVALID, 25,
	  "unknown field 'vrm' at offset 25 in 'vrm>=24' (did you mean 'vram'?)" },
	{ "pirce<=1", ERR_INVALID, 0, "did you mean 'price'?" },
	{ "xyzzy=1", ERR_INVALID, 0, "unknown field 'xyzzy' at offset 0 in 'xyzzy=1'" },
	{ "vram", ERR_INVALID, 4, "expected an operator" },
	{ "vram~24", ERR_INVALID, 4, "expected an operator (= != < <= > >=) after 'vram'" },
	{ "vram!24", ERR_INVALID, 4, "expected an operator" },
	{ "vram>=", ERR_INVALID, 6, "missing value after 'vram>='" },
	{ "vram>= ", ERR_INVALID, 7, "missing value" },
	{ ">=24", ERR_INVALID, 0, "expected a field name" },
	{ "gpu=x ,a=1", ERR_INVALID, 6, "expected a field name, got ','" },
	{ "price<=0.8.1", ERR_INVALID, 7, "bad number '0.8.1' for 'price'" },
	{ "price<=abc", ERR_INVALID, 7, "bad number" },
	{ "price<=-1", ERR_INVALID, 7, "bad number" },
	{ "price<=1e3", ERR_INVALID, 7, "bad number" },
	{ "price<=.5", ERR_INVALID, 7, "bad number" },
	{ "price<=5.", ERR_INVALID, 7, "bad number" },
	{ "price<=0x10", ERR_INVALID, 7, "bad number" },
	{ "price<=0.0000001", ERR_INVALID, 7, "too many decimal places in '0.0000001' for 'price' (max 6)" },
	{ "reliability>=0.98765", ERR_INVALID, 13, "(max 4)" },
	{ "num_gpus=2.5", ERR_INVALID, 9, "expected an integer" },
	{ "price<=1000000000.000001", ERR_RANGE, 7, "above 1000000000.000000" },
	{ "num_gpus=1000000000000001", ERR_RANGE, 9, "above 1000000000000000" },
	{ "num_gpus=99999999999999999999999999", ERR_RANGE, 9, "above" },
	{ "reliability<=1.0001", ERR_RANGE, 13, "'1.0001' for 'reliability' above 1.0000" },
	{ "fee_bps<=10001", ERR_RANGE, 9, "above 10000" },
	{ "rating>5.01", ERR_RANGE, 7, "above 5.00" },
	{ "cuda>=12.2.1", ERR_INVALID, 6, "bad version '12.2.1' for 'cuda'" },
	{ "cuda>=12.100", ERR_INVALID, 6, "bad version" },
	{ "cuda>=1000.0", ERR_INVALID, 6, "bad version" },
	{ "cuda>=12.", ERR_INVALID, 6, "bad version" },
	{ "cuda>=.2", ERR_INVALID, 6, "bad version" },
	{ "driver>=535.1000", ERR_INVALID, 8, "bad version" },
	{ "driver>=1.2.3.4", ERR_INVALID, 8, "bad version" },
	{ "verified=maybe", ERR_INVALID, 9, "expected true or false" },
	{ "verified=2", ERR_INVALID, 9, "expected true or false" },
	{ "verified<1", ERR_INVALID, 8, "operator '<' not allowed for 'verified'" },
	{ "gpu>=RTX", ERR_INVALID, 3, "operator '>=' not allowed for 'gpu'" },
	{ "country=DEU", ERR_INVALID, 8, "two-letter country code" },
	{ "country=D1", ERR_INVALID, 8, "two-letter country code" },
	{ "country=de,n", ERR_INVALID, 11, "two-letter" },
	{ "provider=0x1234", ERR_INVALID, 9, "20-byte address" },
	{ "provider=0x52908400098527886E0F7030069857D2E4169EEG", ERR_INVALID, 9, "20-byte address" },
	{ "token=US_DC", ERR_INVALID, 6, "letters and digits" },
	{ "token=ABCDEFGHIJKL", ERR_INVALID, 6, "1..11 characters" },
	{ "gpu=RTX*4090", ERR_INVALID, 4, "letters, digits" },
	{ "gpu=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ERR_INVALID, 4, "1..31 characters" },
	{ "gpu=a,,b", ERR_INVALID, 6, "empty value in list" },
	{ "gpu=a,", ERR_INVALID, 6, "empty value in list" },
	{ "gpu=,a", ERR_INVALID, 4, "empty value in list" },
	{ "vram>=1,2", ERR_INVALID, 7, "a list needs = or != (got '>=')" },
	{ "vram=1 x\001", ERR_INVALID, 8, "invalid byte 0x01 at offset 8" },
	{ "vram=1\x80", ERR_INVALID, 6, "invalid byte 0x80" },
	{ "vram=1\n", ERR_INVALID, 6, "invalid byte 0x0a" },
};

static void test_parse_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *c = &bad_cases[i];
		struct filter f, before;
		struct err e = { 0 };
		size_t off = 9999;
		memset(&f, 0xa5, sizeof f);
		before = f;
		int rc = parse(&f, c->text, &off, &e);
		if (rc != c->code || off != c->off || !strstr(e.msg, c->needle) ||
		    strncmp(e.msg, "filter: ", 8) != 0)
			fail_msg("case %zu '%s': rc %d off %zu msg '%s'", i, c->text, rc, off, e.msg);
		assert_memory_equal(&f, &before, sizeof f); /* output untouched */
		/* NULL err and NULL offset are allowed */
		assert_int_equal(parse(&f, c->text, NULL, NULL), c->code);
	}
	/* "did you mean" only for near misses */
	struct filter f;
	struct err e = { 0 };
	assert_int_equal(parse(&f, "xyzzy=1", NULL, &e), ERR_INVALID);
	assert_null(strstr(e.msg, "did you mean"));
	assert_non_null(strstr(e.msg, "search --help` lists the fields")); /* where to find them, instead */
	/* an embedded NUL is a bad byte, not the end */
	size_t off = 0;
	assert_int_equal(filter_parse(&f, "vram=1\0x", 8, &off, &e), ERR_INVALID);
	assert_int_equal(off, 6);
}

static void test_parse_caps(void **state)
{
	char t[FILTER_TEXT_MAX + 64];
	struct filter f;
	struct err e = { 0 };
	size_t off = 0;
	(void)state;
	/* text: exactly the cap is fine, one more byte is not */
	memset(t, ' ', sizeof t);
	memcpy(t, "vram>=1", 7);
	assert_int_equal(filter_parse(&f, t, FILTER_TEXT_MAX, &off, &e), 0);
	assert_int_equal(f.nclauses, 1);
	assert_int_equal(filter_parse(&f, t, FILTER_TEXT_MAX + 1, &off, &e), ERR_TOO_BIG);
	assert_int_equal(off, FILTER_TEXT_MAX);
	assert_non_null(strstr(e.msg, "max 1024"));

	/* clauses: 32 fine, the 33rd names its offset */
	t[0] = 0;
	for (int i = 0; i < FILTER_CLAUSES_MAX; i++)
		strcat(t, "ram>=1 ");
	assert_int_equal(parse(&f, t, &off, &e), 0);
	assert_int_equal(f.nclauses, FILTER_CLAUSES_MAX);
	strcat(t, "disk>=1");
	assert_int_equal(parse(&f, t, &off, &e), ERR_TOO_BIG);
	assert_int_equal(off, 7 * FILTER_CLAUSES_MAX);
	assert_non_null(strstr(e.msg, "too many clauses (max 32)"));
	assert_non_null(strstr(e.msg, "'disk>=1'"));

	/* list: 32 values fine, 33 not */
	strcpy(t, "num_gpus=1");
	for (int i = 2; i <= FILTER_LIST_MAX; i++)
		sprintf(t + strlen(t), ",%d", i);
	assert_int_equal(parse(&f, t, &off, &e), 0);
	assert_int_equal(f.clauses[0].nvals, FILTER_LIST_MAX);
	size_t at = strlen(t) + 1;
	strcat(t, ",33");
	assert_int_equal(parse(&f, t, &off, &e), ERR_TOO_BIG);
	assert_int_equal(off, at);
	assert_non_null(strstr(e.msg, "too many values in list (max 32)"));

	/* values over all clauses: 8 lists of 32 is the cap; one more value is not */
	t[0] = 0;
	for (int c = 0; c < 8; c++) {
		strcat(t, "ram=0");
		for (int i = 1; i < FILTER_LIST_MAX; i++)
			strcat(t, ",1");
		strcat(t, " ");
	}
	assert_true(strlen(t) < FILTER_TEXT_MAX - 8);
	assert_int_equal(parse(&f, t, &off, &e), 0);
	assert_int_equal(f.nvals, FILTER_VALUES_MAX);
	strcat(t, "ram=1");
	assert_int_equal(parse(&f, t, &off, &e), ERR_TOO_BIG);
	assert_non_null(strstr(e.msg, "too many values (max 256)"));
}

static void test_ops_ranges(void **state)
{
	static const struct {
		const char *text;
		int64_t lo, hi;
	} cases[] = {
		{ "ram=5", 10, 10 },
		{ "ram!=5", 0, OFFER_KEY_KNOWN_MAX },
		{ "ram<5", 0, 9 },
		{ "ram<=5", 0, 10 },
		{ "ram>5", 11, OFFER_KEY_KNOWN_MAX },
		{ "ram>=5", 10, OFFER_KEY_KNOWN_MAX },
		{ "ram<0", 0, -1 },   /* empty */
		{ "ram>=0", 0, OFFER_KEY_KNOWN_MAX },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct filter f;
		int64_t lo, hi;
		assert_int_equal(parse(&f, cases[i].text, NULL, NULL), 0);
		filter_clause_range(&f, &f.clauses[0], &lo, &hi);
		assert_int_equal(lo, cases[i].lo);
		assert_int_equal(hi, cases[i].hi);
	}
}

static void test_sort_parse(void **state)
{
	struct filter_sort s;
	struct err e = { 0 };
	(void)state;
	assert_int_equal(filter_sort_parse(&s, NULL, &e), 0);
	assert_int_equal(s.field, field("price"));
	assert_false(s.desc);
	assert_int_equal(filter_sort_parse(&s, "", &e), 0);
	assert_int_equal(s.field, field("price"));
	assert_int_equal(filter_sort_parse(&s, "-price", &e), 0);
	assert_true(s.desc);
	assert_int_equal(filter_sort_parse(&s, "+tflops", &e), 0);
	assert_int_equal(s.field, field("tflops"));
	assert_false(s.desc);
	assert_int_equal(filter_sort_parse(&s, "price_per_tflop", &e), 0);
	assert_int_equal(s.field, field("price_per_tflop"));
	assert_int_equal(filter_sort_parse(&s, "-Reliability", &e), 0);
	assert_int_equal(s.field, field("reliability"));
	for (size_t i = 0; i < filter_field_count; i++)
		if (filter_fields[i].sortable) {
			assert_int_equal(filter_sort_parse(&s, filter_fields[i].name, &e), 0);
			assert_int_equal(s.field, i);
		}

	static const struct {
		const char *text;
		int code;
		const char *needle;
	} bad[] = {
		{ "gpu", ERR_INVALID, "sort: field 'gpu' is not a sort key" },
		{ "-pric", ERR_INVALID, "sort: unknown key 'pric' (did you mean 'price'?)" },
		{ "-", ERR_INVALID, "sort: unknown key ''" },
		{ "--price", ERR_INVALID, "invalid character at offset 1" },
		{ "price desc", ERR_INVALID, "invalid character at offset 5" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ERR_TOO_BIG, "longer than 64" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct filter_sort before = { 7, true }, t = before;
		int rc = filter_sort_parse(&t, bad[i].text, &e);
		if (rc != bad[i].code || !strstr(e.msg, bad[i].needle))
			fail_msg("sort case %zu '%s': rc %d msg '%s'", i, bad[i].text, rc, e.msg);
		assert_memory_equal(&t, &before, sizeof t);
	}
}

/* ---- offers ---- */

static struct offer base_offer(void)
{
	struct offer o;
	memset(&o, 0, sizeof o);
	o.id32[0] = 1;
	memcpy(o.country, "DE", 3);
	strcpy(o.region, "eu-west");
	strcpy(o.gpu_model, "RTX_4090");
	strcpy(o.token_symbol, "USDC");
	o.num_gpus = 1;
	o.vram_mib = 24564;          /* what nvidia-smi reports for a 4090 */
	o.tflops32_milli = 82580;
	o.tflops16_milli = 165160;
	o.bandwidth_gbps = 1008;
	o.rate_per_hour = u256_from_u64(800000); /* 0.80 USDC/h */
	o.token_decimals = 6;
	o.token_usd_micro = 1000000; /* $1.000000 */
	o.fee_bps = 500;
	o.reliability_bps = 9800;
	o.rating_centi = 475;
	o.cuda_version = 1202;
	o.driver_version = 550054015;
	o.expires_at = 2000;
	return o;
}

static void test_offer_derive(void **state)
{
	struct offer o = base_offer();
	struct err e = { 0 };
	(void)state;
	assert_int_equal(offer_derive(&o, &e), 0);
	/* 800000 * 1e6 / 1e6 = 800000 micro-USD, exact */
	assert_int_equal(o.renter_usd_micro, 800000);
	assert_true(o.renter_usd_exact);
	assert_int_equal(o.token_micro, 800000);
	/* 800000 * 1000 / 82580 = 9687.57... -> ceil 9688, inexact */
	assert_int_equal(o.per_tflop_usd_micro, 9688);
	assert_false(o.per_tflop_usd_exact);
	/* provider keeps 95%: 760000 */
	assert_int_equal(offer_provider_net_usd_micro(&o), 760000);
	/* keys: 2*floor + inexact */
	assert_int_equal(offer_col_key(&o, OCOL_PRICE), 1600000);
	assert_int_equal(offer_col_key(&o, OCOL_PRICE_PER_TFLOP), 2 * 9687 + 1);
	/* 24564 MiB = 23988.28 milli-GiB */
	assert_int_equal(offer_col_key(&o, OCOL_VRAM), 2 * 23988 + 1);

	/* 1 wei of an 18-decimal token at $3000: 3e-9 micro-USD -> shows 0.000001 */
	o = base_offer();
	o.rate_per_hour = u256_from_u64(1);
	o.token_decimals = 18;
	o.token_usd_micro = 3000000000ull;
	assert_int_equal(offer_derive(&o, &e), 0);
	assert_int_equal(o.renter_usd_micro, 1);
	assert_false(o.renter_usd_exact);
	assert_int_equal(offer_col_key(&o, OCOL_PRICE), 1);
	/* unknown USD price */
	o = base_offer();
	o.token_usd_micro = 0;
	assert_int_equal(offer_derive(&o, &e), 0);
	assert_true(o.renter_usd_micro == OFFER_UNKNOWN);
	assert_true(o.per_tflop_usd_micro == OFFER_UNKNOWN);
	assert_true(offer_col_key(&o, OCOL_PRICE) == OFFER_KEY_UNKNOWN);
	assert_true(offer_provider_net_usd_micro(&o) == OFFER_UNKNOWN);
	/* no TFLOPS: price per TFLOP unknown, price known */
	o = base_offer();
	o.tflops32_milli = 0;
	assert_int_equal(offer_derive(&o, &e), 0);
	assert_int_equal(o.renter_usd_micro, 800000);
	assert_true(o.per_tflop_usd_micro == OFFER_UNKNOWN);
	/* provider string */
	char buf[OFFER_STR_MAX];
	o.provider20[19] = 0xab;
	assert_string_equal(offer_col_str(buf, &o, OSTR_PROVIDER),
			    "0x00000000000000000000000000000000000000ab");
	assert_string_equal(offer_col_str(buf, &o, OSTR_GPU), "RTX_4090");
}

static void test_offer_bad(void **state)
{
	static const struct {
		int what;
		int code;
		const char *needle;
	} cases[] = {
		{ 0, ERR_INVALID, "country" },
		{ 1, ERR_INVALID, "region" },
		{ 2, ERR_INVALID, "gpu_model" },
		{ 3, ERR_INVALID, "token_symbol" },
		{ 4, ERR_RANGE, "num_gpus" },
		{ 5, ERR_RANGE, "num_gpus" },
		{ 6, ERR_RANGE, "vram_mib" },
		{ 7, ERR_RANGE, "tflops" },
		{ 8, ERR_RANGE, "token_decimals" },
		{ 9, ERR_RANGE, "fee_bps" },
		{ 10, ERR_RANGE, "reliability_bps" },
		{ 11, ERR_RANGE, "rating_centi" },
		{ 12, ERR_RANGE, "cuda_version" },
		{ 13, ERR_RANGE, "expires_at" },
		{ 14, ERR_RANGE, "renter price" },
		{ 15, ERR_RANGE, "rate_per_hour" },
		{ 16, ERR_RANGE, "token_usd_micro" },
		{ 17, ERR_INVALID, "gpu_model" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct offer o = base_offer(), before;
		struct err e = { 0 };
		switch (cases[i].what) {
		case 0: memcpy(o.country, "de", 3); break;
		case 1: strcpy(o.region, "eu west"); break;
		case 2: o.gpu_model[0] = 0; break;
		case 3: strcpy(o.token_symbol, "US-DC"); break;
		case 4: o.num_gpus = 0; break;
		case 5: o.num_gpus = OFFER_NUM_GPUS_MAX + 1; break;
		case 6: o.vram_mib = OFFER_VRAM_MIB_MAX + 1; break;
		case 7: o.tflops16_milli = OFFER_TFLOPS_MILLI_MAX + 1; break;
		case 8: o.token_decimals = OFFER_DECIMALS_MAX + 1; break;
		case 9: o.fee_bps = 10001; break;
		case 10: o.reliability_bps = 10001; break;
		case 11: o.rating_centi = OFFER_RATING_MAX + 1; break;
		case 12: o.cuda_version = OFFER_CUDA_MAX + 1; break;
		case 13: o.expires_at = 0; break;
		case 14: o.rate_per_hour = u256_from_u64(1000000000000000ull); break; /* $1e9/h */
		case 15: memset(&o.rate_per_hour, 0xff, sizeof o.rate_per_hour); break;
		case 16: o.token_usd_micro = OFFER_USD_MICRO_MAX + 1; break;
		case 17: memset(o.gpu_model, 'A', sizeof o.gpu_model); break; /* no NUL */
		}
		before = o;
		int rc = offer_derive(&o, &e);
		if (rc != cases[i].code || !strstr(e.msg, cases[i].needle))
			fail_msg("offer case %zu: rc %d msg '%s'", i, rc, e.msg);
		assert_memory_equal(&o, &before, sizeof o);
	}
	/* the caps themselves are accepted */
	struct offer o = base_offer();
	o.num_gpus = OFFER_NUM_GPUS_MAX;
	o.vram_mib = OFFER_VRAM_MIB_MAX;
	o.fee_bps = 10000;
	o.reliability_bps = 10000;
	o.rating_centi = OFFER_RATING_MAX;
	o.cuda_version = OFFER_CUDA_MAX;
	o.token_decimals = OFFER_DECIMALS_MAX;
	o.rate_per_hour = u256_from_u64(999999999999999ull); /* just under $1e9/h at 6 dec */
	o.token_decimals = 6;
	assert_int_equal(offer_derive(&o, NULL), 0);
	assert_int_equal(o.renter_usd_micro, 999999999999999ull);
}

/* Exact semantics of the reference evaluator on hand-checked values. */
/* Issue 14.10: a GPU is found by its family or common name, a token by its symbol or dev stand-in. */
static void test_names(void **state)
{
	static const struct { const char *model, *q; bool yes; } g[] = {
		{ "NVIDIA_A100_80GB", "A100", true },          { "NVIDIA_A100_80GB", "a100_80gb", true },
		{ "NVIDIA_A100_80GB", "nvidia a100", true },   { "NVIDIA_A100_80GB", "NVIDIA_A100_80GB", true },
		{ "NVIDIA_A100-SXM4-40GB", "a100-sxm4", true }, { "NVIDIA_GeForce_RTX_4090", "RTX_4090", true },
		{ "NVIDIA_GeForce_RTX_4090", "4090", true },   { "NVIDIA_A100_80GB", "A10", false },
		{ "NVIDIA_A10", "A100", false },               { "NVIDIA_A100_80GB", "80GB_A100", false },
		{ "NVIDIA_A100_80GB", "", false },             { "NVIDIA_A100_80GB", "__", false },
		{ "NVIDIA_H100_80GB_HBM3", "h100", true },     { "NVIDIA_H100_80GB_HBM3", "H100_NVL", false },
	};
	static const struct { const char *sym, *q; bool yes; } t[] = {
		{ "dUSDC", "USDC", true }, { "dUSDC", "dusdc", true }, { "USDC", "usdc", true },
		{ "USDC", "dUSDC", false }, { "dUSDC", "SDC", false }, { "WETH", "ETH", false }, { "ETH", "ETH", true },
	};
	(void)state;
	for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
		if (offer_gpu_matches(g[i].model, g[i].q, strlen(g[i].q)) != g[i].yes)
			fail_msg("gpu '%s' vs '%s': want %d", g[i].model, g[i].q, g[i].yes);
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (offer_token_matches(t[i].sym, t[i].q, strlen(t[i].q)) != t[i].yes)
			fail_msg("token '%s' vs '%s': want %d", t[i].sym, t[i].q, t[i].yes);
}

static void test_match(void **state)
{
	static const struct {
		const char *text;
		bool want;
	} cases[] = {
		{ "", true },
		{ "gpu=rtx_4090", true },
		{ "gpu=RTX_4090,A100", true },
		{ "gpu!=rtx_4090", false },
		{ "gpu!=A100,H100", true },
		{ "vram>=24", false },          /* 24564 MiB = 23.988.. GiB */
		{ "vram>=23.988", true },
		{ "vram>23.988", true },
		{ "vram=23.988", false },
		{ "vram<23.989", true },
		{ "vram<=23.988", false },
		{ "price<=0.80", true },
		{ "price<0.80", false },
		{ "price=0.8", true },
		{ "price!=0.8", false },
		{ "price>=0.800001", false },
		{ "price_per_tflop<=0.009688", true },  /* 0.0096875.. */
		{ "price_per_tflop<0.009688", true },
		{ "price_per_tflop<=0.009687", false },
		{ "price_per_tflop=0.009688", false },
		{ "token_price=0.8", true },
		{ "tflops=82.58", true },
		{ "tflops16>=165.16", true },
		{ "reliability>=0.98", true },
		{ "reliability>0.98", false },
		{ "rating=4.75", true },
		{ "cuda>=12.2", true },
		{ "cuda>=12.3", false },
		{ "driver>=550.54.15", true },
		{ "driver>550.54.15", false },
		{ "country=nl,de", true },
		{ "country!=DE", false },
		{ "region=EU-WEST", true },
		{ "token=usdc", true },
		{ "interruptible=false verified=false simulated=no", true },
		{ "num_gpus=1,2 fee_bps=500 bandwidth>1000", true },
		{ "num_gpus=2,4", false },
		{ "num_gpus!=2,4", true },
	};
	struct offer o = base_offer();
	(void)state;
	assert_int_equal(offer_derive(&o, NULL), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct filter f;
		struct err e = { 0 };
		if (parse(&f, cases[i].text, NULL, &e) != 0)
			fail_msg("case %zu: %s", i, e.msg);
		if (filter_match(&f, &o, 1000) != cases[i].want)
			fail_msg("match case %zu '%s' want %d", i, cases[i].text, cases[i].want);
	}
	/* expiry: live strictly before expires_at */
	struct filter f;
	assert_int_equal(parse(&f, "", NULL, NULL), 0);
	assert_true(filter_match(&f, &o, 1999));
	assert_false(filter_match(&f, &o, 2000));
	/* unknown USD price: no price clause matches, others still do */
	o.token_usd_micro = 0;
	assert_int_equal(offer_derive(&o, NULL), 0);
	static const char *const unknown[] = { "price<=1000", "price>=0", "price!=1", "price=0",
					       "price_per_tflop>=0", "price_per_tflop!=0" };
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		assert_int_equal(parse(&f, unknown[i], NULL, NULL), 0);
		assert_false(filter_match(&f, &o, 1000));
	}
	assert_int_equal(parse(&f, "token_price<=0.8 gpu=rtx_4090", NULL, NULL), 0);
	assert_true(filter_match(&f, &o, 1000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_example),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_caps),
		cmocka_unit_test(test_ops_ranges),
		cmocka_unit_test(test_sort_parse),
		cmocka_unit_test(test_offer_derive),
		cmocka_unit_test(test_offer_bad),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_match),
	};
	return cmocka_run_group_tests_name("filter", tests, NULL, NULL);
}
