/* mn/optim.h: the optimizer over a trainer's parameters: SGD (momentum, Nesterov) or AdamW
 * (decoupled weight decay), a learning-rate schedule, and clipping by global norm; the
 * same code and arithmetic as mntrain's ([optimizer] and [schedule] of docs/config.md).
 *
 * The optimizer keeps its states (SGD's velocity; AdamW's m and v) laid out as the
 * parameters, in the device's memory, and counts its steps: snapshots (mn/state.h) hold
 * both, so that a resumed run takes the very update it would have taken. */
#ifndef MN_PUBLIC_OPTIM_H
#define MN_PUBLIC_OPTIM_H

#include <stdint.h>

#include <mn/exchange.h>
#include <mn/params.h>
#include <mn/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_optimizer mn_optimizer_t;

typedef enum { MN_SGD = 0, MN_ADAMW = 1 } mn_optimizer_choice_t;
typedef enum {
  MN_SCHEDULE_CONSTANT = 0,
  MN_SCHEDULE_COSINE = 1, /* to min_lr over total_steps */
  MN_SCHEDULE_STEP = 2,   /* lr x gamma every step_size steps (PyTorch's StepLR) */
} mn_schedule_t;

/* The roles weight decay skips by default: biases, norms and embeddings (PyTorch's and
 * nanoGPT's usual groups). */
#define MN_NO_DECAY_DEFAULT (1u << MN_PARAM_BIAS | 1u << MN_PARAM_NORM | 1u << MN_PARAM_EMBEDDING)

/* A zeroed struct is not a valid one: start from mn_optim_defaults(). */
typedef struct mn_optim_opts {
  mn_optimizer_choice_t kind;  /* default MN_SGD */
  double lr;                   /* default 0.01 */
  double momentum;             /* SGD; default 0.9 */
  int nesterov;                /* SGD; default 0 */
  double beta1, beta2, eps;    /* AdamW; defaults 0.9, 0.999, 1e-8 */
  double weight_decay;         /* default 0 (decoupled in AdamW) */
  unsigned no_decay;           /* roles weight decay skips (bits 1u << mn_param_role_t);
                                  default MN_NO_DECAY_DEFAULT; 0: decay every tensor */
  mn_schedule_t schedule;      /* after warm-up; default constant */
  int64_t warmup_steps;        /* linear from lr / warmup_steps; default 0 */
  int64_t total_steps;         /* the cosine's length, warm-up included; needed by
                                  MN_SCHEDULE_COSINE (min_lr after it) */
  double min_lr;               /* the cosine's floor; default 0 */
  int64_t step_size;           /* MN_SCHEDULE_STEP: steps between decays */
  double gamma;                /* MN_SCHEDULE_STEP: the factor of each decay; default 0.1 */
  double clip_norm;            /* global L2 norm; default 0, no clipping */
} mn_optim_opts_t;

/* PyTorch's defaults for SGD (with momentum 0.9) as above. */
mn_optim_opts_t mn_optim_defaults(void);

/* in: p (committed; it must outlive the optimizer), opts; out: *o. MN_ERR_USAGE for a value
 * out of range, naming it (lr <= 0, beta outside [0, 1), MN_SCHEDULE_COSINE without total_steps,
 * ...); MN_ERR_NOMEM. */
mn_status_t mn_optimizer_create(mn_params_t *p, const mn_optim_opts_t *opts,
                                mn_optimizer_t **o);
void mn_optimizer_free(mn_optimizer_t *o);

/* One update of the parameters from their gradients (the mean that mn_grads_end left),
 * clipped to clip_norm by flags->grad_norm (flags may be NULL without clipping), at the
 * schedule's learning rate for the step count, which it then advances. A step whose flags
 * say nonfinite or failed is refused: MN_ERR_NONFINITE or MN_ERR_PEER, nothing changed. */
mn_status_t mn_optimizer_step(mn_optimizer_t *o, const mn_step_flags_t *flags);
/* A step that takes no update but counts (its flags said nonfinite, and the trainer skips
 * it and goes on): the schedule and AdamW's step count move on as if it had been taken. */
mn_status_t mn_optimizer_skip(mn_optimizer_t *o);
/* Set the step count the schedule and AdamW's step go on from (a resume at another global
 * batch, whose step count is not the snapshot's). MN_ERR_USAGE for a negative count. */
mn_status_t mn_optimizer_set_steps(mn_optimizer_t *o, int64_t steps);
/* Steps taken (restored by a resume), and the learning rate the next step will take. */
int64_t mn_optimizer_steps(const mn_optimizer_t *o);
double mn_optimizer_lr(const mn_optimizer_t *o);

#ifdef __cplusplus
}
#endif
#endif /* MN_PUBLIC_OPTIM_H */
