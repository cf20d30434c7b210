/* nonfinite.cu: the CUDA count of NaN and infinite values (the trainer's check of a reduced
 * gradient before it updates the weights). A grid-stride loop on the default stream: each
 * thread counts its elements and adds its count to one device counter only when it found
 * any (so the atomics cost nothing on finite data); the counter is read back, which waits
 * for the work queued before it. The counter belongs to this file and is never freed. */
#include "mn_cuda.cuh"

static unsigned long long *g_count; /* one, on the device */

static __global__ void nonfinite_kernel(const float *x, int64_t count, unsigned long long *out) {
  int64_t stride = (int64_t)gridDim.x * blockDim.x;
  unsigned long long n = 0;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += stride)
    n += !isfinite(x[i]);
  if (n) atomicAdd(out, n);
}

extern "C" int64_t mn_count_nonfinite_cuda(const float *x, int64_t count) {
  if (count <= 0) return 0;
  if (!g_count) MN_CUDA_CHECK(cudaMalloc((void **)&g_count, sizeof *g_count));
  MN_CUDA_CHECK(cudaMemsetAsync(g_count, 0, sizeof *g_count, 0));
  nonfinite_kernel<<<mn_cuda_blocks(count), MN_CUDA_THREADS>>>(x, count, g_count);
  MN_CUDA_LAUNCHED("nonfinite_kernel");
  unsigned long long n = 0;
  MN_CUDA_CHECK(cudaMemcpy(&n, g_count, sizeof n, cudaMemcpyDeviceToHost));
  return (int64_t)n;
}
