/*
 * postgres.c — the PostgreSQL backend of the store (see store.h, store_impl.h), over libpq.
 *
 * The same contract as sqlite.c, op for op: the same statements in PostgreSQL's dialect ($N
 * parameters, GREATEST/LEAST, a quoted "user"), every value bound as a parameter (text, so nothing
 * is ever spliced into SQL), the migrations of src/store/sql/pg (the same versions as the SQLite
 * ones; tests/unit/test_store_pg runs test_store's cases against it). Text columns compare byte-wise
 * (COLLATE "C") as SQLite's do.
 *
 * One connection per store, guarded by one recursive mutex (an op holds it for its duration, a
 * transaction from begin to commit/rollback), as in sqlite.c; `flopmarket serve` opens one store per
 * process, so N replicas are N connections. A lost connection (the database restarted, the network
 * dropped) is re-established at the next op, at most once per PG_RECONNECT_MS; an op that finds no
 * database fails with ERR_NET ("database unavailable", HTTP 503), never with a wrong answer. A
 * transaction whose connection dies fails as a whole (PostgreSQL rolled it back).
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "store/migrate.h"
#include "store/store_impl.h"

#define PG_PARAMS_MAX 32
#define PG_POOL_DEFAULT 4      /* connections per store; the URL's pool_size=N (1..PG_POOL_MAX) sets it */
#define PG_POOL_MAX 32
#define PG_ROLES_MAX 4
#define PG_RECONNECT_MS 500    /* at most one reconnect attempt per this long */
#define PG_MIGRATE_LOCK 0x466c6f70 /* pg_advisory_lock key: replicas migrate one at a time ("Flop") */

/* Step results of st_step, named for what they mean here. */
enum { PGS_OK = 0, PGS_ROW = 100, PGS_DONE = 101, PGS_ERROR = 1 };

/* One connection of the pool. */
struct pgq {
	PGconn *c;
	pthread_mutex_t mu;     /* recursive; held by an op or by an open tx */
	_Atomic bool in_tx;     /* read without mu by PQ() to route a transaction's ops */
	pthread_t tx_owner;
	uint64_t changes;       /* rows the last write touched */
	uint64_t last_reconnect_ms;
	char sqlstate[6];       /* of the last failure ("" when none) */
	char errmsg[200];
};

/* A statement: its text, its parameters (text), then its result and a row cursor. */
struct st {
	const char *sql;
	int n;
	const char *vals[PG_PARAMS_MAX];
	char ibuf[PG_PARAMS_MAX][24];
	PGresult *res;
	int row, nrows;
	bool ran;
};

/* The pool: ops spread over its connections; a transaction's ops stay on its connection. */
struct pgpool {
	struct pgq conn[PG_POOL_MAX];
	unsigned n;
	atomic_uint next;
	struct pgq lock;                  /* a connection of its own for the roles' session locks */
	char roles[PG_ROLES_MAX][33];     /* roles asked for (under lock.mu) */
	bool held[PG_ROLES_MAX];          /* ... and held by this process's lock session */
};

/*
 * The connection for this op: the calling thread's open transaction's; else, while another thread's
 * transaction is open, that one (the op waits until it ends, as store.h promises: a transaction sees
 * no write from elsewhere in the process); else the next one, round robin, so reads and writes of
 * many threads run side by side.
 */
static struct pgq *PQ(struct store *s)
{
	struct pgpool *pool = s->impl;
	pthread_t self = pthread_self();

	for (unsigned i = 0; i < pool->n; i++)
		if (atomic_load(&pool->conn[i].in_tx) && pthread_equal(pool->conn[i].tx_owner, self))
			return &pool->conn[i];
	for (unsigned i = 0; i < pool->n; i++)
		if (atomic_load(&pool->conn[i].in_tx))
			return &pool->conn[i];
	return &pool->conn[atomic_fetch_add(&pool->next, 1) % pool->n];
}

static void lk(struct pgq *q)
{
	pthread_mutex_lock(&q->mu);
}

static void ul(struct pgq *q)
{
	pthread_mutex_unlock(&q->mu);
}

/* Maps the last failure (q->sqlstate) to an ERR_* code with a message naming `what`. */
static int map(struct pgq *q, int rc, const char *what, struct err *e)
{
	const char *s = q->sqlstate;
	int code;

	(void)rc;
	if (!strcmp(s, "23505"))
		code = ERR_CONFLICT;           /* unique_violation */
	else if (!strcmp(s, "23503"))
		code = ERR_NOT_FOUND;          /* foreign_key_violation */
	else if (!strncmp(s, "23", 2) || !strncmp(s, "22", 2))
		code = ERR_INVALID;            /* other integrity / data exceptions */
	else if (!strcmp(s, "40001") || !strcmp(s, "40P01") || !strcmp(s, "55P03") || !strcmp(s, "57014"))
		code = ERR_TIMEOUT;            /* serialization, deadlock, lock wait, statement timeout */
	else if (!s[0] || !strncmp(s, "08", 2) || !strncmp(s, "57P", 3))
		code = ERR_NET;                /* no connection, or the server is shutting down */
	else if (!strcmp(s, "53200"))
		code = ERR_NOMEM;
	else
		code = ERR_IO;
	if (code == ERR_NET)
		return err_set(e, code, "%s: database unavailable: %s", what, q->errmsg);
	return err_set(e, code, "%s: %s", what, q->errmsg);
}

static void note_failure(struct pgq *q, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *m = res ? PQresultErrorMessage(res) : PQerrorMessage(q->c);

	snprintf(q->sqlstate, sizeof q->sqlstate, "%s", st && PQstatus(q->c) == CONNECTION_OK ? st : "");
	snprintf(q->errmsg, sizeof q->errmsg, "%s", m && m[0] ? m : "no connection");
	q->errmsg[strcspn(q->errmsg, "\n")] = '\0';
}

/* A new session's settings: quiet notices (IF NOT EXISTS ...), UTC, no statement waits forever. */
static void session_setup(struct pgq *q)
{
	PQclear(PQexec(q->c, "SET client_min_messages = warning"));
	PQclear(PQexec(q->c, "SET TIME ZONE 'UTC'"));
	PQclear(PQexec(q->c, "SET statement_timeout = 30000"));
}

/* A usable connection, reconnecting (rate-limited) when it was lost; not inside a transaction. */
static bool connected(struct pgq *q)
{
	uint64_t now;

	if (PQstatus(q->c) == CONNECTION_OK)
		return true;
	if (q->in_tx)
		return false; /* its transaction is gone with the connection: the caller's commit fails */
	now = clock_mono_ms();
	if (q->last_reconnect_ms && now - q->last_reconnect_ms < PG_RECONNECT_MS)
		return false;
	q->last_reconnect_ms = now;
	PQreset(q->c);
	if (PQstatus(q->c) != CONNECTION_OK)
		return false;
	session_setup(q);
	return true;
}

static int prep(struct pgq *q, struct st **st, const char *sql, const char *what, struct err *e)
{
	(void)q;
	if (!(*st = calloc(1, sizeof **st)))
		return err_set(e, ERR_NOMEM, "%s: out of memory", what);
	(*st)->sql = sql;
	return 0;
}

static void st_free(struct st *st)
{
	if (!st)
		return;
	PQclear(st->res);
	free(st);
}

/* ---- binding and reading ---- */

struct bnd {
	struct st *st; /* statement being bound */
	int i;         /* parameters bound */
	int rc;        /* first failure */
};

static void b_put(struct bnd *b, const char *v)
{
	if (b->rc != PGS_OK)
		return;
	if (b->st->n == PG_PARAMS_MAX) {
		b->rc = PGS_ERROR;
		return;
	}
	b->st->vals[b->st->n++] = v;
	b->i++;
}

static void b_t(struct bnd *b, const char *s)
{
	b_put(b, s);
}

/* Text, or NULL when empty. */
static void b_tn(struct bnd *b, const char *s)
{
	b_put(b, s[0] ? s : NULL);
}

static void b_i(struct bnd *b, int64_t v)
{
	if (b->rc != PGS_OK || b->st->n == PG_PARAMS_MAX) {
		b_put(b, NULL);
		return;
	}
	snprintf(b->st->ibuf[b->st->n], sizeof b->st->ibuf[0], "%lld", (long long)v);
	b_put(b, b->st->ibuf[b->st->n]);
}

/* uint64 as its int64 bit pattern (store.c caps ids at INT64_MAX; machine_id may use all 64 bits). */
static void b_u(struct bnd *b, uint64_t v)
{
	b_i(b, (int64_t)v);
}

/* Runs the statement once (rows, if any, stay in st->res). PGS_OK or PGS_ERROR (q's failure noted). */
static int exec_st(struct pgq *q, struct st *st)
{
	ExecStatusType t;

	st->ran = true;
	if (!connected(q)) {
		note_failure(q, NULL);
		q->sqlstate[0] = '\0';
		return PGS_ERROR;
	}
	st->res = PQexecParams(q->c, st->sql, st->n, NULL, st->vals, NULL, NULL, 0);
	t = PQresultStatus(st->res);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
		note_failure(q, st->res);
		return PGS_ERROR;
	}
	st->nrows = PQntuples(st->res);
	q->changes = strtoull(PQcmdTuples(st->res), NULL, 10);
	return PGS_OK;
}

/* Next row: PGS_ROW (st->row is it), PGS_DONE, or PGS_ERROR. */
static int st_step(struct pgq *q, struct st *st)
{
	if (!st->ran) {
		if (exec_st(q, st) != PGS_OK)
			return PGS_ERROR;
		st->row = -1;
	}
	if (st->row + 1 >= st->nrows)
		return PGS_DONE;
	st->row++;
	return PGS_ROW;
}

struct row {
	struct st *st; /* statement on a row */
	int i;         /* next column */
};

static void r_t(struct row *r, char *out, size_t cap)
{
	const char *t = PQgetisnull(r->st->res, r->st->row, r->i) ? "" : PQgetvalue(r->st->res, r->st->row, r->i);
	size_t n = strlen(t);
	r->i++;
	if (n >= cap) /* only a row written around store.c can be longer */
		n = cap - 1;
	memcpy(out, t, n);
	out[n] = '\0';
}

static int64_t col_i(struct st *st, int k)
{
	return PQgetisnull(st->res, st->row, k) ? 0 : strtoll(PQgetvalue(st->res, st->row, k), NULL, 10);
}

static int64_t r_i(struct row *r)
{
	return col_i(r->st, r->i++);
}

static uint64_t r_u(struct row *r)
{
	return (uint64_t)r_i(r);
}

/* Runs a write once; frees. `brc` is the binding result. */
static int run(struct pgq *q, struct st *st, int brc, const char *what, struct err *e)
{
	int rc = brc == PGS_OK ? exec_st(q, st) : PGS_ERROR;
	int ret = rc == PGS_OK ? 0 : brc != PGS_OK ? err_set(e, ERR_TOO_BIG, "%s: too many parameters", what)
					       : map(q, rc, what, e);
	st_free(st);
	return ret;
}

/* Runs to the first row: 0 on a row (caller reads, then frees), ERR_NOT_FOUND, or error (freed). */
static int first(struct pgq *q, struct st *st, int brc, const char *what, struct err *e)
{
	int rc = brc == PGS_OK ? st_step(q, st) : PGS_ERROR;
	if (rc == PGS_ROW)
		return 0;
	st_free(st);
	if (rc == PGS_DONE)
		return err_set(e, ERR_NOT_FOUND, "%s: not found", what);
	return map(q, rc, what, e);
}

static uint64_t changes(struct pgq *q)
{
	return q->changes;
}

/* One statement without parameters or rows (BEGIN, COMMIT, ...). */
static int simple(struct pgq *q, const char *sql, const char *what, struct err *e)
{
	struct st st = { .sql = sql };
	int rc = exec_st(q, &st);
	PQclear(st.res);
	return rc == PGS_OK ? 0 : map(q, rc, what, e);
}

/* ---- lifecycle and transactions ---- */

static void pg_close(struct store *s)
{
	struct pgpool *pool = s->impl;
	for (unsigned i = 0; i < pool->n; i++) {
		struct pgq *q = &pool->conn[i];
		if (q->in_tx) {
			PQclear(PQexec(q->c, "ROLLBACK"));
			q->in_tx = false;
			ul(q);
		}
		PQfinish(q->c);
		pthread_mutex_destroy(&q->mu);
	}
	PQfinish(pool->lock.c); /* ends the session: its roles go to whoever asks next */
	pthread_mutex_destroy(&pool->lock.mu);
	free(pool);
	free(s);
}

/* The highest version in schema_version (0 when none). */
static int pg_version(struct pgq *q, int *out, struct err *e)
{
	struct st *st = NULL;
	int rc = prep(q, &st, "SELECT coalesce(max(version), 0) FROM schema_version", "schema version", e);
	if (rc)
		return rc;
	if (!(rc = first(q, st, PGS_OK, "schema version", e))) {
		*out = (int)col_i(st, 0);
		st_free(st);
	}
	return rc;
}

static int pg_schema_version(struct store *s, int *out, struct err *e)
{
	struct pgq *q = PQ(s);
	lk(q);
	int rc = pg_version(q, out, e);
	ul(q);
	return rc;
}

static int pg_tx_begin(struct store *s, struct err *e)
{
	struct pgq *q = PQ(s);
	int rc;
	lk(q);
	if (q->in_tx) { /* ours: another thread's tx holds the mutex */
		ul(q);
		return err_set(e, ERR_STATE, "transaction: already open in this thread");
	}
	if ((rc = simple(q, "BEGIN", "transaction begin", e))) {
		ul(q);
		return rc;
	}
	q->tx_owner = pthread_self();
	atomic_store(&q->in_tx, true); /* after the owner: PQ() reads them in that order */
	return 0; /* the mutex stays held until commit or rollback */
}

static int tx_end(struct store *s, bool commit, struct err *e)
{
	struct pgq *q = PQ(s);
	int rc = 0;
	lk(q);
	if (!q->in_tx || !pthread_equal(q->tx_owner, pthread_self())) {
		ul(q);
		return err_set(e, ERR_STATE, "transaction: none open in this thread");
	}
	if (PQstatus(q->c) != CONNECTION_OK) {
		note_failure(q, NULL);
		q->sqlstate[0] = '\0';
		rc = map(q, PGS_ERROR, commit ? "transaction commit" : "transaction rollback", e);
	} else if (commit) {
		if ((rc = simple(q, "COMMIT", "transaction commit", e)))
			PQclear(PQexec(q->c, "ROLLBACK"));
	} else {
		rc = simple(q, "ROLLBACK", "transaction rollback", e);
	}
	q->in_tx = false;
	ul(q); /* this call's lock */
	ul(q); /* the lock taken by begin */
	return rc;
}

static int pg_tx_commit(struct store *s, struct err *e)
{
	return tx_end(s, true, e);
}

static int pg_tx_rollback(struct store *s, struct err *e)
{
	return tx_end(s, false, e);
}

/* ---- providers, hosts, GPUs ---- */

static int pg_provider_upsert(struct store *s, const struct store_provider *p, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO providers(address, first_seen, last_heartbeat, endpoint)"
			" VALUES ($1, $2, $3, $4) ON CONFLICT(address) DO UPDATE SET"
			" last_heartbeat = GREATEST(providers.last_heartbeat, excluded.last_heartbeat),"
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

static int pg_provider_get(struct store *s, struct store_provider *out, const char *address,
			   struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_provider p = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT address, first_seen, last_heartbeat, endpoint FROM providers"
			" WHERE address = $1",
			"provider", e))) {
		b_t(&b, address);
		if (!(rc = first(q, b.st, b.rc, "provider", e))) {
			struct row r = { b.st, 0 };
			r_t(&r, p.address, sizeof p.address);
			p.first_seen = r_i(&r);
			p.last_heartbeat = r_i(&r);
			r_t(&r, p.endpoint, sizeof p.endpoint);
			st_free(b.st);
			*out = p;
		}
	}
	ul(q);
	return rc;
}

static int pg_host_upsert(struct store *s, const struct store_host *h, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO hosts(machine_id, provider, country, region, net_up_mbps,"
			" net_down_mbps, cpu_cores, ram_gib, disk_gib, driver_version, cuda_version,"
			" simulated, updated_at, isolation, images, jupyter)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
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

static int pg_host_get(struct store *s, struct store_host *out, uint64_t machine_id, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_host h = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT machine_id, provider, country, region, net_up_mbps, net_down_mbps,"
			" cpu_cores, ram_gib, disk_gib, driver_version, cuda_version, simulated,"
			" updated_at, isolation, images, jupyter FROM hosts WHERE machine_id = $1",
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
			st_free(b.st);
			*out = h;
		}
	}
	ul(q);
	return rc;
}

#define GPU_COLS                                                                                   \
	"machine_id, idx, model, vram_mib, fp32_mtflops, fp16_mtflops, mem_bw_gbps,"              \
	" bench_verified, bench_at"

static void row_gpu(struct st *st, struct store_gpu *g)
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

static int pg_gpu_upsert(struct store *s, const struct store_gpu *g, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO gpus(" GPU_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
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

static int pg_gpu_get(struct store *s, struct store_gpu *out, uint64_t machine_id, uint32_t index,
		      struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_gpu g = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "SELECT " GPU_COLS " FROM gpus WHERE machine_id = $1 AND idx = $2",
			"gpu", e))) {
		b_u(&b, machine_id);
		b_i(&b, index);
		if (!(rc = first(q, b.st, b.rc, "gpu", e))) {
			row_gpu(b.st, &g);
			st_free(b.st);
			*out = g;
		}
	}
	ul(q);
	return rc;
}

static int pg_gpus_list(struct store *s, uint64_t machine_id, store_gpu_cb cb, void *ctx,
			struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_gpu g = { 0 };
	int rc, src;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT " GPU_COLS " FROM gpus WHERE machine_id = $1 ORDER BY idx", "gpus", e))) {
		b_u(&b, machine_id);
		src = b.rc;
		while (src == PGS_OK && (src = st_step(q, b.st)) == PGS_ROW) {
			row_gpu(b.st, &g);
			if ((rc = cb(ctx, &g)))
				break;
			src = PGS_OK;
		}
		if (!rc && src != PGS_DONE)
			rc = map(q, src, "gpus", e);
		st_free(b.st);
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

static void row_offer(struct st *st, struct store_offer *o)
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

static int pg_offer_put(struct store *s, const struct store_offer *o, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO offers(" OFFER_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
			" $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
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

static int pg_offer_get(struct store *s, struct store_offer *out, const char *offer_hash,
			struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_offer *o;
	int rc;
	if (!(o = malloc(sizeof *o)))
		return err_set(e, ERR_NOMEM, "offer: out of memory");
	lk(q);
	if (!(rc = prep(q, &b.st, "SELECT " OFFER_COLS " FROM offers WHERE offer_hash = $1", "offer",
			e))) {
		b_t(&b, offer_hash);
		if (!(rc = first(q, b.st, b.rc, "offer", e))) {
			row_offer(b.st, o);
			st_free(b.st);
			*out = *o;
		}
	}
	ul(q);
	free(o);
	return rc;
}

static int pg_offer_set_status(struct store *s, const char *offer_hash,
			       enum store_offer_status status, int64_t now, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"UPDATE offers SET status = $1, updated_at = $2 WHERE offer_hash = $3"
			" AND (status <> 'cancelled' OR $1 = 'cancelled')",
			"offer status", e))) {
		b_t(&b, store_offer_status_name(status));
		b_i(&b, now);
		b_t(&b, offer_hash);
		if (!(rc = run(q, b.st, b.rc, "offer status", e)) && changes(q) == 0) {
			/* Tell "no such offer" from "cancelled is final". */
			struct bnd c = { 0 };
			if (!(rc = prep(q, &c.st, "SELECT 1 FROM offers WHERE offer_hash = $1",
					"offer status", e))) {
				b_t(&c, offer_hash);
				if (!(rc = first(q, c.st, c.rc, "offer status", e))) {
					st_free(c.st);
					rc = err_set(e, ERR_STATE, "offer status: offer is cancelled");
				}
			}
		}
	}
	ul(q);
	return rc;
}

static int pg_offer_cancel_nonce(struct store *s, uint64_t *count, const char *provider,
				 const char *nonce, int64_t now, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"UPDATE offers SET status = 'cancelled', updated_at = $1"
			" WHERE provider = $2 AND nonce = $3 AND status <> 'cancelled'",
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

static int pg_offers_expire(struct store *s, uint64_t *count, int64_t now, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"UPDATE offers SET status = 'expired', updated_at = $1"
			" WHERE status = 'active' AND expiry <= $1",
			"offers expire", e))) {
		b_i(&b, now);
		if (!(rc = run(q, b.st, b.rc, "offers expire", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

/* Runs an offers SELECT (bound: $1 = now, $2 = provider when given) and hands each row to cb. */
static int offers_each(struct store *s, const char *sql, const char *provider, int64_t now, store_offer_cb cb,
		       void *ctx, struct err *e)
{
	struct pgq *q = PQ(s);
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
		while (src == PGS_OK && (src = st_step(q, b.st)) == PGS_ROW) {
			row_offer(b.st, o);
			if ((rc = cb(ctx, o)))
				break;
			src = PGS_OK;
		}
		if (!rc && src != PGS_DONE)
			rc = map(q, src, "offers", e);
		st_free(b.st);
	}
	ul(q);
	free(o);
	return rc;
}

static int pg_offers_active(struct store *s, int64_t now, store_offer_cb cb, void *ctx, struct err *e)
{
	return offers_each(s, "SELECT " OFFER_COLS " FROM offers WHERE status = 'active' AND expiry > $1"
			   " ORDER BY provider, machine_id, offer_hash", NULL, now, cb, ctx, e);
}

static int pg_offers_of_provider(struct store *s, const char *provider, int64_t now, store_offer_cb cb,
				 void *ctx, struct err *e)
{
	return offers_each(s, "SELECT " OFFER_COLS " FROM offers WHERE provider = $2 AND expiry > $1"
			   " ORDER BY offer_hash", provider, now, cb, ctx, e);
}

/* ---- nonces and sessions ---- */

static int pg_nonce_issue(struct store *s, const char *nonce, int64_t now, int64_t expires_at,
			  struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO auth_nonces(nonce, issued_at, expires_at) VALUES ($1, $2, $3)",
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

static int pg_nonce_consume(struct store *s, const char *nonce, int64_t now, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	/* One statement decides, so two consumers can never both win. */
	if (!(rc = prep(q, &b.st,
			"UPDATE auth_nonces SET used_at = $1"
			" WHERE nonce = $2 AND used_at IS NULL AND expires_at > $1",
			"nonce consume", e))) {
		b_i(&b, now);
		b_t(&b, nonce);
		if (!(rc = run(q, b.st, b.rc, "nonce consume", e)) && changes(q) == 0) {
			struct bnd c = { 0 };
			if (!(rc = prep(q, &c.st,
					"SELECT (used_at IS NOT NULL)::int FROM auth_nonces WHERE nonce = $1",
					"nonce", e))) {
				b_t(&c, nonce);
				if (!(rc = first(q, c.st, c.rc, "nonce", e))) {
					bool used = col_i(c.st, 0) != 0;
					st_free(c.st);
					rc = used ? err_set(e, ERR_CONFLICT, "nonce: already used")
						  : err_set(e, ERR_STATE, "nonce: expired");
				}
			}
		}
	}
	ul(q);
	return rc;
}

static int pg_nonces_purge(struct store *s, uint64_t *count, int64_t before, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM auth_nonces WHERE expires_at < $1", "nonces purge",
			e))) {
		b_i(&b, before);
		if (!(rc = run(q, b.st, b.rc, "nonces purge", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

static int pg_session_create(struct store *s, const char *token_hash, const char *address,
			     int64_t now, int64_t expires_at, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO sessions(token_hash, address, created_at, expires_at)"
			" VALUES ($1, $2, $3, $4)",
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

static int pg_session_lookup(struct store *s, struct store_session *out, const char *token_hash,
			     int64_t now, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_session ss = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT address, created_at, expires_at FROM sessions WHERE token_hash = $1",
			"session", e))) {
		b_t(&b, token_hash);
		if (!(rc = first(q, b.st, b.rc, "session", e))) {
			struct row r = { b.st, 0 };
			r_t(&r, ss.address, sizeof ss.address);
			ss.created_at = r_i(&r);
			ss.expires_at = r_i(&r);
			st_free(b.st);
			if (now >= ss.expires_at)
				rc = err_set(e, ERR_STATE, "session: expired");
			else
				*out = ss;
		}
	}
	ul(q);
	return rc;
}

static int pg_session_delete(struct store *s, const char *token_hash, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM sessions WHERE token_hash = $1", "session delete",
			e))) {
		b_t(&b, token_hash);
		if (!(rc = run(q, b.st, b.rc, "session delete", e)) && changes(q) == 0)
			rc = err_set(e, ERR_NOT_FOUND, "session: not found");
	}
	ul(q);
	return rc;
}

static int pg_sessions_purge(struct store *s, uint64_t *count, int64_t before, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM sessions WHERE expires_at < $1", "sessions purge",
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

static void row_rental(struct st *st, struct store_rental *x)
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

static int pg_rental_upsert(struct store *s, const struct store_rental *x, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO rentals(" RENTAL_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
			" $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
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

static int pg_rental_get(struct store *s, struct store_rental *out, uint64_t chain_id, uint64_t id,
			 struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_rental *x;
	int rc;
	if (!(x = malloc(sizeof *x)))
		return err_set(e, ERR_NOMEM, "rental: out of memory");
	lk(q);
	if (!(rc = prep(q, &b.st, "SELECT " RENTAL_COLS " FROM rentals WHERE chain_id = $1 AND id = $2",
			"rental", e))) {
		b_u(&b, chain_id);
		b_u(&b, id);
		if (!(rc = first(q, b.st, b.rc, "rental", e))) {
			row_rental(b.st, x);
			st_free(b.st);
			*out = *x;
		}
	}
	ul(q);
	free(x);
	return rc;
}

static int pg_rentals_list(struct store *s, uint64_t chain_id, const char *address,
			   bool by_provider, uint32_t limit, store_rental_cb cb, void *ctx,
			   struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_rental *x;
	int rc, src;
	if (!(x = malloc(sizeof *x)))
		return err_set(e, ERR_NOMEM, "rentals: out of memory");
	lk(q);
	rc = prep(q, &b.st,
		  by_provider ? "SELECT " RENTAL_COLS " FROM rentals WHERE chain_id = $1"
				" AND provider = $2 ORDER BY opened_at DESC, id DESC LIMIT $3"
			      : "SELECT " RENTAL_COLS " FROM rentals WHERE chain_id = $1"
				" AND renter = $2 ORDER BY opened_at DESC, id DESC LIMIT $3",
		  "rentals", e);
	if (!rc) {
		b_u(&b, chain_id);
		b_t(&b, address);
		b_i(&b, limit);
		src = b.rc;
		while (src == PGS_OK && (src = st_step(q, b.st)) == PGS_ROW) {
			row_rental(b.st, x);
			if ((rc = cb(ctx, x)))
				break;
			src = PGS_OK;
		}
		if (!rc && src != PGS_DONE)
			rc = map(q, src, "rentals", e);
		st_free(b.st);
	}
	ul(q);
	free(x);
	return rc;
}

static int pg_rental_delete(struct store *s, uint64_t chain_id, uint64_t id, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM rentals WHERE chain_id = $1 AND id = $2",
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

static int pg_event_insert(struct store *s, bool *inserted, const struct store_event *ev,
			   struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	/* DO NOTHING only on the identity conflict: other violations still fail. */
	if (!(rc = prep(q, &b.st,
			"INSERT INTO rental_events(" EVENT_COLS ") VALUES ($1, $2, $3, $4, $5, $6,"
			" $7, $8, $9) ON CONFLICT(chain_id, tx_hash, log_index) DO NOTHING",
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

static int pg_events_of_rental(struct store *s, uint64_t chain_id, uint64_t rental_id,
			       store_event_cb cb, void *ctx, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_event *ev;
	int rc, src;
	if (!(ev = malloc(sizeof *ev)))
		return err_set(e, ERR_NOMEM, "events: out of memory");
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT " EVENT_COLS " FROM rental_events WHERE chain_id = $1"
			" AND rental_id = $2 ORDER BY block_number, log_index",
			"events", e))) {
		b_u(&b, chain_id);
		b_u(&b, rental_id);
		src = b.rc;
		while (src == PGS_OK && (src = st_step(q, b.st)) == PGS_ROW) {
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
			src = PGS_OK;
		}
		if (!rc && src != PGS_DONE)
			rc = map(q, src, "events", e);
		st_free(b.st);
	}
	ul(q);
	free(ev);
	return rc;
}

static int pg_events_delete_from(struct store *s, uint64_t *count, uint64_t chain_id,
				 uint64_t from_block, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"DELETE FROM rental_events WHERE chain_id = $1 AND block_number >= $2",
			"events delete", e))) {
		b_u(&b, chain_id);
		b_u(&b, from_block);
		if (!(rc = run(q, b.st, b.rc, "events delete", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

static int pg_indexer_get(struct store *s, struct store_indexer *out, uint64_t chain_id,
			  const char *contract, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_indexer p = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT chain_id, contract, block_number, block_hash, updated_at"
			" FROM indexer_progress WHERE chain_id = $1 AND contract = $2",
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
			st_free(b.st);
			*out = p;
		}
	}
	ul(q);
	return rc;
}

static int pg_indexer_set(struct store *s, const struct store_indexer *p, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO indexer_progress(chain_id, contract, block_number, block_hash,"
			" updated_at) VALUES ($1, $2, $3, $4, $5)"
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

static int pg_block_put(struct store *s, uint64_t chain_id, uint64_t number, const char *hash,
			struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO recent_blocks(chain_id, number, hash) VALUES ($1, $2, $3)"
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

static int pg_block_get(struct store *s, char *out, uint64_t chain_id, uint64_t number,
			struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT hash FROM recent_blocks WHERE chain_id = $1 AND number = $2", "block",
			e))) {
		b_u(&b, chain_id);
		b_u(&b, number);
		if (!(rc = first(q, b.st, b.rc, "block", e))) {
			struct row r = { b.st, 0 };
			r_t(&r, out, STORE_HASH_SIZE);
			st_free(b.st);
		}
	}
	ul(q);
	return rc;
}

static int pg_blocks_delete(struct store *s, uint64_t *count, uint64_t chain_id, uint64_t bound,
			    bool below, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			below ? "DELETE FROM recent_blocks WHERE chain_id = $1 AND number < $2"
			      : "DELETE FROM recent_blocks WHERE chain_id = $1 AND number >= $2",
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

static int pg_rating_insert(struct store *s, const struct store_rating *x, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO ratings(chain_id, rental_id, renter, stars, comment, created_at)"
			" VALUES ($1, $2, $3, $4, $5, $6)",
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

static int pg_rating_get(struct store *s, struct store_rating *out, uint64_t chain_id,
			 uint64_t rental_id, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_rating x = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT chain_id, rental_id, renter, stars, comment, created_at FROM ratings"
			" WHERE chain_id = $1 AND rental_id = $2",
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
			st_free(b.st);
			*out = x;
		}
	}
	ul(q);
	return rc;
}

static int pg_provider_ratings(struct store *s, uint64_t *count, uint64_t *stars_sum,
			       uint64_t chain_id, const char *provider, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT count(*), coalesce(sum(g.stars), 0) FROM ratings g JOIN rentals r"
			" ON r.chain_id = g.chain_id AND r.id = g.rental_id"
			" WHERE g.chain_id = $1 AND r.provider = $2",
			"provider ratings", e))) {
		b_u(&b, chain_id);
		b_t(&b, provider);
		if (!(rc = first(q, b.st, b.rc, "provider ratings", e))) {
			*count = (uint64_t)col_i(b.st, 0);
			*stars_sum = (uint64_t)col_i(b.st, 1);
			st_free(b.st);
		}
	}
	ul(q);
	return rc;
}

static int pg_probe_insert(struct store *s, const struct store_probe *p, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO probes(target, at, ok, latency_ms, period_s)"
			" VALUES ($1, $2, $3, $4, $5)",
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

static int pg_uptime(struct store *s, uint64_t *up_s, uint64_t *observed_s, const char *target,
		     int64_t from, int64_t to, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT coalesce(sum(CASE WHEN ok <> 0 THEN LEAST(period_s, $3 - at) ELSE 0 END), 0),"
			" coalesce(sum(LEAST(period_s, $3 - at)), 0) FROM probes"
			" WHERE target = $1 AND at >= $2 AND at < $3",
			"uptime", e))) {
		b_t(&b, target);
		b_i(&b, from);
		b_i(&b, to);
		if (!(rc = first(q, b.st, b.rc, "uptime", e))) {
			*up_s = (uint64_t)col_i(b.st, 0);
			*observed_s = (uint64_t)col_i(b.st, 1);
			st_free(b.st);
		}
	}
	ul(q);
	return rc;
}

static int pg_access_report_insert(struct store *s, const struct store_access_report *a,
				   struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"INSERT INTO access_reports(chain_id, rental_id, granted_at, host, port, \"user\", host_keys)"
			" VALUES ($1, $2, $3, $4, $5, $6, $7)",
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

static int pg_access_report_get(struct store *s, struct store_access_report *out,
				uint64_t chain_id, uint64_t rental_id, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	struct store_access_report a = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT chain_id, rental_id, granted_at, host, port, \"user\", host_keys FROM access_reports"
			" WHERE chain_id = $1 AND rental_id = $2",
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
			st_free(b.st);
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

static int pg_provider_response_median(struct store *s, int64_t *median_s, uint64_t *count,
				       uint64_t chain_id, const char *provider, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int64_t *v;
	size_t n = 0;
	int rc, src;
	if (!(v = malloc(STORE_LIST_MAX * sizeof *v)))
		return err_set(e, ERR_NOMEM, "response median: out of memory");
	lk(q);
	if (!(rc = prep(q, &b.st,
			"SELECT GREATEST(a.granted_at - r.opened_at, 0) FROM access_reports a JOIN rentals r"
			" ON r.chain_id = a.chain_id AND r.id = a.rental_id"
			" WHERE a.chain_id = $1 AND r.provider = $2"
			" ORDER BY a.granted_at DESC, a.rental_id DESC LIMIT $3",
			"response median", e))) {
		b_u(&b, chain_id);
		b_t(&b, provider);
		b_i(&b, STORE_LIST_MAX);
		src = b.rc;
		while (src == PGS_OK && (src = st_step(q, b.st)) == PGS_ROW) {
			if (n == STORE_LIST_MAX)
				break;
			v[n++] = col_i(b.st, 0);
			src = PGS_OK;
		}
		if (src != PGS_DONE && src != PGS_ROW)
			rc = map(q, src, "response median", e);
		st_free(b.st);
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

/* ---- replicas: a change log, roles and shared secrets ---- */

static int pg_change_note(struct store *s, const char *provider, const char *origin, int64_t now, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	bool own_tx;
	int rc;
	lk(q);
	/* appends are serialized to their commit, so seq order is commit order for every reader */
	own_tx = !q->in_tx;
	if (own_tx && (rc = simple(q, "BEGIN", "change note", e)))
		goto out;
	if (!(rc = simple(q, "LOCK TABLE changes IN SHARE ROW EXCLUSIVE MODE", "change note", e)) &&
	    !(rc = prep(q, &b.st, "INSERT INTO changes(provider, origin, at) VALUES ($1, $2, $3)", "change note", e))) {
		b_t(&b, provider);
		b_t(&b, origin);
		b_i(&b, now);
		rc = run(q, b.st, b.rc, "change note", e);
	}
	if (own_tx) {
		if (!rc)
			rc = simple(q, "COMMIT", "change note", e);
		if (rc)
			PQclear(PQexec(q->c, "ROLLBACK"));
	}
out:
	ul(q);
	return rc;
}

static int pg_changes_after(struct store *s, struct store_change *out, size_t cap, size_t *n, uint64_t *last,
			    uint64_t after, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	size_t k = 0;
	uint64_t hi = after == UINT64_MAX ? 0 : after;
	int rc, src;
	lk(q);
	if (after == UINT64_MAX)
		rc = prep(q, &b.st, "SELECT coalesce(max(seq), 0), '', '' FROM changes", "changes", e);
	else
		rc = prep(q, &b.st, "SELECT seq, provider, origin FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
			  "changes", e);
	if (!rc) {
		if (after != UINT64_MAX) {
			b_u(&b, after);
			b_i(&b, (int64_t)cap);
		}
		src = b.rc;
		while (src == PGS_OK && (src = st_step(q, b.st)) == PGS_ROW) {
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
			src = PGS_OK;
		}
		if (src != PGS_DONE)
			rc = map(q, src, "changes", e);
		st_free(b.st);
	}
	ul(q);
	if (!rc) {
		*n = k;
		*last = hi;
	}
	return rc;
}

static int pg_changes_purge(struct store *s, uint64_t *count, int64_t before, struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "DELETE FROM changes WHERE at < $1", "changes purge", e))) {
		b_i(&b, before);
		if (!(rc = run(q, b.st, b.rc, "changes purge", e)) && count)
			*count = changes(q);
	}
	ul(q);
	return rc;
}

/* A role's advisory lock key: "Flop" in the high half, the name's FNV-1a in the low. */
static long long role_key(const char *name)
{
	uint32_t h = 2166136261u;
	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * 16777619u;
	return (long long)((uint64_t)0x466c6f70 << 32 | h);
}

static int pg_role_try(struct store *s, const char *name, bool *held, struct err *e)
{
	struct pgpool *pool = s->impl;
	struct pgq *q = &pool->lock;
	struct bnd b = { 0 };
	char key[24];
	int rc = 0, slot = -1;

	lk(q);
	for (int i = 0; i < PG_ROLES_MAX && slot < 0; i++)
		if (!strcmp(pool->roles[i], name))
			slot = i;
	if (PQstatus(q->c) != CONNECTION_OK) {
		/* the session that held the locks is gone, and the locks with it */
		memset(pool->held, 0, sizeof pool->held);
		if (!connected(q)) {
			note_failure(q, NULL);
			q->sqlstate[0] = '\0';
			rc = map(q, PGS_ERROR, "role", e);
			goto out;
		}
	}
	if (slot >= 0 && pool->held[slot]) {
		*held = true; /* session locks last as long as this connection */
		goto out;
	}
	snprintf(key, sizeof key, "%lld", role_key(name));
	if (!(rc = prep(q, &b.st, "SELECT pg_try_advisory_lock($1::bigint)::int", "role", e))) {
		b_t(&b, key);
		if (!(rc = first(q, b.st, b.rc, "role", e))) {
			*held = col_i(b.st, 0) == 1;
			st_free(b.st);
			if (*held && slot < 0)
				for (int i = 0; i < PG_ROLES_MAX && slot < 0; i++)
					if (!pool->roles[i][0]) {
						slot = i;
						snprintf(pool->roles[i], sizeof pool->roles[i], "%s", name);
					}
			if (*held && slot >= 0)
				pool->held[slot] = true;
		}
	}
out:
	ul(q);
	return rc;
}

static int pg_secret(struct store *s, const char *name, const char *hex_value, char out[65], struct err *e)
{
	struct pgq *q = PQ(s);
	struct bnd b = { 0 };
	int rc;
	lk(q);
	if (!(rc = prep(q, &b.st, "INSERT INTO server_secrets(name, value) VALUES ($1, $2) ON CONFLICT(name) DO NOTHING",
			"secret", e))) {
		b_t(&b, name);
		b_t(&b, hex_value);
		rc = run(q, b.st, b.rc, "secret", e);
	}
	if (!rc && !(rc = prep(q, &b.st, "SELECT value FROM server_secrets WHERE name = $1", "secret", e))) {
		b.i = 0;
		b.rc = PGS_OK;
		b_t(&b, name);
		if (!(rc = first(q, b.st, b.rc, "secret", e))) {
			struct row r = { b.st, 0 };
			r_t(&r, out, 65);
			st_free(b.st);
		}
	}
	ul(q);
	return rc;
}

static const struct store_ops pg_ops = {
	.name = "postgres",
	.close = pg_close,
	.schema_version = pg_schema_version,
	.tx_begin = pg_tx_begin,
	.tx_commit = pg_tx_commit,
	.tx_rollback = pg_tx_rollback,
	.provider_upsert = pg_provider_upsert,
	.provider_get = pg_provider_get,
	.host_upsert = pg_host_upsert,
	.host_get = pg_host_get,
	.gpu_upsert = pg_gpu_upsert,
	.gpu_get = pg_gpu_get,
	.gpus_list = pg_gpus_list,
	.offer_put = pg_offer_put,
	.offer_get = pg_offer_get,
	.offer_set_status = pg_offer_set_status,
	.offer_cancel_nonce = pg_offer_cancel_nonce,
	.offers_expire = pg_offers_expire,
	.offers_active = pg_offers_active,
	.offers_of_provider = pg_offers_of_provider,
	.nonce_issue = pg_nonce_issue,
	.nonce_consume = pg_nonce_consume,
	.nonces_purge = pg_nonces_purge,
	.session_create = pg_session_create,
	.session_lookup = pg_session_lookup,
	.session_delete = pg_session_delete,
	.sessions_purge = pg_sessions_purge,
	.rental_upsert = pg_rental_upsert,
	.rental_get = pg_rental_get,
	.rentals_list = pg_rentals_list,
	.rental_delete = pg_rental_delete,
	.event_insert = pg_event_insert,
	.events_of_rental = pg_events_of_rental,
	.events_delete_from = pg_events_delete_from,
	.indexer_get = pg_indexer_get,
	.indexer_set = pg_indexer_set,
	.block_put = pg_block_put,
	.block_get = pg_block_get,
	.blocks_delete = pg_blocks_delete,
	.rating_insert = pg_rating_insert,
	.rating_get = pg_rating_get,
	.provider_ratings = pg_provider_ratings,
	.probe_insert = pg_probe_insert,
	.uptime = pg_uptime,
	.access_report_insert = pg_access_report_insert,
	.access_report_get = pg_access_report_get,
	.provider_response_median = pg_provider_response_median,
	.shared = true,
	.change_note = pg_change_note,
	.changes_after = pg_changes_after,
	.changes_purge = pg_changes_purge,
	.role_try = pg_role_try,
	.secret = pg_secret,
};

/* ---- migrations ---- */

/* Defined by the generated build/gen/store_sql_pg.c (src/store/sql/pg), sorted by name. */
extern const struct store_sql_file store_pg_sql_files[];
extern const size_t store_pg_sql_count;

/* Applies one migration file and its schema_version row in one transaction. */
static int pg_apply(struct pgq *q, const struct store_sql_file *f, int version, struct err *e)
{
	struct bnd b = { 0 };
	PGresult *res;
	int rc;

	if ((rc = simple(q, "BEGIN", "migration", e)))
		return rc;
	res = PQexec(q->c, f->text); /* the file's statements, embedded at build time: no parameters */
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		note_failure(q, res);
		PQclear(res);
		PQclear(PQexec(q->c, "ROLLBACK"));
		return err_wrap(e, "migration %s", f->name), map(q, PGS_ERROR, f->name, e);
	}
	PQclear(res);
	if (!(rc = prep(q, &b.st, "INSERT INTO schema_version(version, name, applied_at) VALUES ($1, $2, $3)",
			"migration", e))) {
		b_i(&b, version);
		b_t(&b, f->name);
		b_i(&b, clock_wall_ms() / 1000);
		rc = run(q, b.st, b.rc, "migration", e);
	}
	if (!rc)
		rc = simple(q, "COMMIT", "migration commit", e);
	if (rc)
		PQclear(PQexec(q->c, "ROLLBACK"));
	return rc;
}

/* Brings the database to the newest version, one replica at a time (an advisory lock). */
static int pg_migrate(struct pgq *q, struct err *e)
{
	char lock[96];
	int rc, have = 0;

	snprintf(lock, sizeof lock, "SELECT pg_advisory_lock(%d)", PG_MIGRATE_LOCK);
	if ((rc = simple(q, lock, "migration lock", e)))
		return rc;
	rc = simple(q, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, "
		    "name TEXT NOT NULL, applied_at BIGINT NOT NULL)", "schema_version", e);
	if (!rc)
		rc = pg_version(q, &have, e);
	if (!rc && have > (int)store_pg_sql_count)
		rc = err_set(e, ERR_UNSUPPORTED, "postgres: the database is at schema version %d, newer than this "
			     "binary's %zu", have, store_pg_sql_count);
	for (size_t i = (size_t)have; !rc && i < store_pg_sql_count; i++) {
		int v = atoi(store_pg_sql_files[i].name);
		if (v != (int)i + 1)
			rc = err_set(e, ERR_INVALID, "postgres: migration %s out of order", store_pg_sql_files[i].name);
		else
			rc = pg_apply(q, &store_pg_sql_files[i], v, e);
	}
	snprintf(lock, sizeof lock, "SELECT pg_advisory_unlock(%d)", PG_MIGRATE_LOCK);
	simple(q, lock, "migration unlock", NULL);
	return rc;
}

/*
 * The database must keep text as the bytes it was given, as SQLite does (store.c checks what text may
 * hold; some fields take any byte but NUL): ENCODING 'SQL_ASCII'. Another encoding would refuse or
 * convert some of them, a silent divergence between the backends, so it is refused with the fix.
 */
static int pg_check_encoding(struct pgq *q, struct err *e)
{
	struct st *st = NULL;
	int rc = prep(q, &st, "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()",
		      "database encoding", e);
	char enc[32] = "";

	if (rc || (rc = first(q, st, PGS_OK, "database encoding", e)))
		return rc;
	{
		struct row r = { st, 0 };
		r_t(&r, enc, sizeof enc);
	}
	st_free(st);
	if (strcmp(enc, "SQL_ASCII") != 0)
		return err_set(e, ERR_UNSUPPORTED, "postgres: the database's encoding is %s; the store keeps text as given "
			       "bytes: CREATE DATABASE ... ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0 "
			       "(docs/store.md)", enc);
	return 0;
}

/*
 * The URL without our own parameter pool_size=N (libpq refuses parameters it does not know) into out;
 * *pool gets N (PG_POOL_DEFAULT when absent). ERR_INVALID for a bad N.
 */
static int pool_param(char *out, size_t cap, unsigned *pool, const char *url, struct err *e)
{
	const char *p = strstr(url, "pool_size="), *end;
	char *stop;
	unsigned long n;

	*pool = PG_POOL_DEFAULT;
	if (strlen(url) >= cap)
		return err_set(e, ERR_TOO_BIG, "url: too long");
	if (!p || (p[-1] != '?' && p[-1] != '&')) {
		snprintf(out, cap, "%s", url);
		return 0;
	}
	n = strtoul(p + 10, &stop, 10);
	if (stop == p + 10 || (*stop && *stop != '&') || n < 1 || n > PG_POOL_MAX)
		return err_set(e, ERR_INVALID, "url: pool_size must be 1..%d", PG_POOL_MAX);
	*pool = (unsigned)n;
	end = *stop == '&' ? stop + 1 : stop;
	/* keep what is before (dropping its '?' or '&' when nothing follows) and what is after */
	snprintf(out, cap, "%.*s%s", (int)(p - url - (*end ? 0 : 1)), url, end);
	return 0;
}

/* Opens one connection of the pool. */
static int conn_open(struct pgq *q, const char *url, struct err *e)
{
	pthread_mutexattr_t ma;
	int rc;

	q->c = PQconnectdb(url);
	if (!q->c || PQstatus(q->c) != CONNECTION_OK) {
		const char *m = q->c ? PQerrorMessage(q->c) : "out of memory";
		return err_set(e, ERR_NET, "postgres: cannot connect: %.*s", (int)strcspn(m, "\n"), m);
	}
	session_setup(q);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	rc = pthread_mutex_init(&q->mu, &ma);
	pthread_mutexattr_destroy(&ma);
	return rc ? err_set(e, ERR_NOMEM, "postgres: mutex init failed") : 0;
}

int store_postgres_open(struct store **out, const char *url, struct err *e)
{
	struct store *s = NULL;
	struct pgpool *pool = NULL;
	char conninfo[STORE_URL_MAX + 1];
	unsigned n;
	int rc;

	if ((rc = pool_param(conninfo, sizeof conninfo, &n, url, e)))
		return rc;
	if (!(s = calloc(1, sizeof *s)) || !(pool = calloc(1, sizeof *pool))) {
		free(s);
		return err_set(e, ERR_NOMEM, "postgres: out of memory");
	}
	for (pool->n = 0; pool->n < n; pool->n++) {
		if ((rc = conn_open(&pool->conn[pool->n], conninfo, e))) {
			PQfinish(pool->conn[pool->n].c);
			goto fail;
		}
		if (pool->n == 0 && ((rc = pg_check_encoding(&pool->conn[0], e)) || (rc = pg_migrate(&pool->conn[0], e)))) {
			pool->n++;
			goto fail;
		}
	}
	if ((rc = conn_open(&pool->lock, conninfo, e))) {
		PQfinish(pool->lock.c);
		goto fail;
	}
	s->ops = &pg_ops;
	s->impl = pool;
	*out = s;
	return 0;
fail:
	for (unsigned i = 0; i < pool->n; i++) {
		PQfinish(pool->conn[i].c);
		pthread_mutex_destroy(&pool->conn[i].mu);
	}
	free(pool);
	free(s);
	return rc;
}
