/*
 * limits.h — default resource limits of a rental account, derived from the host when the provider gives
 * none (issue 8.10: without them one renter could exhaust the host with a fork bomb or a memory hog).
 *
 *   memory = MemTotal - reserve, reserve = max(1 GiB, 10 % of MemTotal)  (the host and the agent keep
 *            the reserve; at least 256 MiB is given)
 *   pids   = min(4096, max(256, pid_max / 8))
 *   cpu    = weight 100 (an equal share against the host's other work)
 * Pure: the caller passes the text of /proc/meminfo and /proc/sys/kernel/pid_max.
 */
#ifndef FLOP_AGENT_LIMITS_H
#define FLOP_AGENT_LIMITS_H

#include <stddef.h>
#include <stdint.h>

struct err;

#define LIMITS_RESERVE_MIN_BYTES ((uint64_t)1 << 30)
#define LIMITS_MEMORY_MIN_BYTES ((uint64_t)256 << 20)
#define LIMITS_PIDS_MIN 256
#define LIMITS_PIDS_MAX 4096
#define LIMITS_CPU_WEIGHT 100

struct rental_limits {
	uint64_t memory_max_bytes;
	uint64_t pids_max;
	unsigned cpu_weight;
};

/* Fills *out from the two texts (n bytes each). ERR_INVALID when MemTotal or pid_max is missing. */
int limits_from_host(struct rental_limits *out, const char *meminfo, size_t meminfo_n, const char *pid_max,
		     size_t pid_max_n, struct err *e);

/* Reads /proc and calls limits_from_host. */
int limits_read_host(struct rental_limits *out, struct err *e);

#endif
