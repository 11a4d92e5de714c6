/*
 * cmd_gpu_check.c — `flopmarket provider gpu-check`: what this host's GPUs are and what they do.
 *
 *   provider gpu-check [--gpubench PATH] [--nvidia-smi PATH] [--timeout-s N]
 *
 * Detects the GPUs (NVML, then nvidia-smi; never a spec file: this is the real hardware's check), runs
 * the CUDA benchmark (build/gpubench, src/agent/cuda) on each, and prints one report: model, VRAM,
 * driver, CUDA, FP32/FP16 TFLOPS and memory GB/s, each beside the model's published peak with the
 * ratio (agent/gpu_peak.h); then, as root, the rental's view: a throwaway rental account runs nvidia-smi
 * and the benchmark through its login shell (agent/gpu_rental_view.h). A host without an NVIDIA GPU prints "gpu-check: skipped: <why>" and exits
 * 0; a GPU that could not be measured (no gpubench built, the benchmark failed) or that the rental's
 * account cannot see or use makes it exit 1. Not root: the rental view says "skipped".
 */
#include "cli/cli.h"
#include "cli/session.h"
#include "agent/gpu.h"
#include "agent/gpu_peak.h"
#include "agent/gpu_rental_view.h"
#include "agent/gpubench.h"
#include "core/buf.h"
#include "core/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GPU_CHECK_REPORT_MAX ((size_t)64 << 10)
#define GPU_CHECK_TIMEOUT_MAX 3600

static void gpu_check_usage(FILE *f)
{
	fprintf(f, "usage: flopmarket provider gpu-check [--gpubench PATH] [--nvidia-smi PATH] [--timeout-s N]\n"
		   "  detects this host's NVIDIA GPUs, benchmarks each (build/gpubench) and prints the figures\n"
		   "  beside the model's published peaks, then (as root) what a throwaway rental account sees:\n"
		   "  nvidia-smi and the benchmark run as that user; without a GPU it says \"skipped\" and exits 0\n");
}

struct gpu_check_args {
	const char *gpubench;
	const char *smi;
	unsigned timeout_s;
};

static int parse_timeout(unsigned *out, const char *v, struct err *e)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < 1 || n > GPU_CHECK_TIMEOUT_MAX)
		return err_set(e, ERR_INVALID, "--timeout-s: a whole number of seconds from 1 to %d, not '%.40s'",
			       GPU_CHECK_TIMEOUT_MAX, v);
	*out = (unsigned)n;
	return 0;
}

static int gpu_check_parse(struct gpu_check_args *a, int argc, char **argv, struct err *e)
{
	memset(a, 0, sizeof *a);
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(k, "--gpubench") != 0 && strcmp(k, "--nvidia-smi") != 0 && strcmp(k, "--timeout-s") != 0)
			return err_set(e, ERR_INVALID, "unknown option '%.60s'", k);
		if (!v)
			return err_set(e, ERR_INVALID, "%s needs a value", k);
		if (strlen(v) > 4096)
			return err_set(e, ERR_INVALID, "%s: longer than 4096 characters", k);
		i++;
		if (strcmp(k, "--gpubench") == 0)
			a->gpubench = v;
		else if (strcmp(k, "--nvidia-smi") == 0)
			a->smi = v;
		else if (parse_timeout(&a->timeout_s, v, e))
			return e->code;
	}
	return 0;
}

int cmd_gpu_check(int argc, char **argv)
{
	struct gpu_check_args a;
	struct gpu_detect_opts go = { 0 };
	struct gpu_host *h = calloc(1, sizeof *h);
	struct gpubench_result *res = calloc(GPU_MAX, sizeof *res);
	struct gpu_rental_view *view = calloc(1, sizeof *view);
	struct gpu_rental_view_opts vo = { 0 };
	struct err e = { 0 };
	struct buf out;
	size_t unmeasured = 0;
	int rc;

	buf_init(&out, GPU_CHECK_REPORT_MAX);
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
		gpu_check_usage(stdout);
		rc = EXIT_OK;
		goto done;
	}
	if (!h || !res || !view) {
		rc = cli_fail(err_set(&e, ERR_NOMEM, "out of memory"), &e);
		goto done;
	}
	if (gpu_check_parse(&a, argc, argv, &e)) {
		fprintf(stderr, "flopmarket provider gpu-check: %s\n", e.msg);
		gpu_check_usage(stderr);
		rc = EXIT_USAGE;
		goto done;
	}
	go.smi_path = a.smi;
	if ((rc = gpu_detect(h, &go, &e))) {
		if (rc == ERR_NOT_FOUND) {
			printf("gpu-check: skipped: %s\n", e.msg);
			rc = EXIT_OK;
		} else {
			rc = cli_fail(rc, &e);
		}
		goto done;
	}
	for (size_t i = 0; i < h->gpu_count; i++) {
		gpubench_run(&res[i], a.gpubench, h->gpus[i].index, true, a.timeout_s);
		unmeasured += !res[i].verified;
	}
	vo.gpubench = a.gpubench;
	vo.smi = a.smi;
	vo.timeout_s = a.timeout_s;
	gpu_rental_view_run(view, h, &vo, &e);
	if ((rc = gpu_check_report(&out, h, res, h->gpu_count)) ||
	    (rc = gpu_rental_view_report(&out, view, h->gpu_count ? &res[0] : NULL))) {
		rc = cli_fail(err_set(&e, rc, "the report does not fit in %zu bytes", (size_t)GPU_CHECK_REPORT_MAX), &e);
		goto done;
	}
	fputs(buf_cstr(&out), stdout);
	if (unmeasured) {
		fprintf(stderr, "gpu-check: %zu of %zu GPU(s) not measured (see above)\n", unmeasured, h->gpu_count);
		rc = EXIT_FAIL;
	} else if (view->ran && !view->ok) {
		fprintf(stderr, "gpu-check: the rental's account does not get the GPU (see \"rental view\" above)\n");
		rc = EXIT_FAIL;
	} else {
		rc = EXIT_OK;
	}
done:
	buf_release(&out);
	free(h);
	free(res);
	free(view);
	return rc;
}
