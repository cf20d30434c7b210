/* mn_cuda.cuh: what the CUDA kernel files of mn share: the launch geometry of the
 * elementwise ops, the fatal check of CUDA and cuBLAS calls, the fixed-order block and warp
 * sums of the reductions, the cuBLAS handle owned by the back end (kernels/cuda/backend.cu),
 * and the prototypes of the ops that fill its table.
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

/* A sum and a count: one block's partial or a reduction's total (16 bytes, so that doubles
 * after it in a workspace stay aligned). */
typedef struct mn_cuda_sums {
  double sum;
  unsigned long long count;
} mn_cuda_sums_t;

/* Where a two-pass reduction's scratch lies in a workspace: its totals (an mn_cuda_sums_t)
 * first, so that the doubles after them stay aligned, then n partial sums (doubles, from
 * byte offset sums), then n partial counts of count_nbytes each (from byte offset counts);
 * nbytes in all. */
typedef struct mn_cuda_sums_layout {
  size_t sums, counts, nbytes;
} mn_cuda_sums_layout_t;

static inline mn_cuda_sums_layout_t mn_cuda_sums_layout(int64_t n, size_t count_nbytes) {
  mn_cuda_sums_layout_t l;
  l.sums = sizeof(mn_cuda_sums_t);
  l.counts = l.sums + (size_t)n * sizeof(double);
  l.nbytes = l.counts + (size_t)n * count_nbytes;
  return l;
}

/* Each thread's (sum, count) added over its block of MN_CUDA_THREADS threads, in a fixed
 * tree (the same bits on every run, no atomics); every thread gets the block's totals. Once
 * per kernel: a second call would overwrite the shared arrays while they are read. */
static __device__ inline mn_cuda_sums_t mn_cuda_block_sums(mn_cuda_sums_t mine) {
  __shared__ double sum[MN_CUDA_THREADS];
  __shared__ unsigned long long count[MN_CUDA_THREADS];
  sum[threadIdx.x] = mine.sum;
  count[threadIdx.x] = mine.count;
  __syncthreads();
  for (int half = MN_CUDA_THREADS / 2; half > 0; half /= 2) {
    if ((int)threadIdx.x < half) {
      sum[threadIdx.x] += sum[threadIdx.x + half];
      count[threadIdx.x] += count[threadIdx.x + half];
    }
    __syncthreads();
  }
  mn_cuda_sums_t total = {sum[0], count[0]};
  return total;
}

/* One block of MN_CUDA_THREADS threads: *total = (sum_i sum[i], sum_i count[i]) over
 * i < n, in a fixed order (thread t adds every MN_CUDA_THREADS-th element from t, then the
 * block's tree). The second pass of a deterministic reduction. */
template <typename C>
static __global__ void mn_cuda_sums_kernel(const double *__restrict__ sum,
                                           const C *__restrict__ count, int64_t n,
                                           mn_cuda_sums_t *__restrict__ total) {
  mn_cuda_sums_t mine = {0.0, 0};
  for (int64_t i = threadIdx.x; i < n; i += MN_CUDA_THREADS) {
    mine.sum += sum[i];
    mine.count += count[i];
  }
  mn_cuda_sums_t t = mn_cuda_block_sums(mine);
  if (threadIdx.x == 0) *total = t;
}

/* The second pass of a two-pass reduction and its answer: mn_cuda_sums_kernel over the n
 * partials sum[] and count[] into *total (device memory), queued on stream s, then *total
 * copied to the host, which waits for the work queued before it on s. */
template <typename C>
static inline mn_cuda_sums_t mn_cuda_sums_read(const double *sum, const C *count, int64_t n,
                                               mn_cuda_sums_t *total, cudaStream_t s) {
  mn_cuda_sums_kernel<<<1, MN_CUDA_THREADS, 0, s>>>(sum, count, n, total);
  MN_CUDA_LAUNCHED("mn_cuda_sums_kernel");
  mn_cuda_sums_t t;
  MN_CUDA_CHECK(cudaMemcpyAsync(&t, total, sizeof t, cudaMemcpyDeviceToHost, s));
  MN_CUDA_CHECK(cudaStreamSynchronize(s));
  return t;
}

/* The sum of v over the 32 lanes of a full warp, in every lane: a butterfly of shuffles, the
 * same fixed tree on every run (each pair adds the same two values, and IEEE addition
 * commutes, so all lanes end with the same bits). All 32 lanes must call it. */
template <typename F> static __device__ inline F mn_cuda_warp_sum(F v) {
  for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

/* backend.cu: the back end's cuBLAS handle (created by mn_kernels_cuda()) */
cublasHandle_t mn_cuda_cublas(void);

extern "C" {
void mn_gemm_cuda(const mn_kctx_t *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                  const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void mn_bias_act_fwd_cuda(const mn_kctx_t *ctx, float *y, const float *bias, int m, int n,
                          int relu);
void mn_relu_fwd_cuda(const mn_kctx_t *ctx, float *y, const float *x, int64_t count);
void mn_relu_bwd_cuda(const mn_kctx_t *ctx, float *dy, const float *y, int64_t count);
void mn_bias_grad_cuda(const mn_kctx_t *ctx, const float *dy, int m, int n, float *db,
                       int accumulate);
void mn_softmax_xent_cuda(const mn_kctx_t *ctx, const float *logits, const int32_t *labels, int m,
                          int c, float grad_scale, float *dlogits, double *loss_sum,
                          int64_t *correct);
size_t mn_softmax_xent_workspace_cuda(int m, int c);
void mn_classifier_xent_cuda(const mn_kctx_t *ctx, const float *logits, const int32_t *labels,
                             int rows, int V, int Vp, float grad_scale, float *dlogits,
                             double *loss_sum, int64_t *correct);
size_t mn_classifier_xent_workspace_cuda(int rows, int Vp);
void mn_sgd_update_cuda(const mn_kctx_t *ctx, float *w, const float *g, float *v, int64_t count,
                        const mn_sgd_args_t *a);
void mn_adamw_update_cuda(const mn_kctx_t *ctx, float *w, const float *g, float *m, float *v,
                          int64_t count, const mn_adamw_args_t *a);
void mn_scale_cuda(const mn_kctx_t *ctx, float *x, int64_t count, float alpha);
int64_t mn_count_nonfinite_cuda(const mn_kctx_t *ctx, const float *x, int64_t count, double *sumsq);
size_t mn_count_nonfinite_workspace_cuda(int64_t count);
void mn_encoder_fwd_cuda(const mn_kctx_t *ctx, float *out, const int32_t *tokens, const float *wte,
                         const float *wpe, int B, int T, int C);
void mn_encoder_bwd_cuda(const mn_kctx_t *ctx, float *dwte, float *dwpe, const float *dout,
                         const int32_t *tokens, int B, int T, int C, int V, int T_max,
                         int dwte_add, int dwpe_add);
size_t mn_encoder_bwd_workspace_cuda(int B, int T);
void mn_layernorm_fwd_cuda(const mn_kctx_t *ctx, float *out, float *mean, float *rstd,
                           const float *inp, const float *weight, const float *bias, int rows,
                           int C);
void mn_layernorm_bwd_cuda(const mn_kctx_t *ctx, float *dinp, float *dweight, float *dbias,
                           const float *dout, const float *inp, const float *weight,
                           const float *mean, const float *rstd, int rows, int C, int din_add,
                           int dparams_add);
void mn_gelu_fwd_cuda(const mn_kctx_t *ctx, float *out, const float *inp, int64_t count);
void mn_gelu_bwd_cuda(const mn_kctx_t *ctx, float *dinp, const float *inp, const float *dout,
                      int64_t count, int add);
void mn_add_fwd_cuda(const mn_kctx_t *ctx, float *out, const float *a, const float *b,
                     int64_t count);
void mn_attention_fwd_cuda(const mn_kctx_t *ctx, float *out, float *att, const float *qkv, int B,
                           int T, int C, int NH);
void mn_attention_bwd_cuda(const mn_kctx_t *ctx, float *dqkv, const float *dout, const float *qkv,
                           const float *att, int B, int T, int C, int NH, int add);
size_t mn_attention_workspace_cuda(int B, int T, int C, int NH);
void *mn_alloc_cuda(size_t nbytes);
void mn_release_cuda(void *p);
void mn_upload_cuda(const mn_kctx_t *ctx, void *dst, const void *host_src, size_t nbytes);
void mn_download_cuda(const mn_kctx_t *ctx, void *host_dst, const void *src, size_t nbytes);
void mn_copy_cuda(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes);
void mn_sync_cuda(const mn_kctx_t *ctx);
}

#endif /* MN_CUDA_CUH */
