/* mlp.c: the specs of train.conf's models (mn_model.h): the MLP, Linear and ReLU layers
 * named as PyTorch's nn.Sequential names them, and the dispatch on model.type. */
#include <stdio.h>
#include <string.h>

#include "mn_log.h"
#include "mn_model.h"

static void layer(mn_model_spec_t *s, const mn_layer_kind_t *kind, int in) {
  mn_layer_t *l = &s->layers[s->nlayers];
  memset(l, 0, sizeof *l);
  l->kind = kind;
  snprintf(l->name, sizeof l->name, "%d", s->nlayers);
  l->nin = 1;
  l->in[0] = in;
  s->nlayers++;
}

mn_status_t mn_model_spec_mlp(const int *dims, int ndims, mn_model_spec_t *spec) {
  if (ndims < 2 || 2 * (ndims - 1) - 1 > MN_MODEL_MAX_LAYERS)
    return mn_error(MN_ERR_CONFIG, "model: %d layer widths given, need at least 2", ndims);
  for (int i = 0; i < ndims; i++)
    if (dims[i] < 1)
      return mn_error(MN_ERR_CONFIG, "model: layer width %d is %d, must be >= 1", i, dims[i]);
  memset(spec, 0, sizeof *spec);
  snprintf(spec->type, sizeof spec->type, "mlp");
  spec->in_width = dims[0];
  spec->seq = 1;
  for (int l = 0; l < ndims - 1; l++) {
    if (l > 0) layer(spec, &mn_layer_relu, spec->nlayers - 1);
    layer(spec, &mn_layer_linear, spec->nlayers - 1);
    mn_layer_t *lin = &spec->layers[spec->nlayers - 1];
    lin->arg[0] = dims[l + 1];
    lin->init_stream = l; /* He normal from stream l, as mn has drawn since format 1 */
  }
  return MN_OK;
}

mn_status_t mn_model_spec_config(const mn_config_t *cfg, mn_model_spec_t *spec) {
  if (cfg->model.type == MN_MODEL_GPT) {
    mn_gpt_shape_t g = {cfg->model.vocab, cfg->model.context, cfg->model.layers[0],
                        cfg->model.heads, cfg->model.width};
    return mn_model_spec_gpt(&g, spec);
  }
  mn_status_t st = mn_model_spec_mlp(cfg->model.layers, cfg->model.nlayers, spec);
  if (st != MN_OK) return mn_error(st, "[model] layers: %s", mn_error_message());
  return MN_OK;
}
