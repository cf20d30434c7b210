/* mn_layer.h: the interface of a layer kind, and what one forward or backward pass of a
 * layer sees.
 *
 * A layer kind is one file in runtime/model/layers/ (linear.c, relu.c, ...) holding a const
 * mn_layer_kind_t: its parameter declarations (into the registry, mn_tensors.h), their
 * initialisation, the activations it keeps for backward, and its forward and backward
 * passes written only in kernel-table ops. docs/architecture.md has the recipe for a new
 * kind. A layer knows nothing of its neighbours: the model (mn_model.h) wires activations
 * between layers and tells each pass where to read, where to write, and whether to add
 * into a gradient or overwrite it.
 *
 * Shapes. An activation is [rows, width] row-major, rows = batch x seq: seq is 1 for a
 * model of samples (the MLP) and the context length for a sequence model, so that a
 * position-wise layer (linear, ReLU, LayerNorm) needs no case for it and a layer that mixes
 * positions (attention) reads batch and seq. */
#ifndef MN_LAYER_H
#define MN_LAYER_H

#include <stdint.h>

#include "mn_kernels.h"
#include "mn_status.h"
#include "mn_tensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_LAYER_MAX_IN 2     /* inputs of a layer (a residual add has two) */
#define MN_LAYER_MAX_PARAMS 4 /* tensors a layer declares */
#define MN_LAYER_NAME_MAX 48

typedef struct mn_layer mn_layer_t;

/* One pass of one layer: set by the model for each call. Pointers are in the kernel
 * table's memory. */
typedef struct mn_pass {
  const mn_kernels_t *k;
  const mn_kctx_t *ctx;
  int batch, seq;                   /* rows = batch * seq */
  const float *in[MN_LAYER_MAX_IN]; /* [rows, in_width[i]]; the model's input as given (an
                                       embedding reads its int32 tokens through it) */
  float *out;                       /* [rows, out_width] */
  float *saved;                     /* the layer's own [saved_floats] (NULL: none) */
  const float *params;              /* the flat parameter buffer: tensor j of the layer is at
                                       params + tensors->t[layer->param[j]].offset */
  /* backward only */
  const float *dout;                 /* the gradient of out [rows, out_width] */
  float *din[MN_LAYER_MAX_IN];       /* the gradient of in[i]: NULL when nobody needs it (the
                                        model's input) */
  int din_add[MN_LAYER_MAX_IN];      /* 1: add into din[i] (another consumer wrote it first);
                                        0: overwrite */
  float *grads;                      /* the flat gradient buffer, laid out as params */
  int grad_add[MN_LAYER_MAX_PARAMS]; /* 1: add into parameter j's gradient (a tied tensor's
                                        second user, or a later micro-batch); 0: overwrite */
  const mn_tensors_t *tensors;
} mn_pass_t;

typedef struct mn_layer_kind {
  const char *name; /* "linear", "relu" */
  /* Check the layer's arguments against its input widths, set out_width and declare its
   * tensors into r (recording their indices in l->param). MN_ERR_CONFIG naming the layer
   * for arguments that do not fit. */
  mn_status_t (*build)(mn_layer_t *l, mn_tensors_t *r);
  /* Initial values of the layer's tensors into host (a flat buffer laid out by r), from
   * the random stream(s) of (seed, l->init_stream): a function of the seed alone, so that
   * every rank and every back end starts from the same bits. May be NULL (no tensors). */
  void (*init)(const mn_layer_t *l, const mn_tensors_t *r, uint64_t seed, float *host);
  /* Floats the layer keeps between its forward and its backward, beyond its input and
   * output (which the model keeps): LayerNorm's statistics, attention's probabilities.
   * May be NULL (none). */
  int64_t (*saved_floats)(const mn_layer_t *l, int batch, int seq);
  /* Workspace bytes its ops need at up to batch x seq rows. May be NULL (none). */
  size_t (*workspace)(const mn_layer_t *l, const mn_kernels_t *k, int batch, int seq);
  void (*forward)(const mn_layer_t *l, const mn_pass_t *p);
  void (*backward)(const mn_layer_t *l, const mn_pass_t *p);
  /* 1: an element-wise layer whose backward may get din[0] == dout (the model arranges it
   * when the layer is its input's only consumer, and saves a buffer and a pass). */
  int grad_in_place;
} mn_layer_kind_t;

/* A layer of a model: its kind, its arguments, and where it sits. */
struct mn_layer {
  const mn_layer_kind_t *kind;
  char name[MN_LAYER_NAME_MAX]; /* the prefix of its tensors' names ("0" -> "0.weight") */
  int nin;
  int in[MN_LAYER_MAX_IN]; /* activation ids; -1: the model's input */
  int out;                 /* activation id */
  int in_width[MN_LAYER_MAX_IN], out_width;
  int64_t arg[4]; /* the kind's arguments (linear: out features, init) */
  double farg[2]; /* and real ones (linear: the init's standard deviation, 0: He) */
  int nparam;
  int param[MN_LAYER_MAX_PARAMS]; /* registry indices of its tensors */
  int init_stream;                /* its random stream for init */
};

/* The kinds (runtime/model/layers/). */
extern const mn_layer_kind_t mn_layer_linear; /* y = x W^T + b; W [out, in], b [out] */
extern const mn_layer_kind_t mn_layer_relu;   /* y = max(x, 0) */
/* GPT-2's (their files say their tensors and arguments) */
extern const mn_layer_kind_t mn_layer_embedding; /* token ids -> wte[token] + wpe[position] */
extern const mn_layer_kind_t mn_layer_layernorm; /* LayerNorm over the width, eps 1e-5 */
extern const mn_layer_kind_t mn_layer_attention; /* causal multi-head self-attention of qkv */
extern const mn_layer_kind_t mn_layer_gelu;      /* GELU, tanh approximation */
extern const mn_layer_kind_t mn_layer_add;       /* y = a + b: the residual connection */
extern const mn_layer_kind_t mn_layer_head;      /* y = x W^T, W a tensor of another layer */

/* Helpers for the kinds: the tensor j of layer l in a flat buffer. */
static inline float *mn_layer_tensor(const mn_layer_t *l, const mn_tensors_t *r, float *flat,
                                     int j) {
  return flat + r->t[l->param[j]].offset;
}

/* Declare the tensor "<layer name>.<suffix>" (just "<suffix>" for a layer of empty name) for
 * layer l and record it as its next one. */
mn_status_t mn_layer_declare(mn_layer_t *l, mn_tensors_t *r, const char *suffix, int ndims,
                             const int64_t *dims, mn_role_t role);

#ifdef __cplusplus
}
#endif
#endif /* MN_LAYER_H */
