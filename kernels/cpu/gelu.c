/* gelu.c: the CPU GELU of mn in its tanh approximation (GPT-2's; PyTorch's
 * approximate='tanh'): out = gelu(inp), and its backward dinp = (add ? dinp : 0) +
 * gelu'(inp) dout, element by element with the arithmetic of mn_gelu.h (shared with the CUDA
 * twin), on the back end's threads by ranges of elements. The forward may run in place and the
 * backward with dinp == dout, so neither takes restrict pointers. */
#include <stdint.h>

#include "mn_cpu.h"
#include "mn_gelu.h"

void mn_gelu_fwd_cpu(const mn_kctx_t *ctx, float *out, const float *inp, int64_t count) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t i = 0; i < count; i++) out[i] = mn_gelu(inp[i]);
}

void mn_gelu_bwd_cpu(const mn_kctx_t *ctx, float *dinp, const float *inp, const float *dout,
                     int64_t count, int add) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, count))
  for (int64_t i = 0; i < count; i++) {
    float d = mn_gelu_grad(inp[i]) * dout[i];
    dinp[i] = add ? dinp[i] + d : d;
  }
}
