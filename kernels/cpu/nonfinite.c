/* nonfinite.c: the CPU count of NaN and infinite values (the trainer's check of a reduced
 * gradient before it updates the weights). One pass, no early exit: the time does not depend
 * on the data, as on the GPU. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "mn_kernels.h"

int64_t mn_count_nonfinite_cpu(const mn_kctx_t *ctx, const float *restrict x, int64_t count) {
  (void)ctx;
  int64_t n = 0;
  for (int64_t i = 0; i < count; i++) n += !isfinite(x[i]);
  return n;
}

size_t mn_count_nonfinite_workspace_cpu(int64_t count) {
  (void)count;
  return 0;
}
