/* bias_act.cu: the CUDA bias-plus-activation ops of mn: the fused forward
 * y = act(y + bias), the ReLU alone, the ReLU backward mask, and the bias gradient (a column
 * sum, overwriting or adding into db).
 *
 * The elementwise ops are grid-stride loops on the context's stream (relu_fwd without
 * __restrict__: it may run in place). ReLU propagates NaN (v < 0 ? 0 : v, not fmaxf), as the
 * CPU reference does. The bias gradient gives each block 32 adjacent columns (coalesced
 * reads of each row) and 8 row lanes that sum every 8th row, then adds the 8 partial sums in
 * a fixed order, and db's old value last when accumulating: deterministic, no atomics. Its
 * parallelism is bounded by n / 32 blocks, enough for the layer widths of mn's models; a
 * tall, narrow dy would want a two-pass split over rows. Shapes are not checked. */
#include "mn_cuda.cuh"

#define BIAS_GRAD_COLS 32
#define BIAS_GRAD_ROWS 8

static __global__ void bias_act_kernel(float *__restrict__ y, const float *__restrict__ bias,
                                       int64_t count, int n, int relu) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    float v = __fadd_rn(y[i], bias[i % n]);
    y[i] = relu && v < 0.0f ? 0.0f : v;
  }
}

static __global__ void relu_fwd_kernel(float *y, const float *x, int64_t count) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    float v = x[i];
    y[i] = v < 0.0f ? 0.0f : v;
  }
}

static __global__ void relu_bwd_kernel(float *__restrict__ dy, const float *__restrict__ y,
                                       int64_t count) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride)
    dy[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

static __global__ void bias_grad_kernel(const float *__restrict__ dy, int m, int n,
                                        float *__restrict__ db, int accumulate) {
  __shared__ float part[BIAS_GRAD_ROWS][BIAS_GRAD_COLS + 1];
  int j = blockIdx.x * BIAS_GRAD_COLS + threadIdx.x;
  float s = 0.0f;
  if (j < n)
    for (int i = threadIdx.y; i < m; i += BIAS_GRAD_ROWS) s += dy[(int64_t)i * n + j];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && j < n) {
    float t = 0.0f;
    for (int r = 0; r < BIAS_GRAD_ROWS; r++) t += part[r][threadIdx.x];
    db[j] = accumulate ? __fadd_rn(db[j], t) : t;
  }
}

extern "C" void mn_bias_act_fwd_cuda(const mn_kctx_t *ctx, float *y, const float *bias, int m,
                                     int n, int relu) {
  int64_t count = (int64_t)m * n;
  if (count <= 0) return;
  bias_act_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(
      y, bias, count, n, relu);
  MN_CUDA_LAUNCHED("bias_act_kernel");
}

extern "C" void mn_relu_fwd_cuda(const mn_kctx_t *ctx, float *y, const float *x, int64_t count) {
  if (count <= 0) return;
  relu_fwd_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(y, x, count);
  MN_CUDA_LAUNCHED("relu_fwd_kernel");
}

extern "C" void mn_relu_bwd_cuda(const mn_kctx_t *ctx, float *dy, const float *y, int64_t count) {
  if (count <= 0) return;
  relu_bwd_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(dy, y, count);
  MN_CUDA_LAUNCHED("relu_bwd_kernel");
}

extern "C" void mn_bias_grad_cuda(const mn_kctx_t *ctx, const float *dy, int m, int n, float *db,
                                  int accumulate) {
  if (n <= 0 || (m <= 0 && accumulate)) return;
  if (m <= 0) {
    MN_CUDA_CHECK(cudaMemsetAsync(db, 0, (size_t)n * sizeof *db, mn_cuda_stream(ctx)));
    return;
  }
  dim3 block(BIAS_GRAD_COLS, BIAS_GRAD_ROWS);
  unsigned blocks = (unsigned)((n + BIAS_GRAD_COLS - 1) / BIAS_GRAD_COLS);
  bias_grad_kernel<<<blocks, block, 0, mn_cuda_stream(ctx)>>>(dy, m, n, db, accumulate);
  MN_CUDA_LAUNCHED("bias_grad_kernel");
}
