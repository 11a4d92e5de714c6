/*
 * test_gpu.c — GPU detection pieces that need no GPU: the nvidia-smi CSV
 * parser (good and malformed vectors), the simulated-GPU spec file, host
 * facts and the machine-id hash, detection on this host (a clean "no GPU"
 * or real GPUs), the gpubench JSON parser and runner (unverified without a
 * binary or GPU; a stand-in script for the verified path), and the pure
 * parts of accounts (SSH key line check, rental -> account name).
 *
 * Vectors: the CSV lines follow the field order and format documented by
 * `nvidia-smi --help-query-gpu` for --format=csv,noheader,nounits
 * (index, name, memory.total [MiB], uuid, pci.bus_id, driver_version);
 * the values are illustrative, not captured from a machine. The SSH public
 * keys were generated for this test with OpenSSH 9.2 ssh-keygen (public
 * halves only; the private keys were discarded).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "agent/account.h"
#include "agent/gpu.h"
#include "agent/gpubench.h"
#include "core/err.h"

#define H100 "0, NVIDIA H100 80GB HBM3, 81559, GPU-1b2c3d4e-0000-1111-2222-333344445555, 00000000:19:00.0, 550.54.15"

static void test_smi_csv_good(void **state)
{
	static const struct {
		const char *text;
		size_t count;
		const char *name0;
		uint64_t vram0;
		const char *uuid_last;
		const char *driver;
	} v[] = {
		{ H100 "\n", 1, "NVIDIA H100 80GB HBM3", 81559,
		  "GPU-1b2c3d4e-0000-1111-2222-333344445555", "550.54.15" },
		{ H100, 1, "NVIDIA H100 80GB HBM3", 81559, "GPU-1b2c3d4e-0000-1111-2222-333344445555",
		  "550.54.15" },
		{ "0, NVIDIA A100-SXM4-80GB, 81920, GPU-a, 00000000:07:00.0, 535.104.05\r\n"
		  "1, NVIDIA A100-SXM4-80GB, 81920, GPU-b, 00000000:0F:00.0, 535.104.05\r\n\r\n",
		  2, "NVIDIA A100-SXM4-80GB", 81920, "GPU-b", "535.104.05" },
		{ "\n  \n3,Tesla T4,15360,[N/A],[N/A],470.82.01\n", 1, "Tesla T4", 15360, "",
		  "470.82.01" },
		{ "0, NVIDIA GeForce RTX 4090, 24564, GPU-x, 00000000:01:00.0, [N/A]\n", 1,
		  "NVIDIA GeForce RTX 4090", 24564, "GPU-x", "" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct gpu_host h;
		struct err e = { 0 };
		memset(&h, 0xab, sizeof h);
		h.facts.cpu_cores = 7;
		int rc = gpu_smi_csv_parse(&h, v[i].text, strlen(v[i].text), &e);
		if (rc)
			fail_msg("vector %zu: %s", i, e.msg);
		assert_int_equal(h.gpu_count, v[i].count);
		assert_string_equal(h.gpus[0].name, v[i].name0);
		assert_int_equal(h.gpus[0].vram_mib, v[i].vram0);
		assert_string_equal(h.gpus[h.gpu_count - 1].uuid, v[i].uuid_last);
		assert_string_equal(h.driver_version, v[i].driver);
		assert_false(h.simulated);
		assert_int_equal(h.source, GPU_SOURCE_SMI);
		assert_int_equal(h.facts.cpu_cores, 7); /* facts untouched */
	}
}

static void test_smi_csv_bad(void **state)
{
	static const struct {
		const char *text;
		int code;
	} v[] = {
		{ "", ERR_NOT_FOUND },
		{ "\n\r\n  \n", ERR_NOT_FOUND },
		{ "0, NVIDIA H100, 81559, GPU-a, 00000000:19:00.0\n", ERR_INVALID },          /* 5 fields */
		{ H100 ", extra\n", ERR_INVALID },                                            /* 7 fields */
		{ "x, NVIDIA H100, 81559, GPU-a, 0:19:00.0, 550\n", ERR_INVALID },            /* index */
		{ "-1, NVIDIA H100, 81559, GPU-a, 0:19:00.0, 550\n", ERR_INVALID },
		{ "0, NVIDIA H100, [N/A], GPU-a, 0:19:00.0, 550\n", ERR_INVALID },            /* memory */
		{ "0, NVIDIA H100, 0, GPU-a, 0:19:00.0, 550\n", ERR_INVALID },
		{ "0, NVIDIA H100, 81 559, GPU-a, 0:19:00.0, 550\n", ERR_INVALID },
		{ "0, NVIDIA H100, 1234567890123, GPU-a, 0:19:00.0, 550\n", ERR_INVALID },
		{ "0, , 81559, GPU-a, 0:19:00.0, 550\n", ERR_INVALID },                      /* name */
		{ "0, NVIDIA\tH100, 81559, GPU-a, 0:19:00.0, 550\n", ERR_INVALID },
		{ "0, NVIDIA H100, 81559, GPU a, 0:19:00.0, 550\n", ERR_INVALID },            /* uuid */
		{ "0, NVIDIA H100, 81559, GPU-a, 0:19:00.0, 550\n"
		  "0, NVIDIA H100, 81559, GPU-b, 0:1a:00.0, 550\n", ERR_INVALID },           /* dup index */
		{ "0, NVIDIA H100, 81559, GPU-a, 0:19:00.0, 550\n"
		  "1, NVIDIA H100, 81559, GPU-b, 0:1a:00.0, 551\n", ERR_INVALID },           /* drivers */
		{ "0, NVIDIA H100\xff, 81559, GPU-a, 0:19:00.0, 550\n", ERR_INVALID },
		{ "0, NVIDIA H100, 81559, GPU-a, 0:19:00.0, 550.1234567890123456789012345678901\n",
		  ERR_TOO_BIG },
	};
	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct gpu_host h, before;
		struct err e = { 0 };
		memset(&h, 0x5a, sizeof h);
		before = h;
		int rc = gpu_smi_csv_parse(&h, v[i].text, strlen(v[i].text), &e);
		if (rc != v[i].code)
			fail_msg("vector %zu: rc %d want %d (%s)", i, rc, v[i].code, e.msg);
		assert_true(e.msg[0] != '\0');
		assert_memory_equal(&h, &before, sizeof h); /* nothing written */
	}
}

static void test_smi_csv_caps(void **state)
{
	struct gpu_host h;
	struct err e = { 0 };
	char name[GPU_NAME_MAX + 40], line[300], *big;
	size_t len = 0;

	(void)state;
	memset(name, 'A', sizeof name);
	name[GPU_NAME_MAX] = '\0';
	snprintf(line, sizeof line, "0, %s, 1, u, p, d\n", name);
	assert_int_equal(gpu_smi_csv_parse(&h, line, strlen(line), &e), 0); /* at the cap */
	assert_int_equal(strlen(h.gpus[0].name), GPU_NAME_MAX);
	name[GPU_NAME_MAX] = 'A';
	name[GPU_NAME_MAX + 1] = '\0';
	snprintf(line, sizeof line, "0, %s, 1, u, p, d\n", name);
	assert_int_equal(gpu_smi_csv_parse(&h, line, strlen(line), &e), ERR_TOO_BIG);

	big = malloc(GPU_TEXT_MAX + 64);
	assert_non_null(big);
	for (unsigned i = 0; i < GPU_MAX; i++)
		len += (size_t)sprintf(big + len, "%u, G, 1, u%u, p%u, d\n", i, i, i);
	assert_int_equal(gpu_smi_csv_parse(&h, big, len, &e), 0);
	assert_int_equal(h.gpu_count, GPU_MAX);
	len += (size_t)sprintf(big + len, "%u, G, 1, u, p, d\n", GPU_MAX);
	assert_int_equal(gpu_smi_csv_parse(&h, big, len, &e), ERR_TOO_BIG);
	memset(big, '\n', GPU_TEXT_MAX + 1);
	assert_int_equal(gpu_smi_csv_parse(&h, big, GPU_TEXT_MAX + 1, &e), ERR_TOO_BIG);
	assert_int_equal(gpu_smi_csv_parse(&h, "0, G, 1, u, p, d\0", 17, &e), ERR_INVALID);
	free(big);
}

static void test_spec(void **state)
{
	static const char good[] =
		"{\"gpus\": [{\"model\": \"NVIDIA A100 80GB\", \"vram_mib\": 81920, \"count\": 2},"
		"           {\"model\": \"NVIDIA L4\", \"vram_mib\": 23034}],"
		" \"driver_version\": \"550.54.15\","
		" \"host\": {\"cpu_cores\": 32, \"ram_mib\": 262144, \"kernel\": \"Linux 6.1 sim\"}}";
	static const struct {
		const char *text;
		int code;
	} bad[] = {
		{ "[]", ERR_INVALID },
		{ "{}", ERR_NOT_FOUND },
		{ "{\"gpus\": []}", ERR_INVALID },
		{ "{\"gpus\": [{\"vram_mib\": 1}]}", ERR_NOT_FOUND },
		{ "{\"gpus\": [{\"model\": \"X\", \"vram_mib\": 0}]}", ERR_RANGE },
		{ "{\"gpus\": [{\"model\": \"X\", \"vram_mib\": 1, \"count\": 0}]}", ERR_RANGE },
		{ "{\"gpus\": [{\"model\": \"X\", \"vram_mib\": 1, \"count\": 65}]}", ERR_TOO_BIG },
		{ "{\"gpus\": [{\"model\": \"X\", \"vram_mib\": -1}]}", ERR_RANGE },
		{ "{\"gpus\": [{\"model\": \"X\\n\", \"vram_mib\": 1}]}", ERR_INVALID },
		{ "{\"gpus\": [{\"model\": \"X\", \"vram_mib\": 1}], \"host\": 3}", ERR_INVALID },
		{ "{\"gpus\": [{\"model\": \"X\", \"vram_mib\": 1}], \"host\": {\"cpu_cores\": \"x\"}}",
		  ERR_INVALID },
		{ "{\"gpus\": [{\"model\": \"X\", \"vram_mib\": 1}]} trailing", ERR_INVALID },
	};
	struct gpu_host h;
	struct err e = { 0 };

	(void)state;
	memset(&h, 0, sizeof h);
	h.facts.disk_free_mib = 99;
	assert_int_equal(gpu_spec_parse(&h, good, strlen(good), &e), 0);
	assert_true(h.simulated);
	assert_int_equal(h.source, GPU_SOURCE_SPEC);
	assert_int_equal(h.gpu_count, 3);
	assert_string_equal(h.gpus[1].name, "NVIDIA A100 80GB");
	assert_int_equal(h.gpus[1].index, 1);
	assert_int_equal(h.gpus[2].vram_mib, 23034);
	assert_string_equal(h.driver_version, "550.54.15");
	assert_int_equal(h.facts.cpu_cores, 32);
	assert_int_equal(h.facts.ram_mib, 262144);
	assert_int_equal(h.facts.disk_free_mib, 99); /* absent: kept */
	assert_string_equal(h.facts.kernel, "Linux 6.1 sim");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct gpu_host before = h;
		int rc = gpu_spec_parse(&h, bad[i].text, strlen(bad[i].text), &e);
		if (rc != bad[i].code)
			fail_msg("bad spec %zu: rc %d want %d (%s)", i, rc, bad[i].code, e.msg);
		assert_true(e.msg[0] != '\0');
		assert_memory_equal(&h, &before, sizeof h);
	}
}

static void test_host_facts_and_machine_id(void **state)
{
	struct host_facts a, b;
	char h1[65], h2[65], h3[65];
	struct err e = { 0 };

	(void)state;
	assert_int_equal(gpu_machine_id_hash(h1, "3d1219c7c4c5404aaa1f6d2a48adfda4\n", 33, &e), 0);
	assert_int_equal(gpu_machine_id_hash(h2, " 3d1219c7c4c5404aaa1f6d2a48adfda4", 33, &e), 0);
	assert_int_equal(gpu_machine_id_hash(h3, "3d1219c7c4c5404aaa1f6d2a48adfda5", 32, &e), 0);
	assert_string_equal(h1, h2);
	assert_string_not_equal(h1, h3);
	assert_int_equal(strlen(h1), 64);
	assert_null(strstr(h1, "3d1219c7"));
	assert_int_equal(gpu_machine_id_hash(h1, "  \n", 3, &e), ERR_INVALID);

	if (access("/etc/machine-id", R_OK) && access("/var/lib/dbus/machine-id", R_OK))
		skip();
	assert_int_equal(gpu_host_facts(&a, NULL, &e), 0);
	assert_int_equal(gpu_host_facts(&b, "/tmp", &e), 0);
	assert_true(a.cpu_cores > 0);
	assert_true(a.ram_mib > 0);
	assert_string_equal(a.machine_id, b.machine_id); /* stable */
	assert_int_equal(strlen(a.machine_id), 64);
	assert_non_null(strstr(a.kernel, "Linux"));
	assert_int_equal(gpu_host_facts(&a, "/nonexistent/dir", &e), ERR_IO);
}

static void test_detect_this_host(void **state)
{
	struct gpu_detect_opts none = { .nvml_lib = "libnvidia-ml-flopmarket-test.so.1",
					.smi_path = "/nonexistent/nvidia-smi" };
	struct gpu_host *h = malloc(sizeof *h);
	struct err e = { 0 };
	int rc;

	(void)state;
	assert_non_null(h);
	rc = gpu_detect(h, &none, &e);
	assert_int_equal(rc, ERR_NOT_FOUND);
	assert_string_equal(e.msg, "no NVIDIA GPU found: no libnvidia-ml-flopmarket-test.so.1 "
				   "and no nvidia-smi");
	/* The real host: either real GPUs or a plain "no GPU". */
	rc = gpu_detect(h, NULL, &e);
	if (rc == 0) {
		assert_false(h->simulated);
		assert_true(h->gpu_count > 0);
		assert_true(h->source == GPU_SOURCE_NVML || h->source == GPU_SOURCE_SMI);
	} else {
		assert_int_equal(rc, ERR_NOT_FOUND);
		assert_non_null(strstr(e.msg, "no NVIDIA GPU found"));
	}
	free(h);
}

static void test_detect_spec_file(void **state)
{
	char path[] = "/tmp/fm-gpuspec.XXXXXX";
	const char spec[] = "{\"gpus\": [{\"model\": \"Simulated RTX\", \"vram_mib\": 8192}]}";
	struct gpu_detect_opts o = { .spec_path = path };
	struct gpu_host *h = malloc(sizeof *h);
	struct err e = { 0 };
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0 && h);
	assert_int_equal(write(fd, spec, sizeof spec - 1), (ssize_t)(sizeof spec - 1));
	close(fd);
	assert_int_equal(gpu_detect(h, &o, &e), 0);
	assert_true(h->simulated);
	assert_string_equal(gpu_source_name(h->source), "spec");
	assert_string_equal(h->gpus[0].name, "Simulated RTX");
	assert_true(h->facts.cpu_cores > 0); /* real facts unless the spec overrides */
	unlink(path);
	assert_int_equal(gpu_detect(h, &o, &e), ERR_IO);
	assert_non_null(strstr(e.msg, path));
	free(h);
}

static void test_gpubench_parse(void **state)
{
	static const char good[] = "{\"gpubench\":1,\"device\":0,\"name\":\"NVIDIA H100 80GB HBM3\","
				   "\"cc\":\"9.0\",\"fp32_tflops\":31.25,\"fp16_tflops\":180.5,"
				   "\"mem_bw_gbps\":2900.1}";
	static const char nofp16[] = "{\"gpubench\":1,\"device\":1,\"name\":\"Tesla P100\","
				     "\"cc\":\"6.0\",\"fp32_tflops\":8.1,\"fp16_tflops\":null,"
				     "\"mem_bw_gbps\":600}";
	static const char *const bad[] = {
		"",
		"[]",
		"{\"gpubench\":2,\"device\":0,\"name\":\"x\",\"cc\":\"9.0\",\"fp32_tflops\":1,\"mem_bw_gbps\":1}",
		"{\"gpubench\":1,\"device\":0,\"name\":\"x\",\"cc\":\"9.0\",\"fp32_tflops\":-1,\"mem_bw_gbps\":1}",
		"{\"gpubench\":1,\"device\":0,\"name\":\"x\",\"cc\":\"9.0\",\"fp32_tflops\":1e300,\"mem_bw_gbps\":1}",
		"{\"gpubench\":1,\"device\":0,\"name\":\"x\",\"cc\":\"9.0\",\"fp32_tflops\":\"1\",\"mem_bw_gbps\":1}",
		"{\"gpubench\":1,\"device\":0,\"name\":\"x\",\"cc\":\"9.0\",\"fp32_tflops\":1}",
		"{\"gpubench\":1,\"device\":0,\"name\":\"x\\u0001\",\"cc\":\"9.0\",\"fp32_tflops\":1,\"mem_bw_gbps\":1}",
	};
	struct gpubench_result r;
	struct err e = { 0 };

	(void)state;
	assert_int_equal(gpubench_parse(&r, good, strlen(good), &e), 0);
	assert_true(r.verified);
	assert_string_equal(r.name, "NVIDIA H100 80GB HBM3");
	assert_true(r.fp32_tflops > 31.2 && r.fp32_tflops < 31.3);
	assert_true(r.fp16_tflops > 180 && r.mem_bw_gbps > 2900);
	assert_int_equal(gpubench_parse(&r, nofp16, strlen(nofp16), &e), 0);
	assert_true(r.fp16_tflops == 0);
	assert_int_equal(r.device, 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct gpubench_result before = r;
		e.msg[0] = '\0';
		if (gpubench_parse(&r, bad[i], strlen(bad[i]), &e) == 0)
			fail_msg("bad gpubench output %zu accepted", i);
		assert_true(e.msg[0] != '\0');
		assert_memory_equal(&r, &before, sizeof r);
	}
}

/* Writes an executable shell script; returns its path in p. */
static void script(char *p, const char *body)
{
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
	close(fd);
	assert_int_equal(chmod(p, 0755), 0);
}

static void test_gpubench_run(void **state)
{
	struct gpubench_result r;
	char ok[] = "/tmp/fm-gpubench-ok.XXXXXX", nodev[] = "/tmp/fm-gpubench-nodev.XXXXXX",
	     slow[] = "/tmp/fm-gpubench-slow.XXXXXX";

	(void)state;
	assert_int_equal(gpubench_run(&r, "/nonexistent/gpubench", 0, true, 5), 0);
	assert_false(r.verified);
	assert_non_null(strstr(r.why, "no gpubench binary"));
	assert_int_equal(gpubench_run(&r, "/bin/true", 0, false, 5), 0);
	assert_false(r.verified);
	assert_string_equal(r.why, "no GPU on this host");

	script(ok, "#!/bin/sh\necho 'warming up' >&2\necho '{\"gpubench\":1,\"device\":'$1',"
		   "\"name\":\"Stand-in\",\"cc\":\"8.0\",\"fp32_tflops\":19.5,\"fp16_tflops\":300,"
		   "\"mem_bw_gbps\":1500}'\n");
	assert_int_equal(gpubench_run(&r, ok, 3, true, 5), 0);
	assert_true(r.verified);
	assert_int_equal(r.device, 3);
	assert_string_equal(r.name, "Stand-in");
	script(nodev, "#!/bin/sh\necho 'gpubench: no CUDA device (no driver)' >&2\nexit 2\n");
	assert_int_equal(gpubench_run(&r, nodev, 0, true, 5), 0);
	assert_false(r.verified);
	assert_non_null(strstr(r.why, "exited 2: gpubench: no CUDA device"));
	script(slow, "#!/bin/sh\nsleep 30\n");
	assert_int_equal(gpubench_run(&r, slow, 0, true, 1), 0);
	assert_false(r.verified);
	assert_non_null(strstr(r.why, "did not finish"));
	unlink(ok);
	unlink(nodev);
	unlink(slow);

	/* The real benchmark, where it was built (nvcc): no GPU here means a clean "no CUDA device". */
	if (access("build/gpubench", X_OK) == 0) {
		assert_int_equal(gpubench_run(&r, "build/gpubench", 0, true, 120), 0);
		if (!r.verified)
			assert_non_null(strstr(r.why, "no CUDA device"));
	}
}

static void test_ssh_key_check(void **state)
{
	static const char *const good[] = {
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih3 renter@laptop",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih3\n",
		"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBH0vJKcFCdk9l/yuIjBX1zm3kWFGKsUrI7ob0gyZSoMN5DbBjgog6BBHiq9YP+A9No8cbRyN0k2xX21UZpCmhpQ= p256",
		"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC3Ue6Do0BUogu7mKAm3NWf3SauKZTMSkaKS76AONEaE5nEJauY6BKAl7EGIE/Tdj1L9epHHSSqWlCt+twGo+yoCK4TDKDjbrqiC0vjVgSsmqObUMjat9ZQAfcvQG1Pf2Ss0V2dRypyRsKkTaUpeoxc9salkBDrZ+3zWWnKmnTQfAvU6CEX1Q/uEMVVRBWHC3IEASdS+J+XGsQQ1Awf0Wb5eVkojun35053rz9QAm3MMuYuvqhKaTD4+0wA37zDpBcaA4KzX7vz7FXoI8kQhwiBLjFmPfR4y3Fs9ymq4T083yxnCsfCq6BfC2rLj8lM9PtZqSZI770bCxbDOUrbejIx rsa key",
	};
	static const char *const bad[] = {
		"",
		"\n",
		"ssh-ed25519",
		"ssh-ed25519 ",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih3 ",
		"ssh-ed25519  AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih3",
		"no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih3",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih3\nssh-ed25519 AAAA",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih3 a\rb",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmui=3",
		/* a 33-byte "ed25519" key (blob built for this test) */
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fIA==",
		"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih3",
		"ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBCTrO4WbYafLKCQZ3JWRUw5uF2J+hKAc3O6YnRTSY9Lhnw3+m9J4aHiOcl7wPw7qhJNDny+J7lcMACwvpeNhruKVJs1VWHFEONx0ResEneP9hNjZ/qwhurTeNO4DQ4gLcw== x",
		"ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbc85/GXzYu2GMbMdtSPX8T61QH8/eJwDeO8xEmuih3 caf\xc3\xa9",
	};
	char out[ACCOUNT_SSH_KEY_MAX + 2], *big;
	struct err e = { 0 };

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int rc = sshkey_check(out, sizeof out, good[i], strlen(good[i]), &e);
		if (rc)
			fail_msg("good key %zu: %s", i, e.msg);
		assert_int_equal(out[strlen(out) - 1], '\n');
		assert_null(strchr(out, '\n') + 1 == out + strlen(out) ? NULL : "two newlines");
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e.msg[0] = '\0';
		int rc = sshkey_check(out, sizeof out, bad[i], strlen(bad[i]), &e);
		if (rc == 0)
			fail_msg("bad key %zu accepted", i);
		assert_true(rc == ERR_INVALID);
		assert_non_null(strstr(e.msg, "ssh key"));
	}
	big = malloc(ACCOUNT_SSH_KEY_MAX + 2);
	assert_non_null(big);
	memset(big, 'A', ACCOUNT_SSH_KEY_MAX + 1);
	assert_int_equal(sshkey_check(out, sizeof out, big, ACCOUNT_SSH_KEY_MAX + 1, &e),
			 ERR_TOO_BIG);
	free(big);
	/* the fingerprint, as `ssh-keygen -lf` printed it for this key */
	{
		char fp[SSHKEY_FP_MAX];
		assert_int_equal(sshkey_fingerprint(fp, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINklgIsXpg6NtQqumXhbovI76"
						    "IF6QgNbGbuhDXf4rLPC vec\n", &e), 0);
		assert_string_equal(fp, "SHA256:RrkJXWqPjW7qSVcTdJ4R03PrVTqKqPKyxBSn9q7FaFo");
		assert_int_equal(sshkey_fingerprint(fp, "ssh-ed25519", &e), ERR_INVALID);
	}
}

static void test_account_name(void **state)
{
	char a[ACCOUNT_NAME_LEN + 1], b[ACCOUNT_NAME_LEN + 1], big[ACCOUNT_RENTAL_ID_MAX + 2];
	struct err e = { 0 };

	(void)state;
	assert_int_equal(account_name_for_rental(a, "0xABCDEF01", &e), 0);
	assert_int_equal(account_name_for_rental(b, "0xabcdef01", &e), 0);
	assert_string_equal(a, b);
	assert_int_equal(strlen(a), ACCOUNT_NAME_LEN);
	assert_int_equal(strncmp(a, "fm", 2), 0);
	assert_int_equal(account_name_for_rental(b, "0xabcdef02", &e), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(account_name_for_rental(a, "", &e), ERR_INVALID);
	assert_int_equal(account_name_for_rental(a, "0x12:34", &e), ERR_INVALID);
	assert_int_equal(account_name_for_rental(a, "../etc", &e), ERR_INVALID);
	memset(big, '1', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(account_name_for_rental(a, big, &e), ERR_TOO_BIG);
	big[ACCOUNT_RENTAL_ID_MAX] = '\0';
	assert_int_equal(account_name_for_rental(a, big, &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smi_csv_good),
		cmocka_unit_test(test_smi_csv_bad),
		cmocka_unit_test(test_smi_csv_caps),
		cmocka_unit_test(test_spec),
		cmocka_unit_test(test_host_facts_and_machine_id),
		cmocka_unit_test(test_detect_this_host),
		cmocka_unit_test(test_detect_spec_file),
		cmocka_unit_test(test_gpubench_parse),
		cmocka_unit_test(test_gpubench_run),
		cmocka_unit_test(test_ssh_key_check),
		cmocka_unit_test(test_account_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
