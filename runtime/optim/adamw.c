/* adamw.c: AdamW (PyTorch's torch.optim.AdamW: Adam with decoupled weight decay and bias
 * correction), two states: "m" (first moment) and "v" (second moment). The bias
 * corrections 1 - beta^t are computed here in double, t = step + 1; the arithmetic is the
 * kernel table's adamw_update.
 *
 * The kernel gets the betas as floats and weighs the moments by beta and 1 - beta (exact in
 * float), so the corrections are computed from the same float betas: then m^ = g and
 * v^ = g^2 at the first step, as in PyTorch. (1 - 0.999^t from the double beta2 differs
 * from the kernel's 1 - (float)0.999 by 1.3e-5 relative, which would make the early updates
 * 6e-6 relative too large.) */
#include <math.h>

#include "mn_optim.h"

static void update(const mn_optim_t *o, const mn_kctx_t *ctx, float *w, const float *g,
                   float *const *state, int64_t count, double lr, int64_t t, double decay,
                   double grad_scale) {
  /* the betas as the kernel gets them, in the moments and in their corrections alike */
  const float beta1 = (float)o->beta1, beta2 = (float)o->beta2;
  mn_adamw_args_t a = {.lr = (float)lr,
                       .beta1 = beta1,
                       .beta2 = beta2,
                       .eps = (float)o->eps,
                       .weight_decay = (float)decay,
                       .grad_scale = (float)grad_scale,
                       .bias_correction1 = (float)(1.0 - pow(beta1, (double)t)),
                       .bias_correction2 = (float)(1.0 - pow(beta2, (double)t))};
  o->k->adamw_update(ctx, w, g, state[0], state[1], count, &a);
}

const mn_optim_kind_t mn_optim_adamw = {
    .name = "adamw", .nstates = 2, .states = {"m", "v"}, .update = update};
