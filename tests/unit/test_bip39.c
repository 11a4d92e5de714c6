/*
 * test_bip39.c — BIP-39 mnemonics/seeds and BIP-32 private derivation.
 *
 * Vectors:
 *  - BIP-39: trezor/python-mnemonic vectors.json, "english" section
 *    (passphrase "TREZOR"): entropy, mnemonic, seed — 12, 18 and 24 words.
 *  - BIP-32: test vector 1 of the BIP-32 text (seed 000102..0f), chain codes
 *    and private keys along m/0'/1/2'/2/1000000000.
 *  - anvil's default mnemonic "test test ... junk" at m/44'/60'/0'/0/0 and /1
 *    gives 0xf39Fd6e5...2266 and 0x70997970...79C8 (anvil's printed accounts).
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
#include "core/hex.h"
#include "eth/address.h"
#include "eth/bip32.h"
#include "eth/bip39.h"
#include "eth/secp.h"

static const struct {
	const char *entropy;
	const char *mnemonic;
	const char *seed; /* passphrase "TREZOR" */
} trezor[] = {
	{ "00000000000000000000000000000000",
	  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
	  "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04" },
	{ "7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
	  "legal winner thank year wave sausage worth useful legal winner thank yellow",
	  "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607" },
	{ "ffffffffffffffffffffffffffffffff",
	  "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
	  "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f15b11c61dee327651a14c34e18231052e48c069" },
	{ "000000000000000000000000000000000000000000000000",
	  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon agent",
	  "035895f2f481b1b0f01fcf8c289c794660b289981a78f8106447707fdd9666ca06da5a9a565181599b79f53b844d8a71dd9f439c52a3d7b3e8a79c906ac845fa" },
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art",
	  "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8" },
	{ "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	  "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote",
	  "dd48c104698c30cfe2b6142103248622fb7bb0ff692eebb00089b32d22484e1613912f0a5b694407be899ffd31ed3992c456cdf60f5d4564b8ba3f05a69890ad" },
	{ "9e885d952ad362caeb4efe34a8e91bd2",
	  "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic",
	  "274ddc525802f7c828d8ef7ddbcdc5304e87ac3535913611fbbfa986d0c9e5476c91689f9c8a54fd55bd38606aa6a8595ad213d4c9c9f9aca3fb217069a41028" },
	{ "6610b25967cdcca9d59875f5cb50b0ea75433311869e930b",
	  "gravity machine north sort system female filter attitude volume fold club stay feature office ecology stable narrow fog",
	  "628c3827a8823298ee685db84f55caa34b5cc195a778e52d45f59bcf75aba68e4d7590e101dc414bc1bbd5737666fbbef35d1f1903953b66624f910feef245ac" },
	{ "68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c",
	  "hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length",
	  "64c87cde7e12ecf6704ab95bb1408bef047c22db4cc7491c4271d170a1b213d20b385bc1588d9c7b38f1b39d415665b8a9030c9ec653d75e65f847d8fc1fc440" },
	{ "f585c11aec520db57dd353c69554b21a89b20fb0650966fa0a9d6f74fd989d8f",
	  "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold",
	  "01f5bced59dec48e362f2c45b5de68b9fd6c92c6634f44d6d40aab69056506f0e35524a518034ddc1192e1dacd32c1ed3eaa3c3b131c88ed8e7e54c49a5d0998" },
};

static void test_trezor_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof trezor / sizeof trezor[0]; i++) {
		uint8_t ent[32], got_ent[32], seed[64], want_seed[64];
		size_t el = 0, gl = 0;
		char m[BIP39_MNEMONIC_MAX];
		struct err e = { 0 };

		assert_int_equal(hex_decode(ent, sizeof ent, &el, trezor[i].entropy,
					    strlen(trezor[i].entropy), NULL), 0);
		assert_int_equal(bip39_entropy_to_mnemonic(m, sizeof m, ent, el, &e), 0);
		assert_string_equal(m, trezor[i].mnemonic);
		assert_int_equal(bip39_mnemonic_to_entropy(got_ent, sizeof got_ent, &gl,
							   trezor[i].mnemonic, &e), 0);
		assert_int_equal(gl, el);
		assert_memory_equal(got_ent, ent, el);
		assert_true(bip39_mnemonic_valid(trezor[i].mnemonic));
		assert_int_equal(bip39_mnemonic_to_seed(seed, trezor[i].mnemonic, "TREZOR", &e), 0);
		assert_int_equal(hex_decode_exact(want_seed, 64, trezor[i].seed, NULL), 0);
		assert_memory_equal(seed, want_seed, 64);
	}
}

static void test_whitespace_canonical(void **state)
{
	uint8_t a[64], b[64];
	struct err e = { 0 };

	(void)state;
	assert_int_equal(bip39_mnemonic_to_seed(a, trezor[0].mnemonic, "TREZOR", &e), 0);
	assert_int_equal(bip39_mnemonic_to_seed(b,
		"  abandon abandon\tabandon abandon abandon abandon abandon abandon abandon abandon\n"
		"abandon   about \n", "TREZOR", &e), 0);
	assert_memory_equal(a, b, 64);
	/* NULL passphrase = "" (differs from TREZOR). */
	assert_int_equal(bip39_mnemonic_to_seed(b, trezor[0].mnemonic, NULL, &e), 0);
	assert_memory_not_equal(a, b, 64);
}

static void test_generate(void **state)
{
	static const unsigned counts[] = { 12, 15, 18, 21, 24 };

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		char m1[BIP39_MNEMONIC_MAX], m2[BIP39_MNEMONIC_MAX];
		uint8_t ent[32];
		size_t el, words = 1;
		struct err e = { 0 };

		assert_int_equal(bip39_mnemonic_generate(m1, sizeof m1, counts[i], &e), 0);
		assert_int_equal(bip39_mnemonic_generate(m2, sizeof m2, counts[i], &e), 0);
		assert_string_not_equal(m1, m2);
		for (const char *p = m1; *p; p++)
			words += *p == ' ';
		assert_int_equal(words, counts[i]);
		assert_int_equal(bip39_mnemonic_to_entropy(ent, sizeof ent, &el, m1, &e), 0);
		assert_int_equal(el, counts[i] / 3 * 4);
	}
}

static void test_bad_mnemonics(void **state)
{
	static const struct {
		const char *m;
		int code;
		const char *msg;
	} cases[] = {
		/* last word changed: valid word, wrong checksum */
		{ "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon",
		  ERR_CHECKSUM, "mnemonic: bad checksum" },
		{ "legal winner thank year wave sausage worth useful legal winner yellow thank",
		  ERR_CHECKSUM, "mnemonic: bad checksum" },
		{ "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandn about",
		  ERR_INVALID, "mnemonic: word 11 'abandn' is not in the BIP-39 English list" },
		{ "Abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
		  ERR_INVALID, "mnemonic: word 1 'Abandon' is not" },
		{ "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
		  ERR_INVALID, "mnemonic: 11 words; expected 12, 15, 18, 21 or 24" },
		{ "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
		  ERR_INVALID, "mnemonic: 13 words" },
		{ "", ERR_INVALID, "mnemonic: 0 words" },
		{ "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo",
		  ERR_INVALID, "mnemonic: more than 24 words" },
		{ "abandonabandon abandon", ERR_INVALID, "mnemonic: word 1 'abandonabandon' is not" },
		{ "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon \xc3\xa1" "bout",
		  ERR_UNSUPPORTED, "mnemonic: non-ASCII text needs NFKD" },
		{ NULL, ERR_INVALID, "mnemonic: NULL" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t ent[32], seed[64];
		size_t el = 99;
		struct err e = { 0 };
		int rc = bip39_mnemonic_to_entropy(ent, sizeof ent, &el, cases[i].m, &e);

		if (rc != cases[i].code || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: rc %d msg \"%s\", want %d \"%s\"", i, rc, e.msg,
				 cases[i].code, cases[i].msg);
		assert_int_equal(el, 99); /* untouched */
		err_clear(&e);
		memset(seed, 0xcc, sizeof seed);
		assert_int_equal(bip39_mnemonic_to_seed(seed, cases[i].m, "", &e), cases[i].code);
		assert_int_equal(seed[0], 0xcc);
		assert_false(bip39_mnemonic_valid(cases[i].m));
	}
	/* Over-long input. */
	char *big = malloc(BIP39_INPUT_MAX + 2);
	uint8_t ent[32];
	size_t el;
	struct err e = { 0 };
	assert_non_null(big);
	memset(big, ' ', BIP39_INPUT_MAX + 1);
	big[BIP39_INPUT_MAX + 1] = 0;
	assert_int_equal(bip39_mnemonic_to_entropy(ent, sizeof ent, &el, big, &e), ERR_TOO_BIG);
	free(big);
	/* Entropy buffer too small. */
	assert_int_equal(bip39_mnemonic_to_entropy(ent, 15, &el, trezor[0].mnemonic, &e), ERR_TOO_BIG);
}

static void test_bad_entropy_and_passphrase(void **state)
{
	uint8_t ent[33] = { 0 }, seed[64];
	char m[BIP39_MNEMONIC_MAX];
	char pass[BIP39_PASSPHRASE_MAX + 2];
	struct err e = { 0 };

	(void)state;
	static const size_t bad_len[] = { 0, 12, 15, 17, 33 };
	for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++) {
		err_clear(&e);
		assert_int_equal(bip39_entropy_to_mnemonic(m, sizeof m, ent, bad_len[i], &e), ERR_INVALID);
		assert_true(e.msg[0] != 0);
	}
	assert_int_equal(bip39_entropy_to_mnemonic(m, 20, ent, 16, &e), ERR_TOO_BIG);
	assert_int_equal(bip39_mnemonic_generate(m, sizeof m, 13, &e), ERR_INVALID);
	assert_int_equal(bip39_mnemonic_generate(m, sizeof m, 27, &e), ERR_INVALID);
	err_clear(&e);
	assert_int_equal(bip39_mnemonic_to_seed(seed, trezor[0].mnemonic, "caf\xc3\xa9", &e),
			 ERR_UNSUPPORTED);
	assert_true(strncmp(e.msg, "passphrase: non-ASCII", 21) == 0);
	memset(pass, 'p', sizeof pass - 1);
	pass[sizeof pass - 1] = 0;
	assert_int_equal(bip39_mnemonic_to_seed(seed, trezor[0].mnemonic, pass, &e), ERR_TOO_BIG);
	pass[BIP39_PASSPHRASE_MAX] = 0; /* exactly the cap: accepted */
	assert_int_equal(bip39_mnemonic_to_seed(seed, trezor[0].mnemonic, pass, &e), 0);
}

static void test_bip32_vector1(void **state)
{
	static const struct {
		uint32_t index;
		const char *chain;
		const char *key;
	} steps[] = {
		{ 0, "873dff81c02f525623fd1fe5167eac3a55a049de3d314bb42ee227ffed37d508",
		  "e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35" }, /* m */
		{ 0 | BIP32_HARDENED, "47fdacbd0f1097043b78c63c20c34ef4ed9a111d980047ad16282c7ae6236141",
		  "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea" },
		{ 1, "2a7857631386ba23dacac34180dd1983734e444fdbf774041578e9b6adb37c19",
		  "3c6cb8d0f6a264c91ea8b5030fadaa8e538b020f0a387421a12de9319dc93368" },
		{ 2 | BIP32_HARDENED, "04466b9cc8e161e966409ca52986c584f07e9dc81f735db683c3ff6ec7b1503f",
		  "cbce0d719ecf7431d88e6a89fa1483e02e35092af60c042b1df2ff59fa424dca" },
		{ 2, "cfb71883f01676f587d023cc53a35bc7f88f724b1f8c2892ac1275ac822a3edd",
		  "0f479245fb19a38a1954c5c7c0ebab2f9bdfd96a17563ef28a6a4b1a2a764ef4" },
		{ 1000000000, "c783e67b921d2beb8f6b389cc646d7263b4145701dadd2161548a8b078e65e9e",
		  "471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8" },
	};
	uint8_t seed[16], cc[32], k[32];
	struct bip32_key key, viapath;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(hex_decode_exact(seed, 16, "000102030405060708090a0b0c0d0e0f", NULL), 0);
	assert_int_equal(bip32_master(&key, seed, 16, &e), 0);
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (i)
			assert_int_equal(bip32_ckd_priv(&key, &key, steps[i].index, &e), 0);
		assert_int_equal(hex_decode_exact(cc, 32, steps[i].chain, NULL), 0);
		assert_int_equal(hex_decode_exact(k, 32, steps[i].key, NULL), 0);
		assert_memory_equal(key.chain_code, cc, 32);
		assert_memory_equal(key.seckey, k, 32);
		assert_int_equal(key.depth, i);
	}
	struct bip32_key m;
	assert_int_equal(bip32_master(&m, seed, 16, &e), 0);
	assert_int_equal(bip32_derive_path(&viapath, &m, "m/0'/1/2h/2/1000000000", &e), 0);
	assert_memory_equal(viapath.seckey, key.seckey, 32);
	assert_memory_equal(viapath.chain_code, key.chain_code, 32);
	assert_int_equal(viapath.child_number, 1000000000);
	assert_int_equal(bip32_derive_path(&viapath, &m, "m", &e), 0);
	assert_memory_equal(viapath.seckey, m.seckey, 32);
	bip32_key_wipe(&key);
	bip32_key_wipe(&m);
	bip32_key_wipe(&viapath);
	bip32_key_wipe(NULL);

	/* Seed length bounds. */
	uint8_t s65[65] = { 0 };
	assert_int_equal(bip32_master(&m, s65, 15, &e), ERR_INVALID);
	assert_int_equal(bip32_master(&m, s65, 65, &e), ERR_INVALID);
	assert_int_equal(bip32_master(&m, s65, 64, &e), 0);
}

static void test_anvil_accounts(void **state)
{
	static const char anvil[] = "test test test test test test test test test test test junk";
	static const char *want[] = { "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
				      "0x70997970C51812dc3A010C7d01b50e0d17dc79C8" };

	(void)state;
	for (uint32_t i = 0; i < 2; i++) {
		uint8_t k[32];
		struct eth_address a;
		char s[ADDRESS_STR_MAX];
		struct err e = { 0 };

		assert_int_equal(bip32_eth_key_from_mnemonic(k, anvil, NULL, i, &e), 0);
		assert_int_equal(secp_address(&a, k, &e), 0);
		address_to_checksum(s, &a);
		assert_string_equal(s, want[i]);
	}
	uint8_t k[32];
	struct err e = { 0 };
	assert_int_equal(bip32_eth_key_from_mnemonic(k, anvil, NULL, BIP32_HARDENED, &e), ERR_RANGE);
	assert_int_equal(bip32_eth_key_from_mnemonic(k, "test test", NULL, 0, &e), ERR_INVALID);
}

static void test_path_parse(void **state)
{
	static const struct {
		const char *path;
		int code;
		size_t n;
		uint32_t idx[3];
		const char *msg;
	} cases[] = {
		{ "m", 0, 0, { 0 }, NULL },
		{ "m/44'/60'/0'", 0, 3, { 44 | BIP32_HARDENED, 60 | BIP32_HARDENED, BIP32_HARDENED }, NULL },
		{ "m/0/2147483647h", 0, 2, { 0, 2147483647u | BIP32_HARDENED }, NULL },
		{ "m/1H/2", 0, 2, { 1 | BIP32_HARDENED, 2 }, NULL },
		{ "m/2147483648", ERR_RANGE, 0, { 0 }, "path offset 2: index is >= 2^31" },
		{ "m/99999999999999999999", ERR_RANGE, 0, { 0 }, "path offset 2: index is >= 2^31" },
		{ "", ERR_INVALID, 0, { 0 }, "path: must start with 'm'" },
		{ "44'/60'", ERR_INVALID, 0, { 0 }, "path: must start with 'm'" },
		{ "m/", ERR_INVALID, 0, { 0 }, "path offset 2: expected a decimal index" },
		{ "m//1", ERR_INVALID, 0, { 0 }, "path offset 2: expected a decimal index" },
		{ "m/1/", ERR_INVALID, 0, { 0 }, "path offset 4: expected a decimal index" },
		{ "m/1x", ERR_INVALID, 0, { 0 }, "path offset 3: expected '/'" },
		{ "m/1''", ERR_INVALID, 0, { 0 }, "path offset 4: expected '/'" },
		{ "m/-1", ERR_INVALID, 0, { 0 }, "path offset 2: expected a decimal index" },
		{ "m/01", ERR_INVALID, 0, { 0 }, "path offset 2: leading zero" },
		{ "M/1", ERR_INVALID, 0, { 0 }, "path: must start with 'm'" },
		{ "m/1/2/3/4/5/6/7/8/9/10", 0, 10, { 1, 2, 3 }, NULL },
		{ "m/1/2/3/4/5/6/7/8/9/10/11", ERR_DEPTH, 0, { 0 }, "path: deeper than 10 steps" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint32_t idx[BIP32_MAX_DEPTH];
		size_t n = 77;
		struct err e = { 0 };
		int rc = bip32_path_parse(idx, BIP32_MAX_DEPTH, &n, cases[i].path, &e);

		if (rc != cases[i].code)
			fail_msg("case %zu (%s): rc %d (%s)", i, cases[i].path, rc, e.msg);
		if (rc) {
			assert_int_equal(n, 77);
			if (strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
				fail_msg("case %zu: msg \"%s\", want \"%s\"", i, e.msg, cases[i].msg);
			continue;
		}
		assert_int_equal(n, cases[i].n);
		for (size_t j = 0; j < n && j < 3; j++)
			assert_int_equal(idx[j], cases[i].idx[j]);
	}
	uint32_t idx[2];
	size_t n;
	struct err e = { 0 };
	assert_int_equal(bip32_path_parse(idx, 2, &n, "m/1/2/3", &e), ERR_TOO_BIG);
	assert_int_equal(bip32_path_parse(idx, 2, &n, NULL, &e), ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trezor_vectors),
		cmocka_unit_test(test_whitespace_canonical),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_bad_mnemonics),
		cmocka_unit_test(test_bad_entropy_and_passphrase),
		cmocka_unit_test(test_bip32_vector1),
		cmocka_unit_test(test_anvil_accounts),
		cmocka_unit_test(test_path_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
