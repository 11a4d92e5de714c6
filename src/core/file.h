/*
 * file.h — small whole files: reading one into a capped buffer, writing one atomically, making a
 * directory with its parents. The one place that knows how, so every config, keystore, artifact, spec,
 * state and token file is read and written the same way (none can make us allocate past its cap; a crash
 * never leaves half a file).
 */
#ifndef FLOP_CORE_FILE_H
#define FLOP_CORE_FILE_H

#include "core/buf.h"

#include <stdbool.h>

struct err;

/*
 * Appends the contents of `path` to `out`, within out->max. ERR_NOT_FOUND when
 * the file does not exist, ERR_TOO_BIG past the cap, ERR_IO for any other
 * failure (a directory, no permission); each message names the path. On
 * failure `out` holds what it held before.
 */
int file_read(struct buf *out, const char *path, struct err *e);

/*
 * Writes n bytes to `path` atomically with `mode`: a temporary file beside it (O_NOFOLLOW, made with
 * `mode`, fsync), rename over `path`, fsync of the directory. On failure the old file (if any) is left as
 * it was and the temporary one is removed; ERR_IO / ERR_TOO_BIG (path too long) naming the path.
 */
int file_write_atomic(const char *path, const void *data, size_t n, unsigned mode, struct err *e);

/*
 * mkdir -p: makes `path` with `mode` and its missing parents with `parents_mode` (an existing directory
 * is fine; its mode is not changed). ERR_IO naming the component that failed (errno kept).
 */
int file_mkdir_p(const char *path, unsigned parents_mode, unsigned mode, struct err *e);

/*
 * Writes the string s to an existing file in one write(2) (no create, no truncate, no rename): for
 * kernel files (cgroupfs, /proc). 0, or ERR_IO with errno set.
 */
int file_write_str(const char *path, const char *s);
/* Reads at most cap-1 bytes of a small file (a kernel file) into dst, NUL-terminated. 0 or ERR_IO. */
int file_read_str(char *dst, size_t cap, const char *path);
/* Absolute, only [A-Za-z0-9_./-], no "..", shorter than max: a path safe to build on and to record. */
bool file_path_plain(const char *p, size_t max);

#endif
