/*
 * test_rlp.c — RLP encoder/decoder against the ethereum/tests RLPTests
 * vectors plus the caps and canonical-form rules of rlp.h.
 *
 * Vectors: tests/vectors/rlptest.json and tests/vectors/rlp_invalid.json,
 * transcribed from ethereum/tests RLPTests/ (sources noted in each file's
 * "_source" key). Each vector runs as its own cmocka case. The tests are run
 * from the repository root (scripts/run-tests does that).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/hex.h"
#include "eth/rlp.h"

#define VEC_VALID "tests/vectors/rlptest.json"
#define VEC_INVALID "tests/vectors/rlp_invalid.json"

struct vec {
	char name[64];   /* vector name from the file */
	json_t *in;      /* borrowed from the loaded document */
	const char *out; /* hex */
};

static void hex_to_buf(struct buf *b, const char *hex)
{
	uint8_t *p = NULL;
	size_t n = 0;
	struct err e = { 0 };

	buf_init(b, RLP_MAX_INPUT);
	assert_int_equal(hex_decode_alloc(&p, &n, hex, RLP_MAX_INPUT, &e), 0);
	assert_int_equal(buf_append(b, p, n), 0);
	free(p);
}

/* "#<decimal>" of any size -> minimal big-endian bytes (0 -> empty). */
static size_t bigdec_to_be(uint8_t *out, size_t cap, const char *dec)
{
	size_t n = 0;

	memset(out, 0, cap);
	for (const char *c = dec; *c; c++) {
		unsigned carry = (unsigned)(*c - '0');
		assert_true(carry <= 9);
		for (size_t i = cap; i-- > 0;) {
			unsigned v = out[i] * 10u + carry;
			out[i] = (uint8_t)v;
			carry = v >> 8;
		}
		assert_int_equal(carry, 0);
	}
	while (n < cap && out[n] == 0)
		n++;
	memmove(out, out + n, cap - n);
	return cap - n;
}

/* Expected byte string for a JSON scalar "in": text, 0x-hex, #bigint, int. */
static size_t expect_bytes(uint8_t *out, size_t cap, json_t *in)
{
	if (json_is_integer(in)) {
		char dec[32];
		snprintf(dec, sizeof dec, "%lld", (long long)json_integer_value(in));
		return bigdec_to_be(out, cap, dec);
	}
	const char *s = json_string_value(in);
	size_t len = json_string_length(in);
	assert_non_null(s);
	if (s[0] == '#')
		return bigdec_to_be(out, cap, s + 1);
	if (hex_has_prefix(s)) {
		size_t n = 0;
		assert_int_equal(hex_decode(out, cap, &n, s, len, NULL), 0);
		return n;
	}
	assert_true(len <= cap);
	memcpy(out, s, len);
	return len;
}

/* Encodes a JSON "in" value with the public encoder. */
static void encode_json(struct buf *out, json_t *in)
{
	static uint8_t tmp[2048];

	if (json_is_array(in)) {
		struct buf inner;
		size_t i;
		json_t *v;

		buf_init(&inner, RLP_MAX_INPUT);
		json_array_foreach(in, i, v)
			encode_json(&inner, v);
		assert_int_equal(rlp_encode_list(out, inner.data, inner.len), 0);
		buf_release(&inner);
		return;
	}
	if (json_is_integer(in)) {
		assert_int_equal(rlp_encode_u64(out, (uint64_t)json_integer_value(in)), 0);
		return;
	}
	size_t n = expect_bytes(tmp, sizeof tmp, in);
	if (json_string_value(in)[0] == '#' && n <= 32) {
		uint8_t be[32] = { 0 };
		u256 v;
		memcpy(be + 32 - n, tmp, n);
		u256_from_be32(&v, be);
		assert_int_equal(rlp_encode_u256(out, &v), 0);
		return;
	}
	assert_int_equal(rlp_encode_bytes(out, tmp, n), 0);
}

/* Checks a decoded item against the JSON "in" value, recursively. */
static void check_item(const struct rlp_item *it, json_t *in)
{
	static uint8_t tmp[2048];

	if (json_is_array(in)) {
		struct rlp_item kids[64];
		size_t count = 0, i;
		json_t *v;

		assert_true(it->is_list);
		assert_int_equal(rlp_list_items(kids, 64, &count, it, NULL), 0);
		assert_int_equal(count, json_array_size(in));
		json_array_foreach(in, i, v)
			check_item(&kids[i], v);
		return;
	}
	assert_false(it->is_list);
	size_t n = expect_bytes(tmp, sizeof tmp, in);
	assert_int_equal(it->len, n);
	assert_memory_equal(it->payload, tmp, n);
	if (json_is_integer(in)) {
		uint64_t v = 0;
		assert_int_equal(rlp_item_u64(&v, it, NULL), 0);
		assert_int_equal(v, (uint64_t)json_integer_value(in));
	}
}

/* Rebuilds the encoding of a decoded item from its parts. */
static void reencode(struct buf *out, const struct rlp_item *it)
{
	if (!it->is_list) {
		assert_int_equal(rlp_encode_bytes(out, it->payload, it->len), 0);
		return;
	}
	struct rlp_item kids[64];
	size_t count = 0;
	struct buf inner;

	assert_int_equal(rlp_list_items(kids, 64, &count, it, NULL), 0);
	buf_init(&inner, RLP_MAX_INPUT);
	for (size_t i = 0; i < count; i++)
		reencode(&inner, &kids[i]);
	assert_int_equal(rlp_encode_list(out, inner.data, inner.len), 0);
	buf_release(&inner);
}

static void test_valid_vector(void **state)
{
	const struct vec *v = *state;
	struct buf want, got, again;
	struct rlp_item item;
	struct err e = { 0 };

	hex_to_buf(&want, v->out);
	buf_init(&got, RLP_MAX_INPUT);
	encode_json(&got, v->in);
	if (got.len != want.len || memcmp(got.data, want.data, want.len))
		fail_msg("%s: encode mismatch", v->name);

	assert_int_equal(rlp_decode(&item, want.data, want.len, &e), 0);
	check_item(&item, v->in);
	buf_init(&again, RLP_MAX_INPUT);
	reencode(&again, &item);
	assert_int_equal(again.len, want.len);
	assert_memory_equal(again.data, want.data, want.len);
	buf_release(&want);
	buf_release(&got);
	buf_release(&again);
}

static void test_invalid_vector(void **state)
{
	const struct vec *v = *state;
	struct buf in;
	struct rlp_item item = { (const uint8_t *)"untouched", 42, true };
	struct err e = { 0 };
	int rc;

	hex_to_buf(&in, v->out);
	rc = rlp_decode(&item, in.data ? in.data : (const uint8_t *)"", in.len, &e);
	if (rc >= 0)
		fail_msg("%s: accepted", v->name);
	assert_int_equal(rc, e.code);
	assert_true(e.msg[0] != '\0');
	assert_int_equal(item.len, 42); /* output untouched */
	buf_release(&in);
}

/* Lists nested 64 deep decode; 65 deep is ERR_DEPTH. */
static void test_depth_cap(void **state)
{
	(void)state;
	struct buf b, next;
	struct rlp_item item;
	struct err e = { 0 };

	buf_init(&b, 4096);
	assert_int_equal(rlp_encode_list(&b, NULL, 0), 0);
	for (size_t n = 1; n <= RLP_MAX_DEPTH + 1; n++) {
		int rc = rlp_decode(&item, b.data, b.len, &e);
		if (n <= RLP_MAX_DEPTH) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, ERR_DEPTH);
			assert_non_null(strstr(e.msg, "offset"));
		}
		buf_init(&next, 4096);
		assert_int_equal(rlp_encode_list(&next, b.data, b.len), 0);
		buf_release(&b);
		b = next;
	}
	buf_release(&b);
}

static void test_size_cap_and_trailing(void **state)
{
	(void)state;
	struct rlp_item item;
	struct err e = { 0 };
	uint8_t *big = calloc(1, RLP_MAX_INPUT + 1);
	static const uint8_t two[] = { 0x01, 0x02 };

	assert_non_null(big);
	assert_int_equal(rlp_decode(&item, big, RLP_MAX_INPUT + 1, &e), ERR_TOO_BIG);
	assert_true(e.msg[0]);
	free(big);
	assert_int_equal(rlp_decode(&item, two, 2, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "trailing"));
}

static void test_integers(void **state)
{
	(void)state;
	static const struct {
		const char *hex;   /* encoded item */
		int rc64, rc256;   /* expected result codes */
		uint64_t v;        /* value when rc64 == 0 */
	} cases[] = {
		{ "80", 0, 0, 0 },
		{ "7f", 0, 0, 127 },
		{ "8180", 0, 0, 128 },
		{ "88ffffffffffffffff", 0, 0, UINT64_MAX },
		{ "89010000000000000000", ERR_RANGE, 0, 0 },
		{ "00", ERR_NONCANONICAL, ERR_NONCANONICAL, 0 }, /* zero must be 0x80 */
		{ "820001", ERR_NONCANONICAL, ERR_NONCANONICAL, 0 },
		{ "c0", ERR_INVALID, ERR_INVALID, 0 },
		{ "a1010000000000000000000000000000000000000000000000000000000000000000",
		  ERR_RANGE, ERR_RANGE, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b;
		struct rlp_item it;
		uint64_t v = 7;
		u256 w = u256_from_u64(7);
		struct err e = { 0 };

		hex_to_buf(&b, cases[i].hex);
		assert_int_equal(rlp_decode(&it, b.data, b.len, NULL), 0);
		assert_int_equal(rlp_item_u64(&v, &it, &e), cases[i].rc64);
		if (cases[i].rc64 == 0)
			assert_int_equal(v, cases[i].v);
		else {
			assert_int_equal(v, 7);
			assert_true(e.msg[0]);
		}
		assert_int_equal(rlp_item_u256(&w, &it, &e), cases[i].rc256);
		buf_release(&b);
	}
}

static void test_list_items_errors(void **state)
{
	(void)state;
	static const uint8_t list3[] = { 0xc3, 0x01, 0x02, 0x03 };
	static const uint8_t str[] = { 0x83, 'd', 'o', 'g' };
	struct rlp_item it, kids[2];
	size_t count = 99;
	struct err e = { 0 };

	assert_int_equal(rlp_decode(&it, list3, sizeof list3, NULL), 0);
	assert_int_equal(rlp_list_items(kids, 2, &count, &it, &e), ERR_TOO_BIG);
	assert_int_equal(count, 99);
	assert_true(e.msg[0]);
	assert_int_equal(rlp_decode(&it, str, sizeof str, NULL), 0);
	assert_int_equal(rlp_list_items(kids, 2, &count, &it, &e), ERR_INVALID);
	assert_true(e.msg[0]);
	/* A hand-made list item with a bad child is rejected, not trusted. */
	static const uint8_t bad[] = { 0x81, 0x05 };
	struct rlp_item fake = { bad, sizeof bad, true };
	assert_int_equal(rlp_list_items(kids, 2, &count, &fake, &e), ERR_NONCANONICAL);
	assert_non_null(strstr(e.msg, "item 0"));
}

/* A failed append (buffer cap) leaves the buffer as it was. */
static void test_encode_cap_untouched(void **state)
{
	(void)state;
	struct buf b;
	uint8_t payload[60] = { 0 };

	buf_init(&b, 40);
	assert_int_equal(rlp_encode_bytes(&b, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(rlp_encode_bytes(&b, payload, 36), ERR_TOO_BIG);
	assert_int_equal(b.len, 4);
	assert_int_equal(rlp_encode_list(&b, payload, 60), ERR_TOO_BIG);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "\x83" "abc", 4);
	buf_release(&b);
}

static struct vec *load(const char *path, json_t **doc, size_t *count)
{
	json_error_t jerr;
	const char *key;
	json_t *v;
	struct vec *vecs;
	size_t n = 0;

	*doc = json_load_file(path, JSON_ALLOW_NUL, &jerr);
	if (!*doc) {
		fprintf(stderr, "cannot load %s: %s (run from the repo root)\n", path, jerr.text);
		exit(1);
	}
	vecs = calloc(json_object_size(*doc), sizeof *vecs);
	json_object_foreach(*doc, key, v) {
		if (key[0] == '_')
			continue;
		snprintf(vecs[n].name, sizeof vecs[n].name, "%s", key);
		vecs[n].in = json_object_get(v, "in");
		vecs[n].out = json_string_value(json_object_get(v, "out"));
		n++;
	}
	*count = n;
	return vecs;
}

int main(void)
{
	json_t *dv, *di;
	size_t nv, ni, k = 0;
	struct vec *valid = load(VEC_VALID, &dv, &nv);
	struct vec *invalid = load(VEC_INVALID, &di, &ni);
	struct CMUnitTest *t = calloc(nv + ni + 8, sizeof *t);
	int rc;

	for (size_t i = 0; i < nv; i++) {
		t[k] = (struct CMUnitTest)cmocka_unit_test_prestate(test_valid_vector, &valid[i]);
		t[k++].name = valid[i].name;
	}
	for (size_t i = 0; i < ni; i++) {
		t[k] = (struct CMUnitTest)cmocka_unit_test_prestate(test_invalid_vector, &invalid[i]);
		t[k++].name = invalid[i].name;
	}
	t[k++] = (struct CMUnitTest)cmocka_unit_test(test_depth_cap);
	t[k++] = (struct CMUnitTest)cmocka_unit_test(test_size_cap_and_trailing);
	t[k++] = (struct CMUnitTest)cmocka_unit_test(test_integers);
	t[k++] = (struct CMUnitTest)cmocka_unit_test(test_list_items_errors);
	t[k++] = (struct CMUnitTest)cmocka_unit_test(test_encode_cap_untouched);
	rc = _cmocka_run_group_tests("rlp", t, k, NULL, NULL);
	free(t);
	free(valid);
	free(invalid);
	json_decref(dv);
	json_decref(di);
	return rc;
}
