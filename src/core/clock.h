/*
 * clock.h — milliseconds from the two clocks the project uses: monotonic
 * (deadlines, timeouts, latencies: never jumps) and wall (timestamps that
 * are stored or shown). And a sleep that resumes after signals.
 */
#ifndef FLOP_CORE_CLOCK_H
#define FLOP_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

uint64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);
/*
 * The absolute time `ms` milliseconds from now on `clock` (CLOCK_REALTIME or
 * CLOCK_MONOTONIC), for pthread_cond_timedwait on a condition variable that
 * uses that clock.
 */
struct timespec clock_deadline(clockid_t clock, uint64_t ms);

/* Sleeps at least `ms` milliseconds, resuming after interruptions. */
void clock_sleep_ms(unsigned ms);

#endif
