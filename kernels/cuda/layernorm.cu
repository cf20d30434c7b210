/* layernorm.cu: the CUDA LayerNorm of mn (PyTorch's torch.nn.LayerNorm, eps 1e-5): each row
 * normalised by its mean and biased variance, scaled and shifted per channel; its backward
 * given the forward's mean and rstd.
 *
 * One warp per row for the forward and for the input gradient: the lanes stride over the
 * row, and their float partial sums meet in a fixed shuffle tree (mn_cuda_warp_sum), for the
 * mean, then the variance around it (two passes, as on the CPU), and in the backward for the
 * row means of g = weight dout and g n. The parameter gradients are column sums over the rows,
 * one block per 32 adjacent columns with 8 row lanes, their partial sums added in a fixed
 * order (as bias_grad does): deterministic, no atomics. The elementwise arithmetic goes
 * through the _rn intrinsics, in the CPU's order; only the sums' order differs from the CPU
 * (kernels/cpu/layernorm.c). Shapes are not checked. */
#include "mn_cuda.cuh"

#define WARP 32
#define ROWS_PER_BLOCK 8
#define COLS 32
#define ROW_LANES 8
#define LN_EPS 1e-5f

static __global__ void layernorm_fwd_kernel(float *__restrict__ out, float *__restrict__ mean,
                                            float *__restrict__ rstd, const float *__restrict__ inp,
                                            const float *__restrict__ weight,
                                            const float *__restrict__ bias, int rows, int C) {
  int lane = threadIdx.x % WARP;
  int i = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP;
  if (i >= rows) return; /* a whole warp leaves together */
  const float *x = inp + (int64_t)i * C;
  float *y = out + (int64_t)i * C;
  float sum = 0.0f;
  for (int j = lane; j < C; j += WARP) sum += x[j];
  float m = __fdiv_rn(mn_cuda_warp_sum(sum), (float)C);
  float sq = 0.0f;
  for (int j = lane; j < C; j += WARP) {
    float d = __fsub_rn(x[j], m);
    sq = __fadd_rn(sq, __fmul_rn(d, d));
  }
  float v = __fdiv_rn(mn_cuda_warp_sum(sq), (float)C);
  float s = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(v, LN_EPS)));
  for (int j = lane; j < C; j += WARP)
    y[j] = __fadd_rn(__fmul_rn(__fmul_rn(s, __fsub_rn(x[j], m)), weight[j]), bias[j]);
  if (lane == 0) {
    if (mean) mean[i] = m;
    if (rstd) rstd[i] = s;
  }
}

static __global__ void
layernorm_dinp_kernel(float *__restrict__ dinp, const float *__restrict__ dout,
                      const float *__restrict__ inp, const float *__restrict__ weight,
                      const float *__restrict__ mean, const float *__restrict__ rstd, int rows,
                      int C, int din_add) {
  int lane = threadIdx.x % WARP;
  int i = blockIdx.x * ROWS_PER_BLOCK + threadIdx.x / WARP;
  if (i >= rows) return;
  const float *x = inp + (int64_t)i * C, *dy = dout + (int64_t)i * C;
  float *dx = dinp + (int64_t)i * C;
  const float m = mean[i], s = rstd[i];
  float g_sum = 0.0f, gn_sum = 0.0f;
  for (int j = lane; j < C; j += WARP) {
    float g = __fmul_rn(weight[j], dy[j]);
    g_sum = __fadd_rn(g_sum, g);
    gn_sum = __fadd_rn(gn_sum, __fmul_rn(g, __fmul_rn(__fsub_rn(x[j], m), s)));
  }
  float g_mean = __fdiv_rn(mn_cuda_warp_sum(g_sum), (float)C);
  float gn_mean = __fdiv_rn(mn_cuda_warp_sum(gn_sum), (float)C);
  for (int j = lane; j < C; j += WARP) {
    float n = __fmul_rn(__fsub_rn(x[j], m), s);
    float g = __fmul_rn(weight[j], dy[j]);
    float d = __fmul_rn(__fsub_rn(__fsub_rn(g, g_mean), __fmul_rn(n, gn_mean)), s);
    dx[j] = din_add ? __fadd_rn(dx[j], d) : d;
  }
}

/* dweight[j] and dbias[j] for the block's 32 columns: row lane r sums rows r, r + 8, ...;
 * then row lane 0 adds the 8 partial sums in order, and the old values last when adding. */
static __global__ void
layernorm_dparams_kernel(float *__restrict__ dweight, float *__restrict__ dbias,
                         const float *__restrict__ dout, const float *__restrict__ inp,
                         const float *__restrict__ mean, const float *__restrict__ rstd, int rows,
                         int C, int dparams_add) {
  __shared__ float part_w[ROW_LANES][COLS + 1], part_b[ROW_LANES][COLS + 1];
  int j = blockIdx.x * COLS + threadIdx.x;
  float sw = 0.0f, sb = 0.0f;
  for (int i = threadIdx.y; j < C && i < rows; i += ROW_LANES) {
    float dy = dout[(int64_t)i * C + j];
    float n = __fmul_rn(__fsub_rn(inp[(int64_t)i * C + j], mean[i]), rstd[i]);
    sw = __fadd_rn(sw, __fmul_rn(n, dy));
    sb = __fadd_rn(sb, dy);
  }
  part_w[threadIdx.y][threadIdx.x] = sw;
  part_b[threadIdx.y][threadIdx.x] = sb;
  __syncthreads();
  if (threadIdx.y != 0 || j >= C) return;
  float tw = 0.0f, tb = 0.0f;
  for (int r = 0; r < ROW_LANES; r++) {
    tw += part_w[r][threadIdx.x];
    tb += part_b[r][threadIdx.x];
  }
  dweight[j] = dparams_add ? __fadd_rn(dweight[j], tw) : tw;
  dbias[j] = dparams_add ? __fadd_rn(dbias[j], tb) : tb;
}

extern "C" void mn_layernorm_fwd_cuda(const mn_kctx_t *ctx, float *out, float *mean, float *rstd,
                                      const float *inp, const float *weight, const float *bias,
                                      int rows, int C) {
  if (rows <= 0 || C <= 0) return;
  unsigned blocks = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
  layernorm_fwd_kernel<<<blocks, ROWS_PER_BLOCK * WARP, 0, mn_cuda_stream(ctx)>>>(
      out, mean, rstd, inp, weight, bias, rows, C);
  MN_CUDA_LAUNCHED("layernorm_fwd_kernel");
}

extern "C" void mn_layernorm_bwd_cuda(const mn_kctx_t *ctx, float *dinp, float *dweight,
                                      float *dbias, const float *dout, const float *inp,
                                      const float *weight, const float *mean, const float *rstd,
                                      int rows, int C, int din_add, int dparams_add) {
  if (C <= 0) return;
  cudaStream_t s = mn_cuda_stream(ctx);
  if (rows > 0) {
    unsigned blocks = (unsigned)((rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    layernorm_dinp_kernel<<<blocks, ROWS_PER_BLOCK * WARP, 0, s>>>(dinp, dout, inp, weight, mean,
                                                                   rstd, rows, C, din_add);
    MN_CUDA_LAUNCHED("layernorm_dinp_kernel");
  }
  if (rows <= 0 && dparams_add) return;
  dim3 block(COLS, ROW_LANES);
  unsigned blocks = (unsigned)((C + COLS - 1) / COLS);
  layernorm_dparams_kernel<<<blocks, block, 0, s>>>(dweight, dbias, dout, inp, mean, rstd, rows, C,
                                                    dparams_add);
  MN_CUDA_LAUNCHED("layernorm_dparams_kernel");
}
