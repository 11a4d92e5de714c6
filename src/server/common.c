/*
 * common.c — what every part of the server shares: the clock, an interruptible sleep, the accepted-token
 * lookup, JSON answers and errors, the JSON body reader and session auth. It calls nothing else of the
 * server (server.c, the routes and the workers call it), so no two server files call each other.
 */
#include "server/server.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "net/http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int64_t server_now(void)
{
	return (int64_t)time(NULL);
}

bool server_sleep(struct server *s, unsigned ms)
{
	struct timespec ts;

	ts = clock_deadline(CLOCK_REALTIME, ms);
	pthread_mutex_lock(&s->wake_lock);
	while (!atomic_load(&s->stopping)) {
		if (pthread_cond_timedwait(&s->wake, &s->wake_lock, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&s->wake_lock);
	return atomic_load(&s->stopping);
}

const struct srv_token *server_token(const struct server *s, const struct eth_address *a)
{
	for (size_t i = 0; i < s->cfg.n_tokens; i++)
		if (address_equal(&s->cfg.tokens[i].address, a))
			return &s->cfg.tokens[i];
	return NULL;
}

int srv_json(struct srv_resp *rs, int status, json_t *json)
{
	json_decref(rs->json);
	rs->json = json;
	rs->status = json ? status : 500;
	return rs->status;
}

/* True when an Accept-Encoding value accepts gzip (a "gzip" or "x-gzip" coding whose q is not 0). */
static bool accepts_gzip(const char *ae)
{
	for (const char *p = ae; p && *p;) {
		size_t n;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ",; \t");
		if ((n == 4 && strncasecmp(p, "gzip", 4) == 0) || (n == 6 && strncasecmp(p, "x-gzip", 6) == 0)) {
			const char *q = p + n, *end = q + strcspn(q, ",");
			const char *qv = strstr(q, "q=");
			if (!qv || qv > end)
				return true;
			return strtod(qv + 2, NULL) > 0;
		}
		p += strcspn(p, ",");
	}
	return false;
}

int srv_view(struct server *s, const struct srv_req *rq, struct srv_resp *rs, int status, struct view *v)
{
	const struct view *gz;

	if (!v)
		return srv_error(rs, 500, "internal", NULL, "out of memory");
	view_etag_text(rs->etag, v->etag);
	if (s->cfg.cache_max_age_s)
		snprintf(rs->cache_control, sizeof rs->cache_control, "public, max-age=%u",
			 (unsigned)s->cfg.cache_max_age_s);
	else
		snprintf(rs->cache_control, sizeof rs->cache_control, "public, no-cache");
	rs->vary_encoding = v->len >= VIEW_GZIP_MIN;
	if (status == 200 && view_etag_matches(rq->if_none_match, v->etag)) {
		view_release(v);
		rs->status = 304;
		return 304;
	}
	if (rs->vary_encoding && accepts_gzip(rq->accept_encoding) && (gz = view_gzip(v))) {
		struct view *g = (struct view *)gz;
		view_retain(g);
		view_release(v);
		v = g;
		rs->gzip = true;
	}
	view_release(rs->view);
	rs->view = v;
	rs->status = status;
	return status;
}

int srv_error(struct srv_resp *rs, int status, const char *code, const char *field,
	      const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	free(rs->text);
	rs->text = NULL;
	srv_json(rs, status, http_error_body(code, field, msg)); /* the one shape of an API error */
	return status;
}

int srv_error_from(struct srv_resp *rs, int code, const char *field, const struct err *e)
{
	const char *msg = e && e->msg[0] ? e->msg : err_str(code);
	switch (code) {
	case ERR_INVALID: case ERR_RANGE: case ERR_CHECKSUM: case ERR_NONCANONICAL: case ERR_DEPTH:
		return srv_error(rs, 400, "invalid", field, "%s", msg);
	case ERR_TOO_BIG:
		return srv_error(rs, 413, "too_big", field, "%s", msg);
	case ERR_AUTH:
		return srv_error(rs, 401, "unauthorized", field, "%s", msg);
	case ERR_NOT_FOUND:
		return srv_error(rs, 404, "not_found", field, "%s", msg);
	case ERR_CONFLICT:
		return srv_error(rs, 409, "conflict", field, "%s", msg);
	case ERR_STATE:
		return srv_error(rs, 409, "state", field, "%s", msg);
	case ERR_UNSUPPORTED:
		return srv_error(rs, 501, "unsupported", field, "%s", msg);
	case ERR_NET: case ERR_RPC: case ERR_TIMEOUT:
		return srv_error(rs, 503, "unavailable", field, "%s", msg);
	default:
		log_error("internal error", "code=%s", err_name(code));
		return srv_error(rs, 500, "internal", field, "internal error");
	}
}

int srv_body_object(json_t **out, const struct srv_req *rq, struct srv_resp *rs)
{
	struct err e = { 0 };
	json_t *j = NULL;
	int rc;

	if (rq->body_len == 0)
		return srv_error(rs, 400, "invalid", "body", "a JSON object body is required");
	rc = json_parse(&j, rq->body, rq->body_len, SRV_BODY_MAX_DEFAULT * 16, &e);
	if (rc)
		return srv_error(rs, rc == ERR_TOO_BIG ? 413 : 400, rc == ERR_TOO_BIG ? "too_big" :
				 "invalid_json", "body", "malformed JSON: %s", e.msg);
	if (!json_is_object(j)) {
		json_decref(j);
		return srv_error(rs, 400, "invalid_json", "body", "the body must be a JSON object");
	}
	*out = j;
	return 0;
}

int srv_auth(char *addr_out, struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct store_session sess;
	struct err e = { 0 };
	int rc;

	if (!rq->bearer || !rq->bearer[0])
		return srv_error(rs, 401, "unauthorized", "authorization",
				 "sign in first: Authorization: Bearer <session token>");
	/* the store hashes the token and owns its length limits (one place: store.c token_hash) */
	rc = store_session_lookup(s->store, &sess, (const uint8_t *)rq->bearer, strlen(rq->bearer), server_now(),
				  &e);
	if (rc == ERR_NOT_FOUND || rc == ERR_INVALID || rc == ERR_TOO_BIG)
		return srv_error(rs, 401, "unauthorized", "authorization", "unknown session");
	if (rc == ERR_STATE)
		return srv_error(rs, 401, "session_expired", "authorization", "the session expired");
	if (rc)
		return srv_error_from(rs, rc, "authorization", &e);
	memcpy(addr_out, sess.address, STORE_ADDR_SIZE);
	return 0;
}
