/*
 * cmd_rent.c — `flopmarket rent`: open a rental on chain from a signed offer.
 *
 *   flopmarket rent <offer_hash> | --offer-file FILE  (--hours N | --until-stopped)
 *                   [--deposit AMOUNT] [--token SYMBOL] [--ssh-key FILE] [--image NAME] [--wallet NAME]
 *                   [--server URL] [--agent URL] [--wait-access SECS] [--gasless] [--yes]
 *
 * The offer comes from the server (GET /offers/{hash}) or from a JSON file holding the offer view or
 * the POST /offers body ({"offer": {...}, "signature": "0x.."}). Before anything is signed it checks,
 * with messages a user can act on: the network (session.h), the offer's expiry against the chain's
 * clock, the deposit against the offer's minimum and maximum, the token balance against the deposit,
 * and the gas coin balance against the estimated gas times the max fee per gas. It shows rate, fee,
 * maximum cost and gas and asks to confirm (--yes skips). ERC-20 tokens with EIP-2612 are paid with
 * openWithPermit (one transaction), others with approve + open, the native coin with msg.value.
 * With --gasless the renter sends no transaction at all: it signs a permit and an intent, the server's
 * relayer opens the rental and takes its fee (at most the signed maximum, shown first) in the token
 * (cli/gasless.h); a wallet without gas coin is told about it when the server relays.
 * The rental's terms (from the `Opened` event) are kept locally for status/extend/stop (session.h).
 * With a server, the SSH public key is then delivered and the access details awaited (docs/agent.md).
 */
#include "core/file.h"
#include "cli/cli.h"
#include "cli/format.h"

#include "agent/instances.h"
#include "cli/gasless.h"
#include "cli/rent_access.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "core/clock.h"
#include "core/err.h"
#include "market/offer.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/mirror.h"
#include "eth/eip191.h"

#include <inttypes.h>
#include <sodium.h>
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
	const char *image;       /* --image: the instance image (the provider's default when absent) */
	const char *wallet;
	const char *server;
	const char *agent;       /* --agent URL (else from the server's host record) */
	uint64_t wait_access_s;
	bool yes;
	bool json;               /* --json: the result as one object on stdout; the figures go to stderr */
	bool gasless;            /* --gasless: the server's relayer sends and pays the gas */
};

static int rent_usage(void)
{
	fprintf(stderr,
		"usage: flopmarket rent (<offer_hash> | --offer-file FILE) (--hours N | --until-stopped)\n"
		"                       [--deposit AMOUNT] [--token SYMBOL] [--ssh-key FILE] [--image NAME]\n"
		"                       [--wallet NAME] [--server URL] [--agent URL] [--wait-access SECS] [--gasless]\n"
		"                       [--yes] [--json]\n");
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
		} else if (strcmp(f, "--json") == 0) {
			a->json = true;
		} else if (strcmp(f, "--gasless") == 0) {
			a->gasless = true;
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
			else if (strcmp(f, "--image") == 0) a->image = v;
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
	if (a->image && !instances_image_name_ok(a->image)) {
		fprintf(stderr, "flopmarket: --image '%.40s': an image name is 1..32 of a-z 0-9 . _ - (see the offer's images)\n",
			a->image);
		return EXIT_INPUT;
	}
	if (a->image && !a->ssh_key) {
		fprintf(stderr, "flopmarket: --image goes with --ssh-key (the image is chosen when the key is delivered)\n");
		return EXIT_USAGE;
	}
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


static void fmt_secs(char *out, size_t cap, uint64_t s)
{
	if (s >= 86400)
		snprintf(out, cap, "%" PRIu64 "d%02" PRIu64 "h%02" PRIu64 "m", s / 86400, s / 3600 % 24, s / 60 % 60);
	else if (s >= 3600)
		snprintf(out, cap, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
}

/* Everything one `rent` works with, from one step to the next. */
struct rent {
	struct rent_args a;
	struct cli_session s;
	const char *native;             /* the chain's coin symbol */
	json_t *offer_json;             /* the offer view (server) or the offer file */
	struct escrow_offer o;          /* the signed offer */
	uint8_t sig[65], offer_hash[32];
	struct cli_token tok;           /* the offer's token */
	struct rpc_block head;          /* the latest block when checked */
	struct api_client sc, agent;            /* the server (when used) and the provider's agent */
	bool have_agent;                /* agent is set up */
	char key_line[CLI_SSH_KEY_LINE_MAX];
	u256 deposit, bal, gas_bal, max_fee, tip, gas_cost;
	uint64_t secs, gas;             /* paid seconds; gas of the open (and approve) */
	bool use_permit;                /* openWithPermit */
	struct buf cd;                  /* the open's calldata */
	json_t *result;                 /* --json: what is printed at the end */
	struct gasless g;               /* --gasless: the relayer's figures */
};

/* 1. The offer: from the file or the server (by hash or prefix), its listing status and token. */
static int rent_offer(struct rent *r, struct err *e)
{
	bool has_hash;
	int rc;

	if (r->a.offer_file) {
		rc = load_offer_file(&r->offer_json, r->a.offer_file, e);
	} else if (!r->a.server) {
		rc = err_set(e, ERR_INVALID, "renting by offer hash needs the server (--server URL or "
			     "server_url); or use --offer-file FILE");
	} else {
		if (!(rc = api_client_init(&r->sc, r->a.server, e)))
			rc = cli_offer_get(&r->offer_json, &r->sc, r->a.offer_ref, e);
	}
	if (rc || (rc = offer_from_json(&r->o, r->sig, r->offer_hash, &has_hash, r->offer_json, e)))
		return rc;
	if (!has_hash && (rc = escrow_offer_digest(r->offer_hash, r->s.chain_id, &r->s.escrow, &r->o, e)))
		return rc;
	/* The server's listing status: a withdrawn or expired offer is not rented. */
	const char *st = json_string_value(json_object_get(r->offer_json, "status"));
	if (st && strcmp(st, "active") != 0)
		return err_set(e, ERR_STATE, "offer %s: the listing is %.16s; search for a live offer",
			       strcmp(st, "expired") == 0 ? "expired" : "unavailable", st);
	if (r->a.server && !r->sc.curl && (rc = api_client_init(&r->sc, r->a.server, e)))
		return rc;
	if ((rc = cli_token_info(&r->tok, &r->s, &r->o.token, e)))
		return rc;
	if (r->a.token && !offer_token_matches(r->tok.symbol, r->a.token, strlen(r->a.token)))
		return err_set(e, ERR_INVALID, "--token %s: this offer is priced in %s", r->a.token, r->tok.symbol);
	return rpc_get_block(&r->s.rpc, &r->head, "latest", e);
}

/* 2. Checks a user can act on: expiry, the deposit's bounds, balances, the SSH key and the agent. */
static int rent_check(struct rent *r, struct err *e)
{
	char t1[160], t2[160];
	int rc;

	if (r->o.expiry <= r->head.timestamp + 15)
		return err_set(e, ERR_STATE, "offer expired: it was valid until %" PRIu64 " and the chain's time is %"
			       PRIu64 "; search for a fresh offer", r->o.expiry, r->head.timestamp);
	if (r->a.deposit) {
		if ((rc = u256_parse_units(&r->deposit, r->a.deposit, r->tok.decimals, e)))
			return err_wrap(e, "--deposit"), rc;
	} else if ((rc = cli_deposit_for(&r->deposit, &r->o.rate, r->a.hours * 3600, e))) {
		return rc;
	}
	r->secs = cli_secs_bought(&r->deposit, &r->o.rate);
	if (r->secs < r->o.min_secs) {
		u256 min_dep;
		cli_deposit_for(&min_dep, &r->o.rate, r->o.min_secs, NULL);
		cli_token_format(t1, sizeof t1, &r->tok, &r->deposit);
		cli_token_format(t2, sizeof t2, &r->tok, &min_dep);
		return err_set(e, ERR_INVALID, "deposit below minimum: %s buys %" PRIu64 " s but the offer's minimum "
			       "is %" PRIu32 " s (deposit at least %s)", t1, r->secs, r->o.min_secs, t2);
	}
	if (r->secs > r->o.max_secs)
		return err_set(e, ERR_INVALID, "deposit above maximum: it buys %" PRIu64 " s but the offer allows "
			       "at most %" PRIu32 " s (%" PRIu32 " h)", r->secs, r->o.max_secs, r->o.max_secs / 3600);
	if ((rc = escrow_token_balance(&r->s.rpc, &r->bal, &r->o.token, &r->s.address, e)) ||
	    (rc = rpc_get_balance(&r->s.rpc, &r->gas_bal, &r->s.address, "latest", e)) ||
	    (rc = rpc_suggest_fees(&r->s.rpc, &r->max_fee, &r->tip, e)))
		return rc;
	if (u256_cmp(&r->bal, &r->deposit) < 0) {
		cli_token_format(t1, sizeof t1, &r->tok, &r->bal);
		cli_token_format(t2, sizeof t2, &r->tok, &r->deposit);
		return err_set(e, ERR_STATE, "not enough %s: you hold %s but the deposit is %s", r->tok.symbol, t1, t2);
	}
	/* The SSH key and the provider's agent, checked before anything is signed (issue 8.8, 8.12). */
	if (r->a.ssh_key && (rc = cli_ssh_key_read(r->key_line, r->a.ssh_key, e)))
		return rc;
	uint64_t mid = 0;
	struct err ae = { 0 };
	json_get_id(&mid, r->offer_json, "machine_id", NULL);
	if (cli_agent_connect(&r->agent, r->a.agent, &r->sc, mid, &ae) == 0)
		r->have_agent = true;
	else if (r->a.ssh_key)
		return err_set(e, ERR_STATE, "%s; nothing was paid", ae.msg);
	return 0;
}

/* 3. The calldata (permit where the token has it) and a gas estimate; enough gas coin? */
static int rent_prepare(struct rent *r, struct err *e)
{
	struct escrow_permit_domain pd;
	uint8_t permit_sig[65];
	u256 deadline = u256_from_u64(r->head.timestamp + 3600), need;
	char t1[160], t2[160], t3[160];
	int rc;

	if (r->a.gasless) {
		u256 zero = u256_from_u64(0);
		return gasless_prepare(&r->g, &r->sc, &r->s, &r->tok, RELAY_OPEN, &r->deposit, &zero, e);
	}
	if (!r->tok.native &&
	    escrow_permit_domain_read(&r->s.rpc, &pd, r->s.chain_id, &r->o.token, &r->s.address, NULL) == 0) {
		if ((rc = escrow_permit_sign_for(&r->s.rpc, permit_sig, r->s.chain_id, &r->o.token, &r->s.escrow,
						 &r->deposit, &deadline, r->s.seckey, e)) ||
		    (rc = escrow_cd_open_with_permit(&r->cd, &r->o, r->sig, sizeof r->sig, &r->deposit, &deadline,
						     permit_sig, e)))
			return rc;
		r->use_permit = true;
	} else if ((rc = escrow_cd_open(&r->cd, &r->o, r->sig, sizeof r->sig, &r->deposit, e))) {
		return rc;
	}
	struct rpc_call_msg m = { .has_from = true, .from = r->s.address, .has_to = true, .to = r->s.escrow,
				  .data = r->cd.data, .data_len = r->cd.len };
	if (r->tok.native) {
		m.has_value = true;
		m.value = r->deposit;
	}
	if (r->tok.native || r->use_permit) {
		/* A revert here names the offer's problem before anything is signed. */
		if (rpc_estimate_gas(&r->s.rpc, &r->gas, &m, NULL))
			r->gas = r->use_permit ? RENT_GAS_PERMIT : RENT_GAS_OPEN;
		else
			r->gas = r->gas + r->gas / 5;
	} else {
		r->gas = RENT_GAS_APPROVE + RENT_GAS_OPEN;
	}
	u256 g = u256_from_u64(r->gas), zero = u256_from_u64(0);
	if ((rc = u256_mul(&r->gas_cost, &g, &r->max_fee)) ||
	    (rc = u256_add(&need, &r->gas_cost, r->tok.native ? &r->deposit : &zero)))
		return err_set(e, rc, "gas cost overflows");
	if (u256_cmp(&r->gas_bal, &need) >= 0)
		return 0;
	cli_fmt_gas(t1, sizeof t1, r->native, &r->gas_bal);
	cli_fmt_gas(t2, sizeof t2, r->native, &r->gas_cost);
	if (r->tok.native) {
		cli_fmt_gas(t3, sizeof t3, r->native, &r->deposit);
		return err_set(e, ERR_STATE, "not enough %s: you hold %s but the deposit %s plus gas (about %s) "
			       "needs more", r->native, t1, t3, t2);
	}
	char a_text[ADDRESS_STR_MAX];
	address_to_checksum(a_text, &r->s.address);
	cli_token_format(t3, sizeof t3, &r->tok, &r->bal);
	if (gasless_offered(&r->sc))
		return err_set(e, ERR_STATE, "you hold %s but %s for gas: the transaction needs about %s "
			       "(%" PRIu64 " gas at the current max fee). This server relays: add --gasless to pay "
			       "no gas, its relayer takes a fee in %s instead (or send some %s to %s)",
			       t3, t1, t2, r->gas, r->tok.symbol, r->native, a_text);
	return err_set(e, ERR_STATE, "you hold %s but %s for gas: the transaction needs about %s "
		       "(%" PRIu64 " gas at the current max fee); send some %s to %s first",
		       t3, t1, t2, r->gas, r->native, a_text);
}

/* 4. The summary shown before the confirmation. */
static void rent_summary(const struct rent *r)
{
	FILE *f = r->a.json ? stderr : stdout;
	u256 hourly, fee;
	char a_addr[ADDRESS_STR_MAX], hash_hex[67], paid[32], t1[160], t2[160], t3[160], t4[160];

	escrow_cost(&hourly, &r->o.rate, 3600, NULL);
	address_to_checksum(a_addr, &r->s.address);
	hex_encode_0x(hash_hex, r->offer_hash, 32);
	cli_token_format(t1, sizeof t1, &r->tok, &hourly);
	cli_token_format(t2, sizeof t2, &r->tok, &r->deposit);
	cli_fmt_gas(t3, sizeof t3, r->native, &r->gas_cost);
	fmt_secs(paid, sizeof paid, r->secs);
	escrow_fee(&fee, &r->deposit, r->s.dep.fee_bps, NULL);
	cli_token_format(t4, sizeof t4, &r->tok, &fee);
	fprintf(f, "offer:     %s\n", hash_hex);
	fprintf(f, "renter:    %s\n", a_addr);
	fprintf(f, "rate:      %s per hour (fee %u.%02u %% included)\n", t1, r->s.dep.fee_bps / 100,
	       r->s.dep.fee_bps % 100);
	fprintf(f, "deposit:   %s (buys %s%s; the unused part is refunded when you stop)\n", t2, paid,
	       r->a.until_stopped ? ", runs until you stop" : "");
	fprintf(f, "max cost:  %s, of which at most %s fee\n", t2, t4);
	if (r->a.gasless) {
		gasless_summary(&r->g, &r->tok, f);
		return;
	}
	fprintf(f, "payment:   %s\n", r->tok.native ? "native coin (msg.value)"
		       : r->use_permit ? "EIP-2612 permit + open (one transaction)"
				       : "approve + open (two transactions)");
	fprintf(f, "gas:       about %" PRIu64 " gas, at most %s\n", r->gas, t3);
	fflush(f);
}

/* 5. Sends the open (the host must be alive right now, or nothing is paid); *ev is its Opened event. */
static int rent_send(struct rent *r, struct escrow_event *ev, struct err *e)
{
	struct rpc_receipt rcpt = { 0 };
	char tx[67];
	int rc;

	if (r->have_agent && (rc = cli_agent_alive(&r->agent, &r->o.provider, r->a.image, RENT_ALIVE_TIMEOUT_MS, e)))
		return rc;
	if (r->a.gasless) {
		char sig_hex[133];
		hex_encode_0x(sig_hex, r->sig, sizeof r->sig);
		json_t *fields = json_pack("{s:O, s:s}", "offer", json_object_get(r->offer_json, "offer"),
					   "offer_signature", sig_hex);
		if (!fields)
			return err_set(e, ERR_NOMEM, "out of memory");
		rc = gasless_send(&r->g, &r->sc, &r->s, &r->tok, &r->deposit, r->offer_hash, fields, &rcpt, e);
		json_decref(fields);
		if (rc)
			return err_wrap(e, "gasless open"), rc;
	} else {
		if (!r->tok.native && !r->use_permit &&
		    (rc = cli_approve_escrow(&r->s, &r->tok, &r->deposit, RENT_TX_TIMEOUT_MS, e)))
			return rc;
		fprintf(stderr, "opening the rental, waiting for confirmation... ");
		rc = escrow_send(&r->s.rpc, &rcpt, r->s.chain_id, r->s.seckey, &r->s.escrow,
				 r->tok.native ? &r->deposit : NULL, r->cd.data, r->cd.len, RENT_TX_TIMEOUT_MS, e);
		if (rc) {
			fputc('\n', stderr);
			err_wrap(e, "open");
			return rc;
		}
	}
	if ((rc = escrow_receipt_event(ev, &rcpt, &r->s.escrow, ESCROW_EV_OPENED, e))) {
		rpc_receipt_release(&rcpt);
		return rc;
	}
	fprintf(stderr, "confirmed in block %" PRIu64 "\n", rcpt.block_number);
	hex_encode_0x(tx, rcpt.tx_hash, 32);
	struct err we = { 0 };
	if (cli_rental_save(&r->s, &ev->opened.terms, ev->opened.offer_hash, rcpt.tx_hash, &we))
		fprintf(stderr, "flopmarket: warning: %s\n", we.msg);
	if (r->result) {
		char offer[67], token[ADDRESS_STR_MAX];
		struct escrow_view v;
		hex_encode_0x(offer, ev->opened.offer_hash, 32);
		address_to_checksum(token, &r->tok.address);
		json_object_set_new(r->result, "rental_id", json_integer((json_int_t)ev->id));
		json_object_set_new(r->result, "tx", json_string(tx));
		json_object_set_new(r->result, "block", json_integer((json_int_t)rcpt.block_number));
		json_object_set_new(r->result, "offer_hash", json_string(offer));
		json_object_set_new(r->result, "token", json_string(r->tok.native ? "native" : token));
		json_object_set_new(r->result, "symbol", json_string(r->tok.symbol));
		json_object_set_new(r->result, "decimals", json_integer(r->tok.decimals));
		json_object_set_new(r->result, "deposit", cli_json_units(&r->deposit));
		json_object_set_new(r->result, "payment", json_string(r->a.gasless ? "gasless"
								      : r->tok.native ? "native" : r->use_permit ? "permit"
										  : "approve"));
		if (r->a.gasless)
			json_object_set_new(r->result, "relayed", gasless_json(&r->g));
		json_object_set_new(r->result, "paid_until",
				    json_integer(escrow_state_view(&v, &ev->opened.terms, &ev->state, NULL) == 0
						 ? (json_int_t)v.paid_until : 0));
	} else {
		printf("rental:    %" PRIu64 "\n", ev->id);
		printf("tx:        %s\n", tx);
		if (r->a.gasless) {
			char t1[160];
			cli_token_format(t1, sizeof t1, &r->tok, &r->g.fee);
			printf("relayer:   fee %s (relay intent %" PRIu64 ")\n", t1, r->g.intent_id);
		}
		fflush(stdout);
	}
	rpc_receipt_release(&rcpt);
	return 0;
}

/* 6. Access: the key goes to the agent directly (docs/agent.md), all within --wait-access. */
static int rent_access(struct rent *r, uint64_t id, struct err *e)
{
	json_t *access = NULL;
	int rc;

	if (!r->have_agent || (!r->a.ssh_key && !r->a.agent)) {
		fprintf(r->result ? stderr : stdout, "no --ssh-key given: deliver one with `flopmarket ssh-key %" PRIu64
			" ~/.ssh/id_ed25519.pub`; `flopmarket status %" PRIu64 "` shows time and cost\n", id, id);
		return 0;
	}
	uint64_t deadline = clock_mono_ms() + r->a.wait_access_s * 1000;
	if (r->result && !(access = json_object()))
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = r->a.ssh_key ? cli_key_deliver(&r->agent, &r->s, id, r->key_line, r->a.image, deadline, e) : 0;
	if (!rc)
		rc = cli_access_wait(&r->agent, id, deadline, access, e);
	if (access && !rc)
		json_object_set_new(r->result, "access", access);
	else
		json_decref(access);
	return rc;
}

int cmd_rent(int argc, char **argv, struct cfg *cfg)
{
	struct rent *r = calloc(1, sizeof *r);
	struct escrow_event ev;
	struct err e = { 0 };
	int rc, status = EXIT_OK;

	if (!r)
		return EXIT_FAIL;
	if ((rc = rent_parse(&r->a, argc, argv, cfg))) {
		free(r);
		return rc;
	}
	buf_init(&r->cd, ESCROW_CD_MAX);
	if (r->a.json && !(r->result = json_object())) {
		free(r);
		return EXIT_FAIL;
	}
	if ((rc = cli_session_open(&r->s, cfg, r->a.wallet, SESSION_WALLET_UNLOCK, &e))) {
		json_decref(r->result);
		free(r);
		return cli_fail(rc, &e);
	}
	r->native = cli_native_symbol(r->s.chain_id);
	if ((rc = rent_offer(r, &e)) || (rc = rent_check(r, &e)) || (rc = rent_prepare(r, &e))) {
		status = cli_fail(rc, &e);
		goto out;
	}
	rent_summary(r);
	if (!r->a.yes && !cli_confirm()) {
		fprintf(stderr, "flopmarket: not confirmed (use --yes in scripts); nothing was sent\n");
		status = EXIT_FAIL;
		goto out;
	}
	if ((rc = rent_send(r, &ev, &e))) {
		status = cli_fail(rc, &e);
		goto out;
	}
	if ((rc = rent_access(r, ev.id, &e))) {
		fprintf(stderr, "flopmarket: rental %" PRIu64 " is open, but: %s\n", ev.id, e.msg);
		status = cli_exit_for(rc);
	}
	if (r->result) {
		if (!json_object_get(r->result, "access"))
			json_object_set_new(r->result, "access", json_null());
		if (cli_json_print(json_incref(r->result)) != EXIT_OK && status == EXIT_OK)
			status = EXIT_FAIL;
	}
out:
	json_decref(r->result);
	buf_release(&r->cd);
	json_decref(r->offer_json);
	api_client_release(&r->agent);
	api_client_release(&r->sc);
	cli_session_release(&r->s);
	sodium_memzero(r->key_line, sizeof r->key_line);
	free(r);
	return status;
}
