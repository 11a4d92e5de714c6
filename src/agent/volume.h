/*
 * volume.h — an instance's storage with a hard size cap: a sparse image file in the agent's rental disk area
 * (<base>/<name>.img), formatted ext4 with its root directory owned by the instance's root (its mapped host
 * id), loop-mounted nosuid,nodev at <base>/<name>/ and bind-mounted into the instance (instance.h). The cap
 * is the file system's size: a renter who fills it gets ENOSPC, never the host's disk. Wiped at teardown:
 * unmounted, the image deleted. Idempotent: creating a mounted volume, or removing a missing one, is 0; a
 * volume whose image exists but is not mounted (after a reboot) is mounted again. Needs root, mkfs.ext4
 * (e2fsprogs) and loop devices.
 */
#ifndef FLOP_AGENT_VOLUME_H
#define FLOP_AGENT_VOLUME_H

#include <stddef.h>
#include <stdint.h>

struct err;

#define VOLUME_MIN_BYTES ((uint64_t)16 << 20)

/*
 * Makes (or re-mounts) volume `name` of `bytes` under base with its root owned by owner_id, and writes its
 * mount directory into dir. ERR_RANGE under VOLUME_MIN_BYTES; ERR_IO naming the step that failed.
 */
int volume_create(char *dir, size_t cap, const char *base, const char *name, uint64_t bytes, uint32_t owner_id,
		  struct err *e);

/* Unmounts and deletes volume `name` under base. A missing one is not an error. */
int volume_remove(const char *base, const char *name, struct err *e);

#endif
