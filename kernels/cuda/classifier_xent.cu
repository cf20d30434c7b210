/* classifier_xent.cu: the CUDA fused classifier of mn: softmax cross-entropy over the first V
 * columns of each row of padded logits (row stride Vp >= V): loss, accuracy count and the
 * gradient with respect to the logits. softmax_xent (kernels/cuda/softmax_xent.cu) is its
 * case Vp == V.
 *
 * One warp per row: the lanes stride over the row's first V columns for its maximum (the
 * first of tied maxima, as on the CPU), then sum exp(x - max) in double and, when dlogits is
 * wanted, write (exp(x - max) * (grad_scale / s) - [j == label] * grad_scale) with the CPU's
 * roundings, and 0 in the padded columns [V, Vp). dlogits may be logits itself: every lane
 * has read what it needs of the row (the label's logit included) before the warp syncs and
 * the first element is written, and each lane then reads each of its elements just before
 * overwriting it (so no __restrict__ on them). Each row's loss and hit go to per-row arrays;
 * a second, single-block kernel (mn_cuda_sums_kernel, mn_cuda.cuh) sums them in a fixed order
 * (deterministic: the same inputs give the same bits, with or without dlogits), and the two
 * totals are copied back to the host, which synchronises the context's stream. The totals and
 * the per-row arrays are carved from the context's workspace (layout(): totals first, then
 * rows doubles, then rows bytes); this file keeps no state, so contexts on different streams
 * or threads do not share scratch. Labels must lie in [0, V); they are not checked here. */
#include <math.h>

#include "mn_cuda.cuh"

#define WARP 32
#define ROWS_PER_BLOCK 8

/* The scratch in the workspace: the totals, then per-row losses (doubles) and per-row hits
 * (bytes). */
static mn_cuda_sums_layout_t layout(int rows) { return mn_cuda_sums_layout(rows, 1); }

static __device__ void take_max(float *bv, int *bi, float ov, int oi) {
  if (ov > *bv || (ov == *bv && oi < *bi)) {
    *bv = ov;
    *bi = oi;
  }
}

static __global__ void xent_rows_kernel(const float *logits, const int32_t *__restrict__ labels,
                                        int m, int c, int ld, float grad_scale, float *dlogits,
                                        double *__restrict__ row_loss,
                                        unsigned char *__restrict__ row_hit) {
  int lane = threadIdx.x % WARP;
  int i = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP;
  if (i >= m) return; /* a whole warp leaves together */
  const float *x = logits + (int64_t)i * ld;
  const int y = labels[i];
  const float xy = x[y];

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

  if (dlogits) {
    float *d = dlogits + (int64_t)i * ld;
    float scale = (float)(grad_scale / s);
    __syncwarp(); /* every lane's reads of the row before any write (in place) */
    for (int j = lane; j < c; j += WARP) {
      float e = __fmul_rn(expf(__fsub_rn(x[j], mx)), scale);
      d[j] = j == y ? __fsub_rn(e, grad_scale) : e;
    }
    for (int j = c + lane; j < ld; j += WARP) d[j] = 0.0f;
  }
  if (lane == 0) {
    row_loss[i] = log(s) - ((double)xy - (double)mx);
    row_hit[i] = bi == y;
  }
}

extern "C" size_t mn_classifier_xent_workspace_cuda(int rows, int Vp) {
  (void)Vp;
  return rows > 0 ? layout(rows).nbytes : 0;
}

extern "C" void mn_classifier_xent_cuda(const mn_kctx_t *ctx, const float *logits,
                                        const int32_t *labels, int rows, int V, int Vp,
                                        float grad_scale, float *dlogits, double *loss_sum,
                                        int64_t *correct) {
  if (rows <= 0) {
    *loss_sum = 0.0;
    *correct = 0;
    return;
  }
  mn_cuda_sums_layout_t l = layout(rows);
  mn_cuda_need_workspace(ctx, l.nbytes, "classifier_xent");
  char *ws = (char *)ctx->workspace;
  mn_cuda_sums_t *totals = (mn_cuda_sums_t *)ws;
  double *row_loss = (double *)(ws + l.sums);
  unsigned char *row_hit = (unsigned char *)(ws + l.counts);
  cudaStream_t s = mn_cuda_stream(ctx);
  unsigned blocks = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
  xent_rows_kernel<<<blocks, ROWS_PER_BLOCK * WARP, 0, s>>>(logits, labels, rows, V, Vp, grad_scale,
                                                            dlogits, row_loss, row_hit);
  MN_CUDA_LAUNCHED("xent_rows_kernel");
  mn_cuda_sums_t t = mn_cuda_sums_read(row_loss, row_hit, rows, totals, s);
  *loss_sum = t.sum;
  *correct = (int64_t)t.count;
}
