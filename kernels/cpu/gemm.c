/* gemm.c: the CPU GEMM of mn, c = alpha * op(a) * op(b) + beta * c, row-major.
 *
 * A thin call into CBLAS (OpenBLAS on Debian), which brings its own blocking, vector code
 * and threads; we add nothing but the mapping of mn_kernels_t's arguments. It does not
 * check shapes: callers pass consistent m, n, k and leading dimensions. */
#include <cblas.h>

#include "mn_cpu.h"

void mn_gemm_cpu(const mn_kctx_t *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc) {
  (void)ctx;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
