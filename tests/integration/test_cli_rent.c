/*
 * test_cli_rent.c — the renter's `flopmarket` commands as a user runs them: the real binary, a real
 * anvil with RentalEscrow and the dev tokens deployed (src/escrow/deploy.h), fresh renter wallets in a
 * scratch data_dir (FLOPMARKET_DATA_DIR, FLOPMARKET_KEYSTORE_SCRYPT_LOG2_N=10, FLOPMARKET_PASSPHRASE).
 *
 * The provider (anvil key 1) signs offers in C and hands them to `rent --offer-file`. Checked to the
 * token's smallest unit: a 1-hour rental with the USDC-like token via EIP-2612 permit; `status` after
 * the chain clock moves 20 minutes shows cost(1200 s); `stop` in a block at exactly +20 min refunds
 * deposit - cost(1200) to the renter, pays cost - fee to the payout address and credits the fee. The
 * same with the USDT-like token (approve + open) and the native coin (gas accounted from receipts).
 * Errors a user can act on: wrong network (exit 5), no gas coin (the message names the coin), an
 * expired offer, a deposit below the offer's minimum, bad arguments.
 * With the real server (`flopmarket serve`, SQLite, indexer on the same anvil): the provider (signed in
 * with the independent npm `siwe` client, tests/integration/siwe_sign.mjs) registers a simulated host
 * and publishes the offer; `search` finds it (marked simulated) and shows a bad filter's offending
 * token; `rent` by hash prefix through the server; `status` lists it (the CLI's own SIWE sign-in, the
 * cached token file mode 0600); after `stop`, `receipts --csv` lists it and `rate` works once.
 * With the real agent (`flopmarket agent`, root) and a real sshd on a loopback port: `rent --ssh-key
 * --agent` delivers the key per docs/agent.md and waits for access; `flopmarket ssh` runs `echo ok` on
 * the rental's account; after `stop` the login is refused. Skipped where sshd or root is missing.
 * Keys are anvil's public development keys (test use only).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "agent/account.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/deploy.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"
#include "escrow/relay.h"
#include "eth/secp.h"
#include "eth/rpc.h"
#include "support/anvil.h"
#include "support/chain.h"
#include "support/child.h"
#include "support/deploy.h"
#include "support/server.h"
#include "support/sshd.h"

#define CHAIN 31337
#define FEE_BPS 1000
#define TIMEOUT_MS 20000
/* 300 token units per second (x 1e18): 1.08 USDC per hour; cost(1200) = 360000, cost(3600) = 1080000. */
#define RATE "300000000000000000000"

static struct {
	char repo[1024];
	char data_dir[128];
	struct anvil node;
	struct rpc rpc;
	struct escrow_deployment dep;
	struct deploy_fixture fx;
	struct eth_address escrow, usdc, usdt, treasury;
	uint8_t deployer_key[32], provider_key[32];
	struct eth_address deployer, provider, payout, renter, poor;
	uint64_t nonce;
	uint32_t dispute_secs;         /* disputeSecs of the next offer_file */
	struct server_child server;    /* `flopmarket serve`; pid 0 when not running */
	pid_t agent;                   /* `flopmarket agent` child, 0 when not running */
	struct sshd sshd;              /* loopback sshd for the agent's accounts */
	char home_base[64], cg_name[64];
	char base[64];                 /* its http://127.0.0.1:PORT */
} F;

static void server_stop(void);

#define OK(call)                                                                                   \
	do {                                                                                       \
		struct err e_ = { 0, "" };                                                         \
		int rc_ = (call);                                                                  \
		if (rc_)                                                                           \
			fail_msg("%s:%d: %s -> %d %s", __FILE__, __LINE__, #call, rc_, e_.msg);    \
	} while (0)

static const char *run_prefix = ""; /* e.g. "timeout -s INT 2.5 " for --watch */

/* Runs the binary against the fixture's chain with the renter's passphrase; captures output. */
static int run(char *out, size_t cap, const char *fmt, ...)
{
	char args[2048], cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof cmd, "%senv -u FLOPMARKET_SERVER_URL -u FLOPMARKET_DEPLOYMENT FLOPMARKET_DATA_DIR=%s "
		 "FLOPMARKET_KEYSTORE_SCRYPT_LOG2_N=10 FLOPMARKET_PASSPHRASE=renter-pass "
		 "%s --rpc-url %s %s 2>&1 </dev/null", run_prefix, F.data_dir, child_bin(F.repo), F.node.url, args);
	return child_shell(out, cap, cmd, args);
}

static void new_wallet(struct eth_address *out, const char *name)
{
	char o[4096];
	const char *a;
	assert_int_equal(run(o, sizeof o, "wallet new --wallet %s", name), 0);
	a = strstr(o, "address: ");
	assert_non_null(a);
	char text[43];
	memcpy(text, a + 9, 42);
	text[42] = '\0';
	OK(address_parse(out, text, &e_));
}

static void send_tx(const uint8_t key[32], const struct eth_address *to, const u256 *value, const struct buf *cd)
{
	struct rpc_receipt r = { 0 };
	OK(escrow_send(&F.rpc, &r, CHAIN, key, to, value, cd ? cd->data : NULL, cd ? cd->len : 0, TIMEOUT_MS,
		       &e_));
	rpc_receipt_release(&r);
}

/* Signs an offer for `token` and writes it as the server's offer view; returns the file path. */
static void offer_file(char *path, size_t cap, const struct eth_address *token, uint64_t expiry,
		       uint32_t min_secs)
{
	struct escrow_offer o;
	uint8_t sig[65];
	char sig_hex[140], spec[67], prov[43], pay[43], tok[43], zero[43];
	FILE *f;

	memset(&o, 0, sizeof o);
	o.provider = F.provider;
	o.payout = F.payout;
	o.token = *token;
	OK(u256_parse(&o.rate, RATE, &e_));
	o.min_secs = min_secs;
	o.max_secs = 86400;
	o.grace_secs = 60;
	o.dispute_secs = F.dispute_secs;
	o.capacity = 100; /* many rentals of this machine; capacity has its own tests */
	o.max_fee_bps = ESCROW_MAX_FEE_BPS;
	o.expiry = expiry;
	o.nonce = ++F.nonce;
	OK(escrow_offer_sign(sig, CHAIN, &F.escrow, &o, F.provider_key, &e_));
	hex_encode_0x(sig_hex, sig, 65);
	hex_encode_0x(spec, o.spec_hash, 32);
	address_to_lower(prov, &o.provider);
	address_to_lower(pay, &o.payout);
	address_to_lower(tok, &o.token);
	address_to_lower(zero, &o.arbiter);
	snprintf(path, cap, "%s/offer-%" PRIu64 ".json", F.data_dir, o.nonce);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"machine_id\": 1, \"signature\": \"%s\", \"offer\": {\"provider\": \"%s\", \"payout\": \"%s\", "
		   "\"token\": \"%s\", \"arbiter\": \"%s\", \"rate\": \"%s\", \"minSecs\": %u, \"maxSecs\": 86400, "
		   "\"interruptible\": false, \"noticeSecs\": 0, \"graceSecs\": 60, \"disputeSecs\": %u, "
		   "\"specHash\": \"%s\", \"capacity\": 100, \"monitor\": \"%s\", \"maxFeeBps\": %d, "
		   "\"expiry\": %" PRIu64 ", \"nonce\": %" PRIu64 "}}\n",
		sig_hex, prov, pay, tok, zero, RATE, min_secs, o.dispute_secs, spec, zero, ESCROW_MAX_FEE_BPS,
		expiry, o.nonce);
	fclose(f);
}

static uint64_t rental_id(const char *out)
{
	const char *r = strstr(out, "rental:    ");
	if (!r)
		fail_msg("no rental id in: %s", out);
	return strtoull(r + 11, NULL, 10);
}

static void tx_hash(uint8_t out32[32], const char *out)
{
	const char *t = strstr(out, "tx:        0x");
	char hex[67];
	if (!t)
		fail_msg("no tx in: %s", out);
	memcpy(hex, t + 11, 66);
	hex[66] = '\0';
	OK(hex_decode_exact(out32, 32, hex, &e_));
}

/* Gas paid by a transaction: gasUsed x effectiveGasPrice. */
static u256 gas_paid(const uint8_t hash32[32])
{
	struct rpc_receipt r = { 0 };
	u256 g, cost;
	OK(rpc_get_receipt(&F.rpc, &r, hash32, &e_));
	g = u256_from_u64(r.gas_used);
	assert_int_equal(u256_mul(&cost, &g, &r.effective_gas_price), 0);
	rpc_receipt_release(&r);
	return cost;
}

static int setup(void **state)
{
	struct err e = { 0 };
	(void)state;

	if (anvil_repo_root(F.repo, sizeof F.repo, &e))
		return -1;
	snprintf(F.data_dir, sizeof F.data_dir, "/tmp/flop-cli-rent-XXXXXX");
	if (!mkdtemp(F.data_dir))
		return -1;
	if (anvil_start(&F.node, NULL, &e) || rpc_init(&F.rpc, F.node.url, NULL, &e)) {
		print_error("anvil: %s\n", e.msg);
		return -1;
	}
	anvil_account(0, F.deployer_key, &F.deployer);
	anvil_account(1, F.provider_key, &F.provider);
	memset(&F.payout, 0, sizeof F.payout);
	F.payout.b[18] = 0x9a;
	F.payout.b[19] = 0x1d;
	memset(&F.treasury, 0, sizeof F.treasury);
	F.treasury.b[19] = 0x7e;
	return 0;
}

static void agent_stop(void);

static int teardown(void **state)
{
	char cmd[1024];
	(void)state;
	server_stop();
	agent_stop();
	sshd_stop(&F.sshd);
	if (F.home_base[0]) { /* the agent tears down at the end of a rental; this is the safety net */
		struct account_cfg c;
		struct account *list = NULL;
		size_t n = 0;
		char accounts[300];
		memset(&c, 0, sizeof c);
		snprintf(accounts, sizeof accounts, "%s/agent-state/accounts", F.data_dir);
		c.state_dir = accounts;
		c.home_base = F.home_base;
		c.cgroup_name = F.cg_name;
		if (account_list(&list, &n, &c, NULL) == 0) {
			for (size_t i = 0; i < n; i++)
				account_teardown(&c, list[i].name, NULL);
			free(list);
		}
		snprintf(cmd, sizeof cmd, "rm -rf '%s'; for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/*/*/; do "
			 "[ -d \"${d}%s\" ] && rmdir \"${d}%s\"; done 2>/dev/null; true", F.home_base, F.cg_name,
			 F.cg_name);
		if (system(cmd) != 0)
			print_error("cleanup of %s failed\n", F.home_base);
	}
	rpc_release(&F.rpc);
	anvil_stop(&F.node);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.data_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Deploys the escrow and dev tokens, mints to the renter and the poor wallet, gives the renter gas. */
static void test_deploy(void **state)
{
	struct escrow_deploy_opts o;
	struct eth_address mint[2];
	char path[256];
	(void)state;

	/* Fresh renter wallets, made by the CLI itself. */
	new_wallet(&F.renter, "renter2");
	new_wallet(&F.poor, "poor2");
	snprintf(path, sizeof path, "%s/deployment-%d.json", F.data_dir, CHAIN);
	mint[0] = F.renter;
	mint[1] = F.poor;
	memset(&o, 0, sizeof o);
	o.owner = F.deployer;
	o.treasury = F.treasury;
	o.fee_bps = FEE_BPS;
	o.arbiter_window_secs = 7 * 86400;
	o.mint_to = mint;
	o.n_mint_to = 2;
	o.mint_whole_tokens = 1000;
	o.timeout_ms = TIMEOUT_MS;
	OK(deploy_fixture(&F.fx, &F.rpc, F.deployer_key, F.repo, &o, path, &e_));
	F.dep = F.fx.dep;
	F.escrow = F.fx.escrow;
	F.usdc = F.fx.usdc;
	F.usdt = F.fx.usdt;
	u256 ten_eth;
	OK(u256_parse(&ten_eth, "10000000000000000000", &e_));
	send_tx(F.deployer_key, &F.renter, &ten_eth, NULL);
}

/*
 * Rents 1 hour of `token` (zero: native), moves the clock 20 minutes, checks status, stops at exactly
 * +1200 s and checks every balance to the unit.
 */
static void rent_cycle(const struct eth_address *token, const char *token_flag, const char *says_payment)
{
	char path[256], out[8192], want[160];
	uint8_t open_tx[32], stop_tx[32];
	u256 rate, deposit, cost, fee, net, refund, r0, r1, p0, p1, f0, f1, d, gas;
	uint64_t id, t0;
	bool native = address_is_zero(token);

	offer_file(path, sizeof path, token, chain_head_time(&F.rpc) + 7200, 600);
	OK(u256_parse(&rate, RATE, &e_));
	OK(escrow_cost(&deposit, &rate, 3600, &e_));
	OK(escrow_cost(&cost, &rate, 1200, &e_));
	OK(escrow_fee(&fee, &cost, FEE_BPS, &e_));
	assert_int_equal(u256_sub(&net, &cost, &fee), 0);
	assert_int_equal(u256_sub(&refund, &deposit, &cost), 0);

	r0 = chain_balance(&F.rpc, token, &F.renter);
	int code = run(out, sizeof out, "rent --offer-file %s --hours 1 %s --yes --wallet renter2", path, token_flag);
	if (code != 0)
		fail_msg("rent exit %d: %s", code, out);
	assert_non_null(strstr(out, says_payment));
	assert_non_null(strstr(out, "max cost:"));
	assert_non_null(strstr(out, "gas:"));
	id = rental_id(out);
	tx_hash(open_tx, out);
	t0 = chain_head_time(&F.rpc); /* automine: the open's block is the latest */
	r1 = chain_balance(&F.rpc, token, &F.renter);
	assert_int_equal(u256_sub(&d, &r0, &r1), 0);
	if (native) {
		gas = gas_paid(open_tx);
		assert_int_equal(u256_sub(&d, &d, &gas), 0);
	}
	assert_int_equal(u256_cmp(&d, &deposit), 0); /* exactly the deposit left the wallet */

	/* 20 minutes later: status shows cost(1200) to the unit. */
	char params[64];
	snprintf(params, sizeof params, "[%" PRIu64 "]", t0 + 1200);
	chain_rpc(&F.rpc, "evm_mine", params);
	assert_int_equal(run(out, sizeof out, "status %" PRIu64 " --wallet renter2", id), 0);
	assert_non_null(strstr(out, "(1200 s billed)"));
	{
		char num[U256_DEC_MAX + 2];
		u256_format_units(num, &cost, native ? 18 : 6);
		{
			char units[U256_DEC_MAX];
			u256_to_dec(units, &cost);
			snprintf(want, sizeof want, "accrued:     %s ", num);
			assert_non_null(strstr(out, want));
			snprintf(want, sizeof want, "(%s units)", units);
		}
		if (!strstr(out, want))
			fail_msg("status lacks '%s': %s", want, out);
		u256_format_units(num, &refund, native ? 18 : 6);
		snprintf(want, sizeof want, "refund %s ", num);
		assert_non_null(strstr(out, want));
	}
	/* --watch redraws every second until Ctrl-C (SIGINT: a clean exit 0). */
	run_prefix = "timeout --preserve-status -s INT 2.5 ";
	assert_int_equal(run(out, sizeof out, "status %" PRIu64 " --watch --wallet renter2", id), 0);
	run_prefix = "";
	{
		const char *a = strstr(out, "\033[H\033[2J"), *b = a ? strstr(a + 1, "\033[H\033[2J") : NULL;
		if (!b || !strstr(b, "(1200 s billed)"))
			fail_msg("--watch did not redraw: %s", out);
	}
	/* The listing of local rentals shows it too. */
	assert_int_equal(run(out, sizeof out, "status --wallet renter2"), 0);
	snprintf(want, sizeof want, "rental %" PRIu64 " ", id);
	assert_non_null(strstr(out, want));

	/* Stop in a block at exactly +1200 s. */
	r0 = chain_balance(&F.rpc, token, &F.renter);
	p0 = chain_balance(&F.rpc, token, &F.payout);
	f0 = chain_fees(&F.rpc, &F.escrow, token);
	chain_rpc(&F.rpc, "evm_setNextBlockTimestamp", params);
	code = run(out, sizeof out, "stop %" PRIu64 " --yes --wallet renter2", id);
	if (code != 0)
		fail_msg("stop exit %d: %s", code, out);
	tx_hash(stop_tx, out);
	r1 = chain_balance(&F.rpc, token, &F.renter);
	p1 = chain_balance(&F.rpc, token, &F.payout);
	f1 = chain_fees(&F.rpc, &F.escrow, token);
	if (native) { /* the refund may be smaller than the stop's gas: add the gas back first */
		gas = gas_paid(stop_tx);
		assert_int_equal(u256_add(&r1, &r1, &gas), 0);
	}
	assert_int_equal(u256_sub(&d, &r1, &r0), 0);
	assert_int_equal(u256_cmp(&d, &refund), 0);
	assert_int_equal(u256_sub(&d, &p1, &p0), 0);
	assert_int_equal(u256_cmp(&d, &net), 0);
	assert_int_equal(u256_sub(&d, &f1, &f0), 0);
	assert_int_equal(u256_cmp(&d, &fee), 0);
	/* Closed: status says so, a second stop is refused with a clear message (exit 5). */
	assert_int_equal(run(out, sizeof out, "status %" PRIu64 " --wallet renter2", id), 0);
	assert_non_null(strstr(out, "closed"));
	assert_int_equal(run(out, sizeof out, "stop %" PRIu64 " --yes --wallet renter2", id), 5);
	assert_non_null(strstr(out, "closed"));
}

static void test_rent_usdc_permit(void **state)
{
	(void)state;
	rent_cycle(&F.usdc, "--token USDC", "EIP-2612 permit");
}

static void test_rent_usdt_approve(void **state)
{
	(void)state;
	rent_cycle(&F.usdt, "--token USDT", "approve + open");
}

static void test_rent_native(void **state)
{
	struct eth_address zero;
	(void)state;
	memset(&zero, 0, sizeof zero);
	rent_cycle(&zero, "", "native coin");
}

/* Like run(), in a terminal (script(1) gives the command a pty) that answers `answer` to the question. */
static int run_tty(char *out, size_t cap, const char *answer, const char *fmt, ...)
{
	char args[2048], inner[4096], cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof args, fmt, ap);
	va_end(ap);
	snprintf(inner, sizeof inner, "env -u FLOPMARKET_SERVER_URL -u FLOPMARKET_DEPLOYMENT FLOPMARKET_DATA_DIR=%s "
		 "FLOPMARKET_KEYSTORE_SCRYPT_LOG2_N=10 FLOPMARKET_PASSPHRASE=renter-pass %s --rpc-url %s %s",
		 F.data_dir, child_bin(F.repo), F.node.url, args);
	snprintf(cmd, sizeof cmd, "(sleep 1; printf '%s\\n') | script -qec \"%s\" /dev/null 2>&1", answer, inner);
	return child_shell(out, cap, cmd, args);
}

/* The JSON object a --json command printed (stdout, after any progress on stderr); NULL when none. */
static json_t *json_in(const char *out)
{
	const char *p = strstr(out, "{\n  \"");
	return p ? json_loads(p, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
}

static uint64_t tx_count(const struct eth_address *a)
{
	uint64_t n = 0;
	OK(rpc_get_tx_count(&F.rpc, &n, a, "latest", &e_));
	return n;
}

static void test_extend(void **state)
{
	char path[256], out[8192];
	uint64_t id, nonce;
	json_t *j;
	(void)state;
	offer_file(path, sizeof path, &F.usdc, chain_head_time(&F.rpc) + 7200, 600);
	/* rent --json: the result as one object; the figures went to stderr (issue 14.7) */
	assert_int_equal(run(out, sizeof out, "rent --offer-file %s --hours 1 --yes --json --wallet renter2", path), 0);
	j = json_in(out);
	if (!j)
		fail_msg("rent --json printed no object: %s", out);
	id = (uint64_t)json_integer_value(json_object_get(j, "rental_id"));
	assert_true(id > 0);
	assert_string_equal(json_string_value(json_object_get(j, "deposit")), "1080000");
	assert_string_equal(json_string_value(json_object_get(j, "payment")), "permit");
	assert_string_equal(json_string_value(json_object_get(j, "symbol")), "dUSDC");
	assert_true(json_is_null(json_object_get(j, "access")));
	assert_int_equal(strlen(json_string_value(json_object_get(j, "offer_hash"))), 66);
	json_decref(j);
	/* status N --json */
	assert_int_equal(run(out, sizeof out, "status %" PRIu64 " --json --wallet renter2", id), 0);
	j = json_in(out);
	if (!j)
		fail_msg("status --json: %s", out);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "running");
	assert_string_equal(json_string_value(json_object_get(j, "deposited")), "1080000");
	assert_true(json_is_true(json_object_get(j, "active")));
	assert_true(json_integer_value(json_object_get(j, "time_left_secs")) > 3500);
	assert_int_equal(json_integer_value(json_object_get(j, "rental_id")), (json_int_t)id);
	json_decref(j);
	assert_int_equal(run(out, sizeof out, "status %" PRIu64 " --json --watch --wallet renter2", id), 2);
	/* Without the local record the terms come from the chain's Opened log. */
	snprintf(path, sizeof path, "%s/rentals/%d-%" PRIu64 ".json", F.data_dir, CHAIN, id);
	assert_int_equal(unlink(path), 0);
	/* Issue 14.4: figures first, then a question; no terminal and no --yes: nothing is sent */
	nonce = tx_count(&F.renter);
	assert_int_equal(run(out, sizeof out, "extend %" PRIu64 " --hours 1 --wallet renter2", id), 1);
	if (!strstr(out, "add:       1.08 dUSDC (buys 01:00:00 more)") || !strstr(out, "new end:   ") ||
	    !strstr(out, "payment:   EIP-2612 permit + extend (one transaction)") || !strstr(out, "gas:       about ") ||
	    !strstr(out, "not confirmed (use --yes in scripts); nothing was sent"))
		fail_msg("extend without --yes: %s", out);
	/* in a terminal: "n" sends nothing, "y" sends */
	assert_int_equal(run_tty(out, sizeof out, "n", "extend %" PRIu64 " --hours 1 --wallet renter2", id), 1);
	if (!strstr(out, "Proceed? [y/N]") || !strstr(out, "nothing was sent"))
		fail_msg("extend answered n: %s", out);
	assert_int_equal(tx_count(&F.renter), nonce);
	int code = run_tty(out, sizeof out, "y", "extend %" PRIu64 " --hours 1 --wallet renter2", id);
	if (code != 0)
		fail_msg("extend answered y: exit %d: %s", code, out);
	assert_non_null(strstr(out, "added:     1.08 dUSDC"));
	/* a permit token: one transaction, no approve */
	assert_int_equal(tx_count(&F.renter), nonce + 1);
	assert_int_equal(run(out, sizeof out, "status %" PRIu64 " --wallet renter2", id), 0);
	assert_non_null(strstr(out, "deposited:   2.16 dUSDC"));
	/* --json: the result as one object, amounts in token units */
	assert_int_equal(run(out, sizeof out, "extend %" PRIu64 " --amount 0.5 --yes --json --wallet renter2", id), 0);
	j = json_in(out);
	if (!j)
		fail_msg("extend --json printed no object: %s", out);
	assert_string_equal(json_string_value(json_object_get(j, "action")), "extend");
	assert_int_equal(json_integer_value(json_object_get(j, "rental_id")), (json_int_t)id);
	assert_string_equal(json_string_value(json_object_get(j, "added")), "500000");
	assert_string_equal(json_string_value(json_object_get(j, "symbol")), "dUSDC");
	assert_int_equal(json_integer_value(json_object_get(j, "decimals")), 6);
	assert_string_equal(json_string_value(json_object_get(j, "payment")), "permit");
	assert_true(json_integer_value(json_object_get(j, "paid_until")) > 0);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "tx"))), 66);
	json_decref(j);
	/* past the offer's 24 h in all: refused before sending, saying what to do (issue 14.9) */
	assert_int_equal(run(out, sizeof out, "extend %" PRIu64 " --hours 30 --yes --wallet renter2", id), 5);
	if (!strstr(out, "DepositAboveMaximum()") || !strstr(out, "ask for fewer hours"))
		fail_msg("extend past the maximum: %s", out);
	/* stop shows the refund it will get and asks too */
	assert_int_equal(run(out, sizeof out, "stop %" PRIu64 " --wallet renter2", id), 1);
	if (!strstr(out, "refund:    ") || !strstr(out, "back to you") || !strstr(out, "nothing was sent"))
		fail_msg("stop without --yes: %s", out);
	assert_int_equal(run(out, sizeof out, "stop %" PRIu64 " --yes --json --wallet renter2", id), 0);
	j = json_in(out);
	if (!j)
		fail_msg("stop --json printed no object: %s", out);
	assert_string_equal(json_string_value(json_object_get(j, "action")), "stop");
	{
		/* refund + billed = all deposited (2.66 dUSDC), to the unit */
		u256 refund, billed, sum, want = u256_from_u64(2660000);
		OK(u256_parse_dec(&refund, json_string_value(json_object_get(j, "refund")), &e_));
		OK(u256_parse_dec(&billed, json_string_value(json_object_get(j, "billed")), &e_));
		OK(u256_add(&sum, &refund, &billed));
		assert_true(u256_cmp(&sum, &want) == 0);
		assert_true(json_integer_value(json_object_get(j, "billed_secs")) >= 1);
	}
	json_decref(j);
}

/* A renter disputes within the window: the held share stays in escrow; once only. */
static void test_dispute(void **state)
{
	char path[256], out[8192];
	uint64_t id;
	(void)state;
	F.dispute_secs = 3600;
	offer_file(path, sizeof path, &F.usdc, chain_head_time(&F.rpc) + 7200, 600);
	F.dispute_secs = 0;
	assert_int_equal(run(out, sizeof out, "rent --offer-file %s --hours 1 --yes --wallet renter2", path), 0);
	id = rental_id(out);
	/* Not ended yet: nothing to dispute, and it says what to do (issue 14.9). */
	assert_int_equal(run(out, sizeof out, "dispute %" PRIu64 " --yes --wallet renter2", id), 5);
	{
		char want[64];
		snprintf(want, sizeof want, "stop it first (flopmarket stop %" PRIu64 ")", id);
		if (!strstr(out, "NotOver()") || !strstr(out, want))
			fail_msg("dispute of a running rental: %s", out);
	}
	chain_rpc(&F.rpc, "evm_increaseTime", "[600]");
	chain_rpc(&F.rpc, "evm_mine", "[]");
	assert_int_equal(run(out, sizeof out, "stop %" PRIu64 " --yes --wallet renter2", id), 0);
	assert_non_null(strstr(out, "held:"));
	int code = run(out, sizeof out, "dispute %" PRIu64 " --yes --wallet renter2", id);
	if (code != 0)
		fail_msg("dispute exit %d: %s", code, out);
	assert_non_null(strstr(out, "disputed:"));
	assert_int_equal(run(out, sizeof out, "status %" PRIu64 " --wallet renter2", id), 0);
	assert_non_null(strstr(out, "disputed"));
	/* Once only. */
	assert_int_equal(run(out, sizeof out, "dispute %" PRIu64 " --yes --wallet renter2", id), 5);
	if (!strstr(out, "RentalDisputed()") || !strstr(out, "under dispute"))
		fail_msg("second dispute: %s", out);
	/* and a stopped rental cannot be stopped or extended again: it says why */
	assert_int_equal(run(out, sizeof out, "extend %" PRIu64 " --hours 1 --yes --wallet renter2", id), 5);
	if (!strstr(out, "has already ended") && !strstr(out, "under dispute") && !strstr(out, "is closed"))
		fail_msg("extend of a stopped rental: %s", out);
}

/* ---- the server ---- */

static size_t on_data(char *p, size_t sz, size_t n, void *ctx)
{
	return buf_append(ctx, p, sz * n) ? 0 : sz * n;
}

/* One request to the server; returns the status and the parsed JSON answer in *out (may be NULL). */
static long http_json(json_t **out, const char *method, const char *path, const char *body, const char *token)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct buf b;
	char url[1024], auth[256];
	long status = 0;

	buf_init(&b, 1 << 20);
	snprintf(url, sizeof url, "%s%s", F.base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	h = curl_slist_append(h, "Content-Type: application/json");
	if (token) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	*out = NULL;
	if (b.len)
		json_parse(out, (const char *)b.data, b.len, 0, NULL);
	buf_release(&b);
	return status;
}

static void server_start(void)
{
	char dep[256], db[256], log[256], why[2048];
	const char *env[] = { "FLOPMARKET_LOG_LEVEL=warn", NULL };
	struct server_child_opts o = { .bin = child_bin(F.repo), .rpc_url = F.node.url, .db = db,
				       .deployment = dep, .log = log, .env = env };

	snprintf(dep, sizeof dep, "%s/deployment-%d.json", F.data_dir, CHAIN);
	snprintf(db, sizeof db, "sqlite:%s/server.db", F.data_dir);
	snprintf(log, sizeof log, "%s/server.log", F.data_dir);
	if (server_child_start(&F.server, &o, why, sizeof why))
		fail_msg("%s", why);
	snprintf(F.base, sizeof F.base, "%s", F.server.base);
}

static void server_stop(void)
{
	server_child_stop(&F.server, SIGTERM);
}

/* The provider signs in with the independent npm `siwe` client. */
static void provider_sign_in(char *token, size_t cap)
{
	json_t *n, *r;
	char cmd[2048], body[4096], key_hex[67];
	size_t len;
	FILE *p;

	assert_int_equal(http_json(&n, "GET", "/auth/nonce", NULL, NULL), 200);
	hex_encode_0x(key_hex, F.provider_key, 32);
	snprintf(cmd, sizeof cmd, "node %s/tests/integration/siwe_sign.mjs '%s' '%s' %d '%s' %s 3600", F.repo,
		 json_string_value(json_object_get(n, "domain")), json_string_value(json_object_get(n, "uri")),
		 CHAIN, json_string_value(json_object_get(n, "nonce")), key_hex);
	json_decref(n);
	p = popen(cmd, "r");
	assert_non_null(p);
	len = fread(body, 1, sizeof body - 1, p);
	body[len] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_int_equal(http_json(&r, "POST", "/auth/siwe", body, NULL), 200);
	snprintf(token, cap, "%s", json_string_value(json_object_get(r, "token")));
	json_decref(r);
}

/* Runs `fmt` until its output contains `want` (at most 20 s); returns the last output. */
static void run_until(char *out, size_t cap, const char *want, const char *args)
{
	for (int i = 0; i < 100; i++) {
		if (run(out, cap, "%s", args) == 0 && strstr(out, want))
			return;
		usleep(200000);
	}
	fail_msg("'%s' never showed '%s': %s", args, want, out);
}

/* Registers simulated host `machine` (one RTX_4090 of fp32_mtflops; 0: never measured) with the provider's
 * session, then publishes a fresh offer of it; the offer hash's 12-character prefix into prefix. */
static void publish_on_host(char prefix[16], const char *tok, char machine, unsigned fp32_mtflops)
{
	char body[4096], path[256];
	json_t *r = NULL;
	long code;

	snprintf(body, sizeof body,
		 "{\"machine_id\":%c,\"country\":\"DE\",\"region\":\"eu-central\",\"net_up_mbps\":900,"
		 "\"net_down_mbps\":950,\"cpu_cores\":16,\"ram_gib\":64,\"disk_gib\":500,\"driver_version\":\"550.54.15\","
		 "\"cuda_version\":\"12.4\",\"endpoint\":\"http://127.0.0.1:9\",\"simulated\":true,"
		 "\"gpus\":[{\"model\":\"RTX_4090\",\"vram_mib\":24576,\"fp32_mtflops\":%u,"
		 "\"fp16_mtflops\":%u,\"mem_bw_gbps\":1008}]}", machine, fp32_mtflops, 2 * fp32_mtflops);
	assert_int_equal(http_json(&r, "POST", "/hosts", body, tok), 201);
	json_decref(r);
	/* The offer as the provider publishes it: the same file `rent --offer-file` reads. */
	offer_file(path, sizeof path, &F.usdc, chain_head_time(&F.rpc) + 7200, 600);
	{
		FILE *f = fopen(path, "r");
		size_t n = fread(body, 1, sizeof body - 1, f);
		fclose(f);
		body[n] = '\0';
		char *m = strstr(body, "\"machine_id\": 1");
		assert_non_null(m);
		m[14] = machine;
	}
	code = http_json(&r, "POST", "/offers", body, NULL);
	if (code != 201)
		fail_msg("POST /offers (machine %c): %ld %s", machine, code, r ? json_dumps(r, 0) : "");
	snprintf(prefix, 16, "%.12s", json_string_value(json_object_get(r, "offer_hash")));
	json_decref(r);
}

static void test_server_flow(void **state)
{
	char tok[256], out[16384], want[160], body[4096], prefix[16];
	json_t *r;
	uint64_t id;
	struct stat st;
	long code;
	(void)state;

	server_start();
	provider_sign_in(tok, sizeof tok);
	publish_on_host(prefix, tok, '7', 82600);

	/* search: a table with the hash prefix, the GPU, the price in token and USD, `simulated`. */
	assert_int_equal(run(out, sizeof out, "search 'gpu=RTX_4090 vram>=24' --server %s", F.base), 0);
	if (!strstr(out, prefix) || !strstr(out, "RTX_4090 x1") || !strstr(out, "simulated") ||
	    !strstr(out, "1.08 dUSDC") || !strstr(out, "DE"))
		fail_msg("search table: %s", out);
	assert_int_equal(run(out, sizeof out, "search 'gpu=RTX_4090' --json --limit 5 --server %s", F.base), 0);
	assert_non_null(strstr(out, "\"offer_hash\""));
	/* Issue 14.10: a host whose TFLOPS were never measured sorts last either way and the table says so;
	 * a rating column; --cursor pages */
	{
		char prefix8[16], cursor[160] = "", *at, *p7, *p8;
		publish_on_host(prefix8, tok, '8', 0);
		for (int desc = 0; desc < 2; desc++) {
			assert_int_equal(run(out, sizeof out, "search 'gpu=RTX_4090' -o %stflops --server %s",
					     desc ? "-" : "", F.base), 0);
			p7 = strstr(out, prefix);
			p8 = strstr(out, prefix8);
			if (!p7 || !p8 || p8 < p7 || !strstr(out, "TFLOPS ?: not measured") || !strstr(out, "RATING") ||
			    !strstr(out, "82.6"))
				fail_msg("search -o %stflops: the unmeasured host must come last: %s", desc ? "-" : "", out);
		}
		assert_int_equal(run(out, sizeof out, "search 'gpu=RTX_4090' -o -tflops --limit 1 --server %s", F.base), 0);
		if (!(at = strstr(out, "more: add --cursor ")) || !strstr(out, prefix) || strstr(out, prefix8))
			fail_msg("search page 1: %s", out);
		sscanf(at + 19, "%150[0-9a-f]", cursor);
		assert_int_equal(run(out, sizeof out, "search 'gpu=RTX_4090' -o -tflops --limit 1 --cursor %s --server %s",
				     cursor, F.base), 0);
		if (!strstr(out, prefix8) || strstr(out, prefix))
			fail_msg("search page 2 (--cursor %s): %s", cursor, out);
		assert_int_equal(run(out, sizeof out, "search 'gpu=RTX_4090' --cursor 'x;y' --server %s", F.base), 3);
	}
	/* A bad filter: the server's error with the offending token, exit 3. */
	assert_int_equal(run(out, sizeof out, "search 'gpu=RTX_4090 vram>>24' --server %s", F.base), 3);
	if (!strstr(out, "bad_filter") || !strstr(out, ">>24"))
		fail_msg("bad filter: %s", out);

	/* Issue 8.12: the host's agent (http://127.0.0.1:9) is down: rent refuses before paying. */
	code = run(out, sizeof out, "rent %s --hours 1 --token USDC --yes --wallet renter2 --server %s", prefix, F.base);
	if (code == 0 || !strstr(out, "does not answer; nothing was paid") || strstr(out, "rental:"))
		fail_msg("rent of a down host: exit %ld: %s", code, out);
	/* The host record without an agent endpoint: rent goes ahead (no key to deliver). */
	snprintf(body, sizeof body,
		 "{\"machine_id\":7,\"country\":\"DE\",\"region\":\"eu-central\",\"net_up_mbps\":900,"
		 "\"net_down_mbps\":950,\"cpu_cores\":16,\"ram_gib\":64,\"disk_gib\":500,\"driver_version\":\"550.54.15\","
		 "\"cuda_version\":\"12.4\",\"endpoint\":\"\",\"simulated\":true,"
		 "\"gpus\":[{\"model\":\"RTX_4090\",\"vram_mib\":24576,\"fp32_mtflops\":82600,"
		 "\"fp16_mtflops\":165200,\"mem_bw_gbps\":1008}]}");
	assert_int_equal(http_json(&r, "POST", "/hosts", body, tok), 201);
	json_decref(r);
	/* rent by hash prefix through the server. */
	code = run(out, sizeof out, "rent %s --hours 1 --token USDC --yes --wallet renter2 --server %s", prefix, F.base);
	if (code != 0)
		fail_msg("rent via server: %s", out);
	id = rental_id(out);
	/* status lists it from the server (the CLI signs in with SIWE; the token is cached, mode 0600), with
	 * the state named as `status N` names it, the token's symbol and the time left (issue 14.5) */
	snprintf(want, sizeof want, "\n%-8" PRIu64 " running", id);
	snprintf(body, sizeof body, "status --wallet renter2 --server %s", F.base);
	run_until(out, sizeof out, want, body);
	if (!strstr(out, "dUSDC") || !strstr(out, "TIME LEFT") || strstr(out, " open "))
		fail_msg("status list: %s", out);
	{
		char tpath[512], lower[43];
		address_to_lower(lower, &F.renter);
		snprintf(tpath, sizeof tpath, "%s/sessions/%s.token", F.data_dir, lower);
		assert_int_equal(stat(tpath, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	/* stop; the receipt appears; rate once. */
	assert_int_equal(run(out, sizeof out, "stop %" PRIu64 " --yes --wallet renter2", id), 0);
	snprintf(want, sizeof want, "\n%" PRIu64 ",closed", id);
	snprintf(body, sizeof body, "receipts --csv --wallet renter2 --server %s", F.base);
	run_until(out, sizeof out, want, body);
	assert_int_equal(run(out, sizeof out, "receipts --wallet renter2 --server %s", F.base), 0);
	snprintf(want, sizeof want, "\n%-7" PRIu64 " closed", id);
	if (!strstr(out, want))
		fail_msg("receipts table: %s", out);
	/* --json: the server's receipt of each (issue 14.7) */
	static char big[1 << 18]; /* every receipt of this wallet, with its transactions */
	assert_int_equal(run(big, sizeof big, "receipts --json --wallet renter2 --server %s", F.base), 0);
	{
		json_t *j = json_in(big), *list = json_object_get(j, "receipts"), *r0;
		size_t i;
		bool found = false;
		if (!json_is_array(list))
			fail_msg("receipts --json: %.2000s", big);
		json_array_foreach(list, i, r0)
			if (json_integer_value(json_object_get(r0, "rental_id")) == (json_int_t)id) {
				found = true;
				assert_string_equal(json_string_value(json_object_get(r0, "state")), "closed");
				assert_non_null(json_string_value(json_object_get(json_object_get(r0, "total"), "units")));
				assert_true(json_array_size(json_object_get(r0, "transactions")) >= 2);
			}
		assert_true(found);
		json_decref(j);
	}
	/* status of the whole list from the server, --json */
	assert_int_equal(run(out, sizeof out, "status --json --wallet renter2 --server %s", F.base), 0);
	{
		json_t *j = json_in(out);
		if (!j || !json_is_array(json_object_get(j, "rentals")))
			fail_msg("status --json (server list): %s", out);
		assert_int_equal(json_integer_value(json_object_get(j, "chain_id")), CHAIN);
		json_decref(j);
	}
	code = run(out, sizeof out, "rate %" PRIu64 " 5 --comment 'fast and clean' --wallet renter2 --server %s", id,
		   F.base);
	if (code != 0)
		fail_msg("rate: %s", out);
	assert_int_not_equal(run(out, sizeof out, "rate %" PRIu64 " 4 --wallet renter2 --server %s", id, F.base), 0);
	assert_non_null(strstr(out, "already_rated"));
	server_stop();
}

/* ---- the agent ---- */

static void agent_stop(void)
{
	child_stop(&F.agent, SIGTERM);
}

/* Starts the loopback sshd and the provider's agent (wallet "prov", anvil key 1) on a free port. */
static void agent_up(char agent_url[64], char hostkey[200], char log[256])
{
	static bool imported;
	char cmd[2048], sd[256], dep[256], listen[32], sshp[16], bin[1100];
	uint16_t port;
	struct err e = { 0 };

	if (sshd_start(&F.sshd, "fm*", &e))
		fail_msg("sshd: %s", e.msg);
	/* The provider's wallet (anvil key 1), imported as a provider would. */
	if (!imported) {
		imported = true;
		char hex[65];
		hex_encode(hex, F.provider_key, 32);
		snprintf(cmd, sizeof cmd, "FLOPMARKET_PRIVATE_KEY=%s FLOPMARKET_PASSPHRASE=renter-pass "
			 "FLOPMARKET_KEYSTORE_SCRYPT_LOG2_N=10 FLOPMARKET_DATA_DIR=%s %s wallet import --private-key "
			 "--wallet prov >/dev/null 2>&1", hex, F.data_dir, child_bin(F.repo));
		assert_int_equal(system(cmd), 0);
	}
	/* A free loopback port for the agent. */
	{
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t n = sizeof a;
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &n), 0);
		port = ntohs(a.sin_port);
		close(fd);
	}
	snprintf(agent_url, 64, "http://127.0.0.1:%u", port);
	snprintf(bin, sizeof bin, "%s", child_bin(F.repo));
	/* The rental accounts run a wrapper under the agent's state dir: they must traverse data_dir. */
	assert_int_equal(chmod(F.data_dir, 0711), 0);
	snprintf(sd, sizeof sd, "%s/agent-state", F.data_dir);
	snprintf(dep, sizeof dep, "%s/deployment-%d.json", F.data_dir, CHAIN);
	snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
	snprintf(sshp, sizeof sshp, "%u", F.sshd.port);
	snprintf(log, 256, "%s/agent.log", F.data_dir);
	snprintf(F.home_base, sizeof F.home_base, "/home/fmclirent-%d", (int)getpid());
	snprintf(F.cg_name, sizeof F.cg_name, "flopmarket-cli-rent-%d", (int)getpid());
	snprintf(hostkey, 200, "%s/host_ed25519.pub", F.sshd.dir);
	{
		char dd[400];
		const char *env[] = { "FLOPMARKET_PASSPHRASE=renter-pass", dd, NULL };
		char *argv[] = { bin, "--rpc-url", F.node.url, "agent", "--wallet", "prov", "--deployment", dep,
				 "--listen", listen, "--ssh-port", sshp, "--ssh-host-key", hostkey, "--state-dir", sd, "--home-base",
				 F.home_base, "--cgroup-name", F.cg_name, "--confirmations", "0", "--poll-ms", "200",
				 "--no-claims", NULL };
		snprintf(dd, sizeof dd, "FLOPMARKET_DATA_DIR=%s", F.data_dir);
		F.agent = child_spawn(bin, argv, log, env);
		assert_true(F.agent >= 0);
	}
}

static void test_agent_access(void **state)
{
	const char *why = NULL;
	char out[16384], path[256], priv[256], pub[1024], pubfile[256], agent_url[64], cmd[2048], want[160];
	char log[256], hostkey[200], fp[80];
	uint64_t id;
	struct err e = { 0 };
	(void)state;

	if (!sshd_available(&why)) {
		print_message("skipped: %s\n", why ? why : "no sshd");
		skip();
	}
	agent_up(agent_url, hostkey, log);
	/* The renter's SSH key. */
	snprintf(priv, sizeof priv, "%s/id_renter", F.data_dir);
	if (sshd_keygen(pub, sizeof pub, priv, &e))
		fail_msg("ssh-keygen: %s", e.msg);
	snprintf(pubfile, sizeof pubfile, "%s/id_renter.pub", F.data_dir);
	/* Rent with the key: delivered to the agent, access awaited, then the SSH command printed. */
	offer_file(path, sizeof path, &F.usdc, chain_head_time(&F.rpc) + 7200, 600);
	usleep(500000);
	int code = run(out, sizeof out, "rent --offer-file %s --hours 1 --yes --wallet renter2 --ssh-key %s --agent %s "
		       "--wait-access 60", path, pubfile, agent_url);
	if (code != 0)
		fail_msg("rent with --ssh-key: exit %d: %s (agent log %s)", code, out, log);
	id = rental_id(out);
	snprintf(want, sizeof want, "ssh:       ssh -p %u fm", F.sshd.port);
	assert_non_null(strstr(out, want));
	assert_non_null(strstr(out, "terminal:  ws://127.0.0.1:"));
	/* the sshd's host key fingerprint, as ssh-keygen -lf prints it */
	snprintf(cmd, sizeof cmd, "ssh-keygen -lf %s | cut -d' ' -f2", hostkey);
	{
		FILE *p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(fp, sizeof fp, p));
		pclose(p);
		fp[strcspn(fp, "\n")] = '\0';
	}
	snprintf(want, sizeof want, "host key:  %s ssh-ed25519", fp);
	if (!strstr(out, want))
		fail_msg("rent did not print the host key fingerprint %s: %s", fp, out);
	/* `flopmarket ssh` logs in through the real sshd, as a script does: no host key options, no prompt;
	 * the key is pinned in a known_hosts file of the rental's own, ~/.ssh/known_hosts is left alone */
	code = run(out, sizeof out, "ssh %" PRIu64 " --agent %s -i %s -o BatchMode=yes -- echo ok", id, agent_url,
		   priv);
	if (code != 0 || !strstr(out, "ok")) {
		snprintf(cmd, sizeof cmd, "namei -l '%s/agent-state/accounts/shells/x' >&2; cat '%s' >&2", F.data_dir,
			 log);
		if (system(cmd) != 0)
			print_error("namei failed\n");
		fail_msg("ssh: exit %d: %s", code, out);
	}
	{
		char kh[600], text[4096] = "", sshport[32];
		FILE *f;
		snprintf(kh, sizeof kh, "%s/known_hosts/rental-%" PRIu64, F.data_dir, id);
		f = fopen(kh, "r");
		if (!f)
			fail_msg("no per-rental known_hosts at %s", kh);
		text[fread(text, 1, sizeof text - 1, f)] = '\0';
		fclose(f);
		snprintf(sshport, sizeof sshport, "[127.0.0.1]:%u ssh-ed25519 ", F.sshd.port);
		assert_non_null(strstr(text, sshport));
		snprintf(cmd, sizeof cmd, "grep -qF '[127.0.0.1]:%u' ~root/.ssh/known_hosts 2>/dev/null", F.sshd.port);
		assert_int_not_equal(system(cmd), 0);
	}
	/* The most options and remote arguments ssh accepts from us: 32 -o and 32 after `--` (the argument
	 * list once had room for fewer than that, with the pinning options too). */
	{
		char many[4096] = "";
		size_t k = 0;
		for (int i = 0; i < 31; i++) /* and -o BatchMode=yes: 32 */
			k += (size_t)snprintf(many + k, sizeof many - k, " -o LogLevel=ERROR");
		k += (size_t)snprintf(many + k, sizeof many - k, " -- echo");
		for (int i = 0; i < 31; i++)
			k += (size_t)snprintf(many + k, sizeof many - k, " a%d", i);
		code = run(out, sizeof out, "ssh %" PRIu64 " --agent %s -i %s -o BatchMode=yes%s", id, agent_url, priv, many);
		if (code != 0 || !strstr(out, "a0 a1") || !strstr(out, "a30"))
			fail_msg("ssh with 32 options and 32 arguments: exit %d: %s", code, out);
		code = run(out, sizeof out, "ssh %" PRIu64 " --agent %s -i %s%s -o LogLevel=ERROR", id, agent_url, priv, many);
		assert_int_equal(code, 2); /* a 33rd option after `--`: a remote argument over the cap, refused */
	}
	/* Stop: the agent tears the account down; the login is refused. */
	assert_int_equal(run(out, sizeof out, "stop %" PRIu64 " --yes --wallet renter2", id), 0);
	for (int i = 0; i < 100; i++) {
		code = run(out, sizeof out, "ssh %" PRIu64 " --agent %s -i %s -o BatchMode=yes -o StrictHostKeyChecking=no "
			   "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=3 -- echo ok", id,
			   agent_url, priv);
		if (code != 0)
			break;
		usleep(200000);
	}
	assert_int_not_equal(code, 0);
	agent_stop();
	sshd_stop(&F.sshd);
}

static void test_errors(void **state)
{
	char path[256], bad_dep[300], out[8192];
	FILE *f;
	(void)state;

	offer_file(path, sizeof path, &F.usdc, chain_head_time(&F.rpc) + 7200, 600);
	/* Wrong network: the configured chain id. */
	assert_int_equal(run(out, sizeof out, "--chain-id 137 rent --offer-file %s --hours 1 --yes --wallet renter2",
			     path), 5);
	assert_non_null(strstr(out, "wrong network"));
	/* Wrong network: a deployment file of another chain. */
	snprintf(bad_dep, sizeof bad_dep, "%s/deployment-other.json", F.data_dir);
	{
		struct escrow_deployment d = F.dep;
		d.chain_id = 137;
		OK(escrow_deployment_save(&d, bad_dep, &e_));
	}
	assert_int_equal(run(out, sizeof out, "--deployment %s status 1 --wallet renter2", bad_dep), 5);
	assert_non_null(strstr(out, "wrong network"));
	/* Not enough gas coin: holds USDC, no ETH; the message names both coins. */
	int code = run(out, sizeof out, "rent --offer-file %s --hours 1 --yes --wallet poor2", path);
	assert_int_not_equal(code, 0);
	if (!strstr(out, "you hold 1000 dUSDC but 0 ETH for gas"))
		fail_msg("gas message: %s", out);
	/* Deposit below the offer's minimum (600 s = 0.18 dUSDC). */
	code = run(out, sizeof out, "rent --offer-file %s --until-stopped --deposit 0.1 --yes --wallet renter2", path);
	assert_int_equal(code, 3);
	assert_non_null(strstr(out, "deposit below minimum"));
	assert_non_null(strstr(out, "0.18 dUSDC"));
	/* Too many decimals is refused, never rounded. */
	code = run(out, sizeof out, "rent --offer-file %s --until-stopped --deposit 1.0000001 --yes --wallet renter2",
		   path);
	assert_int_equal(code, 3);
	/* Expired offer. */
	offer_file(path, sizeof path, &F.usdc, chain_head_time(&F.rpc) + 5, 600);
	code = run(out, sizeof out, "rent --offer-file %s --hours 1 --yes --wallet renter2", path);
	assert_int_equal(code, 5);
	assert_non_null(strstr(out, "offer expired"));
	/* Wrong token named. */
	offer_file(path, sizeof path, &F.usdc, chain_head_time(&F.rpc) + 7200, 600);
	code = run(out, sizeof out, "rent --offer-file %s --hours 1 --token USDT --yes --wallet renter2", path);
	assert_int_equal(code, 3);
	assert_non_null(strstr(out, "priced in dUSDC"));
	/* Without --yes and without a terminal nothing is sent. */
	code = run(out, sizeof out, "rent --offer-file %s --hours 1 --wallet renter2", path);
	assert_int_equal(code, 1);
	assert_non_null(strstr(out, "nothing was sent"));
	/* Usage and bad input. */
	assert_int_equal(run(out, sizeof out, "rent --hours 1"), 2);
	assert_int_equal(run(out, sizeof out, "rent --offer-file %s --hours 0 --yes", path), 3);
	assert_int_equal(run(out, sizeof out, "status abc"), 3);
	assert_int_equal(run(out, sizeof out, "stop 999 --yes --wallet renter2"), 1);
	assert_non_null(strstr(out, "no rental 999"));
	assert_int_equal(run(out, sizeof out, "rate 1 6 --server http://127.0.0.1:1"), 3);
	assert_int_equal(run(out, sizeof out, "search 'gpu=X' --server http://127.0.0.1:1"), 4);
	/* A corrupt offer file names the field. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"offer\": {\"provider\": \"0x12\"}, \"signature\": \"0x00\"}", f);
	fclose(f);
	assert_int_equal(run(out, sizeof out, "rent --offer-file %s --hours 1 --yes --wallet renter2", path), 3);
	assert_non_null(strstr(out, "offer.provider"));
}

/* ---------------------------------------------------------------- gasless (relayed) rentals */

#define ETH_USD "3000"
static const char *const relay_env[] = { "FLOPMARKET_LOG_LEVEL=info", "FLOPMARKET_RELAYER_PASSPHRASE=renter-pass", NULL };

/* The server again, now with the relayer (wallet "relayer", anvil key 2) and USD prices for its fees. */
static void relay_server_start(void)
{
	char dep[256], db[256], log[256], why[2048], ks[256];
	const char *extra[] = { "--relayer-keystore", ks, "--token-usd", "ETH=" ETH_USD ",dUSDC=1",
				"--relay-min-deadline-s", "60", "--relay-pending-max", "5", NULL };
	struct server_child_opts o = { .bin = child_bin(F.repo), .rpc_url = F.node.url, .db = db,
				       .deployment = dep, .log = log, .env = relay_env, .extra = extra };

	snprintf(ks, sizeof ks, "%s/wallets/relayer.json", F.data_dir);
	snprintf(dep, sizeof dep, "%s/deployment-%d.json", F.data_dir, CHAIN);
	snprintf(db, sizeof db, "sqlite:%s/server.db", F.data_dir);
	snprintf(log, sizeof log, "%s/server.log", F.data_dir);
	if (server_child_start(&F.server, &o, why, sizeof why))
		fail_msg("%s", why);
	snprintf(F.base, sizeof F.base, "%s", F.server.base);
}

static void import_key(const uint8_t key[32], const char *name)
{
	char hex[65], cmd[1024];

	hex_encode(hex, key, 32);
	snprintf(cmd, sizeof cmd, "FLOPMARKET_PRIVATE_KEY=%s FLOPMARKET_PASSPHRASE=renter-pass "
		 "FLOPMARKET_KEYSTORE_SCRYPT_LOG2_N=10 FLOPMARKET_DATA_DIR=%s %s wallet import --private-key "
		 "--wallet %s >/dev/null 2>&1", hex, F.data_dir, child_bin(F.repo), name);
	assert_int_equal(system(cmd), 0);
}

/* One relay intent's view (GET /relay/intents/{id}). */
static json_t *relay_view(uint64_t id)
{
	char path[64];
	json_t *o = NULL;

	snprintf(path, sizeof path, "/relay/intents/%" PRIu64, id);
	assert_int_equal(http_json(&o, "GET", path, NULL, NULL), 200);
	return o;
}

/* Waits (mining a block each round when `mine`) until intent id is in `state`; fails on "failed". */
static json_t *relay_wait(uint64_t id, const char *state, bool mine)
{
	for (int i = 0; i < 150; i++) {
		json_t *o = NULL;
		char path[64];
		snprintf(path, sizeof path, "/relay/intents/%" PRIu64, id);
		if (http_json(&o, "GET", path, NULL, NULL) == 200) {
			const char *st = json_string_value(json_object_get(o, "state"));
			if (st && strcmp(st, state) == 0)
				return o;
			if (st && strcmp(st, "failed") == 0)
				fail_msg("relay intent %" PRIu64 " failed: %s", id, json_dumps(o, 0));
		}
		json_decref(o);
		if (mine)
			chain_rpc(&F.rpc, "evm_mine", "[]");
		usleep(100000);
	}
	fail_msg("relay intent %" PRIu64 " never reached %s", id, state);
	return NULL;
}

static u256 json_units(const json_t *o, const char *field)
{
	u256 v;
	OK(json_get_u256(&v, o, field, &e_));
	return v;
}

/* A renter-signed intent and its POST body, crafted as a client (or an attacker) would. */
struct crafted {
	struct relay_intent it;
	uint8_t sig[65];
	struct relay_permit p;
	bool with_permit;
	struct escrow_terms t;
	u256 body_amount;   /* the amount the body claims (normally it.amount) */
	const char *renter_override; /* the renter the body claims, NULL: it.renter */
};

static void craft(struct crafted *c, enum relay_kind k, const struct escrow_terms *t, uint64_t amount,
		  uint64_t max_fee, const uint8_t key[32], const struct eth_address *relay, uint64_t chain)
{
	uint8_t rnd[8];
	uint64_t n;

	memset(c, 0, sizeof *c);
	c->t = *t;
	c->it.kind = k;
	c->it.renter = t->renter;
	OK(escrow_rental_key(c->it.target, t, &e_));
	c->it.amount = u256_from_u64(amount);
	c->it.max_fee = u256_from_u64(max_fee);
	randombytes_buf(rnd, sizeof rnd);
	memcpy(&n, rnd, 8);
	c->it.nonce = u256_from_u64(n);
	c->it.deadline = chain_head_time(&F.rpc) + 600;
	c->body_amount = c->it.amount;
	if (k != RELAY_STOP || max_fee) {
		u256 v;
		assert_int_equal(u256_add(&v, &c->it.amount, &c->it.max_fee), 0);
		c->p.value = v;
		c->p.deadline = u256_from_u64(c->it.deadline);
		OK(escrow_permit_sign_for(&F.rpc, c->p.sig65, CHAIN, &F.usdc, relay, &c->p.value, &c->p.deadline, key,
					  &e_));
		c->with_permit = true;
	}
	OK(relay_intent_sign(c->sig, chain, relay, &c->it, key, &e_));
}

/* POSTs a crafted intent; returns the HTTP status, *out the answer. */
static long post_crafted(const struct crafted *c, json_t **out)
{
	char renter[ADDRESS_STR_MAX], n[U256_DEC_MAX], mf[U256_DEC_MAX], am[U256_DEC_MAX], sh[133], terms[1030];
	uint8_t enc[ESCROW_TERMS_SIZE];
	json_t *b;
	char *text;
	long code;

	address_to_checksum(renter, &c->it.renter);
	u256_to_dec(n, &c->it.nonce);
	u256_to_dec(mf, &c->it.max_fee);
	u256_to_dec(am, &c->body_amount);
	hex_encode_0x(sh, c->sig, 65);
	OK(escrow_terms_encode(enc, &c->t, &e_));
	hex_encode_0x(terms, enc, sizeof enc);
	b = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "kind", relay_kind_name(c->it.kind), "renter",
		      c->renter_override ? c->renter_override : renter, "nonce", n, "max_fee", mf, "deadline",
		      (json_int_t)c->it.deadline, "signature", sh, "terms", terms);
	if (c->it.kind != RELAY_STOP)
		json_object_set_new(b, "amount", json_string(am));
	if (c->with_permit) {
		char pv[U256_DEC_MAX], pd[U256_DEC_MAX], ps[133];
		u256_to_dec(pv, &c->p.value);
		u256_to_dec(pd, &c->p.deadline);
		hex_encode_0x(ps, c->p.sig65, 65);
		json_object_set_new(b, "permit", json_pack("{s:s, s:s, s:s}", "value", pv, "deadline", pd, "signature", ps));
	}
	text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	code = http_json(out, "POST", "/relay/intents", text, NULL);
	free(text);
	return code;
}

/* Refused with `status` and `code`, and nothing moved (no relayer transaction, no token). */
static void expect_refused(const struct crafted *c, long status, const char *code, const struct eth_address *relayer,
			   const struct eth_address *renter)
{
	uint64_t n0 = tx_count(relayer);
	u256 b0 = chain_balance(&F.rpc, &F.usdc, renter), b1;
	json_t *o = NULL;
	long got = post_crafted(c, &o);
	const char *cd = json_string_value(json_object_get(json_object_get(o, "error"), "code"));

	if (got != status || !cd || strcmp(cd, code) != 0)
		fail_msg("want %ld %s, got %ld %s", status, code, got, o ? json_dumps(o, 0) : "(no body)");
	json_decref(o);
	usleep(300000); /* a worker round */
	assert_int_equal(tx_count(relayer), n0);
	b1 = chain_balance(&F.rpc, &F.usdc, renter);
	assert_int_equal(u256_cmp(&b0, &b1), 0);
}

/* The Terms of a rental, from its open transaction's Opened event. */
static void terms_of_tx(struct escrow_terms *t, const char *tx_hex)
{
	struct rpc_receipt r = { 0 };
	struct escrow_event ev;
	uint8_t h[32];

	OK(hex_decode_exact(h, 32, tx_hex, &e_));
	OK(rpc_get_receipt(&F.rpc, &r, h, &e_));
	OK(escrow_receipt_event(&ev, &r, &F.escrow, ESCROW_EV_OPENED, &e_));
	*t = ev.opened.terms;
	rpc_receipt_release(&r);
}

static u256 deposited_of(const struct escrow_terms *t)
{
	struct escrow_word w;
	u256 word;

	OK(escrow_rental_word(&F.rpc, &word, &F.escrow, t, &e_));
	escrow_word_unpack(&w, &word);
	return w.deposited;
}

/* Kill -9 of the server between accepting an intent and its confirmation: after the restart it confirms once. */
static void relay_crash(const struct escrow_terms *t, const uint8_t key[32], const struct eth_address *relay,
			const struct eth_address *relayer, bool wait_pending, u256 *fees, u256 *gas_wei)
{
	struct crafted c;
	json_t *o = NULL;
	uint64_t id, n0 = tx_count(relayer);
	u256 d0 = deposited_of(t), d1, want, x;

	chain_rpc(&F.rpc, "evm_setAutomine", "[false]");
	craft(&c, RELAY_EXTEND, t, 100000, 20000000, key, relay, CHAIN);
	assert_int_equal(post_crafted(&c, &o), 202);
	OK(json_get_id(&id, o, "id", &e_));
	json_decref(o);
	if (wait_pending)
		json_decref(relay_wait(id, "pending", false)); /* sent, in the node's pool, not mined */
	server_child_stop(&F.server, SIGKILL);
	relay_server_start();
	o = relay_wait(id, "confirmed", true);
	chain_rpc(&F.rpc, "evm_setAutomine", "[true]");
	assert_int_equal(tx_count(relayer), n0 + 1); /* sent exactly once */
	d1 = deposited_of(t);
	assert_int_equal(u256_add(&want, &d0, &c.it.amount), 0);
	assert_int_equal(u256_cmp(&d1, &want), 0); /* extended exactly once */
	x = json_units(o, "fee");
	assert_int_equal(u256_add(fees, fees, &x), 0);
	x = json_units(o, "gas_cost_wei");
	assert_int_equal(u256_add(gas_wei, gas_wei, &x), 0);
	json_decref(o);
}

static void add_relayed(u256 *fees, u256 *gas_wei, const json_t *result)
{
	const json_t *rel = json_object_get(result, "relayed");
	uint64_t id;
	json_t *v;
	u256 x;

	OK(json_get_id(&id, rel, "intent_id", &e_));
	x = json_units(rel, "fee");
	assert_int_equal(u256_add(fees, fees, &x), 0);
	v = relay_view(id);
	assert_string_equal(json_string_value(json_object_get(v, "state")), "confirmed");
	x = json_units(v, "gas_cost_wei");
	assert_int_equal(u256_add(gas_wei, gas_wei, &x), 0);
	json_decref(v);
}

/*
 * A renter wallet with exactly 0 ETH and only dUSDC rents through the relayer (permit + intent), gets SSH
 * access, extends and stops, all with --gasless; every balance is exact to the unit, the relayer's gas is
 * covered by its fees, the hostile intents are refused with their reasons and move nothing, and a kill -9
 * of the server between accepting and confirming loses nothing and sends nothing twice.
 */
static void test_gasless(void **state)
{
	const char *why = NULL;
	char out[32768], path[256], priv[256], pub[1024], pubfile[256], agent_url[64], log[256], hostkey[200];
	uint8_t key[32], other[32], relayer_key[32];
	struct eth_address renter, relayer, relay, native = { { 0 } };
	struct escrow_terms t;
	struct crafted c;
	struct buf cd;
	json_t *j;
	u256 minted = u256_from_u64(100000000), fees = u256_from_u64(0), gas_wei = u256_from_u64(0), x, y;
	u256 r0, rel_usdc0, rel_eth0, payout0, fee0, deposits, refund, provider, platform;
	uint64_t id;
	struct err e = { 0 };
	(void)state;

	if (!sshd_available(&why)) {
		print_message("skipped: %s\n", why ? why : "no sshd");
		skip();
	}
	OK(secp_seckey_generate(key, &e_));
	OK(secp_address(&renter, key, &e_));
	OK(secp_seckey_generate(other, &e_));
	anvil_account(2, relayer_key, &relayer);
	import_key(key, "gasless");
	import_key(relayer_key, "relayer");
	buf_init(&cd, 4096);
	OK(erc20_cd_mint(&cd, &renter, &minted, &e_));
	send_tx(F.deployer_key, &F.usdc, NULL, &cd);
	buf_reset(&cd);
	OK(escrow_cd_getter(&cd, "relay", &e_));
	OK(escrow_call_address(&F.rpc, &relay, &F.escrow, &cd, &e_));
	buf_release(&cd);
	x = chain_balance(&F.rpc, &native, &renter);
	assert_true(u256_is_zero(&x)); /* not one wei of gas coin */

	server_stop();
	relay_server_start();
	agent_up(agent_url, hostkey, log);
	snprintf(priv, sizeof priv, "%s/id_gasless", F.data_dir);
	if (sshd_keygen(pub, sizeof pub, priv, &e))
		fail_msg("ssh-keygen: %s", e.msg);
	snprintf(pubfile, sizeof pubfile, "%s/id_gasless.pub", F.data_dir);
	r0 = chain_balance(&F.rpc, &F.usdc, &renter);
	rel_usdc0 = chain_balance(&F.rpc, &F.usdc, &relayer);
	OK(rpc_get_balance(&F.rpc, &rel_eth0, &relayer, "latest", &e_));
	payout0 = chain_balance(&F.rpc, &F.usdc, &F.payout);
	fee0 = chain_fees(&F.rpc, &F.escrow, &F.usdc);

	/* Without --gasless the wallet is told it has no gas, and that this server relays. */
	offer_file(path, sizeof path, &F.usdc, chain_head_time(&F.rpc) + 7200, 600);
	assert_int_not_equal(run(out, sizeof out, "rent --offer-file %s --hours 1 --yes --wallet gasless --server %s",
				 path, F.base), 0);
	if (!strstr(out, "add --gasless"))
		fail_msg("no --gasless hint: %s", out);

	/* rent --gasless: figures first, then SSH access */
	usleep(500000);
	int code = run(out, sizeof out, "rent --offer-file %s --hours 1 --gasless --server %s --yes --wallet gasless "
		       "--ssh-key %s --agent %s --wait-access 60 --json", path, F.base, pubfile, agent_url);
	if (code != 0)
		fail_msg("rent --gasless: exit %d: %s (agent log %s)", code, out, log);
	if (!strstr(out, "relayer:   fee at most") || !strstr(out, "you pay no gas coin") || !strstr(out, "$"))
		fail_msg("rent --gasless did not show the relayer's maximum fee: %s", out);
	j = json_in(out);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "payment")), "gasless");
	OK(json_get_id(&id, j, "rental_id", &e_));
	deposits = json_units(j, "deposit");
	add_relayed(&fees, &gas_wei, j);
	terms_of_tx(&t, json_string_value(json_object_get(j, "tx")));
	assert_true(address_equal(&t.renter, &renter));
	assert_non_null(json_object_get(j, "access"));
	json_decref(j);
	code = run(out, sizeof out, "ssh %" PRIu64 " --agent %s -i %s -o BatchMode=yes -- echo gasless-ok", id, agent_url,
		   priv);
	if (code != 0 || !strstr(out, "gasless-ok"))
		fail_msg("ssh into the gasless rental: exit %d: %s", code, out);

	/* extend --gasless */
	code = run(out, sizeof out, "extend %" PRIu64 " --hours 1 --gasless --server %s --yes --wallet gasless --json", id,
		   F.base);
	if (code != 0)
		fail_msg("extend --gasless: exit %d: %s", code, out);
	j = json_in(out);
	assert_non_null(j);
	x = json_units(j, "added");
	assert_int_equal(u256_add(&deposits, &deposits, &x), 0);
	add_relayed(&fees, &gas_wei, j);
	json_decref(j);

	/* Malformed requests: 400 naming the field; and GET of an unknown or malformed id. */
	{
		static const struct { const char *body, *field; } bad[] = {
			{ "{\"kind\":\"claim\"}", "kind" },
			{ "{\"kind\":\"stop\",\"renter\":\"0x12\"}", "renter" },
			{ "{\"kind\":\"stop\",\"renter\":\"0x000000000000000000000000000000000000dead\",\"nonce\":\"-1\"}", "nonce" },
			{ "{\"kind\":\"stop\",\"renter\":\"0x000000000000000000000000000000000000dead\",\"nonce\":\"1\","
			  "\"max_fee\":\"5\",\"amount\":\"3\"}", "amount" },
			{ "{\"kind\":\"extend\",\"renter\":\"0x000000000000000000000000000000000000dead\",\"nonce\":\"1\","
			  "\"max_fee\":\"5\",\"amount\":\"3\",\"deadline\":1,\"signature\":\"0x1234\"}", "signature" },
			{ "{\"kind\":\"extend\",\"renter\":\"0x000000000000000000000000000000000000dead\",\"nonce\":\"1\","
			  "\"max_fee\":\"5\",\"amount\":\"3\",\"deadline\":1,\"signature\":\"0x"
			  "1111111111111111111111111111111111111111111111111111111111111111"
			  "1111111111111111111111111111111111111111111111111111111111111111" "11\",\"terms\":\"0xab\"}", "terms" },
		};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			json_t *o = NULL;
			long st = http_json(&o, "POST", "/relay/intents", bad[i].body, NULL);
			const char *fld = json_string_value(json_object_get(json_object_get(o, "error"), "field"));
			if (st != 400 || !fld || strcmp(fld, bad[i].field) != 0)
				fail_msg("bad body %zu: want 400 on %s, got %ld %s", i, bad[i].field, st, o ? json_dumps(o, 0) : "");
			json_decref(o);
		}
		json_t *o = NULL;
		assert_int_equal(http_json(&o, "GET", "/relay/intents/999999", NULL, NULL), 404);
		json_decref(o);
		assert_int_equal(http_json(&o, "GET", "/relay/intents/01", NULL, NULL), 400);
		json_decref(o);
	}

	/* Hostile intents: each refused with its reason, nothing moves. */
	craft(&c, RELAY_EXTEND, &t, 100000, 20000000, other, &relay, CHAIN); /* another key signed it */
	expect_refused(&c, 401, "bad_signature", &relayer, &renter);
	craft(&c, RELAY_EXTEND, &t, 100000, 20000000, key, &relay, 1); /* for another chain */
	expect_refused(&c, 401, "bad_signature", &relayer, &renter);
	{
		struct eth_address elsewhere;
		memset(elsewhere.b, 0x42, 20); /* for another escrow's relay */
		craft(&c, RELAY_EXTEND, &t, 100000, 20000000, key, &elsewhere, CHAIN);
		c.with_permit = false;
		expect_refused(&c, 401, "bad_signature", &relayer, &renter);
	}
	craft(&c, RELAY_EXTEND, &t, 100000, 20000000, key, &relay, CHAIN);
	c.it.deadline = chain_head_time(&F.rpc) - 1; /* expired (re-signed, so only the time is wrong) */
	OK(relay_intent_sign(c.sig, CHAIN, &relay, &c.it, key, &e_));
	expect_refused(&c, 422, "deadline_too_soon", &relayer, &renter);
	craft(&c, RELAY_EXTEND, &t, 100000, 1, key, &relay, CHAIN); /* the relayer's fee is above the signed maximum */
	expect_refused(&c, 422, "fee_too_low", &relayer, &renter);
	craft(&c, RELAY_EXTEND, &t, 100000, 20000000, key, &relay, CHAIN);
	c.body_amount = u256_from_u64(100001); /* the amount changed after signing */
	expect_refused(&c, 401, "bad_signature", &relayer, &renter);
	{
		struct escrow_terms redirected = t;
		char rel[ADDRESS_STR_MAX];
		redirected.renter = relayer; /* the refund would go to the relayer */
		craft(&c, RELAY_STOP, &t, 0, 20000000, key, &relay, CHAIN);
		c.t = redirected;
		expect_refused(&c, 403, "not_renter", &relayer, &renter);
		address_to_checksum(rel, &relayer);
		c.renter_override = rel; /* and naming the relayer as the renter: not the renter's signature */
		expect_refused(&c, 401, "bad_signature", &relayer, &renter);
	}
	/* A replay of an intent that ran: the same POST answers its row (confirmed), nothing is sent again;
	 * another intent on the same nonce is refused. */
	{
		uint64_t rid, n0;
		json_t *o = NULL;
		craft(&c, RELAY_EXTEND, &t, 50000, 20000000, key, &relay, CHAIN);
		assert_int_equal(post_crafted(&c, &o), 202);
		OK(json_get_id(&rid, o, "id", &e_));
		json_decref(o);
		json_decref(relay_wait(rid, "confirmed", false));
		x = json_units(relay_view(rid), "fee");
		assert_int_equal(u256_add(&fees, &fees, &x), 0);
		json_t *v = relay_view(rid);
		x = json_units(v, "gas_cost_wei");
		json_decref(v);
		assert_int_equal(u256_add(&gas_wei, &gas_wei, &x), 0);
		x = c.it.amount;
		assert_int_equal(u256_add(&deposits, &deposits, &x), 0);
		n0 = tx_count(&relayer);
		assert_int_equal(post_crafted(&c, &o), 200);
		assert_string_equal(json_string_value(json_object_get(o, "state")), "confirmed");
		json_decref(o);
		usleep(300000);
		assert_int_equal(tx_count(&relayer), n0);
		c.it.amount = u256_from_u64(60000);
		c.body_amount = c.it.amount;
		OK(relay_intent_sign(c.sig, CHAIN, &relay, &c.it, key, &e_));
		expect_refused(&c, 409, "nonce_used", &relayer, &renter);
	}

	/* kill -9 with the transaction in the pool, and right after the 202 */
	relay_crash(&t, key, &relay, &relayer, true, &fees, &gas_wei);
	x = u256_from_u64(100000);
	assert_int_equal(u256_add(&deposits, &deposits, &x), 0);
	relay_crash(&t, key, &relay, &relayer, false, &fees, &gas_wei);
	assert_int_equal(u256_add(&deposits, &deposits, &x), 0);

	/* stop --gasless: the refund arrives, then the fee is taken from it */
	code = run(out, sizeof out, "stop %" PRIu64 " --gasless --server %s --yes --wallet gasless --json", id, F.base);
	if (code != 0)
		fail_msg("stop --gasless: exit %d: %s", code, out);
	j = json_in(out);
	assert_non_null(j);
	refund = json_units(j, "refund");
	provider = json_units(j, "provider");
	platform = json_units(j, "fee");
	add_relayed(&fees, &gas_wei, j);
	json_decref(j);

	/* Every balance, to the unit. */
	assert_int_equal(u256_add(&x, &refund, &provider), 0);
	assert_int_equal(u256_add(&x, &x, &platform), 0);
	assert_int_equal(u256_cmp(&x, &deposits), 0); /* refund + provider + fee == all deposits */
	assert_int_equal(u256_sub(&y, &r0, &deposits), 0);
	assert_int_equal(u256_add(&y, &y, &refund), 0);
	assert_int_equal(u256_sub(&y, &y, &fees), 0);
	x = chain_balance(&F.rpc, &F.usdc, &renter);
	assert_int_equal(u256_cmp(&x, &y), 0); /* renter: minted - deposits + refund - relayer fees */
	x = chain_balance(&F.rpc, &F.usdc, &relayer);
	assert_int_equal(u256_sub(&x, &x, &rel_usdc0), 0);
	assert_int_equal(u256_cmp(&x, &fees), 0); /* relayer: exactly its fees */
	x = chain_balance(&F.rpc, &F.usdc, &F.payout);
	assert_int_equal(u256_sub(&x, &x, &payout0), 0);
	assert_int_equal(u256_cmp(&x, &provider), 0);
	x = chain_fees(&F.rpc, &F.escrow, &F.usdc);
	assert_int_equal(u256_sub(&x, &x, &fee0), 0);
	assert_int_equal(u256_cmp(&x, &platform), 0);
	x = chain_balance(&F.rpc, &native, &renter);
	assert_true(u256_is_zero(&x));
	assert_int_equal(tx_count(&renter), 0); /* the renter never sent a transaction */
	/* The relayer's gas, exactly what the intents report, and covered by its fees at the prices it used
	 * (dUSDC at $1, ETH at $3000): fees * 1e12 / 3000 >= gas wei. */
	OK(rpc_get_balance(&F.rpc, &x, &relayer, "latest", &e_));
	assert_int_equal(u256_sub(&x, &rel_eth0, &x), 0);
	assert_int_equal(u256_cmp(&x, &gas_wei), 0);
	{
		u256 scale = u256_from_u64(1000000000000ull), price = u256_from_u64(3000), worth;
		assert_int_equal(u256_mul(&worth, &fees, &scale), 0);
		assert_int_equal(u256_divmod(&worth, NULL, &worth, &price), 0);
		char a[U256_DEC_MAX], b[U256_DEC_MAX];
		u256_to_dec(a, &worth);
		u256_to_dec(b, &gas_wei);
		print_message("gasless: relayer fees worth %s wei, its gas cost %s wei\n", a, b);
		assert_true(u256_cmp(&worth, &gas_wei) >= 0);
	}
	agent_stop();
	sshd_stop(&F.sshd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deploy),
		cmocka_unit_test(test_rent_usdc_permit),
		cmocka_unit_test(test_rent_usdt_approve),
		cmocka_unit_test(test_rent_native),
		cmocka_unit_test(test_extend),
		cmocka_unit_test(test_dispute),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_server_flow),
		cmocka_unit_test(test_agent_access),
		cmocka_unit_test(test_gasless),
	};
	return cmocka_run_group_tests_name("cli_rent", tests, setup, teardown);
}
