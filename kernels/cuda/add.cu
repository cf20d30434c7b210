/* add.cu: the CUDA residual add of mn, out = a + b, one correctly rounded addition per
 * element as on the CPU; a grid-stride loop on the context's stream. out may be a or b (no
 * __restrict__). */
#include "mn_cuda.cuh"

static __global__ void add_kernel(float *out, const float *a, const float *b, int64_t count) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride)
    out[i] = __fadd_rn(a[i], b[i]);
}

extern "C" void mn_add_fwd_cuda(const mn_kctx_t *ctx, float *out, const float *a, const float *b,
                                int64_t count) {
  if (count <= 0) return;
  add_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(out, a, b, count);
  MN_CUDA_LAUNCHED("add_kernel");
}
