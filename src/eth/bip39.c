/*
 * bip39.c — BIP-39 mnemonics and seeds (see bip39.h).
 *
 * Bit layout: ENT bits of entropy followed by CS = ENT/32 bits of
 * SHA-256(entropy), cut into 11-bit big-endian word indices. Words are
 * looked up by binary search in the sorted English list.
 */
#include "eth/bip39.h"
#include "core/err.h"

#include <string.h>

#include <nettle/pbkdf2.h>
#include <nettle/sha2.h>
#include <sodium.h>

#define MAX_WORDS 24
#define WORD_MAX 8 /* longest English word */

/* SHA-256 of data (nettle, one shot). */
static void sha256_digest_of(uint8_t out[32], const uint8_t *data, size_t len)
{
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, len, data);
	sha256_digest(&c, SHA256_DIGEST_SIZE, out);
	sodium_memzero(&c, sizeof c);
}

/* Index of `w` (length n) in the wordlist, or -1. */
static int word_index(const char *w, size_t n)
{
	int lo = 0, hi = 2047;

	if (n == 0 || n > WORD_MAX)
		return -1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strncmp(bip39_english[mid], w, n);
		if (c == 0 && bip39_english[mid][n] != 0)
			c = 1;
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int check_ascii(const char *s, size_t max, const char *what, struct err *e)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return err_set(e, ERR_TOO_BIG, "%s: longer than %zu bytes", what, max);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return err_set(e, ERR_UNSUPPORTED,
				       "%s: non-ASCII text needs NFKD normalisation, which this build "
				       "does not do (English, ASCII only)", what);
	return 0;
}

/*
 * Splits and looks up the words; writes indices and the count. Also writes
 * the canonical single-spaced form to `canon` when not NULL.
 */
static int parse_words(uint16_t idx[MAX_WORDS], size_t *count, char canon[BIP39_MNEMONIC_MAX],
		       const char *m, struct err *e)
{
	size_t n = 0, clen = 0;
	const char *p = m;
	int rc;

	if (!m)
		return err_set(e, ERR_INVALID, "mnemonic: NULL");
	rc = check_ascii(m, BIP39_INPUT_MAX, "mnemonic", e);
	if (rc)
		return rc;
	for (;;) {
		const char *w;
		size_t wl;
		int k;

		while (is_space(*p))
			p++;
		if (!*p)
			break;
		w = p;
		while (*p && !is_space(*p))
			p++;
		wl = (size_t)(p - w);
		if (n == MAX_WORDS)
			return err_set(e, ERR_INVALID,
				       "mnemonic: more than 24 words; expected 12, 15, 18, 21 or 24");
		k = word_index(w, wl);
		if (k < 0)
			return err_set(e, ERR_INVALID,
				       "mnemonic: word %zu '%.*s' is not in the BIP-39 English list",
				       n + 1, (int)(wl > 16 ? 16 : wl), w);
		idx[n++] = (uint16_t)k;
		if (canon) {
			size_t l = strlen(bip39_english[k]);
			if (clen)
				canon[clen++] = ' ';
			memcpy(canon + clen, bip39_english[k], l);
			clen += l;
		}
	}
	if (n < 12 || n % 3)
		return err_set(e, ERR_INVALID,
			       "mnemonic: %zu words; expected 12, 15, 18, 21 or 24", n);
	if (canon)
		canon[clen] = 0;
	*count = n;
	return 0;
}

/* Decodes indices to entropy and checks the checksum. */
static int words_to_entropy(uint8_t ent[BIP39_ENTROPY_MAX + 1], size_t *ent_len,
			    const uint16_t *idx, size_t n, struct err *e)
{
	uint8_t bits[(MAX_WORDS * 11 + 7) / 8] = { 0 };
	uint8_t h[SHA256_DIGEST_SIZE];
	size_t ent_bytes = n * 11 * 32 / 33 / 8, cs_bits = n / 3;
	unsigned cs_got, cs_want;
	int rc = 0;

	for (size_t w = 0; w < n; w++)
		for (unsigned b = 0; b < 11; b++)
			if (idx[w] & (1u << (10 - b))) {
				size_t pos = w * 11 + b;
				bits[pos / 8] |= (uint8_t)(0x80 >> (pos % 8));
			}
	sha256_digest_of(h, bits, ent_bytes);
	cs_got = bits[ent_bytes] >> (8 - cs_bits);
	cs_want = h[0] >> (8 - cs_bits);
	if (cs_got != cs_want)
		rc = err_set(e, ERR_CHECKSUM,
			     "mnemonic: bad checksum (a word is wrong or out of order)");
	else {
		memcpy(ent, bits, ent_bytes);
		*ent_len = ent_bytes;
	}
	sodium_memzero(bits, sizeof bits);
	sodium_memzero(h, sizeof h);
	return rc;
}

int bip39_mnemonic_to_entropy(uint8_t *entropy, size_t cap, size_t *len,
			      const char *mnemonic, struct err *e)
{
	uint16_t idx[MAX_WORDS];
	uint8_t ent[BIP39_ENTROPY_MAX + 1];
	size_t n = 0, el = 0;
	int rc = parse_words(idx, &n, NULL, mnemonic, e);

	if (!rc)
		rc = words_to_entropy(ent, &el, idx, n, e);
	if (!rc && el > cap)
		rc = err_set(e, ERR_TOO_BIG, "entropy: %zu bytes do not fit in %zu", el, cap);
	if (!rc) {
		memcpy(entropy, ent, el);
		*len = el;
	}
	sodium_memzero(idx, sizeof idx);
	sodium_memzero(ent, sizeof ent);
	return rc;
}

bool bip39_mnemonic_valid(const char *mnemonic)
{
	uint8_t ent[BIP39_ENTROPY_MAX];
	size_t len;
	bool ok = bip39_mnemonic_to_entropy(ent, sizeof ent, &len, mnemonic, NULL) == 0;

	sodium_memzero(ent, sizeof ent);
	return ok;
}

int bip39_entropy_to_mnemonic(char *out, size_t out_cap, const uint8_t *entropy, size_t len,
			      struct err *e)
{
	uint8_t bits[BIP39_ENTROPY_MAX + 1];
	uint8_t h[SHA256_DIGEST_SIZE];
	char text[BIP39_MNEMONIC_MAX];
	size_t words, tl = 0;
	int rc = 0;

	if (!entropy || len < 16 || len > 32 || len % 4)
		return err_set(e, ERR_INVALID, "entropy: %zu bytes; expected 16, 20, 24, 28 or 32",
			       len);
	words = len * 8 * 33 / 32 / 11;
	memcpy(bits, entropy, len);
	sha256_digest_of(h, entropy, len);
	bits[len] = h[0]; /* only the top len*8/32 bits are used */
	for (size_t w = 0; w < words; w++) {
		unsigned v = 0;
		const char *word;
		size_t wl;

		for (unsigned b = 0; b < 11; b++) {
			size_t pos = w * 11 + b;
			v = (v << 1) | ((bits[pos / 8] >> (7 - pos % 8)) & 1);
		}
		word = bip39_english[v];
		wl = strlen(word);
		if (tl)
			text[tl++] = ' ';
		memcpy(text + tl, word, wl);
		tl += wl;
	}
	text[tl] = 0;
	if (tl + 1 > out_cap)
		rc = err_set(e, ERR_TOO_BIG, "mnemonic: needs %zu bytes, room for %zu", tl + 1, out_cap);
	else
		memcpy(out, text, tl + 1);
	sodium_memzero(bits, sizeof bits);
	sodium_memzero(h, sizeof h);
	sodium_memzero(text, sizeof text);
	return rc;
}

int bip39_mnemonic_generate(char *out, size_t out_cap, unsigned words, struct err *e)
{
	uint8_t ent[BIP39_ENTROPY_MAX];
	size_t len;
	int rc;

	if (words < 12 || words > 24 || words % 3)
		return err_set(e, ERR_INVALID, "words: %u; expected 12, 15, 18, 21 or 24", words);
	if (sodium_init() < 0)
		return err_set(e, ERR_CRYPTO, "libsodium: init failed");
	len = words / 3 * 4;
	randombytes_buf(ent, len);
	rc = bip39_entropy_to_mnemonic(out, out_cap, ent, len, e);
	sodium_memzero(ent, sizeof ent);
	return rc;
}

int bip39_mnemonic_to_seed(uint8_t seed64[64], const char *mnemonic, const char *passphrase,
			   struct err *e)
{
	uint16_t idx[MAX_WORDS];
	uint8_t ent[BIP39_ENTROPY_MAX + 1], seed[64];
	char canon[BIP39_MNEMONIC_MAX];
	char salt[8 + BIP39_PASSPHRASE_MAX];
	size_t n = 0, el = 0, pl;
	int rc;

	if (!passphrase)
		passphrase = "";
	rc = check_ascii(passphrase, BIP39_PASSPHRASE_MAX, "passphrase", e);
	if (rc)
		return rc;
	pl = strlen(passphrase);
	rc = parse_words(idx, &n, canon, mnemonic, e);
	if (!rc)
		rc = words_to_entropy(ent, &el, idx, n, e);
	if (!rc) {
		memcpy(salt, "mnemonic", 8);
		memcpy(salt + 8, passphrase, pl);
		pbkdf2_hmac_sha512(strlen(canon), (const uint8_t *)canon, 2048, 8 + pl,
				   (const uint8_t *)salt, 64, seed);
		memcpy(seed64, seed, 64);
	}
	sodium_memzero(idx, sizeof idx);
	sodium_memzero(ent, sizeof ent);
	sodium_memzero(canon, sizeof canon);
	sodium_memzero(salt, sizeof salt);
	sodium_memzero(seed, sizeof seed);
	return rc;
}
