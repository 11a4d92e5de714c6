/*
 * fuzz_filter.c — libFuzzer target for the offer filter parser and the
 * sort-spec parser (src/market/filter.c).
 *
 * Properties checked beyond "no crash / no sanitizer report": a rejected
 * input leaves the output untouched and names an offset inside the text
 * (or the cap) with a non-empty "filter: " message; an accepted filter
 * respects every cap and can be evaluated against an offer and run through
 * a small index without error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "market/filter.h"
#include "market/search.h"

static struct search_index *ix;

static void setup(void)
{
	struct offer o;
	if (ix)
		return;
	if (search_index_new(&ix, 16, NULL) != 0)
		abort();
	memset(&o, 0, sizeof o);
	memcpy(o.country, "DE", 3);
	strcpy(o.gpu_model, "RTX_4090");
	strcpy(o.token_symbol, "USDC");
	o.num_gpus = 2;
	o.vram_mib = 24564;
	o.tflops32_milli = 82580;
	o.rate_per_hour = u256_from_u64(800000);
	o.token_decimals = 6;
	o.token_usd_micro = 1000000;
	o.expires_at = 2;
	for (int i = 0; i < 4; i++) {
		o.id32[0] = (uint8_t)i;
		o.reliability_bps = (uint16_t)(9000 + i * 300);
		if (search_index_put(ix, &o, NULL) != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct filter f, before;
	struct err e = { 0 };
	size_t off = (size_t)-1;
	setup();
	memset(&f, 0x5a, sizeof f);
	before = f;
	int rc = filter_parse(&f, (const char *)data, size, &off, &e);
	if (rc != 0) {
		if (rc >= 0 || e.msg[0] == 0 || strncmp(e.msg, "filter: ", 8) != 0)
			abort();
		if (off > size || memcmp(&f, &before, sizeof f) != 0)
			abort();
	} else {
		if (f.nclauses > FILTER_CLAUSES_MAX || f.nvals > FILTER_VALUES_MAX)
			abort();
		for (uint32_t i = 0; i < f.nclauses; i++)
			if (f.clauses[i].nvals < 1 || f.clauses[i].nvals > FILTER_LIST_MAX ||
			    f.clauses[i].offset >= size || f.clauses[i].field >= filter_field_count)
				abort();
		struct filter_sort s = { 0, false };
		struct search_page p = { 10, 0, NULL };
		struct search_result r;
		if (filter_sort_parse(&s, "-price", NULL) != 0)
			abort();
		if (search_query(&r, ix, &f, &s, &p, 1, &e) != 0)
			abort();
		size_t want = 0;
		for (uint8_t i = 0; i < 4; i++) {
			struct offer o;
			uint8_t id[32] = { i };
			if (search_index_get(ix, &o, id, NULL) != 0)
				abort();
			want += filter_match(&f, &o, 1);
		}
		if (r.total != want)
			abort();
		search_result_release(&r);
	}
	/* the same bytes as a sort spec (NUL-terminated copy, capped) */
	char sort[FILTER_SORT_TEXT_MAX + 2];
	size_t n = size < sizeof sort - 1 ? size : sizeof sort - 1;
	memcpy(sort, data, n);
	sort[n] = 0;
	struct filter_sort s2 = { 3, true }, s2b = s2;
	if (filter_sort_parse(&s2, sort, &e) != 0 && memcmp(&s2, &s2b, sizeof s2) != 0)
		abort();
	return 0;
}
