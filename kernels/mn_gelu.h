/* mn_gelu.h: the arithmetic of GELU in its tanh approximation (GPT-2's; PyTorch's
 * approximate='tanh'; llm.c's gelu_forward and gelu_backward), one element at a time, shared
 * by the CPU reference (kernels/cpu/gelu.c) and its CUDA twin (kernels/cuda/gelu.cu), so that
 * the formula is written once:
 * gelu(x) = 0.5 x (1 + tanh(u)), u = k (x + 0.044715 x^3), k = sqrt(2/pi);
 * gelu'(x) = 0.5 (1 + tanh(u)) + 0.5 x (1 - tanh(u)^2) k (1 + 3 0.044715 x^2).
 * sech^2 is written 1 - tanh^2 rather than llm.c's 1 / cosh^2 (the same value, one
 * transcendental less, no overflow of cosh). The two back ends still differ in the last bits:
 * CUDA's tanhf is not the C library's, and nvcc contracts products and sums into FMAs.
 * Internal to kernels/. */
#ifndef MN_GELU_H
#define MN_GELU_H

#include <math.h>

#ifdef __CUDACC__
#define MN_GELU_FN static inline __host__ __device__
#else
#define MN_GELU_FN static inline
#endif

#define MN_GELU_K 0.7978845608028654f /* sqrt(2 / pi) */
#define MN_GELU_C 0.044715f

MN_GELU_FN float mn_gelu(float x) {
  return 0.5f * x * (1.0f + tanhf(MN_GELU_K * (x + MN_GELU_C * x * x * x)));
}

/* gelu'(x) */
MN_GELU_FN float mn_gelu_grad(float x) {
  float th = tanhf(MN_GELU_K * (x + MN_GELU_C * x * x * x));
  return 0.5f * (1.0f + th) +
         0.5f * x * (1.0f - th * th) * MN_GELU_K * (1.0f + 3.0f * MN_GELU_C * x * x);
}

#endif /* MN_GELU_H */
