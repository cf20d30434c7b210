/* mn_cuda.cuh: what the CUDA kernel files of mn share: the launch geometry of the
 * elementwise ops, the fatal check of CUDA and cuBLAS calls, the cuBLAS handle owned by the
 * back end (kernels/cuda/backend.cu), and the prototypes of the ops that fill its table.
 *
 * The ops of mn_kernels_t return nothing, so a failing launch or cuBLAS call cannot be
 * reported as an mn_status_t: it is a programming or device error, printed once with the
 * call that failed and ended with abort(). Nothing here selects a device or creates a
 * stream: the ops queue on the stream of the context they are given. */
#ifndef MN_CUDA_CUH
#define MN_CUDA_CUH

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "mn_kernels.h"

/* Threads per block of the elementwise ops, and the most blocks a grid-stride loop uses. */
#define MN_CUDA_THREADS 256
#define MN_CUDA_MAX_BLOCKS 65536

static inline void mn_cuda_check(cudaError_t e, const char *what, const char *file, int line) {
  if (e == cudaSuccess) return;
  fprintf(stderr, "mn: CUDA error at %s:%d: %s: %s\n", file, line, what, cudaGetErrorString(e));
  abort();
}

static inline void mn_cublas_check(cublasStatus_t s, const char *what, const char *file, int line) {
  if (s == CUBLAS_STATUS_SUCCESS) return;
  fprintf(stderr, "mn: cuBLAS error at %s:%d: %s: status %d\n", file, line, what, (int)s);
  abort();
}

#define MN_CUDA_CHECK(call) mn_cuda_check((call), #call, __FILE__, __LINE__)
#define MN_CUBLAS_CHECK(call) mn_cublas_check((call), #call, __FILE__, __LINE__)
/* after a kernel launch: catches bad configurations (not asynchronous faults) */
#define MN_CUDA_LAUNCHED(name) mn_cuda_check(cudaGetLastError(), name, __FILE__, __LINE__)

/* the context's stream (NULL: the legacy default stream) */
static inline cudaStream_t mn_cuda_stream(const mn_kctx_t *ctx) {
  return (cudaStream_t)ctx->stream;
}

/* An op given less workspace than its query asked for: a programming error of the caller. */
static inline void mn_cuda_need_workspace(const mn_kctx_t *ctx, size_t need, const char *op) {
  if (ctx->workspace_nbytes >= need && (need == 0 || ctx->workspace)) return;
  fprintf(stderr, "mn: %s needs %zu bytes of workspace, the context has %zu\n", op, need,
          ctx->workspace_nbytes);
  abort();
}

/* blocks for a grid-stride loop over count elements (count > 0) */
static inline unsigned mn_cuda_blocks(int64_t count) {
  int64_t b = (count + MN_CUDA_THREADS - 1) / MN_CUDA_THREADS;
  return (unsigned)(b < MN_CUDA_MAX_BLOCKS ? b : MN_CUDA_MAX_BLOCKS);
}

/* backend.cu: the back end's cuBLAS handle (created by mn_kernels_cuda()) */
cublasHandle_t mn_cuda_cublas(void);

extern "C" {
void mn_gemm_cuda(const mn_kctx_t *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void mn_bias_act_fwd_cuda(const mn_kctx_t *ctx, float *y, const float *bias, int m, int n,
                          int relu);
void mn_relu_bwd_cuda(const mn_kctx_t *ctx, float *dy, const float *y, int64_t count);
void mn_bias_grad_cuda(const mn_kctx_t *ctx, const float *dy, int m, int n, float *db);
void mn_softmax_xent_cuda(const mn_kctx_t *ctx, const float *logits, const int32_t *labels, int m,
                          int c, float grad_scale, float *dlogits, double *loss_sum,
                          int64_t *correct);
size_t mn_softmax_xent_workspace_cuda(int m, int c);
void mn_sgd_update_cuda(const mn_kctx_t *ctx, float *w, const float *g, float *v, int64_t count,
                        float lr, float momentum, float weight_decay);
void mn_scale_cuda(const mn_kctx_t *ctx, float *x, int64_t count, float alpha);
int64_t mn_count_nonfinite_cuda(const mn_kctx_t *ctx, const float *x, int64_t count);
size_t mn_count_nonfinite_workspace_cuda(int64_t count);
void *mn_alloc_cuda(size_t nbytes);
void mn_release_cuda(void *p);
void mn_upload_cuda(const mn_kctx_t *ctx, void *dst, const void *host_src, size_t nbytes);
void mn_download_cuda(const mn_kctx_t *ctx, void *host_dst, const void *src, size_t nbytes);
void mn_copy_cuda(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes);
void mn_sync_cuda(const mn_kctx_t *ctx);
}

#endif /* MN_CUDA_CUH */
