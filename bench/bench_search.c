/*
 * bench_search.c — latency of search_query over 100,000 realistic offers.
 *
 * Generates a market (GPU mix RTX_3090 .. H100_80GB with plausible VRAM,
 * TFLOPS, bandwidth and $0.15-$3.50 per GPU-hour, weighted countries,
 * reliability mostly 0.90-0.999, tokens USDC/DAI/WETH and a few with no
 * USD price), then runs typical compound filters many times on one thread
 * and prints p50/p99/max latency in ms and the offers matched, next to a
 * brute force (filter_match over every offer + qsort of the matches) and
 * the ratio. Figures only, not a test. Usage: bench_search [offers] [runs]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/hash.h"
#include "market/filter.h"
#include "market/offer.h"
#include "market/search.h"

#define NOW 1700000000

static uint64_t rng = 0x5eed5eedull;

static uint64_t rnd(void) { return hash_splitmix64(&rng); }

static uint64_t rn(uint64_t n) { return rnd() % n; }

struct gpu {
	const char *name;
	uint32_t vram_mib, bw, weight;
	uint64_t tf32, tf16;          /* milli-TFLOPS */
	uint64_t lo, hi;              /* micro-USD per GPU-hour */
};

static const struct gpu gpus[] = {
	{ "RTX_3090", 24576, 936, 20, 35580, 71160, 150000, 350000 },
	{ "RTX_4090", 24576, 1008, 25, 82580, 165160, 250000, 700000 },
	{ "RTX_5090", 32768, 1792, 8, 104800, 209600, 450000, 1000000 },
	{ "A6000", 49152, 768, 8, 38710, 77420, 400000, 800000 },
	{ "L40S", 46068, 864, 7, 91610, 183220, 600000, 1100000 },
	{ "A100_40GB", 40960, 1555, 8, 19500, 78000, 600000, 1200000 },
	{ "A100_80GB", 81920, 2039, 12, 19500, 78000, 900000, 1800000 },
	{ "H100_80GB", 81920, 3350, 12, 66900, 133800, 1800000, 3500000 },
};

struct country { const char *cc; uint32_t weight; };
static const struct country countries[] = {
	{ "US", 30 }, { "DE", 15 }, { "NL", 8 }, { "FR", 6 }, { "GB", 6 }, { "CA", 6 },
	{ "FI", 4 }, { "SE", 4 }, { "PL", 4 }, { "JP", 4 }, { "KR", 3 }, { "SG", 3 },
	{ "CN", 4 }, { "BR", 3 },
};

static void gen_offer(struct offer *o, uint64_t i)
{
	uint32_t tw = 0, w;
	const struct gpu *g = gpus;
	const struct country *c = countries;
	memset(o, 0, sizeof *o);
	for (int k = 0; k < 32; k++)
		o->id32[k] = (uint8_t)rnd();
	for (int k = 0; k < 20; k++)
		o->provider20[k] = (uint8_t)(k < 2 ? rn(256) : 0x11);
	o->machine_id = i / 2;
	for (size_t k = 0; k < sizeof gpus / sizeof gpus[0]; k++)
		tw += gpus[k].weight;
	w = (uint32_t)rn(tw);
	while (w >= g->weight)
		w -= g->weight, g++;
	tw = 0;
	for (size_t k = 0; k < sizeof countries / sizeof countries[0]; k++)
		tw += countries[k].weight;
	w = (uint32_t)rn(tw);
	while (w >= c->weight)
		w -= c->weight, c++;
	memcpy(o->country, c->cc, 3);
	strcpy(o->region, c->cc[0] == 'U' ? "us-east" : "eu-west");
	strcpy(o->gpu_model, g->name);
	static const uint32_t ng[] = { 1, 1, 1, 1, 1, 1, 2, 2, 4, 8 };
	o->num_gpus = ng[rn(10)];
	o->vram_mib = g->vram_mib;
	o->tflops32_milli = g->tf32 - rn(g->tf32 / 20);
	o->tflops16_milli = g->tf16;
	o->bandwidth_gbps = g->bw;
	o->verified = rn(10) < 7;
	o->simulated = rn(100) == 0;
	o->cpu_cores = 8 * o->num_gpus * (uint32_t)(1 + rn(4));
	o->ram_gib = 32 * o->num_gpus * (uint32_t)(1 + rn(4));
	o->disk_gib = 200 * (uint32_t)(1 + rn(20));
	o->net_up_mbps = 100 * (uint32_t)(1 + rn(50));
	o->net_down_mbps = 100 * (uint32_t)(1 + rn(100));
	static const uint32_t cudas[] = { 1180, 1202, 1220, 1240, 1260, 1280 };
	o->cuda_version = cudas[rn(6)];
	o->driver_version = 535000000 + (uint32_t)rn(30) * 1000000 + (uint32_t)rn(200) * 1000;
	uint64_t usd = (g->lo + rn(g->hi - g->lo + 1)) * o->num_gpus; /* micro-USD/h */
	uint32_t t = (uint32_t)rn(100);
	if (t < 70) { /* USDC */
		strcpy(o->token_symbol, "USDC");
		o->token_decimals = 6;
		o->token_usd_micro = 1000000;
		o->rate_per_hour = u256_from_u64(usd);
	} else if (t < 99) { /* DAI or WETH, 18 decimals */
		bool weth = t >= 90;
		u256 r = u256_from_u64(usd), k = u256_from_u64(1000000000000ull);
		strcpy(o->token_symbol, weth ? "WETH" : "DAI");
		o->token_decimals = 18;
		o->token_usd_micro = weth ? 3000123456ull : 999800;
		(void)u256_mul(&r, &r, &k); /* usd * 1e12 = wei of a $1 token */
		if (weth) {
			u256 d = u256_from_u64(3000);
			(void)u256_divmod(&r, NULL, &r, &d);
		}
		o->rate_per_hour = r;
	} else { /* a token with no USD price */
		strcpy(o->token_symbol, "XYZ");
		o->token_decimals = 8;
		o->rate_per_hour = u256_from_u64(usd * 100);
	}
	o->fee_bps = 250;
	uint32_t rr = (uint32_t)rn(100);
	o->reliability_bps = (uint16_t)(rr < 85 ? 9000 + rn(991) : rr < 95 ? 9990 + rn(11) : 5000 + rn(4000));
	o->rentals_completed = (uint32_t)rn(500);
	o->rating_centi = (uint16_t)(300 + rn(201));
	o->interruptible = rn(3) == 0;
	o->expires_at = NOW + 60 + (int64_t)rn(86400);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* brute force: every offer through filter_match, then a full qsort */
static const struct filter_sort *bf_sort;

static int bf_cmp(const void *pa, const void *pb)
{
	const struct offer *a = *(const struct offer *const *)pa, *b = *(const struct offer *const *)pb;
	int64_t ka = offer_col_key(a, (enum offer_col)filter_fields[bf_sort->field].col);
	int64_t kb = offer_col_key(b, (enum offer_col)filter_fields[bf_sort->field].col);
	if (ka != kb) {
		if (ka == OFFER_KEY_UNKNOWN || kb == OFFER_KEY_UNKNOWN)
			return ka == OFFER_KEY_UNKNOWN ? 1 : -1;
		return ((ka < kb) ? -1 : 1) * (bf_sort->desc ? -1 : 1);
	}
	return memcmp(a->id32, b->id32, 32);
}

static size_t brute(const struct offer **sel, const struct offer *offers, size_t n,
		    const struct filter *f, const struct filter_sort *s)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (filter_match(f, &offers[i], NOW))
			sel[m++] = &offers[i];
	bf_sort = s;
	qsort(sel, m, sizeof *sel, bf_cmp);
	return m;
}

struct qdef { const char *filter, *sort; uint32_t limit, offset; };

static const struct qdef queries[] = {
	{ "gpu=RTX_4090 num_gpus>=2 vram>=24 price<=0.80 reliability>=0.98 country=DE,NL "
	  "interruptible=false cuda>=12.2", "price", 100, 0 },
	{ "price<=30", "price", 100, 0 },
	{ "", "-tflops", 50, 0 },
	{ "gpu=H100_80GB,A100_80GB num_gpus>=4 reliability>=0.99 verified=true", "price_per_tflop", 100, 0 },
	{ "vram>=40 price_per_tflop<=0.02 country!=US,CN cuda>=12.0 net_down>=1000", "-reliability", 100, 0 },
	{ "price<=1.5 reliability>=0.95 verified=true simulated=false", "price", 100, 5000 },
	{ "gpu=RTX_3090,RTX_4090,RTX_5090 price<=0.5 rating>=4 disk>=1000 token=USDC", "-tflops", 20, 0 },
};

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 300;
	struct search_index *ix;
	struct err e = { 0 };
	struct offer *offers = calloc(n, sizeof *offers);
	const struct offer **sel = calloc(n, sizeof *sel);
	double *lat = calloc((size_t)runs, sizeof *lat);
	if (!offers || !sel || !lat || search_index_new(&ix, n, &e) != 0) {
		fprintf(stderr, "bench_search: setup failed: %s\n", e.msg);
		return 1;
	}
	double t0 = now_ms();
	for (size_t i = 0; i < n; i++) {
		gen_offer(&offers[i], i);
		if (search_index_put(ix, &offers[i], &e) != 0) {
			fprintf(stderr, "bench_search: put: %s\n", e.msg);
			return 1;
		}
		(void)offer_derive(&offers[i], NULL); /* the brute force reads derived fields */
	}
	printf("bench_search: %zu offers indexed in %.1f ms; %d runs per filter, one thread\n",
	       n, now_ms() - t0, runs);
	printf("%-4s %8s %8s %8s %8s | %9s %9s | %s\n", "q", "matched", "p50_ms", "p99_ms", "max_ms",
	       "brute_p50", "ratio", "filter / sort / page");
	for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++) {
		const struct qdef *d = &queries[q];
		struct filter f;
		struct filter_sort s;
		struct search_page pg = { d->limit, d->offset, NULL };
		struct search_result r;
		size_t total = 0;
		if (filter_parse(&f, d->filter, strlen(d->filter), NULL, &e) != 0 ||
		    filter_sort_parse(&s, d->sort, &e) != 0) {
			fprintf(stderr, "bench_search: %s\n", e.msg);
			return 1;
		}
		for (int i = 0; i < runs; i++) {
			double a = now_ms();
			if (search_query(&r, ix, &f, &s, &pg, NOW, &e) != 0) {
				fprintf(stderr, "bench_search: query: %s\n", e.msg);
				return 1;
			}
			lat[i] = now_ms() - a;
			total = r.total;
			search_result_release(&r);
		}
		qsort(lat, (size_t)runs, sizeof *lat, cmp_double);
		double p50 = lat[runs / 2], p99 = lat[(runs * 99) / 100], mx = lat[runs - 1];
		int bruns = runs / 10 > 5 ? runs / 10 : 5;
		double *bl = calloc((size_t)bruns, sizeof *bl);
		size_t bm = 0;
		for (int i = 0; i < bruns && bl; i++) {
			double a = now_ms();
			bm = brute(sel, offers, n, &f, &s);
			bl[i] = now_ms() - a;
		}
		if (!bl)
			return 1;
		qsort(bl, (size_t)bruns, sizeof *bl, cmp_double);
		printf("%-4zu %8zu %8.3f %8.3f %8.3f | %9.3f %8.1fx | %s / %s / limit %u offset %u%s\n",
		       q + 1, total, p50, p99, mx, bl[bruns / 2], bl[bruns / 2] / p50, d->filter, d->sort,
		       d->limit, d->offset, bm == total ? "" : "  MISMATCH");
		free(bl);
	}
	search_index_free(ix);
	free(offers);
	free(sel);
	free(lat);
	return 0;
}
