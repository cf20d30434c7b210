/* head.c: an output head without bias, y = x W^T, whose W is tied to a tensor declared
 * before it by another layer (GPT-2's lm_head: the token embedding wte). It declares
 * "<name>.weight" [arg[0], in] with role embedding, the name, shape and role of that
 * tensor, which the registry ties (mn_tensors.h): its name is the prefix ("wte"). No
 * initialisation of its own (the first user's stands); both users add into one gradient.
 * (Built alone, as the layer test does, its weight is a tensor of its own, starting at 0.) */
#include "mn_layer.h"
#include "mn_log.h"

static mn_status_t build(mn_layer_t *l, mn_tensors_t *r) {
  int64_t in = l->in_width[0], out = l->arg[0];
  if (l->nin != 1 || out < 1 || out > INT32_MAX)
    return mn_error(MN_ERR_CONFIG, "model: layer %s (head): %lld outputs", l->name,
                    (long long)out);
  l->out_width = (int)out;
  int64_t wd[2] = {out, in};
  return mn_layer_declare(l, r, "weight", 2, wd, MN_ROLE_EMBEDDING);
}

static void forward(const mn_layer_t *l, const mn_pass_t *p) {
  int rows = p->batch * p->seq, in = l->in_width[0], out = l->out_width;
  const float *w = p->params + p->tensors->t[l->param[0]].offset;
  p->k->gemm(p->ctx, 0, 1, rows, out, in, 1.0f, p->in[0], in, w, in, 0.0f, p->out, out);
}

static void backward(const mn_layer_t *l, const mn_pass_t *p) {
  int rows = p->batch * p->seq, in = l->in_width[0], out = l->out_width;
  const float *w = p->params + p->tensors->t[l->param[0]].offset;
  float *gw = p->grads + p->tensors->t[l->param[0]].offset;
  /* dW[out, in] (+)= dY^T X; dX[rows, in] (+)= dY W */
  p->k->gemm(p->ctx, 1, 0, out, in, rows, 1.0f, p->dout, out, p->in[0], in,
             p->grad_add[0] ? 1.0f : 0.0f, gw, in);
  if (p->din[0])
    p->k->gemm(p->ctx, 0, 0, rows, in, out, 1.0f, p->dout, out, w, in, p->din_add[0] ? 1.0f : 0.0f,
               p->din[0], in);
}

const mn_layer_kind_t mn_layer_head = {
    .name = "head", .build = build, .forward = forward, .backward = backward};
