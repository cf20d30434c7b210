/* adamw.c: the CPU AdamW update of mn, PyTorch's torch.optim.AdamW (decoupled weight decay,
 * no amsgrad), with the gradient scaled first (clipping by global norm):
 * w *= 1 - lr * weight_decay; g' = grad_scale * g; m = beta1 m + (1 - beta1) g';
 * v = beta2 v + (1 - beta2) g'^2; w -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps).
 *
 * One fused pass over the flat parameter buffer, on the back end's threads by ranges of
 * elements. The per-step constants (the decay factor,
 * the step size lr / bc1, sqrt(bc2)) are rounded to float once per call, on the host; the
 * CUDA twin (kernels/cuda/adamw.cu) derives them the same way and rounds every element as
 * this loop does. PyTorch's own roundings differ in the last bits (it updates m by lerp and
 * divides lr by bc1 in double). The step count, and so the bias corrections, belong to
 * the runtime's optimizer. */
#include <math.h>
#include <stdint.h>

#include "mn_cpu.h"

void mn_adamw_update_cpu(const mn_kctx_t *ctx, float *restrict w, const float *restrict g,
                         float *restrict m, float *restrict v, int64_t count,
                         const mn_adamw_args_t *a) {
  (void)ctx;
  const float decay = (float)(1.0 - (double)a->lr * a->weight_decay);
  const float step_size = a->lr / a->bias_correction1;
  const float bc2_sqrt = sqrtf(a->bias_correction2);
  const float b1 = a->beta1, b2 = a->beta2, c1 = 1.0f - a->beta1, c2 = 1.0f - a->beta2;
  const float eps = a->eps, gs = a->grad_scale;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t i = 0; i < count; i++) {
    float gi = gs * g[i];
    float mi = b1 * m[i] + c1 * gi;
    float vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i] * decay - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
  }
}
