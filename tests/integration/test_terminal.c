/*
 * test_terminal.c — the agent's browser terminal end to end, no mocks: a real anvil with the
 * RentalEscrow deployed (escrow_deploy), a native-coin rental opened on chain by the renter's key,
 * a real per-rental Unix account (account_create), the terminal served in-process by the http
 * layer, and a WebSocket client (src/agent/ws.h, client side, over a raw TCP socket with a
 * hand-written handshake).
 *
 * The rental lookup the daemon would provide is done here from the chain itself
 * (terminal_rental_from_chain with the Terms of the Opened event); only the account name is
 * per run ("term-test-<pid>-<id>"), so that other tests' accounts for rental 1 never clash. Checked: the renter signs a
 * fresh challenge, connects, runs `echo hello-$((6*7))` and reads hello-42 back from the PTY as
 * the account; a resize reaches the PTY (`stty size`); closing the socket kills the shell (no
 * process of the account's uid is left); another wallet's signature is 403; a replayed challenge,
 * an expired one (a test clock) and one for another rental are 401; a bad signature is 400; a
 * foreign Origin is 403 while an allowed one connects; terminal_close_rental ends a live session
 * (close 1001) and its processes; a rental the renter stopped on chain is 409.
 * Needs root (accounts) and anvil + build/contracts; skips cleanly otherwise.
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
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/account.h"
#include "agent/terminal.h"
#include "net/ws.h"
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
#include "eth/secp.h"
#include "eth/rpc.h"
#include "net/http.h"
#include "support/procs.h"
#include "support/rental_chain.h"

#define WEB_ORIGIN "https://app.flopmarket.test"
/* a public key only (its private half was discarded) */
#define RENTER_SSH_KEY \
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICKuv9yuMIX2PZNRe21TvR/DgkbwBfCWOfE2+yD8Ps7d test"

static struct {
	bool ready;
	const char *why;
	struct rental_chain ch;          /* anvil + the escrow; ch.rpc guarded by ch.rpc_mu (lookups run on server threads) */
	char tmp[128], state_dir[160], home_base[64], cg_name[64];
	struct account_cfg acfg;
	struct account acct;
	uint8_t other_key[32];           /* a wallet that is not the renter */
	struct escrow_terms terms;       /* of the open rental */
	char rental[24];                 /* its decimal id */
	char foreign[32];                /* when set, the lookup names this user (not ours) */
	struct http_server *srv;
	struct terminal *term;
	uint16_t port;
	atomic_uint_fast64_t clock_skew_ms; /* the terminal's clock runs this far ahead */
} T;

static uint64_t test_clock(void)
{
	return clock_mono_ms() + atomic_load(&T.clock_skew_ms);
}

/* The daemon's lookup, done from the chain. */
static int lookup(struct terminal_rental *out, const char *rental_id, void *user, struct err *e)
{
	int rc;
	(void)user;

	if (strcmp(rental_id, T.rental) != 0)
		return err_set(e, ERR_NOT_FOUND, "no rental %s", rental_id);
	pthread_mutex_lock(&T.ch.rpc_mu);
	rc = terminal_rental_from_chain(out, &T.ch.rpc, RENTAL_CHAIN_ID, &T.ch.escrow, "7e57", &T.terms, 0, e);
	pthread_mutex_unlock(&T.ch.rpc_mu);
	/* this test's account has a per-run name (other tests on the host use rental "1" too); the foreign
	 * test points it at a user this agent did not create */
	if (rc == 0)
		snprintf(out->account, sizeof out->account, "%s", T.foreign[0] ? T.foreign : T.acct.name);
	return rc;
}

static int group_setup(void **state)
{
	struct http_config hc;
	struct terminal_cfg tc;
	static const char *const allowed[] = { WEB_ORIGIN, NULL };
	char acct_id[64];
	struct err e = { 0 };

	(void)state;
	if (geteuid() != 0) {
		T.why = "needs root (per-rental Unix accounts)";
		return 0;
	}
	switch (rental_chain_up(&T.ch, &T.why, &e)) {
	case 1:
		return 0;
	case -1:
		fprintf(stderr, "chain: %s\n", e.msg);
		return -1;
	}
	if (secp_seckey_generate(T.other_key, &e) || rental_chain_open(&T.ch, &T.terms, 1, &e)) {
		fprintf(stderr, "chain: %s\n", e.msg);
		return -1;
	}
	snprintf(T.rental, sizeof T.rental, "%" PRIu64, T.terms.id);
	/* the rental's account, as the agent's watcher would create it */
	snprintf(T.tmp, sizeof T.tmp, "/tmp/fm-term-test.XXXXXX");
	if (!mkdtemp(T.tmp) || chmod(T.tmp, 0755))
		return -1;
	snprintf(T.state_dir, sizeof T.state_dir, "%s/state", T.tmp);
	snprintf(T.home_base, sizeof T.home_base, "/home/fmterm-%d", (int)getpid());
	snprintf(T.cg_name, sizeof T.cg_name, "flopmarket-term-%d", (int)getpid());
	T.acfg.state_dir = T.state_dir;
	T.acfg.home_base = T.home_base;
	T.acfg.cgroup_name = T.cg_name;
	T.acfg.pids_max = 256;
	T.acfg.kill_timeout_ms = 5000;
	snprintf(acct_id, sizeof acct_id, "term-test-%d-%s", (int)getpid(), T.rental);
	if (account_create(&T.acct, &T.acfg, acct_id, RENTER_SSH_KEY, &e)) {
		fprintf(stderr, "account: %s\n", e.msg);
		return -1;
	}
	/* the terminal, in-process */
	memset(&hc, 0, sizeof hc);
	hc.rate_disabled = true;
	memset(&tc, 0, sizeof tc);
	tc.allowed_origins = allowed;
	tc.lookup = lookup;
	tc.accounts = &T.acfg;
	tc.now_ms = test_clock;
	tc.ping_interval_ms = 5000;
	if (http_server_new(&T.srv, &hc, &e) || terminal_new(&T.term, &tc, &e) ||
	    terminal_routes(T.term, T.srv, &e) || http_server_start(T.srv, &e)) {
		fprintf(stderr, "server: %s\n", e.msg);
		return -1;
	}
	T.port = http_server_port(T.srv);
	T.ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[512];
	struct err e = { 0 };

	(void)state;
	terminal_stop(T.term);
	http_server_free(T.srv);
	terminal_free(T.term);
	if (T.acct.name[0] && account_teardown(&T.acfg, T.acct.name, &e))
		fprintf(stderr, "account teardown: %s\n", e.msg);
	if (T.tmp[0]) {
		snprintf(cmd, sizeof cmd,
			 "for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do "
			 "[ -d \"${d}%s\" ] && rmdir \"${d}%s\"; done 2>/dev/null; rm -rf '%s' '%s'",
			 T.cg_name, T.cg_name, T.home_base, T.tmp);
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

/* Sends req, reads the response head into out; *body_off = where the body starts. Returns status. */
static int http_exchange(int fd, const char *req, char *out, size_t cap, size_t *len,
			 size_t *body_off, bool read_all)
{
	size_t n = 0;
	char *end = NULL;
	int status = 0;

	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (n + 1 < cap) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t r;
		if (poll(&pf, 1, 10000) != 1)
			break;
		r = read(fd, out + n, cap - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		out[n] = 0;
		if (!end && (end = strstr(out, "\r\n\r\n")) && !read_all)
			break;
	}
	out[n] = 0;
	end = strstr(out, "\r\n\r\n");
	assert_non_null(end);
	*body_off = (size_t)(end + 4 - out);
	*len = n;
	assert_int_equal(sscanf(out, "HTTP/1.1 %d", &status), 1);
	return status;
}

/* GET /terminal/<rental>/challenge: nonce and message into the outputs. */
static void get_challenge(const char *rental, char nonce[TERMINAL_NONCE_HEX + 1],
			  char *message, size_t cap)
{
	char req[512], resp[8192];
	size_t len, off;
	json_t *j = NULL;
	const char *s;
	int fd = tcp_connect();

	snprintf(req, sizeof req,
		 "GET /terminal/%s/challenge HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		 "Connection: close\r\n\r\n",
		 rental, (unsigned)T.port);
	assert_int_equal(http_exchange(fd, req, resp, sizeof resp, &len, &off, true), 200);
	close(fd);
	assert_int_equal(json_parse(&j, resp + off, len - off, 0, NULL), 0);
	assert_int_equal(json_get_str(&s, j, "challenge", TERMINAL_NONCE_HEX, NULL), 0);
	snprintf(nonce, TERMINAL_NONCE_HEX + 1, "%s", s);
	assert_int_equal(json_get_str(&s, j, "message", TERMINAL_MESSAGE_MAX, NULL), 0);
	snprintf(message, cap, "%s", s);
	assert_non_null(strstr(message, "Nonce: "));
	assert_non_null(strstr(message, nonce));
	json_decref(j);
}

static void sign(char out[133], const char *message, const uint8_t key[32])
{
	uint8_t sig[65];
	assert_int_equal(eip191_sign(sig, (const uint8_t *)message, strlen(message), key, NULL), 0);
	hex_encode_0x(out, sig, sizeof sig);
}

/* A connected client: fd, ws_conn, everything the shell sent. */
struct client {
	int fd;
	struct ws_conn *ws;
	char out[65536];
	size_t out_len;
	uint16_t server_close;
	bool got_close;
};

static void on_client_msg(void *user, enum ws_opcode op, const uint8_t *p, size_t n)
{
	struct client *c = user;

	if (op == WS_OP_BINARY) {
		if (n > sizeof c->out - 1 - c->out_len)
			n = sizeof c->out - 1 - c->out_len;
		memcpy(c->out + c->out_len, p, n);
		c->out_len += n;
		c->out[c->out_len] = 0;
	} else if (op == WS_OP_CLOSE) {
		c->got_close = true;
		c->server_close = n >= 2 ? (uint16_t)((p[0] << 8) | p[1]) : 0;
	}
}

/* Opens the WebSocket; returns the HTTP status (101 = connected, c set up). */
static int ws_open(struct client *c, const char *rental, const char *nonce, const char *sig,
		   const char *origin)
{
	char req[1024], resp[4096], hdr[128] = "";
	size_t len, off;
	struct ws_opts o = { .client = true };
	int status;

	memset(c, 0, sizeof *c);
	c->fd = tcp_connect();
	if (origin)
		snprintf(hdr, sizeof hdr, "Origin: %s\r\n", origin);
	snprintf(req, sizeof req,
		 "GET /terminal/%s/ws?challenge=%s&sig=%s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		 "%s\r\n",
		 rental, nonce, sig, (unsigned)T.port, hdr);
	status = http_exchange(c->fd, req, resp, sizeof resp, &len, &off, false);
	if (status != 101) {
		print_message("ws refused: %.300s\n", resp);
		close(c->fd);
		c->fd = -1;
		return status;
	}
	/* RFC 6455 1.3 vector: this key's accept value */
	assert_non_null(strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	assert_int_equal(ws_conn_new(&c->ws, c->fd, &o, on_client_msg, c, (uint8_t *)resp + off,
				     len - off, NULL), 0);
	return status;
}

/* Runs the client's I/O until `want` shows up in the output (or the close), at most ms. */
static bool client_wait(struct client *c, const char *want, unsigned ms)
{
	uint64_t end = clock_mono_ms() + ms;

	while (clock_mono_ms() < end) {
		struct pollfd pf = { .fd = c->fd, .events = ws_conn_events(c->ws) };
		if (want && strstr(c->out, want))
			return true;
		if (!want && (c->got_close || ws_conn_done(c->ws)))
			return true;
		if (ws_conn_done(c->ws))
			return false;
		(void)poll(&pf, 1, 50);
		(void)ws_conn_io(c->ws, pf.revents);
	}
	return want ? strstr(c->out, want) != NULL : c->got_close;
}

static void client_send(struct client *c, enum ws_opcode op, const char *s)
{
	assert_int_equal(ws_send(c->ws, op, (const uint8_t *)s, strlen(s), NULL), 0);
	(void)ws_conn_io(c->ws, POLLOUT);
}

static void client_free(struct client *c)
{
	ws_conn_free(c->ws);
	c->ws = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static bool wait_no_procs(uid_t uid, unsigned ms)
{
	uint64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end) {
		if (procs_of_uid(uid, NULL) == 0 && terminal_sessions(T.term, NULL) == 0)
			return true;
		clock_sleep_ms(50);
	}
	return false;
}

/* A session as the renter: challenge, signature, upgrade. */
static void connect_as_renter(struct client *c, const char *origin)
{
	char nonce[TERMINAL_NONCE_HEX + 1], msg[TERMINAL_MESSAGE_MAX], sig[133];

	get_challenge(T.rental, nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.renter_key);
	assert_int_equal(ws_open(c, T.rental, nonce, sig, origin), 101);
}

/* ---- tests ---- */

static void test_session(void **state)
{
	struct client c;
	char want[400];
	(void)state;
	NEED_READY();

	connect_as_renter(&c, WEB_ORIGIN);
	client_send(&c, WS_OP_BINARY, "echo hello-$((6*7))\n");
	assert_true(client_wait(&c, "hello-42", 10000));
	/* it is the rental's account, in its home */
	client_send(&c, WS_OP_BINARY, "echo \"who=$(id -un) home=$PWD\"\n");
	snprintf(want, sizeof want, "who=%s home=%s", T.acct.name, T.acct.home);
	assert_true(client_wait(&c, want, 10000));
	/* inside the account's cgroup (joined as root before the exec) */
	client_send(&c, WS_OP_BINARY, "cat /proc/$$/cgroup\n");
	snprintf(want, sizeof want, "%s/%s", T.cg_name, T.acct.name);
	assert_true(client_wait(&c, want, 10000));
	/* resize -> TIOCSWINSZ; junk control messages are ignored */
	client_send(&c, WS_OP_TEXT, "{\"type\":\"resize\",\"cols\":0,\"rows\":5}");
	client_send(&c, WS_OP_TEXT, "not json");
	client_send(&c, WS_OP_TEXT, "{\"type\":\"resize\",\"cols\":123,\"rows\":45}");
	client_send(&c, WS_OP_BINARY, "stty size\n");
	assert_true(client_wait(&c, "45 123", 10000));
	assert_int_equal(terminal_sessions(T.term, T.rental), 1);
	/* a background job too: closing must take it down with the shell */
	client_send(&c, WS_OP_BINARY, "sleep 600 & echo started-$((1+1))\n");
	assert_true(client_wait(&c, "started-2", 10000));
	assert_true(procs_of_uid((uid_t)T.acct.uid, NULL) >= 2);
	/* the browser closes: the shell and its job are gone */
	assert_int_equal(ws_close(c.ws, WS_CLOSE_NORMAL, "bye"), 0);
	assert_true(client_wait(&c, NULL, 5000));
	client_free(&c);
	assert_true(wait_no_procs((uid_t)T.acct.uid, 5000));
}

static void test_wrong_wallet(void **state)
{
	char nonce[TERMINAL_NONCE_HEX + 1], msg[TERMINAL_MESSAGE_MAX], sig[133];
	struct client c;
	(void)state;
	NEED_READY();

	get_challenge(T.rental, nonce, msg, sizeof msg);
	sign(sig, msg, T.other_key);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, NULL), 403);
	/* the provider's key is not the renter either */
	get_challenge(T.rental, nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.provider_key);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, NULL), 403);
	/* the challenge was used up by the refused try: even the renter cannot reuse it */
	sign(sig, msg, T.ch.renter_key);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, NULL), 401);
}

static void test_replay(void **state)
{
	char nonce[TERMINAL_NONCE_HEX + 1], msg[TERMINAL_MESSAGE_MAX], sig[133];
	struct client c;
	(void)state;
	NEED_READY();

	get_challenge(T.rental, nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.renter_key);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, NULL), 101);
	client_send(&c, WS_OP_BINARY, "exit\n");
	assert_true(client_wait(&c, NULL, 10000)); /* shell exited: the server closes */
	assert_int_equal(c.server_close, WS_CLOSE_NORMAL);
	client_free(&c);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, NULL), 401);
	assert_true(wait_no_procs((uid_t)T.acct.uid, 5000));
}

static void test_expired(void **state)
{
	char nonce[TERMINAL_NONCE_HEX + 1], msg[TERMINAL_MESSAGE_MAX], sig[133];
	struct client c;
	(void)state;
	NEED_READY();

	get_challenge(T.rental, nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.renter_key);
	atomic_fetch_add(&T.clock_skew_ms, 60001);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, NULL), 401);
	/* just inside the 60 s: accepted */
	get_challenge(T.rental, nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.renter_key);
	atomic_fetch_add(&T.clock_skew_ms, 59000);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, NULL), 101);
	client_free(&c);
	assert_true(wait_no_procs((uid_t)T.acct.uid, 5000));
}

static void test_bad_requests(void **state)
{
	char nonce[TERMINAL_NONCE_HEX + 1], msg[TERMINAL_MESSAGE_MAX], sig[133];
	struct client c;
	(void)state;
	NEED_READY();

	/* a foreign page's Origin: refused before the challenge is touched */
	get_challenge(T.rental, nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.renter_key);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, "https://evil.example"), 403);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, "null"), 403);
	/* the agent's own origin is allowed */
	{
		char self[64];
		snprintf(self, sizeof self, "http://127.0.0.1:%u", (unsigned)T.port);
		assert_int_equal(ws_open(&c, T.rental, nonce, sig, self), 101);
		client_free(&c);
	}
	/* a malformed signature */
	get_challenge(T.rental, nonce, msg, sizeof msg);
	assert_int_equal(ws_open(&c, T.rental, nonce, "0x1234", NULL), 400);
	/* a challenge for another rental */
	get_challenge("999", nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.renter_key);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, NULL), 401);
	/* an unknown rental (with its own valid challenge) */
	get_challenge("999", nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.renter_key);
	assert_int_equal(ws_open(&c, "999", nonce, sig, NULL), 404);
	/* a made-up challenge */
	assert_int_equal(ws_open(&c, T.rental, "00000000000000000000000000000000", sig, NULL), 401);
	assert_true(wait_no_procs((uid_t)T.acct.uid, 5000));
}

static void test_close_rental(void **state)
{
	struct client c;
	(void)state;
	NEED_READY();

	connect_as_renter(&c, NULL);
	client_send(&c, WS_OP_BINARY, "sleep 600 & echo bg-$((2+3))\n");
	assert_true(client_wait(&c, "bg-5", 10000));
	assert_int_equal(terminal_close_rental(T.term, T.rental), 1);
	assert_true(client_wait(&c, NULL, 5000));
	assert_true(c.got_close);
	assert_int_equal(c.server_close, WS_CLOSE_GOING_AWAY);
	client_free(&c);
	assert_int_equal(terminal_sessions(T.term, NULL), 0);
	assert_true(wait_no_procs((uid_t)T.acct.uid, 5000));
}

/* Last: the renter stops the rental on chain; the terminal then refuses it. */
static void test_stopped_on_chain(void **state)
{
	char nonce[TERMINAL_NONCE_HEX + 1], msg[TERMINAL_MESSAGE_MAX], sig[133];
	struct client c;
	struct err e = { 0 };
	(void)state;
	NEED_READY();

	if (rental_chain_stop(&T.ch, &T.terms, &e))
		fail_msg("stop: %s", e.msg);
	get_challenge(T.rental, nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.renter_key);
	assert_int_equal(ws_open(&c, T.rental, nonce, sig, NULL), 409);
}

/*
 * Issue 8.7: a Unix user of the rental's account name that this agent did not create (another agent's,
 * or anyone's) is never handed to the renter, even for a valid signed challenge.
 */
static void test_foreign_account_refused(void **state)
{
	char nonce[TERMINAL_NONCE_HEX + 1], msg[TERMINAL_MESSAGE_MAX], sig[133], cmd[160];
	struct client c;
	(void)state;
	NEED_READY();

	snprintf(T.foreign, sizeof T.foreign, "fmforeign%d", (int)getpid() % 100000);
	snprintf(cmd, sizeof cmd, "useradd -M -s /bin/sh %s 2>/dev/null", T.foreign);
	assert_int_equal(system(cmd), 0);
	get_challenge(T.rental, nonce, msg, sizeof msg);
	sign(sig, msg, T.ch.renter_key);
	int st = ws_open(&c, T.rental, nonce, sig, NULL);
	snprintf(cmd, sizeof cmd, "userdel %s 2>/dev/null", T.foreign);
	if (system(cmd) != 0)
		fprintf(stderr, "userdel %s failed\n", T.foreign);
	T.foreign[0] = '\0';
	assert_int_equal(st, 409);
	/* our own account still works */
	connect_as_renter(&c, WEB_ORIGIN);
	assert_int_equal(ws_close(c.ws, WS_CLOSE_NORMAL, "bye"), 0);
	client_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_wrong_wallet),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_close_rental),
		cmocka_unit_test(test_foreign_account_refused),
		cmocka_unit_test(test_stopped_on_chain),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
