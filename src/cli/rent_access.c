/*
 * rent_access.c — see rent_access.h. Used by cmd_rent.c (before and after the open) and by
 * cmd_ssh_key.c (a key delivered later, or a rotated one).
 */
#include "cli/rent_access.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/sshkey.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/json.h"
#include "eth/address.h"
#include "eth/eip191.h"

#define POLL_MS 250

int cli_ssh_key_read(char out[CLI_SSH_KEY_LINE_MAX], const char *path, struct err *e)
{
	char canon[ACCOUNT_SSH_KEY_MAX + 4];
	struct buf text;
	size_t n;
	int rc;

	buf_init(&text, ACCOUNT_SSH_KEY_MAX + 64);
	if ((rc = file_read(&text, path, e))) {
		buf_release(&text);
		return err_wrap(e, "--ssh-key"), rc;
	}
	n = text.len;
	if (n > ACCOUNT_SSH_KEY_MAX + 1) {
		buf_release(&text);
		return err_set(e, ERR_INVALID, "--ssh-key %s: not a public key (longer than %d bytes); give the "
			       ".pub file", path, ACCOUNT_SSH_KEY_MAX);
	}
	memcpy(out, buf_cstr(&text), n + 1);
	buf_release(&text);
	if (strstr(out, "PRIVATE KEY"))
		return err_set(e, ERR_INVALID, "--ssh-key %s is a PRIVATE key: give the public one (%s.pub); "
			       "nothing was sent", path, path);
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		out[--n] = '\0';
	if ((rc = sshkey_check(canon, sizeof canon, out, n, e)))
		return err_wrap(e, "--ssh-key %s (one OpenSSH public key line, e.g. ~/.ssh/id_ed25519.pub)",
				path), rc;
	return 0;
}

int cli_agent_connect(struct api_client *agent, const char *agent_url, struct api_client *server, uint64_t machine_id,
		      struct err *e)
{
	char path[64];
	const char *ep;
	json_t *h = NULL;
	int rc;

	if (agent_url)
		return api_client_init(agent, agent_url, e);
	if (!server || !server->curl || machine_id == 0)
		return err_set(e, ERR_NOT_FOUND, "no agent endpoint known (give --agent URL)");
	snprintf(path, sizeof path, "/hosts/%" PRIu64, machine_id);
	if ((rc = api_request(server, &h, NULL, "GET", path, NULL, e)))
		return rc;
	if ((rc = json_get_str(&ep, h, "endpoint", API_URL_MAX, e)) || !ep[0])
		rc = err_set(e, ERR_NOT_FOUND, "host %" PRIu64 " has no agent endpoint (give --agent URL)",
			     machine_id);
	else
		rc = api_client_init(agent, ep, e);
	json_decref(h);
	return rc;
}

/* The agent's answer offers `image`: isolation container and the name among its images. */
static int image_offered(const json_t *r, const char *image, struct err *e)
{
	const char *iso = json_string_value(json_object_get(r, "isolation"));
	const json_t *imgs = json_object_get(r, "images");
	char list[600] = "";
	size_t i, len = 0;
	json_t *v;

	if (!iso || strcmp(iso, "container") != 0)
		return err_set(e, ERR_INVALID, "--image %s: this host runs rentals as Unix accounts (isolation: %s), "
			       "not instances; nothing was paid", image, iso ? iso : "account");
	json_array_foreach(imgs, i, v) {
		const char *n = json_string_value(json_object_get(v, "name"));
		if (n && strcmp(n, image) == 0)
			return 0;
		if (n && len + strlen(n) + 3 < sizeof list)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", n);
	}
	return err_set(e, ERR_INVALID, "--image %s: not offered by this host (it offers: %s); nothing was paid", image,
		       list[0] ? list : "none");
}

int cli_agent_alive(struct api_client *agent, const struct eth_address *provider, const char *image, long timeout_ms,
		    struct err *e)
{
	json_t *r = NULL;
	const char *p = NULL;
	struct eth_address got;
	long saved = agent->timeout_ms;
	int rc;

	agent->timeout_ms = timeout_ms;
	rc = api_request(agent, &r, NULL, "GET", "/agent", NULL, e);
	agent->timeout_ms = saved;
	if (rc) {
		err_wrap(e, "the provider's agent at %s does not answer; nothing was paid (the host is down: "
			 "pick another offer)", agent->base);
		return ERR_STATE;
	}
	if (json_get_str(&p, r, "provider", 64, NULL) || address_parse(&got, p, NULL) ||
	    !address_equal(&got, provider))
		rc = err_set(e, ERR_STATE, "the agent at %s does not serve this offer's provider; nothing was paid",
			     agent->base);
	if (!rc && image)
		rc = image_offered(r, image, e);
	json_decref(r);
	return rc;
}

/* Milliseconds left before deadline (at least 1 while any is left; 0 when passed). */
static long left_ms(uint64_t deadline_ms)
{
	uint64_t now = clock_mono_ms();
	return now >= deadline_ms ? 0 : (long)(deadline_ms - now);
}

int cli_key_deliver(struct api_client *agent, const struct cli_session *s, uint64_t id, const char *key_line,
		    const char *image, uint64_t deadline_ms, struct err *e)
{
	char path[96], msg[AGENT_SSH_KEY_MSG_MAX], sig_hex[2 * 65 + 3];
	uint64_t issued = (uint64_t)clock_wall_ms();
	uint8_t sig[65];
	json_t *req, *r = NULL;
	char *body;
	int rc;

	if ((rc = agent_ssh_key_message(msg, sizeof msg, id, issued, key_line, image, e)) ||
	    (rc = eip191_sign(sig, (const uint8_t *)msg, strlen(msg), s->seckey, e)))
		return rc;
	hex_encode_0x(sig_hex, sig, sizeof sig);
	req = json_pack("{s:s, s:I, s:s}", "ssh_key", key_line, "issued_ms", (json_int_t)issued, "signature",
			sig_hex);
	if (req && image && *image)
		json_object_set_new(req, "image", json_string(image));
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body)
		return err_set(e, ERR_NOMEM, "out of memory");
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/ssh-key", id);
	for (;;) {
		long left = left_ms(deadline_ms);
		if (left == 0) {
			rc = rc ? rc : ERR_TIMEOUT;
			break;
		}
		agent->timeout_ms = left;
		rc = api_request(agent, &r, NULL, "POST", path, body, e);
		json_decref(r);
		r = NULL;
		/* busy (pending slots full), unavailable, or not reachable: try again until the deadline */
		if (!rc || !(agent->status == 429 || agent->status == 503 || rc == ERR_NET || rc == ERR_TIMEOUT))
			break;
		usleep(POLL_MS * 1000);
	}
	agent->timeout_ms = 0;
	free(body);
	if (rc)
		return err_wrap(e, "delivering the SSH key to the agent at %s", agent->base), rc;
	fprintf(stderr, "SSH key delivered to the provider's agent\n");
	return 0;
}

int cli_access_wait(struct api_client *agent, uint64_t id, uint64_t deadline_ms, json_t *json, struct err *e)
{
	char path[96];
	json_t *r = NULL;
	unsigned polls = 0;
	uint64_t t0 = clock_mono_ms();

	fprintf(stderr, "waiting for the provider's agent to grant access...");
	snprintf(path, sizeof path, "/rentals/%" PRIu64 "/access", id);
	for (long left; (left = left_ms(deadline_ms)) > 0; polls++) {
		const char *host, *user, *st;
		uint64_t port;
		agent->timeout_ms = left;
		if (api_request(agent, &r, NULL, "GET", path, NULL, NULL) == 0 &&
		    json_get_str(&st, r, "status", 16, NULL) == 0 && strcmp(st, "active") == 0 &&
		    json_get_str(&host, r, "host", 255, NULL) == 0 && json_get_str(&user, r, "user", 32, NULL) == 0 &&
		    json_get_u64(&port, r, "port", NULL) == 0) {
			struct cli_ssh_dest keys;
			char term[AGENT_URL_MAX + 64];
			json_t *fps = json_array(), *pins = json_array();
			agent->timeout_ms = 0;
			fprintf(stderr, " granted\n");
			if (!json)
				printf("ssh:       ssh -p %" PRIu64 " %s@%s\n", port, user, host);
			if (cli_host_keys_parse(&keys, r, NULL) == 0)
				for (size_t i = 0; i < keys.n_host_keys; i++) {
					char fp[SSHKEY_FP_MAX];
					if (sshkey_fingerprint(fp, keys.host_keys[i], NULL))
						continue;
					json_array_append_new(pins, json_string(keys.host_keys[i]));
					json_array_append_new(fps, json_string(fp));
					if (!json)
						printf("host key:  %s %s (flopmarket ssh pins it)\n", fp,
						       strtok(keys.host_keys[i], " "));
				}
			/* The agent's browser terminal (src/agent/terminal.h): a signed challenge, then a WebSocket. */
			snprintf(term, sizeof term, "%s%s/terminal/%" PRIu64 "/ws", strncmp(agent->base, "https", 5) == 0
				 ? "wss" : "ws", strchr(agent->base, ':'), id);
			if (json) {
				json_object_set_new(json, "host", json_string(host));
				json_object_set_new(json, "port", json_integer((json_int_t)port));
				json_object_set_new(json, "user", json_string(user));
				json_object_set_new(json, "host_keys", pins);
				json_object_set_new(json, "host_key_fingerprints", fps);
				json_object_set_new(json, "terminal", json_string(term));
			} else {
				printf("terminal:  %s (sign the challenge from %s/terminal/%" PRIu64 "/challenge)\n", term,
				       agent->base, id);
				json_decref(pins);
				json_decref(fps);
			}
			json_decref(r);
			return 0;
		}
		json_decref(r);
		r = NULL;
		if (polls % 4 == 3)
			fputc('.', stderr);
		left = left_ms(deadline_ms);
		usleep((useconds_t)(left < POLL_MS ? left : POLL_MS) * 1000);
	}
	agent->timeout_ms = 0;
	fputc('\n', stderr);
	return err_set(e, ERR_TIMEOUT, "no access reported within %" PRIu64 " s; try `flopmarket status %" PRIu64
		       "` later", (clock_mono_ms() - t0 + 500) / 1000, id);
}

/* The machine of rental `id` from the server: its offer's machine_id. */
int cli_rental_machine(uint64_t *out, struct api_client *server, uint64_t id, struct err *e)
{
	char path[160];
	const char *oh;
	json_t *r = NULL, *o = NULL;
	int rc;

	snprintf(path, sizeof path, "/rentals/%" PRIu64, id);
	if ((rc = api_request(server, &r, NULL, "GET", path, NULL, e)))
		return rc;
	if ((rc = json_get_str(&oh, r, "offer_hash", 66, e)) || !oh[0]) {
		json_decref(r);
		return err_set(e, ERR_NOT_FOUND, "rental %" PRIu64 " has no listed offer: give --agent URL", id);
	}
	snprintf(path, sizeof path, "/offers/%s", oh);
	rc = api_request(server, &o, NULL, "GET", path, NULL, e);
	json_decref(r);
	if (!rc)
		rc = json_get_id(out, o, "machine_id", e);
	json_decref(o);
	return rc;
}

#define SSH_ACCESS_TRIES 50 /* 10 s at 200 ms */

int cli_rental_ssh(struct cli_ssh_dest *out, const char *server, const char *agent, uint64_t id, struct err *e)
{
	struct api_client c = { 0 };
	const char *host, *user;
	const json_t *acc;
	json_t *r = NULL;
	char path[96];
	uint64_t port;
	int rc;

	memset(out, 0, sizeof *out);
	if (!agent && !server)
		return err_set(e, ERR_INVALID, "the server (--server URL or server_url) or --agent URL is needed to find "
			       "the rental's access");
	if ((rc = api_client_init(&c, agent ? agent : server, e)))
		return rc;
	snprintf(path, sizeof path, agent ? "/rentals/%" PRIu64 "/access" : "/rentals/%" PRIu64, id);
	/* The agent grants access, then tells the server on its next round: right after `rent`, the server
	 * may not have it yet, so ask again for a few seconds before saying there is none. */
	for (int tries = 0;; tries++) {
		if ((rc = api_request(&c, &r, NULL, "GET", path, NULL, e)))
			goto out;
		acc = r;
		if (agent || !json_get(&acc, r, "access", NULL) || tries >= SSH_ACCESS_TRIES)
			break;
		json_decref(r);
		r = NULL;
		usleep(200 * 1000);
	}
	if (!agent && json_get(&acc, r, "access", NULL)) {
		rc = err_set(e, ERR_STATE, "rental %" PRIu64 ": no access reported by the provider's agent yet "
			     "(did you give --ssh-key to rent? see flopmarket status %" PRIu64 ")", id, id);
		goto out;
	}
	if ((rc = json_get_str(&host, acc, "host", 255, e)) || (rc = json_get_str(&user, acc, "user", 32, e)) ||
	    (rc = json_get_u64(&port, acc, "port", e))) {
		if (rc == ERR_NOT_FOUND)
			rc = err_set(e, ERR_STATE, "rental %" PRIu64 ": no access yet (the account is not active)", id);
		goto out;
	}
	if (port == 0 || port > 65535 || host[0] == '-' || user[0] == '-' ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != strlen(host) ||
	    strspn(user, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(user)) {
		rc = err_set(e, ERR_INVALID, "rental %" PRIu64 ": malformed access details", id);
		goto out;
	}
	if ((rc = cli_host_keys_parse(out, acc, e)))
		goto out;
	snprintf(out->host, sizeof out->host, "%s", host);
	snprintf(out->user, sizeof out->user, "%s", user);
	out->port = (unsigned)port;
out:
	json_decref(r);
	api_client_release(&c);
	return rc;
}

int cli_rental_agent(struct api_client *agent, struct api_client *srv, const char *agent_url, const char *server,
		     uint64_t id, struct err *e)
{
	uint64_t mid = 0;
	int rc;

	if (!agent_url && ((rc = api_client_init(srv, server, e)) || (rc = cli_rental_machine(&mid, srv, id, e))))
		return rc;
	return cli_agent_connect(agent, agent_url, srv, mid, e);
}
