/*
 * view.h — rendered answers: immutable, reference-counted JSON bodies with their entity tag and a gzip
 * copy made once on first ask; and a small keyed cache of them.
 *
 * A view is rendered once per change of what it shows (an offer's view when the offer, its host, its
 * GPUs or its provider's reputation change) and then served to every reader by copying bytes: no store
 * query, no JSON assembly per request. Readers hold a reference while they copy, so a view replaced
 * meanwhile stays valid until the last reader lets go. The entity tag is a 64-bit hash of the body
 * (search answers combine their views' tags), quoted as HTTP wants it.
 *
 * The view cache maps a key ("q=...&limit=20", "host:17") to a view tagged with what it was computed
 * from (the offer index generation and the second, for search answers). A lookup hits only when the
 * tag is the caller's current one. Writers drop keys they change (view_cache_drop) before answering;
 * a reader that rendered from data read before the drop cannot put its older view back: view_cache_put
 * takes the cache's drop sequence read before the reader looked at the data and refuses the put when
 * that key's slot was dropped since. The cache is direct-mapped (a put evicts the slot's previous
 * key), VIEW_CACHE_LOCKS striped locks, bounded by slots, by a byte budget and by VIEW_CACHE_BODY_MAX per
 * entry.
 *
 * Memory: every live view's bytes (body and gzip copy) are counted in view_bytes_live(), reported in
 * /metrics.
 */
#ifndef FLOP_SERVER_VIEW_H
#define FLOP_SERVER_VIEW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define VIEW_ETAG_MAX 21            /* "\"" + 16 hex digits + "\"" + NUL, and a W/ never */
#define VIEW_GZIP_MIN 1024          /* bodies shorter than this are not worth compressing */
#define VIEW_CACHE_LOCKS 16
#define VIEW_CACHE_KEY_MAX 2200     /* a search key holds the filter text (FILTER_TEXT_MAX) and paging */
#define VIEW_CACHE_BODY_MAX ((size_t)1 << 20)

struct view {
	atomic_uint refs;
	uint64_t etag;                  /* hash of the body (or of its parts) */
	size_t len;                     /* body bytes, without the NUL */
	_Atomic(struct view *) gz;      /* the gzip copy (owned), NULL until view_gzip made it */
	char body[];                    /* JSON text, NUL-terminated */
};

/* A view of len bytes of body (copied), refs 1, etag the body's hash. NULL: no memory. */
struct view *view_new(const char *body, size_t len);
/* view_new with a tag the caller computed (a search answer combines its parts' tags). */
struct view *view_new_tagged(const char *body, size_t len, uint64_t etag);
/* A view of a JSON value's compact text (the value is not consumed). NULL: no memory or NULL j. */
struct view *view_from_json(const json_t *j);
void view_retain(struct view *v);
/* Drops one reference; the last frees the view and its gzip copy. NULL allowed. */
void view_release(struct view *v);

/*
 * The gzip copy of v (borrowed: valid while the caller holds v), compressed on the first call and kept
 * with v. NULL when v is under VIEW_GZIP_MIN, compression does not make it smaller, or no memory.
 */
const struct view *view_gzip(struct view *v);

/* The entity tag as an HTTP quoted string ("\"0123456789abcdef\""). */
void view_etag_text(char out[VIEW_ETAG_MAX], uint64_t etag);
/* True when an If-None-Match header value names this tag (a list, "*", or a W/ weak form). */
bool view_etag_matches(const char *if_none_match, uint64_t etag);
/* 64-bit hash of bytes (FNV-1a folded through a 64-bit mixer), continuing from h (0 to start). */
uint64_t view_hash(uint64_t h, const void *p, size_t n);

/* Bytes held by live views and their gzip copies (all views of the process). */
size_t view_bytes_live(void);

/* ---- keyed cache ---- */

struct view_cache;

/*
 * A cache of `slots` entries (rounded up to a power of two, 16..65536) holding at most max_bytes of keys
 * and views (a put that would pass it is dropped). NULL: no memory.
 */
struct view_cache *view_cache_new(size_t slots, size_t max_bytes);
void view_cache_free(struct view_cache *c);

/* The cache's drop sequence now: read it before reading what a view will be rendered from. */
uint64_t view_cache_seq(struct view_cache *c);
/* The view cached for key with this tag (retained), or NULL. */
struct view *view_cache_get(struct view_cache *c, const char *key, size_t key_len, uint64_t tag);
/*
 * Caches v for key with tag (takes its own reference), unless the key's slot was dropped after `seq`
 * (then v was rendered from data older than a write) or the key or body is over the caps.
 */
void view_cache_put(struct view_cache *c, const char *key, size_t key_len, uint64_t tag, uint64_t seq,
		    struct view *v);
/* Forgets key (a write changed what its view shows). */
void view_cache_drop(struct view_cache *c, const char *key, size_t key_len);
/* Entries held and their bytes (keys and views). */
void view_cache_stats(struct view_cache *c, size_t *entries, size_t *bytes);

#endif
