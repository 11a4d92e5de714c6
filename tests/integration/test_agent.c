/*
 * test_agent.c — the provider agent as a provider runs it: `build/flopmarket agent ...` as a child
 * process, against a real anvil with the escrow and dev tokens deployed (escrow/deploy.h), a real
 * sshd (tests/support/sshd.h), no marketplace server (the agent skips server reports without one).
 *
 * Scenario (one rental's whole life, then a second one that runs out):
 *  - the SSH key endpoint refuses a bad key (400) and a key signed by someone else than the renter on
 *    chain (403), accepts the renter's (202);
 *  - rental 1 (DevUSDC, dispute window 60 s): opened on chain, key delivered, `ssh ... echo ok` works
 *    within 60 s; chain time past paidUntil -> frozen (ssh refused, file kept); extend within grace ->
 *    thawed (ssh works, file still there); kill -9 of the agent and a restart -> access still works;
 *    renter stops -> account torn down (ssh refused, user gone); after the dispute window the agent's
 *    final claim closes the rental and the payout address holds exactly cost(billed) - fee(cost(billed));
 *  - rental 2 (native coin): the key is delivered BEFORE the rental exists (pending), access works
 *    once it opens; chain time past paidUntil + grace -> torn down; the agent settles it on chain.
 * Needs root, OpenSSH and anvil; skips cleanly otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>

#include "agent/account.h"
#include "agent/agent.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "escrow/client.h"
#include "escrow/deploy.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"
#include "eth/eip191.h"
#include "eth/keccak.h"
#include "eth/rpc.h"
#include "eth/secp.h"
#include "support/anvil.h"
#include "support/chain.h"
#include "support/child.h"
#include "support/deploy.h"
#include "support/sshd.h"

#define FEE_BPS 1000
#define TIMEOUT_MS 60000
#define WAIT_MS 60000
#define UNIT_USDC UINT64_C(1000000) /* 1 USDC per hour */

static struct err e_;
#define OK(x)                                                                                      \
	do {                                                                                       \
		int rc_ = (x);                                                                     \
		if (rc_)                                                                           \
			fail_msg("%s -> %d: %s", #x, rc_, e_.msg);                                 \
	} while (0)

static struct {
	bool ready;
	const char *why;
	char root[512];
	char tmp[128];
	char data_dir[200], state_dir[200], home_base[64], cg_name[64], key[200], pub[512];
	char dep_path[200], log_path[200];
	char bin[600];                  /* the flopmarket binary: $FLOPMARKET_BIN or <root>/build/flopmarket */
	struct sshd sshd;
	struct anvil node;
	struct rpc rpc;
	uint64_t chain;
	struct deploy_fixture fx;
	struct eth_address escrow, usdc, renter, provider, deployer, payout, treasury;
	uint8_t renter_key[32], provider_key[32], deployer_key[32];
	uint16_t agent_port;
	pid_t agent;
	long log_off;                   /* where the running agent's lines start in log_path */
	struct account_cfg acfg;
} T;

/* ------------------------------------------------------------------ helpers */

static int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_cmd(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t n = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t p = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &n) == 0)
		p = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

static void agent_start(void)
{
	char bin[600], dd[220], url[80], dep[220], listen[40], sshp[16], sd[220], hb[80], cg[80];
	pid_t pid;

	snprintf(bin, sizeof bin, "%s", T.bin);
	snprintf(dd, sizeof dd, "%s", T.data_dir);
	snprintf(url, sizeof url, "%s", T.node.url);
	snprintf(dep, sizeof dep, "%s", T.dep_path);
	snprintf(listen, sizeof listen, "127.0.0.1:%u", T.agent_port);
	snprintf(sshp, sizeof sshp, "%u", T.sshd.port);
	snprintf(sd, sizeof sd, "%s", T.state_dir);
	snprintf(hb, sizeof hb, "%s", T.home_base);
	snprintf(cg, sizeof cg, "%s", T.cg_name);
	{
		struct stat st;
		T.log_off = stat(T.log_path, &st) == 0 ? (long)st.st_size : 0;
	}
	{
		const char *env[] = { "FLOPMARKET_PASSPHRASE=agent-test-pass", NULL };
		char *argv[] = { bin, "--data-dir", dd, "--rpc-url", url, "--log-level", "debug", "agent",
				 "--wallet", "prov", "--deployment", dep, "--listen", listen, "--ssh-port", sshp,
				 "--state-dir", sd, "--home-base", hb, "--cgroup-name", cg, "--confirmations", "0",
				 "--poll-ms", "200", "--claim-interval", "2", NULL };
		pid = child_spawn(bin, argv, T.log_path, env);
		assert_true(pid >= 0);
	}
	T.agent = pid;
}

static void agent_kill9(void)
{
	if (T.agent > 0) {
		kill(T.agent, SIGKILL);
		waitpid(T.agent, NULL, 0);
		T.agent = 0;
	}
}

static void agent_stop_clean(void)
{
	child_stop(&T.agent, SIGTERM);
}

/* Waits until the agent's log (this run of it: written since agent_start) holds `what`. */
static void wait_log(const char *what, uint64_t ms)
{
	uint64_t t0 = clock_mono_ms();

	while (clock_mono_ms() - t0 < ms) {
		static char buf[1 << 20];
		FILE *f = fopen(T.log_path, "r");
		size_t k = 0;
		if (f && fseek(f, T.log_off, SEEK_SET) == 0)
			k = fread(buf, 1, sizeof buf - 1, f);
		if (f)
			fclose(f);
		buf[k] = '\0';
		if (strstr(buf, what))
			return;
		usleep(100 * 1000);
	}
	fail_msg("the agent's log never said '%s'", what);
}

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
	buf_append(ud, p, s * n);
	return s * n;
}

/* HTTP to the agent: returns the status; body (optional) gets the answer. */
static long agent_http(struct buf *body, const char *method, const char *path, const char *json)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[256];
	struct buf sink;
	long status = 0;

	buf_init(&sink, 1 << 20);
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", T.agent_port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body ? body : &sink);
	if (json)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	buf_release(&sink);
	return status;
}

/* Waits until the agent's endpoint answers. */
static void agent_wait_up(void)
{
	for (int i = 0; i < 300; i++) {
		if (agent_http(NULL, "GET", "/rentals/1/access", NULL) == 200)
			return;
		clock_sleep_ms(100);
	}
	fail_msg("agent did not come up (log: %s)", T.log_path);
}

/* POSTs the key for rental `id` signed with `key32` at `issued_ms`; returns the status, body in out. */
static long send_key_at(struct buf *out, uint64_t id, const char *pub, const uint8_t key32[32], uint64_t issued_ms)
{
	char msg[AGENT_SSH_KEY_MSG_MAX], sig_hex[140], path[64];
	uint8_t sig[65];
	json_t *j;
	char *text;
	long st;

	clock_sleep_ms(210); /* stay under the agent's per-address rate (5/s): this is not the rate test */
	OK(agent_ssh_key_message(msg, sizeof msg, id, issued_ms, pub, NULL, &e_));
	OK(eip191_sign(sig, (const uint8_t *)msg, strlen(msg), key32, &e_));
	hex_encode_0x(sig_hex, sig, 65);
	j = json_pack("{s:s, s:I, s:s}", "ssh_key", pub, "issued_ms", (json_int_t)issued_ms, "signature", sig_hex);
	text = json_dumps(j, JSON_COMPACT);
	snprintf(path, sizeof path, "/rentals/%llu/ssh-key", (unsigned long long)id);
	st = agent_http(out, "POST", path, text);
	free(text);
	json_decref(j);
	return st;
}

/* send_key_at, signed now. */
static long send_key(struct buf *out, uint64_t id, const char *pub, const uint8_t key32[32])
{
	static uint64_t last;
	uint64_t now = (uint64_t)clock_wall_ms();
	if (now <= last)
		now = last + 1; /* two deliveries in one millisecond: still newer */
	last = now;
	return send_key_at(out, id, pub, key32, now);
}

/* The agent's instance id (agent.db meta, made on its first start): part of its account names. */
static void agent_instance(char out[ACCOUNT_INSTANCE_MAX + 1])
{
	char path[300];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;

	snprintf(path, sizeof path, "%s/agent.db", T.state_dir);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k = 'instance'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, ACCOUNT_INSTANCE_MAX + 1, "%016llx", (unsigned long long)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void warp(uint64_t secs)
{
	char params[32];
	json_t *res = NULL;

	snprintf(params, sizeof params, "[%llu]", (unsigned long long)secs);
	OK(rpc_call_text(&T.rpc, &res, "evm_increaseTime", params, &e_));
	json_decref(res);
	res = NULL;
	OK(rpc_call_text(&T.rpc, &res, "evm_mine", "[]", &e_));
	json_decref(res);
}

static void account_of(char name[ACCOUNT_NAME_LEN + 1], uint64_t id)
{
	char s[ACCOUNT_RENTAL_ID_MAX + 1], inst[ACCOUNT_INSTANCE_MAX + 1];
	agent_instance(inst);
	OK(account_rental_scope(s, sizeof s, T.chain, &T.escrow, inst, id, &e_));
	OK(account_name_for_rental(name, s, &e_));
}

static int ssh_status(const char *user, const char *cmd, char *out, size_t cap)
{
	struct err e = { 0, "" };
	int status = -1;

	if (ssh_run(out, cap, &status, &T.sshd, T.key, user, cmd, 20000, &e))
		return -1;
	return status;
}

/* Waits until `ssh user cmd` exits with want_ok ? 0 : non-zero (255). Returns ms waited. */
static uint64_t wait_ssh(const char *user, bool want_ok, const char *what)
{
	uint64_t t0 = clock_mono_ms();
	char out[4096] = "";

	while (clock_mono_ms() - t0 < WAIT_MS) {
		int st = ssh_status(user, "echo ok", out, sizeof out);
		if (want_ok ? (st == 0 && strstr(out, "ok")) : (st != 0))
			return clock_mono_ms() - t0;
		clock_sleep_ms(250);
	}
	fail_msg("%s: ssh never %s within %d ms (last: %.300s; agent log %s)", what,
		 want_ok ? "worked" : "was refused", WAIT_MS, out, T.log_path);
	return 0;
}

static void wait_user_gone(const char *user)
{
	uint64_t t0 = clock_mono_ms();
	while (clock_mono_ms() - t0 < WAIT_MS) {
		if (!getpwnam(user))
			return;
		clock_sleep_ms(200);
	}
	fail_msg("user %s still exists", user);
}

static struct escrow_offer make_offer(const struct eth_address *token, uint64_t unit_per_hour, uint32_t dispute,
				      uint32_t grace, uint64_t nonce)
{
	struct escrow_offer o;
	struct rpc_block b;
	u256 u = u256_from_u64(unit_per_hour), scale = u256_from_u64(UINT64_C(1000000000000000000)),
	     h = u256_from_u64(3600);

	memset(&o, 0, sizeof o);
	o.provider = T.provider;
	o.payout = T.payout;
	o.token = *token;
	assert_int_equal(u256_mul(&o.rate, &u, &scale), 0);
	assert_int_equal(u256_divmod(&o.rate, NULL, &o.rate, &h), 0);
	o.min_secs = 60;
	o.max_secs = 30 * 86400;
	o.grace_secs = grace;
	o.dispute_secs = dispute;
	keccak256(o.spec_hash, (const uint8_t *)"simulated A100", 14);
	o.capacity = 100; /* several rentals of this machine at once; capacity has its own test */
	o.max_fee_bps = ESCROW_MAX_FEE_BPS;
	OK(rpc_get_block(&T.rpc, &b, "latest", &e_));
	o.expiry = b.timestamp + 30 * 86400;
	o.nonce = nonce;
	return o;
}

/* Opens a rental as the renter; returns its terms. */
static struct escrow_terms open_rental(const struct escrow_offer *o, const u256 *amount)
{
	struct buf cd;
	struct rpc_receipt rc;
	struct escrow_event ev;
	uint8_t osig[65];
	bool native = address_is_zero(&o->token);

	buf_init(&cd, 1 << 16);
	if (!native) {
		OK(erc20_cd_approve(&cd, &T.escrow, amount, &e_));
		OK(escrow_send(&T.rpc, &rc, T.chain, T.renter_key, &o->token, NULL, cd.data, cd.len, TIMEOUT_MS,
			       &e_));
		rpc_receipt_release(&rc);
		buf_reset(&cd);
	}
	OK(escrow_offer_sign(osig, T.chain, &T.escrow, o, T.provider_key, &e_));
	OK(escrow_cd_open(&cd, o, osig, 65, amount, &e_));
	OK(escrow_send(&T.rpc, &rc, T.chain, T.renter_key, &T.escrow, native ? amount : NULL, cd.data, cd.len,
		       TIMEOUT_MS, &e_));
	OK(escrow_receipt_event(&ev, &rc, &T.escrow, ESCROW_EV_OPENED, &e_));
	rpc_receipt_release(&rc);
	buf_release(&cd);
	return ev.opened.terms;
}

/* Renter calls on a rental: extend (amount) or stop. Returns the new state word. */
static u256 renter_call(const struct escrow_terms *t, bool extend, const u256 *amount)
{
	struct buf cd;
	struct rpc_receipt rc;
	struct escrow_event ev;
	bool native = address_is_zero(&t->token);

	buf_init(&cd, 1 << 16);
	if (extend && !native) {
		OK(erc20_cd_approve(&cd, &T.escrow, amount, &e_));
		OK(escrow_send(&T.rpc, &rc, T.chain, T.renter_key, &t->token, NULL, cd.data, cd.len, TIMEOUT_MS,
			       &e_));
		rpc_receipt_release(&rc);
		buf_reset(&cd);
	}
	if (extend)
		OK(escrow_cd_extend(&cd, t, amount, &e_));
	else
		OK(escrow_cd_rental(&cd, ESCROW_FN_STOP, t, &e_));
	OK(escrow_send(&T.rpc, &rc, T.chain, T.renter_key, &T.escrow, extend && native ? amount : NULL, cd.data,
		       cd.len, TIMEOUT_MS, &e_));
	OK(escrow_receipt_event(&ev, &rc, &T.escrow, extend ? ESCROW_EV_EXTENDED : ESCROW_EV_STOPPED, &e_));
	rpc_receipt_release(&rc);
	buf_release(&cd);
	return ev.state;
}

/* The rental as the chain's events say (agent_scan_rentals). */
static struct agent_rental scan_one(uint64_t id)
{
	struct agent_rental *v = NULL, r;
	size_t n = 0;

	OK(agent_scan_rentals(&v, &n, &T.rpc, &T.escrow, &T.provider, 0, 0, &e_));
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id) {
			r = v[i];
			free(v);
			return r;
		}
	free(v);
	fail_msg("rental %llu not found on chain", (unsigned long long)id);
	memset(&r, 0, sizeof r);
	return r;
}

/* ------------------------------------------------------------------ setup */

static int group_setup(void **state)
{
	struct escrow_deploy_opts o;
	struct err e = { 0, "" };
	const char *why = NULL;

	(void)state;
	if (!sshd_available(&why)) {
		T.why = why;
		return 0;
	}
	if (anvil_repo_root(T.root, sizeof T.root, &e))
		return -1;
	snprintf(T.bin, sizeof T.bin, "%s", child_bin(T.root));
	if (access(T.bin, X_OK) != 0) {
		T.why = "the flopmarket binary is not built";
		return 0;
	}
	snprintf(T.tmp, sizeof T.tmp, "/tmp/fm-agent-test.XXXXXX");
	if (!mkdtemp(T.tmp) || chmod(T.tmp, 0755))
		return -1;
	snprintf(T.data_dir, sizeof T.data_dir, "%s/data", T.tmp);
	snprintf(T.state_dir, sizeof T.state_dir, "%s/agent", T.tmp);
	snprintf(T.home_base, sizeof T.home_base, "/home/fmagent-%d", (int)getpid());
	snprintf(T.cg_name, sizeof T.cg_name, "flopmarket-agent-test-%d", (int)getpid());
	snprintf(T.key, sizeof T.key, "%s/renter_ed25519", T.tmp);
	snprintf(T.dep_path, sizeof T.dep_path, "%s/deployment.json", T.tmp);
	snprintf(T.log_path, sizeof T.log_path, "%s/agent.log", T.tmp);
	T.acfg.state_dir = NULL;
	if (sshd_keygen(T.pub, sizeof T.pub, T.key, &e)) {
		fprintf(stderr, "keygen: %s\n", e.msg);
		return -1;
	}
	T.pub[strcspn(T.pub, "\n")] = '\0';
	if (sshd_start(&T.sshd, ACCOUNT_PREFIX "*", &e)) {
		fprintf(stderr, "sshd: %s\n", e.msg);
		return -1;
	}
	if (anvil_start(&T.node, NULL, &e) || rpc_init(&T.rpc, T.node.url, NULL, &e) ||
	    rpc_chain_id(&T.rpc, &T.chain, &e)) {
		fprintf(stderr, "anvil: %s\n", e.msg);
		return -1;
	}
	anvil_account(0, T.deployer_key, &T.deployer);
	anvil_account(1, T.renter_key, &T.renter);
	anvil_account(2, T.provider_key, &T.provider);
	memset(&T.payout, 0, sizeof T.payout);
	T.payout.b[18] = 0x9a;
	T.payout.b[19] = 0x1d;
	memset(&T.treasury, 0, sizeof T.treasury);
	T.treasury.b[19] = 0x7e;
	memset(&o, 0, sizeof o);
	o.owner = T.deployer;
	o.treasury = T.treasury;
	o.fee_bps = FEE_BPS;
	o.arbiter_window_secs = 86400;
	o.mint_to = &T.renter;
	o.n_mint_to = 1;
	o.mint_whole_tokens = 1000;
	o.timeout_ms = TIMEOUT_MS;
	if (deploy_fixture(&T.fx, &T.rpc, T.deployer_key, T.root, &o, T.dep_path, &e)) {
		fprintf(stderr, "deploy: %s\n", e.msg);
		return -1;
	}
	T.escrow = T.fx.escrow;
	T.usdc = T.fx.usdc;
	/* the provider's wallet, as a provider would import it (cheap scrypt for the test) */
	{
		char hex[65];
		hex_encode(hex, T.provider_key, 32);
		if (run_cmd("FLOPMARKET_PRIVATE_KEY=%s FLOPMARKET_PASSPHRASE=agent-test-pass "
			    "FLOPMARKET_KEYSTORE_SCRYPT_LOG2_N=10 %s --data-dir %s "
			    "wallet import --private-key --wallet prov >/dev/null",
			    hex, T.bin, T.data_dir) != 0) {
			fprintf(stderr, "wallet import failed\n");
			return -1;
		}
	}
	T.acfg.state_dir = NULL;
	T.agent_port = free_port();
	T.ready = true;
	return 0;
}

static int group_teardown(void **state)
{
	struct account *list = NULL;
	size_t n = 0;
	char accounts[260];
	struct account_cfg c;

	(void)state;
	if (!T.ready) {
		sshd_stop(&T.sshd);
		anvil_stop(&T.node);
		return 0;
	}
	agent_stop_clean();
	memset(&c, 0, sizeof c);
	snprintf(accounts, sizeof accounts, "%s/accounts", T.state_dir);
	c.state_dir = accounts;
	c.home_base = T.home_base;
	c.cgroup_name = T.cg_name;
	if (account_list(&list, &n, &c, NULL) == 0) {
		for (size_t i = 0; i < n; i++)
			account_teardown(&c, list[i].name, NULL);
		free(list);
	}
	run_cmd("for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/*/process_api/*/; do "
		"[ -d \"${d}%s\" ] && rmdir \"${d}%s\"; done 2>/dev/null; rm -rf '%s'", T.cg_name, T.cg_name,
		T.home_base);
	if (getenv("FLOP_KEEP_AGENT_LOG"))
		fprintf(stderr, "agent log kept in %s\n", T.log_path);
	else
		run_cmd("rm -rf '%s'", T.tmp);
	rpc_release(&T.rpc);
	anvil_stop(&T.node);
	sshd_stop(&T.sshd);
	return 0;
}

#define NEED_READY()                                                                               \
	do {                                                                                       \
		if (!T.ready) {                                                                    \
			fprintf(stderr, "skipped: %s\n", T.why ? T.why : "setup failed");          \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

/* ------------------------------------------------------------------ tests */

/* The key endpoint: bad input and the wrong signer are refused, nothing is created. */
static void test_key_endpoint_refusals(void **state)
{
	struct buf body;
	uint8_t other[32];
	struct eth_address oa;

	(void)state;
	NEED_READY();
	agent_start();
	agent_wait_up();
	buf_init(&body, 1 << 16);
	/* a malformed key line */
	assert_int_equal(send_key(&body, 1, "ssh-ed25519 not-base64!", T.renter_key), 400);
	assert_non_null(strstr(buf_cstr(&body), "ssh_key"));
	buf_reset(&body);
	/* a bad id and a body that is not JSON */
	assert_int_equal(agent_http(&body, "POST", "/rentals/007/ssh-key", "{}"), 400);
	buf_reset(&body);
	assert_int_equal(agent_http(&body, "POST", "/rentals/1/ssh-key", "nope"), 400);
	buf_reset(&body);
	/* a signature that is not 65 bytes */
	assert_int_equal(agent_http(&body, "POST", "/rentals/1/ssh-key",
				    "{\"ssh_key\":\"x\",\"signature\":\"0x1234\"}"), 400);
	buf_reset(&body);
	/* rental 1 opened on chain by the renter; a key signed by someone else is forbidden */
	{
		struct escrow_offer o = make_offer(&T.usdc, UNIT_USDC, 60, 600, 1);
		u256 amount = u256_from_u64(UNIT_USDC); /* 1 hour */
		struct escrow_terms t = open_rental(&o, &amount);
		assert_int_equal((int)t.id, 1);
	}
	anvil_account(0, other, &oa);
	for (int i = 0; i < 100; i++) {
		buf_reset(&body);
		long st = send_key(&body, 1, T.pub, other);
		if (st == 403)
			break;
		assert_int_equal(st, 202); /* pending until the agent has read the Opened event */
		clock_sleep_ms(100);
	}
	assert_non_null(strstr(buf_cstr(&body), "forbidden"));
	/* Issue 8.9: keys for a rental the agent has not seen are capped per rental (4 signers) and in all;
	 * past the cap a new signer gets 429 (retry later), while a signer already waiting may re-sign. */
	{
		uint8_t k[5][32];
		struct eth_address ka;
		for (int i = 0; i < 5; i++)
			OK(secp_seckey_generate(k[i], &e_));
		for (int i = 0; i < 4; i++) {
			buf_reset(&body);
			long st = send_key(&body, 900, T.pub, k[i]);
			if (st != 202)
				fail_msg("pending key %d: %ld %s", i, st, buf_cstr(&body));
		}
		buf_reset(&body);
		assert_int_equal(send_key(&body, 900, T.pub, k[4]), 429);
		assert_non_null(strstr(buf_cstr(&body), "busy"));
		buf_reset(&body);
		assert_int_equal(send_key(&body, 900, T.pub, k[0]), 202);
		(void)ka;
	}
	buf_release(&body);
}

/* Rental 1: access, runout freeze, extend thaw, kill -9 + restart, stop teardown, final claim. */
static void test_rental_lifecycle(void **state)
{
	struct buf body;
	char user[ACCOUNT_NAME_LEN + 1], out[4096];
	struct agent_rental r;
	struct escrow_view v;
	uint64_t ms;
	u256 payout0, amount = u256_from_u64(UNIT_USDC), gross, fee, want, got;

	(void)state;
	NEED_READY();
	assert_true(T.agent > 0);
	account_of(user, 1);
	payout0 = chain_balance(&T.rpc, &T.usdc, &T.payout);

	buf_init(&body, 1 << 16);
	uint64_t first = (uint64_t)clock_wall_ms();
	assert_int_equal(send_key_at(&body, 1, T.pub, T.renter_key, first), 202);
	assert_non_null(strstr(buf_cstr(&body), "accepted"));
	ms = wait_ssh(user, true, "access after key delivery");
	/* Issue 8.10: the agent ran without --memory-max / --pids-max, yet the account has host-derived
	 * limits (no cgroup file says "max"). */
	{
		struct account acc;
		struct account_cfg c;
		char accounts[260], path[ACCOUNT_PATH_MAX + 32], text[64];
		int limited = 0;
		memset(&c, 0, sizeof c);
		snprintf(accounts, sizeof accounts, "%s/accounts", T.state_dir);
		c.state_dir = accounts;
		c.home_base = T.home_base;
		c.cgroup_name = T.cg_name;
		OK(account_load(&acc, &c, user, &e_));
		for (size_t i = 0; i < acc.cg.count; i++) {
			static const char *const files[] = { "pids.max", "memory.limit_in_bytes", "memory.max" };
			for (size_t f = 0; f < 3; f++) {
				snprintf(path, sizeof path, "%s/%s", acc.cg.dir[i], files[f]);
				FILE *fp = fopen(path, "r");
				if (!fp)
					continue;
				if (fgets(text, sizeof text, fp) && strncmp(text, "max", 3) != 0 &&
				    strtoull(text, NULL, 10) < (UINT64_C(1) << 62))
					limited++;
				fclose(fp);
			}
		}
		if (acc.cg.count && limited < 2)
			fail_msg("account %s: default memory and pids limits not applied (%d limited)", user, limited);
	}
	/* Issue 8.11: the renter reads nothing of the agent's, not even by name: state dir 0700, every
	 * state file 0600, the login shell outside the state dir. */
	{
		static const char *const files[] = { "agent.db", "sender.db", "agent.db-wal", "sender.db-wal" };
		char path[400], cmd[480];
		struct stat stt;
		struct passwd *pw = getpwnam(user);
		assert_int_equal(stat(T.state_dir, &stt), 0);
		assert_int_equal(stt.st_mode & 0777, 0700);
		for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
			snprintf(path, sizeof path, "%s/%s", T.state_dir, files[i]);
			if (stat(path, &stt) == 0 && (stt.st_mode & 0777) != 0600)
				fail_msg("%s has mode %o, want 0600", path, stt.st_mode & 0777);
		}
		assert_non_null(pw);
		assert_true(strncmp(pw->pw_shell, T.state_dir, strlen(T.state_dir)) != 0);
		snprintf(path, sizeof path, "%s/sender.db", T.state_dir);
		snprintf(cmd, sizeof cmd, "cat %s > /dev/null", path);
		assert_true(ssh_status(user, cmd, out, sizeof out) != 0);
	}
	/* Issue 8.9: the same signed delivery again (a replay), or one signed earlier, is refused; a stale
	 * or future-dated one too; the installed key stays. */
	buf_reset(&body);
	assert_int_equal(send_key_at(&body, 1, T.pub, T.renter_key, first), 409);
	assert_non_null(strstr(buf_cstr(&body), "replayed"));
	buf_reset(&body);
	assert_int_equal(send_key_at(&body, 1, T.pub, T.renter_key, first - 1000), 409);
	buf_reset(&body);
	assert_int_equal(send_key_at(&body, 1, T.pub, T.renter_key, first - 16 * 60 * 1000), 400);
	assert_non_null(strstr(buf_cstr(&body), "stale"));
	buf_reset(&body);
	assert_int_equal(send_key_at(&body, 1, T.pub, T.renter_key, first + 6 * 60 * 1000), 400);
	buf_reset(&body);
	assert_int_equal(agent_http(&body, "POST", "/rentals/1/ssh-key",
				    "{\"ssh_key\":\"x\",\"signature\":\"0x1234\"}"), 400); /* no issued_ms */
	fprintf(stderr, "  key delivered -> first ssh login: %llu ms\n", (unsigned long long)ms);
	buf_reset(&body);
	assert_int_equal(agent_http(&body, "GET", "/rentals/1/access", NULL), 200);
	assert_non_null(strstr(buf_cstr(&body), "\"active\""));
	assert_non_null(strstr(buf_cstr(&body), user));
	assert_int_equal(ssh_status(user, "echo kept > ~/work.txt", out, sizeof out), 0);
	/* the browser terminal is served on the same endpoint (terminal.h; its own test covers sessions) */
	buf_reset(&body);
	assert_int_equal(agent_http(&body, "GET", "/terminal/1/challenge", NULL), 200);
	assert_non_null(strstr(buf_cstr(&body), "\"challenge\""));
	assert_non_null(strstr(buf_cstr(&body), "Rental: 1"));

	/* runout: past paidUntil (1 h bought) but within the 600 s grace -> frozen, files kept */
	warp(3600 + 5);
	wait_ssh(user, false, "frozen at runout");
	assert_non_null(getpwnam(user));
	{
		char path[256];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s/work.txt", T.home_base, user);
		assert_int_equal(stat(path, &st), 0);
	}

	/* extend within grace -> thawed, the file is still there */
	r = scan_one(1);
	renter_call(&r.t, true, &amount);
	wait_ssh(user, true, "thaw after extend");
	assert_int_equal(ssh_status(user, "cat ~/work.txt", out, sizeof out), 0);
	assert_non_null(strstr(out, "kept"));

	/* kill -9 the agent while the rental is active; restart: access still works */
	agent_kill9();
	assert_int_equal(ssh_status(user, "echo ok", out, sizeof out), 0);
	agent_start();
	agent_wait_up();
	wait_ssh(user, true, "access after agent restart");
	/* once the restarted agent has reconciled its accounts with the chain, the live rental's files are
	 * still there (its account was torn down and made again: a restart wiped the renter's work) */
	wait_log("accounts reconciled", WAIT_MS);
	assert_int_equal(ssh_status(user, "cat ~/work.txt", out, sizeof out), 0);
	assert_non_null(strstr(out, "kept"));

	/* renter stops -> teardown: ssh refused, user and home gone */
	warp(600);
	r = scan_one(1);
	renter_call(&r.t, false, NULL);
	wait_ssh(user, false, "refused after stop");
	wait_user_gone(user);
	{
		char path[256];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", T.home_base, user);
		assert_int_not_equal(stat(path, &st), 0);
	}
	/* the teardown marks the rental ended just after the user is gone: wait for it (a fresh-clone run
	 * on a busy host read "pending" in between) */
	{
		uint64_t t0 = clock_mono_ms();
		do {
			buf_reset(&body);
			assert_int_equal(agent_http(&body, "GET", "/rentals/1/access", NULL), 200);
			if (strstr(buf_cstr(&body), "\"ended\""))
				break;
			clock_sleep_ms(100);
		} while (clock_mono_ms() - t0 < WAIT_MS);
		if (!strstr(buf_cstr(&body), "\"ended\""))
			fail_msg("access after the stop: %s", buf_cstr(&body));
	}

	/* the dispute window (60 s) passes; the agent's final claim closes the rental */
	warp(61);
	{
		uint64_t t0 = clock_mono_ms();
		do {
			r = scan_one(1);
			if (r.closed)
				break;
			clock_sleep_ms(250);
		} while (clock_mono_ms() - t0 < WAIT_MS);
	}
	assert_true(r.closed);
	OK(escrow_state_view(&v, &r.t, &r.word, &e_));
	OK(escrow_cost(&gross, &r.t.rate, v.used_secs, &e_));
	OK(escrow_fee(&fee, &gross, r.t.fee_bps, &e_));
	assert_int_equal(u256_sub(&want, &gross, &fee), 0);
	assert_int_equal(u256_add(&want, &want, &payout0), 0);
	got = chain_balance(&T.rpc, &T.usdc, &T.payout);
	if (u256_cmp(&got, &want) != 0) {
		char g[80], w[80];
		u256_to_dec(g, &got);
		u256_to_dec(w, &want);
		fail_msg("payout balance %s, mirror says %s", g, w);
	}
	assert_int_equal(u256_cmp(&r.provider_paid, &(u256){ 0 }) > 0, 1);
	buf_release(&body);
}

/* Rental 2 (native coin): key before the rental exists; runout past grace -> teardown and settle. */
static void test_pending_key_and_runout(void **state)
{
	struct buf body, cd;
	char user[ACCOUNT_NAME_LEN + 1];
	struct eth_address zero;
	struct agent_rental r;
	struct escrow_view v;
	u256 next_id;
	uint64_t id;

	(void)state;
	NEED_READY();
	assert_true(T.agent > 0);
	memset(&zero, 0, sizeof zero);
	buf_init(&cd, 256);
	OK(escrow_cd_getter(&cd, "nextId", &e_));
	OK(escrow_call_u256(&T.rpc, &next_id, &T.escrow, &cd, &e_));
	buf_release(&cd);
	assert_int_equal(u256_to_u64(&id, &next_id), 0);
	account_of(user, id);

	buf_init(&body, 1 << 16);
	assert_int_equal(send_key(&body, id, T.pub, T.renter_key), 202);
	assert_non_null(strstr(buf_cstr(&body), "pending"));
	{
		/* 1 coin per hour, 1 hour, grace 120 s, no dispute window */
		struct escrow_offer o = make_offer(&zero, UINT64_C(1000000000000000000), 0, 120, 2);
		u256 amount = u256_from_u64(UINT64_C(1000000000000000000));
		struct escrow_terms t = open_rental(&o, &amount);
		assert_int_equal(t.id, id);
	}
	wait_ssh(user, true, "access with a key sent before the rental opened");

	/* runout past the grace: torn down, and the agent settles it on chain */
	warp(3600 + 121);
	wait_ssh(user, false, "refused after the grace");
	wait_user_gone(user);
	{
		uint64_t t0 = clock_mono_ms();
		do {
			r = scan_one(id);
			OK(escrow_state_view(&v, &r.t, &r.word, &e_));
			if (r.closed || v.phase != ESCROW_PHASE_ACTIVE)
				break;
			clock_sleep_ms(250);
		} while (clock_mono_ms() - t0 < WAIT_MS);
	}
	assert_true(r.closed || v.phase != ESCROW_PHASE_ACTIVE);
	/* a key for an ended rental is refused */
	buf_reset(&body);
	assert_int_equal(send_key(&body, id, T.pub, T.renter_key), 409);
	buf_release(&body);
}

/* Runs `flopmarket ... provider ARGS` as the provider; out gets stdout+stderr. Returns the exit code. */
static int provider_cli(char *out, size_t cap, const char *args)
{
	char cmd[2048];
	FILE *p;
	size_t n = 0;
	int st;

	snprintf(cmd, sizeof cmd,
		 "FLOPMARKET_PASSPHRASE=agent-test-pass %s --data-dir %s --rpc-url %s "
		 "provider %s --wallet prov --deployment %s 2>&1",
		 T.bin, T.data_dir, T.node.url, args, T.dep_path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n + 1 < cap && (st = (int)fread(out + n, 1, cap - n - 1, p)) > 0)
		n += (size_t)st;
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Interruptible rental 3: `provider reclaim` -> wall message on the renter's terminal, teardown and
 * settle at the end of the notice; `provider earnings` / `claim` / `offer --dry-run`. */
static void test_provider_cli_reclaim(void **state)
{
	struct buf body;
	char user[ACCOUNT_NAME_LEN + 1], out[16384], wall_log[256];
	struct escrow_offer o;
	struct escrow_terms t;
	struct agent_rental r;
	struct escrow_view v;
	u256 amount = u256_from_u64(2 * UNIT_USDC);
	uint64_t t0;

	(void)state;
	NEED_READY();
	if (T.agent <= 0) {
		agent_start();
		agent_wait_up();
	}
	o = make_offer(&T.usdc, UNIT_USDC, 0, 600, 3);
	o.interruptible = true;
	o.notice_secs = 300;
	t = open_rental(&o, &amount);
	account_of(user, t.id);
	buf_init(&body, 1 << 16);
	assert_int_equal(send_key(&body, t.id, T.pub, T.renter_key), 202);
	wait_ssh(user, true, "access to the interruptible rental");

	/* an interactive session (a pty) that the wall message must reach */
	snprintf(wall_log, sizeof wall_log, "%s/session.log", T.tmp);
	assert_int_equal(run_cmd("ssh -tt -i %s -p %u -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
				 "-o BatchMode=yes -o LogLevel=ERROR %s@127.0.0.1 'sleep 60' >%s 2>&1 </dev/null &",
				 T.key, T.sshd.port, user, wall_log), 0);
	clock_sleep_ms(1500);

	assert_int_equal(provider_cli(out, sizeof out, "reclaim 3"), 0);
	assert_non_null(strstr(out, "reclaimed"));
	t0 = clock_mono_ms();
	for (;;) {
		char cat[4096] = "";
		FILE *f = fopen(wall_log, "r");
		if (f) {
			size_t k = fread(cat, 1, sizeof cat - 1, f);
			cat[k] = '\0';
			fclose(f);
		}
		if (strstr(cat, "reclaimed this machine"))
			break;
		if (clock_mono_ms() - t0 > 20000)
			fail_msg("no wall message on the renter's terminal (session log: %.300s)", cat);
		clock_sleep_ms(200);
	}
	/* a second reclaim is refused before anything is sent */
	assert_int_not_equal(provider_cli(out, sizeof out, "reclaim 3"), 0);

	/* the notice ends: access goes, the rental is settled on chain by the agent */
	warp(301);
	wait_ssh(user, false, "refused after the reclaim notice");
	wait_user_gone(user);
	t0 = clock_mono_ms();
	do {
		r = scan_one(t.id);
		OK(escrow_state_view(&v, &r.t, &r.word, &e_));
		if (r.closed)
			break;
		clock_sleep_ms(250);
	} while (clock_mono_ms() - t0 < WAIT_MS);
	assert_true(r.closed);

	/* earnings from the chain: all three rentals, closed */
	assert_int_equal(provider_cli(out, sizeof out, "earnings --json"), 0);
	assert_non_null(strstr(out, "\"rental_id\":1"));
	assert_non_null(strstr(out, "\"rental_id\":3"));
	assert_null(strstr(out, "\"state\":\"open\""));
	assert_int_equal(provider_cli(out, sizeof out, "claim"), 0);
	assert_non_null(strstr(out, "nothing to claim"));
	assert_int_not_equal(provider_cli(out, sizeof out, "claim 99"), 0);

	/* offer signing (simulated GPU): 0.80 USDC per hour -> rate = ceil(800000e18 / 3600) */
	{
		char spec[256], args[512];
		FILE *f;
		snprintf(spec, sizeof spec, "%s/gpus.json", T.tmp);
		f = fopen(spec, "w");
		assert_non_null(f);
		fputs("{\"gpus\": [{\"model\": \"NVIDIA A100 80GB\", \"vram_mib\": 81920}]}\n", f);
		fclose(f);
		snprintf(args, sizeof args, "offer --gpu-price 0.80 --token USDC --max-hours 8 --spec %s --dry-run", spec);
		if (provider_cli(out, sizeof out, args) != 0)
			fail_msg("provider offer --dry-run: %s", out);
	}
	assert_non_null(strstr(out, "\"rate\":\"222222222222222222223\""));
	assert_non_null(strstr(out, "\"maxSecs\":28800"));
	assert_int_not_equal(provider_cli(out, sizeof out, "offer --gpu-price abc --token USDC --dry-run"), 0);
	assert_int_not_equal(provider_cli(out, sizeof out, "offer --gpu-price 1 --token XYZ --dry-run"), 0);
	buf_release(&body);
	agent_stop_clean();
}

/*
 * Rental 4 runs out while nobody sends a transaction: the chain (anvil, mining only on transactions)
 * makes no block, yet access ends on time, from the last block's time carried forward (chain_clock.h).
 * 15 s paid (1 USDC per second), grace 60 s: frozen (ssh refused) within a few seconds of the end.
 */
static void test_runout_without_blocks(void **state)
{
	struct buf body;
	char user[ACCOUNT_NAME_LEN + 1];
	struct escrow_offer o;
	struct escrow_terms t;
	u256 amount = u256_from_u64(15 * UNIT_USDC);
	uint64_t opened, ended;

	(void)state;
	NEED_READY();
	if (T.agent <= 0) {
		agent_start();
		agent_wait_up();
	}
	o = make_offer(&T.usdc, 3600 * UNIT_USDC, 0, 60, 4);
	o.min_secs = 1;
	t = open_rental(&o, &amount);
	opened = clock_mono_ms();
	account_of(user, t.id);
	buf_init(&body, 1 << 16);
	assert_int_equal(send_key(&body, t.id, T.pub, T.renter_key), 202);
	buf_release(&body);
	wait_ssh(user, true, "access to the 15 s rental");
	assert_true(clock_mono_ms() - opened < 15000); /* the paid time is not over yet */
	/* Log in again and again: the last login that works must start within a few seconds of the end,
	 * and then logins must fail. A login that races the freeze may hang (its shell is frozen), so each
	 * try has a short deadline of its own and a hung one counts as no access. */
	{
		uint64_t last_ok = 0, refused_at = 0;
		char out[4096];
		while (!refused_at && clock_mono_ms() - opened < 60000) {
			uint64_t start = clock_mono_ms() - opened;
			struct err e = { 0, "" };
			int st = -1;
			bool ok = ssh_run(out, sizeof out, &st, &T.sshd, T.key, user, "echo ok", 3000, &e) == 0 && st == 0 &&
				  strstr(out, "ok");
			if (ok)
				last_ok = start;
			else if (start > 15000)
				refused_at = start;
			clock_sleep_ms(250);
		}
		print_message("15 s rental: last login at %llu ms after the open, refused from %llu ms\n",
			      (unsigned long long)last_ok, (unsigned long long)refused_at);
		if (!refused_at)
			fail_msg("logins still work 60 s after the open of a 15 s rental (agent log %s)", T.log_path);
		ended = last_ok;
		if (ended > 15000 + 5000)
			fail_msg("a login worked %llu ms after the open of a 15 s rental", (unsigned long long)ended);
	}
	agent_stop_clean();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_endpoint_refusals),
		cmocka_unit_test(test_rental_lifecycle),
		cmocka_unit_test(test_pending_key_and_runout),
		cmocka_unit_test(test_provider_cli_reclaim),
		cmocka_unit_test(test_runout_without_blocks),
	};
	return cmocka_run_group_tests_name("agent", tests, group_setup, group_teardown);
}
