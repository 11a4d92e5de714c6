/*
 * test_server_routes.c — the server's routes in process (no sockets, no chain): a `struct server`
 * over an in-memory SQLite store, requests through srv_dispatch.
 *
 * Covers: routing (404/405), healthz/metrics, SIWE sign-in with a message and signature made in C
 * (EIP-4361 text per the EIP's example layout, EIP-191 personal_sign), replay refusal, hosts, offers
 * signed with escrow_offer_sign (EIP-712, docs/escrow.md §4) and searched, and a table of hostile
 * requests (malformed JSON, wrong types, SQL-looking strings, bad signatures, wrong owners), each of
 * which must answer 4xx with an error object and leave the store unchanged (checked through the API:
 * host, offer and session state read back identical). Also the monitor's SSH-banner probe against
 * local sockets (RFC 4253 §4.2: other lines may precede the identification string).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "escrow/escrow.h"
#include "eth/eip191.h"
#include "eth/keccak.h"
#include "eth/secp.h"
#include "market/search.h"
#include "server/server.h"
#include "support/routes.h"

static void test_routing(void **state)
{
	struct server *s = routes_server();
	json_t *j = NULL;
	(void)state;
	assert_int_equal(routes_req(s, SRV_GET, "/nope", NULL, NULL, NULL, NULL), 404);
	assert_int_equal(routes_req(s, SRV_DELETE, "/auth/nonce", NULL, NULL, NULL, NULL), 405);
	assert_int_equal(routes_req(s, SRV_GET, "/healthz", NULL, NULL, NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	json_decref(j);
	struct srv_req rq = { .method = SRV_GET, .path = "/metrics", .arg = "", .body = "", .query = routes_query };
	struct srv_resp rs = { 0 };
	srv_dispatch(s, &rq, &rs);
	assert_int_equal(rs.status, 200);
	assert_non_null(strstr(rs.text, "flop_indexer_lag_blocks"));
	srv_resp_release(&rs);
	assert_int_equal(routes_req(s, SRV_GET, "/me", NULL, NULL, NULL, NULL), 401);
	assert_int_equal(routes_req(s, SRV_GET, "/me", NULL, "not-a-real-token-at-all", NULL, NULL), 401);
	server_free(s);
}

/* A snapshot of what the API shows, to compare before/after refused requests. */
static char *snapshot(struct server *s, const char *tok)
{
	json_t *a = NULL, *b = NULL, *c = NULL;
	routes_req(s, SRV_GET, "/hosts/7", NULL, NULL, NULL, &a);
	routes_req(s, SRV_GET, "/offers", NULL, NULL, NULL, &b);
	routes_req(s, SRV_GET, "/me", NULL, tok, NULL, &c);
	json_t *all = json_pack("{s:o?, s:o?, s:o?}", "host", a, "offers", b, "me", c);
	char *t = json_dumps(all, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(all);
	return t;
}

static void test_hosts_offers(void **state)
{
	struct server *s = routes_server();
	json_t *j = NULL;
	char *prov, *renter, *body, *before, *after;
	(void)state;

	renter = routes_sign_in(s, 0);
	prov = routes_sign_in(s, 1);
	assert_int_equal(routes_req(s, SRV_POST, "/hosts", routes_host_ok, prov, NULL, NULL), 201);
	/* A host whose GPUs were never benchmarked registers without figures
	 * (listed unverified), rather than being made to invent a number. */
	assert_int_equal(routes_req(s, SRV_POST, "/hosts",
			     "{\"machine_id\":11,\"country\":\"NL\",\"gpus\":[{\"model\":\"RTX_4090\","
			     "\"vram_mib\":24564}]}", prov, NULL, NULL), 201);
	/* A renter finds the provider's agent from the host record. */
	assert_int_equal(routes_req(s, SRV_POST, "/providers/heartbeat",
			     "{\"endpoint\":\"http://127.0.0.1:7777\"}", prov, NULL, NULL), 200);
	assert_int_equal(routes_req(s, SRV_GET, "/hosts/11", NULL, NULL, NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "endpoint")), "http://127.0.0.1:7777");
	json_decref(j);
	j = NULL;
	body = routes_offer_body(routes_keys[1], 31337, "7", 1);
	assert_int_equal(routes_req(s, SRV_POST, "/offers", body, NULL, NULL, &j), 201);
	/* 277777777777777777777 * 3600 / 1e18 = 999999 units: the renter pays 0.999999 USDC per hour. */
	assert_string_equal(json_string_value(json_object_get(j, "token_units_per_hour")), "999999");
	assert_string_equal(json_string_value(json_object_get(j, "usd_per_hour")), "0.999999");
	/* No probes yet: reliability is unknown (shown "new"), not a measured 0 %. */
	assert_true(json_is_false(json_object_get(j, "reliability_observed")));
	json_decref(j);
	assert_int_equal(routes_req(s, SRV_POST, "/offers", body, NULL, NULL, NULL), 201); /* idempotent */
	free(body);
	struct kv kv[] = { { "q", "gpu=H100_80GB vram>=80 price<=1 country=NL interruptible=true" } };
	struct q q = { kv, 1 };
	assert_int_equal(routes_req(s, SRV_GET, "/offers", NULL, NULL, &q, &j), 200);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 1);
	json_decref(j);
	struct kv kv2[] = { { "q", "price<0.999999" } };
	struct q q2 = { kv2, 1 };
	assert_int_equal(routes_req(s, SRV_GET, "/offers", NULL, NULL, &q2, &j), 200);
	assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
	json_decref(j);

	before = snapshot(s, prov);
	char *wrong_chain = routes_offer_body(routes_keys[1], 1, "7", 2);
	char *wrong_key = routes_offer_body(routes_keys[0], 31337, "7", 2);
	char *wrong_host = routes_offer_body(routes_keys[1], 31337, "8", 2);
	char *sql_host = routes_offer_body(routes_keys[1], 31337, "\"7; DROP TABLE offers\"", 2);
	static const char *const sql = "'; DROP TABLE hosts; --";
	char sql_region[1024], sql_model[1024];
	snprintf(sql_region, sizeof sql_region, "{\"machine_id\":7,\"region\":\"%s\",\"gpus\":[{\"model\":\"A\","
		 "\"vram_mib\":1,\"fp32_mtflops\":1}]}", sql);
	snprintf(sql_model, sizeof sql_model, "{\"machine_id\":9,\"gpus\":[{\"model\":\"%s\","
		 "\"vram_mib\":1,\"fp32_mtflops\":1}]}", sql);
	const struct {
		enum srv_method m;
		const char *path, *body, *tok;
		int want;
	} bad[] = {
		{ SRV_POST, "/offers", wrong_chain, NULL, 401 },
		{ SRV_POST, "/offers", wrong_key, NULL, 401 },
		{ SRV_POST, "/offers", wrong_host, NULL, 422 },
		{ SRV_POST, "/offers", sql_host, NULL, 400 },
		{ SRV_POST, "/offers", "{", NULL, 400 },
		{ SRV_POST, "/offers", "[1,2]", NULL, 400 },
		{ SRV_POST, "/offers", "{\"offer\":{}}", NULL, 400 },
		{ SRV_POST, "/hosts", sql_region, prov, 400 },
		{ SRV_POST, "/hosts", sql_model, prov, 400 },
		{ SRV_POST, "/hosts", routes_host_ok, renter, 409 },
		{ SRV_POST, "/hosts", routes_host_ok, NULL, 401 },
		{ SRV_POST, "/hosts", "{\"machine_id\":\"x\"}", prov, 400 },
		{ SRV_POST, "/hosts", "{\"machine_id\":10,\"gpus\":[]}", prov, 400 },
		{ SRV_POST, "/providers/heartbeat", "{\"endpoint\":\"javascript:alert(1)\"}", prov, 400 },
		{ SRV_GET, "/hosts/abc", NULL, NULL, 400 },
		{ SRV_GET, "/hosts/99", NULL, NULL, 404 },
		{ SRV_GET, "/offers/0x1234", NULL, NULL, 400 },
		{ SRV_GET, "/rentals/0", NULL, NULL, 400 },
		{ SRV_GET, "/rentals/1", NULL, NULL, 404 },
		{ SRV_GET, "/rentals/1%27", NULL, NULL, 400 },
		{ SRV_POST, "/rentals/1/rating", "{\"stars\":5}", renter, 404 },
		{ SRV_POST, "/rentals/1/attestation", "", renter, 404 },
		{ SRV_GET, "/providers/0xnothex", NULL, NULL, 400 },
		{ SRV_POST, "/auth/siwe", "{\"message\":\"hello\",\"signature\":\"0x00\"}", NULL, 400 },
		{ SRV_POST, "/auth/logout", "", "' OR 1=1 --xxxxxxxxxxxxxxxx", 401 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int st = routes_req(s, bad[i].m, bad[i].path, bad[i].body, bad[i].tok, NULL, NULL);
		if (st != bad[i].want)
			fail_msg("case %zu (%s): status %d, want %d", i, bad[i].path, st, bad[i].want);
	}
	after = snapshot(s, prov);
	assert_string_equal(before, after);
	free(before);
	free(after);
	free(wrong_chain);
	free(wrong_key);
	free(wrong_host);
	free(sql_host);

	/* Bad search parameters. */
	const char *bad_q[][2] = { { "q", "vrm>=24" }, { "o", "-nope" }, { "limit", "0" }, { "limit", "101" },
				   { "offset", "x" }, { "cursor", "zz" } };
	for (size_t i = 0; i < sizeof bad_q / sizeof bad_q[0]; i++) {
		struct kv k[] = { { bad_q[i][0], bad_q[i][1] } };
		struct q qq = { k, 1 };
		assert_int_equal(routes_req(s, SRV_GET, "/offers", NULL, NULL, &qq, NULL), 400);
	}
	free(prov);
	free(renter);
	server_free(s);
}

/* ---- monitor probe ---- */

struct fake {
	int fd;
	const char *send;
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int c = accept(f->fd, NULL, NULL);
	if (c >= 0) {
		ssize_t w = write(c, f->send, strlen(f->send));
		(void)w;
		usleep(50000);
		close(c);
	}
	return NULL;
}

static uint16_t listen_local(int *fd)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(*fd, 4), 0);
	getsockname(*fd, (struct sockaddr *)&sa, &sl);
	return ntohs(sa.sin_port);
}

static void test_probe(void **state)
{
	const struct {
		const char *send;
		int ok;
	} cases[] = {
		{ "SSH-2.0-OpenSSH_9.6\r\n", 1 },
		{ "SSH-1.99-old\r\n", 1 },
		{ "welcome\r\nbanner line\r\nSSH-2.0-x\r\n", 1 }, /* RFC 4253 §4.2 */
		{ "HTTP/1.1 400 Bad Request\r\n\r\n", 0 },
		{ "SSH-2.", 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct fake f;
		pthread_t t;
		uint32_t lat = 0;
		struct err e = { 0 };
		uint16_t port = listen_local(&f.fd);
		f.send = cases[i].send;
		pthread_create(&t, NULL, fake_main, &f);
		int rc = monitor_probe(&lat, "127.0.0.1", port, 1000, &e);
		pthread_join(t, NULL);
		close(f.fd);
		if ((rc == 0) != cases[i].ok)
			fail_msg("case %zu: rc %d (%s)", i, rc, e.msg);
		if (rc)
			assert_true(e.msg[0] != '\0');
	}
	/* A closed port and a bad port. */
	int fd;
	uint16_t port = listen_local(&fd);
	close(fd);
	uint32_t lat;
	struct err e = { 0 };
	assert_true(monitor_probe(&lat, "127.0.0.1", port, 500, &e) < 0);
	assert_true(monitor_probe(&lat, "127.0.0.1", 0, 500, &e) == ERR_INVALID);
}

/* Total of GET /offers (no filter). */
static json_int_t listed_total(struct server *s)
{
	json_t *j = NULL;
	assert_int_equal(routes_req(s, SRV_GET, "/offers", NULL, NULL, NULL, &j), 200);
	json_int_t n = json_integer_value(json_object_get(j, "total"));
	json_decref(j);
	return n;
}

/* A mirrored rental of the test provider's machine "h100" (specHash keccak("h100")) in `state`. */
/*
 * Issue 8.2 and 8.12: search shows only what a renter can rent now. An offer of capacity 1 leaves search
 * while its machine has a live rental and comes back when it ends; the offers of a host without a fresh
 * heartbeat leave search and come back with the next heartbeat.
 */
static void test_listing_only_rentable(void **state)
{
	struct server *s = routes_server();
	struct err e = { 0 };
	json_t *j = NULL;
	char *prov, *body;
	(void)state;

	prov = routes_sign_in(s, 1);
	assert_int_equal(routes_req(s, SRV_POST, "/hosts", routes_host_ok, prov, NULL, NULL), 201);
	body = routes_offer_body(routes_keys[1], 31337, "7", 1);
	assert_int_equal(routes_req(s, SRV_POST, "/offers", body, NULL, NULL, &j), 201);
	assert_true(json_is_true(json_object_get(j, "listed")));
	json_decref(j);
	assert_int_equal(listed_total(s), 1);

	/* rented: the machine's one place is taken */
	routes_put_rental(s, 1, STORE_RENTAL_OPEN);
	assert_int_equal(offers_reindex(s, &e), 0);
	assert_int_equal(listed_total(s), 0);
	assert_int_equal(routes_req(s, SRV_POST, "/offers", body, NULL, NULL, &j), 201);
	assert_true(json_is_false(json_object_get(j, "listed")));
	assert_string_equal(json_string_value(json_object_get(j, "not_listed_because")), "rented");
	json_decref(j);
	assert_int_equal(listed_total(s), 0);
	/* ended on chain: free again */
	routes_put_rental(s, 1, STORE_RENTAL_ENDED);
	assert_int_equal(offers_reindex(s, &e), 0);
	assert_int_equal(listed_total(s), 1);

	/* host down: no heartbeat within offer_stale_s (2 s here; 180 s by default) */
	s->cfg.offer_stale_s = 2;
	assert_int_equal(offers_reindex(s, &e), 0);
	assert_int_equal(listed_total(s), 1);
	assert_int_equal(listing_fresh_sweep(s, server_now()), 0);
	usleep(3100 * 1000);
	/* what the janitor does each second: the provider's line has passed, their offers are re-read
	 * (issue 10: only theirs, no rebuild of the whole index) */
	assert_int_equal(listing_fresh_sweep(s, server_now()), 1);
	offers_refresh_changed(s);
	assert_true(!listing_needs_rebuild(s, server_now()));
	assert_int_equal(listed_total(s), 0);
	assert_int_equal(listing_fresh_sweep(s, server_now()), 0); /* swept once */
	assert_int_equal(routes_req(s, SRV_POST, "/offers", body, NULL, NULL, &j), 201);
	assert_string_equal(json_string_value(json_object_get(j, "not_listed_because")), "host_down");
	json_decref(j);
	assert_true(!listing_needs_rebuild(s, server_now()));
	/* the agent is back: its heartbeat lists the offers again, before it is answered (issue 10:
	 * the provider's offers are re-read at once, no rebuild needed) */
	assert_int_equal(routes_req(s, SRV_POST, "/providers/heartbeat", "", prov, NULL, NULL), 200);
	assert_int_equal(listed_total(s), 1);
	assert_true(!listing_needs_rebuild(s, server_now()));
	/* each heartbeat moves the line on (swept only past it); a sweep is only a re-read: the store's
	 * heartbeat decides, so a host still fresh stays listed */
	s->cfg.offer_stale_s = 100;
	assert_int_equal(routes_req(s, SRV_POST, "/providers/heartbeat", "", prov, NULL, NULL), 200);
	int64_t beat = server_now();
	assert_int_equal(listing_fresh_sweep(s, beat + 50), 0);
	assert_int_equal(listing_fresh_sweep(s, beat + 101), 1);
	offers_refresh_changed(s);
	assert_int_equal(listed_total(s), 1);
	assert_int_equal(listing_fresh_sweep(s, beat + 50), 0); /* the re-read noted the line again */
	free(body);

	/* Issue 8.16: a machine id past 2^53 (agents derive 60-bit ids) is emitted as a decimal string, and
	 * the string is accepted back: the next lookup finds it (JavaScript rounded the number, a 404). */
	const char *big = "1152921504606846977";
	char hb[1024], path[64];
	snprintf(hb, sizeof hb, "{\"machine_id\":\"%s\",\"country\":\"NL\",\"gpus\":[{\"model\":\"H100_80GB\","
		 "\"vram_mib\":81920,\"fp32_mtflops\":67000}]}", big);
	assert_int_equal(routes_req(s, SRV_POST, "/hosts", hb, prov, NULL, &j), 201);
	assert_string_equal(json_string_value(json_object_get(j, "machine_id")), big);
	json_decref(j);
	snprintf(path, sizeof path, "/hosts/%s", big);
	assert_int_equal(routes_req(s, SRV_GET, path, NULL, NULL, NULL, &j), 200);
	assert_string_equal(json_string_value(json_object_get(j, "machine_id")), big);
	json_decref(j);
	char quoted[40];
	snprintf(quoted, sizeof quoted, "\"%s\"", big);
	body = routes_offer_body(routes_keys[1], 31337, quoted, 9);
	assert_int_equal(routes_req(s, SRV_POST, "/offers", body, NULL, NULL, &j), 201);
	assert_string_equal(json_string_value(json_object_get(j, "machine_id")), big);
	json_decref(j);
	free(body);
	/* small ids stay numbers */
	assert_int_equal(routes_req(s, SRV_GET, "/hosts/7", NULL, NULL, NULL, &j), 200);
	assert_true(json_is_integer(json_object_get(j, "machine_id")));
	json_decref(j);
	free(prov);
	server_free(s);
}

/* Issue 12: a host says how it isolates rentals and which images it allows; search filters on both.
 * Issue 13: and whether its agent serves a notebook per rental (jupyter). */
static void test_host_isolation(void **state)
{
	struct server *s = routes_server();
	json_t *j = NULL;
	char *prov, *body;
	static const char *const host12 =
		"{\"machine_id\":12,\"country\":\"DE\",\"isolation\":\"container\",\"images\":[\"pytorch\",\"base\"],"
		"\"jupyter\":true,\"gpus\":[{\"model\":\"H100_80GB\",\"vram_mib\":81920,\"fp32_mtflops\":60000}]}";
	static const char *const bad[] = {
		"{\"machine_id\":12,\"isolation\":\"jail\",\"images\":[\"a\"],\"gpus\":[{\"model\":\"A\",\"vram_mib\":1}]}",
		"{\"machine_id\":12,\"isolation\":\"container\",\"images\":[\"Bad Name\"],\"gpus\":[{\"model\":\"A\",\"vram_mib\":1}]}",
		"{\"machine_id\":12,\"isolation\":\"container\",\"images\":[],\"gpus\":[{\"model\":\"A\",\"vram_mib\":1}]}",
		"{\"machine_id\":12,\"isolation\":\"account\",\"images\":[\"a\"],\"gpus\":[{\"model\":\"A\",\"vram_mib\":1}]}",
		"{\"machine_id\":12,\"isolation\":\"container\",\"images\":[\"a\",\"a\"],\"gpus\":[{\"model\":\"A\",\"vram_mib\":1}]}",
		"{\"machine_id\":12,\"isolation\":\"container\",\"images\":\"a\",\"gpus\":[{\"model\":\"A\",\"vram_mib\":1}]}",
	};
	(void)state;

	prov = routes_sign_in(s, 1);
	assert_int_equal(routes_req(s, SRV_POST, "/hosts", host12, prov, NULL, NULL), 201);
	assert_int_equal(routes_req(s, SRV_POST, "/hosts", routes_host_ok, prov, NULL, NULL), 201); /* host 7: account */
	/* bad input of each kind: refused, naming the field, and nothing changes */
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *text;
		assert_int_equal(routes_req(s, SRV_POST, "/hosts", bad[i], prov, NULL, &j), 400);
		text = json_dumps(j, 0);
		if (!strstr(text, "'images'") && !strstr(text, "'isolation'"))
			fail_msg("case %zu: the error does not name the field: %s", i, text);
		free(text);
		json_decref(j);
		j = NULL;
	}
	/* jupyter: a bool, named when it is not one */
	assert_int_equal(routes_req(s, SRV_POST, "/hosts",
				    "{\"machine_id\":12,\"jupyter\":\"yes\",\"gpus\":[{\"model\":\"A\",\"vram_mib\":1}]}",
				    prov, NULL, &j), 400);
	{
		char *text = json_dumps(j, 0);
		if (!strstr(text, "jupyter"))
			fail_msg("the error does not name jupyter: %s", text);
		free(text);
	}
	json_decref(j);
	j = NULL;
	assert_int_equal(routes_req(s, SRV_GET, "/hosts/12", NULL, NULL, NULL, &j), 200);
	assert_true(json_is_true(json_object_get(j, "jupyter")));
	assert_string_equal(json_string_value(json_object_get(j, "isolation")), "container");
	assert_int_equal(json_array_size(json_object_get(j, "images")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "images"), 0)), "pytorch");
	json_decref(j);
	j = NULL;
	body = routes_offer_body(routes_keys[1], 31337, "12", 1);
	assert_int_equal(routes_req(s, SRV_POST, "/offers", body, NULL, NULL, &j), 201);
	assert_string_equal(json_string_value(json_object_get(j, "isolation")), "container");
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "images"), 1)), "base");
	assert_true(json_is_true(json_object_get(j, "jupyter")));
	json_decref(j);
	free(body);
	body = routes_offer_body(routes_keys[1], 31337, "7", 2);
	assert_int_equal(routes_req(s, SRV_POST, "/offers", body, NULL, NULL, NULL), 201);
	free(body);
	const struct {
		const char *q;
		int total;
	} cases[] = {
		{ "isolation=container", 1 }, { "isolation=account", 1 },   { "image=base", 1 },
		{ "image=PyTorch", 1 },       { "image=nosuch", 0 },        { "image=nosuch,base", 1 },
		{ "image!=base", 1 },         { "isolation=container image=nosuch", 0 },
		{ "jupyter=true", 1 },        { "jupyter=false", 1 },       { "jupyter=true isolation=account", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct kv kv[] = { { "q", cases[i].q } };
		struct q q = { kv, 1 };
		assert_int_equal(routes_req(s, SRV_GET, "/offers", NULL, NULL, &q, &j), 200);
		if (json_integer_value(json_object_get(j, "total")) != cases[i].total)
			fail_msg("%s: %lld offers, want %d", cases[i].q,
				 (long long)json_integer_value(json_object_get(j, "total")), cases[i].total);
		json_decref(j);
		j = NULL;
	}
	free(prov);
	server_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing),
		cmocka_unit_test(test_hosts_offers),
		cmocka_unit_test(test_host_isolation),
		cmocka_unit_test(test_listing_only_rentable),
		cmocka_unit_test(test_probe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
