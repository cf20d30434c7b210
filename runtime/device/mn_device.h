/* mn_device.h: where a rank computes: the CPU, or one GPU chosen by local rank; and the
 * device-side mechanics the trainer needs beyond the kernel table.
 *
 * A device is opened once per rank. On a GPU it selects the CUDA device (the launcher's
 * placement when set: the GPU's PCI bus id MN_GPU_PCI, else its index MN_GPU; else local
 * rank modulo the visible devices; mn_gpu_policy.h), owns the
 * input-copy stream and the snapshot-copy stream, and hands out pinned host memory. On the
 * CPU every operation here is a plain copy or nothing, so that the trainer never branches
 * on the device. The GPU half lives in device_cuda.c (built with CUDA), the rest here. */
#ifndef MN_DEVICE_H
#define MN_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "mn_config.h"
#include "mn_kernels.h"
#include "mn_status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MN_DEVICE_SLOTS 2 /* input buffers on the device: one in use, one being filled */

typedef struct mn_device_gpu mn_device_gpu_t; /* device_cuda.c */

typedef struct mn_device {
  const mn_kernels_t *k; /* the kernel table of this device */
  /* The context of every op on this device: the compute stream (today the legacy default
   * stream, NULL, on a GPU too) and the workspace this device owns, sized by
   * mn_device_workspace_reserve() before the first step, released by mn_device_close(). */
  mn_kctx_t ctx;
  int gpu;        /* 1: a CUDA device */
  int index;      /* its CUDA ordinal (-1: CPU) */
  char name[128]; /* "cpu", or the GPU's name and PCI bus id */
  int deterministic;
  mn_device_gpu_t *g; /* GPU state (NULL on the CPU) */
  /* input slots on the device (GPU only) */
  void *x_slot[MN_DEVICE_SLOTS]; /* [batch, dim] 4-byte elements (float or int32) */
  int32_t *y_slot[MN_DEVICE_SLOTS];
  int slot_batch, slot_dim, slot_label_width, next_slot;
} mn_device_t;

/* ---- opening ------------------------------------------------------------------------ */

/* in: want (auto: a GPU when one is usable, else the CPU; gpu: a GPU or MN_ERR_UNAVAILABLE,
 * naming why), local_rank (>= 0), tf32, deterministic; out: dev. */
mn_status_t mn_device_open(mn_device_kind_t want, int local_rank, int tf32, int deterministic,
                           mn_device_t *dev);
void mn_device_close(mn_device_t *dev);

/* Is a CUDA device usable here, and how many are visible (0 without CUDA)? */
int mn_device_gpu_count(void);

/* ---- kernel workspace --------------------------------------------------------------- */

/* Make dev->ctx's workspace hold at least nbytes (in the device's memory), for the largest
 * need of the ops that will run (their *_workspace queries, e.g. mn_model_workspace_nbytes).
 * Grows only; waits for queued work before it replaces a smaller one. Call it while no op
 * is running, never from inside a step. MN_ERR_NOMEM when the memory is not there. */
mn_status_t mn_device_workspace_reserve(mn_device_t *dev, size_t nbytes);

/* ---- host memory -------------------------------------------------------------------- */

/* nbytes of zeroed host memory the device copies from and to at full speed (pinned on a
 * GPU), or NULL; mn_device_host_free(dev, NULL) is a no-op. */
void *mn_device_host_alloc(const mn_device_t *dev, size_t nbytes);
void mn_device_host_free(const mn_device_t *dev, void *p);

/* ---- input -------------------------------------------------------------------------- */

/* Input slots for batches of up to batch rows of dim 4-byte x elements (float features, or
 * int32 tokens) and label_width int32 labels (1, or T targets) (GPU: device buffers). */
mn_status_t mn_device_input_init(mn_device_t *dev, int batch, int dim, int label_width);
/* Bring one batch (host x[count, dim], y[count, label_width]) to the device: on a GPU an
 * asynchronous copy into the next slot on the input stream, which the compute stream waits for (the
 * caller goes on at once); on the CPU the host pointers themselves. The host buffers must
 * stay untouched until mn_device_input_done(). out: *x_dev, *y_dev. */
void mn_device_input_put(mn_device_t *dev, const void *x, const int32_t *y, int count,
                         const void **x_dev, const int32_t **y_dev);
/* Wait until the last put's copy has left the host buffers. */
void mn_device_input_done(mn_device_t *dev);

/* ---- copies to the host ------------------------------------------------------------- */

/* Queue a copy of nbytes at src (device) to host dst (from mn_device_host_alloc) after all
 * compute queued so far, on the copy stream; returns at once on a GPU. */
void mn_device_download_async(mn_device_t *dev, void *dst, const void *src, size_t nbytes);
/* Wait for every copy queued by mn_device_download_async (any thread). */
void mn_device_download_wait(mn_device_t *dev);

/* The peak dense FLOP/s of the GPU called name (mn_device_t.name) in FP32 or, with tf32,
 * on TF32 tensor cores, from a table of the GPUs mn knows (runtime/device/peak.c); 0 for
 * any other device and for the CPU. The denominator of MFU. */
double mn_device_peak_flops(const char *name, int tf32);

/* The compute stream (a cudaStream_t; NULL = the legacy default stream, and on the CPU):
 * dev->ctx.stream. */
void *mn_device_stream(const mn_device_t *dev);

#ifdef __cplusplus
}
#endif
#endif /* MN_DEVICE_H */
