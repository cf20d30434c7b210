/* gemm.cu: the CUDA GEMM of mn, c = alpha * op(a) * op(b) + beta * c, row-major, through
 * cuBLAS.
 *
 * cuBLAS is column-major; a row-major [r, s] matrix is the column-major [s, r] matrix of its
 * transpose, so row-major c = op(a) op(b) is column-major c^T = op(b)^T op(a)^T: the same
 * call with the operands (and m, n) swapped and the same transpose flags. The handle, and
 * its math mode (full FP32 unless mn_kernels_cuda_set_tf32 opted in to TF32), belong to the
 * back end (backend.cu); it is bound to the context's stream before each call (cheap: it
 * stores a pointer), so that callers with different streams can share it. cuBLAS's own
 * workspace is its business (CUBLAS_WORKSPACE_CONFIG), not the context's. Shapes are not
 * checked. */
#include "mn_cuda.cuh"

extern "C" void mn_gemm_cuda(const mn_kctx_t *ctx, int trans_a, int trans_b, int m, int n, int k,
                             float alpha, const float *a, int lda, const float *b, int ldb,
                             float beta, float *c, int ldc) {
  if (m <= 0 || n <= 0) return;
  cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  MN_CUBLAS_CHECK(cublasSetStream(mn_cuda_cublas(), mn_cuda_stream(ctx)));
  MN_CUBLAS_CHECK(cublasSgemm(mn_cuda_cublas(), op_b, op_a, n, m, k, &alpha, b, ldb, a, lda,
                              &beta, c, ldc));
}
