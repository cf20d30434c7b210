/* softmax_xent.cu: the CUDA softmax cross-entropy of mn over logits[m,c]: the fused
 * classifier (kernels/cuda/classifier_xent.cu) without padding, V = Vp = c. */
#include "mn_cuda.cuh"

extern "C" size_t mn_softmax_xent_workspace_cuda(int m, int c) {
  return mn_classifier_xent_workspace_cuda(m, c);
}

extern "C" void mn_softmax_xent_cuda(const mn_kctx_t *ctx, const float *logits,
                                     const int32_t *labels, int m, int c, float grad_scale,
                                     float *dlogits, double *loss_sum, int64_t *correct) {
  mn_classifier_xent_cuda(ctx, logits, labels, m, c, c, grad_scale, dlogits, loss_sum, correct);
}
