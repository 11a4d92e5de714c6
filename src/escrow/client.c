/*
 * client.c — RentalEscrow over JSON-RPC: calls with decoded reverts, one-shot transactions, permit
 * preparation, receipt events. See client.h. The only I/O is through eth/rpc.h.
 */
#include "escrow/client.h"

#include <stdio.h>
#include <string.h>


#include "core/err.h"
#include "core/hex.h"
#include "eth/abi.h"
#include "eth/eip712.h"
#include "eth/secp.h"
#include "eth/tx.h"

#define GAS_MARGIN_PCT 20

/* Turns revert bytes into ERR_REVERT with the decoded message in e. */
static int revert_error(const struct buf *rev, const char *what, struct err *e)
{
	char msg[ESCROW_MSG_MAX];

	escrow_revert_message(msg, sizeof msg, rev->data, rev->len, NULL);
	return err_set(e, ERR_REVERT, "%s reverted: %s", what, msg);
}

int escrow_eth_call(struct rpc *r, struct buf *ret, const struct eth_address *from,
		    const struct eth_address *to, const uint8_t *data, size_t n, struct err *e)
{
	struct rpc_call_msg m;
	struct buf rev;
	int rc;

	memset(&m, 0, sizeof m);
	if (from) {
		m.has_from = true;
		m.from = *from;
	}
	m.has_to = true;
	m.to = *to;
	m.data = data;
	m.data_len = n;
	buf_init(&rev, RPC_ERROR_DATA_MAX);
	rc = rpc_eth_call(r, ret, &m, "latest", &rev, e);
	if (rc == ERR_REVERT)
		rc = revert_error(&rev, "call", e);
	buf_release(&rev);
	return rc;
}

static int call_word(struct rpc *r, struct buf *ret, const struct eth_address *to, const struct buf *cd,
		     struct err *e)
{
	buf_init(ret, ESCROW_RET_MAX);
	return escrow_eth_call(r, ret, NULL, to, cd->data, cd->len, e);
}

int escrow_call_u256(struct rpc *r, u256 *out, const struct eth_address *to, const struct buf *calldata,
		     struct err *e)
{
	struct buf ret;
	int rc = call_word(r, &ret, to, calldata, e);

	if (!rc)
		rc = escrow_ret_u256(out, ret.data, ret.len, e);
	buf_release(&ret);
	return rc;
}

int escrow_call_address(struct rpc *r, struct eth_address *out, const struct eth_address *to,
			const struct buf *calldata, struct err *e)
{
	struct buf ret;
	int rc = call_word(r, &ret, to, calldata, e);

	if (!rc)
		rc = escrow_ret_address(out, ret.data, ret.len, e);
	buf_release(&ret);
	return rc;
}

int escrow_call_bytes32(struct rpc *r, uint8_t out32[32], const struct eth_address *to,
			const struct buf *calldata, struct err *e)
{
	struct buf ret;
	int rc = call_word(r, &ret, to, calldata, e);

	if (!rc)
		rc = escrow_ret_bytes32(out32, ret.data, ret.len, e);
	buf_release(&ret);
	return rc;
}

int escrow_token_balance(struct rpc *r, u256 *out, const struct eth_address *token,
			 const struct eth_address *owner, struct err *e)
{
	struct buf cd;
	int rc;

	if (address_is_zero(token))
		return rpc_get_balance(r, out, owner, "latest", e);
	buf_init(&cd, ESCROW_CD_MAX);
	rc = erc20_cd_balance_of(&cd, owner, e);
	if (!rc)
		rc = escrow_call_u256(r, out, token, &cd, e);
	buf_release(&cd);
	return rc;
}

uint64_t escrow_gas_limit(uint64_t estimate)
{
	return estimate + estimate * GAS_MARGIN_PCT / 100 + ESCROW_GAS_HEADROOM;
}

int escrow_send(struct rpc *r, struct rpc_receipt *out, uint64_t chain_id, const uint8_t seckey32[32],
		const struct eth_address *to, const u256 *value, const uint8_t *data, size_t n,
		unsigned timeout_ms, struct err *e)
{
	struct eth_address from;
	struct rpc_call_msg m;
	struct rpc_receipt rcpt;
	struct buf raw, ret, rev;
	struct tx tx;
	uint8_t hash[32];
	uint64_t gas;
	int rc;

	if ((rc = secp_address(&from, seckey32, e)))
		return rc;
	memset(&m, 0, sizeof m);
	m.has_from = true;
	m.from = from;
	m.has_to = to != NULL;
	if (to)
		m.to = *to;
	if (value) {
		m.has_value = true;
		m.value = *value;
	}
	m.data = data;
	m.data_len = n;
	tx_init(&tx, TX_EIP1559);
	buf_init(&raw, TX_RAW_MAX);
	buf_init(&ret, ESCROW_RET_MAX);
	buf_init(&rev, RPC_ERROR_DATA_MAX);
	/* Dry run first: a revert is reported by name and nothing is signed. */
	if (to) {
		rc = rpc_eth_call(r, &ret, &m, "pending", &rev, e);
		if (rc == ERR_REVERT)
			rc = revert_error(&rev, "transaction", e);
		if (rc)
			goto done;
	}
	if ((rc = rpc_estimate_gas(r, &gas, &m, e)))
		goto done;
	tx.chain_id = chain_id;
	tx.gas_limit = escrow_gas_limit(gas);
	tx.has_to = to != NULL;
	if (to)
		tx.to = *to;
	if (value)
		tx.value = *value;
	if ((rc = rpc_get_tx_count(r, &tx.nonce, &from, "pending", e)) ||
	    (rc = rpc_suggest_fees(r, &tx.max_fee_per_gas, &tx.max_priority_fee_per_gas, e)) ||
	    (rc = tx_set_data(&tx, data, n, e)) || (rc = tx_sign(&tx, seckey32, e)) ||
	    (rc = tx_serialize(&raw, &tx, e)) || (rc = rpc_send_raw_tx(r, hash, raw.data, raw.len, e)))
		goto done;
	if ((rc = rpc_wait_receipt(r, &rcpt, hash, 1, timeout_ms, 50, e)))
		goto done;
	if (rcpt.status != 1) {
		char hx[67];
		hex_encode_0x(hx, hash, 32);
		rc = err_set(e, ERR_REVERT, "transaction %s reverted on chain (gas used %llu)", hx,
			     (unsigned long long)rcpt.gas_used);
	}
	*out = rcpt;
done:
	tx_release(&tx);
	buf_release(&raw);
	buf_release(&ret);
	buf_release(&rev);
	return rc;
}

/* eip712Domain() -> (bytes1 fields, string name, string version, uint256 chainId, address, bytes32, uint256[]). */
static int read_5267(struct rpc *r, struct escrow_permit_domain *d, const struct eth_address *token,
		     struct err *e)
{
	struct abi_value *v = NULL;
	struct buf cd, ret;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	buf_init(&ret, ESCROW_RET_MAX);
	rc = erc20_cd_getter(&cd, "eip712Domain", e);
	if (!rc)
		rc = escrow_eth_call(r, &ret, NULL, token, cd.data, cd.len, e);
	if (!rc)
		rc = abi_decode(&v, "(bytes1,string,string,uint256,address,bytes32,uint256[])", ret.data, ret.len,
				e);
	if (!rc) {
		const struct abi_value *n = &v->items[1], *ver = &v->items[2];
		if (n->len >= sizeof d->name || ver->len >= sizeof d->version)
			rc = err_set(e, ERR_TOO_BIG, "token eip712Domain: name or version too long");
		else if (!(v->items[0].fixed[0] & 0x01) || !(v->items[0].fixed[0] & 0x02))
			rc = err_set(e, ERR_UNSUPPORTED, "token eip712Domain: no name or version field");
		else {
			memcpy(d->name, n->data, n->len);
			d->name[n->len] = 0;
			memcpy(d->version, ver->data, ver->len);
			d->version[ver->len] = 0;
		}
	}
	abi_value_free(v);
	buf_release(&cd);
	buf_release(&ret);
	return rc;
}

static int read_string(struct rpc *r, char *out, size_t cap, const struct eth_address *token,
		       const char *getter, struct err *e)
{
	struct buf cd, ret;
	int rc;

	buf_init(&cd, ESCROW_CD_MAX);
	buf_init(&ret, ESCROW_RET_MAX);
	if (strcmp(getter, "version") == 0)
		rc = abi_encode_call(&cd, "version()", NULL, 0, e);
	else
		rc = erc20_cd_getter(&cd, getter, e);
	if (!rc)
		rc = escrow_eth_call(r, &ret, NULL, token, cd.data, cd.len, e);
	if (!rc)
		rc = escrow_ret_string(out, cap, ret.data, ret.len, e);
	buf_release(&cd);
	buf_release(&ret);
	return rc;
}

int escrow_permit_domain_read(struct rpc *r, struct escrow_permit_domain *out, uint64_t chain_id,
			      const struct eth_address *token, const struct eth_address *owner,
			      struct err *e)
{
	struct escrow_permit_domain d;
	struct eip712_domain dom;
	uint8_t mine[32], theirs[32];
	struct buf cd;
	int rc;

	memset(&d, 0, sizeof d);
	if (read_5267(r, &d, token, NULL)) {
		if ((rc = read_string(r, d.name, sizeof d.name, token, "name", e))) {
			err_wrap(e, "permit domain: token name()");
			return rc;
		}
		if (read_string(r, d.version, sizeof d.version, token, "version", NULL))
			snprintf(d.version, sizeof d.version, "1");
	}
	buf_init(&cd, ESCROW_CD_MAX);
	rc = erc20_cd_nonces(&cd, owner, e);
	if (!rc && (rc = escrow_call_u256(r, &d.nonce, token, &cd, e)))
		err_wrap(e, "permit: token nonces() (no EIP-2612 permit?)");
	buf_reset(&cd);
	if (!rc)
		rc = erc20_cd_getter(&cd, "DOMAIN_SEPARATOR", e);
	if (!rc && (rc = escrow_call_bytes32(r, theirs, token, &cd, e)))
		err_wrap(e, "permit: token DOMAIN_SEPARATOR()");
	buf_release(&cd);
	if (rc)
		return rc;
	memset(&dom, 0, sizeof dom);
	dom.name = d.name;
	dom.version = d.version;
	dom.has_chain_id = true;
	dom.chain_id = chain_id;
	dom.verifying_contract = token;
	if ((rc = eip712_domain_separator(mine, &dom, e)))
		return rc;
	if (memcmp(mine, theirs, 32) != 0)
		return err_set(e, ERR_INVALID,
			       "permit: token DOMAIN_SEPARATOR() differs from (name '%.60s', version '%.16s', "
			       "chain %llu, token); its permit would be refused",
			       d.name, d.version, (unsigned long long)chain_id);
	*out = d;
	return 0;
}

int escrow_permit_sign_for(struct rpc *r, uint8_t sig65[65], uint64_t chain_id, const struct eth_address *token,
			   const struct eth_address *spender, const u256 *value, const u256 *deadline,
			   const uint8_t owner_seckey32[32], struct err *e)
{
	struct escrow_permit_domain d;
	struct escrow_permit p;
	int rc;

	memset(&p, 0, sizeof p);
	if ((rc = secp_address(&p.owner, owner_seckey32, e)) ||
	    (rc = escrow_permit_domain_read(r, &d, chain_id, token, &p.owner, e)))
		return rc;
	p.token_name = d.name;
	p.token_version = d.version;
	p.chain_id = chain_id;
	p.token = *token;
	p.spender = *spender;
	p.value = *value;
	p.nonce = d.nonce;
	p.deadline = *deadline;
	return escrow_permit_sign(sig65, &p, owner_seckey32, e);
}

int escrow_receipt_event(struct escrow_event *out, const struct rpc_receipt *rc,
			 const struct eth_address *escrow, enum escrow_event_kind kind, struct err *e)
{
	for (size_t i = 0; i < rc->n_logs; i++) {
		struct escrow_event ev;
		int r;

		if (!address_equal(&rc->logs[i].address, escrow))
			continue;
		r = escrow_event_decode(&ev, &rc->logs[i], e);
		if (r == ERR_NOT_FOUND)
			continue;
		if (r)
			return r;
		if (ev.kind == kind) {
			*out = ev;
			return 0;
		}
	}
	return err_set(e, ERR_NOT_FOUND, "receipt: no %s event from the escrow", escrow_event_name(kind));
}

int escrow_rental_word(struct rpc *r, u256 *word, const struct eth_address *escrow, const struct escrow_terms *t,
		       struct err *e)
{
	uint8_t key[32];
	struct buf cd;
	int rc;

	if ((rc = escrow_rental_key(key, t, e)))
		return rc;
	buf_init(&cd, ESCROW_CD_MAX);
	rc = escrow_cd_rentals(&cd, key, e);
	if (!rc)
		rc = escrow_call_u256(r, word, escrow, &cd, e);
	buf_release(&cd);
	return rc;
}
