/* mn_model.h: the MLP: parameters, forward, loss, backward, through a kernel table.
 *
 * Layers are fully connected, ReLU between them, softmax cross-entropy at the end. Every op
 * runs in the kernel context given at init (its stream and workspace). All
 * buffers are in the kernel table's memory (device memory on a GPU). All
 * parameters live in one flat buffer and all gradients in another with the same layout,
 * so that the gradient allreduce works on a few large buckets. The layout puts the last
 * layer first (W_{L-1}, b_{L-1}, ..., W_0, b_0): the order in which backward produces
 * gradients, so that buckets fill front to back. W_l is [out, in] row-major (y = x W^T + b).
 * Initialisation (He normal for W, zero for b) depends only on the seed: every rank gets
 * the same weights without a broadcast. */
#ifndef MN_MODEL_H
#define MN_MODEL_H

#include <stdint.h>

#include "mn_kernels.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_MODEL_MAX_LINEAR 31
/* gradbuf holds this many floats before the gradients: the trainer's control slots, which
 * ride in the gradient allreduce (a rank that cannot step raises one, and all ranks stop),
 * padded to 64 bytes so that the gradients stay aligned. They come first so that the
 * first bucket, which backward fills first, carries them. */
#define MN_MODEL_GRAD_EXTRA 16

typedef struct mn_model {
  const mn_kernels_t *k;
  const mn_kctx_t *ctx;              /* the context of every op (the device's; not owned) */
  int nlinear;                       /* number of linear layers */
  int dims[MN_MODEL_MAX_LINEAR + 1]; /* dims[0] input, dims[nlinear] classes */
  int max_batch;
  int64_t nparams;
  float *params;                      /* [nparams] */
  float *gradbuf;                     /* [MN_MODEL_GRAD_EXTRA + nparams]: control, grads */
  float *grads;                       /* = gradbuf + MN_MODEL_GRAD_EXTRA */
  int64_t w_off[MN_MODEL_MAX_LINEAR]; /* offsets into params/grads */
  int64_t b_off[MN_MODEL_MAX_LINEAR];
  float *act[MN_MODEL_MAX_LINEAR]; /* outputs of each layer [max_batch, dims[l+1]] */
  float *dact[2];                  /* gradient scratch [max_batch, max width] */
  /* Called by backward as soon as grads[0, done) are final (once per layer, done growing
   * to nparams): the trainer starts allreducing them while backward goes on. May be NULL. */
  void (*on_grads)(void *arg, int64_t done);
  void *on_grads_arg;
} mn_model_t;

/* dims[0..ndims): widths, input first. in: k, ctx (kept by the model: it must outlive it),
 * dims, ndims, max_batch, seed; out: m. */
mn_status_t mn_model_init(mn_model_t *m, const mn_kernels_t *k, const mn_kctx_t *ctx,
                          const int *dims, int ndims, int max_batch, uint64_t seed);
void mn_model_free(mn_model_t *m);

/* The workspace m->ctx must hold before the first forward: the largest need of the ops
 * m runs at up to max_batch rows (the table's *_workspace queries; 0 on the CPU today). */
size_t mn_model_workspace_nbytes(const mn_model_t *m);

/* Forward x[batch, dims[0]] to the logits (m->act[nlinear - 1]). */
void mn_model_forward(mn_model_t *m, const float *x, int batch);

/* Loss of the last forward against y: out *loss_sum, *correct; when grad_scale != 0, also
 * keeps dlogits * grad_scale for backward. */
void mn_model_loss(mn_model_t *m, const int32_t *y, int batch, float grad_scale, double *loss_sum,
                   int64_t *correct);

/* Backward of the last forward and loss (with grad_scale != 0) into m->grads (overwrites). */
void mn_model_backward(mn_model_t *m, const float *x, int batch);

#ifdef __cplusplus
}
#endif
#endif /* MN_MODEL_H */
