/*
 * search.c — columnar offer index with a selection-vector scan and a
 * bounded-heap top-k (see search.h for the contract).
 *
 * Invariants (under the lock):
 *   - rows[0..n) are derived offers; col[c][r] == offer_col_key(&rows[r], c),
 *     scol[c][r] is the dictionary id of the row's lower-cased string c,
 *     expires[r] == rows[r].expires_at, idk[r] == big-endian id32[0..8).
 *   - slots is a linear-probing table (power-of-two size >= 2*cap) holding
 *     row+1 for every row, keyed by id; deletion shifts back, no tombstones.
 *   - dictionaries only grow (ids stay valid while a query holds the lock).
 *   - cmin[c] <= col[c][r] <= cmax[c] for every row (bounds only widen: a range clause that covers
 *     them excludes nothing and is not scanned).
 *   - payload[r] is the row's payload (one reference held by the index) or NULL; it is released when
 *     the row is replaced or removed and when the index is freed, never while a query holds the lock.
 * Removal moves the last row into the hole, so rows stay dense.
 */
#include "market/search.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/err.h"
#include "core/hash.h"
#include "core/hex.h"

struct dict {
	char **strs;        /* id -> lower-case, NUL-terminated string */
	uint32_t n;         /* strings interned */
	uint32_t cap;       /* room in strs */
	uint32_t *slots;    /* open addressing: id+1, 0 = empty */
	uint32_t nslots;    /* power of two, >= 2*cap */
};

struct search_index {
	pthread_rwlock_t lock;
	size_t n;           /* rows in use */
	size_t cap;         /* rows allocated */
	size_t max;         /* hard cap on n */
	struct offer *rows;
	int64_t *col[OCOL_NUM_COUNT];  /* offer_col_key per row */
	uint32_t *scol[OSTR_COUNT];    /* dictionary id per row */
	int64_t *expires;   /* expires_at per row */
	uint64_t *idk;      /* first 8 id bytes, big-endian */
	uint32_t *slots;    /* id -> row+1 */
	size_t nslots;      /* power of two */
	uint64_t seed;      /* hash seed, random per index */
	struct dict dict[OSTR_COUNT];
	void **payload;     /* per row: the caller's payload, or NULL */
	int64_t cmin[OCOL_NUM_COUNT], cmax[OCOL_NUM_COUNT]; /* bounds of every key ever written per column */
	struct search_payload_ops ops; /* retain/release of payloads; NULL functions: none */
	size_t dict_bytes;  /* bytes of interned strings */
};

/* ---- hashing ---- */

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t id_hash(const struct search_index *ix, const uint8_t id32[32])
{
	return hash_mix64(load_be64(id32) ^ ix->seed) ^ hash_mix64(load_be64(id32 + 8) + ix->seed);
}

static uint64_t str_hash(uint64_t seed, const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		h = (h ^ (uint8_t)c) * 0x100000001b3ull;
	}
	return hash_mix64(h);
}

/* ---- string dictionaries ---- */

static bool dict_eq(const char *interned, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c + 32);
		if (interned[i] != c)
			return false;
	}
	return interned[n] == 0;
}

/* Slot for s: holding its id+1, or the empty slot where it would go. */
static uint32_t dict_slot(const struct dict *d, uint64_t seed, const char *s, size_t n)
{
	uint32_t mask = d->nslots - 1, i = (uint32_t)str_hash(seed, s, n) & mask;
	while (d->slots[i] != 0 && !dict_eq(d->strs[d->slots[i] - 1], s, n))
		i = (i + 1) & mask;
	return i;
}

/* Id of s, or -1 when never interned. */
static int64_t dict_find(const struct dict *d, uint64_t seed, const char *s, size_t n)
{
	if (d->nslots == 0)
		return -1;
	uint32_t v = d->slots[dict_slot(d, seed, s, n)];
	return v ? (int64_t)v - 1 : -1;
}

static int dict_intern(struct dict *d, uint32_t *id, uint64_t seed, const char *s,
		       size_t n, struct err *e)
{
	int64_t have = dict_find(d, seed, s, n);
	if (have >= 0) {
		*id = (uint32_t)have;
		return 0;
	}
	if (d->n == SEARCH_DICT_MAX)
		return err_set(e, ERR_TOO_BIG, "search: more than %u distinct strings", SEARCH_DICT_MAX);
	if (d->n == d->cap) {
		uint32_t ncap = d->cap ? d->cap * 2 : 64, nslots = ncap * 2;
		char **strs = realloc(d->strs, ncap * sizeof *strs);
		if (!strs)
			return err_set(e, ERR_NOMEM, "search: out of memory");
		d->strs = strs;
		uint32_t *slots = calloc(nslots, sizeof *slots);
		if (!slots)
			return err_set(e, ERR_NOMEM, "search: out of memory");
		for (uint32_t k = 0; k < d->n; k++) {
			const char *t = d->strs[k];
			uint32_t i = (uint32_t)str_hash(seed, t, strlen(t)) & (nslots - 1);
			while (slots[i] != 0)
				i = (i + 1) & (nslots - 1);
			slots[i] = k + 1;
		}
		free(d->slots);
		d->slots = slots;
		d->nslots = nslots;
		d->cap = ncap;
	}
	char *copy = malloc(n + 1);
	if (!copy)
		return err_set(e, ERR_NOMEM, "search: out of memory");
	for (size_t i = 0; i < n; i++)
		copy[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
	copy[n] = 0;
	d->slots[dict_slot(d, seed, s, n)] = d->n + 1;
	d->strs[d->n] = copy;
	*id = d->n++;
	return 0;
}

static void dict_release(struct dict *d)
{
	for (uint32_t i = 0; i < d->n; i++)
		free(d->strs[i]);
	free(d->strs);
	free(d->slots);
}

/* ---- rows and the id table ---- */

/* Slot holding id's row+1, or the empty slot where it would go. */
static size_t id_slot(const struct search_index *ix, const uint8_t id32[32])
{
	size_t mask = ix->nslots - 1, i = id_hash(ix, id32) & mask;
	while (ix->slots[i] != 0 && memcmp(ix->rows[ix->slots[i] - 1].id32, id32, 32) != 0)
		i = (i + 1) & mask;
	return i;
}

static int grow(struct search_index *ix, struct err *e)
{
	size_t ncap = ix->cap ? ix->cap * 2 : 1024;
	if (ncap > ix->max)
		ncap = ix->max;
	void *p;
#define GROW(ptr)                                                     \
	do {                                                          \
		p = realloc(ptr, ncap * sizeof *(ptr));               \
		if (!p)                                               \
			return err_set(e, ERR_NOMEM, "search: out of memory"); \
		ptr = p;                                              \
	} while (0)
	GROW(ix->rows);
	for (int c = 0; c < OCOL_NUM_COUNT; c++)
		GROW(ix->col[c]);
	for (int c = 0; c < OSTR_COUNT; c++)
		GROW(ix->scol[c]);
	GROW(ix->expires);
	GROW(ix->idk);
	GROW(ix->payload);
#undef GROW
	size_t nslots = ix->nslots;
	while (nslots < 2 * ncap)
		nslots *= 2;
	if (nslots != ix->nslots) {
		uint32_t *slots = calloc(nslots, sizeof *slots);
		if (!slots)
			return err_set(e, ERR_NOMEM, "search: out of memory");
		for (size_t r = 0; r < ix->n; r++) {
			size_t i = id_hash(ix, ix->rows[r].id32) & (nslots - 1);
			while (slots[i] != 0)
				i = (i + 1) & (nslots - 1);
			slots[i] = (uint32_t)r + 1;
		}
		free(ix->slots);
		ix->slots = slots;
		ix->nslots = nslots;
	}
	ix->cap = ncap;
	return 0;
}

static void payload_release(struct search_index *ix, void *p)
{
	if (p && ix->ops.release)
		ix->ops.release(p);
}

static void write_row(struct search_index *ix, size_t r, const struct offer *o,
		      const uint32_t sid[OSTR_COUNT], void *payload)
{
	ix->rows[r] = *o;
	ix->payload[r] = payload;
	for (int c = 0; c < OCOL_NUM_COUNT; c++) {
		int64_t k = offer_col_key(o, (enum offer_col)c);
		ix->col[c][r] = k;
		if (k < ix->cmin[c])
			ix->cmin[c] = k;
		if (k > ix->cmax[c])
			ix->cmax[c] = k;
	}
	for (int c = 0; c < OSTR_COUNT; c++)
		ix->scol[c][r] = sid[c];
	ix->expires[r] = o->expires_at;
	ix->idk[r] = load_be64(o->id32);
}

static void move_row(struct search_index *ix, size_t to, size_t from)
{
	ix->rows[to] = ix->rows[from];
	for (int c = 0; c < OCOL_NUM_COUNT; c++)
		ix->col[c][to] = ix->col[c][from];
	for (int c = 0; c < OSTR_COUNT; c++)
		ix->scol[c][to] = ix->scol[c][from];
	ix->expires[to] = ix->expires[from];
	ix->idk[to] = ix->idk[from];
	ix->payload[to] = ix->payload[from];
}

int search_index_new(struct search_index **out, size_t max_offers, struct err *e)
{
	struct search_index *ix;
	if (max_offers < 1 || max_offers > SEARCH_OFFERS_MAX)
		return err_set(e, ERR_RANGE, "search: max_offers %zu not in 1..%d", max_offers,
			       SEARCH_OFFERS_MAX);
	ix = calloc(1, sizeof *ix);
	if (!ix)
		return err_set(e, ERR_NOMEM, "search: out of memory");
	ix->max = max_offers;
	ix->nslots = 1;
	for (int c = 0; c < OCOL_NUM_COUNT; c++) {
		ix->cmin[c] = INT64_MAX;
		ix->cmax[c] = INT64_MIN;
	}
	if (getrandom(&ix->seed, sizeof ix->seed, GRND_NONBLOCK) != (ssize_t)sizeof ix->seed)
		ix->seed = hash_mix64((uint64_t)(uintptr_t)ix);
	/* writers first: a steady stream of queries must not starve updates */
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	int lrc = pthread_rwlock_init(&ix->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (lrc != 0) {
		free(ix);
		return err_set(e, ERR_NOMEM, "search: rwlock init failed");
	}
	ix->slots = calloc(1, sizeof *ix->slots);
	if (!ix->slots) {
		search_index_free(ix);
		return err_set(e, ERR_NOMEM, "search: out of memory");
	}
	*out = ix;
	return 0;
}

void search_index_free(struct search_index *ix)
{
	if (!ix)
		return;
	pthread_rwlock_destroy(&ix->lock);
	for (size_t r = 0; r < ix->n; r++)
		payload_release(ix, ix->payload[r]);
	free(ix->payload);
	free(ix->rows);
	for (int c = 0; c < OCOL_NUM_COUNT; c++)
		free(ix->col[c]);
	for (int c = 0; c < OSTR_COUNT; c++)
		free(ix->scol[c]);
	for (int c = 0; c < OSTR_COUNT; c++)
		dict_release(&ix->dict[c]);
	free(ix->expires);
	free(ix->idk);
	free(ix->slots);
	free(ix);
}

static int put_locked(struct search_index *ix, const struct offer *in, void *payload, struct err *e)
{
	struct offer o = *in;
	uint32_t sid[OSTR_COUNT];
	char buf[OFFER_STR_MAX];
	int rc = offer_derive(&o, e);
	if (rc != 0)
		return rc;
	size_t slot = id_slot(ix, o.id32);
	if (ix->slots[slot] == 0 && ix->n == ix->max)
		return err_set(e, ERR_TOO_BIG, "search: index full (%zu offers)", ix->max);
	for (int c = 0; c < OSTR_COUNT; c++) {
		const char *s = offer_col_str(buf, &o, (enum offer_str)c);
		uint32_t before = ix->dict[c].n;
		rc = dict_intern(&ix->dict[c], &sid[c], ix->seed, s, strlen(s), e);
		if (rc != 0)
			return rc;
		if (ix->dict[c].n != before)
			ix->dict_bytes += strlen(s) + 1;
	}
	if (ix->slots[slot] != 0) {
		size_t r = ix->slots[slot] - 1;
		void *old = ix->payload[r];
		write_row(ix, r, &o, sid, payload);
		payload_release(ix, old);
		return 0;
	}
	if (ix->n == ix->cap) {
		rc = grow(ix, e);
		if (rc != 0)
			return rc;
		slot = id_slot(ix, o.id32); /* the table may have been rebuilt */
	}
	write_row(ix, ix->n, &o, sid, payload);
	ix->slots[slot] = (uint32_t)ix->n + 1;
	ix->n++;
	return 0;
}

int search_index_put(struct search_index *ix, const struct offer *o, struct err *e)
{
	return search_index_put_payload(ix, o, NULL, e);
}

int search_index_put_payload(struct search_index *ix, const struct offer *o, void *payload, struct err *e)
{
	pthread_rwlock_wrlock(&ix->lock);
	int rc = put_locked(ix, o, payload, e);
	pthread_rwlock_unlock(&ix->lock);
	return rc;
}

void search_index_set_payload_ops(struct search_index *ix, const struct search_payload_ops *ops)
{
	ix->ops = *ops;
}

static void remove_locked(struct search_index *ix, size_t slot)
{
	size_t mask = ix->nslots - 1, i = slot, j = slot;
	size_t r = ix->slots[slot] - 1, last = ix->n - 1;
	void *gone = ix->payload[r];
	/* backward-shift deletion from the linear-probing table */
	ix->slots[i] = 0;
	for (;;) {
		j = (j + 1) & mask;
		if (ix->slots[j] == 0)
			break;
		size_t k = id_hash(ix, ix->rows[ix->slots[j] - 1].id32) & mask;
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		ix->slots[i] = ix->slots[j];
		ix->slots[j] = 0;
		i = j;
	}
	if (r != last) {
		move_row(ix, r, last);
		ix->slots[id_slot(ix, ix->rows[r].id32)] = (uint32_t)r + 1;
	}
	ix->n--;
	payload_release(ix, gone);
}

int search_index_remove(struct search_index *ix, const uint8_t id32[32], struct err *e)
{
	int rc = 0;
	pthread_rwlock_wrlock(&ix->lock);
	size_t slot = id_slot(ix, id32);
	if (ix->slots[slot] == 0)
		rc = err_set(e, ERR_NOT_FOUND, "search: no offer with that id");
	else
		remove_locked(ix, slot);
	pthread_rwlock_unlock(&ix->lock);
	return rc;
}

int search_index_get(struct search_index *ix, struct offer *out,
		     const uint8_t id32[32], struct err *e)
{
	return search_index_lookup(ix, out, NULL, id32, e);
}

int search_index_lookup(struct search_index *ix, struct offer *out, void **payload, const uint8_t id32[32],
			struct err *e)
{
	int rc = 0;
	pthread_rwlock_rdlock(&ix->lock);
	size_t slot = id_slot(ix, id32);
	if (ix->slots[slot] == 0) {
		rc = err_set(e, ERR_NOT_FOUND, "search: no offer with that id");
	} else {
		size_t r = ix->slots[slot] - 1;
		if (out)
			*out = ix->rows[r];
		if (payload) {
			*payload = ix->payload[r];
			if (*payload && ix->ops.retain)
				ix->ops.retain(*payload);
		}
	}
	pthread_rwlock_unlock(&ix->lock);
	return rc;
}

size_t search_index_bytes(struct search_index *ix)
{
	size_t per_row = sizeof(struct offer) + OCOL_NUM_COUNT * sizeof(int64_t) + OSTR_COUNT * sizeof(uint32_t) +
			 sizeof(int64_t) + sizeof(uint64_t) + sizeof(void *);
	size_t b = sizeof *ix;

	pthread_rwlock_rdlock(&ix->lock);
	b += ix->cap * per_row + ix->nslots * sizeof *ix->slots + ix->dict_bytes;
	for (int c = 0; c < OSTR_COUNT; c++)
		b += ix->dict[c].cap * sizeof(char *) + ix->dict[c].nslots * sizeof(uint32_t);
	pthread_rwlock_unlock(&ix->lock);
	return b;
}

size_t search_index_count(struct search_index *ix)
{
	pthread_rwlock_rdlock(&ix->lock);
	size_t n = ix->n;
	pthread_rwlock_unlock(&ix->lock);
	return n;
}

/* ---- query ---- */

enum pred_kind { P_RANGE, P_IN, P_NOTIN, P_SEQ, P_SIN, P_SNOTIN, P_SBITS };

/* One compiled clause over one column. */
struct pred {
	int kind;               /* enum pred_kind */
	const int64_t *col;     /* numeric column (P_RANGE/IN/NOTIN) */
	const uint32_t *scol;   /* string column (P_S*) */
	int64_t lo, hi;         /* P_RANGE bounds, inclusive */
	uint32_t n;             /* values in v / ids */
	int64_t v[FILTER_LIST_MAX];   /* doubled keys */
	uint32_t ids[FILTER_LIST_MAX]; /* string ids */
	uint8_t *bits;          /* P_SBITS: one bit per dictionary id that passes (malloc'd) */
};

static void preds_free(struct pred *pr, int np)
{
	for (int i = 0; i < np; i++)
		if (pr[i].kind == P_SBITS)
			free(pr[i].bits);
}

/* Whether a dictionary string of column `col` is named by value v (the columns set_bits serves). */
static bool names(int col, const char *s, const char *v)
{
	switch (col) {
	case OSTR_IMAGES: return offer_images_has(s, v, strlen(v)); /* a set: "a,b,c" */
	case OSTR_GPU: return offer_gpu_matches(s, v, strlen(v));   /* a model family: "A100" */
	default: return offer_token_matches(s, v, strlen(v));      /* OSTR_TOKEN: "USDC" is dUSDC too */
	}
}

/*
 * A column whose values are matched by meaning, not spelling (images: a set, "a,b,c"; gpu: a model
 * family; token: a symbol or its dev stand-in): the bit of every dictionary entry one of the clause's
 * values names (=) or none of them does (!=). Returns 1 when some entry passes, 0 when none, -2 out of
 * memory.
 */
static int set_bits(struct pred *p, const struct dict *d, int col, const struct filter *f,
		    const struct filter_clause *c)
{
	int any = 0;

	p->bits = calloc((size_t)d->n / 8 + 1, 1);
	if (!p->bits)
		return -2;
	p->kind = P_SBITS;
	for (uint32_t id = 0; id < d->n; id++) {
		bool has = false;
		for (unsigned i = 0; i < c->nvals && !has; i++) {
			has = names(col, d->strs[id], filter_value_str(f, c, i));
		}
		if (has == (c->op == FOP_EQ)) {
			p->bits[id >> 3] |= (uint8_t)(1u << (id & 7));
			any = 1;
		}
	}
	return any;
}

/*
 * Compiles f into preds (string clauses first, then numeric, then expiry).
 * Returns the number of preds, or -1 when no offer can match, -2 out of memory (nothing to free then;
 * otherwise preds_free the preds returned).
 */
static int compile(struct pred *pr, const struct search_index *ix,
		   const struct filter *f, int64_t now)
{
	int np = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t k = 0; k < f->nclauses; k++) {
			const struct filter_clause *c = &f->clauses[k];
			const struct filter_field *fd = &filter_fields[c->field];
			bool is_str = fd->type == FT_STR;
			if (is_str != (pass == 0))
				continue;
			struct pred *p = &pr[np];
			p->n = 0;
			p->bits = NULL;
			if (is_str && (fd->col == OSTR_IMAGES || fd->col == OSTR_GPU || fd->col == OSTR_TOKEN)) {
				int r = set_bits(p, &ix->dict[fd->col], fd->col, f, c);
				p->scol = ix->scol[fd->col];
				np++;
				if (r <= 0) {
					preds_free(pr, np);
					return r == 0 ? -1 : -2;
				}
				continue;
			}
			if (is_str) {
				const struct dict *d = &ix->dict[fd->col];
				p->scol = ix->scol[fd->col];
				for (unsigned i = 0; i < c->nvals; i++) {
					const char *s = filter_value_str(f, c, i);
					int64_t id = dict_find(d, ix->seed, s, strlen(s));
					if (id >= 0)
						p->ids[p->n++] = (uint32_t)id;
				}
				if (c->op == FOP_EQ) {
					if (p->n == 0) {
						preds_free(pr, np);
						return -1;
					}
					p->kind = p->n == 1 ? P_SEQ : P_SIN;
				} else {
					if (p->n == 0)
						continue; /* excludes nothing */
					p->kind = P_SNOTIN;
				}
				np++;
				continue;
			}
			p->col = ix->col[fd->col];
			if ((c->op == FOP_EQ || c->op == FOP_NE) && c->nvals > 1) {
				p->kind = c->op == FOP_EQ ? P_IN : P_NOTIN;
				for (unsigned i = 0; i < c->nvals; i++)
					p->v[p->n++] = 2 * f->vals[c->first + i].num;
			} else if (c->op == FOP_NE) {
				p->kind = P_NOTIN;
				p->v[p->n++] = 2 * f->vals[c->first].num;
			} else {
				p->kind = P_RANGE;
				filter_clause_range(f, c, &p->lo, &p->hi);
				if (p->lo > p->hi) {
					preds_free(pr, np);
					return -1;
				}
				if (p->lo <= ix->cmin[fd->col] && ix->cmax[fd->col] <= p->hi)
					continue; /* covers every key in the column: excludes nothing */
			}
			np++;
		}
	}
	/* live offers only: now < expires_at */
	if (now == INT64_MAX) {
		preds_free(pr, np);
		return -1;
	}
	pr[np].kind = P_RANGE;
	pr[np].col = ix->expires;
	pr[np].lo = now + 1;
	pr[np].hi = INT64_MAX;
	return np + 1;
}

static inline bool in_set64(int64_t x, const int64_t *v, uint32_t n)
{
	bool any = false;
	for (uint32_t i = 0; i < n; i++)
		any |= x == v[i];
	return any;
}

static inline bool in_set32(uint32_t x, const uint32_t *v, uint32_t n)
{
	bool any = false;
	for (uint32_t i = 0; i < n; i++)
		any |= x == v[i];
	return any;
}

/*
 * Narrows sel[0..m) (or, when `all`, rows 0..m) to the rows passing p;
 * returns the new count. Branch-free inner loops.
 */
static size_t apply(const struct pred *p, uint32_t *sel, size_t m, bool all)
{
	size_t k = 0;
#define LOOP(COND)                                                    \
	do {                                                          \
		if (all) {                                            \
			for (size_t j = 0; j < m; j++) {              \
				uint32_t r = (uint32_t)j;             \
				sel[k] = r;                           \
				k += (COND);                          \
			}                                             \
		} else {                                              \
			for (size_t j = 0; j < m; j++) {              \
				uint32_t r = sel[j];                  \
				sel[k] = r;                           \
				k += (COND);                          \
			}                                             \
		}                                                     \
	} while (0)
	switch (p->kind) {
	case P_RANGE: {
		const int64_t *c = p->col;
		uint64_t lo = (uint64_t)p->lo, span = (uint64_t)p->hi - lo;
		LOOP(((uint64_t)c[r] - lo) <= span);
		break;
	}
	case P_SEQ: {
		const uint32_t *c = p->scol;
		uint32_t id = p->ids[0];
		LOOP(c[r] == id);
		break;
	}
	case P_IN: case P_NOTIN: {
		const int64_t *c = p->col;
		bool in = p->kind == P_IN;
		LOOP(in_set64(c[r], p->v, p->n) == in && c[r] != OFFER_KEY_UNKNOWN);
		break;
	}
	case P_SBITS: {
		const uint32_t *c = p->scol;
		const uint8_t *bits = p->bits;
		LOOP((bits[c[r] >> 3] >> (c[r] & 7)) & 1);
		break;
	}
	default: { /* P_SIN, P_SNOTIN */
		const uint32_t *c = p->scol;
		bool in = p->kind == P_SIN;
		LOOP(in_set32(c[r], p->ids, p->n) == in);
		break;
	}
	}
#undef LOOP
	return k;
}

/* A match with its sort position: (key, id) ascending. */
struct item {
	uint64_t key;           /* sort key, direction folded in */
	uint64_t idk;           /* first 8 id bytes, big-endian */
	const uint8_t *id;      /* full id for the rare idk tie */
	uint32_t row;
};

static int item_cmp(const struct item *a, const struct item *b)
{
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->idk != b->idk)
		return a->idk < b->idk ? -1 : 1;
	return memcmp(a->id, b->id, 32);
}

static int item_qsort_cmp(const void *a, const void *b)
{
	return item_cmp(a, b);
}

/* Ascending key; descending folds so that unknown stays last. */
static uint64_t sort_key(int64_t k, bool desc)
{
	if (!desc || k == OFFER_KEY_UNKNOWN)
		return (uint64_t)k;
	return (uint64_t)(OFFER_KEY_KNOWN_MAX - k);
}

static void sift_down(struct item *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && item_cmp(&h[l], &h[m]) > 0)
			m = l;
		if (l + 1 < n && item_cmp(&h[l + 1], &h[m]) > 0)
			m = l + 1;
		if (m == i)
			return;
		struct item t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Cursor: hex of version(1) field(1) desc(1) key(8, BE) id(32). */
#define CURSOR_BYTES 43

static void cursor_write(char out[SEARCH_CURSOR_MAX], const struct filter_sort *s,
			 const struct item *it)
{
	uint8_t b[CURSOR_BYTES];
	b[0] = 1;
	b[1] = s->field;
	b[2] = s->desc;
	for (int i = 0; i < 8; i++)
		b[3 + i] = (uint8_t)(it->key >> (56 - 8 * i));
	memcpy(b + 11, it->id, 32);
	hex_encode(out, b, CURSOR_BYTES);
}

static int cursor_read(struct item *it, uint8_t id32[32], const struct filter_sort *s,
		       const char *text, struct err *e)
{
	uint8_t b[CURSOR_BYTES];
	size_t n = 0;
	size_t len = strnlen(text, SEARCH_CURSOR_MAX);
	if (len != 2 * CURSOR_BYTES ||
	    hex_decode(b, sizeof b, &n, text, len, NULL) != 0 || n != CURSOR_BYTES || b[0] != 1)
		return err_set(e, ERR_INVALID, "search: malformed cursor");
	if (b[1] != s->field || b[2] != (s->desc ? 1 : 0))
		return err_set(e, ERR_INVALID, "search: cursor is for a different sort");
	it->key = load_be64(b + 3);
	memcpy(id32, b + 11, 32);
	it->idk = load_be64(id32);
	it->id = id32;
	it->row = 0;
	return 0;
}

int search_query(struct search_result *out, struct search_index *ix,
		 const struct filter *f, const struct filter_sort *s,
		 const struct search_page *page, int64_t now, struct err *e)
{
	struct pred pr[FILTER_CLAUSES_MAX + 1];
	struct item cur = { 0, 0, NULL, 0 };
	uint8_t cur_id[32];
	bool has_cursor = page->cursor && page->cursor[0];
	struct search_result res = { 0 };
	int rc = 0;

	if (page->limit < 1 || page->limit > SEARCH_LIMIT_MAX)
		return err_set(e, ERR_RANGE, "search: limit %u not in 1..%d", page->limit, SEARCH_LIMIT_MAX);
	if (page->offset > SEARCH_OFFSET_MAX)
		return err_set(e, ERR_RANGE, "search: offset %u above %d (use the cursor)", page->offset,
			       SEARCH_OFFSET_MAX);
	if (s->field >= filter_field_count || !filter_fields[s->field].sortable)
		return err_set(e, ERR_INVALID, "search: bad sort field");
	if (has_cursor) {
		if (page->offset != 0)
			return err_set(e, ERR_INVALID, "search: offset must be 0 with a cursor");
		rc = cursor_read(&cur, cur_id, s, page->cursor, e);
		if (rc != 0)
			return rc;
	}
	size_t k = (size_t)page->offset + page->limit;

	pthread_rwlock_rdlock(&ix->lock);
	uint32_t *sel = NULL;
	struct item *h = NULL;
	int np = ix->n ? compile(pr, ix, f, now) : -1;
	size_t m = 0;
	if (np == -2) {
		rc = err_set(e, ERR_NOMEM, "search: out of memory");
		np = -1;
		goto done;
	}
	if (np > 0) {
		sel = malloc(ix->n * sizeof *sel);
		h = malloc((k + 1) * sizeof *h);
		if (!sel || !h) {
			rc = err_set(e, ERR_NOMEM, "search: out of memory");
			goto done;
		}
		m = ix->n;
		for (int i = 0; i < np && m > 0; i++)
			m = apply(&pr[i], sel, m, i == 0);
	}
	res.total = m;

	/* top k of the matches after the cursor, via a max-heap of size k */
	const int64_t *kc = np > 0 ? ix->col[filter_fields[s->field].col] : NULL;
	size_t hn = 0, after = 0;
	for (size_t j = 0; j < m; j++) {
		uint32_t r = sel[j];
		uint64_t key = sort_key(kc[r], s->desc);
		/* once the heap is full, most matches sort after its worst by key alone: counted (they are
		 * after the cursor too, being after an item that is) and skipped without reading more */
		if (hn == k && key > h[0].key) {
			after++;
			continue;
		}
		struct item it = { key, ix->idk[r], ix->rows[r].id32, r };
		if (has_cursor && item_cmp(&it, &cur) <= 0)
			continue;
		after++;
		if (hn < k) {
			h[hn++] = it;
			if (hn == k)
				for (size_t i = k / 2; i-- > 0;)
					sift_down(h, k, i);
		} else if (item_cmp(&it, &h[0]) < 0) {
			h[0] = it;
			sift_down(h, k, 0);
		}
	}
	if (hn > 1)
		qsort(h, hn, sizeof *h, item_qsort_cmp);
	if (hn > page->offset) {
		res.n = hn - page->offset;
		res.offers = malloc(res.n * sizeof *res.offers);
		if (!res.offers) {
			rc = err_set(e, ERR_NOMEM, "search: out of memory");
			goto done;
		}
		if (ix->ops.retain && !(res.payloads = calloc(res.n, sizeof *res.payloads))) {
			free(res.offers);
			res.offers = NULL;
			rc = err_set(e, ERR_NOMEM, "search: out of memory");
			goto done;
		}
		for (size_t i = 0; i < res.n; i++) {
			uint32_t r = h[page->offset + i].row;
			res.offers[i] = ix->rows[r];
			if (res.payloads && (res.payloads[i] = ix->payload[r]))
				ix->ops.retain(res.payloads[i]);
		}
		res.release = ix->ops.release;
		if (after > hn)
			cursor_write(res.next_cursor, s, &h[hn - 1]);
	}
done:
	if (np > 0)
		preds_free(pr, np);
	pthread_rwlock_unlock(&ix->lock);
	free(sel);
	free(h);
	if (rc == 0)
		*out = res;
	return rc;
}

void search_result_release(struct search_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; r->payloads && i < r->n; i++)
		if (r->payloads[i] && r->release)
			r->release(r->payloads[i]);
	free(r->payloads);
	r->payloads = NULL;
	free(r->offers);
	r->offers = NULL;
	r->n = 0;
	r->total = 0;
	r->next_cursor[0] = 0;
}
