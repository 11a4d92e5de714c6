/*
 * json.h — small glue over jansson: bounded parsing and typed getters.
 *
 * json_parse caps the input size and the nesting depth (checked by a cheap
 * pre-scan before jansson sees the bytes), rejects duplicate keys and
 * trailing bytes, so hostile text from a peer can neither exhaust memory nor
 * smuggle a second value. The getters read one field of an object (or one
 * value, for the json_val_* forms) into a C type and, on failure, return a
 * negative ERR_* with a message that names the field. Output is written
 * only on success.
 *
 * Conventions for the getters:
 *   - a field that is absent or JSON null is ERR_NOT_FOUND ("field 'x'
 *     missing"), so callers can treat optional fields explicitly;
 *   - strings must not contain NUL bytes and have a caller-given max length;
 *   - integers (u64/u256) accept a non-negative JSON integer, a decimal
 *     string ("123") or a 0x-hex string ("0x7b"), the forms JSON-RPC peers
 *     use for quantities; never floats;
 *   - byte strings are 0x-prefixed hex of even length (Ethereum "DATA").
 * Nothing here knows about Ethereum addresses; see src/eth/ethjson.h.
 */
#ifndef FLOP_CORE_JSON_H
#define FLOP_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/u256.h"

struct err;

#define JSON_MAX_DEPTH 64                 /* deepest nesting json_parse accepts */
#define JSON_INPUT_MAX ((size_t)16 << 20) /* hard cap on any input: 16 MiB */

/*
 * Parses exactly one JSON value from `text` (n bytes, not necessarily
 * NUL-terminated). `max` caps n (0 means JSON_INPUT_MAX; larger values are
 * clamped to it). On success *out holds a new reference the caller must
 * json_decref. ERR_TOO_BIG, ERR_DEPTH, ERR_INVALID (with jansson's line and
 * column), ERR_NOMEM.
 */
int json_parse(json_t **out, const char *text, size_t n, size_t max, struct err *e);

/*
 * Same, but with `allow_nul` strings may hold \u0000 (a peer that is not
 * ours may send them: anvil puts raw revert bytes in error messages). Read
 * such strings only through json_val_str / json_get_str, which refuse a NUL,
 * or as a C string that stops at the first NUL.
 */
int json_parse_ex(json_t **out, const char *text, size_t n, size_t max, bool allow_nul,
		  struct err *e);

/* True when the nesting depth of `text` is at most `max_depth` (pre-scan only). */
bool json_depth_ok(const char *text, size_t n, unsigned max_depth);

/*
 * Value getters: `name` is used only in error messages. Each checks the
 * JSON type first (ERR_INVALID naming `name` on a mismatch).
 */
int json_val_str(const char **out, const json_t *v, const char *name, size_t max_len,
		 struct err *e);
/* A JSON integer, or a decimal / 0x-hex string (Ethereum JSON-RPC quantities), that fits 64 bits. */
int json_val_u64(uint64_t *out, const json_t *v, const char *name, struct err *e);
/* A JSON integer 0..2^63-1 only: "5" (a string) is ERR_INVALID (API inputs: types are strict). */
int json_val_uint(uint64_t *out, const json_t *v, const char *name, struct err *e);
/*
 * An identifier that may exceed 2^53 (machine ids, offer nonces): a JSON integer, or a decimal string
 * of 1..20 digits without a sign or leading zero that fits 64 bits (what json_id emits past 2^53, so
 * JavaScript and jq never round it).
 */
int json_val_id(uint64_t *out, const json_t *v, const char *name, struct err *e);
#define JSON_SAFE_INT_MAX ((UINT64_C(1) << 53) - 1)
/* A new JSON value for an identifier: an integer up to JSON_SAFE_INT_MAX, else a decimal string. */
json_t *json_id(uint64_t v);
int json_val_u256(u256 *out, const json_t *v, const char *name, struct err *e);
int json_val_bool(bool *out, const json_t *v, const char *name, struct err *e);
/* 0x-hex into out (room `cap`), byte count to *len; ERR_TOO_BIG past cap. */
int json_val_bytes(uint8_t *out, size_t cap, size_t *len, const json_t *v,
		   const char *name, struct err *e);
/* 0x-hex that must decode to exactly n bytes (hashes, topics). */
int json_val_bytes_exact(uint8_t *out, size_t n, const json_t *v, const char *name,
			 struct err *e);
/* 0x-hex into a fresh malloc'd buffer of at most `max` bytes; caller frees. */
int json_val_bytes_alloc(uint8_t **out, size_t *len, const json_t *v, const char *name,
			 size_t max, struct err *e);

/*
 * Field getters: look up `field` in object `obj` (ERR_INVALID when obj is
 * not an object, ERR_NOT_FOUND when the field is absent or null), then
 * convert as the json_val_* form does.
 */
int json_get(const json_t **out, const json_t *obj, const char *field, struct err *e);
int json_get_str(const char **out, const json_t *obj, const char *field, size_t max_len,
		 struct err *e);
int json_get_u64(uint64_t *out, const json_t *obj, const char *field, struct err *e);
int json_get_uint(uint64_t *out, const json_t *obj, const char *field, struct err *e);
int json_get_id(uint64_t *out, const json_t *obj, const char *field, struct err *e);
int json_get_u256(u256 *out, const json_t *obj, const char *field, struct err *e);
int json_get_bool(bool *out, const json_t *obj, const char *field, struct err *e);
int json_get_bytes(uint8_t *out, size_t cap, size_t *len, const json_t *obj,
		   const char *field, struct err *e);
int json_get_bytes_exact(uint8_t *out, size_t n, const json_t *obj, const char *field,
			 struct err *e);
int json_get_bytes_alloc(uint8_t **out, size_t *len, const json_t *obj, const char *field,
			 size_t max, struct err *e);

/* New JSON string "0x.." for bytes / minimal-hex quantity; NULL on ERR_NOMEM. */
json_t *json_hex_bytes(const uint8_t *p, size_t n);
json_t *json_hex_u64(uint64_t v);
json_t *json_hex_u256(const u256 *v);

#endif
