/*
 * session.c — opening the RPC client, deployment and wallet for a CLI command, with the wrong-network
 * guard, and the local rental records (see session.h).
 */
#include "cli/session.h"

#include "cli/cli.h"
#include "core/err.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RENTAL_FILE_MAX ((size_t)16 << 10) /* largest local rental record read */

const char *cli_native_symbol(uint64_t chain_id)
{
	switch (chain_id) {
	case 137: case 80001: case 80002: return "MATIC";
	case 56: case 97: return "BNB";
	case 43114: case 43113: return "AVAX";
	case 100: return "xDAI";
	default: return "ETH";
	}
}

int cli_fail(int rc, const struct err *e)
{
	fprintf(stderr, "flopmarket: %s\n", e && e->msg[0] ? e->msg : err_str(rc));
	return cli_exit_for(rc);
}

int cli_parse_uint(uint64_t *out, const char *what, const char *text, uint64_t lo, uint64_t hi, struct err *e)
{
	char *end = NULL;
	unsigned long long v;

	/* digits only: no sign, no space, no hex, no overflow (strtoull alone accepts all of those) */
	if (!text || !*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 20)
		goto bad;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < lo || v > hi)
		goto bad;
	*out = (uint64_t)v;
	return 0;
bad:
	return err_set(e, ERR_INVALID, "%s: '%.32s' must be a whole number %" PRIu64 "..%" PRIu64, what,
		       text ? text : "", lo, hi);
}

int cli_parse_rental_id(uint64_t *out, const char *arg, struct err *e)
{
	if (!arg || !*arg)
		return err_set(e, ERR_INVALID, "rental: missing rental id");
	if (*arg == '#')
		arg++;
	if (cli_parse_uint(out, "rental", arg, 1, UINT64_MAX, NULL))
		return err_set(e, ERR_INVALID, "rental: '%.32s' is not a rental id (a number like 7)", arg);
	return 0;
}

void cli_session_release(struct cli_session *s)
{
	if (!s)
		return;
	if (s->rpc_ok)
		rpc_release(&s->rpc);
	s->rpc_ok = false;
	sodium_memzero(s->seckey, sizeof s->seckey);
	s->unlocked = false;
}

static int session_wallet(struct cli_session *s, const struct cfg *cfg, unsigned flags, struct err *e)
{
	char path[WALLET_PATH_MAX], pass[WALLET_PASS_MAX];
	int rc;

	if ((rc = wallet_path(path, sizeof path, cfg, s->wallet_name, e)))
		return rc;
	if (access(path, F_OK) != 0)
		return err_set(e, ERR_NOT_FOUND, "no wallet '%s' (create one: flopmarket wallet new --wallet %s)",
			       s->wallet_name, s->wallet_name);
	if (!(flags & SESSION_WALLET_UNLOCK))
		return wallet_address(&s->address, path, e);
	if ((rc = wallet_passphrase(pass, sizeof pass, "Passphrase: ", false, e)))
		return rc;
	rc = wallet_unlock(s->seckey, &s->address, path, pass, e);
	sodium_memzero(pass, sizeof pass);
	if (rc == 0)
		s->unlocked = true;
	return rc;
}

int cli_session_open(struct cli_session *s, const struct cfg *cfg, const char *wallet, unsigned flags,
		     struct err *e)
{
	const char *url = cfg_get(cfg, "rpc_url"), *dep = cfg_get(cfg, "deployment");
	uint64_t want;
	int rc;

	memset(s, 0, sizeof *s);
	snprintf(s->wallet_name, sizeof s->wallet_name, "%s", wallet ? wallet : "default");
	if ((rc = wallet_data_dir(s->data_dir, sizeof s->data_dir, cfg, e)))
		return rc;
	if (flags & (SESSION_WALLET_ADDRESS | SESSION_WALLET_UNLOCK)) {
		/* The wallet first: a missing wallet is reported before any network trouble. */
		if ((rc = session_wallet(s, cfg, flags, e)))
			goto fail;
	}
	if ((rc = rpc_init(&s->rpc, url ? url : "", NULL, e)))
		goto fail;
	s->rpc_ok = true;
	if ((rc = rpc_chain_id(&s->rpc, &s->chain_id, e))) {
		err_wrap(e, "cannot reach the chain at %s", url ? url : "");
		goto fail;
	}
	if (cfg_get(cfg, "chain_id")) {
		if ((rc = cfg_get_u64(cfg, "chain_id", &want, e)))
			goto fail;
		if (want != s->chain_id) {
			rc = err_set(e, ERR_STATE, "wrong network: the node at %s is chain %" PRIu64
				     ", expected chain %" PRIu64 " (check --rpc-url or chain_id)",
				     url, s->chain_id, want);
			goto fail;
		}
	}
	if (flags & SESSION_NO_DEPLOYMENT)
		return 0;
	if (dep)
		snprintf(s->deployment_path, sizeof s->deployment_path, "%s", dep);
	else
		snprintf(s->deployment_path, sizeof s->deployment_path, "%.1000s/deployment-%" PRIu64 ".json",
			 s->data_dir, s->chain_id);
	if ((rc = escrow_deployment_load(&s->dep, s->deployment_path, e))) {
		if (rc == ERR_NOT_FOUND || rc == ERR_IO)
			err_wrap(e, "no deployment for chain %" PRIu64 " (set `deployment` or run "
				 "flopmarket chain deploy)", s->chain_id);
		goto fail;
	}
	if (s->dep.chain_id != s->chain_id) {
		rc = err_set(e, ERR_STATE, "wrong network: the node at %s is chain %" PRIu64
			     " but the deployment %s is for chain %" PRIu64 " (check --rpc-url or deployment)",
			     url, s->chain_id, s->deployment_path, s->dep.chain_id);
		goto fail;
	}
	if ((rc = escrow_deployment_find(&s->escrow, &s->dep, "RentalEscrow", e)))
		goto fail;
	return 0;
fail:
	cli_session_release(s);
	return rc;
}

/* ---- local rental records ---- */

static int rental_file(char *out, size_t cap, const struct cli_session *s, uint64_t id, bool mkdirs)
{
	int n = snprintf(out, cap, "%.1000s/rentals", s->data_dir);
	if (n < 0 || (size_t)n >= cap)
		return ERR_TOO_BIG;
	if (mkdirs)
		file_mkdir_p(out, 0700, 0700, NULL);
	n = snprintf(out, cap, "%.1000s/rentals/%" PRIu64 "-%" PRIu64 ".json", s->data_dir, s->chain_id, id);
	return n < 0 || (size_t)n >= cap ? ERR_TOO_BIG : 0;
}

int cli_rental_save(const struct cli_session *s, const struct escrow_terms *t, const uint8_t offer_hash32[32],
		    const uint8_t open_tx32[32], struct err *e)
{
	uint8_t enc[ESCROW_TERMS_SIZE];
	char path[WALLET_PATH_MAX + 64], escrow[ADDRESS_STR_MAX];
	char terms_hex[2 * ESCROW_TERMS_SIZE + 3], oh[67], tx[67], text[2 * ESCROW_TERMS_SIZE + 512];
	int rc;

	if ((rc = escrow_terms_encode(enc, t, e)))
		return rc;
	if (rental_file(path, sizeof path, s, t->id, true))
		return err_set(e, ERR_TOO_BIG, "data_dir path too long");
	hex_encode_0x(terms_hex, enc, sizeof enc);
	hex_encode_0x(oh, offer_hash32, 32);
	hex_encode_0x(tx, open_tx32, 32);
	address_to_lower(escrow, &s->escrow);
	snprintf(text, sizeof text, "{\"chainId\": %" PRIu64 ", \"escrow\": \"%s\", \"id\": %" PRIu64 ",\n \"offerHash\": \"%s\","
		 " \"openTx\": \"%s\",\n \"terms\": \"%s\"}\n", s->chain_id, escrow, t->id, oh, tx, terms_hex);
	return file_write_atomic(path, text, strlen(text), 0600, e);
}

static int rental_load(struct escrow_terms *out, const struct cli_session *s, uint64_t id, struct err *e)
{
	char path[WALLET_PATH_MAX + 64];
	uint8_t enc[ESCROW_TERMS_SIZE];
	json_t *j = NULL;
	const char *hex, *esc;
	struct eth_address escrow;
	struct escrow_terms t;
	struct buf text;
	int rc;

	if (rental_file(path, sizeof path, s, id, false))
		return err_set(e, ERR_TOO_BIG, "data_dir path too long");
	buf_init(&text, RENTAL_FILE_MAX - 1);
	rc = file_read(&text, path, e);
	if (rc == ERR_NOT_FOUND) {
		buf_release(&text);
		return err_set(e, rc, "no local record of rental %" PRIu64, id);
	}
	if (!rc)
		rc = json_parse(&j, buf_cstr(&text), text.len, RENTAL_FILE_MAX, e);
	buf_release(&text);
	if (rc)
		goto out;
	if ((rc = json_get_str(&esc, j, "escrow", 64, e)) || (rc = address_parse(&escrow, esc, e)) ||
	    (rc = json_get_str(&hex, j, "terms", 2 * ESCROW_TERMS_SIZE + 2, e)) ||
	    (rc = hex_decode_exact(enc, sizeof enc, hex, e)) ||
	    (rc = escrow_terms_decode(&t, enc, sizeof enc, e)))
		goto out;
	if (!address_equal(&escrow, &s->escrow) || t.id != id) {
		rc = err_set(e, ERR_NOT_FOUND, "%s: another deployment's rental", path);
		goto out;
	}
	*out = t;
out:
	if (rc)
		err_wrap(e, "%s", path);
	json_decref(j);
	return rc;
}

/* The Opened log of rental `id` on chain (topic1 = id), from the deployment block. */
static int rental_from_chain(struct escrow_terms *out, struct cli_session *s, uint64_t id, struct err *e)
{
	struct rpc_logs logs = { 0 };
	struct rpc_log_filter f = { 0 };
	uint8_t topics[RPC_LOG_TOPICS_MAX][32] = { { 0 } };
	uint64_t head, from = UINT64_MAX;
	int rc;

	for (size_t i = 0; i < s->dep.n; i++)
		if (strcmp(s->dep.c[i].name, "RentalEscrow") == 0)
			from = s->dep.c[i].block;
	if (from == UINT64_MAX)
		from = 0;
	if ((rc = rpc_block_number(&s->rpc, &head, e)))
		return rc;
	u256 idw = u256_from_u64(id);
	u256_to_be32(topics[1], &idw);
	f.from_block = from;
	f.to_block = head;
	f.addresses = &s->escrow;
	f.n_addresses = 1;
	f.topics = (const uint8_t(*)[32])topics;
	f.has_topic[1] = true;
	f.max_logs = 1000;
	if ((rc = rpc_get_logs(&s->rpc, &logs, &f, e)))
		return rc;
	rc = err_set(e, ERR_NOT_FOUND, "no rental %" PRIu64 " on this escrow (chain %" PRIu64 ")", id,
		     s->chain_id);
	for (size_t i = 0; i < logs.n; i++) {
		struct escrow_event ev;
		if (logs.v[i].removed || escrow_event_decode(&ev, &logs.v[i], NULL) ||
		    ev.kind != ESCROW_EV_OPENED || ev.id != id)
			continue;
		*out = ev.opened.terms;
		rc = 0;
		err_clear(e);
		break;
	}
	rpc_logs_release(&logs);
	return rc;
}

int cli_rental_terms(struct escrow_terms *out, struct cli_session *s, uint64_t id, struct err *e)
{
	if (rental_load(out, s, id, NULL) == 0)
		return 0;
	return rental_from_chain(out, s, id, e);
}

/* ---- tokens and amounts ---- */

int cli_token_info(struct cli_token *out, struct cli_session *s, const struct eth_address *token,
		   struct err *e)
{
	struct cli_token t = { .address = *token };
	struct buf cd, ret;
	u256 dec;
	uint64_t d;
	int rc;

	if (address_is_zero(token)) {
		t.native = true;
		t.decimals = 18;
		snprintf(t.symbol, sizeof t.symbol, "%s", cli_native_symbol(s->chain_id));
		*out = t;
		return 0;
	}
	buf_init(&cd, ESCROW_CD_MAX);
	buf_init(&ret, ESCROW_RET_MAX);
	if ((rc = erc20_cd_getter(&cd, "decimals", e)) || (rc = escrow_call_u256(&s->rpc, &dec, token, &cd, e)))
		goto out;
	if (u256_to_u64(&d, &dec) || d > 36) {
		rc = err_set(e, ERR_RANGE, "token %s: decimals() out of range", "");
		goto out;
	}
	t.decimals = (unsigned)d;
	buf_reset(&cd);
	if ((rc = erc20_cd_getter(&cd, "symbol", e)) ||
	    (rc = escrow_eth_call(&s->rpc, &ret, NULL, token, cd.data, cd.len, e)) ||
	    (rc = escrow_ret_string(t.symbol, sizeof t.symbol, ret.data, ret.len, e)))
		goto out;
	for (char *c = t.symbol; *c; c++)
		if (*c < 0x21 || *c > 0x7e)
			*c = '?';
	*out = t;
out:
	if (rc) {
		char a[ADDRESS_STR_MAX];
		address_to_checksum(a, token);
		err_wrap(e, "token %s", a);
	}
	buf_release(&cd);
	buf_release(&ret);
	return rc;
}

void cli_token_format(char *out, size_t cap, const struct cli_token *t, const u256 *units)
{
	char num[U256_DEC_MAX + 2];
	u256_format_units(num, units, t->decimals);
	snprintf(out, cap, "%s %s", num, t->symbol);
}

static const u256 *rate_scale(void)
{
	static u256 s;
	s = u256_from_u64(1000000000000000000ull);
	return &s;
}

int cli_deposit_for(u256 *out, const u256 *rate, uint64_t secs, struct err *e)
{
	u256 x, q, r, one = u256_from_u64(1), ss = u256_from_u64(secs);
	if (u256_mul(&x, rate, &ss) || u256_divmod(&q, &r, &x, rate_scale()))
		return err_set(e, ERR_RANGE, "deposit for %llu s overflows", (unsigned long long)secs);
	if (!u256_is_zero(&r) && u256_add(&q, &q, &one))
		return err_set(e, ERR_RANGE, "deposit overflows");
	*out = q;
	return 0;
}

uint64_t cli_secs_bought(const u256 *deposit, const u256 *rate)
{
	u256 x, q;
	uint64_t v;
	if (u256_is_zero(rate))
		return UINT64_MAX;
	if (u256_mul(&x, deposit, rate_scale()) || u256_divmod(&q, NULL, &x, rate) || u256_to_u64(&v, &q))
		return UINT64_MAX;
	return v;
}

int cli_approve_escrow(struct cli_session *s, const struct cli_token *tok, const u256 *amount,
		       unsigned timeout_ms, struct err *e)
{
	struct buf ap;
	struct rpc_receipt ar = { 0 };
	int rc;

	buf_init(&ap, ESCROW_CD_MAX);
	fprintf(stderr, "approving %s for the escrow... ", tok->symbol);
	rc = erc20_cd_approve(&ap, &s->escrow, amount, e);
	if (!rc)
		rc = escrow_send(&s->rpc, &ar, s->chain_id, s->seckey, &tok->address, NULL, ap.data, ap.len,
				 timeout_ms, e);
	rpc_receipt_release(&ar);
	buf_release(&ap);
	if (rc) {
		fputc('\n', stderr);
		err_wrap(e, "approve");
		return rc;
	}
	fprintf(stderr, "confirmed\n");
	return 0;
}

/* Asks "Proceed? [y/N]" on the terminal. */
bool cli_confirm(void)
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
