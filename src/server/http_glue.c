/*
 * http_glue.c — binds the route table (routes.c) to the HTTP layer src/net/http.h: one http_route per
 * table row, a handler that turns `struct http_req` into `struct srv_req`, calls the route, and turns
 * `struct srv_resp` back into an http_resp (JSON, text, or an SSE stream whose producer the layer's
 * pump calls every SRV_SSE_PERIOD_MS). Limits (body, headers, connections, per-address rate, idle
 * timeout, SSE streams) are the layer's, configured from struct srv_config. The layer's built-in
 * /healthz and /metrics are off: the server's own routes answer them (with its registry).
 */
#include "server/server.h"

#include "core/err.h"
#include "core/log.h"
#include "net/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct glue_route {
	struct server *s;
	const struct srv_route *r;
};


static const char *query_get(const struct srv_req *r, const char *name)
{
	return http_query(r->conn, name);
}

struct sse_user {
	srv_stream_fn fn;
	void *ctx;
	void (*free_ctx)(void *);
	bool started;
};

static int sse_emit(void *sink, const char *event, const char *data)
{
	return http_sse_send(sink, event, NULL, data, NULL) ? 1 : 0;
}

static int sse_poll(struct http_sse *sse, void *user)
{
	struct sse_user *u = user;
	return u->fn(u->ctx, sse_emit, sse);
}

static void sse_user_free(void *user)
{
	struct sse_user *u = user;
	if (u->free_ctx)
		u->free_ctx(u->ctx);
	free(u);
}

static void view_done(void *v)
{
	view_release(v);
}

/*
 * A rendered view (or a 304 for it) with its validators and encoding headers. The view's bytes are lent
 * to the HTTP layer, not copied: it holds a reference until the answer is sent.
 */
static int view_answer(struct http_resp *resp, const struct srv_resp *rs)
{
	int rc = 0;

	if (rs->view) {
		view_retain(rs->view);
		http_lend(resp, rs->status, rs->content_type ? rs->content_type : "application/json", rs->view->body,
			  rs->view->len, view_done, rs->view);
	} else {
		rc = http_text(resp, rs->status, rs->content_type ? rs->content_type : "application/json", "", 0);
	}

	if (!rc && rs->etag[0])
		rc = http_resp_header(resp, "ETag", rs->etag);
	if (!rc && rs->cache_control[0])
		rc = http_resp_header(resp, "Cache-Control", rs->cache_control);
	if (!rc && rs->vary_encoding)
		rc = http_resp_header(resp, "Vary", "Accept-Encoding");
	if (!rc && rs->gzip && rs->view)
		rc = http_resp_header(resp, "Content-Encoding", "gzip");
	return rc;
}

static int handler(struct http_req *req, struct http_resp *resp, void *ctx)
{
	struct glue_route *g = ctx;
	struct srv_req rq;
	struct srv_resp rs;
	const char *arg = http_param(req, "arg");
	int rc = 0;

	memset(&rq, 0, sizeof rq);
	memset(&rs, 0, sizeof rs);
	rq.method = g->r->method;
	rq.path = req->path;
	rq.arg = arg ? arg : "";
	rq.body = req->body ? (const char *)req->body : "";
	rq.body_len = req->body_len;
	rq.bearer = http_bearer(req);
	rq.client = req->client_addr;
	rq.if_none_match = http_header(req, "If-None-Match");
	rq.accept_encoding = http_header(req, "Accept-Encoding");
	rq.query = query_get;
	rq.conn = req;
	g->r->fn(g->s, &rq, &rs);
	if (rs.stream) {
		struct http_sse_opts o;
		struct sse_user *u = calloc(1, sizeof *u);
		struct err e = { 0 };
		if (!u) {
			srv_resp_release(&rs);
			return http_error(resp, 500, "internal", NULL, "out of memory");
		}
		u->fn = rs.stream;
		u->ctx = rs.stream_ctx;
		u->free_ctx = rs.stream_free;
		rs.stream_ctx = NULL;
		memset(&o, 0, sizeof o);
		o.poll_ms = SRV_SSE_PERIOD_MS;
		o.poll = sse_poll;
		o.user = u;
		o.user_free = sse_user_free;
		if (http_sse_start(resp, req, &o, NULL, &e)) {
			sse_user_free(u);
			srv_resp_release(&rs);
			return http_error(resp, 503, "too_many_streams", NULL, "%s", e.msg);
		}
		/* The first event at once, not after a period. */
		if (u->fn(u->ctx, sse_emit, resp->sse))
			http_sse_close(resp->sse);
		srv_resp_release(&rs);
		return 0;
	}
	if (rs.view || rs.status == 304) {
		rc = view_answer(resp, &rs);
	} else if (rs.text) {
		rc = http_text(resp, rs.status, rs.content_type ? rs.content_type : "text/plain; charset=utf-8",
			       rs.text, rs.text_len);
	} else if (rs.json) {
		rc = http_json(resp, rs.status, rs.json);
		rs.json = NULL;
	} else {
		rc = http_error(resp, 500, "internal", NULL, "no answer");
	}
	if (!rc && rs.csp) {
		rc = http_resp_header(resp, "Content-Security-Policy", rs.csp);
		if (!rc)
			rc = http_resp_header(resp, "Referrer-Policy", "no-referrer");
		if (!rc)
			rc = http_resp_header(resp, "X-Frame-Options", "DENY");
	}
	if (!rc && rs.extra_header[0]) {
		char name[64];
		const char *colon = strchr(rs.extra_header, ':');
		if (colon && (size_t)(colon - rs.extra_header) < sizeof name) {
			memcpy(name, rs.extra_header, (size_t)(colon - rs.extra_header));
			name[colon - rs.extra_header] = '\0';
			http_resp_header(resp, name, colon[1] == ' ' ? colon + 2 : colon + 1);
		}
	}
	srv_resp_release(&rs);
	return rc;
}

int http_glue_start(struct server *s, struct err *e)
{
	struct http_config c;
	struct http_server *h = NULL;
	struct glue_route *glue_routes;
	int rc;

	memset(&c, 0, sizeof c);
	c.bind_addr = s->cfg.listen_addr;
	c.port = s->cfg.port;
	c.threads = s->cfg.threads;
	c.body_max = s->cfg.body_max;
	c.tls_cert_pem = s->cfg.tls_cert_pem[0] ? s->cfg.tls_cert_pem : NULL;
	c.tls_key_pem = s->cfg.tls_key_pem[0] ? s->cfg.tls_key_pem : NULL;
	c.conn_max = s->cfg.max_conns;
	c.rate_per_s = s->cfg.rate_per_min ? (double)s->cfg.rate_per_min / 60.0 : 0;
	c.rate_burst = s->cfg.rate_per_min ? (double)s->cfg.rate_per_min / 2.0 : 0;
	c.rate_disabled = s->cfg.rate_per_min == 0;
	c.no_builtin_routes = true;
	if ((rc = http_server_new(&h, &c, e)))
		return rc;
	glue_routes = calloc(srv_route_count, sizeof *glue_routes);
	if (!glue_routes) {
		http_server_free(h);
		return err_set(e, ERR_NOMEM, "routes");
	}
	for (size_t i = 0; i < srv_route_count; i++) {
		glue_routes[i].s = s;
		glue_routes[i].r = &srv_routes[i];
		if ((rc = http_route(h, srv_routes[i].method_name, srv_routes[i].pattern, handler,
				     &glue_routes[i], e)))
			goto fail;
	}
	if ((rc = http_server_start(h, e)))
		goto fail;
	s->http = h;
	s->http_routes = glue_routes;
	s->bound_port = http_server_port(h);
	return 0;
fail:
	http_server_free(h);
	free(glue_routes);
	return rc;
}

void http_glue_stop(struct server *s)
{
	if (!s->http)
		return;
	http_server_stop(s->http);
	http_server_free(s->http);
	s->http = NULL;
	free(s->http_routes);
	s->http_routes = NULL;
}
