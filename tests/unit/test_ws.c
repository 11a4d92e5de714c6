/*
 * test_ws.c — src/agent/ws: RFC 6455 handshake values and framing over a
 * socketpair. The test plays the peer with hand-built frames and reads back
 * the raw bytes the ws_conn writes.
 *
 * Vectors: RFC 6455 section 1.3 (Sec-WebSocket-Key "dGhlIHNhbXBsZSBub25jZQ=="
 * -> Sec-WebSocket-Accept "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") and section 5.7
 * (a masked "Hello" text frame with key 37 fa 21 3d; the fragmented "Hel" +
 * "lo"; the unmasked pong "Hello"; the 256-byte and 64 KiB binary frame
 * headers 82 7E 01 00 and 82 7F 00 00 00 00 00 01 00 00).
 * Also net/http.h's protocol upgrade (http_upgrade): an in-process server switches a connection
 * to a WebSocket (bytes sent with the handshake reach the ws_conn), and an upgrade whose handler
 * fails afterwards is dropped with its ctx_free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/ws.h"
#include "core/clock.h"
#include "core/err.h"
#include "net/http.h"

/* What the server side received. */
struct got {
	int n;                  /* messages */
	enum ws_opcode op[8];
	uint8_t data[8][256];
	size_t len[8];
};

static void on_message(void *user, enum ws_opcode op, const uint8_t *p, size_t n)
{
	struct got *g = user;
	if (g->n >= 8)
		return;
	g->op[g->n] = op;
	g->len[g->n] = n;
	memcpy(g->data[g->n], p, n < 256 ? n : 256);
	g->n++;
}

struct pair {
	int fd[2];              /* [0] the ws_conn's, [1] the test's (blocking) */
	struct ws_conn *c;
	struct got got;
};

static void pair_open(struct pair *p, const struct ws_opts *o)
{
	struct err e = { 0 };
	memset(p, 0, sizeof *p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
	assert_int_equal(ws_conn_new(&p->c, p->fd[0], o, on_message, &p->got, NULL, 0, &e), 0);
}

static void pair_close(struct pair *p)
{
	ws_conn_free(p->c);
	close(p->fd[0]);
	if (p->fd[1] >= 0)
		close(p->fd[1]);
}

/* Runs the ws_conn's I/O a few times (it never blocks). */
static void pump(struct pair *p)
{
	for (int i = 0; i < 4; i++)
		(void)ws_conn_io(p->c, POLLIN | POLLOUT);
}

/* Reads what is available on the test's end within 200 ms. */
static size_t drain(struct pair *p, uint8_t *out, size_t cap)
{
	size_t n = 0;
	struct pollfd pf = { .fd = p->fd[1], .events = POLLIN };

	while (n < cap && poll(&pf, 1, 200) == 1) {
		ssize_t r = read(p->fd[1], out + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	return n;
}

static void put(struct pair *p, const uint8_t *b, size_t n)
{
	assert_int_equal(write(p->fd[1], b, n), (ssize_t)n);
}

/* Builds one frame: FIN/RSV/opcode byte `b0`, masked with key when mask. */
static size_t frame(uint8_t *out, uint8_t b0, bool mask, const uint8_t *pl, size_t n)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d }; /* RFC 6455 5.7 */
	size_t i = 0;

	out[i++] = b0;
	if (n < 126) {
		out[i++] = (uint8_t)((mask ? 0x80 : 0) | n);
	} else {
		out[i++] = (uint8_t)((mask ? 0x80 : 0) | 126);
		out[i++] = (uint8_t)(n >> 8);
		out[i++] = (uint8_t)n;
	}
	if (mask) {
		memcpy(out + i, key, 4);
		i += 4;
	}
	for (size_t k = 0; k < n; k++)
		out[i + k] = mask ? (uint8_t)(pl[k] ^ key[k & 3]) : pl[k];
	return i + n;
}

/* Asserts that the bytes start with a close frame carrying `code` (0: no code). */
static void assert_close(const uint8_t *b, size_t n, uint16_t code)
{
	if (code == 0) {
		assert_true(n >= 2);
		assert_int_equal(b[0], 0x88);
		assert_int_equal(b[1], 0x00);
		return;
	}
	assert_true(n >= 4);
	assert_int_equal(b[0], 0x88);
	assert_true((b[1] & 0x7f) >= 2);
	assert_int_equal((b[2] << 8) | b[3], code);
}

static void test_accept_key(void **state)
{
	char out[WS_ACCEPT_LEN + 1];
	struct err e = { 0 };
	(void)state;

	/* RFC 6455 section 1.3 */
	assert_int_equal(ws_accept_key(out, "dGhlIHNhbXBsZSBub25jZQ==", &e), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_handshake_table(void **state)
{
	static const struct {
		const char *upgrade, *connection, *version, *key;
		int rc;
		const char *field;      /* named in the message */
	} t[] = {
		{ "websocket", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", 0, NULL },
		{ "WebSocket", "keep-alive, Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", 0, NULL },
		{ NULL, "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", ERR_INVALID, "Upgrade" },
		{ "h2c", "Upgrade", "13", "dGhlIHNhbXBsZSBub25jZQ==", ERR_INVALID, "Upgrade" },
		{ "websocket", NULL, "13", "dGhlIHNhbXBsZSBub25jZQ==", ERR_INVALID, "Connection" },
		{ "websocket", "keep-alive", "13", "dGhlIHNhbXBsZSBub25jZQ==", ERR_INVALID,
		  "Connection" },
		{ "websocket", "Upgradex", "13", "dGhlIHNhbXBsZSBub25jZQ==", ERR_INVALID,
		  "Connection" },
		{ "websocket", "Upgrade", "8", "dGhlIHNhbXBsZSBub25jZQ==", ERR_INVALID,
		  "Sec-WebSocket-Version" },
		{ "websocket", "Upgrade", NULL, "dGhlIHNhbXBsZSBub25jZQ==", ERR_INVALID,
		  "Sec-WebSocket-Version" },
		{ "websocket", "Upgrade", "13", NULL, ERR_INVALID, "Sec-WebSocket-Key" },
		{ "websocket", "Upgrade", "13", "", ERR_INVALID, "Sec-WebSocket-Key" },
		{ "websocket", "Upgrade", "13", "not base64!", ERR_INVALID, "Sec-WebSocket-Key" },
		{ "websocket", "Upgrade", "13", "AAAAAAAAAAAAAAAAAAAA", ERR_INVALID,
		  "Sec-WebSocket-Key" }, /* 15 bytes */
		{ "websocket", "Upgrade", "13", "AAAAAAAAAAAAAAAAAAAAAAAA", ERR_INVALID,
		  "Sec-WebSocket-Key" }, /* 18 bytes */
		{ "websocket", "Upgrade", "13",
		  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		  ERR_INVALID, "Sec-WebSocket-Key" }, /* over WS_KEY_MAX */
	};
	(void)state;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char acc[WS_ACCEPT_LEN + 1] = "untouched";
		struct err e = { 0 };
		int rc = ws_handshake_check(acc, t[i].upgrade, t[i].connection, t[i].version,
					    t[i].key, &e);
		assert_int_equal(rc, t[i].rc);
		if (rc == 0) {
			assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
		} else {
			assert_non_null(strstr(e.msg, t[i].field));
		}
	}
}

/* RFC 6455 5.7: a single-frame masked text message "Hello". */
static void test_masked_text(void **state)
{
	static const uint8_t hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
					 0x9f, 0x4d, 0x51, 0x58 };
	struct pair p;
	(void)state;

	pair_open(&p, NULL);
	put(&p, hello, sizeof hello);
	pump(&p);
	assert_int_equal(p.got.n, 1);
	assert_int_equal(p.got.op[0], WS_OP_TEXT);
	assert_int_equal(p.got.len[0], 5);
	assert_memory_equal(p.got.data[0], "Hello", 5);
	assert_false(ws_conn_done(p.c));
	pair_close(&p);
}

/* A message may arrive in `extra` (read with the handshake). */
static void test_extra_bytes(void **state)
{
	static const uint8_t hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
					 0x9f, 0x4d, 0x51, 0x58 };
	struct pair p;
	struct err e = { 0 };
	(void)state;

	memset(&p, 0, sizeof p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p.fd), 0);
	assert_int_equal(ws_conn_new(&p.c, p.fd[0], NULL, on_message, &p.got, hello, sizeof hello,
				     &e), 0);
	pump(&p);
	assert_int_equal(p.got.n, 1);
	assert_memory_equal(p.got.data[0], "Hello", 5);
	pair_close(&p);
}

/* Fragments ("Hel" + "lo", RFC 6455 5.7) are joined; a ping between them is answered. */
static void test_fragmented(void **state)
{
	uint8_t b[64], r[64];
	size_t n;
	struct pair p;
	(void)state;

	pair_open(&p, NULL);
	put(&p, b, frame(b, 0x01, true, (const uint8_t *)"Hel", 3));
	put(&p, b, frame(b, 0x89, true, (const uint8_t *)"Hello", 5));
	put(&p, b, frame(b, 0x80, true, (const uint8_t *)"lo", 2));
	pump(&p);
	assert_int_equal(p.got.n, 2);
	assert_int_equal(p.got.op[0], WS_OP_PING);
	assert_int_equal(p.got.op[1], WS_OP_TEXT);
	assert_int_equal(p.got.len[1], 5);
	assert_memory_equal(p.got.data[1], "Hello", 5);
	/* RFC 6455 5.7: unmasked pong "Hello" */
	n = drain(&p, r, sizeof r);
	assert_int_equal(n, 7);
	assert_memory_equal(r, "\x8a\x05Hello", 7);
	pair_close(&p);
}

/* Frames that break the protocol get close 1002 and end the connection. */
static void test_protocol_errors(void **state)
{
	static const struct {
		uint8_t b0;
		bool mask;
		uint16_t code;          /* close code answered; 0: a close without a code */
		const char *what;
	} t[] = {
		{ 0x81, false, WS_CLOSE_PROTOCOL, "unmasked frame to a server" },
		{ 0xc1, true, WS_CLOSE_PROTOCOL, "RSV1 set without an extension" },
		{ 0x83, true, WS_CLOSE_PROTOCOL, "reserved opcode 3" },
		{ 0x09, true, 0, "fragmented ping (wslay fails the frame layer)" },
		{ 0x80, true, WS_CLOSE_PROTOCOL, "continuation without a start" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		uint8_t b[64], r[64];
		struct pair p;
		size_t n;

		pair_open(&p, NULL);
		put(&p, b, frame(b, t[i].b0, t[i].mask, (const uint8_t *)"Hello", 5));
		pump(&p);
		n = drain(&p, r, sizeof r);
		print_message("%s: %zu bytes back: %02x %02x\n", t[i].what, n, r[0], r[1]);
		assert_close(r, n, t[i].code);
		assert_int_equal(p.got.n, 0);
		/* the peer answers the close: the connection is then done */
		put(&p, b, frame(b, 0x88, true, (const uint8_t *)"\x03\xea", 2));
		pump(&p);
		assert_true(ws_conn_done(p.c));
		pair_close(&p);
	}
}

/* Messages over msg_max (one frame or fragments together) get close 1009. */
static void test_oversize(void **state)
{
	struct ws_opts o = { .msg_max = 16 };
	uint8_t b[64], r[64], pl[17];
	struct pair p;
	size_t n;
	(void)state;

	memset(pl, 'x', sizeof pl);
	/* exactly at the cap: accepted */
	pair_open(&p, &o);
	put(&p, b, frame(b, 0x82, true, pl, 16));
	pump(&p);
	assert_int_equal(p.got.n, 1);
	assert_int_equal(p.got.len[0], 16);
	pair_close(&p);
	/* one byte over, one frame */
	pair_open(&p, &o);
	put(&p, b, frame(b, 0x82, true, pl, 17));
	pump(&p);
	n = drain(&p, r, sizeof r);
	assert_close(r, n, WS_CLOSE_TOO_BIG);
	assert_int_equal(p.got.n, 0);
	pair_close(&p);
	/* over the cap in two fragments of 10 */
	pair_open(&p, &o);
	put(&p, b, frame(b, 0x02, true, pl, 10));
	put(&p, b, frame(b, 0x80, true, pl, 10));
	pump(&p);
	n = drain(&p, r, sizeof r);
	assert_close(r, n, WS_CLOSE_TOO_BIG);
	assert_int_equal(p.got.n, 0);
	pair_close(&p);
}

/* A client close (1000) is answered with 1000; then the connection is done. */
static void test_close_handshake(void **state)
{
	uint8_t b[64], r[64];
	struct pair p;
	size_t n;
	(void)state;

	pair_open(&p, NULL);
	put(&p, b, frame(b, 0x88, true, (const uint8_t *)"\x03\xe8" "bye", 5));
	pump(&p);
	assert_int_equal(ws_conn_peer_close_code(p.c), 1000);
	n = drain(&p, r, sizeof r);
	assert_close(r, n, WS_CLOSE_NORMAL);
	assert_true(ws_conn_done(p.c));
	assert_int_equal(ws_send(p.c, WS_OP_BINARY, (const uint8_t *)"x", 1, NULL), ERR_STATE);
	pair_close(&p);

	/* server-initiated close with a reason, after the data queued before it (the
	 * shell's last output must not be lost); then the peer's reply ends it */
	pair_open(&p, NULL);
	assert_int_equal(ws_send(p.c, WS_OP_BINARY, (const uint8_t *)"tail", 4, NULL), 0);
	assert_int_equal(ws_close(p.c, WS_CLOSE_GOING_AWAY, "rental ended"), 0);
	assert_int_equal(ws_send(p.c, WS_OP_BINARY, (const uint8_t *)"late", 4, NULL), ERR_STATE);
	pump(&p);
	n = drain(&p, r, sizeof r);
	assert_true(n >= 6);
	assert_memory_equal(r, "\x82\x04tail", 6);
	assert_close(r + 6, n - 6, WS_CLOSE_GOING_AWAY);
	assert_int_equal(n - 6, 4 + strlen("rental ended"));
	assert_memory_equal(r + 10, "rental ended", strlen("rental ended"));
	assert_false(ws_conn_done(p.c));
	put(&p, b, frame(b, 0x88, true, (const uint8_t *)"\x03\xe9", 2));
	pump(&p);
	assert_true(ws_conn_done(p.c));
	pair_close(&p);

	/* peer gone without a close: failed and done */
	pair_open(&p, NULL);
	close(p.fd[1]);
	p.fd[1] = -1;
	assert_int_equal(ws_conn_io(p.c, POLLIN), ERR_NET);
	assert_true(ws_conn_done(p.c));
	pair_close(&p);
}

/* Server frames are unmasked with the RFC's length encodings (5.7). */
static void test_server_frames(void **state)
{
	static uint8_t big[65536], r[65536 + 16];
	struct pair p;
	size_t n;
	struct err e = { 0 };
	(void)state;

	memset(big, 0xab, sizeof big);
	pair_open(&p, NULL);
	assert_int_equal(ws_send(p.c, WS_OP_BINARY, big, 256, &e), 0);
	pump(&p);
	n = drain(&p, r, sizeof r);
	assert_int_equal(n, 4 + 256);
	assert_memory_equal(r, "\x82\x7e\x01\x00", 4);
	assert_int_equal(r[4], 0xab);
	assert_int_equal(ws_send(p.c, WS_OP_BINARY, big, 65536, &e), 0);
	n = 0;
	for (int i = 0; i < 50 && n < 10 + 65536; i++) {
		pump(&p);
		n += drain(&p, r + n, sizeof r - n);
	}
	assert_int_equal(n, 10 + 65536);
	assert_memory_equal(r, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
	pair_close(&p);
}

/* The send queue is capped: the call that would pass out_max fails, nothing queued. */
static void test_send_cap(void **state)
{
	struct ws_opts o = { .out_max = 100 };
	uint8_t pl[126];
	struct pair p;
	struct err e = { 0 };
	(void)state;

	memset(pl, 1, sizeof pl);
	pair_open(&p, &o);
	assert_int_equal(ws_send(p.c, WS_OP_BINARY, pl, 60, &e), 0);
	assert_int_equal(ws_conn_queued(p.c), 60);
	assert_int_equal(ws_send(p.c, WS_OP_BINARY, pl, 41, &e), ERR_TOO_BIG);
	assert_true(e.msg[0] != 0);
	assert_int_equal(ws_conn_queued(p.c), 60);
	assert_int_equal(ws_send(p.c, WS_OP_BINARY, pl, 40, &e), 0);
	assert_int_equal(ws_send(p.c, WS_OP_PING, pl, 126, &e), ERR_TOO_BIG);
	assert_int_equal(ws_send(p.c, WS_OP_CLOSE, pl, 2, &e), ERR_INVALID);
	pair_close(&p);
}

/* Client side: its frames are masked and a server ws_conn reads them. */
static void test_client_to_server(void **state)
{
	struct ws_opts co = { .client = true };
	struct ws_conn *cl = NULL;
	struct got cg;
	struct pair p;
	uint8_t b[64];
	size_t n;
	struct err e = { 0 };
	(void)state;

	memset(&cg, 0, sizeof cg);
	pair_open(&p, NULL);
	assert_int_equal(ws_conn_new(&cl, p.fd[1], &co, on_message, &cg, NULL, 0, &e), 0);
	assert_int_equal(ws_send(cl, WS_OP_TEXT, (const uint8_t *)"{\"type\":\"resize\"}", 17, &e),
			 0);
	assert_int_equal(ws_conn_io(cl, POLLOUT), 0);
	/* on the wire: masked */
	{
		struct pollfd pf = { .fd = p.fd[0], .events = POLLIN };
		assert_int_equal(poll(&pf, 1, 1000), 1);
		n = (size_t)recv(p.fd[0], b, sizeof b, MSG_PEEK);
		assert_true(n >= 2);
		assert_int_equal(b[0], 0x81);
		assert_true(b[1] & 0x80);
	}
	pump(&p);
	assert_int_equal(p.got.n, 1);
	assert_memory_equal(p.got.data[0], "{\"type\":\"resize\"}", 17);
	/* and back: the server's binary frame reaches the client */
	assert_int_equal(ws_send(p.c, WS_OP_BINARY, (const uint8_t *)"hello-42", 8, &e), 0);
	pump(&p);
	for (int i = 0; i < 10 && cg.n == 0; i++) {
		struct pollfd pf = { .fd = p.fd[1], .events = POLLIN };
		(void)poll(&pf, 1, 100);
		(void)ws_conn_io(cl, pf.revents);
	}
	assert_int_equal(cg.n, 1);
	assert_int_equal(cg.op[0], WS_OP_BINARY);
	assert_memory_equal(cg.data[0], "hello-42", 8);
	ws_conn_free(cl);
	pair_close(&p);
}

static void test_bad_args(void **state)
{
	struct ws_conn *c = NULL;
	struct err e = { 0 };
	(void)state;

	assert_int_equal(ws_conn_new(&c, -1, NULL, NULL, NULL, NULL, 0, &e), ERR_INVALID);
	assert_null(c);
	assert_true(e.msg[0] != 0);
	ws_conn_free(NULL);
	assert_true(ws_conn_done(NULL));
	assert_int_equal(ws_conn_events(NULL), 0);
}

/* ---- net/http.h protocol upgrades, with a WebSocket on top ---- */

static atomic_int up_called, up_freed;

/* The upgraded socket: read one masked frame (maybe already in extra), answer, close. */
static void on_up(struct http_upgraded *h, int fd, const uint8_t *extra, size_t extra_len,
		  void *ctx)
{
	struct ws_conn *c = NULL;
	struct got g;
	(void)ctx;

	memset(&g, 0, sizeof g);
	atomic_fetch_add(&up_called, 1);
	if (ws_conn_new(&c, fd, NULL, on_message, &g, extra, extra_len, NULL) == 0) {
		for (int i = 0; i < 40 && g.n == 0; i++) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			(void)poll(&pf, 1, 50);
			(void)ws_conn_io(c, pf.revents);
		}
		if (g.n == 1)
			ws_send(c, WS_OP_BINARY, g.data[0], g.len[0], NULL);
		ws_close(c, WS_CLOSE_NORMAL, "done");
		for (int i = 0; i < 10; i++)
			(void)ws_conn_io(c, POLLOUT);
		ws_conn_free(c);
	}
	http_upgraded_close(h);
}

static void up_free(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&up_freed, 1);
}

static int h_up(struct http_req *r, struct http_resp *resp, void *ctx)
{
	char acc[WS_ACCEPT_LEN + 1];
	struct err e = { 0 };
	(void)ctx;

	if (ws_handshake_check(acc, http_header(r, "Upgrade"), http_header(r, "Connection"),
			       http_header(r, "Sec-WebSocket-Version"),
			       http_header(r, "Sec-WebSocket-Key"), &e))
		return http_error(resp, 400, "bad_handshake", NULL, "%s", e.msg);
	if (http_upgrade(resp, "websocket", on_up, NULL, up_free))
		return ERR_NOMEM;
	return http_resp_header(resp, "Sec-WebSocket-Accept", acc);
}

/* Accepts the upgrade, then fails: the dispatcher answers 500 and frees ctx. */
static int h_up_fail(struct http_req *r, struct http_resp *resp, void *ctx)
{
	(void)r;
	(void)ctx;
	assert_int_equal(http_upgrade(resp, "websocket", on_up, NULL, up_free), 0);
	return ERR_IO;
}

static int connect_port(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static size_t read_some(int fd, uint8_t *out, size_t cap, const char *until)
{
	size_t n = 0;
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	while (n + 1 < cap && poll(&pf, 1, 2000) == 1) {
		ssize_t r = read(fd, out + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		out[n] = 0;
		if (until && memmem(out, n, until, strlen(until)))
			break;
	}
	return n;
}

static void test_http_upgrade(void **state)
{
	struct http_config cfg;
	struct http_server *s = NULL;
	struct err e = { 0 };
	uint8_t b[4096], fr[64];
	char req[512];
	size_t n, fl;
	int fd;
	(void)state;

	memset(&cfg, 0, sizeof cfg);
	cfg.rate_disabled = true;
	assert_int_equal(http_server_new(&s, &cfg, &e), 0);
	assert_int_equal(http_route(s, "GET", "/up", h_up, NULL, &e), 0);
	assert_int_equal(http_route(s, "GET", "/fail", h_up_fail, NULL, &e), 0);
	assert_int_equal(http_server_start(s, &e), 0);

	/* the handshake and the first frame in one write: the frame may arrive as `extra` */
	fd = connect_port(http_server_port(s));
	n = (size_t)snprintf(req, sizeof req,
			     "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			     "Sec-WebSocket-Version: 13\r\n\r\n");
	fl = frame(fr, 0x82, true, (const uint8_t *)"ping-pong", 9);
	memcpy(req + n, fr, fl);
	assert_int_equal(write(fd, req, n + fl), (ssize_t)(n + fl));
	n = read_some(fd, b, sizeof b, "done");
	b[n] = 0;
	assert_non_null(strstr((char *)b, "HTTP/1.1 101"));
	assert_non_null(strstr((char *)b, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	assert_non_null(memmem(b, n, "\x82\x09ping-pong", 11));
	assert_non_null(memmem(b, n, "\x88\x06\x03\xe8" "done", 8));
	close(fd);
	assert_int_equal(atomic_load(&up_called), 1);

	/* a bad handshake never upgrades */
	fd = connect_port(http_server_port(s));
	n = (size_t)snprintf(req, sizeof req,
			     "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			     "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
	assert_int_equal(write(fd, req, n), (ssize_t)n);
	n = read_some(fd, b, sizeof b, "}}");
	assert_non_null(strstr((char *)b, "HTTP/1.1 400"));
	assert_non_null(strstr((char *)b, "Sec-WebSocket-Key"));
	close(fd);

	/* the handler fails after http_upgrade: 500, ctx_free called once, no upgrade */
	fd = connect_port(http_server_port(s));
	n = (size_t)snprintf(req, sizeof req,
			     "GET /fail HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			     "Connection: Upgrade\r\n\r\n");
	assert_int_equal(write(fd, req, n), (ssize_t)n);
	n = read_some(fd, b, sizeof b, "}}");
	assert_non_null(strstr((char *)b, "HTTP/1.1 500"));
	close(fd);
	for (int i = 0; i < 50 && atomic_load(&up_freed) == 0; i++)
		clock_sleep_ms(10);
	assert_int_equal(atomic_load(&up_freed), 1);
	assert_int_equal(atomic_load(&up_called), 1);

	/* bad arguments */
	{
		struct http_resp resp;
		memset(&resp, 0, sizeof resp);
		assert_int_equal(http_upgrade(&resp, "web socket", on_up, NULL, NULL), ERR_INVALID);
		assert_int_equal(http_upgrade(&resp, "", on_up, NULL, NULL), ERR_INVALID);
		assert_int_equal(http_upgrade(&resp, "websocket", NULL, NULL, NULL), ERR_INVALID);
		assert_null(resp.upgrade);
		assert_int_equal(resp.status, 0);
		http_upgraded_close(NULL);
	}
	http_server_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_handshake_table),
		cmocka_unit_test(test_masked_text),
		cmocka_unit_test(test_extra_bytes),
		cmocka_unit_test(test_fragmented),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_close_handshake),
		cmocka_unit_test(test_server_frames),
		cmocka_unit_test(test_send_cap),
		cmocka_unit_test(test_client_to_server),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_http_upgrade),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
