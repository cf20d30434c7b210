/* nonfinite.cu: the CUDA count of NaN and infinite values (the trainer's check of a reduced
 * gradient before it updates the weights). A grid-stride loop on the context's stream: each
 * thread counts its elements and adds its count to one device counter only when it found
 * any (so the atomics cost nothing on finite data); the counter is read back, which waits
 * for the work queued before it on that stream. The counter lives at the start of the
 * context's workspace (count_nonfinite_workspace: one 64-bit word). */
#include "mn_cuda.cuh"

static __global__ void nonfinite_kernel(const float *x, int64_t count, unsigned long long *out) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  unsigned long long n = 0;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride)
    n += !isfinite(x[i]);
  if (n) atomicAdd(out, n);
}

extern "C" size_t mn_count_nonfinite_workspace_cuda(int64_t count) {
  return count > 0 ? sizeof(unsigned long long) : 0;
}

extern "C" int64_t mn_count_nonfinite_cuda(const mn_kctx_t *ctx, const float *x, int64_t count) {
  if (count <= 0) return 0;
  mn_cuda_need_workspace(ctx, mn_count_nonfinite_workspace_cuda(count), "count_nonfinite");
  unsigned long long *counter = (unsigned long long *)ctx->workspace;
  cudaStream_t s = mn_cuda_stream(ctx);
  MN_CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof *counter, s));
  nonfinite_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS, 0, s>>>(x, count, counter);
  MN_CUDA_LAUNCHED("nonfinite_kernel");
  unsigned long long n = 0;
  MN_CUDA_CHECK(cudaMemcpyAsync(&n, counter, sizeof n, cudaMemcpyDeviceToHost, s));
  MN_CUDA_CHECK(cudaStreamSynchronize(s));
  return (int64_t)n;
}
