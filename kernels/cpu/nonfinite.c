/* nonfinite.c: the CPU count of NaN and infinite values, and the sum of the squares of the
 * finite ones (the trainer's check of a reduced gradient before it updates the weights, and
 * the gradient norm for clipping, from one pass over memory). No early exit: the time does
 * not depend on the data, as on the GPU.
 *
 * Each square is exact in double (a float has 24 significant bits). The sum runs over blocks
 * of NF_BLOCK elements: within a block in LANES partial sums, element i in lane i % LANES,
 * added lane by lane at the block's end (LANES independent chains of additions where one
 * running sum would wait on each addition in turn); then the blocks' sums, in block order.
 * An order fixed by count alone: the back end's threads take whole blocks, NF_GROUP blocks at
 * a time, and the group's sums are added after it, so that the bits do not depend on the
 * thread count. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mn_cpu.h"

#define LANES 8
#define NF_BLOCK ((int64_t)1 << 14) /* elements per block, a multiple of LANES */
#define NF_GROUP 256                /* blocks whose sums are kept at once (on the stack) */

static int64_t count_only(const float *restrict x, int64_t count) {
  const int nt = mn_cpu_threads();
  const int par = mn_cpu_par(nt, count);
  int64_t n = 0;
#pragma omp parallel for schedule(static) num_threads(nt) reduction(+ : n) if (par)
  for (int64_t i = 0; i < count; i++) n += !isfinite(x[i]);
  return n;
}

/* isfinite on the bits (exponent not all ones), which the compiler vectorises */
static inline int finite_bits(float v) {
  uint32_t b;
  memcpy(&b, &v, sizeof b);
  return (b & 0x7f800000u) != 0x7f800000u;
}

/* one block: x[0, count), count <= NF_BLOCK, the lanes counted from x[0] */
static int64_t block_sumsq(const float *restrict x, int64_t count, double *sumsq) {
  double part[LANES] = {0};
  int64_t n = 0, i = 0;
  for (; i + LANES <= count; i += LANES) /* lane l takes x[i + l]: SIMD across the lanes */
    for (int l = 0; l < LANES; l++) {
      float v = x[i + l];
      int ok = finite_bits(v);
      double d = ok ? (double)v : 0.0;
      n += !ok;
      part[l] += d * d;
    }
  for (; i < count; i++) { /* the tail: element i still in lane i % LANES */
    int ok = finite_bits(x[i]);
    double d = ok ? (double)x[i] : 0.0;
    n += !ok;
    part[i % LANES] += d * d;
  }
  double s = 0.0;
  for (int l = 0; l < LANES; l++) s += part[l];
  *sumsq = s;
  return n;
}

static int64_t count_and_sumsq(const float *restrict x, int64_t count, double *sumsq) {
  const int nt = mn_cpu_threads();
  const int64_t nblocks = (count + NF_BLOCK - 1) / NF_BLOCK;
  double s = 0.0, part[NF_GROUP];
  int64_t n = 0;
  for (int64_t b0 = 0; b0 < nblocks; b0 += NF_GROUP) {
    const int g = nblocks - b0 < NF_GROUP ? (int)(nblocks - b0) : NF_GROUP;
    const int par = nt > 1 && g > 1; /* two blocks or more */
#pragma omp parallel for schedule(static) num_threads(nt) reduction(+ : n) if (par)
    for (int j = 0; j < g; j++) {
      const int64_t lo = (b0 + j) * NF_BLOCK, hi = lo + NF_BLOCK < count ? lo + NF_BLOCK : count;
      n += block_sumsq(x + lo, hi - lo, &part[j]);
    }
    for (int j = 0; j < g; j++) s += part[j];
  }
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
