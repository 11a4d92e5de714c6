/*
 * enter_wire.c — the bytes of an enter request (enter.h): encoded by the login shell's client, parsed by
 * the agent. Pure; the parser is fuzzed.
 */
#include "agent/enter.h"

#include "core/err.h"

#include <stdio.h>
#include <string.h>

static bool term_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9') &&
		    (s[i] == '\0' || !strchr("._+-", s[i]))) /* strchr finds the terminator too */
			return false;
	return true;
}

int enter_request_parse(struct enter_request *rq, const uint8_t *msg, size_t n, struct err *e)
{
	size_t tl, cl;

	if (n < ENTER_HEADER_LEN || memcmp(msg, ENTER_MAGIC, 8) != 0)
		return err_set(e, ERR_INVALID, "not an enter request");
	if (n > ENTER_REQUEST_MAX)
		return err_set(e, ERR_TOO_BIG, "request longer than %d bytes", ENTER_REQUEST_MAX);
	if (msg[8] & ~1u)
		return err_set(e, ERR_INVALID, "unknown request flags");
	tl = (size_t)msg[9] | (size_t)msg[10] << 8;
	cl = (size_t)msg[11] | (size_t)msg[12] << 8 | (size_t)msg[13] << 16 | (size_t)msg[14] << 24;
	if (tl > ENTER_TERM_MAX)
		return err_set(e, ERR_TOO_BIG, "TERM longer than %d bytes", ENTER_TERM_MAX);
	if (cl > ENTER_CMD_MAX)
		return err_set(e, ERR_TOO_BIG, "command longer than %d bytes", ENTER_CMD_MAX);
	if (n != ENTER_HEADER_LEN + tl + cl)
		return err_set(e, ERR_INVALID, "request lengths do not add up");
	if (!term_ok((const char *)msg + ENTER_HEADER_LEN, tl))
		return err_set(e, ERR_INVALID, "TERM has a bad character");
	if (memchr(msg + ENTER_HEADER_LEN + tl, '\0', cl))
		return err_set(e, ERR_INVALID, "command holds a NUL byte");
	rq->tty = msg[8] & 1;
	if (tl)
		snprintf(rq->term, sizeof rq->term, "TERM=%.*s", (int)tl, (const char *)msg + ENTER_HEADER_LEN);
	else
		snprintf(rq->term, sizeof rq->term, "TERM=xterm-256color");
	rq->has_cmd = cl > 0;
	memcpy(rq->cmd, msg + ENTER_HEADER_LEN + tl, cl);
	rq->cmd[cl] = '\0';
	return 0;
}

size_t enter_request_encode(uint8_t *out, bool tty, const char *term, const char *cmd)
{
	size_t tl = term ? strlen(term) : 0, cl = cmd ? strlen(cmd) : 0;

	if (cl > ENTER_CMD_MAX)
		return 0;
	if (tl > ENTER_TERM_MAX || !term_ok(term ? term : "", tl))
		tl = 0;
	memcpy(out, ENTER_MAGIC, 8);
	out[8] = tty ? 1 : 0;
	out[9] = (uint8_t)tl;
	out[10] = (uint8_t)(tl >> 8);
	for (int i = 0; i < 4; i++)
		out[11 + i] = (uint8_t)(cl >> (8 * i));
	if (tl)
		memcpy(out + ENTER_HEADER_LEN, term, tl);
	if (cl)
		memcpy(out + ENTER_HEADER_LEN + tl, cmd, cl);
	return ENTER_HEADER_LEN + tl + cl;
}
