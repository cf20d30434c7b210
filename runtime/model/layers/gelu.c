/* gelu.c: GELU with the tanh approximation (GPT-2's; PyTorch's approximate='tanh'). No
 * tensors; keeps nothing beyond its input. Its backward may work in place (grad_in_place:
 * the model hands it din == dout when it is its input's only consumer). */
#include "mn_layer.h"
#include "mn_log.h"

static mn_status_t build(mn_layer_t *l, mn_tensors_t *r) {
  (void)r;
  if (l->nin != 1)
    return mn_error(MN_ERR_CONFIG, "model: layer %s (gelu) takes one input", l->name);
  l->out_width = l->in_width[0];
  return MN_OK;
}

static void forward(const mn_layer_t *l, const mn_pass_t *p) {
  p->k->gelu_fwd(p->ctx, p->out, p->in[0], (int64_t)p->batch * p->seq * l->out_width);
}

static void backward(const mn_layer_t *l, const mn_pass_t *p) {
  if (!p->din[0]) return;
  p->k->gelu_bwd(p->ctx, p->din[0], p->in[0], p->dout, (int64_t)p->batch * p->seq * l->out_width,
                 p->din_add[0]);
}

const mn_layer_kind_t mn_layer_gelu = {
    .name = "gelu", .build = build, .forward = forward, .backward = backward, .grad_in_place = 1};
