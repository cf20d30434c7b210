/* loader.c: the prefetching loader of mn_data.h.
 *
 * One reader thread per loader walks this rank's steps (mn_shard.h) from a starting
 * (epoch, order position) onwards, across epoch boundaries, and reads each step's rows
 * into the next slot of a ring of `depth` buffers; the training thread takes full slots in order
 * and gives them back. The two meet on one mutex and two condition variables: nobody spins. A read
 * error stops the reader; the consumer gets it, with its message, after the batches read before it.
 * This file does no I/O of its own (data.c does) and does not decide the sample order (shard.c
 * does). The slots are host memory from the device (pinned for a GPU, so that the copy to
 * the device runs asynchronously at full speed). */
#include "mn_data.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum slot_state { SLOT_FREE = 0, SLOT_FULL = 1, SLOT_HELD = 2 };

typedef struct loader_slot {
  void *x;    /* [batch, dim] 4-byte elements (float or int32) */
  int32_t *y; /* [batch, label_width] */
  int64_t epoch, pos;
  enum slot_state state;
} loader_slot_t;

struct mn_loader {
  mn_dataset_t *ds;
  const mn_device_t *mem; /* the slots' host memory (pinned for a GPU); NULL: plain */
  mn_shard_plan_t plan;   /* owned */
  int depth, batch, dim, label_width;
  loader_slot_t *slots;
  int64_t *idx;       /* [batch], the reader's */
  int64_t epoch, pos; /* the reader's next step */
  int64_t global;     /* samples per step, all ranks */
  int fill, take;     /* next slot the reader fills, the consumer takes */
  int held;           /* slots the consumer holds */
  int stopping, failed;
  mn_status_t err;
  char errmsg[2048];
  pthread_mutex_t mu;
  pthread_cond_t full, freed;
  pthread_t thread;
  int started;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Record the reader's failure for the consumer (the last-error slot is thread-local). */
static void reader_fail(mn_loader_t *l, mn_status_t st) {
  pthread_mutex_lock(&l->mu);
  l->failed = 1;
  l->err = st;
  snprintf(l->errmsg, sizeof l->errmsg, "%s", mn_error_message());
  pthread_cond_broadcast(&l->full);
  pthread_mutex_unlock(&l->mu);
}

static void *reader_main(void *arg) {
  mn_loader_t *l = arg;
  int64_t built_epoch = -1;
  for (;;) {
    pthread_mutex_lock(&l->mu);
    while (!l->stopping && l->slots[l->fill].state != SLOT_FREE)
      pthread_cond_wait(&l->freed, &l->mu);
    int stop = l->stopping;
    pthread_mutex_unlock(&l->mu);
    if (stop) break;

    /* Only the reader touches fill, epoch, pos and the plan while running. */
    loader_slot_t *s = &l->slots[l->fill];
    mn_status_t st = MN_OK;
    if (l->epoch != built_epoch) {
      st = mn_shard_plan_epoch(&l->plan, l->epoch);
      built_epoch = l->epoch;
    }
    if (st == MN_OK) {
      mn_shard_samples_at(&l->plan, l->pos, l->idx);
      st = mn_dataset_read(l->ds, l->idx, l->batch, s->x, s->y);
    }
    if (st != MN_OK) {
      reader_fail(l, st);
      break;
    }

    pthread_mutex_lock(&l->mu);
    s->epoch = l->epoch;
    s->pos = l->pos;
    s->state = SLOT_FULL;
    l->fill = (l->fill + 1) % l->depth;
    pthread_cond_signal(&l->full);
    pthread_mutex_unlock(&l->mu);

    l->pos += l->global;
    if (mn_shard_steps_from(&l->plan, l->pos) == 0) {
      l->pos = 0;
      l->epoch++;
    }
  }
  return NULL;
}

static void loader_free(mn_loader_t *l) {
  if (l->slots)
    for (int i = 0; i < l->depth; i++) {
      mn_device_host_free(l->mem, l->slots[i].x);
      mn_device_host_free(l->mem, l->slots[i].y);
    }
  free(l->slots);
  free(l->idx);
  pthread_cond_destroy(&l->full);
  pthread_cond_destroy(&l->freed);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

mn_status_t mn_loader_start(mn_dataset_t *ds, const mn_shard_plan_t *plan, int64_t epoch,
                            int64_t pos, int depth, const mn_device_t *mem, mn_loader_t **out) {
  if (depth < 1 || plan->batch < 1 || mn_shard_steps_from(plan, pos) < 1 || epoch < 0)
    return mn_error(MN_ERR_INTERNAL,
                    "loader: bad start: depth %d, batch %d, epoch %lld, position %lld of %lld",
                    depth, plan->batch, (long long)epoch, (long long)pos, (long long)plan->n);
  if (plan->n != mn_dataset_size(ds))
    return mn_error(MN_ERR_INTERNAL, "loader: the plan has %lld samples, the dataset %lld",
                    (long long)plan->n, (long long)mn_dataset_size(ds));
  mn_loader_t *l = calloc(1, sizeof *l);
  if (!l) return mn_error(MN_ERR_NOMEM, "loader: out of memory");
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->full, NULL);
  pthread_cond_init(&l->freed, NULL);
  l->ds = ds;
  l->mem = mem;
  l->depth = depth;
  l->batch = plan->batch;
  l->dim = mn_dataset_dim(ds);
  l->label_width = mn_dataset_label_width(ds);
  l->epoch = epoch;
  l->pos = pos;
  l->global = (int64_t)plan->world * plan->batch;
  l->slots = calloc((size_t)depth, sizeof *l->slots);
  l->idx = malloc((size_t)l->batch * sizeof *l->idx);
  int ok = l->slots && l->idx;
  for (int i = 0; ok && i < depth; i++) {
    l->slots[i].x = mn_device_host_alloc(mem, (size_t)l->batch * (size_t)l->dim * 4);
    l->slots[i].y =
        mn_device_host_alloc(mem, (size_t)l->batch * (size_t)l->label_width * sizeof(int32_t));
    ok = l->slots[i].x && l->slots[i].y;
  }
  if (!ok) {
    loader_free(l);
    return mn_error(MN_ERR_NOMEM, "loader: out of memory for %d batches of %d x (%d + %d)", depth,
                    plan->batch, mn_dataset_dim(ds), mn_dataset_label_width(ds));
  }
  l->plan = *plan; /* owned from here on */
  int rc = pthread_create(&l->thread, NULL, reader_main, l);
  if (rc != 0) {
    loader_free(l); /* the plan stays the caller's: outputs only on success */
    return mn_error(MN_ERR_INTERNAL, "loader: cannot start the reader thread: %s", strerror(rc));
  }
  l->started = 1;
  *out = l;
  return MN_OK;
}

mn_status_t mn_loader_next(mn_loader_t *l, mn_batch_t *batch, double *wait_s) {
  mn_status_t st = MN_OK;
  pthread_mutex_lock(&l->mu);
  if (l->held == l->depth) {
    pthread_mutex_unlock(&l->mu);
    return mn_error(MN_ERR_INTERNAL, "loader: all %d slots are held: release a batch first",
                    l->depth);
  }
  loader_slot_t *s = &l->slots[l->take];
  if (s->state != SLOT_FULL && !l->failed) {
    double t0 = now_s();
    while (s->state != SLOT_FULL && !l->failed) pthread_cond_wait(&l->full, &l->mu);
    if (wait_s) *wait_s += now_s() - t0;
  }
  if (s->state == SLOT_FULL) {
    s->state = SLOT_HELD;
    l->held++;
    l->take = (l->take + 1) % l->depth;
    batch->x = s->x;
    batch->y = s->y;
    batch->count = l->batch;
    batch->epoch = s->epoch;
    batch->pos = s->pos;
  } else {
    st = mn_error(l->err, "%s", l->errmsg);
  }
  pthread_mutex_unlock(&l->mu);
  return st;
}

void mn_loader_release(mn_loader_t *l, mn_batch_t *batch) {
  pthread_mutex_lock(&l->mu);
  for (int i = 0; i < l->depth; i++)
    if (l->slots[i].state == SLOT_HELD && l->slots[i].x == batch->x) {
      l->slots[i].state = SLOT_FREE;
      l->held--;
      pthread_cond_signal(&l->freed);
      break;
    }
  pthread_mutex_unlock(&l->mu);
  batch->x = NULL;
  batch->y = NULL;
  batch->count = 0;
}

void mn_loader_stop(mn_loader_t *l) {
  if (!l) return;
  pthread_mutex_lock(&l->mu);
  l->stopping = 1;
  pthread_cond_broadcast(&l->freed);
  pthread_cond_broadcast(&l->full);
  pthread_mutex_unlock(&l->mu);
  if (l->started) pthread_join(l->thread, NULL);
  mn_shard_plan_free(&l->plan);
  loader_free(l);
}
