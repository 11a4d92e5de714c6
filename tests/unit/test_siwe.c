/*
 * test_siwe.c — EIP-4361 parsing and verification, nonces, session tokens.
 *
 * Vectors: the messages below were produced by the pinned npm packages in
 * /work/main/node_modules — `new SiweMessage({...}).prepareMessage()` from
 * siwe 3.0.0 — and signed with `new Wallet(key).signMessageSync(msg)` from
 * ethers 6.17.0 (keys: anvil account 0 0xac0974be...ff80 -> 0xf39F..2266,
 * and 0x4646..46 -> 0x9d8A..5A4F). Each message was also re-parsed by
 * `new SiweMessage(text)` (siwe's own ABNF parser) and its timestamps
 * converted with JavaScript `Date.parse`, which gave the expected *_ms values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "core/err.h"
#include "core/hex.h"
#include "eth/secp.h"
#include "eth/address.h"
#include "eth/eip191.h"
#include "market/siwe.h"

#define K0 "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
#define A0 "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
#define A46 "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"

struct vec {
	const char *msg;
	const char *sig;      /* 0x r||s||v */
	const char *addr;
	const char *scheme;
	const char *domain;
	const char *statement; /* NULL: absent */
	const char *uri;
	uint64_t chain_id;
	const char *nonce;
	int64_t issued_at_ms;
	int64_t expiration_ms; /* -1: absent */
	int64_t not_before_ms; /* -1: absent */
	const char *request_id; /* NULL: absent */
	int nresources;         /* -1: no Resources line */
};

static const struct vec vecs[] = {
	/* 0: statement, no optional fields (siwe 3.0.0 + ethers 6.17.0, anvil key 0) */
	{ "market.example wants you to sign in with your Ethereum account:\n"
	  A0 "\n\nSign in to Flopmarket.\n\nURI: https://market.example/login\nVersion: 1\n"
	  "Chain ID: 1\nNonce: abcdef1234567890\nIssued At: 2024-05-01T12:00:00.000Z",
	  "0x535c36e6dafd5e16d318399a0bba42038b9ecf6c7ebf6fa9e32c22214533889e"
	  "7759799e837be6a175d6eec4b8862d3008516aa3db0af3a40bc1c51b38bf3e8e1b",
	  A0, "", "market.example", "Sign in to Flopmarket.", "https://market.example/login", 1,
	  "abcdef1234567890", 1714564800000, -1, -1, NULL, -1 },
	/* 1: no statement, port in domain, expiration with fraction, not-before with offset */
	{ "localhost:8080 wants you to sign in with your Ethereum account:\n"
	  A0 "\n\n\nURI: http://localhost:8080\nVersion: 1\nChain ID: 31337\nNonce: Zx9Kq2Lm\n"
	  "Issued At: 2024-05-01T12:00:00Z\nExpiration Time: 2024-05-01T13:00:00.5Z\n"
	  "Not Before: 2024-05-01T11:59:00+00:00",
	  "0x7c1cd4641e0623fa7f4dce5dfaf45b13437d3f5488ed0e26b1bdb2bda5f63851"
	  "461f4e7f86cea3aea61d9e87c2b654927c73f07928c15d15743661d44a3664061c",
	  A0, "", "localhost:8080", NULL, "http://localhost:8080", 31337, "Zx9Kq2Lm",
	  1714564800000, 1714568400500, 1714564740000, NULL, -1 },
	/* 2: scheme, statement with URL, micro-second fraction and +02:00, request id, resources (key 0x46..) */
	{ "https://market.example wants you to sign in with your Ethereum account:\n"
	  A46 "\n\nI accept the Terms: https://market.example/tos\n\n"
	  "URI: https://market.example/api/v1\nVersion: 1\nChain ID: 137\nNonce: n0nce0000AAAA\n"
	  "Issued At: 2024-05-01T14:00:00.123456+02:00\nExpiration Time: 2024-05-02T12:00:00Z\n"
	  "Request ID: req-42:abc@x\nResources:\n"
	  "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
	  "- https://market.example/rentals/7",
	  "0x3fd58a985ac0f736bdcd44356f77d1ff6605b52a6d0c74500c9955b8d10abe2b"
	  "4159dd180aca9b89cf5598d286b4bb355b3fca80b1f4e2b1457e00319cbf86011c",
	  A46, "https", "market.example", "I accept the Terms: https://market.example/tos",
	  "https://market.example/api/v1", 137, "n0nce0000AAAA", 1714564800123, 1714651200000, -1,
	  "req-42:abc@x", 2 },
	/* 3: userinfo + IPv6 literal domain, empty statement, leap day with -05:30, empty Resources */
	{ "user@[::1]:443 wants you to sign in with your Ethereum account:\n"
	  A46 "\n\n\n\nURI: https://[::1]/siwe?x=1#frag\nVersion: 1\nChain ID: 42161\n"
	  "Nonce: abcdefgh\nIssued At: 2024-02-29T23:59:59.999-05:30\nResources:",
	  "0x0a1e60de7ddfa184e0ce484f321e32c958318b584a3f8dc6c9c8fc100977cdad"
	  "5db14a97b52ce13dfc5da087efdc622dc29d65db57a4209f627a18fa7944659e1b",
	  A46, "", "user@[::1]:443", "", "https://[::1]/siwe?x=1#frag", 42161, "abcdefgh",
	  1709270999999, -1, -1, NULL, 0 },
	/* 4: not-before later than issued-at (anvil key 0) */
	{ "localhost:8080 wants you to sign in with your Ethereum account:\n"
	  A0 "\n\nRent later.\n\nURI: http://localhost:8080/\nVersion: 1\nChain ID: 31337\n"
	  "Nonce: LaterNonce99\nIssued At: 2024-05-01T12:00:00Z\nNot Before: 2024-05-01T12:30:00Z",
	  "0x1a1c478f6fb67b6052fb615203d0d8e2390c46bded86f736ea4ec4224578a947"
	  "32a8690a45cdcad540349387a0dfc609811260e9bdd02140e516e4c30b6e8fb61b",
	  A0, "", "localhost:8080", "Rent later.", "http://localhost:8080/", 31337, "LaterNonce99",
	  1714564800000, -1, 1714566600000, NULL, -1 },
};
#define NVECS (sizeof vecs / sizeof vecs[0])

static void sig_of(uint8_t sig[65], const char *hex)
{
	assert_int_equal(hex_decode_exact(sig, 65, hex, NULL), 0);
}

static void test_parse_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		const struct vec *v = &vecs[i];
		struct siwe_msg m;
		struct err e = { 0 };
		struct eth_address a;
		const char *field = NULL;
		char cs[ADDRESS_STR_MAX];

		if (siwe_parse(&m, v->msg, strlen(v->msg), &field, &e) != 0)
			fail_msg("vector %zu: %s", i, e.msg);
		assert_int_equal(address_parse(&a, v->addr, NULL), 0);
		assert_true(address_equal(&a, &m.address));
		address_to_checksum(cs, &m.address);
		assert_string_equal(cs, v->addr);
		assert_string_equal(m.scheme, v->scheme);
		assert_string_equal(m.domain, v->domain);
		assert_int_equal(m.has_statement, v->statement != NULL);
		if (v->statement)
			assert_string_equal(m.statement, v->statement);
		assert_string_equal(m.uri, v->uri);
		assert_string_equal(m.version, "1");
		assert_int_equal(m.chain_id, v->chain_id);
		assert_string_equal(m.nonce, v->nonce);
		assert_int_equal(m.issued_at_ms, v->issued_at_ms);
		assert_int_equal(m.has_expiration, v->expiration_ms >= 0);
		if (v->expiration_ms >= 0)
			assert_int_equal(m.expiration_ms, v->expiration_ms);
		assert_int_equal(m.has_not_before, v->not_before_ms >= 0);
		if (v->not_before_ms >= 0)
			assert_int_equal(m.not_before_ms, v->not_before_ms);
		assert_int_equal(m.has_request_id, v->request_id != NULL);
		if (v->request_id)
			assert_string_equal(m.request_id, v->request_id);
		assert_int_equal(m.has_resources, v->nresources >= 0);
		assert_int_equal(m.nresources, v->nresources < 0 ? 0 : v->nresources);
	}
	struct siwe_msg m;
	assert_int_equal(siwe_parse(&m, vecs[2].msg, strlen(vecs[2].msg), NULL, NULL), 0);
	assert_string_equal(m.resources[0],
			    "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/");
	assert_string_equal(m.resources[1], "https://market.example/rentals/7");
}

static struct siwe_expect expect_for(size_t i)
{
	const struct vec *v = &vecs[i];
	struct siwe_expect x = { 0 };
	x.domain = v->domain;
	x.chain_id = v->chain_id;
	x.nonce = v->nonce;
	x.now_ms = v->not_before_ms > v->issued_at_ms ? v->not_before_ms + 1000 : v->issued_at_ms + 1000;
	return x;
}

static void test_verify_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVECS; i++) {
		uint8_t sig[65];
		struct siwe_msg m;
		struct siwe_expect x = expect_for(i);
		struct err e = { 0 };
		const char *field = NULL;

		sig_of(sig, vecs[i].sig);
		if (siwe_verify(&m, vecs[i].msg, strlen(vecs[i].msg), sig, &x, &field, &e) != 0)
			fail_msg("vector %zu: %s", i, e.msg);
		assert_string_equal(m.nonce, vecs[i].nonce);
		/* v as 0/1 is accepted as well */
		sig[64] -= 27;
		assert_int_equal(siwe_verify(NULL, vecs[i].msg, strlen(vecs[i].msg), sig, &x, NULL,
					     NULL), 0);
	}
}

/* One-substitution malformations of a valid vector. */
struct bad {
	size_t base;        /* vector index */
	const char *from;   /* replaced text (first occurrence); NULL: append `to` */
	const char *to;
	const char *field;  /* expected field */
	int code;
};

static const struct bad bads[] = {
	{ 0, "wants you to sign in", "wants you to log in", "header", ERR_INVALID },
	{ 0, "account:\n", "account:\r\n", "header", ERR_INVALID },
	{ 2, "https://market.example wants", "1ttps://market.example wants", "scheme", ERR_INVALID },
	{ 2, "https://market.example wants", "ht tp://market.example wants", "scheme", ERR_INVALID },
	{ 0, "market.example wants", "market example wants", "domain", ERR_INVALID },
	{ 0, "market.example wants", " wants", "domain", ERR_INVALID },
	{ 1, "localhost:8080 wants", "localhost:80a0 wants", "domain", ERR_INVALID },
	{ 3, "user@[::1]:443", "user@[::1:443", "domain", ERR_INVALID },
	{ 0, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
	  "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266", "address", ERR_CHECKSUM },
	{ 0, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
	  "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "address", ERR_CHECKSUM },
	{ 0, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
	  "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb9226", "address", ERR_INVALID },
	{ 0, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
	  "0xg39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "address", ERR_INVALID },
	{ 0, "92266\n\n", "92266\nx\n", "message", ERR_INVALID },
	{ 0, "Sign in to Flopmarket.", "Sign in to \"Flopmarket\".", "statement", ERR_INVALID },
	{ 0, "Sign in to Flopmarket.", "100% sure", "statement", ERR_INVALID },
	{ 0, "Flopmarket.\n\nURI", "Flopmarket.\nsecond line\n\nURI", "statement", ERR_INVALID },
	{ 0, "URI: https://market.example/login", "URI: market example", "uri", ERR_INVALID },
	{ 0, "URI: https://market.example/login", "URI: https://market.example/a b", "uri", ERR_INVALID },
	{ 0, "URI: https://market.example/login", "URI: https://market.example/%zz", "uri", ERR_INVALID },
	{ 0, "URI: https://market.example/login", "Uri: https://market.example/login", "uri", ERR_INVALID },
	{ 1, "URI: http://localhost:8080", "URI: http://local^host", "uri", ERR_INVALID },
	{ 0, "Version: 1", "Version: 2", "version", ERR_INVALID },
	{ 0, "Version: 1", "Version: 10", "version", ERR_INVALID },
	{ 0, "\nVersion: 1", "", "version", ERR_INVALID },
	{ 0, "Chain ID: 1", "Chain ID: 0x1", "chain_id", ERR_INVALID },
	{ 0, "Chain ID: 1", "Chain ID: ", "chain_id", ERR_INVALID },
	{ 0, "Chain ID: 1", "Chain ID: 18446744073709551616", "chain_id", ERR_RANGE },
	{ 0, "Chain ID: 1", "Chain ID: 123456789012345678901", "chain_id", ERR_TOO_BIG },
	{ 0, "Chain ID: 1", "ChainID: 1", "chain_id", ERR_INVALID },
	{ 0, "Nonce: abcdef1234567890", "Nonce: abc1234", "nonce", ERR_INVALID },
	{ 0, "Nonce: abcdef1234567890", "Nonce: abcdef-1234567890", "nonce", ERR_INVALID },
	{ 0, "Nonce: abcdef1234567890", "Nonce: abcdef12345678 90", "nonce", ERR_INVALID },
	{ 0, "Issued At: 2024-05-01T12:00:00.000Z", "Issued At: 2024-05-01 12:00:00Z", "issued_at", ERR_INVALID },
	{ 0, "Issued At: 2024-05-01T12:00:00.000Z", "Issued At: 2024-13-01T12:00:00Z", "issued_at", ERR_INVALID },
	{ 0, "Issued At: 2024-05-01T12:00:00.000Z", "Issued At: 2023-02-29T12:00:00Z", "issued_at", ERR_INVALID },
	{ 0, "Issued At: 2024-05-01T12:00:00.000Z", "Issued At: 2024-05-01T12:00:00", "issued_at", ERR_INVALID },
	{ 0, "Issued At: 2024-05-01T12:00:00.000Z", "Issued At: 2024-05-01T24:00:00Z", "issued_at", ERR_INVALID },
	{ 0, "Issued At: 2024-05-01T12:00:00.000Z", "Issued At: 2024-05-01T12:00:00.Z", "issued_at", ERR_INVALID },
	{ 0, "Issued At: 2024-05-01T12:00:00.000Z", "Issued At: 2024-05-01T12:00:00+2:00", "issued_at", ERR_INVALID },
	{ 0, "Issued At: 2024-05-01T12:00:00.000Z", "Issued At: 2024-05-01T12:00:00ZZ", "issued_at", ERR_INVALID },
	{ 0, "\nIssued At: 2024-05-01T12:00:00.000Z", "", "issued_at", ERR_INVALID },
	{ 2, "Expiration Time: 2024-05-02T12:00:00Z", "Expiration Time: tomorrow", "expiration_time", ERR_INVALID },
	{ 1, "Not Before: 2024-05-01T11:59:00+00:00", "Not Before: 2024-05-01T11:59:00", "not_before", ERR_INVALID },
	{ 2, "Request ID: req-42:abc@x", "Request ID: req 42", "request_id", ERR_INVALID },
	{ 2, "Request ID: req-42:abc@x", "Request ID: req/42", "request_id", ERR_INVALID },
	{ 2, "- https://market.example/rentals/7", "* https://market.example/rentals/7", "resources", ERR_INVALID },
	{ 2, "- https://market.example/rentals/7", "- not a uri", "resources", ERR_INVALID },
	{ 2, "Resources:", "Resources: x", "resources", ERR_INVALID },
	{ 2, "Expiration Time: 2024-05-02T12:00:00Z\nRequest ID: req-42:abc@x",
	  "Request ID: req-42:abc@x\nExpiration Time: 2024-05-02T12:00:00Z", "expiration_time", ERR_INVALID },
	{ 1, "Not Before: 2024-05-01T11:59:00+00:00",
	  "Not Before: 2024-05-01T11:59:00+00:00\nNot Before: 2024-05-01T11:59:00+00:00", "not_before", ERR_INVALID },
	{ 2, NULL, "\n", "resources", ERR_INVALID },
	{ 0, NULL, "\n", "message", ERR_INVALID },
	{ 0, NULL, "\nFoo: bar", "message", ERR_INVALID },
	{ 1, NULL, "\r", "not_before", ERR_INVALID },
};

/* Builds the malformed message into a fresh buffer (caller frees). */
static char *apply(const struct bad *b, size_t *len)
{
	const char *base = vecs[b->base].msg;
	size_t n = strlen(base) + strlen(b->to) + 1;
	char *out = malloc(n);
	assert_non_null(out);
	if (!b->from) {
		snprintf(out, n, "%s%s", base, b->to);
	} else {
		const char *p = strstr(base, b->from);
		assert_non_null(p);
		snprintf(out, n, "%.*s%s%s", (int)(p - base), base, b->to, p + strlen(b->from));
	}
	*len = strlen(out);
	return out;
}

static void test_parse_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		struct siwe_msg m, before;
		struct err e = { 0 };
		const char *field = NULL;
		size_t n;
		char *txt = apply(&bads[i], &n);
		memset(&m, 0x5a, sizeof m);
		before = m;
		int rc = siwe_parse(&m, txt, n, &field, &e);
		if (rc != bads[i].code || !field || strcmp(field, bads[i].field) != 0)
			fail_msg("bad %zu: rc %d field %s msg \"%s\"", i, rc, field ? field : "(null)",
				 e.msg);
		assert_true(e.msg[0] != 0);
		assert_non_null(strstr(e.msg, bads[i].field));
		assert_memory_equal(&m, &before, sizeof m);
		free(txt);
	}
}

/* Caps: every field's length limit, and the whole message. */
static void test_parse_caps(void **state)
{
	(void)state;
	static const struct {
		const char *from;
		char fill;
		size_t n;
		const char *prefix;
		const char *field;
	} caps[] = {
		{ "Sign in to Flopmarket.", 'a', SIWE_STATEMENT_MAX + 1, "", "statement" },
		{ "Nonce: abcdef1234567890", 'a', SIWE_NONCE_MAX + 1, "Nonce: ", "nonce" },
		{ "URI: https://market.example/login", 'a', SIWE_URI_MAX, "URI: https://", "uri" },
		{ "market.example wants", 'a', SIWE_DOMAIN_MAX + 1, "", "domain" },
	};
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		const char *base = vecs[0].msg, *p = strstr(base, caps[i].from);
		char *txt = malloc(strlen(base) + caps[i].n + 64);
		struct err e = { 0 };
		const char *field = NULL;
		struct siwe_msg m;
		size_t k = (size_t)(p - base);
		memcpy(txt, base, k);
		strcpy(txt + k, caps[i].prefix);
		size_t q = strlen(txt);
		memset(txt + q, caps[i].fill, caps[i].n);
		txt[q + caps[i].n] = 0;
		if (strcmp(caps[i].field, "domain") == 0)
			strcat(txt, " wants");
		strcat(txt, p + strlen(caps[i].from));
		/* one under the cap parses (domain and statement only: exact-size fields) */
		assert_int_equal(siwe_parse(&m, txt, strlen(txt), &field, &e), ERR_TOO_BIG);
		assert_string_equal(field, caps[i].field);
		free(txt);
	}
	/* statement exactly at the cap is fine */
	{
		const char *base = vecs[0].msg, *p = strstr(base, "Sign in");
		char *txt = malloc(strlen(base) + SIWE_STATEMENT_MAX + 8);
		size_t k = (size_t)(p - base);
		memcpy(txt, base, k);
		memset(txt + k, 'b', SIWE_STATEMENT_MAX);
		strcpy(txt + k + SIWE_STATEMENT_MAX, p + strlen("Sign in to Flopmarket."));
		struct siwe_msg m;
		assert_int_equal(siwe_parse(&m, txt, strlen(txt), NULL, NULL), 0);
		assert_int_equal(strlen(m.statement), SIWE_STATEMENT_MAX);
		free(txt);
	}
	/* too many resources, and the total size cap */
	{
		char *txt = malloc(SIWE_MSG_MAX + 64);
		const char *field = NULL;
		struct err e = { 0 };
		struct siwe_msg m;
		strcpy(txt, vecs[3].msg);
		for (int i = 0; i <= SIWE_RESOURCES_MAX; i++)
			strcat(txt, "\n- https://a.example/");
		assert_int_equal(siwe_parse(&m, txt, strlen(txt), &field, &e), ERR_TOO_BIG);
		assert_string_equal(field, "resources");
		memset(txt, 'a', SIWE_MSG_MAX + 1);
		assert_int_equal(siwe_parse(&m, txt, SIWE_MSG_MAX + 1, &field, &e), ERR_TOO_BIG);
		assert_string_equal(field, "message");
		/* embedded NUL in the statement */
		strcpy(txt, vecs[0].msg);
		size_t n = strlen(txt);
		txt[strstr(txt, "Flopmarket.") - txt] = 0;
		assert_int_equal(siwe_parse(&m, txt, n, &field, &e), ERR_INVALID);
		assert_string_equal(field, "statement");
		/* empty and truncated messages */
		assert_int_equal(siwe_parse(&m, "", 0, &field, &e), ERR_INVALID);
		assert_string_equal(field, "header");
		for (size_t cut = 1; cut < strlen(vecs[2].msg); cut++) {
			int rc = siwe_parse(&m, vecs[2].msg, cut, &field, &e);
			/* a cut inside the tail may still be a valid shorter message */
			if (rc != 0)
				assert_true(e.msg[0] != 0 && field != NULL);
		}
		free(txt);
	}
}

static void test_verify_refusals(void **state)
{
	(void)state;
	uint8_t sig[65], sk[32];
	struct siwe_expect x;
	const char *field;
	struct err e;
	const char *t2 = vecs[2].msg, *t4 = vecs[4].msg;
	size_t n2 = strlen(t2), n4 = strlen(t4);

	sig_of(sig, vecs[2].sig);
#define REFUSE(txt, n, want_field, want_code)                                          \
	do {                                                                            \
		field = NULL;                                                           \
		memset(&e, 0, sizeof e);                                                \
		int rc_ = siwe_verify(NULL, txt, n, sig, &x, &field, &e);               \
		if (rc_ != (want_code) || !field || strcmp(field, want_field) != 0)    \
			fail_msg("want %s/%d got %s/%d: %s", want_field, want_code,    \
				 field ? field : "-", rc_, e.msg);                      \
		assert_true(e.msg[0] != 0);                                             \
	} while (0)

	x = expect_for(2);
	x.origin = "https://market.example";
	assert_int_equal(siwe_verify(NULL, t2, n2, sig, &x, NULL, NULL), 0);
	x.origin = "HTTPS://Market.Example";
	x.domain = "MARKET.example";
	assert_int_equal(siwe_verify(NULL, t2, n2, sig, &x, NULL, NULL), 0);

	x = expect_for(2);
	x.domain = "evil.example";
	REFUSE(t2, n2, "domain", ERR_AUTH);
	x.domain = "market.example:443";
	REFUSE(t2, n2, "domain", ERR_AUTH);
	x = expect_for(2);
	x.origin = "https://market.example:8443";
	REFUSE(t2, n2, "uri", ERR_AUTH);
	x.origin = "http://market.example";
	REFUSE(t2, n2, "uri", ERR_AUTH);
	x = expect_for(2);
	x.chain_id = 1;
	REFUSE(t2, n2, "chain_id", ERR_AUTH);
	x = expect_for(2);
	x.nonce = "n0nce0000AAAB";
	REFUSE(t2, n2, "nonce", ERR_AUTH);
	x.nonce = "n0nce0000AAA";
	REFUSE(t2, n2, "nonce", ERR_AUTH);
	/* expired: exactly at the expiration time and after */
	x = expect_for(2);
	x.now_ms = vecs[2].expiration_ms;
	REFUSE(t2, n2, "expiration_time", ERR_STATE);
	x.now_ms = vecs[2].expiration_ms - 1;
	assert_int_equal(siwe_verify(NULL, t2, n2, sig, &x, NULL, NULL), 0);
	/* issued in the future (beyond the default 60 s skew), and too old */
	x = expect_for(2);
	x.now_ms = vecs[2].issued_at_ms - SIWE_SKEW_DEFAULT_MS - 1;
	REFUSE(t2, n2, "issued_at", ERR_STATE);
	x.now_ms = vecs[2].issued_at_ms - SIWE_SKEW_DEFAULT_MS;
	assert_int_equal(siwe_verify(NULL, t2, n2, sig, &x, NULL, NULL), 0);
	x = expect_for(2);
	x.max_age_ms = 10000;
	x.skew_ms = 1;
	x.now_ms = vecs[2].issued_at_ms + 10002;
	REFUSE(t2, n2, "issued_at", ERR_STATE);
	/* not yet valid */
	sig_of(sig, vecs[4].sig);
	x = expect_for(4);
	x.skew_ms = 1000;
	x.now_ms = vecs[4].not_before_ms - 1001;
	REFUSE(t4, n4, "not_before", ERR_STATE);
	x.now_ms = vecs[4].not_before_ms - 1000;
	assert_int_equal(siwe_verify(NULL, t4, n4, sig, &x, NULL, NULL), 0);
	/* wrong signer: vector 3's signature (same claimed address) over vector 2's text */
	sig_of(sig, vecs[3].sig);
	x = expect_for(2);
	REFUSE(t2, n2, "signature", ERR_AUTH);
	/* wrong signer: anvil key 0 signs a message claiming 0x9d8A..(key 0x46) */
	assert_int_equal(hex_decode_exact(sk, 32, K0, NULL), 0);
	assert_int_equal(eip191_sign(sig, (const uint8_t *)t2, n2, sk, NULL), 0);
	REFUSE(t2, n2, "signature", ERR_AUTH);
	/* malformed signature: bad v, zero r */
	sig_of(sig, vecs[2].sig);
	sig[64] = 5;
	REFUSE(t2, n2, "signature", ERR_INVALID);
	sig_of(sig, vecs[2].sig);
	memset(sig, 0, 32);
	field = NULL;
	assert_true(siwe_verify(NULL, t2, n2, sig, &x, &field, NULL) < 0);
	assert_string_equal(field, "signature");
	/* a parse failure is reported as such */
	sig_of(sig, vecs[2].sig);
	REFUSE(t2, (size_t)(strstr(t2, "Version") - t2), "version", ERR_INVALID);
	/* one flipped byte in a valid message: still parses, signer changes */
	{
		char *t = strdup(t2);
		t[strstr(t, "rentals/7") - t + 8] = '8';
		REFUSE(t, n2, "signature", ERR_AUTH);
		free(t);
	}
	/* missing expectations */
	x.domain = NULL;
	REFUSE(t2, n2, "expect", ERR_INVALID);
#undef REFUSE
}

/* RFC 3339 conversions; expected values from JavaScript Date.parse (node 20). */
static void test_time(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2000-02-29T12:34:56.789+05:45", 951806996789 },
		{ "1999-12-31t23:59:59.1z", 946684799100 },
		{ "2038-01-19T03:14:08-00:00", 2147483648000 },
		{ "9999-12-31T23:59:59.999999999Z", 253402300799999 },
		{ "0000-01-01T00:00:00Z", -62167219200000 },
	};
	static const char *bad[] = {
		"", "2024", "2024-05-01", "2024-05-01T", "2024-05-01T12:00Z", "2024-5-01T12:00:00Z",
		"2024-05-01T12:00:00", "2024-05-01T12:00:00+0200", "2024-05-01T12:00:00+24:00",
		"2024-05-01T12:00:00+02:60", "2024-00-01T00:00:00Z", "2024-04-31T00:00:00Z",
		"2100-02-29T00:00:00Z", "2024-05-01T12:60:00Z", "2024-05-01T12:00:61Z",
		"2024-05-01T12:00:00Z ", " 2024-05-01T12:00:00Z", "+2024-05-01T12:00:00Z",
		"2024-05-01T12:00:00.Z", "2024-05-01X12:00:00Z",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int64_t ms = 0;
		struct err e = { 0 };
		if (siwe_time_parse(&ms, good[i].s, strlen(good[i].s), &e) != 0)
			fail_msg("%s: %s", good[i].s, e.msg);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t ms = 77;
		struct err e = { 0 };
		if (siwe_time_parse(&ms, bad[i], strlen(bad[i]), &e) >= 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_true(e.msg[0] != 0);
		assert_int_equal(ms, 77);
	}
}

static void test_nonce_and_token(void **state)
{
	(void)state;
	char n1[SIWE_NONCE_LEN + 1], n2[SIWE_NONCE_LEN + 1], t1[SESSION_TOKEN_LEN + 1],
		t2[SESSION_TOKEN_LEN + 1];
	uint8_t h1[32], h2[32], h[32];

	assert_int_equal(siwe_nonce_new(n1), 0);
	assert_int_equal(siwe_nonce_new(n2), 0);
	assert_int_equal(strlen(n1), SIWE_NONCE_LEN);
	assert_string_not_equal(n1, n2);
	for (size_t i = 0; i < SIWE_NONCE_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
				       n1[i]));
	assert_int_equal(session_token_new(t1, h1), 0);
	assert_int_equal(session_token_new(t2, h2), 0);
	assert_int_equal(strlen(t1), SESSION_TOKEN_LEN);
	assert_string_not_equal(t1, t2);
	assert_memory_not_equal(h1, h2, 32);
	for (size_t i = 0; i < SESSION_TOKEN_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
				       t1[i]));
	assert_int_equal(session_token_hash(h, t1, strlen(t1), NULL), 0);
	assert_memory_equal(h, h1, 32);
	/* SHA-256("abc") = ba7816bf... (FIPS 180-2 appendix B.1) */
	uint8_t want[32];
	assert_int_equal(hex_decode_exact(want, 32,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", NULL), 0);
	assert_int_equal(session_token_hash(h, "abc", 3, NULL), 0);
	assert_memory_equal(h, want, 32);
	char big[300];
	memset(big, 'a', sizeof big);
	struct err e = { 0 };
	assert_int_equal(session_token_hash(h, big, sizeof big, &e), ERR_TOO_BIG);
	assert_true(e.msg[0] != 0);
}

/* siwe_format is the inverse of siwe_parse; what siwe_sign_in_format writes verifies (issue 9.4: the one
 * place a SIWE message is built, for the CLI and the agent). */
static void test_format_round_trip(void **state)
{
	struct siwe_msg *m = calloc(1, sizeof *m), *back = calloc(1, sizeof *back);
	char text[4096];
	uint8_t key[32], sig[65];
	struct err e = { 0 };
	(void)state;
	assert_non_null(m);
	assert_non_null(back);
	memset(key, 0x11, sizeof key);
	assert_int_equal(secp_address(&m->address, key, NULL), 0);
	strcpy(m->scheme, "https");
	strcpy(m->domain, "market.example:8080");
	m->has_statement = true;
	strcpy(m->statement, "Sign in to Flopmarket.");
	strcpy(m->uri, "https://market.example:8080/login");
	strcpy(m->version, "1");
	m->chain_id = 137;
	strcpy(m->nonce, "abcdef0123456789");
	m->issued_at_ms = INT64_C(1764745200000);
	m->has_expiration = true;
	m->expiration_ms = INT64_C(1764748800123);
	m->has_not_before = true;
	m->not_before_ms = INT64_C(1764745100000);
	m->has_request_id = true;
	strcpy(m->request_id, "req-1");
	m->has_resources = true;
	m->nresources = 2;
	strcpy(m->resources[0], "https://market.example/a");
	strcpy(m->resources[1], "ipfs://bafy");
	assert_int_equal(siwe_format(text, sizeof text, m, &e), 0);
	assert_int_equal(siwe_parse(back, text, strlen(text), NULL, &e), 0);
	assert_int_equal(memcmp(m, back, sizeof *m), 0);
	/* too small: ERR_TOO_BIG, nothing half written */
	char small[40];
	assert_int_equal(siwe_format(small, sizeof small, m, &e), ERR_TOO_BIG);
	assert_string_equal(small, "");

	struct siwe_sign_in in = { .domain = "127.0.0.1:8080", .uri = "http://127.0.0.1:8080", .nonce = "n0nce123abc",
				   .statement = "Sign in to Flopmarket.", .chain_id = 31337, .address = m->address,
				   .issued_ms = (int64_t)time(NULL) * 1000, .expires_ms = ((int64_t)time(NULL) + 600) * 1000 };
	assert_int_equal(siwe_sign_in_format(text, sizeof text, &in, &e), 0);
	assert_int_equal(eip191_sign(sig, (const uint8_t *)text, strlen(text), key, &e), 0);
	struct siwe_expect x = { .domain = "127.0.0.1:8080", .origin = "http://127.0.0.1:8080", .chain_id = 31337,
				 .now_ms = (int64_t)time(NULL) * 1000, .max_age_ms = 600000 };
	assert_int_equal(siwe_verify(back, text, strlen(text), sig, &x, NULL, &e), 0);
	free(m);
	free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_parse_vectors),   cmocka_unit_test(test_verify_vectors),
		cmocka_unit_test(test_parse_bad),       cmocka_unit_test(test_parse_caps),
		cmocka_unit_test(test_verify_refusals), cmocka_unit_test(test_time),
		cmocka_unit_test(test_nonce_and_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
