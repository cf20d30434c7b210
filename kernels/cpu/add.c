/* add.c: the CPU residual add of mn, out = a + b, one correctly rounded addition per element,
 * on the back end's threads by ranges of elements. out may be a or b (y += x is
 * add_fwd(ctx, y, y, x, n)), so no restrict pointers. */
#include <stdint.h>

#include "mn_cpu.h"

void mn_add_fwd_cpu(const mn_kctx_t *ctx, float *out, const float *a, const float *b,
                    int64_t count) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t i = 0; i < count; i++) out[i] = a[i] + b[i];
}
