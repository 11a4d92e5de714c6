/*
 * test_chain.c — tx, rpc and sender against a real anvil on 127.0.0.1.
 *
 * Each test starts its own anvil (tests/support/anvil.h) in setup and stops
 * it in teardown, so a failing test still leaves no process behind. Keys are
 * anvil's public development keys (test use only). Everything is offline.
 *
 * The contract used for logs is hand-assembled (see ping_init below): its
 * runtime emits LOG1(topic PING_TOPIC, data = uint256 42) when called with
 * empty calldata, and reverts with the 4 bytes 0xdeadbeef otherwise.
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
#include "core/json.h"
#include "eth/rpc.h"
#include "eth/sender.h"
#include "eth/tx.h"
#include "support/anvil.h"

#define GWEI 1000000000ull

/* Keccak-free arbitrary topic: c0ffee, 26 zero bytes, c0ffee. */
#define PING_TOPIC_HEX "c0ffee0000000000000000000000000000000000000000000000000000c0ffee"

static const uint8_t ping_init[] = {
	/* --- init code (11 bytes): copy the runtime to memory and return it --- */
	0x60, 0x3e,             /* PUSH1 0x3e   runtime length (62) */
	0x80,                   /* DUP1 */
	0x60, 0x0b,             /* PUSH1 0x0b   runtime offset in this code */
	0x60, 0x00,             /* PUSH1 0      memory destination */
	0x39,                   /* CODECOPY     mem[0..62) = code[11..73) */
	0x60, 0x00,             /* PUSH1 0      memory offset */
	0xf3,                   /* RETURN       return mem[0..62) */
	/* --- runtime (62 bytes) --- */
	0x36,                   /* 0:  CALLDATASIZE */
	0x60, 0x30,             /* 1:  PUSH1 0x30   revert branch */
	0x57,                   /* 3:  JUMPI        if calldata: revert */
	0x60, 0x2a,             /* 4:  PUSH1 42 */
	0x60, 0x00,             /* 6:  PUSH1 0 */
	0x52,                   /* 8:  MSTORE       mem[0..32) = 42 */
	0x7f,                   /* 9:  PUSH32 topic */
	0xc0, 0xff, 0xee, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xee,
	0x60, 0x20,             /* 42: PUSH1 32     size */
	0x60, 0x00,             /* 44: PUSH1 0      offset */
	0xa1,                   /* 46: LOG1         log1(0, 32, topic) */
	0x00,                   /* 47: STOP */
	0x5b,                   /* 48: JUMPDEST */
	0x63, 0xde, 0xad, 0xbe, 0xef, /* 49: PUSH4 0xdeadbeef */
	0x60, 0x00,             /* 54: PUSH1 0 */
	0x52,                   /* 56: MSTORE       mem[28..32) = deadbeef */
	0x60, 0x04,             /* 57: PUSH1 4      size */
	0x60, 0x1c,             /* 59: PUSH1 28     offset */
	0xfd,                   /* 61: REVERT */
};

struct fixture {
	struct anvil node;
	struct rpc rpc;
	char dir[64]; /* temp dir for journals */
};

static int setup_opts(void **state, const struct anvil_opts *o)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct err e = { 0, "" };

	if (!f)
		return -1;
	*state = f;
	if (anvil_start(&f->node, o, &e)) {
		print_error("anvil: %s\n", e.msg);
		return -1;
	}
	if (rpc_init(&f->rpc, f->node.url, NULL, &e)) {
		print_error("rpc: %s\n", e.msg);
		return -1;
	}
	strcpy(f->dir, "/tmp/flop-test-chain-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	return 0;
}

static int setup_automine(void **state)
{
	return setup_opts(state, NULL);
}

static int setup_nomine(void **state)
{
	struct anvil_opts o = { .no_mining = true };
	return setup_opts(state, &o);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	if (!f)
		return 0;
	rpc_release(&f->rpc);
	anvil_stop(&f->node);
	if (f->dir[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			print_error("cannot remove %s\n", f->dir);
	}
	free(f);
	return 0;
}

#define OK(call)                                                        \
	do {                                                            \
		struct err e_ = { 0, "" };                              \
		int rc_ = (call);                                       \
		(void)e_;                                               \
		if (rc_)                                                \
			print_error("%s -> %d %s\n", #call, rc_, e_.msg);          \
		assert_int_equal(rc_, 0);                               \
	} while (0)

static void mine(struct fixture *f, int blocks)
{
	for (int i = 0; i < blocks; i++) {
		json_t *res = NULL;
		struct err e = { 0, "" };
		int rc = rpc_call_text(&f->rpc, &res, "evm_mine", "[]", &e);
		if (rc)
			print_error("evm_mine: %s\n", e.msg);
		assert_int_equal(rc, 0);
		json_decref(res);
	}
}

static void drop_tx(struct fixture *f, const uint8_t hash[32])
{
	char params[80];
	json_t *res = NULL;
	struct err e = { 0, "" };

	strcpy(params, "[\"");
	hex_encode_0x(params + 2, hash, 32);
	strcat(params, "\"]");
	assert_int_equal(rpc_call_text(&f->rpc, &res, "anvil_dropTransaction", params, &e), 0);
	json_decref(res);
}

/* Signs a type-2 tx from anvil key `from` and sends it; returns its hash. */
static void send_1559(struct fixture *f, uint8_t hash[32], unsigned from,
		      const struct eth_address *to, uint64_t value_wei, const uint8_t *data,
		      size_t data_len, uint64_t gas)
{
	uint8_t key[32];
	struct eth_address addr, back_from;
	struct tx tx, back;
	struct buf raw;
	struct err e = { 0, "" };
	int rc;

	assert_int_equal(anvil_account(from, key, &addr), 0);
	tx_init(&tx, TX_EIP1559);
	tx.chain_id = 31337;
	OK(rpc_get_tx_count(&f->rpc, &tx.nonce, &addr, "pending", &e_));
	OK(rpc_suggest_fees(&f->rpc, &tx.max_fee_per_gas, &tx.max_priority_fee_per_gas, &e_));
	tx.gas_limit = gas;
	tx.has_to = to != NULL;
	if (to)
		tx.to = *to;
	tx.value = u256_from_u64(value_wei);
	OK(tx_set_data(&tx, data, data_len, &e_));
	OK(tx_sign(&tx, key, &e_));
	buf_init(&raw, TX_RAW_MAX);
	OK(tx_serialize(&raw, &tx, &e_));
	/* the raw bytes decode back to the same sender */
	OK(tx_decode(&back, raw.data, raw.len, &e_));
	OK(tx_sender(&back_from, &back, &e_));
	assert_true(address_equal(&back_from, &addr));
	rc = rpc_send_raw_tx(&f->rpc, hash, raw.data, raw.len, &e);
	if (rc)
		print_error("send: %s\n", e.msg);
	assert_int_equal(rc, 0);
	/* sending the same bytes again is harmless (already known or already mined) */
	rc = rpc_send_raw_tx(&f->rpc, NULL, raw.data, raw.len, &e);
	assert_true(rc == 0 || rc == ERR_CONFLICT);
	tx_release(&tx);
	tx_release(&back);
	buf_release(&raw);
}

static void test_basics(void **state)
{
	struct fixture *f = *state;
	struct eth_address a0;
	struct rpc_block b;
	uint64_t id, n;
	u256 bal, want;
	json_t *res = NULL;
	struct err e = { 0, "" };

	OK(rpc_chain_id(&f->rpc, &id, &e_));
	assert_true(id == 31337);
	OK(rpc_block_number(&f->rpc, &n, &e_));
	assert_true(n == 0);
	assert_int_equal(anvil_account(0, NULL, &a0), 0);
	OK(rpc_get_balance(&f->rpc, &bal, &a0, "latest", &e_));
	OK(u256_parse(&want, "10000000000000000000000", NULL)); /* anvil: 10000 ETH */
	assert_int_equal(u256_cmp(&bal, &want), 0);
	OK(rpc_get_block(&f->rpc, &b, "latest", &e_));
	assert_true(b.number == 0 && b.has_base_fee);
	/* generic call, and a node error surfaces as ERR_RPC with a message */
	OK(rpc_call_text(&f->rpc, &res, "web3_clientVersion", "[]", &e_));
	assert_true(json_is_string(res));
	json_decref(res);
	assert_int_equal(rpc_call_text(&f->rpc, &res, "no_such_method", "[]", &e), ERR_RPC);
	assert_true(e.msg[0]);
	assert_int_equal(rpc_get_block_by_number(&f->rpc, &b, 999999, &e), ERR_NOT_FOUND);
}

static void test_transfer_1559(void **state)
{
	struct fixture *f = *state;
	struct eth_address to;
	struct rpc_receipt rec;
	uint8_t hash[32];
	u256 before, after, diff;
	const uint64_t value = 1234567890123ull;

	memset(to.b, 0x77, 20);
	OK(rpc_get_balance(&f->rpc, &before, &to, "latest", &e_));
	send_1559(f, hash, 0, &to, value, NULL, 0, 21000);
	OK(rpc_wait_receipt(&f->rpc, &rec, hash, 1, 10000, 50, &e_));
	assert_true(rec.status == 1);
	assert_true(rec.gas_used == 21000);
	assert_memory_equal(rec.tx_hash, hash, 32);
	assert_false(u256_is_zero(&rec.effective_gas_price));
	rpc_receipt_release(&rec);
	OK(rpc_get_balance(&f->rpc, &after, &to, "latest", &e_));
	OK(u256_sub(&diff, &after, &before));
	assert_true(diff.w[0] == value && diff.w[1] == 0);
}

static void test_legacy_155(void **state)
{
	struct fixture *f = *state;
	uint8_t key[32], hash[32];
	struct eth_address from, to;
	struct rpc_block b;
	struct rpc_receipt rec;
	struct tx tx;
	struct buf raw;
	u256 bal, two = u256_from_u64(2);

	assert_int_equal(anvil_account(1, key, &from), 0);
	memset(to.b, 0x55, 20);
	tx_init(&tx, TX_LEGACY);
	tx.chain_id = 31337;
	OK(rpc_get_tx_count(&f->rpc, &tx.nonce, &from, "pending", &e_));
	OK(rpc_get_block(&f->rpc, &b, "latest", &e_));
	OK(u256_mul(&tx.gas_price, &b.base_fee_per_gas, &two));
	tx.gas_limit = 21000;
	tx.has_to = true;
	tx.to = to;
	tx.value = u256_from_u64(777);
	OK(tx_sign(&tx, key, &e_));
	buf_init(&raw, TX_RAW_MAX);
	OK(tx_serialize(&raw, &tx, &e_));
	OK(rpc_send_raw_tx(&f->rpc, hash, raw.data, raw.len, &e_));
	OK(rpc_wait_receipt(&f->rpc, &rec, hash, 1, 10000, 50, &e_));
	assert_true(rec.status == 1);
	assert_true(address_equal(&rec.from, &from));
	rpc_receipt_release(&rec);
	OK(rpc_get_balance(&f->rpc, &bal, &to, "latest", &e_));
	assert_true(bal.w[0] == 777);
	tx_release(&tx);
	buf_release(&raw);
}

static void test_contract_logs(void **state)
{
	struct fixture *f = *state;
	uint8_t hash[32], topic[32], want_data[32] = { 0 };
	struct eth_address a0, contract;
	struct rpc_receipt rec;
	struct rpc_logs logs = { 0 };
	struct rpc_log_filter lf;
	struct buf out, revert;
	uint64_t head;
	struct err e = { 0, "" };
	const uint8_t one = 1;

	assert_int_equal(hex_decode_exact(topic, 32, PING_TOPIC_HEX, NULL), 0);
	want_data[31] = 42;
	assert_int_equal(anvil_account(0, NULL, &a0), 0);

	/* deploy; wait for 3 confirmations, mining the extra blocks by hand */
	send_1559(f, hash, 0, NULL, 0, ping_init, sizeof ping_init, 200000);
	assert_int_equal(rpc_wait_receipt(&f->rpc, &rec, hash, 3, 300, 50, &e), ERR_TIMEOUT);
	mine(f, 2);
	OK(rpc_wait_receipt(&f->rpc, &rec, hash, 3, 10000, 50, &e_));
	assert_true(rec.status == 1 && rec.has_contract_address);
	contract = rec.contract_address;
	rpc_receipt_release(&rec);

	/* eth_call: empty calldata returns nothing; any calldata reverts with deadbeef */
	{
		struct rpc_call_msg m = { .has_from = true, .from = a0, .has_to = true, .to = contract };
		static const uint8_t deadbeef[] = { 0xde, 0xad, 0xbe, 0xef };
		buf_init(&out, 1024);
		buf_init(&revert, 1024);
		OK(rpc_eth_call(&f->rpc, &out, &m, "latest", &revert, NULL));
		assert_int_equal(out.len, 0);
		m.data = &one;
		m.data_len = 1;
		err_clear(&e);
		assert_int_equal(rpc_eth_call(&f->rpc, &out, &m, "latest", &revert, &e), ERR_REVERT);
		assert_true(e.msg[0]);
		assert_int_equal(revert.len, 4);
		assert_memory_equal(revert.data, deadbeef, 4);
		buf_release(&out);
		buf_release(&revert);
	}

	/* call it twice: each receipt carries one LOG1 */
	for (int i = 0; i < 2; i++) {
		send_1559(f, hash, 0, &contract, 0, NULL, 0, 100000);
		OK(rpc_wait_receipt(&f->rpc, &rec, hash, 1, 10000, 50, NULL));
		assert_true(rec.status == 1);
		assert_int_equal(rec.n_logs, 1);
		assert_true(address_equal(&rec.logs[0].address, &contract));
		assert_int_equal(rec.logs[0].n_topics, 1);
		assert_memory_equal(rec.logs[0].topics[0], topic, 32);
		assert_int_equal(rec.logs[0].data_len, 32);
		assert_memory_equal(rec.logs[0].data, want_data, 32);
		rpc_receipt_release(&rec);
	}
	mine(f, 3);

	/* read them back with eth_getLogs, in 2-block chunks to exercise splitting */
	OK(rpc_block_number(&f->rpc, &head, &e_));
	f->rpc.opts.max_log_range = 2;
	memset(&lf, 0, sizeof lf);
	lf.from_block = 0;
	lf.to_block = head;
	lf.addresses = &contract;
	lf.n_addresses = 1;
	lf.topics = (const uint8_t (*)[32])topic;
	lf.has_topic[0] = true;
	OK(rpc_get_logs(&f->rpc, &logs, &lf, &e_));
	assert_int_equal(logs.n, 2);
	for (size_t i = 0; i < logs.n; i++) {
		assert_memory_equal(logs.v[i].topics[0], topic, 32);
		assert_memory_equal(logs.v[i].data, want_data, 32);
		assert_false(logs.v[i].removed);
	}
	assert_true(logs.v[0].block_number < logs.v[1].block_number);
	/* a cap below the count is ERR_TOO_BIG and leaves the list as it was */
	lf.max_logs = 1;
	err_clear(&e);
	assert_int_equal(rpc_get_logs(&f->rpc, &logs, &lf, &e), ERR_TOO_BIG);
	assert_int_equal(logs.n, 2);
	rpc_logs_release(&logs);
	/* a topic nobody emitted matches nothing */
	topic[0] ^= 1;
	lf.max_logs = 0;
	OK(rpc_get_logs(&f->rpc, &logs, &lf, &e_));
	assert_int_equal(logs.n, 0);
	rpc_logs_release(&logs);
}

static void open_sender(struct fixture *f, struct sender **s, const struct sender_opts *o)
{
	char path[128];
	uint8_t key[32];
	struct err e = { 0, "" };
	int rc;

	snprintf(path, sizeof path, "%s/journal.db", f->dir);
	assert_int_equal(anvil_account(2, key, NULL), 0);
	rc = sender_open(s, path, &f->rpc, key, 31337, o, &e);
	if (rc)
		print_error("sender_open: %s\n", e.msg);
	assert_int_equal(rc, 0);
}

static void test_sender_automine(void **state)
{
	struct fixture *f = *state;
	struct sender *s = NULL;
	struct eth_address to;
	struct rpc_receipt rec;
	struct sender_info info;
	uint8_t hash[32], key[32];
	uint64_t id0, id1;
	u256 v = u256_from_u64(1000);
	struct err e = { 0, "" };
	char path[128];

	/* wrong chain id is refused */
	snprintf(path, sizeof path, "%s/other.db", f->dir);
	assert_int_equal(anvil_account(2, key, NULL), 0);
	assert_int_equal(sender_open(&s, path, &f->rpc, key, 1, NULL, &e), ERR_CONFLICT);
	assert_true(e.msg[0]);

	open_sender(f, &s, NULL);
	memset(to.b, 0x44, 20);
	OK(sender_submit(s, &id0, hash, &to, &v, NULL, 0, 0, NULL)); /* estimated gas */
	OK(sender_submit(s, &id1, NULL, &to, &v, NULL, 0, 21000, &e_));
	assert_true(id0 == 0 && id1 == 1);
	OK(sender_wait(s, id0, 1, 10000, &rec, &e_));
	assert_memory_equal(rec.tx_hash, hash, 32);
	assert_true(rec.status == 1);
	rpc_receipt_release(&rec);
	OK(sender_wait(s, id1, 1, 10000, &rec, &e_));
	rpc_receipt_release(&rec);
	OK(sender_info(s, id0, &info, &e_));
	assert_int_equal(info.state, SENDER_MINED);
	assert_int_equal(info.attempts, 1);
	assert_int_equal(sender_info(s, 99, &info, &e), ERR_NOT_FOUND);

	/* a tx the node refuses (gas below intrinsic) is rejected and its nonce reused */
	err_clear(&e);
	assert_true(sender_submit(s, &id0, NULL, &to, &v, NULL, 0, 20000, &e) < 0);
	assert_true(e.msg[0]);
	OK(sender_submit(s, &id0, NULL, &to, &v, NULL, 0, 21000, &e_));
	assert_true(id0 == 2);
	OK(sender_wait(s, id0, 1, 10000, &rec, &e_));
	rpc_receipt_release(&rec);
	sender_close(s);
}

/* A tx stuck in the pool is replaced by a fee-bumped one at the same nonce. */
static void test_sender_bump(void **state)
{
	struct fixture *f = *state;
	struct sender_opts o = { .stuck_ms = 300, .rebroadcast_ms = 100, .poll_ms = 50 };
	struct sender *s = NULL;
	struct eth_address to;
	struct sender_info info;
	struct rpc_receipt rec;
	uint8_t h1[32];
	uint64_t id;
	u256 v = u256_from_u64(5), min_fee, k = u256_from_u64(1125), th = u256_from_u64(1000);

	open_sender(f, &s, &o);
	memset(to.b, 0x66, 20);
	OK(sender_submit(s, &id, h1, &to, &v, NULL, 0, 21000, &e_));
	OK(sender_info(s, id, &info, &e_));
	assert_int_equal(info.attempts, 1);
	min_fee = info.max_fee_per_gas;
	/* nothing is mined (--no-mining); poll until the sender replaced it */
	for (int i = 0; i < 100 && info.attempts < 2; i++) {
		usleep(50000);
		OK(sender_poll(s, NULL));
		OK(sender_info(s, id, &info, NULL));
	}
	assert_int_equal(info.attempts, 2);
	assert_int_equal(info.state, SENDER_PENDING);
	assert_memory_not_equal(info.current_hash, h1, 32);
	OK(u256_mul(&min_fee, &min_fee, &k));
	OK(u256_divmod(&min_fee, NULL, &min_fee, &th));
	assert_true(u256_cmp(&info.max_fee_per_gas, &min_fee) >= 0); /* >= +12.5 % */
	mine(f, 1);
	OK(sender_wait(s, id, 1, 10000, &rec, &e_));
	assert_memory_equal(rec.tx_hash, info.current_hash, 32); /* the bumped one */
	assert_true(rec.status == 1);
	rpc_receipt_release(&rec);
	OK(sender_info(s, id, &info, &e_));
	assert_int_equal(info.state, SENDER_MINED);
	sender_close(s);
}

/* When the older attempt is the one mined, the sender notices which. */
static void test_sender_competing(void **state)
{
	struct fixture *f = *state;
	struct sender_opts o = { .stuck_ms = 200, .rebroadcast_ms = 60000, .poll_ms = 50 };
	struct sender *s = NULL;
	struct eth_address to;
	struct sender_info info;
	struct rpc_receipt rec;
	uint8_t h1[32], *raw1 = NULL;
	size_t raw1_len = 0;
	uint64_t id;
	u256 v = u256_from_u64(9);
	json_t *res = NULL;
	char params[80];

	open_sender(f, &s, &o);
	memset(to.b, 0x99, 20);
	OK(sender_submit(s, &id, h1, &to, &v, NULL, 0, 21000, &e_));
	/* keep the first attempt's raw bytes, as a competing broadcaster would */
	strcpy(params, "[\"");
	hex_encode_0x(params + 2, h1, 32);
	strcat(params, "\"]");
	OK(rpc_call_text(&f->rpc, &res, "eth_getRawTransactionByHash", params, &e_));
	OK(json_val_bytes_alloc(&raw1, &raw1_len, res, "raw", TX_RAW_MAX, &e_));
	json_decref(res);
	usleep(250000);
	OK(sender_poll(s, NULL)); /* replaces it */
	OK(sender_info(s, id, &info, &e_));
	assert_int_equal(info.attempts, 2);
	/* the node forgets the replacement and mines the original instead */
	drop_tx(f, info.current_hash);
	drop_tx(f, h1);
	OK(rpc_send_raw_tx(&f->rpc, NULL, raw1, raw1_len, &e_));
	mine(f, 1);
	OK(sender_wait(s, id, 1, 10000, &rec, &e_));
	assert_memory_equal(rec.tx_hash, h1, 32);
	rpc_receipt_release(&rec);
	OK(sender_info(s, id, &info, &e_));
	assert_int_equal(info.state, SENDER_MINED);
	assert_memory_equal(info.mined_hash, h1, 32);
	free(raw1);
	sender_close(s);
}

/* Close with a tx pending, lose it from the pool, reopen: it is resent, no gap. */
static void test_sender_restart(void **state)
{
	struct fixture *f = *state;
	struct sender_opts o = { .stuck_ms = 60000, .rebroadcast_ms = 60000, .poll_ms = 50 };
	struct sender *s = NULL;
	struct eth_address to, me;
	struct rpc_receipt rec;
	uint8_t h1[32], h2[32];
	uint64_t id1, id2, count;
	u256 v1 = u256_from_u64(111), v2 = u256_from_u64(222), bal;

	memset(to.b, 0x88, 20);
	open_sender(f, &s, &o);
	OK(sender_submit(s, &id1, h1, &to, &v1, NULL, 0, 21000, &e_));
	sender_close(s); /* "crash" without waiting */
	drop_tx(f, h1);   /* and the node forgot it */

	open_sender(f, &s, &o);
	sender_address(s, &me);
	OK(sender_submit(s, &id2, h2, &to, &v2, NULL, 0, 21000, &e_));
	assert_true(id1 == 0 && id2 == 1); /* journal nonce wins over the chain's pending count */
	OK(sender_poll(s, NULL));          /* first poll after open rebroadcasts h1 */
	mine(f, 1);
	OK(sender_wait(s, id1, 1, 10000, &rec, &e_));
	assert_memory_equal(rec.tx_hash, h1, 32);
	rpc_receipt_release(&rec);
	OK(sender_wait(s, id2, 1, 10000, &rec, &e_));
	assert_memory_equal(rec.tx_hash, h2, 32);
	rpc_receipt_release(&rec);
	OK(rpc_get_tx_count(&f->rpc, &count, &me, "latest", &e_));
	assert_true(count == 2);
	OK(rpc_get_balance(&f->rpc, &bal, &to, "latest", &e_));
	assert_true(bal.w[0] == 333 && bal.w[1] == 0); /* each paid exactly once */
	sender_close(s);
}

/* sender_submit_once: a second call with the same tag, also after a restart, sends nothing. */
static void test_sender_submit_once(void **state)
{
	struct fixture *f = *state;
	struct sender_opts o = { .stuck_ms = 60000, .rebroadcast_ms = 60000, .poll_ms = 50 };
	struct sender *s = NULL;
	struct eth_address to, me;
	struct rpc_receipt rec;
	uint64_t id1, id2, id3, count;
	bool already = true;
	u256 v = u256_from_u64(500), bal;

	memset(to.b, 0x89, 20);
	open_sender(f, &s, &o);
	sender_address(s, &me);
	assert_int_equal(sender_find_tag(s, "relay:1", &id1, NULL), ERR_NOT_FOUND);
	OK(sender_submit_once(s, "relay:1", &id1, &already, &to, &v, NULL, 0, 21000, &e_));
	assert_false(already);
	OK(sender_submit_once(s, "relay:1", &id2, &already, &to, &v, NULL, 0, 21000, &e_));
	assert_true(already && id2 == id1);
	sender_close(s); /* "crash" before it was mined */
	open_sender(f, &s, &o);
	OK(sender_submit_once(s, "relay:1", &id3, &already, &to, &v, NULL, 0, 21000, &e_));
	assert_true(already && id3 == id1);
	OK(sender_find_tag(s, "relay:1", &id3, &e_));
	assert_true(id3 == id1);
	assert_int_equal(sender_find_tag(s, "", &id3, NULL), ERR_INVALID);
	mine(f, 1);
	OK(sender_wait(s, id1, 1, 10000, &rec, &e_));
	rpc_receipt_release(&rec);
	OK(rpc_get_tx_count(&f->rpc, &count, &me, "latest", &e_));
	assert_true(count == 1);
	OK(rpc_get_balance(&f->rpc, &bal, &to, "latest", &e_));
	assert_true(bal.w[0] == 500 && bal.w[1] == 0); /* paid exactly once */
	sender_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basics, setup_automine, teardown),
		cmocka_unit_test_setup_teardown(test_transfer_1559, setup_automine, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_155, setup_automine, teardown),
		cmocka_unit_test_setup_teardown(test_contract_logs, setup_automine, teardown),
		cmocka_unit_test_setup_teardown(test_sender_automine, setup_automine, teardown),
		cmocka_unit_test_setup_teardown(test_sender_bump, setup_nomine, teardown),
		cmocka_unit_test_setup_teardown(test_sender_competing, setup_nomine, teardown),
		cmocka_unit_test_setup_teardown(test_sender_restart, setup_nomine, teardown),
		cmocka_unit_test_setup_teardown(test_sender_submit_once, setup_nomine, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
