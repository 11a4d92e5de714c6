/*
 * test_abi.c — Solidity ABI encoder/decoder: the spec's own examples byte
 * for byte, round trips for every type, range boundaries, selectors and
 * topics, an ERC-20 Transfer log, revert payloads, and one malformed input
 * per class the decoder must reject (each with a negative code and message).
 *
 * Vector sources:
 *   - Solidity docs, "Contract ABI Specification" (docs/abi-spec.rst in
 *     ethereum/solidity): the baz/bar/sam examples ("Examples"), f and g
 *     ("Use of Dynamic Types"), Error(string)/Panic(uint256) selectors
 *     ("Errors"/"Panic via assert").
 *   - EIP-20: transfer/balanceOf selectors and the Transfer event topic0
 *     (0xddf252ad..., as every ERC-20 log on mainnet carries).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hex.h"
#include "eth/abi.h"
#include "eth/keccak.h"

/* Decodes hex (whitespace ignored) into a fresh buffer. */
static uint8_t *unhex(const char *hex, size_t *n)
{
	char *clean = malloc(strlen(hex) + 1);
	size_t k = 0;
	uint8_t *p = NULL;

	for (const char *c = hex; *c; c++)
		if (*c != ' ' && *c != '\n')
			clean[k++] = *c;
	clean[k] = '\0';
	assert_int_equal(hex_decode_alloc(&p, n, clean, ABI_MAX_DATA, NULL), 0);
	free(clean);
	return p;
}

static void assert_hex(const struct buf *b, const char *hex)
{
	size_t n;
	uint8_t *want = unhex(hex, &n);

	if (b->len != n || memcmp(b->data, want, n)) {
		char *got = malloc(2 * b->len + 1);
		hex_encode(got, b->data, b->len);
		fail_msg("encoding mismatch:\n got  %s\n want %s", got, hex);
	}
	free(want);
}

static bool value_equal(const struct abi_value *a, const struct abi_value *b)
{
	bool arrays = (a->kind == ABI_ARRAY || a->kind == ABI_FIXED_ARRAY) &&
		      (b->kind == ABI_ARRAY || b->kind == ABI_FIXED_ARRAY);
	bool blobs = (a->kind == ABI_BYTES || a->kind == ABI_STRING) &&
		     (b->kind == ABI_BYTES || b->kind == ABI_STRING);

	if (a->kind != b->kind && !arrays && !blobs)
		return false;
	switch (a->kind) {
	case ABI_UINT:
	case ABI_INT:
	case ABI_BOOL:
		return u256_cmp(&a->num, &b->num) == 0;
	case ABI_ADDRESS:
		return !memcmp(a->fixed, b->fixed, 20);
	case ABI_FIXED_BYTES:
	case ABI_TOPIC_HASH:
		return a->len == b->len && !memcmp(a->fixed, b->fixed, a->len);
	case ABI_BYTES:
	case ABI_STRING:
		return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
	default:
		if (a->count != b->count)
			return false;
		for (size_t i = 0; i < a->count; i++)
			if (!value_equal(&a->items[i], &b->items[i]))
				return false;
		return true;
	}
}

/* Encodes a call, checks the bytes, decodes them back and re-encodes. */
static void check_call(const char *sig, const struct abi_value *args, size_t n,
		       const char *hex)
{
	struct buf b, again;
	struct abi_value *dec = NULL;
	struct abi_value want = abi_v_tuple(args, n);
	struct err e = { 0 };
	struct abi_type *t;

	buf_init(&b, 1 << 16);
	if (abi_encode_call(&b, sig, args, n, &e))
		fail_msg("%s: %s", sig, e.msg);
	assert_hex(&b, hex);
	if (abi_decode_call(&dec, sig, b.data, b.len, &e))
		fail_msg("%s: decode: %s", sig, e.msg);
	assert_true(value_equal(dec, &want));
	assert_int_equal(abi_signature_parse(&t, NULL, NULL, sig, NULL), 0);
	buf_init(&again, 1 << 16);
	assert_int_equal(abi_encode_value(&again, t, dec, NULL), 0);
	assert_int_equal(again.len + 4, b.len);
	assert_memory_equal(again.data, b.data + 4, again.len);
	abi_type_free(t);
	abi_value_free(dec);
	buf_release(&b);
	buf_release(&again);
}

/* ---- the Solidity docs' examples (abi-spec.rst) ---- */

static void test_spec_baz(void **state)
{
	(void)state;
	struct abi_value a[] = { abi_v_u64(69), abi_v_bool(true) };
	check_call("baz(uint32,bool)", a, 2,
		   "cdcd77c0"
		   "0000000000000000000000000000000000000000000000000000000000000045"
		   "0000000000000000000000000000000000000000000000000000000000000001");
}

static void test_spec_bar(void **state)
{
	(void)state;
	struct abi_value el[] = { abi_v_fixed_bytes((const uint8_t *)"abc", 3),
				  abi_v_fixed_bytes((const uint8_t *)"def", 3) };
	struct abi_value a[] = { abi_v_array(el, 2) };
	check_call("bar(bytes3[2])", a, 1,
		   "fce353f6"
		   "6162630000000000000000000000000000000000000000000000000000000000"
		   "6465660000000000000000000000000000000000000000000000000000000000");
}

static void test_spec_sam(void **state)
{
	(void)state;
	struct abi_value nums[] = { abi_v_u64(1), abi_v_u64(2), abi_v_u64(3) };
	struct abi_value a[] = { abi_v_bytes((const uint8_t *)"dave", 4), abi_v_bool(true),
				 abi_v_array(nums, 3) };
	const char *hex =
		"a5643bf2"
		"0000000000000000000000000000000000000000000000000000000000000060"
		"0000000000000000000000000000000000000000000000000000000000000001"
		"00000000000000000000000000000000000000000000000000000000000000a0"
		"0000000000000000000000000000000000000000000000000000000000000004"
		"6461766500000000000000000000000000000000000000000000000000000000"
		"0000000000000000000000000000000000000000000000000000000000000003"
		"0000000000000000000000000000000000000000000000000000000000000001"
		"0000000000000000000000000000000000000000000000000000000000000002"
		"0000000000000000000000000000000000000000000000000000000000000003";
	check_call("sam(bytes,bool,uint256[])", a, 3, hex);
	/* The docs' own spelling with the "uint" alias gives the same bytes. */
	check_call("sam(bytes,bool,uint[])", a, 3, hex);
}

static void test_spec_f(void **state)
{
	(void)state;
	struct abi_value nums[] = { abi_v_u64(0x456), abi_v_u64(0x789) };
	struct abi_value a[] = { abi_v_u64(0x123), abi_v_array(nums, 2),
				 abi_v_fixed_bytes((const uint8_t *)"1234567890", 10),
				 abi_v_bytes((const uint8_t *)"Hello, world!", 13) };
	check_call("f(uint256,uint32[],bytes10,bytes)", a, 4,
		   "8be65246"
		   "0000000000000000000000000000000000000000000000000000000000000123"
		   "0000000000000000000000000000000000000000000000000000000000000080"
		   "3132333435363738393000000000000000000000000000000000000000000000"
		   "00000000000000000000000000000000000000000000000000000000000000e0"
		   "0000000000000000000000000000000000000000000000000000000000000002"
		   "0000000000000000000000000000000000000000000000000000000000000456"
		   "0000000000000000000000000000000000000000000000000000000000000789"
		   "000000000000000000000000000000000000000000000000000000000000000d"
		   "48656c6c6f2c20776f726c642100000000000000000000000000000000000000");
}

static void test_spec_g(void **state)
{
	(void)state;
	struct abi_value in1[] = { abi_v_u64(1), abi_v_u64(2) };
	struct abi_value in2[] = { abi_v_u64(3) };
	struct abi_value outer[] = { abi_v_array(in1, 2), abi_v_array(in2, 1) };
	struct abi_value strs[] = { abi_v_string("one"), abi_v_string("two"),
				    abi_v_string("three") };
	struct abi_value a[] = { abi_v_array(outer, 2), abi_v_array(strs, 3) };
	check_call("g(uint256[][],string[])", a, 2,
		   "2289b18c"
		   "0000000000000000000000000000000000000000000000000000000000000040"
		   "0000000000000000000000000000000000000000000000000000000000000140"
		   "0000000000000000000000000000000000000000000000000000000000000002"
		   "0000000000000000000000000000000000000000000000000000000000000040"
		   "00000000000000000000000000000000000000000000000000000000000000a0"
		   "0000000000000000000000000000000000000000000000000000000000000002"
		   "0000000000000000000000000000000000000000000000000000000000000001"
		   "0000000000000000000000000000000000000000000000000000000000000002"
		   "0000000000000000000000000000000000000000000000000000000000000001"
		   "0000000000000000000000000000000000000000000000000000000000000003"
		   "0000000000000000000000000000000000000000000000000000000000000003"
		   "0000000000000000000000000000000000000000000000000000000000000060"
		   "00000000000000000000000000000000000000000000000000000000000000a0"
		   "00000000000000000000000000000000000000000000000000000000000000e0"
		   "0000000000000000000000000000000000000000000000000000000000000003"
		   "6f6e650000000000000000000000000000000000000000000000000000000000"
		   "0000000000000000000000000000000000000000000000000000000000000003"
		   "74776f0000000000000000000000000000000000000000000000000000000000"
		   "0000000000000000000000000000000000000000000000000000000000000005"
		   "7468726565000000000000000000000000000000000000000000000000000000");
}

/* ---- selectors and topics ---- */

static void test_selectors(void **state)
{
	(void)state;
	static const struct {
		const char *sig;  /* as written */
		const char *hex;  /* expected selector */
		const char *src;  /* where the vector comes from */
	} cases[] = {
		{ "baz(uint32,bool)", "cdcd77c0", "abi-spec.rst" },
		{ "bar(bytes3[2])", "fce353f6", "abi-spec.rst" },
		{ "sam(bytes,bool,uint256[])", "a5643bf2", "abi-spec.rst" },
		{ "sam(bytes,bool,uint[])", "a5643bf2", "abi-spec.rst (uint alias)" },
		{ "f(uint256,uint32[],bytes10,bytes)", "8be65246", "abi-spec.rst" },
		{ "g(uint256[][],string[])", "2289b18c", "abi-spec.rst" },
		{ "Error(string)", "08c379a0", "abi-spec.rst Errors" },
		{ "Panic(uint256)", "4e487b71", "abi-spec.rst Panic" },
		{ "transfer(address,uint256)", "a9059cbb", "EIP-20" },
		{ "balanceOf(address)", "70a08231", "EIP-20" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t sel[4], want[4];
		assert_int_equal(abi_selector(sel, cases[i].sig, NULL), 0);
		assert_int_equal(hex_decode_exact(want, 4, cases[i].hex, NULL), 0);
		if (memcmp(sel, want, 4))
			fail_msg("%s (%s)", cases[i].sig, cases[i].src);
	}
	uint8_t topic[32], want[32];
	assert_int_equal(abi_event_topic(topic, "Transfer(address indexed,address indexed,uint256)", NULL), 0);
	assert_int_equal(hex_decode_exact(want, 32,
		"ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", NULL), 0);
	assert_memory_equal(topic, want, 32);
}

static void test_bad_signatures(void **state)
{
	(void)state;
	static const struct {
		const char *sig; /* rejected */
		int rc;          /* expected code */
	} cases[] = {
		{ "", ERR_INVALID },
		{ "(uint256)", ERR_INVALID },
		{ "f", ERR_INVALID },
		{ "f(uint256", ERR_INVALID },
		{ "f(uint256))", ERR_INVALID },
		{ "f(uint256)[]", ERR_INVALID },
		{ "f(uint7)", ERR_INVALID },
		{ "f(address indexed)", ERR_INVALID }, /* not allowed for functions */
		{ "f(uint256 x)", ERR_INVALID },
		{ "f(uint256, bool)", ERR_INVALID },
		{ "9f()", ERR_INVALID },
		{ "f(fixed128x18)", ERR_UNSUPPORTED },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t sel[4] = { 1, 2, 3, 4 };
		struct err e = { 0 };
		int rc = abi_selector(sel, cases[i].sig, &e);
		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, want %d (%s)", cases[i].sig, rc, cases[i].rc, e.msg);
		assert_true(e.msg[0]);
		assert_memory_equal(sel, "\1\2\3\4", 4);
	}
}

/* ---- type strings ---- */

static void test_type_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;    /* type string */
		const char *canon; /* canonical form, NULL when rejected */
		int rc;            /* expected code */
		bool dynamic;      /* for accepted ones */
		size_t head;       /* head_size for accepted ones */
	} cases[] = {
		{ "uint", "uint256", 0, false, 32 },
		{ "int", "int256", 0, false, 32 },
		{ "uint8", "uint8", 0, false, 32 },
		{ "int256", "int256", 0, false, 32 },
		{ "bytes1", "bytes1", 0, false, 32 },
		{ "bytes32", "bytes32", 0, false, 32 },
		{ "bytes", "bytes", 0, true, 32 },
		{ "string[]", "string[]", 0, true, 32 },
		{ "uint256[3][2]", "uint256[3][2]", 0, false, 192 },
		{ "(address,uint256[],(bytes,bool)[2])", "(address,uint256[],(bytes,bool)[2])", 0, true, 32 },
		{ "(uint,(bool,bytes4))", "(uint256,(bool,bytes4))", 0, false, 96 },
		{ "()", "()", 0, false, 0 },
		{ "string[2]", "string[2]", 0, true, 32 },
		{ "uint0", NULL, ERR_INVALID, 0, 0 },
		{ "uint7", NULL, ERR_INVALID, 0, 0 },
		{ "uint264", NULL, ERR_INVALID, 0, 0 },
		{ "uint08", NULL, ERR_INVALID, 0, 0 },
		{ "bytes0", NULL, ERR_INVALID, 0, 0 },
		{ "bytes33", NULL, ERR_INVALID, 0, 0 },
		{ "uint256[0]", NULL, ERR_UNSUPPORTED, 0, 0 },
		{ "uint256[01]", NULL, ERR_INVALID, 0, 0 },
		{ "uint256[65537]", NULL, ERR_TOO_BIG, 0, 0 },
		{ "uint256[65536][65536]", NULL, ERR_TOO_BIG, 0, 0 },
		{ "uint256[", NULL, ERR_INVALID, 0, 0 },
		{ "uint256]", NULL, ERR_INVALID, 0, 0 },
		{ "(uint256", NULL, ERR_INVALID, 0, 0 },
		{ "(uint256,)", NULL, ERR_INVALID, 0, 0 },
		{ "(,)", NULL, ERR_INVALID, 0, 0 },
		{ "(())", NULL, ERR_UNSUPPORTED, 0, 0 },
		{ "()[]", NULL, ERR_UNSUPPORTED, 0, 0 },
		{ "tuple", NULL, ERR_INVALID, 0, 0 },
		{ "Uint256", NULL, ERR_INVALID, 0, 0 },
		{ "function", NULL, ERR_UNSUPPORTED, 0, 0 },
		{ "ufixed", NULL, ERR_UNSUPPORTED, 0, 0 },
		{ "", NULL, ERR_INVALID, 0, 0 },
		{ "uint256 ", NULL, ERR_INVALID, 0, 0 },
		{ "uint256[][][][][][][][][][][][][][][]", "uint256[][][][][][][][][][][][][][][]", 0, true, 32 },
		{ "uint256[][][][][][][][][][][][][][][][]", NULL, ERR_DEPTH, 0, 0 },
		{ "((((((((((((((((uint8))))))))))))))))", NULL, ERR_DEPTH, 0, 0 },
		{ "(((((((((((((((uint8)))))))))))))))", "(((((((((((((((uint8)))))))))))))))", 0, false, 32 },
		{ "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((uint8))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))",
		  NULL, ERR_DEPTH, 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct abi_type *t = NULL;
		struct err e = { 0 };
		int rc = abi_type_parse(&t, cases[i].in, &e);
		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, want %d (%s)", cases[i].in, rc, cases[i].rc, e.msg);
		if (rc) {
			assert_null(t);
			assert_true(e.msg[0]);
			continue;
		}
		struct buf b;
		buf_init(&b, 4096);
		assert_int_equal(abi_type_format(&b, t), 0);
		assert_string_equal(buf_cstr(&b), cases[i].canon);
		assert_int_equal(t->dynamic, cases[i].dynamic);
		assert_int_equal(t->head_size, cases[i].head);
		buf_release(&b);
		abi_type_free(t);
	}
	/* Over-long type strings are refused before parsing. */
	char *longs = malloc(ABI_MAX_TYPE_LEN + 2);
	struct abi_type *t = NULL;
	struct err e = { 0 };
	memset(longs, 'u', ABI_MAX_TYPE_LEN + 1);
	longs[ABI_MAX_TYPE_LEN + 1] = '\0';
	assert_int_equal(abi_type_parse(&t, longs, &e), ERR_TOO_BIG);
	assert_true(e.msg[0]);
	free(longs);
	/* Tuple arity cap. */
	struct buf wide;
	buf_init(&wide, 4096);
	buf_append_byte(&wide, '(');
	for (int i = 0; i <= ABI_MAX_ARITY; i++)
		buf_append_str(&wide, i ? ",bool" : "bool");
	buf_append_byte(&wide, ')');
	assert_int_equal(abi_type_parse(&t, buf_cstr(&wide), &e), ERR_TOO_BIG);
	buf_release(&wide);
}

/* ---- round trips for every type ---- */

static void roundtrip(const char *types, const struct abi_value *args, size_t n)
{
	struct buf b, again;
	struct abi_value *dec = NULL;
	struct abi_value want = abi_v_tuple(args, n);
	struct err e = { 0 };

	buf_init(&b, 1 << 20);
	buf_init(&again, 1 << 20);
	if (abi_encode(&b, types, args, n, &e))
		fail_msg("%s: encode: %s", types, e.msg);
	assert_int_equal(b.len % 32, 0);
	if (abi_decode(&dec, types, b.data, b.len, &e))
		fail_msg("%s: decode: %s", types, e.msg);
	if (!value_equal(dec, &want))
		fail_msg("%s: decoded value differs", types);
	assert_int_equal(abi_encode(&again, types, dec->items, dec->count, NULL), 0);
	assert_int_equal(again.len, b.len);
	assert_memory_equal(again.data, b.data, b.len);
	abi_value_free(dec);
	buf_release(&b);
	buf_release(&again);
}

static void test_roundtrip_elementary(void **state)
{
	(void)state;
	u256 max, min;
	struct eth_address addr;
	uint8_t b32[32];
	uint8_t blob[100];

	memset(&max, 0xff, sizeof max);
	assert_int_equal(abi_int_parse(&min, "-57896044618658097711785492504343953926634992332820282019728792003956564819968", NULL), 0);
	assert_int_equal(address_parse(&addr, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", NULL), 0);
	for (int i = 0; i < 32; i++)
		b32[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 100; i++)
		blob[i] = (uint8_t)i;

	for (unsigned m = 8; m <= 256; m += 8) {
		char ut[16], it[16];
		u256 umax = { { 0 } }, imin, imax = { { 0 } };
		for (unsigned bit = 0; bit < m; bit++)
			umax.w[bit / 64] |= (uint64_t)1 << (bit % 64);
		for (unsigned bit = 0; bit + 1 < m; bit++)
			imax.w[bit / 64] |= (uint64_t)1 << (bit % 64);
		imin = imax;
		for (int k = 0; k < 4; k++)
			imin.w[k] = ~imin.w[k]; /* -(2^(m-1)) = ~(2^(m-1) - 1) */
		struct abi_value v[] = { abi_v_uint(&umax), abi_v_u64(0), abi_v_int(&imin),
					 abi_v_int(&imax), abi_v_i64(-1), abi_v_i64(0) };
		snprintf(ut, sizeof ut, "uint%u", m);
		snprintf(it, sizeof it, "int%u", m);
		char types[128];
		snprintf(types, sizeof types, "(%s,%s,%s,%s,%s,%s)", ut, ut, it, it, it, it);
		roundtrip(types, v, 6);
	}
	for (size_t m = 1; m <= 32; m++) {
		char types[16];
		struct abi_value v = abi_v_fixed_bytes(b32, m);
		snprintf(types, sizeof types, "bytes%zu", m);
		roundtrip(types, &v, 1);
	}
	struct abi_value misc[] = {
		abi_v_address(&addr), abi_v_bool(false), abi_v_bool(true),
		abi_v_bytes(NULL, 0), abi_v_bytes(blob, 31), abi_v_bytes(blob, 32),
		abi_v_bytes(blob, 33), abi_v_string(""), abi_v_string("héllo wörld"),
		abi_v_uint(&max), abi_v_int(&min),
	};
	roundtrip("address,bool,bool,bytes,bytes,bytes,bytes,string,string,uint256,int256",
		  misc, sizeof misc / sizeof misc[0]);
	roundtrip("()", NULL, 0);
}

static void test_roundtrip_composite(void **state)
{
	(void)state;
	struct eth_address addr;
	memset(addr.b, 0x11, 20);

	/* (address,uint256[],(bytes,bool)[2]) */
	struct abi_value nums[] = { abi_v_u64(1), abi_v_u64(2), abi_v_u64(3) };
	struct abi_value p1[] = { abi_v_bytes((const uint8_t *)"x", 1), abi_v_bool(true) };
	struct abi_value p2[] = { abi_v_bytes(NULL, 0), abi_v_bool(false) };
	struct abi_value pairs[] = { abi_v_tuple(p1, 2), abi_v_tuple(p2, 2) };
	struct abi_value a1[] = { abi_v_address(&addr), abi_v_array(nums, 3), abi_v_array(pairs, 2) };
	roundtrip("address,uint256[],(bytes,bool)[2]", a1, 3);

	/* Empty dynamic arrays, nested static arrays, static tuples in arrays. */
	struct abi_value r1[] = { abi_v_u64(1), abi_v_u64(2) };
	struct abi_value r2[] = { abi_v_u64(3), abi_v_u64(4) };
	struct abi_value r3[] = { abi_v_u64(5), abi_v_u64(6) };
	struct abi_value rows[] = { abi_v_array(r1, 2), abi_v_array(r2, 2), abi_v_array(r3, 2) };
	struct abi_value st[] = { abi_v_u64(7), abi_v_bool(true) };
	struct abi_value sts[] = { abi_v_tuple(st, 2), abi_v_tuple(st, 2) };
	struct abi_value a2[] = { abi_v_array(NULL, 0), abi_v_array(rows, 3), abi_v_array(sts, 2),
				  abi_v_array(rows, 3) };
	roundtrip("string[],uint8[2][3],(uint64,bool)[],uint16[2][]", a2, 4);

	/* Dynamic tuple nested in a tuple, string[2] (dynamic fixed array). */
	struct abi_value inner[] = { abi_v_string("deep"), abi_v_i64(-5) };
	struct abi_value mid[] = { abi_v_tuple(inner, 2), abi_v_u64(9) };
	struct abi_value two[] = { abi_v_string("a"), abi_v_string("bb") };
	struct abi_value a3[] = { abi_v_tuple(mid, 2), abi_v_array(two, 2), abi_v_u64(1) };
	roundtrip("((string,int32),uint8),string[2],uint256", a3, 3);
}

/* ---- range boundaries ---- */

static void test_boundaries(void **state)
{
	(void)state;
	static const struct {
		const char *type;  /* one argument */
		const char *value; /* signed decimal or 0x-hex */
		bool is_int;       /* build an int value (else uint) */
		int rc;            /* expected encode result */
	} cases[] = {
		{ "uint8", "255", false, 0 },
		{ "uint8", "256", false, ERR_RANGE },
		{ "uint8", "0", false, 0 },
		{ "uint16", "65535", false, 0 },
		{ "uint16", "65536", false, ERR_RANGE },
		{ "uint160", "0xffffffffffffffffffffffffffffffffffffffff", false, 0 },
		{ "uint160", "0x10000000000000000000000000000000000000000", false, ERR_RANGE },
		{ "uint256", "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false, 0 },
		{ "int8", "-128", true, 0 },
		{ "int8", "127", true, 0 },
		{ "int8", "-129", true, ERR_RANGE },
		{ "int8", "128", true, ERR_RANGE },
		{ "int8", "127", false, 0 },   /* uint value into int8 */
		{ "int8", "128", false, ERR_RANGE },
		{ "uint8", "-1", true, ERR_RANGE }, /* negative into uint */
		{ "uint8", "5", true, 0 },
		{ "int64", "-9223372036854775808", true, 0 },
		{ "int64", "-9223372036854775809", true, ERR_RANGE },
		{ "int64", "9223372036854775807", true, 0 },
		{ "int64", "9223372036854775808", true, ERR_RANGE },
		{ "int256", "-57896044618658097711785492504343953926634992332820282019728792003956564819968", true, 0 },
		{ "int256", "57896044618658097711785492504343953926634992332820282019728792003956564819967", true, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		u256 v;
		struct abi_value a;
		struct buf b;
		struct err e = { 0 };
		int rc;

		if (cases[i].is_int)
			assert_int_equal(abi_int_parse(&v, cases[i].value, NULL), 0);
		else
			assert_int_equal(u256_parse(&v, cases[i].value, NULL), 0);
		a = cases[i].is_int ? abi_v_int(&v) : abi_v_uint(&v);
		buf_init(&b, 1024);
		buf_append_str(&b, "keep");
		rc = abi_encode(&b, cases[i].type, &a, 1, &e);
		if (rc != cases[i].rc)
			fail_msg("%s %s: rc %d want %d (%s)", cases[i].type, cases[i].value,
				 rc, cases[i].rc, e.msg);
		if (rc) {
			assert_true(e.msg[0]);
			assert_int_equal(b.len, 4); /* untouched on failure */
			assert_string_equal(buf_cstr(&b), "keep");
		} else {
			struct abi_value *d;
			assert_int_equal(abi_decode(&d, cases[i].type, b.data + 4, b.len - 4, &e), 0);
			assert_int_equal(u256_cmp(&d->items[0].num, &v), 0);
			abi_value_free(d);
		}
		buf_release(&b);
	}
	/* abi_int_parse limits. */
	u256 v;
	struct err e = { 0 };
	assert_int_equal(abi_int_parse(&v, "-57896044618658097711785492504343953926634992332820282019728792003956564819969", &e), ERR_RANGE);
	assert_int_equal(abi_int_parse(&v, "57896044618658097711785492504343953926634992332820282019728792003956564819968", &e), ERR_RANGE);
	assert_int_equal(abi_int_parse(&v, "-0x80", NULL), 0);
	assert_true(abi_int_is_negative(&v));
	assert_int_equal(abi_int_parse(&v, "--1", &e), ERR_INVALID);
}

static void test_encode_errors(void **state)
{
	(void)state;
	struct abi_value u = abi_v_u64(1), s = abi_v_string("x");
	struct abi_value two[] = { abi_v_u64(1), abi_v_u64(2) };
	struct abi_value arr = abi_v_array(two, 2);
	struct abi_value b3 = abi_v_fixed_bytes((const uint8_t *)"ab", 2);
	struct abi_value bad_bool = abi_v_u64(2);
	bad_bool.kind = ABI_BOOL;
	static const struct {
		const char *types; /* argument list */
		int which;         /* value: 0 uint, 1 string, 2 2-array, 3 bytes2, 4 bool 2 */
		size_t n;          /* argument count passed */
		int rc;            /* expected */
	} cases[] = {
		{ "uint256", 1, 1, ERR_INVALID },   /* string for uint */
		{ "string", 0, 1, ERR_INVALID },    /* uint for string */
		{ "uint256[3]", 2, 1, ERR_INVALID }, /* wrong fixed length */
		{ "bytes3", 3, 1, ERR_INVALID },    /* bytes2 for bytes3 */
		{ "bool", 4, 1, ERR_RANGE },        /* bool 2 */
		{ "uint256,uint256", 0, 1, ERR_INVALID }, /* arity */
		{ "(uint256", 0, 1, ERR_INVALID },  /* bad type */
		{ "address", 0, 1, ERR_INVALID },
	};
	const struct abi_value *vals[] = { &u, &s, &arr, &b3, &bad_bool };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b;
		struct err e = { 0 };
		buf_init(&b, 1024);
		int rc = abi_encode(&b, cases[i].types, vals[cases[i].which], cases[i].n, &e);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d want %d (%s)", cases[i].types, rc, cases[i].rc, e.msg);
		assert_true(e.msg[0]);
		assert_int_equal(b.len, 0);
		buf_release(&b);
	}
	/* Output cap: the buffer is left as it was. */
	struct buf small;
	struct err e = { 0 };
	uint8_t big[100] = { 0 };
	struct abi_value bb = abi_v_bytes(big, sizeof big);
	buf_init(&small, 64);
	assert_int_equal(abi_encode_call(&small, "f(bytes)", &bb, 1, &e), ERR_TOO_BIG);
	assert_int_equal(small.len, 0);
	assert_true(e.msg[0]);
	buf_release(&small);
}

/* ---- malformed input: every class rejected with a message ---- */

#define W0 "0000000000000000000000000000000000000000000000000000000000000000"
#define W1 "0000000000000000000000000000000000000000000000000000000000000001"
#define W2 "0000000000000000000000000000000000000000000000000000000000000002"
#define W20 "0000000000000000000000000000000000000000000000000000000000000020"
#define W40 "0000000000000000000000000000000000000000000000000000000000000040"
#define W60 "0000000000000000000000000000000000000000000000000000000000000060"

static void test_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *what;  /* the class of problem */
		const char *types; /* argument list */
		const char *hex;   /* data */
		int rc;            /* expected code */
	} cases[] = {
		{ "empty input for a word", "uint256", "", ERR_INVALID },
		{ "truncated word", "uint256", "00000000000000000000000000000000000000000000000000000000000001", ERR_INVALID },
		{ "trailing bytes", "uint256", W1 "00", ERR_NONCANONICAL },
		{ "trailing word", "uint256", W1 W1, ERR_NONCANONICAL },
		{ "uint8 high bytes", "uint8", "0000000000000000000000000000000000000000000000000000000000000100", ERR_NONCANONICAL },
		{ "uint8 dirty top", "uint8", "8000000000000000000000000000000000000000000000000000000000000001", ERR_NONCANONICAL },
		{ "int8 not sign-extended (positive)", "int8", "0000000000000000000000000000000000000000000000000000000000000080", ERR_NONCANONICAL },
		{ "int8 not sign-extended (negative)", "int8", "ff0000000000000000000000000000000000000000000000000000000000007f", ERR_NONCANONICAL },
		{ "int8 mixed fill", "int8", "00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80", ERR_NONCANONICAL },
		{ "address high bytes", "address", "0000000000000000000000010000000000000000000000000000000000000000", ERR_NONCANONICAL },
		{ "bool is 2", "bool", W2, ERR_NONCANONICAL },
		{ "bool high byte", "bool", "0100000000000000000000000000000000000000000000000000000000000001", ERR_NONCANONICAL },
		{ "bytes3 padding", "bytes3", "6162636400000000000000000000000000000000000000000000000000000000", ERR_NONCANONICAL },
		{ "offset past end", "bytes", "0000000000000000000000000000000000000000000000000000000000000400", ERR_RANGE },
		{ "offset huge", "bytes", "ff00000000000000000000000000000000000000000000000000000000000020", ERR_RANGE },
		{ "offset gap", "bytes", W40 W0 W0, ERR_NONCANONICAL },
		{ "offset looping to itself", "bytes", W0 W0, ERR_NONCANONICAL },
		{ "overlapping offsets", "bytes,bytes", W40 W40 W1 "6100000000000000000000000000000000000000000000000000000000000000", ERR_NONCANONICAL },
		{ "offsets out of order", "bytes,bytes", W60 W40 W0 W0, ERR_NONCANONICAL },
		{ "offset not word aligned", "bytes", "0000000000000000000000000000000000000000000000000000000000000021" "00" W0, ERR_NONCANONICAL },
		{ "length past end", "bytes", W20 W2, ERR_RANGE },
		{ "length huge", "string", W20 "8000000000000000000000000000000000000000000000000000000000000000", ERR_RANGE },
		{ "length without padding", "bytes", W20 W1 "61", ERR_INVALID },
		{ "bytes padding dirty", "bytes", W20 W1 "6161000000000000000000000000000000000000000000000000000000000000", ERR_NONCANONICAL },
		{ "string padding dirty", "string", W20 W1 "6100000000000000000000000000000000000000000000000000000000000001", ERR_NONCANONICAL },
		{ "array count past end", "uint256[]", W20 W2 W1, ERR_RANGE },
		{ "array count huge", "uint256[]", W20 "00000000000000000000000000000000000000000000000000000000ffffffff", ERR_RANGE },
		{ "array of dynamic: count past heads", "string[]", W20 W2 W40, ERR_RANGE },
		{ "inner offset looping", "string[]", W20 W1 W0, ERR_NONCANONICAL },
		{ "fixed array truncated", "uint256[3]", W1 W2, ERR_INVALID },
		{ "nested element dirty", "(uint8,bool)[]", W20 W1 W1 W2, ERR_NONCANONICAL },
		{ "tuple head truncated", "(uint256,bytes)", W1, ERR_INVALID },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n;
		uint8_t *d = unhex(cases[i].hex, &n);
		struct abi_value *v = (struct abi_value *)0x1;
		struct err e = { 0 };
		int rc = abi_decode(&v, cases[i].types, d ? d : (const uint8_t *)"", n, &e);
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d want %d (%s)", cases[i].what, rc, cases[i].rc, e.msg);
		assert_true(e.msg[0]);
		assert_ptr_equal(v, (struct abi_value *)0x1);
		free(d);
	}
	/* Input cap. */
	struct abi_value *v = NULL;
	struct err e = { 0 };
	uint8_t one = 0;
	assert_int_equal(abi_decode(&v, "bytes", &one, ABI_MAX_DATA + 1, &e), ERR_TOO_BIG);
	assert_true(e.msg[0]);
}

/* The decoded tree owns its bytes: the input may go away. */
static void test_decode_owns(void **state)
{
	(void)state;
	struct abi_value s = abi_v_string("hello");
	struct buf b;
	struct abi_value *v;

	buf_init(&b, 1024);
	assert_int_equal(abi_encode(&b, "string", &s, 1, NULL), 0);
	assert_int_equal(abi_decode(&v, "(string)", b.data, b.len, NULL), 0);
	memset(b.data, 0xee, b.len);
	buf_release(&b);
	assert_int_equal(v->kind, ABI_TUPLE);
	assert_int_equal(v->count, 1);
	assert_string_equal((const char *)v->items[0].data, "hello");
	abi_value_free(v);
	abi_value_free(NULL);
}

/* ---- events ---- */

#define TRANSFER_TOPIC "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
#define TRANSFER_DECL "Transfer(address indexed,address indexed,uint256)"

static void test_erc20_transfer(void **state)
{
	(void)state;
	uint8_t topics[3][32], data[32];
	struct abi_value *v = NULL;
	struct eth_address from, to;
	struct err e = { 0 };
	u256 amount;

	/* Transfer(0x5aAe..eAed -> 0xfB69..d359, 1.5e18) */
	assert_int_equal(address_parse(&from, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", NULL), 0);
	assert_int_equal(address_parse(&to, "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", NULL), 0);
	assert_int_equal(hex_decode_exact(topics[0], 32, TRANSFER_TOPIC, NULL), 0);
	memset(topics[1], 0, 32);
	memcpy(topics[1] + 12, from.b, 20);
	memset(topics[2], 0, 32);
	memcpy(topics[2] + 12, to.b, 20);
	assert_int_equal(u256_parse(&amount, "1500000000000000000", NULL), 0);
	u256_to_be32(data, &amount);

	assert_int_equal(abi_decode_event(&v, TRANSFER_DECL, (const uint8_t (*)[32])topics, 3,
					  data, 32, &e), 0);
	assert_int_equal(v->count, 3);
	assert_int_equal(v->items[0].kind, ABI_ADDRESS);
	assert_memory_equal(v->items[0].fixed, from.b, 20);
	assert_memory_equal(v->items[1].fixed, to.b, 20);
	assert_int_equal(v->items[2].kind, ABI_UINT);
	assert_int_equal(u256_cmp(&v->items[2].num, &amount), 0);
	abi_value_free(v);

	/* Each broken log is rejected with a message. */
	struct abi_value *keep = (struct abi_value *)0x1;
	assert_int_equal(abi_decode_event(&keep, TRANSFER_DECL, (const uint8_t (*)[32])topics, 2,
					  data, 32, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "topics"));
	assert_int_equal(abi_decode_event(&keep, "Approval(address indexed,address indexed,uint256)",
					  (const uint8_t (*)[32])topics, 3, data, 32, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "topic0"));
	assert_int_equal(abi_decode_event(&keep, TRANSFER_DECL, (const uint8_t (*)[32])topics, 3,
					  data, 31, &e), ERR_INVALID);
	assert_true(e.msg[0]);
	topics[1][0] = 1; /* dirty address topic */
	assert_int_equal(abi_decode_event(&keep, TRANSFER_DECL, (const uint8_t (*)[32])topics, 3,
					  data, 32, &e), ERR_NONCANONICAL);
	assert_non_null(strstr(e.msg, "topic 1"));
	assert_ptr_equal(keep, (struct abi_value *)0x1);
}

/* Indexed dynamic parameters are only their hash; the rest comes from data. */
static void test_event_indexed_dynamic(void **state)
{
	(void)state;
	const char *decl = "Note(string indexed,uint256[2] indexed,string,int8 indexed)";
	uint8_t topics[4][32], h[32];
	struct abi_value s = abi_v_string("body");
	struct abi_value *v;
	struct buf data;

	assert_int_equal(abi_event_topic(topics[0], decl, NULL), 0);
	keccak256(h, (const uint8_t *)"tag", 3);
	memcpy(topics[1], h, 32);
	memset(topics[2], 0x22, 32);
	memset(topics[3], 0xff, 32); /* int8 -1 */
	buf_init(&data, 1024);
	assert_int_equal(abi_encode(&data, "string", &s, 1, NULL), 0);
	assert_int_equal(abi_decode_event(&v, decl, (const uint8_t (*)[32])topics, 4,
					  data.data, data.len, NULL), 0);
	assert_int_equal(v->count, 4);
	assert_int_equal(v->items[0].kind, ABI_TOPIC_HASH);
	assert_memory_equal(v->items[0].fixed, h, 32);
	assert_int_equal(v->items[1].kind, ABI_TOPIC_HASH);
	assert_int_equal(v->items[2].kind, ABI_STRING);
	assert_string_equal((const char *)v->items[2].data, "body");
	assert_int_equal(v->items[3].kind, ABI_INT);
	assert_true(abi_int_is_negative(&v->items[3].num));
	abi_value_free(v);
	buf_release(&data);
}

/* ---- reverts ---- */

static void test_revert(void **state)
{
	(void)state;
	static const char *const customs[] = {
		"Unauthorized()",
		"InsufficientBalance(uint256,uint256)", /* Solidity docs "Errors" */
	};
	struct abi_revert r;
	struct err e = { 0 };
	struct buf b;
	size_t n;
	uint8_t *d;

	/* Error(string) with "Not enough Ether provided." (abi-spec.rst, Errors). */
	d = unhex("08c379a0"
		  "0000000000000000000000000000000000000000000000000000000000000020"
		  "000000000000000000000000000000000000000000000000000000000000001a"
		  "4e6f7420656e6f7567682045746865722070726f76696465642e000000000000", &n);
	assert_int_equal(abi_decode_revert(&r, d, n, NULL, 0, &e), 0);
	assert_int_equal(r.kind, ABI_REVERT_ERROR);
	assert_int_equal(r.message_len, 26);
	assert_string_equal(r.message, "Not enough Ether provided.");
	abi_revert_release(&r);
	free(d);

	/* Panic(0x11): arithmetic overflow. */
	d = unhex("4e487b71" "0000000000000000000000000000000000000000000000000000000000000011", &n);
	assert_int_equal(abi_decode_revert(&r, d, n, NULL, 0, &e), 0);
	assert_int_equal(r.kind, ABI_REVERT_PANIC);
	assert_int_equal(r.panic_code.w[0], 0x11);
	assert_non_null(strstr(r.panic_text, "overflow"));
	abi_revert_release(&r);
	free(d);

	/* Custom error by selector. */
	struct abi_value args[] = { abi_v_u64(10), abi_v_u64(20) };
	buf_init(&b, 1024);
	assert_int_equal(abi_encode_call(&b, customs[1], args, 2, NULL), 0);
	assert_int_equal(abi_decode_revert(&r, b.data, b.len, customs, 2, &e), 0);
	assert_int_equal(r.kind, ABI_REVERT_CUSTOM);
	assert_int_equal(r.custom, 1);
	assert_int_equal(r.args->items[1].num.w[0], 20);
	abi_revert_release(&r);

	/* Unknown selector and empty data are not errors. */
	assert_int_equal(abi_decode_revert(&r, b.data, b.len, customs, 1, &e), 0);
	assert_int_equal(r.kind, ABI_REVERT_UNKNOWN);
	assert_memory_equal(r.selector, b.data, 4);
	abi_revert_release(&r);
	assert_int_equal(abi_decode_revert(&r, NULL, 0, NULL, 0, &e), 0);
	assert_int_equal(r.kind, ABI_REVERT_EMPTY);
	abi_revert_release(&r);
	abi_revert_release(NULL);

	/* Malformed: short selector, broken Error payload, broken custom args. */
	struct abi_revert keep = { .kind = ABI_REVERT_EMPTY };
	assert_int_equal(abi_decode_revert(&keep, b.data, 3, NULL, 0, &e), ERR_INVALID);
	assert_true(e.msg[0]);
	d = unhex("08c379a0" W20 W2 "6161000000000000000000000000000000000000000000000000000000000001", &n);
	assert_int_equal(abi_decode_revert(&keep, d, n, NULL, 0, &e), ERR_NONCANONICAL);
	assert_non_null(strstr(e.msg, "Error(string)"));
	free(d);
	assert_int_equal(abi_decode_revert(&keep, b.data, b.len - 1, customs, 2, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "InsufficientBalance"));
	assert_int_equal(keep.kind, ABI_REVERT_EMPTY);
	static const char *const bad[] = { "oops(" };
	assert_int_equal(abi_decode_revert(&keep, b.data, b.len, bad, 1, &e), ERR_INVALID);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_baz),
		cmocka_unit_test(test_spec_bar),
		cmocka_unit_test(test_spec_sam),
		cmocka_unit_test(test_spec_f),
		cmocka_unit_test(test_spec_g),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_bad_signatures),
		cmocka_unit_test(test_type_parse),
		cmocka_unit_test(test_roundtrip_elementary),
		cmocka_unit_test(test_roundtrip_composite),
		cmocka_unit_test(test_boundaries),
		cmocka_unit_test(test_encode_errors),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_decode_owns),
		cmocka_unit_test(test_erc20_transfer),
		cmocka_unit_test(test_event_indexed_dynamic),
		cmocka_unit_test(test_revert),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
