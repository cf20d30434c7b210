/* bias_act.c: the CPU bias-plus-activation ops of mn: the fused forward
 * y = act(y + bias), the ReLU alone (for a layer whose bias is added elsewhere), the ReLU
 * backward mask, and the bias gradient (a column sum, overwriting or adding into db).
 *
 * Every loop walks memory contiguously with a branch-free body, so that the compiler
 * vectorises it; with restrict pointers except in relu_fwd, which may run in place. ReLU
 * propagates NaN (v < 0 ? 0 : v), so that a diverged run shows NaN in its loss rather than
 * silent zeros. Shapes are not checked. On the back end's threads by rows or elements, and
 * the bias gradient by columns (each summed by one thread in row order: the same bits at any
 * thread count). */
#include <stdint.h>
#include <string.h>

#include "mn_cpu.h"

static void add_bias_row(float *restrict y, const float *restrict bias, int n) {
  for (int j = 0; j < n; j++) y[j] += bias[j];
}

static void add_bias_relu_row(float *restrict y, const float *restrict bias, int n) {
  for (int j = 0; j < n; j++) {
    float v = y[j] + bias[j];
    y[j] = v < 0.0f ? 0.0f : v;
  }
}

void mn_bias_act_fwd_cpu(const mn_kctx_t *ctx, float *y, const float *bias, int m, int n,
                         int relu) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, (int64_t)m * n))
  for (int i = 0; i < m; i++) {
    float *row = y + (int64_t)i * n;
    if (relu)
      add_bias_relu_row(row, bias, n);
    else
      add_bias_row(row, bias, n);
  }
}

void mn_relu_fwd_cpu(const mn_kctx_t *ctx, float *y, const float *x, int64_t count) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t i = 0; i < count; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void mn_relu_bwd_cpu(const mn_kctx_t *ctx, float *restrict dy, const float *restrict y,
                     int64_t count) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t i = 0; i < count; i++) dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

/* Row by row into db: each pass is a contiguous, vectorisable axpy, where a
 * column-at-a-time sum would stride through dy with stride n. Accumulating starts from
 * db's values instead of zeros. Each thread takes a range of columns [j0, j1) and all rows. */
static void bias_grad_cols(const float *restrict dy, int m, int n, float *restrict db,
                           int accumulate, int64_t j0, int64_t j1) {
  if (!accumulate) memset(db + j0, 0, (size_t)(j1 - j0) * sizeof *db);
  for (int i = 0; i < m; i++) {
    const float *restrict row = dy + (int64_t)i * n;
    for (int64_t j = j0; j < j1; j++) db[j] += row[j];
  }
}

void mn_bias_grad_cpu(const mn_kctx_t *ctx, const float *restrict dy, int m, int n,
                      float *restrict db, int accumulate) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel num_threads(nt) if (mn_cpu_par(nt, (int64_t)m * n))
  {
    int64_t j0, j1;
    mn_cpu_share(n, &j0, &j1);
    if (j0 < j1) bias_grad_cols(dy, m, n, db, accumulate, j0, j1);
  }
}
