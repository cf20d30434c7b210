/* scale.c: the CPU scale op of mn, x *= alpha (e.g. averaging summed gradients). */
#include <stdint.h>

#include "mn_cpu.h"

void mn_scale_cpu(const mn_kctx_t *ctx, float *restrict x, int64_t count, float alpha) {
  (void)ctx;
  for (int64_t i = 0; i < count; i++) x[i] *= alpha;
}
