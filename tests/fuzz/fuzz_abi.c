/*
 * fuzz_abi.c — libFuzzer target for the ABI type parser and decoder
 * (src/eth/abi.h).
 *
 * Input: a type string, a newline, then the data. The type string goes
 * through abi_type_parse; when it parses, the data is decoded as that type.
 * Whatever decodes must re-encode to exactly the input (the decoder accepts
 * canonical encodings only). The data is also fed to abi_decode_revert.
 * Every rejection must carry a negative code and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "eth/abi.h"

static void check_err(int rc, const struct err *e)
{
	if (rc > 0 || (rc < 0 && (e->code != rc || e->msg[0] == '\0')))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const customs[] = { "Fail(uint8,string[])", "Gone()" };
	const uint8_t *nl = memchr(data, '\n', size);
	struct abi_type *t = NULL;
	struct abi_value *v = NULL;
	struct abi_revert r;
	struct err e = { 0 };
	char types[ABI_MAX_TYPE_LEN + 2];
	size_t tlen, n;
	const uint8_t *d;
	int rc;

	if (!nl)
		return 0;
	tlen = (size_t)(nl - data);
	if (tlen > ABI_MAX_TYPE_LEN + 1)
		return 0;
	memcpy(types, data, tlen);
	types[tlen] = '\0';
	d = nl + 1;
	n = size - tlen - 1;

	rc = abi_type_parse(&t, types, &e);
	check_err(rc, &e);
	if (rc == 0) {
		err_clear(&e);
		rc = abi_decode_value(&v, t, d, n, &e);
		check_err(rc, &e);
		if (rc == 0) {
			struct buf out;
			buf_init(&out, ABI_MAX_DATA);
			if (abi_encode_value(&out, t, v, NULL) != 0)
				abort();
			if (out.len != n || (n && memcmp(out.data, d, n) != 0))
				abort();
			buf_release(&out);
			abi_value_free(v);
		}
		abi_type_free(t);
	}
	err_clear(&e);
	rc = abi_decode_revert(&r, d, n, customs, 2, &e);
	check_err(rc, &e);
	if (rc == 0)
		abi_revert_release(&r);
	return 0;
}
