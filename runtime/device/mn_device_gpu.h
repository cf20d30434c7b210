/* mn_device_gpu.h: the GPU half of mn_device.h, as device.c calls it (internal).
 *
 * device_cuda.c implements it with the CUDA runtime where the build has CUDA;
 * device_cuda_absent.c answers "no GPU" where it has not. device.c dispatches to it when
 * dev->gpu is set and is the only caller. */
#ifndef MN_DEVICE_GPU_H
#define MN_DEVICE_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "mn_device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Visible CUDA devices (0 without CUDA or without a driver). */
int mn_gpu_count(void);
/* Select this rank's GPU (mn_gpu_choose: MN_GPU_PCI, MN_GPU, else local_rank modulo the
 * count), its kernel table, streams and events. MN_ERR_UNAVAILABLE, naming why, when there
 * is none to use; then *warn says whether a GPU is there but unusable (a driver too old, a
 * device that fails), which compute.device = auto reports as a warning, not a debug line. */
mn_status_t mn_gpu_open(int local_rank, int tf32, int deterministic, mn_device_t *dev, int *warn);
void mn_gpu_close(mn_device_t *dev);
void *mn_gpu_host_alloc(size_t nbytes);
void mn_gpu_host_free(void *p);
/* Order the first copies into new input slots after their zeroing. */
void mn_gpu_input_init(mn_device_t *dev);
void mn_gpu_input_put(mn_device_t *dev, int slot, const void *x, const int32_t *y, int count);
void mn_gpu_input_done(mn_device_t *dev);
void mn_gpu_download_async(mn_device_t *dev, void *dst, const void *src, size_t nbytes);
void mn_gpu_download_wait(mn_device_t *dev);

#ifdef __cplusplus
}
#endif
#endif /* MN_DEVICE_GPU_H */
