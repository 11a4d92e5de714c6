/*
 * store_impl.h — what a store backend implements (internal to src/store).
 *
 * store.c parses the URL, checks every input (lengths, formats, ranges) and
 * then calls the backend through `struct store_ops`, so a backend receives
 * only well-formed values and never re-validates. Session tokens arrive
 * already hashed (token_hash: 64 lowercase hex digits of SHA-256).
 * Every op follows the public contract of the store_* function of the same
 * name in store.h (return codes, untouched outputs on failure, callbacks).
 * A new backend (PostgreSQL) adds one file with a `store_<name>_open` that
 * fills a `struct store` with its ops, and one branch in store_open.
 */
#ifndef FLOP_STORE_STORE_IMPL_H
#define FLOP_STORE_STORE_IMPL_H

#include "store/store.h"

#define STORE_TOKEN_HASH_SIZE 65 /* 64 hex digits + NUL */

struct store_ops {
	const char *name; /* "sqlite" */
	void (*close)(struct store *s);
	int (*schema_version)(struct store *s, int *out, struct err *e);
	int (*tx_begin)(struct store *s, struct err *e);
	int (*tx_commit)(struct store *s, struct err *e);
	int (*tx_rollback)(struct store *s, struct err *e);

	int (*provider_upsert)(struct store *s, const struct store_provider *p, struct err *e);
	int (*provider_get)(struct store *s, struct store_provider *out, const char *address,
			    struct err *e);
	int (*host_upsert)(struct store *s, const struct store_host *h, struct err *e);
	int (*host_get)(struct store *s, struct store_host *out, uint64_t machine_id, struct err *e);
	int (*gpu_upsert)(struct store *s, const struct store_gpu *g, struct err *e);
	int (*gpu_get)(struct store *s, struct store_gpu *out, uint64_t machine_id, uint32_t index,
		       struct err *e);
	int (*gpus_list)(struct store *s, uint64_t machine_id, store_gpu_cb cb, void *ctx,
			 struct err *e);

	int (*offer_put)(struct store *s, const struct store_offer *o, struct err *e);
	int (*offer_get)(struct store *s, struct store_offer *out, const char *offer_hash,
			 struct err *e);
	int (*offer_set_status)(struct store *s, const char *offer_hash,
				enum store_offer_status status, int64_t now, struct err *e);
	int (*offer_cancel_nonce)(struct store *s, uint64_t *count, const char *provider,
				  const char *nonce, int64_t now, struct err *e);
	int (*offers_expire)(struct store *s, uint64_t *count, int64_t now, struct err *e);
	int (*offers_active)(struct store *s, int64_t now, store_offer_cb cb, void *ctx,
			     struct err *e);
	int (*offers_of_provider)(struct store *s, const char *provider, int64_t now, store_offer_cb cb,
				  void *ctx, struct err *e);

	int (*nonce_issue)(struct store *s, const char *nonce, int64_t now, int64_t expires_at,
			   struct err *e);
	int (*nonce_consume)(struct store *s, const char *nonce, int64_t now, struct err *e);
	int (*nonces_purge)(struct store *s, uint64_t *count, int64_t before, struct err *e);
	int (*session_create)(struct store *s, const char *token_hash, const char *address,
			      int64_t now, int64_t expires_at, struct err *e);
	int (*session_lookup)(struct store *s, struct store_session *out, const char *token_hash,
			      int64_t now, struct err *e);
	int (*session_delete)(struct store *s, const char *token_hash, struct err *e);
	int (*sessions_purge)(struct store *s, uint64_t *count, int64_t before, struct err *e);

	int (*rental_upsert)(struct store *s, const struct store_rental *r, struct err *e);
	int (*rental_get)(struct store *s, struct store_rental *out, uint64_t chain_id, uint64_t id,
			  struct err *e);
	/* by_provider false: list by renter. */
	int (*rentals_list)(struct store *s, uint64_t chain_id, const char *address,
			    bool by_provider, uint32_t limit, store_rental_cb cb, void *ctx,
			    struct err *e);
	int (*rental_delete)(struct store *s, uint64_t chain_id, uint64_t id, struct err *e);

	int (*event_insert)(struct store *s, bool *inserted, const struct store_event *ev,
			    struct err *e);
	int (*events_of_rental)(struct store *s, uint64_t chain_id, uint64_t rental_id,
				store_event_cb cb, void *ctx, struct err *e);
	int (*events_delete_from)(struct store *s, uint64_t *count, uint64_t chain_id,
				  uint64_t from_block, struct err *e);
	int (*indexer_get)(struct store *s, struct store_indexer *out, uint64_t chain_id,
			   const char *contract, struct err *e);
	int (*indexer_set)(struct store *s, const struct store_indexer *p, struct err *e);
	int (*block_put)(struct store *s, uint64_t chain_id, uint64_t number, const char *hash,
			 struct err *e);
	int (*block_get)(struct store *s, char *out, uint64_t chain_id, uint64_t number,
			 struct err *e);
	/* below false: delete >= bound (reorg); true: delete < bound (prune). */
	int (*blocks_delete)(struct store *s, uint64_t *count, uint64_t chain_id, uint64_t bound,
			     bool below, struct err *e);

	int (*rating_insert)(struct store *s, const struct store_rating *r, struct err *e);
	int (*rating_get)(struct store *s, struct store_rating *out, uint64_t chain_id,
			  uint64_t rental_id, struct err *e);
	int (*provider_ratings)(struct store *s, uint64_t *count, uint64_t *stars_sum,
				uint64_t chain_id, const char *provider, struct err *e);
	int (*probe_insert)(struct store *s, const struct store_probe *p, struct err *e);
	int (*uptime)(struct store *s, uint64_t *up_s, uint64_t *observed_s, const char *target,
		      int64_t from, int64_t to, struct err *e);
	int (*access_report_insert)(struct store *s, const struct store_access_report *a,
				    struct err *e);
	int (*access_report_get)(struct store *s, struct store_access_report *out,
				 uint64_t chain_id, uint64_t rental_id, struct err *e);
	int (*provider_response_median)(struct store *s, int64_t *median_s, uint64_t *count,
					uint64_t chain_id, const char *provider, struct err *e);

	bool shared;
	int (*change_note)(struct store *s, const char *provider, const char *origin, int64_t now, struct err *e);
	int (*changes_after)(struct store *s, struct store_change *out, size_t cap, size_t *n, uint64_t *last,
			     uint64_t after, struct err *e);
	int (*changes_purge)(struct store *s, uint64_t *count, int64_t before, struct err *e);
	int (*role_try)(struct store *s, const char *name, bool *held, struct err *e);
	/* hex_value: the 64 hex digits to keep when none is stored; out gets the stored ones */
	int (*secret)(struct store *s, const char *name, const char *hex_value, char out[65], struct err *e);
};

struct store {
	const struct store_ops *ops; /* the backend's table */
	void *impl;                  /* the backend's state */
};

/* Opens the SQLite backend on `path` (":memory:" allowed), migrated. */
int store_sqlite_open(struct store **out, const char *path, struct err *e);
/* url: a libpq connection URI, postgres://user@host:port/db?... (postgres.c). */
int store_postgres_open(struct store **out, const char *url, struct err *e);

#endif
