/*
 * test_json.c — bounded JSON parsing and typed getters (core/json.h) and the
 * address getter (eth/ethjson.h). Boundaries both ways; every bad input
 * must give a negative code and a message naming the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/json.h"
#include "eth/ethjson.h"

static json_t *parse(const char *text)
{
	json_t *v = NULL;
	assert_int_equal(json_parse(&v, text, strlen(text), 0, NULL), 0);
	return v;
}

static void test_parse(void **state)
{
	static const struct {
		const char *text;
		int code;
	} cases[] = {
		{ "{}", 0 },
		{ "[1, 2, {\"a\": [\"x\"]}]", 0 },
		{ "\"just a string\"", 0 },
		{ "42", 0 },
		{ "", ERR_INVALID },
		{ "{", ERR_INVALID },
		{ "{\"a\":1,}", ERR_INVALID },
		{ "{\"a\":1} x", ERR_INVALID },         /* trailing bytes */
		{ "{\"a\":1, \"a\":2}", ERR_INVALID },  /* duplicate key */
		{ "[\"\\u0000\"]", ERR_INVALID },        /* NUL in a string is refused by jansson */
		{ "{\"a\": \"[[[[\"}", 0 },              /* brackets in strings do not count */
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *v = NULL;
		struct err e = { 0, "" };
		int rc = json_parse(&v, cases[i].text, strlen(cases[i].text), 0, &e);
		assert_int_equal(rc, cases[i].code);
		if (rc) {
			assert_null(v);
			assert_true(e.msg[0]);
		}
		json_decref(v);
	}
}

static void test_parse_limits(void **state)
{
	char deep[2 * JSON_MAX_DEPTH + 8];
	size_t n = 0;
	json_t *v = NULL;
	struct err e = { 0, "" };
	(void)state;

	/* exactly JSON_MAX_DEPTH levels is fine, one more is ERR_DEPTH */
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		deep[n++] = ']';
	assert_int_equal(json_parse(&v, deep, n, 0, NULL), 0);
	json_decref(v);
	n = 0;
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i <= JSON_MAX_DEPTH; i++)
		deep[n++] = ']';
	v = NULL;
	assert_int_equal(json_parse(&v, deep, n, 0, &e), ERR_DEPTH);
	assert_null(v);
	assert_true(e.msg[0]);

	/* With allow_nul the document parses, but no getter reads the NUL as text. */
	assert_int_equal(json_parse_ex(&v, "{\"s\":\"a\\u0000b\"}", 16, 0, true, NULL), 0);
	{
		const char *str = NULL;
		err_clear(&e);
		assert_int_equal(json_get_str(&str, v, "s", 100, &e), ERR_INVALID);
		assert_non_null(strstr(e.msg, "NUL"));
	}
	json_decref(v);
	v = NULL;

	/* size cap: n == max passes, n == max + 1 fails */
	assert_int_equal(json_parse(&v, "[1]", 3, 3, NULL), 0);
	json_decref(v);
	v = NULL;
	err_clear(&e);
	assert_int_equal(json_parse(&v, "[1] ", 4, 3, &e), ERR_TOO_BIG);
	assert_null(v);
	assert_true(e.msg[0]);
	/* not NUL-terminated input is read only up to n */
	assert_int_equal(json_parse(&v, "[1]garbage", 3, 0, NULL), 0);
	json_decref(v);
}

static void test_getters_good(void **state)
{
	json_t *o = parse("{\"s\": \"hello\", \"n\": 42, \"h\": \"0x2a\", \"d\": \"1000\","
			  " \"big\": \"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\","
			  " \"t\": true, \"b\": \"0x0102\", \"e\": \"0x\", \"z\": \"0x0\","
			  " \"a\": \"0x52908400098527886E0F7030069857D2E4169EE7\", \"nul\": null}");
	const char *s;
	uint64_t u;
	u256 big;
	bool t = false;
	uint8_t b[4];
	size_t n;
	uint8_t *alloc = NULL;
	struct eth_address a;
	const json_t *v;
	(void)state;

	assert_int_equal(json_get_str(&s, o, "s", 5, NULL), 0);
	assert_string_equal(s, "hello");
	assert_int_equal(json_get_u64(&u, o, "n", NULL), 0);
	assert_true(u == 42);
	assert_int_equal(json_get_u64(&u, o, "h", NULL), 0);
	assert_true(u == 42);
	assert_int_equal(json_get_u64(&u, o, "d", NULL), 0);
	assert_true(u == 1000);
	assert_int_equal(json_get_u64(&u, o, "z", NULL), 0);
	assert_true(u == 0);
	assert_int_equal(json_get_u256(&big, o, "big", NULL), 0);
	assert_true(big.w[0] == UINT64_MAX && big.w[3] == UINT64_MAX);
	assert_int_equal(json_get_bool(&t, o, "t", NULL), 0);
	assert_true(t);
	assert_int_equal(json_get_bytes(b, 2, &n, o, "b", NULL), 0); /* exactly cap */
	assert_int_equal(n, 2);
	assert_true(b[0] == 1 && b[1] == 2);
	assert_int_equal(json_get_bytes(b, 2, &n, o, "e", NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(json_get_bytes_exact(b, 2, o, "b", NULL), 0);
	assert_int_equal(json_get_bytes_alloc(&alloc, &n, o, "b", 2, NULL), 0);
	assert_int_equal(n, 2);
	free(alloc);
	assert_int_equal(ethjson_get_address(&a, o, "a", NULL), 0);
	assert_true(a.b[0] == 0x52 && a.b[19] == 0xe7);
	assert_int_equal(json_get(&v, o, "s", NULL), 0);
	json_decref(o);
}

static void test_getters_bad(void **state)
{
	json_t *o = parse("{\"s\": \"hello\", \"n\": -1, \"f\": 1.5, \"h\": \"0xzz\","
			  " \"over\": \"0x10000000000000000\", \"b\": \"0x010203\", \"odd\": \"0x123\","
			  " \"nohex\": \"0102\", \"nul\": null, \"arr\": [], \"t\": 1,"
			  " \"badsum\": \"0x52908400098527886E0F7030069857D2E4169Ee7\","
			  " \"short\": \"0x5290840009852788\","
			  " \"huge\": \"0x1" "0000000000000000000000000000000000000000000000000000000000000000\","
			  " \"sign\": \"+5\", \"space\": \" 5\"}");
	static const struct {
		const char *field;
		char kind; /* s str, u u64, U u256, b bytes(cap 2), x exact(2), B bool, a address */
		int code;
	} cases[] = {
		{ "missing", 's', ERR_NOT_FOUND },
		{ "nul", 'u', ERR_NOT_FOUND },
		{ "s", 's', ERR_TOO_BIG },   /* 5 chars, cap 4 */
		{ "n", 'u', ERR_RANGE },     /* negative */
		{ "f", 'u', ERR_INVALID },   /* float */
		{ "h", 'u', ERR_INVALID },   /* bad hex digit */
		{ "over", 'u', ERR_RANGE },  /* 2^64 */
		{ "huge", 'U', ERR_RANGE },  /* 2^256 */
		{ "sign", 'U', ERR_INVALID },
		{ "space", 'U', ERR_INVALID },
		{ "arr", 'U', ERR_INVALID },
		{ "b", 'b', ERR_TOO_BIG },   /* 3 bytes, cap 2 */
		{ "b", 'x', ERR_INVALID },   /* 3 bytes, want exactly 2 */
		{ "odd", 'b', ERR_INVALID },
		{ "nohex", 'b', ERR_INVALID },/* no 0x prefix */
		{ "n", 'b', ERR_INVALID },   /* not a string */
		{ "t", 'B', ERR_INVALID },
		{ "badsum", 'a', ERR_CHECKSUM },
		{ "short", 'a', ERR_INVALID },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct err e = { 0, "" };
		const char *s = "untouched";
		uint64_t u = 7;
		u256 U = u256_from_u64(7);
		uint8_t b[2] = { 9, 9 };
		size_t n = 99;
		bool B = false;
		struct eth_address a;
		int rc = 0;

		memset(a.b, 0xaa, 20);
		switch (cases[i].kind) {
		case 's': rc = json_get_str(&s, o, cases[i].field, 4, &e); break;
		case 'u': rc = json_get_u64(&u, o, cases[i].field, &e); break;
		case 'U': rc = json_get_u256(&U, o, cases[i].field, &e); break;
		case 'b': rc = json_get_bytes(b, 2, &n, o, cases[i].field, &e); break;
		case 'x': rc = json_get_bytes_exact(b, 2, o, cases[i].field, &e); break;
		case 'B': rc = json_get_bool(&B, o, cases[i].field, &e); break;
		case 'a': rc = ethjson_get_address(&a, o, cases[i].field, &e); break;
		}
		print_message("%s/%c: %d %s\n", cases[i].field, cases[i].kind, rc, e.msg);
		assert_int_equal(rc, cases[i].code);
		assert_non_null(strstr(e.msg, cases[i].field));
		/* outputs untouched */
		assert_string_equal(s, "untouched");
		assert_true(u == 7 && U.w[0] == 7 && b[0] == 9 && n == 99 && !B && a.b[0] == 0xaa);
	}
	/* a string with an embedded NUL (only code can build one; jansson's parser refuses it) */
	{
		json_t *emb = json_stringn("a\0b", 3);
		const char *s = NULL;
		struct err e = { 0, "" };
		assert_int_equal(json_val_str(&s, emb, "emb", 10, &e), ERR_INVALID);
		assert_non_null(strstr(e.msg, "emb"));
		assert_null(s);
		json_decref(emb);
	}
	/* not an object */
	{
		json_t *arr = parse("[1]");
		uint64_t u;
		struct err e = { 0, "" };
		assert_int_equal(json_get_u64(&u, arr, "x", &e), ERR_INVALID);
		assert_true(e.msg[0]);
		json_decref(arr);
	}
	json_decref(o);
}

static void test_builders(void **state)
{
	const uint8_t b[] = { 0, 0xff };
	u256 v = u256_from_u64(255);
	json_t *j;
	(void)state;

	j = json_hex_bytes(b, 2);
	assert_string_equal(json_string_value(j), "0x00ff");
	json_decref(j);
	j = json_hex_bytes(NULL, 0);
	assert_string_equal(json_string_value(j), "0x");
	json_decref(j);
	j = json_hex_u64(0);
	assert_string_equal(json_string_value(j), "0x0");
	json_decref(j);
	j = json_hex_u256(&v);
	assert_string_equal(json_string_value(j), "0xff");
	json_decref(j);
}

/* Issue 8.16: API integers are strict, identifiers past 2^53 travel as decimal strings. */
static void test_strict_ints_and_ids(void **state)
{
	json_t *o = parse("{\"n\": 5, \"s\": \"5\", \"neg\": -1, \"f\": 5.0, \"big\": 1152921504606846977,"
			  " \"sid\": \"1152921504606846977\", \"lz\": \"0123\", \"hex\": \"0x10\","
			  " \"max\": \"18446744073709551615\", \"over\": \"18446744073709551616\", \"empty\": \"\"}");
	uint64_t u = 0;
	json_t *j;
	(void)state;
	assert_int_equal(json_get_uint(&u, o, "n", NULL), 0);
	assert_int_equal(u, 5);
	assert_int_equal(json_get_uint(&u, o, "s", NULL), ERR_INVALID); /* "stars": "5" */
	assert_int_equal(json_get_uint(&u, o, "neg", NULL), ERR_RANGE);
	assert_int_equal(json_get_uint(&u, o, "f", NULL), ERR_INVALID);
	assert_int_equal(json_get_uint(&u, o, "nope", NULL), ERR_NOT_FOUND);
	assert_int_equal(json_get_id(&u, o, "big", NULL), 0);
	assert_int_equal(u, UINT64_C(1152921504606846977));
	assert_int_equal(json_get_id(&u, o, "sid", NULL), 0);
	assert_int_equal(u, UINT64_C(1152921504606846977));
	assert_int_equal(json_get_id(&u, o, "max", NULL), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(json_get_id(&u, o, "over", NULL), ERR_RANGE);
	assert_int_equal(json_get_id(&u, o, "lz", NULL), ERR_INVALID);
	assert_int_equal(json_get_id(&u, o, "hex", NULL), ERR_INVALID);
	assert_int_equal(json_get_id(&u, o, "empty", NULL), ERR_INVALID);
	assert_int_equal(json_get_id(&u, o, "f", NULL), ERR_INVALID);
	json_decref(o);
	/* emitted: an integer up to 2^53 - 1, a string past it (JavaScript's Number.MAX_SAFE_INTEGER) */
	j = json_id(JSON_SAFE_INT_MAX);
	assert_true(json_is_integer(j));
	json_decref(j);
	j = json_id(JSON_SAFE_INT_MAX + 1);
	assert_true(json_is_string(j));
	assert_string_equal(json_string_value(j), "9007199254740992");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_getters_good),
		cmocka_unit_test(test_strict_ints_and_ids),
		cmocka_unit_test(test_getters_bad),
		cmocka_unit_test(test_builders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
