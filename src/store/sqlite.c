/*
 * sqlite.c — the SQLite backend of the store (see store.h, store_impl.h).
 *
 * One connection per store, guarded by one recursive mutex: every op holds
 * it for its duration, and a transaction holds it from store_tx_begin to
 * commit/rollback, so a transaction belongs to one thread and other threads
 * wait (the busy timeout covers other processes on the same file).
 * Durability: WAL journal with synchronous=FULL, so a write acknowledged by
 * a returned 0 (autocommit) or by a committed transaction survives kill -9
 * and power loss. foreign_keys=ON, trusted_schema=OFF, defensive mode.
 * Every statement is prepared with bound parameters; no value is ever
 * spliced into SQL text, so SQL-looking input is stored as plain text.
 * Statements are prepared per call (simple, and safe when a list callback
 * calls back into the store).
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "store/migrate.h"
#include "store/store_impl.h"

#define SQ_BUSY_TIMEOUT_MS 5000

struct sq {
	sqlite3 *db;         /* the one connection */
	pthread_mutex_t mu;  /* recursive; held by an op or by an open tx */
	bool in_tx;          /* a store_tx_begin is open */
	pthread_t tx_owner;  /* its thread, valid while in_tx */
};

static struct sq *SQ(struct store *s)
{
	return s->impl;
}

static void lk(struct sq *q)
{
	pthread_mutex_lock(&q->mu);
}

static void ul(struct sq *q)
{
	pthread_mutex_unlock(&q->mu);
}

/* Maps a SQLite failure to an ERR_* code with a message naming `what`. */
static int map(struct sq *q, int rc, const char *what, struct err *e)
{
	int code;
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			code = ERR_CONFLICT;
		else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
			code = ERR_NOT_FOUND;
		else
			code = ERR_INVALID;
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = ERR_TIMEOUT;
		break;
	case SQLITE_NOMEM:
		code = ERR_NOMEM;
		break;
	case SQLITE_TOOBIG:
		code = ERR_TOO_BIG;
		break;
	default:
		code = ERR_IO;
	}
	return err_set(e, code, "%s: %s", what, sqlite3_errmsg(q->db));
}

static int prep(struct sq *q, sqlite3_stmt **st, const char *sql, const char *what, struct err *e)
{
	int rc = sqlite3_prepare_v2(q->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		return map(q, rc, what, e);
	}
	return 0;
}

/* ---- binding and reading ---- */

struct bnd {
	sqlite3_stmt *st; /* statement being bound */
	int i;            /* last parameter index bound */
	int rc;           /* first failure */
};

static void b_t(struct bnd *b, const char *s)
{
	b->i++;
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_text(b->st, b->i, s, -1, SQLITE_STATIC);
}

/* Text, or NULL when empty. */
static void b_tn(struct bnd *b, const char *s)
{
	b->i++;
	if (b->rc == SQLITE_OK)
		b->rc = s[0] ? sqlite3_bind_text(b->st, b->i, s, -1, SQLITE_STATIC)
			     : sqlite3_bind_null(b->st, b->i);
}

static void b_i(struct bnd *b, int64_t v)
{
	b->i++;
	if (b->rc == SQLITE_OK)
		b->rc = sqlite3_bind_int64(b->st, b->i, (sqlite3_int64)v);
}

/* uint64 as its int64 bit pattern (store.c caps ids at INT64_MAX; machine_id may use all 64 bits). */
static void b_u(struct bnd *b, uint64_t v)
{
	b_i(b, (int64_t)v);
}

struct row {
	sqlite3_stmt *st; /* statement on a row */
	int i;            /* next column */
};

static void r_t(struct row *r, char *out, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(r->st, r->i);
	size_t n = (size_t)sqlite3_column_bytes(r->st, r->i);
	r->i++;
	if (!t)
		n = 0;
	if (n >= cap) /* only a row written around store.c can be longer */
		n = cap - 1;
	if (n)
		memcpy(out, t, n);
	out[n] = '\0';
}

static int64_t r_i(struct row *r)
{
	return (int64_t)sqlite3_column_int64(r->st, r->i++);
}

static uint64_t r_u(struct row *r)
{
	return (uint64_t)r_i(r);
}

/* Steps a write once; finalizes. `brc` is the binding result. */
static int run(struct sq *q, sqlite3_stmt *st, int brc, const char *what, struct err *e)
{
	int rc = brc == SQLITE_OK ? sqlite3_step(st) : brc;
	int ret = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : map(q, rc, what, e);
	sqlite3_finalize(st);
	return ret;
}

/* Steps to the first row: 0 on a row (caller reads, then finalizes), ERR_NOT_FOUND, or error (finalized). */
static int first(struct sq *q, sqlite3_stmt *st, int brc, const char *what, struct err *e)
{
	int rc = brc == SQLITE_OK ? sqlite3_step(st) : brc;
	if (rc == SQLITE_ROW)
		return 0;
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return err_set(e, ERR_NOT_FOUND, "%s: not found", what);
	return map(q, rc, what, e);
}

static uint64_t changes(struct sq *q)
{
	return (uint64_t)sqlite3_changes64(q->db);
}

/* ---- enums as text ---- */

/* ---- lifecycle and transactions ---- */

static void sq_close(struct store *s)
{
	struct sq *q = SQ(s);
	if (q->in_tx) {
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		q->in_tx = false;
		ul(q);
	}
	sqlite3_close_v2(q->db);
	pthread_mutex_destroy(&q->mu);
	free(q);
	free(s);
}

static int sq_schema_version(struct store *s, int *out, struct err *e)
{
	struct sq *q = SQ(s);
	lk(q);
	int rc = store_migrate_version(q->db, out, e);
	ul(q);
	return rc;
}

static int sq_tx_begin(struct store *s, struct err *e)
{
	struct sq *q = SQ(s);
	int rc;
	lk(q);
	if (q->in_tx) { /* ours: another thread's tx holds the mutex */
		ul(q);
		return err_set(e, ERR_STATE, "transaction: already open in this thread");
	}
	rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = map(q, rc, "transaction begin", e);
		ul(q);
		return rc;
	}
	q->in_tx = true;
	q->tx_owner = pthread_self();
	return 0; /* the mutex stays held until commit or rollback */
}

static int tx_end(struct store *s, bool commit, struct err *e)
{
	struct sq *q = SQ(s);
	int rc = 0;
	lk(q);
	if (!q->in_tx || !pthread_equal(q->tx_owner, pthread_self())) {
		ul(q);
		return err_set(e, ERR_STATE, "transaction: none open in this thread");
	}
	if (commit) {
		int src = sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
		if (src != SQLITE_OK) {
			rc = map(q, src, "transaction commit", e);
			sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		}
	} else {
		int src = sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		if (src != SQLITE_OK)
			rc = map(q, src, "transaction rollback", e);
	}
	q->in_tx = false;
	ul(q); /* this call's lock */
	ul(q); /* the lock taken by begin */
	return rc;
}

static int sq_tx_commit(struct store *s, struct err *e)
{
	return tx_end(s, true, e);
}

static int sq_tx_rollback(struct store *s, struct err *e)
{
	return tx_end(s, false, e);
}

/* ---- providers, hosts, GPUs ---- */

static int sq_provider_upsert(struct store *s, const struct store_provider *p, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO providers(address, first_seen, last_heartbeat, endpoint)"
			" VALUES (?1, ?2, ?3, ?4) ON CONFLICT(address) DO UPDATE SET"
			" last_heartbeat = max(providers.last_heartbeat, excluded.last_heartbeat),"
			" endpoint = excluded.endpoint",
			"provider upsert", e))) {
		b_t(&b, p->address);
		b_i(&b, p->first_seen);
		b_i(&b, p->last_heartbeat);
		b_t(&b, p->endpoint);
		rc = run(q, b.st, b.rc, "provider upsert", e);
	}
	ul(q);
	return rc;
}

static int sq_provider_get(struct store *s, struct store_provider *out, const char *address,
			   struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_provider p = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT address, first_seen, last_heartbeat, endpoint FROM providers"
			" WHERE address = ?1",
			"provider", e))) {
		b_t(&b, address);
		if (!(rc = first(q, b.st, b.rc, "provider", e))) {
			struct row r = { b.st, 0 };
			r_t(&r, p.address, sizeof p.address);
			p.first_seen = r_i(&r);
			p.last_heartbeat = r_i(&r);
			r_t(&r, p.endpoint, sizeof p.endpoint);
			sqlite3_finalize(b.st);
			*out = p;
		}
	}
	ul(q);
	return rc;
}

static int sq_host_upsert(struct store *s, const struct store_host *h, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO hosts(machine_id, provider, country, region, net_up_mbps,"
			" net_down_mbps, cpu_cores, ram_gib, disk_gib, driver_version, cuda_version,"
			" simulated, updated_at, isolation, images, jupyter)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
			" ON CONFLICT(machine_id) DO UPDATE SET country = excluded.country,"
			" region = excluded.region, net_up_mbps = excluded.net_up_mbps,"
			" net_down_mbps = excluded.net_down_mbps, cpu_cores = excluded.cpu_cores,"
			" ram_gib = excluded.ram_gib, disk_gib = excluded.disk_gib,"
			" driver_version = excluded.driver_version,"
			" cuda_version = excluded.cuda_version, simulated = excluded.simulated,"
			" updated_at = excluded.updated_at, isolation = excluded.isolation,"
			" images = excluded.images, jupyter = excluded.jupyter"
			" WHERE hosts.provider = excluded.provider",
			"host upsert", e))) {
		b_u(&b, h->machine_id);
		b_t(&b, h->provider);
		b_t(&b, h->country);
		b_t(&b, h->region);
		b_i(&b, h->net_up_mbps);
		b_i(&b, h->net_down_mbps);
		b_i(&b, h->cpu_cores);
		b_i(&b, h->ram_gib);
		b_i(&b, h->disk_gib);
		b_t(&b, h->driver_version);
		b_t(&b, h->cuda_version);
		b_i(&b, h->simulated);
		b_i(&b, h->updated_at);
		b_t(&b, h->isolation[0] ? h->isolation : "account");
		b_t(&b, h->images);
		b_i(&b, h->jupyter);
		rc = run(q, b.st, b.rc, "host upsert", e);
		if (rc == ERR_NOT_FOUND)
			err_set(e, rc, "host upsert: provider %s not stored", h->provider);
		else if (!rc && changes(q) == 0)
			rc = err_set(e, ERR_CONFLICT, "host upsert: machine_id belongs to another provider");
	}
	ul(q);
	return rc;
}

static int sq_host_get(struct store *s, struct store_host *out, uint64_t machine_id, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_host h = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT machine_id, provider, country, region, net_up_mbps, net_down_mbps,"
			" cpu_cores, ram_gib, disk_gib, driver_version, cuda_version, simulated,"
			" updated_at, isolation, images, jupyter FROM hosts WHERE machine_id = ?1",
			"host", e))) {
		b_u(&b, machine_id);
		if (!(rc = first(q, b.st, b.rc, "host", e))) {
			struct row r = { b.st, 0 };
			h.machine_id = r_u(&r);
			r_t(&r, h.provider, sizeof h.provider);
			r_t(&r, h.country, sizeof h.country);
			r_t(&r, h.region, sizeof h.region);
			h.net_up_mbps = (uint32_t)r_i(&r);
			h.net_down_mbps = (uint32_t)r_i(&r);
			h.cpu_cores = (uint32_t)r_i(&r);
			h.ram_gib = (uint32_t)r_i(&r);
			h.disk_gib = (uint32_t)r_i(&r);
			r_t(&r, h.driver_version, sizeof h.driver_version);
			r_t(&r, h.cuda_version, sizeof h.cuda_version);
			h.simulated = r_i(&r) != 0;
			h.updated_at = r_i(&r);
			r_t(&r, h.isolation, sizeof h.isolation);
			r_t(&r, h.images, sizeof h.images);
			h.jupyter = r_i(&r) != 0;
			sqlite3_finalize(b.st);
			*out = h;
		}
	}
	ul(q);
	return rc;
}

#define GPU_COLS                                                                                   \
	"machine_id, idx, model, vram_mib, fp32_mtflops, fp16_mtflops, mem_bw_gbps,"              \
	" bench_verified, bench_at"

static void row_gpu(sqlite3_stmt *st, struct store_gpu *g)
{
	memset(g, 0, sizeof *g);
	struct row r = { st, 0 };
	g->machine_id = r_u(&r);
	g->index = (uint32_t)r_i(&r);
	r_t(&r, g->model, sizeof g->model);
	g->vram_mib = (uint32_t)r_i(&r);
	g->fp32_mtflops = r_u(&r);
	g->fp16_mtflops = r_u(&r);
	g->mem_bw_gbps = (uint32_t)r_i(&r);
	g->bench_verified = r_i(&r) != 0;
	g->bench_at = r_i(&r);
}

static int sq_gpu_upsert(struct store *s, const struct store_gpu *g, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO gpus(" GPU_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
			" ON CONFLICT(machine_id, idx) DO UPDATE SET model = excluded.model,"
			" vram_mib = excluded.vram_mib, fp32_mtflops = excluded.fp32_mtflops,"
			" fp16_mtflops = excluded.fp16_mtflops, mem_bw_gbps = excluded.mem_bw_gbps,"
			" bench_verified = excluded.bench_verified, bench_at = excluded.bench_at",
			"gpu upsert", e))) {
		b_u(&b, g->machine_id);
		b_i(&b, g->index);
		b_t(&b, g->model);
		b_i(&b, g->vram_mib);
		b_u(&b, g->fp32_mtflops);
		b_u(&b, g->fp16_mtflops);
		b_i(&b, g->mem_bw_gbps);
		b_i(&b, g->bench_verified);
		b_i(&b, g->bench_at);
		rc = run(q, b.st, b.rc, "gpu upsert", e);
		if (rc == ERR_NOT_FOUND)
			err_set(e, rc, "gpu upsert: host not stored");
	}
	ul(q);
	return rc;
}

static int sq_gpu_get(struct store *s, struct store_gpu *out, uint64_t machine_id, uint32_t index,
		      struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_gpu g = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "SELECT " GPU_COLS " FROM gpus WHERE machine_id = ?1 AND idx = ?2",
			"gpu", e))) {
		b_u(&b, machine_id);
		b_i(&b, index);
		if (!(rc = first(q, b.st, b.rc, "gpu", e))) {
			row_gpu(b.st, &g);
			sqlite3_finalize(b.st);
			*out = g;
		}
	}
	ul(q);
	return rc;
}

static int sq_gpus_list(struct store *s, uint64_t machine_id, store_gpu_cb cb, void *ctx,
			struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_gpu g = { 0 };
	int rc, src;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT " GPU_COLS " FROM gpus WHERE machine_id = ?1 ORDER BY idx", "gpus", e))) {
		b_u(&b, machine_id);
		src = b.rc;
		while (src == SQLITE_OK && (src = sqlite3_step(b.st)) == SQLITE_ROW) {
			row_gpu(b.st, &g);
			if ((rc = cb(ctx, &g)))
				break;
			src = SQLITE_OK;
		}
		if (!rc && src != SQLITE_DONE)
			rc = map(q, src, "gpus", e);
		sqlite3_finalize(b.st);
	}
	ul(q);
	return rc;
}

/* ---- offers ---- */

#define OFFER_COLS                                                                                 \
	"offer_hash, machine_id, provider, payout, token, arbiter, rate, min_secs, max_secs,"     \
	" interruptible, notice_secs, grace_secs, dispute_secs, spec_hash, expiry, nonce,"       \
	" signature, token_symbol, token_decimals, status, created_at, updated_at, capacity,"     \
	" monitor, max_fee_bps"

static void row_offer(sqlite3_stmt *st, struct store_offer *o)
{
	memset(o, 0, sizeof *o);
	struct row r = { st, 0 };
	char status[16];
	r_t(&r, o->offer_hash, sizeof o->offer_hash);
	o->machine_id = r_u(&r);
	r_t(&r, o->provider, sizeof o->provider);
	r_t(&r, o->payout, sizeof o->payout);
	r_t(&r, o->token, sizeof o->token);
	r_t(&r, o->arbiter, sizeof o->arbiter);
	r_t(&r, o->rate, sizeof o->rate);
	o->min_secs = (uint32_t)r_i(&r);
	o->max_secs = (uint32_t)r_i(&r);
	o->interruptible = r_i(&r) != 0;
	o->notice_secs = (uint32_t)r_i(&r);
	o->grace_secs = (uint32_t)r_i(&r);
	o->dispute_secs = (uint32_t)r_i(&r);
	r_t(&r, o->spec_hash, sizeof o->spec_hash);
	o->expiry = r_i(&r);
	r_t(&r, o->nonce, sizeof o->nonce);
	r_t(&r, o->signature, sizeof o->signature);
	r_t(&r, o->token_symbol, sizeof o->token_symbol);
	o->token_decimals = (uint8_t)r_i(&r);
	r_t(&r, status, sizeof status);
	o->status = store_offer_status_from(status);
	o->created_at = r_i(&r);
	o->updated_at = r_i(&r);
	o->capacity = (uint16_t)r_i(&r);
	r_t(&r, o->monitor, sizeof o->monitor);
	o->max_fee_bps = (uint16_t)r_i(&r);
}

static int sq_offer_put(struct store *s, const struct store_offer *o, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO offers(" OFFER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
			" ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)"
			" ON CONFLICT(offer_hash) DO UPDATE SET machine_id = excluded.machine_id,"
			" provider = excluded.provider, payout = excluded.payout,"
			" token = excluded.token, arbiter = excluded.arbiter, rate = excluded.rate,"
			" min_secs = excluded.min_secs, max_secs = excluded.max_secs,"
			" interruptible = excluded.interruptible, notice_secs = excluded.notice_secs,"
			" grace_secs = excluded.grace_secs, dispute_secs = excluded.dispute_secs,"
			" spec_hash = excluded.spec_hash, expiry = excluded.expiry,"
			" nonce = excluded.nonce, signature = excluded.signature,"
			" token_symbol = excluded.token_symbol,"
			" token_decimals = excluded.token_decimals, capacity = excluded.capacity,"
			" monitor = excluded.monitor, max_fee_bps = excluded.max_fee_bps,"
			" status = CASE WHEN offers.status = 'cancelled' THEN 'cancelled'"
			" ELSE excluded.status END, updated_at = excluded.updated_at",
			"offer put", e))) {
		b_t(&b, o->offer_hash);
		b_u(&b, o->machine_id);
		b_t(&b, o->provider);
		b_t(&b, o->payout);
		b_t(&b, o->token);
		b_t(&b, o->arbiter);
		b_t(&b, o->rate);
		b_i(&b, o->min_secs);
		b_i(&b, o->max_secs);
		b_i(&b, o->interruptible);
		b_i(&b, o->notice_secs);
		b_i(&b, o->grace_secs);
		b_i(&b, o->dispute_secs);
		b_t(&b, o->spec_hash);
		b_i(&b, o->expiry);
		b_t(&b, o->nonce);
		b_t(&b, o->signature);
		b_t(&b, o->token_symbol);
		b_i(&b, o->token_decimals);
		b_t(&b, store_offer_status_name(o->status));
		b_i(&b, o->created_at);
		b_i(&b, o->updated_at);
		b_i(&b, o->capacity);
		b_t(&b, o->monitor);
		b_i(&b, o->max_fee_bps);
		rc = run(q, b.st, b.rc, "offer put", e);
	}
	ul(q);
	return rc;
}

static int sq_offer_get(struct store *s, struct store_offer *out, const char *offer_hash,
			struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_offer *o;
	int rc;
	if (!(o = malloc(sizeof *o)))
		return err_set(e, ERR_NOMEM, "offer: out of memory");
	lk(q);
	if (!(rc = prep(q, &b.st, "SELECT " OFFER_COLS " FROM offers WHERE offer_hash = ?1", "offer",
			e))) {
		b_t(&b, offer_hash);
		if (!(rc = first(q, b.st, b.rc, "offer", e))) {
			row_offer(b.st, o);
			sqlite3_finalize(b.st);
			*out = *o;
		}
	}
	ul(q);
	free(o);
	return rc;
}

static int sq_offer_set_status(struct store *s, const char *offer_hash,
			       enum store_offer_status status, int64_t now, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"UPDATE offers SET status = ?1, updated_at = ?2 WHERE offer_hash = ?3"
			" AND (status <> 'cancelled' OR ?1 = 'cancelled')",
			"offer status", e))) {
		b_t(&b, store_offer_status_name(status));
		b_i(&b, now);
		b_t(&b, offer_hash);
		if (!(rc = run(q, b.st, b.rc, "offer status", e)) && changes(q) == 0) {
			/* Tell "no such offer" from "cancelled is final". */
			struct bnd c = { 0 };
			if (!(rc = prep(q, &c.st, "SELECT 1 FROM offers WHERE offer_hash = ?1",
					"offer status", e))) {
				b_t(&c, offer_hash);
				if (!(rc = first(q, c.st, c.rc, "offer status", e))) {
					sqlite3_finalize(c.st);
					rc = err_set(e, ERR_STATE, "offer status: offer is cancelled");
				}
			}
		}
	}
	ul(q);
	return rc;
}

static int sq_offer_cancel_nonce(struct store *s, uint64_t *count, const char *provider,
				 const char *nonce, int64_t now, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"UPDATE offers SET status = 'cancelled', updated_at = ?1"
			" WHERE provider = ?2 AND nonce = ?3 AND status <> 'cancelled'",
			"offer cancel", e))) {
		b_i(&b, now);
		b_t(&b, provider);
		b_t(&b, nonce);
		if (!(rc = run(q, b.st, b.rc, "offer cancel", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

static int sq_offers_expire(struct store *s, uint64_t *count, int64_t now, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"UPDATE offers SET status = 'expired', updated_at = ?1"
			" WHERE status = 'active' AND expiry <= ?1",
			"offers expire", e))) {
		b_i(&b, now);
		if (!(rc = run(q, b.st, b.rc, "offers expire", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

/* Runs an offers SELECT (bound: ?1 = now, ?2 = provider when given) and hands each row to cb. */
static int offers_each(struct store *s, const char *sql, const char *provider, int64_t now, store_offer_cb cb,
		       void *ctx, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_offer *o;
	int rc, src;
	if (!(o = malloc(sizeof *o)))
		return err_set(e, ERR_NOMEM, "offers: out of memory");
	lk(q);
	if (!(rc = prep(q, &b.st, sql, "offers", e))) {
		b_i(&b, now);
		if (provider)
			b_t(&b, provider);
		src = b.rc;
		while (src == SQLITE_OK && (src = sqlite3_step(b.st)) == SQLITE_ROW) {
			row_offer(b.st, o);
			if ((rc = cb(ctx, o)))
				break;
			src = SQLITE_OK;
		}
		if (!rc && src != SQLITE_DONE)
			rc = map(q, src, "offers", e);
		sqlite3_finalize(b.st);
	}
	ul(q);
	free(o);
	return rc;
}

static int sq_offers_active(struct store *s, int64_t now, store_offer_cb cb, void *ctx, struct err *e)
{
	return offers_each(s, "SELECT " OFFER_COLS " FROM offers WHERE status = 'active' AND expiry > ?1"
			   " ORDER BY provider, machine_id, offer_hash", NULL, now, cb, ctx, e);
}

static int sq_offers_of_provider(struct store *s, const char *provider, int64_t now, store_offer_cb cb,
				 void *ctx, struct err *e)
{
	return offers_each(s, "SELECT " OFFER_COLS " FROM offers WHERE provider = ?2 AND expiry > ?1"
			   " ORDER BY offer_hash", provider, now, cb, ctx, e);
}

/* ---- nonces and sessions ---- */

static int sq_nonce_issue(struct store *s, const char *nonce, int64_t now, int64_t expires_at,
			  struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO auth_nonces(nonce, issued_at, expires_at) VALUES (?1, ?2, ?3)",
			"nonce issue", e))) {
		b_t(&b, nonce);
		b_i(&b, now);
		b_i(&b, expires_at);
		rc = run(q, b.st, b.rc, "nonce issue", e);
		if (rc == ERR_CONFLICT)
			err_set(e, rc, "nonce: already issued");
	}
	ul(q);
	return rc;
}

static int sq_nonce_consume(struct store *s, const char *nonce, int64_t now, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	/* One statement decides, so two consumers can never both win. */
	if (!(rc = prep(q, &b.st,
			"UPDATE auth_nonces SET used_at = ?1"
			" WHERE nonce = ?2 AND used_at IS NULL AND expires_at > ?1",
			"nonce consume", e))) {
		b_i(&b, now);
		b_t(&b, nonce);
		if (!(rc = run(q, b.st, b.rc, "nonce consume", e)) && changes(q) == 0) {
			struct bnd c = { 0 };
			if (!(rc = prep(q, &c.st,
					"SELECT used_at IS NOT NULL FROM auth_nonces WHERE nonce = ?1",
					"nonce", e))) {
				b_t(&c, nonce);
				if (!(rc = first(q, c.st, c.rc, "nonce", e))) {
					bool used = sqlite3_column_int(c.st, 0) != 0;
					sqlite3_finalize(c.st);
					rc = used ? err_set(e, ERR_CONFLICT, "nonce: already used")
						  : err_set(e, ERR_STATE, "nonce: expired");
				}
			}
		}
	}
	ul(q);
	return rc;
}

static int sq_nonces_purge(struct store *s, uint64_t *count, int64_t before, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM auth_nonces WHERE expires_at < ?1", "nonces purge",
			e))) {
		b_i(&b, before);
		if (!(rc = run(q, b.st, b.rc, "nonces purge", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

static int sq_session_create(struct store *s, const char *token_hash, const char *address,
			     int64_t now, int64_t expires_at, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO sessions(token_hash, address, created_at, expires_at)"
			" VALUES (?1, ?2, ?3, ?4)",
			"session create", e))) {
		b_t(&b, token_hash);
		b_t(&b, address);
		b_i(&b, now);
		b_i(&b, expires_at);
		rc = run(q, b.st, b.rc, "session create", e);
		if (rc == ERR_CONFLICT)
			err_set(e, rc, "session: token already in use");
	}
	ul(q);
	return rc;
}

static int sq_session_lookup(struct store *s, struct store_session *out, const char *token_hash,
			     int64_t now, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_session ss = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT address, created_at, expires_at FROM sessions WHERE token_hash = ?1",
			"session", e))) {
		b_t(&b, token_hash);
		if (!(rc = first(q, b.st, b.rc, "session", e))) {
			struct row r = { b.st, 0 };
			r_t(&r, ss.address, sizeof ss.address);
			ss.created_at = r_i(&r);
			ss.expires_at = r_i(&r);
			sqlite3_finalize(b.st);
			if (now >= ss.expires_at)
				rc = err_set(e, ERR_STATE, "session: expired");
			else
				*out = ss;
		}
	}
	ul(q);
	return rc;
}

static int sq_session_delete(struct store *s, const char *token_hash, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM sessions WHERE token_hash = ?1", "session delete",
			e))) {
		b_t(&b, token_hash);
		if (!(rc = run(q, b.st, b.rc, "session delete", e)) && changes(q) == 0)
			rc = err_set(e, ERR_NOT_FOUND, "session: not found");
	}
	ul(q);
	return rc;
}

static int sq_sessions_purge(struct store *s, uint64_t *count, int64_t before, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM sessions WHERE expires_at < ?1", "sessions purge",
			e))) {
		b_i(&b, before);
		if (!(rc = run(q, b.st, b.rc, "sessions purge", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

/* ---- rentals ---- */

#define RENTAL_COLS                                                                                \
	"chain_id, id, offer_hash, renter, provider, payout, token, rate, fee_bps, deposited,"   \
	" claimed, provider_paid, fee_paid, refunded, state, opened_at, paid_until, ended_at,"   \
	" opened_block, opened_tx, last_block, extra"

static void row_rental(sqlite3_stmt *st, struct store_rental *x)
{
	memset(x, 0, sizeof *x);
	struct row r = { st, 0 };
	char state[16];
	x->chain_id = r_u(&r);
	x->id = r_u(&r);
	r_t(&r, x->offer_hash, sizeof x->offer_hash);
	r_t(&r, x->renter, sizeof x->renter);
	r_t(&r, x->provider, sizeof x->provider);
	r_t(&r, x->payout, sizeof x->payout);
	r_t(&r, x->token, sizeof x->token);
	r_t(&r, x->rate, sizeof x->rate);
	x->fee_bps = (uint32_t)r_i(&r);
	r_t(&r, x->deposited, sizeof x->deposited);
	r_t(&r, x->claimed, sizeof x->claimed);
	r_t(&r, x->provider_paid, sizeof x->provider_paid);
	r_t(&r, x->fee_paid, sizeof x->fee_paid);
	r_t(&r, x->refunded, sizeof x->refunded);
	r_t(&r, state, sizeof state);
	x->state = store_rental_state_from(state);
	x->opened_at = r_i(&r);
	x->paid_until = r_i(&r);
	x->ended_at = r_i(&r);
	x->opened_block = r_u(&r);
	r_t(&r, x->opened_tx, sizeof x->opened_tx);
	x->last_block = r_u(&r);
	r_t(&r, x->extra, sizeof x->extra);
}

static int sq_rental_upsert(struct store *s, const struct store_rental *x, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO rentals(" RENTAL_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
			" ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
			" ON CONFLICT(chain_id, id) DO UPDATE SET offer_hash = excluded.offer_hash,"
			" renter = excluded.renter, provider = excluded.provider,"
			" payout = excluded.payout, token = excluded.token, rate = excluded.rate,"
			" fee_bps = excluded.fee_bps, deposited = excluded.deposited,"
			" claimed = excluded.claimed, provider_paid = excluded.provider_paid,"
			" fee_paid = excluded.fee_paid, refunded = excluded.refunded,"
			" state = excluded.state, opened_at = excluded.opened_at,"
			" paid_until = excluded.paid_until, ended_at = excluded.ended_at,"
			" opened_block = excluded.opened_block, opened_tx = excluded.opened_tx,"
			" last_block = excluded.last_block, extra = excluded.extra",
			"rental upsert", e))) {
		b_u(&b, x->chain_id);
		b_u(&b, x->id);
		b_tn(&b, x->offer_hash);
		b_t(&b, x->renter);
		b_t(&b, x->provider);
		b_t(&b, x->payout);
		b_t(&b, x->token);
		b_t(&b, x->rate);
		b_i(&b, x->fee_bps);
		b_t(&b, x->deposited);
		b_t(&b, x->claimed);
		b_t(&b, x->provider_paid);
		b_t(&b, x->fee_paid);
		b_t(&b, x->refunded);
		b_t(&b, store_rental_state_name(x->state));
		b_i(&b, x->opened_at);
		b_i(&b, x->paid_until);
		b_i(&b, x->ended_at);
		b_u(&b, x->opened_block);
		b_t(&b, x->opened_tx);
		b_u(&b, x->last_block);
		b_t(&b, x->extra[0] ? x->extra : "{}");
		rc = run(q, b.st, b.rc, "rental upsert", e);
	}
	ul(q);
	return rc;
}

static int sq_rental_get(struct store *s, struct store_rental *out, uint64_t chain_id, uint64_t id,
			 struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_rental *x;
	int rc;
	if (!(x = malloc(sizeof *x)))
		return err_set(e, ERR_NOMEM, "rental: out of memory");
	lk(q);
	if (!(rc = prep(q, &b.st, "SELECT " RENTAL_COLS " FROM rentals WHERE chain_id = ?1 AND id = ?2",
			"rental", e))) {
		b_u(&b, chain_id);
		b_u(&b, id);
		if (!(rc = first(q, b.st, b.rc, "rental", e))) {
			row_rental(b.st, x);
			sqlite3_finalize(b.st);
			*out = *x;
		}
	}
	ul(q);
	free(x);
	return rc;
}

static int sq_rentals_list(struct store *s, uint64_t chain_id, const char *address,
			   bool by_provider, uint32_t limit, store_rental_cb cb, void *ctx,
			   struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_rental *x;
	int rc, src;
	if (!(x = malloc(sizeof *x)))
		return err_set(e, ERR_NOMEM, "rentals: out of memory");
	lk(q);
	rc = prep(q, &b.st,
		  by_provider ? "SELECT " RENTAL_COLS " FROM rentals WHERE chain_id = ?1"
				" AND provider = ?2 ORDER BY opened_at DESC, id DESC LIMIT ?3"
			      : "SELECT " RENTAL_COLS " FROM rentals WHERE chain_id = ?1"
				" AND renter = ?2 ORDER BY opened_at DESC, id DESC LIMIT ?3",
		  "rentals", e);
	if (!rc) {
		b_u(&b, chain_id);
		b_t(&b, address);
		b_i(&b, limit);
		src = b.rc;
		while (src == SQLITE_OK && (src = sqlite3_step(b.st)) == SQLITE_ROW) {
			row_rental(b.st, x);
			if ((rc = cb(ctx, x)))
				break;
			src = SQLITE_OK;
		}
		if (!rc && src != SQLITE_DONE)
			rc = map(q, src, "rentals", e);
		sqlite3_finalize(b.st);
	}
	ul(q);
	free(x);
	return rc;
}

static int sq_rental_delete(struct store *s, uint64_t chain_id, uint64_t id, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM rentals WHERE chain_id = ?1 AND id = ?2",
			"rental delete", e))) {
		b_u(&b, chain_id);
		b_u(&b, id);
		if (!(rc = run(q, b.st, b.rc, "rental delete", e)) && changes(q) == 0)
			rc = err_set(e, ERR_NOT_FOUND, "rental: not found");
	}
	ul(q);
	return rc;
}

/* ---- events, indexer progress, recent blocks ---- */

#define EVENT_COLS                                                                                 \
	"chain_id, block_number, block_hash, block_time, tx_hash, log_index, rental_id, kind, data"

static int sq_event_insert(struct store *s, bool *inserted, const struct store_event *ev,
			   struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	/* DO NOTHING only on the identity conflict: other violations still fail. */
	if (!(rc = prep(q, &b.st,
			"INSERT INTO rental_events(" EVENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
			" ?7, ?8, ?9) ON CONFLICT(chain_id, tx_hash, log_index) DO NOTHING",
			"event insert", e))) {
		b_u(&b, ev->chain_id);
		b_u(&b, ev->block_number);
		b_t(&b, ev->block_hash);
		b_i(&b, ev->block_time);
		b_t(&b, ev->tx_hash);
		b_i(&b, ev->log_index);
		b_u(&b, ev->rental_id);
		b_t(&b, ev->kind);
		b_t(&b, ev->data[0] ? ev->data : "{}");
		if (!(rc = run(q, b.st, b.rc, "event insert", e)) && inserted)
			*inserted = changes(q) == 1;
	}
	ul(q);
	return rc;
}

static int sq_events_of_rental(struct store *s, uint64_t chain_id, uint64_t rental_id,
			       store_event_cb cb, void *ctx, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_event *ev;
	int rc, src;
	if (!(ev = malloc(sizeof *ev)))
		return err_set(e, ERR_NOMEM, "events: out of memory");
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT " EVENT_COLS " FROM rental_events WHERE chain_id = ?1"
			" AND rental_id = ?2 ORDER BY block_number, log_index",
			"events", e))) {
		b_u(&b, chain_id);
		b_u(&b, rental_id);
		src = b.rc;
		while (src == SQLITE_OK && (src = sqlite3_step(b.st)) == SQLITE_ROW) {
			struct row r = { b.st, 0 };
			memset(ev, 0, sizeof *ev);
			ev->chain_id = r_u(&r);
			ev->block_number = r_u(&r);
			r_t(&r, ev->block_hash, sizeof ev->block_hash);
			ev->block_time = r_i(&r);
			r_t(&r, ev->tx_hash, sizeof ev->tx_hash);
			ev->log_index = (uint32_t)r_i(&r);
			ev->rental_id = r_u(&r);
			r_t(&r, ev->kind, sizeof ev->kind);
			r_t(&r, ev->data, sizeof ev->data);
			if ((rc = cb(ctx, ev)))
				break;
			src = SQLITE_OK;
		}
		if (!rc && src != SQLITE_DONE)
			rc = map(q, src, "events", e);
		sqlite3_finalize(b.st);
	}
	ul(q);
	free(ev);
	return rc;
}

static int sq_events_delete_from(struct store *s, uint64_t *count, uint64_t chain_id,
				 uint64_t from_block, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"DELETE FROM rental_events WHERE chain_id = ?1 AND block_number >= ?2",
			"events delete", e))) {
		b_u(&b, chain_id);
		b_u(&b, from_block);
		if (!(rc = run(q, b.st, b.rc, "events delete", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

static int sq_indexer_get(struct store *s, struct store_indexer *out, uint64_t chain_id,
			  const char *contract, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_indexer p = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT chain_id, contract, block_number, block_hash, updated_at"
			" FROM indexer_progress WHERE chain_id = ?1 AND contract = ?2",
			"indexer progress", e))) {
		b_u(&b, chain_id);
		b_t(&b, contract);
		if (!(rc = first(q, b.st, b.rc, "indexer progress", e))) {
			struct row r = { b.st, 0 };
			p.chain_id = r_u(&r);
			r_t(&r, p.contract, sizeof p.contract);
			p.block_number = r_u(&r);
			r_t(&r, p.block_hash, sizeof p.block_hash);
			p.updated_at = r_i(&r);
			sqlite3_finalize(b.st);
			*out = p;
		}
	}
	ul(q);
	return rc;
}

static int sq_indexer_set(struct store *s, const struct store_indexer *p, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO indexer_progress(chain_id, contract, block_number, block_hash,"
			" updated_at) VALUES (?1, ?2, ?3, ?4, ?5)"
			" ON CONFLICT(chain_id, contract) DO UPDATE SET"
			" block_number = excluded.block_number, block_hash = excluded.block_hash,"
			" updated_at = excluded.updated_at",
			"indexer progress set", e))) {
		b_u(&b, p->chain_id);
		b_t(&b, p->contract);
		b_u(&b, p->block_number);
		b_t(&b, p->block_hash);
		b_i(&b, p->updated_at);
		rc = run(q, b.st, b.rc, "indexer progress set", e);
	}
	ul(q);
	return rc;
}

static int sq_block_put(struct store *s, uint64_t chain_id, uint64_t number, const char *hash,
			struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO recent_blocks(chain_id, number, hash) VALUES (?1, ?2, ?3)"
			" ON CONFLICT(chain_id, number) DO UPDATE SET hash = excluded.hash",
			"block put", e))) {
		b_u(&b, chain_id);
		b_u(&b, number);
		b_t(&b, hash);
		rc = run(q, b.st, b.rc, "block put", e);
	}
	ul(q);
	return rc;
}

static int sq_block_get(struct store *s, char *out, uint64_t chain_id, uint64_t number,
			struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT hash FROM recent_blocks WHERE chain_id = ?1 AND number = ?2", "block",
			e))) {
		b_u(&b, chain_id);
		b_u(&b, number);
		if (!(rc = first(q, b.st, b.rc, "block", e))) {
			struct row r = { b.st, 0 };
			r_t(&r, out, STORE_HASH_SIZE);
			sqlite3_finalize(b.st);
		}
	}
	ul(q);
	return rc;
}

static int sq_blocks_delete(struct store *s, uint64_t *count, uint64_t chain_id, uint64_t bound,
			    bool below, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			below ? "DELETE FROM recent_blocks WHERE chain_id = ?1 AND number < ?2"
			      : "DELETE FROM recent_blocks WHERE chain_id = ?1 AND number >= ?2",
			"blocks delete", e))) {
		b_u(&b, chain_id);
		b_u(&b, bound);
		if (!(rc = run(q, b.st, b.rc, "blocks delete", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

/* ---- ratings, probes, access reports ---- */

static int sq_rating_insert(struct store *s, const struct store_rating *x, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO ratings(chain_id, rental_id, renter, stars, comment, created_at)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			"rating insert", e))) {
		b_u(&b, x->chain_id);
		b_u(&b, x->rental_id);
		b_t(&b, x->renter);
		b_i(&b, x->stars);
		b_t(&b, x->comment);
		b_i(&b, x->created_at);
		rc = run(q, b.st, b.rc, "rating insert", e);
		if (rc == ERR_CONFLICT)
			err_set(e, rc, "rating: this rental is already rated");
	}
	ul(q);
	return rc;
}

static int sq_rating_get(struct store *s, struct store_rating *out, uint64_t chain_id,
			 uint64_t rental_id, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_rating x = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT chain_id, rental_id, renter, stars, comment, created_at FROM ratings"
			" WHERE chain_id = ?1 AND rental_id = ?2",
			"rating", e))) {
		b_u(&b, chain_id);
		b_u(&b, rental_id);
		if (!(rc = first(q, b.st, b.rc, "rating", e))) {
			struct row r = { b.st, 0 };
			x.chain_id = r_u(&r);
			x.rental_id = r_u(&r);
			r_t(&r, x.renter, sizeof x.renter);
			x.stars = (uint32_t)r_i(&r);
			r_t(&r, x.comment, sizeof x.comment);
			x.created_at = r_i(&r);
			sqlite3_finalize(b.st);
			*out = x;
		}
	}
	ul(q);
	return rc;
}

static int sq_provider_ratings(struct store *s, uint64_t *count, uint64_t *stars_sum,
			       uint64_t chain_id, const char *provider, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT count(*), coalesce(sum(g.stars), 0) FROM ratings g JOIN rentals r"
			" ON r.chain_id = g.chain_id AND r.id = g.rental_id"
			" WHERE g.chain_id = ?1 AND r.provider = ?2",
			"provider ratings", e))) {
		b_u(&b, chain_id);
		b_t(&b, provider);
		if (!(rc = first(q, b.st, b.rc, "provider ratings", e))) {
			*count = (uint64_t)sqlite3_column_int64(b.st, 0);
			*stars_sum = (uint64_t)sqlite3_column_int64(b.st, 1);
			sqlite3_finalize(b.st);
		}
	}
	ul(q);
	return rc;
}

static int sq_probe_insert(struct store *s, const struct store_probe *p, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO probes(target, at, ok, latency_ms, period_s)"
			" VALUES (?1, ?2, ?3, ?4, ?5)",
			"probe insert", e))) {
		b_t(&b, p->target);
		b_i(&b, p->at);
		b_i(&b, p->ok);
		b_i(&b, p->latency_ms);
		b_i(&b, p->period_s);
		rc = run(q, b.st, b.rc, "probe insert", e);
	}
	ul(q);
	return rc;
}

static int sq_uptime(struct store *s, uint64_t *up_s, uint64_t *observed_s, const char *target,
		     int64_t from, int64_t to, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT coalesce(sum(CASE WHEN ok THEN min(period_s, ?3 - at) ELSE 0 END), 0),"
			" coalesce(sum(min(period_s, ?3 - at)), 0) FROM probes"
			" WHERE target = ?1 AND at >= ?2 AND at < ?3",
			"uptime", e))) {
		b_t(&b, target);
		b_i(&b, from);
		b_i(&b, to);
		if (!(rc = first(q, b.st, b.rc, "uptime", e))) {
			*up_s = (uint64_t)sqlite3_column_int64(b.st, 0);
			*observed_s = (uint64_t)sqlite3_column_int64(b.st, 1);
			sqlite3_finalize(b.st);
		}
	}
	ul(q);
	return rc;
}

static int sq_access_report_insert(struct store *s, const struct store_access_report *a,
				   struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO access_reports(chain_id, rental_id, granted_at, host, port, user, host_keys)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
			"access report insert", e))) {
		b_u(&b, a->chain_id);
		b_u(&b, a->rental_id);
		b_i(&b, a->granted_at);
		b_t(&b, a->host);
		b_i(&b, a->port);
		b_t(&b, a->user);
		b_t(&b, a->host_keys);
		rc = run(q, b.st, b.rc, "access report insert", e);
		if (rc == ERR_CONFLICT)
			err_set(e, rc, "access report: already reported for this rental");
	}
	ul(q);
	return rc;
}

static int sq_access_report_get(struct store *s, struct store_access_report *out,
				uint64_t chain_id, uint64_t rental_id, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	struct store_access_report a = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT chain_id, rental_id, granted_at, host, port, user, host_keys FROM access_reports"
			" WHERE chain_id = ?1 AND rental_id = ?2",
			"access report", e))) {
		b_u(&b, chain_id);
		b_u(&b, rental_id);
		if (!(rc = first(q, b.st, b.rc, "access report", e))) {
			struct row r = { b.st, 0 };
			a.chain_id = r_u(&r);
			a.rental_id = r_u(&r);
			a.granted_at = r_i(&r);
			r_t(&r, a.host, sizeof a.host);
			a.port = (uint32_t)r_i(&r);
			r_t(&r, a.user, sizeof a.user);
			r_t(&r, a.host_keys, sizeof a.host_keys);
			sqlite3_finalize(b.st);
			*out = a;
		}
	}
	ul(q);
	return rc;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int sq_provider_response_median(struct store *s, int64_t *median_s, uint64_t *count,
				       uint64_t chain_id, const char *provider, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int64_t *v;
	size_t n = 0;
	int rc, src;
	if (!(v = malloc(STORE_LIST_MAX * sizeof *v)))
		return err_set(e, ERR_NOMEM, "response median: out of memory");
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT max(a.granted_at - r.opened_at, 0) FROM access_reports a JOIN rentals r"
			" ON r.chain_id = a.chain_id AND r.id = a.rental_id"
			" WHERE a.chain_id = ?1 AND r.provider = ?2"
			" ORDER BY a.granted_at DESC, a.rental_id DESC LIMIT ?3",
			"response median", e))) {
		b_u(&b, chain_id);
		b_t(&b, provider);
		b_i(&b, STORE_LIST_MAX);
		src = b.rc;
		while (src == SQLITE_OK && (src = sqlite3_step(b.st)) == SQLITE_ROW) {
			if (n == STORE_LIST_MAX)
				break;
			v[n++] = (int64_t)sqlite3_column_int64(b.st, 0);
			src = SQLITE_OK;
		}
		if (src != SQLITE_DONE && src != SQLITE_ROW)
			rc = map(q, src, "response median", e);
		sqlite3_finalize(b.st);
	}
	ul(q);
	if (!rc) {
		qsort(v, n, sizeof *v, cmp_i64);
		/* Lower median for an even count. */
		*median_s = n ? v[(n - 1) / 2] : 0;
		*count = n;
	}
	free(v);
	return rc;
}

/* ---- replicas: a change log, roles and shared secrets (one process per SQLite file) ---- */

static int sq_change_note(struct store *s, const char *provider, const char *origin, int64_t now, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "INSERT INTO changes(provider, origin, at) VALUES (?1, ?2, ?3)", "change note", e))) {
		b_t(&b, provider);
		b_t(&b, origin);
		b_i(&b, now);
		rc = run(q, b.st, b.rc, "change note", e);
	}
	ul(q);
	return rc;
}

static int sq_changes_after(struct store *s, struct store_change *out, size_t cap, size_t *n, uint64_t *last,
			    uint64_t after, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	size_t k = 0;
	uint64_t hi = after == UINT64_MAX ? 0 : after;
	int rc, src;
	lk(q);
	if (after == UINT64_MAX)
		rc = prep(q, &b.st, "SELECT coalesce(max(seq), 0), '', '' FROM changes", "changes", e);
	else
		rc = prep(q, &b.st, "SELECT seq, provider, origin FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
			  "changes", e);
	if (!rc) {
		if (after != UINT64_MAX) {
			b_u(&b, after);
			b_i(&b, (int64_t)cap);
		}
		src = b.rc;
		while (src == SQLITE_OK && (src = sqlite3_step(b.st)) == SQLITE_ROW) {
			struct row r = { b.st, 0 };
			uint64_t seq = r_u(&r);
			if (seq > hi)
				hi = seq;
			if (after != UINT64_MAX && k < cap) {
				out[k].seq = seq;
				r_t(&r, out[k].provider, sizeof out[k].provider);
				r_t(&r, out[k].origin, sizeof out[k].origin);
				k++;
			}
			src = SQLITE_OK;
		}
		if (src != SQLITE_DONE)
			rc = map(q, src, "changes", e);
		sqlite3_finalize(b.st);
	}
	ul(q);
	if (!rc) {
		*n = k;
		*last = hi;
	}
	return rc;
}

static int sq_changes_purge(struct store *s, uint64_t *count, int64_t before, struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM changes WHERE at < ?1", "changes purge", e))) {
		b_i(&b, before);
		if (!(rc = run(q, b.st, b.rc, "changes purge", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

static int sq_role_try(struct store *s, const char *name, bool *held, struct err *e)
{
	(void)s, (void)name, (void)e;
	*held = true; /* a SQLite file has one server process */
	return 0;
}

static int sq_secret(struct store *s, const char *name, const char *hex_value, char out[65], struct err *e)
{
	struct sq *q = SQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "INSERT INTO server_secrets(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
			"secret", e))) {
		b_t(&b, name);
		b_t(&b, hex_value);
		rc = run(q, b.st, b.rc, "secret", e);
	}
	if (!rc && !(rc = prep(q, &b.st, "SELECT value FROM server_secrets WHERE name = ?1", "secret", e))) {
		b.i = 0;
		b.rc = SQLITE_OK;
		b_t(&b, name);
		if (!(rc = first(q, b.st, b.rc, "secret", e))) {
			struct row r = { b.st, 0 };
			r_t(&r, out, 65);
			sqlite3_finalize(b.st);
		}
	}
	ul(q);
	return rc;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.schema_version = sq_schema_version,
	.tx_begin = sq_tx_begin,
	.tx_commit = sq_tx_commit,
	.tx_rollback = sq_tx_rollback,
	.provider_upsert = sq_provider_upsert,
	.provider_get = sq_provider_get,
	.host_upsert = sq_host_upsert,
	.host_get = sq_host_get,
	.gpu_upsert = sq_gpu_upsert,
	.gpu_get = sq_gpu_get,
	.gpus_list = sq_gpus_list,
	.offer_put = sq_offer_put,
	.offer_get = sq_offer_get,
	.offer_set_status = sq_offer_set_status,
	.offer_cancel_nonce = sq_offer_cancel_nonce,
	.offers_expire = sq_offers_expire,
	.offers_active = sq_offers_active,
	.offers_of_provider = sq_offers_of_provider,
	.nonce_issue = sq_nonce_issue,
	.nonce_consume = sq_nonce_consume,
	.nonces_purge = sq_nonces_purge,
	.session_create = sq_session_create,
	.session_lookup = sq_session_lookup,
	.session_delete = sq_session_delete,
	.sessions_purge = sq_sessions_purge,
	.rental_upsert = sq_rental_upsert,
	.rental_get = sq_rental_get,
	.rentals_list = sq_rentals_list,
	.rental_delete = sq_rental_delete,
	.event_insert = sq_event_insert,
	.events_of_rental = sq_events_of_rental,
	.events_delete_from = sq_events_delete_from,
	.indexer_get = sq_indexer_get,
	.indexer_set = sq_indexer_set,
	.block_put = sq_block_put,
	.block_get = sq_block_get,
	.blocks_delete = sq_blocks_delete,
	.rating_insert = sq_rating_insert,
	.rating_get = sq_rating_get,
	.provider_ratings = sq_provider_ratings,
	.probe_insert = sq_probe_insert,
	.uptime = sq_uptime,
	.access_report_insert = sq_access_report_insert,
	.access_report_get = sq_access_report_get,
	.provider_response_median = sq_provider_response_median,
	.shared = false,
	.change_note = sq_change_note,
	.changes_after = sq_changes_after,
	.changes_purge = sq_changes_purge,
	.role_try = sq_role_try,
	.secret = sq_secret,
};

/* Runs a PRAGMA and checks its one-row answer when `want` is given. */
static int pragma(sqlite3 *db, const char *sql, const char *want, struct err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW && want) {
			const char *got = (const char *)sqlite3_column_text(st, 0);
			if (!got || strcmp(got, want)) {
				sqlite3_finalize(st);
				return err_set(e, ERR_IO, "sqlite: %s gave %s, want %s", sql,
					       got ? got : "nothing", want);
			}
		}
		if (rc == SQLITE_ROW || rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return err_set(e, ERR_IO, "sqlite: %s: %s", sql, sqlite3_errmsg(db));
	return 0;
}

int store_sqlite_open(struct store **out, const char *path, struct err *e)
{
	struct store *s = NULL;
	struct sq *q = NULL;
	sqlite3 *db = NULL;
	pthread_mutexattr_t ma;
	bool mem = !strcmp(path, ":memory:");
	int rc, version;

	rc = sqlite3_open_v2(path, &db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = err_set(e, rc == SQLITE_NOMEM ? ERR_NOMEM : ERR_IO, "sqlite: open %s: %s", path,
			     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close_v2(db);
		return rc;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, SQ_BUSY_TIMEOUT_MS);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	if ((rc = pragma(db, "PRAGMA journal_mode = WAL", mem ? "memory" : "wal", e)) ||
	    (rc = pragma(db, "PRAGMA synchronous = FULL", NULL, e)) ||
	    (rc = pragma(db, "PRAGMA foreign_keys = ON", NULL, e)) ||
	    (rc = pragma(db, "PRAGMA trusted_schema = OFF", NULL, e)) ||
	    (rc = pragma(db, "PRAGMA foreign_keys", "1", e)) ||
	    (rc = store_migrate_sqlite(db, &version, e)))
		goto fail;
	if (!(s = calloc(1, sizeof *s)) || !(q = calloc(1, sizeof *q))) {
		rc = err_set(e, ERR_NOMEM, "sqlite: out of memory");
		goto fail;
	}
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	rc = pthread_mutex_init(&q->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	if (rc) {
		rc = err_set(e, ERR_NOMEM, "sqlite: mutex init failed");
		goto fail;
	}
	q->db = db;
	s->ops = &sqlite_ops;
	s->impl = q;
	*out = s;
	return 0;
fail:
	free(q);
	free(s);
	sqlite3_close_v2(db);
	return rc;
}
