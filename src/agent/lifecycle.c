/*
 * lifecycle.c — each followed rental's Unix account, driven by the chain (Terms + newest state
 * word) and chain time: the latest block's timestamp carried forward between blocks (chain_clock.h),
 * never the host's wall clock, so a renter is not cut off by a host clock that runs ahead of the chain
 * that bills them, and access still ends on time on a chain that mines only on transactions.
 *
 * What a rental should have at chain time `now` (lifecycle_want):
 *   closed on chain, or ended (stopped / settled / disputed)   -> gone (teardown)
 *   active, now < end (end = paidUntil, or stopAt if earlier)  -> active (once a key arrived)
 *   reclaim notice over (now >= stopAt <= paidUntil)           -> gone
 *   runout, now < paidUntil + graceSecs                        -> frozen (files kept)
 *   runout, grace over                                         -> gone
 * An account that reached "gone" is marked done and never re-created. Each step is one idempotent
 * account.h call, so a tick interrupted by a crash is simply repeated after the restart. On the
 * first tick after a start every account the agent owns whose rental is not followed, or done, is
 * torn down too (reconcile). Interruptible rentals under reclaim notice: the renter's terminals get
 * a wall message at once and again near the end of the notice.
 */
#include "agent/agent_int.h"

#include "agent/instances.h"
#include "agent/state.h"
#include "agent/jupyter.h"
#include "agent/terminal.h"

#include "core/clock.h"
#include "core/err.h"
#include "core/log.h"
#include "escrow/mirror.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SWEEP_EVERY_MS 10000
#define WALL_PIDS_MAX 4096

int lifecycle_account_name(char name13[ACCOUNT_NAME_LEN + 1], uint64_t chain_id,
			   const struct eth_address *escrow, const char *instance, uint64_t id, struct err *e)
{
	char s[ACCOUNT_RENTAL_ID_MAX + 1];
	int rc = account_rental_scope(s, sizeof s, chain_id, escrow, instance, id, e);

	return rc ? rc : account_name_for_rental(name13, s, e);
}

enum lifecycle_want lifecycle_want(const struct agent_rental *r, uint64_t now)
{
	struct escrow_view v;
	uint64_t end;

	if (r->closed || escrow_state_view(&v, &r->t, &r->word, NULL) || v.phase != ESCROW_PHASE_ACTIVE)
		return WANT_GONE;
	end = v.paid_until;
	if (v.stop_at && v.stop_at < end)
		end = v.stop_at;
	if (now < end)
		return WANT_ACTIVE;
	if (v.stop_at && v.stop_at <= v.paid_until)
		return WANT_GONE;
	if (now < v.paid_until + r->t.grace_secs)
		return WANT_FROZEN;
	return WANT_GONE;
}

/* Writes `msg` to every terminal a process of `uid` has open on fd 0-2 (like wall(1), per user). */
static unsigned wall_user(long uid, const char *msg)
{
	char seen[16][64];
	unsigned nseen = 0, sent = 0, pids = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d || uid < 1000) {
		if (d)
			closedir(d);
		return 0;
	}
	while ((de = readdir(d)) && pids++ < WALL_PIDS_MAX) {
		char p[64], tty[64];
		struct stat st;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(p, sizeof p, "/proc/%.16s", de->d_name);
		if (stat(p, &st) || (long)st.st_uid != uid)
			continue;
		for (int fd = 0; fd < 3; fd++) {
			ssize_t k;
			bool dup = false;
			int t;

			snprintf(p, sizeof p, "/proc/%.16s/fd/%d", de->d_name, fd);
			k = readlink(p, tty, sizeof tty - 1);
			if (k <= 0)
				continue;
			tty[k] = '\0';
			if (strncmp(tty, "/dev/pts/", 9) != 0)
				continue;
			for (unsigned i = 0; i < nseen; i++)
				dup = dup || strcmp(seen[i], tty) == 0;
			if (dup || nseen == 16)
				continue;
			strcpy(seen[nseen++], tty);
			/* the terminal must belong to the user: never write to someone else's */
			t = open(tty, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
			if (t < 0)
				continue;
			if (!fstat(t, &st) && (long)st.st_uid == uid && write(t, msg, strlen(msg)) > 0)
				sent++;
			close(t);
		}
	}
	closedir(d);
	return sent;
}

/* Reclaim notice: wall messages at once and again near the end. */
static void reclaim_warn(struct agent *a, struct agent_row *w, const struct account *acc, uint64_t now)
{
	struct escrow_view v;
	char msg[512];
	uint64_t last;

	if (escrow_state_view(&v, &w->r.t, &w->r.word, NULL) || !v.stop_at || w->warned >= 2)
		return;
	last = w->r.t.notice_secs / 5 < 60 ? w->r.t.notice_secs / 5 : 60;
	if (w->warned == 1 && now + last < v.stop_at)
		return;
	snprintf(msg, sizeof msg,
		 "\r\n\a*** flopmarket: the provider has reclaimed this machine (rental %llu).\r\n"
		 "*** Access ends in %llu seconds (at unix time %llu); save your work now.\r\n"
		 "*** Your unused deposit is refunded when the rental is settled.\r\n",
		 (unsigned long long)w->r.id, (unsigned long long)(v.stop_at > now ? v.stop_at - now : 0),
		 (unsigned long long)v.stop_at);
	unsigned n = wall_user(acc->uid, msg);
	w->warned = w->warned == 0 && now + last < v.stop_at ? 1 : 2;
	pthread_mutex_lock(&a->mu);
	state_set_warned(a, w->r.id, w->warned);
	pthread_mutex_unlock(&a->mu);
	log_info("reclaim notice sent", "rental=%llu terminals=%u stop_at=%llu", (unsigned long long)w->r.id,
		 n, (unsigned long long)v.stop_at);
}

static void mark(struct agent *a, uint64_t id, enum state_mark m)
{
	pthread_mutex_lock(&a->mu);
	state_mark(a, id, m, NULL);
	pthread_mutex_unlock(&a->mu);
}

/* The rental's instance, when rentals are instances: made, started again, or left as it is. */
static int instance_up(struct agent *a, const struct account *acc, const struct agent_row *w, struct err *e)
{
	uint64_t t0 = clock_mono_ms();
	int rc;

	if (!a->inst)
		return 0;
	if ((rc = instances_ensure(a->inst, acc, w->image[0] ? w->image : NULL, e)))
		return rc;
	log_debug("rental instance up", "rental=%llu name=%s took_ms=%llu", (unsigned long long)w->r.id, acc->name,
		  (unsigned long long)(clock_mono_ms() - t0));
	return 0;
}

static int instance_freeze(struct agent *a, const char *name, struct err *e)
{
	return a->inst ? instances_freeze(a->inst, name, e) : 0;
}

static int drive(struct agent *a, struct agent_row *w, uint64_t now, bool sweep, struct err *e)
{
	char name[ACCOUNT_NAME_LEN + 1], id_s[24], scope[ACCOUNT_RENTAL_ID_MAX + 1];
	enum lifecycle_want want = lifecycle_want(&w->r, now);
	struct account acc;
	bool exists;
	int rc;

	/* id_s names the rental to the terminal; scope names its account. */
	if ((rc = account_rental_scope(scope, sizeof scope, a->cfg.chain_id, &a->cfg.escrow, a->instance,
					 w->r.id, e)) ||
	    (rc = account_name_for_rental(name, scope, e)))
		return rc;
	snprintf(id_s, sizeof id_s, "%llu", (unsigned long long)w->r.id);
	exists = account_load(&acc, &a->acct, name, NULL) == 0;
	switch (want) {
	case WANT_GONE:
		if (a->term)
			terminal_close_rental(a->term, id_s);
		jupyter_close_rental(a->jup, id_s);
		/* the instance first: what runs in it dies with it, then the account that entered it */
		if (a->inst && (rc = instances_remove(a->inst, name, e)))
			return rc;
		if ((rc = account_teardown(&a->acct, name, e)))
			return rc;
		mark(a, w->r.id, STATE_MARK_DONE);
		if (exists)
			log_info("rental account removed", "rental=%llu user=%s", (unsigned long long)w->r.id,
				 name);
		return 0;
	case WANT_FROZEN:
		if (exists && acc.phase == ACCOUNT_ACTIVE) {
			if (a->term)
				terminal_close_rental(a->term, id_s);
			jupyter_revoke_rental(a->jup, id_s); /* the server is frozen with the account */
			if ((rc = account_freeze(&a->acct, name, e)) || (rc = instance_freeze(a, name, e)))
				return rc;
			log_info("rental frozen (runout)", "rental=%llu user=%s", (unsigned long long)w->r.id,
				 name);
		} else if (exists && acc.phase == ACCOUNT_CREATING) {
			/* half made and already out of time: finish it frozen on the next tick */
			if (w->has_key && !(rc = account_create(&acc, &a->acct, scope, w->ssh_key, e)) &&
			    !(rc = instance_up(a, &acc, w, e)) && !(rc = account_freeze(&a->acct, name, e)))
				rc = instance_freeze(a, name, e);
			return rc;
		} else if (exists && acc.phase == ACCOUNT_FROZEN && sweep) {
			/* after a restart or a reboot: the instance is there and stays frozen */
			if (!(rc = instance_up(a, &acc, w, e)))
				rc = instance_freeze(a, name, e);
			return rc;
		}
		return 0;
	case WANT_ACTIVE:
		if (!w->has_key)
			return 0;
		if (!exists || acc.phase == ACCOUNT_CREATING || !w->key_applied) {
			uint64_t t0 = clock_mono_ms();
			if ((rc = account_create(&acc, &a->acct, scope, w->ssh_key, e)) ||
			    (rc = instance_up(a, &acc, w, e)))
				return rc;
			mark(a, w->r.id, STATE_MARK_KEY_APPLIED);
			log_info("rental account ready", "rental=%llu user=%s took_ms=%llu",
				 (unsigned long long)w->r.id, name,
				 (unsigned long long)(clock_mono_ms() - t0));
		}
		if (acc.phase == ACCOUNT_FROZEN) {
			if ((rc = instance_up(a, &acc, w, e)) || (a->inst && (rc = instances_thaw(a->inst, name, e))) ||
			    (rc = account_thaw(&a->acct, name, e)))
				return rc;
			log_info("rental thawed (extended)", "rental=%llu user=%s", (unsigned long long)w->r.id,
				 name);
		}
		if (sweep) {
			account_sweep(&a->acct, name, NULL, NULL);
			/* an instance that vanished (a reboot, podman rm by hand) comes back */
			if ((rc = instance_up(a, &acc, w, e)))
				return rc;
		}
		reclaim_warn(a, w, &acc, now);
		return 0;
	default:
		return 0;
	}
}

/* An instance is kept while this agent has an account of its name (reconcile removed the rest). */
static bool instance_owned(const char *name, void *arg)
{
	struct agent *a = arg;
	struct account acc;

	return account_load(&acc, &a->acct, name, NULL) == 0;
}

/* Tears down every owned account whose rental is not followed or is done (and its instance). */
static void reconcile(struct agent *a, const struct agent_row *rows, size_t n)
{
	struct account *accs = NULL;
	size_t na = 0;
	unsigned kept = 0, removed = 0;
	struct err e = { 0, "" };

	if (account_list(&accs, &na, &a->acct, &e)) {
		log_warn("cannot list accounts", "err=\"%s\"", e.msg);
		return;
	}
	for (size_t i = 0; i < na; i++) {
		bool live = false;
		/* an account records its scoped rental id (account_rental_scope), not the bare chain id */
		for (size_t j = 0; j < n && !live; j++) {
			char s[ACCOUNT_RENTAL_ID_MAX + 1];
			live = !rows[j].done &&
			       account_rental_scope(s, sizeof s, a->cfg.chain_id, &a->cfg.escrow, a->instance,
						    rows[j].r.id, NULL) == 0 &&
			       strcmp(s, accs[i].rental_id) == 0;
		}
		if (live) {
			kept++;
			continue;
		}
		removed++;
		err_clear(&e);
		if (a->inst && instances_remove(a->inst, accs[i].name, &e))
			log_warn("orphan instance removal failed", "user=%s err=\"%s\"", accs[i].name, e.msg);
		else if (account_teardown(&a->acct, accs[i].name, &e))
			log_warn("orphan account teardown failed", "user=%s err=\"%s\"", accs[i].name, e.msg);
		else
			log_info("orphan account removed", "user=%s rental=%s", accs[i].name, accs[i].rental_id);
	}
	free(accs);
	if (a->inst)
		instances_reconcile(a->inst, instance_owned, a);
	log_info("accounts reconciled", "kept=%u removed=%u", kept, removed);
}

int lifecycle_tick(struct agent *a, bool first, struct err *e)
{
	struct agent_row *rows = NULL;
	size_t n = 0;
	bool sweep = false;
	int rc, first_rc = 0;

	pthread_mutex_lock(&a->mu);
	rc = state_rows(a, &rows, &n, false, e);
	pthread_mutex_unlock(&a->mu);
	if (rc)
		return rc;
	if (first)
		reconcile(a, rows, n);
	if (clock_mono_ms() - a->last_sweep_ms >= SWEEP_EVERY_MS) {
		sweep = true;
		a->last_sweep_ms = clock_mono_ms();
	}
	for (size_t i = 0; i < n; i++) {
		struct err de = { 0, "" };
		if (rows[i].done)
			continue;
		if ((rc = drive(a, &rows[i], a->access_now, sweep, &de))) {
			log_warn("rental account step failed", "rental=%llu err=\"%s\"",
				 (unsigned long long)rows[i].r.id, de.msg);
			if (!first_rc) {
				first_rc = rc;
				err_set(e, rc, "rental %llu: %s", (unsigned long long)rows[i].r.id, de.msg);
			}
		}
	}
	state_rows_free(rows, n);
	return first_rc;
}
