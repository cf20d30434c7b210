/* add.c: the residual connection, y = a + b over two inputs of one width. No tensors. Its
 * backward hands dy to both inputs (a copy, or an add where another consumer wrote first). */
#include "mn_layer.h"
#include "mn_log.h"

static mn_status_t build(mn_layer_t *l, mn_tensors_t *r) {
  (void)r;
  if (l->nin != 2 || l->in_width[0] != l->in_width[1])
    return mn_error(MN_ERR_CONFIG, "model: layer %s (add) takes two inputs of one width",
                    l->name);
  l->out_width = l->in_width[0];
  return MN_OK;
}

static void forward(const mn_layer_t *l, const mn_pass_t *p) {
  p->k->add_fwd(p->ctx, p->out, p->in[0], p->in[1], (int64_t)p->batch * p->seq * l->out_width);
}

static void backward(const mn_layer_t *l, const mn_pass_t *p) {
  int64_t count = (int64_t)p->batch * p->seq * l->out_width;
  for (int j = 0; j < 2; j++) {
    if (!p->din[j]) continue;
    if (p->din_add[j])
      p->k->add_fwd(p->ctx, p->din[j], p->din[j], p->dout, count);
    else
      p->k->copy(p->ctx, p->din[j], p->dout, (size_t)count * sizeof(float));
  }
}

const mn_layer_kind_t mn_layer_add = {
    .name = "add", .build = build, .forward = forward, .backward = backward};
