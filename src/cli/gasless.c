/*
 * gasless.c — the CLI side of relayed (gasless) open / extend / stop (see gasless.h).
 */
#include "cli/gasless.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli/format.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/escrow.h"
#include "market/api_client.h"

bool gasless_offered(struct api_client *sc)
{
	json_t *o = NULL;
	bool yes = sc && sc->curl && api_request(sc, &o, NULL, "GET", "/relay", NULL, NULL) == 0;

	json_decref(o);
	return yes;
}

static void usd_text(char *out, size_t cap, uint64_t micro)
{
	snprintf(out, cap, "$%" PRIu64 ".%06" PRIu64, micro / 1000000, micro % 1000000);
}

/* The quote of g->kind for `tok` in GET /relay's answer. */
static int read_quote(struct gasless *g, const json_t *info, const struct cli_token *tok, struct err *e)
{
	const json_t *toks = json_object_get(info, "tokens"), *t;
	const char *v;
	size_t i;

	if (json_get_str(&v, info, "relay", ADDRESS_STR_MAX, e) || address_parse(&g->relay, v, e) ||
	    json_get_str(&v, info, "relayer", ADDRESS_STR_MAX, e) || address_parse(&g->relayer, v, e))
		return err_set(e, ERR_INVALID, "the server's GET /relay answer has no relay / relayer address");
	json_array_foreach(toks, i, t) {
		struct eth_address a;
		const json_t *q;
		if (json_get_str(&v, t, "address", ADDRESS_STR_MAX, NULL) || address_parse(&a, v, NULL) ||
		    !address_equal(&a, &tok->address))
			continue;
		q = json_object_get(json_object_get(t, "quotes"), relay_kind_name(g->kind));
		if (json_get_str(&v, q, "error", 512, NULL) == 0)
			return err_set(e, ERR_STATE, "the relayer cannot quote %s in %s now: %s", relay_kind_name(g->kind),
				       tok->symbol, v);
		if (json_get_u256(&g->quote, q, "fee", e))
			return err_set(e, ERR_INVALID, "the server's quote for %s has no fee", tok->symbol);
		json_get_u64(&g->quote_usd_micro, q, "fee_usd_micro", NULL);
		return 0;
	}
	return err_set(e, ERR_STATE, "the server does not relay rentals paid in %s", tok->symbol);
}

int gasless_prepare(struct gasless *g, struct api_client *sc, struct cli_session *s, const struct cli_token *tok,
		    enum relay_kind kind, const u256 *amount, const u256 *incoming, struct err *e)
{
	struct escrow_permit_domain pd;
	struct eth_address onchain;
	json_t *info = NULL;
	struct buf cd;
	u256 need, have, bal, allow, two = u256_from_u64(GASLESS_FEE_HEADROOM);
	char t1[160], t2[160];
	int rc;

	memset(g, 0, sizeof *g);
	g->kind = kind;
	if (tok->native)
		return err_set(e, ERR_INVALID, "--gasless: this rental is paid in the native coin, which pays its own "
			       "gas; --gasless is for ERC-20 tokens (USDC, DAI, ...)");
	if (!sc || !sc->curl)
		return err_set(e, ERR_INVALID, "--gasless needs the server (--server URL or server_url): its "
			       "relayer sends the transaction");
	rc = api_request(sc, &info, NULL, "GET", "/relay", NULL, e);
	if (rc == ERR_NOT_FOUND)
		return err_set(e, ERR_STATE, "this server does not relay rentals (no relayer configured)");
	if (rc || (rc = read_quote(g, info, tok, e))) {
		json_decref(info);
		return rc;
	}
	json_decref(info);
	/* The relay must be the escrow's own: its signature domain and its trust come from the escrow. */
	buf_init(&cd, ESCROW_CD_MAX);
	rc = escrow_cd_getter(&cd, "relay", e);
	if (!rc)
		rc = escrow_call_address(&s->rpc, &onchain, &s->escrow, &cd, e);
	buf_release(&cd);
	if (rc)
		return err_wrap(e, "the escrow's relay"), rc;
	if (!address_equal(&onchain, &g->relay))
		return err_set(e, ERR_STATE, "the server names a relay that is not this escrow's: refusing to sign for it");
	if (u256_mul(&g->max_fee, &g->quote, &two))
		return err_set(e, ERR_RANGE, "the relayer's quote overflows");
	g->max_fee_usd_micro = g->quote_usd_micro * GASLESS_FEE_HEADROOM;
	if (u256_add(&need, amount, &g->max_fee) ||
	    (rc = escrow_token_balance(&s->rpc, &bal, &tok->address, &s->address, e)))
		return rc ? rc : err_set(e, ERR_RANGE, "amount overflows");
	if (u256_add(&have, &bal, incoming))
		return err_set(e, ERR_RANGE, "balance overflows");
	if (u256_cmp(&have, &need) < 0) {
		cli_token_format(t1, sizeof t1, tok, &bal);
		cli_token_format(t2, sizeof t2, tok, &need);
		return err_set(e, ERR_STATE, "not enough %s: you hold %s but this needs up to %s (%s the relayer's "
			       "maximum fee)", tok->symbol, t1, t2, u256_is_zero(amount) ? "" : "the amount plus");
	}
	g->has_permit = escrow_permit_domain_read(&s->rpc, &pd, s->chain_id, &tok->address, &s->address, NULL) == 0;
	if (g->has_permit)
		return 0;
	buf_init(&cd, ESCROW_CD_MAX);
	rc = erc20_cd_allowance(&cd, &s->address, &g->relay, e);
	if (!rc)
		rc = escrow_call_u256(&s->rpc, &allow, &tok->address, &cd, e);
	buf_release(&cd);
	if (rc)
		return rc;
	if (u256_cmp(&allow, &need) < 0) {
		char relay[ADDRESS_STR_MAX];
		address_to_checksum(relay, &g->relay);
		cli_token_format(t2, sizeof t2, tok, &need);
		return err_set(e, ERR_STATE,
			       "%s has no permit (EIP-2612), so a gasless rental in it needs a one-time approval of the "
			       "relay %s for at least %s, and that approval is a transaction: it costs gas. Approve it from "
			       "a wallet that holds gas coin, or rent in a token with permit (USDC, DAI) to pay no gas at all",
			       tok->symbol, relay, t2);
	}
	return 0;
}

void gasless_summary(const struct gasless *g, const struct cli_token *tok, FILE *f)
{
	char t1[160], t2[160], u1[48], u2[48], relayer[ADDRESS_STR_MAX];

	cli_token_format(t1, sizeof t1, tok, &g->max_fee);
	cli_token_format(t2, sizeof t2, tok, &g->quote);
	usd_text(u1, sizeof u1, g->max_fee_usd_micro);
	usd_text(u2, sizeof u2, g->quote_usd_micro);
	address_to_checksum(relayer, &g->relayer);
	fprintf(f, "gas:       paid by the server's relayer %s (you pay no gas coin)\n", relayer);
	if (g->quote_usd_micro)
		fprintf(f, "relayer:   fee at most %s (%s), in %s; quoted now %s (%s)\n", t1, u1, tok->symbol, t2, u2);
	else
		fprintf(f, "relayer:   fee at most %s, in %s; quoted now %s (no USD price known)\n", t1, tok->symbol, t2);
	fprintf(f, "payment:   %s\n", g->has_permit ? "EIP-2612 permit + signed intent (no transaction of yours)"
							: "signed intent, on your existing approval of the relay");
	fflush(f);
}

/* The body of POST /relay/intents. */
static json_t *intent_body(const struct gasless *g, const struct relay_intent *it, const uint8_t sig[65],
			   const struct relay_permit *p, json_t *fields)
{
	char renter[ADDRESS_STR_MAX], n[U256_DEC_MAX], mf[U256_DEC_MAX], am[U256_DEC_MAX], sh[133];
	json_t *b;

	address_to_checksum(renter, &it->renter);
	u256_to_dec(n, &it->nonce);
	u256_to_dec(mf, &it->max_fee);
	u256_to_dec(am, &it->amount);
	hex_encode_0x(sh, sig, 65);
	b = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "kind", relay_kind_name(g->kind), "renter", renter, "nonce", n,
		      "max_fee", mf, "deadline", (json_int_t)it->deadline, "signature", sh);
	if (!b)
		return NULL;
	if (g->kind != RELAY_STOP)
		json_object_set_new(b, "amount", json_string(am));
	if (p) {
		char pv[U256_DEC_MAX], pd[U256_DEC_MAX];
		u256_to_dec(pv, &p->value);
		u256_to_dec(pd, &p->deadline);
		hex_encode_0x(sh, p->sig65, 65);
		json_object_set_new(b, "permit", json_pack("{s:s, s:s, s:s}", "value", pv, "deadline", pd, "signature", sh));
	}
	json_object_update(b, fields);
	return b;
}

/* Follows intent g->intent_id until confirmed (its tx hash in hash) or failed. */
static int follow(struct gasless *g, struct api_client *sc, uint8_t hash[32], struct err *e)
{
	char path[64], last[16] = "";
	uint64_t until = clock_mono_ms() + GASLESS_WAIT_MS;

	snprintf(path, sizeof path, "/relay/intents/%" PRIu64, g->intent_id);
	for (;;) {
		json_t *o = NULL;
		const char *st = NULL, *tx = NULL, *why = NULL, *fee = NULL;
		int rc = api_request(sc, &o, NULL, "GET", path, NULL, e);
		if (rc)
			return err_wrap(e, "relay intent %" PRIu64, g->intent_id), rc;
		json_get_str(&st, o, "state", 15, NULL);
		json_get_str(&tx, o, "tx_hash", 66, NULL);
		if (json_get_str(&fee, o, "fee", U256_DEC_MAX, NULL) == 0)
			u256_parse_dec(&g->fee, fee, NULL);
		if (st && strcmp(st, last) != 0) {
			fprintf(stderr, "%s%s%s%s", last[0] ? " -> " : "relayed:   ", st, tx ? " " : "", tx ? tx : "");
			snprintf(last, sizeof last, "%s", st);
		}
		if (st && strcmp(st, "confirmed") == 0) {
			rc = tx ? hex_decode_exact(hash, 32, tx, e) : err_set(e, ERR_INVALID, "confirmed without a tx hash");
			json_decref(o);
			fputc('\n', stderr);
			return rc;
		}
		if (st && strcmp(st, "failed") == 0) {
			json_get_str(&why, o, "error", 1024, NULL);
			rc = err_set(e, ERR_STATE, "the relayer could not run it: %s", why ? why : "no reason given");
			json_decref(o);
			fputc('\n', stderr);
			return rc;
		}
		json_decref(o);
		if (clock_mono_ms() > until) {
			fputc('\n', stderr);
			return err_set(e, ERR_TIMEOUT, "relay intent %" PRIu64 " is still %s after %u s; "
				       "GET /relay/intents/%" PRIu64 " follows it", g->intent_id, last, GASLESS_WAIT_MS / 1000,
				       g->intent_id);
		}
		clock_sleep_ms(400);
	}
}

int gasless_send(struct gasless *g, struct api_client *sc, struct cli_session *s, const struct cli_token *tok,
		 const u256 *amount, const uint8_t target[32], json_t *fields, struct rpc_receipt *rcpt,
		 struct err *e)
{
	struct relay_intent it;
	struct relay_permit p;
	struct rpc_block head;
	uint8_t sig[65], hash[32], rnd[8];
	json_t *body, *ans = NULL;
	uint64_t nonce;
	int rc;

	if ((rc = rpc_get_block(&s->rpc, &head, "latest", e)))
		return rc;
	memset(&it, 0, sizeof it);
	it.kind = g->kind;
	it.renter = s->address;
	memcpy(it.target, target, 32);
	it.amount = g->kind == RELAY_STOP ? u256_from_u64(0) : *amount;
	it.max_fee = g->max_fee;
	randombytes_buf(rnd, sizeof rnd);
	memcpy(&nonce, rnd, sizeof nonce);
	it.nonce = u256_from_u64(nonce);
	it.deadline = head.timestamp + GASLESS_DEADLINE_S;
	memset(&p, 0, sizeof p);
	if (g->has_permit) {
		if (u256_add(&p.value, &it.amount, &g->max_fee))
			return err_set(e, ERR_RANGE, "permit value overflows");
		p.deadline = u256_from_u64(it.deadline);
		if ((rc = escrow_permit_sign_for(&s->rpc, p.sig65, s->chain_id, &tok->address, &g->relay, &p.value,
						 &p.deadline, s->seckey, e)))
			return rc;
	}
	if ((rc = relay_intent_sign(sig, s->chain_id, &g->relay, &it, s->seckey, e)))
		return rc;
	body = intent_body(g, &it, sig, g->has_permit ? &p : NULL, fields);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = api_request(sc, &ans, NULL, "POST", "/relay/intents", text, e);
	free(text);
	if (rc)
		return err_wrap(e, "the relayer refused the intent"), rc;
	rc = json_get_id(&g->intent_id, ans, "id", e);
	json_decref(ans);
	if (rc || (rc = follow(g, sc, hash, e)))
		return rc;
	return rpc_get_receipt(&s->rpc, rcpt, hash, e);
}

json_t *gasless_json(const struct gasless *g)
{
	char relayer[ADDRESS_STR_MAX];

	address_to_checksum(relayer, &g->relayer);
	return json_pack("{s:I, s:s, s:o, s:o}", "intent_id", (json_int_t)g->intent_id, "relayer", relayer, "fee",
			 cli_json_units(&g->fee), "max_fee", cli_json_units(&g->max_fee));
}
