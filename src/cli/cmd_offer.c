/*
 * cmd_offer_show.c — `flopmarket offer HASH [--server URL] [--json]`: one offer in full, as the web page's
 * detail view shows it. HASH is the offer's hash or a prefix of it as `search` prints it. Reads the
 * offer (GET /offers/{hash}), its host (GET /hosts/{id}) and its provider's record (GET
 * /providers/{address}), and prints the machine, what a renter gets in (access), the price and terms,
 * and the provider's history, then the command that rents it. --json prints
 * {"offer": ..., "host": ... | null, "provider": ... | null} as the server gave them.
 */
#include "cli/cli.h"
#include "cli/format.h"
#include "cli/server_client.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int offer_usage(FILE *f)
{
	fprintf(f, "usage: flopmarket offer HASH [--server URL] [--json]\n"
		   "  one offer in full: the machine, access, price and terms, the provider's history;\n"
		   "  HASH is the offer's hash or the prefix `search` prints\n");
	return f == stdout ? EXIT_OK : EXIT_USAGE;
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long num(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}


/* "NVIDIA_A100_80GB" as people write it. */
static void model_text(char *out, size_t cap, const char *slug)
{
	snprintf(out, cap, "%s", slug);
	for (char *p = out; *p; p++)
		if (*p == '_')
			*p = ' ';
}

static void print_machine(const json_t *o, const json_t *host)
{
	char model[80];
	long long drv = num(o, "driver_version"), cuda = num(o, "cuda_version"), vram = num(o, "vram_mib");
	const json_t *gpus = host ? json_object_get(host, "gpus") : NULL;

	model_text(model, sizeof model, str(o, "gpu"));
	printf("  machine     %lld x %s, %lld GiB VRAM each (%lld MiB)%s\n", num(o, "num_gpus"), model, vram / 1024,
	       vram, json_is_true(json_object_get(o, "simulated")) ? ", SIMULATED (a demo or test host)" : "");
	if (num(o, "tflops32_milli")) {
		char when[32];
		cli_fmt_utc(when, gpus ? num(json_array_get(gpus, 0), "bench_at") : 0);
		printf("  compute     FP32 %.1f / FP16 %.1f TFLOPS, memory %lld GB/s per GPU (benchmarked %s)\n",
		       (double)num(o, "tflops32_milli") / 1000.0, (double)num(o, "tflops16_milli") / 1000.0,
		       num(o, "bandwidth_gbps"), when);
	} else {
		printf("  compute     not benchmarked (unverified): `flopmarket verify` checks it inside a rental\n");
	}
	printf("  host        %lld cores, %lld GiB RAM, %lld GiB disk, network ", num(o, "cpu_cores"), num(o, "ram_gib"),
	       num(o, "disk_gib"));
	if (num(o, "net_up_mbps") || num(o, "net_down_mbps"))
		printf("up %lld / down %lld Mbit/s\n", num(o, "net_up_mbps"), num(o, "net_down_mbps"));
	else
		printf("not measured\n");
	printf("  software    driver ");
	if (drv)
		printf("%lld.%lld.%lld", drv / 1000000, drv / 1000 % 1000, drv % 1000);
	else
		printf("—");
	printf(", CUDA ");
	if (cuda)
		printf("%lld.%lld\n", cuda / 100, cuda % 100);
	else
		printf("—\n");
	printf("  location    %s%s%s\n", str(o, "country")[0] ? str(o, "country") : "—", str(o, "region")[0] ? " · " : "",
	       str(o, "region"));
}

static void print_access(const json_t *o)
{
	const json_t *imgs = json_object_get(o, "images");
	bool jup = json_is_true(json_object_get(o, "jupyter"));

	if (strcmp(str(o, "isolation"), "container") == 0) {
		printf("  access      root in an instance of your image (");
		for (size_t i = 0; i < json_array_size(imgs); i++)
			printf("%s%s", i ? ", " : "", json_string_value(json_array_get(imgs, i)));
		printf("; rent --image NAME), over SSH and the browser terminal%s\n", jup ? ", Jupyter" : "");
	} else {
		printf("  access      a Unix account on the provider's host (no root): SSH, the browser terminal%s\n",
		       jup ? ", a Jupyter notebook (flopmarket jupyter)" : "");
	}
}

/* A decimal string with its trailing zeros dropped past `keep` fraction digits ("0.800000" -> "0.80"). */
static void trim_decimal(char *out, size_t cap, const char *s, size_t keep)
{
	const char *dot = strchr(s, '.');
	size_t n;

	snprintf(out, cap, "%s", s);
	if (!dot)
		return;
	n = strlen(out);
	while (n > (size_t)(dot - s) + 1 + keep && out[n - 1] == '0')
		out[--n] = '\0';
	if (out[n - 1] == '.')
		out[n - 1] = '\0';
}

static void print_terms(const json_t *o)
{
	const json_t *in = json_object_get(o, "offer");
	const char *usd = str(o, "usd_per_hour");
	char exp[32], usd_s[48], minimum[32], dispute[48];

	if (usd[0] && strcmp(usd, "unknown"))
		trim_decimal(usd_s, sizeof usd_s, usd, 2);
	printf("  price       %s %s per hour", str(o, "token_per_hour"), str(o, "token_symbol"));
	if (usd[0] && strcmp(usd, "unknown"))
		printf(" ($%s/h)", usd_s);
	printf(", platform fee %.2f %% included\n", (double)num(o, "fee_bps") / 100.0);
	if (num(in, "minSecs"))
		snprintf(minimum, sizeof minimum, "%lld min", (num(in, "minSecs") + 59) / 60);
	else
		snprintf(minimum, sizeof minimum, "no minimum");
	if (num(in, "disputeSecs"))
		snprintf(dispute, sizeof dispute, "dispute window %.1f h after the end",
			 (double)num(in, "disputeSecs") / 3600.0);
	else
		snprintf(dispute, sizeof dispute, "no dispute window");
	printf("  terms       %s, at most %.1f h; interruptible: %s; %lld min grace to top up after running out; %s\n",
	       minimum, (double)num(in, "maxSecs") / 3600.0, json_is_true(json_object_get(in, "interruptible")) ? "yes" : "no",
	       num(in, "graceSecs") / 60, dispute);
	if (json_is_true(json_object_get(in, "interruptible")))
		printf("              the provider may end it with %lld min notice\n", num(in, "noticeSecs") / 60);
	cli_fmt_utc(exp, num(o, "expires_at"));
	printf("  listing     %s, expires %s\n", str(o, "status")[0] ? str(o, "status") : "active", exp);
}

static void print_provider(const json_t *o, const json_t *prov)
{
	const json_t *rep = prov ? json_object_get(prov, "reputation") : NULL;
	const json_t *med = rep ? json_object_get(rep, "response_median_s") : NULL;
	char since[32], uptime[48], rating[64], response[64];

	printf("  provider    %s\n", str(json_object_get(o, "offer"), "provider"));
	if (!rep) {
		printf("              no record on this server\n");
		return;
	}
	cli_fmt_utc(since, num(prov, "first_seen"));
	if (json_is_true(json_object_get(o, "reliability_observed")))
		snprintf(uptime, sizeof uptime, "%.2f %%", (double)num(rep, "reliability_bps") / 100.0);
	else
		snprintf(uptime, sizeof uptime, "new (not observed yet)");
	if (num(rep, "ratings"))
		snprintf(rating, sizeof rating, "%.2f of 5 (%lld ratings)", (double)num(rep, "rating_centi") / 100.0,
			 num(rep, "ratings"));
	else
		snprintf(rating, sizeof rating, "none yet");
	if (json_is_integer(med))
		snprintf(response, sizeof response, "%lld s from payment to access", (long long)json_integer_value(med));
	else
		snprintf(response, sizeof response, "—");
	printf("              uptime 30 d: %s; rentals completed %lld of %lld; rating %s\n", uptime,
	       num(rep, "rentals_completed"), num(rep, "rentals_total"), rating);
	printf("              median response %s; on this marketplace since %s\n", response, since);
}

int cmd_offer_show(int argc, char **argv, struct cfg *cfg)
{
	const char *server = cfg_get(cfg, "server_url"), *ref = NULL;
	struct api_client c = { 0 };
	json_t *o = NULL, *host = NULL, *prov = NULL;
	struct err e = { 0 };
	char path[200];
	bool as_json = false;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0)
			return offer_usage(stdout);
		if (strcmp(f, "--json") == 0)
			as_json = true;
		else if (strcmp(f, "--server") == 0 && v)
			server = v, i++;
		else if (f[0] != '-' && !ref)
			ref = f;
		else
			return offer_usage(stderr);
	}
	if (!ref)
		return offer_usage(stderr);
	if (!server) {
		fprintf(stderr, "flopmarket: offer needs the server (--server URL or server_url)\n");
		return EXIT_USAGE;
	}
	if ((rc = api_client_init(&c, server, &e)) || (rc = cli_offer_get(&o, &c, ref, &e)))
		goto out;
	{ /* ids past 2^53 come as decimal strings (json_id) */
		uint64_t mid = 0;
		if (json_get_id(&mid, o, "machine_id", NULL) == 0) {
			snprintf(path, sizeof path, "/hosts/%" PRIu64, mid);
			if (api_request(&c, &host, NULL, "GET", path, NULL, NULL))
				host = NULL;
		}
	}
	snprintf(path, sizeof path, "/providers/%s", str(json_object_get(o, "offer"), "provider"));
	if (strlen(str(json_object_get(o, "offer"), "provider")) == 42 &&
	    api_request(&c, &prov, NULL, "GET", path, NULL, NULL))
		prov = NULL;
	if (as_json) {
		json_t *all = json_pack("{s:O, s:O, s:O}", "offer", o, "host", host ? host : json_null(), "provider",
					prov ? prov : json_null());
		char *text = all ? json_dumps(all, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(all);
	} else {
		printf("offer %s\n", str(o, "offer_hash"));
		print_machine(o, host);
		print_access(o);
		print_terms(o);
		print_provider(o, prov);
		printf("rent it:      flopmarket rent %.14s --hours 1\n", str(o, "offer_hash"));
	}
out:
	json_decref(o);
	json_decref(host);
	json_decref(prov);
	api_client_release(&c);
	return rc ? cli_fail(rc, &e) : EXIT_OK;
}
