/* embedding.c: GPT-2's token plus position embedding (llm.c's encoder):
 * out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]. It reads the model's input, int32 token ids
 * [batch, seq], and declares GPT-2's names whatever its own: "wte.weight" [Vp, C] and
 * "wpe.weight" [T, C] (role embedding). wte has the padded vocabulary's rows, so that the
 * output head tied to it (head.c) is a GEMM of aligned width; the rows of ids >= V start
 * at 0 and get no gradient from here (no token reaches them) nor from the head (their
 * logits are never predicted), so they stay 0.
 * arg[0]: C; arg[1]: Vp; arg[2]: T (wpe's rows, the longest sequence); farg[0]: the initial
 * standard deviation (GPT-2: 0.02), wte from the stream (seed, init_stream, 0), wpe from
 * (seed, init_stream, 1). The model's input width is V. */
#include <string.h>

#include "mn_layer.h"
#include "mn_log.h"
#include "mn_rng.h"

/* Declare GPT-2's name as it is, not prefixed by the layer's name as mn_layer_declare would:
 * the head ties to "wte.weight" by that name whatever this layer is called. */
static mn_status_t declare(mn_layer_t *l, mn_tensors_t *r, const char *name, int64_t rows,
                           int64_t C) {
  int64_t dims[2] = {rows, C};
  int i = mn_tensors_declare(r, name, 2, dims, MN_ROLE_EMBEDDING);
  if (i < 0) return (mn_status_t)i;
  l->param[l->nparam++] = i;
  return MN_OK;
}

static mn_status_t build(mn_layer_t *l, mn_tensors_t *r) {
  int64_t C = l->arg[0], Vp = l->arg[1], T = l->arg[2], V = l->in_width[0];
  if (l->nin != 1 || l->in[0] != -1 || C < 1 || V < 1 || Vp < V || T < 1 || C > INT32_MAX ||
      Vp > INT32_MAX)
    return mn_error(MN_ERR_CONFIG, "model: layer %s (embedding): vocabulary %lld (%lld rows), "
                    "width %lld, %lld positions, reading the model's tokens",
                    l->name, (long long)V, (long long)Vp, (long long)C, (long long)T);
  l->out_width = (int)C;
  mn_status_t st = declare(l, r, "wte.weight", Vp, C);
  return st == MN_OK ? declare(l, r, "wpe.weight", T, C) : st;
}

static void normal(float *p, int64_t n, double std, uint64_t seed, int stream, uint64_t sub) {
  mn_rng_t rng;
  mn_rng_seed(&rng, seed, (uint64_t)stream, sub);
  for (int64_t i = 0; i < n; i++) p[i] = (float)(std * mn_rng_normal(&rng));
}

static void init(const mn_layer_t *l, const mn_tensors_t *r, uint64_t seed, float *host) {
  const mn_tensor_t *te = &r->t[l->param[0]], *pe = &r->t[l->param[1]];
  int64_t V = l->in_width[0], C = l->arg[0];
  memset(host + te->offset, 0, sizeof(float) * (size_t)te->count);
  normal(host + te->offset, V * C, l->farg[0], seed, l->init_stream, 0);
  normal(host + pe->offset, pe->count, l->farg[0], seed, l->init_stream, 1);
}

static size_t workspace(const mn_layer_t *l, const mn_kernels_t *k, int batch, int seq) {
  (void)l;
  return k->encoder_bwd_workspace(batch, seq);
}

static void forward(const mn_layer_t *l, const mn_pass_t *p) {
  p->k->encoder_fwd(p->ctx, p->out, (const int32_t *)p->in[0],
                    p->params + p->tensors->t[l->param[0]].offset,
                    p->params + p->tensors->t[l->param[1]].offset, p->batch, p->seq,
                    l->out_width);
}

static void backward(const mn_layer_t *l, const mn_pass_t *p) {
  p->k->encoder_bwd(p->ctx, p->grads + p->tensors->t[l->param[0]].offset,
                    p->grads + p->tensors->t[l->param[1]].offset, p->dout,
                    (const int32_t *)p->in[0], p->batch, p->seq, l->out_width, (int)l->arg[1],
                    (int)l->arg[2], p->grad_add[0], p->grad_add[1]);
}

const mn_layer_kind_t mn_layer_embedding = {.name = "embedding",
                                            .build = build,
                                            .init = init,
                                            .workspace = workspace,
                                            .forward = forward,
                                            .backward = backward};
