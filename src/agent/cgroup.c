/*
 * cgroup.c — one account's cgroup directories, limits, freezer and processes (see cgroup.h).
 */
#include "agent/cgroup.h"

#include "core/err.h"
#include "core/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define CGROUP2_MAGIC 0x63677270 /* CGROUP2_SUPER_MAGIC, linux/magic.h */
#define OWNER_UID_FLOOR 1000     /* never hand a cgroup to a system uid */
#define FREEZE_POLLS 500         /* x 10 ms */

static const char *const v1_ctrls[] = { "freezer", "memory", "pids", "cpu" };

/* Whether /proc/self/cgroup's line (hierarchy id cut at the first ':') names controller ctrl (v2: NULL). */
static bool line_is(const char *ids, const char *ctrls, const char *ctrl)
{
	char list[256], *save = NULL;
	bool match = false;

	if (!ctrl)
		return !strcmp(ids, "0") && ctrls[0] == '\0';
	snprintf(list, sizeof list, "%s", ctrls);
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		match |= !strcmp(t, ctrl);
	return match;
}

int cgroup_self_path(char *out, size_t cap, const char *text, const char *ctrl)
{
	char line[1024];

	while (text && *text) {
		size_t n = strcspn(text, "\n");
		char *c1, *c2, *path;

		snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), text);
		text += n + (text[n] == '\n');
		c1 = strchr(line, ':');
		c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c1 = '\0';
		*c2 = '\0';
		path = c2 + 1;
		if (!line_is(line, c1 + 1, ctrl))
			continue;
		if (!strcmp(path, "/"))
			path = "";
		if (strlen(path) >= cap || (*path && !file_path_plain(path, CGROUP_PATH_MAX)))
			return ERR_INVALID;
		strcpy(out, path);
		return 0;
	}
	return ERR_NOT_FOUND;
}

/* The agent's own cgroup path for a v1 controller (or v2 with ctrl NULL); "" for "/". */
static int own_cgroup(char *out, size_t cap, const char *ctrl)
{
	char text[4096];

	if (file_read_str(text, sizeof text, "/proc/self/cgroup"))
		return ERR_NOT_FOUND;
	return cgroup_self_path(out, cap, text, ctrl);
}

int cgroup_plan(struct cgroup_set *cg, const char *root, const char *parent, const char *leaf,
		struct err *e)
{
	struct statfs fs;
	char own[CGROUP_PATH_MAX];
	int n;

	memset(cg, 0, sizeof *cg);
	if (statfs(root, &fs))
		return err_set(e, ERR_UNSUPPORTED, "cgroups: %s: %s", root, strerror(errno));
	if ((unsigned long)fs.f_type == CGROUP2_MAGIC) {
		cg->mode = CGROUP_V2;
		if (own_cgroup(own, sizeof own, NULL))
			return err_set(e, ERR_UNSUPPORTED, "cgroups: own v2 cgroup not found");
		n = snprintf(cg->dir[0], CGROUP_PATH_MAX, "%s%s/%s/%s", root, own, parent, leaf);
		if (n < 0 || n >= CGROUP_PATH_MAX)
			return err_set(e, ERR_TOO_BIG, "cgroups: path too long");
		strcpy(cg->freezer, cg->dir[0]);
		cg->count = 1;
		return 0;
	}
	cg->mode = CGROUP_V1;
	for (size_t i = 0; i < sizeof v1_ctrls / sizeof v1_ctrls[0]; i++) {
		char mnt[CGROUP_PATH_MAX];
		struct stat st;

		snprintf(mnt, sizeof mnt, "%s/%s", root, v1_ctrls[i]);
		if (stat(mnt, &st) || !S_ISDIR(st.st_mode) || own_cgroup(own, sizeof own, v1_ctrls[i])) {
			if (i == 0)
				return err_set(e, ERR_UNSUPPORTED,
					       "cgroups: no v1 freezer at %s and %s is not cgroup2", mnt, root);
			continue;
		}
		n = snprintf(cg->dir[cg->count], CGROUP_PATH_MAX, "%s%s/%s/%s", mnt, own, parent, leaf);
		if (n < 0 || n >= CGROUP_PATH_MAX)
			return err_set(e, ERR_TOO_BIG, "cgroups: path too long");
		cg->count++;
	}
	strcpy(cg->freezer, cg->dir[0]);
	return 0;
}

/* Whether directory i is controller ctrl's: always in v2, by its mount in v1 ("<root>/pids/..."). */
static bool dir_has(const struct cgroup_set *cg, size_t i, const char *ctrl, const char *root)
{
	char pre[CGROUP_PATH_MAX];

	if (cg->mode == CGROUP_V2)
		return true;
	snprintf(pre, sizeof pre, "%s/%s/", root, ctrl);
	return !strncmp(cg->dir[i], pre, strlen(pre));
}

static int set_file(const char *dir, const char *file, const char *val, struct err *e)
{
	char p[CGROUP_PATH_MAX + 32];

	snprintf(p, sizeof p, "%s/%s", dir, file);
	if (file_write_str(p, val))
		return err_set(e, ERR_IO, "cgroups: write '%s' to %s: %s", val, p, strerror(errno));
	return 0;
}

/* v2: enables the controllers in the two directories above dir; best effort (see account.h). */
static void enable_controllers(const char *dir)
{
	char parent[CGROUP_PATH_MAX], p[CGROUP_PATH_MAX + 32], *s;

	snprintf(parent, sizeof parent, "%s", dir);
	for (int up = 0; up < 2 && (s = strrchr(parent, '/')); up++) {
		*s = '\0';
		snprintf(p, sizeof p, "%s/cgroup.subtree_control", parent);
		file_write_str(p, "+memory");
		file_write_str(p, "+pids");
		file_write_str(p, "+cpu");
	}
}

/* Writes the limits that belong to directory i. */
static int limits_write(const struct cgroup_set *cg, size_t i, const char *root,
			const struct cgroup_limits *lim, struct err *e)
{
	bool v2 = cg->mode == CGROUP_V2;
	char v[32];
	int rc;

	if (lim->memory_max_bytes && dir_has(cg, i, "memory", root)) {
		snprintf(v, sizeof v, "%llu", (unsigned long long)lim->memory_max_bytes);
		if ((rc = set_file(cg->dir[i], v2 ? "memory.max" : "memory.limit_in_bytes", v, e)))
			return rc;
	}
	if (lim->pids_max && dir_has(cg, i, "pids", root)) {
		snprintf(v, sizeof v, "%llu", (unsigned long long)lim->pids_max);
		if ((rc = set_file(cg->dir[i], "pids.max", v, e)))
			return rc;
	}
	if (lim->cpu_weight && dir_has(cg, i, "cpu", root)) {
		unsigned w = lim->cpu_weight;
		if (v2 && w > 10000)
			w = 10000;
		if (!v2 && w < 2)
			w = 2;
		snprintf(v, sizeof v, "%u", w);
		if ((rc = set_file(cg->dir[i], v2 ? "cpu.weight" : "cpu.shares", v, e)))
			return rc;
	}
	return 0;
}

/* Lets the owner write cgroup.procs (and v1 tasks) of directory dir. */
static int hand_to_owner(const struct cgroup_set *cg, const char *dir, long uid, struct err *e)
{
	char p[CGROUP_PATH_MAX + 32];

	snprintf(p, sizeof p, "%s/cgroup.procs", dir);
	if (chown(p, (uid_t)uid, (gid_t)-1))
		return err_set(e, ERR_IO, "cgroups: chown %s: %s", p, strerror(errno));
	if (cg->mode == CGROUP_V1) {
		snprintf(p, sizeof p, "%s/tasks", dir);
		if (chown(p, (uid_t)uid, (gid_t)-1))
			return err_set(e, ERR_IO, "cgroups: chown %s: %s", p, strerror(errno));
	}
	return 0;
}

int cgroup_ensure(const struct cgroup_set *cg, const char *root, const struct cgroup_limits *lim,
		  long owner_uid, struct err *e)
{
	int rc;

	for (size_t i = 0; i < cg->count; i++) {
		if (file_mkdir_p(cg->dir[i], 0755, 0755, NULL))
			return err_set(e, ERR_IO, "cgroups: mkdir %s: %s", cg->dir[i], strerror(errno));
		if (cg->mode == CGROUP_V2)
			enable_controllers(cg->dir[i]);
		if ((rc = limits_write(cg, i, root, lim, e)))
			return rc;
		if (owner_uid >= OWNER_UID_FLOOR && (rc = hand_to_owner(cg, cg->dir[i], owner_uid, e)))
			return rc;
	}
	return 0;
}

bool cgroup_is_frozen(const struct cgroup_set *cg)
{
	char p[CGROUP_PATH_MAX + 32], v[256];

	if (!cg->freezer[0])
		return false;
	if (cg->mode == CGROUP_V1) {
		snprintf(p, sizeof p, "%s/freezer.state", cg->freezer);
		return file_read_str(v, sizeof v, p) == 0 && !strncmp(v, "FROZEN", 6);
	}
	snprintf(p, sizeof p, "%s/cgroup.events", cg->freezer);
	return file_read_str(v, sizeof v, p) == 0 && strstr(v, "frozen 1");
}

int cgroup_freeze(const struct cgroup_set *cg, bool on, struct err *e)
{
	char p[CGROUP_PATH_MAX + 32];
	const char *v;
	struct stat st;

	if (!cg->freezer[0] || stat(cg->freezer, &st))
		return on ? err_set(e, ERR_STATE, "cgroups: %s missing, cannot freeze", cg->freezer) : 0;
	if (cg->mode == CGROUP_V1) {
		snprintf(p, sizeof p, "%s/freezer.state", cg->freezer);
		v = on ? "FROZEN" : "THAWED";
	} else {
		snprintf(p, sizeof p, "%s/cgroup.freeze", cg->freezer);
		v = on ? "1" : "0";
	}
	for (int i = 0; i < FREEZE_POLLS; i++) {
		if (file_write_str(p, v))
			return err_set(e, ERR_IO, "cgroups: write %s: %s", p, strerror(errno));
		if (cgroup_is_frozen(cg) == on)
			return 0;
		usleep(10000);
	}
	return err_set(e, ERR_TIMEOUT, "cgroups: %s did not %s within 5 s", cg->freezer, on ? "freeze" : "thaw");
}

/* Calls fn(pid, arg) for each pid in dir/cgroup.procs. */
static void dir_each_pid(const char *dir, void (*fn)(long, void *), void *arg)
{
	char p[CGROUP_PATH_MAX + 32], line[32];
	FILE *f;

	snprintf(p, sizeof p, "%s/cgroup.procs", dir);
	if (!(f = fopen(p, "re")))
		return;
	while (fgets(line, sizeof line, f))
		fn(strtol(line, NULL, 10), arg);
	fclose(f);
}

void cgroup_each_pid(const struct cgroup_set *cg, void (*fn)(long, void *), void *arg)
{
	for (size_t i = 0; i < cg->count; i++)
		dir_each_pid(cg->dir[i], fn, arg);
}

struct holds_arg {
	long pid;
	bool found;
};

static void holds_one(long pid, void *arg)
{
	struct holds_arg *h = arg;
	h->found |= pid == h->pid;
}

bool cgroup_holds(const struct cgroup_set *cg, long pid)
{
	struct holds_arg h = { .pid = pid, .found = false };

	if (cg->freezer[0])
		dir_each_pid(cg->freezer, holds_one, &h);
	return h.found;
}

void cgroup_add_pid(const struct cgroup_set *cg, long pid)
{
	char v[32], p[CGROUP_PATH_MAX + 32];

	snprintf(v, sizeof v, "%ld", pid);
	for (size_t i = 0; i < cg->count; i++) {
		snprintf(p, sizeof p, "%s/cgroup.procs", cg->dir[i]);
		file_write_str(p, v);
	}
}

int cgroup_remove(const struct cgroup_set *cg, struct err *e)
{
	for (size_t i = cg->count; i-- > 0;)
		if (rmdir(cg->dir[i]) && errno != ENOENT)
			return err_set(e, ERR_IO, "rmdir %s: %s", cg->dir[i], strerror(errno));
	return 0;
}
