/*
 * files.c — PUT and GET /files/{rental} (files.h): file transfer confined to a rental's home. The
 * upload is streamed (net/http's http_route_streamed) into a temporary file beside its destination and
 * hashed (SHA-256) on the way; the download is sent from the open file (http_file).
 */
#include "agent/files.h"

#include "agent/instances.h"

#include "agent/terminal.h"
#include "core/err.h"
#include "core/hex.h"
#include "core/json.h"
#include "core/log.h"
#include "net/http.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>
#include <nettle/sha2.h>

int files_path_ok(const char *path)
{
	size_t n = path ? strlen(path) : 0, depth = 0;
	const char *c = path;

	if (n == 0 || n > FILES_PATH_MAX || path[0] == '/')
		return 0;
	while (*c) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.') ||
		    ++depth > FILES_DEPTH_MAX)
			return 0;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f || c[i] == '\\')
				return 0;
		c += len;
		if (*c == '/' && !c[1])
			return 0; /* a trailing slash names no file */
		if (*c == '/')
			c++;
	}
	return 1;
}

/* openat2 of path under dirfd that never leaves it (no "..", symlink, magic link or other mount). */
static int open_beneath(int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
	struct open_how how;

	memset(&how, 0, sizeof how);
	how.flags = flags | O_CLOEXEC;
	how.mode = mode;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

static int path_error(struct http_resp *resp, int err, const char *path)
{
	if (err == ENOENT)
		return http_error(resp, 404, "not_found", "path", "no such file or folder in the rental's home: %.200s",
				  path);
	if (err == EXDEV || err == ELOOP)
		return http_error(resp, 403, "outside_home", "path",
				  "the path leaves the rental's home (a symlink, .. or another mount)");
	if (err == EISDIR || err == ENOTDIR)
		return http_error(resp, 409, "not_a_file", "path", "the path is a folder, or goes through a file");
	return http_error(resp, 500, "io", "path", "%s", strerror(err));
}

/* The account's home as a directory handle (for open_beneath), or -1 with the answer in resp. */
static int open_home(const struct terminal_grant *g, struct http_resp *resp)
{
	int home = open(g->home, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (home < 0)
		http_error(resp, 409, "account_unavailable", "rental", "the rental's home is gone");
	return home;
}

/*
 * Rentals as instances: the grant's home becomes the instance's /workspace (on the host: its volume's
 * mount) and its owner the instance's root. 1 with the answer in resp when the instance has none.
 */
static int instance_root(struct files *f, struct terminal_grant *g, struct http_resp *resp)
{
	struct err e = { 0, "" };

	if (!f->inst)
		return 0;
	if (instances_files_root(f->inst, g->account, (long)g->uid, g->home, sizeof g->home, &g->uid, &g->gid, &e)) {
		http_error(resp, 409, "no_workspace", "rental", "%s", e.msg);
		return 1;
	}
	return 0;
}

/* The query's path, checked; or an answer in resp and NULL. */
static const char *query_path(const struct http_req *r, struct http_resp *resp)
{
	const char *p = http_query(r, "path");
	if (!files_path_ok(p)) {
		http_error(resp, 400, "bad_path", "path",
			   "path: a relative path in the rental's home (no leading /, no . or .. parts, at most %d "
			   "bytes and %d parts)", FILES_PATH_MAX, FILES_DEPTH_MAX);
		return NULL;
	}
	return p;
}

/* ---- upload ---- */

struct upload {
	int dir;                      /* the destination's folder */
	int fd;                       /* the temporary file */
	char tmp[64];                 /* its name in dir */
	char base[FILES_PATH_MAX + 1]; /* the destination's name in dir */
	char path[FILES_PATH_MAX + 1];
	char account[TERMINAL_ACCOUNT_MAX + 1];
	uint64_t size;
	struct sha256_ctx sha;
	int done;                     /* renamed into place */
};

static void upload_free(void *p)
{
	struct upload *u = p;
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (!u->done && u->tmp[0] && u->dir >= 0)
		unlinkat(u->dir, u->tmp, 0);
	if (u->dir >= 0)
		close(u->dir);
	free(u);
}

/*
 * Opens the destination's folder (which must belong to the account) and a temporary file in it. A refusal
 * is answered in resp (resp->status set); a negative return is ERR_NOMEM.
 */
static int upload_open(struct upload *u, const struct terminal_grant *g, const char *path, struct http_resp *resp)
{
	char parent[FILES_PATH_MAX + 1];
	const char *slash = strrchr(path, '/');
	struct stat st;
	int home, err;

	snprintf(u->path, sizeof u->path, "%s", path);
	snprintf(u->base, sizeof u->base, "%s", slash ? slash + 1 : path);
	snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	if ((home = open_home(g, resp)) < 0)
		return resp->status;
	u->dir = strcmp(parent, ".") == 0 ? dup(home) : open_beneath(home, parent, O_PATH | O_DIRECTORY, 0);
	err = errno;
	close(home);
	if (u->dir < 0)
		return path_error(resp, err, path);
	if (fstat(u->dir, &st) || st.st_uid != g->uid)
		return http_error(resp, 403, "not_owner", "path", "the folder does not belong to the rental's account");
	for (int i = 0; i < 16 && u->fd < 0; i++) {
		uint8_t rnd[8];
		char hex[17];
		if (getentropy(rnd, sizeof rnd))
			return http_error(resp, 500, "io", NULL, "no randomness");
		hex_encode(hex, rnd, sizeof rnd);
		snprintf(u->tmp, sizeof u->tmp, ".flopmarket-upload-%s", hex);
		u->fd = openat(u->dir, u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (u->fd < 0 && errno != EEXIST)
			return path_error(resp, errno, path);
	}
	if (u->fd < 0 || fchown(u->fd, g->uid, g->gid))
		return http_error(resp, 500, "io", "path", "cannot create the file");
	return 0;
}

/* The head is in: authorize, check the size against the cap and the free space, open the files. */
static int upload_begin(struct files *f, struct http_req *r, struct http_resp *resp)
{
	struct terminal_grant g;
	struct statvfs vfs;
	const char *path, *cl = http_header(r, "Content-Length");
	struct upload *u;
	int rc;

	if ((rc = terminal_authorize(f->term, r, resp, &g)) || (rc = instance_root(f, &g, resp)))
		return rc > 0 ? 1 : rc;
	if (!(path = query_path(r, resp)))
		return 1;
	if (cl && statvfs(g.home, &vfs) == 0 && strtoull(cl, NULL, 10) > (uint64_t)vfs.f_bavail * vfs.f_frsize) {
		http_error(resp, 507, "no_space", "body", "the rental's disk has not room for %s bytes", cl);
		return 1;
	}
	if (!(u = calloc(1, sizeof *u)))
		return ERR_NOMEM;
	u->dir = u->fd = -1;
	sha256_init(&u->sha);
	snprintf(u->account, sizeof u->account, "%s", g.account);
	r->stream = u;
	r->stream_free = upload_free;
	/* upload_open answers a refusal in resp (http_error returns 0 once it has written the answer) */
	if ((rc = upload_open(u, &g, path, resp)) < 0)
		return rc;
	return resp->status ? 1 : 0;
}

static int upload_body(struct http_req *r, struct http_resp *resp, const uint8_t *data, size_t n, void *ctx)
{
	struct upload *u = r->stream;

	if (!data)
		return upload_begin(ctx, r, resp);
	sha256_update(&u->sha, n, data);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(u->fd, data + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("upload cut", "account=%s err=\"%s\"", u->account, strerror(errno));
			return ERR_IO;
		}
		off += (size_t)w;
	}
	u->size += n;
	return 0;
}

static int on_upload(struct http_req *r, struct http_resp *resp, void *ctx)
{
	struct upload *u = r->stream;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1];
	(void)ctx;

	if (!u || u->fd < 0)
		return http_error(resp, 500, "internal", NULL, "no upload in progress");
	if (close(u->fd)) {
		u->fd = -1;
		return http_error(resp, 507, "io", "body", "writing the file failed: %s", strerror(errno));
	}
	u->fd = -1;
	if (renameat(u->dir, u->tmp, u->dir, u->base))
		return path_error(resp, errno, u->path);
	u->done = 1;
	sha256_digest(&u->sha, sizeof digest, digest);
	hex_encode(hex, digest, sizeof digest);
	log_info("file uploaded", "account=%s size=%" PRIu64, u->account, u->size);
	return http_json(resp, 201, json_pack("{s:s, s:I, s:s}", "path", u->path, "size", (json_int_t)u->size,
					      "sha256", hex));
}

/* ---- download ---- */

static int on_download(struct http_req *r, struct http_resp *resp, void *ctx)
{
	struct files *f = ctx;
	struct terminal_grant g;
	struct stat st;
	const char *path, *slash;
	char disp[128 + 32], safe[129];
	int home, fd, rc, err;
	size_t k = 0;

	if ((rc = terminal_authorize(f->term, r, resp, &g)) || (rc = instance_root(f, &g, resp)))
		return rc > 0 ? 0 : rc;
	if (!(path = query_path(r, resp)))
		return 0;
	if ((home = open_home(&g, resp)) < 0)
		return 0;
	fd = open_beneath(home, path, O_RDONLY | O_NOCTTY, 0);
	err = errno;
	close(home);
	if (fd < 0)
		return path_error(resp, err, path);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return http_error(resp, 409, "not_a_file", "path", "only regular files can be downloaded");
	}
	if (st.st_uid != g.uid) {
		close(fd);
		return http_error(resp, 403, "not_owner", "path", "the file does not belong to the rental's account");
	}
	if ((uint64_t)st.st_size > f->max_bytes) {
		close(fd);
		return http_error(resp, 413, "too_big", "path", "the file is over %" PRIu64 " bytes", f->max_bytes);
	}
	slash = strrchr(path, '/');
	for (const char *c = slash ? slash + 1 : path; *c && k < sizeof safe - 1; c++)
		safe[k++] = (*c == '"' || (unsigned char)*c >= 0x7f) ? '_' : *c;
	safe[k] = 0;
	snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", safe);
	http_file(resp, 200, "application/octet-stream", fd, (uint64_t)st.st_size);
	http_resp_header(resp, "Content-Disposition", disp);
	log_info("file downloaded", "account=%s size=%lld", g.account, (long long)st.st_size);
	return 0;
}

int files_routes(struct files *f, struct http_server *s, struct err *e)
{
	int rc;

	if (!f->max_bytes)
		f->max_bytes = FILES_MAX_BYTES_DEFAULT;
	if ((rc = http_route_streamed(s, "PUT", "/files/{rental}", on_upload, upload_body, f->max_bytes, f, e)))
		return rc;
	return http_route(s, "GET", "/files/{rental}", on_download, f, e);
}
