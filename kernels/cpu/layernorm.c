/* layernorm.c: the CPU LayerNorm of mn (llm.c's layernorm_forward and layernorm_backward,
 * PyTorch's torch.nn.LayerNorm with eps 1e-5): each row normalised by its mean and biased
 * variance, then scaled and shifted per channel; the backward given the forward's mean and
 * rstd.
 *
 * Row by row, as llm.c: the mean, the variance (a second pass over the row, around the mean,
 * so that rows far from zero lose nothing to cancellation) and the backward's two row means
 * are float sums. The parameter gradients are added row after row into dweight and dbias
 * (zeroed first unless dparams_add). It needs no workspace.
 *
 * On the back end's threads: the forward and the backward's dinp by rows; dweight and dbias
 * by columns, each summed by one thread over the rows in order (a second pass over inp and
 * dout), so that the bits do not depend on the count. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mn_cpu.h"

#define LN_EPS 1e-5f

void mn_layernorm_fwd_cpu(const mn_kctx_t *ctx, float *restrict out, float *restrict mean,
                          float *restrict rstd, const float *restrict inp,
                          const float *restrict weight, const float *restrict bias, int rows,
                          int C) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, (int64_t)rows * C))
  for (int i = 0; i < rows; i++) {
    const float *x = inp + (int64_t)i * C;
    float *y = out + (int64_t)i * C;
    float m = 0.0f;
    for (int j = 0; j < C; j++) m += x[j];
    m /= C;
    float v = 0.0f;
    for (int j = 0; j < C; j++) {
      float d = x[j] - m;
      v += d * d;
    }
    v /= C;
    float s = 1.0f / sqrtf(v + LN_EPS);
    for (int j = 0; j < C; j++) y[j] = (s * (x[j] - m)) * weight[j] + bias[j];
    if (mean) mean[i] = m;
    if (rstd) rstd[i] = s;
  }
}

/* dinp of row i */
static void dinp_row(float *restrict dx, const float *restrict dy, const float *restrict x,
                     const float *restrict weight, float m, float s, int C, int din_add) {
  float g_mean = 0.0f, gn_mean = 0.0f;
  for (int j = 0; j < C; j++) {
    float g = weight[j] * dy[j];
    g_mean += g;
    gn_mean += g * ((x[j] - m) * s);
  }
  g_mean /= C;
  gn_mean /= C;
  for (int j = 0; j < C; j++) {
    float n = (x[j] - m) * s;
    float d = (weight[j] * dy[j] - g_mean - n * gn_mean) * s;
    dx[j] = din_add ? dx[j] + d : d;
  }
}

/* dweight and dbias of the columns [j0, j1), row after row */
static void dparams_cols(float *restrict dweight, float *restrict dbias, const float *restrict dout,
                         const float *restrict inp, const float *restrict mean,
                         const float *restrict rstd, int rows, int C, int dparams_add, int64_t j0,
                         int64_t j1) {
  if (!dparams_add) {
    memset(dweight + j0, 0, (size_t)(j1 - j0) * sizeof *dweight);
    memset(dbias + j0, 0, (size_t)(j1 - j0) * sizeof *dbias);
  }
  for (int i = 0; i < rows; i++) {
    const float *x = inp + (int64_t)i * C, *dy = dout + (int64_t)i * C;
    const float m = mean[i], s = rstd[i];
    for (int64_t j = j0; j < j1; j++) {
      float n = (x[j] - m) * s;
      dbias[j] += dy[j];
      dweight[j] += n * dy[j];
    }
  }
}

void mn_layernorm_bwd_cpu(const mn_kctx_t *ctx, float *restrict dinp, float *restrict dweight,
                          float *restrict dbias, const float *restrict dout,
                          const float *restrict inp, const float *restrict weight,
                          const float *restrict mean, const float *restrict rstd, int rows, int C,
                          int din_add, int dparams_add) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel num_threads(nt) if (mn_cpu_par(nt, (int64_t)rows * C))
  {
#pragma omp for schedule(static) nowait
    for (int i = 0; i < rows; i++)
      dinp_row(dinp + (int64_t)i * C, dout + (int64_t)i * C, inp + (int64_t)i * C, weight, mean[i],
               rstd[i], C, din_add);
    int64_t j0, j1;
    mn_cpu_share(C, &j0, &j1);
    if (j0 < j1) dparams_cols(dweight, dbias, dout, inp, mean, rstd, rows, C, dparams_add, j0, j1);
  }
}
