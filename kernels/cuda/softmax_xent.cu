/* softmax_xent.cu: the CUDA softmax cross-entropy of mn: loss, accuracy count and the
 * gradient with respect to the logits.
 *
 * One warp per row: the lanes stride over the row for its maximum (the first of tied maxima,
 * as on the CPU), then sum exp(x - max) in double and, when dlogits is wanted, write
 * (exp(x - max) * (grad_scale / s) - [j == label] * grad_scale) with the CPU's roundings.
 * Each row's loss and hit go to per-row arrays; a second, single-block kernel sums them in
 * a fixed order (deterministic: the same inputs give the same bits, with or without
 * dlogits), and the two totals are copied back to the host, which synchronises the
 * context's stream. The totals and the per-row arrays are carved from the context's
 * workspace (layout(): totals first, then m doubles, then m bytes); this file keeps no
 * state, so contexts on different streams or threads do not share scratch. Labels must lie
 * in [0, c); they are not checked here. */
#include <math.h>

#include "mn_cuda.cuh"

#define WARP 32
#define ROWS_PER_BLOCK 8
#define SUM_THREADS 256

typedef struct totals {
  double loss;
  unsigned long long hits;
} totals_t;

/* Where the scratch lies in the workspace: byte offsets of the per-row losses and hits,
 * and the bytes needed. The totals (16 bytes) come first, so the doubles stay aligned. */
typedef struct layout {
  size_t row_loss, row_hit, nbytes;
} layout_t;

static layout_t layout(int m) {
  layout_t l;
  l.row_loss = sizeof(totals_t);
  l.row_hit = l.row_loss + (size_t)m * sizeof(double);
  l.nbytes = l.row_hit + (size_t)m;
  return l;
}

static __device__ void take_max(float *bv, int *bi, float ov, int oi) {
  if (ov > *bv || (ov == *bv && oi < *bi)) {
    *bv = ov;
    *bi = oi;
  }
}

static __global__ void xent_rows_kernel(const float *__restrict__ logits,
                                        const int32_t *__restrict__ labels, int m, int c,
                                        float grad_scale, float *__restrict__ dlogits,
                                        double *__restrict__ row_loss,
                                        unsigned char *__restrict__ row_hit) {
  int lane = threadIdx.x % WARP;
  int i = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP;
  if (i >= m) return; /* a whole warp leaves together */
  const float *x = logits + (int64_t)i * c;

  float bv = lane < c ? x[lane] : -INFINITY;
  int bi = lane < c ? lane : INT_MAX;
  for (int j = lane + WARP; j < c; j += WARP)
    if (x[j] > bv) bv = x[j], bi = j;
  for (int off = WARP / 2; off > 0; off /= 2)
    take_max(&bv, &bi, __shfl_xor_sync(0xffffffffu, bv, off),
             __shfl_xor_sync(0xffffffffu, bi, off));
  float mx = bv;

  double s = 0.0;
  for (int j = lane; j < c; j += WARP) s += (double)expf(__fsub_rn(x[j], mx));
  for (int off = WARP / 2; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);

  int y = labels[i];
  if (dlogits) {
    float *d = dlogits + (int64_t)i * c;
    float scale = (float)(grad_scale / s);
    for (int j = lane; j < c; j += WARP) {
      float e = __fmul_rn(expf(__fsub_rn(x[j], mx)), scale);
      d[j] = j == y ? __fsub_rn(e, grad_scale) : e;
    }
  }
  if (lane == 0) {
    row_loss[i] = log(s) - ((double)x[y] - (double)mx);
    row_hit[i] = bi == y;
  }
}

static __global__ void xent_sum_kernel(const double *__restrict__ row_loss,
                                       const unsigned char *__restrict__ row_hit, int m,
                                       totals_t *__restrict__ out) {
  __shared__ double loss[SUM_THREADS];
  __shared__ unsigned long long hits[SUM_THREADS];
  double l = 0.0;
  unsigned long long h = 0;
  for (int i = threadIdx.x; i < m; i += SUM_THREADS) {
    l += row_loss[i];
    h += row_hit[i];
  }
  loss[threadIdx.x] = l;
  hits[threadIdx.x] = h;
  __syncthreads();
  for (int half = SUM_THREADS / 2; half > 0; half /= 2) {
    if ((int)threadIdx.x < half) {
      loss[threadIdx.x] += loss[threadIdx.x + half];
      hits[threadIdx.x] += hits[threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    out->loss = loss[0];
    out->hits = hits[0];
  }
}

extern "C" size_t mn_softmax_xent_workspace_cuda(int m, int c) {
  (void)c;
  return m > 0 ? layout(m).nbytes : 0;
}

extern "C" void mn_softmax_xent_cuda(const mn_kctx_t *ctx, const float *logits,
                                     const int32_t *labels, int m, int c, float grad_scale,
                                     float *dlogits, double *loss_sum, int64_t *correct) {
  if (m <= 0) {
    *loss_sum = 0.0;
    *correct = 0;
    return;
  }
  layout_t l = layout(m);
  mn_cuda_need_workspace(ctx, l.nbytes, "softmax_xent");
  char *ws = (char *)ctx->workspace;
  totals_t *totals = (totals_t *)ws;
  double *row_loss = (double *)(ws + l.row_loss);
  unsigned char *row_hit = (unsigned char *)(ws + l.row_hit);
  cudaStream_t s = mn_cuda_stream(ctx);
  unsigned blocks = (unsigned)((m + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
  xent_rows_kernel<<<blocks, ROWS_PER_BLOCK * WARP, 0, s>>>(logits, labels, m, c, grad_scale,
                                                            dlogits, row_loss, row_hit);
  MN_CUDA_LAUNCHED("xent_rows_kernel");
  xent_sum_kernel<<<1, SUM_THREADS, 0, s>>>(row_loss, row_hit, m, totals);
  MN_CUDA_LAUNCHED("xent_sum_kernel");
  totals_t t;
  MN_CUDA_CHECK(cudaMemcpyAsync(&t, totals, sizeof t, cudaMemcpyDeviceToHost, s));
  MN_CUDA_CHECK(cudaStreamSynchronize(s));
  *loss_sum = t.loss;
  *correct = (int64_t)t.hits;
}
