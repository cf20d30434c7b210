/* backend.c: the CPU back end's kernel table, one entry per op of mn_kernels.h.
 *
 * Each op lives in its own file (kernels/cpu/<op>.c), which is also the reference that the
 * CUDA twin (kernels/cuda/<op>.cu) is tested against. The prototypes below are the only
 * declarations of those functions; assigning them into the table checks them against the
 * table's types. */
#include <stddef.h>
#include <stdint.h>

#include "mn_kernels.h"

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
void mn_sgd_update_cpu(const mn_kctx_t *ctx, float *w, const float *g, float *v, int64_t count,
                       const mn_sgd_args_t *a);
void mn_adamw_update_cpu(const mn_kctx_t *ctx, float *w, const float *g, float *m, float *v,
                         int64_t count, const mn_adamw_args_t *a);
void mn_scale_cpu(const mn_kctx_t *ctx, float *x, int64_t count, float alpha);
int64_t mn_count_nonfinite_cpu(const mn_kctx_t *ctx, const float *x, int64_t count, double *sumsq);
size_t mn_count_nonfinite_workspace_cpu(int64_t count);
void *mn_alloc_cpu(size_t nbytes);
void mn_release_cpu(void *p);
void mn_copy_cpu(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes);
void mn_sync_cpu(const mn_kctx_t *ctx);

static const mn_kernels_t cpu_kernels = {
    .name = "cpu",
    .gemm = mn_gemm_cpu,
    .bias_act_fwd = mn_bias_act_fwd_cpu,
    .relu_fwd = mn_relu_fwd_cpu,
    .relu_bwd = mn_relu_bwd_cpu,
    .bias_grad = mn_bias_grad_cpu,
    .softmax_xent = mn_softmax_xent_cpu,
    .softmax_xent_workspace = mn_softmax_xent_workspace_cpu,
    .sgd_update = mn_sgd_update_cpu,
    .adamw_update = mn_adamw_update_cpu,
    .scale = mn_scale_cpu,
    .count_nonfinite = mn_count_nonfinite_cpu,
    .count_nonfinite_workspace = mn_count_nonfinite_workspace_cpu,
    .alloc = mn_alloc_cpu,
    .release = mn_release_cpu,
    .upload = mn_copy_cpu,
    .download = mn_copy_cpu,
    .copy = mn_copy_cpu,
    .sync = mn_sync_cpu,
};

const mn_kernels_t *mn_kernels_cpu(void) { return &cpu_kernels; }

/* Constant and empty: sharing it is safe, it holds no scratch. */
static const mn_kctx_t default_kctx = {.stream = NULL, .workspace = NULL, .workspace_nbytes = 0};

const mn_kctx_t *mn_kctx_default(void) { return &default_kctx; }
