/*
 * http_seed.c — fills a marketplace store with a realistic market for bench/http: N offers (default 100,000)
 * on N/2 hosts of 500 providers, each host with 1-8 GPUs of one model (RTX 3090 .. H100), weighted
 * countries, plausible prices in the native coin, every provider's heartbeat set to now. The offers are
 * stored as `flopmarket serve` stores a published offer (status active, a signature-shaped hex string: the
 * server checks signatures when an offer is published, not when it rebuilds its index from the store).
 *
 * Usage: http_seed DB_URL [offers]. Deterministic (fixed seed), one transaction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/u256.h"
#include "store/store.h"

#define PROVIDERS 500
#define OFFERS_PER_HOST 2

static uint64_t rng = 0x5eed5eedull;

static uint64_t rnd(void) { return hash_splitmix64(&rng); }

static uint64_t rn(uint64_t n) { return rnd() % n; }

struct gpu_kind {
	const char *name;
	uint32_t vram_mib, bw;
	uint64_t tf32, tf16;  /* milli-TFLOPS */
	uint64_t lo, hi;      /* micro-USD per GPU-hour */
};

static const struct gpu_kind kinds[] = {
	{ "RTX_3090", 24576, 936, 35580, 71160, 150000, 350000 },
	{ "RTX_4090", 24576, 1008, 82580, 165160, 250000, 700000 },
	{ "RTX_5090", 32768, 1792, 104800, 209600, 450000, 1000000 },
	{ "A6000", 49152, 768, 38710, 77420, 400000, 800000 },
	{ "L40S", 46068, 864, 91610, 183220, 600000, 1100000 },
	{ "A100_80GB", 81920, 2039, 19500, 78000, 900000, 1800000 },
	{ "H100_80GB", 81920, 3350, 66900, 133800, 1800000, 3500000 },
};
static const char *const countries[] = { "US", "US", "US", "DE", "DE", "NL", "FR", "GB", "CA", "FI", "SE", "JP" };

static void hex_fill(char *out, size_t bytes)
{
	static const char d[] = "0123456789abcdef";
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < bytes; i++) {
		uint8_t b = (uint8_t)rnd();
		out[2 + 2 * i] = d[b >> 4];
		out[3 + 2 * i] = d[b & 15];
	}
	out[2 + 2 * bytes] = '\0';
}

static void provider_addr(char out[STORE_ADDR_SIZE], uint64_t i)
{
	snprintf(out, STORE_ADDR_SIZE, "0x%040" PRIx64, 0x1000 + i);
}

static int seed_host(struct store *st, uint64_t machine, const char *prov, const struct gpu_kind *g,
		     uint32_t ngpu, int64_t now, struct err *e)
{
	struct store_host h;
	int rc;

	memset(&h, 0, sizeof h);
	h.machine_id = machine;
	snprintf(h.provider, sizeof h.provider, "%s", prov);
	memcpy(h.country, countries[rn(sizeof countries / sizeof countries[0])], 3);
	snprintf(h.region, sizeof h.region, "%s", h.country[0] == 'U' ? "us-east" : "eu-west");
	h.net_up_mbps = 100 * (uint32_t)(1 + rn(50));
	h.net_down_mbps = 100 * (uint32_t)(1 + rn(100));
	h.cpu_cores = 8 * ngpu * (uint32_t)(1 + rn(4));
	h.ram_gib = 32 * ngpu * (uint32_t)(1 + rn(4));
	h.disk_gib = 200 * (uint32_t)(1 + rn(20));
	snprintf(h.driver_version, sizeof h.driver_version, "%u.%u.%u", 535 + (unsigned)rn(30),
		 (unsigned)rn(200), (unsigned)rn(20));
	snprintf(h.cuda_version, sizeof h.cuda_version, "12.%u", (unsigned)rn(9));
	h.updated_at = now;
	if ((rc = store_host_upsert(st, &h, e)))
		return rc;
	for (uint32_t k = 0; k < ngpu; k++) {
		struct store_gpu sg;
		memset(&sg, 0, sizeof sg);
		sg.machine_id = machine;
		sg.index = k;
		snprintf(sg.model, sizeof sg.model, "%s", g->name);
		sg.vram_mib = g->vram_mib;
		sg.fp32_mtflops = g->tf32 - rn(g->tf32 / 20);
		sg.fp16_mtflops = g->tf16;
		sg.mem_bw_gbps = g->bw;
		sg.bench_verified = rn(10) < 7;
		sg.bench_at = now - (int64_t)rn(86400);
		if ((rc = store_gpu_upsert(st, &sg, e)))
			return rc;
	}
	return 0;
}

static int seed_offer(struct store *st, uint64_t machine, const char *prov, const struct gpu_kind *g,
		      uint32_t ngpu, uint64_t nonce, int64_t now, struct err *e)
{
	struct store_offer so;
	uint64_t usd = (g->lo + rn(g->hi - g->lo + 1)) * ngpu; /* micro-USD per hour */
	/* the signed rate is wei per second scaled by 1e18: usd * 1e12 / 3000 wei an hour at ETH = $3000 */
	u256 rate = u256_from_u64(usd), k = u256_from_u64(1000000000000000ull), d = u256_from_u64(10800000);

	memset(&so, 0, sizeof so);
	hex_fill(so.offer_hash, 32);
	so.machine_id = machine;
	snprintf(so.provider, sizeof so.provider, "%s", prov);
	snprintf(so.payout, sizeof so.payout, "%s", prov);
	snprintf(so.token, sizeof so.token, "0x%040d", 0);
	snprintf(so.arbiter, sizeof so.arbiter, "0x%040d", 0);
	snprintf(so.monitor, sizeof so.monitor, "0x%040d", 0);
	(void)u256_mul(&rate, &rate, &k);
	(void)u256_mul(&rate, &rate, &k);
	(void)u256_divmod(&rate, NULL, &rate, &d);
	u256_to_dec(so.rate, &rate);
	so.min_secs = 60;
	so.max_secs = 7 * 86400;
	so.interruptible = rn(3) == 0;
	so.notice_secs = 300;
	so.grace_secs = 600;
	so.dispute_secs = 3600;
	hex_fill(so.spec_hash, 32);
	so.expiry = now + 30 * 86400 + (int64_t)rn(86400);
	snprintf(so.nonce, sizeof so.nonce, "%" PRIu64, nonce);
	hex_fill(so.signature, 65);
	snprintf(so.token_symbol, sizeof so.token_symbol, "ETH");
	so.token_decimals = 18;
	so.status = STORE_OFFER_ACTIVE;
	so.created_at = so.updated_at = now;
	so.capacity = 1;
	so.max_fee_bps = 1000;
	return store_offer_put(st, &so, e);
}

static int seed(struct store *st, uint64_t offers, int64_t now, struct err *e)
{
	char prov[STORE_ADDR_SIZE];
	static const uint32_t ng[] = { 1, 1, 1, 1, 1, 1, 2, 2, 4, 8 };
	int rc;

	for (uint64_t p = 0; p < PROVIDERS; p++) {
		struct store_provider sp;
		memset(&sp, 0, sizeof sp);
		provider_addr(sp.address, p);
		sp.first_seen = now - 86400;
		sp.last_heartbeat = now;
		if ((rc = store_provider_upsert(st, &sp, e)))
			return rc;
	}
	for (uint64_t i = 0; i < offers; i++) {
		uint64_t machine = 1 + i / OFFERS_PER_HOST;
		uint64_t rs = rng;
		const struct gpu_kind *g;
		uint32_t n;

		provider_addr(prov, machine % PROVIDERS);
		rng = machine * 0x9e3779b97f4a7c15ull; /* a host's draw is the same for both of its offers */
		g = &kinds[rn(sizeof kinds / sizeof kinds[0])];
		n = ng[rn(10)];
		if (i % OFFERS_PER_HOST == 0 && (rc = seed_host(st, machine, prov, g, n, now, e)))
			return rc;
		rng = rs ^ (i + 1);
		if ((rc = seed_offer(st, machine, prov, g, n, i, now, e)))
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct store *st = NULL;
	struct err e = { 0 };
	uint64_t offers = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
	int64_t now = (int64_t)time(NULL);
	int rc;

	if (argc < 2 || offers == 0) {
		fprintf(stderr, "usage: http_seed DB_URL [offers]\n");
		return 2;
	}
	if ((rc = store_open(&st, argv[1], &e)) || (rc = store_tx_begin(st, &e)) ||
	    (rc = seed(st, offers, now, &e)) || (rc = store_tx_commit(st, &e))) {
		fprintf(stderr, "http_seed: %s\n", e.msg);
		store_close(st);
		return 1;
	}
	store_close(st);
	printf("seeded %" PRIu64 " offers on %" PRIu64 " hosts of %d providers\n", offers,
	       (offers + OFFERS_PER_HOST - 1) / OFFERS_PER_HOST, PROVIDERS);
	return 0;
}
