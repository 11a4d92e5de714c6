/*
 * view.c — rendered answers and their keyed cache (see view.h for the contract).
 */
#include "server/view.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "core/hash.h"

static atomic_size_t live_bytes;

static size_t view_size(size_t len)
{
	return sizeof(struct view) + len + 1;
}

/* A view holding a copy of len bytes with the given tag. */
static struct view *view_alloc(const void *body, size_t len, uint64_t etag)
{
	struct view *v = malloc(view_size(len));

	if (!v)
		return NULL;
	atomic_init(&v->refs, 1);
	atomic_init(&v->gz, NULL);
	v->len = len;
	memcpy(v->body, body, len);
	v->body[len] = '\0';
	v->etag = etag;
	atomic_fetch_add(&live_bytes, view_size(len));
	return v;
}

struct view *view_new(const char *body, size_t len)
{
	return view_alloc(body, len, view_hash(0, body, len));
}

struct view *view_new_tagged(const char *body, size_t len, uint64_t etag)
{
	return view_alloc(body, len, etag);
}

struct view *view_from_json(const json_t *j)
{
	struct view *v;
	char *text;

	if (!j || !(text = json_dumps(j, JSON_COMPACT)))
		return NULL;
	v = view_new(text, strlen(text));
	free(text);
	return v;
}

void view_retain(struct view *v)
{
	atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void view_release(struct view *v)
{
	struct view *gz;

	if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
		return;
	gz = atomic_load(&v->gz);
	if (gz)
		view_release(gz);
	atomic_fetch_sub(&live_bytes, view_size(v->len));
	free(v);
}

/* gzip (RFC 1952) of v's body as a new view with v's tag: it is the same entity, encoded. */
static struct view *gzip_of(const struct view *v)
{
	uLong cap = compressBound((uLong)v->len) + 32;
	unsigned char *out = malloc(cap);
	struct view *g = NULL;
	z_stream z;
	int rc;

	if (!out)
		return NULL;
	memset(&z, 0, sizeof z);
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (Bytef *)(uintptr_t)v->body;
	z.avail_in = (uInt)v->len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (rc == Z_STREAM_END && cap - z.avail_out < v->len)
		g = view_alloc(out, cap - z.avail_out, v->etag);
	free(out);
	return g;
}

const struct view *view_gzip(struct view *v)
{
	struct view *g = atomic_load(&v->gz), *none = NULL;

	if (g || v->len < VIEW_GZIP_MIN)
		return g;
	if (!(g = gzip_of(v)))
		return NULL;
	if (!atomic_compare_exchange_strong(&v->gz, &none, g)) {
		view_release(g); /* another reader made it first */
		g = none;
	}
	return g;
}

void view_etag_text(char out[VIEW_ETAG_MAX], uint64_t etag)
{
	snprintf(out, VIEW_ETAG_MAX, "\"%016llx\"", (unsigned long long)etag);
}

bool view_etag_matches(const char *inm, uint64_t etag)
{
	char want[VIEW_ETAG_MAX];
	size_t wl;

	if (!inm)
		return false;
	view_etag_text(want, etag);
	wl = strlen(want);
	for (const char *p = inm; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2; /* If-None-Match compares weakly (RFC 9110 13.1.2) */
		if (strncmp(p, want, wl) == 0 && (p[wl] == '\0' || p[wl] == ',' || p[wl] == ' ' || p[wl] == '\t'))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

uint64_t view_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	/* the chained-in value is mixed first: XOR-ing it straight into the basis would let a change of h
	 * cancel against a change of the first byte (h+1 with the byte +1 hashed alike) */
	uint64_t x = hash_mix64(h + 0x9e3779b97f4a7c15ull) ^ 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		x = (x ^ b[i]) * 0x100000001b3ull;
	return hash_mix64(x);
}

size_t view_bytes_live(void)
{
	return atomic_load(&live_bytes);
}

/* ---- keyed cache ---- */

struct slot {
	char *key;           /* NULL: empty */
	size_t key_len;
	uint64_t tag;
	uint64_t dropped;    /* sequence of the last drop that hit this slot */
	struct view *v;
};

struct view_cache {
	pthread_mutex_t locks[VIEW_CACHE_LOCKS];
	struct slot *slots;
	size_t mask;
	atomic_uint_fast64_t seq;   /* drops so far */
	atomic_size_t entries, bytes;
	size_t max_bytes;
	atomic_size_t hand;         /* next slot the budget sweep clears */
};

struct view_cache *view_cache_new(size_t n, size_t max_bytes)
{
	struct view_cache *c = calloc(1, sizeof *c);
	size_t slots = 16;

	if (!c)
		return NULL;
	while (slots < n && slots < 65536)
		slots *= 2;
	if (!(c->slots = calloc(slots, sizeof *c->slots))) {
		free(c);
		return NULL;
	}
	c->mask = slots - 1;
	c->max_bytes = max_bytes;
	for (int i = 0; i < VIEW_CACHE_LOCKS; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	return c;
}

static void slot_clear(struct view_cache *c, struct slot *sl)
{
	if (!sl->key)
		return;
	atomic_fetch_sub(&c->entries, 1);
	atomic_fetch_sub(&c->bytes, sl->key_len + 1 + view_size(sl->v->len));
	free(sl->key);
	view_release(sl->v);
	sl->key = NULL;
	sl->v = NULL;
}

void view_cache_free(struct view_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		slot_clear(c, &c->slots[i]);
	for (int i = 0; i < VIEW_CACHE_LOCKS; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c->slots);
	free(c);
}

static size_t slot_of(const struct view_cache *c, const char *key, size_t len)
{
	return (size_t)view_hash(0, key, len) & c->mask;
}

static pthread_mutex_t *lock_of(struct view_cache *c, size_t i)
{
	return &c->locks[i % VIEW_CACHE_LOCKS];
}

uint64_t view_cache_seq(struct view_cache *c)
{
	return atomic_load(&c->seq);
}

struct view *view_cache_get(struct view_cache *c, const char *key, size_t len, uint64_t tag)
{
	size_t i = slot_of(c, key, len);
	struct slot *sl = &c->slots[i];
	struct view *v = NULL;

	pthread_mutex_lock(lock_of(c, i));
	if (sl->key && sl->tag == tag && sl->key_len == len && memcmp(sl->key, key, len) == 0) {
		v = sl->v;
		view_retain(v);
	}
	pthread_mutex_unlock(lock_of(c, i));
	return v;
}

/*
 * Makes room for `need` bytes by clearing entries from the clock hand on (at most VIEW_CACHE_SWEEP
 * slots): answers of an older second or generation are dead weight, and a full cache must keep taking
 * the answers asked for now. The caller holds slot `mine`'s stripe; other stripes are only tried.
 */
#define VIEW_CACHE_SWEEP 256
static void sweep(struct view_cache *c, size_t mine, size_t need)
{
	for (int k = 0; k < VIEW_CACHE_SWEEP && atomic_load(&c->bytes) + need > c->max_bytes; k++) {
		size_t j = atomic_fetch_add(&c->hand, 1) & c->mask;
		pthread_mutex_t *l = lock_of(c, j);
		bool own = l == lock_of(c, mine);

		if (!own && pthread_mutex_trylock(l) != 0)
			continue;
		slot_clear(c, &c->slots[j]);
		if (!own)
			pthread_mutex_unlock(l);
	}
}

void view_cache_put(struct view_cache *c, const char *key, size_t len, uint64_t tag, uint64_t seq,
		    struct view *v)
{
	size_t i = slot_of(c, key, len);
	struct slot *sl = &c->slots[i];
	char *k;

	if (len > VIEW_CACHE_KEY_MAX || v->len > VIEW_CACHE_BODY_MAX || !(k = malloc(len + 1)))
		return;
	memcpy(k, key, len);
	k[len] = '\0';
	pthread_mutex_lock(lock_of(c, i));
	if (sl->dropped > seq) {
		pthread_mutex_unlock(lock_of(c, i));
		free(k);
		return;
	}
	slot_clear(c, sl);
	if (atomic_load(&c->bytes) + len + 1 + view_size(v->len) > c->max_bytes)
		sweep(c, i, len + 1 + view_size(v->len));
	if (atomic_load(&c->bytes) + len + 1 + view_size(v->len) > c->max_bytes) {
		pthread_mutex_unlock(lock_of(c, i));
		free(k);
		return;
	}
	view_retain(v);
	sl->key = k;
	sl->key_len = len;
	sl->tag = tag;
	sl->v = v;
	atomic_fetch_add(&c->entries, 1);
	atomic_fetch_add(&c->bytes, len + 1 + view_size(v->len));
	pthread_mutex_unlock(lock_of(c, i));
}

void view_cache_drop(struct view_cache *c, const char *key, size_t len)
{
	size_t i = slot_of(c, key, len);
	struct slot *sl = &c->slots[i];

	pthread_mutex_lock(lock_of(c, i));
	sl->dropped = atomic_fetch_add(&c->seq, 1) + 1;
	if (sl->key && sl->key_len == len && memcmp(sl->key, key, len) == 0)
		slot_clear(c, sl);
	pthread_mutex_unlock(lock_of(c, i));
}

void view_cache_stats(struct view_cache *c, size_t *entries, size_t *bytes)
{
	*entries = atomic_load(&c->entries);
	*bytes = atomic_load(&c->bytes);
}
