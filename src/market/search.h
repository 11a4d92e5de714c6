/*
 * search.h — the offer index: add/update/remove offers by id and run a
 * parsed filter + sort + page over them.
 *
 * Layout: offers are kept twice — as whole records (copied into results)
 * and as columns (struct of arrays) of offer_col_key values and interned
 * string ids, so a query is a tight integer scan: each clause narrows a
 * selection vector of row numbers, string equality is an integer compare.
 * The page is then picked with a bounded heap (top offset+limit) instead of
 * sorting every match. Order is (sort key, offer id) so ties are broken the
 * same way every time and paging is deterministic. Offers whose sort value
 * is unknown come last in both directions.
 *
 * Results agree exactly with filter_match (the one-offer reference) plus
 * that order; tests/unit/test_search.c checks it against a brute force.
 *
 * Threads: any number of concurrent search_query calls; put/remove take a
 * writer lock (pthread rwlock). Results are copies, valid after unlock.
 *
 * Payloads: each row may carry one caller-owned payload (the server keeps an
 * offer's rendered JSON view there), reference-counted through the ops set
 * with search_index_set_payload_ops: the index holds one reference per row,
 * and every page or lookup that hands a payload out holds another, so a row
 * replaced or removed while a reader still uses its payload stays valid.
 *
 * Caps: max_offers rows; SEARCH_LIMIT_MAX per page; SEARCH_OFFSET_MAX for
 * offset paging (use the cursor beyond); SEARCH_DICT_MAX distinct strings
 * per string column (interned strings are never freed).
 */
#ifndef FLOP_MARKET_SEARCH_H
#define FLOP_MARKET_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "market/filter.h"
#include "market/offer.h"

struct err;
struct search_index;

#define SEARCH_LIMIT_MAX 1000
#define SEARCH_OFFSET_MAX 10000
#define SEARCH_OFFERS_MAX 10000000
#define SEARCH_DICT_MAX (1u << 20)
#define SEARCH_CURSOR_MAX 88 /* 86 hex digits + NUL, see search_query */

/* Which page to return. */
struct search_page {
	uint32_t limit;      /* 1..SEARCH_LIMIT_MAX offers */
	uint32_t offset;     /* matches to skip, 0..SEARCH_OFFSET_MAX (0 with a cursor) */
	const char *cursor;  /* NULL/"", or next_cursor of the previous page */
};

/* One page of results; owned by the caller, freed by search_result_release. */
struct search_result {
	size_t total;        /* offers that match the filter (before paging) */
	size_t n;            /* offers in this page */
	struct offer *offers;  /* n copies in order; NULL when n == 0 */
	void **payloads;       /* n payloads (retained; entries may be NULL), or NULL without payload ops */
	void (*release)(void *payload); /* how search_result_release drops them */
	char next_cursor[SEARCH_CURSOR_MAX]; /* "" when this is the last page */
};

/* How the index keeps a reference to a row's payload. */
struct search_payload_ops {
	void (*retain)(void *payload);
	void (*release)(void *payload);
};

/*
 * Creates an empty index for at most `max_offers` (1..SEARCH_OFFERS_MAX)
 * offers into *out. ERR_NOMEM, ERR_RANGE.
 */
int search_index_new(struct search_index **out, size_t max_offers, struct err *e);

/* Frees the index and everything in it; NULL allowed. No query may run. */
void search_index_free(struct search_index *ix);

/*
 * Adds `o` or replaces the offer with the same id32. The offer is checked
 * and derived (offer_derive) first; on any error nothing changes.
 * ERR_TOO_BIG when the index is full or a string dictionary is.
 */
int search_index_put(struct search_index *ix, const struct offer *o, struct err *e);

/*
 * Sets how payloads are retained and released (once, before the first put with a payload). Without ops
 * payloads are plain pointers the index never frees.
 */
void search_index_set_payload_ops(struct search_index *ix, const struct search_payload_ops *ops);

/*
 * search_index_put that also stores `payload` with the row (the index takes over one reference on
 * success; on error the caller keeps it). The row's previous payload is released.
 */
int search_index_put_payload(struct search_index *ix, const struct offer *o, void *payload, struct err *e);

/* Removes the offer with id32; ERR_NOT_FOUND when absent. */
int search_index_remove(struct search_index *ix, const uint8_t id32[32], struct err *e);

/* Copies the offer with id32 into *out; ERR_NOT_FOUND when absent. */
int search_index_get(struct search_index *ix, struct offer *out,
		     const uint8_t id32[32], struct err *e);

/*
 * Copies the offer with id32 into *out (when out is not NULL) and hands out its payload in *payload
 * (retained; NULL when the row has none; when payload is not NULL). ERR_NOT_FOUND when absent.
 */
int search_index_lookup(struct search_index *ix, struct offer *out, void **payload, const uint8_t id32[32],
			struct err *e);

/* Bytes the index holds for its rows, id table and string dictionaries (payloads not counted). */
size_t search_index_bytes(struct search_index *ix);

/* Offers in the index (live or expired). */
size_t search_index_count(struct search_index *ix);

/*
 * Runs filter `f` over the offers live at `now` (now < expires_at), orders
 * the matches by `s` then by offer id, and copies one page into *out.
 * A cursor continues strictly after the last offer of the page that made
 * it, with the same sort (else ERR_INVALID); it stays valid across index
 * changes. ERR_RANGE for a bad limit/offset, ERR_NOMEM. On error *out is
 * untouched.
 */
int search_query(struct search_result *out, struct search_index *ix,
		 const struct filter *f, const struct filter_sort *s,
		 const struct search_page *page, int64_t now, struct err *e);

/* Frees the page's offers and drops its payloads; the struct is empty again. NULL allowed. */
void search_result_release(struct search_result *r);

#endif
