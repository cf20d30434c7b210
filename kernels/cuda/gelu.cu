/* gelu.cu: the CUDA GELU of mn in its tanh approximation (GPT-2's; PyTorch's
 * approximate='tanh'): out = gelu(inp), and its backward dinp = (add ? dinp : 0) +
 * gelu'(inp) dout, with the arithmetic of mn_gelu.h that the CPU reference
 * (kernels/cpu/gelu.c) uses too. Grid-stride loops on the context's stream; the forward may
 * run in place and the backward with dinp == dout (no __restrict__). CUDA's tanhf is not the
 * C library's, so the results agree with the CPU's to a few ulps, not bit for bit. */
#include "mn_cuda.cuh"
#include "mn_gelu.h"

static __global__ void gelu_fwd_kernel(float *out, const float *inp, int64_t count) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride)
    out[i] = mn_gelu(inp[i]);
}

static __global__ void gelu_bwd_kernel(float *dinp, const float *inp, const float *dout,
                                       int64_t count, int add) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    float d = mn_gelu_grad(inp[i]) * dout[i];
    dinp[i] = add ? dinp[i] + d : d;
  }
}

extern "C" void mn_gelu_fwd_cuda(const mn_kctx_t *ctx, float *out, const float *inp,
                                 int64_t count) {
  if (count <= 0) return;
  gelu_fwd_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(out, inp,
                                                                                      count);
  MN_CUDA_LAUNCHED("gelu_fwd_kernel");
}

extern "C" void mn_gelu_bwd_cuda(const mn_kctx_t *ctx, float *dinp, const float *inp,
                                 const float *dout, int64_t count, int add) {
  if (count <= 0) return;
  gelu_bwd_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(
      dinp, inp, dout, count, add);
  MN_CUDA_LAUNCHED("gelu_bwd_kernel");
}
