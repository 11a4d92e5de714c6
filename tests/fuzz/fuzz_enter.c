/*
 * fuzz_enter.c — libFuzzer target for the enter request parser (agent/enter.h): the bytes a rental
 * account's login shell sends the agent, which runs as root. Any input must give 0 or a negative ERR_*
 * with a message, never a crash; a parsed request has a TERM of safe characters, a NUL-terminated command
 * within its cap, and encodes back to the same bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/enter.h"
#include "core/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct enter_request rq;
	static uint8_t again[ENTER_REQUEST_MAX];
	struct err e = { 0 };
	int rc = enter_request_parse(&rq, data, size, &e);

	if (rc != 0) {
		assert(rc < 0 && e.msg[0]);
		return 0;
	}
	assert(strncmp(rq.term, "TERM=", 5) == 0 && strlen(rq.term) <= ENTER_TERM_MAX + 5);
	assert(strspn(rq.term + 5, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") ==
	       strlen(rq.term + 5));
	assert(strlen(rq.cmd) <= ENTER_CMD_MAX);
	assert(rq.has_cmd == (rq.cmd[0] != '\0'));
	if (data[9] || data[10]) {
		size_t n = enter_request_encode(again, rq.tty, rq.term + 5, rq.has_cmd ? rq.cmd : NULL);
		assert(n == size && memcmp(again, data, n) == 0);
	}
	return 0;
}
