/*
 * filter.h — the offer search language: filter clauses and sort keys.
 *
 *   gpu=RTX_4090 num_gpus>=2 vram>=24 price<=0.80 reliability>=0.98
 *   country=DE,NL interruptible=false cuda>=12.2
 *
 * A filter is whitespace-separated clauses `field OP value`, all of which
 * must hold (AND). OPs: = != < <= > >=; `=a,b,c` means "any of", `!=a,b`
 * "none of". Spaces around the operator are allowed (`vram >= 24`). Field
 * names come from a fixed table (filter_fields), each with a type:
 *   int      non-negative integer
 *   dec(N)   fixed-point decimal with at most N significant fractional
 *            digits (extra trailing zeros are fine); compared exactly
 *   version  major.minor[.patch] (cuda: 2 parts, driver: 3 parts)
 *   bool     true/false/yes/no/1/0
 *   string   per-field charset; compared case-insensitively
 * No floating point anywhere: values become integers in the field's
 * fixed-point unit and offers are compared through offer_col_key.
 * An offer whose value for a numeric field is unknown (price with no USD
 * rate, price_per_tflop with no TFLOPS) matches no clause on that field,
 * not even `!=`.
 *
 * The parser takes bytes and touches nothing else (fuzzed by
 * tests/fuzz/fuzz_filter.c). Caps: FILTER_TEXT_MAX bytes, FILTER_CLAUSES_MAX
 * clauses, FILTER_LIST_MAX values per list. Errors name the problem, the
 * clause text and the byte offset of the offending token, e.g.
 *   filter: unknown field 'vrm' at offset 18 in 'vrm>=24' (did you mean 'vram'?)
 * The reference language description is docs/search.md.
 */
#ifndef FLOP_MARKET_FILTER_H
#define FLOP_MARKET_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "market/offer.h"

struct err;

#define FILTER_TEXT_MAX 1024     /* bytes of filter text */
#define FILTER_CLAUSES_MAX 32    /* clauses per filter */
#define FILTER_LIST_MAX 32       /* values in one `=a,b,c` list */
#define FILTER_VALUES_MAX 256    /* values over all clauses */
#define FILTER_VALUE_MAX 1000000000000000ll /* 1e15 in fixed-point units */
#define FILTER_SORT_TEXT_MAX 64  /* bytes of a sort spec */

enum filter_type { FT_INT, FT_DEC, FT_VERSION, FT_BOOL, FT_STR };
enum filter_op { FOP_EQ, FOP_NE, FOP_LT, FOP_LE, FOP_GT, FOP_GE };

/* One row of the field table. */
struct filter_field {
	const char *name;   /* lower-case field name */
	uint8_t type;       /* enum filter_type */
	uint8_t places;     /* FT_DEC: fractional digits; FT_VERSION: parts */
	uint8_t col;        /* enum offer_col (numeric) or enum offer_str (FT_STR) */
	bool sortable;      /* usable as a sort key */
	int64_t max;        /* largest value accepted, fixed-point units */
	const char *unit;   /* for messages and docs */
};

extern const struct filter_field filter_fields[];
extern const size_t filter_field_count;

/* A parsed value: number in the field's fixed-point unit, or a string. */
struct filter_value {
	int64_t num;        /* FT_INT/DEC/VERSION/BOOL: the value (0..FILTER_VALUE_MAX) */
	uint16_t str_off;   /* FT_STR: offset of the lower-cased, NUL-ended copy in strs */
	uint16_t str_len;   /* FT_STR: its length */
};

struct filter_clause {
	uint8_t field;      /* index into filter_fields */
	uint8_t op;         /* enum filter_op */
	uint16_t offset;    /* byte offset of the clause in the text */
	uint16_t first;     /* index of the first value in filter.vals */
	uint16_t nvals;     /* 1, or the list length for = / != */
};

/* A parsed filter; self-contained (no pointers), caller-owned. */
struct filter {
	uint32_t nclauses;
	uint32_t nvals;
	struct filter_clause clauses[FILTER_CLAUSES_MAX];
	struct filter_value vals[FILTER_VALUES_MAX];
	uint32_t strs_len;
	char strs[FILTER_TEXT_MAX + 2];  /* string values, NUL-separated */
};

/* A sort key: a sortable numeric field, ascending or descending. */
struct filter_sort {
	uint8_t field;      /* index into filter_fields */
	bool desc;          /* `-field` */
};

/*
 * Parses `len` bytes of `text` (NUL not needed) into *out. Empty or
 * all-blank text is a valid filter matching every live offer.
 * On error returns ERR_INVALID (bad syntax/value), ERR_RANGE (number above
 * the field's max) or ERR_TOO_BIG (a cap), writes the byte offset of the
 * offending token to *err_off when not NULL, and leaves *out untouched.
 */
int filter_parse(struct filter *out, const char *text, size_t len,
		 size_t *err_off, struct err *e);

/*
 * Parses a sort spec `field` or `-field` (`+field` also ascending); NULL or
 * "" is the default, `price` ascending. ERR_INVALID names the field.
 */
int filter_sort_parse(struct filter_sort *out, const char *text, struct err *e);

/* Index of field `name` (len bytes, case-insensitive), or -1. */
int filter_field_find(const char *name, size_t len);

/*
 * Turns a non-list clause on a numeric field into the inclusive key range
 * [*lo, *hi] of offer_col_key values it accepts (*lo > *hi: none). For
 * FOP_NE the range is every known key and the caller excludes 2*value.
 */
void filter_clause_range(const struct filter *f, const struct filter_clause *c,
			 int64_t *lo, int64_t *hi);

/* The string value i of clause c (lower case, NUL-terminated). */
const char *filter_value_str(const struct filter *f, const struct filter_clause *c,
			     unsigned i);

/*
 * The reference evaluator: true when the live offer `o` (derived) passes
 * every clause and now < o->expires_at. One offer at a time; the index
 * (search.h) must agree with it on every offer.
 */
bool filter_match(const struct filter *f, const struct offer *o, int64_t now);

#endif
