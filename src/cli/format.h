/*
 * format.h — how the CLI writes times, durations and gas for people: one way everywhere (rent, extend,
 * stop, status, receipts, offer).
 */
#ifndef FLOP_CLI_FORMAT_H
#define FLOP_CLI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/u256.h"

#define CLI_FMT_TIME_MAX 32

/* Unix seconds as "2026-12-04 18:33 UTC" ("-" for 0 or a time gmtime cannot show). */
void cli_fmt_utc(char out[CLI_FMT_TIME_MAX], int64_t unix_s);

/* Seconds as "01:02:03", or "2d 03h 04m" from a day on. */
void cli_fmt_duration(char *out, size_t cap, uint64_t secs);

/* Wei as "0.000123 ETH" (18 decimals, the chain's coin symbol). */
void cli_fmt_gas(char *out, size_t cap, const char *symbol, const u256 *wei);

/* Prints v on stdout as --json does everywhere (indented, keys sorted, one trailing newline) and drops
 * the reference; returns EXIT_OK, or EXIT_FAIL when v is NULL (out of memory). */
int cli_json_print(json_t *v);

/* Decimal text of token units, the form --json gives every amount in (exact, no decimals applied). */
json_t *cli_json_units(const u256 *units);

#endif
