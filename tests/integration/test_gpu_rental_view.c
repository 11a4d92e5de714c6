/*
 * test_gpu_rental_view.c — gpu-check's rental view (agent/gpu_rental_view.h) as root on this host:
 * a real throwaway rental account (useradd, home, cgroup, login shell) runs the tools as its own uid
 * and is torn down again. This host has no GPU, so the two tools are small scripts standing in for
 * nvidia-smi and build/gpubench that print what the real ones print (tests/vectors/gpu) with the uid
 * they ran as folded into the GPU name; the real tools run in `make gpu-check` on a GPU host.
 *
 *   - sees: the account lists the host's GPU (same UUID) and the benchmark runs as that uid, not root;
 *     afterwards the user, its home and the temp dir are gone;
 *   - another GPU: nvidia-smi as the account lists a UUID the host does not have -> not ok, named;
 *   - refused: nvidia-smi as the account fails (as NVML does without device access) -> not ok, with
 *     its exit status and message;
 *   - no benchmark binary: nvidia-smi still checked, the benchmark "not measured", not ok.
 * Skipped when not root or when useradd / setpriv are missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/gpu_rental_view.h"
#include "core/buf.h"
#include "core/err.h"

#define HOST_UUID "GPU-11111111-2222-3333-4444-555555555555"

static struct {
	char tmp[64];
	char smi_ok[128], smi_other[128], smi_refuses[128], bench[128];
	char cg_name[64];
	struct gpu_host host;
} T;

static int write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "#!/bin/sh\n%s", body);
	return fclose(f) || chmod(path, 0755) ? -1 : 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (geteuid() != 0 || access("/usr/sbin/useradd", X_OK) ||
	    (access("/usr/bin/setpriv", X_OK) && access("/bin/setpriv", X_OK)))
		return 0;
	snprintf(T.tmp, sizeof T.tmp, "/tmp/fm-gpuview-test.XXXXXX");
	if (!mkdtemp(T.tmp) || chmod(T.tmp, 0755))
		return -1;
	snprintf(T.cg_name, sizeof T.cg_name, "flopmarket-test-gpuview-%d", (int)getpid());
	snprintf(T.smi_ok, sizeof T.smi_ok, "%s/smi-ok", T.tmp);
	snprintf(T.smi_other, sizeof T.smi_other, "%s/smi-other", T.tmp);
	snprintf(T.smi_refuses, sizeof T.smi_refuses, "%s/smi-refuses", T.tmp);
	snprintf(T.bench, sizeof T.bench, "%s/gpubench", T.tmp);
	if (write_script(T.smi_ok, "echo \"0, NVIDIA H100 80GB HBM3 uid=$(id -u), 81559, " HOST_UUID
				   ", 00000000:19:00.0, 550.54.15\"\n") ||
	    write_script(T.smi_other, "echo \"0, NVIDIA H100 80GB HBM3, 81559, "
				      "GPU-99999999-2222-3333-4444-555555555555, 00000000:19:00.0, 550.54.15\"\n") ||
	    write_script(T.smi_refuses, "echo 'Failed to initialize NVML: Insufficient Permissions'; exit 9\n") ||
	    write_script(T.bench, "[ \"$1\" = 0 ] || exit 1\n"
				  "echo \"{\\\"gpubench\\\":1,\\\"device\\\":0,\\\"name\\\":\\\"uid=$(id -u) home=$PWD\\\","
				  "\\\"cc\\\":\\\"9.0\\\",\\\"fp32_tflops\\\":30.5,\\\"fp16_tflops\\\":300.25,"
				  "\\\"mem_bw_gbps\\\":2900.5}\"\n"))
		return -1;
	T.host.source = GPU_SOURCE_SMI;
	T.host.gpu_count = 1;
	T.host.gpus[0].index = 0;
	snprintf(T.host.gpus[0].name, sizeof T.host.gpus[0].name, "NVIDIA H100 80GB HBM3");
	snprintf(T.host.gpus[0].uuid, sizeof T.host.gpus[0].uuid, "%s", HOST_UUID);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[160];

	(void)state;
	if (T.tmp[0]) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", T.tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", T.tmp);
	}
	return 0;
}

static void need_setup(void)
{
	if (!T.tmp[0])
		skip();
}

static struct gpu_rental_view_opts opts(const char *smi, const char *bench)
{
	struct gpu_rental_view_opts o = { .gpubench = bench, .smi = smi, .timeout_s = 60, .cgroup_name = T.cg_name };
	return o;
}

/* The account and everything of it is gone after the run. */
static void assert_gone(const struct gpu_rental_view *v)
{
	struct stat st;

	assert_true(v->account[0] != '\0');
	assert_null(getpwnam(v->account));
	assert_int_not_equal(stat(v->workdir, &st), 0);
}

static void test_sees_and_measures_as_the_account(void **state)
{
	struct gpu_rental_view v;
	struct gpu_rental_view_opts o;
	struct err e = { 0 };
	char want[64];
	struct buf out;

	(void)state;
	need_setup();
	o = opts(T.smi_ok, T.bench);
	assert_int_equal(gpu_rental_view_run(&v, &T.host, &o, &e), 0);
	assert_true(v.ran);
	if (!v.ok)
		fail_msg("not ok: %s / bench: %s", v.why, v.bench.why);
	assert_true(v.uid >= 1000);
	assert_int_equal(v.gpus_seen, 1);
	assert_int_equal(v.gpus_missing, 0);
	snprintf(want, sizeof want, "uid=%ld", v.uid);
	assert_non_null(strstr(v.first_gpu, want));
	assert_true(v.bench.verified);
	assert_non_null(strstr(v.bench.name, want));
	assert_non_null(strstr(v.bench.name, "home=/tmp/flopmarket-gpu-check-")); /* ran from its own home */
	assert_gone(&v);

	buf_init(&out, 4096);
	assert_int_equal(gpu_rental_view_report(&out, &v, NULL), 0);
	assert_non_null(strstr(buf_cstr(&out), "every host GPU is there"));
	assert_non_null(strstr(buf_cstr(&out), "FP32 30.50 TFLOPS"));
	assert_null(strstr(buf_cstr(&out), "FAILED"));
	buf_release(&out);
}

static void test_another_gpu_is_not_ours(void **state)
{
	struct gpu_rental_view v;
	struct gpu_rental_view_opts o;
	struct err e = { 0 };

	(void)state;
	need_setup();
	o = opts(T.smi_other, T.bench);
	assert_int_equal(gpu_rental_view_run(&v, &T.host, &o, &e), 0);
	assert_true(v.ran);
	assert_false(v.ok);
	assert_int_equal(v.gpus_missing, 1);
	assert_non_null(strstr(v.why, "1 of 1 host GPU(s) not listed"));
	assert_gone(&v);
}

static void test_refused_device_is_named(void **state)
{
	struct gpu_rental_view v;
	struct gpu_rental_view_opts o;
	struct err e = { 0 };
	struct buf out;

	(void)state;
	need_setup();
	o = opts(T.smi_refuses, T.bench);
	assert_int_equal(gpu_rental_view_run(&v, &T.host, &o, &e), 0);
	assert_true(v.ran);
	assert_false(v.ok);
	assert_int_equal(v.gpus_seen, 0);
	assert_non_null(strstr(v.why, "exited 9"));
	assert_non_null(strstr(v.why, "Insufficient Permissions"));
	assert_gone(&v);
	buf_init(&out, 4096);
	assert_int_equal(gpu_rental_view_report(&out, &v, NULL), 0);
	assert_non_null(strstr(buf_cstr(&out), "FAILED"));
	buf_release(&out);
}

static void test_no_benchmark_binary(void **state)
{
	struct gpu_rental_view v;
	struct gpu_rental_view_opts o;
	struct err e = { 0 };
	char missing[160];

	(void)state;
	need_setup();
	snprintf(missing, sizeof missing, "%s/no-such-gpubench", T.tmp);
	o = opts(T.smi_ok, missing);
	assert_int_equal(gpu_rental_view_run(&v, &T.host, &o, &e), 0);
	assert_true(v.ran);
	assert_false(v.ok);
	assert_int_equal(v.gpus_seen, 1);
	assert_false(v.bench.verified);
	assert_non_null(strstr(v.bench.why, "no gpubench binary"));
	assert_gone(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sees_and_measures_as_the_account),
		cmocka_unit_test(test_another_gpu_is_not_ours),
		cmocka_unit_test(test_refused_device_is_named),
		cmocka_unit_test(test_no_benchmark_binary),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
