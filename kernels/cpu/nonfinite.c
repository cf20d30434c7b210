/* nonfinite.c: the CPU count of NaN and infinite values, and the sum of the squares of the
 * finite ones (the trainer's check of a reduced gradient before it updates the weights, and
 * the gradient norm for clipping, from one pass over memory). No early exit: the time does
 * not depend on the data, as on the GPU.
 *
 * Each square is exact in double (a float has 24 significant bits); the sum is kept in
 * LANES partial sums, element i in lane i % LANES, added lane by lane at the end: an order
 * fixed by count alone, with LANES independent chains of additions where one running sum
 * would wait on each addition in turn. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "mn_cpu.h"

#define LANES 8

static int64_t count_only(const float *restrict x, int64_t count) {
  int64_t n = 0;
  for (int64_t i = 0; i < count; i++) n += !isfinite(x[i]);
  return n;
}

static int64_t count_and_sumsq(const float *restrict x, int64_t count, double *sumsq) {
  double part[LANES] = {0};
  int64_t n = 0;
  for (int64_t i = 0; i < count; i++) {
    int ok = isfinite(x[i]);
    double xi = ok ? x[i] : 0.0;
    n += !ok;
    part[i % LANES] += xi * xi;
  }
  double s = 0.0;
  for (int l = 0; l < LANES; l++) s += part[l];
  *sumsq = s;
  return n;
}

int64_t mn_count_nonfinite_cpu(const mn_kctx_t *ctx, const float *restrict x, int64_t count,
                               double *sumsq) {
  (void)ctx;
  return sumsq ? count_and_sumsq(x, count, sumsq) : count_only(x, count);
}

size_t mn_count_nonfinite_workspace_cpu(int64_t count) {
  (void)count;
  return 0;
}
