/*
 * routes_relay.c — the gasless relayer's API (docs/api.md "Gasless"): GET /relay (who relays, quotes),
 * POST /relay/intents (queue a signed intent), GET /relay/intents/{id} (its state). All 404 with code
 * "relay_off" when this server does not relay. No session is needed: the renter's signature is the
 * authorisation, and per-renter limits apply (relayer.h).
 */
#include "server/server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/err.h"
#include "core/json.h"
#include "server/relayer.h"

static int relay_off(struct server *s, struct srv_resp *rs)
{
	if (s->relayer)
		return 0;
	return srv_error(rs, 404, "relay_off", NULL, "this server does not relay (serve --relayer_keystore)");
}

int route_relay_info(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct err e = { 0 };
	json_t *o = NULL;
	int rc;

	(void)rq;
	if ((rc = relay_off(s, rs)))
		return rc;
	if ((rc = relayer_info(s->relayer, &o, &e)))
		return srv_error_from(rs, rc, NULL, &e);
	return srv_json(rs, 200, o);
}

int route_relay_post(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	const char *code = "invalid", *field = NULL;
	struct err e = { 0 };
	json_t *body = NULL, *o = NULL;
	int rc, status = 400;

	if ((rc = relay_off(s, rs)) || (rc = srv_body_object(&body, rq, rs)))
		return rc;
	rc = relayer_accept(s->relayer, body, &o, &status, &code, &field, &e);
	json_decref(body);
	if (rc == ERR_INVALID)
		return srv_error(rs, status, code, field, "%s", e.msg);
	if (rc)
		return srv_error_from(rs, rc, field, &e);
	return srv_json(rs, status, o);
}

int route_relay_get(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	struct err e = { 0 };
	json_t *o = NULL;
	uint64_t id;
	int rc;

	if ((rc = relay_off(s, rs)))
		return rc;
	char *end = NULL;
	unsigned long long v = strtoull(rq->arg, &end, 10);
	if (!rq->arg[0] || !end || *end || v == 0 || rq->arg[0] == '0')
		return srv_error(rs, 400, "invalid", "id", "id: a positive decimal integer");
	id = v;
	if ((rc = relayer_view(s->relayer, id, &o, &e)))
		return srv_error_from(rs, rc, "id", &e);
	return srv_json(rs, 200, o);
}
