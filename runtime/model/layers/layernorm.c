/* layernorm.c: LayerNorm over the width (PyTorch's nn.LayerNorm(C), eps 1e-5):
 * "<name>.weight" [C] (starts at 1) and "<name>.bias" [C] (starts at 0), role norm. Keeps
 * each row's mean and 1/std for the backward (2 floats a row). */
#include "mn_layer.h"
#include "mn_log.h"

static mn_status_t build(mn_layer_t *l, mn_tensors_t *r) {
  if (l->nin != 1)
    return mn_error(MN_ERR_CONFIG, "model: layer %s (layernorm) takes one input", l->name);
  l->out_width = l->in_width[0];
  int64_t d[1] = {l->out_width};
  mn_status_t st = mn_layer_declare(l, r, "weight", 1, d, MN_ROLE_NORM);
  return st == MN_OK ? mn_layer_declare(l, r, "bias", 1, d, MN_ROLE_NORM) : st;
}

static void init(const mn_layer_t *l, const mn_tensors_t *r, uint64_t seed, float *host) {
  (void)seed;
  float *w = host + r->t[l->param[0]].offset, *b = host + r->t[l->param[1]].offset;
  for (int c = 0; c < l->out_width; c++) w[c] = 1.0f, b[c] = 0.0f;
}

static int64_t saved_floats(const mn_layer_t *l, int batch, int seq) {
  (void)l;
  return 2 * (int64_t)batch * seq;
}

/* mean in saved[0, rows), rstd in saved[rows, 2 rows) of this batch's rows */
static void forward(const mn_layer_t *l, const mn_pass_t *p) {
  int rows = p->batch * p->seq;
  p->k->layernorm_fwd(p->ctx, p->out, p->saved, p->saved + rows, p->in[0],
                      p->params + p->tensors->t[l->param[0]].offset,
                      p->params + p->tensors->t[l->param[1]].offset, rows, l->out_width);
}

static void backward(const mn_layer_t *l, const mn_pass_t *p) {
  int rows = p->batch * p->seq;
  /* its two tensors are its own: first written together, added to together */
  MN_ASSERT(p->din[0] && p->grad_add[0] == p->grad_add[1]);
  p->k->layernorm_bwd(p->ctx, p->din[0], p->grads + p->tensors->t[l->param[0]].offset,
                      p->grads + p->tensors->t[l->param[1]].offset, p->dout, p->in[0],
                      p->params + p->tensors->t[l->param[0]].offset, p->saved, p->saved + rows,
                      rows, l->out_width, p->din_add[0], p->grad_add[0]);
}

const mn_layer_kind_t mn_layer_layernorm = {.name = "layernorm",
                                            .build = build,
                                            .init = init,
                                            .saved_floats = saved_floats,
                                            .forward = forward,
                                            .backward = backward};
