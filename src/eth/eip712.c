/*
 * eip712.c — EIP-712 typed data hashing for arbitrary struct types (see
 * eip712.h).
 *
 * A type set is parsed once into a table of structs whose members carry a
 * resolved type (base kind, bit size or byte width, referenced struct index,
 * array dimensions); each struct's typeHash is computed when the set is
 * built. Values are encoded by one recursive walker that reads either a
 * jansson value or a C struct eip712_val array (exactly one is given), keeps
 * the dotted path of the member being encoded for error messages, and stops
 * at EIP712_MAX_DEPTH levels and EIP712_MAX_VALUES encoded values, so
 * hostile input costs bounded time and memory.
 */
#include "eth/eip712.h"
#include "eth/keccak.h"
#include "eth/secp.h"
#include "core/err.h"
#include "core/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

enum base_kind {
	K_UINT,    /* uintN, size = N bits */
	K_INT,     /* intN, size = N bits */
	K_ADDRESS,
	K_BOOL,
	K_BYTESN,  /* bytesN, size = N bytes */
	K_BYTES,   /* dynamic bytes */
	K_STRING,
	K_STRUCT,  /* sidx = referenced struct */
};

/* A member's resolved type. dims[ndims-1] is the outermost (last written). */
struct ftype {
	enum base_kind kind;             /* base type */
	unsigned size;                   /* bits (u)intN, bytes bytesN, else 0 */
	int sidx;                        /* struct index for K_STRUCT, else -1 */
	unsigned ndims;                  /* array dimensions, 0 for a scalar */
	uint32_t dims[EIP712_MAX_DIMS];  /* each: fixed length, or 0 = dynamic */
};

struct field {
	char name[EIP712_MAX_NAME + 1];     /* member name */
	char type[EIP712_MAX_TYPE_STR + 1]; /* type as written, e.g. "Person[]" */
	struct ftype ft;                    /* resolved form of `type` */
};

struct stype {
	char name[EIP712_MAX_NAME + 1]; /* struct type name */
	size_t nfields;                 /* members in declaration order */
	struct field *fields;           /* owned, nfields entries */
	uint8_t type_hash[32];          /* keccak256(encodeType(name)) */
};

struct eip712_types {
	size_t n;                           /* structs in use */
	int primary;                        /* index of the primary type, -1 none */
	struct stype s[EIP712_MAX_TYPES];   /* the structs */
};

/* ---- small helpers ------------------------------------------------------ */

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* True when s[0..len) is an identifier of at most EIP712_MAX_NAME bytes. */
static bool ident_ok(const char *s, size_t len)
{
	if (len == 0 || len > EIP712_MAX_NAME || !is_ident_start(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_ident_char(s[i]))
			return false;
	return true;
}

/* Parses a decimal without sign or leading zero, 1..max; -1 when invalid. */
static long parse_small(const char *s, size_t len, long max)
{
	long v = 0;

	if (len == 0 || len > 6 || s[0] == '0')
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

static int find_struct(const struct eip712_types *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->s[i].name) == len && memcmp(t->s[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/*
 * Resolves an atomic or dynamic base type name; returns false when `s` is
 * not one (it may then be a struct name).
 */
static bool parse_base_atomic(struct ftype *ft, const char *s, size_t len)
{
	long n;

	ft->sidx = -1;
	ft->size = 0;
	if (len == 7 && !memcmp(s, "address", 7)) {
		ft->kind = K_ADDRESS;
		return true;
	}
	if (len == 4 && !memcmp(s, "bool", 4)) {
		ft->kind = K_BOOL;
		return true;
	}
	if (len == 6 && !memcmp(s, "string", 6)) {
		ft->kind = K_STRING;
		return true;
	}
	if (len == 5 && !memcmp(s, "bytes", 5)) {
		ft->kind = K_BYTES;
		return true;
	}
	if (len > 5 && !memcmp(s, "bytes", 5)) {
		n = parse_small(s + 5, len - 5, 32);
		if (n < 1)
			return false;
		ft->kind = K_BYTESN;
		ft->size = (unsigned)n;
		return true;
	}
	if ((len > 4 && !memcmp(s, "uint", 4)) || (len > 3 && !memcmp(s, "int", 3))) {
		size_t off = s[0] == 'u' ? 4 : 3;
		n = parse_small(s + off, len - off, 256);
		if (n < 8 || n % 8)
			return false;
		ft->kind = s[0] == 'u' ? K_UINT : K_INT;
		ft->size = (unsigned)n;
		return true;
	}
	return false;
}

/* True when `s` names a base type that is not a struct (reserved). */
static bool is_reserved_name(const char *s, size_t len)
{
	struct ftype ft;

	if (parse_base_atomic(&ft, s, len))
		return true;
	/* Prefixes of atomic families with bad sizes are confusing as struct names. */
	return (len >= 4 && !memcmp(s, "uint", 4)) || (len >= 3 && !memcmp(s, "int", 3)) ||
	       (len >= 5 && !memcmp(s, "bytes", 5));
}

/* Resolves field->type into field->ft; `where` names the member for errors. */
static int resolve_field(const struct eip712_types *t, struct field *f, const char *where,
			 struct err *e)
{
	const char *s = f->type;
	size_t blen = strcspn(s, "[");
	const char *p = s + blen;
	struct ftype ft = { .sidx = -1 };

	if (!parse_base_atomic(&ft, s, blen)) {
		int idx = find_struct(t, s, blen);
		if (idx < 0)
			return err_set(e, ERR_INVALID, "%s: unknown type '%.*s'", where, (int)blen, s);
		ft.kind = K_STRUCT;
		ft.sidx = idx;
	}
	while (*p) {
		const char *close;
		long n = 0;

		if (*p != '[' || !(close = strchr(p, ']')))
			return err_set(e, ERR_INVALID, "%s: bad array suffix in type '%s'", where, s);
		if (ft.ndims == EIP712_MAX_DIMS)
			return err_set(e, ERR_TOO_BIG, "%s: more than %d array dimensions in '%s'",
				       where, EIP712_MAX_DIMS, s);
		if (close > p + 1) {
			n = parse_small(p + 1, (size_t)(close - p - 1), EIP712_MAX_ARRAY);
			if (n < 1)
				return err_set(e, ERR_INVALID,
					       "%s: bad array length in type '%s' (1..%d)", where,
					       s, EIP712_MAX_ARRAY);
		}
		ft.dims[ft.ndims++] = (uint32_t)n;
		p = close + 1;
	}
	f->ft = ft;
	return 0;
}

/* ---- encodeType --------------------------------------------------------- */

static void collect_deps(const struct eip712_types *t, int idx, bool *seen)
{
	const struct stype *st = &t->s[idx];

	for (size_t i = 0; i < st->nfields; i++) {
		int d = st->fields[i].ft.sidx;
		if (st->fields[i].ft.kind == K_STRUCT && !seen[d]) {
			seen[d] = true;
			collect_deps(t, d, seen);
		}
	}
}

static int append_struct_decl(struct buf *b, const struct stype *st)
{
	int rc = buf_append_str(b, st->name);

	rc = rc ? rc : buf_append_byte(b, '(');
	for (size_t i = 0; !rc && i < st->nfields; i++) {
		if (i)
			rc = buf_append_byte(b, ',');
		rc = rc ? rc : buf_append_str(b, st->fields[i].type);
		rc = rc ? rc : buf_append_byte(b, ' ');
		rc = rc ? rc : buf_append_str(b, st->fields[i].name);
	}
	return rc ? rc : buf_append_byte(b, ')');
}

/* Appends encodeType of struct `idx` (primary first, deps sorted by name). */
static int encode_type_idx(struct buf *out, const struct eip712_types *t, int idx)
{
	bool seen[EIP712_MAX_TYPES] = { false };
	int order[EIP712_MAX_TYPES];
	size_t n = 0;
	int rc;

	seen[idx] = true;
	collect_deps(t, idx, seen);
	for (size_t i = 0; i < t->n; i++)
		if (seen[i] && (int)i != idx)
			order[n++] = (int)i;
	/* Insertion sort by name (strcmp: byte order, as in the EIP's JS). */
	for (size_t i = 1; i < n; i++) {
		int v = order[i];
		size_t j = i;
		while (j > 0 && strcmp(t->s[order[j - 1]].name, t->s[v].name) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = v;
	}
	rc = append_struct_decl(out, &t->s[idx]);
	for (size_t i = 0; !rc && i < n; i++)
		rc = append_struct_decl(out, &t->s[order[i]]);
	return rc;
}

/* Resolves every member and computes every typeHash. */
static int types_finish(struct eip712_types *t, const char *prefix, struct err *e)
{
	struct buf b;
	char where[EIP712_MAX_NAME * 2 + 48];
	int rc = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct stype *st = &t->s[i];
		for (size_t j = 0; j < st->nfields; j++) {
			snprintf(where, sizeof where, "%s%s.%s", prefix, st->name,
				 st->fields[j].name);
			rc = resolve_field(t, &st->fields[j], where, e);
			if (rc)
				return rc;
		}
	}
	buf_init(&b, (size_t)1 << 20);
	for (size_t i = 0; !rc && i < t->n; i++) {
		buf_reset(&b);
		rc = encode_type_idx(&b, t, (int)i);
		if (!rc)
			keccak256(t->s[i].type_hash, b.data, b.len);
	}
	buf_release(&b);
	if (rc)
		return err_set(e, rc, "encodeType: %s", err_str(rc));
	return 0;
}

static struct eip712_types *types_new(void)
{
	struct eip712_types *t = calloc(1, sizeof *t);

	if (t)
		t->primary = -1;
	return t;
}

void eip712_types_free(struct eip712_types *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->s[i].fields);
	free(t);
}

const char *eip712_types_primary(const struct eip712_types *t)
{
	return t && t->primary >= 0 ? t->s[t->primary].name : NULL;
}

/* Adds struct `name` with room for `nfields`; checks name and duplicates. */
static int types_add(struct eip712_types *t, struct stype **out, const char *name, size_t len,
		     size_t nfields, const char *where, struct err *e)
{
	struct stype *st;

	if (t->n == EIP712_MAX_TYPES)
		return err_set(e, ERR_TOO_BIG, "%s: more than %d struct types", where,
			       EIP712_MAX_TYPES);
	if (!ident_ok(name, len))
		return err_set(e, ERR_INVALID, "%s: bad type name '%.*s'", where,
			       (int)(len > 80 ? 80 : len), name);
	if (is_reserved_name(name, len))
		return err_set(e, ERR_INVALID, "%s: '%.*s' is a built-in type name", where,
			       (int)len, name);
	if (find_struct(t, name, len) >= 0)
		return err_set(e, ERR_INVALID, "%s: type '%.*s' defined twice", where, (int)len, name);
	if (nfields > EIP712_MAX_FIELDS)
		return err_set(e, ERR_TOO_BIG, "%s: more than %d members", where, EIP712_MAX_FIELDS);
	st = &t->s[t->n];
	memset(st, 0, sizeof *st);
	st->fields = calloc(nfields ? nfields : 1, sizeof *st->fields);
	if (!st->fields)
		return err_set(e, ERR_NOMEM, "%s: out of memory", where);
	memcpy(st->name, name, len);
	st->name[len] = 0;
	t->n++;
	*out = st;
	return 0;
}

/* Appends a member to `st`; the type is resolved later. */
static int field_add(struct stype *st, const char *type, size_t tlen, const char *name,
		     size_t nlen, const char *where, struct err *e)
{
	struct field *f = &st->fields[st->nfields];

	if (!ident_ok(name, nlen))
		return err_set(e, ERR_INVALID, "%s: bad member name '%.*s'", where,
			       (int)(nlen > 80 ? 80 : nlen), name);
	if (tlen == 0 || tlen > EIP712_MAX_TYPE_STR)
		return err_set(e, ERR_INVALID, "%s: type must be 1..%d bytes", where,
			       EIP712_MAX_TYPE_STR);
	for (size_t i = 0; i < tlen; i++)
		if (!is_ident_char(type[i]) && type[i] != '[' && type[i] != ']')
			return err_set(e, ERR_INVALID, "%s: bad character in type '%.*s'", where,
				       (int)tlen, type);
	for (size_t i = 0; i < st->nfields; i++)
		if (strlen(st->fields[i].name) == nlen && !memcmp(st->fields[i].name, name, nlen))
			return err_set(e, ERR_INVALID, "%s: member '%.*s' declared twice", where,
				       (int)nlen, name);
	memcpy(f->name, name, nlen);
	f->name[nlen] = 0;
	memcpy(f->type, type, tlen);
	f->type[tlen] = 0;
	st->nfields++;
	return 0;
}

int eip712_types_parse(struct eip712_types **out, const char *decl, struct err *e)
{
	struct eip712_types *t;
	const char *p = decl;
	size_t dlen;
	int rc = 0;

	if (!decl || !*decl)
		return err_set(e, ERR_INVALID, "types: empty declaration");
	dlen = strnlen(decl, EIP712_MAX_DECL + 1);
	if (dlen > EIP712_MAX_DECL)
		return err_set(e, ERR_TOO_BIG, "types: declaration exceeds %zu bytes",
			       EIP712_MAX_DECL);
	t = types_new();
	if (!t)
		return err_set(e, ERR_NOMEM, "types: out of memory");
	while (*p && !rc) {
		const char *open = strchr(p, '(');
		const char *close = open ? strchr(open, ')') : NULL;
		struct stype *st;
		size_t nf = 0;
		char where[48];

		snprintf(where, sizeof where, "types offset %zu", (size_t)(p - decl));
		if (!open || !close) {
			rc = err_set(e, ERR_INVALID, "%s: expected Name(type name,...)", where);
			break;
		}
		if (close > open + 1) {
			nf = 1;
			for (const char *q = open + 1; q < close; q++)
				nf += *q == ',';
		}
		rc = types_add(t, &st, p, (size_t)(open - p), nf, where, e);
		for (const char *q = open + 1; !rc && q < close;) {
			const char *sp = memchr(q, ' ', (size_t)(close - q));
			const char *end = sp ? memchr(sp, ',', (size_t)(close - sp)) : NULL;

			end = end ? end : close;
			snprintf(where, sizeof where, "types offset %zu", (size_t)(q - decl));
			if (!sp) {
				rc = err_set(e, ERR_INVALID, "%s: expected 'type name'", where);
				break;
			}
			rc = field_add(st, q, (size_t)(sp - q), sp + 1, (size_t)(end - sp - 1),
				       where, e);
			q = end < close ? end + 1 : close;
			if (!rc && end < close && q == close)
				rc = err_set(e, ERR_INVALID, "%s: trailing ','", where);
		}
		p = close + 1;
	}
	if (!rc)
		rc = types_finish(t, "", e);
	if (rc) {
		eip712_types_free(t);
		return rc;
	}
	t->primary = 0;
	*out = t;
	return 0;
}

/* The EIP712Domain members EIP-712 defines, in the EIP's order. */
static const struct {
	const char *name;
	const char *type;
} domain_members[] = {
	{ "name", "string" },
	{ "version", "string" },
	{ "chainId", "uint256" },
	{ "verifyingContract", "address" },
	{ "salt", "bytes32" },
};
#define DOMAIN_MEMBERS (sizeof domain_members / sizeof domain_members[0])
#define DOMAIN_TYPE_MAX 256 /* "EIP712Domain(string name,...,bytes32 salt)" */

/* Checks a member of EIP712Domain against the EIP's list. */
static int check_domain_member(const struct field *f, const char *where, struct err *e)
{
	for (size_t i = 0; i < DOMAIN_MEMBERS; i++) {
		if (strcmp(f->name, domain_members[i].name))
			continue;
		if (strcmp(f->type, domain_members[i].type))
			return err_set(e, ERR_INVALID, "%s: EIP712Domain.%s must be %s", where,
				       f->name, domain_members[i].type);
		return 0;
	}
	return err_set(e, ERR_INVALID, "%s: '%s' is not an EIP712Domain member", where, f->name);
}

/* Builds a set from a v4 `types` object; `domain` (may be NULL) derives EIP712Domain. */
static int types_from_json(struct eip712_types **out, const json_t *types,
			   const json_t *domain, struct err *e)
{
	struct eip712_types *t;
	const char *key;
	json_t *val;
	int rc = 0;

	if (!json_is_object(types))
		return err_set(e, ERR_INVALID, "types: expected an object");
	if (json_object_size(types) > EIP712_MAX_TYPES)
		return err_set(e, ERR_TOO_BIG, "types: more than %d types", EIP712_MAX_TYPES);
	t = types_new();
	if (!t)
		return err_set(e, ERR_NOMEM, "types: out of memory");
	json_object_foreach((json_t *)types, key, val) {
		struct stype *st;
		char where[EIP712_MAX_NAME + 96];
		size_t i;
		json_t *fj;

		snprintf(where, sizeof where, "types.%.*s", EIP712_MAX_NAME + 8, key);
		if (!json_is_array(val)) {
			rc = err_set(e, ERR_INVALID, "%s: expected an array of {name, type}", where);
			break;
		}
		rc = types_add(t, &st, key, strlen(key), json_array_size(val), where, e);
		if (rc)
			break;
		json_array_foreach(val, i, fj) {
			json_t *nj = json_object_get(fj, "name"), *tj = json_object_get(fj, "type");

			snprintf(where, sizeof where, "types.%.*s[%zu]", EIP712_MAX_NAME + 8, key, i);
			if (!json_is_string(nj) || !json_is_string(tj)) {
				rc = err_set(e, ERR_INVALID, "%s: expected {\"name\": string, \"type\": string}",
					     where);
				break;
			}
			rc = field_add(st, json_string_value(tj), json_string_length(tj),
				       json_string_value(nj), json_string_length(nj), where, e);
			if (!rc && !strcmp(st->name, "EIP712Domain"))
				rc = check_domain_member(&st->fields[st->nfields - 1], where, e);
			if (rc)
				break;
		}
		if (rc)
			break;
	}
	if (!rc && domain && find_struct(t, "EIP712Domain", 12) < 0) {
		struct stype *st;

		if (!json_is_object(domain)) {
			rc = err_set(e, ERR_INVALID, "domain: expected an object");
		} else {
			rc = types_add(t, &st, "EIP712Domain", 12, DOMAIN_MEMBERS, "domain", e);
			for (size_t i = 0; !rc && i < DOMAIN_MEMBERS; i++)
				if (json_object_get(domain, domain_members[i].name))
					rc = field_add(st, domain_members[i].type,
						       strlen(domain_members[i].type),
						       domain_members[i].name,
						       strlen(domain_members[i].name), "domain", e);
		}
	}
	if (!rc)
		rc = types_finish(t, "types.", e);
	if (rc) {
		eip712_types_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int eip712_types_from_json(struct eip712_types **out, const json_t *types, struct err *e)
{
	return types_from_json(out, types, NULL, e);
}

static int lookup(const struct eip712_types *t, const char *name, struct err *e)
{
	int idx = name ? find_struct(t, name, strlen(name)) : -1;

	if (idx < 0)
		return err_set(e, ERR_NOT_FOUND, "type '%s' is not defined", name ? name : "(null)");
	return idx;
}

int eip712_encode_type(struct buf *out, const struct eip712_types *t, const char *name,
		       struct err *e)
{
	struct buf b;
	int idx = lookup(t, name, e), rc;

	if (idx < 0)
		return idx;
	buf_init(&b, (size_t)1 << 20);
	rc = encode_type_idx(&b, t, idx);
	if (!rc)
		rc = buf_append(out, b.data, b.len);
	buf_release(&b);
	return rc ? err_set(e, rc, "encodeType(%s): %s", name, err_str(rc)) : 0;
}

int eip712_type_hash(uint8_t out32[32], const struct eip712_types *t, const char *name,
		     struct err *e)
{
	int idx = lookup(t, name, e);

	if (idx < 0)
		return idx;
	memcpy(out32, t->s[idx].type_hash, 32);
	return 0;
}

/* ---- encodeData ---------------------------------------------------------- */

struct enc {
	const struct eip712_types *t; /* the type set */
	size_t budget;                /* values left before ERR_TOO_BIG */
	char path[256];               /* member being encoded, for errors */
	size_t plen;                  /* strlen(path) */
	struct err *e;                /* where errors go */
};

/* Records that n more bytes were written at the end of the path. */
static size_t path_grow(struct enc *c, size_t old, int n)
{
	if (n > 0)
		c->plen = old + (size_t)n < sizeof c->path ? old + (size_t)n : sizeof c->path - 1;
	return old;
}

/* Appends ".name" to the path; returns the old length for path_pop. */
static size_t path_push_name(struct enc *c, const char *name)
{
	size_t old = c->plen;

	return path_grow(c, old, snprintf(c->path + old, sizeof c->path - old, ".%s", name));
}

/* Appends "[i]" to the path; returns the old length for path_pop. */
static size_t path_push_index(struct enc *c, size_t i)
{
	size_t old = c->plen;

	return path_grow(c, old, snprintf(c->path + old, sizeof c->path - old, "[%zu]", i));
}

static void path_pop(struct enc *c, size_t old)
{
	c->plen = old;
	c->path[old] = 0;
}

/* Number of significant bits of a. */
static unsigned u256_bits(const u256 *a)
{
	for (int i = 3; i >= 0; i--)
		if (a->w[i])
			return (unsigned)(64 * i + 64 - __builtin_clzll(a->w[i]));
	return 0;
}

/* Encodes sign+magnitude as an (u)intN word, range-checked. */
static int enc_integer(struct enc *c, const struct ftype *ft, bool neg, const u256 *mag,
		       uint8_t out32[32])
{
	unsigned bits = u256_bits(mag);
	uint8_t w[32];

	if (u256_is_zero(mag))
		neg = false;
	if (ft->kind == K_UINT) {
		if (neg)
			return err_set(c->e, ERR_RANGE, "%s: negative value for uint%u", c->path,
				       ft->size);
		if (bits > ft->size)
			return err_set(c->e, ERR_RANGE, "%s: value does not fit in uint%u", c->path,
				       ft->size);
		u256_to_be32(out32, mag);
		return 0;
	}
	/* intN: -2^(N-1) <= v < 2^(N-1); only -2^(N-1) itself has N bits. */
	if (bits >= ft->size) {
		unsigned ones = 0;
		for (int i = 0; i < 4; i++)
			ones += (unsigned)__builtin_popcountll(mag->w[i]);
		if (!neg || bits > ft->size || ones != 1)
			return err_set(c->e, ERR_RANGE, "%s: value does not fit in int%u", c->path,
				       ft->size);
	}
	u256_to_be32(w, mag);
	if (neg) {
		unsigned carry = 1;
		for (int i = 31; i >= 0; i--) {
			unsigned v = (uint8_t)~w[i] + carry;
			w[i] = (uint8_t)v;
			carry = v >> 8;
		}
	}
	memcpy(out32, w, 32);
	return 0;
}

static int json_integer_word(struct enc *c, const struct ftype *ft, const json_t *v,
			     uint8_t out32[32])
{
	u256 mag;
	bool neg = false;

	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);
		uint64_t m;
		neg = x < 0;
		m = neg ? (uint64_t)(-(x + 1)) + 1 : (uint64_t)x;
		mag = u256_from_u64(m);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (strlen(s) != json_string_length(v) || strlen(s) > 80)
			return err_set(c->e, ERR_INVALID, "%s: bad number", c->path);
		if (s[0] == '-' && ft->kind == K_INT) {
			neg = true;
			s++;
		}
		int rc = u256_parse(&mag, s, c->e);
		if (rc) {
			err_wrap(c->e, "%s: bad %s%u", c->path,
				 ft->kind == K_UINT ? "uint" : "int", ft->size);
			return rc;
		}
	} else {
		return err_set(c->e, ERR_INVALID,
			       "%s: expected an integer or a decimal/0x-hex string", c->path);
	}
	return enc_integer(c, ft, neg, &mag, out32);
}

static int json_hex(struct enc *c, const json_t *v, uint8_t **out, size_t *len, const char *what)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) != json_string_length(v) || !hex_has_prefix(s))
		return err_set(c->e, ERR_INVALID, "%s: expected a 0x-hex string for %s", c->path,
			       what);
	int rc = hex_decode_alloc(out, len, s, EIP712_MAX_BYTES, c->e);
	if (rc)
		err_wrap(c->e, "%s: bad %s", c->path, what);
	return rc;
}

static int kind_error(struct enc *c, const char *want)
{
	return err_set(c->e, ERR_INVALID, "%s: expected %s", c->path, want);
}

static int hash_struct(struct enc *c, int sidx, const json_t *j, const struct eip712_val *vals,
		       size_t nvals, uint8_t out32[32], unsigned depth);

/* Encodes one member value (JSON `j` or C `cv`) of type ft with `ndims` dims left. */
static int enc_value(struct enc *c, const struct ftype *ft, unsigned ndims, const json_t *j,
		     const struct eip712_val *cv, uint8_t out32[32], unsigned depth);

/* An array (the outermost of ndims dimensions): the hash of its elements' words. */
static int enc_array(struct enc *c, const struct ftype *ft, unsigned ndims, const json_t *j,
		     const struct eip712_val *cv, uint8_t out32[32], unsigned depth)
{
	uint32_t fixed = ft->dims[ndims - 1];
	uint8_t w[32];
	size_t n;
	struct keccak256_ctx k;
	int rc;

	if (j && !json_is_array(j))
		return kind_error(c, "an array");
	if (cv && cv->kind != EIP712_ARRAY)
		return kind_error(c, "an array (EIP712_ARRAY)");
	n = j ? json_array_size(j) : cv->list.n;
	if (n > EIP712_MAX_ARRAY)
		return err_set(c->e, ERR_TOO_BIG, "%s: more than %d elements", c->path, EIP712_MAX_ARRAY);
	if (fixed && n != fixed)
		return err_set(c->e, ERR_INVALID, "%s: expected %u elements, got %zu", c->path, (unsigned)fixed, n);
	if (cv && n && !cv->list.v)
		return kind_error(c, "elements (NULL list)");
	keccak256_init(&k);
	for (size_t i = 0; i < n; i++) {
		size_t old = path_push_index(c, i);
		rc = enc_value(c, ft, ndims - 1, j ? json_array_get(j, i) : NULL, cv ? &cv->list.v[i] : NULL, w,
			       depth + 1);
		if (rc)
			return rc;
		path_pop(c, old);
		keccak256_update(&k, w, 32);
	}
	keccak256_final(out32, &k);
	return 0;
}

/* A string: the hash of its bytes. */
static int enc_string(struct enc *c, const json_t *j, const struct eip712_val *cv, uint8_t out32[32])
{
	const char *s;
	size_t len;

	if (j) {
		if (!json_is_string(j))
			return kind_error(c, "a string");
		s = json_string_value(j);
		len = json_string_length(j);
	} else {
		if (cv->kind != EIP712_STRING || !cv->str)
			return kind_error(c, "a string (EIP712_STRING)");
		s = cv->str;
		len = strnlen(s, EIP712_MAX_BYTES + 1);
	}
	if (len > EIP712_MAX_BYTES)
		return err_set(c->e, ERR_TOO_BIG, "%s: string longer than %zu bytes", c->path, EIP712_MAX_BYTES);
	keccak256(out32, (const uint8_t *)s, len);
	return 0;
}

/* bytes (the hash of them) or bytesN (exactly N, left-aligned in the word). */
static int enc_bytes(struct enc *c, const struct ftype *ft, const json_t *j, const struct eip712_val *cv,
		     uint8_t out32[32])
{
	uint8_t w[32] = { 0 }, *p = NULL;
	const uint8_t *bp;
	size_t len;
	const char *what = ft->kind == K_BYTES ? "bytes" : "bytesN";
	int rc = 0;

	if (j) {
		if ((rc = json_hex(c, j, &p, &len, what)))
			return rc;
		bp = p;
	} else {
		if (cv->kind != EIP712_BYTES || (cv->bytes.len && !cv->bytes.p))
			return kind_error(c, "bytes (EIP712_BYTES)");
		bp = cv->bytes.p;
		len = cv->bytes.len;
		if (len > EIP712_MAX_BYTES)
			return err_set(c->e, ERR_TOO_BIG, "%s: longer than %zu bytes", c->path, EIP712_MAX_BYTES);
	}
	if (ft->kind == K_BYTES) {
		keccak256(out32, bp ? bp : w, len);
	} else if (len != ft->size) {
		rc = err_set(c->e, ERR_INVALID, "%s: bytes%u needs exactly %u bytes, got %zu", c->path, ft->size,
			     ft->size, len);
	} else {
		memcpy(w, bp, len);
		memcpy(out32, w, 32);
	}
	free(p);
	return rc;
}

/* An address, right-aligned in the word. */
static int enc_address(struct enc *c, const json_t *j, const struct eip712_val *cv, uint8_t out32[32])
{
	uint8_t w[32] = { 0 };
	struct eth_address a;

	if (j) {
		if (!json_is_string(j))
			return kind_error(c, "an address string");
		if (strlen(json_string_value(j)) != json_string_length(j))
			return err_set(c->e, ERR_INVALID, "%s: bad address", c->path);
		int arc = address_parse(&a, json_string_value(j), c->e);
		if (arc) {
			err_wrap(c->e, "%s: bad address", c->path);
			return arc;
		}
	} else {
		if (cv->kind != EIP712_ADDRESS)
			return kind_error(c, "an address (EIP712_ADDRESS)");
		a = cv->addr;
	}
	memcpy(w + 12, a.b, 20);
	memcpy(out32, w, 32);
	return 0;
}

/* A bool: 0 or 1 in the word. */
static int enc_bool(struct enc *c, const json_t *j, const struct eip712_val *cv, uint8_t out32[32])
{
	uint8_t w[32] = { 0 };
	bool b;

	if (j) {
		if (!json_is_boolean(j))
			return kind_error(c, "true or false");
		b = json_is_true(j);
	} else {
		if (cv->kind != EIP712_BOOL)
			return kind_error(c, "a bool (EIP712_BOOL)");
		b = cv->boolean;
	}
	w[31] = b ? 1 : 0;
	memcpy(out32, w, 32);
	return 0;
}

/* An intN / uintN from JSON or from a C value (EIP712_UINT, _U64, _I64). */
static int enc_int(struct enc *c, const struct ftype *ft, const json_t *j, const struct eip712_val *cv,
		   uint8_t out32[32])
{
	u256 mag;
	bool neg = false;

	if (j)
		return json_integer_word(c, ft, j, out32);
	switch (cv->kind) {
	case EIP712_UINT:
		mag = cv->uint256;
		break;
	case EIP712_U64:
		mag = u256_from_u64(cv->u64);
		break;
	case EIP712_I64:
		neg = cv->i64 < 0;
		mag = u256_from_u64(neg ? (uint64_t)(-(cv->i64 + 1)) + 1 : (uint64_t)cv->i64);
		break;
	default:
		return kind_error(c, "an integer (EIP712_UINT/U64/I64)");
	}
	return enc_integer(c, ft, neg, &mag, out32);
}

/* One value's 32-byte word (encodeData of EIP-712), from JSON j or from the C value cv. */
static int enc_value(struct enc *c, const struct ftype *ft, unsigned ndims, const json_t *j,
		     const struct eip712_val *cv, uint8_t out32[32], unsigned depth)
{
	if (depth > EIP712_MAX_DEPTH)
		return err_set(c->e, ERR_DEPTH, "%s: nested deeper than %d", c->path, EIP712_MAX_DEPTH);
	if (c->budget == 0)
		return err_set(c->e, ERR_TOO_BIG, "%s: more than %d values", c->path, EIP712_MAX_VALUES);
	c->budget--;
	if (cv && cv->kind == EIP712_WORD) {
		memcpy(out32, cv->word, 32);
		return 0;
	}
	if (ndims > 0)
		return enc_array(c, ft, ndims, j, cv, out32, depth);
	switch (ft->kind) {
	case K_STRUCT:
		if (j && !json_is_object(j))
			return kind_error(c, "an object");
		if (cv && cv->kind != EIP712_STRUCT)
			return kind_error(c, "a struct (EIP712_STRUCT)");
		return hash_struct(c, ft->sidx, j, cv ? cv->list.v : NULL, cv ? cv->list.n : 0, out32, depth + 1);
	case K_STRING:
		return enc_string(c, j, cv, out32);
	case K_BYTES:
	case K_BYTESN:
		return enc_bytes(c, ft, j, cv, out32);
	case K_ADDRESS:
		return enc_address(c, j, cv, out32);
	case K_BOOL:
		return enc_bool(c, j, cv, out32);
	case K_UINT:
	case K_INT:
		return enc_int(c, ft, j, cv, out32);
	}
	return err_set(c->e, ERR_INVALID, "%s: unhandled type", c->path);
}

static int hash_struct(struct enc *c, int sidx, const json_t *j, const struct eip712_val *vals,
		       size_t nvals, uint8_t out32[32], unsigned depth)
{
	const struct stype *st = &c->t->s[sidx];
	struct keccak256_ctx k;
	uint8_t w[32];

	if (depth > EIP712_MAX_DEPTH)
		return err_set(c->e, ERR_DEPTH, "%s: nested deeper than %d", c->path,
			       EIP712_MAX_DEPTH);
	if (j) {
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)j, key, v) {
			bool known = false;
			for (size_t i = 0; i < st->nfields && !known; i++)
				known = !strcmp(st->fields[i].name, key);
			if (!known)
				return err_set(c->e, ERR_INVALID, "%s.%.64s: not a member of %s",
					       c->path, key, st->name);
		}
	} else if (nvals != st->nfields) {
		return err_set(c->e, ERR_INVALID, "%s: %s has %zu members, got %zu values", c->path,
			       st->name, st->nfields, nvals);
	} else if (nvals && !vals) {
		return err_set(c->e, ERR_INVALID, "%s: NULL member list", c->path);
	}
	keccak256_init(&k);
	keccak256_update(&k, st->type_hash, 32);
	for (size_t i = 0; i < st->nfields; i++) {
		const struct field *f = &st->fields[i];
		const json_t *fj = j ? json_object_get(j, f->name) : NULL;
		size_t old = path_push_name(c, f->name);
		int rc;

		if (j && !fj)
			return err_set(c->e, ERR_INVALID, "%s: missing", c->path);
		rc = enc_value(c, &f->ft, f->ft.ndims, fj, j ? NULL : &vals[i], w, depth);
		if (rc)
			return rc;
		path_pop(c, old);
		keccak256_update(&k, w, 32);
	}
	keccak256_final(out32, &k);
	return 0;
}

static void enc_init(struct enc *c, const struct eip712_types *t, const char *root,
		     struct err *e)
{
	c->t = t;
	c->budget = EIP712_MAX_VALUES;
	c->e = e;
	snprintf(c->path, sizeof c->path, "%s", root);
	c->plen = strlen(c->path);
}

int eip712_hash_struct_json(uint8_t out32[32], const struct eip712_types *t,
			    const char *name, const json_t *value, const char *path,
			    struct err *e)
{
	struct enc c;
	int idx = lookup(t, name, e);

	if (idx < 0)
		return idx;
	enc_init(&c, t, path ? path : "message", e);
	if (!json_is_object(value))
		return err_set(e, ERR_INVALID, "%s: expected an object", c.path);
	return hash_struct(&c, idx, value, NULL, 0, out32, 0);
}

int eip712_hash_struct_vals(uint8_t out32[32], const struct eip712_types *t,
			    const char *name, const struct eip712_val *vals, size_t n,
			    struct err *e)
{
	struct enc c;
	int idx = lookup(t, name, e);

	if (idx < 0)
		return idx;
	enc_init(&c, t, t->s[idx].name, e);
	return hash_struct(&c, idx, NULL, vals, n, out32, 0);
}

/* ---- domain and digest --------------------------------------------------- */

int eip712_domain_separator(uint8_t out32[32], const struct eip712_domain *d, struct err *e)
{
	struct buf type;
	struct keccak256_ctx k;
	uint8_t w[32];
	bool has[DOMAIN_MEMBERS];
	int rc = 0;

	if (!d)
		return err_set(e, ERR_INVALID, "domain: NULL");
	has[0] = d->name != NULL;
	has[1] = d->version != NULL;
	has[2] = d->has_chain_id;
	has[3] = d->verifying_contract != NULL;
	has[4] = d->salt32 != NULL;
	if ((d->name && strnlen(d->name, EIP712_MAX_BYTES + 1) > EIP712_MAX_BYTES) ||
	    (d->version && strnlen(d->version, EIP712_MAX_BYTES + 1) > EIP712_MAX_BYTES))
		return err_set(e, ERR_TOO_BIG, "domain: name/version longer than %zu bytes",
			       EIP712_MAX_BYTES);
	buf_init(&type, DOMAIN_TYPE_MAX);
	rc = buf_append_str(&type, "EIP712Domain(");
	for (size_t i = 0, first = 1; !rc && i < DOMAIN_MEMBERS; i++) {
		if (!has[i])
			continue;
		rc = buf_printf(&type, "%s%s %s", first ? "" : ",", domain_members[i].type,
				domain_members[i].name);
		first = 0;
	}
	rc = rc ? rc : buf_append_byte(&type, ')');
	if (rc) {
		buf_release(&type);
		return err_set(e, rc, "domain: %s", err_str(rc));
	}
	keccak256(w, type.data, type.len);
	buf_release(&type);
	keccak256_init(&k);
	keccak256_update(&k, w, 32);
	if (d->name) {
		keccak256(w, (const uint8_t *)d->name, strlen(d->name));
		keccak256_update(&k, w, 32);
	}
	if (d->version) {
		keccak256(w, (const uint8_t *)d->version, strlen(d->version));
		keccak256_update(&k, w, 32);
	}
	if (d->has_chain_id) {
		u256 id = u256_from_u64(d->chain_id);
		u256_to_be32(w, &id);
		keccak256_update(&k, w, 32);
	}
	if (d->verifying_contract) {
		memset(w, 0, 12);
		memcpy(w + 12, d->verifying_contract->b, 20);
		keccak256_update(&k, w, 32);
	}
	if (d->salt32)
		keccak256_update(&k, d->salt32, 32);
	keccak256_final(out32, &k);
	return 0;
}

void eip712_digest(uint8_t out32[32], const uint8_t domain_sep32[32],
		   const uint8_t struct_hash32[32])
{
	static const uint8_t prefix[2] = { 0x19, 0x01 };
	struct keccak256_ctx k;

	keccak256_init(&k);
	keccak256_update(&k, prefix, 2);
	keccak256_update(&k, domain_sep32, 32);
	keccak256_update(&k, struct_hash32, 32);
	keccak256_final(out32, &k);
}

int eip712_digest_vals(uint8_t digest32[32], const struct eip712_domain *d,
		       const char *decl, const struct eip712_val *vals, size_t n,
		       struct err *e)
{
	struct eip712_types *t;
	uint8_t ds[32], sh[32];
	int rc = eip712_domain_separator(ds, d, e);

	if (rc)
		return rc;
	rc = eip712_types_parse(&t, decl, e);
	if (rc)
		return rc;
	rc = eip712_hash_struct_vals(sh, t, eip712_types_primary(t), vals, n, e);
	eip712_types_free(t);
	if (rc)
		return rc;
	eip712_digest(digest32, ds, sh);
	return 0;
}

int eip712_json_hash_obj(struct eip712_hashes *out, const json_t *root, struct err *e)
{
	struct eip712_types *t;
	struct eip712_hashes h;
	const json_t *types, *primary, *domain, *message;
	const char *key;
	json_t *v;
	int rc;

	if (!json_is_object(root))
		return err_set(e, ERR_INVALID, "typed data: expected a JSON object");
	json_object_foreach((json_t *)root, key, v) {
		if (strcmp(key, "types") && strcmp(key, "primaryType") && strcmp(key, "domain") &&
		    strcmp(key, "message"))
			return err_set(e, ERR_INVALID, "%.64s: unexpected key in typed data", key);
	}
	types = json_object_get(root, "types");
	primary = json_object_get(root, "primaryType");
	domain = json_object_get(root, "domain");
	message = json_object_get(root, "message");
	if (!types)
		return err_set(e, ERR_INVALID, "types: missing");
	if (!json_is_string(primary))
		return err_set(e, ERR_INVALID, "primaryType: missing or not a string");
	if (!json_is_object(domain))
		return err_set(e, ERR_INVALID, "domain: missing or not an object");
	if (!json_is_object(message))
		return err_set(e, ERR_INVALID, "message: missing or not an object");
	if (!strcmp(json_string_value(primary), "EIP712Domain"))
		return err_set(e, ERR_UNSUPPORTED, "primaryType: EIP712Domain as primary type is not supported");
	rc = types_from_json(&t, types, domain, e);
	if (rc)
		return rc;
	if (find_struct(t, json_string_value(primary), json_string_length(primary)) < 0) {
		eip712_types_free(t);
		return err_set(e, ERR_INVALID, "primaryType: '%.64s' is not in types",
			       json_string_value(primary));
	}
	rc = eip712_hash_struct_json(h.domain_separator, t, "EIP712Domain", domain, "domain", e);
	if (!rc)
		rc = eip712_hash_struct_json(h.message_hash, t, json_string_value(primary),
					     message, "message", e);
	eip712_types_free(t);
	if (rc)
		return rc;
	eip712_digest(h.digest, h.domain_separator, h.message_hash);
	*out = h;
	return 0;
}

int eip712_json_hash(struct eip712_hashes *out, const char *json, size_t len, struct err *e)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	if (!json)
		return err_set(e, ERR_INVALID, "typed data: NULL");
	if (len > EIP712_MAX_JSON)
		return err_set(e, ERR_TOO_BIG, "typed data: %zu bytes exceeds the %zu-byte cap", len,
			       EIP712_MAX_JSON);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return err_set(e, ERR_INVALID, "typed data: bad JSON at line %d column %d: %s",
			       jerr.line, jerr.column, jerr.text);
	rc = eip712_json_hash_obj(out, root, e);
	json_decref(root);
	return rc;
}

int eip712_json_sign(uint8_t sig65[65], const char *json, size_t len,
		     const uint8_t seckey32[32], struct err *e)
{
	struct eip712_hashes h;
	uint8_t sig[65];
	int rc = eip712_json_hash(&h, json, len, e);

	if (rc)
		return rc;
	rc = secp_sign(sig, h.digest, seckey32, e);
	if (rc)
		return rc;
	sig[64] += 27;
	memcpy(sig65, sig, 65);
	return 0;
}

int eip712_json_recover(struct eth_address *signer, const char *json, size_t len,
			const uint8_t sig65[65], struct err *e)
{
	struct eip712_hashes h;
	int rc = eip712_json_hash(&h, json, len, e);

	if (rc)
		return rc;
	return secp_recover_address(signer, h.digest, sig65, e);
}
