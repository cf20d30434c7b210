/* model.c: the MLP of mn_model.h: parameter layout and initialisation, forward, loss and
 * backward, all compute through the kernel table m->k in the context m->ctx.
 *
 * Layout: one flat params buffer and one flat grads buffer, last layer first
 * (W_{L-1}, b_{L-1}, ..., W_0, b_0), W_l [out, in] row-major. Initialisation is He normal
 * (std sqrt(2 / in)) from the stream mn_rng_seed(seed, l, 0), drawn in row-major order, and
 * zero biases: it depends on nothing but the seed and the dims.
 *
 * Scratch: act[l] holds layer l's output (post-ReLU except for the logits). dact[0] and
 * dact[1] are a ping-pong pair for the backward pass; mn_model_loss leaves dlogits in
 * dact[0], and backward consumes it (a second backward needs a second loss). The gradient
 * with respect to the network input is never computed. No allocation after init; the
 * kernels' scratch is the context's workspace, which the caller sizes by
 * mn_model_workspace_nbytes().
 *
 * Memory: every buffer comes from the kernel table (device memory on a GPU); the weights
 * are drawn on the host and uploaded, so that they are the same bits on every back end. */
#include "mn_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mn_log.h"
#include "mn_rng.h"

static float *alloc_floats(const mn_kernels_t *k, int64_t count) {
  return k->alloc((size_t)(count > 0 ? count : 1) * sizeof(float)); /* zeroed */
}

static mn_status_t check_dims(const int *dims, int ndims, int max_batch) {
  if (ndims < 2 || ndims - 1 > MN_MODEL_MAX_LINEAR)
    return mn_error(MN_ERR_CONFIG, "model: %d layer widths given, need 2 to %d", ndims,
                    MN_MODEL_MAX_LINEAR + 1);
  for (int i = 0; i < ndims; i++)
    if (dims[i] < 1)
      return mn_error(MN_ERR_CONFIG, "model: layer width %d is %d, must be >= 1", i, dims[i]);
  if (max_batch < 1)
    return mn_error(MN_ERR_CONFIG, "model: batch size %d, must be >= 1", max_batch);
  return MN_OK;
}

/* Offsets of every W and b, last layer first; returns the parameter count. */
static int64_t layout(mn_model_t *m) {
  int64_t off = 0;
  for (int l = m->nlinear - 1; l >= 0; l--) {
    m->w_off[l] = off;
    off += (int64_t)m->dims[l + 1] * m->dims[l];
    m->b_off[l] = off;
    off += m->dims[l + 1];
  }
  return off;
}

/* He normal weights and zero biases, drawn into host[nparams]. */
static void init_params(const mn_model_t *m, uint64_t seed, float *host) {
  memset(host, 0, (size_t)m->nparams * sizeof *host);
  for (int l = 0; l < m->nlinear; l++) {
    mn_rng_t rng;
    mn_rng_seed(&rng, seed, (uint64_t)l, 0);
    int64_t count = (int64_t)m->dims[l + 1] * m->dims[l];
    double std = sqrt(2.0 / m->dims[l]);
    float *w = host + m->w_off[l];
    for (int64_t i = 0; i < count; i++) w[i] = (float)(std * mn_rng_normal(&rng));
  }
}

void mn_model_free(mn_model_t *m) {
  const mn_kernels_t *k = m->k;
  if (k) {
    for (int l = 0; l < MN_MODEL_MAX_LINEAR; l++) k->release(m->act[l]);
    k->release(m->dact[0]);
    k->release(m->dact[1]);
    k->release(m->gradbuf);
    k->release(m->params);
  }
  memset(m, 0, sizeof *m);
}

static mn_status_t alloc_buffers(mn_model_t *t) {
  int maxw = 1;
  t->params = alloc_floats(t->k, t->nparams);
  t->gradbuf = alloc_floats(t->k, MN_MODEL_GRAD_EXTRA + t->nparams);
  if (!t->params || !t->gradbuf) return MN_ERR_NOMEM;
  t->grads = t->gradbuf + MN_MODEL_GRAD_EXTRA;
  for (int l = 0; l < t->nlinear; l++) {
    int out = t->dims[l + 1];
    if (out > maxw) maxw = out;
    t->act[l] = alloc_floats(t->k, (int64_t)t->max_batch * out);
    if (!t->act[l]) return MN_ERR_NOMEM;
  }
  for (int i = 0; i < 2; i++) {
    t->dact[i] = alloc_floats(t->k, (int64_t)t->max_batch * maxw);
    if (!t->dact[i]) return MN_ERR_NOMEM;
  }
  return MN_OK;
}

mn_status_t mn_model_init(mn_model_t *m, const mn_kernels_t *k, const mn_kctx_t *ctx,
                          const int *dims, int ndims, int max_batch, uint64_t seed) {
  mn_model_t t;
  mn_status_t st = check_dims(dims, ndims, max_batch);
  if (st != MN_OK) return st;
  if (!k || !ctx) return mn_error(MN_ERR_INTERNAL, "model: no kernel table or context");
  memset(&t, 0, sizeof t);
  t.k = k;
  t.ctx = ctx;
  t.nlinear = ndims - 1;
  t.max_batch = max_batch;
  memcpy(t.dims, dims, (size_t)ndims * sizeof *dims);
  t.nparams = layout(&t);
  if (alloc_buffers(&t) != MN_OK) goto fail_alloc;
  float *host = malloc((size_t)t.nparams * sizeof *host + 1);
  if (!host) goto fail_alloc;
  init_params(&t, seed, host);
  k->upload(ctx, t.params, host, (size_t)t.nparams * sizeof *host);
  free(host);
  *m = t;
  return MN_OK;

fail_alloc:
  st = mn_error(MN_ERR_NOMEM,
                "model: cannot allocate %lld parameters and activations for "
                "batch %d",
                (long long)t.nparams, max_batch);
  mn_model_free(&t);
  return st;
}

size_t mn_model_workspace_nbytes(const mn_model_t *m) {
  return m->k->softmax_xent_workspace(m->max_batch, m->dims[m->nlinear]);
}

/* ---- forward, loss, backward -------------------------------------------------------- */

void mn_model_forward(mn_model_t *m, const float *x, int batch) {
  MN_ASSERT(batch >= 1 && batch <= m->max_batch);
  const mn_kernels_t *k = m->k;
  const mn_kctx_t *ctx = m->ctx;
  const float *in = x;
  for (int l = 0; l < m->nlinear; l++) {
    int nin = m->dims[l], nout = m->dims[l + 1];
    const float *w = m->params + m->w_off[l];
    /* act[l][batch, out] = in[batch, in] W^T, with W stored [out, in] */
    k->gemm(ctx, 0, 1, batch, nout, nin, 1.0f, in, nin, w, nin, 0.0f, m->act[l], nout);
    k->bias_act_fwd(ctx, m->act[l], m->params + m->b_off[l], batch, nout, l < m->nlinear - 1);
    in = m->act[l];
  }
}

void mn_model_loss(mn_model_t *m, const int32_t *y, int batch, float grad_scale, double *loss_sum,
                   int64_t *correct) {
  MN_ASSERT(batch >= 1 && batch <= m->max_batch);
  float *dlogits = grad_scale != 0.0f ? m->dact[0] : NULL;
  m->k->softmax_xent(m->ctx, m->act[m->nlinear - 1], y, batch, m->dims[m->nlinear], grad_scale,
                     dlogits, loss_sum, correct);
}

void mn_model_backward(mn_model_t *m, const float *x, int batch) {
  MN_ASSERT(batch >= 1 && batch <= m->max_batch);
  const mn_kernels_t *k = m->k;
  const mn_kctx_t *ctx = m->ctx;
  float *dy = m->dact[0]; /* dlogits from mn_model_loss */
  float *dx = m->dact[1];
  for (int l = m->nlinear - 1; l >= 0; l--) {
    int nin = m->dims[l], nout = m->dims[l + 1];
    const float *in = l > 0 ? m->act[l - 1] : x;
    /* dW[out, in] = dY^T[out, batch] X[batch, in]; db = column sums of dY */
    k->gemm(ctx, 1, 0, nout, nin, batch, 1.0f, dy, nout, in, nin, 0.0f, m->grads + m->w_off[l],
            nin);
    k->bias_grad(ctx, dy, batch, nout, m->grads + m->b_off[l], 0);
    if (m->on_grads) m->on_grads(m->on_grads_arg, m->b_off[l] + nout); /* all before it too */
    if (l == 0) break;
    /* dX[batch, in] = dY[batch, out] W[out, in], masked by ReLU of the previous layer */
    k->gemm(ctx, 0, 0, batch, nin, nout, 1.0f, dy, nout, m->params + m->w_off[l], nin, 0.0f, dx,
            nin);
    k->relu_bwd(ctx, dx, m->act[l - 1], (int64_t)batch * nin);
    float *tmp = dy;
    dy = dx;
    dx = tmp;
  }
}
