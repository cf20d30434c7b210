/* scale.cu: the CUDA scale op of mn, x *= alpha (e.g. averaging summed gradients); a
 * grid-stride loop on the context's stream, one correctly rounded multiply per element as on
 * the CPU. */
#include "mn_cuda.cuh"

static __global__ void scale_kernel(float *x, int64_t count, float alpha) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride)
    x[i] = __fmul_rn(x[i], alpha);
}

extern "C" void mn_scale_cuda(const mn_kctx_t *ctx, float *x, int64_t count, float alpha) {
  if (count <= 0) return;
  scale_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(x, count, alpha);
  MN_CUDA_LAUNCHED("scale_kernel");
}
