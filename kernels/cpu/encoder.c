/* encoder.c: the CPU token-plus-position embedding of mn (llm.c's encoder_forward and
 * encoder_backward): out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:], and its backward, which adds
 * each position's gradient into the rows of dwte and dwpe it came from.
 *
 * The backward visits the positions in increasing b * T + t, so that every row of dwte and
 * dwpe is its old value (or 0) plus its positions' gradients in that order: the order the
 * CUDA twin (kernels/cuda/encoder.cu) keeps, so the two give the same bits. Token ids must
 * lie in [0, V); they are not checked here. It needs no workspace.
 *
 * On the back end's threads: the forward by positions; the backward zeroes by ranges of
 * elements, then each thread takes a range of channels of every row and walks all the
 * positions in order, so that each element is summed by one thread in the order above. */
#include <stdint.h>
#include <string.h>

#include "mn_cpu.h"

static void add_rows(float *restrict y, const float *restrict a, const float *restrict b, int C) {
  for (int c = 0; c < C; c++) y[c] = a[c] + b[c];
}

static void acc_row(float *restrict y, const float *restrict x, int64_t n) {
  for (int64_t c = 0; c < n; c++) y[c] += x[c];
}

void mn_encoder_fwd_cpu(const mn_kctx_t *ctx, float *out, const int32_t *tokens, const float *wte,
                        const float *wpe, int B, int T, int C) {
  (void)ctx;
  const int nt = mn_cpu_threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (mn_cpu_par(nt, (int64_t)B * T * C))
  for (int64_t p = 0; p < (int64_t)B * T; p++)
    add_rows(out + p * C, wte + (int64_t)tokens[p] * C, wpe + (p % T) * C, C);
}

void mn_encoder_bwd_cpu(const mn_kctx_t *ctx, float *dwte, float *dwpe, const float *dout,
                        const int32_t *tokens, int B, int T, int C, int V, int T_max, int dwte_add,
                        int dwpe_add) {
  (void)ctx;
  const int nt = mn_cpu_threads();
  const int64_t nwte = (int64_t)V * C, nwpe = (int64_t)T_max * C, npos = (int64_t)B * T;
  const int64_t work = npos * C + (dwte_add ? 0 : nwte);
#pragma omp parallel num_threads(nt) if (mn_cpu_par(nt, work))
  {
    int64_t lo, hi;
    if (!dwte_add) {
      mn_cpu_share(nwte, &lo, &hi);
      if (lo < hi) memset(dwte + lo, 0, (size_t)(hi - lo) * sizeof *dwte);
    }
    if (!dwpe_add) {
      mn_cpu_share(nwpe, &lo, &hi);
      if (lo < hi) memset(dwpe + lo, 0, (size_t)(hi - lo) * sizeof *dwpe);
    }
    if (!dwte_add || !dwpe_add) {
#pragma omp barrier
    }
    mn_cpu_share(C, &lo, &hi);
    for (int64_t p = 0; lo < hi && p < npos; p++) {
      acc_row(dwte + (int64_t)tokens[p] * C + lo, dout + p * C + lo, hi - lo);
      acc_row(dwpe + (p % T) * C + lo, dout + p * C + lo, hi - lo);
    }
  }
}

size_t mn_encoder_bwd_workspace_cpu(int B, int T) {
  (void)B, (void)T;
  return 0;
}
