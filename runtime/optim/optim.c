/* optim.c: the optimizer of mn_optim.h (its state buffers, the update tensor by tensor
 * through its kind: sgd.c, adamw.c) and the learning-rate schedule.
 *
 * lr(step), steps counted from 0:
 *   warm-up   step < warmup_steps: lr * (step + 1) / warmup_steps (whatever the schedule);
 *   constant  lr;
 *   step      lr * gamma^(e / step_epochs), e = step / steps_per_epoch (integer divisions);
 *   cosine    min_lr + (lr - min_lr) * (1 + cos(pi * t / T)) / 2, t = step - warmup_steps,
 *             T = max(1, total_steps - warmup_steps), t clamped to T (min_lr after the end).
 * The states live in the same memory as the parameters (the kernel table's: host for the
 * CPU, device for CUDA) and start at 0. */
#include "mn_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mn_log.h"

/* optimizer.kind's values, in the order of mn_optimizer_kind_t (config.c names them alike) */
static const mn_optim_kind_t *const g_kinds[] = {
    [MN_OPTIM_SGD] = &mn_optim_sgd, [MN_OPTIM_ADAMW] = &mn_optim_adamw};
#define NKINDS ((int)(sizeof g_kinds / sizeof g_kinds[0]))

const mn_optim_kind_t *mn_optim_kind_of(mn_optimizer_kind_t kind) {
  MN_ASSERT((int)kind >= 0 && (int)kind < NKINDS);
  return g_kinds[kind];
}

const mn_optim_kind_t *mn_optim_kind_named(const char *name) {
  for (int i = 0; i < NKINDS; i++)
    if (!strcmp(g_kinds[i]->name, name)) return g_kinds[i];
  return NULL;
}

mn_status_t mn_optim_init(mn_optim_t *o, const mn_config_t *cfg, const mn_kernels_t *k,
                          const mn_tensors_t *tensors, int64_t steps_per_epoch,
                          int64_t total_steps) {
  mn_optim_t t;
  memset(&t, 0, sizeof t);
  if (steps_per_epoch < 0 || total_steps < 0 || !tensors->laid_out)
    return mn_error(MN_ERR_INTERNAL, "optim: %lld steps/epoch, %lld steps",
                    (long long)steps_per_epoch, (long long)total_steps);
  t.kind = mn_optim_kind_of(cfg->optimizer.kind);
  t.k = k;
  t.tensors = tensors;
  t.nparams = tensors->size;
  t.lr = cfg->optimizer.lr;
  t.momentum = cfg->optimizer.momentum;
  t.weight_decay = cfg->optimizer.weight_decay;
  t.nesterov = cfg->optimizer.nesterov;
  t.beta1 = cfg->optimizer.beta1;
  t.beta2 = cfg->optimizer.beta2;
  t.eps = cfg->optimizer.eps;
  t.no_decay = cfg->optimizer.no_decay_mask;
  t.schedule = cfg->schedule.lr_schedule;
  t.warmup_steps = cfg->schedule.warmup_steps;
  t.steps_per_epoch = steps_per_epoch;
  t.total_steps = total_steps;
  t.step_epochs = cfg->schedule.step_epochs;
  t.step_gamma = cfg->schedule.step_gamma;
  t.min_lr = cfg->schedule.min_lr;
  size_t nbytes = (size_t)(t.nparams > 0 ? t.nparams : 1) * sizeof(float);
  for (int s = 0; s < t.kind->nstates; s++)
    if (!(t.state[s] = k->alloc(nbytes))) { /* zeroed */
      mn_optim_free(&t);
      return mn_error(MN_ERR_NOMEM, "optim: cannot allocate %s's %s for %lld parameters",
                      t.kind->name, t.kind->states[s], (long long)tensors->values);
    }
  *o = t;
  return MN_OK;
}

void mn_optim_free(mn_optim_t *o) {
  for (int s = 0; o->k && s < MN_OPTIM_MAX_STATES; s++) o->k->release(o->state[s]);
  memset(o, 0, sizeof *o);
}

static double step_lr(const mn_optim_t *o, int64_t step) {
  int64_t per_epoch = o->steps_per_epoch > 0 ? o->steps_per_epoch : 1;
  int64_t every = o->step_epochs > 0 ? o->step_epochs : 1;
  int64_t decays = step / per_epoch / every;
  return o->lr * pow(o->step_gamma, (double)decays);
}

static double cosine_lr(const mn_optim_t *o, int64_t step) {
  int64_t warmup = o->warmup_steps > 0 ? o->warmup_steps : 0;
  int64_t span = o->total_steps - warmup > 1 ? o->total_steps - warmup : 1;
  int64_t t = step - warmup;
  if (t > span) t = span;
  const double pi = 3.14159265358979323846;
  return o->min_lr + (o->lr - o->min_lr) * 0.5 * (1.0 + cos(pi * (double)t / (double)span));
}

double mn_optim_lr(const mn_optim_t *o, int64_t step) {
  if (step < o->warmup_steps) return o->lr * (double)(step + 1) / (double)o->warmup_steps;
  switch (o->schedule) {
  case MN_LR_CONSTANT: return o->lr;
  case MN_LR_STEP: return step_lr(o, step);
  case MN_LR_COSINE: return cosine_lr(o, step);
  }
  return o->lr;
}

double mn_optim_decay(const mn_optim_t *o, int i) {
  return o->no_decay >> o->tensors->t[i].role & 1u ? 0.0 : o->weight_decay;
}

void mn_optim_update(mn_optim_t *o, const mn_kctx_t *ctx, float *params, const float *grads,
                     int64_t step, double grad_scale) {
  double lr = mn_optim_lr(o, step);
  for (int i = 0; i < o->tensors->n; i++) {
    const mn_tensor_t *t = &o->tensors->t[i];
    float *state[MN_OPTIM_MAX_STATES] = {NULL, NULL};
    for (int s = 0; s < o->kind->nstates; s++) state[s] = o->state[s] + t->offset;
    o->kind->update(o, ctx, params + t->offset, grads + t->offset, state, t->count, lr, step + 1,
                    mn_optim_decay(o, i), grad_scale);
  }
}

void mn_optim_step(mn_optim_t *o, mn_model_t *m, int64_t step, double grad_scale) {
  MN_ASSERT(m->nparams == o->nparams && &m->tensors == o->tensors);
  mn_optim_update(o, m->ctx, m->params, m->grads, step, grad_scale);
}

/* PyTorch's clip_grad_norm_ clamps clip / (norm + 1e-6) to 1, so a norm equal to clip, or
 * less than 1e-6 below it, is still scaled (by a hair): the same factor as PyTorch's. */
double mn_optim_clip_scale(double norm, double clip) {
  if (clip <= 0) return 1.0;
  double scale = clip / (norm + 1e-6);
  return scale < 1.0 ? scale : 1.0; /* (a NaN norm: 1; the step stops before it anyway) */
}
