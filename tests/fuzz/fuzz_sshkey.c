/*
 * fuzz_sshkey.c — libFuzzer target for the authorized_keys line checker (src/agent/sshkey.c), the one
 * renter input the agent writes into a file sshd reads.
 *
 * Properties beyond "no crash / no sanitizer report": a refused line gets a message; an accepted line
 * comes back canonical (one line ending in "\n", no other control character, at most SSHKEY_LINE_MAX + 1
 * bytes), and checking the canonical line again accepts it and gives the same line (idempotent).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sshkey.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[SSHKEY_LINE_MAX + 4], again[SSHKEY_LINE_MAX + 4];
	struct err e = { 0 };
	size_t n;

	if (size > SSHKEY_LINE_MAX + 16)
		return 0;
	int rc = sshkey_check(out, sizeof out, (const char *)data, size, &e);
	if (rc) {
		if (rc >= 0 || !e.msg[0])
			abort();
		return 0;
	}
	n = strlen(out);
	if (n == 0 || n > SSHKEY_LINE_MAX + 1 || out[n - 1] != '\n')
		abort();
	for (size_t i = 0; i + 1 < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			abort();
	if (sshkey_check(again, sizeof again, out, n - 1, &e) || strcmp(again, out) != 0)
		abort();
	return 0;
}
