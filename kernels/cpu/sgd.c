/* sgd.c: the CPU SGD update of mn, with momentum and weight decay (PyTorch's convention:
 * v = momentum * v + (g + weight_decay * w); w -= lr * v).
 *
 * One fused, branch-free pass over the flat parameter buffer. The learning rate schedule
 * lives in runtime/optim/optim.c; this file knows nothing of steps or epochs. */
#include <stdint.h>

#include "mn_kernels.h"

void mn_sgd_update_cpu(const mn_kctx_t *ctx, float *restrict w, const float *restrict g,
                       float *restrict v, int64_t count, float lr, float momentum,
                       float weight_decay) {
  (void)ctx;
  for (int64_t i = 0; i < count; i++) {
    float vi = momentum * v[i] + (g[i] + weight_decay * w[i]);
    v[i] = vi;
    w[i] -= lr * vi;
  }
}
