/*
 * eip712.h — EIP-712 typed structured data: encodeType, typeHash,
 * hashStruct, the domain separator and the signing digest
 * keccak256(0x19 0x01 || domainSeparator || hashStruct(message)).
 *
 * Types are arbitrary: any set of struct types whose members are atomic
 * (uint8..uint256, int8..int256, address, bool, bytes1..bytes32), dynamic
 * (bytes, string), other struct types, or arrays of any of these, fixed
 * (T[3]) or dynamic (T[]), nested (T[][2]). encodeType lists the primary type
 * first, then every struct type it references (directly, through arrays or
 * recursively) once, sorted by name.
 *
 * Two ways in:
 *  - JSON: the eth_signTypedData_v4 object {types, primaryType, domain,
 *    message} (eip712_json_hash). Numbers may be JSON integers, decimal
 *    strings or 0x-hex strings; addresses are 0x-hex strings (a mixed-case
 *    address must carry a valid EIP-55 checksum); bytes/bytesN are 0x-hex
 *    strings (bytesN of exactly N bytes); bools are JSON true/false.
 *    Every declared member must be present and no undeclared key may appear
 *    (so nothing a user sees goes unsigned). EIP712Domain may be given in
 *    `types`; when absent it is derived from the keys present in `domain`.
 *  - C: the caller writes the type definitions as one string in encodeType
 *    form, primary type first, e.g.
 *      "Offer(address provider,uint256 rate,Spec spec)Spec(string gpu,uint32 vram_gib)"
 *    (the other types may come in any order) and gives the primary struct's
 *    member values, in declaration order, as an array of struct eip712_val
 *    built with the small constructors below:
 *
 *      struct eip712_val spec[] = { eip712_str("H100"), eip712_u64(80) };
 *      struct eip712_val offer[] = {
 *              eip712_address(&provider),
 *              eip712_u256(&rate),
 *              eip712_struct(spec, 2),
 *      };
 *      struct eip712_domain dom = {
 *              .name = "Flopmarket", .version = "1",
 *              .has_chain_id = true, .chain_id = 31337,
 *              .verifying_contract = &escrow,
 *      };
 *      uint8_t digest[32];
 *      rc = eip712_digest_vals(digest, &dom, OFFER_TYPES, offer, 3, &err);
 *
 *    eip712_word() passes a member already encoded as its 32-byte
 *    encodeData word (e.g. a precomputed hashStruct or keccak of a string).
 *
 * Every input is capped (EIP712_MAX_*). Errors name the path of the bad
 * member, e.g. "message.to.wallet: bad address" or "types.Mail[2].type:
 * unknown type 'Persn'". A failed call leaves its outputs untouched.
 * Followed: EIP-712 (final), with the array encoding of eth_signTypedData_v4.
 */
#ifndef FLOP_ETH_EIP712_H
#define FLOP_ETH_EIP712_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eth/address.h"
#include "core/buf.h"
#include "core/u256.h"

struct err;
struct json_t;

#define EIP712_MAX_TYPES 64          /* struct types in one definition set */
#define EIP712_MAX_FIELDS 64         /* members of one struct type */
#define EIP712_MAX_NAME 64           /* bytes in a type or member name */
#define EIP712_MAX_TYPE_STR 128      /* bytes in a member's type, e.g. "Person[][3]" */
#define EIP712_MAX_DIMS 4            /* array dimensions on one member */
#define EIP712_MAX_DEPTH 16          /* nesting of structs/arrays in a value */
#define EIP712_MAX_ARRAY 1024        /* elements in one array */
#define EIP712_MAX_VALUES 65536      /* encoded values in one hashStruct */
#define EIP712_MAX_BYTES ((size_t)64 << 10)   /* a string or bytes value */
#define EIP712_MAX_DECL ((size_t)16 << 10)    /* the C type declaration string */
#define EIP712_MAX_JSON ((size_t)1 << 20)     /* the whole v4 JSON text */

/* A parsed, validated set of struct types (opaque). */
struct eip712_types;

/*
 * Parses a declaration string in encodeType form ("A(uint256 x,B b)B(...)")
 * into a new type set; the first struct is the primary type. Whitespace is
 * not allowed except the single space between a member's type and name.
 * The caller frees *out with eip712_types_free.
 */
int eip712_types_parse(struct eip712_types **out, const char *decl, struct err *e);

/*
 * Builds a type set from the `types` object of eth_signTypedData_v4
 * ({"Name": [{"name": .., "type": ..}, ...], ...}). EIP712Domain, when
 * present, is checked (only name/version/chainId/verifyingContract/salt with
 * their EIP-712 types) and kept.
 */
int eip712_types_from_json(struct eip712_types **out, const struct json_t *types,
			   struct err *e);

/* Frees a type set; NULL allowed. */
void eip712_types_free(struct eip712_types *t);

/* Name of the first struct of a set parsed by eip712_types_parse. */
const char *eip712_types_primary(const struct eip712_types *t);

/* Appends encodeType(name) to `out`. ERR_NOT_FOUND for an unknown type. */
int eip712_encode_type(struct buf *out, const struct eip712_types *t, const char *name,
		       struct err *e);

/* keccak256(encodeType(name)). */
int eip712_type_hash(uint8_t out32[32], const struct eip712_types *t, const char *name,
		     struct err *e);

/*
 * hashStruct of a JSON object of type `name`; `path` prefixes error
 * messages ("message" when NULL).
 */
int eip712_hash_struct_json(uint8_t out32[32], const struct eip712_types *t,
			    const char *name, const struct json_t *value, const char *path,
			    struct err *e);

/* What a C value holds; see the constructors below. */
enum eip712_kind {
	EIP712_WORD = 1, /* .word: the member's 32-byte encodeData word, as is */
	EIP712_UINT,     /* .uint256: for uintN (range-checked against N) */
	EIP712_U64,      /* .u64: for uintN, or intN when it fits */
	EIP712_I64,      /* .i64: for intN, or uintN when >= 0 */
	EIP712_ADDRESS,  /* .addr: for address */
	EIP712_BOOL,     /* .boolean: for bool */
	EIP712_BYTES,    /* .bytes: for bytes, or bytesN when len == N */
	EIP712_STRING,   /* .str: NUL-terminated UTF-8, for string */
	EIP712_STRUCT,   /* .list: the members of a struct, in declaration order */
	EIP712_ARRAY,    /* .list: the elements of an array */
};

/* One member value for the C API. Borrowed pointers; nothing is freed. */
struct eip712_val {
	enum eip712_kind kind; /* which union member is set */
	union {
		uint8_t word[32];        /* EIP712_WORD */
		u256 uint256;            /* EIP712_UINT */
		uint64_t u64;            /* EIP712_U64 */
		int64_t i64;             /* EIP712_I64 */
		struct eth_address addr; /* EIP712_ADDRESS */
		bool boolean;            /* EIP712_BOOL */
		struct {
			const uint8_t *p; /* may be NULL when len is 0 */
			size_t len;
		} bytes;                 /* EIP712_BYTES */
		const char *str;         /* EIP712_STRING */
		struct {
			const struct eip712_val *v; /* members or elements */
			size_t n;                   /* how many */
		} list;                  /* EIP712_STRUCT, EIP712_ARRAY */
	};
};

static inline struct eip712_val eip712_word(const uint8_t w32[32])
{
	struct eip712_val v = { .kind = EIP712_WORD };
	for (int i = 0; i < 32; i++)
		v.word[i] = w32[i];
	return v;
}
static inline struct eip712_val eip712_u256(const u256 *x)
{
	return (struct eip712_val){ .kind = EIP712_UINT, .uint256 = *x };
}
static inline struct eip712_val eip712_u64(uint64_t x)
{
	return (struct eip712_val){ .kind = EIP712_U64, .u64 = x };
}
static inline struct eip712_val eip712_i64(int64_t x)
{
	return (struct eip712_val){ .kind = EIP712_I64, .i64 = x };
}
static inline struct eip712_val eip712_address(const struct eth_address *a)
{
	return (struct eip712_val){ .kind = EIP712_ADDRESS, .addr = *a };
}
static inline struct eip712_val eip712_bool(bool b)
{
	return (struct eip712_val){ .kind = EIP712_BOOL, .boolean = b };
}
static inline struct eip712_val eip712_bytes(const uint8_t *p, size_t len)
{
	return (struct eip712_val){ .kind = EIP712_BYTES, .bytes = { p, len } };
}
static inline struct eip712_val eip712_str(const char *s)
{
	return (struct eip712_val){ .kind = EIP712_STRING, .str = s };
}
static inline struct eip712_val eip712_struct(const struct eip712_val *members, size_t n)
{
	return (struct eip712_val){ .kind = EIP712_STRUCT, .list = { members, n } };
}
static inline struct eip712_val eip712_array(const struct eip712_val *elems, size_t n)
{
	return (struct eip712_val){ .kind = EIP712_ARRAY, .list = { elems, n } };
}

/*
 * hashStruct of a value of type `name` whose members are vals[0..n) in
 * declaration order. Each value is checked against its member's type
 * (ERR_INVALID / ERR_RANGE naming "Offer.rate" etc.).
 */
int eip712_hash_struct_vals(uint8_t out32[32], const struct eip712_types *t,
			    const char *name, const struct eip712_val *vals, size_t n,
			    struct err *e);

/* An EIP712Domain; only the members that are set take part, in EIP order. */
struct eip712_domain {
	const char *name;                        /* NULL: absent */
	const char *version;                     /* NULL: absent */
	bool has_chain_id;                       /* chain_id present */
	uint64_t chain_id;                       /* EIP-155 chain id */
	const struct eth_address *verifying_contract; /* NULL: absent */
	const uint8_t *salt32;                   /* NULL: absent */
};

/* domainSeparator = hashStruct(EIP712Domain) for the members set in `d`. */
int eip712_domain_separator(uint8_t out32[32], const struct eip712_domain *d,
			    struct err *e);

/* keccak256(0x19 0x01 || domain_sep32 || struct_hash32). Cannot fail. */
void eip712_digest(uint8_t out32[32], const uint8_t domain_sep32[32],
		   const uint8_t struct_hash32[32]);

/*
 * One call for C callers: parses `decl` (primary type first), hashes `vals`
 * and the domain, and writes the signing digest.
 */
int eip712_digest_vals(uint8_t digest32[32], const struct eip712_domain *d,
		       const char *decl, const struct eip712_val *vals, size_t n,
		       struct err *e);

/* The three hashes of a v4 JSON request. */
struct eip712_hashes {
	uint8_t domain_separator[32]; /* hashStruct(domain) */
	uint8_t message_hash[32];     /* hashStruct(message) */
	uint8_t digest[32];           /* what gets signed */
};

/* Hashes an eth_signTypedData_v4 JSON text of `len` bytes. */
int eip712_json_hash(struct eip712_hashes *out, const char *json, size_t len,
		     struct err *e);

/* Same, for an already parsed JSON object. */
int eip712_json_hash_obj(struct eip712_hashes *out, const struct json_t *root,
			 struct err *e);

/* Signs a v4 JSON request; writes r || s || v with v = 27/28 (as wallets do). */
int eip712_json_sign(uint8_t sig65[65], const char *json, size_t len,
		     const uint8_t seckey32[32], struct err *e);

/* Recovers the signer of a v4 JSON request. */
int eip712_json_recover(struct eth_address *signer, const char *json, size_t len,
			const uint8_t sig65[65], struct err *e);

#endif
