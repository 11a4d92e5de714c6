/*
 * account.h — one Unix account per rental on the provider's host.
 *
 * For a rental the agent creates a user named ACCOUNT_PREFIX + 10 hex chars
 * of keccak256(rental id) with a private home under cfg.home_base, the
 * renter's SSH public key in ~/.ssh/authorized_keys, resource limits in a
 * cgroup of its own (memory, pids, cpu weight; cgroup v1 controllers
 * memory/pids/cpu/freezer, or the v2 unified tree) and access to the GPU
 * device nodes. At runout it is frozen (processes stopped, files kept,
 * logins refused); an extend thaws it; at the end it is torn down (every
 * process killed, user, home, temp files and cgroups removed).
 *
 * How sessions land in the cgroup: the account's login shell is a small
 * per-account script (<state_dir>/shells/<name>) that writes its own pid
 * into the rental's cgroup.procs files (chowned to the user; cgroup v1
 * lets a process move itself then) before it execs /bin/bash, so everything
 * sshd starts for the user — interactive shells, `ssh host cmd`, sftp —
 * runs inside the limits. On v1 a shell that cannot join refuses the login
 * (fail closed). On v2 an unprivileged process may not move itself across
 * the tree, so there the script tries and account_sweep (called before
 * every freeze and teardown, and by the agent on a timer) moves any process
 * of the user's uid into the cgroup as root.
 *
 * Crash safety: a state file <state_dir>/accounts/<name>.json (written to
 * a temp file, fsynced, renamed) records the phase BEFORE each step acts:
 * creating -> active <-> frozen -> tearing_down -> (file removed last).
 * Every step is idempotent, so account_recover after a kill -9 re-applies
 * the recorded phase: a half-created account is rolled back, a half torn
 * down one is finished, an active or frozen one gets its cgroups, lock and
 * freezer state re-asserted (cgroups do not survive a reboot).
 *
 * Never touches other users: it acts only on names with ACCOUNT_PREFIX that
 * have a state file, refuses to adopt an existing user it did not create
 * (the GECOS field must read "flopmarket rental <id>"), and never kills by
 * a uid below 1000. Every function here needs root.
 */
#ifndef FLOP_AGENT_ACCOUNT_H
#define FLOP_AGENT_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/account_record.h"
#include "agent/sshkey.h"
#include "eth/address.h"

struct err;

#define ACCOUNT_SHELLS_DIR ".flopmarket-shells" /* under home_base: the login shell scripts */
#define ACCOUNT_SSH_KEY_MAX SSHKEY_LINE_MAX /* bytes of an authorized_keys line (sshkey.h) */
#define ACCOUNT_LIST_MAX 4096          /* accounts account_list returns at most */

/* Host-wide settings; NULL / 0 fields take the defaults shown. */
struct account_cfg {
	const char *state_dir;     /* "/var/lib/flopmarket/agent" */
	const char *home_base;     /* "/home/flopmarket" (must not be group/world writable) */
	const char *cgroup_root;   /* "/sys/fs/cgroup" (v2 if it is a cgroup2 mount, else v1) */
	const char *cgroup_name;   /* "flopmarket": parent under the agent's own cgroup */
	uint64_t memory_max_bytes; /* per account; 0: no memory limit */
	uint64_t pids_max;         /* per account; 0: no pids limit */
	unsigned cpu_weight;       /* v1 cpu.shares (2..262144), v2 cpu.weight (1..10000); 0: leave */
	unsigned kill_timeout_ms;  /* how long teardown waits for processes to die; 0: 10000 */
	/* Instances (instances.h): both set, the login shell runs `<enter_bin> enter --socket <enter_socket>`,
	 * which enters the rental's instance (enter.h), instead of bash on the host; the account then joins no
	 * GPU group (the instance gets the GPUs). Plain absolute paths. */
	const char *enter_bin;
	const char *enter_socket;
};

/* Outcome of account_recover. */
struct account_recovery {
	unsigned rolled_back;      /* half-created accounts removed */
	unsigned torn_down;        /* half torn-down accounts finished */
	unsigned restored;         /* active/frozen accounts re-asserted */
	unsigned failed;           /* accounts whose recovery failed (left for a retry) */
};

/*
 * Writes the account name for a rental id (1..ACCOUNT_RENTAL_ID_MAX bytes of
 * [0-9A-Za-z._-], case-insensitive) into name13: "fm" + the first 10 hex
 * chars of keccak256 of the lowercased id. ERR_INVALID / ERR_TOO_BIG.
 */
int account_name_for_rental(char name13[ACCOUNT_NAME_LEN + 1], const char *rental_id,
			    struct err *e);

/*
 * The rental id an agent gives account_create / account_name_for_rental:
 * "<chainId>.<escrow as 40 lowercase hex>.<instance>.<rental id>", where `instance` is the agent's own
 * random id (1..32 lowercase hex, made once per state directory), so that two agents on one host never
 * share an account name, whatever chain, escrow or provider they serve. ERR_INVALID for a bad instance.
 */
#define ACCOUNT_INSTANCE_MAX 32
int account_rental_scope(char *out, size_t cap, uint64_t chain_id, const struct eth_address *escrow,
			 const char *instance, uint64_t rental_id, struct err *e);

/*
 * Creates (or finishes creating) the account for a rental and writes it to
 * *out. Idempotent: for an account already active or frozen it returns the
 * recorded one (authorized_keys re-written with this key). ERR_INVALID for a
 * bad id or key (nothing created), ERR_CONFLICT when a user of that name
 * exists that is not ours or the state file names another rental,
 * ERR_STATE while it is being torn down, ERR_IO when a system tool fails.
 * On failure after the state file was written the half-made account is left
 * in phase creating for account_recover (or a retry) to clean up.
 */
int account_create(struct account *out, const struct account_cfg *cfg, const char *rental_id,
		   const char *ssh_pubkey, struct err *e);

/* Reads the state file of `name` into *out. ERR_NOT_FOUND when none. */
int account_load(struct account *out, const struct account_cfg *cfg, const char *name,
		 struct err *e);

/*
 * Runout: refuses new logins (account locked and expired), moves strays
 * into the cgroup, freezes every process of the account. Files stay.
 * Idempotent; ERR_STATE when creating or tearing down.
 */
int account_freeze(const struct account_cfg *cfg, const char *name, struct err *e);

/* Undoes account_freeze: thaws the processes, allows logins again. Idempotent. */
int account_thaw(const struct account_cfg *cfg, const char *name, struct err *e);

/*
 * Moves every process of the account's uid that is not in its cgroups into
 * them; *moved (optional) gets how many. Safe to call any time.
 */
int account_sweep(const struct account_cfg *cfg, const char *name, unsigned *moved,
		  struct err *e);

/*
 * Removes everything: refuses logins, freezes, SIGKILLs every process in the
 * cgroup and of the uid, thaws, waits until none is left (ERR_TIMEOUT after
 * kill_timeout_ms, state kept for a retry), removes the user's files in
 * /tmp, /var/tmp and /dev/shm, `userdel --remove`, the home, the cgroups,
 * the login shell script and finally the state file. Idempotent: an account
 * with no state file is "already gone" and returns 0.
 */
int account_teardown(const struct account_cfg *cfg, const char *name, struct err *e);

/*
 * Lists the accounts this agent owns: names with ACCOUNT_PREFIX that have a
 * state file. *out is a malloc'd array the caller frees (NULL when *n is 0).
 */
int account_list(struct account **out, size_t *n, const struct account_cfg *cfg,
		 struct err *e);

/*
 * After a restart: brings every owned account to a consistent state (see
 * the file comment). rep (optional) gets the counts. Returns the first
 * error met, after trying every account.
 */
int account_recover(struct account_recovery *rep, const struct account_cfg *cfg,
		    struct err *e);

/*
 * True when `pid` is a live (not zombie) process. *frozen (optional) gets
 * whether it is in a frozen cgroup of `a` right now. For tests and status.
 */
bool account_pid_alive(const struct account *a, long pid, bool *frozen);

#endif
