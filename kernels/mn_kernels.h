/* mn_kernels.h: the compute kernels of mn, one table per back end.
 *
 * Every op has a CPU reference in kernels/cpu/<op>.c; its CUDA twin sits beside it in
 * kernels/cuda/<op>.cu and fills the same table. Callers pick a table once and never branch
 * on the back end. Pointers are in the back end's memory (host for CPU). Matrices are
 * row-major. Nothing here knows about MPI, files or signals. */
#ifndef MN_KERNELS_H
#define MN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mn_kernels {
  const char *name;

  /* c[m,n] = alpha * op(a) * op(b) + beta * c; op(a) is [m,k], op(b) is [k,n];
   * trans_a/trans_b nonzero: a is stored [k,m] / b is stored [n,k]. */
  void (*gemm)(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc);

  /* y[i,j] = act(y[i,j] + bias[j]) for y[m,n]; act is ReLU when relu, identity otherwise. */
  void (*bias_act_fwd)(float *y, const float *bias, int m, int n, int relu);

  /* dy[i] *= (y[i] > 0), the ReLU gradient given the ReLU output y. */
  void (*relu_bwd)(float *dy, const float *y, int64_t count);

  /* db[j] = sum_i dy[i,j] for dy[m,n] (overwrites db). */
  void (*bias_grad)(const float *dy, int m, int n, float *db);

  /* Softmax cross-entropy over logits[m,c] with integer labels[m]:
   * dlogits[i,j] = (softmax(logits_i)_j - [j == labels_i]) * grad_scale,
   * *loss_sum = sum_i -log softmax(logits_i)_{labels_i}, *correct = #{i: argmax == label}.
   * dlogits may be NULL (evaluation only). */
  void (*softmax_xent)(const float *logits, const int32_t *labels, int m, int c, float grad_scale,
                       float *dlogits, double *loss_sum, int64_t *correct);

  /* SGD with momentum and weight decay (PyTorch's convention):
   * v = momentum * v + (g + weight_decay * w);  w -= lr * v. */
  void (*sgd_update)(float *w, const float *g, float *v, int64_t count, float lr, float momentum,
                     float weight_decay);

  /* x *= alpha. */
  void (*scale)(float *x, int64_t count, float alpha);

  /* The number of NaN and infinite values in x[0, count); returns when the work queued
   * before it is done (it synchronises on a GPU to return its host result). */
  int64_t (*count_nonfinite)(const float *x, int64_t count);

  /* ---- memory of the back end (host memory for CPU, device memory for CUDA) ---- */

  /* nbytes of zeroed memory, or NULL when there is not enough; release(NULL) is a no-op. */
  void *(*alloc)(size_t nbytes);
  void (*release)(void *p);
  /* Copies that return when done, after all work queued before them: host -> back end,
   * back end -> host, and within the back end. */
  void (*upload)(void *dst, const void *host_src, size_t nbytes);
  void (*download)(void *host_dst, const void *src, size_t nbytes);
  void (*copy)(void *dst, const void *src, size_t nbytes);
  /* Wait until all queued work is done (a no-op on the CPU). */
  void (*sync)(void);
} mn_kernels_t;

/* The CPU back end (GEMM through CBLAS/OpenBLAS). Never NULL. */
const mn_kernels_t *mn_kernels_cpu(void);

/* The CUDA back end (kernels/cuda/, GEMM through cuBLAS), or NULL when no device is usable:
 * the build has no CUDA (MN_HAVE_CUDA undefined; kernels/cuda_absent.c), cudaGetDeviceCount
 * fails or finds none, or cuBLAS cannot start. Its pointers are device pointers; its ops run
 * on the default stream of the current device, and softmax_xent synchronises to return its
 * host results. The first call picks up the current device; not thread-safe before it. */
const mn_kernels_t *mn_kernels_cuda(void);

/* Opt in (on != 0) or out of TF32 tensor-core math for the CUDA gemm (off by default:
 * full FP32). A no-op without CUDA. */
void mn_kernels_cuda_set_tf32(int on);

#ifdef __cplusplus
}
#endif
#endif /* MN_KERNELS_H */
