/*
 * fuzz_eip712.c — libFuzzer target for EIP-712 typed data given as an
 * eth_signTypedData_v4 JSON text (types, primaryType, domain, message).
 * Invariants: a failure is a negative code with a message naming the
 * problem; a success is deterministic (hashing twice gives the same digest).
 * Seeds: tests/fuzz/corpus/eip712/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "eth/eip712.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eip712_hashes h1, h2;
	struct err e = { 0, "" };
	int rc = eip712_json_hash(&h1, (const char *)data, size, &e);

	if (rc) {
		if (rc >= 0 || e.msg[0] == '\0')
			abort();
		return 0;
	}
	if (eip712_json_hash(&h2, (const char *)data, size, &e) ||
	    memcmp(&h1, &h2, sizeof h1) != 0)
		abort();
	return 0;
}
