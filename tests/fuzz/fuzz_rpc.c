/*
 * fuzz_rpc.c — libFuzzer target for the JSON-RPC response parser and the
 * receipt / log / block decoders (src/eth/rpc.h), all pure functions.
 *
 * The input is a response body expected to answer request id 1. Whatever
 * the parser accepts is then fed to each decoder (an object as a receipt, a
 * block and a log; an array element by element as logs). Invariants: a
 * success hands out a result, a failure a negative code and a message, and
 * nothing leaks or reads out of bounds. Seeds: tests/fuzz/corpus/rpc/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "eth/rpc.h"

static void check_fail(int rc, const struct err *e)
{
	if (rc >= 0 || e->msg[0] == '\0')
		abort();
}

static void decode_all(const json_t *v)
{
	struct err e = { 0, "" };
	int rc;

	if (json_is_object(v)) {
		struct rpc_receipt r;
		struct rpc_block b;
		struct rpc_log l;

		rc = rpc_receipt_decode(&r, v, &e);
		if (rc == 0)
			rpc_receipt_release(&r);
		else
			check_fail(rc, &e);
		err_clear(&e);
		rc = rpc_block_decode(&b, v, &e);
		if (rc)
			check_fail(rc, &e);
		err_clear(&e);
		rc = rpc_log_decode(&l, v, &e);
		if (rc == 0)
			rpc_log_release(&l);
		else
			check_fail(rc, &e);
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && i < 64; i++) {
			struct rpc_log l;
			err_clear(&e);
			rc = rpc_log_decode(&l, json_array_get(v, i), &e);
			if (rc == 0)
				rpc_log_release(&l);
			else
				check_fail(rc, &e);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *res = NULL;
	struct rpc_error re;
	struct err e = { 0, "" };
	int rc;

	memset(&re, 0, sizeof re);
	rc = rpc_response_parse((const char *)data, size, 1 << 20, 1, &res, &re, &e);
	if (rc == 0) {
		if (!res)
			abort();
		decode_all(res);
		json_decref(res);
	} else {
		check_fail(rc, &e);
		if (res)
			abort();
		if (re.has_data && (!re.data || re.data_len > RPC_ERROR_DATA_MAX))
			abort();
	}
	rpc_error_release(&re);
	return 0;
}
