/* mn/net.h: mn's own networks as a library: the MLP and GPT-2 that mntrain trains, their
 * tensors in a trainer's registry (mn/params.h), forward, loss and backward on the rank's
 * device, the same kernels and arithmetic as mntrain's.
 *
 * A net is created before the registry's commit: its tensors are added to the registry
 * then, under PyTorch's names ("0.weight", ...; "h.0.attn.c_attn.weight", ...), beside any
 * tensors of the trainer's own. The commit builds it: its weights are drawn from its seed
 * (the same on every rank, no broadcast needed) and its activations allocated. A step:
 * mn_net_input (the batch to the device), then per micro-batch mn_net_forward, mn_net_loss
 * and mn_net_backward, which adds into the registry's gradients and, with send, hands each
 * tensor to the exchange (mn_grads_ready) the moment its gradient is final, so that the
 * allreduce overlaps the rest of backward. */
#ifndef MN_PUBLIC_NET_H
#define MN_PUBLIC_NET_H

#include <stddef.h>
#include <stdint.h>

#include <mn/params.h>
#include <mn/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_net mn_net_t;

typedef enum {
  MN_NET_MLP = 0, /* nn.Sequential(Linear, ReLU, ..., Linear) over float features */
  MN_NET_GPT = 1, /* GPT-2 over int32 tokens (docs/model.md) */
} mn_net_kind_t;

#define MN_NET_MAX_WIDTHS 32

typedef struct mn_net_desc {
  mn_net_kind_t kind;
  /* MN_NET_MLP: the widths of its layers: the input's features, the hidden widths, the
   * classes (at least two widths). Tensors "0.weight", "0.bias", "2.weight", ... */
  int widths[MN_NET_MAX_WIDTHS];
  int nwidths;
  /* MN_NET_GPT: vocabulary, context (positions), blocks, heads and channels. */
  int vocab, context, layers, heads, width;
  int max_batch;   /* samples per forward, at most (>= 1) */
  int input_batch; /* samples per mn_net_input, at most; 0: max_batch */
  uint64_t seed;   /* the weights' */
} mn_net_desc_t;

/* Before mn_params_commit: add desc's tensors to p (which must outlive the net); the commit
 * then builds the net. out: *net. MN_ERR_CONFIG naming what does not describe a network
 * (a width < 1, heads that do not divide width, ...); MN_ERR_USAGE after the commit, or
 * for a tensor name p holds already; MN_ERR_NOMEM. */
mn_status_t mn_net_create(mn_params_t *p, const mn_net_desc_t *desc, mn_net_t **net);
/* Free the net's buffers (NULL: nothing); before its registry's mn_params_free. */
void mn_net_free(mn_net_t *net);

/* What a sample is: input_width 4-byte elements (float features, or a GPT's int32 tokens:
 * input_tokens 1) and label_width int32 labels (1, or a GPT's context: a label per
 * position, the next token); classes, the labels' range. 0 for a NULL net. */
int mn_net_input_width(const mn_net_t *net);
int mn_net_input_tokens(const mn_net_t *net);
int mn_net_label_width(const mn_net_t *net);
int mn_net_classes(const mn_net_t *net);
/* The net's parameters (its tensors' elements), and the FLOPs of training it on one
 * sample (forward and backward: 6 per parameter per row, plus a GPT's attention; the
 * numerator of MFU with mn_world_peak_flops). */
int64_t mn_net_values(const mn_net_t *net);
double mn_net_flops_per_sample(const mn_net_t *net);

/* After the commit: count samples of host memory (x: count x input_width elements, y:
 * count x label_width labels) to the device, on a GPU on its copy stream, overlapping
 * whatever the device still has queued; on the CPU there is no copy. out: *x_dev, *y_dev,
 * the pointers forward, loss and backward take, valid until mn_net_input_done; x and y
 * must stay untouched until then. The device holds two inputs: the next batch's copy may
 * overlap the step that reads this one. MN_ERR_USAGE before the commit, or for count
 * outside [1, input_batch]. */
mn_status_t mn_net_input(mn_net_t *net, const void *x, const int32_t *y, int count,
                         const void **x_dev, const int32_t **y_dev);
/* The device is done with the input (after the step that read it). */
void mn_net_input_done(mn_net_t *net);

/* Forward batch samples (batch <= max_batch) of x (on the device: mn_net_input's) to the
 * logits. MN_ERR_USAGE before the commit or for a batch out of range. */
mn_status_t mn_net_forward(mn_net_t *net, const void *x, int batch);
/* Cross-entropy of the last forward's logits against y (batch x label_width labels, on
 * the device): out *loss_sum (the sum over the labels) and *correct (the labels predicted
 * right; either may be NULL). grad_scale != 0 keeps the loss's gradient times grad_scale
 * for mn_net_backward (1 / labels for the mean; divide by the world size too for a
 * gradient summed over the ranks, mn_grads_set_op); 0 for an evaluation. */
mn_status_t mn_net_loss(mn_net_t *net, const int32_t *y, int batch, float grad_scale,
                        double *loss_sum, int64_t *correct);
/* Backward of the last forward and loss into the registry's gradients: overwriting them
 * (accumulate 0) or adding (accumulate 1: a later micro-batch of one step). send 1 (inside
 * mn_grads_begin/end; the step's last micro-batch) hands each of the net's tensors to the
 * exchange as its gradient is final. MN_ERR_USAGE before the commit, for a batch that is
 * not the last forward's, or send outside a step's exchange. */
mn_status_t mn_net_backward(mn_net_t *net, const void *x, int batch, int accumulate, int send);
/* The last forward's logits: [batch x label_width rows, logits_width] floats on the device
 * (the first `classes` of a row are the prediction; GPT-2 pads its vocabulary). */
const float *mn_net_logits(const mn_net_t *net);
int mn_net_logits_width(const mn_net_t *net);

/* Collective, after the commit: the net's weights from file, read on rank 0 and broadcast:
 * an llm.c checkpoint of a GPT-2, a .safetensors file of the net's names (Hugging Face's
 * for GPT-2, PyTorch's for the MLP), or an mn snapshot. MN_ERR_NOINPUT when it is missing;
 * MN_ERR_DATA naming the tensor that is missing, of another shape or damaged; the same
 * status on every rank, and the weights unchanged on failure. */
mn_status_t mn_net_load(mn_net_t *net, const char *file);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_NET_H */
