/*
 * keystore.c — Web3 Secret Storage v3 read and write (see keystore.h).
 *
 * Decryption order matters: parse and cap-check every field first, derive
 * the key, compare the MAC in constant time, and only then run AES-CTR, so a
 * wrong passphrase or an altered file never yields plaintext.
 */
#include "eth/keystore.h"
#include "eth/keccak.h"
#include "eth/secp.h"
#include "core/err.h"
#include "core/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nettle/aes.h>
#include <nettle/ctr.h>
#include <nettle/pbkdf2.h>
#include <sodium.h>

#define DKLEN 32
#define SALT_MAX 128

/* Everything read from the "crypto" object before any key derivation. */
struct ks_params {
	int scrypt;              /* 1: scrypt, 0: pbkdf2 */
	uint64_t n;              /* scrypt N */
	uint32_t r, p;           /* scrypt r, p */
	uint32_t c;              /* pbkdf2 iterations */
	uint8_t salt[SALT_MAX];  /* KDF salt */
	size_t salt_len;
	uint8_t iv[16];          /* AES-128-CTR initial counter */
	uint8_t ct[32];          /* ciphertext (a 32-byte secret key) */
	uint8_t mac[32];         /* keccak256(DK[16..32] || ct) */
};

static int get_hex(uint8_t *out, size_t min, size_t max, size_t *len, const json_t *obj,
		   const char *key, const char *path, struct err *e)
{
	const json_t *v = json_object_get(obj, key);
	const char *s = json_string_value(v);
	size_t n = 0;

	if (!v)
		return err_set(e, ERR_INVALID, "%s%s: missing", path, key);
	if (!s || strlen(s) != json_string_length(v))
		return err_set(e, ERR_INVALID, "%s%s: expected a hex string", path, key);
	int rc = hex_decode(out, max, &n, s, strlen(s), e);
	if (rc) {
		err_wrap(e, "%s%s", path, key);
		return rc;
	}
	if (!len && n != max)
		return err_set(e, ERR_INVALID, "%s%s: expected %zu bytes, got %zu", path, key, max, n);
	if (n < min)
		return err_set(e, ERR_INVALID, "%s%s: expected at least %zu bytes, got %zu", path, key,
			       min, n);
	if (len)
		*len = n;
	return 0;
}

static int get_uint(uint64_t *out, uint64_t max, const json_t *obj, const char *key,
		    const char *path, struct err *e)
{
	const json_t *v = json_object_get(obj, key);
	json_int_t x;

	if (!v)
		return err_set(e, ERR_INVALID, "%s%s: missing", path, key);
	if (!json_is_integer(v))
		return err_set(e, ERR_INVALID, "%s%s: expected an integer", path, key);
	x = json_integer_value(v);
	if (x < 1)
		return err_set(e, ERR_INVALID, "%s%s: must be positive", path, key);
	if ((uint64_t)x > max)
		return err_set(e, ERR_TOO_BIG, "%s%s: %lld exceeds the cap %llu", path, key,
			       (long long)x, (unsigned long long)max);
	*out = (uint64_t)x;
	return 0;
}

static const char *get_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static int read_params(struct ks_params *kp, const json_t *root, struct err *e)
{
	const json_t *crypto, *kdfp, *cp, *ver;
	const char *cipher, *kdf;
	uint64_t v;
	int rc;

	if (!json_is_object(root))
		return err_set(e, ERR_INVALID, "keystore: expected a JSON object");
	ver = json_object_get(root, "version");
	if (!json_is_integer(ver) || json_integer_value(ver) != 3)
		return err_set(e, ERR_UNSUPPORTED, "version: only version 3 is supported");
	crypto = json_object_get(root, "crypto");
	if (!crypto)
		crypto = json_object_get(root, "Crypto"); /* some old geth files */
	if (!json_is_object(crypto))
		return err_set(e, ERR_INVALID, "crypto: missing or not an object");
	cipher = get_str(crypto, "cipher");
	if (!cipher)
		return err_set(e, ERR_INVALID, "crypto.cipher: missing");
	if (strcmp(cipher, "aes-128-ctr"))
		return err_set(e, ERR_UNSUPPORTED, "crypto.cipher: '%.32s' is not supported (aes-128-ctr only)",
			       cipher);
	cp = json_object_get(crypto, "cipherparams");
	if (!json_is_object(cp))
		return err_set(e, ERR_INVALID, "crypto.cipherparams: missing or not an object");
	if ((rc = get_hex(kp->iv, 16, 16, NULL, cp, "iv", "crypto.cipherparams.", e)) ||
	    (rc = get_hex(kp->ct, 32, 32, NULL, crypto, "ciphertext", "crypto.", e)) ||
	    (rc = get_hex(kp->mac, 32, 32, NULL, crypto, "mac", "crypto.", e)))
		return rc;
	kdf = get_str(crypto, "kdf");
	if (!kdf)
		return err_set(e, ERR_INVALID, "crypto.kdf: missing");
	kdfp = json_object_get(crypto, "kdfparams");
	if (!json_is_object(kdfp))
		return err_set(e, ERR_INVALID, "crypto.kdfparams: missing or not an object");
	if ((rc = get_uint(&v, 1024, kdfp, "dklen", "crypto.kdfparams.", e)))
		return rc;
	if (v != DKLEN)
		return err_set(e, ERR_UNSUPPORTED, "crypto.kdfparams.dklen: must be 32, got %llu",
			       (unsigned long long)v);
	if ((rc = get_hex(kp->salt, 1, SALT_MAX, &kp->salt_len, kdfp, "salt", "crypto.kdfparams.", e)))
		return rc;
	if (!strcmp(kdf, "scrypt")) {
		uint64_t n, r, p;
		kp->scrypt = 1;
		if ((rc = get_uint(&n, (uint64_t)1 << 32, kdfp, "n", "crypto.kdfparams.", e)) ||
		    (rc = get_uint(&r, 1024, kdfp, "r", "crypto.kdfparams.", e)) ||
		    (rc = get_uint(&p, 1024, kdfp, "p", "crypto.kdfparams.", e)))
			return rc;
		if (n < 2 || (n & (n - 1)))
			return err_set(e, ERR_INVALID, "crypto.kdfparams.n: must be a power of two >= 2");
		if (128 * n * r > KEYSTORE_SCRYPT_MEM_MAX)
			return err_set(e, ERR_TOO_BIG,
				       "crypto.kdfparams: scrypt n*r needs %llu MiB, cap is %llu MiB",
				       (unsigned long long)(128 * n * r >> 20),
				       (unsigned long long)(KEYSTORE_SCRYPT_MEM_MAX >> 20));
		if (n * r * p > KEYSTORE_SCRYPT_WORK_MAX)
			return err_set(e, ERR_TOO_BIG, "crypto.kdfparams: scrypt n*r*p = %llu exceeds %llu",
				       (unsigned long long)(n * r * p),
				       (unsigned long long)KEYSTORE_SCRYPT_WORK_MAX);
		kp->n = n;
		kp->r = (uint32_t)r;
		kp->p = (uint32_t)p;
	} else if (!strcmp(kdf, "pbkdf2")) {
		const char *prf = get_str(kdfp, "prf");
		uint64_t c;
		kp->scrypt = 0;
		if (!prf || strcmp(prf, "hmac-sha256"))
			return err_set(e, ERR_UNSUPPORTED, "crypto.kdfparams.prf: must be hmac-sha256");
		if ((rc = get_uint(&c, KEYSTORE_PBKDF2_C_MAX, kdfp, "c", "crypto.kdfparams.", e)))
			return rc;
		kp->c = (uint32_t)c;
	} else {
		return err_set(e, ERR_UNSUPPORTED, "crypto.kdf: '%.32s' is not supported (scrypt, pbkdf2)",
			       kdf);
	}
	return 0;
}

static int derive(uint8_t dk[DKLEN], const struct ks_params *kp, const char *pass, size_t plen,
		  struct err *e)
{
	if (kp->scrypt) {
		if (crypto_pwhash_scryptsalsa208sha256_ll((const uint8_t *)pass, plen, kp->salt,
							  kp->salt_len, kp->n, kp->r, kp->p, dk,
							  DKLEN) != 0)
			return err_set(e, ERR_NOMEM, "scrypt: failed (out of memory?)");
		return 0;
	}
	pbkdf2_hmac_sha256(plen, (const uint8_t *)pass, kp->c, kp->salt_len, kp->salt, DKLEN, dk);
	return 0;
}

static void mac_of(uint8_t out[32], const uint8_t dk[DKLEN], const uint8_t ct[32])
{
	struct keccak256_ctx k;

	keccak256_init(&k);
	keccak256_update(&k, dk + 16, 16);
	keccak256_update(&k, ct, 32);
	keccak256_final(out, &k);
	sodium_memzero(&k, sizeof k);
}

/* AES-128-CTR with key dk[0..16]; encrypt and decrypt are the same. */
static void aes_ctr(uint8_t out[32], const uint8_t dk[DKLEN], const uint8_t iv[16],
		    const uint8_t in[32])
{
	struct aes128_ctx aes;
	uint8_t ctr[16];

	memcpy(ctr, iv, 16);
	aes128_set_encrypt_key(&aes, dk);
	ctr_crypt(&aes, (nettle_cipher_func *)aes128_encrypt, AES_BLOCK_SIZE, ctr, 32, out, in);
	sodium_memzero(&aes, sizeof aes);
	sodium_memzero(ctr, sizeof ctr);
}

static int check_pass(const char *pass, size_t *len, struct err *e)
{
	if (!pass)
		return err_set(e, ERR_INVALID, "passphrase: NULL");
	*len = strnlen(pass, KEYSTORE_PASS_MAX + 1);
	if (*len > KEYSTORE_PASS_MAX)
		return err_set(e, ERR_TOO_BIG, "passphrase: longer than %d bytes", KEYSTORE_PASS_MAX);
	return 0;
}

/* Parses the JSON text; on failure returns NULL with *rc set. */
static json_t *load(const char *json, size_t len, int *rc, struct err *e)
{
	json_error_t jerr;
	json_t *root;

	if (!json) {
		*rc = err_set(e, ERR_INVALID, "keystore: NULL");
		return NULL;
	}
	if (len > KEYSTORE_JSON_MAX) {
		*rc = err_set(e, ERR_TOO_BIG, "keystore: %zu bytes exceeds the %zu-byte cap", len,
			      KEYSTORE_JSON_MAX);
		return NULL;
	}
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		*rc = err_set(e, ERR_INVALID, "keystore: bad JSON at line %d column %d: %s",
			      jerr.line, jerr.column, jerr.text);
	return root;
}

static int read_address(struct eth_address *out, const json_t *root, struct err *e)
{
	const json_t *v = json_object_get(root, "address");
	const char *s = json_string_value(v);
	char full[ADDRESS_STR_MAX + 2];

	if (!v)
		return err_set(e, ERR_NOT_FOUND, "address: missing");
	if (!s || strlen(s) > 42)
		return err_set(e, ERR_INVALID, "address: expected 40 hex digits");
	snprintf(full, sizeof full, "%s%s", hex_has_prefix(s) ? "" : "0x", s);
	int rc = address_parse(out, full, e);
	if (rc)
		err_wrap(e, "address");
	return rc;
}

int keystore_address(struct eth_address *out, const char *json, size_t len, struct err *e)
{
	int rc;
	json_t *root = load(json, len, &rc, e);

	if (!root)
		return rc;
	rc = json_is_object(root) ? read_address(out, root, e)
				  : err_set(e, ERR_INVALID, "keystore: expected a JSON object");
	json_decref(root);
	return rc;
}

int keystore_decrypt(uint8_t seckey32[32], const char *json, size_t len,
		     const char *passphrase, struct err *e)
{
	struct ks_params kp;
	uint8_t dk[DKLEN], mac[32], key[32];
	struct eth_address want, got;
	size_t plen;
	json_t *root;
	int rc, has_addr;

	rc = check_pass(passphrase, &plen, e);
	if (rc)
		return rc;
	root = load(json, len, &rc, e);
	if (!root)
		return rc;
	rc = read_params(&kp, root, e);
	has_addr = 0;
	if (!rc && json_object_get(root, "address")) {
		rc = read_address(&want, root, e);
		has_addr = 1;
	}
	json_decref(root);
	if (rc)
		goto out;
	rc = derive(dk, &kp, passphrase, plen, e);
	if (rc)
		goto out;
	mac_of(mac, dk, kp.ct);
	if (sodium_memcmp(mac, kp.mac, 32) != 0) {
		rc = err_set(e, ERR_AUTH, "wrong passphrase (or the file was altered: MAC mismatch)");
		goto out;
	}
	aes_ctr(key, dk, kp.iv, kp.ct);
	if (!secp_seckey_valid(key)) {
		rc = err_set(e, ERR_CRYPTO, "crypto.ciphertext: decrypts to an invalid secret key");
		goto out;
	}
	if (has_addr) {
		rc = secp_address(&got, key, e);
		if (!rc && !address_equal(&got, &want))
			rc = err_set(e, ERR_INVALID, "address: does not match the decrypted key");
		if (rc)
			goto out;
	}
	memcpy(seckey32, key, 32);
out:
	sodium_memzero(dk, sizeof dk);
	sodium_memzero(key, sizeof key);
	sodium_memzero(&kp, sizeof kp);
	return rc;
}

int keystore_encrypt(struct buf *out, const uint8_t seckey32[32], const char *passphrase,
		     const struct keystore_opts *opts, struct err *e)
{
	struct ks_params kp = { .scrypt = 1, .r = 8, .p = 1, .salt_len = 32 };
	unsigned log2n = opts && opts->scrypt_log2_n ? opts->scrypt_log2_n
						      : KEYSTORE_SCRYPT_LOG2N_DEFAULT;
	uint8_t dk[DKLEN], uuid[16];
	struct eth_address addr;
	char addr_hex[41], salt_hex[65], iv_hex[33], ct_hex[65], mac_hex[65], id[37];
	char *text = NULL;
	json_t *root;
	size_t plen;
	int rc;

	if (log2n < 10 || log2n > KEYSTORE_SCRYPT_LOG2N_DEFAULT)
		return err_set(e, ERR_RANGE, "opts.scrypt_log2_n: must be 10..%d, got %u",
			       KEYSTORE_SCRYPT_LOG2N_DEFAULT, log2n);
	rc = check_pass(passphrase, &plen, e);
	if (rc)
		return rc;
	rc = secp_address(&addr, seckey32, e); /* also initialises libsodium */
	if (rc)
		return rc;
	kp.n = (uint64_t)1 << log2n;
	randombytes_buf(kp.salt, 32);
	randombytes_buf(kp.iv, 16);
	randombytes_buf(uuid, 16);
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40); /* version 4 */
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	rc = derive(dk, &kp, passphrase, plen, e);
	if (rc)
		goto out;
	aes_ctr(kp.ct, dk, kp.iv, seckey32);
	mac_of(kp.mac, dk, kp.ct);
	hex_encode(addr_hex, addr.b, 20);
	hex_encode(salt_hex, kp.salt, 32);
	hex_encode(iv_hex, kp.iv, 16);
	hex_encode(ct_hex, kp.ct, 32);
	hex_encode(mac_hex, kp.mac, 32);
	snprintf(id, sizeof id,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7], uuid[8],
		 uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
	root = json_pack("{s:s, s:{s:s, s:{s:s}, s:s, s:s, s:{s:i, s:I, s:i, s:i, s:s}, s:s}, s:s, s:i}",
			 "address", addr_hex,
			 "crypto",
			 "cipher", "aes-128-ctr",
			 "cipherparams", "iv", iv_hex,
			 "ciphertext", ct_hex,
			 "kdf", "scrypt",
			 "kdfparams", "dklen", DKLEN, "n", (json_int_t)kp.n, "p", (int)kp.p,
			 "r", (int)kp.r, "salt", salt_hex,
			 "mac", mac_hex,
			 "id", id,
			 "version", 3);
	if (root) {
		text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(root);
	}
	if (!text) {
		rc = err_set(e, ERR_NOMEM, "keystore: out of memory");
		goto out;
	}
	rc = buf_append_str(out, text);
	if (rc)
		err_set(e, rc, "keystore: output buffer: %s", err_str(rc));
	free(text);
out:
	sodium_memzero(dk, sizeof dk);
	sodium_memzero(&kp, sizeof kp);
	return rc;
}
