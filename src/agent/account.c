/*
 * account.c — per-rental Unix accounts: create, freeze/thaw, teardown,
 * recovery (see account.h for the design and the invariants). The record
 * of each account and its state file are account_record.c's; its cgroups
 * are cgroup.c's; this file decides when each step happens.
 *
 * System changes go through the shadow-utils tools (useradd, usermod,
 * userdel) run with an argv (never a shell) and a deadline, and through
 * direct writes to cgroupfs. Files inside a user's home are opened with
 * O_NOFOLLOW relative to a directory fd, so a renter's symlink cannot send
 * a root write elsewhere.
 */
#include "agent/account.h"
#include "core/clock.h"

#include "agent/cgroup.h"
#include "agent/gpu.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/proc.h"
#include "core/file.h"
#include "core/hex.h"
#include "core/json.h"
#include "eth/keccak.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define UID_FLOOR 1000           /* never kill by or delete files of a uid below this */
_Static_assert(CGROUP_PATH_MAX >= ACCOUNT_PATH_MAX, "a recorded cgroup path (path_ok) fits cgroup_set");
#define TOOL_TIMEOUT_MS 30000
#define TOOL_OUTPUT_MAX 4096     /* what a system tool printed, kept for its error message */
#define LOGIN_SHELL_MAX 8192     /* the per-account login shell script */
#define GECOS_PREFIX "flopmarket rental "

/* The cfg with defaults filled in. */
struct acfg {
	const char *state_dir, *home_base, *cgroup_root, *cgroup_name, *enter_bin, *enter_socket;
	uint64_t memory_max_bytes, pids_max;
	unsigned cpu_weight, kill_timeout_ms;
};

/* Absolute, [A-Za-z0-9_./-] only, no "..", shorter than ACCOUNT_PATH_MAX. */
static bool path_ok(const char *p)
{
	return file_path_plain(p, ACCOUNT_PATH_MAX);
}

static int cfg_fill(struct acfg *c, const struct account_cfg *cfg, struct err *e)
{
	struct account_cfg z = { 0 };

	if (!cfg)
		cfg = &z;
	c->state_dir = cfg->state_dir ? cfg->state_dir : "/var/lib/flopmarket/agent";
	c->home_base = cfg->home_base ? cfg->home_base : "/home/flopmarket";
	c->cgroup_root = cfg->cgroup_root ? cfg->cgroup_root : "/sys/fs/cgroup";
	c->cgroup_name = cfg->cgroup_name ? cfg->cgroup_name : "flopmarket";
	c->memory_max_bytes = cfg->memory_max_bytes;
	c->pids_max = cfg->pids_max;
	c->cpu_weight = cfg->cpu_weight;
	c->kill_timeout_ms = cfg->kill_timeout_ms ? cfg->kill_timeout_ms : 10000;
	c->enter_bin = cfg->enter_bin;
	c->enter_socket = cfg->enter_socket;
	if (!c->enter_bin != !c->enter_socket || (c->enter_bin && (!path_ok(c->enter_bin) || !path_ok(c->enter_socket))))
		return err_set(e, ERR_INVALID, "account cfg: enter_bin and enter_socket go together, as plain absolute paths");
	if (!path_ok(c->state_dir) || strlen(c->state_dir) > 150)
		return err_set(e, ERR_INVALID, "account cfg: state_dir '%.80s' not a plain absolute path",
			       c->state_dir);
	if (!path_ok(c->home_base) || strlen(c->home_base) > 150)
		return err_set(e, ERR_INVALID, "account cfg: home_base '%.80s' not a plain absolute path",
			       c->home_base);
	if (!path_ok(c->cgroup_root) || strlen(c->cgroup_root) > 64)
		return err_set(e, ERR_INVALID, "account cfg: cgroup_root '%.80s' not a plain absolute path",
			       c->cgroup_root);
	if (!*c->cgroup_name || strlen(c->cgroup_name) > 32 || strchr(c->cgroup_name, '/') ||
	    strstr(c->cgroup_name, ".."))
		return err_set(e, ERR_INVALID, "account cfg: cgroup_name must be one short path element");
	for (const char *p = c->cgroup_name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
			return err_set(e, ERR_INVALID, "account cfg: cgroup_name has a bad character");
	if (c->cpu_weight > 262144)
		return err_set(e, ERR_RANGE, "account cfg: cpu_weight %u out of range", c->cpu_weight);
	return 0;
}

static bool name_ok(const char *name)
{
	if (!name || strlen(name) != ACCOUNT_NAME_LEN || strncmp(name, ACCOUNT_PREFIX, 2))
		return false;
	for (size_t i = 2; i < ACCOUNT_NAME_LEN; i++)
		if (!isdigit((unsigned char)name[i]) && !(name[i] >= 'a' && name[i] <= 'f'))
			return false;
	return true;
}

int account_rental_scope(char *out, size_t cap, uint64_t chain_id, const struct eth_address *escrow,
			 const char *instance, uint64_t rental_id, struct err *e)
{
	char hex[41];
	size_t k = instance ? strlen(instance) : 0;
	int n;

	if (k == 0 || k > ACCOUNT_INSTANCE_MAX || strspn(instance, "0123456789abcdef") != k)
		return err_set(e, ERR_INVALID, "account: agent instance must be 1..%d lowercase hex digits",
			       ACCOUNT_INSTANCE_MAX);
	hex_encode(hex, escrow->b, 20);
	n = snprintf(out, cap, "%llu.%s.%s.%llu", (unsigned long long)chain_id, hex, instance,
		     (unsigned long long)rental_id);
	if (n < 0 || (size_t)n >= cap || (size_t)n > ACCOUNT_RENTAL_ID_MAX)
		return err_set(e, ERR_TOO_BIG, "account: rental scope does not fit in %zu bytes", cap);
	return 0;
}

int account_name_for_rental(char name13[ACCOUNT_NAME_LEN + 1], const char *rental_id,
			    struct err *e)
{
	char low[ACCOUNT_RENTAL_ID_MAX + 1];
	uint8_t h[32];
	size_t n;
	static const char hexd[] = "0123456789abcdef";

	if (!rental_id || !*rental_id)
		return err_set(e, ERR_INVALID, "rental id: empty");
	n = strnlen(rental_id, ACCOUNT_RENTAL_ID_MAX + 1);
	if (n > ACCOUNT_RENTAL_ID_MAX)
		return err_set(e, ERR_TOO_BIG, "rental id: longer than %d bytes", ACCOUNT_RENTAL_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)rental_id[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return err_set(e, ERR_INVALID, "rental id: bad character at offset %zu", i);
		low[i] = (char)tolower(c);
	}
	low[n] = '\0';
	keccak256(h, (const uint8_t *)low, n);
	memcpy(name13, ACCOUNT_PREFIX, 2);
	for (size_t i = 0; i < 5; i++) {
		name13[2 + 2 * i] = hexd[h[i] >> 4];
		name13[3 + 2 * i] = hexd[h[i] & 15];
	}
	name13[ACCOUNT_NAME_LEN] = '\0';
	return 0;
}

/* ---- small file helpers ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* Removes a tree without following symlinks or crossing mounts. */
static int rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return lstat(path, &st) == 0 ? -1 : 0;
}

/* ---- tools ---- */

/* Runs a tool; 0 when it exited with one of the ok codes (list ends with -1). */
static int tool(int *status, struct err *e, const int *ok, char *const argv[])
{
	struct buf out;
	int st = -1, rc;

	buf_init(&out, TOOL_OUTPUT_MAX);
	rc = proc_run(&out, &st, argv, TOOL_TIMEOUT_MS, e);
	if (!rc) {
		bool good = false;
		for (; ok && *ok >= 0; ok++)
			good |= *ok == st;
		if (!good && !(ok == NULL && st == 0)) {
			const char *t = buf_cstr(&out);
			size_t l = strcspn(t, "\n");
			rc = err_set(e, ERR_IO, "%s %s exited %d: %.*s", argv[0], argv[1] ? argv[1] : "",
				     st, (int)(l > 160 ? 160 : l), t);
		}
	}
	if (status)
		*status = st;
	buf_release(&out);
	return rc;
}

/* ---- passwd ---- */

struct pw {
	bool exists;
	uid_t uid;
	gid_t gid;
	char gecos[256];
	char dir[ACCOUNT_PATH_MAX];
};

static int pw_lookup(struct pw *out, const char *name, struct err *e)
{
	struct passwd pwd, *res = NULL;
	char bufp[4096];
	int rc = getpwnam_r(name, &pwd, bufp, sizeof bufp, &res);

	memset(out, 0, sizeof *out);
	if (rc && rc != ENOENT && rc != ESRCH)
		return err_set(e, ERR_IO, "getpwnam %s: %s", name, strerror(rc));
	if (!res)
		return 0;
	out->exists = true;
	out->uid = pwd.pw_uid;
	out->gid = pwd.pw_gid;
	snprintf(out->gecos, sizeof out->gecos, "%s", pwd.pw_gecos ? pwd.pw_gecos : "");
	snprintf(out->dir, sizeof out->dir, "%s", pwd.pw_dir ? pwd.pw_dir : "");
	return 0;
}

/* The passwd entry of `a` if it exists and is ours; ERR_CONFLICT if it is not ours. */
static int pw_ours(struct pw *out, const struct account *a, struct err *e)
{
	char want[sizeof out->gecos];
	int rc = pw_lookup(out, a->name, e);

	if (rc || !out->exists)
		return rc;
	snprintf(want, sizeof want, GECOS_PREFIX "%s", a->rental_id);
	if (strcmp(out->gecos, want) || (a->uid >= 0 && (long)out->uid != a->uid))
		return err_set(e, ERR_CONFLICT, "user %s exists but was not created by flopmarket for "
			       "this rental; not touching it", a->name);
	if (out->uid < UID_FLOOR)
		return err_set(e, ERR_CONFLICT, "user %s has uid %u below %d; not touching it", a->name,
			       (unsigned)out->uid, UID_FLOOR);
	return 0;
}

int account_load(struct account *out, const struct account_cfg *cfg, const char *name,
		 struct err *e)
{
	struct acfg c;
	int rc;

	if ((rc = cfg_fill(&c, cfg, e)))
		return rc;
	if (!name_ok(name))
		return err_set(e, ERR_INVALID, "account name '%.40s' is not one of ours",
			       name ? name : "");
	return account_record_load(out, c.state_dir, name, e);
}

/* ---- cgroups and processes ---- */

/* Makes the account's cgroups with the configured limits and hands them to its uid. */
static int cg_ensure(const struct account *a, const struct acfg *c, struct err *e)
{
	struct cgroup_limits lim = { .memory_max_bytes = c->memory_max_bytes,
				     .pids_max = c->pids_max,
				     .cpu_weight = c->cpu_weight };

	return cgroup_ensure(&a->cg, c->cgroup_root, &lim, a->uid, e);
}

/* Status of a /proc entry: 'Z' zombie etc.; 0 when gone. Uid set (any of 4 ids). */
static char proc_state(long pid, long uids[4])
{
	char p[64], text[2048], *l;
	char st = 0;

	snprintf(p, sizeof p, "/proc/%ld/status", pid);
	if (file_read_str(text, sizeof text, p))
		return 0;
	if ((l = strstr(text, "\nState:\t")))
		st = l[8];
	if (uids && (l = strstr(text, "\nUid:\t")))
		sscanf(l + 6, "%ld %ld %ld %ld", &uids[0], &uids[1], &uids[2], &uids[3]);
	return st;
}

/* Calls fn(pid) for each live process any of whose uids is `uid`. */
static void uid_each_pid(long uid, void (*fn)(long, void *), void *arg)
{
	DIR *d;
	struct dirent *de;

	if (uid < UID_FLOOR || !(d = opendir("/proc")))
		return;
	while ((de = readdir(d))) {
		long uids[4] = { -1, -1, -1, -1 }, pid;
		char *end, st;

		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 1)
			continue;
		st = proc_state(pid, uids);
		if (!st || st == 'Z')
			continue;
		if (uids[0] == uid || uids[1] == uid || uids[2] == uid || uids[3] == uid)
			fn(pid, arg);
	}
	closedir(d);
}

static void kill_pid(long pid, void *arg)
{
	(void)arg;
	if (pid > 1)
		kill((pid_t)pid, SIGKILL);
}

static void count_live(long pid, void *arg)
{
	char st = pid > 1 ? proc_state(pid, NULL) : 0;
	if (st && st != 'Z')
		++*(unsigned *)arg;
}

struct move_arg {
	const struct account *a;
	unsigned moved;
};

static void move_pid(long pid, void *arg)
{
	struct move_arg *m = arg;

	cgroup_add_pid(&m->a->cg, pid);
	m->moved++;
}

/* ---- lock (logins refused) ---- */

static int login_lock(const struct account *a, bool lock, struct err *e)
{
	static const int ok[] = { 0, -1 };
	char *lk[] = { "usermod", "--lock", "--expiredate", "1", (char *)a->name, NULL };
	char *un[] = { "usermod", "--unlock", "--expiredate", "", (char *)a->name, NULL };

	return tool(NULL, e, ok, lock ? lk : un);
}

/* ---- the login shell script ---- */

static int shell_write(const struct account *a, const struct acfg *c, struct err *e)
{
	char dir[ACCOUNT_PATH_MAX + 16];
	struct buf b;
	int rc;

	/* The scripts hold nothing secret (cgroup paths, the rental id) and live under the home base, not
	 * the agent's state dir, so that dir stays 0700 (issue 8.11). */
	snprintf(dir, sizeof dir, "%s/" ACCOUNT_SHELLS_DIR, c->home_base);
	if (file_mkdir_p(c->home_base, 0755, 0755, NULL) || file_mkdir_p(dir, 0755, 0755, NULL) || chmod(dir, 0755) ||
	    chmod(c->state_dir, 0700))
		return err_set(e, ERR_IO, "mkdir %s: %s", dir, strerror(errno));
	buf_init(&b, LOGIN_SHELL_MAX);
	if (c->enter_bin) {
		/* paths are plain (path_ok: no quote can be in them) */
		buf_printf(&b, "#!/bin/sh\n"
			   "# flopmarket login shell for rental %s (written by the agent).\n"
			   "# Enters the rental's instance: a root shell there, or -c COMMAND run there.\n"
			   "exec '%s' enter --socket '%s' \"$@\"\n",
			   a->rental_id, c->enter_bin, c->enter_socket);
		rc = file_write_atomic(a->shell, buf_cstr(&b), strlen(buf_cstr(&b)), 0755, e);
		buf_release(&b);
		return rc;
	}
	buf_printf(&b, "#!/bin/sh\n"
		   "# flopmarket login shell for rental %s (written by the agent).\n"
		   "# Joins the rental's cgroups so every session runs inside its limits,\n"
		   "# then runs bash: a login shell without arguments, else bash \"$@\".\n",
		   a->rental_id);
	for (size_t i = 0; i < a->cg.count; i++)
		buf_printf(&b, "echo $$ 2>/dev/null >'%s/cgroup.procs' || %s\n", a->cg.dir[i],
			   a->cg.mode == CGROUP_V1
				   ? "{ echo 'flopmarket: the resource limits of this rental are not "
				     "in place; try again in a minute' >&2; exit 1; }"
				   : "true # v2: the agent's sweep moves us");
	rc = buf_append_str(&b, "if [ $# -eq 0 ]; then exec /bin/bash -l; fi\nexec /bin/bash \"$@\"\n");
	if (rc) {
		buf_release(&b);
		return err_set(e, rc, "login shell script too long");
	}
	rc = file_write_atomic(a->shell, buf_cstr(&b), strlen(buf_cstr(&b)), 0755, e);
	buf_release(&b);
	return rc;
}

/* ---- home and authorized_keys ---- */

static int keys_write(const struct account *a, const char *line, struct err *e)
{
	int home, ssh = -1, fd = -1, rc = 0;
	struct stat st;
	size_t n = strlen(line);

	home = open(a->home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (home < 0)
		return err_set(e, ERR_IO, "open %s: %s", a->home, strerror(errno));
	if (fstat(home, &st) || st.st_uid != (uid_t)a->uid || fchmod(home, 0700)) {
		rc = err_set(e, ERR_IO, "home %s: not owned by the account", a->home);
		goto done;
	}
	if (mkdirat(home, ".ssh", 0700) && errno != EEXIST) {
		rc = err_set(e, ERR_IO, "mkdir %s/.ssh: %s", a->home, strerror(errno));
		goto done;
	}
	ssh = openat(home, ".ssh", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ssh < 0 || fchown(ssh, (uid_t)a->uid, (gid_t)a->gid) || fchmod(ssh, 0700)) {
		rc = err_set(e, ERR_IO, "%s/.ssh: %s", a->home, strerror(errno));
		goto done;
	}
	unlinkat(ssh, "authorized_keys.tmp", 0);
	fd = openat(ssh, "authorized_keys.tmp", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0 || write(fd, line, n) != (ssize_t)n || fchown(fd, (uid_t)a->uid, (gid_t)a->gid) ||
	    fsync(fd) || renameat(ssh, "authorized_keys.tmp", ssh, "authorized_keys")) {
		rc = err_set(e, ERR_IO, "%s/.ssh/authorized_keys: %s", a->home, strerror(errno));
		goto done;
	}
done:
	if (fd >= 0)
		close(fd);
	if (ssh >= 0)
		close(ssh);
	close(home);
	return rc;
}

/* Names of the groups owning /dev/nvidia* (not root's), comma separated. */
static void gpu_groups(char *out, size_t cap)
{
	DIR *d = opendir("/dev");
	struct dirent *de;
	size_t len = 0;

	out[0] = '\0';
	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[300], bufg[1024];
		struct stat st;
		struct group g, *res = NULL;

		if (strncmp(de->d_name, "nvidia", 6))
			continue;
		snprintf(p, sizeof p, "/dev/%s", de->d_name);
		if (stat(p, &st) || !S_ISCHR(st.st_mode) || st.st_gid == 0 || !(st.st_mode & 060))
			continue;
		if (getgrgid_r(st.st_gid, &g, bufg, sizeof bufg, &res) || !res)
			continue;
		if (strstr(out, res->gr_name))
			continue;
		if (len + strlen(res->gr_name) + 2 < cap)
			len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", res->gr_name);
	}
	closedir(d);
}

/* ---- create ---- */

int account_create(struct account *out, const struct account_cfg *cfg, const char *rental_id,
		   const char *ssh_pubkey, struct err *e)
{
	static const int ok0[] = { 0, -1 };
	char key[ACCOUNT_SSH_KEY_MAX + 2], name[ACCOUNT_NAME_LEN + 1], gecos[200], groups[256];
	struct account a;
	struct acfg c;
	struct pw pw;
	int rc;

	if ((rc = cfg_fill(&c, cfg, e)) || (rc = account_name_for_rental(name, rental_id, e)))
		return rc;
	if (!ssh_pubkey)
		return err_set(e, ERR_INVALID, "ssh key: missing");
	if ((rc = sshkey_check(key, sizeof key, ssh_pubkey,
					strnlen(ssh_pubkey, ACCOUNT_SSH_KEY_MAX + 1), e)))
		return rc;
	rc = account_record_load(&a, c.state_dir, name, e);
	if (rc == 0) {
		char low[ACCOUNT_RENTAL_ID_MAX + 1];
		size_t i;
		for (i = 0; rental_id[i]; i++)
			low[i] = (char)tolower((unsigned char)rental_id[i]);
		low[i] = '\0';
		if (strcmp(a.rental_id, low))
			return err_set(e, ERR_CONFLICT, "account %s belongs to rental %s", name,
				       a.rental_id);
		if (a.phase == ACCOUNT_TEARING_DOWN)
			return err_set(e, ERR_STATE, "account %s is being torn down", name);
	} else if (rc == ERR_NOT_FOUND) {
		memset(&a, 0, sizeof a);
		strcpy(a.name, name);
		for (size_t i = 0; rental_id[i]; i++)
			a.rental_id[i] = (char)tolower((unsigned char)rental_id[i]);
		a.phase = ACCOUNT_CREATING;
		a.uid = a.gid = -1;
		a.created_ms = clock_wall_ms();
		if (snprintf(a.home, sizeof a.home, "%s/%s", c.home_base, name) >= (int)sizeof a.home ||
		    snprintf(a.shell, sizeof a.shell, "%s/" ACCOUNT_SHELLS_DIR "/%s", c.home_base, name) >=
			    (int)sizeof a.shell)
			return err_set(e, ERR_TOO_BIG, "account paths too long");
		if ((rc = pw_lookup(&pw, name, e)))
			return rc;
		if (pw.exists)
			return err_set(e, ERR_CONFLICT, "user %s already exists and is not ours", name);
		if ((rc = cgroup_plan(&a.cg, c.cgroup_root, c.cgroup_name, a.name, e)))
			return rc;
		/* Intent first: from here on a crash leaves a state file to recover. */
		if ((rc = account_record_save(c.state_dir, &a, e)))
			return rc;
	} else {
		return rc;
	}
	err_clear(e);

	if ((rc = shell_write(&a, &c, e)))
		return rc;
	if ((rc = pw_ours(&pw, &a, e)))
		return rc;
	if (!pw.exists) {
		if (file_mkdir_p(c.home_base, 0755, 0755, NULL))
			return err_set(e, ERR_IO, "mkdir %s: %s", c.home_base, strerror(errno));
		if (rm_tree(a.home))
			return err_set(e, ERR_IO, "stale %s could not be removed", a.home);
		snprintf(gecos, sizeof gecos, GECOS_PREFIX "%s", a.rental_id);
		groups[0] = '\0';
		if (!c.enter_bin)
			gpu_groups(groups, sizeof groups);
		char *argv[] = { "useradd", "--create-home", "--home-dir", a.home, "--shell", a.shell,
				 "--comment", gecos, "--user-group", "--password", "*",
				 groups[0] ? "--groups" : NULL, groups, (char *)name, NULL };
		if (!groups[0]) {
			argv[11] = (char *)name;
			argv[12] = NULL;
		}
		if ((rc = tool(NULL, e, ok0, argv)))
			return rc;
		if ((rc = pw_ours(&pw, &a, e)))
			return rc;
		if (!pw.exists)
			return err_set(e, ERR_IO, "useradd %s: user not found afterwards", name);
	}
	if (a.uid != (long)pw.uid || a.gid != (long)pw.gid) {
		a.uid = (long)pw.uid;
		a.gid = (long)pw.gid;
		if ((rc = account_record_save(c.state_dir, &a, e)))
			return rc;
	}
	if ((rc = keys_write(&a, key, e)) || (rc = cg_ensure(&a, &c, e)))
		return rc;
	if (a.phase == ACCOUNT_CREATING) {
		a.phase = ACCOUNT_ACTIVE;
		if ((rc = login_lock(&a, false, e)) || (rc = account_record_save(c.state_dir, &a, e)))
			return rc;
	}
	*out = a;
	return 0;
}

/* ---- freeze / thaw / sweep ---- */

static int load_owned(struct account *a, struct acfg *c, const struct account_cfg *cfg,
		      const char *name, struct err *e)
{
	int rc;

	if ((rc = cfg_fill(c, cfg, e)))
		return rc;
	if (!name_ok(name))
		return err_set(e, ERR_INVALID, "account name '%.40s' is not one of ours",
			       name ? name : "");
	return account_record_load(a, c->state_dir, name, e);
}

static unsigned sweep(const struct account *a)
{
	struct move_arg m = { .a = a, .moved = 0 };

	if (a->uid >= UID_FLOOR && a->cg.count)
		uid_each_pid(a->uid, move_pid, &m);
	return m.moved;
}

int account_sweep(const struct account_cfg *cfg, const char *name, unsigned *moved,
		  struct err *e)
{
	struct account a;
	struct acfg c;
	int rc;

	if ((rc = load_owned(&a, &c, cfg, name, e)))
		return rc;
	unsigned n = sweep(&a);
	if (moved)
		*moved = n;
	return 0;
}

/* Re-asserts frozen (on) or active state; the state file already says which. */
static int apply_freeze(const struct account *a, const struct acfg *c, bool on, struct err *e)
{
	struct pw pw;
	int rc;

	if ((rc = pw_ours(&pw, a, e)))
		return rc;
	if (!pw.exists)
		return err_set(e, ERR_NOT_FOUND, "user %s is missing", a->name);
	if ((rc = cg_ensure(a, c, e)))
		return rc;
	if (on) {
		if ((rc = login_lock(a, true, e)))
			return rc;
		sweep(a);
		return cgroup_freeze(&a->cg, true, e);
	}
	if ((rc = cgroup_freeze(&a->cg, false, e)))
		return rc;
	return login_lock(a, false, e);
}

int account_freeze(const struct account_cfg *cfg, const char *name, struct err *e)
{
	struct account a;
	struct acfg c;
	int rc;

	if ((rc = load_owned(&a, &c, cfg, name, e)))
		return rc;
	if (a.phase != ACCOUNT_ACTIVE && a.phase != ACCOUNT_FROZEN)
		return err_set(e, ERR_STATE, "account %s is %s, cannot freeze", name,
			       account_phase_name(a.phase));
	if (a.phase != ACCOUNT_FROZEN) {
		a.phase = ACCOUNT_FROZEN;
		if ((rc = account_record_save(c.state_dir, &a, e)))
			return rc;
	}
	return apply_freeze(&a, &c, true, e);
}

int account_thaw(const struct account_cfg *cfg, const char *name, struct err *e)
{
	struct account a;
	struct acfg c;
	int rc;

	if ((rc = load_owned(&a, &c, cfg, name, e)))
		return rc;
	if (a.phase != ACCOUNT_ACTIVE && a.phase != ACCOUNT_FROZEN)
		return err_set(e, ERR_STATE, "account %s is %s, cannot thaw", name,
			       account_phase_name(a.phase));
	if (a.phase != ACCOUNT_ACTIVE) {
		a.phase = ACCOUNT_ACTIVE;
		if ((rc = account_record_save(c.state_dir, &a, e)))
			return rc;
	}
	return apply_freeze(&a, &c, false, e);
}

bool account_pid_alive(const struct account *a, long pid, bool *frozen)
{
	char st = pid > 1 ? proc_state(pid, NULL) : 0;

	if (frozen)
		*frozen = cgroup_holds(&a->cg, pid) && cgroup_is_frozen(&a->cg);
	return st && st != 'Z';
}

/* ---- teardown ---- */

/* Removes top-level entries of dir owned by uid (the user's temp files). */
static void rm_owned(const char *dir, long uid)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[ACCOUNT_PATH_MAX + 300];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || (long)st.st_uid != uid)
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		rm_tree(p);
	}
	closedir(d);
}

static int kill_all(const struct account *a, long uid, unsigned timeout_ms, struct err *e)
{
	uint64_t deadline = clock_mono_ms() + timeout_ms;

	for (;;) {
		unsigned live = 0;

		cgroup_freeze(&a->cg, true, NULL); /* no forks while we kill */
		cgroup_each_pid(&a->cg, kill_pid, NULL);
		uid_each_pid(uid, kill_pid, NULL);
		cgroup_freeze(&a->cg, false, NULL); /* SIGKILL lands once thawed */
		usleep(20000);
		cgroup_each_pid(&a->cg, count_live, &live);
		uid_each_pid(uid, count_live, &live);
		if (!live)
			return 0;
		if (clock_mono_ms() > deadline)
			return err_set(e, ERR_TIMEOUT, "account %s: %u processes still alive after %u ms",
				       a->name, live, timeout_ms);
	}
}

static int teardown(struct account *a, const struct acfg *c, struct err *e)
{
	static const int ok_del[] = { 0, 6, 12, -1 };
	char path[ACCOUNT_PATH_MAX + 64], want_home[ACCOUNT_PATH_MAX + 16];
	struct pw pw;
	long uid;
	int rc;

	if (a->phase != ACCOUNT_TEARING_DOWN) {
		a->phase = ACCOUNT_TEARING_DOWN;
		if ((rc = account_record_save(c->state_dir, a, e)))
			return rc;
	}
	if ((rc = pw_ours(&pw, a, e)))
		return rc;
	uid = pw.exists ? (long)pw.uid : a->uid;
	if (pw.exists && (rc = login_lock(a, true, e)))
		return rc;
	if ((rc = kill_all(a, uid, c->kill_timeout_ms, e)))
		return rc;
	if (uid >= UID_FLOOR) {
		rm_owned("/tmp", uid);
		rm_owned("/var/tmp", uid);
		rm_owned("/dev/shm", uid);
	}
	if (pw.exists) {
		char *argv[] = { "userdel", "--remove", a->name, NULL };
		if ((rc = tool(NULL, e, ok_del, argv)))
			return rc;
		if ((rc = pw_lookup(&pw, a->name, e)))
			return rc;
		if (pw.exists)
			return err_set(e, ERR_IO, "userdel %s: user still present", a->name);
	}
	snprintf(want_home, sizeof want_home, "%s/%s", c->home_base, a->name);
	if (!strcmp(a->home, want_home) && rm_tree(a->home))
		return err_set(e, ERR_IO, "remove %s: %s", a->home, strerror(errno));
	if ((rc = cgroup_remove(&a->cg, e)))
		return rc;
	if (unlink(a->shell) && errno != ENOENT)
		return err_set(e, ERR_IO, "unlink %s: %s", a->shell, strerror(errno));
	account_record_path(path, sizeof path, c->state_dir, a->name);
	if (unlink(path) && errno != ENOENT)
		return err_set(e, ERR_IO, "unlink %s: %s", path, strerror(errno));
	return 0;
}

int account_teardown(const struct account_cfg *cfg, const char *name, struct err *e)
{
	struct account a;
	struct acfg c;
	int rc = load_owned(&a, &c, cfg, name, e);

	if (rc == ERR_NOT_FOUND) {
		err_clear(e);
		return 0; /* already gone (or never ours) */
	}
	if (rc)
		return rc;
	rc = teardown(&a, &c, e);
	if (rc)
		err_wrap(e, "teardown %s", name);
	return rc;
}

/* ---- list / recover ---- */

int account_list(struct account **out, size_t *n, const struct account_cfg *cfg, struct err *e)
{
	char dir[ACCOUNT_PATH_MAX + 16];
	struct account *arr = NULL;
	size_t count = 0, cap = 0;
	struct dirent *de;
	struct acfg c;
	DIR *d;
	int rc;

	if ((rc = cfg_fill(&c, cfg, e)))
		return rc;
	snprintf(dir, sizeof dir, "%s/" ACCOUNT_RECORD_DIR, c.state_dir);
	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			return err_set(e, ERR_IO, "opendir %s: %s", dir, strerror(errno));
		*out = NULL;
		*n = 0;
		return 0;
	}
	while ((de = readdir(d))) {
		char name[ACCOUNT_NAME_LEN + 1];
		size_t l = strlen(de->d_name);

		if (l != ACCOUNT_NAME_LEN + 5 || strcmp(de->d_name + ACCOUNT_NAME_LEN, ".json"))
			continue;
		memcpy(name, de->d_name, ACCOUNT_NAME_LEN);
		name[ACCOUNT_NAME_LEN] = '\0';
		if (!name_ok(name))
			continue;
		if (count == ACCOUNT_LIST_MAX) {
			rc = err_set(e, ERR_TOO_BIG, "more than %d accounts", ACCOUNT_LIST_MAX);
			break;
		}
		if (count == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct account *na = realloc(arr, nc * sizeof *arr);
			if (!na) {
				rc = err_set(e, ERR_NOMEM, "account list: out of memory");
				break;
			}
			arr = na;
			cap = nc;
		}
		if ((rc = account_record_load(&arr[count], c.state_dir, name, e)))
			break;
		count++;
	}
	closedir(d);
	if (rc) {
		free(arr);
		return rc;
	}
	*out = arr;
	*n = count;
	return 0;
}

int account_recover(struct account_recovery *rep, const struct account_cfg *cfg,
		    struct err *e)
{
	struct account_recovery r = { 0 };
	struct account *list = NULL;
	struct acfg c;
	size_t n = 0;
	int first = 0, rc;

	if ((rc = cfg_fill(&c, cfg, e)) || (rc = account_list(&list, &n, cfg, e)))
		return rc;
	for (size_t i = 0; i < n; i++) {
		struct account *a = &list[i];
		struct err one = { 0 };

		switch (a->phase) {
		case ACCOUNT_CREATING:
			rc = teardown(a, &c, &one);
			r.rolled_back += !rc;
			break;
		case ACCOUNT_TEARING_DOWN:
			rc = teardown(a, &c, &one);
			r.torn_down += !rc;
			break;
		default:
			rc = apply_freeze(a, &c, a->phase == ACCOUNT_FROZEN, &one);
			r.restored += !rc;
			break;
		}
		if (rc) {
			r.failed++;
			if (!first) {
				first = rc;
				err_set(e, rc, "recover %s: %s", a->name, one.msg);
			}
		}
	}
	free(list);
	if (rep)
		*rep = r;
	return first;
}
