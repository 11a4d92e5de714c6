/*
 * err.c — names, descriptions and message helpers for the ERR_* enum.
 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	const char *text;
} err_table[] = {
	{ "ok", "success" },
	{ "nomem", "out of memory" },
	{ "invalid", "invalid input" },
	{ "too_big", "input exceeds a limit" },
	{ "range", "number out of range" },
	{ "checksum", "checksum mismatch" },
	{ "crypto", "cryptographic operation failed" },
	{ "auth", "authentication failed" },
	{ "io", "input/output error" },
	{ "net", "network error" },
	{ "rpc", "JSON-RPC error" },
	{ "timeout", "timed out" },
	{ "not_found", "not found" },
	{ "state", "not allowed in the current state" },
	{ "depth", "nesting too deep" },
	{ "noncanonical", "not in canonical form" },
	{ "unsupported", "not supported" },
	{ "conflict", "already exists or already used" },
	{ "revert", "execution reverted" },
};
/* One entry per code, in order: a code added to the enum without a name here does not compile. */
_Static_assert(sizeof err_table / sizeof err_table[0] == ERR_CODE_COUNT, "err_table: one entry per ERR_* code");

static int err_index(int code)
{
	if (code > 0 || code <= -ERR_CODE_COUNT)
		return -1;
	return -code;
}

const char *err_name(int code)
{
	int i = err_index(code);
	return i < 0 ? "unknown" : err_table[i].name;
}

const char *err_str(int code)
{
	int i = err_index(code);
	return i < 0 ? "unknown error" : err_table[i].text;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		e->code = code;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
	}
	return code;
}

void err_wrap(struct err *e, const char *fmt, ...)
{
	char prefix[128];
	char old[sizeof e->msg];
	va_list ap;

	if (!e)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	/* Keep the prefix whole and cut the tail of the old message. */
	size_t n = strlen(prefix);
	if (n > sizeof e->msg - 3)
		n = sizeof e->msg - 3;
	memcpy(e->msg, prefix, n);
	memcpy(e->msg + n, ": ", 2);
	size_t room = sizeof e->msg - n - 3;
	size_t m = strnlen(old, room);
	memcpy(e->msg + n + 2, old, m);
	e->msg[n + 2 + m] = '\0';
}

void err_clear(struct err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = '\0';
	}
}
