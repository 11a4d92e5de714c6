/*
 * test_secp.c — secp256k1 keys, recoverable signatures and their rules.
 *
 * Vectors:
 *  - EIP-155 example: secret key 0x4646..46 -> address
 *    0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F; its signing hash
 *    0xdaf5a779...8e53 signs to r = 0x28ef6134...6276,
 *    s = 0x67cbe9d8...6d83 with recovery id 0 (v = 37 = 0 + 35 + 2*1).
 *  - EIP-712 Example.js: keccak256("cow") -> 0xCD2a3d9F...D826.
 *  - anvil / hardhat default account 0: 0xac0974be...ff80 -> 0xf39Fd6e5...2266.
 *  - secp256k1 generator G (SEC 2) as the compressed public key of 1.
 * Boundaries: secret keys 0, 1, n-1, n, 2^256-1; s = n/2 and n/2 + 1; v.
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
#include "eth/secp.h"

/* Group order n, big-endian. */
static const char *const N_HEX = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

static void unhex(uint8_t *out, size_t n, const char *hex)
{
	assert_int_equal(hex_decode_exact(out, n, hex, NULL), 0);
}

static void assert_addr(const struct eth_address *a, const char *want)
{
	char s[ADDRESS_STR_MAX];
	address_to_checksum(s, a);
	assert_string_equal(s, want);
}

/* out = n - in (both big-endian 32 bytes), for flipping s. */
static void order_minus(uint8_t out[32], const uint8_t in[32])
{
	uint8_t n[32];
	int borrow = 0;

	unhex(n, 32, N_HEX);
	for (int i = 31; i >= 0; i--) {
		int v = n[i] - in[i] - borrow;
		borrow = v < 0;
		out[i] = (uint8_t)(v + (borrow ? 256 : 0));
	}
}

static void test_known_addresses(void **state)
{
	static const struct {
		const char *seckey; /* hex, or "keccak:<text>" */
		const char *address;
	} cases[] = {
		/* EIP-155 example key */
		{ "4646464646464646464646464646464646464646464646464646464646464646",
		  "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F" },
		/* EIP-712 Example.js */
		{ "keccak:cow", "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
		/* anvil account 0 */
		{ "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
		  "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t k[32];
		struct eth_address a;
		struct err e = { 0 };

		if (!strncmp(cases[i].seckey, "keccak:", 7))
			keccak256(k, (const uint8_t *)cases[i].seckey + 7, strlen(cases[i].seckey + 7));
		else
			unhex(k, 32, cases[i].seckey);
		assert_true(secp_seckey_valid(k));
		assert_int_equal(secp_address(&a, k, &e), 0);
		assert_addr(&a, cases[i].address);
	}
}

static void test_eip155_signature(void **state)
{
	uint8_t k[32], d[32], sig[65], want[65];
	struct eth_address a;
	struct err e = { 0 };

	(void)state;
	unhex(k, 32, "4646464646464646464646464646464646464646464646464646464646464646");
	unhex(d, 32, "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
	unhex(want, 64, "28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276"
			"67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83");
	want[64] = 0;
	assert_int_equal(secp_sign(sig, d, k, &e), 0);
	assert_memory_equal(sig, want, 65);
	assert_int_equal(secp_recover_address(&a, d, sig, &e), 0);
	assert_addr(&a, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
	/* v given as 27 is the same signature. */
	sig[64] = 27;
	assert_int_equal(secp_recover_address(&a, d, sig, &e), 0);
	assert_addr(&a, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
}

static void test_pubkey33_generator(void **state)
{
	uint8_t k[32] = { 0 }, pub[33], want[33], pub64[64];
	struct err e = { 0 };

	(void)state;
	k[31] = 1;
	unhex(want, 33, "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");
	assert_int_equal(secp_pubkey33(pub, k, &e), 0);
	assert_memory_equal(pub, want, 33);
	assert_int_equal(secp_pubkey64(pub64, k, &e), 0);
	assert_memory_equal(pub64, want + 1, 32);
}

static void test_round_trip_low_s(void **state)
{
	uint8_t half[32];

	(void)state;
	unhex(half, 32, "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
	for (int i = 0; i < 64; i++) {
		uint8_t k[32], d[32], sig[65], pub[64], rpub[64];
		struct eth_address a, ra;
		struct err e = { 0 };

		assert_int_equal(secp_seckey_generate(k, &e), 0);
		assert_true(secp_seckey_valid(k));
		for (int j = 0; j < 32; j++)
			d[j] = (uint8_t)(i * 31 + j * 7);
		assert_int_equal(secp_sign(sig, d, k, &e), 0);
		assert_true(sig[64] == 0 || sig[64] == 1);
		assert_true(memcmp(sig + 32, half, 32) <= 0); /* low-s, always */
		assert_int_equal(secp_pubkey64(pub, k, &e), 0);
		assert_int_equal(secp_recover_pubkey64(rpub, d, sig, &e), 0);
		assert_memory_equal(pub, rpub, 64);
		assert_int_equal(secp_address(&a, k, &e), 0);
		assert_int_equal(secp_recover_address(&ra, d, sig, &e), 0);
		assert_true(address_equal(&a, &ra));
		/* Deterministic (RFC 6979): signing again gives the same bytes. */
		uint8_t sig2[65];
		assert_int_equal(secp_sign(sig2, d, k, &e), 0);
		assert_memory_equal(sig, sig2, 65);
		/* A different digest recovers someone else. */
		d[0] ^= 1;
		if (secp_recover_address(&ra, d, sig, &e) == 0)
			assert_false(address_equal(&a, &ra));
	}
}

static void test_high_s_rejected(void **state)
{
	uint8_t k[32], d[32], sig[65], bad[65], pub[64];
	struct err e = { 0 };

	(void)state;
	unhex(k, 32, "4646464646464646464646464646464646464646464646464646464646464646");
	memset(d, 0x5a, 32);
	assert_int_equal(secp_sign(sig, d, k, &e), 0);
	/* (r, n - s, v ^ 1) is the same point's malleable twin: refused. */
	memcpy(bad, sig, 65);
	order_minus(bad + 32, sig + 32);
	bad[64] ^= 1;
	memset(pub, 0xee, sizeof pub);
	assert_int_equal(secp_recover_pubkey64(pub, d, bad, &e), ERR_NONCANONICAL);
	assert_true(strstr(e.msg, "high-s") != NULL);
	for (size_t i = 0; i < sizeof pub; i++)
		assert_int_equal(pub[i], 0xee); /* output untouched */

	/* Boundary: s = n/2 passes the low-s rule, s = n/2 + 1 does not. */
	memcpy(bad, sig, 65);
	unhex(bad + 32, 32, "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
	e.code = 0;
	int rc = secp_recover_pubkey64(pub, d, bad, &e);
	assert_true(rc == 0 || rc == ERR_AUTH);
	unhex(bad + 32, 32, "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a1");
	assert_int_equal(secp_recover_pubkey64(pub, d, bad, &e), ERR_NONCANONICAL);
}

static void test_bad_v_and_rs(void **state)
{
	static const int bad_v[] = { 2, 3, 26, 29, 35, 37, 255 };
	uint8_t k[32], d[32], sig[65], bad[65];
	struct eth_address a;
	struct err e = { 0 };

	(void)state;
	unhex(k, 32, "4646464646464646464646464646464646464646464646464646464646464646");
	memset(d, 0x11, 32);
	assert_int_equal(secp_sign(sig, d, k, &e), 0);
	for (size_t i = 0; i < sizeof bad_v / sizeof bad_v[0]; i++) {
		memcpy(bad, sig, 65);
		bad[64] = (uint8_t)bad_v[i];
		err_clear(&e);
		assert_int_equal(secp_recover_address(&a, d, bad, &e), ERR_INVALID);
		assert_true(strstr(e.msg, "v must be") != NULL);
	}
	/* r = 0 */
	memcpy(bad, sig, 65);
	memset(bad, 0, 32);
	err_clear(&e);
	assert_int_equal(secp_recover_address(&a, d, bad, &e), ERR_AUTH);
	assert_true(e.msg[0] != 0);
	/* r = n (out of range) */
	memcpy(bad, sig, 65);
	unhex(bad, 32, N_HEX);
	err_clear(&e);
	assert_int_equal(secp_recover_address(&a, d, bad, &e), ERR_AUTH);
	/* s = 0 */
	memcpy(bad, sig, 65);
	memset(bad + 32, 0, 32);
	err_clear(&e);
	assert_int_equal(secp_recover_address(&a, d, bad, &e), ERR_AUTH);
}

static void test_invalid_seckeys(void **state)
{
	static const struct {
		const char *hex;
		bool valid;
	} cases[] = {
		{ "0000000000000000000000000000000000000000000000000000000000000000", false },
		{ "0000000000000000000000000000000000000000000000000000000000000001", true },
		{ "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140", true },  /* n-1 */
		{ "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", false }, /* n */
		{ "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142", false }, /* n+1 */
		{ "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t k[32], d[32] = { 1 }, sig[65], pub[64], pub33[33];
		struct eth_address a;
		struct err e = { 0 };

		unhex(k, 32, cases[i].hex);
		assert_int_equal(secp_seckey_valid(k), cases[i].valid);
		memset(sig, 0xcc, sizeof sig);
		if (cases[i].valid) {
			assert_int_equal(secp_sign(sig, d, k, &e), 0);
			assert_int_equal(secp_pubkey64(pub, k, &e), 0);
			continue;
		}
		assert_int_equal(secp_sign(sig, d, k, &e), ERR_CRYPTO);
		assert_true(e.msg[0] != 0);
		for (size_t j = 0; j < sizeof sig; j++)
			assert_int_equal(sig[j], 0xcc);
		err_clear(&e);
		assert_int_equal(secp_pubkey64(pub, k, &e), ERR_CRYPTO);
		assert_true(e.msg[0] != 0);
		assert_int_equal(secp_pubkey33(pub33, k, &e), ERR_CRYPTO);
		assert_int_equal(secp_address(&a, k, &e), ERR_CRYPTO);
	}
}

static void test_tweak_add(void **state)
{
	uint8_t one[32] = { 0 }, t[32], out[32], want[32] = { 0 };
	struct err e = { 0 };

	(void)state;
	one[31] = 1;
	memcpy(t, one, 32);
	assert_int_equal(secp_seckey_tweak_add(out, one, t, &e), 0);
	want[31] = 2;
	assert_memory_equal(out, want, 32);
	/* 1 + (n-1) = 0 mod n: invalid child. */
	unhex(t, 32, "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140");
	memset(out, 0xaa, 32);
	assert_int_equal(secp_seckey_tweak_add(out, one, t, &e), ERR_CRYPTO);
	assert_true(e.msg[0] != 0);
	assert_int_equal(out[0], 0xaa);
	/* tweak = n: refused (BIP-32 says IL >= n is invalid). */
	unhex(t, 32, N_HEX);
	assert_int_equal(secp_seckey_tweak_add(out, one, t, &e), ERR_CRYPTO);
	/* aliasing out == seckey */
	memcpy(out, one, 32);
	assert_int_equal(secp_seckey_tweak_add(out, out, one, &e), 0);
	assert_memory_equal(out, want, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_addresses),
		cmocka_unit_test(test_eip155_signature),
		cmocka_unit_test(test_pubkey33_generator),
		cmocka_unit_test(test_round_trip_low_s),
		cmocka_unit_test(test_high_s_rejected),
		cmocka_unit_test(test_bad_v_and_rs),
		cmocka_unit_test(test_invalid_seckeys),
		cmocka_unit_test(test_tweak_add),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
