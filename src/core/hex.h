/*
 * hex.h — hex text <-> bytes.
 *
 * Decoders accept an optional "0x"/"0X" prefix and either case, require an
 * even number of digits, and on failure write nothing to the output.
 */
#ifndef FLOP_CORE_HEX_H
#define FLOP_CORE_HEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

/* Value of one hex digit, or -1. */
int hex_digit(char c);

/*
 * Decodes `hex_len` characters of `hex` (prefix optional) into `out`, which
 * has room for `out_cap` bytes; writes the byte count to `*out_len`.
 * ERR_INVALID on a bad digit or odd length, ERR_TOO_BIG when it does not fit.
 */
int hex_decode(uint8_t *out, size_t out_cap, size_t *out_len,
	       const char *hex, size_t hex_len, struct err *e);

/* Decodes a NUL-terminated hex string that must be exactly `n` bytes. */
int hex_decode_exact(uint8_t *out, size_t n, const char *hex, struct err *e);

/*
 * Decodes a NUL-terminated hex string into a fresh malloc'd buffer of at
 * most `max` bytes; the caller frees *out.
 */
int hex_decode_alloc(uint8_t **out, size_t *out_len, const char *hex,
		     size_t max, struct err *e);

/* Writes 2n lowercase digits and a NUL to `out` (room: 2n+1). */
void hex_encode(char *out, const uint8_t *in, size_t n);

/* Same with a "0x" prefix (room: 2n+3). */
void hex_encode_0x(char *out, const uint8_t *in, size_t n);

/* True when s starts with "0x" or "0X". */
bool hex_has_prefix(const char *s);

#endif
