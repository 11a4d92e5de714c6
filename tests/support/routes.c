/*
 * routes.c — in-process server fixture for unit tests (see routes.h).
 */
#include "support/routes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/escrow.h"
#include "eth/eip191.h"
#include "eth/keccak.h"
#include "eth/secp.h"

const char *routes_query(const struct srv_req *r, const char *name)
{
	const struct q *q = r->conn;
	for (size_t i = 0; q && i < q->n; i++)
		if (strcmp(q->kv[i].k, name) == 0)
			return q->kv[i].v;
	return NULL;
}

/* Runs one request; returns the status; *out (optional) gets the JSON body. */
int routes_req(struct server *s, enum srv_method m, const char *path, const char *body, const char *bearer,
	       const struct q *q, json_t **out)
{
	struct srv_req rq;
	struct srv_resp rs;
	memset(&rq, 0, sizeof rq);
	memset(&rs, 0, sizeof rs);
	rq.method = m;
	rq.path = path;
	rq.arg = "";
	rq.body = body ? body : "";
	rq.body_len = body ? strlen(body) : 0;
	rq.bearer = bearer;
	rq.client = "127.0.0.1";
	rq.query = routes_query;
	rq.conn = (void *)q;
	srv_dispatch(s, &rq, &rs);
	int st = rs.status;
	if (rs.view && !rs.json) /* a rendered answer: its text is the JSON the client gets */
		rs.json = json_loadb(rs.view->body, rs.view->len, 0, NULL);
	else if (rs.text && rs.content_type && strcmp(rs.content_type, "application/json") == 0 && !rs.json)
		rs.json = json_loadb(rs.text, rs.text_len, 0, NULL);
	if (out) {
		*out = rs.json;
		rs.json = NULL;
	}
	if (st >= 400)
		assert_non_null(rs.json ? rs.json : (out ? *out : NULL));
	srv_resp_release(&rs);
	return st;
}

struct server *routes_server(void)
{
	struct server *s = calloc(1, sizeof *s);
	struct err e = { 0 };
	assert_non_null(s);
	srv_config_defaults(&s->cfg);
	s->cfg.chain_id = 31337;
	s->cfg.fee_bps = 1000;
	assert_int_equal(address_parse(&s->cfg.escrow, ESCROW_ADDR, &e), 0);
	assert_int_equal(address_parse(&s->cfg.tokens[0].address, USDC_ADDR, &e), 0);
	snprintf(s->cfg.tokens[0].symbol, sizeof s->cfg.tokens[0].symbol, "USDC");
	s->cfg.tokens[0].decimals = 6;
	s->cfg.tokens[0].usd_micro = 1000000;
	s->cfg.n_tokens = 1;
	s->bound_port = 8080;
	assert_int_equal(server_state_init(s, &e), 0);
	assert_int_equal(store_open(&s->store, "sqlite::memory:", &e), 0);
	assert_int_equal(offers_reindex(s, &e), 0);
	return s;
}

/* Anvil's public test keys (the "test test ... junk" mnemonic), test use only. */
const char *const routes_keys[] = {
	"0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
	"0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
};

/* Signs in key i through /auth/nonce + /auth/siwe; returns the token (malloc'd). */
char *routes_sign_in(struct server *s, int i)
{
	uint8_t key[32], sig[65];
	struct eth_address a;
	char addr[ADDRESS_STR_MAX], msg[1024], body[2048], sigh[133], iso[32];
	json_t *j = NULL;
	time_t now = time(NULL);
	struct tm tm;

	assert_int_equal(hex_decode_exact(key, 32, routes_keys[i], NULL), 0);
	secp_address(&a, key, NULL);
	address_to_checksum(addr, &a);
	assert_int_equal(routes_req(s, SRV_GET, "/auth/nonce", NULL, NULL, NULL, &j), 200);
	gmtime_r(&now, &tm);
	strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(msg, sizeof msg,
		 "127.0.0.1:8080 wants you to sign in with your Ethereum account:\n%s\n\nSign in.\n\n"
		 "URI: http://127.0.0.1:8080/login\nVersion: 1\nChain ID: 31337\nNonce: %s\nIssued At: %s",
		 addr, json_string_value(json_object_get(j, "nonce")), iso);
	json_decref(j);
	assert_int_equal(eip191_sign(sig, (const uint8_t *)msg, strlen(msg), key, NULL), 0);
	hex_encode_0x(sigh, sig, 65);
	json_t *b = json_pack("{s:s, s:s}", "message", msg, "signature", sigh);
	char *t = json_dumps(b, JSON_COMPACT);
	snprintf(body, sizeof body, "%s", t);
	free(t);
	json_decref(b);
	assert_int_equal(routes_req(s, SRV_POST, "/auth/siwe", body, NULL, NULL, &j), 200);
	char *tok = strdup(json_string_value(json_object_get(j, "token")));
	json_decref(j);
	/* Replay of the same message and signature: the nonce is spent. */
	assert_int_equal(routes_req(s, SRV_POST, "/auth/siwe", body, NULL, NULL, &j), 409);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
			    "nonce_used");
	json_decref(j);
	return tok;
}


const char *const routes_host_ok =
	"{\"machine_id\":7,\"country\":\"NL\",\"region\":\"ams\",\"cpu_cores\":16,\"ram_gib\":64,"
	"\"disk_gib\":500,\"driver_version\":\"550.54.15\",\"cuda_version\":\"12.4\","
	"\"gpus\":[{\"model\":\"H100_80GB\",\"vram_mib\":81920,\"fp32_mtflops\":67000,\"fp16_mtflops\":989000}]}";

char *routes_offer_body(const char *key_hex, uint64_t chain_id, const char *machine, uint64_t nonce)
{
	struct escrow_offer o;
	uint8_t key[32], sig[65];
	struct eth_address esc;
	char p[43], tok[43], sh[67], sigh[133], buf[2048];

	memset(&o, 0, sizeof o);
	hex_decode_exact(key, 32, routes_keys[1], NULL);
	secp_address(&o.provider, key, NULL);
	o.payout = o.provider;
	address_parse(&o.token, USDC_ADDR, NULL);
	u256_parse_dec(&o.rate, "277777777777777777777", NULL); /* ~1 USDC/h */
	o.min_secs = 60;
	o.max_secs = 3600;
	o.interruptible = true;
	keccak256(o.spec_hash, (const uint8_t *)"h100", 4);
	o.capacity = 1;
	o.max_fee_bps = 1500;
	o.expiry = (uint64_t)time(NULL) + 3600;
	o.nonce = nonce;
	address_parse(&esc, ESCROW_ADDR, NULL);
	hex_decode_exact(key, 32, key_hex, NULL);
	assert_int_equal(escrow_offer_sign(sig, chain_id, &esc, &o, key, NULL), 0);
	address_to_lower(p, &o.provider);
	address_to_lower(tok, &o.token);
	hex_encode_0x(sh, o.spec_hash, 32);
	hex_encode_0x(sigh, sig, 65);
	snprintf(buf, sizeof buf,
		 "{\"machine_id\":%s,\"signature\":\"%s\",\"offer\":{\"provider\":\"%s\",\"payout\":\"%s\","
		 "\"token\":\"%s\",\"arbiter\":\"0x0000000000000000000000000000000000000000\","
		 "\"rate\":\"277777777777777777777\",\"minSecs\":60,\"maxSecs\":3600,\"interruptible\":true,"
		 "\"noticeSecs\":0,\"graceSecs\":0,\"disputeSecs\":0,\"specHash\":\"%s\",\"capacity\":1,"
		 "\"monitor\":\"0x0000000000000000000000000000000000000000\",\"maxFeeBps\":1500,\"expiry\":%" PRIu64
		 ",\"nonce\":%" PRIu64 "}}",
		 machine, sigh, p, p, tok, sh, o.expiry, nonce);
	return strdup(buf);
}


void routes_put_rental(struct server *s, uint64_t id, enum store_rental_state state)
{
	struct store_rental r;
	struct escrow_terms t;
	uint8_t key[32], enc[ESCROW_TERMS_SIZE];
	char hex[2 * ESCROW_TERMS_SIZE + 3];
	struct err e = { 0 };

	memset(&t, 0, sizeof t);
	t.id = id;
	hex_decode_exact(key, 32, routes_keys[1], NULL);
	secp_address(&t.provider, key, NULL);
	t.payout = t.renter = t.provider;
	t.rate = u256_from_u64(1);
	t.epoch = (uint64_t)time(NULL) - 10;
	keccak256(t.spec_hash, (const uint8_t *)"h100", 4);
	address_parse(&t.token, USDC_ADDR, NULL); /* the row's token below is the terms' */
	assert_int_equal(escrow_terms_encode(enc, &t, &e), 0);
	hex_encode_0x(hex, enc, sizeof enc);
	memset(&r, 0, sizeof r);
	r.chain_id = 31337;
	r.id = id;
	address_to_lower(r.renter, &t.renter);
	address_to_lower(r.provider, &t.provider);
	address_to_lower(r.payout, &t.payout);
	address_to_lower(r.token, &t.token);
	strcpy(r.rate, "1");
	strcpy(r.deposited, "3600");
	strcpy(r.claimed, "0");
	strcpy(r.provider_paid, "0");
	strcpy(r.fee_paid, "0");
	strcpy(r.refunded, "0");
	r.state = state;
	r.opened_at = r.paid_until = (int64_t)t.epoch + 1;
	r.opened_block = r.last_block = 1;
	snprintf(r.opened_tx, sizeof r.opened_tx, "0x%064x", (unsigned)id);
	snprintf(r.extra, sizeof r.extra, "{\"terms\":\"%s\"}", hex);
	assert_int_equal(store_rental_upsert(s->store, &r, &e), 0);
}


int routes_get(struct server *s, const char *path, const struct q *q, const char *if_none_match,
	       const char *accept_encoding, struct srv_resp *rs)
{
	struct srv_req rq;

	memset(&rq, 0, sizeof rq);
	memset(rs, 0, sizeof *rs);
	rq.method = SRV_GET;
	rq.path = path;
	rq.arg = "";
	rq.body = "";
	rq.client = "127.0.0.1";
	rq.query = routes_query;
	rq.conn = (void *)q;
	rq.if_none_match = if_none_match;
	rq.accept_encoding = accept_encoding;
	srv_dispatch(s, &rq, rs);
	return rs->status;
}
