/* mn_optim.h: the optimizer (SGD or AdamW) over a model's registry, and the learning-rate
 * schedule.
 *
 * Each optimizer kind (optim/sgd.c, optim/adamw.c) names the state it keeps per parameter
 * (SGD: "velocity"; AdamW: "m" and "v"); the optimizer holds one flat buffer per state,
 * laid out as the parameters (mn_tensors.h), so that snapshots and resume walk the states
 * and the tensors by name (optim/<kind>/<state>/<tensor>) and know nothing of a kind.
 * The update runs tensor by tensor: weight decay is skipped for the tensors whose role
 * optimizer.no_decay names.
 *
 * lr(step) = warm-up (linear from lr/warmup_steps up to lr over warmup_steps), then the
 * schedule: constant; step (times step_gamma every step_epochs epochs); cosine (from lr to
 * min_lr over the remaining steps). Steps are global optimizer steps counted from 0. */
#ifndef MN_OPTIM_H
#define MN_OPTIM_H

#include <stdint.h>

#include "mn_config.h"
#include "mn_model.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_OPTIM_MAX_STATES 2

typedef struct mn_optim mn_optim_t;

/* One kind of optimizer. update: one tensor's update, w, g and state[s] all [count] in the
 * kernel table's memory; lr for this step, t = step + 1 (AdamW's bias correction), decay the
 * weight decay for this tensor (0 when excluded), grad_scale multiplies g first (clipping). */
typedef struct mn_optim_kind {
  const char *name; /* "sgd", "adamw": the <kind> of the snapshot names */
  int nstates;
  const char *states[MN_OPTIM_MAX_STATES]; /* "velocity"; "m", "v" */
  void (*update)(const mn_optim_t *o, const mn_kctx_t *ctx, float *w, const float *g,
                 float *const *state, int64_t count, double lr, int64_t t, double decay,
                 double grad_scale);
} mn_optim_kind_t;

extern const mn_optim_kind_t mn_optim_sgd;
extern const mn_optim_kind_t mn_optim_adamw;

/* The kind of optimizer.kind, and the kind of that name ("sgd", "adamw"; NULL: none). */
const mn_optim_kind_t *mn_optim_kind_of(mn_optimizer_kind_t kind);
const mn_optim_kind_t *mn_optim_kind_named(const char *name);

struct mn_optim {
  const mn_optim_kind_t *kind;
  double lr, momentum, weight_decay, beta1, beta2, eps;
  int nesterov;
  unsigned no_decay; /* bit r: weight decay skips role r */
  mn_lr_schedule_t schedule;
  int64_t warmup_steps;
  int64_t steps_per_epoch;
  int64_t total_steps; /* for cosine */
  int step_epochs;
  double step_gamma;
  double min_lr;
  const mn_kernels_t *k;             /* the memory of the states */
  const mn_tensors_t *tensors;       /* the model's registry (not owned) */
  float *state[MN_OPTIM_MAX_STATES]; /* [nparams] each, laid out as the parameters; 0 at first */
  int64_t nparams;
};

/* in: cfg ([optimizer], [schedule]), k (whose memory holds the states), tensors (the
 * model's, laid out; kept: it must outlive o), steps_per_epoch, total_steps; out: o. */
mn_status_t mn_optim_init(mn_optim_t *o, const mn_config_t *cfg, const mn_kernels_t *k,
                          const mn_tensors_t *tensors, int64_t steps_per_epoch,
                          int64_t total_steps);
void mn_optim_free(mn_optim_t *o);
double mn_optim_lr(const mn_optim_t *o, int64_t step);
/* The weight decay tensor i gets (0 when its role is excluded). */
double mn_optim_decay(const mn_optim_t *o, int i);
/* One update of m->params from m->grads at global step `step` (from 0), the gradient
 * multiplied by grad_scale first (1: as it is). */
void mn_optim_step(mn_optim_t *o, mn_model_t *m, int64_t step, double grad_scale);
/* The same over flat buffers laid out by o's registry ([nparams] each, of k's memory), in
 * ctx: for a trainer whose parameters are not an mn_model_t (the public API's). */
void mn_optim_update(mn_optim_t *o, const mn_kctx_t *ctx, float *params, const float *grads,
                     int64_t step, double grad_scale);

/* Clipping by global norm: the factor the gradient is multiplied by so that its L2 norm
 * (norm) is at most clip, PyTorch's clip_grad_norm_: clip / (norm + 1e-6) when that is
 * below 1 (a norm equal to clip included), else 1; 1 when clip is 0 (off). */
double mn_optim_clip_scale(double norm, double clip);

#ifdef __cplusplus
}
#endif
#endif /* MN_OPTIM_H */
