/*
 * siwe.c — EIP-4361 parsing and verification, nonces and session tokens
 * (see siwe.h for the grammar, the checks and the caps).
 *
 * The parser walks the message one LF-separated line at a time; each line
 * is matched by its exact case-sensitive prefix and its value is checked
 * against the RFC 3986 / RFC 3339 character classes the ABNF names. Nothing
 * is written to the caller's struct until the whole message is accepted.
 */
#include "market/siwe.h"

#include "core/err.h"
#include "core/hex.h"
#include "eth/eip191.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char header_suffix[] = " wants you to sign in with your Ethereum account:";

/* One LF-separated line at a time over [p, end). */
struct cursor {
	const char *p;   /* start of the next line */
	const char *end; /* one past the message */
	bool done;       /* the last line (no LF after it) was returned */
	unsigned lineno; /* 1-based number of the line last returned */
};

struct line {
	const char *s; /* first byte, not NUL-terminated */
	size_t n;      /* bytes, without the LF */
};

static bool cursor_next(struct cursor *c, struct line *l)
{
	const char *nl;

	if (c->done)
		return false;
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	l->s = c->p;
	if (nl) {
		l->n = (size_t)(nl - c->p);
		c->p = nl + 1;
	} else {
		l->n = (size_t)(c->end - c->p);
		c->p = c->end;
		c->done = true;
	}
	c->lineno++;
	return true;
}

/* Records "siwe: <field>: <message>" and the field name; returns code. */
__attribute__((format(printf, 5, 6)))
static int fail(const char **field, struct err *e, int code, const char *f, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (field)
		*field = f;
	return err_set(e, code, "siwe: %s: %s", f, msg);
}

static bool has_prefix(const struct line *l, const char *p)
{
	size_t n = strlen(p);
	return l->n >= n && memcmp(l->s, p, n) == 0;
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return hex_digit((char)c) >= 0;
}

/* RFC 3986 character classes. */
static bool is_unreserved(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(unsigned char c)
{
	return c && strchr("!$&'()*+,;=", c) != NULL;
}

static bool is_gen_delim(unsigned char c)
{
	return c && strchr(":/?#[]@", c) != NULL;
}

/* True when s[i] starts a valid pct-encoded triplet. */
static bool pct_at(const char *s, size_t n, size_t i)
{
	return s[i] == '%' && i + 2 < n && is_hex((unsigned char)s[i + 1]) &&
	       is_hex((unsigned char)s[i + 2]);
}

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool scheme_ok(const char *s, size_t n)
{
	if (n == 0 || !is_alpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
			return false;
	}
	return true;
}

/*
 * authority = [ userinfo "@" ] host [ ":" port ], with a non-empty host.
 * Returns NULL when valid, else a short reason.
 */
static const char *authority_check(const char *s, size_t n)
{
	size_t start = 0, i;
	const char *at = NULL;

	for (i = 0; i < n; i++)
		if (s[i] == '@')
			at = s + i;
	if (at) {
		size_t un = (size_t)(at - s);
		for (i = 0; i < un; i++) {
			unsigned char c = (unsigned char)s[i];
			if (pct_at(s, un, i))
				i += 2;
			else if (!is_unreserved(c) && !is_sub_delim(c) && c != ':')
				return "bad character in userinfo";
		}
		start = un + 1;
	}
	if (start >= n)
		return "empty host";
	i = start;
	if (s[i] == '[') {
		/* IP-literal: hex digits, ':', '.', and IPvFuture's characters */
		for (i++; i < n && s[i] != ']'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (!is_unreserved(c) && !is_sub_delim(c) && c != ':')
				return "bad character in IP literal";
		}
		if (i >= n)
			return "unterminated IP literal";
		if (i == start + 1)
			return "empty IP literal";
		i++;
	} else {
		for (; i < n && s[i] != ':'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (pct_at(s, n, i))
				i += 2;
			else if (!is_unreserved(c) && !is_sub_delim(c))
				return "bad character in host";
		}
		if (i == start)
			return "empty host";
	}
	if (i < n) {
		if (s[i] != ':')
			return "unexpected character after host";
		for (i++; i < n; i++)
			if (!is_digit((unsigned char)s[i]))
				return "port is not a number";
	}
	return NULL;
}

/*
 * URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ]: the scheme is
 * checked exactly, the rest by character class (reserved / unreserved /
 * pct-encoded, at most one '#'), and an authority after "//" as above.
 */
static const char *uri_check(const char *s, size_t n)
{
	size_t i = 0, hashes = 0;

	while (i < n && s[i] != ':')
		i++;
	if (i == n)
		return "missing scheme";
	if (!scheme_ok(s, i))
		return "bad scheme";
	for (size_t j = i + 1; j < n; j++) {
		unsigned char c = (unsigned char)s[j];
		if (pct_at(s, n, j))
			j += 2;
		else if (c == '%')
			return "bad percent-encoding";
		else if (!is_unreserved(c) && !is_sub_delim(c) && !is_gen_delim(c))
			return "character not allowed in a URI";
		else if (c == '#' && ++hashes > 1)
			return "more than one '#'";
	}
	if (n - i >= 3 && s[i + 1] == '/' && s[i + 2] == '/') {
		size_t a = i + 3, b = a;
		while (b < n && s[b] != '/' && s[b] != '?' && s[b] != '#')
			b++;
		if (b > a) {
			const char *why = authority_check(s + a, b - a);
			if (why)
				return why;
		}
	}
	return NULL;
}

/* Copies a validated value into a fixed array (cap already checked). */
static void copy_str(char *dst, const char *s, size_t n)
{
	memcpy(dst, s, n);
	dst[n] = 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (civil-from-days inverse). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool leap_year(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly `k` digits at s[*i]. */
static bool digits(int *out, const char *s, size_t n, size_t *i, int k)
{
	int v = 0;
	if (*i + (size_t)k > n)
		return false;
	for (int j = 0; j < k; j++) {
		unsigned char c = (unsigned char)s[*i + (size_t)j];
		if (!is_digit(c))
			return false;
		v = v * 10 + (c - '0');
	}
	*i += (size_t)k;
	*out = v;
	return true;
}

static bool expect_char(const char *s, size_t n, size_t *i, const char *set)
{
	if (*i >= n || !s[*i] || !strchr(set, s[*i]))
		return false;
	(*i)++;
	return true;
}

int siwe_time_parse(int64_t *out_ms, const char *s, size_t len, struct err *e)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t ms = 0;
	size_t i = 0;

	if (len > SIWE_TIME_MAX)
		return err_set(e, ERR_TOO_BIG, "date-time longer than %d bytes", SIWE_TIME_MAX);
	if (!digits(&y, s, len, &i, 4) || !expect_char(s, len, &i, "-") ||
	    !digits(&mo, s, len, &i, 2) || !expect_char(s, len, &i, "-") ||
	    !digits(&d, s, len, &i, 2))
		return err_set(e, ERR_INVALID, "date must be YYYY-MM-DD");
	if (!expect_char(s, len, &i, "Tt"))
		return err_set(e, ERR_INVALID, "expected 'T' after the date");
	if (!digits(&h, s, len, &i, 2) || !expect_char(s, len, &i, ":") ||
	    !digits(&mi, s, len, &i, 2) || !expect_char(s, len, &i, ":") ||
	    !digits(&sec, s, len, &i, 2))
		return err_set(e, ERR_INVALID, "time must be HH:MM:SS");
	if (i < len && s[i] == '.') {
		size_t f0 = ++i;
		int64_t scale = 100;
		while (i < len && is_digit((unsigned char)s[i])) {
			if (scale) {
				ms += scale * (s[i] - '0');
				scale /= 10;
			}
			i++;
		}
		if (i == f0)
			return err_set(e, ERR_INVALID, "empty fraction of a second");
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		sign = s[i++] == '-' ? -1 : 1;
		if (!digits(&oh, s, len, &i, 2) || !expect_char(s, len, &i, ":") ||
		    !digits(&om, s, len, &i, 2))
			return err_set(e, ERR_INVALID, "offset must be +HH:MM or -HH:MM");
	} else {
		return err_set(e, ERR_INVALID, "missing time zone ('Z' or +HH:MM)");
	}
	if (i != len)
		return err_set(e, ERR_INVALID, "unexpected text after the time zone");
	if (mo < 1 || mo > 12)
		return err_set(e, ERR_INVALID, "month %d out of range", mo);
	if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap_year(y)))
		return err_set(e, ERR_INVALID, "day %d out of range for month %d", d, mo);
	if (h > 23 || mi > 59 || sec > 60)
		return err_set(e, ERR_INVALID, "time of day out of range");
	if (oh > 23 || om > 59)
		return err_set(e, ERR_INVALID, "offset out of range");
	int64_t t = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec;
	t -= (int64_t)sign * ((int64_t)oh * 3600 + (int64_t)om * 60);
	*out_ms = t * 1000 + ms;
	return 0;
}

/* Parses a "Label: value" date-time line into *ms. */
static int time_field(int64_t *ms, const struct line *l, size_t plen, const char **field,
		      const char *name, struct err *e)
{
	struct err te = { 0 };
	if (siwe_time_parse(ms, l->s + plen, l->n - plen, &te))
		return fail(field, e, te.code, name, "%s", te.msg);
	return 0;
}

/* Checks `s` (n bytes) as a URI with cap; copies it into dst. */
static int uri_field(char *dst, const char *s, size_t n, const char **field, const char *name,
		     struct err *e)
{
	const char *why;
	if (n > SIWE_URI_MAX)
		return fail(field, e, ERR_TOO_BIG, name, "longer than %d bytes", SIWE_URI_MAX);
	if ((why = uri_check(s, n)))
		return fail(field, e, ERR_INVALID, name, "not an RFC 3986 URI: %s", why);
	copy_str(dst, s, n);
	return 0;
}

static int parse_header(struct siwe_msg *m, const struct line *l, const char **field,
			struct err *e)
{
	size_t sl = sizeof header_suffix - 1, pn;
	const char *sep, *why;

	if (l->n < sl || memcmp(l->s + l->n - sl, header_suffix, sl) != 0)
		return fail(field, e, ERR_INVALID, "header",
			    "first line must end with \"%s\"", header_suffix);
	pn = l->n - sl;
	sep = NULL;
	for (size_t i = 0; i + 3 <= pn; i++)
		if (memcmp(l->s + i, "://", 3) == 0) {
			sep = l->s + i;
			break;
		}
	const char *dom = l->s;
	size_t dn = pn;
	if (sep) {
		size_t sn = (size_t)(sep - l->s);
		if (sn > SIWE_SCHEME_MAX)
			return fail(field, e, ERR_TOO_BIG, "scheme", "longer than %d bytes",
				    SIWE_SCHEME_MAX);
		if (!scheme_ok(l->s, sn))
			return fail(field, e, ERR_INVALID, "scheme", "not an RFC 3986 scheme");
		copy_str(m->scheme, l->s, sn);
		dom = sep + 3;
		dn = pn - sn - 3;
	}
	if (dn > SIWE_DOMAIN_MAX)
		return fail(field, e, ERR_TOO_BIG, "domain", "longer than %d bytes", SIWE_DOMAIN_MAX);
	if ((why = authority_check(dom, dn)))
		return fail(field, e, ERR_INVALID, "domain", "not an RFC 3986 authority: %s", why);
	copy_str(m->domain, dom, dn);
	return 0;
}

static int parse_address(struct siwe_msg *m, const struct line *l, const char **field,
			 struct err *e)
{
	char txt[ADDRESS_STR_MAX], want[ADDRESS_STR_MAX];
	struct eth_address a;

	if (l->n != 42 || l->s[0] != '0' || l->s[1] != 'x')
		return fail(field, e, ERR_INVALID, "address", "must be 0x and 40 hex digits");
	for (size_t i = 2; i < 42; i++)
		if (!is_hex((unsigned char)l->s[i]))
			return fail(field, e, ERR_INVALID, "address", "non-hex character at %zu", i);
	copy_str(txt, l->s, 42);
	if (address_parse(&a, txt, NULL))
		return fail(field, e, ERR_CHECKSUM, "address", "EIP-55 checksum mismatch");
	address_to_checksum(want, &a);
	if (strcmp(want, txt) != 0)
		return fail(field, e, ERR_CHECKSUM, "address",
			    "not EIP-55 checksummed (expected %s)", want);
	m->address = a;
	return 0;
}

/* statement = *( reserved / unreserved / " " ) */
static int parse_statement(struct siwe_msg *m, const struct line *l, const char **field,
			   struct err *e)
{
	if (l->n > SIWE_STATEMENT_MAX)
		return fail(field, e, ERR_TOO_BIG, "statement", "longer than %d bytes",
			    SIWE_STATEMENT_MAX);
	for (size_t i = 0; i < l->n; i++) {
		unsigned char c = (unsigned char)l->s[i];
		if (!is_unreserved(c) && !is_sub_delim(c) && !is_gen_delim(c) && c != ' ')
			return fail(field, e, ERR_INVALID, "statement",
				    "character 0x%02x at %zu not allowed", c, i);
	}
	m->has_statement = true;
	copy_str(m->statement, l->s, l->n);
	return 0;
}

static int parse_chain_id(struct siwe_msg *m, const char *s, size_t n, const char **field,
			  struct err *e)
{
	uint64_t v = 0;

	if (n == 0)
		return fail(field, e, ERR_INVALID, "chain_id", "empty");
	if (n > SIWE_CHAIN_ID_DIGITS_MAX)
		return fail(field, e, ERR_TOO_BIG, "chain_id", "more than %d digits",
			    SIWE_CHAIN_ID_DIGITS_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_digit(c))
			return fail(field, e, ERR_INVALID, "chain_id", "not a decimal number");
		if (v > (UINT64_MAX - (c - '0')) / 10)
			return fail(field, e, ERR_RANGE, "chain_id", "does not fit 64 bits");
		v = v * 10 + (c - '0');
	}
	m->chain_id = v;
	return 0;
}

static int parse_nonce(struct siwe_msg *m, const char *s, size_t n, const char **field,
		       struct err *e)
{
	if (n > SIWE_NONCE_MAX)
		return fail(field, e, ERR_TOO_BIG, "nonce", "longer than %d characters",
			    SIWE_NONCE_MAX);
	if (n < SIWE_NONCE_MIN)
		return fail(field, e, ERR_INVALID, "nonce", "shorter than %d characters",
			    SIWE_NONCE_MIN);
	for (size_t i = 0; i < n; i++)
		if (!is_alpha((unsigned char)s[i]) && !is_digit((unsigned char)s[i]))
			return fail(field, e, ERR_INVALID, "nonce",
				    "character at %zu is not a letter or digit", i);
	copy_str(m->nonce, s, n);
	return 0;
}

/* request-id = *pchar */
static int parse_request_id(struct siwe_msg *m, const char *s, size_t n, const char **field,
			    struct err *e)
{
	if (n > SIWE_REQUEST_ID_MAX)
		return fail(field, e, ERR_TOO_BIG, "request_id", "longer than %d bytes",
			    SIWE_REQUEST_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (pct_at(s, n, i))
			i += 2;
		else if (!is_unreserved(c) && !is_sub_delim(c) && c != ':' && c != '@')
			return fail(field, e, ERR_INVALID, "request_id",
				    "character at %zu not allowed", i);
	}
	m->has_request_id = true;
	copy_str(m->request_id, s, n);
	return 0;
}

/* The optional tail: Expiration Time, Not Before, Request ID, Resources, in order. */
static int parse_tail(struct siwe_msg *m, struct cursor *c, const char **field, struct err *e)
{
	static const char *const labels[4] = { "Expiration Time: ", "Not Before: ",
						"Request ID: ", "Resources:" };
	static const char *const names[4] = { "expiration_time", "not_before", "request_id",
					       "resources" };
	struct line l;
	int stage = 0, rc;

	while (cursor_next(c, &l)) {
		int k;
		for (k = 0; k < 4; k++)
			if (has_prefix(&l, labels[k]))
				break;
		if (k == 4)
			return fail(field, e, ERR_INVALID, "message", "unexpected line %u",
				    c->lineno);
		if (k < stage)
			return fail(field, e, ERR_INVALID, names[k],
				    "line %u out of order or repeated", c->lineno);
		stage = k + 1;
		size_t pl = strlen(labels[k]);
		switch (k) {
		case 0:
			if ((rc = time_field(&m->expiration_ms, &l, pl, field, names[k], e)))
				return rc;
			m->has_expiration = true;
			break;
		case 1:
			if ((rc = time_field(&m->not_before_ms, &l, pl, field, names[k], e)))
				return rc;
			m->has_not_before = true;
			break;
		case 2:
			if ((rc = parse_request_id(m, l.s + pl, l.n - pl, field, e)))
				return rc;
			break;
		default:
			if (l.n != pl)
				return fail(field, e, ERR_INVALID, "resources",
					    "text after \"Resources:\"");
			m->has_resources = true;
			while (cursor_next(c, &l)) {
				if (!has_prefix(&l, "- "))
					return fail(field, e, ERR_INVALID, "resources",
						    "line %u does not start with \"- \"",
						    c->lineno);
				if (m->nresources >= SIWE_RESOURCES_MAX)
					return fail(field, e, ERR_TOO_BIG, "resources",
						    "more than %d entries", SIWE_RESOURCES_MAX);
				rc = uri_field(m->resources[m->nresources], l.s + 2, l.n - 2,
					       field, "resources", e);
				if (rc)
					return rc;
				m->nresources++;
			}
			return 0;
		}
	}
	return 0;
}

/* Reads the next line, which must start with `label`; value to *v. */
static int labelled(struct cursor *c, struct line *v, const char *label, const char **field,
		    const char *name, struct err *e)
{
	struct line l;
	size_t pl = strlen(label);

	if (!cursor_next(c, &l))
		return fail(field, e, ERR_INVALID, name, "missing \"%s\" line", label);
	if (!has_prefix(&l, label))
		return fail(field, e, ERR_INVALID, name, "line %u must start with \"%s\"",
			    c->lineno, label);
	v->s = l.s + pl;
	v->n = l.n - pl;
	return 0;
}

int siwe_parse(struct siwe_msg *out, const char *text, size_t len, const char **field,
	       struct err *e)
{
	struct siwe_msg *m;
	struct cursor c;
	struct line l, x, y, v;
	int rc;

	if (!text && len)
		return fail(field, e, ERR_INVALID, "message", "NULL text");
	if (len > SIWE_MSG_MAX)
		return fail(field, e, ERR_TOO_BIG, "message", "%zu bytes exceeds the %d-byte cap",
			    len, SIWE_MSG_MAX);
	m = calloc(1, sizeof *m);
	if (!m)
		return fail(field, e, ERR_NOMEM, "message", "out of memory");
	c.p = text ? text : "";
	c.end = c.p + len;
	c.done = false;
	c.lineno = 0;

	cursor_next(&c, &l);
	if ((rc = parse_header(m, &l, field, e)))
		goto out;
	if (!cursor_next(&c, &l)) {
		rc = fail(field, e, ERR_INVALID, "address", "missing");
		goto out;
	}
	if ((rc = parse_address(m, &l, field, e)))
		goto out;
	if (!cursor_next(&c, &l) || l.n != 0) {
		rc = fail(field, e, ERR_INVALID, "message", "line 3 must be empty");
		goto out;
	}
	/* either "" then "URI: ..." (no statement), or statement, "", "URI: ..." */
	if (!cursor_next(&c, &x) || !cursor_next(&c, &y)) {
		rc = fail(field, e, ERR_INVALID, "uri", "missing \"URI: \" line");
		goto out;
	}
	if (x.n == 0 && has_prefix(&y, "URI: ")) {
		v.s = y.s + 5;
		v.n = y.n - 5;
	} else {
		if ((rc = parse_statement(m, &x, field, e)))
			goto out;
		if (y.n != 0) {
			rc = fail(field, e, ERR_INVALID, "statement",
				  "must be one line followed by an empty line");
			goto out;
		}
		if ((rc = labelled(&c, &v, "URI: ", field, "uri", e)))
			goto out;
	}
	if ((rc = uri_field(m->uri, v.s, v.n, field, "uri", e)))
		goto out;
	if ((rc = labelled(&c, &v, "Version: ", field, "version", e)))
		goto out;
	if (v.n != 1 || v.s[0] != '1') {
		rc = fail(field, e, ERR_INVALID, "version", "must be \"1\"");
		goto out;
	}
	m->version[0] = '1';
	if ((rc = labelled(&c, &v, "Chain ID: ", field, "chain_id", e)) ||
	    (rc = parse_chain_id(m, v.s, v.n, field, e)))
		goto out;
	if ((rc = labelled(&c, &v, "Nonce: ", field, "nonce", e)) ||
	    (rc = parse_nonce(m, v.s, v.n, field, e)))
		goto out;
	if ((rc = labelled(&c, &v, "Issued At: ", field, "issued_at", e)))
		goto out;
	l.s = v.s;
	l.n = v.n;
	if ((rc = time_field(&m->issued_at_ms, &l, 0, field, "issued_at", e)))
		goto out;
	if ((rc = parse_tail(m, &c, field, e)))
		goto out;
	memcpy(out, m, sizeof *m);
out:
	free(m);
	return rc;
}

static bool ieq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x + 32);
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y + 32);
		if (x != y)
			return false;
	}
	return true;
}

/* scheme "://" authority of a URI, as a length of its prefix; 0 when none. */
static size_t uri_origin_len(const char *u)
{
	const char *p = strstr(u, "://");
	if (!p || !scheme_ok(u, (size_t)(p - u)))
		return 0;
	p += 3;
	while (*p && *p != '/' && *p != '?' && *p != '#')
		p++;
	return (size_t)(p - u);
}

int siwe_verify(struct siwe_msg *out, const char *text, size_t len, const uint8_t sig65[65],
		const struct siwe_expect *x, const char **field, struct err *e)
{
	struct siwe_msg *m;
	struct err se = { 0 };
	int64_t skew;
	int rc;

	if (!x || !x->domain || !sig65)
		return fail(field, e, ERR_INVALID, "expect", "domain and signature are required");
	m = malloc(sizeof *m);
	if (!m)
		return fail(field, e, ERR_NOMEM, "message", "out of memory");
	if ((rc = siwe_parse(m, text, len, field, e)))
		goto out;
	skew = x->skew_ms > 0 ? x->skew_ms : SIWE_SKEW_DEFAULT_MS;
	if (!ieq(m->domain, strlen(m->domain), x->domain, strlen(x->domain))) {
		rc = fail(field, e, ERR_AUTH, "domain", "\"%s\" is not this server (\"%s\")",
			  m->domain, x->domain);
		goto out;
	}
	if (x->origin) {
		size_t on = uri_origin_len(m->uri);
		if (on == 0 || !ieq(m->uri, on, x->origin, strlen(x->origin))) {
			rc = fail(field, e, ERR_AUTH, "uri", "origin of \"%.*s\" is not \"%s\"",
				  (int)(strlen(m->uri) > 120 ? 120 : strlen(m->uri)), m->uri,
				  x->origin);
			goto out;
		}
	}
	if (m->chain_id != x->chain_id) {
		rc = fail(field, e, ERR_AUTH, "chain_id", "%llu is not this server's chain %llu",
			  (unsigned long long)m->chain_id, (unsigned long long)x->chain_id);
		goto out;
	}
	if (x->nonce && (strlen(x->nonce) != strlen(m->nonce) ||
			 sodium_memcmp(x->nonce, m->nonce, strlen(m->nonce)) != 0)) {
		rc = fail(field, e, ERR_AUTH, "nonce", "does not match the issued nonce");
		goto out;
	}
	if (m->issued_at_ms > x->now_ms + skew) {
		rc = fail(field, e, ERR_STATE, "issued_at", "is in the future");
		goto out;
	}
	if (x->max_age_ms > 0 && m->issued_at_ms < x->now_ms - x->max_age_ms - skew) {
		rc = fail(field, e, ERR_STATE, "issued_at", "is older than %lld s",
			  (long long)(x->max_age_ms / 1000));
		goto out;
	}
	if (m->has_expiration && x->now_ms >= m->expiration_ms) {
		rc = fail(field, e, ERR_STATE, "expiration_time", "message has expired");
		goto out;
	}
	if (m->has_not_before && x->now_ms + skew < m->not_before_ms) {
		rc = fail(field, e, ERR_STATE, "not_before", "message is not valid yet");
		goto out;
	}
	if ((rc = eip191_verify(&m->address, (const uint8_t *)text, len, sig65, &se))) {
		rc = fail(field, e, rc == ERR_AUTH ? ERR_AUTH : ERR_INVALID, "signature", "%s",
			  se.msg[0] ? se.msg : "invalid");
		goto out;
	}
	if (out)
		memcpy(out, m, sizeof *m);
out:
	free(m);
	return rc;
}

int siwe_nonce_new(char out[SIWE_NONCE_LEN + 1])
{
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	if (sodium_init() < 0)
		return ERR_CRYPTO;
	for (int i = 0; i < SIWE_NONCE_LEN; i++)
		out[i] = alnum[randombytes_uniform(sizeof alnum - 1)];
	out[SIWE_NONCE_LEN] = 0;
	return 0;
}

int session_token_new(char token_out[SESSION_TOKEN_LEN + 1], uint8_t hash32_out[32])
{
	uint8_t raw[32];
	char txt[SESSION_TOKEN_LEN + 1];

	if (sodium_init() < 0)
		return ERR_CRYPTO;
	randombytes_buf(raw, sizeof raw);
	if (!sodium_bin2base64(txt, sizeof txt, raw, sizeof raw,
			       sodium_base64_VARIANT_URLSAFE_NO_PADDING)) {
		sodium_memzero(raw, sizeof raw);
		return ERR_CRYPTO;
	}
	sodium_memzero(raw, sizeof raw);
	crypto_hash_sha256(hash32_out, (const uint8_t *)txt, SESSION_TOKEN_LEN);
	memcpy(token_out, txt, sizeof txt);
	sodium_memzero(txt, sizeof txt);
	return 0;
}

int session_token_hash(uint8_t hash32_out[32], const char *token, size_t len, struct err *e)
{
	if (len > 256)
		return err_set(e, ERR_TOO_BIG, "session token: longer than 256 bytes");
	if (!token && len)
		return err_set(e, ERR_INVALID, "session token: NULL");
	crypto_hash_sha256(hash32_out, (const uint8_t *)(token ? token : ""), len);
	return 0;
}

/* ---- formatting ---- */

/* RFC 3339 UTC of unix milliseconds into out (room 32). */
static int time_format(char out[32], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	char base[24];

	if (ms < 0 || ms / 1000 > (int64_t)253402300799 || !gmtime_r(&t, &tm) ||
	    !strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm))
		return ERR_RANGE;
	if (ms % 1000)
		snprintf(out, 32, "%s.%03uZ", base, (unsigned)(ms % 1000));
	else
		snprintf(out, 32, "%sZ", base);
	return 0;
}

/* Appends printf output at *len; false when it does not fit. */
static bool put(char *out, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool put(char *out, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return false;
	*len += (size_t)n;
	return true;
}

int siwe_format(char *out, size_t cap, const struct siwe_msg *m, struct err *e)
{
	char addr[ADDRESS_STR_MAX], t1[32];
	size_t len = 0;
	bool ok;

	if (!out || cap == 0 || !m)
		return err_set(e, ERR_INVALID, "siwe_format: no message");
	if (!m->domain[0] || !m->uri[0] || !m->nonce[0])
		return err_set(e, ERR_INVALID, "siwe message: domain, uri and nonce are required");
	if (time_format(t1, m->issued_at_ms))
		return err_set(e, ERR_RANGE, "siwe message: issued_at out of range");
	address_to_checksum(addr, &m->address);
	ok = (!m->scheme[0] || put(out, cap, &len, "%s://", m->scheme)) &&
	     put(out, cap, &len, "%s wants you to sign in with your Ethereum account:\n%s\n\n", m->domain, addr) &&
	     (!m->has_statement || put(out, cap, &len, "%s\n\n", m->statement)) &&
	     put(out, cap, &len, "URI: %s\nVersion: 1\nChain ID: %llu\nNonce: %s\nIssued At: %s", m->uri,
		 (unsigned long long)m->chain_id, m->nonce, t1);
	if (ok && m->has_expiration) {
		ok = time_format(t1, m->expiration_ms) == 0 && put(out, cap, &len, "\nExpiration Time: %s", t1);
	}
	if (ok && m->has_not_before)
		ok = time_format(t1, m->not_before_ms) == 0 && put(out, cap, &len, "\nNot Before: %s", t1);
	if (ok && m->has_request_id)
		ok = put(out, cap, &len, "\nRequest ID: %s", m->request_id);
	if (ok && m->has_resources) {
		ok = put(out, cap, &len, "\nResources:");
		for (uint32_t i = 0; ok && i < m->nresources && i < SIWE_RESOURCES_MAX; i++)
			ok = put(out, cap, &len, "\n- %s", m->resources[i]);
	}
	if (!ok) {
		out[0] = '\0';
		return err_set(e, ERR_TOO_BIG, "siwe message: longer than %zu bytes", cap - 1);
	}
	return 0;
}

int siwe_sign_in_format(char *out, size_t cap, const struct siwe_sign_in *in, struct err *e)
{
	struct siwe_msg *m = calloc(1, sizeof *m);
	int rc;

	if (!m)
		return err_set(e, ERR_NOMEM, "out of memory");
	if (!in->domain || !in->uri || !in->nonce || strlen(in->domain) > SIWE_DOMAIN_MAX ||
	    strlen(in->uri) > SIWE_URI_MAX || strlen(in->nonce) > SIWE_NONCE_MAX ||
	    (in->statement && strlen(in->statement) > SIWE_STATEMENT_MAX)) {
		free(m);
		return err_set(e, ERR_TOO_BIG, "sign-in: the server's domain, uri or nonce is missing or too long");
	}
	strcpy(m->domain, in->domain);
	strcpy(m->uri, in->uri);
	strcpy(m->nonce, in->nonce);
	if (in->statement) {
		m->has_statement = true;
		strcpy(m->statement, in->statement);
	}
	m->address = in->address;
	m->chain_id = in->chain_id;
	m->issued_at_ms = in->issued_ms;
	m->has_expiration = in->expires_ms != 0;
	m->expiration_ms = in->expires_ms;
	rc = siwe_format(out, cap, m, e);
	free(m);
	return rc;
}
