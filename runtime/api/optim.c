/* optim.c: mn/optim.h: the runtime's optimizer (mn_optim.h: SGD, AdamW, the schedules) over
 * a trainer's parameters, with the step count and clipping the public calls keep.
 *
 * The options are checked here, each out-of-range value named, and written into the
 * [optimizer] and [schedule] sections of a config that only mn_optim_init reads; roles
 * map one to one (mn_param_role_t is mn_tensor_role_t's order, asserted below). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mn_api.h"
#include "mn_config.h"

_Static_assert((int)MN_PARAM_WEIGHT == (int)MN_ROLE_WEIGHT && (int)MN_PARAM_BIAS == (int)MN_ROLE_BIAS &&
                   (int)MN_PARAM_NORM == (int)MN_ROLE_NORM &&
                   (int)MN_PARAM_EMBEDDING == (int)MN_ROLE_EMBEDDING,
               "mn_param_role_t and mn_tensor_role_t differ");

mn_optim_opts_t mn_optim_defaults(void) {
  mn_optim_opts_t o;
  memset(&o, 0, sizeof o);
  o.kind = MN_SGD;
  o.lr = 0.01;
  o.momentum = 0.9;
  o.beta1 = 0.9;
  o.beta2 = 0.999;
  o.eps = 1e-8;
  o.schedule = MN_SCHEDULE_CONSTANT;
  o.no_decay = MN_NO_DECAY_DEFAULT;
  o.gamma = 0.1;
  return o;
}

#define BAD(...) MN_API_USAGE("mn_optimizer_create", __VA_ARGS__)

static mn_status_t check(const mn_optim_opts_t *o) {
  if (o->kind != MN_SGD && o->kind != MN_ADAMW) return BAD("kind %d is neither MN_SGD nor MN_ADAMW", (int)o->kind);
  if (!(o->lr > 0) || !isfinite(o->lr)) return BAD("lr %g: expected > 0", o->lr);
  if (!(o->momentum >= 0 && o->momentum < 1)) return BAD("momentum %g: expected [0, 1)", o->momentum);
  if (o->nesterov && !(o->momentum > 0)) return BAD("nesterov needs a momentum > 0");
  if (!(o->beta1 >= 0 && o->beta1 < 1)) return BAD("beta1 %g: expected [0, 1)", o->beta1);
  if (!(o->beta2 >= 0 && o->beta2 < 1)) return BAD("beta2 %g: expected [0, 1)", o->beta2);
  if (!(o->eps > 0)) return BAD("eps %g: expected > 0", o->eps);
  if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
    return BAD("weight_decay %g: expected >= 0", o->weight_decay);
  if (o->schedule != MN_SCHEDULE_CONSTANT && o->schedule != MN_SCHEDULE_COSINE &&
      o->schedule != MN_SCHEDULE_STEP)
    return BAD("schedule %d is none of MN_SCHEDULE_CONSTANT, _COSINE, _STEP", (int)o->schedule);
  if (o->schedule == MN_SCHEDULE_STEP && o->step_size < 1)
    return BAD("MN_SCHEDULE_STEP needs step_size >= 1 (it is %lld)", (long long)o->step_size);
  if (o->schedule == MN_SCHEDULE_STEP && !(o->gamma > 0 && isfinite(o->gamma)))
    return BAD("gamma %g: expected > 0", o->gamma);
  if (o->no_decay & ~(unsigned)MN_NO_DECAY_DEFAULT & ~(1u << MN_PARAM_WEIGHT))
    return BAD("no_decay 0x%x holds bits of no mn_param_role_t", o->no_decay);
  if (o->warmup_steps < 0) return BAD("warmup_steps %lld < 0", (long long)o->warmup_steps);
  /* (a cosine no longer than its warm-up is at min_lr from the warm-up's end on) */
  if (o->schedule == MN_SCHEDULE_COSINE && o->total_steps < 1)
    return BAD("MN_SCHEDULE_COSINE needs total_steps >= 1 (it is %lld)", (long long)o->total_steps);
  if (!(o->min_lr >= 0 && o->min_lr <= o->lr)) return BAD("min_lr %g: expected [0, lr]", o->min_lr);
  if (!(o->clip_norm >= 0) || !isfinite(o->clip_norm)) return BAD("clip_norm %g: expected >= 0", o->clip_norm);
  return MN_OK;
}

mn_status_t mn_optimizer_create(mn_params_t *p, const mn_optim_opts_t *opts, mn_optimizer_t **o) {
  if (!p || !opts || !o) return BAD("p, opts or o is NULL");
  *o = NULL;
  if (!p->committed) return BAD("before mn_params_commit");
  mn_status_t st = check(opts);
  if (st != MN_OK) return st;
  mn_config_t *cfg = calloc(1, sizeof *cfg);
  mn_optimizer_t *t = calloc(1, sizeof *t);
  if (!cfg || !t) {
    free(cfg);
    free(t);
    return mn_error(MN_ERR_NOMEM, "mn_optimizer_create: out of memory");
  }
  cfg->optimizer.kind = opts->kind == MN_ADAMW ? MN_OPTIM_ADAMW : MN_OPTIM_SGD;
  cfg->optimizer.lr = opts->lr;
  cfg->optimizer.momentum = opts->momentum;
  cfg->optimizer.nesterov = opts->nesterov;
  cfg->optimizer.beta1 = opts->beta1;
  cfg->optimizer.beta2 = opts->beta2;
  cfg->optimizer.eps = opts->eps;
  cfg->optimizer.weight_decay = opts->weight_decay;
  cfg->optimizer.no_decay_mask = opts->no_decay; /* (the roles' bits are the same) */
  cfg->schedule.lr_schedule = opts->schedule == MN_SCHEDULE_COSINE ? MN_LR_COSINE
                              : opts->schedule == MN_SCHEDULE_STEP ? MN_LR_STEP
                                                                   : MN_LR_CONSTANT;
  cfg->schedule.warmup_steps = opts->warmup_steps;
  cfg->schedule.min_lr = opts->min_lr;
  /* the runtime's step schedule decays every step_epochs epochs of steps_per_epoch steps:
   * one "epoch" of step_size steps (floor(floor(s / a) / b) = floor(s / (a b))) */
  cfg->schedule.step_epochs = 1;
  cfg->schedule.step_gamma = opts->gamma;
  int64_t per_epoch = opts->schedule == MN_SCHEDULE_STEP ? opts->step_size : 1;
  st = mn_optim_init(&t->optim, cfg, p->w->k, &p->tensors, per_epoch, opts->total_steps);
  free(cfg);
  if (st != MN_OK) {
    free(t);
    return st;
  }
  t->p = p;
  t->clip_norm = opts->clip_norm;
  *o = t;
  return MN_OK;
}

void mn_optimizer_free(mn_optimizer_t *o) {
  if (!o) return;
  mn_optim_free(&o->optim);
  free(o);
}

mn_status_t mn_optimizer_step(mn_optimizer_t *o, const mn_step_flags_t *flags) {
  if (!o) return MN_API_USAGE("mn_optimizer_step", "o is NULL");
  if (flags && flags->failed)
    return mn_error(MN_ERR_PEER, "mn_optimizer_step: a rank failed this step; no update");
  if (flags && flags->nonfinite)
    return mn_error(MN_ERR_NONFINITE, "step %lld: the mean gradient holds NaN or infinite "
                                      "values; no update", (long long)o->steps);
  if (o->clip_norm > 0 && !flags)
    return MN_API_USAGE("mn_optimizer_step", "clip_norm needs the step's flags (its grad_norm)");
  double scale = o->clip_norm > 0 ? mn_optim_clip_scale(flags->grad_norm, o->clip_norm) : 1.0;
  mn_params_t *p = o->p;
  mn_optim_update(&o->optim, &p->w->dev.ctx, p->params, p->grads, o->steps, scale);
  o->steps++;
  return MN_OK;
}

mn_status_t mn_optimizer_skip(mn_optimizer_t *o) {
  if (!o) return MN_API_USAGE("mn_optimizer_skip", "o is NULL");
  o->steps++;
  return MN_OK;
}

mn_status_t mn_optimizer_set_steps(mn_optimizer_t *o, int64_t steps) {
  if (!o) return MN_API_USAGE("mn_optimizer_set_steps", "o is NULL");
  if (steps < 0) return MN_API_USAGE("mn_optimizer_set_steps", "steps %lld < 0", (long long)steps);
  o->steps = steps;
  return MN_OK;
}

int64_t mn_optimizer_steps(const mn_optimizer_t *o) { return o ? o->steps : 0; }
double mn_optimizer_lr(const mn_optimizer_t *o) { return o ? mn_optim_lr(&o->optim, o->steps) : 0; }
