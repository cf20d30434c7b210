/* snapwriter.c: rank 0's background snapshot writer (mn_snapwriter.h).
 *
 * One thread, one job slot: the training thread fills the slot (a copy of the state) and
 * signals; the thread waits for the device's copy to land, writes and prunes, records the
 * result and signals back. The file format and the atomic write are mn_snapshot.h's
 * business. */
#include "mn_snapwriter.h"
#include "mn_clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mn_trainstate.h"

struct mn_snapwriter {
  char dir[4096];
  int keep;
  const mn_tensors_t *tensors;
  const float *params;
  int64_t nparams; /* tensors->size */
  const mn_optim_t *optim;
  mn_device_t *dev;
  int nbuf;                         /* 1 + the optimizer's states */
  float *host[MN_TRAINSTATE_BUFS];  /* the copies being written: parameters, then the states
                                      (host; pinned on a GPU) */
  float *image[MN_TRAINSTATE_BUFS]; /* GPU: the state copied on the device, then downloaded */
  mn_snapshot_meta_t meta;          /* owns its strings */
  mn_snapshot_tensor_t *extra;      /* [nextra]: the submit's extra tensors, data owned */
  int nextra;
  mn_snapwrite_result_t result;
  int busy, quit;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
};

static void write_one(mn_snapwriter_t *w) {
  mn_snapwrite_result_t *r = &w->result;
  double t0 = mn_now_s();
  int nt = 0;
  mn_snapshot_tensor_t *t = NULL;
  mn_device_download_wait(w->dev);
  r->status = mn_trainstate_registry_tensors(w->tensors, w->optim->kind, w->host, &t, &nt);
  if (r->status == MN_OK && w->nextra > 0) { /* the extra tensors after the registry's */
    mn_snapshot_tensor_t *all = realloc(t, (size_t)(nt + w->nextra) * sizeof *all);
    if (!all) {
      r->status = mn_error(MN_ERR_NOMEM, "snapshot writer: out of memory");
    } else {
      t = all;
      memcpy(t + nt, w->extra, (size_t)w->nextra * sizeof *t);
      nt += w->nextra;
    }
  }
  if (r->status == MN_OK)
    r->status = mn_snapshot_write(w->dir, &w->meta, t, nt, r->path, sizeof r->path);
  free(t);
  if (r->status == MN_OK) r->status = mn_snapshot_prune(w->dir, w->keep, r->path);
  if (r->status != MN_OK) snprintf(r->message, sizeof r->message, "%s", mn_error_message());
  r->write_s = mn_now_s() - t0;
}

static void *writer_main(void *arg) {
  mn_snapwriter_t *w = arg;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->busy && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
    if (!w->busy) break; /* quit, nothing pending */
    pthread_mutex_unlock(&w->mu);
    write_one(w); /* the training thread does not touch the job while busy */
    pthread_mutex_lock(&w->mu);
    w->busy = 0;
    pthread_cond_broadcast(&w->cv);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* The extra tensors' copies (the submit's; written, or no longer wanted). */
static void free_extra(mn_snapwriter_t *w) {
  for (int i = 0; i < w->nextra; i++) free(w->extra[i].bytes); /* bytes or data: one pointer */
  free(w->extra);
  w->extra = NULL;
  w->nextra = 0;
}

static void free_buffers(mn_snapwriter_t *w) {
  free_extra(w);
  for (int i = 0; i < MN_TRAINSTATE_BUFS; i++) {
    mn_device_host_free(w->dev, w->host[i]);
    w->dev->k->release(w->image[i]); /* NULL on the CPU */
  }
}

mn_status_t mn_snapwriter_start(const char *dir, int keep, const mn_tensors_t *tensors,
                                const float *params, const mn_optim_t *o, mn_device_t *dev,
                                mn_snapwriter_t **out) {
  mn_snapwriter_t *w = calloc(1, sizeof *w);
  if (!w) return mn_error(MN_ERR_NOMEM, "snapshot writer: out of memory");
  snprintf(w->dir, sizeof w->dir, "%s", dir);
  w->keep = keep;
  w->tensors = tensors;
  w->params = params;
  w->nparams = tensors->size;
  w->optim = o;
  w->dev = dev;
  w->nbuf = 1 + o->kind->nstates;
  size_t nbytes = (size_t)w->nparams * sizeof(float);
  int ok = 1;
  for (int i = 0; ok && i < w->nbuf; i++)
    ok = (w->host[i] = mn_device_host_alloc(dev, nbytes)) != NULL;
  for (int i = 0; ok && dev->gpu && i < w->nbuf; i++)
    ok = (w->image[i] = dev->k->alloc(nbytes)) != NULL;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  int rc = ok ? pthread_create(&w->thread, NULL, writer_main, w) : -1;
  if (rc != 0) {
    free_buffers(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
    return mn_error(rc < 0 ? MN_ERR_NOMEM : MN_ERR_INTERNAL,
                    "snapshot writer: cannot start (%lld parameters)", (long long)tensors->size);
  }
  *out = w;
  return MN_OK;
}

/* Wait until no write is in flight; out: the finished one's result, if there was one. */
static void wait_idle(mn_snapwriter_t *w, int had_job, mn_snapwrite_result_t *result) {
  pthread_mutex_lock(&w->mu);
  while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
  if (!result) return;
  if (had_job)
    *result = w->result;
  else
    result->status = (mn_status_t)-1;
}

/* Copy the extra tensors (host memory) into the writer's own. */
static mn_status_t copy_extra(mn_snapwriter_t *w, const mn_snapshot_tensor_t *extra, int nextra) {
  if (nextra <= 0) return MN_OK;
  if (!(w->extra = calloc((size_t)nextra, sizeof *w->extra))) return MN_ERR_NOMEM;
  for (; w->nextra < nextra; w->nextra++) {
    const mn_snapshot_tensor_t *x = &extra[w->nextra];
    size_t nbytes = x->dtype == MN_SNAPSHOT_U8 ? 1 : sizeof(float);
    for (int d = 0; d < x->ndims; d++) nbytes *= (size_t)x->dims[d];
    mn_snapshot_tensor_t *t = &w->extra[w->nextra];
    *t = *x;
    if (!(t->bytes = malloc(nbytes ? nbytes : 1))) return MN_ERR_NOMEM;
    if (nbytes) memcpy(t->bytes, x->bytes, nbytes);
  }
  return MN_OK;
}

mn_status_t mn_snapwriter_submit(mn_snapwriter_t *w, const mn_snapshot_meta_t *meta,
                                 const mn_snapshot_tensor_t *extra, int nextra,
                                 mn_snapwrite_result_t *previous) {
  double t0 = mn_now_s();
  wait_idle(w, w->meta.config != NULL, previous);
  mn_snapshot_meta_free(&w->meta);
  free_extra(w);
  w->meta = *meta;
  w->meta.config = strdup(meta->config ? meta->config : "");
  w->meta.data_files = strdup(meta->data_files ? meta->data_files : "");
  if (!w->meta.config || !w->meta.data_files || copy_extra(w, extra, nextra) != MN_OK) {
    mn_snapshot_meta_free(&w->meta);
    free_extra(w);
    return mn_error(MN_ERR_NOMEM, "snapshot writer: out of memory");
  }
  size_t nbytes = (size_t)w->nparams * sizeof(float);
  for (int i = 0; i < w->nbuf; i++) {
    const float *src = i == 0 ? w->params : w->optim->state[i - 1];
    if (w->dev->gpu) { /* an image on the device now; to the host while training goes on */
      w->dev->k->copy(&w->dev->ctx, w->image[i], src, nbytes);
      mn_device_download_async(w->dev, w->host[i], w->image[i], nbytes);
    } else {
      memcpy(w->host[i], src, nbytes);
    }
  }
  memset(&w->result, 0, sizeof w->result);
  w->result.step = meta->step;
  snprintf(w->result.reason, sizeof w->result.reason, "%s", meta->reason);
  w->result.stall_s = mn_now_s() - t0;
  pthread_mutex_lock(&w->mu);
  w->busy = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  return MN_OK;
}

int mn_snapwriter_failed(mn_snapwriter_t *w, mn_snapwrite_result_t *result) {
  pthread_mutex_lock(&w->mu);
  int failed = w->meta.config != NULL && !w->busy && w->result.status != MN_OK;
  if (failed) *result = w->result;
  pthread_mutex_unlock(&w->mu);
  return failed;
}

void mn_snapwriter_wait(mn_snapwriter_t *w, mn_snapwrite_result_t *result) {
  int had_job = w->meta.config != NULL;
  wait_idle(w, had_job, result);
  mn_snapshot_meta_free(&w->meta); /* reported once */
  free_extra(w);
}

void mn_snapwriter_stop(mn_snapwriter_t *w) {
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->quit = 1;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  mn_snapshot_meta_free(&w->meta);
  free_buffers(w);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
