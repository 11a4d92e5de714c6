/*
 * gpu_peak.c — published peaks of known GPU models and the gpu-check report (see gpu_peak.h).
 */
#include "agent/gpu_peak.h"

#include "agent/gpu.h"
#include "agent/gpubench.h"
#include "core/buf.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/*
 * NVIDIA datasheets, dense (no sparsity). The more specific entry of a family comes first: the first
 * whose words all appear wins. FP16 is the tensor-core rate with FP32 accumulation, which on GeForce
 * parts is half the FP16-accumulate rate the marketing page leads with.
 */
static const struct gpu_peak PEAKS[] = {
	{ "H200 NVL", { "H200", "NVL", NULL }, 60.0, 835.0, 4800.0 },
	{ "H200 SXM 141GB", { "H200", NULL }, 67.0, 989.0, 4800.0 },
	{ "H100 NVL 94GB", { "H100", "NVL", NULL }, 60.0, 835.0, 3900.0 },
	{ "H100 PCIe 80GB", { "H100", "PCIE", NULL }, 51.0, 756.0, 2000.0 },
	{ "H100 SXM5 80GB", { "H100", "HBM3", NULL }, 67.0, 989.0, 3350.0 },
	{ "A100 SXM4 80GB", { "A100", "SXM4", "80GB", NULL }, 19.5, 312.0, 2039.0 },
	{ "A100 SXM4 40GB", { "A100", "SXM4", "40GB", NULL }, 19.5, 312.0, 1555.0 },
	{ "A100 PCIe 80GB", { "A100", "PCIE", "80GB", NULL }, 19.5, 312.0, 1935.0 },
	{ "A100 PCIe 40GB", { "A100", "PCIE", "40GB", NULL }, 19.5, 312.0, 1555.0 },
	{ "RTX 4090", { "RTX", "4090", NULL }, 82.6, 165.2, 1008.0 },
};

/* True when `word` appears in `name`, ignoring case. */
static bool has_word(const char *name, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = name; *p; p++) {
		size_t i = 0;
		while (i < n && p[i] && toupper((unsigned char)p[i]) == toupper((unsigned char)word[i]))
			i++;
		if (i == n)
			return true;
	}
	return false;
}

const struct gpu_peak *gpu_peak_find(const char *name)
{
	if (!name || !*name)
		return NULL;
	for (size_t i = 0; i < sizeof PEAKS / sizeof PEAKS[0]; i++) {
		bool all = true;
		for (size_t w = 0; PEAKS[i].words[w] && all; w++)
			all = has_word(name, PEAKS[i].words[w]);
		if (all)
			return &PEAKS[i];
	}
	return NULL;
}

double gpu_peak_ratio(double measured, double peak)
{
	if (!(measured > 0) || !(peak > 0) || !isfinite(measured) || !isfinite(peak))
		return 0;
	return measured / peak;
}

/* One figure: "FP32 45.10 TFLOPS of 67.0 peak (67 %)", or without the peak when it is unknown. */
static int figure(struct buf *out, const char *what, double v, double peak, const char *unit)
{
	double r = gpu_peak_ratio(v, peak);

	if (!(v > 0))
		return buf_printf(out, "    %-6s not measured\n", what);
	if (r > 0)
		return buf_printf(out, "    %-6s %9.2f %s  of %.1f peak (%.0f %%)\n", what, v, unit, peak, r * 100);
	return buf_printf(out, "    %-6s %9.2f %s  (no published peak known for this model)\n", what, v, unit);
}

int gpu_check_report(struct buf *out, const struct gpu_host *h, const struct gpubench_result *res, size_t n)
{
	int rc = buf_printf(out, "gpu-check: %zu GPU(s) via %s, driver %s, CUDA %u.%u\n", h->gpu_count,
			    gpu_source_name(h->source), h->driver_version[0] ? h->driver_version : "unknown",
			    h->cuda_driver_version / 1000, h->cuda_driver_version % 1000 / 10);

	for (size_t i = 0; i < h->gpu_count && i < n && !rc; i++) {
		const struct gpu_info *g = &h->gpus[i];
		const struct gpu_peak *pk = gpu_peak_find(g->name);
		const struct gpubench_result *r = &res[i];

		rc = buf_printf(out, "  GPU %u: %s, %llu MiB VRAM (%s)%s%s\n", g->index, g->name,
				(unsigned long long)g->vram_mib, pk ? pk->model : "model not in the peak table",
				r->verified && r->cc[0] ? ", compute capability " : "", r->verified ? r->cc : "");
		if (rc)
			break;
		if (!r->verified) {
			rc = buf_printf(out, "    not measured: %s\n", r->why[0] ? r->why : "unknown reason");
			continue;
		}
		if (!(rc = figure(out, "FP32", r->fp32_tflops, pk ? pk->fp32_tflops : 0, "TFLOPS")) &&
		    !(rc = figure(out, "FP16", r->fp16_tflops, pk ? pk->fp16_tflops : 0, "TFLOPS")))
			rc = figure(out, "memory", r->mem_bw_gbps, pk ? pk->mem_bw_gbps : 0, "GB/s  ");
	}
	return rc;
}
