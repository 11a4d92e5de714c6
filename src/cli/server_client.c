/*
 * server_client.c — the CLI's sign-in to the marketplace server: SIWE through market/api_client with the
 * session's wallet, and the token cache (see server_client.h).
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

#define SC_SESSION_TTL_S 3600 /* the session the CLI asks for */

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
static bool token_cached(struct api_client *c, const struct cli_session *s)
{
	char path[1024], line[API_TOKEN_MAX + API_URL_MAX + 64], tok[API_TOKEN_MAX + 1], url[API_URL_MAX + 1];
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

static void token_store(const struct api_client *c, const struct cli_session *s, uint64_t expires_at)
{
	char path[1024], line[API_TOKEN_MAX + API_URL_MAX + 64];

	if (token_path(path, sizeof path, s, true))
		return;
	snprintf(line, sizeof line, "%s %" PRIu64 " %s\n", c->token, expires_at, c->base);
	file_write_atomic(path, line, strlen(line), 0600, NULL); /* a cache: a failed write costs a sign-in */
	sodium_memzero(line, sizeof line);
}

int sc_login(struct api_client *c, const struct cli_session *s, struct err *e)
{
	struct api_sign_in in = { .seckey32 = s->seckey, .address = s->address, .chain_id = s->chain_id,
				  .statement = "Sign in to Flopmarket.", .ttl_s = SC_SESSION_TTL_S };
	uint64_t exp = 0;
	int rc;

	if (token_cached(c, s))
		return 0;
	if (!s->unlocked)
		return err_set(e, ERR_STATE, "sign-in needs the unlocked wallet");
	if ((rc = api_sign_in(c, &in, &exp, e)))
		return rc;
	token_store(c, s, exp);
	return 0;
}

/* A live offer whose hash starts with `prefix` (as `search` prints it); it must be unique. */
static int offer_by_prefix(json_t **out, struct api_client *c, const char *prefix, struct err *e)
{
	json_t *r = NULL, *hit = NULL;
	const json_t *list;
	size_t n = strlen(prefix), hits = 0;
	int rc;

	if (n < 6 || strncmp(prefix, "0x", 2) != 0 || strspn(prefix + 2, "0123456789abcdefABCDEF") != n - 2)
		return err_set(e, ERR_INVALID, "offer: '%.70s' is not an offer hash (0x + at least 4 hex digits)",
			       prefix);
	if ((rc = api_request(c, &r, NULL, "GET", "/offers?limit=100", NULL, e)) ||
	    (rc = json_get(&list, r, "offers", e)))
		goto out;
	for (size_t i = 0; i < json_array_size(list); i++) {
		const char *h = json_string_value(json_object_get(json_array_get(list, i), "offer_hash"));
		if (h && strncasecmp(h, prefix, n) == 0) {
			hit = json_array_get(list, i);
			hits++;
		}
	}
	if (hits != 1) {
		rc = err_set(e, hits ? ERR_INVALID : ERR_NOT_FOUND, hits ? "offer: prefix %s matches %zu live offers; "
			     "give more digits" : "offer: no live offer starts with %s%.0zu", prefix, hits);
		goto out;
	}
	*out = json_incref(hit);
out:
	json_decref(r);
	return rc;
}

int cli_offer_get(json_t **out, struct api_client *c, const char *ref, struct err *e)
{
	char path[160], esc[100];
	int rc;

	if ((rc = api_escape(esc, sizeof esc, ref, e)))
		return rc;
	if (strlen(ref) < 66)
		return offer_by_prefix(out, c, ref, e);
	snprintf(path, sizeof path, "/offers/%s", esc);
	return api_request(c, out, NULL, "GET", path, NULL, e);
}
