/*
 * routes_auth.c — Sign-In With Ethereum (EIP-4361): GET /auth/nonce, POST /auth/siwe,
 * POST /auth/logout, GET /me.
 *
 * A nonce is server-issued, random (siwe_nonce_new), stored with an expiry and consumed atomically
 * by the first successful sign-in that presents it (store_nonce_consume), so a replayed message is
 * refused even when its signature is valid. The message is checked completely (siwe_verify: ABNF,
 * domain, URI origin, chain id, issued-at / expiration / not-before, EIP-191 signer) BEFORE the nonce
 * is consumed, so a bad attempt burns nothing. A session token is 32 random bytes (base64url); only
 * its SHA-256 reaches the store, and it expires at the earlier of session_ttl and the message's
 * Expiration Time. Tokens are never logged.
 */
#include "server/server.h"

#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "market/siwe.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

/* The SIWE domain and origin the server expects. */
static void expected_domain(struct server *s, char *domain, size_t dcap, char *origin, size_t ocap)
{
	if (s->cfg.siwe_domain[0])
		snprintf(domain, dcap, "%s", s->cfg.siwe_domain);
	else
		snprintf(domain, dcap, "%s:%u", s->cfg.listen_addr, (unsigned)s->bound_port);
	if (s->cfg.siwe_origin[0])
		snprintf(origin, ocap, "%s", s->cfg.siwe_origin);
	else
		snprintf(origin, ocap, "%s://%s", s->cfg.tls_cert_pem[0] ? "https" : "http", domain);
}

int route_auth_nonce(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char nonce[SRV_NONCE_LEN + 1], domain[SRV_DOMAIN_MAX], origin[SRV_DOMAIN_MAX + 8];
	int64_t now = server_now(), exp = now + s->cfg.nonce_ttl_s;
	(void)rq;

	/* nothing is stored until a sign-in succeeds with it (nonce.c) */
	if (srv_nonce_make(nonce, s->nonce_key, exp))
		return srv_error(rs, 500, "internal", NULL, "no nonce");
	expected_domain(s, domain, sizeof domain, origin, sizeof origin);
	return srv_json(rs, 200, json_pack("{s:s, s:I, s:s, s:s, s:I}", "nonce", nonce, "expires_at",
					   (json_int_t)exp, "domain", domain, "uri", origin, "chain_id",
					   (json_int_t)s->cfg.chain_id));
}

int route_auth_siwe(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char domain[SRV_DOMAIN_MAX], origin[SRV_DOMAIN_MAX + 8], addr[ADDRESS_STR_MAX];
	char token[SESSION_TOKEN_LEN + 1];
	uint8_t hash[32], sig[65];
	const char *msg, *sig_hex, *field = NULL;
	struct siwe_expect x;
	struct siwe_msg *m = NULL;
	struct err e = { 0 };
	json_t *body = NULL;
	int64_t now = server_now(), exp;
	int rc;

	if ((rc = srv_body_object(&body, rq, rs)))
		return rc;
	if ((rc = json_get_str(&msg, body, "message", SIWE_MSG_MAX, &e))) {
		srv_error_from(rs, rc == ERR_NOT_FOUND ? ERR_INVALID : rc, "message", &e);
		goto out;
	}
	if ((rc = json_get_str(&sig_hex, body, "signature", 2 + 2 * 65, &e)) ||
	    (rc = hex_decode_exact(sig, sizeof sig, sig_hex, &e))) {
		srv_error(rs, 400, "invalid", "signature", "signature: 65 bytes as 0x-hex expected");
		goto out;
	}
	m = calloc(1, sizeof *m);
	if (!m) {
		srv_error(rs, 500, "internal", NULL, "out of memory");
		goto out;
	}
	expected_domain(s, domain, sizeof domain, origin, sizeof origin);
	memset(&x, 0, sizeof x);
	x.domain = domain;
	x.origin = origin;
	x.chain_id = s->cfg.chain_id;
	x.now_ms = now * 1000;
	x.max_age_ms = (int64_t)s->cfg.nonce_ttl_s * 1000;
	rc = siwe_verify(m, msg, strlen(msg), sig, &x, &field, &e);
	if (rc) {
		if (rc == ERR_AUTH || rc == ERR_STATE)
			srv_error(rs, 401, "unauthorized", field ? field : "message", "%s", e.msg);
		else
			srv_error(rs, 400, "invalid", field ? field : "message", "%s", e.msg);
		goto out;
	}
	{
		int64_t nexp = 0;
		rc = srv_nonce_check(&nexp, m->nonce, s->nonce_key, now);
		if (rc == ERR_STATE) {
			srv_error(rs, 401, "nonce_expired", "nonce", "the nonce expired: get a new one");
			goto out;
		}
		if (rc) {
			srv_error(rs, 401, "unauthorized", "nonce", "unknown nonce: get one from GET /auth/nonce");
			goto out;
		}
		/* first use records it (until it expires): a second use conflicts */
		rc = store_nonce_issue(s->store, m->nonce, now, nexp, &e);
	}
	if (rc == ERR_CONFLICT) {
		srv_error(rs, 409, "nonce_used", "nonce", "this nonce was already used: get a new one");
		goto out;
	}
	if (rc == ERR_STATE) {
		srv_error(rs, 401, "nonce_expired", "nonce", "the nonce expired: get a new one");
		goto out;
	}
	if (rc == ERR_NOT_FOUND || rc == ERR_INVALID || rc == ERR_TOO_BIG) {
		srv_error(rs, 401, "unauthorized", "nonce", "unknown nonce: get one from GET /auth/nonce");
		goto out;
	}
	if (rc) {
		srv_error_from(rs, rc, "nonce", &e);
		goto out;
	}
	if (session_token_new(token, hash)) {
		srv_error(rs, 500, "internal", NULL, "no randomness");
		goto out;
	}
	exp = now + s->cfg.session_ttl_s;
	if (m->has_expiration && m->expiration_ms / 1000 < exp)
		exp = m->expiration_ms / 1000;
	address_to_lower(addr, &m->address);
	rc = store_session_create(s->store, (const uint8_t *)token, strlen(token), addr, now, exp, &e);
	if (rc) {
		sodium_memzero(token, sizeof token);
		srv_error_from(rs, rc, NULL, &e);
		goto out;
	}
	log_info("signed in", "address=%s", addr);
	srv_json(rs, 200, json_pack("{s:s, s:s, s:I}", "token", token, "address", addr, "expires_at",
				    (json_int_t)exp));
	sodium_memzero(token, sizeof token);
out:
	free(m);
	json_decref(body);
	return rs->status;
}

int route_auth_logout(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE];
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)))
		return rc;
	store_session_delete(s->store, (const uint8_t *)rq->bearer, strlen(rq->bearer), NULL);
	return srv_json(rs, 200, json_pack("{s:b}", "ok", 1));
}

int route_me(struct server *s, const struct srv_req *rq, struct srv_resp *rs)
{
	char addr[STORE_ADDR_SIZE];
	int rc;

	if ((rc = srv_auth(addr, s, rq, rs)))
		return rc;
	return srv_json(rs, 200, json_pack("{s:s}", "address", addr));
}
