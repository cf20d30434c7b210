/* device_cuda_absent.c: the GPU half of mn_device.h in a build without CUDA: no GPU is
 * ever usable, so compute.device = auto computes on the CPU and compute.device = gpu is
 * unavailable (exit 69). Nothing else here is reached, since no device has gpu set. */
#include <stdlib.h>

#include "mn_device_gpu.h"

int mn_gpu_count(void) { return 0; }

mn_status_t mn_gpu_open(int local_rank, int tf32, int deterministic, mn_device_t *dev, int *warn) {
  (void)local_rank, (void)tf32, (void)deterministic, (void)dev;
  *warn = 0;
  return mn_error(MN_ERR_UNAVAILABLE, "this build of mn has no CUDA (configure with the CUDA "
                                      "toolkit to use GPUs)");
}

void mn_gpu_close(mn_device_t *dev) { (void)dev; }
void *mn_gpu_host_alloc(size_t nbytes) { return calloc(1, nbytes ? nbytes : 1); }
void mn_gpu_host_free(void *p) { free(p); }
void mn_gpu_input_init(mn_device_t *dev) { (void)dev; }
void mn_gpu_input_put(mn_device_t *dev, int slot, const void *x, const int32_t *y, int count) {
  (void)dev, (void)slot, (void)x, (void)y, (void)count;
  abort();
}
void mn_gpu_input_done(mn_device_t *dev) { (void)dev; }
void mn_gpu_download_async(mn_device_t *dev, void *dst, const void *src, size_t nbytes) {
  (void)dev, (void)dst, (void)src, (void)nbytes;
  abort();
}
void mn_gpu_download_wait(mn_device_t *dev) { (void)dev; }
