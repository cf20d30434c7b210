/* mn_cuda_backend.h: the interface between libmn and its CUDA back end, libmn_cuda (internal).
 *
 * In a build with CUDA, the GPU half of the device (device_cuda.c), the NCCL gradient path
 * (nccl.c) and the CUDA kernels (kernels/cuda/) are a library of their own, libmn_cuda.so,
 * which links the CUDA runtime, cuBLAS and NCCL; libmn links none of them. libmn's
 * cuda_loader.c opens libmn_cuda with dlopen the first time a GPU is asked for (the entry
 * points of mn_device_gpu.h, mn_nccl.h and mn_kernels_cuda()), so that a program that only
 * computes on the CPU neither links nor loads a CUDA library.
 *
 * libmn_cuda exports one symbol, MN_CUDA_BACKEND_SYMBOL: a function that takes what it
 * needs of libmn (mn_host_t: the error and log functions, so that its messages land in the
 * caller's libmn, shared or static) and answers its table of entry points. Everything else
 * in it is hidden. The table's abi and version must be libmn's own: a libmn_cuda from
 * another build is refused, never half used. */
#ifndef MN_CUDA_BACKEND_H
#define MN_CUDA_BACKEND_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "mn_device_gpu.h"
#include "mn_kernels.h"
#include "mn_log.h"
#include "mn_nccl.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Grows by one with every change of mn_cuda_host_t or mn_cuda_backend_t. */
#define MN_CUDA_BACKEND_ABI 1
#define MN_CUDA_BACKEND_SYMBOL "mn_cuda_backend"
/* The library's file name, beside libmn (cuda_loader.c says where it is looked for). */
#define MN_CUDA_BACKEND_LIBRARY "libmn_cuda.so"

/* libmn's functions that libmn_cuda calls (in). */
typedef struct mn_cuda_host {
  int abi;
  mn_status_t (*error)(mn_status_t st, const char *fmt, ...);
  int (*log_enabled)(mn_log_level_t level);
  void (*log_vwrite)(mn_log_level_t level, const char *fmt, va_list ap);
  void (*assert_fail)(const char *expr, const char *file, int line);
} mn_cuda_host_t;

/* libmn_cuda's entry points: those of mn_device_gpu.h, mn_nccl.h and mn_kernels.h's CUDA
 * part, one for one (out). */
typedef struct mn_cuda_backend {
  int abi;
  const char *version; /* the MN_VERSION it was built with */
  int (*gpu_count)(void);
  mn_status_t (*gpu_open)(int local_rank, int tf32, int deterministic, mn_device_t *dev, int *warn);
  void (*gpu_close)(mn_device_t *dev);
  void *(*gpu_host_alloc)(size_t nbytes);
  void (*gpu_host_free)(void *p);
  void (*gpu_input_init)(mn_device_t *dev);
  void (*gpu_input_put)(mn_device_t *dev, int slot, const void *x, const int32_t *y, int count);
  void (*gpu_input_done)(mn_device_t *dev);
  void (*gpu_download_async)(mn_device_t *dev, void *dst, const void *src, size_t nbytes);
  void (*gpu_download_wait)(mn_device_t *dev);
  int (*nccl_built)(void);
  mn_status_t (*nccl_open)(MPI_Comm comm, void *compute_stream, double timeout_s, int deterministic,
                           mn_nccl_t **n);
  void (*nccl_close)(mn_nccl_t *n);
  mn_status_t (*nccl_sum_async)(mn_nccl_t *n, float *buf, int64_t count, int64_t bucket);
  mn_status_t (*nccl_wait_compute)(mn_nccl_t *n, int64_t bucket);
  mn_status_t (*nccl_download)(mn_nccl_t *n, int64_t bucket, void *dst, const void *src,
                               size_t nbytes);
  mn_status_t (*nccl_sum)(mn_nccl_t *n, float *buf, int64_t count);
  mn_status_t (*nccl_drain)(mn_nccl_t *n);
  const mn_kernels_t *(*kernels_cuda)(void);
  void (*kernels_cuda_set_tf32)(int on);
} mn_cuda_backend_t;

/* The type of MN_CUDA_BACKEND_SYMBOL: keeps host (static storage) for the library's life. */
typedef const mn_cuda_backend_t *(*mn_cuda_backend_fn)(const mn_cuda_host_t *host);

#ifdef __cplusplus
}
#endif
#endif /* MN_CUDA_BACKEND_H */
