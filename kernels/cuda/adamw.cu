/* adamw.cu: the CUDA AdamW update of mn, PyTorch's torch.optim.AdamW (decoupled weight
 * decay, no amsgrad), with the gradient scaled first (clipping by global norm):
 * w *= 1 - lr * weight_decay; g' = grad_scale * g; m = beta1 m + (1 - beta1) g';
 * v = beta2 v + (1 - beta2) g'^2; w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps).
 *
 * One fused grid-stride pass over the flat parameter buffer, on the context's stream. The
 * per-step constants are rounded to float on the host exactly as the CPU reference
 * (kernels/cpu/adamw.c) rounds them, and passed by value in the launch; every element goes
 * through the _rn intrinsics (never contracted into FMAs; sqrt and division correctly
 * rounded), so that it rounds as the CPU does. */
#include <math.h>

#include "mn_cuda.cuh"

/* the per-step constants, derived on the host */
typedef struct adamw_consts {
  float decay, step_size, bc2_sqrt, b1, b2, c1, c2, eps, gs;
} adamw_consts_t;

static __global__ void adamw_kernel(float *__restrict__ w, const float *__restrict__ g,
                                    float *__restrict__ m, float *__restrict__ v, int64_t count,
                                    adamw_consts_t k) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    float gi = __fmul_rn(k.gs, g[i]);
    float mi = __fadd_rn(__fmul_rn(k.b1, m[i]), __fmul_rn(k.c1, gi));
    float vi = __fadd_rn(__fmul_rn(k.b2, v[i]), __fmul_rn(__fmul_rn(k.c2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), k.bc2_sqrt), k.eps);
    w[i] = __fsub_rn(__fmul_rn(w[i], k.decay), __fmul_rn(k.step_size, __fdiv_rn(mi, denom)));
  }
}

extern "C" void mn_adamw_update_cuda(const mn_kctx_t *ctx, float *w, const float *g, float *m,
                                     float *v, int64_t count, const mn_adamw_args_t *a) {
  if (count <= 0) return;
  adamw_consts_t k;
  k.decay = (float)(1.0 - (double)a->lr * a->weight_decay);
  k.step_size = a->lr / a->bias_correction1;
  k.bc2_sqrt = sqrtf(a->bias_correction2);
  k.b1 = a->beta1;
  k.b2 = a->beta2;
  k.c1 = 1.0f - a->beta1;
  k.c2 = 1.0f - a->beta2;
  k.eps = a->eps;
  k.gs = a->grad_scale;
  adamw_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, mn_cuda_stream(ctx)>>>(w, g, m, v,
                                                                                   count, k);
  MN_CUDA_LAUNCHED("adamw_kernel");
}
