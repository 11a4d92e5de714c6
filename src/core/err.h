/*
 * err.h — the project's one error enum and an optional message carrier.
 *
 * Functions that can fail return int: 0 on success or a negative ERR_* code.
 * Callers that want a human message pass a `struct err *`; NULL is always
 * allowed and means "code only". The enum is append-only: a code's number
 * never changes once released, so logs and exit statuses stay comparable.
 */
#ifndef FLOP_CORE_ERR_H
#define FLOP_CORE_ERR_H

#include <stddef.h>

enum err_code {
	ERR_OK = 0,
	ERR_NOMEM = -1,       /* allocation failed */
	ERR_INVALID = -2,     /* input is malformed (names the field in msg) */
	ERR_TOO_BIG = -3,     /* input exceeds a size, length or count cap */
	ERR_RANGE = -4,       /* number out of range, overflow, division by 0 */
	ERR_CHECKSUM = -5,    /* checksum mismatch (EIP-55, BIP-39, ...) */
	ERR_CRYPTO = -6,      /* a crypto primitive failed or rejected a key */
	ERR_AUTH = -7,        /* bad signature, MAC or passphrase */
	ERR_IO = -8,          /* file or OS call failed */
	ERR_NET = -9,         /* transport failed (connect, HTTP status) */
	ERR_RPC = -10,        /* a JSON-RPC peer returned an error object */
	ERR_TIMEOUT = -11,    /* a deadline passed */
	ERR_NOT_FOUND = -12,  /* the thing asked for does not exist */
	ERR_STATE = -13,      /* call not valid in the current state */
	ERR_DEPTH = -14,      /* nesting deeper than the cap */
	ERR_NONCANONICAL = -15, /* well-formed but not in canonical form */
	ERR_UNSUPPORTED = -16,  /* valid but not supported by this build */
	ERR_CONFLICT = -17,   /* already exists / already used (replay) */
	ERR_REVERT = -18,     /* a transaction or eth_call reverted */
};
#define ERR_CODE_COUNT 19
_Static_assert(ERR_REVERT == -(ERR_CODE_COUNT - 1), "ERR_CODE_COUNT must be one past the last (most negative) code");

/* Carries the first failure's code and a message naming the problem. */
struct err {
	int code;       /* ERR_* of the failure, 0 when none recorded */
	char msg[256];  /* NUL-terminated human message, "" when none */
};

/*
 * Records `code` and a printf-style message into `e` (when not NULL) and
 * returns `code`, so callers write `return err_set(e, ERR_INVALID, ...)`.
 * A message already in `e` is replaced.
 */
int err_set(struct err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prefixes the message already in `e` (NULL allowed) with "<prefix>: ".
 * Returns nothing on purpose: `e` may be NULL, so the caller returns the
 * code it got, e.g. `if ((rc = f(e))) { err_wrap(e, "field"); return rc; }`.
 */
void err_wrap(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Clears `e` (NULL allowed). */
void err_clear(struct err *e);

/* Stable short name of a code, e.g. "invalid" for ERR_INVALID. */
const char *err_name(int code);

/* A one-line English description of a code. */
const char *err_str(int code);

#endif
