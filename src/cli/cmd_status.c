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
#include "cli/rental_view.h"
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
	fprintf(stderr, "usage: flopmarket status [RENTAL] [--watch | --json] [--wallet NAME] [--server URL]\n");
	return EXIT_USAGE;
}

/* Prints one rental's figures at the latest block (or, with json, adds its object to the array). */
static int status_show(struct cli_session *s, const struct escrow_terms *t, const struct cli_token *tok,
		       bool *active, json_t *json, struct err *e)
{
	struct rpc_block head;
	struct rental_view v;
	u256 word;
	char a[160], b[160], c[160], d[160], el[48], left[48];
	int rc;

	if ((rc = escrow_rental_word(&s->rpc, &word, &s->escrow, t, e)) ||
	    (rc = rpc_get_block(&s->rpc, &head, "latest", e)) || (rc = rental_view_at(&v, t, &word, head.timestamp, e)))
		return rc;
	*active = v.active;
	if (json) {
		json_t *o = rental_view_json(&v, tok);
		if (o)
			json_object_set_new(o, "block", json_integer((json_int_t)head.number));
		return o && !json_array_append_new(json, o) ? 0 : err_set(e, ERR_NOMEM, "out of memory");
	}
	printf("rental %" PRIu64 "   (chain %" PRIu64 ", block %" PRIu64 ", time %" PRIu64 ")\n", t->id,
	       s->chain_id, head.number, head.timestamp);
	cli_token_format(a, sizeof a, tok, &v.hourly);
	printf("  rate:        %s per hour (burn rate while running; fee %u bps included)\n", a, t->fee_bps);
	if (strcmp(v.state, "closed") == 0) {
		printf("  state:       closed (all paid out; see `flopmarket receipts`)\n");
		return 0;
	}
	cli_fmt_duration(el, sizeof el, v.billed_secs);
	cli_fmt_duration(left, sizeof left, v.time_left_secs);
	cli_token_format(a, sizeof a, tok, &v.accrued);
	cli_token_format(b, sizeof b, tok, &v.remaining);
	cli_token_format(c, sizeof c, tok, &v.deposited);
	cli_token_format(d, sizeof d, tok, &v.refund_if_stopped);
	printf("  state:       %s%s\n",
	       strcmp(v.state, "paused") == 0 ? "paused (paid time used up; extend within the grace period)"
	       : strcmp(v.state, "ended") == 0 ? "ended (held share waits for the dispute window)"
					       : v.state,
	       v.reclaimed ? " — the provider reclaimed it (interruptible)" : "");
	if (v.reclaimed)
		printf("  WARNING:     access and billing end at %" PRIu64 " (in %" PRId64 " s): save your work\n",
		       v.stop_at, (int64_t)v.stop_at > (int64_t)head.timestamp
				  ? (int64_t)v.stop_at - (int64_t)head.timestamp : 0);
	printf("  elapsed:     %s (%" PRIu64 " s billed)\n", el, v.billed_secs);
	{
		char units[U256_DEC_MAX];
		u256_to_dec(units, &v.accrued);
		printf("  accrued:     %s (%s units)\n", a, units);
	}
	printf("  deposited:   %s\n", c);
	if (v.active) {
		printf("  remaining:   %s\n", b);
		if (strcmp(v.state, "paused") == 0) {
			cli_fmt_duration(left, sizeof left, v.grace_left_secs);
			printf("  grace left:  %s to extend before the account is removed\n", left);
		} else {
			printf("  time left:   %s (paid until %" PRIu64 ")\n", left, v.paid_until);
		}
		printf("  stop now:    refund %s\n", d);
	} else {
		cli_token_format(b, sizeof b, tok, &v.held);
		printf("  held:        %s\n", b);
	}
	return 0;
}

/* Lists the wallet's rentals from the local records (in full: there are few). */
static int status_list_local(struct cli_session *s, json_t *json)
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
			if (status_show(s, &t, &tok, &active, json, &e) == 0)
				shown++;
		}
		closedir(d);
	}
	if (!shown && !json)
		printf("no rentals of this wallet on chain %" PRIu64 " recorded here\n", s->chain_id);
	return EXIT_OK;
}

/* One rental's line of the list (or its object, with json), from the chain at `now`. */
static void status_row(struct cli_session *s, uint64_t id, uint64_t now, json_t *json)
{
	struct escrow_terms t;
	struct cli_token tok;
	struct rental_view v;
	struct err e = { 0 };
	char acc[160] = "-", rem[160] = "-", left[48] = "-", state[40];
	u256 word;

	if (cli_rental_terms(&t, s, id, &e) || cli_token_info(&tok, s, &t.token, &e) ||
	    escrow_rental_word(&s->rpc, &word, &s->escrow, &t, &e) || rental_view_at(&v, &t, &word, now, &e)) {
		if (json)
			json_array_append_new(json, json_pack("{s:I, s:s, s:s}", "rental_id", (json_int_t)id, "state",
							      "unknown", "error", e.msg));
		else
			printf("%-8" PRIu64 " %-26s %s\n", id, "?", e.msg);
		return;
	}
	if (json) {
		json_array_append_new(json, rental_view_json(&v, &tok));
		return;
	}
	if (strcmp(v.state, "paused") == 0) /* how much of the grace to extend is left */
		snprintf(state, sizeof state, "paused, %" PRIu64 " min grace", (v.grace_left_secs + 59) / 60);
	else
		snprintf(state, sizeof state, "%s%s", v.state, v.reclaimed && v.active ? ", reclaimed" : "");
	if (strcmp(v.state, "closed") != 0)
		cli_token_format(acc, sizeof acc, &tok, &v.accrued);
	if (v.active) {
		cli_token_format(rem, sizeof rem, &tok, &v.remaining);
		cli_fmt_duration(left, sizeof left, v.time_left_secs);
	}
	printf("%-8" PRIu64 " %-26s %22s %22s %12s\n", id, state, acc, rem, left);
}

/* Lists the wallet's rentals from the server (GET /me/rentals), each with its figures from the chain. */
static int status_list_server(struct cli_session *s, const char *url, json_t *json, struct err *e)
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
	if (!json)
		printf("%-8s %-26s %22s %22s %12s   (chain time %" PRIu64 ")\n", "RENTAL", "STATE", "ACCRUED",
		       "REMAINING", "TIME LEFT", head.timestamp);
	for (size_t i = 0; i < json_array_size(list); i++) {
		uint64_t id = 0;
		if (json_get_u64(&id, json_array_get(list, i), "id", NULL) == 0)
			status_row(s, id, head.timestamp, json);
	}
	if (!json && !json_array_size(list))
		printf("no rentals\n");
	else if (!json)
		printf("`flopmarket status RENTAL` shows one in full\n");
out:
	json_decref(r);
	api_client_release(&c);
	return rc;
}

int cmd_status(int argc, char **argv, struct cfg *cfg)
{
	const char *wallet = NULL, *rental = NULL, *server = cfg_get(cfg, "server_url");
	bool watch = false, active = false, as_json = false;
	json_t *list = NULL;
	struct cli_session s;
	struct escrow_terms t;
	struct cli_token tok;
	struct err e = { 0 };
	uint64_t id = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--watch") == 0)
			watch = true;
		else if (strcmp(argv[i], "--json") == 0)
			as_json = true;
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
	if (watch && as_json) {
		fprintf(stderr, "flopmarket: status --json prints once; --watch is for people (run it again to poll)\n");
		return EXIT_USAGE;
	}
	if (as_json && !(list = json_array()))
		return EXIT_FAIL;
	if ((rc = cli_session_open(&s, cfg, wallet, rental ? 0 : (server ? SESSION_WALLET_UNLOCK
									  : SESSION_WALLET_ADDRESS), &e)))
		return cli_fail(rc, &e);
	if (!rental) {
		rc = server ? status_list_server(&s, server, list, &e) : status_list_local(&s, list);
		if (server && rc)
			rc = cli_fail(rc, &e);
		else if (list)
			rc = cli_json_print(json_pack("{s:I, s:O}", "chain_id", (json_int_t)s.chain_id, "rentals", list));
		json_decref(list);
		cli_session_release(&s);
		return rc;
	}
	if ((rc = cli_rental_terms(&t, &s, id, &e)) || (rc = cli_token_info(&tok, &s, &t.token, &e)))
		goto fail;
	signal(SIGINT, on_sigint);
	do {
		if (watch)
			printf("\033[H\033[2J");
		if ((rc = status_show(&s, &t, &tok, &active, list, &e)))
			goto fail;
		fflush(stdout);
		if (!watch || !active)
			break;
		sleep(1);
	} while (!stop_watch);
	if (list) {
		json_t *o = json_array_get(list, 0);
		if (o)
			json_object_set_new(o, "chain_id", json_integer((json_int_t)s.chain_id));
		rc = cli_json_print(json_incref(o));
		json_decref(list);
		cli_session_release(&s);
		return rc;
	}
	cli_session_release(&s);
	return EXIT_OK;
fail:
	json_decref(list);
	cli_session_release(&s);
	return cli_fail(rc, &e);
}
