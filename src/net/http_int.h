/*
 * http_int.h — internals shared by http.c (server, routing, requests) and
 * sse.c (event streams and their pump thread). Not a public interface.
 */
#ifndef FLOP_NET_HTTP_INT_H
#define FLOP_NET_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "net/http.h"

struct ratelimit;

/* Route pattern segments: a literal, "{name}" (one segment), or a last "{name...}" (the rest of the path,
 * one segment or more, slashes kept). */
enum { SEG_LITERAL = 0, SEG_PARAM = 1, SEG_TAIL = 2 };

struct route {
	char method[16];                       /* "GET" */
	char pattern[HTTP_PATH_MAX + 1];       /* "/rentals/{id}" */
	char *segs[HTTP_SEGMENTS_MAX];         /* pointers into segbuf; param names without braces */
	unsigned char param[HTTP_SEGMENTS_MAX]; /* segment i: SEG_LITERAL, SEG_PARAM {name}, SEG_TAIL {name...} */
	size_t nsegs;
	char segbuf[HTTP_PATH_MAX + 1];        /* pattern split at '/' */
	http_handler fn;
	void *ctx;
	http_body_fn body;                     /* streamed body (http_route_streamed), or NULL */
	uint64_t body_max;                     /* its cap */
	bool unlimited;                        /* not counted by the per-address rate limit */
};

struct http_server {
	struct http_config cfg;          /* defaults filled in */
	struct MHD_Daemon *d;            /* NULL until started / after stop */
	uint16_t port;                   /* bound port */
	struct route *routes;            /* nroutes entries, HTTP_ROUTES_MAX room */
	size_t nroutes;
	struct ratelimit *rl;            /* NULL when disabled */
	struct metrics *m;               /* registry served at /metrics */
	char cors[HTTP_CORS_MAX][HTTP_ORIGIN_MAX + 1]; /* cfg.cors_origins, copied */
	size_t ncors;

	/* Slow-client deadlines (http.c): one slot per open connection, cut by the reaper thread. */
	pthread_mutex_t conn_mu;         /* guards slots */
	struct conn_slot *slots;         /* conn_max + HTTP_SLOTS_SPARE entries */
	size_t nslots;
	pthread_t reaper;
	bool reaper_running;
	atomic_bool reaper_stop;

	pthread_mutex_t sse_mu;          /* guards the fields below */
	pthread_cond_t sse_cv;           /* wakes the pump */
	struct http_sse *streams;        /* attached streams, linked by next */
	unsigned nstreams;               /* streams started and not yet gone */
	bool sse_shutdown;               /* no new streams; all are ending */
	bool pump_running;               /* pump thread created */
	pthread_t pump;
};

/* Where a connection is in its current request, for the head/body deadlines. */
enum conn_stage {
	CONN_FREE = 0,   /* slot unused */
	CONN_HEAD,       /* waiting for (the rest of) a request head: head deadline */
	CONN_BODY,       /* head in, body arriving: body deadline */
	CONN_SERVING,    /* the handler runs or the answer is being sent / streamed / upgraded */
	CONN_CUT,        /* a deadline passed; shut down, waiting for MHD to close it */
};
#define HTTP_SLOTS_SPARE 16

struct conn_slot {
	int fd;                  /* the connection's socket (owned by MHD) */
	enum conn_stage stage;
	uint64_t since_ms;       /* monotonic start of the stage */
};

/* Per-request state behind http_req.conn. */
struct conn_state {
	struct http_server *srv;
	struct MHD_Connection *mc;
	struct conn_slot *slot;  /* the connection's deadline slot (NULL when none was free) */
};

/* Monotonic clock in ms. */

/* sse.c: wrap a started stream in an MHD response bound to mc (adds to the list). */
int sse_attach(struct http_server *srv, struct MHD_Connection *mc, struct http_sse *s,
	       struct MHD_Response **out);
/* sse.c: drops the response's reference of a stream that was never attached. */
void sse_discard(struct http_sse *s);
/* sse.c: starts the pump thread. */
int sse_pump_start(struct http_server *srv);
/* sse.c: ends every stream, stops the pump, waits (bounded) for streams to finish. */
void sse_shutdown(struct http_server *srv);

#endif
