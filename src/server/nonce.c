/*
 * nonce.c — stateless SIWE nonces (issue 8.15: GET /auth/nonce stored a row per unauthenticated call).
 *
 * A nonce is hex(expires_at as 8 hex digits || 8 random bytes || the first 16 bytes of
 * HMAC-SHA-512-256(key, those 12 bytes)): 56 characters of [0-9a-f], a valid EIP-4361 nonce. Issuing
 * one stores nothing; a sign-in checks the MAC and the expiry, and only then records the nonce as used
 * (store_nonce_issue on a successful sign-in, so a replay is refused: ERR_CONFLICT). The key is random
 * per server process: a restart invalidates outstanding nonces (they live nonce_ttl_s, 5 minutes by
 * default), which costs a client one retry.
 */
#include "server/server.h"

#include <sodium.h>
#include <string.h>

#include "core/err.h"
#include "core/hex.h"

#define BODY_BYTES 12 /* expires_at (4) + random (8) */
#define MAC_BYTES 16

static void mac_of(uint8_t out[MAC_BYTES], const uint8_t body[BODY_BYTES], const uint8_t key[32])
{
	uint8_t full[crypto_auth_BYTES];

	crypto_auth(full, body, BODY_BYTES, key);
	memcpy(out, full, MAC_BYTES);
}

int srv_nonce_make(char out[SRV_NONCE_LEN + 1], const uint8_t key32[32], int64_t expires_at)
{
	uint8_t raw[BODY_BYTES + MAC_BYTES];
	uint32_t exp;

	if (expires_at <= 0 || expires_at > (int64_t)UINT32_MAX)
		return ERR_RANGE;
	exp = (uint32_t)expires_at;
	raw[0] = (uint8_t)(exp >> 24);
	raw[1] = (uint8_t)(exp >> 16);
	raw[2] = (uint8_t)(exp >> 8);
	raw[3] = (uint8_t)exp;
	randombytes_buf(raw + 4, 8);
	mac_of(raw + BODY_BYTES, raw, key32);
	hex_encode(out, raw, sizeof raw);
	return 0;
}

int srv_nonce_check(int64_t *expires_at, const char *nonce, const uint8_t key32[32], int64_t now)
{
	uint8_t raw[BODY_BYTES + MAC_BYTES], want[MAC_BYTES];
	int64_t exp;

	if (!nonce || strlen(nonce) != SRV_NONCE_LEN || hex_decode_exact(raw, sizeof raw, nonce, NULL))
		return ERR_INVALID;
	mac_of(want, raw, key32);
	if (sodium_memcmp(want, raw + BODY_BYTES, MAC_BYTES) != 0)
		return ERR_AUTH;
	exp = (int64_t)((uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3]);
	if (now >= exp)
		return ERR_STATE;
	*expires_at = exp;
	return 0;
}
