/*
 * test_jupyter_wire.c — the bytes of the agent's Jupyter proxy (agent/jupyter_wire.h): the sign-in
 * cookie found among others and refused when malformed, the redirect targets allowed, the answer
 * head parsed (status, type, relayed headers, body, chunked refused), and the request head built
 * (path and query re-encoded, token added, our cookie taken out, a header with a line break refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "agent/jupyter.h"
#include "agent/jupyter_wire.h"
#include "core/buf.h"
#include "core/err.h"
#include "net/http.h"

#define TOK "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_cookie_value(void **state)
{
	char v[JUPYTER_TOKEN_HEX + 1];
	(void)state;

	assert_int_equal(jupyter_cookie_value(v, sizeof v, "fm_jupyter=" TOK), 0);
	assert_string_equal(v, TOK);
	assert_int_equal(jupyter_cookie_value(v, sizeof v, "_xsrf=2|a|b; fm_jupyter=" TOK "; username-x=y"), 0);
	assert_string_equal(v, TOK);
	/* absent, short, long, upper case, another name that ends the same */
	assert_int_equal(jupyter_cookie_value(v, sizeof v, "_xsrf=abc"), -1);
	assert_int_equal(jupyter_cookie_value(v, sizeof v, "fm_jupyter=0123"), -1);
	assert_int_equal(jupyter_cookie_value(v, sizeof v, "fm_jupyter=" TOK "00"), -1);
	assert_int_equal(jupyter_cookie_value(v, sizeof v, "fm_jupyter=0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"), -1);
	assert_int_equal(jupyter_cookie_value(v, sizeof v, "xfm_jupyter=" TOK), -1);
	assert_int_equal(jupyter_cookie_value(v, sizeof v, NULL), -1);
}

static void test_next_ok(void **state)
{
	(void)state;
	assert_true(jupyter_next_ok("tree"));
	assert_true(jupyter_next_ok("api/status"));
	assert_true(jupyter_next_ok("notebooks/train-1.ipynb"));
	assert_false(jupyter_next_ok(""));
	assert_false(jupyter_next_ok("/etc"));
	assert_false(jupyter_next_ok("../terminal"));
	assert_false(jupyter_next_ok("tree?x=1"));
	assert_false(jupyter_next_ok("https://evil.example/"));
}

static void test_answer_parse(void **state)
{
	static const char ok[] = "HTTP/1.1 201 Created\r\nServer: TornadoServer/6.2\r\nContent-Type: application/json\r\n"
				 "Location: /jupyter/7/api/kernels/k1\r\nSet-Cookie: _xsrf=2|x; Path=/jupyter/7/\r\n"
				 "X-Other: dropped\r\n\r\n{\"id\":\"k1\"}";
	static const char ws[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02hi";
	struct jupyter_answer a;
	struct err e = { 0 };
	(void)state;

	assert_int_equal(jupyter_answer_parse(&a, ok, strlen(ok), &e), 0);
	assert_int_equal(a.status, 201);
	assert_string_equal(a.content_type, "application/json");
	assert_int_equal(a.nheaders, 2);
	assert_string_equal(a.headers[0].name, "Location");
	assert_string_equal(a.headers[0].value, "/jupyter/7/api/kernels/k1");
	assert_string_equal(a.headers[1].name, "Set-Cookie");
	assert_int_equal(a.body_len, strlen("{\"id\":\"k1\"}"));
	assert_memory_equal(a.body, "{\"id\":\"k1\"}", a.body_len);
	assert_int_equal(jupyter_answer_parse(&a, ws, sizeof ws - 1, &e), 0);
	assert_int_equal(a.status, 101);
	assert_int_equal(a.body_len, 4); /* the first frame, for the browser */
	assert_int_not_equal(jupyter_answer_parse(&a, "HTTP/1.1 200 OK\r\nContent-Type: x", 31, &e), 0);
	assert_int_not_equal(jupyter_answer_parse(&a, "SSH-2.0-x\r\n\r\n", 13, &e), 0);
	assert_int_not_equal(jupyter_answer_parse(&a, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 49, &e),
			     0);
}


static void test_request_head(void **state)
{
	struct http_req r;
	struct buf b;
	(void)state;

	memset(&r, 0, sizeof r);
	r.method = "GET";
	r.path = "/jupyter/7/api/contents/my notebook.ipynb";
	r.query[0].key = "content";
	r.query[0].value = "1&x=2";
	r.nquery = 1;
	buf_init(&b, 8192);
	/* without the http layer's connection, http_header finds nothing: Host falls back, no cookie */
	assert_int_equal(jupyter_request_head(&b, &r, "tok123", "HTTP/1.0", 0, NULL), 0);
	assert_non_null(strstr(buf_cstr(&b), "GET /jupyter/7/api/contents/my%20notebook.ipynb?content=1%26x%3D2 HTTP/1.0\r\n"));
	assert_non_null(strstr(buf_cstr(&b), "Authorization: token tok123\r\n"));
	assert_non_null(strstr(buf_cstr(&b), "Connection: close\r\n"));
	assert_null(strstr(buf_cstr(&b), "Content-Length"));
	assert_true(b.len > 4 && memcmp(b.data + b.len - 4, "\r\n\r\n", 4) == 0);
	buf_reset(&b);
	r.method = "POST";
	assert_int_equal(jupyter_request_head(&b, &r, "tok123", "HTTP/1.0", 0, NULL), 0);
	assert_non_null(strstr(buf_cstr(&b), "Content-Length: 0\r\n"));
	buf_reset(&b);
	r.method = "GET";
	assert_int_equal(jupyter_request_head(&b, &r, "tok123", "HTTP/1.1", 0, "dGhlIHNhbXBsZSBub25jZQ=="), 0);
	assert_non_null(strstr(buf_cstr(&b), "Upgrade: websocket\r\n"));
	assert_non_null(strstr(buf_cstr(&b), "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	assert_null(strstr(buf_cstr(&b), "Connection: close"));
	buf_reset(&b);
	assert_int_equal(jupyter_request_head(&b, &r, "tok123", "HTTP/1.1", 0, "bad\r\nX-Evil: 1"), ERR_INVALID);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cookie_value),
		cmocka_unit_test(test_next_ok),
		cmocka_unit_test(test_answer_parse),
		cmocka_unit_test(test_request_head),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
