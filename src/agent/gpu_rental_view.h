/*
 * gpu_rental_view.h — what a rental's account sees of this host's GPUs (`provider gpu-check`).
 *
 * A provider's check that the GPU it lists is the GPU a renter gets: it creates a throwaway rental
 * account exactly as the agent does for a rental (account.h: its own user, home, cgroup, the groups
 * that own /dev/nvidia*, the per-account login shell; a random ed25519 key nobody holds the private
 * half of), then, as that user and through its login shell — the path `ssh rental CMD` takes — runs
 * nvidia-smi and the CUDA benchmark, and tears the account down again. A GPU the host has but the
 * account cannot open (device node permissions, a cgroup device rule) shows up here, not in a dispute.
 * Needs root, like the agent; account mode only (instances get their GPUs from podman).
 */
#ifndef FLOP_AGENT_GPU_RENTAL_VIEW_H
#define FLOP_AGENT_GPU_RENTAL_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/account_record.h"
#include "agent/gpu.h"
#include "agent/gpubench.h"

struct buf;
struct err;

/* What one check found. */
struct gpu_rental_view {
	bool ran;                     /* false: skipped (not root), see why */
	bool ok;                      /* ran, and the account saw every host GPU and measured the first */
	char account[ACCOUNT_NAME_LEN + 1];
	long uid;
	size_t gpus_seen;             /* GPUs nvidia-smi listed as that user */
	size_t gpus_missing;          /* host GPUs (by UUID) it did not list */
	char first_gpu[GPU_NAME_MAX + 1]; /* the first one it listed */
	struct gpubench_result bench; /* the benchmark as that user on the first GPU */
	char why[256];                /* skipped or failed: why */
	char workdir[64];             /* its temp dir (state, home, benchmark copy); removed unless why says kept */
};

/* Where the tools are; NULL fields take the defaults shown. */
struct gpu_rental_view_opts {
	const char *gpubench;   /* "build/gpubench" (copied to a place the account can read) */
	const char *smi;        /* "nvidia-smi" from root's PATH */
	const char *setpriv;    /* "setpriv" (util-linux) from PATH */
	const char *cgroup_name; /* the accounts' cgroup parent: "flopmarket-gpu-check" (removed when empty) */
	unsigned timeout_s;     /* each tool's deadline; 0: 120 */
};

/*
 * Runs the check for host `h` (gpu_detect's answer). Always fills *out; returns 0 when it ran to a
 * verdict (out->ok says which) or was skipped, ERR_IO when the account could not be made or removed
 * (out->why says what; a half-made account is left to account_recover in the temp state dir named).
 */
int gpu_rental_view_run(struct gpu_rental_view *out, const struct gpu_host *h,
			const struct gpu_rental_view_opts *opts, struct err *e);

/* Appends the report's "rental view" lines for v, with the host's figure `host` for the same GPU
 * (NULL or unverified: no comparison). ERR_NOMEM / ERR_RANGE from the buffer. Pure. */
int gpu_rental_view_report(struct buf *out, const struct gpu_rental_view *v, const struct gpubench_result *host);

#endif
