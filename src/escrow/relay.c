/*
 * relay.c — RentalRelay ABI: intent digests (eth/eip712.h), the relayer's calldata (eth/abi.h), the
 * Relayed event. Type strings and layouts: docs/escrow.md "Gasless". Pure: no I/O.
 */
#include "escrow/relay.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "eth/abi.h"
#include "eth/eip712.h"
#include "eth/rpc.h"
#include "eth/secp.h"

#define INTENT6 "(address,bytes32,uint256,uint256,uint256,uint256)"
#define INTENT5 "(address,bytes32,uint256,uint256,uint256)"
#define PERMIT "(uint256,uint256,uint8,bytes32,bytes32)"
/* Relayed(address indexed renter, uint256 indexed nonce, uint8 kind, uint256 indexed rentalId,
 *         address relayer, uint256 fee) */
#define RELAYED_DECL "Relayed(address indexed,uint256 indexed,uint8,uint256 indexed,address,uint256)"

const char *relay_kind_name(enum relay_kind k)
{
	switch (k) {
	case RELAY_OPEN: return "open";
	case RELAY_EXTEND: return "extend";
	case RELAY_STOP: return "stop";
	}
	return "?";
}

int relay_kind_parse(enum relay_kind *out, const char *s, struct err *e)
{
	for (int k = RELAY_OPEN; k <= RELAY_STOP; k++) {
		if (s && strcmp(s, relay_kind_name((enum relay_kind)k)) == 0) {
			*out = (enum relay_kind)k;
			return 0;
		}
	}
	return err_set(e, ERR_INVALID, "kind: '%.16s' is not open, extend or stop", s ? s : "");
}

static void domain_of(struct eip712_domain *d, uint64_t chain_id, const struct eth_address *relay)
{
	memset(d, 0, sizeof *d);
	d->name = RELAY_DOMAIN_NAME;
	d->version = RELAY_DOMAIN_VERSION;
	d->has_chain_id = true;
	d->chain_id = chain_id;
	d->verifying_contract = relay;
}

int relay_domain_separator(uint8_t out32[32], uint64_t chain_id, const struct eth_address *relay, struct err *e)
{
	struct eip712_domain d;

	domain_of(&d, chain_id, relay);
	return eip712_domain_separator(out32, &d, e);
}

static int check_intent(const struct relay_intent *it, struct err *e)
{
	if (it->kind < RELAY_OPEN || it->kind > RELAY_STOP)
		return err_set(e, ERR_INVALID, "intent: unknown kind %d", (int)it->kind);
	if (it->deadline >> 40)
		return err_set(e, ERR_RANGE, "intent: deadline %llu above 2^40 - 1", (unsigned long long)it->deadline);
	if (it->kind == RELAY_STOP && !u256_is_zero(&it->amount))
		return err_set(e, ERR_INVALID, "intent: a stop carries no amount");
	if (it->kind != RELAY_STOP && u256_is_zero(&it->amount))
		return err_set(e, ERR_INVALID, "intent: amount is zero");
	return 0;
}

int relay_intent_digest(uint8_t out32[32], uint64_t chain_id, const struct eth_address *relay,
			const struct relay_intent *it, struct err *e)
{
	struct eip712_domain d;
	struct eip712_val v[6];
	size_t n = 0;
	int rc;

	if ((rc = check_intent(it, e)))
		return rc;
	domain_of(&d, chain_id, relay);
	v[n++] = eip712_address(&it->renter);
	v[n++] = eip712_word(it->target);
	if (it->kind != RELAY_STOP)
		v[n++] = eip712_u256(&it->amount);
	v[n++] = eip712_u256(&it->max_fee);
	v[n++] = eip712_u256(&it->nonce);
	v[n++] = eip712_u64(it->deadline);
	return eip712_digest_vals(out32, &d,
				  it->kind == RELAY_OPEN     ? RELAY_OPEN_TYPE
				  : it->kind == RELAY_EXTEND ? RELAY_EXTEND_TYPE
							     : RELAY_STOP_TYPE,
				  v, n, e);
}

int relay_intent_sign(uint8_t sig65[65], uint64_t chain_id, const struct eth_address *relay,
		      const struct relay_intent *it, const uint8_t seckey32[32], struct err *e)
{
	uint8_t d[32], s[65];
	int rc = relay_intent_digest(d, chain_id, relay, it, e);

	if (!rc)
		rc = secp_sign(s, d, seckey32, e);
	if (rc)
		return rc;
	s[64] = (uint8_t)(s[64] + 27);
	memcpy(sig65, s, 65);
	return 0;
}

/* The intent tuple (6 words, or 5 for a stop); `items` has room for 6. */
static struct abi_value intent_value(struct abi_value *items, const struct relay_intent *it)
{
	size_t n = 0;

	items[n++] = abi_v_address(&it->renter);
	items[n++] = abi_v_fixed_bytes(it->target, 32);
	if (it->kind != RELAY_STOP)
		items[n++] = abi_v_uint(&it->amount);
	items[n++] = abi_v_uint(&it->max_fee);
	items[n++] = abi_v_uint(&it->nonce);
	items[n++] = abi_v_u64(it->deadline);
	return abi_v_tuple(items, n);
}

static struct abi_value permit_value(struct abi_value *items, const struct relay_permit *p)
{
	static const struct relay_permit none;

	if (!p)
		p = &none;
	items[0] = abi_v_uint(&p->value);
	items[1] = abi_v_uint(&p->deadline);
	items[2] = abi_v_u64(p->sig65[64]);
	items[3] = abi_v_fixed_bytes(p->sig65, 32);
	items[4] = abi_v_fixed_bytes(p->sig65 + 32, 32);
	return abi_v_tuple(items, 5);
}

static int check_call(const struct relay_intent *it, enum relay_kind want, size_t sig_len, struct err *e)
{
	int rc = check_intent(it, e);

	if (rc)
		return rc;
	if (it->kind != want)
		return err_set(e, ERR_INVALID, "intent: a %s intent, not %s", relay_kind_name(it->kind),
			       relay_kind_name(want));
	if (sig_len > ESCROW_SIG_MAX)
		return err_set(e, ERR_TOO_BIG, "signature: %zu bytes, at most %d", sig_len, ESCROW_SIG_MAX);
	return 0;
}

static int encode(struct buf *out, const char *sig, const struct abi_value *a, size_t n, struct err *e)
{
	int rc = abi_encode_call(out, sig, a, n, e);

	if (rc)
		err_wrap(e, "%.*s", (int)strcspn(sig, "("), sig);
	return rc;
}

int relay_cd_open_for(struct buf *out, const struct relay_intent *it, const uint8_t *sig, size_t sig_len,
		      const struct escrow_offer *o, const uint8_t *offer_sig, size_t offer_sig_len,
		      const struct relay_permit *p, const u256 *fee, struct err *e)
{
	struct abi_value ii[6], oi[ESCROW_OFFER_WORDS], pi[5], a[6];
	int rc = check_call(it, RELAY_OPEN, sig_len, e);

	if (rc)
		return rc;
	if (offer_sig_len > ESCROW_SIG_MAX)
		return err_set(e, ERR_TOO_BIG, "offer signature: %zu bytes, at most %d", offer_sig_len,
			       ESCROW_SIG_MAX);
	a[0] = intent_value(ii, it);
	a[1] = abi_v_bytes(sig, sig_len);
	a[2] = escrow_offer_value(oi, o);
	a[3] = abi_v_bytes(offer_sig, offer_sig_len);
	a[4] = permit_value(pi, p);
	a[5] = abi_v_uint(fee);
	return encode(out, "openFor(" INTENT6 ",bytes," ESCROW_OFFER_TUPLE ",bytes," PERMIT ",uint256)", a, 6, e);
}

static int rental_for(struct buf *out, enum relay_kind kind, const struct relay_intent *it, const uint8_t *sig,
		      size_t sig_len, const struct escrow_terms *t, const struct relay_permit *p, const u256 *fee,
		      struct err *e)
{
	struct abi_value ii[6], ti[ESCROW_TERMS_WORDS], pi[5], a[5];
	int rc = check_call(it, kind, sig_len, e);

	if (rc)
		return rc;
	a[0] = intent_value(ii, it);
	a[1] = abi_v_bytes(sig, sig_len);
	a[2] = escrow_terms_value(ti, t);
	a[3] = permit_value(pi, p);
	a[4] = abi_v_uint(fee);
	return encode(out,
		      kind == RELAY_EXTEND
			      ? "extendFor(" INTENT6 ",bytes," ESCROW_TERMS_TUPLE "," PERMIT ",uint256)"
			      : "stopFor(" INTENT5 ",bytes," ESCROW_TERMS_TUPLE "," PERMIT ",uint256)",
		      a, 5, e);
}

int relay_cd_extend_for(struct buf *out, const struct relay_intent *it, const uint8_t *sig, size_t sig_len,
			const struct escrow_terms *t, const struct relay_permit *p, const u256 *fee, struct err *e)
{
	return rental_for(out, RELAY_EXTEND, it, sig, sig_len, t, p, fee, e);
}

int relay_cd_stop_for(struct buf *out, const struct relay_intent *it, const uint8_t *sig, size_t sig_len,
		      const struct escrow_terms *t, const struct relay_permit *p, const u256 *fee, struct err *e)
{
	return rental_for(out, RELAY_STOP, it, sig, sig_len, t, p, fee, e);
}

int relay_cd_for(struct buf *out, const struct relay_intent *it, const uint8_t *sig, size_t sig_len,
		 const struct escrow_offer *o, const uint8_t *offer_sig, size_t offer_sig_len,
		 const struct escrow_terms *t, const struct relay_permit *p, const u256 *fee, struct err *e)
{
	if (it->kind == RELAY_OPEN) {
		if (!o)
			return err_set(e, ERR_INVALID, "openFor: no offer");
		return relay_cd_open_for(out, it, sig, sig_len, o, offer_sig, offer_sig_len, p, fee, e);
	}
	if (!t)
		return err_set(e, ERR_INVALID, "%sFor: no rental terms", relay_kind_name(it->kind));
	return rental_for(out, it->kind, it, sig, sig_len, t, p, fee, e);
}

int relay_cd_digest(struct buf *out, const struct relay_intent *it, struct err *e)
{
	struct abi_value ii[6], a[1];
	int rc = check_intent(it, e);

	if (rc)
		return rc;
	a[0] = intent_value(ii, it);
	return encode(out,
		      it->kind == RELAY_OPEN     ? "openDigest(" INTENT6 ")"
		      : it->kind == RELAY_EXTEND ? "extendDigest(" INTENT6 ")"
						 : "stopDigest(" INTENT5 ")",
		      a, 1, e);
}

int relay_cd_nonce_used(struct buf *out, const struct eth_address *renter, const u256 *nonce, struct err *e)
{
	struct abi_value a[2] = { abi_v_address(renter), abi_v_uint(nonce) };

	return encode(out, "nonceUsed(address,uint256)", a, 2, e);
}

int relay_cd_cancel_nonce(struct buf *out, const u256 *nonce, struct err *e)
{
	struct abi_value a[1] = { abi_v_uint(nonce) };

	return encode(out, "cancelNonce(uint256)", a, 1, e);
}

int relay_event_decode(struct relay_event *out, const struct rpc_log *log, struct err *e)
{
	struct abi_value *v = NULL;
	struct relay_event ev;
	uint8_t topic[32];
	int rc;

	if ((rc = abi_event_topic(topic, RELAYED_DECL, e)))
		return rc;
	if (log->n_topics == 0 || memcmp(topic, log->topics[0], 32) != 0)
		return err_set(e, ERR_NOT_FOUND, "log: not a Relayed event");
	rc = abi_decode_event(&v, RELAYED_DECL, (const uint8_t(*)[32])log->topics, log->n_topics, log->data,
			      log->data_len, e);
	if (rc) {
		err_wrap(e, "Relayed event");
		return rc;
	}
	const struct abi_value *a = v->items;
	memset(&ev, 0, sizeof ev);
	memcpy(ev.renter.b, a[0].fixed, 20);
	ev.nonce = a[1].num;
	ev.kind = (enum relay_kind)a[2].num.w[0];
	if (u256_to_u64(&ev.rental_id, &a[3].num))
		rc = err_set(e, ERR_RANGE, "Relayed event: rental id above 2^64");
	memcpy(ev.relayer.b, a[4].fixed, 20);
	ev.fee = a[5].num;
	abi_value_free(v);
	if (!rc)
		*out = ev;
	return rc;
}
