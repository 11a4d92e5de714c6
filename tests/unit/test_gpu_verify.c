/*
 * test_gpu_verify.c — the renter's re-check (agent/gpu_verify.h) on outputs in the tools' formats
 * (tests/vectors/gpu: two H100 SXM lines of nvidia-smi, gpubench's JSON): the script's output read
 * back, a rental that matches its listing, each kind of gap (fewer GPUs, another model, less VRAM,
 * figures below the listing beyond the tolerance), nvidia-smi failing, no benchmark (inconclusive),
 * an unverified listing compared on the rest, the script's text, the listing read from an offer, and
 * the evidence record (its raw output made printable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "agent/gpu_verify.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"

#define VEC "tests/vectors/gpu/"

static char *slurp(const char *file)
{
	struct buf b;
	struct err e = { 0 };
	char *s;

	buf_init(&b, 1 << 16);
	assert_int_equal(file_read(&b, file, &e), 0);
	s = strdup(buf_cstr(&b));
	buf_release(&b);
	return s;
}

/* What the rental's script prints for two H100s, each benchmarked with the vector's figures (or not). */
static void script_output(struct buf *out, bool bench)
{
	char *smi = slurp(VEC "smi-h100-sxm.csv"), *js = slurp(VEC "gpubench-h100-sxm.json");

	buf_printf(out, "@@smi-begin\n%s@@smi-end 0\n", smi);
	if (bench) {
		buf_printf(out, "@@bench-source compiled in the rental from this CLI's source, Build cuda_12.4\n");
		for (int i = 0; i < 2; i++)
			buf_printf(out, "@@bench %d\nwarning: something\n%s@@bench-end 0\n", i, js);
	} else {
		buf_printf(out, "@@bench-source none no nvcc and no flopmarket-gpubench in the rental (give --gpubench FILE)\n");
	}
	buf_printf(out, "@@end\n");
	free(smi);
	free(js);
}

static struct verify_listing h100_listing(void)
{
	struct verify_listing l = { .num_gpus = 2, .vram_mib = 81559, .fp32_tflops = 50.0, .fp16_tflops = 590.0,
				    .mem_bw_gbps = 2800, .verified = true };
	snprintf(l.offer_hash, sizeof l.offer_hash, "0x%064d", 7);
	snprintf(l.gpu, sizeof l.gpu, "NVIDIA_H100_80GB_HBM3");
	return l;
}

static void seen_of(struct verify_seen *s, bool bench)
{
	struct buf b;
	struct err e = { 0 };

	buf_init(&b, VERIFY_OUTPUT_MAX);
	script_output(&b, bench);
	if (verify_parse(s, (const char *)b.data, b.len, &e))
		fail_msg("parse: %s", e.msg);
	buf_release(&b);
}

static const struct verify_finding *finding(const struct verify_result *r, const char *what, bool gap)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->f[i].what, what) && r->f[i].gap == gap)
			return &r->f[i];
	return NULL;
}

static void test_parse(void **state)
{
	struct verify_seen s;
	(void)state;

	seen_of(&s, true);
	assert_true(s.complete);
	assert_true(s.smi_ran);
	assert_int_equal(s.smi.gpu_count, 2);
	assert_string_equal(s.smi.gpus[1].name, "NVIDIA H100 80GB HBM3");
	assert_int_equal(s.source, VERIFY_SRC_COMPILED);
	assert_non_null(strstr(s.source_detail, "cuda_12.4"));
	assert_int_equal(s.nbench, 2);
	assert_true(s.bench[1].verified);
	assert_true(s.bench[1].fp32_tflops > 50.2 && s.bench[1].fp32_tflops < 50.3);
	/* no section at all: refused */
	struct err e = { 0 };
	assert_int_equal(verify_parse(&s, "Permission denied\n", 18, &e), ERR_INVALID);
}

static void test_matches(void **state)
{
	struct verify_listing l = h100_listing();
	struct verify_seen s;
	struct verify_result r;
	struct buf rep;
	(void)state;

	seen_of(&s, true);
	verify_compare(&r, &l, &s, 10);
	assert_int_equal(r.gaps, 0);
	assert_string_equal(r.verdict, "matches");
	assert_non_null(finding(&r, "model", false));
	assert_non_null(finding(&r, "fp32", false));
	buf_init(&rep, 1 << 16);
	assert_int_equal(verify_report(&rep, 7, &l, &s, &r, 10), 0);
	assert_non_null(strstr(buf_cstr(&rep), "verdict: matches"));
	assert_null(strstr(buf_cstr(&rep), "GAP"));
	buf_release(&rep);
}

static void test_gaps(void **state)
{
	struct verify_listing l;
	struct verify_seen s;
	struct verify_result r;
	(void)state;

	seen_of(&s, true);
	/* FP32 listed 60: 50.25 is 16 % below, past 10 % */
	l = h100_listing();
	l.fp32_tflops = 60.0;
	verify_compare(&r, &l, &s, 10);
	assert_string_equal(r.verdict, "gap");
	assert_non_null(finding(&r, "fp32", true));
	assert_null(finding(&r, "memory", true));
	/* ... but within a 20 % tolerance */
	verify_compare(&r, &l, &s, 20);
	assert_string_equal(r.verdict, "matches");
	/* 8 GPUs listed, 2 there */
	l = h100_listing();
	l.num_gpus = 8;
	verify_compare(&r, &l, &s, 10);
	assert_non_null(finding(&r, "gpus", true));
	/* another model */
	l = h100_listing();
	snprintf(l.gpu, sizeof l.gpu, "NVIDIA_A100-SXM4-80GB");
	verify_compare(&r, &l, &s, 10);
	assert_non_null(finding(&r, "model", true));
	/* VRAM: 94 GB listed, 80 there; 2 % under is rounding */
	l = h100_listing();
	l.vram_mib = 95830;
	verify_compare(&r, &l, &s, 10);
	assert_non_null(finding(&r, "vram", true));
	l.vram_mib = 82000;
	verify_compare(&r, &l, &s, 10);
	assert_null(finding(&r, "vram", true));
}

static void test_no_gpu_and_no_benchmark(void **state)
{
	static const char out[] = "@@smi-begin\nsh: 1: nvidia-smi: not found\n@@smi-end 127\n"
				  "@@bench-source none no nvcc and no flopmarket-gpubench in the rental (give --gpubench FILE)\n@@end\n";
	struct verify_listing l = h100_listing();
	struct verify_seen s;
	struct verify_result r;
	struct err e = { 0 };
	(void)state;

	assert_int_equal(verify_parse(&s, out, sizeof out - 1, &e), 0);
	assert_int_equal(s.smi.gpu_count, 0);
	assert_int_equal(s.smi_status, 127);
	assert_non_null(strstr(s.smi_why, "not found"));
	verify_compare(&r, &l, &s, 10);
	assert_string_equal(r.verdict, "gap");
	assert_non_null(strstr(finding(&r, "gpus", true)->text, "the rental sees 0"));
	/* the GPUs are there but nothing could benchmark them: inconclusive, never "matches" */
	seen_of(&s, false);
	verify_compare(&r, &l, &s, 10);
	assert_int_equal(r.gaps, 0);
	assert_string_equal(r.verdict, "inconclusive");
	/* an unverified listing (no figures) is compared on GPUs, model and VRAM */
	l.fp32_tflops = l.fp16_tflops = l.mem_bw_gbps = 0;
	l.verified = false;
	verify_compare(&r, &l, &s, 10);
	assert_string_equal(r.verdict, "matches");
	assert_non_null(finding(&r, "benchmark", false));
}

static void test_script_and_listing(void **state)
{
	struct buf b;
	struct verify_listing l;
	struct err e = { 0 };
	json_t *o;
	(void)state;

	buf_init(&b, 1 << 16);
	assert_int_equal(verify_script(&b, false), 0);
	assert_non_null(strstr(buf_cstr(&b), "@@smi-begin"));
	assert_non_null(strstr(buf_cstr(&b), "nvcc -O3 -std=c++17 -arch=native"));
	assert_non_null(strstr(buf_cstr(&b), "[ source = upload ]"));
	buf_reset(&b);
	assert_int_equal(verify_script(&b, true), 0);
	assert_non_null(strstr(buf_cstr(&b), "[ upload = upload ]"));
	buf_release(&b);
	o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:b, s:b}", "offer_hash", "0xabc", "gpu", "NVIDIA_A100_80GB",
		      "num_gpus", 2, "vram_mib", 81920, "tflops32_milli", 19500, "tflops16_milli", 0, "bandwidth_gbps",
		      2039, "verified", 1, "simulated", 0);
	assert_int_equal(verify_listing_from_offer(&l, o, &e), 0);
	assert_int_equal(l.num_gpus, 2);
	assert_true(l.fp32_tflops > 19.49 && l.fp32_tflops < 19.51);
	assert_true(l.mem_bw_gbps == 2039);
	json_object_set_new(o, "num_gpus", json_integer(0));
	assert_int_equal(verify_listing_from_offer(&l, o, &e), ERR_INVALID);
	json_decref(o);
}

static void test_evidence(void **state)
{
	struct verify_listing l = h100_listing();
	struct verify_seen s;
	struct verify_result r;
	static const char raw[] = "@@smi-begin\n\x1b[31mred\xff\n";
	json_t *ev;
	(void)state;

	seen_of(&s, true);
	l.fp32_tflops = 60.0;
	verify_compare(&r, &l, &s, 10);
	ev = verify_evidence(7, "http://127.0.0.1:1", 1700000000, &l, &s, &r, 10, raw, sizeof raw - 1);
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(ev, "verdict")), "gap");
	assert_int_equal(json_integer_value(json_object_get(ev, "rental")), 7);
	assert_int_equal(json_array_size(json_object_get(ev, "gpus_seen")), 2);
	assert_int_equal(json_array_size(json_object_get(ev, "benchmarks")), 2);
	assert_string_equal(json_string_value(json_object_get(ev, "raw_output")), "@@smi-begin\n?[31mred?\n");
	json_decref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_gaps),
		cmocka_unit_test(test_no_gpu_and_no_benchmark),
		cmocka_unit_test(test_script_and_listing),
		cmocka_unit_test(test_evidence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
