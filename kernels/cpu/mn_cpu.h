/* mn_cpu.h: the prototypes of the CPU back end's ops, one per entry of mn_kernels_t; the
 * twin of kernels/cuda/mn_cuda.cuh. backend.c fills the table with them (which checks them
 * against the table's types) and each kernels/cpu/<op>.c includes it (which checks its
 * definitions against them). Internal to kernels/: callers reach the ops through
 * mn_kernels_cpu(). */
#ifndef MN_CPU_H
#define MN_CPU_H

#include <omp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mn_kernels.h"

/* An op given less workspace than its query asked for: a programming error of the caller
 * (as mn_cuda_need_workspace in kernels/cuda/mn_cuda.cuh). */
static inline void mn_cpu_need_workspace(const mn_kctx_t *ctx, size_t need, const char *op) {
  if (ctx->workspace_nbytes >= need && (need == 0 || ctx->workspace)) return;
  fprintf(stderr, "mn: %s needs %zu bytes of workspace, the context has %zu\n", op, need,
          ctx->workspace_nbytes);
  abort();
}

/* The threads of the non-GEMM ops (threads.c): every parallel region names this count
 * (num_threads), and is skipped for work below MN_CPU_PAR_MIN elements, where the fork would
 * cost more than it saves. A region partitions its outputs so that each output element is
 * computed by one thread in the serial order, which keeps the bits independent of the count. */
#define MN_CPU_PAR_MIN (1 << 15)
int mn_cpu_threads(void);

/* Whether a region of nt threads over work elements forks (its if clause). */
static inline int mn_cpu_par(int nt, int64_t work) { return nt > 1 && work > MN_CPU_PAR_MIN; }

/* The calling thread's share [*lo, *hi) of [0, n): inside a parallel region, contiguous
 * ranges in thread order, each a multiple of 16 elements (a cache line of floats) but the
 * last, so that two threads seldom write one line; outside one, all of it. For the ops that
 * partition by columns (a column sum over rows is one thread's, in row order). */
static inline void mn_cpu_share(int64_t n, int64_t *lo, int64_t *hi) {
  const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
  const int64_t chunk = ((n + nt - 1) / nt + 15) / 16 * 16;
  const int64_t a = id * chunk, b = a + chunk;
  *lo = a < n ? a : n;
  *hi = b < n ? b : n;
}

void mn_gemm_cpu(const mn_kctx_t *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void mn_bias_act_fwd_cpu(const mn_kctx_t *ctx, float *y, const float *bias, int m, int n, int relu);
void mn_relu_fwd_cpu(const mn_kctx_t *ctx, float *y, const float *x, int64_t count);
void mn_relu_bwd_cpu(const mn_kctx_t *ctx, float *dy, const float *y, int64_t count);
void mn_bias_grad_cpu(const mn_kctx_t *ctx, const float *dy, int m, int n, float *db,
                      int accumulate);
void mn_softmax_xent_cpu(const mn_kctx_t *ctx, const float *logits, const int32_t *labels, int m,
                         int c, float grad_scale, float *dlogits, double *loss_sum,
                         int64_t *correct);
size_t mn_softmax_xent_workspace_cpu(int m, int c);
void mn_classifier_xent_cpu(const mn_kctx_t *ctx, const float *logits, const int32_t *labels,
                            int rows, int V, int Vp, float grad_scale, float *dlogits,
                            double *loss_sum, int64_t *correct);
size_t mn_classifier_xent_workspace_cpu(int rows, int Vp);
void mn_sgd_update_cpu(const mn_kctx_t *ctx, float *w, const float *g, float *v, int64_t count,
                       const mn_sgd_args_t *a);
void mn_adamw_update_cpu(const mn_kctx_t *ctx, float *w, const float *g, float *m, float *v,
                         int64_t count, const mn_adamw_args_t *a);
void mn_scale_cpu(const mn_kctx_t *ctx, float *x, int64_t count, float alpha);
int64_t mn_count_nonfinite_cpu(const mn_kctx_t *ctx, const float *x, int64_t count, double *sumsq);
size_t mn_count_nonfinite_workspace_cpu(int64_t count);
void mn_encoder_fwd_cpu(const mn_kctx_t *ctx, float *out, const int32_t *tokens, const float *wte,
                        const float *wpe, int B, int T, int C);
void mn_encoder_bwd_cpu(const mn_kctx_t *ctx, float *dwte, float *dwpe, const float *dout,
                        const int32_t *tokens, int B, int T, int C, int V, int T_max,
                        int dwte_add, int dwpe_add);
size_t mn_encoder_bwd_workspace_cpu(int B, int T);
void mn_layernorm_fwd_cpu(const mn_kctx_t *ctx, float *out, float *mean, float *rstd,
                          const float *inp, const float *weight, const float *bias, int rows,
                          int C);
void mn_layernorm_bwd_cpu(const mn_kctx_t *ctx, float *dinp, float *dweight, float *dbias,
                          const float *dout, const float *inp, const float *weight,
                          const float *mean, const float *rstd, int rows, int C, int din_add,
                          int dparams_add);
void mn_gelu_fwd_cpu(const mn_kctx_t *ctx, float *out, const float *inp, int64_t count);
void mn_gelu_bwd_cpu(const mn_kctx_t *ctx, float *dinp, const float *inp, const float *dout,
                     int64_t count, int add);
void mn_add_fwd_cpu(const mn_kctx_t *ctx, float *out, const float *a, const float *b,
                    int64_t count);
void mn_attention_fwd_cpu(const mn_kctx_t *ctx, float *out, float *att, const float *qkv, int B,
                          int T, int C, int NH);
void mn_attention_bwd_cpu(const mn_kctx_t *ctx, float *dqkv, const float *dout, const float *qkv,
                          const float *att, int B, int T, int C, int NH, int add);
size_t mn_attention_workspace_cpu(int B, int T, int C, int NH);
void *mn_alloc_cpu(size_t nbytes);
void mn_release_cpu(void *p);
void mn_copy_cpu(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes);
void mn_sync_cpu(const mn_kctx_t *ctx);

#endif /* MN_CPU_H */
