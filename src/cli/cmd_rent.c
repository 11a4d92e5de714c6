/*
 * cmd_rent.c — `flopmarket rent`: open a rental on chain from a signed offer.
 *
 *   flopmarket rent <offer_hash> | --offer-file FILE  (--hours N | --until-stopped)
 *                   [--deposit AMOUNT] [--token SYMBOL] [--ssh-key FILE] [--wallet NAME]
 *                   [--server URL] [--agent URL] [--wait-access SECS] [--yes]
 *
 * The offer comes from the server (GET /offers/{hash}) or from a JSON file holding the offer view or
 * the POST /offers body ({"offer": {...}, "signature": "0x.."}). Before anything is signed it checks,
 * with messages a user can act on: the network (session.h), the offer's expiry against the chain's
 * clock, the deposit against the offer's minimum and maximum, the token balance against the deposit,
 * and the gas coin balance against the estimated gas times the max fee per gas. It shows rate, fee,
 * maximum cost and gas and asks to confirm (--yes skips). ERC-20 tokens with EIP-2612 are paid with
 * openWithPermit (one transaction), others with approve + open, the native coin with msg.value.
 * The rental's terms (from the `Opened` event) are kept locally for status/extend/stop (session.h).
 * With a server, the SSH public key is then delivered and the access details awaited (docs/agent.md).
 */
#include "core/file.h"
#include "cli/cli.h"
#include "cli/rent_access.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/mirror.h"
#include "eth/eip191.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RENT_OFFER_FILE_MAX ((size_t)64 << 10) /* offer JSON file cap */
#define RENT_HOURS_MAX 8760                     /* one year */
#define RENT_TX_TIMEOUT_MS 120000u
#define RENT_GAS_PERMIT 350000u                 /* fallbacks when eth_estimateGas cannot run yet */
#define RENT_GAS_APPROVE 80000u
#define RENT_GAS_OPEN 300000u
#define RENT_ALIVE_TIMEOUT_MS 5000L            /* the agent must answer /healthz within this */

struct rent_args {
	const char *offer_ref;   /* offer hash (server) */
	const char *offer_file;  /* or a JSON file */
	uint64_t hours;          /* --hours */
	bool until_stopped;      /* --until-stopped */
	const char *deposit;     /* --deposit (human amount) */
	const char *token;       /* --token symbol expected */
	const char *ssh_key;     /* --ssh-key public key file */
	const char *wallet;
	const char *server;
	const char *agent;       /* --agent URL (else from the server's host record) */
	uint64_t wait_access_s;
	bool yes;
};

static int rent_usage(void)
{
	fprintf(stderr,
		"usage: flopmarket rent (<offer_hash> | --offer-file FILE) (--hours N | --until-stopped)\n"
		"                       [--deposit AMOUNT] [--token SYMBOL] [--ssh-key FILE] [--wallet NAME]\n"
		"                       [--server URL] [--agent URL] [--wait-access SECS] [--yes]\n");
	return EXIT_USAGE;
}

static int parse_u64_arg(uint64_t *out, const char *flag, const char *v, uint64_t max)
{
	struct err e = { 0 };

	if (cli_parse_uint(out, flag, v, 1, max, &e)) {
		fprintf(stderr, "flopmarket: %s\n", e.msg);
		return EXIT_INPUT;
	}
	return EXIT_OK;
}

static int rent_parse(struct rent_args *a, int argc, char **argv, const struct cfg *cfg)
{
	int rc;
	memset(a, 0, sizeof *a);
	a->server = cfg_get(cfg, "server_url");
	a->wait_access_s = 60;
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--yes") == 0 || strcmp(f, "-y") == 0) {
			a->yes = true;
		} else if (strcmp(f, "--until-stopped") == 0) {
			a->until_stopped = true;
		} else if (strcmp(f, "--hours") == 0) {
			if ((rc = parse_u64_arg(&a->hours, "--hours", v, RENT_HOURS_MAX)))
				return rc;
			i++;
		} else if (strcmp(f, "--wait-access") == 0) {
			if ((rc = parse_u64_arg(&a->wait_access_s, "--wait-access", v, 3600)))
				return rc;
			i++;
		} else if (f[0] == '-' && f[1] == '-' && v) {
			if (strcmp(f, "--deposit") == 0) a->deposit = v;
			else if (strcmp(f, "--token") == 0) a->token = v;
			else if (strcmp(f, "--ssh-key") == 0) a->ssh_key = v;
			else if (strcmp(f, "--wallet") == 0) a->wallet = v;
			else if (strcmp(f, "--server") == 0) a->server = v;
			else if (strcmp(f, "--agent") == 0) a->agent = v;
			else if (strcmp(f, "--offer-file") == 0) a->offer_file = v;
			else return rent_usage();
			i++;
		} else if (f[0] != '-' && !a->offer_ref) {
			a->offer_ref = f;
		} else {
			return rent_usage();
		}
	}
	if (!a->offer_ref == !a->offer_file || (a->hours != 0) == a->until_stopped)
		return rent_usage();
	if (a->until_stopped && !a->deposit) {
		fprintf(stderr, "flopmarket: --until-stopped needs --deposit AMOUNT (what you put in escrow)\n");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Reads the offer and its signature from an offer view / POST body. */
static int offer_from_json(struct escrow_offer *o, uint8_t sig[65], uint8_t offer_hash[32], bool *has_hash,
			   const json_t *j, struct err *e)
{
	const json_t *of;
	const char *s;
	u256 v;
	uint64_t x;
	bool b;
	int rc;
	struct escrow_offer t = { 0 };

	*has_hash = false;
	if ((rc = json_get(&of, j, "offer", e)))
		return rc;
#define ADDR(field, dst)                                                                  \
	if ((rc = json_get_str(&s, of, field, 64, e)) || (rc = address_parse(dst, s, e))) { \
		err_wrap(e, "offer." field);                                              \
		return rc;                                                                \
	}
#define U32(field, dst)                                                                   \
	if ((rc = json_get_u64(&x, of, field, e)) || x > UINT32_MAX) {                    \
		return rc ? (err_wrap(e, "offer"), rc)                                    \
			  : err_set(e, ERR_RANGE, "offer." field ": above 2^32 - 1");     \
	}                                                                                 \
	dst = (uint32_t)x;
	ADDR("provider", &t.provider)
	ADDR("payout", &t.payout)
	ADDR("token", &t.token)
	ADDR("arbiter", &t.arbiter)
	if ((rc = json_get_u256(&v, of, "rate", e)))
		return err_wrap(e, "offer"), rc;
	t.rate = v;
	U32("minSecs", t.min_secs)
	U32("maxSecs", t.max_secs)
	U32("noticeSecs", t.notice_secs)
	U32("graceSecs", t.grace_secs)
	U32("disputeSecs", t.dispute_secs)
#undef U32
	if ((rc = json_get_bool(&b, of, "interruptible", e)))
		return err_wrap(e, "offer"), rc;
	t.interruptible = b;
	if ((rc = json_get_u64(&x, of, "capacity", e)) || x == 0 || x > UINT16_MAX)
		return rc ? (err_wrap(e, "offer"), rc) : err_set(e, ERR_RANGE, "offer.capacity: not 1..65535");
	t.capacity = (uint16_t)x;
	if ((rc = json_get_u64(&x, of, "maxFeeBps", e)) || x > ESCROW_MAX_FEE_BPS)
		return rc ? (err_wrap(e, "offer"), rc) : err_set(e, ERR_RANGE, "offer.maxFeeBps: above 1500");
	t.max_fee_bps = (uint16_t)x;
	ADDR("monitor", &t.monitor)
	if ((rc = json_get_bytes_exact(t.spec_hash, 32, of, "specHash", e)) ||
	    (rc = json_get_u64(&t.expiry, of, "expiry", e)) || (rc = json_get_id(&t.nonce, of, "nonce", e)))
		return err_wrap(e, "offer"), rc;
#undef ADDR
	if ((rc = json_get_bytes_exact(sig, 65, j, "signature", e)))
		return rc;
	if (json_get_bytes_exact(offer_hash, 32, j, "offer_hash", NULL) == 0)
		*has_hash = true;
	*o = t;
	return 0;
}

/* A live offer whose hash starts with `prefix` (as `search` prints it); it must be unique. */
static int offer_by_prefix(json_t **out, struct sc *c, const char *prefix, struct err *e)
{
	json_t *r = NULL, *hit = NULL;
	const json_t *list;
	size_t n = strlen(prefix), hits = 0;
	int rc;

	if (n < 6 || strncmp(prefix, "0x", 2) != 0 || strspn(prefix + 2, "0123456789abcdefABCDEF") != n - 2)
		return err_set(e, ERR_INVALID, "offer: '%.70s' is not an offer hash (0x + at least 4 hex digits)",
			       prefix);
	if ((rc = sc_request(c, &r, NULL, "GET", "/offers?limit=100", NULL, e)) ||
	    (rc = json_get(&list, r, "offers", e)))
		goto out;
	for (size_t i = 0; i < json_array_size(list); i++) {
		const char *h = json_string_value(json_object_get(json_array_get(list, i), "offer_hash"));
		if (h && strncasecmp(h, prefix, n) == 0) {
			hit = json_array_get(list, i);
			hits++;
		}
	}
	if (hits != 1) {
		rc = err_set(e, hits ? ERR_INVALID : ERR_NOT_FOUND, hits ? "offer: prefix %s matches %zu live offers; "
			     "give more digits" : "offer: no live offer starts with %s%.0zu", prefix, hits);
		goto out;
	}
	*out = json_incref(hit);
out:
	json_decref(r);
	return rc;
}

static int load_offer_file(json_t **out, const char *path, struct err *e)
{
	struct buf text;
	int rc;

	buf_init(&text, RENT_OFFER_FILE_MAX);
	if ((rc = file_read(&text, path, e))) {
		err_wrap(e, "--offer-file");
	} else if ((rc = json_parse(out, buf_cstr(&text), text.len, RENT_OFFER_FILE_MAX, e))) {
		err_wrap(e, "--offer-file %s", path);
	}
	buf_release(&text);
	return rc;
}

/* Asks "Proceed? [y/N]" on the terminal. */
static bool confirm(void)
{
	char line[16];
	FILE *tty = fopen("/dev/tty", "r+");
	bool yes;
	if (!tty)
		return false;
	fprintf(tty, "Proceed? [y/N] ");
	fflush(tty);
	yes = fgets(line, sizeof line, tty) && (line[0] == 'y' || line[0] == 'Y');
	fclose(tty);
	return yes;
}

static void fmt_gas(char *out, size_t cap, const char *sym, const u256 *wei)
{
	char num[U256_DEC_MAX + 2];
	u256_format_units(num, wei, 18);
	snprintf(out, cap, "%s %s", num, sym);
}

static void fmt_secs(char *out, size_t cap, uint64_t s)
{
	if (s >= 86400)
		snprintf(out, cap, "%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m", s / 86400, s / 3600 % 24, s / 60 % 60);
	else if (s >= 3600)
		snprintf(out, cap, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
}

int cmd_rent(int argc, char **argv, struct cfg *cfg)
{
	struct rent_args a;
	struct cli_session s;
	struct err e = { 0 };
	struct escrow_offer o;
	struct cli_token tok;
	struct rpc_block head;
	struct rpc_receipt rcpt = { 0 };
	struct escrow_event ev;
	struct sc sc = { 0 }, agent = { 0 };
	char key_line[CLI_SSH_KEY_LINE_MAX];
	bool have_agent = false;
	json_t *offer_json = NULL;
	uint8_t sig[65], offer_hash[32], permit_sig[65];
	bool has_hash, use_permit = false;
	struct escrow_permit_domain pd;
	u256 deposit, bal, gas_bal, max_fee, tip, gas_cost, need, max_cost, deadline;
	uint64_t gas = 0, secs;
	struct buf cd;
	char t1[160], t2[160], t3[160], t4[160];
	const char *native;
	int rc, status = EXIT_OK;

	if ((rc = rent_parse(&a, argc, argv, cfg)))
		return rc;
	buf_init(&cd, 1 << 16);
	if ((rc = cli_session_open(&s, cfg, a.wallet, SESSION_WALLET_UNLOCK, &e)))
		return cli_fail(rc, &e);
	native = cli_native_symbol(s.chain_id);
	/* 1. The offer. */
	if (a.offer_file) {
		rc = load_offer_file(&offer_json, a.offer_file, &e);
	} else {
		char path[160], esc[100];
		if (!a.server) {
			rc = err_set(&e, ERR_INVALID, "renting by offer hash needs the server (--server URL or "
				     "server_url); or use --offer-file FILE");
		} else if (!(rc = sc_init(&sc, a.server, &e)) && !(rc = sc_escape(esc, sizeof esc, a.offer_ref, &e))) {
			if (strlen(a.offer_ref) < 66)
				rc = offer_by_prefix(&offer_json, &sc, a.offer_ref, &e);
			else {
				snprintf(path, sizeof path, "/offers/%s", esc);
				rc = sc_request(&sc, &offer_json, NULL, "GET", path, NULL, &e);
			}
		}
	}
	if (rc || (rc = offer_from_json(&o, sig, offer_hash, &has_hash, offer_json, &e)))
		goto fail;
	if (!has_hash && (rc = escrow_offer_digest(offer_hash, s.chain_id, &s.escrow, &o, &e)))
		goto fail;
	{
		/* The server's listing status: a withdrawn or expired offer is not rented. */
		const char *st = json_string_value(json_object_get(offer_json, "status"));
		if (st && strcmp(st, "active") != 0) {
			bool expired = strcmp(st, "expired") == 0;
			rc = err_set(&e, ERR_STATE, "offer %s: the listing is %.16s; search for a live offer",
				     expired ? "expired" : "unavailable", st);
			goto fail;
		}
	}
	if (a.server && !sc.curl && (rc = sc_init(&sc, a.server, &e)))
		goto fail;
	if ((rc = cli_token_info(&tok, &s, &o.token, &e)))
		goto fail;
	if (a.token && strcasecmp(a.token, tok.symbol) != 0 &&
	    !(tolower((unsigned char)tok.symbol[0]) == 'd' && strcasecmp(a.token, tok.symbol + 1) == 0)) {
		rc = err_set(&e, ERR_INVALID, "--token %s: this offer is priced in %s", a.token, tok.symbol);
		goto fail;
	}
	if ((rc = rpc_get_block(&s.rpc, &head, "latest", &e)))
		goto fail;
	/* 2. Checks a user can act on. */
	if (o.expiry <= head.timestamp + 15) {
		rc = err_set(&e, ERR_STATE, "offer expired: it was valid until %" PRIu64 " and the chain's time is %"
			     PRIu64 "; search for a fresh offer", o.expiry, head.timestamp);
		goto fail;
	}
	if (a.deposit) {
		if ((rc = u256_parse_units(&deposit, a.deposit, tok.decimals, &e))) {
			err_wrap(&e, "--deposit");
			goto fail;
		}
	} else if ((rc = cli_deposit_for(&deposit, &o.rate, a.hours * 3600, &e))) {
		goto fail;
	}
	secs = cli_secs_bought(&deposit, &o.rate);
	if (secs < o.min_secs) {
		u256 min_dep;
		cli_deposit_for(&min_dep, &o.rate, o.min_secs, NULL);
		cli_token_format(t1, sizeof t1, &tok, &deposit);
		cli_token_format(t2, sizeof t2, &tok, &min_dep);
		rc = err_set(&e, ERR_INVALID, "deposit below minimum: %s buys %" PRIu64 " s but the offer's minimum "
			     "is %" PRIu32 " s (deposit at least %s)", t1, secs, o.min_secs, t2);
		goto fail;
	}
	if (secs > o.max_secs) {
		rc = err_set(&e, ERR_INVALID, "deposit above maximum: it buys %" PRIu64 " s but the offer allows "
			     "at most %" PRIu32 " s (%" PRIu32 " h)", secs, o.max_secs, o.max_secs / 3600);
		goto fail;
	}
	if ((rc = escrow_token_balance(&s.rpc, &bal, &o.token, &s.address, &e)) ||
	    (rc = rpc_get_balance(&s.rpc, &gas_bal, &s.address, "latest", &e)) ||
	    (rc = rpc_suggest_fees(&s.rpc, &max_fee, &tip, &e)))
		goto fail;
	if (u256_cmp(&bal, &deposit) < 0) {
		cli_token_format(t1, sizeof t1, &tok, &bal);
		cli_token_format(t2, sizeof t2, &tok, &deposit);
		rc = err_set(&e, ERR_STATE, "not enough %s: you hold %s but the deposit is %s", tok.symbol, t1, t2);
		goto fail;
	}
	/* The SSH key and the provider's agent, checked before anything is signed (issue 8.8, 8.12). */
	if (a.ssh_key && (rc = cli_ssh_key_read(key_line, a.ssh_key, &e)))
		goto fail;
	{
		uint64_t mid = 0;
		json_get_id(&mid, offer_json, "machine_id", NULL);
		struct err ae = { 0 };
		if (cli_agent_connect(&agent, a.agent, &sc, mid, &ae) == 0) {
			have_agent = true;
		} else if (a.ssh_key) {
			rc = err_set(&e, ERR_STATE, "%s; nothing was paid", ae.msg);
			goto fail;
		}
	}
	/* 3. The calldata and a gas estimate. */
	deadline = u256_from_u64(head.timestamp + 3600);
	if (!tok.native && escrow_permit_domain_read(&s.rpc, &pd, s.chain_id, &o.token, &s.address, NULL) == 0) {
		if ((rc = escrow_permit_sign_for(&s.rpc, permit_sig, s.chain_id, &o.token, &s.escrow, &deposit,
						 &deadline, s.seckey, &e)) ||
		    (rc = escrow_cd_open_with_permit(&cd, &o, sig, sizeof sig, &deposit, &deadline, permit_sig, &e)))
			goto fail;
		use_permit = true;
	} else if ((rc = escrow_cd_open(&cd, &o, sig, sizeof sig, &deposit, &e))) {
		goto fail;
	}
	{
		struct rpc_call_msg m = { .has_from = true, .from = s.address, .has_to = true, .to = s.escrow,
					  .data = cd.data, .data_len = cd.len };
		if (tok.native) {
			m.has_value = true;
			m.value = deposit;
		}
		if (tok.native || use_permit) {
			/* A revert here names the offer's problem before anything is signed. */
			if (rpc_estimate_gas(&s.rpc, &gas, &m, NULL))
				gas = use_permit ? RENT_GAS_PERMIT : RENT_GAS_OPEN;
			else
				gas = gas + gas / 5;
		} else {
			gas = RENT_GAS_APPROVE + RENT_GAS_OPEN;
		}
	}
	{
		u256 g = u256_from_u64(gas);
		if ((rc = u256_mul(&gas_cost, &g, &max_fee)) || (rc = u256_add(&need, &gas_cost, tok.native ? &deposit
											: &(u256){ { 0 } }))) {
			err_set(&e, rc, "gas cost overflows");
			goto fail;
		}
	}
	if (u256_cmp(&gas_bal, &need) < 0) {
		fmt_gas(t1, sizeof t1, native, &gas_bal);
		fmt_gas(t2, sizeof t2, native, &gas_cost);
		char a_text[ADDRESS_STR_MAX];
		address_to_checksum(a_text, &s.address);
		if (tok.native) {
			fmt_gas(t3, sizeof t3, native, &deposit);
			rc = err_set(&e, ERR_STATE, "not enough %s: you hold %s but the deposit %s plus gas (about %s) "
				     "needs more", native, t1, t3, t2);
		} else {
			cli_token_format(t3, sizeof t3, &tok, &bal);
			rc = err_set(&e, ERR_STATE, "you hold %s but %s for gas: the transaction needs about %s "
				     "(%" PRIu64 " gas at the current max fee); send some %s to %s first",
				     t3, t1, t2, gas, native, a_text);
		}
		goto fail;
	}
	/* 4. The summary and the confirmation. */
	{
		u256 hourly, fee;
		char a_addr[ADDRESS_STR_MAX], hash_hex[67], paid[32];
		escrow_cost(&hourly, &o.rate, 3600, NULL);
		max_cost = deposit;
		address_to_checksum(a_addr, &s.address);
		hex_encode_0x(hash_hex, offer_hash, 32);
		cli_token_format(t1, sizeof t1, &tok, &hourly);
		cli_token_format(t2, sizeof t2, &tok, &max_cost);
		fmt_gas(t3, sizeof t3, native, &gas_cost);
		fmt_secs(paid, sizeof paid, secs);
		escrow_fee(&fee, &max_cost, s.dep.fee_bps, NULL);
		cli_token_format(t4, sizeof t4, &tok, &fee);
		printf("offer:     %s\n", hash_hex);
		printf("renter:    %s\n", a_addr);
		printf("rate:      %s per hour (fee %u.%02u %% included)\n", t1, s.dep.fee_bps / 100,
		       s.dep.fee_bps % 100);
		printf("deposit:   %s (buys %s%s; the unused part is refunded when you stop)\n", t2, paid,
		       a.until_stopped ? ", runs until you stop" : "");
		printf("max cost:  %s, of which at most %s fee\n", t2, t4);
		printf("payment:   %s\n", tok.native ? "native coin (msg.value)"
			       : use_permit ? "EIP-2612 permit + open (one transaction)"
					    : "approve + open (two transactions)");
		printf("gas:       about %" PRIu64 " gas, at most %s\n", gas, t3);
		fflush(stdout);
	}
	if (!a.yes && !confirm()) {
		fprintf(stderr, "flopmarket: not confirmed (use --yes in scripts); nothing was sent\n");
		status = EXIT_FAIL;
		goto out;
	}
	/* 5. Send: the host must be alive right now, or nothing is paid. */
	if (have_agent && (rc = cli_agent_alive(&agent, &o.provider, RENT_ALIVE_TIMEOUT_MS, &e)))
		goto fail;
	if (!tok.native && !use_permit &&
	    (rc = cli_approve_escrow(&s, &tok, &deposit, RENT_TX_TIMEOUT_MS, &e)))
		goto fail;
	fprintf(stderr, "opening the rental, waiting for confirmation... ");
	rc = escrow_send(&s.rpc, &rcpt, s.chain_id, s.seckey, &s.escrow, tok.native ? &deposit : NULL, cd.data,
			 cd.len, RENT_TX_TIMEOUT_MS, &e);
	if (rc) {
		fputc('\n', stderr);
		err_wrap(&e, "open");
		goto fail;
	}
	if ((rc = escrow_receipt_event(&ev, &rcpt, &s.escrow, ESCROW_EV_OPENED, &e)))
		goto fail;
	fprintf(stderr, "confirmed in block %" PRIu64 "\n", rcpt.block_number);
	{
		char tx[67];
		hex_encode_0x(tx, rcpt.tx_hash, 32);
		if (cli_rental_save(&s, &ev.opened.terms, ev.opened.offer_hash, rcpt.tx_hash, &e))
			fprintf(stderr, "flopmarket: warning: %s\n", e.msg);
		printf("rental:    %" PRIu64 "\n", ev.id);
		printf("tx:        %s\n", tx);
		fflush(stdout);
	}
	/* 6. Access: the key goes to the agent directly (docs/agent.md), all within --wait-access. */
	if (have_agent && (a.ssh_key || a.agent)) {
		uint64_t deadline = clock_mono_ms() + a.wait_access_s * 1000;
		rc = a.ssh_key ? cli_key_deliver(&agent, &s, ev.id, key_line, deadline, &e) : 0;
		if (!rc)
			rc = cli_access_wait(&agent, ev.id, deadline, &e);
		if (rc) {
			fprintf(stderr, "flopmarket: rental %" PRIu64 " is open, but: %s\n", ev.id, e.msg);
			status = cli_exit_for(rc);
		}
	} else {
		printf("no --ssh-key given: deliver one with `flopmarket ssh-key %" PRIu64 " ~/.ssh/id_ed25519.pub`; "
		       "`flopmarket status %" PRIu64 "` shows time and cost\n", ev.id, ev.id);
	}
	goto out;
fail:
	status = cli_fail(rc, &e);
out:
	rpc_receipt_release(&rcpt);
	buf_release(&cd);
	json_decref(offer_json);
	sc_release(&agent);
	sc_release(&sc);
	cli_session_release(&s);
	return status;
}
