/* softmax_xent.c: the CPU softmax cross-entropy of mn over logits[m,c]: the fused classifier
 * (kernels/cpu/classifier_xent.c) without padding, V = Vp = c. */
#include <stddef.h>
#include <stdint.h>

#include "mn_cpu.h"

void mn_softmax_xent_cpu(const mn_kctx_t *ctx, const float *logits, const int32_t *labels, int m,
                         int c, float grad_scale, float *dlogits, double *loss_sum,
                         int64_t *correct) {
  mn_classifier_xent_cpu(ctx, logits, labels, m, c, c, grad_scale, dlogits, loss_sum, correct);
}

size_t mn_softmax_xent_workspace_cpu(int m, int c) {
  return mn_classifier_xent_workspace_cpu(m, c);
}
