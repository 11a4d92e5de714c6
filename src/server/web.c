/*
 * web.c — serves the web marketplace (docs/web.md): GET / (index.html), GET /assets/{name}, and
 * GET /config, the deployment facts the page needs (chain, escrow, fee, tokens with their USD price,
 * where wallets reach the chain and where its explorer is).
 *
 * Embedded files get one view each at start (server_state_init): an ETag, a gzip copy made on the first
 * request that accepts it, revalidated on every load (Cache-Control: no-cache), so a new build is seen
 * at the next reload. With cfg.web_dir the file is read from that folder on every request.
 */
#include "server/web.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/json.h"
#include "eth/address.h"
#include "server/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ext_type {
	const char *ext;
	const char *type;
};

static const struct ext_type ext_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".json", "application/json" },
	{ ".map", "application/json" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".woff2", "font/woff2" },
};

const char *web_content_type(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof ext_types / sizeof ext_types[0]; i++) {
		size_t m = strlen(ext_types[i].ext);
		if (n > m && strcmp(name + n - m, ext_types[i].ext) == 0)
			return ext_types[i].type;
	}
	return "application/octet-stream";
}

int web_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > WEB_NAME_MAX || name[0] == '.')
		return 0;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '_' || *c == '-'))
			return 0;
	return 1;
}

void web_csp(char out[WEB_CSP_MAX], int plain_http)
{
	snprintf(out, WEB_CSP_MAX,
		 "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
		 "connect-src 'self' https: wss:%s; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
		 "frame-ancestors 'none'",
		 plain_http ? " http: ws:" : "");
}

int web_state_init(struct server *s, struct err *e)
{
	const char *origin = s->cfg.siwe_origin;

	web_csp(s->web_csp, origin[0] ? strncmp(origin, "https://", 8) != 0 : !s->cfg.tls_cert_pem[0]);
	if (s->cfg.web_dir[0] || !web_asset_count)
		return 0;
	s->web_views = calloc(web_asset_count, sizeof *s->web_views);
	if (!s->web_views)
		return err_set(e, ERR_NOMEM, "web views");
	for (size_t i = 0; i < web_asset_count; i++)
		if (!(s->web_views[i] = view_new((const char *)web_assets[i].data, web_assets[i].len)))
			return err_set(e, ERR_NOMEM, "web views");
	return 0;
}

void web_state_release(struct server *s)
{
	if (!s->web_views)
		return;
	for (size_t i = 0; i < web_asset_count; i++)
		view_release(s->web_views[i]);
	free(s->web_views);
	s->web_views = NULL;
}

/* The view of one web file (retained), or NULL with *status 404 (no such file) or 500. */
static struct view *web_file(struct server *s, const char *name, int *status)
{
	*status = 404;
	if (!web_name_ok(name))
		return NULL;
	if (s->cfg.web_dir[0]) {
		char path[sizeof s->cfg.web_dir + WEB_NAME_MAX + 2];
		struct err e = { 0 };
		struct buf b;
		struct view *v;
		snprintf(path, sizeof path, "%s/%s", s->cfg.web_dir, name);
		buf_init(&b, WEB_FILE_MAX);
		if (file_read(&b, path, &e)) {
			buf_release(&b);
			return NULL;
		}
		v = view_new(b.data ? (const char *)b.data : "", b.len);
		buf_release(&b);
		if (!v)
			*status = 500;
		return v;
	}
	for (size_t i = 0; s->web_views && i < web_asset_count; i++)
		if (strcmp(web_assets[i].name, name) == 0) {
			view_retain(s->web_views[i]);
			return s->web_views[i];
		}
	return NULL;
}

static int serve_file(struct server *s, const struct srv_req *rq, struct srv_resp *rs, const char *name)
{
	int status;
	struct view *v = web_file(s, name, &status);

	if (!v) {
		if (status == 404)
			return srv_error(rs, 404, "not_found", NULL, "no such file: %s", web_name_ok(name) ? name : "?");
		return srv_error(rs, 500, "internal", NULL, "out of memory");
	}
	srv_view(s, rq, rs, 200, v);
	snprintf(rs->cache_control, sizeof rs->cache_control, "no-cache");
	rs->content_type = web_content_type(name);
	return rs->status;
}

int route_web_index(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	serve_file(s, rq, rs, "index.html");
	if (rs->status == 200 || rs->status == 304)
		rs->csp = s->web_csp;
	return rs->status;
}

int route_web_asset(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	if (strcmp(rq->arg, "index.html") == 0)
		return route_web_index(s, rq, rs);
	return serve_file(s, rq, rs, rq->arg);
}

/* "1.000000"-style text of a 6-decimal USD amount, or JSON null when unknown (0). */
static json_t *usd_json(uint64_t micro)
{
	char t[32];
	if (!micro)
		return json_null();
	snprintf(t, sizeof t, "%" PRIu64 ".%06" PRIu64, micro / 1000000, micro % 1000000);
	return json_string(t);
}

static json_t *tokens_json(const struct server *s)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < s->cfg.n_tokens; i++) {
		const struct srv_token *t = &s->cfg.tokens[i];
		char addr[ADDRESS_STR_MAX];
		address_to_lower(addr, &t->address);
		if (json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:o, s:b}", "address", addr, "symbol",
							 t->symbol, "decimals", (int)t->decimals, "usd",
							 usd_json(t->usd_micro), "native", address_is_zero(&t->address)))) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

int route_config(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	const struct srv_config *c = &s->cfg;
	char escrow[ADDRESS_STR_MAX], monitor[ADDRESS_STR_MAX];
	(void)rq;

	address_to_lower(escrow, &c->escrow);
	address_to_lower(monitor, &c->escrow_monitor);
	return srv_json(rs, 200,
			json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:s, s:b}", "chain_id",
				  (json_int_t)c->chain_id, "chain_name", c->chain_name[0] ? c->chain_name : "",
				  "escrow", escrow, "fee_bps", (int)c->fee_bps, "rpc_url", c->public_rpc_url,
				  "explorer_url", c->explorer_url, "native_symbol", c->tokens[0].symbol, "tokens",
				  tokens_json(s), "monitor", c->has_escrow_monitor ? monitor : "", "indexer",
				  s->indexer_running));
}
