/* sgd.c: the CPU SGD update of mn, PyTorch's torch.optim.SGD with momentum, weight decay,
 * Nesterov and a gradient scale (no dampening): g' = grad_scale * g + weight_decay * w;
 * v = momentum * v + g'; w -= lr * (nesterov ? g' + momentum * v : v).
 *
 * grad_scale * g comes first (clipping by global norm), so that with grad_scale 1 (exact)
 * and without Nesterov every element rounds as the update before them did,
 * v = momentum * v + (g + weight_decay * w); w -= lr * v.
 *
 * One fused, branch-free pass over the flat parameter buffer, on the back end's threads by
 * ranges of elements. The learning rate schedule
 * lives in runtime/optim/optim.c; this file knows nothing of steps or epochs. */
#include <stdint.h>

#include "mn_cpu.h"

void mn_sgd_update_cpu(const mn_kctx_t *ctx, float *restrict w, const float *restrict g,
                       float *restrict v, int64_t count, const mn_sgd_args_t *a) {
  (void)ctx;
  const float lr = a->lr, momentum = a->momentum, wd = a->weight_decay, gs = a->grad_scale;
  const int nesterov = a->nesterov != 0;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t i = 0; i < count; i++) {
    float d = gs * g[i] + wd * w[i];
    float vi = momentum * v[i] + d;
    v[i] = vi;
    w[i] -= lr * (nesterov ? d + momentum * vi : vi);
  }
}
