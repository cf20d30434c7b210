/* attention.c: the CPU causal multi-head self-attention of mn, llm.c's attention_forward and
 * attention_backward: for each (b, t, h), the scaled dot products of the query at t with the
 * keys at t2 <= t, their softmax (kept in att for the backward), and the weighted sum of the
 * values; the backward through the values, the softmax and the dot products.
 *
 * The loops are llm.c's, but for the softmax backward: llm.c sums att[t2] ([t2 == t3] -
 * att[t3]) datt[t2] over t2 for each t3 (T^3 per head), here dpre[t3] = att[t3] (datt[t3] -
 * sum_t2 att[t2] datt[t2]), the same value in T^2. datt of one row is kept in the context's
 * workspace (T floats per (b, h)): attention_bwd is the one CPU op with a workspace. The
 * backward adds dq, dk and dv position by position into dqkv, zeroed first unless add. Not a
 * flash attention: att[B,NH,T,T] is materialised.
 *
 * On the back end's threads by (b, h) pairs: a pair's queries, keys, values, att rows and
 * outputs are its own, and it visits t (then t2) in increasing order as the serial loops do,
 * so that every element of dqkv is summed by one thread in the same order at any count. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mn_cpu.h"

static float dot(const float *restrict a, const float *restrict b, int n) {
  float s = 0.0f;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* y += alpha x */
static void axpy(float *restrict y, float alpha, const float *restrict x, int n) {
  for (int i = 0; i < n; i++) y[i] += alpha * x[i];
}

/* One (b, h) pair of the forward: every t, in order. */
static void fwd_pair(float *restrict out, float *restrict att, const float *restrict qkv, int b,
                     int h, int T, int C, int NH) {
  const int hs = C / NH;
  const int64_t C3 = 3 * (int64_t)C;
  const float scale = 1.0f / sqrtf((float)hs);
  for (int t = 0; t < T; t++) {
    const float *q = qkv + ((int64_t)b * T + t) * C3 + h * hs;
    float *a = att + (((int64_t)b * NH + h) * T + t) * T;
    float mx = -INFINITY;
    for (int t2 = 0; t2 <= t; t2++) {
      a[t2] = dot(q, qkv + ((int64_t)b * T + t2) * C3 + C + h * hs, hs) * scale;
      if (a[t2] > mx) mx = a[t2];
    }
    float sum = 0.0f;
    for (int t2 = 0; t2 <= t; t2++) {
      a[t2] = expf(a[t2] - mx);
      sum += a[t2];
    }
    float inv = 1.0f / sum;
    for (int t2 = 0; t2 < T; t2++) a[t2] = t2 <= t ? a[t2] * inv : 0.0f;
    float *o = out + ((int64_t)b * T + t) * C + h * hs;
    memset(o, 0, (size_t)hs * sizeof *o);
    for (int t2 = 0; t2 <= t; t2++)
      axpy(o, a[t2], qkv + ((int64_t)b * T + t2) * C3 + 2 * C + h * hs, hs);
  }
}

void mn_attention_fwd_cpu(const mn_kctx_t *ctx, float *restrict out, float *restrict att,
                          const float *restrict qkv, int B, int T, int C, int NH) {
  (void)ctx;
  const int nt = mn_cpu_threads();
  const int64_t work = (int64_t)B * T * T * C; /* the dot products and the weighted sums */
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, work))
  for (int bh = 0; bh < B * NH; bh++) fwd_pair(out, att, qkv, bh / NH, bh % NH, T, C, NH);
}

/* One (b, h) pair of the backward, with its own row of datt: zeroes the pair's channels of
 * dqkv unless add, then every t, in order. */
static void bwd_pair(float *restrict dqkv, float *restrict datt, const float *restrict dout,
                     const float *restrict qkv, const float *restrict att, int b, int h, int T,
                     int C, int NH, int add) {
  const int hs = C / NH;
  const int64_t C3 = 3 * (int64_t)C;
  const float scale = 1.0f / sqrtf((float)hs);
  if (!add)
    for (int t = 0; t < T; t++)
      for (int part = 0; part < 3; part++)
        memset(dqkv + ((int64_t)b * T + t) * C3 + part * C + h * hs, 0, (size_t)hs * sizeof *dqkv);
  for (int t = 0; t < T; t++) {
    const int64_t row = ((int64_t)b * T + t) * C3 + h * hs;
    const float *a = att + (((int64_t)b * NH + h) * T + t) * T;
    const float *d_o = dout + ((int64_t)b * T + t) * C + h * hs;
    /* through the values: datt = dout . v, dv += att dout */
    float s = 0.0f;
    for (int t2 = 0; t2 <= t; t2++) {
      const int64_t row2 = ((int64_t)b * T + t2) * C3 + h * hs;
      datt[t2] = dot(d_o, qkv + row2 + 2 * C, hs);
      s += a[t2] * datt[t2];
      axpy(dqkv + row2 + 2 * C, a[t2], d_o, hs);
    }
    /* through the softmax and the scaled dot products */
    for (int t2 = 0; t2 <= t; t2++) {
      const int64_t row2 = ((int64_t)b * T + t2) * C3 + h * hs;
      float g = a[t2] * (datt[t2] - s) * scale;
      axpy(dqkv + row, g, qkv + row2 + C, hs);
      axpy(dqkv + row2 + C, g, qkv + row, hs);
    }
  }
}

void mn_attention_bwd_cpu(const mn_kctx_t *ctx, float *restrict dqkv, const float *restrict dout,
                          const float *restrict qkv, const float *restrict att, int B, int T, int C,
                          int NH, int add) {
  mn_cpu_need_workspace(ctx, mn_attention_bwd_workspace_cpu(B, T, C, NH), "attention_bwd");
  float *datt = ctx->workspace;
  const int nt = mn_cpu_threads();
  const int64_t work = (int64_t)B * T * T * C;
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, work))
  for (int bh = 0; bh < B * NH; bh++)
    bwd_pair(dqkv, datt + (int64_t)bh * T, dout, qkv, att, bh / NH, bh % NH, T, C, NH, add);
}

/* one row of datt per (b, h) pair, so that the pairs can run at once */
size_t mn_attention_bwd_workspace_cpu(int B, int T, int C, int NH) {
  (void)C;
  return B > 0 && T > 0 && NH > 0 ? (size_t)B * NH * T * sizeof(float) : 0;
}
