/*
 * gpu_verify.h — `flopmarket verify`: what a rental really has, measured inside it, against what its
 * listing published. The pure parts: the script the rental runs (over its own SSH access), the
 * reading of what that script prints, the comparison, and the report and evidence record.
 *
 * The script (verify_script): writes what arrives on stdin to a temp dir; lists the GPUs with
 * nvidia-smi (the agent's six CSV fields); gets a benchmark — the renter's own binary (uploaded), else
 * the gpubench source this CLI carries compiled there with the rental's nvcc (-arch=native, else the
 * Makefile's targets), else a `flopmarket-gpubench` the provider put on the rental's PATH (said so) —
 * and runs it on each GPU. Its output is sections between "@@" marker lines:
 *   @@smi-begin / <CSV lines> / @@smi-end <status>
 *   @@bench-source uploaded|compiled|provider|none <detail>
 *   @@bench <i> / <output; the last {...} line is gpubench's JSON> / @@bench-end <status>
 *   @@end
 *
 * The comparison, per finding (a gap is evidence for a dispute):
 *   - GPUs: fewer seen than listed is a gap; nvidia-smi failing with a GPU listed is a gap;
 *   - model: the first seen GPU's name, as listings spell it (gpu_model_slug), against the listing's;
 *   - VRAM: the smallest seen below the listed by more than 2 % (drivers round) is a gap;
 *   - FP32 / FP16 TFLOPS and memory GB/s per GPU: below the listed figure by more than the tolerance
 *     is a gap; a listing without figures (unverified) is compared on the rest only.
 * The verdict: "matches" (every check passed), "gap" (at least one gap), or "inconclusive" (no gap,
 * but the benchmark could not run, so the figures were not checked).
 */
#ifndef FLOP_AGENT_GPU_VERIFY_H
#define FLOP_AGENT_GPU_VERIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/gpu.h"
#include "agent/gpubench.h"

struct buf;
struct err;

#define VERIFY_OUTPUT_MAX ((size_t)256 << 10) /* what the rental's script may print */
#define VERIFY_FINDINGS_MAX 48
#define VERIFY_TOLERANCE_DEFAULT 10           /* percent */

/* What the listing published (GET /offers/{hash}); figures per GPU, 0 when not published. */
struct verify_listing {
	char offer_hash[67];
	char gpu[64];              /* "NVIDIA_A100_80GB" */
	unsigned num_gpus;
	uint64_t vram_mib;         /* per GPU (the smallest) */
	double fp32_tflops;        /* per GPU */
	double fp16_tflops;
	double mem_bw_gbps;
	bool verified, simulated;
};

/* Where the benchmark came from. */
enum verify_source { VERIFY_SRC_NONE = 0, VERIFY_SRC_UPLOADED, VERIFY_SRC_COMPILED, VERIFY_SRC_PROVIDER };

/* What the script saw. */
struct verify_seen {
	struct gpu_host smi;       /* the GPUs nvidia-smi listed (gpu_count 0 when none) */
	bool smi_ran;              /* the section was there */
	int smi_status;            /* nvidia-smi's exit status */
	char smi_why[200];         /* when it listed nothing: its message */
	enum verify_source source;
	char source_detail[160];
	size_t nbench;
	struct gpubench_result bench[GPU_MAX]; /* bench[i] for GPU i */
	bool complete;             /* the @@end line arrived */
};

struct verify_finding {
	char what[16];             /* "gpus", "model", "vram", "fp32", "fp16", "memory", "benchmark" */
	bool gap;
	char text[240];
};

struct verify_result {
	size_t n;
	struct verify_finding f[VERIFY_FINDINGS_MAX];
	size_t gaps;
	bool figures_checked;      /* the benchmark ran on every seen GPU */
	const char *verdict;       /* "matches", "gap", "inconclusive" */
};

/* The listing's figures from an offer object (the server's GET /offers/{hash}). ERR_INVALID naming a field. */
int verify_listing_from_offer(struct verify_listing *out, const json_t *offer, struct err *e);

/* The shell script the rental runs; `upload` says stdin is the renter's binary (else the source). */
int verify_script(struct buf *out, bool upload);

/* Reads the script's output (at most VERIFY_OUTPUT_MAX bytes). ERR_INVALID when no section is there. */
int verify_parse(struct verify_seen *out, const char *text, size_t n, struct err *e);

/* Compares; tolerance in percent (0..90). */
void verify_compare(struct verify_result *r, const struct verify_listing *l, const struct verify_seen *s,
		    unsigned tolerance_pct);

/* The report a person reads. ERR_NOMEM / ERR_RANGE from the buffer. */
int verify_report(struct buf *out, uint64_t rental, const struct verify_listing *l, const struct verify_seen *s,
		  const struct verify_result *r, unsigned tolerance_pct);

/* The evidence record (JSON): rental, offer, when, tolerance, the listing, what was seen (the script's
 * raw output too), each finding and the verdict. NULL: no memory. */
json_t *verify_evidence(uint64_t rental, const char *server, int64_t at_unix, const struct verify_listing *l,
			const struct verify_seen *s, const struct verify_result *r, unsigned tolerance_pct,
			const char *raw, size_t raw_len);

#endif
