/* optim.c: SGD with momentum and weight decay, and the learning-rate schedule of
 * mn_optim.h.
 *
 * lr(step), steps counted from 0:
 *   warm-up   step < warmup_steps: lr * (step + 1) / warmup_steps (whatever the schedule);
 *   constant  lr;
 *   step      lr * gamma^(e / step_epochs), e = step / steps_per_epoch (integer divisions);
 *   cosine    min_lr + (lr - min_lr) * (1 + cos(pi * t / T)) / 2, t = step - warmup_steps,
 *             T = max(1, total_steps - warmup_steps), t clamped to T (min_lr after the end).
 * The update itself is the back end's sgd_update over the flat buffer (whole, or one
 * gradient bucket at a time); the velocity lives in the same memory as the parameters (the
 * kernel table's: host for the CPU, device for CUDA) and starts at 0. */
#include "mn_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mn_log.h"

mn_status_t mn_optim_init(mn_optim_t *o, const mn_config_t *cfg, const mn_kernels_t *k,
                          int64_t nparams, int64_t steps_per_epoch, int64_t total_steps) {
  mn_optim_t t;
  void *v = NULL;
  size_t nbytes = (size_t)(nparams > 0 ? nparams : 1) * sizeof(float);
  if (nparams < 0 || steps_per_epoch < 0 || total_steps < 0)
    return mn_error(MN_ERR_INTERNAL,
                    "optim: negative size (%lld params, %lld steps/epoch, "
                    "%lld steps)",
                    (long long)nparams, (long long)steps_per_epoch, (long long)total_steps);
  if (!(v = k->alloc(nbytes))) /* zeroed */
    return mn_error(MN_ERR_NOMEM, "optim: cannot allocate velocity for %lld parameters",
                    (long long)nparams);
  memset(&t, 0, sizeof t);
  t.k = k;
  t.lr = cfg->optimizer.lr;
  t.momentum = cfg->optimizer.momentum;
  t.weight_decay = cfg->optimizer.weight_decay;
  t.schedule = cfg->schedule.lr_schedule;
  t.warmup_steps = cfg->schedule.warmup_steps;
  t.steps_per_epoch = steps_per_epoch;
  t.total_steps = total_steps;
  t.step_epochs = cfg->schedule.step_epochs;
  t.step_gamma = cfg->schedule.step_gamma;
  t.min_lr = cfg->schedule.min_lr;
  t.velocity = v;
  t.nparams = nparams;
  *o = t;
  return MN_OK;
}

void mn_optim_free(mn_optim_t *o) {
  if (o->k) o->k->release(o->velocity);
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

void mn_optim_step(mn_optim_t *o, mn_model_t *m, int64_t step) {
  mn_optim_step_range(o, m, step, 0, o->nparams);
}

void mn_optim_step_range(mn_optim_t *o, mn_model_t *m, int64_t step, int64_t off, int64_t count) {
  MN_ASSERT(m->nparams == o->nparams && off >= 0 && count >= 0 && off + count <= o->nparams);
  if (count == 0) return;
  const mn_sgd_args_t a = {.lr = (float)mn_optim_lr(o, step),
                           .momentum = (float)o->momentum,
                           .weight_decay = (float)o->weight_decay,
                           .grad_scale = 1.0f,
                           .nesterov = 0};
  m->k->sgd_update(m->ctx, m->params + off, m->grads + off, o->velocity + off, count, &a);
}
