/*
 * test_search.c — the offer index against a brute force.
 *
 * The property test generates a few thousand random offers (small value
 * domains, so ties and boundary values are common) and thousands of random
 * filters / sorts / pages from a seeded PRNG, and checks that search_query
 * returns exactly what a brute-force scan returns: same total, same offers,
 * same order. The brute force below is written straight from the clause
 * semantics in docs/search.md and uses only the offer's raw fields: prices
 * are compared as exact rationals in u256 (rate*usd vs value*10^decimals),
 * never through the index's keys. The index is mutated (update, remove,
 * add) between rounds. Seed: FLOP_TEST_SEED (default 20240611), printed on
 * any failure. Plus: paging by offset and by cursor, tie-breaking, errors,
 * add/update/remove, and concurrent readers with a writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <stdbool.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/u256.h"
#include "market/filter.h"
#include "market/offer.h"
#include "market/search.h"

/* ---- PRNG (splitmix64) ---- */

static uint64_t seed_used;
static size_t stat_total[3];
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rn(uint64_t n) { return n ? rnd() % n : 0; }

#define PICK(a) ((a)[rn(sizeof(a) / sizeof((a)[0]))])

static void seed_init(void)
{
	const char *s = getenv("FLOP_TEST_SEED");
	seed_used = s ? strtoull(s, NULL, 0) : 20240611;
	rng_state = seed_used;
}

#define NOW 1700000000

/* ---- random offers ---- */

struct tok { const char *sym; uint8_t dec; uint64_t usd; };
static const struct tok toks[] = {
	{ "USDC", 6, 1000000 }, { "DAI", 18, 999800 }, { "WETH", 18, 3000123456ull },
	{ "XYZ", 8, 0 }, { "usdc", 6, 1000000 }, { "dUSDC", 6, 1000000 },
};
static const char *const gpus[] = { "RTX_3090", "RTX_4090", "rtx_4090", "A100_80GB", "H100_80GB", "L40S",
				    "NVIDIA_A100-SXM4-40GB", "NVIDIA_GeForce_RTX_4090", "NVIDIA_A10" };
static const char *const countries[] = { "DE", "NL", "US", "FR", "JP" };
static const char *const regions[] = { "", "eu-west", "EU-WEST", "us-east" };
/* image sets: account hosts list none; a name may be in several sets */
static const char *const image_sets[] = { "", "pytorch", "pytorch,cuda-12", "cuda-12,base", "base" };
static const uint32_t vrams[] = { 24564, 24576, 81920, 49152, 40960, 46068 };
static const uint64_t tfl[] = { 35580, 82580, 0, 19500, 91600, 67000 };
static const uint32_t cudas[] = { 1180, 1202, 1210, 1220, 1280 };
static const uint32_t drivers[] = { 535104005, 550054015, 550000000, 560035003 };
static uint8_t providers[8][20];
static uint8_t id_prefixes[4][8];

static void random_rate(struct offer *o, const struct tok *t)
{
	switch (rn(4)) {
	case 0: /* round amounts: exact prices, many ties */
		o->rate_per_hour = u256_from_u64((1 + rn(20)) * 100000);
		if (t->dec == 18) {
			u256 k = u256_from_u64(1000000000000ull);
			(void)u256_mul(&o->rate_per_hour, &o->rate_per_hour, &k);
		} else if (t->dec == 8) {
			u256 k = u256_from_u64(100);
			(void)u256_mul(&o->rate_per_hour, &o->rate_per_hour, &k);
		}
		break;
	case 1: /* tiny amounts */
		o->rate_per_hour = u256_from_u64(rn(5));
		break;
	default: { /* arbitrary: mostly inexact in micro-USD */
		u256 a = u256_from_u64(100000 + rn(3500000));
		if (t->dec == 18) {
			u256 k = u256_from_u64(1000000000000ull), r = u256_from_u64(rn(1000000000000ull));
			(void)u256_mul(&a, &a, &k);
			(void)u256_add(&a, &a, &r);
		}
		o->rate_per_hour = a;
	}
	}
}

static void random_offer(struct offer *o)
{
	const struct tok *t = &PICK(toks);
	memset(o, 0, sizeof *o);
	for (int i = 0; i < 32; i++)
		o->id32[i] = (uint8_t)rnd();
	if (rn(5) == 0) /* shared 8-byte prefixes: tie-break needs all 32 bytes */
		memcpy(o->id32, id_prefixes[rn(4)], 8);
	memcpy(o->provider20, providers[rn(8)], 20);
	o->machine_id = rn(1000);
	memcpy(o->country, PICK(countries), 3);
	strcpy(o->region, PICK(regions));
	strcpy(o->images, PICK(image_sets));
	strcpy(o->isolation, o->images[0] ? "container" : rn(2) ? "account" : "");
	o->jupyter = rn(2);
	o->net_up_mbps = (uint32_t)(100 * (1 + rn(20)));
	o->net_down_mbps = (uint32_t)(100 * (1 + rn(100)));
	o->cpu_cores = (uint32_t)(4 << rn(4));
	o->ram_gib = (uint32_t)(16 << rn(5));
	o->disk_gib = (uint32_t)(100 * (1 + rn(20)));
	o->driver_version = PICK(drivers);
	o->cuda_version = PICK(cudas);
	strcpy(o->gpu_model, PICK(gpus));
	o->vram_mib = PICK(vrams);
	o->num_gpus = (uint32_t)(1 << rn(4));
	o->tflops32_milli = PICK(tfl);
	o->tflops16_milli = o->tflops32_milli * 2;
	o->bandwidth_gbps = (uint32_t)(900 + 100 * rn(12));
	o->verified = rn(2);
	o->simulated = rn(4) == 0;
	strcpy(o->token_symbol, t->sym);
	o->token_decimals = t->dec;
	o->token_usd_micro = t->usd;
	random_rate(o, t);
	static const uint16_t fees[] = { 0, 250, 500, 10000 };
	o->fee_bps = PICK(fees);
	o->reliability_bps = (uint16_t)(rn(3) ? 9000 + rn(1001) : 9800);
	o->rentals_completed = (uint32_t)rn(50);
	o->rating_centi = (uint16_t)(25 * rn(21));
	o->interruptible = rn(2);
	switch (rn(10)) {
	case 0: o->expires_at = NOW - (int64_t)rn(100); break; /* expired (incl. == now) */
	case 1: o->expires_at = NOW + 1; break;
	default: o->expires_at = NOW + 1 + (int64_t)rn(100000);
	}
}

/* ---- the brute force: raw fields, exact rationals ---- */

static u256 pow10(unsigned n)
{
	u256 r = u256_from_u64(1), ten = u256_from_u64(10);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(u256_mul(&r, &r, &ten), 0);
	return r;
}

static u256 mul(u256 a, uint64_t b)
{
	u256 t = u256_from_u64(b);
	assert_int_equal(u256_mul(&a, &a, &t), 0);
	return a;
}

/*
 * The value of numeric field `name` of o as an exact fraction num/den in
 * the field's fixed-point unit; false when unknown.
 */
static bool bf_value(u256 *num, u256 *den, const struct offer *o, const char *name)
{
	uint64_t v = 0;
	*den = u256_from_u64(1);
	if (!strcmp(name, "price") || !strcmp(name, "price_per_tflop")) {
		if (o->token_usd_micro == 0)
			return false;
		*num = mul(o->rate_per_hour, o->token_usd_micro);
		*den = pow10(o->token_decimals);
		if (!strcmp(name, "price_per_tflop")) {
			uint64_t t = o->tflops32_milli * o->num_gpus;
			if (t == 0)
				return false;
			*num = mul(*num, 1000);
			*den = mul(*den, t);
		}
		return true;
	}
	if (!strcmp(name, "token_price")) {
		*num = mul(o->rate_per_hour, 1000000);
		*den = pow10(o->token_decimals);
		return true;
	}
	if (!strcmp(name, "vram")) {
		*num = u256_from_u64((uint64_t)o->vram_mib * 1000);
		*den = u256_from_u64(1024);
		return true;
	}
	if (!strcmp(name, "num_gpus")) v = o->num_gpus;
	else if (!strcmp(name, "tflops")) v = o->tflops32_milli * o->num_gpus;
	else if (!strcmp(name, "gpu_tflops")) v = o->tflops32_milli;
	else if (!strcmp(name, "tflops16")) v = o->tflops16_milli * o->num_gpus;
	else if (!strcmp(name, "bandwidth")) v = o->bandwidth_gbps;
	else if (!strcmp(name, "verified")) v = o->verified;
	else if (!strcmp(name, "simulated")) v = o->simulated;
	else if (!strcmp(name, "fee_bps")) v = o->fee_bps;
	else if (!strcmp(name, "reliability")) v = o->reliability_bps;
	else if (!strcmp(name, "rentals")) v = o->rentals_completed;
	else if (!strcmp(name, "rating")) v = o->rating_centi;
	else if (!strcmp(name, "interruptible")) v = o->interruptible;
	else if (!strcmp(name, "jupyter")) v = o->jupyter;
	else if (!strcmp(name, "net_up")) v = o->net_up_mbps;
	else if (!strcmp(name, "net_down")) v = o->net_down_mbps;
	else if (!strcmp(name, "cpu_cores")) v = o->cpu_cores;
	else if (!strcmp(name, "ram")) v = o->ram_gib;
	else if (!strcmp(name, "disk")) v = o->disk_gib;
	else if (!strcmp(name, "driver")) v = o->driver_version;
	else if (!strcmp(name, "cuda")) v = o->cuda_version;
	else fail_msg("brute force: no field %s", name);
	if (v == 0 && strstr(name, "tflops"))
		return false; /* not measured (simulated or unbenchmarked): unknown, sorts last, matches no bound */
	*num = u256_from_u64(v);
	return true;
}

static const char *bf_str(char *buf, const struct offer *o, const char *name)
{
	if (!strcmp(name, "gpu")) return o->gpu_model;
	if (!strcmp(name, "country")) return o->country;
	if (!strcmp(name, "region")) return o->region;
	if (!strcmp(name, "token")) return o->token_symbol;
	if (!strcmp(name, "isolation")) return o->isolation[0] ? o->isolation : "account";
	if (!strcmp(name, "image")) return o->images;
	assert_string_equal(name, "provider");
	strcpy(buf, "0x");
	for (int i = 0; i < 20; i++)
		sprintf(buf + 2 + 2 * i, "%02x", o->provider20[i]);
	return buf;
}

/* The brute force's own reading of a GPU name: lowercase words split at _ - space and dot. */
static size_t bf_words(char w[16][32], const char *s)
{
	size_t n = 0, l = 0;

	for (;; s++) {
		bool sep = !*s || *s == '_' || *s == '-' || *s == ' ' || *s == '.';
		if (!sep && l < 31 && n < 16)
			w[n][l++] = (char)((*s >= 'A' && *s <= 'Z') ? *s + 32 : *s);
		if (sep && l) {
			w[n++][l] = '\0';
			l = 0;
		}
		if (!*s)
			return n;
	}
}

/* A model is named by a query whose words are a run of the model's (a family: "A100", "rtx_4090"). */
static bool bf_gpu(const char *model, const char *q)
{
	char m[16][32], v[16][32];
	size_t nm = bf_words(m, model), nv = bf_words(v, q);

	for (size_t i = 0; nv && i + nv <= nm; i++) {
		size_t k = 0;
		while (k < nv && !strcmp(m[i + k], v[k]))
			k++;
		if (k == nv)
			return true;
	}
	return false;
}

/* A token symbol is named by itself (any case) or, for the dev chain's "dUSDC", by "USDC". */
static bool bf_token(const char *sym, const char *q)
{
	return !strcasecmp(sym, q) || ((sym[0] == 'd' || sym[0] == 'D') && !strcasecmp(sym + 1, q));
}

static bool bf_match(const struct filter *f, const struct offer *o)
{
	if (!(NOW < o->expires_at))
		return false;
	for (uint32_t k = 0; k < f->nclauses; k++) {
		const struct filter_clause *c = &f->clauses[k];
		const struct filter_field *fd = &filter_fields[c->field];
		bool any = false;
		if (fd->type == FT_STR) {
			char buf[OFFER_STR_MAX];
			const char *s = bf_str(buf, o, fd->name);
			for (unsigned i = 0; i < c->nvals; i++) {
				const char *v = filter_value_str(f, c, i);
				if (strcmp(fd->name, "image") == 0) {
					/* a set: v is one of the comma-separated names */
					char set[OFFER_STR_MAX + 2], want[64];
					snprintf(set, sizeof set, ",%s,", s);
					snprintf(want, sizeof want, ",%s,", v);
					any |= s[0] && strstr(set, want) != NULL;
				} else if (strcmp(fd->name, "gpu") == 0) {
					any |= bf_gpu(s, v);
				} else if (strcmp(fd->name, "token") == 0) {
					any |= bf_token(s, v);
				} else {
					any |= strcasecmp(s, v) == 0;
				}
			}
			if (any != (c->op == FOP_EQ))
				return false;
			continue;
		}
		u256 num, den;
		if (!bf_value(&num, &den, o, fd->name))
			return false;
		for (unsigned i = 0; i < c->nvals; i++) {
			/* x = num/den vs v: compare num with v*den */
			u256 rhs = mul(den, (uint64_t)f->vals[c->first + i].num);
			int cmp = u256_cmp(&num, &rhs);
			bool ok;
			switch (c->op) {
			case FOP_EQ: case FOP_NE: ok = cmp == 0; break;
			case FOP_LT: ok = cmp < 0; break;
			case FOP_LE: ok = cmp <= 0; break;
			case FOP_GT: ok = cmp > 0; break;
			default: ok = cmp >= 0; break;
			}
			any |= ok;
		}
		if (any != (c->op != FOP_NE))
			return false;
	}
	return true;
}

/* Sort position: value floor (+1/2 when not whole), unknown last, then id. */
struct bf_row {
	const struct offer *o;
	bool known;
	u256 fl;       /* floor of the value */
	bool frac;     /* value not whole */
};

static bool bf_desc;

static int bf_cmp(const void *pa, const void *pb)
{
	const struct bf_row *a = pa, *b = pb;
	if (a->known != b->known)
		return a->known ? -1 : 1;
	if (a->known) {
		int c = u256_cmp(&a->fl, &b->fl);
		if (c == 0)
			c = (int)a->frac - (int)b->frac;
		if (c != 0)
			return bf_desc ? -c : c;
	}
	return memcmp(a->o->id32, b->o->id32, 32);
}

/* All matches of f over offers[0..n) in order; returns the count. */
static size_t bf_query(struct bf_row *out, const struct offer *offers, size_t n,
		       const struct filter *f, const struct filter_sort *s)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (!bf_match(f, &offers[i]))
			continue;
		struct bf_row *r = &out[m++];
		u256 num, den, rem;
		r->o = &offers[i];
		r->known = bf_value(&num, &den, &offers[i], filter_fields[s->field].name);
		if (r->known) {
			assert_int_equal(u256_divmod(&r->fl, &rem, &num, &den), 0);
			r->frac = !u256_is_zero(&rem);
		}
	}
	bf_desc = s->desc;
	qsort(out, m, sizeof *out, bf_cmp);
	return m;
}

/* ---- random filters ---- */

static void fmt_fixed(char *out, uint64_t v, unsigned places)
{
	uint64_t p = 1;
	for (unsigned i = 0; i < places; i++)
		p *= 10;
	if (places == 0 || (v % p == 0 && rn(2))) {
		sprintf(out, "%llu", (unsigned long long)(v / p));
		return;
	}
	sprintf(out, "%llu.%0*llu", (unsigned long long)(v / p), (int)places,
		(unsigned long long)(v % p));
	if (rn(2)) /* trim trailing zeros sometimes */
		for (size_t k = strlen(out); out[k - 1] == '0' || out[k - 1] == '.'; k--) {
			bool dot = out[k - 1] == '.';
			out[k - 1] = 0;
			if (dot)
				break;
		}
}

/* A value for field fd near a real offer's value (boundaries), as text. */
static void random_value(char *out, const struct filter_field *fd, const struct offer *o)
{
	char buf[64];
	if (fd->type == FT_STR) {
		char tmp[OFFER_STR_MAX];
		snprintf(buf, sizeof buf, "%s", bf_str(tmp, o, fd->name));
		if (fd->col == OSTR_IMAGES && buf[0]) /* one name of the set */
			buf[strcspn(buf, ",")] = '\0';
		if (fd->col == OSTR_ISOLATION && rn(3) == 0)
			strcpy(buf, strcmp(buf, "account") == 0 ? "container" : "account");
		if (fd->col == OSTR_GPU && rn(2)) { /* a family: some words of it, or a look-alike */
			static const char *const fam[] = { "a100", "RTX", "4090", "rtx-4090", "80GB", "A10", "nvidia_a100",
							   "sxm4_40gb", "GeForce_RTX", "100" };
			strcpy(buf, PICK(fam));
		}
		if (fd->col == OSTR_TOKEN && rn(3) == 0)
			strcpy(buf, "usdc");
		if (buf[0] == 0 || rn(8) == 0)
			strcpy(buf, fd->col == OSTR_COUNTRY ? "ZZ" : fd->col == OSTR_PROVIDER ?
			       "0x0000000000000000000000000000000000000001" : fd->col == OSTR_ISOLATION ? "container" : "nosuch");
		for (char *p = buf; *p; p++)
			if (rn(2))
				*p = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : (*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
		strcpy(out, buf);
		return;
	}
	if (fd->type == FT_BOOL) {
		static const char *const b[] = { "true", "false", "1", "0", "yes", "NO" };
		strcpy(out, PICK(b));
		return;
	}
	int64_t key = offer_col_key(o, (enum offer_col)fd->col);
	uint64_t v = key == OFFER_KEY_UNKNOWN ? rn(2000000) : (uint64_t)key / 2 + (key & 1);
	switch (rn(4)) {
	case 0: if (v > 0) v--; break;
	case 1: v++; break;
	default: break;
	}
	if ((int64_t)v > fd->max)
		v = (uint64_t)fd->max;
	if (fd->type == FT_VERSION) {
		if (fd->places == 2)
			sprintf(out, "%llu.%llu", (unsigned long long)(v / 100), (unsigned long long)(v % 100));
		else
			sprintf(out, "%llu.%llu.%llu", (unsigned long long)(v / 1000000),
				(unsigned long long)(v / 1000 % 1000), (unsigned long long)(v % 1000));
		return;
	}
	fmt_fixed(out, v, fd->type == FT_DEC ? fd->places : 0);
}

static void random_filter(char *out, const struct offer *offers, size_t n)
{
	static const char *const ops[] = { "=", "!=", "<", "<=", ">", ">=" };
	unsigned nc = (unsigned)rn(6);
	out[0] = 0;
	for (unsigned k = 0; k < nc; k++) {
		const struct filter_field *fd = &filter_fields[rn(filter_field_count)];
		int op = (int)rn(6);
		if (fd->type == FT_STR || fd->type == FT_BOOL)
			op = (int)rn(2);
		char *p = out + strlen(out);
		p += sprintf(p, rn(4) ? "%s%s" : "%s %s ", fd->name, ops[op]);
		unsigned nv = op <= FOP_NE && rn(3) == 0 ? 2 + (unsigned)rn(3) : 1;
		for (unsigned i = 0; i < nv; i++) {
			if (i)
				*p++ = ',';
			random_value(p, fd, &offers[rn(n)]);
			p += strlen(p);
		}
		strcpy(p, " ");
	}
}

/* ---- harness ---- */

struct model {
	struct offer *o;    /* what the index should hold */
	size_t n, cap;
};

static void model_put(struct model *m, struct search_index *ix, const struct offer *in)
{
	struct err e = { 0 };
	struct offer d = *in, *o = &d;
	if (search_index_put(ix, in, &e) != 0)
		fail_msg("seed %llu: put: %s", (unsigned long long)seed_used, e.msg);
	/* derived copy: filter_match and the value hints read derived fields */
	assert_int_equal(offer_derive(&d, NULL), 0);
	for (size_t i = 0; i < m->n; i++)
		if (!memcmp(m->o[i].id32, o->id32, 32)) {
			m->o[i] = *o;
			return;
		}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 1024;
		m->o = realloc(m->o, m->cap * sizeof *m->o);
		assert_non_null(m->o);
	}
	m->o[m->n++] = *o;
}

static void check_query(struct search_index *ix, struct model *m, struct bf_row *rows,
			const char *text, const struct filter_sort *s, uint32_t limit,
			uint32_t offset, int iter)
{
	struct filter f;
	struct err e = { 0 };
	struct search_result res;
	struct search_page pg = { limit, offset, NULL };
	if (filter_parse(&f, text, strlen(text), NULL, &e) != 0)
		fail_msg("seed %llu iter %d: generated filter '%s' rejected: %s",
			 (unsigned long long)seed_used, iter, text, e.msg);
	size_t want = bf_query(rows, m->o, m->n, &f, s);
	/* the library's one-offer evaluator agrees with the brute force */
	for (size_t i = 0; i < m->n; i++)
		if (filter_match(&f, &m->o[i], NOW) != bf_match(&f, &m->o[i]))
			fail_msg("seed %llu iter %d: filter_match disagrees on offer %zu for '%s'",
				 (unsigned long long)seed_used, iter, i, text);
	if (search_query(&res, ix, &f, s, &pg, NOW, &e) != 0)
		fail_msg("seed %llu iter %d: query: %s", (unsigned long long)seed_used, iter, e.msg);
	stat_total[want == 0 ? 0 : want == m->n ? 2 : 1]++;
	size_t exp_n = want > offset ? want - offset : 0;
	if (exp_n > limit)
		exp_n = limit;
	if (res.total != want || res.n != exp_n)
		fail_msg("seed %llu iter %d: '%s' sort %s%s: total %zu n %zu, brute force %zu %zu",
			 (unsigned long long)seed_used, iter, text, s->desc ? "-" : "",
			 filter_fields[s->field].name, res.total, res.n, want, exp_n);
	for (size_t i = 0; i < res.n; i++)
		if (memcmp(res.offers[i].id32, rows[offset + i].o->id32, 32) != 0)
			fail_msg("seed %llu iter %d: '%s' sort %s%s offset %u: row %zu differs",
				 (unsigned long long)seed_used, iter, text, s->desc ? "-" : "",
				 filter_fields[s->field].name, offset, i);
	assert_int_equal(res.next_cursor[0] != 0, offset + res.n < want);

	/* walk the rest with the cursor: the pages concatenate to the brute force */
	size_t at = offset + res.n;
	char cursor[SEARCH_CURSOR_MAX];
	strcpy(cursor, res.next_cursor);
	search_result_release(&res);
	for (int pages = 0; cursor[0] && pages < 3; pages++) {
		struct search_page p2 = { limit, 0, cursor };
		if (search_query(&res, ix, &f, s, &p2, NOW, &e) != 0)
			fail_msg("seed %llu iter %d: cursor query: %s", (unsigned long long)seed_used, iter, e.msg);
		assert_int_equal(res.total, want);
		for (size_t i = 0; i < res.n; i++)
			if (memcmp(res.offers[i].id32, rows[at + i].o->id32, 32) != 0)
				fail_msg("seed %llu iter %d: '%s' cursor page row %zu differs",
					 (unsigned long long)seed_used, iter, text, at + i);
		at += res.n;
		assert_int_equal(res.next_cursor[0] != 0, at < want);
		strcpy(cursor, res.next_cursor);
		search_result_release(&res);
	}
}

static void test_property(void **state)
{
	struct search_index *ix;
	struct model m = { NULL, 0, 0 };
	struct bf_row *rows;
	char text[FILTER_TEXT_MAX + 256];
	const int n_offers = 3000, n_queries = 3000;
	(void)state;
	seed_init();
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 20; j++)
			providers[i][j] = (uint8_t)rnd();
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 8; j++)
			id_prefixes[i][j] = (uint8_t)rnd();
	assert_int_equal(search_index_new(&ix, 10000, NULL), 0);
	for (int i = 0; i < n_offers; i++) {
		struct offer o;
		random_offer(&o);
		model_put(&m, ix, &o);
	}
	rows = calloc(10000, sizeof *rows);
	assert_non_null(rows);
	for (int q = 0; q < n_queries; q++) {
		struct filter_sort s;
		do
			s.field = (uint8_t)rn(filter_field_count);
		while (!filter_fields[s.field].sortable);
		s.desc = rn(2);
		random_filter(text, m.o, m.n);
		uint32_t limit = (uint32_t)(rn(3) ? 1 + rn(40) : 1 + rn(SEARCH_LIMIT_MAX));
		uint32_t offset = (uint32_t)(rn(2) ? 0 : rn(60));
		check_query(ix, &m, rows, text, &s, limit, offset, q);
		if (q % 50 == 49) { /* mutate: update, remove, add */
			for (int k = 0; k < 20 && m.n > 0; k++) {
				size_t i = rn(m.n);
				struct offer o;
				random_offer(&o);
				memcpy(o.id32, m.o[i].id32, 32);
				model_put(&m, ix, &o);
			}
			for (int k = 0; k < 30 && m.n > 0; k++) {
				size_t i = rn(m.n);
				assert_int_equal(search_index_remove(ix, m.o[i].id32, NULL), 0);
				m.o[i] = m.o[--m.n];
			}
			for (int k = 0; k < 30; k++) {
				struct offer o;
				random_offer(&o);
				model_put(&m, ix, &o);
			}
			assert_int_equal(search_index_count(ix), m.n);
		}
	}
	print_message("search property: seed %llu, %d queries (%zu match none, %zu some, %zu all), "
		      "%zu offers at the end\n", (unsigned long long)seed_used, n_queries,
		      stat_total[0], stat_total[1], stat_total[2], m.n);
	free(rows);
	free(m.o);
	search_index_free(ix);
}

/* ---- directed tests ---- */

static struct offer simple_offer(uint8_t id0, uint64_t rate_micro_usdc)
{
	struct offer o;
	memset(&o, 0, sizeof o);
	o.id32[0] = id0;
	memcpy(o.country, "DE", 3);
	strcpy(o.gpu_model, "RTX_4090");
	strcpy(o.token_symbol, "USDC");
	o.num_gpus = 1;
	o.vram_mib = 24576;
	o.tflops32_milli = 82580;
	o.rate_per_hour = u256_from_u64(rate_micro_usdc);
	o.token_decimals = 6;
	o.token_usd_micro = 1000000;
	o.expires_at = NOW + 100;
	return o;
}

static void query(struct search_result *r, struct search_index *ix, const char *ftext,
		  const char *sort, uint32_t limit, uint32_t offset, const char *cursor)
{
	struct filter f;
	struct filter_sort s;
	struct search_page p = { limit, offset, cursor };
	struct err e = { 0 };
	assert_int_equal(filter_parse(&f, ftext, strlen(ftext), NULL, &e), 0);
	assert_int_equal(filter_sort_parse(&s, sort, &e), 0);
	if (search_query(r, ix, &f, &s, &p, NOW, &e) != 0)
		fail_msg("query: %s", e.msg);
}

static void test_crud_and_ties(void **state)
{
	struct search_index *ix;
	struct search_result r;
	struct offer o, got;
	struct err e = { 0 };
	(void)state;
	assert_int_equal(search_index_new(&ix, 5, &e), 0);
	/* ids 5,4,3,2,1 all at the same price: ties break by id ascending */
	for (uint8_t i = 5; i >= 1; i--) {
		o = simple_offer(i, 500000);
		assert_int_equal(search_index_put(ix, &o, &e), 0);
	}
	assert_int_equal(search_index_count(ix), 5);
	query(&r, ix, "price<=0.5", "-price", 10, 0, NULL);
	assert_int_equal(r.total, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(r.offers[i].id32[0], i + 1);
	assert_string_equal(r.next_cursor, "");
	search_result_release(&r);
	/* derived fields come back */
	assert_int_equal(search_index_get(ix, &got, o.id32, &e), 0);
	assert_int_equal(got.renter_usd_micro, 500000);
	/* full: the sixth distinct id is refused, an update is not */
	o = simple_offer(6, 1);
	assert_int_equal(search_index_put(ix, &o, &e), ERR_TOO_BIG);
	assert_non_null(strstr(e.msg, "index full"));
	o = simple_offer(3, 100000);
	assert_int_equal(search_index_put(ix, &o, &e), 0);
	query(&r, ix, "", "price", 2, 0, NULL);
	assert_int_equal(r.offers[0].id32[0], 3);
	assert_int_equal(r.offers[1].id32[0], 1);
	assert_true(r.next_cursor[0] != 0);
	search_result_release(&r);
	/* a bad offer changes nothing */
	o = simple_offer(3, 100000);
	o.num_gpus = 0;
	assert_int_equal(search_index_put(ix, &o, &e), ERR_RANGE);
	assert_int_equal(search_index_get(ix, &got, o.id32, &e), 0);
	assert_int_equal(got.num_gpus, 1);
	/* remove */
	assert_int_equal(search_index_remove(ix, o.id32, &e), 0);
	assert_int_equal(search_index_remove(ix, o.id32, &e), ERR_NOT_FOUND);
	assert_int_equal(search_index_get(ix, &got, o.id32, &e), ERR_NOT_FOUND);
	assert_int_equal(search_index_count(ix), 4);
	query(&r, ix, "gpu=rtx_4090", "price", 10, 0, NULL);
	assert_int_equal(r.total, 4);
	search_result_release(&r);
	/* unknown values match nothing / exclude nothing */
	query(&r, ix, "gpu=nosuch", "price", 10, 0, NULL);
	assert_int_equal(r.total, 0);
	assert_null(r.offers);
	search_result_release(&r);
	query(&r, ix, "gpu!=nosuch", "price", 10, 0, NULL);
	assert_int_equal(r.total, 4);
	search_result_release(&r);
	/* offset past the end */
	query(&r, ix, "", "price", 10, 100, NULL);
	assert_int_equal(r.total, 4);
	assert_int_equal(r.n, 0);
	search_result_release(&r);
	search_result_release(NULL);
	search_index_free(ix);
	search_index_free(NULL);
}

static void test_unknown_price_order(void **state)
{
	struct search_index *ix;
	struct search_result r;
	struct offer o;
	(void)state;
	assert_int_equal(search_index_new(&ix, 100, NULL), 0);
	o = simple_offer(1, 300000);
	assert_int_equal(search_index_put(ix, &o, NULL), 0);
	o = simple_offer(2, 100000);
	o.token_usd_micro = 0; /* unknown */
	assert_int_equal(search_index_put(ix, &o, NULL), 0);
	o = simple_offer(3, 200000);
	assert_int_equal(search_index_put(ix, &o, NULL), 0);
	/* unknown last in both directions */
	query(&r, ix, "", "price", 10, 0, NULL);
	assert_int_equal(r.offers[0].id32[0], 3);
	assert_int_equal(r.offers[1].id32[0], 1);
	assert_int_equal(r.offers[2].id32[0], 2);
	search_result_release(&r);
	query(&r, ix, "", "-price", 10, 0, NULL);
	assert_int_equal(r.offers[0].id32[0], 1);
	assert_int_equal(r.offers[1].id32[0], 3);
	assert_int_equal(r.offers[2].id32[0], 2);
	search_result_release(&r);
	/* a price filter drops it, others keep it */
	query(&r, ix, "price>=0", "price", 10, 0, NULL);
	assert_int_equal(r.total, 2);
	search_result_release(&r);
	query(&r, ix, "token_price<=0.1", "price", 10, 0, NULL);
	assert_int_equal(r.total, 1);
	assert_int_equal(r.offers[0].id32[0], 2);
	search_result_release(&r);
	search_index_free(ix);
}

/* A payload that counts its references (the server's rendered offer views behave so). */
struct counted {
	int refs;
	int id;
};

static void counted_retain(void *p) { ((struct counted *)p)->refs++; }
static void counted_release(void *p) { ((struct counted *)p)->refs--; }

static void test_payloads(void **state)
{
	static const struct search_payload_ops ops = { counted_retain, counted_release };
	struct counted a = { 1, 1 }, b = { 1, 2 }, c = { 1, 3 };
	struct search_index *ix;
	struct search_result r = { 0 };
	struct search_page page = { 10, 0, NULL };
	struct filter f;
	struct filter_sort s;
	struct offer o1 = simple_offer(1, 100000), o2 = simple_offer(2, 200000), got;
	void *p = NULL;
	(void)state;
	assert_int_equal(search_index_new(&ix, 100, NULL), 0);
	search_index_set_payload_ops(ix, &ops);
	assert_int_equal(search_index_put_payload(ix, &o1, &a, NULL), 0);
	assert_int_equal(search_index_put_payload(ix, &o2, &b, NULL), 0);
	assert_int_equal(a.refs, 1); /* the index holds the one reference it was given */
	/* a page holds its payloads until released, even when the row is replaced meanwhile */
	assert_int_equal(filter_parse(&f, "", 0, NULL, NULL), 0);
	assert_int_equal(filter_sort_parse(&s, "price", NULL), 0);
	assert_int_equal(search_query(&r, ix, &f, &s, &page, NOW, NULL), 0);
	assert_int_equal(r.n, 2);
	assert_ptr_equal(r.payloads[0], &a);
	assert_ptr_equal(r.payloads[1], &b);
	assert_int_equal(a.refs, 2);
	assert_int_equal(search_index_put_payload(ix, &o1, &c, NULL), 0); /* replaces a */
	assert_int_equal(a.refs, 1);
	search_result_release(&r);
	assert_int_equal(a.refs, 0);
	assert_int_equal(b.refs, 1);
	assert_null(r.payloads);
	/* lookup hands out a reference */
	assert_int_equal(search_index_lookup(ix, &got, &p, o1.id32, NULL), 0);
	assert_ptr_equal(p, &c);
	assert_int_equal(c.refs, 2);
	assert_memory_equal(got.id32, o1.id32, 32);
	counted_release(p);
	assert_int_equal(search_index_lookup(ix, NULL, &p, (const uint8_t[32]){ 9 }, NULL), ERR_NOT_FOUND);
	/* removal and free release the index's references */
	assert_int_equal(search_index_remove(ix, o2.id32, NULL), 0);
	assert_int_equal(b.refs, 0);
	assert_true(search_index_bytes(ix) > 0);
	search_index_free(ix);
	assert_int_equal(c.refs, 0);
}

/*
 * A range clause covering every key its column ever held excludes nothing and is not scanned; the
 * bounds widen with each write, so a later offer outside them is still filtered.
 */
static void test_covering_range(void **state)
{
	struct search_index *ix;
	struct search_result r;
	(void)state;
	assert_int_equal(search_index_new(&ix, 100, NULL), 0);
	for (uint8_t i = 1; i <= 4; i++) {
		struct offer o = simple_offer(i, 100000u * i);
		o.num_gpus = 2 + i % 2;
		assert_int_equal(search_index_put(ix, &o, NULL), 0);
	}
	query(&r, ix, "num_gpus>=2", "price", 10, 0, NULL);
	assert_int_equal(r.total, 4);
	search_result_release(&r);
	query(&r, ix, "num_gpus>=2 num_gpus<=3 price<=0.25", "price", 10, 0, NULL);
	assert_int_equal(r.total, 2);
	search_result_release(&r);
	struct offer one = simple_offer(9, 50000);
	one.num_gpus = 1;
	assert_int_equal(search_index_put(ix, &one, NULL), 0);
	query(&r, ix, "num_gpus>=2", "price", 10, 0, NULL);
	assert_int_equal(r.total, 4); /* the new offer is outside the old bounds: filtered, not passed */
	search_result_release(&r);
	query(&r, ix, "num_gpus>=1", "price", 10, 0, NULL);
	assert_int_equal(r.total, 5);
	search_result_release(&r);
	search_index_free(ix);
}

static void test_page_errors(void **state)
{
	struct search_index *ix;
	struct search_result r = { .total = 7 }, before;
	struct filter f;
	struct filter_sort s, s2;
	struct err e = { 0 };
	(void)state;
	assert_int_equal(search_index_new(&ix, 100, NULL), 0);
	for (uint8_t i = 1; i <= 10; i++) {
		struct offer o = simple_offer(i, 100000u * i);
		assert_int_equal(search_index_put(ix, &o, NULL), 0);
	}
	assert_int_equal(filter_parse(&f, "", 0, NULL, NULL), 0);
	assert_int_equal(filter_sort_parse(&s, "price", NULL), 0);
	assert_int_equal(filter_sort_parse(&s2, "-price", NULL), 0);
	before = r;
	static const struct {
		uint32_t limit, offset;
		const char *cursor;
		int code;
		const char *needle;
	} bad[] = {
		{ 0, 0, NULL, ERR_RANGE, "limit 0" },
		{ SEARCH_LIMIT_MAX + 1, 0, NULL, ERR_RANGE, "limit 1001" },
		{ 10, SEARCH_OFFSET_MAX + 1, NULL, ERR_RANGE, "use the cursor" },
		{ 10, 0, "zz", ERR_INVALID, "malformed cursor" },
		{ 10, 0, "00", ERR_INVALID, "malformed cursor" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct search_page p = { bad[i].limit, bad[i].offset, bad[i].cursor };
		int rc = search_query(&r, ix, &f, &s, &p, NOW, &e);
		if (rc != bad[i].code || !strstr(e.msg, bad[i].needle))
			fail_msg("page case %zu: rc %d msg '%s'", i, rc, e.msg);
		assert_memory_equal(&r, &before, sizeof r);
	}
	/* the caps themselves are fine */
	struct search_page p = { SEARCH_LIMIT_MAX, SEARCH_OFFSET_MAX, NULL };
	assert_int_equal(search_query(&r, ix, &f, &s, &p, NOW, &e), 0);
	assert_int_equal(r.n, 0);
	search_result_release(&r);
	/* a cursor is tied to its sort and to offset 0 */
	p = (struct search_page){ 3, 0, NULL };
	assert_int_equal(search_query(&r, ix, &f, &s, &p, NOW, &e), 0);
	char cur[SEARCH_CURSOR_MAX];
	strcpy(cur, r.next_cursor);
	assert_int_equal(strlen(cur), 86);
	search_result_release(&r);
	p = (struct search_page){ 3, 0, cur };
	assert_int_equal(search_query(&r, ix, &f, &s2, &p, NOW, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "different sort"));
	p = (struct search_page){ 3, 1, cur };
	assert_int_equal(search_query(&r, ix, &f, &s, &p, NOW, &e), ERR_INVALID);
	/* the cursor survives removal of the offer it points at */
	uint8_t id[32] = { 3 };
	assert_int_equal(search_index_remove(ix, id, NULL), 0);
	p = (struct search_page){ 3, 0, cur };
	assert_int_equal(search_query(&r, ix, &f, &s, &p, NOW, &e), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.offers[0].id32[0], 4);
	search_result_release(&r);
	/* expired offers are invisible */
	struct search_page p2 = { 10, 0, NULL };
	assert_int_equal(search_query(&r, ix, &f, &s, &p2, NOW + 100, &e), 0);
	assert_int_equal(r.total, 0);
	search_result_release(&r);
	assert_int_equal(search_index_new(&ix, 0, &e), ERR_RANGE); /* ix untouched on error */
	search_index_free(ix);
}

/* Readers query while a writer churns; nothing may crash or tear. */
struct thr { struct search_index *ix; int stop; int queries; };

static void *reader(void *arg)
{
	struct thr *t = arg;
	struct filter f;
	struct filter_sort s;
	struct search_page p = { 20, 0, NULL };
	(void)filter_parse(&f, "gpu=rtx_4090 price<=1", 21, NULL, NULL);
	(void)filter_sort_parse(&s, "-price", NULL);
	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
		struct search_result r;
		if (search_query(&r, t->ix, &f, &s, &p, NOW, NULL) == 0) {
			for (size_t i = 1; i < r.n; i++)
				if (r.offers[i].renter_usd_micro > r.offers[i - 1].renter_usd_micro)
					abort();
			search_result_release(&r);
		}
		__atomic_add_fetch(&t->queries, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct thr t = { NULL, 0, 0 };
	pthread_t th[4];
	(void)state;
	assert_int_equal(search_index_new(&t.ix, 2000, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &t), 0);
	for (int k = 0; k < 20000; k++) {
		struct offer o = simple_offer((uint8_t)(k % 251), 1000 + (uint64_t)k % 2000000);
		o.id32[1] = (uint8_t)(k % 7);
		if (k % 3 == 2)
			(void)search_index_remove(t.ix, o.id32, NULL);
		else
			assert_int_equal(search_index_put(t.ix, &o, NULL), 0);
	}
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(t.queries > 0);
	search_index_free(t.ix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crud_and_ties),
		cmocka_unit_test(test_unknown_price_order),
		cmocka_unit_test(test_page_errors),
		cmocka_unit_test(test_payloads),
		cmocka_unit_test(test_covering_range),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_property),
	};
	return cmocka_run_group_tests_name("search", tests, NULL, NULL);
}
