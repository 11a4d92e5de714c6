/*
 * test_gpu_peak.c — agent/gpu_peak.h: the published-peak table, the ratio, and the gpu-check report,
 * fed by nvidia-smi lines and gpubench outputs in tests/vectors/gpu/ (see its README for what they are).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "agent/gpu.h"
#include "agent/gpu_peak.h"
#include "agent/gpubench.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"

#define VEC "tests/vectors/gpu/"

static void load_smi(struct gpu_host *h, const char *file)
{
	struct buf b;
	struct err e = { 0 };

	buf_init(&b, GPU_TEXT_MAX);
	assert_int_equal(file_read(&b, file, &e), 0);
	memset(h, 0, sizeof *h);
	if (gpu_smi_csv_parse(h, (const char *)b.data, b.len, &e))
		fail_msg("%s: %s", file, e.msg);
	h->source = GPU_SOURCE_SMI;
	h->cuda_driver_version = 12040;
	buf_release(&b);
}

static void load_bench(struct gpubench_result *r, const char *file)
{
	struct buf b;
	struct err e = { 0 };

	buf_init(&b, GPUBENCH_OUTPUT_MAX);
	assert_int_equal(file_read(&b, file, &e), 0);
	if (gpubench_parse(r, (const char *)b.data, b.len, &e))
		fail_msg("%s: %s", file, e.msg);
	buf_release(&b);
}

/* Every model name the drivers print maps to its own entry; look-alikes do not borrow a peak. */
static void test_peak_find(void **state)
{
	static const struct { const char *name, *model; } cases[] = {
		{ "NVIDIA H100 80GB HBM3", "H100 SXM5 80GB" },
		{ "NVIDIA H100 PCIe", "H100 PCIe 80GB" },
		{ "NVIDIA H100 NVL", "H100 NVL 94GB" },
		{ "NVIDIA H200", "H200 SXM 141GB" },
		{ "NVIDIA H200 NVL", "H200 NVL" },
		{ "NVIDIA A100-SXM4-80GB", "A100 SXM4 80GB" },
		{ "NVIDIA A100-SXM4-40GB", "A100 SXM4 40GB" },
		{ "NVIDIA A100 80GB PCIe", "A100 PCIe 80GB" },
		{ "NVIDIA A100-PCIE-40GB", "A100 PCIe 40GB" },
		{ "NVIDIA GeForce RTX 4090", "RTX 4090" },
		{ "nvidia geforce rtx 4090", "RTX 4090" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct gpu_peak *p = gpu_peak_find(cases[i].name);
		if (!p || strcmp(p->model, cases[i].model) != 0)
			fail_msg("%s -> %s, want %s", cases[i].name, p ? p->model : "none", cases[i].model);
		assert_true(p->fp32_tflops > 0 && p->fp16_tflops > 0 && p->mem_bw_gbps > 0);
	}
	assert_null(gpu_peak_find("NVIDIA GeForce RTX 3080"));
	assert_null(gpu_peak_find("Tesla V100-SXM2-16GB"));
	assert_null(gpu_peak_find("NVIDIA A100")); /* which memory? no guess */
	assert_null(gpu_peak_find(""));
	assert_null(gpu_peak_find(NULL));
	assert_true(gpu_peak_find("NVIDIA H100 80GB HBM3")->mem_bw_gbps == 3350.0);
	assert_true(gpu_peak_find("NVIDIA A100-SXM4-80GB")->fp16_tflops == 312.0);
	assert_true(gpu_peak_find("NVIDIA GeForce RTX 4090")->fp16_tflops == 165.2);
}

static void test_ratio(void **state)
{
	(void)state;
	assert_true(gpu_peak_ratio(33.5, 67.0) == 0.5);
	assert_true(gpu_peak_ratio(0, 67.0) == 0);
	assert_true(gpu_peak_ratio(10, 0) == 0);
	assert_true(gpu_peak_ratio(-1, 10) == 0);
	assert_true(gpu_peak_ratio(1.0 / 0.0, 10) == 0);
	assert_true(gpu_peak_ratio(0.0 / 0.0, 10) == 0);
}

/* Two H100s, one measured, one whose benchmark failed: figures with ratios, and the reason. */
static void test_report_h100(void **state)
{
	static struct gpu_host h;
	struct gpubench_result res[2] = { 0 };
	struct buf out;
	const char *s;

	(void)state;
	load_smi(&h, VEC "smi-h100-sxm.csv");
	assert_int_equal(h.gpu_count, 2);
	load_bench(&res[0], VEC "gpubench-h100-sxm.json");
	snprintf(res[1].why, sizeof res[1].why, "gpubench exited 1: no CUDA device");
	buf_init(&out, 1 << 16);
	assert_int_equal(gpu_check_report(&out, &h, res, 2), 0);
	s = buf_cstr(&out);
	print_message("%s", s);
	assert_non_null(strstr(s, "gpu-check: 2 GPU(s) via nvidia-smi, driver 550.54.15, CUDA 12.4\n"));
	assert_non_null(strstr(s, "GPU 0: NVIDIA H100 80GB HBM3, 81559 MiB VRAM (H100 SXM5 80GB), compute capability 9.0\n"));
	assert_non_null(strstr(s, "FP32       50.25 TFLOPS  of 67.0 peak (75 %)\n"));
	assert_non_null(strstr(s, "FP16      593.40 TFLOPS  of 989.0 peak (60 %)\n"));
	assert_non_null(strstr(s, "memory   2847.50 GB/s    of 3350.0 peak (85 %)\n"));
	assert_non_null(strstr(s, "GPU 1: NVIDIA H100 80GB HBM3, 81559 MiB VRAM (H100 SXM5 80GB)\n    not measured: gpubench exited 1: no CUDA device\n"));
	buf_release(&out);
}

/* An A100 with no figure measured yet, an RTX 4090 without FP16: what is missing is said, not zero. */
static void test_report_a100_rtx4090(void **state)
{
	static struct gpu_host h;
	struct gpubench_result r = { 0 };
	struct buf out;
	const char *s;

	(void)state;
	load_smi(&h, VEC "smi-a100-sxm4-80gb.csv");
	assert_string_equal(h.gpus[0].name, "NVIDIA A100-SXM4-80GB");
	assert_true(h.gpus[0].vram_mib == 81920);
	buf_init(&out, 1 << 16);
	assert_int_equal(gpu_check_report(&out, &h, &r, 1), 0);
	assert_non_null(strstr(buf_cstr(&out), "(A100 SXM4 80GB)\n    not measured: unknown reason\n"));
	buf_reset(&out);

	load_smi(&h, VEC "smi-rtx4090.csv");
	load_bench(&r, VEC "gpubench-rtx4090.json");
	assert_int_equal(gpu_check_report(&out, &h, &r, 1), 0);
	s = buf_cstr(&out);
	print_message("%s", s);
	assert_non_null(strstr(s, "NVIDIA GeForce RTX 4090, 24564 MiB VRAM (RTX 4090), compute capability 8.9\n"));
	assert_non_null(strstr(s, "FP32       66.08 TFLOPS  of 82.6 peak (80 %)\n"));
	assert_non_null(strstr(s, "FP16   not measured\n"));
	assert_non_null(strstr(s, "memory    907.20 GB/s    of 1008.0 peak (90 %)\n"));
	buf_release(&out);
}

/* A model outside the table: figures without a made-up peak. A report that does not fit: an error. */
static void test_report_unknown_and_bounds(void **state)
{
	static struct gpu_host h;
	struct gpubench_result r = { 0 };
	struct buf out;
	struct err e = { 0 };
	static const char line[] = "0, Tesla V100-SXM2-16GB, 16160, GPU-x, 00000000:01:00.0, 535.1\n";

	(void)state;
	assert_int_equal(gpu_smi_csv_parse(&h, line, strlen(line), &e), 0);
	r.verified = true;
	r.fp32_tflops = 14.1;
	r.mem_bw_gbps = 820;
	buf_init(&out, 1 << 16);
	assert_int_equal(gpu_check_report(&out, &h, &r, 1), 0);
	assert_non_null(strstr(buf_cstr(&out), "(model not in the peak table)"));
	assert_non_null(strstr(buf_cstr(&out), "FP32       14.10 TFLOPS  (no published peak known for this model)\n"));
	buf_release(&out);
	buf_init(&out, 16);
	assert_int_not_equal(gpu_check_report(&out, &h, &r, 1), 0);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peak_find),
		cmocka_unit_test(test_ratio),
		cmocka_unit_test(test_report_h100),
		cmocka_unit_test(test_report_a100_rtx4090),
		cmocka_unit_test(test_report_unknown_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
