/*
 * cmd_rental_tx.c — the renter's per-rental transactions:
 *
 *   flopmarket extend <rental> (--hours N | --amount AMOUNT) [--wallet NAME] [--gasless] [--yes] [--json]
 *   flopmarket stop <rental> [--wallet NAME] [--gasless] [--yes] [--json]
 *   flopmarket dispute <rental> [--wallet NAME] [--yes] [--json]
 *
 * Each one predicts the outcome with src/escrow/mirror.h at the latest block (what a stop refunds, what
 * an extend buys, or why the contract would refuse: "RentalEnded", "NotRenter", ...), shows the figures
 * and the gas, asks (--yes skips; without a terminal nothing is sent unless --yes), sends with
 * escrow_send (which pre-runs the call and names a revert with escrow_revert_message) and prints the
 * amounts the contract actually moved, from the event in the receipt. An extend in an ERC-20 token with
 * EIP-2612 is one transaction (extendWithPermit); other tokens approve the escrow first; the native coin
 * is msg.value. With --gasless (extend, stop; a token rental) the renter signs an intent and the server's
 * relayer sends it and takes its fee in the token (cli/gasless.h). --json prints the result as one object (docs/cli.md "JSON output"); the figures and the
 * question then go to stderr.
 */
#include "cli/advice.h"
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/gasless.h"
#include "cli/session.h"
#include "core/err.h"
#include "core/hex.h"
#include "escrow/client.h"
#include "escrow/mirror.h"
#include "market/api_client.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TX_TIMEOUT_MS 120000u
#define TX_GAS_APPROVE 60000u  /* when the estimate cannot run (an extend that needs an approve first) */
#define TX_GAS_CALL 200000u

struct tx_args {
	const char *verb;
	uint64_t id;
	uint64_t hours;
	const char *amount;
	const char *wallet;
	const char *server;          /* server_url: its relayer for --gasless */
	bool yes, json, gasless;
};

/* One transaction from its figures to its receipt. */
struct tx {
	struct tx_args a;
	struct cli_session s;
	struct escrow_terms t;
	struct cli_token tok;
	const char *native;
	struct escrow_call call;
	struct escrow_outcome pred;
	enum escrow_event_kind want;
	struct buf cd;
	u256 amount;                 /* extend: what is added */
	uint64_t head_time;          /* the latest block's time when predicted */
	bool use_permit, need_approve;
	uint64_t gas;
	u256 gas_cost;               /* gas * max fee: the most the gas can cost */
	FILE *out;                   /* the figures: stdout, or stderr with --json */
	struct api_client sc;        /* the server, when one is configured */
	struct gasless g;            /* --gasless: the relayer's figures */
};

static int tx_usage(const char *verb)
{
	if (strcmp(verb, "extend") == 0)
		fprintf(stderr, "usage: flopmarket extend RENTAL (--hours N | --amount AMOUNT) [--wallet NAME] [--gasless]"
			" [--yes] [--json]\n");
	else if (strcmp(verb, "stop") == 0)
		fprintf(stderr, "usage: flopmarket stop RENTAL [--wallet NAME] [--gasless] [--yes] [--json]\n");
	else
		fprintf(stderr, "usage: flopmarket %s RENTAL [--wallet NAME] [--yes] [--json]\n", verb);
	return EXIT_USAGE;
}

static int tx_parse(struct tx_args *a, int argc, char **argv, const struct cfg *cfg)
{
	struct err e = { 0 };
	const char *rental = NULL;
	int rc;

	memset(a, 0, sizeof *a);
	a->verb = argv[0];
	a->server = cfg_get(cfg, "server_url");
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--wallet") == 0 && v) {
			a->wallet = v;
			i++;
		} else if (strcmp(f, "--yes") == 0 || strcmp(f, "-y") == 0) {
			a->yes = true;
		} else if (strcmp(f, "--json") == 0) {
			a->json = true;
		} else if (strcmp(f, "--gasless") == 0 && strcmp(a->verb, "dispute") != 0) {
			a->gasless = true;
		} else if (strcmp(f, "--server") == 0 && v) {
			a->server = v;
			i++;
		} else if (strcmp(a->verb, "extend") == 0 && strcmp(f, "--amount") == 0 && v) {
			a->amount = v;
			i++;
		} else if (strcmp(a->verb, "extend") == 0 && strcmp(f, "--hours") == 0 && v) {
			uint64_t h;
			struct err pe = { 0 };
			if (cli_parse_uint(&h, "--hours", v, 1, 8760, &pe)) {
				fprintf(stderr, "flopmarket: %s\n", pe.msg);
				return EXIT_INPUT;
			}
			a->hours = h;
			i++;
		} else if (f[0] != '-' && !rental) {
			rental = f;
		} else {
			return tx_usage(a->verb);
		}
	}
	if (!rental)
		return tx_usage(a->verb);
	if (strcmp(a->verb, "extend") == 0 && !a->hours == !a->amount)
		return tx_usage(a->verb);
	if ((rc = cli_parse_rental_id(&a->id, rental, &e)))
		return cli_fail(rc, &e);
	return EXIT_OK;
}

/* Mirrors the call at the latest block: a predicted revert stops here with the contract's reason. */
static int tx_predict(struct tx *x, struct err *e)
{
	struct rpc_block head;
	u256 word;
	int rc;

	if ((rc = escrow_rental_word(&x->s.rpc, &word, &x->s.escrow, &x->t, e)) ||
	    (rc = rpc_get_block(&x->s.rpc, &head, "latest", e)))
		return rc;
	if (u256_is_zero(&word))
		return err_set(e, ERR_STATE, "rental %" PRIu64 " is closed: nothing left to %s", x->t.id, x->a.verb);
	x->head_time = head.timestamp;
	x->call.now = head.timestamp + 1;
	x->call.arbiter_window_secs = x->s.dep.arbiter_window_secs;
	rc = escrow_mirror_apply(&x->pred, &x->t, &word, &x->call, e);
	if (rc == ERR_REVERT)
		err_wrap(e, "the escrow would refuse this");
	return rc;
}

/* The extension's amount (--amount, or --hours at the rate), and enough of the token to pay it? */
static int extend_amount(struct tx *x, struct err *e)
{
	char t1[160], t2[160];
	u256 bal;
	int rc;

	if (x->a.amount) {
		if ((rc = u256_parse_units(&x->amount, x->a.amount, x->tok.decimals, e)))
			return err_wrap(e, "--amount"), rc;
	} else if ((rc = cli_deposit_for(&x->amount, &x->t.rate, x->a.hours * 3600, e))) {
		return rc;
	}
	if ((rc = escrow_token_balance(&x->s.rpc, &bal, &x->t.token, &x->s.address, e)))
		return rc;
	if (u256_cmp(&bal, &x->amount) < 0) {
		cli_token_format(t1, sizeof t1, &x->tok, &bal);
		cli_token_format(t2, sizeof t2, &x->tok, &x->amount);
		return err_set(e, ERR_STATE, "not enough %s: you hold %s but the extension is %s", x->tok.symbol, t1, t2);
	}
	return 0;
}

/* The calldata: extend with a permit where the token has EIP-2612, else extend (after an approve). */
static int tx_calldata(struct tx *x, struct err *e)
{
	struct escrow_permit_domain pd;
	uint8_t permit_sig[65];
	u256 deadline;
	int rc;

	if (x->call.op == ESCROW_OP_STOP)
		return escrow_cd_rental(&x->cd, ESCROW_FN_STOP, &x->t, e);
	if (x->call.op == ESCROW_OP_DISPUTE)
		return escrow_cd_rental(&x->cd, ESCROW_FN_DISPUTE, &x->t, e);
	if (!x->tok.native &&
	    escrow_permit_domain_read(&x->s.rpc, &pd, x->s.chain_id, &x->t.token, &x->s.address, NULL) == 0) {
		deadline = u256_from_u64(x->head_time + 3600);
		if ((rc = escrow_permit_sign_for(&x->s.rpc, permit_sig, x->s.chain_id, &x->t.token, &x->s.escrow,
						 &x->amount, &deadline, x->s.seckey, e)))
			return rc;
		x->use_permit = true;
		return escrow_cd_extend_with_permit(&x->cd, &x->t, &x->amount, &deadline, permit_sig, e);
	}
	x->need_approve = !x->tok.native;
	return escrow_cd_extend(&x->cd, &x->t, &x->amount, e);
}

/* Gas: estimated (a revert here names the problem before anything is signed), and enough coin for it? */
static int tx_gas(struct tx *x, struct err *e)
{
	struct rpc_call_msg m = { .has_from = true, .from = x->s.address, .has_to = true, .to = x->s.escrow,
				  .data = x->cd.data, .data_len = x->cd.len };
	u256 max_fee, tip, g, need, gas_bal, zero = u256_from_u64(0);
	bool pays_value = x->call.op == ESCROW_OP_EXTEND && x->tok.native;
	char t1[160], t2[160];
	int rc;

	if (pays_value) {
		m.has_value = true;
		m.value = x->amount;
	}
	if ((rc = rpc_suggest_fees(&x->s.rpc, &max_fee, &tip, e)) ||
	    (rc = rpc_get_balance(&x->s.rpc, &gas_bal, &x->s.address, "latest", e)))
		return rc;
	if (x->need_approve)
		x->gas = TX_GAS_APPROVE + TX_GAS_CALL; /* the call cannot be estimated before the approve */
	else if (rpc_estimate_gas(&x->s.rpc, &x->gas, &m, NULL))
		x->gas = TX_GAS_CALL;
	else
		x->gas += x->gas / 5;
	g = u256_from_u64(x->gas);
	if (u256_mul(&x->gas_cost, &g, &max_fee) || u256_add(&need, &x->gas_cost, pays_value ? &x->amount : &zero))
		return err_set(e, ERR_RANGE, "the gas cost overflows");
	if (u256_cmp(&gas_bal, &need) >= 0)
		return 0;
	cli_fmt_gas(t1, sizeof t1, x->native, &gas_bal);
	cli_fmt_gas(t2, sizeof t2, x->native, &need);
	if (!x->tok.native && x->call.op != ESCROW_OP_DISPUTE && gasless_offered(&x->sc))
		return err_set(e, ERR_STATE, "not enough %s: you hold %s, this needs up to %s for gas. This server "
			       "relays: add --gasless to pay no gas, its relayer takes a fee in %s instead", x->native, t1,
			       t2, x->tok.symbol);
	return err_set(e, ERR_STATE, "not enough %s: you hold %s, this needs up to %s%s", x->native, t1, t2,
		       pays_value ? " (the extension plus gas)" : " for gas");
}

/* The figures shown before the question: what is paid or refunded, the new end, the gas. */
static void tx_summary(const struct tx *x)
{
	struct escrow_view after;
	char t1[160], t2[160], t3[160], when[CLI_FMT_TIME_MAX], d1[48], d2[48];
	FILE *f = x->out;

	if (escrow_state_view(&after, &x->t, &x->pred.word, NULL))
		memset(&after, 0, sizeof after);
	fprintf(f, "rental:    %" PRIu64 "\n", x->t.id);
	if (x->call.op == ESCROW_OP_EXTEND) {
		uint64_t bought = cli_secs_bought(&x->amount, &x->t.rate);
		cli_token_format(t1, sizeof t1, &x->tok, &x->amount);
		cli_fmt_duration(d1, sizeof d1, bought);
		cli_fmt_utc(when, (int64_t)after.paid_until);
		cli_fmt_duration(d2, sizeof d2, after.paid_until > x->head_time ? after.paid_until - x->head_time : 0);
		fprintf(f, "add:       %s (buys %s more)\n", t1, d1);
		fprintf(f, "new end:   %s (paid until %" PRIu64 ", %s from now)\n", when, after.paid_until, d2);
		if (!x->a.gasless)
			fprintf(f, "payment:   %s\n", x->tok.native ? "native coin (msg.value)"
				   : x->use_permit ? "EIP-2612 permit + extend (one transaction)"
						   : "approve + extend (two transactions)");
	} else if (x->call.op == ESCROW_OP_STOP) {
		u256 billed;
		cli_token_format(t1, sizeof t1, &x->tok, &x->pred.refund_amount);
		fprintf(f, "refund:    %s back to you (the unused deposit)\n", t1);
		if (u256_add(&billed, &after.claimed, &after.held) == 0) {
			cli_token_format(t2, sizeof t2, &x->tok, &billed);
			cli_fmt_duration(d1, sizeof d1, after.used_secs);
			fprintf(f, "billed:    %s for %s in all (provider and fee)\n", t2, d1);
		}
		if (!u256_is_zero(&after.held)) {
			cli_token_format(t3, sizeof t3, &x->tok, &after.held);
			fprintf(f, "held:      %s until the dispute window closes (%u s after the stop)\n", t3,
				x->t.dispute_secs);
		}
		fprintf(f, "           (figures at the next block; a later block bills the seconds until it)\n");
	} else {
		if (!u256_is_zero(&after.held)) {
			cli_token_format(t1, sizeof t1, &x->tok, &after.held);
			fprintf(f, "dispute:   the held %s waits for an uptime attestation or the arbiter\n", t1);
		} else {
			fprintf(f, "dispute:   the held share waits for an uptime attestation or the arbiter\n");
		}
	}
	if (x->a.gasless) {
		gasless_summary(&x->g, &x->tok, f);
		return;
	}
	cli_fmt_gas(t1, sizeof t1, x->native, &x->gas_cost);
	fprintf(f, "gas:       about %" PRIu64 " gas, at most %s\n", x->gas, t1);
	fflush(f);
}

/* The result from the receipt's event: text, or one JSON object with --json. */
static int tx_result(const struct tx *x, const struct rpc_receipt *rcpt, const struct escrow_event *ev)
{
	struct escrow_view v;
	char tx[67], t1[160], t2[160], t3[160], when[CLI_FMT_TIME_MAX];
	char token[ADDRESS_STR_MAX];
	bool have_view = escrow_state_view(&v, &x->t, &ev->state, NULL) == 0;
	u256 billed = u256_from_u64(0);
	json_t *j = NULL;

	hex_encode_0x(tx, rcpt->tx_hash, 32);
	address_to_checksum(token, &x->tok.address);
	if (have_view && u256_add(&billed, &v.claimed, &v.held))
		billed = u256_from_u64(0);
	if (x->a.json) {
		j = json_pack("{s:I, s:s, s:s, s:I, s:s, s:s, s:i}", "rental_id", (json_int_t)x->t.id, "action", x->a.verb,
			      "tx", tx, "block", (json_int_t)rcpt->block_number, "token", x->tok.native ? "native" : token,
			      "symbol", x->tok.symbol, "decimals", (int)x->tok.decimals);
		if (j && x->want == ESCROW_EV_STOPPED) {
			json_object_set_new(j, "refund", cli_json_units(&ev->payout.refund_amount));
			json_object_set_new(j, "provider", cli_json_units(&ev->payout.provider_amount));
			json_object_set_new(j, "fee", cli_json_units(&ev->payout.fee_amount));
			json_object_set_new(j, "billed", cli_json_units(&billed));
			json_object_set_new(j, "billed_secs", json_integer(have_view ? v.used_secs : 0));
			json_object_set_new(j, "held", cli_json_units(have_view ? &v.held : &billed));
			json_object_set_new(j, "dispute_until", json_integer(have_view && !u256_is_zero(&v.held)
									   ? (json_int_t)(v.ended_at + x->t.dispute_secs) : 0));
		} else if (j && x->want == ESCROW_EV_EXTENDED) {
			json_object_set_new(j, "added", cli_json_units(&ev->extended.amount));
			json_object_set_new(j, "paid_until", json_integer(have_view ? (json_int_t)v.paid_until : 0));
			json_object_set_new(j, "payment", json_string(x->a.gasless ? "gasless"
								      : x->tok.native ? "native" : x->use_permit ? "permit"
												  : "approve"));
		}
		if (j && x->a.gasless)
			json_object_set_new(j, "relayed", gasless_json(&x->g));
		return cli_json_print(j);
	}
	printf("rental:    %" PRIu64 "\n", x->t.id);
	printf("tx:        %s\n", tx);
	if (x->a.gasless) {
		cli_token_format(t1, sizeof t1, &x->tok, &x->g.fee);
		printf("relayer:   fee %s (relay intent %" PRIu64 ")\n", t1, x->g.intent_id);
	}
	if (x->want == ESCROW_EV_STOPPED) {
		cli_token_format(t1, sizeof t1, &x->tok, &ev->payout.refund_amount);
		cli_token_format(t2, sizeof t2, &x->tok, &ev->payout.provider_amount);
		cli_token_format(t3, sizeof t3, &x->tok, &ev->payout.fee_amount);
		printf("refund:    %s\nprovider:  %s\nfee:       %s\n", t1, t2, t3);
		if (have_view) {
			/* The provider may have claimed part of it before this stop. */
			cli_token_format(t1, sizeof t1, &x->tok, &billed);
			printf("billed:    %s for %u s in all (provider and fee, including earlier claims)\n", t1,
			       (unsigned)v.used_secs);
		}
		if (have_view && !u256_is_zero(&v.held)) {
			/* With a dispute window the provider's share of the end waits in escrow. */
			cli_token_format(t1, sizeof t1, &x->tok, &v.held);
			printf("held:      %s until the dispute window closes at %" PRIu64
			       " (then paid to the provider and the fee, unless you dispute)\n",
			       t1, v.ended_at + x->t.dispute_secs);
		}
	} else if (x->want == ESCROW_EV_EXTENDED) {
		cli_token_format(t1, sizeof t1, &x->tok, &ev->extended.amount);
		printf("added:     %s\n", t1);
		if (have_view) {
			cli_fmt_utc(when, (int64_t)v.paid_until);
			printf("paid until %" PRIu64 " (%s)\n", v.paid_until, when);
		}
	} else {
		printf("disputed:  the held share waits for an uptime attestation or the arbiter\n");
	}
	return EXIT_OK;
}

/* Everything before the question: the rental is the wallet's, the prediction, the calldata, the gas. */
static int tx_prepare(struct tx *x, struct err *e)
{
	int rc;

	if ((rc = cli_rental_terms(&x->t, &x->s, x->a.id, e)) || (rc = cli_token_info(&x->tok, &x->s, &x->t.token, e)))
		return rc;
	if (!address_equal(&x->t.renter, &x->s.address)) {
		char r[ADDRESS_STR_MAX];
		address_to_checksum(r, &x->t.renter);
		return err_set(e, ERR_AUTH, "rental %" PRIu64 " was opened by %s, not by wallet '%s'", x->a.id, r,
			       x->s.wallet_name);
	}
	if (strcmp(x->a.verb, "extend") == 0) {
		x->call.op = ESCROW_OP_EXTEND;
		x->want = ESCROW_EV_EXTENDED;
		if ((rc = extend_amount(x, e)))
			return rc;
		x->call.amount = x->amount;
	} else if (strcmp(x->a.verb, "stop") == 0) {
		x->call.op = ESCROW_OP_STOP;
		x->want = ESCROW_EV_STOPPED;
	} else {
		x->call.op = ESCROW_OP_DISPUTE;
		x->want = ESCROW_EV_DISPUTED;
	}
	if (x->a.server && (rc = api_client_init(&x->sc, x->a.server, e)))
		return rc;
	if ((rc = tx_predict(x, e)))
		return rc;
	if (x->a.gasless) {
		u256 zero = u256_from_u64(0);
		bool stop = x->call.op == ESCROW_OP_STOP;
		return gasless_prepare(&x->g, &x->sc, &x->s, &x->tok, stop ? RELAY_STOP : RELAY_EXTEND,
				       stop ? &zero : &x->amount, stop ? &x->pred.refund_amount : &zero, e);
	}
	if ((rc = tx_calldata(x, e)))
		return rc;
	return tx_gas(x, e);
}

/* --gasless: the signed intent goes to the server's relayer, which sends it. */
static int tx_send_gasless(struct tx *x, struct rpc_receipt *rcpt, struct err *e)
{
	uint8_t enc[ESCROW_TERMS_SIZE], key[32];
	char hex[2 * ESCROW_TERMS_SIZE + 3];
	json_t *fields;
	int rc;

	if ((rc = escrow_terms_encode(enc, &x->t, e)) || (rc = escrow_rental_key(key, &x->t, e)))
		return rc;
	hex_encode_0x(hex, enc, sizeof enc);
	if (!(fields = json_pack("{s:s}", "terms", hex)))
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = gasless_send(&x->g, &x->sc, &x->s, &x->tok, &x->amount, key, fields, rcpt, e);
	json_decref(fields);
	return rc ? (err_wrap(e, "gasless %s", x->a.verb), rc) : 0;
}

/* Sends (approving first where needed) and reads the event; *rcpt holds the receipt. */
static int tx_send(struct tx *x, struct rpc_receipt *rcpt, struct escrow_event *ev, struct err *e)
{
	int rc;

	if (x->a.gasless) {
		if ((rc = tx_send_gasless(x, rcpt, e)))
			return rc;
		return escrow_receipt_event(ev, rcpt, &x->s.escrow, x->want, e);
	}
	if (x->need_approve && (rc = cli_approve_escrow(&x->s, &x->tok, &x->amount, TX_TIMEOUT_MS, e)))
		return rc;
	fprintf(stderr, "sending %s for rental %" PRIu64 ", waiting for confirmation... ", x->a.verb, x->a.id);
	rc = escrow_send(&x->s.rpc, rcpt, x->s.chain_id, x->s.seckey, &x->s.escrow,
			 x->call.op == ESCROW_OP_EXTEND && x->tok.native ? &x->amount : NULL, x->cd.data, x->cd.len,
			 TX_TIMEOUT_MS, e);
	if (rc) {
		fputc('\n', stderr);
		return err_wrap(e, "%s", x->a.verb), rc;
	}
	fprintf(stderr, "confirmed in block %" PRIu64 "\n", rcpt->block_number);
	return escrow_receipt_event(ev, rcpt, &x->s.escrow, x->want, e);
}

int cmd_rental_tx(int argc, char **argv, struct cfg *cfg)
{
	struct tx *x = calloc(1, sizeof *x);
	struct escrow_event ev;
	struct rpc_receipt rcpt = { 0 };
	struct err e = { 0 };
	int rc, status;

	if (!x)
		return EXIT_FAIL;
	if ((rc = tx_parse(&x->a, argc, argv, cfg))) {
		free(x);
		return rc;
	}
	buf_init(&x->cd, ESCROW_CD_MAX);
	x->out = x->a.json ? stderr : stdout;
	if ((rc = cli_session_open(&x->s, cfg, x->a.wallet, SESSION_WALLET_UNLOCK, &e))) {
		buf_release(&x->cd);
		free(x);
		return cli_fail(rc, &e);
	}
	x->native = cli_native_symbol(x->s.chain_id);
	if ((rc = tx_prepare(x, &e)))
		goto fail;
	tx_summary(x);
	if (!x->a.yes && !cli_confirm()) {
		fprintf(stderr, "flopmarket: not confirmed (use --yes in scripts); nothing was sent\n");
		status = EXIT_FAIL;
		goto out;
	}
	if ((rc = tx_send(x, &rcpt, &ev, &e)))
		goto fail;
	status = tx_result(x, &rcpt, &ev);
	goto out;
fail:
	cli_revert_advice(&e, x->a.verb, x->a.id);
	status = cli_fail(rc, &e);
out:
	rpc_receipt_release(&rcpt);
	buf_release(&x->cd);
	api_client_release(&x->sc);
	cli_session_release(&x->s);
	free(x);
	return status;
}
