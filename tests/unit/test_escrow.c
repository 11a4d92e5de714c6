/*
 * test_escrow.c — src/escrow: calldata, Terms encoding and rental key, state word, EIP-712 digests and
 * signatures (Offer, Uptime, EIP-2612 Permit), event and revert decoding, the money mirror, and the
 * deployment file. Bad inputs each give a negative code and a message.
 *
 * Vectors:
 *  - Selectors, calldata, event logs and revert payloads: computed with the pinned npm ethers 6 from the
 *    compiled ABI build/contracts/RentalEscrow.json (Interface.encodeFunctionData / encodeEventLog /
 *    encodeErrorResult, AbiCoder.encode for Terms, keccak256 for the rental key). Selectors also appear
 *    in docs/escrow.md §5 (solc's method identifiers).
 *  - EIP-712 digests: ethers TypedDataEncoder.hash / hashDomain for the same types and values;
 *    signatures: ethers SigningKey.sign (RFC 6979, low-s) with anvil's public development key #1
 *    0x59c6...690d (test key only).
 *  - Mirror figures: worked by hand from the contract's rules (docs/escrow.md §2) for 1 token/h in a
 *    6-decimal token (rate 277777777777777777777), fee 10 %, dispute window 1 h; the same rules are
 *    checked against the deployed contract in tests/integration/test_escrow_chain.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "escrow/deploy.h"
#include "escrow/escrow.h"
#include "escrow/mirror.h"
#include "eth/keccak.h"
#include "eth/rpc.h"
#include "eth/secp.h"

#define KEY1 "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
#define ESC_ADDR "0x5fbdb2315678afecb367f032d93f642f64180aa3"
#define TOKEN_ADDR "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"
#define RATE_1H "277777777777777777777" /* 1e6 units per hour, scaled by 1e18 */
#define T0 UINT64_C(1700000000)

static struct eth_address addr(const char *s)
{
	struct eth_address a;
	assert_int_equal(address_parse(&a, s, NULL), 0);
	return a;
}

static struct eth_address small_addr(unsigned v)
{
	struct eth_address a;
	memset(&a, 0, sizeof a);
	a.b[18] = (uint8_t)(v >> 8);
	a.b[19] = (uint8_t)v;
	return a;
}

static u256 num(const char *s)
{
	u256 x;
	assert_int_equal(u256_parse(&x, s, NULL), 0);
	return x;
}

static void assert_u256(const u256 *x, const char *want)
{
	char got[U256_DEC_MAX];
	u256_to_dec(got, x);
	assert_string_equal(got, want);
}

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
	char *got = malloc(2 * n + 3);
	assert_non_null(got);
	hex_encode_0x(got, p, n);
	assert_string_equal(got, want);
	free(got);
}

static void key1(uint8_t k[32], struct eth_address *a)
{
	assert_int_equal(hex_decode_exact(k, 32, KEY1, NULL), 0);
	if (a)
		assert_int_equal(secp_address(a, k, NULL), 0);
}

static struct escrow_offer test_offer(void)
{
	struct escrow_offer o;
	uint8_t k[32];
	memset(&o, 0, sizeof o);
	key1(k, &o.provider);
	o.payout = small_addr(0x9a1d);
	o.token = addr(TOKEN_ADDR);
	o.arbiter = small_addr(0xa4b);
	o.rate = num(RATE_1H);
	o.min_secs = 60;
	o.max_secs = 2592000;
	o.interruptible = true;
	o.notice_secs = 300;
	o.grace_secs = 600;
	o.dispute_secs = 3600;
	keccak256(o.spec_hash, (const uint8_t *)"H100 80GB SXM", 13);
	o.capacity = 1;
	o.monitor = small_addr(0xc0c);
	o.max_fee_bps = 1500;
	o.expiry = 1700086400;
	o.nonce = 7;
	return o;
}

static struct escrow_terms test_terms(void)
{
	struct escrow_terms t;
	uint8_t k[32];
	memset(&t, 0, sizeof t);
	t.id = 3;
	t.renter = small_addr(0xb0b);
	key1(k, &t.provider);
	t.payout = small_addr(0x9a1d);
	t.token = addr(TOKEN_ADDR);
	t.arbiter = small_addr(0xa4b);
	t.monitor = small_addr(0xc0c);
	t.rate = num(RATE_1H);
	t.fee_bps = 1000;
	t.interruptible = true;
	t.notice_secs = 300;
	t.grace_secs = 600;
	t.dispute_secs = 3600;
	t.max_secs = 2592000;
	t.epoch = T0 - 1;
	keccak256(t.spec_hash, (const uint8_t *)"H100 80GB SXM", 13);
	return t;
}

#define TERMS_HEX                                                                                  \
	"0000000000000000000000000000000000000000000000000000000000000003"                         \
	"0000000000000000000000000000000000000000000000000000000000000b0b"                         \
	"00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8"                         \
	"0000000000000000000000000000000000000000000000000000000000009a1d"                         \
	"000000000000000000000000e7f1725e7734ce288f8367e1bb143e90bb3f0512"                         \
	"0000000000000000000000000000000000000000000000000000000000000a4b"                         \
	"0000000000000000000000000000000000000000000000000000000000000c0c"                         \
	"00000000000000000000000000000000000000000000000f0ef0e928bdd71c71"                         \
	"00000000000000000000000000000000000000000000000000000000000003e8"                         \
	"0000000000000000000000000000000000000000000000000000000000000001"                         \
	"000000000000000000000000000000000000000000000000000000000000012c"                         \
	"0000000000000000000000000000000000000000000000000000000000000258"                         \
	"0000000000000000000000000000000000000000000000000000000000000e10"                         \
	"0000000000000000000000000000000000000000000000000000000000278d00"                         \
	"000000000000000000000000000000000000000000000000000000006553f0ff"                         \
	"3a6e43b558a4b5b3f81e0cb8b38a575750ab5358e0348d4601ceacae74313c75"

/* ------------------------------------------------------------------ Terms, key, word */

static void test_terms_encode_key(void **state)
{
	(void)state;
	struct escrow_terms t = test_terms(), back;
	uint8_t enc[ESCROW_TERMS_SIZE], key[32];

	assert_int_equal(escrow_terms_encode(enc, &t, NULL), 0);
	assert_hex(enc, sizeof enc, "0x" TERMS_HEX);
	assert_int_equal(escrow_rental_key(key, &t, NULL), 0);
	assert_hex(key, 32, "0x9ad0b7253b7aecc40887e924a84bd06d36c3b13a324797794ad763036f6a98df");
	assert_int_equal(escrow_terms_decode(&back, enc, sizeof enc, NULL), 0);
	assert_memory_equal(&back, &t, sizeof t);
}

static void test_terms_bad(void **state)
{
	(void)state;
	struct escrow_terms t = test_terms(), back;
	uint8_t enc[ESCROW_TERMS_SIZE];
	struct err e = { 0, "" };
	/* each: byte to dirty */
	static const size_t dirty[] = {
		0 * 32 + 23,  /* id above uint64 */
		1 * 32 + 0,   /* renter high bytes */
		7 * 32 + 15,  /* rate above uint128 */
		8 * 32 + 29,  /* feeBps above uint16 */
		9 * 32 + 31,  /* bool 2 */
		14 * 32 + 26, /* epoch above uint40 */
	};

	assert_int_equal(escrow_terms_encode(enc, &t, NULL), 0);
	for (size_t i = 0; i < sizeof dirty / sizeof dirty[0]; i++) {
		uint8_t bad[ESCROW_TERMS_SIZE];
		memcpy(bad, enc, sizeof bad);
		bad[dirty[i]] ^= 0x02;
		err_clear(&e);
		assert_true(escrow_terms_decode(&back, bad, sizeof bad, &e) < 0);
		assert_true(e.msg[0] != 0);
	}
	err_clear(&e);
	assert_int_equal(escrow_terms_decode(&back, enc, sizeof enc - 1, &e), ERR_INVALID);
	assert_true(e.msg[0] != 0);
	/* rate of 2^128 does not fit uint128; epoch of 2^40 does not fit uint40 */
	t.rate = num("340282366920938463463374607431768211456");
	err_clear(&e);
	assert_true(escrow_terms_encode(enc, &t, &e) < 0);
	assert_true(e.msg[0] != 0);
	t = test_terms();
	t.epoch = UINT64_C(1) << 40;
	err_clear(&e);
	assert_true(escrow_rental_key(enc, &t, &e) < 0);
	assert_true(e.msg[0] != 0);
}

static void test_word(void **state)
{
	(void)state;
	struct escrow_word w;
	u256 x = num("0x1900000000100000064000000050000000000000000000f4240"), back;
	struct err e = { 0, "" };

	escrow_word_unpack(&w, &x);
	assert_u256(&w.deposited, "1000000");
	assert_int_equal(w.claimed_secs, 5);
	assert_int_equal(w.used_secs, 100);
	assert_int_equal(w.seg_start, 1);
	assert_int_equal(w.mark, 400);
	assert_int_equal(w.ended_at, 0);
	assert_int_equal(escrow_word_pack(&back, &w, NULL), 0);
	assert_int_equal(u256_cmp(&back, &x), 0);
	/* all-ones word: every field at its maximum */
	memset(&x, 0xff, sizeof x);
	escrow_word_unpack(&w, &x);
	assert_u256(&w.deposited, "79228162514264337593543950335");
	assert_int_equal(w.ended_at, 0xffffffffu);
	assert_int_equal(escrow_word_pack(&back, &w, NULL), 0);
	assert_int_equal(u256_cmp(&back, &x), 0);
	w.deposited = num("79228162514264337593543950336"); /* 2^96 */
	assert_int_equal(escrow_word_pack(&back, &w, &e), ERR_RANGE);
	assert_true(e.msg[0] != 0);
}

/* ------------------------------------------------------------------ calldata */

static void test_calldata(void **state)
{
	(void)state;
	struct escrow_terms t = test_terms();
	struct escrow_offer o = test_offer();
	struct buf b;
	uint8_t sig[65];
	u256 amt = u256_from_u64(1000000), ten = u256_from_u64(10000000);

	buf_init(&b, 1 << 16);
	assert_int_equal(escrow_cd_rental(&b, ESCROW_FN_CLAIM, &t, NULL), 0);
	assert_hex(b.data, b.len, "0x816a5e33" TERMS_HEX);
	buf_reset(&b);
	assert_int_equal(escrow_cd_extend(&b, &t, &amt, NULL), 0);
	assert_hex(b.data, b.len,
		   "0x723ef6a1" TERMS_HEX "00000000000000000000000000000000000000000000000000000000000f4240");
	buf_reset(&b);
	memset(sig, 0x11, sizeof sig);
	assert_int_equal(escrow_cd_open(&b, &o, sig, sizeof sig, &ten, NULL), 0);
	assert_hex(b.data, b.len,
		   "0x7126501700000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c80000000000000000000000000000000000000000000000000000000000009a1d000000000000000000000000e7f1725e7734ce288f8367e1bb143e90bb3f05120000000000000000000000000000000000000000000000000000000000000a4b00000000000000000000000000000000000000000000000f0ef0e928bdd71c71000000000000000000000000000000000000000000000000000000000000003c0000000000000000000000000000000000000000000000000000000000278d000000000000000000000000000000000000000000000000000000000000000001000000000000000000000000000000000000000000000000000000000000012c00000000000000000000000000000000000000000000000000000000000002580000000000000000000000000000000000000000000000000000000000000e103a6e43b558a4b5b3f81e0cb8b38a575750ab5358e0348d4601ceacae74313c7500000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000c0c00000000000000000000000000000000000000000000000000000000000005dc00000000000000000000000000000000000000000000000000000000655542800000000000000000000000000000000000000000000000000000000000000007000000000000000000000000000000000000000000000000000000000000026000000000000000000000000000000000000000000000000000000000009896800000000000000000000000000000000000000000000000000000000000000041111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111100000000000000000000000000000000000000000000000000000000000000");
	buf_release(&b);
}

/* Every function's selector (docs/escrow.md §5). */
static void test_selectors(void **state)
{
	(void)state;
	struct escrow_terms t = test_terms();
	struct escrow_offer o = test_offer();
	struct eth_address a = small_addr(1);
	uint8_t sig[65] = { 0 }, key[32] = { 0 };
	u256 one = u256_from_u64(1);
	struct buf b;
	struct {
		const char *sel;
		int rc;
	} c[64];
	size_t n = 0;

	buf_init(&b, 1 << 16);
#define SEL(call, want)                                                                            \
	do {                                                                                       \
		buf_reset(&b);                                                                     \
		assert_int_equal((call), 0);                                                       \
		assert_true(b.len >= 4);                                                           \
		assert_hex(b.data, 4, want);                                                       \
		c[n++].sel = want;                                                                 \
	} while (0)
	SEL(escrow_cd_open(&b, &o, sig, 65, &one, NULL), "0x71265017");
	SEL(escrow_cd_open_with_permit(&b, &o, sig, 65, &one, &one, sig, NULL), "0xf28dd8d7");
	SEL(escrow_cd_extend(&b, &t, &one, NULL), "0x723ef6a1");
	SEL(escrow_cd_extend_with_permit(&b, &t, &one, &one, sig, NULL), "0x0668511b"); /* forge methodIdentifiers */
	SEL(escrow_cd_rental(&b, ESCROW_FN_CLAIM, &t, NULL), "0x816a5e33");
	SEL(escrow_cd_rental(&b, ESCROW_FN_RECLAIM, &t, NULL), "0x0a7697a5");
	SEL(escrow_cd_rental(&b, ESCROW_FN_STOP, &t, NULL), "0x7e467941");
	SEL(escrow_cd_rental(&b, ESCROW_FN_SETTLE, &t, NULL), "0x4be30783");
	SEL(escrow_cd_rental(&b, ESCROW_FN_DISPUTE, &t, NULL), "0x1296fc70");
	SEL(escrow_cd_rental(&b, ESCROW_FN_STATE_OF, &t, NULL), "0xdfdbdad8");
	SEL(escrow_cd_rental(&b, ESCROW_FN_RENTAL_KEY, &t, NULL), "0x714fd68f");
	SEL(escrow_cd_resolve_with_attestation(&b, &t, T0, 1, 2, sig, 65, NULL), "0xb3b67a48");
	SEL(escrow_cd_rule(&b, &t, 5, NULL), "0xa7e89186");
	SEL(escrow_cd_quote(&b, &t, T0, NULL), "0xd8674295");
	SEL(escrow_cd_decode_state(&b, &t, &one, NULL), "0x9eed1613");
	SEL(escrow_cd_withdraw_owed(&b, &a, &a, NULL), "0xc2cff684");
	SEL(escrow_cd_withdraw_fees(&b, &a, NULL), "0x164e68de");
	SEL(escrow_cd_cancel_offer(&b, 7, NULL), "0x66948833");
	SEL(escrow_cd_set_treasury(&b, &a, NULL), "0xf0f44260");
	SEL(escrow_cd_set_fee_bps(&b, 100, NULL), "0x023b1fc9");
	SEL(escrow_cd_set_monitor(&b, &a, NULL), "0x5cd82390");
	SEL(escrow_cd_offer_digest(&b, &o, NULL), "0x78a61f5a");
	SEL(escrow_cd_set_token_allowed(&b, &a, true, NULL), "0x15f69012");
	SEL(escrow_cd_token_allowed(&b, &a, NULL), "0x55219d5a");
	SEL(escrow_cd_live_rentals(&b, &a, key, NULL), "0x4de14735");
	SEL(escrow_cd_uptime_digest(&b, 1, T0, 2, 3, NULL), "0x0190563e");
	SEL(escrow_cd_rentals(&b, key, NULL), "0x7df8768e");
	SEL(escrow_cd_fees(&b, &a, NULL), "0xfaaebd21");
	SEL(escrow_cd_owed(&b, &a, &a, NULL), "0x28079e4a");
	SEL(escrow_cd_offer_cancelled(&b, &a, 7, NULL), "0x30d886d6");
	SEL(escrow_cd_getter(&b, "domainSeparator", NULL), "0xf698da25");
	SEL(escrow_cd_getter(&b, "nextId", NULL), "0x61b8ce8c");
	SEL(escrow_cd_getter(&b, "arbiterWindow", NULL), "0xf8e021dc");
	SEL(escrow_cd_getter(&b, "treasury", NULL), "0x61d027b3");
	/* ERC-20 / EIP-2612 (standard selectors, EIP-20 and EIP-2612) */
	SEL(erc20_cd_approve(&b, &a, &one, NULL), "0x095ea7b3");
	SEL(erc20_cd_transfer(&b, &a, &one, NULL), "0xa9059cbb");
	SEL(erc20_cd_balance_of(&b, &a, NULL), "0x70a08231");
	SEL(erc20_cd_allowance(&b, &a, &a, NULL), "0xdd62ed3e");
	SEL(erc20_cd_nonces(&b, &a, NULL), "0x7ecebe00");
	SEL(erc20_cd_getter(&b, "decimals", NULL), "0x313ce567");
	SEL(erc20_cd_getter(&b, "DOMAIN_SEPARATOR", NULL), "0x3644e515");
	SEL(erc20_cd_mint(&b, &a, &one, NULL), "0x40c10f19");
#undef SEL
	(void)c;
	buf_release(&b);
}

static void test_calldata_bad(void **state)
{
	(void)state;
	struct escrow_terms t = test_terms();
	struct escrow_offer o = test_offer();
	struct err e = { 0, "" };
	static uint8_t big[ESCROW_SIG_MAX + 1];
	u256 one = u256_from_u64(1);
	struct buf b;

	buf_init(&b, 1 << 16);
	assert_int_equal(escrow_cd_open(&b, &o, big, sizeof big, &one, &e), ERR_TOO_BIG);
	assert_true(e.msg[0] && b.len == 0);
	err_clear(&e);
	assert_int_equal(escrow_cd_resolve_with_attestation(&b, &t, T0, 1, 2, big, sizeof big, &e), ERR_TOO_BIG);
	assert_true(e.msg[0] && b.len == 0);
	err_clear(&e);
	assert_int_equal(escrow_cd_rental(&b, (enum escrow_rental_fn)99, &t, &e), ERR_INVALID);
	assert_true(e.msg[0] && b.len == 0);
	err_clear(&e);
	assert_int_equal(escrow_cd_getter(&b, "selfdestruct", &e), ERR_NOT_FOUND);
	assert_true(e.msg[0] && b.len == 0);
	err_clear(&e);
	assert_int_equal(escrow_cd_getter(&b, NULL, &e), ERR_INVALID);
	err_clear(&e);
	o.rate = num("340282366920938463463374607431768211456"); /* 2^128 */
	assert_true(escrow_cd_offer_digest(&b, &o, &e) < 0);
	assert_true(e.msg[0] && b.len == 0);
	err_clear(&e);
	o = test_offer();
	o.expiry = UINT64_C(1) << 40; /* above uint40 */
	assert_true(escrow_cd_open(&b, &o, big, 65, &one, &e) < 0);
	assert_true(e.msg[0] && b.len == 0);
	/* a capped output buffer: ERR_TOO_BIG, nothing appended */
	struct buf small;
	buf_init(&small, 100);
	err_clear(&e);
	assert_true(escrow_cd_rental(&small, ESCROW_FN_CLAIM, &t, &e) < 0);
	assert_int_equal(small.len, 0);
	buf_release(&small);
	buf_release(&b);
}

/* ------------------------------------------------------------------ EIP-712 */

static void test_eip712(void **state)
{
	(void)state;
	struct escrow_offer o = test_offer();
	struct eth_address esc = addr(ESC_ADDR), signer, owner;
	uint8_t d[32], sig[65], k[32];
	struct escrow_permit p;

	key1(k, &owner);
	assert_int_equal(escrow_domain_separator(d, 31337, &esc, NULL), 0);
	assert_hex(d, 32, "0x82f65116ff9002ede1233dc69ad920d7497266bbf0990718d1c3cc15f798e365");
	assert_int_equal(escrow_offer_digest(d, 31337, &esc, &o, NULL), 0);
	assert_hex(d, 32, "0xb07104e79f3c1bfb9bce1732aa1ebbcabed4840228d8b19f9ba9bec477113270");
	assert_int_equal(escrow_offer_sign(sig, 31337, &esc, &o, k, NULL), 0);
	assert_hex(sig, 65,
		   "0xf3245c683f5731e24420e95e757049293039e32a3a4da2a08da6722839571711473fc0677d4cdd22b43268c4194918ea"
		   "6876f974eb2fe642a61485acb6f6506b1c");
	assert_int_equal(secp_recover_address(&signer, d, sig, NULL), 0);
	assert_true(address_equal(&signer, &o.provider));
	/* another chain id or escrow gives another digest (replay protection) */
	uint8_t d2[32];
	assert_int_equal(escrow_offer_digest(d2, 1, &esc, &o, NULL), 0);
	assert_memory_not_equal(d, d2, 32);
	struct escrow_uptime u = { .rental_id = 42, .ended_at = 1700010000, .seconds_up = 9000,
				   .seconds_observed = 10000 };
	assert_int_equal(escrow_uptime_digest(d, 31337, &esc, &u, NULL), 0);
	assert_hex(d, 32, "0x67dbbe640bd0c302a8a80ff5659368eb23ee6baefba7b9a4df0627f24141eba9");
	assert_int_equal(escrow_uptime_sign(sig, 31337, &esc, &u, k, NULL), 0);
	/* an attestation without an end (what could be signed while the rental ran) is refused */
	u.ended_at = 0;
	assert_int_equal(escrow_uptime_digest(d, 31337, &esc, &u, NULL), ERR_RANGE);
	u.ended_at = 1700010000;
	u.seconds_up = 10001;
	assert_int_equal(escrow_uptime_digest(d, 31337, &esc, &u, NULL), ERR_INVALID);
	u.seconds_up = 9000;
	assert_int_equal(escrow_uptime_digest(d, 31337, &esc, &u, NULL), 0);
	assert_int_equal(secp_recover_address(&signer, d, sig, NULL), 0);
	assert_true(address_equal(&signer, &owner));

	memset(&p, 0, sizeof p);
	p.token_name = "Dev USD Coin";
	p.token_version = "1";
	p.chain_id = 31337;
	p.token = addr(TOKEN_ADDR);
	p.owner = owner;
	p.spender = esc;
	p.value = u256_from_u64(2000000);
	p.deadline = u256_from_u64(1700003600);
	assert_int_equal(escrow_permit_digest(d, &p, NULL), 0);
	assert_hex(d, 32, "0xf04be34087ce79a28f0e5656dcf539bc6cfa479e53e9511311d1c59ce3df5823");
	assert_int_equal(escrow_permit_sign(sig, &p, k, NULL), 0);
	assert_hex(sig, 65,
		   "0x209ad2ceac2bc2cde7348ecc5460d9feeb5c35400492e07f26637006c52c784e40108b2cc1448fb10ac191f508e3cb2dfa"
		   "4a5ebb08db849562f01ed1dbb5dcfb1c");
}

static void test_eip712_bad(void **state)
{
	(void)state;
	struct escrow_offer o = test_offer();
	struct eth_address esc = addr(ESC_ADDR);
	uint8_t d[32], sig[65], zero[32] = { 0 }, k[32];
	struct escrow_permit p;
	struct err e = { 0, "" };

	key1(k, NULL);
	o.rate = num("340282366920938463463374607431768211456");
	assert_true(escrow_offer_digest(d, 31337, &esc, &o, &e) < 0);
	assert_true(e.msg[0] != 0);
	o = test_offer();
	o.expiry = UINT64_C(1) << 40;
	err_clear(&e);
	assert_true(escrow_offer_sign(sig, 31337, &esc, &o, k, &e) < 0);
	assert_true(e.msg[0] != 0);
	o = test_offer();
	err_clear(&e);
	assert_true(escrow_offer_sign(sig, 31337, &esc, &o, zero, &e) < 0); /* invalid key */
	assert_true(e.msg[0] != 0);
	memset(&p, 0, sizeof p);
	err_clear(&e);
	assert_int_equal(escrow_permit_digest(d, &p, &e), ERR_INVALID); /* no domain name */
	assert_true(e.msg[0] != 0);
}

/* ------------------------------------------------------------------ events */

static void mklog(struct rpc_log *l, const char *const *topics, size_t nt, const char *data_hex)
{
	memset(l, 0, sizeof *l);
	for (size_t i = 0; i < nt; i++)
		assert_int_equal(hex_decode_exact(l->topics[i], 32, topics[i], NULL), 0);
	l->n_topics = nt;
	if (data_hex && strlen(data_hex) > 2)
		assert_int_equal(hex_decode_alloc(&l->data, &l->data_len, data_hex, 1 << 16, NULL), 0);
}

#define WORD_HEX "00000000000001900000000100000064000000050000000000000000000f4240"

static void test_events(void **state)
{
	(void)state;
	static const char *const opened_t[] = {
		"0x4ac545f08bcf86d9c00c4d62458c47ccc48abda02362b54dbe484c17f867c88b",
		"0x0000000000000000000000000000000000000000000000000000000000000003",
		"0x0000000000000000000000000000000000000000000000000000000000000b0b",
		"0x00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8",
	};
	static const char *const stopped_t[] = {
		"0xd31e0a4c9bba12f43e8d0ec8a7b398f416e30ee4dfa1c7045b4c86c3cea08713",
		"0x0000000000000000000000000000000000000000000000000000000000000003",
	};
	static const char *const resolved_t[] = {
		"0x74e4c4d6d22ee76c6fc52b5f729a6869b54a9c487be245a29f107f1e00ae593b",
		"0x0000000000000000000000000000000000000000000000000000000000000003",
	};
	static const char *const credited_t[] = {
		"0x4e45da441832cf53bdaa69235704fc0575e68210f459ee1562911024b12967d5",
		"0x000000000000000000000000e7f1725e7734ce288f8367e1bb143e90bb3f0512",
		"0x0000000000000000000000000000000000000000000000000000000000009a1d",
	};
	struct escrow_terms t = test_terms();
	struct escrow_event ev;
	struct rpc_log l;
	u256 word = num("0x" WORD_HEX);

	mklog(&l, opened_t, 4,
	      "0x28bf0e7ef8ed6b6ff710a823b50581926b96df560eed44922320b90d4fca37b4"
	      "00986e475ba431f6b784d4b894e14fedb92aa33826fe0df41d0a552c12d684f4" TERMS_HEX WORD_HEX);
	assert_int_equal(escrow_event_decode(&ev, &l, NULL), 0);
	assert_int_equal(ev.kind, ESCROW_EV_OPENED);
	assert_int_equal(ev.id, 3);
	assert_true(ev.has_state);
	assert_int_equal(u256_cmp(&ev.state, &word), 0);
	assert_memory_equal(&ev.opened.terms, &t, sizeof t);
	assert_true(address_equal(&ev.opened.renter, &t.renter));
	assert_true(address_equal(&ev.opened.provider, &t.provider));
	assert_hex(ev.opened.offer_hash, 32, "0x28bf0e7ef8ed6b6ff710a823b50581926b96df560eed44922320b90d4fca37b4");
	assert_string_equal(escrow_event_name(ev.kind), "Opened");
	rpc_log_release(&l);

	mklog(&l, stopped_t, 2,
	      "0x000000000000000000000000000000000000000000000000000000000000007b"
	      "000000000000000000000000000000000000000000000000000000000000002d"
	      "0000000000000000000000000000000000000000000000000000000000001a85" WORD_HEX);
	assert_int_equal(escrow_event_decode(&ev, &l, NULL), 0);
	assert_int_equal(ev.kind, ESCROW_EV_STOPPED);
	assert_u256(&ev.payout.provider_amount, "123");
	assert_u256(&ev.payout.fee_amount, "45");
	assert_u256(&ev.payout.refund_amount, "6789");
	assert_int_equal(u256_cmp(&ev.state, &word), 0);
	rpc_log_release(&l);

	mklog(&l, resolved_t, 2,
	      "0x0000000000000000000000000000000000000000000000000000000000000002"
	      "000000000000000000000000000000000000000000000000000000000000007b"
	      "000000000000000000000000000000000000000000000000000000000000002d"
	      "0000000000000000000000000000000000000000000000000000000000001a85" WORD_HEX);
	assert_int_equal(escrow_event_decode(&ev, &l, NULL), 0);
	assert_int_equal(ev.kind, ESCROW_EV_RESOLVED);
	assert_int_equal(ev.payout.rule, ESCROW_RULE_ARBITER);
	assert_u256(&ev.payout.refund_amount, "6789");
	rpc_log_release(&l);

	mklog(&l, credited_t, 3, "0x000000000000000000000000000000000000000000000000000000000000022b");
	assert_int_equal(escrow_event_decode(&ev, &l, NULL), 0);
	assert_int_equal(ev.kind, ESCROW_EV_CREDITED);
	assert_int_equal(ev.id, 0);
	assert_false(ev.has_state);
	struct eth_address tok = addr(TOKEN_ADDR), pay = small_addr(0x9a1d);
	assert_true(address_equal(&ev.credit.token, &tok));
	assert_true(address_equal(&ev.credit.account, &pay));
	assert_u256(&ev.credit.amount, "555");
	rpc_log_release(&l);
}

static void test_events_bad(void **state)
{
	(void)state;
	static const char *const stopped_t[] = {
		"0xd31e0a4c9bba12f43e8d0ec8a7b398f416e30ee4dfa1c7045b4c86c3cea08713",
		"0x0000000000000000000000000000000000000000000000000000000000000003",
		"0x0000000000000000000000000000000000000000000000000000000000000004",
	};
	static const char *const transfer_t[] = {
		/* ERC-20 Transfer(address,address,uint256): not an escrow event */
		"0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
	};
	struct escrow_event ev;
	struct rpc_log l;
	struct err e = { 0, "" };

	mklog(&l, transfer_t, 1, "0x");
	assert_int_equal(escrow_event_decode(&ev, &l, &e), ERR_NOT_FOUND);
	assert_true(e.msg[0] != 0);
	rpc_log_release(&l);
	mklog(&l, stopped_t, 0, "0x");
	err_clear(&e);
	assert_int_equal(escrow_event_decode(&ev, &l, &e), ERR_NOT_FOUND); /* anonymous */
	rpc_log_release(&l);
	/* truncated data */
	mklog(&l, stopped_t, 2, "0x000000000000000000000000000000000000000000000000000000000000007b");
	err_clear(&e);
	assert_true(escrow_event_decode(&ev, &l, &e) < 0);
	assert_true(e.msg[0] != 0);
	rpc_log_release(&l);
	/* one topic too many */
	mklog(&l, stopped_t, 3,
	      "0x000000000000000000000000000000000000000000000000000000000000007b"
	      "000000000000000000000000000000000000000000000000000000000000002d"
	      "0000000000000000000000000000000000000000000000000000000000001a85" WORD_HEX);
	err_clear(&e);
	assert_true(escrow_event_decode(&ev, &l, &e) < 0);
	assert_true(e.msg[0] != 0);
	rpc_log_release(&l);
}

/* ------------------------------------------------------------------ reverts */

static void test_reverts(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		const char *want;
	} cases[] = {
		{ "0x48e57f5f000000000000000000000000000000000000000000000000000000006553f100",
		  "OfferExpired(expiry=1700000000)" },
		{ "0x14bbceb800000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8"
		  "0000000000000000000000000000000000000000000000000000000000000007",
		  "OfferNonceCancelled(provider=0x70997970C51812dc3A010C7d01b50e0d17dc79C8, nonce=7)" },
		{ "0x4985cd4e000000000000000000000000000000000000000000000000000000000000000a"
		  "0000000000000000000000000000000000000000000000000000000000000009",
		  "BadAttestation(secondsUp=10, secondsObserved=9)" },
		{ "0x969bf728", "NothingToClaim()" },
		{ "0x", "reverted without data" },
		/* Error(string) "nope" (Solidity require reason) */
		{ "0x08c379a00000000000000000000000000000000000000000000000000000000000000020"
		  "00000000000000000000000000000000000000000000000000000000000000046e6f7065"
		  "00000000000000000000000000000000000000000000000000000000",
		  "Error: nope" },
		/* Panic(0x11): arithmetic overflow (Solidity docs, "Panic via assert and Error via require") */
		{ "0x4e487b710000000000000000000000000000000000000000000000000000000000000011",
		  "Panic 0x11 (" },
		{ "0xdeadbeef", "unknown error 0xdeadbeef (0 bytes of arguments)" },
	};
	char msg[ESCROW_MSG_MAX];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t data[256];
		size_t n = 0;
		assert_int_equal(hex_decode(data, sizeof data, &n, cases[i].hex, strlen(cases[i].hex), NULL), 0);
		assert_int_equal(escrow_revert_message(msg, sizeof msg, data, n, NULL), 0);
		if (strncmp(msg, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, msg, cases[i].want);
	}
	char name[ESCROW_ERROR_NAME_MAX];
	static const uint8_t sel[4] = { 0x48, 0xe5, 0x7f, 0x5f }, bad[4] = { 1, 2, 3, 4 };
	assert_int_equal(escrow_error_name(name, sel), 0);
	assert_string_equal(name, "OfferExpired");
	assert_int_equal(escrow_error_name(name, bad), ERR_NOT_FOUND);
}

static void test_reverts_bad(void **state)
{
	(void)state;
	char msg[ESCROW_MSG_MAX];
	struct err e = { 0, "" };
	/* OfferExpired selector with no argument; 3-byte payload */
	static const uint8_t a[] = { 0x48, 0xe5, 0x7f, 0x5f }, b[] = { 0x48, 0xe5, 0x7f };

	/* an error with arguments sent without them is malformed, yet a message is still written */
	assert_true(escrow_revert_message(msg, sizeof msg, a, 4, &e) < 0);
	assert_true(e.msg[0] != 0 && strstr(msg, "0x48e57f5f") != NULL);
	err_clear(&e);
	assert_true(escrow_revert_message(msg, sizeof msg, b, 3, &e) < 0);
	assert_true(e.msg[0] != 0 && msg[0] != 0);
	/* tiny output buffer: truncated but terminated */
	char tiny[8];
	uint8_t c[] = { 0x96, 0x9b, 0xf7, 0x28 };
	assert_int_equal(escrow_revert_message(tiny, sizeof tiny, c, 4, NULL), 0);
	assert_int_equal(strlen(tiny), 7);
}

/* ------------------------------------------------------------------ mirror */

static u256 open_word(const char *deposit)
{
	struct escrow_word w;
	u256 x;
	memset(&w, 0, sizeof w);
	w.deposited = num(deposit);
	w.seg_start = 1;
	assert_int_equal(escrow_word_pack(&x, &w, NULL), 0);
	return x;
}

static void test_mirror_costs(void **state)
{
	(void)state;
	u256 rate = num(RATE_1H), x;
	static const struct {
		uint64_t secs;
		const char *cost;
	} c[] = { { 0, "0" }, { 1, "277" }, { 1400, "388888" }, { 3600, "999999" }, { 5000, "1388888" },
		  { 7200, "1999999" }, { 36000, "9999999" } };
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		assert_int_equal(escrow_cost(&x, &rate, c[i].secs, NULL), 0);
		assert_u256(&x, c[i].cost);
	}
	x = num("1388888");
	assert_int_equal(escrow_fee(&x, &x, 1000, NULL), 0);
	assert_u256(&x, "138888");
	struct err e = { 0, "" };
	u256 huge;
	memset(&huge, 0xff, sizeof huge);
	assert_int_equal(escrow_cost(&x, &huge, 2, &e), ERR_RANGE);
	assert_true(e.msg[0] != 0);
}

static void test_mirror_flow(void **state)
{
	(void)state;
	struct escrow_terms t = test_terms();
	u256 w = open_word("10000000");
	struct escrow_outcome o;
	struct escrow_quote q;
	struct escrow_view v;
	struct escrow_call c;

	assert_int_equal(escrow_state_view(&v, &t, &w, NULL), 0);
	assert_int_equal(v.phase, ESCROW_PHASE_ACTIVE);
	assert_int_equal(v.paid_secs, 36000);
	assert_int_equal(v.paid_until, T0 + 36000);
	assert_int_equal(v.seg_start, T0);

	assert_int_equal(escrow_mirror_quote(&q, &t, &w, T0 + 7200, NULL), 0);
	assert_int_equal(q.billed_secs, 7200);
	assert_u256(&q.cost, "1999999");
	assert_u256(&q.claimable_gross, "999999");
	assert_u256(&q.claimable_fee, "99999");
	assert_u256(&q.claimable_net, "900000");
	assert_u256(&q.held, "10000000");
	assert_u256(&q.refund_if_stopped, "8000001");

	/* claim at 7200 s: the hour past the lag */
	memset(&c, 0, sizeof c);
	c.op = ESCROW_OP_CLAIM;
	c.now = T0 + 7200;
	assert_int_equal(escrow_mirror_apply(&o, &t, &w, &c, NULL), 0);
	assert_int_equal(o.event, ESCROW_EV_CLAIMED);
	assert_u256(&o.provider_amount, "900000");
	assert_u256(&o.fee_amount, "99999");
	assert_u256(&o.fee_credit, "0");
	assert_false(o.closed);

	/* stop at 5000 s on the fresh rental: provider paid up to 1400 s, renter refunded at once */
	c.op = ESCROW_OP_STOP;
	c.now = T0 + 5000;
	assert_int_equal(escrow_mirror_apply(&o, &t, &w, &c, NULL), 0);
	assert_int_equal(o.event, ESCROW_EV_STOPPED);
	assert_u256(&o.provider_amount, "350000");
	assert_u256(&o.fee_amount, "38888");
	assert_u256(&o.refund_amount, "8611112");
	assert_false(o.closed);
	u256 ended = o.word;
	assert_int_equal(escrow_state_view(&v, &t, &ended, NULL), 0);
	assert_int_equal(v.phase, ESCROW_PHASE_ENDED);
	assert_int_equal(v.ended_at, T0 + 5000);
	assert_int_equal(v.used_secs, 5000);
	assert_int_equal(v.claimed_secs, 1400);
	assert_u256(&v.refunded, "8611112");
	assert_u256(&v.held, "1000000"); /* 1388888 - 388888 */

	/* settle after the window: release the rest, close, credit the whole fee */
	c.op = ESCROW_OP_SETTLE;
	c.now = T0 + 5000 + 3601;
	assert_int_equal(escrow_mirror_apply(&o, &t, &ended, &c, NULL), 0);
	assert_int_equal(o.event, ESCROW_EV_SETTLED);
	assert_u256(&o.provider_amount, "900000");
	assert_u256(&o.fee_amount, "100000");
	assert_u256(&o.refund_amount, "0");
	assert_u256(&o.fee_credit, "138888");
	assert_true(o.closed);

	/* dispute, then the arbiter awards 2000 s */
	c.op = ESCROW_OP_DISPUTE;
	c.now = T0 + 5100;
	assert_int_equal(escrow_mirror_apply(&o, &t, &ended, &c, NULL), 0);
	u256 disputed = o.word;
	assert_int_equal(escrow_state_view(&v, &t, &disputed, NULL), 0);
	assert_int_equal(v.phase, ESCROW_PHASE_DISPUTED);
	assert_int_equal(v.disputed_at, T0 + 5100);
	c.op = ESCROW_OP_RULE;
	c.secs = 2000;
	c.arbiter_window_secs = 7 * 86400;
	c.now = T0 + 6000;
	assert_int_equal(escrow_mirror_apply(&o, &t, &disputed, &c, NULL), 0);
	assert_int_equal(o.event, ESCROW_EV_RESOLVED);
	assert_int_equal(o.rule, ESCROW_RULE_ARBITER);
	assert_u256(&o.provider_amount, "150000");
	assert_u256(&o.fee_amount, "16667");
	assert_u256(&o.refund_amount, "833333");
	assert_u256(&o.fee_credit, "55555");
	assert_true(o.closed);
	/* a ruling below the lag floor is lifted to it (1400 s) */
	c.secs = 10;
	assert_int_equal(escrow_mirror_apply(&o, &t, &disputed, &c, NULL), 0);
	assert_u256(&o.provider_amount, "0");
	assert_u256(&o.refund_amount, "1000000");
	/* attestation: 4000 s up */
	c.op = ESCROW_OP_ATTEST;
	c.secs = 4000;
	c.observed = 5000;
	c.ended_at = 0; /* an attestation signed while the rental ran has no end: refused */
	assert_int_equal(escrow_mirror_apply(&o, &t, &disputed, &c, NULL), ERR_REVERT);
	assert_string_equal(o.revert, "AttestationNotForThisEnd");
	c.ended_at = v.ended_at;
	c.observed = 4999; /* not the billed seconds */
	assert_int_equal(escrow_mirror_apply(&o, &t, &disputed, &c, NULL), ERR_REVERT);
	assert_string_equal(o.revert, "AttestationNotForThisEnd");
	c.observed = v.used_secs;
	assert_int_equal(v.used_secs, 5000);
	assert_int_equal(escrow_mirror_apply(&o, &t, &disputed, &c, NULL), 0);
	assert_int_equal(o.rule, ESCROW_RULE_ATTESTATION);
	assert_u256(&o.refund_amount, "277777"); /* cost(5000) - cost(4000) = 1388888 - 1111111 */
	/* default rule after the arbiter window: billing stands */
	c.op = ESCROW_OP_SETTLE;
	c.now = T0 + 5100 + 7 * 86400 + 1;
	assert_int_equal(escrow_mirror_apply(&o, &t, &disputed, &c, NULL), 0);
	assert_int_equal(o.rule, ESCROW_RULE_DEFAULT);
	assert_u256(&o.refund_amount, "0");
	assert_u256(&o.fee_credit, "138888");

	/* extend in grace: the gap is not billed */
	u256 w1 = open_word("1000000");
	c.op = ESCROW_OP_EXTEND;
	c.now = T0 + 3600 + 500;
	c.amount = u256_from_u64(1000000);
	assert_int_equal(escrow_mirror_apply(&o, &t, &w1, &c, NULL), 0);
	assert_int_equal(escrow_state_view(&v, &t, &o.word, NULL), 0);
	assert_int_equal(v.used_secs, 3600);
	assert_int_equal(v.seg_start, T0 + 4100);
	assert_int_equal(v.paid_until, T0 + 4100 + 3600);

	/* reclaim: notice 300 s; billing stops at stopAt */
	c.op = ESCROW_OP_RECLAIM;
	c.now = T0 + 100;
	assert_int_equal(escrow_mirror_apply(&o, &t, &w, &c, NULL), 0);
	assert_int_equal(escrow_state_view(&v, &t, &o.word, NULL), 0);
	assert_int_equal(v.stop_at, T0 + 400);
	assert_int_equal(escrow_mirror_quote(&q, &t, &o.word, T0 + 9999, NULL), 0);
	assert_int_equal(q.billed_secs, 400);
}

static void test_mirror_reverts(void **state)
{
	(void)state;
	struct escrow_terms t = test_terms();
	u256 w = open_word("10000000"), w1 = open_word("1000000");
	struct escrow_outcome o;
	struct err e = { 0, "" };
	static const struct {
		enum escrow_op op;
		uint64_t at;   /* seconds after T0 */
		int which;     /* 0: 10e6 rental, 1: 1e6 rental */
		const char *want;
	} c[] = {
		{ ESCROW_OP_CLAIM, 1800, 0, "NothingToClaim" },
		{ ESCROW_OP_EXTEND, 3600 + 601, 1, "RentalOver" },
		{ ESCROW_OP_DISPUTE, 100, 0, "NotOver" },
		{ ESCROW_OP_SETTLE, 3600 + 600, 1, "NotOver" },
		{ ESCROW_OP_RULE, 100, 0, "NotDisputed" },
		{ ESCROW_OP_ATTEST, 100, 0, "NotDisputed" },
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct escrow_call call;
		memset(&call, 0, sizeof call);
		call.op = c[i].op;
		call.now = T0 + c[i].at;
		call.amount = u256_from_u64(1);
		err_clear(&e);
		assert_int_equal(escrow_mirror_apply(&o, &t, c[i].which ? &w1 : &w, &call, &e), ERR_REVERT);
		assert_string_equal(o.revert, c[i].want);
		assert_true(strstr(e.msg, c[i].want) != NULL);
	}
	/* settle at exactly paidUntil + grace is still NotOver; one second later it ends */
	struct escrow_call call;
	memset(&call, 0, sizeof call);
	call.op = ESCROW_OP_SETTLE;
	call.now = T0 + 3600 + 601;
	assert_int_equal(escrow_mirror_apply(&o, &t, &w1, &call, NULL), 0);
	/* bad inputs */
	u256 zero = u256_from_u64(0);
	err_clear(&e);
	assert_int_equal(escrow_mirror_apply(&o, &t, &zero, &call, &e), ERR_INVALID);
	assert_true(e.msg[0] != 0);
	call.now = T0 - 10;
	err_clear(&e);
	assert_int_equal(escrow_mirror_apply(&o, &t, &w, &call, &e), ERR_INVALID);
	assert_true(e.msg[0] != 0);
	call.now = T0;
	call.op = (enum escrow_op)77;
	err_clear(&e);
	assert_int_equal(escrow_mirror_apply(&o, &t, &w, &call, &e), ERR_INVALID);
	assert_true(e.msg[0] != 0);
	t.rate = u256_from_u64(0);
	err_clear(&e);
	assert_int_equal(escrow_mirror_quote(NULL, &t, &w, T0, &e), ERR_INVALID);
	assert_true(e.msg[0] != 0);
}

/* ------------------------------------------------------------------ deployment file */

static void test_deployment_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/flop-test-escrow-XXXXXX", path[128], cmd[160];
	struct escrow_deployment d, back;
	struct eth_address a;
	struct err e = { 0, "" };
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/deployment.json", dir);
	memset(&d, 0, sizeof d);
	d.chain_id = 31337;
	d.deployer = small_addr(1);
	d.owner = small_addr(2);
	d.treasury = small_addr(3);
	d.monitor = small_addr(4);
	d.fee_bps = 1000;
	d.arbiter_window_secs = 604800;
	d.n = 2;
	strcpy(d.c[0].name, "RentalEscrow");
	d.c[0].address = addr(ESC_ADDR);
	d.c[0].block = 1;
	memset(d.c[0].tx_hash, 0xab, 32);
	strcpy(d.c[1].name, "DevUSDC");
	d.c[1].address = addr(TOKEN_ADDR);
	d.c[1].block = 2;
	assert_int_equal(escrow_deployment_save(&d, path, NULL), 0);
	assert_int_equal(escrow_deployment_load(&back, path, NULL), 0);
	assert_int_equal(back.chain_id, 31337);
	assert_int_equal(back.n, 2);
	assert_int_equal(back.fee_bps, 1000);
	assert_int_equal(escrow_deployment_find(&a, &back, "DevUSDC", NULL), 0);
	assert_true(address_equal(&a, &d.c[1].address));
	assert_memory_equal(back.c[0].tx_hash, d.c[0].tx_hash, 32);
	assert_int_equal(escrow_deployment_find(&a, &back, "DevXYZ", &e), ERR_NOT_FOUND);
	assert_true(e.msg[0] != 0);
	/* same chain: overwrite allowed; another chain: refused, file unchanged */
	assert_int_equal(escrow_deployment_save(&d, path, NULL), 0);
	d.chain_id = 1;
	err_clear(&e);
	assert_int_equal(escrow_deployment_save(&d, path, &e), ERR_CONFLICT);
	assert_true(strstr(e.msg, "31337") != NULL);
	assert_int_equal(escrow_deployment_load(&back, path, NULL), 0);
	assert_int_equal(back.chain_id, 31337);
	/* a file that is not a deployment is never overwritten either */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"chainId\": 5", f);
	fclose(f);
	err_clear(&e);
	assert_true(escrow_deployment_load(&back, path, &e) < 0);
	assert_true(e.msg[0] != 0);
	err_clear(&e);
	assert_int_equal(escrow_deployment_save(&d, path, &e), ERR_CONFLICT);
	/* bad fields */
	f = fopen(path, "w");
	fputs("{\"chainId\":1,\"deployer\":\"0x01\",\"escrow\":{},\"contracts\":{}}", f);
	fclose(f);
	err_clear(&e);
	assert_true(escrow_deployment_load(&back, path, &e) < 0);
	assert_true(e.msg[0] != 0);
	/* missing file / missing artifact */
	err_clear(&e);
	snprintf(path, sizeof path, "%s/none.json", dir);
	assert_int_equal(escrow_deployment_load(&back, path, &e), ERR_NOT_FOUND);
	uint8_t *code = NULL;
	size_t n = 0;
	err_clear(&e);
	assert_int_equal(escrow_artifact_bytecode(&code, &n, dir, "RentalEscrow", &e), ERR_NOT_FOUND);
	assert_true(strstr(e.msg, "build-contracts") != NULL);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terms_encode_key),
		cmocka_unit_test(test_terms_bad),
		cmocka_unit_test(test_word),
		cmocka_unit_test(test_calldata),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_calldata_bad),
		cmocka_unit_test(test_eip712),
		cmocka_unit_test(test_eip712_bad),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_events_bad),
		cmocka_unit_test(test_reverts),
		cmocka_unit_test(test_reverts_bad),
		cmocka_unit_test(test_mirror_costs),
		cmocka_unit_test(test_mirror_flow),
		cmocka_unit_test(test_mirror_reverts),
		cmocka_unit_test(test_deployment_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
