/* encoder.c: the CPU token-plus-position embedding of mn (llm.c's encoder_forward and
 * encoder_backward): out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:], and its backward, which adds
 * each position's gradient into the rows of dwte and dwpe it came from.
 *
 * The backward visits the positions in increasing b * T + t, so that every row of dwte and
 * dwpe is its old value (or 0) plus its positions' gradients in that order: the order the
 * CUDA twin (kernels/cuda/encoder.cu) keeps, so the two give the same bits. Token ids must
 * lie in [0, V); they are not checked here. It needs no workspace. */
#include <stdint.h>
#include <string.h>

#include "mn_cpu.h"

static void add_rows(float *restrict y, const float *restrict a, const float *restrict b, int C) {
  for (int c = 0; c < C; c++) y[c] = a[c] + b[c];
}

static void acc_row(float *restrict y, const float *restrict x, int C) {
  for (int c = 0; c < C; c++) y[c] += x[c];
}

void mn_encoder_fwd_cpu(const mn_kctx_t *ctx, float *out, const int32_t *tokens, const float *wte,
                        const float *wpe, int B, int T, int C) {
  (void)ctx;
  for (int64_t p = 0; p < (int64_t)B * T; p++)
    add_rows(out + p * C, wte + (int64_t)tokens[p] * C, wpe + (p % T) * C, C);
}

void mn_encoder_bwd_cpu(const mn_kctx_t *ctx, float *dwte, float *dwpe, const float *dout,
                        const int32_t *tokens, int B, int T, int C, int V, int T_max,
                        int dwte_add, int dwpe_add) {
  (void)ctx;
  if (!dwte_add) memset(dwte, 0, (size_t)V * C * sizeof *dwte);
  if (!dwpe_add) memset(dwpe, 0, (size_t)T_max * C * sizeof *dwpe);
  for (int64_t p = 0; p < (int64_t)B * T; p++) {
    acc_row(dwte + (int64_t)tokens[p] * C, dout + p * C, C);
    acc_row(dwpe + (p % T) * C, dout + p * C, C);
  }
}

size_t mn_encoder_bwd_workspace_cpu(int B, int T) {
  (void)B, (void)T;
  return 0;
}
