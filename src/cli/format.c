/*
 * format.c — times, durations and gas as the CLI shows them (format.h).
 */
#include "cli/format.h"

#include "cli/cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void cli_fmt_utc(char out[CLI_FMT_TIME_MAX], int64_t unix_s)
{
	time_t tt = (time_t)unix_s;
	struct tm tm;

	if (unix_s <= 0 || !gmtime_r(&tt, &tm))
		snprintf(out, CLI_FMT_TIME_MAX, "-");
	else
		strftime(out, CLI_FMT_TIME_MAX, "%Y-%m-%d %H:%M UTC", &tm);
}

void cli_fmt_duration(char *out, size_t cap, uint64_t s)
{
	if (s >= 86400)
		snprintf(out, cap, "%" PRIu64 "d %02" PRIu64 "h %02" PRIu64 "m", s / 86400, s / 3600 % 24,
			 s / 60 % 60);
	else
		snprintf(out, cap, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60, s % 60);
}

void cli_fmt_gas(char *out, size_t cap, const char *symbol, const u256 *wei)
{
	char num[U256_DEC_MAX + 2];

	u256_format_units(num, wei, 18);
	snprintf(out, cap, "%s %s", num, symbol);
}

int cli_json_print(json_t *v)
{
	char *text = v ? json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

	json_decref(v);
	if (!text)
		return EXIT_FAIL;
	fputs(text, stdout);
	fputc('\n', stdout);
	free(text);
	return EXIT_OK;
}

json_t *cli_json_units(const u256 *units)
{
	char dec[U256_DEC_MAX + 1];

	u256_to_dec(dec, units);
	return json_string(dec);
}
