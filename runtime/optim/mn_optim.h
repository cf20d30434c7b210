/* mn_optim.h: SGD with momentum and weight decay, and the learning-rate schedule.
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

typedef struct mn_optim {
  double lr, momentum, weight_decay;
  mn_lr_schedule_t schedule;
  int64_t warmup_steps;
  int64_t steps_per_epoch;
  int64_t total_steps; /* for cosine */
  int step_epochs;
  double step_gamma;
  double min_lr;
  const mn_kernels_t *k; /* the memory of velocity */
  float *velocity;        /* [nparams], in k's memory */
  int64_t nparams;
} mn_optim_t;

/* in: cfg, k (whose memory holds the velocity), nparams, steps_per_epoch, total_steps;
 * out: o. */
mn_status_t mn_optim_init(mn_optim_t *o, const mn_config_t *cfg, const mn_kernels_t *k,
                          int64_t nparams, int64_t steps_per_epoch, int64_t total_steps);
void mn_optim_free(mn_optim_t *o);
double mn_optim_lr(const mn_optim_t *o, int64_t step);
/* One update of m->params from m->grads at global step `step`. */
void mn_optim_step(mn_optim_t *o, mn_model_t *m, int64_t step);
/* The same update restricted to parameters [off, off + count) (one gradient bucket): the
 * buckets of a step together make exactly mn_optim_step. */
void mn_optim_step_range(mn_optim_t *o, mn_model_t *m, int64_t step, int64_t off, int64_t count);

#ifdef __cplusplus
}
#endif
#endif /* MN_OPTIM_H */
