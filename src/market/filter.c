/*
 * filter.c — parser of the offer filter language and the reference
 * one-offer evaluator (see filter.h and docs/search.md).
 *
 * The parser is a single left-to-right pass over at most FILTER_TEXT_MAX
 * bytes with no allocation; every value is converted to an exact integer in
 * its field's fixed-point unit. Errors carry the offset of the token at
 * fault and the clause text around it.
 */
#include "market/filter.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

#define VMAX FILTER_VALUE_MAX

const struct filter_field filter_fields[] = {
	/* name            type        pl col                   sort  max     unit */
	{ "gpu",           FT_STR,     0, OSTR_GPU,             false, 0,     "model or family: A100, rtx_4090" },
	{ "num_gpus",      FT_INT,     0, OCOL_NUM_GPUS,        true,  VMAX,  "GPUs" },
	{ "vram",          FT_DEC,     3, OCOL_VRAM,            true,  VMAX,  "GiB per GPU" },
	{ "tflops",        FT_DEC,     3, OCOL_TFLOPS,          true,  VMAX,  "fp32 TFLOPS, all GPUs" },
	{ "gpu_tflops",    FT_DEC,     3, OCOL_GPU_TFLOPS,      true,  VMAX,  "fp32 TFLOPS per GPU" },
	{ "tflops16",      FT_DEC,     3, OCOL_TFLOPS16,        true,  VMAX,  "fp16 TFLOPS, all GPUs" },
	{ "bandwidth",     FT_INT,     0, OCOL_BANDWIDTH,       true,  VMAX,  "GB/s per GPU" },
	{ "verified",      FT_BOOL,    0, OCOL_VERIFIED,        true,  1,     "bool" },
	{ "simulated",     FT_BOOL,    0, OCOL_SIMULATED,       true,  1,     "bool" },
	{ "price",         FT_DEC,     6, OCOL_PRICE,           true,  VMAX,  "USD/h, fee included" },
	{ "price_per_tflop", FT_DEC,   6, OCOL_PRICE_PER_TFLOP, true,  VMAX,  "USD per fp32-TFLOPS-hour" },
	{ "token_price",   FT_DEC,     6, OCOL_TOKEN_PRICE,     true,  VMAX,  "token units/h" },
	{ "token",         FT_STR,     0, OSTR_TOKEN,           false, 0,     "token symbol (USDC: dUSDC too)" },
	{ "fee_bps",       FT_INT,     0, OCOL_FEE_BPS,         true,  10000, "basis points" },
	{ "reliability",   FT_DEC,     4, OCOL_RELIABILITY,     true,  10000, "0..1" },
	{ "rentals",       FT_INT,     0, OCOL_RENTALS,         true,  VMAX,  "completed rentals" },
	{ "rating",        FT_DEC,     2, OCOL_RATING,          true,  500,   "0..5 stars" },
	{ "interruptible", FT_BOOL,    0, OCOL_INTERRUPTIBLE,   true,  1,     "bool" },
	{ "jupyter",       FT_BOOL,    0, OCOL_JUPYTER,         true,  1,     "bool: a notebook per rental" },
	{ "country",       FT_STR,     0, OSTR_COUNTRY,         false, 0,     "ISO 3166-1 alpha-2" },
	{ "region",        FT_STR,     0, OSTR_REGION,          false, 0,     "region tag" },
	{ "provider",      FT_STR,     0, OSTR_PROVIDER,        false, 0,     "0x address" },
	{ "isolation",     FT_STR,     0, OSTR_ISOLATION,       false, 0,     "container or account" },
	{ "image",         FT_STR,     0, OSTR_IMAGES,          false, 0,     "instance image name" },
	{ "net_up",        FT_INT,     0, OCOL_NET_UP,          true,  VMAX,  "Mbit/s" },
	{ "net_down",      FT_INT,     0, OCOL_NET_DOWN,        true,  VMAX,  "Mbit/s" },
	{ "cpu_cores",     FT_INT,     0, OCOL_CPU_CORES,       true,  VMAX,  "cores" },
	{ "ram",           FT_INT,     0, OCOL_RAM,             true,  VMAX,  "GiB" },
	{ "disk",          FT_INT,     0, OCOL_DISK,            true,  VMAX,  "GiB" },
	{ "driver",        FT_VERSION, 3, OCOL_DRIVER,          true,  OFFER_DRIVER_MAX, "major.minor.patch" },
	{ "cuda",          FT_VERSION, 2, OCOL_CUDA,            true,  OFFER_CUDA_MAX,   "major.minor" },
};
const size_t filter_field_count = sizeof filter_fields / sizeof filter_fields[0];

static const char *const op_names[] = { "=", "!=", "<", "<=", ">", ">=" };

static bool is_ws(char c) { return c == ' ' || c == '\t'; }

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

int filter_field_find(const char *name, size_t len)
{
	for (size_t i = 0; i < filter_field_count; i++) {
		const char *f = filter_fields[i].name;
		if (strlen(f) == len && strncasecmp(f, name, len) == 0)
			return (int)i;
	}
	return -1;
}

/* Levenshtein distance of two short strings (each <= 32 bytes). */
static unsigned edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
	unsigned row[34];
	if (na > 32 || nb > 32)
		return 99;
	for (size_t j = 0; j <= nb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= na; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= nb; j++) {
			unsigned up = row[j];
			unsigned cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
			unsigned best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[nb];
}

/* Closest field name within distance 2, or NULL. */
static const char *suggest_field(const char *name, size_t len, bool sortable_only)
{
	const char *best = NULL;
	unsigned bestd = 3;
	for (size_t i = 0; i < filter_field_count; i++) {
		if (sortable_only && !filter_fields[i].sortable)
			continue;
		const char *f = filter_fields[i].name;
		unsigned d = edit_distance(name, len, f, strlen(f));
		if (d < bestd && d < len) {
			bestd = d;
			best = f;
		}
	}
	return best;
}

/* Copies at most 40 bytes of s into out (room 48), with "..." if clipped. */
static const char *clip(char out[48], const char *s, size_t n)
{
	size_t k = n > 40 ? 40 : n;
	memcpy(out, s, k);
	if (n > k)
		memcpy(out + k, "...", 3), k += 3;
	out[k] = 0;
	return out;
}

/* Formats a fixed-point value with `places` fractional digits. */
static void fmt_fixed(char out[64], int64_t v, unsigned places)
{
	int64_t p = 1;
	for (unsigned i = 0; i < places; i++)
		p *= 10;
	if (places == 0)
		snprintf(out, 64, "%lld", (long long)v);
	else
		snprintf(out, 64, "%lld.%0*lld", (long long)(v / p), (int)(places & 7),
			 (long long)(v % p));
}

struct pctx {
	const char *t;      /* the text */
	size_t n;           /* its length */
	size_t clause;      /* offset of the clause being parsed */
	size_t *err_off;    /* caller's offset out */
	struct err *e;
};

/*
 * Records an error at `off` whose token ends at `tok_end`: message
 * "filter: <what> at offset N in '<clause>'<tail>".
 */
__attribute__((format(printf, 6, 7)))
static int perr(struct pctx *p, int code, size_t off, size_t tok_end,
		const char *tail, const char *fmt, ...)
{
	char what[160], cl[48];
	va_list ap;
	size_t end = p->clause;
	while (end < p->n && !is_ws(p->t[end]))
		end++;
	if (tok_end > end)
		end = tok_end;
	if (end > p->n)
		end = p->n;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (p->err_off)
		*p->err_off = off;
	return err_set(p->e, code, "filter: %s at offset %zu in '%s'%s", what, off,
		       clip(cl, p->t + p->clause, end - p->clause), tail ? tail : "");
}

enum num_fail { NUM_OK, NUM_SYNTAX, NUM_PLACES, NUM_BIG };

/* Exact fixed-point parse of digits[.digits] with at most `places` fraction. */
static enum num_fail parse_fixed(int64_t *out, const char *s, size_t n,
				 unsigned places, int64_t max)
{
	size_t i = 0, dot = n;
	uint64_t v = 0;
	unsigned frac = 0;
	if (n == 0 || !(s[0] >= '0' && s[0] <= '9'))
		return NUM_SYNTAX;
	for (; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (dot != n || i + 1 == n)
				return NUM_SYNTAX;
			dot = i;
			continue;
		}
		if (c < '0' || c > '9')
			return NUM_SYNTAX;
	}
	for (i = 0; i < n; i++) {
		if (i == dot)
			continue;
		unsigned d = (unsigned)(s[i] - '0');
		if (i > dot) {
			if (frac == places) {
				if (d != 0)
					return NUM_PLACES;
				continue; /* trailing zero past the field's places */
			}
			frac++;
		}
		v = v * 10 + d;
		if (v > (uint64_t)FILTER_VALUE_MAX * 10)
			return NUM_BIG;
	}
	for (; frac < places; frac++) {
		v *= 10;
		if (v > (uint64_t)FILTER_VALUE_MAX * 10)
			return NUM_BIG;
	}
	if (v > (uint64_t)max)
		return NUM_BIG;
	*out = (int64_t)v;
	return NUM_OK;
}

/* major.minor[.patch]: parts <= `parts`, major <= 999, others < scale. */
static bool parse_version(int64_t *out, const char *s, size_t n, unsigned parts)
{
	unsigned scale = parts == 2 ? 100 : 1000;
	unsigned digits_max = parts == 2 ? 2 : 3;
	int64_t comp[3] = { 0, 0, 0 };
	unsigned k = 0, nd = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (nd == 0 || k >= parts)
				return false;
			k++;
			nd = 0;
			continue;
		}
		if (k >= parts || s[i] < '0' || s[i] > '9' || ++nd > (k == 0 ? 3u : digits_max))
			return false;
		comp[k] = comp[k] * 10 + (s[i] - '0');
	}
	if (comp[1] >= scale || comp[2] >= scale)
		return false;
	*out = parts == 2 ? comp[0] * 100 + comp[1]
			  : comp[0] * 1000000 + comp[1] * 1000 + comp[2];
	return true;
}

static bool parse_bool(int64_t *out, const char *s, size_t n)
{
	static const char *const t[] = { "true", "yes", "1" }, *const f[] = { "false", "no", "0" };
	for (int i = 0; i < 3; i++) {
		if (strlen(t[i]) == n && strncasecmp(s, t[i], n) == 0)
			return *out = 1, true;
		if (strlen(f[i]) == n && strncasecmp(s, f[i], n) == 0)
			return *out = 0, true;
	}
	return false;
}

/* Checks a string value for field column `col`; NULL when fine, else why. */
static const char *check_str(unsigned col, const char *s, size_t n)
{
	switch (col) {
	case OSTR_COUNTRY:
		if (n != 2 || !((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z' &&
				(s[1] | 32) >= 'a' && (s[1] | 32) <= 'z'))
			return "expected a two-letter country code";
		return NULL;
	case OSTR_PROVIDER:
		if (n != 42 || s[0] != '0' || (s[1] | 32) != 'x')
			return "expected a 0x-prefixed 20-byte address";
		for (size_t i = 2; i < n; i++)
			if (!((s[i] >= '0' && s[i] <= '9') || ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'f')))
				return "expected a 0x-prefixed 20-byte address";
		return NULL;
	case OSTR_ISOLATION:
		if (!(n == 9 && strncasecmp(s, "container", 9) == 0) && !(n == 7 && strncasecmp(s, "account", 7) == 0))
			return "isolation is 'container' or 'account'";
		return NULL;
	case OSTR_IMAGES: {
		char low[OFFER_IMAGE_NAME_MAX];
		if (n < 1 || n > OFFER_IMAGE_NAME_MAX)
			return "an image name is 1..32 of a-z 0-9 . _ -";
		for (size_t i = 0; i < n; i++)
			low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
		return offer_image_name_ok(low, n) ? NULL : "an image name is 1..32 of a-z 0-9 . _ -";
	}
	case OSTR_TOKEN:
		if (n < 1 || n >= OFFER_TOKEN_MAX)
			return "token symbol must be 1..11 characters";
		for (size_t i = 0; i < n; i++)
			if (!is_ident(s[i]) || s[i] == '_')
				return "token symbol must be letters and digits";
		return NULL;
	default: /* gpu, region */
		if (n < 1 || n >= OFFER_GPU_MAX)
			return "name must be 1..31 characters";
		for (size_t i = 0; i < n; i++)
			if (!is_ident(s[i]) && s[i] != '-')
				return "name must be letters, digits, '_' or '-'";
		return NULL;
	}
}

/* Parses one list element s[0..n) at offset off into a value of field fi. */
static int parse_value(struct pctx *p, struct filter *f, const struct filter_field *fd,
		       struct filter_value *v, size_t off, size_t n)
{
	const char *s = p->t + off;
	char tok[48], mx[64];
	clip(tok, s, n);
	switch (fd->type) {
	case FT_STR: {
		const char *why = check_str(fd->col, s, n);
		if (why)
			return perr(p, ERR_INVALID, off, off + n, NULL, "bad value '%s' for '%s': %s",
				    tok, fd->name, why);
		if (f->strs_len + n + 1 > sizeof f->strs)
			return perr(p, ERR_TOO_BIG, off, off + n, NULL, "string values too long");
		v->str_off = (uint16_t)f->strs_len;
		v->str_len = (uint16_t)n;
		for (size_t i = 0; i < n; i++)
			f->strs[f->strs_len++] = lower(s[i]);
		f->strs[f->strs_len++] = 0;
		return 0;
	}
	case FT_BOOL:
		if (!parse_bool(&v->num, s, n))
			return perr(p, ERR_INVALID, off, off + n, NULL,
				    "bad value '%s' for '%s': expected true or false", tok, fd->name);
		return 0;
	case FT_VERSION:
		if (!parse_version(&v->num, s, n, fd->places))
			return perr(p, ERR_INVALID, off, off + n, NULL,
				    "bad version '%s' for '%s': expected %s", tok, fd->name, fd->unit);
		return 0;
	default: {
		unsigned places = fd->type == FT_DEC ? fd->places : 0;
		switch (parse_fixed(&v->num, s, n, places, fd->max)) {
		case NUM_OK:
			return 0;
		case NUM_SYNTAX:
			return perr(p, ERR_INVALID, off, off + n, NULL, "bad number '%s' for '%s'", tok, fd->name);
		case NUM_PLACES:
			if (places == 0)
				return perr(p, ERR_INVALID, off, off + n, NULL,
					    "bad number '%s' for '%s': expected an integer", tok, fd->name);
			return perr(p, ERR_INVALID, off, off + n, NULL,
				    "too many decimal places in '%s' for '%s' (max %u)", tok, fd->name, places);
		default:
			fmt_fixed(mx, fd->max, places);
			return perr(p, ERR_RANGE, off, off + n, NULL, "value '%s' for '%s' above %s",
				    tok, fd->name, mx);
		}
	}
	}
}

int filter_parse(struct filter *out, const char *text, size_t len,
		 size_t *err_off, struct err *e)
{
	static struct filter zero;
	struct filter f = zero;
	struct pctx p = { text, len, 0, err_off, e };
	size_t i = 0;
	char tok[48];

	if (len > FILTER_TEXT_MAX) {
		if (err_off)
			*err_off = FILTER_TEXT_MAX;
		return err_set(e, ERR_TOO_BIG, "filter: text is %zu bytes, max %d", len, FILTER_TEXT_MAX);
	}
	if (len > 0 && text == NULL)
		return err_set(e, ERR_INVALID, "filter: no text");
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)text[k];
		if ((c < 0x20 && c != '\t') || c >= 0x7f) {
			if (err_off)
				*err_off = k;
			return err_set(e, ERR_INVALID, "filter: invalid byte 0x%02x at offset %zu", c, k);
		}
	}
	for (;;) {
		while (i < len && is_ws(text[i]))
			i++;
		if (i == len)
			break;
		p.clause = i;
		if (f.nclauses == FILTER_CLAUSES_MAX)
			return perr(&p, ERR_TOO_BIG, i, i, NULL, "too many clauses (max %d)", FILTER_CLAUSES_MAX);

		/* field */
		size_t fs = i;
		while (i < len && is_ident(text[i]))
			i++;
		if (i == fs)
			return perr(&p, ERR_INVALID, fs, fs + 1, NULL, "expected a field name, got '%c'", text[fs]);
		int fi = filter_field_find(text + fs, i - fs);
		if (fi < 0) {
			char tail[80] = " (`flopmarket search --help` lists the fields)";
			const char *sug = suggest_field(text + fs, i - fs, false);
			if (sug)
				snprintf(tail, sizeof tail, " (did you mean '%s'?)", sug);
			return perr(&p, ERR_INVALID, fs, i, tail, "unknown field '%s'",
				    clip(tok, text + fs, i - fs));
		}
		const struct filter_field *fd = &filter_fields[fi];
		while (i < len && is_ws(text[i]))
			i++;

		/* operator */
		int op = -1;
		size_t os = i;
		if (i < len) {
			char c0 = text[i], c1 = i + 1 < len ? text[i + 1] : 0;
			if (c0 == '=')
				op = FOP_EQ, i += 1;
			else if (c0 == '!' && c1 == '=')
				op = FOP_NE, i += 2;
			else if (c0 == '<')
				op = c1 == '=' ? (i += 2, FOP_LE) : (i += 1, FOP_LT);
			else if (c0 == '>')
				op = c1 == '=' ? (i += 2, FOP_GE) : (i += 1, FOP_GT);
		}
		if (op < 0)
			return perr(&p, ERR_INVALID, os, os + 1, NULL,
				    "expected an operator (= != < <= > >=) after '%s'", fd->name);
		if (op != FOP_EQ && op != FOP_NE && (fd->type == FT_STR || fd->type == FT_BOOL))
			return perr(&p, ERR_INVALID, os, i, NULL,
				    "operator '%s' not allowed for '%s' (only = and !=)", op_names[op], fd->name);
		while (i < len && is_ws(text[i]))
			i++;

		/* value or list */
		size_t vs = i;
		while (i < len && !is_ws(text[i]))
			i++;
		if (i == vs)
			return perr(&p, ERR_INVALID, vs, vs, NULL, "missing value after '%s%s'",
				    fd->name, op_names[op]);
		struct filter_clause *c = &f.clauses[f.nclauses];
		c->field = (uint8_t)fi;
		c->op = (uint8_t)op;
		c->offset = (uint16_t)p.clause;
		c->first = (uint16_t)f.nvals;
		c->nvals = 0;
		size_t es = vs;
		for (size_t k = vs; k <= i; k++) {
			if (k < i && text[k] != ',')
				continue;
			if (k == es)
				return perr(&p, ERR_INVALID, es, es, NULL, "empty value in list");
			if (c->nvals > 0 && op != FOP_EQ && op != FOP_NE)
				return perr(&p, ERR_INVALID, es - 1, es, NULL,
					    "a list needs = or != (got '%s')", op_names[op]);
			if (c->nvals == FILTER_LIST_MAX)
				return perr(&p, ERR_TOO_BIG, es, k, NULL, "too many values in list (max %d)",
					    FILTER_LIST_MAX);
			if (f.nvals == FILTER_VALUES_MAX)
				return perr(&p, ERR_TOO_BIG, es, k, NULL, "too many values (max %d)",
					    FILTER_VALUES_MAX);
			int rc = parse_value(&p, &f, fd, &f.vals[f.nvals], es, k - es);
			if (rc != 0)
				return rc;
			f.nvals++;
			c->nvals++;
			es = k + 1;
		}
		f.nclauses++;
	}
	*out = f;
	return 0;
}

int filter_sort_parse(struct filter_sort *out, const char *text, struct err *e)
{
	struct filter_sort s = { 0, false };
	char tok[48], tail[64] = "";
	size_t n;
	if (text == NULL || text[0] == 0) {
		s.field = (uint8_t)filter_field_find("price", 5);
		*out = s;
		return 0;
	}
	n = strnlen(text, FILTER_SORT_TEXT_MAX + 1);
	if (n > FILTER_SORT_TEXT_MAX)
		return err_set(e, ERR_TOO_BIG, "sort: longer than %d bytes", FILTER_SORT_TEXT_MAX);
	size_t skip = 0;
	if (text[0] == '-' || text[0] == '+') {
		s.desc = text[0] == '-';
		skip = 1;
	}
	for (size_t k = skip; k < n; k++)
		if (!is_ident(text[k]))
			return err_set(e, ERR_INVALID, "sort: invalid character at offset %zu", k);
	text += skip;
	n -= skip;
	int fi = n ? filter_field_find(text, n) : -1;
	if (fi < 0) {
		const char *sug = suggest_field(text, n, true);
		if (sug)
			snprintf(tail, sizeof tail, " (did you mean '%s'?)", sug);
		return err_set(e, ERR_INVALID, "sort: unknown key '%s'%s", clip(tok, text, n), tail);
	}
	if (!filter_fields[fi].sortable)
		return err_set(e, ERR_INVALID, "sort: field '%s' is not a sort key", filter_fields[fi].name);
	s.field = (uint8_t)fi;
	*out = s;
	return 0;
}

void filter_clause_range(const struct filter *f, const struct filter_clause *c,
			 int64_t *lo, int64_t *hi)
{
	int64_t v2 = 2 * f->vals[c->first].num;
	*lo = 0;
	*hi = OFFER_KEY_KNOWN_MAX;
	switch (c->op) {
	case FOP_EQ: *lo = *hi = v2; break;
	case FOP_LT: *hi = v2 - 1; break;
	case FOP_LE: *hi = v2; break;
	case FOP_GT: *lo = v2 + 1; break;
	case FOP_GE: *lo = v2; break;
	default: break;
	}
}

const char *filter_value_str(const struct filter *f, const struct filter_clause *c,
			     unsigned i)
{
	return f->strs + f->vals[c->first + i].str_off;
}

bool filter_match(const struct filter *f, const struct offer *o, int64_t now)
{
	char buf[OFFER_STR_MAX];
	if (now >= o->expires_at)
		return false;
	for (uint32_t k = 0; k < f->nclauses; k++) {
		const struct filter_clause *c = &f->clauses[k];
		const struct filter_field *fd = &filter_fields[c->field];
		bool any = false;
		if (fd->type == FT_STR) {
			const char *s = offer_col_str(buf, o, (enum offer_str)fd->col);
			for (unsigned i = 0; i < c->nvals && !any; i++) {
				const char *v = filter_value_str(f, c, i);
				any = fd->col == OSTR_IMAGES  ? offer_images_has(s, v, strlen(v))
				      : fd->col == OSTR_GPU   ? offer_gpu_matches(s, v, strlen(v))
				      : fd->col == OSTR_TOKEN ? offer_token_matches(s, v, strlen(v))
							      : strcasecmp(s, v) == 0;
			}
			if (any != (c->op == FOP_EQ))
				return false;
			continue;
		}
		int64_t key = offer_col_key(o, (enum offer_col)fd->col);
		if (key == OFFER_KEY_UNKNOWN)
			return false;
		if (c->op == FOP_EQ || c->op == FOP_NE) {
			for (unsigned i = 0; i < c->nvals && !any; i++)
				any = key == 2 * f->vals[c->first + i].num;
			if (any != (c->op == FOP_EQ))
				return false;
			continue;
		}
		int64_t lo, hi;
		filter_clause_range(f, c, &lo, &hi);
		if (key < lo || key > hi)
			return false;
	}
	return true;
}
