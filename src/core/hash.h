/*
 * hash.h — the 64-bit mixer the in-memory tables share (the search index's id and string tables, the
 * server's view tags) and the deterministic generator the benchmarks draw their data from: SplitMix64
 * (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014), whose
 * finalizer is a bijection of 64-bit words that spreads every input bit over the output. Not for
 * anything an attacker may choose to collide: seed it (the search index does) or key a MAC instead.
 */
#ifndef FLOP_CORE_HASH_H
#define FLOP_CORE_HASH_H

#include <stdint.h>

/* The SplitMix64 finalizer. */
static inline uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The next SplitMix64 number of *state (advanced). */
static inline uint64_t hash_splitmix64(uint64_t *state)
{
	return hash_mix64(*state += 0x9e3779b97f4a7c15ull);
}

#endif
