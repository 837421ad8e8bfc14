/* Seeded, portable random numbers: a pure hash of (seed, keys...) and a small per-purpose stream. */
#ifndef CONSENSUS_RNG_H
#define CONSENSUS_RNG_H

#include <stdint.h>

/* Purposes keep the streams of one rank independent of each other. */
typedef enum rng_purpose {
  RNG_RATES = 1,     /* per-rank tick rates drawn from a range */
  RNG_IDLE = 2,      /* clocks: the idle-step draws */
  RNG_TRAITORS = 3,  /* byz: which generals are traitors in a trial */
  RNG_STRATEGY = 4,  /* byz: the `random` strategy's values */
  RNG_GARBAGE = 5,   /* byz / hostile: malformed bytes */
  RNG_BENCH = 6,
  RNG_FAULT_DROP = 7,      /* --drop: which data messages are lost, per link */
  RNG_FAULT_DUPLICATE = 8, /* --duplicate: which are delivered twice */
  RNG_FAULT_DELAY = 9,     /* --delay: how long each is held */
  RNG_KEYS = 10          /* sm: the seed of each general's Ed25519 key pair */
} rng_purpose;

/* A pure function of its inputs (splitmix64 finaliser over each key in turn): the same
 * arguments give the same 64 bits on every machine. */
uint64_t rng_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t d);

/* A xoshiro256** stream; plain struct, owned by the caller. */
typedef struct rng_stream {
  uint64_t s[4];
} rng_stream;

/* Seeds a stream from (seed, purpose, rank): same inputs, same sequence. */
void rng_seed(rng_stream *r, uint64_t seed, rng_purpose purpose, uint64_t rank);

/* Next 64 random bits. */
uint64_t rng_next(rng_stream *r);

/* Uniform integer in [lo, hi] (lo <= hi), without modulo bias. */
int64_t rng_range(rng_stream *r, int64_t lo, int64_t hi);

/* Uniform double in [0, 1). */
double rng_unit(rng_stream *r);

#endif
