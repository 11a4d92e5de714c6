/*
 * test_web.c — issue 11, the server's side of the web marketplace: the page and its files are served
 * from the binary (GET /, GET /assets/{name}) with a strict Content-Security-Policy, validators and gzip;
 * names never leave the folder; --web-dir serves a folder instead; GET /config holds what the page needs;
 * a rental's view carries its Terms as the contract takes them; GET /me/offers lists a provider's offers
 * with whether search shows them now.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "server/server.h"
#include "server/view.h"
#include "server/web.h"
#include "support/routes.h"

/* Counts non-overlapping occurrences of needle in the first n bytes of hay. */
static size_t count(const char *hay, size_t n, const char *needle)
{
	size_t k = 0, m = strlen(needle);
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0) {
			k++;
			i += m - 1;
		}
	return k;
}

static void test_index_and_csp(void **state)
{
	struct server *s = routes_server();
	struct srv_resp rs;
	(void)state;

	assert_int_equal(routes_get(s, "/", NULL, NULL, NULL, &rs), 200);
	assert_string_equal(rs.content_type, "text/html; charset=utf-8");
	assert_non_null(rs.csp);
	/* scripts only from this origin: no inline script, no eval, no other host */
	assert_non_null(strstr(rs.csp, "script-src 'self';"));
	assert_null(strstr(rs.csp, "unsafe-eval"));
	assert_non_null(strstr(rs.csp, "default-src 'none'"));
	assert_non_null(strstr(rs.csp, "frame-ancestors 'none'"));
	assert_non_null(strstr(rs.csp, "base-uri 'none'"));
	/* every <script> of the page loads a file (none is inline) */
	size_t scripts = count(rs.view->body, rs.view->len, "<script");
	assert_true(scripts >= 1);
	assert_int_equal(count(rs.view->body, rs.view->len, "<script type=\"module\" src=\"/assets/"), scripts);
	assert_int_equal(count(rs.view->body, rs.view->len, " on"), 0); /* no inline handlers (onclick=...) */
	char etag[VIEW_ETAG_MAX];
	strcpy(etag, rs.etag);
	assert_string_equal(rs.cache_control, "no-cache");
	srv_resp_release(&rs);
	/* revalidation: 304, and the page keeps its CSP */
	assert_int_equal(routes_get(s, "/", NULL, etag, NULL, &rs), 304);
	srv_resp_release(&rs);
	/* served over plain http (development) the agents may be ws:/http:, over https only wss:/https: */
	char csp[WEB_CSP_MAX];
	web_csp(csp, 0);
	assert_non_null(strstr(csp, "connect-src 'self' https: wss:;"));
	web_csp(csp, 1);
	assert_non_null(strstr(csp, "connect-src 'self' https: wss: http: ws:;"));
	server_free(s);
}

static void test_assets(void **state)
{
	struct server *s = routes_server();
	struct srv_resp rs;
	(void)state;

	assert_int_equal(routes_get(s, "/assets/app.js", NULL, NULL, "gzip", &rs), 200);
	assert_string_equal(rs.content_type, "text/javascript; charset=utf-8");
	assert_true(rs.gzip); /* the bundle is large: its gzip copy is served */
	assert_null(rs.csp);
	srv_resp_release(&rs);
	assert_int_equal(routes_get(s, "/assets/app.css", NULL, NULL, NULL, &rs), 200);
	assert_string_equal(rs.content_type, "text/css; charset=utf-8");
	srv_resp_release(&rs);
	/* index.html under /assets is the page itself, with its CSP */
	assert_int_equal(routes_get(s, "/assets/index.html", NULL, NULL, NULL, &rs), 200);
	assert_non_null(rs.csp);
	srv_resp_release(&rs);
	const char *bad[] = { "/assets/nope.js", "/assets/.stamp", "/assets/..", "/assets/a%2Fb", "/assets/x y" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(routes_get(s, bad[i], NULL, NULL, NULL, &rs), 404);
		srv_resp_release(&rs);
	}
	assert_false(web_name_ok(".."));
	assert_false(web_name_ok("../etc"));
	assert_false(web_name_ok("a/b"));
	assert_false(web_name_ok(".hidden"));
	assert_false(web_name_ok(""));
	assert_true(web_name_ok("app.js"));
	assert_string_equal(web_content_type("x.svg"), "image/svg+xml");
	assert_string_equal(web_content_type("x.bin"), "application/octet-stream");
	server_free(s);
}

static void test_web_dir(void **state)
{
	char dir[] = "/tmp/flop-web-XXXXXX", path[64];
	struct server *s;
	struct srv_resp rs;
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/index.html", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("<!doctype html><title>dev</title>", f);
	fclose(f);
	s = routes_server();
	web_state_release(s);
	snprintf(s->cfg.web_dir, sizeof s->cfg.web_dir, "%s", dir);
	assert_int_equal(routes_get(s, "/", NULL, NULL, NULL, &rs), 200);
	assert_int_equal(rs.view->len, strlen("<!doctype html><title>dev</title>"));
	assert_non_null(rs.csp);
	srv_resp_release(&rs);
	/* a file that is not there, and the embedded bundle is not served from the folder */
	assert_int_equal(routes_get(s, "/assets/app.js", NULL, NULL, NULL, &rs), 404);
	srv_resp_release(&rs);
	server_free(s);
	unlink(path);
	rmdir(dir);
}

static void test_config(void **state)
{
	struct server *s = routes_server();
	json_t *j = NULL, *t;
	(void)state;

	snprintf(s->cfg.chain_name, sizeof s->cfg.chain_name, "Dev chain");
	snprintf(s->cfg.public_rpc_url, sizeof s->cfg.public_rpc_url, "http://127.0.0.1:8545");
	assert_int_equal(routes_req(s, SRV_GET, "/config", NULL, NULL, NULL, &j), 200);
	assert_int_equal(json_integer_value(json_object_get(j, "chain_id")), 31337);
	assert_string_equal(json_string_value(json_object_get(j, "escrow")), ESCROW_ADDR);
	assert_int_equal(json_integer_value(json_object_get(j, "fee_bps")), 1000);
	assert_string_equal(json_string_value(json_object_get(j, "chain_name")), "Dev chain");
	assert_string_equal(json_string_value(json_object_get(j, "rpc_url")), "http://127.0.0.1:8545");
	t = json_array_get(json_object_get(j, "tokens"), 0);
	assert_string_equal(json_string_value(json_object_get(t, "address")), USDC_ADDR);
	assert_string_equal(json_string_value(json_object_get(t, "symbol")), "USDC");
	assert_int_equal(json_integer_value(json_object_get(t, "decimals")), 6);
	assert_string_equal(json_string_value(json_object_get(t, "usd")), "1.000000");
	json_decref(j);
	server_free(s);
}

static void test_rental_terms(void **state)
{
	struct server *s = routes_server();
	json_t *j = NULL, *t;
	(void)state;

	routes_put_rental(s, 5, STORE_RENTAL_OPEN);
	assert_int_equal(routes_req(s, SRV_GET, "/rentals/5", NULL, NULL, NULL, &j), 200);
	t = json_object_get(j, "terms");
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "id")), "5");
	assert_string_equal(json_string_value(json_object_get(t, "renter")), json_string_value(json_object_get(j, "renter")));
	assert_string_equal(json_string_value(json_object_get(t, "token")), USDC_ADDR);
	assert_string_equal(json_string_value(json_object_get(t, "rate")), "1");
	assert_int_equal(strlen(json_string_value(json_object_get(t, "specHash"))), 66);
	assert_true(json_is_string(json_object_get(t, "epoch")));
	assert_true(json_is_false(json_object_get(t, "interruptible")));
	json_decref(j);
	server_free(s);
}

static void test_me_offers(void **state)
{
	struct server *s = routes_server();
	char *prov = routes_sign_in(s, 1), *other = routes_sign_in(s, 0), *body;
	json_t *j = NULL, *o;
	(void)state;

	assert_int_equal(routes_req(s, SRV_GET, "/me/offers", NULL, NULL, NULL, NULL), 401);
	assert_int_equal(routes_req(s, SRV_POST, "/hosts", routes_host_ok, prov, NULL, NULL), 201);
	body = routes_offer_body(routes_keys[1], 31337, "7", 1);
	assert_int_equal(routes_req(s, SRV_POST, "/offers", body, NULL, NULL, NULL), 201);
	free(body);
	assert_int_equal(routes_req(s, SRV_GET, "/me/offers", NULL, prov, NULL, &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "offers")), 1);
	o = json_array_get(json_object_get(j, "offers"), 0);
	assert_true(json_is_true(json_object_get(o, "listed")));
	assert_string_equal(json_string_value(json_object_get(o, "status")), "active");
	json_decref(j);
	/* another address sees none of them */
	assert_int_equal(routes_req(s, SRV_GET, "/me/offers", NULL, other, NULL, &j), 200);
	assert_int_equal(json_array_size(json_object_get(j, "offers")), 0);
	json_decref(j);
	free(prov);
	free(other);
	server_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_and_csp), cmocka_unit_test(test_assets), cmocka_unit_test(test_web_dir),
		cmocka_unit_test(test_config),        cmocka_unit_test(test_rental_terms), cmocka_unit_test(test_me_offers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
