/* relu.c: the ReLU layer, y = max(x, 0). No tensors; keeps nothing beyond its output (the
 * gradient is dy where y > 0). Its backward works in place: the model gives it the same
 * buffer for dy and dx when it is its input's only consumer (mn_layer_kind_t.grad_in_place),
 * so that the MLP's ReLU costs one pass over the gradient, as a fused one would. */
#include "mn_layer.h"
#include "mn_log.h"

static mn_status_t build(mn_layer_t *l, mn_tensors_t *r) {
  (void)r;
  if (l->nin != 1)
    return mn_error(MN_ERR_CONFIG, "model: layer %s (relu) takes one input", l->name);
  l->out_width = l->in_width[0];
  return MN_OK;
}

static void forward(const mn_layer_t *l, const mn_pass_t *p) {
  p->k->relu_fwd(p->ctx, p->out, p->in[0], (int64_t)p->batch * p->seq * l->out_width);
}

static void backward(const mn_layer_t *l, const mn_pass_t *p) {
  int64_t count = (int64_t)p->batch * p->seq * l->out_width;
  if (!p->din[0]) return;
  /* in place (din == dout), the model's arrangement for a single consumer; otherwise a copy
   * first: a ReLU whose input has another consumer (din_add) needs an add kernel, which no
   * model has needed yet */
  MN_ASSERT(!p->din_add[0]);
  if (p->din[0] != p->dout) p->k->copy(p->ctx, p->din[0], p->dout, (size_t)count * sizeof(float));
  p->k->relu_bwd(p->ctx, p->din[0], p->out, count);
}

const mn_layer_kind_t mn_layer_relu = {
    .name = "relu", .build = build, .forward = forward, .backward = backward, .grad_in_place = 1};
