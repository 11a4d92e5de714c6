/*
 * ratelimit.c — token buckets in a set-associative table (see ratelimit.h).
 */
#include "net/ratelimit.h"

#include "core/err.h"

#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 8

struct entry {
	char key[RATELIMIT_KEY_MAX + 1]; /* "" when the slot is free */
	double tokens;                   /* tokens at last_ms */
	uint64_t last_ms;                /* time of the last refill */
};

struct ratelimit {
	pthread_mutex_t mu;                              /* guards slots */
	double rate_per_ms;                              /* refill rate */
	double burst;                                    /* bucket size */
	size_t nsets;                                    /* power of two */
	uint8_t hkey[crypto_shorthash_KEYBYTES];         /* SipHash key */
	struct entry *slots;                             /* nsets * WAYS */
};

int ratelimit_new(struct ratelimit **out, double rate_per_s, double burst, size_t slots,
		  struct err *e)
{
	struct ratelimit *rl;
	size_t n = WAYS;

	if (!(rate_per_s > 0) || !(burst >= 1) || slots < WAYS || slots > RATELIMIT_SLOTS_MAX)
		return err_set(e, ERR_INVALID, "ratelimit: rate, burst or slots out of range");
	while (n < slots)
		n <<= 1;
	if (sodium_init() < 0)
		return err_set(e, ERR_CRYPTO, "ratelimit: libsodium init failed");
	rl = calloc(1, sizeof *rl);
	if (!rl || !(rl->slots = calloc(n, sizeof *rl->slots))) {
		free(rl);
		return err_set(e, ERR_NOMEM, "ratelimit: out of memory");
	}
	pthread_mutex_init(&rl->mu, NULL);
	rl->rate_per_ms = rate_per_s / 1000.0;
	rl->burst = burst;
	rl->nsets = n / WAYS;
	crypto_shorthash_keygen(rl->hkey);
	*out = rl;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl->slots);
	free(rl);
}

static double refilled(const struct ratelimit *rl, const struct entry *en, uint64_t now_ms)
{
	double t = en->tokens;
	if (now_ms > en->last_ms)
		t += (double)(now_ms - en->last_ms) * rl->rate_per_ms;
	return t > rl->burst ? rl->burst : t;
}

bool ratelimit_take(struct ratelimit *rl, const char *key, uint64_t now_ms,
		    uint32_t *retry_after_s)
{
	char k[RATELIMIT_KEY_MAX + 1];
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t hv = 0;
	struct entry *set, *en = NULL, *victim = NULL;
	double best = -1;
	bool ok;

	strncpy(k, key ? key : "", RATELIMIT_KEY_MAX);
	k[RATELIMIT_KEY_MAX] = 0;
	if (!k[0])
		strcpy(k, "-");
	crypto_shorthash(h, (const uint8_t *)k, strlen(k), rl->hkey);
	for (int i = 0; i < 8; i++)
		hv = hv << 8 | h[i];
	pthread_mutex_lock(&rl->mu);
	set = &rl->slots[(hv & (rl->nsets - 1)) * WAYS];
	for (int i = 0; i < WAYS && !en; i++)
		if (strcmp(set[i].key, k) == 0)
			en = &set[i];
	if (!en) {
		for (int i = 0; i < WAYS; i++) {
			double t = set[i].key[0] ? refilled(rl, &set[i], now_ms) : 1e300;
			if (t > best || (t == best && set[i].last_ms < victim->last_ms)) {
				best = t;
				victim = &set[i];
			}
		}
		en = victim;
		strcpy(en->key, k);
		en->tokens = rl->burst;
		en->last_ms = now_ms;
	}
	en->tokens = refilled(rl, en, now_ms);
	if (now_ms > en->last_ms)
		en->last_ms = now_ms;
	ok = en->tokens >= 1.0;
	if (ok) {
		en->tokens -= 1.0;
	} else if (retry_after_s) {
		double s = ceil((1.0 - en->tokens) / rl->rate_per_ms / 1000.0);
		*retry_after_s = s < 1 ? 1 : s > 86400 ? 86400 : (uint32_t)s;
	}
	pthread_mutex_unlock(&rl->mu);
	return ok;
}
