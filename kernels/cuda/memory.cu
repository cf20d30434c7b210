/* memory.cu: the CUDA back end's memory ops: device memory (zeroed on allocation) and
 * copies that return when done. Copies go through the legacy default stream, so they come
 * after every op queued before them, as the ops of the table do. */
#include "mn_cuda.cuh"

extern "C" void *mn_alloc_cuda(size_t nbytes) {
  void *p = NULL;
  if (nbytes == 0) nbytes = 256;
  if (cudaMalloc(&p, nbytes) != cudaSuccess) {
    (void)cudaGetLastError(); /* out of memory is an answer, not a sticky error */
    return NULL;
  }
  MN_CUDA_CHECK(cudaMemset(p, 0, nbytes));
  return p;
}

extern "C" void mn_release_cuda(void *p) {
  if (p) MN_CUDA_CHECK(cudaFree(p));
}

extern "C" void mn_upload_cuda(void *dst, const void *host_src, size_t nbytes) {
  if (nbytes > 0) MN_CUDA_CHECK(cudaMemcpy(dst, host_src, nbytes, cudaMemcpyHostToDevice));
}

extern "C" void mn_download_cuda(void *host_dst, const void *src, size_t nbytes) {
  if (nbytes > 0) MN_CUDA_CHECK(cudaMemcpy(host_dst, src, nbytes, cudaMemcpyDeviceToHost));
}

extern "C" void mn_copy_cuda(void *dst, const void *src, size_t nbytes) {
  if (nbytes > 0 && dst != src)
    MN_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice));
}

extern "C" void mn_sync_cuda(void) { MN_CUDA_CHECK(cudaDeviceSynchronize()); }
