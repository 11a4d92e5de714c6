/*
 * test_rental_e2e.c — the whole rental, end to end, with real processes and no mocks (issue 5,
 * "Done when"). Needs root and OpenSSH (skips otherwise).
 *
 * Every part runs as its own process on a free 127.0.0.1 port, killed at teardown even when a case
 * fails (and with PR_SET_PDEATHSIG if the test itself dies): anvil (automine; the clock is moved with
 * evm_increaseTime + evm_mine), `flopmarket chain deploy --dev-tokens --mint-to ...` with a keystore
 * wallet of anvil key 0, `flopmarket serve` (SQLite), a real sshd (tests/support/sshd.h) and
 * `flopmarket agent` (simulated GPU spec file, --ssh-port = that sshd). Provider (anvil key 1) and
 * renter (anvil key 2) are keystore wallets in a scratch data dir; everything they do goes through the
 * `flopmarket` binary ($FLOPMARKET_BIN or build/flopmarket) as a user would type it.
 *
 * Per token (the USDC-like token with EIP-2612 permit, the USDT-like no-return ERC-20, the native
 * coin): the provider publishes an offer (`provider offer`), the renter finds it with a filter
 * (`search ... --json`), rents 1 hour (`rent ... --ssh-key --yes`, which waits up to 60 s for the
 * agent to report access; `--agent URL` is added while the server's GET /hosts/{id} does not name the
 * agent's endpoint), `ssh` with the renter's fresh ed25519 key runs `echo ok` on the rental's account
 * (plain ssh, and `flopmarket ssh` with the access the agent reported to the server); the chain clock
 * moves 20 minutes (evm_increaseTime, then evm_mine with the exact timestamp, since the wall clock may
 * tick between the calls) and `status` shows floor(rate × 1200 / 1e18) to the unit;
 * `stop` in a block at exactly +1200 s: the renter gets back exactly deposit − cost(1200), the payout
 * address exactly cost − fee, the escrow's fee credit grows by exactly fee(cost) (and
 * `withdrawFees` moves exactly that to the treasury); afterwards ssh is refused, the Unix account and
 * its home are gone, and the server's receipt lists the open and stop transaction hashes. During the
 * USDC rental the agent is killed with SIGKILL and restarted: access still works (ssh, and the restarted
 * agent reports the account active), teardown still happens at the end. Timings are printed.
 *
 * Keys are anvil's public development keys (test use only).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <strings.h>
#include <jansson.h>
#include <sodium.h>

#include "agent/account.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/deploy.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"
#include "eth/rpc.h"
#include "support/anvil.h"
#include "support/chain.h"
#include "support/child.h"
#include "support/server.h"
#include "support/sshd.h"

#define E2E_TIMEOUT_MS 30000
#define E2E_PASS "e2e-pass"

static struct {
	bool skip;
	const char *why;
	char repo[1024];
	char dir[128];                 /* scratch data dir (wallets, deployment, db, agent state) */
	char dep_path[256];
	char spec[256];
	char key_priv[256], key_pub[256];
	struct anvil node;
	struct rpc rpc;
	struct escrow_deployment dep;
	struct eth_address escrow, usdc, usdt, treasury, payout, renter;
	uint8_t operator_key[32];
	struct sshd sshd;
	struct server_child server;
	pid_t agent;
	char base[64];                 /* the server's http://127.0.0.1:PORT */
	char agent_url[64];
	uint16_t agent_port;
	char home_base[64], cg_name[64];
	unsigned agent_starts;
	bool server_knows_agent;       /* GET /hosts/{id} names the agent's endpoint: rent finds it alone */
	bool jupyter;                  /* this host has jupyter-notebook / jupyter-server: the agent serves it */
	char jupyter_cookie[128];      /* the native rental's notebook cookie, checked again after the stop */
	struct timespec t_start;
} F;

#define OK(call)                                                                                   \
	do {                                                                                       \
		struct err e_ = { 0, "" };                                                         \
		int rc_ = (call);                                                                  \
		if (rc_)                                                                           \
			fail_msg("%s:%d: %s -> %d %s", __FILE__, __LINE__, #call, rc_, e_.msg);    \
	} while (0)

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs `flopmarket <args>` as a user would (the scratch data dir, server, deployment); captures output. */
static int run(char *out, size_t cap, const char *fmt, ...)
{
	char args[2048], cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "env FLOPMARKET_DATA_DIR=%s FLOPMARKET_KEYSTORE_SCRYPT_LOG2_N=10 "
		 "FLOPMARKET_PASSPHRASE=" E2E_PASS " FLOPMARKET_DEPLOYMENT=%s FLOPMARKET_SERVER_URL=%s "
		 "FLOPMARKET_LOG_LEVEL=warn %s --rpc-url %s %s 2>&1 </dev/null", F.dir, F.dep_path, F.base,
		 child_bin(F.repo), F.node.url, args);
	return child_shell(out, cap, cmd, args);
}

/* Starts `flopmarket <argv...>` in the background as the fixture's user, output appended to `log`. */
static pid_t spawn(const char *log, char *const argv[])
{
	char dd[400];
	const char *env[] = { "FLOPMARKET_PASSPHRASE=" E2E_PASS, dd, "FLOPMARKET_LOG_LEVEL=warn", NULL };
	pid_t pid;

	snprintf(dd, sizeof dd, "FLOPMARKET_DATA_DIR=%s", F.dir);
	pid = child_spawn(child_bin(F.repo), argv, log, env);
	assert_true(pid >= 0);
	return pid;
}

static void tx_hash_of(char hex67[67], const char *out)
{
	const char *t = strstr(out, "tx:        0x");
	if (!t)
		fail_msg("no tx in: %s", out);
	memcpy(hex67, t + 11, 66);
	hex67[66] = '\0';
}

/* The receipt of a transaction: its block's timestamp and the gas it cost (gasUsed x price). */
static void tx_facts(uint64_t *time_out, u256 *gas_out, const char *hex)
{
	uint8_t h[32];
	struct rpc_receipt r = { 0 };
	struct rpc_block b;
	char num[32];
	u256 g;
	OK(hex_decode_exact(h, 32, hex, &e_));
	OK(rpc_get_receipt(&F.rpc, &r, h, &e_));
	snprintf(num, sizeof num, "0x%" PRIx64, r.block_number);
	OK(rpc_get_block(&F.rpc, &b, num, &e_));
	*time_out = b.timestamp;
	g = u256_from_u64(r.gas_used);
	assert_int_equal(u256_mul(gas_out, &g, &r.effective_gas_price), 0);
	rpc_receipt_release(&r);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
	return buf_append(ctx, p, sz * n) ? 0 : sz * n;
}

/* Collects one response header (name given with its colon) into ctx's buffer. */
struct hdr_grab {
	const char *name;
	char value[512];
};

static size_t on_header(char *p, size_t sz, size_t n, void *ctx)
{
	struct hdr_grab *g = ctx;
	size_t l = sz * n, k = strlen(g->name);
	if (l > k && strncasecmp(p, g->name, k) == 0 && !g->value[0])
		snprintf(g->value, sizeof g->value, "%.*s", (int)strcspn(p + k, "\r\n"), p + k);
	return l;
}

/* GET url (no redirects followed) with an optional Cookie header; header `grab` (e.g. "Set-Cookie:")
 * into *g; the body as text in out. Returns the HTTP status. */
static long http_get_url(char *out, size_t cap, const char *url, const char *cookie, struct hdr_grab *g,
			 long timeout_ms)
{
	CURL *c = curl_easy_init();
	struct buf b;
	long status = 0;
	buf_init(&b, 1 << 20);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (cookie)
		curl_easy_setopt(c, CURLOPT_COOKIE, cookie);
	if (g) {
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	snprintf(out, cap, "%.*s", (int)b.len, b.len ? (const char *)b.data : "");
	buf_release(&b);
	return status;
}

/* A notebook request: a kernel may take a while to start. */
static long http_get_raw(char *out, size_t cap, const char *url, const char *cookie, struct hdr_grab *g)
{
	return http_get_url(out, cap, url, cookie, g, 60000L);
}

/* GET base + path; the body as text in out. Returns the HTTP status. */
static long http_get_at(char *out, size_t cap, const char *base, const char *path)
{
	char url[512];
	snprintf(url, sizeof url, "%s%s", base, path);
	return http_get_url(out, cap, url, NULL, NULL, 10000L);
}

/* GET on the server. */
static long http_get(char *out, size_t cap, const char *path)
{
	return http_get_at(out, cap, F.base, path);
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s - 'A' + 'a');
}

static void import_key(unsigned idx, const char *name, struct eth_address *addr)
{
	uint8_t k[32];
	char hex[65], cmd[1600];
	anvil_account(idx, k, addr);
	hex_encode(hex, k, 32);
	snprintf(cmd, sizeof cmd, "FLOPMARKET_PRIVATE_KEY=%s FLOPMARKET_PASSPHRASE=" E2E_PASS
		 " FLOPMARKET_KEYSTORE_SCRYPT_LOG2_N=10 FLOPMARKET_DATA_DIR=%s %s wallet import --private-key "
		 "--wallet %s >/dev/null 2>&1", hex, F.dir, child_bin(F.repo), name);
	sodium_memzero(hex, sizeof hex);
	assert_int_equal(system(cmd), 0);
	sodium_memzero(cmd, sizeof cmd);
	sodium_memzero(k, sizeof k);
}

static void agent_start(void)
{
	char sd[300], listen[32], sshp[16], log[300], text[1 << 16];
	size_t from;
	double t0 = now_s();

	snprintf(sd, sizeof sd, "%s/agent-state", F.dir);
	snprintf(listen, sizeof listen, "127.0.0.1:%u", F.agent_port);
	snprintf(sshp, sizeof sshp, "%u", F.sshd.port);
	snprintf(log, sizeof log, "%s/agent.log", F.dir);
	from = child_file_size(log);
	char *argv[] = { "flopmarket", "--rpc-url", F.node.url, "agent", "--wallet", "provider", "--deployment",
			 F.dep_path, "--server", F.base, "--spec", F.spec, "--listen", listen, "--endpoint",
			 F.agent_url, "--ssh-host", "127.0.0.1", "--ssh-port", sshp, "--state-dir", sd,
			 "--home-base", F.home_base, "--cgroup-name", F.cg_name, "--confirmations", "0",
			 "--poll-ms", "200", "--heartbeat", "5", "--claim-interval", "86400", NULL };
	F.agent = spawn(log, argv);
	if (!child_wait_log(text, sizeof text, log, "listening on http://", from, 30))
		fail_msg("the agent did not start: %s", text + from);
	F.agent_starts++;
	print_message("timing: agent start #%u %.2f s\n", F.agent_starts, now_s() - t0);
}

static int setup(void **state)
{
	struct err e = { 0 };
	(void)state;

	clock_gettime(CLOCK_MONOTONIC, &F.t_start);
	if (geteuid() != 0) {
		F.skip = true;
		F.why = "not root";
		return 0;
	}
	if (!sshd_available(&F.why)) {
		F.skip = true;
		return 0;
	}
	if (anvil_repo_root(F.repo, sizeof F.repo, &e))
		return -1;
	snprintf(F.dir, sizeof F.dir, "/tmp/flop-e2e-XXXXXX");
	if (!mkdtemp(F.dir) || chmod(F.dir, 0711)) /* accounts run their shell from the agent's state dir */
		return -1;
	snprintf(F.dep_path, sizeof F.dep_path, "%s/deployment-31337.json", F.dir);
	snprintf(F.home_base, sizeof F.home_base, "/home/fme2e-%d", (int)getpid());
	snprintf(F.cg_name, sizeof F.cg_name, "flopmarket-e2e-%d", (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	char cmd[1024];
	(void)state;
	if (F.skip)
		return 0;
	child_stop(&F.agent, SIGTERM);
	server_child_stop(&F.server, SIGTERM);
	sshd_stop(&F.sshd);
	if (F.home_base[0]) { /* the agent tears accounts down; this is the safety net after a failure */
		struct account_cfg c;
		struct account *list = NULL;
		size_t n = 0;
		char accounts[300];
		memset(&c, 0, sizeof c);
		snprintf(accounts, sizeof accounts, "%s/agent-state/accounts", F.dir);
		c.state_dir = accounts;
		c.home_base = F.home_base;
		c.cgroup_name = F.cg_name;
		if (account_list(&list, &n, &c, NULL) == 0) {
			for (size_t i = 0; i < n; i++)
				account_teardown(&c, list[i].name, NULL);
			free(list);
		}
		snprintf(cmd, sizeof cmd, "rm -rf '%s'; for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/*/*/ /sys/fs/cgroup/; do "
			 "[ -d \"${d}%s\" ] && rmdir \"${d}%s\"; done 2>/dev/null; true", F.home_base, F.cg_name,
			 F.cg_name);
		if (system(cmd) != 0)
			print_error("cleanup of %s failed\n", F.home_base);
	}
	rpc_release(&F.rpc);
	anvil_stop(&F.node);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.dir);
	if (system(cmd) != 0)
		return -1;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	print_message("timing: e2e total %.1f s\n",
		      (double)(t.tv_sec - F.t_start.tv_sec) + (double)(t.tv_nsec - F.t_start.tv_nsec) / 1e9);
	return 0;
}

/* Chain, wallets, deployment, server, sshd, agent: everything as the processes a provider runs. */
static void test_bring_up(void **state)
{
	struct err e = { 0 };
	char out[8192], log[300], pub[1024];
	struct eth_address op, prov;
	double t0 = now_s(), t;
	(void)state;

	if (F.skip) {
		print_message("skipped: %s\n", F.why ? F.why : "?");
		skip();
	}
	if (anvil_start(&F.node, NULL, &e) || rpc_init(&F.rpc, F.node.url, NULL, &e))
		fail_msg("anvil: %s", e.msg);
	/* the agent serves Jupyter where the host has it (scripts/setup installs jupyter-notebook) */
	F.jupyter = access("/usr/bin/jupyter-notebook", X_OK) == 0 || access("/usr/bin/jupyter-server", X_OK) == 0 ||
		    access("/usr/local/bin/jupyter-notebook", X_OK) == 0 || access("/usr/local/bin/jupyter-server", X_OK) == 0;
	if (!F.jupyter)
		print_message("note: no jupyter-notebook / jupyter-server here: the notebook step is skipped\n");
	import_key(0, "operator", &op);
	import_key(1, "provider", &prov);
	import_key(2, "renter", &F.renter);
	anvil_account(0, F.operator_key, NULL);
	memset(&F.treasury, 0, sizeof F.treasury);
	F.treasury.b[19] = 0x7e;
	memset(&F.payout, 0, sizeof F.payout);
	F.payout.b[18] = 0x9a;
	F.payout.b[19] = 0x1d;
	{
		char a_prov[43], a_ren[43], a_tre[43];
		address_to_lower(a_prov, &prov);
		address_to_lower(a_ren, &F.renter);
		address_to_lower(a_tre, &F.treasury);
		int code = run(out, sizeof out, "chain deploy --wallet operator --dev-tokens --mint-to %s --mint-to %s "
			       "--treasury %s --out %s", a_prov, a_ren, a_tre, F.dep_path);
		if (code != 0)
			fail_msg("chain deploy: exit %d: %s", code, out);
	}
	OK(escrow_deployment_load(&F.dep, F.dep_path, &e_));
	OK(escrow_deployment_find(&F.escrow, &F.dep, "RentalEscrow", &e_));
	OK(escrow_deployment_find(&F.usdc, &F.dep, "DevUSDC", &e_));
	OK(escrow_deployment_find(&F.usdt, &F.dep, "DevUSDT", &e_));
	t = now_s();
	print_message("timing: anvil + wallets + deploy %.2f s\n", t - t0);

	/* The server. */
	{
		char db[300], dd[400], why[2048];
		const char *env[] = { "FLOPMARKET_PASSPHRASE=" E2E_PASS, dd, "FLOPMARKET_LOG_LEVEL=warn", NULL };
		struct server_child_opts so = { .bin = child_bin(F.repo), .rpc_url = F.node.url, .db = db,
						.deployment = F.dep_path, .log = log, .env = env };

		snprintf(log, sizeof log, "%s/server.log", F.dir);
		snprintf(db, sizeof db, "sqlite:%s/server.db", F.dir);
		snprintf(dd, sizeof dd, "FLOPMARKET_DATA_DIR=%s", F.dir);
		if (server_child_start(&F.server, &so, why, sizeof why))
			fail_msg("%s", why);
		snprintf(F.base, sizeof F.base, "%s", F.server.base);
	}

	/* sshd, the renter's key, the agent. */
	if (sshd_start(&F.sshd, "fm*", &e))
		fail_msg("sshd: %s", e.msg);
	snprintf(F.key_priv, sizeof F.key_priv, "%s/id_renter", F.dir);
	snprintf(F.key_pub, sizeof F.key_pub, "%s/id_renter.pub", F.dir);
	if (sshd_keygen(pub, sizeof pub, F.key_priv, &e))
		fail_msg("ssh-keygen: %s", e.msg);
	snprintf(F.spec, sizeof F.spec, "%s/gpus.json", F.dir);
	{
		FILE *f = fopen(F.spec, "w");
		assert_non_null(f);
		fputs("{\"gpus\": [{\"model\": \"NVIDIA A100 80GB\", \"vram_mib\": 81920, \"count\": 2}], "
		      "\"driver_version\": \"550.54.15\"}\n", f);
		fclose(f);
	}
	{
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t n = sizeof a;
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
		F.agent_port = ntohs(a.sin_port);
		close(fd);
	}
	snprintf(F.agent_url, sizeof F.agent_url, "http://127.0.0.1:%u", F.agent_port);
	agent_start();
	print_message("timing: server + sshd + agent %.2f s\n", now_s() - t);
}

/* `provider offer` for a token, retried until the agent has registered the host with the server. */
static void publish_offer(const char *token_flag, const char *price)
{
	char out[8192], pay[43];
	int code = -1;
	double t0 = now_s();
	address_to_lower(pay, &F.payout);
	for (int i = 0; i < 100; i++) {
		code = run(out, sizeof out, "provider offer --wallet provider --gpu-price %s --token %s --max-hours 24 "
			   "--grace-mins 1 --payout %s --spec %s", price, token_flag, pay, F.spec);
		if (code == 0)
			break;
		usleep(200000);
	}
	if (code != 0)
		fail_msg("provider offer --token %s: exit %d: %s", token_flag, code, out);
	print_message("timing: provider offer (%s) %.2f s\n", token_flag, now_s() - t0);
}

/* `search FILTER --json`: the one offer in `symbol`; its hash and rate. */
static void find_offer(char hash67[67], u256 *rate, const char *filter, const char *symbol)
{
	char out[65536];
	json_t *j = NULL, *offers;
	size_t i;
	const char *h = NULL, *r = NULL;
	/* The machine was rented a moment ago: its offers come back once the server has indexed the stop
	 * (one indexer round); until then search leaves them out. */
	for (int tries = 0; tries < 40; tries++) {
		if (run(out, sizeof out, "search '%s' --json --limit 50", filter) == 0 && strstr(out, "\"offer_hash\""))
			break;
		usleep(100000);
	}
	int code = run(out, sizeof out, "search '%s' --json --limit 50", filter);
	if (code != 0)
		fail_msg("search: exit %d: %s", code, out);
	if (!strchr(out, '{'))
		fail_msg("search --json printed no JSON: %s", out);
	OK(json_parse(&j, strchr(out, '{'), strlen(strchr(out, '{')), 0, &e_));
	offers = json_object_get(j, "offers");
	assert_true(json_is_array(offers));
	for (i = 0; i < json_array_size(offers); i++) {
		json_t *o = json_array_get(offers, i);
		const char *sym = json_string_value(json_object_get(o, "token_symbol"));
		/* the filter names the token: nothing else comes back; every listing here is simulated */
		if (!sym || strcmp(sym, symbol) != 0 || !json_is_true(json_object_get(o, "simulated")))
			fail_msg("search '%s' returned a listing it should not have: %s", filter, out);
		if (!h) {
			h = json_string_value(json_object_get(o, "offer_hash"));
			const json_t *inner = json_object_get(o, "offer");
			r = json_string_value(json_object_get(inner ? inner : o, "rate"));
		}
	}
	if (!h || !r)
		fail_msg("search '%s' found no %s offer: %s", filter, symbol, out);
	snprintf(hash67, 67, "%s", h);
	{
		char path[64], body[16384];
		json_int_t mid = json_integer_value(json_object_get(json_array_get(offers, 0), "machine_id"));
		snprintf(path, sizeof path, "/hosts/%lld", (long long)mid);
		F.server_knows_agent = http_get(body, sizeof body, path) == 200 && strstr(body, F.agent_url);
	}
	OK(u256_parse(rate, r, &e_));
	json_decref(j);
}

static bool ssh_ok(const char *user)
{
	char out[4096];
	int status = -1;
	struct err e = { 0 };
	if (ssh_run(out, sizeof out, &status, &F.sshd, F.key_priv, user, "echo ok", 15000, &e))
		return false;
	return status == 0 && strncmp(out, "ok", 2) == 0;
}

/*
 * One whole rental in `symbol`: search → rent 1 h → ssh echo ok → (+20 min) status → stop at
 * exactly +1200 s → balances to the unit → ssh refused, account gone → receipt with the tx hashes.
 */
static void rental_cycle(const char *filter, const char *symbol, const char *token_flag,
			 const struct eth_address *token, bool kill_agent)
{
	char hash[67], out[16384], want[256], user[64] = "", open_tx[67], stop_tx[67];
	u256 rate, deposit, cost, fee, net, refund, d, g_open, g_stop, r0, r1, p0, p1, f0, f1, rb, t0b, t1b;
	uint64_t id, t_open, t_stop;
	bool native = address_is_zero(token);
	double t0 = now_s(), t;
	const char *s;

	if (F.skip)
		skip();
	find_offer(hash, &rate, filter, symbol);
	/* The expected figures, computed here from the rate (not with the code under test):
	 * cost = floor(rate x 1200 / 1e18), fee = floor(cost x fee_bps / 10000). */
	{
		u256 x, rem, scale, secs = u256_from_u64(1200), bps = u256_from_u64(F.dep.fee_bps),
					 tenk = u256_from_u64(10000);
		OK(u256_parse(&scale, "1000000000000000000", &e_));
		assert_int_equal(u256_mul(&x, &rate, &secs), 0);
		assert_int_equal(u256_divmod(&cost, &rem, &x, &scale), 0);
		assert_int_equal(u256_mul(&x, &cost, &bps), 0);
		assert_int_equal(u256_divmod(&fee, &rem, &x, &tenk), 0);
	}
	assert_int_equal(u256_sub(&net, &cost, &fee), 0);

	/* (2) rent 1 hour; the CLI delivers the key to the agent and waits for access (60 s). */
	rb = chain_balance(&F.rpc, token, &F.renter);
	t = now_s();
	/* The agent's endpoint comes from the server's host record; where the server does not list it
	 * (yet), the renter names it (--agent, documented in docs/agent.md). */
	int code = run(out, sizeof out, "rent %.14s --hours 1 --token %s --ssh-key %s %s%s --wait-access 60 "
		       "--yes --wallet renter", hash, token_flag, F.key_pub, F.server_knows_agent ? "" : "--agent ",
		       F.server_knows_agent ? "" : F.agent_url);
	if (!F.server_knows_agent)
		print_message("note: GET /hosts/{id} does not name the agent's endpoint; rent --agent used\n");
	if (code != 0)
		fail_msg("rent: exit %d: %s", code, out);
	print_message("timing: %s rent → access reported %.2f s\n", symbol, now_s() - t);
	if (!native)
		assert_non_null(strstr(out, strcmp(symbol, "dUSDC") == 0 ? "permit" : "approve"));
	s = strstr(out, "rental:    ");
	assert_non_null(s);
	id = strtoull(s + 11, NULL, 10);
	tx_hash_of(open_tx, out);
	s = strstr(out, "ssh:       ssh -p ");
	if (!s || sscanf(s, "ssh:       ssh -p %*u %63[^@]@", user) != 1)
		fail_msg("no ssh line in: %s", out);
	tx_facts(&t_open, &g_open, open_tx);
	/* exactly the deposit left the renter (plus gas when it is the native coin) */
	r1 = chain_balance(&F.rpc, token, &F.renter);
	assert_int_equal(u256_sub(&deposit, &rb, &r1), 0);
	if (native)
		assert_int_equal(u256_sub(&deposit, &deposit, &g_open), 0);
	{
		u256 c3600;
		OK(escrow_cost(&c3600, &rate, 3600, &e_));
		if (u256_cmp(&deposit, &c3600) < 0)
			fail_msg("deposit below cost(3600)");
	}
	assert_int_equal(u256_sub(&refund, &deposit, &cost), 0);
	t = now_s();
	assert_true(ssh_ok(user));
	print_message("timing: %s ssh echo ok %.2f s\n", symbol, now_s() - t);
	/* `flopmarket ssh` finds the access the agent reported to the server (GET /rentals/{id}). */
	t = now_s();
	for (int i = 0; i < 50; i++) {
		code = run(out, sizeof out, "ssh %" PRIu64 " -i %s -o BatchMode=yes -o StrictHostKeyChecking=no "
			   "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes -- echo ok", id,
			   F.key_priv);
		if (code == 0)
			break;
		usleep(200000);
	}
	if (code != 0 || strcmp(out, "ok\n") != 0)
		fail_msg("flopmarket ssh %" PRIu64 ": exit %d: %s", id, code, out);
	print_message("timing: %s flopmarket ssh (access via the server) %.2f s\n", symbol, now_s() - t);

	/* (6b) the rental's notebook (account hosts with Jupyter; test_offers checked the listing says so):
	 * `flopmarket jupyter` prints a signed one-time link, opening it signs in (a cookie for this rental), and through it the
	 * notebook's API answers; without the cookie it does not. */
	if (native && F.jupyter) {
		struct hdr_grab sc = { .name = "Set-Cookie: " }, loc = { .name = "Location: " };
		char link[1024] = "", cookie[128] = "", url[600];
		const char *p;
		t = now_s();
		code = run(out, sizeof out, "jupyter %" PRIu64 " --wallet renter --agent %s", id, F.agent_url);
		if (code != 0 || !(p = strstr(out, F.agent_url)))
			fail_msg("flopmarket jupyter: exit %d: %s", code, out);
		snprintf(link, sizeof link, "%.*s", (int)strcspn(p, "\n"), p);
		if ((code = (int)http_get_raw(out, sizeof out, link, NULL, &sc)) != 302)
			fail_msg("opening the notebook link: %d %s", code, out);
		if (!(p = strstr(sc.value, "fm_jupyter=")) || !strstr(sc.value, "HttpOnly"))
			fail_msg("sign-in cookie: '%s'", sc.value);
		snprintf(cookie, sizeof cookie, "%.75s", p);
		/* used once: the same link again is refused */
		assert_int_equal(http_get_raw(out, sizeof out, link, NULL, &loc), 401);
		snprintf(url, sizeof url, "%s/jupyter/%" PRIu64 "/api/status", F.agent_url, id);
		if (http_get_raw(out, sizeof out, url, cookie, NULL) != 200 || !strstr(out, "kernels"))
			fail_msg("notebook api/status with the cookie: %s", out);
		assert_int_equal(http_get_raw(out, sizeof out, url, NULL, NULL), 401);
		snprintf(F.jupyter_cookie, sizeof F.jupyter_cookie, "%s", cookie);
		print_message("timing: %s flopmarket jupyter → notebook API answering %.2f s\n", symbol, now_s() - t);
	}

	/* (6c) the renter's re-check: this host's GPUs are simulated (a spec file), so inside the rental
	 * nvidia-smi finds none: verify flags the gap against the listing's 2 GPUs, exits 1, and saves the
	 * evidence (the listing, what the rental printed, the verdict) under the data dir. */
	if (native) {
		const char *ev;
		char path[600], body[65536];
		t = now_s();
		code = run(out, sizeof out, "verify %" PRIu64 " -i %s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
			   "-o LogLevel=ERROR --timeout-s 120", id, F.key_priv);
		if (code != 1 || !strstr(out, "GAP") || !strstr(out, "the rental sees 0") || !strstr(out, "verdict: gap") ||
		    !(ev = strstr(out, "evidence: ")))
			fail_msg("verify: exit %d: %s", code, out);
		snprintf(path, sizeof path, "%.*s", (int)strcspn(ev + 10, "\n"), ev + 10);
		{
			struct buf b;
			buf_init(&b, sizeof body);
			OK(file_read(&b, path, &e_));
			snprintf(body, sizeof body, "%s", buf_cstr(&b));
			buf_release(&b);
		}
		if (!strstr(body, "\"verdict\": \"gap\"") || !strstr(body, "nvidia-smi") || !strstr(body, hash))
			fail_msg("verify evidence %s: %.2000s", path, body);
		print_message("%s", out);
		print_message("timing: %s verify in the rental (no GPU there: gap flagged) %.2f s\n", symbol, now_s() - t);
	}

	/* (7) kill -9 the agent while the rental is active, restart it: access still works. */
	if (kill_agent) {
		kill(F.agent, SIGKILL);
		waitpid(F.agent, NULL, 0);
		F.agent = 0;
		assert_true(ssh_ok(user)); /* sshd and the account do not depend on the agent process */
		agent_start();
		t = now_s();
		bool ok = false;
		for (int i = 0; i < 100 && !(ok = ssh_ok(user)); i++)
			usleep(200000);
		assert_true(ok);
		/* the restarted agent knows the rental and its account (docs/agent.md "Access status") */
		snprintf(want, sizeof want, "/rentals/%" PRIu64 "/access", id);
		for (int i = 0; i < 50; i++) {
			if (http_get_at(out, sizeof out, F.agent_url, want) == 200 && strstr(out, "\"active\"") &&
			    strstr(out, user))
				break;
			usleep(200000);
		}
		if (!strstr(out, "\"active\"") || !strstr(out, user))
			fail_msg("restarted agent's access status: %s", out);
		print_message("timing: after agent kill -9 + restart, ssh ok in %.2f s\n", now_s() - t);
	}

	/* (3) 20 minutes of chain time: status shows cost(1200) to the unit. */
	{
		char params[64];
		uint64_t h = chain_head_time(&F.rpc);
		assert_true(h - t_open <= 1200);
		snprintf(params, sizeof params, "[%" PRIu64 "]", t_open + 1200 - h);
		if (t_open + 1200 > h)
			chain_rpc(&F.rpc, "evm_increaseTime", params);
		/* evm_increaseTime counts from the wall clock, which may tick a second between the calls:
		 * the mined block's time is given explicitly so that it is exactly +1200 s */
		snprintf(params, sizeof params, "[%" PRIu64 "]", t_open + 1200);
		chain_rpc(&F.rpc, "evm_mine", params);
		assert_int_equal(chain_head_time(&F.rpc), t_open + 1200);
	}
	code = run(out, sizeof out, "status %" PRIu64 " --wallet renter", id);
	if (code != 0)
		fail_msg("status: exit %d: %s", code, out);
	{
		char units[U256_DEC_MAX];
		u256_to_dec(units, &cost);
		snprintf(want, sizeof want, "(%s units)", units);
		if (!strstr(out, want) || !strstr(out, "(1200 s billed)"))
			fail_msg("status lacks '%s' / 1200 s billed: %s", want, out);
		print_message("%s: status after 20 min: accrued %s units = floor(rate x 1200 / 1e18)\n", symbol, units);
	}

	/* (4) stop in a block at exactly +1200 s. */
	r0 = chain_balance(&F.rpc, token, &F.renter);
	p0 = chain_balance(&F.rpc, token, &F.payout);
	f0 = chain_fees(&F.rpc, &F.escrow, token);
	t0b = chain_balance(&F.rpc, token, &F.treasury);
	{
		char params[64];
		snprintf(params, sizeof params, "[%" PRIu64 "]", t_open + 1200);
		chain_rpc(&F.rpc, "evm_setNextBlockTimestamp", params);
	}
	code = run(out, sizeof out, "stop %" PRIu64 " --yes --wallet renter", id);
	if (code != 0)
		fail_msg("stop: exit %d: %s", code, out);
	tx_hash_of(stop_tx, out);
	tx_facts(&t_stop, &g_stop, stop_tx);
	assert_int_equal(t_stop, t_open + 1200);
	r1 = chain_balance(&F.rpc, token, &F.renter);
	p1 = chain_balance(&F.rpc, token, &F.payout);
	f1 = chain_fees(&F.rpc, &F.escrow, token);
	if (native)
		assert_int_equal(u256_add(&r1, &r1, &g_stop), 0);
	assert_int_equal(u256_sub(&d, &r1, &r0), 0);
	if (u256_cmp(&d, &refund) != 0) {
		char a[U256_DEC_MAX], b[U256_DEC_MAX];
		u256_to_dec(a, &d);
		u256_to_dec(b, &refund);
		fail_msg("%s refund %s, want %s", symbol, a, b);
	}
	assert_int_equal(u256_sub(&d, &p1, &p0), 0);
	if (u256_cmp(&d, &net) != 0) {
		char a[U256_DEC_MAX], b[U256_DEC_MAX];
		u256_to_dec(a, &d);
		u256_to_dec(b, &net);
		fail_msg("%s provider paid %s at stop, want %s", symbol, a, b);
	}
	assert_int_equal(u256_sub(&d, &f1, &f0), 0);
	if (u256_cmp(&d, &fee) != 0) {
		char a[U256_DEC_MAX], b[U256_DEC_MAX];
		u256_to_dec(a, &d);
		u256_to_dec(b, &fee);
		fail_msg("%s fee credited %s at stop, want %s", symbol, a, b);
	}
	/* The fee credit goes to the treasury with withdrawFees (anyone may call it): exactly the credit. */
	{
		struct buf cd;
		struct rpc_receipt rc = { 0 };
		u256 zero = u256_from_u64(0);
		buf_init(&cd, 256);
		OK(escrow_cd_withdraw_fees(&cd, token, &e_));
		OK(escrow_send(&F.rpc, &rc, F.dep.chain_id, F.operator_key, &F.escrow, &zero, cd.data, cd.len,
			       E2E_TIMEOUT_MS, &e_));
		rpc_receipt_release(&rc);
		buf_release(&cd);
		t1b = chain_balance(&F.rpc, token, &F.treasury);
		assert_int_equal(u256_sub(&d, &t1b, &t0b), 0);
		assert_int_equal(u256_cmp(&d, &f1), 0);
		f1 = chain_fees(&F.rpc, &F.escrow, token);
		assert_true(u256_is_zero(&f1));
	}
	{
		char a[U256_DEC_MAX], b[U256_DEC_MAX], c[U256_DEC_MAX], dd[U256_DEC_MAX];
		u256_to_dec(a, &deposit);
		u256_to_dec(b, &refund);
		u256_to_dec(c, &net);
		u256_to_dec(dd, &fee);
		print_message("%s: deposit %s = refund %s + provider %s + fee %s (units, exact)\n", symbol, a, b, c, dd);
	}

	/* (5) access ends: ssh refused, the account and its home gone; the receipt lists the tx hashes. */
	t = now_s();
	{
		bool gone = false;
		char home[200];
		struct stat st;
		snprintf(home, sizeof home, "%s/%s", F.home_base, user);
		for (int i = 0; i < 150 && !gone; i++) {
			gone = getpwnam(user) == NULL && stat(home, &st) != 0 && errno == ENOENT;
			if (!gone)
				usleep(100000);
		}
		if (!gone)
			fail_msg("account %s still there 15 s after stop", user);
		assert_false(ssh_ok(user));
	}
	print_message("timing: %s stop → account gone %.2f s\n", symbol, now_s() - t);
	if (F.jupyter_cookie[0]) { /* the notebook went with the rental: its cookie opens nothing */
		char url[600];
		snprintf(url, sizeof url, "%s/jupyter/%" PRIu64 "/api/status", F.agent_url, id);
		assert_int_equal(http_get_raw(out, sizeof out, url, F.jupyter_cookie, NULL), 401);
		F.jupyter_cookie[0] = '\0';
	}
	{
		char path[96];
		bool seen = false;
		lower(open_tx);
		lower(stop_tx);
		snprintf(path, sizeof path, "/rentals/%" PRIu64 "/receipt", id);
		for (int i = 0; i < 100 && !seen; i++) {
			seen = http_get(out, sizeof out, path) == 200 && strstr(out, open_tx) && strstr(out, stop_tx) &&
			       strstr(out, "\"closed\"");
			if (!seen)
				usleep(100000);
		}
		if (!seen)
			fail_msg("receipt of %" PRIu64 " lacks %s / %s: %s", id, open_tx, stop_tx, out);
	}
	code = run(out, sizeof out, "receipts --csv --wallet renter");
	if (code != 0 || !strstr(out, open_tx))
		fail_msg("receipts --csv: exit %d: %s", code, out);
	{ /* each transaction once in its row (issue 14.6: the stop's hash was listed twice) */
		const char *first = strstr(out, stop_tx);
		if (!first || strstr(first + 1, stop_tx))
			fail_msg("receipts --csv: the stop tx %s is not there exactly once: %s", stop_tx, out);
	}
	/* the table: full GPU names, the token's symbol, human times */
	code = run(out, sizeof out, "receipts --wallet renter");
	if (code != 0 || !strstr(out, "NVIDIA_A100_80GB") || !strstr(out, " UTC") || !strstr(out, symbol))
		fail_msg("receipts: exit %d: %s", code, out);
	print_message("timing: %s whole rental %.2f s\n", symbol, now_s() - t0);
}

/* (1) the provider publishes offers; the renter finds them with a filter. */
static void test_offers(void **state)
{
	char hash[67];
	u256 rate;
	(void)state;
	if (F.skip)
		skip();
	publish_offer("USDC", "0.80");
	publish_offer("USDT", "0.90");
	publish_offer("native", "0.0003");
	find_offer(hash, &rate, "gpu=NVIDIA_A100_80GB num_gpus>=2 simulated=true token=dUSDC", "dUSDC");
	/* the table a person reads marks the listing simulated; a filter nothing matches finds nothing */
	{
		char out[16384];
		assert_int_equal(run(out, sizeof out, "search 'token=dUSDC'"), 0);
		if (!strstr(out, (char[13]){ hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7],
					      hash[8], hash[9], hash[10], hash[11], 0 }) || !strstr(out, "simulated"))
			fail_msg("search table lacks the offer or 'simulated': %s", out);
		assert_int_equal(run(out, sizeof out, "search 'gpu=RTX_4090' --json"), 0);
		if (!strstr(out, "\"total\": 0") && !strstr(out, "\"total\":0"))
			fail_msg("search 'gpu=RTX_4090' should find nothing: %s", out);
		/* the wallet's balances (issue 14.12): every token of the deployment by symbol, one by symbol */
		assert_int_equal(run(out, sizeof out, "wallet balance --wallet renter"), 0);
		if (!strstr(out, "native ") || !strstr(out, "dUSDC ") || !strstr(out, "dUSDT ") || !strstr(out, "dDAI "))
			fail_msg("wallet balance: %s", out);
		assert_int_equal(run(out, sizeof out, "wallet balance --wallet renter --token USDC"), 0);
		if (!strstr(out, "dUSDC ") || strstr(out, "dUSDT "))
			fail_msg("wallet balance --token USDC: %s", out);
		assert_int_equal(run(out, sizeof out, "wallet balance --wallet renter --token XYZ"), 3);
		if (!strstr(out, "not a token of this chain's deployment") || !strstr(out, "dUSDC"))
			fail_msg("wallet balance --token XYZ: %s", out);
		/* wallet send (issue 14.13): a token by symbol and the gas coin, exact to the unit on chain; bad
		 * input and an unconfirmed send move nothing */
		{
			struct eth_address to, zero;
			u256 b0, b1, n0, n1, d;
			OK(address_parse(&to, "0x00000000000000000000000000000000000000aa", &e_));
			memset(&zero, 0, sizeof zero);
			OK(escrow_token_balance(&F.rpc, &b0, &F.usdc, &to, &e_));
			OK(escrow_token_balance(&F.rpc, &n0, &zero, &to, &e_));
			assert_int_equal(run(out, sizeof out, "wallet send --to 0x00000000000000000000000000000000000000aa "
				   "--amount 1.5 --token USDC --wallet renter --yes"), 0);
			if (!strstr(out, "send:      1.5 dUSDC") || !strstr(out, "tx:        0x"))
				fail_msg("wallet send USDC: %s", out);
			assert_int_equal(run(out, sizeof out, "wallet send --to 0x00000000000000000000000000000000000000aa "
				   "--amount 0.25 --wallet renter --yes"), 0);
			OK(escrow_token_balance(&F.rpc, &b1, &F.usdc, &to, &e_));
			OK(escrow_token_balance(&F.rpc, &n1, &zero, &to, &e_));
			assert_int_equal(u256_sub(&d, &b1, &b0), 0);
			assert_true(u256_cmp(&d, &(u256){ 0 }) != 0);
			{
				char x[U256_DEC_MAX];
				u256_to_dec(x, &d);
				assert_string_equal(x, "1500000");
				assert_int_equal(u256_sub(&d, &n1, &n0), 0);
				u256_to_dec(x, &d);
				assert_string_equal(x, "250000000000000000");
			}
			/* not confirmed (no terminal, no --yes): nothing moves */
			assert_int_equal(run(out, sizeof out, "wallet send --to 0x00000000000000000000000000000000000000aa "
				   "--amount 1 --token USDC --wallet renter"), 1);
			assert_non_null(strstr(out, "nothing was sent"));
			OK(escrow_token_balance(&F.rpc, &b0, &F.usdc, &to, &e_));
			assert_int_equal(u256_cmp(&b0, &b1), 0);
			assert_int_equal(run(out, sizeof out, "wallet send --to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD "
				   "--amount 1 --wallet renter --yes"), 3);
			assert_non_null(strstr(out, "checksum"));
			assert_int_not_equal(run(out, sizeof out, "wallet send --to 0x00000000000000000000000000000000000000aa "
				   "--amount 100000000 --token USDC --wallet renter --yes"), 0);
			assert_non_null(strstr(out, "not enough dUSDC"));
		}
		/* the dev chain's faucet funds a new wallet so that it can rent at once (issue 14.13) */
		{
			char addr[43];
			const char *a;
			assert_int_equal(run(out, sizeof out, "wallet new --wallet newbie"), 0);
			assert_non_null(a = strstr(out, "address: "));
			snprintf(addr, sizeof addr, "%.42s", a + 9);
			assert_int_equal(run(out, sizeof out, "chain faucet --to %s --wallet renter", addr), 0);
			if (!strstr(out, "minted:    1000 dUSDC") || !strstr(out, "sent:      1 ETH"))
				fail_msg("chain faucet: %s", out);
			assert_int_equal(run(out, sizeof out, "wallet balance --wallet newbie"), 0);
			if (!strstr(out, "native   1 ") || !strstr(out, "dUSDC    1000 ") || !strstr(out, "dDAI     1000 "))
				fail_msg("the new wallet's balance after the faucet: %s", out);
			assert_int_equal(run(out, sizeof out, "chain faucet --to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"), 3);
		}
		/* one offer in full (issue 14.11), by the prefix search prints and as JSON */
		{
			char pre[15];
			snprintf(pre, sizeof pre, "%.14s", hash);
			assert_int_equal(run(out, sizeof out, "offer %s", pre), 0);
			if (!strstr(out, hash) || !strstr(out, "2 x NVIDIA A100 80GB") || !strstr(out, "SIMULATED") ||
			    !strstr(out, "dUSDC per hour") || !strstr(out, "provider") || !strstr(out, "flopmarket rent 0x"))
				fail_msg("offer %s: %s", pre, out);
			assert_int_equal(run(out, sizeof out, "offer %s --json", hash), 0);
			json_t *j = json_loads(out, 0, NULL);
			if (!j || strcmp(json_string_value(json_object_get(json_object_get(j, "offer"), "offer_hash")), hash) ||
			    !json_is_object(json_object_get(j, "host")) || !json_is_object(json_object_get(j, "provider")))
				fail_msg("offer --json: %s", out);
			json_decref(j);
			assert_int_not_equal(run(out, sizeof out, "offer 0xffffffffffff"), 0);
			if (!strstr(out, "no live offer starts with"))
				fail_msg("offer of a prefix nothing has: %s", out);
		}
		/* this account host serves Jupyter (where the host has it): the listings say so */
		if (F.jupyter) {
			assert_int_equal(run(out, sizeof out, "search 'jupyter=true token=dUSDC' --json"), 0);
			if (!strstr(out, hash))
				fail_msg("search 'jupyter=true' lacks the offer: %s", out);
			assert_int_equal(run(out, sizeof out, "search 'jupyter=false' --json"), 0);
			if (!strstr(out, "\"total\": 0") && !strstr(out, "\"total\":0"))
				fail_msg("search 'jupyter=false' should find nothing here: %s", out);
		}
	}
}

static void test_usdc_permit_with_agent_restart(void **state)
{
	(void)state;
	rental_cycle("num_gpus>=2 vram>=80 token=dUSDC", "dUSDC", "USDC", &F.usdc, true);
}

static void test_usdt(void **state)
{
	(void)state;
	rental_cycle("num_gpus>=2 token=dUSDT", "dUSDT", "USDT", &F.usdt, false);
}

static void test_native(void **state)
{
	struct eth_address zero;
	(void)state;
	memset(&zero, 0, sizeof zero);
	rental_cycle("num_gpus>=2 token=ETH", "ETH", "ETH", &zero, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bring_up),
		cmocka_unit_test(test_offers),
		cmocka_unit_test(test_usdc_permit_with_agent_restart),
		cmocka_unit_test(test_usdt),
		cmocka_unit_test(test_native),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc = cmocka_run_group_tests_name("rental_e2e", tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
