/* sgd.cu: the CUDA SGD update of mn, with momentum and weight decay (PyTorch's convention:
 * v = momentum * v + (g + weight_decay * w); w -= lr * v).
 *
 * One fused grid-stride pass over the flat parameter buffer, on the context's stream. The
 * arithmetic goes through the _rn intrinsics, which nvcc never contracts into FMAs, so that every
 * element rounds exactly as the CPU reference (kernels/cpu/sgd.c) does. */
#include "mn_cuda.cuh"

static __global__ void sgd_kernel(float *__restrict__ w, const float *__restrict__ g,
                                  float *__restrict__ v, int64_t count, float lr,
                                  float momentum, float weight_decay) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    float wi = w[i];
    float vi = __fadd_rn(__fmul_rn(momentum, v[i]), __fadd_rn(g[i], __fmul_rn(weight_decay, wi)));
    v[i] = vi;
    w[i] = __fsub_rn(wi, __fmul_rn(lr, vi));
  }
}

extern "C" void mn_sgd_update_cuda(const mn_kctx_t *ctx, float *w, const float *g, float *v,
                                   int64_t count, float lr, float momentum, float weight_decay) {
  if (count <= 0) return;
  sgd_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(
      w, g, v, count, lr, momentum, weight_decay);
  MN_CUDA_LAUNCHED("sgd_kernel");
}
