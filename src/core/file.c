/*
 * file.c — whole-file reads into a capped buffer, atomic writes, mkdir -p (see file.h).
 */
#include "core/file.h"

#include "core/err.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read(struct buf *out, const char *path, struct err *e)
{
	FILE *f = fopen(path, "rb");
	size_t before = out->len, n;
	char chunk[8192];
	int rc = 0;

	if (!f)
		return err_set(e, errno == ENOENT ? ERR_NOT_FOUND : ERR_IO, "%s: %s", path, strerror(errno));
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if ((rc = buf_append(out, chunk, n)) == ERR_TOO_BIG)
			err_set(e, rc, "%s: larger than %zu bytes", path, out->max - before);
		else if (rc)
			err_set(e, rc, "%s: out of memory", path);
	}
	if (!rc && ferror(f))
		rc = err_set(e, ERR_IO, "%s: %s", path, strerror(errno ? errno : EIO));
	fclose(f);
	if (rc) {
		out->len = before;
		if (out->data)
			out->data[before] = '\0';
	}
	return rc;
}

#define FILE_PATH_MAX 4096

int file_write_atomic(const char *path, const void *data, size_t n, unsigned mode, struct err *e)
{
	char tmp[FILE_PATH_MAX + 32], dir[FILE_PATH_MAX];
	const char *slash;
	int fd, er;

	if (!path || strlen(path) >= FILE_PATH_MAX)
		return err_set(e, ERR_TOO_BIG, "file path too long");
	snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
	if (fd < 0)
		return err_set(e, ERR_IO, "open %s: %s", tmp, strerror(errno));
	if ((n && write(fd, data, n) != (ssize_t)n) || fchmod(fd, (mode_t)mode) || fsync(fd)) {
		er = errno;
		close(fd);
		unlink(tmp);
		return err_set(e, ERR_IO, "write %s: %s", tmp, strerror(er));
	}
	if (close(fd) || rename(tmp, path)) {
		er = errno;
		unlink(tmp);
		return err_set(e, ERR_IO, "rename to %s: %s", path, strerror(er));
	}
	slash = strrchr(path, '/');
	if (slash && slash != path) {
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}

int file_mkdir_p(const char *path, unsigned parents_mode, unsigned mode, struct err *e)
{
	char tmp[FILE_PATH_MAX];
	int er;

	if (!path || !*path || strlen(path) >= sizeof tmp)
		return err_set(e, ERR_TOO_BIG, "directory path empty or too long");
	strcpy(tmp, path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, (mode_t)parents_mode) && errno != EEXIST) {
			er = errno;
			err_set(e, ERR_IO, "mkdir %s: %s", tmp, strerror(er));
			errno = er;
			return ERR_IO;
		}
		*p = '/';
	}
	if (mkdir(tmp, (mode_t)mode) && errno != EEXIST) {
		er = errno;
		err_set(e, ERR_IO, "mkdir %s: %s", tmp, strerror(er));
		errno = er;
		return ERR_IO;
	}
	return 0;
}

int file_write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(s);
	ssize_t w;

	if (fd < 0)
		return ERR_IO;
	w = write(fd, s, n);
	close(fd);
	return w == (ssize_t)n ? 0 : ERR_IO;
}

int file_read_str(char *dst, size_t cap, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (cap == 0 || fd < 0) {
		if (fd >= 0)
			close(fd);
		return ERR_IO;
	}
	r = read(fd, dst, cap - 1);
	close(fd);
	if (r < 0)
		return ERR_IO;
	dst[r] = '\0';
	return 0;
}

bool file_path_plain(const char *p, size_t max)
{
	if (!p || p[0] != '/' || strlen(p) >= max || strstr(p, ".."))
		return false;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_./-", *p))
			return false;
	return true;
}
