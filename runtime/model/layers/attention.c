/* attention.c: causal multi-head self-attention (llm.c's attention): its input is the
 * [rows, 3C] output of the qkv projection (a linear layer, "attn.c_attn"), each position's
 * query, key and value side by side; its output [rows, C] goes to the output projection.
 * No tensors. arg[0]: heads (C % heads == 0). Keeps the attention probabilities
 * [batch, heads, seq, seq] for the backward. */
#include "mn_layer.h"
#include "mn_log.h"

static mn_status_t build(mn_layer_t *l, mn_tensors_t *r) {
  (void)r;
  int64_t heads = l->arg[0], in = l->in_width[0];
  if (l->nin != 1 || in % 3 != 0 || heads < 1 || (in / 3) % heads != 0)
    return mn_error(MN_ERR_CONFIG,
                    "model: layer %s (attention): input width %lld is not 3 x a multiple of "
                    "%lld heads", l->name, (long long)in, (long long)heads);
  l->out_width = (int)(in / 3);
  return MN_OK;
}

static int64_t saved_floats(const mn_layer_t *l, int batch, int seq) {
  return (int64_t)batch * l->arg[0] * seq * seq;
}

static size_t workspace(const mn_layer_t *l, const mn_kernels_t *k, int batch, int seq) {
  return k->attention_workspace(batch, seq, l->out_width, (int)l->arg[0]);
}

static void forward(const mn_layer_t *l, const mn_pass_t *p) {
  p->k->attention_fwd(p->ctx, p->out, p->saved, p->in[0], p->batch, p->seq, l->out_width,
                      (int)l->arg[0]);
}

/* No tensors: without din (attention reading the model's input) there is nothing to write. */
static void backward(const mn_layer_t *l, const mn_pass_t *p) {
  if (!p->din[0]) return;
  p->k->attention_bwd(p->ctx, p->din[0], p->dout, p->in[0], p->saved, p->batch, p->seq,
                      l->out_width, (int)l->arg[0], p->din_add[0]);
}

const mn_layer_kind_t mn_layer_attention = {.name = "attention",
                                            .build = build,
                                            .saved_floats = saved_floats,
                                            .workspace = workspace,
                                            .forward = forward,
                                            .backward = backward};
