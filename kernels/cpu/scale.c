/* scale.c: the CPU scale op of mn, x *= alpha (e.g. averaging summed gradients), on the back
 * end's threads by ranges of elements. */
#include <stdint.h>

#include "mn_cpu.h"

void mn_scale_cpu(const mn_kctx_t *ctx, float *restrict x, int64_t count, float alpha) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t i = 0; i < count; i++) x[i] *= alpha;
}
