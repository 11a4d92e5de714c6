/*
 * tx.c — EIP-1559 and EIP-155 legacy transactions (see tx.h).
 *
 * Encoding builds each field list into a scratch buffer and wraps it with
 * rlp_encode_list. Decoding goes through rlp_decode (canonical form, caps)
 * and then checks every field's shape before anything is written out.
 */
#include "eth/tx.h"
#include "core/err.h"
#include "eth/keccak.h"
#include "eth/rlp.h"
#include "eth/secp.h"

#include <stdlib.h>
#include <string.h>

/* secp256k1 group order n and n/2 (SEC 2, section 2.4.1), big-endian. */
static const uint8_t secp_n[32] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
	0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
};
static const uint8_t secp_half_n[32] = {
	0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
};

void tx_init(struct tx *tx, enum tx_type type)
{
	memset(tx, 0, sizeof *tx);
	tx->type = type;
}

static void tx_access_list_free(struct tx_access_entry *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i].keys);
	free(list);
}

void tx_release(struct tx *tx)
{
	if (!tx)
		return;
	free(tx->data);
	tx_access_list_free(tx->access_list, tx->access_list_len);
	tx_init(tx, tx->type);
}

int tx_set_data(struct tx *tx, const uint8_t *p, size_t n, struct err *e)
{
	uint8_t *copy = NULL;

	if (n > TX_DATA_MAX)
		return err_set(e, ERR_TOO_BIG, "tx data is %zu bytes, at most %zu allowed",
			       n, TX_DATA_MAX);
	if (n) {
		copy = malloc(n);
		if (!copy)
			return err_set(e, ERR_NOMEM, "out of memory");
		memcpy(copy, p, n);
	}
	free(tx->data);
	tx->data = copy;
	tx->data_len = n;
	return 0;
}

int tx_access_list_add(struct tx *tx, const struct eth_address *address,
		       const uint8_t (*keys)[32], size_t n_keys, struct err *e)
{
	struct tx_access_entry *list;
	uint8_t (*copy)[32] = NULL;

	if (tx->access_list_len >= TX_ACCESS_LIST_MAX)
		return err_set(e, ERR_TOO_BIG, "access list has more than %d entries",
			       TX_ACCESS_LIST_MAX);
	if (n_keys > TX_ACCESS_KEYS_MAX)
		return err_set(e, ERR_TOO_BIG, "access list entry has %zu keys, at most %d",
			       n_keys, TX_ACCESS_KEYS_MAX);
	if (n_keys) {
		copy = malloc(n_keys * 32);
		if (!copy)
			return err_set(e, ERR_NOMEM, "out of memory");
		memcpy(copy, keys, n_keys * 32);
	}
	list = realloc(tx->access_list, (tx->access_list_len + 1) * sizeof *list);
	if (!list) {
		free(copy);
		return err_set(e, ERR_NOMEM, "out of memory");
	}
	list[tx->access_list_len].address = *address;
	list[tx->access_list_len].keys = copy;
	list[tx->access_list_len].n_keys = n_keys;
	tx->access_list = list;
	tx->access_list_len++;
	return 0;
}

/* ---- encoding ---- */

static int tx_enc_to(struct buf *b, const struct tx *tx)
{
	return tx->has_to ? rlp_encode_bytes(b, tx->to.b, 20) : rlp_encode_bytes(b, NULL, 0);
}

static int tx_enc_access_list(struct buf *b, const struct tx *tx)
{
	struct buf list, entry, keys;
	int rc = 0;

	buf_init(&list, TX_RAW_MAX);
	buf_init(&entry, TX_RAW_MAX);
	buf_init(&keys, TX_RAW_MAX);
	for (size_t i = 0; i < tx->access_list_len && !rc; i++) {
		const struct tx_access_entry *a = &tx->access_list[i];
		buf_reset(&entry);
		buf_reset(&keys);
		for (size_t k = 0; k < a->n_keys && !rc; k++)
			rc = rlp_encode_bytes(&keys, a->keys[k], 32);
		if (!rc)
			rc = rlp_encode_bytes(&entry, a->address.b, 20);
		if (!rc)
			rc = rlp_encode_list(&entry, keys.data, keys.len);
		if (!rc)
			rc = rlp_encode_list(&list, entry.data, entry.len);
	}
	if (!rc)
		rc = rlp_encode_list(b, list.data, list.len);
	buf_release(&list);
	buf_release(&entry);
	buf_release(&keys);
	return rc;
}

static int tx_enc_sig_rs(struct buf *b, const struct tx *tx)
{
	u256 r, s;
	int rc;

	u256_from_be32(&r, tx->r);
	u256_from_be32(&s, tx->s);
	rc = rlp_encode_u256(b, &r);
	if (!rc)
		rc = rlp_encode_u256(b, &s);
	return rc;
}

/* Appends the field list (signed: with signature, else signing form) to out. */
static int tx_enc(struct buf *out, const struct tx *tx, bool with_sig, struct err *e)
{
	struct buf f;
	int rc = 0;

	if (tx->type != TX_LEGACY && tx->type != TX_EIP1559)
		return err_set(e, ERR_UNSUPPORTED, "tx type %d not supported", (int)tx->type);
	if (tx->data_len > TX_DATA_MAX)
		return err_set(e, ERR_TOO_BIG, "tx data is %zu bytes, at most %zu allowed",
			       tx->data_len, TX_DATA_MAX);
	if (tx->type == TX_LEGACY && tx->access_list_len)
		return err_set(e, ERR_INVALID, "legacy tx cannot carry an access list");
	if (with_sig && !tx->is_signed)
		return err_set(e, ERR_STATE, "tx is not signed");
	if (with_sig && tx->y_parity > 1)
		return err_set(e, ERR_INVALID, "tx y_parity %u is not 0 or 1", tx->y_parity);

	buf_init(&f, TX_RAW_MAX);
	if (tx->type == TX_EIP1559) {
		rc = rlp_encode_u64(&f, tx->chain_id);
		if (!rc) rc = rlp_encode_u64(&f, tx->nonce);
		if (!rc) rc = rlp_encode_u256(&f, &tx->max_priority_fee_per_gas);
		if (!rc) rc = rlp_encode_u256(&f, &tx->max_fee_per_gas);
		if (!rc) rc = rlp_encode_u64(&f, tx->gas_limit);
		if (!rc) rc = tx_enc_to(&f, tx);
		if (!rc) rc = rlp_encode_u256(&f, &tx->value);
		if (!rc) rc = rlp_encode_bytes(&f, tx->data, tx->data_len);
		if (!rc) rc = tx_enc_access_list(&f, tx);
		if (!rc && with_sig) {
			rc = rlp_encode_u64(&f, tx->y_parity);
			if (!rc) rc = tx_enc_sig_rs(&f, tx);
		}
		if (!rc) rc = buf_append_byte(out, TX_EIP1559);
	} else {
		rc = rlp_encode_u64(&f, tx->nonce);
		if (!rc) rc = rlp_encode_u256(&f, &tx->gas_price);
		if (!rc) rc = rlp_encode_u64(&f, tx->gas_limit);
		if (!rc) rc = tx_enc_to(&f, tx);
		if (!rc) rc = rlp_encode_u256(&f, &tx->value);
		if (!rc) rc = rlp_encode_bytes(&f, tx->data, tx->data_len);
		if (!rc && with_sig) {
			/* v = chainId*2 + 35 + recid (EIP-155), or 27 + recid without a chain id. */
			u256 v = u256_from_u64(tx->y_parity), t;
			if (tx->chain_id) {
				u256 c = u256_from_u64(tx->chain_id), two = u256_from_u64(2);
				u256 k = u256_from_u64(35);
				u256_mul(&t, &c, &two);
				u256_add(&t, &t, &k);
			} else {
				t = u256_from_u64(27);
			}
			u256_add(&v, &v, &t);
			rc = rlp_encode_u256(&f, &v);
			if (!rc) rc = tx_enc_sig_rs(&f, tx);
		} else if (!rc && tx->chain_id) {
			rc = rlp_encode_u64(&f, tx->chain_id);
			if (!rc) rc = rlp_encode_u64(&f, 0);
			if (!rc) rc = rlp_encode_u64(&f, 0);
		}
	}
	if (!rc)
		rc = rlp_encode_list(out, f.data, f.len);
	buf_release(&f);
	if (rc)
		return err_set(e, rc, "encoding tx failed: %s", err_str(rc));
	return 0;
}

int tx_signing_payload(struct buf *out, const struct tx *tx, struct err *e)
{
	size_t old = out->len;
	int rc = tx_enc(out, tx, false, e);

	if (rc)
		out->len = old;
	return rc;
}

int tx_signing_hash(uint8_t out32[32], const struct tx *tx, struct err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, TX_RAW_MAX);
	rc = tx_enc(&b, tx, false, e);
	if (!rc)
		keccak256(out32, b.data, b.len);
	buf_release(&b);
	return rc;
}

int tx_sign(struct tx *tx, const uint8_t seckey32[32], struct err *e)
{
	uint8_t digest[32], sig[65];
	int rc = tx_signing_hash(digest, tx, e);

	if (rc)
		return rc;
	rc = secp_sign(sig, digest, seckey32, e);
	if (rc)
		return rc;
	memcpy(tx->r, sig, 32);
	memcpy(tx->s, sig + 32, 32);
	tx->y_parity = sig[64];
	tx->is_signed = true;
	return 0;
}

int tx_serialize(struct buf *out, const struct tx *tx, struct err *e)
{
	size_t old = out->len;
	int rc = tx_enc(out, tx, true, e);

	if (rc)
		out->len = old;
	return rc;
}

int tx_hash(uint8_t out32[32], const struct tx *tx, struct err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, TX_RAW_MAX);
	rc = tx_enc(&b, tx, true, e);
	if (!rc)
		keccak256(out32, b.data, b.len);
	buf_release(&b);
	return rc;
}

int tx_sender(struct eth_address *out, const struct tx *tx, struct err *e)
{
	uint8_t digest[32], sig[65];
	int rc;

	if (!tx->is_signed)
		return err_set(e, ERR_STATE, "tx is not signed");
	rc = tx_signing_hash(digest, tx, e);
	if (rc)
		return rc;
	memcpy(sig, tx->r, 32);
	memcpy(sig + 32, tx->s, 32);
	sig[64] = tx->y_parity;
	return secp_recover_address(out, digest, sig, e);
}

/* ---- decoding ---- */

static int tx_dec_u64(uint64_t *out, const struct rlp_item *it, const char *name, struct err *e)
{
	int rc = rlp_item_u64(out, it, e);

	if (rc)
		err_wrap(e, "tx field '%s'", name);
	return rc;
}

static int tx_dec_u256(u256 *out, const struct rlp_item *it, const char *name, struct err *e)
{
	int rc = rlp_item_u256(out, it, e);

	if (rc)
		err_wrap(e, "tx field '%s'", name);
	return rc;
}

static int tx_dec_to(struct tx *tx, const struct rlp_item *it, struct err *e)
{
	if (it->is_list || (it->len != 0 && it->len != 20))
		return err_set(e, ERR_INVALID, "tx field 'to' must be empty or 20 bytes, got %zu",
			       it->len);
	tx->has_to = it->len == 20;
	if (tx->has_to)
		memcpy(tx->to.b, it->payload, 20);
	return 0;
}

static int tx_dec_data(struct tx *tx, const struct rlp_item *it, struct err *e)
{
	if (it->is_list)
		return err_set(e, ERR_INVALID, "tx field 'data' must be a byte string");
	return tx_set_data(tx, it->payload, it->len, e);
}

static int tx_dec_access_list(struct tx *tx, const struct rlp_item *it, struct err *e)
{
	struct rlp_item *entries = NULL;
	struct rlp_item pair[2];
	struct rlp_item *keys = NULL;
	size_t n = 0, np, nk;
	int rc;

	if (!it->is_list)
		return err_set(e, ERR_INVALID, "tx field 'accessList' must be a list");
	entries = malloc(TX_ACCESS_LIST_MAX * sizeof *entries);
	keys = malloc(TX_ACCESS_KEYS_MAX * sizeof *keys);
	if (!entries || !keys) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = rlp_list_items(entries, TX_ACCESS_LIST_MAX, &n, it, e);
	if (rc) {
		err_wrap(e, "tx field 'accessList'");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct eth_address addr;
		uint8_t (*kv)[32] = NULL;

		rc = rlp_list_items(pair, 2, &np, &entries[i], e);
		if (rc || np != 2 || pair[0].is_list || pair[0].len != 20 || !pair[1].is_list) {
			rc = err_set(e, ERR_INVALID,
				     "tx accessList entry %zu must be [address, [keys]]", i);
			goto out;
		}
		rc = rlp_list_items(keys, TX_ACCESS_KEYS_MAX, &nk, &pair[1], e);
		if (rc) {
			err_wrap(e, "tx accessList entry %zu keys", i);
			goto out;
		}
		if (nk) {
			kv = malloc(nk * 32);
			if (!kv) {
				rc = err_set(e, ERR_NOMEM, "out of memory");
				goto out;
			}
		}
		for (size_t k = 0; k < nk; k++) {
			if (keys[k].is_list || keys[k].len != 32) {
				free(kv);
				rc = err_set(e, ERR_INVALID,
					     "tx accessList entry %zu key %zu must be 32 bytes", i, k);
				goto out;
			}
			memcpy(kv[k], keys[k].payload, 32);
		}
		memcpy(addr.b, pair[0].payload, 20);
		rc = tx_access_list_add(tx, &addr, (const uint8_t (*)[32])kv, nk, e);
		free(kv);
		if (rc)
			goto out;
	}
out:
	free(entries);
	free(keys);
	return rc;
}

/* Checks 0 < r < n and 0 < s <= n/2 and stores them. */
static int tx_dec_rs(struct tx *tx, const struct rlp_item *ri, const struct rlp_item *si,
		     struct err *e)
{
	u256 r, s, n, half;
	int rc = tx_dec_u256(&r, ri, "r", e);

	if (!rc)
		rc = tx_dec_u256(&s, si, "s", e);
	if (rc)
		return rc;
	u256_from_be32(&n, secp_n);
	u256_from_be32(&half, secp_half_n);
	if (u256_is_zero(&r) || u256_cmp(&r, &n) >= 0)
		return err_set(e, ERR_INVALID, "tx signature r out of range");
	if (u256_is_zero(&s) || u256_cmp(&s, &half) > 0)
		return err_set(e, ERR_INVALID, "tx signature s out of range (zero or high-s)");
	u256_to_be32(tx->r, &r);
	u256_to_be32(tx->s, &s);
	tx->is_signed = true;
	return 0;
}

static int tx_dec_1559(struct tx *tx, const struct rlp_item *f, size_t n, struct err *e)
{
	uint64_t yp;
	int rc;

	if (n != 12)
		return err_set(e, ERR_INVALID, "type-2 tx has %zu fields, expected 12", n);
	rc = tx_dec_u64(&tx->chain_id, &f[0], "chainId", e);
	if (!rc) rc = tx_dec_u64(&tx->nonce, &f[1], "nonce", e);
	if (!rc) rc = tx_dec_u256(&tx->max_priority_fee_per_gas, &f[2], "maxPriorityFeePerGas", e);
	if (!rc) rc = tx_dec_u256(&tx->max_fee_per_gas, &f[3], "maxFeePerGas", e);
	if (!rc) rc = tx_dec_u64(&tx->gas_limit, &f[4], "gasLimit", e);
	if (!rc) rc = tx_dec_to(tx, &f[5], e);
	if (!rc) rc = tx_dec_u256(&tx->value, &f[6], "value", e);
	if (!rc) rc = tx_dec_data(tx, &f[7], e);
	if (!rc) rc = tx_dec_access_list(tx, &f[8], e);
	if (!rc) rc = tx_dec_u64(&yp, &f[9], "yParity", e);
	if (rc)
		return rc;
	if (yp > 1)
		return err_set(e, ERR_INVALID, "tx field 'yParity' is %llu, not 0 or 1",
			       (unsigned long long)yp);
	tx->y_parity = (uint8_t)yp;
	return tx_dec_rs(tx, &f[10], &f[11], e);
}

static int tx_dec_legacy(struct tx *tx, const struct rlp_item *f, size_t n, struct err *e)
{
	uint64_t v;
	int rc;

	if (n != 9)
		return err_set(e, ERR_INVALID, "legacy tx has %zu fields, expected 9", n);
	rc = tx_dec_u64(&tx->nonce, &f[0], "nonce", e);
	if (!rc) rc = tx_dec_u256(&tx->gas_price, &f[1], "gasPrice", e);
	if (!rc) rc = tx_dec_u64(&tx->gas_limit, &f[2], "gasLimit", e);
	if (!rc) rc = tx_dec_to(tx, &f[3], e);
	if (!rc) rc = tx_dec_u256(&tx->value, &f[4], "value", e);
	if (!rc) rc = tx_dec_data(tx, &f[5], e);
	if (!rc) rc = tx_dec_u64(&v, &f[6], "v", e);
	if (rc)
		return rc;
	if (v == 27 || v == 28) {
		tx->chain_id = 0;
		tx->y_parity = (uint8_t)(v - 27);
	} else if (v >= 37) {
		tx->chain_id = (v - 35) / 2;
		tx->y_parity = (uint8_t)((v - 35) % 2);
	} else {
		return err_set(e, ERR_INVALID, "tx field 'v' is %llu, not 27/28 or EIP-155",
			       (unsigned long long)v);
	}
	return tx_dec_rs(tx, &f[7], &f[8], e);
}

int tx_decode(struct tx *out, const uint8_t *raw, size_t n, struct err *e)
{
	struct rlp_item top, f[13];
	size_t nf = 0;
	struct tx tx;
	bool typed;
	int rc;

	if (n == 0)
		return err_set(e, ERR_INVALID, "raw tx is empty");
	if (n > TX_RAW_MAX)
		return err_set(e, ERR_TOO_BIG, "raw tx is %zu bytes, at most %zu allowed",
			       n, TX_RAW_MAX);
	typed = raw[0] < 0x80;
	if (typed && raw[0] != TX_EIP1559)
		return err_set(e, ERR_UNSUPPORTED, "tx type 0x%02x not supported", raw[0]);
	if (!typed && raw[0] < 0xc0)
		return err_set(e, ERR_INVALID, "raw tx is neither a typed tx nor an RLP list");
	rc = rlp_decode(&top, raw + typed, n - typed, e);
	if (rc) {
		err_wrap(e, "raw tx");
		return rc;
	}
	if (!top.is_list)
		return err_set(e, ERR_INVALID, "raw tx payload is not an RLP list");
	rc = rlp_list_items(f, 13, &nf, &top, e);
	if (rc) {
		err_wrap(e, "raw tx");
		return rc;
	}
	tx_init(&tx, typed ? TX_EIP1559 : TX_LEGACY);
	rc = typed ? tx_dec_1559(&tx, f, nf, e) : tx_dec_legacy(&tx, f, nf, e);
	if (rc) {
		tx_release(&tx);
		return rc;
	}
	*out = tx;
	return 0;
}
