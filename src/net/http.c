/*
 * http.c — the server, route table, request accumulation and responses
 * (see http.h). Event streams live in sse.c.
 *
 * MHD calls the access handler several times per request: once when the
 * headers are in (we allocate the request state, apply the rate limit,
 * match the route, check Content-Length and the query, and may answer at
 * once), then once per body chunk (appended to a capped buffer), then a
 * last time with no data, when the handler runs and the response is queued.
 *
 * Slow clients (issue 8.13): MHD's idle timeout restarts on every byte, so a client trickling one byte
 * every few seconds would hold its connection forever. Every connection therefore has a slot with the
 * stage of its current request and when it began; a reaper thread shuts down (shutdown(2), MHD then
 * closes it) a connection whose request head has not fully arrived within head_timeout_ms, or whose
 * body has not within body_timeout_ms of the head. Answers being sent, event streams and upgraded
 * connections have no deadline. With MHD's per-address connection cap this keeps room for everyone.
 * Framing (8.14): a body past the cap is always answered 413 (also chunked: the rest is discarded, then
 * the answer is sent, Connection: close); Content-Length together with Transfer-Encoding is 400; a NUL
 * or control character in the raw request target (seen through MHD's URI log hook, before decoding)
 * is 400.
 */
#include "net/http.h"
#include "core/clock.h"
#include "net/http_int.h"

#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "net/metrics.h"
#include "net/ratelimit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REAPER_PERIOD_MS 100
/* A body over the cap is read (and dropped) up to 16x the cap + 1 MiB to answer 413, then cut. */
#define DISCARD_MAX_FACTOR 16
#define DISCARD_MAX_EXTRA ((size_t)1 << 20)

/* Everything one request needs; MHD's *con_cls. */
struct request {
	struct conn_state cs;                /* first: http_req.conn points here */
	struct http_req req;                 /* what the handler sees */
	const struct route *route;           /* matched route, NULL before/none */
	struct buf body;                     /* accumulated body, capped */
	char path[HTTP_PATH_MAX + 1];        /* copy of the path */
	char segbuf[HTTP_PATH_MAX + 1];      /* path split at '/' */
	uint64_t t0_ms;                      /* arrival time */
	bool responded;                      /* a response was queued */
	bool query_bad;                      /* query over a cap */
	char query_why[96];                  /* why query_bad */
	struct http_upgrade_req *up;         /* upgrade queued, not yet switched */
	bool started;                        /* the head was processed (on_headers ran) */
	bool raw_bad;                        /* the raw target holds %00 or a control character */
	bool body_over;                      /* the body passed the cap: discard, then 413 */
	size_t discarded;                    /* body bytes dropped since */
	uint64_t streamed;                   /* body bytes handed to a streamed route */
};

/* An accepted protocol upgrade, until the switch happens or cannot. */
struct http_upgrade_req {
	char protocol[32];                   /* "websocket" */
	http_upgrade_fn fn;                  /* called once switched */
	void *ctx;
	void (*ctx_free)(void *ctx);         /* called instead when it never is */
};

/* What the upgrade callback owns: MHD's handle of the switched socket. */
struct http_upgraded {
	struct MHD_UpgradeResponseHandle *urh;
};

/* ---- responses ---- */

int http_resp_header(struct http_resp *resp, const char *name, const char *value)
{
	struct http_header *h;

	if (!name || !value || !*name || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return ERR_INVALID;
	if (resp->nheaders >= HTTP_RESP_HEADERS_MAX || strlen(name) >= sizeof h->name ||
	    strlen(value) >= sizeof h->value)
		return ERR_TOO_BIG;
	h = &resp->headers[resp->nheaders++];
	strcpy(h->name, name);
	strcpy(h->value, value);
	return 0;
}

/* Gives a lent body back (the answer is replaced, dropped or sent). */
static void lent_return(struct http_resp *resp)
{
	if (resp->lent_done)
		resp->lent_done(resp->lent_cls);
	resp->lent = NULL;
	resp->lent_len = 0;
	resp->lent_done = NULL;
	resp->lent_cls = NULL;
}

void http_lend(struct http_resp *resp, int status, const char *content_type, const void *body, size_t len,
	       void (*done)(void *cls), void *cls)
{
	lent_return(resp);
	buf_reset(&resp->body);
	resp->lent = body;
	resp->lent_len = len;
	resp->lent_done = done;
	resp->lent_cls = cls;
	resp->status = status;
	snprintf(resp->content_type, sizeof resp->content_type, "%s",
		 content_type ? content_type : "text/plain; charset=utf-8");
}

int http_text(struct http_resp *resp, int status, const char *content_type, const char *text,
	      size_t len)
{
	lent_return(resp);
	buf_reset(&resp->body);
	int rc = buf_append(&resp->body, text, len);
	if (rc)
		return rc;
	resp->status = status;
	snprintf(resp->content_type, sizeof resp->content_type, "%s",
		 content_type ? content_type : "text/plain; charset=utf-8");
	return 0;
}

int http_json(struct http_resp *resp, int status, json_t *v)
{
	char *s;
	int rc;

	if (!v)
		return ERR_NOMEM;
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(v);
	if (!s)
		return ERR_NOMEM;
	rc = http_text(resp, status, "application/json", s, strlen(s));
	free(s);
	return rc;
}

json_t *http_error_body(const char *code, const char *field, const char *msg)
{
	json_t *err = json_pack("{s:s, s:s}", "code", code ? code : "error", "message", msg ? msg : "");

	if (err && field && field[0] && json_object_set_new(err, "field", json_string(field))) {
		json_decref(err);
		return NULL;
	}
	return err ? json_pack("{s:o}", "error", err) : NULL;
}

int http_error(struct http_resp *resp, int status, const char *code, const char *field,
	       const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	json_t *root;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!(root = http_error_body(code, field, msg)))
		return ERR_NOMEM;
	return http_json(resp, status, root);
}

/* ---- request accessors ---- */

const char *http_param(const struct http_req *r, const char *name)
{
	for (size_t i = 0; i < r->nparams; i++)
		if (strcmp(r->params[i].key, name) == 0)
			return r->params[i].value;
	return NULL;
}

const char *http_query(const struct http_req *r, const char *name)
{
	for (size_t i = 0; i < r->nquery; i++)
		if (strcmp(r->query[i].key, name) == 0)
			return r->query[i].value;
	return NULL;
}

const char *http_header(const struct http_req *r, const char *name)
{
	const struct conn_state *cs = r->conn;
	if (!cs || !cs->mc)
		return NULL;
	return MHD_lookup_connection_value(cs->mc, MHD_HEADER_KIND, name);
}

const char *http_bearer(const struct http_req *r)
{
	const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	if (!*h || strlen(h) > 1024 || strpbrk(h, " \t"))
		return NULL;
	return h;
}

int http_json_body(json_t **out, const struct http_req *r, struct http_resp *resp)
{
	struct err e = { 0 };
	int rc;

	if (!r->body || r->body_len == 0) {
		http_error(resp, 400, "invalid_json", "body", "request body is empty");
		return ERR_INVALID;
	}
	rc = json_parse(out, (const char *)r->body, r->body_len, r->body_len, &e);
	if (rc) {
		http_error(resp, 400, "invalid_json", "body", "%s",
			   e.msg[0] ? e.msg : "malformed JSON");
		return rc;
	}
	return 0;
}

/* ---- routes ---- */

/* Splits `buf` (a path) at '/' in place; ERR_TOO_BIG past HTTP_SEGMENTS_MAX. */
static int split_path(char **segs, size_t *nsegs, char *buf)
{
	size_t n = 0;
	char *p = buf;

	if (*p != '/')
		return ERR_INVALID;
	p++;
	if (*p == 0) {
		*nsegs = 0; /* "/" */
		return 0;
	}
	for (;;) {
		if (n >= HTTP_SEGMENTS_MAX)
			return ERR_TOO_BIG;
		segs[n++] = p;
		char *slash = strchr(p, '/');
		if (!slash)
			break;
		*slash = 0;
		p = slash + 1;
	}
	*nsegs = n;
	return 0;
}

static bool is_param(const char *seg)
{
	size_t n = strlen(seg);
	return n >= 3 && seg[0] == '{' && seg[n - 1] == '}';
}

/*
 * The matcher itself: request segments against a pattern's segments (param[i]: a "{name}" segment,
 * psegs[i] its name without braces). Fills up to max_params (name, value) pairs (params may be NULL).
 */
static bool segs_match(char *const *psegs, const unsigned char *param, size_t npsegs, char *const *segs,
		       size_t nsegs, const char *whole, const char *base, struct http_kv *params, size_t max_params,
		       size_t *nparams)
{
	size_t np = 0;
	bool tail = npsegs && param[npsegs - 1] == SEG_TAIL;

	if (tail ? nsegs < npsegs : npsegs != nsegs)
		return false;
	for (size_t i = 0; i < npsegs; i++) {
		if (param[i]) {
			if (!*segs[i])
				return false;
			if (params) {
				if (np == max_params)
					return false;
				params[np].key = psegs[i];
				/* the rest of the path: the same bytes in the unsplit copy */
				params[np].value = param[i] == SEG_TAIL ? whole + (segs[i] - base) : segs[i];
				np++;
			}
		} else if (strcmp(psegs[i], segs[i]) != 0) {
			return false;
		}
	}
	if (nparams)
		*nparams = np;
	return true;
}

/* Marks the "{name}" (and a last "{name...}") segments and strips their braces (and dots) in place. */
static void pattern_params(char **psegs, unsigned char *param, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(psegs[i]);
		param[i] = is_param(psegs[i]) ? SEG_PARAM : SEG_LITERAL;
		if (param[i]) {
			if (i + 1 == n && l > 5 && strcmp(psegs[i] + l - 4, "...}") == 0) {
				param[i] = SEG_TAIL;
				psegs[i][l - 4] = '\0';
			}
			psegs[i][strlen(psegs[i]) - 1 + (param[i] == SEG_TAIL)] = '\0';
			psegs[i]++;
		}
	}
}

int http_route(struct http_server *s, const char *method, const char *pattern, http_handler fn,
	       void *ctx, struct err *e)
{
	struct route *r;
	size_t nparams = 0;

	if (s->d)
		return err_set(e, ERR_STATE, "http_route: server already started");
	if (!method || !*method || strlen(method) >= sizeof r->method || !pattern || !fn ||
	    pattern[0] != '/' || strlen(pattern) > HTTP_PATH_MAX)
		return err_set(e, ERR_INVALID, "http_route: bad method or pattern");
	if (s->nroutes >= HTTP_ROUTES_MAX)
		return err_set(e, ERR_TOO_BIG, "http_route: more than %d routes", HTTP_ROUTES_MAX);
	r = &s->routes[s->nroutes];
	memset(r, 0, sizeof *r);
	strcpy(r->method, method);
	strcpy(r->pattern, pattern);
	strcpy(r->segbuf, pattern);
	if (split_path(r->segs, &r->nsegs, r->segbuf))
		return err_set(e, ERR_INVALID, "http_route: pattern \"%s\" has too many segments",
			       pattern);
	for (size_t i = 0; i < r->nsegs; i++) {
		const char *g = r->segs[i];
		if (!*g && i + 1 < r->nsegs)
			return err_set(e, ERR_INVALID, "http_route: empty segment in \"%s\"", pattern);
		if (is_param(g)) {
			size_t l = strlen(g);
			if (l > 5 && strcmp(g + l - 4, "...}") == 0 && i + 1 < r->nsegs)
				return err_set(e, ERR_INVALID, "http_route: \"%s\" can only be the last segment", g);
			if (++nparams > HTTP_PARAMS_MAX)
				return err_set(e, ERR_TOO_BIG, "http_route: too many params");
		} else if (strpbrk(g, "{}")) {
			return err_set(e, ERR_INVALID, "http_route: bad segment \"%s\"", g);
		}
	}
	pattern_params(r->segs, r->param, r->nsegs); /* split once here; every request matches against it */
	for (size_t i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].method, method) == 0 &&
		    strcmp(s->routes[i].pattern, pattern) == 0)
			return err_set(e, ERR_CONFLICT, "http_route: %s %s registered twice", method,
				       pattern);
	r->fn = fn;
	r->ctx = ctx;
	s->nroutes++;
	return 0;
}

int http_route_unlimited(struct http_server *s, const char *pattern, struct err *e)
{
	bool any = false;

	if (s->d)
		return err_set(e, ERR_STATE, "http_route_unlimited: server already started");
	for (size_t i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].pattern, pattern) == 0) {
			s->routes[i].unlimited = true;
			any = true;
		}
	return any ? 0 : err_set(e, ERR_NOT_FOUND, "http_route_unlimited: no route %s", pattern);
}

int http_route_streamed(struct http_server *s, const char *method, const char *pattern, http_handler fn,
			http_body_fn body, uint64_t body_max, void *ctx, struct err *e)
{
	int rc;

	if (!body || !body_max)
		return err_set(e, ERR_INVALID, "http_route_streamed: needs a body function and a cap");
	if ((rc = http_route(s, method, pattern, fn, ctx, e)))
		return rc;
	s->routes[s->nroutes - 1].body = body;
	s->routes[s->nroutes - 1].body_max = body_max;
	return 0;
}

int http_file(struct http_resp *resp, int status, const char *content_type, int fd, uint64_t size)
{
	if (fd < 0)
		return ERR_INVALID;
	if (resp->has_fd)
		close(resp->fd);
	resp->status = status;
	resp->fd = fd;
	resp->has_fd = true;
	resp->fd_size = size;
	snprintf(resp->content_type, sizeof resp->content_type, "%s",
		 content_type ? content_type : "application/octet-stream");
	return 0;
}

/* See http.h. */
bool http_path_match(const char *pattern, const char *path, struct http_kv *params, size_t max_params,
		     size_t *nparams, char *scratch, size_t scratch_cap)
{
	char *psegs[HTTP_SEGMENTS_MAX], *segs[HTTP_SEGMENTS_MAX], *pat;
	unsigned char param[HTTP_SEGMENTS_MAX];
	size_t npsegs = 0, nsegs = 0, lp, lq;

	if (!pattern || !path)
		return false;
	lq = strlen(path);
	lp = strlen(pattern);
	if (lq > HTTP_PATH_MAX || lp > HTTP_PATH_MAX || lq + lp + 2 > scratch_cap)
		return false;
	/* scratch = the path, split in place, then the pattern, split and with braces stripped: the
	 * params point into it (keys and values NUL-terminated) */
	memcpy(scratch, path, lq + 1);
	pat = scratch + lq + 1;
	memcpy(pat, pattern, lp + 1);
	if (split_path(segs, &nsegs, scratch) || split_path(psegs, &npsegs, pat))
		return false;
	pattern_params(psegs, param, npsegs);
	return segs_match(psegs, param, npsegs, segs, nsegs, path, scratch, params, max_params, nparams);
}

/* ---- built-in routes ---- */

static int h_healthz(struct http_req *req, struct http_resp *resp, void *ctx)
{
	(void)req;
	(void)ctx;
	return http_json(resp, 200, json_pack("{s:b}", "ok", 1));
}

static int h_metrics(struct http_req *req, struct http_resp *resp, void *ctx)
{
	struct http_server *s = ctx;
	(void)req;
	buf_reset(&resp->body);
	int rc = metrics_render(s->m, &resp->body);
	if (rc)
		return rc;
	resp->status = 200;
	strcpy(resp->content_type, "text/plain; version=0.0.4; charset=utf-8");
	return 0;
}

/* ---- server ---- */

int http_server_new(struct http_server **out, const struct http_config *cfg, struct err *e)
{
	struct http_server *s = calloc(1, sizeof *s);
	int rc;

	if (!s || !(s->routes = calloc(HTTP_ROUTES_MAX, sizeof *s->routes))) {
		free(s);
		return err_set(e, ERR_NOMEM, "http: out of memory");
	}
	if (cfg)
		s->cfg = *cfg;
	struct http_config *c = &s->cfg;
	for (size_t i = 0; c->cors_origins && c->cors_origins[i]; i++) {
		if (i >= HTTP_CORS_MAX || strlen(c->cors_origins[i]) > HTTP_ORIGIN_MAX) {
			free(s->routes);
			free(s);
			return err_set(e, ERR_INVALID, "http: more than %d CORS origins, or one over %d bytes", HTTP_CORS_MAX,
				       HTTP_ORIGIN_MAX);
		}
		snprintf(s->cors[s->ncors++], sizeof s->cors[0], "%s", c->cors_origins[i]);
	}
	c->cors_origins = NULL;
	if (!c->bind_addr)
		c->bind_addr = "127.0.0.1";
	if (!c->threads)
		c->threads = 4;
	if (!c->body_max)
		c->body_max = HTTP_BODY_MAX_DEFAULT;
	if (!c->conn_memory_max)
		c->conn_memory_max = (size_t)32 << 10;
	if (!c->conn_max)
		c->conn_max = 1024;
	if (!c->per_ip_conn_max)
		c->per_ip_conn_max = 64;
	if (!c->conn_timeout_s)
		c->conn_timeout_s = 30;
	if (!c->head_timeout_ms)
		c->head_timeout_ms = 10000;
	if (!c->body_timeout_ms)
		c->body_timeout_ms = 30000;
	pthread_mutex_init(&s->conn_mu, NULL);
	s->nslots = c->conn_max + HTTP_SLOTS_SPARE;
	if (!(s->slots = calloc(s->nslots, sizeof *s->slots))) {
		pthread_mutex_destroy(&s->conn_mu);
		free(s->routes);
		free(s);
		return err_set(e, ERR_NOMEM, "http: out of memory");
	}
	if (!(c->rate_per_s > 0))
		c->rate_per_s = 20;
	if (!(c->rate_burst >= 1))
		c->rate_burst = c->rate_per_s * 2 < 10 ? 10 : c->rate_per_s * 2;
	if (!c->rate_slots)
		c->rate_slots = 4096;
	if (!c->sse_max)
		c->sse_max = 256;
	pthread_condattr_t ca;
	pthread_mutex_init(&s->sse_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* sse.c waits on monotonic time */
	pthread_cond_init(&s->sse_cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = metrics_new(&s->m, e)) ||
	    (!c->rate_disabled &&
	     (rc = ratelimit_new(&s->rl, c->rate_per_s, c->rate_burst, c->rate_slots, e)))) {
		http_server_free(s);
		return rc;
	}
	if (!c->no_builtin_routes &&
	    ((rc = http_route(s, "GET", "/healthz", h_healthz, s, e)) ||
	     (rc = http_route(s, "GET", "/metrics", h_metrics, s, e)))) {
		http_server_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* Bounded label values for metrics: the method from a fixed list. */
static const char *method_label(const char *m)
{
	static const char *const known[] = { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
					     "OPTIONS" };
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(m, known[i]) == 0)
			return known[i];
	return "OTHER";
}

static void record(struct http_server *s, struct request *rq, int status)
{
	char labels[METRICS_LABELS_MAX + 1], st[16];
	const char *route = rq->route ? rq->route->pattern : "unmatched";
	const char *kv[6] = { "route", route, "method", method_label(rq->req.method), "status", st };

	snprintf(st, sizeof st, "%d", status);
	if (metrics_labels(labels, sizeof labels, kv, 3) == 0)
		metrics_counter_add(s->m, "http_requests_total", "HTTP requests by route, method, status",
				    labels, 1);
	if (metrics_labels(labels, sizeof labels, kv, 1) == 0)
		metrics_observe(s->m, "http_request_duration_seconds",
				"Time from request headers to response queued", labels,
				(double)(clock_mono_ms() - rq->t0_ms) / 1000.0);
}

/* Drops an upgrade that will never happen: ctx_free, then the request. */
static void upgrade_discard(struct http_upgrade_req *up)
{
	if (!up)
		return;
	if (up->ctx_free)
		up->ctx_free(up->ctx);
	free(up);
}

int http_upgrade(struct http_resp *resp, const char *protocol, http_upgrade_fn fn, void *ctx,
		 void (*ctx_free)(void *ctx))
{
	struct http_upgrade_req *up;
	size_t n = protocol ? strlen(protocol) : 0;

	if (!resp || !fn || resp->upgrade || resp->sse || n == 0 ||
	    n >= sizeof up->protocol || strspn(protocol, "abcdefghijklmnopqrstuvwxyz"
					       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/") != n)
		return ERR_INVALID;
	up = calloc(1, sizeof *up);
	if (!up)
		return ERR_NOMEM;
	memcpy(up->protocol, protocol, n + 1);
	up->fn = fn;
	up->ctx = ctx;
	up->ctx_free = ctx_free;
	resp->upgrade = up;
	resp->status = 101;
	return 0;
}

void http_upgraded_close(struct http_upgraded *h)
{
	if (!h)
		return;
	MHD_upgrade_action(h->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(h);
}

/* MHD: the 101 went out; hand the socket to the handler's callback. */
static void on_upgrade(void *cls, struct MHD_Connection *mc, void *con_cls, const char *extra,
		       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct request *rq = cls;
	struct http_upgrade_req *up = rq->up;
	struct http_upgraded *h;
	(void)mc;
	(void)con_cls;

	rq->up = NULL;
	if (!up) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	h = calloc(1, sizeof *h);
	if (!h) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		upgrade_discard(up);
		return;
	}
	h->urh = urh;
	up->fn(h, (int)sock, (const uint8_t *)extra, extra_len, up->ctx);
	free(up);
}

static bool resp_has_header(const struct http_resp *resp, const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return true;
	return false;
}

/* The request's Origin when it is one of the server's CORS origins, else NULL. */
static const char *cors_origin(const struct http_server *s, struct MHD_Connection *mc)
{
	const char *o;

	if (!s->ncors || !(o = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Origin")))
		return NULL;
	for (size_t i = 0; i < s->ncors; i++)
		if (strcmp(o, s->cors[i]) == 0)
			return s->cors[i];
	return NULL;
}

static void cors_headers(const struct http_server *s, struct MHD_Connection *mc, struct MHD_Response *mr)
{
	const char *o = cors_origin(s, mc);

	if (!s->ncors)
		return;
	MHD_add_response_header(mr, "Vary", "Origin");
	if (o)
		MHD_add_response_header(mr, "Access-Control-Allow-Origin", o);
}

/* Queues resp on the connection; consumes resp's body and stream. */
static enum MHD_Result send_resp(struct request *rq, struct http_resp *resp)
{
	struct http_server *s = rq->cs.srv;
	struct MHD_Response *mr = NULL;
	enum MHD_Result ret;
	int status = resp->status ? resp->status : 200;

	if (resp->sse) {
		struct http_sse *sse = resp->sse;
		resp->sse = NULL;
		if (sse_attach(s, rq->cs.mc, sse, &mr)) {
			http_error(resp, 503, "unavailable", NULL, "server is shutting down");
			status = 503;
		}
	}
	if (resp->upgrade && status == 101) { /* else the handler answered otherwise: dropped */
		mr = MHD_create_response_for_upgrade(on_upgrade, rq);
		if (!mr)
			return MHD_NO;
		MHD_add_response_header(mr, MHD_HTTP_HEADER_UPGRADE, resp->upgrade->protocol);
		rq->up = resp->upgrade; /* on_upgrade or on_completed takes it */
		resp->upgrade = NULL;
	}
	if (!mr && resp->has_fd) {
		mr = MHD_create_response_from_fd64(resp->fd_size, resp->fd);
		if (!mr)
			return MHD_NO; /* the caller closes the fd */
		resp->has_fd = false; /* MHD closes it now */
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, resp->content_type);
		if (!resp_has_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL))
			MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	if (!mr && resp->lent) {
		mr = MHD_create_response_from_buffer_with_free_callback_cls(resp->lent_len, (void *)(uintptr_t)resp->lent,
									    resp->lent_done, resp->lent_cls);
		if (!mr)
			return MHD_NO; /* the caller gives the body back */
		resp->lent = NULL; /* MHD calls lent_done now */
		resp->lent_done = NULL;
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
					resp->content_type[0] ? resp->content_type : "application/json");
		if (!resp_has_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL))
			MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	if (!mr) {
		size_t len = 0;
		uint8_t *body = buf_detach(&resp->body, &len);
		if (!body)
			return MHD_NO;
		mr = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
		if (!mr) {
			free(body);
			return MHD_NO;
		}
		MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
					resp->content_type[0] ? resp->content_type
							      : "application/json");
		if (!resp_has_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL))
			MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	if (!resp_has_header(resp, "Access-Control-Allow-Origin")) /* a handler that answers CORS itself */
		cors_headers(s, rq->cs.mc, mr);
	for (size_t i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
	ret = MHD_queue_response(rq->cs.mc, (unsigned)status, mr);
	MHD_destroy_response(mr);
	rq->responded = true;
	record(s, rq, status);
	return ret;
}

/* Sends an error right away (used before the handler runs). */
static enum MHD_Result send_error(struct request *rq, int status, const char *code,
				  const char *field, const char *msg, const char *hname,
				  const char *hval)
{
	struct http_resp resp;
	enum MHD_Result ret;

	memset(&resp, 0, sizeof resp);
	buf_init(&resp.body, HTTP_RESP_MAX);
	if (http_error(&resp, status, code, field, "%s", msg) ||
	    (hname && http_resp_header(&resp, hname, hval))) {
		buf_release(&resp.body);
		return MHD_NO;
	}
	ret = send_resp(rq, &resp);
	buf_release(&resp.body);
	return ret;
}

/*
 * A CORS preflight (OPTIONS) of a path whose routes allow `allow`: 204 with the allowed methods for an
 * admitted Origin asking for one of them; 403 otherwise (no CORS headers: the browser refuses the call).
 */
static enum MHD_Result send_preflight(struct request *rq, const char *allow)
{
	struct http_server *s = rq->cs.srv;
	const char *want = MHD_lookup_connection_value(rq->cs.mc, MHD_HEADER_KIND, "Access-Control-Request-Method");
	struct MHD_Response *mr;
	enum MHD_Result ret;
	size_t n = want ? strlen(want) : 0;
	bool listed = false;

	for (const char *p = allow; n && (p = strstr(p, want)); p += n)
		if ((p == allow || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			listed = true;
	if (!cors_origin(s, rq->cs.mc) || !listed)
		return send_error(rq, 403, "cors_refused", "Origin",
				  "this origin may not call this path from a page, or not with that method", NULL, NULL);
	if (!(mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)))
		return MHD_NO;
	cors_headers(s, rq->cs.mc, mr);
	MHD_add_response_header(mr, "Access-Control-Allow-Methods", allow);
	MHD_add_response_header(mr, "Access-Control-Allow-Headers", "Content-Type, Authorization");
	MHD_add_response_header(mr, "Access-Control-Max-Age", "600");
	ret = MHD_queue_response(rq->cs.mc, 204, mr);
	MHD_destroy_response(mr);
	rq->responded = true;
	record(s, rq, 204);
	return ret;
}

static enum MHD_Result on_query(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct request *rq = cls;
	(void)kind;
	if (rq->req.nquery >= HTTP_QUERY_MAX) {
		rq->query_bad = true;
		snprintf(rq->query_why, sizeof rq->query_why, "more than %d query parameters",
			 HTTP_QUERY_MAX);
		return MHD_NO;
	}
	if (!key || strlen(key) > 64 || (value && strlen(value) > HTTP_VALUE_MAX)) {
		rq->query_bad = true;
		snprintf(rq->query_why, sizeof rq->query_why,
			 "query name over 64 bytes or value over %d bytes", HTTP_VALUE_MAX);
		return MHD_NO;
	}
	rq->req.query[rq->req.nquery].key = key;
	rq->req.query[rq->req.nquery].value = value ? value : "";
	rq->req.nquery++;
	return MHD_YES;
}

static void client_addr(char out[HTTP_ADDR_MAX], struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	strcpy(out, "unknown");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  HTTP_ADDR_MAX);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
			  HTTP_ADDR_MAX);
}

/* ---- slow-client deadlines ---- */

static void slot_stage(struct http_server *s, struct conn_slot *slot, enum conn_stage st)
{
	if (!slot)
		return;
	pthread_mutex_lock(&s->conn_mu);
	if (slot->stage != CONN_FREE && slot->stage != CONN_CUT) {
		slot->stage = st;
		slot->since_ms = clock_mono_ms();
	}
	pthread_mutex_unlock(&s->conn_mu);
}

static struct conn_slot *slot_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Cuts connections past their head or body deadline; runs until reaper_stop. */
static void *reaper_main(void *arg)
{
	struct http_server *s = arg;

	while (!atomic_load(&s->reaper_stop)) {
		uint64_t now = clock_mono_ms();
		unsigned cut = 0;
		pthread_mutex_lock(&s->conn_mu);
		for (size_t i = 0; i < s->nslots; i++) {
			struct conn_slot *c = &s->slots[i];
			uint64_t limit = c->stage == CONN_HEAD ? s->cfg.head_timeout_ms :
					 c->stage == CONN_BODY ? s->cfg.body_timeout_ms : 0;
			if (limit && now - c->since_ms > limit) {
				shutdown(c->fd, SHUT_RDWR);
				c->stage = CONN_CUT;
				cut++;
			}
		}
		pthread_mutex_unlock(&s->conn_mu);
		if (cut)
			metrics_counter_add(s->m, "http_slow_clients_cut_total",
					    "Connections cut for not sending their request in time", NULL, cut);
		usleep(REAPER_PERIOD_MS * 1000);
	}
	return NULL;
}

/* The raw request target, before MHD decodes it: refuse NUL (%00) and control characters. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct http_server *s = cls;
	struct request *rq = calloc(1, sizeof *rq);

	if (!rq)
		return NULL;
	rq->cs.srv = s;
	rq->cs.mc = mc;
	for (const char *p = uri; p && *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			rq->raw_bad = true;
		if (p[0] == '%' && p[1] == '0' && p[2] == '0')
			rq->raw_bad = true;
	}
	return rq;
}

static void resp_cleanup(struct http_resp *resp)
{
	if (resp->sse)
		sse_discard(resp->sse);
	resp->sse = NULL;
	upgrade_discard(resp->upgrade);
	resp->upgrade = NULL;
	lent_return(resp);
	if (resp->has_fd)
		close(resp->fd);
	resp->has_fd = false;
	buf_release(&resp->body);
}

/* A streamed route's first call (the head is in): it may answer at once, before any body byte. */
static enum MHD_Result stream_begin(struct request *rq)
{
	struct http_resp resp;
	enum MHD_Result ret;
	int rc;

	memset(&resp, 0, sizeof resp);
	buf_init(&resp.body, HTTP_RESP_MAX);
	rc = rq->route->body(&rq->req, &resp, NULL, 0, rq->route->ctx);
	if (!rc) {
		resp_cleanup(&resp);
		return MHD_YES;
	}
	if (!resp.status)
		http_error(&resp, 500, "internal", NULL, "internal error (%s)", err_name(rc));
	ret = send_resp(rq, &resp);
	resp_cleanup(&resp);
	return ret;
}

/* First call for a request: checks that can answer before any body byte is read. */
static enum MHD_Result on_headers(struct request *rq, const char *url, const char *method)
{
	struct http_server *s = rq->cs.srv;
	uint32_t retry = 1;
	char allow[128] = "";
	char *segs[HTTP_SEGMENTS_MAX];
	size_t nsegs = 0;
	const char *cl;

	rq->req.method = method;
	rq->req.conn = &rq->cs;
	client_addr(rq->req.client_addr, rq->cs.mc);
	if (rq->raw_bad)
		return send_error(rq, 400, "bad_target", "path", "the request target holds a NUL or control character",
				  "Connection", "close");
	if (strlen(url) > HTTP_PATH_MAX)
		return send_error(rq, 414, "uri_too_long", "path", "path too long", NULL, NULL);
	strcpy(rq->path, url);
	rq->req.path = rq->path;
	strcpy(rq->segbuf, url);
	if (split_path(segs, &nsegs, rq->segbuf))
		return send_error(rq, 404, "not_found", "path", "no such resource", NULL, NULL);
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct route *r = &s->routes[i];
		struct http_kv kv[HTTP_PARAMS_MAX];
		size_t nkv = 0;
		/* the path is split once; each route's pattern was split at registration (segs_match: the
		 * same matcher http_path_match runs for the server's tests) */
		if (!segs_match(r->segs, r->param, r->nsegs, segs, nsegs, rq->path, rq->segbuf, kv, HTTP_PARAMS_MAX,
				&nkv))
			continue;
		if (strcmp(r->method, method) == 0) {
			memcpy(rq->req.params, kv, nkv * sizeof kv[0]);
			rq->req.nparams = nkv;
			rq->route = r;
			rq->req.route = r->pattern;
			break;
		}
		if (!strstr(allow, r->method) && strlen(allow) + strlen(r->method) + 3 < sizeof allow) {
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, r->method);
		}
	}
	/* after the match: a route marked unlimited (http_route_unlimited) is not counted */
	if (s->rl && !(rq->route && rq->route->unlimited) && !ratelimit_take(s->rl, rq->req.client_addr, clock_mono_ms(), &retry)) {
		char ra[16];
		snprintf(ra, sizeof ra, "%u", retry);
		metrics_counter_add(s->m, "http_rate_limited_total",
				    "Requests refused by the per-address rate limit", NULL, 1);
		return send_error(rq, 429, "rate_limited", NULL, "too many requests; slow down",
				  MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (!rq->route && s->ncors && strcmp(method, "OPTIONS") == 0 && allow[0])
		return send_preflight(rq, allow);
	if (!rq->route) {
		if (allow[0])
			return send_error(rq, 405, "method_not_allowed", NULL,
					  "method not allowed here", MHD_HTTP_HEADER_ALLOW, allow);
		return send_error(rq, 404, "not_found", "path", "no such resource", NULL, NULL);
	}
	MHD_get_connection_values(rq->cs.mc, MHD_GET_ARGUMENT_KIND, on_query, rq);
	if (rq->query_bad)
		return send_error(rq, 400, "bad_query", "query", rq->query_why, NULL, NULL);
	cl = MHD_lookup_connection_value(rq->cs.mc, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && MHD_lookup_connection_value(rq->cs.mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		return send_error(rq, 400, "ambiguous_length", "headers",
				  "both Content-Length and Transfer-Encoding: send one (RFC 9112 6.3)", "Connection",
				  "close");
	uint64_t cap = rq->route->body ? rq->route->body_max : s->cfg.body_max;
	if (cl) {
		char *end;
		unsigned long long n = strtoull(cl, &end, 10);
		if (*end || n > cap) {
			char msg[96];
			snprintf(msg, sizeof msg, "request body over %llu bytes", (unsigned long long)cap);
			return send_error(rq, 413, "body_too_large", "body", msg, "Connection",
					  "close");
		}
	}
	if (rq->route->body)
		return stream_begin(rq);
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
				  const char *method, const char *version,
				  const char *upload, size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct request *rq = *con_cls;
	(void)version;

	if (!rq) {
		rq = on_uri(s, "", mc);
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
	}
	if (!rq->started) {
		rq->started = true;
		rq->cs.slot = slot_of(mc);
		rq->t0_ms = clock_mono_ms();
		buf_init(&rq->body, s->cfg.body_max);
		slot_stage(s, rq->cs.slot, CONN_BODY);
		return on_headers(rq, url, method);
	}
	if (rq->responded) {
		/* MHD closes a connection whose body was not read; drop what it hands us */
		if (*upload_size && rq->body.len + *upload_size > s->cfg.body_max)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size && rq->route->body) {
		/* streamed: each piece to the route as it arrives; progress keeps the connection alive */
		rq->streamed += *upload_size;
		if (rq->streamed > rq->route->body_max ||
		    rq->route->body(&rq->req, NULL, (const uint8_t *)upload, *upload_size, rq->route->ctx))
			return MHD_NO;
		slot_stage(s, rq->cs.slot, CONN_BODY);
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		/* a (chunked) body past the cap: drop the rest, answer 413 at the end (MHD cannot queue an
		 * answer in the middle of a body); a body far past the cap is cut instead */
		if (rq->body_over || buf_append(&rq->body, upload, *upload_size)) {
			rq->body_over = true;
			rq->discarded += *upload_size;
			if (rq->discarded > DISCARD_MAX_FACTOR * s->cfg.body_max + DISCARD_MAX_EXTRA)
				return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	slot_stage(s, rq->cs.slot, CONN_SERVING);
	if (rq->body_over) {
		char msg[96];
		snprintf(msg, sizeof msg, "request body over %zu bytes", s->cfg.body_max);
		return send_error(rq, 413, "body_too_large", "body", msg, "Connection", "close");
	}
	/* the whole request is in: run the handler */
	struct http_resp resp;
	enum MHD_Result ret;
	int rc;

	memset(&resp, 0, sizeof resp);
	buf_init(&resp.body, HTTP_RESP_MAX);
	rq->req.body = rq->body.len ? rq->body.data : NULL;
	rq->req.body_len = rq->body.len;
	rc = rq->route->fn(&rq->req, &resp, rq->route->ctx);
	if (rc < 0 && resp.upgrade) {
		upgrade_discard(resp.upgrade);
		resp.upgrade = NULL;
		resp.status = 0;
	}
	if (rc < 0 && !resp.status) {
		char buf[64];
		log_warn("handler failed", "route=%s code=%s", rq->route->pattern, err_name(rc));
		if (resp.sse) {
			sse_discard(resp.sse);
			resp.sse = NULL;
		}
		snprintf(buf, sizeof buf, "internal error (%s)", err_name(rc));
		http_error(&resp, 500, "internal", NULL, "%s", buf);
	}
	ret = send_resp(rq, &resp);
	resp_cleanup(&resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;
	(void)toe;
	/* keep-alive: the next request's head must arrive in time too */
	slot_stage(cls, slot_of(mc), CONN_HEAD);
	if (!rq)
		return;
	upgrade_discard(rq->up);
	buf_release(&rq->body);
	if (rq->req.stream && rq->req.stream_free)
		rq->req.stream_free(rq->req.stream);
	free(rq);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;

	metrics_gauge_add(s->m, "http_connections_open", "Open client connections", NULL,
			  toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
	pthread_mutex_lock(&s->conn_mu);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_ctx = NULL;
		for (size_t i = 0; ci && i < s->nslots; i++)
			if (s->slots[i].stage == CONN_FREE) {
				s->slots[i].fd = ci->connect_fd;
				s->slots[i].stage = CONN_HEAD;
				s->slots[i].since_ms = clock_mono_ms();
				*socket_ctx = &s->slots[i];
				break;
			}
	} else if (*socket_ctx) {
		/* MHD has not closed the socket yet: the reaper never touches a reused fd */
		((struct conn_slot *)*socket_ctx)->stage = CONN_FREE;
		*socket_ctx = NULL;
	}
	pthread_mutex_unlock(&s->conn_mu);
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256], q[300];
	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = 0;
	log_debug("microhttpd", "detail=%s", log_quote(q, sizeof q, msg));
}

int http_server_start(struct http_server *s, struct err *e)
{
	struct sockaddr_in sa4;
	struct sockaddr_in6 sa6;
	const struct sockaddr *sa;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *di;
	int rc;

	if (s->d)
		return err_set(e, ERR_STATE, "http: already started");
	memset(&sa4, 0, sizeof sa4);
	memset(&sa6, 0, sizeof sa6);
	if (inet_pton(AF_INET, s->cfg.bind_addr, &sa4.sin_addr) == 1) {
		sa4.sin_family = AF_INET;
		sa4.sin_port = htons(s->cfg.port);
		sa = (const struct sockaddr *)&sa4;
	} else if (inet_pton(AF_INET6, s->cfg.bind_addr, &sa6.sin6_addr) == 1) {
		sa6.sin6_family = AF_INET6;
		sa6.sin6_port = htons(s->cfg.port);
		sa = (const struct sockaddr *)&sa6;
		flags |= MHD_USE_IPv6;
	} else {
		return err_set(e, ERR_INVALID, "http: bind address \"%s\" is not an IP literal",
			       s->cfg.bind_addr);
	}
	pthread_mutex_lock(&s->sse_mu);
	s->sse_shutdown = false;
	pthread_mutex_unlock(&s->sse_mu);
	if (!s->cfg.tls_cert_pem != !s->cfg.tls_key_pem)
		return err_set(e, ERR_INVALID, "http: TLS needs both a certificate and its key");
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)s->cfg.tls_cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)s->cfg.tls_key_pem },
		{ MHD_OPTION_END, 0, NULL },
	};
	if (s->cfg.tls_cert_pem) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
			return err_set(e, ERR_STATE, "http: this libmicrohttpd has no TLS");
		flags |= MHD_USE_TLS;
	} else {
		tls[0].option = MHD_OPTION_END;
	}
	if ((rc = sse_pump_start(s)))
		return err_set(e, rc, "http: cannot start the event-stream thread");
	s->d = MHD_start_daemon(flags, s->cfg.port, NULL, NULL, on_request, s,
				MHD_OPTION_ARRAY, tls,
				MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads,
				MHD_OPTION_CONNECTION_LIMIT, s->cfg.conn_max,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.per_ip_conn_max,
				MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.conn_timeout_s,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->cfg.conn_memory_max,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
				MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
				MHD_OPTION_END);
	if (!s->d) {
		sse_shutdown(s);
		return err_set(e, ERR_NET, "http: cannot listen on %s port %u%s", s->cfg.bind_addr,
			       (unsigned)s->cfg.port, s->cfg.tls_cert_pem ? " (or the TLS certificate/key is bad)" : "");
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : s->cfg.port;
	atomic_store(&s->reaper_stop, false);
	if (pthread_create(&s->reaper, NULL, reaper_main, s) == 0)
		s->reaper_running = true;
	else
		log_warn("http: no slow-client reaper thread", "err=%s", "pthread_create");
	log_info("http listening", "addr=%s port=%u", s->cfg.bind_addr, (unsigned)s->port);
	return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

struct metrics *http_server_metrics(struct http_server *s)
{
	return s->m;
}

void http_server_stop(struct http_server *s)
{
	if (!s || !s->d)
		return;
	if (s->reaper_running) {
		atomic_store(&s->reaper_stop, true);
		pthread_join(s->reaper, NULL);
		s->reaper_running = false;
	}
	sse_shutdown(s);
	MHD_stop_daemon(s->d);
	s->d = NULL;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_stop(s);
	ratelimit_free(s->rl);
	metrics_free(s->m);
	pthread_cond_destroy(&s->sse_cv);
	pthread_mutex_destroy(&s->sse_mu);
	pthread_mutex_destroy(&s->conn_mu);
	free(s->slots);
	free(s->routes);
	free(s);
}
