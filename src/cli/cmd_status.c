/*
 * cmd_status.c — `flopmarket status [rental] [--watch] [--wallet NAME] [--json]`: a rental's time and
 * money from the chain itself, exact to the token's smallest unit.
 *
 * The state word comes from the escrow's `rentals(rentalKey(terms))` view and the clock from the
 * latest block's timestamp; src/escrow/mirror.h turns them into elapsed (billed) seconds, accrued cost,
 * what remains in escrow, time left and the burn rate, exactly as the contract would compute them in
 * that block. A closed rental's slot is deleted on chain: it shows as closed. `--watch` redraws every
 * second until the rental ends or Ctrl-C. Without a rental id: the wallet's rentals, from the server
 * when one is configured (GET /me/rentals), else from the local records (session.h).
 */
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "core/err.h"
#include "core/json.h"
#include "escrow/client.h"
#include "escrow/mirror.h"

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop_watch;

static void on_sigint(int sig)
{
	(void)sig;
	stop_watch = 1;
}

static int status_usage(void)
{
	fprintf(stderr, "usage: flopmarket status [RENTAL] [--watch] [--wallet NAME] [--server URL]\n");
	return EXIT_USAGE;
}

/* Prints one rental's figures at the latest block. *active is false once it has ended or closed. */
static int status_show(struct cli_session *s, const struct escrow_terms *t, const struct cli_token *tok,
		       bool *active, struct err *e)
{
	struct rpc_block head;
	struct escrow_view v;
	struct escrow_quote q;
	u256 word, hourly;
	char a[160], b[160], c[160], d[160], el[48], left[48];
	int rc;

	if ((rc = escrow_rental_word(&s->rpc, &word, &s->escrow, t, e)) ||
	    (rc = rpc_get_block(&s->rpc, &head, "latest", e)))
		goto out;
	printf("rental %" PRIu64 "   (chain %" PRIu64 ", block %" PRIu64 ", time %" PRIu64 ")\n", t->id,
	       s->chain_id, head.number, head.timestamp);
	escrow_cost(&hourly, &t->rate, 3600, NULL);
	cli_token_format(a, sizeof a, tok, &hourly);
	printf("  rate:        %s per hour (burn rate while running; fee %u bps included)\n", a, t->fee_bps);
	if (u256_is_zero(&word)) {
		printf("  state:       closed (all paid out; see `flopmarket receipts`)\n");
		*active = false;
		goto out;
	}
	if ((rc = escrow_state_view(&v, t, &word, e)) || (rc = escrow_mirror_quote(&q, t, &word, head.timestamp, e)))
		goto out;
	*active = v.phase == ESCROW_PHASE_ACTIVE;
	{
		u256 remaining;
		uint64_t end = v.paid_until, tl;
		if (v.stop_at && v.stop_at < end)
			end = v.stop_at;
		tl = *active && end > head.timestamp ? end - head.timestamp : 0;
		if (u256_sub(&remaining, &v.deposited, &q.cost))
			remaining = u256_from_u64(0);
		cli_fmt_duration(el, sizeof el, q.billed_secs);
		cli_fmt_duration(left, sizeof left, tl);
		cli_token_format(a, sizeof a, tok, &q.cost);
		cli_token_format(b, sizeof b, tok, &remaining);
		cli_token_format(c, sizeof c, tok, &v.deposited);
		cli_token_format(d, sizeof d, tok, &q.refund_if_stopped);
		printf("  state:       %s%s\n",
		       v.phase == ESCROW_PHASE_ACTIVE ? (head.timestamp >= v.paid_until ? "paused (paid time used up; "
											  "extend within the grace period)"
											: "running")
		       : v.phase == ESCROW_PHASE_ENDED ? "ended (held share waits for the dispute window)"
						       : "disputed",
		       v.stop_at ? " — the provider reclaimed it (interruptible)" : "");
		if (v.stop_at)
			printf("  WARNING:     access and billing end at %" PRIu64 " (in %" PRId64
			       " s): save your work\n", v.stop_at,
			       (int64_t)v.stop_at > (int64_t)head.timestamp
				       ? (int64_t)v.stop_at - (int64_t)head.timestamp : 0);
		printf("  elapsed:     %s (%" PRIu64 " s billed)\n", el, q.billed_secs);
		{
			char units[U256_DEC_MAX];
			u256_to_dec(units, &q.cost);
			printf("  accrued:     %s (%s units)\n", a, units);
		}
		printf("  deposited:   %s\n", c);
		printf("  remaining:   %s\n", b);
		if (*active) {
			printf("  time left:   %s (paid until %" PRIu64 ")\n", left, v.paid_until);
			printf("  stop now:    refund %s\n", d);
		}
	}
out:
	return rc;
}

/* Lists the wallet's rentals from the local records. */
static int status_list_local(struct cli_session *s)
{
	char dir[WALLET_PATH_MAX + 16], prefix[32];
	struct dirent *de;
	DIR *d;
	int shown = 0;

	snprintf(dir, sizeof dir, "%.1000s/rentals", s->data_dir);
	snprintf(prefix, sizeof prefix, "%" PRIu64 "-", s->chain_id);
	if ((d = opendir(dir))) {
		while ((de = readdir(d))) {
			uint64_t id;
			struct escrow_terms t;
			struct cli_token tok;
			bool active;
			struct err e = { 0 };
			if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
			    sscanf(de->d_name + strlen(prefix), "%" SCNu64 ".json", &id) != 1)
				continue;
			if (cli_rental_terms(&t, s, id, &e) || !address_equal(&t.renter, &s->address) ||
			    cli_token_info(&tok, s, &t.token, &e))
				continue;
			if (status_show(s, &t, &tok, &active, &e) == 0)
				shown++;
		}
		closedir(d);
	}
	if (!shown)
		printf("no rentals of this wallet on chain %" PRIu64 " recorded here\n", s->chain_id);
	return EXIT_OK;
}

/* One rental's line of the list, from the chain at `now`: the same state names as `status N`. */
static void status_row(struct cli_session *s, uint64_t id, uint64_t now)
{
	struct escrow_terms t;
	struct cli_token tok;
	struct escrow_view v;
	struct escrow_quote q;
	struct err e = { 0 };
	char acc[160] = "-", rem[160] = "-", left[48] = "-", state[40];
	u256 word, remaining;

	if (cli_rental_terms(&t, s, id, &e) || cli_token_info(&tok, s, &t.token, &e) ||
	    escrow_rental_word(&s->rpc, &word, &s->escrow, &t, &e)) {
		printf("%-8" PRIu64 " %-26s %s\n", id, "?", e.msg);
		return;
	}
	if (u256_is_zero(&word)) {
		snprintf(state, sizeof state, "closed");
	} else if (escrow_state_view(&v, &t, &word, &e) || escrow_mirror_quote(&q, &t, &word, now, &e)) {
		printf("%-8" PRIu64 " %-26s %s\n", id, "?", e.msg);
		return;
	} else {
		uint64_t end = v.stop_at && v.stop_at < v.paid_until ? v.stop_at : v.paid_until;
		bool active = v.phase == ESCROW_PHASE_ACTIVE;
		if (!active)
			snprintf(state, sizeof state, "%s", v.phase == ESCROW_PHASE_ENDED ? "ended" : "disputed");
		else if (now >= v.paid_until) /* paused: how much of the grace to extend is left */
			snprintf(state, sizeof state, "paused, %" PRIu64 " min grace",
				 v.paid_until + t.grace_secs > now ? (v.paid_until + t.grace_secs - now + 59) / 60 : 0);
		else
			snprintf(state, sizeof state, "%s", v.stop_at ? "running, reclaimed" : "running");
		cli_token_format(acc, sizeof acc, &tok, &q.cost);
		if (active) {
			if (u256_sub(&remaining, &v.deposited, &q.cost))
				remaining = u256_from_u64(0);
			cli_token_format(rem, sizeof rem, &tok, &remaining);
			cli_fmt_duration(left, sizeof left, end > now ? end - now : 0);
		}
	}
	printf("%-8" PRIu64 " %-26s %22s %22s %12s\n", id, state, acc, rem, left);
}

/* Lists the wallet's rentals from the server (GET /me/rentals), each with its figures from the chain. */
static int status_list_server(struct cli_session *s, const char *url, struct err *e)
{
	struct api_client c;
	struct rpc_block head;
	json_t *r = NULL;
	const json_t *list;
	int rc;

	if ((rc = api_client_init(&c, url, e)))
		return rc;
	if ((rc = sc_login(&c, s, e)) ||
	    (rc = api_request(&c, &r, NULL, "GET", "/me/rentals?role=renter&limit=100", NULL, e)) ||
	    (rc = json_get(&list, r, "rentals", e)) || (rc = rpc_get_block(&s->rpc, &head, "latest", e)))
		goto out;
	printf("%-8s %-26s %22s %22s %12s   (chain time %" PRIu64 ")\n", "RENTAL", "STATE", "ACCRUED", "REMAINING",
	       "TIME LEFT", head.timestamp);
	for (size_t i = 0; i < json_array_size(list); i++) {
		uint64_t id = 0;
		if (json_get_u64(&id, json_array_get(list, i), "id", NULL) == 0)
			status_row(s, id, head.timestamp);
	}
	if (!json_array_size(list))
		printf("no rentals\n");
	else
		printf("`flopmarket status RENTAL` shows one in full\n");
out:
	json_decref(r);
	api_client_release(&c);
	return rc;
}

int cmd_status(int argc, char **argv, struct cfg *cfg)
{
	const char *wallet = NULL, *rental = NULL, *server = cfg_get(cfg, "server_url");
	bool watch = false, active = false;
	struct cli_session s;
	struct escrow_terms t;
	struct cli_token tok;
	struct err e = { 0 };
	uint64_t id = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--watch") == 0)
			watch = true;
		else if (strcmp(argv[i], "--wallet") == 0 && i + 1 < argc)
			wallet = argv[++i];
		else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			server = argv[++i];
		else if (argv[i][0] != '-' && !rental)
			rental = argv[i];
		else
			return status_usage();
	}
	if (rental && (rc = cli_parse_rental_id(&id, rental, &e)))
		return cli_fail(rc, &e);
	if ((rc = cli_session_open(&s, cfg, wallet, rental ? 0 : (server ? SESSION_WALLET_UNLOCK
									  : SESSION_WALLET_ADDRESS), &e)))
		return cli_fail(rc, &e);
	if (!rental) {
		rc = server ? status_list_server(&s, server, &e) : status_list_local(&s);
		if (server && rc)
			rc = cli_fail(rc, &e);
		cli_session_release(&s);
		return rc;
	}
	if ((rc = cli_rental_terms(&t, &s, id, &e)) || (rc = cli_token_info(&tok, &s, &t.token, &e)))
		goto fail;
	signal(SIGINT, on_sigint);
	do {
		if (watch)
			printf("\033[H\033[2J");
		if ((rc = status_show(&s, &t, &tok, &active, &e)))
			goto fail;
		fflush(stdout);
		if (!watch || !active)
			break;
		sleep(1);
	} while (!stop_watch);
	cli_session_release(&s);
	return EXIT_OK;
fail:
	cli_session_release(&s);
	return cli_fail(rc, &e);
}
