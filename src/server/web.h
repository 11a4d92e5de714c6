/*
 * web.h — the web marketplace's files as the server serves them: GET / (the page), GET /assets/{name}
 * (its script, styles), GET /config (what the page needs to talk to the chain), all on the API's own
 * origin so the page needs no CORS.
 *
 * The built files (web/ bundled by scripts/build-web into build/web/) are embedded into the binary by
 * scripts/embed-web, as the SQL migrations are: `flopmarket serve` alone serves the UI. With
 * `--web-dir DIR` the files are read from DIR on every request instead (development: rebuild, reload).
 * Names are [A-Za-z0-9._-]{1,64} with no leading dot, so a request never leaves the folder.
 *
 * The page is served with a strict Content-Security-Policy: scripts only from this origin (no inline
 * script, no eval), no frames, no plugins; styles from this origin and inline (xterm.js sizes and colours
 * the terminal with <style> elements; CSS runs no script); connections to this origin and, for the terminal
 * and file transfer, to the providers' agents (https:/wss:, plus http:/ws: when the marketplace itself
 * is served over plain http, as in development).
 */
#ifndef FLOP_SERVER_WEB_H
#define FLOP_SERVER_WEB_H

#include <stddef.h>

#define WEB_NAME_MAX 64
#define WEB_FILE_MAX ((size_t)16 << 20) /* a --web-dir file larger than this is refused */
#define WEB_CSP_MAX 512

/* One embedded file (build/gen/web_assets.c, written by scripts/embed-web). */
struct web_asset {
	const char *name;            /* "index.html", "app.js", ... */
	const unsigned char *data;
	size_t len;
};
extern const struct web_asset web_assets[];
extern const size_t web_asset_count;

/* The Content-Type for a file name by its extension ("application/octet-stream" when unknown). */
const char *web_content_type(const char *name);
/* True when name is a servable file name ([A-Za-z0-9._-]{1,64}, no leading dot). */
int web_name_ok(const char *name);
/* Writes the page's Content-Security-Policy into out; plain_http admits http:/ws: agents too. */
void web_csp(char out[WEB_CSP_MAX], int plain_http);

#endif
