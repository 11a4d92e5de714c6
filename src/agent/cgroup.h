/*
 * cgroup.h — the cgroup directories of one rental account: where they go (v2: one directory under the
 * agent's own cgroup; v1: one per controller, freezer first), the limits written into them (memory, pids,
 * cpu weight), the freezer, and the processes inside. Knows cgroupfs, nothing of users or rentals; the
 * account lifecycle (account.c) decides when. See account.h for how sessions land in the cgroup.
 */
#ifndef FLOP_AGENT_CGROUP_H
#define FLOP_AGENT_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define CGROUP_DIRS_MAX 4    /* directories per account (v1: freezer, memory, pids, cpu) */
#define CGROUP_PATH_MAX 256  /* any cgroup path we build or record */

enum cgroup_mode { CGROUP_NONE = 0, CGROUP_V1, CGROUP_V2 };

/* One account's cgroups, as planned and as recorded in its state file. */
struct cgroup_set {
	enum cgroup_mode mode;
	size_t count;                                  /* directories in dir */
	char dir[CGROUP_DIRS_MAX][CGROUP_PATH_MAX];    /* absolute cgroup dirs (v1: one per controller) */
	char freezer[CGROUP_PATH_MAX];                 /* the dir that freezes (v1 freezer, v2 the one dir) */
};

/* What the cgroups hold an account to; 0 = no limit. */
struct cgroup_limits {
	uint64_t memory_max_bytes;
	uint64_t pids_max;
	unsigned cpu_weight;     /* v2 cpu.weight (capped at 10000), v1 cpu.shares (at least 2) */
};

/*
 * Pure: from the text of /proc/self/cgroup, the path of the cgroup that holds us for v1 controller ctrl,
 * or for the v2 hierarchy ("0::/path") when ctrl is NULL; "" for the root. ERR_NOT_FOUND without such a
 * line, ERR_INVALID for a path that is not plain or does not fit cap.
 */
int cgroup_self_path(char *out, size_t cap, const char *text, const char *ctrl);
/*
 * Plans the directories of account `leaf` under <root>/<agent's own cgroup>/<parent>/ into *cg (nothing
 * is made). ERR_UNSUPPORTED when root is neither cgroup2 nor holds a v1 freezer, ERR_TOO_BIG for a path
 * over CGROUP_PATH_MAX.
 */
int cgroup_plan(struct cgroup_set *cg, const char *root, const char *parent, const char *leaf,
		struct err *e);
/*
 * Makes the planned directories, writes the limits, and (owner_uid >= 1000) chowns cgroup.procs (and v1
 * tasks) to the owner so its login shell can move itself in. Idempotent; names the file that failed.
 */
int cgroup_ensure(const struct cgroup_set *cg, const char *root, const struct cgroup_limits *lim,
		  long owner_uid, struct err *e);
/* Whether the freezer says frozen right now. */
bool cgroup_is_frozen(const struct cgroup_set *cg);
/* Freezes (on) or thaws, and waits until it settles (ERR_TIMEOUT after 5 s). Thawing a missing dir is 0. */
int cgroup_freeze(const struct cgroup_set *cg, bool on, struct err *e);
/* Calls fn(pid, arg) for each pid listed in every directory. */
void cgroup_each_pid(const struct cgroup_set *cg, void (*fn)(long pid, void *arg), void *arg);
/* Whether pid is listed in the freezer directory. */
bool cgroup_holds(const struct cgroup_set *cg, long pid);
/* Moves pid into every directory (best effort). */
void cgroup_add_pid(const struct cgroup_set *cg, long pid);
/* Removes the directories, deepest first; ENOENT is fine. */
int cgroup_remove(const struct cgroup_set *cg, struct err *e);

#endif
