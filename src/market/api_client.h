/*
 * api_client.h — the HTTP/JSON client of the marketplace server (docs/api.md) over libcurl, shared by
 * the CLI and the provider agent: connect and total timeouts, a cap on the response size, no redirects,
 * server errors turned into messages that name the server's code, field and offset ("server:
 * bad_filter at byte 4 ('vram>>24'): ...").
 *
 * Sign-in is SIWE (EIP-4361): GET /auth/nonce, a message built with market/siwe.h from the nonce,
 * domain, URI and chain id the server announces (a server on another chain is refused), signed with
 * EIP-191 by the caller's key, POST /auth/siwe. The token is held in the client, never printed or
 * logged; where to cache it is the caller's business.
 *
 * HTTPS is verified against the system's CAs, or against the PEM bundle named by the environment's
 * FLOPMARKET_CA_FILE (a marketplace under a private CA; the browser tests' local CA).
 */
#ifndef FLOP_MARKET_API_CLIENT_H
#define FLOP_MARKET_API_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "eth/address.h"

struct buf;
struct err;

#define API_URL_MAX 512                         /* base URL length */
#define API_RESPONSE_MAX ((size_t)4 << 20)      /* response body cap */
#define API_TOKEN_MAX 128                       /* session token length */

/* A client; one thread at a time. The caller owns the struct. */
struct api_client {
	void *curl;                   /* CURL easy handle */
	char base[API_URL_MAX + 1];   /* "http://127.0.0.1:8080", no trailing slash */
	char token[API_TOKEN_MAX + 1]; /* bearer token after api_sign_in; "" before */
	long status;                  /* HTTP status of the last request */
	long timeout_ms;              /* whole-request limit of the next requests; 0: 30 s (connect: 5 s) */
};

/* Sets up a client for base URL `url` (http:// or https://). */
int api_client_init(struct api_client *c, const char *url, struct err *e);
/* Frees the handle and wipes the token. */
void api_client_release(struct api_client *c);

/*
 * `method` `path` (with query, already escaped) with an optional JSON body, bearer token when held; the
 * answer (2xx) is parsed into *out (json_decref it). A non-2xx answer is an error: ERR_INVALID
 * (400/413/422), ERR_AUTH (401/403), ERR_NOT_FOUND (404), ERR_CONFLICT (409), ERR_NET otherwise, with
 * the server's code, message, field and offset in `e`; ERR_TIMEOUT / ERR_NET when it cannot be reached.
 * When out_text is not NULL the raw body is appended to it instead of parsed (e.g. CSV).
 */
int api_request(struct api_client *c, json_t **out, struct buf *out_text, const char *method,
		const char *path, const char *body, struct err *e);

/* Who signs in. */
struct api_sign_in {
	const uint8_t *seckey32;      /* the signing key (never kept) */
	struct eth_address address;   /* its address */
	uint64_t chain_id;            /* our chain: a server announcing another one is refused (ERR_STATE) */
	const char *statement;        /* the message's statement line */
	int64_t ttl_s;                /* the session life to ask for (Expiration Time); 0: the server's */
};

/* SIWE sign-in; sets c->token; *expires_at (optional) gets the token's expiry (unix s; 0: unknown). */
int api_sign_in(struct api_client *c, const struct api_sign_in *in, uint64_t *expires_at, struct err *e);

/* URL-escapes `in` into out (room cap). */
int api_escape(char *out, size_t cap, const char *in, struct err *e);

#endif
