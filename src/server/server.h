/*
 * server.h — the marketplace server (`flopmarket serve`), internal to src/server.
 *
 * One `struct server` holds everything a request needs: the configuration, the store (the only
 * durable state: the server is otherwise stateless, so replicas can share a PostgreSQL store), the
 * in-memory offer search index (rebuilt from the store's active offers at startup, updated on each
 * publish / cancel), counters for /metrics, and the background workers (chain indexer, uptime
 * monitor, janitor) each with its own RPC client.
 *
 * Routes are plain functions `int route(struct server *, const struct srv_req *, struct srv_resp *)`
 * that never touch a socket: the HTTP adapter (http_glue.c) turns a request into a `struct srv_req`
 * and a `struct srv_resp` into bytes, and unit tests call routes directly. A route answers with a
 * status and a JSON body; errors are `{"error":{"code","message","field"}}` via srv_error. A route that
 * fails on bad input changes nothing (every check runs before the first store write).
 *
 * Money is u256 / decimal strings end to end; floats never. Logs are logfmt and never carry session
 * tokens, signatures of sessions, or keys.
 */
#ifndef FLOP_SERVER_SERVER_H
#define FLOP_SERVER_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/u256.h"
#include "eth/address.h"
#include "eth/rpc.h"
#include "server/view.h"
#include "store/store.h"

struct err;
struct search_index;
struct http_server;
struct pricefeed_cache;

#define SRV_TOKENS_MAX 16          /* accepted payment tokens */
#define SRV_TLS_PEM_MAX 16384      /* a TLS certificate chain or key, PEM text */
#define SRV_BODY_MAX_DEFAULT (64 * 1024)
#define SRV_DOMAIN_MAX 256
#define SRV_ANSWERS_CACHED 4096    /* search answers kept (direct-mapped; each <= VIEW_CACHE_BODY_MAX) */
#define SRV_ANSWERS_BYTES ((size_t)32 << 20)   /* ... in at most this many bytes */
#define SRV_ENTITIES_CACHED 16384  /* host and provider views kept */
#define SRV_ENTITIES_BYTES ((size_t)16 << 20)

/* One payment token the marketplace lists offers in. */
struct srv_token {
	struct eth_address address;  /* zero = the chain's native coin */
	char symbol[12];             /* [A-Za-z0-9]{1,11} */
	uint8_t decimals;            /* 0..36 */
	uint64_t usd_micro;          /* fixed USD price of one whole token * 1e6; 0 = unknown */
	bool has_feed;               /* feed is set: receipts price payments from it (over usd_micro) */
	struct eth_address feed;     /* AggregatorV3-shaped USD price feed (src/server/pricefeed.h) */
};

/* Everything `flopmarket serve` is configured with (cmd_serve.c fills it). */
struct srv_config {
	char listen_addr[64];          /* "127.0.0.1" */
	uint16_t port;                 /* 0: pick a free port (read it back with server_port) */
	char db_url[STORE_URL_MAX];    /* "sqlite:/path/market.db" */
	char rpc_url[RPC_URL_MAX + 1]; /* "" = no chain: indexer and monitor off */
	uint64_t chain_id;             /* the escrow's chain */
	struct eth_address escrow;     /* the RentalEscrow deployment */
	uint16_t fee_bps;              /* the deployment's fee (shown in prices) */
	uint64_t start_block;          /* the indexer starts here (deployment block) */
	uint64_t confirmations;        /* blocks on top before an event is indexed */
	uint64_t batch_blocks;         /* blocks per eth_getLogs batch, 1..100000 */
	unsigned indexer_poll_ms;      /* pause between indexer rounds */
	unsigned monitor_interval_ms;  /* pause between probe rounds; 0 = monitor off */
	unsigned probe_timeout_ms;     /* TCP connect + banner read */
	bool has_monitor_key;          /* monitor_seckey is set (attestations possible) */
	uint8_t monitor_seckey[32];    /* wiped by server_free */
	struct eth_address monitor;    /* its address */
	bool has_escrow_monitor;       /* escrow_monitor was read from the chain */
	struct eth_address escrow_monitor; /* the escrow's monitor(): offers must name it to be rentable */
	char siwe_domain[SRV_DOMAIN_MAX]; /* expected SIWE domain ("" = the listen host:port) */
	char siwe_origin[SRV_DOMAIN_MAX]; /* expected URI origin ("" = http://domain) */
	uint32_t nonce_ttl_s;          /* SIWE nonce lifetime */
	uint32_t session_ttl_s;        /* session lifetime */
	size_t body_max;               /* request body cap, bytes */
	unsigned max_conns;            /* concurrent connections */
	unsigned rate_per_min;         /* requests per client IP per minute; 0 = unlimited */
	unsigned threads;              /* HTTP worker threads */
	size_t max_offers;             /* search index capacity */
	uint32_t min_dispute_secs;     /* offers must give at least this dispute window */
	uint32_t offer_stale_s;        /* offers leave search this long after their host's last heartbeat */
	struct srv_token tokens[SRV_TOKENS_MAX]; /* accepted tokens */
	size_t n_tokens;
	uint32_t feed_max_age_s;       /* a feed round older than this at the payment block is stale */
	uint32_t cache_max_age_s;      /* Cache-Control max-age of cacheable reads; 0: revalidate (no-cache) */
	char web_dir[512];             /* serve the web UI from this folder ("" = the embedded files) */
	char chain_name[64];           /* shown by the page and given to wallets adding the chain */
	char public_rpc_url[256];      /* the chain's RPC URL wallets may add ("" = none offered) */
	char explorer_url[256];        /* block explorer base URL ("" = none): tx links are URL/tx/HASH */
	char tls_cert_pem[SRV_TLS_PEM_MAX]; /* HTTPS: certificate chain (PEM text), "" = plain HTTP */
	char tls_key_pem[SRV_TLS_PEM_MAX];  /* its private key (wiped by server_free) */
	bool relay_on;                 /* the gasless relayer runs (relayer.h) */
	uint8_t relay_seckey[32];      /* its account's key (wiped by server_free) */
	char relay_journal[512];       /* its queue + sender journal (SQLite file) */
	unsigned relay_margin_pct;     /* fee above the gas cost, percent */
	unsigned relay_pending_max;    /* intents in flight per renter */
	unsigned relay_hourly_max;     /* intents per renter per hour */
	unsigned relay_min_deadline_s; /* an intent must stay valid at least this long */
	unsigned relay_stuck_ms;       /* replace a transaction unmined this long (0: the sender's default) */
	unsigned relay_poll_ms;        /* pause between worker rounds */
};

/* Fills `c` with the defaults (see docs/api.md "Configuration"). */
void srv_config_defaults(struct srv_config *c);

/*
 * Application counters for GET /metrics (request counts and latencies are kept by the HTTP layer's
 * registry, src/net/metrics.h); updated lock-free from every thread.
 */
struct srv_metrics {
	atomic_uint_fast64_t indexer_head;        /* chain head seen last */
	atomic_uint_fast64_t indexer_block;       /* last indexed block */
	atomic_uint_fast64_t indexer_rounds;
	atomic_uint_fast64_t indexer_errors;
	atomic_uint_fast64_t indexer_reorgs;
	atomic_uint_fast64_t events_indexed;
	atomic_uint_fast64_t rentals_open;
	atomic_uint_fast64_t probes_ok;
	atomic_uint_fast64_t probes_failed;
};

struct server {
	struct srv_config cfg;
	struct store *store;
	pthread_rwlock_t index_lock;     /* guards the `index` pointer swap */
	uint8_t nonce_key[32];           /* nonce.c's MAC key, the store's shared "nonce_key" (every replica
					  * checks every replica's nonces); wiped by server_free */
	char origin[STORE_ORIGIN_SIZE];  /* this process's random id in the store's change log (replicas.c) */
	uint64_t changes_seen;           /* the change log's last row this process has applied */
	atomic_bool index_dirty;         /* listing.c: rebuild the index (rentals opened/ended, host back) */
	pthread_mutex_t fresh_mu;        /* guards fresh / nfresh / fresh_cap (listing.c) */
	struct listing_fresh *fresh;     /* provider -> when their offers leave search (open addressing) */
	size_t nfresh, fresh_cap;
	struct search_index *index;      /* live offers, each row with its rendered view (offer_index.c) */
	pthread_mutex_t rebuild_mu;      /* one full rebuild at a time */
	pthread_mutex_t index_write_mu;  /* every write of the index (offer_index.c) */
	bool index_rebuilding;           /* a rebuild runs: writes are journalled (index_write_mu) */
	char (*journal)[STORE_HASH_SIZE]; /* offer hashes / provider addresses written during a rebuild */
	size_t njournal;
	bool journal_over;
	atomic_uint_fast64_t index_gen;  /* bumped after every change of the index */
	_Atomic int64_t index_built_at;  /* last full rebuild (unix seconds) */
	pthread_mutex_t changed_mu;      /* guards changed / nchanged */
	char (*changed)[STORE_ADDR_SIZE]; /* providers whose offers must be re-read (listing.c) */
	size_t nchanged;
	struct view_cache *answers;      /* search answers by query, tagged (index_gen, second) */
	struct view_cache *entities;     /* host and provider views by "host:ID" / "provider:0x.." */
	atomic_uint_fast64_t hosts_gen;  /* bumped by every host registration and endpoint change */
	atomic_bool health_ok;           /* the store answered the janitor's last check */
	atomic_int health_schema;        /* its schema version then */
	_Atomic int64_t health_at;       /* when (unix seconds; 0: never) */
	_Atomic uint64_t health_stored_block; /* indexer_progress as stored then (what another replica indexed) */
	bool state_ready;                /* server_state_init ran */
	struct srv_metrics metrics;
	atomic_bool stopping;            /* set by server_stop: workers finish their round */
	pthread_t indexer_thread, monitor_thread, janitor_thread, follower_thread;
	bool indexer_running, monitor_running, janitor_running, follower_running;
	_Atomic bool indexer_role, monitor_role; /* this replica holds that role now (store_role_try) */
	pthread_mutex_t wake_lock;       /* with wake, lets server_stop interrupt sleeps */
	pthread_cond_t wake;
	struct http_server *http;        /* the HTTP layer (src/net/http.h), NULL in unit tests */
	void *http_routes;               /* http_glue.c's per-route handler contexts */
	uint16_t bound_port;             /* port actually listened on */
	int64_t started_at;              /* unix seconds */
	atomic_uint_fast64_t max_rental_id; /* highest rental id the indexer has seen */
	struct pricefeed_cache *prices;  /* (feed, block) -> price results; NULL = uncached */
	struct relayer *relayer;         /* the gasless relayer (relayer.h), NULL when off */
	struct view **web_views;         /* web.c: one view per embedded web file (web_asset_count) */
	char web_csp[512];               /* the page's Content-Security-Policy (web.c) */
};

/* ---- lifecycle (server.c) ---- */

/*
 * Opens the store, rebuilds the offer index, starts the HTTP listener and the workers. On success
 * *out is a running server (free with server_free after server_stop). `cfg` is copied.
 */
int server_start(struct server **out, const struct srv_config *cfg, struct err *e);
/* Asks every worker and the listener to stop and waits for them. Idempotent. */
void server_stop(struct server *s);
/*
 * Sets up what a server holds in memory besides its store and listener: locks, the index journal, the
 * view caches (server_start calls it; unit tests that build a server by hand too). ERR_NOMEM.
 */
int server_state_init(struct server *s, struct err *e);
/* Frees what server_state_init made and the index (NULL fields allowed). */
void server_state_release(struct server *s);
/* Frees a stopped server (NULL allowed); wipes the monitor key. */
void server_free(struct server *s);
/* Sleeps up to ms, returning early when the server is stopping; true when stopping. */
bool server_sleep(struct server *s, unsigned ms);
/* Wall clock in unix seconds (all routes use it; tests may not fake it). */
int64_t server_now(void);

/* Parses a signed offer's EIP-712 object (routes_offers.c); *field names the offending field. */
struct escrow_offer;
int srv_offer_parse(struct escrow_offer *o, const json_t *j, const char **field, struct err *e);

/* Token accepted for offers, by address; NULL when not accepted. */
const struct srv_token *server_token(const struct server *s, const struct eth_address *a);

/* ---- requests and responses (the routes' view of HTTP) ---- */

enum srv_method { SRV_GET = 1, SRV_POST, SRV_DELETE, SRV_OTHER };

struct srv_req {
	enum srv_method method;
	const char *path;          /* decoded path, e.g. "/offers/0xab.." */
	const char *arg;           /* path parameter of the matched route ({hash}, {id}); "" when none */
	const char *body;          /* request body (NUL-terminated), "" when none */
	size_t body_len;
	const char *bearer;        /* Authorization: Bearer token, NULL when none */
	const char *client;        /* client IP text */
	const char *if_none_match; /* If-None-Match header, NULL when none */
	const char *accept_encoding; /* Accept-Encoding header, NULL when none */
	const char *(*query)(const struct srv_req *r, const char *name); /* query parameter or NULL */
	void *conn;                /* adapter's handle for query() */
};

/* Emits one Server-Sent Event (event name, one-line JSON data); non-zero when the stream is gone. */
typedef int (*srv_emit_fn)(void *sink, const char *event, const char *data);
/*
 * An event-stream producer: called about every SRV_SSE_PERIOD_MS (first call at once) with an emit
 * function; returns non-zero to end the stream. `ctx` is freed with stream_free when it ends.
 */
typedef int (*srv_stream_fn)(void *ctx, srv_emit_fn emit, void *sink);
#define SRV_SSE_PERIOD_MS 1000

struct srv_resp {
	int status;               /* HTTP status */
	json_t *json;             /* body (owned), or NULL with text */
	char *text;               /* malloc'd body for non-JSON answers */
	size_t text_len;
	const char *content_type; /* for text; JSON sets its own */
	srv_stream_fn stream;     /* when set: an event stream (SSE) instead of a body */
	void *stream_ctx;
	void (*stream_free)(void *ctx);
	char extra_header[128];   /* one more header line "Name: value", "" when none */
	struct view *view;        /* a rendered JSON body (one reference, owned), or NULL */
	bool gzip;                /* view is the gzip copy: Content-Encoding: gzip */
	bool vary_encoding;       /* the answer depends on Accept-Encoding (Vary) */
	char etag[VIEW_ETAG_MAX]; /* ETag, "" when none */
	char cache_control[48];   /* Cache-Control, "" for the default (no-store) */
	const char *csp;          /* Content-Security-Policy of a page (with its companions), NULL when none */
};

/* Sets a JSON error answer; returns `status` so routes can `return srv_error(...)`. */
int srv_error(struct srv_resp *rs, int status, const char *code, const char *field,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Maps an ERR_* from a lower layer to an HTTP error answer (message from `e`). */
int srv_error_from(struct srv_resp *rs, int err_code, const char *field, const struct err *e);
/* Sets a JSON answer (takes the reference). NULL json = 500 out of memory. */
int srv_json(struct srv_resp *rs, int status, json_t *json);
/*
 * Answers with a rendered view (takes the reference): 304 without a body when the request's
 * If-None-Match names its tag, the gzip copy when the client accepts gzip and it pays; ETag and
 * Cache-Control (cfg.cache_max_age_s) either way. NULL view = 500 out of memory.
 */
int srv_view(struct server *s, const struct srv_req *rq, struct srv_resp *rs, int status, struct view *v);
/* Parses the body as a JSON object (bounded); on failure sets a 400 answer and returns it. */
int srv_body_object(json_t **out, const struct srv_req *rq, struct srv_resp *rs);

/*
 * The signed-in address of the request's bearer session into out (room STORE_ADDR_SIZE, lowercase).
 * On failure sets a 401 answer and returns 401.
 */
int srv_auth(char *addr_out, struct server *s, const struct srv_req *rq, struct srv_resp *rs);

typedef int (*srv_route_fn)(struct server *s, const struct srv_req *rq, struct srv_resp *rs);

/* One route: a pattern whose `{arg}` segment is handed to the route as rq->arg. */
struct srv_route {
	enum srv_method method;
	const char *method_name; /* "GET", "POST", "DELETE" */
	const char *pattern;     /* "/offers/{arg}" */
	srv_route_fn fn;
};
extern const struct srv_route srv_routes[];
extern const size_t srv_route_count;

/* Dispatches an in-process request to its route (404 / 405 otherwise); always fills rs. */
void srv_dispatch(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
/* Frees what a response holds (NULL fields allowed). */
void srv_resp_release(struct srv_resp *rs);

/* ---- routes ---- */

int route_auth_nonce(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_auth_siwe(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_auth_logout(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_me(struct server *s, const struct srv_req *rq, struct srv_resp *rs);

int route_offers_post(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_offers_search(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_offer_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_offer_delete(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_me_offers(struct server *s, const struct srv_req *rq, struct srv_resp *rs);

int route_hosts_post(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_host_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_heartbeat(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_provider_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs);

int route_rental_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_rental_receipt(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_me_rentals(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_me_receipts_csv(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_rental_rating(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_rental_access(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_rental_stream(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_rental_attestation(struct server *s, const struct srv_req *rq, struct srv_resp *rs);

int route_relay_info(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_relay_post(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_relay_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs);

int route_healthz(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
/* The web UI (web.c): GET /, GET /assets/{name}, GET /config. */
int route_web_index(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_web_asset(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
int route_config(struct server *s, const struct srv_req *rq, struct srv_resp *rs);
/* Builds the embedded files' views and the CSP (server_state_init); frees them (server_state_release). */
int web_state_init(struct server *s, struct err *e);
void web_state_release(struct server *s);
int route_metrics(struct server *s, const struct srv_req *rq, struct srv_resp *rs);

/* ---- SIWE nonces (nonce.c): stateless, MAC'd, expiring ---- */

#define SRV_NONCE_LEN 56
/* A fresh nonce valid until expires_at (unix seconds). ERR_RANGE for a time past 2^32. */
int srv_nonce_make(char out[SRV_NONCE_LEN + 1], const uint8_t key32[32], int64_t expires_at);
/* 0 with *expires_at for a nonce this server made and that is unexpired at `now`; ERR_INVALID (not a
 * nonce), ERR_AUTH (not made with this key: forged or from before a restart), ERR_STATE (expired). */
int srv_nonce_check(int64_t *expires_at, const char *nonce, const uint8_t key32[32], int64_t now);

/* ---- listing: which offers search shows (listing.c) ---- */

#define LISTING_MACHINES_MAX 256   /* machines of one provider whose live rentals are counted */
#define LISTING_RENTALS_SCAN 1000  /* newest rentals of a provider read for that count (store cap) */
#define LISTING_REFRESH_MS 1000    /* the janitor rebuilds a dirty index, re-reads changed providers within this */
#define LISTING_FULL_MS (10 * 60 * 1000) /* a full rebuild at least this often (reputation's window slides) */
#define LISTING_JOURNAL_MAX 4096   /* index writes journalled during one rebuild */
#define LISTING_CHANGED_MAX 1024   /* providers waiting for a re-read; past it: a full rebuild */

/* One provider as search sees it: is its agent alive, how many rentals are live per machine. */
struct listing_provider {
	char address[STORE_ADDR_SIZE];
	bool fresh;                    /* a heartbeat within cfg.offer_stale_s */
	int64_t stale_at;              /* when it stops being fresh (0: no heartbeat ever) */
	size_t n;                      /* entries used in machines */
	struct {
		uint8_t spec[32];      /* the machine's specHash */
		uint32_t live;         /* rentals opened and not yet ended on chain */
	} machines[LISTING_MACHINES_MAX];
};
/* Loads `provider`'s heartbeat and live rentals per machine (an unknown provider is not fresh). */
int listing_provider_load(struct server *s, struct listing_provider *out, const char *provider, int64_t now,
			  struct err *e);
/* True when search may show `so`; else *why is "host_down" or "rented". */
bool listing_offer_visible(const struct listing_provider *p, const struct store_offer *so, const char **why);
/* The index no longer matches what is rentable: the janitor rebuilds it (a reorg, a failed re-read). */
void listing_mark_dirty(struct server *s);
/* True when the janitor should rebuild the whole index now. */
bool listing_needs_rebuild(struct server *s, int64_t now);
/* One provider's staleness line as the listing last saw it. */
struct listing_fresh {
	char address[STORE_ADDR_SIZE]; /* "" = empty slot */
	int64_t stale_at;              /* when their offers leave search; 0 = not listed as fresh now */
};
/*
 * Notes when a fresh provider's offers leave search (a re-read saw them fresh, a heartbeat moved the
 * line). ERR_NOMEM leaves the line where it was (the next full rebuild notes it again).
 */
int listing_fresh_note(struct server *s, const char *provider, int64_t stale_at);
/*
 * Queues for a re-read (listing_provider_changed) every provider whose line has passed at `now`, so
 * their offers leave search without a full rebuild; returns how many.
 */
size_t listing_fresh_sweep(struct server *s, int64_t now);
/* Frees the staleness table. */
void listing_fresh_release(struct server *s);
/*
 * What search shows of a provider changed (a rental of theirs opened or ended, a rating, a probe, an
 * access report, a heartbeat): drops their cached provider view at once and queues their offers for a
 * re-read (offers_refresh_changed, run by the janitor every LISTING_REFRESH_MS and by the indexer
 * after each batch).
 */
void listing_provider_changed(struct server *s, const char *provider);
/* The same for this process only: a change another replica logged (replicas.c). */
void listing_provider_changed_here(struct server *s, const char *provider);
/* Logs for the other replicas that provider's listing changed ("*": everything); no-op on a store of one
 * process (replicas.c's follower applies it there). */
void listing_tell_replicas(struct server *s, const char *provider);
/* Everything may have changed (a reorg, a host's record): a full rebuild here, and in every replica. */
void listing_everything_changed(struct server *s);
/* Drops the provider's cached view (GET /providers/{address}) only: a heartbeat. */
void listing_provider_view_drop(struct server *s, const char *provider);
#define LISTING_VIEW_KEY_MAX (STORE_ADDR_SIZE + 16)
/* The cache key of a provider's view ("provider:0x..", lowercase address); its length, 0 if it does not fit. */
size_t listing_provider_view_key(char out[LISTING_VIEW_KEY_MAX], const char *provider);
/* Takes the queue of changed providers (malloc'd, *n entries; NULL when empty): offers_refresh_changed. */
char (*listing_changed_take(struct server *s, size_t *n))[STORE_ADDR_SIZE];

/* ---- the offer index and its views (offer_index.c) ---- */

struct offer;
struct reputation;
/* Builds the search record of a stored offer (host, GPUs, reputation, prices). */
int offer_record(struct server *s, struct offer *out, const struct store_offer *so, const struct reputation *rep,
		 struct err *e);
/* An offer's or host's image set "a,b" as a JSON array ["a", "b"] (offer_index.c). */
json_t *images_json(const char *images);
/* The public view of an offer: the signed offer, its signature, the host, prices and reputation. */
json_t *offer_json(const struct offer *o, const struct store_offer *so);
/* The signed EIP-712 Offer as the provider signed it. */
json_t *signed_offer_json(const struct store_offer *so);
/* Rebuilds the search index from the store's active offers (startup, janitor), reusing unchanged views. */
int offers_reindex(struct server *s, struct err *e);
/* Re-reads one provider's unexpired offers into the index (listed, re-rendered, or taken out). */
int offers_refresh_provider(struct server *s, const char *provider, struct err *e);
/*
 * Writes a stored offer's row (publish): listed with a fresh view when active and rentable, else taken
 * out (*why says why). *rec gets its record. Done, and visible to every later read, on return.
 */
int offers_index_put(struct server *s, const struct store_offer *so, struct offer *rec, const char **why,
		     struct err *e);
/* Re-reads the offers of every provider queued by listing_provider_changed (janitor, indexer). */
void offers_refresh_changed(struct server *s);
/* Takes an offer out of the index (withdrawn); visible to every later read on return. */
void offers_index_remove(struct server *s, const char *offer_hash);
/* The view of a listed, unexpired offer (retained), or NULL. */
struct view *offers_view_of(struct server *s, const uint8_t id32[32], int64_t now);

/* ---- reputation (reputation.c) ---- */

struct reputation {
	uint64_t up_s, observed_s;     /* probes over the last 30 days */
	uint16_t reliability_bps;      /* up/observed in bps; 0 when nothing observed (observed_s == 0) */
	uint32_t rentals_completed;    /* ended/closed rentals mirrored from chain */
	uint32_t rentals_total;
	uint64_t ratings;              /* number of ratings */
	uint16_t rating_centi;         /* average stars * 100, rounded down */
	int64_t response_median_s;     /* opened -> access granted; -1 when none */
	uint64_t responses;
};
#define REPUTATION_WINDOW_S (30 * 86400)

/* Computes a provider's reputation (lowercase address) at `now`. */
int reputation_get(struct server *s, struct reputation *out, const char *provider, int64_t now,
		   struct err *e);
/* Writes the provider probe target key ("provider:0x..") into out (room STORE_TARGET_SIZE). */
void reputation_provider_target(char *out, const char *provider);
/* Writes the rental probe target key ("rental:<chain>:<id>"). */
void reputation_rental_target(char *out, uint64_t chain_id, uint64_t rental_id);
/* The reputation as a JSON object (new reference, NULL on ERR_NOMEM). */
json_t *reputation_json(const struct reputation *r);

/* ---- chain indexer (indexer.c) ---- */

/* Runs one indexer round: reorg check, then at most one batch. *advanced: new blocks applied. */
int indexer_step(struct server *s, struct rpc *r, bool *advanced, struct err *e);
/* The indexer thread body (arg: struct server *). */
void *indexer_main(void *arg);
/* Rebuilds one rental's mirror from its stored events (deletes it when no Opened remains). */
int indexer_rebuild_rental(struct server *s, uint64_t rental_id, struct err *e);

/* ---- monitor (monitor.c) ---- */

/*
 * Probes host:port once: TCP connect and read until "SSH-2.0-" (or "SSH-1.99-") begins the banner,
 * within timeout_ms. Returns 0 when it does, ERR_NET / ERR_TIMEOUT / ERR_INVALID otherwise;
 * *latency_ms gets the time to the banner.
 */
int monitor_probe(uint32_t *latency_ms, const char *host, uint32_t port, unsigned timeout_ms,
		  struct err *e);
/* Probes every open rental with an access report once. */
int monitor_round(struct server *s, struct err *e);
void *monitor_main(void *arg);

/* ---- receipts (receipts.c) ---- */

/* The receipt of one rental as JSON (new reference in *out). ERR_NOT_FOUND. */
int receipt_json(struct server *s, json_t **out, const struct store_rental *r, struct err *e);
/* Appends the CSV header line / one CSV line for a rental to `b` (struct buf). */
struct buf;
int receipt_csv_header(struct buf *b);
int receipt_csv_line(struct server *s, struct buf *b, const struct store_rental *r, struct err *e);

/* ---- rental helpers shared by routes (routes_rentals.c) ---- */

/* Parses a decimal rental id path argument (1..INT64_MAX). */
int srv_parse_id(uint64_t *out, const char *s);
/* A rental as JSON (new reference; NULL on ERR_NOMEM). */
json_t *rental_json(struct server *s, const struct store_rental *r);

/* Host as JSON with its GPUs (routes_hosts.c; new reference, NULL on ERR_NOMEM). */
json_t *host_json(struct server *s, const struct store_host *h);

/* ---- the HTTP adapter over src/net/http.h (http_glue.c) ---- */

/* Starts listening on cfg.listen_addr:cfg.port; writes the bound port to s->bound_port. */
int http_glue_start(struct server *s, struct err *e);
void http_glue_stop(struct server *s);

#endif

/* ---- replicas (replicas.c): several server processes on one shared database ---- */

/*
 * The follower: polls the store's change log every REPLICA_FOLLOW_MS and applies what other replicas
 * logged to this process's search index; started only on a shared store (PostgreSQL).
 */
#define REPLICA_FOLLOW_MS 200
void *replica_follower_main(void *arg);
/* The highest rental id mirrored in the store (another replica's indexer may have moved it). */
uint64_t server_find_max_rental(struct server *s);
/* Whether this replica may run `role` ("indexer", "monitor") now; logs when that changes. */
bool replica_role(struct server *s, const char *role, _Atomic bool *flag);
