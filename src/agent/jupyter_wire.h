/*
 * jupyter_wire.h — the bytes of the agent's Jupyter proxy (jupyter.h): the sign-in cookie read back
 * from a Cookie header, the request head sent to the rental's server (path and query re-encoded, a
 * short list of the browser's headers, our cookie taken out, the server's token added), the
 * exchange over its Unix socket with a deadline and a cap, and the answer parsed. Pure except the
 * two socket calls.
 */
#ifndef FLOP_AGENT_JUPYTER_WIRE_H
#define FLOP_AGENT_JUPYTER_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct err;
struct http_req;

#define JUPYTER_ANSWER_HEADERS 8

/* A parsed answer of the rental's server; body points into the parsed text. */
struct jupyter_answer {
	int status;
	char content_type[64];
	struct {
		char name[64];
		char value[256];
	} headers[JUPYTER_ANSWER_HEADERS]; /* the ones relayed to the browser (Location, Set-Cookie, ...) */
	size_t nheaders;
	const uint8_t *body;               /* after the head: the body, or a WebSocket's first bytes */
	size_t body_len;
};

/*
 * The flags both ways of starting a server share (as the rental's account, or inside its instance):
 * --no-browser, the socket (mode 0600), base_url, the directory it serves and allow_remote_access, for
 * jupyter-notebook (classic: NotebookApp) or jupyter-server (ServerApp). Writes JUPYTER_FLAGS strings.
 */
#define JUPYTER_FLAGS 6
#define JUPYTER_FLAG_MAX 400
void jupyter_server_flags(char out[][JUPYTER_FLAG_MAX], bool classic, const char *sock, const char *base_url,
			  const char *root);

/* The value of the fm_jupyter cookie (exactly 64 lowercase hex) in a Cookie header: 0, else -1. */
int jupyter_cookie_value(char *out, size_t cap, const char *cookie_header);

/* True for a `next` the sign-in may redirect to: 1..200 of [A-Za-z0-9/_.-], no "..", no leading '/'. */
bool jupyter_next_ok(const char *next);

/*
 * Appends the request head for r: "<method> <path>?<query> <version>", Host, "Authorization: token
 * <token>", Content-Length when body_len (or a POST/PUT/PATCH), the WebSocket handshake headers when
 * ws_key is given, then the browser's Accept, Content-Type, Origin, X-XSRFToken, X-Requested-With,
 * If-None-Match, If-Modified-Since, User-Agent, and its Cookie without fm_jupyter. ERR_TOO_BIG past
 * the buffer, ERR_INVALID for a header value with a control character.
 */
int jupyter_request_head(struct buf *out, const struct http_req *r, const char *token, const char *version,
			 size_t body_len, const char *ws_key);

/* Sends head + body on fd and reads the whole answer (until the server closes) into out, within
 * timeout_ms. ERR_TIMEOUT, ERR_TOO_BIG past out's cap, ERR_IO. */
int jupyter_exchange(int fd, const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len,
		     struct buf *out, unsigned timeout_ms, struct err *e);

/* Sends a WebSocket handshake and reads until the end of the answer's head (bytes past it stay in
 * out). ERR_TIMEOUT, ERR_TOO_BIG, ERR_IO (closed before the head ended). */
int jupyter_ws_handshake(int fd, const uint8_t *head, size_t head_len, struct buf *out, unsigned timeout_ms,
			 struct err *e);

/* Parses "HTTP/1.x NNN ...", the headers up to the blank line, and where the body starts. ERR_INVALID. */
int jupyter_answer_parse(struct jupyter_answer *a, const char *text, size_t len, struct err *e);

#endif
