/*
 * server_client.c — HTTP/JSON client of the marketplace server and SIWE sign-in (see server_client.h).
 * Specs: EIP-4361 (message format), EIP-191 (personal_sign), docs/api.md (routes, error shape).
 */
#include "cli/server_client.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/json.h"
#include "eth/eip191.h"
#include "market/siwe.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SC_CONNECT_TIMEOUT_MS 5000L
#define SC_SIWE_MAX 2048 /* the sign-in message */
#define SC_TIMEOUT_MS 30000L

int sc_init(struct sc *c, const char *url, struct err *e)
{
	size_t n;

	if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
		return err_set(e, ERR_INVALID, "server_url: '%.64s' must start with http:// or https://",
			       url ? url : "");
	n = strlen(url);
	if (n > SC_URL_MAX)
		return err_set(e, ERR_TOO_BIG, "server_url: longer than %d bytes", SC_URL_MAX);
	memset(c, 0, sizeof *c);
	memcpy(c->base, url, n + 1);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	if (!(c->curl = curl_easy_init()))
		return err_set(e, ERR_NOMEM, "curl_easy_init failed");
	return 0;
}

void sc_release(struct sc *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
	sodium_memzero(c->token, sizeof c->token);
}

int sc_escape(char *out, size_t cap, const char *in, struct err *e)
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

static size_t sc_write_cb(char *p, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	return buf_append(b, p, size * n) ? 0 : size * n;
}

/* The server's error object as a message: "server: <code> (field F, byte N): <message>". */
static int sc_error(struct sc *c, const struct buf *body, const char *path, struct err *e)
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
	if (body->len && json_parse(&j, (const char *)body->data, body->len, SC_RESPONSE_MAX, NULL) == 0) {
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

int sc_request(struct sc *c, json_t **out, struct buf *out_text, const char *method, const char *path,
	       const char *body, struct err *e)
{
	char url[SC_URL_MAX + 2048], auth[SC_TOKEN_MAX + 32];
	struct curl_slist *h = NULL;
	struct buf resp;
	CURLcode cc;
	int rc = 0;

	if (strlen(path) > 2000)
		return err_set(e, ERR_TOO_BIG, "request path longer than 2000 bytes");
	snprintf(url, sizeof url, "%s%s", c->base, path);
	buf_init(&resp, SC_RESPONSE_MAX);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	{
		long t = c->timeout_ms > 0 ? c->timeout_ms : SC_TIMEOUT_MS;
		curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, t < SC_CONNECT_TIMEOUT_MS ? t : SC_CONNECT_TIMEOUT_MS);
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, t);
	}
	curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)SC_RESPONSE_MAX);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, sc_write_cb);
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
		rc = sc_error(c, &resp, path, e);
		goto out;
	}
	if (out_text) {
		rc = buf_append(out_text, resp.data ? resp.data : (const uint8_t *)"", resp.len);
		if (rc)
			err_set(e, rc, "server answer too large");
	} else if (out) {
		rc = json_parse(out, resp.data ? (const char *)resp.data : "", resp.len, SC_RESPONSE_MAX, e);
		if (rc)
			err_wrap(e, "server answer to %.60s", path);
	}
out:
	buf_release(&resp);
	return rc;
}

/* ---- SIWE ---- */

static int token_path(char *out, size_t cap, const struct cli_session *s, bool mkdirs)
{
	char a[ADDRESS_STR_MAX];
	int n;
	address_to_lower(a, &s->address);
	if (mkdirs) {
		n = snprintf(out, cap, "%.900s/sessions", s->data_dir);
		file_mkdir_p(out, 0700, 0700, NULL);
	}
	n = snprintf(out, cap, "%.900s/sessions/%s.token", s->data_dir, a);
	return n < 0 || (size_t)n >= cap ? ERR_TOO_BIG : 0;
}

/* The cached token: "<token> <expires_at> <base url>" when still valid for this server. */
static bool token_cached(struct sc *c, const struct cli_session *s)
{
	char path[1024], line[SC_TOKEN_MAX + SC_URL_MAX + 64], tok[SC_TOKEN_MAX + 1], url[SC_URL_MAX + 1];
	unsigned long long exp;
	bool ok = false;
	FILE *f;

	if (token_path(path, sizeof path, s, false) || !(f = fopen(path, "r")))
		return false;
	if (fgets(line, sizeof line, f) &&
	    sscanf(line, "%128s %llu %512s", tok, &exp, url) == 3 &&
	    strcmp(url, c->base) == 0 && (long long)exp > (long long)time(NULL) + 60) {
		memcpy(c->token, tok, sizeof c->token);
		ok = true;
	}
	sodium_memzero(line, sizeof line);
	sodium_memzero(tok, sizeof tok);
	fclose(f);
	return ok;
}

static void token_store(const struct sc *c, const struct cli_session *s, uint64_t expires_at)
{
	char path[1024], line[SC_TOKEN_MAX + SC_URL_MAX + 64];

	if (token_path(path, sizeof path, s, true))
		return;
	snprintf(line, sizeof line, "%s %" PRIu64 " %s\n", c->token, expires_at, c->base);
	file_write_atomic(path, line, strlen(line), 0600, NULL); /* a cache: a failed write costs a sign-in */
	sodium_memzero(line, sizeof line);
}

int sc_login(struct sc *c, const struct cli_session *s, struct err *e)
{
	json_t *n = NULL, *r = NULL, *req = NULL;
	const char *nonce, *domain, *uri, *tok;
	char *body = NULL;
	uint8_t sig[65];
	char sig_hex[2 * 65 + 3];
	uint64_t chain_id, exp = 0;
	struct buf msg;
	time_t now = time(NULL), later = now + 3600;
	int rc;

	if (token_cached(c, s))
		return 0;
	if (!s->unlocked)
		return err_set(e, ERR_STATE, "sign-in needs the unlocked wallet");
	buf_init(&msg, 8192);
	if ((rc = sc_request(c, &n, NULL, "GET", "/auth/nonce", NULL, e)))
		goto out;
	if ((rc = json_get_str(&nonce, n, "nonce", 128, e)) || (rc = json_get_str(&domain, n, "domain", 255, e)) ||
	    (rc = json_get_str(&uri, n, "uri", 512, e)) || (rc = json_get_u64(&chain_id, n, "chain_id", e))) {
		err_wrap(e, "server /auth/nonce");
		goto out;
	}
	if (chain_id != s->chain_id) {
		rc = err_set(e, ERR_STATE, "wrong network: the server at %s is for chain %" PRIu64
			     ", the node is chain %" PRIu64, c->base, chain_id, s->chain_id);
		goto out;
	}
	{
		/* EIP-4361 message (market/siwe.h: the one formatter) */
		struct siwe_sign_in in = { .domain = domain, .uri = uri, .nonce = nonce,
					   .statement = "Sign in to Flopmarket.", .chain_id = chain_id,
					   .address = s->address, .issued_ms = (int64_t)now * 1000,
					   .expires_ms = (int64_t)later * 1000 };
		char text[SC_SIWE_MAX];
		if ((rc = siwe_sign_in_format(text, sizeof text, &in, e)) || (rc = buf_append_str(&msg, text))) {
			err_wrap(e, "SIWE message");
			goto out;
		}
	}
	if ((rc = eip191_sign(sig, msg.data, msg.len, s->seckey, e)))
		goto out;
	hex_encode_0x(sig_hex, sig, sizeof sig);
	req = json_pack("{s:s, s:s}", "message", (const char *)msg.data, "signature", sig_hex);
	if (!req || !(body = json_dumps(req, JSON_COMPACT))) {
		rc = err_set(e, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sc_request(c, &r, NULL, "POST", "/auth/siwe", body, e))) {
		err_wrap(e, "sign-in");
		goto out;
	}
	if ((rc = json_get_str(&tok, r, "token", SC_TOKEN_MAX, e))) {
		err_wrap(e, "server /auth/siwe");
		goto out;
	}
	json_get_u64(&exp, r, "expires_at", NULL);
	snprintf(c->token, sizeof c->token, "%s", tok);
	token_store(c, s, exp ? exp : (uint64_t)later);
out:
	sodium_memzero(sig, sizeof sig);
	free(body);
	json_decref(req);
	json_decref(n);
	if (r) {
		json_object_clear(r);
		json_decref(r);
	}
	buf_release(&msg);
	return rc;
}
