/*
 * daemon.c — the agent's main loop: start (state, sender, account recovery, the HTTP endpoint), the
 * ticks, stop. Its state db is state.c, its HTTP endpoint endpoint.c. See agent.h for the whole picture.
 *
 * The loop, every poll_ms or as soon as a key arrives: read confirmed escrow events (watcher.c),
 * bring accounts to what the chain says (lifecycle.c), claim / settle / poll the sender and report
 * to the server (claims.c). Nothing in a tick is fatal: errors are logged and the next tick retries.
 */
#include "agent/agent_int.h"
#include "agent/hostkeys.h"

#include "agent/instances.h"

#include "agent/state.h"

#include "agent/account.h"
#include "agent/limits.h"
#include "agent/jupyter.h"
#include "agent/terminal.h"
#include "escrow/client.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "eth/eip191.h"
#include "eth/secp.h"
#include "net/http.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define AGENT_SENDER_DB "sender.db"
#define AGENT_SERVER_TIMEOUT_MS 10000L /* one request to the marketplace server */















/* ------------------------------------------------------------------ HTTP endpoint */










/* ------------------------------------------------------------------ main loop */



static int agent_start(struct agent *a, struct err *e)
{
	uint64_t chain = 0;
	char path[ACCOUNT_PATH_MAX + 32];
	struct account_recovery rec;
	int rc;

	if (!a->cfg.rpc_url || !a->cfg.data_dir || !a->cfg.chain_id || address_is_zero(&a->cfg.escrow))
		return err_set(e, ERR_INVALID, "agent: rpc_url, data_dir, chain_id and escrow are required");
	if (!a->cfg.ssh_host)
		a->cfg.ssh_host = "127.0.0.1";
	if (!a->cfg.ssh_port)
		a->cfg.ssh_port = 22;
	if (!a->cfg.listen_addr)
		a->cfg.listen_addr = "127.0.0.1";
	if (!a->cfg.poll_ms)
		a->cfg.poll_ms = 1000;
	if (!a->cfg.claim_interval_s)
		a->cfg.claim_interval_s = 3600;
	if (!a->cfg.heartbeat_s)
		a->cfg.heartbeat_s = 60;
	if (!a->cfg.batch_blocks)
		a->cfg.batch_blocks = 2000;
	if ((rc = state_dir_make(a->cfg.data_dir, e)))
		return rc;
	if ((rc = hostkeys_load(&a->host_keys, &a->host_key_fps, a->cfg.ssh_host_keys, a->cfg.n_ssh_host_keys, e)))
		return rc;
	if (json_array_size(a->host_keys) == 0)
		log_warn("no SSH host key found: renters cannot pin this host's key (give --ssh-host-key FILE.pub)",
			 "%s", "");
	for (size_t i = 0; i < json_array_size(a->host_key_fps); i++)
		log_info("ssh host key", "fingerprint=%s", json_string_value(json_array_get(a->host_key_fps, i)));
	a->acct = a->cfg.acct;
	{
		/* Safe limits unless the provider set them (limits.h): one renter never takes the host. */
		struct rental_limits lim;
		struct err le = { 0 };
		if (limits_read_host(&lim, &le) == 0) {
			if (!a->acct.memory_max_bytes)
				a->acct.memory_max_bytes = lim.memory_max_bytes;
			if (!a->acct.pids_max)
				a->acct.pids_max = lim.pids_max;
			if (!a->acct.cpu_weight)
				a->acct.cpu_weight = lim.cpu_weight;
		} else {
			log_warn("cannot derive rental limits from the host", "err=\"%s\"", le.msg);
		}
		log_info("rental limits", "memory_max_bytes=%" PRIu64 " pids_max=%" PRIu64 " cpu_weight=%u",
			 a->acct.memory_max_bytes, a->acct.pids_max, a->acct.cpu_weight);
	}
	if (!a->acct.state_dir) {
		snprintf(a->acct_state_dir, sizeof a->acct_state_dir, "%s/accounts", a->cfg.data_dir);
		a->acct.state_dir = a->acct_state_dir;
	}
	if ((rc = secp_address(&a->provider, a->cfg.seckey32, e)))
		return rc;
	if ((rc = rpc_init(&a->rpc, a->cfg.rpc_url, NULL, e)))
		return rc;
	if ((rc = rpc_chain_id(&a->rpc, &chain, e))) {
		err_wrap(e, "chain %s", a->cfg.rpc_url);
		return rc;
	}
	if (chain != a->cfg.chain_id)
		return err_set(e, ERR_CONFLICT, "wrong network: the node at %s is chain %llu, the deployment is chain %llu",
			       a->cfg.rpc_url, (unsigned long long)chain, (unsigned long long)a->cfg.chain_id);
	if ((rc = state_open(a, e)))
		return rc;
	if (a->cfg.server_url) {
		if ((rc = api_client_init(&a->api, a->cfg.server_url, e)))
			return rc;
		a->api.timeout_ms = AGENT_SERVER_TIMEOUT_MS;
	}
	if (!a->cfg.no_claims) {
		snprintf(path, sizeof path, "%s/%s", a->cfg.data_dir, AGENT_SENDER_DB);
		/* the same headroom as escrow_send: claims and settles mined a little after their estimate */
		struct sender_opts so = { .gas_headroom = ESCROW_GAS_HEADROOM };
		if ((rc = sender_open(&a->sender, path, &a->rpc, a->cfg.seckey32, a->cfg.chain_id, &so, e)))
			return rc;
		state_restrict_db(path);
	}
	if (a->cfg.containers) {
		/* before any account is made or recovered: their login shells enter instances */
		if ((rc = instances_start(&a->inst, &a->cfg.inst, a->instance, &a->acct, a->cfg.data_dir, e)))
			return rc;
	}
	memset(&rec, 0, sizeof rec);
	if ((rc = account_recover(&rec, &a->acct, e)))
		log_warn("account recovery incomplete", "err=\"%s\"", e->msg);
	log_info("accounts recovered", "restored=%u rolled_back=%u torn_down=%u failed=%u", rec.restored,
		 rec.rolled_back, rec.torn_down, rec.failed);
	err_clear(e);

	if ((rc = endpoint_start(a, e)))
		return rc;
	{
		char who[ADDRESS_STR_MAX];
		address_to_checksum(who, &a->provider);
		log_info("agent started", "provider=%s endpoint=%s chain=%llu confirmations=%u", who,
			 a->endpoint, (unsigned long long)a->cfg.chain_id,
			 a->cfg.confirmations);
	}
	return 0;
}

static void agent_stop(struct agent *a)
{
	terminal_stop(a->term); /* upgraded sockets first, then the HTTP server */
	jupyter_free(a->jup);   /* its pumps' sockets too; its servers end (kernels do not outlive the agent) */
	a->jup = NULL;
	http_server_free(a->http);
	a->http = NULL;
	terminal_free(a->term);
	a->term = NULL;
	instances_stop(a->inst);
	a->inst = NULL;
	sender_close(a->sender);
	a->sender = NULL;
	if (a->db)
		sqlite3_close(a->db);
	a->db = NULL;
	rpc_release(&a->rpc);
	api_client_release(&a->api);
	json_decref(a->host_keys);
	json_decref(a->host_key_fps);
	a->host_keys = a->host_key_fps = NULL;
}

/* One round; returns true once the first reconcile ran (against a chain read up to its head). */
static bool tick(struct agent *a, bool first)
{
	struct err e = { 0, "" };
	struct rpc_block b;
	bool caught_up = false;

	if (watcher_poll(a, &caught_up, &e))
		log_warn("chain watch failed", "err=\"%s\"", e.msg);
	/* reconcile orphans only against a chain read up to its head */
	if (first && !caught_up)
		return false;
	err_clear(&e);
	if (!rpc_get_block(&a->rpc, &b, "latest", &e))
		a->chain_now = b.timestamp;
	else
		log_warn("latest block unavailable", "err=\"%s\"", e.msg);
	/* access ends on time even when no block comes (a chain that mines only on transactions) */
	pthread_mutex_lock(&a->mu);
	chain_clock_observe(&a->clock, a->chain_now, clock_mono_ms());
	a->access_now = chain_clock_now(&a->clock, clock_mono_ms());
	pthread_mutex_unlock(&a->mu);
	err_clear(&e);
	if (a->chain_now && lifecycle_tick(a, first, &e))
		log_warn("account upkeep failed", "err=\"%s\"", e.msg);
	err_clear(&e);
	if (a->sender && a->chain_now && claims_tick(a, &e))
		log_warn("claims failed", "err=\"%s\"", e.msg);
	err_clear(&e);
	if (a->cfg.server_url && report_tick(a, &e))
		log_warn("server report failed", "err=\"%s\"", e.msg);
	return a->chain_now != 0;
}

int agent_run(const struct agent_cfg *cfg, volatile sig_atomic_t *stop, struct err *e)
{
	struct agent *a = calloc(1, sizeof *a);
	bool reconciled = false;
	int rc;

	if (!a)
		return err_set(e, ERR_NOMEM, "agent: out of memory");
	a->cfg = *cfg;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	rc = agent_start(a, e);
	while (!rc && !*stop) {
		struct timespec ts;
		uint64_t t0 = clock_mono_ms();

		if (tick(a, !reconciled))
			reconciled = true;
		uint64_t spent = clock_mono_ms() - t0;
		unsigned wait_ms = spent >= a->cfg.poll_ms ? 1 : (unsigned)(a->cfg.poll_ms - spent);
		ts = clock_deadline(CLOCK_REALTIME, wait_ms);
		pthread_mutex_lock(&a->mu);
		while (!a->wake && !*stop) {
			if (pthread_cond_timedwait(&a->cv, &a->mu, &ts) == ETIMEDOUT)
				break;
		}
		a->wake = false;
		pthread_mutex_unlock(&a->mu);
	}
	agent_stop(a);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	sodium_memzero(a->cfg.seckey32, sizeof a->cfg.seckey32);
	free(a);
	if (!rc)
		log_info("agent stopped", "%s", "");
	return rc;
}
