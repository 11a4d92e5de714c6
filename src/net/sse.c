/*
 * sse.c — Server-Sent Events streams (see http.h) and the pump thread.
 *
 * A stream is a bounded byte queue of formatted events plus state, shared
 * by three parties: the MHD response (its content reader drains the queue,
 * and suspends the connection when the queue is empty), producers
 * (http_sse_send from any thread), and the pump thread (poll callbacks,
 * heartbeats, resuming connections that have something to send).
 *
 * Locking: srv->sse_mu (the stream list) is taken before s->mu, never the
 * other way round. A connection is resumed only while its stream is marked
 * suspended and attached, and MHD never closes a suspended connection on its
 * own (suspended connections do not time out), so s->conn is valid whenever
 * it is resumed. The response's free callback detaches the stream.
 *
 * Lifetime: references are held by the MHD response (dropped in its free
 * callback, or by sse_discard if never attached) and optionally by the
 * caller (ref_out). The last reference frees the stream and calls user_free.
 */
#include "core/clock.h"
#include "net/http_int.h"

#include "core/err.h"
#include "net/metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SSE_QUEUE_DEFAULT ((size_t)64 << 10)
#define SSE_HEARTBEAT_DEFAULT_MS 15000u
#define PUMP_TICK_MAX_MS 200u

struct http_sse {
	pthread_mutex_t mu;              /* guards the fields below it */
	int refs;                        /* references (see file comment) */
	struct buf q;                    /* formatted bytes not yet sent */
	bool closing;                    /* end once q drains */
	bool gone;                       /* client gone / server stopping: end now */
	bool suspended;                  /* we suspended the MHD connection */
	struct MHD_Connection *conn;     /* while attached and alive */
	uint64_t last_ms;                /* last byte queued or sent */
	uint64_t next_poll_ms;           /* when poll is due */

	/* set at start, then read-only (list links guarded by srv->sse_mu) */
	struct http_server *srv;         /* NULL once detached */
	struct http_sse_opts o;          /* defaults filled in */
	struct http_sse *next;           /* in srv->streams */
	bool attached;                   /* in srv->streams */
};

static void sse_unref(struct http_sse *s)
{
	int left;

	pthread_mutex_lock(&s->mu);
	left = --s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left > 0)
		return;
	if (s->o.user_free)
		s->o.user_free(s->o.user);
	buf_release(&s->q);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Releases the stream's slot in the server count; called once per stream. */
static void slot_release(struct http_server *srv)
{
	srv->nstreams--;
	metrics_gauge_set(srv->m, "http_sse_streams", "Open event streams", NULL,
			  (double)srv->nstreams);
}

int http_sse_start(struct http_resp *resp, const struct http_req *r,
		   const struct http_sse_opts *o, struct http_sse **ref_out, struct err *e)
{
	const struct conn_state *cs = r ? r->conn : NULL;
	struct http_server *srv = cs ? cs->srv : NULL;
	struct http_sse *s;

	if (!srv || !o || resp->sse)
		return err_set(e, ERR_INVALID, "sse: needs a live request and options");
	s = calloc(1, sizeof *s);
	if (!s)
		return err_set(e, ERR_NOMEM, "sse: out of memory");
	pthread_mutex_lock(&srv->sse_mu);
	if (srv->sse_shutdown || srv->nstreams >= srv->cfg.sse_max) {
		bool down = srv->sse_shutdown;
		pthread_mutex_unlock(&srv->sse_mu);
		free(s);
		return err_set(e, down ? ERR_STATE : ERR_TOO_BIG,
			       down ? "sse: server is stopping" : "sse: too many open streams");
	}
	srv->nstreams++;
	metrics_gauge_set(srv->m, "http_sse_streams", "Open event streams", NULL,
			  (double)srv->nstreams);
	pthread_mutex_unlock(&srv->sse_mu);
	pthread_mutex_init(&s->mu, NULL);
	s->o = *o;
	if (!s->o.heartbeat_ms)
		s->o.heartbeat_ms = SSE_HEARTBEAT_DEFAULT_MS;
	if (!s->o.queue_max)
		s->o.queue_max = SSE_QUEUE_DEFAULT;
	buf_init(&s->q, s->o.queue_max);
	s->srv = srv;
	s->refs = ref_out ? 2 : 1;
	s->last_ms = clock_mono_ms();
	s->next_poll_ms = s->last_ms;
	resp->sse = s;
	resp->status = 200;
	if (ref_out)
		*ref_out = s;
	return 0;
}

/* Resumes the connection if we suspended it; s->mu held. */
static void wake(struct http_sse *s)
{
	if (s->suspended && s->conn) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

int http_sse_send(struct http_sse *s, const char *event, const char *id, const char *data,
		  struct err *e)
{
	struct buf ev;
	int rc = 0;

	if (!s)
		return err_set(e, ERR_INVALID, "sse: NULL stream");
	if ((event && strpbrk(event, "\r\n")) || (id && strpbrk(id, "\r\n")) ||
	    (data && strchr(data, '\r')))
		return err_set(e, ERR_INVALID, "sse: CR/LF in event or id, or CR in data");
	buf_init(&ev, HTTP_SSE_EVENT_MAX + 1024);
	if (id)
		rc = buf_printf(&ev, "id: %s\n", id);
	if (!rc && event)
		rc = buf_printf(&ev, "event: %s\n", event);
	for (const char *p = data ? data : ""; !rc;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		rc = buf_append_str(&ev, "data: ");
		rc = rc ? rc : buf_append(&ev, p, n);
		rc = rc ? rc : buf_append_byte(&ev, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	rc = rc ? rc : buf_append_byte(&ev, '\n');
	if (rc) {
		buf_release(&ev);
		return err_set(e, rc, "sse: event over %zu bytes", (size_t)HTTP_SSE_EVENT_MAX);
	}
	pthread_mutex_lock(&s->mu);
	if (s->closing || s->gone) {
		rc = err_set(e, ERR_STATE, "sse: stream has ended");
	} else if ((rc = buf_append(&s->q, ev.data, ev.len))) {
		rc = err_set(e, rc, "sse: client is too slow (queue over %zu bytes)", s->o.queue_max);
	} else {
		s->last_ms = clock_mono_ms();
		wake(s);
	}
	pthread_mutex_unlock(&s->mu);
	buf_release(&ev);
	return rc;
}

void http_sse_close(struct http_sse *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->closing = true;
	wake(s);
	pthread_mutex_unlock(&s->mu);
}

bool http_sse_done(struct http_sse *s)
{
	bool done;
	pthread_mutex_lock(&s->mu);
	done = s->closing || s->gone;
	pthread_mutex_unlock(&s->mu);
	return done;
}

void http_sse_release(struct http_sse *s)
{
	if (s)
		sse_unref(s);
}

/* MHD content reader: drain the queue, or suspend until there is more. */
static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct http_sse *s = cls;
	ssize_t ret;
	(void)pos;

	pthread_mutex_lock(&s->mu);
	if (s->q.len) {
		size_t n = s->q.len < max ? s->q.len : max;
		memcpy(out, s->q.data, n);
		memmove(s->q.data, s->q.data + n, s->q.len - n);
		s->q.len -= n;
		s->q.data[s->q.len] = 0;
		s->last_ms = clock_mono_ms();
		ret = (ssize_t)n;
	} else if (s->closing || s->gone || !s->conn) {
		ret = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		ret = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return ret;
}

/* MHD response free callback: the connection is done with the stream. */
static void sse_detach(void *cls)
{
	struct http_sse *s = cls;
	struct http_server *srv = s->srv;

	pthread_mutex_lock(&srv->sse_mu);
	for (struct http_sse **pp = &srv->streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->attached = false;
	slot_release(srv);
	pthread_mutex_lock(&s->mu);
	s->conn = NULL;
	s->gone = true;
	s->suspended = false;
	s->srv = NULL;
	pthread_mutex_unlock(&s->mu);
	pthread_cond_broadcast(&srv->sse_cv);
	pthread_mutex_unlock(&srv->sse_mu);
	sse_unref(s);
}

int sse_attach(struct http_server *srv, struct MHD_Connection *mc, struct http_sse *s,
	       struct MHD_Response **out)
{
	struct MHD_Response *mr;

	pthread_mutex_lock(&srv->sse_mu);
	if (srv->sse_shutdown) {
		pthread_mutex_unlock(&srv->sse_mu);
		sse_discard(s);
		return ERR_STATE;
	}
	mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_detach);
	if (!mr) {
		pthread_mutex_unlock(&srv->sse_mu);
		sse_discard(s);
		return ERR_NOMEM;
	}
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(mr, "X-Accel-Buffering", "no");
	pthread_mutex_lock(&s->mu);
	s->conn = mc;
	pthread_mutex_unlock(&s->mu);
	s->attached = true;
	s->next = srv->streams;
	srv->streams = s;
	pthread_cond_broadcast(&srv->sse_cv);
	pthread_mutex_unlock(&srv->sse_mu);
	*out = mr;
	return 0;
}

void sse_discard(struct http_sse *s)
{
	struct http_server *srv = s->srv;
	if (srv) {
		pthread_mutex_lock(&srv->sse_mu);
		slot_release(srv);
		pthread_mutex_unlock(&srv->sse_mu);
	}
	pthread_mutex_lock(&s->mu);
	s->gone = true;
	s->srv = NULL;
	pthread_mutex_unlock(&s->mu);
	sse_unref(s);
}

/* One pass over the streams; returns ms until the next deadline. sse_mu held. */
static uint64_t pump_once(struct http_server *srv)
{
	uint64_t now = clock_mono_ms(), wait = PUMP_TICK_MAX_MS;

	for (struct http_sse *s = srv->streams; s; s = s->next) {
		bool live;
		pthread_mutex_lock(&s->mu);
		live = !s->gone && !s->closing && s->conn;
		pthread_mutex_unlock(&s->mu);
		if (live && s->o.poll && s->o.poll_ms) {
			if (now >= s->next_poll_ms) {
				s->next_poll_ms = now + s->o.poll_ms;
				if (s->o.poll(s, s->o.user) != 0)
					http_sse_close(s);
			}
			if (s->next_poll_ms - now < wait)
				wait = s->next_poll_ms - now;
		}
		pthread_mutex_lock(&s->mu);
		if (live && !s->closing && s->q.len == 0) {
			uint64_t due = s->last_ms + s->o.heartbeat_ms;
			if (now >= due) {
				if (buf_append_str(&s->q, ": ping\n\n") == 0)
					s->last_ms = now;
			} else if (due - now < wait) {
				wait = due - now;
			}
		}
		if (s->q.len || s->closing || s->gone)
			wake(s);
		pthread_mutex_unlock(&s->mu);
	}
	return wait ? wait : 1;
}

static void *pump_main(void *arg)
{
	struct http_server *srv = arg;

	pthread_mutex_lock(&srv->sse_mu);
	while (!srv->sse_shutdown) {
		uint64_t wait = pump_once(srv);
		struct timespec ts;
		ts = clock_deadline(CLOCK_MONOTONIC, wait);
		pthread_cond_timedwait(&srv->sse_cv, &srv->sse_mu, &ts);
	}
	pthread_mutex_unlock(&srv->sse_mu);
	return NULL;
}

int sse_pump_start(struct http_server *srv)
{
	if (pthread_create(&srv->pump, NULL, pump_main, srv) != 0)
		return ERR_IO;
	srv->pump_running = true;
	return 0;
}

void sse_shutdown(struct http_server *srv)
{
	uint64_t deadline;

	pthread_mutex_lock(&srv->sse_mu);
	srv->sse_shutdown = true;
	pthread_cond_broadcast(&srv->sse_cv);
	pthread_mutex_unlock(&srv->sse_mu);
	if (srv->pump_running) {
		pthread_join(srv->pump, NULL);
		srv->pump_running = false;
	}
	/* end every stream and let MHD finish them (bounded wait) */
	deadline = clock_mono_ms() + 2000;
	pthread_mutex_lock(&srv->sse_mu);
	for (struct http_sse *s = srv->streams; s; s = s->next) {
		pthread_mutex_lock(&s->mu);
		s->gone = true;
		wake(s);
		pthread_mutex_unlock(&s->mu);
	}
	while (srv->streams && clock_mono_ms() < deadline) {
		struct timespec ts = clock_deadline(CLOCK_MONOTONIC, 20);
		pthread_cond_timedwait(&srv->sse_cv, &srv->sse_mu, &ts);
	}
	pthread_mutex_unlock(&srv->sse_mu);
}
