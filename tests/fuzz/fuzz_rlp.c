/*
 * fuzz_rlp.c — libFuzzer target for the RLP decoder (src/eth/rlp.h).
 *
 * Decodes arbitrary bytes. Whatever is accepted must be canonical, so
 * rebuilding it from its parts with the encoder has to reproduce the input
 * byte for byte; a rejection must carry a negative code and a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "eth/rlp.h"

#define FUZZ_MAX_ITEMS 4096 /* children per list looked at */

static int reencode(struct buf *out, const struct rlp_item *it)
{
	struct rlp_item *kids;
	struct buf inner;
	size_t count = 0;
	int rc;

	if (!it->is_list)
		return rlp_encode_bytes(out, it->payload, it->len);
	kids = malloc(FUZZ_MAX_ITEMS * sizeof *kids);
	if (!kids)
		abort();
	rc = rlp_list_items(kids, FUZZ_MAX_ITEMS, &count, it, NULL);
	if (rc) {
		/* Only a list wider than the scratch space may fail here. */
		if (rc != ERR_TOO_BIG)
			abort();
		free(kids);
		return rc;
	}
	buf_init(&inner, RLP_MAX_INPUT);
	for (size_t i = 0; i < count && rc == 0; i++)
		rc = reencode(&inner, &kids[i]);
	if (rc == 0)
		rc = rlp_encode_list(out, inner.data, inner.len);
	buf_release(&inner);
	free(kids);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rlp_item item;
	struct err e = { 0 };
	struct buf out;
	int rc = rlp_decode(&item, data, size, &e);

	if (rc) {
		if (rc > 0 || e.code != rc || e.msg[0] == '\0')
			abort();
		return 0;
	}
	buf_init(&out, RLP_MAX_INPUT);
	rc = reencode(&out, &item);
	if (rc == 0 && (out.len != size || memcmp(out.data, data, size) != 0))
		abort();
	if (!item.is_list) {
		u256 v;
		uint64_t w;
		rlp_item_u256(&v, &item, NULL);
		rlp_item_u64(&w, &item, NULL);
	}
	buf_release(&out);
	return 0;
}
