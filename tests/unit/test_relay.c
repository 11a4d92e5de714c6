/*
 * test_relay.c — the gasless pieces that need no chain: the relayer's fee arithmetic (server/relay_fee.h)
 * and the relay bindings' input checks and calldata shapes (escrow/relay.h). The digests and calldata are
 * checked against the contract itself in test_escrow_chain (test_relayed_zero_gas).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "escrow/relay.h"
#include "eth/abi.h"
#include "server/relay_fee.h"

static u256 dec(const char *s)
{
	u256 v;
	assert_int_equal(u256_parse_dec(&v, s, NULL), 0);
	return v;
}

/* 300000 gas at 10 gwei = 0.003 ETH; at $3000 that is $9; in a 6-decimal $1 token 9000000 units, +25 %. */
static void test_fee_exact(void **state)
{
	struct relay_fee_in in = { .gas_limit = 300000, .max_fee_per_gas = dec("10000000000"),
				   .native_usd_micro = 3000000000ull, .token_usd_micro = 1000000, .token_decimals = 6,
				   .margin_pct = 25 };
	u256 fee, wei, want = dec("11250000"), want_wei = dec("3000000000000000");
	uint64_t usd = 0;
	(void)state;

	assert_int_equal(relay_fee_compute(&fee, &wei, &in, NULL), 0);
	assert_int_equal(u256_cmp(&fee, &want), 0);
	assert_int_equal(u256_cmp(&wei, &want_wei), 0);
	assert_int_equal(relay_fee_usd_micro(&usd, &fee, 6, 1000000, NULL), 0);
	assert_int_equal(usd, 11250000);
	in.margin_pct = 0;
	want = dec("9000000");
	assert_int_equal(relay_fee_compute(&fee, NULL, &in, NULL), 0);
	assert_int_equal(u256_cmp(&fee, &want), 0);
}

/* The fee rounds up, once: the relayer is never paid less than its cost. */
static void test_fee_rounds_up(void **state)
{
	struct relay_fee_in in = { .gas_limit = 21000, .max_fee_per_gas = dec("1"), .native_usd_micro = 1,
				   .token_usd_micro = 1000000, .token_decimals = 6, .margin_pct = 0 };
	u256 fee, one = u256_from_u64(1);
	(void)state;

	/* 21000 wei at a micro-dollar per ETH is far below one unit: still 1 unit */
	assert_int_equal(relay_fee_compute(&fee, NULL, &in, NULL), 0);
	assert_int_equal(u256_cmp(&fee, &one), 0);
	in.max_fee_per_gas = u256_from_u64(0);
	assert_int_equal(relay_fee_compute(&fee, NULL, &in, NULL), 0);
	assert_true(u256_is_zero(&fee));
}

static void test_fee_refuses(void **state)
{
	struct relay_fee_in in = { .gas_limit = 100000, .max_fee_per_gas = dec("1000000000"),
				   .native_usd_micro = 0, .token_usd_micro = 1000000, .token_decimals = 6 };
	struct err e = { 0 };
	u256 fee;
	(void)state;

	assert_int_equal(relay_fee_compute(&fee, NULL, &in, &e), ERR_STATE); /* no ETH price */
	assert_non_null(strstr(e.msg, "native coin"));
	in.native_usd_micro = 1;
	in.token_usd_micro = 0;
	assert_int_equal(relay_fee_compute(&fee, NULL, &in, &e), ERR_STATE);
	in.token_usd_micro = 1;
	in.token_decimals = 37;
	assert_int_equal(relay_fee_compute(&fee, NULL, &in, NULL), ERR_RANGE);
	in.token_decimals = 18;
	in.margin_pct = RELAY_MARGIN_MAX + 1;
	assert_int_equal(relay_fee_compute(&fee, NULL, &in, NULL), ERR_RANGE);
	in.margin_pct = 0;
	in.max_fee_per_gas = dec("115792089237316195423570985008687907853269984665640564039457584007913129639935");
	assert_int_equal(relay_fee_compute(&fee, NULL, &in, NULL), ERR_RANGE); /* overflow named, not wrapped */
}

static struct relay_intent intent(enum relay_kind k)
{
	struct relay_intent it;

	memset(&it, 0, sizeof it);
	it.kind = k;
	memset(it.renter.b, 0x11, 20);
	memset(it.target, 0x22, 32);
	if (k != RELAY_STOP)
		it.amount = u256_from_u64(1000000);
	it.max_fee = u256_from_u64(50000);
	it.nonce = u256_from_u64(7);
	it.deadline = 1800000000;
	return it;
}

static void test_intent_checks(void **state)
{
	struct eth_address relay;
	struct relay_intent it;
	enum relay_kind k;
	uint8_t d[32], d2[32];
	(void)state;

	memset(relay.b, 0x33, 20);
	assert_int_equal(relay_kind_parse(&k, "extend", NULL), 0);
	assert_int_equal(k, RELAY_EXTEND);
	assert_int_equal(relay_kind_parse(&k, "claim", NULL), ERR_INVALID);
	assert_int_equal(relay_kind_parse(&k, NULL, NULL), ERR_INVALID);
	it = intent(RELAY_OPEN);
	assert_int_equal(relay_intent_digest(d, 31337, &relay, &it, NULL), 0);
	it.nonce = u256_from_u64(8); /* every field is signed */
	assert_int_equal(relay_intent_digest(d2, 31337, &relay, &it, NULL), 0);
	assert_memory_not_equal(d, d2, 32);
	it = intent(RELAY_OPEN);
	assert_int_equal(relay_intent_digest(d2, 1, &relay, &it, NULL), 0); /* another chain */
	assert_memory_not_equal(d, d2, 32);
	it.kind = RELAY_EXTEND; /* the same words as another kind: another type hash */
	assert_int_equal(relay_intent_digest(d2, 31337, &relay, &it, NULL), 0);
	assert_memory_not_equal(d, d2, 32);
	it.deadline = (uint64_t)1 << 40;
	assert_int_equal(relay_intent_digest(d, 31337, &relay, &it, NULL), ERR_RANGE);
	it = intent(RELAY_STOP);
	it.amount = u256_from_u64(1);
	assert_int_equal(relay_intent_digest(d, 31337, &relay, &it, NULL), ERR_INVALID);
	it = intent(RELAY_EXTEND);
	it.amount = u256_from_u64(0);
	assert_int_equal(relay_intent_digest(d, 31337, &relay, &it, NULL), ERR_INVALID);
	it.kind = (enum relay_kind)9;
	assert_int_equal(relay_intent_digest(d, 31337, &relay, &it, NULL), ERR_INVALID);
}

/* Selectors and shapes: openFor / extendFor / stopFor with their tuples, a kind mismatch refused. */
static void test_calldata(void **state)
{
	struct relay_intent it = intent(RELAY_STOP);
	struct escrow_terms t;
	uint8_t sel[4], sig[65];
	struct buf cd;
	u256 fee = u256_from_u64(100);
	(void)state;

	memset(&t, 0, sizeof t);
	memset(sig, 1, sizeof sig);
	t.id = 3;
	t.rate = u256_from_u64(5);
	buf_init(&cd, 1 << 16);
	assert_int_equal(relay_cd_stop_for(&cd, &it, sig, 65, &t, NULL, &fee, NULL), 0);
	assert_int_equal(abi_selector(sel, "stopFor((address,bytes32,uint256,uint256,uint256),bytes," ESCROW_TERMS_TUPLE
				      ",(uint256,uint256,uint8,bytes32,bytes32),uint256)", NULL), 0);
	assert_memory_equal(cd.data, sel, 4);
	/* 4 + intent 5 words + bytes offset + terms 16 + permit 5 + fee + (len + 3 words of the signature) */
	assert_int_equal(cd.len, 4 + 32 * (5 + 1 + 16 + 5 + 1 + 1 + 3));
	buf_reset(&cd);
	assert_int_equal(relay_cd_extend_for(&cd, &it, sig, 65, &t, NULL, &fee, NULL), ERR_INVALID);
	assert_int_equal(cd.len, 0);
	it = intent(RELAY_EXTEND);
	assert_int_equal(relay_cd_extend_for(&cd, &it, sig, 65, &t, NULL, &fee, NULL), 0);
	assert_int_equal(abi_selector(sel, "extendFor((address,bytes32,uint256,uint256,uint256,uint256),bytes,"
				      ESCROW_TERMS_TUPLE ",(uint256,uint256,uint8,bytes32,bytes32),uint256)", NULL), 0);
	assert_memory_equal(cd.data, sel, 4);
	buf_reset(&cd);
	assert_int_equal(relay_cd_for(&cd, &it, sig, ESCROW_SIG_MAX + 1, NULL, NULL, 0, &t, NULL, &fee, NULL),
			 ERR_TOO_BIG);
	it = intent(RELAY_OPEN);
	assert_int_equal(relay_cd_for(&cd, &it, sig, 65, NULL, NULL, 0, &t, NULL, &fee, NULL), ERR_INVALID);
	buf_release(&cd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fee_exact),
		cmocka_unit_test(test_fee_rounds_up),
		cmocka_unit_test(test_fee_refuses),
		cmocka_unit_test(test_intent_checks),
		cmocka_unit_test(test_calldata),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
