/* attention.c: the CPU causal multi-head self-attention of mn, llm.c's attention_forward and
 * attention_backward: for each (b, t, h), the scaled dot products of the query at t with the
 * keys at t2 <= t, their softmax (kept in att for the backward), and the weighted sum of the
 * values; the backward through the values, the softmax and the dot products.
 *
 * The arithmetic is llm.c's, but for the softmax backward: llm.c sums att[t2] ([t2 == t3] -
 * att[t3]) datt[t2] over t2 for each t3 (T^3 per head), here dpre[t3] = att[t3] (datt[t3] -
 * sum_t2 att[t2] datt[t2]), the same value in T^2. Not a flash attention: att[B,NH,T,T] is
 * materialised.
 *
 * Vectorised without reordering a sum: a dot product over a head's channels (q . k in the
 * forward, dout . v in the backward) is one float summed in channel order, which a compiler
 * may not split over vector lanes; so a pair first copies its keys (values) transposed,
 * [hs][T], into the workspace, and the dot products of one query with all its keys are summed
 * side by side, a lane per key, each still in channel order: the same bits as one dot at a
 * time. The exponentials are the C library's vector expf where there is one (mn_vmath.h);
 * the other loops are axpys over the head's channels. Workspace, per (b, h) pair: the
 * transposed keys or values (hs T floats) and a row of datt (T floats).
 *
 * On the back end's threads by (b, h) pairs: a pair's queries, keys, values, att rows,
 * outputs and workspace are its own, and it visits t (then t2) in increasing order as the
 * serial loops do, so that every element of dqkv is summed by one thread in the same order
 * at any count. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mn_cpu.h"
#include "mn_vmath.h"

/* the workspace of one pair, in floats */
static int64_t pair_floats(int T, int hs) { return ((int64_t)hs + 1) * T; }

/* y += alpha x */
static inline void axpy(float *restrict y, float alpha, const float *restrict x, int n) {
  for (int i = 0; i < n; i++) y[i] += alpha * x[i];
}

/* xt[i][t2] = x[t2][i] for the pair's T rows of stride C3 */
static void transpose(float *restrict xt, const float *restrict x, int T, int hs, int64_t C3) {
  for (int t2 = 0; t2 < T; t2++)
    for (int i = 0; i < hs; i++) xt[(int64_t)i * T + t2] = x[t2 * C3 + i];
}

/* s[t2] = sum_i a[i] xt[i][t2] for t2 < n, each summed in order of i */
static inline void dots(float *restrict s, const float *restrict a, const float *restrict xt,
                        int n, int hs, int T) {
  memset(s, 0, (size_t)n * sizeof *s);
  for (int i = 0; i < hs; i++) axpy(s, a[i], xt + (int64_t)i * T, n);
}

/* One (b, h) pair of the forward: every t, in order. */
MN_VMATH_CLONES static void fwd_pair(float *restrict out, float *restrict att, float *restrict kt,
                                     const float *restrict qkv, int b, int h, int T, int C,
                                     int NH) {
  const int hs = C / NH;
  const int64_t C3 = 3 * (int64_t)C;
  const float scale = 1.0f / sqrtf((float)hs);
  const float *pair = qkv + (int64_t)b * T * C3 + h * hs;
  transpose(kt, pair + C, T, hs, C3);
  for (int t = 0; t < T; t++) {
    float *a = att + (((int64_t)b * NH + h) * T + t) * T;
    dots(a, pair + t * C3, kt, t + 1, hs, T);
    float mx = -INFINITY;
    for (int t2 = 0; t2 <= t; t2++) {
      a[t2] *= scale;
      mx = a[t2] > mx ? a[t2] : mx;
    }
#pragma omp simd
    for (int t2 = 0; t2 <= t; t2++) a[t2] = expf(a[t2] - mx);
    float sum = 0.0f;
    for (int t2 = 0; t2 <= t; t2++) sum += a[t2];
    const float inv = 1.0f / sum;
    for (int t2 = 0; t2 <= t; t2++) a[t2] *= inv;
    memset(a + t + 1, 0, (size_t)(T - t - 1) * sizeof *a);
    float *o = out + ((int64_t)b * T + t) * C + h * hs;
    memset(o, 0, (size_t)hs * sizeof *o);
    for (int t2 = 0; t2 <= t; t2++) axpy(o, a[t2], pair + t2 * C3 + 2 * C, hs);
  }
}

void mn_attention_fwd_cpu(const mn_kctx_t *ctx, float *restrict out, float *restrict att,
                          const float *restrict qkv, int B, int T, int C, int NH) {
  mn_cpu_need_workspace(ctx, mn_attention_workspace_cpu(B, T, C, NH), "attention_fwd");
  float *ws = ctx->workspace;
  const int nt = mn_cpu_threads();
  const int64_t per = pair_floats(T, C / NH);
  const int64_t work = (int64_t)B * T * T * C; /* the dot products and the weighted sums */
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, work))
  for (int bh = 0; bh < B * NH; bh++)
    fwd_pair(out, att, ws + bh * per, qkv, bh / NH, bh % NH, T, C, NH);
}

/* One (b, h) pair of the backward, with its own workspace: zeroes the pair's channels of
 * dqkv unless add, then every t, in order. */
MN_VMATH_CLONES static void bwd_pair(float *restrict dqkv, float *restrict ws,
                                     const float *restrict dout, const float *restrict qkv,
                                     const float *restrict att, int b, int h, int T, int C,
                                     int NH, int add) {
  const int hs = C / NH;
  const int64_t C3 = 3 * (int64_t)C;
  const float scale = 1.0f / sqrtf((float)hs);
  const float *pair = qkv + (int64_t)b * T * C3 + h * hs;
  float *dpair = dqkv + (int64_t)b * T * C3 + h * hs;
  float *vt = ws, *datt = ws + (int64_t)hs * T;
  if (!add)
    for (int t = 0; t < T; t++)
      for (int part = 0; part < 3; part++)
        memset(dpair + t * C3 + part * C, 0, (size_t)hs * sizeof *dqkv);
  transpose(vt, pair + 2 * C, T, hs, C3);
  for (int t = 0; t < T; t++) {
    const float *a = att + (((int64_t)b * NH + h) * T + t) * T;
    const float *d_o = dout + ((int64_t)b * T + t) * C + h * hs;
    /* through the values: datt = dout . v, dv += att dout */
    dots(datt, d_o, vt, t + 1, hs, T);
    float s = 0.0f;
    for (int t2 = 0; t2 <= t; t2++) s += a[t2] * datt[t2];
    for (int t2 = 0; t2 <= t; t2++) axpy(dpair + t2 * C3 + 2 * C, a[t2], d_o, hs);
    /* through the softmax and the scaled dot products */
    for (int t2 = 0; t2 <= t; t2++) {
      const float g = a[t2] * (datt[t2] - s) * scale;
      axpy(dpair + t * C3, g, pair + t2 * C3 + C, hs);
      axpy(dpair + t2 * C3 + C, g, pair + t * C3, hs);
    }
  }
}

void mn_attention_bwd_cpu(const mn_kctx_t *ctx, float *restrict dqkv, const float *restrict dout,
                          const float *restrict qkv, const float *restrict att, int B, int T, int C,
                          int NH, int add) {
  mn_cpu_need_workspace(ctx, mn_attention_workspace_cpu(B, T, C, NH), "attention_bwd");
  float *ws = ctx->workspace;
  const int nt = mn_cpu_threads();
  const int64_t per = pair_floats(T, C / NH);
  const int64_t work = (int64_t)B * T * T * C;
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, work))
  for (int bh = 0; bh < B * NH; bh++)
    bwd_pair(dqkv, ws + bh * per, dout, qkv, att, bh / NH, bh % NH, T, C, NH, add);
}

/* pair_floats per (b, h) pair, so that the pairs can run at once */
size_t mn_attention_workspace_cpu(int B, int T, int C, int NH) {
  return B > 0 && T > 0 && NH > 0 && C >= NH
             ? (size_t)B * NH * (size_t)pair_floats(T, C / NH) * sizeof(float)
             : 0;
}
