/*
 * file.c — whole-file reads into a capped buffer (see file.h).
 */
#include "core/file.h"
#include "core/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
