/* rng.c: the deterministic generator of mn_rng.h. */
#include "mn_rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void mn_rng_seed(mn_rng_t *rng, uint64_t seed, uint64_t a, uint64_t b) {
  uint64_t x = seed;
  uint64_t mix = splitmix64(&x) ^ (a * 0xd6e8feb86659fd93ULL);
  mix = splitmix64(&mix) ^ (b * 0xa0761d6478bd642fULL);
  for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&mix);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t mn_rng_next(mn_rng_t *rng) {
  uint64_t *s = rng->s;
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

uint64_t mn_rng_below(mn_rng_t *rng, uint64_t n) {
  uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
  uint64_t r;
  do r = mn_rng_next(rng);
  while (r >= limit);
  return r % n;
}

double mn_rng_uniform(mn_rng_t *rng) { return (double)(mn_rng_next(rng) >> 11) * 0x1.0p-53; }

double mn_rng_normal(mn_rng_t *rng) {
  double u1 = 1.0 - mn_rng_uniform(rng); /* (0, 1] */
  double u2 = mn_rng_uniform(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void mn_rng_shuffle_i64(mn_rng_t *rng, int64_t *v, int64_t n) {
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)mn_rng_below(rng, (uint64_t)i + 1);
    int64_t t = v[i];
    v[i] = v[j];
    v[j] = t;
  }
}
