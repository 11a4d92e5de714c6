/*
 * json.c — bounded jansson parsing and typed getters (see json.h).
 */
#include "core/json.h"
#include "core/err.h"
#include "core/hex.h"

#include <stdlib.h>
#include <string.h>

/* Longest string accepted where a number is expected: "0x" + 64 digits, or 78 digits. */
#define JSON_NUM_STR_MAX 80

bool json_depth_ok(const char *text, size_t n, unsigned max_depth)
{
	unsigned depth = 0;
	bool in_str = false, esc = false;

	for (size_t i = 0; i < n; i++) {
		char c = text[i];
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return false;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return true;
}

int json_parse(json_t **out, const char *text, size_t n, size_t max, struct err *e)
{
	return json_parse_ex(out, text, n, max, false, e);
}

int json_parse_ex(json_t **out, const char *text, size_t n, size_t max, bool allow_nul,
		  struct err *e)
{
	json_error_t jerr;
	json_t *v;

	if (max == 0 || max > JSON_INPUT_MAX)
		max = JSON_INPUT_MAX;
	if (n > max)
		return err_set(e, ERR_TOO_BIG, "JSON is %zu bytes, at most %zu allowed", n, max);
	if (!text && n)
		return err_set(e, ERR_INVALID, "JSON text is NULL");
	if (!json_depth_ok(text, n, JSON_MAX_DEPTH))
		return err_set(e, ERR_DEPTH, "JSON nests deeper than %d levels", JSON_MAX_DEPTH);
	v = json_loadb(text ? text : "", n,
		       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | (allow_nul ? JSON_ALLOW_NUL : 0),
		       &jerr);
	if (!v) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return err_set(e, ERR_NOMEM, "out of memory parsing JSON");
		return err_set(e, ERR_INVALID, "bad JSON at line %d column %d: %s",
			       jerr.line, jerr.column, jerr.text);
	}
	*out = v;
	return 0;
}

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "real";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	case JSON_NULL: return "null";
	}
	return "unknown";
}

int json_val_str(const char **out, const json_t *v, const char *name, size_t max_len,
		 struct err *e)
{
	const char *s;
	size_t n;

	if (!v || !json_is_string(v))
		return err_set(e, ERR_INVALID, "field '%s' must be a string, got %s", name,
			       v ? json_type_name(v) : "nothing");
	s = json_string_value(v);
	n = json_string_length(v);
	if (strlen(s) != n)
		return err_set(e, ERR_INVALID, "field '%s' contains a NUL byte", name);
	if (n > max_len)
		return err_set(e, ERR_TOO_BIG, "field '%s' is %zu characters, at most %zu allowed",
			       name, n, max_len);
	*out = s;
	return 0;
}

int json_val_u256(u256 *out, const json_t *v, const char *name, struct err *e)
{
	const char *s;
	u256 r;
	int rc;

	if (v && json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return err_set(e, ERR_RANGE, "field '%s' is negative", name);
		*out = u256_from_u64((uint64_t)i);
		return 0;
	}
	if (!v || !json_is_string(v))
		return err_set(e, ERR_INVALID, "field '%s' must be a number string, got %s", name,
			       v ? json_type_name(v) : "nothing");
	rc = json_val_str(&s, v, name, JSON_NUM_STR_MAX, e);
	if (rc)
		return rc;
	rc = u256_parse(&r, s, e);
	if (rc) {
		err_wrap(e, "field '%s'", name);
		return rc;
	}
	*out = r;
	return 0;
}

int json_val_u64(uint64_t *out, const json_t *v, const char *name, struct err *e)
{
	u256 big;
	uint64_t r;
	int rc = json_val_u256(&big, v, name, e);

	if (rc)
		return rc;
	if (u256_to_u64(&r, &big))
		return err_set(e, ERR_RANGE, "field '%s' does not fit in 64 bits", name);
	*out = r;
	return 0;
}

int json_val_uint(uint64_t *out, const json_t *v, const char *name, struct err *e)
{
	json_int_t i;

	if (!v || !json_is_integer(v))
		return err_set(e, ERR_INVALID, "field '%s' must be an integer, got %s", name,
			       v ? json_type_name(v) : "nothing");
	i = json_integer_value(v);
	if (i < 0)
		return err_set(e, ERR_RANGE, "field '%s' is negative", name);
	*out = (uint64_t)i;
	return 0;
}

int json_val_id(uint64_t *out, const json_t *v, const char *name, struct err *e)
{
	const char *s;
	uint64_t r = 0;
	size_t n;

	if (v && json_is_integer(v))
		return json_val_uint(out, v, name, e);
	if (!v || !json_is_string(v))
		return err_set(e, ERR_INVALID, "field '%s' must be an integer or a decimal string, got %s", name,
			       v ? json_type_name(v) : "nothing");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > 20 || strspn(s, "0123456789") != n || (n > 1 && s[0] == '0'))
		return err_set(e, ERR_INVALID, "field '%s' must be a decimal number without sign or leading zero",
			       name);
	for (size_t i = 0; i < n; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');
		if (r > (UINT64_MAX - d) / 10)
			return err_set(e, ERR_RANGE, "field '%s' does not fit in 64 bits", name);
		r = r * 10 + d;
	}
	*out = r;
	return 0;
}

json_t *json_id(uint64_t v)
{
	char t[24];

	if (v <= JSON_SAFE_INT_MAX)
		return json_integer((json_int_t)v);
	snprintf(t, sizeof t, "%llu", (unsigned long long)v);
	return json_string(t);
}

int json_val_bool(bool *out, const json_t *v, const char *name, struct err *e)
{
	if (!v || !json_is_boolean(v))
		return err_set(e, ERR_INVALID, "field '%s' must be a boolean, got %s", name,
			       v ? json_type_name(v) : "nothing");
	*out = json_is_true(v);
	return 0;
}

/* The hex string of v with its 0x prefix required, and its length. */
static int json_hex_str(const char **s, size_t *n, const json_t *v, const char *name,
			struct err *e)
{
	int rc = json_val_str(s, v, name, 2 * JSON_INPUT_MAX + 2, e);

	if (rc)
		return rc;
	*n = strlen(*s);
	if (*n < 2 || !hex_has_prefix(*s))
		return err_set(e, ERR_INVALID, "field '%s' must be 0x-prefixed hex", name);
	return 0;
}

int json_val_bytes(uint8_t *out, size_t cap, size_t *len, const json_t *v,
		   const char *name, struct err *e)
{
	const char *s;
	size_t n;
	int rc = json_hex_str(&s, &n, v, name, e);

	if (rc)
		return rc;
	rc = hex_decode(out, cap, len, s, n, e);
	if (rc) {
		err_wrap(e, "field '%s'", name);
		return rc;
	}
	return 0;
}

int json_val_bytes_exact(uint8_t *out, size_t n, const json_t *v, const char *name,
			 struct err *e)
{
	const char *s;
	size_t sn;
	int rc = json_hex_str(&s, &sn, v, name, e);

	if (rc)
		return rc;
	rc = hex_decode_exact(out, n, s, e);
	if (rc) {
		err_wrap(e, "field '%s'", name);
		return rc;
	}
	return 0;
}

int json_val_bytes_alloc(uint8_t **out, size_t *len, const json_t *v, const char *name,
			 size_t max, struct err *e)
{
	const char *s;
	size_t sn;
	int rc = json_hex_str(&s, &sn, v, name, e);

	if (rc)
		return rc;
	rc = hex_decode_alloc(out, len, s, max, e);
	if (rc) {
		err_wrap(e, "field '%s'", name);
		return rc;
	}
	return 0;
}

int json_get(const json_t **out, const json_t *obj, const char *field, struct err *e)
{
	const json_t *v = NULL;

	if (!obj || !json_is_object(obj))
		return err_set(e, ERR_INVALID, "expected an object holding '%s'", field);
	v = json_object_get(obj, field);
	if (!v || json_is_null(v))
		return err_set(e, ERR_NOT_FOUND, "field '%s' missing", field);
	*out = v;
	return 0;
}

int json_get_str(const char **out, const json_t *obj, const char *field, size_t max_len,
		 struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : json_val_str(out, v, field, max_len, e);
}

int json_get_u64(uint64_t *out, const json_t *obj, const char *field, struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : json_val_u64(out, v, field, e);
}

int json_get_uint(uint64_t *out, const json_t *obj, const char *field, struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : json_val_uint(out, v, field, e);
}

int json_get_id(uint64_t *out, const json_t *obj, const char *field, struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : json_val_id(out, v, field, e);
}

int json_get_u256(u256 *out, const json_t *obj, const char *field, struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : json_val_u256(out, v, field, e);
}

int json_get_bool(bool *out, const json_t *obj, const char *field, struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : json_val_bool(out, v, field, e);
}

int json_get_bytes(uint8_t *out, size_t cap, size_t *len, const json_t *obj,
		   const char *field, struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : json_val_bytes(out, cap, len, v, field, e);
}

int json_get_bytes_exact(uint8_t *out, size_t n, const json_t *obj, const char *field,
			 struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : json_val_bytes_exact(out, n, v, field, e);
}

int json_get_bytes_alloc(uint8_t **out, size_t *len, const json_t *obj, const char *field,
			 size_t max, struct err *e)
{
	const json_t *v = NULL;
	int rc = json_get(&v, obj, field, e);

	return rc ? rc : json_val_bytes_alloc(out, len, v, field, max, e);
}

json_t *json_hex_bytes(const uint8_t *p, size_t n)
{
	char *s;
	json_t *v;

	if (n > JSON_INPUT_MAX)
		return NULL;
	s = malloc(2 * n + 3);
	if (!s)
		return NULL;
	hex_encode_0x(s, p, n);
	v = json_stringn(s, 2 * n + 2);
	free(s);
	return v;
}

json_t *json_hex_u64(uint64_t v)
{
	u256 u = u256_from_u64(v);
	return json_hex_u256(&u);
}

json_t *json_hex_u256(const u256 *v)
{
	char s[U256_HEX_MAX];

	u256_to_hex(s, v);
	return json_string(s);
}
