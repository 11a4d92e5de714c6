/*
 * abi.c — Solidity contract ABI encoder and hardened decoder (see abi.h).
 *
 * Layout (ABI spec, "Formal Specification of the Encoding"): a sequence of
 * components (a tuple, the elements of T[k], the elements of T[] after the
 * length word) is encoded as all heads, then all tails. A static component's
 * head is its whole encoding; a dynamic one's head is the 32-byte offset of
 * its tail, counted from the start of the sequence.
 *
 * The decoder runs twice over the input: a counting pass that validates
 * everything and sums the memory the tree needs (refusing more than a fixed
 * multiple of the input size), then one allocation and a filling pass that
 * cannot fail. The tree and all its bytes live in that one block, root
 * first, so abi_value_free is a single free(). Recursion is bounded by the
 * type's depth (ABI_MAX_DEPTH), never by the data.
 */
#include "eth/abi.h"

#include "core/err.h"
#include "eth/keccak.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ABI_ALIGN 16 /* arena allocations are rounded to this */

/* ---------------------------------------------------------------- types */

struct tparse {
	const char *s;  /* the whole string */
	size_t pos;     /* next character */
	size_t len;     /* strlen(s) */
};

static void type_release(struct abi_type *t)
{
	for (size_t i = 0; i < t->count; i++)
		type_release(&t->items[i]);
	free(t->items);
	t->items = NULL;
	t->count = 0;
}

void abi_type_free(struct abi_type *t)
{
	if (!t)
		return;
	type_release(t);
	free(t);
}

/* Reads 1..5 decimal digits without a leading zero; 0 when none there. */
static int read_num(size_t *out, struct tparse *p, struct err *e)
{
	size_t v = 0, start = p->pos;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		if (p->pos - start == 6)
			return err_set(e, ERR_RANGE, "abi type: offset %zu: number too long", start);
		v = v * 10 + (size_t)(p->s[p->pos] - '0');
		p->pos++;
	}
	if (p->pos - start > 1 && p->s[start] == '0')
		return err_set(e, ERR_INVALID, "abi type: offset %zu: leading zero in number", start);
	*out = p->pos == start ? 0 : v;
	return p->pos == start ? 0 : 1;
}

static int parse_type(struct abi_type *t, struct tparse *p, unsigned level,
		      unsigned *depth, uint64_t *mask, struct err *e);

/* Sets dynamic/head_size of a tuple or fixed array from its items. */
static int finish_sizes(struct abi_type *t, size_t at, struct err *e)
{
	size_t head = 0;

	t->dynamic = false;
	if (t->kind == ABI_FIXED_ARRAY) {
		t->dynamic = t->items[0].dynamic;
		if (!t->dynamic && t->items[0].head_size > ABI_MAX_HEAD / t->array_len)
			return err_set(e, ERR_TOO_BIG, "abi type: offset %zu: static size exceeds %zu bytes",
				       at, ABI_MAX_HEAD);
		head = t->array_len * t->items[0].head_size;
	} else {
		for (size_t i = 0; i < t->count; i++) {
			t->dynamic |= t->items[i].dynamic;
			head += t->items[i].head_size;
		}
		if (!t->dynamic && head > ABI_MAX_HEAD)
			return err_set(e, ERR_TOO_BIG, "abi type: offset %zu: static size exceeds %zu bytes",
				       at, ABI_MAX_HEAD);
	}
	t->head_size = t->dynamic ? 32 : head;
	return 0;
}

/* Parses "(T1,...,Tn)" at p->pos; `mask` collects "indexed" marks. */
static int parse_tuple(struct abi_type *t, struct tparse *p, unsigned level,
		       unsigned *depth, uint64_t *mask, struct err *e)
{
	size_t at = p->pos, cap = 0;
	unsigned d, maxd = 0;
	int rc;

	if (level + 2 > ABI_MAX_DEPTH) /* the tuple and at least one level inside */
		return err_set(e, ERR_DEPTH, "abi type: offset %zu: nested deeper than %d",
			       at, ABI_MAX_DEPTH);
	memset(t, 0, sizeof *t);
	t->kind = ABI_TUPLE;
	p->pos++; /* '(' */
	if (p->pos < p->len && p->s[p->pos] == ')') {
		p->pos++;
		*depth = 1;
		return 0;
	}
	for (;;) {
		if (t->count == ABI_MAX_ARITY) {
			rc = err_set(e, ERR_TOO_BIG, "abi type: offset %zu: tuple has more than %d components",
				     at, ABI_MAX_ARITY);
			goto fail;
		}
		if (t->count == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct abi_type *n = realloc(t->items, ncap * sizeof *n);
			if (!n) {
				rc = err_set(e, ERR_NOMEM, "abi type: out of memory");
				goto fail;
			}
			t->items = n;
			cap = ncap;
		}
		rc = parse_type(&t->items[t->count], p, level + 1, &d, NULL, e);
		if (rc)
			goto fail;
		t->count++;
		if (d > maxd)
			maxd = d;
		if (mask && p->pos + 8 <= p->len && !memcmp(p->s + p->pos, " indexed", 8)) {
			if (t->count > 64) {
				rc = err_set(e, ERR_TOO_BIG, "abi type: offset %zu: indexed argument past 64",
					     p->pos);
				goto fail;
			}
			*mask |= (uint64_t)1 << (t->count - 1);
			p->pos += 8;
		}
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == ')') {
			p->pos++;
			break;
		}
		rc = err_set(e, ERR_INVALID, "abi type: offset %zu: ',' or ')' expected", p->pos);
		goto fail;
	}
	*depth = maxd + 1;
	rc = finish_sizes(t, at, e);
	if (rc)
		goto fail;
	return 0;
fail:
	type_release(t);
	return rc;
}

/* Parses an elementary type name at p->pos. */
static int parse_elementary(struct abi_type *t, struct tparse *p, struct err *e)
{
	size_t at = p->pos, m = 0, end = p->pos;
	int has;

	while (end < p->len && p->s[end] >= 'a' && p->s[end] <= 'z')
		end++;
	memset(t, 0, sizeof *t);
	t->head_size = 32;
#define IS(word) (end - at == sizeof(word) - 1 && !memcmp(p->s + at, word, sizeof(word) - 1))
	if (IS("uint") || IS("int") || IS("bytes")) {
		t->kind = IS("uint") ? ABI_UINT : IS("int") ? ABI_INT : ABI_FIXED_BYTES;
		p->pos = end;
		has = read_num(&m, p, e);
		if (has < 0)
			return has;
		if (t->kind == ABI_FIXED_BYTES) {
			if (!has) {
				t->kind = ABI_BYTES;
				t->dynamic = true;
				return 0;
			}
			if (m < 1 || m > 32)
				return err_set(e, ERR_INVALID, "abi type: offset %zu: bytes%zu: size must be 1..32",
					       at, m);
		} else if (!has) {
			m = 256;
		} else if (m < 8 || m > 256 || m % 8) {
			return err_set(e, ERR_INVALID, "abi type: offset %zu: %sint%zu: width must be 8..256 in steps of 8",
				       at, t->kind == ABI_UINT ? "u" : "", m);
		}
		t->m = (unsigned)m;
		return 0;
	}
	if (IS("address") || IS("bool") || IS("string")) {
		t->kind = IS("address") ? ABI_ADDRESS : IS("bool") ? ABI_BOOL : ABI_STRING;
		t->dynamic = t->kind == ABI_STRING;
		p->pos = end;
		return 0;
	}
	if (IS("fixed") || IS("ufixed") || IS("function"))
		return err_set(e, ERR_UNSUPPORTED, "abi type: offset %zu: %.*s types are not supported",
			       at, (int)(end - at), p->s + at);
#undef IS
	if (end == at)
		return err_set(e, ERR_INVALID, "abi type: offset %zu: type expected", at);
	return err_set(e, ERR_INVALID, "abi type: offset %zu: unknown type '%.*s'",
		       at, (int)(end - at > 32 ? 32 : end - at), p->s + at);
}

/* Parses one type with its array suffixes. `level` = enclosing nesting. */
static int parse_type(struct abi_type *t, struct tparse *p, unsigned level,
		      unsigned *depth, uint64_t *mask, struct err *e)
{
	size_t at = p->pos;
	unsigned d = 1;
	int rc;

	if (p->pos < p->len && p->s[p->pos] == '(')
		rc = parse_tuple(t, p, level, &d, mask, e);
	else
		rc = parse_elementary(t, p, e);
	if (rc)
		return rc;
	if (t->kind == ABI_TUPLE && t->count == 0 && level > 0) {
		type_release(t);
		return err_set(e, ERR_UNSUPPORTED, "abi type: offset %zu: empty tuple inside a type", at);
	}
	while (p->pos < p->len && p->s[p->pos] == '[') {
		size_t k = 0, bat = p->pos;
		struct abi_type *elem;

		p->pos++;
		rc = read_num(&k, p, e);
		if (rc < 0)
			goto fail;
		if (p->pos >= p->len || p->s[p->pos] != ']') {
			rc = err_set(e, ERR_INVALID, "abi type: offset %zu: ']' expected", p->pos);
			goto fail;
		}
		p->pos++;
		if (level + d >= ABI_MAX_DEPTH) {
			rc = err_set(e, ERR_DEPTH, "abi type: offset %zu: nested deeper than %d",
				     bat, ABI_MAX_DEPTH);
			goto fail;
		}
		if (rc == 1 && (k == 0 || k > ABI_MAX_FIXED_LEN)) {
			rc = err_set(e, k ? ERR_TOO_BIG : ERR_UNSUPPORTED,
				     "abi type: offset %zu: fixed array length %zu not in 1..%d",
				     bat, k, ABI_MAX_FIXED_LEN);
			goto fail;
		}
		if (t->kind == ABI_TUPLE && t->count == 0) {
			rc = err_set(e, ERR_UNSUPPORTED, "abi type: offset %zu: array of empty tuples", bat);
			goto fail;
		}
		elem = malloc(sizeof *elem);
		if (!elem) {
			rc = err_set(e, ERR_NOMEM, "abi type: out of memory");
			goto fail;
		}
		*elem = *t;
		memset(t, 0, sizeof *t);
		t->items = elem;
		t->count = 1;
		d++;
		if (rc == 1) {
			t->kind = ABI_FIXED_ARRAY;
			t->array_len = k;
			rc = finish_sizes(t, bat, e);
			if (rc)
				goto fail;
		} else {
			t->kind = ABI_ARRAY;
			t->dynamic = true;
			t->head_size = 32;
		}
	}
	*depth = d;
	return 0;
fail:
	type_release(t);
	return rc;
}

/* Parses s[0..len) as exactly one type (or a tuple with indexed marks). */
static int type_parse_n(struct abi_type **out, const char *s, size_t len,
			uint64_t *mask, struct err *e)
{
	struct tparse p = { s, 0, len };
	struct abi_type *t;
	unsigned depth;
	int rc;

	if (len > ABI_MAX_TYPE_LEN)
		return err_set(e, ERR_TOO_BIG, "abi type: %zu characters exceed the %d cap",
			       len, ABI_MAX_TYPE_LEN);
	t = malloc(sizeof *t);
	if (!t)
		return err_set(e, ERR_NOMEM, "abi type: out of memory");
	if (mask && (len == 0 || s[0] != '('))
		rc = err_set(e, ERR_INVALID, "abi signature: '(' expected");
	else if (mask)
		rc = parse_tuple(t, &p, 0, &depth, mask, e);
	else
		rc = parse_type(t, &p, 0, &depth, NULL, e);
	if (rc) {
		free(t);
		return rc;
	}
	if (p.pos != len) {
		abi_type_free(t);
		return err_set(e, ERR_INVALID, "abi type: offset %zu: unexpected '%c'", p.pos, s[p.pos]);
	}
	*out = t;
	return 0;
}

int abi_type_parse(struct abi_type **out, const char *s, struct err *e)
{
	return type_parse_n(out, s, strnlen(s, ABI_MAX_TYPE_LEN + 1), NULL, e);
}

int abi_type_format(struct buf *out, const struct abi_type *t)
{
	int rc = 0;

	switch (t->kind) {
	case ABI_UINT:
		return buf_printf(out, "uint%u", t->m);
	case ABI_INT:
		return buf_printf(out, "int%u", t->m);
	case ABI_ADDRESS:
		return buf_append_str(out, "address");
	case ABI_BOOL:
		return buf_append_str(out, "bool");
	case ABI_FIXED_BYTES:
		return buf_printf(out, "bytes%u", t->m);
	case ABI_BYTES:
		return buf_append_str(out, "bytes");
	case ABI_STRING:
		return buf_append_str(out, "string");
	case ABI_ARRAY:
		rc = abi_type_format(out, &t->items[0]);
		return rc ? rc : buf_append_str(out, "[]");
	case ABI_FIXED_ARRAY:
		rc = abi_type_format(out, &t->items[0]);
		return rc ? rc : buf_printf(out, "[%zu]", t->array_len);
	case ABI_TUPLE:
		rc = buf_append_byte(out, '(');
		for (size_t i = 0; i < t->count && !rc; i++) {
			if (i)
				rc = buf_append_byte(out, ',');
			if (!rc)
				rc = abi_type_format(out, &t->items[i]);
		}
		return rc ? rc : buf_append_byte(out, ')');
	default:
		return ERR_INVALID;
	}
}

static bool is_ident(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
	       (!first && c >= '0' && c <= '9');
}

int abi_signature_parse(struct abi_type **args, struct buf *canon,
			uint64_t *indexed_mask, const char *sig, struct err *e)
{
	size_t len = strnlen(sig, ABI_MAX_TYPE_LEN + 1), name = 0;
	struct abi_type *t = NULL;
	uint64_t mask = 0;
	size_t old = canon ? canon->len : 0;
	int rc;

	if (len > ABI_MAX_TYPE_LEN)
		return err_set(e, ERR_TOO_BIG, "abi signature: longer than %d characters",
			       ABI_MAX_TYPE_LEN);
	while (name < len && is_ident(sig[name], name == 0))
		name++;
	if (name == 0)
		return err_set(e, ERR_INVALID, "abi signature: offset 0: name expected");
	rc = type_parse_n(&t, sig + name, len - name, indexed_mask ? &mask : NULL, e);
	if (rc) {
		err_wrap(e, "in signature after the %zu-character name", name);
		return rc;
	}
	if (t->kind != ABI_TUPLE) {
		abi_type_free(t);
		return err_set(e, ERR_INVALID, "abi signature: offset %zu: '(' expected", name);
	}
	if (canon) {
		rc = buf_append(canon, sig, name);
		if (!rc)
			rc = abi_type_format(canon, t);
		if (rc) {
			canon->len = old;
			if (canon->data)
				canon->data[old] = '\0';
			abi_type_free(t);
			return err_set(e, rc, "abi signature: output buffer full");
		}
	}
	if (indexed_mask)
		*indexed_mask = mask;
	if (args)
		*args = t;
	else
		abi_type_free(t);
	return 0;
}

/* Hashes the canonical form of a signature. */
static int sig_hash(uint8_t out32[32], const char *sig, bool allow_indexed,
		    struct err *e)
{
	struct buf canon;
	uint64_t mask;
	int rc;

	buf_init(&canon, 2 * ABI_MAX_TYPE_LEN + 64);
	rc = abi_signature_parse(NULL, &canon, allow_indexed ? &mask : NULL, sig, e);
	if (!rc)
		keccak256(out32, canon.data, canon.len);
	buf_release(&canon);
	return rc;
}

int abi_selector(uint8_t out4[4], const char *signature, struct err *e)
{
	uint8_t h[32];
	int rc = sig_hash(h, signature, false, e);

	if (!rc)
		memcpy(out4, h, 4);
	return rc;
}

int abi_event_topic(uint8_t out32[32], const char *signature, struct err *e)
{
	return sig_hash(out32, signature, true, e);
}

/* Parses an argument list: "(T,...)" as is, anything else as "(...)". */
static int args_parse(struct abi_type **out, const char *types, struct err *e)
{
	struct abi_type *t = NULL;
	size_t len = strnlen(types, ABI_MAX_TYPE_LEN + 1);
	char *wrapped;
	int rc;

	if (abi_type_parse(&t, types, NULL) == 0) {
		if (t->kind == ABI_TUPLE) {
			*out = t;
			return 0;
		}
		abi_type_free(t);
	}
	if (len > ABI_MAX_TYPE_LEN - 2)
		return err_set(e, ERR_TOO_BIG, "abi type: %zu characters exceed the %d cap",
			       len, ABI_MAX_TYPE_LEN);
	wrapped = malloc(len + 3);
	if (!wrapped)
		return err_set(e, ERR_NOMEM, "abi type: out of memory");
	wrapped[0] = '(';
	memcpy(wrapped + 1, types, len);
	wrapped[len + 1] = ')';
	wrapped[len + 2] = '\0';
	rc = abi_type_parse(out, wrapped, e);
	if (rc)
		err_wrap(e, "argument list \"%.*s\"", (int)(len > 80 ? 80 : len + 2), wrapped);
	free(wrapped);
	return rc;
}

/* ---------------------------------------------------------------- values */

struct abi_value abi_v_uint(const u256 *v)
{
	struct abi_value r = { .kind = ABI_UINT, .num = *v };
	return r;
}

struct abi_value abi_v_u64(uint64_t v)
{
	struct abi_value r = { .kind = ABI_UINT, .num = u256_from_u64(v) };
	return r;
}

struct abi_value abi_v_int(const u256 *twos)
{
	struct abi_value r = { .kind = ABI_INT, .num = *twos };
	return r;
}

struct abi_value abi_v_i64(int64_t v)
{
	uint64_t ext = v < 0 ? UINT64_MAX : 0;
	struct abi_value r = { .kind = ABI_INT };

	r.num.w[0] = (uint64_t)v;
	r.num.w[1] = r.num.w[2] = r.num.w[3] = ext;
	return r;
}

struct abi_value abi_v_bool(bool v)
{
	struct abi_value r = { .kind = ABI_BOOL, .num = u256_from_u64(v) };
	return r;
}

struct abi_value abi_v_address(const struct eth_address *a)
{
	struct abi_value r = { .kind = ABI_ADDRESS, .len = 20 };
	memcpy(r.fixed, a->b, 20);
	return r;
}

struct abi_value abi_v_fixed_bytes(const uint8_t *p, size_t m)
{
	struct abi_value r = { .kind = ABI_FIXED_BYTES, .len = m };
	memcpy(r.fixed, p, m > 32 ? 32 : m);
	return r;
}

struct abi_value abi_v_bytes(const uint8_t *p, size_t n)
{
	struct abi_value r = { .kind = ABI_BYTES, .data = p, .len = n };
	return r;
}

struct abi_value abi_v_string(const char *s)
{
	struct abi_value r = { .kind = ABI_STRING, .data = (const uint8_t *)s,
			       .len = strlen(s) };
	return r;
}

struct abi_value abi_v_array(const struct abi_value *items, size_t n)
{
	struct abi_value r = { .kind = ABI_ARRAY, .items = items, .count = n };
	return r;
}

struct abi_value abi_v_tuple(const struct abi_value *items, size_t n)
{
	struct abi_value r = { .kind = ABI_TUPLE, .items = items, .count = n };
	return r;
}

bool abi_int_is_negative(const u256 *twos)
{
	return twos->w[3] >> 63;
}

/* Two's complement negation in place. */
static void u256_negate(u256 *a)
{
	unsigned __int128 carry = 1;

	for (int i = 0; i < 4; i++) {
		unsigned __int128 s = (unsigned __int128)(~a->w[i]) + carry;
		a->w[i] = (uint64_t)s;
		carry = s >> 64;
	}
}

int abi_int_parse(u256 *out, const char *s, struct err *e)
{
	bool neg = s[0] == '-';
	u256 v, limit = { { 0, 0, 0, (uint64_t)1 << 63 } };
	int rc = u256_parse(&v, s + neg, e);

	if (rc)
		return rc;
	/* |v| <= 2^255 when negative, < 2^255 otherwise. */
	if (u256_cmp(&v, &limit) > 0 || (!neg && u256_cmp(&v, &limit) == 0))
		return err_set(e, ERR_RANGE, "int256: %s is out of range", s);
	if (neg)
		u256_negate(&v);
	*out = v;
	return 0;
}

/* ---------------------------------------------------------------- encoder */

static const char *kind_name(enum abi_kind k)
{
	static const char *const names[] = {
		"?", "uint", "int", "address", "bool", "bytesN", "bytes", "string",
		"array", "fixed array", "tuple", "topic hash",
	};
	return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* "uint8", "bytes32", "address"...: the type's name for messages. */
static const char *tname(char buf[16], const struct abi_type *t)
{
	if (t->kind == ABI_UINT || t->kind == ABI_INT || t->kind == ABI_FIXED_BYTES) {
		snprintf(buf, 16, "%s%u", t->kind == ABI_UINT ? "uint" :
			 t->kind == ABI_INT ? "int" : "bytes", t->m);
		return buf;
	}
	return kind_name(t->kind);
}

/* True when the top 256-m bits of v are zero. */
static bool fits_unsigned(const u256 *v, unsigned m)
{
	for (unsigned bit = m; bit < 256; bit += 64 - bit % 64) {
		uint64_t w = v->w[bit / 64];
		if (bit % 64 ? w >> (bit % 64) : w)
			return false;
	}
	return true;
}

/* True when v is the sign extension of its low m bits. */
static bool fits_signed(const u256 *v, unsigned m)
{
	u256 t = *v;

	if (abi_int_is_negative(&t))
		u256_negate(&t);
	/* Now |v|; negative values may reach exactly 2^(m-1). */
	if (abi_int_is_negative(v)) {
		u256 one = u256_from_u64(1), lim;
		if (u256_sub(&lim, &t, &one))
			return false;
		return fits_unsigned(&lim, m - 1);
	}
	return fits_unsigned(&t, m - 1);
}

static int put(struct buf *out, const void *p, size_t n, struct err *e)
{
	int rc = buf_append(out, p, n);

	return rc ? err_set(e, rc, "abi encode: output exceeds its %zu-byte cap", out->max) : 0;
}

static int put_len(struct buf *out, size_t n, struct err *e)
{
	uint8_t w[32];
	u256 v = u256_from_u64((uint64_t)n);

	u256_to_be32(w, &v);
	return put(out, w, 32, e);
}

static int enc(struct buf *out, const struct abi_type *t,
	       const struct abi_value *v, struct err *e);

/* Heads then tails of n components (types[i], or types[0] for all). */
static int enc_seq(struct buf *out, const struct abi_type *types, bool same,
		   const struct abi_value *vals, size_t n, struct err *e)
{
	size_t start = out->len, hp = start;
	static const uint8_t zero[32];
	int rc;

	for (size_t i = 0; i < n; i++) {
		const struct abi_type *t = same ? types : &types[i];
		rc = t->dynamic ? put(out, zero, 32, e) : enc(out, t, &vals[i], e);
		if (rc) {
			err_wrap(e, "item %zu", i);
			return rc;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct abi_type *t = same ? types : &types[i];
		if (t->dynamic) {
			u256 off = u256_from_u64((uint64_t)(out->len - start));
			u256_to_be32(out->data + hp, &off);
			rc = enc(out, t, &vals[i], e);
			if (rc) {
				err_wrap(e, "item %zu", i);
				return rc;
			}
		}
		hp += t->head_size;
	}
	return 0;
}

static int enc(struct buf *out, const struct abi_type *t,
	       const struct abi_value *v, struct err *e)
{
	uint8_t w[32] = { 0 };
	enum abi_kind k = v->kind;
	static const uint8_t zero[32];
	int rc;

	switch (t->kind) {
	case ABI_UINT:
	case ABI_INT:
		if (k != ABI_UINT && k != ABI_INT)
			break;
		if ((t->kind == ABI_UINT && (k == ABI_INT && abi_int_is_negative(&v->num))) ||
		    (t->kind == ABI_UINT && !fits_unsigned(&v->num, t->m)) ||
		    (t->kind == ABI_INT && k == ABI_UINT && !fits_unsigned(&v->num, t->m - 1)) ||
		    (t->kind == ABI_INT && k == ABI_INT && !fits_signed(&v->num, t->m))) {
			char dec[U256_DEC_MAX + 1];
			u256 mag = v->num;
			bool neg = k == ABI_INT && abi_int_is_negative(&mag);
			if (neg)
				u256_negate(&mag);
			u256_to_dec(dec, &mag);
			return err_set(e, ERR_RANGE, "abi encode: %sint%u: value %s%s out of range",
				       t->kind == ABI_UINT ? "u" : "", t->m, neg ? "-" : "", dec);
		}
		u256_to_be32(w, &v->num);
		return put(out, w, 32, e);
	case ABI_BOOL:
		if (k != ABI_BOOL)
			break;
		if (!fits_unsigned(&v->num, 1))
			return err_set(e, ERR_RANGE, "abi encode: bool: value is neither 0 nor 1");
		u256_to_be32(w, &v->num);
		return put(out, w, 32, e);
	case ABI_ADDRESS:
		if (k != ABI_ADDRESS)
			break;
		memcpy(w + 12, v->fixed, 20);
		return put(out, w, 32, e);
	case ABI_FIXED_BYTES:
		if (k != ABI_FIXED_BYTES)
			break;
		if (v->len != t->m)
			return err_set(e, ERR_INVALID, "abi encode: bytes%u: value has %zu bytes",
				       t->m, v->len);
		memcpy(w, v->fixed, t->m);
		return put(out, w, 32, e);
	case ABI_BYTES:
	case ABI_STRING:
		if (k != ABI_BYTES && k != ABI_STRING)
			break;
		if (v->len && !v->data)
			return err_set(e, ERR_INVALID, "abi encode: %s: NULL data", kind_name(t->kind));
		rc = put_len(out, v->len, e);
		if (!rc && v->len)
			rc = put(out, v->data, v->len, e);
		if (!rc && v->len % 32)
			rc = put(out, zero, 32 - v->len % 32, e);
		return rc;
	case ABI_ARRAY:
	case ABI_FIXED_ARRAY:
		if (k != ABI_ARRAY && k != ABI_FIXED_ARRAY)
			break;
		if (v->count && !v->items)
			return err_set(e, ERR_INVALID, "abi encode: array: NULL items");
		if (t->kind == ABI_FIXED_ARRAY && v->count != t->array_len)
			return err_set(e, ERR_INVALID, "abi encode: fixed array of %zu: value has %zu items",
				       t->array_len, v->count);
		if (t->kind == ABI_ARRAY && (rc = put_len(out, v->count, e)))
			return rc;
		return enc_seq(out, &t->items[0], true, v->items, v->count, e);
	case ABI_TUPLE:
		if (k != ABI_TUPLE)
			break;
		if (v->count != t->count || (v->count && !v->items))
			return err_set(e, ERR_INVALID, "abi encode: tuple of %zu: value has %zu items",
				       t->count, v->count);
		return enc_seq(out, t->items, false, v->items, v->count, e);
	default:
		break;
	}
	return err_set(e, ERR_INVALID, "abi encode: %s value given for a %s",
		       kind_name(k), kind_name(t->kind));
}

int abi_encode_value(struct buf *out, const struct abi_type *t,
		     const struct abi_value *v, struct err *e)
{
	size_t old = out->len;
	int rc = enc(out, t, v, e);

	if (rc) {
		out->len = old;
		if (out->data)
			out->data[old] = '\0';
	}
	return rc;
}

int abi_encode(struct buf *out, const char *types,
	       const struct abi_value *args, size_t n, struct err *e)
{
	struct abi_type *t;
	struct abi_value tuple = abi_v_tuple(args, n);
	int rc = args_parse(&t, types, e);

	if (rc)
		return rc;
	if (n != t->count)
		rc = err_set(e, ERR_INVALID, "abi encode: %zu arguments given, %zu expected",
			     n, t->count);
	else
		rc = abi_encode_value(out, t, &tuple, e);
	abi_type_free(t);
	return rc;
}

int abi_encode_call(struct buf *out, const char *signature,
		    const struct abi_value *args, size_t n, struct err *e)
{
	struct abi_type *t;
	struct abi_value tuple = abi_v_tuple(args, n);
	uint8_t sel[4];
	size_t old = out->len;
	int rc = abi_selector(sel, signature, e);

	if (rc)
		return rc;
	rc = abi_signature_parse(&t, NULL, NULL, signature, e);
	if (rc)
		return rc;
	if (n != t->count) {
		rc = err_set(e, ERR_INVALID, "abi encode: %zu arguments given, %zu expected",
			     n, t->count);
	} else {
		rc = put(out, sel, 4, e);
		if (!rc)
			rc = abi_encode_value(out, t, &tuple, e);
		if (rc) {
			out->len = old;
			if (out->data)
				out->data[old] = '\0';
		}
	}
	abi_type_free(t);
	return rc;
}

/* ---------------------------------------------------------------- decoder */

struct dctx {
	const uint8_t *d;   /* input */
	size_t n;           /* input bytes */
	uint8_t *arena;     /* filling pass: the block; NULL while counting */
	size_t used;        /* arena bytes handed out (or counted) */
	size_t budget;      /* most arena bytes allowed */
	struct err *e;
};

static size_t round_up(size_t n, size_t a)
{
	return (n + a - 1) / a * a;
}

/* Takes sz bytes from the arena; counting pass: checks the budget only. */
static int dalloc(void **p, struct dctx *c, size_t sz)
{
	sz = round_up(sz, ABI_ALIGN);
	if (!c->arena) {
		if (sz > c->budget - c->used)
			return err_set(c->e, ERR_TOO_BIG,
				       "abi decode: decoded tree would exceed %zu bytes for %zu input bytes",
				       c->budget, c->n);
		c->used += sz;
		*p = NULL;
		return 0;
	}
	*p = c->arena + c->used;
	c->used += sz;
	return 0;
}

/* Points *w at the 32-byte word at `at`, or fails naming what was read. */
static int dword(const uint8_t **w, struct dctx *c, size_t at, const char *what)
{
	if (at > c->n || c->n - at < 32)
		return err_set(c->e, ERR_INVALID, "abi decode: offset %zu: %s needs 32 bytes, %zu left",
			       at, what, at > c->n ? 0 : c->n - at);
	*w = c->d + at;
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Reads a length or offset word: must be below 2^64 and <= limit `unit`. */
static int dsize(size_t *out, struct dctx *c, size_t at, const char *what,
		 size_t limit, const char *unit)
{
	const uint8_t *w = NULL;
	uint64_t v = 0;
	int rc = dword(&w, c, at, what);

	if (rc)
		return rc;
	if (!all_zero(w, 24))
		return err_set(c->e, ERR_RANGE, "abi decode: offset %zu: %s is far too large", at, what);
	for (int i = 24; i < 32; i++)
		v = (v << 8) | w[i];
	if (v > limit)
		return err_set(c->e, ERR_RANGE, "abi decode: offset %zu: %s %llu exceeds the %zu %s left",
			       at, what, (unsigned long long)v, limit, unit);
	*out = (size_t)v;
	return 0;
}

static int dec(struct dctx *c, const struct abi_type *t, size_t at, size_t *end,
	       struct abi_value *v);

/* Heads then tails of n components starting at `base`. */
static int dec_seq(struct dctx *c, const struct abi_type *types, bool same,
		   size_t n, size_t base, size_t *end, struct abi_value *parent)
{
	size_t head = 0, tail, hp = base, e2;
	struct abi_value *items;
	void *mem;
	int rc;

	for (size_t i = 0; i < n; i++)
		head += (same ? types : &types[i])->head_size;
	if (base > c->n || head > c->n - base)
		return err_set(c->e, ERR_INVALID,
			       "abi decode: offset %zu: %zu heads need %zu bytes, %zu left",
			       base, n, head, base > c->n ? 0 : c->n - base);
	rc = dalloc(&mem, c, n * sizeof *items);
	if (rc)
		return rc;
	items = mem;
	if (parent) {
		parent->items = items;
		parent->count = n;
	}
	tail = base + head;
	for (size_t i = 0; i < n; i++) {
		const struct abi_type *t = same ? types : &types[i];
		struct abi_value *v = items ? &items[i] : NULL;
		if (t->dynamic) {
			size_t off;
			rc = dsize(&off, c, hp, "offset", c->n - base, "bytes");
			if (rc)
				return rc;
			if (base + off != tail)
				return err_set(c->e, ERR_NONCANONICAL,
					       "abi decode: offset %zu: item %zu offset %zu points to byte %zu, canonical is %zu",
					       hp, i, off, base + off, tail);
			rc = dec(c, t, tail, &e2, v);
			if (rc)
				return rc;
			tail = e2;
		} else {
			rc = dec(c, t, hp, &e2, v);
			if (rc)
				return rc;
		}
		hp += t->head_size;
	}
	*end = tail;
	return 0;
}

static int dec(struct dctx *c, const struct abi_type *t, size_t at, size_t *end,
	       struct abi_value *v)
{
	const uint8_t *w = NULL;
	size_t len, pad, count;
	void *mem;
	int rc;

	if (v) {
		memset(v, 0, sizeof *v);
		v->kind = t->kind;
	}
	switch (t->kind) {
	case ABI_UINT:
	case ABI_INT:
	case ABI_ADDRESS:
	case ABI_BOOL:
	case ABI_FIXED_BYTES: {
		size_t hi = t->kind == ABI_ADDRESS ? 12 : t->kind == ABI_BOOL ? 31 :
			    t->kind == ABI_FIXED_BYTES ? 0 : 32 - t->m / 8;
		char nm[16];
		rc = dword(&w, c, at, tname(nm, t));
		if (rc)
			return rc;
		if (t->kind == ABI_INT) {
			uint8_t sign = hi < 32 && (w[hi] & 0x80) ? 0xff : 0x00;
			for (size_t i = 0; i < hi; i++)
				if (w[i] != sign)
					return err_set(c->e, ERR_NONCANONICAL,
						       "abi decode: offset %zu: int%u is not sign-extended",
						       at, t->m);
		} else if (t->kind == ABI_FIXED_BYTES) {
			if (!all_zero(w + t->m, 32 - t->m))
				return err_set(c->e, ERR_NONCANONICAL,
					       "abi decode: offset %zu: bytes%u has non-zero padding",
					       at, t->m);
		} else if (!all_zero(w, hi)) {
			return err_set(c->e, ERR_NONCANONICAL,
				       "abi decode: offset %zu: %s has non-zero high bytes (value out of range)",
				       at, nm);
		}
		if (t->kind == ABI_BOOL && w[31] > 1)
			return err_set(c->e, ERR_NONCANONICAL,
				       "abi decode: offset %zu: bool is %u, not 0 or 1", at, w[31]);
		if (v) {
			if (t->kind == ABI_ADDRESS) {
				memcpy(v->fixed, w + 12, 20);
				v->len = 20;
			} else if (t->kind == ABI_FIXED_BYTES) {
				memcpy(v->fixed, w, t->m);
				v->len = t->m;
			} else {
				u256_from_be32(&v->num, w);
			}
		}
		*end = at + 32;
		return 0;
	}
	case ABI_BYTES:
	case ABI_STRING:
		rc = dsize(&len, c, at, "length", at + 32 <= c->n ? c->n - at - 32 : 0, "bytes");
		if (rc)
			return rc;
		pad = round_up(len, 32);
		if (pad > c->n - at - 32)
			return err_set(c->e, ERR_INVALID,
				       "abi decode: offset %zu: %s of %zu bytes lacks its padding",
				       at, kind_name(t->kind), len);
		if (!all_zero(c->d + at + 32 + len, pad - len))
			return err_set(c->e, ERR_NONCANONICAL,
				       "abi decode: offset %zu: %s has non-zero padding",
				       at + 32 + len, kind_name(t->kind));
		rc = dalloc(&mem, c, len + 1);
		if (rc)
			return rc;
		if (v) {
			memcpy(mem, c->d + at + 32, len);
			((uint8_t *)mem)[len] = '\0';
			v->data = mem;
			v->len = len;
		}
		*end = at + 32 + pad;
		return 0;
	case ABI_ARRAY:
		rc = dsize(&count, c, at, "array length",
			   at + 32 <= c->n ? (c->n - at - 32) / t->items[0].head_size : 0,
			   "elements that fit in the bytes");
		if (rc)
			return rc;
		at += 32;
		goto seq;
	case ABI_FIXED_ARRAY:
		count = t->array_len;
		goto seq;
	case ABI_TUPLE:
		count = t->count;
	seq:
		if (t->kind == ABI_TUPLE)
			return dec_seq(c, t->items, false, count, at, end, v);
		return dec_seq(c, &t->items[0], true, count, at, end, v);
	default:
		return err_set(c->e, ERR_INVALID, "abi decode: bad type");
	}
}

/* Budget: one node per nesting level for every input word, plus the bytes. */
static size_t decode_budget(size_t n)
{
	return (n / 32 + 1) * (ABI_MAX_DEPTH + 2) * round_up(sizeof(struct abi_value), ABI_ALIGN) +
	       2 * n + 4096;
}

/*
 * Decodes into a fresh block that starts with `prefix` spare bytes; the
 * value tree's root follows them. Returns the block in *block.
 */
static int decode_block(uint8_t **block, size_t prefix, const struct abi_type *t,
			const uint8_t *data, size_t n, struct err *e)
{
	struct dctx c = { data, n, NULL, 0, 0, e };
	struct abi_value *root;
	size_t end;
	void *mem;
	int rc;

	if (n > ABI_MAX_DATA)
		return err_set(e, ERR_TOO_BIG, "abi decode: %zu bytes exceed the %zu-byte cap",
			       n, ABI_MAX_DATA);
	if (!data && n)
		return err_set(e, ERR_INVALID, "abi decode: NULL data");
	c.budget = decode_budget(n);
	rc = dalloc(&mem, &c, sizeof *root);
	if (!rc)
		rc = dec(&c, t, 0, &end, NULL);
	if (rc)
		return rc;
	if (end != n)
		return err_set(e, ERR_NONCANONICAL, "abi decode: offset %zu: %zu trailing bytes",
			       end, n - end);
	c.arena = malloc(prefix + c.used);
	if (!c.arena)
		return err_set(e, ERR_NOMEM, "abi decode: out of memory");
	*block = c.arena;
	c.arena += prefix;
	c.used = 0;
	dalloc(&mem, &c, sizeof *root);
	root = mem;
	dec(&c, t, 0, &end, root);
	return 0;
}

int abi_decode_value(struct abi_value **out, const struct abi_type *t,
		     const uint8_t *data, size_t n, struct err *e)
{
	uint8_t *block;
	int rc = decode_block(&block, 0, t, data, n, e);

	if (!rc)
		*out = (struct abi_value *)block;
	return rc;
}

void abi_value_free(struct abi_value *v)
{
	free(v);
}

int abi_decode(struct abi_value **out, const char *types_tuple,
	       const uint8_t *data, size_t n, struct err *e)
{
	struct abi_type *t;
	int rc = args_parse(&t, types_tuple, e);

	if (rc)
		return rc;
	rc = abi_decode_value(out, t, data, n, e);
	abi_type_free(t);
	return rc;
}

int abi_decode_call(struct abi_value **out, const char *signature,
		    const uint8_t *data, size_t n, struct err *e)
{
	struct abi_type *t;
	uint8_t sel[4];
	int rc = abi_selector(sel, signature, e);

	if (rc)
		return rc;
	if (n < 4 || memcmp(data, sel, 4))
		return err_set(e, ERR_INVALID, "abi decode: calldata does not start with the selector of %s",
			       signature);
	rc = abi_signature_parse(&t, NULL, NULL, signature, e);
	if (rc)
		return rc;
	rc = abi_decode_value(out, t, data + 4, n - 4, e);
	abi_type_free(t);
	return rc;
}

/* ---------------------------------------------------------------- events */

static bool is_indexed(uint64_t mask, size_t i)
{
	return i < 64 && ((mask >> i) & 1);
}

static bool is_value_type(enum abi_kind k)
{
	return k == ABI_UINT || k == ABI_INT || k == ABI_ADDRESS || k == ABI_BOOL ||
	       k == ABI_FIXED_BYTES;
}

int abi_decode_event(struct abi_value **out, const char *event_decl,
		     const uint8_t (*topics)[32], size_t ntopics,
		     const uint8_t *data, size_t n, struct err *e)
{
	struct abi_type *args = NULL, rest = { .kind = ABI_TUPLE };
	struct abi_value *root, *items, *drest;
	uint8_t topic0[32], *block = NULL;
	uint64_t mask = 0;
	size_t nidx = 0, prefix, ti = 1, ri = 0;
	int rc;

	rc = abi_event_topic(topic0, event_decl, e);
	if (rc)
		return rc;
	rc = abi_signature_parse(&args, NULL, &mask, event_decl, e);
	if (rc)
		return rc;
	for (size_t i = 0; i < args->count; i++)
		nidx += is_indexed(mask, i);
	if (nidx > ABI_MAX_TOPICS - 1 || ntopics != nidx + 1 || !topics) {
		rc = err_set(e, ERR_INVALID, "abi event: %zu topics given, %zu expected",
			     ntopics, nidx + 1);
		goto out;
	}
	if (memcmp(topics[0], topic0, 32)) {
		rc = err_set(e, ERR_INVALID, "abi event: topic0 is not the hash of %s", event_decl);
		goto out;
	}
	rest.items = calloc(args->count + 1, sizeof *rest.items);
	if (!rest.items) {
		rc = err_set(e, ERR_NOMEM, "abi event: out of memory");
		goto out;
	}
	for (size_t i = 0; i < args->count; i++)
		if (!is_indexed(mask, i))
			rest.items[rest.count++] = args->items[i];
	rc = finish_sizes(&rest, 0, e);
	if (rc)
		goto out;
	/* Value-typed topics first, so a bad topic fails before allocating. */
	for (size_t i = 0, k = 1; i < args->count; i++) {
		struct dctx c = { topics[0], 32, NULL, 0, 0, e };
		size_t end;
		if (!is_indexed(mask, i))
			continue;
		c.d = topics[k];
		if (is_value_type(args->items[i].kind) &&
		    (rc = dec(&c, &args->items[i], 0, &end, NULL))) {
			err_wrap(e, "abi event: topic %zu (argument %zu)", k, i);
			goto out;
		}
		k++;
	}
	prefix = round_up(sizeof *root, ABI_ALIGN) +
		 round_up((args->count + 1) * sizeof *items, ABI_ALIGN);
	rc = decode_block(&block, prefix, &rest, data, n, e);
	if (rc) {
		err_wrap(e, "abi event data");
		goto out;
	}
	root = (struct abi_value *)block;
	items = (struct abi_value *)(block + round_up(sizeof *root, ABI_ALIGN));
	drest = (struct abi_value *)(block + prefix);
	memset(root, 0, sizeof *root);
	root->kind = ABI_TUPLE;
	root->items = items;
	root->count = args->count;
	for (size_t i = 0; i < args->count; i++) {
		if (is_indexed(mask, i)) {
			struct dctx c = { topics[ti], 32, NULL, 0, 0, NULL };
			size_t end;
			memset(&items[i], 0, sizeof items[i]);
			if (is_value_type(args->items[i].kind)) {
				dec(&c, &args->items[i], 0, &end, &items[i]);
			} else {
				items[i].kind = ABI_TOPIC_HASH;
				memcpy(items[i].fixed, topics[ti], 32);
				items[i].len = 32;
			}
			ti++;
		} else {
			items[i] = drest->items[ri++];
		}
	}
	*out = root;
out:
	free(rest.items);
	abi_type_free(args);
	return rc;
}

/* ---------------------------------------------------------------- reverts */

static const uint8_t sel_error[4] = { 0x08, 0xc3, 0x79, 0xa0 }; /* Error(string) */
static const uint8_t sel_panic[4] = { 0x4e, 0x48, 0x7b, 0x71 }; /* Panic(uint256) */

/* Panic codes as listed in the Solidity docs ("Panic via assert"). */
static const char *panic_text(const u256 *code)
{
	static const struct {
		uint64_t code;
		const char *text;
	} tab[] = {
		{ 0x00, "generic compiler panic" },
		{ 0x01, "assert failed" },
		{ 0x11, "arithmetic overflow or underflow" },
		{ 0x12, "division or modulo by zero" },
		{ 0x21, "invalid enum value" },
		{ 0x22, "corrupt storage byte array" },
		{ 0x31, "pop() on an empty array" },
		{ 0x32, "array index out of bounds" },
		{ 0x41, "too much memory allocated" },
		{ 0x51, "call to a zero-initialized function" },
	};
	uint64_t c;

	if (u256_to_u64(&c, code) == 0)
		for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
			if (tab[i].code == c)
				return tab[i].text;
	return "unknown panic code";
}

int abi_decode_revert(struct abi_revert *out, const uint8_t *data, size_t n,
		      const char *const *customs, size_t ncustoms, struct err *e)
{
	struct abi_revert r = { 0 };
	int rc;

	if (n == 0) {
		r.kind = ABI_REVERT_EMPTY;
		*out = r;
		return 0;
	}
	if (n < 4 || !data)
		return err_set(e, ERR_INVALID, "abi revert: %zu bytes, too short for a selector", n);
	memcpy(r.selector, data, 4);
	if (!memcmp(data, sel_error, 4)) {
		rc = abi_decode(&r.args, "(string)", data + 4, n - 4, e);
		if (rc) {
			err_wrap(e, "abi revert Error(string)");
			return rc;
		}
		r.kind = ABI_REVERT_ERROR;
		r.message = (const char *)r.args->items[0].data;
		r.message_len = r.args->items[0].len;
	} else if (!memcmp(data, sel_panic, 4)) {
		rc = abi_decode(&r.args, "(uint256)", data + 4, n - 4, e);
		if (rc) {
			err_wrap(e, "abi revert Panic(uint256)");
			return rc;
		}
		r.kind = ABI_REVERT_PANIC;
		r.panic_code = r.args->items[0].num;
		r.panic_text = panic_text(&r.panic_code);
	} else {
		r.kind = ABI_REVERT_UNKNOWN;
		for (size_t i = 0; i < ncustoms; i++) {
			uint8_t sel[4];
			rc = abi_selector(sel, customs[i], e);
			if (rc) {
				err_wrap(e, "abi revert: custom error %zu", i);
				return rc;
			}
			if (memcmp(sel, data, 4))
				continue;
			rc = abi_decode_call(&r.args, customs[i], data, n, e);
			if (rc) {
				err_wrap(e, "abi revert %s", customs[i]);
				return rc;
			}
			r.kind = ABI_REVERT_CUSTOM;
			r.custom = i;
			break;
		}
	}
	*out = r;
	return 0;
}

void abi_revert_release(struct abi_revert *r)
{
	if (!r)
		return;
	abi_value_free(r->args);
	r->args = NULL;
	r->message = NULL;
}
