/*
 * test_keystore.c — Web3 Secret Storage v3 read/write.
 *
 * Vectors: the two test vectors of the Web3 Secret Storage Definition
 * (ethereum.org "Web3 secret storage definition", formerly the ethereum
 * wiki): password "testpassword", secret
 * 7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d, one
 * AES-128-CTR + PBKDF2-SHA-256 file (c = 262144) and one AES-128-CTR +
 * scrypt file (n = 262144, r = 1, p = 8), transcribed verbatim.
 * Everything else is round trips and field-by-field malformed files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/err.h"
#include "core/hex.h"
#include "eth/address.h"
#include "eth/keystore.h"
#include "eth/secp.h"

#define SECRET "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d"

static const char vec_pbkdf2[] =
	"{\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":\"6087dab2f9fdbbfaddc31a909735c1e6\"},"
	"\"ciphertext\":\"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46\","
	"\"kdf\":\"pbkdf2\",\"kdfparams\":{\"c\":262144,\"dklen\":32,\"prf\":\"hmac-sha256\","
	"\"salt\":\"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd\"},"
	"\"mac\":\"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2\"},"
	"\"id\":\"3198bc9c-6672-5ab3-d995-4942343ae5b6\",\"version\":3}";

static const char vec_scrypt[] =
	"{\"crypto\":{\"cipher\":\"aes-128-ctr\",\"cipherparams\":{\"iv\":\"83dbcc02d8ccb40e466191a123791e0e\"},"
	"\"ciphertext\":\"d172bf743a674da9cdad04534d56926ef8358534d458fffccd4e6ad2fbde479c\","
	"\"kdf\":\"scrypt\",\"kdfparams\":{\"dklen\":32,\"n\":262144,\"p\":8,\"r\":1,"
	"\"salt\":\"ab0c7876052600dd703518d6fc3fe8984592145b591fc8fb5c6d43190334ba19\"},"
	"\"mac\":\"2103ac29920d71da29f15d75b4a16dbe95cfd7ff8faea1056c33131d846e3097\"},"
	"\"id\":\"3198bc9c-6672-5ab3-d995-4942343ae5b6\",\"version\":3}";

static void test_spec_vectors(void **state)
{
	const char *vecs[] = { vec_pbkdf2, vec_scrypt };
	uint8_t want[32];

	(void)state;
	assert_int_equal(hex_decode_exact(want, 32, SECRET, NULL), 0);
	for (size_t i = 0; i < 2; i++) {
		uint8_t k[32];
		struct err e = { 0 };
		struct eth_address a;
		char s[ADDRESS_STR_MAX];

		if (keystore_decrypt(k, vecs[i], strlen(vecs[i]), "testpassword", &e))
			fail_msg("vector %zu: %s", i, e.msg);
		assert_memory_equal(k, want, 32);
		/* The spec's listed address for this secret. */
		assert_int_equal(secp_address(&a, k, &e), 0);
		address_to_lower(s, &a);
		assert_string_equal(s, "0x008aeeda4d805471df9b2a5b0f38a0c3bcba786b");
		/* Wrong passphrase: ERR_AUTH, key untouched. */
		memset(k, 0xcc, 32);
		err_clear(&e);
		assert_int_equal(keystore_decrypt(k, vecs[i], strlen(vecs[i]), "testpassworD", &e),
				 ERR_AUTH);
		assert_true(strncmp(e.msg, "wrong passphrase", 16) == 0);
		for (int j = 0; j < 32; j++)
			assert_int_equal(k[j], 0xcc);
	}
}

static void test_round_trip(void **state)
{
	struct keystore_opts o = { .scrypt_log2_n = 10 };
	uint8_t key[32], got[32];
	struct buf a, b;
	struct eth_address addr, faddr;
	struct err e = { 0 };
	json_t *root;

	(void)state;
	assert_int_equal(secp_seckey_generate(key, &e), 0);
	assert_int_equal(secp_address(&addr, key, &e), 0);
	buf_init(&a, KEYSTORE_JSON_MAX);
	buf_init(&b, KEYSTORE_JSON_MAX);
	assert_int_equal(keystore_encrypt(&a, key, "correct horse", &o, &e), 0);
	assert_int_equal(keystore_encrypt(&b, key, "correct horse", &o, &e), 0);
	assert_string_not_equal(buf_cstr(&a), buf_cstr(&b)); /* fresh salt, iv, id */
	assert_int_equal(keystore_decrypt(got, (const char *)a.data, a.len, "correct horse", &e), 0);
	assert_memory_equal(got, key, 32);
	assert_int_equal(keystore_decrypt(got, (const char *)b.data, b.len, "correct horse", &e), 0);
	assert_memory_equal(got, key, 32);
	assert_int_equal(keystore_decrypt(got, (const char *)a.data, a.len, "correct horsE", &e),
			 ERR_AUTH);
	assert_int_equal(keystore_address(&faddr, (const char *)a.data, a.len, &e), 0);
	assert_true(address_equal(&addr, &faddr));

	/* Shape of the file. */
	root = json_loadb((const char *)a.data, a.len, 0, NULL);
	assert_non_null(root);
	const char *id = json_string_value(json_object_get(root, "id"));
	const char *as = json_string_value(json_object_get(root, "address"));
	json_t *kp = json_object_get(json_object_get(root, "crypto"), "kdfparams");
	char lower[ADDRESS_STR_MAX];
	assert_int_equal(json_integer_value(json_object_get(root, "version")), 3);
	assert_non_null(id);
	assert_int_equal(strlen(id), 36);
	assert_int_equal(id[14], '4');                      /* UUID version 4 */
	assert_non_null(strchr("89ab", id[19]));           /* RFC 4122 variant */
	address_to_lower(lower, &addr);
	assert_string_equal(as, lower + 2);                 /* lowercase, no 0x */
	assert_int_equal(json_integer_value(json_object_get(kp, "n")), 1024);
	assert_int_equal(json_integer_value(json_object_get(kp, "r")), 8);
	assert_int_equal(json_integer_value(json_object_get(kp, "p")), 1);
	assert_int_equal(json_integer_value(json_object_get(kp, "dklen")), 32);
	assert_string_equal(json_string_value(json_object_get(json_object_get(root, "crypto"), "kdf")),
			    "scrypt");
	json_decref(root);
	buf_release(&a);
	buf_release(&b);

	/* Empty passphrase is allowed (geth allows it). */
	buf_init(&a, KEYSTORE_JSON_MAX);
	assert_int_equal(keystore_encrypt(&a, key, "", &o, &e), 0);
	assert_int_equal(keystore_decrypt(got, (const char *)a.data, a.len, "", &e), 0);
	assert_memory_equal(got, key, 32);
	buf_release(&a);
}

static void test_default_params(void **state)
{
	uint8_t key[32], got[32];
	struct buf a;
	struct err e = { 0 };

	(void)state;
	/* Default: n = 2^18, r = 8 (256 MiB) — the largest our reader accepts. */
	memset(key, 0x11, 32);
	buf_init(&a, KEYSTORE_JSON_MAX);
	assert_int_equal(keystore_encrypt(&a, key, "pw", NULL, &e), 0);
	assert_non_null(strstr(buf_cstr(&a), "\"n\":262144"));
	assert_int_equal(keystore_decrypt(got, (const char *)a.data, a.len, "pw", &e), 0);
	assert_memory_equal(got, key, 32);
	buf_release(&a);
}

/* Flips one hex digit of crypto.<field> in a copy of a written file. */
static char *tamper(const struct buf *src, const char *field)
{
	char *s = strdup((const char *)src->data);
	char pat[32], *p;

	assert_non_null(s);
	snprintf(pat, sizeof pat, "\"%s\":\"", field);
	p = strstr(s, pat);
	assert_non_null(p);
	p += strlen(pat) + 5;
	*p = *p == '0' ? '1' : '0';
	return s;
}

static void test_tampered(void **state)
{
	struct keystore_opts o = { .scrypt_log2_n = 10 };
	static const char *fields[] = { "mac", "ciphertext", "iv", "salt" };
	uint8_t key[32], got[32];
	struct buf a;
	struct err e = { 0 };

	(void)state;
	memset(key, 0x42, 32);
	buf_init(&a, KEYSTORE_JSON_MAX);
	assert_int_equal(keystore_encrypt(&a, key, "pw", &o, &e), 0);
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		char *bad = tamper(&a, fields[i]);
		int rc;

		err_clear(&e);
		memset(got, 0xcc, 32);
		rc = keystore_decrypt(got, bad, strlen(bad), "pw", &e);
		if (!strcmp(fields[i], "iv")) {
			/* The IV is not under the MAC: decrypts to another key, which
			 * the address field then catches. */
			assert_int_equal(rc, ERR_INVALID);
			assert_string_equal(e.msg, "address: does not match the decrypted key");
		} else {
			assert_int_equal(rc, ERR_AUTH);
		}
		assert_int_equal(got[0], 0xcc);
		free(bad);
	}
	buf_release(&a);
}

/* Applies a mutation to the PBKDF2 vector: set `path` (a/b/c) to JSON `val`, or delete. */
static char *mutate(const char *base, const char *path, const char *val)
{
	json_t *root = json_loads(base, 0, NULL), *obj = root;
	char buf[128], *tok, *save = NULL, *last = NULL;
	char *out;

	assert_non_null(root);
	snprintf(buf, sizeof buf, "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (last)
			obj = json_object_get(obj, last);
		last = tok;
	}
	assert_non_null(obj);
	if (val) {
		json_t *v = json_loads(val, JSON_DECODE_ANY, NULL);
		assert_non_null(v);
		json_object_set_new(obj, last, v);
	} else {
		json_object_del(obj, last);
	}
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	assert_non_null(out);
	return out;
}

static void test_malformed_fields(void **state)
{
	static const struct {
		const char *path;
		const char *val; /* NULL: delete */
		int code;
		const char *msg; /* expected message prefix */
	} cases[] = {
		{ "crypto", NULL, ERR_INVALID, "crypto: missing" },
		{ "version", "2", ERR_UNSUPPORTED, "version: only version 3" },
		{ "version", "\"3\"", ERR_UNSUPPORTED, "version: only version 3" },
		{ "crypto/cipher", "\"aes-128-cbc\"", ERR_UNSUPPORTED, "crypto.cipher: 'aes-128-cbc'" },
		{ "crypto/cipher", NULL, ERR_INVALID, "crypto.cipher: missing" },
		{ "crypto/cipherparams", "[]", ERR_INVALID, "crypto.cipherparams: missing or not" },
		{ "crypto/cipherparams/iv", "\"6087dab2f9fdbbfaddc31a909735c1\"", ERR_INVALID,
		  "crypto.cipherparams.iv: expected 16 bytes, got 15" },
		{ "crypto/cipherparams/iv", "\"6087dab2f9fdbbfaddc31a909735c1e6aa\"", ERR_TOO_BIG,
		  "crypto.cipherparams.iv" },
		{ "crypto/cipherparams/iv", "\"6087dab2f9fdbbfaddc31a909735c1zz\"", ERR_INVALID,
		  "crypto.cipherparams.iv" },
		{ "crypto/cipherparams/iv", "7", ERR_INVALID,
		  "crypto.cipherparams.iv: expected a hex string" },
		{ "crypto/ciphertext", NULL, ERR_INVALID, "crypto.ciphertext: missing" },
		{ "crypto/mac", "\"517ead\"", ERR_INVALID, "crypto.mac: expected 32 bytes, got 3" },
		{ "crypto/kdf", "\"argon2id\"", ERR_UNSUPPORTED, "crypto.kdf: 'argon2id'" },
		{ "crypto/kdf", NULL, ERR_INVALID, "crypto.kdf: missing" },
		{ "crypto/kdfparams", NULL, ERR_INVALID, "crypto.kdfparams: missing" },
		{ "crypto/kdfparams/dklen", "16", ERR_UNSUPPORTED, "crypto.kdfparams.dklen: must be 32" },
		{ "crypto/kdfparams/dklen", "4294967296", ERR_TOO_BIG, "crypto.kdfparams.dklen" },
		{ "crypto/kdfparams/prf", "\"hmac-sha512\"", ERR_UNSUPPORTED,
		  "crypto.kdfparams.prf: must be hmac-sha256" },
		{ "crypto/kdfparams/c", "0", ERR_INVALID, "crypto.kdfparams.c: must be positive" },
		{ "crypto/kdfparams/c", "-5", ERR_INVALID, "crypto.kdfparams.c: must be positive" },
		{ "crypto/kdfparams/c", "10000001", ERR_TOO_BIG, "crypto.kdfparams.c: 10000001 exceeds" },
		{ "crypto/kdfparams/c", "\"262144\"", ERR_INVALID, "crypto.kdfparams.c: expected an integer" },
		{ "crypto/kdfparams/salt", NULL, ERR_INVALID, "crypto.kdfparams.salt: missing" },
		{ "crypto/kdfparams/salt", "\"\"", ERR_INVALID, "crypto.kdfparams.salt: expected at least 1" },
		{ "address", "\"0x12\"", ERR_INVALID, "address" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *doc = mutate(vec_pbkdf2, cases[i].path, cases[i].val);
		uint8_t k[32];
		struct err e = { 0 };
		int rc = keystore_decrypt(k, doc, strlen(doc), "testpassword", &e);

		if (rc != cases[i].code || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu (%s): rc %d msg \"%s\", want %d \"%s\"", i, cases[i].path,
				 rc, e.msg, cases[i].code, cases[i].msg);
		free(doc);
	}
}

static void test_scrypt_caps(void **state)
{
	static const struct {
		const char *n, *r, *p;
		int code;
		const char *msg;
	} cases[] = {
		{ "3", "1", "1", ERR_INVALID, "crypto.kdfparams.n: must be a power of two" },
		{ "1", "1", "1", ERR_INVALID, "crypto.kdfparams.n: must be a power of two" },
		{ "1048576", "8", "1", ERR_TOO_BIG, "crypto.kdfparams: scrypt n*r needs 1024 MiB" },
		{ "262144", "1", "64", ERR_TOO_BIG, "crypto.kdfparams: scrypt n*r*p" },
		{ "4611686018427387904", "1", "1", ERR_TOO_BIG, "crypto.kdfparams.n" },
		{ "1024", "0", "1", ERR_INVALID, "crypto.kdfparams.r: must be positive" },
		{ "1024", "8", "100000", ERR_TOO_BIG, "crypto.kdfparams.p" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *d1 = mutate(vec_scrypt, "crypto/kdfparams/n", cases[i].n);
		char *d2 = mutate(d1, "crypto/kdfparams/r", cases[i].r);
		char *d3 = mutate(d2, "crypto/kdfparams/p", cases[i].p);
		uint8_t k[32];
		struct err e = { 0 };
		int rc = keystore_decrypt(k, d3, strlen(d3), "testpassword", &e);

		if (rc != cases[i].code || strncmp(e.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: rc %d msg \"%s\", want %d \"%s\"", i, rc, e.msg,
				 cases[i].code, cases[i].msg);
		free(d1);
		free(d2);
		free(d3);
	}
}

static void test_bad_documents_and_args(void **state)
{
	struct keystore_opts o = { .scrypt_log2_n = 10 };
	uint8_t k[32], zero[32] = { 0 };
	struct buf b;
	struct eth_address a;
	struct err e = { 0 };
	char *longpass;

	(void)state;
	assert_int_equal(keystore_decrypt(k, "{", 1, "x", &e), ERR_INVALID);
	assert_true(strncmp(e.msg, "keystore: bad JSON", 18) == 0);
	assert_int_equal(keystore_decrypt(k, "[]", 2, "x", &e), ERR_INVALID);
	assert_int_equal(keystore_decrypt(k, "{\"version\":3,\"version\":3}", 25, "x", &e), ERR_INVALID);
	assert_int_equal(keystore_decrypt(k, "{}", KEYSTORE_JSON_MAX + 1, "x", &e), ERR_TOO_BIG);
	assert_int_equal(keystore_decrypt(k, vec_pbkdf2, strlen(vec_pbkdf2), NULL, &e), ERR_INVALID);
	longpass = malloc(KEYSTORE_PASS_MAX + 2);
	assert_non_null(longpass);
	memset(longpass, 'a', KEYSTORE_PASS_MAX + 1);
	longpass[KEYSTORE_PASS_MAX + 1] = 0;
	assert_int_equal(keystore_decrypt(k, vec_pbkdf2, strlen(vec_pbkdf2), longpass, &e), ERR_TOO_BIG);

	buf_init(&b, KEYSTORE_JSON_MAX);
	assert_int_equal(keystore_encrypt(&b, zero, "pw", &o, &e), ERR_CRYPTO);
	memset(k, 7, 32);
	assert_int_equal(keystore_encrypt(&b, k, longpass, &o, &e), ERR_TOO_BIG);
	o.scrypt_log2_n = 9;
	assert_int_equal(keystore_encrypt(&b, k, "pw", &o, &e), ERR_RANGE);
	o.scrypt_log2_n = 19;
	assert_int_equal(keystore_encrypt(&b, k, "pw", &o, &e), ERR_RANGE);
	assert_int_equal(b.len, 0); /* nothing appended on failure */
	buf_release(&b);
	free(longpass);

	/* keystore_address: the spec vectors carry none. */
	err_clear(&e);
	assert_int_equal(keystore_address(&a, vec_pbkdf2, strlen(vec_pbkdf2), &e), ERR_NOT_FOUND);
	assert_true(e.msg[0] != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_default_params),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_malformed_fields),
		cmocka_unit_test(test_scrypt_caps),
		cmocka_unit_test(test_bad_documents_and_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
