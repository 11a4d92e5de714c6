/*
 * routes.h — the server's routes in process for unit tests: a `struct server` over an in-memory SQLite
 * store (no sockets, no chain), requests through srv_dispatch (the matcher net/http ships), SIWE sign-in
 * with messages signed in C, signed offers, hosts and mirrored rentals written straight to the store.
 */
#ifndef FLOP_TESTS_SUPPORT_ROUTES_H
#define FLOP_TESTS_SUPPORT_ROUTES_H

#include <stdint.h>

#include "server/server.h"

#define ESCROW_ADDR "0x5fbdb2315678afecb367f032d93f642f64180aa3"
#define USDC_ADDR "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"

/* Query parameters of a request: rq.conn points at a struct q. */
struct kv {
	const char *k, *v;
};

struct q {
	const struct kv *kv;
	size_t n;
};

/* The query function over a struct q (srv_req.query). */
const char *routes_query(const struct srv_req *r, const char *name);
/* Runs one request; returns the status; *out (optional) gets the JSON body (rendered views parsed). */
int routes_req(struct server *s, enum srv_method m, const char *path, const char *body, const char *bearer,
	       const struct q *q, json_t **out);
/*
 * Runs one GET with the conditional / encoding headers given (NULL: none) and hands back the whole
 * response (release it with srv_resp_release).
 */
int routes_get(struct server *s, const char *path, const struct q *q, const char *if_none_match,
	       const char *accept_encoding, struct srv_resp *rs);
/* A server with chain 31337, fee 10 %, USDC accepted, an empty in-memory store and its index built. */
struct server *routes_server(void);
/* Anvil's public test keys 0 and 1. */
extern const char *const routes_keys[];
/* Signs in key i through /auth/nonce + /auth/siwe (and checks the replay is refused); the token, malloc'd. */
char *routes_sign_in(struct server *s, int i);
/* POST /hosts body for machine 7 (NL, one H100). */
extern const char *const routes_host_ok;
/* A POST /offers body: an Offer for `machine` (JSON text: a number or a quoted string) signed by key_hex. */
char *routes_offer_body(const char *key_hex, uint64_t chain_id, const char *machine, uint64_t nonce);
/* Stores mirrored rental `id` of key 1 (renter and provider) in `state`. */
void routes_put_rental(struct server *s, uint64_t id, enum store_rental_state state);

#endif
