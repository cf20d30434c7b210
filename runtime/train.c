/* train.c: one data-parallel training run (mn_train.h).
 *
 * Set-up (data, plan, model, optimizer, loader), the epoch loop with its one-page training
 * step, validation at each epoch end, and the summary. Every phase that can fail on one
 * rank alone ends in an agreement among the ranks, so that no rank is left waiting in a
 * collective: set-up through mn_comm_settle(), and each step through a control slot that
 * rides at the end of the gradient buffer in the step's own allreduce (nonzero when any
 * rank failed to produce its batch). Logging and bookkeeping stay out of the step. */
#include "mn_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mn_comm.h"
#include "mn_data.h"
#include "mn_log.h"
#include "mn_model.h"
#include "mn_optim.h"
#include "mn_shard.h"

typedef struct run {
  const mn_config_t *cfg;
  const mn_kernels_t *k;
  mn_comm_t comm;
  mn_dataset_t *train, *val;
  mn_shard_plan_t plan; /* this rank's plan until the loader takes it over */
  int64_t steps_per_epoch;
  mn_loader_t *loader;
  mn_model_t model;
  mn_optim_t optim;
  mn_metrics_t metrics;
  int64_t total_steps;
  mn_timing_t t;
  int failed_rank; /* the lowest rank that failed, once agreed (-1: none) */
} run_t;

static mn_status_t open_data(run_t *r) {
  const mn_config_t *cfg = r->cfg;
  int dim = cfg->model.layers[0], classes = cfg->model.layers[cfg->model.nlayers - 1];
  mn_status_t st = mn_dataset_open(cfg->data.train, dim, classes, &r->train);
  if (st == MN_OK && cfg->data.val[0]) st = mn_dataset_open(cfg->data.val, dim, classes, &r->val);
  if (st != MN_OK) return st;
  mn_shard_opts_t o = {cfg->data.block_size, cfg->data.shuffle_blocks, cfg->data.shuffle,
                       cfg->data.remainder == MN_REMAINDER_PAD, cfg->data.seed};
  st = mn_shard_plan_init(mn_dataset_size(r->train), r->comm.world, r->comm.rank,
                          cfg->data.batch_size, &o, &r->plan);
  if (st != MN_OK) return mn_error(st, "%s: %s", mn_dataset_path(r->train, 0), mn_error_message());
  return MN_OK;
}

static mn_status_t setup(run_t *r, int64_t start_step) {
  const mn_config_t *cfg = r->cfg;
  mn_status_t st = open_data(r);
  if (st != MN_OK) return st;
  int64_t spe = r->steps_per_epoch = r->plan.steps_per_epoch;
  r->total_steps = (int64_t)cfg->schedule.epochs * spe;
  if (cfg->schedule.max_steps > 0 && cfg->schedule.max_steps < r->total_steps)
    r->total_steps = cfg->schedule.max_steps;
  st = mn_model_init(&r->model, r->k, cfg->model.layers, cfg->model.nlayers, cfg->data.batch_size,
                     cfg->model.seed);
  if (st != MN_OK) return st;
  st = mn_optim_init(&r->optim, cfg, r->model.nparams, spe, r->total_steps);
  if (st != MN_OK) return st;
  st = mn_loader_start(r->train, &r->plan, start_step / spe, start_step % spe, cfg->data.prefetch,
                       &r->loader);
  if (st != MN_OK) return st;
  memset(&r->plan, 0, sizeof r->plan); /* the loader owns it now */
  return mn_metrics_open(&r->metrics, r->comm.rank, r->comm.world, cfg->log.metrics,
                         cfg->log.progress, r->total_steps);
}

static void teardown(run_t *r) {
  if (r->loader) mn_loader_stop(r->loader);
  mn_metrics_close(&r->metrics);
  mn_optim_free(&r->optim);
  mn_model_free(&r->model);
  mn_shard_plan_free(&r->plan);
  if (r->val) mn_dataset_close(r->val);
  if (r->train) mn_dataset_close(r->train);
  mn_comm_free(&r->comm);
}

/* The training step: forward, loss, backward, allreduce (with the control slot), update.
 * batch NULL: this rank has no batch (its reader failed) and only joins the allreduce with
 * zero gradients and a raised control slot. Returns MN_ERR_PEER when any rank raised it. */
static mn_status_t train_step(run_t *r, const mn_batch_t *batch, int64_t step, double *loss_sum) {
  mn_model_t *m = &r->model;
  float *control = m->grads + m->nparams;
  double t0 = mn_now_s();
  if (batch) {
    int64_t correct;
    mn_model_forward(m, batch->x, batch->count);
    mn_model_loss(m, batch->y, batch->count, 1.0f / (float)batch->count, loss_sum, &correct);
    mn_model_backward(m, batch->x, batch->count);
    *control = 0.0f;
  } else {
    memset(m->grads, 0, (size_t)m->nparams * sizeof *m->grads);
    *control = 1.0f;
  }
  double t1 = mn_now_s();
  mn_status_t st =
      mn_comm_allreduce_grads(&r->comm, r->k, m->grads, m->nparams + MN_MODEL_GRAD_EXTRA);
  double t2 = mn_now_s();
  if (st != MN_OK) return st;
  if (*control != 0.0f) return MN_ERR_PEER;
  mn_optim_step(&r->optim, m, step);
  double t3 = mn_now_s();
  r->t.compute_s += (t1 - t0) + (t3 - t2);
  r->t.comm_s += t2 - t1;
  return MN_OK;
}

/* Loss and accuracy over the validation set, each rank taking a contiguous share. */
static mn_status_t validate(run_t *r, double *loss, double *accuracy) {
  int64_t n = mn_dataset_size(r->val), w = r->comm.world, me = r->comm.rank;
  int64_t lo = n * me / w, hi = n * (me + 1) / w;
  int bs = r->model.max_batch, dim = mn_dataset_dim(r->val);
  float *x = malloc((size_t)bs * (size_t)dim * sizeof *x);
  int32_t *y = malloc((size_t)bs * sizeof *y);
  double sums[3] = {0, 0, (double)(hi - lo)}; /* loss, correct, count */
  mn_status_t st = x && y ? MN_OK : mn_error(MN_ERR_NOMEM, "validation: out of memory");
  for (int64_t i = lo; st == MN_OK && i < hi; i += bs) {
    int cnt = (int)(hi - i < bs ? hi - i : bs);
    st = mn_dataset_read_range(r->val, i, cnt, x, y);
    if (st != MN_OK) break;
    double ls;
    int64_t correct;
    mn_model_forward(&r->model, x, cnt);
    mn_model_loss(&r->model, y, cnt, 0.0f, &ls, &correct);
    sums[0] += ls;
    sums[1] += (double)correct;
  }
  free(x);
  free(y);
  st = mn_comm_settle(&r->comm, st, &r->failed_rank);
  if (st != MN_OK) return st;
  st = mn_comm_sum_f64(&r->comm, sums, 3);
  if (st != MN_OK) return st;
  *loss = sums[0] / sums[2];
  *accuracy = sums[1] / sums[2];
  return MN_OK;
}

/* Mean of (sum, count) pairs over all ranks. */
static double global_mean(run_t *r, double sum, double count) {
  double v[2] = {sum, count};
  if (mn_comm_sum_f64(&r->comm, v, 2) != MN_OK || v[1] == 0) return NAN;
  return v[0] / v[1];
}

static mn_status_t loop(run_t *r, mn_summary_t *sum) {
  const mn_config_t *cfg = r->cfg;
  int64_t spe = r->steps_per_epoch, G = (int64_t)r->comm.world * cfg->data.batch_size;
  double ival_loss = 0, epoch_loss = 0, val_s = 0;
  int64_t ival_steps = 0, epoch_steps = 0, step;
  double t_start = mn_now_s();
  mn_status_t st = MN_OK;
  for (step = 0; step < r->total_steps; step++) {
    int64_t epoch = step / spe, in_epoch = step % spe;
    mn_batch_t batch;
    double loss = 0;
    mn_status_t rd = mn_loader_next(r->loader, &batch, &r->t.io_wait_s);
    st = train_step(r, rd == MN_OK ? &batch : NULL, step, &loss);
    if (rd == MN_OK) mn_loader_release(r->loader, &batch);
    if (st != MN_OK) {
      st = mn_comm_settle(&r->comm, rd != MN_OK ? rd : st, &r->failed_rank);
      break;
    }
    loss /= cfg->data.batch_size; /* the step's mean loss on this rank */
    ival_loss += loss;
    epoch_loss += loss;
    ival_steps++;
    epoch_steps++;
    int last = step + 1 == r->total_steps, epoch_end = in_epoch + 1 == spe || last;
    if (step == 0 || (step + 1) % cfg->log.interval == 0 || last) {
      mn_step_record_t rec = {epoch, in_epoch, spe, step, 0, 0, 0, 0};
      rec.loss = global_mean(r, ival_loss, (double)ival_steps);
      rec.lr = mn_optim_lr(&r->optim, step);
      rec.elapsed_s = mn_now_s() - t_start;
      rec.samples_per_s = (double)((step + 1) * G) / (rec.elapsed_s - val_s);
      if (step == 0) sum->first_loss = rec.loss;
      sum->final_loss = rec.loss;
      mn_metrics_step(&r->metrics, &rec);
      ival_loss = 0;
      ival_steps = 0;
    }
    if (epoch_end) {
      double tv = mn_now_s();
      mn_epoch_record_t rec = {epoch, step, 0, -1, -1, 0};
      rec.train_loss = global_mean(r, epoch_loss, (double)epoch_steps);
      if (r->val) {
        st = validate(r, &rec.val_loss, &rec.val_accuracy);
        if (st != MN_OK) break;
        sum->val_accuracy = rec.val_accuracy;
      }
      val_s += mn_now_s() - tv;
      rec.elapsed_s = mn_now_s() - t_start;
      mn_metrics_epoch(&r->metrics, &rec);
      epoch_loss = 0;
      epoch_steps = 0;
    }
  }
  double train_s = mn_now_s() - t_start - val_s;
  sum->world = r->comm.world;
  sum->steps = step;
  sum->epochs = (step + spe - 1) / spe;
  sum->samples = step * G;
  sum->samples_per_s = train_s > 0 ? (double)sum->samples / train_s : 0;
  sum->elapsed_s = mn_now_s() - t_start;
  sum->t = r->t;
  return st;
}

mn_status_t mn_train_run(const mn_config_t *cfg, MPI_Comm comm, int want_params,
                         mn_train_result_t *res) {
  run_t r;
  memset(&r, 0, sizeof r);
  r.cfg = cfg;
  r.k = mn_kernels_cpu();
  r.comm.comm = MPI_COMM_NULL;
  r.failed_rank = -1;
  memset(res, 0, sizeof *res);
  mn_status_t st = mn_comm_init(&r.comm, comm, cfg->comm.bucket_mb);
  if (st != MN_OK) {
    mn_log_error("%s", mn_error_message());
    res->failed_rank = -1;
    return st;
  }
  st = mn_comm_settle(&r.comm, setup(&r, 0), &r.failed_rank);
  mn_summary_t sum;
  memset(&sum, 0, sizeof sum);
  sum.val_accuracy = -1;
  if (st == MN_OK) st = loop(&r, &sum);
  sum.status = st == MN_OK ? "done" : mn_status_string(st);
  if (st == MN_OK || sum.steps > 0) mn_metrics_summary(&r.metrics, &sum);
  res->summary = sum;
  res->failed_rank = r.failed_rank;
  if (st == MN_OK && want_params) {
    res->nparams = r.model.nparams;
    res->params = malloc((size_t)r.model.nparams * sizeof *res->params);
    if (!res->params)
      st = mn_error(MN_ERR_NOMEM, "out of memory copying parameters");
    else
      memcpy(res->params, r.model.params, (size_t)r.model.nparams * sizeof *res->params);
  }
  teardown(&r);
  return st;
}
