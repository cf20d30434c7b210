/* sgd.c: SGD with momentum, Nesterov and weight decay (PyTorch's torch.optim.SGD), one
 * state: "velocity". The arithmetic is the kernel table's sgd_update. */
#include "mn_optim.h"

static void update(const mn_optim_t *o, const mn_kctx_t *ctx, float *w, const float *g,
                   float *const *state, int64_t count, double lr, int64_t t, double decay,
                   double grad_scale) {
  (void)t;
  mn_sgd_args_t a = {.lr = (float)lr,
                     .momentum = (float)o->momentum,
                     .weight_decay = (float)decay,
                     .grad_scale = (float)grad_scale,
                     .nesterov = o->nesterov};
  o->k->sgd_update(ctx, w, g, state[0], count, &a);
}

const mn_optim_kind_t mn_optim_sgd = {
    .name = "sgd", .nstates = 1, .states = {"velocity"}, .update = update};
