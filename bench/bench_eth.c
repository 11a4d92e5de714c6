/*
 * bench_eth.c — micro-benchmark of the Ethereum primitives (not a test).
 *
 * Prints operations per second for keccak256 (32 B and 1 KiB), secp256k1
 * signing and address recovery, serializing a signed EIP-1559 transfer
 * (RLP), and ABI-encoding a transfer(address,uint256) call. Each case runs
 * in batches until ~0.3 s of CLOCK_MONOTONIC time has passed. A volatile
 * sink keeps the compiler from dropping the work.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"
#include "eth/abi.h"
#include "eth/keccak.h"
#include "eth/secp.h"
#include "eth/tx.h"

#define BENCH_SECONDS 0.3

static volatile uint8_t sink;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct ctx {
	uint8_t msg[1024];
	uint8_t key[32];
	uint8_t digest[32];
	uint8_t sig[65];
	struct tx tx;
	struct buf out;
	struct eth_address to;
};

typedef void (*bench_fn)(struct ctx *c);

static void b_keccak32(struct ctx *c)
{
	uint8_t h[32];
	keccak256(h, c->msg, 32);
	sink ^= h[0];
}

static void b_keccak1k(struct ctx *c)
{
	uint8_t h[32];
	keccak256(h, c->msg, 1024);
	sink ^= h[0];
}

static void b_sign(struct ctx *c)
{
	uint8_t sig[65];
	c->digest[0]++;
	if (secp_sign(sig, c->digest, c->key, NULL))
		abort();
	sink ^= sig[0];
}

static void b_recover(struct ctx *c)
{
	struct eth_address a;
	if (secp_recover_address(&a, c->digest, c->sig, NULL))
		abort();
	sink ^= a.b[0];
}

static void b_rlp_tx(struct ctx *c)
{
	buf_reset(&c->out);
	if (tx_serialize(&c->out, &c->tx, NULL))
		abort();
	sink ^= c->out.data[1];
}

static void b_abi_transfer(struct ctx *c)
{
	u256 amount = u256_from_u64(1000000);
	struct abi_value args[2] = { abi_v_address(&c->to), abi_v_uint(&amount) };
	buf_reset(&c->out);
	if (abi_encode_call(&c->out, "transfer(address,uint256)", args, 2, NULL))
		abort();
	sink ^= c->out.data[0];
}

static void run(const char *name, bench_fn fn, struct ctx *c)
{
	double start = now_s(), elapsed;
	uint64_t n = 0, batch = 16;

	do {
		double rate, left;
		for (uint64_t i = 0; i < batch; i++)
			fn(c);
		n += batch;
		elapsed = now_s() - start;
		/* size the next batch to land near BENCH_SECONDS */
		rate = (double)n / (elapsed > 1e-9 ? elapsed : 1e-9);
		left = BENCH_SECONDS - elapsed;
		batch = left > 0 && rate * left < (double)(batch * 2) ? (uint64_t)(rate * left) + 1
								      : batch * 2;
	} while (elapsed < BENCH_SECONDS);
	printf("%-28s %12.0f ops/s  (%llu ops in %.3f s)\n", name, (double)n / elapsed,
	       (unsigned long long)n, elapsed);
}

int main(void)
{
	static struct ctx c;
	struct err e = { 0, "" };

	for (size_t i = 0; i < sizeof c.msg; i++)
		c.msg[i] = (uint8_t)i;
	memset(c.key, 0x46, 32);
	keccak256(c.digest, c.msg, 32);
	if (secp_sign(c.sig, c.digest, c.key, &e)) {
		fprintf(stderr, "secp_sign: %s\n", e.msg);
		return 1;
	}
	memset(c.to.b, 0x35, 20);
	tx_init(&c.tx, TX_EIP1559);
	c.tx.chain_id = 1;
	c.tx.nonce = 9;
	c.tx.max_priority_fee_per_gas = u256_from_u64(2000000000);
	c.tx.max_fee_per_gas = u256_from_u64(50000000000);
	c.tx.gas_limit = 21000;
	c.tx.has_to = true;
	c.tx.to = c.to;
	c.tx.value = u256_from_u64(1000000000000000000ull);
	if (tx_sign(&c.tx, c.key, &e)) {
		fprintf(stderr, "tx_sign: %s\n", e.msg);
		return 1;
	}
	buf_init(&c.out, TX_RAW_MAX);

	run("keccak256 32 B", b_keccak32, &c);
	run("keccak256 1 KiB", b_keccak1k, &c);
	run("secp256k1 sign", b_sign, &c);
	run("secp256k1 recover address", b_recover, &c);
	run("RLP serialize type-2 tx", b_rlp_tx, &c);
	run("ABI encode transfer()", b_abi_transfer, &c);

	buf_release(&c.out);
	tx_release(&c.tx);
	return 0;
}
