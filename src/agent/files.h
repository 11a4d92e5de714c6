/*
 * files.h — file transfer into and out of a rental's home, for the browser (issue 11): the renter
 * uploads with a drag and drop and downloads what a job wrote, without an ssh client.
 *
 *   PUT /files/{rental}?path=<relative path>&challenge=<32 hex>&sig=0x<130 hex>   (body: the file)
 *     -> 201 {"path", "size", "sha256"}
 *   GET /files/{rental}?path=<relative path>&challenge=<32 hex>&sig=0x<130 hex>
 *     -> 200 the file (application/octet-stream, Content-Disposition: attachment)
 *
 * Auth is the browser terminal's (terminal_authorize): a single-use challenge from
 * GET /terminal/{rental}/challenge signed by the renter on chain, the rental active, the account this
 * agent made. Paths are relative to the account's home: 1..FILES_PATH_MAX bytes, at most
 * FILES_DEPTH_MAX components, none empty, "." or "..", no control characters; they are resolved with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) from the
 * home, so no symlink, mount or ".." leads out of it. An upload goes to a hidden temporary file in the
 * destination's folder (which must exist and belong to the account), owned by the account, and is
 * renamed over the destination only once complete: a cut transfer leaves nothing behind. A download
 * must be a regular file owned by the account (a hard link to someone else's file is refused).
 * Sizes: uploads and downloads up to max_bytes (--files-max-bytes, default 4 GiB); an upload whose
 * Content-Length is over it, or over the free space of the home's filesystem, is refused before any
 * byte is read (413 too_big / 507 no_space).
 */
#ifndef FLOP_AGENT_FILES_H
#define FLOP_AGENT_FILES_H

#include <stdint.h>

struct err;
struct http_server;
struct terminal;

#define FILES_PATH_MAX 1024
#define FILES_DEPTH_MAX 16
#define FILES_MAX_BYTES_DEFAULT ((uint64_t)4 << 30)

struct instances;

struct files {
	struct terminal *term;   /* authorizes (terminal_authorize) */
	uint64_t max_bytes;      /* per file */
	struct instances *inst;  /* rentals are instances: files go to and come from the instance's /workspace
				  * volume, owned by root inside (instances_files_root); NULL: the account's home */
};

/* True when path is an acceptable relative path (the rules above). */
int files_path_ok(const char *path);

/* Registers PUT and GET /files/{rental} on s (before it starts); f must outlive s. */
int files_routes(struct files *f, struct http_server *s, struct err *e);

#endif
