/*
 * http.h — a small HTTP/JSON server layer over libmicrohttpd.
 *
 * One `http_server` owns an MHD daemon (internal epoll threads, a thread
 * pool of cfg.threads), a route table, a token-bucket rate limiter per
 * client address, a Prometheus registry and the Server-Sent Events pump.
 *
 * Requests: routes are "METHOD /path/{param}/..." patterns registered
 * before http_server_start. A request is matched on its path segments
 * ({name} matches one non-empty segment); a path that matches some route
 * with another method is 405 (with Allow), none is 404. Query strings are
 * parsed by MHD and capped (HTTP_QUERY_MAX pairs, HTTP_VALUE_MAX bytes).
 * Bodies are accumulated up to cfg.body_max (64 KiB default): a
 * Content-Length above the cap is refused with 413 before any body byte is
 * read; a chunked body that grows past it ends the connection. Headers are
 * capped by MHD's per-connection memory (cfg.conn_memory_max), connections
 * by cfg.conn_max / cfg.per_ip_conn_max, idle connections by
 * cfg.conn_timeout_s. A client over its rate gets 429 with Retry-After.
 *
 * Handlers run on MHD's pool threads, concurrently: `ctx` must be
 * thread-safe. A handler fills `resp` (http_json, http_error, http_text,
 * http_sse_start) and returns 0; a negative return is an internal error and
 * becomes a 500 {"error":{"code":"internal",...}} unless resp was already
 * given a status. Error bodies always have the shape
 *   {"error": {"code": "...", "message": "...", "field": "..."}}
 * ("field" only when one is named).
 *
 * Answers carry "Cache-Control: no-store" unless the handler set its own
 * Cache-Control header (conditional, cacheable reads do).
 *
 * Built in (cfg.builtin_routes): GET /healthz ({"ok":true}) and GET /metrics
 * (text exposition of the registry: http_requests_total{route,method,status},
 * http_request_duration_seconds{route} histogram, http_connections_open,
 * http_sse_streams, http_rate_limited_total).
 *
 * Server-Sent Events: a handler calls http_sse_start instead of writing a
 * body; events are then queued with http_sse_send (from any thread, bounded
 * per stream) and/or produced by a poll callback the pump thread calls every
 * poll_ms. A ": ping" comment is sent after heartbeat_ms of silence. The
 * stream ends when http_sse_close is called (after the queue drains), the
 * poll callback returns non-zero, the client goes away (noticed at the next
 * write), or the server stops. MHD connections of idle streams are suspended
 * (MHD_suspend_connection) so a stream never holds a pool thread.
 *
 * Protocol upgrades (WebSocket): a handler that accepts an upgrade calls
 * http_upgrade on resp (and adds its own headers, e.g. Sec-WebSocket-Accept);
 * the dispatcher answers 101 Switching Protocols through
 * MHD_create_response_for_upgrade and, once the response is out, hands the
 * socket to the handler's callback. The protocol itself (framing) is the
 * caller's: src/net only switches the connection. Upgraded connections must
 * be closed (http_upgraded_close) before http_server_stop.
 *
 * Lifecycle: http_server_new -> http_route... -> http_server_start ->
 * http_server_stop -> http_server_free. Stop closes every stream, joins
 * every thread; nothing is leaked.
 */
#ifndef FLOP_NET_HTTP_H
#define FLOP_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"

struct err;
struct metrics;
struct http_server;
struct http_sse;

#define HTTP_PATH_MAX 2048          /* request path bytes */
#define HTTP_SEGMENTS_MAX 32        /* path segments in a route or request */
#define HTTP_PARAMS_MAX 8           /* {param}s in one route */
#define HTTP_QUERY_MAX 32           /* query pairs */
#define HTTP_VALUE_MAX 1024         /* one query value or path param, bytes */
#define HTTP_ROUTES_MAX 128
#define HTTP_RESP_HEADERS_MAX 8
#define HTTP_RESP_MAX ((size_t)16 << 20)   /* response body cap */
#define HTTP_BODY_MAX_DEFAULT ((size_t)64 << 10)
#define HTTP_ADDR_MAX 64            /* client address text */
#define HTTP_SSE_EVENT_MAX ((size_t)16 << 10)  /* one event's data */
#define HTTP_CORS_MAX 4             /* origins admitted cross-origin (http_config.cors_origins) */
#define HTTP_ORIGIN_MAX 255         /* one origin, "scheme://host[:port]" */

struct http_config {
	const char *bind_addr;     /* IPv4/IPv6 literal; NULL: "127.0.0.1" */
	uint16_t port;             /* 0: any free port (see http_server_port) */
	unsigned threads;          /* MHD pool threads; 0: 4 */
	size_t body_max;           /* request body cap; 0: HTTP_BODY_MAX_DEFAULT */
	size_t conn_memory_max;    /* per-connection memory incl. headers; 0: 32 KiB */
	unsigned conn_max;         /* total connections; 0: 1024 */
	unsigned per_ip_conn_max;  /* per client address; 0: 64 */
	unsigned conn_timeout_s;   /* idle timeout; 0: 30 */
	unsigned head_timeout_ms;  /* whole request head (line + headers) must arrive within; 0: 10000 */
	unsigned body_timeout_ms;  /* whole body must arrive within, after the head; 0: 30000 */
	double rate_per_s;         /* requests per second per address; 0: 20 */
	double rate_burst;         /* bucket size; 0: 2 * rate (at least 10) */
	size_t rate_slots;         /* addresses tracked; 0: 4096 */
	bool rate_disabled;        /* true: no rate limiting */
	unsigned sse_max;          /* concurrent SSE streams; 0: 256 */
	bool no_builtin_routes;    /* true: no /healthz and /metrics */
	/*
	 * Origins whose pages may call these routes from another origin (CORS, Fetch standard): NULL-terminated,
	 * at most HTTP_CORS_MAX, copied. A request whose Origin is one of them gets Access-Control-Allow-Origin
	 * (and Vary: Origin); a preflight (OPTIONS with Access-Control-Request-Method) of a method a route of
	 * that path has is answered 204 with the allowed methods and the Content-Type request header. Other
	 * origins get no CORS headers at all, so a browser keeps their pages from reading the answers.
	 */
	const char *const *cors_origins;
	/*
	 * TLS (HTTPS, and WSS for upgrades): the certificate chain and its private key, PEM text (not file
	 * names), both or neither; NULL: plain HTTP. The text must outlive the server.
	 */
	const char *tls_cert_pem;
	const char *tls_key_pem;
};

struct http_kv {
	const char *key;   /* NUL-terminated; valid during the request */
	const char *value;
};

/* A request as a handler sees it; everything is valid until it returns. */
struct http_req {
	const char *method;                 /* "GET", "POST", ... */
	const char *path;                   /* decoded path, no query */
	const char *route;                  /* matched pattern, e.g. "/rentals/{id}" */
	struct http_kv params[HTTP_PARAMS_MAX]; /* path parameters, by name */
	size_t nparams;
	struct http_kv query[HTTP_QUERY_MAX];   /* query pairs in arrival order */
	size_t nquery;
	const uint8_t *body;                /* NUL-terminated; NULL when empty */
	size_t body_len;
	char client_addr[HTTP_ADDR_MAX];    /* "127.0.0.1" / "::1" */
	void *conn;                         /* internal per-request state */
	void *stream;                       /* a streamed route's state (http_route_streamed), or NULL */
	void (*stream_free)(void *stream);  /* called when the request ends, whatever its outcome */
};

struct http_header {
	char name[64];
	char value[256];
};

/* A response under construction; the dispatcher owns and sends it. */
struct http_resp {
	int status;                                   /* 0 until set */
	struct buf body;                              /* capped at HTTP_RESP_MAX */
	char content_type[64];                        /* "" until set */
	struct http_header headers[HTTP_RESP_HEADERS_MAX];
	size_t nheaders;
	struct http_sse *sse;                         /* set by http_sse_start */
	struct http_upgrade_req *upgrade;             /* set by http_upgrade */
	const void *lent;                             /* a body lent by http_lend (instead of `body`) */
	size_t lent_len;
	void (*lent_done)(void *cls);                 /* called once the layer is done with it */
	void *lent_cls;
	int fd;                                       /* with has_fd: a file sent as the body (http_file) */
	bool has_fd;
	uint64_t fd_size;
};

/* Handler: fill resp, return 0; negative ERR_* means internal error (500). */
typedef int (*http_handler)(struct http_req *req, struct http_resp *resp, void *ctx);

/*
 * A streamed request body (http_route_streamed): called once with data NULL and n 0 as soon as the
 * request head is in, before any body byte is read (check the request there; a non-zero return answers
 * with resp at once and nothing of the body is read), then with each piece of the body as it arrives
 * (resp NULL; a non-zero return cuts the connection: the client sees the transfer fail). State goes in
 * req->stream (freed with req->stream_free when the request ends). Then the route's handler answers.
 */
typedef int (*http_body_fn)(struct http_req *req, struct http_resp *resp, const uint8_t *data, size_t n,
			    void *ctx);

/* Creates a server (not yet listening). Copies cfg (NULL: defaults). */
int http_server_new(struct http_server **out, const struct http_config *cfg, struct err *e);

/*
 * Adds a route: method ("GET", ...) and a pattern starting with '/', with
 * {name} segments and, last, at most one {name...} that matches the rest of the path (one segment or
 * more; its value keeps the slashes: "/jupyter/{rental}/{rest...}" gives rest = "api/kernels/k1"). Only before start. ERR_INVALID for a bad pattern,
 * ERR_CONFLICT for a duplicate, ERR_TOO_BIG past HTTP_ROUTES_MAX.
 */
/*
 * A route whose body is streamed to `body` instead of collected: up to body_max bytes (a larger
 * Content-Length is 413 before the body; a chunked body past it is cut), with no whole-body deadline but
 * one for progress (the connection is cut when no body byte arrives for body_timeout_ms). For uploads.
 */
int http_route_streamed(struct http_server *s, const char *method, const char *pattern, http_handler fn,
			http_body_fn body, uint64_t body_max, void *ctx, struct err *e);
/* Answers with the open file fd (size bytes from its start) as the body; takes fd (closed when sent). */
int http_file(struct http_resp *resp, int status, const char *content_type, int fd, uint64_t size);
int http_route(struct http_server *s, const char *method, const char *pattern, http_handler fn,
	       void *ctx, struct err *e);

/*
 * Exempts the routes of `pattern` (every method) from the per-address rate limit: for routes whose own
 * check is cheap and whose clients legitimately burst (a notebook page loading its scripts behind a
 * cookie). Only before start. ERR_NOT_FOUND when no route has that pattern.
 */
int http_route_unlimited(struct http_server *s, const char *pattern, struct err *e);

/* Binds and starts the threads. ERR_NET when MHD cannot start. */
int http_server_start(struct http_server *s, struct err *e);

/* The bound port (after start), e.g. when cfg.port was 0. */
uint16_t http_server_port(const struct http_server *s);

/* The server's registry, for application metrics. */
struct metrics *http_server_metrics(struct http_server *s);

/* Ends every SSE stream, stops MHD, joins all threads. Idempotent. */
void http_server_stop(struct http_server *s);

/* Stops (if needed) and frees. NULL allowed. */
void http_server_free(struct http_server *s);

/*
 * The one route matcher (the server's handlers and its unit tests use it too): true when `path` matches
 * `pattern` segment by segment, a "{name}" segment matching any non-empty one. Writes up to max_params
 * (name, value) pairs (params may be NULL) and their count; they point into `scratch`, which needs
 * strlen(path) + strlen(pattern) + 2 bytes. Pure: no allocation, no I/O.
 */
bool http_path_match(const char *pattern, const char *path, struct http_kv *params, size_t max_params,
		     size_t *nparams, char *scratch, size_t scratch_cap);

/* Path parameter / first query value / request header by name; NULL if absent. */
const char *http_param(const struct http_req *r, const char *name);
const char *http_query(const struct http_req *r, const char *name);
const char *http_header(const struct http_req *r, const char *name);

/*
 * The token of an "Authorization: Bearer <token>" header (scheme matched
 * case-insensitively), or NULL when absent or malformed.
 */
const char *http_bearer(const struct http_req *r);

/*
 * Parses the body as JSON (json_parse caps apply). On failure writes a 400
 * invalid_json error (field "body") into resp and returns the negative code:
 * the handler then just returns 0.
 */
int http_json_body(json_t **out, const struct http_req *r, struct http_resp *resp);

/* Sets status and a JSON body (steals the reference to v). */
int http_json(struct http_resp *resp, int status, json_t *v);

/*
 * Sets status and a body the caller lends instead of copying (a rendered view): the layer sends those
 * len bytes and calls done(cls) exactly once when it no longer needs them (after the send, or when the
 * answer is replaced or dropped). The bytes must not change until then.
 */
void http_lend(struct http_resp *resp, int status, const char *content_type, const void *body, size_t len,
	       void (*done)(void *cls), void *cls);

/* Sets status and a text body with the given content type. */
int http_text(struct http_resp *resp, int status, const char *content_type, const char *text,
	      size_t len);

/* The API's error object, {"error":{"code","message","field"}} (field left out when NULL or ""); NULL: no memory. */
json_t *http_error_body(const char *code, const char *field, const char *msg);
/*
 * Sets status and the error body {"error":{"code":code,"message":...,
 * "field":field}} (field omitted when NULL). Returns 0 (so a handler can
 * `return http_error(...)`), or ERR_NOMEM.
 */
int http_error(struct http_resp *resp, int status, const char *code, const char *field,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Adds a response header (copied; capped by struct sizes). ERR_TOO_BIG/ERR_INVALID. */
int http_resp_header(struct http_resp *resp, const char *name, const char *value);

/* ---- protocol upgrades ---- */

struct http_upgraded; /* an upgraded connection (owns the socket) */

/*
 * Called on a server thread once the 101 response was sent; must not block
 * (start a thread for the protocol). `fd` is the connection's socket: read,
 * write, poll, shutdown it, never close it. `extra` (extra_len bytes, valid
 * only during the call) is what the client sent after the request and the
 * server already read: treat it as read from fd. The callee owns `h` and
 * must call http_upgraded_close(h) exactly once, from any thread.
 */
typedef void (*http_upgrade_fn)(struct http_upgraded *h, int fd, const uint8_t *extra,
				size_t extra_len, void *ctx);

/*
 * Makes resp a "101 Switching Protocols" with "Upgrade: <protocol>" (MHD
 * adds "Connection: Upgrade"); headers added with http_resp_header go out
 * too. After a 0 return exactly one of these happens, once: fn(ctx) when
 * the switch is done, or ctx_free(ctx) (when not NULL) when it never will
 * be (the handler failed afterwards, the client went away, the server
 * stops). ERR_INVALID for a bad protocol token, ERR_NOMEM; on failure
 * neither is called.
 */
int http_upgrade(struct http_resp *resp, const char *protocol, http_upgrade_fn fn, void *ctx,
		 void (*ctx_free)(void *ctx));

/* Closes an upgraded connection's socket and frees h. NULL allowed. */
void http_upgraded_close(struct http_upgraded *h);

/* ---- Server-Sent Events ---- */

struct http_sse_opts {
	unsigned poll_ms;       /* call poll every poll_ms; 0: never */
	unsigned heartbeat_ms;  /* ": ping" after this much silence; 0: 15000 */
	size_t queue_max;       /* bytes queued per stream; 0: 64 KiB */
	/* Called on the pump thread; may http_sse_send. Non-zero return ends the stream. */
	int (*poll)(struct http_sse *s, void *user);
	void (*user_free)(void *user); /* called once when the stream is gone */
	void *user;
};

/*
 * Turns resp into an event stream (status 200, text/event-stream). When
 * ref_out is given, *ref_out holds a reference for http_sse_send from other
 * threads; drop it with http_sse_release. ERR_TOO_BIG past cfg.sse_max,
 * ERR_NOMEM. On failure, user_free is not called.
 */
int http_sse_start(struct http_resp *resp, const struct http_req *r,
		   const struct http_sse_opts *o, struct http_sse **ref_out, struct err *e);

/*
 * Queues one event: optional `event` and `id` (no CR/LF), `data` split into
 * data: lines at LF (no CR). Thread-safe. ERR_STATE when the stream is
 * closed or gone, ERR_TOO_BIG when the queue or event cap is exceeded.
 */
int http_sse_send(struct http_sse *s, const char *event, const char *id, const char *data,
		  struct err *e);

/* Ends the stream once the queued events are sent. Thread-safe. */
void http_sse_close(struct http_sse *s);

/* True once the client went away, the stream was closed, or the server stops. */
bool http_sse_done(struct http_sse *s);

/* Drops a reference taken with ref_out. NULL allowed. */
void http_sse_release(struct http_sse *s);

#endif
