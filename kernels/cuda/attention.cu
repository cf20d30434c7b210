/* attention.cu: the CUDA causal multi-head self-attention of mn (llm.c's attention_forward and
 * attention_backward): for each (b, h, t), the scaled dot products of the query at t with the
 * keys at t2 <= t, their softmax (kept in att for the backward), and the weighted sum of the
 * values; the backward through the values, the softmax and the dot products.
 *
 * Correct and plain rather than fast: not a flash attention, att[B,NH,T,T] is materialised.
 * One warp per (b, h, t) row: the lanes take the keys t2 (each a dot product over the head in
 * order), meet in fixed shuffle trees for the row's maximum and sum, normalise, and then take
 * the head's channels for the weighted sum over t2. The backward is two kernels, so that
 * every element of dqkv has one writer and its sum a fixed order (no atomics): one warp per
 * row t writes dpre[t, t2 <= t] = att (datt - sum att datt), datt = dout_t . v_t2, into the
 * context's workspace ([B,NH,T,T] floats) and dq_t = scale sum_t2 dpre k_t2; then one warp
 * per column t2 sums dk_t2 = scale sum_{t >= t2} dpre q_t and dv_t2 = sum_{t >= t2} att dout_t.
 * The CPU reference (kernels/cpu/attention.c) adds in other orders; the results agree to
 * rounding. C % NH == 0 is not checked here. */
#include <math.h>

#include "mn_cuda.cuh"

#define WARP 32
#define ROWS_PER_BLOCK 8

/* the shape of one launch: B, T, C, NH, the head size, and 1 / sqrt(head size) */
typedef struct att_shape {
  int B, T, C, NH, hs;
  float scale;
} att_shape_t;

static att_shape_t shape_of(int B, int T, int C, int NH) {
  att_shape_t s = {B, T, C, NH, C / NH, 1.0f / sqrtf((float)(C / NH))};
  return s;
}

/* A (b, h, t) row of att: r = (b * NH + h) * T + t; the offset of position (b, t)'s head h
 * in qkv (add C for its key, 2 C for its value) and in out. */
static __device__ int64_t qkv_at(const att_shape_t &s, int64_t r, int t) {
  int64_t bh = r / s.T;
  return ((bh / s.NH) * s.T + t) * 3 * (int64_t)s.C + (bh % s.NH) * s.hs;
}

static __device__ int64_t out_at(const att_shape_t &s, int64_t r, int t) {
  int64_t bh = r / s.T;
  return ((bh / s.NH) * s.T + t) * (int64_t)s.C + (bh % s.NH) * s.hs;
}

static __device__ float dot(const float *a, const float *b, int n) {
  float d = 0.0f;
  for (int i = 0; i < n; i++) d += a[i] * b[i];
  return d;
}

/* This warp's row r, or -1 past the last (the whole warp leaves together). */
static __device__ int64_t warp_row(const att_shape_t &s) {
  int64_t r = (int64_t)blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP;
  return r < (int64_t)s.B * s.NH * s.T ? r : -1;
}

/* sum_{t2 <= t} w[t2] qkv[position t2 of row r's head + off]: off = 2 C + i is channel i of
 * the values, C + i of the keys. */
static __device__ float weighted_sum(const float *w, const float *qkv, const att_shape_t &s,
                                     int64_t r, int t, int64_t off) {
  float acc = 0.0f;
  for (int t2 = 0; t2 <= t; t2++) acc += w[t2] * qkv[qkv_at(s, r, t2) + off];
  return acc;
}

static __device__ float warp_max(float v) {
  for (int off = WARP / 2; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

static __global__ void attention_fwd_kernel(float *__restrict__ out, float *__restrict__ att,
                                            const float *__restrict__ qkv, att_shape_t s) {
  int lane = threadIdx.x % WARP;
  int64_t r = warp_row(s);
  if (r < 0) return;
  int t = (int)(r % s.T);
  const float *q = qkv + qkv_at(s, r, t);
  float *a = att + r * s.T;
  float mx = -INFINITY;
  for (int t2 = lane; t2 <= t; t2 += WARP) {
    a[t2] = dot(q, qkv + qkv_at(s, r, t2) + s.C, s.hs) * s.scale;
    mx = fmaxf(mx, a[t2]);
  }
  mx = warp_max(mx);
  float sum = 0.0f;
  for (int t2 = lane; t2 <= t; t2 += WARP) {
    a[t2] = expf(a[t2] - mx);
    sum += a[t2];
  }
  float inv = 1.0f / mn_cuda_warp_sum(sum);
  for (int t2 = lane; t2 < s.T; t2 += WARP) a[t2] = t2 <= t ? a[t2] * inv : 0.0f;
  __syncwarp(); /* the lanes' att entries, visible to the whole warp */
  float *o = out + out_at(s, r, t);
  for (int i = lane; i < s.hs; i += WARP) o[i] = weighted_sum(a, qkv, s, r, t, 2 * s.C + i);
}

/* The backward's tensors: out dqkv (added into when add), the scratch dpre[B,NH,T,T], in
 * dout, qkv and att. */
typedef struct att_bwd {
  float *dqkv, *dpre;
  const float *dout, *qkv, *att;
  int add;
} att_bwd_t;

/* Row t: dpre[t, t2 <= t] and dq_t. */
static __global__ void attention_dq_kernel(att_bwd_t g, att_shape_t s) {
  int lane = threadIdx.x % WARP;
  int64_t r = warp_row(s);
  if (r < 0) return;
  int t = (int)(r % s.T);
  const float *a = g.att + r * s.T, *d_o = g.dout + out_at(s, r, t);
  float *dp = g.dpre + r * s.T;
  float sum = 0.0f;
  for (int t2 = lane; t2 <= t; t2 += WARP) {
    dp[t2] = dot(d_o, g.qkv + qkv_at(s, r, t2) + 2 * s.C, s.hs); /* datt, for now */
    sum += a[t2] * dp[t2];
  }
  sum = mn_cuda_warp_sum(sum);
  for (int t2 = lane; t2 <= t; t2 += WARP) dp[t2] = a[t2] * (dp[t2] - sum);
  __syncwarp(); /* the lanes' dpre entries, visible to the whole warp */
  float *dq = g.dqkv + qkv_at(s, r, t);
  for (int i = lane; i < s.hs; i += WARP) {
    float acc = weighted_sum(dp, g.qkv, s, r, t, s.C + i) * s.scale;
    dq[i] = g.add ? dq[i] + acc : acc;
  }
}

/* Column t2 (c its row index, (b * NH + h) * T + t2): dk_t2 and dv_t2 over the rows t >= t2,
 * whose dpre the row kernel has written. */
static __global__ void attention_dkv_kernel(att_bwd_t g, att_shape_t s) {
  int lane = threadIdx.x % WARP;
  int64_t c = warp_row(s);
  if (c < 0) return;
  int t2 = (int)(c % s.T);
  int64_t first = c - t2; /* the row index of t = 0 */
  float *dk = g.dqkv + qkv_at(s, c, t2) + s.C, *dv = dk + s.C;
  for (int i = lane; i < s.hs; i += WARP) {
    float k_acc = 0.0f, v_acc = 0.0f;
    for (int t = t2; t < s.T; t++) {
      int64_t e = (first + t) * s.T + t2;
      k_acc += g.dpre[e] * g.qkv[qkv_at(s, c, t) + i];
      v_acc += g.att[e] * g.dout[out_at(s, c, t) + i];
    }
    k_acc *= s.scale;
    dk[i] = g.add ? dk[i] + k_acc : k_acc;
    dv[i] = g.add ? dv[i] + v_acc : v_acc;
  }
}

static unsigned row_blocks(const att_shape_t &s) {
  return (unsigned)(((int64_t)s.B * s.NH * s.T + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
}

extern "C" void mn_attention_fwd_cuda(const mn_kctx_t *ctx, float *out, float *att,
                                      const float *qkv, int B, int T, int C, int NH) {
  if (B <= 0 || T <= 0 || C <= 0) return;
  att_shape_t s = shape_of(B, T, C, NH);
  attention_fwd_kernel<<<row_blocks(s), ROWS_PER_BLOCK * WARP, 0, mn_cuda_stream(ctx)>>>(out, att,
                                                                                         qkv, s);
  MN_CUDA_LAUNCHED("attention_fwd_kernel");
}

/* dpre[B,NH,T,T] */
extern "C" size_t mn_attention_workspace_cuda(int B, int T, int C, int NH) {
  (void)C;
  if (B <= 0 || T <= 0 || NH <= 0) return 0;
  return (size_t)B * NH * T * T * sizeof(float);
}

extern "C" void mn_attention_bwd_cuda(const mn_kctx_t *ctx, float *dqkv, const float *dout,
                                      const float *qkv, const float *att, int B, int T, int C,
                                      int NH, int add) {
  if (B <= 0 || T <= 0 || C <= 0) return;
  mn_cuda_need_workspace(ctx, mn_attention_workspace_cuda(B, T, C, NH), "attention_bwd");
  att_shape_t s = shape_of(B, T, C, NH);
  att_bwd_t g = {dqkv, (float *)ctx->workspace, dout, qkv, att, add};
  cudaStream_t st = mn_cuda_stream(ctx);
  attention_dq_kernel<<<row_blocks(s), ROWS_PER_BLOCK * WARP, 0, st>>>(g, s);
  MN_CUDA_LAUNCHED("attention_dq_kernel");
  attention_dkv_kernel<<<row_blocks(s), ROWS_PER_BLOCK * WARP, 0, st>>>(g, s);
  MN_CUDA_LAUNCHED("attention_dkv_kernel");
}
