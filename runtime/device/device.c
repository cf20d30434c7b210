/* device.c: opening a rank's device (mn_device.h) and the device-side mechanics the
 * trainer uses, dispatched to the GPU half (device_cuda.c) or done here for the CPU, where
 * input is used in place and copies to the host are plain copies. The device owns the
 * kernel context of its ops (dev->ctx): the compute stream and the workspace. */
#include "mn_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_device_gpu.h"
#include "mn_log.h"

int mn_device_gpu_count(void) { return mn_gpu_count(); }

static void open_cpu(mn_device_t *dev) {
  memset(dev, 0, sizeof *dev);
  dev->k = mn_kernels_cpu();
  dev->index = -1;
  snprintf(dev->name, sizeof dev->name, "cpu");
}

mn_status_t mn_device_open(mn_device_kind_t want, int local_rank, int tf32, int deterministic,
                           mn_device_t *dev) {
  mn_device_t d; /* the CPU, unless a GPU opens (mn_gpu_open writes d only on success) */
  open_cpu(&d);
  d.deterministic = deterministic != 0;
  int warn = 0;
  mn_status_t st =
      want == MN_DEVICE_CPU ? MN_OK : mn_gpu_open(local_rank, tf32, deterministic, &d, &warn);
  if (st != MN_OK && want == MN_DEVICE_GPU)
    return mn_error(st, "compute.device = gpu: %s", mn_error_message());
  if (st != MN_OK && warn)
    mn_log_warn("a GPU is here but unusable (%s): computing on the CPU", mn_error_message());
  else if (st != MN_OK)
    mn_log_debug("no GPU for this rank (%s): computing on the CPU", mn_error_message());
  /* the fallback succeeded: the probe's error is no one's reason for anything later */
  if (st != MN_OK) mn_error_clear();
  *dev = d;
  return MN_OK;
}

void mn_device_close(mn_device_t *dev) {
  if (dev->k) dev->k->release(dev->ctx.workspace); /* cudaFree waits for the device */
  if (dev->gpu) {
    for (int i = 0; i < MN_DEVICE_SLOTS; i++) {
      dev->k->release(dev->x_slot[i]);
      dev->k->release(dev->y_slot[i]);
    }
    mn_gpu_close(dev);
  }
  memset(dev, 0, sizeof *dev);
}

mn_status_t mn_device_workspace_reserve(mn_device_t *dev, size_t nbytes) {
  if (nbytes <= dev->ctx.workspace_nbytes) return MN_OK;
  dev->k->sync(&dev->ctx); /* no queued op may still use the old one */
  dev->k->release(dev->ctx.workspace);
  dev->ctx.workspace = NULL;
  dev->ctx.workspace_nbytes = 0;
  void *p = dev->k->alloc(nbytes);
  if (!p)
    return mn_error(MN_ERR_NOMEM, "%s: cannot allocate %zu bytes of kernel workspace", dev->name,
                    nbytes);
  dev->ctx.workspace = p;
  dev->ctx.workspace_nbytes = nbytes;
  return MN_OK;
}

void *mn_device_host_alloc(const mn_device_t *dev, size_t nbytes) {
  if (dev && dev->gpu) return mn_gpu_host_alloc(nbytes);
  return mn_kernels_cpu()->alloc(nbytes);
}

void mn_device_host_free(const mn_device_t *dev, void *p) {
  if (!p) return;
  if (dev && dev->gpu)
    mn_gpu_host_free(p);
  else
    mn_kernels_cpu()->release(p);
}

mn_status_t mn_device_input_init(mn_device_t *dev, int batch, int dim, int label_width) {
  dev->slot_batch = batch;
  dev->slot_dim = dim;
  dev->slot_label_width = label_width;
  if (!dev->gpu) return MN_OK;
  for (int i = 0; i < MN_DEVICE_SLOTS; i++) {
    dev->x_slot[i] = dev->k->alloc((size_t)batch * (size_t)dim * 4);
    dev->y_slot[i] = dev->k->alloc((size_t)batch * (size_t)label_width * sizeof(int32_t));
    if (!dev->x_slot[i] || !dev->y_slot[i])
      return mn_error(MN_ERR_NOMEM, "%s: cannot allocate input buffers for %d x (%d + %d) values",
                      dev->name, batch, dim, label_width);
  }
  mn_gpu_input_init(dev); /* the copies into the slots come after their zeroing */
  return MN_OK;
}

void mn_device_input_put(mn_device_t *dev, const void *x, const int32_t *y, int count,
                         const void **x_dev, const int32_t **y_dev) {
  MN_ASSERT(count >= 1 && count <= dev->slot_batch);
  if (!dev->gpu) {
    *x_dev = x;
    *y_dev = y;
    return;
  }
  int s = dev->next_slot;
  dev->next_slot = (s + 1) % MN_DEVICE_SLOTS;
  mn_gpu_input_put(dev, s, x, y, count);
  *x_dev = dev->x_slot[s];
  *y_dev = dev->y_slot[s];
}

void mn_device_input_done(mn_device_t *dev) {
  if (dev->gpu) mn_gpu_input_done(dev);
}

void mn_device_download_async(mn_device_t *dev, void *dst, const void *src, size_t nbytes) {
  if (dev->gpu)
    mn_gpu_download_async(dev, dst, src, nbytes);
  else
    dev->k->download(&dev->ctx, dst, src, nbytes);
}

void mn_device_download_wait(mn_device_t *dev) {
  if (dev->gpu) mn_gpu_download_wait(dev);
}

void *mn_device_stream(const mn_device_t *dev) { return dev->ctx.stream; }
