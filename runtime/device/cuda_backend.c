/* cuda_backend.c: the one exported entry of libmn_cuda.so (mn_cuda_backend.h): its table of
 * the CUDA back end's entry points, and the few functions of libmn that the back end calls
 * (mn_error, the log, mn_assert_fail), here forwarded to the libmn that loaded it, so that
 * an error set or a line logged in libmn_cuda is the caller's. Compiled into libmn_cuda only,
 * with every symbol hidden but mn_cuda_backend. */
#include <stdarg.h>
#include <stdio.h>

#include "mn_cuda_backend.h"

static const mn_cuda_host_t *g_host;

mn_status_t mn_error(mn_status_t st, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return g_host->error(st, "%s", msg);
}

int mn_log_enabled(mn_log_level_t level) { return g_host->log_enabled(level); }

void mn_log_write(mn_log_level_t level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  g_host->log_vwrite(level, fmt, ap);
  va_end(ap);
}

void mn_log_vwrite(mn_log_level_t level, const char *fmt, va_list ap) {
  g_host->log_vwrite(level, fmt, ap);
}

void mn_assert_fail(const char *expr, const char *file, int line) {
  g_host->assert_fail(expr, file, line);
  __builtin_unreachable(); /* (the host's aborts) */
}

static const mn_cuda_backend_t g_backend = {
    .abi = MN_CUDA_BACKEND_ABI,
    .version = MN_VERSION,
    .gpu_count = mn_gpu_count,
    .gpu_open = mn_gpu_open,
    .gpu_close = mn_gpu_close,
    .gpu_host_alloc = mn_gpu_host_alloc,
    .gpu_host_free = mn_gpu_host_free,
    .gpu_input_init = mn_gpu_input_init,
    .gpu_input_put = mn_gpu_input_put,
    .gpu_input_done = mn_gpu_input_done,
    .gpu_download_async = mn_gpu_download_async,
    .gpu_download_wait = mn_gpu_download_wait,
    .nccl_built = mn_nccl_built,
    .nccl_open = mn_nccl_open,
    .nccl_close = mn_nccl_close,
    .nccl_sum_async = mn_nccl_sum_async,
    .nccl_wait_compute = mn_nccl_wait_compute,
    .nccl_download = mn_nccl_download,
    .nccl_sum = mn_nccl_sum,
    .nccl_drain = mn_nccl_drain,
    .kernels_cuda = mn_kernels_cuda,
    .kernels_cuda_set_tf32 = mn_kernels_cuda_set_tf32,
};

__attribute__((visibility("default"))) const mn_cuda_backend_t *
mn_cuda_backend(const mn_cuda_host_t *host) {
  if (!host || host->abi != MN_CUDA_BACKEND_ABI) return NULL;
  g_host = host;
  return &g_backend;
}
