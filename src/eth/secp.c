/*
 * secp.c — secp256k1 keys and recoverable ECDSA over libsecp256k1 (see secp.h).
 *
 * One context serves the whole process: created and randomized once under
 * pthread_once (libsecp256k1 contexts are safe to share read-only across
 * threads once randomized). Signing uses the library's RFC 6979 nonces and
 * always yields low-s; recovery refuses high-s (EIP-2) so a signature has one
 * accepted form. Copies of secret keys and nonce material are wiped with
 * sodium_memzero before every return.
 */
#include "eth/secp.h"
#include "core/err.h"

#include <pthread.h>
#include <string.h>

#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>

static pthread_once_t secp_once = PTHREAD_ONCE_INIT;
static secp256k1_context *secp_ctx_ptr; /* NULL when setup failed */

/* n / 2 for secp256k1, big-endian: the largest low-s value (EIP-2). */
static const uint8_t half_order[32] = {
	0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d,
	0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
};

static void secp_setup(void)
{
	uint8_t seed[32];
	secp256k1_context *ctx;

	if (sodium_init() < 0)
		return;
	ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
	if (!ctx)
		return;
	randombytes_buf(seed, sizeof seed);
	if (!secp256k1_context_randomize(ctx, seed)) {
		sodium_memzero(seed, sizeof seed);
		secp256k1_context_destroy(ctx);
		return;
	}
	sodium_memzero(seed, sizeof seed);
	secp_ctx_ptr = ctx;
}

/* The shared context, or NULL (with `e` set) when it could not be made. */
static const secp256k1_context *secp_ctx(struct err *e)
{
	pthread_once(&secp_once, secp_setup);
	if (!secp_ctx_ptr)
		err_set(e, ERR_CRYPTO, "secp256k1: context setup failed");
	return secp_ctx_ptr;
}

bool secp_seckey_valid(const uint8_t seckey32[32])
{
	const secp256k1_context *ctx = secp_ctx(NULL);

	return ctx && secp256k1_ec_seckey_verify(ctx, seckey32) == 1;
}

int secp_seckey_generate(uint8_t seckey32[32], struct err *e)
{
	uint8_t k[32];

	if (!secp_ctx(e))
		return ERR_CRYPTO;
	/* A random 32-byte string is invalid with probability ~2^-128. */
	for (int tries = 0; tries < 16; tries++) {
		randombytes_buf(k, sizeof k);
		if (secp_seckey_valid(k)) {
			memcpy(seckey32, k, 32);
			sodium_memzero(k, sizeof k);
			return 0;
		}
	}
	sodium_memzero(k, sizeof k);
	return err_set(e, ERR_CRYPTO, "secp256k1: no valid random key (broken RNG?)");
}

static int pubkey_of(secp256k1_pubkey *pk, const uint8_t seckey32[32], struct err *e)
{
	const secp256k1_context *ctx = secp_ctx(e);

	if (!ctx)
		return ERR_CRYPTO;
	if (!secp256k1_ec_pubkey_create(ctx, pk, seckey32))
		return err_set(e, ERR_CRYPTO, "secp256k1: invalid secret key (0 or >= n)");
	return 0;
}

int secp_pubkey64(uint8_t pub64[64], const uint8_t seckey32[32], struct err *e)
{
	secp256k1_pubkey pk;
	uint8_t ser[65];
	size_t len = sizeof ser;
	int rc = pubkey_of(&pk, seckey32, e);

	if (rc)
		return rc;
	secp256k1_ec_pubkey_serialize(secp_ctx_ptr, ser, &len, &pk, SECP256K1_EC_UNCOMPRESSED);
	memcpy(pub64, ser + 1, 64);
	return 0;
}

int secp_pubkey33(uint8_t pub33[33], const uint8_t seckey32[32], struct err *e)
{
	secp256k1_pubkey pk;
	uint8_t ser[33];
	size_t len = sizeof ser;
	int rc = pubkey_of(&pk, seckey32, e);

	if (rc)
		return rc;
	secp256k1_ec_pubkey_serialize(secp_ctx_ptr, ser, &len, &pk, SECP256K1_EC_COMPRESSED);
	memcpy(pub33, ser, 33);
	return 0;
}

int secp_address(struct eth_address *out, const uint8_t seckey32[32], struct err *e)
{
	uint8_t pub[64];
	int rc = secp_pubkey64(pub, seckey32, e);

	if (rc)
		return rc;
	address_from_pubkey64(out, pub);
	return 0;
}

int secp_seckey_tweak_add(uint8_t out32[32], const uint8_t seckey32[32],
			  const uint8_t tweak32[32], struct err *e)
{
	const secp256k1_context *ctx = secp_ctx(e);
	uint8_t k[32];

	if (!ctx)
		return ERR_CRYPTO;
	memcpy(k, seckey32, 32);
	if (!secp256k1_ec_seckey_verify(ctx, k) || !secp256k1_ec_seckey_tweak_add(ctx, k, tweak32)) {
		sodium_memzero(k, sizeof k);
		return err_set(e, ERR_CRYPTO, "secp256k1: tweak >= n or sum is zero (invalid child key)");
	}
	memcpy(out32, k, 32);
	sodium_memzero(k, sizeof k);
	return 0;
}

int secp_sign(uint8_t sig65[65], const uint8_t digest32[32],
	      const uint8_t seckey32[32], struct err *e)
{
	const secp256k1_context *ctx = secp_ctx(e);
	secp256k1_ecdsa_recoverable_signature sig;
	uint8_t out[65];
	int recid = 0;

	if (!ctx)
		return ERR_CRYPTO;
	/* NULL nonce function = RFC 6979; libsecp256k1 always emits low-s. */
	if (!secp256k1_ecdsa_sign_recoverable(ctx, &sig, digest32, seckey32, NULL, NULL)) {
		sodium_memzero(&sig, sizeof sig);
		return err_set(e, ERR_CRYPTO, "secp256k1: invalid secret key (0 or >= n)");
	}
	secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, out, &recid, &sig);
	sodium_memzero(&sig, sizeof sig);
	if (recid < 0 || recid > 1 || memcmp(out + 32, half_order, 32) > 0) {
		/* r overflowed n (probability ~2^-127) or a library bug. */
		return err_set(e, ERR_CRYPTO, "secp256k1: unusable signature (recid %d)", recid);
	}
	out[64] = (uint8_t)recid;
	memcpy(sig65, out, 65);
	return 0;
}

int secp_recover_pubkey64(uint8_t pub64[64], const uint8_t digest32[32],
			  const uint8_t sig65[65], struct err *e)
{
	const secp256k1_context *ctx = secp_ctx(e);
	secp256k1_ecdsa_recoverable_signature sig;
	secp256k1_pubkey pk;
	uint8_t ser[65];
	size_t len = sizeof ser;
	int v = sig65[64];

	if (!ctx)
		return ERR_CRYPTO;
	if (v == 27 || v == 28)
		v -= 27;
	if (v != 0 && v != 1)
		return err_set(e, ERR_INVALID, "signature: v must be 0, 1, 27 or 28, got %d",
			       sig65[64]);
	if (memcmp(sig65 + 32, half_order, 32) > 0)
		return err_set(e, ERR_NONCANONICAL, "signature: s is in the upper half (EIP-2 forbids high-s)");
	if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &sig, sig65, v))
		return err_set(e, ERR_AUTH, "signature: r or s out of range");
	if (!secp256k1_ecdsa_recover(ctx, &pk, &sig, digest32))
		return err_set(e, ERR_AUTH, "signature: does not recover to a public key");
	secp256k1_ec_pubkey_serialize(ctx, ser, &len, &pk, SECP256K1_EC_UNCOMPRESSED);
	memcpy(pub64, ser + 1, 64);
	return 0;
}

int secp_recover_address(struct eth_address *out, const uint8_t digest32[32],
			 const uint8_t sig65[65], struct err *e)
{
	uint8_t pub[64];
	int rc = secp_recover_pubkey64(pub, digest32, sig65, e);

	if (rc)
		return rc;
	address_from_pubkey64(out, pub);
	return 0;
}
