/*
 * test_jupyter.c — Jupyter in a rental end to end, as root, no mocks: a real anvil with the escrow,
 * two native-coin rentals (A and B) opened on chain by the renter, their real Unix accounts
 * (account_create), the terminal and the Jupyter proxy (agent/jupyter.h) served in-process by the
 * http layer, and the host's real Jupyter server (Debian's jupyter-notebook, else jupyter-server)
 * started by the proxy as each rental's account.
 *
 * Checked: the renter's signed challenge yields a cookie (HttpOnly, SameSite=Lax, Path=/jupyter/A/,
 * Max-Age up to the rental's paid time) and a redirect; through the agent's path a kernel is started
 * over the REST API and a WebSocket execute_request of `import os; print(os.getuid())` prints A's
 * account uid; the server runs as that uid inside A's cgroup. Refused (401, nothing forwarded):
 * without the cookie (HTTP, POST and WebSocket), with B's cookie on A's path, with a made-up one;
 * after a revoke (freeze) the open WebSocket ends and the cookie is dead, a new sign-in works; a
 * `next` that leaves the notebook is 400. Last: the renter stops A on chain, sign-in is 409,
 * jupyter_close_rental (teardown) kills A's server: no process of A's uid is left and its cookie is
 * refused. Needs root, anvil + build/contracts and a Jupyter program; skips cleanly otherwise.
 * Keys are anvil's public development keys (test use only): 0 deployer, 1 renter, 2 provider.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/account.h"
#include "agent/jupyter.h"
#include "agent/terminal.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/deploy.h"
#include "escrow/escrow.h"
#include "eth/eip191.h"
#include "eth/keccak.h"
#include "eth/rpc.h"
#include "net/http.h"
#include "net/ws.h"
#include "support/procs.h"
#include "support/rental_chain.h"

#define RENTER_SSH_KEY \
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICKuv9yuMIX2PZNRe21TvR/DgkbwBfCWOfE2+yD8Ps7d test"

struct rental {
	struct escrow_terms terms;
	char id[24];
	struct account acct;
	char cookie[JUPYTER_TOKEN_HEX + 1];
};

static struct {
	bool ready;
	const char *why;
	struct rental_chain ch;
	char tmp[128], state_dir[160], home_base[64], cg_name[64], run_dir[80];
	struct account_cfg acfg;
	struct rental r[2];
	struct http_server *srv;
	struct terminal *term;
	struct jupyter *jup;
	uint16_t port;
} T;

static int lookup(struct terminal_rental *out, const char *rental_id, void *user, struct err *e)
{
	(void)user;
	for (int i = 0; i < 2; i++) {
		if (strcmp(rental_id, T.r[i].id) != 0)
			continue;
		pthread_mutex_lock(&T.ch.rpc_mu);
		int rc = terminal_rental_from_chain(out, &T.ch.rpc, RENTAL_CHAIN_ID, &T.ch.escrow, "7e57", &T.r[i].terms, 0,
						    e);
		pthread_mutex_unlock(&T.ch.rpc_mu);
		if (rc == 0)
			snprintf(out->account, sizeof out->account, "%s", T.r[i].acct.name);
		return rc;
	}
	return err_set(e, ERR_NOT_FOUND, "no rental %s", rental_id);
}

static bool have_jupyter(void)
{
	return access("/usr/bin/jupyter-notebook", X_OK) == 0 || access("/usr/bin/jupyter-server", X_OK) == 0;
}

static int group_setup(void **state)
{
	struct http_config hc;
	struct terminal_cfg tc;
	struct jupyter_cfg jc;
	char acct_id[64];
	struct err e = { 0 };

	(void)state;
	if (geteuid() != 0) {
		T.why = "needs root (per-rental Unix accounts)";
		return 0;
	}
	if (!have_jupyter()) {
		T.why = "no jupyter-notebook or jupyter-server (scripts/setup installs jupyter-notebook)";
		return 0;
	}
	switch (rental_chain_up(&T.ch, &T.why, &e)) {
	case 1:
		return 0;
	case -1:
		fprintf(stderr, "chain: %s\n", e.msg);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (rental_chain_open(&T.ch, &T.r[i].terms, (uint64_t)i + 1, &e)) {
			fprintf(stderr, "open: %s\n", e.msg);
			return -1;
		}
		snprintf(T.r[i].id, sizeof T.r[i].id, "%" PRIu64, T.r[i].terms.id);
	}
	snprintf(T.tmp, sizeof T.tmp, "/tmp/fm-jup-test.XXXXXX");
	if (!mkdtemp(T.tmp) || chmod(T.tmp, 0755))
		return -1;
	snprintf(T.state_dir, sizeof T.state_dir, "%s/state", T.tmp);
	snprintf(T.home_base, sizeof T.home_base, "/home/fmjup-%d", (int)getpid());
	snprintf(T.cg_name, sizeof T.cg_name, "flopmarket-jup-%d", (int)getpid());
	snprintf(T.run_dir, sizeof T.run_dir, "/run/fm-jup-test-%d", (int)getpid());
	T.acfg.state_dir = T.state_dir;
	T.acfg.home_base = T.home_base;
	T.acfg.cgroup_name = T.cg_name;
	T.acfg.pids_max = 512;
	T.acfg.kill_timeout_ms = 5000;
	for (int i = 0; i < 2; i++) {
		snprintf(acct_id, sizeof acct_id, "jup-test-%d-%s", (int)getpid(), T.r[i].id);
		if (account_create(&T.r[i].acct, &T.acfg, acct_id, RENTER_SSH_KEY, &e)) {
			fprintf(stderr, "account: %s\n", e.msg);
			return -1;
		}
	}
	memset(&hc, 0, sizeof hc);
	hc.rate_disabled = true;
	memset(&tc, 0, sizeof tc);
	tc.lookup = lookup;
	tc.accounts = &T.acfg;
	memset(&jc, 0, sizeof jc);
	if (http_server_new(&T.srv, &hc, &e) || terminal_new(&T.term, &tc, &e)) {
		fprintf(stderr, "server: %s\n", e.msg);
		return -1;
	}
	jc.terminal = T.term;
	jc.accounts = &T.acfg;
	jc.run_dir = T.run_dir;
	if (jupyter_new(&T.jup, &jc, &e) || terminal_routes(T.term, T.srv, &e) || jupyter_routes(T.jup, T.srv, &e) ||
	    http_server_start(T.srv, &e)) {
		fprintf(stderr, "server: %s\n", e.msg);
		return -1;
	}
	T.port = http_server_port(T.srv);
	T.ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[600];
	struct err e = { 0 };

	(void)state;
	terminal_stop(T.term);
	jupyter_free(T.jup);
	http_server_free(T.srv);
	terminal_free(T.term);
	for (int i = 0; i < 2; i++)
		if (T.r[i].acct.name[0] && account_teardown(&T.acfg, T.r[i].acct.name, &e))
			fprintf(stderr, "account teardown: %s\n", e.msg);
	if (T.tmp[0]) {
		snprintf(cmd, sizeof cmd,
			 "for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do "
			 "[ -d \"${d}%s\" ] && rmdir \"${d}%s\"; done 2>/dev/null; rm -rf '%s' '%s' '%s'",
			 T.cg_name, T.cg_name, T.home_base, T.tmp, T.run_dir);
		if (system(cmd) < 0)
			fprintf(stderr, "cleanup failed\n");
	}
	rental_chain_down(&T.ch);
	return 0;
}

#define NEED_READY()                                                                       \
	do {                                                                               \
		if (!T.ready) {                                                            \
			fprintf(stderr, "skipped: %s\n", T.why ? T.why : "setup failed"); \
			skip();                                                            \
		}                                                                          \
	} while (0)

/* ---- a small HTTP + WebSocket client ---- */

static int tcp_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(T.port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* One request on a fresh connection: the whole answer (head_only: its head) in out; the status. */
static int http_do(const char *req, char *out, size_t cap, size_t *body_off, bool head_only, int *fd_out)
{
	size_t n = 0;
	char *end;
	int status = 0, fd = tcp_connect();

	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n + 1 < cap) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t r;
		if (poll(&pf, 1, 60000) != 1)
			break;
		r = read(fd, out + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		out[n] = 0;
		if (head_only && strstr(out, "\r\n\r\n"))
			break;
	}
	out[n] = 0;
	end = strstr(out, "\r\n\r\n");
	assert_non_null(end);
	*body_off = (size_t)(end + 4 - out);
	assert_int_equal(sscanf(out, "HTTP/1.1 %d", &status), 1);
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return status;
}

static void get_challenge(const char *rental, char nonce[TERMINAL_NONCE_HEX + 1], char *message, size_t cap)
{
	char req[512], resp[8192];
	size_t off;
	json_t *j = NULL;
	const char *s;

	snprintf(req, sizeof req,
		 "GET /terminal/%s/challenge HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", rental,
		 (unsigned)T.port);
	assert_int_equal(http_do(req, resp, sizeof resp, &off, false, NULL), 200);
	assert_int_equal(json_parse(&j, resp + off, strlen(resp + off), 0, NULL), 0);
	assert_int_equal(json_get_str(&s, j, "challenge", TERMINAL_NONCE_HEX, NULL), 0);
	snprintf(nonce, TERMINAL_NONCE_HEX + 1, "%s", s);
	assert_int_equal(json_get_str(&s, j, "message", TERMINAL_MESSAGE_MAX, NULL), 0);
	snprintf(message, cap, "%s", s);
	json_decref(j);
}

/* The sign-in: GET /jupyter/<rental>/auth with a fresh signed challenge (extra: more query). Status;
 * with 302 the cookie's whole Set-Cookie line into set_cookie and its value into r->cookie. */
static int sign_in(struct rental *r, const char *extra, char *set_cookie, size_t cap)
{
	char nonce[TERMINAL_NONCE_HEX + 1], msg[TERMINAL_MESSAGE_MAX], sig[133], req[1024], resp[8192];
	uint8_t raw[65];
	size_t off;
	const char *c, *v;
	int st;

	get_challenge(r->id, nonce, msg, sizeof msg);
	assert_int_equal(eip191_sign(raw, (const uint8_t *)msg, strlen(msg), T.ch.renter_key, NULL), 0);
	hex_encode_0x(sig, raw, sizeof raw);
	snprintf(req, sizeof req,
		 "GET /jupyter/%s/auth?challenge=%s&sig=%s%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n",
		 r->id, nonce, sig, extra ? extra : "", (unsigned)T.port);
	st = http_do(req, resp, sizeof resp, &off, false, NULL);
	if (st != 302)
		return st;
	assert_non_null(c = strstr(resp, "Set-Cookie: "));
	if (set_cookie)
		snprintf(set_cookie, cap, "%.*s", (int)strcspn(c, "\r\n"), c);
	assert_non_null(v = strstr(c, JUPYTER_COOKIE "="));
	snprintf(r->cookie, sizeof r->cookie, "%.*s", JUPYTER_TOKEN_HEX, v + strlen(JUPYTER_COOKIE) + 1);
	assert_int_equal(strlen(r->cookie), JUPYTER_TOKEN_HEX);
	return st;
}

/* A request through the proxy with an optional cookie value; the status, the body into out. */
static int through(const char *method, const char *rental, const char *path, const char *cookie, const char *body,
		   char *out, size_t cap)
{
	char req[2048], ck[160] = "", resp[65536];
	size_t off;
	int st;

	if (cookie)
		snprintf(ck, sizeof ck, "Cookie: _xsrf=abc; " JUPYTER_COOKIE "=%s\r\n", cookie);
	snprintf(req, sizeof req,
		 "%s /jupyter/%s/%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%s"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
		 method, rental, path, (unsigned)T.port, ck, body ? strlen(body) : 0, body ? body : "");
	st = http_do(req, resp, sizeof resp, &off, false, NULL);
	if (out)
		snprintf(out, cap, "%s", resp + off);
	return st;
}

struct client {
	int fd;
	struct ws_conn *ws;
	char out[262144];
	size_t out_len;
	bool got_close;
};

static void on_msg(void *user, enum ws_opcode op, const uint8_t *p, size_t n)
{
	struct client *c = user;

	if (op == WS_OP_TEXT || op == WS_OP_BINARY) {
		if (n > sizeof c->out - 1 - c->out_len)
			n = sizeof c->out - 1 - c->out_len;
		memcpy(c->out + c->out_len, p, n);
		c->out_len += n;
		c->out[c->out_len] = 0;
	} else if (op == WS_OP_CLOSE) {
		c->got_close = true;
	}
}

/* Opens a kernel's channels WebSocket through the proxy; the HTTP status (101: c is connected). */
static int ws_open(struct client *c, const char *rental, const char *kernel, const char *cookie)
{
	char req[1024], resp[8192], ck[160] = "";
	size_t off;
	struct ws_opts o = { .client = true };
	int st;

	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (cookie)
		snprintf(ck, sizeof ck, "Cookie: " JUPYTER_COOKIE "=%s\r\n", cookie);
	snprintf(req, sizeof req,
		 "GET /jupyter/%s/api/kernels/%s/channels?session_id=t1 HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		 "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Sec-WebSocket-Version: 13\r\n%s\r\n",
		 rental, kernel, (unsigned)T.port, ck);
	st = http_do(req, resp, sizeof resp, &off, true, &c->fd);
	if (st != 101) {
		close(c->fd);
		c->fd = -1;
		return st;
	}
	assert_non_null(strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	assert_int_equal(ws_conn_new(&c->ws, c->fd, &o, on_msg, c, (uint8_t *)resp + off, strlen(resp + off), NULL), 0);
	return st;
}

static bool client_wait(struct client *c, const char *want, unsigned ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end) {
		struct pollfd pf = { .fd = c->fd, .events = ws_conn_events(c->ws) };
		if (want && strstr(c->out, want))
			return true;
		if (ws_conn_done(c->ws) || (!want && c->got_close))
			return !want;
		(void)poll(&pf, 1, 50);
		(void)ws_conn_io(c->ws, pf.revents);
	}
	return want ? strstr(c->out, want) != NULL : false;
}

static void client_free(struct client *c)
{
	ws_conn_free(c->ws);
	c->ws = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Starts a kernel through the proxy; its id into id. */
static void start_kernel(struct rental *r, char id[64])
{
	char out[8192];
	json_t *j = NULL;
	const char *s;

	int st = through("POST", r->id, "api/kernels", r->cookie, "{}", out, sizeof out);
	if (st != 201)
		fail_msg("POST api/kernels: %d %.500s", st, out);
	assert_int_equal(json_parse(&j, out, strlen(out), 0, NULL), 0);
	assert_int_equal(json_get_str(&s, j, "id", 63, NULL), 0);
	snprintf(id, 64, "%s", s);
	json_decref(j);
}

static const char EXECUTE[] =
	"{\"header\":{\"msg_id\":\"m-uid-1\",\"username\":\"test\",\"session\":\"t1\",\"msg_type\":\"execute_request\","
	"\"version\":\"5.3\",\"date\":\"2026-12-04T00:00:00Z\"},\"parent_header\":{},\"metadata\":{},"
	"\"content\":{\"code\":\"import os; print(os.getuid())\",\"silent\":false,\"store_history\":false,"
	"\"user_expressions\":{},\"allow_stdin\":false,\"stop_on_error\":true},\"channel\":\"shell\",\"buffers\":[]}";

/* ---- tests ---- */

static void test_sign_in_and_kernel_runs_as_the_account(void **state)
{
	char set[512], kid[64], want[64], path[300], cg[4096];
	struct client c;
	long pid;
	FILE *f;
	size_t k;
	(void)state;
	NEED_READY();

	assert_int_equal(sign_in(&T.r[0], NULL, set, sizeof set), 302);
	assert_non_null(strstr(set, "HttpOnly"));
	assert_non_null(strstr(set, "SameSite=Lax"));
	snprintf(want, sizeof want, "Path=/jupyter/%s/;", T.r[0].id);
	assert_non_null(strstr(set, want));
	assert_non_null(strstr(set, "Max-Age="));
	assert_true(atoi(strstr(set, "Max-Age=") + 8) > 3000); /* about the hour paid */
	assert_true(atoi(strstr(set, "Max-Age=") + 8) <= 3600);

	/* the server runs as A's account, in A's cgroup */
	pid = jupyter_server_pid(T.jup, T.r[0].id);
	assert_true(pid > 0);
	assert_true(procs_of_uid((uid_t)T.r[0].acct.uid, "jupyter") >= 1);
	snprintf(path, sizeof path, "/proc/%ld/cgroup", pid);
	assert_non_null(f = fopen(path, "re"));
	k = fread(cg, 1, sizeof cg - 1, f);
	fclose(f);
	cg[k] = 0;
	assert_non_null(strstr(cg, T.r[0].acct.name));

	start_kernel(&T.r[0], kid);
	assert_int_equal(ws_open(&c, T.r[0].id, kid, T.r[0].cookie), 101);
	assert_int_equal(ws_send(c.ws, WS_OP_TEXT, (const uint8_t *)EXECUTE, strlen(EXECUTE), NULL), 0);
	(void)ws_conn_io(c.ws, POLLOUT);
	snprintf(want, sizeof want, "%ld\\n", T.r[0].acct.uid);
	if (!client_wait(&c, want, 60000))
		fail_msg("no '%s' from the kernel; got: %.2000s", want, c.out);
	assert_non_null(strstr(c.out, "stdout"));
	client_free(&c);
}

static void test_refused_without_the_cookie(void **state)
{
	char out[4096], kid[64];
	struct client c;
	(void)state;
	NEED_READY();

	if (!T.r[0].cookie[0])
		assert_int_equal(sign_in(&T.r[0], NULL, NULL, 0), 302);
	assert_int_equal(through("GET", T.r[0].id, "api/kernels", NULL, NULL, out, sizeof out), 401);
	assert_non_null(strstr(out, "jupyter_auth"));
	assert_int_equal(through("POST", T.r[0].id, "api/kernels", NULL, "{}", out, sizeof out), 401);
	assert_int_equal(through("GET", T.r[0].id, "api/kernels",
				 "00000000000000000000000000000000000000000000000000000000000000ff", NULL, out, sizeof out),
			 401);
	start_kernel(&T.r[0], kid); /* with it, fine */
	assert_int_equal(ws_open(&c, T.r[0].id, kid, NULL), 401);
	assert_int_equal(through("GET", T.r[0].id, "api/kernels", T.r[0].cookie, NULL, out, sizeof out), 200);
	assert_non_null(strstr(out, kid));
}

static void test_another_rentals_cookie_is_refused(void **state)
{
	char out[4096], kid[64];
	struct client c;
	(void)state;
	NEED_READY();

	if (!T.r[0].cookie[0])
		assert_int_equal(sign_in(&T.r[0], NULL, NULL, 0), 302);
	assert_int_equal(sign_in(&T.r[1], NULL, NULL, 0), 302);
	/* B's own works; B's on A's path and A's on B's do not */
	assert_int_equal(through("GET", T.r[1].id, "api/kernels", T.r[1].cookie, NULL, out, sizeof out), 200);
	assert_int_equal(through("GET", T.r[0].id, "api/kernels", T.r[1].cookie, NULL, out, sizeof out), 401);
	assert_int_equal(through("POST", T.r[0].id, "api/kernels", T.r[1].cookie, "{}", out, sizeof out), 401);
	assert_int_equal(through("GET", T.r[1].id, "api/kernels", T.r[0].cookie, NULL, out, sizeof out), 401);
	start_kernel(&T.r[0], kid);
	assert_int_equal(ws_open(&c, T.r[0].id, kid, T.r[1].cookie), 401);
	/* two servers, two accounts */
	assert_true(jupyter_server_pid(T.jup, T.r[1].id) > 0);
	assert_true(jupyter_server_pid(T.jup, T.r[1].id) != jupyter_server_pid(T.jup, T.r[0].id));
	assert_true(procs_of_uid((uid_t)T.r[1].acct.uid, "jupyter") >= 1);
}

static void test_bad_next_is_refused(void **state)
{
	(void)state;
	NEED_READY();
	assert_int_equal(sign_in(&T.r[0], "&next=..%2F..%2Fterminal", NULL, 0), 400);
	assert_int_equal(sign_in(&T.r[0], "&next=%2Fetc", NULL, 0), 400);
	assert_int_equal(sign_in(&T.r[0], "&next=api/status", NULL, 0), 302);
}

static void test_revoke_ends_sessions_and_cookies(void **state)
{
	char out[4096], kid[64], old[JUPYTER_TOKEN_HEX + 1];
	struct client c;
	(void)state;
	NEED_READY();

	assert_int_equal(sign_in(&T.r[0], NULL, NULL, 0), 302);
	start_kernel(&T.r[0], kid);
	assert_int_equal(ws_open(&c, T.r[0].id, kid, T.r[0].cookie), 101);
	snprintf(old, sizeof old, "%s", T.r[0].cookie);
	assert_true(jupyter_revoke_rental(T.jup, T.r[0].id) >= 1);
	assert_true(client_wait(&c, NULL, 5000)); /* the pump ended: the socket closed */
	client_free(&c);
	assert_int_equal(through("GET", T.r[0].id, "api/kernels", old, NULL, out, sizeof out), 401);
	/* B is untouched */
	assert_int_equal(through("GET", T.r[1].id, "api/kernels", T.r[1].cookie, NULL, out, sizeof out), 200);
	/* signing in again works, with the same server */
	assert_int_equal(sign_in(&T.r[0], NULL, NULL, 0), 302);
	assert_int_equal(through("GET", T.r[0].id, "api/kernels", T.r[0].cookie, NULL, out, sizeof out), 200);
}

/* Last: A stopped on chain; the agent's teardown closes its notebook. */
static void test_after_stop_nothing_is_left(void **state)
{
	struct err e = { 0 };
	char out[4096];
	(void)state;
	NEED_READY();

	if (!T.r[0].cookie[0])
		assert_int_equal(sign_in(&T.r[0], NULL, NULL, 0), 302);
	if (rental_chain_stop(&T.ch, &T.r[0].terms, &e))
		fail_msg("stop: %s", e.msg);
	assert_int_equal(sign_in(&T.r[0], NULL, NULL, 0), 409);
	jupyter_close_rental(T.jup, T.r[0].id);
	assert_int_equal(jupyter_server_pid(T.jup, T.r[0].id), 0);
	assert_int_equal(through("GET", T.r[0].id, "api/kernels", T.r[0].cookie, NULL, out, sizeof out), 401);
	assert_int_equal(account_teardown(&T.acfg, T.r[0].acct.name, &e), 0);
	assert_int_equal(procs_of_uid((uid_t)T.r[0].acct.uid, NULL), 0);
	T.r[0].acct.name[0] = '\0';
	/* B still works */
	assert_int_equal(through("GET", T.r[1].id, "api/kernels", T.r[1].cookie, NULL, out, sizeof out), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_in_and_kernel_runs_as_the_account),
		cmocka_unit_test(test_refused_without_the_cookie),
		cmocka_unit_test(test_another_rentals_cookie_is_refused),
		cmocka_unit_test(test_bad_next_is_refused),
		cmocka_unit_test(test_revoke_ends_sessions_and_cookies),
		cmocka_unit_test(test_after_stop_nothing_is_left),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
