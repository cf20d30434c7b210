/* mn_model.h: a network of layers over one flat parameter buffer: build, forward, loss,
 * backward, through a kernel table.
 *
 * A model is a list of layers (mn_layer.h), each reading one or two activations (or the
 * model's input) and writing one, so that a residual add is a layer like any other; the
 * last layer's output is the logits, and the loss is softmax cross-entropy over them
 * (per row: one label per sample, or per position of a sequence). A spec (mn_model_spec_t)
 * says what to build; mn_model_spec_config() makes it from train.conf's [model]
 * (type = mlp today). Every parameter is a named tensor of the registry (mn_tensors.h) in
 * one flat buffer, the gradients in a second with the same layout, laid out so that
 * backward fills the gradient buffer front to back.
 *
 * Every op runs in the kernel context given at init (its stream and workspace). All buffers
 * are in the kernel table's memory (device memory on a GPU). Initialisation depends only on
 * the seed: every rank gets the same weights without a broadcast. */
#ifndef MN_MODEL_H
#define MN_MODEL_H

#include <stdint.h>

#include "mn_config.h"
#include "mn_kernels.h"
#include "mn_layer.h"
#include "mn_status.h"
#include "mn_tensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_MODEL_MAX_LAYERS 256

/* What to build. Activation i is the output of the layer whose out is i; every layer's
 * out is a new activation (ids 0, 1, ... in layer order), and the last one is the
 * logits. */
typedef struct mn_model_spec {
  char type[16]; /* "mlp", "gpt" */
  int in_width;  /* features per input row (for an embedding: the vocabulary) */
  int seq;       /* rows per sample: 1, or the context length of a sequence model */
  int tokens;    /* 1: the input is int32 token ids [batch, seq] (an embedding reads them);
                    0: float rows [batch x seq, in_width] */
  int classes;   /* the logits that are predicted: the first `classes` columns of the last
                    activation (GPT-2's padded vocabulary is wider); 0: all of them */
  int nlayers;
  mn_layer_t layers[MN_MODEL_MAX_LAYERS]; /* kind, name, nin, in, arg, farg, init_stream */
} mn_model_spec_t;

/* The spec of train.conf's [model]: type mlp builds, for layers = d0,d1,...,dL, Linear and
 * ReLU layers named as PyTorch's nn.Sequential(Linear, ReLU, ..., Linear) names its
 * modules ("0", "1", "2", ...; tensors "0.weight", "0.bias", "2.weight", ...), He normal
 * weights from stream l for linear layer l, zero biases. MN_ERR_CONFIG naming the key when
 * it does not describe a model. */
mn_status_t mn_model_spec_config(const mn_config_t *cfg, mn_model_spec_t *spec);
/* The MLP of widths dims[0, ndims). */
mn_status_t mn_model_spec_mlp(const int *dims, int ndims, mn_model_spec_t *spec);

/* GPT-2's shape (train.conf's [model] type = gpt). */
typedef struct mn_gpt_shape {
  int vocab;   /* V: token ids lie in [0, V) */
  int context; /* T: the positions of a sequence (wpe's rows), the length trained on */
  int layers;  /* transformer blocks */
  int heads;   /* attention heads; width % heads == 0 */
  int width;   /* C: channels */
} mn_gpt_shape_t;

#define MN_GPT_VOCAB_ALIGN 64 /* the head's rows: V rounded up to this (50257 -> 50304) */

/* V rounded up to a multiple of MN_GPT_VOCAB_ALIGN: wte's rows and the logits' width. */
int mn_gpt_padded_vocab(int vocab);

/* GPT-2 (runtime/model/gpt.c): token and position embeddings, `layers` pre-norm blocks
 * (LayerNorm, causal multi-head self-attention, residual add, LayerNorm, MLP of 4 x width
 * with tanh-GELU, residual add), a final LayerNorm and an output head tied to the token
 * embedding; softmax cross-entropy over the first V of the padded logits. Tensors by
 * GPT-2's names (Hugging Face's GPT2Model, without a "transformer." prefix), every matrix
 * [out, in] as nn.Linear stores it (llm.c's layout; HF's Conv1D holds the transpose):
 *   wte.weight [Vp, C] (rows V.. stay 0), wpe.weight [T, C],
 *   h.<i>.ln_1.weight, h.<i>.ln_1.bias [C], h.<i>.attn.c_attn.weight [3C, C], .bias [3C],
 *   h.<i>.attn.c_proj.weight [C, C], .bias [C], h.<i>.ln_2.weight, .bias [C],
 *   h.<i>.mlp.c_fc.weight [4C, C], .bias [4C], h.<i>.mlp.c_proj.weight [C, 4C], .bias [C],
 *   ln_f.weight, ln_f.bias [C].
 * GPT-2's initialisation: weights and embeddings normal(0, 0.02), the residual projections
 * (attn.c_proj, mlp.c_proj) normal(0, 0.02 / sqrt(2 x layers)), biases 0, LayerNorm
 * weights 1. MN_ERR_CONFIG naming the [model] key that does not fit. */
mn_status_t mn_model_spec_gpt(const mn_gpt_shape_t *g, mn_model_spec_t *spec);

typedef struct mn_model_act mn_model_act_t; /* an activation and its gradient (model.c) */
typedef struct mn_model_bwd mn_model_bwd_t; /* how a layer's backward writes (model.c) */

typedef struct mn_model {
  const mn_kernels_t *k;
  const mn_kctx_t *ctx; /* the context of every op (the device's, not owned; or own_ctx) */
  mn_kctx_t own_ctx;    /* with ctx NULL at init: the default stream and a workspace of
                           mn_model_workspace_nbytes(), the model's own */
  mn_model_spec_t spec; /* as built: widths and tensor indices filled in */
  mn_tensors_t tensors; /* the registry, laid out */
  int max_batch;        /* samples per forward, at most */
  int width;            /* the logits' width */
  int classes;          /* the predicted classes: the first `classes` of the logits */
  int64_t nparams;      /* elements of each flat buffer (tensors.size: padding included) */
  int64_t values;       /* the model's parameters (its tensors' elements) */
  int shared;           /* 1: the registry and both buffers are another's (init_shared) */
  float *params;        /* [nparams] */
  float *grads;         /* [nparams]: the model's own, or the caller's (mn_model_init) */
  int own_grads;
  int nacts;
  mn_model_act_t *acts;
  float **saved;       /* [nlayers]: each layer's kept floats (NULL: none) */
  int64_t *ready;      /* [nlayers]: grads[0, ready[i]) are final after layer i's backward */
  mn_model_bwd_t *bwd; /* [nlayers] */
  /* Called by backward as soon as grads[0, done) are final (done growing to nparams): the
   * trainer starts allreducing them while backward goes on. May be NULL. */
  void (*on_grads)(void *arg, int64_t done);
  void *on_grads_arg;
} mn_model_t;

/* Build spec for batches of up to max_batch samples, with weights from seed. in: k, ctx
 * (kept by the model: it must outlive it; NULL: a context of the model's own on the
 * default stream, its workspace sized and allocated here, for tools and tests), spec,
 * max_batch, seed; grads: the gradient
 * buffer to use ([tensors.size] floats of k's memory, zeroed; the trainer's, which keeps its
 * control slots before it), or NULL for one of the model's own. Since its size is known only
 * once the spec is laid out, a caller with its own buffer asks mn_model_size() first.
 * out: m. */
mn_status_t mn_model_init(mn_model_t *m, const mn_kernels_t *k, const mn_kctx_t *ctx,
                          const mn_model_spec_t *spec, int max_batch, uint64_t seed, float *grads);
void mn_model_free(mn_model_t *m);

/* For a registry that holds more than one model's tensors, or tensors of a trainer's own
 * (the public API's, mn/net.h): declare spec's tensors into r (not yet laid out), the
 * layers' tensor indices into spec. MN_ERR_CONFIG when spec does not describe a model. */
mn_status_t mn_model_declare(mn_model_spec_t *spec, mn_tensors_t *r);
/* Then, once r's owner has laid it out and allocated the flat buffers params and grads
 * ([r->size] floats each, of k's memory): the model over them, spec as mn_model_declare
 * left it. The model owns neither the registry nor the buffers; it draws the values of its
 * own tensors only, from seed (the others' stay). Otherwise as mn_model_init. */
mn_status_t mn_model_init_shared(mn_model_t *m, const mn_kernels_t *k, const mn_kctx_t *ctx,
                                 const mn_model_spec_t *spec, const mn_tensors_t *r, float *params,
                                 float *grads, int max_batch, uint64_t seed);

/* The flat buffer size (elements, padding included) of spec's model and its parameter
 * count, without building it. out: *nparams, *values (either may be NULL). */
mn_status_t mn_model_size(const mn_model_spec_t *spec, int64_t *nparams, int64_t *values);

/* The FLOPs of training (forward and backward) per row of the input (per token of a
 * sequence model): 6 N for the N parameters' multiply-adds (2 forward, 4 backward), plus
 * 6 C T for each causal attention layer of width C over T positions (QK^T and AV, halved by
 * the mask): llm.c's and PaLM's count, the numerator of MFU (docs/benchmarks.md). */
double mn_model_flops_per_row(const mn_model_t *m);

/* The workspace m->ctx must hold before the first forward: the largest need of the ops
 * m runs at up to max_batch samples (the table's *_workspace queries). */
size_t mn_model_workspace_nbytes(const mn_model_t *m);

/* Forward x (the input: [batch x seq, in_width] floats, or int32 tokens for an embedding)
 * to the logits (mn_model_logits). */
void mn_model_forward(mn_model_t *m, const void *x, int batch);
/* The logits of the last forward: [batch x seq, width] (the first `classes` predicted). */
const float *mn_model_logits(const mn_model_t *m);

/* Loss of the last forward against y [batch x seq]: out *loss_sum, *correct (sums over the
 * rows); when grad_scale != 0, also keeps dlogits * grad_scale for backward. */
void mn_model_loss(mn_model_t *m, const int32_t *y, int batch, float grad_scale, double *loss_sum,
                   int64_t *correct);

/* Backward of the last forward and loss (with grad_scale != 0) into m->grads: overwriting
 * them (accumulate 0), or adding to them (accumulate 1: a later micro-batch of one
 * optimizer step). */
void mn_model_backward(mn_model_t *m, const void *x, int batch, int accumulate);

#ifdef __cplusplus
}
#endif
#endif /* MN_MODEL_H */
