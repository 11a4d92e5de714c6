/*
 * gpu.h — what GPUs and host this provider agent runs on.
 *
 * Detection order (gpu_detect):
 *   1. a spec file, when the caller names one: JSON describing SIMULATED
 *      GPUs for tests and the demo; the result has `simulated` set and every
 *      caller that shows it to a user must say so;
 *   2. NVML, loaded at run time with dlopen("libnvidia-ml.so.1") through a
 *      few hand-written declarations (no NVIDIA headers or link-time
 *      dependency, so the agent builds and runs on hosts without a driver);
 *   3. `nvidia-smi --query-gpu=index,name,memory.total,uuid,pci.bus_id,
 *      driver_version --format=csv,noheader,nounits`, parsed by the pure
 *      function gpu_smi_csv_parse (fuzzed by tests/fuzz/fuzz_smi_csv.c);
 *   4. otherwise ERR_NOT_FOUND "no NVIDIA GPU found: no libnvidia-ml.so.1
 *      and no nvidia-smi" (or the reason NVML/nvidia-smi gave).
 *
 * Host facts (gpu_host_facts) come from sysconf, statvfs, uname and
 * /etc/machine-id; the machine id is published only as a keyed BLAKE2b hash
 * under a product-specific key, so the raw id never leaves the host and the
 * same host always gets the same id.
 *
 * Limits: at most GPU_MAX GPUs, names and ids capped (longer ones are an
 * error, never truncated silently), parser input capped at GPU_TEXT_MAX.
 */
#ifndef FLOP_AGENT_GPU_H
#define FLOP_AGENT_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct buf;

#define GPU_MAX 64                     /* GPUs per host we accept */
#define GPU_TEXT_MAX ((size_t)64 << 10) /* cap on nvidia-smi output / spec file */
#define GPU_NAME_MAX 95                /* model name, e.g. "NVIDIA H100 80GB HBM3" */
#define GPU_UUID_MAX 95                /* "GPU-xxxxxxxx-..." */
#define GPU_PCI_MAX 31                 /* "00000000:19:00.0" */
#define GPU_DRIVER_MAX 31              /* "550.54.15" */

/* One GPU. */
struct gpu_info {
	unsigned index;                 /* 0-based index as the driver numbers it */
	char name[GPU_NAME_MAX + 1];    /* model name */
	uint64_t vram_mib;              /* total memory, MiB */
	char uuid[GPU_UUID_MAX + 1];    /* driver's UUID, "" when unknown/simulated */
	char pci_bus_id[GPU_PCI_MAX + 1]; /* PCI bus id, "" when unknown/simulated */
};

/* Facts about the host the GPUs sit in. */
struct host_facts {
	unsigned cpu_cores;             /* online logical CPUs */
	uint64_t ram_mib;               /* physical memory, MiB */
	uint64_t disk_free_mib;         /* free space for unprivileged users at disk_path, MiB */
	char kernel[128];               /* "Linux 6.1.0-18-amd64 x86_64" */
	char machine_id[65];            /* 64 hex chars: keyed hash of /etc/machine-id */
};

/* Where the GPU list came from. */
enum gpu_source {
	GPU_SOURCE_NONE = 0,
	GPU_SOURCE_NVML,
	GPU_SOURCE_SMI,
	GPU_SOURCE_SPEC,                /* simulated */
};

/* The GPUs of one host and the host facts. */
struct gpu_host {
	bool simulated;                 /* true: from a spec file, NOT real hardware */
	enum gpu_source source;         /* how it was found */
	char driver_version[GPU_DRIVER_MAX + 1]; /* "" when unknown */
	unsigned cuda_driver_version;   /* e.g. 12040 for 12.4; 0 when unknown */
	size_t gpu_count;               /* entries used in gpus */
	struct gpu_info gpus[GPU_MAX];
	struct host_facts facts;
};

/* Knobs for gpu_detect; zero-initialised means "the real host". */
struct gpu_detect_opts {
	const char *spec_path;          /* simulated GPUs from this JSON file; NULL: detect */
	const char *nvml_lib;           /* NULL: "libnvidia-ml.so.1"; "" disables NVML */
	const char *smi_path;           /* NULL: "nvidia-smi" from PATH; "" disables it */
	const char *disk_path;          /* path for disk_free_mib; NULL: "/" */
	unsigned smi_timeout_ms;        /* 0: 10000 */
};

/* A model name as listings carry it: its [A-Za-z0-9_-] kept, runs of others as one '_' ("NVIDIA A100
 * 80GB" -> "NVIDIA_A100_80GB"), at most GPU_SLUG_MAX chars, "GPU" when nothing is left. */
#define GPU_SLUG_MAX 31
void gpu_model_slug(char out[GPU_SLUG_MAX + 1], const char *name);

/* Stable name of a source: "none", "nvml", "nvidia-smi", "spec". */
const char *gpu_source_name(enum gpu_source s);

/*
 * Finds the host's GPUs and facts (see the file comment for the order).
 * Writes *out only on success. ERR_NOT_FOUND with a plain message when the
 * host has no NVIDIA GPU; ERR_INVALID for a bad spec file or tool output.
 */
int gpu_detect(struct gpu_host *out, const struct gpu_detect_opts *opts, struct err *e);

/*
 * Parses nvidia-smi CSV (noheader, nounits) of the six fields
 * index,name,memory.total,uuid,pci.bus_id,driver_version: one GPU per line,
 * "\n" or "\r\n" line ends, fields separated by "," plus optional spaces.
 * Pure: bytes in, struct out (gpus, gpu_count, driver_version, source);
 * other fields of *out are left alone, and nothing is written on failure.
 * ERR_TOO_BIG past GPU_TEXT_MAX / GPU_MAX / field caps, ERR_INVALID naming
 * the line and field, ERR_NOT_FOUND when there is no GPU line at all.
 */
int gpu_smi_csv_parse(struct gpu_host *out, const char *text, size_t n, struct err *e);

/*
 * Parses a simulated-GPU spec (JSON, at most GPU_TEXT_MAX bytes):
 *   {"gpus": [{"model": "NVIDIA A100 80GB", "vram_mib": 81920, "count": 2}],
 *    "driver_version": "550.54.15",          (optional)
 *    "host": {"cpu_cores": 32, "ram_mib": 262144, "disk_free_mib": 1000000,
 *             "kernel": "Linux 6.1", "machine_id": "<64 hex>"}}  (optional,
 *             each field optional: absent ones keep the value in *out)
 * Sets simulated and source GPU_SOURCE_SPEC. Writes *out only on success.
 */
int gpu_spec_parse(struct gpu_host *out, const char *text, size_t n, struct err *e);

/*
 * Fills *out with this host's facts; disk_path NULL means "/". Reads
 * /etc/machine-id (or /var/lib/dbus/machine-id); ERR_NOT_FOUND without one.
 */
int gpu_host_facts(struct host_facts *out, const char *disk_path, struct err *e);

/*
 * Hashes a raw machine id (as read from /etc/machine-id, whitespace
 * trimmed) into 64 hex chars + NUL: BLAKE2b-256 keyed with a fixed
 * flopmarket key, so the published id cannot be linked to the raw one.
 */
int gpu_machine_id_hash(char out_hex65[65], const char *raw, size_t n, struct err *e);

#endif
