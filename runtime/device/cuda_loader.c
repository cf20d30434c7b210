/* cuda_loader.c: the CUDA entry points of libmn (mn_device_gpu.h, mn_nccl.h, mn_kernels_cuda
 * of mn_kernels.h) in a build with CUDA, answered by libmn_cuda.so (mn_cuda_backend.h),
 * which is opened with dlopen at the first call of any of them: when a GPU is asked for
 * (compute.device auto or gpu), never for a CPU-only run. libmn itself links no CUDA
 * library.
 *
 * Where libmn_cuda is looked for, first found first: $MN_CUDA_LIBRARY (a path); beside the
 * object that holds this code (libmn.so, or a program linked with libmn.a), and in ../lib
 * from there (a program in bin/ of an install); then the dynamic linker's own search
 * (LD_LIBRARY_PATH, RUNPATH, ldconfig). When it cannot be loaded (no CUDA runtime on this
 * machine, a libmn_cuda of another build), every entry point answers as the *_absent.c
 * twins of a build without CUDA do, with the loader's reason in the message: no GPU, no
 * NCCL, mn_kernels_cuda() NULL. Does not itself touch CUDA. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_cuda_backend.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static const mn_cuda_backend_t *g_backend;
static char g_path[PATH_MAX + 64];          /* the library opened */
static char g_why[2 * sizeof g_path + 256]; /* why there is no back end */

static const mn_cuda_host_t g_host = {
    .abi = MN_CUDA_BACKEND_ABI,
    .error = mn_error,
    .log_enabled = mn_log_enabled,
    .log_vwrite = mn_log_vwrite,
    .assert_fail = mn_assert_fail,
};

/* dlopen path; on failure append dlerror() to g_why. */
static void *try_open(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    size_t used = strlen(g_why);
    snprintf(g_why + used, sizeof g_why - used, "%s%s", used ? "; " : "", dlerror());
  } else {
    snprintf(g_path, sizeof g_path, "%s", path);
  }
  return h;
}

static void *open_library(void) {
  const char *env = getenv("MN_CUDA_LIBRARY");
  if (env && *env) return try_open(env);
  /* the file holding this code: libmn.so, or the program (whose name dladdr gives as its
   * argv[0], so /proc/self/exe then) */
  char dir[PATH_MAX];
  Dl_info info;
  ssize_t n;
  if (dladdr((void *)open_library, &info) && info.dli_fname && info.dli_fname[0] == '/')
    snprintf(dir, sizeof dir, "%s", info.dli_fname);
  else if ((n = readlink("/proc/self/exe", dir, sizeof dir - 1)) > 0)
    dir[n] = '\0';
  else
    dir[0] = '\0';
  char *slash = strrchr(dir, '/');
  if (slash) {
    *slash = '\0';
    const char *beside[] = {"%s/" MN_CUDA_BACKEND_LIBRARY, "%s/../lib/" MN_CUDA_BACKEND_LIBRARY};
    for (size_t i = 0; i < sizeof beside / sizeof *beside; i++) {
      char path[sizeof g_path];
      snprintf(path, sizeof path, beside[i], dir);
      if (access(path, F_OK) == 0) return try_open(path);
    }
  }
  return try_open(MN_CUDA_BACKEND_LIBRARY);
}

static void load(void) {
  void *h = open_library();
  if (!h) return;
  mn_cuda_backend_fn fn = (mn_cuda_backend_fn)dlsym(h, MN_CUDA_BACKEND_SYMBOL);
  const mn_cuda_backend_t *b = fn ? fn(&g_host) : NULL;
  if (!b || b->abi != MN_CUDA_BACKEND_ABI || strcmp(b->version, MN_VERSION) != 0) {
    snprintf(g_why, sizeof g_why, "%s is not the CUDA back end of this libmn %s (%s)", g_path,
             MN_VERSION,
             !fn  ? "no " MN_CUDA_BACKEND_SYMBOL
             : !b ? "it refused its interface"
                  : b->version);
    dlclose(h);
    return;
  }
  g_backend = b;
  mn_log_debug("CUDA back end: %s", g_path);
}

static const mn_cuda_backend_t *backend(void) {
  pthread_once(&g_once, load);
  return g_backend;
}

static mn_status_t unavailable(const char *what) {
  return mn_error(MN_ERR_UNAVAILABLE, "%s: mn's CUDA back end (%s) cannot be loaded: %s", what,
                  MN_CUDA_BACKEND_LIBRARY, g_why);
}

/* mn_device_gpu.h */

int mn_gpu_count(void) {
  const mn_cuda_backend_t *b = backend();
  return b ? b->gpu_count() : 0;
}

mn_status_t mn_gpu_open(int local_rank, int tf32, int deterministic, mn_device_t *dev, int *warn) {
  const mn_cuda_backend_t *b = backend();
  if (b) return b->gpu_open(local_rank, tf32, deterministic, dev, warn);
  /* a warning where a GPU's driver is installed (then the back end should have loaded), a
   * debug line on a machine without one */
  *warn = access("/dev/nvidiactl", F_OK) == 0;
  return unavailable("no GPU");
}

void mn_gpu_close(mn_device_t *dev) {
  const mn_cuda_backend_t *b = backend();
  if (b) b->gpu_close(dev);
}

void *mn_gpu_host_alloc(size_t nbytes) {
  const mn_cuda_backend_t *b = backend();
  return b ? b->gpu_host_alloc(nbytes) : calloc(1, nbytes ? nbytes : 1);
}

void mn_gpu_host_free(void *p) {
  const mn_cuda_backend_t *b = backend();
  if (b)
    b->gpu_host_free(p);
  else
    free(p);
}

/* (the rest is reached only with dev->gpu set, that is after the back end opened a GPU) */
void mn_gpu_input_init(mn_device_t *dev) { backend()->gpu_input_init(dev); }
void mn_gpu_input_put(mn_device_t *dev, int slot, const void *x, const int32_t *y, int count) {
  backend()->gpu_input_put(dev, slot, x, y, count);
}
void mn_gpu_input_done(mn_device_t *dev) { backend()->gpu_input_done(dev); }
void mn_gpu_download_async(mn_device_t *dev, void *dst, const void *src, size_t nbytes) {
  backend()->gpu_download_async(dev, dst, src, nbytes);
}
void mn_gpu_download_wait(mn_device_t *dev) { backend()->gpu_download_wait(dev); }

/* mn_nccl.h */

int mn_nccl_built(void) {
  const mn_cuda_backend_t *b = backend();
  return b ? b->nccl_built() : 0;
}

mn_status_t mn_nccl_open(MPI_Comm comm, void *compute_stream, double timeout_s, int deterministic,
                         mn_nccl_t **n) {
  const mn_cuda_backend_t *b = backend();
  if (b) return b->nccl_open(comm, compute_stream, timeout_s, deterministic, n);
  *n = NULL;
  return unavailable("comm.backend = nccl");
}

void mn_nccl_close(mn_nccl_t *n) {
  const mn_cuda_backend_t *b = backend();
  if (b) b->nccl_close(n);
}

/* (reached only with a communicator that nccl_open made) */
mn_status_t mn_nccl_sum_async(mn_nccl_t *n, float *buf, int64_t count, int64_t bucket) {
  return backend()->nccl_sum_async(n, buf, count, bucket);
}
mn_status_t mn_nccl_wait_compute(mn_nccl_t *n, int64_t bucket) {
  return backend()->nccl_wait_compute(n, bucket);
}
mn_status_t mn_nccl_download(mn_nccl_t *n, int64_t bucket, void *dst, const void *src,
                             size_t nbytes) {
  return backend()->nccl_download(n, bucket, dst, src, nbytes);
}
mn_status_t mn_nccl_sum(mn_nccl_t *n, float *buf, int64_t count) {
  return backend()->nccl_sum(n, buf, count);
}
mn_status_t mn_nccl_drain(mn_nccl_t *n) { return backend()->nccl_drain(n); }

/* mn_kernels.h */

const mn_kernels_t *mn_kernels_cuda(void) {
  const mn_cuda_backend_t *b = backend();
  return b ? b->kernels_cuda() : NULL;
}

void mn_kernels_cuda_set_tf32(int on) {
  const mn_cuda_backend_t *b = backend();
  if (b) b->kernels_cuda_set_tf32(on);
}
