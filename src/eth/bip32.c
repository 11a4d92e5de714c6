/*
 * bip32.c — BIP-32 private derivation (see bip32.h).
 */
#include "eth/bip32.h"
#include "eth/bip39.h"
#include "eth/secp.h"
#include "core/err.h"

#include <stdio.h>
#include <string.h>

#include <nettle/hmac.h>
#include <sodium.h>

static void hmac512(uint8_t out[64], const uint8_t *key, size_t klen, const uint8_t *data,
		    size_t dlen)
{
	struct hmac_sha512_ctx h;

	hmac_sha512_set_key(&h, klen, key);
	hmac_sha512_update(&h, dlen, data);
	hmac_sha512_digest(&h, SHA512_DIGEST_SIZE, out);
	sodium_memzero(&h, sizeof h);
}

void bip32_key_wipe(struct bip32_key *k)
{
	if (k)
		sodium_memzero(k, sizeof *k);
}

int bip32_master(struct bip32_key *out, const uint8_t *seed, size_t seed_len, struct err *e)
{
	static const uint8_t key[] = "Bitcoin seed";
	uint8_t i[64];
	int rc = 0;

	if (!seed || seed_len < 16 || seed_len > 64)
		return err_set(e, ERR_INVALID, "seed: %zu bytes; expected 16..64", seed_len);
	hmac512(i, key, sizeof key - 1, seed, seed_len);
	if (!secp_seckey_valid(i)) {
		rc = err_set(e, ERR_CRYPTO, "seed: master key is invalid (IL = 0 or >= n)");
	} else {
		memcpy(out->seckey, i, 32);
		memcpy(out->chain_code, i + 32, 32);
		out->depth = 0;
		out->child_number = 0;
	}
	sodium_memzero(i, sizeof i);
	return rc;
}

int bip32_ckd_priv(struct bip32_key *out, const struct bip32_key *parent, uint32_t index,
		   struct err *e)
{
	uint8_t data[37], i[64];
	struct bip32_key child;
	int rc;

	if (parent->depth == 255)
		return err_set(e, ERR_DEPTH, "bip32: depth 255 reached");
	if (index & BIP32_HARDENED) {
		data[0] = 0;
		memcpy(data + 1, parent->seckey, 32);
		rc = 0;
	} else {
		rc = secp_pubkey33(data, parent->seckey, e);
	}
	if (!rc) {
		data[33] = (uint8_t)(index >> 24);
		data[34] = (uint8_t)(index >> 16);
		data[35] = (uint8_t)(index >> 8);
		data[36] = (uint8_t)index;
		hmac512(i, parent->chain_code, 32, data, sizeof data);
		rc = secp_seckey_tweak_add(child.seckey, parent->seckey, i, e);
		if (rc)
			err_wrap(e, "bip32 child %u%s", index & ~BIP32_HARDENED,
				 index & BIP32_HARDENED ? "'" : "");
	}
	if (!rc) {
		memcpy(child.chain_code, i + 32, 32);
		child.depth = (uint8_t)(parent->depth + 1);
		child.child_number = index;
		*out = child;
	}
	sodium_memzero(data, sizeof data);
	sodium_memzero(i, sizeof i);
	sodium_memzero(&child, sizeof child);
	return rc;
}

int bip32_path_parse(uint32_t *indices, size_t cap, size_t *n, const char *path,
		     struct err *e)
{
	uint32_t idx[BIP32_MAX_DEPTH];
	size_t count = 0, plen;
	const char *p;

	if (!path)
		return err_set(e, ERR_INVALID, "path: NULL");
	plen = strnlen(path, BIP32_PATH_MAX + 1);
	if (plen > BIP32_PATH_MAX)
		return err_set(e, ERR_TOO_BIG, "path: longer than %d bytes", BIP32_PATH_MAX);
	if (path[0] != 'm')
		return err_set(e, ERR_INVALID, "path: must start with 'm'");
	p = path + 1;
	while (*p) {
		uint64_t v = 0;
		const char *d;

		if (*p != '/')
			return err_set(e, ERR_INVALID, "path offset %zu: expected '/'",
				       (size_t)(p - path));
		d = ++p;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p - '0');
			if (v >= BIP32_HARDENED)
				return err_set(e, ERR_RANGE, "path offset %zu: index is >= 2^31",
					       (size_t)(d - path));
			p++;
		}
		if (p == d)
			return err_set(e, ERR_INVALID, "path offset %zu: expected a decimal index",
				       (size_t)(d - path));
		if (p - d > 1 && *d == '0')
			return err_set(e, ERR_INVALID, "path offset %zu: leading zero in index",
				       (size_t)(d - path));
		if (*p == '\'' || *p == 'h' || *p == 'H') {
			v |= BIP32_HARDENED;
			p++;
		}
		if (count == BIP32_MAX_DEPTH)
			return err_set(e, ERR_DEPTH, "path: deeper than %d steps", BIP32_MAX_DEPTH);
		idx[count++] = (uint32_t)v;
	}
	if (count > cap)
		return err_set(e, ERR_TOO_BIG, "path: %zu steps, room for %zu", count, cap);
	memcpy(indices, idx, count * sizeof idx[0]);
	*n = count;
	return 0;
}

int bip32_derive_path(struct bip32_key *out, const struct bip32_key *root, const char *path,
		      struct err *e)
{
	uint32_t idx[BIP32_MAX_DEPTH];
	struct bip32_key k = *root;
	size_t n = 0;
	int rc = bip32_path_parse(idx, BIP32_MAX_DEPTH, &n, path, e);

	for (size_t i = 0; !rc && i < n; i++)
		rc = bip32_ckd_priv(&k, &k, idx[i], e);
	if (!rc)
		*out = k;
	bip32_key_wipe(&k);
	return rc;
}

int bip32_eth_key_from_mnemonic(uint8_t seckey32[32], const char *mnemonic,
				const char *passphrase, uint32_t index, struct err *e)
{
	uint8_t seed[64];
	struct bip32_key m, k;
	int rc;

	if (index >= BIP32_HARDENED)
		return err_set(e, ERR_RANGE, "index: %u is >= 2^31", index);
	rc = bip39_mnemonic_to_seed(seed, mnemonic, passphrase, e);
	if (!rc)
		rc = bip32_master(&m, seed, sizeof seed, e);
	if (!rc)
		rc = bip32_derive_path(&k, &m, BIP32_ETH_PATH, e);
	if (!rc)
		rc = bip32_ckd_priv(&k, &k, index, e);
	if (!rc)
		memcpy(seckey32, k.seckey, 32);
	sodium_memzero(seed, sizeof seed);
	bip32_key_wipe(&m);
	bip32_key_wipe(&k);
	return rc;
}
