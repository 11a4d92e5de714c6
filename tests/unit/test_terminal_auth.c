/*
 * test_terminal_auth.c — src/agent/terminal without root or a chain: the challenge message
 * format and its input checks, terminal_new's config checks, and every refusal of the WebSocket
 * endpoint that happens before a shell would be spawned (origin, handshake, challenge, signature,
 * renter, rental state, lookup failures), against an in-process http server. The rental lookup is
 * a table here; tests/integration/test_terminal.c does the same against a real chain, a real
 * account and a real PTY.
 * Keys: anvil's public development keys 1 and 2 (test use only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/terminal.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "eth/eip191.h"
#include "eth/secp.h"
#include "net/http.h"

#define NONCE "00112233445566778899aabbccddeeff"

/* anvil / hardhat development keys 1 and 2 (public test keys) */
static const char *const KEY1 = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
static const char *const KEY2 = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

static void test_message(void **state)
{
	char out[TERMINAL_MESSAGE_MAX];
	struct err e = { 0 };
	(void)state;

	assert_int_equal(terminal_challenge_message(out, sizeof out, "https://gpu1.example:7070", "42",
						    NONCE, 1700000000, &e), 0);
	assert_string_equal(out, "Flopmarket browser terminal\n"
				 "Origin: https://gpu1.example:7070\n"
				 "Rental: 42\n"
				 "Nonce: " NONCE "\n"
				 "Expires: 1700000000");
}

static void test_message_bad(void **state)
{
	char rid129[130];
	static const struct {
		const char *origin, *rental, *nonce;
		size_t cap;
		int rc;
	} t[] = {
		{ "ftp://x", "1", NONCE, 512, ERR_INVALID },
		{ "http://", "1", NONCE, 512, ERR_INVALID },
		{ "http://a b", "1", NONCE, 512, ERR_INVALID },
		{ "https://host/path", "1", NONCE, 512, ERR_INVALID },
		{ NULL, "1", NONCE, 512, ERR_INVALID },
		{ "http://h", "", NONCE, 512, ERR_INVALID },
		{ "http://h", "a/b", NONCE, 512, ERR_INVALID },
		{ "http://h", "1\nRental: 2", NONCE, 512, ERR_INVALID },
		{ "http://h", NULL, NONCE, 512, ERR_INVALID },
		{ "http://h", "1", "0011", 512, ERR_INVALID },
		{ "http://h", "1", "00112233445566778899AABBCCDDEEFF", 512, ERR_INVALID },
		{ "http://h", "1", NONCE "00", 512, ERR_INVALID },
		{ "http://h", "1", NONCE, 40, ERR_TOO_BIG },
		{ "http://h", "1", NONCE, 512, 0 },
		{ "http://[::1]:80", "rental-1.x_y", NONCE, 512, 0 },
	};
	(void)state;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char out[512] = "untouched";
		struct err e = { 0 };
		int rc = terminal_challenge_message(out, t[i].cap, t[i].origin, t[i].rental, t[i].nonce,
						    1, &e);
		assert_int_equal(rc, t[i].rc);
		if (rc)
			assert_true(e.msg[0] != 0);
	}
	/* rental id: 128 bytes ok, 129 refused */
	memset(rid129, '7', 129);
	rid129[129] = 0;
	{
		char out[512];
		assert_int_equal(terminal_challenge_message(out, sizeof out, "http://h", rid129, NONCE,
							    1, NULL), ERR_INVALID);
		rid129[128] = 0;
		assert_int_equal(terminal_challenge_message(out, sizeof out, "http://h", rid129, NONCE,
							    1, NULL), 0);
	}
}

/* ---- the endpoint ---- */

struct table_rental {
	const char *id;
	int rc;                      /* lookup result */
	struct eth_address renter;
	bool active;
	const char *account;
};

static struct table_rental R[4];

static int lookup(struct terminal_rental *out, const char *rental_id, void *user, struct err *e)
{
	(void)user;
	for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
		if (!R[i].id || strcmp(R[i].id, rental_id) != 0)
			continue;
		if (R[i].rc)
			return err_set(e, R[i].rc, "lookup says %d", R[i].rc);
		memset(out, 0, sizeof *out);
		out->renter = R[i].renter;
		out->active = R[i].active;
		snprintf(out->account, sizeof out->account, "%s", R[i].account);
		return 0;
	}
	return err_set(e, ERR_NOT_FOUND, "no rental %s", rental_id);
}

static uint64_t skew_ms;
static uint64_t clock_now(void)
{
	return 1000000 + skew_ms;
}

struct fx {
	struct http_server *srv;
	struct terminal *term;
	uint16_t port;
	uint8_t k1[32], k2[32];
	struct eth_address a1, a2;
};

static int setup(void **state)
{
	static const char *const allowed[] = { "https://app.example", NULL };
	struct fx *f = calloc(1, sizeof *f);
	struct http_config hc;
	struct terminal_cfg tc;
	struct err e = { 0 };

	if (!f)
		return -1;
	hex_decode_exact(f->k1, 32, KEY1, NULL);
	hex_decode_exact(f->k2, 32, KEY2, NULL);
	secp_address(&f->a1, f->k1, NULL);
	secp_address(&f->a2, f->k2, NULL);
	memset(R, 0, sizeof R);
	R[0] = (struct table_rental){ "7", 0, f->a1, true, "root" };      /* system uid: refused */
	R[1] = (struct table_rental){ "8", 0, f->a1, false, "nobody" };   /* inactive */
	R[2] = (struct table_rental){ "9", ERR_NET, f->a1, true, "x" };   /* chain down */
	R[3] = (struct table_rental){ "10", 0, f->a1, true, "fmnosuchuser0" }; /* no account */
	memset(&hc, 0, sizeof hc);
	hc.rate_disabled = true;
	memset(&tc, 0, sizeof tc);
	tc.origin = "https://gpu1.example:7070";
	tc.allowed_origins = allowed;
	tc.lookup = lookup;
	tc.now_ms = clock_now;
	skew_ms = 0;
	if (http_server_new(&f->srv, &hc, &e) || terminal_new(&f->term, &tc, &e) ||
	    terminal_routes(f->term, f->srv, &e) || http_server_start(f->srv, &e)) {
		print_error("setup: %s\n", e.msg);
		return -1;
	}
	f->port = http_server_port(f->srv);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	terminal_stop(f->term);
	http_server_free(f->srv);
	terminal_free(f->term);
	free(f);
	return 0;
}

/* One request, the whole response (Connection: close) into out; returns the status. */
static int request(struct fx *f, const char *path, const char *extra_headers, char *out,
		   size_t cap)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(f->port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = 0;
	char req[2048];
	size_t n = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	/* WebSocket requests carry their own Connection header: then stop at Content-Length */
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s\r\n", path,
		 extra_headers && strstr(extra_headers, "Connection:") ? "" : "Connection: close\r\n",
		 extra_headers ? extra_headers : "");
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t r;
		if (n + 1 >= cap || poll(&pf, 1, 5000) != 1)
			break;
		r = read(fd, out + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		out[n] = 0;
		{
			const char *end = strstr(out, "\r\n\r\n"), *cl = strstr(out, "Content-Length: ");
			if (end && cl && cl < end &&
			    n >= (size_t)(end + 4 - out) + strtoull(cl + 16, NULL, 10))
				break;
		}
	}
	out[n] = 0;
	close(fd);
	assert_int_equal(sscanf(out, "HTTP/1.1 %d", &status), 1);
	return status;
}

static void challenge(struct fx *f, const char *rental, char nonce[33], char *msg, size_t cap)
{
	char resp[4096];
	char path[256];
	const char *body, *s;
	json_t *j = NULL;

	snprintf(path, sizeof path, "/terminal/%s/challenge", rental);
	assert_int_equal(request(f, path, NULL, resp, sizeof resp), 200);
	body = strstr(resp, "\r\n\r\n");
	assert_non_null(body);
	assert_int_equal(json_parse(&j, body + 4, strlen(body + 4), 0, NULL), 0);
	assert_int_equal(json_get_str(&s, j, "challenge", 32, NULL), 0);
	snprintf(nonce, 33, "%s", s);
	assert_int_equal(json_get_str(&s, j, "message", TERMINAL_MESSAGE_MAX, NULL), 0);
	snprintf(msg, cap, "%s", s);
	json_decref(j);
}

#define WS_HEADERS                                                                                 \
	"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"               \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

/* Challenge for `rental`, signed by key, then the ws request; returns the status. */
static int try_ws(struct fx *f, const char *rental, const uint8_t key[32], const char *headers,
		  char *resp, size_t cap)
{
	char nonce[33], msg[TERMINAL_MESSAGE_MAX], sig[133], path[512];
	uint8_t s65[65];

	challenge(f, rental, nonce, msg, sizeof msg);
	assert_int_equal(eip191_sign(s65, (const uint8_t *)msg, strlen(msg), key, NULL), 0);
	hex_encode_0x(sig, s65, 65);
	snprintf(path, sizeof path, "/terminal/%s/ws?challenge=%s&sig=%s", rental, nonce, sig);
	return request(f, path, headers, resp, cap);
}

static void test_challenge_endpoint(void **state)
{
	struct fx *f = *state;
	char resp[4096], nonce[33], nonce2[33], msg[TERMINAL_MESSAGE_MAX], want[TERMINAL_MESSAGE_MAX];
	const char *exp;

	challenge(f, "7", nonce, msg, sizeof msg);
	challenge(f, "7", nonce2, want, sizeof want);
	assert_string_not_equal(nonce, nonce2); /* fresh each time */
	exp = strstr(msg, "Expires: ");
	assert_non_null(exp);
	assert_int_equal(terminal_challenge_message(want, sizeof want, "https://gpu1.example:7070",
						    "7", nonce, strtoull(exp + 9, NULL, 10), NULL), 0);
	assert_string_equal(msg, want);
	/* CORS for an allowed page; a foreign page is refused */
	assert_int_equal(request(f, "/terminal/7/challenge", "Origin: https://app.example\r\n", resp,
				 sizeof resp), 200);
	assert_non_null(strstr(resp, "Access-Control-Allow-Origin: https://app.example"));
	assert_int_equal(request(f, "/terminal/7/challenge", "Origin: https://evil.example\r\n", resp,
				 sizeof resp), 403);
	assert_non_null(strstr(resp, "origin_not_allowed"));
	assert_int_equal(request(f, "/terminal/a%20b/challenge", NULL, resp, sizeof resp), 400);
}

static void test_ws_refusals(void **state)
{
	struct fx *f = *state;
	char resp[4096], path[512], nonce[33], msg[TERMINAL_MESSAGE_MAX];
	static const struct {
		const char *rental;
		int key;            /* 1 renter, 2 someone else */
		const char *headers;
		int status;
		const char *code;
	} t[] = {
		{ "8", 1, WS_HEADERS "Origin: https://evil.example\r\n", 403, "origin_not_allowed" },
		{ "8", 1, "Upgrade: websocket\r\nConnection: Upgrade\r\n", 400, "bad_handshake" },
		{ "8", 2, WS_HEADERS, 403, "not_renter" },
		{ "8", 1, WS_HEADERS "Origin: https://app.example\r\n", 409, "rental_inactive" },
		{ "9", 1, WS_HEADERS, 502, "chain_unavailable" },
		{ "11", 1, WS_HEADERS, 404, "rental_not_found" },
		{ "7", 1, WS_HEADERS, 409, "account_unavailable" },  /* root: a system uid */
		{ "10", 1, WS_HEADERS, 409, "account_unavailable" }, /* no such user */
	};
	(void)state;

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int st = try_ws(f, t[i].rental, t[i].key == 1 ? f->k1 : f->k2, t[i].headers, resp,
				sizeof resp);
		if (st != t[i].status || !strstr(resp, t[i].code))
			fail_msg("case %zu: %d %s", i, st, resp);
	}
	/* bad signatures */
	challenge(f, "8", nonce, msg, sizeof msg);
	snprintf(path, sizeof path, "/terminal/8/ws?challenge=%s&sig=0x%0130d", nonce, 0);
	assert_int_equal(request(f, path, WS_HEADERS, resp, sizeof resp), 400);
	assert_non_null(strstr(resp, "bad_signature"));
	challenge(f, "8", nonce, msg, sizeof msg);
	snprintf(path, sizeof path, "/terminal/8/ws?challenge=%s", nonce);
	assert_int_equal(request(f, path, WS_HEADERS, resp, sizeof resp), 400);
	/* no challenge at all / a used one */
	assert_int_equal(request(f, "/terminal/8/ws?sig=0x00", WS_HEADERS, resp, sizeof resp), 401);
	assert_int_equal(request(f, path, WS_HEADERS, resp, sizeof resp), 401);
	assert_non_null(strstr(resp, "challenge_invalid"));
}

static void test_ws_expiry(void **state)
{
	struct fx *f = *state;
	char resp[4096], path[512], nonce[33], msg[TERMINAL_MESSAGE_MAX], sig[133];
	uint8_t s65[65];

	/* 60 s exactly after issue: expired; 59.999 s: still valid (then refused as inactive) */
	challenge(f, "8", nonce, msg, sizeof msg);
	assert_int_equal(eip191_sign(s65, (const uint8_t *)msg, strlen(msg), f->k1, NULL), 0);
	hex_encode_0x(sig, s65, 65);
	skew_ms += 60000;
	snprintf(path, sizeof path, "/terminal/8/ws?challenge=%s&sig=%s", nonce, sig);
	assert_int_equal(request(f, path, WS_HEADERS, resp, sizeof resp), 401);
	assert_non_null(strstr(resp, "challenge_expired"));
	challenge(f, "8", nonce, msg, sizeof msg);
	assert_int_equal(eip191_sign(s65, (const uint8_t *)msg, strlen(msg), f->k1, NULL), 0);
	hex_encode_0x(sig, s65, 65);
	skew_ms += 59999;
	snprintf(path, sizeof path, "/terminal/8/ws?challenge=%s&sig=%s", nonce, sig);
	assert_int_equal(request(f, path, WS_HEADERS, resp, sizeof resp), 409);
	/* a challenge for rental 7 presented for rental 8 */
	challenge(f, "7", nonce, msg, sizeof msg);
	assert_int_equal(eip191_sign(s65, (const uint8_t *)msg, strlen(msg), f->k1, NULL), 0);
	hex_encode_0x(sig, s65, 65);
	snprintf(path, sizeof path, "/terminal/8/ws?challenge=%s&sig=%s", nonce, sig);
	assert_int_equal(request(f, path, WS_HEADERS, resp, sizeof resp), 401);
}

static void test_config(void **state)
{
	static const char *const bad1[] = { "javascript:alert(1)", NULL };
	const char *many[TERMINAL_ORIGINS_MAX + 2];
	struct terminal_cfg c;
	struct terminal *t = NULL;
	struct err e = { 0 };
	(void)state;

	memset(&c, 0, sizeof c);
	assert_int_equal(terminal_new(&t, &c, &e), ERR_INVALID); /* no lookup */
	assert_true(e.msg[0] != 0);
	c.lookup = lookup;
	c.origin = "gpu1.example";
	assert_int_equal(terminal_new(&t, &c, &e), ERR_INVALID);
	c.origin = NULL;
	c.allowed_origins = bad1;
	assert_int_equal(terminal_new(&t, &c, &e), ERR_INVALID);
	for (size_t i = 0; i < TERMINAL_ORIGINS_MAX + 1; i++)
		many[i] = "https://a.example";
	many[TERMINAL_ORIGINS_MAX + 1] = NULL;
	c.allowed_origins = many;
	assert_int_equal(terminal_new(&t, &c, &e), ERR_INVALID);
	assert_null(t);
	many[TERMINAL_ORIGINS_MAX] = NULL;
	assert_int_equal(terminal_new(&t, &c, &e), 0);
	assert_int_equal(terminal_sessions(t, NULL), 0);
	assert_int_equal(terminal_close_rental(t, "1"), 0);
	terminal_free(t);
	terminal_free(NULL);
	assert_int_equal(terminal_routes(NULL, NULL, &e), ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_message_bad),
		cmocka_unit_test(test_config),
		cmocka_unit_test_setup_teardown(test_challenge_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ws_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ws_expiry, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
