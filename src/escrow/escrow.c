/*
 * escrow.c — RentalEscrow ABI: calldata builders over eth/abi.h, EIP-712 digests over eth/eip712.h,
 * event and revert decoding. Layouts, selectors and type strings: docs/escrow.md (§3–§7).
 * Pure: no I/O. Every builder appends to a capped struct buf and leaves it unchanged on failure.
 */
#include "escrow/escrow.h"

#include <stdio.h>
#include <string.h>


#include "core/err.h"
#include "core/hex.h"
#include "eth/abi.h"
#include "eth/eip712.h"
#include "eth/keccak.h"
#include "eth/rpc.h"
#include "eth/secp.h"

#define T ESCROW_TERMS_TUPLE
#define O ESCROW_OFFER_TUPLE

/* ---------------------------------------------------------------- state word */

static void word_bits(uint64_t *out, const u256 *w, unsigned at, unsigned bits)
{
	/* at and bits never straddle a limb for the fields used here except via two reads */
	uint64_t v = w->w[at / 64] >> (at % 64);
	if (at % 64 + bits > 64)
		v |= w->w[at / 64 + 1] << (64 - at % 64);
	*out = bits == 64 ? v : v & ((UINT64_C(1) << bits) - 1);
}

void escrow_word_unpack(struct escrow_word *out, const u256 *word)
{
	uint64_t v;
	struct escrow_word w;

	memset(&w, 0, sizeof w);
	w.deposited.w[0] = word->w[0];
	w.deposited.w[1] = word->w[1] & UINT64_C(0xffffffff);
	word_bits(&v, word, 96, 32);
	w.claimed_secs = (uint32_t)v;
	word_bits(&v, word, 128, 32);
	w.used_secs = (uint32_t)v;
	word_bits(&v, word, 160, 32);
	w.seg_start = (uint32_t)v;
	word_bits(&v, word, 192, 32);
	w.mark = (uint32_t)v;
	word_bits(&v, word, 224, 32);
	w.ended_at = (uint32_t)v;
	*out = w;
}

int escrow_word_pack(u256 *out, const struct escrow_word *w, struct err *e)
{
	u256 r;

	if (w->deposited.w[3] || w->deposited.w[2] || (w->deposited.w[1] >> 32))
		return err_set(e, ERR_RANGE, "state.deposited: above 2^96 - 1");
	r.w[0] = w->deposited.w[0];
	r.w[1] = w->deposited.w[1] | ((uint64_t)w->claimed_secs << 32);
	r.w[2] = (uint64_t)w->used_secs | ((uint64_t)w->seg_start << 32);
	r.w[3] = (uint64_t)w->mark | ((uint64_t)w->ended_at << 32);
	*out = r;
	return 0;
}

/* ---------------------------------------------------------------- values */

struct abi_value escrow_terms_value(struct abi_value *items, const struct escrow_terms *t)
{
	items[0] = abi_v_u64(t->id);
	items[1] = abi_v_address(&t->renter);
	items[2] = abi_v_address(&t->provider);
	items[3] = abi_v_address(&t->payout);
	items[4] = abi_v_address(&t->token);
	items[5] = abi_v_address(&t->arbiter);
	items[6] = abi_v_address(&t->monitor);
	items[7] = abi_v_uint(&t->rate);
	items[8] = abi_v_u64(t->fee_bps);
	items[9] = abi_v_bool(t->interruptible);
	items[10] = abi_v_u64(t->notice_secs);
	items[11] = abi_v_u64(t->grace_secs);
	items[12] = abi_v_u64(t->dispute_secs);
	items[13] = abi_v_u64(t->max_secs);
	items[14] = abi_v_u64(t->epoch);
	items[15] = abi_v_fixed_bytes(t->spec_hash, 32);
	return abi_v_tuple(items, ESCROW_TERMS_WORDS);
}

struct abi_value escrow_offer_value(struct abi_value *items, const struct escrow_offer *o)
{
	items[0] = abi_v_address(&o->provider);
	items[1] = abi_v_address(&o->payout);
	items[2] = abi_v_address(&o->token);
	items[3] = abi_v_address(&o->arbiter);
	items[4] = abi_v_uint(&o->rate);
	items[5] = abi_v_u64(o->min_secs);
	items[6] = abi_v_u64(o->max_secs);
	items[7] = abi_v_bool(o->interruptible);
	items[8] = abi_v_u64(o->notice_secs);
	items[9] = abi_v_u64(o->grace_secs);
	items[10] = abi_v_u64(o->dispute_secs);
	items[11] = abi_v_fixed_bytes(o->spec_hash, 32);
	items[12] = abi_v_u64(o->capacity);
	items[13] = abi_v_address(&o->monitor);
	items[14] = abi_v_u64(o->max_fee_bps);
	items[15] = abi_v_u64(o->expiry);
	items[16] = abi_v_u64(o->nonce);
	return abi_v_tuple(items, ESCROW_OFFER_WORDS);
}

static int check_sig(size_t sig_len, struct err *e)
{
	if (sig_len > ESCROW_SIG_MAX)
		return err_set(e, ERR_TOO_BIG, "signature: %zu bytes, at most %d", sig_len,
			       ESCROW_SIG_MAX);
	return 0;
}

/* ---------------------------------------------------------------- Terms */

int escrow_terms_encode(uint8_t out[ESCROW_TERMS_SIZE], const struct escrow_terms *t, struct err *e)
{
	struct abi_value items[ESCROW_TERMS_WORDS];
	struct abi_value v = escrow_terms_value(items, t);
	struct buf b;
	int rc;

	buf_init(&b, ESCROW_TERMS_SIZE);
	rc = abi_encode(&b, T, v.items, v.count, e);
	if (!rc && b.len != ESCROW_TERMS_SIZE)
		rc = err_set(e, ERR_INVALID, "terms: encoded to %zu bytes", b.len);
	if (!rc)
		memcpy(out, b.data, ESCROW_TERMS_SIZE);
	else
		err_wrap(e, "terms");
	buf_release(&b);
	return rc;
}

static int get_u64(uint64_t *out, const struct abi_value *v, const char *name, struct err *e)
{
	if (u256_to_u64(out, &v->num))
		return err_set(e, ERR_RANGE, "%s: above 64 bits", name);
	return 0;
}

int escrow_terms_decode(struct escrow_terms *out, const uint8_t *p, size_t n, struct err *e)
{
	struct abi_value *v = NULL;
	struct escrow_terms t;
	uint64_t x;
	int rc;

	if (n != ESCROW_TERMS_SIZE)
		return err_set(e, ERR_INVALID, "terms: %zu bytes, want %d", n, ESCROW_TERMS_SIZE);
	rc = abi_decode(&v, T, p, n, e);
	if (rc) {
		err_wrap(e, "terms");
		return rc;
	}
	memset(&t, 0, sizeof t);
	rc = get_u64(&t.id, &v->items[0], "terms.id", e);
	memcpy(t.renter.b, v->items[1].fixed, 20);
	memcpy(t.provider.b, v->items[2].fixed, 20);
	memcpy(t.payout.b, v->items[3].fixed, 20);
	memcpy(t.token.b, v->items[4].fixed, 20);
	memcpy(t.arbiter.b, v->items[5].fixed, 20);
	memcpy(t.monitor.b, v->items[6].fixed, 20);
	t.rate = v->items[7].num;
	if (!rc && !(rc = get_u64(&x, &v->items[8], "terms.feeBps", e)))
		t.fee_bps = (uint16_t)x;
	t.interruptible = !u256_is_zero(&v->items[9].num);
	if (!rc && !(rc = get_u64(&x, &v->items[10], "terms.noticeSecs", e)))
		t.notice_secs = (uint32_t)x;
	if (!rc && !(rc = get_u64(&x, &v->items[11], "terms.graceSecs", e)))
		t.grace_secs = (uint32_t)x;
	if (!rc && !(rc = get_u64(&x, &v->items[12], "terms.disputeSecs", e)))
		t.dispute_secs = (uint32_t)x;
	if (!rc && !(rc = get_u64(&x, &v->items[13], "terms.maxSecs", e)))
		t.max_secs = (uint32_t)x;
	if (!rc)
		rc = get_u64(&t.epoch, &v->items[14], "terms.epoch", e);
	memcpy(t.spec_hash, v->items[15].fixed, 32);
	abi_value_free(v);
	if (!rc)
		*out = t;
	return rc;
}

int escrow_rental_key(uint8_t out32[32], const struct escrow_terms *t, struct err *e)
{
	uint8_t enc[ESCROW_TERMS_SIZE];
	int rc = escrow_terms_encode(enc, t, e);

	if (!rc)
		keccak256(out32, enc, sizeof enc);
	return rc;
}

/* ---------------------------------------------------------------- calldata */

static int call(struct buf *out, const char *sig, const struct abi_value *args, size_t n, struct err *e)
{
	int rc = abi_encode_call(out, sig, args, n, e);

	if (rc) {
		char fn[48];
		size_t k = strcspn(sig, "(");
		snprintf(fn, sizeof fn, "%.*s", (int)(k < 40 ? k : 40), sig);
		err_wrap(e, "%s", fn);
	}
	return rc;
}

int escrow_cd_open(struct buf *out, const struct escrow_offer *o, const uint8_t *sig, size_t sig_len,
		   const u256 *amount, struct err *e)
{
	struct abi_value oi[ESCROW_OFFER_WORDS];
	struct abi_value a[3];

	if (check_sig(sig_len, e))
		return ERR_TOO_BIG;
	a[0] = escrow_offer_value(oi, o);
	a[1] = abi_v_bytes(sig, sig_len);
	a[2] = abi_v_uint(amount);
	return call(out, "open(" O ",bytes,uint256)", a, 3, e);
}

int escrow_cd_open_with_permit(struct buf *out, const struct escrow_offer *o, const uint8_t *sig,
			       size_t sig_len, const u256 *amount, const u256 *deadline,
			       const uint8_t permit_sig65[65], struct err *e)
{
	struct abi_value oi[ESCROW_OFFER_WORDS];
	struct abi_value a[7];

	if (check_sig(sig_len, e))
		return ERR_TOO_BIG;
	a[0] = escrow_offer_value(oi, o);
	a[1] = abi_v_bytes(sig, sig_len);
	a[2] = abi_v_uint(amount);
	a[3] = abi_v_uint(deadline);
	a[4] = abi_v_u64(permit_sig65[64]);
	a[5] = abi_v_fixed_bytes(permit_sig65, 32);
	a[6] = abi_v_fixed_bytes(permit_sig65 + 32, 32);
	return call(out, "openWithPermit(" O ",bytes,uint256,uint256,uint8,bytes32,bytes32)", a, 7, e);
}

int escrow_cd_extend(struct buf *out, const struct escrow_terms *t, const u256 *amount, struct err *e)
{
	struct abi_value ti[ESCROW_TERMS_WORDS];
	struct abi_value a[2] = { escrow_terms_value(ti, t), abi_v_uint(amount) };

	return call(out, "extend(" T ",uint256)", a, 2, e);
}

int escrow_cd_extend_with_permit(struct buf *out, const struct escrow_terms *t, const u256 *amount,
				 const u256 *deadline, const uint8_t permit_sig65[65], struct err *e)
{
	struct abi_value ti[ESCROW_TERMS_WORDS];
	struct abi_value a[6] = {
		escrow_terms_value(ti, t),
		abi_v_uint(amount),
		abi_v_uint(deadline),
		abi_v_u64(permit_sig65[64]),
		abi_v_fixed_bytes(permit_sig65, 32),
		abi_v_fixed_bytes(permit_sig65 + 32, 32),
	};

	return call(out, "extendWithPermit(" T ",uint256,uint256,uint8,bytes32,bytes32)", a, 6, e);
}

int escrow_cd_rental(struct buf *out, enum escrow_rental_fn fn, const struct escrow_terms *t,
		     struct err *e)
{
	static const char *const sigs[] = {
		[ESCROW_FN_CLAIM] = "claim(" T ")",
		[ESCROW_FN_RECLAIM] = "reclaim(" T ")",
		[ESCROW_FN_STOP] = "stop(" T ")",
		[ESCROW_FN_SETTLE] = "settle(" T ")",
		[ESCROW_FN_DISPUTE] = "dispute(" T ")",
		[ESCROW_FN_STATE_OF] = "stateOf(" T ")",
		[ESCROW_FN_RENTAL_KEY] = "rentalKey(" T ")",
	};
	struct abi_value ti[ESCROW_TERMS_WORDS];
	struct abi_value a;

	if ((int)fn < ESCROW_FN_CLAIM || (int)fn > ESCROW_FN_RENTAL_KEY)
		return err_set(e, ERR_INVALID, "rental call: unknown function %d", (int)fn);
	a = escrow_terms_value(ti, t);
	return call(out, sigs[fn], &a, 1, e);
}

int escrow_cd_resolve_with_attestation(struct buf *out, const struct escrow_terms *t, uint64_t ended_at,
				       uint32_t seconds_up, uint32_t seconds_observed, const uint8_t *sig,
				       size_t sig_len, struct err *e)
{
	struct abi_value ti[ESCROW_TERMS_WORDS];
	struct abi_value a[5];

	if (check_sig(sig_len, e))
		return ERR_TOO_BIG;
	a[0] = escrow_terms_value(ti, t);
	a[1] = abi_v_u64(ended_at);
	a[2] = abi_v_u64(seconds_up);
	a[3] = abi_v_u64(seconds_observed);
	a[4] = abi_v_bytes(sig, sig_len);
	return call(out, "resolveWithAttestation(" T ",uint40,uint32,uint32,bytes)", a, 5, e);
}

int escrow_cd_rule(struct buf *out, const struct escrow_terms *t, uint32_t provider_secs, struct err *e)
{
	struct abi_value ti[ESCROW_TERMS_WORDS];
	struct abi_value a[2] = { escrow_terms_value(ti, t), abi_v_u64(provider_secs) };

	return call(out, "rule(" T ",uint32)", a, 2, e);
}

int escrow_cd_quote(struct buf *out, const struct escrow_terms *t, uint64_t at_time, struct err *e)
{
	struct abi_value ti[ESCROW_TERMS_WORDS];
	struct abi_value a[2] = { escrow_terms_value(ti, t), abi_v_u64(at_time) };

	return call(out, "quote(" T ",uint256)", a, 2, e);
}

int escrow_cd_decode_state(struct buf *out, const struct escrow_terms *t, const u256 *word, struct err *e)
{
	struct abi_value ti[ESCROW_TERMS_WORDS];
	struct abi_value a[2] = { escrow_terms_value(ti, t), abi_v_uint(word) };

	return call(out, "decodeState(" T ",uint256)", a, 2, e);
}

int escrow_cd_withdraw_owed(struct buf *out, const struct eth_address *token, const struct eth_address *to,
			    struct err *e)
{
	struct abi_value a[2] = { abi_v_address(token), abi_v_address(to) };

	return call(out, "withdrawOwed(address,address)", a, 2, e);
}

int escrow_cd_withdraw_fees(struct buf *out, const struct eth_address *token, struct err *e)
{
	struct abi_value a = abi_v_address(token);

	return call(out, "withdrawFees(address)", &a, 1, e);
}

int escrow_cd_cancel_offer(struct buf *out, uint64_t nonce, struct err *e)
{
	struct abi_value a = abi_v_u64(nonce);

	return call(out, "cancelOffer(uint64)", &a, 1, e);
}

int escrow_cd_set_treasury(struct buf *out, const struct eth_address *addr, struct err *e)
{
	struct abi_value a = abi_v_address(addr);

	return call(out, "setTreasury(address)", &a, 1, e);
}

int escrow_cd_set_fee_bps(struct buf *out, uint16_t bps, struct err *e)
{
	struct abi_value a = abi_v_u64(bps);

	return call(out, "setFeeBps(uint16)", &a, 1, e);
}

int escrow_cd_set_monitor(struct buf *out, const struct eth_address *addr, struct err *e)
{
	struct abi_value a = abi_v_address(addr);

	return call(out, "setMonitor(address)", &a, 1, e);
}

int escrow_cd_set_token_allowed(struct buf *out, const struct eth_address *token, bool allowed,
				struct err *e)
{
	struct abi_value a[2] = { abi_v_address(token), abi_v_bool(allowed) };

	return call(out, "setTokenAllowed(address,bool)", a, 2, e);
}

int escrow_cd_token_allowed(struct buf *out, const struct eth_address *token, struct err *e)
{
	struct abi_value a = abi_v_address(token);

	return call(out, "tokenAllowed(address)", &a, 1, e);
}

int escrow_cd_live_rentals(struct buf *out, const struct eth_address *provider, const uint8_t spec32[32],
			   struct err *e)
{
	struct abi_value a[2] = { abi_v_address(provider), abi_v_fixed_bytes(spec32, 32) };

	return call(out, "liveRentals(address,bytes32)", a, 2, e);
}

int escrow_cd_offer_digest(struct buf *out, const struct escrow_offer *o, struct err *e)
{
	struct abi_value oi[ESCROW_OFFER_WORDS];
	struct abi_value a = escrow_offer_value(oi, o);

	return call(out, "offerDigest(" O ")", &a, 1, e);
}

int escrow_cd_uptime_digest(struct buf *out, uint64_t rental_id, uint64_t ended_at, uint32_t up,
			    uint32_t observed, struct err *e)
{
	struct abi_value a[4] = { abi_v_u64(rental_id), abi_v_u64(ended_at), abi_v_u64(up),
				  abi_v_u64(observed) };

	return call(out, "uptimeDigest(uint256,uint40,uint32,uint32)", a, 4, e);
}

int escrow_cd_rentals(struct buf *out, const uint8_t key32[32], struct err *e)
{
	struct abi_value a = abi_v_fixed_bytes(key32, 32);

	return call(out, "rentals(bytes32)", &a, 1, e);
}

int escrow_cd_fees(struct buf *out, const struct eth_address *token, struct err *e)
{
	struct abi_value a = abi_v_address(token);

	return call(out, "fees(address)", &a, 1, e);
}

int escrow_cd_owed(struct buf *out, const struct eth_address *token, const struct eth_address *account,
		   struct err *e)
{
	struct abi_value a[2] = { abi_v_address(token), abi_v_address(account) };

	return call(out, "owed(address,address)", a, 2, e);
}

int escrow_cd_offer_cancelled(struct buf *out, const struct eth_address *provider, uint64_t nonce,
			      struct err *e)
{
	struct abi_value a[2] = { abi_v_address(provider), abi_v_u64(nonce) };

	return call(out, "offerCancelled(address,uint64)", a, 2, e);
}

static int getter(struct buf *out, const char *name, const char *const *names, size_t n, struct err *e)
{
	char sig[64];

	if (!name)
		return err_set(e, ERR_INVALID, "getter: no name");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(name, names[i]) == 0) {
			snprintf(sig, sizeof sig, "%s()", names[i]);
			return call(out, sig, NULL, 0, e);
		}
	}
	return err_set(e, ERR_NOT_FOUND, "getter '%.40s': not an argument-less view of this contract", name);
}

int escrow_cd_getter(struct buf *out, const char *name, struct err *e)
{
	static const char *const names[] = {
		"domainSeparator", "nextId", "feeBps", "treasury", "monitor", "arbiterWindow", "owner",
		"pendingOwner", "RATE_SCALE", "MAX_FEE_BPS", "BPS", "MAX_DEPOSIT", "NATIVE_SEND_GAS",
		"OFFER_TYPEHASH", "UPTIME_TYPEHASH", "RULE_ATTESTATION", "RULE_ARBITER", "RULE_DEFAULT",
		"MAX_ARBITER_WINDOW", "relay",
		"eip712Domain", "acceptOwnership", "renounceOwnership",
	};
	return getter(out, name, names, sizeof names / sizeof names[0], e);
}

int escrow_cd_constructor(struct buf *out, const struct eth_address *owner,
			  const struct eth_address *treasury, const struct eth_address *monitor,
			  uint16_t fee_bps, uint32_t arbiter_window_secs, const struct eth_address *tokens,
			  size_t n_tokens, struct err *e)
{
	struct abi_value items[ESCROW_DEPLOY_TOKENS_MAX];
	struct abi_value a[6];
	int rc;

	if (n_tokens > ESCROW_DEPLOY_TOKENS_MAX)
		return err_set(e, ERR_TOO_BIG, "constructor: %zu tokens, at most %d", n_tokens,
			       ESCROW_DEPLOY_TOKENS_MAX);
	if (arbiter_window_secs > ESCROW_MAX_ARBITER_WINDOW_SECS)
		return err_set(e, ERR_RANGE, "arbiter window: %u s, at most %u (30 days)", arbiter_window_secs,
			       ESCROW_MAX_ARBITER_WINDOW_SECS);
	for (size_t i = 0; i < n_tokens; i++)
		items[i] = abi_v_address(&tokens[i]);
	a[0] = abi_v_address(owner);
	a[1] = abi_v_address(treasury);
	a[2] = abi_v_address(monitor);
	a[3] = abi_v_u64(fee_bps);
	a[4] = abi_v_u64(arbiter_window_secs);
	a[5] = abi_v_array(items, n_tokens);
	rc = abi_encode(out, "address,address,address,uint16,uint32,address[]", a, 6, e);
	if (rc)
		err_wrap(e, "constructor");
	return rc;
}

int erc20_cd_approve(struct buf *out, const struct eth_address *spender, const u256 *amount, struct err *e)
{
	struct abi_value a[2] = { abi_v_address(spender), abi_v_uint(amount) };

	return call(out, "approve(address,uint256)", a, 2, e);
}

int erc20_cd_transfer(struct buf *out, const struct eth_address *to, const u256 *amount, struct err *e)
{
	struct abi_value a[2] = { abi_v_address(to), abi_v_uint(amount) };

	return call(out, "transfer(address,uint256)", a, 2, e);
}

int erc20_cd_balance_of(struct buf *out, const struct eth_address *owner, struct err *e)
{
	struct abi_value a = abi_v_address(owner);

	return call(out, "balanceOf(address)", &a, 1, e);
}

int erc20_cd_allowance(struct buf *out, const struct eth_address *owner, const struct eth_address *spender,
		       struct err *e)
{
	struct abi_value a[2] = { abi_v_address(owner), abi_v_address(spender) };

	return call(out, "allowance(address,address)", a, 2, e);
}

int erc20_cd_nonces(struct buf *out, const struct eth_address *owner, struct err *e)
{
	struct abi_value a = abi_v_address(owner);

	return call(out, "nonces(address)", &a, 1, e);
}

int erc20_cd_getter(struct buf *out, const char *name, struct err *e)
{
	static const char *const names[] = {
		"decimals", "name", "symbol", "totalSupply", "DOMAIN_SEPARATOR", "eip712Domain",
	};
	return getter(out, name, names, sizeof names / sizeof names[0], e);
}

int erc20_cd_mint(struct buf *out, const struct eth_address *to, const u256 *amount, struct err *e)
{
	struct abi_value a[2] = { abi_v_address(to), abi_v_uint(amount) };

	return call(out, "mint(address,uint256)", a, 2, e);
}

/* ---------------------------------------------------------------- return values */

static int ret_word(size_t n, const char *what, struct err *e)
{
	if (n != 32)
		return err_set(e, ERR_INVALID, "%s return: %zu bytes, want 32", what, n);
	return 0;
}

int escrow_ret_u256(u256 *out, const uint8_t *p, size_t n, struct err *e)
{
	if (ret_word(n, "uint256", e))
		return ERR_INVALID;
	u256_from_be32(out, p);
	return 0;
}

int escrow_ret_address(struct eth_address *out, const uint8_t *p, size_t n, struct err *e)
{
	if (ret_word(n, "address", e))
		return ERR_INVALID;
	for (int i = 0; i < 12; i++)
		if (p[i])
			return err_set(e, ERR_NONCANONICAL, "address return: high bytes not zero");
	memcpy(out->b, p + 12, 20);
	return 0;
}

int escrow_ret_bytes32(uint8_t out32[32], const uint8_t *p, size_t n, struct err *e)
{
	if (ret_word(n, "bytes32", e))
		return ERR_INVALID;
	memcpy(out32, p, 32);
	return 0;
}

int escrow_ret_string(char *out, size_t cap, const uint8_t *p, size_t n, struct err *e)
{
	struct abi_value *v = NULL;
	int rc = abi_decode(&v, "(string)", p, n, e);

	if (rc) {
		err_wrap(e, "string return");
		return rc;
	}
	if (v->items[0].len + 1 > cap || memchr(v->items[0].data, 0, v->items[0].len)) {
		abi_value_free(v);
		return err_set(e, ERR_TOO_BIG, "string return: too long or holds NUL");
	}
	memcpy(out, v->items[0].data, v->items[0].len);
	out[v->items[0].len] = 0;
	abi_value_free(v);
	return 0;
}

int escrow_ret_quote(u256 out4[4], const uint8_t *p, size_t n, struct err *e)
{
	if (n != 128)
		return err_set(e, ERR_INVALID, "quote return: %zu bytes, want 128", n);
	for (int i = 0; i < 4; i++)
		u256_from_be32(&out4[i], p + 32 * i);
	return 0;
}

/* ---------------------------------------------------------------- EIP-712 */

int escrow_domain_separator(uint8_t out32[32], uint64_t chain_id, const struct eth_address *escrow,
			    struct err *e)
{
	struct eip712_domain d = {
		.name = ESCROW_DOMAIN_NAME,
		.version = ESCROW_DOMAIN_VERSION,
		.has_chain_id = true,
		.chain_id = chain_id,
		.verifying_contract = escrow,
	};
	return eip712_domain_separator(out32, &d, e);
}

int escrow_offer_digest(uint8_t out32[32], uint64_t chain_id, const struct eth_address *escrow,
			const struct escrow_offer *o, struct err *e)
{
	struct eip712_domain d = {
		.name = ESCROW_DOMAIN_NAME,
		.version = ESCROW_DOMAIN_VERSION,
		.has_chain_id = true,
		.chain_id = chain_id,
		.verifying_contract = escrow,
	};
	struct eip712_val v[ESCROW_OFFER_WORDS] = {
		eip712_address(&o->provider), eip712_address(&o->payout), eip712_address(&o->token),
		eip712_address(&o->arbiter),  eip712_u256(&o->rate),      eip712_u64(o->min_secs),
		eip712_u64(o->max_secs),      eip712_bool(o->interruptible), eip712_u64(o->notice_secs),
		eip712_u64(o->grace_secs),    eip712_u64(o->dispute_secs), eip712_word(o->spec_hash),
		eip712_u64(o->capacity),      eip712_address(&o->monitor), eip712_u64(o->max_fee_bps),
		eip712_u64(o->expiry),        eip712_u64(o->nonce),
	};
	return eip712_digest_vals(out32, &d, ESCROW_OFFER_TYPE, v, ESCROW_OFFER_WORDS, e);
}

/* Signs a digest: r || s || v with v = 27/28. */
static int sign27(uint8_t sig65[65], const uint8_t digest[32], const uint8_t seckey32[32], struct err *e)
{
	uint8_t s[65];
	int rc = secp_sign(s, digest, seckey32, e);

	if (rc)
		return rc;
	s[64] = (uint8_t)(s[64] + 27);
	memcpy(sig65, s, 65);
	return 0;
}

int escrow_offer_sign(uint8_t sig65[65], uint64_t chain_id, const struct eth_address *escrow,
		      const struct escrow_offer *o, const uint8_t seckey32[32], struct err *e)
{
	uint8_t d[32];
	int rc = escrow_offer_digest(d, chain_id, escrow, o, e);

	return rc ? rc : sign27(sig65, d, seckey32, e);
}

int escrow_uptime_digest(uint8_t out32[32], uint64_t chain_id, const struct eth_address *escrow,
			 const struct escrow_uptime *u, struct err *e)
{
	struct eip712_domain d = {
		.name = ESCROW_DOMAIN_NAME,
		.version = ESCROW_DOMAIN_VERSION,
		.has_chain_id = true,
		.chain_id = chain_id,
		.verifying_contract = escrow,
	};
	struct eip712_val v[4] = { eip712_u64(u->rental_id), eip712_u64(u->ended_at),
				   eip712_u64(u->seconds_up), eip712_u64(u->seconds_observed) };

	if (u->ended_at == 0 || u->ended_at >> 40)
		return err_set(e, ERR_RANGE, "uptime: endedAt must be the rental's end (1..2^40-1)");
	if (u->seconds_up > u->seconds_observed)
		return err_set(e, ERR_INVALID, "uptime: secondsUp %u above secondsObserved %u", u->seconds_up,
			       u->seconds_observed);
	return eip712_digest_vals(out32, &d, ESCROW_UPTIME_TYPE, v, 4, e);
}

int escrow_uptime_sign(uint8_t sig65[65], uint64_t chain_id, const struct eth_address *escrow,
		       const struct escrow_uptime *u, const uint8_t seckey32[32], struct err *e)
{
	uint8_t d[32];
	int rc = escrow_uptime_digest(d, chain_id, escrow, u, e);

	return rc ? rc : sign27(sig65, d, seckey32, e);
}

int escrow_permit_digest(uint8_t out32[32], const struct escrow_permit *p, struct err *e)
{
	struct eip712_domain d = {
		.name = p->token_name,
		.version = p->token_version,
		.has_chain_id = true,
		.chain_id = p->chain_id,
		.verifying_contract = &p->token,
	};
	struct eip712_val v[5] = { eip712_address(&p->owner), eip712_address(&p->spender),
				   eip712_u256(&p->value), eip712_u256(&p->nonce),
				   eip712_u256(&p->deadline) };
	if (!p->token_name || !p->token_version)
		return err_set(e, ERR_INVALID, "permit: token name and version are required");
	return eip712_digest_vals(out32, &d, ESCROW_PERMIT_TYPE, v, 5, e);
}

int escrow_permit_sign(uint8_t sig65[65], const struct escrow_permit *p, const uint8_t seckey32[32],
		       struct err *e)
{
	uint8_t d[32];
	int rc = escrow_permit_digest(d, p, e);

	return rc ? rc : sign27(sig65, d, seckey32, e);
}

/* ---------------------------------------------------------------- events */

struct ev_decl {
	enum escrow_event_kind kind;
	const char *name;
	const char *decl; /* with "indexed" marks, for abi_decode_event */
};

static const struct ev_decl events[] = {
	{ ESCROW_EV_OPENED, "Opened",
	  "Opened(uint256 indexed,address indexed,address indexed,bytes32,bytes32," T ",uint256)" },
	{ ESCROW_EV_EXTENDED, "Extended", "Extended(uint256 indexed,uint256,uint256)" },
	{ ESCROW_EV_CLAIMED, "Claimed", "Claimed(uint256 indexed,uint256,uint256,uint256)" },
	{ ESCROW_EV_RECLAIMED, "Reclaimed", "Reclaimed(uint256 indexed,uint256)" },
	{ ESCROW_EV_STOPPED, "Stopped", "Stopped(uint256 indexed,uint256,uint256,uint256,uint256)" },
	{ ESCROW_EV_SETTLED, "Settled", "Settled(uint256 indexed,uint256,uint256,uint256,uint256)" },
	{ ESCROW_EV_DISPUTED, "Disputed", "Disputed(uint256 indexed,uint256)" },
	{ ESCROW_EV_RESOLVED, "Resolved",
	  "Resolved(uint256 indexed,uint8,uint256,uint256,uint256,uint256)" },
	{ ESCROW_EV_CLOSED, "Closed", "Closed(uint256 indexed)" },
	{ ESCROW_EV_CREDITED, "Credited", "Credited(address indexed,address indexed,uint256)" },
	{ ESCROW_EV_WITHDRAWN, "Withdrawn", "Withdrawn(address indexed,address indexed,address,uint256)" },
	{ ESCROW_EV_FEES_WITHDRAWN, "FeesWithdrawn", "FeesWithdrawn(address indexed,address,uint256)" },
	{ ESCROW_EV_OFFER_CANCELLED, "OfferCancelled", "OfferCancelled(address indexed,uint64)" },
	{ ESCROW_EV_TREASURY_SET, "TreasurySet", "TreasurySet(address)" },
	{ ESCROW_EV_FEE_SET, "FeeSet", "FeeSet(uint16)" },
	{ ESCROW_EV_MONITOR_SET, "MonitorSet", "MonitorSet(address)" },
	{ ESCROW_EV_TOKEN_ALLOWED, "TokenAllowed", "TokenAllowed(address indexed,bool)" },
};
#define N_EVENTS (sizeof events / sizeof events[0])

const char *escrow_event_name(enum escrow_event_kind k)
{
	for (size_t i = 0; i < N_EVENTS; i++)
		if (events[i].kind == k)
			return events[i].name;
	return "?";
}

static void addr_of(struct eth_address *out, const struct abi_value *v)
{
	memcpy(out->b, v->fixed, 20);
}

int escrow_event_decode(struct escrow_event *out, const struct rpc_log *log, struct err *e)
{
	const struct ev_decl *d = NULL;
	struct abi_value *v = NULL;
	struct escrow_event ev;
	uint8_t topic[32];
	uint64_t x;
	int rc;

	if (log->n_topics == 0 || log->n_topics > RPC_LOG_TOPICS_MAX)
		return err_set(e, ERR_NOT_FOUND, "log: no topic0 (anonymous), not an escrow event");
	for (size_t i = 0; i < N_EVENTS && !d; i++) {
		if (abi_event_topic(topic, events[i].decl, e))
			return err_set(e, ERR_INVALID, "event table: bad declaration %s", events[i].name);
		if (memcmp(topic, log->topics[0], 32) == 0)
			d = &events[i];
	}
	if (!d)
		return err_set(e, ERR_NOT_FOUND, "log: topic0 is not an escrow event");
	rc = abi_decode_event(&v, d->decl, (const uint8_t(*)[32])log->topics, log->n_topics, log->data,
			      log->data_len, e);
	if (rc) {
		err_wrap(e, "%s event", d->name);
		return rc;
	}
	memset(&ev, 0, sizeof ev);
	ev.kind = d->kind;
	const struct abi_value *a = v->items;
	switch (d->kind) {
	case ESCROW_EV_OPENED: {
		uint8_t enc[ESCROW_TERMS_SIZE];
		struct buf b;
		addr_of(&ev.opened.renter, &a[1]);
		addr_of(&ev.opened.provider, &a[2]);
		memcpy(ev.opened.offer_hash, a[3].fixed, 32);
		memcpy(ev.opened.spec_hash, a[4].fixed, 32);
		/* re-encode the decoded tuple (canonical, so identical) and reuse the Terms decoder */
		buf_init(&b, ESCROW_TERMS_SIZE);
		rc = abi_encode(&b, T, a[5].items, a[5].count, e);
		if (!rc && b.len == ESCROW_TERMS_SIZE) {
			memcpy(enc, b.data, ESCROW_TERMS_SIZE);
			rc = escrow_terms_decode(&ev.opened.terms, enc, sizeof enc, e);
		} else if (!rc) {
			rc = err_set(e, ERR_INVALID, "Opened event: terms of %zu bytes", b.len);
		}
		buf_release(&b);
		ev.state = a[6].num;
		ev.has_state = true;
		break;
	}
	case ESCROW_EV_EXTENDED:
		ev.extended.amount = a[1].num;
		ev.state = a[2].num;
		ev.has_state = true;
		break;
	case ESCROW_EV_CLAIMED:
		ev.payout.provider_amount = a[1].num;
		ev.payout.fee_amount = a[2].num;
		ev.state = a[3].num;
		ev.has_state = true;
		break;
	case ESCROW_EV_RECLAIMED:
	case ESCROW_EV_DISPUTED:
		ev.state = a[1].num;
		ev.has_state = true;
		break;
	case ESCROW_EV_STOPPED:
	case ESCROW_EV_SETTLED:
		ev.payout.provider_amount = a[1].num;
		ev.payout.fee_amount = a[2].num;
		ev.payout.refund_amount = a[3].num;
		ev.state = a[4].num;
		ev.has_state = true;
		break;
	case ESCROW_EV_RESOLVED:
		ev.payout.rule = (uint8_t)a[1].num.w[0];
		ev.payout.provider_amount = a[2].num;
		ev.payout.fee_amount = a[3].num;
		ev.payout.refund_amount = a[4].num;
		ev.state = a[5].num;
		ev.has_state = true;
		break;
	case ESCROW_EV_CLOSED:
		break;
	case ESCROW_EV_CREDITED:
		addr_of(&ev.credit.token, &a[0]);
		addr_of(&ev.credit.account, &a[1]);
		ev.credit.amount = a[2].num;
		break;
	case ESCROW_EV_WITHDRAWN:
		addr_of(&ev.credit.token, &a[0]);
		addr_of(&ev.credit.account, &a[1]);
		addr_of(&ev.credit.to, &a[2]);
		ev.credit.amount = a[3].num;
		break;
	case ESCROW_EV_FEES_WITHDRAWN:
		addr_of(&ev.credit.token, &a[0]);
		addr_of(&ev.credit.to, &a[1]);
		ev.credit.amount = a[2].num;
		break;
	case ESCROW_EV_OFFER_CANCELLED:
		addr_of(&ev.cancelled.provider, &a[0]);
		ev.cancelled.nonce = a[1].num.w[0];
		break;
	case ESCROW_EV_TREASURY_SET:
	case ESCROW_EV_MONITOR_SET:
		addr_of(&ev.config.addr, &a[0]);
		break;
	case ESCROW_EV_FEE_SET:
		ev.config.fee_bps = (uint16_t)a[0].num.w[0];
		break;
	case ESCROW_EV_TOKEN_ALLOWED:
		addr_of(&ev.config.addr, &a[0]);
		ev.config.allowed = !u256_is_zero(&a[1].num);
		break;
	}
	if (!rc && d->kind <= ESCROW_EV_CLOSED) {
		rc = u256_to_u64(&x, &a[0].num);
		if (rc)
			rc = err_set(e, ERR_RANGE, "%s event: rental id above 64 bits", d->name);
		ev.id = x;
	}
	abi_value_free(v);
	if (!rc)
		*out = ev;
	return rc;
}

/* ---------------------------------------------------------------- reverts */

struct err_decl {
	const char *sig;   /* canonical signature */
	const char *names; /* comma-separated argument names, "" when none */
};

static const struct err_decl errors[] = {
	/* RentalEscrow (docs/escrow.md §7) */
	{ "OfferExpired(uint256)", "expiry" },
	{ "OfferNonceCancelled(address,uint64)", "provider,nonce" },
	{ "BadOfferSignature()", "" },
	{ "ZeroRate()", "" },
	{ "ZeroAddress()", "" },
	{ "ZeroAmount()", "" },
	{ "BadNativeValue(uint256,uint256)", "expected,got" },
	{ "NoPermitForNative()", "" },
	{ "DepositBelowMinimum(uint256,uint256)", "paidSecs,minSecs" },
	{ "DepositAboveMaximum(uint256,uint256)", "paidSecs,maxSecs" },
	{ "DepositTooLarge(uint256)", "deposited" },
	{ "UnknownRental(uint256)", "id" },
	{ "NotRenter()", "" },
	{ "NotProvider()", "" },
	{ "NotArbiter()", "" },
	{ "NotInterruptible()", "" },
	{ "AlreadyReclaimed()", "" },
	{ "RentalEnded()", "" },
	{ "RentalOver()", "" },
	{ "NotOver()", "" },
	{ "NothingToClaim()", "" },
	{ "RentalDisputed()", "" },
	{ "NotDisputed()", "" },
	{ "DisputeWindowClosed()", "" },
	{ "DisputeWindowOpen()", "" },
	{ "ArbiterWindowClosed()", "" },
	{ "ArbiterWindowOpen()", "" },
	{ "BadAttestation(uint32,uint32)", "secondsUp,secondsObserved" },
	{ "BadAttestationSignature()", "" },
	{ "FeeAboveCap(uint16)", "feeBps" },
	{ "NothingOwed()", "" },
	{ "TransferFailed()", "" },
	{ "TimeOverflow()", "" },
	{ "OfferFull(uint256,uint256)", "live,capacity" },
	{ "ZeroCapacity()", "" },
	{ "FeeAboveOfferMax(uint16,uint16)", "feeBps,maxFeeBps" },
	{ "MonitorMismatch(address,address)", "monitor,offerMonitor" },
	{ "TokenNotAllowed(address)", "token" },
	{ "ArbiterWindowTooLong(uint32,uint32)", "secs,maxSecs" },
	{ "AttestationNotForThisEnd(uint256,uint256)", "endedAt,billedSecs" },
	/* RentalRelay (gasless intents) */
	{ "IntentExpired(uint256)", "deadline" },
	{ "IntentUsed(address,uint256)", "renter,nonce" },
	{ "BadIntentSignature()", "" },
	{ "FeeAboveMax(uint256,uint256)", "fee,maxFee" },
	{ "WrongOffer()", "" },
	{ "WrongRental()", "" },
	{ "NativeNotRelayed()", "" },
	/* OpenZeppelin 5 (inherited, and the dev tokens) */
	{ "ReentrancyGuardReentrantCall()", "" },
	{ "SafeERC20FailedOperation(address)", "token" },
	{ "OwnableUnauthorizedAccount(address)", "account" },
	{ "OwnableInvalidOwner(address)", "owner" },
	{ "ECDSAInvalidSignature()", "" },
	{ "ECDSAInvalidSignatureLength(uint256)", "length" },
	{ "ECDSAInvalidSignatureS(bytes32)", "s" },
	{ "ERC20InsufficientBalance(address,uint256,uint256)", "sender,balance,needed" },
	{ "ERC20InsufficientAllowance(address,uint256,uint256)", "spender,allowance,needed" },
	{ "ERC20InvalidSender(address)", "sender" },
	{ "ERC20InvalidReceiver(address)", "receiver" },
	{ "ERC20InvalidApprover(address)", "approver" },
	{ "ERC20InvalidSpender(address)", "spender" },
	{ "ERC2612ExpiredSignature(uint256)", "deadline" },
	{ "ERC2612InvalidSigner(address,address)", "signer,owner" },
	{ "InvalidAccountNonce(address,uint256)", "account,currentNonce" },
	{ "Blacklisted(address)", "account" },
};
#define N_ERRORS (sizeof errors / sizeof errors[0])

int escrow_error_name(char out[ESCROW_ERROR_NAME_MAX], const uint8_t sel4[4])
{
	uint8_t s[4];

	for (size_t i = 0; i < N_ERRORS; i++) {
		if (abi_selector(s, errors[i].sig, NULL))
			continue;
		if (memcmp(s, sel4, 4) == 0) {
			size_t k = strcspn(errors[i].sig, "(");
			snprintf(out, ESCROW_ERROR_NAME_MAX, "%.*s", (int)k, errors[i].sig);
			return 0;
		}
	}
	return ERR_NOT_FOUND;
}

/* Appends the value of one decoded argument. */
static void fmt_arg(struct buf *b, const struct abi_value *v)
{
	char s[U256_DEC_MAX > 67 ? U256_DEC_MAX : 67];

	switch (v->kind) {
	case ABI_ADDRESS: {
		struct eth_address a;
		memcpy(a.b, v->fixed, 20);
		address_to_checksum(s, &a);
		buf_append_str(b, s);
		break;
	}
	case ABI_FIXED_BYTES:
		buf_append_str(b, "0x");
		buf_append_hex(b, v->fixed, v->len);
		break;
	case ABI_BOOL:
		buf_append_str(b, u256_is_zero(&v->num) ? "false" : "true");
		break;
	default:
		u256_to_dec(s, &v->num);
		buf_append_str(b, s);
		break;
	}
}

static void copy_out(char *out, size_t cap, const char *s)
{
	if (cap == 0)
		return;
	snprintf(out, cap, "%s", s);
}

int escrow_revert_message(char *out, size_t cap, const uint8_t *data, size_t n, struct err *e)
{
	const char *sigs[N_ERRORS];
	struct abi_revert r;
	struct buf b;
	int rc;

	for (size_t i = 0; i < N_ERRORS; i++)
		sigs[i] = errors[i].sig;
	memset(&r, 0, sizeof r);
	rc = abi_decode_revert(&r, data, n, sigs, N_ERRORS, e);
	if (rc) {
		char hex[2 * 4 + 3] = "";
		if (n >= 4)
			hex_encode_0x(hex, data, 4);
		char msg[128];
		snprintf(msg, sizeof msg, "malformed revert data (%zu bytes%s%s)", n, n >= 4 ? ", selector " : "",
			 hex);
		copy_out(out, cap, msg);
		err_wrap(e, "revert data");
		return rc;
	}
	buf_init(&b, ESCROW_MSG_MAX);
	switch (r.kind) {
	case ABI_REVERT_EMPTY:
		buf_append_str(&b, "reverted without data");
		break;
	case ABI_REVERT_ERROR:
		buf_printf(&b, "Error: %.*s", (int)(r.message_len > 300 ? 300 : r.message_len), r.message);
		break;
	case ABI_REVERT_PANIC: {
		char hx[U256_HEX_MAX];
		u256_to_hex(hx, &r.panic_code);
		buf_printf(&b, "Panic %s (%s)", hx, r.panic_text ? r.panic_text : "unknown code");
		break;
	}
	case ABI_REVERT_CUSTOM: {
		const struct err_decl *d = &errors[r.custom];
		const char *names = d->names;
		size_t k = strcspn(d->sig, "(");
		buf_printf(&b, "%.*s(", (int)k, d->sig);
		for (size_t i = 0; r.args && i < r.args->count; i++) {
			size_t nl = strcspn(names, ",");
			buf_printf(&b, "%s%.*s=", i ? ", " : "", (int)nl, names);
			fmt_arg(&b, &r.args->items[i]);
			names += nl + (names[nl] == ',');
		}
		buf_append_str(&b, ")");
		break;
	}
	case ABI_REVERT_UNKNOWN: {
		char hx[11];
		hex_encode_0x(hx, r.selector, 4);
		buf_printf(&b, "unknown error %s (%zu bytes of arguments)", hx, n - 4);
		break;
	}
	}
	copy_out(out, cap, b.len ? buf_cstr(&b) : "revert (message too long)");
	buf_release(&b);
	abi_revert_release(&r);
	return 0;
}
