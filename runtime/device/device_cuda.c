/* device_cuda.c: the GPU half of mn_device.h (mn_device_gpu.h), on the CUDA runtime API.
 *
 * Picks the rank's GPU, creates its kernel table (cuBLAS on that device), and owns two
 * non-blocking streams: one for input copies and one for copies to the host (snapshots),
 * so that neither serialises with compute, plus the events that order them against the
 * compute stream (the kernel context's, dev->ctx.stream: the legacy default stream, NULL,
 * with which the zeroing of new allocations and every cudaMemcpy are ordered implicitly;
 * a created stream would need those orders checked on a GPU): an input slot is overwritten only
 * after the compute that read it, and compute reads it only after its copy. Built only where CUDA
 * is; compiled, never run on the development machine (no GPU there): see docs/gpu.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cuda_runtime_api.h>

#include "mn_device_gpu.h"
#include "mn_gpu_policy.h"
#include "mn_log.h"

_Static_assert((int)cudaErrorInsufficientDriver == (int)MN_CUDA_ERROR_INSUFFICIENT_DRIVER,
               "mn_gpu_policy.h: cudaErrorInsufficientDriver");
_Static_assert((int)cudaErrorNoDevice == (int)MN_CUDA_ERROR_NO_DEVICE,
               "mn_gpu_policy.h: cudaErrorNoDevice");

struct mn_device_gpu {
  cudaStream_t input, download;
  cudaEvent_t copied[MN_DEVICE_SLOTS]; /* input slot s holds its batch */
  cudaEvent_t used[MN_DEVICE_SLOTS];   /* compute is done with input slot s */
  cudaEvent_t queued;                  /* compute queued before a download */
  int last_slot;
};

/* A CUDA failure inside an operation that returns nothing is a device fault: fatal, with
 * the call named (as kernels/cuda does). */
#define GPU_CHECK(call)                                                                            \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) {                                                                       \
      mn_log_error("CUDA error at %s:%d: %s: %s", __FILE__, __LINE__, #call,                       \
                   cudaGetErrorString(e_));                                                        \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

#define GPU_TRY(call, what)                                                                        \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) {                                                                       \
      mn_status_t st_ =                                                                            \
          mn_error(MN_ERR_UNAVAILABLE, "%s: %s (%s)", what, cudaGetErrorString(e_), #call);        \
      (void)cudaGetLastError();                                                                    \
      return st_;                                                                                  \
    }                                                                                              \
  } while (0)

int mn_gpu_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

/* Are there NVIDIA device nodes (a GPU the driver knows, usable or not)? */
static int devices_present(void) {
  return access("/dev/nvidia0", F_OK) == 0 || access("/proc/driver/nvidia/gpus", F_OK) == 0;
}

/* No device to use: say why in a user's words (mn_gpu_unusable_why), and whether a GPU is
 * probably there (*warn). The runtime's sticky state is reset, so that the CPU fallback
 * carries no CUDA error along. */
static mn_status_t unusable(cudaError_t e, int *warn) {
  int driver = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;
  char why[512];
  *warn = mn_gpu_unusable_why((int)e, cudaGetErrorString(e), driver, CUDART_VERSION,
                              devices_present(), why, sizeof why);
  (void)cudaGetLastError();
  return mn_error(MN_ERR_UNAVAILABLE, "%s", why);
}

/* The launcher's GPU by its PCI bus id (MN_GPU_PCI) when CUDA sees it, else its NVML index
 * (MN_GPU) as a CUDA number, else the local rank (mn_gpu_choose). */
static mn_status_t pick(int local_rank, int *index, int *warn) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return unusable(e, warn);
  const char *pci = getenv("MN_GPU_PCI"); /* the launcher's placement (rankenv.c) */
  int by_pci = -1;
  if (pci && *pci && strcmp(pci, "-") != 0 &&
      cudaDeviceGetByPCIBusId(&by_pci, pci) != cudaSuccess) {
    by_pci = -1;
    (void)cudaGetLastError();
  }
  char note[512];
  mn_status_t st =
      mn_gpu_choose(n, local_rank, getenv("MN_GPU"), pci, by_pci, index, note, sizeof note);
  if (st == MN_OK && note[0]) mn_log_warn("%s", note);
  *warn = st != MN_OK && n > 0 && !(getenv("MN_GPU") && !strcmp(getenv("MN_GPU"), "-1"));
  return st;
}

/* The compute stream: the one the kernels run on (their context's). */
static cudaStream_t compute(const mn_device_t *dev) { return (cudaStream_t)dev->ctx.stream; }

static mn_status_t make_state(mn_device_gpu_t *g) {
  GPU_TRY(cudaStreamCreateWithFlags(&g->input, cudaStreamNonBlocking), "input stream");
  GPU_TRY(cudaStreamCreateWithFlags(&g->download, cudaStreamNonBlocking), "download stream");
  for (int i = 0; i < MN_DEVICE_SLOTS; i++) {
    GPU_TRY(cudaEventCreateWithFlags(&g->copied[i], cudaEventDisableTiming), "event");
    GPU_TRY(cudaEventCreateWithFlags(&g->used[i], cudaEventDisableTiming), "event");
  }
  GPU_TRY(cudaEventCreateWithFlags(&g->queued, cudaEventDisableTiming), "event");
  g->last_slot = -1;
  return MN_OK;
}

mn_status_t mn_gpu_open(int local_rank, int tf32, int deterministic, mn_device_t *dev, int *warn) {
  int index = -1;
  mn_status_t st = pick(local_rank, &index, warn);
  if (st != MN_OK) return st;
  *warn = 1; /* from here on, a GPU is there: a failure to use it is worth a warning */
  GPU_TRY(cudaSetDevice(index), "cannot select the GPU");
  if (deterministic) setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0); /* before cuBLAS starts */
  const mn_kernels_t *k = mn_kernels_cuda();
  if (!k)
    return mn_error(MN_ERR_UNAVAILABLE, "GPU %d: the CUDA kernels (cuBLAS) cannot start", index);
  mn_kernels_cuda_set_tf32(tf32 && !deterministic);
  struct cudaDeviceProp prop;
  GPU_TRY(cudaGetDeviceProperties(&prop, index), "cannot query the GPU");
  char bus[32] = "?";
  (void)cudaDeviceGetPCIBusId(bus, sizeof bus, index);
  mn_device_gpu_t *g = calloc(1, sizeof *g);
  if (!g) return mn_error(MN_ERR_NOMEM, "out of memory");
  st = make_state(g);
  if (st != MN_OK) {
    free(g);
    return st;
  }
  dev->k = k;
  dev->ctx.stream = NULL; /* compute on the legacy default stream; workspace: reserved later */
  dev->gpu = 1;
  dev->index = index;
  dev->g = g;
  snprintf(dev->name, sizeof dev->name, "GPU %d (%.80s, %.20s)", index, prop.name, bus);
  return MN_OK;
}

void mn_gpu_close(mn_device_t *dev) {
  mn_device_gpu_t *g = dev->g;
  if (!g) return;
  (void)cudaDeviceSynchronize();
  for (int i = 0; i < MN_DEVICE_SLOTS; i++) {
    cudaEventDestroy(g->copied[i]);
    cudaEventDestroy(g->used[i]);
  }
  cudaEventDestroy(g->queued);
  cudaStreamDestroy(g->input);
  cudaStreamDestroy(g->download);
  free(g);
  dev->g = NULL;
}

void *mn_gpu_host_alloc(size_t nbytes) {
  void *p = NULL;
  if (nbytes == 0) nbytes = 64;
  if (cudaHostAlloc(&p, nbytes, cudaHostAllocPortable) != cudaSuccess) {
    (void)cudaGetLastError();
    return NULL;
  }
  memset(p, 0, nbytes);
  return p;
}

void mn_gpu_host_free(void *p) {
  if (p) GPU_CHECK(cudaFreeHost(p));
}

/* The slots were just allocated and zeroed (cudaMemset on the legacy default stream); the
 * input stream is non-blocking, so it does not wait for that by itself: an event makes
 * every copy on it come after the zeroing. */
void mn_gpu_input_init(mn_device_t *dev) {
  mn_device_gpu_t *g = dev->g;
  GPU_CHECK(cudaEventRecord(g->queued, compute(dev)));
  GPU_CHECK(cudaStreamWaitEvent(g->input, g->queued, 0));
}

/* Into slot s: wait until the compute that last read slot s is done (the event recorded
 * when the batch after it was put), copy on the input stream, and let the compute stream
 * wait for the copy. */
void mn_gpu_input_put(mn_device_t *dev, int s, const void *x, const int32_t *y, int count) {
  mn_device_gpu_t *g = dev->g;
  if (g->last_slot >= 0) GPU_CHECK(cudaEventRecord(g->used[g->last_slot], compute(dev)));
  GPU_CHECK(cudaStreamWaitEvent(g->input, g->used[s], 0));
  GPU_CHECK(cudaMemcpyAsync(dev->x_slot[s], x, (size_t)count * (size_t)dev->slot_dim * 4,
                            cudaMemcpyHostToDevice, g->input));
  GPU_CHECK(cudaMemcpyAsync(dev->y_slot[s], y,
                            (size_t)count * (size_t)dev->slot_label_width * sizeof *y,
                            cudaMemcpyHostToDevice, g->input));
  GPU_CHECK(cudaEventRecord(g->copied[s], g->input));
  GPU_CHECK(cudaStreamWaitEvent(compute(dev), g->copied[s], 0));
  g->last_slot = s;
}

void mn_gpu_input_done(mn_device_t *dev) {
  mn_device_gpu_t *g = dev->g;
  if (g->last_slot >= 0) GPU_CHECK(cudaEventSynchronize(g->copied[g->last_slot]));
}

void mn_gpu_download_async(mn_device_t *dev, void *dst, const void *src, size_t nbytes) {
  mn_device_gpu_t *g = dev->g;
  GPU_CHECK(cudaEventRecord(g->queued, compute(dev)));
  GPU_CHECK(cudaStreamWaitEvent(g->download, g->queued, 0));
  GPU_CHECK(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToHost, g->download));
}

/* Called from the snapshot writer's thread too, whose current device is its own. */
void mn_gpu_download_wait(mn_device_t *dev) {
  GPU_CHECK(cudaSetDevice(dev->index));
  GPU_CHECK(cudaStreamSynchronize(dev->g->download));
}
