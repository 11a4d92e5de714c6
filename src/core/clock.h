/*
 * clock.h — milliseconds from the two clocks the project uses: monotonic
 * (deadlines, timeouts, latencies: never jumps) and wall (timestamps that
 * are stored or shown). And a sleep that resumes after signals.
 */
#ifndef FLOP_CORE_CLOCK_H
#define FLOP_CORE_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);
/* Sleeps at least `ms` milliseconds, resuming after interruptions. */
void clock_sleep_ms(unsigned ms);

#endif
