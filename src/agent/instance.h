/*
 * instance.h — a rental as an isolated instance: a container started from an image, root inside, nothing
 * of the host visible, driven through podman's CLI (an argv, never a shell; every call with a deadline,
 * through core/proc.h).
 *
 * An instance gets its own PID, mount, UTS, IPC, user and network namespaces:
 *  - user: container uid/gid 0..65535 map to 65536 host ids of its own (instance_uid_base), so root inside
 *    is an unprivileged nobody on the host and two instances never share an id;
 *  - network: a podman network of its own, created with `isolate=true`, whose bridge the agent's nftables
 *    guard (netguard.h) keeps away from the host's addresses, private ranges and other instances;
 *  - its own /tmp and /dev/shm (its writable layer), the limits given (memory with no swap on top, pids,
 *    CPUs), the devices given (the rented GPUs' /dev/nvidia* nodes, or a CDI name), an optional volume
 *    (volume.h) at /workspace, and labels naming the rental and the agent, so an agent restarted after
 *    kill -9 finds its instances again (instance_list).
 * PID 1 is podman's init (catatonit, `--init`) over `sleep infinity` from the image, so orphans are reaped.
 *
 * Freeze and thaw are `podman pause` / `unpause` (the cgroup freezer: processes stop, files stay); teardown
 * removes the container and its network. Every call is idempotent where the lifecycle needs it to be:
 * creating an instance that runs, pausing a paused one, removing a missing one all return 0.
 *
 * podman reads the containers.conf named by CONTAINERS_CONF, which the agent sets at start from
 * `--containers-conf` (hosts whose runtime needs `runc`, `cgroupfs` and `default_ulimits = []`).
 */
#ifndef FLOP_AGENT_INSTANCE_H
#define FLOP_AGENT_INSTANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct err;

#define INSTANCE_NAME_MAX 63
#define INSTANCE_REF_MAX 255          /* an image reference: "localhost/flop-base:1", "docker.io/x@sha256:..." */
#define INSTANCE_DEVICES_MAX 16
#define INSTANCE_DNS_MAX 3
#define INSTANCE_ENV_MAX 32           /* launch environment variables */
#define INSTANCE_TIMEOUT_MS 60000     /* every podman call but a pull */
#define INSTANCE_PULL_TIMEOUT_MS 1800000
#define INSTANCE_IDS 65536            /* uids (and gids) each instance maps */
#define INSTANCE_ID_FLOOR 0x80000000u /* host ids of instances start here */
#define INSTANCE_WORKSPACE "/workspace"
#define INSTANCE_JUPYTER_DIR "/run/flopmarket-jupyter" /* where a rental's notebook server puts its socket */

/* What an instance is made of. */
struct instance_spec {
	const char *name;             /* container, network and hostname: instance_name_ok */
	const char *image;            /* a reference the host has (instance_image_ensure) */
	const char *rental;           /* label flopmarket.rental=<this> */
	const char *agent;            /* label flopmarket.agent=<this>: whose instances instance_list returns */
	uint32_t uid_base;            /* host id of root inside (instance_uid_base) */
	uint64_t memory_bytes;        /* 0: no limit */
	uint64_t pids_max;            /* 0: podman's default */
	unsigned cpus_milli;          /* CPUs × 1000; 0: no limit */
	const char *devices[INSTANCE_DEVICES_MAX + 1]; /* host device nodes or CDI names, NULL-terminated */
	const char *dns[INSTANCE_DNS_MAX + 1];         /* resolvers for the instance, NULL-terminated; none: podman's */
	const char *env[INSTANCE_ENV_MAX + 1];         /* "NAME=value" launch environment, NULL-terminated */
	const char *volume_dir;       /* host directory mounted at INSTANCE_WORKSPACE; NULL: none */
	const char *jupyter_dir;      /* host directory mounted at INSTANCE_JUPYTER_DIR (the notebook's socket); NULL: none */
};

/* True when name is a valid instance name: [a-z0-9][a-z0-9_.-]{0,62}. */
bool instance_name_ok(const char *name);

/* True when ref is a plausible image reference (printable, no spaces or shell metacharacters, capped). */
bool instance_ref_ok(const char *ref);

/*
 * The host id root of an instance maps to, from the rental account's uid: INSTANCE_ID_FLOOR +
 * ((uid - 1000) mod 32767) * INSTANCE_IDS, so live accounts (distinct uids) get distinct ranges.
 */
uint32_t instance_uid_base(long account_uid);

/* True when podman can be run here (`podman version` answers); *why gets the reason when not. */
bool instance_available(char *why, size_t cap);

/* Whether the host has image ref (0 / ERR_NOT_FOUND). */
int instance_image_exists(const char *ref, struct err *e);

/* Makes sure the host has image ref: present, or pulled (with INSTANCE_PULL_TIMEOUT_MS). */
int instance_image_ensure(const char *ref, struct err *e);

/* Imports a root filesystem tarball as image ref (tests and the demo build theirs offline). */
int instance_image_import(const char *tar_path, const char *ref, struct err *e);

/*
 * Creates the instance's network (if missing) and starts the instance (if it is not there); starts it
 * again when it exists but has stopped. *bridge (cap bytes; may be NULL) gets the network's bridge
 * interface, for the guard. ERR_INVALID naming the field for a bad spec.
 */
int instance_create(const struct instance_spec *s, char *bridge, size_t cap, struct err *e);

/* The bridge interface of the instance's network into out. ERR_NOT_FOUND when there is no network. */
int instance_bridge(const char *name, char *out, size_t cap, struct err *e);

/*
 * Starts cmd inside running instance `name` and returns at once (`podman exec --detach`): its environment
 * from env_file (a file only root reads; NULL: none), from workdir (NULL: the image's). For servers the
 * instance keeps running, such as a rental's notebook. ERR_NOT_FOUND / ERR_STATE as instance_exec.
 */
int instance_exec_detached(const char *name, const char *env_file, const char *workdir, char *const cmd[],
			   struct err *e);

/*
 * Runs cmd (argv) inside the instance as root with stdin from /dev/null; out (may be NULL) gets stdout
 * and stderr, *status the exit status. ERR_NOT_FOUND when there is no such instance.
 */
int instance_exec(const char *name, char *const cmd[], struct buf *out, int *status, unsigned timeout_ms,
		  struct err *e);

/*
 * The argv that enters the instance for a session (NULL-terminated, into argv, at most 16 entries,
 * pointing into the strings given): `podman exec -i [-t] -e TERM=<term> -w <workdir> <name> /bin/sh ...`,
 * a login shell (bash when the image has it) when cmd is NULL, else `/bin/sh -c cmd`. workdir NULL: /root.
 */
int instance_enter_argv(char *argv[16], const char *name, bool tty, const char *term_env, const char *cmd,
			const char *workdir, struct err *e);

/* Freezes (podman pause) / thaws (unpause) every process of the instance. Idempotent. */
int instance_pause(const char *name, struct err *e);
int instance_unpause(const char *name, struct err *e);

/* Removes the instance (killing what runs in it) and its network. No such instance is not an error. */
int instance_remove(const char *name, struct err *e);

/* The instance's state into out ("running", "paused", "exited", ...). ERR_NOT_FOUND when there is none. */
int instance_state(const char *name, char *out, size_t cap, struct err *e);

/* The instance's address on its network into out ("10.89.1.2"). */
int instance_address(const char *name, char *out, size_t cap, struct err *e);

/*
 * Names of the instances labelled flopmarket.agent=<agent>, as one malloc'd string of NUL-terminated
 * names (*out, *n names; free it). At most 4096.
 */
int instance_list(char **out, size_t *n, const char *agent, struct err *e);

#endif
