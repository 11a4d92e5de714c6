/*
 * bip32.h — BIP-32 hierarchical deterministic private keys on secp256k1,
 * and the BIP-44 Ethereum path m/44'/60'/0'/0/i.
 *
 * Only private derivation (CKDpriv) is needed here: the master key from a
 * seed (HMAC-SHA512 keyed "Bitcoin seed"), hardened children
 * (data = 0x00 || k || ser32(i)) and normal children (data = serP(K) ||
 * ser32(i)). Extended-key serialisation (xprv/xpub) is not provided.
 * Paths are "m" followed by up to BIP32_MAX_DEPTH "/index" steps, where an
 * index is a decimal below 2^31, hardened with a trailing ' or h or H.
 * Keys and chain codes are wiped from temporaries; callers wipe their
 * struct bip32_key with bip32_key_wipe.
 */
#ifndef FLOP_ETH_BIP32_H
#define FLOP_ETH_BIP32_H

#include <stddef.h>
#include <stdint.h>

struct err;

#define BIP32_HARDENED 0x80000000u /* index flag for hardened derivation */
#define BIP32_MAX_DEPTH 10         /* steps in a path */
#define BIP32_PATH_MAX 128         /* longest path text */
#define BIP32_ETH_PATH "m/44'/60'/0'/0" /* BIP-44 Ethereum, external chain */

/* An extended private key. */
struct bip32_key {
	uint8_t seckey[32];     /* secret key k, 0 < k < n */
	uint8_t chain_code[32]; /* c */
	uint8_t depth;          /* 0 for the master key */
	uint32_t child_number;  /* index this key was derived with (0 for master) */
};

/* Master key from a 16..64-byte seed. ERR_CRYPTO when IL is not a valid key. */
int bip32_master(struct bip32_key *out, const uint8_t *seed, size_t seed_len, struct err *e);

/*
 * Child `index` of `parent` (hardened when index >= BIP32_HARDENED).
 * ERR_CRYPTO in the ~2^-127 case where the child is invalid (BIP-32 says to
 * use the next index). `out` may alias `parent`.
 */
int bip32_ckd_priv(struct bip32_key *out, const struct bip32_key *parent, uint32_t index,
		   struct err *e);

/*
 * Parses "m/44'/60'/0'/0/7" into indices (hardened ones with
 * BIP32_HARDENED set); `cap` is the room in `indices`. Errors name the
 * offset of the bad step.
 */
int bip32_path_parse(uint32_t *indices, size_t cap, size_t *n, const char *path,
		     struct err *e);

/* Derives `path` from `root` (normally a master key). */
int bip32_derive_path(struct bip32_key *out, const struct bip32_key *root, const char *path,
		      struct err *e);

/*
 * The Ethereum secret key at m/44'/60'/0'/0/<index> for a BIP-39 mnemonic
 * and passphrase (NULL = ""), as MetaMask, anvil and ethers derive it.
 */
int bip32_eth_key_from_mnemonic(uint8_t seckey32[32], const char *mnemonic,
				const char *passphrase, uint32_t index, struct err *e);

/* Wipes a key (NULL allowed). */
void bip32_key_wipe(struct bip32_key *k);

#endif
