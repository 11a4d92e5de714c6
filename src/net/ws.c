/*
 * ws.c — WebSocket connections over libwslay's event API (see ws.h): the
 * RFC 6455 handshake values, non-blocking socket callbacks, and the caps on
 * what is received (msg_max) and queued for sending (out_max).
 */
#include "net/ws.h"

#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <nettle/sha1.h>
#include <sodium.h>
#include <wslay/wslay.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" /* RFC 6455 1.3 */

struct ws_conn {
	int fd;                       /* socket, non-blocking; not ours to close */
	wslay_event_context_ptr ctx;  /* wslay state */
	struct ws_opts o;             /* effective options */
	ws_on_message fn;             /* message callback */
	void *user;
	uint8_t *extra;               /* bytes read before we got the socket */
	size_t extra_len, extra_off;
	bool failed;                  /* socket error, EOF or protocol error */
	uint16_t peer_close;          /* close code the peer sent */
	bool close_pending;           /* ws_close called: sent once the queue drains */
	uint16_t close_code;
	char close_reason[WS_CLOSE_REASON_MAX + 1];
};

/* Queues the deferred close once every data message before it went out. */
static void close_if_drained(struct ws_conn *c)
{
	if (c->close_pending && wslay_event_get_queued_msg_count(c->ctx) == 0) {
		c->close_pending = false;
		(void)wslay_event_queue_close(c->ctx, c->close_code, (const uint8_t *)c->close_reason,
					      strlen(c->close_reason));
	}
}

int ws_accept_key(char out[WS_ACCEPT_LEN + 1], const char *key, struct err *e)
{
	uint8_t raw[32], dig[SHA1_DIGEST_SIZE];
	size_t raw_len = 0, n = key ? strlen(key) : 0;
	struct sha1_ctx sc;

	if (n == 0 || n > WS_KEY_MAX)
		return err_set(e, ERR_INVALID, "Sec-WebSocket-Key: missing or over %d bytes",
			       WS_KEY_MAX);
	if (sodium_base642bin(raw, sizeof raw, key, n, NULL, &raw_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    raw_len != 16)
		return err_set(e, ERR_INVALID, "Sec-WebSocket-Key: not base64 of 16 bytes");
	sha1_init(&sc);
	sha1_update(&sc, n, (const uint8_t *)key);
	sha1_update(&sc, strlen(WS_GUID), (const uint8_t *)WS_GUID);
	sha1_digest(&sc, sizeof dig, dig);
	sodium_bin2base64(out, WS_ACCEPT_LEN + 1, dig, sizeof dig, sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

/* True when comma-separated header value `v` holds `token` (case-insensitive). */
static bool has_token(const char *v, const char *token)
{
	size_t tn = strlen(token);

	while (v && *v) {
		size_t n;
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		n = strcspn(v, ",");
		size_t m = n;
		while (m && (v[m - 1] == ' ' || v[m - 1] == '\t'))
			m--;
		if (m == tn && strncasecmp(v, token, tn) == 0)
			return true;
		v += n;
	}
	return false;
}

int ws_handshake_check(char accept[WS_ACCEPT_LEN + 1], const char *upgrade,
		       const char *connection, const char *version, const char *key,
		       struct err *e)
{
	if (!upgrade || !has_token(upgrade, "websocket"))
		return err_set(e, ERR_INVALID, "Upgrade: must be \"websocket\"");
	if (!connection || !has_token(connection, "upgrade"))
		return err_set(e, ERR_INVALID, "Connection: must include \"Upgrade\"");
	if (!version || strcmp(version, "13") != 0)
		return err_set(e, ERR_INVALID, "Sec-WebSocket-Version: must be 13");
	return ws_accept_key(accept, key, e);
}

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
		       void *user)
{
	struct ws_conn *c = user;
	ssize_t r;
	(void)flags;

	if (c->extra_off < c->extra_len) {
		size_t n = c->extra_len - c->extra_off;
		if (n > len)
			n = len;
		memcpy(buf, c->extra + c->extra_off, n);
		c->extra_off += n;
		return (ssize_t)n;
	}
	do
		r = recv(c->fd, buf, len, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (r <= 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return r;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
		       void *user)
{
	struct ws_conn *c = user;
	ssize_t r;

	do
		r = send(c->fd, data, len,
			 MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0));
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	if (r < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return r;
}

static int on_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	(void)ctx;
	(void)user;
	randombytes_buf(buf, len);
	return 0;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
		   void *user)
{
	struct ws_conn *c = user;
	(void)ctx;

	if (a->opcode == WSLAY_CONNECTION_CLOSE)
		c->peer_close = a->status_code;
	if (c->fn)
		c->fn(c->user, (enum ws_opcode)a->opcode, a->msg, a->msg_length);
}

int ws_conn_new(struct ws_conn **out, int fd, const struct ws_opts *o, ws_on_message fn,
		void *user, const uint8_t *extra, size_t extra_len, struct err *e)
{
	struct wslay_event_callbacks cb = {
		.recv_callback = on_recv,
		.send_callback = on_send,
		.genmask_callback = on_genmask,
		.on_msg_recv_callback = on_msg,
	};
	struct ws_conn *c;
	int fl, rc;

	if (!out || fd < 0)
		return err_set(e, ERR_INVALID, "ws: needs a socket");
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return err_set(e, ERR_IO, "ws: cannot make the socket non-blocking: %s",
			       strerror(errno));
	c = calloc(1, sizeof *c);
	if (!c)
		return err_set(e, ERR_NOMEM, "ws: out of memory");
	c->fd = fd;
	if (o)
		c->o = *o;
	if (!c->o.msg_max)
		c->o.msg_max = WS_MSG_MAX_DEFAULT;
	if (!c->o.out_max)
		c->o.out_max = WS_OUT_MAX_DEFAULT;
	c->fn = fn;
	c->user = user;
	if (extra && extra_len) {
		c->extra = malloc(extra_len);
		if (!c->extra) {
			free(c);
			return err_set(e, ERR_NOMEM, "ws: out of memory");
		}
		memcpy(c->extra, extra, extra_len);
		c->extra_len = extra_len;
	}
	rc = c->o.client ? wslay_event_context_client_init(&c->ctx, &cb, c)
			 : wslay_event_context_server_init(&c->ctx, &cb, c);
	if (rc) {
		free(c->extra);
		free(c);
		return err_set(e, ERR_NOMEM, "ws: cannot create the wslay context");
	}
	wslay_event_config_set_max_recv_msg_length(c->ctx, c->o.msg_max);
	*out = c;
	return 0;
}

void ws_conn_free(struct ws_conn *c)
{
	if (!c)
		return;
	if (c->ctx)
		wslay_event_context_free(c->ctx);
	free(c->extra);
	free(c);
}

short ws_conn_events(const struct ws_conn *c)
{
	short ev = 0;

	if (!c || c->failed)
		return 0;
	if (wslay_event_want_read(c->ctx))
		ev |= POLLIN;
	if (wslay_event_want_write(c->ctx) || c->close_pending)
		ev |= POLLOUT;
	return ev;
}

int ws_conn_io(struct ws_conn *c, short revents)
{
	if (!c || c->failed)
		return ERR_NET;
	/* bytes handed over with the socket are readable whatever poll said */
	if (c->extra_off < c->extra_len)
		revents |= POLLIN;
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_want_read(c->ctx) &&
	    wslay_event_recv(c->ctx) != 0) {
		/* EOF, socket error or a protocol error: flush a queued close frame, then stop */
		if (wslay_event_want_write(c->ctx))
			(void)wslay_event_send(c->ctx);
		c->failed = true;
		return ERR_NET;
	}
	for (int round = 0; round < 2; round++) {
		if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) != 0) {
			c->failed = true;
			return ERR_NET;
		}
		if (!c->close_pending)
			break;
		close_if_drained(c); /* then one more round sends the close frame */
	}
	return 0;
}

bool ws_conn_done(const struct ws_conn *c)
{
	return !c || c->failed ||
	       (!wslay_event_want_read(c->ctx) && !wslay_event_want_write(c->ctx));
}

int ws_send(struct ws_conn *c, enum ws_opcode op, const uint8_t *p, size_t n, struct err *e)
{
	struct wslay_event_msg m = { .opcode = (uint8_t)op, .msg = p, .msg_length = n };
	int rc;

	if (!c || c->failed || c->close_pending || wslay_event_get_close_sent(c->ctx))
		return err_set(e, ERR_STATE, "ws: connection is closing");
	if (op != WS_OP_TEXT && op != WS_OP_BINARY && op != WS_OP_PING && op != WS_OP_PONG)
		return err_set(e, ERR_INVALID, "ws: opcode %d cannot be sent with ws_send", (int)op);
	if ((op == WS_OP_PING || op == WS_OP_PONG) && n > 125)
		return err_set(e, ERR_TOO_BIG, "ws: control payload over 125 bytes");
	if (n > c->o.out_max || wslay_event_get_queued_msg_length(c->ctx) > c->o.out_max - n)
		return err_set(e, ERR_TOO_BIG, "ws: send queue over %zu bytes", c->o.out_max);
	rc = wslay_event_queue_msg(c->ctx, &m);
	if (rc == WSLAY_ERR_NOMEM)
		return err_set(e, ERR_NOMEM, "ws: out of memory");
	if (rc)
		return err_set(e, ERR_STATE, "ws: cannot queue (wslay %d)", rc);
	return 0;
}

int ws_close(struct ws_conn *c, uint16_t code, const char *reason)
{
	size_t n = reason ? strlen(reason) : 0;

	if (!c || c->failed)
		return ERR_STATE;
	if (c->close_pending || wslay_event_get_close_sent(c->ctx))
		return 0;
	if (n > WS_CLOSE_REASON_MAX)
		n = WS_CLOSE_REASON_MAX;
	/* wslay sends control frames first and nothing after a close: wait for the queue */
	c->close_pending = true;
	c->close_code = code;
	memcpy(c->close_reason, reason ? reason : "", n);
	c->close_reason[n] = 0;
	close_if_drained(c);
	return 0;
}

size_t ws_conn_queued(const struct ws_conn *c)
{
	return c ? wslay_event_get_queued_msg_length(c->ctx) : 0;
}

uint16_t ws_conn_peer_close_code(const struct ws_conn *c)
{
	return c ? c->peer_close : 0;
}
