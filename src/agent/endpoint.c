/*
 * endpoint.c — the agent's HTTP endpoint: SSH key delivery (POST /rentals/{id}/ssh-key), access status
 * (GET /rentals/{id}/access), who it serves (GET /agent), and the browser terminal's routes with its
 * rental lookup (terminal.h). Protocols in docs/agent.md.
 */
#include "agent/agent_int.h"

#include "agent/account.h"
#include "agent/files.h"
#include "agent/instances.h"
#include "agent/state.h"
#include "agent/jupyter.h"
#include "agent/terminal.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "eth/eip191.h"
#include "net/http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int agent_ssh_key_message(char *out, size_t cap, uint64_t rental_id, uint64_t issued_ms, const char *key,
			  const char *image, struct err *e)
{
	size_t n = strlen(key);
	int w;

	if (n && key[n - 1] == '\n')
		n--;
	if (n > ACCOUNT_SSH_KEY_MAX)
		return err_set(e, ERR_TOO_BIG, "ssh key: longer than %d bytes", ACCOUNT_SSH_KEY_MAX);
	if (image && *image && !instances_image_name_ok(image))
		return err_set(e, ERR_INVALID, "image: '%.40s' is not an image name", image);
	w = snprintf(out, cap, "flopmarket ssh-key %llu %llu %.*s%s%s", (unsigned long long)rental_id,
		     (unsigned long long)issued_ms, (int)n, key, image && *image ? "\nimage " : "",
		     image && *image ? image : "");
	if (w < 0 || (size_t)w >= cap)
		return err_set(e, ERR_TOO_BIG, "ssh key message: longer than %zu bytes", cap);
	return 0;
}

/* Parses a rental id path parameter: decimal, no leading zero, 1..2^63-1. */
static int parse_id(uint64_t *out, const char *s)
{
	uint64_t v = 0;

	if (!s || !*s || strlen(s) > 19 || (s[0] == '0'))
		return ERR_INVALID;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return ERR_INVALID;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > INT64_MAX)
		return ERR_INVALID;
	*out = v;
	return 0;
}

/*
 * POST /rentals/{id}/ssh-key {"ssh_key", "issued_ms", "signature"}: the renter's signed key delivery
 * (agent_ssh_key_message). Checked: the key line (sshkey_check), the signature, the signer is
 * the rental's renter on chain (or, before the agent has seen the rental, kept pending per signer), and
 * issued_ms is recent (AGENT_KEY_MAX_AGE_MS / AGENT_KEY_MAX_SKEW_MS) and newer than the key held.
 */
static int h_ssh_key(struct http_req *req, struct http_resp *resp, void *ctx)
{
	struct agent *a = ctx;
	json_t *body = NULL;
	const char *key = NULL, *sig_hex = NULL, *image = NULL;
	char image_s[INSTANCES_IMAGE_NAME_MAX + 1] = "";
	char canon[ACCOUNT_SSH_KEY_MAX + 4], line[ACCOUNT_SSH_KEY_MAX + 2], msg[AGENT_SSH_KEY_MSG_MAX];
	char signer_s[ADDRESS_STR_MAX];
	uint8_t sig[65];
	struct eth_address signer, renter;
	struct err e = { 0, "" };
	uint64_t id, issued = 0;
	int64_t now = (int64_t)clock_wall_ms();
	size_t n;
	bool ended = false;
	int found, st, rc = 0;

	if (parse_id(&id, http_param(req, "id")))
		return http_error(resp, 400, "invalid", "id", "rental id must be a decimal number 1..2^63-1");
	if (http_json_body(&body, req, resp))
		return 0;
	if (json_get_str(&key, body, "ssh_key", ACCOUNT_SSH_KEY_MAX + 1, &e)) {
		json_decref(body);
		return http_error(resp, 400, "invalid", "ssh_key", "%s", e.msg);
	}
	if (json_get_uint(&issued, body, "issued_ms", &e) || issued > (uint64_t)INT64_MAX) {
		json_decref(body);
		return http_error(resp, 400, "invalid", "issued_ms",
				  "issued_ms: the signing time in unix milliseconds is required (a number)");
	}
	if ((int64_t)issued < now - AGENT_KEY_MAX_AGE_MS || (int64_t)issued > now + AGENT_KEY_MAX_SKEW_MS) {
		json_decref(body);
		return http_error(resp, 400, "stale", "issued_ms",
				  "issued_ms is %s: sign a fresh delivery (check the clock)",
				  (int64_t)issued < now ? "more than 15 minutes old" : "in the future");
	}
	if (json_object_get(body, "image") && json_get_str(&image, body, "image", INSTANCES_IMAGE_NAME_MAX + 1, &e)) {
		json_decref(body);
		return http_error(resp, 400, "invalid", "image", "image: %s", e.msg);
	}
	if (image && *image) {
		const char *ref;
		if (!a->inst) {
			json_decref(body);
			return http_error(resp, 400, "invalid", "image",
					  "this host runs rentals as Unix accounts (isolation: account): there are no images to choose");
		}
		if (instances_image_ref(a->inst, image, &ref, &e)) {
			json_decref(body);
			return http_error(resp, 400, "invalid", "image", "%s", e.msg);
		}
		snprintf(image_s, sizeof image_s, "%s", image);
	}
	if (json_get_str(&sig_hex, body, "signature", 140, &e) ||
	    hex_decode_exact(sig, sizeof sig, sig_hex, &e)) {
		json_decref(body);
		return http_error(resp, 400, "invalid", "signature", "signature: %s", e.msg);
	}
	n = strlen(key);
	if (n && key[n - 1] == '\n')
		n--;
	if (n > ACCOUNT_SSH_KEY_MAX ||
	    sshkey_check(canon, sizeof canon, key, n, &e)) {
		json_decref(body);
		return http_error(resp, 400, "invalid", "ssh_key", "%s",
				  e.msg[0] ? e.msg : "ssh_key: too long");
	}
	memcpy(line, key, n);
	line[n] = '\0';
	json_decref(body);
	if (agent_ssh_key_message(msg, sizeof msg, id, issued, line, image_s, &e))
		return http_error(resp, 400, "invalid", "ssh_key", "%s", e.msg);
	if (eip191_recover(&signer, (const uint8_t *)msg, strlen(msg), sig, &e))
		return http_error(resp, 400, "invalid", "signature", "signature: %s", e.msg);
	address_to_lower(signer_s, &signer);

	pthread_mutex_lock(&a->mu);
	found = state_rental_renter(a, id, &renter, &ended);
	if (found < 0) {
		rc = http_error(resp, 503, "unavailable", NULL, "agent state unavailable");
	} else if (found == 1 && ended) {
		rc = http_error(resp, 409, "state", NULL, "rental %llu has ended", (unsigned long long)id);
	} else if (found == 1 && !address_equal(&renter, &signer)) {
		char want[ADDRESS_STR_MAX];
		address_to_lower(want, &renter);
		rc = http_error(resp, 403, "forbidden", "signature",
				"signed by %s, but rental %llu's renter on chain is %s", signer_s,
				(unsigned long long)id, want);
	} else if ((st = state_key_store(a, id, &signer, found == 1, line, image_s, (int64_t)issued)) == 409) {
		rc = http_error(resp, 409, "replayed", "issued_ms",
				"a key signed at the same time or later is already installed; this one is older");
	} else if (st == 429) {
		rc = http_error(resp, 429, "busy", NULL,
				"too many keys wait for rentals this agent has not seen yet; retry in a few seconds");
	} else if (st != 202) {
		rc = http_error(resp, 503, "unavailable", NULL, "agent state unavailable");
	} else {
		json_t *v = json_pack("{s:I, s:s, s:s}", "rental_id", (json_int_t)id, "status",
				      found == 1 ? "accepted" : "pending", "signer", signer_s);
		agent_wake(a);
		rc = http_json(resp, 202, v);
	}
	pthread_mutex_unlock(&a->mu);
	if (!rc)
		log_info("ssh key received", "rental=%llu signer=%s status=%s", (unsigned long long)id,
			 signer_s, resp->status == 202 ? (found == 1 ? "accepted" : "pending") : "refused");
	return rc;
}

/* GET /agent: the agent is up, and whom it serves (renters check it just before paying). */
static int h_agent_info(struct http_req *req, struct http_resp *resp, void *ctx)
{
	struct agent *a = ctx;
	char prov[ADDRESS_STR_MAX], esc[ADDRESS_STR_MAX];
	(void)req;

	address_to_lower(prov, &a->provider);
	address_to_lower(esc, &a->cfg.escrow);
	return http_json(resp, 200, json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:b}", "status", "ok", "provider", prov,
					      "chain_id", (json_int_t)a->cfg.chain_id, "escrow", esc, "isolation",
					      a->inst ? "container" : "account", "images",
					      a->inst ? instances_images_json(a->inst) : json_array(), "jupyter",
					      a->jup != NULL));
}

static int h_access(struct http_req *req, struct http_resp *resp, void *ctx)
{
	struct agent *a = ctx;
	uint64_t id;
	const char *status;
	enum state_access held;
	char name[ACCOUNT_NAME_LEN + 1] = "";
	bool show = false;
	json_t *v;

	if (parse_id(&id, http_param(req, "id")))
		return http_error(resp, 400, "invalid", "id", "rental id must be a decimal number 1..2^63-1");
	pthread_mutex_lock(&a->mu);
	held = state_access_of(a, id);
	pthread_mutex_unlock(&a->mu);
	status = held == STATE_ACCESS_ENDED ? "ended"
		 : held == STATE_ACCESS_WAITING_KEY ? "waiting_key"
		 : held == STATE_ACCESS_KEYED ? "pending"
					       : "unknown";
	if (strcmp(status, "pending") == 0 && !lifecycle_account_name(name, a->cfg.chain_id, &a->cfg.escrow, a->instance, id, NULL)) {
		struct account acc;
		if (!account_load(&acc, &a->acct, name, NULL)) {
			if (acc.phase == ACCOUNT_ACTIVE)
				status = "active", show = true;
			else if (acc.phase == ACCOUNT_FROZEN)
				status = "frozen", show = true;
			else if (acc.phase == ACCOUNT_TEARING_DOWN)
				status = "ended"; /* being removed: never "pending" to a renter who just stopped */
		}
	}
	v = json_pack("{s:I, s:s}", "rental_id", (json_int_t)id, "status", status);
	if (v && show) {
		json_object_set_new(v, "host", json_string(a->cfg.ssh_host));
		json_object_set_new(v, "port", json_integer(a->cfg.ssh_port));
		json_object_set_new(v, "user", json_string(name));
		json_object_set(v, "host_keys", a->host_keys);
		json_object_set(v, "host_key_fingerprints", a->host_key_fps);
	}
	return http_json(resp, 200, v);
}

/*
 * The browser terminal's rental lookup (terminal.h; HTTP threads): the Terms come from the state db
 * (as read from the chain's Opened event), the state from the chain itself (stateOf + the latest
 * block's time) through a client of its own, since struct rpc is not thread-safe.
 */
static int terminal_lookup(struct terminal_rental *out, const char *rental_id, void *user, struct err *e)
{
	struct agent *a = user;
	struct escrow_terms t;
	struct rpc r;
	uint64_t id, now;
	int rc = ERR_NOT_FOUND;

	if (parse_id(&id, rental_id))
		return err_set(e, ERR_NOT_FOUND, "no rental %.40s", rental_id);
	pthread_mutex_lock(&a->mu);
	rc = state_live_terms(a, id, &t);
	now = chain_clock_now(&a->clock, clock_mono_ms());
	pthread_mutex_unlock(&a->mu);
	if (rc)
		return err_set(e, ERR_NOT_FOUND, "no live rental %llu on this host", (unsigned long long)id);
	if ((rc = rpc_init(&r, a->cfg.rpc_url, NULL, e)))
		return rc;
	rc = terminal_rental_from_chain(out, &r, a->cfg.chain_id, &a->cfg.escrow, a->instance, &t, now, e);
	rpc_release(&r);
	return rc;
}

/* The Jupyter proxy's instance-mode start (jupyter.h): the rental's server inside its instance. */
static int jupyter_in_instance(void *user, const char *account, long account_uid, const char *token,
			       const char *base_url, char *sock, size_t cap, long *peer_uid, bool *classic, struct err *e)
{
	struct agent *a = user;
	return instances_jupyter_start(a->inst, account, account_uid, token, base_url, sock, cap, peer_uid, classic, e);
}

int endpoint_start(struct agent *a, struct err *e)
{
	struct http_config hc;
	int rc;

	memset(&hc, 0, sizeof hc);
	hc.bind_addr = a->cfg.listen_addr;
	hc.port = a->cfg.listen_port;
	hc.threads = 2;
	hc.body_max = 16 << 10;
	hc.rate_per_s = 5;
	hc.tls_cert_pem = a->cfg.tls_cert_pem;
	hc.tls_key_pem = a->cfg.tls_key_pem;
	/* The marketplace's page calls the key, access and challenge routes from its own origin (CORS). */
	const char *cors[2] = { a->cfg.web_origin, NULL };
	hc.cors_origins = a->cfg.web_origin ? cors : NULL;
	{
		struct terminal_cfg tc;
		const char *origins[2] = { a->cfg.web_origin, NULL };

		memset(&tc, 0, sizeof tc);
		tc.origin = a->cfg.endpoint;
		tc.allowed_origins = a->cfg.web_origin ? origins : NULL;
		tc.tls = a->cfg.tls_cert_pem != NULL;
		tc.lookup = terminal_lookup;
		tc.lookup_user = a;
		tc.accounts = &a->acct;
		if ((rc = terminal_new(&a->term, &tc, e)))
			return rc;
	}
	/* Jupyter: a server as the rental's account, or inside its instance when its image has one */
	if (!a->cfg.no_jupyter) {
		struct jupyter_cfg jc;
		bool any = !a->inst;

		for (size_t i = 0; a->inst && i < a->cfg.inst.n_images; i++)
			any |= instances_image_jupyter(a->inst, i);
		memset(&jc, 0, sizeof jc);
		jc.terminal = a->term;
		jc.accounts = &a->acct;
		jc.tls = a->cfg.tls_cert_pem != NULL;
		if (a->inst) {
			jc.start_in_instance = jupyter_in_instance;
			jc.instance_user = a;
		}
		if (any && (rc = jupyter_new(&a->jup, &jc, e)))
			return rc;
		if (!any || !jupyter_program(a->jup)) {
			log_info("jupyter not offered", "reason=\"%s\"", a->inst ? "no image of this host has jupyter-notebook or jupyter-server"
								      : "no jupyter-notebook or jupyter-server in /usr/local/bin:/usr/bin:/bin");
			jupyter_free(a->jup);
			a->jup = NULL;
		}
	}
	a->files.term = a->term;
	a->files.max_bytes = a->cfg.files_max_bytes;
	a->files.inst = a->inst;
	if ((rc = http_server_new(&a->http, &hc, e)) ||
	    (rc = http_route(a->http, "POST", "/rentals/{id}/ssh-key", h_ssh_key, a, e)) ||
	    (rc = http_route(a->http, "GET", "/rentals/{id}/access", h_access, a, e)) ||
	    (rc = http_route(a->http, "GET", "/agent", h_agent_info, a, e)) ||
	    (rc = terminal_routes(a->term, a->http, e)) || (rc = files_routes(&a->files, a->http, e)) ||
	    (a->jup && (rc = jupyter_routes(a->jup, a->http, e))) ||
	    (rc = http_server_start(a->http, e)))
		return rc;
	if (a->cfg.endpoint)
		snprintf(a->endpoint, sizeof a->endpoint, "%s", a->cfg.endpoint);
	else
		snprintf(a->endpoint, sizeof a->endpoint, "%s://%s:%u", a->cfg.tls_cert_pem ? "https" : "http",
			 a->cfg.listen_addr, (unsigned)http_server_port(a->http));
	printf("listening on %s://%s:%u\n", a->cfg.tls_cert_pem ? "https" : "http", a->cfg.listen_addr,
	       (unsigned)http_server_port(a->http));
	fflush(stdout);
	return 0;
}
