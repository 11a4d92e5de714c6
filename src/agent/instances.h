/*
 * instances.h — the agent's rental instances (`--isolation container`): what the lifecycle calls to give a
 * rental account its instance, freeze, thaw and remove it, on top of instance.h (podman), netguard.h (the
 * network guard), volume.h (capped storage) and enter.h (logins entering the instance).
 *
 * At start (instances_start): podman's configuration (CONTAINERS_CONF), podman and nft present, every
 * allowed image on the host (pulled when missing), the guard applied, the enter client installed where
 * rental accounts can run it (<home_base>/.flopmarket-shells/flopmarket-enter, a copy of this binary, root's,
 * 0755) and the enter broker listening beside it. The account settings get the login shell that enters.
 *
 * Per rental (the instance's name is the rental account's name): instances_ensure makes the volume, the
 * network and the container from the image the renter chose (or the first allowed), adds its bridge to the
 * guard; idempotent, and it re-creates an instance that vanished (a reboot). Freeze = podman pause, thaw =
 * unpause; remove = container, network, guard entry and volume.
 */
#ifndef FLOP_AGENT_INSTANCES_H
#define FLOP_AGENT_INSTANCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/account.h"
#include "agent/instance.h"

struct err;

#define INSTANCES_IMAGES_MAX 16
#define INSTANCES_IMAGE_NAME_MAX 32   /* what renters choose: [a-z0-9][a-z0-9._-]{0,31} */
#define INSTANCES_ENTER_BIN "flopmarket-enter"

/* An image a provider allows: the short name renters pick, and the reference podman runs. */
struct instances_image {
	const char *name;
	const char *ref;
};

struct instances_cfg {
	struct instances_image images[INSTANCES_IMAGES_MAX]; /* the first is the default */
	size_t n_images;
	const char *containers_conf;  /* CONTAINERS_CONF for podman; NULL: podman's own */
	const char *dns[INSTANCE_DNS_MAX + 1]; /* resolvers the instances use (and may reach); none: 1.1.1.1, 8.8.8.8 */
	uint64_t disk_bytes;          /* the /workspace volume's cap; 0: no volume */
	unsigned cpus_milli;          /* CPUs × 1000 per instance; 0: no cap */
	const char *self_exe;         /* this program (copied as the enter client); NULL: /proc/self/exe */
	const char *jupyter_run_dir;  /* host dirs of the notebooks' sockets, one per instance; NULL: /run/flopmarket/jupyter */
};

struct instances;

/* True when name is a valid image name. */
bool instances_image_name_ok(const char *name);

/*
 * Parses "NAME=REF" (a provider's --image) into img (pointing into s, which is modified). ERR_INVALID naming
 * the part that is wrong.
 */
int instances_image_parse(struct instances_image *img, char *s, struct err *e);

/*
 * Sets up instances (see the file comment) for agent `agent_id` (1..32 hex) with account settings *acct,
 * whose login shell fields it fills; state_dir holds the guard script and the volumes.
 */
int instances_start(struct instances **out, const struct instances_cfg *cfg, const char *agent_id,
		    struct account_cfg *acct, const char *state_dir, struct err *e);

/* Whether image `i` of the configuration has a Jupyter program (probed at start). */
bool instances_image_jupyter(const struct instances *in, size_t i);

/*
 * Starts the rental's notebook server inside instance `name` (account uid account_uid), detached, as root
 * there: jupyter-notebook (else jupyter-server) of the image, on the socket INSTANCE_JUPYTER_DIR/jupyter.sock
 * (0600) under base_url, wanting `token` (given through an env file only root reads, removed after), from
 * /workspace when there is one, else /root. Writes the socket's host path into sock, the host uid the
 * socket's peer must be (root inside's) into *peer_uid, and whether it is the classic notebook into
 * *classic. ERR_NOT_FOUND when the image has no Jupyter program, ERR_STATE when the instance predates
 * the socket mount or is not running.
 */
int instances_jupyter_start(struct instances *in, const char *name, long account_uid, const char *token,
			    const char *base_url, char *sock, size_t cap, long *peer_uid, bool *classic, struct err *e);

void instances_stop(struct instances *in);

/* What the listing shows: [{"name": ..., "ref": ...}, ...] (new reference), the default first. */
struct json_t;
struct json_t *instances_images_json(const struct instances *in);

/* The reference of image `name` (NULL: the default) into *ref; ERR_NOT_FOUND naming the allowed ones. */
int instances_image_ref(const struct instances *in, const char *name, const char **ref, struct err *e);

/* Gives account acc its instance, from image `image` (NULL: the default). Idempotent. */
int instances_ensure(struct instances *in, const struct account *acc, const char *image, struct err *e);

/*
 * Where the browser's file transfer reads and writes for account `name` (uid account_uid): the host
 * directory of its /workspace volume into dir, and the ids of root inside (*uid, *gid). ERR_NOT_FOUND
 * when instances get no volume (--instance-disk-mib) or it is not mounted.
 */
int instances_files_root(struct instances *in, const char *name, long account_uid, char *dir, size_t cap,
			 unsigned *uid, unsigned *gid, struct err *e);

/* Freezes / thaws the instance of account `name`. A missing instance is ERR_NOT_FOUND. */
int instances_freeze(struct instances *in, const char *name, struct err *e);
int instances_thaw(struct instances *in, const char *name, struct err *e);

/* Removes the instance of account `name`, its network, guard entry and volume. Missing is not an error. */
int instances_remove(struct instances *in, const char *name, struct err *e);

/*
 * Removes every instance of this agent whose name live(name, arg) rejects (the agent's restart reconcile);
 * returns how many.
 */
unsigned instances_reconcile(struct instances *in, bool (*live)(const char *name, void *arg), void *arg);

#endif
