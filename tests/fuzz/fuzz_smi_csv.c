/*
 * fuzz_smi_csv.c — libFuzzer target for the nvidia-smi CSV parser and the
 * gpubench JSON parser (both read a tool's output). Any input must yield
 * 0 or a negative ERR_* with a message, never a crash; on success every
 * string is NUL-terminated within its cap.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/gpu.h"
#include "agent/gpubench.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gpu_host h;
	struct gpubench_result r;
	struct err e = { 0 };
	int rc = gpu_smi_csv_parse(&h, (const char *)data, size, &e);

	if (rc == 0) {
		assert(h.gpu_count >= 1 && h.gpu_count <= GPU_MAX);
		for (size_t i = 0; i < h.gpu_count; i++) {
			assert(strlen(h.gpus[i].name) <= GPU_NAME_MAX && h.gpus[i].name[0]);
			assert(strlen(h.gpus[i].uuid) <= GPU_UUID_MAX);
			assert(strlen(h.gpus[i].pci_bus_id) <= GPU_PCI_MAX);
		}
		assert(strlen(h.driver_version) <= GPU_DRIVER_MAX);
	} else {
		assert(rc < 0 && e.msg[0]);
	}
	e.msg[0] = '\0';
	rc = gpubench_parse(&r, (const char *)data, size, &e);
	assert(rc == 0 ? r.verified : (rc < 0 && e.msg[0]));
	return 0;
}
