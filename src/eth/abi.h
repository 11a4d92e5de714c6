/*
 * abi.h — Solidity contract ABI: type strings, encoding, hardened decoding,
 * function selectors, events and revert payloads.
 *
 * Follows the Solidity "Contract ABI Specification" (head/tail layout,
 * selectors = first 4 bytes of keccak256 of the canonical signature, event
 * topics, Error(string) / Panic(uint256) / custom errors).
 *
 * Types: a canonical type string such as "(address,uint256[],(bytes,bool)[2])"
 * is parsed into a `struct abi_type` tree. Supported: uint<M>/int<M>
 * (M = 8..256 step 8; "uint"/"int" are aliases of the 256-bit forms),
 * address, bool, bytes<M> (1..32), bytes, string, T[], T[k] and tuples.
 * Not supported: fixed/ufixed and function (ERR_UNSUPPORTED); empty tuples
 * and T[0] are only allowed as the top-level argument list "()".
 *
 * Values: `struct abi_value` is a tree mirroring the type. Integers live in a
 * u256 as the EVM word itself: uint<M> as the plain number, int<M> in 256-bit
 * two's complement (sign-extended), so -1 is 2^256-1 for every M. Range is
 * checked against the type on encode and decode (uint8 256 and int8 -129 are
 * ERR_RANGE). Values built with the abi_v_* helpers borrow the caller's
 * pointers; trees returned by the decoders are one allocation that owns all
 * of its bytes and is freed with abi_value_free.
 *
 * Decoding takes bytes, does no I/O and accepts only the canonical encoding:
 * every dynamic offset must point exactly where the canonical encoder would
 * put the tail (so overlapping, looping, out-of-order or gapped offsets are
 * rejected), padding and unused high bytes must be zero, bool must be 0 or 1,
 * and no bytes may trail. Hence decode followed by encode reproduces the
 * input. Lengths are checked against the bytes left before anything is
 * allocated, the input is capped at ABI_MAX_DATA and the decoded tree at a
 * fixed multiple of the input size. Errors name the byte offset and the type.
 */
#ifndef FLOP_ETH_ABI_H
#define FLOP_ETH_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/u256.h"
#include "eth/address.h"

struct err;

#define ABI_MAX_TYPE_LEN 1024       /* longest type string or signature */
#define ABI_MAX_DEPTH 16            /* nesting of tuples and arrays */
#define ABI_MAX_ARITY 128           /* components of one tuple */
#define ABI_MAX_FIXED_LEN 65536     /* k in T[k] */
#define ABI_MAX_HEAD ((size_t)1 << 20) /* static size of one type, bytes */
#define ABI_MAX_DATA ((size_t)16 << 20) /* largest input decoded */
#define ABI_MAX_TOPICS 4            /* topics of one log */

enum abi_kind {
	ABI_UINT = 1,    /* uint<M>: value in num */
	ABI_INT,         /* int<M>: value in num, two's complement */
	ABI_ADDRESS,     /* value in fixed[0..19] */
	ABI_BOOL,        /* value in num: 0 or 1 */
	ABI_FIXED_BYTES, /* bytes<M>: value in fixed[0..M-1], len = M */
	ABI_BYTES,       /* bytes: data/len */
	ABI_STRING,      /* string: data/len (decoded: NUL-terminated) */
	ABI_ARRAY,       /* T[]: items/count */
	ABI_FIXED_ARRAY, /* T[k]: items/count */
	ABI_TUPLE,       /* (T1,...,Tn): items/count */
	ABI_TOPIC_HASH,  /* values only: an indexed event parameter of a
			    non-value type; fixed[0..31] holds the keccak256 the
			    log carries instead of the value */
};

/* A parsed type. Trees come from abi_type_parse; free with abi_type_free. */
struct abi_type {
	enum abi_kind kind;
	unsigned m;              /* bits of uint/int, bytes of bytes<M>, else 0 */
	size_t array_len;        /* k of T[k], else 0 */
	bool dynamic;            /* true when the encoding has a tail */
	size_t head_size;        /* bytes in the enclosing head: 32 if dynamic,
				    else the whole static encoding */
	struct abi_type *items;  /* tuple components, or the one array element */
	size_t count;            /* number of items (1 for arrays) */
};

/* A value; see the file comment for representation and ownership. */
struct abi_value {
	enum abi_kind kind;
	u256 num;                    /* uint, int (two's complement), bool */
	uint8_t fixed[32];           /* address, bytes<M>, topic hash */
	const uint8_t *data;         /* bytes, string */
	size_t len;                  /* bytes in data; M for bytes<M> */
	const struct abi_value *items; /* array elements, tuple components */
	size_t count;                /* number of items */
};

/*
 * Parses a canonical type string into a fresh tree (*out, free with
 * abi_type_free). Enforces ABI_MAX_TYPE_LEN, ABI_MAX_DEPTH, ABI_MAX_ARITY,
 * ABI_MAX_FIXED_LEN and ABI_MAX_HEAD; errors name the character offset.
 */
int abi_type_parse(struct abi_type **out, const char *s, struct err *e);

/* Frees a tree from abi_type_parse. NULL allowed. */
void abi_type_free(struct abi_type *t);

/* Appends the canonical string of a type ("uint" prints as "uint256"). */
int abi_type_format(struct buf *out, const struct abi_type *t);

/*
 * Splits "name(types)" into its parsed argument tuple (*args, free with
 * abi_type_free) and writes the canonical signature to `canon` (may be NULL).
 * Event declarations may mark top-level arguments "indexed"
 * ("Transfer(address indexed,address indexed,uint256)"); the marks are set
 * in *indexed_mask (bit i = argument i; may be NULL) and left out of `canon`.
 * Without a mask pointer "indexed" is an error.
 */
int abi_signature_parse(struct abi_type **args, struct buf *canon,
			uint64_t *indexed_mask, const char *sig, struct err *e);

/* First 4 bytes of keccak256 of the canonical form of `signature`. */
int abi_selector(uint8_t out4[4], const char *signature, struct err *e);

/* keccak256 of the canonical event signature ("indexed" marks allowed). */
int abi_event_topic(uint8_t out32[32], const char *signature, struct err *e);

/* Value builders: they borrow `p`/`items`, which must outlive the value. */
struct abi_value abi_v_uint(const u256 *v);
struct abi_value abi_v_u64(uint64_t v);
struct abi_value abi_v_int(const u256 *twos); /* 256-bit two's complement */
struct abi_value abi_v_i64(int64_t v);
struct abi_value abi_v_bool(bool v);
struct abi_value abi_v_address(const struct eth_address *a);
struct abi_value abi_v_fixed_bytes(const uint8_t *p, size_t m); /* m <= 32 */
struct abi_value abi_v_bytes(const uint8_t *p, size_t n);
struct abi_value abi_v_string(const char *s);
struct abi_value abi_v_array(const struct abi_value *items, size_t n);
struct abi_value abi_v_tuple(const struct abi_value *items, size_t n);

/*
 * Parses a signed decimal ("-128", "42") or 0x-hex magnitude ("-0x80") into
 * 256-bit two's complement; ERR_RANGE outside [-2^255, 2^255 - 1].
 */
int abi_int_parse(u256 *out, const char *s, struct err *e);

/* True when a two's complement word is negative (bit 255 set). */
bool abi_int_is_negative(const u256 *twos);

/*
 * Appends the ABI encoding of `v` as type `t` (a tuple is encoded as its
 * head/tail layout, as for an argument list). Kinds must match, except that
 * uint and int values are interchangeable when the number fits, bytes and
 * string likewise, and ABI_ARRAY / ABI_FIXED_ARRAY values either array type.
 * On failure `out` keeps its old length.
 */
int abi_encode_value(struct buf *out, const struct abi_type *t,
		     const struct abi_value *v, struct err *e);

/*
 * Appends the encoding of the argument list `args` (n values) for the types
 * in `types` ("(uint256,string)", or "uint256,string" without parentheses).
 */
int abi_encode(struct buf *out, const char *types,
	       const struct abi_value *args, size_t n, struct err *e);

/* Appends selector + arguments for `signature` ("transfer(address,uint256)"). */
int abi_encode_call(struct buf *out, const char *signature,
		    const struct abi_value *args, size_t n, struct err *e);

/*
 * Decodes `data` as type `t` into a fresh tree (*out, free with
 * abi_value_free). Canonical encodings only; see the file comment.
 */
int abi_decode_value(struct abi_value **out, const struct abi_type *t,
		     const uint8_t *data, size_t n, struct err *e);

/*
 * Decodes an argument list (return data, calldata after the selector).
 * *out is an ABI_TUPLE whose items are the arguments.
 */
int abi_decode(struct abi_value **out, const char *types_tuple,
	       const uint8_t *data, size_t n, struct err *e);

/* Decodes calldata for `signature`: checks the selector, then the arguments. */
int abi_decode_call(struct abi_value **out, const char *signature,
		    const uint8_t *data, size_t n, struct err *e);

/* Frees a tree from a decoder. NULL allowed. Not for abi_v_* values. */
void abi_value_free(struct abi_value *v);

/*
 * Decodes a (non-anonymous) log against an event declaration with
 * "indexed" marks. topics[0] must equal the event's topic0; indexed
 * parameters come from topics[1..] (value types decoded with the same
 * canonical checks; strings, bytes, arrays and tuples are only their hash,
 * returned as ABI_TOPIC_HASH), the others from `data` as an argument list.
 * *out is an ABI_TUPLE of all parameters in declaration order.
 */
int abi_decode_event(struct abi_value **out, const char *event_decl,
		     const uint8_t (*topics)[32], size_t ntopics,
		     const uint8_t *data, size_t n, struct err *e);

enum abi_revert_kind {
	ABI_REVERT_EMPTY = 1, /* no data: revert() or require(false) */
	ABI_REVERT_ERROR,     /* Error(string): `message` */
	ABI_REVERT_PANIC,     /* Panic(uint256): `panic_code`, `panic_text` */
	ABI_REVERT_CUSTOM,    /* a listed custom error: `custom`, `args` */
	ABI_REVERT_UNKNOWN,   /* a selector that matched nothing listed */
};

/* A decoded revert payload. The caller owns the struct. */
struct abi_revert {
	enum abi_revert_kind kind;
	uint8_t selector[4];     /* first 4 bytes, zero for EMPTY */
	const char *message;     /* ERROR: the reason, NUL-terminated (in args) */
	size_t message_len;      /* ERROR: bytes in message */
	u256 panic_code;         /* PANIC: the code */
	const char *panic_text;  /* PANIC: static description */
	size_t custom;           /* CUSTOM: index into the signature list */
	struct abi_value *args;  /* ERROR/PANIC/CUSTOM: decoded arguments */
};

/*
 * Decodes revert data. `customs` lists custom error signatures
 * ("InsufficientBalance(uint256,uint256)") matched by selector; malformed
 * payloads are errors, an unknown selector is ABI_REVERT_UNKNOWN.
 * Release with abi_revert_release.
 */
int abi_decode_revert(struct abi_revert *out, const uint8_t *data, size_t n,
		      const char *const *customs, size_t ncustoms, struct err *e);

/* Frees what abi_decode_revert allocated. NULL allowed. */
void abi_revert_release(struct abi_revert *r);

#endif
