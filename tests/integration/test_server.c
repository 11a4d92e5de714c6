/*
 * test_server.c — `flopmarket serve` end to end on 127.0.0.1: a real anvil, the escrow and dev tokens
 * deployed with src/escrow/deploy.h, the server binary as a child process on a free port, and HTTP
 * through libcurl.
 *
 * The tests run in order on one fixture (cmocka group): sign-in with a message and signature made by
 * the npm `siwe` + `ethers` packages (tests/integration/siwe_sign.mjs, an independent client), replay
 * and bad-signature refusals, host registration, offers signed in C (escrow_offer_sign) and published,
 * search with a filter, a rental opened on chain and seen indexed, the provider's access report and the
 * monitor's SSH-banner probe (a fake sshd thread here), the live SSE stream, kill -9 of the server and
 * a restart (nothing lost or duplicated), stop on chain, the receipt (amounts = the Stopped event's,
 * every tx hash), rating, attestation, CSV receipts, and hostile input (malformed JSON, oversized
 * bodies, bad signatures, SQL-looking strings in every text field): each a clean 4xx with the database
 * unchanged (row counts of every table compared before and after). Then (issue 15) two replicas of the
 * server on one PostgreSQL database the test starts itself (tests/support/pg.h): a nonce from one signs
 * in on the other once, an offer posted to one is in the other's search within a second, kill -9 of the
 * indexing replica and the other takes over with every event once and every rental as the single
 * server here recorded them, a stream from either, and a PostgreSQL restart: 503s, then recovery.
 * Keys are anvil's public test keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zlib.h>
#include <jansson.h>
#include <sqlite3.h>
#include <libpq-fe.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/deploy.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"
#include "eth/abi.h"
#include "eth/keccak.h"
#include "eth/keystore.h"
#include "eth/rpc.h"
#include "eth/secp.h"
#include "support/anvil.h"
#include "support/child.h"
#include "support/deploy.h"
#include "support/pg.h"
#include "support/server.h"

#define USDC_RATE_1 "100000000000000000000" /* 100 units/s = 0.36 USDC/h */
#define USDC_RATE_2 "200000000000000000000" /* 0.72 USDC/h */
#define MONITOR_PASS "monitor-test-pass"

struct fx {
	struct anvil node;
	struct rpc rpc;
	char root[1024];
	char dir[256];
	char db[512];
	char dep_path[512];
	char ks_path[512];
	struct escrow_deployment dep;
	struct deploy_fixture fx;
	struct eth_address escrow, usdc;
	uint64_t chain_id;
	struct server_child server;
	uint16_t port;
	char base[64];
	uint8_t key_renter[32], key_provider[32], key_monitor[32];
	struct eth_address renter, provider, monitor;
	char tok_renter[128], tok_provider[128];
	char offer1[67], offer2[67];
	struct escrow_offer o1;
	uint8_t sig1[65];
	struct escrow_terms terms;
	uint64_t rental_id;
	char open_tx[67], stop_tx[67];
	u256 stop_provider, stop_fee, stop_refund, deposit;
	int ssh_fd;
	uint16_t ssh_port;
	pthread_t ssh_thread;
	volatile int ssh_stop;
};

static struct fx F;

/* ---- HTTP ---- */

struct resp {
	long status;
	struct buf body;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
	struct buf *b = ctx;
	return buf_append(b, p, sz * n) ? 0 : sz * n;
}

/* One request; body may be NULL. Returns the status (0 on transport failure). */
static long http(struct resp *r, const char *method, const char *path, const char *body, size_t body_len,
		 const char *token, long timeout_ms)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[2048], auth[256];

	buf_init(&r->body, 8 << 20);
	r->status = 0;
	snprintf(url, sizeof url, "%s%s", F.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms ? timeout_ms : 10000L);
	h = curl_slist_append(h, "Content-Type: application/json");
	if (token) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
	}
	CURLcode cc = curl_easy_perform(c);
	if (cc == CURLE_OK || cc == CURLE_OPERATION_TIMEDOUT)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return r->status;
}

/* A GET with one extra request header (may be NULL); the answer's raw head and body (not decoded). */
static long http_get_raw(struct buf *head, struct buf *body, const char *path, const char *header)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[2048];
	long status = 0;

	buf_init(head, 64 << 10);
	buf_init(body, 8 << 20);
	snprintf(url, sizeof url, "%s%s", F.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data); /* the head collects as the body does */
	curl_easy_setopt(c, CURLOPT_HEADERDATA, head);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	if (header)
		h = curl_slist_append(h, header);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

/* The value of header `name` in a raw head (copied into out), or "" when absent. */
static void head_value(char *out, size_t cap, const struct buf *head, const char *name)
{
	const char *p = buf_cstr(head);
	size_t n = strlen(name);

	out[0] = '\0';
	for (; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1;
			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)strcspn(v, "\r\n"), v);
			return;
		}
}

/*
 * Issue 10 over the wire: a search answer's ETag revalidates to 304 with no body, and its gzip copy
 * (Content-Encoding: gzip, Vary: Accept-Encoding) inflates to the plain body.
 */
static void check_conditional_and_gzip(const char *path)
{
	struct buf head, body, gh, gb;
	char etag[64], inm[96], enc[32], vary[64];
	uint8_t *plain;
	z_stream z;

	assert_int_equal(http_get_raw(&head, &body, path, NULL), 200);
	head_value(etag, sizeof etag, &head, "ETag");
	assert_true(etag[0] == '"');
	head_value(vary, sizeof vary, &head, "Cache-Control");
	assert_string_equal(vary, "public, no-cache");
	snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
	assert_int_equal(http_get_raw(&gh, &gb, path, inm), 304);
	assert_int_equal(gb.len, 0);
	buf_release(&gh);
	buf_release(&gb);
	assert_true(body.len >= 1024);
	assert_int_equal(http_get_raw(&gh, &gb, path, "Accept-Encoding: gzip"), 200);
	head_value(enc, sizeof enc, &gh, "Content-Encoding");
	head_value(vary, sizeof vary, &gh, "Vary");
	assert_string_equal(enc, "gzip");
	assert_string_equal(vary, "Accept-Encoding");
	assert_true(gb.len < body.len);
	plain = malloc(body.len + 1);
	assert_non_null(plain);
	memset(&z, 0, sizeof z);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gb.data;
	z.avail_in = (uInt)gb.len;
	z.next_out = plain;
	z.avail_out = (uInt)body.len + 1;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, body.len);
	assert_memory_equal(plain, body.data, body.len);
	inflateEnd(&z);
	free(plain);
	buf_release(&head);
	buf_release(&body);
	buf_release(&gh);
	buf_release(&gb);
}

static json_t *http_json(long *status, const char *method, const char *path, const char *body,
			 const char *token)
{
	struct resp r;
	json_t *j = NULL;

	*status = http(&r, method, path, body, body ? strlen(body) : 0, token, 0);
	if (r.body.len)
		json_parse(&j, (const char *)r.body.data, r.body.len, 0, NULL);
	buf_release(&r.body);
	return j;
}

static const char *jstr(const json_t *j, const char *path)
{
	const json_t *v = j;
	char tmp[128], *save = NULL;
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *k = strtok_r(tmp, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- database row counts (the "unchanged" check) ---- */

static char *db_counts(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	struct buf b;

	buf_init(&b, 1 << 20);
	assert_int_equal(sqlite3_open_v2(F.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name",
					    -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char q[256];
		sqlite3_stmt *c;
		snprintf(q, sizeof q, "SELECT count(*) FROM \"%s\"", sqlite3_column_text(st, 0));
		if (sqlite3_prepare_v2(db, q, -1, &c, NULL) == SQLITE_OK && sqlite3_step(c) == SQLITE_ROW)
			buf_printf(&b, "%s=%lld ", sqlite3_column_text(st, 0), sqlite3_column_int64(c, 0));
		sqlite3_finalize(c);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (char *)buf_detach(&b, NULL);
}

static long long db_count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long n = -1;
	assert_int_equal(sqlite3_open_v2(F.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* ---- the server child ---- */

static void server_start(void)
{
	char db[600], log[600], why[2048];
	const char *extra[] = { "--monitor-keystore", F.ks_path, "--body-max", "65536", NULL };
	const char *env[] = { "FLOPMARKET_MONITOR_PASSPHRASE=" MONITOR_PASS, "FLOPMARKET_LOG_LEVEL=warn", NULL };
	struct server_child_opts o = { .bin = child_bin(F.root), .rpc_url = F.node.url, .db = db,
				       .deployment = F.dep_path, .log = log, .monitor_ms = "300",
				       .extra = extra, .env = env };

	snprintf(db, sizeof db, "sqlite:%s", F.db);
	snprintf(log, sizeof log, "%s/server.log", F.dir);
	if (server_child_start(&F.server, &o, why, sizeof why))
		fail_msg("%s", why);
	F.port = F.server.port;
	snprintf(F.base, sizeof F.base, "%s", F.server.base);
}

static void server_kill(int sig)
{
	server_child_stop(&F.server, sig);
}

/* Waits until the indexer reached the chain head. */
static void wait_indexed(void)
{
	uint64_t head = 0;
	struct err e = { 0 };
	assert_int_equal(rpc_block_number(&F.rpc, &head, &e), 0);
	for (int i = 0; i < 200; i++) {
		long st;
		json_t *j = http_json(&st, "GET", "/healthz", NULL, NULL);
		json_int_t b = j ? json_integer_value(json_object_get(j, "indexed_block")) : 0;
		json_decref(j);
		if (st == 200 && (uint64_t)b >= head)
			return;
		usleep(50000);
	}
	fail_msg("indexer did not reach block %" PRIu64, head);
}

/* ---- a fake sshd: accepts and writes a banner (for the monitor's probe) ---- */

static void *ssh_main(void *arg)
{
	(void)arg;
	while (!F.ssh_stop) {
		struct pollfd p = { F.ssh_fd, POLLIN, 0 };
		if (poll(&p, 1, 100) <= 0)
			continue;
		int c = accept(F.ssh_fd, NULL, NULL);
		if (c >= 0) {
			static const char banner[] = "SSH-2.0-FlopTest_1.0\r\n";
			ssize_t w = write(c, banner, sizeof banner - 1);
			(void)w;
			close(c);
		}
	}
	return NULL;
}

static void ssh_start(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	F.ssh_fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(F.ssh_fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(F.ssh_fd, 16), 0);
	getsockname(F.ssh_fd, (struct sockaddr *)&sa, &sl);
	F.ssh_port = ntohs(sa.sin_port);
	pthread_create(&F.ssh_thread, NULL, ssh_main, NULL);
}

/* ---- fixture ---- */

static int group_setup(void **state)
{
	struct err e = { 0 };
	struct escrow_deploy_opts o;
	struct eth_address mint[2];
	struct buf ks;
	(void)state;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&F, 0, sizeof F);
	if (anvil_repo_root(F.root, sizeof F.root, &e))
		return -1;
	snprintf(F.dir, sizeof F.dir, "/tmp/flop-server-XXXXXX");
	if (!mkdtemp(F.dir))
		return -1;
	snprintf(F.db, sizeof F.db, "%s/market.db", F.dir);
	snprintf(F.dep_path, sizeof F.dep_path, "%s/deployment.json", F.dir);
	snprintf(F.ks_path, sizeof F.ks_path, "%s/monitor.json", F.dir);
	if (anvil_start(&F.node, NULL, &e) || rpc_init(&F.rpc, F.node.url, NULL, &e) ||
	    rpc_chain_id(&F.rpc, &F.chain_id, &e)) {
		fprintf(stderr, "setup: %s\n", e.msg);
		return -1;
	}
	anvil_account(0, F.key_renter, &F.renter);
	anvil_account(1, F.key_provider, &F.provider);
	anvil_account(2, F.key_monitor, &F.monitor);
	/* The monitor key in a v3 keystore (fast scrypt for tests). */
	struct keystore_opts ko = { 10 };
	buf_init(&ks, 1 << 16);
	if (keystore_encrypt(&ks, F.key_monitor, MONITOR_PASS, &ko, &e))
		return -1;
	FILE *f = fopen(F.ks_path, "w");
	fwrite(ks.data, 1, ks.len, f);
	fclose(f);
	buf_release(&ks);

	memset(&o, 0, sizeof o);
	o.owner = F.renter;
	o.treasury = F.renter;
	o.monitor = F.monitor;
	o.fee_bps = 1000;
	o.arbiter_window_secs = 3600;
	mint[0] = F.renter;
	mint[1] = F.provider;
	o.mint_to = mint;
	o.n_mint_to = 2;
	o.mint_whole_tokens = 1000000;
	if (deploy_fixture(&F.fx, &F.rpc, F.key_renter, F.root, &o, F.dep_path, &e)) {
		fprintf(stderr, "deploy: %s\n", e.msg);
		return -1;
	}
	F.dep = F.fx.dep;
	F.escrow = F.fx.escrow;
	F.usdc = F.fx.usdc;
	ssh_start();
	server_start();
	return 0;
}

static void replicas_stop(void);

static int group_teardown(void **state)
{
	(void)state;
	replicas_stop();
	server_kill(SIGTERM);
	F.ssh_stop = 1;
	if (F.ssh_thread)
		pthread_join(F.ssh_thread, NULL);
	close(F.ssh_fd);
	rpc_release(&F.rpc);
	anvil_stop(&F.node);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.dir);
	if (system(cmd)) {
	}
	curl_global_cleanup();
	return 0;
}

/* ---- sign-in ---- */

/* Runs siwe_sign.mjs; writes the request body {"message","signature"} to body (room cap). */
static void siwe_make_for(char *body, size_t cap, const char *nonce, const uint8_t key[32], const char *domain,
			  const char *uri);

static void siwe_make(char *body, size_t cap, const char *nonce, const uint8_t key[32], const char *domain)
{
	siwe_make_for(body, cap, nonce, key, domain, domain ? "http://evil.example" : NULL);
}

/* For domain (NULL: the server's listen address) and uri (NULL: its http:// URL). */
static void siwe_make_for(char *body, size_t cap, const char *nonce, const uint8_t key[32], const char *domain,
			  const char *uri)
{
	char cmd[1400], keyhex[67], line[4096], my_domain[64], my_uri[80];
	json_t *j = NULL;

	hex_encode_0x(keyhex, key, 32);
	/* What GET /auth/nonce announces: the listen address. */
	snprintf(my_domain, sizeof my_domain, "127.0.0.1:%u", F.port);
	snprintf(my_uri, sizeof my_uri, "http://127.0.0.1:%u", F.port);
	snprintf(cmd, sizeof cmd, "node %s/tests/integration/siwe_sign.mjs '%s' '%s' %" PRIu64 " '%s' %s 3600",
		 F.root, domain ? domain : my_domain, uri ? uri : my_uri,
		 F.chain_id, nonce, keyhex);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof line, p));
	pclose(p);
	assert_int_equal(json_parse(&j, line, strlen(line), 0, NULL), 0);
	json_t *req = json_pack("{s:O, s:O}", "message", json_object_get(j, "message"), "signature",
				json_object_get(j, "signature"));
	char *s = json_dumps(req, JSON_COMPACT);
	snprintf(body, cap, "%s", s);
	free(s);
	json_decref(req);
	json_decref(j);
}

static void sign_in(char *token_out, size_t cap, const uint8_t key[32])
{
	long st;
	char body[4096];
	json_t *n = http_json(&st, "GET", "/auth/nonce", NULL, NULL);
	assert_int_equal(st, 200);
	siwe_make(body, sizeof body, jstr(n, "nonce"), key, NULL);
	json_decref(n);
	json_t *r = http_json(&st, "POST", "/auth/siwe", body, NULL);
	assert_int_equal(st, 200);
	snprintf(token_out, cap, "%s", jstr(r, "token"));
	json_decref(r);
}

static void test_health_and_metrics(void **state)
{
	long st;
	struct resp r;
	(void)state;
	json_t *j = http_json(&st, "GET", "/healthz", NULL, NULL);
	assert_int_equal(st, 200);
	assert_string_equal(jstr(j, "status"), "ok");
	json_decref(j);
	assert_int_equal(http(&r, "GET", "/metrics", NULL, 0, NULL, 0), 200);
	assert_non_null(strstr((char *)r.body.data, "flop_indexer_lag_blocks"));
	assert_non_null(strstr((char *)r.body.data, "http_requests_total"));
	buf_release(&r.body);
	j = http_json(&st, "GET", "/no/such/route", NULL, NULL);
	assert_int_equal(st, 404);
	assert_non_null(jstr(j, "error.code"));
	json_decref(j);
}

static void test_sign_in(void **state)
{
	long st;
	char body[4096], nonce[64];
	(void)state;
	json_t *n = http_json(&st, "GET", "/auth/nonce", NULL, NULL);
	assert_int_equal(st, 200);
	snprintf(nonce, sizeof nonce, "%s", jstr(n, "nonce"));
	/* The announced domain and URI are what the client signs. */
	char want[64];
	snprintf(want, sizeof want, "127.0.0.1:%u", F.port);
	assert_string_equal(jstr(n, "domain"), want);
	json_decref(n);
	siwe_make(body, sizeof body, nonce, F.key_renter, NULL);
	json_t *r = http_json(&st, "POST", "/auth/siwe", body, NULL);
	assert_int_equal(st, 200);
	assert_non_null(jstr(r, "token"));
	snprintf(F.tok_renter, sizeof F.tok_renter, "%s", jstr(r, "token"));
	json_decref(r);
	/* The same message again: the nonce is spent. */
	r = http_json(&st, "POST", "/auth/siwe", body, NULL);
	assert_int_equal(st, 409);
	assert_string_equal(jstr(r, "error.code"), "nonce_used");
	json_decref(r);
	/* Issue 8.15: unauthenticated nonce requests store nothing (41k rows in a 5-minute soak before);
	 * a forged nonce (right shape, wrong MAC) is refused and burns nothing either. */
	{
		long long rows = db_count("SELECT count(*) FROM auth_nonces");
		for (int i = 0; i < 200; i++) {
			n = http_json(&st, "GET", "/auth/nonce", NULL, NULL);
			assert_int_equal(st, 200);
			json_decref(n);
		}
		assert_int_equal(db_count("SELECT count(*) FROM auth_nonces"), rows);
		char forged[64];
		snprintf(forged, sizeof forged, "%s", nonce);
		forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == '0' ? '1' : '0';
		siwe_make(body, sizeof body, forged, F.key_renter, NULL);
		r = http_json(&st, "POST", "/auth/siwe", body, NULL);
		assert_int_equal(st, 401);
		json_decref(r);
		assert_int_equal(db_count("SELECT count(*) FROM auth_nonces"), rows);
	}
	/* GET /me and logout. */
	r = http_json(&st, "GET", "/me", NULL, F.tok_renter);
	assert_int_equal(st, 200);
	char lower[43];
	address_to_lower(lower, &F.renter);
	assert_string_equal(jstr(r, "address"), lower);
	json_decref(r);
	sign_in(F.tok_provider, sizeof F.tok_provider, F.key_provider);
	char tmp[128];
	sign_in(tmp, sizeof tmp, F.key_renter);
	r = http_json(&st, "POST", "/auth/logout", "", tmp);
	assert_int_equal(st, 200);
	json_decref(r);
	r = http_json(&st, "GET", "/me", NULL, tmp);
	assert_int_equal(st, 401);
	json_decref(r);
}

static void test_sign_in_refusals(void **state)
{
	long st;
	char body[4096], *before, *after;
	(void)state;
	before = db_counts();
	/* Bad signature: one byte of s flipped. */
	json_t *n = http_json(&st, "GET", "/auth/nonce", NULL, NULL);
	char nonce[64];
	snprintf(nonce, sizeof nonce, "%s", jstr(n, "nonce"));
	json_decref(n);
	free(before);
	before = db_counts();
	siwe_make(body, sizeof body, nonce, F.key_renter, NULL);
	char *sig = strstr(body, "\"signature\":\"0x");
	assert_non_null(sig);
	sig += strlen("\"signature\":\"0x") + 70;
	*sig = *sig == 'a' ? 'b' : 'a';
	json_t *r = http_json(&st, "POST", "/auth/siwe", body, NULL);
	assert_true(st == 401 || st == 400);
	json_decref(r);
	/* Wrong domain. */
	siwe_make(body, sizeof body, nonce, F.key_renter, "evil.example:80");
	r = http_json(&st, "POST", "/auth/siwe", body, NULL);
	assert_int_equal(st, 401);
	assert_string_equal(jstr(r, "error.field"), "domain");
	json_decref(r);
	/* A nonce the server never issued. */
	siwe_make(body, sizeof body, "neverIssued12345", F.key_renter, NULL);
	r = http_json(&st, "POST", "/auth/siwe", body, NULL);
	assert_int_equal(st, 401);
	json_decref(r);
	/* Malformed JSON, wrong types, oversized body, SQL in the message. */
	static const char *const bad[] = {
		"{", "[]", "{\"message\":1,\"signature\":\"0x00\"}", "{\"message\":\"x\"}",
		"{\"message\":\"' OR 1=1; DROP TABLE sessions; --\",\"signature\":\"0x00\"}",
		"{\"message\":\"a\",\"signature\":\"'; DELETE FROM auth_nonces; --\"}", "null", "\"x\"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = http_json(&st, "POST", "/auth/siwe", bad[i], NULL);
		assert_true(st >= 400 && st < 500);
		assert_non_null(jstr(r, "error.code"));
		json_decref(r);
	}
	struct resp big;
	size_t n_big = 200000;
	char *huge = malloc(n_big + 1);
	memset(huge, 'a', n_big);
	huge[0] = '"';
	huge[n_big - 1] = '"';
	huge[n_big] = 0;
	assert_int_equal(http(&big, "POST", "/auth/siwe", huge, n_big, NULL, 0), 413);
	buf_release(&big.body);
	free(huge);
	/* Bad bearer tokens. */
	r = http_json(&st, "GET", "/me", NULL, "' OR '1'='1' --garbage-token-123");
	assert_int_equal(st, 401);
	json_decref(r);
	after = db_counts();
	assert_string_equal(before, after);
	free(before);
	free(after);
}

/* ---- hosts and offers ---- */

static const char *host_body_fmt =
	"{\"machine_id\":%s,\"country\":\"%s\",\"region\":\"%s\",\"net_up_mbps\":900,\"net_down_mbps\":950,"
	"\"cpu_cores\":32,\"ram_gib\":128,\"disk_gib\":2000,\"driver_version\":\"%s\",\"cuda_version\":\"12.4\","
	"\"endpoint\":\"%s\",\"gpus\":[{\"model\":\"%s\",\"vram_mib\":24576,\"fp32_mtflops\":82600,"
	"\"fp16_mtflops\":165200,\"mem_bw_gbps\":1008},{\"model\":\"RTX_4090\",\"vram_mib\":24576,"
	"\"fp32_mtflops\":82600,\"fp16_mtflops\":165200,\"mem_bw_gbps\":1008}]}";

static void host_body(char *out, size_t cap, const char *id, const char *country, const char *region,
		      const char *driver, const char *endpoint, const char *model)
{
	snprintf(out, cap, host_body_fmt, id, country, region, driver, endpoint, model);
}

static void test_hosts(void **state)
{
	long st;
	char body[2048], *before, *after;
	(void)state;
	host_body(body, sizeof body, "42", "DE", "eu-central", "550.54.15", "http://127.0.0.1:9999",
		  "RTX_4090");
	json_t *r = http_json(&st, "POST", "/hosts", body, NULL);
	assert_int_equal(st, 401);
	json_decref(r);
	r = http_json(&st, "POST", "/hosts", body, F.tok_provider);
	assert_int_equal(st, 201);
	json_decref(r);
	r = http_json(&st, "GET", "/hosts/42", NULL, NULL);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(r, "gpus")), 2);
	json_decref(r);
	r = http_json(&st, "POST", "/providers/heartbeat", "{\"endpoint\":\"http://127.0.0.1:9999\"}", F.tok_provider);
	assert_int_equal(st, 200);
	json_decref(r);
	char path[128], lower[43];
	address_to_lower(lower, &F.provider);
	snprintf(path, sizeof path, "/providers/%s", lower);
	r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	assert_non_null(json_object_get(r, "reputation"));
	json_decref(r);

	/* Another provider may not take the host; SQL-looking strings in every text field. */
	before = db_counts();
	r = http_json(&st, "POST", "/hosts", body, F.tok_renter);
	assert_int_equal(st, 409);
	json_decref(r);
	static const char *const sql = "x'; DROP TABLE hosts; --";
	const char *fields[][6] = {
		{ "43", sql, "eu", "550.54.15", "http://a", "RTX_4090" },
		{ "43", "DE", sql, "550.54.15", "http://a", "RTX_4090" },
		{ "43", "DE", "eu", sql, "http://a", "RTX_4090" },
		{ "43", "DE", "eu", "550.54.15", sql, "RTX_4090" },
		{ "43", "DE", "eu", "550.54.15", "http://a", sql },
		{ "\"43 OR 1=1\"", "DE", "eu", "550.54.15", "http://a", "RTX_4090" },
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		host_body(body, sizeof body, fields[i][0], fields[i][1], fields[i][2], fields[i][3],
			  fields[i][4], fields[i][5]);
		r = http_json(&st, "POST", "/hosts", body, F.tok_provider);
		if (!(st >= 400 && st < 500))
			fail_msg("field set %zu: status %ld", i, st);
		assert_non_null(jstr(r, "error.code"));
		json_decref(r);
	}
	r = http_json(&st, "POST", "/hosts", "{\"machine_id\":", F.tok_provider);
	assert_int_equal(st, 400);
	json_decref(r);
	r = http_json(&st, "GET", "/hosts/1%27%20OR%201=1", NULL, NULL);
	assert_true(st >= 400 && st < 500);
	json_decref(r);
	after = db_counts();
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void make_offer(struct escrow_offer *o, const char *rate, uint64_t nonce)
{
	struct err e = { 0 };
	memset(o, 0, sizeof *o);
	o->provider = F.provider;
	o->payout = F.provider;
	o->token = F.usdc;
	assert_int_equal(u256_parse_dec(&o->rate, rate, &e), 0);
	o->min_secs = 60;
	o->max_secs = 86400;
	o->interruptible = false;
	o->grace_secs = 60;
	o->dispute_secs = 0;
	keccak256(o->spec_hash, (const uint8_t *)"rtx4090x2", 9);
	o->capacity = 8; /* several rentals of this machine run in these tests */
	o->monitor = F.monitor;
	o->max_fee_bps = ESCROW_MAX_FEE_BPS;
	o->expiry = (uint64_t)time(NULL) + 7200;
	o->nonce = nonce;
}

static char *offer_body(const struct escrow_offer *o, const uint8_t sig[65], const char *machine)
{
	char p[43], pay[43], tok[43], arb[43], mon[43], rate[80], sh[67], sigh[133], buf[2048];
	address_to_lower(p, &o->provider);
	address_to_lower(pay, &o->payout);
	address_to_lower(tok, &o->token);
	address_to_lower(arb, &o->arbiter);
	address_to_lower(mon, &o->monitor);
	u256_to_dec(rate, &o->rate);
	hex_encode_0x(sh, o->spec_hash, 32);
	hex_encode_0x(sigh, sig, 65);
	snprintf(buf, sizeof buf,
		 "{\"machine_id\":%s,\"signature\":\"%s\",\"offer\":{\"provider\":\"%s\",\"payout\":\"%s\","
		 "\"token\":\"%s\",\"arbiter\":\"%s\",\"rate\":\"%s\",\"minSecs\":%u,\"maxSecs\":%u,"
		 "\"interruptible\":%s,\"noticeSecs\":%u,\"graceSecs\":%u,\"disputeSecs\":%u,"
		 "\"specHash\":\"%s\",\"capacity\":%u,\"monitor\":\"%s\",\"maxFeeBps\":%u,"
		 "\"expiry\":%" PRIu64 ",\"nonce\":%" PRIu64 "}}",
		 machine, sigh, p, pay, tok, arb, rate, o->min_secs, o->max_secs,
		 o->interruptible ? "true" : "false", o->notice_secs, o->grace_secs, o->dispute_secs, sh,
		 (unsigned)o->capacity, mon, (unsigned)o->max_fee_bps, o->expiry, o->nonce);
	return strdup(buf);
}

static void test_offers(void **state)
{
	struct escrow_offer o2;
	uint8_t sig2[65];
	struct err e = { 0 };
	long st;
	char *body, *before, *after;
	(void)state;

	make_offer(&F.o1, USDC_RATE_1, 1);
	assert_int_equal(escrow_offer_sign(F.sig1, F.chain_id, &F.escrow, &F.o1, F.key_provider, &e), 0);
	body = offer_body(&F.o1, F.sig1, "42");
	json_t *r = http_json(&st, "POST", "/offers", body, NULL);
	free(body);
	assert_int_equal(st, 201);
	snprintf(F.offer1, sizeof F.offer1, "%s", jstr(r, "offer_hash"));
	assert_string_equal(jstr(r, "usd_per_hour"), "0.360000");
	assert_string_equal(jstr(r, "token_per_hour"), "0.36");
	assert_string_equal(jstr(r, "token_units_per_hour"), "360000");
	json_decref(r);
	make_offer(&o2, USDC_RATE_2, 2);
	assert_int_equal(escrow_offer_sign(sig2, F.chain_id, &F.escrow, &o2, F.key_provider, &e), 0);
	body = offer_body(&o2, sig2, "42");
	r = http_json(&st, "POST", "/offers", body, NULL);
	free(body);
	assert_int_equal(st, 201);
	snprintf(F.offer2, sizeof F.offer2, "%s", jstr(r, "offer_hash"));
	json_decref(r);

	/* Search with a filter and sort. */
	r = http_json(&st, "GET", "/offers?q=gpu%3DRTX_4090%20num_gpus%3E%3D2%20price%3C%3D0.5%20country%3DDE,NL&o=price",
		      NULL, NULL);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 1);
	assert_string_equal(jstr(json_array_get(json_object_get(r, "offers"), 0), "offer_hash"), F.offer1);
	json_decref(r);
	r = http_json(&st, "GET", "/offers?o=-price&limit=1", NULL, NULL);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 2);
	assert_string_equal(jstr(json_array_get(json_object_get(r, "offers"), 0), "offer_hash"), F.offer2);
	json_decref(r);
	r = http_json(&st, "GET", "/offers?q=vrm%3E%3D24", NULL, NULL);
	assert_int_equal(st, 400);
	assert_string_equal(jstr(r, "error.code"), "bad_filter");
	json_decref(r);
	char path[128];
	snprintf(path, sizeof path, "/offers/%s", F.offer1);
	r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	assert_string_equal(jstr(r, "offer.rate"), USDC_RATE_1);
	json_decref(r);

	/* Refusals: nothing changes. */
	before = db_counts();
	/* Signed for another chain id. */
	uint8_t bad_sig[65];
	struct escrow_offer o3;
	make_offer(&o3, USDC_RATE_1, 3);
	assert_int_equal(escrow_offer_sign(bad_sig, F.chain_id + 1, &F.escrow, &o3, F.key_provider, &e), 0);
	body = offer_body(&o3, bad_sig, "42");
	r = http_json(&st, "POST", "/offers", body, NULL);
	free(body);
	assert_int_equal(st, 401);
	assert_string_equal(jstr(r, "error.code"), "bad_signature");
	json_decref(r);
	/* Signed by someone else than the provider. */
	assert_int_equal(escrow_offer_sign(bad_sig, F.chain_id, &F.escrow, &o3, F.key_renter, &e), 0);
	body = offer_body(&o3, bad_sig, "42");
	r = http_json(&st, "POST", "/offers", body, NULL);
	free(body);
	assert_int_equal(st, 401);
	json_decref(r);
	/* Unknown host, SQL in fields, malformed JSON. */
	assert_int_equal(escrow_offer_sign(bad_sig, F.chain_id, &F.escrow, &o3, F.key_provider, &e), 0);
	body = offer_body(&o3, bad_sig, "77");
	r = http_json(&st, "POST", "/offers", body, NULL);
	free(body);
	assert_int_equal(st, 422);
	json_decref(r);
	static const char *const sql_fields[] = { "provider", "payout", "token", "arbiter", "rate",
						  "specHash", "nonce", "expiry" };
	for (size_t i = 0; i < sizeof sql_fields / sizeof sql_fields[0]; i++) {
		body = offer_body(&o3, bad_sig, "42");
		json_t *j = NULL;
		assert_int_equal(json_parse(&j, body, strlen(body), 0, NULL), 0);
		json_object_set_new(json_object_get(j, "offer"), sql_fields[i],
				    json_string("0'; DROP TABLE offers; --"));
		free(body);
		body = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		r = http_json(&st, "POST", "/offers", body, NULL);
		free(body);
		if (st != 400)
			fail_msg("field %s: status %ld", sql_fields[i], st);
		json_decref(r);
	}
	body = offer_body(&o3, bad_sig, "\"42; DROP TABLE offers\"");
	r = http_json(&st, "POST", "/offers", body, NULL);
	free(body);
	assert_int_equal(st, 400);
	json_decref(r);
	r = http_json(&st, "POST", "/offers", "{\"offer\": {\"provider\": [1,2,", NULL);
	assert_int_equal(st, 400);
	json_decref(r);
	r = http_json(&st, "GET", "/offers?q=gpu%3D%27%3B%20DROP%20TABLE%20offers%3B%20--", NULL, NULL);
	assert_int_equal(st, 400);
	json_decref(r);
	r = http_json(&st, "GET", "/offers/0x'%20OR%201=1", NULL, NULL);
	assert_int_equal(st, 400);
	json_decref(r);
	r = http_json(&st, "GET", "/offers?limit=100000", NULL, NULL);
	assert_int_equal(st, 400);
	json_decref(r);
	after = db_counts();
	assert_string_equal(before, after);
	free(before);
	free(after);

	/* Withdraw offer 2: only its provider may. */
	snprintf(path, sizeof path, "/offers/%s", F.offer2);
	r = http_json(&st, "DELETE", path, NULL, F.tok_renter);
	assert_int_equal(st, 403);
	json_decref(r);
	r = http_json(&st, "DELETE", path, NULL, F.tok_provider);
	assert_int_equal(st, 200);
	json_decref(r);
	r = http_json(&st, "GET", "/offers", NULL, NULL);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 1);
	json_decref(r);
	check_conditional_and_gzip("/offers");
}

/* ---- rental on chain ---- */

static void send_tx(struct rpc_receipt *rc, const uint8_t key[32], const struct eth_address *to, struct buf *cd)
{
	struct err e = { 0 };
	memset(rc, 0, sizeof *rc);
	int r = escrow_send(&F.rpc, rc, F.chain_id, key, to, NULL, cd->data, cd->len, 30000, &e);
	if (r)
		fail_msg("tx: %s", e.msg);
}

static void test_rental_open_indexed(void **state)
{
	struct buf cd;
	struct rpc_receipt rc;
	struct escrow_event ev;
	struct err e = { 0 };
	long st;
	char path[128];
	(void)state;

	buf_init(&cd, 1 << 16);
	F.deposit = u256_from_u64(100 * 3600); /* one hour at 100 units/s */
	assert_int_equal(erc20_cd_approve(&cd, &F.escrow, &F.deposit, &e), 0);
	send_tx(&rc, F.key_renter, &F.usdc, &cd);
	rpc_receipt_release(&rc);
	buf_reset(&cd);
	assert_int_equal(escrow_cd_open(&cd, &F.o1, F.sig1, 65, &F.deposit, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_OPENED, &e), 0);
	F.terms = ev.opened.terms;
	F.rental_id = ev.id;
	hex_encode_0x(F.open_tx, rc.tx_hash, 32);
	rpc_receipt_release(&rc);
	buf_release(&cd);

	wait_indexed();
	snprintf(path, sizeof path, "/rentals/%" PRIu64, F.rental_id);
	json_t *r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	assert_string_equal(jstr(r, "state"), "open");
	assert_string_equal(jstr(r, "opened_tx"), F.open_tx);
	assert_string_equal(jstr(r, "offer_hash"), F.offer1);
	assert_string_equal(jstr(r, "deposited"), "360000");
	json_decref(r);
	r = http_json(&st, "GET", "/me/rentals", NULL, F.tok_renter);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(r, "rentals")), 1);
	json_decref(r);
	r = http_json(&st, "GET", "/me/rentals?role=provider", NULL, F.tok_provider);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(json_object_get(r, "rentals")), 1);
	json_decref(r);

	/* The provider's agent reports access (the fake sshd); the renter may not. */
	char body[512];
	static const char host_key[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINklgIsXpg6NtQqumXhbovI76IF6QgNbGbuhDXf4rLPC";
	snprintf(body, sizeof body, "{\"host\":\"127.0.0.1\",\"port\":%u,\"user\":\"flop_r1\",\"host_keys\":[\"%s\"]}",
		 F.ssh_port, host_key);
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/access", F.rental_id);
	r = http_json(&st, "POST", path, body, F.tok_renter);
	assert_int_equal(st, 403);
	json_decref(r);
	char *before = db_counts();
	r = http_json(&st, "POST", path, "{\"host\":\"127.0.0.1; rm -rf /\",\"port\":22,\"user\":\"x\"}", F.tok_provider);
	assert_int_equal(st, 400);
	json_decref(r);
	r = http_json(&st, "POST", path, "{\"host\":\"h\",\"port\":22,\"user\":\"'; DROP TABLE access_reports; --\"}",
		      F.tok_provider);
	assert_true(st >= 400 && st < 500);
	json_decref(r);
	/* host keys: a list of at most 4 "type base64" lines, nothing else */
	{
		static const char *const bad[] = {
			"\"ssh-ed25519 AAAA\"", "[\"ssh-ed25519\"]", "[\"ssh-ed25519 AAAA x\"]", "[\"ssh-ed25519 AA\\nAA\"]",
			"[\"ssh-ed25519 AA;AA\"]", "[1]", "[\"a b\",\"a b\",\"a b\",\"a b\",\"a b\"]",
		};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			char b[300];
			snprintf(b, sizeof b, "{\"host\":\"h\",\"port\":22,\"user\":\"flop_r1\",\"host_keys\":%s}", bad[i]);
			r = http_json(&st, "POST", path, b, F.tok_provider);
			if (st != 400)
				fail_msg("host_keys %s: status %ld, want 400", bad[i], st);
			assert_string_equal(jstr(json_object_get(r, "error"), "field"), "host_keys");
			json_decref(r);
		}
	}
	char *after = db_counts();
	assert_string_equal(before, after);
	free(before);
	free(after);
	r = http_json(&st, "POST", path, body, F.tok_provider);
	assert_int_equal(st, 201);
	json_decref(r);
	r = http_json(&st, "POST", path, body, F.tok_provider);
	assert_int_equal(st, 409);
	json_decref(r);
	/* the rental view hands the host keys to the renter's client, to pin */
	snprintf(path, sizeof path, "/rentals/%" PRIu64, F.rental_id);
	r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	{
		json_t *keys = json_object_get(json_object_get(r, "access"), "host_keys");
		assert_int_equal(json_array_size(keys), 1);
		assert_string_equal(json_string_value(json_array_get(keys, 0)), host_key);
	}
	json_decref(r);
}

/*
 * Issue 8.1: an attestation is bound to the ended rental. While the rental runs the server refuses to
 * sign one (before the fix it signed (0, 0) right after open, which a renter could keep and submit after
 * stopping to recover the whole held part). After the end it signs the rental's end time and billed
 * seconds, and the escrow accepts exactly that attestation for the dispute.
 */
static void test_attestation_bound_to_end(void **state)
{
	struct escrow_offer od;
	struct buf cd;
	struct rpc_receipt rc;
	struct escrow_event ev;
	struct escrow_terms t;
	struct err e = { 0 };
	uint8_t sig[65], asig[65];
	char path[128], body[256];
	long st;
	json_t *r;
	u256 dep = u256_from_u64(100 * 3600);
	(void)state;

	make_offer(&od, USDC_RATE_1, 91);
	od.dispute_secs = 3600;
	od.capacity = 1;
	keccak256(od.spec_hash, (const uint8_t *)"attested-box", 12);
	assert_int_equal(escrow_offer_sign(sig, F.chain_id, &F.escrow, &od, F.key_provider, &e), 0);
	buf_init(&cd, 1 << 16);
	assert_int_equal(erc20_cd_approve(&cd, &F.escrow, &dep, &e), 0);
	send_tx(&rc, F.key_renter, &F.usdc, &cd);
	rpc_receipt_release(&rc);
	buf_reset(&cd);
	assert_int_equal(escrow_cd_open(&cd, &od, sig, 65, &dep, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_OPENED, &e), 0);
	rpc_receipt_release(&rc);
	t = ev.opened.terms;
	wait_indexed();
	snprintf(body, sizeof body, "{\"host\":\"127.0.0.1\",\"port\":%u,\"user\":\"flop_r9\"}", F.ssh_port);
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/access", ev.id);
	r = http_json(&st, "POST", path, body, F.tok_provider);
	assert_int_equal(st, 201);
	json_decref(r);

	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/attestation", ev.id);
	r = http_json(&st, "POST", path, "", F.tok_renter);
	assert_int_equal(st, 409); /* running: nothing to attest yet */
	assert_string_equal(jstr(r, "error.code"), "not_ended");
	json_decref(r);
	usleep(1500 * 1000); /* a few monitor rounds (300 ms) probe the host */

	buf_reset(&cd);
	assert_int_equal(escrow_cd_rental(&cd, ESCROW_FN_STOP, &t, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	rpc_receipt_release(&rc);
	buf_reset(&cd);
	assert_int_equal(escrow_cd_rental(&cd, ESCROW_FN_DISPUTE, &t, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_DISPUTED, &e), 0);
	rpc_receipt_release(&rc);
	struct escrow_view v;
	assert_int_equal(escrow_state_view(&v, &t, &ev.state, &e), 0);
	wait_indexed();

	r = http_json(&st, "POST", path, "", F.tok_renter);
	assert_int_equal(st, 200);
	uint64_t ended = (uint64_t)json_integer_value(json_object_get(r, "ended_at"));
	uint32_t up = (uint32_t)json_integer_value(json_object_get(r, "seconds_up"));
	uint32_t obs = (uint32_t)json_integer_value(json_object_get(r, "seconds_observed"));
	assert_int_equal(ended, v.ended_at);
	assert_int_equal(obs, v.used_secs);
	assert_true(up <= obs);
	assert_int_equal(hex_decode_exact(asig, 65, jstr(r, "signature"), &e), 0);
	json_decref(r);
	/* The escrow accepts it, and only for this end. */
	buf_reset(&cd);
	assert_int_equal(escrow_cd_resolve_with_attestation(&cd, &t, ended - 1, up, obs, asig, 65, &e), 0);
	memset(&rc, 0, sizeof rc);
	assert_int_equal(escrow_send(&F.rpc, &rc, F.chain_id, F.key_renter, &F.escrow, NULL, cd.data, cd.len,
				     30000, &e), ERR_REVERT);
	assert_non_null(strstr(e.msg, "AttestationNotForThisEnd"));
	rpc_receipt_release(&rc);
	buf_reset(&cd);
	assert_int_equal(escrow_cd_resolve_with_attestation(&cd, &t, ended, up, obs, asig, 65, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_RESOLVED, &e), 0);
	assert_int_equal(ev.payout.rule, ESCROW_RULE_ATTESTATION);
	rpc_receipt_release(&rc);
	buf_release(&cd);
}

static void test_stream(void **state)
{
	struct resp r;
	char path[160];
	(void)state;
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/stream?low=100000000", F.rental_id);
	http(&r, "GET", path, NULL, 0, NULL, 1500);
	assert_int_equal(r.status, 200);
	assert_non_null(r.body.data);
	assert_non_null(strstr((char *)r.body.data, "event: status"));
	assert_non_null(strstr((char *)r.body.data, "\"accrued\""));
	assert_non_null(strstr((char *)r.body.data, "event: low_balance"));
	buf_release(&r.body);
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/stream?low=1%%27", F.rental_id);
	assert_int_equal(http(&r, "GET", path, NULL, 0, NULL, 1500), 400);
	buf_release(&r.body);
}

static void test_kill9_restart(void **state)
{
	long long ev_before, ev_after;
	long st;
	char path[128], *c1, *c2;
	(void)state;

	/* Let the monitor probe the fake sshd at least once. */
	for (int i = 0; i < 50 && db_count("SELECT count(*) FROM probes") < 2; i++)
		usleep(100000);
	wait_indexed();
	ev_before = db_count("SELECT count(*) FROM rental_events");
	c1 = db_counts();
	server_kill(SIGKILL);
	server_start();
	wait_indexed();
	ev_after = db_count("SELECT count(*) FROM rental_events");
	assert_int_equal(ev_before, ev_after);
	snprintf(path, sizeof path, "/rentals/%" PRIu64, F.rental_id);
	json_t *r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	json_decref(r);
	/* Offers come back from the store into the index. */
	r = http_json(&st, "GET", "/offers", NULL, NULL);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 1);
	json_decref(r);
	/* Sessions survive (only hashes are stored). */
	r = http_json(&st, "GET", "/me", NULL, F.tok_renter);
	assert_int_equal(st, 200);
	json_decref(r);
	c2 = db_counts();
	(void)c1;
	free(c1);
	free(c2);
}

static void test_stop_and_receipt(void **state)
{
	struct buf cd;
	struct rpc_receipt rc;
	struct escrow_event ev;
	struct err e = { 0 };
	json_t *res = NULL;
	long st;
	char path[128], d[80];
	(void)state;

	assert_int_equal(rpc_call_text(&F.rpc, &res, "evm_increaseTime", "[600]", &e), 0);
	json_decref(res);
	buf_init(&cd, 1 << 12);
	assert_int_equal(escrow_cd_rental(&cd, ESCROW_FN_STOP, &F.terms, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_STOPPED, &e), 0);
	F.stop_provider = ev.payout.provider_amount;
	F.stop_fee = ev.payout.fee_amount;
	F.stop_refund = ev.payout.refund_amount;
	hex_encode_0x(F.stop_tx, rc.tx_hash, 32);
	rpc_receipt_release(&rc);
	buf_release(&cd);

	/* kill -9 again right after the stop, before or while it is indexed. */
	server_kill(SIGKILL);
	server_start();
	wait_indexed();
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/receipt", F.rental_id);
	json_t *r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	assert_string_equal(jstr(r, "state"), "closed");
	u256_to_dec(d, &F.stop_refund);
	assert_string_equal(jstr(r, "refund.units"), d);
	u256_to_dec(d, &F.stop_provider);
	assert_string_equal(jstr(r, "provider_paid.units"), d);
	u256_to_dec(d, &F.stop_fee);
	assert_string_equal(jstr(r, "fee_paid.units"), d);
	assert_string_equal(jstr(r, "fee.units"), d);
	/* total = provider + fee = deposit - refund */
	u256 tot;
	u256_add(&tot, &F.stop_provider, &F.stop_fee);
	u256_to_dec(d, &tot);
	assert_string_equal(jstr(r, "total.units"), d);
	u256 chk;
	u256_add(&chk, &tot, &F.stop_refund);
	assert_int_equal(u256_cmp(&chk, &F.deposit), 0);
	assert_string_equal(jstr(r, "token.symbol"), "dUSDC");
	assert_string_equal(jstr(r, "gpu.model"), "RTX_4090");
	assert_non_null(jstr(r, "total.usd"));
	json_t *txs = json_object_get(r, "transactions");
	bool seen_open = false, seen_stop = false;
	for (size_t i = 0; i < json_array_size(txs); i++) {
		const char *h = jstr(json_array_get(txs, i), "tx_hash");
		seen_open |= h && strcmp(h, F.open_tx) == 0;
		seen_stop |= h && strcmp(h, F.stop_tx) == 0;
	}
	assert_true(seen_open && seen_stop);
	char *first = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(r);

	/* Nothing lost or duplicated across restarts: events once, receipt equal. */
	long long n_ev = db_count("SELECT count(*) FROM rental_events");
	long long n_ev_distinct = db_count("SELECT count(DISTINCT tx_hash || ':' || log_index) FROM rental_events");
	assert_int_equal(n_ev, n_ev_distinct);
	char q[160];
	snprintf(q, sizeof q, "SELECT count(*) FROM rental_events WHERE kind='Opened' AND rental_id=%" PRIu64,
		 F.rental_id);
	assert_int_equal(db_count(q), 1);
	snprintf(q, sizeof q, "SELECT count(*) FROM rental_events WHERE kind='Stopped' AND rental_id=%" PRIu64,
		 F.rental_id);
	assert_int_equal(db_count(q), 1);
	server_kill(SIGTERM);
	server_start();
	wait_indexed();
	assert_int_equal(db_count("SELECT count(*) FROM rental_events"), n_ev);
	r = http_json(&st, "GET", path, NULL, NULL);
	char *second = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(r);
	assert_string_equal(first, second);
	free(first);
	free(second);

	/* CSV receipts of the renter. */
	struct resp csv;
	assert_int_equal(http(&csv, "GET", "/me/receipts.csv", NULL, 0, F.tok_renter, 0), 200);
	assert_non_null(strstr((char *)csv.body.data, "rental_id,state,renter"));
	assert_non_null(strstr((char *)csv.body.data, F.stop_tx));
	buf_release(&csv.body);
	assert_int_equal(http(&csv, "GET", "/me/receipts.csv", NULL, 0, NULL, 0), 401);
	buf_release(&csv.body);
}

static void test_rating_and_attestation(void **state)
{
	long st;
	char path[128];
	(void)state;
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/rating", F.rental_id);
	char *before = db_counts();
	json_t *r = http_json(&st, "POST", path, "{\"stars\":5}", F.tok_provider);
	assert_int_equal(st, 403);
	json_decref(r);
	r = http_json(&st, "POST", path, "{\"stars\":\"5; DROP TABLE ratings\"}", F.tok_renter);
	assert_int_equal(st, 400);
	json_decref(r);
	r = http_json(&st, "POST", path, "{\"stars\":6}", F.tok_renter);
	assert_int_equal(st, 400);
	json_decref(r);
	/* Issue 8.16: types are strict: a string is not a number */
	r = http_json(&st, "POST", path, "{\"stars\":\"5\"}", F.tok_renter);
	assert_int_equal(st, 400);
	json_decref(r);
	char *after = db_counts();
	assert_string_equal(before, after);
	free(before);
	free(after);
	/* Free text is stored verbatim (parameterised SQL): the tables are intact. */
	r = http_json(&st, "POST", path, "{\"stars\":4,\"comment\":\"fast box'); DROP TABLE ratings; --\"}", F.tok_renter);
	assert_int_equal(st, 201);
	json_decref(r);
	assert_int_equal(db_count("SELECT count(*) FROM ratings WHERE comment LIKE '%DROP TABLE%'"), 1);
	r = http_json(&st, "POST", path, "{\"stars\":1}", F.tok_renter);
	assert_int_equal(st, 409);
	json_decref(r);

	/* The rental closed at its stop (no dispute window): there is nothing left to attest. */
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/attestation", F.rental_id);
	r = http_json(&st, "POST", path, "", F.tok_renter);
	assert_int_equal(st, 409);
	json_decref(r);
	char lower[43], ppath[128];
	address_to_lower(lower, &F.provider);
	snprintf(ppath, sizeof ppath, "/providers/%s", lower);
	r = http_json(&st, "GET", ppath, NULL, NULL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "reputation"), "rentals_completed")), 2); /* with test_attestation_bound_to_end */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "reputation"), "rating_centi")), 400);
	assert_true(json_integer_value(json_object_get(json_object_get(r, "reputation"), "uptime_observed_s")) > 0);
	json_decref(r);
}

/*
 * A reorg deeper than the confirmations: a rental opened in blocks that the chain then drops
 * (evm_snapshot / evm_revert, then other blocks mined at the same heights) disappears from the mirror
 * and the journal; the indexer goes on from the common ancestor.
 */
static void test_reorg(void **state)
{
	struct buf cd;
	struct rpc_receipt rc;
	struct escrow_event ev;
	struct err e = { 0 };
	json_t *res = NULL;
	long st;
	char snap[80], path[128], params[128];
	(void)state;

	wait_indexed();
	long long events0 = db_count("SELECT count(*) FROM rental_events");
	assert_int_equal(rpc_call_text(&F.rpc, &res, "evm_snapshot", "[]", &e), 0);
	snprintf(snap, sizeof snap, "%s", json_string_value(res));
	json_decref(res);
	buf_init(&cd, 1 << 16);
	assert_int_equal(erc20_cd_approve(&cd, &F.escrow, &F.deposit, &e), 0);
	send_tx(&rc, F.key_renter, &F.usdc, &cd);
	rpc_receipt_release(&rc);
	buf_reset(&cd);
	assert_int_equal(escrow_cd_open(&cd, &F.o1, F.sig1, 65, &F.deposit, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_OPENED, &e), 0);
	rpc_receipt_release(&rc);
	buf_release(&cd);
	wait_indexed();
	snprintf(path, sizeof path, "/rentals/%" PRIu64, ev.id);
	json_t *r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	json_decref(r);
	assert_true(db_count("SELECT count(*) FROM rental_events") > events0);

	snprintf(params, sizeof params, "[\"%s\"]", snap);
	assert_int_equal(rpc_call_text(&F.rpc, &res, "evm_revert", params, &e), 0);
	json_decref(res);
	assert_int_equal(rpc_call_text(&F.rpc, &res, "evm_increaseTime", "[7]", &e), 0);
	json_decref(res);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(rpc_call_text(&F.rpc, &res, "evm_mine", "[]", &e), 0);
		json_decref(res);
	}
	for (int i = 0; i < 100; i++) {
		r = http_json(&st, "GET", path, NULL, NULL);
		json_decref(r);
		if (st == 404)
			break;
		usleep(50000);
	}
	assert_int_equal(st, 404);
	wait_indexed();
	assert_int_equal(db_count("SELECT count(*) FROM rental_events"), events0);
	/* The earlier rental is intact. */
	snprintf(path, sizeof path, "/rentals/%" PRIu64, F.rental_id);
	r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	assert_string_equal(jstr(r, "state"), "closed");
	json_decref(r);
	struct resp m;
	assert_int_equal(http(&m, "GET", "/metrics", NULL, 0, NULL, 0), 200);
	assert_non_null(strstr((char *)m.body.data, "flop_indexer_reorgs 1"));
	buf_release(&m.body);
}

/* cancelOffer(nonce) on chain: the indexer cancels the listed offer and drops it from search. */
static void test_cancel_offer_on_chain(void **state)
{
	struct buf cd;
	struct rpc_receipt rc;
	struct err e = { 0 };
	long st;
	char path[128];
	(void)state;

	buf_init(&cd, 256);
	assert_int_equal(escrow_cd_cancel_offer(&cd, F.o1.nonce, &e), 0);
	send_tx(&rc, F.key_provider, &F.escrow, &cd);
	rpc_receipt_release(&rc);
	buf_release(&cd);
	wait_indexed();
	json_t *r = http_json(&st, "GET", "/offers", NULL, NULL);
	assert_int_equal(st, 200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")), 0);
	json_decref(r);
	snprintf(path, sizeof path, "/offers/%s", F.offer1);
	r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	assert_string_equal(jstr(r, "status"), "cancelled");
	json_decref(r);
	/* Re-posting the cancelled offer is refused. */
	char *body = offer_body(&F.o1, F.sig1, "42");
	r = http_json(&st, "POST", "/offers", body, NULL);
	free(body);
	assert_int_equal(st, 409);
	json_decref(r);
}

/* Reclaiming an interruptible rental warns the renter on the live stream at once. */
static void test_reclaim_stream(void **state)
{
	struct escrow_offer o;
	uint8_t sig[65];
	struct buf cd;
	struct rpc_receipt rc;
	struct escrow_event ev;
	struct resp r;
	struct err e = { 0 };
	char path[160];
	(void)state;

	make_offer(&o, USDC_RATE_1, 77);
	o.interruptible = true;
	o.notice_secs = 600;
	assert_int_equal(escrow_offer_sign(sig, F.chain_id, &F.escrow, &o, F.key_provider, &e), 0);
	buf_init(&cd, 1 << 16);
	assert_int_equal(erc20_cd_approve(&cd, &F.escrow, &F.deposit, &e), 0);
	send_tx(&rc, F.key_renter, &F.usdc, &cd);
	rpc_receipt_release(&rc);
	buf_reset(&cd);
	assert_int_equal(escrow_cd_open(&cd, &o, sig, 65, &F.deposit, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_OPENED, &e), 0);
	rpc_receipt_release(&rc);
	buf_reset(&cd);
	assert_int_equal(escrow_cd_rental(&cd, ESCROW_FN_RECLAIM, &ev.opened.terms, &e), 0);
	send_tx(&rc, F.key_provider, &F.escrow, &cd);
	rpc_receipt_release(&rc);
	buf_release(&cd);
	wait_indexed();

	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/stream", ev.id);
	http(&r, "GET", path, NULL, 0, NULL, 1500);
	assert_int_equal(r.status, 200);
	assert_non_null(r.body.data);
	assert_non_null(strstr((char *)r.body.data, "event: reclaim"));
	assert_non_null(strstr((char *)r.body.data, "\"notice_left_s\""));
	buf_release(&r.body);
}

/* ---- USD at payment time from a price feed (DevPriceFeed, AggregatorV3-shaped) ---- */

/* Deploys DevPriceFeed(8 decimals, answer) with the renter key (its owner). */
static void feed_deploy(struct eth_address *out, int64_t answer)
{
	char art[1100];
	uint8_t *code = NULL;
	size_t n = 0;
	struct buf init;
	struct rpc_receipt rc;
	struct err e = { 0 };
	struct abi_value args[2] = { abi_v_u64(8), abi_v_i64(answer) };

	snprintf(art, sizeof art, "%s/build/contracts", F.root);
	if (escrow_artifact_bytecode(&code, &n, art, "DevPriceFeed", &e))
		fail_msg("DevPriceFeed artifact: %s (run scripts/build-contracts)", e.msg);
	buf_init(&init, 1 << 20);
	assert_int_equal(buf_append(&init, code, n), 0);
	free(code);
	assert_int_equal(abi_encode(&init, "(uint8,int256)", args, 2, &e), 0);
	memset(&rc, 0, sizeof rc);
	if (escrow_send(&F.rpc, &rc, F.chain_id, F.key_renter, NULL, NULL, init.data, init.len, 30000, &e))
		fail_msg("deploy feed: %s", e.msg);
	assert_true(rc.has_contract_address);
	*out = rc.contract_address;
	rpc_receipt_release(&rc);
	buf_release(&init);
}

/* setAnswer(answer) on the feed: a new round stamped with the block's time. */
static void feed_set(const struct eth_address *feed, int64_t answer)
{
	struct buf cd;
	struct rpc_receipt rc;
	struct err e = { 0 };
	struct abi_value a = abi_v_i64(answer);

	buf_init(&cd, 256);
	assert_int_equal(abi_encode_call(&cd, "setAnswer(int256)", &a, 1, &e), 0);
	send_tx(&rc, F.key_renter, feed, &cd);
	rpc_receipt_release(&rc);
	buf_release(&cd);
}

static void chain_sleep(const char *secs)
{
	struct err e = { 0 };
	json_t *res = NULL;
	char p[64];
	snprintf(p, sizeof p, "[%s]", secs);
	assert_int_equal(rpc_call_text(&F.rpc, &res, "evm_increaseTime", p, &e), 0);
	json_decref(res);
}

/* Opens a rental of a fresh offer (nonce) with F.deposit; its id and terms into the outputs. */
static void feed_open(uint64_t *id, struct escrow_terms *terms, uint64_t nonce)
{
	struct escrow_offer o;
	uint8_t sig[65];
	struct buf cd;
	struct rpc_receipt rc;
	struct escrow_event ev;
	struct err e = { 0 };

	make_offer(&o, USDC_RATE_1, nonce);
	o.expiry += 10 * 86400; /* the test moves chain time by days */
	assert_int_equal(escrow_offer_sign(sig, F.chain_id, &F.escrow, &o, F.key_provider, &e), 0);
	buf_init(&cd, 1 << 16);
	assert_int_equal(erc20_cd_approve(&cd, &F.escrow, &F.deposit, &e), 0);
	send_tx(&rc, F.key_renter, &F.usdc, &cd);
	rpc_receipt_release(&rc);
	buf_reset(&cd);
	assert_int_equal(escrow_cd_open(&cd, &o, sig, 65, &F.deposit, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_OPENED, &e), 0);
	*id = ev.id;
	if (terms)
		*terms = ev.opened.terms;
	rpc_receipt_release(&rc);
	buf_release(&cd);
}

/* "X.XXXXXX" for units of dUSDC (6 decimals) at price micro (micro-USD), rounded down. */
static void usd_expect(char *out, size_t cap, const u256 *units, uint64_t micro)
{
	uint64_t u;
	assert_int_equal(u256_to_u64(&u, units), 0);
	uint64_t v = (uint64_t)(((unsigned __int128)u * micro) / 1000000u);
	snprintf(out, cap, "%" PRIu64 ".%06" PRIu64, v / 1000000, v % 1000000);
}

/* The first transaction of `kind` in a receipt. */
static json_t *receipt_tx(json_t *r, const char *kind)
{
	json_t *txs = json_object_get(r, "transactions");
	for (size_t i = 0; i < json_array_size(txs); i++) {
		const char *k = jstr(json_array_get(txs, i), "kind");
		if (k && strcmp(k, kind) == 0)
			return json_array_get(txs, i);
	}
	fail_msg("no %s transaction in the receipt", kind);
	return NULL;
}

static json_t *receipt_get(uint64_t id)
{
	long st;
	char path[96];
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/receipt", id);
	json_t *r = http_json(&st, "GET", path, NULL, NULL);
	assert_int_equal(st, 200);
	assert_non_null(r);
	return r;
}

/*
 * With --price-feeds dUSDC=<feed> each payment is valued at the feed's answer at its own block:
 * opened at 2.00, stopped after setAnswer(0.50); a zero answer and a stale round give null USD.
 */
static void test_price_feed_receipts(void **state)
{
	struct eth_address feed;
	struct escrow_terms terms;
	struct escrow_event ev;
	struct rpc_receipt rc;
	struct buf cd;
	struct err e = { 0 };
	uint64_t id_a, id_zero, id_stale;
	char env[128], want[40], d[80];
	u256 prov, fee, refund;
	(void)state;

	feed_deploy(&feed, 200000000); /* 2.00000000 USD */
	address_to_lower(d, &feed);
	snprintf(env, sizeof env, "dUSDC=%s", d);
	setenv("FLOPMARKET_SERVE_PRICE_FEEDS", env, 1);
	server_kill(SIGTERM);
	server_start();

	/* Rental A: opened at 2.00, stopped at 0.50. */
	feed_open(&id_a, &terms, 201);
	feed_set(&feed, 50000000);
	chain_sleep("120");
	buf_init(&cd, 1 << 12);
	assert_int_equal(escrow_cd_rental(&cd, ESCROW_FN_STOP, &terms, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_STOPPED, &e), 0);
	prov = ev.payout.provider_amount;
	fee = ev.payout.fee_amount;
	refund = ev.payout.refund_amount;
	rpc_receipt_release(&rc);
	buf_release(&cd);

	/* Rental B: opened while the answer is 0 (non-positive). */
	feed_set(&feed, 0);
	feed_open(&id_zero, NULL, 202);
	/* Rental C: opened two days after the last round (stale at the default 1 day). */
	feed_set(&feed, 100000000);
	chain_sleep("172800");
	feed_open(&id_stale, NULL, 203);
	wait_indexed();

	json_t *r = receipt_get(id_a);
	json_t *open = receipt_tx(r, "Opened"), *stop = receipt_tx(r, "Stopped");
	assert_string_equal(jstr(open, "usd_price"), "2.000000");
	assert_string_equal(jstr(open, "amount.units"), "360000");
	assert_string_equal(jstr(open, "amount.usd"), "0.720000"); /* 0.36 dUSDC at 2.00 */
	assert_string_equal(jstr(stop, "usd_price"), "0.500000");
	usd_expect(want, sizeof want, &prov, 500000);
	assert_string_equal(jstr(stop, "provider_amount.usd"), want);
	assert_string_equal(jstr(r, "usd_totals.provider_paid"), want);
	usd_expect(want, sizeof want, &fee, 500000);
	assert_string_equal(jstr(stop, "fee_amount.usd"), want);
	assert_string_equal(jstr(r, "usd_totals.fee_paid"), want);
	usd_expect(want, sizeof want, &refund, 500000);
	assert_string_equal(jstr(stop, "refund_amount.usd"), want);
	assert_string_equal(jstr(r, "usd_totals.refund"), want);
	assert_string_equal(jstr(r, "usd_totals.deposits"), "0.720000");
	assert_string_equal(jstr(r, "usd_totals.price_source"), "feed");
	/* The overall amounts use the latest payment's price (0.50); units unchanged. */
	u256 tot;
	u256_add(&tot, &prov, &fee);
	u256_to_dec(d, &tot);
	assert_string_equal(jstr(r, "total.units"), d);
	usd_expect(want, sizeof want, &tot, 500000);
	assert_string_equal(jstr(r, "total.usd"), want);
	json_decref(r);

	/* A non-positive answer and a stale round: null, never a guess. */
	uint64_t ids[2] = { id_zero, id_stale };
	for (int i = 0; i < 2; i++) {
		r = receipt_get(ids[i]);
		open = receipt_tx(r, "Opened");
		assert_string_equal(jstr(open, "amount.units"), "360000");
		assert_true(json_is_null(json_object_get(open, "usd_price")));
		assert_true(json_is_null(json_object_get(json_object_get(open, "amount"), "usd")));
		assert_true(json_is_null(json_object_get(json_object_get(r, "usd_totals"), "deposits")));
		assert_true(json_is_null(json_object_get(json_object_get(r, "total"), "usd")));
		json_decref(r);
	}

	/* The CSV carries the per-payment sums of rental A. */
	struct resp csv;
	char line_start[64];
	assert_int_equal(http(&csv, "GET", "/me/receipts.csv", NULL, 0, F.tok_renter, 0), 200);
	assert_non_null(strstr((char *)csv.body.data, "tx_hashes,deposits_usd,provider_paid_usd,fee_paid_usd,refund_usd\n"));
	snprintf(line_start, sizeof line_start, "\n%" PRIu64 ",", id_a);
	const char *line = strstr((char *)csv.body.data, line_start);
	assert_non_null(line);
	const char *eol = strchr(line + 1, '\n');
	assert_non_null(eol);
	char l[4096];
	snprintf(l, sizeof l, "%.*s", (int)(eol - line - 1), line + 1);
	usd_expect(want, sizeof want, &refund, 500000);
	char tail[200];
	char wp[40], wf[40];
	usd_expect(wp, sizeof wp, &prov, 500000);
	usd_expect(wf, sizeof wf, &fee, 500000);
	snprintf(tail, sizeof tail, ",0.720000,%s,%s,%s", wp, wf, want);
	assert_non_null(strstr(l, tail));
	assert_int_equal(strlen(strstr(l, tail)), strlen(tail)); /* at the end of the line */
	buf_release(&csv.body);
	unsetenv("FLOPMARKET_SERVE_PRICE_FEEDS");
}

/* ---- issue 15: two replicas on one PostgreSQL database ---- */

struct replica {
	struct server_child sc;
	char log[600];
};

static void replica_start(struct replica *r, const char *db_url, const char *name)
{
	char why[2048];
	const char *extra[] = { "--siwe-domain", "market.test", "--siwe-origin", "http://market.test", NULL };
	const char *env[] = { "FLOPMARKET_LOG_LEVEL=info", NULL };
	struct server_child_opts o = { .bin = child_bin(F.root), .rpc_url = F.node.url, .db = db_url,
				       .deployment = F.dep_path, .log = r->log, .monitor_ms = "300",
				       .extra = extra, .env = env };
	snprintf(r->log, sizeof r->log, "%s/replica-%s.log", F.dir, name);
	if (server_child_start(&r->sc, &o, why, sizeof why))
		fail_msg("replica %s: %s", name, why);
}

/* Requests go to replica r from here on. */
static void use(const struct replica *r)
{
	F.port = r->sc.port;
	snprintf(F.base, sizeof F.base, "%s", r->sc.base);
}

static bool log_has(const char *log, const char *needle)
{
	static char text[1 << 20];
	FILE *f = fopen(log, "r");
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = '\0';
	return strstr(text, needle) != NULL;
}

/* The first row's first column of sql on the PostgreSQL database, as text ("" when none). */
static void pg_text(char *out, size_t cap, const char *db_url, const char *sql)
{
	PGconn *c = PQconnectdb(db_url);
	PGresult *r;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	snprintf(out, cap, "%s", PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	PQfinish(c);
}

/* The same of the SQLite store of the fixture's own server (indexing the same chain, alone). */
static void sqlite_text(char *out, size_t cap, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_open_v2(F.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	out[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_text(st, 0))
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/*
 * The replicas' database against the chain, as the fixture's own server (one process, SQLite, the same
 * chain) recorded it: the same events (every one once: no duplicate, no gap) and the same rentals, row
 * for row (id, state, money).
 */
static void chain_vs_store(const char *db_url)
{
	static char pg_ev[1 << 16], sq_ev[1 << 16], pg_r[1 << 16], sq_r[1 << 16], n[32], d[32];

	use(&(struct replica){ .sc = F.server });
	wait_indexed();
	pg_text(n, sizeof n, db_url, "SELECT count(*) FROM rental_events");
	pg_text(d, sizeof d, db_url, "SELECT count(DISTINCT (chain_id, tx_hash, log_index)) FROM rental_events");
	assert_string_equal(n, d);
	pg_text(pg_ev, sizeof pg_ev, db_url, "SELECT string_agg(block_number || ':' || tx_hash || ':' || log_index || ':' ||"
		" kind, ',' ORDER BY block_number, log_index) FROM rental_events");
	sqlite_text(sq_ev, sizeof sq_ev, "SELECT group_concat(x, ',') FROM (SELECT block_number || ':' || tx_hash || ':' ||"
		    " log_index || ':' || kind AS x FROM rental_events ORDER BY block_number, log_index)");
	pg_text(pg_r, sizeof pg_r, db_url, "SELECT string_agg(id || ':' || state || ':' || deposited || ':' || refunded ||"
		" ':' || provider_paid || ':' || last_block, ',' ORDER BY id) FROM rentals");
	sqlite_text(sq_r, sizeof sq_r, "SELECT group_concat(x, ',') FROM (SELECT id || ':' || state || ':' || deposited ||"
		    " ':' || refunded || ':' || provider_paid || ':' || last_block AS x FROM rentals ORDER BY id)");
	print_message("events: %s rows on the replicas' database, each once\n", n);
	if (strcmp(pg_ev, sq_ev))
		fail_msg("events differ:\n replicas %.600s\n single   %.600s", pg_ev, sq_ev);
	if (strcmp(pg_r, sq_r))
		fail_msg("rentals differ:\n replicas %.600s\n single   %.600s", pg_r, sq_r);
}

/* Opens one rental of offer o (signed sig) on chain (approve + open), returns its id. */
static uint64_t open_one(const struct escrow_offer *o, const uint8_t sig[65])
{
	struct buf cd;
	struct rpc_receipt rc;
	struct escrow_event ev;
	struct err e = { 0 };
	u256 dep = u256_from_u64(100 * 600);

	buf_init(&cd, 1 << 16);
	assert_int_equal(erc20_cd_approve(&cd, &F.escrow, &dep, &e), 0);
	send_tx(&rc, F.key_renter, &F.usdc, &cd);
	rpc_receipt_release(&rc);
	buf_reset(&cd);
	assert_int_equal(escrow_cd_open(&cd, o, sig, 65, &dep, &e), 0);
	send_tx(&rc, F.key_renter, &F.escrow, &cd);
	assert_int_equal(escrow_receipt_event(&ev, &rc, &F.escrow, ESCROW_EV_OPENED, &e), 0);
	rpc_receipt_release(&rc);
	buf_release(&cd);
	return ev.id;
}

/* Waits until GET path answers `want` on the current replica; the ms it took (fails after secs). */
static uint64_t wait_status(const char *path, long want, int secs)
{
	uint64_t t0 = clock_mono_ms();
	long st = 0;
	while (clock_mono_ms() - t0 < (uint64_t)secs * 1000) {
		json_t *j = http_json(&st, "GET", path, NULL, NULL);
		json_decref(j);
		if (st == want)
			return clock_mono_ms() - t0;
		usleep(20000);
	}
	fail_msg("GET %s on %s: %ld, want %ld within %d s", path, F.base, st, want, secs);
	return 0;
}

/* What test_replicas started, stopped by group_teardown too when a check failed half way. */
static struct pg_server pg;
static struct replica a, b;

static void replicas_stop(void)
{
	server_child_stop(&a.sc, SIGTERM);
	server_child_stop(&b.sc, SIGTERM);
	pg_stop(&pg);
}

static void test_replicas(void **state)
{
	struct replica *holder, *other;
	struct escrow_offer o;
	struct err e = { 0 };
	const char *why = NULL;
	char db_url[200], body[4096], tok[128], host[1024], path[160], *ob;
	uint8_t sig[65];
	long st;
	uint64_t ms, id1, id2, id3;
	json_t *j;
	(void)state;

	if (!pg_available(&why)) {
		print_message("skipped: %s\n", why);
		skip();
	}
	if (pg_start(&pg, &e) || pg_database(&pg, db_url, sizeof db_url, "replicas", &e))
		fail_msg("postgres: %s", e.msg);
	replica_start(&a, db_url, "a");
	replica_start(&b, db_url, "b");

	/* sign-in: the nonce from A, redeemed on B; the replay refused on either */
	use(&a);
	j = http_json(&st, "GET", "/auth/nonce", NULL, NULL);
	assert_int_equal(st, 200);
	siwe_make_for(body, sizeof body, jstr(j, "nonce"), F.key_provider, "market.test", "http://market.test");
	json_decref(j);
	use(&b);
	j = http_json(&st, "POST", "/auth/siwe", body, NULL);
	if (st != 200)
		fail_msg("A's nonce on B: %ld", st);
	snprintf(tok, sizeof tok, "%s", jstr(j, "token"));
	json_decref(j);
	j = http_json(&st, "POST", "/auth/siwe", body, NULL);
	assert_true(st >= 400 && st < 500);
	json_decref(j);
	use(&a);
	j = http_json(&st, "POST", "/auth/siwe", body, NULL);
	assert_true(st >= 400 && st < 500);
	json_decref(j);

	/* an offer posted to A (with B's session) is found by a search on B within 1 s */
	host_body(host, sizeof host, "4242", "NL", "eu-west", "550.54.15", "", "RTX_4090");
	j = http_json(&st, "POST", "/hosts", host, tok);
	if (st != 201 && st != 200)
		fail_msg("POST /hosts on A: %ld", st);
	json_decref(j);
	make_offer(&o, USDC_RATE_1, 4242);
	{
		struct rpc_block head; /* earlier cases moved the chain's clock ahead of this machine's */
		assert_int_equal(rpc_get_block(&F.rpc, &head, "latest", &e), 0);
		o.expiry = head.timestamp + 7200;
	}
	assert_int_equal(escrow_offer_sign(sig, F.chain_id, &F.escrow, &o, F.key_provider, &e), 0);
	ob = offer_body(&o, sig, "4242");
	j = http_json(&st, "POST", "/offers", ob, NULL);
	free(ob);
	if (st != 201)
		fail_msg("POST /offers on A: %ld", st);
	snprintf(path, sizeof path, "/offers/%s", jstr(j, "offer_hash"));
	json_decref(j);
	use(&b);
	ms = wait_status("/offers?q=country=NL", 200, 5);
	{
		uint64_t t0 = clock_mono_ms();
		bool found = false;
		while (!found && clock_mono_ms() - t0 < 3000) {
			j = http_json(&st, "GET", "/offers?q=country=NL", NULL, NULL);
			found = st == 200 && json_array_size(json_object_get(j, "offers")) == 1;
			json_decref(j);
			if (!found)
				usleep(20000);
		}
		ms = clock_mono_ms() - t0;
		if (!found || ms > 1000)
			fail_msg("the offer posted to A reached B's search in %llu ms (found: %d)", (unsigned long long)ms,
				 found);
		print_message("offer posted to A, found by a search on B after %llu ms\n", (unsigned long long)ms);
	}
	{
		/* a second offer of the host, withdrawn through B: out of A's search within a second too */
		struct escrow_offer o2 = o;
		uint8_t sig2[65];
		char hash2[80], del[120];
		uint64_t t0;
		bool gone = false;
		o2.nonce = 4243;
		assert_int_equal(escrow_offer_sign(sig2, F.chain_id, &F.escrow, &o2, F.key_provider, &e), 0);
		ob = offer_body(&o2, sig2, "4242");
		use(&a);
		j = http_json(&st, "POST", "/offers", ob, NULL);
		free(ob);
		assert_int_equal(st, 201);
		snprintf(hash2, sizeof hash2, "%s", jstr(j, "offer_hash"));
		json_decref(j);
		use(&b);
		snprintf(del, sizeof del, "/offers/%s", hash2);
		for (int i = 0; i < 100; i++) { /* B lists it first (it is B that withdraws it) */
			j = http_json(&st, "GET", "/offers?q=country=NL", NULL, NULL);
			bool two = st == 200 && json_array_size(json_object_get(j, "offers")) == 2;
			json_decref(j);
			if (two)
				break;
			usleep(20000);
		}
		j = http_json(&st, "DELETE", del, NULL, tok);
		assert_int_equal(st, 200);
		json_decref(j);
		use(&a);
		t0 = clock_mono_ms();
		while (!gone && clock_mono_ms() - t0 < 3000) {
			j = http_json(&st, "GET", "/offers?q=country=NL", NULL, NULL);
			gone = st == 200 && json_array_size(json_object_get(j, "offers")) == 1;
			json_decref(j);
			if (!gone)
				usleep(20000);
		}
		ms = clock_mono_ms() - t0;
		if (!gone || ms > 1000)
			fail_msg("the offer withdrawn on B left A's search after %llu ms (gone: %d)", (unsigned long long)ms, gone);
		print_message("offer withdrawn on B, out of A's search after %llu ms\n", (unsigned long long)ms);
	}

	/* exactly one replica indexes; kill -9 it: the other takes over and misses nothing */
	id1 = open_one(&o, sig);
	for (int i = 0; i < 100 && !log_has(a.log, "role=indexer") && !log_has(b.log, "role=indexer"); i++)
		usleep(50000);
	holder = log_has(a.log, "msg=\"role taken: this replica runs it\" role=indexer") ? &a : &b;
	other = holder == &a ? &b : &a;
	use(other);
	snprintf(path, sizeof path, "/rentals/%" PRIu64, id1);
	wait_status(path, 200, 10);
	server_child_stop(&holder->sc, SIGKILL);
	id2 = open_one(&o, sig);
	id3 = open_one(&o, sig);
	snprintf(path, sizeof path, "/rentals/%" PRIu64, id3);
	ms = wait_status(path, 200, 15);
	print_message("indexer replica killed: the other indexed rental %llu %llu ms later\n", (unsigned long long)id3,
		      (unsigned long long)ms);
	assert_true(log_has(other->log, "role taken: this replica runs it\" role=indexer"));
	snprintf(path, sizeof path, "/rentals/%" PRIu64, id2);
	wait_status(path, 200, 5);
	{
		/* a rental's live stream from the replica that did not index it when it opened */
		struct resp sr;
		struct replica *streamer = other;
		use(streamer);
		snprintf(path, sizeof path, "/rentals/%" PRIu64 "/stream", id1);
		http(&sr, "GET", path, NULL, 0, NULL, 1500);
		assert_int_equal(sr.status, 200);
		assert_non_null(sr.body.data);
		assert_non_null(strstr((char *)sr.body.data, "event: status"));
		buf_release(&sr.body);
	}
	wait_indexed(); /* the surviving replica reached the chain's head */
	chain_vs_store(db_url);
	use(other);

	/* PostgreSQL restarts under the running replica: 503 while it is down, then back, nothing lost */
	{
		pid_t pid = pg.pid;
		kill(pid, SIGINT);
		waitpid(pid, NULL, 0);
		pg.pid = 0;
	}
	snprintf(path, sizeof path, "/rentals/%" PRIu64, id3);
	wait_status(path, 503, 10);
	if (pg_restart(&pg, &e))
		fail_msg("postgres restart: %s", e.msg);
	wait_status(path, 200, 15);
	open_one(&o, sig); /* and it indexes again */
	wait_indexed();
	chain_vs_store(db_url);

	replicas_stop();
	use(&(struct replica){ .sc = F.server });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_and_metrics),
		cmocka_unit_test(test_sign_in),
		cmocka_unit_test(test_sign_in_refusals),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_offers),
		cmocka_unit_test(test_rental_open_indexed),
		cmocka_unit_test(test_attestation_bound_to_end),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_kill9_restart),
		cmocka_unit_test(test_stop_and_receipt),
		cmocka_unit_test(test_rating_and_attestation),
		cmocka_unit_test(test_reorg),
		cmocka_unit_test(test_cancel_offer_on_chain),
		cmocka_unit_test(test_reclaim_stream),
		cmocka_unit_test(test_price_feed_receipts),
		cmocka_unit_test(test_replicas),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
