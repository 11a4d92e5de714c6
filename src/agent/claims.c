/*
 * claims.c — the agent's transactions and its reports to the marketplace server.
 *
 * Transactions go through the durable sender (eth/sender.h: journaled before broadcast, rebroadcast
 * and fee-bumped until mined), with calldata from escrow.h. Before anything is sent the mirror
 * (escrow/mirror.h) predicts the call at the latest block's time, so the agent never pays gas for a
 * call that would revert. At most one transaction per rental is outstanding (its sender id is kept
 * in the state db until the journal says it is no longer pending). Per rental:
 *   active, claim_interval_s since the last claim, claimable > 0   -> claim (streaming payout)
 *   active and over (reclaim notice ended, or runout + grace over)  -> settle (ends it; refunds)
 *   ended, dispute window over                                      -> claim (pays the held rest, closes)
 *   disputed, arbiter deadline over                                 -> settle (default rule, closes)
 *
 * Server reports (only with cfg.server_url): sign in with SIWE (EIP-4361 message signed EIP-191 by
 * the provider key), POST /hosts once (gpu_detect: simulated GPUs are flagged), POST
 * /providers/heartbeat every heartbeat_s, POST /rentals/{id}/access once per account. A 401 drops
 * the session and signs in again on the next report. Failures are retried; they never stop the agent.
 */
#include "agent/agent_int.h"

#include "agent/account.h"
#include "agent/state.h"

#include "agent/gpu.h"
#include "agent/gpubench.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "escrow/mirror.h"
#include "eth/eip191.h"
#include "market/siwe.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SRV_RESPONSE_MAX ((size_t)256 << 10)
#define SRV_TIMEOUT_MS 10000

/* ------------------------------------------------------------------ claims */

static bool predict(const struct agent_rental *r, enum escrow_op op, uint64_t now, uint32_t arb_window)
{
	struct escrow_outcome out;
	struct escrow_call c;

	memset(&c, 0, sizeof c);
	c.op = op;
	c.now = now;
	c.arbiter_window_secs = arb_window;
	return escrow_mirror_apply(&out, &r->t, &r->word, &c, NULL) == 0;
}

static int submit(struct agent *a, struct agent_row *w, enum escrow_rental_fn fn, const char *what,
		  struct err *e)
{
	struct buf cd;
	uint64_t nonce = 0;
	uint8_t hash[32];
	char hx[67];
	int rc;

	buf_init(&cd, 4096);
	rc = escrow_cd_rental(&cd, fn, &w->r.t, e);
	if (!rc)
		rc = sender_submit(a->sender, &nonce, hash, &a->cfg.escrow, NULL, cd.data, cd.len, 0, e);
	buf_release(&cd);
	if (rc)
		return rc;
	hex_encode_0x(hx, hash, 32);
	log_info("transaction sent", "rental=%llu call=%s nonce=%llu tx=%s", (unsigned long long)w->r.id,
		 what, (unsigned long long)nonce, hx);
	pthread_mutex_lock(&a->mu);
	state_set_claim_nonce(a, w->r.id, (int64_t)nonce);
	if (fn == ESCROW_FN_CLAIM)
		state_set_last_claim(a, w->r.id, (int64_t)clock_wall_ms());
	pthread_mutex_unlock(&a->mu);
	return 0;
}

/* True while the rental's last transaction may still be mined. */
static bool outstanding(struct agent *a, struct agent_row *w)
{
	struct sender_info si;

	if (w->claim_nonce < 0)
		return false;
	if (!sender_info(a->sender, (uint64_t)w->claim_nonce, &si, NULL) && si.state == SENDER_PENDING)
		return true;
	pthread_mutex_lock(&a->mu);
	state_set_claim_nonce(a, w->r.id, -1);
	pthread_mutex_unlock(&a->mu);
	return false;
}

static int claim_one(struct agent *a, struct agent_row *w, uint64_t now, struct err *e)
{
	struct escrow_view v;
	struct escrow_quote q;
	/* Predict at the latest block's time: eth_estimateGas simulates there, and a call that works
	 * then also works in any later block (claimable amounts and "over" only grow with time). */
	uint64_t next = now;

	if (w->r.closed || outstanding(a, w) || escrow_state_view(&v, &w->r.t, &w->r.word, NULL))
		return 0;
	switch (v.phase) {
	case ESCROW_PHASE_ACTIVE: {
		bool over = (v.stop_at && next > v.stop_at) || next > v.paid_until + w->r.t.grace_secs;
		if (over && predict(&w->r, ESCROW_OP_SETTLE, next, a->cfg.arbiter_window_secs))
			return submit(a, w, ESCROW_FN_SETTLE, "settle", e);
		if (clock_wall_ms() - w->last_claim_ms < (int64_t)a->cfg.claim_interval_s * 1000)
			return 0;
		if (escrow_mirror_quote(&q, &w->r.t, &w->r.word, next, NULL) || u256_is_zero(&q.claimable_gross))
			return 0;
		if (predict(&w->r, ESCROW_OP_CLAIM, next, a->cfg.arbiter_window_secs))
			return submit(a, w, ESCROW_FN_CLAIM, "claim", e);
		return 0;
	}
	case ESCROW_PHASE_ENDED:
		if (predict(&w->r, ESCROW_OP_CLAIM, next, a->cfg.arbiter_window_secs))
			return submit(a, w, ESCROW_FN_CLAIM, "claim (final)", e);
		return 0;
	case ESCROW_PHASE_DISPUTED:
		if (predict(&w->r, ESCROW_OP_SETTLE, next, a->cfg.arbiter_window_secs))
			return submit(a, w, ESCROW_FN_SETTLE, "settle (default rule)", e);
		return 0;
	}
	return 0;
}

int claims_tick(struct agent *a, struct err *e)
{
	struct agent_row *rows = NULL;
	size_t n = 0;
	int rc, first_rc = 0;

	if ((rc = sender_poll(a->sender, e)))
		log_warn("sender poll failed", "err=\"%s\"", e->msg);
	err_clear(e);
	pthread_mutex_lock(&a->mu);
	rc = state_rows(a, &rows, &n, false, e);
	pthread_mutex_unlock(&a->mu);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct err ce = { 0, "" };
		if ((rc = claim_one(a, &rows[i], a->chain_now, &ce))) {
			log_warn("claim failed", "rental=%llu err=\"%s\"", (unsigned long long)rows[i].r.id,
				 ce.msg);
			if (!first_rc)
				first_rc = err_set(e, rc, "rental %llu: %s", (unsigned long long)rows[i].r.id,
						   ce.msg);
		}
	}
	state_rows_free(rows, n);
	return first_rc;
}

/* ------------------------------------------------------------------ server client */

struct srv_body {
	struct buf b;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct srv_body *sb = ud;
	size_t n = size * nmemb;

	return buf_append(&sb->b, p, n) ? 0 : n;
}

/* One request to the server; *status gets the HTTP status; *out (optional) the JSON answer. */
static int srv_request(struct agent *a, long *status, json_t **out, const char *method, const char *path,
		       json_t *body, struct err *e)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct srv_body sb;
	char url[AGENT_URL_MAX + 256], auth[300], *text = NULL;
	CURLcode cc;
	int rc = 0;

	if (!c)
		return err_set(e, ERR_NOMEM, "server: curl_easy_init failed");
	buf_init(&sb.b, SRV_RESPONSE_MAX);
	snprintf(url, sizeof url, "%s%s", a->cfg.server_url, path);
	h = curl_slist_append(h, "Content-Type: application/json");
	if (a->token[0]) {
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->token);
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)SRV_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sb);
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text) {
			rc = err_set(e, ERR_NOMEM, "server: cannot encode body");
			goto out;
		}
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		rc = err_set(e, ERR_NET, "server %s %s: %s", method, path, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (out && sb.b.len) {
		json_error_t je;
		*out = json_loadb((const char *)sb.b.data, sb.b.len, JSON_REJECT_DUPLICATES, &je);
	}
	if (*status < 200 || *status > 299)
		rc = err_set(e, *status == 401 ? ERR_AUTH : ERR_NET, "server %s %s: HTTP %ld: %.160s", method,
			     path, *status, sb.b.len ? buf_cstr(&sb.b) : "");
out:
	free(text);
	buf_release(&sb.b);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

/* SIWE sign-in (EIP-4361) with the provider key. */
static int srv_login(struct agent *a, struct err *e)
{
	json_t *nonce = NULL, *res = NULL, *body;
	const char *nv = NULL, *dom = NULL, *uri = NULL, *tok = NULL;
	char msg[2048], sig_hex[140];
	uint8_t sig[65];
	uint64_t chain = 0;
	long st = 0;
	time_t now = time(NULL);
	int rc;

	a->token[0] = '\0';
	if ((rc = srv_request(a, &st, &nonce, "GET", "/auth/nonce", NULL, e)))
		goto out;
	if (!nonce || json_get_str(&nv, nonce, "nonce", 128, e) || json_get_str(&dom, nonce, "domain", 255, e) ||
	    json_get_str(&uri, nonce, "uri", 512, e) || json_get_u64(&chain, nonce, "chain_id", e)) {
		rc = err_set(e, ERR_INVALID, "server /auth/nonce: unexpected answer");
		goto out;
	}
	if (chain != a->cfg.chain_id) {
		rc = err_set(e, ERR_CONFLICT, "server is on chain %llu, the agent on %llu",
			     (unsigned long long)chain, (unsigned long long)a->cfg.chain_id);
		goto out;
	}
	{
		struct siwe_sign_in in = { .domain = dom, .uri = uri, .nonce = nv,
					   .statement = "Flopmarket provider agent", .chain_id = chain,
					   .address = a->provider, .issued_ms = (int64_t)now * 1000 };
		if ((rc = siwe_sign_in_format(msg, sizeof msg, &in, e)))
			goto out;
	}
	if ((rc = eip191_sign(sig, (const uint8_t *)msg, strlen(msg), a->cfg.seckey32, e)))
		goto out;
	hex_encode_0x(sig_hex, sig, 65);
	body = json_pack("{s:s, s:s}", "message", msg, "signature", sig_hex);
	rc = srv_request(a, &st, &res, "POST", "/auth/siwe", body, e);
	json_decref(body);
	if (rc)
		goto out;
	if (!res || json_get_str(&tok, res, "token", sizeof a->token - 1, e)) {
		rc = err_set(e, ERR_INVALID, "server /auth/siwe: no token in the answer");
		goto out;
	}
	snprintf(a->token, sizeof a->token, "%s", tok);
	log_info("signed in to the server", "server=%s", a->cfg.server_url);
out:
	json_decref(nonce);
	json_decref(res);
	return rc;
}

/* Authenticated request; signs in first (and once more after a 401). */
static int srv_auth_request(struct agent *a, long *st, const char *method, const char *path, json_t *body,
			    struct err *e)
{
	int rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!a->token[0] && (rc = srv_login(a, e)))
			return rc;
		rc = srv_request(a, st, NULL, method, path, body, e);
		if (rc != ERR_AUTH)
			return rc;
		a->token[0] = '\0';
	}
	return rc;
}

/* Keeps [A-Za-z0-9_-] of a model name ("NVIDIA A100 80GB" -> "NVIDIA_A100_80GB"), 31 chars. */
static void model_slug(char out[32], const char *name)
{
	size_t j = 0;

	for (const char *p = name; *p && j < 31; p++) {
		char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_')
			out[j++] = c;
		else if (j && out[j - 1] != '_')
			out[j++] = '_';
	}
	while (j && out[j - 1] == '_')
		j--;
	if (!j)
		out[j++] = 'G', out[j++] = 'P', out[j++] = 'U';
	out[j] = '\0';
}

static int register_host(struct agent *a, struct err *e)
{
	struct gpu_detect_opts go;
	struct gpubench_result bench;
	struct gpu_host *gh = calloc(1, sizeof *gh);
	json_t *body, *gpus;
	long st = 0;
	int rc;

	if (!gh)
		return err_set(e, ERR_NOMEM, "host: out of memory");
	memset(&go, 0, sizeof go);
	go.spec_path = a->cfg.gpu_spec;
	if ((rc = gpu_detect(gh, &go, e))) {
		free(gh);
		return rc;
	}
	/* Benchmark figures are display numbers (never money). Unbenchmarked (simulated, no nvcc, no
	 * GPU) hosts send no figures and no bench time: listed unverified, never a made-up number. */
	gpubench_run(&bench, NULL, 0, !gh->simulated && gh->gpu_count > 0, 0);
	if (!bench.verified)
		log_info("gpu benchmark unverified", "why=\"%s\"", bench.why);
	gpus = json_array();
	for (size_t i = 0; i < gh->gpu_count; i++) {
		char slug[32];
		json_t *g;
		model_slug(slug, gh->gpus[i].name);
		g = json_pack("{s:s, s:I}", "model", slug, "vram_mib", (json_int_t)gh->gpus[i].vram_mib);
		if (g && bench.verified && bench.fp32_tflops >= 0.001 && bench.fp32_tflops < 100000.0) {
			json_object_set_new(g, "fp32_mtflops", json_integer((json_int_t)(bench.fp32_tflops * 1000.0)));
			if (bench.fp16_tflops >= 0.001 && bench.fp16_tflops < 100000.0)
				json_object_set_new(g, "fp16_mtflops",
						    json_integer((json_int_t)(bench.fp16_tflops * 1000.0)));
			if (bench.mem_bw_gbps >= 1.0 && bench.mem_bw_gbps < 1000000.0)
				json_object_set_new(g, "mem_bw_gbps", json_integer((json_int_t)bench.mem_bw_gbps));
			json_object_set_new(g, "bench_at", json_integer((json_int_t)(clock_wall_ms() / 1000)));
		}
		json_array_append_new(gpus, g);
	}
	body = json_pack("{s:o, s:I, s:I, s:I, s:s, s:b, s:o}", "machine_id",
			 json_id(agent_machine_id(gh->facts.machine_id)), "cpu_cores",
			 (json_int_t)gh->facts.cpu_cores, "ram_gib", (json_int_t)(gh->facts.ram_mib / 1024),
			 "disk_gib", (json_int_t)(gh->facts.disk_free_mib / 1024), "endpoint", a->endpoint,
			 "simulated", gh->simulated, "gpus", gpus);
	if (body && gh->driver_version[0])
		json_object_set_new(body, "driver_version", json_string(gh->driver_version));
	rc = srv_auth_request(a, &st, "POST", "/hosts", body, e);
	if (!rc)
		log_info("host registered", "machine_id=%llu gpus=%zu simulated=%s",
			 (unsigned long long)agent_machine_id(gh->facts.machine_id), gh->gpu_count,
			 gh->simulated ? "true" : "false");
	json_decref(body);
	free(gh);
	return rc;
}

/* Reports one account to the server (POST /rentals/{id}/access). */
static int report_access(struct agent *a, uint64_t id, const char *user, struct err *e)
{
	char path[64];
	json_t *body;
	long st = 0;
	int rc;

	snprintf(path, sizeof path, "/rentals/%llu/access", (unsigned long long)id);
	body = json_pack("{s:s, s:i, s:s}", "host", a->cfg.ssh_host, "port", (int)a->cfg.ssh_port, "user",
			 user);
	rc = srv_auth_request(a, &st, "POST", path, body, e);
	json_decref(body);
	if (rc == ERR_NET && st == 409)
		rc = 0; /* already reported (e.g. before a restart) */
	if (!rc)
		log_info("access reported", "rental=%llu user=%s", (unsigned long long)id, user);
	return rc;
}

/*
 * Tells the server where to log in for each rental whose account is ready (active, key applied) and
 * not reported yet; a failure is retried on the next tick.
 */
static void report_ready_accounts(struct agent *a)
{
	struct agent_row *rows = NULL;
	size_t n = 0;
	struct err e = { 0, "" };

	pthread_mutex_lock(&a->mu);
	if (state_rows(a, &rows, &n, false, &e)) {
		pthread_mutex_unlock(&a->mu);
		log_warn("cannot read rentals for access reports", "err=\"%s\"", e.msg);
		return;
	}
	pthread_mutex_unlock(&a->mu);
	for (size_t i = 0; i < n; i++) {
		struct agent_row *w = &rows[i];
		char name[ACCOUNT_NAME_LEN + 1];
		struct account acc;
		struct err re = { 0, "" };

		if (w->access_reported || w->done || w->r.closed || !w->key_applied ||
		    lifecycle_account_name(name, a->cfg.chain_id, &a->cfg.escrow, a->instance, w->r.id, NULL) ||
		    account_load(&acc, &a->acct, name, NULL) || acc.phase != ACCOUNT_ACTIVE)
			continue;
		if (report_access(a, w->r.id, name, &re)) {
			log_debug("access report deferred", "rental=%llu err=\"%s\"",
				  (unsigned long long)w->r.id, re.msg);
			continue;
		}
		pthread_mutex_lock(&a->mu);
		state_mark(a, w->r.id, STATE_MARK_ACCESS_REPORTED, NULL);
		pthread_mutex_unlock(&a->mu);
	}
	state_rows_free(rows, n);
}

int report_tick(struct agent *a, struct err *e)
{
	uint64_t now = clock_mono_ms();
	json_t *body;
	long st = 0;
	int rc;

	report_ready_accounts(a); /* every tick: a renter is waiting for these */
	if (a->last_heartbeat_ms && now - a->last_heartbeat_ms < (uint64_t)a->cfg.heartbeat_s * 1000)
		return 0;
	a->last_heartbeat_ms = now;
	if (!a->host_registered) {
		/* retried every heartbeat period until it succeeds; heartbeats go on meanwhile */
		if (register_host(a, e))
			log_warn("host registration failed", "err=\"%s\"", e->msg);
		else
			a->host_registered = true;
		err_clear(e);
	}
	body = json_pack("{s:s}", "endpoint", a->endpoint);
	rc = srv_auth_request(a, &st, "POST", "/providers/heartbeat", body, e);
	json_decref(body);
	return rc;
}
