/* adamw.c: AdamW (PyTorch's torch.optim.AdamW: Adam with decoupled weight decay and bias
 * correction), two states: "m" (first moment) and "v" (second moment). The bias
 * corrections 1 - beta^t are computed here in double, t = step + 1; the arithmetic is the
 * kernel table's adamw_update. */
#include <math.h>

#include "mn_optim.h"

static void update(const mn_optim_t *o, const mn_kctx_t *ctx, float *w, const float *g,
                   float *const *state, int64_t count, double lr, int64_t t, double decay,
                   double grad_scale) {
  mn_adamw_args_t a = {.lr = (float)lr,
                       .beta1 = (float)o->beta1,
                       .beta2 = (float)o->beta2,
                       .eps = (float)o->eps,
                       .weight_decay = (float)decay,
                       .grad_scale = (float)grad_scale,
                       .bias_correction1 = (float)(1.0 - pow(o->beta1, (double)t)),
                       .bias_correction2 = (float)(1.0 - pow(o->beta2, (double)t))};
  o->k->adamw_update(ctx, w, g, state[0], state[1], count, &a);
}

const mn_optim_kind_t mn_optim_adamw = {
    .name = "adamw", .nstates = 2, .states = {"m", "v"}, .update = update};
