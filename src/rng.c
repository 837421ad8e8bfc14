/* Seeded random numbers: splitmix64 for hashing and seeding, xoshiro256** for streams. */
#include "consensus/rng.h"

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t rng_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  uint64_t keys[4] = {a, b, c, d};
  uint64_t state = seed;
  uint64_t h = splitmix64(&state);
  for (int k = 0; k < 4; k++) {
    state = h ^ keys[k];
    h = splitmix64(&state);
  }
  return h;
}

void rng_seed(rng_stream *r, uint64_t seed, rng_purpose purpose, uint64_t rank) {
  uint64_t state = rng_hash(seed, (uint64_t)purpose, rank, 0, 0);
  for (int k = 0; k < 4; k++) r->s[k] = splitmix64(&state);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(rng_stream *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

int64_t rng_range(rng_stream *r, int64_t lo, int64_t hi) {
  uint64_t span = (uint64_t)(hi - lo) + 1;
  if (span == 0) return (int64_t)rng_next(r); /* the full 64-bit range */
  uint64_t limit = UINT64_MAX - (UINT64_MAX % span);
  uint64_t x;
  do x = rng_next(r);
  while (x >= limit);
  return lo + (int64_t)(x % span);
}

double rng_unit(rng_stream *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
