/*
 * server_client.h — the CLI's HTTP/JSON client of the marketplace server (docs/api.md) over libcurl:
 * connect and total timeouts, a cap on the response size, server errors turned into messages that name
 * the server's code, field and offset ("server: bad_filter at byte 4 ('vram>>24'): ...").
 *
 * Sign-in is SIWE (EIP-4361): GET /auth/nonce, an EIP-4361 message built here with the nonce, domain,
 * URI and chain id the server announces, signed with EIP-191 by the wallet key, POST /auth/siwe. The
 * session token is cached in <data_dir>/sessions/<address>.token (mode 0600) and reused until it
 * expires; it is never printed or logged.
 */
#ifndef FLOP_CLI_SERVER_CLIENT_H
#define FLOP_CLI_SERVER_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/session.h"

struct err;

#define SC_URL_MAX 512                          /* base URL length */
#define SC_RESPONSE_MAX ((size_t)4 << 20)       /* response body cap */
#define SC_TOKEN_MAX 128                        /* session token length */

/* A client. The caller owns the struct. */
struct sc {
	void *curl;                 /* CURL easy handle */
	char base[SC_URL_MAX + 1];  /* "http://127.0.0.1:8080", no trailing slash */
	char token[SC_TOKEN_MAX + 1]; /* bearer token after sc_login; "" before */
	long status;                /* HTTP status of the last request */
	long timeout_ms;            /* whole-request limit of the next requests; 0: 30 s (connect: 5 s) */
};

/* Sets up a client for base URL `url` (http:// or https://). */
int sc_init(struct sc *c, const char *url, struct err *e);
void sc_release(struct sc *c);

/*
 * `method` `path` (with query, already escaped) with an optional JSON body; the answer (2xx) is parsed
 * into *out (json_decref it; NULL for a non-JSON body when out_text is given). A non-2xx answer is an
 * error: ERR_INVALID (400/422), ERR_AUTH (401/403), ERR_NOT_FOUND (404), ERR_CONFLICT (409),
 * ERR_NET otherwise, with the server's code, message, field and offset in `e`.
 * When out_text is not NULL the raw body is appended to it instead of parsed (e.g. CSV).
 */
int sc_request(struct sc *c, json_t **out, struct buf *out_text, const char *method, const char *path,
	       const char *body, struct err *e);

/* Signs in as the session's (unlocked) wallet, reusing a cached token that has not expired. */
int sc_login(struct sc *c, const struct cli_session *s, struct err *e);

/* URL-escapes `in` into out (room cap). */
int sc_escape(char *out, size_t cap, const char *in, struct err *e);

#endif
