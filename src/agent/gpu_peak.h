/*
 * gpu_peak.h — the vendor's published peak figures of known GPU models, and the check report
 * (`flopmarket provider gpu-check`, `make gpu-check`) that sets what this host measured beside them.
 *
 * Peaks are NVIDIA's datasheet figures without sparsity: FP32 (non-tensor) TFLOPS, FP16 tensor-core
 * TFLOPS with FP32 accumulation (what src/agent/cuda/gpubench.cu measures), and memory bandwidth in
 * GB/s. A model is matched by its driver name (case-insensitive words, e.g. "A100" + "SXM4" + "80GB");
 * an unknown model gets figures without ratios. Floats are for display only (never money).
 */
#ifndef FLOP_AGENT_GPU_PEAK_H
#define FLOP_AGENT_GPU_PEAK_H

#include <stddef.h>

struct buf;
struct gpu_host;
struct gpubench_result;

struct gpu_peak {
	const char *model;       /* "H100 SXM5 80GB" */
	const char *words[4];    /* all must appear in the driver's name; NULL-terminated */
	double fp32_tflops;
	double fp16_tflops;      /* tensor cores, FP32 accumulation, dense */
	double mem_bw_gbps;
};

/* The published peaks of the model the driver calls `name`, or NULL when it is not in the table. */
const struct gpu_peak *gpu_peak_find(const char *name);

/* measured / peak, or 0 when either is unknown (<= 0). */
double gpu_peak_ratio(double measured, double peak);

/*
 * Appends the check report for host `h` and one benchmark result per GPU (res[i] for h->gpus[i],
 * n == h->gpu_count) to out: a header line with the driver and CUDA versions and the source, then per
 * GPU its model, VRAM and each figure measured with its ratio to the model's peak ("FP32 45.10 TFLOPS
 * of 67.0 (67 %)"), or why it was not measured. 0, or ERR_NOMEM / ERR_RANGE from the buffer.
 */
int gpu_check_report(struct buf *out, const struct gpu_host *h, const struct gpubench_result *res, size_t n);

#endif
