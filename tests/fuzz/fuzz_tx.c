/*
 * fuzz_tx.c — libFuzzer target for tx_decode (signed raw transactions, legacy
 * and EIP-1559). Invariants: a failure is a negative code with a message; a
 * success re-serializes to exactly the input bytes (the decoder only accepts
 * canonical encodings) and the sender is recoverable or cleanly refused.
 * Seeds: tests/fuzz/corpus/tx/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "eth/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tx tx;
	struct err e = { 0, "" };
	struct buf out;
	struct eth_address from;
	int rc = tx_decode(&tx, data, size, &e);

	if (rc) {
		if (rc >= 0 || e.msg[0] == '\0')
			abort();
		return 0;
	}
	buf_init(&out, (size_t)1 << 20);
	if (tx_serialize(&out, &tx, &e))
		abort();
	if (out.len != size || (size && memcmp(out.data, data, size) != 0))
		abort();
	rc = tx_sender(&from, &tx, &e);
	if (rc && e.msg[0] == '\0')
		abort();
	buf_release(&out);
	tx_release(&tx);
	return 0;
}
