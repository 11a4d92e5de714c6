/*
 * cmd_receipts.c — `flopmarket receipts [--csv] [--wallet NAME] [--server URL]`: the renter's receipts
 * (GET /me/receipts.csv, signed in with SIWE). `--csv` prints the server's CSV unchanged (columns in
 * docs/api.md); by default a readable table of the main columns: times in UTC, the seconds billed, the
 * GPU's full name and count, the token's symbol, exact human amounts.
 */
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/server_client.h"
#include "cli/session.h"
#include "core/buf.h"
#include "core/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECEIPTS_MAX ((size_t)4 << 20)
#define RECEIPT_COLS 16

static int receipts_usage(void)
{
	fprintf(stderr, "usage: flopmarket receipts [--csv | --json] [--wallet NAME] [--server URL]\n");
	return EXIT_USAGE;
}

/* Splits one CSV line (no quoting in this file's columns) into at most RECEIPT_COLS fields. */
static size_t split(char *line, char **col)
{
	size_t n = 0;
	col[n++] = line;
	for (char *p = line; *p && n < RECEIPT_COLS; p++)
		if (*p == ',') {
			*p = '\0';
			col[n++] = p + 1;
		}
	return n;
}

/* Unix seconds (text) as "2026-12-04 18:33 UTC" ("-" when not a time). */
static void when(char out[CLI_FMT_TIME_MAX], const char *unix_s)
{
	char *end;
	long long t = strtoll(unix_s, &end, 10);

	cli_fmt_utc(out, end == unix_s || *end ? 0 : (int64_t)t);
}

/*
 * --json: {"receipts": [...]}, each the server's GET /rentals/{id}/receipt (docs/server.md: amounts as
 * {"units", "amount", "usd"}, the token, the GPU, every transaction) for the rentals the CSV lists.
 */
static int receipts_json(struct api_client *c, struct buf *csv, struct err *e)
{
	char *save = NULL, *line = strtok_r(csv->data ? (char *)csv->data : "", "\n", &save);
	json_t *list = json_array();
	int rc = 0;

	if (!list)
		return err_set(e, ERR_NOMEM, "out of memory");
	for (line = line ? strtok_r(NULL, "\n", &save) : NULL; line && !rc; line = strtok_r(NULL, "\n", &save)) {
		char path[64];
		json_t *r = NULL;
		uint64_t id;
		if (sscanf(line, "%" SCNu64 ",", &id) != 1)
			continue;
		snprintf(path, sizeof path, "/rentals/%" PRIu64 "/receipt", id);
		if (!(rc = api_request(c, &r, NULL, "GET", path, NULL, e)))
			json_array_append_new(list, r);
	}
	if (rc) {
		json_decref(list);
		return rc;
	}
	return cli_json_print(json_pack("{s:o}", "receipts", list)) == EXIT_OK ? 0 : err_set(e, ERR_NOMEM, "out of memory");
}

int cmd_receipts(int argc, char **argv, struct cfg *cfg)
{
	const char *server = cfg_get(cfg, "server_url"), *wallet = NULL;
	bool csv = false, as_json = false;
	struct cli_session s;
	struct api_client c = { 0 };
	struct err e = { 0 };
	struct buf text;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--csv") == 0) csv = true;
		else if (strcmp(f, "--json") == 0) as_json = true;
		else if (strcmp(f, "--wallet") == 0 && v) wallet = v, i++;
		else if (strcmp(f, "--server") == 0 && v) server = v, i++;
		else return receipts_usage();
	}
	if (!server) {
		fprintf(stderr, "flopmarket: receipts needs the server: --server URL or server_url\n");
		return EXIT_USAGE;
	}
	if ((rc = cli_session_open(&s, cfg, wallet, SESSION_WALLET_UNLOCK | SESSION_NO_DEPLOYMENT, &e)))
		return cli_fail(rc, &e);
	buf_init(&text, RECEIPTS_MAX);
	if ((rc = api_client_init(&c, server, &e)) || (rc = sc_login(&c, &s, &e)) ||
	    (rc = api_request(&c, NULL, &text, "GET", "/me/receipts.csv", NULL, &e)))
		goto out;
	if (csv) {
		fwrite(text.data ? text.data : (const uint8_t *)"", 1, text.len, stdout);
		goto out;
	}
	if (as_json) {
		rc = receipts_json(&c, &text, &e);
		goto out;
	}
	{
		char *save = NULL, *line = strtok_r(text.data ? (char *)text.data : "", "\n", &save);
		size_t rows = 0;
		printf("%-7s %-8s %-20s %-20s %8s %-26s %-7s %18s %16s %18s\n", "RENTAL", "STATE", "START", "END",
		       "BILLED", "GPU", "TOKEN", "TOTAL", "FEE", "REFUND");
		for (line = line ? strtok_r(NULL, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
			char *col[RECEIPT_COLS], start[32], end[32], gpu[48], billed[24];
			if (split(line, col) < 14)
				continue;
			/* rental_id,state,renter,provider,token,start,end,duration_s,gpu,num_gpus,rate_per_hour,
			 * total,fee,refund,total_usd,tx_hashes */
			when(start, col[5]);
			if (col[6][0] && strcmp(col[6], "0"))
				when(end, col[6]);
			else
				snprintf(end, sizeof end, "running");
			snprintf(gpu, sizeof gpu, "%s x%s", col[8], col[9]);
			snprintf(billed, sizeof billed, "%s s", col[7]);
			printf("%-7.7s %-8.8s %-20s %-20s %8s %-26s %-7.7s %18s %16s %18s\n", col[0], col[1], start, end, billed,
			       gpu, col[4], col[11], col[12], col[13]); /* the CSV's token column is the symbol */
			rows++;
		}
		if (!rows)
			printf("no receipts yet\n");
	}
out:
	buf_release(&text);
	api_client_release(&c);
	cli_session_release(&s);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}
