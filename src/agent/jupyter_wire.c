/*
 * jupyter_wire.c — request heads, the socket exchange and answer parsing for the Jupyter proxy
 * (jupyter_wire.h).
 */
#include "agent/jupyter_wire.h"
#include "agent/jupyter.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "net/http.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

void jupyter_server_flags(char out[][JUPYTER_FLAG_MAX], bool classic, const char *sock, const char *base_url,
			  const char *root)
{
	const char *app = classic ? "NotebookApp" : "ServerApp";

	snprintf(out[0], JUPYTER_FLAG_MAX, "--no-browser");
	snprintf(out[1], JUPYTER_FLAG_MAX, "--%s.sock=%s", app, sock);
	snprintf(out[2], JUPYTER_FLAG_MAX, "--%s.sock_mode=0600", app);
	snprintf(out[3], JUPYTER_FLAG_MAX, "--%s.base_url=%s", app, base_url);
	snprintf(out[4], JUPYTER_FLAG_MAX, "--%s.%s=%s", app, classic ? "notebook_dir" : "root_dir", root);
	snprintf(out[5], JUPYTER_FLAG_MAX, "--%s.allow_remote_access=True", app);
}

int jupyter_cookie_value(char *out, size_t cap, const char *h)
{
	const size_t nl = strlen(JUPYTER_COOKIE);

	if (!h || cap < JUPYTER_TOKEN_HEX + 1)
		return -1;
	while (*h) {
		while (*h == ' ' || *h == ';')
			h++;
		size_t l = strcspn(h, ";");
		if (l == nl + 1 + JUPYTER_TOKEN_HEX && strncmp(h, JUPYTER_COOKIE "=", nl + 1) == 0) {
			const char *v = h + nl + 1;
			bool hex = true;
			for (size_t i = 0; i < JUPYTER_TOKEN_HEX; i++)
				hex &= (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f');
			if (hex) {
				memcpy(out, v, JUPYTER_TOKEN_HEX);
				out[JUPYTER_TOKEN_HEX] = '\0';
				return 0;
			}
		}
		h += l;
	}
	return -1;
}

bool jupyter_next_ok(const char *n)
{
	size_t l = strlen(n);

	if (!l || l > 200 || n[0] == '/' || strstr(n, ".."))
		return false;
	for (size_t i = 0; i < l; i++)
		if (!isalnum((unsigned char)n[i]) && !strchr("/_.-", n[i]))
			return false;
	return true;
}

/* Percent-encodes s; keep_slash keeps '/' (a path) or encodes it (a query part). */
static int encode(struct buf *out, const char *s, bool keep_slash)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr("-._~", c) || (keep_slash && c == '/'))
			rc = buf_append_byte(out, c);
		else
			rc = buf_printf(out, "%%%02X", c);
	}
	return rc;
}

static bool value_ok(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 && *v != '\t')
			return false;
	return true;
}

/* The Cookie header without our own cookie (the browser's _xsrf and Jupyter's own stay). */
static int cookie_forward(struct buf *out, const char *h)
{
	bool first = true;
	int rc = 0;

	while (*h && !rc) {
		while (*h == ' ' || *h == ';')
			h++;
		size_t l = strcspn(h, ";");
		if (l && strncmp(h, JUPYTER_COOKIE "=", strlen(JUPYTER_COOKIE) + 1) != 0) {
			if (first)
				rc = buf_append_str(out, "Cookie: ");
			else
				rc = buf_append_str(out, "; ");
			if (!rc)
				rc = buf_append(out, h, l);
			first = false;
		}
		h += l;
	}
	if (!first && !rc)
		rc = buf_append_str(out, "\r\n");
	return rc;
}

int jupyter_request_head(struct buf *out, const struct http_req *r, const char *token, const char *version,
			 size_t body_len, const char *ws_key)
{
	static const char *const pass[] = { "Accept", "Content-Type", "Origin", "X-XSRFToken", "X-Requested-With",
					    "If-None-Match", "If-Modified-Since", "User-Agent" };
	const char *host = http_header(r, "Host"), *cookie = http_header(r, "Cookie");
	int rc;

	if ((rc = buf_printf(out, "%s ", r->method)) || (rc = encode(out, r->path, true)))
		return rc;
	for (size_t i = 0; i < r->nquery && !rc; i++) {
		if (!(rc = buf_append_byte(out, i ? '&' : '?')) && !(rc = encode(out, r->query[i].key, false)) &&
		    r->query[i].value && r->query[i].value[0] && !(rc = buf_append_byte(out, '=')))
			rc = encode(out, r->query[i].value, false);
	}
	if (rc || (rc = buf_printf(out, " %s\r\n", version)))
		return rc;
	if (host && !value_ok(host))
		return ERR_INVALID;
	if ((rc = buf_printf(out, "Host: %s\r\nAuthorization: token %s\r\n", host ? host : "localhost", token)))
		return rc;
	if (ws_key) {
		const char *proto = http_header(r, "Sec-WebSocket-Protocol");
		if (!value_ok(ws_key) || (proto && !value_ok(proto)))
			return ERR_INVALID;
		if ((rc = buf_printf(out, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
					  "Sec-WebSocket-Key: %s\r\n", ws_key)))
			return rc;
		if (proto && (rc = buf_printf(out, "Sec-WebSocket-Protocol: %s\r\n", proto)))
			return rc;
	} else if ((rc = buf_append_str(out, "Connection: close\r\n"))) {
		return rc;
	}
	if ((body_len || !strcmp(r->method, "POST") || !strcmp(r->method, "PUT") || !strcmp(r->method, "PATCH")) &&
	    (rc = buf_printf(out, "Content-Length: %zu\r\n", body_len)))
		return rc;
	for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
		const char *v = http_header(r, pass[i]);
		if (!v)
			continue;
		if (!value_ok(v))
			return ERR_INVALID;
		if ((rc = buf_printf(out, "%s: %s\r\n", pass[i], v)))
			return rc;
	}
	if (cookie) {
		if (!value_ok(cookie))
			return ERR_INVALID;
		if ((rc = cookie_forward(out, cookie)))
			return rc;
	}
	return buf_append_str(out, "\r\n");
}

static int send_all(int fd, const uint8_t *p, size_t n, uint64_t deadline, struct err *e)
{
	while (n) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };
		uint64_t now = clock_mono_ms();
		if (now >= deadline)
			return err_set(e, ERR_TIMEOUT, "timed out sending the request");
		if (poll(&pf, 1, (int)(deadline - now)) <= 0)
			continue;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return err_set(e, ERR_IO, "sending the request: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads into out until EOF, or (head_only) until the head's blank line is in. */
static int recv_until(int fd, struct buf *out, bool head_only, uint64_t deadline, struct err *e)
{
	uint8_t chunk[16384];

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		uint64_t now = clock_mono_ms();
		if (head_only && out->len >= 4 && memmem(out->data, out->len, "\r\n\r\n", 4))
			return 0;
		if (now >= deadline)
			return err_set(e, ERR_TIMEOUT, "no answer in time");
		if (poll(&pf, 1, (int)(deadline - now)) <= 0)
			continue;
		ssize_t n = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return err_set(e, ERR_IO, "reading the answer: %s", strerror(errno));
		if (n == 0)
			return head_only ? err_set(e, ERR_IO, "closed before its answer's head ended") : 0;
		if (buf_append(out, chunk, (size_t)n))
			return err_set(e, ERR_TOO_BIG, "the answer is over %zu bytes", out->max);
	}
}

int jupyter_exchange(int fd, const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len,
		     struct buf *out, unsigned timeout_ms, struct err *e)
{
	uint64_t deadline = clock_mono_ms() + timeout_ms;
	int rc;

	if ((rc = send_all(fd, head, head_len, deadline, e)) || (body_len && (rc = send_all(fd, body, body_len, deadline, e))))
		return rc;
	return recv_until(fd, out, false, deadline, e);
}

int jupyter_ws_handshake(int fd, const uint8_t *head, size_t head_len, struct buf *out, unsigned timeout_ms,
			 struct err *e)
{
	uint64_t deadline = clock_mono_ms() + timeout_ms;
	int rc;

	if ((rc = send_all(fd, head, head_len, deadline, e)))
		return rc;
	return recv_until(fd, out, true, deadline, e);
}

int jupyter_answer_parse(struct jupyter_answer *a, const char *t, size_t len, struct err *e)
{
	static const char *const relay[] = { "Location", "Set-Cookie", "ETag", "Last-Modified", "Cache-Control",
					     "Content-Disposition", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol",
					     "X-Content-Type-Options", "Content-Security-Policy" };
	const char *end = len >= 4 ? memmem(t, len, "\r\n\r\n", 4) : NULL, *p, *eol;
	int st;

	memset(a, 0, sizeof *a);
	if (!end)
		return err_set(e, ERR_INVALID, "an answer without a complete head");
	if (len < 12 || strncmp(t, "HTTP/1.", 7) || sscanf(t + 9, "%3d", &st) != 1 || st < 100 || st > 599)
		return err_set(e, ERR_INVALID, "not an HTTP answer");
	a->status = st;
	for (p = memchr(t, '\n', (size_t)(end - t)) + 1; p < end + 2; p = eol + 2) {
		const char *colon, *v;
		size_t nl, vl;
		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (!eol)
			break;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			continue;
		nl = (size_t)(colon - p);
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		vl = (size_t)(eol - v);
		if (nl == 12 && strncasecmp(p, "Content-Type", 12) == 0 && vl < sizeof a->content_type) {
			memcpy(a->content_type, v, vl);
			a->content_type[vl] = '\0';
			continue;
		}
		if (nl == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0)
			return err_set(e, ERR_INVALID, "a chunked answer to an HTTP/1.0 request");
		for (size_t i = 0; i < sizeof relay / sizeof relay[0]; i++) {
			if (strlen(relay[i]) != nl || strncasecmp(p, relay[i], nl) ||
			    vl >= sizeof a->headers[0].value || a->nheaders == JUPYTER_ANSWER_HEADERS)
				continue;
			snprintf(a->headers[a->nheaders].name, sizeof a->headers[0].name, "%s", relay[i]);
			memcpy(a->headers[a->nheaders].value, v, vl);
			a->headers[a->nheaders].value[vl] = '\0';
			a->nheaders++;
		}
	}
	a->body = (const uint8_t *)end + 4;
	a->body_len = len - (size_t)(end + 4 - t);
	return 0;
}
