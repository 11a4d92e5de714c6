/*
 * reports.c — what the agent tells the marketplace server (only with cfg.server_url), through the shared
 * client (market/api_client.h): sign in with SIWE as the provider key, POST /hosts once (gpu_detect:
 * simulated GPUs are flagged), POST /providers/heartbeat every heartbeat_s, and, every tick, POST
 * /rentals/{id}/access once per account the lifecycle made ready. A 401 drops the session and signs in
 * again. Failures are retried; they never stop the agent.
 */
#include "agent/agent_int.h"

#include "agent/instances.h"

#include "agent/account.h"
#include "agent/gpu.h"
#include "agent/gpubench.h"
#include "agent/state.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "market/api_client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORTS_PER_TICK 64 /* access reports sent per tick at most (the rest go on the next) */


/* SIWE sign-in with the provider key. */
static int sign_in(struct agent *a, struct err *e)
{
	struct api_sign_in in = { .seckey32 = a->cfg.seckey32, .address = a->provider,
				  .chain_id = a->cfg.chain_id, .statement = "Flopmarket provider agent" };
	int rc = api_sign_in(&a->api, &in, NULL, e);

	if (!rc)
		log_info("signed in to the server", "server=%s", a->api.base);
	return rc;
}

/* POST of a JSON body as the provider; signs in first (and once more after a 401/403). */
static int authed_post(struct agent *a, const char *path, json_t *body, struct err *e)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int rc = 0;

	if (!text)
		return err_set(e, ERR_NOMEM, "server %s: cannot encode the body", path);
	for (int attempt = 0; attempt < 2; attempt++) {
		json_t *answer = NULL;

		if (!a->api.token[0] && (rc = sign_in(a, e)))
			break;
		rc = api_request(&a->api, &answer, NULL, "POST", path, text, e);
		json_decref(answer);
		if (rc != ERR_AUTH)
			break;
		a->api.token[0] = '\0';
	}
	free(text);
	return rc;
}

static int register_host(struct agent *a, struct err *e)
{
	struct gpu_detect_opts go;
	struct gpubench_result bench;
	struct gpu_host *gh = calloc(1, sizeof *gh);
	json_t *body, *gpus;
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
		gpu_model_slug(slug, gh->gpus[i].name);
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
	if (body) {
		/* how rentals are isolated, and the instance images renters may choose (the default first) */
		json_t *names = json_array();
		json_object_set_new(body, "isolation", json_string(a->inst ? "container" : "account"));
		json_object_set_new(body, "jupyter", json_boolean(a->jup != NULL)); /* a notebook per rental */
		if (a->inst) {
			json_t *imgs = instances_images_json(a->inst);
			size_t i;
			json_t *v;
			json_array_foreach(imgs, i, v)
				json_array_append(names, json_object_get(v, "name"));
			json_decref(imgs);
		}
		json_object_set_new(body, "images", names);
	}
	rc = authed_post(a, "/hosts", body, e);
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
	int rc;

	snprintf(path, sizeof path, "/rentals/%llu/access", (unsigned long long)id);
	body = json_pack("{s:s, s:i, s:s, s:O}", "host", a->cfg.ssh_host, "port", (int)a->cfg.ssh_port, "user",
			 user, "host_keys", a->host_keys);
	rc = authed_post(a, path, body, e);
	json_decref(body);
	if (rc == ERR_CONFLICT)
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
	uint64_t ids[REPORTS_PER_TICK];
	size_t n = 0;
	struct err e = { 0, "" };
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = state_unreported(a, ids, REPORTS_PER_TICK, &n, &e);
	pthread_mutex_unlock(&a->mu);
	if (rc) {
		log_warn("cannot read rentals for access reports", "err=\"%s\"", e.msg);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char name[ACCOUNT_NAME_LEN + 1];
		struct account acc;
		struct err re = { 0, "" };

		if (lifecycle_account_name(name, a->cfg.chain_id, &a->cfg.escrow, a->instance, ids[i], NULL) ||
		    account_load(&acc, &a->acct, name, NULL) || acc.phase != ACCOUNT_ACTIVE)
			continue;
		if ((rc = report_access(a, ids[i], name, &re))) {
			log_debug("access report deferred", "rental=%llu err=\"%s\"", (unsigned long long)ids[i],
				  re.msg);
			if (rc == ERR_NET || rc == ERR_TIMEOUT || rc == ERR_AUTH)
				break; /* the server is away: one wait per tick, not one per account */
			continue;
		}
		pthread_mutex_lock(&a->mu);
		state_mark(a, ids[i], STATE_MARK_ACCESS_REPORTED, NULL);
		pthread_mutex_unlock(&a->mu);
	}
}

int report_tick(struct agent *a, struct err *e)
{
	uint64_t now = clock_mono_ms();
	json_t *body;
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
	rc = authed_post(a, "/providers/heartbeat", body, e);
	json_decref(body);
	return rc;
}
