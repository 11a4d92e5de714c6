/*
 * test_core.c — unit tests for src/core: capped buffer, error names, hex,
 * u256 checked arithmetic and exact amount parsing, layered config, logfmt
 * quoting, running a helper program with a deadline. Boundaries are tested both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/cfg.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/proc.h"
#include "core/u256.h"

static void test_buf_cap(void **state)
{
	struct buf b;
	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append_str(&b, "12345678"), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_cstr(&b), "12345678");
	/* One byte past the cap fails and changes nothing. */
	assert_int_equal(buf_append_byte(&b, 'x'), ERR_TOO_BIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_cstr(&b), "12345678");
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "ab"), 0);
	assert_string_equal(buf_cstr(&b), "42-ab");
	assert_int_equal(buf_printf(&b, "%s", "toolong"), ERR_TOO_BIG);
	assert_string_equal(buf_cstr(&b), "42-ab");
	buf_release(&b);
	buf_release(NULL);
}

static void test_buf_grow_detach(void **state)
{
	struct buf b;
	uint8_t *p;
	size_t n;
	(void)state;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_append_byte(&b, (uint8_t)i), 0);
	assert_int_equal(b.len, 10000);
	assert_int_equal(b.data[9999], (uint8_t)9999);
	assert_int_equal(buf_append_hex(&b, (const uint8_t *)"\x01\xab", 2), 0);
	assert_memory_equal(b.data + 10000, "01ab", 4);
	p = buf_detach(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 10004);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(p);
	/* Detaching an empty buffer still gives a NUL-terminated allocation. */
	p = buf_detach(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 0);
	assert_int_equal(p[0], 0);
	free(p);
}

static void test_err(void **state)
{
	struct err e = { 0 };
	(void)state;
	assert_int_equal(err_set(&e, ERR_INVALID, "field %s", "x"), ERR_INVALID);
	assert_string_equal(e.msg, "field x");
	err_wrap(&e, "config");
	err_wrap(NULL, "ignored");
	assert_int_equal(e.code, ERR_INVALID);
	assert_string_equal(e.msg, "config: field x");
	assert_string_equal(err_name(ERR_CHECKSUM), "checksum");
	assert_string_equal(err_name(ERR_REVERT), "revert");
	assert_string_equal(err_name(5), "unknown");
	assert_string_equal(err_name(-999), "unknown");
	assert_int_equal(err_set(NULL, ERR_IO, "ignored"), ERR_IO);
	err_clear(&e);
	assert_int_equal(e.code, 0);
	assert_string_equal(e.msg, "");
}

static void test_hex(void **state)
{
	uint8_t out[4] = { 0xee, 0xee, 0xee, 0xee };
	size_t n = 99;
	char text[16];
	struct err e = { 0 };
	(void)state;
	assert_int_equal(hex_decode(out, 4, &n, "0xA0ff", 6, &e), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 0xa0);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(hex_decode(out, 4, &n, "", 0, &e), 0);
	assert_int_equal(n, 0);
	/* Bad inputs: nothing written, message says why. */
	memset(out, 0xee, sizeof out);
	assert_int_equal(hex_decode(out, 4, &n, "0xabc", 5, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "odd"));
	assert_int_equal(hex_decode(out, 4, &n, "zz", 2, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "digit"));
	assert_int_equal(hex_decode(out, 4, &n, "0102030405", 10, &e), ERR_TOO_BIG);
	assert_int_equal(out[0], 0xee);
	assert_int_equal(hex_decode_exact(out, 2, "0x0102", &e), 0);
	assert_int_equal(hex_decode_exact(out, 2, "0x010203", &e), ERR_INVALID);
	hex_encode_0x(text, (const uint8_t *)"\x00\x0f\xf0", 3);
	assert_string_equal(text, "0x000ff0");
}

static void test_u256_parse_format(void **state)
{
	static const char *max_dec =
		"115792089237316195423570985008687907853269984665640564039457584007913129639935";
	u256 a, b;
	char dec[U256_DEC_MAX], hex[U256_HEX_MAX];
	struct err e = { 0 };
	(void)state;

	assert_int_equal(u256_parse(&a, max_dec, &e), 0);
	u256_to_dec(dec, &a);
	assert_string_equal(dec, max_dec);
	u256_to_hex(hex, &a);
	assert_string_equal(hex, "0x" "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	/* 2^256 is one too many. */
	assert_int_equal(u256_parse(&b, "115792089237316195423570985008687907853269984665640564039457584007913129639936", &e), ERR_RANGE);
	assert_int_equal(u256_parse(&b, "0x1" "0000000000000000000000000000000000000000000000000000000000000000", &e), ERR_RANGE);
	assert_int_equal(u256_parse(&b, "0x0000000000000000000000000000000000000000000000000000000000000000000001", &e), 0);
	assert_true(u256_cmp(&b, &(u256){ { 1, 0, 0, 0 } }) == 0);
	assert_int_equal(u256_parse(&b, "", &e), ERR_INVALID);
	assert_int_equal(u256_parse(&b, "-1", &e), ERR_INVALID);
	assert_int_equal(u256_parse(&b, " 1", &e), ERR_INVALID);
	assert_int_equal(u256_parse(&b, "12a", &e), ERR_INVALID);
	assert_int_equal(u256_parse(&b, "0x", &e), ERR_INVALID);
	assert_int_equal(u256_parse(&b, "0xg", &e), ERR_INVALID);
	assert_int_equal(u256_parse(&b, "0", &e), 0);
	u256_to_dec(dec, &b);
	assert_string_equal(dec, "0");
	u256_to_hex(hex, &b);
	assert_string_equal(hex, "0x0");
}

static void test_u256_arith(void **state)
{
	u256 max, one = u256_from_u64(1), r, q, m, two = u256_from_u64(2);
	char dec[U256_DEC_MAX];
	(void)state;
	u256_parse(&max, "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", NULL);

	r = u256_from_u64(7);
	assert_int_equal(u256_add(&r, &max, &one), ERR_RANGE);
	assert_int_equal(r.w[0], 7); /* untouched */
	assert_int_equal(u256_sub(&r, &one, &two), ERR_RANGE);
	assert_int_equal(u256_mul(&r, &max, &two), ERR_RANGE);
	assert_int_equal(u256_divmod(&q, &m, &max, &(u256){ { 0 } }), ERR_RANGE);

	/* Carries across limbs. */
	u256 a = u256_from_u64(UINT64_MAX);
	assert_int_equal(u256_add(&r, &a, &one), 0);
	assert_int_equal(r.w[0], 0);
	assert_int_equal(r.w[1], 1);
	assert_int_equal(u256_sub(&r, &r, &one), 0);
	assert_int_equal(r.w[0], UINT64_MAX);
	assert_int_equal(r.w[1], 0);

	/* 10^18 * 10^18 * 10^18 = 10^54, then divide back. */
	u256 e18 = u256_from_u64(1000000000000000000ull), p;
	assert_int_equal(u256_mul(&p, &e18, &e18), 0);
	assert_int_equal(u256_mul(&p, &p, &e18), 0);
	u256_to_dec(dec, &p);
	assert_string_equal(dec, "1000000000000000000000000000000000000000000000000000000");
	assert_int_equal(u256_divmod(&q, &m, &p, &e18), 0);
	assert_true(u256_is_zero(&m));
	assert_int_equal(u256_divmod(&q, &m, &q, &e18), 0);
	assert_int_equal(u256_cmp(&q, &e18), 0);

	/* max / 3 remainder 0 (2^256-1 is divisible by 3). */
	u256 three = u256_from_u64(3);
	assert_int_equal(u256_divmod(&q, &m, &max, &three), 0);
	assert_true(u256_is_zero(&m));
	assert_int_equal(u256_mul(&r, &q, &three), 0);
	assert_int_equal(u256_cmp(&r, &max), 0);

	uint8_t be[32];
	u256_to_be32(be, &e18);
	u256_from_be32(&r, be);
	assert_int_equal(u256_cmp(&r, &e18), 0);
	assert_int_equal(be[31], 0x00);
	assert_int_equal(be[24], 0x0d); /* 10^18 = 0x0de0b6b3a7640000 */
	uint64_t v;
	assert_int_equal(u256_to_u64(&v, &e18), 0);
	assert_int_equal(u256_to_u64(&v, &max), ERR_RANGE);
}

static void test_u256_units(void **state)
{
	static const struct {
		const char *in;
		unsigned decimals;
		int rc;
		const char *units; /* expected smallest units, decimal */
		const char *back;  /* expected formatting of the result */
	} cases[] = {
		{ "1.5", 6, 0, "1500000", "1.5" },
		{ "0.000001", 6, 0, "1", "0.000001" },
		{ "0.0000001", 6, ERR_INVALID, NULL, NULL },
		{ "50", 6, 0, "50000000", "50" },
		{ "0", 18, 0, "0", "0" },
		{ "0.60", 6, 0, "600000", "0.6" },
		{ "1.", 6, ERR_INVALID, NULL, NULL },
		{ ".5", 6, ERR_INVALID, NULL, NULL },
		{ "1e6", 6, ERR_INVALID, NULL, NULL },
		{ "-1", 6, ERR_INVALID, NULL, NULL },
		{ "", 6, ERR_INVALID, NULL, NULL },
		{ "1,5", 6, ERR_INVALID, NULL, NULL },
		{ "12345678901234567890.123456789012345678", 18, 0,
		  "12345678901234567890123456789012345678", "12345678901234567890.123456789012345678" },
		{ "7", 0, 0, "7", "7" },
		{ "7.1", 0, ERR_INVALID, NULL, NULL },
		{ "115792089237316195423570985008687907853269984665640564039457.584007913129639936", 18,
		  ERR_RANGE, NULL, NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		u256 v = u256_from_u64(12345);
		struct err e = { 0 };
		char dec[U256_DEC_MAX], human[U256_DEC_MAX + 2];
		int rc = u256_parse_units(&v, cases[i].in, cases[i].decimals, &e);
		if (rc != cases[i].rc)
			fail_msg("case %zu '%s': rc %d want %d (%s)", i, cases[i].in, rc, cases[i].rc, e.msg);
		if (rc) {
			assert_int_equal(v.w[0], 12345);
			assert_true(e.msg[0] != '\0');
			continue;
		}
		u256_to_dec(dec, &v);
		assert_string_equal(dec, cases[i].units);
		u256_format_units(human, &v, cases[i].decimals);
		assert_string_equal(human, cases[i].back);
	}
}

static const struct cfg_key test_schema[] = {
	{ "rpc_url", "http://127.0.0.1:8545", "chain RPC endpoint" },
	{ "confirmations", "2", "blocks to wait" },
	{ "name", NULL, "optional name" },
};

static void test_cfg_layers(void **state)
{
	struct cfg c;
	struct err e = { 0 };
	char path[] = "/tmp/flop-cfg-XXXXXX";
	int fd;
	uint64_t n;
	(void)state;

	assert_int_equal(cfg_init(&c, test_schema, 3), 0);
	assert_string_equal(cfg_get(&c, "rpc_url"), "http://127.0.0.1:8545");
	assert_null(cfg_get(&c, "name"));

	/* A flag set before the file is still not overridden by it. */
	assert_int_equal(cfg_set(&c, "confirmations", "9", CFG_FLAG, &e), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	dprintf(fd, "# comment\n\nrpc_url = \"http://file:1\"\nconfirmations = 5 # trailing\nname=alpha\n");
	close(fd);
	setenv("FLOPTEST_NAME", "from-env", 1);
	assert_int_equal(cfg_load_env(&c, "FLOPTEST_", &e), 0);
	assert_int_equal(cfg_load_file(&c, path, &e), 0);
	assert_string_equal(cfg_get(&c, "rpc_url"), "http://file:1");
	assert_string_equal(cfg_get(&c, "name"), "from-env");
	assert_int_equal(cfg_source_of(&c, "name"), CFG_ENV);
	assert_int_equal(cfg_get_u64(&c, "confirmations", &n, &e), 0);
	assert_int_equal(n, 9);
	unsetenv("FLOPTEST_NAME");

	/* Unknown key in a file: error names line and key, nothing changes. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	dprintf(fd, "rpc_url = http://changed\nrcp_url = typo\n");
	close(fd);
	assert_int_equal(cfg_load_file(&c, path, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, "line 2"));
	assert_non_null(strstr(e.msg, "rcp_url"));
	assert_string_equal(cfg_get(&c, "rpc_url"), "http://file:1");

	fd = open(path, O_WRONLY | O_TRUNC);
	dprintf(fd, "just words\n");
	close(fd);
	assert_int_equal(cfg_load_file(&c, path, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "line 1"));

	assert_int_equal(cfg_set(&c, "nope", "x", CFG_FLAG, &e), ERR_NOT_FOUND);
	assert_int_equal(cfg_set(&c, "name", "-5", CFG_FLAG, &e), 0);
	assert_int_equal(cfg_get_u64(&c, "name", &n, &e), ERR_INVALID);
	assert_int_equal(cfg_load_file(&c, "/nonexistent/flop.conf", &e), ERR_IO);
	unlink(path);
	cfg_release(&c);
	cfg_release(NULL);
}

static void test_log_quote(void **state)
{
	char out[64];
	(void)state;
	assert_string_equal(log_quote(out, sizeof out, "0xabc"), "0xabc");
	assert_string_equal(log_quote(out, sizeof out, "two words"), "\"two words\"");
	assert_string_equal(log_quote(out, sizeof out, "a\"b"), "\"a\\\"b\"");
	assert_string_equal(log_quote(out, sizeof out, ""), "\"\"");
	assert_string_equal(log_quote(out, sizeof out, "k=v"), "\"k=v\"");
	assert_int_equal(log_level_parse("warn"), LOG_WARN);
	assert_int_equal(log_level_parse("loud"), -1);
}

static void test_file_read(void **state)
{
	char path[] = "/tmp/flop-file-XXXXXX";
	struct buf b;
	struct err e = { 0 };
	int fd;
	(void)state;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "12345678", 8), 8);
	close(fd);
	/* Exactly at the cap reads; one byte over fails and leaves the buffer as it was. */
	buf_init(&b, 10);
	assert_int_equal(buf_append_str(&b, "ab"), 0);
	assert_int_equal(file_read(&b, path, &e), 0);
	assert_string_equal(buf_cstr(&b), "ab12345678");
	buf_release(&b);
	buf_init(&b, 9);
	assert_int_equal(buf_append_str(&b, "ab"), 0);
	assert_int_equal(file_read(&b, path, &e), ERR_TOO_BIG);
	assert_non_null(strstr(e.msg, path));
	assert_string_equal(buf_cstr(&b), "ab");
	buf_release(&b);
	unlink(path);
	buf_init(&b, 10);
	assert_int_equal(file_read(&b, path, &e), ERR_NOT_FOUND);
	assert_non_null(strstr(e.msg, path));
	assert_int_equal(b.len, 0);
	assert_int_equal(file_read(&b, "/", &e), ERR_IO);
	buf_release(&b);
}

/* proc_run: output and status captured, cap honoured, deadline kills the group, missing program named. */
static void test_proc_run(void **state)
{
	char *echo[] = { "/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	char *flood[] = { "/bin/sh", "-c", "head -c 200000 /dev/zero; exit 0", NULL };
	char *slow[] = { "/bin/sh", "-c", "sleep 30 & sleep 30", NULL };
	char *missing[] = { "/nonexistent/flopmarket-no-such-tool", NULL };
	char *empty[] = { NULL };
	struct buf out;
	struct err e;
	int status = -1;
	(void)state;

	buf_init(&out, 4096);
	assert_int_equal(proc_run(&out, &status, echo, 5000, &e), 0);
	assert_int_equal(status, 3);
	assert_string_equal(buf_cstr(&out), "out\nerr\n");

	buf_release(&out);
	buf_init(&out, 100);
	assert_int_equal(proc_run(&out, &status, flood, 10000, &e), 0);
	assert_int_equal(status, 0); /* the child was never blocked by the cap */
	assert_int_equal(out.len, 100);
	buf_release(&out);

	uint64_t t0 = clock_mono_ms();
	assert_int_equal(proc_run(NULL, &status, slow, 300, &e), ERR_TIMEOUT);
	assert_true(clock_mono_ms() - t0 < 10000); /* the grandchild holding the pipe was killed too */
	assert_non_null(strstr(e.msg, "/bin/sh"));

	assert_int_equal(proc_run(NULL, &status, missing, 5000, &e), ERR_NOT_FOUND);
	assert_int_equal(status, 127);
	assert_non_null(strstr(e.msg, "flopmarket-no-such-tool"));
	assert_int_equal(proc_run(NULL, NULL, empty, 5000, &e), ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_grow_detach),
		cmocka_unit_test(test_err),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_u256_parse_format),
		cmocka_unit_test(test_u256_arith),
		cmocka_unit_test(test_u256_units),
		cmocka_unit_test(test_cfg_layers),
		cmocka_unit_test(test_log_quote),
		cmocka_unit_test(test_file_read),
		cmocka_unit_test(test_proc_run),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
