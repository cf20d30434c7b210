/* memory.cu: the CUDA back end's memory ops: device memory (zeroed on allocation) and
 * copies that return when done. Copies are queued on the context's stream, so they come
 * after every op queued before them there, and then wait for that stream; on the legacy
 * default stream (NULL) this is what cudaMemcpy did. sync waits for the context's stream,
 * or for the whole device when that is the legacy default stream (the work of other
 * streams, NCCL's included, as before contexts). */
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

static void copy_sync(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes,
                      cudaMemcpyKind kind) {
  cudaStream_t s = mn_cuda_stream(ctx);
  MN_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, s));
  MN_CUDA_CHECK(cudaStreamSynchronize(s));
}

extern "C" void mn_upload_cuda(const mn_kctx_t *ctx, void *dst, const void *host_src,
                               size_t nbytes) {
  if (nbytes > 0) copy_sync(ctx, dst, host_src, nbytes, cudaMemcpyHostToDevice);
}

extern "C" void mn_download_cuda(const mn_kctx_t *ctx, void *host_dst, const void *src,
                                 size_t nbytes) {
  if (nbytes > 0) copy_sync(ctx, host_dst, src, nbytes, cudaMemcpyDeviceToHost);
}

extern "C" void mn_copy_cuda(const mn_kctx_t *ctx, void *dst, const void *src, size_t nbytes) {
  if (nbytes > 0 && dst != src) copy_sync(ctx, dst, src, nbytes, cudaMemcpyDeviceToDevice);
}

extern "C" void mn_sync_cuda(const mn_kctx_t *ctx) {
  cudaStream_t s = mn_cuda_stream(ctx);
  if (s)
    MN_CUDA_CHECK(cudaStreamSynchronize(s));
  else
    MN_CUDA_CHECK(cudaDeviceSynchronize());
}
