/*
 * volume.c — capped instance volumes: sparse image, mkfs.ext4, loop mount (see volume.h).
 */
#include "agent/volume.h"

#include "core/buf.h"
#include "core/err.h"
#include "core/file.h"
#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOOL_TIMEOUT_MS 120000
#define PATH_CAP 320

static int tool(const char *what, char *const argv[], struct err *e)
{
	struct buf out;
	int st = 0, rc;

	buf_init(&out, 4096);
	rc = proc_run(&out, &st, argv, TOOL_TIMEOUT_MS, e);
	if (!rc && st != 0)
		rc = err_set(e, ERR_IO, "volume: %s exit %d: %.300s", what, st, buf_cstr(&out));
	buf_release(&out);
	return rc;
}

static bool name_ok(const char *n)
{
	size_t k = n ? strlen(n) : 0;

	if (k == 0 || k > 63 || n[0] == '.')
		return false;
	for (size_t i = 0; i < k; i++)
		if (!(n[i] >= 'a' && n[i] <= 'z') && !(n[i] >= '0' && n[i] <= '9') && !strchr("_.-", n[i]))
			return false;
	return true;
}

/* True when dir is a mount point of its own (another device than its parent). */
static bool mounted(const char *dir, const char *base)
{
	struct stat d, b;

	return stat(dir, &d) == 0 && stat(base, &b) == 0 && d.st_dev != b.st_dev;
}

static int paths(char img[PATH_CAP], char dir[PATH_CAP], const char *base, const char *name, struct err *e)
{
	if (!name_ok(name) || !base || !file_path_plain(base, 200))
		return err_set(e, ERR_INVALID, "volume: bad base or name");
	snprintf(img, PATH_CAP, "%s/%s.img", base, name);
	snprintf(dir, PATH_CAP, "%s/%s", base, name);
	return 0;
}

/* A sparse file of `bytes`, formatted, unless the image is there already. */
static int image_make(const char *img, uint64_t bytes, uint32_t owner_id, struct err *e)
{
	char owner[64], tmp[PATH_CAP + 8];
	char *mkfs[] = { "mkfs.ext4", "-q", "-F", "-m", "0", "-E", owner, tmp, NULL };
	int fd, rc;

	if (access(img, F_OK) == 0)
		return 0;
	snprintf(tmp, sizeof tmp, "%s.tmp", img);
	snprintf(owner, sizeof owner, "root_owner=%" PRIu32 ":%" PRIu32 ",lazy_itable_init=1", owner_id, owner_id);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) {
		rc = err_set(e, ERR_IO, "volume: %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return rc;
	}
	close(fd);
	if ((rc = tool("mkfs.ext4", mkfs, e))) {
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, img) != 0) {
		rc = err_set(e, ERR_IO, "volume: rename %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return rc;
	}
	return 0;
}

int volume_create(char *out, size_t cap, const char *base, const char *name, uint64_t bytes, uint32_t owner_id,
		  struct err *e)
{
	char img[PATH_CAP], dir[PATH_CAP];
	char *mount_argv[] = { "mount", "-o", "loop,nosuid,nodev", img, dir, NULL };
	int rc;

	if ((rc = paths(img, dir, base, name, e)))
		return rc;
	if (bytes < VOLUME_MIN_BYTES)
		return err_set(e, ERR_RANGE, "volume: %" PRIu64 " bytes is under the %" PRIu64 " minimum", bytes,
			       VOLUME_MIN_BYTES);
	if (strlen(dir) >= cap)
		return err_set(e, ERR_TOO_BIG, "volume: path too long");
	if (file_mkdir_p(base, 0700, 0700, e) || (mkdir(dir, 0700) && errno != EEXIST))
		return err_set(e, ERR_IO, "volume: mkdir %s: %s", dir, strerror(errno));
	if (!mounted(dir, base)) {
		if ((rc = image_make(img, bytes, owner_id, e)) || (rc = tool("mount", mount_argv, e)))
			return rc;
	}
	/* the mount's root is the instance's root's; the directory above stays root's and 0700 */
	snprintf(out, cap, "%s", dir);
	return 0;
}

int volume_remove(const char *base, const char *name, struct err *e)
{
	char img[PATH_CAP], dir[PATH_CAP];
	int rc;

	if ((rc = paths(img, dir, base, name, e)))
		return rc;
	for (int i = 0; i < 3 && mounted(dir, base); i++)
		if (umount2(dir, i < 2 ? 0 : MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT && i < 2)
			usleep(200 * 1000);
	if (mounted(dir, base))
		return err_set(e, ERR_IO, "volume: %s is still mounted: %s", dir, strerror(errno));
	if (rmdir(dir) != 0 && errno != ENOENT)
		return err_set(e, ERR_IO, "volume: rmdir %s: %s", dir, strerror(errno));
	if (unlink(img) != 0 && errno != ENOENT)
		return err_set(e, ERR_IO, "volume: unlink %s: %s", img, strerror(errno));
	return 0;
}
