/*
 * chain_faucet.c — `flopmarket chain faucet --to 0xADDRESS [--wallet NAME] [--coin AMOUNT] [--tokens N]`:
 * funds a new wallet on a dev chain (chain id 31337 or 1337) so that it can rent at once: mints N whole
 * tokens (default 1000) of each dev token of the deployment (DevUSDC, DevUSDT, DevDAI: their mint is open
 * to anyone, for dev use only) to the address, and sends it AMOUNT of the gas coin (default 1) from
 * --wallet. Refused on any other chain: real tokens have no faucet. Dispatched from cmd_chain.
 */
#include "cli/cli.h"
#include "cli/session.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/u256.h"
#include "escrow/client.h"
#include "escrow/escrow.h"
#include "eth/address.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define FAUCET_TIMEOUT_MS 120000u
#define FAUCET_TOKENS_MAX 1000000

static int faucet_usage(void)
{
	fprintf(stderr, "usage: flopmarket chain faucet --to 0xADDRESS [--wallet NAME] [--coin AMOUNT] [--tokens N]\n"
			"  dev chains only: mints N (1000) of each dev token to the address and sends it AMOUNT (1)\n"
			"  of the gas coin from the wallet\n");
	return EXIT_USAGE;
}

/* One transaction from the session's wallet; "what" names it in messages. */
static int faucet_send(struct cli_session *s, const struct eth_address *to, const u256 *value, const struct buf *cd,
		       const char *what, struct err *e)
{
	struct rpc_receipt r = { 0 };
	int rc = escrow_send(&s->rpc, &r, s->chain_id, s->seckey, to, value, cd ? cd->data : NULL, cd ? cd->len : 0,
			     FAUCET_TIMEOUT_MS, e);

	if (rc)
		err_wrap(e, "%s", what);
	rpc_receipt_release(&r);
	return rc;
}

int chain_faucet(int argc, char **argv, struct cfg *cfg)
{
	const char *to_s = NULL, *wallet = NULL, *coin = "1";
	uint64_t whole = 1000;
	struct eth_address to;
	struct cli_session s;
	struct err e = { 0 };
	struct buf cd;
	u256 wei;
	int rc, minted = 0;

	for (int i = 2; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return faucet_usage();
		if (strcmp(f, "--to") == 0)
			to_s = v;
		else if (strcmp(f, "--wallet") == 0)
			wallet = v;
		else if (strcmp(f, "--coin") == 0)
			coin = v;
		else if (strcmp(f, "--tokens") == 0) {
			if ((rc = cli_parse_uint(&whole, "--tokens", v, 0, FAUCET_TOKENS_MAX, &e)))
				return cli_fail(rc, &e);
		} else
			return faucet_usage();
		i++;
	}
	if (!to_s)
		return faucet_usage();
	if ((rc = address_parse(&to, to_s, &e))) {
		err_wrap(&e, "--to");
		return cli_fail(rc, &e);
	}
	if ((rc = u256_parse_units(&wei, coin, 18, &e))) {
		err_wrap(&e, "--coin");
		return cli_fail(rc, &e);
	}
	if ((rc = cli_session_open(&s, cfg, wallet, SESSION_WALLET_UNLOCK, &e)))
		return cli_fail(rc, &e);
	if (s.chain_id != 31337 && s.chain_id != 1337) {
		cli_session_release(&s);
		return cli_fail(err_set(&e, ERR_STATE, "chain %" PRIu64 " is not a dev chain: real tokens have no faucet",
					s.chain_id), &e);
	}
	buf_init(&cd, ESCROW_CD_MAX);
	for (size_t i = 0; i < s.dep.n && !rc; i++) {
		struct cli_token t;
		u256 amount, scale = u256_from_u64(1), ten = u256_from_u64(10), w = u256_from_u64(whole);
		if (strncmp(s.dep.c[i].name, "Dev", 3) != 0 || !whole)
			continue;
		if ((rc = cli_token_info(&t, &s, &s.dep.c[i].address, &e)))
			break;
		for (unsigned d = 0; d < t.decimals; d++)
			u256_mul(&scale, &scale, &ten);
		buf_reset(&cd);
		if ((rc = u256_mul(&amount, &w, &scale)) || (rc = erc20_cd_mint(&cd, &to, &amount, &e)) ||
		    (rc = faucet_send(&s, &s.dep.c[i].address, NULL, &cd, t.symbol, &e)))
			break;
		printf("minted:    %" PRIu64 " %s\n", whole, t.symbol);
		minted++;
	}
	if (!rc && !u256_is_zero(&wei) && !(rc = faucet_send(&s, &to, &wei, NULL, "the gas coin", &e)))
		printf("sent:      %s %s (gas coin)\n", coin, cli_native_symbol(s.chain_id));
	if (!rc) {
		char text[ADDRESS_STR_MAX];
		address_to_checksum(text, &to);
		printf("to:        %s%s\n", text, minted ? "" : " (no dev tokens in this deployment)");
	}
	buf_release(&cd);
	cli_session_release(&s);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}
