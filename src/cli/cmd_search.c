/*
 * cmd_search.c — `flopmarket search '<filter>' [-o KEY] [--limit N] [--json] [--server URL]`: live
 * offers from the server (GET /offers, docs/api.md; filter language in docs/search.md).
 *
 * By default a table: offer hash prefix (enough for `rent`), GPU model x count, VRAM, fp32 TFLOPS (all
 * GPUs; "?" when not measured), the price per hour in the offer's token and in USD (fee included, as the
 * server computes it), reliability, the average rating, country and a `simulated` marker for listings
 * whose GPUs are simulated. A page ends with the `--cursor` that fetches the next one. `--json` prints the server's answer
 * for scripts. A filter the server refuses is shown with the offending token.
 */
#include "cli/cli.h"
#include "cli/server_client.h"
#include "market/filter.h"
#include "core/err.h"
#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_FILTER_MAX 1024

/* The usage, with every filter field (market/filter.c's table: the server takes the same) and sort key. */
static int search_usage(void)
{
	fprintf(stderr, "usage: flopmarket search ['FILTER'] [-o SORT] [--limit N] [--cursor NEXT] [--json] [--server URL]\n"
			"  e.g. flopmarket search 'gpu=RTX_4090 num_gpus>=2 price<=0.80' -o price\n"
			"  FILTER: clauses FIELD OP VALUE joined by spaces (all must hold); OP is = != < <= > >=\n"
			"  (text and true/false fields: = and != only)\n\nfields:\n");
	for (size_t i = 0; i < filter_field_count; i++)
		fprintf(stderr, "  %-16s %s\n", filter_fields[i].name, filter_fields[i].unit);
	fprintf(stderr, "\nSORT: one of these fields, ascending, or -FIELD descending (e.g. -o -tflops):\n ");
	for (size_t i = 0, col = 1; i < filter_field_count; i++) {
		if (!filter_fields[i].sortable)
			continue;
		size_t w = strlen(filter_fields[i].name) + 1;
		if (col + w > 100) {
			fprintf(stderr, "\n ");
			col = 1;
		}
		fprintf(stderr, " %s", filter_fields[i].name);
		col += w;
	}
	fprintf(stderr, "\n");
	return EXIT_USAGE;
}

/* The token of the filter starting at byte `off` (up to the next space). */
static void offending_token(char *out, size_t cap, const char *q, long off)
{
	size_t n = strlen(q), i;
	if (off < 0 || (size_t)off > n) {
		snprintf(out, cap, "?");
		return;
	}
	for (i = (size_t)off; i < n && q[i] != ' '; i++)
		;
	snprintf(out, cap, "%.*s", (int)(i - (size_t)off), q + off);
	if (!out[0])
		snprintf(out, cap, "(end of filter)");
}

static const char *str_or(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

static uint64_t u64_or(const json_t *o, const char *k)
{
	uint64_t v = 0;
	json_get_u64(&v, o, k, NULL);
	return v;
}

int cmd_search(int argc, char **argv, struct cfg *cfg)
{
	const char *filter = "", *sort = NULL, *server = cfg_get(cfg, "server_url"), *cursor = NULL;
	unsigned long limit = 20;
	bool as_json = false;
	unsigned unknown_tflops = 0;
	char path[4096], qe[3 * SEARCH_FILTER_MAX + 1], oe[128];
	struct api_client c = { 0 };
	struct err e = { 0 };
	json_t *r = NULL;
	const json_t *offers;
	int rc, n;

	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--json") == 0) {
			as_json = true;
		} else if ((strcmp(f, "-o") == 0 || strcmp(f, "--sort") == 0) && v) {
			sort = v;
			i++;
		} else if (strcmp(f, "--server") == 0 && v) {
			server = v;
			i++;
		} else if (strcmp(f, "--cursor") == 0 && v) {
			if (strlen(v) > 128 || strspn(v, "0123456789abcdef") != strlen(v)) {
				fprintf(stderr, "flopmarket: --cursor: give the NEXT token a previous page printed\n");
				return EXIT_INPUT;
			}
			cursor = v;
			i++;
		} else if (strcmp(f, "--limit") == 0 && v) {
			char *end;
			limit = strtoul(v, &end, 10);
			if (*v < '0' || *v > '9' || *end || limit < 1 || limit > 100) {
				fprintf(stderr, "flopmarket: --limit: '%.32s' must be 1..100\n", v);
				return EXIT_INPUT;
			}
			i++;
		} else if (f[0] != '-' || f[1] == '\0') {
			filter = f;
		} else {
			return search_usage();
		}
	}
	if (!server) {
		fprintf(stderr, "flopmarket: search needs the server: --server URL or server_url "
				"(FLOPMARKET_SERVER_URL)\n");
		return EXIT_USAGE;
	}
	if (strlen(filter) > SEARCH_FILTER_MAX) {
		fprintf(stderr, "flopmarket: filter longer than %d bytes\n", SEARCH_FILTER_MAX);
		return EXIT_INPUT;
	}
	if ((rc = api_client_init(&c, server, &e)) || (rc = api_escape(qe, sizeof qe, filter, &e)) ||
	    (sort && (rc = api_escape(oe, sizeof oe, sort, &e))))
		return cli_fail(rc, &e);
	n = snprintf(path, sizeof path, "/offers?q=%s&limit=%lu", qe, limit);
	if (sort)
		n += snprintf(path + n, sizeof path - (size_t)n, "&o=%s", oe);
	if (cursor)
		snprintf(path + n, sizeof path - (size_t)n, "&cursor=%s", cursor);
	rc = api_request(&c, &r, NULL, "GET", path, NULL, &e);
	if (rc) {
		/* "server: bad_filter at byte 4 ...": name the token the server stopped at. */
		const char *at = strstr(e.msg, " at byte ");
		if (at && (strstr(e.msg, "bad_filter") || strstr(e.msg, "bad_sort"))) {
			char tok[128];
			long off = strtol(at + 9, NULL, 10);
			offending_token(tok, sizeof tok, strstr(e.msg, "bad_sort") && sort ? sort : filter, off);
			fprintf(stderr, "flopmarket: %s\n  near '%s'\n", e.msg, tok);
			api_client_release(&c);
			return EXIT_INPUT;
		}
		api_client_release(&c);
		return cli_fail(rc, &e);
	}
	if (as_json) {
		char *text = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text)
			printf("%s\n", text);
		free(text);
		goto out;
	}
	if (json_get(&offers, r, "offers", &e)) {
		rc = cli_fail(ERR_INVALID, &e);
		goto out;
	}
	printf("%-12s %-18s %8s %8s %26s %12s %7s %6s %-3s %s\n", "OFFER", "GPU", "VRAM", "TFLOPS",
	       "PRICE/H (fee incl.)", "USD/H", "RELIAB", "RATING", "CC", "");
	for (size_t i = 0; i < json_array_size(offers); i++) {
		const json_t *o = json_array_get(offers, i);
		char gpu[64], vram[32], price[64], rel[32], tfl[48], rating[48];
		uint64_t rb = u64_or(o, "reliability_bps"), tm = u64_or(o, "tflops32_milli") * u64_or(o, "num_gpus");
		uint64_t rc_ = u64_or(o, "rating_centi");
		if (tm)
			snprintf(tfl, sizeof tfl, "%" PRIu64 ".%01" PRIu64, tm / 1000, tm % 1000 / 100);
		else
			snprintf(tfl, sizeof tfl, "?"), unknown_tflops++;
		if (rc_)
			snprintf(rating, sizeof rating, "%" PRIu64 ".%02" PRIu64, rc_ / 100, rc_ % 100);
		else
			snprintf(rating, sizeof rating, "-"); /* no ratings yet */
		snprintf(gpu, sizeof gpu, "%.20s x%" PRIu64, str_or(o, "gpu", "?"), u64_or(o, "num_gpus"));
		snprintf(vram, sizeof vram, "%" PRIu64 "G", u64_or(o, "vram_mib") / 1024);
		snprintf(price, sizeof price, "%.24s %.8s", str_or(o, "token_per_hour", "?"),
			 str_or(o, "token_symbol", ""));
		if (json_is_false(json_object_get(o, "reliability_observed")))
			snprintf(rel, sizeof rel, "new"); /* no uptime probes yet: unknown, not 0 % */
		else
			snprintf(rel, sizeof rel, "%" PRIu64 ".%02" PRIu64 "%%", rb / 100, rb % 100);
		printf("%-12.12s %-18s %8s %8s %26s %12.12s %7s %6s %-3.3s %s%s\n", str_or(o, "offer_hash", "?"), gpu,
		       vram, tfl, price, str_or(o, "usd_per_hour", "unknown"), rel, rating, str_or(o, "country", "-"),
		       json_is_true(json_object_get(o, "simulated")) ? "simulated " : "",
		       json_is_true(json_object_get(o, "interruptible")) ? "interruptible" : "");
	}
	printf("%" PRIu64 " offer(s) match%s\n", u64_or(r, "total"),
	       json_array_size(offers) ? "; rent one with: flopmarket rent <OFFER> --hours N" : "");
	if (unknown_tflops)
		printf("TFLOPS ?: not measured (a simulated host, or no benchmark ran); such offers sort last by "
		       "tflops and match no TFLOPS bound\n");
	{
		const char *next = str_or(r, "next_cursor", "");
		if (next[0])
			printf("more: add --cursor %s for the next page\n", next);
	}
out:
	json_decref(r);
	api_client_release(&c);
	return rc;
}
