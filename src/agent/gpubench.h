/*
 * gpubench.h — run the CUDA benchmark (build/gpubench) and read its figures.
 *
 * The benchmark is a separate executable built from src/agent/cuda/
 * gpubench.cu only where nvcc exists. gpubench_run executes it with a
 * deadline and parses the one JSON object it prints. Any reason it cannot
 * give figures — no binary, no GPU, a non-zero exit, a timeout, output we
 * cannot parse — is not an error: the result is `verified = false` with the
 * reason in `why`, and the offer says "unverified". Figures are floats for
 * display only (never money).
 */
#ifndef FLOP_AGENT_GPUBENCH_H
#define FLOP_AGENT_GPUBENCH_H

#include <stdbool.h>
#include <stddef.h>

struct err;

#define GPUBENCH_OUTPUT_MAX ((size_t)16 << 10) /* cap on what we read from it */

/* Figures for one GPU; meaningful only when verified. */
struct gpubench_result {
	bool verified;          /* true: measured on this host by gpubench */
	unsigned device;        /* CUDA device index measured */
	char name[96];          /* device name gpubench reported */
	char cc[16];            /* compute capability, "9.0" */
	double fp32_tflops;     /* FP32 matmul, 1e12 flop/s */
	double fp16_tflops;     /* FP16 tensor-core matmul; 0 when not measured */
	double mem_bw_gbps;     /* device copy bandwidth (read+write), 1e9 B/s */
	char why[256];          /* when !verified: why ("no gpubench binary", ...) */
};

/*
 * Parses gpubench's JSON output (at most GPUBENCH_OUTPUT_MAX bytes) into
 * *out with verified = true. Pure; writes *out only on success. Figures must
 * be finite, >= 0 and below sanity caps (ERR_RANGE); fp16_tflops may be null.
 */
int gpubench_parse(struct gpubench_result *out, const char *text, size_t n, struct err *e);

/*
 * Runs `exe` (NULL: "build/gpubench") for CUDA device `device` with a
 * deadline of timeout_s (0: 120 s) unless has_gpu is false, and fills *out.
 * Always returns 0 and fills *out: verified with figures, or unverified with
 * the reason (the program is absent, has_gpu is false, it exited non-zero —
 * e.g. "no CUDA device" — timed out, or printed something unparsable).
 */
int gpubench_run(struct gpubench_result *out, const char *exe, unsigned device, bool has_gpu,
		 unsigned timeout_s);

/* gpubench.cu's own source text (build/gen/gpubench_source.c, NUL-terminated), which `flopmarket verify`
 * compiles inside a rental with the rental's nvcc. */
extern const char gpubench_source[];
extern const unsigned long gpubench_source_len;

/* The same for a command line of the caller's (argv ends in the benchmark and its device, e.g. run as a
 * rental's account by gpu_rental_view): runs it, reads its last JSON line, always returns 0. */
int gpubench_run_argv(struct gpubench_result *out, char *const argv[], unsigned timeout_s);

#endif
