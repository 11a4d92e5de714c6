/*
 * store.h — the marketplace server's persistent store, behind one small
 * domain-level interface.
 *
 * Callers see only `struct store *` and the store_* functions below; the
 * backend sits behind a vtable (`struct store_ops`, store_impl.h) picked by
 * URL at store_open: "sqlite:/path/to.db" (also "sqlite:///abs/path",
 * "sqlite:relative.db", "sqlite::memory:") today; "postgres://..." and
 * "postgresql://..." are recognised and answer ERR_UNSUPPORTED until that
 * backend exists. No SQL crosses this interface.
 *
 * Invariants (see docs/store.md):
 *  - The chain is the truth for money; rentals and rental_events are an index
 *    rebuilt from chain events. Money is a decimal string of a uint256
 *    (no sign, no leading zeros, at most 78 digits). Times are unix seconds.
 *    Addresses are "0x" + 40 lowercase hex digits, hashes "0x" + 64.
 *  - Every input is checked here, before any backend sees it: text fields
 *    have length caps (the error names the field), addresses and hashes are
 *    format-checked, enums and ranges are checked. Bad input changes nothing.
 *  - Writes are durable once the call returns 0 (outside a transaction) or
 *    once store_tx_commit returns 0.
 *  - Safe to call from several threads. A transaction belongs to the thread
 *    that began it; calls from other threads wait until it ends.
 *  - A failed call leaves its outputs untouched.
 *  - List functions call `cb` once per row in the documented order; a
 *    non-zero return from `cb` stops the walk and is returned. The callback
 *    may call the store from the same thread.
 *  - Session tokens never reach the database: only their SHA-256 is stored.
 */
#ifndef FLOP_STORE_STORE_H
#define FLOP_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct store;

/* ---- sizes (bytes including the NUL) and caps ---- */
#define STORE_URL_MAX 4096      /* store_open URL, bytes */
#define STORE_ADDR_SIZE 43      /* "0x" + 40 lowercase hex */
#define STORE_HASH_SIZE 67      /* "0x" + 64 lowercase hex */
#define STORE_DEC_SIZE 79       /* uint256 decimal: 1..78 digits */
#define STORE_ENDPOINT_SIZE 257 /* provider agent endpoint URL */
#define STORE_NAME_SIZE 65      /* short text: driver and CUDA versions */
#define STORE_REGION_SIZE 32    /* host region; = OFFER_REGION_MAX of market/offer.h */
#define STORE_MODEL_SIZE 32     /* GPU model; = OFFER_GPU_MAX of market/offer.h */
#define STORE_SYMBOL_SIZE 33    /* token symbol */
#define STORE_SIG_SIZE 2051     /* "0x" + up to 1024 bytes as hex */
#define STORE_JSON_SIZE 4097    /* JSON text columns (rental extra, event data) */
#define STORE_KIND_SIZE 33      /* event kind ("Opened", ...) */
#define STORE_NONCE_SIZE 65     /* SIWE nonce: [A-Za-z0-9]{8,64} (EIP-4361) */
#define STORE_TOKEN_MAX 256     /* session token bytes (only its hash is kept) */
#define STORE_TARGET_SIZE 129   /* probe target key */
#define STORE_HOST_SIZE 254     /* access host name or address */
#define STORE_USER_SIZE 33      /* access Unix user name */
#define STORE_HOST_KEY_MAX 3000 /* one SSH host key line "type base64" (RSA up to 16384 bits) */
#define STORE_HOST_KEYS_MAX 4   /* host keys per access report */
#define STORE_HOST_KEYS_SIZE (STORE_HOST_KEYS_MAX * (STORE_HOST_KEY_MAX + 1))
#define STORE_COMMENT_CHARS 500 /* rating comment, UTF-8 characters */
#define STORE_COMMENT_SIZE (4 * STORE_COMMENT_CHARS + 1)
#define STORE_GPU_INDEX_MAX 63  /* GPUs per host: index 0..63 */
#define STORE_LIST_MAX 1000     /* rows one list call returns at most */
#define STORE_TIME_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
#define STORE_ID_MAX INT64_MAX  /* chain ids, rental ids, block numbers */

/* ---- entities ---- */

struct store_provider {
	char address[STORE_ADDR_SIZE];      /* provider (offer signer) */
	int64_t first_seen;                 /* first heartbeat; kept on upsert */
	int64_t last_heartbeat;             /* latest heartbeat; never moves back */
	char endpoint[STORE_ENDPOINT_SIZE]; /* agent URL, may be "" */
};

struct store_host {
	uint64_t machine_id;                 /* agent's host id (key) */
	char provider[STORE_ADDR_SIZE];      /* owner; fixed once stored */
	char country[3];                     /* ISO 3166-1 alpha-2 upper case, or "" */
	char region[STORE_REGION_SIZE];      /* free-form, may be "" */
	uint32_t net_up_mbps;                /* measured upload, Mbit/s */
	uint32_t net_down_mbps;              /* measured download, Mbit/s */
	uint32_t cpu_cores;                  /* cores offered */
	uint32_t ram_gib;                    /* RAM offered */
	uint32_t disk_gib;                   /* disk offered */
	char driver_version[STORE_NAME_SIZE]; /* "550.54.15", may be "" */
	char cuda_version[STORE_NAME_SIZE];  /* "12.4", may be "" */
	bool simulated;                      /* demo / test host */
	char isolation[12];                  /* "container" or "account" ("" is stored as account) */
	char images[160];                    /* instance images, "a,b" (market/offer.h offer_images_ok) */
	bool jupyter;                        /* its agent serves a Jupyter notebook per rental */
	int64_t updated_at;                  /* last report */
};

struct store_gpu {
	uint64_t machine_id;          /* host (must exist) */
	uint32_t index;               /* 0..STORE_GPU_INDEX_MAX */
	char model[STORE_MODEL_SIZE]; /* normalised name, non-empty */
	uint32_t vram_mib;            /* memory, MiB */
	uint64_t fp32_mtflops;        /* fp32, milli-TFLOPS */
	uint64_t fp16_mtflops;        /* fp16, milli-TFLOPS */
	uint32_t mem_bw_gbps;         /* memory bandwidth, GB/s */
	bool bench_verified;          /* benchmark verified by the operator */
	int64_t bench_at;             /* last benchmark, 0 = never */
};

enum store_offer_status {
	STORE_OFFER_ACTIVE = 1,
	STORE_OFFER_CANCELLED = 2, /* final: a later put does not revive it */
	STORE_OFFER_EXPIRED = 3,
};

/* A signed offer (EIP-712 `Offer`, see docs/escrow.md) as stored. */
struct store_offer {
	char offer_hash[STORE_HASH_SIZE];  /* EIP-712 digest (key) */
	uint64_t machine_id;               /* host the offer describes */
	char provider[STORE_ADDR_SIZE];    /* signer */
	char payout[STORE_ADDR_SIZE];
	char token[STORE_ADDR_SIZE];       /* zero address = native coin */
	char arbiter[STORE_ADDR_SIZE];     /* zero address = none */
	char rate[STORE_DEC_SIZE];         /* uint128, decimal */
	uint32_t min_secs;
	uint32_t max_secs;
	bool interruptible;
	uint32_t notice_secs;
	uint32_t grace_secs;
	uint32_t dispute_secs;
	char spec_hash[STORE_HASH_SIZE];
	int64_t expiry;                    /* uint40 unix seconds */
	char nonce[STORE_DEC_SIZE];        /* uint64, decimal */
	char signature[STORE_SIG_SIZE];    /* 0x hex, 65..1024 bytes */
	char token_symbol[STORE_SYMBOL_SIZE]; /* "USDC" */
	uint8_t token_decimals;            /* 0..36 */
	enum store_offer_status status;
	int64_t created_at;                /* set on first put */
	int64_t updated_at;
	uint16_t capacity;                 /* live rentals of the machine at once, >= 1 */
	char monitor[STORE_ADDR_SIZE];     /* attestation key the offer accepts */
	uint16_t max_fee_bps;              /* highest platform fee the offer accepts */
};

struct store_session {
	char address[STORE_ADDR_SIZE]; /* signed-in address */
	int64_t created_at;
	int64_t expires_at;
};

enum store_rental_state {
	STORE_RENTAL_OPEN = 1,
	STORE_RENTAL_ENDED = 2,
	STORE_RENTAL_DISPUTED = 3,
	STORE_RENTAL_RESOLVED = 4,
	STORE_RENTAL_CLOSED = 5,
};

/* The mirror of one on-chain rental; key (chain_id, id). */
struct store_rental {
	uint64_t chain_id;
	uint64_t id;                        /* contract rental id */
	char offer_hash[STORE_HASH_SIZE];   /* "" when unknown */
	char renter[STORE_ADDR_SIZE];
	char provider[STORE_ADDR_SIZE];
	char payout[STORE_ADDR_SIZE];
	char token[STORE_ADDR_SIZE];
	char rate[STORE_DEC_SIZE];          /* uint128 */
	uint32_t fee_bps;                   /* 0..10000 */
	char deposited[STORE_DEC_SIZE];     /* all money fields: uint256 decimal */
	char claimed[STORE_DEC_SIZE];
	char provider_paid[STORE_DEC_SIZE];
	char fee_paid[STORE_DEC_SIZE];
	char refunded[STORE_DEC_SIZE];
	enum store_rental_state state;
	int64_t opened_at;
	int64_t paid_until;
	int64_t ended_at;                   /* 0 while active */
	uint64_t opened_block;
	char opened_tx[STORE_HASH_SIZE];
	uint64_t last_block;                /* block of the latest applied event */
	char extra[STORE_JSON_SIZE];        /* JSON text; "" reads back as "{}" */
};

/* One log of the escrow contract; key (chain_id, tx_hash, log_index). */
struct store_event {
	uint64_t chain_id;
	uint64_t block_number;
	char block_hash[STORE_HASH_SIZE];
	int64_t block_time;
	char tx_hash[STORE_HASH_SIZE];
	uint32_t log_index;
	uint64_t rental_id;                 /* 0 = not about a rental */
	char kind[STORE_KIND_SIZE];         /* event name, [A-Za-z0-9_]{1,32} */
	char data[STORE_JSON_SIZE];         /* JSON text; "" reads back as "{}" */
};

/* Where an indexer is: last fully applied block of one contract. */
struct store_indexer {
	uint64_t chain_id;
	char contract[STORE_ADDR_SIZE];
	uint64_t block_number;
	char block_hash[STORE_HASH_SIZE];
	int64_t updated_at;
};

struct store_rating {
	uint64_t chain_id;
	uint64_t rental_id;                   /* one rating per rental */
	char renter[STORE_ADDR_SIZE];
	uint32_t stars;                       /* 1..5 */
	char comment[STORE_COMMENT_SIZE];     /* <= 500 UTF-8 characters */
	int64_t created_at;
};

/* One uptime probe: `ok` covers the `period_s` seconds starting at `at`. */
struct store_probe {
	char target[STORE_TARGET_SIZE]; /* caller's key, e.g. "host:42", "rental:1:7" */
	int64_t at;
	bool ok;
	uint32_t latency_ms;
	uint32_t period_s;              /* 1..86400 */
};

/* The agent's report that it granted access to a rental; one per rental. */
struct store_access_report {
	uint64_t chain_id;
	uint64_t rental_id;
	int64_t granted_at;
	char host[STORE_HOST_SIZE];   /* non-empty */
	uint32_t port;                /* 1..65535 */
	char user[STORE_USER_SIZE];   /* Unix user, [a-z_][a-z0-9_-]{0,31} */
	char host_keys[STORE_HOST_KEYS_SIZE]; /* the sshd's "type base64" lines, '\n'-joined ("": none reported) */
};

/* Row callbacks: return 0 to go on, non-zero to stop (that value is returned). */
typedef int (*store_offer_cb)(void *ctx, const struct store_offer *o);
typedef int (*store_gpu_cb)(void *ctx, const struct store_gpu *g);
typedef int (*store_rental_cb)(void *ctx, const struct store_rental *r);
typedef int (*store_event_cb)(void *ctx, const struct store_event *ev);

/* Names of rental states and offer statuses ("open", "active", ...): the store's columns and every JSON
 * answer use these; *_from maps a name back (an unknown one reads as open / active). */
const char *store_rental_state_name(enum store_rental_state st);
enum store_rental_state store_rental_state_from(const char *s);
const char *store_offer_status_name(enum store_offer_status st);
enum store_offer_status store_offer_status_from(const char *s);

/* ---- open, close, transactions ---- */

/*
 * Opens the store named by `url` (see above), creating the database and
 * applying pending migrations. ERR_UNSUPPORTED for postgres URLs,
 * ERR_INVALID for unknown schemes, ERR_IO when the database cannot be
 * opened, ERR_UNSUPPORTED when the database is newer than this binary.
 * The caller owns *out and frees it with store_close.
 */
int store_open(struct store **out, const char *url, struct err *e);

/* Closes the store (NULL allowed). An open transaction is rolled back. */
void store_close(struct store *s);

/* Writes the schema version (latest applied migration). */
int store_schema_version(struct store *s, int *out, struct err *e);

/*
 * Begins a transaction owned by the calling thread; until commit or
 * rollback, calls from other threads wait. ERR_STATE when this thread
 * already has one open (no nesting).
 */
int store_tx_begin(struct store *s, struct err *e);
/* Commits; ERR_STATE without an open transaction of this thread. */
int store_tx_commit(struct store *s, struct err *e);
/* Rolls back; ERR_STATE without an open transaction of this thread. */
int store_tx_rollback(struct store *s, struct err *e);

/* ---- providers, hosts, GPUs ---- */

/*
 * Inserts or updates a provider. On update first_seen is kept, endpoint is
 * replaced, last_heartbeat only moves forward.
 */
int store_provider_upsert(struct store *s, const struct store_provider *p, struct err *e);
/* ERR_NOT_FOUND when the address is unknown. */
int store_provider_get(struct store *s, struct store_provider *out, const char *address,
		       struct err *e);

/*
 * Inserts or replaces a host. ERR_CONFLICT when machine_id is already
 * stored for another provider (a host never changes hands silently).
 */
int store_host_upsert(struct store *s, const struct store_host *h, struct err *e);
int store_host_get(struct store *s, struct store_host *out, uint64_t machine_id, struct err *e);

/* Inserts or replaces GPU (machine_id, index); ERR_NOT_FOUND without the host. */
int store_gpu_upsert(struct store *s, const struct store_gpu *g, struct err *e);
int store_gpu_get(struct store *s, struct store_gpu *out, uint64_t machine_id, uint32_t index,
		  struct err *e);
/* The host's GPUs in index order. */
int store_gpus_list(struct store *s, uint64_t machine_id, store_gpu_cb cb, void *ctx,
		    struct err *e);

/* ---- offers ---- */

/*
 * Inserts an offer, or updates the one with the same offer_hash (created_at
 * is kept; a cancelled offer stays cancelled).
 */
int store_offer_put(struct store *s, const struct store_offer *o, struct err *e);
int store_offer_get(struct store *s, struct store_offer *out, const char *offer_hash,
		    struct err *e);
/* Sets the status of one offer. ERR_NOT_FOUND, or ERR_STATE when cancelled. */
int store_offer_set_status(struct store *s, const char *offer_hash, enum store_offer_status status,
			   int64_t now, struct err *e);
/* Cancels every offer of `provider` with `nonce` (OfferCancelled); *count may be NULL. */
int store_offer_cancel_nonce(struct store *s, uint64_t *count, const char *provider,
			     const char *nonce, int64_t now, struct err *e);
/* Marks active offers with expiry <= now expired; *count may be NULL. */
int store_offers_expire(struct store *s, uint64_t *count, int64_t now, struct err *e);
/*
 * Active offers with expiry > now, by (provider, machine_id, offer_hash): a reader building per-provider
 * and per-machine figures reads each provider and host once.
 */
int store_offers_active(struct store *s, int64_t now, store_offer_cb cb, void *ctx, struct err *e);
/* A provider's offers with expiry > now in any status (active, cancelled), in offer_hash order. */
int store_offers_of_provider(struct store *s, const char *provider, int64_t now, store_offer_cb cb, void *ctx,
			     struct err *e);

/* ---- SIWE nonces and sessions ---- */

/*
 * Records a fresh single-use nonce valid while now < expires_at.
 * ERR_CONFLICT when the nonce was issued before.
 */
int store_nonce_issue(struct store *s, const char *nonce, int64_t now, int64_t expires_at,
		      struct err *e);
/*
 * Consumes a nonce atomically: 0 the first time, ERR_CONFLICT when already
 * used, ERR_STATE when expired, ERR_NOT_FOUND when never issued.
 */
int store_nonce_consume(struct store *s, const char *nonce, int64_t now, struct err *e);
/* Deletes nonces that expired before `before`; *count may be NULL. */
int store_nonces_purge(struct store *s, uint64_t *count, int64_t before, struct err *e);

/*
 * Creates a session for `address`, storing only SHA-256(token) (token:
 * 16..STORE_TOKEN_MAX bytes, never stored). ERR_CONFLICT on a reused token.
 */
int store_session_create(struct store *s, const uint8_t *token, size_t token_len,
			 const char *address, int64_t now, int64_t expires_at, struct err *e);
/*
 * Finds the session of `token` (looked up by its hash). ERR_NOT_FOUND when
 * unknown, ERR_STATE when expired (now >= expires_at).
 */
int store_session_lookup(struct store *s, struct store_session *out, const uint8_t *token,
			 size_t token_len, int64_t now, struct err *e);
/* Deletes the session of `token`; ERR_NOT_FOUND when unknown. */
int store_session_delete(struct store *s, const uint8_t *token, size_t token_len, struct err *e);
/* Deletes sessions that expired before `before`; *count may be NULL. */
int store_sessions_purge(struct store *s, uint64_t *count, int64_t before, struct err *e);

/* ---- rentals mirror ---- */

/* Inserts or replaces rental (chain_id, id). */
int store_rental_upsert(struct store *s, const struct store_rental *r, struct err *e);
int store_rental_get(struct store *s, struct store_rental *out, uint64_t chain_id, uint64_t id,
		     struct err *e);
/* A renter's / provider's rentals, newest first (opened_at, id descending), at most `limit` (1..STORE_LIST_MAX). */
int store_rentals_by_renter(struct store *s, uint64_t chain_id, const char *renter, uint32_t limit,
			    store_rental_cb cb, void *ctx, struct err *e);
int store_rentals_by_provider(struct store *s, uint64_t chain_id, const char *provider,
			      uint32_t limit, store_rental_cb cb, void *ctx, struct err *e);
/* Deletes one rental's mirror (for a rebuild); ERR_NOT_FOUND when absent. */
int store_rental_delete(struct store *s, uint64_t chain_id, uint64_t id, struct err *e);

/* ---- chain events journal and indexer progress ---- */

/*
 * Journals one event. A second insert of the same (chain_id, tx_hash,
 * log_index) is a no-op returning 0; *inserted (may be NULL) tells which.
 */
int store_event_insert(struct store *s, bool *inserted, const struct store_event *ev,
		       struct err *e);
/* Events of one rental in chain order (block_number, log_index). */
int store_events_of_rental(struct store *s, uint64_t chain_id, uint64_t rental_id,
			   store_event_cb cb, void *ctx, struct err *e);
/* Reorg rollback: deletes events with block_number >= from_block; *count may be NULL. */
int store_events_delete_from(struct store *s, uint64_t *count, uint64_t chain_id,
			     uint64_t from_block, struct err *e);

/* ERR_NOT_FOUND when this (chain_id, contract) never recorded progress. */
int store_indexer_get(struct store *s, struct store_indexer *out, uint64_t chain_id,
		      const char *contract, struct err *e);
int store_indexer_set(struct store *s, const struct store_indexer *p, struct err *e);

/* Recent block hashes for reorg detection; a put replaces (chain_id, number). */
int store_block_put(struct store *s, uint64_t chain_id, uint64_t number, const char *hash,
		    struct err *e);
/* Writes the hash into out (room STORE_HASH_SIZE); ERR_NOT_FOUND when absent. */
int store_block_get(struct store *s, char *out, uint64_t chain_id, uint64_t number,
		    struct err *e);
/* Deletes blocks >= from_block (reorg); *count may be NULL. */
int store_blocks_delete_from(struct store *s, uint64_t *count, uint64_t chain_id,
			     uint64_t from_block, struct err *e);
/* Deletes blocks < below (keep the window small); *count may be NULL. */
int store_blocks_prune(struct store *s, uint64_t *count, uint64_t chain_id, uint64_t below,
		       struct err *e);

/* ---- reputation: ratings, uptime probes, access reports ---- */

/* One rating per rental: a second one is ERR_CONFLICT. */
int store_rating_insert(struct store *s, const struct store_rating *r, struct err *e);
int store_rating_get(struct store *s, struct store_rating *out, uint64_t chain_id,
		     uint64_t rental_id, struct err *e);
/* Count and star sum of ratings of rentals whose provider is `provider`. */
int store_provider_ratings(struct store *s, uint64_t *count, uint64_t *stars_sum,
			   uint64_t chain_id, const char *provider, struct err *e);

int store_probe_insert(struct store *s, const struct store_probe *p, struct err *e);
/*
 * Seconds up and observed for `target` in [from, to): each probe taken in
 * the window counts min(period_s, to - at) seconds, as up when ok.
 */
int store_uptime(struct store *s, uint64_t *up_s, uint64_t *observed_s, const char *target,
		 int64_t from, int64_t to, struct err *e);

/* One report per rental: a second one is ERR_CONFLICT. */
int store_access_report_insert(struct store *s, const struct store_access_report *a,
			       struct err *e);
int store_access_report_get(struct store *s, struct store_access_report *out, uint64_t chain_id,
			    uint64_t rental_id, struct err *e);
/*
 * Median of (granted_at - opened_at) over the provider's latest
 * STORE_LIST_MAX reported rentals; *count = how many (0: *median_s = 0).
 */
int store_provider_response_median(struct store *s, int64_t *median_s, uint64_t *count,
				   uint64_t chain_id, const char *provider, struct err *e);

/* ---- several server processes on one database (replicas; docs/store.md) ---- */

#define STORE_ORIGIN_SIZE 33      /* a process's id in the change log: 32 lowercase hex digits */
#define STORE_CHANGES_MAX 1000    /* rows one store_changes_after returns at most */
#define STORE_SECRET_SIZE 32

/* True when other processes may share this database (PostgreSQL); false for SQLite (one process). */
bool store_shared(const struct store *s);

/*
 * Appends to the change log that `provider`'s listing changed ("*": everything), by process `origin`.
 * The log's order is commit order: a reader of store_changes_after never misses a row.
 */
int store_change_note(struct store *s, const char *provider, const char *origin, int64_t now, struct err *e);

/* One row of the change log. */
struct store_change {
	uint64_t seq;
	char provider[STORE_ADDR_SIZE]; /* an address, or "*" */
	char origin[STORE_ORIGIN_SIZE];
};
/*
 * The rows after `after` (seq order), at most `cap` (1..STORE_CHANGES_MAX) into out; *n how many.
 * A first call with after = UINT64_MAX gives no rows and *n = 0, and sets *last to the newest seq
 * (0 when empty): where a new reader starts.
 */
int store_changes_after(struct store *s, struct store_change *out, size_t cap, size_t *n, uint64_t *last,
			uint64_t after, struct err *e);
/* Deletes log rows older than `before`. */
int store_changes_purge(struct store *s, uint64_t *count, int64_t before, struct err *e);

/*
 * Whether this process holds role `name` (a-z, 1..32 characters), taking it when nobody does: exactly
 * one process at a time holds a role (a PostgreSQL session advisory lock, released when its holder's
 * connection ends: kill -9 included); SQLite: always the one process. Call it again each round: a
 * lost connection loses the role.
 */
int store_role_try(struct store *s, const char *name, bool *held, struct err *e);

/* The shared secret `name` (a-z_, 1..32 characters): made at random by the first caller, the same bytes
 * for every process after. */
int store_secret(struct store *s, const char *name, uint8_t out[STORE_SECRET_SIZE], struct err *e);

#endif
