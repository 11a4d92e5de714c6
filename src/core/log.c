/*
 * log.c — logfmt logger (see log.h). One fprintf per line so lines from
 * several threads do not interleave.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int log_level_current = -1;

static const char *const log_names[] = { "debug", "info", "warn", "error", "off" };

int log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_OFF; i++) {
		if (strcmp(s, log_names[i]) == 0)
			return i;
	}
	return -1;
}

void log_set_level(enum log_level level)
{
	log_level_current = (int)level;
}

enum log_level log_get_level(void)
{
	if (log_level_current < 0) {
		const char *env = getenv("FLOPMARKET_LOG");
		int lvl = env ? log_level_parse(env) : -1;
		log_level_current = lvl < 0 ? LOG_INFO : lvl;
	}
	return (enum log_level)log_level_current;
}

/* Writes s quoted and escaped: "a \"b\"". Truncates to fit cap. */
static const char *log_escape(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	if (cap < 3) {
		if (cap)
			out[0] = '\0';
		return out;
	}
	out[o++] = '"';
	for (const char *p = s; *p && o + 4 < cap; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = c < 0x20 ? '?' : (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

const char *log_quote(char *out, size_t cap, const char *s)
{
	int bare = *s != '\0';

	for (const char *p = s; *p && bare; p++)
		bare = !(*p == ' ' || *p == '"' || *p == '=' || *p == '\\' ||
			 (unsigned char)*p < 0x20);
	if (!bare)
		return log_escape(out, cap, s);
	if (cap)
		snprintf(out, cap, "%s", s);
	return out;
}

void log_write(enum log_level level, const char *msg, const char *fmt, ...)
{
	char fields[1024], qmsg[512], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level < log_get_level() || level >= LOG_OFF)
		return;
	va_start(ap, fmt);
	vsnprintf(fields, sizeof fields, fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_escape(qmsg, sizeof qmsg, msg);
	fprintf(stderr, "ts=%s level=%s msg=%s%s%s\n", ts, log_names[level], qmsg,
		fields[0] ? " " : "", fields);
}
