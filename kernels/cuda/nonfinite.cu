/* nonfinite.cu: the CUDA count of NaN and infinite values, and the sum of the squares of the
 * finite ones (the trainer's check of a reduced gradient before it updates the weights, and
 * the gradient norm for clipping, from one pass over memory).
 *
 * Two kernels on the context's stream, no atomics: a grid-stride pass in which each thread
 * counts its elements and sums their squares in double (each square exact, so FMA or not
 * gives the same bits), each block adding its threads' partials in a fixed tree into its
 * slot of the workspace; then one block that sums the slots in a fixed order
 * (mn_cuda_sums_kernel, mn_cuda.cuh) into the totals, which are read back (that waits for
 * the work queued before it on that stream). The grid depends on count alone, so the sum
 * has the same bits on every run (not those of the CPU's order). Without sumsq the squares
 * are skipped. The workspace holds the totals, then one double and one 64-bit count per
 * block (layout()). */
#include "mn_cuda.cuh"

/* The scratch in the workspace: the totals, then each block's sum and count. */
static mn_cuda_sums_layout_t layout(unsigned blocks) {
  return mn_cuda_sums_layout(blocks, sizeof(unsigned long long));
}

static __global__ void nonfinite_kernel(const float *__restrict__ x, int64_t count, int want_sum,
                                        double *__restrict__ sums,
                                        unsigned long long *__restrict__ counts) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  mn_cuda_sums_t mine = {0.0, 0};
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride) {
    float xi = x[i];
    int ok = isfinite(xi);
    mine.count += !ok;
    if (want_sum) {
      double d = ok ? (double)xi : 0.0;
      mine.sum += d * d;
    }
  }
  mn_cuda_sums_t block = mn_cuda_block_sums(mine);
  if (threadIdx.x == 0) {
    sums[blockIdx.x] = block.sum;
    counts[blockIdx.x] = block.count;
  }
}

extern "C" size_t mn_count_nonfinite_workspace_cuda(int64_t count) {
  return count > 0 ? layout(mn_cuda_blocks(count)).nbytes : 0;
}

extern "C" int64_t mn_count_nonfinite_cuda(const mn_kctx_t *ctx, const float *x, int64_t count,
                                           double *sumsq) {
  if (count <= 0) {
    if (sumsq) *sumsq = 0.0;
    return 0;
  }
  unsigned blocks = mn_cuda_blocks(count);
  mn_cuda_sums_layout_t l = layout(blocks);
  mn_cuda_need_workspace(ctx, l.nbytes, "count_nonfinite");
  char *ws = (char *)ctx->workspace;
  mn_cuda_sums_t *total = (mn_cuda_sums_t *)ws;
  double *sums = (double *)(ws + l.sums);
  unsigned long long *counts = (unsigned long long *)(ws + l.counts);
  cudaStream_t s = mn_cuda_stream(ctx);
  nonfinite_kernel<<<blocks, MN_CUDA_THREADS, 0, s>>>(x, count, sumsq != NULL, sums, counts);
  MN_CUDA_LAUNCHED("nonfinite_kernel");
  mn_cuda_sums_t t = mn_cuda_sums_read(sums, counts, blocks, total, s);
  if (sumsq) *sumsq = t.sum;
  return (int64_t)t.count;
}
