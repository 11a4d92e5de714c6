/*
 * keystore.h — Web3 Secret Storage Definition, version 3 (the "keystore"
 * JSON files of geth, MetaMask exports, ethers, foundry cast wallet).
 *
 * Reading accepts kdf "scrypt" (libsodium's raw scrypt) or "pbkdf2" with
 * prf "hmac-sha256" (nettle), cipher "aes-128-ctr" (nettle), and checks
 * MAC = keccak256(DK[16..32] || ciphertext) in constant time before
 * decrypting anything; a mismatch is ERR_AUTH "wrong passphrase". KDF
 * parameters are capped so a hostile file cannot make us allocate gigabytes
 * or spin for minutes: scrypt 128*r*n <= KEYSTORE_SCRYPT_MEM_MAX and
 * n*r*p <= KEYSTORE_SCRYPT_WORK_MAX, pbkdf2 c <= KEYSTORE_PBKDF2_C_MAX,
 * dklen exactly 32 — enough for geth's "standard" and "light" settings and
 * for the spec's test vectors. Errors name the JSON field
 * ("crypto.kdfparams.n: must be a power of two").
 *
 * Writing uses scrypt n = 2^18, r = 8, p = 1 (geth's standard) unless
 * opts lowers n (tests), a random 32-byte salt and 16-byte IV from
 * libsodium, a random UUID v4 id and the address in lowercase hex without 0x.
 * This file does no file I/O: callers read and write the JSON text.
 * Derived keys and plaintext are wiped before return.
 */
#ifndef FLOP_ETH_KEYSTORE_H
#define FLOP_ETH_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "eth/address.h"
#include "core/buf.h"

struct err;

#define KEYSTORE_JSON_MAX ((size_t)64 << 10)         /* largest file read: 64 KiB */
#define KEYSTORE_PASS_MAX 1024                       /* longest passphrase, bytes */
#define KEYSTORE_SCRYPT_MEM_MAX ((uint64_t)256 << 20) /* 128*r*n: 256 MiB */
#define KEYSTORE_SCRYPT_WORK_MAX ((uint64_t)1 << 22)  /* n*r*p */
#define KEYSTORE_PBKDF2_C_MAX 10000000u              /* pbkdf2 iterations */
#define KEYSTORE_SCRYPT_LOG2N_DEFAULT 18             /* n = 262144 */

/* Options for keystore_encrypt; NULL means all defaults. */
struct keystore_opts {
	unsigned scrypt_log2_n; /* scrypt n = 2^this, 10..18; 0 = default (18) */
};

/*
 * Encrypts `seckey32` under `passphrase` (NUL-terminated, at most
 * KEYSTORE_PASS_MAX bytes) and appends the v3 JSON text to `out`.
 * ERR_CRYPTO for an invalid key, ERR_RANGE for a bad option.
 */
int keystore_encrypt(struct buf *out, const uint8_t seckey32[32], const char *passphrase,
		     const struct keystore_opts *opts, struct err *e);

/*
 * Decrypts the v3 JSON text json[0..len) with `passphrase` into seckey32.
 * ERR_AUTH "wrong passphrase" on a MAC mismatch; ERR_INVALID / ERR_TOO_BIG /
 * ERR_UNSUPPORTED naming the field for a malformed or over-cap file. When the
 * file has an "address", it must match the decrypted key.
 */
int keystore_decrypt(uint8_t seckey32[32], const char *json, size_t len,
		     const char *passphrase, struct err *e);

/* Reads the "address" field without decrypting; ERR_NOT_FOUND when absent. */
int keystore_address(struct eth_address *out, const char *json, size_t len, struct err *e);

#endif
