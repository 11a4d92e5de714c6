/*
 * limits.c — see limits.h.
 */
#include "agent/limits.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"

#define PROC_TEXT_MAX 65536
#define PID_MAX_TEXT_MAX 64 /* /proc/sys/kernel/pid_max: one number */

/* The value in kB of the "MemTotal:" line. */
static int mem_total_kib(uint64_t *out, const char *t, size_t n)
{
	const char *key = "MemTotal:";
	size_t k = strlen(key);

	for (size_t i = 0; i + k <= n; i++) {
		if ((i == 0 || t[i - 1] == '\n') && memcmp(t + i, key, k) == 0) {
			uint64_t v = 0;
			size_t j = i + k;
			while (j < n && t[j] == ' ')
				j++;
			if (j >= n || t[j] < '0' || t[j] > '9')
				return ERR_INVALID;
			while (j < n && t[j] >= '0' && t[j] <= '9' && v < UINT64_MAX / 10)
				v = v * 10 + (uint64_t)(t[j++] - '0');
			*out = v;
			return 0;
		}
	}
	return ERR_NOT_FOUND;
}

int limits_from_host(struct rental_limits *out, const char *meminfo, size_t meminfo_n, const char *pid_max,
		     size_t pid_max_n, struct err *e)
{
	uint64_t kib = 0, total, reserve, pm = 0;
	size_t i = 0;

	if (mem_total_kib(&kib, meminfo, meminfo_n) || kib == 0)
		return err_set(e, ERR_INVALID, "/proc/meminfo: no MemTotal line");
	while (i < pid_max_n && pid_max[i] >= '0' && pid_max[i] <= '9' && pm < UINT64_MAX / 10)
		pm = pm * 10 + (uint64_t)(pid_max[i++] - '0');
	if (i == 0)
		return err_set(e, ERR_INVALID, "/proc/sys/kernel/pid_max: not a number");
	total = kib > UINT64_MAX / 1024 ? UINT64_MAX : kib * 1024;
	reserve = total / 10 > LIMITS_RESERVE_MIN_BYTES ? total / 10 : LIMITS_RESERVE_MIN_BYTES;
	out->memory_max_bytes = total > reserve + LIMITS_MEMORY_MIN_BYTES ? total - reserve : LIMITS_MEMORY_MIN_BYTES;
	pm /= 8;
	out->pids_max = pm < LIMITS_PIDS_MIN ? LIMITS_PIDS_MIN : pm > LIMITS_PIDS_MAX ? LIMITS_PIDS_MAX : pm;
	out->cpu_weight = LIMITS_CPU_WEIGHT;
	return 0;
}

int limits_read_host(struct rental_limits *out, struct err *e)
{
	struct buf mi, pm;
	int rc;

	buf_init(&mi, PROC_TEXT_MAX);
	buf_init(&pm, PID_MAX_TEXT_MAX);
	rc = file_read(&mi, "/proc/meminfo", e);
	if (!rc)
		rc = file_read(&pm, "/proc/sys/kernel/pid_max", e);
	if (!rc)
		rc = limits_from_host(out, (const char *)mi.data, mi.len, (const char *)pm.data, pm.len, e);
	buf_release(&mi);
	buf_release(&pm);
	return rc;
}
