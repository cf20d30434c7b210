/* gpt.c: the spec of GPT-2 (mn_model.h, mn_model_spec_gpt): the layers, their wiring
 * (activation ids), GPT-2's names and initialisation. Each block is
 *   x -> ln_1 -> attn.c_attn (C -> 3C) -> attn -> attn.c_proj -> (+ x) -> x'
 *   x' -> ln_2 -> mlp.c_fc (C -> 4C) -> gelu -> mlp.c_proj (4C -> C) -> (+ x') -> next x
 * after the embedding, and ln_f and the tied head close the model. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mn_log.h"
#include "mn_model.h"

#define GPT_INIT_STD 0.02

int mn_gpt_padded_vocab(int vocab) {
  return (int)(((int64_t)vocab + MN_GPT_VOCAB_ALIGN - 1) / MN_GPT_VOCAB_ALIGN * MN_GPT_VOCAB_ALIGN);
}

/* Append a layer reading in0 (and in1 when >= -1 and two inputs); returns its activation. */
static int add_layer(mn_model_spec_t *s, const mn_layer_kind_t *kind, const char *name, int nin,
                     int in0, int in1) {
  mn_layer_t *l = &s->layers[s->nlayers];
  memset(l, 0, sizeof *l);
  l->kind = kind;
  snprintf(l->name, sizeof l->name, "%s", name);
  l->nin = nin;
  l->in[0] = in0;
  l->in[1] = in1;
  l->init_stream = s->nlayers;
  return s->nlayers++;
}

static int linear(mn_model_spec_t *s, const char *name, int in, int64_t out, double std) {
  int a = add_layer(s, &mn_layer_linear, name, 1, in, 0);
  s->layers[a].arg[0] = out;
  s->layers[a].farg[0] = std;
  return a;
}

mn_status_t mn_model_spec_gpt(const mn_gpt_shape_t *g, mn_model_spec_t *spec) {
  const int per_block = 10, fixed = 3;
  if (g->vocab < 1 || g->vocab > INT32_MAX - MN_GPT_VOCAB_ALIGN)
    return mn_error(MN_ERR_CONFIG, "[model] vocab = %d: must be >= 1", g->vocab);
  if (g->context < 1)
    return mn_error(MN_ERR_CONFIG, "[model] context = %d: must be >= 1", g->context);
  if (g->layers < 1 || fixed + per_block * g->layers > MN_MODEL_MAX_LAYERS)
    return mn_error(MN_ERR_CONFIG, "[model] layers = %d: a gpt has 1 to %d blocks", g->layers,
                    (MN_MODEL_MAX_LAYERS - fixed) / per_block);
  if (g->width < 1 || g->heads < 1 || g->width % g->heads != 0)
    return mn_error(MN_ERR_CONFIG, "[model] width = %d is not a multiple of heads = %d", g->width,
                    g->heads);
  memset(spec, 0, sizeof *spec);
  snprintf(spec->type, sizeof spec->type, "gpt");
  spec->in_width = g->vocab;
  spec->seq = g->context;
  spec->tokens = 1;
  spec->classes = g->vocab;
  int64_t C = g->width, Vp = mn_gpt_padded_vocab(g->vocab);
  double proj_std = GPT_INIT_STD / sqrt(2.0 * g->layers);
  char n[MN_LAYER_NAME_MAX];
  int x = add_layer(spec, &mn_layer_embedding, "", 1, -1, 0);
  spec->layers[x].arg[0] = C;
  spec->layers[x].arg[1] = Vp;
  spec->layers[x].arg[2] = g->context;
  spec->layers[x].farg[0] = GPT_INIT_STD;
  for (int b = 0; b < g->layers; b++) {
#define NAME(suffix) (snprintf(n, sizeof n, "h.%d." suffix, b), n)
    int a = add_layer(spec, &mn_layer_layernorm, NAME("ln_1"), 1, x, 0);
    a = linear(spec, NAME("attn.c_attn"), a, 3 * C, GPT_INIT_STD);
    a = add_layer(spec, &mn_layer_attention, NAME("attn"), 1, a, 0);
    spec->layers[a].arg[0] = g->heads;
    a = linear(spec, NAME("attn.c_proj"), a, C, proj_std);
    x = add_layer(spec, &mn_layer_add, NAME("res_1"), 2, x, a);
    a = add_layer(spec, &mn_layer_layernorm, NAME("ln_2"), 1, x, 0);
    a = linear(spec, NAME("mlp.c_fc"), a, 4 * C, GPT_INIT_STD);
    a = add_layer(spec, &mn_layer_gelu, NAME("mlp.gelu"), 1, a, 0);
    a = linear(spec, NAME("mlp.c_proj"), a, C, proj_std);
    x = add_layer(spec, &mn_layer_add, NAME("res_2"), 2, x, a);
#undef NAME
  }
  x = add_layer(spec, &mn_layer_layernorm, "ln_f", 1, x, 0);
  x = add_layer(spec, &mn_layer_head, "wte", 1, x, 0);
  spec->layers[x].arg[0] = Vp;
  return MN_OK;
}
