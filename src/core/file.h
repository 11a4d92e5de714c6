/*
 * file.h — reading a whole file into a capped buffer: the one place that
 * knows how, so every config, keystore, artifact and spec file is read the
 * same way and none can make us allocate past its cap.
 */
#ifndef FLOP_CORE_FILE_H
#define FLOP_CORE_FILE_H

#include "core/buf.h"

struct err;

/*
 * Appends the contents of `path` to `out`, within out->max. ERR_NOT_FOUND when
 * the file does not exist, ERR_TOO_BIG past the cap, ERR_IO for any other
 * failure (a directory, no permission); each message names the path. On
 * failure `out` holds what it held before.
 */
int file_read(struct buf *out, const char *path, struct err *e);

#endif
