/*
 * ws.h — WebSocket (RFC 6455) connections over a non-blocking socket, framed
 * by libwslay's event API, for the agent's browser terminal (and its tests,
 * which use the client side).
 *
 * The opening handshake is checked by ws_handshake_check (RFC 6455 4.2.1:
 * Upgrade: websocket, Connection: upgrade, Sec-WebSocket-Version: 13, a key
 * that is base64 of 16 bytes) and answered with ws_accept_key (4.2.2:
 * base64(SHA-1(key || "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))).
 *
 * A ws_conn does no polling of its own: the owner polls the fd for
 * ws_conn_events() and calls ws_conn_io() with what poll returned. Whole
 * messages (fragments joined) reach the on_message callback; pings are
 * answered with pongs and a close frame with a close frame by wslay.
 * Protocol errors close the connection with the RFC's codes: 1002 for a
 * protocol violation (an unmasked frame sent to a server, reserved bits or
 * opcodes, a continuation without a start), 1009 for a message over
 * opts.msg_max (one frame or fragments together); a frame the framing layer
 * cannot parse (e.g. a fragmented control frame) gets a close without a
 * code. Text is passed on as bytes (the terminal parses it as JSON, which
 * checks UTF-8). Sending is capped too: ws_send fails
 * with ERR_TOO_BIG once opts.out_max bytes are queued, so a slow peer cannot
 * make us buffer without bound.
 */
#ifndef FLOP_NET_WS_H
#define FLOP_NET_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define WS_ACCEPT_LEN 28                   /* base64 of a SHA-1 digest */
#define WS_KEY_MAX 64                      /* Sec-WebSocket-Key header bytes */
#define WS_MSG_MAX_DEFAULT ((size_t)64 << 10)
#define WS_OUT_MAX_DEFAULT ((size_t)1 << 20)
#define WS_CLOSE_REASON_MAX 123            /* a close frame's payload is at most 125 bytes */

/* Opcodes (RFC 6455 5.2). */
enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

/* Close codes used here (RFC 6455 7.4.1). */
enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_INVALID_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL = 1011,
};

struct ws_opts {
	bool client;        /* true: client side (masks what it sends) */
	size_t msg_max;     /* largest message accepted; 0: WS_MSG_MAX_DEFAULT */
	size_t out_max;     /* bytes queued for sending at most; 0: WS_OUT_MAX_DEFAULT */
};

/* Called once per complete data or control message (control: ping/pong/close). */
typedef void (*ws_on_message)(void *user, enum ws_opcode op, const uint8_t *p, size_t n);

struct ws_conn;

/*
 * Writes the Sec-WebSocket-Accept value for `key` into out (NUL-terminated).
 * ERR_INVALID when key is not base64 of exactly 16 bytes.
 */
int ws_accept_key(char out[WS_ACCEPT_LEN + 1], const char *key, struct err *e);

/*
 * Checks a client's opening handshake from its header values (NULL when
 * absent) and writes the accept value. ERR_INVALID naming the header that is
 * wrong (Upgrade, Connection, Sec-WebSocket-Version, Sec-WebSocket-Key).
 */
int ws_handshake_check(char accept[WS_ACCEPT_LEN + 1], const char *upgrade,
		       const char *connection, const char *version, const char *key,
		       struct err *e);

/*
 * Wraps a connected socket (made non-blocking here) whose handshake is done.
 * `extra` (may be NULL) are bytes already read from it past the handshake;
 * they are parsed first. The caller keeps owning fd (ws_conn_free does not
 * close it).
 */
int ws_conn_new(struct ws_conn **out, int fd, const struct ws_opts *o, ws_on_message fn,
		void *user, const uint8_t *extra, size_t extra_len, struct err *e);

/* Frees c (fd stays open). NULL allowed. */
void ws_conn_free(struct ws_conn *c);

/* poll() events wanted on fd now: POLLIN and/or POLLOUT (0 when done). */
short ws_conn_events(const struct ws_conn *c);

/*
 * Reads (when POLLIN/POLLHUP/POLLERR is in revents) and writes what it can
 * without blocking; messages are delivered during the call. Returns 0, or
 * ERR_NET once the connection failed (peer gone, socket error, protocol
 * error: the close frame answering it was tried first). Check ws_conn_done
 * after each call.
 */
int ws_conn_io(struct ws_conn *c, short revents);

/* True once nothing more will be read or written (closed both ways, or failed). */
bool ws_conn_done(const struct ws_conn *c);

/*
 * Queues a message (text, binary, ping, pong). ERR_TOO_BIG past out_max
 * queued bytes (nothing queued), ERR_STATE after a close was sent.
 */
int ws_send(struct ws_conn *c, enum ws_opcode op, const uint8_t *p, size_t n, struct err *e);

/*
 * Queues a close frame with code and reason (reason cut at WS_CLOSE_REASON_MAX),
 * sent after the messages already queued; ws_send fails from now on.
 */
int ws_close(struct ws_conn *c, uint16_t code, const char *reason);

/* Bytes queued and not yet written. */
size_t ws_conn_queued(const struct ws_conn *c);

/* The close code the peer sent (0 when none yet or none given). */
uint16_t ws_conn_peer_close_code(const struct ws_conn *c);

#endif
