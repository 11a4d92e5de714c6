/*
 * advice.h — what a refusal from the escrow means for the person at the keyboard, and what to do
 * next: the contract's custom error names ("NotOver", "DepositAboveMaximum", "RentalEnded", ...) turned
 * into a sentence naming the rental and the command that helps.
 */
#ifndef FLOP_CLI_ADVICE_H
#define FLOP_CLI_ADVICE_H

#include <stdint.h>

struct err;

/*
 * When e holds a revert (ERR_REVERT) whose message names a known escrow error, appends to e's message
 * ": <what it means; what to do>" for command `verb` ("extend", "stop", "dispute", "rent") on rental
 * `id` (0: none yet). Anything else is left as it is.
 */
void cli_revert_advice(struct err *e, const char *verb, uint64_t id);

#endif
