/*
 * cmd_rental_tx.c — the renter's per-rental transactions:
 *
 *   flopmarket extend <rental> (--hours N | --amount AMOUNT) [--wallet NAME] [--yes]
 *   flopmarket stop <rental> [--wallet NAME]
 *   flopmarket dispute <rental> [--wallet NAME]
 *
 * Each one predicts the outcome with src/escrow/mirror.h at the latest block (what a stop refunds, what
 * an extend buys, or why the contract would refuse: "RentalEnded", "NotRenter", ...), sends with
 * escrow_send (which pre-runs the call and names a revert with escrow_revert_message) and prints the
 * amounts the contract actually moved, from the event in the receipt. An extend in ERC-20 approves the
 * escrow for the amount first; in the native coin it is msg.value.
 */
#include "cli/advice.h"
#include "cli/cli.h"
#include "cli/session.h"
#include "core/err.h"
#include "core/hex.h"
#include "escrow/client.h"
#include "escrow/mirror.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TX_TIMEOUT_MS 120000u

struct tx_args {
	const char *verb;
	uint64_t id;
	uint64_t hours;
	const char *amount;
	const char *wallet;
};

static int tx_usage(const char *verb)
{
	if (strcmp(verb, "extend") == 0)
		fprintf(stderr, "usage: flopmarket extend RENTAL (--hours N | --amount AMOUNT) [--wallet NAME]\n");
	else
		fprintf(stderr, "usage: flopmarket %s RENTAL [--wallet NAME]\n", verb);
	return EXIT_USAGE;
}

static int tx_parse(struct tx_args *a, int argc, char **argv)
{
	struct err e = { 0 };
	const char *rental = NULL;
	int rc;

	memset(a, 0, sizeof *a);
	a->verb = argv[0];
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--wallet") == 0 && v) {
			a->wallet = v;
			i++;
		} else if (strcmp(f, "--yes") == 0 || strcmp(f, "-y") == 0) {
			/* accepted for symmetry with rent: these commands do not prompt */
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
static int tx_predict(struct escrow_outcome *out, struct cli_session *s, const struct escrow_terms *t,
		      struct escrow_call *c, struct err *e)
{
	struct rpc_block head;
	u256 word;
	int rc;

	if ((rc = escrow_rental_word(&s->rpc, &word, &s->escrow, t, e)) ||
	    (rc = rpc_get_block(&s->rpc, &head, "latest", e)))
		goto out;
	if (u256_is_zero(&word)) {
		rc = err_set(e, ERR_STATE, "rental %" PRIu64 " is closed: nothing left to %s", t->id,
			     c->op == ESCROW_OP_EXTEND ? "extend" : c->op == ESCROW_OP_STOP ? "stop" : "dispute");
		goto out;
	}
	c->now = head.timestamp + 1;
	c->arbiter_window_secs = s->dep.arbiter_window_secs;
	rc = escrow_mirror_apply(out, t, &word, c, e);
	if (rc == ERR_REVERT)
		err_wrap(e, "the escrow would refuse this");
out:
	return rc;
}

int cmd_rental_tx(int argc, char **argv, struct cfg *cfg)
{
	struct tx_args a;
	struct cli_session s;
	struct escrow_terms t;
	struct cli_token tok;
	struct escrow_call call = { 0 };
	struct escrow_outcome pred;
	struct escrow_event ev;
	struct rpc_receipt rcpt = { 0 };
	struct err e = { 0 };
	struct buf cd;
	u256 amount = u256_from_u64(0);
	char t1[160], t2[160], t3[160], tx[67];
	enum escrow_event_kind want;
	int rc;

	if ((rc = tx_parse(&a, argc, argv)))
		return rc;
	buf_init(&cd, ESCROW_CD_MAX);
	if ((rc = cli_session_open(&s, cfg, a.wallet, SESSION_WALLET_UNLOCK, &e)))
		return cli_fail(rc, &e);
	if ((rc = cli_rental_terms(&t, &s, a.id, &e)) || (rc = cli_token_info(&tok, &s, &t.token, &e)))
		goto fail;
	if (!address_equal(&t.renter, &s.address)) {
		char r[ADDRESS_STR_MAX];
		address_to_checksum(r, &t.renter);
		rc = err_set(&e, ERR_AUTH, "rental %" PRIu64 " was opened by %s, not by wallet '%s'", a.id, r,
			     s.wallet_name);
		goto fail;
	}
	if (strcmp(a.verb, "extend") == 0) {
		if (a.amount) {
			if ((rc = u256_parse_units(&amount, a.amount, tok.decimals, &e))) {
				err_wrap(&e, "--amount");
				goto fail;
			}
		} else if ((rc = cli_deposit_for(&amount, &t.rate, a.hours * 3600, &e))) {
			goto fail;
		}
		call.op = ESCROW_OP_EXTEND;
		call.amount = amount;
		want = ESCROW_EV_EXTENDED;
		rc = escrow_cd_extend(&cd, &t, &amount, &e);
	} else if (strcmp(a.verb, "stop") == 0) {
		call.op = ESCROW_OP_STOP;
		want = ESCROW_EV_STOPPED;
		rc = escrow_cd_rental(&cd, ESCROW_FN_STOP, &t, &e);
	} else {
		call.op = ESCROW_OP_DISPUTE;
		want = ESCROW_EV_DISPUTED;
		rc = escrow_cd_rental(&cd, ESCROW_FN_DISPUTE, &t, &e);
	}
	if (rc || (rc = tx_predict(&pred, &s, &t, &call, &e)))
		goto fail;
	if (call.op == ESCROW_OP_EXTEND) {
		u256 bal;
		if ((rc = escrow_token_balance(&s.rpc, &bal, &t.token, &s.address, &e)))
			goto fail;
		if (u256_cmp(&bal, &amount) < 0) {
			cli_token_format(t1, sizeof t1, &tok, &bal);
			cli_token_format(t2, sizeof t2, &tok, &amount);
			rc = err_set(&e, ERR_STATE, "not enough %s: you hold %s but the extension is %s", tok.symbol,
				     t1, t2);
			goto fail;
		}
		if (!tok.native && (rc = cli_approve_escrow(&s, &tok, &amount, TX_TIMEOUT_MS, &e)))
			goto fail;
	}
	fprintf(stderr, "sending %s for rental %" PRIu64 ", waiting for confirmation... ", a.verb, a.id);
	rc = escrow_send(&s.rpc, &rcpt, s.chain_id, s.seckey, &s.escrow,
			 call.op == ESCROW_OP_EXTEND && tok.native ? &amount : NULL, cd.data, cd.len, TX_TIMEOUT_MS,
			 &e);
	if (rc) {
		fputc('\n', stderr);
		err_wrap(&e, "%s", a.verb);
		goto fail;
	}
	fprintf(stderr, "confirmed in block %" PRIu64 "\n", rcpt.block_number);
	hex_encode_0x(tx, rcpt.tx_hash, 32);
	if ((rc = escrow_receipt_event(&ev, &rcpt, &s.escrow, want, &e)))
		goto fail;
	printf("rental:    %" PRIu64 "\n", a.id);
	printf("tx:        %s\n", tx);
	if (want == ESCROW_EV_STOPPED) {
		cli_token_format(t1, sizeof t1, &tok, &ev.payout.refund_amount);
		cli_token_format(t2, sizeof t2, &tok, &ev.payout.provider_amount);
		cli_token_format(t3, sizeof t3, &tok, &ev.payout.fee_amount);
		printf("refund:    %s\nprovider:  %s\nfee:       %s\n", t1, t2, t3);
		/* With a dispute window the provider's share of the end waits in escrow. */
		struct escrow_view v;
		u256 billed;
		if (escrow_state_view(&v, &t, &ev.state, NULL) == 0 &&
		    u256_add(&billed, &v.claimed, &v.held) == 0) {
			/* The provider may have claimed part of it before this stop. */
			cli_token_format(t1, sizeof t1, &tok, &billed);
			printf("billed:    %s for %u s in all (provider and fee, including earlier claims)\n",
			       t1, (unsigned)v.used_secs);
		}
		if (escrow_state_view(&v, &t, &ev.state, NULL) == 0 && !u256_is_zero(&v.held)) {
			cli_token_format(t1, sizeof t1, &tok, &v.held);
			printf("held:      %s until the dispute window closes at %" PRIu64
			       " (then paid to the provider and the fee, unless you dispute)\n",
			       t1, v.ended_at + t.dispute_secs);
		}
	} else if (want == ESCROW_EV_EXTENDED) {
		struct escrow_view v;
		cli_token_format(t1, sizeof t1, &tok, &ev.extended.amount);
		printf("added:     %s\n", t1);
		if (escrow_state_view(&v, &t, &ev.state, NULL) == 0)
			printf("paid until %" PRIu64 "\n", v.paid_until);
	} else {
		printf("disputed:  the held share waits for an uptime attestation or the arbiter\n");
	}
	rpc_receipt_release(&rcpt);
	buf_release(&cd);
	cli_session_release(&s);
	return EXIT_OK;
fail:
	rpc_receipt_release(&rcpt);
	buf_release(&cd);
	cli_session_release(&s);
	cli_revert_advice(&e, a.verb, a.id);
	return cli_fail(rc, &e);
}
