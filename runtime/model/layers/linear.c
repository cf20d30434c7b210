/* linear.c: the linear layer, y = x W^T + b (PyTorch's nn.Linear): W "<name>.weight"
 * [out, in] (role weight), b "<name>.bias" [out] (role bias). Keeps nothing beyond its
 * input. arg[0]: out features; farg[0]: the initial weights' standard deviation, 0 for He
 * normal (sqrt(2 / in), the MLP's); biases start at 0. */
#include <math.h>
#include <string.h>

#include "mn_layer.h"
#include "mn_log.h"
#include "mn_rng.h"

static mn_status_t build(mn_layer_t *l, mn_tensors_t *r) {
  int64_t in = l->in_width[0], out = l->arg[0];
  if (l->nin != 1 || out < 1 || out > INT32_MAX)
    return mn_error(MN_ERR_CONFIG, "model: layer %s (linear): %lld output features", l->name,
                    (long long)out);
  l->out_width = (int)out;
  int64_t wd[2] = {out, in}, bd[1] = {out};
  mn_status_t st = mn_layer_declare(l, r, "weight", 2, wd, MN_ROLE_WEIGHT);
  return st == MN_OK ? mn_layer_declare(l, r, "bias", 1, bd, MN_ROLE_BIAS) : st;
}

/* Normal weights drawn in row-major order from the stream (seed, init_stream, 0). */
static void init(const mn_layer_t *l, const mn_tensors_t *r, uint64_t seed, float *host) {
  const mn_tensor_t *w = &r->t[l->param[0]];
  mn_rng_t rng;
  mn_rng_seed(&rng, seed, (uint64_t)l->init_stream, 0);
  double std = l->farg[0] > 0 ? l->farg[0] : sqrt(2.0 / (double)l->in_width[0]);
  float *p = host + w->offset;
  for (int64_t i = 0; i < w->count; i++) p[i] = (float)(std * mn_rng_normal(&rng));
  memset(host + r->t[l->param[1]].offset, 0, sizeof(float) * (size_t)l->out_width);
}

static void forward(const mn_layer_t *l, const mn_pass_t *p) {
  int rows = p->batch * p->seq, in = l->in_width[0], out = l->out_width;
  const float *w = p->params + p->tensors->t[l->param[0]].offset;
  const float *b = p->params + p->tensors->t[l->param[1]].offset;
  p->k->gemm(p->ctx, 0, 1, rows, out, in, 1.0f, p->in[0], in, w, in, 0.0f, p->out, out);
  p->k->bias_act_fwd(p->ctx, p->out, b, rows, out, 0);
}

static void backward(const mn_layer_t *l, const mn_pass_t *p) {
  int rows = p->batch * p->seq, in = l->in_width[0], out = l->out_width;
  const float *w = p->params + p->tensors->t[l->param[0]].offset;
  float *gw = p->grads + p->tensors->t[l->param[0]].offset;
  float *gb = p->grads + p->tensors->t[l->param[1]].offset;
  /* dW[out, in] (+)= dY^T[out, rows] X[rows, in]; db (+)= column sums of dY */
  p->k->gemm(p->ctx, 1, 0, out, in, rows, 1.0f, p->dout, out, p->in[0], in,
             p->grad_add[0] ? 1.0f : 0.0f, gw, in);
  p->k->bias_grad(p->ctx, p->dout, rows, out, gb, p->grad_add[1]);
  /* dX[rows, in] (+)= dY[rows, out] W[out, in] */
  if (p->din[0])
    p->k->gemm(p->ctx, 0, 0, rows, in, out, 1.0f, p->dout, out, w, in, p->din_add[0] ? 1.0f : 0.0f,
               p->din[0], in);
}

const mn_layer_kind_t mn_layer_linear = {
    .name = "linear", .build = build, .init = init, .forward = forward, .backward = backward};
