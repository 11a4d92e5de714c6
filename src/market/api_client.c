/*
 * api_client.c — HTTP/JSON client of the marketplace server and SIWE sign-in (see api_client.h).
 * Specs: EIP-4361 (message format), EIP-191 (personal_sign), docs/api.md (routes, error shape).
 */
#include "market/api_client.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "eth/eip191.h"
#include "market/siwe.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API_CONNECT_TIMEOUT_MS 5000L
#define API_SIWE_MAX 2048 /* the sign-in message */
#define API_TIMEOUT_MS 30000L

int api_client_init(struct api_client *c, const char *url, struct err *e)
{
	size_t n;

	if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return err_set(e, ERR_INVALID, "server_url: '%.64s' must start with http:// or https://",
			       url ? url : "");
	n = strlen(url);
	if (n > API_URL_MAX)
		return err_set(e, ERR_TOO_BIG, "server_url: longer than %d bytes", API_URL_MAX);
	memset(c, 0, sizeof *c);
	memcpy(c->base, url, n + 1);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	if (!(c->curl = curl_easy_init()))
		return err_set(e, ERR_NOMEM, "curl_easy_init failed");
	return 0;
}

void api_client_release(struct api_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
	sodium_memzero(c->token, sizeof c->token);
}

int api_escape(char *out, size_t cap, const char *in, struct err *e)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in; in++) {
		unsigned char ch = (unsigned char)*in;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			     ch == '-' || ch == '_' || ch == '.' || ch == '~';
		if (o + (plain ? 1 : 3) >= cap)
			return err_set(e, ERR_TOO_BIG, "parameter longer than %zu bytes", cap / 3);
		if (plain) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hexd[ch >> 4];
			out[o++] = hexd[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	return buf_append(b, p, size * n) ? 0 : size * n;
}

/* The server's error object as a message: "server: <code> (field F, byte N): <message>". */
static int answer_error(struct api_client *c, const struct buf *body, const char *path, struct err *e)
{
	json_t *j = NULL;
	const char *code = NULL, *msg = NULL, *field = NULL;
	int rc;

	switch (c->status) {
	case 400: case 413: case 422: rc = ERR_INVALID; break;
	case 401: case 403: rc = ERR_AUTH; break;
	case 404: rc = ERR_NOT_FOUND; break;
	case 409: rc = ERR_CONFLICT; break;
	default: rc = ERR_NET; break;
	}
	if (body->len && json_parse(&j, (const char *)body->data, body->len, API_RESPONSE_MAX, NULL) == 0) {
		const json_t *eo = json_object_get(j, "error");
		json_t *off = eo ? json_object_get(eo, "offset") : NULL;
		code = json_string_value(json_object_get(eo, "code"));
		msg = json_string_value(json_object_get(eo, "message"));
		field = json_string_value(json_object_get(eo, "field"));
		if (off && json_is_integer(off)) {
			err_set(e, rc, "server: %.40s at byte %" JSON_INTEGER_FORMAT "%s%.40s: %.150s",
				code ? code : "error", json_integer_value(off), field ? " of " : "",
				field ? field : "", msg ? msg : "");
			json_decref(j);
			return rc;
		}
	}
	err_set(e, rc, "server: %.40s%s%.40s: %.150s (HTTP %ld on %.60s)", code ? code : "error",
		field ? " in " : "", field ? field : "", msg ? msg : "no details", c->status, path);
	json_decref(j);
	return rc;
}

int api_request(struct api_client *c, json_t **out, struct buf *out_text, const char *method, const char *path,
	       const char *body, struct err *e)
{
	char url[API_URL_MAX + 2048], auth[API_TOKEN_MAX + 32];
	struct curl_slist *h = NULL;
	struct buf resp;
	CURLcode cc;
	int rc = 0;

	if (strlen(path) > 2000)
		return err_set(e, ERR_TOO_BIG, "request path longer than 2000 bytes");
	snprintf(url, sizeof url, "%s%s", c->base, path);
	buf_init(&resp, API_RESPONSE_MAX);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	/* A marketplace or agent under a private CA (self-hosted, tests): FLOPMARKET_CA_FILE is the bundle used. */
	const char *ca = getenv("FLOPMARKET_CA_FILE");
	if (ca && *ca)
		curl_easy_setopt(c->curl, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	{
		long t = c->timeout_ms > 0 ? c->timeout_ms : API_TIMEOUT_MS;
		curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, t < API_CONNECT_TIMEOUT_MS ? t : API_CONNECT_TIMEOUT_MS);
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, t);
	}
	curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)API_RESPONSE_MAX);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	h = curl_slist_append(h, "Accept: application/json");
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	if (c->token[0]) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
		h = curl_slist_append(h, auth);
		sodium_memzero(auth, sizeof auth);
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
	cc = curl_easy_perform(c->curl);
	curl_slist_free_all(h);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	if (cc != CURLE_OK) {
		rc = err_set(e, cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_NET,
			     "cannot reach the server at %s: %s", c->base, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status < 200 || c->status > 299) {
		rc = answer_error(c, &resp, path, e);
		goto out;
	}
	if (out_text) {
		rc = buf_append(out_text, resp.data ? resp.data : (const uint8_t *)"", resp.len);
		if (rc)
			err_set(e, rc, "server answer too large");
	} else if (out) {
		rc = json_parse(out, resp.data ? (const char *)resp.data : "", resp.len, API_RESPONSE_MAX, e);
		if (rc)
			err_wrap(e, "server answer to %.60s", path);
	}
out:
	buf_release(&resp);
	return rc;
}

/* ---- SIWE ---- */

/* GET /auth/nonce: the nonce, domain and URI to sign, after checking the server's chain is ours. */
static int nonce_fetch(struct api_client *c, json_t **n, const char **nonce, const char **domain,
		       const char **uri, uint64_t chain_id, struct err *e)
{
	uint64_t server_chain;
	int rc;

	if ((rc = api_request(c, n, NULL, "GET", "/auth/nonce", NULL, e)))
		return rc;
	if ((rc = json_get_str(nonce, *n, "nonce", 128, e)) || (rc = json_get_str(domain, *n, "domain", 255, e)) ||
	    (rc = json_get_str(uri, *n, "uri", 512, e)) || (rc = json_get_u64(&server_chain, *n, "chain_id", e)))
		return err_wrap(e, "server /auth/nonce"), rc;
	if (server_chain != chain_id)
		return err_set(e, ERR_STATE, "wrong network: the server at %s is for chain %" PRIu64
			       ", we are on chain %" PRIu64, c->base, server_chain, chain_id);
	return 0;
}

int api_sign_in(struct api_client *c, const struct api_sign_in *in, uint64_t *expires_at, struct err *e)
{
	json_t *n = NULL, *r = NULL, *req = NULL;
	const char *nonce, *domain, *uri, *tok;
	char *body = NULL, text[API_SIWE_MAX], sig_hex[2 * 65 + 3];
	uint8_t sig[65];
	uint64_t exp = 0;
	time_t now = time(NULL);
	int rc;

	c->token[0] = '\0';
	if ((rc = nonce_fetch(c, &n, &nonce, &domain, &uri, in->chain_id, e)))
		goto out;
	{
		/* EIP-4361 message (market/siwe.h: the one formatter) */
		struct siwe_sign_in m = { .domain = domain, .uri = uri, .nonce = nonce,
					  .statement = in->statement, .chain_id = in->chain_id,
					  .address = in->address, .issued_ms = (int64_t)now * 1000,
					  .expires_ms = in->ttl_s ? ((int64_t)now + in->ttl_s) * 1000 : 0 };
		if ((rc = siwe_sign_in_format(text, sizeof text, &m, e))) {
			err_wrap(e, "SIWE message");
			goto out;
		}
	}
	if ((rc = eip191_sign(sig, (const uint8_t *)text, strlen(text), in->seckey32, e)))
		goto out;
	hex_encode_0x(sig_hex, sig, sizeof sig);
	req = json_pack("{s:s, s:s}", "message", text, "signature", sig_hex);
	if (!req || !(body = json_dumps(req, JSON_COMPACT))) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = api_request(c, &r, NULL, "POST", "/auth/siwe", body, e))) {
		err_wrap(e, "sign-in");
		goto out;
	}
	if ((rc = json_get_str(&tok, r, "token", API_TOKEN_MAX, e))) {
		err_wrap(e, "server /auth/siwe");
		goto out;
	}
	json_get_u64(&exp, r, "expires_at", NULL);
	snprintf(c->token, sizeof c->token, "%s", tok);
	if (expires_at)
		*expires_at = exp ? exp : in->ttl_s ? (uint64_t)now + (uint64_t)in->ttl_s : 0;
out:
	sodium_memzero(sig, sizeof sig);
	free(body);
	json_decref(req);
	json_decref(n);
	if (r) {
		json_object_clear(r);
		json_decref(r);
	}
	return rc;
}
