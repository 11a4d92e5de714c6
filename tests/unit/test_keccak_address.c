/*
 * test_keccak_address.c — Keccak-256 (legacy padding) and EIP-55 addresses.
 *
 * Vectors: keccak256("") and ("abc") and the "quick brown fox" line are the
 * widely published Keccak-256 values (e.g. the Keccak team's KeccakKAT with
 * 0x01 padding, as used by Ethereum). The 135/136/137/1000-byte 'a' strings
 * straddle the 136-byte rate; their digests were computed independently with
 * the pinned npm ethers 6.17.0 (`keccak256(toUtf8Bytes("a".repeat(n)))`).
 * EIP-55 addresses are the examples listed in the EIP-55 text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/hex.h"
#include "eth/address.h"
#include "eth/keccak.h"

static void hash_hex(char out[65], const uint8_t *data, size_t n)
{
	uint8_t h[32];
	keccak256(h, data, n);
	hex_encode(out, h, 32);
}

static void test_keccak_vectors(void **state)
{
	static const struct {
		char fill;
		size_t n;
		const char *text;
		const char *digest;
	} cases[] = {
		{ 0, 0, "", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470" },
		{ 0, 0, "abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45" },
		{ 0, 0, "The quick brown fox jumps over the lazy dog",
		  "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15" },
		{ 'a', 135, NULL, "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446" },
		{ 'a', 136, NULL, "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e" },
		{ 'a', 137, NULL, "d869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39" },
		{ 'a', 1000, NULL, "b6a4ac1f51884d71f30fa397a5e155de3099e11fc0edef5d08b646e621e19de9" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char got[65];
		uint8_t *msg;
		size_t n;
		if (cases[i].text) {
			n = strlen(cases[i].text);
			msg = (uint8_t *)strdup(cases[i].text);
		} else {
			n = cases[i].n;
			msg = malloc(n);
			memset(msg, cases[i].fill, n);
		}
		hash_hex(got, msg, n);
		assert_string_equal(got, cases[i].digest);
		/* Incremental hashing at every split point gives the same digest. */
		for (size_t cut = 0; cut <= n; cut += (n > 200 ? 97 : 1)) {
			struct keccak256_ctx ctx;
			uint8_t h[32];
			keccak256_init(&ctx);
			keccak256_update(&ctx, msg, cut);
			keccak256_update(&ctx, msg + cut, n - cut);
			keccak256_final(h, &ctx);
			hex_encode(got, h, 32);
			assert_string_equal(got, cases[i].digest);
		}
		free(msg);
	}
}

static void test_eip55_examples(void **state)
{
	static const char *valid[] = {
		/* EIP-55 examples: all caps, all lower, normal */
		"0x52908400098527886E0F7030069857D2E4169EE7",
		"0x8617E340B3D01FA5F11F306F4090FD50E238070D",
		"0xde709f2102306220921060314715629080e2fb77",
		"0x27b1fdb04752bbc536007a920d24acb045561c26",
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	};
	(void)state;
	for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
		struct eth_address a;
		struct err e = { 0 };
		char out[ADDRESS_STR_MAX];
		if (address_parse(&a, valid[i], &e))
			fail_msg("%s: %s", valid[i], e.msg);
		address_to_checksum(out, &a);
		if (i >= 4)
			assert_string_equal(out, valid[i]);
		else
			assert_int_equal(strcasecmp(out, valid[i]), 0);
	}
}

static void test_address_bad(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *says;
	} cases[] = {
		/* one letter's case flipped: wrong checksum */
		{ "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", ERR_CHECKSUM, "checksum" },
		{ "0xfb6916095ca1df60bB79Ce92cE3Ea74c37c5d359", ERR_CHECKSUM, "checksum" },
		{ "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", ERR_INVALID, "0x" },
		{ "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA", ERR_INVALID, "40 hex" },
		{ "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00", ERR_INVALID, "40 hex" },
		{ "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", ERR_INVALID, "digit" },
		{ "", ERR_INVALID, "0x" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct eth_address a;
		struct err e = { 0 };
		memset(&a, 0x77, sizeof a);
		assert_int_equal(address_parse(&a, cases[i].in, &e), cases[i].rc);
		if (!strstr(e.msg, cases[i].says))
			fail_msg("case %zu: message '%s' lacks '%s'", i, e.msg, cases[i].says);
		assert_int_equal(a.b[0], 0x77);
		/* Without a message carrier the code must still say "failed". */
		assert_int_equal(address_parse(&a, cases[i].in, NULL), cases[i].rc);
		assert_int_equal(a.b[0], 0x77);
	}
}

static void test_address_from_pubkey(void **state)
{
	/*
	 * Public key of the secret key 1 (the generator point G), whose address
	 * 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf is widely published.
	 */
	uint8_t pub[64];
	struct eth_address a, want;
	(void)state;
	hex_decode_exact(pub, 64,
			 "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
			 "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8", NULL);
	address_from_pubkey64(&a, pub);
	assert_int_equal(address_parse(&want, "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf", NULL), 0);
	assert_true(address_equal(&a, &want));
	assert_false(address_is_zero(&a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keccak_vectors),
		cmocka_unit_test(test_eip55_examples),
		cmocka_unit_test(test_address_bad),
		cmocka_unit_test(test_address_from_pubkey),
	};
	return cmocka_run_group_tests_name("keccak_address", tests, NULL, NULL);
}
