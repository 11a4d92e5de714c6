/*
 * cmd_wallet.c — `flopmarket wallet ...`: the renter's and provider's keys.
 *
 *   wallet new     [--wallet NAME] [--no-mnemonic]  a fresh 12-word recovery phrase, shown once (or a bare key)
 *   wallet import  --mnemonic [--index N] | --private-key   [--wallet NAME]
 *   wallet show    [--wallet NAME]                  address and file
 *   wallet balance [--wallet NAME] [--token SYMBOL|0xADDR ...]   the gas coin and every token of the
 *                                                    chain's deployment (or the tokens named)
 *   wallet send    --to 0xADDR --amount AMOUNT [--token SYMBOL|0xADDR] [--wallet NAME] [--yes]
 *                                                    the gas coin or a token to an address, after the figures
 *   wallet derive  [--index N]                      address of a mnemonic
 *
 * Secrets never come from argv (visible in `ps`): a mnemonic or private key
 * is read from FLOPMARKET_MNEMONIC / FLOPMARKET_PRIVATE_KEY or the first
 * line of stdin; the passphrase from FLOPMARKET_PASSPHRASE or a prompt.
 * Keys are never printed or logged, and wiped after use.
 */
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/session.h"
#include "cli/wallet_file.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/u256.h"
#include "escrow/client.h"
#include "escrow/escrow.h"
#include "eth/address.h"
#include "eth/bip32.h"
#include "eth/bip39.h"
#include "eth/rpc.h"
#include "eth/secp.h"
#include "market/offer.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALLET_MAX_TOKENS 8

struct wallet_args {
	const char *name;              /* --wallet, default "default" */
	unsigned long index;           /* --index for mnemonics */
	int mnemonic;                  /* import --mnemonic */
	int private_key;               /* import --private-key */
	int no_mnemonic;               /* new --no-mnemonic: a bare random key, no recovery phrase */
	const char *tokens[WALLET_MAX_TOKENS]; /* balance --token, send --token */
	size_t n_tokens;
	const char *to, *amount;       /* send --to, --amount */
	int yes;                       /* send --yes */
	int json;                      /* balance --json */
};

static int wallet_usage(void)
{
	fprintf(stderr,
		"usage: flopmarket wallet new [--wallet NAME] [--no-mnemonic]\n"
		"       flopmarket wallet import (--mnemonic [--index N] | --private-key) [--wallet NAME]\n"
		"       flopmarket wallet show [--wallet NAME]\n"
		"       flopmarket wallet balance [--wallet NAME] [--token SYMBOL|0xADDRESS]... [--json]\n"
		"       flopmarket wallet send --to 0xADDRESS --amount AMOUNT [--token SYMBOL|0xADDRESS] [--wallet NAME] [--yes]\n"
		"       flopmarket wallet derive [--index N]\n"
		"secrets come from FLOPMARKET_MNEMONIC / FLOPMARKET_PRIVATE_KEY or stdin,\n"
		"the passphrase from FLOPMARKET_PASSPHRASE or a prompt.\n");
	return EXIT_USAGE;
}

static int wallet_fail(int rc, const struct err *e)
{
	fprintf(stderr, "flopmarket: %s\n", e->msg[0] ? e->msg : err_str(rc));
	return cli_exit_for(rc);
}

static int wallet_parse_args(struct wallet_args *a, int argc, char **argv)
{
	memset(a, 0, sizeof *a);
	a->name = "default";
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(arg, "--mnemonic") == 0) {
			a->mnemonic = 1;
		} else if (strcmp(arg, "--private-key") == 0) {
			a->private_key = 1;
		} else if (strcmp(arg, "--no-mnemonic") == 0) {
			a->no_mnemonic = 1;
		} else if (strcmp(arg, "--yes") == 0) {
			a->yes = 1;
		} else if (strcmp(arg, "--json") == 0) {
			a->json = 1;
		} else if (strcmp(arg, "--to") == 0 && val) {
			a->to = argv[++i];
		} else if (strcmp(arg, "--amount") == 0 && val) {
			a->amount = argv[++i];
		} else if (strcmp(arg, "--wallet") == 0 && val) {
			a->name = argv[++i];
		} else if (strcmp(arg, "--token") == 0 && val) {
			if (a->n_tokens == WALLET_MAX_TOKENS) {
				fprintf(stderr, "flopmarket: at most %d --token\n", WALLET_MAX_TOKENS);
				return EXIT_INPUT;
			}
			a->tokens[a->n_tokens++] = argv[++i];
		} else if (strcmp(arg, "--index") == 0 && val) {
			char *end;
			errno = 0;
			a->index = strtoul(argv[++i], &end, 10);
			if (errno || *end || argv[i][0] < '0' || argv[i][0] > '9' ||
			    a->index >= 0x80000000ul) {
				fprintf(stderr, "flopmarket: --index must be a whole number below 2^31\n");
				return EXIT_INPUT;
			}
		} else {
			return wallet_usage();
		}
	}
	return EXIT_OK;
}

/* A secret from the environment variable `env` or the first stdin line. */
static int wallet_read_secret(char *buf, size_t cap, const char *env_name, struct err *e)
{
	const char *env = getenv(env_name);
	size_t n;

	if (env) {
		if (strlen(env) >= cap)
			return err_set(e, ERR_TOO_BIG, "%s is too long", env_name);
		memcpy(buf, env, strlen(env) + 1);
		return 0;
	}
	if (!fgets(buf, (int)cap, stdin))
		return err_set(e, ERR_INVALID, "nothing to read: set %s or pipe it on stdin", env_name);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n == cap - 1)
		return err_set(e, ERR_TOO_BIG, "input is too long");
	return 0;
}

static int wallet_key_from_mnemonic(uint8_t key[32], unsigned long index, struct err *e)
{
	char mnemonic[BIP39_INPUT_MAX + 2];
	int rc = wallet_read_secret(mnemonic, sizeof mnemonic, "FLOPMARKET_MNEMONIC", e);

	if (!rc) {
		rc = bip32_eth_key_from_mnemonic(key, mnemonic, NULL, (uint32_t)index, e);
		if (rc)
			err_wrap(e, "mnemonic");
	}
	sodium_memzero(mnemonic, sizeof mnemonic);
	return rc;
}

static int wallet_key_from_hex(uint8_t key[32], struct err *e)
{
	char text[200];
	int rc = wallet_read_secret(text, sizeof text, "FLOPMARKET_PRIVATE_KEY", e);

	if (!rc && (rc = hex_decode_exact(key, 32, text, NULL)))
		rc = err_set(e, ERR_INVALID, "private key must be 32 bytes of hex (64 digits)");
	if (!rc && !secp_seckey_valid(key))
		rc = err_set(e, ERR_INVALID, "private key is out of range for secp256k1");
	sodium_memzero(text, sizeof text);
	return rc;
}

static unsigned wallet_scrypt_log2n(const struct cfg *cfg)
{
	uint64_t v;

	if (!cfg_get(cfg, "keystore_scrypt_log2_n") ||
	    cfg_get_u64(cfg, "keystore_scrypt_log2_n", &v, NULL) || v < 10 || v > 18)
		return 0; /* keystore default: 2^18 */
	return (unsigned)v;
}

/* Encrypts `key` into the named wallet and prints its address. */
static int wallet_store_key(const struct wallet_args *a, const struct cfg *cfg, uint8_t key[32])
{
	char path[WALLET_PATH_MAX], pass[WALLET_PASS_MAX + 2], text[ADDRESS_STR_MAX];
	struct eth_address addr;
	struct err e = { 0 };
	int rc;

	rc = wallet_path(path, sizeof path, cfg, a->name, &e);
	if (!rc)
		rc = secp_address(&addr, key, &e);
	if (!rc) {
		char prompt[WALLET_NAME_MAX + 48];
		snprintf(prompt, sizeof prompt, "New passphrase for wallet '%s': ", a->name);
		rc = wallet_passphrase(pass, sizeof pass, prompt, true, &e);
	}
	if (!rc)
		rc = wallet_save(path, key, pass, wallet_scrypt_log2n(cfg), &e);
	sodium_memzero(pass, sizeof pass);
	sodium_memzero(key, 32);
	if (rc)
		return wallet_fail(rc, &e);
	address_to_checksum(text, &addr);
	printf("wallet:  %s\naddress: %s\nfile:    %s\n", a->name, text, path);
	return EXIT_OK;
}

/*
 * A new wallet: from a fresh 12-word BIP-39 recovery phrase (its first Ethereum account,
 * m/44'/60'/0'/0/0, as MetaMask derives it), shown once on stderr with what it is for; or, with
 * --no-mnemonic, a bare random key (then the keystore file is the only copy).
 */
static int wallet_new(const struct wallet_args *a, const struct cfg *cfg)
{
	char words[BIP39_MNEMONIC_MAX];
	uint8_t key[32];
	struct err e = { 0 };
	int rc;

	if (a->no_mnemonic) {
		if ((rc = secp_seckey_generate(key, &e)))
			return wallet_fail(rc, &e);
		fprintf(stderr, "no recovery phrase: back up the wallet file below (and its passphrase), it is the only "
				"copy of the key\n");
		return wallet_store_key(a, cfg, key);
	}
	if ((rc = bip39_mnemonic_generate(words, sizeof words, 12, &e)) ||
	    (rc = bip32_eth_key_from_mnemonic(key, words, NULL, 0, &e))) {
		sodium_memzero(words, sizeof words);
		return wallet_fail(rc, &e);
	}
	rc = wallet_store_key(a, cfg, key);
	if (rc == EXIT_OK)
		fprintf(stderr,
			"\nrecovery phrase of wallet '%s' (shown this once; write it down and keep it offline; anyone who\n"
			"has it has the wallet, and with it `flopmarket wallet import --mnemonic` or any BIP-39 wallet\n"
			"brings it back):\n\n  %s\n\n",
			a->name, words);
	sodium_memzero(words, sizeof words);
	return rc;
}

static int wallet_import(const struct wallet_args *a, const struct cfg *cfg)
{
	uint8_t key[32];
	struct err e = { 0 };
	int rc;

	if (a->mnemonic == a->private_key)
		return wallet_usage();
	rc = a->mnemonic ? wallet_key_from_mnemonic(key, a->index, &e) : wallet_key_from_hex(key, &e);
	if (rc) {
		sodium_memzero(key, sizeof key);
		return wallet_fail(rc, &e);
	}
	return wallet_store_key(a, cfg, key);
}

static int wallet_show(const struct wallet_args *a, const struct cfg *cfg)
{
	char path[WALLET_PATH_MAX], text[ADDRESS_STR_MAX];
	struct eth_address addr;
	struct err e = { 0 };
	int rc = wallet_path(path, sizeof path, cfg, a->name, &e);

	if (!rc)
		rc = wallet_address(&addr, path, &e);
	if (rc)
		return wallet_fail(rc, &e);
	address_to_checksum(text, &addr);
	printf("wallet:  %s\naddress: %s\nfile:    %s\n", a->name, text, path);
	return EXIT_OK;
}

/* A token's symbol() (printable ASCII; "?" when it has none) and decimals(). */
static int token_facts(char symbol[16], uint64_t *decimals, struct rpc *rpc, const struct eth_address *token,
		       struct err *e)
{
	struct buf cd, ret;
	u256 dec;
	int rc;

	snprintf(symbol, 16, "?");
	buf_init(&cd, ESCROW_CD_MAX);
	buf_init(&ret, ESCROW_RET_MAX);
	rc = erc20_cd_getter(&cd, "decimals", e);
	if (!rc)
		rc = escrow_call_u256(rpc, &dec, token, &cd, e);
	if (!rc && (u256_to_u64(decimals, &dec) || *decimals > 77))
		rc = err_set(e, ERR_RANGE, "decimals() out of range");
	buf_reset(&cd);
	if (!rc && !erc20_cd_getter(&cd, "symbol", NULL) &&
	    !escrow_eth_call(rpc, &ret, NULL, token, cd.data, cd.len, NULL) &&
	    !escrow_ret_string(symbol, 16, ret.data, ret.len, NULL)) {
		for (char *c = symbol; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				*c = '?';
	}
	buf_release(&cd);
	buf_release(&ret);
	return rc;
}

/* Prints one ERC-20 balance: symbol, amount in whole tokens, the token's address and decimals. */
/* One token's balance: a line, or (json) an object appended to the array. */
static int wallet_token_balance(struct rpc *rpc, const struct eth_address *owner, const struct eth_address *token,
				json_t *json)
{
	struct err e = { 0 };
	char amount[U256_DEC_MAX + 2], symbol[16], text[ADDRESS_STR_MAX];
	uint64_t decimals = 0;
	u256 bal;
	int rc;

	address_to_checksum(text, token);
	if (!(rc = token_facts(symbol, &decimals, rpc, token, &e)))
		rc = escrow_token_balance(rpc, &bal, token, owner, &e);
	if (rc) {
		fprintf(stderr, "flopmarket: token %s: %s (is it an ERC-20 on this chain?)\n", text, e.msg);
		return cli_exit_for(rc);
	}
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:i}", "token", text, "symbol", symbol, "decimals", (int)decimals);
		if (o)
			json_object_set_new(o, "balance", cli_json_units(&bal));
		return o && !json_array_append_new(json, o) ? EXIT_OK : EXIT_FAIL;
	}
	u256_format_units(amount, &bal, (unsigned)decimals);
	printf("%-8s %s (token %s, %u decimals)\n", symbol, amount, text, (unsigned)decimals);
	return EXIT_OK;
}

/* The tokens of the chain's deployment file (every contract but the escrow), when there is one. */
static size_t deployment_tokens(struct eth_address *out, size_t cap, const struct cfg *cfg, const char *wallet)
{
	struct cli_session s;
	struct err e = { 0 };
	size_t n = 0;

	if (cli_session_open(&s, cfg, wallet, SESSION_WALLET_ADDRESS, &e))
		return 0;
	for (size_t i = 0; i < s.dep.n && n < cap; i++)
		if (strcmp(s.dep.c[i].name, "RentalEscrow") != 0)
			out[n++] = s.dep.c[i].address;
	cli_session_release(&s);
	return n;
}

/* --token: a 0x address, or the symbol of one of the deployment's tokens ("USDC" finds dUSDC too). */
static int resolve_token(struct eth_address *out, struct rpc *rpc, const char *text, const struct eth_address *dep,
			 size_t ndep)
{
	struct err e = { 0 };
	char symbol[16], known[200] = "";
	size_t len = 0;
	uint64_t decimals;

	if (strncmp(text, "0x", 2) == 0 || strncmp(text, "0X", 2) == 0) {
		if (address_parse(out, text, &e)) {
			fprintf(stderr, "flopmarket: --token: %s\n", e.msg);
			return EXIT_INPUT;
		}
		return EXIT_OK;
	}
	for (size_t i = 0; i < ndep; i++) {
		if (token_facts(symbol, &decimals, rpc, &dep[i], NULL))
			continue;
		if (offer_token_matches(symbol, text, strlen(text))) {
			*out = dep[i];
			return EXIT_OK;
		}
		if (len + strlen(symbol) + 3 < sizeof known)
			len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", len ? ", " : "", symbol);
	}
	fprintf(stderr, "flopmarket: --token %.40s: %s; or give the token's 0x address\n", text,
		ndep ? "not a token of this chain's deployment" : "no deployment file for this chain names tokens");
	if (len)
		fprintf(stderr, "  the deployment's tokens: %s\n", known);
	return EXIT_INPUT;
}

static int wallet_balance(const struct wallet_args *a, const struct cfg *cfg)
{
	char path[WALLET_PATH_MAX], text[ADDRESS_STR_MAX], amount[U256_DEC_MAX + 2];
	struct eth_address addr, dep[ESCROW_DEPLOY_MAX], tok;
	struct rpc rpc;
	struct err e = { 0 };
	json_t *tokens = NULL;
	uint64_t chain_id = 0;
	size_t ndep;
	u256 wei;
	int rc = wallet_path(path, sizeof path, cfg, a->name, &e), status = EXIT_OK;

	if (!rc)
		rc = wallet_address(&addr, path, &e);
	if (rc)
		return wallet_fail(rc, &e);
	if ((rc = rpc_init(&rpc, cfg_get(cfg, "rpc_url"), NULL, &e)))
		return wallet_fail(rc, &e);
	rc = rpc_get_balance(&rpc, &wei, &addr, "latest", &e);
	if (!rc && a->json)
		rc = rpc_chain_id(&rpc, &chain_id, &e);
	if (rc) {
		fprintf(stderr, "flopmarket: cannot reach the chain at %s: %s\n",
			cfg_get(cfg, "rpc_url"), e.msg);
		rpc_release(&rpc);
		return cli_exit_for(rc);
	}
	ndep = deployment_tokens(dep, ESCROW_DEPLOY_MAX, cfg, a->name);
	address_to_checksum(text, &addr);
	u256_format_units(amount, &wei, 18);
	if (a->json && !(tokens = json_array())) {
		rpc_release(&rpc);
		return EXIT_FAIL;
	}
	if (!a->json)
		printf("address  %s\nnative   %s (gas coin, 18 decimals)\n", text, amount);
	if (a->n_tokens) { /* the tokens asked for */
		for (size_t i = 0; i < a->n_tokens; i++) {
			int r = resolve_token(&tok, &rpc, a->tokens[i], dep, ndep);
			if (!r)
				r = wallet_token_balance(&rpc, &addr, &tok, tokens);
			if (r)
				status = r;
		}
	} else { /* every token of the chain's deployment */
		for (size_t i = 0; i < ndep; i++) {
			int r = wallet_token_balance(&rpc, &addr, &dep[i], tokens);
			if (r)
				status = r;
		}
		if (!ndep)
			fprintf(stderr, "(no deployment file for this chain: only the gas coin; --token 0xADDRESS for a token)\n");
	}
	if (tokens && status == EXIT_OK) {
		json_t *native = json_pack("{s:s, s:i, s:o}", "symbol", cli_native_symbol(chain_id), "decimals", 18,
					   "balance", cli_json_units(&wei));
		status = cli_json_print(json_pack("{s:s, s:I, s:o, s:O}", "address", text, "chain_id",
						  (json_int_t)chain_id, "native", native, "tokens", tokens));
	}
	json_decref(tokens);
	rpc_release(&rpc);
	return status;
}

#define SEND_TIMEOUT_MS 120000u

/*
 * Sends the gas coin (no --token) or a token (ERC-20 transfer) to --to: checks the address and the
 * amount, shows the amount, the recipient, the gas at most and the balances after, asks (--yes skips),
 * sends and prints the transaction. Nothing is sent when a check fails or the answer is not yes.
 */
static int wallet_send(const struct wallet_args *a, const struct cfg *cfg)
{
	struct eth_address to, dep[ESCROW_DEPLOY_MAX], tok;
	struct cli_session s;
	struct cli_token t = { 0 };
	struct rpc_receipt rc_ = { 0 };
	struct err e = { 0 };
	struct buf cd;
	char t1[160], t2[160], t3[160], text[ADDRESS_STR_MAX], hash[67];
	u256 amount, bal, gas_bal, max_fee, tip, gas_cost, need, zero = u256_from_u64(0);
	uint64_t gas = 0;
	size_t ndep = 0;
	int rc;

	if (!a->to || !a->amount || a->n_tokens > 1) {
		fprintf(stderr, "flopmarket: wallet send needs --to 0xADDRESS and --amount AMOUNT (and at most one --token)\n");
		return EXIT_USAGE;
	}
	if ((rc = address_parse(&to, a->to, &e))) {
		fprintf(stderr, "flopmarket: --to: %s\n", e.msg);
		return EXIT_INPUT;
	}
	if (address_is_zero(&to)) {
		fprintf(stderr, "flopmarket: --to: the zero address burns what it gets; give a real recipient\n");
		return EXIT_INPUT;
	}
	if (a->n_tokens)
		ndep = deployment_tokens(dep, ESCROW_DEPLOY_MAX, cfg, a->name);
	if ((rc = cli_session_open(&s, cfg, a->name, SESSION_WALLET_UNLOCK | SESSION_NO_DEPLOYMENT, &e)))
		return cli_fail(rc, &e);
	buf_init(&cd, ESCROW_CD_MAX);
	memset(&tok, 0, sizeof tok);
	if (a->n_tokens && (rc = resolve_token(&tok, &s.rpc, a->tokens[0], dep, ndep))) {
		cli_session_release(&s);
		buf_release(&cd);
		return rc;
	}
	if ((rc = cli_token_info(&t, &s, &tok, &e)))
		goto out;
	if ((rc = u256_parse_units(&amount, a->amount, t.decimals, &e))) {
		err_wrap(&e, "--amount (in %s, up to %u decimals)", t.symbol, t.decimals);
		goto out;
	}
	if (u256_is_zero(&amount)) {
		rc = err_set(&e, ERR_INVALID, "--amount: zero; give a positive amount");
		goto out;
	}
	if ((rc = escrow_token_balance(&s.rpc, &bal, &tok, &s.address, &e)) ||
	    (rc = rpc_get_balance(&s.rpc, &gas_bal, &s.address, "latest", &e)) ||
	    (rc = rpc_suggest_fees(&s.rpc, &max_fee, &tip, &e)))
		goto out;
	if (u256_cmp(&bal, &amount) < 0) {
		cli_token_format(t1, sizeof t1, &t, &bal);
		cli_token_format(t2, sizeof t2, &t, &amount);
		rc = err_set(&e, ERR_STATE, "not enough %s: you hold %s, the send is %s", t.symbol, t1, t2);
		goto out;
	}
	{
		struct rpc_call_msg m = { .has_from = true, .from = s.address, .has_to = true };
		if (t.native) {
			m.to = to;
			m.has_value = true;
			m.value = amount;
		} else {
			if ((rc = erc20_cd_transfer(&cd, &to, &amount, &e)))
				goto out;
			m.to = tok;
			m.data = cd.data;
			m.data_len = cd.len;
		}
		if ((rc = rpc_estimate_gas(&s.rpc, &gas, &m, &e))) {
			err_wrap(&e, "the transfer would fail");
			goto out;
		}
		gas += gas / 5;
	}
	{
		u256 g = u256_from_u64(gas);
		if (u256_mul(&gas_cost, &g, &max_fee) || u256_add(&need, &gas_cost, t.native ? &amount : &zero)) {
			rc = err_set(&e, ERR_RANGE, "the gas cost overflows");
			goto out;
		}
	}
	struct cli_token native = { .native = true, .decimals = 18 };
	snprintf(native.symbol, sizeof native.symbol, "%s", cli_native_symbol(s.chain_id));
	if (u256_cmp(&gas_bal, &need) < 0) {
		cli_token_format(t1, sizeof t1, &native, &gas_bal);
		cli_token_format(t2, sizeof t2, &native, &need);
		rc = err_set(&e, ERR_STATE, "not enough %s for this: you hold %s, it needs up to %s with the gas", native.symbol,
			     t1, t2);
		goto out;
	}
	address_to_checksum(text, &to);
	cli_token_format(t1, sizeof t1, &t, &amount);
	cli_token_format(t2, sizeof t2, &native, &gas_cost);
	u256_sub(&bal, &bal, &amount);
	cli_token_format(t3, sizeof t3, &t, &bal);
	printf("send:      %s\nto:        %s\ngas:       at most %s (%" PRIu64 " gas)\n%s after:  %s\n", t1, text, t2, gas,
	       t.symbol, t3);
	fflush(stdout);
	if (!a->yes && !cli_confirm()) {
		fprintf(stderr, "flopmarket: not confirmed (use --yes in scripts); nothing was sent\n");
		cli_session_release(&s);
		buf_release(&cd);
		return EXIT_FAIL;
	}
	fprintf(stderr, "sending, waiting for confirmation... ");
	rc = escrow_send(&s.rpc, &rc_, s.chain_id, s.seckey, t.native ? &to : &tok, t.native ? &amount : NULL,
			 t.native ? NULL : cd.data, t.native ? 0 : cd.len, SEND_TIMEOUT_MS, &e);
	if (rc) {
		fputc('\n', stderr);
		goto out;
	}
	fprintf(stderr, "confirmed in block %" PRIu64 "\n", rc_.block_number);
	hex_encode_0x(hash, rc_.tx_hash, 32);
	printf("tx:        %s\n", hash);
out:
	rpc_receipt_release(&rc_);
	buf_release(&cd);
	cli_session_release(&s);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}

static int wallet_derive(const struct wallet_args *a)
{
	uint8_t key[32];
	struct eth_address addr;
	char text[ADDRESS_STR_MAX];
	struct err e = { 0 };
	int rc = wallet_key_from_mnemonic(key, a->index, &e);

	if (!rc)
		rc = secp_address(&addr, key, &e);
	sodium_memzero(key, sizeof key);
	if (rc)
		return wallet_fail(rc, &e);
	address_to_checksum(text, &addr);
	printf("%s\n", text);
	return EXIT_OK;
}

int cmd_wallet(int argc, char **argv, struct cfg *cfg)
{
	struct wallet_args a;
	int rc;

	if (argc < 2)
		return wallet_usage();
	if ((rc = wallet_parse_args(&a, argc, argv)))
		return rc;
	if (strcmp(argv[1], "new") == 0)
		return wallet_new(&a, cfg);
	if (strcmp(argv[1], "import") == 0)
		return wallet_import(&a, cfg);
	if (strcmp(argv[1], "show") == 0)
		return wallet_show(&a, cfg);
	if (strcmp(argv[1], "balance") == 0)
		return wallet_balance(&a, cfg);
	if (strcmp(argv[1], "send") == 0)
		return wallet_send(&a, cfg);
	if (strcmp(argv[1], "derive") == 0)
		return wallet_derive(&a);
	return wallet_usage();
}
