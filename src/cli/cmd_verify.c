/*
 * cmd_verify.c — `flopmarket verify RENTAL [--server URL] [--agent URL] [-i KEYFILE] [-o SSH_OPTION]...
 * [--gpubench FILE] [--tolerance PCT] [--timeout-s N] [--json]`: the renter's re-check that the GPUs of a
 * rental are the ones its listing published, measured inside the rental over its own SSH access.
 *
 * The listing comes from the server (GET /rentals/{id} -> offer_hash, GET /offers/{hash}); the access
 * from the server or --agent (cli_rental_ssh). Over ssh the rental runs agent/gpu_verify.h's script with
 * the benchmark on its stdin: --gpubench FILE (a gpubench the renter built and trusts), else the source
 * this CLI carries, compiled there with the rental's nvcc (else the provider's flopmarket-gpubench, said
 * so). The report compares GPUs, model, VRAM and the figures with the listing (a gap beyond the tolerance,
 * default 10 %, is flagged), and the evidence record — listing, what was seen, the raw output, findings,
 * verdict — is written to <data_dir>/verify/rental-<id>-<unix>.json for a dispute.
 * Exit status: 0 when the rental matches its listing; 1 for a gap or an inconclusive check (the figures
 * could not be measured); the usual codes for bad input, network and access errors.
 */
#include "cli/cli.h"
#include "cli/rent_access.h"
#include "cli/server_client.h"
#include "cli/wallet_file.h"
#include "agent/gpu_verify.h"
#include "agent/gpubench.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/json.h"
#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VERIFY_SSH_OPTS_MAX 16
#define VERIFY_TIMEOUT_DEFAULT_S 900 /* compiling and benchmarking 8 GPUs fits */
#define VERIFY_TIMEOUT_MAX_S 7200
#define VERIFY_BENCH_FILE_MAX ((size_t)64 << 20)

static int verify_usage(FILE *f)
{
	fprintf(f, "usage: flopmarket verify RENTAL [--server URL] [--agent URL] [-i KEYFILE] [-o SSH_OPTION]...\n"
		   "                         [--gpubench FILE] [--tolerance PCT] [--timeout-s N] [--json]\n"
		   "  measures the rental's GPUs inside it (over its SSH access) and compares them with the listing:\n"
		   "  GPUs, model, VRAM, FP32/FP16 TFLOPS and memory GB/s; a gap beyond the tolerance (default %d %%)\n"
		   "  is flagged and the evidence is saved under <data_dir>/verify/ for a dispute. The benchmark is\n"
		   "  --gpubench FILE, else this CLI's source compiled in the rental with its nvcc.\n",
		VERIFY_TOLERANCE_DEFAULT);
	return f == stdout ? EXIT_OK : EXIT_USAGE;
}

struct verify_args {
	const char *server, *agent, *key, *bench, *rental;
	const char *opts[VERIFY_SSH_OPTS_MAX];
	int nopts;
	uint64_t id, tolerance, timeout_s;
	bool json;
};

static int verify_parse_args(struct verify_args *a, int argc, char **argv, struct err *e)
{
	for (int i = 1; i < argc; i++) {
		const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int rc;
		if (strcmp(f, "--json") == 0) {
			a->json = true;
			continue;
		}
		if (f[0] != '-') {
			if (a->rental)
				return err_set(e, ERR_INVALID, "one rental at a time, not also '%.40s'", f);
			a->rental = f;
			continue;
		}
		if (!v)
			return err_set(e, ERR_INVALID, "%.40s needs a value", f);
		if (strlen(v) > 4096)
			return err_set(e, ERR_INVALID, "%.40s: longer than 4096 characters", f);
		i++;
		if (strcmp(f, "--server") == 0)
			a->server = v;
		else if (strcmp(f, "--agent") == 0)
			a->agent = v;
		else if (strcmp(f, "-i") == 0)
			a->key = v;
		else if (strcmp(f, "--gpubench") == 0)
			a->bench = v;
		else if (strcmp(f, "-o") == 0) {
			if (a->nopts == VERIFY_SSH_OPTS_MAX)
				return err_set(e, ERR_INVALID, "at most %d -o options", VERIFY_SSH_OPTS_MAX);
			a->opts[a->nopts++] = v;
		} else if (strcmp(f, "--tolerance") == 0) {
			if ((rc = cli_parse_uint(&a->tolerance, "--tolerance (percent)", v, 0, 90, e)))
				return rc;
		} else if (strcmp(f, "--timeout-s") == 0) {
			if ((rc = cli_parse_uint(&a->timeout_s, "--timeout-s", v, 1, VERIFY_TIMEOUT_MAX_S, e)))
				return rc;
		} else {
			return err_set(e, ERR_INVALID, "unknown option '%.40s'", f);
		}
	}
	if (!a->rental)
		return err_set(e, ERR_INVALID, "which rental? give its id");
	return cli_parse_rental_id(&a->id, a->rental, e);
}

/* The listing of rental `id`: its offer on the server. */
static int listing_of(struct verify_listing *l, const char *server, uint64_t id, struct err *e)
{
	struct api_client c = { 0 };
	json_t *r = NULL, *o = NULL;
	const char *oh;
	char path[160];
	int rc;

	if ((rc = api_client_init(&c, server, e)))
		return rc;
	snprintf(path, sizeof path, "/rentals/%" PRIu64, id);
	if ((rc = api_request(&c, &r, NULL, "GET", path, NULL, e)))
		goto out;
	if ((rc = json_get_str(&oh, r, "offer_hash", 66, e)) || !oh[0]) {
		rc = err_set(e, ERR_NOT_FOUND, "rental %" PRIu64 " has no listed offer on %s to compare with", id, server);
		goto out;
	}
	snprintf(path, sizeof path, "/offers/%s", oh);
	if ((rc = api_request(&c, &o, NULL, "GET", path, NULL, e)))
		goto out;
	rc = verify_listing_from_offer(l, o, e);
out:
	json_decref(r);
	json_decref(o);
	api_client_release(&c);
	return rc;
}

/* An unlinked temp file holding the benchmark for ssh's stdin: the renter's binary, or our source. */
static int payload_fd(const char *bench, struct err *e)
{
	char tmpl[] = "/tmp/flopmarket-verify-XXXXXX";
	struct buf b;
	int fd = mkstemp(tmpl), rc = 0;
	const char *p;
	size_t n;

	if (fd < 0)
		return err_set(e, ERR_IO, "a temp file: %s", strerror(errno)), -1;
	unlink(tmpl);
	buf_init(&b, VERIFY_BENCH_FILE_MAX);
	if (bench) {
		if ((rc = file_read(&b, bench, e))) {
			close(fd);
			buf_release(&b);
			return err_wrap(e, "--gpubench"), -1;
		}
		p = (const char *)b.data;
		n = b.len;
	} else {
		p = gpubench_source;
		n = gpubench_source_len;
	}
	if (write(fd, p, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0)
		rc = err_set(e, ERR_IO, "the temp file: %s", strerror(errno));
	buf_release(&b);
	if (rc) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Runs the script in the rental over ssh, its output into out. */
static int run_in_rental(struct buf *out, const struct verify_args *a, const struct cli_ssh_dest *d, struct err *e)
{
	char port_s[16], dest[320];
	char *argv[2 * VERIFY_SSH_OPTS_MAX + 24];
	struct buf script;
	int n = 0, fd, status = 0, rc;

	buf_init(&script, (size_t)16 << 10);
	if ((rc = verify_script(&script, a->bench != NULL))) {
		buf_release(&script);
		return err_set(e, rc, "the verify script does not fit");
	}
	if ((fd = payload_fd(a->bench, e)) < 0) {
		buf_release(&script);
		return e->code ? e->code : ERR_IO;
	}
	snprintf(port_s, sizeof port_s, "%u", d->port);
	snprintf(dest, sizeof dest, "%s@%s", d->user, d->host);
	argv[n++] = "ssh";
	argv[n++] = "-p";
	argv[n++] = port_s;
	argv[n++] = "-o";
	argv[n++] = "BatchMode=yes"; /* never a password prompt into our pipe */
	if (a->key) {
		argv[n++] = "-i";
		argv[n++] = (char *)a->key;
		argv[n++] = "-o";
		argv[n++] = "IdentitiesOnly=yes";
	}
	for (int i = 0; i < a->nopts; i++) {
		argv[n++] = "-o";
		argv[n++] = (char *)a->opts[i];
	}
	argv[n++] = dest;
	argv[n++] = (char *)buf_cstr(&script);
	argv[n] = NULL;
	fprintf(stderr, "verify: measuring the GPUs inside rental %" PRIu64 " (%s@%s:%u)...\n", a->id, d->user, d->host,
		d->port);
	rc = proc_run_stdin(out, &status, argv, fd, (unsigned)(a->timeout_s * 1000), e);
	close(fd);
	buf_release(&script);
	if (rc)
		return err_wrap(e, "ssh into the rental"), rc;
	if (status == 255)
		return err_set(e, ERR_AUTH, "ssh into the rental failed: %.200s", buf_cstr(out));
	return 0;
}

/* <data_dir>/verify/rental-<id>-<unix>.json (0600); its path into path. */
static int save_evidence(char *path, size_t cap, struct cfg *cfg, const json_t *ev, uint64_t id, int64_t at,
			 struct err *e)
{
	char dir[WALLET_PATH_MAX + 16];
	char *text;
	int rc;

	if ((rc = wallet_data_subdir(dir, sizeof dir, cfg, "verify", e)))
		return rc;
	if ((size_t)snprintf(path, cap, "%s/rental-%" PRIu64 "-%lld.json", dir, id, (long long)at) >= cap)
		return err_set(e, ERR_TOO_BIG, "evidence path too long");
	if (!(text = json_dumps(ev, JSON_INDENT(2) | JSON_SORT_KEYS)))
		return err_set(e, ERR_NOMEM, "out of memory");
	rc = file_write_atomic(path, text, strlen(text), 0600, e);
	free(text);
	return rc;
}

int cmd_verify(int argc, char **argv, struct cfg *cfg)
{
	struct verify_args a = { .server = cfg_get(cfg, "server_url"), .tolerance = VERIFY_TOLERANCE_DEFAULT,
				 .timeout_s = VERIFY_TIMEOUT_DEFAULT_S };
	struct verify_listing l;
	struct verify_seen *seen = calloc(1, sizeof *seen);
	struct verify_result *res = calloc(1, sizeof *res);
	struct cli_ssh_dest d;
	struct err e = { 0 };
	struct buf out, rep;
	char path[WALLET_PATH_MAX + 96] = "";
	int64_t at = (int64_t)time(NULL);
	json_t *ev = NULL;
	int rc;

	buf_init(&out, VERIFY_OUTPUT_MAX);
	buf_init(&rep, (size_t)64 << 10);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			rc = verify_usage(stdout);
			goto done;
		}
	if (!seen || !res) {
		rc = cli_fail(err_set(&e, ERR_NOMEM, "out of memory"), &e);
		goto done;
	}
	if (verify_parse_args(&a, argc, argv, &e)) {
		fprintf(stderr, "flopmarket verify: %s\n", e.msg);
		rc = verify_usage(stderr);
		goto done;
	}
	if (!a.server) {
		fprintf(stderr, "flopmarket verify: needs the server (--server URL or server_url): the listing is compared\n");
		rc = EXIT_USAGE;
		goto done;
	}
	if ((rc = listing_of(&l, a.server, a.id, &e)) || (rc = cli_rental_ssh(&d, a.server, a.agent, a.id, &e)) ||
	    (rc = run_in_rental(&out, &a, &d, &e)) ||
	    (rc = verify_parse(seen, (const char *)out.data, out.len, &e))) {
		if (out.len)
			fprintf(stderr, "the rental printed:\n%.2000s\n", buf_cstr(&out));
		rc = cli_fail(rc, &e);
		goto done;
	}
	verify_compare(res, &l, seen, (unsigned)a.tolerance);
	ev = verify_evidence(a.id, a.server, at, &l, seen, res, (unsigned)a.tolerance, (const char *)out.data, out.len);
	if (!ev || save_evidence(path, sizeof path, cfg, ev, a.id, at, &e)) {
		rc = cli_fail(ev ? e.code : ERR_NOMEM, &e);
		goto done;
	}
	if (a.json) {
		char *text = json_dumps(ev, JSON_INDENT(2) | JSON_SORT_KEYS);
		if (text)
			printf("%s\n", text);
		free(text);
	} else if (!verify_report(&rep, a.id, &l, seen, res, (unsigned)a.tolerance)) {
		fputs(buf_cstr(&rep), stdout);
	}
	fprintf(stderr, "evidence: %s\n", path);
	rc = strcmp(res->verdict, "matches") == 0 ? EXIT_OK : EXIT_FAIL;
done:
	json_decref(ev);
	buf_release(&out);
	buf_release(&rep);
	free(seen);
	free(res);
	return rc;
}
