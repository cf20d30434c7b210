/* mn_rng.h: small deterministic random numbers (splitmix64 seeding, xoshiro256**).
 *
 * Every random choice in mn (weights, sample order, synthetic data) is drawn from a stream
 * named by a few integers, so that it is the same on every rank and in every run. */
#ifndef MN_RNG_H
#define MN_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_rng {
  uint64_t s[4];
} mn_rng_t;

/* A stream named by (seed, a, b): different names give independent streams. */
void mn_rng_seed(mn_rng_t *rng, uint64_t seed, uint64_t a, uint64_t b);
uint64_t mn_rng_next(mn_rng_t *rng);
/* Uniform in [0, n) without modulo bias. */
uint64_t mn_rng_below(mn_rng_t *rng, uint64_t n);
/* Uniform in [0, 1). */
double mn_rng_uniform(mn_rng_t *rng);
/* Standard normal (Box-Muller). */
double mn_rng_normal(mn_rng_t *rng);
/* Fisher-Yates shuffle of v[n]. */
void mn_rng_shuffle_i64(mn_rng_t *rng, int64_t *v, int64_t n);

#ifdef __cplusplus
}
#endif
#endif /* MN_RNG_H */
