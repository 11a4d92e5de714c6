/*
 * siwe.h — Sign-In With Ethereum (EIP-4361) messages: parse, verify, and the
 * random values a server hands out around them (nonces, session tokens).
 *
 * Parsing follows the EIP's ABNF exactly, line by line, plus the optional
 * `scheme "://"` prefix of the current EIP text (emitted by the npm `siwe`
 * package):
 *
 *   [scheme://]domain wants you to sign in with your Ethereum account:\n
 *   address\n
 *   \n
 *   [statement\n]
 *   \n
 *   URI: uri\nVersion: 1\nChain ID: n\nNonce: nonce\nIssued At: date-time
 *   [\nExpiration Time: date-time][\nNot Before: date-time]
 *   [\nRequest ID: *pchar][\nResources:(\n- URI)*]
 *
 * No CR, no trailing newline, no reordering, no unknown lines. The address
 * must be EIP-55 checksummed (all-lowercase is refused, as the `siwe` package
 * does). Timestamps are RFC 3339 date-time (fraction kept to milliseconds,
 * offsets applied). The nonce is at least 8 ASCII letters/digits. Every field
 * has a cap (SIWE_*_MAX) and so does the whole message; a rejected message
 * names the field that failed, both in the err message ("siwe: nonce: ...")
 * and through the `field` out-parameter (a static string such as "nonce").
 *
 * Verification (siwe_verify) is a pure function: the clock is passed in.
 * It checks the ABNF, the expected domain (case-insensitive, exact including
 * port), the URI's origin (scheme://authority of the message URI must equal
 * the expected origin, case-insensitively; the path is not constrained), the
 * chain id, version "1", the nonce when one is given, issued-at not later
 * than now + skew (and optionally not older than max_age), expiration and
 * not-before, and finally that the EIP-191 signer of the exact message bytes
 * is the message's address. EIP-1271 (contract wallet) signatures are not
 * supported: that needs chain access and belongs to the caller.
 *
 * Nonce single use and session storage are the server's job; this file only
 * makes the random values: siwe_nonce_new and session_token_new.
 */
#ifndef FLOP_MARKET_SIWE_H
#define FLOP_MARKET_SIWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eth/address.h"

struct err;

#define SIWE_MSG_MAX 8192         /* whole message, bytes */
#define SIWE_SCHEME_MAX 32        /* optional scheme before "://" */
#define SIWE_DOMAIN_MAX 255       /* RFC 3986 authority */
#define SIWE_STATEMENT_MAX 1024
#define SIWE_URI_MAX 512          /* the URI and each resource */
#define SIWE_NONCE_MIN 8
#define SIWE_NONCE_MAX 128
#define SIWE_REQUEST_ID_MAX 256
#define SIWE_RESOURCES_MAX 16
#define SIWE_TIME_MAX 64          /* RFC 3339 text */
#define SIWE_CHAIN_ID_DIGITS_MAX 20

#define SIWE_NONCE_LEN 24               /* characters siwe_nonce_new writes */
#define SESSION_TOKEN_LEN 43            /* base64url of 32 bytes, no padding */
#define SIWE_SKEW_DEFAULT_MS 60000      /* clock skew used when expect->skew_ms is 0 */

/* A parsed message. Strings are NUL-terminated copies; times are Unix ms. */
struct siwe_msg {
	char scheme[SIWE_SCHEME_MAX + 1];       /* "" when absent */
	char domain[SIWE_DOMAIN_MAX + 1];       /* RFC 3986 authority */
	struct eth_address address;             /* the account signing in */
	bool has_statement;                     /* a statement line was present */
	char statement[SIWE_STATEMENT_MAX + 1]; /* "" when absent */
	char uri[SIWE_URI_MAX + 1];             /* subject of the signing */
	char version[2];                        /* always "1" */
	uint64_t chain_id;                      /* EIP-155 chain id */
	char nonce[SIWE_NONCE_MAX + 1];         /* replay protection token */
	int64_t issued_at_ms;                   /* Issued At */
	bool has_expiration;
	int64_t expiration_ms;                  /* Expiration Time, if has_expiration */
	bool has_not_before;
	int64_t not_before_ms;                  /* Not Before, if has_not_before */
	bool has_request_id;
	char request_id[SIWE_REQUEST_ID_MAX + 1];
	bool has_resources;                     /* a "Resources:" line was present */
	uint32_t nresources;                    /* entries used in resources[] */
	char resources[SIWE_RESOURCES_MAX][SIWE_URI_MAX + 1];
};

/* What the relying party expects; see the file comment for each check. */
struct siwe_expect {
	const char *domain;     /* required: expected authority, e.g. "market.example:8080" */
	const char *origin;     /* NULL: URI not checked; else "https://market.example" */
	uint64_t chain_id;      /* required chain id */
	const char *nonce;      /* NULL: not checked here (the server looks it up) */
	int64_t now_ms;         /* current time, Unix ms */
	int64_t skew_ms;        /* allowed clock skew; 0 means SIWE_SKEW_DEFAULT_MS */
	int64_t max_age_ms;     /* 0: no limit; else issued-at must be within it */
};

/*
 * Parses `len` bytes of `text` into *out (written only on success).
 * ERR_INVALID / ERR_TOO_BIG / ERR_CHECKSUM / ERR_RANGE with a message naming
 * the field; *field (optional) gets the field's name on failure.
 */
int siwe_parse(struct siwe_msg *out, const char *text, size_t len, const char **field,
	       struct err *e);

/*
 * Parses `text` and checks it against `x` and the signature `sig65`
 * (r || s || v, v 0/1 or 27/28) over exactly these bytes. On success *out
 * (optional) holds the parsed message. Failures: the parse errors, ERR_AUTH
 * (wrong domain, origin, chain, nonce, signer), ERR_STATE (expired, not yet
 * valid, issued in the future or too long ago), ERR_INVALID for a malformed
 * signature. *field names the field at fault ("signature" for the signer).
 */
int siwe_verify(struct siwe_msg *out, const char *text, size_t len, const uint8_t sig65[65],
		const struct siwe_expect *x, const char **field, struct err *e);

/*
 * Writes the EIP-4361 text of `m` (the inverse of siwe_parse: fields in the ABNF's order, the address
 * EIP-55 checksummed, times as RFC 3339 UTC "2024-05-01T12:00:00Z", with ".mmm" when not whole seconds)
 * into out (NUL-terminated, at most cap bytes). ERR_TOO_BIG when it does not fit, ERR_INVALID for a
 * message siwe_parse would refuse (empty domain, URI or nonce). The one place a SIWE message is built.
 */
int siwe_format(char *out, size_t cap, const struct siwe_msg *m, struct err *e);

/* What a client signs to sign in to the marketplace (from GET /auth/nonce's answer): a message with the
 * server's domain, URI, chain id and nonce, `statement`, issued now, expiring at expires_ms (0: none). */
struct siwe_sign_in {
	const char *domain, *uri, *nonce, *statement;
	uint64_t chain_id;
	struct eth_address address;
	int64_t issued_ms, expires_ms;
};
int siwe_sign_in_format(char *out, size_t cap, const struct siwe_sign_in *in, struct err *e);

/*
 * Parses an RFC 3339 date-time ("2024-05-01T12:00:00.123+02:00") into Unix
 * milliseconds (fraction truncated to ms). ERR_INVALID naming the problem.
 */
int siwe_time_parse(int64_t *out_ms, const char *s, size_t len, struct err *e);

/*
 * Writes a fresh random nonce of SIWE_NONCE_LEN letters/digits and a NUL
 * (libsodium randomness, ~143 bits). Returns 0, or ERR_CRYPTO when
 * libsodium cannot initialise (out untouched).
 */
int siwe_nonce_new(char out[SIWE_NONCE_LEN + 1]);

/*
 * Makes a session token: 32 random bytes as base64url without padding
 * (SESSION_TOKEN_LEN characters + NUL) into token_out, and the SHA-256 of
 * that token text into hash32_out — store only the hash. Returns 0 or
 * ERR_CRYPTO.
 */
int session_token_new(char token_out[SESSION_TOKEN_LEN + 1], uint8_t hash32_out[32]);

/*
 * The storage hash of a presented token text: SHA-256 of its bytes. Tokens
 * longer than 256 bytes are ERR_TOO_BIG (they cannot be ours).
 */
int session_token_hash(uint8_t hash32_out[32], const char *token, size_t len, struct err *e);

#endif
