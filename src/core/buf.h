/*
 * buf.h — a growable byte buffer with a hard per-buffer cap.
 *
 * Every buffer has a `max`: appends that would grow it past `max` fail with
 * ERR_TOO_BIG and leave the buffer unchanged, so a peer can never make us
 * allocate without bound. The bytes are always followed by a NUL that is not
 * counted in `len`, so text can be used as a C string directly.
 * Ownership: the caller owns the struct; buf owns `data` until buf_detach.
 */
#ifndef FLOP_CORE_BUF_H
#define FLOP_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data; /* bytes, NUL-terminated past len; NULL until first append */
	size_t len;    /* bytes in use */
	size_t cap;    /* bytes allocated, excluding the trailing NUL */
	size_t max;    /* hard cap on len */
};

#define BUF_MAX_DEFAULT ((size_t)16 << 20) /* 16 MiB */

/* Sets up an empty buffer that may hold at most `max` bytes. */
void buf_init(struct buf *b, size_t max);

/* Frees the bytes; the buffer is empty and usable again. NULL allowed. */
void buf_release(struct buf *b);

/* Drops the contents, keeps the allocation. */
void buf_reset(struct buf *b);

/* Ensures room for `extra` more bytes. ERR_TOO_BIG past max, ERR_NOMEM. */
int buf_reserve(struct buf *b, size_t extra);

int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_byte(struct buf *b, uint8_t c);
int buf_append_str(struct buf *b, const char *s);

/* Appends printf-formatted text. */
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends `n` bytes as lowercase hex (no prefix). */
int buf_append_hex(struct buf *b, const uint8_t *p, size_t n);

/* The contents as a C string ("" when empty); valid until the next change. */
const char *buf_cstr(const struct buf *b);

/*
 * Hands the allocation to the caller (free() it) and leaves `b` empty.
 * Returns a NUL-terminated allocation even when empty, or NULL on ERR_NOMEM.
 */
uint8_t *buf_detach(struct buf *b, size_t *len);

#endif
