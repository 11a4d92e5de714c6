/*
 * eip191.c — personal_sign hashing, signing and verification (see eip191.h).
 */
#include "eth/eip191.h"
#include "eth/keccak.h"
#include "eth/secp.h"
#include "core/err.h"

#include <stdio.h>
#include <string.h>

static const char eip191_prefix[] = "\x19" "Ethereum Signed Message:\n";

int eip191_hash(uint8_t digest32[32], const uint8_t *msg, size_t len, struct err *e)
{
	struct keccak256_ctx k;
	char num[24];
	int n;

	if (len > EIP191_MSG_MAX)
		return err_set(e, ERR_TOO_BIG, "message: %zu bytes exceeds the %zu-byte cap",
			       len, EIP191_MSG_MAX);
	if (len && !msg)
		return err_set(e, ERR_INVALID, "message: NULL with non-zero length");
	n = snprintf(num, sizeof num, "%zu", len);
	keccak256_init(&k);
	keccak256_update(&k, (const uint8_t *)eip191_prefix, sizeof eip191_prefix - 1);
	keccak256_update(&k, (const uint8_t *)num, (size_t)n);
	if (len)
		keccak256_update(&k, msg, len);
	keccak256_final(digest32, &k);
	return 0;
}

int eip191_sign(uint8_t sig65[65], const uint8_t *msg, size_t len,
		const uint8_t seckey32[32], struct err *e)
{
	uint8_t digest[32], sig[65];
	int rc = eip191_hash(digest, msg, len, e);

	if (rc)
		return rc;
	rc = secp_sign(sig, digest, seckey32, e);
	if (rc)
		return rc;
	sig[64] += 27;
	memcpy(sig65, sig, 65);
	return 0;
}

int eip191_recover(struct eth_address *signer, const uint8_t *msg, size_t len,
		   const uint8_t sig65[65], struct err *e)
{
	uint8_t digest[32];
	int rc = eip191_hash(digest, msg, len, e);

	if (rc)
		return rc;
	return secp_recover_address(signer, digest, sig65, e);
}

int eip191_verify(const struct eth_address *expected, const uint8_t *msg, size_t len,
		  const uint8_t sig65[65], struct err *e)
{
	struct eth_address got;
	char want_s[ADDRESS_STR_MAX], got_s[ADDRESS_STR_MAX];
	int rc = eip191_recover(&got, msg, len, sig65, e);

	if (rc)
		return rc;
	if (!address_equal(&got, expected)) {
		address_to_checksum(want_s, expected);
		address_to_checksum(got_s, &got);
		return err_set(e, ERR_AUTH, "signature is by %s, not %s", got_s, want_s);
	}
	return 0;
}
