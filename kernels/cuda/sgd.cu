/* sgd.cu: the CUDA SGD update of mn, PyTorch's torch.optim.SGD (momentum, weight decay,
 * Nesterov, no dampening), with the gradient scaled first (clipping by global norm):
 * g' = grad_scale * g + weight_decay * w; v = momentum * v + g';
 * w -= lr * (nesterov ? g' + momentum * v : v).
 *
 * One fused grid-stride pass over the flat parameter buffer, on the context's stream; the
 * arguments travel by value in the launch. The arithmetic goes through the _rn intrinsics,
 * which nvcc never contracts into FMAs, so that every element rounds exactly as the CPU
 * reference (kernels/cpu/sgd.c) does. */
#include "mn_cuda.cuh"

static __global__ void sgd_kernel(float *__restrict__ w, const float *__restrict__ g,
                                  float *__restrict__ v, int64_t count, mn_sgd_args_t a) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    float wi = w[i];
    float d = __fadd_rn(__fmul_rn(a.grad_scale, g[i]), __fmul_rn(a.weight_decay, wi));
    float vi = __fadd_rn(__fmul_rn(a.momentum, v[i]), d);
    v[i] = vi;
    float step = a.nesterov ? __fadd_rn(d, __fmul_rn(a.momentum, vi)) : vi;
    w[i] = __fsub_rn(wi, __fmul_rn(a.lr, step));
  }
}

extern "C" void mn_sgd_update_cuda(const mn_kctx_t *ctx, float *w, const float *g, float *v,
                                   int64_t count, const mn_sgd_args_t *a) {
  if (count <= 0) return;
  sgd_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(w, g, v, count,
                                                                                 *a);
  MN_CUDA_LAUNCHED("sgd_kernel");
}
