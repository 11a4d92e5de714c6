/*
 * test_tx.c — EIP-1559 and EIP-155 transactions: signing payload and hash,
 * signature, raw bytes, tx hash, decode round trip, sender recovery, and
 * rejection of malformed raw transactions.
 *
 * Vectors:
 *   - legacy: the worked example in the EIP-155 text (nonce 9, gasPrice
 *     20 gwei, gas 21000, to 0x3535..35, value 1 ether, chainId 1, key
 *     0x4646..46): signing data, signing hash 0xdaf5a779.., v = 37, signed tx.
 *   - EIP-1559: computed independently with the pinned npm ethers 6.17.0 in
 *     node_modules (`new Wallet("0x4646..46").signTransaction(
 *     Transaction.from({type: 2, ...}))`, reading tx.unsignedSerialized,
 *     tx.unsignedHash, the raw tx, Transaction.from(raw).hash and .from).
 *     Cases: a plain transfer, a call with a two-entry access list, and a
 *     contract creation with zero fees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "eth/address.h"
#include "eth/tx.h"

static const char key4646[] = "4646464646464646464646464646464646464646464646464646464646464646";

struct tx_vec {
	const char *name;
	enum tx_type type;
	uint64_t chain_id;
	uint64_t nonce;
	const char *tip;       /* type 2: maxPriorityFeePerGas */
	const char *max_fee;   /* type 2: maxFeePerGas */
	const char *gas_price; /* legacy */
	uint64_t gas_limit;
	const char *to;        /* NULL: contract creation */
	const char *value;
	const char *data;      /* hex, "" for none */
	bool access_list;      /* add the fixed two-entry access list below */
	const char *unsigned_hex;
	const char *sighash;
	const char *raw;
	const char *hash;      /* NULL where the source gives none */
	const char *from;
};

static const struct tx_vec vecs[] = {
	{ "eip155-example", TX_LEGACY, 1, 9, NULL, NULL, "20000000000", 21000,
	  "0x3535353535353535353535353535353535353535", "1000000000000000000", "", false,
	  "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080",
	  "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53",
	  "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83",
	  NULL, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F" },
	{ "1559-transfer", TX_EIP1559, 1, 9, "2000000000", "50000000000", NULL, 21000,
	  "0x3535353535353535353535353535353535353535", "1000000000000000000", "", false,
	  "02f001098477359400850ba43b7400825208943535353535353535353535353535353535353535880de0b6b3a764000080c0",
	  "71773ae6d712557e993f022d95bcbe17862f4e1c7b8c8bb3929ee5955411fad2",
	  "02f87301098477359400850ba43b7400825208943535353535353535353535353535353535353535880de0b6b3a764000080c080a09f7c62ac22c53bbce926f6347672672a94b66cae19bb6db8087505365d12be84a06f7b882105463218f6c7af16c766d4b3dc64be310f922651db38c5d593452187",
	  "4e880b4ac3cf811337cca9b1d76a0bb2c9eda9816529a2b10bb4899d3efa2761",
	  "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F" },
	{ "1559-access-list", TX_EIP1559, 31337, 300, "1", "1000000000000", NULL, 100000,
	  "0x1111111111111111111111111111111111111111", "0", "a9059cbb00", true,
	  "02f8a1827a6982012c0185e8d4a51000830186a09411111111111111111111111111111111111111118085a9059cbb00f872f859942222222222222222222222222222222222222222f842a00000000000000000000000000000000000000000000000000000000000000001a0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd6943333333333333333333333333333333333333333c0",
	  "1060505d17779fd07213e408b4943815f7618556329bacdcfd0a8400449d9bc2",
	  "02f8e4827a6982012c0185e8d4a51000830186a09411111111111111111111111111111111111111118085a9059cbb00f872f859942222222222222222222222222222222222222222f842a00000000000000000000000000000000000000000000000000000000000000001a0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd6943333333333333333333333333333333333333333c001a0e35e0e1ecb3b2b6e3b5f73981cdf47809643333bf56e0d484684995d0e02030ca06712c26d060b07c991c8a5dca37e1e5ae7f060d8a589f52f79f340b5ccbd91a2",
	  "4452dec50338a3bb6ec3624709b167358facfc81a824e9dc9979904949f115d7",
	  "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F" },
	{ "1559-create", TX_EIP1559, 137, 0, "0", "0", NULL, 53000,
	  NULL, "5", "6000600055", false,
	  "02d1818980808082cf088005856000600055c0",
	  "cf873d83776e894a56c1bc5c3d1ad2191917fc5078c9ef5f2108f74a0d18b7e8",
	  "02f854818980808082cf088005856000600055c001a09efea03921a7bc48b1945931103b43ba706b1ce410181186d1f8724bdb5d9ab4a0526fe5e84eb83591e4c839acd8a82f9b506a48dc4dcc71705800bf74451706ab",
	  "952b924771e2d7be008ddff38152ab9555c0bad6cdd8fcbf9f1770094b46f400",
	  "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F" },
};

static void u256_of(u256 *out, const char *s)
{
	assert_int_equal(u256_parse(out, s, NULL), 0);
}

static void build(struct tx *tx, const struct tx_vec *v)
{
	uint8_t data[64];
	size_t n = 0;

	tx_init(tx, v->type);
	tx->chain_id = v->chain_id;
	tx->nonce = v->nonce;
	if (v->tip)
		u256_of(&tx->max_priority_fee_per_gas, v->tip);
	if (v->max_fee)
		u256_of(&tx->max_fee_per_gas, v->max_fee);
	if (v->gas_price)
		u256_of(&tx->gas_price, v->gas_price);
	tx->gas_limit = v->gas_limit;
	tx->has_to = v->to != NULL;
	if (v->to)
		assert_int_equal(address_parse(&tx->to, v->to, NULL), 0);
	u256_of(&tx->value, v->value);
	assert_int_equal(hex_decode(data, sizeof data, &n, v->data, strlen(v->data), NULL), 0);
	assert_int_equal(tx_set_data(tx, data, n, NULL), 0);
	if (v->access_list) {
		struct eth_address a2, a3;
		uint8_t keys[2][32];
		memset(keys, 0, sizeof keys);
		keys[0][31] = 1;
		memset(keys[1], 0xff, 32);
		memset(a2.b, 0x22, 20);
		memset(a3.b, 0x33, 20);
		assert_int_equal(tx_access_list_add(tx, &a2, (const uint8_t (*)[32])keys, 2, NULL), 0);
		assert_int_equal(tx_access_list_add(tx, &a3, NULL, 0, NULL), 0);
	}
}

static void expect_buf_hex(const struct buf *b, const char *hex)
{
	char *got = malloc(2 * b->len + 1);
	hex_encode(got, b->data, b->len);
	assert_string_equal(got, hex);
	free(got);
}

static void test_vectors(void **state)
{
	uint8_t key[32];
	(void)state;
	assert_int_equal(hex_decode_exact(key, 32, key4646, NULL), 0);
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		const struct tx_vec *v = &vecs[i];
		struct tx tx;
		struct buf b;
		uint8_t h[32];
		char hx[65], addr[ADDRESS_STR_MAX];
		struct eth_address from;

		print_message("vector %s\n", v->name);
		build(&tx, v);
		buf_init(&b, TX_RAW_MAX);
		assert_int_equal(tx_signing_payload(&b, &tx, NULL), 0);
		expect_buf_hex(&b, v->unsigned_hex);
		assert_int_equal(tx_signing_hash(h, &tx, NULL), 0);
		hex_encode(hx, h, 32);
		assert_string_equal(hx, v->sighash);

		assert_int_equal(tx_sign(&tx, key, NULL), 0);
		buf_reset(&b);
		assert_int_equal(tx_serialize(&b, &tx, NULL), 0);
		expect_buf_hex(&b, v->raw);
		if (v->hash) {
			assert_int_equal(tx_hash(h, &tx, NULL), 0);
			hex_encode(hx, h, 32);
			assert_string_equal(hx, v->hash);
		}
		assert_int_equal(tx_sender(&from, &tx, NULL), 0);
		address_to_checksum(addr, &from);
		assert_string_equal(addr, v->from);
		buf_release(&b);
		tx_release(&tx);
	}
}

/* Decoding each vector's raw tx gives back the same fields and bytes. */
static void test_decode_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
		const struct tx_vec *v = &vecs[i];
		uint8_t *raw;
		size_t n;
		struct tx want, got;
		struct buf b;
		struct eth_address from;
		char addr[ADDRESS_STR_MAX];

		assert_int_equal(hex_decode_alloc(&raw, &n, v->raw, TX_RAW_MAX, NULL), 0);
		assert_int_equal(tx_decode(&got, raw, n, NULL), 0);
		build(&want, v);
		assert_int_equal(got.type, want.type);
		assert_true(got.chain_id == want.chain_id);
		assert_true(got.nonce == want.nonce);
		assert_int_equal(u256_cmp(&got.max_fee_per_gas, &want.max_fee_per_gas), 0);
		assert_int_equal(u256_cmp(&got.max_priority_fee_per_gas,
					  &want.max_priority_fee_per_gas), 0);
		assert_int_equal(u256_cmp(&got.gas_price, &want.gas_price), 0);
		assert_true(got.gas_limit == want.gas_limit);
		assert_int_equal(got.has_to, want.has_to);
		assert_memory_equal(got.to.b, want.to.b, 20);
		assert_int_equal(u256_cmp(&got.value, &want.value), 0);
		assert_int_equal(got.data_len, want.data_len);
		if (got.data_len)
			assert_memory_equal(got.data, want.data, got.data_len);
		assert_int_equal(got.access_list_len, want.access_list_len);
		for (size_t k = 0; k < got.access_list_len; k++) {
			assert_memory_equal(got.access_list[k].address.b, want.access_list[k].address.b, 20);
			assert_int_equal(got.access_list[k].n_keys, want.access_list[k].n_keys);
			if (got.access_list[k].n_keys)
				assert_memory_equal(got.access_list[k].keys, want.access_list[k].keys,
						    32 * got.access_list[k].n_keys);
		}
		assert_true(got.is_signed);
		assert_int_equal(tx_sender(&from, &got, NULL), 0);
		address_to_checksum(addr, &from);
		assert_string_equal(addr, v->from);
		buf_init(&b, TX_RAW_MAX);
		assert_int_equal(tx_serialize(&b, &got, NULL), 0);
		assert_int_equal(b.len, n);
		assert_memory_equal(b.data, raw, n);
		buf_release(&b);
		tx_release(&got);
		tx_release(&want);
		free(raw);
	}
}

/* A pre-EIP-155 legacy tx (chain_id 0, v = 27/28) round-trips too. */
static void test_legacy_no_chain_id(void **state)
{
	uint8_t key[32];
	struct tx tx, back;
	struct buf b;
	struct eth_address from, want;
	(void)state;
	assert_int_equal(hex_decode_exact(key, 32, key4646, NULL), 0);
	build(&tx, &vecs[0]);
	tx.chain_id = 0;
	assert_int_equal(tx_sign(&tx, key, NULL), 0);
	buf_init(&b, TX_RAW_MAX);
	assert_int_equal(tx_serialize(&b, &tx, NULL), 0);
	assert_int_equal(tx_decode(&back, b.data, b.len, NULL), 0);
	assert_true(back.chain_id == 0);
	assert_int_equal(tx_sender(&from, &back, NULL), 0);
	assert_int_equal(address_parse(&want, vecs[0].from, NULL), 0);
	assert_true(address_equal(&from, &want));
	buf_release(&b);
	tx_release(&tx);
	tx_release(&back);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *hex;
		int code;
		const char *why;
	} cases[] = {
		{ "", ERR_INVALID, "empty" },
		{ "01c0", ERR_UNSUPPORTED, "type 1 (EIP-2930)" },
		{ "03c0", ERR_UNSUPPORTED, "type 3" },
		{ "7fc0", ERR_UNSUPPORTED, "type 0x7f" },
		{ "80", ERR_INVALID, "RLP string, not a list" },
		{ "02", ERR_INVALID, "type byte alone" },
		{ "0280", ERR_INVALID, "type 2 payload not a list" },
		{ "02c0", ERR_INVALID, "type 2 empty list" },
		{ "c0", ERR_INVALID, "legacy empty list" },
		/* legacy, v = 26 (neither 27/28 nor EIP-155) */
		{ "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640000801aa028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83",
		  ERR_INVALID, "bad v" },
		/* legacy with r = 0 */
		{ "f84c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025 80a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83",
		  ERR_INVALID, "r zero" },
		/* legacy with high s (n - s of the EIP-155 example) */
		{ "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a098341627668089e51348fccfb4c7ff31c55912f2d2e47ef09652acf665fad3be",
		  ERR_INVALID, "high s" },
		/* type 2 transfer with yParity 2 */
		{ "02f87301098477359400850ba43b7400825208943535353535353535353535353535353535353535880de0b6b3a764000080c002a09f7c62ac22c53bbce926f6347672672a94b66cae19bb6db8087505365d12be84a06f7b882105463218f6c7af16c766d4b3dc64be310f922651db38c5d593452187",
		  ERR_INVALID, "yParity 2" },
		/* type 2 with a 19-byte 'to' */
		{ "02f87201098477359400850ba43b74008252089335353535353535353535353535353535353535880de0b6b3a764000080c080a09f7c62ac22c53bbce926f6347672672a94b66cae19bb6db8087505365d12be84a06f7b882105463218f6c7af16c766d4b3dc64be310f922651db38c5d593452187",
		  ERR_INVALID, "short to" },
		/* type 2 transfer with a trailing byte */
		{ "02f87301098477359400850ba43b7400825208943535353535353535353535353535353535353535880de0b6b3a764000080c080a09f7c62ac22c53bbce926f6347672672a94b66cae19bb6db8087505365d12be84a06f7b882105463218f6c7af16c766d4b3dc64be310f922651db38c5d59345218700",
		  0, "trailing byte" },
		/* type 2 with nonce encoded with a leading zero (0x820009) */
		{ "02f875018200098477359400850ba43b7400825208943535353535353535353535353535353535353535880de0b6b3a764000080c080a09f7c62ac22c53bbce926f6347672672a94b66cae19bb6db8087505365d12be84a06f7b882105463218f6c7af16c766d4b3dc64be310f922651db38c5d593452187",
		  ERR_NONCANONICAL, "non-canonical nonce" },
		/* type 2 with an access list entry that is not [address, [keys]] */
		{ "02f87501098477359400850ba43b7400825208943535353535353535353535353535353535353535880de0b6b3a764000080c2c18080a09f7c62ac22c53bbce926f6347672672a94b66cae19bb6db8087505365d12be84a06f7b882105463218f6c7af16c766d4b3dc64be310f922651db38c5d593452187",
		  ERR_INVALID, "bad access list entry" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t raw[512];
		char clean[1100];
		size_t n = 0, k = 0;
		struct tx tx;
		struct err e = { 0, "" };
		int rc;

		for (const char *p = cases[i].hex; *p; p++)
			if (*p != ' ')
				clean[k++] = *p;
		clean[k] = '\0';
		assert_int_equal(hex_decode(raw, sizeof raw, &n, clean, k, NULL), 0);
		memset(&tx, 0xa5, sizeof tx);
		rc = tx_decode(&tx, raw, n, &e);
		print_message("case %s: %d %s\n", cases[i].why, rc, e.msg);
		assert_true(rc < 0);
		if (cases[i].code)
			assert_int_equal(rc, cases[i].code);
		assert_true(e.msg[0] != '\0');
		assert_int_equal(((uint8_t *)&tx)[0], 0xa5); /* untouched */
	}
}

static void test_limits(void **state)
{
	struct tx tx;
	struct err e = { 0, "" };
	struct buf b;
	uint8_t *big = calloc(1, TX_DATA_MAX + 1);
	uint8_t key[32];
	struct eth_address a;
	(void)state;

	tx_init(&tx, TX_EIP1559);
	assert_int_equal(tx_set_data(&tx, big, TX_DATA_MAX + 1, &e), ERR_TOO_BIG);
	assert_true(e.msg[0]);
	assert_int_equal(tx_set_data(&tx, big, TX_DATA_MAX, NULL), 0);
	memset(a.b, 1, 20);
	for (int i = 0; i < TX_ACCESS_LIST_MAX; i++)
		assert_int_equal(tx_access_list_add(&tx, &a, NULL, 0, NULL), 0);
	assert_int_equal(tx_access_list_add(&tx, &a, NULL, 0, &e), ERR_TOO_BIG);

	/* serialize before signing */
	buf_init(&b, TX_RAW_MAX);
	err_clear(&e);
	assert_int_equal(tx_serialize(&b, &tx, &e), ERR_STATE);
	assert_true(e.msg[0]);
	assert_int_equal(b.len, 0);
	/* max-size data still signs, serializes and decodes */
	assert_int_equal(hex_decode_exact(key, 32, key4646, NULL), 0);
	assert_int_equal(tx_sign(&tx, key, NULL), 0);
	assert_int_equal(tx_serialize(&b, &tx, NULL), 0);
	{
		struct tx back;
		assert_int_equal(tx_decode(&back, b.data, b.len, NULL), 0);
		assert_int_equal(back.data_len, TX_DATA_MAX);
		assert_int_equal(back.access_list_len, TX_ACCESS_LIST_MAX);
		tx_release(&back);
	}
	/* oversized raw input */
	err_clear(&e);
	assert_int_equal(tx_decode(&tx, big, TX_RAW_MAX + 1, &e), ERR_TOO_BIG);
	buf_release(&b);

	/* legacy tx with an access list cannot be encoded */
	tx_release(&tx);
	tx_init(&tx, TX_LEGACY);
	assert_int_equal(tx_access_list_add(&tx, &a, NULL, 0, NULL), 0);
	buf_init(&b, TX_RAW_MAX);
	err_clear(&e);
	assert_int_equal(tx_signing_payload(&b, &tx, &e), ERR_INVALID);
	assert_true(e.msg[0]);
	buf_release(&b);
	tx_release(&tx);
	tx_release(NULL);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_decode_round_trip),
		cmocka_unit_test(test_legacy_no_chain_id),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
