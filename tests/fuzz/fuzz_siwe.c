/*
 * fuzz_siwe.c — libFuzzer target for the EIP-4361 parser, the RFC 3339 time
 * parser and the verifier (src/market/siwe.c).
 *
 * Properties checked beyond "no crash / no sanitizer report": a rejected
 * message leaves the output untouched, names a field and has a non-empty
 * "siwe: <field>: " message; an accepted message respects every cap and
 * its strings are NUL-terminated within their arrays; siwe_verify never
 * accepts a message that siwe_parse refuses, and with a zero signature it
 * always refuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "market/siwe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct siwe_msg m, before;
	struct err e = { 0 };
	const char *field = NULL;
	const char *text = (const char *)data;

	memset(&m, 0x5a, sizeof m);
	before = m;
	int rc = siwe_parse(&m, text, size, &field, &e);
	if (rc != 0) {
		if (rc >= 0 || !field || e.msg[0] == 0 || strncmp(e.msg, "siwe: ", 6) != 0 ||
		    !strstr(e.msg, field) || memcmp(&m, &before, sizeof m) != 0)
			abort();
	} else {
		if (strnlen(m.domain, sizeof m.domain) >= sizeof m.domain ||
		    strnlen(m.statement, sizeof m.statement) >= sizeof m.statement ||
		    strnlen(m.uri, sizeof m.uri) >= sizeof m.uri ||
		    strnlen(m.nonce, sizeof m.nonce) < SIWE_NONCE_MIN ||
		    strnlen(m.nonce, sizeof m.nonce) >= sizeof m.nonce ||
		    m.nresources > SIWE_RESOURCES_MAX || strcmp(m.version, "1") != 0 ||
		    m.domain[0] == 0)
			abort();
		for (uint32_t i = 0; i < m.nresources; i++)
			if (strnlen(m.resources[i], sizeof m.resources[i]) >= sizeof m.resources[i])
				abort();
	}
	/* verify with expectations taken from the message itself: only the signature can fail */
	uint8_t sig[65] = { 0 };
	struct siwe_expect x = { 0 };
	x.domain = rc == 0 ? m.domain : "x";
	x.chain_id = rc == 0 ? m.chain_id : 0;
	x.now_ms = rc == 0 ? m.issued_at_ms : 0;
	field = NULL;
	int vr = siwe_verify(NULL, text, size, sig, &x, &field, &e);
	if (vr == 0 || !field)
		abort();
	if (rc == 0 && m.has_expiration && m.expiration_ms > m.issued_at_ms &&
	    (!m.has_not_before || m.not_before_ms <= m.issued_at_ms) && strcmp(field, "signature") != 0)
		abort();
	/* the same bytes as a date-time */
	int64_t ms = 7;
	if (siwe_time_parse(&ms, text, size, &e) != 0 && ms != 7)
		abort();
	return 0;
}
