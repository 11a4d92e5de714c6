/*
 * deploy.c — RentalEscrow and dev-token deployment and the deployment file (see deploy.h).
 */
#include "escrow/deploy.h"
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/escrow.h"
#include "eth/ethjson.h"
#include "eth/secp.h"

#define PATH_MAX_LEN 1024
#define CONSTRUCTOR_ARGS_MAX 2048 /* ABI-encoded constructor arguments (the token allowlist included) */

/* Reads a whole file of at most `max` bytes into a NUL-terminated buffer. ERR_NOT_FOUND if absent. */
static int read_file(char **out, size_t *len, const char *path, size_t max, struct err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, max);
	if ((rc = file_read(&b, path, e))) {
		buf_release(&b);
		return rc;
	}
	*out = (char *)buf_detach(&b, len);
	return *out ? 0 : err_set(e, ERR_NOMEM, "%s: out of memory", path);
}

int escrow_artifact_bytecode(uint8_t **code, size_t *len, const char *dir, const char *name, struct err *e)
{
	char path[PATH_MAX_LEN];
	char *text = NULL;
	size_t n = 0;
	json_t *root = NULL;
	int rc;

	if (snprintf(path, sizeof path, "%s/%s.json", dir ? dir : "build/contracts", name) >= (int)sizeof path)
		return err_set(e, ERR_TOO_BIG, "artifact path too long");
	if ((rc = read_file(&text, &n, path, ESCROW_ARTIFACT_MAX, e))) {
		if (rc == ERR_NOT_FOUND)
			err_wrap(e, "contract artifact missing (run scripts/build-contracts)");
		return rc;
	}
	rc = json_parse(&root, text, n, ESCROW_ARTIFACT_MAX, e);
	free(text);
	if (!rc && (rc = json_get_bytes_alloc(code, len, root, "bytecode", ESCROW_ARTIFACT_MAX, e)) == 0 &&
	    *len == 0) {
		free(*code);
		rc = err_set(e, ERR_INVALID, "bytecode empty");
	}
	if (rc)
		err_wrap(e, "%s", path);
	json_decref(root);
	return rc;
}

/* ---------------------------------------------------------------- deployment file */

int escrow_deployment_find(struct eth_address *out, const struct escrow_deployment *d, const char *name,
			   struct err *e)
{
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->c[i].name, name) == 0) {
			*out = d->c[i].address;
			return 0;
		}
	}
	return err_set(e, ERR_NOT_FOUND, "deployment: no contract '%.40s'", name);
}

int escrow_deployment_load(struct escrow_deployment *out, const char *path, struct err *e)
{
	struct escrow_deployment d;
	const json_t *esc, *cs;
	json_t *root = NULL;
	char *text = NULL;
	size_t n = 0;
	const char *key;
	json_t *val;
	uint64_t x;
	int rc;

	if ((rc = read_file(&text, &n, path, ESCROW_DEPLOY_FILE_MAX, e)))
		return rc;
	rc = json_parse(&root, text, n, ESCROW_DEPLOY_FILE_MAX, e);
	free(text);
	if (rc)
		goto fail;
	memset(&d, 0, sizeof d);
	if ((rc = json_get_u64(&d.chain_id, root, "chainId", e)) ||
	    (rc = ethjson_get_address(&d.deployer, root, "deployer", e)) ||
	    (rc = json_get(&esc, root, "escrow", e)) ||
	    (rc = ethjson_get_address(&d.owner, esc, "owner", e)) ||
	    (rc = ethjson_get_address(&d.treasury, esc, "treasury", e)) ||
	    (rc = ethjson_get_address(&d.monitor, esc, "monitor", e)) ||
	    (rc = json_get_u64(&x, esc, "feeBps", e)))
		goto fail;
	if (x > 1500) {
		rc = err_set(e, ERR_RANGE, "escrow.feeBps: %llu above 1500", (unsigned long long)x);
		goto fail;
	}
	d.fee_bps = (uint16_t)x;
	if ((rc = json_get_u64(&x, esc, "arbiterWindowSecs", e)))
		goto fail;
	if (x > UINT32_MAX) {
		rc = err_set(e, ERR_RANGE, "escrow.arbiterWindowSecs: above 32 bits");
		goto fail;
	}
	d.arbiter_window_secs = (uint32_t)x;
	if ((rc = json_get(&cs, root, "contracts", e)))
		goto fail;
	if (!json_is_object(cs)) {
		rc = err_set(e, ERR_INVALID, "contracts: not an object");
		goto fail;
	}
	json_object_foreach((json_t *)cs, key, val) {
		struct escrow_deployed *c = &d.c[d.n];
		if (d.n == ESCROW_DEPLOY_MAX) {
			rc = err_set(e, ERR_TOO_BIG, "contracts: more than %d", ESCROW_DEPLOY_MAX);
			goto fail;
		}
		if (strlen(key) >= sizeof c->name || !key[0]) {
			rc = err_set(e, ERR_INVALID, "contracts: bad name");
			goto fail;
		}
		strcpy(c->name, key);
		if ((rc = ethjson_get_address(&c->address, val, "address", e)) ||
		    (rc = json_get_u64(&c->block, val, "block", e)) ||
		    (rc = json_get_bytes_exact(c->tx_hash, 32, val, "tx", e))) {
			err_wrap(e, "contracts.%s", key);
			goto fail;
		}
		d.n++;
	}
	json_decref(root);
	*out = d;
	return 0;
fail:
	err_wrap(e, "%s", path);
	json_decref(root);
	return rc;
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
	return v && json_object_set_new(obj, key, v) == 0 ? 0 : ERR_NOMEM;
}

/* 0 when `path` is absent or holds a deployment for `chain_id`; ERR_CONFLICT otherwise. */
static int may_write(const char *path, uint64_t chain_id, struct err *e)
{
	struct escrow_deployment old;
	struct err le = { 0, "" };
	int rc = escrow_deployment_load(&old, path, &le);

	if (rc == ERR_NOT_FOUND && access(path, F_OK) != 0)
		return 0;
	if (rc)
		return err_set(e, ERR_CONFLICT, "%s exists but is not a readable deployment (%s); refusing to "
			       "overwrite", path, le.msg);
	if (old.chain_id != chain_id)
		return err_set(e, ERR_CONFLICT, "%s holds a deployment for chain %llu, not %llu; refusing to "
			       "overwrite", path, (unsigned long long)old.chain_id, (unsigned long long)chain_id);
	return 0;
}

int escrow_deployment_save(const struct escrow_deployment *d, const char *path, struct err *e)
{
	json_t *root = json_object(), *esc = json_object(), *cs = json_object();
	char *text = NULL;
	int rc = 0;

	if ((rc = may_write(path, d->chain_id, e)))
		goto done;
	if (!root || !esc || !cs) {
		rc = ERR_NOMEM;
		goto done;
	}
	rc |= set_new(root, "chainId", json_integer((json_int_t)d->chain_id));
	rc |= set_new(root, "deployer", ethjson_address(&d->deployer));
	rc |= set_new(esc, "owner", ethjson_address(&d->owner));
	rc |= set_new(esc, "treasury", ethjson_address(&d->treasury));
	rc |= set_new(esc, "monitor", ethjson_address(&d->monitor));
	rc |= set_new(esc, "feeBps", json_integer(d->fee_bps));
	rc |= set_new(esc, "arbiterWindowSecs", json_integer(d->arbiter_window_secs));
	for (size_t i = 0; i < d->n && !rc; i++) {
		json_t *c = json_object();
		if (!c) {
			rc = ERR_NOMEM;
			break;
		}
		rc |= set_new(c, "address", ethjson_address(&d->c[i].address));
		rc |= set_new(c, "block", json_integer((json_int_t)d->c[i].block));
		rc |= set_new(c, "tx", json_hex_bytes(d->c[i].tx_hash, 32));
		rc |= set_new(cs, d->c[i].name, c);
	}
	json_object_set(root, "escrow", esc);
	json_object_set(root, "contracts", cs);
	if (rc) {
		rc = err_set(e, ERR_NOMEM, "deployment: out of memory");
		goto done;
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!text) {
		rc = err_set(e, ERR_NOMEM, "deployment: out of memory");
		goto done;
	}
	{
		/* the JSON text and a final newline, written atomically (core/file.h) */
		size_t n = strlen(text);
		char *line = malloc(n + 2);
		if (!line) {
			rc = err_set(e, ERR_NOMEM, "deployment: out of memory");
			goto done;
		}
		memcpy(line, text, n);
		line[n] = '\n';
		line[n + 1] = '\0';
		rc = file_write_atomic(path, line, n + 1, 0644, e);
		free(line);
	}
done:
	free(text);
	json_decref(root);
	json_decref(esc);
	json_decref(cs);
	return rc;
}

/* ---------------------------------------------------------------- deploying */

struct ctx {
	struct rpc *r;
	const uint8_t *key;
	uint64_t chain_id;
	unsigned timeout_ms;
};

/* Sends creation code `code` + `args` and records the contract as `name`. */
static int create(struct ctx *x, struct escrow_deployed *out, const char *dir, const char *name,
		  const struct buf *args, struct err *e)
{
	struct rpc_receipt rc_;
	uint8_t *code = NULL;
	size_t n = 0;
	struct buf init;
	int rc;

	if ((rc = escrow_artifact_bytecode(&code, &n, dir, name, e)))
		return rc;
	buf_init(&init, ESCROW_ARTIFACT_MAX);
	rc = buf_append(&init, code, n);
	if (!rc && args)
		rc = buf_append(&init, args->data, args->len);
	free(code);
	if (rc) {
		buf_release(&init);
		return err_set(e, rc, "%s: init code too large", name);
	}
	memset(&rc_, 0, sizeof rc_);
	rc = escrow_send(x->r, &rc_, x->chain_id, x->key, NULL, NULL, init.data, init.len, x->timeout_ms, e);
	buf_release(&init);
	if (!rc && !rc_.has_contract_address)
		rc = err_set(e, ERR_INVALID, "receipt has no contract address");
	if (!rc) {
		memset(out, 0, sizeof *out);
		snprintf(out->name, sizeof out->name, "%s", name);
		out->address = rc_.contract_address;
		out->block = rc_.block_number;
		memcpy(out->tx_hash, rc_.tx_hash, 32);
	} else {
		err_wrap(e, "deploy %s", name);
	}
	rpc_receipt_release(&rc_);
	return rc;
}

static int call_tx(struct ctx *x, const struct eth_address *to, const struct buf *cd, const char *what,
		   struct err *e)
{
	struct rpc_receipt rc_;
	int rc;

	memset(&rc_, 0, sizeof rc_);
	rc = escrow_send(x->r, &rc_, x->chain_id, x->key, to, NULL, cd->data, cd->len, x->timeout_ms, e);
	if (rc)
		err_wrap(e, "%s", what);
	rpc_receipt_release(&rc_);
	return rc;
}

/* Mints `whole` tokens (times 10^decimals()) to every account. */
static int mint_all(struct ctx *x, const struct escrow_deployed *tok, const struct escrow_deploy_opts *o,
		    struct err *e)
{
	u256 dec, amount = u256_from_u64(o->mint_whole_tokens), ten = u256_from_u64(10);
	uint64_t d;
	struct buf cd;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	rc = erc20_cd_getter(&cd, "decimals", e);
	if (!rc)
		rc = escrow_call_u256(x->r, &dec, &tok->address, &cd, e);
	if (!rc && (u256_to_u64(&d, &dec) || d > 36))
		rc = err_set(e, ERR_RANGE, "%s: decimals above 36", tok->name);
	for (uint64_t i = 0; !rc && i < d; i++)
		if (u256_mul(&amount, &amount, &ten))
			rc = err_set(e, ERR_RANGE, "mint amount overflows");
	for (size_t i = 0; !rc && i < o->n_mint_to; i++) {
		buf_reset(&cd);
		rc = erc20_cd_mint(&cd, &o->mint_to[i], &amount, e);
		if (!rc)
			rc = call_tx(x, &tok->address, &cd, "mint", e);
	}
	if (rc)
		err_wrap(e, "%s", tok->name);
	buf_release(&cd);
	return rc;
}

/* Creates the escrow into d->c[0], allowing the dev tokens already in d->c[1..] and o->allow_tokens. */
static int deploy_escrow(struct ctx *x, struct escrow_deployment *d, const struct escrow_deploy_opts *o,
			 struct err *e)
{
	struct eth_address allowed[ESCROW_DEPLOY_TOKENS_MAX];
	size_t n = 0;
	struct buf args;
	int rc;

	if (d->n - 1 + o->n_allow_tokens > ESCROW_DEPLOY_TOKENS_MAX)
		return err_set(e, ERR_TOO_BIG, "allowed tokens: more than %d", ESCROW_DEPLOY_TOKENS_MAX);
	for (size_t i = 1; i < d->n; i++)
		allowed[n++] = d->c[i].address;
	for (size_t i = 0; i < o->n_allow_tokens; i++)
		allowed[n++] = o->allow_tokens[i];
	buf_init(&args, CONSTRUCTOR_ARGS_MAX);
	rc = escrow_cd_constructor(&args, &o->owner, &o->treasury, &o->monitor, o->fee_bps,
				   o->arbiter_window_secs, allowed, n, e);
	if (!rc)
		rc = create(x, &d->c[0], o->artifacts_dir, "RentalEscrow", &args, e);
	buf_release(&args);
	return rc;
}

int escrow_deploy(struct escrow_deployment *out, struct rpc *r, const uint8_t seckey32[32],
		  const struct escrow_deploy_opts *o, const char *out_path, struct err *e)
{
	static const char *const tokens[] = { "DevUSDC", "DevUSDT", "DevDAI" };
	struct escrow_deployment d;
	struct ctx x = { r, seckey32, 0, o->timeout_ms ? o->timeout_ms : 60000 };
	int rc = 0;

	if (o->fee_bps > ESCROW_MAX_FEE_BPS)
		return err_set(e, ERR_RANGE, "fee_bps: %u above %d", o->fee_bps, ESCROW_MAX_FEE_BPS);
	if (address_is_zero(&o->treasury))
		return err_set(e, ERR_INVALID, "treasury: zero address");
	if (o->arbiter_window_secs > ESCROW_MAX_ARBITER_WINDOW_SECS)
		return err_set(e, ERR_RANGE, "arbiter window: %u s, at most %u (30 days)", o->arbiter_window_secs,
			       ESCROW_MAX_ARBITER_WINDOW_SECS);
	if (o->n_mint_to > ESCROW_DEPLOY_MINT_MAX)
		return err_set(e, ERR_TOO_BIG, "mint_to: more than %d accounts", ESCROW_DEPLOY_MINT_MAX);
	if ((rc = rpc_chain_id(r, &x.chain_id, e)))
		return rc;
	if (out_path && (rc = may_write(out_path, x.chain_id, e)))
		return rc;
	if (o->dev_tokens && x.chain_id != 31337 && x.chain_id != 1337)
		return err_set(e, ERR_STATE, "dev tokens (open mint) only on a dev chain (31337, 1337), not %llu",
			       (unsigned long long)x.chain_id);
	memset(&d, 0, sizeof d);
	d.chain_id = x.chain_id;
	if ((rc = secp_address(&d.deployer, seckey32, e)))
		return rc;
	d.owner = o->owner;
	d.treasury = o->treasury;
	d.monitor = o->monitor;
	d.fee_bps = o->fee_bps;
	d.arbiter_window_secs = o->arbiter_window_secs;
	/* Dev tokens first (c[1..3]) so the escrow's constructor can allow them; the escrow stays c[0]. */
	d.n = 1;
	for (size_t i = 0; !rc && o->dev_tokens && i < 3; i++) {
		rc = create(&x, &d.c[d.n], o->artifacts_dir, tokens[i], NULL, e);
		if (!rc)
			rc = mint_all(&x, &d.c[d.n++], o, e);
	}
	if (!rc)
		rc = deploy_escrow(&x, &d, o, e);
	if (!rc && out_path)
		rc = escrow_deployment_save(&d, out_path, e);
	if (!rc)
		*out = d;
	return rc;
}
