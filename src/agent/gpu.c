/*
 * gpu.c — GPU detection (spec file, NVML via dlopen, nvidia-smi CSV) and
 * host facts. See gpu.h for the contract.
 *
 * NVML is declared by hand below from NVIDIA's published nvml.h API (names,
 * argument types, the nvmlMemory_t and nvmlPciInfo_t layouts); only these
 * calls are used, each looked up with dlsym, so an old or partial library
 * degrades to the nvidia-smi path instead of crashing.
 */
#include "agent/gpu.h"

#include "agent/agent.h"
#include "core/clock.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/proc.h"
#include "core/hex.h"
#include "core/json.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

/* ---- NVML, hand-declared (subset of nvml.h) ---- */

typedef int nvml_return;                    /* nvmlReturn_t; NVML_SUCCESS == 0 */
typedef struct nvml_device *nvml_device;    /* nvmlDevice_t, opaque */

struct nvml_memory {                        /* nvmlMemory_t (v1) */
	unsigned long long total;           /* bytes */
	unsigned long long free;
	unsigned long long used;
};

struct nvml_pci_info_v3 {                   /* nvmlPciInfo_t as of nvmlDeviceGetPciInfo_v3 */
	char bus_id_legacy[16];
	unsigned int domain;
	unsigned int bus;
	unsigned int device;
	unsigned int pci_device_id;
	unsigned int pci_subsystem_id;
	char bus_id[32];
};

#define NVML_NAME_BUF 96                    /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */
#define NVML_UUID_BUF 96                    /* NVML_DEVICE_UUID_V2_BUFFER_SIZE */
#define NVML_DRIVER_BUF 80                  /* NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE */

struct nvml_api {
	void *lib;
	nvml_return (*init)(void);
	nvml_return (*shutdown)(void);
	nvml_return (*count)(unsigned int *);
	nvml_return (*handle)(unsigned int, nvml_device *);
	nvml_return (*name)(nvml_device, char *, unsigned int);
	nvml_return (*memory)(nvml_device, struct nvml_memory *);
	nvml_return (*uuid)(nvml_device, char *, unsigned int);
	nvml_return (*pci_v3)(nvml_device, struct nvml_pci_info_v3 *);
	nvml_return (*pci_v1)(nvml_device, void *);
	nvml_return (*driver)(char *, unsigned int);
	nvml_return (*cuda)(int *);
	const char *(*errstr)(nvml_return);
};

/* Key for the machine id hash; changing it changes every host's public id. */
static const char machine_id_key[] = "flopmarket machine-id v1 salt";

const char *gpu_source_name(enum gpu_source s)
{
	switch (s) {
	case GPU_SOURCE_NVML: return "nvml";
	case GPU_SOURCE_SMI: return "nvidia-smi";
	case GPU_SOURCE_SPEC: return "spec";
	default: return "none";
	}
}

/* ---- nvidia-smi CSV ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Copies [p, p+n) trimmed into dst (room max+1); 0, or -1 when too long. */
static int field_copy(char *dst, size_t max, const char *p, size_t n)
{
	while (n && is_space(*p))
		p++, n--;
	while (n && is_space(p[n - 1]))
		n--;
	if (n > max)
		return ERR_TOO_BIG;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

/* Decimal digits only, at most `digits` of them. */
static int parse_dec(uint64_t *out, const char *s, unsigned digits)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > digits)
		return ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ERR_INVALID;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Printable ASCII; `spaces` allows inner spaces. */
static bool printable(const char *s, bool spaces)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
		if (!spaces && *s == ' ')
			return false;
	}
	return true;
}

static bool is_na(const char *s)
{
	return s[0] == '[' && s[strlen(s) - 1] == ']'; /* "[N/A]", "[Not Supported]" */
}

int gpu_smi_csv_parse(struct gpu_host *out, const char *text, size_t n, struct err *e)
{
	static const char *const names[6] = { "index", "name", "memory.total", "uuid",
					      "pci.bus_id", "driver_version" };
	static const size_t caps[6] = { 16, GPU_NAME_MAX, 16, GPU_UUID_MAX, GPU_PCI_MAX,
					GPU_DRIVER_MAX };
	struct gpu_info *gpus;
	char driver[GPU_DRIVER_MAX + 1] = "";
	size_t count = 0, pos = 0;
	unsigned line_no = 0;
	int rc;

	if (!text && n)
		return err_set(e, ERR_INVALID, "nvidia-smi output: NULL");
	if (n > GPU_TEXT_MAX)
		return err_set(e, ERR_TOO_BIG, "nvidia-smi output: %zu bytes, cap %zu", n,
			       GPU_TEXT_MAX);
	if (n && memchr(text, '\0', n))
		return err_set(e, ERR_INVALID, "nvidia-smi output: NUL byte");
	gpus = calloc(GPU_MAX, sizeof *gpus);
	if (!gpus)
		return err_set(e, ERR_NOMEM, "nvidia-smi output: out of memory");

	while (pos < n) {
		const char *line = text + pos, *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos;
		const char *f[6];
		size_t flen[6], nf = 0, start = 0;
		char val[6][GPU_NAME_MAX + 1];
		struct gpu_info g;
		uint64_t u;

		pos += len + (nl ? 1 : 0);
		line_no++;
		if (len && line[len - 1] == '\r')
			len--;
		{
			size_t k = 0;
			while (k < len && is_space(line[k]))
				k++;
			if (k == len)
				continue; /* blank line */
		}
		for (size_t i = 0; i <= len; i++) {
			if (i == len || line[i] == ',') {
				if (nf == 6) {
					rc = err_set(e, ERR_INVALID,
						     "nvidia-smi line %u: more than 6 fields", line_no);
					goto fail;
				}
				f[nf] = line + start;
				flen[nf++] = i - start;
				start = i + 1;
			}
		}
		if (nf != 6) {
			rc = err_set(e, ERR_INVALID, "nvidia-smi line %u: %zu fields, want 6", line_no,
				     nf);
			goto fail;
		}
		for (size_t i = 0; i < 6; i++) {
			if (field_copy(val[i], caps[i], f[i], flen[i])) {
				rc = err_set(e, ERR_TOO_BIG, "nvidia-smi line %u: field %s longer than %zu",
					     line_no, names[i], caps[i]);
				goto fail;
			}
			if (!printable(val[i], i == 1)) {
				rc = err_set(e, ERR_INVALID,
					     "nvidia-smi line %u: field %s has a bad character", line_no,
					     names[i]);
				goto fail;
			}
		}
		memset(&g, 0, sizeof g);
		if (parse_dec(&u, val[0], 5) || u >= 65536) {
			rc = err_set(e, ERR_INVALID, "nvidia-smi line %u: field index '%s' not a number",
				     line_no, val[0]);
			goto fail;
		}
		g.index = (unsigned)u;
		if (!val[1][0] || is_na(val[1])) {
			rc = err_set(e, ERR_INVALID, "nvidia-smi line %u: field name empty", line_no);
			goto fail;
		}
		strcpy(g.name, val[1]);
		if (parse_dec(&g.vram_mib, val[2], 12) || g.vram_mib == 0) {
			rc = err_set(e, ERR_INVALID,
				     "nvidia-smi line %u: field memory.total '%s' not a MiB count",
				     line_no, val[2]);
			goto fail;
		}
		if (val[3][0] && !is_na(val[3]))
			strcpy(g.uuid, val[3]);
		if (val[4][0] && !is_na(val[4]))
			strcpy(g.pci_bus_id, val[4]);
		if (val[5][0] && !is_na(val[5])) {
			if (count && strcmp(driver, val[5])) {
				rc = err_set(e, ERR_INVALID,
					     "nvidia-smi line %u: driver_version '%s' differs from '%s'",
					     line_no, val[5], driver);
				goto fail;
			}
			strcpy(driver, val[5]);
		}
		for (size_t i = 0; i < count; i++) {
			if (gpus[i].index == g.index) {
				rc = err_set(e, ERR_INVALID, "nvidia-smi line %u: index %u repeated",
					     line_no, g.index);
				goto fail;
			}
		}
		if (count == GPU_MAX) {
			rc = err_set(e, ERR_TOO_BIG, "nvidia-smi: more than %d GPUs", GPU_MAX);
			goto fail;
		}
		gpus[count++] = g;
	}
	if (count == 0) {
		free(gpus);
		return err_set(e, ERR_NOT_FOUND, "nvidia-smi listed no GPU");
	}
	memcpy(out->gpus, gpus, count * sizeof *gpus);
	out->gpu_count = count;
	strcpy(out->driver_version, driver);
	out->source = GPU_SOURCE_SMI;
	out->simulated = false;
	free(gpus);
	return 0;
fail:
	free(gpus);
	return rc;
}

/* ---- spec file ---- */

static int spec_str(char *dst, size_t max, const json_t *obj, const char *field, bool spaces,
		    struct err *e)
{
	const char *s;
	int rc = json_get_str(&s, obj, field, max, e);

	if (rc)
		return rc;
	if (!*s || !printable(s, spaces))
		return err_set(e, ERR_INVALID, "field '%s' empty or has a bad character", field);
	strcpy(dst, s);
	return 0;
}

int gpu_spec_parse(struct gpu_host *out, const char *text, size_t n, struct err *e)
{
	json_t *root = NULL;
	const json_t *list, *host;
	struct gpu_host *h;
	int rc;

	h = malloc(sizeof *h);
	if (!h)
		return err_set(e, ERR_NOMEM, "gpu spec: out of memory");
	memcpy(h, out, sizeof *h);
	h->gpu_count = 0;
	h->driver_version[0] = '\0';
	h->cuda_driver_version = 0;
	if ((rc = json_parse(&root, text, n, GPU_TEXT_MAX, e)))
		goto done;
	if (!json_is_object(root)) {
		rc = err_set(e, ERR_INVALID, "gpu spec: not a JSON object");
		goto done;
	}
	if ((rc = json_get(&list, root, "gpus", e)))
		goto done;
	if (!json_is_array(list) || json_array_size(list) == 0) {
		rc = err_set(e, ERR_INVALID, "gpu spec: field 'gpus' must be a non-empty list");
		goto done;
	}
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *g = json_array_get(list, i);
		struct gpu_info gi;
		uint64_t count = 1;

		memset(&gi, 0, sizeof gi);
		if (!json_is_object(g)) {
			rc = err_set(e, ERR_INVALID, "gpu spec: gpus[%zu] not an object", i);
			goto done;
		}
		if ((rc = spec_str(gi.name, GPU_NAME_MAX, g, "model", true, e)) ||
		    (rc = json_get_u64(&gi.vram_mib, g, "vram_mib", e))) {
			err_wrap(e, "gpu spec: gpus[%zu]", i);
			goto done;
		}
		rc = json_get_u64(&count, g, "count", e);
		if (rc == ERR_NOT_FOUND) {
			count = 1;
		} else if (rc) {
			err_wrap(e, "gpu spec: gpus[%zu]", i);
			goto done;
		}
		if (gi.vram_mib == 0 || gi.vram_mib > ((uint64_t)1 << 30)) {
			rc = err_set(e, ERR_RANGE, "gpu spec: gpus[%zu]: field 'vram_mib' out of range", i);
			goto done;
		}
		if (count == 0 || count > GPU_MAX - h->gpu_count) {
			rc = err_set(e, count ? ERR_TOO_BIG : ERR_RANGE,
				     "gpu spec: gpus[%zu]: field 'count' must be 1..%zu", i,
				     (size_t)GPU_MAX - h->gpu_count);
			goto done;
		}
		for (uint64_t k = 0; k < count; k++) {
			gi.index = (unsigned)h->gpu_count;
			h->gpus[h->gpu_count++] = gi;
		}
	}
	rc = spec_str(h->driver_version, GPU_DRIVER_MAX, root, "driver_version", false, e);
	if (rc && rc != ERR_NOT_FOUND) {
		err_wrap(e, "gpu spec");
		goto done;
	}
	rc = json_get(&host, root, "host", e);
	if (rc == 0) {
		uint64_t v;
		struct { const char *name; uint64_t *dst; uint64_t max; } nums[] = {
			{ "cpu_cores", NULL, 1 << 20 },
			{ "ram_mib", &h->facts.ram_mib, (uint64_t)1 << 40 },
			{ "disk_free_mib", &h->facts.disk_free_mib, (uint64_t)1 << 50 },
		};
		if (!json_is_object(host)) {
			rc = err_set(e, ERR_INVALID, "gpu spec: field 'host' not an object");
			goto done;
		}
		for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
			rc = json_get_u64(&v, host, nums[i].name, e);
			if (rc == ERR_NOT_FOUND)
				continue;
			if (!rc && v > nums[i].max)
				rc = err_set(e, ERR_RANGE, "field '%s' out of range", nums[i].name);
			if (rc) {
				err_wrap(e, "gpu spec: host");
				goto done;
			}
			if (nums[i].dst)
				*nums[i].dst = v;
			else
				h->facts.cpu_cores = (unsigned)v;
		}
		rc = spec_str(h->facts.kernel, sizeof h->facts.kernel - 1, host, "kernel", true, e);
		if (rc && rc != ERR_NOT_FOUND) {
			err_wrap(e, "gpu spec: host");
			goto done;
		}
		rc = spec_str(h->facts.machine_id, 64, host, "machine_id", false, e);
		if (rc && rc != ERR_NOT_FOUND) {
			err_wrap(e, "gpu spec: host");
			goto done;
		}
	} else if (rc != ERR_NOT_FOUND) {
		goto done;
	}
	rc = 0;
	h->simulated = true;
	h->source = GPU_SOURCE_SPEC;
	memcpy(out, h, sizeof *h);
done:
	json_decref(root);
	free(h);
	return rc;
}

/* ---- host facts ---- */

int gpu_machine_id_hash(char out_hex65[65], const char *raw, size_t n, struct err *e)
{
	uint8_t h[32];
	static const char hexd[] = "0123456789abcdef";

	while (n && isspace((unsigned char)raw[n - 1]))
		n--;
	while (n && isspace((unsigned char)*raw))
		raw++, n--;
	if (n == 0 || n > 256)
		return err_set(e, ERR_INVALID, "machine id: %s", n ? "too long" : "empty");
	if (crypto_generichash(h, sizeof h, (const unsigned char *)raw, n,
			       (const unsigned char *)machine_id_key, sizeof machine_id_key - 1))
		return err_set(e, ERR_CRYPTO, "machine id: hash failed");
	for (size_t i = 0; i < 32; i++) {
		out_hex65[2 * i] = hexd[h[i] >> 4];
		out_hex65[2 * i + 1] = hexd[h[i] & 15];
	}
	out_hex65[64] = '\0';
	return 0;
}

/* Reads at most cap-1 bytes of a small file into dst; length or -1. */
static ssize_t read_small(char *dst, size_t cap, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, dst, cap - 1);
	close(fd);
	if (r >= 0)
		dst[r] = '\0';
	return r;
}

int gpu_host_facts(struct host_facts *out, const char *disk_path, struct err *e)
{
	struct host_facts f;
	struct statvfs vfs;
	struct utsname u;
	char raw[300];
	ssize_t r;
	long cores = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES),
	     page = sysconf(_SC_PAGESIZE);
	int rc;

	memset(&f, 0, sizeof f);
	if (!disk_path)
		disk_path = "/";
	f.cpu_cores = cores > 0 ? (unsigned)cores : 0;
	if (pages > 0 && page > 0)
		f.ram_mib = (uint64_t)pages * (uint64_t)page >> 20;
	if (statvfs(disk_path, &vfs))
		return err_set(e, ERR_IO, "host facts: statvfs %s: %s", disk_path, strerror(errno));
	f.disk_free_mib = (uint64_t)vfs.f_bavail * vfs.f_frsize >> 20;
	if (uname(&u) == 0)
		snprintf(f.kernel, sizeof f.kernel, "%.20s %.80s %.20s", u.sysname, u.release,
			 u.machine);
	r = read_small(raw, sizeof raw, "/etc/machine-id");
	if (r <= 0)
		r = read_small(raw, sizeof raw, "/var/lib/dbus/machine-id");
	if (r <= 0)
		return err_set(e, ERR_NOT_FOUND, "host facts: no /etc/machine-id");
	if ((rc = gpu_machine_id_hash(f.machine_id, raw, (size_t)r, e))) {
		sodium_memzero(raw, sizeof raw);
		return rc;
	}
	sodium_memzero(raw, sizeof raw);
	*out = f;
	return 0;
}

/* ---- NVML ---- */

static int nvml_load(struct nvml_api *a, const char *lib)
{
	memset(a, 0, sizeof *a);
	a->lib = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!a->lib)
		return ERR_NOT_FOUND;
#define SYM(field, name) (*(void **)(&a->field) = dlsym(a->lib, name))
	SYM(init, "nvmlInit_v2");
	SYM(shutdown, "nvmlShutdown");
	SYM(count, "nvmlDeviceGetCount_v2");
	SYM(handle, "nvmlDeviceGetHandleByIndex_v2");
	SYM(name, "nvmlDeviceGetName");
	SYM(memory, "nvmlDeviceGetMemoryInfo");
	SYM(uuid, "nvmlDeviceGetUUID");
	SYM(pci_v3, "nvmlDeviceGetPciInfo_v3");
	SYM(pci_v1, "nvmlDeviceGetPciInfo");
	SYM(driver, "nvmlSystemGetDriverVersion");
	SYM(cuda, "nvmlSystemGetCudaDriverVersion");
	SYM(errstr, "nvmlErrorString");
#undef SYM
	if (!a->init || !a->shutdown || !a->count || !a->handle || !a->name || !a->memory) {
		dlclose(a->lib);
		a->lib = NULL;
		return ERR_NOT_FOUND;
	}
	return 0;
}

static const char *nvml_err(const struct nvml_api *a, nvml_return r)
{
	const char *s = a->errstr ? a->errstr(r) : NULL;
	return s ? s : "error";
}

/* Copies a NUL-terminated driver string if it fits and is printable. */
static void copy_checked(char *dst, size_t max, const char *src, size_t src_cap, bool spaces)
{
	size_t n = strnlen(src, src_cap);
	char tmp[128];

	if (n > max || n >= sizeof tmp)
		return;
	memcpy(tmp, src, n);
	tmp[n] = '\0';
	if (printable(tmp, spaces))
		memcpy(dst, tmp, n + 1);
}

static int nvml_detect(struct gpu_host *h, const char *lib, char *why, size_t why_cap)
{
	struct nvml_api a;
	unsigned int count = 0;
	nvml_return r;
	int rc = ERR_NOT_FOUND;

	if (nvml_load(&a, lib)) {
		snprintf(why, why_cap, "no %s", lib);
		return ERR_NOT_FOUND;
	}
	if ((r = a.init())) {
		snprintf(why, why_cap, "nvmlInit: %s", nvml_err(&a, r));
		dlclose(a.lib);
		return ERR_NOT_FOUND;
	}
	if ((r = a.count(&count))) {
		snprintf(why, why_cap, "nvmlDeviceGetCount: %s", nvml_err(&a, r));
		goto out;
	}
	if (count == 0) {
		snprintf(why, why_cap, "NVML sees no GPU");
		goto out;
	}
	if (count > GPU_MAX)
		count = GPU_MAX;
	for (unsigned int i = 0; i < count; i++) {
		struct gpu_info *g = &h->gpus[i];
		nvml_device d;
		struct nvml_memory mem;
		char name[NVML_NAME_BUF] = "", uuid[NVML_UUID_BUF] = "";

		memset(g, 0, sizeof *g);
		g->index = i;
		if ((r = a.handle(i, &d)) || (r = a.name(d, name, sizeof name)) ||
		    (r = a.memory(d, &mem))) {
			snprintf(why, why_cap, "NVML GPU %u: %s", i, nvml_err(&a, r));
			goto out;
		}
		copy_checked(g->name, GPU_NAME_MAX, name, sizeof name, true);
		if (!g->name[0])
			snprintf(g->name, sizeof g->name, "NVIDIA GPU");
		g->vram_mib = mem.total >> 20;
		if (a.uuid && a.uuid(d, uuid, sizeof uuid) == 0)
			copy_checked(g->uuid, GPU_UUID_MAX, uuid, sizeof uuid, false);
		if (a.pci_v3) {
			struct nvml_pci_info_v3 p;
			memset(&p, 0, sizeof p);
			if (a.pci_v3(d, &p) == 0)
				copy_checked(g->pci_bus_id, GPU_PCI_MAX, p.bus_id, sizeof p.bus_id, false);
		} else if (a.pci_v1) {
			/* v1 layout also starts with a 16-byte bus id; give it room to spare. */
			char p[256];
			memset(p, 0, sizeof p);
			if (a.pci_v1(d, p) == 0)
				copy_checked(g->pci_bus_id, GPU_PCI_MAX, p, 16, false);
		}
	}
	h->gpu_count = count;
	if (a.driver) {
		char drv[NVML_DRIVER_BUF] = "";
		if (a.driver(drv, sizeof drv) == 0)
			copy_checked(h->driver_version, GPU_DRIVER_MAX, drv, sizeof drv, false);
	}
	if (a.cuda) {
		int v = 0;
		if (a.cuda(&v) == 0 && v > 0)
			h->cuda_driver_version = (unsigned)v;
	}
	h->source = GPU_SOURCE_NVML;
	rc = 0;
out:
	a.shutdown();
	dlclose(a.lib);
	return rc;
}

/* ---- nvidia-smi ---- */

static int smi_detect(struct gpu_host *h, const char *smi, unsigned timeout_ms, char *why,
		      size_t why_cap, struct err *e)
{
	char *argv[] = { (char *)smi,
			 "--query-gpu=index,name,memory.total,uuid,pci.bus_id,driver_version",
			 "--format=csv,noheader,nounits", NULL };
	struct buf out;
	int status = 0, rc;

	buf_init(&out, GPU_TEXT_MAX);
	rc = proc_run(&out, &status, argv, timeout_ms, e);
	if (rc == ERR_NOT_FOUND) {
		snprintf(why, why_cap, "no nvidia-smi");
		buf_release(&out);
		return rc;
	}
	if (rc) {
		buf_release(&out);
		return rc;
	}
	if (status != 0) {
		const char *t = buf_cstr(&out);
		size_t l = strcspn(t, "\r\n");
		snprintf(why, why_cap, "nvidia-smi exited %d: %.*s", status, (int)(l > 160 ? 160 : l),
			 t);
		buf_release(&out);
		return ERR_NOT_FOUND;
	}
	rc = gpu_smi_csv_parse(h, (const char *)out.data, out.len, e);
	buf_release(&out);
	if (rc == ERR_NOT_FOUND)
		snprintf(why, why_cap, "nvidia-smi lists no GPU");
	return rc;
}

static int read_file_capped(struct buf *b, const char *path, struct err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char chunk[4096];
	ssize_t r;

	if (fd < 0)
		return err_set(e, ERR_IO, "open %s: %s", path, strerror(errno));
	while ((r = read(fd, chunk, sizeof chunk)) > 0) {
		if (buf_append(b, chunk, (size_t)r)) {
			close(fd);
			return err_set(e, ERR_TOO_BIG, "%s: larger than %zu bytes", path, b->max);
		}
	}
	close(fd);
	if (r < 0)
		return err_set(e, ERR_IO, "read %s: %s", path, strerror(errno));
	return 0;
}

int gpu_detect(struct gpu_host *out, const struct gpu_detect_opts *opts, struct err *e)
{
	struct gpu_detect_opts o = { 0 };
	struct gpu_host *h;
	char why_nvml[200] = "NVML disabled", why_smi[200] = "nvidia-smi disabled";
	int rc;

	if (opts)
		o = *opts;
	h = calloc(1, sizeof *h);
	if (!h)
		return err_set(e, ERR_NOMEM, "gpu detect: out of memory");
	if ((rc = gpu_host_facts(&h->facts, o.disk_path, e)))
		goto done;
	if (o.spec_path) {
		struct buf b;
		buf_init(&b, GPU_TEXT_MAX);
		rc = read_file_capped(&b, o.spec_path, e);
		if (!rc)
			rc = gpu_spec_parse(h, (const char *)b.data, b.len, e);
		buf_release(&b);
		if (rc)
			err_wrap(e, "%s", o.spec_path);
		goto done;
	}
	if (!o.nvml_lib)
		o.nvml_lib = "libnvidia-ml.so.1";
	if (!o.smi_path)
		o.smi_path = "nvidia-smi";
	if (o.nvml_lib[0] && nvml_detect(h, o.nvml_lib, why_nvml, sizeof why_nvml) == 0)
		goto done;
	if (o.smi_path[0]) {
		rc = smi_detect(h, o.smi_path, o.smi_timeout_ms ? o.smi_timeout_ms : 10000, why_smi,
				sizeof why_smi, e);
		if (rc != ERR_NOT_FOUND)
			goto done;
	}
	rc = err_set(e, ERR_NOT_FOUND, "no NVIDIA GPU found: %s and %s", why_nvml, why_smi);
done:
	if (!rc)
		memcpy(out, h, sizeof *h);
	free(h);
	return rc;
}

uint64_t agent_machine_id(const char *hex64)
{
	uint64_t v = 0;

	for (size_t i = 0; i < 15 && hex64 && hex64[i]; i++) {
		int d = hex_digit(hex64[i]);
		if (d < 0)
			break;
		v = v << 4 | (uint64_t)d;
	}
	return v ? v : 1;
}

/* Keeps [A-Za-z0-9_-] of a model name ("NVIDIA A100 80GB" -> "NVIDIA_A100_80GB"), 31 chars. */
void gpu_model_slug(char out[GPU_SLUG_MAX + 1], const char *name)
{
	size_t j = 0;

	for (const char *p = name; *p && j < GPU_SLUG_MAX; p++) {
		char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_')
			out[j++] = c;
		else if (j && out[j - 1] != '_')
			out[j++] = '_';
	}
	while (j && out[j - 1] == '_')
		j--;
	if (!j)
		out[j++] = 'G', out[j++] = 'P', out[j++] = 'U';
	out[j] = '\0';
}
