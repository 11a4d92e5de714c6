/*
 * store_write.c — the write path of `flopmarket serve`, at the store, for bench/replicas: what a publish
 * (POST /offers: one offer upsert and, on a shared store, one change-log row) and a sign-in (POST
 * /auth/siwe: the nonce recorded as used, a session created) write, each its own autocommit call as
 * the server makes them, N times on one thread and then on T threads at once. Prints ops/s.
 * The signature checks in front of those writes cost the same on every backend and are left out.
 *
 * Usage: store_write DB_URL [N] [THREADS]. DB_URL: sqlite:PATH or postgres://...
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/err.h"
#include "store/store.h"

struct job {
	struct store *st;
	unsigned id, n;
	int rc;
	char err[sizeof ((struct err *)0)->msg];
};

static void hex(char *out, unsigned a, unsigned b, unsigned c)
{
	snprintf(out, STORE_HASH_SIZE, "0x%016x%016x%016x%016x", a, b, c, 0x5eedu);
}

static int publish(struct store *st, unsigned job, unsigned i, struct err *e)
{
	static const char origin[] = "00000000000000000000000000000001";
	struct store_offer so;
	int64_t now = clock_wall_ms() / 1000;
	int rc;

	memset(&so, 0, sizeof so);
	hex(so.offer_hash, job, i, 1);
	so.machine_id = 7;
	snprintf(so.provider, sizeof so.provider, "0x%040x", job + 1);
	snprintf(so.payout, sizeof so.payout, "%s", so.provider);
	snprintf(so.token, sizeof so.token, "0x%040d", 0);
	snprintf(so.arbiter, sizeof so.arbiter, "0x%040d", 0);
	snprintf(so.monitor, sizeof so.monitor, "0x%040d", 0);
	snprintf(so.rate, sizeof so.rate, "277777777777777777777");
	so.min_secs = 60;
	so.max_secs = 86400;
	so.grace_secs = 600;
	hex(so.spec_hash, job, i, 2);
	so.expiry = now + 86400;
	snprintf(so.nonce, sizeof so.nonce, "%u", i);
	snprintf(so.signature, sizeof so.signature, "0x%0130x", i);
	snprintf(so.token_symbol, sizeof so.token_symbol, "ETH");
	so.token_decimals = 18;
	so.status = STORE_OFFER_ACTIVE;
	so.created_at = so.updated_at = now;
	so.capacity = 1;
	so.max_fee_bps = 1000;
	if ((rc = store_offer_put(st, &so, e)))
		return rc;
	return store_shared(st) ? store_change_note(st, so.provider, origin, now, e) : 0;
}

static int sign_in(struct store *st, unsigned job, unsigned i, struct err *e)
{
	char nonce[64], token[48], addr[STORE_ADDR_SIZE];
	int64_t now = clock_wall_ms() / 1000;
	int rc;

	snprintf(nonce, sizeof nonce, "%08x%08x%040u", job, i, 7u);
	snprintf(token, sizeof token, "tok-%08x-%08x-%016x", job, i, 0xabcdu);
	snprintf(addr, sizeof addr, "0x%040x", job + 1);
	if ((rc = store_nonce_issue(st, nonce, now, now + 300, e)))
		return rc;
	return store_session_create(st, (const uint8_t *)token, strlen(token), addr, now, now + 3600, e);
}

static unsigned round_no; /* which pass: keeps keys fresh across passes */

static void *run_publish(void *arg)
{
	struct job *j = arg;
	struct err e = { 0 };
	for (unsigned i = 0; i < j->n && !j->rc; i++)
		if ((j->rc = publish(j->st, j->id + round_no * 1000, i, &e)))
			snprintf(j->err, sizeof j->err, "%s", e.msg);
	return NULL;
}

static void *run_sign_in(void *arg)
{
	struct job *j = arg;
	struct err e = { 0 };
	for (unsigned i = 0; i < j->n && !j->rc; i++)
		if ((j->rc = sign_in(j->st, j->id + round_no * 1000, i, &e)))
			snprintf(j->err, sizeof j->err, "%s", e.msg);
	return NULL;
}

/* Runs fn on `threads` threads, n calls each; prints and returns ops/s (0 on a failure). */
static double pass(struct store *st, const char *what, void *(*fn)(void *), unsigned n, unsigned threads)
{
	pthread_t th[64];
	struct job jobs[64];
	uint64_t t0;
	double secs;

	round_no++;
	t0 = clock_mono_ms();
	for (unsigned t = 0; t < threads; t++) {
		jobs[t] = (struct job){ .st = st, .id = t, .n = n / threads, .rc = 0 };
		pthread_create(&th[t], NULL, fn, &jobs[t]);
	}
	for (unsigned t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	secs = (double)(clock_mono_ms() - t0) / 1000.0;
	for (unsigned t = 0; t < threads; t++)
		if (jobs[t].rc) {
			fprintf(stderr, "store_write: %s: %s\n", what, jobs[t].err);
			return 0;
		}
	printf("%-9s %-7s threads=%-2u %7u ops in %6.2f s: %9.0f ops/s\n", store_shared(st) ? "postgres" : "sqlite", what,
	       threads, n / threads * threads, secs, secs > 0 ? (double)(n / threads * threads) / secs : 0);
	return secs > 0 ? (double)(n / threads * threads) / secs : 0;
}

int main(int argc, char **argv)
{
	struct store *st = NULL;
	struct err e = { 0 };
	unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2000;
	unsigned threads = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 8;

	if (argc < 2 || !n || !threads || threads > 64) {
		fprintf(stderr, "usage: store_write DB_URL [N] [THREADS 1..64]\n");
		return 2;
	}
	if (store_open(&st, argv[1], &e)) {
		fprintf(stderr, "store_write: %s\n", e.msg);
		return 1;
	}
	{
		/* the providers the offers name (a foreign key of hosts, not of offers: no host needed) */
		struct store_provider p = { .first_seen = 1, .last_heartbeat = 1 };
		for (unsigned t = 0; t < 64; t++) {
			snprintf(p.address, sizeof p.address, "0x%040x", t + 1);
			store_provider_upsert(st, &p, NULL);
		}
	}
	int ok = pass(st, "publish", run_publish, n, 1) > 0 && pass(st, "publish", run_publish, n, threads) > 0 &&
		 pass(st, "sign-in", run_sign_in, n, 1) > 0 && pass(st, "sign-in", run_sign_in, n, threads) > 0;
	store_close(st);
	return ok ? 0 : 1;
}
