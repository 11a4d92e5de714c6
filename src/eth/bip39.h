/*
 * bip39.h — BIP-39 mnemonic sentences (English wordlist) and seeds.
 *
 * mnemonic <-> entropy with the SHA-256 checksum (12, 15, 18, 21 or 24
 * words = 128..256 bits), random generation from libsodium, and the 64-byte
 * seed PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" || passphrase, 2048 rounds).
 *
 * Input mnemonics may separate words by any run of ASCII whitespace and may
 * have leading/trailing whitespace; they are canonicalised to single spaces
 * (as ethers and most wallets do) before the seed is computed. Words must be
 * lowercase English list words. BIP-39 NFKD-normalises both mnemonic and
 * passphrase; this build does not implement NFKD, so non-ASCII input is
 * refused with ERR_UNSUPPORTED rather than silently giving a different seed
 * (ASCII text is already NFKD-normal). Seeds, entropy and copies of the
 * mnemonic are wiped before return.
 * The wordlist is generated at build time (scripts/gen-wordlist).
 */
#ifndef FLOP_ETH_BIP39_H
#define FLOP_ETH_BIP39_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

/* The 2048 English words, sorted (build/gen/bip39_english.c). */
extern const char *const bip39_english[2048];

#define BIP39_MNEMONIC_MAX 220       /* room for 24 words of <= 8 letters + NUL */
#define BIP39_INPUT_MAX 1024         /* longest mnemonic text accepted */
#define BIP39_PASSPHRASE_MAX 256     /* longest passphrase, bytes */
#define BIP39_ENTROPY_MAX 32         /* 256 bits */

/*
 * Decodes a mnemonic into entropy (16..32 bytes) after checking the word
 * count, each word (ERR_INVALID naming the word and its 1-based position)
 * and the checksum (ERR_CHECKSUM). `cap` is the room in `entropy`.
 */
int bip39_mnemonic_to_entropy(uint8_t *entropy, size_t cap, size_t *len,
			      const char *mnemonic, struct err *e);

/*
 * Encodes 16, 20, 24, 28 or 32 bytes of entropy as a mnemonic (single
 * spaces) into `out` with room for `out_cap` bytes (BIP39_MNEMONIC_MAX fits all).
 */
int bip39_entropy_to_mnemonic(char *out, size_t out_cap, const uint8_t *entropy, size_t len,
			      struct err *e);

/* A new random mnemonic of `words` words (12, 15, 18, 21 or 24). */
int bip39_mnemonic_generate(char *out, size_t out_cap, unsigned words, struct err *e);

/* True when the mnemonic decodes with a valid checksum. */
bool bip39_mnemonic_valid(const char *mnemonic);

/*
 * The 64-byte BIP-39 seed of a valid mnemonic and an optional passphrase
 * (NULL = ""). Refuses an invalid mnemonic (as above) and non-ASCII text.
 */
int bip39_mnemonic_to_seed(uint8_t seed64[64], const char *mnemonic, const char *passphrase,
			   struct err *e);

#endif
