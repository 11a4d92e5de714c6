/*
 * test_eip191.c — personal_sign hashing, signing and verification.
 *
 * Vectors: hashMessage("Hello World") = 0xa1de9886...78f2 is the example in
 * the ethers documentation; the other digests and signatures were computed
 * independently with the pinned npm ethers 6.17.0
 * (`hashMessage(m)`, `new Wallet(k).signMessageSync(m)`).
 * Keys: anvil account 0 (0xac0974be...ff80) and the EIP-155 key 0x4646..46.
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
#include "eth/eip191.h"
#include "eth/secp.h"

#define ANVIL0 "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
#define K46 "4646464646464646464646464646464646464646464646464646464646464646"

struct vec {
	const char *msg_hex;  /* message bytes, hex (no prefix; "" = empty) */
	const char *digest;   /* expected hashMessage, hex */
	const char *seckey;   /* NULL: hash only */
	const char *sig;      /* expected signature r||s||v (v 27/28), hex */
};

static const struct vec vecs[] = {
	/* "Hello World" (ethers docs; signature by ethers 6.17.0) */
	{ "48656c6c6f20576f726c64",
	  "a1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2", ANVIL0,
	  "65e72b1cf8e189569963750e10ccb88fe89389daeeb8b735277d59cd6885ee82"
	  "3eb5a6982b540f185703492dab77b863a88ce01f27e21ade8b2879c10fc9e653" "1c" },
	/* "hello" (ethers 6.17.0) */
	{ "68656c6c6f", "50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750", K46,
	  "f63c93dc642a4839770b35abf9cb304ac2f1b5463d9a9abd87546feaa0af992e"
	  "659cf087c433e45c45f6135cb819ab1922c6359dbb1b8c8d7a54141de2cd4beb" "1b" },
	/* "" (ethers 6.17.0) */
	{ "", "5f35dce98ba4fba25530a026ed80b2cecdaa31091ba4958b99b52ea1d068adad", NULL, NULL },
	/* raw bytes 00 01 02 ff (ethers 6.17.0) */
	{ "000102ff", "0be7deb6e7a189a6b66096dd0abc8ec63a7c7f59b2b0eebe395d60778a337908", ANVIL0,
	  "033a33b2bd15fb75e2444a52a4f48abc4512c794bcefab030dee092891454d5f"
	  "7edf8dc7e2c9dfb6da7aa71fd0dcb4b514d688632cee3e1c856edf54b112e98c" "1b" },
};

static void test_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		uint8_t msg[64], d[32], want[32], k[32], sig[65], wsig[65];
		size_t n = 0;
		struct eth_address signer, a;
		struct err e = { 0 };

		assert_int_equal(hex_decode(msg, sizeof msg, &n, vecs[i].msg_hex,
					    strlen(vecs[i].msg_hex), NULL), 0);
		assert_int_equal(eip191_hash(d, msg, n, &e), 0);
		assert_int_equal(hex_decode_exact(want, 32, vecs[i].digest, NULL), 0);
		assert_memory_equal(d, want, 32);
		if (!vecs[i].seckey)
			continue;
		assert_int_equal(hex_decode_exact(k, 32, vecs[i].seckey, NULL), 0);
		assert_int_equal(hex_decode_exact(wsig, 65, vecs[i].sig, NULL), 0);
		assert_int_equal(eip191_sign(sig, msg, n, k, &e), 0);
		assert_memory_equal(sig, wsig, 65);
		assert_int_equal(secp_address(&a, k, &e), 0);
		assert_int_equal(eip191_recover(&signer, msg, n, sig, &e), 0);
		assert_true(address_equal(&a, &signer));
		assert_int_equal(eip191_verify(&a, msg, n, sig, &e), 0);
		/* v as 0/1 verifies too */
		sig[64] -= 27;
		assert_int_equal(eip191_verify(&a, msg, n, sig, &e), 0);
	}
}

static void test_verify_failures(void **state)
{
	uint8_t k[32], sig[65], bad[65];
	const uint8_t msg[] = "pay 5 USDC";
	struct eth_address a, other;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(hex_decode_exact(k, 32, ANVIL0, NULL), 0);
	assert_int_equal(secp_address(&a, k, &e), 0);
	assert_int_equal(address_parse(&other, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", &e), 0);
	assert_int_equal(eip191_sign(sig, msg, sizeof msg - 1, k, &e), 0);
	assert_true(sig[64] == 27 || sig[64] == 28);

	/* wrong expected signer */
	err_clear(&e);
	assert_int_equal(eip191_verify(&other, msg, sizeof msg - 1, sig, &e), ERR_AUTH);
	assert_true(strstr(e.msg, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266") != NULL);
	/* altered message */
	err_clear(&e);
	assert_int_equal(eip191_verify(&a, msg, sizeof msg - 2, sig, &e), ERR_AUTH);
	/* bad v */
	memcpy(bad, sig, 65);
	bad[64] = 29;
	err_clear(&e);
	assert_int_equal(eip191_verify(&a, msg, sizeof msg - 1, bad, &e), ERR_INVALID);
	assert_true(e.msg[0] != 0);
	/* too long */
	err_clear(&e);
	assert_int_equal(eip191_verify(&a, msg, EIP191_MSG_MAX + 1, sig, &e), ERR_TOO_BIG);
	assert_true(e.msg[0] != 0);
	/* NULL with length */
	uint8_t d[32];
	err_clear(&e);
	assert_int_equal(eip191_hash(d, NULL, 3, &e), ERR_INVALID);
	/* boundary: exactly the cap is hashed */
	uint8_t *big = calloc(1, EIP191_MSG_MAX);
	assert_non_null(big);
	assert_int_equal(eip191_hash(d, big, EIP191_MSG_MAX, &e), 0);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_verify_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
