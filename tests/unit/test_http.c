/*
 * test_http.c — the HTTP server layer (src/net/http.c, sse.c), the metrics
 * registry and the rate limiter, exercised over real sockets on 127.0.0.1
 * with libcurl (and one raw socket for the body cap). Servers listen on
 * port 0 and report the bound port.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "net/http.h"
#include "net/metrics.h"
#include "net/ratelimit.h"

/* ---- client helper ---- */

struct reply {
	long status;
	struct buf body;
	char retry_after[32];
	char allow[64];
	char ctype[128];
	int stop_after;      /* SSE: abort after this many bytes (0: never) */
	volatile int *seen;  /* set to 1 when the first byte arrives */
};

static size_t on_body(char *p, size_t sz, size_t n, void *u)
{
	struct reply *r = u;
	if (buf_append(&r->body, p, sz * n))
		return 0;
	if (r->seen)
		*r->seen = 1;
	if (r->stop_after && r->body.len >= (size_t)r->stop_after)
		return 0;
	return sz * n;
}

static void copy_hdr(char *dst, size_t cap, const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n > k && strncasecmp(line, name, k) == 0) {
		size_t v = n - k;
		while (v && (line[k + v - 1] == '\r' || line[k + v - 1] == '\n'))
			v--;
		if (v >= cap)
			v = cap - 1;
		memcpy(dst, line + k, v);
		dst[v] = 0;
	}
}

static size_t on_header(char *p, size_t sz, size_t n, void *u)
{
	struct reply *r = u;
	copy_hdr(r->retry_after, sizeof r->retry_after, p, sz * n, "Retry-After: ");
	copy_hdr(r->allow, sizeof r->allow, p, sz * n, "Allow: ");
	copy_hdr(r->ctype, sizeof r->ctype, p, sz * n, "Content-Type: ");
	return sz * n;
}

/* Performs one request; returns the curl code. */
static CURLcode call(struct reply *r, uint16_t port, const char *method, const char *path,
		     const char *body, size_t blen, const char *hdr)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	char url[4096];
	CURLcode rc;

	assert_non_null(c);
	if (!r->body.max)
		buf_init(&r->body, 1 << 20);
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)blen);
	}
	hl = curl_slist_append(hl, "Expect:");
	if (hdr)
		hl = curl_slist_append(hl, hdr);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return rc;
}

static void reply_reset(struct reply *r)
{
	buf_release(&r->body);
	memset(r, 0, sizeof *r);
}

static const char *body_of(struct reply *r)
{
	return buf_cstr(&r->body);
}

/* ---- handlers ---- */

static int h_item(struct http_req *req, struct http_resp *resp, void *ctx)
{
	(void)ctx;
	return http_json(resp, 200, json_pack("{s:s,s:s}", "id", http_param(req, "id"), "route",
					      req->route));
}

static int h_query(struct http_req *req, struct http_resp *resp, void *ctx)
{
	json_t *o = json_object();
	(void)ctx;
	for (size_t i = 0; i < req->nquery; i++)
		json_object_set_new(o, req->query[i].key, json_string(req->query[i].value));
	return http_json(resp, 200, o);
}

static int h_fail(struct http_req *req, struct http_resp *resp, void *ctx)
{
	(void)req;
	(void)resp;
	(void)ctx;
	return ERR_IO;
}

static int h_auth(struct http_req *req, struct http_resp *resp, void *ctx)
{
	const char *t = http_bearer(req);
	(void)ctx;
	if (!t)
		return http_error(resp, 401, "unauthorized", "authorization", "bearer token required");
	return http_json(resp, 200, json_pack("{s:s,s:s}", "token", t, "addr", req->client_addr));
}

static int h_json(struct http_req *req, struct http_resp *resp, void *ctx)
{
	json_t *j;
	(void)ctx;
	if (http_json_body(&j, req, resp))
		return 0;
	return http_json(resp, 201, j);
}

struct ticker {
	int n, max;           /* events sent, events before closing */
	volatile int freed;   /* user_free ran */
};

static int tick(struct http_sse *s, void *user)
{
	struct ticker *t = user;
	char data[32];
	if (t->max && t->n >= t->max)
		return 1;
	snprintf(data, sizeof data, "tick %d\nline2", t->n);
	if (http_sse_send(s, "tick", NULL, data, NULL))
		return 1;
	t->n++;
	return 0;
}

static void ticker_free(void *user)
{
	struct ticker *t = user;
	t->freed = 1;
}

static struct ticker g_ticker;   /* /events: 3 ticks then end */
static struct ticker g_forever;  /* /forever: heartbeats only */
static struct ticker g_abort;    /* /abort: ticks forever */

static int h_events(struct http_req *req, struct http_resp *resp, void *ctx)
{
	struct ticker *t = ctx;
	struct http_sse_opts o = { 0 };
	o.poll_ms = 20;
	o.heartbeat_ms = t == &g_forever ? 30 : 10000;
	o.poll = t == &g_forever ? NULL : tick;
	o.user_free = ticker_free;
	o.user = t;
	return http_sse_start(resp, req, &o, NULL, NULL);
}

static struct http_server *start(const struct http_config *cfg)
{
	struct http_server *s = NULL;
	struct err e = { 0 };
	if (http_server_new(&s, cfg, &e))
		fail_msg("new: %s", e.msg);
	assert_int_equal(http_route(s, "GET", "/items/{id}", h_item, NULL, &e), 0);
	assert_int_equal(http_route(s, "GET", "/items/{id}/receipt", h_item, NULL, &e), 0);
	assert_int_equal(http_route(s, "GET", "/q", h_query, NULL, &e), 0);
	assert_int_equal(http_route(s, "GET", "/fail", h_fail, NULL, &e), 0);
	assert_int_equal(http_route(s, "GET", "/auth", h_auth, NULL, &e), 0);
	assert_int_equal(http_route(s, "POST", "/json", h_json, NULL, &e), 0);
	assert_int_equal(http_route(s, "PUT", "/json", h_json, NULL, &e), 0);
	assert_int_equal(http_route(s, "GET", "/events", h_events, &g_ticker, &e), 0);
	assert_int_equal(http_route(s, "GET", "/forever", h_events, &g_forever, &e), 0);
	assert_int_equal(http_route(s, "GET", "/abort", h_events, &g_abort, &e), 0);
	assert_int_equal(http_route(s, "GET", "/free/{rest...}", h_query, NULL, &e), 0);
	assert_int_equal(http_route_unlimited(s, "/free/{rest...}", &e), 0);
	assert_int_equal(http_route_unlimited(s, "/nosuch", &e), ERR_NOT_FOUND);
	/* bad patterns and duplicates */
	assert_int_equal(http_route(s, "GET", "/items/{id}", h_item, NULL, &e), ERR_CONFLICT);
	assert_true(e.msg[0] != 0);
	assert_int_equal(http_route(s, "GET", "items", h_item, NULL, &e), ERR_INVALID);
	assert_int_equal(http_route(s, "GET", "/a/{b", h_item, NULL, &e), ERR_INVALID);
	assert_int_equal(http_route(s, "GET", "/a//b", h_item, NULL, &e), ERR_INVALID);
	if (http_server_start(s, &e))
		fail_msg("start: %s", e.msg);
	assert_true(http_server_port(s) != 0);
	assert_int_equal(http_route(s, "GET", "/late", h_item, NULL, &e), ERR_STATE);
	return s;
}

static void test_routing(void **state)
{
	(void)state;
	struct http_config cfg = { 0 };
	cfg.rate_disabled = true;
	struct http_server *s = start(&cfg);
	uint16_t port = http_server_port(s);
	struct reply r = { 0 };

	assert_int_equal(call(&r, port, "GET", "/items/42", NULL, 0, NULL), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(body_of(&r), "{\"id\":\"42\",\"route\":\"/items/{id}\"}");
	assert_string_equal(r.ctype, "application/json");
	reply_reset(&r);
	call(&r, port, "GET", "/items/a%20b/receipt", NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(body_of(&r), "{\"id\":\"a b\",\"route\":\"/items/{id}/receipt\"}");
	reply_reset(&r);
	call(&r, port, "GET", "/items/", NULL, 0, NULL); /* empty param: no match */
	assert_int_equal(r.status, 404);
	reply_reset(&r);
	call(&r, port, "GET", "/nope", NULL, 0, NULL);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(body_of(&r), "\"code\":\"not_found\""));
	assert_non_null(strstr(body_of(&r), "\"field\":\"path\""));
	reply_reset(&r);
	call(&r, port, "DELETE", "/items/42", NULL, 0, NULL);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET");
	assert_non_null(strstr(body_of(&r), "method_not_allowed"));
	reply_reset(&r);
	call(&r, port, "GET", "/json", NULL, 0, NULL);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "POST, PUT");
	reply_reset(&r);
	call(&r, port, "GET", "/q?a=1&b=two%20words&c", NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(body_of(&r), "{\"a\":\"1\",\"b\":\"two words\",\"c\":\"\"}");
	reply_reset(&r);
	{
		char path[1024] = "/q?";
		for (int i = 0; i < HTTP_QUERY_MAX + 1; i++)
			snprintf(path + strlen(path), sizeof path - strlen(path), "k%d=v&", i);
		call(&r, port, "GET", path, NULL, 0, NULL);
		assert_int_equal(r.status, 400);
		assert_non_null(strstr(body_of(&r), "\"field\":\"query\""));
		reply_reset(&r);
	}
	call(&r, port, "GET", "/fail", NULL, 0, NULL);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(body_of(&r), "\"code\":\"internal\""));
	reply_reset(&r);
	call(&r, port, "GET", "/auth", NULL, 0, "Authorization: Bearer abc.def-123");
	assert_int_equal(r.status, 200);
	assert_string_equal(body_of(&r), "{\"token\":\"abc.def-123\",\"addr\":\"127.0.0.1\"}");
	reply_reset(&r);
	call(&r, port, "GET", "/auth", NULL, 0, "Authorization: Basic abc");
	assert_int_equal(r.status, 401);
	assert_non_null(strstr(body_of(&r), "\"field\":\"authorization\""));
	reply_reset(&r);
	call(&r, port, "POST", "/json", "{\"x\":[1,2]}", 11, NULL);
	assert_int_equal(r.status, 201);
	assert_string_equal(body_of(&r), "{\"x\":[1,2]}");
	reply_reset(&r);
	call(&r, port, "POST", "/json", "{\"x\":", 5, NULL);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(body_of(&r), "\"code\":\"invalid_json\""));
	assert_non_null(strstr(body_of(&r), "\"field\":\"body\""));
	reply_reset(&r);
	call(&r, port, "POST", "/json", "", 0, NULL);
	assert_int_equal(r.status, 400);
	reply_reset(&r);
	call(&r, port, "POST", "/json", "{\"a\":1,\"a\":2}", 13, NULL); /* duplicate key */
	assert_int_equal(r.status, 400);
	reply_reset(&r);
	call(&r, port, "GET", "/healthz", NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(body_of(&r), "{\"ok\":true}");
	reply_reset(&r);
	/* oversized headers: MHD refuses (431) within its memory cap */
	{
		char *big = malloc(40000);
		memcpy(big, "X-Big: ", 7);
		memset(big + 7, 'a', 40000 - 8);
		big[40000 - 1] = 0;
		call(&r, port, "GET", "/healthz", NULL, 0, big);
		assert_true(r.status == 431 || r.status == 413 || r.status == 0 || r.status == 400);
		assert_int_not_equal(r.status, 200);
		free(big);
		reply_reset(&r);
	}
	http_server_free(s);
}

/* Connects to 127.0.0.1:port (5 s receive timeout) and sends req; the socket. */
static int raw_send(uint16_t port, const char *req)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { 0 };
	struct timeval tv = { 5, 0 };

	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	return fd;
}

/* Sends raw bytes and reads the status line; returns the status. */
static int raw_status(uint16_t port, const char *req)
{
	int fd = raw_send(port, req);
	char buf[256] = { 0 };
	ssize_t n;

	n = recv(fd, buf, sizeof buf - 1, 0);
	close(fd);
	if (n < 12)
		return -1;
	return atoi(buf + 9);
}

static void test_body_cap(void **state)
{
	(void)state;
	struct http_config cfg = { 0 };
	cfg.rate_disabled = true;
	cfg.body_max = 1024;
	struct http_server *s = start(&cfg);
	uint16_t port = http_server_port(s);
	struct reply r = { 0 };
	char *big = malloc(64 << 10);

	memset(big, ' ', 64 << 10);
	big[0] = '[';
	big[(64 << 10) - 1] = ']';
	/* at the cap: accepted */
	big[1023] = ']';
	call(&r, port, "POST", "/json", big, 1024, NULL);
	assert_int_equal(r.status, 201);
	reply_reset(&r);
	big[1023] = ' ';
	/* one over: 413 */
	big[1024] = ']';
	call(&r, port, "POST", "/json", big, 1025, NULL);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(body_of(&r), "body_too_large"));
	reply_reset(&r);
	/* a 1 GB Content-Length with no body sent: answered at once, nothing read */
	assert_int_equal(raw_status(port, "POST /json HTTP/1.1\r\nHost: x\r\n"
				    "Content-Length: 1000000000\r\n\r\n"), 413);
	/* Issue 8.14: a chunked body past the cap is answered 413, like Content-Length (it got no answer) */
	{
		CURLcode rc = call(&r, port, "POST", "/json", big, 64 << 10,
				   "Transfer-Encoding: chunked");
		assert_int_equal(rc, CURLE_OK);
		assert_int_equal(r.status, 413);
		reply_reset(&r);
		char req[4096];
		int n = snprintf(req, sizeof req, "POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
				 "800\r\n");
		memset(req + n, 'a', 2048);
		memcpy(req + n + 2048, "\r\n0\r\n\r\n", 8);
		req[n + 2048 + 8] = '\0';
		assert_int_equal(raw_status(port, req), 413);
	}
	/* Content-Length and Transfer-Encoding together: 400 (request smuggling) */
	assert_int_equal(raw_status(port, "POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
				    "Transfer-Encoding: chunked\r\n\r\n2\r\n[]\r\n0\r\n\r\n"), 400);
	/* a NUL in the request target, encoded: 400, not the route before it */
	assert_int_equal(raw_status(port, "GET /healthz%00.json HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
	assert_int_equal(raw_status(port, "GET /items/7%00x HTTP/1.1\r\nHost: x\r\n\r\n"), 400);
	assert_int_equal(raw_status(port, "GET /items/7%2500 HTTP/1.1\r\nHost: x\r\n\r\n"), 200);
	/* the server still works */
	call(&r, port, "GET", "/healthz", NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	reply_reset(&r);
	free(big);
	http_server_free(s);
}

/* A TCP connection to the server from `src` (a 127.0.0.0/8 address); -1 when refused. */
static int raw_connect(uint16_t port, const char *src)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { 0 }, me = { 0 };

	me.sin_family = AF_INET;
	inet_pton(AF_INET, src, &me.sin_addr);
	if (bind(fd, (struct sockaddr *)&me, sizeof me)) {
		close(fd);
		return -1;
	}
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* GET /healthz on fd; the status, or -1 when the connection is closed or answers nothing in 4 s. */
static int fd_get(int fd)
{
	struct timeval tv = { 4, 0 };
	char buf[256] = { 0 };
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		return -1;
	n = recv(fd, buf, sizeof buf - 1, 0);
	return n < 12 ? -1 : atoi(buf + 9);
}

struct trickle {
	int fd[8];
	size_t n;
	volatile int stop;
};

/* One byte of a request head to every connection every 300 ms (what resets an idle timeout). */
static void *trickle_main(void *arg)
{
	struct trickle *t = arg;
	static const char head[] = "GET /healthz HTTP/1.1\r\nX-Slow: ";
	for (size_t k = 0; !t->stop && k < 40; k++) {
		for (size_t i = 0; i < t->n; i++)
			send(t->fd[i], k < sizeof head - 1 ? &head[k] : "a", 1, MSG_NOSIGNAL);
		usleep(300000);
	}
	return NULL;
}

/*
 * Issue 8.13: slow clients that trickle their request head one byte at a time fill every connection
 * slot; before the fix they held them as long as they trickled (the idle timeout restarts on every
 * byte). The head deadline cuts them and a normal client is served during the trickle. The per-address
 * cap holds: one address cannot take every slot, another address is still served.
 */
static void test_slow_clients(void **state)
{
	(void)state;
	struct http_config cfg = { 0 };
	cfg.rate_disabled = true;
	cfg.conn_max = 8;
	cfg.per_ip_conn_max = 8;
	cfg.head_timeout_ms = 1000;
	struct http_server *s = start(&cfg);
	uint16_t port = http_server_port(s);
	struct trickle t = { .n = 8 };
	pthread_t th;

	for (size_t i = 0; i < t.n; i++)
		assert_true((t.fd[i] = raw_connect(port, "127.0.0.1")) >= 0);
	assert_int_equal(pthread_create(&th, NULL, trickle_main, &t), 0);
	usleep(300000);
	/* all slots taken right now ... */
	uint64_t t0 = clock_mono_ms();
	int st = -1;
	while (st != 200 && clock_mono_ms() - t0 < 6000) {
		int fd = raw_connect(port, "127.0.0.3");
		st = fd >= 0 ? fd_get(fd) : -1;
		if (fd >= 0)
			close(fd);
		if (st != 200)
			usleep(100000);
	}
	uint64_t waited = clock_mono_ms() - t0;
	t.stop = 1;
	pthread_join(th, NULL);
	for (size_t i = 0; i < t.n; i++)
		close(t.fd[i]);
	assert_int_equal(st, 200);
	/* ... served within the head deadline (1 s) plus the reaper's period, while they still trickled */
	if (waited > 3000)
		fail_msg("a normal client waited %llu ms behind slow clients", (unsigned long long)waited);
	http_server_free(s);

	/* per-address cap: 4 idle connections from one address, the 5th from it is refused */
	cfg.conn_max = 64;
	cfg.per_ip_conn_max = 4;
	cfg.head_timeout_ms = 0;
	s = start(&cfg);
	port = http_server_port(s);
	int idle[4];
	for (int i = 0; i < 4; i++)
		assert_true((idle[i] = raw_connect(port, "127.0.0.1")) >= 0);
	usleep(100000);
	int fd = raw_connect(port, "127.0.0.1");
	assert_int_equal(fd >= 0 ? fd_get(fd) : -1, -1);
	if (fd >= 0)
		close(fd);
	fd = raw_connect(port, "127.0.0.2");
	assert_true(fd >= 0);
	assert_int_equal(fd_get(fd), 200);
	close(fd);
	for (int i = 0; i < 4; i++)
		close(idle[i]);
	http_server_free(s);
}

/* The one matcher (server dispatch and the HTTP layer both use it), both ways of each rule. */
static void test_path_match(void **state)
{
	static const struct {
		const char *pattern, *path, *k0, *v0;
		bool match;
	} c[] = {
		{ "/healthz", "/healthz", NULL, NULL, true },
		{ "/healthz", "/healthz/", NULL, NULL, false },
		{ "/items/{id}", "/items/7", "id", "7", true },
		{ "/items/{id}", "/items/", NULL, NULL, false },
		{ "/items/{id}", "/items/7/x", NULL, NULL, false },
		{ "/items/{id}/receipt", "/items/7/receipt", "id", "7", true },
		{ "/items/{id}/receipt", "/items/7/receipts", NULL, NULL, false },
		{ "/rentals/{arg}", "/rentals/1", "arg", "1", true },
		{ "/", "/", NULL, NULL, true },
		{ "/a", "a", NULL, NULL, false },
		/* a last {name...} takes the rest of the path, slashes kept, one segment at least */
		{ "/j/{rest...}", "/j/api/kernels/k1", "rest", "api/kernels/k1", true },
		{ "/j/{rest...}", "/j/tree", "rest", "tree", true },
		{ "/j/{rest...}", "/j/", NULL, NULL, false },
		{ "/j/{rest...}", "/j", NULL, NULL, false },
		{ "/j/{rest...}", "/k/tree", NULL, NULL, false },
	};
	char scratch[2 * HTTP_PATH_MAX + 2];
	(void)state;
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct http_kv kv[HTTP_PARAMS_MAX];
		size_t n = 99;
		bool m = http_path_match(c[i].pattern, c[i].path, kv, HTTP_PARAMS_MAX, &n, scratch, sizeof scratch);
		if (m != c[i].match)
			fail_msg("case %zu: %s vs %s", i, c[i].pattern, c[i].path);
		if (m && c[i].k0) {
			assert_int_equal(n, 1);
			assert_string_equal(kv[0].key, c[i].k0);
			assert_string_equal(kv[0].value, c[i].v0);
		}
	}
	/* two params, the tail last */
	{
		struct http_kv kv[HTTP_PARAMS_MAX];
		size_t n = 0;
		assert_true(http_path_match("/jupyter/{rental}/{rest...}", "/jupyter/7/api/contents/a b.ipynb", kv,
					    HTTP_PARAMS_MAX, &n, scratch, sizeof scratch));
		assert_int_equal(n, 2);
		assert_string_equal(kv[0].value, "7");
		assert_string_equal(kv[1].key, "rest");
		assert_string_equal(kv[1].value, "api/contents/a b.ipynb");
	}
	/* a scratch too small never overflows: no match */
	char tiny[8];
	assert_false(http_path_match("/items/{id}", "/items/7", NULL, 0, NULL, tiny, sizeof tiny));
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct http_config cfg = { 0 };
	cfg.rate_per_s = 0.5;
	cfg.rate_burst = 3;
	struct http_server *s = start(&cfg);
	uint16_t port = http_server_port(s);
	struct reply r = { 0 };

	for (int i = 0; i < 3; i++) {
		call(&r, port, "GET", "/healthz", NULL, 0, NULL);
		assert_int_equal(r.status, 200);
		reply_reset(&r);
	}
	call(&r, port, "GET", "/healthz", NULL, 0, NULL);
	assert_int_equal(r.status, 429);
	assert_true(atoi(r.retry_after) >= 1 && atoi(r.retry_after) <= 2);
	assert_non_null(strstr(body_of(&r), "\"code\":\"rate_limited\""));
	reply_reset(&r);
	/* a route marked unlimited answers past the limit (a notebook page's burst of scripts) ... */
	for (int i = 0; i < 10; i++) {
		call(&r, port, "GET", "/free/static/a.js", NULL, 0, NULL);
		assert_int_equal(r.status, 200);
		reply_reset(&r);
	}
	/* ... and the others stay limited, unknown paths too */
	call(&r, port, "GET", "/items/1", NULL, 0, NULL);
	assert_int_equal(r.status, 429);
	reply_reset(&r);
	call(&r, port, "GET", "/nosuch/path", NULL, 0, NULL);
	assert_int_equal(r.status, 429);
	reply_reset(&r);
	http_server_free(s);
}

static void test_metrics_endpoint(void **state)
{
	(void)state;
	struct http_config cfg = { 0 };
	cfg.rate_disabled = true;
	struct http_server *s = start(&cfg);
	uint16_t port = http_server_port(s);
	struct reply r = { 0 };

	call(&r, port, "GET", "/items/1", NULL, 0, NULL);
	reply_reset(&r);
	call(&r, port, "GET", "/items/2", NULL, 0, NULL);
	reply_reset(&r);
	call(&r, port, "GET", "/zzz", NULL, 0, NULL);
	reply_reset(&r);
	metrics_counter_add(http_server_metrics(s), "app_things_total", "Things", NULL, 5);
	call(&r, port, "GET", "/metrics", NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.ctype, "text/plain; version=0.0.4"));
	const char *t = body_of(&r);
	assert_non_null(strstr(t, "# TYPE http_requests_total counter\n"));
	assert_non_null(strstr(t, "http_requests_total{route=\"/items/{id}\",method=\"GET\",status=\"200\"} 2\n"));
	assert_non_null(strstr(t, "http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"));
	assert_non_null(strstr(t, "# TYPE http_request_duration_seconds histogram\n"));
	assert_non_null(strstr(t, "http_request_duration_seconds_bucket{route=\"/items/{id}\",le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(t, "http_request_duration_seconds_count{route=\"/items/{id}\"} 2\n"));
	assert_non_null(strstr(t, "app_things_total 5\n"));
	assert_non_null(strstr(t, "# TYPE http_connections_open gauge\n"));
	reply_reset(&r);
	http_server_free(s);
}

/* ---- SSE ---- */

static void test_sse_events(void **state)
{
	(void)state;
	struct http_config cfg = { 0 };
	cfg.rate_disabled = true;
	struct http_server *s = start(&cfg);
	uint16_t port = http_server_port(s);
	struct reply r = { 0 };

	memset(&g_ticker, 0, sizeof g_ticker);
	g_ticker.max = 3;
	assert_int_equal(call(&r, port, "GET", "/events", NULL, 0, NULL), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, "text/event-stream");
	assert_string_equal(body_of(&r), "event: tick\ndata: tick 0\ndata: line2\n\n"
					 "event: tick\ndata: tick 1\ndata: line2\n\n"
					 "event: tick\ndata: tick 2\ndata: line2\n\n");
	reply_reset(&r);
	for (int i = 0; i < 100 && !g_ticker.freed; i++)
		usleep(10000);
	assert_true(g_ticker.freed);
	http_server_free(s);
}

struct bg {
	uint16_t port;
	const char *path;
	struct reply r;
	volatile int seen;
	CURLcode rc;
};

static void *bg_call(void *arg)
{
	struct bg *b = arg;
	b->r.seen = &b->seen;
	b->rc = call(&b->r, b->port, "GET", b->path, NULL, 0, NULL);
	return NULL;
}

static void test_sse_server_stop(void **state)
{
	(void)state;
	struct http_config cfg = { 0 };
	cfg.rate_disabled = true;
	struct http_server *s = start(&cfg);
	struct bg b;
	pthread_t th;

	memset(&b, 0, sizeof b);
	memset(&g_forever, 0, sizeof g_forever);
	b.port = http_server_port(s);
	b.path = "/forever";
	assert_int_equal(pthread_create(&th, NULL, bg_call, &b), 0);
	for (int i = 0; i < 300 && !strstr(buf_cstr(&b.r.body), ": ping\n\n: ping"); i++)
		usleep(10000);
	assert_non_null(strstr(buf_cstr(&b.r.body), ": ping\n\n: ping\n\n"));
	http_server_stop(s); /* ends the stream; curl sees a clean end */
	pthread_join(th, NULL);
	assert_int_equal(b.rc, CURLE_OK);
	assert_int_equal(b.r.status, 200);
	assert_true(g_forever.freed);
	reply_reset(&b.r);
	http_server_free(s);
}

static void test_sse_client_gone(void **state)
{
	(void)state;
	struct http_config cfg = { 0 };
	cfg.rate_disabled = true;
	struct http_server *s = start(&cfg);
	struct reply r = { 0 };

	memset(&g_abort, 0, sizeof g_abort);
	r.stop_after = 1; /* abort at the first bytes */
	assert_int_equal(call(&r, http_server_port(s), "GET", "/abort", NULL, 0, NULL),
			 CURLE_WRITE_ERROR);
	for (int i = 0; i < 300 && !g_abort.freed; i++)
		usleep(10000);
	assert_true(g_abort.freed);
	reply_reset(&r);
	http_server_free(s);
}

/* Sends raw bytes and reads the whole answer (the server closes: Connection: close) into out. */
static void raw_answer(uint16_t port, const char *req, char *out, size_t cap)
{
	int fd = raw_send(port, req);
	size_t got = 0;
	ssize_t n;

	while (got + 1 < cap && (n = recv(fd, out + got, cap - 1 - got, 0)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(fd);
}

/*
 * CORS (issue 11: the marketplace's page calls the agent): an admitted Origin gets
 * Access-Control-Allow-Origin on answers and a 204 preflight naming the path's methods; any other
 * origin gets no CORS header and a 403 preflight; a preflight for a method the path lacks is 403.
 */
static void test_cors(void **state)
{
	static const char *const origins[] = { "https://market.example", NULL };
	struct http_config cfg = { 0 };
	struct http_server *s;
	char ans[4096], req[512];
	uint16_t port;
	(void)state;

	cfg.rate_disabled = true;
	cfg.cors_origins = origins;
	s = start(&cfg);
	port = http_server_port(s);

	raw_answer(port, "GET /items/7 HTTP/1.1\r\nHost: x\r\nOrigin: https://market.example\r\nConnection: close\r\n\r\n",
		   ans, sizeof ans);
	assert_non_null(strstr(ans, "HTTP/1.1 200"));
	assert_non_null(strstr(ans, "Access-Control-Allow-Origin: https://market.example\r\n"));
	assert_non_null(strstr(ans, "Vary: Origin"));

	raw_answer(port, "GET /items/7 HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n",
		   ans, sizeof ans);
	assert_non_null(strstr(ans, "HTTP/1.1 200"));
	assert_null(strstr(ans, "Access-Control-Allow-Origin"));

	snprintf(req, sizeof req, "OPTIONS /json HTTP/1.1\r\nHost: x\r\nOrigin: https://market.example\r\n"
		 "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\n"
		 "Connection: close\r\n\r\n");
	raw_answer(port, req, ans, sizeof ans);
	assert_non_null(strstr(ans, "HTTP/1.1 204"));
	assert_non_null(strstr(ans, "Access-Control-Allow-Origin: https://market.example\r\n"));
	assert_non_null(strstr(ans, "Access-Control-Allow-Methods: POST, PUT"));
	assert_non_null(strstr(ans, "Access-Control-Allow-Headers: Content-Type"));

	raw_answer(port, "OPTIONS /json HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n"
		   "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n", ans, sizeof ans);
	assert_non_null(strstr(ans, "HTTP/1.1 403"));
	assert_null(strstr(ans, "Access-Control-Allow-Origin"));

	raw_answer(port, "OPTIONS /json HTTP/1.1\r\nHost: x\r\nOrigin: https://market.example\r\n"
		   "Access-Control-Request-Method: DELETE\r\nConnection: close\r\n\r\n", ans, sizeof ans);
	assert_non_null(strstr(ans, "HTTP/1.1 403"));
	/* "POS" is no method of the path (a prefix of one is not enough) */
	raw_answer(port, "OPTIONS /json HTTP/1.1\r\nHost: x\r\nOrigin: https://market.example\r\n"
		   "Access-Control-Request-Method: POS\r\nConnection: close\r\n\r\n", ans, sizeof ans);
	assert_non_null(strstr(ans, "HTTP/1.1 403"));
	http_server_stop(s);
	http_server_free(s);

	/* Without cors_origins nothing changes: no CORS headers, OPTIONS is 405. */
	cfg.cors_origins = NULL;
	s = start(&cfg);
	raw_answer(http_server_port(s), "OPTIONS /json HTTP/1.1\r\nHost: x\r\nOrigin: https://market.example\r\n"
		   "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n", ans, sizeof ans);
	assert_non_null(strstr(ans, "HTTP/1.1 405"));
	assert_null(strstr(ans, "Access-Control"));
	http_server_stop(s);
	http_server_free(s);
}

/* Reads a whole small file into a malloc'd string. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *p = calloc(1, 16384);
	size_t n;
	assert_non_null(f);
	assert_non_null(p);
	n = fread(p, 1, 16383, f);
	p[n] = 0;
	fclose(f);
	return p;
}

/*
 * TLS (issue 11: a page served over https reaches the agent only over https/wss): with a certificate and
 * key the server answers HTTPS, verified against the CA that signed it; plain HTTP to it fails; a
 * certificate without its key is refused at start. Needs the openssl tool (skips without it).
 */
static void test_tls(void **state)
{
	char dir[] = "/tmp/flop-tls-XXXXXX", cmd[2048], url[64], ca[64], p1[64], p2[64];
	struct http_server *s = NULL;
	struct http_config cfg = { 0 };
	struct err e = { 0 };
	char *cert, *key;
	long status = 0;
	CURL *c;
	(void)state;

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof cmd,
		 "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=ca "
		 "-keyout ca.key -out ca.pem -addext basicConstraints=critical,CA:TRUE 2>/dev/null && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 -keyout key.pem "
		 "-out leaf.csr 2>/dev/null && printf 'subjectAltName=IP:127.0.0.1\\n' > ext && "
		 "openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext "
		 "-out cert.pem 2>/dev/null", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(p1, sizeof p1, "%s/cert.pem", dir);
	snprintf(p2, sizeof p2, "%s/key.pem", dir);
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	cert = slurp(p1);
	key = slurp(p2);

	cfg.rate_disabled = true;
	cfg.tls_cert_pem = cert;
	assert_int_equal(http_server_new(&s, &cfg, &e), 0);
	assert_int_equal(http_server_start(s, &e), ERR_INVALID); /* a certificate without its key */
	http_server_free(s);

	cfg.tls_key_pem = key;
	s = start(&cfg);
	snprintf(url, sizeof url, "https://127.0.0.1:%u/items/9", http_server_port(s));
	assert_non_null(c = curl_easy_init());
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	struct reply r = { 0 };
	buf_init(&r.body, 1 << 16);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body_of(&r), "\"id\":\"9\""));
	/* without the CA the certificate is not trusted */
	curl_easy_setopt(c, CURLOPT_CAINFO, "/dev/null");
	assert_int_not_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	reply_reset(&r);
	/* plain HTTP to the TLS port gets no HTTP answer */
	struct reply plain = { 0 };
	assert_int_not_equal(call(&plain, http_server_port(s), "GET", "/items/9", NULL, 0, NULL), CURLE_OK);
	reply_reset(&plain);
	http_server_stop(s);
	http_server_free(s);
	free(cert);
	free(key);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_start_errors(void **state)
{
	(void)state;
	struct http_server *s = NULL;
	struct http_config cfg = { 0 };
	struct err e = { 0 };

	cfg.bind_addr = "localhost"; /* not an IP literal */
	assert_int_equal(http_server_new(&s, &cfg, &e), 0);
	assert_int_equal(http_server_start(s, &e), ERR_INVALID);
	assert_true(e.msg[0] != 0);
	http_server_free(s);
	/* two servers cannot share a port */
	struct http_server *a = NULL, *b = NULL;
	assert_int_equal(http_server_new(&a, NULL, NULL), 0);
	assert_int_equal(http_server_start(a, NULL), 0);
	cfg.bind_addr = NULL;
	cfg.port = http_server_port(a);
	assert_int_equal(http_server_new(&b, &cfg, NULL), 0);
	assert_int_equal(http_server_start(b, &e), ERR_NET);
	http_server_free(b);
	http_server_stop(a);
	http_server_stop(a);
	http_server_free(a);
	http_server_free(NULL);
	/* IPv6 loopback, when the host has it */
	cfg.bind_addr = "::1";
	cfg.port = 0;
	assert_int_equal(http_server_new(&a, &cfg, NULL), 0);
	if (http_server_start(a, NULL) == 0) {
		struct reply r = { 0 };
		CURL *c = curl_easy_init();
		char url[64];
		buf_init(&r.body, 4096);
		snprintf(url, sizeof url, "http://[::1]:%u/healthz", http_server_port(a));
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
		if (curl_easy_perform(c) == CURLE_OK)
			assert_string_equal(body_of(&r), "{\"ok\":true}");
		curl_easy_cleanup(c);
		reply_reset(&r);
	}
	http_server_free(a);
}

/* ---- registry and limiter units ---- */

static void test_metrics_registry(void **state)
{
	(void)state;
	struct metrics *m = NULL;
	struct buf b;
	char l[128];
	const char *kv[] = { "path", "a\"b\\c\nd", "x", "1" };

	assert_int_equal(metrics_new(&m, NULL), 0);
	assert_int_equal(metrics_labels(l, sizeof l, kv, 2), 0);
	assert_string_equal(l, "path=\"a\\\"b\\\\c\\nd\",x=\"1\"");
	assert_int_equal(metrics_labels(l, 8, kv, 2), ERR_TOO_BIG);
	const char *badkv[] = { "1x", "v" };
	assert_int_equal(metrics_labels(l, sizeof l, badkv, 1), ERR_INVALID);
	assert_int_equal(metrics_counter_add(m, "c_total", "A counter\nwith newline", "k=\"v\"", 2), 0);
	assert_int_equal(metrics_counter_add(m, "c_total", NULL, "k=\"v\"", 3), 0);
	assert_int_equal(metrics_gauge_set(m, "g", "A gauge", NULL, 1.5), 0);
	assert_int_equal(metrics_gauge_add(m, "g", NULL, NULL, -0.25), 0);
	assert_int_equal(metrics_observe(m, "h_seconds", "Latency", NULL, 0.003), 0);
	assert_int_equal(metrics_observe(m, "h_seconds", NULL, NULL, 0.2), 0);
	assert_int_equal(metrics_observe(m, "h_seconds", NULL, NULL, 99), 0);
	assert_int_equal(metrics_gauge_set(m, "c_total", NULL, NULL, 1), ERR_CONFLICT);
	assert_int_equal(metrics_counter_add(m, "bad name", NULL, NULL, 1), ERR_INVALID);
	assert_int_equal(metrics_counter_add(m, "", NULL, NULL, 1), ERR_INVALID);
	buf_init(&b, 1 << 16);
	assert_int_equal(metrics_render(m, &b), 0);
	assert_string_equal(buf_cstr(&b),
		"# HELP c_total A counter\\nwith newline\n"
		"# TYPE c_total counter\n"
		"c_total{k=\"v\"} 5\n"
		"# HELP g A gauge\n"
		"# TYPE g gauge\n"
		"g 1.25\n"
		"# HELP h_seconds Latency\n"
		"# TYPE h_seconds histogram\n"
		"h_seconds_bucket{le=\"0.001\"} 0\n"
		"h_seconds_bucket{le=\"0.0025\"} 0\n"
		"h_seconds_bucket{le=\"0.005\"} 1\n"
		"h_seconds_bucket{le=\"0.01\"} 1\n"
		"h_seconds_bucket{le=\"0.025\"} 1\n"
		"h_seconds_bucket{le=\"0.05\"} 1\n"
		"h_seconds_bucket{le=\"0.1\"} 1\n"
		"h_seconds_bucket{le=\"0.25\"} 2\n"
		"h_seconds_bucket{le=\"0.5\"} 2\n"
		"h_seconds_bucket{le=\"1\"} 2\n"
		"h_seconds_bucket{le=\"2.5\"} 2\n"
		"h_seconds_bucket{le=\"10\"} 2\n"
		"h_seconds_bucket{le=\"+Inf\"} 3\n"
		"h_seconds_sum 99.203\n"
		"h_seconds_count 3\n");
	/* caps: series per family, families */
	for (int i = 0; i < METRICS_SERIES_MAX; i++) {
		snprintf(l, sizeof l, "i=\"%d\"", i);
		assert_int_equal(metrics_counter_add(m, "many_total", NULL, l, 1), 0);
	}
	assert_int_equal(metrics_counter_add(m, "many_total", NULL, "i=\"x\"", 1), ERR_TOO_BIG);
	for (int i = 4; i < METRICS_FAMILIES_MAX; i++) {
		snprintf(l, sizeof l, "fam_%d", i);
		assert_int_equal(metrics_counter_add(m, l, NULL, NULL, 1), 0);
	}
	assert_int_equal(metrics_counter_add(m, "one_too_many", NULL, NULL, 1), ERR_TOO_BIG);
	/* a tiny output buffer fails cleanly */
	struct buf small;
	buf_init(&small, 64);
	assert_int_equal(metrics_render(m, &small), ERR_TOO_BIG);
	buf_release(&small);
	buf_release(&b);
	metrics_free(m);
	metrics_free(NULL);
}

static void test_ratelimit_unit(void **state)
{
	(void)state;
	struct ratelimit *rl = NULL;
	struct err e = { 0 };
	uint32_t ra = 0;

	assert_int_equal(ratelimit_new(&rl, 0, 1, 64, &e), ERR_INVALID);
	assert_true(e.msg[0] != 0);
	assert_int_equal(ratelimit_new(&rl, 1, 0.5, 64, NULL), ERR_INVALID);
	assert_int_equal(ratelimit_new(&rl, 1, 1, 4, NULL), ERR_INVALID);
	assert_int_equal(ratelimit_new(&rl, 2, 4, 8, NULL), 0);
	/* burst of 4, then refused, refill 2/s */
	for (int i = 0; i < 4; i++)
		assert_true(ratelimit_take(rl, "10.0.0.1", 1000, NULL));
	assert_false(ratelimit_take(rl, "10.0.0.1", 1000, &ra));
	assert_int_equal(ra, 1);
	assert_true(ratelimit_take(rl, "10.0.0.2", 1000, NULL)); /* another client */
	assert_false(ratelimit_take(rl, "10.0.0.1", 1400, NULL));
	assert_true(ratelimit_take(rl, "10.0.0.1", 1500, NULL));  /* 0.5 s = 1 token */
	assert_false(ratelimit_take(rl, "10.0.0.1", 1500, NULL));
	/* clock going backwards gives nothing */
	assert_false(ratelimit_take(rl, "10.0.0.1", 500, NULL));
	/* the table holds 8 slots: 100 other clients evict the least constrained, and the
	 * constrained client, if evicted, gets only a normal bucket back */
	char k[32];
	for (int i = 0; i < 100; i++) {
		snprintf(k, sizeof k, "192.168.0.%d", i);
		assert_true(ratelimit_take(rl, k, 1500, NULL));
	}
	int ok = 0;
	for (int i = 0; i < 10; i++)
		ok += ratelimit_take(rl, "10.0.0.1", 1500, NULL);
	assert_true(ok <= 4);
	/* long keys are truncated, NULL key works */
	char longk[200];
	memset(longk, 'z', sizeof longk - 1);
	longk[sizeof longk - 1] = 0;
	assert_true(ratelimit_take(rl, longk, 2000, NULL));
	assert_true(ratelimit_take(rl, NULL, 2000, NULL));
	ratelimit_free(rl);
	ratelimit_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_registry), cmocka_unit_test(test_ratelimit_unit),
		cmocka_unit_test(test_routing),          cmocka_unit_test(test_body_cap),
		cmocka_unit_test(test_slow_clients),     cmocka_unit_test(test_path_match),
		cmocka_unit_test(test_rate_limit),       cmocka_unit_test(test_metrics_endpoint),
		cmocka_unit_test(test_sse_events),       cmocka_unit_test(test_sse_server_stop),
		cmocka_unit_test(test_sse_client_gone),  cmocka_unit_test(test_cors),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_start_errors),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
